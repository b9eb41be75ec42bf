//! The policy gates: a registry of entries (id, what it needs, a
//! function), run in their fixed order. Every gate is evaluated and
//! reported; what a gate needs (a usable repository, a valid version, a
//! clone whose tags are complete) is checked here, in one place, and a gate
//! whose need is not met shows SKIP with the reason. With `fail_fast`,
//! every gate after the first failure shows SKIP.
//!
//! A new gate is one module and one line in the `gates!` list ([`GATES`]).

pub mod branch_allowed;
pub mod changelog_entry;
pub mod clean_tree;
pub mod deploy_window;
pub mod env_allowed;
pub mod freeze;
pub mod git_repo;
pub mod required_config;
pub mod rules;
pub mod tag_absent;
pub mod version_newer;
pub mod version_valid;

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::ci;
use crate::clock::Now;
use crate::config::variables::Variables;
use crate::envsnap::EnvSnapshot;
use crate::git::tags::{self, Release};
use crate::git::{Opened, Repo};
use crate::report::Mode;
use crate::report::{CheckResult, Outcome, Phase};
use rules::{Policies, Policy};

/// How a gate is called: with what it needs, already checked.
pub enum Run {
    /// Needs nothing beyond the input.
    Input(fn(&Input<'_>) -> Outcome),
    /// Needs a usable repository (`git_repo` passed).
    Repo(fn(&Input<'_>, &Repo) -> Outcome),
    /// Needs a usable repository and a valid version: one that parses and
    /// that the environment's policy accepts (what `version_valid` checks).
    Release(fn(&Input<'_>, &Repo, &Release) -> Outcome),
}

/// One policy gate.
pub struct Gate {
    pub id: &'static str,
    pub run: Run,
    /// Needs the clone's tags to be complete (not shallow, not `--no-tags`).
    pub complete_tags: bool,
}

/// `GATES` from one line per gate: how it is called (its [`Run`]) and its
/// module, whose `check` it runs and whose name is its row id; `+
/// complete_tags` when it needs the clone's tags complete.
macro_rules! gates {
    ($($run:ident($module:ident) $(+ $complete:ident)?),* $(,)?) => {
        /// The policy gates, in the order they run and are reported.
        pub const GATES: &[Gate] = &[$(Gate {
            id: stringify!($module),
            run: Run::$run($module::check),
            complete_tags: gates!(@complete $($complete)?),
        }),*];
    };
    (@complete) => { false };
    (@complete complete_tags) => { true };
}

gates! {
    Input(env_allowed),
    Input(git_repo),
    Repo(clean_tree),
    Repo(branch_allowed),
    Input(version_valid),
    Release(tag_absent),
    Release(version_newer) + complete_tags,
    Input(required_config),
    Input(deploy_window),
    Release(changelog_entry),
}

/// A tag pipeline's own tag: the build is for the release tag of
/// `--version`, and that tag points at HEAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnTag {
    pub name: String,
    /// The CI variable that named it.
    pub var: &'static str,
}

/// What the policy gates read of the configuration.
#[derive(Clone, Copy)]
pub struct Settings<'a> {
    /// The allowed environments (`env_allowed`).
    pub environments: &'a [String],
    /// Every environment's rules.
    pub policies: &'a Policies,
    /// The variables that must be set (`required_config`).
    pub variables: &'a Variables,
    /// How much each row counts, by id (`[modes]`).
    pub modes: &'a BTreeMap<String, Mode>,
}

impl Settings<'_> {
    /// How much the result of the check `id` counts.
    pub fn mode_of(&self, id: &str) -> Mode {
        self.modes.get(id).copied().unwrap_or_default()
    }
}

/// What the policy phase looks at, resolved once.
pub struct Input<'a> {
    pub env: &'a str,
    /// `--version` parsed by the environment's tag format.
    pub release: Result<Release, String>,
    pub policy: Policy,
    pub config: Settings<'a>,
    pub repo: &'a Opened,
    pub vars: &'a EnvSnapshot,
    /// Set when this build is the tag pipeline of the release's own tag.
    pub own_tag: Option<OwnTag>,
    /// The time every gate uses (see [`crate::clock`]).
    pub now: Now,
    /// A request to deploy through a freeze (`deploy_window`).
    pub freeze_override: Option<deploy_window::FreezeOverride>,
}

impl<'a> Input<'a> {
    pub fn new(
        env: &'a str,
        version: &str,
        config: Settings<'a>,
        repo: &'a Opened,
        vars: &'a EnvSnapshot,
        now: Now,
    ) -> Self {
        let policy = config.policies.for_env(env);
        let release = policy.tag_format.release(version);
        let own_tag = match (repo, &release) {
            (Ok(r), Ok(rel)) => own_tag(r, rel, vars),
            _ => None,
        };
        Self {
            env,
            release,
            policy,
            config,
            repo,
            vars,
            own_tag,
            now,
            freeze_override: deploy_window::FreezeOverride::resolve(None, vars),
        }
    }

    /// With `--override-freeze`'s reason, when given (it wins over
    /// `RS_FREEZE_OVERRIDE`).
    pub fn override_freeze(mut self, reason: Option<&str>) -> Self {
        if reason.is_some() {
            self.freeze_override = deploy_window::FreezeOverride::resolve(reason, self.vars);
        }
        self
    }
}

fn own_tag(repo: &Repo, release: &Release, vars: &EnvSnapshot) -> Option<OwnTag> {
    let named = ci::tag(vars).ok().flatten()?;
    if named.name != release.tag {
        return None;
    }
    match tags::find(repo, &named.name) {
        Ok(Some(Some(commit))) if commit == repo.head => Some(OwnTag {
            name: named.name,
            var: named.var,
        }),
        _ => None,
    }
}

fn needs(gate: &str) -> Outcome {
    Outcome::skip(format!("not evaluated: needs {gate}, which did not pass"))
}

/// Evaluate one gate, its needs first.
fn evaluate(gate: &Gate, input: &Input<'_>, incomplete: &OnceCell<Option<String>>) -> Outcome {
    let repo = input.repo.as_ref().ok();
    let tags_ok =
        |r: &Repo| !gate.complete_tags || incomplete.get_or_init(|| tags::incomplete(r)).is_none();
    // The SKIP says why itself: in a tag pipeline tag_absent passes (the
    // tag is the build's own) and would not say it.
    let incomplete_tags = || {
        let why = incomplete.get().cloned().flatten().unwrap_or_default();
        Outcome::skip(format!("not evaluated: {why}"))
    };
    // A version the policy refuses (a pre-release where none is allowed)
    // parses, yet is no release to compare tags or a changelog with.
    let release = input
        .release
        .as_ref()
        .ok()
        .filter(|rel| version_valid::refusals(input, rel).is_empty())
        .ok_or(());
    match (&gate.run, repo, release) {
        (Run::Input(f), _, _) => f(input),
        (Run::Repo(_) | Run::Release(_), None, _) => needs("git_repo"),
        (Run::Release(_), Some(_), Err(())) => needs("version_valid"),
        (_, Some(r), _) if !tags_ok(r) => incomplete_tags(),
        (Run::Repo(f), Some(r), _) => f(input, r),
        (Run::Release(f), Some(r), Ok(rel)) => f(input, r, rel),
    }
}

/// Run the policy gates in order. With `fail_fast`, the first gate that
/// does not pass (in `strict` mode a WARN too) stops the run; so does
/// `stop` (SIGINT, SIGTERM), between gates.
pub fn run(
    input: &Input<'_>,
    fail_fast: bool,
    strict: bool,
    stop: &AtomicBool,
) -> Vec<CheckResult> {
    let mut rows = Vec::with_capacity(GATES.len());
    let mut stopped_at: Option<&str> = None;
    let incomplete = OnceCell::new();
    for gate in GATES {
        let start = Instant::now();
        let outcome = match stopped_at {
            Some(at) => Outcome::skip(format!("not evaluated: --fail-fast stopped at {at}")),
            None if stop.load(Ordering::SeqCst) => Outcome::skip("not evaluated: interrupted"),
            None => evaluate(gate, input, &incomplete),
        };
        let row = CheckResult::new(gate.id, Phase::Policy, outcome, start.elapsed())
            .with_mode(input.config.mode_of(gate.id));
        let status = row.status();
        tracing::debug!(
            gate = gate.id,
            status = status.as_str(),
            elapsed_ms = %crate::report::millis(row.duration),
            "{}",
            row.outcome.message
        );
        if fail_fast && stopped_at.is_none() && row.counts() && !status.passed_in(strict) {
            stopped_at = Some(gate.id);
        }
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Source};
    use crate::report::Status;
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
        let repo = crate::git::open(dir.path());
        let input = Input::new(
            "prod",
            "v1.0.0",
            config.gates(),
            &repo,
            &vars,
            Now::system(),
        );
        run(&input, fail_fast, false, &AtomicBool::new(false))
    }

    #[test]
    fn every_gate_is_reported_in_the_documented_order() {
        let ids: Vec<String> = rows(false).into_iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [
                "env_allowed",
                "git_repo",
                "clean_tree",
                "branch_allowed",
                "version_valid",
                "tag_absent",
                "version_newer",
                "required_config",
                "deploy_window",
                "changelog_entry"
            ]
        );
    }

    #[test]
    fn fail_fast_skips_everything_after_the_first_failure() {
        let rows = rows(true);
        assert_eq!(rows.len(), GATES.len());
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
            "changelog_entry",
        ] {
            let r = rows.iter().find(|r| r.id == id).expect(id);
            assert_eq!(r.status(), Status::Skip, "{id}");
            assert!(r.outcome.message.contains("needs git_repo"), "{id}");
        }
    }
}
