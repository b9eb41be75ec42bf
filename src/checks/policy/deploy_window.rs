//! `deploy_window`: no deploy freeze is in force at the run's time (the
//! clock, or `CI_FAKE_UTC`; see [`crate::clock`]).
//!
//! Inside a freeze the gate fails and says which freeze, until when (on
//! the freeze's wall clock and in UTC) and how to override it; outside
//! every freeze it passes and names the next one. An override with a
//! reason (`--override-freeze <reason>`, else `RS_FREEZE_OVERRIDE`) turns
//! the failure into a WARN whose message starts with the reason, so that
//! the exception is recorded wherever the row goes; an override without a
//! reason is refused. A freeze that cannot be evaluated fails: it never
//! counts as "not frozen". The window arithmetic is in
//! [`super::freeze`].

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::Input;
use super::freeze::{Freeze, Window, show};
use crate::clock::rfc3339_utc;
use crate::envsnap::EnvSnapshot;
use crate::report::Outcome;
use crate::sanitize::{capped, is_blank, quoted};
use crate::text::list_some;

/// The variable that overrides a freeze; its value is the reason.
pub const OVERRIDE_VAR: &str = "RS_FREEZE_OVERRIDE";
/// The option that overrides a freeze (it wins over the variable).
pub const OVERRIDE_FLAG: &str = "--override-freeze";

/// How to override a freeze.
const SET: &str = "set RS_FREEZE_OVERRIDE=\"<reason>\" or pass --override-freeze \"<reason>\"";

/// How many freezes that follow one another are chained to find when
/// deploys open again.
const MAX_CHAIN: usize = 32;

/// A request to deploy through a freeze.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeOverride {
    pub reason: String,
    /// `--override-freeze` or `RS_FREEZE_OVERRIDE`.
    pub source: &'static str,
}

impl FreezeOverride {
    /// The option's value, else the variable's (even when blank: a blank
    /// reason is refused where it matters, inside a freeze).
    pub fn resolve(flag: Option<&str>, vars: &EnvSnapshot) -> Option<Self> {
        match flag {
            Some(reason) => Some(Self {
                reason: reason.to_string(),
                source: OVERRIDE_FLAG,
            }),
            None => vars.lossy(OVERRIDE_VAR).map(|reason| Self {
                reason,
                source: OVERRIDE_VAR,
            }),
        }
    }

    /// Whether it gives a reason.
    fn has_reason(&self) -> bool {
        !is_blank(&self.reason)
    }

    fn detail(&self, accepted: bool) -> Value {
        json!({
            "reason": capped(&self.reason, 1000),
            "source": self.source,
            "accepted": accepted,
        })
    }
}

pub fn check(input: &Input<'_>) -> Outcome {
    let freezes = &input.policy.freezes;
    if freezes.is_empty() {
        return Outcome::ok("no freeze is configured");
    }
    evaluate(freezes, input.now.utc, input.freeze_override.as_ref())
}

/// The row for `freezes` at `now`, with `over` when an override was given.
pub fn evaluate(freezes: &[Freeze], now: DateTime<Utc>, over: Option<&FreezeOverride>) -> Outcome {
    let mut active: Vec<(&Freeze, Window)> = Vec::new();
    let mut errors = Vec::new();
    for f in freezes {
        match f.active_at(now) {
            Ok(Some(w)) => active.push((f, w)),
            Ok(None) => {}
            Err(e) => errors.push(format!("{}: {e}", f.label)),
        }
    }
    if !errors.is_empty() {
        return cannot(errors);
    }
    let outcome = if active.is_empty() {
        outside(freezes, now, over)
    } else {
        inside(freezes, &active, over)
    };
    let mut outcome = outcome.detail("configured", freezes.len());
    if let Some(o) = over {
        let accepted = !active.is_empty() && o.has_reason();
        outcome = outcome.detail("override", o.detail(accepted));
    }
    outcome
}

fn cannot(errors: Vec<String>) -> Outcome {
    Outcome::fail(format!(
        "cannot tell whether a freeze is in force ({}); fix the freeze in the config",
        list_some(&errors, 2)
    ))
    .detail("errors", errors)
}

fn names(freezes: &[&Freeze]) -> String {
    let quoted: Vec<String> = freezes.iter().map(|f| quoted(&f.label)).collect();
    match quoted.as_slice() {
        [one] => one.clone(),
        [first @ .., last] => format!("{} and {last}", first.join(", ")),
        [] => String::new(),
    }
}

