//! Deploy freezes (`[[policy.freeze]]`, per environment like every policy
//! key): their validation, and the window arithmetic `deploy_window` uses.
//!
//! A freeze is recurring, written as GitLab writes it: a cron expression
//! for the start, one for the end, and a time zone
//! (`freeze_start = "0 23 * * 5"`, `freeze_end = "0 7 * * 1"`,
//! `timezone = "Europe/Berlin"`); or a one-off period (`from`, `until`:
//! dates or date-times). Every window is half-open, `[start, end)`: the
//! start instant is frozen, the end instant is not.
//!
//! Recurring windows are found as GitLab finds them: the latest start at or
//! before the instant, then the first end at or after that start; the
//! instant is inside when it is before that end. A start and an end on the
//! same instant make an empty occurrence: nothing is frozen (`0 2 * * *` to
//! `0 3 * * *` on the night 02:00 is skipped; `0 10 15W * *` to
//! `0 10 16 * *` when the 15th is a Sunday). Windows that span midnight or
//! the end of a week need nothing special.
//!
//! A cron expression is matched against wall clock times (croner, run on a
//! clock without daylight saving, so that its matching is the same for
//! every field and every zone), and each matching wall clock time is then
//! placed on the time line by one rule, the zone's (the IANA database
//! chrono-tz bundles): a time the clocks skip happens at the first instant
//! after the gap, and a time they repeat happens at its first pass only.
//! The rule is the same for single values, lists, ranges and steps, for
//! starts and for ends.
//!
//! A one-off period's `from` and `until` are a date (`2026-12-24`), a
//! date-time on the zone's wall clock (`2026-12-24T18:00`), or an RFC 3339
//! instant with an offset (`2026-12-24T17:00:00Z`). A date as `until`
//! includes that whole day: the freeze ends at the next midnight.
//!
//! Compiled cron expressions are shared: a freeze list names the same
//! expression many times, and every environment's policy holds a copy of
//! the list.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{
    DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde_json::{Value, json};

use crate::clock::rfc3339_utc;
use crate::config::values::{Problems, expand, time_zone};
use crate::envsnap::EnvSnapshot;
use crate::sanitize::quoted;

/// One deploy freeze: recurring, as GitLab writes it (a cron expression for
/// the start, one for the end, a time zone), or a one-off period (`from`,
/// `until`: dates or date-times, written as strings or as TOML dates).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFreeze {
    pub name: Option<String>,
    pub freeze_start: Option<String>,
    pub freeze_end: Option<String>,
    pub timezone: Option<String>,
    pub from: Option<toml::Value>,
    pub until: Option<toml::Value>,
}

/// The time zone of a freeze that names none.
pub const DEFAULT_ZONE: Tz = Tz::UTC;

/// One validated freeze.
#[derive(Debug, Clone)]
pub struct Freeze {
    /// How messages name it: its `name`, else its key path
    /// (`policy.freeze[0]`).
    pub label: String,
    /// Whether `label` is a name the file gave.
    pub named: bool,
    pub zone: Tz,
    pub when: When,
}

/// When a freeze is in force.
#[derive(Debug, Clone)]
pub enum When {
    /// Every time `start` matches, until `end` next matches.
    Recurring {
        start: Arc<Cron>,
        end: Arc<Cron>,
        start_text: String,
        end_text: String,
    },
    /// Once, from `from` until `until`.
    Once {
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        from_text: String,
        until_text: String,
    },
}

/// One occurrence of a freeze: from `start` (frozen) to `end` (not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// `t` to the whole second: cron instants are whole seconds.
fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap_or(t)
}

fn cron_failed(which: &str, text: &str, e: &str) -> String {
    format!("cannot compute when {which} {} matches: {e}", quoted(text))
}

/// How many empty occurrences in a row `next_after` steps over before it
/// gives up (a start that always falls on an end freezes nothing, ever).
const MAX_EMPTY: usize = 64;

/// How many matching wall clock times a search may step over because they
/// happen on the wrong side of its instant. Only the hour the clocks repeat
/// holds such times (its second pass is no occurrence): at most one match
/// a minute for two hours.
const MAX_STEPS: usize = 1_000;

