//! The one clock: the real time, or `CI_FAKE_UTC` (RFC 3339) when set, so
//! that tests and reruns are deterministic. An invalid `CI_FAKE_UTC` is an
//! error that names it, never a silent fallback to the real time.

use std::time::{Duration, SystemTime};

use crate::envsnap::EnvSnapshot;

/// Now: `CI_FAKE_UTC` when set, else the system's time.
pub fn now(vars: &EnvSnapshot) -> Result<SystemTime, String> {
    match vars.non_empty("CI_FAKE_UTC") {
        None => Ok(SystemTime::now()),
        Some(text) => parse_rfc3339(text).ok_or_else(|| {
            format!(
                "CI_FAKE_UTC {}: not a time; write it in RFC 3339, like 1970-01-01T00:00:00Z",
                crate::sanitize::quoted(text)
            )
        }),
    }
}

/// An RFC 3339 time, in UTC (`Z`) or at any numeric offset (`+01:00`, as
/// `date -Iseconds` prints it outside UTC), with or without fractional
/// seconds; surrounding blanks are ignored. `None` when it is not one.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    // humantime reads UTC only, and after fractional seconds it takes any
    // `+HH:MM` for `+00:00`: a numeric offset is taken off and applied here.
    let split = text
        .len()
        .checked_sub(6)
        .and_then(|i| text.split_at_checked(i));
    let Some((local, offset)) = split.filter(|(_, o)| o.starts_with(['+', '-'])) else {
        return humantime::parse_rfc3339_weak(text).ok();
    };
    let o = offset.as_bytes();
    let two = |at: usize| {
        let (tens, ones) = (o[at], o[at + 1]);
        (tens.is_ascii_digit() && ones.is_ascii_digit())
            .then(|| u64::from(tens - b'0') * 10 + u64::from(ones - b'0'))
    };
    let (Some(hours), Some(minutes)) = (two(1), two(4)) else {
        return None;
    };
    if o[3] != b':' || hours > 23 || minutes > 59 || !local.ends_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    let at = humantime::parse_rfc3339_weak(local).ok()?;
    let shift = Duration::from_secs(hours * 3600 + minutes * 60);
    if o[0] == b'+' {
        at.checked_sub(shift)
    } else {
        at.checked_add(shift)
    }
}

/// Now as RFC 3339 UTC, to the second.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_at_any_offset() {
        let utc = parse_rfc3339("2026-03-10T09:30:00Z").unwrap();
        for same in [
            "2026-03-10T09:30:00+00:00",
            "2026-03-10T10:30:00+01:00",
            "2026-03-10T04:30:00-05:00",
            "2026-03-10T15:00:00+05:30",
            " 2026-03-10T09:30:00-00:00 ",
        ] {
            assert_eq!(parse_rfc3339(same), Some(utc), "{same}");
        }
        // After fractional seconds too (humantime alone would read these
        // as UTC, or refuse the negative one).
        assert_eq!(
            parse_rfc3339("2026-03-10T10:30:00.5+01:00"),
            Some(utc + Duration::from_millis(500))
        );
        assert_eq!(
            parse_rfc3339("2026-03-10T04:30:00.5-05:00"),
            Some(utc + Duration::from_millis(500))
        );
        for bad in [
            "",
            "yesterday",
            "+01:00",
            "2026-03-10T10:30:00+1:00",
            "2026-03-10T10:30:00+24:00",
            "2026-03-10T10:30:00+01:60",
            "2026-03-10T10:30:00Z+01:00",
            "2026-03-10T10:30:00*01:00",
            "2026-03-10T10:30:00+01-00",
            "2026-03-10T10:30:00+\u{e9}:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
