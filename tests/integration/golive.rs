//! `golive --env prod --version V [--dry-run]`: the go-live checklist on a
//! real repository the gate passes for (clean, on `main`, an API health
//! check against a live endpoint), a real backup with `sha256sum` digests,
//! parity evidence under `.artifacts/` (ignored by git, or the tree would
//! be dirty) and real commands for the blockers and the items.
//!
//! Commands write markers into the scratch folder named by `$OUT`, outside
//! the work tree: a dry run must leave none, a real run must leave one for
//! every item, even after an item failed. `CI_FAKE_UTC` fixes "now".

use std::path::PathBuf;
use std::process::Output;

use serde_json::json;

use crate::harness::{
    Repo, Sentinel, context, health_url, json_of, message_of, row, sha256sum, toml_str,
};

/// "Now", for every run.
const NOW: &str = "2026-03-10T12:00:00Z";
/// When the backup was made: 2 h 30 min before [`NOW`].
const BACKUP_AT: &str = "2026-03-10T09:30:00Z";
/// When the parity check passed: 1 h before [`NOW`].
const PARITY_AT: &str = "2026-03-10T11:00:00Z";

const EVIDENCE: &str = ".artifacts/pre-deployment/staging-parity-report.json";

const PASS: &str = "Go-live checklist result: PASS\n";
const FAIL: &str = "Go-live checklist result: FAIL\n";
const DRY_RUN: &str = "Go-live checklist result: DRY-RUN\n";

/// The built-in items, in order.
const BUILTIN: &[&str] = &[
    "release-gate",
    "pre-live-pack",
    "backup",
    "parity-evidence",
    "blockers",
];

// ---------------------------------------------------------------- helpers

/// What to configure.
#[derive(Clone, Copy)]
struct Setup {
    backup: bool,
    blockers: bool,
}

const FULL: Setup = Setup {
    backup: true,
    blockers: true,
};

/// A `[[golive.items]]` entry running `line` through `sh -c`.
fn item(name: &str, line: &str) -> String {
    format!(
        "[[golive.items]]\nname = {}\nrun = [\"sh\", \"-c\", {}]\n\n",
        toml_str(name),
        toml_str(line)
    )
}

/// An item that leaves `$OUT/<name>.ran`, then exits with `code`.
fn marker_item(name: &str, code: i32) -> String {
    item(name, &format!("touch \"$OUT/{name}.ran\"; exit {code}"))
}

/// The blockers command: prints `$OUT/blockers.txt`, if there is one;
/// fails when there is a `$OUT/blockers.fail`.
const BLOCKERS: &str = "touch \"$OUT/blockers.ran\"; test ! -e \"$OUT/blockers.fail\" || exit 2; \
                        cat \"$OUT/blockers.txt\" 2>/dev/null || true";

/// A repository ready for go-live: `.artifacts/` ignored, an API health
/// check on a live endpoint, the backup's manifest and the blockers
/// command as `setup` says, and `items` (TOML) after them. The backup
/// itself (one file and its manifest) is in the scratch folder.
fn ready(setup: Setup, items: &str) -> (Repo, PathBuf) {
    let repo = Repo::new();
    let manifest = repo.scratch().join("backup").join("manifest.json");
    let mut config = format!(
        "[[health.api]]\nname = \"svc\"\nurl = {}\n\n",
        toml_str(health_url())
    );
    if setup.backup {
        config.push_str(&format!(
            "[backup]\nmanifest = {}\n\n",
            toml_str(&manifest.display().to_string())
        ));
    }
    if setup.blockers {
        config.push_str(&format!(
            "[golive]\nblockers = [\"sh\", \"-c\", {}]\n\n",
            toml_str(BLOCKERS)
        ));
    }
    config.push_str(items);
    repo.write(".gitignore", ".artifacts/\n");
    repo.config(&config);
    (repo, manifest)
}

