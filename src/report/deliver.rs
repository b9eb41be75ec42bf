//! The one delivery step, for every command's report: the report in its
//! format on stdout, the error (if any) on stderr, the JSON report file
//! (`--report`), GitHub's annotations and job summary. Returns the exit
//! code: the verdict's, or 1 when the requested report file could not be
//! written.

use std::io::Write;
use std::path::PathBuf;

use super::{Format, Report, github, markdown};
use crate::exit::USAGE_OR_INPUT_ERROR;
use crate::sanitize;
use crate::secrets::Scrubber;

/// Where a report goes, resolved once from the arguments and the
/// environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub format: Format,
    /// Paint the table's statuses.
    pub colour: bool,
    /// `--report`: also write the JSON report here.
    pub report: Option<PathBuf>,
    /// `--junit`: also write the JUnit report here.
    pub junit: Option<PathBuf>,
    /// `GITHUB_ACTIONS=true`: annotations on stderr.
    pub github: bool,
    /// `GITHUB_STEP_SUMMARY`: append the Markdown report here.
    pub step_summary: Option<PathBuf>,
}

/// The line that says why a run stopped: scrubbed, ASCII, one
/// `release-sentinel: error:` prefix (continuation lines kept).
pub fn error_line(text: &str, scrubber: &Scrubber) -> String {
    format!(
        "release-sentinel: error: {}\n",
        sanitize::ascii_lines(&scrubber.scrub(text))
    )
}

/// Deliver `report`; returns the exit code.
pub fn deliver(
    report: &Report,
    how: &Delivery,
    scrubber: &Scrubber,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> u8 {
    if let Some(e) = &report.error {
        let _ = stderr.write_all(error_line(e, scrubber).as_bytes());
    }
    if let Err(e) = super::render(how.format, report, scrubber, how.colour, stdout)
        .and_then(|()| stdout.flush())
    {
        tracing::debug!("cannot write the report: {e}");
    }
    let mut code = report.verdict().code();
    for (path, format) in [(&how.report, Format::Json), (&how.junit, Format::Junit)] {
        let Some(path) = path else { continue };
        let mut text = Vec::new();
        let written = super::render(format, report, scrubber, false, &mut text)
            .and_then(|()| crate::fsutil::write_atomic(path, &text));
        if let Err(e) = written {
            let _ = writeln!(
                stderr,
                "release-sentinel: error: cannot write the report to {}: {e}",
                sanitize::ascii(&path.display().to_string())
            );
            code = USAGE_OR_INPUT_ERROR;
        }
    }
    if how.github {
        let _ = stderr.write_all(github::annotations(report, scrubber).as_bytes());
    }
    if let Some(path) = &how.step_summary {
        let mut text = Vec::new();
        let written = markdown::render(report, scrubber, &mut text).and_then(|()| {
            text.push(b'\n');
            crate::fsutil::append_regular(path, &text)
        });
        if let Err(e) = written {
            let _ = writeln!(
                stderr,
                "release-sentinel: warning: cannot append to GITHUB_STEP_SUMMARY: {e}"
            );
        }
    }
    code
}
