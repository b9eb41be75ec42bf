//! Configuration: where it comes from, and the validated [`Config`] that is
//! all the core ever sees.
//!
//! Lookup order: `--config`/`RS_CONFIG`; else `release-sentinel.toml` at the
//! repository root; else the embedded default (`default.toml` beside this
//! file: the three `RS_` variables and the checks they name). A file replaces the default
//! whole; keys it leaves out take the documented defaults, not the
//! embedded file's values.
//!
//! Problems are reported all at once: a syntax error or unknown key stops
//! parsing (with line and column), every semantic problem after that is
//! collected with its key path.

mod validate;
pub mod values;
pub mod variables;

pub use values::MAX_FILE_SIZE;
use values::Problem;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::checks::policy::rules::{Policies, Policy};
use crate::envsnap::EnvSnapshot;
use crate::secrets::Scrubber;

/// The name of the configuration file looked up at the repository root.
pub const FILE_NAME: &str = "release-sentinel.toml";

/// The embedded default configuration.
pub const EMBEDDED_DEFAULT: &str = include_str!("default.toml");

/// The commented starter file `release-sentinel init` writes.
pub const STARTER: &str = include_str!("starter.toml");

/// Default allowed environments when a file does not list them.
pub const DEFAULT_ENVIRONMENTS: &[&str] = &["dev", "stage", "prod"];

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

/// Why there is no usable configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {}", one_line(path), one_line(reason))]
    Read { path: String, reason: String },
    #[error("{}:{line}:{column}: {}", one_line(path), one_line(message))]
    Syntax {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid config {}: {}", one_line(&.origin.to_string()), problems_text(.problems))]
    Invalid {
        origin: Source,
        problems: Vec<Problem>,
    },
}

