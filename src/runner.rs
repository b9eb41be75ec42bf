//! Running one command as a step (of the pack, and of every later command
//! that runs one): its own process group, a timeout that holds, captured
//! output, and nothing left running afterwards.
//!
//! The step is started as the leader of a new process group. A waiter
//! thread owns the child and reports its exit; two reader threads keep the
//! tail of stdout and stderr. On timeout (or when the pack is interrupted)
//! the whole group gets SIGTERM, then SIGKILL after [`GRACE`]. After the
//! step ends, for whatever reason, the group gets SIGKILL too, so no
//! process of the step survives it. The readers get [`DRAIN`] to finish
//! after that: a grandchild that left the group and still holds the pipes
//! cannot keep the pack waiting.
//!
//! Deliberately not handled: a process that left the step's group
//! (`setsid`) is not killed.
//!
//! [`substitute`] fills a command's placeholders (`{version}`,
//! `{previous_tag}`, `{env}`, ...) in one pass. A value that lands in a
//! shell script (the argument after `-c` of `sh`, `bash`, `dash`, ...) is
//! quoted for the spot it lands in, so that a tag or an argument holding
//! `$(...)`, backquotes or quotes stays data. Not handled: a placeholder
//! inside a `$(...)`, a backquoted command or a here-document of the
//! script (the README says to write it bare there).

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};

/// Between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_millis(1000);
/// How long the output readers may take once the step has ended.
pub const DRAIN: Duration = Duration::from_millis(200);
/// How much of each stream is kept (the end of it).
pub const OUTPUT_CAP: usize = 8 * 1024;
/// How often the interrupt flag is looked at while a step runs.
const TICK: Duration = Duration::from_millis(50);

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    Signalled(i32),
    TimedOut,
    Interrupted,
    CouldNotStart(String),
}

impl End {
    /// How the step ended, in the words every row and message uses:
    /// `exit 0`, `exit 3`, `killed by signal 9`, `timed out after 10s`
    /// (`timeout` is the one it ran under), `interrupted`, `could not
    /// start: <why>`. Callers add their own prefix ("failed: ", "ran ...: ").
    pub fn describe(&self, timeout: Duration) -> String {
        match self {
            End::Exited(c) => format!("exit {c}"),
            End::Signalled(sig) => format!("killed by signal {sig}"),
            End::TimedOut => timed_out(timeout),
            End::Interrupted => "interrupted".to_string(),
            End::CouldNotStart(why) => format!("could not start: {why}"),
        }
    }

    /// Whether the step exited 0.
    pub fn passed(&self) -> bool {
        *self == End::Exited(0)
    }

    /// Why the step failed, in words ([`End::describe`]); `None` when it
    /// exited 0.
    pub fn failure(&self, timeout: Duration) -> Option<String> {
        (!self.passed()).then(|| self.describe(timeout))
    }

    /// The exit code, when the step exited.
    pub fn code(&self) -> Option<i32> {
        match self {
            End::Exited(c) => Some(*c),
            _ => None,
        }
    }
}

/// `timed out after <timeout>`: a step (a command, or a built-in one
/// run on a thread) that did not end within its timeout.
pub fn timed_out(timeout: Duration) -> String {
    format!("timed out after {}", humantime::format_duration(timeout))
}

/// A step's end and what it printed.
#[derive(Debug, Clone)]
pub struct Ran {
    pub end: End,
    pub stdout: Captured,
    pub stderr: Captured,
}

/// The end of a stream: at most [`OUTPUT_CAP`] bytes, and how many there
/// were in all.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub tail: Vec<u8>,
    pub total: usize,
}

impl Captured {
    fn push(&mut self, data: &[u8]) {
        self.total += data.len();
        self.tail.extend_from_slice(data);
        if self.tail.len() > OUTPUT_CAP {
            let mut cut = self.tail.len() - OUTPUT_CAP;
            // Cut at a character's start, not inside one.
            while cut < self.tail.len() && self.tail[cut] & 0xC0 == 0x80 {
                cut += 1;
            }
            self.tail.drain(..cut);
        }
    }

    /// Whether the start of the stream was dropped.
    pub fn cut(&self) -> bool {
        self.total > self.tail.len()
    }

