//! `memory`: (total - available) / total. Inside a container with a cgroup
//! memory limit below the host's memory, the limit is what counts, and the
//! message says which was used, and on which machine.
//!
//! With `fleet = '<selector>'`, every host of the fleet through Prometheus
//! instead: node_exporter's `node_memory_MemAvailable_bytes` against
//! `node_memory_MemTotal_bytes` (see [`super::fleet`]).

use serde::Deserialize;
use sysinfo::System;

use super::fleet::{Fields, Measure, Place};
use super::grade;
use super::{Check, Ctx, HealthCheck, Running, blocking};
use crate::config::values::Number;
use crate::config::values::thresholds;
use crate::report::Outcome;
use crate::text::human;

pub const WARN: f64 = 70.0;
pub const CRIT: f64 = 85.0;

/// `[health.memory]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub warn: Option<Number>,
    pub crit: Option<Number>,
    /// A label selector: read the fleet through Prometheus.
    pub fleet: Option<String>,
    pub hosts: Option<i64>,
    pub max_age: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Memory {
    pub warn: f64,
    pub crit: f64,
    pub place: Place,
}

pub fn validate(m: Raw, key: &str, cx: &mut Ctx<'_>) -> Option<HealthCheck> {
    let (warn, crit) = thresholds(
        m.warn.map(Number::get),
        m.crit.map(Number::get),
        (WARN, CRIT),
        key,
        cx.problems,
    );
    let fields = Fields {
        fleet: m.fleet,
        hosts: m.hosts,
        max_age: m.max_age,
    };
    let check: std::sync::Arc<dyn Check> = match super::fleet::fields(fields, key, cx).ok()? {
        Some(target) => std::sync::Arc::new(target.check(Measure::Memory { warn, crit })),
        None => std::sync::Arc::new(Memory {
            warn,
            crit,
            place: Place::here(cx.env),
        }),
    };
    Some(HealthCheck {
        id: "memory".to_string(),
        key: key.to_string(),
        check,
        unset: Vec::new(),
        mode: Default::default(),
    })
}

impl Check for Memory {
    fn run<'a>(&'a self, _: &'a super::Shared) -> Running<'a> {
        let m = self.clone();
        Box::pin(blocking(move || check(&m)))
    }
}

pub fn check(memory: &Memory) -> Outcome {
    memory.place.say(read(memory))
}

fn read(memory: &Memory) -> Outcome {
    let host = &memory.place.host;
    let mut sys = match System::new() {
        Ok(s) => s,
        Err(e) => return Outcome::crit(format!("cannot read memory on {host}: {e}")),
    };
    sys.refresh_memory();
    let host_total = sys.total_memory();
    let (total, available, source) = match sys.cgroup_limits() {
        Some(cg) if cg.total_memory > 0 && cg.total_memory < host_total => {
            (cg.total_memory, cg.free_memory, "cgroup limit")
        }
        _ => (host_total, sys.available_memory(), "host"),
    };
    if total == 0 {
        return Outcome::crit(format!("cannot read memory on {host}: the total is zero"));
    }
    let used = total.saturating_sub(available);
    let pct = used as f64 * 100.0 / total as f64;
    Outcome::new(
        grade(pct, memory.warn, memory.crit),
        format!(
            "{pct:.1}% used of {} on {host} ({source}; warn {}%, crit {}%)",
            human(total),
            memory.warn,
            memory.crit
        ),
    )
    .detail("used_percent", (pct * 10.0).round() / 10.0)
    .detail("total_bytes", total)
    .detail("available_bytes", available)
    .detail("source", source)
}
