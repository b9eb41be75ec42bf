//! The report formats and the CI around them: JUnit and Markdown, the
//! `--report` file, GitHub Actions annotations and the step summary.
//!
//! JUnit is parsed with a real XML parser (roxmltree) and compared with
//! the JSON report of the same run (written by `--report`).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{
    BLOCKED, CRITICAL, DEPLOY_TOKEN, POLICY_GATES, Reaper, Repo, SAFE, Sentinel, context,
    health_url, json_of, own_process_name, signal, toml_str, without_durations,
};
use crate::tools::{listing, mkfifo, text};

// ---------------------------------------------------------------- helpers

/// A folder for report files, outside the work tree.
fn reports_dir(repo: &Repo) -> PathBuf {
    let dir = repo.scratch().join("reports");
    std::fs::create_dir_all(&dir).expect("mkdir reports");
    dir
}

/// A report file, parsed.
fn read_json(path: &Path) -> Value {
    let data =
        std::fs::read(path).unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    serde_json::from_slice(&data).unwrap_or_else(|e| {
        panic!(
            "the report {} is not one JSON document ({e}):\n{}",
            path.display(),
            text(&data)
        )
    })
}

/// The rows of a JSON report: `checks` for the gate, `steps` for the pack.
pub(crate) fn rows_of(doc: &Value) -> &Vec<Value> {
    doc["checks"]
        .as_array()
        .or_else(|| doc["steps"].as_array())
        .unwrap_or_else(|| panic!("no checks or steps in {doc:#}"))
}

/// Each row of a JSON report as (id, status), in order.
fn statuses(doc: &Value) -> Vec<(&str, &str)> {
    rows_of(doc)
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or("?"),
                s["status"].as_str().unwrap_or("?"),
            )
        })
        .collect()
}

/// `s` without the characters XML 1.0 cannot carry (what the JUnit
/// renderer must drop).
fn xml_chars(s: &str) -> String {
    s.chars()
        .filter(|c| {
            ((*c as u32) >= 0x20 || matches!(c, '\t' | '\n' | '\r'))
                && !matches!(c, '\u{fffe}' | '\u{ffff}')
        })
        .collect()
}

// ------------------------------------------------------------------ JUnit

/// What a JUnit consumer sees of one test case.
#[derive(Debug)]
struct Case {
    name: String,
    /// "pass", "failure", "error" or "skipped".
    kind: &'static str,
    /// The `message` attribute of `failure`, `error` or `skipped`.
    message: Option<String>,
    /// The text of `failure` or `error`.
    body: Option<String>,
    system_out: String,
}

#[derive(Debug)]
struct Suite {
    name: String,
    cases: Vec<Case>,
}

fn count_attr(node: roxmltree::Node<'_, '_>, name: &str) -> usize {
    let value = node
        .attribute(name)
        .unwrap_or_else(|| panic!("<{}> has no {name}", node.tag_name().name()));
    value
        .parse()
        .unwrap_or_else(|e| panic!("{name}={value:?} is not a count: {e}"))
}

