//! Configuration: where it comes from, and the validated [`Config`] that is
//! all the core ever sees.
//!
//! Lookup order: `--config`/`RS_CONFIG`; else `release-sentinel.toml` at the
//! repository root; else the embedded default (the seed's phase-4
//! behaviour, `default.toml` beside this file). A file replaces the default
//! whole; keys it leaves out take the documented defaults, not the
//! embedded file's values.
//!
//! Problems are reported all at once: a syntax error or unknown key stops
//! parsing (with line and column), every semantic problem after that is
//! collected with its key path.

mod raw;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use globset::GlobSet;

use crate::envsnap::EnvSnapshot;
use crate::secrets::Scrubber;

/// The name of the configuration file looked up at the repository root.
pub const FILE_NAME: &str = "release-sentinel.toml";

/// The embedded default configuration.
pub const EMBEDDED_DEFAULT: &str = include_str!("default.toml");

/// Default allowed environments when a file does not list them.
pub const DEFAULT_ENVIRONMENTS: &[&str] = &["dev", "stage", "prod"];

/// Default allowed branch globs when a file does not list them.
pub const DEFAULT_BRANCHES: &[&str] = &["main", "master"];

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Embedded,
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Embedded => f.write_str("embedded default"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One semantic problem, with the key path it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Why there is no usable configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid config {}: {}", .origin, problems_text(.problems))]
    Invalid {
        origin: Source,
        problems: Vec<Problem>,
    },
}

fn problems_text(problems: &[Problem]) -> String {
    if let [only] = problems {
        return only.to_string();
    }
    let mut out = format!("{} problems", problems.len());
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    out
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
}

impl Policy {
    /// Whether `branch` matches one of the allowed globs.
    pub fn branch_allowed(&self, branch: &str) -> bool {
        self.matcher.is_match(branch)
    }
}

/// Optional per-environment values layered over the global policy.
#[derive(Debug, Clone, Default)]
struct Override {
    branches: Option<(Vec<String>, GlobSet)>,
    allow_prerelease: Option<bool>,
    allow_build_metadata: Option<bool>,
    allow_dirty: Option<bool>,
    allow_downgrade: Option<bool>,
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

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Source,
    pub environments: Vec<String>,
    base: Policy,
    overrides: BTreeMap<String, Override>,
    pub variables: Variables,
}

impl Config {
    /// The rules for `env`: the global policy with its override applied.
    pub fn policy_for(&self, env: &str) -> Policy {
        let mut p = self.base.clone();
        if let Some(o) = self.overrides.get(env) {
            if let Some((globs, matcher)) = &o.branches {
                p.branches = globs.clone();
                p.matcher = matcher.clone();
            }
            p.allow_prerelease = o.allow_prerelease.unwrap_or(p.allow_prerelease);
            p.allow_build_metadata = o.allow_build_metadata.unwrap_or(p.allow_build_metadata);
            p.allow_dirty = o.allow_dirty.unwrap_or(p.allow_dirty);
            p.allow_downgrade = o.allow_downgrade.unwrap_or(p.allow_downgrade);
        }
        p
    }

    /// Whether `env` is one of the allowed environments (exact match).
    pub fn env_allowed(&self, env: &str) -> bool {
        self.environments.iter().any(|e| e == env)
    }

    /// Names whose values are secret: the declared secrets, plus every
    /// required variable not declared public.
    pub fn secret_names(&self) -> Vec<&str> {
        secret_names(
            &self.variables.required,
            &self.variables.secret,
            &self.variables.public,
        )
    }
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

/// Find and load the configuration. `explicit` is `--config`; `repo_root`
/// is the work tree root, when the path is inside a repository.
///
/// Secret values are registered with `scrubber` as soon as the file names
/// them, before anything about the file can be logged or reported.
pub fn load(
    explicit: Option<&Path>,
    repo_root: Option<&Path>,
    env: &EnvSnapshot,
    scrubber: &Scrubber,
) -> Result<Config, ConfigError> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => repo_root
            .map(|root| root.join(FILE_NAME))
            .filter(|p| p.is_file()),
    };
    match path {
        None => {
            tracing::debug!("no {FILE_NAME} found; using the embedded default");
            parse(EMBEDDED_DEFAULT, Source::Embedded, env, scrubber)
        }
        Some(path) => {
            tracing::debug!(path = %path.display(), "reading config");
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            parse(&text, Source::File(path), env, scrubber)
        }
    }
}

/// Parse and validate configuration text.
pub fn parse(
    text: &str,
    source: Source,
    env: &EnvSnapshot,
    scrubber: &Scrubber,
) -> Result<Config, ConfigError> {
    let raw: raw::RawConfig = toml::from_str(text).map_err(|e| syntax_error(text, &source, &e))?;
    if let Some(vars) = &raw.variables {
        let none = Vec::new();
        let names = secret_names(
            vars.required.as_ref().unwrap_or(&none),
            vars.secret.as_ref().unwrap_or(&none),
            vars.public.as_ref().unwrap_or(&none),
        );
        for name in names {
            if let Ok(Some(value)) = env.get(name) {
                scrubber.add(value);
            }
        }
    }
    // The whole document, for checks that look at every value at once.
    let table: toml::Table = toml::from_str(text).map_err(|e| syntax_error(text, &source, &e))?;
    validate::validate(raw, &table, source, env, scrubber)
}

fn syntax_error(text: &str, source: &Source, e: &toml::de::Error) -> ConfigError {
    let (line, column) = match e.span() {
        Some(span) => line_col(text, span.start),
        None => (1, 1),
    };
    ConfigError::Syntax {
        path: source.to_string(),
        line,
        column,
        message: without_quoted_values(e.message()),
    }
}

/// 1-based line and column of byte offset `at`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// toml's messages quote the offending value (`invalid type: string "..."`),
/// which may be a secret written in the wrong place: drop quoted values,
/// keep back-quoted key names.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_quote = false;
    let mut escaped = false;
    for c in message.chars() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quote = false;
                out.push_str("...\"");
            }
            continue;
        }
        if c == '"' {
            in_quote = true;
        }
        out.push(c);
    }
    if in_quote {
        out.push_str("...\"");
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests;
