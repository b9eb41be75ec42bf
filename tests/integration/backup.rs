//! `backup verify <MANIFEST>` on real backups: files written in a folder
//! outside the work tree, their sizes and SHA-256 taken with `sha256sum`,
//! the manifest written beside them. Present and intact, missing,
//! modified, the wrong size, stale, from the future, undated, without its
//! restore drill, climbing out of the backup, and not a manifest at all.
//! `CI_FAKE_UTC` fixes "now".

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{
    Repo, Sentinel, context, each_row, json_check, json_of, message_of, row, sha256sum,
};

/// "Now", for every run.
const NOW: &str = "2026-03-10T12:00:00Z";
/// Two and a half hours before [`NOW`].
const RECENT: &str = "2026-03-10T09:30:00Z";

const OK: &str = "| backup                    | OK   | BACKUP=OK |";
const FAIL: &str = "| backup                    | FAIL | BACKUP=FAIL |";

// ---------------------------------------------------------------- helpers

/// A backup in the scratch folder of a repository: its files and its
/// manifest, `manifest.json`.
struct Backup {
    repo: Repo,
    dir: PathBuf,
}

impl Backup {
    /// A backup folder beside a repository whose config is `config`.
    fn new(config: &str) -> Self {
        let repo = if config.is_empty() {
            Repo::new()
        } else {
            Repo::with_config(config)
        };
        let dir = repo.scratch().join("backup");
        std::fs::create_dir_all(&dir).expect("mkdir backup");
        Self { repo, dir }
    }

    /// Write one of the backup's files.
    fn write(&self, rel: &str, content: &[u8]) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write backup file");
    }

    /// The manifest entry for `rel` as it is now: size and `sha256sum`.
    fn entry(&self, rel: &str) -> Value {
        let p = self.dir.join(rel);
        let size = std::fs::metadata(&p).expect("stat").len();
        json!({ "path": rel, "size": size, "sha256": sha256sum(&p) })
    }

    /// Write `manifest.json` with these fields; returns its path.
    fn manifest(&self, doc: Value) -> PathBuf {
        let p = self.dir.join("manifest.json");
        std::fs::write(&p, serde_json::to_vec_pretty(&doc).expect("JSON")).expect("write");
        p
    }

    /// A complete manifest of `files`, made at `created_at`, with a drill.
    fn standard(&self, files: &[&str], created_at: &str) -> PathBuf {
        let entries: Vec<Value> = files.iter().map(|f| self.entry(f)).collect();
        self.manifest(json!({
            "created_at": created_at,
            "restore_drill": "DRILL-2026-03-09",
            "files": entries,
        }))
    }

    /// `backup verify MANIFEST` from the repository, at [`NOW`].
    fn verify(&self, manifest: &Path) -> Sentinel {
        Sentinel::new()
            .dir(&self.repo.path)
            .env("CI_FAKE_UTC", NOW)
            .args(["backup", "verify"])
            .arg(manifest)
    }
}

/// A backup with three good files.
fn three_files() -> (Backup, PathBuf) {
    let b = Backup::new("");
    b.write("db.dump", b"-- dump of the shop database\nINSERT 1;\n");
    b.write("uploads/logo.png", &[0x89, b'P', b'N', b'G', 0, 1, 2, 255]);
    b.write("config/app.env", b"LOG_LEVEL=info\n");
    let m = b.standard(&["db.dump", "uploads/logo.png", "config/app.env"], RECENT);
    (b, m)
}

// ------------------------------------------------------------------ intact

