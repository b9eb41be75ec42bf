//! The watch's judgement, without a clock, a network or a process: what
//! each probe and rule saw so far ([`Tracker::observe`], one evaluation at
//! a time), when one triggers, and the rows the watch ends with
//! ([`Tracker::rows`]). [`super::run`] drives it with a loop that
//! evaluates on its schedule; the smoke steps, the profile switches, the
//! rollback and the notifications are that loop's.
//!
//! A probe triggers when it fails more than its `failures` in a row; a rule
//! when it breaches, or returns no data (or an error) more than its limit
//! in a row since its last good evaluation, or at all under `--once`. A
//! shadow row never triggers; a warn row's trigger is recorded (its row is
//! CRIT, which its mode makes a WARN) and never stops the watch.

use std::time::Duration;

use serde_json::{Value, json};

use super::judge::{self, Class, Evaluation, number};
use super::{Probe, Rule, Verify};
use crate::report::{CheckResult, Mode, Outcome, Phase, Status};

/// What one probe saw so far.
#[derive(Default)]
struct ProbeTrack {
    run: u32,
    failures: u32,
    evaluations: u32,
    last: Option<Result<u16, String>>,
    trigger: Option<String>,
    history: Vec<Value>,
}

/// What one rule saw so far.
#[derive(Default)]
struct RuleTrack {
    no_data_run: u32,
    error_run: u32,
    last: Option<Evaluation>,
    trigger: Option<String>,
    history: Vec<Value>,
}

/// What the watch saw of every probe and rule of a [`Verify`].
pub struct Tracker<'a> {
    verify: &'a Verify,
    probe_modes: Vec<Mode>,
    rule_modes: Vec<Mode>,
    /// `--once` (or `--at`): one evaluation is the whole watch, so no data
    /// or an error is not waited out.
    once: bool,
    probes: Vec<ProbeTrack>,
    rules: Vec<RuleTrack>,
}

impl<'a> Tracker<'a> {
    /// Nothing seen yet; `mode_of` gives a row's mode by its id.
    pub fn new(verify: &'a Verify, mode_of: impl Fn(&str) -> Mode, once: bool) -> Self {
        Self {
            verify,
            probe_modes: verify
                .probes
                .iter()
                .map(|p| mode_of(&format!("probe:{}", p.name)))
                .collect(),
            rule_modes: verify
                .rules
                .iter()
                .map(|r| mode_of(&format!("rule:{}", r.name)))
                .collect(),
            once,
            probes: verify
                .probes
                .iter()
                .map(|_| ProbeTrack::default())
                .collect(),
            rules: verify.rules.iter().map(|_| RuleTrack::default()).collect(),
        }
    }

    /// One evaluation at `t` (unix seconds): each probe's answer (its
    /// status code, or why there is none) and each rule's evaluation, in
    /// the config's order. Returns the triggers of enforced rows, probes
    /// first; empty when the watch goes on.
    pub fn observe(
        &mut self,
        t: f64,
        probe_results: Vec<Result<u16, String>>,
        rule_results: Vec<Evaluation>,
    ) -> Vec<String> {
        let mut triggers = Vec::new();
        for (((p, track), result), mode) in self
            .verify
            .probes
            .iter()
            .zip(&mut self.probes)
            .zip(probe_results)
            .zip(&self.probe_modes)
        {
            let id = format!("probe:{}", p.name);
            track.evaluations += 1;
            let ok = matches!(&result, Ok(s) if p.req.expect.contains(s));
            track.history.push(json!({
                "at": judge::time(t),
                "outcome": if ok { "OK" } else { "FAIL" },
                "status": result.as_ref().ok(),
                "error": result.as_ref().err(),
            }));
            if ok {
                track.run = 0;
            } else {
                track.run += 1;
                track.failures += 1;
                if track.run > p.failures && *mode != Mode::Shadow {
                    track.trigger = Some(format!(
                        "{id} failed {} in a row (limit {})",
                        crate::text::count(track.run as usize, "time"),
                        p.failures
                    ));
                }
            }
            track.last = Some(result);
            // Only an enforced row triggers: a warn row's verdict is a
            // WARN, and a shadow row never counts.
            if let Some(why) = &track.trigger
                && *mode == Mode::Enforce
            {
                triggers.push(why.clone());
            }
        }
        for (((r, track), eval), mode) in self
            .verify
            .rules
            .iter()
            .zip(&mut self.rules)
            .zip(rule_results)
            .zip(&self.rule_modes)
        {
            let id = format!("rule:{}", r.name);
            track.history.push(json!({
                "at": judge::time(eval.at),
                "outcome": eval.class,
                "value": eval.value.map(number),
                "sample_time": eval.sample_time.map(judge::time),
                "note": eval.note,
            }));
            match eval.class {
                Class::Ok => {
                    track.no_data_run = 0;
                    track.error_run = 0;
                }
                Class::Breach => {
                    track.trigger = Some(format!("{id} breached: {}", eval.note));
                }
                // Both count since the last good evaluation: a query that
                // alternates between no data and errors is never good.
                Class::NoData => {
                    track.no_data_run += 1;
                    if track.no_data_run > r.no_data_limit || self.once {
                        track.trigger = Some(format!("{id} has no data: {}", eval.note));
                    }
                }
                Class::Error => {
                    track.error_run += 1;
                    if track.error_run > r.error_limit || self.once {
                        track.trigger = Some(format!("{id} could not be evaluated: {}", eval.note));
                    }
                }
            }
            track.last = Some(eval);
            if let Some(why) = &track.trigger
                && *mode == Mode::Enforce
            {
                triggers.push(why.clone());
            }
        }
        triggers
    }

