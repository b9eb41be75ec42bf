//! `verify`: after the deploy, watch the release for a window and say
//! HEALTHY (exit 0) or ROLLBACK (exit 2), running the rollback when a
//! trigger fires. Exit 1 when it could not run (an invalid config or
//! argument, no `[verify]` section, SIGINT or SIGTERM). The watch is the
//! library's ([`release_sentinel::verify::run`]); this module is its
//! command line.

use std::path::PathBuf;

use super::{Context, Done, Error};
use crate::cli::{Common, EvidenceArgs};
use release_sentinel::verify::run::{self, Options};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,

    /// How long to watch, e.g. 15m [default: verify.for in the config]
    #[arg(long = "for", value_name = "DURATION")]
    pub window: Option<String>,

    /// Between evaluations, e.g. 30s [default: verify.interval]
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,

    /// Evaluate every probe and rule once, and stop (a CI step right after
    /// a deploy, or a cron job)
    #[arg(long)]
    pub once: bool,

    /// Judge the rules as of this time (RFC 3339 or unix seconds), once: a
    /// verdict over stored metrics, reproduced
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,

    /// Report the rollback command a trigger would run, without running it
    #[arg(long)]
    pub no_rollback: bool,

    /// The profile switches' state file [default: verify.state_file]
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,

    #[command(flatten)]
    pub evidence: EvidenceArgs,
}

impl Args {
    /// The library's options: the release and the watch's flags as given.
    pub fn options(&self) -> Options {
        Options {
            env: self.common.target.env().to_string(),
            version: self.common.target.version().to_string(),
            window: self.window.clone(),
            interval: self.interval.clone(),
            once: self.once,
            at: self.at.clone(),
            no_rollback: self.no_rollback,
            state: self.state.clone(),
        }
    }
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let ws = args.common.open(cx);
    let mut report = run::run(&args.options(), &ws, cx).map_err(Error::Refused)?;
    args.evidence.attach(&mut report, &ws, cx, false);
    Ok(Done::Report(report))
}