/// Parse a JUnit document with a real XML parser and check its structure
/// and that every count agrees with the elements it counts.
fn junit(xml: &str) -> Vec<Suite> {
    let doc =
        roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not valid XML ({e}):\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites", "{xml}");
    let mut suites = Vec::new();
    let mut totals = [0usize; 4];
    for s in root.children().filter(|n| n.is_element()) {
        assert_eq!(s.tag_name().name(), "testsuite", "{xml}");
        let mut cases = Vec::new();
        for c in s.children().filter(|n| n.is_element()) {
            assert_eq!(c.tag_name().name(), "testcase", "{xml}");
            let mut kind = "pass";
            let mut message = None;
            let mut body = None;
            let mut system_out = None;
            for e in c.children().filter(|n| n.is_element()) {
                match e.tag_name().name() {
                    k @ ("failure" | "error" | "skipped") => {
                        assert_eq!(kind, "pass", "two outcomes in one test case:\n{xml}");
                        kind = match k {
                            "failure" => "failure",
                            "error" => "error",
                            _ => "skipped",
                        };
                        message = e.attribute("message").map(str::to_string);
                        if k != "skipped" {
                            body = Some(e.text().unwrap_or("").to_string());
                        }
                    }
                    "system-out" => {
                        assert!(system_out.is_none(), "two system-out:\n{xml}");
                        system_out = Some(e.text().unwrap_or("").to_string());
                    }
                    other => panic!("unexpected <{other}> in a test case:\n{xml}"),
                }
            }
            cases.push(Case {
                name: c.attribute("name").expect("testcase name").to_string(),
                kind,
                message,
                body,
                system_out: system_out.unwrap_or_default(),
            });
        }
        let counts = [
            cases.len(),
            cases.iter().filter(|c| c.kind == "failure").count(),
            cases.iter().filter(|c| c.kind == "error").count(),
            cases.iter().filter(|c| c.kind == "skipped").count(),
        ];
        for (i, attr) in ["tests", "failures", "errors", "skipped"]
            .iter()
            .enumerate()
        {
            assert_eq!(
                count_attr(s, attr),
                counts[i],
                "suite {:?}: {attr} disagrees with its test cases:\n{xml}",
                s.attribute("name")
            );
            totals[i] += counts[i];
        }
        suites.push(Suite {
            name: s.attribute("name").expect("testsuite name").to_string(),
            cases,
        });
    }
    for (i, attr) in ["tests", "failures", "errors", "skipped"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            count_attr(root, attr),
            totals[i],
            "testsuites: {attr} is not the sum of its suites:\n{xml}"
        );
    }
    suites
}

/// The JUnit document agrees with the JSON report of the same run: one
/// suite per phase (in order), one case per row named by its id, the
/// outcome by status, failures and errors carrying the message.
fn assert_junit_matches(suites: &[Suite], doc: &Value, xml: &str) {
    let mut phases: Vec<String> = Vec::new();
    for r in rows_of(doc) {
        let p = r["phase"].as_str().expect("phase").to_string();
        if !phases.contains(&p) {
            phases.push(p);
        }
    }
    let names: Vec<&str> = suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, phases, "one suite per phase:\n{xml}");
    for suite in suites {
        let rows: Vec<&Value> = rows_of(doc)
            .iter()
            .filter(|r| r["phase"] == suite.name.as_str())
            .collect();
        assert_eq!(
            suite.cases.len(),
            rows.len(),
            "suite {}:\n{xml}",
            suite.name
        );
        for (case, r) in suite.cases.iter().zip(rows) {
            let id = xml_chars(r["id"].as_str().expect("id"));
            assert_eq!(case.name, id, "{xml}");
            let status = r["status"].as_str().expect("status");
            let message = xml_chars(r["message"].as_str().expect("message"));
            match status {
                "OK" | "WARN" => assert_eq!(case.kind, "pass", "{id}: {xml}"),
                "SKIP" => {
                    assert_eq!(case.kind, "skipped", "{id}: {xml}");
                    assert_eq!(case.message.as_deref(), Some(message.as_str()), "{xml}");
                }
                "FAIL" | "CRIT" => {
                    assert!(
                        case.kind == "failure" || case.kind == "error",
                        "{id} is {status} but {}: {xml}",
                        case.kind
                    );
                    assert!(!message.is_empty(), "{id}: {xml}");
                    assert_eq!(case.message.as_deref(), Some(message.as_str()), "{xml}");
                    assert_eq!(case.body.as_deref(), Some(message.as_str()), "{xml}");
                }
                other => panic!("unknown status {other} in {doc:#}"),
            }
            assert!(
                case.system_out.contains(status),
                "{id}: system-out lacks the status: {xml}"
            );
        }
    }
}

fn case<'a>(suites: &'a [Suite], name: &str) -> &'a Case {
    suites
        .iter()
        .flat_map(|s| &s.cases)
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no test case {name} in {suites:#?}"))
}

