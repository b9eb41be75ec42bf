//! The report model: what was checked and what came of it. Checks produce
//! it, renderers print it; nothing here prints.

pub mod github;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod progress;
pub mod table;

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::exit::Verdict;

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Crit,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Crit => "CRIT",
            Status::Skip => "SKIP",
        }
    }

    /// Whether a row with this status lets the release through. SKIP does
    /// not: a check that was not evaluated never counts as passed.
    pub fn passed(self) -> bool {
        self.passed_in(false)
    }

    /// [`Status::passed`], where in strict mode a WARN does not pass.
    pub fn passed_in(self, strict: bool) -> bool {
        match self {
            Status::Ok => true,
            Status::Warn => !strict,
            Status::Fail | Status::Crit | Status::Skip => false,
        }
    }
}

/// Which phase a check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Policy,
    Health,
    /// A step of the pre-live pack.
    Pack,
}

/// What a check found: its status, a one-line message for people and
/// structured details for machines.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: Status,
    pub message: String,
    pub details: Map<String, Value>,
}

impl Outcome {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            details: Map::new(),
        }
    }

    pub fn ok(message: impl Into<String>) -> Self {
        Self::new(Status::Ok, message)
    }

    pub fn warn(message: impl Into<String>) -> Self {
        Self::new(Status::Warn, message)
    }

    pub fn fail(message: impl Into<String>) -> Self {
        Self::new(Status::Fail, message)
    }

    pub fn skip(message: impl Into<String>) -> Self {
        Self::new(Status::Skip, message)
    }

    /// Attach a machine-readable detail (shown in JSON only).
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub id: String,
    pub phase: Phase,
    pub outcome: Outcome,
    pub duration: Duration,
}

impl CheckResult {
    pub fn status(&self) -> Status {
        self.outcome.status
    }
}

/// Everything one run of the gate found.
#[derive(Debug, Clone)]
pub struct Report {
    pub env: String,
    pub version: String,
    /// The commit HEAD points at, when there is one.
    pub commit: Option<String>,
    /// Where the configuration came from (a path or "embedded default").
    pub config: String,
    /// WARN rows block: a WARN policy row counts as FAIL, a WARN health
    /// row as CRIT.
    pub strict: bool,
    pub results: Vec<CheckResult>,
}

impl Report {
    /// BLOCKED when any policy row did not pass (SKIP included: fail
    /// closed), else CRITICAL when any health row did not pass, else SAFE.
    /// In strict mode a WARN row does not pass.
    pub fn verdict(&self) -> Verdict {
        let failed = |phase| {
            self.results
                .iter()
                .any(|r| r.phase == phase && !r.status().passed_in(self.strict))
        };
        if failed(Phase::Policy) {
            Verdict::Blocked
        } else if failed(Phase::Health) {
            Verdict::Critical
        } else {
            Verdict::Safe
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(phase: Phase, status: Status) -> CheckResult {
        CheckResult {
            id: "x".into(),
            phase,
            outcome: Outcome::new(status, "m"),
            duration: Duration::ZERO,
        }
    }

    fn report(rows: Vec<CheckResult>) -> Report {
        Report {
            env: "dev".into(),
            version: "v1.0.0".into(),
            commit: None,
            config: "embedded default".into(),
            strict: false,
            results: rows,
        }
    }

    #[test]
    fn verdict_follows_the_exit_code_table() {
        use Phase::*;
        use Status::*;
        assert_eq!(report(vec![row(Policy, Ok)]).verdict(), Verdict::Safe);
        assert_eq!(report(vec![row(Policy, Warn)]).verdict(), Verdict::Safe);
        assert_eq!(
            report(vec![row(Policy, Ok), row(Health, Warn)]).verdict(),
            Verdict::Safe
        );
        assert_eq!(
            report(vec![row(Policy, Ok), row(Health, Crit)]).verdict(),
            Verdict::Critical
        );
        assert_eq!(
            report(vec![row(Policy, Fail), row(Health, Skip)]).verdict(),
            Verdict::Blocked
        );
        // A policy gate that was not evaluated never counts as passed.
        assert_eq!(report(vec![row(Policy, Skip)]).verdict(), Verdict::Blocked);
    }

    #[test]
    fn strict_mode_makes_warnings_block() {
        use Phase::*;
        use Status::*;
        let strict = |rows| Report {
            strict: true,
            ..report(rows)
        };
        assert_eq!(strict(vec![row(Policy, Warn)]).verdict(), Verdict::Blocked);
        assert_eq!(
            strict(vec![row(Policy, Ok), row(Health, Warn)]).verdict(),
            Verdict::Critical
        );
        assert_eq!(
            strict(vec![row(Policy, Ok), row(Health, Ok)]).verdict(),
            Verdict::Safe
        );
    }
}

/// The output formats of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Junit,
    Markdown,
}

/// What the JUnit, Markdown and GitHub renderers need of either report.
pub struct Summary<'a> {
    /// `gate` or `pack`.
    pub kind: &'static str,
    pub env: &'a str,
    pub version: &'a str,
    pub commit: Option<&'a str>,
    pub rows: &'a [CheckResult],
    /// The final row's marker: `RELEASE_SENTINEL=SAFE`, `PRE_LIVE_PACK=FAIL`.
    pub marker: String,
    pub passed: bool,
    pub exit_code: u8,
    /// WARN rows block.
    pub strict: bool,
}

impl Report {
    pub fn summary(&self) -> Summary<'_> {
        let verdict = self.verdict();
        Summary {
            kind: "gate",
            env: &self.env,
            version: &self.version,
            commit: self.commit.as_deref(),
            rows: &self.results,
            marker: format!("RELEASE_SENTINEL={}", verdict.as_str()),
            passed: verdict == Verdict::Safe,
            exit_code: verdict.code(),
            strict: self.strict,
        }
    }
}

impl crate::pack::PackReport {
    pub fn summary(&self) -> Summary<'_> {
        Summary {
            kind: "pack",
            env: &self.env,
            version: &self.version,
            commit: self.commit.as_deref(),
            rows: &self.steps,
            marker: if self.passed() {
                "PRE_LIVE_PACK=DRYRUN".to_string()
            } else {
                "PRE_LIVE_PACK=FAIL".to_string()
            },
            passed: self.passed(),
            exit_code: self.exit_code(),
            strict: false,
        }
    }
}

/// Render the pre-live pack's report in `format`.
pub fn render_pack(
    format: Format,
    report: &crate::pack::PackReport,
    scrubber: &crate::secrets::Scrubber,
    colour: bool,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Table => table::render_pack(report, scrubber, colour, out),
        Format::Json => json::write_value(json::pack_value(report), scrubber, out),
        Format::Junit => junit::render(&report.summary(), scrubber, out),
        Format::Markdown => markdown::render(&report.summary(), scrubber, out),
    }
}

/// Render `report` in `format`.
pub fn render(
    format: Format,
    report: &Report,
    scrubber: &crate::secrets::Scrubber,
    colour: bool,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Table => table::render(report, scrubber, colour, out),
        Format::Json => json::render(report, scrubber, out),
        Format::Junit => junit::render(&report.summary(), scrubber, out),
        Format::Markdown => markdown::render(&report.summary(), scrubber, out),
    }
}
