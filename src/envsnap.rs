//! The process environment, read once at start-up.
//!
//! The core never calls `std::env::var`: it sees this snapshot, so a run is
//! a function of its inputs and tests can hand it any environment.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// A variable that is set but whose value is not valid UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUnicode;

#[derive(Debug, Clone, Default)]
pub struct EnvSnapshot {
    vars: BTreeMap<String, OsString>,
}

impl EnvSnapshot {
    /// Read the current process environment. Variables whose *names* are
    /// not UTF-8 are left out: no configuration can name them.
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars_os())
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let vars = pairs
            .into_iter()
            .filter_map(|(k, v)| k.into().into_string().ok().map(|k| (k, v.into())))
            .collect();
        Self { vars }
    }

    /// The value of `name`: `Ok(None)` when unset, `Err` when not UTF-8.
    pub fn get(&self, name: &str) -> Result<Option<&str>, NotUnicode> {
        match self.vars.get(name) {
            None => Ok(None),
            Some(v) => v.to_str().map(Some).ok_or(NotUnicode),
        }
    }

    /// The value of `name` when it is set, UTF-8 and not blank (see
    /// [`crate::sanitize::is_blank`]).
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Ok(Some(v)) if !crate::sanitize::is_blank(v) => Some(v),
            _ => None,
        }
    }

    /// The value of `name` as text, invalid UTF-8 replaced: what a value
    /// that is not UTF-8 looks like once output containing it is decoded.
    pub fn lossy(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.to_string_lossy().into_owned())
    }

    /// Every variable name with its value, invalid UTF-8 replaced.
    pub fn iter_lossy(&self) -> impl Iterator<Item = (&str, std::borrow::Cow<'_, str>)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_string_lossy()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_distinguishes_unset_blank_and_set() {
        let env = EnvSnapshot::from_pairs([("A", "x"), ("B", "  ")]);
        assert_eq!(env.get("A"), Ok(Some("x")));
        assert_eq!(env.get("C"), Ok(None));
        assert_eq!(env.non_empty("B"), None);
        assert_eq!(env.non_empty("A"), Some("x"));
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_values_are_reported() {
        use std::os::unix::ffi::OsStringExt;
        let env = EnvSnapshot::from_pairs([(
            OsString::from("BAD"),
            OsString::from_vec(vec![0xff, 0xfe]),
        )]);
        assert_eq!(env.get("BAD"), Err(NotUnicode));
        assert_eq!(env.non_empty("BAD"), None);
    }
}