/// A wall clock time as croner reads it: on a clock that never changes
/// (UTC), so that a match is a match of the fields alone.
fn wall(t: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t)
}

/// When the wall clock time `at` happens on `zone`'s clock: once, or at
/// its first pass when the clocks repeat it, or at the first instant after
/// the gap when they skip it.
fn happens(zone: Tz, at: NaiveDateTime) -> Result<DateTime<Utc>, String> {
    on_wall_clock(zone, at).ok_or_else(|| format!("{at} never happens in {}", zone.name()))
}

/// The wall clock time of `t` on `zone`'s clock.
fn wall_time(zone: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&zone).naive_local()
}

/// The first instant at or after `x` when `cron` matches on `zone`'s clock.
///
/// Every wall clock time before the one `x - 1s` shows happens before `x`
/// (the placing of wall clock times on the time line never goes back), so
/// the search starts one second after it: at the start of a gap when `x`
/// ends one. Matches that still happen before `x` are the first passes of
/// a repeated hour whose second pass holds `x`: they are stepped over.
fn next_match(cron: &Cron, zone: Tz, x: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let one = TimeDelta::seconds(1);
    let mut from = wall_time(zone, x - one) + one;
    for _ in 0..MAX_STEPS {
        let m = cron
            .find_next_occurrence(&wall(from), true)
            .map_err(|e| e.to_string())?
            .naive_utc();
        let at = happens(zone, m)?;
        if at >= x {
            return Ok(at);
        }
        from = m + one;
    }
    Err("too many matches in a repeated hour".to_string())
}

/// The last instant at or before `y` when `cron` matches on `zone`'s clock.
///
/// Wall clock times after the one `y` shows happen after `y`, except when
/// `y` is in the second pass of a repeated hour: then the rest of that hour
/// happened at its first pass, before `y`. The search starts that much
/// later (by the offset's change), and steps back over what happens after
/// `y`.
fn previous_match(cron: &Cron, zone: Tz, y: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let one = TimeDelta::seconds(1);
    let shown = wall_time(zone, y);
    let repeat = happens(zone, shown)
        .ok()
        .map_or(TimeDelta::zero(), |first| y - first);
    let mut to = shown + repeat.max(TimeDelta::zero());
    for _ in 0..MAX_STEPS {
        let m = cron
            .find_previous_occurrence(&wall(to), true)
            .map_err(|e| e.to_string())?
            .naive_utc();
        let at = happens(zone, m)?;
        if at <= y {
            return Ok(at);
        }
        to = m - one;
    }
    Err("too many matches in a repeated hour".to_string())
}

impl Freeze {
    /// The occurrence of this freeze that `t` is in, if any.
    pub fn active_at(&self, t: DateTime<Utc>) -> Result<Option<Window>, String> {
        let t = whole_second(t);
        match &self.when {
            When::Once { from, until, .. } => {
                let w = Window {
                    start: *from,
                    end: *until,
                };
                Ok(w.contains(t).then_some(w))
            }
            When::Recurring {
                start,
                end,
                start_text,
                end_text,
            } => {
                let s = previous_match(start, self.zone, t)
                    .map_err(|e| cron_failed("freeze_start", start_text, &e))?;
                let e = next_match(end, self.zone, s)
                    .map_err(|e| cron_failed("freeze_end", end_text, &e))?;
                let w = Window { start: s, end: e };
                Ok(w.contains(t).then_some(w))
            }
        }
    }

    /// The first occurrence of this freeze that starts after `t`, if any.
    pub fn next_after(&self, t: DateTime<Utc>) -> Result<Option<Window>, String> {
        let t = whole_second(t);
        match &self.when {
            When::Once { from, until, .. } => Ok((*from > t).then_some(Window {
                start: *from,
                end: *until,
            })),
            When::Recurring {
                start,
                end,
                start_text,
                end_text,
            } => {
                // An occurrence whose end is on its start freezes nothing:
                // the next one that does is the one to name.
                let mut after = t;
                for _ in 0..MAX_EMPTY {
                    let s = next_match(start, self.zone, after + TimeDelta::seconds(1))
                        .map_err(|e| cron_failed("freeze_start", start_text, &e))?;
                    let e = next_match(end, self.zone, s)
                        .map_err(|e| cron_failed("freeze_end", end_text, &e))?;
                    if e > s {
                        return Ok(Some(Window { start: s, end: e }));
                    }
                    after = s;
                }
                Ok(None)
            }
        }
    }

