//! What CI systems say about a build: the branch a detached checkout was
//! made for, or the tag a tag pipeline runs for.
//!
//! Values are validated by git's own rules for ref names before they are
//! trusted: a value with a trailing newline or a control character is not
//! a branch, and says so, rather than being trimmed into one.

use crate::envsnap::EnvSnapshot;

/// Where a CI system says which branch it built, most specific first.
/// `refs/heads/` is stripped; a variable holding a tag or pull-request
/// ref (`refs/tags/...`, `refs/pull/...`) names no branch and is passed
/// over. `GITHUB_REF_NAME` counts only with `GITHUB_REF_TYPE=branch`.
pub const BRANCH_VARIABLES: &[&str] = &[
    // GitHub Actions: the source branch of a pull request, else the ref.
    "GITHUB_HEAD_REF",
    "GITHUB_REF",
    "GITHUB_REF_NAME",
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

/// Where a CI system says which tag a tag pipeline runs for. GitHub's
/// `GITHUB_REF_NAME` counts only with `GITHUB_REF_TYPE=tag`; `GITHUB_REF`
/// and `BUILD_SOURCEBRANCH` only as `refs/tags/...`.
pub const TAG_VARIABLES: &[&str] = &[
    "GITHUB_REF_NAME",
    "GITHUB_REF",
    // GitLab CI and Woodpecker.
    "CI_COMMIT_TAG",
    "BUILD_SOURCEBRANCH",
    "BITBUCKET_TAG",
    "CIRCLE_TAG",
    "BUILDKITE_TAG",
    "TRAVIS_TAG",
    // Jenkins multibranch.
    "TAG_NAME",
    "DRONE_TAG",
    "SEMAPHORE_GIT_TAG_NAME",
    "APPVEYOR_REPO_TAG_NAME",
    "CIRRUS_TAG",
];

/// Where a CI system says which run, job and commit a build is: what an
/// auditor needs to find the build a verdict came from. Recorded in an
/// evidence record when set; they decide nothing.
pub const RUN_VARIABLES: &[&str] = &[
    "CI",
    // GitHub Actions.
    "GITHUB_REPOSITORY",
    "GITHUB_WORKFLOW",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_NUMBER",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_SHA",
    "GITHUB_ACTOR",
    // GitLab CI.
    "CI_PROJECT_PATH",
    "CI_PIPELINE_ID",
    "CI_JOB_ID",
    "CI_COMMIT_SHA",
    // Azure Pipelines.
    "BUILD_BUILDID",
    "BUILD_BUILDNUMBER",
    "BUILD_SOURCEVERSION",
    // Bitbucket Pipelines, CircleCI, Buildkite, Travis CI.
    "BITBUCKET_BUILD_NUMBER",
    "BITBUCKET_COMMIT",
    "CIRCLE_BUILD_NUM",
    "CIRCLE_SHA1",
    "BUILDKITE_BUILD_NUMBER",
    "BUILDKITE_COMMIT",
    "TRAVIS_BUILD_ID",
    "TRAVIS_COMMIT",
    // Jenkins.
    "BUILD_NUMBER",
    "BUILD_TAG",
    "GIT_COMMIT",
    // Drone, Semaphore, AppVeyor, Cirrus CI.
    "DRONE_BUILD_NUMBER",
    "DRONE_COMMIT_SHA",
    "SEMAPHORE_WORKFLOW_ID",
    "SEMAPHORE_GIT_SHA",
    "APPVEYOR_BUILD_ID",
    "APPVEYOR_REPO_COMMIT",
    "CIRRUS_BUILD_ID",
    "CIRRUS_CHANGE_IN_REPO",
];

/// A ref name a CI variable gave, with the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub var: &'static str,
}

/// A CI variable whose value is not a valid branch or tag name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub var: &'static str,
    pub value: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} holds {}, which is not a valid git ref name; fix the CI configuration that sets it",
            self.var,
            crate::sanitize::quoted(&crate::sanitize::capped(&self.value, 120))
        )
    }
}

fn valid_branch(name: &str) -> bool {
    git2::Branch::name_is_valid(name).unwrap_or(false)
}

fn valid_tag(name: &str) -> bool {
    git2::Reference::is_valid_name(&format!("refs/tags/{name}"))
}

fn github_ref_type(env: &EnvSnapshot) -> Option<&str> {
    env.get("GITHUB_REF_TYPE").ok().flatten()
}

/// The branch name a CI variable's value names: `Ok(None)` when it names
/// none (empty, a tag or pull-request ref).
fn branch_from_value(
    var: &'static str,
    value: &str,
    env: &EnvSnapshot,
) -> Result<Option<String>, Invalid> {
    if value.is_empty() {
        return Ok(None);
    }
    let name = if let Some(b) = value.strip_prefix("refs/heads/") {
        b
    } else if value.starts_with("refs/") {
        return Ok(None);
    } else {
        match var {
            // These hold full refs; a bare value is not a branch for them.
            "GITHUB_REF" | "BUILD_SOURCEBRANCH" => return Ok(None),
            "GITHUB_REF_NAME" if github_ref_type(env) != Some("branch") => return Ok(None),
            "GIT_BRANCH" | "GIT_LOCAL_BRANCH" => value.strip_prefix("origin/").unwrap_or(value),
            _ => value,
        }
    };
    if valid_branch(name) {
        Ok(Some(name.to_string()))
    } else {
        Err(Invalid {
            var,
            value: value.to_string(),
        })
    }
}