fn inside(
    freezes: &[Freeze],
    active: &[(&Freeze, Window)],
    over: Option<&FreezeOverride>,
) -> Outcome {
    let open = match open_again(freezes, active) {
        Ok(open) => open,
        Err(e) => return cannot(vec![e]),
    };
    let until = format!(
        "until{} {}",
        if open.at_least { " at least" } else { "" },
        show(open.at, open.zone)
    );
    let who: Vec<&Freeze> = active.iter().map(|(f, _)| *f).collect();
    let frozen = format!("{} {until}", names(&who));
    let outcome = match over {
        Some(o) if o.has_reason() => Outcome::warn(format!(
            "freeze overridden by {}, reason {}: frozen by {frozen}",
            o.source,
            quoted(&o.reason)
        )),
        Some(o) => Outcome::fail(format!(
            "frozen by {frozen}; override refused: {} gives no reason; {SET}",
            o.source
        )),
        None => Outcome::fail(format!("frozen by {frozen}; to deploy anyway, {SET}")),
    };
    let details: Vec<Value> = active.iter().map(|(f, w)| f.detail(Some(w))).collect();
    outcome
        .detail("active", details)
        .detail("open_at", rfc3339_utc(open.at))
}

fn outside(freezes: &[Freeze], now: DateTime<Utc>, over: Option<&FreezeOverride>) -> Outcome {
    let mut next: Option<(&Freeze, Window)> = None;
    let mut errors = Vec::new();
    for f in freezes {
        match f.next_after(now) {
            Ok(Some(w)) if next.is_none_or(|(_, n)| w.start < n.start) => next = Some((f, w)),
            Ok(_) => {}
            Err(e) => errors.push(format!("{}: {e}", f.label)),
        }
    }
    if !errors.is_empty() {
        return cannot(errors);
    }
    let note = match over {
        Some(o) if o.has_reason() => format!("; the override ({}) is not needed", o.source),
        Some(o) => format!("; {} gives no reason (nothing to override now)", o.source),
        None => String::new(),
    };
    match next {
        Some((f, w)) => Outcome::ok(format!(
            "not in a freeze; next: {} from {} to {}{note}",
            quoted(&f.label),
            f.show(w.start),
            f.show(w.end)
        ))
        .detail("next", f.detail(Some(&w))),
        None => Outcome::ok(format!(
            "not in a freeze, and none is ahead ({} configured, all over){note}",
            freezes.len()
        )),
    }
}

/// When no freeze is in force any more.
struct Open {
    at: DateTime<Utc>,
    /// The zone of the freeze that ends last, to show `at` in.
    zone: Tz,
    /// The freezes follow one another for longer than [`MAX_CHAIN`]
    /// steps: `at` is only a lower bound.
    at_least: bool,
}

/// The end of the freezes in force, followed through the freezes that are
/// in force at that end (a holiday that starts as a weekend ends).
fn open_again(freezes: &[Freeze], active: &[(&Freeze, Window)]) -> Result<Open, String> {
    let latest = |list: &[(&Freeze, Window)]| {
        list.iter()
            .max_by_key(|(_, w)| w.end)
            .map(|(f, w)| (w.end, f.zone))
    };
    let Some((mut at, mut zone)) = latest(active) else {
        return Err("no freeze is in force".to_string());
    };
    for _ in 0..MAX_CHAIN {
        let mut next = Vec::new();
        for f in freezes {
            if let Some(w) = f.active_at(at).map_err(|e| format!("{}: {e}", f.label))? {
                next.push((f, w));
            }
        }
        match latest(&next) {
            Some((end, z)) if end > at => (at, zone) = (end, z),
            _ => {
                return Ok(Open {
                    at,
                    zone,
                    at_least: false,
                });
            }
        }
    }
    Ok(Open {
        at,
        zone,
        at_least: true,
    })
}

#[cfg(test)]
mod tests {
    use super::super::freeze::{RawFreeze, validate};
    use super::*;
    use crate::config::values::Problems;
    use crate::report::Status;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn freezes(text: &str) -> Vec<Freeze> {
        #[derive(serde::Deserialize)]
        struct Doc {
            freeze: Vec<RawFreeze>,
        }
        let doc: Doc = toml::from_str(text).unwrap();
        let mut p = Problems::default();
        validate(
            &doc.freeze,
            "policy.freeze",
            &EnvSnapshot::default(),
            &mut p,
        )
        .unwrap()
    }

    const WEEKEND: &str = "[[freeze]]\nname = \"weekend\"\nfreeze_start = \"0 23 * * 5\"\n\
                           freeze_end = \"0 7 * * 1\"\ntimezone = \"Europe/Berlin\"\n";
    const HOLIDAYS: &str = "[[freeze]]\nname = \"holidays\"\nfrom = \"2026-12-21\"\n\
                            until = \"2026-12-31\"\ntimezone = \"Europe/Berlin\"\n";

