//! `[verify]`: what `release-sentinel verify` watches after a deploy, and
//! what it does when something breaks. This file owns the section, its
//! report kind and its validation; the modules under it, the work: the
//! judgement of a metric rule ([`judge`]), the state of the profile
//! switches between runs ([`state`]), the watch's state machine
//! ([`watch`]), one evaluation ([`evaluate`]), the switches over a watch
//! ([`switches`]), the smoke steps ([`smoke`]), the rollback
//! ([`rollback`]), and the loop that runs them all ([`run`]).
//!
//! The config imports this file, so this file uses none of the modules
//! of the loop (they use the config, the workspace and the runner).
//!
//! - probes: HTTP GETs (the API check's request: timeouts, bounded body,
//!   TLS, masked URLs); a probe triggers when it fails more than `failures`
//!   times in a row (the playbook's "non-200 for > 2 consecutive checks" is
//!   `failures = 2`: the third consecutive failure triggers).
//! - rules: a PromQL query against `[prometheus]`, a bound (`max` or
//!   `min`) and a sustain duration (`for`). NO_DATA and ERROR are outcomes
//!   of their own with limits of their own (default 0: the first one
//!   triggers).
//! - smoke: commands run once, by the pack's runner; a failure triggers.
//! - switches: a rule that moves between two profiles with hysteresis
//!   instead of triggering.
//! - rollback: the command run when a trigger fires.

pub mod evaluate;
pub mod judge;
pub mod rollback;
pub mod run;
pub mod smoke;
pub mod state;
pub mod switches;
pub mod watch;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::checks::health::Ctx;
use crate::checks::health::api::{Request, RequestFields, StatusList};
use crate::config::values::Number;
use crate::config::values::{Problems, check_name, duration, expand};
use crate::envsnap::EnvSnapshot;
use crate::pack::Step;
use crate::pack::{RawStep, RunSpec};
use crate::sanitize::quoted;
use judge::Bound;

/// The window watched, by default.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Between evaluations, by default.
pub const INTERVAL: Duration = Duration::from_secs(30);
/// Failures in a row a probe is allowed, by default (the playbook's "> 2").
pub const PROBE_FAILURES: u32 = 2;
/// How long the rollback command may run, by default.
pub const ROLLBACK_TIMEOUT: Duration = Duration::from_secs(600);
/// Where the profile switches keep their state, relative to the root.
pub const STATE_FILE: &str = ".release-sentinel/verify-state.json";
/// The longest window (`verify.for`, `--for`).
pub const MAX_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest interval (`verify.interval`, `--interval`).
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// The shortest interval: Prometheus answers at one-second resolution
/// (a rule's step is at least a second), and a probe more often than that
/// is load, not watching.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The most evaluations a window may hold (a week at the default 30 s,
/// both ends included): the report keeps every evaluation of every probe
/// and rule, so this bounds its memory.
pub const MAX_EVALUATIONS: u128 = 7 * 24 * 3600 / 30 + 1;

/// The evaluations a window holds at an interval: one at its start, then
/// one a tick up to and including its end.
pub fn evaluations(window: Duration, interval: Duration) -> u128 {
    window
        .as_nanos()
        .checked_div(interval.as_nanos())
        .map_or(u128::MAX, |n| n.saturating_add(1))
}

/// Why a window and an interval cannot be watched together, if they cannot.
pub fn schedule_problem(window: Duration, interval: Duration) -> Option<String> {
    let n = evaluations(window, interval);
    (n > MAX_EVALUATIONS).then(|| {
        format!("is {n} evaluations, more than the {MAX_EVALUATIONS} allowed (a week at 30s)")
    })
}

/// `[verify]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    #[serde(rename = "for")]
    pub window: Option<String>,
    pub interval: Option<String>,
    pub state_file: Option<String>,
    pub rollback: Option<RunSpec>,
    pub rollback_shell: Option<bool>,
    pub rollback_timeout: Option<String>,
    pub probe: Option<Vec<RawProbe>>,
    pub rule: Option<Vec<RawRule>>,
    pub smoke: Option<Vec<RawStep>>,
    pub switch: Option<Vec<RawSwitch>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub name: String,
    pub url: String,
    pub failures: Option<i64>,
    pub timeout: Option<String>,
    pub expect_status: Option<StatusList>,
    pub headers: Option<BTreeMap<String, String>>,
    pub max_redirects: Option<i64>,
    pub insecure: Option<bool>,
    pub ca_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: String,
    pub query: String,
    pub max: Option<Number>,
    pub min: Option<Number>,
    #[serde(rename = "for")]
    pub sustain: Option<String>,
    pub step: Option<String>,
    pub no_data_limit: Option<i64>,
    pub error_limit: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSwitch {
    pub name: String,
    pub query: String,
    pub max: Option<Number>,
    pub min: Option<Number>,
    pub after: Option<i64>,
    pub recover_query: String,
    pub recover_max: Option<Number>,
    pub recover_min: Option<Number>,
    pub profiles: Vec<String>,
    pub apply: Option<BTreeMap<String, Vec<String>>>,
    pub step: Option<String>,
}

