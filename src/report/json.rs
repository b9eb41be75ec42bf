//! The JSON report: one document, every string scrubbed of secrets.
//!
//! Field names are stable; `schema_version` changes when one is renamed or
//! removed or changes meaning (new fields may appear without a change).

use std::io::{self, Write};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::Report;
use crate::secrets::Scrubber;

/// Version of the JSON document's shape.
pub const SCHEMA_VERSION: u32 = 1;

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let verdict = self.verdict();
        let mut m = s.serialize_map(None)?;
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
        m.serialize_entry(self.kind.rows_key, &self.rows)?;
        m.end()
    }
}

/// The report as a JSON value, before scrubbing.
pub fn to_value(report: &Report) -> Value {
    serde_json::to_value(report).unwrap_or(Value::Null)
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

/// Render a report.
pub fn render(report: &Report, scrubber: &Scrubber, out: &mut dyn Write) -> io::Result<()> {
    write_value(to_value(report), scrubber, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
