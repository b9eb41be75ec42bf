//! The report on stdout: the exact table layout, determinism, ASCII, logs
//! kept on stderr, and the JSON document's fields.

use crate::harness::{
    POLICY_GATES, Repo, Sentinel, health_url, json_check, json_of, own_process_name, row, toml_str,
    without_durations,
};

/// The embedded default's health rows, in declared order, after the
/// policy rows.
fn health_ids() -> Vec<String> {
    vec![
        "disk:/".to_string(),
        "memory".to_string(),
        format!("process:{}", own_process_name()),
        "api:RS_API_URL".to_string(),
    ]
}

/// Lines in a table: 4 of header, one per row, 4 of footer.
fn table_lines() -> usize {
    4 + POLICY_GATES.len() + health_ids().len() + 4
}

/// The id of a row line (ids longer than 25 characters are not padded).
fn id_of(line: &str) -> &str {
    line.strip_prefix("| ")
        .and_then(|l| l.split(" | ").next())
        .map_or("", str::trim_end)
}

/// The status and message of a row line that starts with `id`.
fn cells<'a>(line: &'a str, id: &str) -> (&'a str, &'a str) {
    let prefix = format!("| {id:<25} | ");
    assert!(line.starts_with(&prefix), "row is not {id}: {line}");
    assert!(line.ends_with(" |"), "{line}");
    let rest = &line[prefix.len()..line.len() - 2];
    (rest[..4].trim_end(), rest.get(7..).unwrap_or(""))
}

/// The percentage that starts a disk or memory message (`16.3% used...`).
fn used_percent(message: &str) -> f64 {
    let (number, _) = message
        .split_once("% used")
        .unwrap_or_else(|| panic!("no \"% used\" in {message}"));
    number
        .parse()
        .unwrap_or_else(|_| panic!("no percentage in {message}"))
}

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
    let out = Sentinel::in_repo(&repo).gate("prod", "v1.2.3").safe();
    let text = String::from_utf8(out.stdout).expect("UTF-8 stdout");
    assert!(text.ends_with('\n'), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let eq = "=".repeat(60);
    let dash = "-".repeat(60);
    assert_eq!(lines.len(), table_lines(), "{text}");
    assert_eq!(lines[0], eq, "{text}");
    assert_eq!(
        lines[1], "RELEASE SENTINEL: env=prod version=v1.2.3",
        "{text}"
    );
    assert_eq!(lines[2], eq, "{text}");
    assert_eq!(lines[3], "", "{text}");
    for (i, id) in POLICY_GATES.iter().enumerate() {
        let line = lines[4 + i];
        let prefix = format!("| {id:<25} | OK   | ");
        assert!(line.starts_with(&prefix), "row {i} is not {id}: {line}");
        assert!(line.ends_with(" |"), "{line}");
        assert!(line.len() > prefix.len() + 2, "empty message: {line}");
    }
    // The health rows, in declared order. Disk and memory depend on the
    // host (WARN is possible, and the numbers are live): compare their
    // structure.
    let first = 4 + POLICY_GATES.len();
    let ids = health_ids();
    for (i, id) in ids.iter().enumerate() {
        let (status, message) = cells(lines[first + i], id);
        match i {
            0 => {
                assert!(["OK", "WARN"].contains(&status), "{text}");
                let pct = used_percent(message);
                assert!((0.0..=100.0).contains(&pct), "{message}");
                assert!(message.contains("% used, "), "{message}");
                // The host it read, then the thresholds.
                assert!(message.contains(" free on "), "{message}");
                assert!(message.ends_with(" (warn 75%, crit 85%)"), "{message}");
            }
            1 => {
                assert!(["OK", "WARN"].contains(&status), "{text}");
                let pct = used_percent(message);
                assert!((0.0..=100.0).contains(&pct), "{message}");
                assert!(message.contains("% used of "), "{message}");
                assert!(
                    message.ends_with(" (host; warn 70%, crit 85%)")
                        || message.ends_with(" (cgroup limit; warn 70%, crit 85%)"),
                    "{message}"
                );
            }
            2 => {
                assert_eq!(status, "OK", "{text}");
                let running = format!("{} is running (", own_process_name());
                assert!(message.starts_with(&running), "{message}");
            }
            _ => {
                assert_eq!(status, "OK", "{text}");
                assert_eq!(
                    message,
                    format!("GET {} -> 200 in 1 attempt", health_url()),
                    "{text}"
                );
            }
        }
    }
    let after = first + ids.len();
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
    let out = Sentinel::in_repo(&repo).gate("prod", "v1.0.0").blocked();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), table_lines(), "{text}");
    assert_eq!(
        lines[table_lines() - 2],
        "| release_sentinel          | FAIL | RELEASE_SENTINEL=BLOCKED |"
    );
    for (i, id) in POLICY_GATES.iter().enumerate() {
        assert!(
            lines[4 + i].starts_with(&format!("| {id:<25} | ")),
            "row {i} is not {id}: {text}"
        );
    }
    // Every policy row's status is one of the five words, padded to 4.
    for line in &lines[4..4 + POLICY_GATES.len()] {
        let status = &line[30..34];
        assert!(
            ["OK  ", "WARN", "FAIL", "CRIT", "SKIP"].contains(&status),
            "{line}"
        );
    }
    // A policy gate failed: the health rows follow, in declared order,
    // not evaluated.
    for (i, id) in health_ids().iter().enumerate() {
        let (status, message) = cells(lines[4 + POLICY_GATES.len() + i], id);
        assert_eq!(status, "SKIP", "{text}");
        assert_eq!(
            message, "not evaluated: a policy gate did not pass",
            "{text}"
        );
    }
}

