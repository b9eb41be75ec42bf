//! The go-live checklist, in order: the gate, the pre-live pack, the
//! backup, fresh parity evidence, no open blocker, then the
//! `[[golive.items]]`. Every item must pass; all run (one failing does not
//! hide the others). In a dry run nothing runs: each item shows `DRY-RUN
//! <command>`, and the result is `DRY-RUN` unless an item cannot run as
//! configured.
//!
//! An item that is not configured (no backup manifest, no blocker source)
//! fails: a checklist item nobody can check is not a passed one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::{DRY_KIND, KIND, PARITY_MAX_AGE, PARITY_REPORT, TIMEOUT};
use crate::backup;
use crate::clock::Now;
use crate::config::Config;
use crate::report::{CheckResult, Outcome, Phase, Report, Status};
use crate::runner;
use crate::sanitize::quoted;
use crate::text::{count, list_some};
use crate::workspace::{Context, Workspace};
use crate::{gate, pack};

/// What the checklist is about (the release, the repository: the gate's
/// and the pack's options) and whether it only shows what it would run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub release: gate::Options,
    /// `--dry-run`: show `DRY-RUN <command>` for each item, run nothing.
    pub dry_run: bool,
}

/// One checklist item: its row id, the command it stands for, and how it
/// is checked.
struct Planned {
    id: String,
    shown: String,
    check: Check,
}

enum Check {
    Gate,
    Pack,
    Backup(PathBuf),
    Parity(PathBuf, Duration),
    Blockers(Vec<String>),
    Command(Vec<String>, Duration),
    /// Cannot run as configured: why.
    Missing(String),
}

fn plan(release: &gate::Options, config: &Config, root: &Path) -> Vec<Planned> {
    let (env, version) = (&release.env, &release.version);
    let g = &config.golive;
    let mut out = vec![
        Planned {
            id: "release-gate".into(),
            shown: format!("release-sentinel --env {env} --version {version}"),
            check: Check::Gate,
        },
        Planned {
            id: "pre-live-pack".into(),
            shown: format!("release-sentinel pack --env {env} --version {version}"),
            check: Check::Pack,
        },
    ];
    out.push(match &config.backup.manifest {
        Some(m) => Planned {
            id: "backup".into(),
            shown: format!("release-sentinel backup verify {m}"),
            check: Check::Backup(root.join(m)),
        },
        None => Planned {
            id: "backup".into(),
            shown: "release-sentinel backup verify <manifest>".into(),
            check: Check::Missing(format!(
                "not configured: set backup.manifest in {} (the last backup's manifest)",
                config.source
            )),
        },
    });
    let report = g
        .parity_report
        .clone()
        .unwrap_or_else(|| PARITY_REPORT.to_string());
    let age = g.parity_max_age.unwrap_or(PARITY_MAX_AGE);
    out.push(Planned {
        id: "parity-evidence".into(),
        shown: format!(
            "check {report}: no critical drift, at most {} old",
            humantime::format_duration(age)
        ),
        check: Check::Parity(root.join(&report), age),
    });
    out.push(match &g.blockers {
        Some(cmd) => Planned {
            id: "blockers".into(),
            shown: crate::sanitize::shell_line(cmd),
            check: Check::Blockers(cmd.clone()),
        },
        None => Planned {
            id: "blockers".into(),
            shown: "<golive.blockers>".into(),
            check: Check::Missing(format!(
                "not configured: set golive.blockers in {} (a command printing the open blockers, one per line)",
                config.source
            )),
        },
    });
    for it in &g.items {
        out.push(Planned {
            id: it.name.clone(),
            shown: crate::sanitize::shell_line(&it.run),
            check: Check::Command(it.run.clone(), it.timeout),
        });
    }
    out
}

/// The checklist's report (the dry run's, with `dry_run`): one row per
/// item. An invalid config or `CI_FAKE_UTC` is the report's error, and
/// nothing is checked.
pub fn run(options: &Options, ws: &Workspace, cx: &Context<'_>) -> Report {
    let stop = cx.interrupt_flag();
    let kind = if options.dry_run { &DRY_KIND } else { &KIND };
    let release = &options.release;
    let mut report = ws.report(kind, Some(&release.env), Some(&release.version));
    let (Ok(config), &Ok(clock)) = (&ws.config, &ws.now) else {
        return report;
    };
    for item in plan(release, config, &ws.root) {
        let start = Instant::now();
        let outcome = if let Check::Missing(why) = &item.check {
            Outcome::fail(why.clone())
        } else if options.dry_run {
            Outcome::skip(format!("DRY-RUN {}", item.shown))
        } else if stop.load(Ordering::SeqCst) {
            Outcome::skip("not run: the checklist was interrupted")
        } else {
            cx.progress.begin(&item.id);
            let o = check(&item.check, release, config, ws, cx, clock, &stop);
            cx.progress.end(&item.id);
            o
        };
        report.rows.push(CheckResult::new(
            item.id,
            Phase::Pack,
            outcome,
            start.elapsed(),
        ));
    }
    report.interrupted = Some(stop.load(Ordering::SeqCst));
    report
}

