//! `rotate [DIR]`: delete artifacts older than `--days`, then the oldest
//! until the total is under `--max-size`, always keeping the `--keep`
//! newest (see [`release_sentinel::rotate`] for the safety rules). `--dry-run` prints
//! the plan, the files it would delete (up to [`LISTED`] in the table, all
//! in JSON), and deletes nothing.
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
use release_sentinel::config::values::{days_before, parse_days, parse_size};
use release_sentinel::report::{CheckResult, Format, Outcome};
use release_sentinel::rotate::{self, Action};
use release_sentinel::rotate::{DIR, KIND};
use release_sentinel::text::{count, human};

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

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let ws = args.source.open(None, cx);
    let mut report = ws.report(&KIND, None, None);
    // Without a valid time nothing is deleted: ages are judged by the
    // run's clock (CI_FAKE_UTC when set).
    let (Ok(config), &Ok(clock)) = (&ws.config, &ws.now) else {
        return Ok(Done::Report(report));
    };
    let cfg = &config.rotate;
    let root = release_sentinel::git::root_of(&ws.repo).map(PathBuf::from);
    let dir = match (&args.dir, &cfg.dir) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => ws.root.join(d),
        (None, None) => ws.root.join(DIR),
    };
    let days = args.days.or(cfg.days);
    let max_size = match args.max_size.as_deref().or(cfg.max_size.as_deref()) {
        None => None,
        Some(text) => {
            Some(parse_size(text).map_err(|e| Error::Refused(format!("--max-size: {e}")))?)
        }
    };
    let keep_given = args.keep.or(cfg.keep).unwrap_or(0);
    // More than there can be files keeps them all.
    let keep = usize::try_from(keep_given).unwrap_or(usize::MAX);
    if days.is_none() && max_size.is_none() {
        return Err(Error::Refused(
            "nothing would be deleted: set --days, --max-size, or [rotate] days/max_size"
                .to_string(),
        ));
    }
    let now = clock.utc.timestamp();
    let cutoff = match days {
        None => None,
        Some(d) => Some(days_before(now, d).map_err(|e| Error::Refused(format!("--days: {e}")))?),
    };
    let home = cx.vars.non_empty("HOME").map(PathBuf::from);
    let shown_dir = dir
        .strip_prefix(&ws.root)
        .unwrap_or(&dir)
        .display()
        .to_string();
    let folder = match rotate::open(&dir, home.as_deref(), root.as_deref(), !args.dry_run) {
        Ok(x) => x,
        Err(why) => {
            report
                .rows
                .push(CheckResult::untimed("folder", Outcome::fail(why)));
            return Ok(Done::Report(report));
        }
    };
    let scan = rotate::scan(&folder, release_sentinel::par::threads(4));
    let files = &scan.files;
    let plan = rotate::plan(files, cutoff, max_size, keep);
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
            release_sentinel::text::list_some(&scan.unreadable, 3)
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
    let out = &args.output;
    let detailed = out.format == Format::Json || out.report.is_some() || out.junit.is_some();
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
    let result = if args.dry_run {
        list_plan(&mut report, &scan, &plan, now, days_text.as_deref());
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
        let applied = rotate::apply(&folder, &scan, &plan);
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
                release_sentinel::text::list_some(&applied.failed, 3)
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
    Ok(Done::Report(report))
}

/// One file in the JSON report: its path (shown; with the exact bytes in
/// hex when they are not UTF-8), size, time and what becomes of it.
fn file_detail(scan: &rotate::Scan, f: &rotate::File, action: Action) -> serde_json::Value {
    let path = scan.path(f);
    let mut m = serde_json::Map::new();
    m.insert("path".into(), rotate::shown(&path).into());
    if std::str::from_utf8(&path).is_err() {
        m.insert(
            "path_hex".into(),
            release_sentinel::digest::hex(&path).into(),
        );
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
    report: &mut release_sentinel::report::Report,
    scan: &rotate::Scan,
    plan: &rotate::Plan,
    now: i64,
    days: Option<&str>,
) {
    let mut doomed: Vec<(&rotate::File, Action)> = scan
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
                rotate::shown(&scan.path(f)),
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
