//! `memory`: (total - available) / total. Inside a container with a cgroup
//! memory limit below the host's memory, the limit is what counts, and the
//! message says which was used.

use sysinfo::System;

use super::disk::{grade, human};
use crate::config::health::Memory;
use crate::report::{Outcome, Status};

pub fn check(memory: &Memory) -> Outcome {
    let mut sys = match System::new() {
        Ok(s) => s,
        Err(e) => return Outcome::new(Status::Crit, format!("cannot read memory: {e}")),
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
        return Outcome::new(Status::Crit, "cannot read memory: the total is zero");
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
