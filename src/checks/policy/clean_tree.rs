//! `clean_tree`: nothing staged, modified, deleted, renamed or untracked,
//! and no dirty submodule (the status engine is [`crate::git::status`]).
//! Ignored files do not count. Names the first few paths, then a count.
//!
//! A repository in the middle of an operation (a merge, rebase,
//! cherry-pick, revert, bisect or `git am`) is not a releasable state, even
//! when its tree matches HEAD: it fails, naming the operation and how to
//! finish or abort it. `allow_dirty` does not cover it.

use git2::{RepositoryState, Status as G};

use super::Input;
use crate::git::{Repo, status};
use crate::report::Outcome;
use crate::text::list_some;

/// How many paths a message names before "and N more".
const SHOWN: usize = 5;

pub fn check(input: &Input<'_>, repo: &Repo) -> Outcome {
    if let Some((what, marker, fix)) = in_progress(repo.repo.state()) {
        return Outcome::fail(format!(
            "{what} is in progress ({marker}): the tree is not a release; {fix}"
        ))
        .detail("operation", what);
    }
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
        crate::text::plural(changes.len()),
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

/// An operation git has not finished: what it is, the file that says so,
/// and how to finish or abort it.
fn in_progress(state: RepositoryState) -> Option<(&'static str, &'static str, &'static str)> {
    use RepositoryState as S;
    Some(match state {
        S::Clean => return None,
        S::Merge => (
            "a merge",
            "MERGE_HEAD",
            "finish it with `git commit`, or abort it with `git merge --abort`",
        ),
        S::Revert | S::RevertSequence => (
            "a revert",
            "REVERT_HEAD",
            "finish it with `git revert --continue`, or abort it with `git revert --abort`",
        ),
        S::CherryPick | S::CherryPickSequence => (
            "a cherry-pick",
            "CHERRY_PICK_HEAD",
            "finish it with `git cherry-pick --continue`, or abort it with `git cherry-pick --abort`",
        ),
        S::Bisect => ("a bisect", "BISECT_LOG", "end it with `git bisect reset`"),
        S::Rebase | S::RebaseInteractive | S::RebaseMerge => (
            "a rebase",
            "rebase-merge/ or rebase-apply/",
            "finish it with `git rebase --continue`, or abort it with `git rebase --abort`",
        ),
        S::ApplyMailbox => (
            "a `git am`",
            "rebase-apply/",
            "finish it with `git am --continue`, or abort it with `git am --abort`",
        ),
        S::ApplyMailboxOrRebase => (
            "a `git am` or rebase",
            "rebase-apply/",
            "finish it with `git am --continue` or `git rebase --continue`, or abort it with \
             `git am --abort` or `git rebase --abort`",
        ),
    })
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