    /// The rows the watch ends with, one per probe and rule, each with its
    /// mode applied, and the triggers of the enforced ones that ended
    /// failing without having triggered (`<id> ended the window failing`:
    /// the window ended, or the run was `interrupted`, on them; a warn row
    /// ends as a WARN and a shadow row never counts). `at` is `--at`
    /// (probes are not replayed); `not_run` says why a row has no
    /// evaluation.
    pub fn rows(
        &self,
        at: bool,
        interrupted: bool,
        not_run: &str,
    ) -> (Vec<CheckResult>, Vec<String>) {
        let mut rows = Vec::new();
        let mut ended_badly = Vec::new();
        for ((p, track), mode) in self
            .verify
            .probes
            .iter()
            .zip(&self.probes)
            .zip(&self.probe_modes)
        {
            let id = format!("probe:{}", p.name);
            let outcome = probe_outcome(p, track, at, interrupted, not_run);
            if track.trigger.is_none() && outcome.status == Status::Crit && *mode == Mode::Enforce {
                ended_badly.push(format!("{id} ended the window failing"));
            }
            rows.push(
                CheckResult::new(
                    &id,
                    Phase::Verify,
                    outcome.detail("evaluations", track.history.clone()),
                    Duration::ZERO,
                )
                .with_mode(*mode),
            );
        }
        for ((r, track), mode) in self
            .verify
            .rules
            .iter()
            .zip(&self.rules)
            .zip(&self.rule_modes)
        {
            let id = format!("rule:{}", r.name);
            let outcome = rule_outcome(r, track, not_run);
            if track.trigger.is_none() && outcome.status == Status::Crit && *mode == Mode::Enforce {
                ended_badly.push(format!("{id} ended the window failing"));
            }
            rows.push(
                CheckResult::new(&id, Phase::Verify, outcome, Duration::ZERO).with_mode(*mode),
            );
        }
        (rows, ended_badly)
    }

    /// The live line: `left` seconds of the window, and the row closest to
    /// its limit.
    pub fn closest(&self, left: u64) -> String {
        let mut worst: Option<(f64, String)> = None;
        for (p, t) in self.verify.probes.iter().zip(&self.probes) {
            let share = f64::from(t.run) / f64::from(p.failures + 1);
            if worst.as_ref().is_none_or(|w| share > w.0) {
                worst = Some((
                    share,
                    format!("probe:{} {} of {} failures", p.name, t.run, p.failures),
                ));
            }
        }
        for (r, t) in self.verify.rules.iter().zip(&self.rules) {
            let run = t.no_data_run.max(t.error_run);
            let share = f64::from(run) / f64::from(r.no_data_limit.max(r.error_limit) + 1);
            if worst.as_ref().is_none_or(|w| share > w.0) {
                let value = t
                    .last
                    .as_ref()
                    .and_then(|e| e.value)
                    .map_or("no data".to_string(), number);
                worst = Some((
                    share,
                    format!("rule:{} {value} ({})", r.name, r.bound.describe()),
                ));
            }
        }
        format!(
            "verify: {}m{:02}s left; closest: {}",
            left / 60,
            left % 60,
            worst.map_or("-".to_string(), |w| w.1)
        )
    }
}