#[test]
fn junit_of_a_blocked_gate_has_a_suite_per_phase_and_hides_the_secret() {
    let repo = Repo::new();
    // The deploy token (a declared secret) in the branch name: every row
    // that shows the branch must mask it.
    let branch = format!("feature/{DEPLOY_TOKEN}");
    repo.git(["checkout", "-q", "-b", &branch]);
    repo.write("stray.txt", "untracked\n");
    let report = reports_dir(&repo).join("r.json");
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .args(["--format", "junit", "--report"])
        .arg(&report)
        .nowhere(DEPLOY_TOKEN)
        .stdout_has("***")
        .blocked();
    let xml = text(&out.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    let suites = junit(&xml);
    let doc = read_json(&report);
    assert_eq!(doc["verdict"], "BLOCKED", "{doc:#}");
    assert_junit_matches(&suites, &doc, &xml);

    assert_eq!(suites.len(), 2, "{xml}");
    assert_eq!(suites[0].name, "policy");
    let policy: Vec<&str> = suites[0].cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(policy, POLICY_GATES, "{xml}");
    assert_eq!(suites[1].name, "health");
    assert_eq!(suites[1].cases.len(), 4, "{xml}");
    assert!(suites[1].cases.iter().all(|c| c.kind == "skipped"), "{xml}");

    let clean = case(&suites, "clean_tree");
    assert_eq!(clean.kind, "failure", "{xml}");
    assert!(
        clean.message.as_deref().unwrap_or("").contains("stray.txt"),
        "{xml}"
    );
    let branch_case = case(&suites, "branch_allowed");
    assert_eq!(branch_case.kind, "failure", "{xml}");
    assert!(
        branch_case.message.as_deref().unwrap_or("").contains("***"),
        "{xml}"
    );
    let failures: Vec<&str> = suites
        .iter()
        .flat_map(|s| &s.cases)
        .filter(|c| c.kind == "failure")
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failures, ["clean_tree", "branch_allowed"], "{xml}");
    // The report file is scrubbed too.
    let written = std::fs::read_to_string(&report).expect("report");
    assert!(!written.contains(DEPLOY_TOKEN), "{written}");
}

#[test]
fn junit_of_a_critical_gate_counts_failures_in_the_health_suite() {
    let repo = Repo::new();
    let warn_dir = repo.scratch();
    repo.config(&format!(
        "[[health.disk]]\npath = \"/\"\nwarn = 0\ncrit = 0\n\n\
         [[health.disk]]\npath = {}\nwarn = 0\ncrit = 100\n\n\
         [[health.process]]\nname = \"no-such-process-rs5\"\n",
        toml_str(&warn_dir.display().to_string())
    ));
    let report = reports_dir(&repo).join("r.json");
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .args(["--format", "junit", "--report"])
        .arg(&report)
        .critical();
    let xml = text(&out.stdout);
    let suites = junit(&xml);
    let doc = read_json(&report);
    assert_eq!(doc["verdict"], "CRITICAL", "{doc:#}");
    assert_junit_matches(&suites, &doc, &xml);

    let names: Vec<&str> = suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["policy", "health"]);
    assert!(suites[0].cases.iter().all(|c| c.kind == "pass"), "{xml}");
    let health: Vec<(&str, &str)> = suites[1]
        .cases
        .iter()
        .map(|c| (c.name.as_str(), c.kind))
        .collect();
    let warn_id = format!("disk:{}", warn_dir.display());
    assert_eq!(
        health,
        [
            ("disk:/", "failure"),
            (warn_id.as_str(), "pass"),
            ("process:no-such-process-rs5", "failure"),
        ],
        "{xml}"
    );
    // A WARN passes but says so, with its details, in system-out.
    let warn = case(&suites, &warn_id);
    assert!(warn.system_out.starts_with("WARN: "), "{xml}");
    assert!(warn.system_out.contains("used_percent"), "{xml}");
    assert!(
        case(&suites, "process:no-such-process-rs5")
            .body
            .as_deref()
            .unwrap_or("")
            .contains("no-such-process-rs5"),
        "{xml}"
    );
}

