//! `freshness`, the cron sentinel: its report and its config section
//! (`[[freshness.tasks]]`, or the seed's JSON task file), validated.
//! The command (`commands/freshness.rs`) judges each task's artifact.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::config::values::Problems;
use crate::report::{CheckResult, Kind, Outcome, Phase};

/// The freshness report.
pub static KIND: Kind = Kind {
    name: "freshness",
    title: "FRESHNESS",
    heading: "Freshness",
    final_id: "freshness",
    marker: "FRESHNESS",
    ..Kind::CHECKS
};

/// One task as written (in the config or the seed's JSON file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    pub name: String,
    pub artifact: String,
    pub max_age: String,
}

/// `[freshness]` (and the seed's `{"tasks": [...]}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub tasks: Option<Vec<RawTask>>,
}

/// A validated task.
#[derive(Debug, Clone)]
pub struct Task {
    pub name: String,
    pub artifact: String,
    pub glob: Option<globset::GlobMatcher>,
    pub max_age: Duration,
}

/// Validate tasks; problems under `prefix` (`freshness.tasks` or the file).
pub fn validate(raw: Raw, prefix: &str, problems: &mut Problems) -> Vec<Task> {
    let mut out = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, t) in raw.tasks.unwrap_or_default().into_iter().enumerate() {
        let key = format!("{prefix}[{i}]");
        if let Err(why) = crate::config::values::check_name(&t.name, "task") {
            problems.push(format!("{key}.name"), why);
        } else if !names.insert(t.name.clone()) {
            problems.push(
                format!("{key}.name"),
                format!(
                    "{} names another task too",
                    crate::sanitize::quoted(&t.name)
                ),
            );
        }
        let max_age = match humantime::parse_duration(t.max_age.trim()) {
            Ok(d) if !d.is_zero() => d,
            _ => {
                problems.push(
                    format!("{key}.max_age"),
                    format!(
                        "{} is not an age like \"36h\" or \"7d\"",
                        crate::sanitize::quoted(&t.max_age)
                    ),
                );
                continue;
            }
        };
        // Artifacts are the repository's own files: a path that leaves it
        // is refused here, by its key.
        if let Some(why) = crate::fsutil::unsafe_name(&t.artifact) {
            problems.push(
                format!("{key}.artifact"),
                format!(
                    "{}: {why}; artifacts are paths relative to the repository root",
                    crate::sanitize::quoted(&t.artifact)
                ),
            );
            continue;
        }
        let glob = if t.artifact.contains(['*', '?', '[', '{']) {
            match globset::GlobBuilder::new(&t.artifact)
                .literal_separator(true)
                .build()
            {
                Ok(g) => Some(g.compile_matcher()),
                Err(e) => {
                    problems.push(
                        format!("{key}.artifact"),
                        format!("invalid glob: {}", e.kind()),
                    );
                    continue;
                }
            }
        } else {
            None
        };
        out.push(Task {
            name: t.name,
            artifact: t.artifact,
            glob,
            max_age,
        });
    }
    out
}

/// A task file (`--tasks`, the seed's JSON), read and validated: the
/// tasks, or the problems in one line (`Ok(Err(..))`); `Err` when it
/// cannot be read or is no task file at all.
pub fn read_tasks(path: &Path) -> Result<Result<Vec<Task>, String>, String> {
    let shown = crate::sanitize::ascii(&path.display().to_string());
    let data = crate::fsutil::read_regular(path, 4 * 1024 * 1024)
        .map_err(|why| format!("cannot read {shown}: {why}"))?;
    let raw: Raw =
        serde_json::from_slice(&data).map_err(|e| format!("{shown} is not a task file: {e}"))?;
    let mut problems = Problems::default();
    let tasks = validate(raw, "tasks", &mut problems);
    if !problems.is_empty() {
        let text: Vec<String> = problems.list().iter().map(|p| p.to_string()).collect();
        return Ok(Err(format!(
            "invalid task file {shown}: {}",
            text.join("; ")
        )));
    }
    Ok(Ok(tasks))
}

/// One row per task: FRESH, STALE or MISSING at `now`, its artifact's
/// newest file under `root`.
pub fn judge(tasks: &[Task], root: &Path, now: SystemTime) -> Vec<CheckResult> {
    let mut rows = Vec::with_capacity(tasks.len());
    for t in tasks {
        let id = format!("task:{}", t.name);
        let outcome = match newest(t, root) {
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
        rows.push(CheckResult::new(id, Phase::Pack, outcome, Duration::ZERO));
    }
    rows
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
            let base = crate::fsutil::literal_prefix(&task.artifact);
            let files = crate::fsutil::walk(root, &base, Path::new(""))
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