#[test]
fn a_recent_backup_with_every_file_intact_and_a_drill_passes() {
    let (b, manifest) = three_files();
    b.verify(&manifest)
        .stdout_has(row("files", "OK"))
        .stdout_has("| 3 files present and intact |")
        .stdout_has(row("age", "OK"))
        .stdout_has("created 2h 30m ago (2026-03-10T09:30:00Z); max age 1day")
        .stdout_has(row("drill", "OK"))
        .stdout_has("restore drill \"DRILL-2026-03-09\"")
        .stdout_has(OK)
        .stderr_has("the time is CI_FAKE_UTC=")
        .stderr_lacks("error")
        .safe();

    let out = b.verify(&manifest).args(["--format", "json"]).safe();
    let doc = json_of(&out);
    assert_eq!(doc["kind"], "backup", "{doc:#}");
    assert_eq!(doc["exit_code"], 0, "{doc:#}");
    for id in ["files", "age", "drill"] {
        assert_eq!(json_check(&doc, id)["status"], "OK", "{id}: {doc:#}");
    }

    // A relative manifest path is taken from the working directory, and
    // the files from the manifest's folder.
    Sentinel::new()
        .dir(&b.repo.scratch())
        .env("CI_FAKE_UTC", NOW)
        .args(["backup", "verify", "backup/manifest.json"])
        .stdout_has("3 files present and intact")
        .stdout_has(OK)
        .safe();

    // Without a drill, when none is required.
    let entries = vec![b.entry("db.dump")];
    let manifest = b.manifest(json!({ "created_at": RECENT, "files": entries }));
    b.verify(&manifest)
        .stdout_has("| 1 file present and intact |")
        .stdout_has(row("drill", "OK"))
        .stdout_has("no restore drill referenced (not required)")
        .stdout_has(OK)
        .safe();
}

// ------------------------------------------------------- missing, modified

#[test]
fn missing_modified_and_resized_files_are_each_named() {
    let (b, manifest) = three_files();
    // Same size, other content.
    b.write("db.dump", b"-- dump of the shop database\nDELETE 1;\n");
    std::fs::remove_file(b.dir.join("uploads/logo.png")).expect("rm");
    b.write("config/app.env", b"LOG_LEVEL=debug\n");
    let out = b
        .verify(&manifest)
        .stdout_has(row("files", "FAIL"))
        .stdout_has(row("age", "OK"))
        .stdout_has(row("drill", "OK"))
        .stdout_has(FAIL)
        .blocked();
    let why = message_of(&out.stdout, "files");
    assert!(
        why.contains("missing: uploads/logo.png (no such file)"),
        "{why}"
    );
    assert!(why.contains("modified: db.dump"), "{why}");
    assert!(
        why.contains("wrong size: config/app.env (16 bytes, the manifest says 15)"),
        "{why}"
    );

    let out = b.verify(&manifest).args(["--format", "json"]).blocked();
    let doc = json_of(&out);
    let files = &json_check(&doc, "files")["details"];
    assert_eq!(files["missing"], json!(["uploads/logo.png (no such file)"]));
    assert_eq!(files["modified"], json!(["db.dump"]));
    assert_eq!(
        files["wrong_size"],
        json!(["config/app.env (16 bytes, the manifest says 15)"])
    );

    // Each alone is enough to fail.
    each_row(
        &["missing", "modified", "wrong size"],
        |r| *r,
        |&case| {
            let b = Backup::new("");
            b.write("db.dump", b"x");
            let manifest = b.standard(&["db.dump"], RECENT);
            match case {
                "missing" => std::fs::remove_file(b.dir.join("db.dump")).expect("rm"),
                "modified" => b.write("db.dump", b"y"),
                _ => b.write("db.dump", b"xy"),
            }
            b.verify(&manifest)
                .stdout_has(row("files", "FAIL"))
                .stdout_has(format!("| {case}: db.dump"))
                .stdout_has(FAIL)
                .blocked();
        },
    );
}

#[test]
fn an_entry_that_leaves_the_backup_folder_is_refused() {
    let b = Backup::new("");
    b.write("db.dump", b"data\n");
    // A real file outside the backup, with its true size and digest: the
    // entry is refused all the same.
    let outside = b.repo.outside("escape.txt", "outside\n");
    let escape = json!({
        "path": "../escape.txt",
        "size": 8,
        "sha256": sha256sum(&outside),
    });
    let absolute = json!({
        "path": outside.display().to_string(),
        "size": 8,
        "sha256": sha256sum(&outside),
    });
    // A link inside the backup to the file outside.
    std::os::unix::fs::symlink(&outside, b.dir.join("link.txt")).expect("symlink");
    let link = json!({ "path": "link.txt", "size": 8, "sha256": sha256sum(&outside) });
    let manifest = b.manifest(json!({
        "created_at": RECENT,
        "restore_drill": "DRILL-1",
        "files": [b.entry("db.dump"), escape, absolute, link],
    }));
    let out = b
        .verify(&manifest)
        .stdout_has(row("files", "FAIL"))
        .stdout_has(FAIL)
        .blocked();
    let why = message_of(&out.stdout, "files");
    assert!(
        why.contains("../escape.txt (refused: a path that climbs out with ..)"),
        "{why}"
    );
    assert!(why.contains("(refused: an absolute path)"), "{why}");
    assert!(why.contains("link.txt (refused: a symbolic link"), "{why}");
    assert!(!why.contains("db.dump"), "{why}");
}