#[test]
fn junit_of_a_pack_has_one_suite_with_a_case_per_step() {
    let repo = Repo::with_config(
        "[[pack.steps]]\nname = \"good\"\nrun = [\"true\"]\n\n\
         [[pack.steps]]\nname = \"bad\"\nshell = true\nrun = \"echo 'out <&>'; exit 3\"\n\n\
         [[pack.steps]]\nname = \"missing\"\nrun = [\"/no/such/binary-rs5\"]\n",
    );
    let report = reports_dir(&repo).join("pack.json");
    let out = Sentinel::dry_run(&repo)
        .args(["--format", "junit", "--report"])
        .arg(&report)
        .blocked();
    let xml = text(&out.stdout);
    let suites = junit(&xml);
    let doc = read_json(&report);
    assert_eq!(doc["kind"], "pack", "{doc:#}");
    assert_junit_matches(&suites, &doc, &xml);
    assert_eq!(suites.len(), 1, "{xml}");
    assert_eq!(suites[0].name, "pack");
    let cases: Vec<(&str, &str)> = suites[0]
        .cases
        .iter()
        .map(|c| (c.name.as_str(), c.kind))
        .collect();
    assert_eq!(
        cases,
        [("good", "pass"), ("bad", "failure"), ("missing", "error")],
        "{xml}"
    );
    let bad = case(&suites, "bad");
    assert_eq!(bad.message.as_deref(), Some("exit 3"), "{xml}");
    // The step's captured output is in system-out, escaped and intact.
    assert!(bad.system_out.contains("out <&>"), "{xml}");
    assert!(
        case(&suites, "missing")
            .message
            .as_deref()
            .unwrap_or("")
            .contains("/no/such/binary-rs5"),
        "{xml}"
    );
}

#[test]
fn junit_is_valid_xml_whatever_the_text() {
    let repo = Repo::new();
    // Markup, quotes, control characters and non-ASCII in the environment
    // and the version; each reaches a failure message.
    let env = "pr\u{7}\u{f8}d<&>\"'\u{1b}";
    let version = "v1.0.0\u{1}<x>&\u{e9}";
    let report = reports_dir(&repo).join("r.json");
    let out = Sentinel::in_repo(&repo)
        .gate(env, version)
        .args(["--format", "junit", "--report"])
        .arg(&report)
        // The XML keeps the non-ASCII text (XML carries it); only control
        // characters go.
        .allow_non_ascii()
        .blocked();
    let xml = String::from_utf8(out.stdout.clone())
        .unwrap_or_else(|e| panic!("JUnit is not UTF-8 ({e}): {}", context(&out)));
    for c in xml.chars() {
        assert!(
            (c as u32) >= 0x20 || matches!(c, '\t' | '\n' | '\r'),
            "control character {c:?} in the XML:\n{xml}"
        );
    }
    let suites = junit(&xml);
    let doc = read_json(&report);
    assert_junit_matches(&suites, &doc, &xml);
    let env_case = case(&suites, "env_allowed");
    assert_eq!(env_case.kind, "failure", "{xml}");
    let message = env_case.message.as_deref().unwrap_or("");
    // A quoted value's control characters are escaped (`\u{7}`), so none
    // reaches the XML; everything else kept.
    assert!(
        message.contains("pr\\u{7}\u{f8}d<&>\"'\\u{1b}"),
        "{message:?}\n{xml}"
    );
    let version_case = case(&suites, "version_valid");
    assert_eq!(version_case.kind, "failure", "{xml}");
    assert!(
        version_case
            .message
            .as_deref()
            .unwrap_or("")
            .contains("<x>&"),
        "{xml}"
    );
    assert_eq!(
        version_case.message, version_case.body,
        "the message attribute and the text differ:\n{xml}"
    );
}

// --------------------------------------------------------------- Markdown

/// The cells of a Markdown table row, split on unescaped `|`.
fn md_cells(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next().unwrap_or('\\');
                let last = cells.last_mut().expect("a cell");
                last.push('\\');
                last.push(next);
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().expect("a cell").push(c),
        }
    }
    cells.iter().map(|c| c.trim().to_string()).collect()
}

