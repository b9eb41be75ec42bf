//! Logs: tracing to stderr only, every line through the scrubber.
//!
//! The level comes from `RUST_LOG` when set, else from `-v`/`-q`
//! (default: warnings). Each event is formatted into a buffer and scrubbed
//! as a whole before it reaches stderr, so a secret cannot leak at any
//! level, `trace` included.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::secrets::Scrubber;

/// A writer for one log event: buffers, then scrubs and writes on drop.
pub struct ScrubbedStderr {
    buf: Vec<u8>,
    scrubber: Scrubber,
}

impl Write for ScrubbedStderr {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubbedStderr {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buf);
        // Scrub first, then escape: a log line must not carry a secret, nor
        // control characters that would forge lines (a file name with a
        // line break, `::error` on GitHub) or colours. One event is one
        // line, whatever its fields hold.
        let body = text.strip_suffix('\n').unwrap_or(&text);
        let mut clean = crate::sanitize::ascii(&self.scrubber.scrub(body));
        clean.push('\n');
        // Nothing useful can be done if stderr is gone.
        let _ = io::stderr().lock().write_all(clean.as_bytes());
    }
}

/// Hands the subscriber a fresh scrubbing writer per event.
#[derive(Clone)]
pub struct MakeScrubbed(pub Scrubber);

impl<'a> MakeWriter<'a> for MakeScrubbed {
    type Writer = ScrubbedStderr;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbedStderr {
            buf: Vec::with_capacity(256),
            scrubber: self.0.clone(),
        }
    }
}

/// The default level for a `-v` count and `-q`.
pub fn level_for(verbose: u8, quiet: bool) -> &'static str {
    if quiet {
        return "error";
    }
    match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    }
}

/// Install the global subscriber. `rust_log` is the value of `RUST_LOG`.
pub fn init(rust_log: Option<&str>, verbose: u8, quiet: bool, scrubber: Scrubber) {
    let filter = rust_log
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new(level_for(verbose, quiet)));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MakeScrubbed(scrubber))
        // Every line is escaped to ASCII after scrubbing, which would
        // mangle colour codes: logs are plain.
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(level_for(0, false), "warn");
        assert_eq!(level_for(1, false), "info");
        assert_eq!(level_for(3, false), "trace");
        assert_eq!(level_for(9, true), "error");
    }
}
