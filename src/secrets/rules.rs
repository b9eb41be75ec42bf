//! Patterns of well-known credentials: what a committed or hard-coded
//! secret looks like. Used to refuse literal secrets in the configuration
//! file and, by the secrets scan, to find them in the repository.
//!
//! Each rule is built to have few false positives: it names a vendor's
//! documented token prefix and length, not "a long random string".

use std::sync::LazyLock;

use regex::Regex;

/// One kind of credential.
pub struct Rule {
    /// Stable identifier shown in findings, e.g. `github-token`.
    pub id: &'static str,
    pub regex: Regex,
}

const RULES: &[(&str, &str)] = &[
    (
        "private-key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
    ),
    ("aws-access-key-id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    (
        "github-token",
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b",
    ),
    (
        "github-fine-grained-token",
        r"\bgithub_pat_[A-Za-z0-9_]{60,}\b",
    ),
    ("gitlab-token", r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
    ("slack-token", r"\bxox[abpors]-[A-Za-z0-9-]{10,}\b"),
    (
        "slack-webhook",
        r"https://hooks\.slack\.com/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+",
    ),
    ("stripe-secret-key", r"\b(?:sk|rk)_live_[A-Za-z0-9]{16,}\b"),
    ("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
];

static COMPILED: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    RULES
        .iter()
        .filter_map(|(id, pattern)| {
            // The patterns are constants covered by the tests below; a rule
            // that failed to compile would be dropped rather than panic.
            Regex::new(pattern).ok().map(|regex| Rule { id, regex })
        })
        .collect()
});

/// Every rule, compiled once.
pub fn rules() -> &'static [Rule] {
    &COMPILED
}

/// The id of the first rule that matches `text`, if any.
pub fn first_match(text: &str) -> Option<&'static str> {
    rules()
        .iter()
        .find(|r| r.regex.is_match(text))
        .map(|r| r.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_compiles() {
        assert_eq!(rules().len(), RULES.len());
    }

    #[test]
    fn known_shapes_match() {
        let cases = [
            ("-----BEGIN RSA PRIVATE KEY-----", "private-key"), // release-sentinel:allow (a test fixture)
            ("-----BEGIN OPENSSH PRIVATE KEY-----", "private-key"), // release-sentinel:allow (a test fixture)
            ("-----BEGIN PGP PRIVATE KEY BLOCK-----", "private-key"), // release-sentinel:allow (a test fixture)
            ("id = AKIAIOSFODNN7EXAMPLE", "aws-access-key-id"), // release-sentinel:allow (a test fixture)
            ("ghp_0123456789abcdefghijABCDEFGHIJ012345", "github-token"), // release-sentinel:allow (a test fixture)
            ("glpat-abcdefghij0123456789", "gitlab-token"), // release-sentinel:allow (a test fixture)
            ("xoxb-1234567890-abcdef", "slack-token"), // release-sentinel:allow (a test fixture)
            ("sk_live_0123456789abcdefABCD", "stripe-secret-key"), // release-sentinel:allow (a test fixture)
            ("AIzaSyA0123456789abcdefghijklmnopqrstuv", "google-api-key"), // release-sentinel:allow (a test fixture)
        ];
        for (text, id) in cases {
            assert_eq!(first_match(text), Some(id), "{text}");
        }
    }

    #[test]
    fn ordinary_text_does_not_match() {
        for text in [
            "-----BEGIN PUBLIC KEY-----",
            "AKIA_SHORT",
            "ghp_short",
            "sk_test_0123456789abcdefABCD",
            "branches = [\"main\"]",
        ] {
            assert_eq!(first_match(text), None, "{text}");
        }
    }
}
