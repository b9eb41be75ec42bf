//! The profile switches over a watch: each evaluation moves every switch's
//! memory on ([`super::state::advance`]), applies the profile it switched
//! to (through a command the caller runs), and keeps what each saw for its
//! row; the state file is read before the watch and written after each
//! evaluation. A profile that could not be applied is a trigger (when the
//! switch's row is enforced), and the state keeps the profile it had, so
//! that a later run applies it again.
//!
//! Ignored here: how an apply command is run (the caller's closure says
//! whether it failed, and why), and `--at` (a replay acts on nothing: the
//! caller never calls [`Switches::observe`] then).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::Verify;
use super::judge::{self, Evaluation, number};
use super::state::{self, State, SwitchState};
use crate::report::{CheckResult, Mode, Outcome, Phase, Status};

/// What every switch of a [`Verify`] saw, and the state they keep.
pub struct Switches<'a> {
    verify: &'a Verify,
    modes: Vec<Mode>,
    path: PathBuf,
    state: State,
    /// Each switch's last outcome and its evaluations, by name.
    seen: BTreeMap<String, (Outcome, Vec<Value>)>,
}

impl<'a> Switches<'a> {
    /// The switches with the state in `path` (a missing file is a fresh
    /// start); nothing is read when there are no switches or the watch is a
    /// `replay`. `mode_of` gives a row's mode by its id.
    pub fn load(
        verify: &'a Verify,
        path: &Path,
        replay: bool,
        mode_of: impl Fn(&str) -> Mode,
    ) -> Result<Self, String> {
        let mut state = if verify.switches.is_empty() || replay {
            State::default()
        } else {
            state::load(path).map_err(|why| {
                format!(
                    "cannot read the state file {}: {why}",
                    crate::sanitize::ascii(&path.display().to_string())
                )
            })?
        };
        state.version = 1;
        Ok(Self {
            verify,
            modes: verify
                .switches
                .iter()
                .map(|s| mode_of(&format!("switch:{}", s.name)))
                .collect(),
            path: path.to_path_buf(),
            state,
            seen: BTreeMap::new(),
        })
    }

    /// One evaluation at `t`: each switch's (degrade, recover) evaluations
    /// in the config's order. `apply` runs a profile's command and says why
    /// it failed, if it did. Returns the triggers (an enforced switch whose
    /// profile could not be applied).
    pub fn observe(
        &mut self,
        t: f64,
        results: Vec<(Evaluation, Evaluation)>,
        mut apply: impl FnMut(&[String]) -> Option<String>,
    ) -> Vec<String> {
        let mut triggers = Vec::new();
        for ((sw, (degrade, recover)), mode) in
            self.verify.switches.iter().zip(results).zip(&self.modes)
        {
            let st = self
                .state
                .switches
                .entry(sw.name.clone())
                .or_insert_with(|| SwitchState {
                    profile: sw.normal.clone(),
                    breaching: 0,
                    switches: 0,
                });
            let before = st.clone();
            let switched = state::advance(st, sw, &degrade, &recover);
            let entry = self
                .seen
                .entry(sw.name.clone())
                .or_insert_with(|| (Outcome::ok(""), Vec::new()));
            entry.1.push(json!({
                "at": judge::time(t),
                "value": degrade.value.map(number),
                "outcome": degrade.class,
                "recover_value": recover.value.map(number),
                "profile": st.profile,
                "breaching": st.breaching,
            }));
            let mut message = format!(
                "profile {} ({}: {} {}, {} of {} breaching; recover {}: {})",
                st.profile,
                sw.query,
                degrade.value.map_or("no data".to_string(), number),
                sw.bound.describe(),
                st.breaching,
                sw.after,
                sw.recover_query,
                recover.value.map_or("no data".to_string(), number),
            );
            let mut status = if st.profile == sw.normal {
                Status::Ok
            } else {
                Status::Warn
            };
            if let Some(profile) = switched {
                // The marker line, and the profile's command.
                message = format!("PROFILE_APPLIED={profile}; {message}");
                if let Some(argv) = sw.apply.get(&profile)
                    && let Some(why) = apply(argv)
                {
                    // The service is in no known profile: that is a
                    // trigger, and the state keeps the profile it had, so
                    // that a later run applies it again.
                    status = Status::Crit;
                    message.push_str(&format!("; applying it failed: {why}"));
                    *st = before;
                    if *mode == Mode::Enforce {
                        triggers.push(format!(
                            "switch:{}: applying profile {profile} failed: {why}",
                            sw.name
                        ));
                    }
                }
            }
            entry.0 = Outcome::new(status, message)
                .detail("profile", st.profile.as_str())
                .detail("breaching", st.breaching)
                .detail("switches", st.switches);
        }
        triggers
    }

    /// Write the state file, when there are switches.
    pub fn save(&self) -> Result<(), String> {
        if self.verify.switches.is_empty() {
            return Ok(());
        }
        state::save(&self.path, &self.state)
            .map_err(|why| format!("cannot write the state file {}: {why}", self.path.display()))
    }