/// A probe: one GET per evaluation.
#[derive(Debug, Clone)]
pub struct Probe {
    pub name: String,
    pub req: Request,
    /// Failures in a row allowed; one more triggers.
    pub failures: u32,
}

/// A metric rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub query: String,
    pub bound: Bound,
    /// How long the bound must be crossed; zero judges the newest sample.
    pub sustain: Duration,
    /// The query's step; the interval when not set.
    pub step: Option<Duration>,
    /// NO_DATA and ERROR evaluations in a row allowed.
    pub no_data_limit: u32,
    pub error_limit: u32,
}

/// A rule that switches between two profiles with hysteresis.
#[derive(Debug, Clone)]
pub struct Switch {
    pub name: String,
    /// Degrade after `after` evaluations in a row beyond this bound.
    pub query: String,
    pub bound: Bound,
    pub after: u32,
    /// Recover only when this query is within this bound.
    pub recover_query: String,
    pub recover_bound: Bound,
    /// The normal and the degraded profile's names.
    pub normal: String,
    pub degraded: String,
    /// The command that applies each profile, by name.
    pub apply: BTreeMap<String, Vec<String>>,
    pub step: Option<Duration>,
}

/// The rollback command, with `{previous_tag}`, `{version}` and `{env}`
/// substituted into its arguments.
#[derive(Debug, Clone)]
pub struct Rollback {
    pub argv: Vec<String>,
    pub timeout: Duration,
}

/// The validated `[verify]`.
#[derive(Debug, Clone)]
pub struct Verify {
    pub window: Duration,
    pub interval: Duration,
    pub state_file: String,
    pub probes: Vec<Probe>,
    pub rules: Vec<Rule>,
    pub smoke: Vec<Step>,
    pub switches: Vec<Switch>,
    pub rollback: Option<Rollback>,
}

impl Verify {
    /// The row ids of what it watches: `probe:<name>`, `rule:<name>`,
    /// `smoke:<name>`, `switch:<name>`.
    pub fn ids(&self) -> Vec<String> {
        let probes = self.probes.iter().map(|p| format!("probe:{}", p.name));
        let rules = self.rules.iter().map(|r| format!("rule:{}", r.name));
        let smoke = self.smoke.iter().map(|s| format!("smoke:{}", s.name));
        let switches = self.switches.iter().map(|s| format!("switch:{}", s.name));
        probes.chain(rules).chain(smoke).chain(switches).collect()
    }

    /// Values sent that are secrets whatever they are called (headers).
    pub fn secrets(&self) -> Vec<String> {
        self.probes
            .iter()
            .flat_map(|p| p.req.headers.iter().map(|(_, v)| v.clone()))
            .collect()
    }
}

/// The bound a section sets: exactly one of `max` and `min`.
fn bound(
    max: Option<Number>,
    min: Option<Number>,
    key: &str,
    what: &str,
    problems: &mut Problems,
) -> Option<Bound> {
    match (max, min) {
        (Some(m), None) => Some(Bound::Max(m.get())),
        (None, Some(m)) => Some(Bound::Min(m.get())),
        (Some(_), Some(_)) => {
            problems.push(key, format!("set one of {what}max and {what}min, not both"));
            None
        }
        (None, None) => {
            problems.push(
                key,
                format!("set {what}max or {what}min: the bound that is bad to cross"),
            );
            None
        }
    }
}

fn count(value: Option<i64>, default: u32, key: &str, problems: &mut Problems) -> u32 {
    match value {
        None => default,
        Some(n) if (0..=1000).contains(&n) => n as u32,
        Some(n) => {
            problems.push(key, format!("{n}: use 0 to 1000"));
            default
        }
    }
}

/// The names in a list are usable and unique.
fn named<'a>(names: impl Iterator<Item = (String, &'a str)>, what: &str, problems: &mut Problems) {
    let mut seen = std::collections::BTreeSet::new();
    for (key, name) in names {
        if let Err(why) = check_name(name, what) {
            problems.push(format!("{key}.name"), why);
        } else if !seen.insert(name.to_string()) {
            problems.push(
                format!("{key}.name"),
                format!("{} names another {what} too", quoted(name)),
            );
        }
    }
}

