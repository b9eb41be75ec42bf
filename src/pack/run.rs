//! Running the pre-live pack: its steps in order, each under its timeout
//! (a command through the runner, a built-in step on a thread of its
//! own), one row each; `--fail-fast` and an interruption leave the rest
//! SKIP with the reason.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Pack, Run, Step};
use crate::checks::{health, policy};
use crate::clock::Now;
use crate::config::Config;
use crate::envsnap::EnvSnapshot;
use crate::git;
use crate::progress::Progress;
use crate::report::{CheckResult, Outcome, Phase, Status};
use crate::runner;
use crate::secrets::Scrubber;
use crate::text::list_some;

/// How often a step's end, its timeout and the interrupt flag are looked
/// at while a built-in step runs.
const TICK: Duration = Duration::from_millis(50);

/// What the built-in steps need, owned: they run on threads of their own.
struct Builtins {
    config: Result<Config, String>,
    options: crate::gate::Options,
    vars: EnvSnapshot,
    now: Now,
}

/// Run the pack's steps in `ws` at `now`; one row each.
pub fn steps(
    options: &crate::gate::Options,
    ws: &crate::workspace::Workspace,
    cx: &crate::workspace::Context<'_>,
    now: Now,
    stop: &AtomicBool,
) -> Vec<CheckResult> {
    let mut rows = Vec::new();
    let steps = match &ws.config {
        Ok(c) => c.pack.steps_to_run(),
        Err(_) => Pack::default().steps_to_run(),
    };
    let builtins = Arc::new(Builtins {
        config: ws
            .config
            .as_ref()
            .map(Config::clone)
            .map_err(|e| e.to_string()),
        options: options.clone(),
        vars: cx.vars.clone(),
        now,
    });
    let env = [
        ("RS_DRY_RUN".to_string(), "1".to_string()),
        ("RS_ENV".to_string(), options.env.clone()),
        ("RS_VERSION".to_string(), options.version.clone()),
    ];
    for (i, step) in steps.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            not_run(&mut rows, &steps[i..], INTERRUPTED);
            break;
        }
        let start = Instant::now();
        tracing::info!(step = %step.name, "running");
        cx.progress.begin(&step.name);
        let (outcome, interrupted) = match &step.run {
            Run::Command { argv, env: own } => {
                let env: Vec<(String, String)> = env.iter().chain(own).cloned().collect();
                command(step, argv, &env, &ws.root, stop, cx.scrubber)
            }
            Run::Builtin => builtin(step, &builtins, stop),
        };
        cx.progress.end(&step.name);
        tracing::debug!(step = %step.name, status = outcome.status.as_str(), elapsed_ms = %crate::report::millis(start.elapsed()), "{}", outcome.message);
        let failed = outcome.status != Status::Ok;
        rows.push(CheckResult::new(
            &step.name,
            Phase::Pack,
            outcome,
            start.elapsed(),
        ));
        if interrupted {
            not_run(&mut rows, &steps[i + 1..], INTERRUPTED);
            break;
        }
        if failed && options.fail_fast {
            let why = format!("not run: {} did not pass (--fail-fast)", step.name);
            not_run(&mut rows, &steps[i + 1..], &why);
            break;
        }
    }
    rows
}

const INTERRUPTED: &str = "not run: the pack was interrupted";

fn not_run(rows: &mut Vec<CheckResult>, steps: &[Step], why: &str) {
    for s in steps {
        rows.push(CheckResult::new(
            &s.name,
            Phase::Pack,
            Outcome::skip(why),
            Duration::ZERO,
        ));
    }
}

/// A configured command; also says whether the pack was interrupted.
fn command(
    step: &Step,
    argv: &[String],
    env: &[(String, String)],
    root: &Path,
    stop: &AtomicBool,
    scrubber: &Scrubber,
) -> (Outcome, bool) {
    let ran = runner::run(argv, env, step.timeout, root, stop);
    let outcome = match ran.end.failure(step.timeout) {
        None => Outcome::ok(""),
        Some(why) => Outcome::fail(why),
    }
    .detail("exit_code", ran.end.code())
    .detail("timeout_ms", step.timeout.as_millis() as u64)
    .detail("stdout", ran.stdout.scrubbed(scrubber))
    .detail("stdout_bytes", ran.stdout.total)
    .detail("stderr", ran.stderr.scrubbed(scrubber))
    .detail("stderr_bytes", ran.stderr.total);
    (outcome, ran.end == runner::End::Interrupted)
}