#[test]
fn markdown_has_the_marker_a_row_per_check_and_escapes_pipes() {
    let repo = Repo::new();
    repo.write("a|b.txt", "untracked\n");
    let report = reports_dir(&repo).join("r.json");
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .args(["--format", "markdown", "--report"])
        .arg(&report)
        .blocked();
    let md = text(&out.stdout);
    let doc = read_json(&report);
    let lines: Vec<&str> = md.lines().collect();
    assert!(lines[0].starts_with('#'), "{md}");
    assert!(lines[0].contains("RELEASE_SENTINEL=BLOCKED"), "{md}");
    let header = lines
        .iter()
        .position(|l| md_cells(l) == ["", "Check", "Status", "Message", ""])
        .unwrap_or_else(|| panic!("no table header in:\n{md}"));
    let delimiter = md_cells(lines[header + 1]);
    assert_eq!(delimiter.len(), 5, "{md}");
    assert!(
        delimiter[1..4]
            .iter()
            .all(|c| c.trim_matches(':').chars().all(|ch| ch == '-') && c.len() >= 3),
        "{md}"
    );
    let rows: Vec<Vec<String>> = lines[header + 2..]
        .iter()
        .take_while(|l| l.starts_with('|'))
        .map(|l| md_cells(l))
        .collect();
    let checks = rows_of(&doc);
    assert_eq!(rows.len(), checks.len(), "one row per check:\n{md}");
    for (cells, check) in rows.iter().zip(checks) {
        assert_eq!(cells.len(), 5, "a row with an unescaped |:\n{md}");
        assert_eq!(cells[1], check["id"].as_str().expect("id"), "{md}");
        assert_eq!(cells[2], check["status"].as_str().expect("status"), "{md}");
    }
    let clean = rows
        .iter()
        .find(|c| c[1] == "clean_tree")
        .expect("clean_tree row");
    assert_eq!(clean[2], "FAIL", "{md}");
    assert!(clean[3].contains("a\\|b.txt"), "{md}");
}

#[test]
fn markdown_of_a_pack_has_the_pack_marker() {
    let repo = Repo::with_config("[[pack.steps]]\nname = \"one\"\nrun = [\"true\"]\n");
    let out = Sentinel::dry_run(&repo)
        .args(["--format", "markdown"])
        .safe();
    let md = text(&out.stdout);
    assert!(
        md.lines()
            .next()
            .unwrap_or("")
            .contains("PRE_LIVE_PACK=DRYRUN"),
        "{md}"
    );
    assert!(
        md.lines().any(|l| md_cells(l) == ["", "one", "OK", "", ""]),
        "{md}"
    );
}

// --------------------------------------------------------------- --report

/// Run `sentinel` once plain and once with `--report`: the same exit
/// code and stdout bytes; returns the report and the output.
fn with_and_without_report(make: impl Fn() -> Sentinel, code: i32, repo: &Repo) -> (Value, Output) {
    let dir = reports_dir(repo);
    let path = dir.join("report.json");
    let plain = make().code(code);
    let reported = make().arg("--report").arg(&path).code(code);
    assert_eq!(
        text(&plain.stdout),
        text(&reported.stdout),
        "--report changed stdout"
    );
    assert_eq!(listing(&dir), ["report.json"], "a temporary file is left");
    (read_json(&path), reported)
}

#[test]
fn report_of_a_blocked_gate_beside_the_unchanged_table() {
    let repo = Repo::new();
    repo.write("stray.txt", "x\n");
    let (doc, out) =
        with_and_without_report(|| Sentinel::in_repo(&repo).gate("prod", "v1.2.3"), 1, &repo);
    assert!(text(&out.stdout).contains(BLOCKED), "{}", context(&out));
    assert_eq!(doc["kind"], "gate", "{doc:#}");
    assert_eq!(doc["verdict"], "BLOCKED", "{doc:#}");
    assert_eq!(doc["exit_code"], 1, "{doc:#}");
    assert_eq!(doc["env"], "prod", "{doc:#}");
    assert_eq!(doc["version"], "v1.2.3", "{doc:#}");
    let clean = rows_of(&doc)
        .iter()
        .find(|c| c["id"] == "clean_tree")
        .expect("clean_tree");
    assert_eq!(clean["status"], "FAIL", "{doc:#}");
    // The same document as --format json, but for durations.
    let json = json_of(
        &Sentinel::in_repo(&repo)
            .gate("prod", "v1.2.3")
            .args(["--format", "json"])
            .blocked(),
    );
    assert_eq!(without_durations(doc), without_durations(json));
}

/// A repository where the gate is SAFE with messages that are the same
/// bytes run after run: its one health check is this test process.
fn safe_repo() -> Repo {
    Repo::with_config(&format!(
        "[[health.process]]\nname = {}\n",
        toml_str(&own_process_name())
    ))
}

#[test]
fn report_of_a_safe_gate() {
    let repo = safe_repo();
    let (doc, out) =
        with_and_without_report(|| Sentinel::in_repo(&repo).gate("prod", "v1.2.3"), 0, &repo);
    assert!(text(&out.stdout).contains(SAFE), "{}", context(&out));
    assert_eq!(doc["verdict"], "SAFE", "{doc:#}");
    assert_eq!(doc["exit_code"], 0, "{doc:#}");
    assert_eq!(doc["commit"], repo.head().as_str(), "{doc:#}");
}

