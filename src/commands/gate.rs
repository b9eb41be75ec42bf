//! The gate: may this version go to this environment now? The policy
//! gates in order, then (when every one passed) the health checks, all
//! at once. Without a subcommand, the tool is this command; `--dry-run`
//! runs the pre-live pack instead. SIGINT or SIGTERM stop it: what ran is
//! reported, the rest is SKIP, and the verdict is BLOCKED (exit 1).

use std::sync::atomic::Ordering;

use super::{Context, Done, Error, Workspace, evidence, pack};
use crate::checks::{health, policy};
use crate::cli::{Common, EvidenceArgs, FreezeArgs, OutputArgs};
use crate::exit::Verdict;
use crate::report::{Format, Kind, Report, Rule};

/// The gate's report.
pub static KIND: Kind = Kind {
    name: "gate",
    title: "RELEASE SENTINEL",
    title_target: true,
    heading: "Release gate",
    final_id: "release_sentinel",
    marker: "RELEASE_SENTINEL",
    words: ["SAFE", "BLOCKED", "CRITICAL"],
    rows_key: "checks",
    compact_ok: false,
    rule: Rule::Phases,
    footer: None,
};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,

    /// Stop at the first failed gate (the rest show SKIP)
    #[arg(long)]
    pub fail_fast: bool,

    /// WARN rows block: a WARN policy row exits 1, a WARN health row 2
    #[arg(long)]
    pub strict: bool,

    #[command(flatten)]
    pub freeze: FreezeArgs,

    /// Run the pre-live pack instead of the gate (exit 0 when every step
    /// passed, else 1)
    #[arg(long, conflicts_with = "evidence")]
    pub dry_run: bool,

    #[command(flatten)]
    pub evidence: EvidenceArgs,
}

pub fn output(args: &Args) -> Option<&OutputArgs> {
    Some(&args.common.output)
}

/// The gate's rows (the policy gates, then the health checks when every
/// gate passed), and whether WARN rows block.
pub fn evaluate(
    args: &Args,
    config: &crate::config::Config,
    ws: &Workspace,
    cx: &Context<'_>,
    now: crate::clock::Now,
    stop: &std::sync::atomic::AtomicBool,
) -> (Vec<crate::report::CheckResult>, bool) {
    let (env, version) = (args.common.target.env(), args.common.target.version());
    tracing::info!(config = %config.source, env, version, "running the policy gates");
    let input = policy::Input::new(env, version, config, &ws.repo, cx.vars, now)
        .override_freeze(args.freeze.override_freeze.as_deref());
    let strict = args.strict || input.policy.strict;
    let mut rows = policy::run(&input, args.fail_fast, strict, stop);
    let start = std::time::Instant::now();
    let passed = rows
        .iter()
        .all(|r| !r.counts() || r.status().passed_in(strict));
    if passed && !stop.load(Ordering::SeqCst) {
        tracing::info!(checks = config.health.len(), "running the health checks");
        rows.extend(health::run_with(
            &config.health,
            cx.vars,
            &cx.progress,
            stop,
            detail(args),
        ));
    } else {
        rows.extend(health::skipped(&config.health));
    }
    tracing::debug!(elapsed = ?start.elapsed(), "health phase done");
    (rows, strict)
}

/// How much the health rows keep: every series of a fleet check only
/// when an output shows details (JSON, JUnit, a report file, an evidence
/// record); the table and the Markdown summary show none.
fn detail(args: &Args) -> health::Detail {
    let out = &args.common.output;
    let shown = !matches!(out.format, Format::Table | Format::Markdown)
        || out.report.is_some()
        || out.junit.is_some()
        || args.evidence.evidence.is_some();
    if shown {
        health::Detail::Full
    } else {
        health::Detail::Summary
    }
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    if args.dry_run {
        return pack::run(&pack::Args::from(args), cx);
    }
    let ws = Workspace::open(&args.common, cx);
    let mut report = judge(args, &ws, cx);
    evidence::attach(&args.evidence, &mut report, &ws, cx, args.fail_fast);
    // The process ends once the report is delivered. Freeing the workspace
    // would free libgit2's copy of the index entry by entry: about 15 ms at
    // 100,000 tracked files, for memory the exit returns anyway. Nothing in
    // it needs closing (nothing was written).
    std::mem::forget(ws);
    Ok(Done::Report(report))
}

/// The gate's report: its rows, and the notifications they call for.
fn judge(args: &Args, ws: &Workspace, cx: &Context<'_>) -> Report {
    let stop = cx.interrupt_flag();
    let mut report = ws.report(&KIND, &args.common.target);
    report.strict = Some(args.strict);
    let (Ok(config), &Ok(now)) = (&ws.config, &ws.now) else {
        return report;
    };
    let (rows, strict) = evaluate(args, config, ws, cx, now, &stop);
    report.strict = Some(strict);
    report.rows = rows;
    report.interrupted = Some(stop.load(Ordering::SeqCst));
    // Tell people about a release the gate stopped, and about a freeze
    // overridden (the exception is recorded where people see it), when
    // configured.
    let mut events: Vec<(&str, String)> = Vec::new();
    let stopped = match report.verdict() {
        Verdict::Blocked if report.interrupted != Some(true) => Some("gate.blocked"),
        Verdict::Critical => Some("gate.critical"),
        _ => None,
    };
    if let Some(event) = stopped {
        let failed: Vec<String> = report
            .rows
            .iter()
            .filter(|r| r.counts() && !r.status().passed_in(strict))
            .map(|r| format!("{} ({})", r.id, r.outcome.message))
            .collect();
        events.push((event, crate::checks::list_some(&failed, 2)));
    }
    if let Some(row) = report.rows.iter().find(|r| {
        r.id == "deploy_window"
            && r.outcome
                .details
                .get("override")
                .and_then(|o| o.get("accepted"))
                == Some(&serde_json::Value::Bool(true))
    }) {
        events.push(("gate.freeze_override", row.outcome.message.clone()));
    }
    let proxies = crate::http::Proxies::from_env(cx.vars);
    for (event, reason) in events {
        let verdict = ("verdict", report.kind.word(report.verdict()).to_string());
        let message = super::verify::message(config, &report, event, &reason, None, &[verdict]);
        let rows = crate::notify::deliver_all(&config.notify, &message, &proxies, false);
        // Row ids are unique: a target that takes a second event gets a
        // row named by the event too.
        for mut row in rows {
            if report.rows.iter().any(|r| r.id == row.id) {
                row.id = format!("{}:{event}", row.id);
            }
            report.rows.push(row);
        }
    }
    report
}
