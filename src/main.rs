//! The `release-sentinel` binary, the front end: parse, resolve the
//! invocation once, dispatch to one command, deliver its result, exit.
//! Only `main` exits; errors become the exit code here, in one place.
//! `cli` and `commands/` are the binary's own: the library cannot use them.

mod cli;
mod commands;
mod signals;
mod terminal;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use cli::{Cli, stopped};
use commands::{Context, Done, Invocation, Terminal};
use release_sentinel::exit::USAGE_OR_INPUT_ERROR;
use release_sentinel::report::deliver::{deliver, error_line};
use release_sentinel::{envsnap::EnvSnapshot, interrupt, progress::Progress, secrets::Scrubber};

fn main() -> ExitCode {
    // The process's scrubber, which every cut of a value uses first.
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
    signals::watch(&scrubber);
    ExitCode::from(run(&vars, &scrubber))
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
    signals::delivering();
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
        Ok(Done::Text(_)) if let Some(signal) = interrupted => format!("interrupted by {signal}"),
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
