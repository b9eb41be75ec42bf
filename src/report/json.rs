//! The JSON report: one document, every string scrubbed of secrets.
//!
//! Field names are stable; `schema_version` changes when one is renamed or
//! removed or changes meaning (new fields may appear without a change).

use std::io::{self, Write};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::{CheckResult, Kind, Report, Target};
use crate::secrets::Scrubber;

/// Version of the JSON document's shape.
pub const SCHEMA_VERSION: u32 = 1;

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        self.head(&mut m)?;
        m.serialize_entry(self.kind.rows_key, &self.rows)?;
        m.end()
    }
}

impl Report {
    /// Every entry of the document but the rows, which come last.
    fn head<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        let verdict = self.verdict();
        m.serialize_entry("schema_version", &SCHEMA_VERSION)?;
        m.serialize_entry("tool", "release-sentinel")?;
        m.serialize_entry("tool_version", env!("CARGO_PKG_VERSION"))?;
        m.serialize_entry("kind", self.kind.name)?;
        m.serialize_entry("env", &self.target.env)?;
        m.serialize_entry("version", &self.target.version)?;
        m.serialize_entry("commit", &self.target.commit)?;
        m.serialize_entry("config", &self.config)?;
        m.serialize_entry("time", &self.time.map(|t| t.rfc3339()))?;
        m.serialize_entry("time_source", &self.time.map(|t| t.source()))?;
        m.serialize_entry("verdict", self.kind.word(verdict))?;
        m.serialize_entry("exit_code", &verdict.code())?;
        if let Some(strict) = self.strict {
            m.serialize_entry("strict", &strict)?;
        }
        if let Some(interrupted) = self.interrupted {
            m.serialize_entry("interrupted", &interrupted)?;
        }
        if let Some(error) = &self.error {
            m.serialize_entry("error", error)?;
        }
        Ok(())
    }
}

/// The report as a JSON value, before scrubbing.
pub fn to_value(report: &Report) -> Value {
    serde_json::to_value(report).unwrap_or(Value::Null)
}

/// A report read back from the document [`to_value`] made: its kind found
/// by name among `kinds`, its target, config source, error, strictness,
/// interruption and rows. The verdict and exit code are not read: they
/// follow from the rest ([`Report::verdict`]), which is what a reader of a
/// stored report checks them against.
pub fn from_value(value: &Value, kinds: &[&'static Kind]) -> Result<Report, String> {
    let Some(doc) = value.as_object() else {
        return Err("not a JSON object".to_string());
    };
    match doc.get("schema_version").and_then(Value::as_u64) {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "schema_version {v} is not one this version reads ({SCHEMA_VERSION})"
            ));
        }
        None => return Err("no schema_version".to_string()),
    }
    let name = doc.get("kind").and_then(Value::as_str).ok_or("no kind")?;
    let kind = kinds
        .iter()
        .copied()
        .find(|k| k.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = kinds.iter().map(|k| k.name).collect();
            format!(
                "kind {} is not one of {}",
                crate::sanitize::quoted(name),
                known.join(", ")
            )
        })?;
    let text = |key: &str| -> Result<Option<String>, String> {
        match doc.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{key} is not a string")),
        }
    };
    let flag = |key: &str| -> Result<Option<bool>, String> {
        match doc.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("{key} is not true or false")),
        }
    };
    let rows = doc
        .get(kind.rows_key)
        .ok_or_else(|| format!("no {}", kind.rows_key))?;
    let rows: Vec<CheckResult> =
        serde_json::from_value(rows.clone()).map_err(|e| format!("{}: {e}", kind.rows_key))?;
    Ok(Report {
        target: Target {
            env: text("env")?,
            version: text("version")?,
            commit: text("commit")?,
        },
        config: text("config")?,
        rows,
        error: text("error")?,
        strict: flag("strict")?,
        interrupted: flag("interrupted")?,
        ..Report::new(kind, Target::default())
    })
}

/// Replace every string in `value` (keys included) with its scrubbed form.
pub fn scrub_value(value: &mut Value, scrubber: &Scrubber) {
    match value {
        Value::String(s) => {
            let clean = scrubber.scrub(s);
            if clean != *s {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, scrubber)),
        Value::Object(map) => {
            let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            for (k, mut v) in entries {
                scrub_value(&mut v, scrubber);
                map.insert(scrubber.scrub(&k), v);
            }
        }
        _ => {}
    }
}

