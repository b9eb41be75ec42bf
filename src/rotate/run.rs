//! A rotation's run (`rotate`): the folder from the options and
//! `[rotate]`, the scan, the plan, and the deletion (or, dry, the plan's
//! files listed), each a row. It reads the whole configuration and the
//! workspace, so the engine and the section ([`super`]) do not import it.

use std::path::PathBuf;

use super::{Action, DIR};
use crate::config::values::{days_before, parse_size};
use crate::report::{CheckResult, Outcome, Report};
use crate::text::{count, human};
use crate::workspace::{Context, Workspace};

/// What a rotation is asked to do; a value left out comes from `[rotate]`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The folder (default: `rotate.dir`, else `artifacts/` at the root).
    pub dir: Option<PathBuf>,
    /// Delete files older than this many days.
    pub days: Option<u64>,
    /// Then the oldest until the total is under this size (as written).
    pub max_size: Option<String>,
    /// Always keep this many of the newest files.
    pub keep: Option<u64>,
    /// Print the plan; delete nothing.
    pub dry_run: bool,
    /// Every file's fate in the last row's details (for JSON and the
    /// report files; the table shows none).
    pub detailed: bool,
}

/// How many files a dry run's table lists; the JSON report has them all.
pub const LISTED: usize = 20;

/// How old a file is, as a person says it.
fn age(now: i64, mtime: i64) -> String {
    let secs = now.saturating_sub(mtime);
    let n = |d: i64| usize::try_from(secs / d).unwrap_or(usize::MAX);
    if secs < 0 {
        "dated in the future".to_string()
    } else if secs >= 86_400 {
        format!("{} old", count(n(86_400), "day"))
    } else if secs >= 3_600 {
        format!("{} old", count(n(3_600), "hour"))
    } else {
        format!("{} old", count(n(60), "minute"))
    }
}

/// Debug builds only (the integration tests): with
/// `RS_TEST_ROTATE_PAUSE=<folder>`, stop after the plan and before the
/// first deletion (create `<folder>/paused`, wait up to a minute for
/// `<folder>/resume`), so that a test can change the tree at that moment.
/// Compiled out of release builds.
#[cfg(debug_assertions)]
fn pause_point(cx: &Context<'_>) {
    let Some(gate) = cx.vars.non_empty("RS_TEST_ROTATE_PAUSE") else {
        return;
    };
    let gate = std::path::Path::new(gate);
    if std::fs::write(gate.join("paused"), "").is_err() {
        return;
    }
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !gate.join("resume").exists() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

pub fn rotate(
    options: &Options,
    ws: &Workspace,
    cx: &Context<'_>,
    report: &mut Report,
) -> Result<(), String> {
    // Without a valid time nothing is deleted: ages are judged by the
    // run's clock (CI_FAKE_UTC when set).
    let (Ok(config), &Ok(clock)) = (&ws.config, &ws.now) else {
        return Ok(());
    };
    let cfg = &config.rotate;
    let root = crate::git::root_of(&ws.repo).map(PathBuf::from);
    let dir = match (&options.dir, &cfg.dir) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => ws.root.join(d),
        (None, None) => ws.root.join(DIR),
    };
    let days = options.days.or(cfg.days);
    let max_size = match options.max_size.as_deref().or(cfg.max_size.as_deref()) {
        None => None,
        Some(text) => Some(parse_size(text).map_err(|e| format!("--max-size: {e}"))?),
    };
    let keep_given = options.keep.or(cfg.keep).unwrap_or(0);
    // More than there can be files keeps them all.
    let keep = usize::try_from(keep_given).unwrap_or(usize::MAX);
    if days.is_none() && max_size.is_none() {
        return Err(
            "nothing would be deleted: set --days, --max-size, or [rotate] days/max_size"
                .to_string(),
        );
    }
    let now = clock.utc.timestamp();
    let cutoff = match days {
        None => None,
        Some(d) => Some(days_before(now, d).map_err(|e| format!("--days: {e}"))?),
    };
    let home = cx.vars.non_empty("HOME").map(PathBuf::from);
    let shown_dir = dir
        .strip_prefix(&ws.root)
        .unwrap_or(&dir)
        .display()
        .to_string();
    let folder = match super::open(&dir, home.as_deref(), root.as_deref(), !options.dry_run) {
        Ok(x) => x,
        Err(why) => {
            report
                .rows
                .push(CheckResult::untimed("folder", Outcome::fail(why)));
            return Ok(());
        }
    };
    let scan = super::scan(&folder, crate::par::threads(4));
    let files = &scan.files;
    let plan = super::plan(files, cutoff, max_size, keep);
    let mut scan_row = Outcome::ok(format!(
        "{shown_dir}: {}, {}; {} not followed, {} not entered",
        count(files.len(), "file"),
        human(plan.total),
        count(scan.links, "link"),
        count(scan.mounts, "other mount"),
    ));
    if !scan.unreadable.is_empty() {
        scan_row = Outcome::fail(format!(
            "{shown_dir}: {} could not be read: {}",
            count(scan.unreadable.len(), "folder"),
            crate::text::list_some(&scan.unreadable, 3)
        ));
    }
    report.rows.push(CheckResult::untimed("scan", scan_row));
    let (ttl_n, ttl_b) = plan.deleted(files, Action::Ttl);
    let days_text = days.map(|d| count(usize::try_from(d).unwrap_or(usize::MAX), "day"));
    report.rows.push(CheckResult::untimed(
        "ttl",
        Outcome::ok(match (&days_text, cutoff) {
            (Some(d), Some(c)) => {
                // Old files among the kept ones are old too: say so.
                let older = files.iter().filter(|f| f.mtime < c).count();
                let held = older.saturating_sub(ttl_n);
                if held == 0 {
                    format!("{} older than {d}: {}", count(older, "file"), human(ttl_b))
                } else {
                    format!(
                        "{} older than {d}, {held} of them kept by --keep {keep_given}: {ttl_n} \
                         to delete, {}",
                        count(older, "file"),
                        human(ttl_b)
                    )
                }
            }
            _ => "no TTL (--days) set".to_string(),
        }),
    ));
    let (size_n, size_b) = plan.deleted(files, Action::Size);
    report.rows.push(CheckResult::untimed(
        "size",
        Outcome::ok(match max_size {
            Some(m) => format!(
                "{size_n} more of the oldest to get under {}: {}; {} left",
                human(m),
                human(size_b),
                human(plan.after)
            ),
            None => "no size limit (--max-size) set".to_string(),
        }),
    ));
    let kept = plan.actions.iter().filter(|a| **a == Action::Keep).count();
    report.rows.push(CheckResult::untimed(
        "keep",
        match max_size {
            // The run cannot get under the limit: it fails (and so does
            // its dry run, which answers what the run would do).
            Some(m) if plan.after > m => Outcome::warn(format!(
                "held back by --keep {keep_given}: the {kept} newest make {}, over the {} limit",
                human(plan.after),
                human(m)
            )),
            _ => Outcome::ok(format!("the {kept} newest kept (--keep {keep_given})")),
        },
    ));
    let detailed = options.detailed;
    let details: Vec<serde_json::Value> = if detailed {
        files
            .iter()
            .zip(&plan.actions)
            .map(|(f, a)| file_detail(&scan, f, *a))
            .collect()
    } else {
        Vec::new()
    };
    let total_n = ttl_n + size_n;
    let result = if options.dry_run {
        list_plan(report, &scan, &plan, now, days_text.as_deref());
        Outcome::ok(format!(
            "dry run: would delete {} and free {}",
            count(total_n, "file"),
            human(ttl_b.saturating_add(size_b))
        ))
    } else if scan.failed {
        Outcome::fail("the walk failed: nothing was deleted")
    } else {
        #[cfg(debug_assertions)]
        pause_point(cx);
        let applied = super::apply(&folder, &scan, &plan);
        let mut notes = String::new();
        if applied.vanished > 0 {
            notes.push_str(&format!("; {} vanished meanwhile", applied.vanished));
        }
        if applied.changed > 0 {
            notes.push_str(&format!(
                "; {} changed since the scan, left alone",
                applied.changed
            ));
        }
        let o = if applied.failed.is_empty() {
            Outcome::ok(format!(
                "deleted {}, freed {}{notes}",
                count(applied.deleted, "file"),
                human(applied.freed),
            ))
        } else {
            Outcome::fail(format!(
                "{} could not be deleted: {}{notes}",
                count(applied.failed.len(), "file"),
                crate::text::list_some(&applied.failed, 3)
            ))
        };
        o.detail("deleted", applied.deleted)
            .detail("vanished", applied.vanished)
            .detail("changed", applied.changed)
            .detail("freed", applied.freed)
    };
    let result = if detailed {
        result.detail("files", details)
    } else {
        result
    };
    report.rows.push(CheckResult::untimed("rotate", result));
    Ok(())
}

