//! Config value helpers, written once: `${NAME}` expansion, durations,
//! sizes, percentages, globs and names, each reporting problems with the
//! key path they concern. Also the display side of sizes and percentages
//! (`human`, `grade`), so a value reads the same way it is written.

use std::fmt;
use std::time::Duration;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::envsnap::EnvSnapshot;
use crate::sanitize::quoted;

/// One semantic problem, with the key path it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    /// One line whatever the key and message hold (both may quote what the
    /// file says), cut to a readable length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::sanitize::{ascii, capped};
        write!(
            f,
            "{}: {}",
            ascii(&capped(&self.key, 200)),
            ascii(&capped(&self.message, 1000))
        )
    }
}

/// Every semantic problem of a config, collected with its key path.
///
/// While [`Problems::deferring`], a reference to an unset variable is set
/// aside instead (see [`Problems::take_deferred`]): an override for an
/// environment that is not being checked must not block the one that is.
#[derive(Debug, Default)]
pub struct Problems {
    pub(crate) list: Vec<Problem>,
    deferring: bool,
    deferred: Vec<Problem>,
}

impl Problems {
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.list.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    /// A reference to a variable that is not set.
    fn unset(&mut self, key: &str, message: String) {
        let p = Problem {
            key: key.to_string(),
            message,
        };
        if self.deferring {
            self.deferred.push(p);
        } else {
            self.list.push(p);
        }
    }

    /// Set unset references aside from now on (or not).
    pub fn deferring(&mut self, on: bool) {
        self.deferring = on;
    }

    /// The unset references set aside so far.
    pub fn take_deferred(&mut self) -> Vec<Problem> {
        std::mem::take(&mut self.deferred)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The problems found so far, in order.
    pub fn list(&self) -> &[Problem] {
        &self.list
    }
}

/// A variable name: letters, digits and `_`, not starting with a digit.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// A name for a row or a step: not empty, no white space or control
/// characters. Returns the problem when it is not.
pub fn check_name(name: &str, what: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(format!(
            "{} is not a usable {what} name (empty, or contains white space)",
            quoted(name)
        ))
    } else {
        Ok(())
    }
}

/// The result of expanding a value that may reference required variables.
pub enum Expanded {
    Value(String),
    /// It references required variables that are unset or blank: not a
    /// config error, since `required_config` reports them, but the value
    /// cannot be used.
    Unset(Vec<String>),
}

/// Expand `${NAME}` references from the environment; `$${` is a literal
/// `${`. A reference to an unset (or non-UTF-8) variable is a problem.
pub fn expand(
    value: &str,
    key: &str,
    env: &EnvSnapshot,
    problems: &mut Problems,
) -> Option<String> {
    match expand_with(value, key, env, &[], problems)? {
        Expanded::Value(v) => Some(v),
        Expanded::Unset(_) => None,
    }
}

/// [`expand`], except that references to the `required` variables may be
/// unset (see [`Expanded::Unset`]).
pub fn expand_with(
    value: &str,
    key: &str,
    env: &EnvSnapshot,
    required: &[String],
    problems: &mut Problems,
) -> Option<Expanded> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut ok = true;
    let mut unset = Vec::new();
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                problems.push(
                    key,
                    "unterminated ${ reference (write $${ for a literal ${)",
                );
                return None;
            };
            let name = &tail[..end];
            let is_required = required.iter().any(|r| r == name);
            if !is_variable_name(name) {
                problems.push(
                    key,
                    format!(
                        "{} is not a variable name in a ${{...}} reference",
                        quoted(name)
                    ),
                );
                ok = false;
            } else {
                match env.get(name) {
                    Ok(Some(v)) if !(is_required && crate::sanitize::is_blank(v)) => {
                        out.push_str(v)
                    }
                    Ok(_) if is_required => unset.push(name.to_string()),
                    Ok(_) => {
                        problems.unset(
                            key,
                            format!(
                                "references ${{{}}}, which is not set",
                                crate::sanitize::capped(name, crate::sanitize::ECHO_MAX)
                            ),
                        );
                        ok = false;
                    }
                    Err(_) => {
                        problems.push(
                            key,
                            format!(
                                "references ${{{}}}, whose value is not valid UTF-8",
                                crate::sanitize::capped(name, crate::sanitize::ECHO_MAX)
                            ),
                        );
                        ok = false;
                    }
                }
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    if !ok {
        None
    } else if unset.is_empty() {
        Some(Expanded::Value(out))
    } else {
        Some(Expanded::Unset(unset))
    }
}

