//! release-sentinel: may this version go to this environment now?
//!
//! The library behind the binary. The binary (`main.rs`, with its `cli`
//! types and one module per command in `commands/`) parses, calls a
//! feature here with plain options, and delivers what comes back; the
//! library never imports a command, and nothing in it prints or exits.
//!
//! The layers, each only using those below it:
//! - Features, one module each with its config section, its report kind
//!   and its work: [`gate`] (the [`checks`] registries), [`pack`],
//!   [`verify`], [`notify`], [`bundle`], [`rotate`], [`freshness`],
//!   [`ready`], [`backup`], [`predeploy`] (with [`approvals`]), [`parity`],
//!   [`golive`], [`evidence`].
//! - The report model and its renderers: [`report`], [`exit`] (the
//!   verdict and its exit code), [`progress`].
//! - Configuration: [`config`] (sources, validation, the shared value
//!   vocabulary).
//! - Access to the world: [`git`], [`http`], [`prom`], [`runner`],
//!   [`scan`], [`ci`], [`clock`], [`envsnap`], [`fsutil`], [`interrupt`],
//!   [`logging`], and [`workspace`] (what a command opens once).
//! - Leaves: [`secrets`] (the one scrubber), [`sanitize`], [`text`], [`digest`],
//!   [`par`].
//!
//! A module is public only when the binary, the tests or the benches use
//! it; the others (`ci`, `prom`, `runner`) are the crate's own, so that
//! what nothing uses shows as dead code.

// Features.
pub mod approvals;
pub mod backup;
pub mod bundle;
pub mod checks;
pub mod evidence;
pub mod freshness;
pub mod gate;
pub mod golive;
pub mod notify;
pub mod pack;
pub mod parity;
pub mod predeploy;
pub mod ready;
pub mod rotate;
pub mod verify;

// The report model.
pub mod exit;
pub mod progress;
pub mod report;

// Configuration.
pub mod config;

// Access to the world.
pub(crate) mod ci;
pub mod clock;
pub mod envsnap;
pub mod fsutil;
pub mod git;
pub mod http;
pub mod interrupt;
pub mod logging;
pub(crate) mod prom;
pub(crate) mod runner;
pub mod scan;
pub mod workspace;

// Leaves.
pub mod digest;
pub mod par;
pub mod sanitize;
pub mod secrets;
pub mod text;

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
