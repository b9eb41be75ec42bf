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
use commands::{Context, Invocation, Terminal};
use release_sentinel::exit::USAGE_OR_INPUT_ERROR;
use release_sentinel::report::deliver::error_line;
use release_sentinel::{envsnap::EnvSnapshot, progress::Progress, secrets::Scrubber};

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
    commands::finish(done, &inv.delivery, scrubber)
}
