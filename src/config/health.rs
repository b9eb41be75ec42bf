//! `[health]`: the validated health checks and their defaults.
//!
//! Order of the report: every `[[health.disk]]` in file order, then
//! `[health.memory]`, then every `[[health.process]]`, then every
//! `[[health.api]]`. String values may reference `${NAME}`; a reference to
//! a *required* variable that is unset is not a config error (the
//! `required_config` gate reports it, and the health phase does not run),
//! but the check records it and fails closed if it is ever run.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::raw::{Number, RawApi, RawDisk, RawHealth, RawMemory, StatusList};
use super::validate::{Expanded, Problems, expand_with};
use crate::envsnap::EnvSnapshot;
use crate::sanitize::quoted;
use crate::secrets::mask_url;

pub const DISK_WARN: f64 = 75.0;
pub const DISK_CRIT: f64 = 85.0;
pub const MEMORY_WARN: f64 = 70.0;
pub const MEMORY_CRIT: f64 = 85.0;
pub const API_TIMEOUT: Duration = Duration::from_secs(3);
pub const API_ATTEMPTS: u32 = 3;
pub const API_MAX_REDIRECTS: u32 = 5;
pub const API_RETRY_AFTER_CAP: Duration = Duration::from_secs(5);
pub const API_BACKOFF: Duration = Duration::from_secs(1);
/// Upper bounds that keep a typo from turning into an hour-long gate.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_ATTEMPTS: i64 = 10;

/// One health check as configured.
#[derive(Debug, Clone)]
pub struct HealthCheck {
    /// The row id: `disk:/`, `memory`, `process:nginx`, `api:payments`.
    pub id: String,
    pub kind: Kind,
    /// Required variables it references that are unset: the check cannot
    /// run (and fails closed if asked to).
    pub unset: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Disk(Disk),
    Memory(Memory),
    Process(Process),
    Api(Api),
}

#[derive(Debug, Clone)]
pub struct Disk {
    pub path: PathBuf,
    pub warn: f64,
    pub crit: f64,
    /// CRIT when fewer bytes than this are available.
    pub min_free: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Memory {
    pub warn: f64,
    pub crit: f64,
}

#[derive(Debug, Clone)]
pub struct Process {
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Api {
    pub name: String,
    pub url: String,
    pub timeout: Duration,
    pub attempts: u32,
    pub expect: Vec<u16>,
    pub headers: Vec<(String, String)>,
    pub max_redirects: u32,
    pub insecure: bool,
    pub retry_after_cap: Duration,
    /// The first wait between attempts; each next wait doubles.
    pub backoff: Duration,
}

struct Ctx<'a> {
    env: &'a EnvSnapshot,
    required: &'a [String],
    problems: &'a mut Problems,
}

impl Ctx<'_> {
    /// Expand a string value; `unset` collects unset required variables.
    fn expand(&mut self, value: &str, key: &str, unset: &mut Vec<String>) -> Option<String> {
        match expand_with(value, key, self.env, self.required, self.problems)? {
            Expanded::Value(v) => Some(v),
            Expanded::Unset(vars) => {
                unset.extend(vars);
                None
            }
        }
    }
}