#[test]
fn report_of_an_invalid_config_says_blocked_and_why() {
    let repo = Repo::with_config("no_such_key = 1\n");
    let dir = reports_dir(&repo);
    let path = dir.join("report.json");
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .arg("--report")
        .arg(&path)
        .stderr_has("no_such_key")
        .blocked();
    let doc = read_json(&path);
    assert_eq!(doc["verdict"], "BLOCKED", "{doc:#}\n{}", context(&out));
    assert_eq!(doc["exit_code"], 1, "{doc:#}");
    let error = doc["error"].as_str().unwrap_or("");
    assert!(error.contains("no_such_key"), "{doc:#}");
    assert_eq!(listing(&dir), ["report.json"]);
}

#[test]
fn report_of_a_pack() {
    let repo = Repo::with_config(
        "[[pack.steps]]\nname = \"one\"\nrun = [\"true\"]\n\n\
         [[pack.steps]]\nname = \"two\"\nrun = [\"false\"]\n",
    );
    let (doc, out) = with_and_without_report(|| Sentinel::dry_run(&repo), 1, &repo);
    assert!(
        text(&out.stdout).contains("| pre_live_pack             | FAIL | PRE_LIVE_PACK=FAIL |"),
        "{}",
        context(&out)
    );
    assert_eq!(doc["kind"], "pack", "{doc:#}");
    assert_eq!(doc["exit_code"], 1, "{doc:#}");
    assert_eq!(doc["interrupted"], false, "{doc:#}");
    assert_eq!(statuses(&doc), [("one", "OK"), ("two", "FAIL")], "{doc:#}");
}

#[test]
fn report_of_an_invalid_config_in_the_pack() {
    let repo = Repo::with_config("[pack]\nno_such_key = 1\n");
    let dir = reports_dir(&repo);
    let path = dir.join("report.json");
    Sentinel::dry_run(&repo)
        .arg("--report")
        .arg(&path)
        .blocked();
    let doc = read_json(&path);
    assert_eq!(doc["kind"], "pack", "{doc:#}");
    assert_eq!(doc["exit_code"], 1, "{doc:#}");
    assert_eq!(listing(&dir), ["report.json"]);
}

#[test]
fn report_of_an_interrupted_pack_is_complete() {
    let repo = Repo::with_config(
        "[[pack.steps]]\nname = \"long\"\nshell = true\n\
         run = \"touch \\\"$OUT/started\\\"; exec sleep 30\"\ntimeout = \"60s\"\n\n\
         [[pack.steps]]\nname = \"later\"\nrun = [\"true\"]\n",
    );
    let scratch = repo.scratch();
    let dir = reports_dir(&repo);
    let path = dir.join("report.json");
    let mut cmd = Sentinel::dry_run(&repo)
        .arg("--report")
        .arg(&path)
        .into_command();
    let mut reaper = Reaper::new(&scratch);
    let pid = reaper.spawn(&mut cmd);
    let until = Instant::now() + Duration::from_secs(10);
    while !scratch.join("started").exists() {
        assert!(Instant::now() < until, "the long step did not start");
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(300));
    assert!(!path.exists(), "the report exists before the run ended");
    assert!(signal(pid, "INT"), "kill -INT {pid} failed");
    // It exits within 10 s of SIGINT.
    let out = reaper.wait(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1), "{}", context(&out));
    let doc = read_json(&path);
    assert_eq!(doc["kind"], "pack", "{doc:#}");
    assert_eq!(doc["interrupted"], true, "{doc:#}");
    assert_eq!(doc["exit_code"], 1, "{doc:#}");
    assert_eq!(
        statuses(&doc),
        [("long", "FAIL"), ("later", "SKIP")],
        "{doc:#}"
    );
    assert_eq!(listing(&dir), ["report.json"], "a temporary file is left");
    assert!(
        text(&out.stdout).contains("| pre_live_pack             | FAIL | PRE_LIVE_PACK=FAIL |"),
        "{}",
        context(&out)
    );
}