    /// What the freeze says, for a message: `"0 23 * * 5" to "0 7 * * 1"
    /// Europe/Berlin`, or `2026-12-24 to 2026-12-26 Europe/Berlin`.
    pub fn describe(&self) -> String {
        match &self.when {
            When::Recurring {
                start_text,
                end_text,
                ..
            } => format!(
                "{} to {} {}",
                quoted(start_text),
                quoted(end_text),
                self.zone.name()
            ),
            When::Once {
                from_text,
                until_text,
                ..
            } => format!("{from_text} to {until_text} {}", self.zone.name()),
        }
    }

    /// The freeze as the JSON details show it, with `window` when given.
    pub fn detail(&self, window: Option<&Window>) -> Value {
        let mut v = match &self.when {
            When::Recurring {
                start_text,
                end_text,
                ..
            } => json!({
                "name": self.label,
                "freeze_start": start_text,
                "freeze_end": end_text,
                "timezone": self.zone.name(),
            }),
            When::Once {
                from_text,
                until_text,
                ..
            } => json!({
                "name": self.label,
                "from": from_text,
                "until": until_text,
                "timezone": self.zone.name(),
            }),
        };
        if let (Some(w), Some(map)) = (window, v.as_object_mut()) {
            map.insert("start".into(), Value::String(rfc3339_utc(w.start)));
            map.insert("end".into(), Value::String(rfc3339_utc(w.end)));
        }
        v
    }

    /// `t` for a message, on this freeze's wall clock and in UTC.
    pub fn show(&self, t: DateTime<Utc>) -> String {
        show(t, self.zone)
    }
}

/// An instant for a message: `Mon 2026-12-07 07:00 CET (06:00 UTC)`, with
/// the UTC date too when it differs; `Mon 2026-12-07 06:00 UTC` in UTC.
pub fn show(t: DateTime<Utc>, zone: Tz) -> String {
    let seconds = if t.second() == 0 { "" } else { ":%S" };
    let local = t.with_timezone(&zone);
    if local.offset().to_string() == "UTC" || zone.name().ends_with("UTC") {
        return t
            .format(&format!("%a %Y-%m-%d %H:%M{seconds} UTC"))
            .to_string();
    }
    let utc = if local.date_naive() == t.date_naive() {
        t.format(&format!("%H:%M{seconds} UTC")).to_string()
    } else {
        t.format(&format!("%Y-%m-%d %H:%M{seconds} UTC"))
            .to_string()
    };
    format!(
        "{} ({utc})",
        local.format(&format!("%a %Y-%m-%d %H:%M{seconds} %Z"))
    )
}

/// Parse a cron expression of five fields (minute, hour, day of month,
/// month, day of week), as crontab and GitLab write them.
pub fn parse_cron(text: &str) -> Result<Cron, String> {
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    let cron = parser.parse(text).map_err(|e| {
        format!(
            "invalid cron expression {} ({e}); write five fields, minute hour day-of-month \
             month day-of-week, like \"0 23 * * 5\" (Fridays at 23:00)",
            quoted(text)
        )
    })?;
    // A pattern that names no real time (`0 0 31 2 *`) would freeze
    // forever or never: refuse it here rather than at run time.
    let probe = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
    if let Some(probe) = probe
        && cron.find_next_occurrence(&probe, true).is_err()
    {
        return Err(format!(
            "the cron expression {} never matches a real time",
            quoted(text)
        ));
    }
    Ok(cron)
}

/// An instant on `zone`'s wall clock: the earlier of two when the clocks
/// go back, and the first instant after the gap when they skip it.
fn on_wall_clock(zone: Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    // The longest gap on record is a whole day (Samoa, 2011).
    for minutes in 0..=(48 * 60) {
        let t = naive.checked_add_signed(chrono::TimeDelta::try_minutes(minutes)?)?;
        if let Some(at) = zone.from_local_datetime(&t).earliest() {
            return Some(at.with_timezone(&Utc));
        }
    }
    None
}

