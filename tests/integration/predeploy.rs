//! `predeploy`: the protocol's four gates against real repositories, real
//! rehearsal scripts and real archive tools; its halts, prompts, faults
//! and evidence files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    BIN, Reaper, Repo, Sentinel, assert_no_survivors, base_env, context, gone_soon,
    held_to_file_modes, json_of, read_pid, signal,
};

/// The run's clock: approvals are judged at this time.
const NOW: &str = "2026-11-30T12:00:00Z";
const SECRET: &str = "tok-predeploy-5f1c9a7e3b";

const FILES: [&str; 8] = [
    "intake-validation-report.json",
    "staging-parity-report.json",
    "staging-deployment-run.log",
    "staging-test-results.json",
    "rollback-verification-report.json",
    "security-compliance-report.json",
    "PRE-DEPLOYMENT-PACKAGE.zip",
    "readiness-approval.json",
];

const APPROVALS: &str = r#"
[[approvals]]
covers = "quality-audit"
decision = "approved"
signatory = "Dana Reyes"
decided_at = "2026-11-28T10:00:00Z"
expires_at = "2026-12-05T00:00:00Z"

[[approvals]]
covers = "integration-signoff"
decision = "approved"
signatory = "Sam Ito"
decided_at = "2026-11-29T10:00:00Z"
expires_at = "2026-12-10T00:00:00Z"

[[waivers]]
covers = "CVE-2026-0001"
decision = "approved"
signatory = "Sec Owner"
decided_at = "2026-11-29T10:00:00Z"
expires_at = "2026-12-10T00:00:00Z"
reason = "not reachable"
"#;

/// Each script leaves `<name>.ran` in `$OUT` (the test's scratch folder).
const DEPLOY: &str = "#!/bin/sh\ntouch \"$OUT/deploy.ran\"\necho \"deploying $1 $2\"\n";
const SMOKE: &str = "#!/bin/sh\ntouch \"$OUT/smoke.ran\"\nmkdir -p build\n\
    printf '<testsuite><testcase name=\"a\"/><testcase name=\"b\"/><testcase name=\"c\"><skipped/></testcase></testsuite>' > build/smoke.xml\n";
const ROLLBACK: &str =
    "#!/bin/sh\ntouch \"$OUT/rollback.ran\"\necho \"$1\" > \"$OUT/rolled-back-to\"\n";

fn config(extra: &str) -> String {
    format!(
        r#"[parity]
allow_differ = ["API_HOST"]
critical = ["DB_*"]
[parity.env.staging]
sources = [{{ file = "cfg/staging.env" }}]
[parity.env.production]
sources = [{{ file = "cfg/production.json" }}]

[predeploy]
approvals = "approvals.toml"
require = ["quality-audit", "integration-signoff"]
deploy = ["./scripts/deploy.sh", "{{env}}", "{{version}}"]
smoke = ["./scripts/smoke.sh"]
smoke_junit = "build/smoke.xml"
rollback = ["./scripts/rollback.sh", "{{previous_tag}}"]
audit = [["sh", "-c", "touch \"$OUT/audit.ran\""]]
{extra}"#
    )
}

/// A repository tagged v1.0.0 with everything the protocol needs, where
/// every step passes; `extra` is appended to `[predeploy]`.
fn protocol_repo(extra: &str) -> Repo {
    let repo = Repo::new();
    repo.tag("v1.0.0");
    repo.write(".gitignore", ".artifacts/\nbuild/\n");
    repo.write("approvals.toml", APPROVALS);
    repo.write(
        "cfg/staging.env",
        "DB_URL=postgres://db\nDB_PASSWORD=same-pass\nAPI_HOST=staging.example\n",
    );
    repo.write(
        "cfg/production.json",
        r#"{"DB_URL":"postgres://db","DB_PASSWORD":"same-pass","API_HOST":"prod.example"}"#,
    );
    for (name, text) in [("deploy", DEPLOY), ("smoke", SMOKE), ("rollback", ROLLBACK)] {
        script(&repo, name, text);
    }
    repo.write("release-sentinel.toml", &config(extra));
    repo.commit_all("protocol");
    repo
}

fn script(repo: &Repo, name: &str, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    let rel = format!("scripts/{name}.sh");
    repo.write(&rel, text);
    std::fs::set_permissions(repo.path.join(&rel), std::fs::Permissions::from_mode(0o755))
        .expect("chmod script");
}

fn predeploy(repo: &Repo) -> Sentinel {
    Sentinel::new()
        .dir(&repo.path)
        .env("OUT", repo.scratch())
        .env("CI_FAKE_UTC", NOW)
        .args(["predeploy", "--env", "staging", "--version", "v1.1.0"])
}

