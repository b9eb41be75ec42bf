//! Evidence an auditor can re-check: `--evidence DIR` on the gate and
//! `verify`, `evidence verify DIR`, and `--replay`, against real
//! repositories, the real `sha256sum`, and a health endpoint on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::harness::{
    POLICY_GATES, Repo, SAFE, Sentinel, context, each_row, health_url, held_to_file_modes, row,
    toml_str,
};

/// The deploy token the config requires (a secret by declaration).
const TOKEN: &str = "tok-evidence-secret-4242";
/// A value only ever pasted into a header, under a secret-looking key;
/// its variable's name says nothing.
const HEADER_VALUE: &str = "plain-named-but-secret-9911";
/// A value that only appears as a secret-looking URL parameter.
const URL_TOKEN: &str = "url-token-secret-5150";

/// A config with required and secret variables, a secret-looking header
/// and a token in a URL, all by `${NAME}` reference; its one health check
/// is the harness's endpoint.
fn config() -> String {
    format!(
        r#"[variables]
required = ["DEPLOY_TOKEN"]

[[health.api]]
name = "svc"
url = {}
headers = {{ Authorization = "Bearer ${{DEPLOY_TOKEN}}", "X-Upstream-Key" = "${{UPSTREAM_VALUE}}" }}
"#,
        toml_str(&format!("{}?access_token=${{URL_TOKEN}}", health_url()))
    )
}

fn repo() -> Repo {
    Repo::with_config(&config())
}

/// The gate in `repo` with every variable the config needs.
fn gate(repo: &Repo) -> Sentinel {
    Sentinel::new()
        .dir(&repo.path)
        .env("DEPLOY_TOKEN", TOKEN)
        .env("UPSTREAM_VALUE", HEADER_VALUE)
        .env("URL_TOKEN", URL_TOKEN)
        .env("GITHUB_RUN_ID", "4711")
        .env("CI_FAKE_UTC", "2026-03-01T12:00:00Z")
        .gate("prod", "v1.0.0")
        .nowhere(TOKEN)
        .nowhere(HEADER_VALUE)
        .nowhere(URL_TOKEN)
}

fn check(dir: &Path) -> Sentinel {
    Sentinel::new()
        .arg("evidence")
        .arg("verify")
        .arg(dir)
        .nowhere(TOKEN)
        .nowhere(HEADER_VALUE)
        .nowhere(URL_TOKEN)
}

fn record_of(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("record.json")).expect("record.json"))
        .expect("record.json is JSON")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list the evidence directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `evidence verify --replay` of `dir` against the repository at `repo`.
fn replay(dir: &Path, repo: impl AsRef<std::ffi::OsStr>) -> Sentinel {
    check(dir).arg("--replay").arg("--repo").arg(repo)
}

/// `sha256sum -c SHA256SUMS` in `dir`: whether it accepts the record.
fn sha256sum_accepts(dir: &Path) -> bool {
    let out = Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .expect("run sha256sum (coreutils)");
    out.status.success()
}

/// Rewrite SHA256SUMS over the files it lists, as a forger would.
fn reseal(dir: &Path) {
    let out = Command::new("sha256sum")
        .args(["config.toml", "record.json"])
        .current_dir(dir)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "{}", context(&out));
    std::fs::write(dir.join("SHA256SUMS"), out.stdout).expect("write SHA256SUMS");
}

/// A copy of the evidence directory `src` at `dst`.
fn copy(src: &Path, dst: &Path) -> PathBuf {
    std::fs::create_dir_all(dst).expect("mkdir");
    for name in files_in(src) {
        std::fs::copy(src.join(&name), dst.join(&name)).expect("copy");
    }
    dst.to_path_buf()
}

/// Everything git says about the refs, HEAD, work tree and worktrees.
fn git_state(repo: &Repo) -> String {
    [
        repo.git(["for-each-ref"]),
        repo.git(["rev-parse", "HEAD"]),
        repo.git(["symbolic-ref", "-q", "HEAD"]),
        repo.git(["status", "--porcelain", "--untracked-files=all"]),
        repo.git(["worktree", "list", "--porcelain"]),
        repo.git(["config", "--local", "--list"]),
    ]
    .join("\n")
}

