//! The gate: may this version go to this environment now? The policy
//! gates in order, then (when every one passed) the health checks, all at
//! once, and the notifications the verdict calls for. The gates and the
//! checks are the registries in [`crate::checks`]; the same [`Options`]
//! drive the pre-live pack ([`crate::pack::run::steps`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::checks::{health, policy};
use crate::clock::Now;
use crate::config::Config;
use crate::exit::Verdict;
use crate::report::{CheckResult, Kind, Report, Rule};
use crate::workspace::{Context, Workspace};

/// What a run of the gate (or of the pack) is about and how it judges.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub env: String,
    pub version: String,
    /// The repository as given (`--repo`): the pack's own steps open it.
    pub repo: PathBuf,
    /// Stop at the first failed gate (or step); the rest are SKIP.
    pub fail_fast: bool,
    /// WARN rows block.
    pub strict: bool,
    /// Deploy through a freeze, for this reason.
    pub override_freeze: Option<String>,
    /// How much the health rows keep of what they found.
    pub detail: health::Detail,
}

/// The gate's report.
pub static KIND: Kind = Kind {
    name: "gate",
    title: "RELEASE SENTINEL",
    title_target: true,
    heading: "Release gate",
    final_id: "release_sentinel",
    marker: "RELEASE_SENTINEL",
    words: ["SAFE", "BLOCKED", "CRITICAL"],
    rule: Rule::Phases,
    ..Kind::CHECKS
};

/// The gate's rows (the policy gates, then the health checks when every
/// gate passed), and whether WARN rows block.
pub fn evaluate(
    options: &Options,
    config: &Config,
    ws: &Workspace,
    cx: &Context<'_>,
    now: Now,
    stop: &AtomicBool,
) -> (Vec<CheckResult>, bool) {
    let (env, version) = (options.env.as_str(), options.version.as_str());
    tracing::info!(config = %config.source, env, version, "running the policy gates");
    let input = policy::Input::new(env, version, config.gates(), &ws.repo, cx.vars, now)
        .override_freeze(options.override_freeze.as_deref());
    let strict = options.strict || input.policy.strict;
    let mut rows = policy::run(&input, options.fail_fast, strict, stop);
    let start = std::time::Instant::now();
    let passed = rows
        .iter()
        .all(|r| !r.counts() || r.status().passed_in(strict));
    if passed && !stop.load(Ordering::SeqCst) {
        tracing::info!(checks = config.health.len(), "running the health checks");
        rows.extend(health::run_with(
            &config.health,
            cx.vars,
            &cx.progress,
            stop,
            options.detail,
        ));
    } else {
        rows.extend(health::skipped(&config.health));
    }
    tracing::debug!(elapsed = ?start.elapsed(), "health phase done");
    (rows, strict)
}

/// The gate's report: its rows, and the notifications they call for.
pub fn judge(options: &Options, ws: &Workspace, cx: &Context<'_>) -> Report {
    let stop = cx.interrupt_flag();
    let mut report = ws.report(&KIND, Some(&options.env), Some(&options.version));
    report.strict = Some(options.strict);
    let (Ok(config), &Ok(now)) = (&ws.config, &ws.now) else {
        return report;
    };
    let (rows, strict) = evaluate(options, config, ws, cx, now, &stop);
    report.strict = Some(strict);
    report.rows = rows;
    report.interrupted = Some(stop.load(Ordering::SeqCst));
    // Tell people about a release the gate stopped, and about a freeze
    // overridden (the exception is recorded where people see it), when
    // configured.
    let mut events: Vec<(&str, String)> = Vec::new();
    let stopped = match report.verdict() {
        Verdict::Blocked if report.interrupted != Some(true) => Some("gate.blocked"),
        Verdict::Critical => Some("gate.critical"),
        _ => None,
    };
    if let Some(event) = stopped {
        let failed: Vec<String> = report
            .rows
            .iter()
            .filter(|r| r.counts() && !r.status().passed_in(strict))
            .map(|r| format!("{} ({})", r.id, r.outcome.message))
            .collect();
        events.push((event, crate::text::list_some(&failed, 2)));
    }
    if let Some(row) = report.rows.iter().find(|r| {
        r.id == "deploy_window"
            && r.outcome
                .details
                .get("override")
                .and_then(|o| o.get("accepted"))
                == Some(&serde_json::Value::Bool(true))
    }) {
        events.push(("gate.freeze_override", row.outcome.message.clone()));
    }
    let proxies = crate::http::Proxies::from_env(cx.vars);
    for (event, reason) in events {
        let verdict = ("verdict", report.kind.word(report.verdict()).to_string());
        let message = config
            .notify
            .message(&report.target, event, &reason, None, &[verdict]);
        let rows = crate::notify::deliver_all(&config.notify, &message, &proxies, false);
        // Row ids are unique: a target that takes a second event gets a
        // row named by the event too.
        for mut row in rows {
            if report.rows.iter().any(|r| r.id == row.id) {
                row.id = format!("{}:{event}", row.id);
            }
            report.rows.push(row);
        }
    }
    report
}
