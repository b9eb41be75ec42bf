//! The JSON report: one document, every string scrubbed of secrets.
//!
//! Field names are stable; `schema_version` changes when they do.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::{CheckResult, Report};
use crate::secrets::Scrubber;

/// Version of the JSON document's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// One row: id, phase, status, message, duration (ms, to the
/// microsecond) and details.
fn row_value(r: &CheckResult) -> Value {
    json!({
        "id": r.id,
        "phase": r.phase,
        "status": r.status(),
        "message": r.outcome.message,
        "duration_ms": (r.duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        "details": Value::Object(r.outcome.details.clone()),
    })
}

/// The report as a JSON value, before scrubbing.
pub fn to_value(report: &Report) -> Value {
    let verdict = report.verdict();
    let checks: Vec<Value> = report.results.iter().map(row_value).collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "tool": "release-sentinel",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "kind": "gate",
        "env": report.env,
        "version": report.version,
        "commit": report.commit,
        "config": report.config,
        "verdict": verdict,
        "exit_code": verdict.code(),
        "strict": report.strict,
        "checks": checks,
    })
}

/// The document for a run that stopped before any check (bad config, bad
/// arguments): the verdict is BLOCKED and `error` says why.
pub fn error_value(env: Option<&str>, version: Option<&str>, error: &str) -> Value {
    let verdict = crate::exit::Verdict::Blocked;
    json!({
        "schema_version": SCHEMA_VERSION,
        "tool": "release-sentinel",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "kind": "gate",
        "env": env,
        "version": version,
        "commit": Value::Null,
        "config": Value::Null,
        "verdict": verdict,
        "exit_code": verdict.code(),
        "error": error,
        "checks": [],
    })
}

/// The pack's report as a JSON value, before scrubbing.
pub fn pack_value(report: &crate::pack::PackReport) -> Value {
    let steps: Vec<Value> = report.steps.iter().map(row_value).collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "tool": "release-sentinel",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "kind": "pack",
        "env": report.env,
        "version": report.version,
        "commit": report.commit,
        "config": report.config,
        "verdict": if report.passed() { "DRYRUN" } else { "FAIL" },
        "exit_code": report.exit_code(),
        "interrupted": report.interrupted,
        "steps": steps,
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

/// Render the gate's report.
pub fn render(report: &Report, scrubber: &Scrubber, out: &mut dyn Write) -> io::Result<()> {
    write_value(to_value(report), scrubber, out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
