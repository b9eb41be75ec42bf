//! One run of the binary, the way CI runs it ([`Sentinel`]), the
//! environment every child starts from, and what the tests read of a run.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use tempfile::TempDir;

use super::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_release-sentinel");

/// The deploy token the harness sets (not a real secret).
pub const DEPLOY_TOKEN: &str = "tok-not-a-real-secret-0000";

/// The policy gates, in the order the table shows them.
pub const POLICY_GATES: &[&str] = &[
    "env_allowed",
    "git_repo",
    "clean_tree",
    "branch_allowed",
    "version_valid",
    "tag_absent",
    "version_newer",
    "required_config",
    "deploy_window",
    "changelog_entry",
];

/// The gate's final row for each verdict.
pub const SAFE: &str = "| release_sentinel          | OK   | RELEASE_SENTINEL=SAFE |";
pub const BLOCKED: &str = "| release_sentinel          | FAIL | RELEASE_SENTINEL=BLOCKED |";
pub const CRITICAL: &str = "| release_sentinel          | CRIT | RELEASE_SENTINEL=CRITICAL |";

/// The name of this test process, which is running for as long as any
/// test runs: the process the embedded default's health check looks for.
pub fn own_process_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .expect("test binary name")
}

/// The variables the embedded default requires: its health checks pass
/// against a live endpoint and a running process.
pub fn default_vars() -> Vec<(&'static str, String)> {
    vec![
        ("RS_REQUIRED_PROCESS", own_process_name()),
        ("RS_API_URL", health_url().to_string()),
        ("RS_DEPLOY_TOKEN", DEPLOY_TOKEN.to_string()),
    ]
}

/// A private HOME, so no user or machine git config is seen.
fn home() -> &'static Path {
    static HOME: OnceLock<TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("temp HOME"))
        .path()
}

/// The environment every child process starts from.
pub fn base_env() -> Vec<(OsString, OsString)> {
    vec![
        ("PATH".into(), std::env::var_os("PATH").unwrap_or_default()),
        ("HOME".into(), home().as_os_str().to_owned()),
        ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
        ("LC_ALL".into(), "C".into()),
    ]
}

/// One run of the binary, with expectations. A run ends in the status it
/// must exit with: [`Sentinel::safe`], [`Sentinel::blocked`],
/// [`Sentinel::critical`] or [`Sentinel::code`].
#[must_use = "a run ends in its expected status: .safe(), .blocked(), .critical() or .code(n)"]
pub struct Sentinel {
    cmd: Command,
    stdout_has: Vec<String>,
    stdout_lacks: Vec<String>,
    stderr_has: Vec<String>,
    stderr_lacks: Vec<String>,
    stdout_exact: Option<String>,
    stderr_empty: bool,
    non_ascii_ok: bool,
}

impl Sentinel {
    pub fn new() -> Self {
        Self::of(Path::new(BIN))
    }

    /// Like [`Sentinel::new`], but runs `bin` (a copy of the binary under
    /// another name, for instance).
    pub fn of(bin: &Path) -> Self {
        let mut cmd = Command::new(bin);
        cmd.env_clear().envs(base_env());
        Self {
            cmd,
            stdout_has: Vec::new(),
            stdout_lacks: Vec::new(),
            stderr_has: Vec::new(),
            stderr_lacks: Vec::new(),
            stdout_exact: None,
            stderr_empty: false,
            non_ascii_ok: false,
        }
    }

    /// Run in `repo`, with the embedded default's required variables set.
    pub fn in_repo(repo: &Repo) -> Self {
        Self::new().dir(&repo.path).default_vars()
    }

    /// The gate as most tests run it: `--env prod --version v1.2.3` in
    /// `repo`, with the embedded default's required variables set.
    pub fn prod(repo: &Repo) -> Self {
        Self::in_repo(repo).gate("prod", "v1.2.3")
    }

    /// The pre-live pack (`--env dev --version v1.0.0 --dry-run`) in
    /// `repo`, with `$OUT` naming its scratch folder (steps write there,
    /// and a [`Reaper`] finds their processes by it).
    pub fn dry_run(repo: &Repo) -> Self {
        Self::new()
            .dir(&repo.path)
            .env("OUT", repo.scratch())
            .gate("dev", "v1.0.0")
            .arg("--dry-run")
    }

    /// `--env ENV --version VERSION`.
    pub fn gate(self, env: &str, version: &str) -> Self {
        self.args(["--env", env, "--version", version])
    }

    pub fn dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn default_vars(mut self) -> Self {
        for (k, v) in default_vars() {
            self.cmd.env(k, v);
        }
        self
    }

    pub fn stdout_has(mut self, needle: impl Into<String>) -> Self {
        self.stdout_has.push(needle.into());
        self
    }

    pub fn stdout_lacks(mut self, needle: impl Into<String>) -> Self {
        self.stdout_lacks.push(needle.into());
        self
    }

    pub fn stdout(mut self, exact: impl Into<String>) -> Self {
        self.stdout_exact = Some(exact.into());
        self
    }

    pub fn stderr_has(mut self, needle: impl Into<String>) -> Self {
        self.stderr_has.push(needle.into());
        self
    }

    pub fn stderr_lacks(mut self, needle: impl Into<String>) -> Self {
        self.stderr_lacks.push(needle.into());
        self
    }

    /// Neither stdout nor stderr contains `needle`.
    pub fn nowhere(self, needle: impl Into<String>) -> Self {
        let needle = needle.into();
        self.stdout_lacks(needle.clone()).stderr_lacks(needle)
    }

    pub fn stderr_empty(mut self) -> Self {
        self.stderr_empty = true;
        self
    }

