//! The gate: may this version go to this environment now? The policy
//! gates in order, then (when every one passed) the health checks, all
//! at once. Without a subcommand, the tool is this command; `--dry-run`
//! runs the pre-live pack instead.

use super::{Context, Done, Error, Workspace, pack};
use crate::checks::{health, policy};
use crate::cli::{Common, OutputArgs};
use crate::exit::Verdict;
use crate::report::{Kind, Rule};

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

    /// Run the pre-live pack instead of the gate (exit 0 when every step
    /// passed, else 1)
    #[arg(long)]
    pub dry_run: bool,
}

pub fn output(args: &Args) -> Option<&OutputArgs> {
    Some(&args.common.output)
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    if args.dry_run {
        return pack::run(&pack::Args::from(args), cx);
    }
    let ws = Workspace::open(&args.common.source, cx);
    let mut report = ws.report(&KIND, &args.common.target);
    report.strict = Some(args.strict);
    let Ok(config) = &ws.config else {
        return Ok(Done::Report(report));
    };
    let (env, version) = (args.common.target.env(), args.common.target.version());
    tracing::info!(config = %config.source, env, version, "running the policy gates");
    let input = policy::Input::new(env, version, config, &ws.repo, cx.vars);
    let strict = args.strict || input.policy.strict;
    report.strict = Some(strict);
    report.rows = policy::run(&input, args.fail_fast, strict);
    let start = std::time::Instant::now();
    if report.verdict() == Verdict::Safe {
        tracing::info!(checks = config.health.len(), "running the health checks");
        report
            .rows
            .extend(health::run(&config.health, &cx.progress));
    } else {
        report.rows.extend(health::skipped(&config.health));
    }
    tracing::debug!(elapsed = ?start.elapsed(), "health phase done");
    // The process ends once the report is delivered. Freeing the workspace
    // would free libgit2's copy of the index entry by entry: about 15 ms at
    // 100,000 tracked files, for memory the exit returns anyway. Nothing in
    // it needs closing (nothing was written).
    std::mem::forget(ws);
    Ok(Done::Report(report))
}