    /// The kept text, decoded (invalid UTF-8 replaced), not yet scrubbed.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.tail).into_owned()
    }

    /// The kept text, scrubbed, with nothing left of a secret that the cut
    /// or the end of the stream split (see
    /// [`crate::secrets::Scrubber::scrub_cut`]).
    pub fn scrubbed(&self, scrubber: &crate::secrets::Scrubber) -> String {
        scrubber.scrub_cut(&self.text(), self.cut())
    }
}

/// A thread keeping the end of `pipe`; it drops `done` when the pipe is
/// closed and everything read is kept.
fn reader(mut pipe: impl Read + Send + 'static, done: mpsc::Sender<()>) -> Arc<Mutex<Captured>> {
    let out = Arc::new(Mutex::new(Captured::default()));
    let shared = Arc::clone(&out);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => shared
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(&buf[..n]),
            }
        }
        drop(done);
    });
    out
}

fn signal_group(pgid: Pid, sig: Signal) {
    // ESRCH: the group is already gone, which is what we want.
    let _ = kill_process_group(pgid, sig);
}

/// Run `argv` from `root` with `env` added to the inherited environment,
/// for at most `timeout`; `stop` (SIGINT, SIGTERM) ends it early.
pub fn run(
    argv: &[String],
    env: &[(String, String)],
    timeout: Duration,
    root: &Path,
    stop: &AtomicBool,
) -> Ran {
    let (program, args) = match argv.split_first() {
        Some(p) => p,
        None => {
            return Ran {
                end: End::CouldNotStart("the command is empty".into()),
                stdout: Captured::default(),
                stderr: Captured::default(),
            };
        }
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .envs(env.iter().map(|(k, v)| (k, v)));
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Ran {
                end: End::CouldNotStart(format!("{program}: {e}")),
                stdout: Captured::default(),
                stderr: Captured::default(),
            };
        }
    };
    let pgid = Pid::from_child(&child);
    // Nothing is ever sent: the channel disconnects when both readers are done.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let out = child
        .stdout
        .take()
        .map(|p| reader(p, done_tx.clone()))
        .unwrap_or_default();
    let err = child
        .stderr
        .take()
        .map(|p| reader(p, done_tx.clone()))
        .unwrap_or_default();
    drop(done_tx);
    let (tx, rx) = mpsc::channel::<std::io::Result<ExitStatus>>();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });

    // A timeout too long for the clock never comes (never a wrap, never a
    // panic).
    let deadline = Instant::now().checked_add(timeout);
    let mut forced: Option<End> = None;
    let status = loop {
        let now = Instant::now();
        if forced.is_none() && stop.load(Ordering::SeqCst) {
            forced = Some(End::Interrupted);
        } else if forced.is_none() && deadline.is_some_and(|d| now >= d) {
            forced = Some(End::TimedOut);
        }
        if forced.is_some() {
            signal_group(pgid, Signal::TERM);
            match rx.recv_timeout(GRACE) {
                Ok(s) => break s.ok(),
                Err(_) => {
                    signal_group(pgid, Signal::KILL);
                    break rx.recv_timeout(GRACE).ok().and_then(Result::ok);
                }
            }
        }
        let wait = deadline.map_or(TICK, |d| TICK.min(d.saturating_duration_since(now)));
        match rx.recv_timeout(wait) {
            Ok(s) => break s.ok(),
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break None,
        }
    };
    // Whatever the step left behind in its group goes with it.
    signal_group(pgid, Signal::KILL);
    // Woken the moment the readers are done, not on a polling tick.
    let _ = done_rx.recv_timeout(DRAIN);
    let take = |c: &Arc<Mutex<Captured>>| c.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let end = match (forced, status) {
        (Some(f), _) => f,
        (None, Some(s)) => match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
            (Some(code), _) => End::Exited(code),
            (None, Some(sig)) => End::Signalled(sig),
            (None, None) => End::Exited(-1),
        },
        (None, None) => End::CouldNotStart("the step's exit status could not be read".into()),
    };
    Ran {
        end,
        stdout: take(&out),
        stderr: take(&err),
    }
}

/// Shells whose `-c` argument is a script.
const SHELLS: [&str; 7] = ["sh", "bash", "dash", "zsh", "ksh", "ash", "mksh"];

/// The index of the script in `argv` when it runs a shell with `-c`
/// (`sh -c`, `bash -euc`, `bash -o pipefail -c`): the argument after the
/// first short-option cluster that holds a `c`.
fn script_index(argv: &[String]) -> Option<usize> {
    let program = Path::new(argv.first()?).file_name()?.to_str()?;
    if !SHELLS.contains(&program) {
        return None;
    }
    argv.iter()
        .position(|a| {
            a.len() > 1
                && a.starts_with('-')
                && !a.starts_with("--")
                && a[1..].bytes().all(|b| b.is_ascii_alphabetic())
                && a.contains('c')
        })
        .map(|i| i + 1)
        .filter(|&i| i < argv.len())
}