/// The branch named by the first CI variable that names one, or the first
/// variable whose value is not a valid branch name (it is not trusted, and
/// not passed over either).
pub fn branch(env: &EnvSnapshot) -> Result<Option<Named>, Invalid> {
    for var in BRANCH_VARIABLES {
        let Ok(Some(value)) = env.get(var) else {
            continue;
        };
        if let Some(name) = branch_from_value(var, value, env)? {
            return Ok(Some(Named { name, var }));
        }
    }
    Ok(None)
}

/// The tag a tag pipeline runs for, when the build is one.
pub fn tag(env: &EnvSnapshot) -> Result<Option<Named>, Invalid> {
    for var in TAG_VARIABLES {
        let Ok(Some(value)) = env.get(var) else {
            continue;
        };
        let name = match *var {
            "GITHUB_REF_NAME" if github_ref_type(env) == Some("tag") => value,
            "GITHUB_REF_NAME" => continue,
            "GITHUB_REF" | "BUILD_SOURCEBRANCH" => match value.strip_prefix("refs/tags/") {
                Some(t) => t,
                None => continue,
            },
            _ => value,
        };
        if name.is_empty() {
            continue;
        }
        if !valid_tag(name) {
            return Err(Invalid {
                var,
                value: value.to_string(),
            });
        }
        return Ok(Some(Named {
            name: name.to_string(),
            var,
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
        EnvSnapshot::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn named(name: &str, var: &'static str) -> Option<Named> {
        Some(Named {
            name: name.into(),
            var,
        })
    }

    #[test]
    fn github_push_and_pull_request() {
        assert_eq!(
            branch(&env(&[("GITHUB_REF", "refs/heads/main")])),
            Ok(named("main", "GITHUB_REF"))
        );
        assert_eq!(
            branch(&env(&[
                ("GITHUB_REF", "refs/pull/7/merge"),
                ("GITHUB_HEAD_REF", "feature/x")
            ])),
            Ok(named("feature/x", "GITHUB_HEAD_REF"))
        );
        // An empty GITHUB_HEAD_REF (push builds set it empty) is passed over.
        assert_eq!(
            branch(&env(&[
                ("GITHUB_HEAD_REF", ""),
                ("GITHUB_REF", "refs/heads/main")
            ])),
            Ok(named("main", "GITHUB_REF"))
        );
    }

    #[test]
    fn github_ref_name_counts_by_its_type() {
        assert_eq!(
            branch(&env(&[
                ("GITHUB_REF_NAME", "main"),
                ("GITHUB_REF_TYPE", "branch")
            ])),
            Ok(named("main", "GITHUB_REF_NAME"))
        );
        assert_eq!(
            branch(&env(&[
                ("GITHUB_REF_NAME", "v1.0.0"),
                ("GITHUB_REF_TYPE", "tag")
            ])),
            Ok(None)
        );
        assert_eq!(branch(&env(&[("GITHUB_REF_NAME", "main")])), Ok(None));
        assert_eq!(
            tag(&env(&[
                ("GITHUB_REF_NAME", "v1.0.0"),
                ("GITHUB_REF_TYPE", "tag")
            ])),
            Ok(named("v1.0.0", "GITHUB_REF_NAME"))
        );
    }

    #[test]
    fn tag_builds_name_no_branch_but_a_tag() {
        let gh = env(&[("GITHUB_REF", "refs/tags/v1.0.0")]);
        assert_eq!(branch(&gh), Ok(None));
        assert_eq!(tag(&gh), Ok(named("v1.0.0", "GITHUB_REF")));
        let az = env(&[("BUILD_SOURCEBRANCH", "refs/tags/v1")]);
        assert_eq!(branch(&az), Ok(None));
        assert_eq!(tag(&az), Ok(named("v1", "BUILD_SOURCEBRANCH")));
        assert_eq!(
            tag(&env(&[("CI_COMMIT_TAG", "14.1.1")])),
            Ok(named("14.1.1", "CI_COMMIT_TAG"))
        );
        assert_eq!(branch(&env(&[])), Ok(None));
        assert_eq!(tag(&env(&[("CI_COMMIT_BRANCH", "main")])), Ok(None));
    }

    #[test]
    fn other_ci_systems() {
        assert_eq!(
            branch(&env(&[("CI_COMMIT_BRANCH", "main")])),
            Ok(named("main", "CI_COMMIT_BRANCH"))
        );
        assert_eq!(
            branch(&env(&[("GIT_BRANCH", "origin/release/1")])),
            Ok(named("release/1", "GIT_BRANCH"))
        );
        assert_eq!(
            branch(&env(&[("BUILD_SOURCEBRANCH", "refs/heads/main")])),
            Ok(named("main", "BUILD_SOURCEBRANCH"))
        );
    }

    #[test]
    fn values_that_are_not_ref_names_are_not_trusted() {
        let e = branch(&env(&[("GITHUB_REF", "refs/heads/main\n")])).unwrap_err();
        assert_eq!(e.var, "GITHUB_REF");
        assert!(e.to_string().contains("not a valid git ref name"), "{e}");
        assert!(branch(&env(&[("CI_COMMIT_BRANCH", " main")])).is_err());
        assert!(branch(&env(&[("CI_COMMIT_BRANCH", "a..b")])).is_err());
        assert!(tag(&env(&[("CI_COMMIT_TAG", "v1.0.0\n")])).is_err());
    }
}
