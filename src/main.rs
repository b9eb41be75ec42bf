//! The `release-sentinel` binary, the front end: parse, resolve the
//! invocation once, dispatch to one command, deliver its result, exit.
//! Only `main` exits; errors become the exit code here, in one place.

mod terminal;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use release_sentinel::cli::{Cli, stopped};
use release_sentinel::commands::{Context, Done, Invocation, Terminal};
use release_sentinel::exit::USAGE_OR_INPUT_ERROR;
use release_sentinel::report::deliver::{deliver, error_line};
use release_sentinel::{envsnap::EnvSnapshot, interrupt, progress::Progress, secrets::Scrubber};

/// How long a command has, after SIGINT or SIGTERM, to stop by itself and
/// report what ran; then the front end ends it (exit 1). Longer than the
/// pack's kill grace for a step's process tree (1 s) and its drain.
const GRACE: Duration = Duration::from_secs(5);

/// The command has returned and its result is being delivered: the
/// watchdog then leaves the delivery a further grace to finish.
static DELIVERING: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    // The process's scrubber: what shortens a value scrubs it first with
    // this one (see `Scrubber::process`).
    let scrubber = Scrubber::process();
    let hook = scrubber.clone();
    // The last line of defence: a panic is a bug, but it exits 1
    // (BLOCKED), never 101, and its message leaks no secret.
    std::panic::set_hook(Box::new(move |info| {
        let info = release_sentinel::sanitize::ascii(&info.to_string());
        let why = format!("internal error: {info}\nthis is a bug; the release is BLOCKED (exit 1)");
        let _ = io::stderr().write_all(error_line(&why, &hook).as_bytes());
        std::process::exit(i32::from(USAGE_OR_INPUT_ERROR));
    }));
    let vars = EnvSnapshot::from_process();
    release_sentinel::register_ambient_secrets(&vars, &scrubber);
    watch_signals(&scrubber);
    ExitCode::from(run(&vars, &scrubber))
}

/// Watch SIGINT and SIGTERM for every command, before any runs: a signal
/// raises the process's stop flag (the command stops and reports what
/// ran) and starts a watchdog that ends the process with exit 1, its
/// temporary files removed, if the command has not stopped within
/// [`GRACE`]. A signal never ends the process by its default action.
fn watch_signals(scrubber: &Scrubber) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(s) => s,
        Err(e) => {
            let why = format!("cannot watch SIGINT and SIGTERM: {e}");
            let _ = io::stderr().write_all(error_line(&why, scrubber).as_bytes());
            std::process::exit(i32::from(USAGE_OR_INPUT_ERROR));
        }
    };
    let scrubber = scrubber.clone();
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let first = !interrupt::requested();
            interrupt::arrived(signal);
            if first {
                let scrubber = scrubber.clone();
                std::thread::spawn(move || abandon_after_grace(&scrubber));
            }
        }
    });
}

/// The watchdog: end a command that did not stop within [`GRACE`] of the
/// signal (a further grace when it is delivering its report).
fn abandon_after_grace(scrubber: &Scrubber) {
    std::thread::sleep(GRACE);
    if DELIVERING.load(Ordering::SeqCst) {
        std::thread::sleep(GRACE);
    }
    interrupt::remove_abandoned();
    let signal = interrupt::signal_name().unwrap_or("a signal");
    let why = format!(
        "interrupted by {signal}: the command did not stop within {}s; what it was doing is \
         abandoned and the release is BLOCKED (exit 1)",
        GRACE.as_secs()
    );
    let _ = io::stderr().write_all(error_line(&why, scrubber).as_bytes());
    std::process::exit(i32::from(USAGE_OR_INPUT_ERROR));
}

fn run(vars: &EnvSnapshot, scrubber: &Scrubber) -> u8 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command = match Cli::try_parse_from(&args) {
        Ok(cli) => cli.into_command(),
        Err(e) => {
            let s = stopped(&e, &args, vars, scrubber);
            let mut sink: Box<dyn Write> = if s.stdout {
                Box::new(io::stdout())
            } else {
                Box::new(io::stderr())
            };
            let _ = sink.write_all(s.text.as_bytes());
            return s.code;
        }
    };
    let inv = Invocation::resolve(command.output(), vars, Terminal::detect());
    inv.init_logging(vars, scrubber);
    // Debug builds only (the integration tests): proves that a panic still
    // exits 1 and leaks nothing. Unreachable in a release build: the block
    // is compiled out, so no input of a released binary panics here.
    #[cfg(debug_assertions)]
    if vars.get("RS_TEST_PANIC").ok().flatten() == Some("1") {
        panic!("panic requested by RS_TEST_PANIC");
    }
    let front = Arc::new(terminal::Front {
        line: inv.progress.then(terminal::ProgressLine::start),
        quiet: inv.quiet,
        interactive: io::stdin().is_terminal() && io::stderr().is_terminal(),
    });
    let cx = Context::new(vars, scrubber, Progress::to(front.clone())).with_argv(&args);
    let done = command.run(&cx);
    DELIVERING.store(true, Ordering::SeqCst);
    front.finish();
    let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
    // Interrupted: whatever the command made of it, the run is not a
    // pass (exit 1), and its report says it was interrupted.
    let interrupted = interrupt::signal_name();
    let error = match done {
        Ok(Done::Report(mut r)) => {
            if interrupted.is_some() {
                r.interrupted = Some(true);
            }
            let code = deliver(&r, &inv.delivery, scrubber, &mut out, &mut err);
            match interrupt::signal_name() {
                // The signal came while the report was being written.
                Some(signal) if interrupted.is_none() => format!("interrupted by {signal}"),
                _ => return code,
            }
        }
        Ok(Done::Text(_)) if let Some(signal) = interrupted => {
            format!("interrupted by {signal}")
        }
        // A reader that stopped early (`| head`) is not an error.
        Ok(Done::Text(text)) => match out.write_all(&text).and_then(|()| out.flush()) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => e.to_string(),
            _ => match interrupt::signal_name() {
                Some(signal) => format!("interrupted by {signal}"),
                None => return 0,
            },
        },
        Err(e) => e.to_string(),
    };
    let _ = err.write_all(error_line(&error, scrubber).as_bytes());
    USAGE_OR_INPUT_ERROR
}
