//! `tag_absent`: no tag named exactly the version exists yet.
//!
//! Absence is only evidence when the clone has its tags. A shallow clone,
//! or one set to fetch no tags and holding none, cannot prove anything, so
//! it fails and says how to fetch them. A full clone with no tags at all
//! passes with a warning (it may be the first release, or the tags may
//! never have been fetched).

use git2::ErrorCode;

use super::git_repo::Repo;
use super::short_id;
use crate::report::Outcome;
use crate::sanitize::quoted;

/// Why the clone's tags cannot be trusted to be complete, if they cannot.
pub fn tags_incomplete(repo: &Repo) -> Option<String> {
    if repo.repo.is_shallow() {
        return Some(
            "this is a shallow clone, so tags may be missing: fetch history and tags with \
             `git fetch --unshallow --tags` (GitHub Actions: actions/checkout with fetch-depth: 0)"
                .to_string(),
        );
    }
    if tag_count(repo) > 0 {
        return None;
    }
    no_tag_remotes(repo).into_iter().next().map(|remote| {
        format!(
            "remote {} is set to fetch no tags (remote.{remote}.tagOpt=--no-tags) and the \
             clone has none: fetch them with `git fetch --tags {remote}`",
            quoted(&remote)
        )
    })
}

fn tag_count(repo: &Repo) -> usize {
    repo.repo.tag_names(None).map(|t| t.len()).unwrap_or(0)
}

fn no_tag_remotes(repo: &Repo) -> Vec<String> {
    let Ok(config) = repo.repo.config() else {
        return Vec::new();
    };
    let Ok(remotes) = repo.repo.remotes() else {
        return Vec::new();
    };
    remotes
        .iter()
        .filter_map(|r| r.ok().flatten())
        .filter(|r| {
            config
                .get_string(&format!("remote.{r}.tagOpt"))
                .is_ok_and(|v| v.trim() == "--no-tags")
        })
        .map(str::to_string)
        .collect()
}

pub fn check(repo: &Repo, version: &str) -> Outcome {
    let name = format!("refs/tags/{version}");
    match repo.repo.find_reference(&name) {
        Ok(r) => {
            let at = r
                .peel_to_commit()
                .map(|c| format!(" (at {})", short_id(c.id())))
                .unwrap_or_default();
            return Outcome::fail(format!(
                "tag {version} already exists{at}: this version was released; pick a new version"
            ));
        }
        Err(e) if e.code() == ErrorCode::NotFound => {}
        Err(e) => {
            return Outcome::fail(format!(
                "cannot look up tag {}: {}",
                quoted(version),
                e.message()
            ));
        }
    }
    if let Some(why) = tags_incomplete(repo) {
        return Outcome::fail(format!("cannot prove tag {version} is absent: {why}"));
    }
    let count = tag_count(repo);
    let has_remote = repo.repo.remotes().is_ok_and(|r| !r.is_empty());
    if count == 0 && has_remote {
        return Outcome::warn(format!(
            "no tag {version}, but this clone has no tags at all; if the remote has tags, \
             fetch them with `git fetch --tags`"
        ))
        .detail("tags", 0);
    }
    Outcome::ok(format!("no tag {version} yet ({count} tags in this clone)")).detail("tags", count)
}