/// Where a spot in a shell script stands.
#[derive(Clone, Copy, PartialEq)]
enum Quoting {
    Bare,
    Single,
    Double,
}

/// `value` written so that the shell reads it back as it is, at a spot
/// quoted as `q`.
fn shell_quote(value: &str, q: Quoting) -> String {
    match q {
        // One single-quoted word; a quote inside ends it, is escaped, and
        // a new one begins.
        Quoting::Bare => format!("'{}'", value.replace('\'', "'\\''")),
        // Inside '...': only a quote is special.
        Quoting::Single => value.replace('\'', "'\\''"),
        // Inside "...": $, `, \ and " are.
        Quoting::Double => {
            let mut out = String::with_capacity(value.len());
            for c in value.chars() {
                if matches!(c, '$' | '`' | '\\' | '"') {
                    out.push('\\');
                }
                out.push(c);
            }
            out
        }
    }
}

/// `text` with every `{name}` of `values` replaced, in one pass (a value
/// that holds a placeholder is not substituted again); a value written
/// into a shell script (`shell`) is quoted for where it stands.
fn fill(text: &str, values: &[(&str, &str)], shell: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut q = Quoting::Bare;
    let mut escaped = false;
    let mut rest = text;
    'outer: while let Some(c) = rest.chars().next() {
        if c == '{' && !escaped {
            for (name, value) in values {
                let token = format!("{{{name}}}");
                if let Some(after) = rest.strip_prefix(token.as_str()) {
                    if shell {
                        out.push_str(&shell_quote(value, q));
                    } else {
                        out.push_str(value);
                    }
                    rest = after;
                    continue 'outer;
                }
            }
        }
        if shell {
            // Follow the script's quoting, as a POSIX shell reads it.
            match (q, c) {
                _ if escaped => escaped = false,
                (Quoting::Bare | Quoting::Double, '\\') => escaped = true,
                (Quoting::Bare, '\'') => q = Quoting::Single,
                (Quoting::Single, '\'') => q = Quoting::Bare,
                (Quoting::Bare, '"') => q = Quoting::Double,
                (Quoting::Double, '"') => q = Quoting::Bare,
                _ => {}
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `argv` with its placeholders (`values`: name without braces, value)
/// filled in one pass. In the script of a shell run with `-c` each value
/// is quoted for the spot it lands in (bare, inside '...' or inside
/// "..."), so that it stays one piece of data whatever it holds; other
/// arguments (a shell's positional ones included) are data already and get
/// the value as it is.
pub fn substitute(argv: &[String], values: &[(&str, &str)]) -> Vec<String> {
    let script = script_index(argv);
    argv.iter()
        .enumerate()
        .map(|(i, a)| fill(a, values, Some(i) == script))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(argv: &[&str], timeout_ms: u64) -> Ran {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        run(
            &argv,
            &[
                ("RS_DRY_RUN".into(), "1".into()),
                ("EXTRA".into(), "x1".into()),
            ],
            Duration::from_millis(timeout_ms),
            &std::env::temp_dir(),
            &AtomicBool::new(false),
        )
    }

    #[test]
    fn every_end_is_described_in_the_same_words() {
        let t = Duration::from_secs(90);
        let cases = [
            (End::Exited(0), "exit 0", None),
            (End::Exited(3), "exit 3", Some("exit 3")),
            (
                End::Signalled(9),
                "killed by signal 9",
                Some("killed by signal 9"),
            ),
            (
                End::TimedOut,
                "timed out after 1m 30s",
                Some("timed out after 1m 30s"),
            ),
            (End::Interrupted, "interrupted", Some("interrupted")),
            (
                End::CouldNotStart("nope: No such file".into()),
                "could not start: nope: No such file",
                Some("could not start: nope: No such file"),
            ),
        ];
        for (end, described, failure) in cases {
            assert_eq!(end.describe(t), described);
            assert_eq!(end.failure(t).as_deref(), failure);
            assert_eq!(end.passed(), failure.is_none());
        }
    }

    #[test]
    fn exit_codes_and_output() {
        let r = go(
            &[
                "sh",
                "-c",
                "echo out-$RS_DRY_RUN-$EXTRA; echo err >&2; exit 3",
            ],
            5000,
        );
        assert_eq!(r.end, End::Exited(3));
        assert_eq!(r.stdout.text(), "out-1-x1\n");
        assert_eq!(r.stderr.text(), "err\n");
    }

    /// Hostile values, each substituted into a real `sh -c` script bare,
    /// inside '...' and inside "...", come back as they are and run
    /// nothing.
    #[test]
    fn values_in_a_shell_script_stay_data_wherever_they_stand() {
        let dir = tempfile::tempdir().unwrap();
        let hostile = [
            "v1.2.3-a$(touch${IFS}pwned)",
            "`touch pwned`",
            "it's \"quoted\" \\ $HOME; touch pwned",
            "$(touch pwned)-v1.1.0",
            "{version}",
        ];
        for value in hostile {
            for (script, prefix, suffix) in [
                ("printf '%s|' {tag}", "", ""),
                ("printf '%s|' 'at {tag} end'", "at ", " end"),
                ("printf '%s|' \"at {tag} end\"", "at ", " end"),
            ] {
                let argv: Vec<String> =
                    ["sh", "-c", script].iter().map(|s| s.to_string()).collect();
                let argv = substitute(&argv, &[("tag", value), ("version", "v9")]);
                let r = run(
                    &argv,
                    &[],
                    Duration::from_secs(10),
                    dir.path(),
                    &AtomicBool::new(false),
                );
                assert_eq!(r.end, End::Exited(0), "{argv:?}");
                assert_eq!(
                    r.stdout.text(),
                    format!("{prefix}{value}{suffix}|"),
                    "{argv:?}"
                );
                assert!(!dir.path().join("pwned").exists(), "{argv:?} ran a command");
            }
        }
    }

    #[test]
    fn only_a_shell_script_is_quoted_and_substitution_is_one_pass() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let values = [("previous_tag", "{version}$(x)"), ("version", "v1.2.3")];
        // Positional arguments of a shell, and any other program, are data.
        assert_eq!(
            substitute(
                &v(&["sh", "-c", "echo \"$@\"", "-", "{previous_tag}"]),
                &values
            ),
            v(&["sh", "-c", "echo \"$@\"", "-", "{version}$(x)"])
        );
        assert_eq!(
            substitute(
                &v(&["./deploy", "--to", "{previous_tag}", "{version}"]),
                &values
            ),
            v(&["./deploy", "--to", "{version}$(x)", "v1.2.3"])
        );
        assert_eq!(
            substitute(&v(&["/bin/bash", "-euc", "deploy {version}"]), &values),
            v(&["/bin/bash", "-euc", "deploy 'v1.2.3'"])
        );
        assert_eq!(
            substitute(
                &v(&["bash", "-o", "pipefail", "-c", "x {previous_tag}"]),
                &values
            ),
            v(&["bash", "-o", "pipefail", "-c", "x '{version}$(x)'"])
        );
        // An unknown placeholder is left as written.
        assert_eq!(
            substitute(&v(&["echo", "{other}"]), &values),
            v(&["echo", "{other}"])
        );
    }

    #[test]
    fn a_timeout_too_long_for_the_clock_is_no_timeout() {
        let argv: Vec<String> = vec!["true".into()];
        let r = run(
            &argv,
            &[],
            Duration::MAX,
            &std::env::temp_dir(),
            &AtomicBool::new(false),
        );
        assert_eq!(r.end, End::Exited(0));
    }

    #[test]
    fn a_missing_program_could_not_start() {
        let r = go(&["/no/such/program-rs"], 5000);
        assert!(
            matches!(r.end, End::CouldNotStart(ref why) if why.contains("/no/such/program-rs")),
            "{:?}",
            r.end
        );
    }

    #[test]
    fn the_timeout_holds_with_a_grandchild_on_the_pipes() {
        let start = Instant::now();
        let r = go(&["sh", "-c", "sleep 30 & sleep 30"], 300);
        assert_eq!(r.end, End::TimedOut);
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn output_keeps_only_the_tail() {
        let r = go(
            &["sh", "-c", "head -c 20000 /dev/zero | tr '\\0' a; echo END"],
            5000,
        );
        assert_eq!(r.stdout.total, 20004);
        assert_eq!(r.stdout.tail.len(), OUTPUT_CAP);
        assert!(r.stdout.text().ends_with("END\n"));
    }
}