#[test]
fn a_gate_record_is_accepted_by_sha256sum_and_by_evidence_verify() {
    let repo = repo();
    let dir = repo.scratch().join("evidence");
    gate(&repo)
        .arg("--evidence")
        .arg(&dir)
        .stdout_has(SAFE)
        .stderr_has("the time is CI_FAKE_UTC=2026-03-01T12:00:00Z, not the clock")
        .safe();
    assert_eq!(files_in(&dir), ["SHA256SUMS", "config.toml", "record.json"]);
    assert!(sha256sum_accepts(&dir), "sha256sum -c refused the record");
    check(&dir)
        .stdout_has(row("digests", "OK"))
        .stdout_has(row("verdict", "OK"))
        .stdout_has("EVIDENCE: env=prod version=v1.0.0")
        .stdout_has("RELEASE_SENTINEL=SAFE (exit 0) follows from the 11 recorded rows")
        .stdout_has("| evidence                  | OK   | EVIDENCE=VERIFIED |")
        .stderr_empty()
        .safe();

    let doc = record_of(&dir);
    assert_eq!(doc["kind"], "gate");
    assert_eq!(doc["commit"], repo.head().as_str());
    assert_eq!(doc["recorded_at"], "2026-03-01T12:00:00Z");
    assert_eq!(doc["repository"]["branch"], "main");
    assert_eq!(doc["variables"]["GITHUB_RUN_ID"], "4711");
    assert_eq!(doc["variables"]["CI_FAKE_UTC"], "2026-03-01T12:00:00Z");
    let withheld: Vec<&str> = doc["withheld"]
        .as_array()
        .expect("withheld")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(withheld, ["DEPLOY_TOKEN", "UPSTREAM_VALUE", "URL_TOKEN"]);
    assert_eq!(doc["report"]["verdict"], "SAFE");
    assert_eq!(doc["report"]["exit_code"], 0);
    let ids: Vec<&str> = doc["report"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids[..POLICY_GATES.len()], *POLICY_GATES);
    assert_eq!(ids.last(), Some(&"api:svc"));
    assert!(doc["report"]["checks"][1]["details"]["head"].is_string());
    // The digest is that of the real config, which an auditor can match.
    let real = repo.path.join("release-sentinel.toml");
    let out = Command::new("sha256sum")
        .arg(&real)
        .output()
        .expect("sha256sum");
    let digest = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(doc["config"]["sha256"], digest.as_str());

    // The same inputs give the same bytes (the time is fixed here).
    let first = std::fs::read(dir.join("record.json")).expect("record");
    gate(&repo).arg("--evidence").arg(&dir).safe();
    assert_eq!(
        std::fs::read(dir.join("record.json")).expect("record"),
        first
    );
}

