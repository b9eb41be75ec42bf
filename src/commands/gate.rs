//! The gate: may this version go to this environment now? The policy
//! gates in order, then (when every one passed) the health checks, all
//! at once. Without a subcommand, the tool is this command; `--dry-run`
//! runs the pre-live pack instead. SIGINT or SIGTERM stop it: what ran is
//! reported, the rest is SKIP, and the verdict is BLOCKED (exit 1).

use super::{Context, Done, Error, pack};
use crate::cli::{Common, EvidenceArgs, FreezeArgs};
use release_sentinel::checks::health;
use release_sentinel::report::Format;

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

/// The gate and the pack take the same options.
impl From<&Args> for pack::Args {
    fn from(g: &Args) -> Self {
        Self {
            common: g.common.clone(),
            fail_fast: g.fail_fast,
            strict: g.strict,
            freeze: g.freeze.clone(),
        }
    }
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
    let pack_args = pack::Args::from(args);
    if args.dry_run {
        return pack::run(&pack_args, cx);
    }
    let ws = args.common.open(cx);
    let options = release_sentinel::gate::Options {
        detail: detail(args),
        ..pack_args.options()
    };
    let mut report = release_sentinel::gate::judge(&options, &ws, cx);
    args.evidence.attach(&mut report, &ws, cx, args.fail_fast);
    // The process ends once the report is delivered. Freeing the workspace
    // would free libgit2's copy of the index entry by entry: about 15 ms at
    // 100,000 tracked files, for memory the exit returns anyway. Nothing in
    // it needs closing (nothing was written).
    std::mem::forget(ws);
    Ok(Done::Report(report))
}
