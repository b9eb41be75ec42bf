//! `ready` (make-ready): the pack and the readiness score, written where
//! `freshness` watches it.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::freshness::SEED_TASKS;
use crate::harness::{Repo, Sentinel, health_url, message_of, row, toml_str};

const READY_OK: &str = "| make_ready                | OK   | MAKE_READY=OK |";
const READY_FAIL: &str = "| make_ready                | FAIL | MAKE_READY=FAIL |";

const FAKE_UTC: &str = "2024-05-01T12:00:00Z";

/// A repository whose gate has 10 policy gates and 2 health checks: on
/// `dev` with an untracked file, clean_tree is a WARN (allow_dirty), the
/// API check is OK and the process check CRIT; `[ready]` is `ready`, the
/// pack one step running `step`.
fn ready_repo(ready: &str, step: &str) -> Repo {
    let repo = Repo::new();
    repo.config(&format!(
        "[policy.env.dev]\nallow_dirty = true\n\
         [[health.api]]\nname = \"svc\"\nurl = {}\n\
         [[health.process]]\nname = \"no-such-process-rs-test\"\n\
         [[pack.steps]]\nname = \"step_dry\"\nrun = [{}]\n\
         [ready]\n{ready}\n",
        toml_str(health_url()),
        toml_str(step)
    ));
    repo.write("untracked.txt", "dirty\n");
    repo
}

fn ready(repo: &Repo) -> Sentinel {
    Sentinel::new()
        .dir(&repo.path)
        .env("CI_FAKE_UTC", FAKE_UTC)
        .args(["ready", "--env", "dev", "--version", "v1.0.0"])
}

fn readiness(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("the readiness file")).expect("JSON")
}

#[test]
fn ready_scores_by_weight_with_a_warn_worth_half() {
    // Weights: 9 policy gates at 1, clean_tree 3 (WARN: 1.5), api:svc 2
    // (OK), process 1 (CRIT: 0): 12.5 of 15 = 83.33, shown 83.3.
    let repo = ready_repo(
        "weights = { clean_tree = 3, \"api:svc\" = 2 }\nreport = \"out/state/ready.json\"",
        "true",
    );
    let out = ready(&repo)
        .stdout_has(row("step_dry", "OK"))
        .stdout_has(row("readiness", "OK"))
        .stdout_has(READY_OK)
        .safe();
    assert_eq!(
        message_of(&out.stdout, "readiness"),
        "score 83.3 (pass 80, warn 60): 10 of 12 checks OK; written to out/state/ready.json"
    );
    let doc = readiness(&repo.path.join("out/state/ready.json"));
    assert_eq!(doc["score"], 83.3);
    assert_eq!(doc["status"], "OK");
    assert_eq!(doc["timestamp"], FAKE_UTC);
    assert_eq!(doc["env"], "dev");
    assert_eq!(doc["version"], "v1.0.0");
    assert_eq!(doc["pack"], "DRYRUN");
    let parts: BTreeMap<String, (String, f64, f64)> = doc["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id").to_string(),
                (
                    p["status"].as_str().expect("status").to_string(),
                    p["weight"].as_f64().expect("weight"),
                    p["points"].as_f64().expect("points"),
                ),
            )
        })
        .collect();
    assert_eq!(parts.len(), 12, "{doc:#}");
    assert_eq!(parts["clean_tree"], ("WARN".to_string(), 3.0, 1.5));
    assert_eq!(parts["api:svc"], ("OK".to_string(), 2.0, 2.0));
    assert_eq!(
        parts["process:no-such-process-rs-test"],
        ("CRIT".to_string(), 1.0, 0.0)
    );
    assert_eq!(parts["version_newer"], ("OK".to_string(), 1.0, 1.0));
    let got: f64 = parts.values().map(|p| p.2).sum();
    let total: f64 = parts.values().map(|p| p.1).sum();
    assert_eq!((got, total), (12.5, 15.0));

    // The same score against a higher bar: WARN, still ready (it reached
    // warn); against a bar above it: FAIL.
    let repo = ready_repo(
        "weights = { clean_tree = 3, \"api:svc\" = 2 }\npass = 90\nwarn = 75",
        "true",
    );
    ready(&repo)
        .stdout_has(row("readiness", "WARN"))
        .stdout_has("score 83.3 (pass 90, warn 75)")
        .stdout_has(READY_OK)
        .safe();
    let repo = ready_repo(
        "weights = { clean_tree = 3, \"api:svc\" = 2 }\npass = 95\nwarn = 90",
        "true",
    );
    ready(&repo)
        .stdout_has(row("readiness", "FAIL"))
        .stdout_has(READY_FAIL)
        .blocked();
    let doc = readiness(&repo.path.join("artifacts/reports/readiness.json"));
    assert_eq!(
        (doc["score"].as_f64(), doc["status"].as_str()),
        (Some(83.3), Some("FAIL"))
    );

    // Default weights: 9 + 0.5 + 1 + 0 of 12 = 87.5.
    let repo = ready_repo("", "true");
    ready(&repo)
        .stdout_has("score 87.5 (pass 80, warn 60)")
        .safe();
}