#[test]
fn no_secret_reaches_a_file_of_the_record_or_any_output() {
    let repo = repo();
    let dir = repo.scratch().join("evidence");
    gate(&repo).arg("--evidence").arg(&dir).safe();
    for name in files_in(&dir) {
        let text = std::fs::read_to_string(dir.join(&name)).expect("read");
        for secret in [TOKEN, HEADER_VALUE, URL_TOKEN] {
            assert!(!text.contains(secret), "{name} holds a secret:\n{text}");
        }
    }
    let redacted = std::fs::read_to_string(dir.join("config.toml")).expect("config.toml");
    assert!(
        redacted.contains(r#"headers = { Authorization = "***", "X-Upstream-Key" = "***" }"#),
        "{redacted}"
    );
    assert!(redacted.contains("?access_token=***"), "{redacted}");
    assert!(
        redacted.contains(r#"required = ["DEPLOY_TOKEN"]"#),
        "{redacted}"
    );
    let doc = record_of(&dir);
    assert_eq!(doc["config"]["redacted"], true);
    replay(&dir, &repo.path).args(["--format", "json"]).safe();
}

/// The record's clean_tree row made to say FAIL, the rest as written.
fn flip_clean_tree(dir: &Path) {
    let text = std::fs::read_to_string(dir.join("record.json")).expect("read");
    let edited = text.replacen(
        "\"status\": \"OK\",\n        \"message\": \"no uncommitted",
        "\"status\": \"FAIL\",\n        \"message\": \"no uncommitted",
        1,
    );
    assert_ne!(edited, text, "the clean_tree row was not found");
    std::fs::write(dir.join("record.json"), &edited).expect("write");
}

/// One way of tampering with a sealed record (in a copy of it, in the
/// folder `dir`), and what `evidence verify` must then say; it fails.
struct Tampering {
    dir: &'static str,
    tamper: fn(&Path),
    rows: &'static [(&'static str, &'static str)],
    has: &'static [&'static str],
}

#[test]
fn tampering_is_named_and_fails() {
    let repo = repo();
    let sealed = repo.scratch().join("sealed");
    gate(&repo).arg("--evidence").arg(&sealed).safe();
    let scratch = repo.scratch();
    let rows = [
        // A row's status changed.
        Tampering {
            dir: "status",
            tamper: |dir| {
                flip_clean_tree(dir);
                assert!(!sha256sum_accepts(dir));
            },
            rows: &[("verdict", "FAIL")],
            has: &[
                "| digests                   | FAIL | modified: record.json |",
                "EVIDENCE=FAILED",
            ],
        },
        // Its bytes changed, nothing else.
        Tampering {
            dir: "bytes",
            tamper: |dir| {
                let mut bytes = std::fs::read(dir.join("record.json")).expect("read");
                bytes.push(b' ');
                std::fs::write(dir.join("record.json"), bytes).expect("write");
            },
            rows: &[("verdict", "OK")],
            has: &["| digests                   | FAIL | modified: record.json |"],
        },
        // A file deleted...
        Tampering {
            dir: "deleted",
            tamper: |dir| std::fs::remove_file(dir.join("config.toml")).expect("rm"),
            rows: &[],
            has: &["| digests                   | FAIL | missing: config.toml |"],
        },
        // ... and dropped from the manifest too: the record still names it.
        Tampering {
            dir: "dropped",
            tamper: |dir| {
                std::fs::remove_file(dir.join("config.toml")).expect("rm");
                let out = Command::new("sha256sum")
                    .arg("record.json")
                    .current_dir(dir)
                    .output()
                    .expect("sha256sum");
                std::fs::write(dir.join("SHA256SUMS"), out.stdout).expect("write");
            },
            rows: &[],
            has: &["| digests                   | FAIL | SHA256SUMS does not cover config.toml |"],
        },
        // A file added.
        Tampering {
            dir: "added",
            tamper: |dir| std::fs::write(dir.join("notes.txt"), "approved\n").expect("write"),
            rows: &[],
            has: &["| digests                   | FAIL | not in the manifest: notes.txt |"],
        },
        // The manifest gone: a record whose writing did not finish.
        Tampering {
            dir: "unsealed",
            tamper: |dir| std::fs::remove_file(dir.join("SHA256SUMS")).expect("rm"),
            rows: &[],
            has: &["SHA256SUMS: no such file: the record is incomplete"],
        },
        // A verdict that does not follow from the rows, the digests made
        // to match: the digests pass, the verdict does not.
        Tampering {
            dir: "forged",
            tamper: |dir| {
                flip_clean_tree(dir);
                reseal(dir);
                assert!(sha256sum_accepts(dir));
            },
            rows: &[("digests", "OK")],
            has: &[
                "| verdict                   | FAIL | the record says RELEASE_SENTINEL=SAFE (exit 0), \
                 but its 11 rows give RELEASE_SENTINEL=BLOCKED (exit 1) (clean_tree FAIL) |",
            ],
        },
        // The other way round: a blocked run's verdict rewritten to SAFE.
        Tampering {
            dir: "upgraded",
            tamper: |dir| {
                let text = std::fs::read_to_string(dir.join("record.json")).expect("read");
                std::fs::write(
                    dir.join("record.json"),
                    text.replace("\"exit_code\": 0", "\"exit_code\": 2"),
                )
                .expect("write");
                reseal(dir);
            },
            rows: &[("verdict", "FAIL")],
            has: &[],
        },
    ];
    each_row(
        &rows,
        |r| r.dir,
        |r| {
            let dir = copy(&sealed, &scratch.join(r.dir));
            (r.tamper)(&dir);
            let mut s = check(&dir);
            for (id, status) in r.rows {
                s = s.stdout_has(row(id, status));
            }
            for text in r.has {
                s = s.stdout_has(*text);
            }
            s.blocked();
        },
    );
}

#[test]
fn a_read_only_evidence_directory_fails_the_run_and_leaves_nothing() {
    let repo = repo();
    let dir = repo.scratch().join("read-only");
    std::fs::create_dir(&dir).expect("mkdir");
    let chmod = |mode: &str| {
        let ok = Command::new("chmod")
            .arg(mode)
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "chmod {mode}");
    };
    chmod("0500");
    // Root ignores file modes: the run is held to them.
    let out = held_to_file_modes()
        .dir(&repo.path)
        .env("DEPLOY_TOKEN", TOKEN)
        .env("UPSTREAM_VALUE", HEADER_VALUE)
        .env("URL_TOKEN", URL_TOKEN)
        .gate("prod", "v1.0.0")
        .arg("--evidence")
        .arg(&dir)
        .nowhere(TOKEN)
        .nowhere(HEADER_VALUE)
        .nowhere(URL_TOKEN)
        .stdout_has(row("clean_tree", "OK"))
        .stdout_has("RELEASE_SENTINEL=BLOCKED")
        .blocked();
    chmod("0700");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        format!(
            "release-sentinel: error: cannot write evidence to {}: Permission denied (os error 13)\n",
            dir.display()
        ),
        "{}",
        context(&out)
    );
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));
}