#[test]
fn rows_come_in_gate_order_even_when_gates_fail() {
    let dir = tempfile::tempdir().unwrap();
    let out = Sentinel::new()
        .dir(dir.path())
        .gate("production", "bad")
        .blocked();
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| ")).collect();
    let ids: Vec<&str> = rows.iter().map(|l| id_of(l)).collect();
    // The policy gates, then the embedded default's health rows. The
    // process name comes from RS_REQUIRED_PROCESS, which is unset here, so
    // only the prefix of that id is fixed.
    let n = POLICY_GATES.len();
    assert_eq!(ids.len(), n + 5, "{text}");
    assert_eq!(&ids[..n], POLICY_GATES, "{text}");
    assert_eq!(ids[n], "disk:/", "{text}");
    assert_eq!(ids[n + 1], "memory", "{text}");
    assert!(ids[n + 2].starts_with("process:"), "{text}");
    assert_eq!(ids[n + 3], "api:RS_API_URL", "{text}");
    assert_eq!(ids[n + 4], "release_sentinel", "{text}");
    for line in &rows[n..n + 4] {
        assert_eq!(
            &line[line.find(" | ").unwrap() + 3..][..4],
            "SKIP",
            "{text}"
        );
    }
}

#[test]
fn two_runs_give_the_same_table_bytes() {
    let repo = blocked_repo();
    let run = || {
        Sentinel::in_repo(&repo)
            .gate("prod", "v1.0.0")
            .blocked()
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

#[test]
fn two_runs_give_the_same_json_but_for_durations() {
    let repo = blocked_repo();
    let run = || {
        let out = Sentinel::in_repo(&repo)
            .gate("prod", "v1.0.0")
            .args(["--format", "json"])
            .blocked();
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
        .stdout_has(row("env_allowed", "FAIL"))
        .stdout_has(row("clean_tree", "FAIL"))
        .stdout_has(row("branch_allowed", "FAIL"))
        .stdout_has(row("version_valid", "FAIL"))
        .blocked();
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
        .stdout_has(row("branch_allowed", "FAIL"))
        .blocked();
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
    assert_eq!(text.lines().count(), table_lines(), "{text}");
}

#[test]
fn verbose_logs_go_to_stderr_only() {
    let repo = blocked_repo();
    let plain = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stderr_empty()
        .blocked();
    let verbose = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .arg("-vvv")
        .stderr_has("DEBUG")
        .blocked();
    assert_eq!(
        String::from_utf8_lossy(&plain.stdout),
        String::from_utf8_lossy(&verbose.stdout)
    );
    let traced = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .env("RUST_LOG", "trace")
        .stderr_has("DEBUG")
        .blocked();
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
        .stderr_has("DEBUG")
        .blocked();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "BLOCKED");
}

#[test]
fn quiet_prints_no_logs() {
    let repo = blocked_repo();
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .arg("-q")
        .stdout_has("RELEASE_SENTINEL=BLOCKED")
        .stderr_empty()
        .blocked();
}

#[test]
fn json_has_every_documented_field() {
    let repo = Repo::new();
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .args(["--format", "json"])
        .stderr_empty()
        .safe();
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
    let mut expected: Vec<String> = POLICY_GATES.iter().map(|s| s.to_string()).collect();
    expected.extend(health_ids());
    assert_eq!(ids, expected, "{doc:#}");
    for (i, c) in checks.iter().enumerate() {
        if i < POLICY_GATES.len() {
            assert_eq!(c["phase"], "policy", "{c:#}");
            assert_eq!(c["status"], "OK", "{c:#}");
        } else {
            assert_eq!(c["phase"], "health", "{c:#}");
            // Disk and memory depend on the host.
            let allowed: &[&str] = if i < POLICY_GATES.len() + 2 {
                &["OK", "WARN"]
            } else {
                &["OK"]
            };
            assert!(
                c["status"].as_str().is_some_and(|s| allowed.contains(&s)),
                "{c:#}"
            );
        }
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
    let table = Sentinel::in_repo(&repo).gate("prod", "v1.0.0").blocked();
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .args(["--format", "json"])
        .blocked();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "BLOCKED", "{doc:#}");
    assert_eq!(doc["exit_code"], 1, "{doc:#}");
    let text = String::from_utf8_lossy(&table.stdout);
    for id in POLICY_GATES {
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
        .blocked();
    let doc = json_of(&out);
    assert!(doc["commit"].is_null(), "{doc:#}");
    assert_eq!(json_check(&doc, "git_repo")["status"], "FAIL");
    assert_eq!(doc["verdict"], "BLOCKED");
}

#[test]
fn debug_logs_give_every_gate_its_status_and_timing() {
    let repo = Repo::new();
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .arg("-vv")
        .safe();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for gate in [
        "env_allowed",
        "clean_tree",
        "version_newer",
        "changelog_entry",
    ] {
        let line = stderr
            .lines()
            .find(|l| {
                l.contains(&format!("gate=\"{gate}\"")) || l.contains(&format!("gate={gate}"))
            })
            .unwrap_or_else(|| panic!("no log line for {gate}:\n{stderr}"));
        assert!(
            line.contains("status=") && line.contains("elapsed_ms="),
            "{gate}'s line lacks its status or timing: {line}"
        );
    }
    for check in health_ids() {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&check) && l.contains("status=") && l.contains("elapsed_ms=")),
            "no status and timing for {check}:\n{stderr}"
        );
    }
}

