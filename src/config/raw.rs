//! The configuration file exactly as written: every key optional, unknown
//! keys refused (with line and column) by serde. Meaning is checked later,
//! in [`super::validate`], where every problem is collected at once.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub environments: Option<Vec<String>>,
    pub policy: Option<RawPolicy>,
    pub variables: Option<RawVariables>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub branches: Option<Vec<String>>,
    pub allow_prerelease: Option<bool>,
    pub allow_build_metadata: Option<bool>,
    pub allow_dirty: Option<bool>,
    pub allow_downgrade: Option<bool>,
    /// Per-environment overrides: `[policy.env.<name>]`.
    pub env: Option<BTreeMap<String, RawRules>>,
}

impl RawPolicy {
    /// The keys that an environment may override, as written globally.
    /// (serde's `flatten` cannot be combined with `deny_unknown_fields`,
    /// so the keys are spelled out twice.)
    pub fn rules(&self) -> RawRules {
        RawRules {
            branches: self.branches.clone(),
            allow_prerelease: self.allow_prerelease,
            allow_build_metadata: self.allow_build_metadata,
            allow_dirty: self.allow_dirty,
            allow_downgrade: self.allow_downgrade,
        }
    }
}

/// The policy keys that may be set globally or per environment.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRules {
    pub branches: Option<Vec<String>>,
    pub allow_prerelease: Option<bool>,
    pub allow_build_metadata: Option<bool>,
    pub allow_dirty: Option<bool>,
    pub allow_downgrade: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariables {
    pub required: Option<Vec<String>>,
    pub secret: Option<Vec<String>>,
    pub public: Option<Vec<String>>,
}