/// A value from outside (a path, a parser's message) on one line: the
/// error's own line breaks are the only ones it has.
fn one_line(s: &str) -> String {
    crate::sanitize::ascii(&crate::sanitize::capped(s, 1000))
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

/// The configuration file's sections, from one entry per section: its
/// key, its type as written, its validated type, and how it is validated
/// (a closure given the section as written, if it is, and the validation's
/// [`validate::Cx`]; an entry may read the sections validated before it by
/// their keys). Entries are validated in the order they are listed, after
/// the gate's own sections (`environments`, `[policy]`, `[variables]`) and
/// before `[modes]`, which names the rows of all of them.
///
/// A new section is one entry here; its types and its validation live
/// with its feature.
macro_rules! sections {
    ($($(#[$doc:meta])* $key:ident: $raw:ty => $ty:ty = $validate:expr),* $(,)?) => {
        /// The configuration file exactly as written: every key optional,
        /// unknown keys refused (with line and column) by serde. Meaning is
        /// checked later, where every problem is collected at once.
        #[derive(Debug, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct RawConfig {
            pub environments: Option<Vec<String>>,
            pub policy: Option<crate::checks::policy::rules::RawRules>,
            pub variables: Option<variables::RawVariables>,
            /// `[modes]`: a check's id, and how much its result counts.
            pub modes: Option<BTreeMap<String, crate::report::Mode>>,
            $(pub $key: Option<$raw>,)*
        }

        /// A validated configuration.
        #[derive(Debug, Clone)]
        pub struct Config {
            pub source: Source,
            /// The text it was parsed from, as read (for the evidence
            /// record, which keeps its digest and a copy with secret values
            /// removed).
            pub text: String,
            pub environments: Vec<String>,
            /// The policy rules of every environment.
            pub policies: Policies,
            pub variables: variables::Variables,
            /// How much each check's result counts, by row id (`[modes]`).
            pub modes: BTreeMap<String, crate::report::Mode>,
            $($(#[$doc])* pub $key: $ty,)*
        }

        /// Validate the registered sections of `raw` and assemble the
        /// configuration around the gate's own sections, validated before
        /// (`[modes]` is left empty: it is validated last).
        fn assemble(raw: RawConfig, core: validate::Core, cx: &mut validate::Cx<'_>) -> Config {
            $(let $key: $ty = validate::section::<$raw, $ty>($validate)(raw.$key, cx);)*
            Config {
                source: core.source,
                text: String::new(),
                environments: core.environments,
                policies: core.policies,
                variables: core.variables,
                modes: BTreeMap::new(),
                $($key,)*
            }
        }
    };
}

sections! {
    /// The Prometheus server rules query.
    prometheus: crate::prom::Raw => Option<crate::prom::Server> = |raw, cx| {
        raw.and_then(|r| crate::prom::validate(r, cx.env, cx.problems))
    },
    /// The health checks, in the order they are reported.
    health: crate::checks::health::RawHealth => Vec<crate::checks::health::HealthCheck> =
        |raw, cx| {
            crate::checks::health::validate(
                raw.unwrap_or_default(),
                cx.env,
                &cx.required,
                prometheus.as_ref(),
                cx.problems,
            )
        },
    /// The pre-live pack.
    pack: crate::pack::RawPack => crate::pack::Pack = |raw, cx| {
        let (pack, secrets) =
            crate::pack::validate(raw.unwrap_or_default(), cx.env, cx.problems);
        cx.secret(secrets);
        pack
    },
    /// What `verify` watches; `None` without a `[verify]` section.
    verify: crate::verify::Raw => Option<crate::verify::Verify> = |raw, cx| {
        raw.map(|v| {
            let (verify, secrets) =
                crate::verify::validate(v, cx.env, prometheus.is_some(), cx.problems);
            cx.secret(secrets);
            verify
        })
    },
    /// Where notifications go.
    notify: crate::notify::Raw => crate::notify::Notify = |raw, cx| {
        crate::notify::validate(raw.unwrap_or_default(), cx.env, cx.problems)
    },
    /// What the release bundle holds.
    bundle: crate::bundle::Raw => crate::bundle::Bundle = |raw, cx| {
        crate::bundle::validate(raw.unwrap_or_default(), cx.problems)
    },
    /// The cron sentinel's tasks.
    freshness: crate::freshness::Raw => Vec<crate::freshness::Task> = |raw, cx| {
        crate::freshness::validate(raw.unwrap_or_default(), "freshness.tasks", cx.problems)
    },
    /// `backup verify`'s defaults, and the manifest `golive` checks.
    backup: crate::backup::Raw => crate::backup::Raw = |raw, cx| {
        crate::backup::validate(raw.unwrap_or_default(), cx.problems)
    },
    /// The environments `parity` compares, and how.
    parity: crate::parity::Raw => crate::parity::Parity = |raw, cx| {
        crate::parity::validate(raw.unwrap_or_default(), cx.problems)
    },
    /// What `predeploy` runs and checks.
    predeploy: crate::predeploy::Raw => crate::predeploy::Predeploy = |raw, cx| {
        crate::predeploy::validate(raw.unwrap_or_default(), cx.problems)
    },
    /// The go-live checklist's own items.
    golive: crate::golive::Raw => crate::golive::GoLive = |raw, cx| {
        crate::golive::validate(raw.unwrap_or_default(), cx.problems)
    },
    /// `[signing]`: the key that signs evidence and bundles.
    signing: crate::evidence::sign::Raw => crate::evidence::sign::Raw = |raw, cx| {
        crate::evidence::sign::validate(raw.unwrap_or_default(), cx.problems)
    },
    /// `[rotate]`'s defaults for `rotate`.
    rotate: crate::rotate::Raw => crate::rotate::Raw = |raw, cx| {
        crate::rotate::validate(raw.unwrap_or_default(), cx.problems)
    },
    /// The readiness score's weights and thresholds (over the rows of the
    /// gate: the policy gates and the health checks).
    ready: crate::ready::Raw => crate::ready::Ready = |raw, cx| {
        let ids = validate::gate_ids(&health);
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        crate::ready::validate(raw.unwrap_or_default(), &ids, cx.problems)
    },
}

impl Config {
    /// The rules for `env`: the global policy with its override applied.
    /// The release `version` names in `env`, by its tag format.
    pub fn release(&self, env: &str, version: &str) -> Result<crate::git::tags::Release, String> {
        self.policy_for(env).tag_format.release(version)
    }

    pub fn policy_for(&self, env: &str) -> Policy {
        self.policies.for_env(env)
    }

    /// How much the result of the check `id` counts.
    pub fn mode_of(&self, id: &str) -> crate::report::Mode {
        self.modes.get(id).copied().unwrap_or_default()
    }

    /// Whether `env` is one of the allowed environments (exact match).
    pub fn env_allowed(&self, env: &str) -> bool {
        self.environments.iter().any(|e| e == env)
    }

    /// Names whose values are secret: the declared secrets, plus every
    /// required variable not declared public.
    pub fn secret_names(&self) -> Vec<&str> {
        self.variables.secret_names()
    }

    /// What the policy gates read of the configuration.
    pub fn gates(&self) -> crate::checks::policy::Settings<'_> {
        crate::checks::policy::Settings {
            environments: &self.environments,
            policies: &self.policies,
            variables: &self.variables,
            modes: &self.modes,
        }
    }
}

/// Find and load the configuration. `explicit` is `--config`; `repo_root`
/// is the work tree root, when the path is inside a repository; `target`
/// is the environment being checked (only its override must resolve).
///
/// A `release-sentinel.toml` at the root that exists in any form is the
/// configuration: one that is not a regular file (a directory, a dangling
/// link) is an error, never a reason to fall back to the embedded default.
/// Secret values are registered with `scrubber` as soon as the file names
/// them, before anything about the file can be logged or reported.
pub fn load(
    explicit: Option<&Path>,
    repo_root: Option<&Path>,
    env: &EnvSnapshot,
    scrubber: &Scrubber,
    target: Option<&str>,
) -> Result<Config, ConfigError> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => repo_root
            .map(|root| root.join(FILE_NAME))
            .filter(|p| std::fs::symlink_metadata(p).is_ok()),
    };
    let Some(path) = path else {
        tracing::debug!("no {FILE_NAME} found; using the embedded default");
        return parse_for(EMBEDDED_DEFAULT, Source::Embedded, env, scrubber, target);
    };
    tracing::debug!(path = %path.display(), "reading config");
    let read = |reason: String| ConfigError::Read {
        path: path.display().to_string(),
        reason,
    };
    let data = crate::fsutil::read_regular(&path, MAX_FILE_SIZE).map_err(read)?;
    let text = String::from_utf8(data).map_err(|_| read("it is not UTF-8 text".to_string()))?;
    parse_for(&text, Source::File(path.clone()), env, scrubber, target)
}

/// Parse and validate configuration text, for every environment.
pub fn parse(
    text: &str,
    source: Source,
    env: &EnvSnapshot,
    scrubber: &Scrubber,
) -> Result<Config, ConfigError> {
    parse_for(text, source, env, scrubber, None)
}

/// Parse and validate configuration text; `target`, when given, is the
/// only environment whose override must resolve.
pub fn parse_for(
    text: &str,
    source: Source,
    env: &EnvSnapshot,
    scrubber: &Scrubber,
    target: Option<&str>,
) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| syntax_error(text, &source, &e))?;
    // The whole document, for checks that look at every value at once.
    let table: toml::Table = toml::from_str(text).map_err(|e| syntax_error(text, &source, &e))?;
    from_parts(raw, &table, text, source, env, scrubber, target)
}

