//! `freshness`: the cron sentinel. Each task names an artifact (a path or
//! a glob: the newest match counts) that a scheduled job writes, and the
//! most it may age. A task is FRESH, STALE or MISSING; a file dated in the
//! future (clock skew) is not fresh. Exit 0 when all are fresh, 1
//! otherwise. Tasks come from `[[freshness.tasks]]` or, with `--tasks`,
//! from the seed's JSON file, accepted as is.

use std::path::PathBuf;

use super::{Context, Done, Error};
use crate::cli::{OutputArgs, SourceArgs};
use release_sentinel::freshness::{self, KIND};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The seed's JSON task file ({"tasks": [{"name", "artifact", "max_age"}]})
    /// [default: [[freshness.tasks]] in the config]
    #[arg(long, value_name = "FILE")]
    pub tasks: Option<PathBuf>,

    #[command(flatten)]
    pub source: SourceArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let ws = args.source.open(None, cx);
    let mut report = ws.report(&KIND, None, None);
    let tasks = match &args.tasks {
        Some(path) => match freshness::read_tasks(path).map_err(Error::Refused)? {
            Ok(tasks) => {
                report.config = Some(release_sentinel::sanitize::ascii(
                    &path.display().to_string(),
                ));
                tasks
            }
            Err(invalid) => {
                report.error = Some(invalid);
                return Ok(Done::Report(report));
            }
        },
        None => match &ws.config {
            Ok(c) => c.freshness.clone(),
            Err(_) => return Ok(Done::Report(report)),
        },
    };
    if tasks.is_empty() {
        report.error = Some(
            "no tasks: add [[freshness.tasks]] to the config, or pass --tasks FILE".to_string(),
        );
        return Ok(Done::Report(report));
    }
    let now = release_sentinel::clock::now(cx.vars).map_err(Error::Refused)?;
    report.rows = freshness::judge(&tasks, &ws.root, now);
    Ok(Done::Report(report))
}
