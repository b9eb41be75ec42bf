//! `evidence verify DIR [--replay] [--repo PATH]`: check an evidence
//! record (see [`release_sentinel::evidence`]): every file against `SHA256SUMS`, the
//! recorded verdict against the recorded rows, and with `--replay` the
//! policy gates re-run at the recorded commit. Exit 0 when it all checks,
//! 1 otherwise. And [`attach`]: how a command writes the record
//! `--evidence DIR` asks for.

use std::path::PathBuf;

use super::{Context, Done, Error, Workspace};
use crate::cli::{EvidenceArgs, OutputArgs, SignersArgs};
use release_sentinel::evidence::KIND;
use release_sentinel::evidence::{self, Inputs};
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

/// Write the record `--evidence DIR` asks for, once `report`'s rows are
/// final. A record that cannot be written makes the report an error
/// (BLOCKED, exit 1) that names the directory: a run that was asked for
/// its evidence never passes without it. `fail_fast` is the gate's
/// `--fail-fast` (a replay repeats it).
pub fn attach(
    args: &EvidenceArgs,
    report: &mut Report,
    ws: &Workspace,
    cx: &Context<'_>,
    fail_fast: bool,
) {
    let Some(dir) = &args.evidence else {
        return;
    };
    let signer = evidence::sign::signer(
        args.sign_key.as_deref(),
        cx.vars,
        cx.scrubber,
        ws.config
            .as_ref()
            .ok()
            .map(|c| (&c.signing, ws.root.as_path())),
    );
    let inputs = Inputs {
        argv: &cx.argv,
        vars: cx.vars,
        config: ws.config.as_ref().ok(),
        repo: ws.repo.as_ref().ok(),
        fail_fast,
        signer: signer.as_ref().ok().and_then(Option::as_ref),
    };
    let written = signer
        .as_ref()
        .map_err(|why| {
            format!(
                "cannot write evidence to {}: {why}",
                release_sentinel::sanitize::ascii(&cx.scrubber.scrub(&dir.display().to_string()))
            )
        })
        .and_then(|_| evidence::record(dir, report, &inputs, cx.scrubber));
    if let Err(why) = written {
        report.error = Some(match report.error.take() {
            Some(first) => format!("{first}\n{why}"),
            None => why,
        });
    }
}
