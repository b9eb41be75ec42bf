//! `disk:<path>`: used share of the filesystem holding the path, as `df`
//! counts it (used / (used + available to unprivileged users)), and an
//! optional minimum of available bytes.

use crate::config::health::Disk;
use crate::report::{Outcome, Status};

/// Bytes as people read them: `12.3 GiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The status for a used percentage against WARN and CRIT thresholds.
pub fn grade(used: f64, warn: f64, crit: f64) -> Status {
    if used >= crit {
        Status::Crit
    } else if used >= warn {
        Status::Warn
    } else {
        Status::Ok
    }
}

pub fn check(disk: &Disk) -> Outcome {
    let path = disk.path.display().to_string();
    let st = match rustix::fs::statvfs(&disk.path) {
        Ok(st) => st,
        Err(e) if e == rustix::io::Errno::NOENT => {
            return Outcome::new(Status::Crit, format!("{path} does not exist"));
        }
        Err(e) => {
            return Outcome::new(Status::Crit, format!("cannot check {path}: {e}"));
        }
    };
    let block = st.f_frsize.max(1);
    let used = st.f_blocks.saturating_sub(st.f_bfree).saturating_mul(block);
    let avail = st.f_bavail.saturating_mul(block);
    if used + avail == 0 {
        return Outcome::new(
            Status::Crit,
            format!("cannot check {path}: the filesystem reports no size"),
        );
    }
    let pct = used as f64 * 100.0 / (used + avail) as f64;
    let mut status = grade(pct, disk.warn, disk.crit);
    let mut message = format!(
        "{pct:.1}% used, {} free (warn {}%, crit {}%)",
        human(avail),
        disk.warn,
        disk.crit
    );
    if let Some(min) = disk.min_free
        && avail < min
    {
        status = Status::Crit;
        message = format!(
            "{pct:.1}% used, only {} free, below the minimum of {}",
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
    fn grades() {
        assert_eq!(grade(10.0, 75.0, 85.0), Status::Ok);
        assert_eq!(grade(75.0, 75.0, 85.0), Status::Warn);
        assert_eq!(grade(90.0, 75.0, 85.0), Status::Crit);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }

    #[test]
    fn a_missing_path_is_critical() {
        let o = check(&Disk {
            path: "/no/such/path/for/release-sentinel".into(),
            warn: 75.0,
            crit: 85.0,
            min_free: None,
        });
        assert_eq!(o.status, Status::Crit);
        assert!(o.message.contains("does not exist"), "{}", o.message);
    }
}