#[test]
fn an_entry_under_a_linked_folder_is_refused_not_followed() {
    // `etc -> /etc` inside the backup: `etc/hostname`, with the true size
    // and digest of /etc/hostname, is not read through the link.
    let b = Backup::new("");
    b.write("db.dump", b"data\n");
    let outside = b.repo.scratch().join("system");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(outside.join("hostname"), "host\n").expect("write");
    std::os::unix::fs::symlink(&outside, b.dir.join("etc")).expect("symlink");
    let linked = json!({
        "path": "etc/hostname",
        "size": 5,
        "sha256": sha256sum(&outside.join("hostname")),
    });
    let manifest = b.manifest(json!({
        "created_at": RECENT,
        "restore_drill": "DRILL-1",
        "files": [b.entry("db.dump"), linked],
    }));
    let out = b
        .verify(&manifest)
        .stdout_has(row("files", "FAIL"))
        .stdout_has(FAIL)
        .blocked();
    let why = message_of(&out.stdout, "files");
    assert_eq!(
        why,
        "missing: etc/hostname (refused: under etc, a symbolic link; a backup's files are read only under its manifest's folder)"
    );
}

// --------------------------------------------------------------------- age

#[test]
fn a_stale_backup_fails_by_the_default_the_config_or_the_option() {
    let (b, _) = three_files();
    let old = b.standard(&["db.dump"], "2026-03-08T11:00:00Z");
    b.verify(&old)
        .stdout_has(row("files", "OK"))
        .stdout_has(row("age", "FAIL"))
        .stdout_has("STALE: created 2days 1h ago (2026-03-08T11:00:00Z); max age 1day")
        .stdout_has(FAIL)
        .blocked();
    b.verify(&old)
        .args(["--max-age", "3d"])
        .stdout_has(row("age", "OK"))
        .stdout_has("max age 3days")
        .stdout_has(OK)
        .safe();

    let recent = b.standard(&["db.dump"], RECENT);
    b.verify(&recent)
        .args(["--max-age", "2h"])
        .stdout_has(row("age", "FAIL"))
        .stdout_has("STALE: created 2h 30m ago (2026-03-10T09:30:00Z); max age 2h")
        .blocked();

    // From the config; the option wins over it.
    b.repo.config("[backup]\nmax_age = \"1h\"\n");
    b.verify(&recent)
        .stdout_has(row("age", "FAIL"))
        .stdout_has("STALE: created 2h 30m ago (2026-03-10T09:30:00Z); max age 1h")
        .blocked();
    b.verify(&recent)
        .args(["--max-age", "3h"])
        .stdout_has(row("age", "OK"))
        .stdout_has(OK)
        .safe();

    b.verify(&recent)
        .args(["--max-age", "soon"])
        .stdout("")
        .stderr_has("max age \"soon\": not a duration like 24h")
        .blocked();
}

#[test]
fn a_backup_from_the_future_or_with_a_bad_time_fails() {
    let b = Backup::new("");
    b.write("db.dump", b"data\n");
    let future = b.standard(&["db.dump"], "2026-03-10T13:00:00Z");
    b.verify(&future)
        .stdout_has(row("files", "OK"))
        .stdout_has(row("age", "FAIL"))
        .stdout_has("created 1h in the future (2026-03-10T13:00:00Z)")
        .stdout_has(FAIL)
        .blocked();

    each_row(
        &["yesterday", "", "2026-13-40T00:00:00Z", "10/03/2026 09:30"],
        |r| *r,
        |&bad| {
            let m = b.standard(&["db.dump"], bad);
            b.verify(&m)
                .stdout_has(row("age", "FAIL"))
                .stdout_has(format!("created_at \"{bad}\" is not an RFC 3339 time"))
                .stdout_has(FAIL)
                .blocked();
        },
    );
}

// ------------------------------------------------------------------- drill

