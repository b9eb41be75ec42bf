//! The approvals file `predeploy` checks first: who approved what, when,
//! and until when. TOML (`[[approvals]]`, `[[waivers]]`) or, by its
//! `.json` extension, JSON (`{"approvals": [...], "waivers": [...]}`).
//!
//! ```toml
//! [[approvals]]
//! covers = "quality-audit"          # what it covers
//! decision = "approved"             # or "rejected"
//! signatory = "Dana Reyes"
//! decided_at = "2026-11-28T10:00:00Z"
//! expires_at = "2026-12-05T00:00:00Z"
//! ```
//!
//! An entry passes when it is approved, decided in the past and not yet
//! expired. A required item nobody approved, a rejection, an expiry in
//! the past, a time that is not RFC 3339, and two entries for the same
//! item all fail: each is named. Deliberately not checked: who may sign
//! (the file's review process decides that) and signatures.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::sanitize::quoted;

/// One approval or waiver as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub covers: String,
    pub decision: String,
    pub signatory: String,
    pub decided_at: String,
    pub expires_at: String,
    /// Why (a waiver's justification; free text).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default)]
    pub approvals: Vec<Entry>,
    #[serde(default)]
    pub waivers: Vec<Entry>,
}

/// What one entry came to.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub kind: &'static str,
    pub covers: String,
    pub decision: String,
    pub signatory: String,
    pub decided_at: String,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `current`, `expired`, `rejected` or `invalid`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The whole file's result.
#[derive(Debug, Clone, Serialize)]
pub struct Intake {
    pub entries: Vec<Checked>,
    /// Required items no current approval covers.
    pub missing: Vec<String>,
    /// Every problem, one line each.
    pub problems: Vec<String>,
}

impl Intake {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// The signatories of current approvals, each once, in order.
    pub fn signatories(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self.entries.iter().filter(|e| e.status == "current") {
            if !out.contains(&e.signatory) {
                out.push(e.signatory.clone());
            }
        }
        out
    }
}

/// Read the file: TOML, or JSON by extension.
pub fn read(path: &Path) -> Result<File, String> {
    let data = crate::fsutil::read_regular(path, 4 * 1024 * 1024)?;
    let text = String::from_utf8(data).map_err(|_| "not UTF-8 text".to_string())?;
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if json {
        serde_json::from_str(&text).map_err(|e| format!("not a valid approvals file: {e}"))
    } else {
        toml::from_str(&text).map_err(|e| {
            format!(
                "not a valid approvals file: {}",
                e.message().lines().next().unwrap_or("")
            )
        })
    }
}

fn time(text: &str) -> Option<SystemTime> {
    crate::clock::parse_rfc3339(text)
}

