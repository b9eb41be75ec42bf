//! `[predeploy]`: the approvals file and what it must cover, the parity
//! target, the rehearsal commands (deploy, smoke, rollback, audit), the
//! smoke tests' JUnit report and the commands' timeout; as written
//! ([`Raw`]) and validated ([`Predeploy`]). The config reads it from here.
//!
//! Only the value vocabulary is used: nothing here reaches the config as a
//! whole, the workspace or the run (the config imports this file).

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
