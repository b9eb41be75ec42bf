//! Test fixtures shared by the git modules' tests: real repositories
//! built with the git command in temporary folders. Test code only (the
//! module is declared `#[cfg(test)]`, and says so itself below): a fixture
//! that cannot be built fails the test that asked for it, so its
//! `unwrap`s and `expect`s are the tests' way of failing, never the tool's.

#![cfg(test)]

use std::path::Path;
use std::process::{Command, Output};

use super::index;

/// Run git in `dir` with a fixed identity and no user or system
/// configuration; it must succeed.
pub fn git(dir: &Path, args: &[&str]) {
    let out = run_git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run git as [`git`] does, whatever the outcome.
pub fn run_git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git")
}

/// The paths `git status` lists (untracked directories as `dir/`, as
/// libgit2 lists them), sorted. Run without optional locks, so that git
/// does not refresh and rewrite the index it is asked about.
pub fn git_status_paths(dir: &Path) -> Vec<Vec<u8>> {
    let out = run_git(
        dir,
        &[
            "--no-optional-locks",
            "status",
            "--porcelain=v1",
            "-z",
            "--no-renames",
            "--untracked-files=normal",
            "--ignore-submodules=none",
        ],
    );
    assert!(
        out.status.success(),
        "git status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut paths: Vec<Vec<u8>> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|r| r.len() > 3)
        .map(|r| r[3..].to_vec())
        .collect();
    paths.sort();
    paths
}

/// Write `text` to `rel` under `dir`, creating its directories.
pub fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A committed tree with nested directories, an ignore file, a link
/// and an executable.
pub fn fixture() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    git(d, &["init", "-q", "-b", "main"]);
    for i in 0..4 {
        for j in 0..5 {
            write(d, &format!("d{i}/f{j}.txt"), &format!("{i}{j}\n"));
        }
    }
    write(d, "a/b/c/deep.txt", "deep\n");
    write(d, "a/b/side.txt", "side\n");
    write(d, "a/x/y.txt", "y\n");
    write(d, "top.txt", "top\n");
    write(d, ".gitignore", "*.log\nbuild/\n");
    write(d, "run.sh", "#!/bin/sh\n");
    std::fs::set_permissions(
        d.join("run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("top.txt", d.join("link")).unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "init"]);
    tmp
}

/// Rewrite the index through libgit2 from scratch: same entries, no
/// cache tree (clearing an index drops it, adding does not build it).
pub fn drop_cache_tree(d: &Path) {
    let repo = git2::Repository::open(d).unwrap();
    let mut index = repo.index().unwrap();
    let entries: Vec<_> = index.iter().collect();
    index.clear().unwrap();
    for e in &entries {
        index.add(e).unwrap();
    }
    index.write().unwrap();
    let read = index::read(&d.join(".git/index")).unwrap();
    assert!(read.tree.is_none(), "libgit2 wrote a cache tree");
}
