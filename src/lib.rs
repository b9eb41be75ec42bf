//! release-sentinel: may this version go to this environment now?
//!
//! The library behind the binary. [`cli`] holds the command line's types;
//! [`commands`] one module per command, each returning a
//! [`report::Report`] (or text); [`report`] renders and delivers it, and
//! [`exit::Verdict`] is the exit code. The checks are registries in
//! [`checks`]; git access is in [`git`]. Nothing in the library prints or
//! exits: the front end (`main`) does, once.

pub mod approvals;
pub mod backup;
pub mod bundle;
pub mod checks;
pub mod ci;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod envsnap;
pub mod evidence;
pub mod exit;
pub mod freshness;
pub mod fsutil;
pub mod gate;
pub mod git;
pub mod golive;
pub mod http;
pub mod interrupt;
pub mod logging;
pub mod notify;
pub mod pack;
pub mod par;
pub mod parity;
pub mod predeploy;
pub mod progress;
pub mod prom;
pub mod ready;
pub mod report;
pub mod rotate;
pub mod runner;
pub mod sanitize;
pub mod scan;
pub mod secrets;
pub mod verify;

use envsnap::EnvSnapshot;
use secrets::Scrubber;

/// Values of variables that nobody declared secret but whose names say
/// they are (`*_TOKEN`, `*_PASSWORD`, ...) are scrubbed too. Only values of
/// at least this length: a guessed secret must not erase common words.
pub const AMBIENT_SECRET_MIN_LEN: usize = 8;

/// Register the values of secret-looking environment variables with the
/// scrubber, before anything else runs.
pub fn register_ambient_secrets(vars: &EnvSnapshot, scrubber: &Scrubber) {
    // Values that are not UTF-8 count too, in the form they take once
    // output containing them is decoded.
    for (name, value) in vars.iter_lossy() {
        if value.trim().chars().count() >= AMBIENT_SECRET_MIN_LEN
            && secrets::is_secret_like_name(name)
        {
            scrubber.add(&value);
        }
    }
}
