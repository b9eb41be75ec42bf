//! `clean_tree`: nothing staged, modified, deleted, renamed or untracked,
//! and no dirty submodule (the status engine is [`crate::git::status`]).
//! Ignored files do not count. Names the first few paths, then a count.

use git2::Status as G;

use super::Input;
use crate::checks::list_some;
use crate::git::{Repo, status};
use crate::report::Outcome;

/// How many paths a message names before "and N more".
const SHOWN: usize = 5;

pub fn check(input: &Input<'_>, repo: &Repo) -> Outcome {
    let found = match status::changes(repo, status::default_threads()) {
        Ok(c) => c,
        Err(e) => {
            return Outcome::fail(format!(
                "cannot read the work tree's status: {}; run `git status` to see why",
                e.message()
            ));
        }
    };
    let status::Found {
        changes: found,
        index_gitlinks,
    } = found;
    let paths: Vec<&[u8]> = found.iter().map(|(p, _)| p.as_slice()).collect();
    let submodules = if found.is_empty() {
        Default::default()
    } else {
        status::submodules_among(repo, &paths, index_gitlinks.as_deref())
    };
    let mut changes = Vec::new();
    for (path, st) in &found {
        let what = if submodules.contains(path) {
            "submodule modified"
        } else {
            describe(*st)
        };
        changes.push(format!("{} ({what})", String::from_utf8_lossy(path)));
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
    if input.policy.allow_dirty {
        Outcome::warn(format!(
            "allowed for {} (allow_dirty): {summary}",
            input.env
        ))
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
