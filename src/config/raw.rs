//! The configuration file exactly as written: every key optional, unknown
//! keys refused (with line and column) by serde. Meaning is checked later,
//! in [`super::validate`], where every problem is collected at once.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub environments: Option<Vec<String>>,
    pub policy: Option<RawRules>,
    pub variables: Option<RawVariables>,
    pub health: Option<crate::checks::health::RawHealth>,
    pub pack: Option<crate::pack::RawPack>,
    /// `[modes]`: a check's id, and how much its result counts.
    pub modes: Option<BTreeMap<String, crate::report::Mode>>,
    pub prometheus: Option<crate::prom::Raw>,
    pub verify: Option<crate::verify::Raw>,
    pub notify: Option<crate::notify::Raw>,
    pub bundle: Option<crate::bundle::Raw>,
    pub rotate: Option<crate::rotate::Raw>,
    pub freshness: Option<crate::freshness::Raw>,
    pub ready: Option<crate::ready::Raw>,
    pub backup: Option<crate::backup::Raw>,
    pub parity: Option<crate::parity::Raw>,
    pub predeploy: Option<crate::predeploy::section::Raw>,
    pub golive: Option<crate::golive::Raw>,
    pub signing: Option<crate::evidence::sign::Raw>,
}

/// `[policy]`, and each `[policy.env.<name>]` override: the same keys.
/// (An override's own `env` is refused when validated: overrides do not
/// nest.)
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRules {
    pub branches: Option<Vec<String>>,
    pub allow_prerelease: Option<bool>,
    pub allow_build_metadata: Option<bool>,
    pub allow_dirty: Option<bool>,
    pub allow_downgrade: Option<bool>,
    pub strict: Option<bool>,
    pub tag_format: Option<String>,
    /// Deploy freezes: `[[policy.freeze]]` (`deploy_window`).
    pub freeze: Option<Vec<RawFreeze>>,
    /// The changelog must have a section for the version
    /// (`changelog_entry`).
    pub require_changelog: Option<bool>,
    /// The changelog's path from the repository root.
    pub changelog_file: Option<String>,
    /// Per-environment overrides: `[policy.env.<name>]`.
    pub env: Option<BTreeMap<String, RawRules>>,
}

/// One deploy freeze: recurring, as GitLab writes it (a cron expression for
/// the start, one for the end, a time zone), or a one-off period (`from`,
/// `until`: dates or date-times, written as strings or as TOML dates).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFreeze {
    pub name: Option<String>,
    pub freeze_start: Option<String>,
    pub freeze_end: Option<String>,
    pub timezone: Option<String>,
    pub from: Option<toml::Value>,
    pub until: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariables {
    pub required: Option<Vec<String>>,
    pub secret: Option<Vec<String>>,
    pub public: Option<Vec<String>>,
}

/// A number written as an integer or a float (`75` or `72.5`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub fn get(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}
