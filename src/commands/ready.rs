//! `ready --env E --version V` (make-ready): the pre-live pack, and a
//! readiness score over the gate's checks, compared with pass and warn
//! thresholds and written to a JSON file (so that `freshness` can watch
//! it). Ends with `| make_ready                | OK   | MAKE_READY=OK |`
//! (or `FAIL`/`MAKE_READY=FAIL`). Exit 0 when the pack passed and the score
//! reached the warn threshold, 1 otherwise.
//!
//! The score: every policy gate and health check has a weight (default 1);
//! OK earns it whole, WARN half, anything else nothing; a check marked key
//! that does not pass makes the score 0. `CI_FAKE_UTC`, when set, is the
//! time the file records.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use serde_json::json;

use super::{Context, Done, Error};
use crate::cli::Common;
use release_sentinel::checks::{health, policy};
use release_sentinel::ready::{KIND, Ready};
use release_sentinel::report::{CheckResult, Outcome, Phase, Status};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,

    /// WARN rows of the policy and health checks count as failures
    #[arg(long)]
    pub strict: bool,
}

/// One part of the score: the check's id, status, weight and points.
type Part = (String, Status, f64, f64);

/// The score's parts, the score, and the key checks that failed.
fn score(rows: &[CheckResult], ready: &Ready) -> (Vec<Part>, f64, Vec<String>) {
    let mut parts = Vec::new();
    let mut failed_keys = Vec::new();
    for r in rows
        .iter()
        .filter(|r| r.counts() && matches!(r.phase, Phase::Policy | Phase::Health))
    {
        let weight = ready.weights.get(&r.id).copied().unwrap_or(1.0);
        let points = match r.status() {
            Status::Ok => weight,
            Status::Warn => weight / 2.0,
            _ => 0.0,
        };
        if ready.key.contains(&r.id) && !matches!(r.status(), Status::Ok | Status::Warn) {
            failed_keys.push(r.id.clone());
        }
        parts.push((r.id.clone(), r.status(), weight, points));
    }
    let total: f64 = parts.iter().map(|p| p.2).sum();
    let got: f64 = parts.iter().map(|p| p.3).sum();
    let score = if !failed_keys.is_empty() || total == 0.0 {
        0.0
    } else {
        (got / total * 1000.0).round() / 10.0
    };
    (parts, score, failed_keys)
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let stop = cx.interrupt_flag();
    let ws = args.common.open(cx);
    let mut report = args.common.target.report(&ws, &KIND);
    let (Ok(config), &Ok(clock)) = (&ws.config, &ws.now) else {
        return Ok(Done::Report(report));
    };
    let now: std::time::SystemTime = clock.utc.into();
    let options = release_sentinel::gate::Options {
        strict: args.strict,
        ..args.common.options()
    };
    report.rows = release_sentinel::pack::run::steps(&options, &ws, cx, clock, &stop);
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
    let target = &args.common.target;
    let input = policy::Input::new(
        target.env(),
        target.version(),
        config.gates(),
        &ws.repo,
        cx.vars,
        clock,
    );
    let strict = args.strict || input.policy.strict;
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
        "timestamp": release_sentinel::clock::rfc3339(now),
        "env": args.common.target.env(),
        "version": args.common.target.version(),
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
        .and_then(|()| release_sentinel::fsutil::write_atomic(&path, &text));
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
    Ok(Done::Report(report))
}
