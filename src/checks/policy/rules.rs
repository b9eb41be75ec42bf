//! `[policy]`: the policy gates' configuration section, and the rules in
//! force for each environment.
//!
//! `[policy.env.<name>]` holds the same keys as `[policy]`. An
//! environment's rules are its override's keys laid over the global ones,
//! as written ([`RawRules::over`]), then validated like the global rules:
//! one layering, one validation, for every key. A key is one line in the
//! [`rules!`] list, one field of [`Policy`] and one line of [`policy`]
//! (and of [`policy_keys`] when the key can be wrong).
//!
//! Problems are reported where they are written: the global rules under
//! `policy.`, an override's own keys under `policy.env.<name>.`. Only the
//! environment being checked must resolve its `${...}` references; another
//! environment's override that names an unset variable is set aside
//! ([`Policies::unresolved`]), not an error.

use std::collections::BTreeMap;

use globset::GlobSet;
use serde::Deserialize;

use super::freeze::{self, Freeze, RawFreeze};
use crate::config::values::{Problems, expand, globs, repo_path};
use crate::envsnap::EnvSnapshot;
use crate::git::tags::TagFormat;
use crate::sanitize::quoted;

/// Allowed branch globs when the rules name none.
pub const DEFAULT_BRANCHES: &[&str] = &["main", "master"];

/// The changelog file when the rules name none.
pub const DEFAULT_CHANGELOG: &str = "CHANGELOG.md";

