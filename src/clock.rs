//! The one clock: the real time, or `CI_FAKE_UTC` (RFC 3339) when set, so
//! that tests and reruns are deterministic. An invalid `CI_FAKE_UTC` is an
//! error that names it, never a silent fallback to the real time.

use std::time::SystemTime;

use crate::envsnap::EnvSnapshot;

/// Now: `CI_FAKE_UTC` when set, else the system's time.
pub fn now(vars: &EnvSnapshot) -> Result<SystemTime, String> {
    match vars.non_empty("CI_FAKE_UTC") {
        None => Ok(SystemTime::now()),
        Some(text) => humantime::parse_rfc3339_weak(text.trim()).map_err(|_| {
            format!(
                "CI_FAKE_UTC {}: not a time; write it in RFC 3339, like 1970-01-01T00:00:00Z",
                crate::sanitize::quoted(text)
            )
        }),
    }
}

/// Now as RFC 3339 UTC, to the second.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}
