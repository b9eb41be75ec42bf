//! `backup verify <MANIFEST>`: a backup is there, intact and recent. The
//! manifest (JSON) lists the backup's files, relative to its own folder,
//! with their sizes and SHA-256, when the backup was made, and a reference
//! to the restore drill that proved it can be restored. Missing, modified
//! and stale are named. Exit 0 when all passed, 1 otherwise.

use std::path::PathBuf;

use super::{Context, Done, Error};
use crate::cli::{OutputArgs, SourceArgs};
use release_sentinel::backup::{KIND, MAX_AGE, check};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// Check a backup manifest: every file present and intact, the backup
    /// recent enough, the restore drill referenced when required
    Verify {
        /// The manifest (JSON)
        #[arg(value_name = "MANIFEST")]
        manifest: PathBuf,
        /// The most the backup may age [default: backup.max_age, 24h]
        #[arg(long, value_name = "DURATION")]
        max_age: Option<String>,
        #[command(flatten)]
        source: SourceArgs,
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
        manifest,
        max_age,
        source,
        ..
    } = &args.action;
    let ws = source.open(None, cx);
    let mut report = ws.report(&KIND, None, None);
    let cfg = ws
        .config
        .as_ref()
        .map(|c| c.backup.clone())
        .unwrap_or_default();
    let max_age = match max_age.as_deref().or(cfg.max_age.as_deref()) {
        None => MAX_AGE,
        Some(t) => humantime::parse_duration(t.trim()).map_err(|_| {
            Error::Refused(format!(
                "max age {}: not a duration like 24h",
                release_sentinel::sanitize::quoted(t)
            ))
        })?,
    };
    let now = release_sentinel::clock::now(cx.vars).map_err(Error::Refused)?;
    report.rows = check(manifest, max_age, cfg.require_drill.unwrap_or(false), now);
    Ok(Done::Report(report))
}
