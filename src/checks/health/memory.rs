//! `memory`: (total - available) / total. Inside a container with a cgroup
//! memory limit below the host's memory, the limit is what counts, and the
//! message says which was used.

use serde::Deserialize;
use sysinfo::System;

use super::{Check, Ctx, HealthCheck, Running, blocking};
use crate::config::raw::Number;
use crate::config::values::{grade, human, thresholds};
use crate::report::Outcome;

pub const WARN: f64 = 70.0;
pub const CRIT: f64 = 85.0;

/// `[health.memory]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub warn: Option<Number>,
    pub crit: Option<Number>,
}

#[derive(Debug, Clone)]
pub struct Memory {
    pub warn: f64,
    pub crit: f64,
}

pub fn validate(m: Raw, key: &str, cx: &mut Ctx<'_>) -> Option<HealthCheck> {
    let (warn, crit) = thresholds(
        m.warn.map(Number::get),
        m.crit.map(Number::get),
        (WARN, CRIT),
        key,
        cx.problems,
    );
    Some(HealthCheck {
        id: "memory".to_string(),
        key: key.to_string(),
        check: std::sync::Arc::new(Memory { warn, crit }),
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
    let mut sys = match System::new() {
        Ok(s) => s,
        Err(e) => return Outcome::crit(format!("cannot read memory: {e}")),
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
        return Outcome::crit("cannot read memory: the total is zero");
    }
    let used = total.saturating_sub(available);
    let pct = used as f64 * 100.0 / total as f64;
    Outcome::new(
        grade(pct, memory.warn, memory.crit),
        format!(
            "{pct:.1}% used of {} ({source}; warn {}%, crit {}%)",
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
