//! The watch, as `verify` runs it: the smoke steps, then an evaluation at
//! each tick of the clock until a trigger fires or the window ends, then
//! the rows, the rollback when a trigger fired, and the notifications.
//! The judging is elsewhere and has no clock: the probes and rules in
//! [`super::watch::Tracker`], the switches in [`super::switches`]; this
//! module owns the schedule, the signals and what is done about the
//! verdict.
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

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::evaluate::Evaluator;
use super::rollback::{self, Plan, REPLAY};
use super::switches::Switches;
use super::watch::Tracker;
use super::{KIND, MAX_INTERVAL, MAX_WINDOW, MIN_INTERVAL, schedule_problem, smoke};
use crate::http::Proxies;
use crate::notify::{self, Message};
use crate::report::{CheckResult, Mode, Outcome, Phase, Report};
use crate::runner;
use crate::workspace::{Context, Workspace};

/// What a run of `verify` is about and how it watches; the durations and
/// the time as given (they are checked against the config's limits here).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub env: String,
    pub version: String,
    /// `--for`: the window [default: verify.for].
    pub window: Option<String>,
    /// `--interval`: between evaluations [default: verify.interval].
    pub interval: Option<String>,
    /// `--once`: one evaluation.
    pub once: bool,
    /// `--at`: judge the rules as of this time (RFC 3339 or unix seconds).
    pub at: Option<String>,
    /// `--no-rollback`: show the rollback command, run nothing.
    pub no_rollback: bool,
    /// `--state`: the switches' state file [default: verify.state_file,
    /// from the repository root].
    pub state: Option<PathBuf>,
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
    crate::clock::parse_rfc3339(text)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .ok_or_else(|| {
            format!(
                "--at {}: not a time; write it in RFC 3339 (2026-11-30T12:00:00Z) or unix seconds",
                crate::sanitize::quoted(text)
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
) -> Result<Duration, String> {
    let Some(t) = text else {
        return Ok(default);
    };
    let shown = crate::sanitize::quoted(t);
    match humantime::parse_duration(t.trim()) {
        Ok(d) if d > max => Err(format!(
            "{flag} {shown}: longer than the {} limit",
            humantime::format_duration(max)
        )),
        Ok(d) if d.is_zero() => Err(format!("{flag} {shown}: not a duration like 15m or 30s")),
        Ok(d) if d < min => Err(format!(
            "{flag} {shown}: shorter than the {} minimum",
            humantime::format_duration(min)
        )),
        Ok(d) => Ok(d),
        Err(humantime::DurationError::NumberOverflow) => Err(format!(
            "{flag} {shown}: too large; the limit is {}",
            humantime::format_duration(max)
        )),
        Err(_) => Err(format!("{flag} {shown}: not a duration like 15m or 30s")),
    }
}

/// The verify report: the smoke steps, the watch, the rollback when a
/// trigger fired, and the notifications. An invalid config, or none with
/// a `[verify]` section, is the report's error; `Err` is why the run was
/// refused (an argument, the version, the state file, the runtime).
pub fn run(options: &Options, ws: &Workspace, cx: &Context<'_>) -> Result<Report, String> {
    let stop = cx.interrupt_flag();
    let mut report = ws.report(&KIND, Some(&options.env), Some(&options.version));
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
    config
        .release(&options.env, &options.version)
        .map_err(|why| format!("--version: {why}"))?;
    let window = arg_duration(
        options.window.as_deref(),
        "--for",
        verify.window,
        (Duration::from_nanos(1), MAX_WINDOW),
    )?;
    let interval = arg_duration(
        options.interval.as_deref(),
        "--interval",
        verify.interval,
        (MIN_INTERVAL, MAX_INTERVAL),
    )?;
    if !(options.once || options.at.is_some())
        && let Some(why) = schedule_problem(window, interval)
    {
        return Err(format!(
            "--for {} at --interval {} {why}",
            humantime::format_duration(window),
            humantime::format_duration(interval)
        ));
    }
    let at = options.at.as_deref().map(parse_time).transpose()?;
    if at.is_some() && verify.rules.is_empty() {
        return Err("--at judges the metric rules as of a time, and [verify] has none".to_string());
    }
    let state_path = options
        .state
        .clone()
        .unwrap_or_else(|| ws.root.join(&verify.state_file));
    let proxies = Proxies::from_env(cx.vars);
    let mut evaluator = Evaluator::new(verify, config, &proxies, interval);

    // Smoke steps first: a failed one is a trigger, no need to watch.
    let env = [
        ("RS_ENV".to_string(), options.env.clone()),
        ("RS_VERSION".to_string(), options.version.clone()),
    ];
    let (mut rows, mut triggers) = smoke::steps(
        &verify.smoke,
        &env,
        at.is_some(),
        &ws.root,
        &stop,
        cx,
        |id| config.mode_of(id),
    );

    let once = options.once || at.is_some();
    let mut tracker = Tracker::new(verify, |id| config.mode_of(id), once);
    let mut switches = Switches::load(verify, &state_path, at.is_some(), |id| config.mode_of(id))?;

    let runtime = crate::http::runtime().map_err(|e| format!("cannot start: {e}"))?;
    let start = Instant::now();
    // The window is at most a week: this holds, but never by wrapping.
    let deadline = start
        .checked_add(window)
        .ok_or_else(|| "--for: too long for this clock".to_string())?;
    let mut evaluations = 0u32;
    // The tick of the current evaluation, and the ticks skipped so far.
    let (mut tick, mut missed) = (0u128, 0u128);
    while triggers.is_empty() && !stop.load(Ordering::SeqCst) {
        let t = at.unwrap_or_else(now);
        // One evaluation, bounded by its budget; a signal drops it (what
        // it would have said is not known).
        let Some((probe_results, rule_results, switch_results)) = runtime.block_on(async {
            tokio::select! {
                r = evaluator.evaluate(t, at.is_none()) => Some(r),
                () = stopped(&stop) => None,
            }
        }) else {
            break;
        };
        evaluations += 1;
        triggers.extend(tracker.observe(t, probe_results, rule_results));
        if at.is_none() {
            const APPLY_TIMEOUT: Duration = Duration::from_secs(300);
            triggers.extend(switches.observe(t, switch_results, |argv| {
                runner::run(argv, &env, APPLY_TIMEOUT, &ws.root, &stop)
                    .end
                    .failure(APPLY_TIMEOUT)
            }));
            if let Err(why) = switches.save() {
                report.error = Some(why);
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

    // The rows: what each saw, and whether it ended well. Every enforced
    // row that ended failing is a reason; triggers first.
    let (watched, ended_badly) = tracker.rows(at.is_some(), interrupted, not_run);
    rows.extend(watched);
    rows.extend(switches.rows(at.is_some(), not_run));
    triggers.extend(ended_badly);
    let rolling_back = !triggers.is_empty() && !interrupted;
    let reason = triggers.first().cloned().unwrap_or_default();
    let previous_tag = ws.previous_tag(config, &options.version);
    // What the verify.rollback message says was done: only a rollback
    // command that ran and succeeded is "in progress".
    let mut rollback_note = String::new();
    if rolling_back {
        let plan = Plan {
            env: &options.env,
            version: &options.version,
            no_rollback: options.no_rollback,
            replay: at.is_some(),
        };
        let row = rollback::rollback(verify, &plan, &previous_tag, &reason, &ws.root, cx);
        rollback_note = rollback::note_of(&row, previous_tag.as_ref().ok());
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
                crate::text::count(evaluations as usize, "evaluation")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_is_rfc_3339_or_unix_seconds_up_to_the_year_9999() {
        assert_eq!(parse_time("1764504000"), Ok(1_764_504_000.0));
        assert_eq!(parse_time("2025-11-30T12:00:00Z"), Ok(1_764_504_000.0));
        assert_eq!(parse_time("253402300799"), Ok(LAST_TIME));
        for bad in ["253402300800", "-1", "NaN", "inf", "yesterday", ""] {
            let err = parse_time(bad).expect_err(bad);
            assert!(err.starts_with("--at "), "{err}");
            assert!(err.contains("not a time"), "{err}");
        }
    }

    #[test]
    fn a_duration_flag_is_held_to_its_limits_and_named_when_refused() {
        let limits = (Duration::from_secs(1), Duration::from_secs(3600));
        let d = |t: Option<&str>| arg_duration(t, "--interval", Duration::from_secs(30), limits);
        assert_eq!(d(None), Ok(Duration::from_secs(30)));
        assert_eq!(d(Some(" 2m ")), Ok(Duration::from_secs(120)));
        assert_eq!(
            d(Some("2h")),
            Err("--interval \"2h\": longer than the 1h limit".to_string())
        );
        assert_eq!(
            d(Some("500ms")),
            Err("--interval \"500ms\": shorter than the 1s minimum".to_string())
        );
        assert_eq!(
            d(Some("0s")),
            Err("--interval \"0s\": not a duration like 15m or 30s".to_string())
        );
        assert_eq!(
            d(Some("soon")),
            Err("--interval \"soon\": not a duration like 15m or 30s".to_string())
        );
        assert_eq!(
            d(Some("99999999999999999999999s")),
            Err("--interval \"99999999999999999999999s\": too large; the limit is 1h".to_string())
        );
    }

    #[test]
    fn the_next_tick_skips_the_ticks_overrun_and_never_passes_the_window() {
        let interval = Duration::from_millis(100);
        let start = Instant::now() - Duration::from_millis(250);
        let (at, k) = next_tick(start, interval, start + Duration::from_secs(1)).expect("a tick");
        assert_eq!(k, 3, "ticks 1 and 2 were overrun");
        assert_eq!(at, start + Duration::from_millis(300));
        assert_eq!(
            next_tick(start, interval, start + Duration::from_millis(299)),
            None,
            "the next tick is past the window's end"
        );
    }
}
