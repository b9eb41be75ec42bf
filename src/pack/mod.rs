//! `[pack]`: the validated pre-live pack configuration, and its report.
//!
//! A step is a command (`run`), or one of the tool's own steps
//! ([`BUILTIN_STEPS`]), named without a `run`. Without any step, the pack
//! is the built-in steps. Every step has a timeout. Running them is
//! [`run`].
//!
//! The config (and `[verify]`, whose smoke steps are pack steps) imports
//! this file, so this file uses nothing that uses the config ([`run`]
//! does: the gate's checks, the workspace, the runner).

pub mod run;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use globset::GlobSet;
use serde::Deserialize;

use crate::config::values::{
    Problems, check_name, duration, expand, globs, is_variable_name, parse_size,
};
use crate::envsnap::EnvSnapshot;
use crate::sanitize::quoted;

/// `[pack]`: the pre-live pack's steps and its secrets scan.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPack {
    pub steps: Option<Vec<RawStep>>,
    pub scan: Option<RawScan>,
}

/// A step's command: an argument list, or a command line for the shell.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RunSpec {
    Argv(Vec<String>),
    Line(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub name: String,
    pub run: Option<RunSpec>,
    pub shell: Option<bool>,
    pub timeout: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScan {
    pub allow: Option<Vec<String>>,
    pub max_file_size: Option<String>,
}

/// A step's default timeout.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Files larger than this are skipped by the secrets scan (and counted).
pub const SCAN_MAX_FILE_SIZE: u64 = 1024 * 1024;
const MAX_STEP_TIMEOUT: Duration = Duration::from_secs(3600);

/// The tool's own steps, in their default order.
pub const BUILTIN_STEPS: &[&str] = &[
    "config_check_dry",
    "policy_gates_dry",
    "health_checks_dry",
    "scan_secrets_dry",
];

/// The step that runs the secrets scan.
pub const SCAN_STEP: &str = "scan_secrets_dry";

/// One step of the pack.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub run: Run,
    pub timeout: Duration,
}

/// What a step runs.
#[derive(Debug, Clone)]
pub enum Run {
    /// A command: the program and its arguments (`sh -c LINE` for a shell
    /// step), with extra variables.
    Command {
        argv: Vec<String>,
        env: Vec<(String, String)>,
    },
    /// The tool's own step of that name.
    Builtin,
}

impl Step {
    /// The built-in step `name` with the default timeout.
    pub fn builtin(name: &str) -> Self {
        Self {
            name: name.to_string(),
            run: Run::Builtin,
            timeout: STEP_TIMEOUT,
        }
    }
}

/// The secrets scan's settings.
#[derive(Debug, Clone)]
pub struct Scan {
    /// Path globs whose files are not scanned.
    pub allow: Vec<String>,
    allow_set: GlobSet,
    pub max_file_size: u64,
}

impl Default for Scan {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            allow_set: GlobSet::empty(),
            max_file_size: SCAN_MAX_FILE_SIZE,
        }
    }
}

