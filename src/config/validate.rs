//! Semantic validation: turns the raw file into a [`Config`], collecting
//! every problem with its key path instead of stopping at the first.

use std::collections::BTreeMap;

use globset::GlobSet;

use super::raw::{RawConfig, RawFreeze, RawRules};
use super::values::{Problems, expand, globs, is_variable_name, repo_path};
use super::{
    Config, ConfigError, DEFAULT_BRANCHES, DEFAULT_CHANGELOG, DEFAULT_ENVIRONMENTS, Override,
    Policy, Source, Variables, freeze,
};
use crate::envsnap::EnvSnapshot;
use crate::git::tags::TagFormat;
use crate::sanitize::quoted;
use crate::secrets::{self, Scrubber};

pub(super) fn validate(
    raw: RawConfig,
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

    let environments = environments(raw.environments, env, &mut problems);

    let mut global = raw.policy.unwrap_or_default();
    let overrides_raw = global.env.take().unwrap_or_default();
    let (branches, matcher) = branches(
        global.branches.as_deref(),
        "policy.branches",
        env,
        &mut problems,
    )
    .unwrap_or_else(|| (Vec::new(), GlobSet::empty()));
    let base = Policy {
        branches,
        matcher,
        allow_prerelease: global.allow_prerelease.unwrap_or(false),
        allow_build_metadata: global.allow_build_metadata.unwrap_or(false),
        allow_dirty: global.allow_dirty.unwrap_or(false),
        allow_downgrade: global.allow_downgrade.unwrap_or(false),
        strict: global.strict.unwrap_or(false),
        tag_format: tag_format(
            global.tag_format.as_deref(),
            "policy.tag_format",
            &mut problems,
        )
        .unwrap_or_default(),
        freezes: freezes(
            global.freeze.as_deref(),
            "policy.freeze",
            env,
            &mut problems,
        )
        .unwrap_or_default(),
        require_changelog: global.require_changelog.unwrap_or(false),
        changelog_file: changelog_file(
            global.changelog_file.as_deref(),
            "policy.changelog_file",
            env,
            &mut problems,
        )
        .unwrap_or_else(|| DEFAULT_CHANGELOG.to_string()),
    };

    let mut overrides = BTreeMap::new();
    let mut unresolved = BTreeMap::new();
    for (name, rules) in overrides_raw {
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
        // Only the environment being checked must resolve: an unset
        // variable in another one's override is noted, not an error.
        let strict = target.is_none_or(|t| t == name);
        problems.deferring(!strict);
        let rules = over(rules, &key, env, &mut problems);
        problems.deferring(false);
        let deferred = problems.take_deferred();
        if deferred.is_empty() {
            overrides.insert(name, rules);
        } else {
            unresolved.insert(name, deferred.iter().map(|p| p.to_string()).collect());
        }
    }

    let variables = variables(raw.variables.unwrap_or_default(), &mut problems);
    // Before the health checks: those over the fleet read it.
    let prometheus = raw
        .prometheus
        .and_then(|p| crate::prom::validate(p, env, &mut problems));
    let health = crate::checks::health::validate(
        raw.health.unwrap_or_default(),
        env,
        &variables.required,
        prometheus.as_ref(),
        &mut problems,
    );
    let (pack, step_secrets) =
        crate::pack::validate(raw.pack.unwrap_or_default(), env, &mut problems);
    let verify = raw.verify.map(|v| {
        let (verify, secrets) =
            crate::verify::validate(v, env, prometheus.is_some(), &mut problems);
        for s in &secrets {
            scrubber.add(s);
        }
        verify
    });
    let notify = crate::notify::validate(raw.notify.unwrap_or_default(), env, &mut problems);
    let bundle = crate::bundle::validate(raw.bundle.unwrap_or_default(), &mut problems);
    let freshness = crate::freshness::validate(
        raw.freshness.unwrap_or_default(),
        "freshness.tasks",
        &mut problems,
    );
    let backup = raw.backup.unwrap_or_default();
    if let Some(age) = &backup.max_age
        && humantime::parse_duration(age.trim()).is_err()
    {
        problems.push(
            "backup.max_age",
            format!("{} is not a duration like \"24h\"", quoted(age)),
        );
    }
    let parity = crate::parity::validate(raw.parity.unwrap_or_default(), &mut problems);
    let predeploy =
        crate::predeploy::section::validate(raw.predeploy.unwrap_or_default(), &mut problems);
    let golive = crate::golive::validate(raw.golive.unwrap_or_default(), &mut problems);
    let signing = crate::evidence::sign::validate(raw.signing.unwrap_or_default(), &mut problems);
    let rotate = raw.rotate.unwrap_or_default();
    if let Some(size) = &rotate.max_size
        && let Err(why) = super::values::parse_size(size)
    {
        problems.push("rotate.max_size", why);
    }
    if let Some(days) = rotate.days
        && let Err(why) = super::values::check_days(days)
    {
        problems.push("rotate.days", why);
    }
    let modes = raw.modes.unwrap_or_default();
    let mut health = health;
    for check in &mut health {
        check.mode = modes.get(&check.id).copied().unwrap_or_default();
    }
    let verify_ids: Vec<String> = verify.iter().flat_map(|v| v.ids()).collect();
    let known: Vec<&str> = crate::checks::policy::GATES
        .iter()
        .map(|g| g.id)
        .chain(health.iter().map(|c| c.id.as_str()))
        .chain(verify_ids.iter().map(String::as_str))
        .collect();
    let gate_ids: Vec<&str> = crate::checks::policy::GATES
        .iter()
        .map(|g| g.id)
        .chain(health.iter().map(|c| c.id.as_str()))
        .collect();
    let ready = crate::ready::validate(raw.ready.unwrap_or_default(), &gate_ids, &mut problems);
    for id in modes.keys() {
        if !known.contains(&id.as_str()) {
            problems.push(
                format!("modes.{id}"),
                format!(
                    "no check has this id; the ids are those of the rows: {}",
                    crate::text::list_some(
                        &known.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
                        12
                    )
                ),
            );
        }
    }
    for v in &step_secrets {
        scrubber.add(v);
    }

    if problems.is_empty() {
        Ok(Config {
            source,
            text: String::new(),
            environments,
            base,
            overrides,
            unresolved,
            variables,
            health,
            pack,
            modes,
            prometheus,
            verify,
            notify,
            bundle,
            rotate,
            freshness,
            ready,
            backup,
            parity,
            predeploy,
            golive,
            signing,
        })
    } else {
        Err(ConfigError::Invalid {
            origin: source,
            problems: problems.list,
        })
    }
}

