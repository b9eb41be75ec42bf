//! Make-ready: its report and its config section (`[ready]`: which rows
//! count, their weights, the pass score, where the report goes), validated.

pub mod run;

use crate::config::values::Problems;
use crate::exit::Verdict;
use crate::report::{CheckResult, Kind, Phase, Rule, Status};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The make-ready report.
pub static KIND: Kind = Kind {
    name: "ready",
    title: "MAKE READY",
    title_target: true,
    heading: "Make ready",
    final_id: "make_ready",
    marker: "MAKE_READY",
    rule: Rule::NoFailure {
        fail: Verdict::Blocked,
    },
    ..Kind::CHECKS
};

/// Where the readiness file goes, relative to the repository root.
pub const REPORT: &str = "artifacts/reports/readiness.json";

/// `[ready]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub weights: Option<BTreeMap<String, crate::config::values::Number>>,
    pub key: Option<Vec<String>>,
    pub pass: Option<crate::config::values::Number>,
    pub warn: Option<crate::config::values::Number>,
    pub report: Option<String>,
}

/// The validated `[ready]`.
#[derive(Debug, Clone)]
pub struct Ready {
    pub weights: BTreeMap<String, f64>,
    pub key: Vec<String>,
    pub pass: f64,
    pub warn: f64,
    pub report: String,
}

impl Default for Ready {
    fn default() -> Self {
        Self {
            weights: BTreeMap::new(),
            key: Vec::new(),
            pass: 80.0,
            warn: 60.0,
            report: REPORT.to_string(),
        }
    }
}

/// Validate `[ready]`; `known` are the ids of the gate's checks.
pub fn validate(raw: Raw, known: &[&str], problems: &mut Problems) -> Ready {
    let mut out = Ready::default();
    for (id, w) in raw.weights.unwrap_or_default() {
        let w = w.get();
        if !known.contains(&id.as_str()) {
            problems.push(
                format!("ready.weights.{id}"),
                "no policy gate or health check has this id",
            );
        } else if !(w.is_finite() && w >= 0.0) {
            problems.push(
                format!("ready.weights.{id}"),
                format!("{w} is not a weight (0 or more)"),
            );
        } else {
            out.weights.insert(id, w);
        }
    }
    for (i, id) in raw.key.unwrap_or_default().into_iter().enumerate() {
        if !known.contains(&id.as_str()) {
            problems.push(
                format!("ready.key[{i}]"),
                format!(
                    "{} is no policy gate or health check",
                    crate::sanitize::quoted(&id)
                ),
            );
        } else {
            out.key.push(id);
        }
    }
    out.pass = raw.pass.map_or(out.pass, |n| n.get());
    out.warn = raw.warn.map_or(out.warn, |n| n.get());
    for (k, v) in [("pass", out.pass), ("warn", out.warn)] {
        if !(0.0..=100.0).contains(&v) {
            problems.push(
                format!("ready.{k}"),
                format!("{v} is not a score from 0 to 100"),
            );
        }
    }
    if out.warn > out.pass {
        problems.push(
            "ready.warn",
            format!("warn ({}) is above pass ({})", out.warn, out.pass),
        );
    }
    if let Some(r) = raw.report {
        // The file written: inside the repository.
        if let Some(why) = crate::fsutil::unsafe_name(&r) {
            problems.push(
                "ready.report",
                format!(
                    "{}: {why}; the report is a path relative to the repository root",
                    crate::sanitize::quoted(&r)
                ),
            );
        }
        out.report = r;
    }
    out
}

/// One part of the score: the check's id, status, weight and points.
pub type Part = (String, Status, f64, f64);

/// The score's parts, the score, and the key checks that failed.
pub fn score(rows: &[CheckResult], ready: &Ready) -> (Vec<Part>, f64, Vec<String>) {
    let mut parts = Vec::new();
    let mut failed_keys = Vec::new();
    for r in rows
        .iter()
        .filter(|r| r.counts() && matches!(r.phase, Phase::Policy | Phase::Health))
    {
        let weight = ready.weights.get(&r.id).copied().unwrap_or(1.0);
        let points = match r.status() {
            Status::Ok => weight,
            Status::Warn => weight / 2.0,
            _ => 0.0,
        };
        if ready.key.contains(&r.id) && !matches!(r.status(), Status::Ok | Status::Warn) {
            failed_keys.push(r.id.clone());
        }
        parts.push((r.id.clone(), r.status(), weight, points));
    }
    let total: f64 = parts.iter().map(|p| p.2).sum();
    let got: f64 = parts.iter().map(|p| p.3).sum();
    let score = if !failed_keys.is_empty() || total == 0.0 {
        0.0
    } else {
        (got / total * 1000.0).round() / 10.0
    };
    (parts, score, failed_keys)
}
