//! `verify`: after the deploy, watch the release for a window and say
//! HEALTHY (exit 0) or ROLLBACK (exit 2), running the rollback when a
//! trigger fires. Exit 1 when it could not run (an invalid config or
//! argument, no `[verify]` section, SIGINT or SIGTERM).
//!
//! Each evaluation runs every probe and rule at once, bounded by a budget
//! (the longest of their timeouts), at the ticks of the clock (start + k x
//! interval; ticks an evaluation overran are skipped, so the window never
//! stretches). The run ends as soon as its verdict is known: a trigger
//! ends it at once; otherwise it lasts the whole window, and HEALTHY needs
//! the last evaluation of every probe and rule to be OK: a window cannot
//! end HEALTHY on a failure within its limit, nor on NO_DATA or ERROR.
//! `--once` evaluates once; `--at` judges the rules as of a fixed time
//! (probes, smoke steps and switches are live and are not evaluated then),
//! so a verdict over stored metrics can be reproduced: a replay acts on
//! nothing (no rollback, profile, state file or notification; the rows say
//! what would have been done). SIGINT or SIGTERM ends the run at once with
//! VERIFY=ERROR and a row that says so.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{Context, Done, Error, Workspace};
use crate::cli::{Common, EvidenceArgs};
use release_sentinel::checks::health::api;
use release_sentinel::config::Config;
use release_sentinel::http::{self, Proxies};
use release_sentinel::notify::{self, Message};
use release_sentinel::pack::section::Run;
use release_sentinel::prom::{self, Fetched};
use release_sentinel::report::{CheckResult, Mode, Outcome, Phase, Report, Status};
use release_sentinel::runner;
use release_sentinel::verify::KIND;
use release_sentinel::verify::judge::{self, Evaluation, number};
use release_sentinel::verify::watch::Tracker;
use release_sentinel::verify::{Verify, state};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,

    /// How long to watch, e.g. 15m [default: verify.for in the config]
    #[arg(long = "for", value_name = "DURATION")]
    pub window: Option<String>,

    /// Between evaluations, e.g. 30s [default: verify.interval]
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,

    /// Evaluate every probe and rule once, and stop (a CI step right after
    /// a deploy, or a cron job)
    #[arg(long)]
    pub once: bool,

    /// Judge the rules as of this time (RFC 3339 or unix seconds), once: a
    /// verdict over stored metrics, reproduced
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,

    /// Report the rollback command a trigger would run, without running it
    #[arg(long)]
    pub no_rollback: bool,

    /// The profile switches' state file [default: verify.state_file]
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,

    #[command(flatten)]
    pub evidence: EvidenceArgs,
}

/// The last second a time is shown for (9999-12-31T23:59:59Z): RFC 3339
/// has four-digit years.
const LAST_TIME: f64 = 253_402_300_799.0;

