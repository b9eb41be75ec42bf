//! The front end's terminal: a progress line on stderr for health checks
//! and pack steps that take longer than [`DELAY`]. Only on a terminal,
//! never in CI logs; `main` decides.
//!
//! The library reports work through [`release_sentinel::progress::Observer`];
//! a ticker thread redraws one line (`\r`, then cleared) naming what is
//! still running.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Nothing is shown for work that ends sooner.
pub const DELAY: Duration = Duration::from_millis(500);
const TICK: Duration = Duration::from_millis(100);
const WIDTH: usize = 78;

#[derive(Default)]
struct Shared {
    running: Mutex<BTreeMap<String, Instant>>,
    note: Mutex<Option<String>>,
    stop: AtomicBool,
}

/// The progress line.
pub struct ProgressLine {
    shared: Arc<Shared>,
    ticker: Mutex<Option<JoinHandle<()>>>,
}

impl ProgressLine {
    /// Start the ticker (only call when stderr is a terminal).
    pub fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        let handle = std::thread::spawn(move || {
            let mut shown = false;
            while !s.stop.load(Ordering::SeqCst) {
                std::thread::sleep(TICK);
                let line = {
                    let running = s.running.lock().unwrap_or_else(|e| e.into_inner());
                    let slow: Vec<String> = running
                        .iter()
                        .filter(|(_, t)| t.elapsed() >= DELAY)
                        .map(|(id, t)| format!("{id} {:.1}s", t.elapsed().as_secs_f64()))
                        .collect();
                    let note = s.note.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let mut l = match (slow.is_empty(), note) {
                        (true, None) => String::new(),
                        (true, Some(n)) => format!("release-sentinel: {n}"),
                        (false, _) => format!("release-sentinel: waiting for {}", slow.join(", ")),
                    };
                    if l.is_empty() {
                        None
                    } else {
                        // Scrubbed before it is cut: half a secret
                        // would not be recognised.
                        l = release_sentinel::sanitize::ascii(
                            &release_sentinel::secrets::Scrubber::process().scrub(&l),
                        );
                        l.truncate(WIDTH);
                        Some(l)
                    }
                };
                let mut err = std::io::stderr().lock();
                match line {
                    Some(l) => {
                        let _ = write!(err, "\r\x1b[K{l}");
                        shown = true;
                    }
                    None if shown => {
                        let _ = write!(err, "\r\x1b[K");
                        shown = false;
                    }
                    None => {}
                }
                let _ = err.flush();
            }
            if shown {
                let _ = write!(std::io::stderr(), "\r\x1b[K");
            }
        });
        Self {
            shared,
            ticker: Mutex::new(Some(handle)),
        }
    }

    /// Stop the ticker and clear its line.
    pub fn finish(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.ticker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }
}

impl release_sentinel::progress::Observer for ProgressLine {
    fn begin(&self, id: &str) {
        self.shared
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), Instant::now());
    }

    fn end(&self, id: &str) {
        self.shared
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    fn note(&self, line: &str) {
        *self.shared.note.lock().unwrap_or_else(|e| e.into_inner()) = Some(line.to_string());
    }
}

/// The front end's side of progress: the line (on a terminal, outside CI),
/// status lines on stderr (unless `-q`), and questions when a person can
/// answer them (stdin and stderr are terminals).
pub struct Front {
    pub line: Option<ProgressLine>,
    pub quiet: bool,
    pub interactive: bool,
}

impl Front {
    pub fn finish(&self) {
        if let Some(l) = &self.line {
            l.finish();
        }
    }
}

impl release_sentinel::progress::Observer for Front {
    fn begin(&self, id: &str) {
        if let Some(l) = &self.line {
            l.begin(id);
        }
    }

    fn end(&self, id: &str) {
        if let Some(l) = &self.line {
            l.end(id);
        }
    }

    fn note(&self, line: &str) {
        if let Some(l) = &self.line {
            l.note(line);
        }
    }

    fn say(&self, line: &str) {
        if !self.quiet {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}", shown(line));
        }
    }

    fn ask(&self, question: &str, stop: &AtomicBool) -> Option<bool> {
        if !self.interactive {
            return None;
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{} ", shown(question));
        let _ = err.flush();
        drop(err);
        // The read on a thread of its own: SIGINT does not interrupt a
        // read, and a person pressing Ctrl-C at the question means stop.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut answer = String::new();
            let read = std::io::stdin().read_line(&mut answer).map(|_| answer);
            let _ = tx.send(read);
        });
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(answer)) => {
                    return Some(matches!(
                        answer.trim().to_ascii_lowercase().as_str(),
                        "y" | "yes"
                    ));
                }
                Ok(Err(_)) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if stop.load(Ordering::SeqCst) {
                        let _ = writeln!(std::io::stderr());
                        return None;
                    }
                }
            }
        }
    }
}

/// A line as the terminal shows it: scrubbed (again: what reaches the
/// front end should be already), then one line of ASCII.
fn shown(line: &str) -> String {
    release_sentinel::sanitize::ascii(&release_sentinel::secrets::Scrubber::process().scrub(line))
}
