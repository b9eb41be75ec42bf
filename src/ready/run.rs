//! Making ready (`ready`): the pre-live pack, then every check of the gate
//! for the score (the health checks run even when a policy gate failed, so
//! that each earns what it is worth), and the readiness file. It reads the
//! whole configuration and the workspace, so the section ([`super`]) does
//! not import it.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use serde_json::json;

use super::score;
use crate::checks::{health, policy};
use crate::report::{CheckResult, Outcome, Phase, Report, Status};
use crate::workspace::{Context, Workspace};

/// Run the pack and score the gate's checks for `options`'s release in
/// `ws`: the pack's rows, then the readiness row, into `report`.
pub fn make_ready(
    options: &crate::gate::Options,
    ws: &Workspace,
    cx: &Context<'_>,
    report: &mut Report,
) {
    let stop = cx.interrupt_flag();
    let (Ok(config), &Ok(clock)) = (&ws.config, &ws.now) else {
        return;
    };
    let now: std::time::SystemTime = clock.utc.into();
    report.rows = crate::pack::run::steps(options, ws, cx, clock, &stop);
    // The steps that keep the pack from passing, named in the readiness
    // row: a perfect score with a failed pack is still not ready, and the
    // row says so (its status stays the score's, which `freshness` reads).
    let held: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.status() != Status::Ok)
        .map(|r| format!("{} {}", r.id, r.status().as_str()))
        .collect();
    let pack_passed = held.is_empty();
    // The gate's checks, all of them, for the score: the health checks run
    // even when a policy gate failed (the gate itself would skip them), so
    // that each earns what it is worth.
    let input = policy::Input::new(
        &options.env,
        &options.version,
        config.gates(),
        &ws.repo,
        cx.vars,
        clock,
    );
    let strict = options.strict || input.policy.strict;
    let mut rows = policy::run(&input, false, strict, &stop);
    rows.extend(health::run(&config.health, cx.vars, &cx.progress, &stop));
    let ready = &config.ready;
    let (parts, score, failed_keys) = score(&rows, ready);
    let ok = parts.iter().filter(|p| p.1 == Status::Ok).count();
    let status = if score >= ready.pass {
        Status::Ok
    } else if score >= ready.warn {
        Status::Warn
    } else {
        Status::Fail
    };
    let mut message = format!(
        "score {score} (pass {}, warn {}): {ok} of {} checks OK",
        ready.pass,
        ready.warn,
        parts.len()
    );
    if !failed_keys.is_empty() {
        message.push_str(&format!(
            "; key check(s) failed: {}",
            failed_keys.join(", ")
        ));
    }
    if !pack_passed {
        message.push_str(&format!(
            "; not ready: the pre-live pack did not pass ({})",
            held.join(", ")
        ));
    }
    let doc = json!({
        "score": score,
        "status": status,
        "pass": ready.pass,
        "warn": ready.warn,
        "timestamp": crate::clock::rfc3339(now),
        "env": options.env,
        "version": options.version,
        "pack": if pack_passed { "DRYRUN" } else { "FAIL" },
        "key_failed": failed_keys,
        "parts": parts.iter().map(|(id, st, w, p)| json!({"id": id, "status": st, "weight": w, "points": p})).collect::<Vec<_>>(),
    });
    let path = PathBuf::from(&ready.report);
    let path = if path.is_absolute() {
        path
    } else {
        ws.root.join(path)
    };
    let shown = path
        .strip_prefix(&ws.root)
        .unwrap_or(&path)
        .display()
        .to_string();
    let mut text = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    text.push(b'\n');
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| crate::fsutil::write_atomic(&path, &text));
    let outcome = match written {
        Ok(()) => Outcome::new(status, format!("{message}; written to {shown}")),
        Err(e) => Outcome::fail(format!("{message}; cannot write {shown}: {e}")),
    };
    report.rows.push(CheckResult::new(
        "readiness",
        Phase::Pack,
        outcome.detail("readiness", doc),
        std::time::Duration::ZERO,
    ));
    report.interrupted = Some(stop.load(Ordering::SeqCst));
}
