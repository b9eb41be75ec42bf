//! Judging one metric rule at one instant: a series of samples against a
//! bound held for a sustain duration. Pure, so every case is a unit test.
//!
//! The outcome is one of four, never folded together:
//!
//! - **BREACH**: samples cover the whole sustain window (one at every step
//!   from `at - sustain` to `at`), none is NaN, and every one is beyond the
//!   bound;
//! - **OK**: the newest sample is fresh and real, and the window is not a
//!   breach (within the bound now, or beyond it for less than the sustain,
//!   or with a gap);
//! - **NO_DATA**: no series, only NaN, a newest sample that is NaN, or one
//!   older than two steps: nothing says the service is fine;
//! - **ERROR**: the query could not be answered.
//!
//! Bounds, NaN and staleness are read by [`crate::prom::judge`], the one
//! module that judges a Prometheus result for `verify` and the health
//! checks alike; this one adds the window.

use serde::Serialize;

use crate::prom::Fetched;
use crate::prom::judge::is_stale;
pub use crate::prom::judge::{Bound, number, time};

/// The four outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Class {
    Ok,
    Breach,
    NoData,
    Error,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ok => "OK",
            Class::Breach => "BREACH",
            Class::NoData => "NO_DATA",
            Class::Error => "ERROR",
        }
    }
}

/// One evaluation of a rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// When it judged (unix seconds).
    pub at: f64,
    pub class: Class,
    /// The newest real sample, and when it was taken.
    pub value: Option<f64>,
    pub sample_time: Option<f64>,
    /// One line: what was seen.
    pub note: String,
    /// The samples over the window, for a chart.
    #[serde(skip)]
    pub samples: Vec<(f64, f64)>,
}

