//! `freshness`: the cron sentinel. Each task names an artifact (a path or
//! a glob: the newest match counts) that a scheduled job writes, and the
//! most it may age. A task is FRESH, STALE or MISSING; a file dated in the
//! future (clock skew) is not fresh. Exit 0 when all are fresh, 1
//! otherwise. Tasks come from `[[freshness.tasks]]` or, with `--tasks`,
//! from the seed's JSON file, accepted as is.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Context, Done, Error};
use crate::cli::{OutputArgs, SourceArgs};
use release_sentinel::config::values::Problems;
use release_sentinel::freshness::{KIND, Raw, Task, validate};
use release_sentinel::report::{CheckResult, Outcome, Phase};

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

/// The newest file matching `task` under `root`: path and mtime; or why
/// the artifact cannot be judged (a link on the way, a folder that cannot
/// be read). Only the repository's own files count: no link is followed.
fn newest(task: &Task, root: &Path) -> Result<Option<(String, SystemTime)>, String> {
    match &task.glob {
        None => {
            let mut at = PathBuf::new();
            for c in Path::new(&task.artifact).components() {
                at.push(c);
                match std::fs::symlink_metadata(root.join(&at)) {
                    Ok(m) if m.file_type().is_symlink() => {
                        return Err(format!(
                            "{} is a symbolic link; freshness judges only the repository's own files",
                            at.display()
                        ));
                    }
                    Ok(_) => {}
                    Err(_) => return Ok(None),
                }
            }
            let m = std::fs::symlink_metadata(root.join(&task.artifact))
                .ok()
                .filter(|m| m.is_file());
            Ok(m.and_then(|m| Some((task.artifact.clone(), m.modified().ok()?))))
        }
        Some(glob) => {
            // Walk only below the glob's fixed leading folders.
            let base = release_sentinel::bundle::literal_prefix(&task.artifact);
            let files = release_sentinel::bundle::walk(root, &base, Path::new(""))
                .map_err(|unread| unread.join("; "))?;
            Ok(files
                .into_iter()
                .map(|(f, _)| f)
                .filter(|f| glob.is_match(f.as_str()))
                .filter_map(|f| {
                    let m = std::fs::symlink_metadata(root.join(&f)).ok()?;
                    Some((f, m.modified().ok()?))
                })
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0))))
        }
    }
}

/// An age as people say it: `3h12m`, `2d`.
fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let ws = args.source.open(None, cx);
    let mut report = ws.report(&KIND, None, None);
    let tasks = match &args.tasks {
        Some(path) => {
            let shown = release_sentinel::sanitize::ascii(&path.display().to_string());
            let data = release_sentinel::fsutil::read_regular(path, 4 * 1024 * 1024)
                .map_err(|why| Error::Refused(format!("cannot read {shown}: {why}")))?;
            let raw: Raw = serde_json::from_slice(&data)
                .map_err(|e| Error::Refused(format!("{shown} is not a task file: {e}")))?;
            let mut problems = Problems::default();
            let tasks = validate(raw, "tasks", &mut problems);
            if !problems.is_empty() {
                let text: Vec<String> = problems.list().iter().map(|p| p.to_string()).collect();
                report.error = Some(format!("invalid task file {shown}: {}", text.join("; ")));
                return Ok(Done::Report(report));
            }
            report.config = Some(shown);
            tasks
        }
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
    for t in &tasks {
        let id = format!("task:{}", t.name);
        let outcome = match newest(t, &ws.root) {
            Err(why) => Outcome::fail(format!("cannot judge {}: {why}", t.artifact)),
            Ok(None) => Outcome::fail(format!("MISSING: nothing at {}", t.artifact)),
            Ok(Some((path, mtime))) => {
                let max = age(t.max_age);
                match now.duration_since(mtime) {
                    Err(e) => Outcome::fail(format!(
                        "STALE: {path} is dated {} in the future (clock skew?); max age {max}",
                        age(e.duration())
                    )),
                    Ok(a) if a > t.max_age => {
                        Outcome::fail(format!("STALE: {path} is {} old; max age {max}", age(a)))
                    }
                    Ok(a) => Outcome::ok(format!("FRESH: {path} is {} old; max age {max}", age(a))),
                }
                .detail("path", path)
                .detail(
                    "mtime",
                    mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
                )
            }
        };
        report
            .rows
            .push(CheckResult::new(id, Phase::Pack, outcome, Duration::ZERO));
    }
    Ok(Done::Report(report))
}
