//! `clean_tree`: nothing staged, modified, deleted, renamed or untracked,
//! and no dirty submodule. Ignored files do not count. Untracked
//! directories are reported as one entry (`dir/`), as `git status` does.

use git2::{Status as G, StatusOptions, StatusShow};

use super::git_repo::Repo;
use super::list_some;
use crate::config::Policy;
use crate::report::Outcome;
use crate::sanitize;

/// How many paths a message names before "and N more".
const SHOWN: usize = 5;

pub fn check(repo: &Repo, policy: &Policy, env: &str) -> Outcome {
    let mut opts = StatusOptions::new();
    opts.show(StatusShow::IndexAndWorkdir)
        .include_untracked(true)
        .recurse_untracked_dirs(false)
        .include_ignored(false)
        .exclude_submodules(false)
        .renames_head_to_index(false);
    let statuses = match repo.repo.statuses(Some(&mut opts)) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::fail(format!(
                "cannot read the work tree's status: {}; run `git status` to see why",
                e.message()
            ));
        }
    };
    let submodules: Vec<String> = if statuses.is_empty() {
        Vec::new()
    } else {
        repo.repo
            .submodules()
            .map(|subs| {
                subs.iter()
                    .map(|s| {
                        String::from_utf8_lossy(s.path().as_os_str().as_encoded_bytes())
                            .into_owned()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut changes = Vec::new();
    for entry in statuses.iter() {
        let st = entry.status();
        if st.is_empty() || st.contains(G::IGNORED) {
            continue;
        }
        let path = String::from_utf8_lossy(entry.path_bytes()).into_owned();
        let what = if submodules.contains(&path) {
            "submodule modified"
        } else {
            describe(st)
        };
        changes.push(format!("{} ({what})", sanitize::ascii(&path)));
    }
    if changes.is_empty() {
        return Outcome::ok("no uncommitted changes (ignored files do not count)");
    }
    let summary = format!(
        "{} uncommitted change{}: {}",
        changes.len(),
        if changes.len() == 1 { "" } else { "s" },
        list_some(&changes, SHOWN)
    );
    let details = changes.clone();
    if policy.allow_dirty {
        Outcome::warn(format!("allowed for {env} (allow_dirty): {summary}"))
    } else {
        Outcome::fail(format!("{summary}; commit or stash them"))
    }
    .detail("changes", details)
}

fn describe(st: G) -> &'static str {
    if st.contains(G::CONFLICTED) {
        "conflicted"
    } else if st.intersects(
        G::INDEX_NEW
            | G::INDEX_MODIFIED
            | G::INDEX_DELETED
            | G::INDEX_RENAMED
            | G::INDEX_TYPECHANGE,
    ) {
        "staged"
    } else if st.contains(G::WT_NEW) {
        "untracked"
    } else if st.contains(G::WT_DELETED) {
        "deleted"
    } else if st.contains(G::WT_RENAMED) {
        "renamed"
    } else if st.contains(G::WT_TYPECHANGE) {
        "type changed"
    } else {
        "modified"
    }
}