/// Write the backup `manifest` names: one file, made at `created_at`.
fn write_backup(manifest: &PathBuf, created_at: &str) {
    let dir = manifest.parent().expect("backup folder");
    std::fs::create_dir_all(dir).expect("mkdir backup");
    let dump = dir.join("db.dump");
    std::fs::write(&dump, "-- the shop database\n").expect("write dump");
    let doc = json!({
        "created_at": created_at,
        "restore_drill": "DRILL-2026-03-09",
        "files": [{ "path": "db.dump", "size": 21, "sha256": sha256sum(&dump) }],
    });
    std::fs::write(manifest, doc.to_string()).expect("write manifest");
}

/// Write the parity evidence `predeploy` leaves.
fn write_evidence(repo: &Repo, doc: serde_json::Value) {
    repo.write(EVIDENCE, &doc.to_string());
}

/// Everything a real run needs, all of it passing.
fn everything_in_place(repo: &Repo, manifest: &PathBuf) {
    write_backup(manifest, BACKUP_AT);
    write_evidence(repo, json!({ "time": PARITY_AT, "result": "pass" }));
}

/// `golive --env prod --version v1.0.0` in `repo`, at [`NOW`], with
/// `$OUT` naming its scratch folder.
fn golive(repo: &Repo) -> Sentinel {
    Sentinel::new()
        .dir(&repo.path)
        .env("OUT", repo.scratch())
        .env("CI_FAKE_UTC", NOW)
        .args(["golive", "--env", "prod", "--version", "v1.0.0"])
}

fn ran(repo: &Repo, name: &str) -> bool {
    repo.scratch().join(format!("{name}.ran")).exists()
}

/// The ids of the rows of the checklist, in order (the final row aside).
fn row_ids(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| go_live "))
        .map(|l| l[2..27].trim_end().to_string())
        .collect()
}

fn ids(names: &[&str]) -> Vec<String> {
    BUILTIN.iter().chain(names).map(|s| s.to_string()).collect()
}

// ----------------------------------------------------------------- dry run

