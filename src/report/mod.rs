//! The report model: what a command checked and what came of it. Every
//! command that judges something produces one [`Report`]; the renderers
//! ([`render`]) print it in any [`Format`], and [`deliver`] sends it where
//! else it goes. Nothing here decides what to check, and nothing prints
//! except into the writer it is given.
//!
//! A [`Kind`] says what a report is (the gate, the pack, ...): its title,
//! its final row and marker, the words of its verdict, and how the verdict
//! follows from the rows. A new command declares its `Kind` and reuses the
//! rest.

pub mod deliver;
pub mod github;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod table;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::exit::Verdict;
use crate::secrets::Scrubber;

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Policy,
    Health,
    /// A step of the pre-live pack.
    Pack,
    /// What `verify` watches: probes, rules, smoke steps, switches.
    Verify,
    /// A notification's delivery (never counted in a verdict).
    Notify,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Policy => "policy",
            Phase::Health => "health",
            Phase::Pack => "pack",
            Phase::Verify => "verify",
            Phase::Notify => "notify",
        }
    }
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

    pub fn crit(message: impl Into<String>) -> Self {
        Self::new(Status::Crit, message)
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

/// How much a check's result counts, set per check (`[modes]`): for
/// adopting a new check without blocking releases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A failure counts (the default).
    #[default]
    Enforce,
    /// A failure is a WARN.
    Warn,
    /// Evaluated and reported, never counted in the verdict.
    Shadow,
}

impl Mode {
    /// Apply the mode to what a check found.
    pub fn apply(self, outcome: Outcome) -> Outcome {
        let failed = matches!(outcome.status, Status::Fail | Status::Crit);
        match self {
            Mode::Enforce => outcome,
            Mode::Warn if failed => Outcome {
                message: format!(
                    "{} (mode warn: counts as WARN, not {})",
                    outcome.message,
                    outcome.status.as_str()
                ),
                status: Status::Warn,
                ..outcome
            },
            Mode::Warn => outcome,
            Mode::Shadow => Outcome {
                message: format!("{} (mode shadow: not counted)", outcome.message),
                ..outcome
            },
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub id: String,
    pub phase: Phase,
    pub outcome: Outcome,
    pub duration: Duration,
    /// `Shadow` rows never count in the verdict.
    pub mode: Mode,
}

impl CheckResult {
    pub fn new(id: impl Into<String>, phase: Phase, outcome: Outcome, duration: Duration) -> Self {
        Self {
            id: id.into(),
            phase,
            outcome,
            duration,
            mode: Mode::Enforce,
        }
    }

    /// A row of a command that is not timed per row (the toolkit's files,
    /// a record's checks): the pack phase, no duration.
    pub fn untimed(id: impl Into<String>, outcome: Outcome) -> Self {
        Self::new(id, Phase::Pack, outcome, Duration::ZERO)
    }

    /// The row with `mode` applied to its outcome.
    pub fn with_mode(self, mode: Mode) -> Self {
        Self {
            outcome: mode.apply(self.outcome),
            mode,
            ..self
        }
    }

    pub fn status(&self) -> Status {
        self.outcome.status
    }

    /// Whether the row counts in the verdict.
    pub fn counts(&self) -> bool {
        self.mode != Mode::Shadow
    }
}

/// A duration in milliseconds, to the microsecond: the JSON report's
/// `duration_ms` and the debug logs' `elapsed_ms`.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

impl Serialize for CheckResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Row<'a> {
            id: &'a str,
            phase: Phase,
            status: Status,
            message: &'a str,
            /// Milliseconds, to the microsecond.
            duration_ms: f64,
            details: &'a Map<String, Value>,
            #[serde(skip_serializing_if = "is_enforce")]
            mode: Mode,
        }
        fn is_enforce(m: &Mode) -> bool {
            *m == Mode::Enforce
        }
        Row {
            id: &self.id,
            phase: self.phase,
            status: self.status(),
            message: &self.outcome.message,
            duration_ms: millis(self.duration),
            details: &self.outcome.details,
            mode: self.mode,
        }
        .serialize(s)
    }
}