/// A period's bound: a date, a wall clock date-time, or an RFC 3339
/// instant. A date as the end includes that whole day.
fn parse_bound(text: &str, zone: Tz, end: bool) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    let naive = if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let day = if end {
            date.checked_add_days(Days::new(1))
        } else {
            Some(date)
        };
        day.map(|d| d.and_time(NaiveTime::MIN))
    } else {
        [
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    };
    let naive = naive.ok_or_else(|| {
        format!(
            "{} is not a date or date-time; write \"2026-12-24\", \"2026-12-24T18:00\" (the \
             freeze's time zone) or \"2026-12-24T17:00:00Z\"",
            quoted(text)
        )
    })?;
    on_wall_clock(zone, naive)
        .ok_or_else(|| format!("{} does not exist in {}", quoted(text), zone.name()))
}

/// A string or TOML date value, as text.
fn bound_text(
    value: &toml::Value,
    key: &str,
    env: &EnvSnapshot,
    p: &mut Problems,
) -> Option<String> {
    match value {
        toml::Value::String(s) => expand(s, key, env, p),
        toml::Value::Datetime(d) => Some(d.to_string()),
        other => {
            p.push(
                key,
                format!(
                    "must be a date or date-time, like \"2026-12-24\" (this is a TOML {})",
                    other.type_str()
                ),
            );
            None
        }
    }
}

/// Validate a list of freezes under `key` (`policy.freeze`). `None` when
/// an item was invalid (each problem is recorded with its key path).
pub fn validate(
    list: &[RawFreeze],
    key: &str,
    env: &EnvSnapshot,
    problems: &mut Problems,
) -> Option<Vec<Freeze>> {
    let before = problems.list.len();
    let mut out = Vec::with_capacity(list.len());
    let mut names: HashSet<String> = HashSet::new();
    let mut crons = Crons::default();
    for (i, raw) in list.iter().enumerate() {
        let key = format!("{key}[{i}]");
        if let Some(f) = one(raw, &key, env, &mut crons, problems) {
            if f.named && names.contains(&f.label) {
                problems.push(
                    format!("{key}.name"),
                    format!("{} names another freeze of this list too", quoted(&f.label)),
                );
            }
            names.insert(f.label.clone());
            out.push(f);
        }
    }
    (problems.list.len() == before && out.len() == list.len()).then_some(out)
}

/// The cron expressions of one freeze list, compiled once each: a
/// compiled expression takes about 5 KiB (croner keeps a table of every
/// year it can match), and long lists repeat the same few expressions.
#[derive(Default)]
struct Crons(HashMap<String, Arc<Cron>>);

impl Crons {
    fn get(&mut self, text: &str) -> Result<Arc<Cron>, String> {
        if let Some(c) = self.0.get(text) {
            return Ok(Arc::clone(c));
        }
        let c = Arc::new(parse_cron(text)?);
        self.0.insert(text.to_string(), Arc::clone(&c));
        Ok(c)
    }
}

fn one(
    raw: &RawFreeze,
    key: &str,
    env: &EnvSnapshot,
    crons: &mut Crons,
    p: &mut Problems,
) -> Option<Freeze> {
    let text = |v: &Option<String>, k: &str, p: &mut Problems| {
        v.as_deref()
            .and_then(|s| expand(s, &format!("{key}.{k}"), env, p))
    };
    let name = text(&raw.name, "name", p);
    if let Some(n) = &name
        && (crate::sanitize::is_blank(n) || n.chars().any(char::is_control))
    {
        p.push(
            format!("{key}.name"),
            format!(
                "{} is not a usable name (empty, or a control character)",
                quoted(n)
            ),
        );
    }
    let zone = match text(&raw.timezone, "timezone", p) {
        Some(z) => time_zone(&z, &format!("{key}.timezone"), p),
        None if raw.timezone.is_some() => None,
        None => Some(DEFAULT_ZONE),
    };
    let cron = raw.freeze_start.is_some() || raw.freeze_end.is_some();
    let once = raw.from.is_some() || raw.until.is_some();
    let when = match (cron, once) {
        (true, true) => {
            p.push(
                key,
                "a freeze is recurring (freeze_start and freeze_end) or one-off (from and \
                 until), not both: write two freezes",
            );
            None
        }
        (false, false) => {
            p.push(
                key,
                "a freeze needs freeze_start and freeze_end (cron expressions, as GitLab writes \
                 them) or from and until (a one-off period)",
            );
            None
        }
        (true, false) => recurring(raw, key, env, crons, p),
        (false, true) => zone.and_then(|z| period(raw, key, z, env, p)),
    };
    Some(Freeze {
        label: name.clone().unwrap_or_else(|| key.to_string()),
        named: name.is_some(),
        zone: zone?,
        when: when?,
    })
}

