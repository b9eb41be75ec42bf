//! The report on stdout: the exact table layout, determinism, ASCII, logs
//! kept on stderr, and the JSON document's fields.

use serde_json::Value;

use crate::harness::{Repo, Sentinel, json_check, json_of, row};

const GATE_ORDER: &[&str] = &[
    "env_allowed",
    "git_repo",
    "clean_tree",
    "branch_allowed",
    "version_valid",
    "tag_absent",
    "version_newer",
    "required_config",
];

/// A repository in a mixed state: some gates pass, some fail.
fn blocked_repo() -> Repo {
    let repo = Repo::new();
    repo.tag("v1.0.0");
    repo.write("a.txt", "untracked\n");
    repo.write("README", "modified\n");
    repo
}

#[test]
fn table_layout_is_exact() {
    let repo = Repo::new();
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .status(0)
        .run();
    let text = String::from_utf8(out.stdout).expect("UTF-8 stdout");
    assert!(text.ends_with('\n'), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let eq = "=".repeat(60);
    let dash = "-".repeat(60);
    assert_eq!(lines.len(), 4 + GATE_ORDER.len() + 4, "{text}");
    assert_eq!(lines[0], eq, "{text}");
    assert_eq!(
        lines[1], "RELEASE SENTINEL: env=prod version=v1.2.3",
        "{text}"
    );
    assert_eq!(lines[2], eq, "{text}");
    assert_eq!(lines[3], "", "{text}");
    for (i, id) in GATE_ORDER.iter().enumerate() {
        let line = lines[4 + i];
        let prefix = format!("| {id:<25} | OK   | ");
        assert!(line.starts_with(&prefix), "row {i} is not {id}: {line}");
        assert!(line.ends_with(" |"), "{line}");
        assert!(line.len() > prefix.len() + 2, "empty message: {line}");
    }
    let after = 4 + GATE_ORDER.len();
    assert_eq!(lines[after], "", "{text}");
    assert_eq!(lines[after + 1], dash, "{text}");
    assert_eq!(
        lines[after + 2],
        "| release_sentinel          | OK   | RELEASE_SENTINEL=SAFE |",
        "{text}"
    );
    assert_eq!(lines[after + 3], dash, "{text}");
}

#[test]
fn blocked_table_has_the_same_layout_and_final_row() {
    let repo = blocked_repo();
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .status(1)
        .run();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 16, "{text}");
    assert_eq!(
        lines[14],
        "| release_sentinel          | FAIL | RELEASE_SENTINEL=BLOCKED |"
    );
    for (i, id) in GATE_ORDER.iter().enumerate() {
        assert!(
            lines[4 + i].starts_with(&format!("| {id:<25} | ")),
            "row {i} is not {id}: {text}"
        );
    }
    // Every row's status is one of the five words, padded to 4.
    for line in &lines[4..12] {
        let status = &line[30..34];
        assert!(
            ["OK  ", "WARN", "FAIL", "CRIT", "SKIP"].contains(&status),
            "{line}"
        );
    }
}

#[test]
fn rows_come_in_gate_order_even_when_gates_fail() {
    let dir = tempfile::tempdir().unwrap();
    let out = Sentinel::new()
        .dir(dir.path())
        .gate("production", "bad")
        .status(1)
        .run();
    let text = String::from_utf8_lossy(&out.stdout);
    let ids: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| "))
        .map(|l| l[2..27].trim_end())
        .collect();
    let mut expected = GATE_ORDER.to_vec();
    expected.push("release_sentinel");
    assert_eq!(ids, expected, "{text}");
}

#[test]
fn two_runs_give_the_same_table_bytes() {
    let repo = blocked_repo();
    let run = || {
        Sentinel::in_repo(&repo)
            .gate("prod", "v1.0.0")
            .status(1)
            .run()
            .stdout
    };
    let first = run();
    let second = run();
    assert!(!first.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second)
    );
}

fn without_durations(mut doc: Value) -> Value {
    for check in doc["checks"].as_array_mut().expect("checks") {
        check
            .as_object_mut()
            .expect("check object")
            .remove("duration_ms");
    }
    doc
}

#[test]
fn two_runs_give_the_same_json_but_for_durations() {
    let repo = blocked_repo();
    let run = || {
        let out = Sentinel::in_repo(&repo)
            .gate("prod", "v1.0.0")
            .args(["--format", "json"])
            .status(1)
            .run();
        without_durations(json_of(&out))
    };
    assert_eq!(run(), run());
}