/// Judge what a query over `[at - sustain, at]` every `step` returned.
pub fn judge(fetched: &Fetched, bound: Bound, at: f64, sustain: f64, step: f64) -> Evaluation {
    let eval =
        |class, value: Option<(f64, f64)>, note: String, samples: Vec<(f64, f64)>| Evaluation {
            at,
            class,
            value: value.map(|v| v.1),
            sample_time: value.map(|v| v.0),
            note,
            samples,
        };
    let samples = match fetched {
        Fetched::Error(why) => return eval(Class::Error, None, why.clone(), Vec::new()),
        Fetched::Empty => {
            return eval(
                Class::NoData,
                None,
                "no series: the query matched nothing".to_string(),
                Vec::new(),
            );
        }
        Fetched::Series(s) => s,
    };
    // Only the window counts (a small margin for float times).
    let eps = step.max(1.0) / 1000.0;
    let window: Vec<(f64, f64)> = samples
        .iter()
        .copied()
        .filter(|(t, _)| *t >= at - sustain - eps && *t <= at + eps)
        .collect();
    let newest = window.last().copied();
    let newest_real = window.iter().rev().find(|(_, v)| !v.is_nan()).copied();
    let Some(real) = newest_real else {
        let note = if window.is_empty() {
            "no sample in the window".to_string()
        } else {
            format!(
                "only NaN in the window ({})",
                crate::text::count(window.len(), "sample")
            )
        };
        return eval(Class::NoData, None, note, window);
    };
    if let Some((t, v)) = newest
        && v.is_nan()
    {
        return eval(
            Class::NoData,
            Some(real),
            format!("the newest sample is NaN (at {})", time(t)),
            window,
        );
    }
    if is_stale(real.0, at, 2.0 * step + eps) {
        return eval(
            Class::NoData,
            Some(real),
            format!(
                "the newest sample is stale: {} at {}, {}s before the evaluation",
                number(real.1),
                time(real.0),
                (at - real.0).round()
            ),
            window,
        );
    }
    // One sample at every step of the window, all real, all beyond.
    let expected = (sustain / step).floor() as usize + 1;
    let covered = window.len() >= expected && window.iter().all(|(_, v)| !v.is_nan());
    let all_beyond = window.iter().all(|(_, v)| bound.beyond(*v));
    if covered && all_beyond {
        let side = bound.side();
        return eval(
            Class::Breach,
            Some(real),
            format!(
                "{} at {}: {side} the bound for the whole {}s ({})",
                number(real.1),
                time(real.0),
                sustain.round(),
                crate::text::count(window.len(), "sample")
            ),
            window,
        );
    }
    let mut note = format!("{} at {}", number(real.1), time(real.0));
    if bound.beyond(real.1) {
        // Beyond now, but not for the whole sustain (or with a gap).
        let since = window
            .iter()
            .rev()
            .take_while(|(_, v)| bound.beyond(*v))
            .last()
            .map_or(real.0, |s| s.0);
        note.push_str(&format!(
            "; beyond the bound for {}s of {}s",
            (at - since).round(),
            sustain.round()
        ));
    }
    eval(Class::Ok, Some(real), note, window)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_time_out_of_rfc_3339_range_is_shown_as_a_number() {
        assert_eq!(time(1_700_000_000.5), "2023-11-14T22:13:20Z");
        assert_eq!(time(1e12), "unix time 1000000000000");
        assert_eq!(time(-5.0), "unix time -5");
        assert_eq!(time(f64::INFINITY), "unix time inf");
        assert_eq!(time(f64::NAN), "unix time NaN");
    }

    use super::*;

    const AT: f64 = 1_700_000_600.0;

    /// `n` samples one `step` apart ending at `AT`, values from `f`.
    fn series(n: usize, step: f64, f: impl Fn(usize) -> f64) -> Fetched {
        Fetched::Series(
            (0..n)
                .map(|i| (AT - (n - 1 - i) as f64 * step, f(i)))
                .collect(),
        )
    }

    #[test]
    fn a_breach_held_for_the_whole_sustain() {
        // 10 minutes at a 60 s step: 11 samples, all above 0.01.
        let e = judge(
            &series(11, 60.0, |_| 0.05),
            Bound::Max(0.01),
            AT,
            600.0,
            60.0,
        );
        assert_eq!(e.class, Class::Breach, "{e:?}");
        assert_eq!(e.value, Some(0.05));
        assert!(
            e.note.contains("above the bound for the whole 600s"),
            "{}",
            e.note
        );
    }

    #[test]
    fn a_breach_that_recovers_one_sample_before_the_sustain_ends_is_not_one() {
        let e = judge(
            &series(11, 60.0, |i| if i == 0 { 0.001 } else { 0.05 }),
            Bound::Max(0.01),
            AT,
            600.0,
            60.0,
        );
        assert_eq!(e.class, Class::Ok, "{e:?}");
        assert!(
            e.note.contains("beyond the bound for 540s of 600s"),
            "{}",
            e.note
        );
        // Or recovers now.
        let e = judge(
            &series(11, 60.0, |i| if i == 10 { 0.001 } else { 0.05 }),
            Bound::Max(0.01),
            AT,
            600.0,
            60.0,
        );
        assert_eq!(e.class, Class::Ok);
    }

    #[test]
    fn samples_that_do_not_cover_the_window_are_no_breach() {
        // Only the last 5 minutes have data.
        let e = judge(
            &series(6, 60.0, |_| 0.05),
            Bound::Max(0.01),
            AT,
            600.0,
            60.0,
        );
        assert_eq!(e.class, Class::Ok, "{e:?}");
    }

    #[test]
    fn a_min_bound_breaches_below() {
        let e = judge(&series(4, 30.0, |_| 3.0), Bound::Min(5.0), AT, 90.0, 30.0);
        assert_eq!(e.class, Class::Breach);
        let e = judge(&series(4, 30.0, |_| 7.0), Bound::Min(5.0), AT, 90.0, 30.0);
        assert_eq!(e.class, Class::Ok);
    }

    #[test]
    fn no_data_comes_in_every_shape() {
        let b = Bound::Max(1.0);
        assert_eq!(
            judge(&Fetched::Empty, b, AT, 60.0, 30.0).class,
            Class::NoData
        );
        let nan = judge(&series(3, 30.0, |_| f64::NAN), b, AT, 60.0, 30.0);
        assert_eq!(nan.class, Class::NoData);
        assert!(nan.note.contains("only NaN"));
        let newest_nan = judge(
            &series(3, 30.0, |i| if i == 2 { f64::NAN } else { 0.5 }),
            b,
            AT,
            60.0,
            30.0,
        );
        assert_eq!(newest_nan.class, Class::NoData);
        assert_eq!(newest_nan.value, Some(0.5));
        // The newest sample is 10 minutes old at a 30 s step.
        let stale = Fetched::Series(vec![(AT - 600.0, 0.5)]);
        let e = judge(&stale, b, AT, 900.0, 30.0);
        assert_eq!(e.class, Class::NoData);
        assert!(e.note.contains("stale"), "{}", e.note);
        let e = judge(&Fetched::Series(vec![]), b, AT, 60.0, 30.0);
        assert_eq!(e.class, Class::NoData);
    }

    #[test]
    fn a_nan_in_the_window_keeps_a_breach_from_being_proved() {
        let e = judge(
            &series(5, 30.0, |i| if i == 2 { f64::NAN } else { 9.0 }),
            Bound::Max(1.0),
            AT,
            120.0,
            30.0,
        );
        assert_eq!(e.class, Class::Ok, "{e:?}");
    }

    #[test]
    fn an_error_is_an_error() {
        let e = judge(
            &Fetched::Error("HTTP 422, execution: x".into()),
            Bound::Max(1.0),
            AT,
            60.0,
            30.0,
        );
        assert_eq!(e.class, Class::Error);
        assert_eq!(e.note, "HTTP 422, execution: x");
    }

    #[test]
    fn an_instant_rule_judges_the_newest_sample() {
        let e = judge(&series(1, 15.0, |_| 2.0), Bound::Max(1.0), AT, 0.0, 15.0);
        assert_eq!(e.class, Class::Breach);
    }

    #[test]
    fn numbers_and_times_read_well() {
        assert_eq!(number(0.0123), "0.0123");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(time(1_700_000_000.0), "2023-11-14T22:13:20Z");
    }
}