impl Scan {
    /// Whether `path` (relative, `/`-separated) is allowed by a glob.
    pub fn allowed(&self, path: &str) -> bool {
        self.allow_set.is_match(path)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Pack {
    /// Empty: the pack is the built-in steps.
    pub steps: Vec<Step>,
    pub scan: Scan,
}

impl Pack {
    /// The steps that run: the configured ones, else the built-in ones.
    pub fn steps_to_run(&self) -> Vec<Step> {
        if self.steps.is_empty() {
            BUILTIN_STEPS.iter().map(|n| Step::builtin(n)).collect()
        } else {
            self.steps.clone()
        }
    }
}

pub(super) fn validate(
    raw: RawPack,
    env: &EnvSnapshot,
    problems: &mut Problems,
) -> (Pack, Vec<String>) {
    let mut names = BTreeSet::new();
    let mut steps = Vec::new();
    let mut secret_values = Vec::new();
    for (i, s) in raw.steps.unwrap_or_default().into_iter().enumerate() {
        let key = format!("pack.steps[{i}]");
        if let Err(why) = check_name(&s.name, "step") {
            problems.push(format!("{key}.name"), why);
        } else if !names.insert(s.name.clone()) {
            problems.push(
                format!("{key}.name"),
                format!("{} names another step too", quoted(&s.name)),
            );
        }
        if let Some(step) = step(s, &key, env, problems, &mut secret_values) {
            steps.push(step);
        }
    }
    let scan_set = raw.scan.is_some();
    let scan = scan(raw.scan.unwrap_or_default(), problems);
    let scans = steps
        .iter()
        .any(|s| s.name == SCAN_STEP && matches!(s.run, Run::Builtin));
    if scan_set && !steps.is_empty() && !scans {
        problems.push(
            "pack.scan",
            format!(
                "set, but no step runs the secrets scan: add [[pack.steps]] name = \"{SCAN_STEP}\" \
                 (without `run`) where it should run"
            ),
        );
    }
    (Pack { steps, scan }, secret_values)
}

pub(crate) fn step(
    s: RawStep,
    key: &str,
    env: &EnvSnapshot,
    problems: &mut Problems,
    secret_values: &mut Vec<String>,
) -> Option<Step> {
    let timeout = duration(
        s.timeout.as_deref(),
        STEP_TIMEOUT,
        MAX_STEP_TIMEOUT,
        &format!("{key}.timeout"),
        problems,
    );
    let Some(run) = s.run else {
        if !BUILTIN_STEPS.contains(&s.name.as_str()) {
            problems.push(
                format!("{key}.run"),
                format!(
                    "missing: only the built-in steps ({}) run without a command",
                    BUILTIN_STEPS.join(", ")
                ),
            );
            return None;
        }
        if s.shell.is_some() || s.env.is_some() {
            problems.push(
                key,
                "a built-in step takes no `shell` or `env`, only `name` and `timeout`",
            );
        }
        return Some(Step {
            name: s.name,
            run: Run::Builtin,
            timeout,
        });
    };
    let shell = s.shell.unwrap_or(false);
    let argv = match (run, shell) {
        (RunSpec::Argv(args), false) if args.is_empty() || args[0].trim().is_empty() => {
            problems.push(format!("{key}.run"), "the command is empty");
            return None;
        }
        (RunSpec::Argv(args), false) => {
            let mut out = Vec::with_capacity(args.len());
            for (j, a) in args.iter().enumerate() {
                out.push(expand(a, &format!("{key}.run[{j}]"), env, problems)?);
            }
            out
        }
        (RunSpec::Line(line), true) => {
            if line.trim().is_empty() {
                problems.push(format!("{key}.run"), "the command is empty");
                return None;
            }
            // The shell expands its own variables; ${NAME} in the line is
            // left to it.
            vec!["sh".to_string(), "-c".to_string(), line]
        }
        (RunSpec::Line(_), false) => {
            problems.push(
                format!("{key}.run"),
                "a command line needs shell = true; or write the command as a list, [\"prog\", \"arg\"]",
            );
            return None;
        }
        (RunSpec::Argv(_), true) => {
            problems.push(
                format!("{key}.run"),
                "with shell = true, write the command as one string",
            );
            return None;
        }
    };
    let mut vars = Vec::new();
    for (name, value) in s.env.unwrap_or_default() {
        let vkey = format!("{key}.env.{name}");
        if !is_variable_name(&name) {
            problems.push(&vkey, format!("{} is not a variable name", quoted(&name)));
            continue;
        }
        if let Some(v) = expand(&value, &vkey, env, problems) {
            if crate::secrets::is_secret_like_name(&name) {
                secret_values.push(v.clone());
            }
            vars.push((name, v));
        }
    }
    Some(Step {
        name: s.name,
        run: Run::Command { argv, env: vars },
        timeout,
    })
}

fn scan(raw: RawScan, problems: &mut Problems) -> Scan {
    let mut out = Scan::default();
    if let Some(size) = raw.max_file_size {
        match parse_size(&size) {
            Ok(n) if n > 0 => out.max_file_size = n,
            Ok(_) => problems.push("pack.scan.max_file_size", "must be larger than zero"),
            Err(why) => problems.push("pack.scan.max_file_size", why),
        }
    }
    let allow = raw.allow.unwrap_or_default();
    if let Some((kept, set)) = globs(&allow, "pack.scan.allow", None, problems) {
        out.allow = kept;
        out.allow_set = set;
    }
    out
}

/// The pack's report.
pub static KIND: crate::report::Kind = crate::report::Kind {
    name: "pack",
    title: "PRE-LIVE PACK DRY-RUN RESULTS",
    heading: "Pre-live pack",
    final_id: "pre_live_pack",
    marker: "PRE_LIVE_PACK",
    words: ["DRYRUN", "FAIL", "FAIL"],
    rows_key: "steps",
    compact_ok: true,
    ..crate::report::Kind::CHECKS
};