/// A row read back from its JSON form (an evidence record): the status and
/// message as reported (its mode already applied), the details, the mode.
/// The duration is not read back: it decides nothing.
impl<'de> Deserialize<'de> for CheckResult {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
            phase: Phase,
            status: Status,
            message: String,
            #[serde(default)]
            details: Map<String, Value>,
            #[serde(default)]
            mode: Mode,
        }
        let row = Row::deserialize(d)?;
        Ok(CheckResult {
            id: row.id,
            phase: row.phase,
            outcome: Outcome {
                status: row.status,
                message: row.message,
                details: row.details,
            },
            duration: Duration::ZERO,
            mode: row.mode,
        })
    }
}

/// How a kind's verdict follows from its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The gate's: BLOCKED when a policy row did not pass, else CRITICAL
    /// when a health row did not pass, else SAFE.
    Phases,
    /// Every row must be OK (and there must be rows); else `fail`.
    AllOk { fail: Verdict },
    /// Every counted row OK or WARN (and there must be rows); else `fail`.
    NoFailure { fail: Verdict },
    /// `verify`'s: CRITICAL (ROLLBACK) when a row failed, else SAFE
    /// (HEALTHY). A SKIP row was not evaluated on purpose (`--at`).
    Triggers,
    /// A dry run's plan: the rows are what would run (SKIP, on purpose).
    /// SAFE (the plan's word) when there are rows and none failed (an
    /// item that cannot run as configured fails); else `fail`.
    Plan { fail: Verdict },
}

/// What a report is.
#[derive(Debug)]
pub struct Kind {
    /// `kind` in JSON: `gate`, `pack`.
    pub name: &'static str,
    /// The table's title.
    pub title: &'static str,
    /// Whether the title names the environment and version.
    pub title_target: bool,
    /// The Markdown heading's words.
    pub heading: &'static str,
    /// The final row's id.
    pub final_id: &'static str,
    /// The final row's marker name: `RELEASE_SENTINEL`, `PRE_LIVE_PACK`.
    pub marker: &'static str,
    /// The verdict's word for exit 0, 1 and 2.
    pub words: [&'static str; 3],
    /// The key of the rows in JSON: `checks`, `steps`.
    pub rows_key: &'static str,
    /// An OK row prints without its message (the pack's layout).
    pub compact_ok: bool,
    pub rule: Rule,
    /// A line the table ends with, before the verdict's word: `Go-live
    /// checklist result` gives `Go-live checklist result: PASS`.
    pub footer: Option<&'static str>,
}

impl Kind {
    /// What most reports are, for a `Kind` to start from
    /// (`..Kind::CHECKS`): rows under `checks`, OK or FAIL, every row
    /// shown with its message, BLOCKED (exit 1) unless every row passed.
    pub const CHECKS: Kind = Kind {
        name: "",
        title: "",
        title_target: false,
        heading: "",
        final_id: "",
        marker: "",
        words: ["OK", "FAIL", "FAIL"],
        rows_key: "checks",
        compact_ok: false,
        rule: Rule::AllOk {
            fail: Verdict::Blocked,
        },
        footer: None,
    };

    /// The word for `verdict`: `SAFE`, `DRYRUN`, ...
    pub fn word(&self, verdict: Verdict) -> &'static str {
        self.words[usize::from(verdict.code())]
    }
}

/// What a report is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    pub env: Option<String>,
    pub version: Option<String>,
    /// The commit HEAD points at, when there is one.
    pub commit: Option<String>,
}