    /// stdout may rightly carry non-ASCII text (JUnit and Markdown keep
    /// what XML and Markdown can carry): skip the table's ASCII rule.
    pub fn allow_non_ascii(mut self) -> Self {
        self.non_ascii_ok = true;
        self
    }

    /// The command as built so far, to spawn it (to send it a signal).
    pub fn into_command(self) -> Command {
        self.cmd
    }

    /// Run, expecting exit 0 (SAFE, or a command that passed).
    pub fn safe(self) -> Output {
        self.code(0)
    }

    /// Run, expecting exit 1 (BLOCKED, a usage error, a command that failed).
    pub fn blocked(self) -> Output {
        self.code(1)
    }

    /// Run, expecting exit 2 (CRITICAL, or ROLLBACK).
    pub fn critical(self) -> Output {
        self.code(2)
    }

    /// Run, expecting exit `code`, and check every other expectation;
    /// returns the output for more checks.
    pub fn code(self, code: i32) -> Output {
        self.run(&[code])
    }

    /// Run, expecting one of `codes`: for a run whose status depends on the
    /// machine (the disk and memory of this host) or on timing that the
    /// test cannot control. Checks every other expectation.
    pub fn code_in(self, codes: &[i32]) -> Output {
        assert!(!codes.is_empty(), "code_in needs at least one status");
        self.run(codes)
    }

    /// Run and check the status and every expectation; returns the output
    /// for more checks.
    fn run(mut self, codes: &[i32]) -> Output {
        let out = self.cmd.output().expect("run release-sentinel");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut problems = Vec::new();
        if !out.status.code().is_some_and(|c| codes.contains(&c)) {
            let expected = match codes {
                [one] => one.to_string(),
                many => format!("one of {many:?}"),
            };
            problems.push(format!("{}, expected {expected}", out.status));
        }
        if let Some(exact) = &self.stdout_exact
            && stdout != exact.as_str()
        {
            problems.push(format!("stdout differs; expected:\n{exact}"));
        }
        for n in &self.stdout_has {
            if !stdout.contains(n.as_str()) {
                problems.push(format!("stdout lacks {n:?}"));
            }
        }
        for n in &self.stdout_lacks {
            if stdout.contains(n.as_str()) {
                problems.push(format!("stdout contains {n:?}"));
            }
        }
        for n in &self.stderr_has {
            if !stderr.contains(n.as_str()) {
                problems.push(format!("stderr lacks {n:?}"));
            }
        }
        for n in &self.stderr_lacks {
            if stderr.contains(n.as_str()) {
                problems.push(format!("stderr contains {n:?}"));
            }
        }
        if self.stderr_empty && !stderr.is_empty() {
            problems.push("stderr is not empty".to_string());
        }
        // Contract checks that hold for every run.
        if let Some(code) = out.status.code()
            && !(0..=2).contains(&code)
        {
            problems.push(format!("exit code {code} is outside 0..=2"));
        }
        if !self.non_ascii_ok && !out.stdout.is_ascii() && !stdout.trim_start().starts_with('{') {
            problems.push("the table is not ASCII".to_string());
        }
        if !problems.is_empty() {
            panic!(
                "{} mismatch(es):\n- {}\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}--------------",
                problems.len(),
                problems.join("\n- ")
            );
        }
        out
    }
}

/// A TOML basic string (JSON's escapes are a subset of TOML's).
pub fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("quote")
}

/// The exit status, stdout and stderr of a run, for assertion messages.
pub fn context(out: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}--- stderr ---\n{}--------------",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A JSON report without its `duration_ms` fields (the gate's `checks` or
/// the pack's `steps`) and the time it was made (`time`), to compare two
/// runs.
pub fn without_durations(mut doc: serde_json::Value) -> serde_json::Value {
    if let Some(o) = doc.as_object_mut() {
        o.remove("time");
    }
    for key in ["checks", "steps"] {
        if let Some(rows) = doc[key].as_array_mut() {
            for r in rows {
                if let Some(o) = r.as_object_mut() {
                    o.remove("duration_ms");
                }
            }
        }
    }
    doc
}

/// The table row for `id`, as printed (without the message when `None`).
pub fn row(id: &str, status: &str) -> String {
    format!("| {id:<25} | {status:<4} |")
}

/// The message cell of `id`'s row in a table.
pub fn message_of(stdout: &[u8], id: &str) -> String {
    let text = String::from_utf8_lossy(stdout);
    let prefix = format!("| {id:<25} | ");
    text.lines()
        .find(|l| l.starts_with(&prefix))
        .map(|l| l[prefix.len() + 7..].trim_end_matches(" |").to_string())
        .unwrap_or_else(|| panic!("no row {id} in:\n{text}"))
}

/// Whether the process runs as root (some cases need to chown).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The digest `sha256sum` prints for `path`.
pub fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "sha256sum {}", path.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let digest = text.split_whitespace().next().unwrap_or("").to_string();
    assert_eq!(digest.len(), 64, "sha256sum printed {text:?}");
    digest
}

/// The binary, held to file modes even when the tests run as root: as
/// root, started through util-linux `setpriv` with the capabilities that
/// override modes (`dac_override`, `dac_read_search`) dropped. Without
/// `setpriv` the test fails and says what to install: a read-only folder
/// or an unreadable file is then shown to root too, never skipped.
pub fn held_to_file_modes() -> Sentinel {
    if !is_root() {
        return Sentinel::new();
    }
    let found = Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "setpriv is not installed, and as root only it makes file modes hold: \
         apt-get install -y util-linux"
    );
    Sentinel::of(Path::new("setpriv"))
        .args(["--bounding-set=-dac_override,-dac_read_search", "--"])
        .arg(BIN)
}

/// stdout of a `--format json` run, parsed.
pub fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The check `id` in a parsed JSON report.
pub fn json_check<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {doc:#}"))
}