/// The sections the policy gates read (`environments`, `[policy]`,
/// `[variables]`, and the `[modes]` of policy gates) of configuration
/// text, parsed and validated as [`parse_for`] does; every other section
/// is left out. For re-running the policy gates from an evidence record,
/// whose other sections may not load any more (their secret values were
/// removed from it).
pub fn parse_policy(
    text: &str,
    source: Source,
    env: &EnvSnapshot,
    scrubber: &Scrubber,
    target: Option<&str>,
) -> Result<Config, ConfigError> {
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| syntax_error(text, &source, &e))?;
    table.retain(|key, _| matches!(key, "environments" | "policy" | "variables" | "modes"));
    if let Some(toml::Value::Table(modes)) = table.get_mut("modes") {
        modes.retain(|id, _| crate::checks::policy::GATES.iter().any(|g| g.id == id));
    }
    let raw: RawConfig =
        table
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Syntax {
                path: source.to_string(),
                line: 1,
                column: 1,
                message: without_quoted_values(e.message()),
            })?;
    from_parts(raw, &table, text, source, env, scrubber, target)
}

/// Validate a parsed document (`raw`, and `table`, the same as a table)
/// read from `text`, registering its secret values with `scrubber`.
fn from_parts(
    raw: RawConfig,
    table: &toml::Table,
    text: &str,
    source: Source,
    env: &EnvSnapshot,
    scrubber: &Scrubber,
    target: Option<&str>,
) -> Result<Config, ConfigError> {
    if let Some(vars) = &raw.variables {
        for name in variables::raw_secret_names(vars) {
            if let Some(value) = env.lossy(name) {
                scrubber.add(&value);
            }
        }
    }
    let mut config = validate::validate(raw, table, source, env, scrubber, target)?;
    config.text = text.to_string();
    for check in &config.health {
        for value in check.check.secrets() {
            scrubber.add(&value);
        }
    }
    // Values that are credentials whatever their variable is called: the
    // Prometheus and probe headers, webhook URLs and signing keys.
    let headers = config
        .prometheus
        .iter()
        .flat_map(|p| p.headers.iter().map(|(_, v)| v.clone()));
    let verify = config.verify.iter().flat_map(|v| v.secrets());
    for value in headers.chain(verify).chain(config.notify.secrets()) {
        scrubber.add(&value);
    }
    Ok(config)
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
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
        EnvSnapshot::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn file(text: &str) -> Result<Config, ConfigError> {
        parse(
            text,
            Source::File(PathBuf::from("release-sentinel.toml")),
            &env(&[("BRANCH", "release/*"), ("DEPLOY_TOKEN", "tok-123456")]),
            &Scrubber::new(),
        )
    }

    fn problems(text: &str) -> Vec<String> {
        match file(text) {
            Err(ConfigError::Invalid { problems, .. }) => {
                problems.iter().map(|p| p.to_string()).collect()
            }
            other => panic!("expected semantic problems, got {other:?}"),
        }
    }

    #[test]
    fn embedded_default_requires_and_checks_the_rs_variables() {
        let c = parse(
            EMBEDDED_DEFAULT,
            Source::Embedded,
            &env(&[]),
            &Scrubber::new(),
        )
        .unwrap();
        assert_eq!(c.environments, ["dev", "stage", "prod"]);
        assert_eq!(
            c.variables.required,
            ["RS_REQUIRED_PROCESS", "RS_API_URL", "RS_DEPLOY_TOKEN"]
        );
        assert_eq!(c.secret_names(), ["RS_DEPLOY_TOKEN"]);
        let p = c.policy_for("prod");
        assert!(p.branch_allowed("main") && p.branch_allowed("master"));
        assert!(!p.branch_allowed("feature/x"));
        assert!(!p.allow_prerelease && !p.allow_dirty && !p.allow_downgrade);
    }

    #[test]
    fn the_starter_file_validates_as_written() {
        let c = file(STARTER).unwrap();
        assert_eq!(c.environments, ["dev", "stage", "prod"]);
        assert!(c.policy_for("dev").allow_dirty);
        assert_eq!(c.health.len(), 2);
    }

    #[test]
    fn the_starters_commented_freezes_validate_once_uncommented() {
        let mut text = String::new();
        let mut in_block = false;
        for line in STARTER.lines() {
            in_block |= line == "# [[policy.env.prod.freeze]]";
            in_block &= !line.is_empty();
            text.push_str(if in_block { &line[2..] } else { line });
            text.push('\n');
        }
        let c = file(&text).unwrap();
        let prod = c.policy_for("prod");
        assert_eq!(prod.freezes.len(), 2);
        assert_eq!(prod.freezes[1].label, "year end");
        assert!(c.policy_for("dev").freezes.is_empty());
    }

    #[test]
    fn empty_file_takes_documented_defaults() {
        let c = file("").unwrap();
        assert_eq!(c.environments, ["dev", "stage", "prod"]);
        assert!(c.variables.required.is_empty());
        assert!(c.policy_for("dev").branch_allowed("main"));
    }

    #[test]
    fn overrides_apply_to_their_environment_only() {
        let c = file(
            r#"
    environments = ["dev", "prod"]
    [policy]
    branches = ["main"]
    [policy.env.dev]
    branches = ["*", "feature/**"]
    allow_prerelease = true
    allow_dirty = true
    "#,
        )
        .unwrap();
        let dev = c.policy_for("dev");
        assert!(dev.allow_prerelease && dev.allow_dirty);
        assert!(dev.branch_allowed("topic") && dev.branch_allowed("feature/a/b"));
        let prod = c.policy_for("prod");
        assert!(!prod.allow_prerelease && !prod.allow_dirty);
        assert!(!prod.branch_allowed("topic"));
    }

    #[test]
    fn a_problem_is_reported_once_where_it_is_written() {
        // A global problem is not repeated for each environment whose
        // override is laid over it, and an override's own problem carries
        // its environment's key path.
        let p = problems(
            r#"
    environments = ["dev", "stage", "prod"]
    [policy]
    branches = ["[bad"]
    [policy.env.dev]
    allow_dirty = true
    [policy.env.stage]
    tag_format = "no placeholder"
    [policy.env.prod]
    changelog_file = "../outside.md"
    "#,
        );
        let joined = p.join("\n");
        assert_eq!(
            p.iter()
                .filter(|l| l.starts_with("policy.branches[0]:"))
                .count(),
            1,
            "{joined}"
        );
        assert!(
            p.iter()
                .any(|l| l.starts_with("policy.env.stage.tag_format:")),
            "{joined}"
        );
        assert!(
            p.iter()
                .any(|l| l.starts_with("policy.env.prod.changelog_file:")),
            "{joined}"
        );
        assert_eq!(p.len(), 3, "{joined}");
    }

    #[test]
    fn an_override_keeps_the_global_keys_it_does_not_write() {
        let c = file(
            r#"
    environments = ["dev", "prod"]
    [policy]
    branches = ["main", "release/*"]
    require_changelog = true
    tag_format = "release-{version}"
    [policy.env.dev]
    allow_dirty = true
    changelog_file = "docs/CHANGES.md"
    "#,
        )
        .unwrap();
        let dev = c.policy_for("dev");
        assert!(dev.allow_dirty && dev.require_changelog);
        assert!(dev.branch_allowed("release/1.2") && !dev.branch_allowed("topic"));
        assert_eq!(dev.changelog_file, "docs/CHANGES.md");
        assert_eq!(
            dev.tag_format.release("release-1.2.3").map(|r| r.tag),
            Ok("release-1.2.3".to_string())
        );
        let prod = c.policy_for("prod");
        assert!(!prod.allow_dirty && prod.require_changelog);
        assert_eq!(
            prod.changelog_file,
            crate::checks::policy::rules::DEFAULT_CHANGELOG
        );
    }

    #[test]
    fn star_stays_within_one_component() {
        let c = file("[policy]\nbranches = [\"release/*\"]\n").unwrap();
        let p = c.policy_for("prod");
        assert!(p.branch_allowed("release/1.2"));
        assert!(!p.branch_allowed("release/1.2/x"));
        assert!(!p.branch_allowed("main"));
    }

    #[test]
    fn references_expand_from_the_environment() {
        let c = file("[policy]\nbranches = [\"${BRANCH}\", \"$${literal}\"]\n").unwrap();
        assert_eq!(c.policy_for("dev").branches, ["release/*", "${literal}"]);
    }

    #[test]
    fn unknown_key_reports_line_and_column() {
        let err =
            file("environments = [\"dev\"]\n\n[policy]\nbranchez = [\"main\"]\n").unwrap_err();
        match err {
            ConfigError::Syntax {
                line,
                column,
                message,
                ..
            } => {
                assert_eq!((line, column), (4, 1), "{message}");
                assert!(message.contains("branchez"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn type_errors_do_not_echo_the_value() {
        let err = file("[policy]\nallow_dirty = \"ghp_notreallyasecretvalue\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains(":2:"), "{text}");
        assert!(!text.contains("ghp_notreallyasecretvalue"), "{text}");
    }

    #[test]
    fn every_semantic_problem_is_reported_at_once() {
        let p = problems(
            r#"
    environments = []
    [policy]
    branches = ["[unclosed", "${NOT_SET_ANYWHERE}"]
    [policy.env.production]
    allow_dirty = true
    [variables]
    required = ["GOOD", "bad name", "GOOD"]
    secret = ["S"]
    public = ["S", "OTHER"]
    "#,
        );
        let joined = p.join("\n");
        for needle in [
            "environments: the list is empty",
            "policy.branches[0]: invalid glob \"[unclosed\"",
            "policy.branches[1]: references ${NOT_SET_ANYWHERE}, which is not set",
            "policy.env.production: override for an undeclared environment \"production\"",
            "variables.required[1]: \"bad name\" is not a variable name",
            "variables.required[2]: GOOD is listed twice",
            "variables.public[0]: S is declared both secret and public",
            "variables.public[1]: OTHER is not a required variable",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
        }
        assert_eq!(p.len(), 8, "{joined}");
    }

    #[test]
    fn literal_secrets_are_refused_without_echoing_them() {
        let text = r#"
    [policy]
    branches = ["main", "AKIAIOSFODNN7EXAMPLE"] # release-sentinel:allow (a test fixture)
    [variables]
    secret = ["DEPLOY_TOKEN"]
    "#;
        let err = file(text).unwrap_err().to_string();
        assert!(
            err.contains("policy.branches[1]: looks like a literal secret (aws-access-key-id)"),
            "{err}"
        );
        assert!(!err.contains("AKIAIOSFODNN7EXAMPLE"), "{err}"); // release-sentinel:allow (a test fixture)

        let err = file(
            "[policy]\nbranches = [\"tok-123456\"]\n[variables]\nsecret = [\"DEPLOY_TOKEN\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("contains the value of a secret variable"),
            "{err}"
        );
        assert!(!err.contains("tok-123456"), "{err}");
    }

    #[test]
    fn error_lists_problems_one_per_line() {
        let err = file("environments = [\"a\", \"a\"]\n[policy]\nbranches = []\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("invalid config release-sentinel.toml: 2 problems\n  "),
            "{text}"
        );
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("a\nbc", 0), (1, 1));
        assert_eq!(line_col("a\nbc", 3), (2, 2));
    }

    #[test]
    fn the_policy_sections_parse_alone() {
        let text = r#"
environments = ["dev", "prod"]
[policy]
branches = ["main", "${BRANCH}"]
[variables]
required = ["DEPLOY_TOKEN"]
[modes]
clean_tree = "warn"
"api:pay" = "shadow"
[[health.api]]
name = "pay"
url = "not a url at all ${NOT_SET}"
"#;
        // The whole file does not load (an unset reference, a bad URL) ...
        assert!(file(text).is_err());
        // ... its policy sections do, with the text kept whole.
        let c = parse_policy(
            text,
            Source::File(PathBuf::from("x.toml")),
            &env(&[("BRANCH", "release/*")]),
            &Scrubber::new(),
            Some("prod"),
        )
        .unwrap();
        assert!(c.policy_for("prod").branch_allowed("release/1"));
        assert_eq!(c.mode_of("clean_tree"), crate::report::Mode::Warn);
        assert!(c.health.is_empty());
        assert_eq!(c.text, text);
    }

    #[test]
    fn secret_values_are_registered_while_parsing() {
        let scrubber = Scrubber::new();
        let env = env(&[("API_TOKEN", "super-secret-value")]);
        parse(
            "[variables]\nrequired = [\"API_TOKEN\"]\n",
            Source::File("x.toml".into()),
            &env,
            &scrubber,
        )
        .unwrap();
        assert_eq!(scrubber.scrub("super-secret-value"), "***");
    }
}
