//! `predeploy --env staging --version V`: the pre-deployment protocol
//! ([`release_sentinel::predeploy`]) from the command line: `--yes` for
//! CI's answers, `--out` for the evidence folder, `--evidence` for a
//! record of the run.

use std::path::PathBuf;

use super::{Context, Done, Error};
use crate::cli::Common;
use release_sentinel::predeploy::{self, KIND};

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:\n  \
    release-sentinel predeploy --env staging --version v1.2.3\n  \
    release-sentinel predeploy --env staging --version v1.2.3 --yes   # in CI: answer the prompts yes\n\n\
    Exit codes: 0 READY (every step passed), 1 HALTED (a step failed, a prompt was\n\
    answered no, the run was interrupted, or it could not run).")]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Answer yes to the protocol's prompts (for CI). Without it, and
    /// without a terminal to ask on, the answer is no
    #[arg(long)]
    pub yes: bool,
    /// Where the evidence files go [default: .artifacts/pre-deployment at
    /// the repository root]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub evidence: crate::cli::EvidenceArgs,
}

impl Args {
    /// The library's options for this run.
    pub fn options(&self) -> predeploy::steps::Options {
        predeploy::steps::Options {
            env: self.common.target.env().to_string(),
            version: self.common.target.version().to_string(),
            yes: self.yes,
            out: self.out.clone(),
        }
    }
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let ws = args.common.open(cx);
    let mut report = args.common.target.report(&ws, &KIND);
    let (Ok(config), &Ok(clock)) = (&ws.config, &ws.now) else {
        return Ok(Done::Report(report));
    };
    // The version reaches the rehearsal commands: parse it before anything
    // runs or is written.
    super::release_version(config, &args.common.target)?;
    predeploy::steps::run(&args.options(), &ws, config, clock, cx, &mut report).map_err(|e| {
        Error::Write {
            what: e.what,
            source: e.source,
        }
    })?;
    args.evidence.attach(&mut report, &ws, cx, false);
    Ok(Done::Report(report))
}