#[test]
fn a_directory_holding_other_files_is_refused_and_dry_run_takes_no_evidence() {
    let repo = repo();
    let dir = repo.scratch().join("busy");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("other.txt"), "x").expect("write");
    gate(&repo)
        .arg("--evidence")
        .arg(&dir)
        .stderr_has(format!(
            "cannot write evidence to {}: it holds files that are not part of an evidence record (other.txt)",
            dir.display()
        ))
        .stdout_has("RELEASE_SENTINEL=BLOCKED")
        .blocked();
    assert_eq!(files_in(&dir), ["other.txt"]);
    gate(&repo)
        .args(["--dry-run", "--evidence"])
        .arg(repo.scratch().join("pack"))
        .stderr_has("the argument '--dry-run' cannot be used with '--evidence <DIR>'")
        .blocked();
}

#[test]
fn replay_at_the_recorded_commit_matches_after_the_repository_moved_on() {
    let repo = repo();
    let dir = repo.scratch().join("evidence");
    gate(&repo).arg("--evidence").arg(&dir).safe();
    // New commits, a dirty work tree: HEAD and the tree are not what was
    // recorded any more.
    repo.write("src/later.rs", "fn later() {}\n");
    repo.commit_all("later");
    repo.write("README", "changed\n");
    repo.write("untracked.txt", "x\n");
    let before = git_state(&repo);
    replay(&dir, &repo.path)
        .stdout_has(row("replay", "OK"))
        .stdout_has(format!(
            "the 10 policy rows re-run at {} in {} match the record (DEPLOY_TOKEN, UPSTREAM_VALUE, URL_TOKEN withheld, replayed as \"***\")",
            &record_of(&dir)["commit"].as_str().unwrap_or_default()[..7],
            repo.path.display()
        ))
        .stderr_empty()
        .safe();
    // The repository is as it was: refs, HEAD, work tree, worktrees and
    // config.
    assert_eq!(git_state(&repo), before);
}