pub(super) fn validate(
    raw: RawHealth,
    env: &EnvSnapshot,
    required: &[String],
    problems: &mut Problems,
) -> Vec<HealthCheck> {
    let mut cx = Ctx {
        env,
        required,
        problems,
    };
    let mut out = Vec::new();
    for (i, d) in raw.disk.unwrap_or_default().into_iter().enumerate() {
        out.extend(disk(d, &format!("health.disk[{i}]"), &mut cx));
    }
    if let Some(m) = raw.memory {
        out.extend(memory(m, &mut cx));
    }
    for (i, p) in raw.process.unwrap_or_default().into_iter().enumerate() {
        let key = format!("health.process[{i}].name");
        let mut unset = Vec::new();
        match cx.expand(&p.name, &key, &mut unset) {
            Some(name) if name.trim().is_empty() || name.contains('/') => cx
                .problems
                .push(key, format!("{} is not a process name", quoted(&name))),
            Some(name) => out.push(HealthCheck {
                id: format!("process:{name}"),
                kind: Kind::Process(Process { name }),
                unset,
            }),
            None if !unset.is_empty() => out.push(HealthCheck {
                id: format!("process:{}", p.name),
                kind: Kind::Process(Process { name: p.name }),
                unset,
            }),
            None => {}
        }
    }
    let mut names = BTreeSet::new();
    for (i, a) in raw.api.unwrap_or_default().into_iter().enumerate() {
        let key = format!("health.api[{i}]");
        if !names.insert(a.name.clone()) {
            cx.problems.push(
                format!("{key}.name"),
                format!("{} names another api check too", quoted(&a.name)),
            );
        }
        out.extend(api(a, &key, &mut cx));
    }
    let mut ids = BTreeSet::new();
    for c in &out {
        if !ids.insert(c.id.clone()) && !c.id.starts_with("api:") {
            cx.problems
                .push("health", format!("{} is checked twice", c.id));
        }
    }
    out
}

