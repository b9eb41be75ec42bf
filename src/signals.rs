//! SIGINT and SIGTERM, for every command (front end only): a signal
//! raises the process's stop flag ([`interrupt`]), and a watchdog ends a
//! command that does not stop by itself within a grace. The library never
//! exits; this module does, which is why it lives in the binary.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use release_sentinel::exit::USAGE_OR_INPUT_ERROR;
use release_sentinel::report::deliver::error_line;
use release_sentinel::{interrupt, secrets::Scrubber};

/// How long a command has, after SIGINT or SIGTERM, to stop by itself and
/// report what ran; then the front end ends it (exit 1). Longer than the
/// pack's kill grace for a step's process tree (1 s) and its drain.
const GRACE: Duration = Duration::from_secs(5);

/// The command has returned and its result is being delivered: the
/// watchdog then leaves the delivery a further grace to finish.
static DELIVERING: AtomicBool = AtomicBool::new(false);

/// The command has returned: its report is being delivered.
pub fn delivering() {
    DELIVERING.store(true, Ordering::SeqCst);
}

/// Watch SIGINT and SIGTERM for every command, before any runs: a signal
/// raises the process's stop flag (the command stops and reports what
/// ran) and starts a watchdog that ends the process with exit 1, its
/// temporary files removed, if the command has not stopped within
/// [`GRACE`]. A signal never ends the process by its default action.
pub fn watch(scrubber: &Scrubber) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let watched = interrupt::raise_in_handler()
        .and_then(|()| signal_hook::iterator::Signals::new([SIGINT, SIGTERM]));
    let mut signals = match watched {
        Ok(s) => s,
        Err(e) => {
            let why = format!("cannot watch SIGINT and SIGTERM: {e}");
            let _ = io::stderr().write_all(error_line(&why, scrubber).as_bytes());
            std::process::exit(i32::from(USAGE_OR_INPUT_ERROR));
        }
    };
    let scrubber = scrubber.clone();
    std::thread::spawn(move || {
        // The handler has raised the flag already: the first signal this
        // thread sees starts the watchdog.
        let mut watching = false;
        for signal in signals.forever() {
            interrupt::arrived(signal);
            if !watching {
                watching = true;
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
