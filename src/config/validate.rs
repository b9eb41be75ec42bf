//! Semantic validation: turns the raw file into a [`Config`], collecting
//! every problem with its key path instead of stopping at the first.
//!
//! The gate's own sections (`environments`, `[policy]`, `[variables]`)
//! come first, then every registered section in its order (see
//! `sections!`), then `[modes]`, which names the rows of all of them.

use super::values::{Problems, expand};
use super::variables::Variables;
use super::{Config, ConfigError, DEFAULT_ENVIRONMENTS, RawConfig, Source};
use crate::checks::health::HealthCheck;
use crate::checks::policy::rules::{self, Policies};
use crate::envsnap::EnvSnapshot;
use crate::sanitize::quoted;
use crate::secrets::{self, Scrubber};

/// The gate's own sections, validated.
pub(super) struct Core {
    pub source: Source,
    pub environments: Vec<String>,
    pub policies: Policies,
    pub variables: Variables,
}

/// What a section's validation is given besides its own table.
pub(super) struct Cx<'a> {
    pub env: &'a EnvSnapshot,
    pub problems: &'a mut Problems,
    scrubber: &'a Scrubber,
    /// `[variables] required` (health checks may only reference those).
    pub required: Vec<String>,
}

impl Cx<'_> {
    /// Values a section found to be secret: scrubbed from every output
    /// from now on.
    pub fn secret(&self, values: Vec<String>) {
        for v in &values {
            self.scrubber.add(v);
        }
    }
}

/// A section's validation, typed (so that its closure's arguments are).
pub(super) fn section<R, T>(
    f: impl FnOnce(Option<R>, &mut Cx<'_>) -> T,
) -> impl FnOnce(Option<R>, &mut Cx<'_>) -> T {
    f
}

/// The row ids of the gate: the policy gates' and the health checks'.
pub(super) fn gate_ids(health: &[HealthCheck]) -> Vec<String> {
    crate::checks::policy::GATES
        .iter()
        .map(|g| g.id.to_string())
        .chain(health.iter().map(|c| c.id.clone()))
        .collect()
}

pub(super) fn validate(
    mut raw: RawConfig,
    table: &toml::Table,
    source: Source,
    env: &EnvSnapshot,
    scrubber: &Scrubber,
    target: Option<&str>,
) -> Result<Config, ConfigError> {
    let mut problems = Problems::default();

    if source != Source::Embedded {
        literal_secrets(table, "", false, scrubber, &mut problems);
    }

    let environments = environments(raw.environments.take(), env, &mut problems);
    let policies = rules::validate(
        raw.policy.take().unwrap_or_default(),
        &environments,
        target,
        env,
        &mut problems,
    );
    let variables =
        super::variables::validate(raw.variables.take().unwrap_or_default(), &mut problems);
    let modes = raw.modes.take().unwrap_or_default();
    let mut cx = Cx {
        env,
        problems: &mut problems,
        scrubber,
        required: variables.required.clone(),
    };
    let core = Core {
        source,
        environments,
        policies,
        variables,
    };
    let mut config = super::assemble(raw, core, &mut cx);

    for check in &mut config.health {
        check.mode = modes.get(&check.id).copied().unwrap_or_default();
    }
    let verify_ids: Vec<String> = config.verify.iter().flat_map(|v| v.ids()).collect();
    let known: Vec<String> = gate_ids(&config.health)
        .into_iter()
        .chain(verify_ids)
        .collect();
    for id in modes.keys() {
        if !known.contains(id) {
            problems.push(
                format!("modes.{id}"),
                format!(
                    "no check has this id; the ids are those of the rows: {}",
                    crate::text::list_some(&known, 12)
                ),
            );
        }
    }
    config.modes = modes;

    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid {
            origin: config.source,
            problems: problems.list,
        })
    }
}

fn environments(
    raw: Option<Vec<String>>,
    env: &EnvSnapshot,
    problems: &mut Problems,
) -> Vec<String> {
    let Some(list) = raw else {
        return DEFAULT_ENVIRONMENTS.iter().map(|s| s.to_string()).collect();
    };
    if list.is_empty() {
        problems.push(
            "environments",
            "the list is empty: no environment could ever pass; list at least one",
        );
    }
    let mut out: Vec<String> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let key = format!("environments[{i}]");
        let Some(value) = expand(item, &key, env, problems) else {
            continue;
        };
        if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            problems.push(
                &key,
                format!(
                    "{} is not a usable environment name (empty, or contains white space)",
                    quoted(&value)
                ),
            );
        } else if out.contains(&value) {
            problems.push(&key, format!("{} is listed twice", quoted(&value)));
        } else {
            out.push(value);
        }
    }
    out
}

/// A secret is never written in the file: refuse values that contain a
/// secret variable's current value, that look like a known credential, that
/// sit under a secret-looking key without a `${...}` reference, or that
/// carry a password in a URL. Never echoes the value.
fn literal_secrets(
    table: &toml::Table,
    prefix: &str,
    names_only: bool,
    scrubber: &Scrubber,
    problems: &mut Problems,
) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let names_only = names_only || NAME_LISTS.contains(&key.as_str());
        literal_secret_value(k, &key, v, names_only, scrubber, problems);
    }
}

/// Sections and keys whose values are names (of variables, of checks),
/// not values: a secret-looking key there (`variables.secret`,
/// `ready.key`) says nothing about what it holds. The other rules (a
/// secret's value, a credential's shape, a password in a URL) still
/// apply to them.
const NAME_LISTS: &[&str] = &["variables", "ready.key"];

fn literal_secret_value(
    name: &str,
    key: &str,
    value: &toml::Value,
    names_only: bool,
    scrubber: &Scrubber,
    problems: &mut Problems,
) {
    match value {
        toml::Value::String(s) => {
            const FIX: &str = "secrets are never written in the file: reference an environment variable as ${NAME}";
            if scrubber.contains_secret(s) {
                problems.push(
                    key,
                    format!("contains the value of a secret variable; {FIX}"),
                );
            } else if let Some(rule) = secrets::rules::first_match(s) {
                problems.push(key, format!("looks like a literal secret ({rule}); {FIX}"));
            } else if !names_only
                && secrets::is_secret_like_name(name)
                && !s.trim().is_empty()
                && !s.contains("${")
            {
                problems.push(
                    key,
                    format!("holds a literal value under a secret-looking key; {FIX}"),
                );
            } else if url_has_literal_password(s) {
                problems.push(key, format!("a URL carries a literal password; {FIX}"));
            }
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                literal_secret_value(
                    name,
                    &format!("{key}[{i}]"),
                    item,
                    names_only,
                    scrubber,
                    problems,
                );
            }
        }
        toml::Value::Table(t) => literal_secrets(t, key, names_only, scrubber, problems),
        _ => {}
    }
}

fn url_has_literal_password(s: &str) -> bool {
    let Some(i) = s.find("://") else { return false };
    let rest = &s[i + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => match authority[..at].split_once(':') {
            Some((_, pw)) => !pw.is_empty() && !pw.starts_with("${"),
            None => false,
        },
        None => false,
    }
}