/// The names `text` references as `${NAME}` (not `$${...}`, a literal),
/// each once, in the order they first appear.
pub fn references(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else { break };
            let name = &tail[..end];
            if is_variable_name(name) && !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
            rest = &tail[end + 1..];
        } else {
            rest = &after[1..];
        }
    }
    names
}

/// A value as shown in a row id when it could not be expanded: every
/// `${NAME}` becomes `<NAME>`, which reads as "whatever NAME names".
pub fn unexpanded_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos + 2..];
        match tail.find('}') {
            Some(end) => {
                out.push('<');
                out.push_str(&tail[..end]);
                out.push('>');
                rest = &tail[end + 1..];
            }
            None => {
                out.push_str(&rest[pos..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// An IANA time zone (`Europe/Berlin`, `America/New_York`, `UTC`), from
/// the database bundled in the binary (the host's zoneinfo is not read).
/// A name that differs only in case is suggested.
pub fn time_zone(text: &str, key: &str, problems: &mut Problems) -> Option<chrono_tz::Tz> {
    if let Ok(tz) = text.trim().parse::<chrono_tz::Tz>() {
        return Some(tz);
    }
    let hint = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(text.trim()))
        .map_or_else(
            || {
                "use an IANA name such as \"Europe/Berlin\", \"America/New_York\" or \"UTC\""
                    .to_string()
            },
            |tz| format!("did you mean \"{}\"?", tz.name()),
        );
    problems.push(key, format!("unknown time zone {}; {hint}", quoted(text)));
    None
}

/// A file's path relative to the repository root (`CHANGELOG.md`,
/// `docs/CHANGES.md`): not empty, not absolute, no `..`, so that it
/// cannot name a file outside the repository.
pub fn repo_path(text: &str, key: &str, problems: &mut Problems) -> Option<String> {
    use std::path::{Component, Path};
    let path = Path::new(text);
    let why = if crate::sanitize::is_blank(text) {
        Some("is empty")
    } else if path.is_absolute() {
        Some("is absolute")
    } else if path
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
    {
        Some("leaves the repository (..)")
    } else {
        None
    };
    match why {
        Some(why) => {
            problems.push(
                key,
                format!(
                    "{} {why}: write a path from the repository root, like \"CHANGELOG.md\"",
                    quoted(text)
                ),
            );
            None
        }
        None => Some(text.to_string()),
    }
}

/// Parse an optional duration (`"3s"`, `"500ms"`), longer than zero and at
/// most `max`; `default` when absent or invalid (the problem is recorded).
pub fn duration(
    text: Option<&str>,
    default: Duration,
    max: Duration,
    key: &str,
    problems: &mut Problems,
) -> Duration {
    let Some(text) = text else { return default };
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.is_zero() => {
            problems.push(key, "must be longer than zero");
            default
        }
        Ok(d) if d > max => {
            problems.push(
                key,
                format!(
                    "{} is longer than the {} limit",
                    quoted(text),
                    humantime::format_duration(max)
                ),
            );
            default
        }
        Ok(d) => d,
        Err(e) => {
            problems.push(
                key,
                format!(
                    "{} is not a duration like \"3s\" or \"500ms\": {e}",
                    quoted(text)
                ),
            );
            default
        }
    }
}

/// The most days a TTL may span (`--days`, `[rotate] days`): 100 years.
/// Beyond it a cutoff says nothing more, and far beyond it the arithmetic
/// on seconds would overflow.
pub const MAX_DAYS: u64 = 36_500;

/// A number of days from 0 to [`MAX_DAYS`], written as a whole number.
pub fn parse_days(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let n = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<u64>().ok()
    } else {
        None
    };
    n.ok_or(())
        .and_then(|n| check_days(n).map_err(|_| ()))
        .map_err(|()| {
            format!(
                "{} is not a whole number of days from 0 to {MAX_DAYS}",
                quoted(text)
            )
        })
}

/// `n` when it is a number of days from 0 to [`MAX_DAYS`].
pub fn check_days(n: u64) -> Result<u64, String> {
    if n <= MAX_DAYS {
        Ok(n)
    } else {
        Err(format!(
            "{n} is not a whole number of days from 0 to {MAX_DAYS}"
        ))
    }
}

/// The unix time `days` days before `now`, with checked arithmetic: an
/// overflow is an error, never a cutoff on the wrong side of `now`.
pub fn days_before(now: i64, days: u64) -> Result<i64, String> {
    check_days(days)?;
    i64::try_from(days)
        .ok()
        .and_then(|d| d.checked_mul(86_400))
        .and_then(|secs| now.checked_sub(secs))
        .ok_or_else(|| format!("{days} days before {now} is out of range"))
}

/// The largest size: what 64 bits count (16 EiB).
const MAX_SIZE: u128 = u64::MAX as u128;

/// Parse a size like `2 GiB`, `500M`, `1.5k`, `1024` (bytes). Every unit is
/// binary, however it is written: `K`, `KB` and `KiB` are 1024 bytes, `M`,
/// `MB` and `MiB` 1024 KiB, and so on to `P` (as `du`, `find -size` and
/// logrotate read them, and as [`human`] shows them), so a size reads back
/// the way it was written. Computed exactly, in integers: a size beyond
/// 16 EiB is refused, never cut or wrapped.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let not_a_size = || format!("{} is not a size like \"2 GiB\" or \"500M\"", quoted(text));
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    // At most 20 decimals: enough for any byte count, and the arithmetic
    // below stays within 128 bits.
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') || fraction.len() > 20 {
        return Err(not_a_size());
    }
    let factor: u128 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        "p" | "pb" | "pib" => 1 << 50,
        other => {
            return Err(format!(
                "{} has an unknown unit {}: use B, K, M, G, T or P (KiB, MiB, ... and KB, MB, \
                 ... mean the same: sizes are binary)",
                quoted(text),
                quoted(other)
            ));
        }
    };
    let too_large = || {
        format!(
            "{} is larger than 16 EiB ({MAX_SIZE} bytes), the largest size",
            quoted(text)
        )
    };
    let digits = |s: &str| -> Option<u128> {
        s.bytes().try_fold(0u128, |n, b| {
            n.checked_mul(10)?.checked_add(u128::from(b - b'0'))
        })
    };
    let whole = digits(whole).ok_or_else(too_large)?;
    let fraction_value = digits(fraction).ok_or_else(not_a_size)?;
    let scale = 10u128.pow(fraction.len() as u32);
    // Rounded to the nearest byte.
    let part = (fraction_value * factor + scale / 2) / scale;
    whole
        .checked_mul(factor)
        .and_then(|b| b.checked_add(part))
        .filter(|b| *b <= MAX_SIZE)
        .and_then(|b| u64::try_from(b).ok())
        .ok_or_else(too_large)
}

