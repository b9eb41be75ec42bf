//! `evidence verify DIR [--replay] [--repo PATH]`: check an evidence
//! record (see [`release_sentinel::evidence`]): every file against `SHA256SUMS`, the
//! recorded verdict against the recorded rows, and with `--replay` the
//! policy gates re-run at the recorded commit. Exit 0 when it all checks,
//! 1 otherwise.

use std::path::PathBuf;

use super::{Context, Done, Error};
use crate::cli::{OutputArgs, SignersArgs};
use release_sentinel::evidence::KIND;
use release_sentinel::evidence::{self};
use release_sentinel::report::{CheckResult, Outcome, Phase, Report};

const VERIFY_HELP: &str = "\
Exit codes: 0 when every file matches SHA256SUMS, the verdict follows from
the rows and (with --replay) every policy row is the same now; 1 otherwise.

Examples:
  release-sentinel --env prod --version v1.2.3 --evidence evidence/v1.2.3
  release-sentinel evidence verify evidence/v1.2.3
  release-sentinel evidence verify evidence/v1.2.3 --replay --repo ./service
  (cd evidence/v1.2.3 && sha256sum -c SHA256SUMS)";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// Check an evidence record: every file against SHA256SUMS, and the
    /// recorded verdict against the recorded rows; --replay re-runs the
    /// policy gates at the recorded commit
    #[command(after_long_help = VERIFY_HELP)]
    Verify {
        /// The evidence directory (what --evidence DIR wrote)
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Also re-run the policy gates at the recorded commit, in a
        /// temporary checkout, with the recorded configuration, variables
        /// and time, and name every row that now differs
        #[arg(long)]
        replay: bool,
        /// The repository to replay in (discovered upward, like git)
        #[arg(long, value_name = "PATH", default_value = ".", requires = "replay")]
        repo: PathBuf,
        #[command(flatten)]
        signers: SignersArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
}

pub fn output(args: &Args) -> Option<&OutputArgs> {
    let Action::Verify { output, .. } = &args.action;
    Some(output)
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let Action::Verify {
        dir,
        replay,
        repo,
        signers,
        ..
    } = &args.action;
    let (signers, now) = evidence::sign::verifying(signers.allowed_signers.as_deref(), cx.vars)
        .map_err(Error::Refused)?;
    let checked = evidence::verify(dir, signers.as_ref(), now);
    let target = checked
        .record
        .as_ref()
        .map(|r| r.report.target.clone())
        .unwrap_or_default();
    let mut report = Report::new(&KIND, target);
    report.rows = checked.rows;
    if *replay {
        report.rows.extend(match &checked.record {
            Some(record) => evidence::replay::replay(record, dir, repo, cx.scrubber),
            None => vec![CheckResult::new(
                "replay",
                Phase::Pack,
                Outcome::fail(format!(
                    "{} cannot be read as a record (see the verdict row): nothing to re-run",
                    evidence::RECORD
                )),
                std::time::Duration::ZERO,
            )],
        });
    }
    Ok(Done::Report(report))
}
