//! The pre-deployment protocol (`predeploy --env staging --version V`):
//! its four gates, in order, each step leaving its evidence file under
//! `.artifacts/pre-deployment/` (or `--out`) with the protocol's name.
//!
//! 1. Intake: the approvals file (`intake-validation-report.json`) and
//!    staging parity (`staging-parity-report.json`).
//! 2. Rehearsal: the deploy commands (`staging-deployment-run.log`, a
//!    transcript with timings) and the smoke tests
//!    (`staging-test-results.json`, with counts from their JUnit XML).
//! 3. Rollback and security: the rollback commands with `{previous_tag}`
//!    (`rollback-verification-report.json`), the secrets scan and the
//!    audit commands (`security-compliance-report.json`).
//! 4. Readiness: `PRE-DEPLOYMENT-PACKAGE.zip` (reproducible, by the bundle
//!    code), the readiness review (`readiness-approval.json`) and
//!    `pre-deployment-manifest.json`.
//!
//! Every step is a `[MUST]`: the first that fails halts the run; the rest
//! show SKIP. The manifest is rewritten after every step, so after a halt,
//! an interrupt or a kill it lists what was written (size, SHA-256) and
//! what is missing. The two prompts ask only when a person can answer
//! (stdin and stderr are terminals); `--yes` answers for CI; otherwise the
//! answer is no, and the run halts.
//!
//! This file is `[predeploy]`, the section the config reads: the
//! approvals file and what it must cover, the parity target, the
//! rehearsal commands (deploy, smoke, rollback, audit), the smoke tests'
//! JUnit report and the commands' timeout, as written ([`Raw`]) and
//! validated ([`Predeploy`]). The parts: [`protocol`] (the table: steps,
//! gates, files, messages), [`steps`] (the run, which reads the whole
//! config and the workspace, so nothing here imports it), [`folder`] (the
//! evidence files, written whole), [`record`] (a command's run as the
//! evidence records it) and [`junit`] (the smoke tests' report).
//!
//! Deliberately not done: the protocol's `[GUIDELINE]` steps (test data,
//! observability baseline, runbooks, checklist updates) are people's work.

pub mod folder;
pub mod junit;
pub mod protocol;
pub mod record;
pub mod steps;

pub use folder::WriteError;
pub use protocol::{KIND, step_ids};

use std::time::Duration;

use serde::Deserialize;

use crate::config::values::{Problems, duration};
use crate::fsutil::unsafe_name;
use crate::sanitize::quoted;

/// How long one command may run, by default.
pub const TIMEOUT: Duration = Duration::from_secs(600);
const TIMEOUT_MAX: Duration = Duration::from_secs(6 * 3600);

/// One or several commands (`["a", "b"]` or `[["a"], ["b"]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Commands {
    One(Vec<String>),
    Many(Vec<Vec<String>>),
}

impl Commands {
    fn list(&self) -> Vec<Vec<String>> {
        match self {
            Commands::One(a) => vec![a.clone()],
            Commands::Many(l) => l.clone(),
        }
    }
}

/// `[predeploy]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// The approvals file, relative to the repository root.
    pub approvals: Option<String>,
    /// What current approvals must cover.
    pub require: Option<Vec<String>>,
    /// The environment staging must match (default `production`).
    pub parity_target: Option<String>,
    pub deploy: Option<Commands>,
    pub smoke: Option<Commands>,
    /// The JUnit XML the smoke tests write (`{out}` is the evidence folder).
    pub smoke_junit: Option<String>,
    pub rollback: Option<Commands>,
    pub audit: Option<Commands>,
    /// The most one command may run (default 10m).
    pub timeout: Option<String>,
}

/// The validated `[predeploy]`.
#[derive(Debug, Clone, Default)]
pub struct Predeploy {
    pub approvals: Option<String>,
    pub require: Vec<String>,
    pub parity_target: String,
    pub deploy: Vec<Vec<String>>,
    pub smoke: Vec<Vec<String>>,
    pub smoke_junit: Option<String>,
    pub rollback: Vec<Vec<String>>,
    pub audit: Vec<Vec<String>>,
    pub timeout: Duration,
}

pub fn validate(raw: Raw, problems: &mut Problems) -> Predeploy {
    let mut commands = |c: Option<Commands>, key: &str| -> Vec<Vec<String>> {
        let list = c.map(|c| c.list()).unwrap_or_default();
        for (i, argv) in list.iter().enumerate() {
            if argv.first().is_none_or(|p| p.trim().is_empty()) {
                problems.push(format!("predeploy.{key}[{i}]"), "an empty command");
            }
        }
        list
    };
    let deploy = commands(raw.deploy, "deploy");
    let smoke = commands(raw.smoke, "smoke");
    let rollback = commands(raw.rollback, "rollback");
    let audit = commands(raw.audit, "audit");
    let timeout = duration(
        raw.timeout.as_deref(),
        TIMEOUT,
        TIMEOUT_MAX,
        "predeploy.timeout",
        problems,
    );
    // Paths the run reads, and the JUnit report it deletes before the smoke
    // tests: all inside the repository (the report may be under `{out}/`,
    // the evidence folder).
    if let Some(a) = &raw.approvals
        && let Some(why) = unsafe_name(a)
    {
        problems.push(
            "predeploy.approvals",
            format!(
                "{}: {why}; the approvals file is a path relative to the repository root",
                quoted(a)
            ),
        );
    }
    if let Some(j) = &raw.smoke_junit
        && let Some(why) = junit_escapes(j)
    {
        problems.push(
            "predeploy.smoke_junit",
            format!(
                "{}: {why}; the JUnit report is a path relative to the repository root, or under {{out}}/",
                quoted(j)
            ),
        );
    }
    Predeploy {
        approvals: raw.approvals,
        require: raw.require.unwrap_or_default(),
        parity_target: raw
            .parity_target
            .unwrap_or_else(|| "production".to_string()),
        deploy,
        smoke,
        smoke_junit: raw.smoke_junit,
        rollback,
        audit,
        timeout,
    }
}

/// Why the JUnit report's path (as written, or expanded) leaves its
/// folder: the repository root, or the evidence folder after `{out}/`.
fn junit_escapes(path: &str) -> Option<&'static str> {
    unsafe_name(path.strip_prefix("{out}/").unwrap_or(path))
}