/// Check `file` at `now`: every entry, then the required items.
pub fn check(file: &File, required: &[String], now: SystemTime) -> Intake {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (kind, list) in [("approval", &file.approvals), ("waiver", &file.waivers)] {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, e) in list.iter().enumerate() {
            let at = format!("{kind} {} ({})", i + 1, quoted(&e.covers));
            let mut problem = None;
            let mut status = "current";
            let decided = time(&e.decided_at);
            let expires = time(&e.expires_at);
            let decision = e.decision.trim().to_ascii_lowercase();
            if e.covers.trim().is_empty() {
                problem = Some(format!(
                    "{kind} {}: covers nothing (covers is empty)",
                    i + 1
                ));
            } else if let Some(first) = seen.insert(e.covers.trim().to_string(), i + 1) {
                problem = Some(format!(
                    "{at}: a duplicate of {kind} {first}; keep one entry per item"
                ));
            } else if e.signatory.trim().is_empty() {
                problem = Some(format!("{at}: no signatory"));
            } else if decided.is_none() {
                problem = Some(format!(
                    "{at}: decided_at {} is not an RFC 3339 time like 2026-11-28T10:00:00Z",
                    quoted(&e.decided_at)
                ));
            } else if expires.is_none() {
                problem = Some(format!(
                    "{at}: expires_at {} is not an RFC 3339 time like 2026-12-05T00:00:00Z",
                    quoted(&e.expires_at)
                ));
            } else if decision != "approved" && decision != "rejected" {
                problem = Some(format!(
                    "{at}: decision {} is neither approved nor rejected",
                    quoted(&e.decision)
                ));
            }
            if problem.is_some() {
                status = "invalid";
            } else if let (Some(d), Some(x)) = (decided, expires) {
                if d > now {
                    status = "invalid";
                    problem = Some(format!(
                        "{at}: decided_at {} is in the future",
                        e.decided_at
                    ));
                } else if x <= d {
                    status = "invalid";
                    problem = Some(format!(
                        "{at}: expires_at {} is not after decided_at {}",
                        e.expires_at, e.decided_at
                    ));
                } else if decision == "rejected" {
                    status = "rejected";
                    problem = Some(format!("{at}: rejected by {}", e.signatory));
                } else if x <= now {
                    status = "expired";
                    problem = Some(format!("{at}: expired at {}", e.expires_at));
                }
            }
            if let Some(p) = &problem {
                problems.push(p.clone());
            }
            entries.push(Checked {
                kind,
                covers: e.covers.clone(),
                decision: e.decision.clone(),
                signatory: e.signatory.clone(),
                decided_at: e.decided_at.clone(),
                expires_at: e.expires_at.clone(),
                reason: e.reason.clone(),
                status,
                problem,
            });
        }
    }
    let covered = |item: &str| {
        entries
            .iter()
            .any(|e| e.kind == "approval" && e.covers.trim() == item)
    };
    let missing: Vec<String> = required
        .iter()
        .filter(|r| !covered(r.as_str()))
        .cloned()
        .collect();
    for m in &missing {
        problems.push(format!("no approval covers {}", quoted(m)));
    }
    if file.approvals.is_empty() {
        problems.push("the file holds no approval".to_string());
    }
    Intake {
        entries,
        missing,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    fn entry(covers: &str, decision: &str, decided: &str, expires: &str) -> Entry {
        Entry {
            covers: covers.into(),
            decision: decision.into(),
            signatory: "Dana".into(),
            decided_at: decided.into(),
            expires_at: expires.into(),
            reason: None,
        }
    }

    #[test]
    fn current_approvals_pass() {
        let f = File {
            approvals: vec![entry(
                "qa",
                "approved",
                "2026-11-01T00:00:00Z",
                "2026-12-01T00:00:00Z",
            )],
            waivers: vec![],
        };
        let i = check(&f, &["qa".into()], at("2026-11-20T00:00:00Z"));
        assert!(i.passed(), "{:?}", i.problems);
        assert_eq!(i.signatories(), ["Dana"]);
    }

    #[test]
    fn every_fault_is_named() {
        let f = File {
            approvals: vec![
                entry(
                    "qa",
                    "approved",
                    "2026-11-01T00:00:00Z",
                    "2026-11-10T00:00:00Z",
                ),
                entry(
                    "sec",
                    "rejected",
                    "2026-11-01T00:00:00Z",
                    "2026-12-10T00:00:00Z",
                ),
                entry("int", "approved", "2026-13-01", "2026-12-10T00:00:00Z"),
                entry(
                    "qa",
                    "approved",
                    "2026-11-01T00:00:00Z",
                    "2026-12-10T00:00:00Z",
                ),
                entry(
                    "ops",
                    "maybe",
                    "2026-11-01T00:00:00Z",
                    "2026-12-10T00:00:00Z",
                ),
            ],
            waivers: vec![],
        };
        let i = check(
            &f,
            &["qa".into(), "legal".into()],
            at("2026-11-20T00:00:00Z"),
        );
        let all = i.problems.join("\n");
        assert!(all.contains("expired at 2026-11-10"), "{all}");
        assert!(all.contains("rejected by Dana"), "{all}");
        assert!(
            all.contains("\"2026-13-01\" is not an RFC 3339 time"),
            "{all}"
        );
        assert!(all.contains("a duplicate of approval 1"), "{all}");
        assert!(
            all.contains("\"maybe\" is neither approved nor rejected"),
            "{all}"
        );
        assert!(all.contains("no approval covers \"legal\""), "{all}");
        assert_eq!(i.missing, ["legal"]);
        assert!(!i.passed());
    }

    #[test]
    fn an_empty_file_fails() {
        let i = check(&File::default(), &[], at("2026-11-20T00:00:00Z"));
        assert!(!i.passed());
    }
}
