//! GitHub Actions workflow commands: FAIL and CRIT rows become `::error`
//! annotations, WARN rows `::warning`, escaped by GitHub's rules and
//! scrubbed of secrets.

use super::{Report, Status};
use crate::secrets::Scrubber;

/// Escape a command's message (`%`, CR, LF).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a command's property value (also `:` and `,`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One line per row that needs attention.
pub fn annotations(report: &Report, scrubber: &Scrubber) -> String {
    let mut out = String::new();
    for r in report.summary_rows().iter() {
        let level = match r.status() {
            Status::Fail | Status::Crit if !r.counts() => "notice",
            Status::Fail | Status::Crit => "error",
            Status::Warn => "warning",
            Status::Ok | Status::Skip => continue,
        };
        let title = escape_property(&scrubber.scrub(&format!("release-sentinel {}", r.id)));
        let message = escape_data(&scrubber.scrub(&format!(
            "{} {}: {}",
            r.status().as_str(),
            r.id,
            r.outcome.message
        )));
        out.push_str(&format!("::{level} title={title}::{message}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_github() {
        assert_eq!(escape_data("50%\nnext\r"), "50%25%0Anext%0D");
        assert_eq!(escape_property("disk:/, ok"), "disk%3A/%2C ok");
    }
}