const FORGED: &str = "::error::forged";

fn no_forged_line(text: &str) {
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("::error::forged"),
            "forged line: {line:?}\n{text}"
        );
    }
}

#[test]
fn a_file_name_with_a_line_break_forges_no_line() {
    let repo = Repo::new();
    repo.write(&format!("x\n{FORGED}"), "planted\n");
    for args in [
        vec!["-vv"],
        vec!["--format", "junit"],
        vec!["--format", "markdown"],
        vec![],
    ] {
        let out = Sentinel::in_repo(&repo)
            .env("GITHUB_ACTIONS", "true")
            .gate("prod", "v1.0.0")
            .args(&args)
            .blocked();
        no_forged_line(&String::from_utf8_lossy(&out.stdout));
        no_forged_line(&String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn config_values_and_arguments_with_line_breaks_forge_no_line() {
    let repo = Repo::with_config(&format!(
        "environments = [{}]\n",
        toml_str(&format!("dev\n{FORGED}"))
    ));
    let out = Sentinel::in_repo(&repo).gate("dev", "v1.0.0").blocked();
    no_forged_line(&String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\\n::error::forged"));
    let out = Sentinel::in_repo(&repo)
        .gate("dev", "v1.0.0")
        .args(["--format", &format!("json\n{FORGED}")])
        .blocked();
    no_forged_line(&String::from_utf8_lossy(&out.stderr));
}
