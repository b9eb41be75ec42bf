//! JUnit XML: one test suite per phase, one test case per check.
//!
//! FAIL and CRIT rows are failures, a row that could not be evaluated
//! (`cannot check`, `could not start`) is an error, SKIP is skipped, and
//! OK and WARN pass (a WARN says so in `system-out`, with the details).
//! Every text is scrubbed, then escaped for XML, and characters XML 1.0
//! cannot carry are dropped, so the document is valid whatever the text.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{CheckResult, Phase, Report, Status};
use crate::secrets::Scrubber;

/// Escape for an XML attribute value: as [`escape`], with tabs as
/// character references too (a parser would fold them to spaces).
pub fn escape_attr(s: &str) -> String {
    escape(s).replace('\t', "&#9;")
}

/// Escape for XML text and attribute values; drop what XML cannot hold.
/// Line breaks become character references: the document is the same to
/// a parser, but text from outside cannot start a line of its own in a
/// log that shows the XML (where `::error` would be a GitHub command).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

enum Kind {
    Pass,
    Failure,
    Error,
    Skipped,
}

fn kind(r: &CheckResult) -> Kind {
    let m = &r.outcome.message;
    if !r.counts() {
        // A shadow row is reported, never a failure of the run.
        return if r.status() == Status::Skip {
            Kind::Skipped
        } else {
            Kind::Pass
        };
    }
    match r.status() {
        Status::Ok | Status::Warn => Kind::Pass,
        Status::Skip => Kind::Skipped,
        Status::Fail | Status::Crit
            if m.starts_with("cannot check") || m.starts_with("could not start") =>
        {
            Kind::Error
        }
        Status::Fail | Status::Crit => Kind::Failure,
    }
}

pub fn render(report: &Report, scrubber: &Scrubber, out: &mut dyn Write) -> io::Result<()> {
    let x = |s: &str| escape(&scrubber.scrub(s));
    let all_rows = report.summary_rows();
    let mut phases: Vec<Phase> = Vec::new();
    for r in all_rows.iter() {
        if !phases.contains(&r.phase) {
            phases.push(r.phase);
        }
    }
    let count =
        |rows: &[&CheckResult], k: fn(&Kind) -> bool| rows.iter().filter(|r| k(&kind(r))).count();
    let all: Vec<&CheckResult> = all_rows.iter().collect();
    let mut doc = String::new();
    let _ = writeln!(doc, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        doc,
        r#"<testsuites name="release-sentinel {}" tests="{}" failures="{}" errors="{}" skipped="{}">"#,
        report.kind.name,
        all.len(),
        count(&all, |k| matches!(k, Kind::Failure)),
        count(&all, |k| matches!(k, Kind::Error)),
        count(&all, |k| matches!(k, Kind::Skipped)),
    );
    for phase in phases {
        let rows: Vec<&CheckResult> = all_rows.iter().filter(|r| r.phase == phase).collect();
        let time: f64 = rows.iter().map(|r| r.duration.as_secs_f64()).sum();
        let _ = writeln!(
            doc,
            r#"  <testsuite name="{}" tests="{}" failures="{}" errors="{}" skipped="{}" time="{time:.3}">"#,
            phase.as_str(),
            rows.len(),
            count(&rows, |k| matches!(k, Kind::Failure)),
            count(&rows, |k| matches!(k, Kind::Error)),
            count(&rows, |k| matches!(k, Kind::Skipped)),
        );
        for r in rows {
            let name = escape_attr(&scrubber.scrub(&r.id));
            let message = x(&r.outcome.message);
            let attr = escape_attr(&scrubber.scrub(&r.outcome.message));
            let _ = writeln!(
                doc,
                r#"    <testcase name="{name}" classname="release-sentinel.{}" time="{:.3}">"#,
                phase.as_str(),
                r.duration.as_secs_f64()
            );
            let status = r.status().as_str();
            match kind(r) {
                Kind::Failure => {
                    let _ = writeln!(
                        doc,
                        r#"      <failure message="{attr}" type="{status}">{message}</failure>"#
                    );
                }
                Kind::Error => {
                    let _ = writeln!(
                        doc,
                        r#"      <error message="{attr}" type="{status}">{message}</error>"#
                    );
                }
                Kind::Skipped => {
                    let _ = writeln!(doc, r#"      <skipped message="{attr}"/>"#);
                }
                Kind::Pass => {}
            }
            let details = serde_json::to_string(&r.outcome.details).unwrap_or_default();
            let _ = writeln!(
                doc,
                "      <system-out>{status}: {message}\n{}</system-out>",
                x(&details)
            );
            let _ = writeln!(doc, "    </testcase>");
        }
        let _ = writeln!(doc, "  </testsuite>");
    }
    let _ = writeln!(doc, "</testsuites>");
    out.write_all(doc.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_keep_their_line_breaks() {
        assert_eq!(escape_attr("a\nb\t<c>"), "a&#10;b&#9;&lt;c&gt;");
    }

    #[test]
    fn escapes_and_drops_what_xml_cannot_hold() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        assert_eq!(escape("x\u{1b}[31my\u{0}z\n"), "x[31myz&#10;");
    }
}