/// A probe's row: CRIT when it triggered or the window ended with it
/// failing; WARN when it failed within its limit and recovered.
fn probe_outcome(p: &Probe, t: &ProbeTrack, at: bool, interrupted: bool, not_run: &str) -> Outcome {
    let url = crate::secrets::mask_url(&p.req.url);
    if at {
        return Outcome::skip("not evaluated: --at judges stored metrics only");
    }
    let Some(last) = &t.last else {
        return Outcome::skip(not_run);
    };
    let last_text = match last {
        Ok(s) => format!(" -> {s}"),
        Err(e) => format!(": {e}"),
    };
    let counts = format!(
        "{} evaluation{}, {} failure{}",
        t.evaluations,
        crate::text::plural(t.evaluations as usize),
        t.failures,
        crate::text::plural(t.failures as usize)
    );
    if let Some(why) = &t.trigger {
        return Outcome::crit(format!("GET {url}{last_text}; {why}; {counts}"));
    }
    if t.run > 0 {
        let ended = if interrupted {
            "interrupted"
        } else {
            "the window ended"
        };
        return Outcome::crit(format!(
            "GET {url}{last_text}; {ended} with it failing ({} of {} allowed in a row); {counts}",
            t.run, p.failures
        ));
    }
    if t.failures > 0 {
        return Outcome::warn(format!("GET {url}{last_text}; recovered; {counts}"));
    }
    Outcome::ok(format!("GET {url}{last_text}; {counts}"))
}