/// Everything one run of a command found.
#[derive(Debug, Clone)]
pub struct Report {
    pub kind: &'static Kind,
    pub target: Target,
    /// Where the configuration came from (a path or "embedded default");
    /// `None` when there is no usable configuration.
    pub config: Option<String>,
    /// The time the checks used (the clock, or `CI_FAKE_UTC`); `None` when
    /// it could not be read.
    pub time: Option<crate::clock::Now>,
    pub rows: Vec<CheckResult>,
    /// Why the run could not be evaluated fully (an invalid config). The
    /// verdict is then BLOCKED.
    pub error: Option<String>,
    /// WARN rows block (reported by kinds that have the notion).
    pub strict: Option<bool>,
    /// SIGINT or SIGTERM arrived (reported by kinds that can be
    /// interrupted). The verdict is then BLOCKED.
    pub interrupted: Option<bool>,
}

impl Report {
    pub fn new(kind: &'static Kind, target: Target) -> Self {
        Self {
            kind,
            target,
            config: None,
            time: None,
            rows: Vec::new(),
            error: None,
            strict: None,
            interrupted: None,
        }
    }

    /// The verdict, by the kind's rule. An error or an interruption is
    /// BLOCKED whatever the rows say.
    pub fn verdict(&self) -> Verdict {
        if self.error.is_some() || self.interrupted == Some(true) {
            return Verdict::Blocked;
        }
        let strict = self.strict.unwrap_or(false);
        match self.kind.rule {
            Rule::Phases => {
                let failed = |phase| {
                    self.rows
                        .iter()
                        .any(|r| r.counts() && r.phase == phase && !r.status().passed_in(strict))
                };
                if failed(Phase::Policy) || failed(Phase::Pack) {
                    Verdict::Blocked
                } else if failed(Phase::Health) {
                    Verdict::Critical
                } else {
                    Verdict::Safe
                }
            }
            Rule::Triggers => {
                if self
                    .rows
                    .iter()
                    .any(|r| r.counts() && matches!(r.status(), Status::Fail | Status::Crit))
                {
                    Verdict::Critical
                } else {
                    Verdict::Safe
                }
            }
            Rule::NoFailure { fail } => {
                let mut counted = self.rows.iter().filter(|r| r.counts()).peekable();
                if counted.peek().is_some()
                    && counted.all(|r| matches!(r.status(), Status::Ok | Status::Warn))
                {
                    Verdict::Safe
                } else {
                    fail
                }
            }
            Rule::Plan { fail } => {
                let mut counted = self.rows.iter().filter(|r| r.counts()).peekable();
                if counted.peek().is_some()
                    && counted.all(|r| matches!(r.status(), Status::Ok | Status::Skip))
                {
                    Verdict::Safe
                } else {
                    fail
                }
            }
            Rule::AllOk { fail } => {
                let mut counted = self.rows.iter().filter(|r| r.counts()).peekable();
                if counted.peek().is_some() && counted.all(|r| r.status() == Status::Ok) {
                    Verdict::Safe
                } else {
                    fail
                }
            }
        }
    }

    /// The final row's marker: `RELEASE_SENTINEL=SAFE`.
    pub fn marker(&self) -> String {
        format!("{}={}", self.kind.marker, self.kind.word(self.verdict()))
    }

    /// The rows the summaries show (JUnit, Markdown, annotations): the
    /// rows, or, for a run that stopped before any row, one FAIL row named
    /// `config` that says why.
    pub fn summary_rows(&self) -> std::borrow::Cow<'_, [CheckResult]> {
        match (&self.error, self.rows.is_empty()) {
            (Some(e), true) => std::borrow::Cow::Owned(vec![CheckResult::new(
                "config",
                Phase::Policy,
                Outcome::fail(e.clone()),
                Duration::ZERO,
            )]),
            _ => std::borrow::Cow::Borrowed(&self.rows),
        }
    }
}

/// The output formats of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// The ASCII table
    #[default]
    Table,
    /// One JSON document
    Json,
    /// JUnit XML, one test suite per phase
    Junit,
    /// A Markdown table (for $GITHUB_STEP_SUMMARY)
    Markdown,
}

