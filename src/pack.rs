//! `[pack]`: the validated pre-live pack configuration.
//!
//! A step is a command (`run`), or one of the tool's own steps
//! ([`BUILTIN_STEPS`]), named without a `run`. Without any step, the pack
//! is the built-in steps. Every step has a timeout.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use serde_json::json;

use globset::GlobSet;

use crate::checks::{health, policy};
use crate::clock::Now;
use crate::config::Config;
use crate::config::values::{
    Problems, check_name, duration, expand, globs, is_variable_name, parse_size,
};
use crate::envsnap::EnvSnapshot;
use crate::git;
use crate::progress::Progress;
use crate::report::{CheckResult, Outcome, Phase, Status};
use crate::runner;
use crate::sanitize::quoted;
use crate::secrets::Scrubber;
use crate::text::list_some;
use serde::Deserialize;

/// `[pack]`: the pre-live pack's steps and its secrets scan.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPack {
    pub steps: Option<Vec<RawStep>>,
    pub scan: Option<RawScan>,
}

/// A step's command: an argument list, or a command line for the shell.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RunSpec {
    Argv(Vec<String>),
    Line(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub name: String,
    pub run: Option<RunSpec>,
    pub shell: Option<bool>,
    pub timeout: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScan {
    pub allow: Option<Vec<String>>,
    pub max_file_size: Option<String>,
}

/// A step's default timeout.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Files larger than this are skipped by the secrets scan (and counted).
pub const SCAN_MAX_FILE_SIZE: u64 = 1024 * 1024;
const MAX_STEP_TIMEOUT: Duration = Duration::from_secs(3600);

/// The tool's own steps, in their default order.
pub const BUILTIN_STEPS: &[&str] = &[
    "config_check_dry",
    "policy_gates_dry",
    "health_checks_dry",
    "scan_secrets_dry",
];

/// The step that runs the secrets scan.
pub const SCAN_STEP: &str = "scan_secrets_dry";

/// One step of the pack.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub run: Run,
    pub timeout: Duration,
}

/// What a step runs.
#[derive(Debug, Clone)]
pub enum Run {
    /// A command: the program and its arguments (`sh -c LINE` for a shell
    /// step), with extra variables.
    Command {
        argv: Vec<String>,
        env: Vec<(String, String)>,
    },
    /// The tool's own step of that name.
    Builtin,
}

impl Step {
    /// The built-in step `name` with the default timeout.
    pub fn builtin(name: &str) -> Self {
        Self {
            name: name.to_string(),
            run: Run::Builtin,
            timeout: STEP_TIMEOUT,
        }
    }
}

/// The secrets scan's settings.
#[derive(Debug, Clone)]
pub struct Scan {
    /// Path globs whose files are not scanned.
    pub allow: Vec<String>,
    allow_set: GlobSet,
    pub max_file_size: u64,
}

impl Default for Scan {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            allow_set: GlobSet::empty(),
            max_file_size: SCAN_MAX_FILE_SIZE,
        }
    }
}