#[test]
fn replay_names_the_rows_that_now_differ() {
    let repo = repo();
    let dir = repo.scratch().join("evidence");
    // Recorded from a dirty tree: clean_tree failed.
    repo.write("stray.txt", "x\n");
    gate(&repo)
        .arg("--evidence")
        .arg(&dir)
        .stdout_has(row("clean_tree", "FAIL"))
        .blocked();
    check(&dir).safe();
    // Since: the tree cleaned, and the version tagged.
    std::fs::remove_file(repo.path.join("stray.txt")).expect("rm");
    repo.tag("v1.0.0");
    replay(&dir, &repo.path)
        .stdout_has(row("digests", "OK"))
        .stdout_has(row("verdict", "OK"))
        .stdout_has(
            "| replay:clean_tree         | FAIL | recorded FAIL (1 uncommitted change: stray.txt (untracked); \
             commit or stash them), now OK (no uncommitted changes (ignored files do not count)) |",
        )
        .stdout_has("| replay:tag_absent         | FAIL | recorded OK (no tag v1.0.0 yet (0 tags in this clone)), now FAIL (tag v1.0.0 already exists")
        .stdout_has(row("replay:version_newer", "FAIL"))
        .stdout_lacks(row("replay:branch_allowed", "FAIL"))
        .stdout_lacks(row("replay", "OK"))
        .blocked();
}

#[test]
fn replay_of_a_detached_ci_checkout_uses_the_recorded_ci_variables() {
    let repo = repo();
    let head = repo.head();
    repo.git(["checkout", "-q", "--detach", &head]);
    let dir = repo.scratch().join("evidence");
    gate(&repo)
        .env("GITHUB_REF", "refs/heads/main")
        .arg("--evidence")
        .arg(&dir)
        .stdout_has("branch from GITHUB_REF")
        .safe();
    assert_eq!(record_of(&dir)["repository"]["branch"], Value::Null);
    repo.git(["checkout", "-q", "main"]);
    repo.write("more.txt", "x\n");
    repo.commit_all("more");
    replay(&dir, &repo.path)
        .stdout_has(row("replay", "OK"))
        .safe();
}

#[test]
fn replay_of_a_commit_the_repository_lacks_fails_clearly() {
    let repo = repo();
    let dir = repo.scratch().join("evidence");
    gate(&repo).arg("--evidence").arg(&dir).safe();
    let commit = repo.head();
    let other = Repo::new();
    replay(&dir, &other.path)
        .stdout_has(format!(
            "| replay                    | FAIL | commit {commit} is not in the repository at {}: fetch it",
            other.path.display()
        ))
        .blocked();
    // Not a repository at all.
    replay(&dir, other.scratch())
        .stdout_has(row("replay", "FAIL"))
        .stdout_has("is not inside a git work tree")
        .blocked();
}

/// A repository whose `[verify]` probes the shared health endpoint.
pub fn probing_repo() -> Repo {
    Repo::with_config(&format!(
        "[verify]\nfor = \"1s\"\ninterval = \"1s\"\n\n[[verify.probe]]\nname = \"health\"\nurl = {}\n",
        toml_str(health_url())
    ))
}

/// `verify --once` in `repo`, writing its evidence to `dir`.
pub fn verify_once_with_evidence(repo: &Repo, dir: &Path) -> Sentinel {
    Sentinel::new()
        .dir(&repo.path)
        .args(["verify", "--env", "prod", "--version", "v1.0.0", "--once"])
        .arg("--evidence")
        .arg(dir)
}