/// Validate `[verify]`. `has_prometheus` says whether `[prometheus]` names
/// a server (rules and switches need one).
pub fn validate(
    raw: Raw,
    env: &EnvSnapshot,
    has_prometheus: bool,
    problems: &mut Problems,
) -> (Verify, Vec<String>) {
    let window = duration(
        raw.window.as_deref(),
        WINDOW,
        MAX_WINDOW,
        "verify.for",
        problems,
    );
    let interval = duration(
        raw.interval.as_deref(),
        INTERVAL,
        MAX_INTERVAL,
        "verify.interval",
        problems,
    );
    if interval < MIN_INTERVAL {
        problems.push(
            "verify.interval",
            format!(
                "{} is shorter than the {} minimum",
                quoted(raw.interval.as_deref().unwrap_or_default()),
                humantime::format_duration(MIN_INTERVAL)
            ),
        );
    } else if interval > window {
        problems.push("verify.interval", "is longer than the window (verify.for)");
    } else if let Some(why) = schedule_problem(window, interval) {
        problems.push(
            "verify.for",
            format!(
                "{} at verify.interval {} {why}",
                humantime::format_duration(window),
                humantime::format_duration(interval)
            ),
        );
    }
    let state_file = match raw.state_file {
        Some(s) => expand(&s, "verify.state_file", env, problems),
        None => Some(STATE_FILE.to_string()),
    };
    // The file written: inside the repository (`--state PATH` names any).
    if let Some(f) = &state_file
        && let Some(why) = crate::fsutil::unsafe_name(f)
    {
        problems.push(
            "verify.state_file",
            format!(
                "{}: {why}; the state file is a path relative to the repository root (--state PATH names any other)",
                crate::sanitize::quoted(f)
            ),
        );
    }
    let state_file = state_file.unwrap_or_default();

    let probes_raw = raw.probe.unwrap_or_default();
    named(
        probes_raw
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("verify.probe[{i}]"), p.name.as_str())),
        "probe",
        problems,
    );
    let mut probes = Vec::new();
    for (i, p) in probes_raw.into_iter().enumerate() {
        let key = format!("verify.probe[{i}]");
        let failures = count(
            p.failures,
            PROBE_FAILURES,
            &format!("{key}.failures"),
            problems,
        );
        let mut unset = Vec::new();
        let fields = RequestFields {
            url: p.url,
            timeout: p.timeout,
            expect_status: p.expect_status,
            headers: p.headers,
            max_redirects: p.max_redirects,
            insecure: p.insecure,
            ca_file: p.ca_file,
        };
        let mut cx = Ctx {
            env,
            required: &[],
            problems,
            prometheus: None,
        };
        if let Some(req) = crate::checks::health::api::request(fields, &key, &mut cx, &mut unset) {
            probes.push(Probe {
                name: p.name,
                req,
                failures,
            });
        }
    }

    let rules_raw = raw.rule.unwrap_or_default();
    named(
        rules_raw
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("verify.rule[{i}]"), r.name.as_str())),
        "rule",
        problems,
    );
    let mut rules = Vec::new();
    for (i, r) in rules_raw.into_iter().enumerate() {
        let key = format!("verify.rule[{i}]");
        let query = expand(&r.query, &format!("{key}.query"), env, problems).unwrap_or_default();
        if query.trim().is_empty() {
            problems.push(format!("{key}.query"), "an empty query measures nothing");
        }
        let bound = bound(r.max, r.min, &key, "", problems);
        let sustain = match r.sustain.as_deref() {
            Some(t) => duration(
                Some(t),
                Duration::ZERO,
                MAX_WINDOW,
                &format!("{key}.for"),
                problems,
            ),
            None => Duration::ZERO,
        };
        let step = r.step.as_deref().map(|t| {
            duration(
                Some(t),
                INTERVAL,
                Duration::from_secs(3600),
                &format!("{key}.step"),
                problems,
            )
        });
        let no_data_limit = count(
            r.no_data_limit,
            0,
            &format!("{key}.no_data_limit"),
            problems,
        );
        let error_limit = count(r.error_limit, 0, &format!("{key}.error_limit"), problems);
        if let Some(bound) = bound {
            rules.push(Rule {
                name: r.name,
                query,
                bound,
                sustain,
                step,
                no_data_limit,
                error_limit,
            });
        }
    }

    let mut smoke = Vec::new();
    let mut secret_values = Vec::new();
    let smoke_raw = raw.smoke.unwrap_or_default();
    named(
        smoke_raw
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("verify.smoke[{i}]"), s.name.as_str())),
        "smoke step",
        problems,
    );
    for (i, s) in smoke_raw.into_iter().enumerate() {
        let key = format!("verify.smoke[{i}]");
        if s.run.is_none() {
            problems.push(format!("{key}.run"), "missing: a smoke step is a command");
            continue;
        }
        if let Some(step) = crate::pack::step(s, &key, env, problems, &mut secret_values) {
            smoke.push(step);
        }
    }

    let switches_raw = raw.switch.unwrap_or_default();
    named(
        switches_raw
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("verify.switch[{i}]"), s.name.as_str())),
        "switch",
        problems,
    );
    let mut switches = Vec::new();
    for (i, s) in switches_raw.into_iter().enumerate() {
        let key = format!("verify.switch[{i}]");
        let bound_ = bound(s.max, s.min, &key, "", problems);
        let recover = bound(s.recover_max, s.recover_min, &key, "recover_", problems);
        let after = count(s.after, 3, &format!("{key}.after"), problems).max(1);
        let [normal, degraded] = match <[String; 2]>::try_from(s.profiles) {
            Ok(p) if p[0] != p[1] => p,
            _ => {
                problems.push(
                    format!("{key}.profiles"),
                    "name two different profiles: [normal, degraded]",
                );
                continue;
            }
        };
        let apply = s.apply.unwrap_or_default();
        for (name, argv) in &apply {
            if name != &normal && name != &degraded {
                problems.push(
                    format!("{key}.apply.{name}"),
                    "is not one of the two profiles",
                );
            } else if argv.is_empty() {
                problems.push(format!("{key}.apply.{name}"), "the command is empty");
            }
        }
        let step = s.step.as_deref().map(|t| {
            duration(
                Some(t),
                INTERVAL,
                Duration::from_secs(3600),
                &format!("{key}.step"),
                problems,
            )
        });
        if let (Some(bound), Some(recover_bound)) = (bound_, recover) {
            switches.push(Switch {
                name: s.name,
                query: s.query,
                bound,
                after,
                recover_query: s.recover_query,
                recover_bound,
                normal,
                degraded,
                apply,
                step,
            });
        }
    }

    if !has_prometheus && (!rules.is_empty() || !switches.is_empty()) {
        problems.push(
            "verify.rule",
            "rules and switches query Prometheus: add a [prometheus] section with its url",
        );
    }

    let rollback_timeout = duration(
        raw.rollback_timeout.as_deref(),
        ROLLBACK_TIMEOUT,
        Duration::from_secs(3600),
        "verify.rollback_timeout",
        problems,
    );
    let rollback = match (raw.rollback, raw.rollback_shell.unwrap_or(false)) {
        (None, _) => None,
        (Some(RunSpec::Argv(argv)), false) if !argv.is_empty() && !argv[0].trim().is_empty() => {
            Some(Rollback {
                argv,
                timeout: rollback_timeout,
            })
        }
        (Some(RunSpec::Line(line)), true) if !line.trim().is_empty() => Some(Rollback {
            argv: vec!["sh".into(), "-c".into(), line],
            timeout: rollback_timeout,
        }),
        (Some(RunSpec::Line(_)), false) => {
            problems.push(
                "verify.rollback",
                "a command line needs rollback_shell = true; or write the command as a list",
            );
            None
        }
        (Some(RunSpec::Argv(_)), true) => {
            problems.push(
                "verify.rollback",
                "with rollback_shell = true, write the command as one string",
            );
            None
        }
        _ => {
            problems.push("verify.rollback", "the command is empty");
            None
        }
    };
    let verify = Verify {
        window,
        interval,
        state_file,
        probes,
        rules,
        smoke,
        switches,
        rollback,
    };
    if verify.probes.is_empty()
        && verify.rules.is_empty()
        && verify.smoke.is_empty()
        && verify.switches.is_empty()
    {
        problems.push(
            "verify",
            "nothing to watch: add a probe, a rule, a smoke step or a switch",
        );
    }
    (verify, secret_values)
}

/// The verify report.
pub static KIND: crate::report::Kind = crate::report::Kind {
    name: "verify",
    title: "VERIFY",
    title_target: true,
    heading: "Verify",
    final_id: "verify",
    marker: "VERIFY",
    words: ["HEALTHY", "ERROR", "ROLLBACK"],
    rule: crate::report::Rule::Triggers,
    ..crate::report::Kind::CHECKS
};
