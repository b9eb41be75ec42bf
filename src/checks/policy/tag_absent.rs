//! `tag_absent`: no tag names this release yet, neither the release tag of
//! the format nor the same version in the other common shape (`1.2.3` when
//! the format says `v1.2.3`, or the reverse): either means the version
//! was released.
//!
//! Absence is only evidence when the clone has its tags. A shallow clone,
//! or one set to fetch no tags and holding none, cannot prove anything, so
//! it fails and says how to fetch them. A clone of a remote with no tags at
//! all passes with a warning (it may be the first release, or the tags may
//! never have been fetched); a repository without a remote has nothing to
//! fetch, and its first release is OK.
//!
//! In the tag pipeline of the release's own tag (the tag exists and points
//! at HEAD, see [`super::OwnTag`]) the tag is this build's own, and passes.

use super::Input;
use crate::git::tags::{self, Release};
use crate::git::{Repo, short_id};
use crate::report::Outcome;
use crate::sanitize::quoted;

pub fn check(input: &Input<'_>, repo: &Repo, release: &Release) -> Outcome {
    let tag = &release.tag;
    let format = &input.policy.tag_format;
    let at = |commit: Option<git2::Oid>| {
        commit
            .map(|c| format!(" (at {})", short_id(c)))
            .unwrap_or_default()
    };
    let own = input.own_tag.as_ref().filter(|o| o.name == *tag);
    match tags::find(repo, tag) {
        Ok(Some(_)) if own.is_some() => {}
        Ok(Some(commit)) => {
            return Outcome::fail(format!(
                "tag {tag} already exists{}: this version was released; pick a new version",
                at(commit)
            ))
            .detail("tag", tag.as_str());
        }
        Ok(None) => {}
        Err(e) => {
            return Outcome::fail(format!(
                "cannot look up tag {}: {}",
                quoted(tag),
                e.message()
            ));
        }
    }
    let other = format.other_shape(&release.version);
    match tags::find(repo, &other) {
        // The same release tagged twice, both on this commit: not a re-release.
        Ok(Some(Some(c))) if own.is_some() && c == repo.head => {}
        Ok(Some(commit)) => {
            return Outcome::fail(format!(
                "tag {other} already exists{}: version {} was released (tagged in another shape \
                 than tag_format {format}); pick a new version",
                at(commit),
                release.version
            ))
            .detail("tag", other.as_str());
        }
        Ok(None) => {}
        Err(e) => {
            return Outcome::fail(format!(
                "cannot look up tag {}: {}",
                quoted(&other),
                e.message()
            ));
        }
    }
    if let Some(own) = own {
        return Outcome::ok(format!(
            "tag {tag} is this build's own: the tag pipeline (from {}) runs for it, and it points at HEAD",
            own.var
        ))
        .detail("tag", tag.as_str())
        .detail("own", true);
    }
    if let Some(why) = tags::incomplete(repo) {
        return Outcome::fail(format!("cannot prove tag {tag} is absent: {why}"));
    }
    let count = tags::count(repo);
    if count == 0 && tags::has_remote(repo) {
        return Outcome::warn(format!(
            "no tag {tag}, but this clone has no tags at all; if the remote has tags, \
             fetch them with `git fetch --tags`"
        ))
        .detail("tags", 0);
    }
    Outcome::ok(format!("no tag {tag} yet ({count} tags in this clone)")).detail("tags", count)
}
