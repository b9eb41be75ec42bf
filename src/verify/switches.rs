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
