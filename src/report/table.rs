//! The ASCII table, in the layout of the seed's pre-live pack:
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
    match message {
        Some(m) => format!("| {id:<ID_WIDTH$} | {status:<4} | {m} |"),
        None => format!("| {id:<ID_WIDTH$} | {status:<4} |"),
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

/// Render the gate's report.
pub fn render(report: &Report, scrubber: &Scrubber, out: &mut dyn Write) -> io::Result<()> {
    let title = format!(
        "RELEASE SENTINEL: env={} version={}",
        cell(scrubber, &report.env, 20),
        cell(scrubber, &report.version, 24)
    );
    let rows: Vec<String> = report
        .results
        .iter()
        .map(|r| {
            row(
                &cell(scrubber, &r.id, 80),
                r.status().as_str(),
                Some(&cell(scrubber, &r.outcome.message, MESSAGE_MAX)),
            )
        })
        .collect();
    let verdict = report.verdict();
    let status = match verdict {
        Verdict::Safe => Status::Ok,
        Verdict::Blocked => Status::Fail,
        Verdict::Critical => Status::Crit,
    };
    let final_row = row(
        "release_sentinel",
        status.as_str(),
        Some(&format!("RELEASE_SENTINEL={}", verdict.as_str())),
    );
    write_table(out, &title, &rows, &final_row)
}

/// The pack's title, as in the seed.
pub const PACK_TITLE: &str = "PRE-LIVE PACK DRY-RUN RESULTS";

/// Render the pre-live pack in the seed's layout: an OK step has two
/// columns, any other a third with the reason.
pub fn render_pack(
    report: &crate::pack::PackReport,
    scrubber: &Scrubber,
    out: &mut dyn Write,
) -> io::Result<()> {
    let rows: Vec<String> = report
        .steps
        .iter()
        .map(|s| {
            let id = cell(scrubber, &s.id, 80);
            if s.status() == Status::Ok {
                row(&id, "OK", None)
            } else {
                row(
                    &id,
                    s.status().as_str(),
                    Some(&cell(scrubber, &s.outcome.message, MESSAGE_MAX)),
                )
            }
        })
        .collect();
    let final_row = if report.passed() {
        row("pre_live_pack", "OK", Some("PRE_LIVE_PACK=DRYRUN"))
    } else {
        row("pre_live_pack", "FAIL", Some("PRE_LIVE_PACK=FAIL"))
    };
    write_table(out, PACK_TITLE, &rows, &final_row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_padded_like_the_seed() {
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
    fn cells_are_scrubbed_before_escaping() {
        let s = Scrubber::new();
        s.add("s\u{e9}cret-value");
        assert_eq!(cell(&s, "x s\u{e9}cret-value \u{e9}", 100), "x *** \\u{e9}");
    }
}