/// Percent thresholds `warn` and `crit` (0 to 100, warn not above crit),
/// with their defaults.
pub fn thresholds(
    warn: Option<f64>,
    crit: Option<f64>,
    defaults: (f64, f64),
    key: &str,
    problems: &mut Problems,
) -> (f64, f64) {
    let warn = warn.unwrap_or(defaults.0);
    let crit = crit.unwrap_or(defaults.1);
    for (name, v) in [("warn", warn), ("crit", crit)] {
        if !(0.0..=100.0).contains(&v) {
            problems.push(
                format!("{key}.{name}"),
                format!("{v} is not a percentage from 0 to 100"),
            );
        }
    }
    if warn > crit {
        problems.push(
            format!("{key}.warn"),
            format!("warn ({warn}) is above crit ({crit})"),
        );
    }
    (warn, crit)
}

/// A list of globs as one set. `*` stays within one path component
/// (`release/*` matches `release/1.2`, not `release/1.2/x`); `**` crosses.
/// Each item is expanded first when `env` is given. `None` when an item
/// was invalid (recorded under `key[i]`).
pub fn globs(
    list: &[String],
    key: &str,
    env: Option<&EnvSnapshot>,
    problems: &mut Problems,
) -> Option<(Vec<String>, GlobSet)> {
    let mut kept = Vec::new();
    let mut builder = GlobSetBuilder::new();
    let mut ok = true;
    for (i, item) in list.iter().enumerate() {
        let item_key = format!("{key}[{i}]");
        let value = match env {
            Some(env) => match expand(item, &item_key, env, problems) {
                Some(v) => v,
                None => {
                    ok = false;
                    continue;
                }
            },
            None => item.clone(),
        };
        if value.trim().is_empty() {
            problems.push(&item_key, "an empty glob matches nothing");
            ok = false;
            continue;
        }
        match GlobBuilder::new(&value).literal_separator(true).build() {
            Ok(glob) => {
                builder.add(glob);
                kept.push(value);
            }
            Err(e) => {
                problems.push(
                    &item_key,
                    format!("invalid glob {}: {}", quoted(&value), e.kind()),
                );
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    match builder.build() {
        Ok(set) => Some((kept, set)),
        Err(e) => {
            problems.push(key, format!("cannot build the glob set: {}", e.kind()));
            None
        }
    }
}

/// The largest configuration file read (and the largest changelog).
pub const MAX_FILE_SIZE: u64 = 4 * 1024 * 1024;

/// A number written as an integer or a float (`75` or `72.5`).
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(untagged)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub fn get(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_listed_once_literals_left_out() {
        assert_eq!(
            references("a ${A}/${B_2} $${NOT} ${A} ${bad name} ${C"),
            ["A", "B_2"]
        );
        assert!(references("no references, $5").is_empty());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2 GiB"), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("2G"), parse_size("2 GB"));
        assert_eq!(parse_size("500MB"), Ok(500 * 1024 * 1024));
        assert_eq!(parse_size("1.5 kib"), Ok(1536));
        assert_eq!(parse_size("0.5"), Ok(1));
        assert_eq!(parse_size(".5k"), Ok(512));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_size("16383.999999 PiB").map(|b| b > 1 << 63),
            Ok(true)
        );
        for too_large in [
            "18446744073709551616",
            "16384 P",
            "999999999999999999999999999999999999999999",
        ] {
            let e = parse_size(too_large).unwrap_err();
            assert!(e.contains("larger than 16 EiB"), "{too_large}: {e}");
            assert!(e.contains(too_large), "{e}");
        }
        for bad in [
            "lots",
            "",
            ".",
            "1.2.3",
            "1.000000000000000000001",
            "-1",
            "1e9",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert!(
            parse_size("2 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
    }

    #[test]
    fn days_are_range_checked_and_cutoffs_never_wrap() {
        assert_eq!(parse_days("7"), Ok(7));
        assert_eq!(parse_days("36500"), Ok(36_500));
        for bad in [
            "36501",
            "144115188075855872",
            "18446744073709551616",
            "-1",
            "7.5",
            "",
        ] {
            let e = parse_days(bad).unwrap_err();
            assert!(e.contains("from 0 to 36500"), "{bad}: {e}");
        }
        assert_eq!(days_before(1_000_000, 1), Ok(1_000_000 - 86_400));
        assert!(days_before(0, 144_115_188_075_855_872).is_err());
        assert!(days_before(i64::MIN + 1, 1).is_err());
        assert!(days_before(0, u64::MAX).is_err());
    }

    #[test]
    fn unexpanded_references_read_as_labels() {
        assert_eq!(
            unexpanded_label("${RS_REQUIRED_PROCESS}"),
            "<RS_REQUIRED_PROCESS>"
        );
        assert_eq!(unexpanded_label("/data/${DIR}/x"), "/data/<DIR>/x");
        assert_eq!(unexpanded_label("plain"), "plain");
        assert_eq!(unexpanded_label("${open"), "${open");
    }

    #[test]
    fn time_zones_come_from_the_bundled_database() {
        let mut p = Problems::default();
        assert_eq!(
            time_zone("Europe/Berlin", "k", &mut p),
            Some(chrono_tz::Tz::Europe__Berlin)
        );
        assert_eq!(time_zone("UTC", "k", &mut p), Some(chrono_tz::Tz::UTC));
        assert!(p.is_empty());
        assert_eq!(time_zone("Europe/Berln", "a", &mut p), None);
        assert_eq!(time_zone("europe/berlin", "b", &mut p), None);
        assert!(
            p.list[0]
                .message
                .contains("unknown time zone \"Europe/Berln\"")
        );
        assert!(
            p.list[1]
                .message
                .contains("did you mean \"Europe/Berlin\"?")
        );
    }

    #[test]
    fn repository_paths_stay_inside() {
        let mut p = Problems::default();
        assert_eq!(
            repo_path("docs/CHANGES.md", "k", &mut p).as_deref(),
            Some("docs/CHANGES.md")
        );
        assert!(p.is_empty());
        for bad in ["", "/etc/passwd", "../CHANGELOG.md", "docs/../../x"] {
            assert_eq!(repo_path(bad, bad, &mut p), None, "{bad}");
        }
        assert_eq!(p.list.len(), 4);
    }

    #[test]
    fn durations_are_bounded() {
        let mut p = Problems::default();
        let max = Duration::from_secs(300);
        let d = Duration::from_secs(3);
        assert_eq!(
            duration(Some("500ms"), d, max, "k", &mut p),
            Duration::from_millis(500)
        );
        assert_eq!(duration(None, d, max, "k", &mut p), d);
        assert!(p.is_empty());
        duration(Some("0s"), d, max, "a", &mut p);
        duration(Some("1h"), d, max, "b", &mut p);
        duration(Some("soon"), d, max, "c", &mut p);
        let keys: Vec<&str> = p.list.iter().map(|x| x.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert!(
            p.list[1].message.contains("longer than the 5m limit"),
            "{:?}",
            p.list
        );
    }
}
