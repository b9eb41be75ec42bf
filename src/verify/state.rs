//! What the profile switches remember between runs of `verify --once` (a
//! cron job evaluates once a run): the profile in force and the breaching
//! evaluations in a row. A JSON file, written whole or not at all.
//!
//! A switch degrades after `after` evaluations in a row whose newest value
//! is beyond its bound, or that have no data or an error (the safe side is
//! the degraded profile), and recovers only when its second query is within
//! its own bound, with data: one good sample never flaps it back.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Switch;
use super::judge::{Class, Evaluation};

/// The file's content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub switches: BTreeMap<String, SwitchState>,
}

/// One switch's memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwitchState {
    pub profile: String,
    /// Breaching evaluations in a row, in the normal profile.
    pub breaching: u32,
    /// Switches made so far.
    pub switches: u32,
}

/// The largest state file read.
const MAX_SIZE: u64 = 1024 * 1024;

/// Read the state; a missing file is a fresh start, a broken one an error.
pub fn load(path: &Path) -> Result<State, String> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(State {
            version: 1,
            ..State::default()
        });
    }
    let data = crate::fsutil::read_regular(path, MAX_SIZE)?;
    serde_json::from_slice(&data).map_err(|e| format!("it is not a state file: {e}"))
}

/// Write the state atomically, creating its folder.
pub fn save(path: &Path, state: &State) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let mut text = serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?;
    text.push(b'\n');
    crate::fsutil::write_atomic(path, &text).map_err(|e| e.to_string())
}

/// One evaluation of `switch`: its memory moves on; returns the profile it
/// switched to, if it did.
pub fn advance(
    st: &mut SwitchState,
    switch: &Switch,
    degrade: &Evaluation,
    recover: &Evaluation,
) -> Option<String> {
    if st.profile != switch.normal && st.profile != switch.degraded {
        // The config renamed the profiles: start over, normal.
        st.profile = switch.normal.clone();
        st.breaching = 0;
    }
    if st.profile == switch.normal {
        let breaching =
            degrade.class != Class::Ok || degrade.value.is_some_and(|v| switch.bound.beyond(v));
        if !breaching {
            st.breaching = 0;
            return None;
        }
        st.breaching += 1;
        if st.breaching < switch.after {
            return None;
        }
        st.profile = switch.degraded.clone();
    } else {
        let within = recover.class == Class::Ok
            && recover
                .value
                .is_some_and(|v| !switch.recover_bound.beyond(v));
        if !within {
            return None;
        }
        st.profile = switch.normal.clone();
    }
    st.breaching = 0;
    st.switches += 1;
    Some(st.profile.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::judge::Bound;

    fn switch() -> Switch {
        Switch {
            name: "edge".into(),
            query: "ema1h".into(),
            bound: Bound::Min(0.0),
            after: 3,
            recover_query: "ema24h".into(),
            recover_bound: Bound::Min(1.5),
            normal: "moderate".into(),
            degraded: "conservative".into(),
            apply: BTreeMap::new(),
            step: None,
        }
    }

    fn eval(class: Class, value: f64) -> Evaluation {
        Evaluation {
            at: 0.0,
            class,
            value: Some(value),
            sample_time: Some(0.0),
            note: String::new(),
            samples: Vec::new(),
        }
    }

    #[test]
    fn degrades_after_three_in_a_row_and_recovers_only_on_the_second_condition() {
        let sw = switch();
        let mut st = SwitchState {
            profile: "moderate".into(),
            breaching: 0,
            switches: 0,
        };
        let bad = eval(Class::Ok, -0.5);
        let good = eval(Class::Ok, 0.5);
        let weak = eval(Class::Ok, 1.0);
        let strong = eval(Class::Ok, 2.0);
        assert_eq!(advance(&mut st, &sw, &bad, &weak), None);
        assert_eq!(advance(&mut st, &sw, &bad, &weak), None);
        // One good sample resets the count: no flapping.
        assert_eq!(advance(&mut st, &sw, &good, &weak), None);
        assert_eq!(st.breaching, 0);
        for _ in 0..2 {
            assert_eq!(advance(&mut st, &sw, &bad, &weak), None);
        }
        assert_eq!(
            advance(&mut st, &sw, &bad, &weak).as_deref(),
            Some("conservative")
        );
        // Degraded: a good ema1h is not enough, the 24h average must hold.
        assert_eq!(advance(&mut st, &sw, &good, &weak), None);
        assert_eq!(
            advance(&mut st, &sw, &good, &eval(Class::NoData, 2.0)),
            None
        );
        assert_eq!(
            advance(&mut st, &sw, &good, &strong).as_deref(),
            Some("moderate")
        );
        assert_eq!(st.switches, 2);
    }

    #[test]
    fn no_data_counts_toward_the_safe_profile() {
        let sw = switch();
        let mut st = SwitchState {
            profile: "moderate".into(),
            breaching: 2,
            switches: 0,
        };
        let none = eval(Class::NoData, f64::NAN);
        assert_eq!(
            advance(&mut st, &sw, &none, &none).as_deref(),
            Some("conservative")
        );
    }

    #[test]
    fn the_file_round_trips_and_a_broken_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        assert_eq!(load(&path).unwrap().switches.len(), 0);
        let mut st = State {
            version: 1,
            ..State::default()
        };
        st.switches.insert(
            "edge".into(),
            SwitchState {
                profile: "conservative".into(),
                breaching: 0,
                switches: 1,
            },
        );
        save(&path, &st).unwrap();
        assert_eq!(load(&path).unwrap(), st);
        std::fs::write(&path, "{").unwrap();
        assert!(load(&path).unwrap_err().contains("not a state file"));
    }
}
