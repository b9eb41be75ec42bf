//! Judging what Prometheus returned: one module for `verify`'s rules and
//! the fleet health checks, so that both read a result the same way.
//!
//! - **Bounds**: a [`Bound`] is `max` or `min`; a value beyond it breaches.
//!   NaN is never beyond (and never within): it is no data.
//! - **No data**: a sample that is NaN, or older than a staleness bound,
//!   says nothing about the service ([`unread`]).
//! - **Series counting**: a query is expected to return a number of
//!   series ([`Expect`]); fewer is missing data, never a pass.
//! - **Naming**: a series is named by the labels that tell it apart from
//!   the others of its answer ([`telling`], [`name`]).
//!
//! What is judged over a window (a sustained breach) stays with `verify`
//! (`verify::judge`); what a health row says stays with its check.

use super::Labels;

/// Which side of the bound is bad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// Above this is a breach.
    Max(f64),
    /// Below this is a breach.
    Min(f64),
}

impl Bound {
    /// Whether `v` is beyond the bound. NaN is never beyond: it is no data.
    pub fn beyond(self, v: f64) -> bool {
        match self {
            Bound::Max(m) => v > m,
            Bound::Min(m) => v < m,
        }
    }

    /// `max 0.01`, `min 5`.
    pub fn describe(self) -> String {
        match self {
            Bound::Max(m) => format!("max {}", number(m)),
            Bound::Min(m) => format!("min {}", number(m)),
        }
    }

    /// `above`, `below`: the bad side.
    pub fn side(self) -> &'static str {
        match self {
            Bound::Max(_) => "above",
            Bound::Min(_) => "below",
        }
    }

    /// How bad `v` is on this bound's scale: higher is worse (for a `max`
    /// the value itself, for a `min` its negation).
    pub fn badness(self, v: f64) -> f64 {
        match self {
            Bound::Max(_) => v,
            Bound::Min(_) => -v,
        }
    }
}

/// Why a sample says nothing: it is NaN, or older than `max_age` seconds
/// before `at`. `None` when it is a real, fresh value.
pub fn unread(value: f64, sample_time: f64, at: f64, max_age: Option<f64>) -> Option<String> {
    if value.is_nan() {
        return Some("NaN".to_string());
    }
    match max_age {
        Some(age) if is_stale(sample_time, at, age) => Some(format!(
            "stale: sampled {}s before, at {}",
            (at - sample_time).round(),
            time(sample_time)
        )),
        _ => None,
    }
}

/// Whether a sample taken at `sample_time` is older than `max_age`
/// seconds at `at`.
pub fn is_stale(sample_time: f64, at: f64, max_age: f64) -> bool {
    sample_time < at - max_age
}

/// How many series a query must return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// One or more.
    AtLeastOne,
    /// This many: fewer is missing data, more is reported.
    Exactly(usize),
}

impl Expect {
    /// How many of the expected series are missing when `seen` came.
    pub fn missing(self, seen: usize) -> usize {
        match self {
            Expect::AtLeastOne => usize::from(seen == 0),
            Expect::Exactly(n) => n.saturating_sub(seen),
        }
    }

    /// How many more series came than expected.
    pub fn extra(self, seen: usize) -> usize {
        match self {
            Expect::AtLeastOne => 0,
            Expect::Exactly(n) => seen.saturating_sub(n),
        }
    }

    /// `at least one`, `12`.
    pub fn describe(self) -> String {
        match self {
            Expect::AtLeastOne => "at least one".to_string(),
            Expect::Exactly(n) => n.to_string(),
        }
    }
}

