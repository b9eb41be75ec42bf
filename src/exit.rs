//! The verdict and the exit code it maps to: the one table the whole tool
//! is judged by.
//!
//! | code | verdict  |
//! | ---- | -------- |
//! | 0    | SAFE     |
//! | 1    | BLOCKED  |
//! | 2    | CRITICAL |
//!
//! Nothing else is ever returned. Usage errors, invalid configuration,
//! anything that could not be evaluated and even a panic map to BLOCKED.

use serde::Serialize;

/// The answer to "may this version go to this environment now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Every policy gate passed and no health check is critical.
    Safe,
    /// A policy gate failed, or the input could not be evaluated.
    Blocked,
    /// Policy passed, and at least one health check is critical.
    Critical,
}

impl Verdict {
    /// The process exit code for this verdict.
    pub fn code(self) -> u8 {
        match self {
            Verdict::Safe => 0,
            Verdict::Blocked => 1,
            Verdict::Critical => 2,
        }
    }

    /// The word printed in the final row of the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Safe => "SAFE",
            Verdict::Blocked => "BLOCKED",
            Verdict::Critical => "CRITICAL",
        }
    }
}

/// Exit code for anything that stopped the tool before a verdict: bad
/// arguments, bad configuration, an internal error.
pub const USAGE_OR_INPUT_ERROR: u8 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_never_change() {
        assert_eq!(Verdict::Safe.code(), 0);
        assert_eq!(Verdict::Blocked.code(), 1);
        assert_eq!(Verdict::Critical.code(), 2);
        assert_eq!(USAGE_OR_INPUT_ERROR, 1);
    }

    #[test]
    fn words_match_the_final_row() {
        assert_eq!(Verdict::Safe.as_str(), "SAFE");
        assert_eq!(Verdict::Blocked.as_str(), "BLOCKED");
        assert_eq!(Verdict::Critical.as_str(), "CRITICAL");
    }

    #[test]
    fn json_uses_the_same_words() {
        assert_eq!(
            serde_json::to_string(&Verdict::Critical).unwrap(),
            "\"CRITICAL\""
        );
    }
}