fn thresholds(
    warn: Option<Number>,
    crit: Option<Number>,
    defaults: (f64, f64),
    key: &str,
    problems: &mut Problems,
) -> (f64, f64) {
    let warn = warn.map_or(defaults.0, Number::get);
    let crit = crit.map_or(defaults.1, Number::get);
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

fn disk(d: RawDisk, key: &str, cx: &mut Ctx<'_>) -> Option<HealthCheck> {
    let (warn, crit) = thresholds(d.warn, d.crit, (DISK_WARN, DISK_CRIT), key, cx.problems);
    let min_free = d.min_free.as_deref().and_then(|s| match parse_size(s) {
        Ok(n) => Some(n),
        Err(why) => {
            cx.problems.push(format!("{key}.min_free"), why);
            None
        }
    });
    let mut unset = Vec::new();
    let path = match cx.expand(&d.path, &format!("{key}.path"), &mut unset) {
        Some(p) if p.trim().is_empty() => {
            cx.problems
                .push(format!("{key}.path"), "an empty path checks nothing");
            return None;
        }
        Some(p) => p,
        None if !unset.is_empty() => d.path,
        None => return None,
    };
    Some(HealthCheck {
        id: format!("disk:{path}"),
        kind: Kind::Disk(Disk {
            path: PathBuf::from(path),
            warn,
            crit,
            min_free,
        }),
        unset,
    })
}

fn memory(m: RawMemory, cx: &mut Ctx<'_>) -> Option<HealthCheck> {
    let (warn, crit) = thresholds(
        m.warn,
        m.crit,
        (MEMORY_WARN, MEMORY_CRIT),
        "health.memory",
        cx.problems,
    );
    Some(HealthCheck {
        id: "memory".to_string(),
        kind: Kind::Memory(Memory { warn, crit }),
        unset: Vec::new(),
    })
}

fn duration(text: Option<&str>, default: Duration, key: &str, problems: &mut Problems) -> Duration {
    let Some(text) = text else { return default };
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.is_zero() => {
            problems.push(key, "must be longer than zero");
            default
        }
        Ok(d) if d > MAX_TIMEOUT => {
            problems.push(
                key,
                format!("{} is longer than the 5 min limit", quoted(text)),
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

fn api(a: RawApi, key: &str, cx: &mut Ctx<'_>) -> Option<HealthCheck> {
    if a.name.trim().is_empty() || a.name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        cx.problems.push(
            format!("{key}.name"),
            format!(
                "{} is not a usable check name (empty, or contains white space)",
                quoted(&a.name)
            ),
        );
    }
    let timeout = duration(
        a.timeout.as_deref(),
        API_TIMEOUT,
        &format!("{key}.timeout"),
        cx.problems,
    );
    let retry_after_cap = duration(
        a.retry_after_cap.as_deref(),
        API_RETRY_AFTER_CAP,
        &format!("{key}.retry_after_cap"),
        cx.problems,
    );
    let backoff = duration(
        a.backoff.as_deref(),
        API_BACKOFF,
        &format!("{key}.backoff"),
        cx.problems,
    );
    let attempts = match a.retries {
        None => API_ATTEMPTS,
        Some(n) if (1..=MAX_ATTEMPTS).contains(&n) => n as u32,
        Some(n) => {
            cx.problems.push(
                format!("{key}.retries"),
                format!("{n} attempts: use 1 to {MAX_ATTEMPTS}"),
            );
            API_ATTEMPTS
        }
    };
    let max_redirects = match a.max_redirects {
        None => API_MAX_REDIRECTS,
        Some(n) if (0..=20).contains(&n) => n as u32,
        Some(n) => {
            cx.problems
                .push(format!("{key}.max_redirects"), format!("{n}: use 0 to 20"));
            API_MAX_REDIRECTS
        }
    };
    let statuses = match a.expect_status {
        None => vec![200],
        Some(StatusList::One(s)) => vec![s],
        Some(StatusList::Many(list)) => list,
    };
    if statuses.is_empty() {
        cx.problems.push(
            format!("{key}.expect_status"),
            "the list is empty: no answer could pass",
        );
    }
    let mut expect = Vec::new();
    for s in statuses {
        match u16::try_from(s) {
            Ok(s) if (100..=599).contains(&s) => expect.push(s),
            _ => cx.problems.push(
                format!("{key}.expect_status"),
                format!("{s} is not an HTTP status (100 to 599)"),
            ),
        }
    }
    let mut unset = Vec::new();
    let mut headers = Vec::new();
    for (name, value) in a.headers.unwrap_or_default() {
        let hkey = format!("{key}.headers.{name}");
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            cx.problems.push(
                &hkey,
                format!("{} is not a valid header name", quoted(&name)),
            );
            continue;
        }
        if let Some(v) = cx.expand(&value, &hkey, &mut unset) {
            if reqwest::header::HeaderValue::from_str(&v).is_err() {
                // Never show the value: it is usually a credential.
                cx.problems.push(
                    &hkey,
                    "the value is not a valid header value (control characters?)",
                );
                continue;
            }
            headers.push((name, v));
        }
    }
    let url_key = format!("{key}.url");
    let url = match cx.expand(&a.url, &url_key, &mut unset) {
        Some(u) => {
            match reqwest::Url::parse(&u) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
                Ok(_) => cx.problems.push(
                    &url_key,
                    format!("{} is not an http or https URL", quoted(&mask_url(&u))),
                ),
                Err(e) => cx.problems.push(
                    &url_key,
                    format!("{} is not a URL: {e}", quoted(&mask_url(&u))),
                ),
            }
            u
        }
        None if !unset.is_empty() => a.url.clone(),
        None => return None,
    };
    Some(HealthCheck {
        id: format!("api:{}", a.name),
        kind: Kind::Api(Api {
            name: a.name,
            url,
            timeout,
            attempts,
            expect,
            headers,
            max_redirects,
            insecure: a.insecure.unwrap_or(false),
            retry_after_cap,
            backoff,
        }),
        unset,
    })
}

/// Parse a size like `2 GiB`, `500MB`, `1024` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| {
        format!(
            "{} is not a size like \"2 GiB\" or \"500 MB\"",
            quoted(text)
        )
    })?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "{} has an unknown unit {}: use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB",
                quoted(text),
                quoted(other)
            ));
        }
    };
    Ok((value * factor).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2 GiB"), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("1.5 kib"), Ok(1536));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("lots").is_err());
        assert!(
            parse_size("2 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
    }
}
