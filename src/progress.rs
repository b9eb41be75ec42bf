//! Progress events: checks and steps say when they begin and end; the
//! front end decides whether and how to show that (a line on a terminal).
//! The library never draws anything itself.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Receives progress events; implemented by the front end.
pub trait Observer: Send + Sync {
    fn begin(&self, id: &str);
    fn end(&self, id: &str);
    /// A line about the whole run (`verify`'s time left and closest
    /// limit); the newest replaces the last.
    fn note(&self, _line: &str) {}

    /// A status line for the person watching (`predeploy`'s phases),
    /// already scrubbed; shown as it comes, on stderr.
    fn say(&self, _line: &str) {}

    /// A yes/no question; `None` when nobody can answer (no terminal) or
    /// `stop` was set (SIGINT) before an answer came.
    fn ask(&self, _question: &str, _stop: &AtomicBool) -> Option<bool> {
        None
    }
}

/// A cheap, clonable handle on an optional observer: every call is a
/// no-op when there is none.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<dyn Observer>>);

impl Progress {
    /// Nobody is watching.
    pub fn none() -> Self {
        Self(None)
    }

    pub fn to(observer: Arc<dyn Observer>) -> Self {
        Self(Some(observer))
    }

    pub fn begin(&self, id: &str) {
        if let Some(o) = &self.0 {
            o.begin(id);
        }
    }

    pub fn end(&self, id: &str) {
        if let Some(o) = &self.0 {
            o.end(id);
        }
    }

    pub fn note(&self, line: &str) {
        if let Some(o) = &self.0 {
            o.note(line);
        }
    }

    pub fn say(&self, line: &str) {
        if let Some(o) = &self.0 {
            o.say(line);
        }
    }

    /// The answer to `question`; `None` when nobody can answer, or when
    /// `stop` is set first.
    pub fn ask(&self, question: &str, stop: &AtomicBool) -> Option<bool> {
        self.0.as_ref().and_then(|o| o.ask(question, stop))
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(watched)"
        } else {
            "Progress(none)"
        })
    }
}
