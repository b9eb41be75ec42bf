//! `rotate [DIR]`: delete artifacts older than `--days`, then the oldest
//! until the total is under `--max-size`, always keeping the `--keep`
//! newest (see [`release_sentinel::rotate`] for the safety rules). `--dry-run` prints
//! the plan, the files it would delete (up to `rotate::run::LISTED` in the table,
//! all in JSON), and deletes nothing.
//!
//! Exit 0 when the rotation was done (or would be) and the folder ends
//! under its limits; 1 otherwise: a usage error, a refused or unreadable
//! folder, a file that could not be deleted, or a run held back by
//! `--keep` (over `--max-size` with the kept files alone). A dry run exits
//! as the run would, so that a pipeline can ask it whether the rotation
//! will do its job.

use std::path::PathBuf;

use super::{Context, Done, Error};
use crate::cli::{OutputArgs, SourceArgs};
use release_sentinel::config::values::parse_days;
use release_sentinel::report::Format;
use release_sentinel::rotate::KIND;
use release_sentinel::rotate::run::Options;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The folder [default: rotate.dir, else artifacts/ at the repository root]
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Delete files older than this many days (0 to 36500)
    #[arg(long, value_name = "N", value_parser = parse_days)]
    pub days: Option<u64>,

    /// Then delete the oldest until the total is under this (2G, 500 MiB;
    /// binary units)
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,

    /// Always keep the N newest files
    #[arg(long, value_name = "N")]
    pub keep: Option<u64>,

    /// Print the plan (the files it would delete) and the bytes it would
    /// free; delete nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub source: SourceArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

impl Args {
    /// The library's options for this run.
    pub fn options(&self) -> Options {
        let out = &self.output;
        Options {
            dir: self.dir.clone(),
            days: self.days,
            max_size: self.max_size.clone(),
            keep: self.keep,
            dry_run: self.dry_run,
            detailed: out.format == Format::Json || out.report.is_some() || out.junit.is_some(),
        }
    }
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let ws = args.source.open(None, cx);
    let mut report = ws.report(&KIND, None, None);
    release_sentinel::rotate::run::rotate(&args.options(), &ws, cx, &mut report)
        .map_err(Error::Refused)?;
    Ok(Done::Report(report))
}