#[test]
fn report_in_a_missing_directory_exits_1_naming_the_path() {
    let repo = safe_repo();
    let path = repo.scratch().join("no-such-dir").join("report.json");
    let shown = path.display().to_string();
    // The gate itself would be SAFE; the report was asked for and cannot
    // be written, so the run fails.
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .arg("--report")
        .arg(&path)
        .stderr_has(shown.clone())
        .blocked();
    assert!(text(&out.stdout).contains(SAFE), "{}", context(&out));
    assert!(!path.exists());
    assert!(!path.parent().expect("parent").exists());
    // The pack too.
    let repo = Repo::with_config("[[pack.steps]]\nname = \"one\"\nrun = [\"true\"]\n");
    let path = repo.scratch().join("no-such-dir").join("report.json");
    Sentinel::dry_run(&repo)
        .arg("--report")
        .arg(&path)
        .stderr_has(path.display().to_string())
        .blocked();
}

// ----------------------------------------------------------------- GitHub

/// The lines of `stderr` that are workflow commands.
fn annotations(out: &Output) -> Vec<String> {
    text(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("::"))
        .map(str::to_string)
        .collect()
}

#[test]
fn github_annotations_for_failed_rows_are_escaped_and_scrubbed() {
    let repo = Repo::new();
    let branch = format!("feature/{DEPLOY_TOKEN}");
    repo.git(["checkout", "-q", "-b", &branch]);
    // A file name with a newline and a per cent sign.
    repo.write("odd\nname%.txt", "x\n");
    let plain = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .stderr_lacks("::error")
        .stderr_lacks("::warning")
        .blocked();
    let github = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .env("GITHUB_ACTIONS", "true")
        .nowhere(DEPLOY_TOKEN)
        .blocked();
    assert_eq!(
        plain.stdout, github.stdout,
        "GITHUB_ACTIONS changed the table"
    );
    let lines = annotations(&github);
    let ctx = context(&github);
    assert_eq!(lines.len(), 2, "one annotation per FAIL row:\n{ctx}");
    let clean = lines
        .iter()
        .find(|l| l.starts_with("::error title=release-sentinel clean_tree::"))
        .unwrap_or_else(|| panic!("no clean_tree annotation:\n{ctx}"));
    assert!(clean.contains("odd%0Aname%25.txt"), "{clean}");
    let branch_line = lines
        .iter()
        .find(|l| l.starts_with("::error title=release-sentinel branch_allowed::"))
        .unwrap_or_else(|| panic!("no branch_allowed annotation:\n{ctx}"));
    assert!(branch_line.contains("feature/***"), "{branch_line}");
    // Every annotation is one line: nothing unescaped after the message.
    for l in &lines {
        let (_, message) = l
            .split_once("::")
            .and_then(|(_, r)| r.split_once("::"))
            .expect("a command");
        assert!(!message.contains('\r'), "{l:?}");
        assert!(
            !message
                .replace("%25", "")
                .replace("%0A", "")
                .replace("%0D", "")
                .contains('%'),
            "an unescaped %: {l}"
        );
    }
}

#[test]
fn github_annotations_for_critical_and_warning_rows_escape_titles() {
    // A process name with `,`, `%` and `:` that also carries the secret (by
    // reference, never written in the file): CRIT, as no such process
    // runs. An API checked without TLS verification: WARN. Both messages
    // are the same bytes run after run.
    let repo = Repo::with_config(&format!(
        "[[health.process]]\nname = \"gone,50%:${{RS_DEPLOY_TOKEN}}\"\n\n\
         [[health.api]]\nname = \"plain,http\"\nurl = {}\ninsecure = true\n",
        toml_str(health_url())
    ));
    // Both runs on a CI runner (the local process row says so, the same
    // way): only GitHub's annotations differ.
    let plain = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .env("CI", "true")
        .stderr_lacks("::error")
        .stderr_lacks("::warning")
        .critical();
    let github = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .env("GITHUB_ACTIONS", "true")
        .nowhere(DEPLOY_TOKEN)
        .critical();
    assert_eq!(
        text(&plain.stdout),
        text(&github.stdout),
        "GITHUB_ACTIONS changed the table"
    );
    assert!(text(&github.stdout).contains(CRITICAL));
    let lines = annotations(&github);
    let ctx = context(&github);
    assert_eq!(lines.len(), 2, "{ctx}");
    let error = lines
        .iter()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no ::error:\n{ctx}"));
    let (title, message) = error
        .strip_prefix("::error title=")
        .and_then(|r| r.split_once("::"))
        .unwrap_or_else(|| panic!("no title: {error}"));
    assert_eq!(
        title, "release-sentinel process%3Agone%2C50%25%3A***",
        "{error}"
    );
    assert!(message.contains("gone,50%25:***"), "{error}");
    let warning = lines
        .iter()
        .find(|l| l.starts_with("::warning "))
        .unwrap_or_else(|| panic!("no ::warning:\n{ctx}"));
    let (title, message) = warning
        .strip_prefix("::warning title=")
        .and_then(|r| r.split_once("::"))
        .unwrap_or_else(|| panic!("no title: {warning}"));
    assert_eq!(title, "release-sentinel api%3Aplain%2Chttp", "{warning}");
    assert!(message.contains("insecure"), "{warning}");
}

