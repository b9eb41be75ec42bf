//! One rehearsal command's run as the evidence records it: the command
//! line, when it started, how long it took and why it failed, around the
//! runner's own [`runner::Ran`] (its end and the tail of its output), and
//! the two forms it takes in the evidence: a JSON object and a transcript.
//! The output stays as the runner captured it, and is scrubbed each time
//! it is written out.

use std::time::Duration;

use serde_json::{Value, json};

use crate::runner;
use crate::secrets::Scrubber;

/// One command's run, as the evidence records it.
pub struct Record {
    /// The command line, as a shell would read it.
    pub command: String,
    /// When it started (RFC 3339).
    pub started: String,
    pub elapsed: Duration,
    /// Why it failed, in words; `None` when it exited 0.
    pub failure: Option<String>,
    /// How it ended and what it printed (not yet scrubbed).
    pub ran: runner::Ran,
}

impl Record {
    /// The record as a JSON object, its output scrubbed.
    pub fn json(&self, scrubber: &Scrubber) -> Value {
        json!({
            "command": self.command,
            "started_at": self.started,
            "duration_ms": self.elapsed.as_millis() as u64,
            "exit_code": self.ran.end.code(),
            "result": self.failure.as_deref().map_or("success".to_string(), |f| format!("failed: {f}")),
            "stdout": self.ran.stdout.scrubbed(scrubber),
            "stdout_bytes": self.ran.stdout.total,
            "stderr": self.ran.stderr.scrubbed(scrubber),
            "stderr_bytes": self.ran.stderr.total,
        })
    }

    /// The record as a transcript: the command, when it started, each
    /// stream (saying when only its end was kept), how it ended.
    pub fn transcript(&self, scrubber: &Scrubber) -> String {
        let stream = |name: &str, captured: &runner::Captured| {
            let text = captured.scrubbed(scrubber);
            let kept = if captured.cut() {
                format!(" (the end of {} bytes)", captured.total)
            } else {
                String::new()
            };
            let mut s = format!("--- {name}{kept} ---\n{text}");
            if !text.is_empty() && !text.ends_with('\n') {
                s.push('\n');
            }
            s
        };
        format!(
            "\n$ {}\n# started {}\n{}{}# {} after {:.3} s\n",
            self.command,
            self.started,
            stream("stdout", &self.ran.stdout),
            stream("stderr", &self.ran.stderr),
            self.failure
                .as_deref()
                .map_or("exit 0".to_string(), |f| f.to_string()),
            self.elapsed.as_secs_f64()
        )
    }
}

/// The records as a JSON list.
pub fn json_list(records: &[Record], scrubber: &Scrubber) -> Value {
    json!(records.iter().map(|r| r.json(scrubber)).collect::<Vec<_>>())
}

/// How long the commands took, together.
pub fn total(records: &[Record]) -> Duration {
    records.iter().map(|r| r.elapsed).sum()
}
