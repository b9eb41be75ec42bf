//! A real git repository in a temporary folder ([`Repo`]).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::*;

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

    /// A repository with one commit on `main`, then `text` committed as
    /// its `release-sentinel.toml`.
    pub fn with_config(text: &str) -> Self {
        let repo = Self::new();
        repo.config(text);
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