/// A rule's row: the query, the last value with its sample time, the bound.
fn rule_outcome(r: &Rule, t: &RuleTrack, not_run: &str) -> Outcome {
    let Some(last) = &t.last else {
        return Outcome::skip(not_run);
    };
    let bound = if r.sustain.is_zero() {
        r.bound.describe()
    } else {
        format!(
            "{} for {}",
            r.bound.describe(),
            humantime::format_duration(r.sustain)
        )
    };
    let message = format!(
        "{} ({bound}): {}: {}",
        r.name,
        last.class.as_str(),
        last.note
    );
    let status = match (&t.trigger, last.class) {
        (Some(_), _) => Status::Crit,
        (None, Class::Ok) => Status::Ok,
        // Within its limit, but the window ended on it: not HEALTHY.
        (None, _) => Status::Crit,
    };
    let chart: Vec<Value> = last
        .samples
        .iter()
        .map(|(t, v)| {
            json!([
                judge::time(*t),
                if v.is_finite() { json!(v) } else { Value::Null }
            ])
        })
        .collect();
    let bound_value = match r.bound {
        judge::Bound::Max(m) | judge::Bound::Min(m) => m,
    };
    Outcome::new(status, message)
        .detail("query", r.query.as_str())
        .detail("bound", r.bound.describe())
        .detail("value", last.value)
        .detail("sample_time", last.sample_time.map(judge::time))
        .detail("outcome", last.class.as_str())
        .detail("evaluations", t.history.clone())
        .detail("chart", json!({ "bound": bound_value, "points": chart }))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::{self, Source};
    use crate::envsnap::EnvSnapshot;
    use crate::secrets::Scrubber;

    /// The `[verify]` section of a test configuration `text`.
    pub(in crate::verify) fn parsed(text: &str) -> Verify {
        config::parse(
            text,
            Source::Embedded,
            &EnvSnapshot::default(),
            &Scrubber::new(),
        )
        .expect("the test config is valid")
        .verify
        .expect("it has [verify]")
    }

    const CONFIG: &str = r#"
[prometheus]
url = "http://127.0.0.1:9"

[verify]
[[verify.probe]]
name = "health"
url = "http://127.0.0.1:9/health"
failures = 2

[[verify.rule]]
name = "errors"
query = "up"
max = 0.01
no_data_limit = 1
error_limit = 1
"#;

    fn verify() -> Verify {
        parsed(CONFIG)
    }

    fn eval(class: Class) -> Evaluation {
        Evaluation {
            at: 0.0,
            class,
            value: matches!(class, Class::Ok | Class::Breach).then_some(0.5),
            sample_time: None,
            note: class.as_str().to_string(),
            samples: Vec::new(),
        }
    }

    fn enforce(_: &str) -> Mode {
        Mode::Enforce
    }

    fn fails() -> Vec<Result<u16, String>> {
        vec![Err("connection refused".to_string())]
    }

    fn up() -> Vec<Result<u16, String>> {
        vec![Ok(200)]
    }

    fn statuses(rows: &[CheckResult]) -> Vec<(&str, Status)> {
        rows.iter().map(|r| (r.id.as_str(), r.status())).collect()
    }

    #[test]
    fn a_probe_triggers_past_its_limit_and_a_success_resets_the_count() {
        let v = verify();
        let mut w = Tracker::new(&v, enforce, false);
        let ok = || vec![eval(Class::Ok)];
        assert!(w.observe(1.0, fails(), ok()).is_empty());
        assert!(w.observe(2.0, fails(), ok()).is_empty());
        assert!(w.observe(3.0, up(), ok()).is_empty(), "one success resets");
        assert!(w.observe(4.0, vec![Ok(503)], ok()).is_empty());
        assert!(w.observe(5.0, fails(), ok()).is_empty());
        assert_eq!(
            w.observe(6.0, fails(), ok()),
            ["probe:health failed 3 times in a row (limit 2)"]
        );
        let (rows, ended_badly) = w.rows(false, false, "not run");
        assert_eq!(
            statuses(&rows),
            [("probe:health", Status::Crit), ("rule:errors", Status::Ok)]
        );
        assert!(ended_badly.is_empty(), "a trigger is not also an ending");
        assert!(
            rows[0]
                .outcome
                .message
                .contains("6 evaluations, 5 failures"),
            "{}",
            rows[0].outcome.message
        );
    }

    #[test]
    fn a_breach_triggers_at_once() {
        let v = verify();
        let mut w = Tracker::new(&v, enforce, false);
        assert_eq!(
            w.observe(1.0, up(), vec![eval(Class::Breach)]),
            ["rule:errors breached: BREACH"]
        );
    }

    #[test]
    fn no_data_and_errors_each_count_since_the_last_good_evaluation() {
        let v = verify();
        let mut w = Tracker::new(&v, enforce, false);
        // Limits of 1 each: the second of a kind since the last OK triggers,
        // whatever came between them but an OK, which starts both over.
        assert!(w.observe(1.0, up(), vec![eval(Class::NoData)]).is_empty());
        assert!(w.observe(2.0, up(), vec![eval(Class::Ok)]).is_empty());
        assert!(w.observe(3.0, up(), vec![eval(Class::NoData)]).is_empty());
        assert!(w.observe(4.0, up(), vec![eval(Class::Error)]).is_empty());
        assert_eq!(
            w.observe(5.0, up(), vec![eval(Class::NoData)]),
            ["rule:errors has no data: NO_DATA"]
        );
        let mut w = Tracker::new(&v, enforce, false);
        assert!(w.observe(1.0, up(), vec![eval(Class::Error)]).is_empty());
        assert_eq!(
            w.observe(2.0, up(), vec![eval(Class::Error)]),
            ["rule:errors could not be evaluated: ERROR"]
        );
    }

    #[test]
    fn once_no_data_or_an_error_is_never_waited_out() {
        let v = verify();
        for (class, why) in [
            (Class::NoData, "rule:errors has no data: NO_DATA"),
            (Class::Error, "rule:errors could not be evaluated: ERROR"),
        ] {
            let mut w = Tracker::new(&v, enforce, true);
            assert_eq!(w.observe(1.0, up(), vec![eval(class)]), [why]);
        }
    }

    #[test]
    fn a_shadow_row_never_triggers_and_a_warn_row_never_stops_the_watch() {
        let v = verify();
        let mut shadow = Tracker::new(&v, |_| Mode::Shadow, false);
        let mut warn = Tracker::new(&v, |_| Mode::Warn, false);
        for i in 0..4 {
            let t = f64::from(i);
            assert!(
                shadow
                    .observe(t, fails(), vec![eval(Class::Breach)])
                    .is_empty()
            );
            assert!(
                warn.observe(t, fails(), vec![eval(Class::Breach)])
                    .is_empty()
            );
        }
        let (rows, _) = warn.rows(false, false, "not run");
        assert_eq!(
            statuses(&rows),
            [
                ("probe:health", Status::Warn),
                ("rule:errors", Status::Warn)
            ]
        );
        assert!(rows.iter().all(|r| r.mode == Mode::Warn));
        let (rows, _) = shadow.rows(false, false, "not run");
        assert!(rows.iter().all(|r| r.mode == Mode::Shadow && !r.counts()));
    }

    #[test]
    fn the_window_ending_on_a_failure_within_its_limit_is_not_healthy() {
        let v = verify();
        let mut w = Tracker::new(&v, enforce, false);
        assert!(
            w.observe(1.0, fails(), vec![eval(Class::NoData)])
                .is_empty()
        );
        let (rows, ended_badly) = w.rows(false, false, "not run");
        assert_eq!(
            statuses(&rows),
            [
                ("probe:health", Status::Crit),
                ("rule:errors", Status::Crit)
            ]
        );
        assert_eq!(
            ended_badly,
            [
                "probe:health ended the window failing",
                "rule:errors ended the window failing"
            ]
        );
        assert!(
            rows[0]
                .outcome
                .message
                .contains("the window ended with it failing (1 of 2 allowed in a row)"),
            "{}",
            rows[0].outcome.message
        );
        let (rows, _) = w.rows(false, true, "not run");
        assert!(
            rows[0]
                .outcome
                .message
                .contains("interrupted with it failing")
        );
    }

    #[test]
    fn only_an_enforced_row_ending_the_window_failing_is_a_reason_to_roll_back() {
        let v = verify();
        for (mode, reasons) in [(Mode::Enforce, 2), (Mode::Warn, 0), (Mode::Shadow, 0)] {
            let mut w = Tracker::new(&v, |_| mode, false);
            assert!(w.observe(1.0, fails(), vec![eval(Class::Error)]).is_empty());
            let (rows, ended_badly) = w.rows(false, false, "not run");
            assert_eq!(ended_badly.len(), reasons, "{mode:?}");
            assert!(rows.iter().all(|r| r.mode == mode));
        }
        // Interrupted on a failure: the rows say so; whether that rolls
        // back is the loop's (an interrupted run never does).
        let mut w = Tracker::new(&v, enforce, false);
        w.observe(1.0, up(), vec![eval(Class::NoData)]);
        let (rows, ended_badly) = w.rows(false, true, "not run");
        assert_eq!(ended_badly, ["rule:errors ended the window failing"]);
        assert_eq!(rows[1].status(), Status::Crit);
    }

    #[test]
    fn a_probe_that_recovered_is_a_warning() {
        let v = verify();
        let mut w = Tracker::new(&v, enforce, false);
        w.observe(1.0, fails(), vec![eval(Class::Ok)]);
        w.observe(2.0, up(), vec![eval(Class::Ok)]);
        let (rows, ended_badly) = w.rows(false, false, "not run");
        assert_eq!(rows[0].status(), Status::Warn);
        assert!(ended_badly.is_empty());
    }

    #[test]
    fn rows_without_an_evaluation_say_why() {
        let v = verify();
        let w = Tracker::new(&v, enforce, false);
        let (rows, ended_badly) = w.rows(false, false, "not evaluated: interrupted");
        assert_eq!(
            statuses(&rows),
            [
                ("probe:health", Status::Skip),
                ("rule:errors", Status::Skip)
            ]
        );
        assert!(
            rows.iter()
                .all(|r| r.outcome.message == "not evaluated: interrupted")
        );
        assert!(ended_badly.is_empty());
        // Under --at, probes are not replayed.
        let (rows, _) = w.rows(true, false, "not run");
        assert_eq!(
            rows[0].outcome.message,
            "not evaluated: --at judges stored metrics only"
        );
    }

    #[test]
    fn the_live_line_names_the_row_closest_to_its_limit() {
        let v = verify();
        let mut w = Tracker::new(&v, enforce, false);
        w.observe(1.0, fails(), vec![eval(Class::Ok)]);
        w.observe(2.0, fails(), vec![eval(Class::Ok)]);
        assert_eq!(
            w.closest(65),
            "verify: 1m05s left; closest: probe:health 2 of 2 failures"
        );
    }
}