    fn over(reason: &str) -> FreezeOverride {
        FreezeOverride {
            reason: reason.into(),
            source: OVERRIDE_VAR,
        }
    }

    #[test]
    fn inside_a_freeze_fails_and_says_until_when_and_how_to_override() {
        let f = freezes(WEEKEND);
        let o = evaluate(&f, utc("2026-12-05T12:00:00Z"), None);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(
            o.message,
            "frozen by \"weekend\" until Mon 2026-12-07 07:00 CET (06:00 UTC); to deploy anyway, \
             set RS_FREEZE_OVERRIDE=\"<reason>\" or pass --override-freeze \"<reason>\""
        );
        assert_eq!(o.details["open_at"], "2026-12-07T06:00:00Z");
    }

    #[test]
    fn outside_every_freeze_names_the_next() {
        let f = freezes(WEEKEND);
        let o = evaluate(&f, utc("2026-12-08T12:00:00Z"), None);
        assert_eq!(o.status, Status::Ok);
        assert_eq!(
            o.message,
            "not in a freeze; next: \"weekend\" from Fri 2026-12-11 23:00 CET (22:00 UTC) \
             to Mon 2026-12-14 07:00 CET (06:00 UTC)"
        );
    }

    #[test]
    fn freezes_that_follow_one_another_end_together() {
        // The holidays start on Monday 2026-12-21 00:00, while the weekend
        // freeze of 18 to 21 December is in force: deploys open again when
        // the holidays end, not on Monday at 07:00.
        let f = freezes(&format!("{WEEKEND}{HOLIDAYS}"));
        let o = evaluate(&f, utc("2026-12-20T12:00:00Z"), None);
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.message.starts_with(
                "frozen by \"weekend\" until Fri 2027-01-01 00:00 CET (2026-12-31 23:00 UTC)"
            ),
            "{}",
            o.message
        );
        // Both in force at once are both named.
        let o = evaluate(&f, utc("2026-12-26T12:00:00Z"), None);
        assert!(
            o.message
                .starts_with("frozen by \"weekend\" and \"holidays\" until Fri 2027-01-01"),
            "{}",
            o.message
        );
    }

    #[test]
    fn an_override_with_a_reason_warns_and_records_it() {
        let f = freezes(WEEKEND);
        let o = evaluate(
            &f,
            utc("2026-12-05T12:00:00Z"),
            Some(&over("INC-42 hotfix")),
        );
        assert_eq!(o.status, Status::Warn);
        assert!(
            o.message.starts_with(
                "freeze overridden by RS_FREEZE_OVERRIDE, reason \"INC-42 hotfix\": frozen by \"weekend\""
            ),
            "{}",
            o.message
        );
        assert_eq!(o.details["override"]["accepted"], true);
        assert_eq!(o.details["override"]["reason"], "INC-42 hotfix");
    }

    #[test]
    fn an_override_without_a_reason_is_refused() {
        let f = freezes(WEEKEND);
        let o = evaluate(&f, utc("2026-12-05T12:00:00Z"), Some(&over(" ")));
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.message
                .contains("; override refused: RS_FREEZE_OVERRIDE gives no reason; set "),
            "{}",
            o.message
        );
        assert_eq!(o.details["override"]["accepted"], false);
        // Outside a freeze there is nothing to override.
        let o = evaluate(&f, utc("2026-12-08T12:00:00Z"), Some(&over("")));
        assert_eq!(o.status, Status::Ok);
        assert!(
            o.message
                .ends_with("; RS_FREEZE_OVERRIDE gives no reason (nothing to override now)")
        );
    }

    #[test]
    fn past_periods_leave_nothing_ahead() {
        let f = freezes(HOLIDAYS);
        let o = evaluate(&f, utc("2027-02-01T00:00:00Z"), None);
        assert_eq!(o.status, Status::Ok);
        assert_eq!(
            o.message,
            "not in a freeze, and none is ahead (1 configured, all over)"
        );
    }

    #[test]
    fn the_option_wins_over_the_variable() {
        let vars = EnvSnapshot::from_pairs([(OVERRIDE_VAR, "from the variable")]);
        let o = FreezeOverride::resolve(Some("from the option"), &vars).unwrap();
        assert_eq!(o.source, OVERRIDE_FLAG);
        let o = FreezeOverride::resolve(None, &vars).unwrap();
        assert_eq!(
            (o.reason.as_str(), o.source),
            ("from the variable", OVERRIDE_VAR)
        );
        assert_eq!(FreezeOverride::resolve(None, &EnvSnapshot::default()), None);
    }
}
