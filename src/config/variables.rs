//! `[variables]`: the variables the gate reads from the environment, and
//! which of their values are secret (scrubbed from every output).

use serde::Deserialize;

use super::values::{Problems, is_variable_name};
use crate::sanitize::quoted;

/// `[variables]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariables {
    pub required: Option<Vec<String>>,
    pub secret: Option<Vec<String>>,
    pub public: Option<Vec<String>>,
}

/// Variables the gate reads from the environment.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    /// Must be set and non-empty (`required_config`).
    pub required: Vec<String>,
    /// Scrubbed from every output.
    pub secret: Vec<String>,
    /// Required variables whose values may be shown.
    pub public: Vec<String>,
}

impl Variables {
    /// Names whose values are secret: the declared secrets, plus every
    /// required variable not declared public.
    pub fn secret_names(&self) -> Vec<&str> {
        secret_names(&self.required, &self.secret, &self.public)
    }
}

/// The secret names of `[variables]` as written, before validation: their
/// values are registered with the scrubber before anything about the file
/// can be reported.
pub fn raw_secret_names(raw: &RawVariables) -> Vec<&str> {
    secret_names(
        raw.required.as_deref().unwrap_or_default(),
        raw.secret.as_deref().unwrap_or_default(),
        raw.public.as_deref().unwrap_or_default(),
    )
}

fn secret_names<'a>(
    required: &'a [String],
    secret: &'a [String],
    public: &[String],
) -> Vec<&'a str> {
    let mut names: Vec<&str> = secret.iter().map(String::as_str).collect();
    for r in required {
        if !public.contains(r) && !names.contains(&r.as_str()) {
            names.push(r);
        }
    }
    names
}

/// Validate `[variables]`: names that are variable names, each listed
/// once, and `public` only for required ones that are not secret.
pub fn validate(raw: RawVariables, problems: &mut Problems) -> Variables {
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