fn out_dir(repo: &Repo) -> PathBuf {
    repo.path.join(".artifacts/pre-deployment")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn manifest(repo: &Repo) -> Value {
    read_json(&out_dir(repo).join("pre-deployment-manifest.json"))
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|l| {
            l.iter()
                .map(|a| a["file"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn ran(repo: &Repo, name: &str) -> bool {
    repo.scratch().join(format!("{name}.ran")).exists()
}

/// How many lines of stderr say `error` (the time CI_FAKE_UTC fixed is
/// logged besides).
fn error_lines(out: &Output) -> usize {
    stderr(out).lines().filter(|l| l.contains("error")).count()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `sha256sum` of a file: the real consumer's view of its digest.
fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum (coreutils) must be installed");
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Fails, naming it, when `needle` is in a file under `dir`.
fn assert_in_no_file(dir: &Path, needle: &str) {
    for entry in std::fs::read_dir(dir)
        .expect("read the evidence folder")
        .flatten()
    {
        let data = std::fs::read(entry.path()).unwrap_or_default();
        assert!(
            !data.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{} holds {needle:?}",
            entry.path().display()
        );
    }
}

#[test]
fn every_gate_passes_and_leaves_its_evidence_and_the_package() {
    let repo = protocol_repo("");
    let out = predeploy(&repo).arg("--yes").safe();
    let err = stderr(&out);
    // The protocol's status lines, as written, in order.
    let want = [
        "[PHASE 1 START] - Validating upstream approvals and artifact completeness...",
        "[AUTOMATION] parity --source staging --target production executed: success",
        "[PHASE 1 COMPLETE] - Intake validation and staging alignment finished successfully.",
        "[PHASE 2 START] - Rehearsing deployment on staging environment...",
        "[AUTOMATION] deploy.sh executed: success",
        "[AUTOMATION] smoke.sh executed: success",
        "[PHASE 2 COMPLETE] - Deployment rehearsal and verification finished successfully.",
        "[PHASE 3 START] - Verifying rollback and recovery procedures...",
        "[AUTOMATION] rollback.sh executed: success",
        "[PHASE 3 COMPLETE] - Rollback, security, and operational readiness finished successfully.",
        "[PHASE 4 START] - Compiling pre-deployment readiness package for release approval...",
        "[READINESS REVIEW] Pre-deployment package compiled. Approve handoff to Protocol 11? (yes/no) yes (--yes)",
        "[PHASE 4 COMPLETE] - Final readiness review and handoff finished successfully.",
        "[PROTOCOL COMPLETE] - Pre-deployment readiness approved. Ready for Protocol 11 (Production Deployment).",
    ];
    let mut at = 0;
    for line in want {
        let found = err[at..]
            .find(line)
            .unwrap_or_else(|| panic!("stderr lacks {line:?} (in order)\n{}", context(&out)));
        at += found + line.len();
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("PRE-DEPLOYMENT VALIDATION: env=staging version=v1.1.0"),
        "{stdout}"
    );
    assert!(stdout.contains("PREDEPLOY=READY"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(repo.scratch().join("rolled-back-to"))
            .unwrap()
            .trim(),
        "v1.0.0",
        "the rollback rehearsal got {{previous_tag}}"
    );
    assert!(ran(&repo, "audit"));

    let dir = out_dir(&repo);
    let m = manifest(&repo);
    assert_eq!(m["status"], "complete", "{m:#}");
    assert_eq!(names(&m["missing"]), Vec::<String>::new(), "{m:#}");
    assert_eq!(names(&m["artifacts"]), FILES, "{m:#}");
    // Every digest in the manifest is the file's, by sha256sum.
    for a in m["artifacts"].as_array().unwrap() {
        let path = dir.join(a["file"].as_str().unwrap());
        assert_eq!(
            a["sha256"].as_str().unwrap(),
            sha256sum(&path),
            "{}",
            path.display()
        );
        assert_eq!(
            a["size"].as_u64().unwrap(),
            std::fs::metadata(&path).unwrap().len()
        );
    }

    // The package: a zip unzip accepts, holding gates 1-3's evidence.
    let zip = dir.join("PRE-DEPLOYMENT-PACKAGE.zip");
    let test = Command::new("unzip")
        .arg("-t")
        .arg(&zip)
        .output()
        .expect("unzip must be installed");
    assert!(
        test.status.success(),
        "unzip -t: {}",
        String::from_utf8_lossy(&test.stdout)
    );
    let listing = Command::new("unzip")
        .arg("-Z1")
        .arg(&zip)
        .output()
        .expect("unzip -Z1");
    let listed = String::from_utf8_lossy(&listing.stdout);
    let mut entries: Vec<&str> = listed.lines().collect();
    entries.sort_unstable();
    let mut want: Vec<&str> = FILES[..6].to_vec();
    want.push("MANIFEST.json");
    want.sort_unstable();
    assert_eq!(entries, want);

    let review = read_json(&dir.join("readiness-approval.json"));
    assert_eq!(review["decision"], "approved", "{review:#}");
    assert_eq!(review["answered_by"], "--yes", "{review:#}");
    assert_eq!(
        review["package"]["sha256"].as_str().unwrap(),
        sha256sum(&zip)
    );
    assert_eq!(
        review["signatories"],
        serde_json::json!(["Dana Reyes", "Sam Ito", "Sec Owner"])
    );

    let tests = read_json(&dir.join("staging-test-results.json"));
    assert_eq!(tests["counts"]["tests"], 3, "{tests:#}");
    assert_eq!(tests["counts"]["passed"], 2, "{tests:#}");
    assert_eq!(tests["counts"]["skipped"], 1, "{tests:#}");
    let security = read_json(&dir.join("security-compliance-report.json"));
    assert_eq!(security["result"], "pass", "{security:#}");
    assert_eq!(
        security["waivers"][0]["covers"], "CVE-2026-0001",
        "{security:#}"
    );
    let log = std::fs::read_to_string(dir.join("staging-deployment-run.log")).unwrap();
    assert!(
        log.contains("$ ./scripts/deploy.sh staging v1.1.0"),
        "{log}"
    );
    assert!(log.contains("deploying staging v1.1.0"), "{log}");
    assert!(log.contains("# exit 0 after "), "{log}");
}

#[test]
fn without_a_terminal_or_yes_the_review_answers_no_and_nothing_waits() {
    let repo = protocol_repo("");
    let out = predeploy(&repo).blocked();
    let err = stderr(&out);
    assert!(
        err.contains("Approve handoff to Protocol 11? (yes/no) no (no terminal to answer on; pass --yes to answer yes)"),
        "{err}"
    );
    assert!(
        err.contains("[ERROR] Readiness review did not approve the handoff."),
        "{err}"
    );
    assert!(!err.contains("[PROTOCOL COMPLETE]"), "{err}");
    let m = manifest(&repo);
    assert_eq!(m["status"], "halted", "{m:#}");
    assert_eq!(m["halted_at"], "readiness_review", "{m:#}");
    let review = read_json(&out_dir(&repo).join("readiness-approval.json"));
    assert_eq!(review["decision"], "rejected", "{review:#}");
}

#[test]
fn approvals_that_are_expired_rejected_duplicated_or_badly_dated_halt_gate_one() {
    let repo = protocol_repo("");
    repo.write(
        "approvals.toml",
        r#"
[[approvals]]
covers = "quality-audit"
decision = "approved"
signatory = "Dana Reyes"
decided_at = "2026-11-01T10:00:00Z"
expires_at = "2026-11-15T00:00:00Z"

[[approvals]]
covers = "integration-signoff"
decision = "rejected"
signatory = "Sam Ito"
decided_at = "2026-11-29T10:00:00Z"
expires_at = "2026-12-10T00:00:00Z"

[[approvals]]
covers = "quality-audit"
decision = "approved"
signatory = "Dana Reyes"
decided_at = "2026-11-29T10:00:00Z"
expires_at = "2026-12-10T00:00:00Z"

[[waivers]]
covers = "CVE-2026-0001"
decision = "approved"
signatory = "Sec Owner"
decided_at = "2026-11-31T10:00:00Z"
expires_at = "2026-12-10T00:00:00Z"
"#,
    );
    repo.commit_all("approvals");
    let out = predeploy(&repo)
        .args(["--yes", "--format", "json"])
        .stderr_has("[ERROR] Upstream approvals missing, rejected or expired.")
        .blocked();
    let doc = json_of(&out);
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps[0]["status"], "FAIL", "{doc:#}");
    let problems: Vec<String> = steps[0]["details"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let all = problems.join("\n");
    for want in [
        "approval 1 (\"quality-audit\"): expired at 2026-11-15T00:00:00Z",
        "approval 2 (\"integration-signoff\"): rejected by Sam Ito",
        "approval 3 (\"quality-audit\"): a duplicate of approval 1",
        "waiver 1 (\"CVE-2026-0001\"): decided_at \"2026-11-31T10:00:00Z\" is not an RFC 3339 time",
    ] {
        assert!(all.contains(want), "lacks {want:?}:\n{all}");
    }
    for s in &steps[1..] {
        assert_eq!(s["status"], "SKIP", "{doc:#}");
        assert_eq!(s["message"], "not run: halted at approvals", "{doc:#}");
    }
    assert!(!ran(&repo, "deploy"), "a rehearsal ran after gate 1 failed");
    let m = manifest(&repo);
    assert_eq!(m["status"], "halted", "{m:#}");
    assert_eq!(
        names(&m["artifacts"]),
        ["intake-validation-report.json"],
        "{m:#}"
    );
    assert_eq!(names(&m["missing"]), FILES[1..].to_vec(), "{m:#}");
    let intake = read_json(&out_dir(&repo).join("intake-validation-report.json"));
    assert_eq!(intake["result"], "fail", "{intake:#}");
}

#[test]
fn a_missing_required_approval_and_a_missing_file_are_named() {
    let repo = protocol_repo("");
    let text = config("").replace(
        "require = [\"quality-audit\", \"integration-signoff\"]",
        "require = [\"quality-audit\", \"legal\"]",
    );
    repo.write("release-sentinel.toml", &text);
    repo.commit_all("legal");
    predeploy(&repo)
        .arg("--yes")
        .stdout_has("no approval covers \"legal\"")
        .blocked();
    std::fs::remove_file(repo.path.join("approvals.toml")).unwrap();
    repo.commit_all("no approvals");
    predeploy(&repo)
        .arg("--yes")
        .stdout_has("| approvals                 | FAIL | approvals.toml: ")
        .blocked();
}

#[test]
fn critical_drift_halts_and_a_yes_rechecks_instead_of_waving_it_through() {
    let repo = protocol_repo("");
    repo.write(
        "cfg/production.json",
        r#"{"DB_URL":"postgres://prod-db","DB_PASSWORD":"other-pass","API_HOST":"prod.example"}"#,
    );
    repo.commit_all("drift");
    let out = predeploy(&repo)
        .stderr_has("[AUTOMATION] parity --source staging --target production executed: drift")
        .stderr_has("[ERROR] Staging configuration drift detected against production baseline.")
        .stderr_has("[DRIFT ALERT] Staging parity check failed. Confirm remediation applied before continuing? (yes/no) no (no terminal")
        .stdout_has("| staging_parity            | FAIL |")
        .nowhere("same-pass")
        .nowhere("other-pass")
        .blocked();
    assert!(!ran(&repo, "deploy"));
    let report = read_json(&out_dir(&repo).join("staging-parity-report.json"));
    assert_eq!(report["result"], "fail", "{report:#}");
    let text = serde_json::to_string(&report).unwrap();
    assert!(text.contains("DB_URL"), "{report:#}");
    assert!(
        !text.contains("other-pass") && !text.contains("same-pass"),
        "{report:#}"
    );
    assert!(
        report["remediation"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{report:#}"
    );
    drop(out);

    // --yes confirms remediation: the check runs again, and still fails.
    predeploy(&repo)
        .arg("--yes")
        .stderr_has("Confirm remediation applied before continuing? (yes/no) yes (--yes)")
        .stdout_has("still drifting after remediation")
        .blocked();
    let report = read_json(&out_dir(&repo).join("staging-parity-report.json"));
    assert_eq!(report["attempt"], 2, "{report:#}");
}

#[test]
fn unreadable_or_invalid_parity_sources_halt_with_the_file_named() {
    let repo = protocol_repo("");
    repo.write("cfg/production.json", "{\"DB_URL\": ");
    repo.commit_all("broken json");
    predeploy(&repo)
        .arg("--yes")
        .stdout_has("production: cannot read a source: cfg/production.json: not valid JSON")
        .blocked();
    std::fs::remove_file(repo.path.join("cfg/staging.env")).unwrap();
    predeploy(&repo)
        .arg("--yes")
        .stdout_has("staging: cannot read a source: cfg/staging.env:")
        .blocked();
}

#[test]
fn a_hanging_rehearsal_is_killed_with_its_children_at_the_timeout() {
    let repo = protocol_repo("timeout = \"1s\"\n");
    script(
        &repo,
        "deploy",
        "#!/bin/sh\nsleep 30 & echo $! > \"$OUT/gc.pid\"\necho $$ > \"$OUT/sh.pid\"\nsleep 30\n",
    );
    repo.commit_all("hang");
    let out = predeploy(&repo)
        .arg("--yes")
        .stderr_has("[AUTOMATION] deploy.sh executed: failed (timed out after 1s)")
        .stderr_has("[ERROR] Deployment rehearsal encountered critical error.")
        .stderr_has("Recovery: rollback staging, fix automation or code issues, rerun rehearsal.")
        .stdout_has("timed out after 1s")
        .blocked();
    drop(out);
    let shell = read_pid(&repo.scratch().join("sh.pid"));
    let grandchild = read_pid(&repo.scratch().join("gc.pid"));
    assert!(
        gone_soon(shell) && gone_soon(grandchild),
        "the rehearsal survived its timeout"
    );
    assert_no_survivors(&repo);
    let log = std::fs::read_to_string(out_dir(&repo).join("staging-deployment-run.log")).unwrap();
    assert!(log.contains("# timed out after 1s"), "{log}");
    assert!(log.contains("# result: FAILED"), "{log}");
    assert!(!ran(&repo, "smoke"));
}

#[test]
fn a_secret_a_rehearsal_prints_is_in_no_output_and_no_file() {
    let repo = protocol_repo("");
    script(
        &repo,
        "deploy",
        "#!/bin/sh\necho \"using token $DEPLOY_TOKEN\"\necho \"err $DEPLOY_TOKEN\" >&2\n",
    );
    script(
        &repo,
        "rollback",
        "#!/bin/sh\necho \"rollback with $DEPLOY_TOKEN\"\n",
    );
    repo.commit_all("leaky");
    predeploy(&repo)
        .args(["--yes", "--format", "json", "-v"])
        .env("DEPLOY_TOKEN", SECRET)
        .nowhere(SECRET)
        .safe();
    assert_in_no_file(&out_dir(&repo), SECRET);
    let log = std::fs::read_to_string(out_dir(&repo).join("staging-deployment-run.log")).unwrap();
    assert!(log.contains("using token ***"), "{log}");
    // Inside the package too (its entries are deflated: look at them).
    let listing = Command::new("unzip")
        .arg("-p")
        .arg(out_dir(&repo).join("PRE-DEPLOYMENT-PACKAGE.zip"))
        .output()
        .expect("unzip -p");
    assert!(!String::from_utf8_lossy(&listing.stdout).contains(SECRET));
    assert!(String::from_utf8_lossy(&listing.stdout).contains("using token ***"));
}

#[test]
fn failed_smoke_tests_and_a_missing_junit_report_halt_gate_two() {
    let repo = protocol_repo("");
    script(
        &repo,
        "smoke",
        "#!/bin/sh\nmkdir -p build\nprintf '<testsuite><testcase name=\"a\"><failure/></testcase><testcase name=\"b\"/></testsuite>' > build/smoke.xml\n",
    );
    repo.commit_all("failing smoke");
    predeploy(&repo)
        .arg("--yes")
        .stdout_has("1 failed, 0 errors of 2 tests")
        .stderr_has("[ERROR] Smoke and acceptance tests failed on staging.")
        .blocked();
    assert!(!ran(&repo, "rollback"));
    script(&repo, "smoke", "#!/bin/sh\ntrue\n");
    repo.commit_all("no junit");
    predeploy(&repo)
        .arg("--yes")
        .stdout_has("the smoke tests wrote no readable JUnit report at")
        .blocked();
}

#[test]
fn the_junit_report_it_deletes_stays_inside_the_repository() {
    // Out of the repository by `..`, by an absolute path, and out of the
    // evidence folder by `{out}/..`: refused by the key path before
    // anything runs, and the file there is not deleted.
    for (i, junit) in ["../victim.xml", "{victim}", "{out}/../../../victim.xml"]
        .into_iter()
        .enumerate()
    {
        let repo = protocol_repo("");
        let victim = repo.path.parent().expect("parent").join("victim.xml");
        std::fs::write(&victim, "keep me\n").expect("write");
        let junit = junit.replace("{victim}", &victim.display().to_string());
        repo.write(
            "release-sentinel.toml",
            &config("").replace(
                "smoke_junit = \"build/smoke.xml\"",
                &format!("smoke_junit = {}", crate::harness::toml_str(&junit)),
            ),
        );
        repo.commit_all("junit out of the repository");
        predeploy(&repo)
            .arg("--yes")
            .stderr_has(format!(
                "predeploy.smoke_junit: {}",
                crate::harness::toml_str(&junit)
            ))
            .blocked();
        assert!(victim.exists(), "case {i}: {junit} was deleted");
        assert!(!ran(&repo, "smoke"), "case {i}");
    }
    // Through a folder of the repository that is a link out of it: the
    // smoke step fails before the tests run, and deletes nothing.
    let repo = protocol_repo("");
    let elsewhere = repo.scratch().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    std::fs::write(elsewhere.join("smoke.xml"), "keep me\n").expect("write");
    std::os::unix::fs::symlink(&elsewhere, repo.path.join("build")).expect("symlink");
    repo.write(".gitignore", ".artifacts/\nbuild\n");
    repo.commit_all("build is a link");
    let out = predeploy(&repo).arg("--yes").blocked();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "predeploy.smoke_junit \"build/smoke.xml\": build is a symbolic link (it could lead out of its folder)"
        ),
        "{}",
        context(&out)
    );
    assert!(
        elsewhere.join("smoke.xml").exists(),
        "deleted through the link"
    );
    assert!(!ran(&repo, "smoke"));
}

#[test]
fn a_rollback_with_no_release_to_go_back_to_fails() {
    let repo = protocol_repo("");
    repo.git(["tag", "-d", "v1.0.0"]);
    predeploy(&repo)
        .arg("--yes")
        .stdout_has("needs {previous_tag}, and no release tag below v1.1.0 is reachable from HEAD")
        .blocked();
    assert!(!ran(&repo, "rollback"));
}

#[test]
fn an_evidence_folder_that_cannot_be_written_stops_the_run_before_anything_runs() {
    let repo = protocol_repo("");
    // Root ignores permissions; a path under a regular file fails for all.
    let file = repo.outside("plain-file", "x");
    let under = file.join("evidence");
    let out = predeploy(&repo)
        .arg("--yes")
        .arg("--out")
        .arg(&under)
        .stderr_has(format!("cannot write the evidence to {}", under.display()))
        .blocked();
    assert_eq!(error_lines(&out), 1, "{}", context(&out));
    assert!(!ran(&repo, "deploy"));

    // A read-only folder; root writes into one whatever its mode, so the
    // run is held to it.
    use std::os::unix::fs::PermissionsExt;
    let ro = repo.scratch().join("read-only");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
    let out = held_to_file_modes()
        .dir(&repo.path)
        .env("OUT", repo.scratch())
        .env("CI_FAKE_UTC", NOW)
        .args([
            "predeploy",
            "--env",
            "staging",
            "--version",
            "v1.1.0",
            "--yes",
        ])
        .arg("--out")
        .arg(&ro)
        .stderr_has(format!("cannot write the evidence to {}", ro.display()))
        .stderr_has("Permission denied")
        .blocked();
    assert_eq!(error_lines(&out), 1, "{}", context(&out));
    assert!(!ran(&repo, "deploy"));
    assert_eq!(
        std::fs::read_dir(&ro).unwrap().count(),
        0,
        "something was written"
    );
}

#[test]
fn sigint_mid_rehearsal_leaves_complete_files_and_a_manifest_of_what_is_missing() {
    let repo = protocol_repo("");
    script(
        &repo,
        "deploy",
        "#!/bin/sh\nsleep 30 & echo $! > \"$OUT/gc.pid\"\necho $$ > \"$OUT/sh.pid\"\nsleep 30\n",
    );
    repo.commit_all("slow deploy");
    let mut reaper = Reaper::for_repo(&repo);
    let pid = reaper.spawn(
        &mut predeploy(&repo)
            .args(["--yes", "--format", "json"])
            .into_command(),
    );
    let shell = read_pid(&repo.scratch().join("sh.pid"));
    let grandchild = read_pid(&repo.scratch().join("gc.pid"));
    assert!(signal(pid, "INT"), "kill -INT {pid}");
    let out = reaper.wait(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1), "{}", context(&out));
    let doc = json_of(&out);
    assert_eq!(doc["interrupted"], true, "{doc:#}");
    assert_eq!(doc["verdict"], "HALTED", "{doc:#}");
    assert!(
        gone_soon(shell) && gone_soon(grandchild),
        "the rehearsal survived SIGINT"
    );
    assert_no_survivors(&repo);

    let m = manifest(&repo);
    assert_eq!(m["status"], "interrupted", "{m:#}");
    assert_eq!(
        names(&m["artifacts"]),
        FILES[..3].to_vec(),
        "the files written before the interrupt: {m:#}"
    );
    assert_eq!(names(&m["missing"]), FILES[3..].to_vec(), "{m:#}");
    // Every file there is whole; no temporary file is left.
    for entry in std::fs::read_dir(out_dir(&repo)).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "a temporary file was left: {name}");
        if name.ends_with(".json") {
            read_json(&entry.path());
        }
    }
    let log = std::fs::read_to_string(out_dir(&repo).join("staging-deployment-run.log")).unwrap();
    assert!(log.contains("# interrupted after"), "{log}");
}

/// `predeploy --env staging --version v1.1.0 {rest}` started in `repo`
/// under a pseudo-terminal (util-linux `script`), its stdio piped.
fn spawn_on_a_terminal(repo: &Repo, rest: &str) -> std::process::Child {
    let line = format!("'{BIN}' predeploy --env staging --version v1.1.0 {rest}");
    Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(&repo.path)
        .env_clear()
        .envs(base_env())
        .env("OUT", repo.scratch())
        .env("CI_FAKE_UTC", NOW)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` must be installed (apt-get install -y bsdutils)")
}

/// Run under a pseudo-terminal with `input` typed; what it showed and the
/// exit code.
fn on_a_terminal(repo: &Repo, input: &str) -> (String, Option<i32>) {
    let mut child = spawn_on_a_terminal(repo, "--format json");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().expect("wait for script");
    (
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
        out.status.code(),
    )
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs util-linux `script` (Linux only)"
)]
fn on_a_terminal_the_review_asks_and_the_answer_is_recorded() {
    let repo = protocol_repo("");
    let (shown, code) = on_a_terminal(&repo, "yes\n");
    assert!(
        shown.contains("[READINESS REVIEW] Pre-deployment package compiled. Approve handoff to Protocol 11? (yes/no)"),
        "{shown}"
    );
    assert_eq!(code, Some(0), "{shown}");
    let review = read_json(&out_dir(&repo).join("readiness-approval.json"));
    assert_eq!(review["answered_by"], "terminal", "{review:#}");
    assert_eq!(review["decision"], "approved", "{review:#}");

    let (shown, code) = on_a_terminal(&repo, "no\n");
    assert_eq!(code, Some(1), "{shown}");
    let review = read_json(&out_dir(&repo).join("readiness-approval.json"));
    assert_eq!(review["decision"], "rejected", "{review:#}");
}

#[test]
fn a_previous_runs_files_do_not_pass_for_this_one() {
    let repo = protocol_repo("");
    predeploy(&repo).arg("--yes").safe();
    assert!(out_dir(&repo).join("PRE-DEPLOYMENT-PACKAGE.zip").exists());
    repo.write("approvals.toml", "");
    repo.commit_all("approvals gone");
    predeploy(&repo).arg("--yes").blocked();
    let m = manifest(&repo);
    assert_eq!(
        names(&m["artifacts"]),
        ["intake-validation-report.json"],
        "{m:#}"
    );
    assert!(!out_dir(&repo).join("PRE-DEPLOYMENT-PACKAGE.zip").exists());
}

#[test]
fn the_rollback_rehearsal_goes_back_to_a_release_never_a_prerelease() {
    let repo = protocol_repo("");
    repo.write("later", "x\n");
    repo.commit_all("rc");
    repo.tag("v1.1.0-rc.1");
    predeploy(&repo).arg("--yes").safe();
    assert_eq!(
        std::fs::read_to_string(repo.scratch().join("rolled-back-to"))
            .unwrap()
            .trim(),
        "v1.0.0"
    );
}

#[test]
fn evidence_of_a_predeploy_run_can_be_rechecked() {
    let repo = protocol_repo("");
    let dir = repo.scratch().join("record");
    predeploy(&repo)
        .arg("--yes")
        .arg("--evidence")
        .arg(&dir)
        .safe();
    Sentinel::new()
        .dir(&repo.path)
        .args(["evidence", "verify"])
        .arg(&dir)
        .stdout_has("PREDEPLOY=READY (exit 0) follows from the 8 recorded rows")
        .stdout_has("EVIDENCE=VERIFIED")
        .safe();
    let record = read_json(&dir.join("record.json"));
    assert_eq!(record["kind"], "predeploy", "{record:#}");
}

#[test]
fn a_predeploy_record_can_be_signed() {
    use crate::signing::{allowed, keygen, public, ssh_verify};
    let repo = protocol_repo("");
    let keys = repo.scratch().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let key = keygen(&keys, "release", "ed25519", "");
    let signers = allowed(
        &keys,
        "signers",
        &[format!("release@example.com {}", public(&key))],
    );
    let dir = repo.scratch().join("record");
    predeploy(&repo)
        .arg("--yes")
        .arg("--evidence")
        .arg(&dir)
        .arg("--sign-key")
        .arg(&key)
        .safe();
    let out = ssh_verify(&signers, "release@example.com", &dir.join("SHA256SUMS"));
    assert!(out.status.success(), "{}", crate::harness::context(&out));
    Sentinel::new()
        .args(["evidence", "verify"])
        .arg(&dir)
        .arg("--allowed-signers")
        .arg(&signers)
        .stdout_has("SHA256SUMS is signed by release@example.com")
        .stdout_has("EVIDENCE=VERIFIED")
        .safe();
}

#[test]
fn a_step_that_is_not_configured_fails_and_says_which_key_to_set() {
    let repo = protocol_repo("");
    let text = config("").replace(
        "deploy = [\"./scripts/deploy.sh\", \"{env}\", \"{version}\"]\n",
        "",
    );
    assert!(!text.contains("deploy.sh"));
    repo.write("release-sentinel.toml", &text);
    repo.commit_all("no deploy");
    predeploy(&repo)
        .arg("--yes")
        .stdout_has("| deploy_rehearsal          | FAIL | not configured: set predeploy.deploy in ")
        .stdout_has("| smoke_tests               | SKIP | not run: halted at deploy_rehearsal |")
        .blocked();
    let log = std::fs::read_to_string(out_dir(&repo).join("staging-deployment-run.log")).unwrap();
    assert!(log.contains("predeploy.deploy"), "{log}");
}

/// The pid of the release-sentinel process whose arguments hold `marker`.
fn pid_with(marker: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        let is_ours = args
            .first()
            .is_some_and(|a| a.ends_with(b"release-sentinel"));
        (is_ours && args.contains(&marker.as_bytes())).then_some(pid)
    })
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs util-linux `script` (Linux only)"
)]
fn sigint_at_a_question_stops_the_run_without_an_answer() {
    let repo = protocol_repo("");
    let out = repo.scratch().join("evidence-at-the-question");
    let marker = out.display().to_string();
    // stdin stays open and says nothing: the question waits.
    let mut child = spawn_on_a_terminal(&repo, &format!("--out '{marker}'"));
    let _stdin = child.stdin.take();
    // The package is written just before the question is asked.
    let until = std::time::Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if out.join("PRE-DEPLOYMENT-PACKAGE.zip").exists()
            && let Some(pid) = pid_with(&marker)
        {
            break pid;
        }
        assert!(std::time::Instant::now() < until, "the question never came");
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(signal(pid, "INT"), "kill -INT {pid}");
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("try_wait").is_none() {
        if std::time::Instant::now() > until {
            let _ = child.kill();
            signal(pid, "KILL");
            panic!("predeploy still waited for an answer 10 s after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let shown = child.wait_with_output().expect("script's output");
    let text = String::from_utf8_lossy(&shown.stdout).replace("\r\n", "\n");
    assert!(text.contains("no (interrupted)"), "{text}");
    let m = read_json(&out.join("pre-deployment-manifest.json"));
    assert_eq!(m["status"], "interrupted", "{m:#}");
}

#[test]
fn a_secret_in_the_tree_or_a_failed_audit_halts_gate_three() {
    let repo = protocol_repo("");
    let token = format!("ghp_{}", "0123456789abcdefghijABCDEFGHIJ012345");
    repo.write("deploy/leak.env", &format!("GITHUB_TOKEN={token}\n"));
    repo.commit_all("leak");
    predeploy(&repo)
        .arg("--yes")
        .stderr_has("[ERROR] Security/compliance scan reported blocking findings.")
        .stderr_has(
            "Recovery: escalate to security owner, implement fixes, rerun scan before approval.",
        )
        .stdout_has("| security                  | FAIL | secrets scan: ")
        .nowhere(&token)
        .blocked();
    let report = read_json(&out_dir(&repo).join("security-compliance-report.json"));
    assert_eq!(report["result"], "fail", "{report:#}");
    assert_in_no_file(&out_dir(&repo), &token);
    assert!(!out_dir(&repo).join("PRE-DEPLOYMENT-PACKAGE.zip").exists());

    std::fs::remove_file(repo.path.join("deploy/leak.env")).unwrap();
    let text = config("").replace(
        "audit = [[\"sh\", \"-c\", \"touch \\\"$OUT/audit.ran\\\"\"]]",
        "audit = [[\"sh\", \"-c\", \"echo 'CVE-2026-9999 high'; exit 3\"]]",
    );
    assert!(text.contains("exit 3"), "{text}");
    repo.write("release-sentinel.toml", &text);
    repo.commit_all("audit fails");
    predeploy(&repo)
        .arg("--yes")
        .stderr_has("[AUTOMATION] sh executed: failed (exit 3)")
        .stderr_has("[ERROR] Security/compliance scan reported blocking findings.")
        .stdout_has("exit 3")
        .blocked();
    let report = read_json(&out_dir(&repo).join("security-compliance-report.json"));
    assert_eq!(report["audits"][0]["exit_code"], 3, "{report:#}");
    assert!(
        report["audits"][0]["stdout"]
            .as_str()
            .is_some_and(|s| s.contains("CVE-2026-9999")),
        "{report:#}"
    );
}
