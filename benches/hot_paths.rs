//! In-process benches of the paths the README's Performance figures rest
//! on, without the process around them: reading the git index (its parse
//! and SHA-1 checksum), the work tree scan `clean_tree` runs (the status),
//! and the pack's secrets scan. `cargo bench --bench hot_paths`.
//!
//! The fixture is a real repository in a temporary folder, made by the
//! `git` command: FILES tracked files (1,000 per folder, a few lines each)
//! for the index and the status, one of them modified so the status has
//! something to find; and SCAN_FILES more files of 10 KiB of text each,
//! one with a planted credential, for the secrets scan. Both sizes come
//! from the environment (`FILES=100000 cargo bench --bench hot_paths`).
//! Spawning and the rest of a run are not timed here: `benches/*.sh` time
//! whole processes against the reference tools.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use release_sentinel::git;
use release_sentinel::pack::Scan;

/// The fixture's repository, made once by `main` before the benches run.
static REPO: OnceLock<Fixture> = OnceLock::new();

struct Fixture {
    root: PathBuf,
    /// The secrets scan's files, relative to `root`.
    scan_files: Vec<String>,
}

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn git(root: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", root)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.invalid")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.invalid")
        .status()
        .expect("run git");
    assert!(status.success(), "git {args:?} failed");
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("make a folder");
    std::fs::write(path, text).expect("write a fixture file");
}

/// Text that looks like source: lines of words, no credential.
fn text(seed: usize, len: usize) -> String {
    const WORDS: [&str; 12] = [
        "let", "value", "config", "request", "retry", "timeout", "deploy", "status", "=", "(", ")",
        "return",
    ];
    let mut out = String::with_capacity(len + 80);
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    while out.len() < len {
        for _ in 0..(4 + x % 9) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.push_str(WORDS[x % WORDS.len()]);
            out.push(' ');
        }
        out.push('\n');
    }
    out
}

fn fixture(root: &Path) -> Fixture {
    let (files, scan_count) = (size("FILES", 20_000), size("SCAN_FILES", 2_000));
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "gc.auto", "0"]);
    for i in 0..files {
        let body = format!("file {i}\nsmall content\n");
        write(
            &root.join(format!("t{:03}/f{:03}.txt", i / 1000, i % 1000)),
            &body,
        );
    }
    let mut scan_files = Vec::with_capacity(scan_count);
    for i in 0..scan_count {
        let name = format!("s{:02}/f{:04}.rs", i / 100, i);
        let mut body = text(i, 10 * 1024);
        if i == scan_count / 2 {
            // Assembled so that no literal key sits in this file.
            body.push_str(&format!("aws = \"{}{}\"\n", "AKIA", "IOSFODNN7EXAMPLE"));
        }
        write(&root.join(&name), &body);
        scan_files.push(name);
    }
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "fixture"]);
    if files > 0 {
        let modified = root.join(format!(
            "t{:03}/f{:03}.txt",
            (files / 2) / 1000,
            (files / 2) % 1000
        ));
        write(&modified, "changed\n");
    }
    Fixture {
        root: root.to_path_buf(),
        scan_files,
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let fx = fixture(dir.path());
    eprintln!(
        "fixture: {} tracked files for the index and the status, {} files of 10 KiB to scan",
        size("FILES", 20_000),
        fx.scan_files.len()
    );
    if REPO.set(fx).is_err() {
        unreachable!("the fixture is made once");
    }
    divan::main();
    drop(dir);
}

fn repo() -> &'static Fixture {
    REPO.get().expect("main made the fixture")
}

/// The index file read, parsed and its checksum verified.
#[divan::bench(sample_count = 50)]
fn index_read(bencher: divan::Bencher) {
    let path = repo().root.join(".git/index");
    bencher.bench(|| git::index::read(&path).expect("the index reads"));
}

/// clean_tree's status: the index read, the work tree listed and compared.
#[divan::bench(sample_count = 30)]
fn status(bencher: divan::Bencher) {
    // A libgit2 handle is not Sync: the bench runs on this thread only.
    let opened = git::open(&repo().root).expect("the fixture opens");
    bencher.bench_local(|| {
        let found = git::status::changes(&opened, git::status::default_threads())
            .expect("the status reads");
        assert_eq!(found.changes.len(), 1, "one modified file");
        found
    });
}

/// The secrets scan over the scan files, the default rules.
#[divan::bench(sample_count = 20)]
fn secrets_scan(bencher: divan::Bencher) {
    let fx = repo();
    let cfg = Scan::default();
    bencher.bench(|| {
        let found = release_sentinel::scan::scan(&fx.root, &fx.scan_files, &cfg, &[])
            .expect("the scan runs");
        assert_eq!(found.findings.len(), 1, "the planted key");
        found
    });
}
