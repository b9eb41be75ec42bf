//! `branch_allowed`: the current branch matches an allowed glob.
//!
//! CI systems check out a commit, not a branch (a detached HEAD). Then the
//! branch is taken from the CI's own variables, and the message says which
//! variable it came from. Tag builds and pull-request merge refs name no
//! branch, and with no branch at all the gate fails and says why.

use super::git_repo::Repo;
use super::short_id;
use crate::config::Policy;
use crate::envsnap::EnvSnapshot;
use crate::report::Outcome;
use crate::sanitize::quoted;

/// Where a CI system says which branch it built, most specific first.
/// `refs/heads/` is stripped; a variable holding a tag or pull-request
/// ref (`refs/tags/...`, `refs/pull/...`) names no branch and is passed over.
const CI_BRANCH_VARIABLES: &[&str] = &[
    // GitHub Actions: the source branch of a pull request, else the ref.
    "GITHUB_HEAD_REF",
    "GITHUB_REF",
    // GitLab CI (and Woodpecker).
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "CI_COMMIT_BRANCH",
    // Azure Pipelines.
    "SYSTEM_PULLREQUEST_SOURCEBRANCH",
    "BUILD_SOURCEBRANCH",
    // Bitbucket Pipelines, CircleCI, Buildkite, Travis CI.
    "BITBUCKET_BRANCH",
    "CIRCLE_BRANCH",
    "BUILDKITE_BRANCH",
    "TRAVIS_PULL_REQUEST_BRANCH",
    "TRAVIS_BRANCH",
    // Jenkins (multibranch, then the git plugin), also Google Cloud Build.
    "CHANGE_BRANCH",
    "BRANCH_NAME",
    "GIT_LOCAL_BRANCH",
    "GIT_BRANCH",
    // Drone, Semaphore, AppVeyor, Cirrus CI, TeamCity-style CI_BRANCH.
    "DRONE_SOURCE_BRANCH",
    "DRONE_BRANCH",
    "SEMAPHORE_GIT_PR_BRANCH",
    "SEMAPHORE_GIT_BRANCH",
    "APPVEYOR_PULL_REQUEST_HEAD_REPO_BRANCH",
    "APPVEYOR_REPO_BRANCH",
    "CIRRUS_BRANCH",
    "CI_BRANCH",
];

/// The branch being released and where its name came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Branch {
    /// HEAD is on this local branch.
    Local(String),
    /// HEAD is detached; the CI variable `var` names the branch.
    FromCi { name: String, var: &'static str },
}

/// The branch name a CI variable's value names, if any.
fn branch_from_value(var: &str, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Some(b) = value.strip_prefix("refs/heads/") {
        return Some(b.to_string());
    }
    if value.starts_with("refs/") {
        return None;
    }
    // These hold full refs; a bare value is not a branch for them.
    if matches!(var, "GITHUB_REF" | "BUILD_SOURCEBRANCH") {
        return None;
    }
    if matches!(var, "GIT_BRANCH" | "GIT_LOCAL_BRANCH") {
        return Some(value.strip_prefix("origin/").unwrap_or(value).to_string());
    }
    Some(value.to_string())
}

/// The branch named by the first CI variable that names one.
pub fn branch_from_ci(env: &EnvSnapshot) -> Option<Branch> {
    CI_BRANCH_VARIABLES.iter().find_map(|var| {
        let value = env.get(var).ok().flatten()?;
        branch_from_value(var, value).map(|name| Branch::FromCi { name, var })
    })
}

pub fn check(repo: &Repo, policy: &Policy, env_name: &str, env: &EnvSnapshot) -> Outcome {
    let allowed = policy.branches.join(", ");
    let head = match repo.repo.head() {
        Ok(h) => h,
        Err(e) => return Outcome::fail(format!("cannot read HEAD: {}", e.message())),
    };
    let branch = if head.is_branch() {
        match head.shorthand() {
            Ok(name) => Branch::Local(name.to_string()),
            Err(_) => return Outcome::fail("the current branch name is not valid UTF-8"),
        }
    } else {
        match branch_from_ci(env) {
            Some(b) => b,
            None => {
                return Outcome::fail(format!(
                    "HEAD is detached at {} and no CI variable names a branch \
                     (GITHUB_REF, CI_COMMIT_BRANCH, BUILD_SOURCEBRANCH, ...); check out a branch",
                    short_id(repo.head)
                ))
                .detail("detached", true);
            }
        }
    };
    let (name, from) = match &branch {
        Branch::Local(n) => (n.as_str(), String::new()),
        Branch::FromCi { name, var } => (
            name.as_str(),
            format!(
                " (HEAD detached at {}; branch from {var})",
                short_id(repo.head)
            ),
        ),
    };
    let outcome = if policy.branch_allowed(name) {
        Outcome::ok(format!("{name}{from} is allowed for {env_name}"))
    } else {
        Outcome::fail(format!(
            "branch {}{from} is not allowed for {env_name} (allowed: {allowed})",
            quoted(name)
        ))
    };
    let outcome = outcome
        .detail("branch", name)
        .detail("allowed", policy.branches.clone());
    match branch {
        Branch::FromCi { var, .. } => outcome.detail("detached", true).detail("source", var),
        Branch::Local(_) => outcome.detail("detached", false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
        EnvSnapshot::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn github_push_and_pull_request() {
        assert_eq!(
            branch_from_ci(&env(&[("GITHUB_REF", "refs/heads/main")])),
            Some(Branch::FromCi {
                name: "main".into(),
                var: "GITHUB_REF"
            })
        );
        // A pull request: GITHUB_REF is the merge ref, GITHUB_HEAD_REF the branch.
        assert_eq!(
            branch_from_ci(&env(&[
                ("GITHUB_REF", "refs/pull/7/merge"),
                ("GITHUB_HEAD_REF", "feature/x")
            ])),
            Some(Branch::FromCi {
                name: "feature/x".into(),
                var: "GITHUB_HEAD_REF"
            })
        );
        // An empty GITHUB_HEAD_REF (push builds set it empty) is passed over.
        assert_eq!(
            branch_from_ci(&env(&[
                ("GITHUB_HEAD_REF", ""),
                ("GITHUB_REF", "refs/heads/main")
            ])),
            Some(Branch::FromCi {
                name: "main".into(),
                var: "GITHUB_REF"
            })
        );
    }

    #[test]
    fn tag_builds_name_no_branch() {
        assert_eq!(
            branch_from_ci(&env(&[("GITHUB_REF", "refs/tags/v1.0.0")])),
            None
        );
        assert_eq!(
            branch_from_ci(&env(&[("BUILD_SOURCEBRANCH", "refs/tags/v1")])),
            None
        );
        assert_eq!(branch_from_ci(&env(&[])), None);
    }

    #[test]
    fn other_ci_systems() {
        assert_eq!(
            branch_from_ci(&env(&[("CI_COMMIT_BRANCH", "main")])),
            Some(Branch::FromCi {
                name: "main".into(),
                var: "CI_COMMIT_BRANCH"
            })
        );
        assert_eq!(
            branch_from_ci(&env(&[("GIT_BRANCH", "origin/release/1")])),
            Some(Branch::FromCi {
                name: "release/1".into(),
                var: "GIT_BRANCH"
            })
        );
        assert_eq!(
            branch_from_ci(&env(&[("BUILD_SOURCEBRANCH", "refs/heads/main")])),
            Some(Branch::FromCi {
                name: "main".into(),
                var: "BUILD_SOURCEBRANCH"
            })
        );
    }
}
