//! release-sentinel: may this version go to this environment now?
//!
//! The library behind the binary. [`run_gate`] evaluates the policy gates
//! for one environment and version and returns a [`report::Report`]; the
//! renderers in [`report`] turn it into the table or JSON, and
//! [`exit::Verdict`] into the exit code. Nothing in the library prints or
//! exits.

pub mod checks;
pub mod config;
pub mod envsnap;
pub mod exit;
pub mod fsutil;
pub mod gate;
pub mod health;
pub mod logging;
pub mod pack;
pub mod report;
pub mod sanitize;
pub mod secrets;

use std::path::PathBuf;

use config::ConfigError;
use envsnap::EnvSnapshot;
use report::Report;
use secrets::Scrubber;

/// Everything the core needs to know about one run, already validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The target environment.
    pub env: String,
    /// The release version, as given (`v1.2.3`).
    pub version: String,
    /// `--config`, when given.
    pub config: Option<PathBuf>,
    /// Where to look for the repository (discovered upward).
    pub repo: PathBuf,
    /// Stop evaluating at the first failed gate.
    pub fail_fast: bool,
    /// WARN rows block (also set per environment by `strict` in the config).
    pub strict: bool,
    /// Show a progress line for slow checks and steps (a terminal only).
    pub progress: bool,
}

/// Why a run could not produce a verdict. (A failed check is not an error:
/// it is a row in the report.)
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Values of variables that nobody declared secret but whose names say
/// they are (`*_TOKEN`, `*_PASSWORD`, ...) are scrubbed too. Only values of
/// at least this length: a guessed secret must not erase common words.
pub const AMBIENT_SECRET_MIN_LEN: usize = 8;

/// Register the values of secret-looking environment variables with the
/// scrubber, before anything else runs.
pub fn register_ambient_secrets(vars: &EnvSnapshot, scrubber: &Scrubber) {
    for (name, value) in vars.iter() {
        if let Some(value) = value
            && value.trim().chars().count() >= AMBIENT_SECRET_MIN_LEN
            && secrets::is_secret_like_name(name)
        {
            scrubber.add(value);
        }
    }
}

/// Run the gate: open the repository, load the configuration, evaluate the
/// policy gates in order.
pub fn run_gate(
    settings: &Settings,
    vars: &EnvSnapshot,
    scrubber: &Scrubber,
) -> Result<Report, Error> {
    // git itself does not re-hash objects on ordinary reads; libgit2's
    // default would hash every tree the status reads.
    git2::opts::strict_hash_verification(false);
    let start = std::time::Instant::now();
    let repo = checks::git_repo::open(&settings.repo);
    tracing::debug!(elapsed = ?start.elapsed(), "opened the repository");
    let root = match &repo {
        Ok(r) => Some(r.root.clone()),
        Err(e) => e.root.clone(),
    };
    let config = config::load(settings.config.as_deref(), root.as_deref(), vars, scrubber)?;
    tracing::info!(
        config = %config.source,
        env = %settings.env,
        version = %settings.version,
        "running the policy gates"
    );
    let strict = settings.strict || config.policy_for(&settings.env).strict;
    let mut results = gate::run_policy(&gate::PolicyInput {
        env: &settings.env,
        version: &settings.version,
        config: &config,
        repo: &repo,
        vars,
        fail_fast: settings.fail_fast,
        strict,
    });
    let policy_passed = results.iter().all(|r| r.status().passed_in(strict));
    let start = std::time::Instant::now();
    if policy_passed {
        tracing::info!(checks = config.health.len(), "running the health checks");
        let progress = if settings.progress {
            report::progress::Progress::start()
        } else {
            report::progress::Progress::disabled()
        };
        results.extend(health::run(&config.health, &progress));
        progress.finish();
    } else {
        results.extend(health::skipped(&config.health));
    }
    tracing::debug!(elapsed = ?start.elapsed(), "health phase done");
    Ok(Report {
        env: settings.env.clone(),
        version: settings.version.clone(),
        commit: repo.as_ref().ok().map(|r| r.head.to_string()),
        config: config.source.to_string(),
        strict,
        results,
    })
}