#[test]
fn every_line_is_ascii_even_with_foreign_input() {
    let repo = Repo::new();
    repo.git(["checkout", "-q", "-b", "feature/caf\u{e9}-\u{1f680}"]);
    repo.write("na\u{ef}ve-\u{65e5}\u{672c}.txt", "x\n");
    let out = Sentinel::in_repo(&repo)
        .gate("pr\u{f6}d", "v\u{661}.\u{662}.\u{663}\u{1b}[31m")
        .status(1)
        .stdout_has(row("env_allowed", "FAIL"))
        .stdout_has(row("clean_tree", "FAIL"))
        .stdout_has(row("branch_allowed", "FAIL"))
        .stdout_has(row("version_valid", "FAIL"))
        .run();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        assert!(line.is_ascii(), "not ASCII: {line:?}");
        assert!(
            !line.chars().any(|c| c.is_control()),
            "control character in {line:?}"
        );
    }
}

#[test]
fn long_messages_stay_on_one_capped_line() {
    let repo = Repo::new();
    // 240 characters: long, but still a valid file name for the ref.
    let long = "x".repeat(240);
    repo.git(["checkout", "-q", "-b", &format!("feature/{long}")]);
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .status(1)
        .stdout_has(row("branch_allowed", "FAIL"))
        .run();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("| branch_allowed"))
        .unwrap();
    assert!(!line.contains(&long), "message not capped: {line}");
    assert!(
        line.len() <= 250,
        "message not capped: {} chars",
        line.len()
    );
    assert!(line.ends_with("... |"), "{line}");
    assert_eq!(text.lines().count(), 16, "{text}");
}

#[test]
fn verbose_logs_go_to_stderr_only() {
    let repo = blocked_repo();
    let plain = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .status(1)
        .stderr_empty()
        .run();
    let verbose = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .arg("-vvv")
        .status(1)
        .stderr_has("DEBUG")
        .run();
    assert_eq!(
        String::from_utf8_lossy(&plain.stdout),
        String::from_utf8_lossy(&verbose.stdout)
    );
    let traced = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .env("RUST_LOG", "trace")
        .status(1)
        .stderr_has("DEBUG")
        .run();
    assert_eq!(
        String::from_utf8_lossy(&plain.stdout),
        String::from_utf8_lossy(&traced.stdout)
    );
}

#[test]
fn verbose_json_stdout_is_still_one_json_document() {
    let repo = blocked_repo();
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .args(["--format", "json", "-vvv"])
        .env("RUST_LOG", "trace")
        .status(1)
        .stderr_has("DEBUG")
        .run();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "BLOCKED");
}

#[test]
fn quiet_prints_no_logs() {
    let repo = blocked_repo();
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .arg("-q")
        .status(1)
        .stdout_has("RELEASE_SENTINEL=BLOCKED")
        .stderr_empty()
        .run();
}

#[test]
fn json_has_every_documented_field() {
    let repo = Repo::new();
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .args(["--format", "json"])
        .status(0)
        .stderr_empty()
        .run();
    let doc = json_of(&out);
    assert!(doc["schema_version"].is_u64(), "{doc:#}");
    assert_eq!(doc["tool_version"], env!("CARGO_PKG_VERSION"), "{doc:#}");
    assert_eq!(doc["env"], "prod", "{doc:#}");
    assert_eq!(doc["version"], "v1.2.3", "{doc:#}");
    assert_eq!(doc["commit"], repo.head().as_str(), "{doc:#}");
    assert_eq!(doc["verdict"], "SAFE", "{doc:#}");
    assert_eq!(doc["exit_code"], 0, "{doc:#}");
    let checks = doc["checks"].as_array().expect("checks array");
    let ids: Vec<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, GATE_ORDER, "{doc:#}");
    for c in checks {
        assert_eq!(c["phase"], "policy", "{c:#}");
        assert_eq!(c["status"], "OK", "{c:#}");
        assert!(
            c["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{c:#}"
        );
        assert!(c["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{c:#}");
        assert!(c["details"].is_object(), "{c:#}");
    }
}

#[test]
fn json_statuses_and_exit_code_match_the_table() {
    let repo = blocked_repo();
    let table = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .status(1)
        .run();
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .args(["--format", "json"])
        .status(1)
        .run();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "BLOCKED", "{doc:#}");
    assert_eq!(doc["exit_code"], 1, "{doc:#}");
    let text = String::from_utf8_lossy(&table.stdout);
    for id in GATE_ORDER {
        let status = json_check(&doc, id)["status"].as_str().unwrap().to_string();
        assert!(
            text.contains(&row(id, &status)),
            "{id} is {status} in JSON but not in the table:\n{text}"
        );
    }
    assert_eq!(json_check(&doc, "clean_tree")["status"], "FAIL");
    assert_eq!(json_check(&doc, "tag_absent")["status"], "FAIL");
}

#[test]
fn json_commit_is_null_without_commits() {
    let repo = Repo::empty();
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .args(["--format", "json"])
        .status(1)
        .run();
    let doc = json_of(&out);
    assert!(doc["commit"].is_null(), "{doc:#}");
    assert_eq!(json_check(&doc, "git_repo")["status"], "FAIL");
    assert_eq!(doc["verdict"], "BLOCKED");
}