impl Scan {
    /// Whether `path` (relative, `/`-separated) is allowed by a glob.
    pub fn allowed(&self, path: &str) -> bool {
        self.allow_set.is_match(path)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Pack {
    /// Empty: the pack is the built-in steps.
    pub steps: Vec<Step>,
    pub scan: Scan,
}

impl Pack {
    /// The steps that run: the configured ones, else the built-in ones.
    pub fn steps_to_run(&self) -> Vec<Step> {
        if self.steps.is_empty() {
            BUILTIN_STEPS.iter().map(|n| Step::builtin(n)).collect()
        } else {
            self.steps.clone()
        }
    }
}

pub(super) fn validate(
    raw: RawPack,
    env: &EnvSnapshot,
    problems: &mut Problems,
) -> (Pack, Vec<String>) {
    let mut names = BTreeSet::new();
    let mut steps = Vec::new();
    let mut secret_values = Vec::new();
    for (i, s) in raw.steps.unwrap_or_default().into_iter().enumerate() {
        let key = format!("pack.steps[{i}]");
        if let Err(why) = check_name(&s.name, "step") {
            problems.push(format!("{key}.name"), why);
        } else if !names.insert(s.name.clone()) {
            problems.push(
                format!("{key}.name"),
                format!("{} names another step too", quoted(&s.name)),
            );
        }
        if let Some(step) = step(s, &key, env, problems, &mut secret_values) {
            steps.push(step);
        }
    }
    let scan_set = raw.scan.is_some();
    let scan = scan(raw.scan.unwrap_or_default(), problems);
    let scans = steps
        .iter()
        .any(|s| s.name == SCAN_STEP && matches!(s.run, Run::Builtin));
    if scan_set && !steps.is_empty() && !scans {
        problems.push(
            "pack.scan",
            format!(
                "set, but no step runs the secrets scan: add [[pack.steps]] name = \"{SCAN_STEP}\" \
                 (without `run`) where it should run"
            ),
        );
    }
    (Pack { steps, scan }, secret_values)
}

pub(crate) fn step(
    s: RawStep,
    key: &str,
    env: &EnvSnapshot,
    problems: &mut Problems,
    secret_values: &mut Vec<String>,
) -> Option<Step> {
    let timeout = duration(
        s.timeout.as_deref(),
        STEP_TIMEOUT,
        MAX_STEP_TIMEOUT,
        &format!("{key}.timeout"),
        problems,
    );
    let Some(run) = s.run else {
        if !BUILTIN_STEPS.contains(&s.name.as_str()) {
            problems.push(
                format!("{key}.run"),
                format!(
                    "missing: only the built-in steps ({}) run without a command",
                    BUILTIN_STEPS.join(", ")
                ),
            );
            return None;
        }
        if s.shell.is_some() || s.env.is_some() {
            problems.push(
                key,
                "a built-in step takes no `shell` or `env`, only `name` and `timeout`",
            );
        }
        return Some(Step {
            name: s.name,
            run: Run::Builtin,
            timeout,
        });
    };
    let shell = s.shell.unwrap_or(false);
    let argv = match (run, shell) {
        (RunSpec::Argv(args), false) if args.is_empty() || args[0].trim().is_empty() => {
            problems.push(format!("{key}.run"), "the command is empty");
            return None;
        }
        (RunSpec::Argv(args), false) => {
            let mut out = Vec::with_capacity(args.len());
            for (j, a) in args.iter().enumerate() {
                out.push(expand(a, &format!("{key}.run[{j}]"), env, problems)?);
            }
            out
        }
        (RunSpec::Line(line), true) => {
            if line.trim().is_empty() {
                problems.push(format!("{key}.run"), "the command is empty");
                return None;
            }
            // The shell expands its own variables; ${NAME} in the line is
            // left to it.
            vec!["sh".to_string(), "-c".to_string(), line]
        }
        (RunSpec::Line(_), false) => {
            problems.push(
                format!("{key}.run"),
                "a command line needs shell = true; or write the command as a list, [\"prog\", \"arg\"]",
            );
            return None;
        }
        (RunSpec::Argv(_), true) => {
            problems.push(
                format!("{key}.run"),
                "with shell = true, write the command as one string",
            );
            return None;
        }
    };
    let mut vars = Vec::new();
    for (name, value) in s.env.unwrap_or_default() {
        let vkey = format!("{key}.env.{name}");
        if !is_variable_name(&name) {
            problems.push(&vkey, format!("{} is not a variable name", quoted(&name)));
            continue;
        }
        if let Some(v) = expand(&value, &vkey, env, problems) {
            if crate::secrets::is_secret_like_name(&name) {
                secret_values.push(v.clone());
            }
            vars.push((name, v));
        }
    }
    Some(Step {
        name: s.name,
        run: Run::Command { argv, env: vars },
        timeout,
    })
}

fn scan(raw: RawScan, problems: &mut Problems) -> Scan {
    let mut out = Scan::default();
    if let Some(size) = raw.max_file_size {
        match parse_size(&size) {
            Ok(n) if n > 0 => out.max_file_size = n,
            Ok(_) => problems.push("pack.scan.max_file_size", "must be larger than zero"),
            Err(why) => problems.push("pack.scan.max_file_size", why),
        }
    }
    let allow = raw.allow.unwrap_or_default();
    if let Some((kept, set)) = globs(&allow, "pack.scan.allow", None, problems) {
        out.allow = kept;
        out.allow_set = set;
    }
    out
}

/// The pack's report.
pub static KIND: crate::report::Kind = crate::report::Kind {
    name: "pack",
    title: "PRE-LIVE PACK DRY-RUN RESULTS",
    heading: "Pre-live pack",
    final_id: "pre_live_pack",
    marker: "PRE_LIVE_PACK",
    words: ["DRYRUN", "FAIL", "FAIL"],
    rows_key: "steps",
    compact_ok: true,
    ..crate::report::Kind::CHECKS
};

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
        config,
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
