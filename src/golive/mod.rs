//! The go-live checklist: its reports (the run and the dry run) and its
//! config section (`[golive]`: the items and their commands), validated;
//! the checklist itself is [`checklist`].
//!
//! The config imports this file, so this file uses nothing that uses the
//! config ([`checklist`] does: the gate, the pack, the workspace).

pub mod checklist;

use crate::config::values::Problems;
use crate::exit::Verdict;
use crate::report::{Kind, Rule};
use crate::sanitize::quoted;
use serde::Deserialize;
use std::time::Duration;

/// The checklist's report.
pub static KIND: Kind = Kind {
    name: "golive",
    title: "Go-Live Checklist Summary",
    title_target: true,
    heading: "Go-live checklist",
    final_id: "go_live",
    marker: "GO_LIVE",
    words: ["PASS", "FAIL", "FAIL"],
    rows_key: "items",
    footer: Some("Go-live checklist result"),
    ..Kind::CHECKS
};

/// The checklist's dry run.
pub static DRY_KIND: Kind = Kind {
    words: ["DRY-RUN", "FAIL", "FAIL"],
    rule: Rule::Plan {
        fail: Verdict::Blocked,
    },
    ..KIND
};

/// The parity evidence `golive` reads, relative to the repository root.
pub const PARITY_REPORT: &str = ".artifacts/pre-deployment/staging-parity-report.json";
/// How old the parity evidence may be, by default.
pub const PARITY_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
pub const TIMEOUT: Duration = Duration::from_secs(600);

/// One `[[golive.items]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawItem {
    pub name: String,
    pub run: Vec<String>,
    pub timeout: Option<String>,
}

/// `[golive]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub parity_report: Option<String>,
    pub parity_max_age: Option<String>,
    /// A command that prints the open blockers, one per line (nothing when
    /// there is none) and exits 0.
    pub blockers: Option<Vec<String>>,
    pub items: Option<Vec<RawItem>>,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub name: String,
    pub run: Vec<String>,
    pub timeout: Duration,
}

/// The validated `[golive]`.
#[derive(Debug, Clone, Default)]
pub struct GoLive {
    pub parity_report: Option<String>,
    pub parity_max_age: Option<Duration>,
    pub blockers: Option<Vec<String>>,
    pub items: Vec<Item>,
}

const BUILTIN: &[&str] = &[
    "release-gate",
    "pre-live-pack",
    "backup",
    "parity-evidence",
    "blockers",
];

pub fn validate(raw: Raw, problems: &mut Problems) -> GoLive {
    let parity_max_age = raw.parity_max_age.as_deref().map(|t| {
        crate::config::values::duration(
            Some(t),
            PARITY_MAX_AGE,
            Duration::from_secs(366 * 24 * 3600),
            "golive.parity_max_age",
            problems,
        )
    });
    if let Some(b) = &raw.blockers
        && b.first().is_none_or(|p| p.trim().is_empty())
    {
        problems.push("golive.blockers", "an empty command");
    }
    let mut items = Vec::new();
    for (i, it) in raw.items.unwrap_or_default().into_iter().enumerate() {
        let key = format!("golive.items[{i}]");
        if it.name.trim().is_empty() || it.name.chars().any(char::is_control) {
            problems.push(format!("{key}.name"), "a name is needed (printable text)");
        } else if BUILTIN.contains(&it.name.as_str())
            || items.iter().any(|x: &Item| x.name == it.name)
        {
            problems.push(
                format!("{key}.name"),
                format!("{} names another item too", quoted(&it.name)),
            );
        }
        if it.run.first().is_none_or(|p| p.trim().is_empty()) {
            problems.push(format!("{key}.run"), "an empty command");
        }
        let timeout = crate::config::values::duration(
            it.timeout.as_deref(),
            TIMEOUT,
            Duration::from_secs(6 * 3600),
            &format!("{key}.timeout"),
            problems,
        );
        items.push(Item {
            name: it.name,
            run: it.run,
            timeout,
        });
    }
    GoLive {
        parity_report: raw.parity_report,
        parity_max_age,
        blockers: raw.blockers,
        items,
    }
}