#[test]
fn ready_a_failing_key_check_makes_the_score_zero() {
    let repo = ready_repo(
        "key = [\"process:no-such-process-rs-test\"]\nreport = \"ready.json\"",
        "true",
    );
    let out = ready(&repo)
        .stdout_has(row("readiness", "FAIL"))
        .stdout_has(READY_FAIL)
        .blocked();
    let m = message_of(&out.stdout, "readiness");
    assert!(
        m.starts_with("score 0 (pass 80, warn 60)")
            && m.contains("key check(s) failed: process:no-such-process-rs-test"),
        "{m}"
    );
    let doc = readiness(&repo.path.join("ready.json"));
    assert_eq!(doc["score"], 0.0);
    assert_eq!(
        doc["key_failed"],
        serde_json::json!(["process:no-such-process-rs-test"])
    );
    assert_eq!(doc["timestamp"], FAKE_UTC);
    // A key check that passes (a WARN passes) changes nothing.
    let repo = ready_repo("key = [\"clean_tree\", \"api:svc\"]", "true");
    ready(&repo)
        .stdout_has("score 87.5 ")
        .stdout_has(READY_OK)
        .safe();
}

#[test]
fn ready_fails_when_a_pack_step_fails_whatever_the_score() {
    let repo = ready_repo("", "false");
    let out = ready(&repo)
        .stdout_has(row("step_dry", "FAIL"))
        .stdout_has(row("readiness", "OK"))
        .stdout_has(READY_FAIL)
        .blocked();
    let m = message_of(&out.stdout, "readiness");
    assert!(m.starts_with("score 87.5 "), "{m}");
    assert!(
        m.contains("; not ready: the pre-live pack did not pass (step_dry FAIL)"),
        "{m}"
    );
    let doc = readiness(&repo.path.join("artifacts/reports/readiness.json"));
    assert_eq!(doc["pack"], "FAIL");
}

#[test]
fn ready_without_health_checks_says_why_a_perfect_score_is_not_ready() {
    let repo = Repo::new();
    repo.config("[policy.env.dev]\nallow_dirty = true\n");
    let out = ready(&repo)
        .stdout_has(row("health_checks_dry", "SKIP"))
        .stdout_has(READY_FAIL)
        .blocked();
    let m = message_of(&out.stdout, "readiness");
    assert!(
        m.starts_with("score 100 ")
            && m.contains("not ready: the pre-live pack did not pass (health_checks_dry SKIP)"),
        "{m}"
    );
}

#[test]
fn ready_writes_its_file_where_freshness_watches_it() {
    let repo = ready_repo("", "true");
    // Without CI_FAKE_UTC the file records the real time.
    Sentinel::new()
        .dir(&repo.path)
        .args(["ready", "--env", "dev", "--version", "v1.0.0"])
        .stdout_has(READY_OK)
        .safe();
    let doc = readiness(&repo.path.join("artifacts/reports/readiness.json"));
    assert_ne!(doc["timestamp"], FAKE_UTC);
    assert!(doc["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    let tasks = repo.outside("sentinel.json", SEED_TASKS);
    Sentinel::new()
        .dir(&repo.path)
        .arg("freshness")
        .arg("--tasks")
        .arg(&tasks)
        .stdout_has(row("task:readiness_score", "OK"))
        .blocked();
    // An invalid CI_FAKE_UTC is an error that names it.
    Sentinel::new()
        .dir(&repo.path)
        .env("CI_FAKE_UTC", "yesterday")
        .args(["ready", "--env", "dev", "--version", "v1.0.0"])
        .stderr_has("CI_FAKE_UTC")
        .blocked();
}

#[test]
fn ready_scores_the_health_checks_even_when_a_policy_gate_fails() {
    // `prod` is not allowed on a dirty tree: clean_tree FAILs, and the gate
    // would skip the health checks; the score still weighs them.
    let repo = ready_repo("weights = { \"api:svc\" = 2 }", "true");
    Sentinel::new()
        .dir(&repo.path)
        .env("CI_FAKE_UTC", FAKE_UTC)
        .args(["ready", "--env", "prod", "--version", "v1.0.0"])
        .code_in(&[0, 1]);
    let doc = readiness(&repo.path.join("artifacts/reports/readiness.json"));
    let part = |id: &str| {
        doc["parts"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["id"] == id))
            .unwrap_or_else(|| panic!("no part {id}: {doc:#}"))
            .clone()
    };
    assert_eq!(part("clean_tree")["status"], "FAIL", "{doc:#}");
    assert_eq!(part("api:svc")["status"], "OK", "{doc:#}");
    assert_eq!(part("api:svc")["points"], 2.0, "{doc:#}");
    assert_eq!(
        part("process:no-such-process-rs-test")["status"],
        "CRIT",
        "{doc:#}"
    );
}
