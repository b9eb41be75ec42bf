//! The ASCII table, in the pre-live pack's fixed layout:
//!
//! ```text
//! ============================================================
//! <title>
//! ============================================================
//!
//! | <id padded to 25>         | <st> | <message> |
//!
//! ------------------------------------------------------------
//! | release_sentinel          | OK   | RELEASE_SENTINEL=SAFE |
//! ------------------------------------------------------------
//! ```
//!
//! Deterministic: no timestamps, no durations, rows in report order, every
//! cell scrubbed of secrets and escaped to printable ASCII.

use std::io::{self, Write};

use super::{Report, Status};
use crate::exit::Verdict;
use crate::sanitize;
use crate::secrets::Scrubber;

/// Width of the `=` and `-` rules.
pub const RULE_WIDTH: usize = 60;
/// Width the id column is padded to.
pub const ID_WIDTH: usize = 25;
/// Longest message printed in a row; the JSON report has the full text.
pub const MESSAGE_MAX: usize = 200;

/// A row: `| <id> | <status> |` or `| <id> | <status> | <message> |`.
pub fn row(id: &str, status: &str, message: Option<&str>) -> String {
    painted_row(id, status, message, false)
}

/// The ANSI colour of a status word: green, yellow, bold red, dim.
fn paint(status: &str) -> &'static str {
    match status {
        "OK" => "\x1b[32m",
        "WARN" => "\x1b[33m",
        "FAIL" | "CRIT" => "\x1b[1;31m",
        _ => "\x1b[2m",
    }
}

/// [`row`], with the status coloured when `colour` (padding is computed on
/// the plain word, so the columns stay aligned).
pub fn painted_row(id: &str, status: &str, message: Option<&str>, colour: bool) -> String {
    let cell = if colour {
        format!("{}{status:<4}\x1b[0m", paint(status))
    } else {
        format!("{status:<4}")
    };
    match message {
        Some(m) => format!("| {id:<ID_WIDTH$} | {cell} | {m} |"),
        None => format!("| {id:<ID_WIDTH$} | {cell} |"),
    }
}

/// Write a whole table: title, rows, final row.
pub fn write_table(
    out: &mut dyn Write,
    title: &str,
    rows: &[String],
    final_row: &str,
) -> io::Result<()> {
    let eq = "=".repeat(RULE_WIDTH);
    let dash = "-".repeat(RULE_WIDTH);
    writeln!(out, "{eq}")?;
    writeln!(out, "{title}")?;
    writeln!(out, "{eq}")?;
    writeln!(out)?;
    for r in rows {
        writeln!(out, "{r}")?;
    }
    writeln!(out)?;
    writeln!(out, "{dash}")?;
    writeln!(out, "{final_row}")?;
    writeln!(out, "{dash}")?;
    Ok(())
}

/// Scrub, escape and cap a cell.
pub fn cell(scrubber: &Scrubber, text: &str, max: usize) -> String {
    sanitize::ascii_capped(&scrubber.scrub(text), max)
}

/// Render a report; `colour` paints the statuses. A run that stopped
/// before any row (an invalid config) prints nothing: stderr says why.
pub fn render(
    report: &Report,
    scrubber: &Scrubber,
    colour: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if report.rows.is_empty() && report.error.is_some() {
        return Ok(());
    }
    let kind = report.kind;
    // The title names what the report is about, as far as it is about
    // an environment or a version.
    let mut title = kind.title.to_string();
    if kind.title_target {
        let t = &report.target;
        let parts: Vec<String> = [
            ("env", t.env.as_deref(), 20),
            ("version", t.version.as_deref(), 24),
        ]
        .into_iter()
        .filter_map(|(k, v, max)| v.map(|v| format!("{k}={}", cell(scrubber, v, max))))
        .collect();
        if !parts.is_empty() {
            title = format!("{title}: {}", parts.join(" "));
        }
    }
    let rows: Vec<String> = report
        .rows
        .iter()
        .map(|r| {
            let id = cell(scrubber, &r.id, 80);
            if kind.compact_ok && r.status() == Status::Ok {
                painted_row(&id, "OK", None, colour)
            } else {
                painted_row(
                    &id,
                    r.status().as_str(),
                    Some(&cell(scrubber, &r.outcome.message, MESSAGE_MAX)),
                    colour,
                )
            }
        })
        .collect();
    let verdict = report.verdict();
    let status = match verdict {
        Verdict::Safe => Status::Ok,
        Verdict::Blocked => Status::Fail,
        Verdict::Critical => Status::Crit,
    };
    let final_row = painted_row(
        kind.final_id,
        status.as_str(),
        Some(&report.marker()),
        colour,
    );
    write_table(out, &title, &rows, &final_row)?;
    if let Some(footer) = kind.footer {
        writeln!(out, "{footer}: {}", kind.word(verdict))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_padded_to_the_layout() {
        assert_eq!(
            row("param_sweep_dry", "OK", None),
            "| param_sweep_dry           | OK   |"
        );
        assert_eq!(
            row("pre_live_pack", "FAIL", Some("PRE_LIVE_PACK=FAIL")),
            "| pre_live_pack             | FAIL | PRE_LIVE_PACK=FAIL |"
        );
    }

    #[test]
    fn colour_keeps_the_columns_aligned() {
        let painted = painted_row("x", "OK", Some("m"), true);
        assert_eq!(
            painted,
            "| x                         | \x1b[32mOK  \x1b[0m | m |"
        );
        let plain: String = painted.replace("\x1b[32m", "").replace("\x1b[0m", "");
        assert_eq!(plain, row("x", "OK", Some("m")));
    }

    #[test]
    fn cells_are_scrubbed_before_escaping() {
        let s = Scrubber::new();
        s.add("s\u{e9}cret-value");
        assert_eq!(cell(&s, "x s\u{e9}cret-value \u{e9}", 100), "x *** \\u{e9}");
    }
}