/// One file in the JSON report: its path (shown; with the exact bytes in
/// hex when they are not UTF-8), size, time and what becomes of it.
fn file_detail(scan: &super::Scan, f: &super::File, action: Action) -> serde_json::Value {
    let path = scan.path(f);
    let mut m = serde_json::Map::new();
    m.insert("path".into(), super::shown(&path).into());
    if std::str::from_utf8(&path).is_err() {
        m.insert("path_hex".into(), crate::digest::hex(&path).into());
    }
    m.insert("size".into(), f.size.into());
    m.insert("mtime".into(), f.mtime.into());
    m.insert("action".into(), action.name().into());
    serde_json::Value::Object(m)
}

/// The dry run's plan in the table: the files it would delete, oldest
/// first (as the rotation reasons: the TTL, then the size), each with its
/// age and size, up to [`LISTED`], then how many more.
fn list_plan(
    report: &mut Report,
    scan: &super::Scan,
    plan: &super::Plan,
    now: i64,
    days: Option<&str>,
) {
    let mut doomed: Vec<(&super::File, Action)> = scan
        .files
        .iter()
        .zip(&plan.actions)
        .filter(|(_, a)| a.deletes())
        .map(|(f, a)| (f, *a))
        .collect();
    // Stable: files of the same time stay in path order.
    doomed.sort_by_key(|(f, _)| (f.mtime, f.mtime_ns));
    for (i, (f, a)) in doomed.iter().take(LISTED).enumerate() {
        let why = match (a, days) {
            (Action::Ttl, Some(d)) => format!("older than {d}"),
            _ => "over the size limit".to_string(),
        };
        report.rows.push(CheckResult::untimed(
            format!("delete:{}", i + 1),
            Outcome::ok(format!(
                "{}: {}, {} ({why})",
                super::shown(&scan.path(f)),
                age(now, f.mtime),
                human(f.size)
            )),
        ));
    }
    if doomed.len() > LISTED {
        report.rows.push(CheckResult::untimed(
            "delete:more",
            Outcome::ok(format!(
                "and {} more (the JSON report lists every file)",
                doomed.len() - LISTED
            )),
        ));
    }
}
