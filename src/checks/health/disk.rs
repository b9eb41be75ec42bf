//! `disk:<path>`: used share of the filesystem holding the path, as `df`
//! counts it (used / (used + available to unprivileged users)), and an
//! optional minimum of available bytes.
//!
//! Read on this machine (the row names it), or, with `fleet = '<selector>'`,
//! on every host of the fleet through Prometheus: node_exporter's
//! `node_filesystem_avail_bytes`, `_free_bytes` and `_size_bytes` for the
//! mount point `path`, the same sum (see [`super::fleet`]).

use std::path::PathBuf;

use serde::Deserialize;

use super::fleet::{Fields, Measure, Place};
use super::grade;
use super::{Check, Ctx, HealthCheck, Running, blocking};
use crate::config::values::Number;
use crate::config::values::{parse_size, thresholds, unexpanded_label};
use crate::report::{Outcome, Status};
use crate::text::human;

pub const WARN: f64 = 75.0;
pub const CRIT: f64 = 85.0;

/// `[[health.disk]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub path: String,
    pub warn: Option<Number>,
    pub crit: Option<Number>,
    pub min_free: Option<String>,
    /// A label selector: read the fleet through Prometheus.
    pub fleet: Option<String>,
    pub hosts: Option<i64>,
    pub max_age: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Disk {
    pub path: PathBuf,
    pub warn: f64,
    pub crit: f64,
    /// CRIT when fewer bytes than this are available.
    pub min_free: Option<u64>,
    pub place: Place,
}

pub fn validate(d: Raw, key: &str, cx: &mut Ctx<'_>) -> Option<HealthCheck> {
    let (warn, crit) = thresholds(
        d.warn.map(Number::get),
        d.crit.map(Number::get),
        (WARN, CRIT),
        key,
        cx.problems,
    );
    let min_free = d.min_free.as_deref().and_then(|s| match parse_size(s) {
        Ok(n) => Some(n),
        Err(why) => {
            cx.problems.push(format!("{key}.min_free"), why);
            None
        }
    });
    let fields = Fields {
        fleet: d.fleet,
        hosts: d.hosts,
        max_age: d.max_age,
    };
    let target = super::fleet::fields(fields, key, cx).ok()?;
    let mut unset = Vec::new();
    let path = match cx.expand(&d.path, &format!("{key}.path"), &mut unset) {
        Some(p) if p.trim().is_empty() => {
            cx.problems
                .push(format!("{key}.path"), "an empty path checks nothing");
            return None;
        }
        Some(p) => p,
        None if !unset.is_empty() => unexpanded_label(&d.path),
        None => return None,
    };
    let check: std::sync::Arc<dyn Check> = match target {
        Some(target) => std::sync::Arc::new(target.check(Measure::Disk {
            mountpoint: path.clone(),
            warn,
            crit,
            min_free,
        })),
        None => std::sync::Arc::new(Disk {
            path: PathBuf::from(&path),
            warn,
            crit,
            min_free,
            place: Place::here(cx.env),
        }),
    };
    Some(HealthCheck {
        id: format!("disk:{path}"),
        key: key.to_string(),
        check,
        unset,
        mode: Default::default(),
    })
}

impl Check for Disk {
    fn run<'a>(&'a self, _: &'a super::Shared) -> Running<'a> {
        let disk = self.clone();
        Box::pin(blocking(move || check(&disk)))
    }
}

pub fn check(disk: &Disk) -> Outcome {
    disk.place.say(read(disk))
}

fn read(disk: &Disk) -> Outcome {
    let path = disk.path.display().to_string();
    let host = &disk.place.host;
    let st = match rustix::fs::statvfs(&disk.path) {
        Ok(st) => st,
        Err(e) if e == rustix::io::Errno::NOENT => {
            return Outcome::crit(format!("{path} does not exist on {host}"));
        }
        Err(e) => {
            return Outcome::crit(format!("cannot check {path} on {host}: {e}"));
        }
    };
    let block = st.f_frsize.max(1);
    let used = st.f_blocks.saturating_sub(st.f_bfree).saturating_mul(block);
    let avail = st.f_bavail.saturating_mul(block);
    if used + avail == 0 {
        return Outcome::crit(format!(
            "cannot check {path} on {host}: the filesystem reports no size"
        ));
    }
    let pct = used as f64 * 100.0 / (used + avail) as f64;
    let mut status = grade(pct, disk.warn, disk.crit);
    let mut message = format!(
        "{pct:.1}% used, {} free on {host} (warn {}%, crit {}%)",
        human(avail),
        disk.warn,
        disk.crit
    );
    if let Some(min) = disk.min_free
        && avail < min
    {
        status = Status::Crit;
        message = format!(
            "{pct:.1}% used, only {} free on {host}, below the minimum of {}",
            human(avail),
            human(min)
        );
    }
    Outcome::new(status, message)
        .detail("used_percent", (pct * 10.0).round() / 10.0)
        .detail("available_bytes", avail)
        .detail("total_bytes", used + avail)
        .detail("warn", disk.warn)
        .detail("crit", disk.crit)
        .detail("min_free_bytes", disk.min_free)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_path_is_critical() {
        let o = check(&Disk {
            path: "/no/such/path/for/release-sentinel".into(),
            warn: 75.0,
            crit: 85.0,
            min_free: None,
            place: Place::default(),
        });
        assert_eq!(o.status, Status::Crit);
        assert!(o.message.contains("does not exist"), "{}", o.message);
    }
}
