//! `branch_allowed`: the current branch matches an allowed glob.
//!
//! CI systems check out a commit, not a branch (a detached HEAD). Then the
//! branch is taken from the CI's own variables ([`crate::ci`]), and the
//! message says which variable it came from. A pull-request merge ref
//! names no branch, and with no branch at all the gate fails and says why.
//!
//! A tag pipeline for the release's own tag names no branch either: then
//! the gate passes when an allowed branch (local, or remote-tracking such
//! as `origin/main`) contains HEAD, and names it, so that a release tagged
//! on a feature branch is still refused.

use super::{Input, OwnTag};
use crate::ci;
use crate::git::{Repo, short_id};
use crate::report::Outcome;
use crate::sanitize::quoted;

pub fn check(input: &Input<'_>, repo: &Repo) -> Outcome {
    let policy = &input.policy;
    let head = match repo.repo.head() {
        Ok(h) => h,
        Err(e) => return Outcome::fail(format!("cannot read HEAD: {}", e.message())),
    };
    if head.is_branch() {
        let name = match head.shorthand() {
            Ok(name) => name.to_string(),
            Err(_) => return Outcome::fail("the current branch name is not valid UTF-8"),
        };
        return judge(input, &name, String::new()).detail("detached", false);
    }
    if let Some(own) = &input.own_tag {
        return on_allowed_branch(input, repo, own);
    }
    match ci::branch(input.vars) {
        Ok(Some(named)) => {
            let from = format!(
                " (HEAD detached at {}; branch from {})",
                short_id(repo.head),
                named.var
            );
            judge(input, &named.name, from)
                .detail("detached", true)
                .detail("source", named.var)
        }
        Ok(None) => Outcome::fail(match ci::tag(input.vars) {
            // A tag pipeline, but not for the release's own tag at HEAD.
            Ok(Some(t)) => format!(
                "HEAD is detached at {} in a tag pipeline for {} (from {}), which is not the \
                 release tag {} pointing at HEAD, and no CI variable names a branch",
                short_id(repo.head),
                quoted(&t.name),
                t.var,
                input.release.as_ref().map_or("?", |r| r.tag.as_str())
            ),
            _ => format!(
                "HEAD is detached at {} and no CI variable names a branch \
                 (GITHUB_REF, CI_COMMIT_BRANCH, BUILD_SOURCEBRANCH, ...); check out a branch",
                short_id(repo.head)
            ),
        })
        .detail("detached", true)
        .detail("allowed", policy.branches.clone()),
        Err(invalid) => Outcome::fail(format!(
            "HEAD is detached at {} and {invalid}",
            short_id(repo.head)
        ))
        .detail("detached", true)
        .detail("source", invalid.var),
    }
}

fn allowed_list(input: &Input<'_>) -> Vec<String> {
    input.policy.branches.clone()
}

/// OK when `name` matches an allowed glob.
fn judge(input: &Input<'_>, name: &str, from: String) -> Outcome {
    let outcome = if input.policy.branch_allowed(name) {
        Outcome::ok(format!("{name}{from} is allowed for {}", input.env))
    } else {
        Outcome::fail(format!(
            "branch {}{from} is not allowed for {} (allowed: {})",
            quoted(name),
            input.env,
            input.policy.branches.join(", ")
        ))
    };
    outcome
        .detail("branch", name)
        .detail("allowed", allowed_list(input))
}

/// A tag pipeline: which allowed branches contain HEAD.
fn on_allowed_branch(input: &Input<'_>, repo: &Repo, own: &OwnTag) -> Outcome {
    let pipeline = format!("tag pipeline for {} (from {})", own.name, own.var);
    let branches = match repo.repo.branches(None) {
        Ok(b) => b,
        Err(e) => {
            return Outcome::fail(format!("{pipeline}: cannot list branches: {}", e.message()));
        }
    };
    let (mut looked, mut containing) = (0usize, Vec::new());
    for (branch, kind) in branches.flatten() {
        let Ok(Some(full)) = branch.name() else {
            continue;
        };
        if full.ends_with("/HEAD") {
            continue;
        }
        looked += 1;
        // `origin/release/1.2` is matched as `release/1.2`.
        let short = match kind {
            git2::BranchType::Remote => full.split_once('/').map_or(full, |(_, b)| b),
            git2::BranchType::Local => full,
        };
        if !input.policy.branch_allowed(short) {
            continue;
        }
        let Ok(tip) = branch.get().peel_to_commit().map(|c| c.id()) else {
            continue;
        };
        if tip == repo.head
            || repo
                .repo
                .graph_descendant_of(tip, repo.head)
                .unwrap_or(false)
        {
            containing.push(full.to_string());
        }
    }
    containing.sort();
    let outcome = if let Some(first) = containing.first() {
        Outcome::ok(format!(
            "{pipeline}: HEAD ({}) is on {first}, which is allowed for {}",
            short_id(repo.head),
            input.env
        ))
    } else if repo.repo.is_shallow() {
        // Fetching branches into a shallow clone does not help: the
        // history that joins HEAD to a branch is what is missing.
        Outcome::fail(format!(
            "{pipeline}: shallow clone, no history to join HEAD to a branch: {}",
            crate::git::tags::SHALLOW_FIX
        ))
        .detail("shallow", true)
    } else if looked == 0 {
        Outcome::fail(format!(
            "{pipeline}: no branches in this clone to show HEAD is on an allowed one; \
             fetch them: git fetch origin '+refs/heads/*:refs/remotes/origin/*'"
        ))
    } else {
        Outcome::fail(format!(
            "{pipeline}: no allowed branch ({}) contains HEAD ({}); a release is tagged on an allowed branch",
            input.policy.branches.join(", "),
            short_id(repo.head)
        ))
    };
    outcome
        .detail("detached", true)
        .detail("source", own.var)
        .detail("tag", own.name.as_str())
        .detail("containing", containing)
        .detail("allowed", allowed_list(input))
}