/// Render `report` in `format`; `colour` paints the table's statuses.
pub fn render(
    format: Format,
    report: &Report,
    scrubber: &Scrubber,
    colour: bool,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Table => table::render(report, scrubber, colour, out),
        Format::Json => json::render(report, scrubber, out),
        Format::Junit => junit::render(report, scrubber, out),
        Format::Markdown => markdown::render(report, scrubber, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::gate::KIND as GATE;
    use crate::pack::KIND as PACK;

    fn row(phase: Phase, status: Status) -> CheckResult {
        CheckResult::new("x", phase, Outcome::new(status, "m"), Duration::ZERO)
    }

    fn report(kind: &'static Kind, rows: Vec<CheckResult>) -> Report {
        Report {
            rows,
            strict: Some(false),
            ..Report::new(kind, Target::default())
        }
    }

    #[test]
    fn verdict_follows_the_exit_code_table() {
        use Phase::*;
        use Status::*;
        assert_eq!(
            report(&GATE, vec![row(Policy, Ok)]).verdict(),
            Verdict::Safe
        );
        assert_eq!(
            report(&GATE, vec![row(Policy, Warn)]).verdict(),
            Verdict::Safe
        );
        assert_eq!(
            report(&GATE, vec![row(Policy, Ok), row(Health, Warn)]).verdict(),
            Verdict::Safe
        );
        assert_eq!(
            report(&GATE, vec![row(Policy, Ok), row(Health, Crit)]).verdict(),
            Verdict::Critical
        );
        assert_eq!(
            report(&GATE, vec![row(Policy, Fail), row(Health, Skip)]).verdict(),
            Verdict::Blocked
        );
        // A policy gate that was not evaluated never counts as passed.
        assert_eq!(
            report(&GATE, vec![row(Policy, Skip)]).verdict(),
            Verdict::Blocked
        );
    }

    #[test]
    fn strict_mode_makes_warnings_block() {
        use Phase::*;
        use Status::*;
        let strict = |rows| Report {
            strict: Some(true),
            ..report(&GATE, rows)
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

    #[test]
    fn an_error_or_an_interruption_blocks_whatever_the_rows() {
        let mut r = report(&GATE, vec![row(Phase::Policy, Status::Ok)]);
        r.error = Some("bad config".into());
        assert_eq!(r.verdict(), Verdict::Blocked);
        let mut r = report(&PACK, vec![row(Phase::Pack, Status::Ok)]);
        assert_eq!(r.verdict(), Verdict::Safe);
        assert_eq!(r.marker(), "PRE_LIVE_PACK=DRYRUN");
        r.interrupted = Some(true);
        assert_eq!(r.verdict(), Verdict::Blocked);
    }

    #[test]
    fn modes_soften_or_discount_a_failure() {
        use Phase::*;
        use Status::*;
        let warned = row(Policy, Fail).with_mode(Mode::Warn);
        assert_eq!(warned.status(), Warn);
        assert!(warned.outcome.message.contains("mode warn"));
        assert_eq!(report(&GATE, vec![warned]).verdict(), Verdict::Safe);
        let shadow = row(Health, Crit).with_mode(Mode::Shadow);
        assert_eq!(shadow.status(), Crit);
        assert_eq!(
            report(&GATE, vec![row(Policy, Ok), shadow.clone()]).verdict(),
            Verdict::Safe
        );
        // A shadow row alone is not a passing pack.
        assert_eq!(report(&PACK, vec![shadow]).verdict(), Verdict::Blocked);
    }

    #[test]
    fn all_ok_needs_rows_and_every_row_ok() {
        assert_eq!(report(&PACK, vec![]).verdict(), Verdict::Blocked);
        assert_eq!(
            report(&PACK, vec![row(Phase::Pack, Status::Warn)]).verdict(),
            Verdict::Blocked
        );
    }

    #[test]
    fn a_run_stopped_before_any_row_summarises_as_one_config_row() {
        let mut r = report(&GATE, vec![]);
        r.error = Some("invalid config x".into());
        let rows = r.summary_rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, "config");
        assert_eq!(rows[0].status(), Status::Fail);
    }
}