#[test]
fn a_dry_run_shows_every_item_in_order_and_runs_nothing() {
    let items = [
        marker_item("smoke", 0),
        item("announce", "touch \"$OUT/announce.ran\""),
    ]
    .concat();
    let (repo, manifest) = ready(FULL, &items);
    // Nothing exists yet: no backup, no evidence. A dry run reads neither.
    let rule = |c: &str| c.repeat(60);
    let expected = format!(
        "{eq}\nGo-Live Checklist Summary: env=prod version=v1.0.0\n{eq}\n\n\
         {gate} DRY-RUN release-sentinel --env prod --version v1.0.0 |\n\
         {pack} DRY-RUN release-sentinel pack --env prod --version v1.0.0 |\n\
         {backup} DRY-RUN release-sentinel backup verify {manifest} |\n\
         {parity} DRY-RUN check {EVIDENCE}: no critical drift, at most 1day old |\n\
         {blockers} DRY-RUN sh -c '{BLOCKERS}' |\n\
         {smoke} DRY-RUN sh -c 'touch \"$OUT/smoke.ran\"; exit 0' |\n\
         {announce} DRY-RUN sh -c 'touch \"$OUT/announce.ran\"' |\n\
         \n{dash}\n| go_live                   | OK   | GO_LIVE=DRY-RUN |\n{dash}\n{DRY_RUN}",
        eq = rule("="),
        dash = rule("-"),
        gate = row("release-gate", "SKIP"),
        pack = row("pre-live-pack", "SKIP"),
        backup = row("backup", "SKIP"),
        parity = row("parity-evidence", "SKIP"),
        blockers = row("blockers", "SKIP"),
        smoke = row("smoke", "SKIP"),
        announce = row("announce", "SKIP"),
        manifest = manifest.display(),
    );
    let out = golive(&repo)
        .arg("--dry-run")
        .stdout(expected)
        .stderr_has("the time is CI_FAKE_UTC=")
        .stderr_lacks("error")
        .safe();
    assert_eq!(row_ids(&out), ids(&["smoke", "announce"]));
    for name in ["smoke", "announce", "blockers"] {
        assert!(!ran(&repo, name), "{name} ran in a dry run");
    }

    // The same plan as JSON; still nothing run.
    let out = golive(&repo).args(["--dry-run", "--format", "json"]).safe();
    let doc = json_of(&out);
    assert_eq!(doc["kind"], "golive", "{doc:#}");
    assert_eq!(doc["exit_code"], 0, "{doc:#}");
    let items = doc["items"].as_array().expect("items");
    let got: Vec<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(got, ids(&["smoke", "announce"]), "{doc:#}");
    for i in items {
        assert!(
            i["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("DRY-RUN ")),
            "{doc:#}"
        );
    }
    for name in ["smoke", "announce", "blockers"] {
        assert!(!ran(&repo, name), "{name} ran in a dry run");
    }
}

#[test]
fn a_dry_run_fails_for_an_item_that_is_not_configured() {
    for setup in [
        Setup {
            backup: false,
            blockers: false,
        },
        Setup {
            backup: false,
            blockers: true,
        },
        Setup {
            backup: true,
            blockers: false,
        },
    ] {
        let (repo, _) = ready(setup, &marker_item("smoke", 0));
        let mut run = golive(&repo)
            .arg("--dry-run")
            .stdout_has(row("release-gate", "SKIP"))
            .stdout_has(row("parity-evidence", "SKIP"))
            .stdout_has(row("smoke", "SKIP"))
            .stdout_has("| go_live                   | FAIL | GO_LIVE=FAIL |")
            .stdout_has(FAIL);
        run = if setup.backup {
            run.stdout_has(row("backup", "SKIP"))
        } else {
            run.stdout_has(row("backup", "FAIL"))
                .stdout_has("not configured: set backup.manifest in ")
        };
        run = if setup.blockers {
            run.stdout_has(row("blockers", "SKIP"))
        } else {
            run.stdout_has(row("blockers", "FAIL"))
                .stdout_has("not configured: set golive.blockers in ")
        };
        let out = run.blocked();
        assert!(
            String::from_utf8_lossy(&out.stdout).ends_with(FAIL),
            "{}",
            context(&out)
        );
        assert_eq!(row_ids(&out), ids(&["smoke"]));
        assert!(!ran(&repo, "smoke"), "smoke ran in a dry run");
    }
}

// ---------------------------------------------------------------- real run

#[test]
fn a_real_run_where_everything_passes_is_pass() {
    let items = [marker_item("smoke", 0), marker_item("announce", 0)].concat();
    let (repo, manifest) = ready(FULL, &items);
    everything_in_place(&repo, &manifest);
    let out = golive(&repo)
        .stdout_has("Go-Live Checklist Summary: env=prod version=v1.0.0\n")
        .stdout_has(row("release-gate", "OK"))
        .stdout_has("SAFE: 11 checks passed")
        .stdout_has(row("pre-live-pack", "OK"))
        .stdout_has(row("backup", "OK"))
        .stdout_has("present and intact, created 2h 30m ago")
        .stdout_has(row("parity-evidence", "OK"))
        .stdout_has("parity passed 1h ago (2026-03-10T11:00:00Z)")
        .stdout_has(row("blockers", "OK"))
        .stdout_has("no open blocker")
        .stdout_has(row("smoke", "OK"))
        .stdout_has(row("announce", "OK"))
        .stdout_has("| go_live                   | OK   | GO_LIVE=PASS |")
        .stdout_lacks("FAIL")
        .stdout_lacks("DRY-RUN")
        .safe();
    assert!(
        String::from_utf8_lossy(&out.stdout).ends_with(PASS),
        "{}",
        context(&out)
    );
    assert_eq!(row_ids(&out), ids(&["smoke", "announce"]));
    for name in ["blockers", "smoke", "announce"] {
        assert!(ran(&repo, name), "{name} did not run");
    }

    let out = golive(&repo).args(["--format", "json"]).safe();
    let doc = json_of(&out);
    assert_eq!(doc["exit_code"], 0, "{doc:#}");
    let items = doc["items"].as_array().expect("items");
    assert!(items.iter().all(|i| i["status"] == "OK"), "{doc:#}");
}

#[test]
fn a_real_run_names_every_failure_and_still_runs_every_item() {
    let items = [
        item("migrate", "echo 'migration 42 failed' >&2; exit 4"),
        marker_item("announce", 0),
    ]
    .concat();
    let (repo, manifest) = ready(FULL, &items);
    everything_in_place(&repo, &manifest);
    // Two open blockers (a blank line is none), and evidence two days old.
    std::fs::write(
        repo.scratch().join("blockers.txt"),
        "OPS-1 payment outage\n\nOPS-2 certificate expiry\n",
    )
    .expect("write blockers");
    write_evidence(
        &repo,
        json!({ "time": "2026-03-08T11:00:00Z", "result": "pass" }),
    );
    let out = golive(&repo)
        .stdout_has(row("release-gate", "OK"))
        .stdout_has(row("pre-live-pack", "OK"))
        .stdout_has(row("backup", "OK"))
        .stdout_has(row("parity-evidence", "FAIL"))
        .stdout_has(row("blockers", "FAIL"))
        .stdout_has("| 2 blockers open: OPS-1 payment outage, OPS-2 certificate expiry |")
        .stdout_has(row("migrate", "FAIL"))
        .stdout_has(row("announce", "OK"))
        .stdout_has("| go_live                   | FAIL | GO_LIVE=FAIL |")
        .blocked();
    assert!(
        String::from_utf8_lossy(&out.stdout).ends_with(FAIL),
        "{}",
        context(&out)
    );
    let stale = message_of(&out.stdout, "parity-evidence");
    assert!(stale.starts_with("STALE: "), "{stale}");
    assert!(
        stale.contains("staging-parity-report.json is 2days 1h old"),
        "{stale}"
    );
    assert!(message_of(&out.stdout, "migrate").contains("exit 4"));
    // The item after the failing one ran.
    assert!(
        ran(&repo, "announce"),
        "the item after a failed one did not run"
    );

    let out = golive(&repo).args(["--format", "json"]).blocked();
    let doc = json_of(&out);
    let items = doc["items"].as_array().expect("items");
    let of = |id: &str| {
        items
            .iter()
            .find(|i| i["id"] == id)
            .unwrap_or_else(|| panic!("no item {id} in {doc:#}"))
    };
    assert_eq!(
        of("blockers")["details"]["blockers"],
        json!(["OPS-1 payment outage", "OPS-2 certificate expiry"])
    );
    assert_eq!(of("migrate")["details"]["stderr"], "migration 42 failed\n");
}

#[test]
fn a_gate_or_a_backup_that_fails_is_named() {
    let (repo, manifest) = ready(FULL, &marker_item("smoke", 0));
    everything_in_place(&repo, &manifest);
    // A modified backup file and a dirty tree.
    std::fs::write(
        manifest.parent().expect("dir").join("db.dump"),
        "-- the shop DATABASE\n",
    )
    .expect("modify dump");
    repo.write("stray.txt", "not committed\n");
    let out = golive(&repo)
        .stdout_has(row("release-gate", "FAIL"))
        .stdout_has("not SAFE: clean_tree (FAIL)")
        .stdout_has(row("pre-live-pack", "FAIL"))
        .stdout_has(row("backup", "FAIL"))
        .stdout_has("modified: db.dump")
        .stdout_has(row("parity-evidence", "OK"))
        .stdout_has(row("blockers", "OK"))
        .stdout_has(row("smoke", "OK"))
        .blocked();
    assert!(
        String::from_utf8_lossy(&out.stdout).ends_with(FAIL),
        "{}",
        context(&out)
    );
    assert!(ran(&repo, "smoke"));
}

#[test]
fn parity_evidence_must_be_there_passed_and_dated() {
    let (repo, manifest) = ready(FULL, "");
    write_backup(&manifest, BACKUP_AT);
    let cases: [(Option<serde_json::Value>, &str); 5] = [
        (
            None,
            "no such file; run release-sentinel predeploy (or parity) first",
        ),
        (
            Some(json!({ "time": PARITY_AT, "result": "fail" })),
            "the parity check did not pass (1h ago)",
        ),
        (
            Some(json!({ "time": "2026-03-10T13:00:00Z", "result": "pass" })),
            "dated in the future (2026-03-10T13:00:00Z)",
        ),
        (
            Some(json!({ "result": "pass" })),
            "no valid time field (\"\")",
        ),
        (
            Some(json!({ "time": "last tuesday", "result": "pass" })),
            "no valid time field (\"last tuesday\")",
        ),
    ];
    for (doc, why) in cases {
        let path = repo.path.join(EVIDENCE);
        let _ = std::fs::remove_file(&path);
        if let Some(doc) = doc {
            write_evidence(&repo, doc);
        }
        let out = golive(&repo)
            .stdout_has(row("release-gate", "OK"))
            .stdout_has(row("backup", "OK"))
            .stdout_has(row("parity-evidence", "FAIL"))
            .stdout_has(row("blockers", "OK"))
            .stdout_has(FAIL)
            .blocked();
        let message = message_of(&out.stdout, "parity-evidence");
        assert!(message.contains(EVIDENCE), "{message}");
        assert!(message.contains(why), "{why}: {message}");
    }
    // A time at an offset is the time it says: 11:00 UTC, an hour ago,
    // also after fractional seconds; 14:00 at +01:00 is an hour ahead.
    for (time, age) in [
        ("2026-03-10T12:00:00+01:00", "1h"),
        ("2026-03-10T06:00:00.000-05:00", "1h"),
        ("2026-03-10T14:00:00.000+05:00", "3h"),
    ] {
        write_evidence(&repo, json!({ "time": time, "result": "pass" }));
        golive(&repo)
            .stdout_has(row("parity-evidence", "OK"))
            .stdout_has(format!("parity passed {age} ago ({time})"))
            .stdout_has(PASS)
            .safe();
    }
    write_evidence(
        &repo,
        json!({ "time": "2026-03-10T14:00:00+01:00", "result": "pass" }),
    );
    golive(&repo)
        .stdout_has(row("parity-evidence", "FAIL"))
        .stdout_has("dated in the future")
        .blocked();
    // Not JSON.
    repo.write(EVIDENCE, "PASS\n");
    let out = golive(&repo).stdout_has(FAIL).blocked();
    assert!(message_of(&out.stdout, "parity-evidence").contains("not JSON"));
}

#[test]
fn blockers_that_cannot_be_listed_and_an_item_that_cannot_start_fail() {
    let items = [
        "[[golive.items]]\nname = \"ghost\"\nrun = [\"no-such-golive-item-cmd\"]\n\n".to_string(),
        marker_item("announce", 0),
    ]
    .concat();
    let (repo, manifest) = ready(FULL, &items);
    everything_in_place(&repo, &manifest);
    // The blockers command fails: no answer is not "no blocker".
    std::fs::write(repo.scratch().join("blockers.fail"), "").expect("write");
    let out = golive(&repo)
        .stdout_has(row("blockers", "FAIL"))
        .stdout_has("cannot list the open blockers: sh -c touch ")
        .stdout_has(row("ghost", "FAIL"))
        .stdout_has(row("announce", "OK"))
        .stdout_has(FAIL)
        .blocked();
    assert!(message_of(&out.stdout, "ghost").contains("could not start"));
    assert!(ran(&repo, "announce"));
}
