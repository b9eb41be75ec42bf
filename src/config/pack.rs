//! `[pack]`: the validated pre-live pack configuration.

use std::collections::BTreeSet;
use std::time::Duration;

use globset::GlobSet;

use super::raw::{RawPack, RawScan, RawStep, RunSpec};
use super::values::{Problems, check_name, duration, expand, globs, is_variable_name, parse_size};
use crate::envsnap::EnvSnapshot;
use crate::sanitize::quoted;

/// A step's default timeout.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Files larger than this are skipped by the secrets scan (and counted).
pub const SCAN_MAX_FILE_SIZE: u64 = 1024 * 1024;
const MAX_STEP_TIMEOUT: Duration = Duration::from_secs(3600);

/// One configured step.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    /// The program and its arguments (`sh -c LINE` for a shell step).
    pub argv: Vec<String>,
    pub timeout: Duration,
    /// Extra variables for the step.
    pub env: Vec<(String, String)>,
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
    let scan = scan(raw.scan.unwrap_or_default(), problems);
    (Pack { steps, scan }, secret_values)
}

fn step(
    s: RawStep,
    key: &str,
    env: &EnvSnapshot,
    problems: &mut Problems,
    secret_values: &mut Vec<String>,
) -> Option<Step> {
    let shell = s.shell.unwrap_or(false);
    let argv = match (s.run, shell) {
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
    let timeout = duration(
        s.timeout.as_deref(),
        STEP_TIMEOUT,
        MAX_STEP_TIMEOUT,
        &format!("{key}.timeout"),
        problems,
    );
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
        argv,
        timeout,
        env: vars,
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
