//! The pre-deployment protocol: its report and its config section
//! (`[predeploy]`: approvals, rehearsal commands, timeouts), validated.

use crate::config::values::Problems;
use crate::exit::Verdict;
use crate::report::{Kind, Rule};
use crate::sanitize::quoted;
use serde::Deserialize;
use std::time::Duration;

/// The predeploy report.
pub static KIND: Kind = Kind {
    name: "predeploy",
    title: "PRE-DEPLOYMENT VALIDATION",
    title_target: true,
    heading: "Pre-deployment validation",
    final_id: "predeploy",
    marker: "PREDEPLOY",
    words: ["READY", "HALTED", "HALTED"],
    rows_key: "steps",
    rule: Rule::NoFailure {
        fail: Verdict::Blocked,
    },
    ..Kind::CHECKS
};

/// Where the evidence goes, relative to the repository root.
pub const OUT_DIR: &str = ".artifacts/pre-deployment";
/// The manifest's name.
pub const MANIFEST: &str = "pre-deployment-manifest.json";
/// The package's name.
pub const PACKAGE: &str = "PRE-DEPLOYMENT-PACKAGE.zip";
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
    let timeout = crate::config::values::duration(
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
        && let Some(why) = crate::bundle::unsafe_name(a)
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
    crate::bundle::unsafe_name(path.strip_prefix("{out}/").unwrap_or(path))
}

/// A step of the protocol: its row id, its gate, its evidence file.
pub struct StepDef {
    pub id: &'static str,
    pub gate: u8,
    pub file: &'static str,
}

/// The row ids of the protocol's steps: a run records each one.
pub fn step_ids() -> Vec<&'static str> {
    STEPS.iter().map(|s| s.id).collect()
}

pub const STEPS: &[StepDef] = &[
    StepDef {
        id: "approvals",
        gate: 1,
        file: "intake-validation-report.json",
    },
    StepDef {
        id: "staging_parity",
        gate: 1,
        file: "staging-parity-report.json",
    },
    StepDef {
        id: "deploy_rehearsal",
        gate: 2,
        file: "staging-deployment-run.log",
    },
    StepDef {
        id: "smoke_tests",
        gate: 2,
        file: "staging-test-results.json",
    },
    StepDef {
        id: "rollback_rehearsal",
        gate: 3,
        file: "rollback-verification-report.json",
    },
    StepDef {
        id: "security",
        gate: 3,
        file: "security-compliance-report.json",
    },
    StepDef {
        id: "package",
        gate: 4,
        file: PACKAGE,
    },
    StepDef {
        id: "readiness_review",
        gate: 4,
        file: "readiness-approval.json",
    },
];
