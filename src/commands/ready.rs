//! `ready --env E --version V` (make-ready): the pre-live pack, and a
//! readiness score over the gate's checks, compared with pass and warn
//! thresholds and written to a JSON file (so that `freshness` can watch
//! it). Ends with `| make_ready                | OK   | MAKE_READY=OK |`
//! (or `FAIL`/`MAKE_READY=FAIL`). Exit 0 when the pack passed and the score
//! reached the warn threshold, 1 otherwise.
//!
//! The score: every policy gate and health check has a weight (default 1);
//! OK earns it whole, WARN half, anything else nothing; a check marked key
//! that does not pass makes the score 0. `CI_FAKE_UTC`, when set, is the
//! time the file records.

use super::{Context, Done, Error};
use crate::cli::Common;
use release_sentinel::ready::KIND;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,

    /// WARN rows of the policy and health checks count as failures
    #[arg(long)]
    pub strict: bool,
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let ws = args.common.open(cx);
    let mut report = args.common.target.report(&ws, &KIND);
    let options = release_sentinel::gate::Options {
        strict: args.strict,
        ..args.common.options()
    };
    release_sentinel::ready::run::make_ready(&options, &ws, cx, &mut report);
    Ok(Done::Report(report))
}
