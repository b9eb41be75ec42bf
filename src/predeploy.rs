//! The pre-deployment protocol: its report, its config section
//! (`[predeploy]`: approvals, rehearsal commands, timeouts), validated, and
//! its table (the steps, their gates and evidence files, what each phase
//! says and what a failed step says to do); the record of a command it
//! ran, and the counts of a JUnit report. The command runs the steps.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::values::Problems;
use crate::exit::Verdict;
use crate::report::{Kind, Rule};
use crate::sanitize::quoted;

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

/// What the protocol says as each gate begins, and its name.
pub const PHASE_START: [&str; 4] = [
    "[PHASE 1 START] - Validating upstream approvals and artifact completeness...",
    "[PHASE 2 START] - Rehearsing deployment on staging environment...",
    "[PHASE 3 START] - Verifying rollback and recovery procedures...",
    "[PHASE 4 START] - Compiling pre-deployment readiness package for release approval...",
];
pub const PHASE_NAME: [&str; 4] = [
    "Intake validation and staging alignment",
    "Deployment rehearsal and verification",
    "Rollback, security, and operational readiness",
    "Final readiness review and handoff",
];

/// The `[ERROR]` line and the recovery for a failed step.
pub fn error_line(id: &str, target: &str) -> (String, &'static str) {
    match id {
        "approvals" => (
            "[ERROR] Upstream approvals missing, rejected or expired.".into(),
            "obtain or renew the approvals, update the approvals file, rerun predeploy.",
        ),
        "staging_parity" => (
            format!("[ERROR] Staging configuration drift detected against {target} baseline."),
            "apply remediation, rerun the parity check (release-sentinel parity), log changes.",
        ),
        "deploy_rehearsal" => (
            "[ERROR] Deployment rehearsal encountered critical error.".into(),
            "rollback staging, fix automation or code issues, rerun rehearsal.",
        ),
        "smoke_tests" => (
            "[ERROR] Smoke and acceptance tests failed on staging.".into(),
            "fix the failed tests or the release, rerun rehearsal before continuing.",
        ),
        "rollback_rehearsal" => (
            "[ERROR] Rollback rehearsal encountered critical error.".into(),
            "address the failed rollback steps, rerun the rehearsal.",
        ),
        "security" => (
            "[ERROR] Security/compliance scan reported blocking findings.".into(),
            "escalate to security owner, implement fixes, rerun scan before approval.",
        ),
        "package" => (
            "[ERROR] Pre-deployment package could not be compiled.".into(),
            "see the package row, fix the cause, rerun predeploy.",
        ),
        _ => (
            "[ERROR] Readiness review did not approve the handoff.".into(),
            "obtain approvals or address the conditions before notifying Protocol 11.",
        ),
    }
}

/// One command's run, as the evidence records it.
pub struct Ran {
    pub command: String,
    pub started: String,
    pub elapsed: Duration,
    pub exit_code: Option<i32>,
    pub failure: Option<String>,
    pub stdout: String,
    pub stdout_bytes: usize,
    pub stdout_cut: bool,
    pub stderr: String,
    pub stderr_bytes: usize,
    pub stderr_cut: bool,
}

impl Ran {
    pub fn json(&self) -> Value {
        json!({
            "command": self.command,
            "started_at": self.started,
            "duration_ms": self.elapsed.as_millis() as u64,
            "exit_code": self.exit_code,
            "result": self.failure.as_deref().map_or("success".to_string(), |f| format!("failed: {f}")),
            "stdout": self.stdout,
            "stdout_bytes": self.stdout_bytes,
            "stderr": self.stderr,
            "stderr_bytes": self.stderr_bytes,
        })
    }

    pub fn transcript(&self) -> String {
        let stream = |name: &str, text: &str, total: usize, cut: bool| {
            let kept = if cut {
                format!(" (the end of {total} bytes)")
            } else {
                String::new()
            };
            let mut s = format!("--- {name}{kept} ---\n{text}");
            if !text.is_empty() && !text.ends_with('\n') {
                s.push('\n');
            }
            s
        };
        format!(
            "\n$ {}\n# started {}\n{}{}# {} after {:.3} s\n",
            self.command,
            self.started,
            stream("stdout", &self.stdout, self.stdout_bytes, self.stdout_cut),
            stream("stderr", &self.stderr, self.stderr_bytes, self.stderr_cut),
            self.failure
                .as_deref()
                .map_or("exit 0".to_string(), |f| f.to_string()),
            self.elapsed.as_secs_f64()
        )
    }
}

/// Test counts from a JUnit XML report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tests: usize,
    pub failures: usize,
    pub errors: usize,
    pub skipped: usize,
}

/// Count the test cases of a JUnit report and how they ended.
pub fn junit_counts(path: &Path) -> Result<Counts, String> {
    let shown = crate::sanitize::ascii(&path.display().to_string());
    let data = crate::fsutil::read_regular(path, 64 * 1024 * 1024).map_err(|why| {
        format!("the smoke tests wrote no readable JUnit report at {shown}: {why}")
    })?;
    let text = String::from_utf8(data).map_err(|_| format!("{shown}: not UTF-8"))?;
    let doc =
        roxmltree::Document::parse(&text).map_err(|e| format!("{shown}: not valid XML: {e}"))?;
    let mut c = Counts::default();
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        c.tests += 1;
        let has = |tag: &str| case.children().any(|n| n.has_tag_name(tag));
        if has("failure") {
            c.failures += 1;
        } else if has("error") {
            c.errors += 1;
        } else if has("skipped") {
            c.skipped += 1;
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_cases_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.xml");
        std::fs::write(
            &p,
            r#"<testsuites><testsuite name="s"><testcase name="a"/><testcase name="b"><failure message="x"/></testcase>
            <testcase name="c"><skipped/></testcase><testcase name="d"><error/></testcase></testsuite></testsuites>"#,
        )
        .unwrap();
        assert_eq!(
            junit_counts(&p).unwrap(),
            Counts {
                tests: 4,
                failures: 1,
                errors: 1,
                skipped: 1
            }
        );
        std::fs::write(&p, "<testsuite>").unwrap();
        assert!(junit_counts(&p).unwrap_err().contains("not valid XML"));
        assert!(
            junit_counts(&dir.path().join("none.xml"))
                .unwrap_err()
                .contains("no readable JUnit report")
        );
    }

    #[test]
    fn steps_follow_the_protocol_order() {
        let gates: Vec<u8> = STEPS.iter().map(|s| s.gate).collect();
        assert_eq!(gates, [1, 1, 2, 2, 3, 3, 4, 4]);
        assert_eq!(STEPS.iter().filter(|s| s.gate == 4).count(), 2);
    }
}
