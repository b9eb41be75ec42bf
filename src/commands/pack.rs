//! The pre-live pack (`pack`, or the gate's `--dry-run`): an ordered suite of read-only
//! validation steps, each reported as one row.
//!
//! With `[[pack.steps]]` configured, those steps run, one after another,
//! as subprocesses (see [`crate::runner`]). Without, the pack is the tool's own
//! steps, each doing real work: `config_check_dry`, `policy_gates_dry`,
//! `health_checks_dry` and `scan_secrets_dry`. A step that could not check
//! anything is SKIP, never OK, and anything but OK fails the pack.
//!
//! SIGINT and SIGTERM stop the pack: the running step's process group is
//! killed, the steps not run show SKIP, and the table is still printed.
//! (A built-in step is bounded by its own budgets and is not cut short.)

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde_json::json;

use super::{Context, Done, Error, Workspace, gate};
use crate::checks::{health, list_some, policy};
use crate::cli::{Common, OutputArgs};
use crate::config::{self, Config};
use crate::envsnap::EnvSnapshot;
use crate::exit::Verdict;
use crate::git::{self, Opened};
use crate::progress::Progress;
use crate::report::{CheckResult, Kind, Outcome, Phase, Rule, Status};
use crate::{runner, scan};

/// The pack's report.
pub static KIND: Kind = Kind {
    name: "pack",
    title: "PRE-LIVE PACK DRY-RUN RESULTS",
    title_target: false,
    heading: "Pre-live pack",
    final_id: "pre_live_pack",
    marker: "PRE_LIVE_PACK",
    words: ["DRYRUN", "FAIL", "FAIL"],
    rows_key: "steps",
    compact_ok: true,
    rule: Rule::AllOk {
        fail: Verdict::Blocked,
    },
};

/// The built-in steps, in order.
pub const BUILTIN_STEPS: &[&str] = &[
    "config_check_dry",
    "policy_gates_dry",
    "health_checks_dry",
    "scan_secrets_dry",
];

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,

    /// WARN rows of the policy and health steps fail them
    #[arg(long)]
    pub strict: bool,
}

impl From<&gate::Args> for Args {
    fn from(g: &gate::Args) -> Self {
        Self {
            common: g.common.clone(),
            strict: g.strict,
        }
    }
}

pub fn output(args: &Args) -> Option<&OutputArgs> {
    Some(&args.common.output)
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
        self.rows.push(CheckResult::new(
            name,
            Phase::Pack,
            outcome,
            start.elapsed(),
        ));
    }
}

/// Run the pack.
pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let stop = cx.interrupt_flag();
    let ws = Workspace::open(&args.common.source, cx);
    let mut report = ws.report(&KIND, &args.common.target);
    let mut rows = Rows { rows: Vec::new() };
    match &ws.config {
        Ok(c) if !c.pack.steps.is_empty() => {
            configured(c, args, &ws.root, &stop, &cx.progress, &mut rows)
        }
        _ => builtin(&ws, args, cx.vars, &stop, &cx.progress, &mut rows),
    }
    report.rows = rows.rows;
    report.interrupted = Some(stop.load(Ordering::SeqCst));
    Ok(Done::Report(report))
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
    args: &Args,
    root: &Path,
    stop: &AtomicBool,
    progress: &Progress,
    rows: &mut Rows,
) {
    let env = vec![
        ("RS_DRY_RUN".to_string(), "1".to_string()),
        ("RS_ENV".to_string(), args.common.target.env().to_string()),
        (
            "RS_VERSION".to_string(),
            args.common.target.version().to_string(),
        ),
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
        let ran = runner::run(s, root, &env, stop);
        progress.end(&s.name);
        let (status, message, code) = match &ran.end {
            runner::End::Exited(0) => (Status::Ok, String::new(), Some(0)),
            runner::End::Exited(c) => (Status::Fail, format!("exit {c}"), Some(*c)),
            runner::End::Signalled(sig) => (Status::Fail, format!("killed by signal {sig}"), None),
            runner::End::TimedOut => (
                Status::Fail,
                format!("timed out after {}", humantime::format_duration(s.timeout)),
                None,
            ),
            runner::End::Interrupted => (Status::Fail, "interrupted".to_string(), None),
            runner::End::CouldNotStart(why) => {
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
        if ran.end == runner::End::Interrupted {
            not_run(rows, steps[i + 1..].iter().map(|s| s.name.clone()));
            return;
        }
    }
}

fn builtin(
    ws: &Workspace,
    args: &Args,
    vars: &EnvSnapshot,
    stop: &AtomicBool,
    progress: &Progress,
    rows: &mut Rows,
) {
    let (config, repo) = (&ws.config, &ws.repo);
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
            ("policy_gates_dry", Ok(c)) => policy_step(c, args, repo, vars),
            ("health_checks_dry", Ok(c)) => health_step(c, args),
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

fn policy_step(config: &Config, args: &Args, repo: &Opened, vars: &EnvSnapshot) -> Outcome {
    let input = policy::Input::new(
        args.common.target.env(),
        args.common.target.version(),
        config,
        repo,
        vars,
    );
    let strict = args.strict || input.policy.strict;
    let rows = policy::run(&input, false, strict);
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

fn health_step(config: &Config, args: &Args) -> Outcome {
    if config.health.is_empty() {
        return Outcome::skip("not checked: no health checks are configured");
    }
    let strict = args.strict || config.policy_for(args.common.target.env()).strict;
    let rows = health::run(&config.health, &Progress::none());
    summarize(&rows, strict, "health checks", "checks")
}

fn secrets_scan(config: Option<&Config>, repo: &Opened, vars: &EnvSnapshot) -> Outcome {
    let Ok(repo) = repo else {
        return Outcome::skip("not checked: not a readable git repository (see policy_gates_dry)");
    };
    let files = match git::files::files(&repo.repo) {
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