/// `RawRules` from one line per key, and its layering.
macro_rules! rules {
    ($($(#[$doc:meta])* $key:ident: $ty:ty),* $(,)?) => {
        /// `[policy]`, and each `[policy.env.<name>]` override: the same
        /// keys. (An override's own `env` is refused when validated:
        /// overrides do not nest.)
        #[derive(Debug, Default, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct RawRules {
            $($(#[$doc])* pub $key: Option<$ty>,)*
            /// Per-environment overrides: `[policy.env.<name>]`.
            pub env: Option<BTreeMap<String, RawRules>>,
        }

        impl RawRules {
            /// These rules laid over `base`: a key written here wins.
            pub fn over(&self, base: &RawRules) -> RawRules {
                RawRules {
                    $($key: self.$key.clone().or_else(|| base.$key.clone()),)*
                    env: None,
                }
            }
        }
    };
}

rules! {
    branches: Vec<String>,
    allow_prerelease: bool,
    allow_build_metadata: bool,
    allow_dirty: bool,
    allow_downgrade: bool,
    strict: bool,
    tag_format: String,
    /// Deploy freezes: `[[policy.freeze]]` (`deploy_window`).
    freeze: Vec<RawFreeze>,
    /// The changelog must have a section for the version
    /// (`changelog_entry`).
    require_changelog: bool,
    /// The changelog's path from the repository root.
    changelog_file: String,
}

/// The policy rules in force for one environment.
#[derive(Debug, Clone)]
pub struct Policy {
    pub branches: Vec<String>,
    matcher: GlobSet,
    pub allow_prerelease: bool,
    pub allow_build_metadata: bool,
    pub allow_dirty: bool,
    pub allow_downgrade: bool,
    /// WARN rows block: a WARN policy row counts as FAIL, a WARN health
    /// row as CRIT.
    pub strict: bool,
    /// How release tags are named.
    pub tag_format: TagFormat,
    /// Deploy freezes (`deploy_window`).
    pub freezes: Vec<Freeze>,
    /// The changelog must have a section for the version
    /// (`changelog_entry`).
    pub require_changelog: bool,
    /// The changelog's path from the repository root.
    pub changelog_file: String,
}

impl Policy {
    /// Whether `branch` matches one of the allowed globs.
    pub fn branch_allowed(&self, branch: &str) -> bool {
        self.matcher.is_match(branch)
    }
}

/// The rules of every environment.
#[derive(Debug, Clone)]
pub struct Policies {
    /// The global rules: those of an environment without an override.
    base: Policy,
    /// Each environment with an override that resolved: its rules.
    envs: BTreeMap<String, Policy>,
    /// Environments (other than the one being checked) whose override
    /// references variables that are not set, with the problems. Their
    /// policy cannot be resolved in this run.
    pub unresolved: BTreeMap<String, Vec<String>>,
}

impl Policies {
    /// The rules in force for `env`.
    pub fn for_env(&self, env: &str) -> Policy {
        self.envs.get(env).unwrap_or(&self.base).clone()
    }
}

/// Validate `[policy]` for the declared `environments`; `target`, when
/// given, is the only environment whose override must resolve.
pub fn validate(
    mut raw: RawRules,
    environments: &[String],
    target: Option<&str>,
    env: &EnvSnapshot,
    problems: &mut Problems,
) -> Policies {
    let overrides = raw.env.take().unwrap_or_default();
    let base = policy(&raw, "policy", env, problems);
    let mut envs = BTreeMap::new();
    let mut unresolved = BTreeMap::new();
    for (name, rules) in overrides {
        let key = format!("policy.env.{name}");
        if !environments.contains(&name) {
            let declared = if environments.is_empty() {
                "none is declared".to_string()
            } else {
                format!("declared: {}", environments.join(", "))
            };
            problems.push(
                &key,
                format!(
                    "override for an undeclared environment {} ({declared})",
                    quoted(&name)
                ),
            );
            continue;
        }
        if rules.env.is_some() {
            problems.push(
                format!("{key}.env"),
                "overrides do not nest: set the keys of each environment under its own [policy.env.<name>]",
            );
        }
        // The override's own keys, for the problems they have, under its
        // key path. Only the environment being checked must resolve: an
        // unset variable in another one's override is noted, not an error.
        let strict = target.is_none_or(|t| t == name);
        problems.deferring(!strict);
        let own = RawRules {
            env: None,
            ..rules.clone()
        };
        policy_keys(&own, &key, env, problems);
        problems.deferring(false);
        let deferred = problems.take_deferred();
        if !deferred.is_empty() {
            unresolved.insert(name, deferred.iter().map(|p| p.to_string()).collect());
            continue;
        }
        // The environment's rules: its keys over the global ones. Their
        // problems were reported above, where they are written.
        let mut quiet = Problems::default();
        envs.insert(name, policy(&own.over(&raw), &key, env, &mut quiet));
    }
    Policies {
        base,
        envs,
        unresolved,
    }
}

/// The problems of the keys written in `rules` (a key left out has none).
fn policy_keys(rules: &RawRules, key: &str, env: &EnvSnapshot, problems: &mut Problems) {
    if let Some(list) = &rules.branches {
        branches(Some(list), &format!("{key}.branches"), env, problems);
    }
    if let Some(text) = &rules.tag_format {
        tag_format(Some(text), &format!("{key}.tag_format"), problems);
    }
    if let Some(list) = &rules.freeze {
        freeze::validate(list, &format!("{key}.freeze"), env, problems);
    }
    if let Some(text) = &rules.changelog_file {
        changelog_file(Some(text), &format!("{key}.changelog_file"), env, problems);
    }
}

/// `rules` validated, with the documented default for every key left out.
fn policy(rules: &RawRules, key: &str, env: &EnvSnapshot, problems: &mut Problems) -> Policy {
    let (branches, matcher) = branches(
        rules.branches.as_deref(),
        &format!("{key}.branches"),
        env,
        problems,
    )
    .unwrap_or_else(|| (Vec::new(), GlobSet::empty()));
    Policy {
        branches,
        matcher,
        allow_prerelease: rules.allow_prerelease.unwrap_or(false),
        allow_build_metadata: rules.allow_build_metadata.unwrap_or(false),
        allow_dirty: rules.allow_dirty.unwrap_or(false),
        allow_downgrade: rules.allow_downgrade.unwrap_or(false),
        strict: rules.strict.unwrap_or(false),
        tag_format: tag_format(
            rules.tag_format.as_deref(),
            &format!("{key}.tag_format"),
            problems,
        )
        .unwrap_or_default(),
        freezes: rules
            .freeze
            .as_deref()
            .and_then(|list| freeze::validate(list, &format!("{key}.freeze"), env, problems))
            .unwrap_or_default(),
        require_changelog: rules.require_changelog.unwrap_or(false),
        changelog_file: changelog_file(
            rules.changelog_file.as_deref(),
            &format!("{key}.changelog_file"),
            env,
            problems,
        )
        .unwrap_or_else(|| DEFAULT_CHANGELOG.to_string()),
    }
}

fn branches(
    raw: Option<&[String]>,
    key: &str,
    env: &EnvSnapshot,
    problems: &mut Problems,
) -> Option<(Vec<String>, GlobSet)> {
    let list: Vec<String> = match raw {
        None => DEFAULT_BRANCHES.iter().map(|s| s.to_string()).collect(),
        Some([]) => {
            problems.push(
                key,
                "the list is empty: no branch could ever pass; list at least one glob",
            );
            return None;
        }
        Some(list) => list.to_vec(),
    };
    globs(&list, key, Some(env), problems)
}

fn changelog_file(
    text: Option<&str>,
    key: &str,
    env: &EnvSnapshot,
    problems: &mut Problems,
) -> Option<String> {
    let text = expand(text?, key, env, problems)?;
    repo_path(&text, key, problems)
}

fn tag_format(text: Option<&str>, key: &str, problems: &mut Problems) -> Option<TagFormat> {
    match TagFormat::parse(text?) {
        Ok(f) => Some(f),
        Err(why) => {
            problems.push(key, why);
            None
        }
    }
}
