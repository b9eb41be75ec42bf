//! The pre-live pack (`--dry-run`): an ordered suite of read-only
//! validation steps, each reported as one row.
//!
//! With `[[pack.steps]]` configured, those steps run, one after another,
//! as subprocesses (see [`step`]). Without, the pack is the tool's own
//! steps, each doing real work: `config_check_dry`, `policy_gates_dry`,
//! `health_checks_dry` and `scan_secrets_dry`. A step that could not check
//! anything is SKIP, never OK, and anything but OK fails the pack.
//!
//! SIGINT and SIGTERM stop the pack: the running step's process group is
//! killed, the steps not run show SKIP, and the table is still printed.
//! (A built-in step is bounded by its own budgets and is not cut short.)

pub mod scan;
pub mod step;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde_json::json;

use crate::checks::{git_repo, list_some};
use crate::config::{self, Config};
use crate::envsnap::EnvSnapshot;
use crate::report::progress::Progress;
use crate::report::{CheckResult, Outcome, Phase, Status};
use crate::secrets::Scrubber;
use crate::{Settings, gate, health};

/// The built-in steps, in order.
pub const BUILTIN_STEPS: &[&str] = &[
    "config_check_dry",
    "policy_gates_dry",
    "health_checks_dry",
    "scan_secrets_dry",
];

/// Everything one run of the pack found.
#[derive(Debug, Clone)]
pub struct PackReport {
    pub env: String,
    pub version: String,
    pub commit: Option<String>,
    pub config: String,
    pub steps: Vec<CheckResult>,
    /// SIGINT or SIGTERM arrived.
    pub interrupted: bool,
    /// Why the config could not be used (the built-in steps ran instead
    /// of any configured ones, which could not be read).
    pub config_error: Option<String>,
}

impl PackReport {
    /// Every step OK, and no interruption.
    pub fn passed(&self) -> bool {
        !self.interrupted
            && !self.steps.is_empty()
            && self.steps.iter().all(|s| s.status() == Status::Ok)
    }

    /// 0 when every step passed, else 1.
    pub fn exit_code(&self) -> u8 {
        if self.passed() { 0 } else { 1 }
    }
}

/// Set on SIGINT or SIGTERM, once registered.
fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&flag)) {
            tracing::warn!("cannot watch signal {sig}: {e}");
        }
    }
    flag
}

struct Rows {
    rows: Vec<CheckResult>,
}

impl Rows {
    fn push(&mut self, name: &str, start: Instant, outcome: Outcome) {
        tracing::debug!(
            step = name,
            status = outcome.status.as_str(),
            "{}",
            outcome.message
        );
        self.rows.push(CheckResult {
            id: name.to_string(),
            phase: Phase::Pack,
            outcome,
            duration: start.elapsed(),
        });
    }
}

/// Run the pack.
pub fn run(settings: &Settings, vars: &EnvSnapshot, scrubber: &Scrubber) -> PackReport {
    let stop = interrupt_flag();
    let repo = git_repo::open(&settings.repo);
    let root: PathBuf = match &repo {
        Ok(r) => r.root.clone(),
        Err(e) => e.root.clone().unwrap_or_else(|| settings.repo.clone()),
    };
    let config = config::load(settings.config.as_deref(), Some(&root), vars, scrubber);
    let mut rows = Rows { rows: Vec::new() };
    let progress = if settings.progress {
        Progress::start()
    } else {
        Progress::disabled()
    };
    match &config {
        Ok(c) if !c.pack.steps.is_empty() => {
            configured(c, settings, &root, &stop, &progress, &mut rows)
        }
        _ => builtin(&config, settings, &repo, vars, &stop, &progress, &mut rows),
    }
    progress.finish();
    PackReport {
        env: settings.env.clone(),
        version: settings.version.clone(),
        commit: repo.as_ref().ok().map(|r| r.head.to_string()),
        config: match &config {
            Ok(c) => c.source.to_string(),
            Err(_) => "invalid".to_string(),
        },
        interrupted: stop.load(Ordering::SeqCst),
        config_error: config.as_ref().err().map(|e| e.to_string()),
        steps: rows.rows,
    }
}