    /// One row per switch, its mode applied: its last outcome with every
    /// evaluation; SKIP when it has none (`replay`: `--at` does not judge
    /// switches; otherwise `not_run` says why).
    pub fn rows(mut self, replay: bool, not_run: &str) -> Vec<CheckResult> {
        let mut rows = Vec::new();
        for (sw, mode) in self.verify.switches.iter().zip(&self.modes) {
            let id = format!("switch:{}", sw.name);
            let outcome = match self.seen.remove(&sw.name) {
                Some((o, history)) => o.detail("evaluations", history),
                None if replay => Outcome::skip("not evaluated: --at judges stored metrics only"),
                None => Outcome::skip(not_run),
            };
            rows.push(
                CheckResult::new(&id, Phase::Verify, outcome, Duration::ZERO).with_mode(*mode),
            );
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::judge::Class;
    use crate::verify::watch::tests::parsed;

    const CONFIG: &str = r#"
[prometheus]
url = "http://127.0.0.1:9"

[verify]
[[verify.switch]]
name = "edge"
query = "ema1h"
min = 0
after = 1
recover_query = "ema24h"
recover_min = 1.5
profiles = ["moderate", "conservative"]
apply = { moderate = ["true"], conservative = ["false"] }
"#;

    fn verify() -> Verify {
        parsed(CONFIG)
    }

    fn eval(value: f64) -> Evaluation {
        Evaluation {
            at: 0.0,
            class: Class::Ok,
            value: Some(value),
            sample_time: Some(0.0),
            note: String::new(),
            samples: Vec::new(),
        }
    }

    /// A breach of ema1h, and ema24h too low to recover.
    fn breach() -> Vec<(Evaluation, Evaluation)> {
        vec![(eval(-1.0), eval(1.0))]
    }

    #[test]
    fn a_profile_that_could_not_be_applied_is_a_trigger_and_is_not_kept() {
        let v = verify();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("state.json");
        let mut s = Switches::load(&v, &path, false, |_| Mode::Enforce).expect("no file yet");
        let mut applied = Vec::new();
        let triggers = s.observe(1.0, breach(), |argv| {
            applied.push(argv.to_vec());
            Some("exit 1".to_string())
        });
        assert_eq!(applied, [vec!["false".to_string()]]);
        assert_eq!(
            triggers,
            ["switch:edge: applying profile conservative failed: exit 1"]
        );
        s.save().expect("the state is written");
        let kept = state::load(&path).expect("the state reads back");
        assert_eq!(kept.switches["edge"].profile, "moderate");
        let rows = s.rows(false, "not run");
        assert_eq!(rows[0].status(), Status::Crit);
        assert!(
            rows[0].outcome.message.starts_with(
                "PROFILE_APPLIED=conservative; profile conservative (ema1h: -1 min 0, 0 of 1 breaching"
            ),
            "{}",
            rows[0].outcome.message
        );
        assert!(
            rows[0]
                .outcome
                .message
                .ends_with("; applying it failed: exit 1")
        );
    }

    #[test]
    fn an_applied_profile_is_kept_and_a_warn_switch_never_triggers() {
        let v = verify();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("sub/state.json");
        let mut s = Switches::load(&v, &path, false, |_| Mode::Enforce).expect("no file yet");
        assert!(s.observe(1.0, breach(), |_| None).is_empty());
        s.save().expect("the state is written");
        assert_eq!(
            state::load(&path).expect("it reads back").switches["edge"].profile,
            "conservative"
        );
        let rows = s.rows(false, "not run");
        assert_eq!(rows[0].status(), Status::Warn, "the degraded profile");

        let mut warn = Switches::load(&v, &dir.path().join("other.json"), false, |_| Mode::Warn)
            .expect("no file yet");
        assert!(
            warn.observe(1.0, breach(), |_| Some("exit 1".into()))
                .is_empty()
        );
        assert_eq!(warn.rows(false, "not run")[0].status(), Status::Warn);
    }

    #[test]
    fn without_an_evaluation_a_switch_says_why_and_a_replay_reads_no_state() {
        let v = verify();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{").expect("a broken state file");
        let err = Switches::load(&v, &path, false, |_| Mode::Enforce)
            .err()
            .expect("a broken state file is refused");
        assert!(err.starts_with("cannot read the state file "), "{err}");
        let s = Switches::load(&v, &path, true, |_| Mode::Enforce).expect("a replay reads nothing");
        let rows = s.rows(true, "not run");
        assert_eq!(
            rows[0].outcome.message,
            "not evaluated: --at judges stored metrics only"
        );
        let s = Switches::load(&v, &dir.path().join("new.json"), false, |_| Mode::Enforce)
            .expect("no file yet");
        assert_eq!(
            s.rows(false, "not evaluated: interrupted")[0]
                .outcome
                .message,
            "not evaluated: interrupted"
        );
    }
}