/// Write a JSON value, scrubbed, pretty-printed, with a final newline.
pub fn write_value(mut value: Value, scrubber: &Scrubber, out: &mut dyn Write) -> io::Result<()> {
    scrub_value(&mut value, scrubber);
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)
}

/// Render a report: the same document as [`write_value`] of [`to_value`],
/// written without a copy of the rows (their details can be large: every
/// file of a rotation), each string scrubbed on its way out.
pub fn render(report: &Report, scrubber: &Scrubber, out: &mut dyn Write) -> io::Result<()> {
    let mut ser = serde_json::Serializer::pretty(&mut *out);
    Scrubbed::Report(report, scrubber)
        .serialize(&mut ser)
        .map_err(io::Error::other)?;
    writeln!(out)
}

/// Parts of a report serialized with every string (keys included)
/// scrubbed, as [`scrub_value`] would leave them, without copying them.
enum Scrubbed<'a> {
    Report(&'a Report, &'a Scrubber),
    Row(&'a CheckResult, &'a Scrubber),
    Value(&'a Value, &'a Scrubber),
    Map(&'a serde_json::Map<String, Value>, &'a Scrubber),
}

impl Serialize for Scrubbed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        match *self {
            Scrubbed::Report(report, scrubber) => {
                // The head is small: as a value, then scrubbed on the way.
                struct Head<'a>(&'a Report);
                impl Serialize for Head<'_> {
                    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                        let mut m = s.serialize_map(None)?;
                        self.0.head(&mut m)?;
                        m.end()
                    }
                }
                let head = serde_json::to_value(Head(report)).map_err(S::Error::custom)?;
                let Value::Object(head) = head else {
                    return Err(S::Error::custom("the report's head is not an object"));
                };
                let mut m = s.serialize_map(None)?;
                for (k, v) in &head {
                    m.serialize_entry(&scrubber.scrub(k), &Scrubbed::Value(v, scrubber))?;
                }
                struct Rows<'a>(&'a [CheckResult], &'a Scrubber);
                impl Serialize for Rows<'_> {
                    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                        let mut seq = s.serialize_seq(Some(self.0.len()))?;
                        for row in self.0 {
                            seq.serialize_element(&Scrubbed::Row(row, self.1))?;
                        }
                        seq.end()
                    }
                }
                m.serialize_entry(
                    &scrubber.scrub(report.kind.rows_key),
                    &Rows(&report.rows, scrubber),
                )?;
                m.end()
            }
            Scrubbed::Row(row, scrubber) => {
                // The row without its details as a value (small), then the
                // details in their place.
                let bare = CheckResult {
                    id: row.id.clone(),
                    phase: row.phase,
                    outcome: super::Outcome::new(row.outcome.status, row.outcome.message.clone()),
                    duration: row.duration,
                    mode: row.mode,
                };
                let bare = serde_json::to_value(&bare).map_err(S::Error::custom)?;
                let Value::Object(fields) = bare else {
                    return Err(S::Error::custom("a row is not an object"));
                };
                let mut m = s.serialize_map(Some(fields.len()))?;
                for (k, v) in &fields {
                    let k2 = scrubber.scrub(k);
                    if k == "details" {
                        m.serialize_entry(&k2, &Scrubbed::Map(&row.outcome.details, scrubber))?;
                    } else {
                        m.serialize_entry(&k2, &Scrubbed::Value(v, scrubber))?;
                    }
                }
                m.end()
            }
            Scrubbed::Map(map, scrubber) => {
                let mut m = s.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    m.serialize_entry(&scrubber.scrub(k), &Scrubbed::Value(v, scrubber))?;
                }
                m.end()
            }
            Scrubbed::Value(value, scrubber) => match value {
                Value::String(text) => s.serialize_str(&scrubber.scrub(text)),
                Value::Array(items) => {
                    let mut seq = s.serialize_seq(Some(items.len()))?;
                    for item in items {
                        seq.serialize_element(&Scrubbed::Value(item, scrubber))?;
                    }
                    seq.end()
                }
                Value::Object(map) => Scrubbed::Map(map, scrubber).serialize(s),
                other => other.serialize(s),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_report_reads_back_as_it_was_written() {
        use crate::report::{Mode, Outcome, Phase};
        use std::time::Duration;
        let gate = &crate::gate::KIND;
        let mut report = Report::new(
            gate,
            Target {
                env: Some("prod".into()),
                version: Some("v1.2.3".into()),
                commit: Some("abc".into()),
            },
        );
        report.strict = Some(false);
        report.rows = vec![
            CheckResult::new(
                "clean_tree",
                Phase::Policy,
                Outcome::fail("dirty").detail("paths", vec!["a"]),
                Duration::from_millis(3),
            )
            .with_mode(Mode::Warn),
            CheckResult::new(
                "memory",
                Phase::Health,
                Outcome::crit("full"),
                Duration::ZERO,
            )
            .with_mode(Mode::Shadow),
        ];
        let back = from_value(&to_value(&report), &[gate]).unwrap();
        assert_eq!(back.kind.name, "gate");
        assert_eq!(back.target, report.target);
        assert_eq!(back.strict, Some(false));
        assert_eq!(back.verdict(), report.verdict());
        for (a, b) in back.rows.iter().zip(&report.rows) {
            assert_eq!(
                (&a.id, a.phase, &a.outcome, a.mode),
                (&b.id, b.phase, &b.outcome, b.mode)
            );
        }
    }

    #[test]
    fn render_writes_what_the_scrubbed_value_would_without_copying() {
        use crate::report::{Mode, Outcome, Phase};
        use std::time::Duration;
        let gate = &crate::gate::KIND;
        let secret = "hunter2-very-secret-value";
        let mut report = Report::new(
            gate,
            Target {
                env: Some("prod".into()),
                version: Some(format!("v1 {secret}")),
                commit: None,
            },
        );
        report.error = Some(format!("failed at https://user:{secret}@example.com/x"));
        report.rows = vec![
            CheckResult::new(
                "a",
                Phase::Policy,
                Outcome::fail(format!("saw {secret}"))
                    .detail(
                        "files",
                        json!([{"path": secret, "size": 1, "x": [1.5, null]}]),
                    )
                    .detail(secret, true),
                Duration::from_micros(1234),
            )
            .with_mode(Mode::Warn),
            CheckResult::new("b", Phase::Health, Outcome::ok("fine"), Duration::ZERO),
        ];
        let scrubber = Scrubber::new();
        scrubber.add(secret);
        let mut streamed = Vec::new();
        render(&report, &scrubber, &mut streamed).unwrap();
        let mut copied = Vec::new();
        write_value(to_value(&report), &scrubber, &mut copied).unwrap();
        assert_eq!(
            String::from_utf8(streamed).unwrap(),
            String::from_utf8(copied).unwrap()
        );
    }

    #[test]
    fn a_document_that_is_not_a_report_is_refused() {
        let gate = &crate::gate::KIND;
        let base = json!({"schema_version": 1, "kind": "gate", "checks": []});
        assert!(from_value(&base, &[gate]).is_ok());
        for (bad, why) in [
            (json!([]), "not a JSON object"),
            (json!({"kind": "gate", "checks": []}), "no schema_version"),
            (
                json!({"schema_version": 9, "kind": "gate", "checks": []}),
                "schema_version 9",
            ),
            (
                json!({"schema_version": 1, "kind": "pack", "steps": []}),
                "kind \"pack\" is not one of gate",
            ),
            (json!({"schema_version": 1, "kind": "gate"}), "no checks"),
            (
                json!({"schema_version": 1, "kind": "gate", "checks": [{"id": "x"}]}),
                "checks:",
            ),
            (
                json!({"schema_version": 1, "kind": "gate", "checks": [
                    {"id": "x", "phase": "policy", "status": "MAYBE", "message": ""}]}),
                "checks:",
            ),
            (
                json!({"schema_version": 1, "kind": "gate", "checks": [], "strict": "no"}),
                "strict",
            ),
        ] {
            let e = from_value(&bad, &[gate]).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn scrubs_nested_strings_and_keys() {
        let s = Scrubber::new();
        s.add("topsecret");
        let v = json!({"a": ["x topsecret"], "topsecret": {"b": "topsecret"}});
        let mut out = Vec::new();
        write_value(v, &s, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("topsecret"), "{text}");
        assert!(text.contains("x ***"), "{text}");
    }
}