#[test]
fn github_step_summary_is_appended_run_after_run() {
    let repo = Repo::new();
    repo.write("stray.txt", "x\n");
    let summary = repo.outside("summary.md", "previous step\n");
    let markdown = text(
        &Sentinel::in_repo(&repo)
            .gate("prod", "v1.2.3")
            .args(["--format", "markdown"])
            .blocked()
            .stdout,
    );
    let table = Sentinel::in_repo(&repo).gate("prod", "v1.2.3").blocked();
    for _ in 0..2 {
        let out = Sentinel::in_repo(&repo)
            .gate("prod", "v1.2.3")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .blocked();
        assert_eq!(text(&out.stdout), text(&table.stdout), "the table changed");
    }
    let written = std::fs::read_to_string(&summary).expect("summary");
    assert!(written.starts_with("previous step\n"), "{written}");
    assert_eq!(
        written.matches("RELEASE_SENTINEL=BLOCKED").count(),
        2,
        "{written}"
    );
    let appended = &written["previous step\n".len()..];
    assert!(
        appended.starts_with(&markdown),
        "the summary is not the markdown report:\n{appended}\n--- markdown ---\n{markdown}"
    );
    let rest = appended[markdown.len()..].trim_start_matches('\n');
    assert_eq!(rest.trim_end(), markdown.trim_end(), "{written}");
}

#[test]
fn without_github_actions_no_annotation_appears() {
    let repo = Repo::new();
    repo.write("stray.txt", "x\n");
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .env("GITHUB_ACTIONS", "false")
        .stderr_lacks("::error")
        .stderr_lacks("::warning")
        .blocked();
}

#[test]
fn an_invalid_config_still_yields_a_junit_document_a_markdown_table_and_a_summary() {
    let repo = Repo::with_config("bogus_key = 1\n");
    let summary = repo.path.join("summary.md");
    let junit = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .args(["--format", "junit"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .stderr_has("bogus_key")
        .stderr_has("::error title=release-sentinel config::")
        .blocked();
    let xml = String::from_utf8(junit.stdout).expect("utf-8");
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 1, "{xml}");
    assert_eq!(cases[0].attribute("name"), Some("config"));
    let failure = cases[0]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure");
    assert!(
        failure
            .attribute("message")
            .unwrap_or("")
            .contains("bogus_key")
    );
    let md = std::fs::read_to_string(&summary).expect("the job summary");
    assert!(md.contains("RELEASE_SENTINEL=BLOCKED"), "{md}");
    assert!(md.contains("| config | FAIL |"), "{md}");

    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .args(["--format", "markdown"])
        .stdout_has("| config | FAIL |")
        .blocked();
}

#[test]
fn a_step_summary_that_is_a_fifo_neither_hangs_nor_fails_the_run() {
    let repo = Repo::new();
    let fifo = repo.scratch().join("summary.fifo");
    mkfifo(&fifo);
    let mut reaper = Reaper::for_repo(&repo);
    reaper.spawn(
        &mut Sentinel::in_repo(&repo)
            .env("GITHUB_STEP_SUMMARY", &fifo)
            .gate("prod", "v1.0.0")
            .into_command(),
    );
    let out = reaper.wait(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", context(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(SAFE));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: cannot append to GITHUB_STEP_SUMMARY"),
        "{stderr}"
    );
}
