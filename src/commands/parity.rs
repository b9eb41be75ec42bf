//! `parity --source A --target B`: does environment A's configuration
//! match B's? One row per key that is only on one side or differs, one
//! for keys allowed to differ (up to [`release_sentinel::parity::KEY_ROWS`] rows, then one that
//! counts the rest), and a summary naming every key. Drift in a critical key is
//! FAIL (exit 1); other drift is WARN. Secret values are never shown.

use super::{Context, Done, Error};
use crate::cli::{OutputArgs, SourceArgs};
use release_sentinel::parity::KIND;

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:\n  \
    release-sentinel parity --source staging --target production\n  \
    release-sentinel parity --source staging --target production --format json --report parity.json")]
pub struct Args {
    /// The environment checked (a [parity.env.<name>] entry)
    #[arg(long, value_name = "ENV")]
    pub source: String,
    /// The baseline it must match
    #[arg(long, value_name = "ENV")]
    pub target: String,
    #[command(flatten)]
    pub from: SourceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let ws = args.from.open(None, cx);
    let mut report = ws.report(&KIND, None, None);
    if let Ok(config) = &ws.config {
        report.rows = release_sentinel::parity::compare(
            &config.parity,
            &ws.root,
            &args.source,
            &args.target,
            cx.scrubber,
        );
    }
    Ok(Done::Report(report))
}
