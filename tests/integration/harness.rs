//! A small builder for running `release-sentinel` the way CI does:
//!
//! ```ignore
//! Sentinel::in_repo(&repo).gate("prod", "v1.2.3")
//!     .stdout_has(row("clean_tree", "FAIL")).blocked();
//! ```
//!
//! The child gets a cleared environment (PATH, a private HOME, and what
//! the test sets), so CI variables on the machine running the tests do
//! not leak into it. Every expectation is checked and every mismatch is
//! reported together with the full stdout and stderr.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_release-sentinel");

/// The deploy token the harness sets (not a real secret).
pub const DEPLOY_TOKEN: &str = "tok-not-a-real-secret-0000";

/// A health endpoint on 127.0.0.1 that answers every request with 200,
/// for the life of the test process (it stops with it).
pub fn health_url() -> &'static str {
    use std::io::{Read, Write};
    use std::sync::OnceLock;
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                    let mut buf = [0u8; 4096];
                    let mut seen = Vec::new();
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 65536 {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    );
                });
            }
        });
        format!("http://127.0.0.1:{port}/health")
    })
}

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
    use std::sync::OnceLock;
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

/// A real git repository in a temporary folder, on branch `main` with one
/// commit.
pub struct Repo {
    _dir: TempDir,
    pub path: PathBuf,
}

impl Repo {
    /// A repository with one commit on `main`.
    pub fn new() -> Self {
        let repo = Self::empty();
        repo.write("README", "hello\n");
        repo.commit_all("initial");
        repo
    }

    /// `git init` and nothing else: no commit yet.
    pub fn empty() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("repo");
        std::fs::create_dir(&path).expect("mkdir repo");
        let repo = Self { _dir: dir, path };
        repo.git(["init", "-q", "-b", "main"]);
        repo
    }

    /// Run git in the repository; panics with git's stderr on failure.
    pub fn git<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        git_in(&self.path, args)
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, content).expect("write file");
    }

    pub fn commit_all(&self, message: &str) {
        self.git(["add", "-A"]);
        self.git(["commit", "-q", "--allow-empty", "-m", message]);
    }

    pub fn tag(&self, name: &str) {
        self.git(["tag", "-a", name, "-m", name]);
    }

    /// Write `release-sentinel.toml` at the root and commit it.
    pub fn config(&self, text: &str) {
        self.write("release-sentinel.toml", text);
        self.commit_all("config");
    }

    pub fn head(&self) -> String {
        self.git(["rev-parse", "HEAD"]).trim().to_string()
    }

    /// `git clone <args> file://<src> repo` into a fresh temporary folder.
    /// The `file://` URL makes git use its transport, so `--depth` works.
    pub fn clone_of(src: &Repo, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("file://{}", src.path.display());
        let mut full: Vec<&str> = vec!["clone", "-q"];
        full.extend_from_slice(args);
        full.push(&url);
        full.push("repo");
        git_in(dir.path(), full);
        let path = dir.path().join("repo");
        Self { _dir: dir, path }
    }

    /// The temporary folder that holds the work tree: a place for files
    /// that must not be inside the repository (and are removed with it).
    pub fn scratch(&self) -> PathBuf {
        self.path.parent().expect("repo has a parent").to_path_buf()
    }

    /// Write `name` in [`Repo::scratch`], outside the work tree; returns
    /// its path.
    pub fn outside(&self, name: &str, content: &str) -> PathBuf {
        let p = self.scratch().join(name);
        std::fs::write(&p, content).expect("write file outside the repo");
        p
    }
}

/// Run git in `dir` with the harness environment.
pub fn git_in<I, S>(dir: &Path, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(["-c", "protocol.file.allow=always"])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(base_env())
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git failed in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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

/// Whether `pid` is a live process (a zombie is dead: it only waits to be
/// reaped by whoever inherited it).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z'),
    }
}

/// The live processes that carry `OUT=<scratch>` in their environment:
/// every process a step of this test started (steps inherit the
/// variable), whatever its group or session.
pub fn survivors(scratch: &std::path::Path) -> Vec<u32> {
    let tag = format!("OUT={}", scratch.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == tag.as_bytes()))
        })
        .filter(|pid| alive(*pid))
        .collect()
}
