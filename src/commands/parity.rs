//! `parity --source A --target B`: does environment A's configuration
//! match B's? One row per key that is only on one side or differs, one
//! for keys allowed to differ (up to [`KEY_ROWS`] rows, then one that
//! counts the rest), and a summary naming every key. Drift in a critical key is
//! FAIL (exit 1); other drift is WARN. Secret values are never shown.

use std::time::Instant;

use super::{Context, Done, Error, Workspace};
use crate::cli::{OutputArgs, SourceArgs};
use release_sentinel::checks::count;
use release_sentinel::config::Config;
use release_sentinel::parity::Drift;
use release_sentinel::parity::KIND;
use release_sentinel::report::{CheckResult, Outcome, Phase};

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:\n  \
    release-sentinel parity --source staging --target production\n  \
    release-sentinel parity --source staging --target production --format json --report parity.json")]
pub struct Args {
    /// The environment checked (a [parity.env.<name>] entry)
    #[arg(long, value_name = "ENV")]
    pub source: String,
    /// The baseline it must match
    #[arg(long, value_name = "ENV")]
    pub target: String,
    #[command(flatten)]
    pub from: SourceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn output(args: &Args) -> Option<&OutputArgs> {
    Some(&args.output)
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let ws = args.from.open(None, cx);
    let mut report = ws.report(&KIND, None, None);
    if let Ok(config) = &ws.config {
        report.rows = compare(config, &ws, &args.source, &args.target, cx);
    }
    Ok(Done::Report(report))
}

/// The rows comparing `source` with `target` (both configured).
pub fn compare(
    config: &Config,
    ws: &Workspace,
    source: &str,
    target: &str,
    cx: &Context<'_>,
) -> Vec<CheckResult> {
    let start = Instant::now();
    let row =
        |id: &str, outcome: Outcome| CheckResult::new(id, Phase::Pack, outcome, start.elapsed());
    let p = &config.parity;
    let mut sides = Vec::new();
    for name in [source, target] {
        let Some(sources) = p.envs.get(name) else {
            let known: Vec<String> = p.envs.keys().cloned().collect();
            return vec![row(
                "parity",
                Outcome::fail(format!(
                    "no [parity.env.{}] sources; configured: {}",
                    release_sentinel::sanitize::ascii(name),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )),
            )];
        };
        match release_sentinel::parity::load(sources, &ws.root, &cx.interrupt_flag()) {
            Ok(keys) => sides.push(keys),
            Err(why) => {
                return vec![row(
                    "parity",
                    Outcome::fail(format!("{name}: cannot read a source: {why}")),
                )];
            }
        }
    }
    // Nothing to compare is no pass (a command that printed nothing, a
    // file of comments).
    for (name, keys) in [source, target].into_iter().zip(&sides) {
        if keys.is_empty() {
            return vec![row(
                "parity",
                Outcome::fail(format!(
                    "{name}: its sources gave no key: nothing to compare"
                )),
            )];
        }
    }
    // Secret values never show; mask them wherever else they appear.
    for keys in &sides {
        for (k, v) in keys {
            if p.is_secret(k) {
                cx.scrubber.add(v);
            }
        }
    }
    let drift = p.compare(&sides[0], &sides[1]);
    rows(&drift, source, target, start)
}

/// At most this many keys get a row of their own (critical ones first,
/// then drift, then keys allowed to differ); the rest are counted in one
/// more row, and every key is named in the summary's details. A row
/// costs far more than a key: 200,000 rows for 200,000 one-sided keys
/// took hundreds of MiB.
pub const KEY_ROWS: usize = 200;

/// How a key differs.
enum How<'a> {
    OnlySource,
    OnlyTarget,
    Differ(&'a Option<(String, String)>),
    Allowed,
}

fn rows(d: &Drift, source: &str, target: &str, start: Instant) -> Vec<CheckResult> {
    let row =
        |id: &str, outcome: Outcome| CheckResult::new(id, Phase::Pack, outcome, start.elapsed());
    let critical: std::collections::BTreeSet<&str> =
        d.critical.iter().map(String::as_str).collect();
    let grade = |key: &str, message: String| {
        if critical.contains(key) {
            Outcome::fail(format!("{message} (critical)")).detail("critical", true)
        } else {
            Outcome::warn(message).detail("critical", false)
        }
    };
    let mut keys: Vec<(&str, How)> = Vec::new();
    keys.extend(d.only_source.iter().map(|k| (k.as_str(), How::OnlySource)));
    keys.extend(d.only_target.iter().map(|k| (k.as_str(), How::OnlyTarget)));
    keys.extend(d.differ.iter().map(|(k, v)| (k.as_str(), How::Differ(v))));
    keys.extend(d.allowed.iter().map(|k| (k.as_str(), How::Allowed)));
    // Which keys get a row: critical drift first, then drift, then keys
    // allowed to differ; by name within each.
    let rank = |(k, how): &(&str, How)| match how {
        How::Allowed => 2,
        _ if critical.contains(k) => 0,
        _ => 1,
    };
    keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.0.cmp(b.0)));
    let rest = keys.split_off(keys.len().min(KEY_ROWS));
    let mut out = Vec::with_capacity(keys.len() + 2);
    for (k, how) in keys {
        out.push(match how {
            How::OnlySource => row(
                k,
                grade(k, format!("only in {source}")).detail("drift", "only_source"),
            ),
            How::OnlyTarget => row(
                k,
                grade(k, format!("only in {target}")).detail("drift", "only_target"),
            ),
            How::Differ(values) => {
                let message = match values {
                    Some((a, b)) => format!(
                        "differs: {} in {source}, {} in {target}",
                        release_sentinel::sanitize::quoted(a),
                        release_sentinel::sanitize::quoted(b)
                    ),
                    None => {
                        "differs (a secret: compared by keyed hash, values not shown)".to_string()
                    }
                };
                row(k, grade(k, message).detail("drift", "differ"))
            }
            How::Allowed => row(
                k,
                Outcome::ok("differs, allowed (parity.allow_differ)").detail("drift", "allowed"),
            ),
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    if !rest.is_empty() {
        let drifting = rest
            .iter()
            .filter(|(_, how)| !matches!(how, How::Allowed))
            .count();
        let critical_left = rest.iter().filter(|(k, _)| critical.contains(k)).count();
        let message = format!(
            "{} more beyond the first {KEY_ROWS} shown: {drifting} drifted ({critical_left} critical), {} allowed to differ; the summary's details name every key",
            count(rest.len(), "key"),
            rest.len() - drifting
        );
        out.push(row(
            "more_keys",
            if critical_left > 0 {
                Outcome::fail(message)
            } else if drifting > 0 {
                Outcome::warn(message)
            } else {
                Outcome::ok(message)
            },
        ));
    }
    let drifted = d.only_source.len() + d.only_target.len() + d.differ.len();
    let summary = format!(
        "{source} vs {target}: {}, {} the same, {drifted} drifted ({} critical), {} allowed to differ; {} compared by keyed hash",
        count(d.same + d.allowed.len() + drifted, "key"),
        d.same,
        d.critical.len(),
        d.allowed.len(),
        count(d.secrets, "secret value")
    );
    let outcome = if !d.critical.is_empty() {
        Outcome::fail(summary)
    } else if drifted > 0 {
        Outcome::warn(summary)
    } else {
        Outcome::ok(summary)
    };
    out.push(row(
        "summary",
        outcome
            .detail("source", source)
            .detail("target", target)
            .detail("same", d.same)
            .detail("only_source", d.only_source.clone())
            .detail("only_target", d.only_target.clone())
            .detail(
                "differ",
                d.differ.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            )
            .detail("allowed", d.allowed.clone())
            .detail("critical", d.critical.clone()),
    ));
    out
}
