//! The pre-live pack (`pack`, or the gate's `--dry-run`): an ordered suite
//! of read-only validation steps, each reported as one row.
//!
//! A step is a configured command (run by [`release_sentinel::runner`]: its own
//! process group, a timeout, captured output) or one of the tool's own
//! steps, each doing real work: `config_check_dry`, `policy_gates_dry`,
//! `health_checks_dry` and `scan_secrets_dry`. Without configured steps
//! the pack is the built-in ones; with them, a built-in step runs where a
//! `[[pack.steps]]` entry names it without a `run`. A step that could not
//! check anything is SKIP, never OK, and anything but OK fails the pack.
//!
//! Every step has a timeout. A built-in step runs on a thread of its own,
//! so that its timeout holds and SIGINT or SIGTERM stop the pack within a
//! moment even when it waits on a hung dependency (the thread is left to
//! end with the process). On SIGINT or SIGTERM the running step is ended,
//! the steps not run show SKIP, and the table is still printed.

use std::sync::atomic::Ordering;

use super::{Context, Done, Error};
use crate::cli::{Common, FreezeArgs};
use release_sentinel::pack::KIND;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,

    /// Stop at the first step that does not pass (the rest show SKIP)
    #[arg(long)]
    pub fail_fast: bool,

    /// WARN rows of the policy and health steps fail them
    #[arg(long)]
    pub strict: bool,

    #[command(flatten)]
    pub freeze: FreezeArgs,
}

impl Args {
    /// The library's options for this run.
    pub fn options(&self) -> release_sentinel::gate::Options {
        release_sentinel::gate::Options {
            fail_fast: self.fail_fast,
            strict: self.strict,
            override_freeze: self.freeze.override_freeze.clone(),
            ..self.common.options()
        }
    }
}

/// Run the pack.
pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let stop = cx.interrupt_flag();
    let ws = args.common.open(cx);
    let mut report = args.common.target.report(&ws, &KIND);
    // Without a usable time nothing runs: no step may judge by a time
    // other than the one asked for.
    let Ok(now) = ws.now else {
        return Ok(Done::Report(report));
    };
    report.rows = release_sentinel::pack::run::steps(&args.options(), &ws, cx, now, &stop);
    report.interrupted = Some(stop.load(Ordering::SeqCst));
    Ok(Done::Report(report))
}
