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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc <x> `y`"), "a\\|b c &lt;x&gt; \\`y\\`");
    }
}
