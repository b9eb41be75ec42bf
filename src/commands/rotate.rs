//! `rotate [DIR]`: delete artifacts older than `--days`, then the oldest
//! until the total is under `--max-size`, always keeping the `--keep`
//! newest (see [`crate::rotate`] for the safety rules). `--dry-run` prints
//! the exact plan and deletes nothing. Exit 0 when all went well, 1
//! otherwise.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Context, Done, Error, Workspace};
use crate::cli::{OutputArgs, SourceArgs};
use crate::config::values::{human, parse_size};
use crate::exit::Verdict;
use crate::report::{CheckResult, Kind, Outcome, Phase, Rule};
use crate::rotate::{self, Action};

/// The rotation's report.
pub static KIND: Kind = Kind {
    name: "rotate",
    title: "ROTATE",
    title_target: false,
    heading: "Artifact rotation",
    final_id: "rotate",
    marker: "ROTATE",
    words: ["OK", "FAIL", "FAIL"],
    rows_key: "checks",
    compact_ok: false,
    rule: Rule::AllOk {
        fail: Verdict::Blocked,
    },
    footer: None,
};

/// The default folder, relative to the repository root.
pub const DIR: &str = "artifacts";

/// `[rotate]` as written: the same as the options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub dir: Option<String>,
    pub days: Option<u64>,
    pub max_size: Option<String>,
    pub keep: Option<u64>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The folder [default: rotate.dir, else artifacts/ at the repository root]
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Delete files older than this many days
    #[arg(long, value_name = "N")]
    pub days: Option<u64>,

    /// Then delete the oldest until the total is under this (2G, 500 MiB)
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,

    /// Always keep the N newest files
    #[arg(long, value_name = "N")]
    pub keep: Option<u64>,

    /// Print the plan and the bytes it would free; delete nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub source: SourceArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn output(args: &Args) -> Option<&OutputArgs> {
    Some(&args.output)
}

fn row(id: &str, outcome: Outcome) -> CheckResult {
    CheckResult::new(id, Phase::Pack, outcome, std::time::Duration::ZERO)
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let ws = Workspace::open_for(&args.source, None, cx);
    let mut report = ws.report(
        &KIND,
        &crate::cli::TargetArgs {
            env: None,
            release_version: None,
        },
    );
    // Without a valid time nothing is deleted: ages are judged by the
    // run's clock (CI_FAKE_UTC when set).
    let (Ok(config), &Ok(clock)) = (&ws.config, &ws.now) else {
        return Ok(Done::Report(report));
    };
    let cfg = &config.rotate;
    let root = crate::git::root_of(&ws.repo).map(PathBuf::from);
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
    let keep = args.keep.or(cfg.keep).unwrap_or(0) as usize;
    if days.is_none() && max_size.is_none() {
        return Err(Error::Refused(
            "nothing would be deleted: set --days, --max-size, or [rotate] days/max_size"
                .to_string(),
        ));
    }
    let home = cx.vars.non_empty("HOME").map(PathBuf::from);
    let shown = dir
        .strip_prefix(&ws.root)
        .unwrap_or(&dir)
        .display()
        .to_string();
    let (fd, dev, _lock) = match rotate::open(&dir, home.as_deref(), root.as_deref(), !args.dry_run)
    {
        Ok(x) => x,
        Err(why) => {
            report.rows.push(row("folder", Outcome::fail(why)));
            return Ok(Done::Report(report));
        }
    };
    let mut scan = rotate::scan(&fd, dev, crate::par::threads(4));
    let now = clock.utc.timestamp();
    let found = scan.files.len();
    let plan = rotate::plan(std::mem::take(&mut scan.files), now, days, max_size, keep);
    let mut scan_row = Outcome::ok(format!(
        "{}: {} files, {}; {} link{} and {} other filesystem{} not followed",
        shown,
        found,
        human(plan.total),
        scan.links,
        if scan.links == 1 { "" } else { "s" },
        scan.mounts,
        if scan.mounts == 1 { "" } else { "s" },
    ));
    if !scan.unreadable.is_empty() {
        scan_row = Outcome::fail(format!(
            "{shown}: {} folder(s) could not be read: {}",
            scan.unreadable.len(),
            crate::checks::list_some(&scan.unreadable, 3)
        ));
    }
    report.rows.push(row("scan", scan_row));
    let (ttl_n, ttl_b) = plan.deleted(Action::Ttl);
    report.rows.push(row(
        "ttl",
        Outcome::ok(match days {
            Some(d) => format!(
                "{ttl_n} file{} older than {d} days: {}",
                if ttl_n == 1 { "" } else { "s" },
                human(ttl_b)
            ),
            None => "no TTL (--days) set".to_string(),
        }),
    ));
    let (size_n, size_b) = plan.deleted(Action::Size);
    report.rows.push(row(
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
    let kept = plan
        .files
        .iter()
        .filter(|(_, a)| *a == Action::Keep)
        .count();
    let over = max_size.is_some_and(|m| plan.after > m);
    report.rows.push(row(
        "keep",
        if over {
            Outcome::warn(format!(
                "the {kept} newest kept, {} over the limit",
                human(plan.after)
            ))
        } else {
            Outcome::ok(format!("the {kept} newest kept (--keep {keep})"))
        },
    ));
    let files: Vec<serde_json::Value> = plan
        .files
        .iter()
        .map(|(f, a)| serde_json::json!({"path": f.path, "size": f.size, "mtime": f.mtime, "action": a}))
        .collect();
    let total_n = ttl_n + size_n;
    let result = if args.dry_run {
        Outcome::ok(format!(
            "dry run: would delete {total_n} file{} and free {}",
            if total_n == 1 { "" } else { "s" },
            human(ttl_b + size_b)
        ))
    } else {
        let applied = rotate::apply(&fd, &plan);
        let mut o = if applied.failed.is_empty() {
            Outcome::ok(format!(
                "deleted {} file{}, freed {}{}",
                applied.deleted,
                if applied.deleted == 1 { "" } else { "s" },
                human(applied.freed),
                if applied.vanished > 0 {
                    format!("; {} vanished meanwhile", applied.vanished)
                } else {
                    String::new()
                }
            ))
        } else {
            Outcome::fail(format!(
                "{} file(s) could not be deleted: {}",
                applied.failed.len(),
                crate::checks::list_some(&applied.failed, 3)
            ))
        };
        o = o
            .detail("deleted", applied.deleted)
            .detail("vanished", applied.vanished)
            .detail("freed", applied.freed);
        o
    };
    report
        .rows
        .push(row("rotate", result.detail("files", files)));
    Ok(Done::Report(report))
}
