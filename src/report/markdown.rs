//! Markdown: a heading with the verdict and a table of the rows, fit for
//! `$GITHUB_STEP_SUMMARY` or a pull-request comment. Scrubbed; pipes and
//! HTML are escaped so a message cannot break the table.

use std::io::{self, Write};

use super::Report;
use crate::secrets::Scrubber;

/// Escape a table cell: one line, no raw `|`, `<`, `>`, backticks.
pub fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' => out.push_str("\\`"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

pub fn render(report: &Report, scrubber: &Scrubber, out: &mut dyn Write) -> io::Result<()> {
    let c = |s: &str| cell(&scrubber.scrub(s));
    writeln!(
        out,
        "### release-sentinel: {} {} (exit {})\n",
        report.kind.heading,
        report.marker(),
        report.verdict().code()
    )?;
    let t = &report.target;
    let commit = t
        .commit
        .as_deref()
        .map(|c| &c[..c.len().min(12)])
        .unwrap_or("no commit");
    writeln!(
        out,
        "Environment `{}`, version `{}`, commit `{}`{}.\n",
        c(t.env.as_deref().unwrap_or("-")),
        c(t.version.as_deref().unwrap_or("-")),
        c(commit),
        if report.strict == Some(true) {
            ", strict"
        } else {
            ""
        }
    )?;
    writeln!(out, "| Check | Status | Message |")?;
    writeln!(out, "| --- | --- | --- |")?;
    for r in report.summary_rows().iter() {
        writeln!(
            out,
            "| {} | {} | {} |",
            c(&r.id),
            r.status().as_str(),
            c(&r.outcome.message)
        )?;
    }
    for r in report.rows.iter() {
        if let Some(chart) = r.outcome.details.get("chart") {
            write_chart(out, &c(&r.id), chart)?;
        }
    }
    Ok(())
}

/// The most points a chart draws (the rest are thinned out evenly).
const CHART_POINTS: usize = 60;

/// A metric rule's samples over the window against its bound, as a
/// Mermaid `xychart-beta` chart: a reviewer sees the breach instead of
/// reading numbers. Samples with no value (NaN) are left out.
fn write_chart(out: &mut dyn Write, id: &str, chart: &serde_json::Value) -> io::Result<()> {
    let points: Vec<(&str, f64)> = chart["points"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| Some((p[0].as_str()?, p[1].as_f64()?)))
                .collect()
        })
        .unwrap_or_default();
    let Some(bound) = chart["bound"].as_f64() else {
        return Ok(());
    };
    if points.is_empty() {
        return Ok(());
    }
    let every = points.len().div_ceil(CHART_POINTS).max(1);
    let shown: Vec<(&str, f64)> = points.iter().step_by(every).copied().collect();
    // Times as HH:MM:SS, the date is the same for a window.
    let labels: Vec<String> = shown
        .iter()
        .map(|(t, _)| format!("\"{}\"", t.get(11..19).unwrap_or(t)))
        .collect();
    let values: Vec<String> = shown.iter().map(|(_, v)| format!("{v}")).collect();
    let bounds: Vec<String> = shown.iter().map(|_| format!("{bound}")).collect();
    writeln!(out, "\n#### {id}\n")?;
    writeln!(out, "```mermaid")?;
    writeln!(out, "xychart-beta")?;
    writeln!(
        out,
        "    title \"{id}: samples (first line) and the bound (second)\""
    )?;
    writeln!(out, "    x-axis [{}]", labels.join(", "))?;
    writeln!(out, "    y-axis \"value\"")?;
    writeln!(out, "    line [{}]", values.join(", "))?;
    writeln!(out, "    line [{}]", bounds.join(", "))?;
    writeln!(out, "```")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc <x> `y`"), "a\\|b c &lt;x&gt; \\`y\\`");
    }
}
