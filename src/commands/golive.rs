//! `golive --env prod --version V [--dry-run]`: the go-live checklist
//! ([`release_sentinel::golive::checklist`]): the gate, the pre-live pack,
//! the backup, fresh parity evidence, no open blocker, then the
//! `[[golive.items]]`. This module is its command line.

use super::{Context, Done, Error};
use crate::cli::Common;
use release_sentinel::golive::checklist::{self, Options};

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:\n  \
    release-sentinel golive --env prod --version v1.2.3 --dry-run\n  \
    release-sentinel golive --env prod --version v1.2.3\n\n\
    Exit codes: 0 PASS (or DRY-RUN), 1 FAIL (an item failed or cannot run as configured).")]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Show what each item would run (DRY-RUN <command>) and run nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl Args {
    /// The library's options: the release, and whether to run nothing.
    pub fn options(&self) -> Options {
        Options {
            release: self.common.options(),
            dry_run: self.dry_run,
        }
    }
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let ws = args.common.open(cx);
    Ok(Done::Report(checklist::run(&args.options(), &ws, cx)))
}