fn not_run(rows: &mut Rows, names: impl IntoIterator<Item = String>) {
    for name in names {
        rows.push(
            &name,
            Instant::now(),
            Outcome::skip("not run: the pack was interrupted"),
        );
    }
}

fn configured(
    config: &Config,
    settings: &Settings,
    root: &std::path::Path,
    stop: &AtomicBool,
    progress: &Progress,
    rows: &mut Rows,
) {
    let env = vec![
        ("RS_DRY_RUN".to_string(), "1".to_string()),
        ("RS_ENV".to_string(), settings.env.clone()),
        ("RS_VERSION".to_string(), settings.version.clone()),
    ];
    let steps = &config.pack.steps;
    for (i, s) in steps.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            not_run(rows, steps[i..].iter().map(|s| s.name.clone()));
            return;
        }
        let start = Instant::now();
        tracing::info!(step = %s.name, "running");
        progress.begin(&s.name);
        let ran = step::run(s, root, &env, stop);
        progress.end(&s.name);
        let (status, message, code) = match &ran.end {
            step::End::Exited(0) => (Status::Ok, String::new(), Some(0)),
            step::End::Exited(c) => (Status::Fail, format!("exit {c}"), Some(*c)),
            step::End::Signalled(sig) => (Status::Fail, format!("killed by signal {sig}"), None),
            step::End::TimedOut => (
                Status::Fail,
                format!("timed out after {}", humantime::format_duration(s.timeout)),
                None,
            ),
            step::End::Interrupted => (Status::Fail, "interrupted".to_string(), None),
            step::End::CouldNotStart(why) => {
                (Status::Fail, format!("could not start: {why}"), None)
            }
        };
        let outcome = Outcome::new(status, message)
            .detail("exit_code", code)
            .detail("timeout_ms", s.timeout.as_millis() as u64)
            .detail("stdout", ran.stdout.text())
            .detail("stdout_bytes", ran.stdout.total)
            .detail("stderr", ran.stderr.text())
            .detail("stderr_bytes", ran.stderr.total);
        rows.push(&s.name, start, outcome);
        if ran.end == step::End::Interrupted {
            not_run(rows, steps[i + 1..].iter().map(|s| s.name.clone()));
            return;
        }
    }
}

fn builtin(
    config: &Result<Config, config::ConfigError>,
    settings: &Settings,
    repo: &Result<git_repo::Repo, git_repo::NotUsable>,
    vars: &EnvSnapshot,
    stop: &AtomicBool,
    progress: &Progress,
    rows: &mut Rows,
) {
    let needs_config = || Outcome::skip("not checked: needs a valid config (see config_check_dry)");
    for (i, name) in BUILTIN_STEPS.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            not_run(rows, BUILTIN_STEPS[i..].iter().map(|s| s.to_string()));
            return;
        }
        let start = Instant::now();
        progress.begin(name);
        let outcome = match (*name, config) {
            ("config_check_dry", c) => config_check(c),
            ("policy_gates_dry", Ok(c)) => policy(c, settings, repo, vars),
            ("health_checks_dry", Ok(c)) => health_phase(c, settings),
            ("scan_secrets_dry", c) => secrets_scan(c.as_ref().ok(), repo, vars),
            _ => needs_config(),
        };
        progress.end(name);
        rows.push(name, start, outcome);
    }
}

fn config_check(config: &Result<Config, config::ConfigError>) -> Outcome {
    match config {
        Ok(c) => {
            // Resolve the policy of every environment, as the gate would.
            let resolved: Vec<String> = c
                .environments
                .iter()
                .filter(|e| !c.policy_for(e).branches.is_empty())
                .cloned()
                .collect();
            if resolved.len() == c.environments.len() && !resolved.is_empty() {
                Outcome::ok(format!("{} resolves for {}", c.source, resolved.join(", ")))
                    .detail("environments", resolved)
            } else {
                Outcome::fail(format!(
                    "{} does not resolve for every environment",
                    c.source
                ))
            }
        }
        Err(e) => {
            let text = e.to_string();
            Outcome::fail(text.lines().next().unwrap_or("invalid config").to_string())
                .detail("error", text)
        }
    }
}