fn recurring(
    raw: &RawFreeze,
    key: &str,
    env: &EnvSnapshot,
    crons: &mut Crons,
    p: &mut Problems,
) -> Option<When> {
    let mut field = |v: &Option<String>, k: &str, p: &mut Problems| {
        let k = format!("{key}.{k}");
        let Some(v) = v else {
            p.push(
                &k,
                "is missing: a recurring freeze needs both freeze_start and freeze_end",
            );
            return None;
        };
        let text = expand(v, &k, env, p)?;
        match crons.get(&text) {
            Ok(c) => Some((c, text)),
            Err(why) => {
                p.push(&k, why);
                None
            }
        }
    };
    let start = field(&raw.freeze_start, "freeze_start", p);
    let end = field(&raw.freeze_end, "freeze_end", p);
    let ((start, start_text), (end, end_text)) = (start?, end?);
    if start.pattern.to_string() == end.pattern.to_string() {
        p.push(
            format!("{key}.freeze_end"),
            "is the same as freeze_start: the freeze would end as it starts; give the time it ends",
        );
        return None;
    }
    Some(When::Recurring {
        start,
        end,
        start_text,
        end_text,
    })
}

fn period(
    raw: &RawFreeze,
    key: &str,
    zone: Tz,
    env: &EnvSnapshot,
    p: &mut Problems,
) -> Option<When> {
    let bound = |v: &Option<toml::Value>, k: &str, end: bool, p: &mut Problems| {
        let k = format!("{key}.{k}");
        let Some(v) = v else {
            p.push(&k, "is missing: a one-off freeze needs both from and until");
            return None;
        };
        let text = bound_text(v, &k, env, p)?;
        match parse_bound(&text, zone, end) {
            Ok(at) => Some((at, text)),
            Err(why) => {
                p.push(&k, why);
                None
            }
        }
    };
    let from = bound(&raw.from, "from", false, p);
    let until = bound(&raw.until, "until", true, p);
    let ((from, from_text), (until, until_text)) = (from?, until?);
    if until <= from {
        p.push(
            format!("{key}.until"),
            format!("{} is not after from ({})", quoted(&until_text), from_text),
        );
        return None;
    }
    Some(When::Once {
        from,
        until,
        from_text,
        until_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn freezes(toml_text: &str) -> Result<Vec<Freeze>, Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Doc {
            freeze: Vec<RawFreeze>,
        }
        let doc: Doc = toml::from_str(toml_text).unwrap();
        let mut p = Problems::default();
        let env = EnvSnapshot::from_pairs([("FROM", "2026-12-24")]);
        validate(&doc.freeze, "policy.freeze", &env, &mut p)
            .ok_or_else(|| p.list.iter().map(|x| x.to_string()).collect())
    }

    fn one(toml_text: &str) -> Freeze {
        freezes(&format!("[[freeze]]\n{toml_text}"))
            .unwrap()
            .remove(0)
    }

    fn active(f: &Freeze, at: &str) -> Option<(String, String)> {
        f.active_at(utc(at))
            .unwrap()
            .map(|w| (rfc3339_utc(w.start), rfc3339_utc(w.end)))
    }

    fn pair(a: &str, b: &str) -> Option<(String, String)> {
        Some((a.to_string(), b.to_string()))
    }

    const WEEKEND_BERLIN: &str =
        "freeze_start = \"0 23 * * 5\"\nfreeze_end = \"0 7 * * 1\"\ntimezone = \"Europe/Berlin\"";

    #[test]
    fn a_weekend_freeze_spans_the_week_boundary() {
        let f = one(WEEKEND_BERLIN);
        // Friday 2026-12-04 23:00 CET is 22:00 UTC; Monday 07:00 CET is 06:00 UTC.
        let w = pair("2026-12-04T22:00:00Z", "2026-12-07T06:00:00Z");
        assert_eq!(active(&f, "2026-12-04T21:59:59Z"), None);
        assert_eq!(active(&f, "2026-12-04T22:00:00Z"), w, "the start is frozen");
        assert_eq!(active(&f, "2026-12-06T12:00:00Z"), w, "Sunday");
        assert_eq!(active(&f, "2026-12-07T05:59:59.900Z"), w);
        assert_eq!(active(&f, "2026-12-07T06:00:00Z"), None, "the end is not");
        assert_eq!(active(&f, "2026-12-09T12:00:00Z"), None);
    }

    #[test]
    fn a_freeze_spanning_midnight() {
        let f = one("freeze_start = \"0 22 * * *\"\nfreeze_end = \"0 6 * * *\"");
        let w = pair("2026-05-04T22:00:00Z", "2026-05-05T06:00:00Z");
        assert_eq!(active(&f, "2026-05-04T23:30:00Z"), w);
        assert_eq!(active(&f, "2026-05-05T03:00:00Z"), w);
        assert_eq!(active(&f, "2026-05-05T06:00:00Z"), None);
        assert_eq!(active(&f, "2026-05-05T21:59:00Z"), None);
    }

    #[test]
    fn daylight_saving_moves_the_instants_in_berlin() {
        let f = one(WEEKEND_BERLIN);
        // Clocks go back on Sunday 2026-10-25: Friday 23:00 is CEST (21:00
        // UTC), Monday 07:00 is CET (06:00 UTC).
        let w = pair("2026-10-23T21:00:00Z", "2026-10-26T06:00:00Z");
        assert_eq!(active(&f, "2026-10-23T20:59:59Z"), None);
        assert_eq!(active(&f, "2026-10-23T21:00:00Z"), w);
        assert_eq!(active(&f, "2026-10-26T05:30:00Z"), w);
        assert_eq!(active(&f, "2026-10-26T06:00:00Z"), None);
        // Clocks go forward on Sunday 2026-03-29: Friday 23:00 is CET (22:00
        // UTC), Monday 07:00 is CEST (05:00 UTC).
        let w = pair("2026-03-27T22:00:00Z", "2026-03-30T05:00:00Z");
        assert_eq!(active(&f, "2026-03-27T21:30:00Z"), None);
        assert_eq!(active(&f, "2026-03-30T04:59:59Z"), w);
        assert_eq!(active(&f, "2026-03-30T05:00:00Z"), None);
    }

    #[test]
    fn daylight_saving_in_new_york_and_a_start_in_the_skipped_hour() {
        let f = one(
            "freeze_start = \"0 18 * * 5\"\nfreeze_end = \"0 9 * * 1\"\ntimezone = \"America/New_York\"",
        );
        // Friday 2026-03-06 18:00 EST is 23:00 UTC; Monday 2026-03-09 09:00
        // EDT is 13:00 UTC.
        let w = pair("2026-03-06T23:00:00Z", "2026-03-09T13:00:00Z");
        assert_eq!(active(&f, "2026-03-09T12:59:59Z"), w);
        assert_eq!(active(&f, "2026-03-09T13:30:00Z"), None);
        // 02:30 does not exist on 2026-03-08: the freeze starts at 03:00 EDT.
        let f = one(
            "freeze_start = \"30 2 * * *\"\nfreeze_end = \"0 4 * * *\"\ntimezone = \"America/New_York\"",
        );
        let w = pair("2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z");
        assert_eq!(active(&f, "2026-03-08T06:59:00Z"), None);
        assert_eq!(active(&f, "2026-03-08T07:00:00Z"), w);
        // Clocks go back on 2026-11-01: 01:30 happens twice; the freeze
        // "30 1 * * *" to "0 3 * * *" starts at the first pass (EDT).
        let f = one(
            "freeze_start = \"30 1 * * *\"\nfreeze_end = \"0 3 * * *\"\ntimezone = \"America/New_York\"",
        );
        let w = pair("2026-11-01T05:30:00Z", "2026-11-01T08:00:00Z");
        assert_eq!(active(&f, "2026-11-01T05:30:00Z"), w);
        assert_eq!(active(&f, "2026-11-01T06:45:00Z"), w);
        assert_eq!(active(&f, "2026-11-01T07:59:59Z"), w);
        assert_eq!(active(&f, "2026-11-01T08:00:00Z"), None);
    }

    /// The window arithmetic against an independent reference: croniter
    /// and Python's zoneinfo, with the README's rule for skipped and
    /// repeated times applied in `tests/data/freeze/generate.py`: 26
    /// pairs of cron expressions in 4 zones, each at about 130 instants,
    /// most of them on the days the clocks change.
    #[test]
    fn the_window_arithmetic_agrees_with_the_reference() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/freeze/reference.txt"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let at = |secs: &str| DateTime::from_timestamp(secs.parse().unwrap(), 0).unwrap();
        let (mut f, mut label) = (None, String::new());
        let (mut checked, mut frozen, mut wrong) = (0, 0, Vec::new());
        for line in text.lines() {
            if let Some(head) = line.strip_prefix("= ") {
                let [zone, start, end] = head.split('|').collect::<Vec<_>>()[..] else {
                    panic!("{line}")
                };
                f = Some(one(&format!(
                    "freeze_start = \"{start}\"\nfreeze_end = \"{end}\"\ntimezone = \"{zone}\""
                )));
                label = head.to_string();
                continue;
            }
            let f = f.as_ref().unwrap();
            let [t, state, s, e] = line.split(' ').collect::<Vec<_>>()[..] else {
                panic!("{line}")
            };
            let (t, want) = (
                at(t),
                Window {
                    start: at(s),
                    end: at(e),
                },
            );
            let got = if state == "F" {
                frozen += 1;
                f.active_at(t).unwrap()
            } else {
                match f.active_at(t).unwrap() {
                    Some(w) => Some(w),
                    None => f.next_after(t).unwrap(),
                }
            };
            let got_state = match f.active_at(t).unwrap() {
                Some(_) => "F",
                None => "O",
            };
            checked += 1;
            if got != Some(want) || got_state != state {
                wrong.push(format!(
                    "{label} at {}: want {state} [{}, {}), got {got_state} {:?}",
                    rfc3339_utc(t),
                    rfc3339_utc(want.start),
                    rfc3339_utc(want.end),
                    got.map(|w| (rfc3339_utc(w.start), rfc3339_utc(w.end)))
                ));
            }
        }
        assert!(checked > 13_000 && frozen > 3_000, "{checked} {frozen}");
        assert!(
            wrong.is_empty(),
            "{} of {checked} instants differ from the reference, for example:\n{}",
            wrong.len(),
            wrong
                .iter()
                .take(25)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn a_one_off_period_by_dates_includes_the_last_day() {
        let f = one(
            "name = \"holidays\"\nfrom = \"${FROM}\"\nuntil = 2026-12-26\ntimezone = \"Europe/Berlin\"",
        );
        assert_eq!(f.label, "holidays");
        let w = pair("2026-12-23T23:00:00Z", "2026-12-26T23:00:00Z");
        assert_eq!(active(&f, "2026-12-23T22:59:59Z"), None);
        assert_eq!(active(&f, "2026-12-23T23:00:00Z"), w);
        assert_eq!(active(&f, "2026-12-26T22:59:59Z"), w);
        assert_eq!(active(&f, "2026-12-26T23:00:00Z"), None);
        assert_eq!(
            f.next_after(utc("2026-12-01T00:00:00Z")).unwrap(),
            Some(Window {
                start: utc("2026-12-23T23:00:00Z"),
                end: utc("2026-12-26T23:00:00Z")
            })
        );
        assert_eq!(f.next_after(utc("2026-12-24T00:00:00Z")).unwrap(), None);
    }

    #[test]
    fn a_one_off_period_by_date_times_and_instants() {
        let f = one(
            "from = \"2026-06-01T18:00\"\nuntil = \"2026-06-02T06:00:00Z\"\ntimezone = \"Europe/Berlin\"",
        );
        assert_eq!(f.label, "policy.freeze[0]");
        assert_eq!(
            active(&f, "2026-06-01T16:00:00Z"),
            pair("2026-06-01T16:00:00Z", "2026-06-02T06:00:00Z")
        );
        assert_eq!(active(&f, "2026-06-01T15:59:59Z"), None);
        // A TOML date-time without offset is on the zone's wall clock too.
        let f = one(
            "from = 2026-06-01T18:00:00\nuntil = 2026-06-01T20:00:00\ntimezone = \"Europe/Berlin\"",
        );
        assert_eq!(
            active(&f, "2026-06-01T17:00:00Z"),
            pair("2026-06-01T16:00:00Z", "2026-06-01T18:00:00Z")
        );
    }

    #[test]
    fn the_next_occurrence_of_a_recurring_freeze() {
        let f = one(WEEKEND_BERLIN);
        let w = f.next_after(utc("2026-12-06T12:00:00Z")).unwrap().unwrap();
        assert_eq!(rfc3339_utc(w.start), "2026-12-11T22:00:00Z");
        assert_eq!(rfc3339_utc(w.end), "2026-12-14T06:00:00Z");
    }

    #[test]
    fn instants_read_on_the_wall_clock_and_in_utc() {
        let f = one(WEEKEND_BERLIN);
        assert_eq!(
            f.show(utc("2026-12-07T06:00:00Z")),
            "Mon 2026-12-07 07:00 CET (06:00 UTC)"
        );
        assert_eq!(
            f.show(utc("2026-12-06T23:30:00Z")),
            "Mon 2026-12-07 00:30 CET (2026-12-06 23:30 UTC)"
        );
        assert_eq!(
            show(utc("2026-12-07T06:00:05Z"), Tz::UTC),
            "Mon 2026-12-07 06:00:05 UTC"
        );
    }

    #[test]
    fn every_mistake_is_named_with_its_key_path() {
        let problems = freezes(
            r#"
[[freeze]]
freeze_start = "0 25 * * *"
freeze_end = "0 7 * * 1"
timezone = "Europe/Berln"
[[freeze]]
freeze_start = "0 23 * * 5"
[[freeze]]
from = "2026-12-24"
until = "2026-12-20"
[[freeze]]
from = "Christmas"
until = 2026
[[freeze]]
freeze_start = "0 0 31 2 *"
freeze_end = "0 0 * * *"
from = "2026-01-01"
until = "2026-01-02"
[[freeze]]
name = "x"
[[freeze]]
freeze_start = "0 0 31 2 *"
freeze_end = "0 0 * * * *"
"#,
        )
        .unwrap_err();
        let joined = problems.join("\n");
        for needle in [
            "policy.freeze[0].freeze_start: invalid cron expression \"0 25 * * *\"",
            "policy.freeze[0].timezone: unknown time zone \"Europe/Berln\"",
            "policy.freeze[1].freeze_end: is missing",
            "policy.freeze[2].until: \"2026-12-20\" is not after from (2026-12-24)",
            "policy.freeze[3].from: \"Christmas\" is not a date or date-time",
            "policy.freeze[3].until: must be a date or date-time, like \"2026-12-24\" (this is a TOML integer)",
            "policy.freeze[4]: a freeze is recurring (freeze_start and freeze_end) or one-off",
            "policy.freeze[5]: a freeze needs freeze_start and freeze_end",
            "policy.freeze[6].freeze_start: the cron expression \"0 0 31 2 *\" never matches",
            "policy.freeze[6].freeze_end: invalid cron expression \"0 0 * * * *\"",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
        }
        assert_eq!(problems.len(), 10, "{joined}");
    }

    #[test]
    fn names_are_unique_within_a_list() {
        let problems = freezes(
            "[[freeze]]\nname = \"a\"\nfrom = \"2026-01-01\"\nuntil = \"2026-01-02\"\n\
             [[freeze]]\nname = \"a\"\nfrom = \"2026-02-01\"\nuntil = \"2026-02-02\"\n",
        )
        .unwrap_err();
        assert_eq!(
            problems,
            ["policy.freeze[1].name: \"a\" names another freeze of this list too"]
        );
    }
}