/// A built-in step, on a thread of its own, under its timeout; also says
/// whether the pack was interrupted.
fn builtin(step: &Step, builtins: &Arc<Builtins>, stop: &AtomicBool) -> (Outcome, bool) {
    let (tx, rx) = mpsc::channel();
    let (name, shared) = (step.name.clone(), Arc::clone(builtins));
    let spawned = std::thread::Builder::new()
        .name(format!("step {name}"))
        .spawn(move || {
            let _ = tx.send(run_builtin(&name, &shared));
        });
    if let Err(e) = spawned {
        return (Outcome::fail(format!("could not start: {e}")), false);
    }
    let deadline = Instant::now() + step.timeout;
    loop {
        if stop.load(Ordering::SeqCst) {
            // A step that has its result keeps it; only one still running
            // is cut short.
            return match rx.try_recv() {
                Ok(outcome) => (
                    outcome.detail("timeout_ms", step.timeout.as_millis() as u64),
                    true,
                ),
                Err(_) => (Outcome::fail("interrupted"), true),
            };
        }
        let now = Instant::now();
        if now >= deadline {
            return (Outcome::fail(runner::timed_out(step.timeout)), false);
        }
        match rx.recv_timeout(TICK.min(deadline - now)) {
            Ok(outcome) => {
                return (
                    outcome.detail("timeout_ms", step.timeout.as_millis() as u64),
                    false,
                );
            }
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return (Outcome::fail("the step failed unexpectedly"), false);
            }
        }
    }
}

fn run_builtin(name: &str, b: &Builtins) -> Outcome {
    let needs_config = || Outcome::skip("not checked: needs a valid config (see config_check_dry)");
    match (name, &b.config) {
        ("config_check_dry", c) => config_check(c),
        ("policy_gates_dry", Ok(c)) => policy_step(c, b),
        ("health_checks_dry", Ok(c)) => health_step(c, b),
        ("scan_secrets_dry", c) => {
            crate::scan::secrets_scan(c.as_ref().ok(), &b.options.repo, &b.vars)
        }
        _ => needs_config(),
    }
}

fn config_check(config: &Result<Config, String>) -> Outcome {
    match config {
        Ok(c) => {
            let unresolved: Vec<String> = c
                .policies
                .unresolved
                .iter()
                .map(|(env, why)| format!("{env}: {}", why.join("; ")))
                .collect();
            if c.environments.is_empty() {
                Outcome::fail(format!("{} declares no environment", c.source))
            } else if unresolved.is_empty() {
                Outcome::ok(format!(
                    "{} resolves for {}",
                    c.source,
                    c.environments.join(", ")
                ))
                .detail("environments", c.environments.clone())
            } else {
                Outcome::fail(format!(
                    "{} does not resolve for every environment: {}",
                    c.source,
                    list_some(&unresolved, 2)
                ))
                .detail("unresolved", unresolved)
            }
        }
        Err(text) => Outcome::fail(text.lines().next().unwrap_or("invalid config").to_string())
            .detail("error", text.as_str()),
    }
}

fn policy_step(config: &Config, b: &Builtins) -> Outcome {
    let repo = git::open(&b.options.repo);
    let input = policy::Input::new(
        &b.options.env,
        &b.options.version,
        config.gates(),
        &repo,
        &b.vars,
        b.now,
    )
    .override_freeze(b.options.override_freeze.as_deref());
    let strict = b.options.strict || input.policy.strict;
    let rows = policy::run(&input, false, strict, &AtomicBool::new(false));
    summarize(&rows, strict, "policy gates", "gates")
}

/// One row for a whole phase: OK when every row passed, else FAIL naming
/// those that did not; every row in the details.
fn summarize(rows: &[CheckResult], strict: bool, what: &str, key: &str) -> Outcome {
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| r.counts() && !r.status().passed_in(strict))
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

fn health_step(config: &Config, b: &Builtins) -> Outcome {
    let options = &b.options;
    if config.health.is_empty() {
        return Outcome::skip("not checked: no health checks are configured");
    }
    let strict = options.strict || config.policy_for(&options.env).strict;
    let rows = health::run(
        &config.health,
        &b.vars,
        &Progress::none(),
        &AtomicBool::new(false),
    );
    summarize(&rows, strict, "health checks", "checks")
}