#[test]
fn verify_writes_evidence_too() {
    let repo = probing_repo();
    let dir = repo.scratch().join("evidence");
    verify_once_with_evidence(&repo, &dir)
        .stdout_has("| verify                    | OK   | VERIFY=HEALTHY |")
        .safe();
    assert!(sha256sum_accepts(&dir));
    let doc = record_of(&dir);
    assert_eq!(doc["kind"], "verify");
    assert_eq!(doc["report"]["verdict"], "HEALTHY");
    check(&dir)
        .stdout_has("VERIFY=HEALTHY (exit 0) follows from the 1 recorded rows by the verify rule")
        .safe();
    // A verify record has no policy rows: a replay has nothing to re-run,
    // and that is not a pass.
    replay(&dir, &repo.path)
        .stdout_has(
            "| replay                    | SKIP | the record is a verify report, with no policy rows to re-run |",
        )
        .blocked();
}

#[test]
fn replay_compares_what_a_row_judged_not_its_prose() {
    let repo = repo();
    repo.tag("v0.9.0");
    let dir = repo.scratch().join("evidence");
    gate(&repo).arg("--evidence").arg(&dir).safe();
    // Each recorded row carries the facts it judged, not the counts
    // around them.
    let doc = record_of(&dir);
    let tag_row = &doc["report"]["checks"][5];
    assert_eq!(tag_row["id"], "tag_absent");
    assert_eq!(
        tag_row["message"],
        "no tag v1.0.0 yet (1 tags in this clone)"
    );
    assert_eq!(
        tag_row["facts"],
        serde_json::json!({ "status": "OK", "details": {} })
    );
    assert_eq!(
        doc["report"]["checks"][6]["facts"]["details"]["highest"],
        "v0.9.0"
    );
    // A new, unrelated tag: tag_absent now counts 2 tags, and says so,
    // but what it judged (no tag v1.0.0) is the same; so is
    // version_newer's highest version.
    repo.tag("nightly");
    replay(&dir, &repo.path)
        .stdout_has(row("replay", "OK"))
        .safe();
    // A higher version tag: version_newer compares with another version,
    // a different fact, though it still passes.
    repo.tag("v0.9.5");
    replay(&dir, &repo.path)
        .stdout_has("| replay:version_newer      | FAIL | recorded OK (v1.0.0 is newer than v0.9.0")
        .stdout_lacks("replay:tag_absent")
        .blocked();
}

/// Rewrite `record.json`'s rows with `edit`, then SHA256SUMS, as a forger
/// would.
fn edit_rows(dir: &Path, edit: impl FnOnce(&mut Vec<Value>)) {
    let mut doc = record_of(dir);
    let rows = doc["report"]["checks"].as_array_mut().expect("checks");
    edit(rows);
    let text = serde_json::to_string_pretty(&doc).expect("json") + "\n";
    std::fs::write(dir.join("record.json"), text).expect("write");
    reseal(dir);
}

#[test]
fn a_record_without_the_rows_its_kind_always_has_fails() {
    let repo = repo();
    let sealed = repo.scratch().join("sealed");
    gate(&repo).arg("--evidence").arg(&sealed).safe();
    let scratch = repo.scratch();

    // Every row removed: the rule would hold over nothing.
    let dir = copy(&sealed, &scratch.join("no-rows"));
    edit_rows(&dir, Vec::clear);
    check(&dir)
        .stdout_has(row("digests", "OK"))
        .stdout_has(
            "| verdict                   | FAIL | the record has no rows and no error: a gate run always records rows (were they removed?) |",
        )
        .stdout_has("EVIDENCE=FAILED")
        .blocked();

    // The failing rows removed, the rest kept.
    let dir = copy(&sealed, &scratch.join("no-tag-row"));
    edit_rows(&dir, |rows| {
        rows.retain(|r| r["id"] != "tag_absent" && r["id"] != "clean_tree");
    });
    check(&dir)
        .stdout_has(
            "| verdict                   | FAIL | the record lacks rows a gate run always has: clean_tree, tag_absent (were they removed?) |",
        )
        .blocked();

    // A health row removed is not caught by this (which health checks ran
    // depends on the configuration), but the verdict still follows.
    let dir = copy(&sealed, &scratch.join("no-health-row"));
    edit_rows(&dir, |rows| rows.retain(|r| r["id"] != "api:svc"));
    check(&dir).stdout_has(row("verdict", "OK")).safe();
}