/// The label names that tell the series of one answer apart: those whose
/// values differ between two series that both have them (a label only
/// some series carry does not tell them apart by itself). With one
/// series, or series alike in every label, `instance` if it is there,
/// else every label. `__name__` only when nothing else tells them apart.
///
/// One pass over the series, whatever their number: each name is compared
/// with the first value seen for it.
pub fn telling<'a, 'b: 'a>(sets: impl IntoIterator<Item = &'a Labels<'b>>) -> Vec<String> {
    // (name, first value, varies), in the order first seen.
    let mut seen: Vec<(&str, &str, bool)> = Vec::new();
    let mut count = 0usize;
    for set in sets {
        count += 1;
        for (k, v) in set.iter() {
            match seen.iter_mut().find(|s| s.0 == k) {
                Some(s) => s.2 |= s.1 != v,
                None => seen.push((k, v, false)),
            }
        }
    }
    seen.sort_by(|a, b| a.0.cmp(b.0));
    let has = |name: &str| seen.iter().any(|s| s.0 == name);
    let mut out: Vec<String> = seen
        .iter()
        .filter(|s| s.0 != "__name__" && s.2)
        .map(|s| s.0.to_string())
        .collect();
    if out.is_empty() && has("__name__") && count > 1 {
        out.push("__name__".to_string());
    }
    if out.is_empty() {
        out = if has("instance") {
            vec!["instance".to_string()]
        } else {
            seen.iter()
                .filter(|s| s.0 != "__name__")
                .map(|s| s.0.to_string())
                .collect()
        };
    }
    out
}

/// A series named by `keys` of its labels: `instance="web-3",job="node"`;
/// `{}` when it has none of them.
pub fn name(labels: &Labels<'_>, keys: &[String]) -> String {
    let parts: Vec<String> = keys
        .iter()
        .filter_map(|k| labels.get(k).map(|v| format!("{k}={}", quote(v))))
        .collect();
    if parts.is_empty() {
        "{}".to_string()
    } else {
        parts.join(",")
    }
}

/// A label value in double quotes, escaped as PromQL writes it.
pub fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number as people read it: no trailing zeros, up to 6 significant
/// decimals, NaN and infinities by name.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A unix time as RFC 3339 UTC, to the second; a time RFC 3339 cannot
/// write (before 1970 or after 9999, from a hostile server, say) as the
/// number it is, never a panic.
pub fn time(t: f64) -> String {
    // 9999-12-31T23:59:59Z, the last time RFC 3339 writes.
    const LAST: f64 = 253_402_300_799.0;
    let secs = t.floor();
    if !(0.0..=LAST).contains(&secs) {
        return format!("unix time {t}");
    }
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64),
    )
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels<'a>(pairs: &[(&'a str, &'a str)]) -> Labels<'a> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn nan_and_stale_samples_say_nothing() {
        assert_eq!(unread(f64::NAN, 100.0, 100.0, None).as_deref(), Some("NaN"));
        assert!(unread(1.0, 100.0, 100.0, Some(60.0)).is_none());
        let stale = unread(1.0, 30.0, 100.0, Some(60.0)).unwrap();
        assert!(stale.starts_with("stale: sampled 70s before"), "{stale}");
        assert!(unread(1.0, 30.0, 100.0, None).is_none());
    }

    #[test]
    fn fewer_series_than_expected_are_missing() {
        assert_eq!(Expect::AtLeastOne.missing(0), 1);
        assert_eq!(Expect::AtLeastOne.missing(5), 0);
        assert_eq!(Expect::Exactly(12).missing(9), 3);
        assert_eq!(Expect::Exactly(12).extra(14), 2);
    }

    #[test]
    fn series_are_named_by_the_labels_that_tell_them_apart() {
        let a = labels(&[("instance", "web-1"), ("job", "node"), ("mountpoint", "/")]);
        let b = labels(&[("instance", "web-2"), ("job", "node"), ("mountpoint", "/")]);
        let keys = telling([&a, &b]);
        assert_eq!(keys, vec!["instance"]);
        assert_eq!(name(&b, &keys), "instance=\"web-2\"");
        assert_eq!(telling([&a]), vec!["instance"]);
        // A target that is down has fewer labels than the series of the
        // hosts that answer: still named by what differs.
        let down = labels(&[("instance", "web-3"), ("job", "node")]);
        assert_eq!(telling([&a, &b, &down]), vec!["instance"]);
        let d = labels(&[("deployment", "payments"), ("namespace", "prod")]);
        assert_eq!(telling([&d]), vec!["deployment", "namespace"]);
        assert_eq!(
            name(&labels(&[("x", "a\"b")]), &["x".into()]),
            "x=\"a\\\"b\""
        );
    }

    #[test]
    fn badness_orders_by_the_bad_side() {
        assert!(Bound::Max(1.0).badness(3.0) > Bound::Max(1.0).badness(2.0));
        assert!(Bound::Min(1.0).badness(0.0) > Bound::Min(1.0).badness(0.5));
    }
}