fn check(
    check: &Check,
    release: &gate::Options,
    config: &Config,
    ws: &Workspace,
    cx: &Context<'_>,
    clock: Now,
    stop: &AtomicBool,
) -> Outcome {
    let now: SystemTime = clock.utc.into();
    let failed = |rows: &[CheckResult], strict: bool| -> Vec<String> {
        rows.iter()
            .filter(|r| r.counts() && !r.status().passed_in(strict))
            .map(|r| format!("{} ({})", r.id, r.status().as_str()))
            .collect()
    };
    match check {
        Check::Gate => {
            let (rows, strict) = gate::evaluate(release, config, ws, cx, clock, stop);
            let bad = failed(&rows, strict);
            if bad.is_empty() && !rows.is_empty() {
                Outcome::ok(format!("SAFE: {} passed", count(rows.len(), "check")))
            } else {
                Outcome::fail(format!("not SAFE: {}", list_some(&bad, 3)))
            }
        }
        Check::Pack => {
            let rows = pack::run::steps(release, ws, cx, clock, stop);
            let bad: Vec<String> = rows
                .iter()
                .filter(|r| r.status() != Status::Ok)
                .map(|r| format!("{} ({})", r.id, r.status().as_str()))
                .collect();
            if bad.is_empty() && !rows.is_empty() {
                Outcome::ok(format!("{} passed", count(rows.len(), "step")))
            } else {
                Outcome::fail(format!("failed: {}", list_some(&bad, 3)))
            }
        }
        Check::Backup(manifest) => {
            let max_age = config
                .backup
                .max_age
                .as_deref()
                .and_then(|t| humantime::parse_duration(t.trim()).ok())
                .unwrap_or(backup::MAX_AGE);
            let rows = backup::check(
                manifest,
                max_age,
                config.backup.require_drill.unwrap_or(false),
                now,
            );
            let bad: Vec<String> = rows
                .iter()
                .filter(|r| r.status() != Status::Ok)
                .map(|r| r.outcome.message.clone())
                .collect();
            if bad.is_empty() {
                Outcome::ok(list_some(
                    &rows
                        .iter()
                        .map(|r| r.outcome.message.clone())
                        .collect::<Vec<_>>(),
                    3,
                ))
            } else {
                Outcome::fail(list_some(&bad, 3))
            }
        }
        Check::Parity(path, max_age) => parity_evidence(path, *max_age, now),
        Check::Blockers(argv) => {
            let ran = runner::run(argv, &[], TIMEOUT, &ws.root, stop);
            if let Some(why) = ran.end.failure(TIMEOUT) {
                return Outcome::fail(format!(
                    "cannot list the open blockers: {}: {why}",
                    argv.join(" ")
                ));
            }
            if ran.stdout.cut() {
                return Outcome::fail("more open blockers than are kept (8 KiB of output)");
            }
            let text = ran.stdout.scrubbed(cx.scrubber);
            let open: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            if open.is_empty() {
                Outcome::ok("no open blocker")
            } else {
                Outcome::fail(format!(
                    "{} open: {}",
                    count(open.len(), "blocker"),
                    list_some(&open, 3)
                ))
                .detail("blockers", open)
            }
        }
        Check::Command(argv, timeout) => {
            let ran = runner::run(argv, &[], *timeout, &ws.root, stop);
            let how = ran.end.describe(*timeout);
            if ran.end.passed() {
                Outcome::ok(how)
            } else {
                Outcome::fail(how)
            }
            .detail("stdout", ran.stdout.scrubbed(cx.scrubber))
            .detail("stderr", ran.stderr.scrubbed(cx.scrubber))
        }
        Check::Missing(why) => Outcome::fail(why.clone()),
    }
}

/// The parity evidence `predeploy` wrote: present, recent, no drift.
fn parity_evidence(path: &Path, max_age: Duration, now: SystemTime) -> Outcome {
    let shown = crate::sanitize::ascii(&path.display().to_string());
    let doc: serde_json::Value = match crate::fsutil::read_regular(path, 16 * 1024 * 1024)
        .and_then(|d| serde_json::from_slice(&d).map_err(|e| format!("not JSON: {e}")))
    {
        Ok(d) => d,
        Err(why) => {
            return Outcome::fail(format!(
                "{shown}: {why}; run release-sentinel predeploy (or parity) first"
            ));
        }
    };
    let time = doc["time"].as_str().unwrap_or("");
    let Some(at) = crate::clock::parse_rfc3339(time) else {
        return Outcome::fail(format!("{shown}: no valid time field ({})", quoted(time)));
    };
    let age = match now.duration_since(at) {
        Ok(a) => a,
        Err(_) => return Outcome::fail(format!("{shown}: dated in the future ({time})")),
    };
    let age_text = humantime::format_duration(Duration::from_secs(age.as_secs()));
    if age > max_age {
        return Outcome::fail(format!(
            "STALE: {shown} is {age_text} old (at most {}); rerun the parity check",
            humantime::format_duration(max_age)
        ));
    }
    if doc["result"].as_str() != Some("pass") {
        return Outcome::fail(format!(
            "{shown}: the parity check did not pass ({age_text} ago)"
        ));
    }
    Outcome::ok(format!("parity passed {age_text} ago ({time})"))
}