fn over(rules: RawRules, key: &str, env: &EnvSnapshot, problems: &mut Problems) -> Override {
    if rules.env.is_some() {
        problems.push(
            format!("{key}.env"),
            "overrides do not nest: set the keys of each environment under its own [policy.env.<name>]",
        );
    }
    let branches = rules
        .branches
        .as_deref()
        .and_then(|b| branches(Some(b), &format!("{key}.branches"), env, problems));
    Override {
        branches,
        allow_prerelease: rules.allow_prerelease,
        allow_build_metadata: rules.allow_build_metadata,
        allow_dirty: rules.allow_dirty,
        allow_downgrade: rules.allow_downgrade,
        strict: rules.strict,
        tag_format: tag_format(
            rules.tag_format.as_deref(),
            &format!("{key}.tag_format"),
            problems,
        ),
        freezes: freezes(
            rules.freeze.as_deref(),
            &format!("{key}.freeze"),
            env,
            problems,
        ),
        require_changelog: rules.require_changelog,
        changelog_file: changelog_file(
            rules.changelog_file.as_deref(),
            &format!("{key}.changelog_file"),
            env,
            problems,
        ),
    }
}

fn freezes(
    list: Option<&[RawFreeze]>,
    key: &str,
    env: &EnvSnapshot,
    problems: &mut Problems,
) -> Option<Vec<freeze::Freeze>> {
    freeze::validate(list?, key, env, problems)
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

fn variables(raw: super::raw::RawVariables, problems: &mut Problems) -> Variables {
    let mut lists = [
        ("variables.required", raw.required.unwrap_or_default()),
        ("variables.secret", raw.secret.unwrap_or_default()),
        ("variables.public", raw.public.unwrap_or_default()),
    ];
    for (key, list) in lists.iter_mut() {
        let mut seen: Vec<&str> = Vec::new();
        for (i, name) in list.iter().enumerate() {
            let item_key = format!("{key}[{i}]");
            if !is_variable_name(name) {
                problems.push(
                    &item_key,
                    format!(
                        "{} is not a variable name (letters, digits and _, not starting with a digit)",
                        quoted(name)
                    ),
                );
            } else if seen.contains(&name.as_str()) {
                problems.push(&item_key, format!("{name} is listed twice"));
            } else {
                seen.push(name);
            }
        }
    }
    let [(_, required), (_, secret), (_, public)] = lists;
    for (i, name) in public.iter().enumerate() {
        let key = format!("variables.public[{i}]");
        if secret.contains(name) {
            problems.push(&key, format!("{name} is declared both secret and public"));
        } else if !required.contains(name) {
            problems.push(
                &key,
                format!(
                    "{name} is not a required variable; `public` only lifts the secrecy of required ones"
                ),
            );
        }
    }
    Variables {
        required,
        secret,
        public,
    }
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