/// A time given as RFC 3339 or unix seconds (up to the year 9999).
pub fn parse_time(text: &str) -> Result<f64, String> {
    if let Ok(secs) = text.trim().parse::<f64>()
        && secs.is_finite()
        && (0.0..=LAST_TIME).contains(&secs)
    {
        return Ok(secs);
    }
    release_sentinel::clock::parse_rfc3339(text)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .ok_or_else(|| {
            format!(
                "--at {}: not a time; write it in RFC 3339 (2026-11-30T12:00:00Z) or unix seconds",
                release_sentinel::sanitize::quoted(text)
            )
        })
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A duration flag; within `min..=max`, the limits of the config key it
/// overrides (and far from the clock's overflow). A value too large to
/// hold is refused as such, never wrapped.
fn arg_duration(
    text: Option<&str>,
    flag: &str,
    default: Duration,
    (min, max): (Duration, Duration),
) -> Result<Duration, Error> {
    let Some(t) = text else {
        return Ok(default);
    };
    let shown = release_sentinel::sanitize::quoted(t);
    match humantime::parse_duration(t.trim()) {
        Ok(d) if d > max => Err(Error::Refused(format!(
            "{flag} {shown}: longer than the {} limit",
            humantime::format_duration(max)
        ))),
        Ok(d) if d.is_zero() => Err(Error::Refused(format!(
            "{flag} {shown}: not a duration like 15m or 30s"
        ))),
        Ok(d) if d < min => Err(Error::Refused(format!(
            "{flag} {shown}: shorter than the {} minimum",
            humantime::format_duration(min)
        ))),
        Ok(d) => Ok(d),
        Err(humantime::DurationError::NumberOverflow) => Err(Error::Refused(format!(
            "{flag} {shown}: too large; the limit is {}",
            humantime::format_duration(max)
        ))),
        Err(_) => Err(Error::Refused(format!(
            "{flag} {shown}: not a duration like 15m or 30s"
        ))),
    }
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let ws = args.common.open(cx);
    let mut report = watch(args, &ws, cx)?;
    args.evidence.attach(&mut report, &ws, cx, false);
    Ok(Done::Report(report))
}

/// The verify report: the smoke steps, the watch, the rollback when a
/// trigger fired, and the notifications.
fn watch(args: &Args, ws: &Workspace, cx: &Context<'_>) -> Result<Report, Error> {
    let stop = cx.interrupt_flag();
    let mut report = args.common.target.report(ws, &KIND);
    report.interrupted = Some(false);
    let Ok(config) = &ws.config else {
        return Ok(report);
    };
    let Some(verify) = &config.verify else {
        report.error = Some(format!(
            "{} has no [verify] section: nothing to watch; add probes, rules or smoke steps (see the README's verify section)",
            config.source
        ));
        return Ok(report);
    };
    // The version reaches commands and messages: parse it first, as the
    // gate's version_valid does.
    super::release_version(config, &args.common.target)?;
    let window = arg_duration(
        args.window.as_deref(),
        "--for",
        verify.window,
        (
            Duration::from_nanos(1),
            release_sentinel::verify::MAX_WINDOW,
        ),
    )?;
    let interval = arg_duration(
        args.interval.as_deref(),
        "--interval",
        verify.interval,
        (
            release_sentinel::verify::MIN_INTERVAL,
            release_sentinel::verify::MAX_INTERVAL,
        ),
    )?;
    if !(args.once || args.at.is_some())
        && let Some(why) = release_sentinel::verify::schedule_problem(window, interval)
    {
        return Err(Error::Refused(format!(
            "--for {} at --interval {} {why}",
            humantime::format_duration(window),
            humantime::format_duration(interval)
        )));
    }
    let at = args
        .at
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(Error::Refused)?;
    if at.is_some() && verify.rules.is_empty() {
        return Err(Error::Refused(
            "--at judges the metric rules as of a time, and [verify] has none".to_string(),
        ));
    }
    let state_path = args
        .state
        .clone()
        .unwrap_or_else(|| ws.root.join(&verify.state_file));
    let proxies = Proxies::from_env(cx.vars);
    let mut watch = Watch {
        verify,
        config,
        proxies: &proxies,
        clients: HashMap::new(),
        interval,
    };

    // Smoke steps first: a failed one is a trigger, no need to watch.
    let mut rows: Vec<CheckResult> = Vec::new();
    let mut triggers: Vec<String> = Vec::new();
    let env = [
        ("RS_ENV".to_string(), args.common.target.env().to_string()),
        (
            "RS_VERSION".to_string(),
            args.common.target.version().to_string(),
        ),
    ];
    for step in &verify.smoke {
        let id = format!("smoke:{}", step.name);
        let start = Instant::now();
        let outcome = if at.is_some() {
            Outcome::skip("not evaluated: --at judges stored metrics only")
        } else if stop.load(Ordering::SeqCst) {
            Outcome::skip("not evaluated: interrupted")
        } else {
            cx.progress.begin(&id);
            let o = smoke(step, &env, &ws.root, &stop, cx);
            cx.progress.end(&id);
            o
        };
        let row = CheckResult::new(&id, Phase::Verify, outcome, start.elapsed())
            .with_mode(config.mode_of(&id));
        if row.counts() && matches!(row.status(), Status::Crit) {
            triggers.push(format!("{id} failed: {}", row.outcome.message));
        }
        rows.push(row);
    }

    let once = args.once || at.is_some();
    let mut tracker = Tracker::new(verify, |id| config.mode_of(id), once);
    let mut state = if verify.switches.is_empty() || at.is_some() {
        state::State::default()
    } else {
        state::load(&state_path).map_err(|why| {
            Error::Refused(format!(
                "cannot read the state file {}: {why}",
                release_sentinel::sanitize::ascii(&state_path.display().to_string())
            ))
        })?
    };
    state.version = 1;
    let mut switch_rows: BTreeMap<String, (Outcome, Vec<Value>)> = BTreeMap::new();

    let runtime = release_sentinel::http::runtime()
        .map_err(|e| Error::Refused(format!("cannot start: {e}")))?;
    let start = Instant::now();
    // The window is at most a week: this holds, but never by wrapping.
    let deadline = start
        .checked_add(window)
        .ok_or_else(|| Error::Refused("--for: too long for this clock".to_string()))?;
    let mut evaluations = 0u32;
    // The tick of the current evaluation, and the ticks skipped so far.
    let (mut tick, mut missed) = (0u128, 0u128);
    while triggers.is_empty() && !stop.load(Ordering::SeqCst) {
        let t = at.unwrap_or_else(now);
        // One evaluation, bounded by its budget; a signal drops it (what
        // it would have said is not known).
        let Some((probe_results, rule_results, switch_results)) = runtime.block_on(async {
            tokio::select! {
                r = watch.evaluate(t, at.is_none()) => Some(r),
                () = stopped(&stop) => None,
            }
        }) else {
            break;
        };
        evaluations += 1;
        triggers.extend(tracker.observe(t, probe_results, rule_results));
        if at.is_none() {
            for (sw, (degrade, recover)) in verify.switches.iter().zip(switch_results) {
                let st =
                    state
                        .switches
                        .entry(sw.name.clone())
                        .or_insert_with(|| state::SwitchState {
                            profile: sw.normal.clone(),
                            breaching: 0,
                            switches: 0,
                        });
                let before = st.clone();
                let switched = state::advance(st, sw, &degrade, &recover);
                let entry = switch_rows
                    .entry(sw.name.clone())
                    .or_insert_with(|| (Outcome::ok(""), Vec::new()));
                entry.1.push(json!({
                    "at": judge::time(t),
                    "value": degrade.value.map(number),
                    "outcome": degrade.class,
                    "recover_value": recover.value.map(number),
                    "profile": st.profile,
                    "breaching": st.breaching,
                }));
                let mut message = format!(
                    "profile {} ({}: {} {}, {} of {} breaching; recover {}: {})",
                    st.profile,
                    sw.query,
                    degrade.value.map_or("no data".to_string(), number),
                    sw.bound.describe(),
                    st.breaching,
                    sw.after,
                    sw.recover_query,
                    recover.value.map_or("no data".to_string(), number),
                );
                let mut status = if st.profile == sw.normal {
                    Status::Ok
                } else {
                    Status::Warn
                };
                if let Some(profile) = switched {
                    // The marker line, and the profile's command.
                    message = format!("PROFILE_APPLIED={profile}; {message}");
                    if let Some(argv) = sw.apply.get(&profile) {
                        const APPLY_TIMEOUT: Duration = Duration::from_secs(300);
                        let ran = runner::run(argv, &env, APPLY_TIMEOUT, &ws.root, &stop);
                        if let Some(why) = ran.end.failure(APPLY_TIMEOUT) {
                            // The service is in no known profile: that is a
                            // trigger, and the state keeps the profile it
                            // had, so that a later run applies it again.
                            status = Status::Crit;
                            message.push_str(&format!("; applying it failed: {why}"));
                            *st = before;
                            let id = format!("switch:{}", sw.name);
                            if config.mode_of(&id) == Mode::Enforce {
                                triggers.push(format!(
                                    "{id}: applying profile {profile} failed: {why}"
                                ));
                            }
                        }
                    }
                }
                entry.0 = Outcome::new(status, message)
                    .detail("profile", st.profile.as_str())
                    .detail("breaching", st.breaching)
                    .detail("switches", st.switches);
            }
            if !verify.switches.is_empty()
                && let Err(why) = state::save(&state_path, &state)
            {
                report.error = Some(format!(
                    "cannot write the state file {}: {why}",
                    state_path.display()
                ));
                break;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now()).as_secs();
        cx.progress.note(&tracker.closest(left));
        if once || !triggers.is_empty() {
            break;
        }
        // The next tick of the clock (start + k * interval) still ahead:
        // an evaluation longer than the interval skips the ticks it
        // overran, so the schedule never drifts and the window never
        // stretches. The last tick is the window's end.
        let Some((next, k)) = next_tick(start, interval, deadline) else {
            break;
        };
        missed += k.saturating_sub(tick + 1);
        tick = k;
        while Instant::now() < next && !stop.load(Ordering::SeqCst) {
            std::thread::sleep((next - Instant::now()).min(Duration::from_millis(50)));
        }
    }
    runtime.shutdown_background();
    if missed > 0 {
        tracing::warn!(
            "{missed} evaluation tick(s) skipped: an evaluation took longer than the interval ({})",
            humantime::format_duration(interval)
        );
    }
    let interrupted = stop.load(Ordering::SeqCst);
    // Why a probe, rule or switch has no evaluation: the run was stopped,
    // or a smoke step triggered before the watch began.
    let not_run = if interrupted {
        "not evaluated: interrupted"
    } else {
        "not evaluated: a smoke step triggered first"
    };

    // The rows: what each saw, and whether it ended well.
    let (watched, ended_badly) = tracker.rows(at.is_some(), interrupted, not_run);
    rows.extend(watched);
    for sw in &verify.switches {
        let id = format!("switch:{}", sw.name);
        let outcome = match switch_rows.remove(&sw.name) {
            Some((o, history)) => o.detail("evaluations", history),
            None if at.is_some() => Outcome::skip("not evaluated: --at judges stored metrics only"),
            None => Outcome::skip(not_run),
        };
        rows.push(
            CheckResult::new(&id, Phase::Verify, outcome, Duration::ZERO)
                .with_mode(config.mode_of(&id)),
        );
    }
    // Every counted row that ended failing (a warn row ended as a WARN) is
    // a reason; triggers first.
    for id in ended_badly {
        if rows
            .iter()
            .any(|r| r.id == id && r.counts() && matches!(r.status(), Status::Crit | Status::Fail))
        {
            triggers.push(format!("{id} ended the window failing"));
        }
    }
    let rolling_back = !triggers.is_empty() && !interrupted;
    let reason = triggers.first().cloned().unwrap_or_default();
    let previous_tag = ws.previous_tag(config, args.common.target.version());
    // What the verify.rollback message says was done: only a rollback
    // command that ran and succeeded is "in progress".
    let mut rollback_note = String::new();
    if rolling_back {
        let row = rollback(
            verify,
            args,
            at.is_some(),
            &previous_tag,
            &reason,
            &ws.root,
            cx,
        );
        rollback_note = rollback_note_of(&row, previous_tag.as_ref().ok());
        rows.push(row);
    }
    // A signal during the rollback stops it (the runner kills its tree):
    // that run is interrupted too.
    let stopped_in_rollback = rolling_back && stop.load(Ordering::SeqCst);
    let interrupted = interrupted || stopped_in_rollback;
    report.interrupted = Some(interrupted);
    if interrupted {
        // The third ending, VERIFY=ERROR: say why, and what was not done.
        let when = if stopped_in_rollback {
            format!("while the rollback ran (triggered by {reason})")
        } else if evaluations == 0 && !verify.smoke.is_empty() {
            "during the smoke steps".to_string()
        } else if evaluations == 0 {
            "before the first evaluation".to_string()
        } else {
            format!(
                "during the window, after {}",
                release_sentinel::text::count(evaluations as usize, "evaluation")
            )
        };
        let what = if stopped_in_rollback {
            "the rollback command was stopped and no notification was sent"
        } else {
            "no verdict; no rollback ran and no notification was sent"
        };
        let o = Outcome::fail(format!("stopped by SIGINT or SIGTERM {when}: {what}"))
            .detail("evaluations", evaluations);
        rows.push(CheckResult::new(
            "interrupted",
            Phase::Verify,
            o,
            start.elapsed(),
        ));
    }
    report.rows = rows;
    // Tell people, when the config says to; a rollback always, even when
    // the run also could not finish (the state file could not be written).
    if !interrupted && (report.error.is_none() || rolling_back) {
        let event = if rolling_back {
            "verify.rollback"
        } else {
            "verify.healthy"
        };
        let reason = if rolling_back {
            reason
        } else {
            format!(
                "{evaluations} evaluation(s) over {}",
                humantime::format_duration(window)
            )
        };
        let mut extra = vec![("verdict", report.kind.word(report.verdict()).to_string())];
        if rolling_back {
            extra.push(("rollback", rollback_note));
        }
        let message = config.notify.message(
            &report.target,
            event,
            &reason,
            previous_tag.as_ref().ok().cloned(),
            &extra,
        );
        if at.is_some() {
            report.rows.extend(would_send(&config.notify, &message));
        } else {
            report.rows.extend(notify::deliver_all(
                &config.notify,
                &message,
                &proxies,
                false,
            ));
        }
    }
    Ok(report)
}

/// Why `--at` acts on nothing, at the start of each row that says what
/// would have been done.
const REPLAY: &str = "--at replays stored metrics";

/// `--at`'s notification rows: what each target that wants `message`
/// would have been sent, and nothing sent. Shadow rows, as delivered ones
/// are: a notification never changes the verdict.
fn would_send(notify: &notify::Notify, message: &Message) -> Vec<CheckResult> {
    notify
        .targets
        .iter()
        .filter(|t| t.wants(&message.event))
        .map(|t| {
            let channel = match t.channel {
                notify::Channel::Slack => "slack",
                notify::Channel::Webhook { .. } => "webhook",
            };
            let o = Outcome::skip(format!(
                "{REPLAY}: would send {}: {}",
                message.event, message.text
            ))
            .detail("channel", channel);
            CheckResult::new(
                format!("notify:{}", t.name),
                Phase::Notify,
                o,
                Duration::ZERO,
            )
            .with_mode(Mode::Shadow)
        })
        .collect()
}

/// The first tick of the schedule after now, `start + k * interval`, with
/// its `k`; `None` when it falls after `deadline` (the window is over).
fn next_tick(start: Instant, interval: Duration, deadline: Instant) -> Option<(Instant, u128)> {
    let k = start
        .elapsed()
        .as_nanos()
        .checked_div(interval.as_nanos())?
        .checked_add(1)?;
    let at = interval
        .checked_mul(u32::try_from(k).ok()?)
        .and_then(|d| start.checked_add(d))?;
    (at <= deadline).then_some((at, k))
}

/// Resolves once SIGINT or SIGTERM has set `stop`.
async fn stopped(stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The most one evaluation may take: the longest of the probes' and
/// Prometheus' own timeouts, and a grace of [`BUDGET_GRACE`] (each request
/// is bounded by its own; this bounds anything else). A run ends at most
/// this long after its window.
fn budget(verify: &Verify, config: &Config) -> Duration {
    verify
        .probes
        .iter()
        .map(|p| p.req.timeout)
        .chain(config.prometheus.as_ref().map(|s| s.timeout))
        .max()
        .unwrap_or(Duration::from_secs(1))
        + BUDGET_GRACE
}

/// Past the longest request timeout: a request's own timeout, which says
/// what it waited for ("timed out"), ends it before the evaluation's
/// budget does, even on a loaded machine where both would fire together.
const BUDGET_GRACE: Duration = Duration::from_millis(250);

/// The HTTP clients and what an evaluation needs.
struct Watch<'a> {
    verify: &'a Verify,
    config: &'a Config,
    proxies: &'a Proxies,
    clients: HashMap<http::Settings, Result<reqwest::Client, String>>,
    interval: Duration,
}

impl Watch<'_> {
    fn client(&mut self, settings: &http::Settings) -> Result<reqwest::Client, String> {
        self.clients
            .entry(settings.clone())
            .or_insert_with(|| http::client(settings, self.proxies))
            .clone()
    }

    /// One evaluation at `t`: every probe (when `live`), rule and switch at once.
    async fn evaluate(
        &mut self,
        t: f64,
        live: bool,
    ) -> (
        Vec<Result<u16, String>>,
        Vec<Evaluation>,
        Vec<(Evaluation, Evaluation)>,
    ) {
        let probe_clients: Vec<_> = self
            .verify
            .probes
            .iter()
            .map(|p| self.client(&p.req.http()))
            .collect();
        let prom = self.config.prometheus.clone();
        let prom_client = prom.as_ref().map(|s| self.client(&s.http));
        let budget = budget(self.verify, self.config);
        let over = move || {
            format!(
                "no answer within the evaluation's budget of {}",
                humantime::format_duration(budget)
            )
        };
        let probes = self
            .verify
            .probes
            .iter()
            .zip(probe_clients)
            .map(|(p, c)| async move {
                if !live {
                    return Err("not evaluated".to_string());
                }
                match c {
                    Ok(c) => tokio::time::timeout(budget, api::once(&c, &p.req))
                        .await
                        .unwrap_or_else(|_| Err(over())),
                    Err(e) => Err(format!("no HTTP client ({e})")),
                }
            });
        let step_of = |s: Option<Duration>| s.unwrap_or(self.interval).as_secs_f64().max(1.0);
        let query = |q: String, sustain: f64, step: f64| {
            let (prom, client) = (prom.clone(), prom_client.clone());
            async move {
                match (prom, client) {
                    (Some(server), Some(Ok(c))) => tokio::time::timeout(
                        budget,
                        prom::range(&c, &server, &q, t - sustain, t, step),
                    )
                    .await
                    .unwrap_or_else(|_| Fetched::Error(over())),
                    (Some(_), Some(Err(e))) => Fetched::Error(format!("no HTTP client ({e})")),
                    _ => Fetched::Error("no [prometheus] server".to_string()),
                }
            }
        };
        let rules = self.verify.rules.iter().map(|r| {
            let step = step_of(r.step);
            let sustain = r.sustain.as_secs_f64();
            let fut = query(r.query.clone(), sustain, step);
            async move { judge::judge(&fut.await, r.bound, t, sustain, step) }
        });
        let switches = self.verify.switches.iter().map(|s| {
            let step = step_of(s.step);
            let (d, rc) = (
                query(s.query.clone(), 0.0, step),
                query(s.recover_query.clone(), 0.0, step),
            );
            async move {
                let (d, rc) = (d.await, rc.await);
                (
                    judge::judge(&d, s.bound, t, 0.0, step),
                    judge::judge(&rc, s.recover_bound, t, 0.0, step),
                )
            }
        });
        let (p, r, s) = (
            release_sentinel::par::join_all(probes.collect()),
            release_sentinel::par::join_all(rules.collect()),
            release_sentinel::par::join_all(switches.collect()),
        );
        tokio::join!(p, r, s)
    }
}

fn smoke(
    step: &release_sentinel::pack::section::Step,
    env: &[(String, String)],
    root: &std::path::Path,
    stop: &AtomicBool,
    cx: &Context<'_>,
) -> Outcome {
    let Run::Command { argv, env: own } = &step.run else {
        return Outcome::crit("could not start: a smoke step is a command");
    };
    let env: Vec<(String, String)> = env.iter().chain(own).cloned().collect();
    let ran = runner::run(argv, &env, step.timeout, root, stop);
    let (status, message) = match &ran.end {
        runner::End::Exited(0) => (Status::Ok, "passed (exit 0)".to_string()),
        runner::End::Exited(c) => (Status::Crit, format!("failed: exit {c}")),
        runner::End::Signalled(s) => (Status::Crit, format!("failed: killed by signal {s}")),
        runner::End::TimedOut => (
            Status::Crit,
            format!(
                "failed: timed out after {}",
                humantime::format_duration(step.timeout)
            ),
        ),
        runner::End::Interrupted => (Status::Skip, "not finished: interrupted".to_string()),
        runner::End::CouldNotStart(why) => (Status::Crit, format!("could not start: {why}")),
    };
    Outcome::new(status, message)
        .detail("stdout", ran.stdout.scrubbed(cx.scrubber))
        .detail("stderr", ran.stderr.scrubbed(cx.scrubber))
}

/// Run (or, with `--no-rollback` or `--at`, show) the rollback command.
fn rollback(
    verify: &Verify,
    args: &Args,
    replay: bool,
    previous: &Result<String, String>,
    reason: &str,
    root: &std::path::Path,
    cx: &Context<'_>,
) -> CheckResult {
    let start = Instant::now();
    let id = "rollback";
    let Some(rb) = &verify.rollback else {
        let o = Outcome::skip(format!(
            "no rollback command is configured (verify.rollback); triggered by {reason}"
        ));
        return CheckResult::new(id, Phase::Verify, o, Duration::ZERO);
    };
    let needs_tag = rb.argv.iter().any(|a| a.contains("{previous_tag}"));
    let previous_tag = match (previous, needs_tag) {
        (Ok(t), _) => t.clone(),
        (Err(_), false) => String::new(),
        (Err(why), true) => {
            let o = Outcome::fail(format!(
                "cannot run the rollback: {{previous_tag}} is unknown: {why}"
            ));
            return CheckResult::new(id, Phase::Verify, o, Duration::ZERO);
        }
    };
    // Quoted where they land in a shell script (rollback_shell = true,
    // or a `sh -c` argv): a tag or an --env holding `$(...)` stays data.
    let argv = runner::substitute(
        &rb.argv,
        &[
            ("previous_tag", previous_tag.as_str()),
            ("version", args.common.target.version()),
            ("env", args.common.target.env()),
        ],
    );
    let shown = argv.join(" ");
    // A replay (`--at`) judges the past: it never acts on the world.
    let dry = if replay {
        Some(REPLAY)
    } else if args.no_rollback {
        Some("--no-rollback")
    } else {
        None
    };
    if let Some(why) = dry {
        let o = Outcome::skip(format!("{why}: would run: {shown}"))
            .detail("argv", argv)
            .detail("reason", reason);
        return CheckResult::new(id, Phase::Verify, o, Duration::ZERO);
    }
    let env = [
        ("RS_ENV".to_string(), args.common.target.env().to_string()),
        (
            "RS_VERSION".to_string(),
            args.common.target.version().to_string(),
        ),
        ("RS_PREVIOUS_TAG".to_string(), previous_tag.clone()),
    ];
    let ran = runner::run(&argv, &env, rb.timeout, root, &cx.interrupt_flag());
    let took = start.elapsed();
    let (status, what) = match &ran.end {
        runner::End::Exited(0) => (Status::Ok, "exit 0".to_string()),
        runner::End::Exited(c) => (Status::Fail, format!("exit {c}")),
        runner::End::Signalled(s) => (Status::Fail, format!("killed by signal {s}")),
        runner::End::TimedOut => (
            Status::Fail,
            format!("timed out after {}", humantime::format_duration(rb.timeout)),
        ),
        runner::End::Interrupted => (Status::Fail, "interrupted".to_string()),
        runner::End::CouldNotStart(why) => (Status::Fail, format!("could not start: {why}")),
    };
    let o = Outcome::new(status, format!("ran {shown}: {what}"))
        .detail("argv", argv)
        .detail("reason", reason)
        .detail(
            "exit_code",
            match ran.end {
                runner::End::Exited(c) => Some(c),
                _ => None,
            },
        )
        .detail("duration_ms", took.as_millis() as u64)
        .detail("stdout", ran.stdout.scrubbed(cx.scrubber))
        .detail("stderr", ran.stderr.scrubbed(cx.scrubber));
    CheckResult::new(id, Phase::Verify, o, took)
}

/// The `{rollback}` of a verify.rollback message, from the rollback row:
/// "Rollback in progress to v1.1.0" only when the command ran and passed;
/// otherwise what was (not) done, so nobody waits for a rollback that is
/// not happening.
fn rollback_note_of(row: &CheckResult, previous: Option<&String>) -> String {
    let to = previous.map(|t| format!(" to {t}")).unwrap_or_default();
    let message = &row.outcome.message;
    match row.status() {
        Status::Ok => format!("Rollback in progress{to}"),
        Status::Skip if message.starts_with(REPLAY) => {
            format!("No rollback was run ({REPLAY}); it would have rolled back{to}")
        }
        Status::Skip if message.starts_with("--no-rollback") => {
            format!("No rollback was run (--no-rollback); roll back{to} by hand")
        }
        Status::Skip => format!("No rollback command is configured; roll back{to} by hand"),
        _ => format!("The rollback{to} failed; roll back by hand"),
    }
}