#[test]
fn a_missing_drill_fails_when_the_config_requires_one() {
    let b = Backup::new("[backup]\nrequire_drill = true\n");
    b.write("db.dump", b"data\n");
    let with = b.standard(&["db.dump"], RECENT);
    b.verify(&with)
        .stdout_has(row("drill", "OK"))
        .stdout_has(OK)
        .safe();
    for drill in [Value::Null, json!(""), json!("   ")] {
        let mut doc = json!({ "created_at": RECENT, "files": [b.entry("db.dump")] });
        if !drill.is_null() {
            doc["restore_drill"] = drill;
        }
        let m = b.manifest(doc);
        b.verify(&m)
            .stdout_has(row("files", "OK"))
            .stdout_has(row("age", "OK"))
            .stdout_has(row("drill", "FAIL"))
            .stdout_has("no restore drill is referenced, and backup.require_drill is set")
            .stdout_has(FAIL)
            .blocked();
    }
}

// ---------------------------------------------------------------- manifest

#[test]
fn a_manifest_that_is_not_one_fails_clearly() {
    let b = Backup::new("");
    b.write("db.dump", b"data\n");
    for (text, reason) in [
        ("this is not JSON\n", "not a backup manifest"),
        ("{\"files\": []}", "not a backup manifest"),
        ("[1, 2, 3]", "not a backup manifest"),
    ] {
        let m = b.dir.join("manifest.json");
        std::fs::write(&m, text).expect("write");
        let out = b
            .verify(&m)
            .stdout_has(row("manifest", "FAIL"))
            .stdout_has(FAIL)
            .stderr_lacks("panicked")
            .blocked();
        let why = message_of(&out.stdout, "manifest");
        assert!(
            why.starts_with(&format!("{}: {reason}", m.display())),
            "{why}\n{}",
            context(&out)
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains(row("files", "").as_str()));
    }

    let absent = b.dir.join("no-such-manifest.json");
    b.verify(&absent)
        .stdout_has(row("manifest", "FAIL"))
        .stdout_has("no-such-manifest.json: no such file")
        .blocked();

    let empty = b.manifest(json!({ "created_at": RECENT, "files": [] }));
    b.verify(&empty)
        .stdout_has(row("files", "FAIL"))
        .stdout_has("the manifest lists no file: a backup of nothing")
        .blocked();
}

#[test]
fn a_created_at_with_a_utc_offset_is_an_rfc_3339_time() {
    // `date -Iseconds` on a host whose zone is an hour east of UTC.
    let out = Command::new("date")
        .env_clear()
        .env("TZ", "CET-1")
        .args(["-Iseconds", "-d", RECENT])
        .output()
        .expect("run date");
    let local = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(local, "2026-03-10T10:30:00+01:00", "date printed {local:?}");
    let b = Backup::new("");
    b.write("db.dump", b"data\n");
    for created_at in [
        local.as_str(),
        "2026-03-10T04:30:00-05:00",
        "2026-03-10T15:00:00.250+05:30",
        "2026-03-10T09:30:00+00:00",
    ] {
        let m = b.standard(&["db.dump"], created_at);
        b.verify(&m)
            .stdout_has(row("age", "OK"))
            .stdout_has(format!("ago ({created_at}); max age 1day"))
            .stdout_has(OK)
            .safe();
    }
    let m = b.standard(&["db.dump"], "2026-03-10T09:30:00+01:00");
    b.verify(&m).stdout_has("created 3h 30m ago").safe();
    // An offset an hour east of NOW's UTC is still in the future.
    let m = b.standard(&["db.dump"], "2026-03-10T14:00:00+01:00");
    b.verify(&m)
        .stdout_has(row("age", "FAIL"))
        .stdout_has("created 1h in the future")
        .blocked();
    // 26 h old: fractional seconds do not make the offset count for
    // nothing (read as UTC, it would look 21 h old and pass).
    let m = b.standard(&["db.dump"], "2026-03-09T15:00:00.000+05:00");
    b.verify(&m)
        .stdout_has(row("age", "FAIL"))
        .stdout_has("STALE: created 1day 2h ago")
        .blocked();
    for bad in [
        "2026-03-10T10:30:00+1:00",
        "2026-03-10T10:30:00+24:00",
        "2026-03-10T10:30:00Z+01:00",
        "2026-03-10T10:30:00+01:60",
    ] {
        let m = b.standard(&["db.dump"], bad);
        b.verify(&m)
            .stdout_has(format!("created_at \"{bad}\" is not an RFC 3339 time"))
            .blocked();
    }
}
