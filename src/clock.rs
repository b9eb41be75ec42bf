//! The clock, in one place: the time every check of a run uses, read once
//! when the run starts. It is the real UTC time, or the value of
//! `CI_FAKE_UTC` (RFC 3339, as in `1970-01-01T00:00:00Z`) when that is
//! set and not blank, so that tests and reruns are deterministic. An
//! invalid `CI_FAKE_UTC` is an error that names it and its value, never a
//! silent fallback to the real time. The report records the time used and
//! where it came from.

use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

use crate::envsnap::EnvSnapshot;
use crate::sanitize::{is_blank, quoted};

/// The variable that fixes the clock.
pub const FAKE_VAR: &str = "CI_FAKE_UTC";

/// The time a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub utc: DateTime<Utc>,
    /// From `CI_FAKE_UTC`, not the system clock.
    pub fake: bool,
}

impl Now {
    /// The time for a run: `CI_FAKE_UTC` when it is set and not blank,
    /// else the system clock. A `CI_FAKE_UTC` that is not an RFC 3339 time
    /// is an error that names the variable and its value.
    pub fn read(vars: &EnvSnapshot) -> Result<Self, String> {
        let fix = "set it to an RFC 3339 time such as \"2026-12-24T18:00:00Z\", or unset it";
        match vars.get(FAKE_VAR) {
            Ok(None) => Ok(Self::system()),
            Ok(Some(text)) if is_blank(text) => Ok(Self::system()),
            Ok(Some(text)) => Self::parse(text).ok_or_else(|| {
                format!("{FAKE_VAR}={} is not an RFC 3339 time; {fix}", quoted(text))
            }),
            Err(_) => Err(format!("{FAKE_VAR} is set but not valid UTF-8; {fix}")),
        }
    }

    /// The system clock.
    pub fn system() -> Self {
        Self {
            utc: DateTime::<Utc>::from(std::time::SystemTime::now()),
            fake: false,
        }
    }

    /// A fixed time (as `CI_FAKE_UTC` gives it).
    pub fn fixed(utc: DateTime<Utc>) -> Self {
        Self { utc, fake: true }
    }

    /// `2026-12-24T18:00:00Z`, `...T18:00:00+01:00`; a lower-case `t` or
    /// `z` and a space for the `T` are accepted, as RFC 3339 allows, and so
    /// is a UTC time without its `Z` (`2026-12-24 18:00:00`).
    fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                humantime::parse_rfc3339_weak(t)
                    .ok()
                    .map(DateTime::<Utc>::from)
            })
            .map(Self::fixed)
    }

    /// The time as RFC 3339 in UTC, with a fraction of a second only when
    /// there is one: `2026-12-24T18:00:00Z`.
    pub fn rfc3339(&self) -> String {
        rfc3339_utc(self.utc)
    }

    /// Where the time came from, as the JSON report says it.
    pub fn source(&self) -> &'static str {
        if self.fake { FAKE_VAR } else { "system clock" }
    }
}

/// The time for a command that counts in [`SystemTime`]: [`Now::read`].
pub fn now(vars: &EnvSnapshot) -> Result<SystemTime, String> {
    Now::read(vars).map(|n| n.utc.into())
}

/// An RFC 3339 time, in UTC (`Z`) or at any numeric offset (`+01:00`, as
/// `date -Iseconds` prints it outside UTC), with or without fractional
/// seconds; surrounding blanks are ignored. `None` when it is not one.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    Now::parse(text).map(|n| n.utc.into())
}

/// A [`SystemTime`] as RFC 3339 in UTC, to the second.
pub fn rfc3339(t: SystemTime) -> String {
    rfc3339_utc(DateTime::<Utc>::from(t).trunc_subsecs(0))
}

/// The one RFC 3339 formatter: UTC (`Z`), with a fraction of a second only
/// when there is one (`2026-12-24T18:00:00Z`, `1970-01-01T00:00:00.250Z`).
pub fn rfc3339_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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

    fn read(value: &str) -> Result<Now, String> {
        Now::read(&EnvSnapshot::from_pairs([(FAKE_VAR, value)]))
    }

    #[test]
    fn the_fake_clock_is_rfc_3339_in_any_offset() {
        let now = read("2026-12-24T18:00:00Z").unwrap();
        assert!(now.fake);
        assert_eq!(now.rfc3339(), "2026-12-24T18:00:00Z");
        assert_eq!(now.source(), "CI_FAKE_UTC");
        let now = read("2026-12-24T19:00:00+01:00").unwrap();
        assert_eq!(now.rfc3339(), "2026-12-24T18:00:00Z");
        assert_eq!(
            read("1970-01-01T00:00:00.250Z").unwrap().rfc3339(),
            "1970-01-01T00:00:00.250Z"
        );
    }

    #[test]
    fn an_invalid_fake_clock_names_the_variable_and_its_value() {
        for bad in ["tomorrow", "2026-12-24", "2026-13-01T00:00:00Z", "18:00"] {
            let e = read(bad).unwrap_err();
            assert!(e.starts_with(&format!("CI_FAKE_UTC=\"{bad}\"")), "{e}");
            assert!(e.contains("RFC 3339"), "{e}");
        }
    }

    #[test]
    fn without_the_variable_or_with_a_blank_one_the_system_clock_counts() {
        for vars in [
            EnvSnapshot::default(),
            EnvSnapshot::from_pairs([(FAKE_VAR, " ")]),
        ] {
            let now = Now::read(&vars).unwrap();
            assert!(!now.fake);
            assert_eq!(now.source(), "system clock");
            assert!(now.utc.timestamp() > 1_700_000_000);
        }
    }

    #[test]
    fn a_utc_time_without_its_z_is_read_as_utc() {
        let now = read("2026-12-24 18:00:00").unwrap();
        assert_eq!(now.rfc3339(), "2026-12-24T18:00:00Z");
    }

    #[test]
    fn system_times_read_and_print_the_same_way() {
        let vars = EnvSnapshot::from_pairs([(FAKE_VAR, "1970-01-01T00:00:10.5Z")]);
        let t = now(&vars).unwrap();
        assert_eq!(rfc3339(t), "1970-01-01T00:00:10Z");
        assert!(now(&EnvSnapshot::from_pairs([(FAKE_VAR, "x")])).is_err());
    }
}
