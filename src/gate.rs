//! The gate's orchestrator: runs the policy gates in their fixed order and
//! collects one row each. Every gate is evaluated and reported; a gate
//! whose precondition failed shows SKIP with the reason, and with
//! `fail_fast` every gate after the first failure shows SKIP.

use std::time::Instant;

use crate::checks::git_repo::{NotUsable, Repo};
use crate::checks::{
    branch_allowed, clean_tree, env_allowed, git_repo, required_config, tag_absent, version_newer,
    version_valid,
};
use crate::config::Config;
use crate::envsnap::EnvSnapshot;
use crate::report::{CheckResult, Outcome, Phase, Status};

/// What the policy phase looks at.
pub struct PolicyInput<'a> {
    pub env: &'a str,
    pub version: &'a str,
    pub config: &'a Config,
    pub repo: &'a Result<Repo, NotUsable>,
    pub vars: &'a EnvSnapshot,
    pub fail_fast: bool,
    /// WARN counts as a failure (for `fail_fast`).
    pub strict: bool,
}

struct Rows {
    rows: Vec<CheckResult>,
    stopped_at: Option<&'static str>,
    fail_fast: bool,
    strict: bool,
}

impl Rows {
    /// Evaluate one gate, unless `--fail-fast` already stopped the run.
    fn gate(&mut self, id: &'static str, phase: Phase, f: impl FnOnce() -> Outcome) -> Status {
        let start = Instant::now();
        let outcome = match self.stopped_at {
            Some(at) => Outcome::skip(format!("not evaluated: --fail-fast stopped at {at}")),
            None => f(),
        };
        let status = outcome.status;
        tracing::debug!(gate = id, status = status.as_str(), "{}", outcome.message);
        if self.fail_fast && self.stopped_at.is_none() && !status.passed_in(self.strict) {
            self.stopped_at = Some(id);
        }
        self.rows.push(CheckResult {
            id: id.to_string(),
            phase,
            outcome,
            duration: start.elapsed(),
        });
        status
    }
}

fn needs(gate: &str) -> Outcome {
    Outcome::skip(format!("not evaluated: needs {gate}, which did not pass"))
}

/// Run the policy gates in order.
pub fn run_policy(input: &PolicyInput<'_>) -> Vec<CheckResult> {
    let policy = input.config.policy_for(input.env);
    let mut rows = Rows {
        rows: Vec::with_capacity(8),
        stopped_at: None,
        fail_fast: input.fail_fast,
        strict: input.strict,
    };
    let p = Phase::Policy;

    rows.gate("env_allowed", p, || {
        env_allowed::check(input.env, input.config)
    });

    rows.gate("git_repo", p, || git_repo::check(input.repo));
    let repo = input.repo.as_ref().ok();

    rows.gate("clean_tree", p, || match repo {
        Some(r) => clean_tree::check(r, &policy, input.env),
        None => needs("git_repo"),
    });

    rows.gate("branch_allowed", p, || match repo {
        Some(r) => branch_allowed::check(r, &policy, input.env, input.vars),
        None => needs("git_repo"),
    });

    let mut parsed = None;
    rows.gate("version_valid", p, || {
        let (outcome, v) = version_valid::check(input.version, &policy, input.env);
        parsed = v;
        outcome
    });

    rows.gate("tag_absent", p, || match (repo, &parsed) {
        (None, _) => needs("git_repo"),
        (_, None) => needs("version_valid"),
        (Some(r), Some(_)) => tag_absent::check(r, input.version),
    });

    rows.gate("version_newer", p, || match (repo, &parsed) {
        (None, _) => needs("git_repo"),
        (_, None) => needs("version_valid"),
        (Some(r), Some(v)) => match tag_absent::tags_incomplete(r) {
            Some(_) => {
                Outcome::skip("not evaluated: the clone's tags are incomplete (see tag_absent)")
            }
            None => version_newer::check(r, input.version, v, &policy),
        },
    });

    rows.gate("required_config", p, || {
        required_config::check(&input.config.variables, input.vars)
    });

    rows.rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::POLICY_GATES;
    use crate::config::{self, Source};
    use crate::secrets::Scrubber;

    fn rows(fail_fast: bool) -> Vec<CheckResult> {
        let vars = EnvSnapshot::default();
        let config = config::parse(
            config::EMBEDDED_DEFAULT,
            Source::Embedded,
            &vars,
            &Scrubber::new(),
        )
        .expect("embedded default");
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = crate::checks::git_repo::open(dir.path());
        run_policy(&PolicyInput {
            env: "prod",
            version: "v1.0.0",
            config: &config,
            repo: &repo,
            vars: &vars,
            fail_fast,
            strict: false,
        })
    }

    #[test]
    fn every_gate_is_reported_in_the_documented_order() {
        let ids: Vec<String> = rows(false).into_iter().map(|r| r.id).collect();
        assert_eq!(ids, POLICY_GATES);
    }

    #[test]
    fn fail_fast_skips_everything_after_the_first_failure() {
        let rows = rows(true);
        assert_eq!(rows.len(), POLICY_GATES.len());
        assert_eq!(rows[0].status(), Status::Ok);
        assert_eq!(rows[1].status(), Status::Fail, "{:?}", rows[1]);
        for r in &rows[2..] {
            assert_eq!(r.status(), Status::Skip, "{}", r.id);
            assert!(
                r.outcome
                    .message
                    .contains("--fail-fast stopped at git_repo")
            );
        }
    }

    #[test]
    fn gates_needing_the_repository_skip_with_the_reason() {
        let rows = rows(false);
        for id in [
            "clean_tree",
            "branch_allowed",
            "tag_absent",
            "version_newer",
        ] {
            let r = rows.iter().find(|r| r.id == id).expect(id);
            assert_eq!(r.status(), Status::Skip, "{id}");
            assert!(r.outcome.message.contains("needs git_repo"), "{id}");
        }
    }
}
