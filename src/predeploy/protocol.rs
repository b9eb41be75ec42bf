//! The protocol's table: its report ([`KIND`]), its steps in order with
//! their gates and evidence files ([`STEPS`]), where the evidence goes,
//! what each phase says as it begins and ends, and the `[ERROR]` line and
//! recovery of a failed step. Data only: the run is in `steps`.

use crate::exit::Verdict;
use crate::report::{Kind, Rule};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_the_protocol_order() {
        let gates: Vec<u8> = STEPS.iter().map(|s| s.gate).collect();
        assert_eq!(gates, [1, 1, 2, 2, 3, 3, 4, 4]);
        assert_eq!(STEPS.iter().filter(|s| s.gate == 4).count(), 2);
    }
}