fn policy(
    config: &Config,
    settings: &Settings,
    repo: &Result<git_repo::Repo, git_repo::NotUsable>,
    vars: &EnvSnapshot,
) -> Outcome {
    let strict = settings.strict || config.policy_for(&settings.env).strict;
    let rows = gate::run_policy(&gate::PolicyInput {
        env: &settings.env,
        version: &settings.version,
        config,
        repo,
        vars,
        fail_fast: false,
        strict,
    });
    summarize(&rows, strict, "policy gates", "gates")
}

/// One row for a whole phase: OK when every row passed, else FAIL naming
/// those that did not; every row in the details.
fn summarize(rows: &[CheckResult], strict: bool, what: &str, key: &str) -> Outcome {
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| !r.status().passed_in(strict))
        .map(|r| r.id.clone())
        .collect();
    let summary: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| json!({"id": r.id, "status": r.status(), "message": r.outcome.message}))
        .collect();
    let outcome = if failed.is_empty() {
        Outcome::ok(format!("{} {what} passed", rows.len()))
    } else {
        Outcome::fail(format!("did not pass: {}", list_some(&failed, 4)))
    };
    outcome.detail(key, summary)
}

fn health_phase(config: &Config, settings: &Settings) -> Outcome {
    if config.health.is_empty() {
        return Outcome::skip("not checked: no health checks are configured");
    }
    let strict = settings.strict || config.policy_for(&settings.env).strict;
    let rows = health::run(&config.health, &Progress::disabled());
    summarize(&rows, strict, "health checks", "checks")
}

fn secrets_scan(
    config: Option<&Config>,
    repo: &Result<git_repo::Repo, git_repo::NotUsable>,
    vars: &EnvSnapshot,
) -> Outcome {
    let Ok(repo) = repo else {
        return Outcome::skip("not checked: not a readable git repository (see policy_gates_dry)");
    };
    let files = match scan::files(&repo.repo) {
        Ok(f) => f,
        Err(e) => return Outcome::fail(format!("cannot list the files to scan: {}", e.message())),
    };
    let default_scan = config::pack::Scan::default();
    let cfg = config.map_or(&default_scan, |c| &c.pack.scan);
    let live: Vec<(String, String)> = config
        .map(|c| c.secret_names())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| vars.non_empty(n).map(|v| (n.to_string(), v.to_string())))
        .collect();
    let found = match scan::scan(&repo.root, &files, cfg, &live) {
        Ok(f) => f,
        Err(e) => return Outcome::fail(e),
    };
    let skipped = format!(
        "{} binary, {} large, {} allowed, {} unreadable skipped",
        found.binary, found.large, found.allowed, found.unreadable
    );
    let findings: Vec<serde_json::Value> = found
        .findings
        .iter()
        .map(|f| json!({"path": f.path, "line": f.line, "rule": f.rule, "live": f.live}))
        .collect();
    let outcome = if found.scanned == 0 {
        Outcome::skip(format!("not checked: no file could be scanned ({skipped})"))
    } else if found.findings.is_empty() {
        Outcome::ok(format!(
            "{} files scanned, no secrets found ({skipped})",
            found.scanned
        ))
    } else {
        let places: Vec<String> = found
            .findings
            .iter()
            .map(|f| format!("{} at {}:{}", f.rule, f.path, f.line))
            .collect();
        Outcome::fail(format!(
            "{} finding{}: {}",
            places.len(),
            if places.len() == 1 { "" } else { "s" },
            list_some(&places, 3)
        ))
    };
    outcome
        .detail("scanned", found.scanned)
        .detail("skipped_binary", found.binary)
        .detail("skipped_large", found.large)
        .detail("allowed", found.allowed)
        .detail("unreadable", found.unreadable)
        .detail("findings", findings)
}
