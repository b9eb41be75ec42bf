//! `git_repo`: the path is inside a git work tree that git can read. The
//! repository is opened once per run ([`crate::git::open`]); this gate
//! reports how that went.

use super::Input;
use crate::git::{short_id, show};
use crate::report::Outcome;

pub fn check(input: &Input<'_>) -> Outcome {
    match input.repo {
        Ok(r) => {
            let kind = if r.repo.is_worktree() {
                "linked worktree"
            } else {
                "work tree"
            };
            Outcome::ok(format!("{kind} {} at {}", show(&r.root), short_id(r.head)))
                .detail("root", show(&r.root))
                .detail("head", r.head.to_string())
                .detail("worktree", r.repo.is_worktree())
        }
        Err(e) => Outcome::fail(e.message.clone()),
    }
}
