//! The operations toolkit on real trees, checked by the real consumers:
//! `bundle` (its zip read by `unzip`, `zipinfo`, `sha256sum -c` and
//! Python's `zipfile`, and rebuilt on a copy of the tree to prove it is
//! reproducible), `bundle verify` (on bundles damaged, and archives made
//! hostile, with Python's `zipfile`), `rotate` (real mtimes set with
//! `touch -d`, links out of the folder, a racing `rm`, a lock held with
//! `flock`, a tmpfs mounted in a user namespace), `freshness` and `ready`.
//!
//! A test whose tool is missing fails and names the package to install; it
//! never passes without having checked anything.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{
    BIN, Reaper, Repo, Sentinel, base_env, context, health_url, json_check, json_of, message_of,
    row, toml_str,
};

/// The Debian packages the toolkit's tests use.
const INSTALL: &str = "apt-get install -y unzip coreutils python3 util-linux";

const BUNDLE_OK: &str = "| bundle                    | OK   | BUNDLE=OK |";
const BUNDLE_FAIL: &str = "| bundle                    | FAIL | BUNDLE=FAIL |";

/// The longest a run that must be prompt may take on a loaded 2-core
/// machine: each such run takes well under a second.
const PROMPT: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------- helpers

/// Fails the test unless `tool` is on the PATH, naming what to install.
pub(crate) fn require(tool: &str) {
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    });
    assert!(
        found,
        "`{tool}` is not installed: the toolkit's tests check their results with it \
         (Debian: {INSTALL})"
    );
}

/// Run `tool` with `args` in `dir` with the harness environment; the
/// output, whatever the status.
pub(crate) fn tool(dir: &Path, tool: &str, args: &[&str]) -> Output {
    require(tool);
    Command::new(tool)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(base_env())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"))
}

/// Run `tool` and expect it to succeed; its stdout.
pub(crate) fn tool_ok(dir: &Path, name: &str, args: &[&str]) -> String {
    let out = tool(dir, name, args);
    assert!(
        out.status.success(),
        "{name} {args:?} failed in {}: {}",
        dir.display(),
        context(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a Python script (`python3 -c`) with `args` in `dir`; its stdout.
fn python(dir: &Path, script: &str, args: &[&str]) -> String {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    tool_ok(dir, "python3", &all)
}

/// `sha256sum NAME > NAME.sha256` in `dir`, as a person would make it.
fn sha256sum_file(dir: &Path, name: &str) {
    let line = tool_ok(dir, "sha256sum", &[name]);
    std::fs::write(dir.join(format!("{name}.sha256")), line).expect("write .sha256");
}

/// The digest `sha256sum` gives for `path`.
fn sha256sum(path: &Path) -> String {
    let out = tool_ok(Path::new("/"), "sha256sum", &[&path.display().to_string()]);
    out.split_whitespace().next().expect("a digest").to_string()
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `n` bytes that do not compress (a fixed xorshift stream).
pub(crate) fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub(crate) fn write_bytes(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, data).expect("write");
}

fn chmod(root: &Path, rel: &str, mode: u32) {
    std::fs::set_permissions(root.join(rel), std::fs::Permissions::from_mode(mode)).expect("chmod");
}

// ------------------------------------------------------------------ bundle

const BUNDLE_CONFIG: &str = r#"
[bundle]
name = "mm-bot"
[[bundle.files]]
path = "VERSION"
description = "Version file"
[[bundle.files]]
path = "deploy/**/*.yml"
description = "Deploy configs"
[[bundle.files]]
path = "bin/*"
description = "Scripts"
[[bundle.files]]
path = "docs/notes.txt"
description = "Release notes"
[[bundle.files]]
path = "data/model.bin"
description = "Model weights"
"#;

/// The files [`BUNDLE_CONFIG`] lists, in the order of the bundle.
const BUNDLED: &[&str] = &[
    "VERSION",
    "bin/run.sh",
    "bin/tool",
    "data/model.bin",
    "deploy/a/x.yml",
    "deploy/y.yml",
    "docs/notes.txt",
];

const ZIP: &str = "mm-bot-v1.2.3.zip";

/// A repository with the files of [`BUNDLE_CONFIG`] committed: text,
/// incompressible data, a script (0755) and an owner-only executable
/// (0744); `artifacts/` ignored.
fn bundle_repo() -> Repo {
    let repo = Repo::new();
    let root = &repo.path;
    repo.write(".gitignore", "artifacts/\n");
    repo.write("VERSION", "1.2.3\n");
    repo.write("deploy/a/x.yml", "replicas: 3\n");
    repo.write("deploy/y.yml", "image: mm-bot:1.2.3\n");
    repo.write("deploy/README", "not a yml: not bundled\n");
    repo.write("bin/run.sh", "#!/bin/sh\nexec ./mm-bot \"$@\"\n");
    repo.write("bin/tool", "#!/bin/sh\necho tool\n");
    chmod(root, "bin/run.sh", 0o755);
    chmod(root, "bin/tool", 0o744);
    let notes: String = (0..2000)
        .map(|i| format!("line {i}: the release notes repeat themselves\n"))
        .collect();
    repo.write("docs/notes.txt", &notes);
    write_bytes(root, "data/model.bin", &noise(300 * 1024, 7));
    repo.config(BUNDLE_CONFIG);
    repo
}

/// `bundle --version v1.2.3` in `dir`, expected to pass.
fn build(dir: &Path) -> Output {
    Sentinel::new()
        .dir(dir)
        .args(["bundle", "--version", "v1.2.3"])
        .stdout_has(row("bundle", "OK"))
        .stdout_has(BUNDLE_OK)
        .safe()
}

/// What Python's `zipfile` sees in a zip: `testzip`, the names in order,
/// and per entry its time, mode, system, extra field, method and digest.
const INSPECT: &str = r#"
import hashlib, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
out = {"bad": z.testzip(), "names": z.namelist(), "entries": {}}
for i in z.infolist():
    out["entries"][i.filename] = {
        "date_time": list(i.date_time),
        "mode": (i.external_attr >> 16),
        "system": i.create_system,
        "extra": len(i.extra),
        "method": i.compress_type,
        "size": i.file_size,
        "sha256": hashlib.sha256(z.read(i)).hexdigest(),
    }
print(json.dumps(out))
"#;

fn inspect(zip: &Path) -> Value {
    let text = python(Path::new("/"), INSPECT, &[&zip.display().to_string()]);
    serde_json::from_str(&text).expect("inspect's JSON")
}

/// The zip time (2-second steps, UTC) of unix seconds `t`, as Python's
/// `ZipInfo.date_time` gives it.
fn zip_time(t: i64) -> Value {
    let text = python(
        Path::new("/"),
        "import json, sys, time\nt = time.gmtime(int(sys.argv[1]))\n\
         print(json.dumps([t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec - t.tm_sec % 2]))",
        &[&t.to_string()],
    );
    serde_json::from_str(&text).expect("a time")
}

fn commit_time(repo: &Repo) -> i64 {
    repo.git(["log", "-1", "--format=%ct"])
        .trim()
        .parse()
        .expect("commit time")
}

/// The permission bits of `path`.
fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[test]
fn a_bundle_is_accepted_by_sha256sum_unzip_zipinfo_and_python() {
    let repo = bundle_repo();
    let out = Sentinel::of(Path::new("sh"))
        .dir(&repo.path)
        .args([
            "-c",
            "umask 022 && exec \"$0\" bundle --version v1.2.3",
            BIN,
        ])
        .stdout_has(BUNDLE_OK)
        .safe();
    let m = message_of(&out.stdout, "files");
    assert!(m.starts_with("7 files,"), "{m}");
    let dir = repo.path.join("artifacts/release");
    assert_eq!(
        listing(&dir),
        [
            ZIP,
            "mm-bot-v1.2.3.zip.intoto.json",
            "mm-bot-v1.2.3.zip.sha256"
        ],
        "the bundle, its checksum and its statement, and no temporary file"
    );
    let zip = dir.join(ZIP);
    // Published files: readable by all under umask 022, as any new file.
    for name in listing(&dir) {
        assert_eq!(mode_of(&dir.join(&name)), 0o644, "{name}");
    }

    // sha256sum -c accepts the checksum file as written.
    let check = tool_ok(&dir, "sha256sum", &["-c", "mm-bot-v1.2.3.zip.sha256"]);
    assert_eq!(check, "mm-bot-v1.2.3.zip: OK\n");
    // unzip tests every entry's CRC.
    let tested = tool_ok(&dir, "unzip", &["-t", ZIP]);
    assert!(tested.contains("No errors detected"), "{tested}");
    for name in BUNDLED {
        assert!(tested.contains(&format!("testing: {name}")), "{tested}");
    }

    // The statement's subject is the zip, with sha256sum's digest.
    let digest = sha256sum(&zip);
    let st: Value = serde_json::from_slice(
        &std::fs::read(dir.join("mm-bot-v1.2.3.zip.intoto.json")).expect("statement"),
    )
    .expect("statement JSON");
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(st["subject"][0]["name"], ZIP);
    assert_eq!(st["subject"][0]["digest"]["sha256"], digest.as_str());
    assert!(message_of(&out.stdout, "bundle").contains(&digest));

    // Python's zipfile: every entry intact, MANIFEST.json first then
    // sorted, one fixed time (the commit's), no extra fields, deflate.
    let z = inspect(&zip);
    assert_eq!(z["bad"], Value::Null, "{z:#}");
    let mut names = vec!["MANIFEST.json"];
    names.extend_from_slice(BUNDLED);
    assert_eq!(z["names"], serde_json::json!(names));
    let when = zip_time(commit_time(&repo));
    for (name, e) in z["entries"].as_object().expect("entries") {
        assert_eq!(e["date_time"], when, "{name}: {z:#}");
        assert_eq!(e["extra"], 0, "{name} has an extra field");
        assert_eq!(e["method"], 8, "{name} is not deflated");
        assert_eq!(e["system"], 3, "{name} was not made on unix");
        let mode = e["mode"].as_u64().expect("mode");
        let want = if name.starts_with("bin/") {
            0o755
        } else {
            0o644
        };
        assert_eq!(mode & 0o7777, want, "{name}: mode {mode:o}");
    }

    // The manifest says what sha256sum says of each source file.
    let manifest: Value = serde_json::from_str(&python(
        &dir,
        "import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read('MANIFEST.json').decode())",
        &[ZIP],
    ))
    .expect("manifest");
    assert_eq!(manifest["version"], "v1.2.3");
    let files = manifest["files"].as_array().expect("files");
    assert_eq!(files.len(), BUNDLED.len());
    for (f, name) in files.iter().zip(BUNDLED) {
        assert_eq!(f["path"], *name);
        let src = repo.path.join(name);
        assert_eq!(f["sha256"], sha256sum(&src).as_str(), "{name}");
        assert_eq!(
            f["size"],
            std::fs::metadata(&src).expect("stat").len(),
            "{name}"
        );
        assert_eq!(z["entries"][*name]["sha256"], f["sha256"], "{name}");
    }
    assert_eq!(files[3]["description"], "Model weights");

    // zipinfo shows the permissions: 0755 for both executables (0744 on
    // disk), 0644 for the rest.
    let info = tool_ok(&dir, "zipinfo", &[ZIP]);
    for name in names {
        let line = info
            .lines()
            .find(|l| l.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("zipinfo does not list {name}:\n{info}"));
        let want = if name.starts_with("bin/") {
            "-rwxr-xr-x"
        } else {
            "-rw-r--r--"
        };
        assert!(line.starts_with(want), "{name}: {line}");
    }

    // And the tool's own check agrees.
    Sentinel::new()
        .dir(&dir)
        .args(["bundle", "verify", ZIP])
        .stdout_has(row("checksum", "OK"))
        .stdout_has(row("statement", "OK"))
        .stdout_has(row("entries", "OK"))
        .stdout_has("7 files present and intact")
        .stdout_has(BUNDLE_OK)
        .safe();
}

#[test]
fn a_second_build_on_a_copy_of_the_tree_is_byte_identical() {
    let repo = bundle_repo();
    build(&repo.path);
    let first = repo.path.join("artifacts/release");

    // A copy elsewhere, every mtime changed, modes narrowed to the owner
    // (0600 and 0700), built under umask 077.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let copy = elsewhere.path().join("another-checkout");
    tool_ok(
        Path::new("/"),
        "cp",
        &[
            "-a",
            &repo.path.display().to_string(),
            &copy.display().to_string(),
        ],
    );
    std::fs::remove_dir_all(copy.join("artifacts")).expect("remove the first build");
    tool_ok(
        &copy,
        "sh",
        &[
            "-c",
            "find . -path ./.git -prune -o -type f -exec touch -d '2001-02-03 04:05:06' {} + \
             && chmod 0600 VERSION deploy/y.yml data/model.bin && chmod 0700 bin/run.sh bin/tool",
        ],
    );
    Sentinel::of(Path::new("sh"))
        .dir(&copy)
        .args([
            "-c",
            "umask 077 && exec \"$0\" bundle --version v1.2.3",
            BIN,
        ])
        .stdout_has(BUNDLE_OK)
        .safe();
    let second = copy.join("artifacts/release");
    // The umask is honoured: the owner's only under 077.
    for name in listing(&second) {
        assert_eq!(mode_of(&second.join(&name)), 0o600, "{name}");
    }
    for name in [
        ZIP,
        "mm-bot-v1.2.3.zip.sha256",
        "mm-bot-v1.2.3.zip.intoto.json",
    ] {
        let a = std::fs::read(first.join(name)).expect("first build");
        let b = std::fs::read(second.join(name)).expect("second build");
        assert!(a == b, "{name} differs between the two builds");
    }
    // The second zip still says 0755 and 0644.
    let z = inspect(&second.join(ZIP));
    assert_eq!(
        z["entries"]["bin/tool"]["mode"].as_u64().map(|m| m & 0o777),
        Some(0o755)
    );
    assert_eq!(
        z["entries"]["VERSION"]["mode"].as_u64().map(|m| m & 0o777),
        Some(0o644)
    );
}

#[test]
fn source_date_epoch_sets_the_time_and_the_commit_time_is_used_otherwise() {
    let repo = bundle_repo();
    build(&repo.path);
    let by_commit = std::fs::read(repo.path.join("artifacts/release").join(ZIP)).expect("zip");

    let epoch = 1_700_000_000;
    let run = |out: &str| {
        Sentinel::new()
            .dir(&repo.path)
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .args(["bundle", "--version", "v1.2.3", "--out", out])
            .stdout_has(BUNDLE_OK)
            .safe()
    };
    let out = run("sde-1");
    run("sde-2");
    let a = std::fs::read(repo.path.join("sde-1").join(ZIP)).expect("zip");
    let b = std::fs::read(repo.path.join("sde-2").join(ZIP)).expect("zip");
    assert!(a == b, "the same SOURCE_DATE_EPOCH gave different bytes");
    assert!(
        a != by_commit,
        "SOURCE_DATE_EPOCH did not change the bundle"
    );
    let doc = json_of(
        &Sentinel::new()
            .dir(&repo.path)
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .args(["bundle", "--version", "v1.2.3", "--out", "sde-3"])
            .args(["--format", "json"])
            .safe(),
    );
    assert_eq!(
        json_check(&doc, "bundle")["details"]["created_at"],
        "2023-11-14T22:13:20Z"
    );
    let z = inspect(&repo.path.join("sde-1").join(ZIP));
    for (name, e) in z["entries"].as_object().expect("entries") {
        assert_eq!(
            e["date_time"],
            serde_json::json!([2023, 11, 14, 22, 13, 20]),
            "{name}"
        );
    }
    assert!(message_of(&out.stdout, "bundle").starts_with("sde-1/mm-bot-v1.2.3.zip"));

    // Without it, the commit's time (a later commit moves it).
    let z = inspect(&repo.path.join("artifacts/release").join(ZIP));
    assert_eq!(
        z["entries"]["VERSION"]["date_time"],
        zip_time(commit_time(&repo))
    );

    // Not unix seconds: refused, named.
    Sentinel::new()
        .dir(&repo.path)
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .args(["bundle", "--version", "v1.2.3", "--out", "sde-bad"])
        .stderr_has("SOURCE_DATE_EPOCH")
        .blocked();
    assert!(!repo.path.join("sde-bad").exists());
}

#[test]
fn a_missing_listed_file_fails_by_name_and_leaves_nothing_behind() {
    let repo = bundle_repo();
    repo.config(&format!(
        "{BUNDLE_CONFIG}\n[[bundle.files]]\npath = \"docs/CHANGELOG.md\"\ndescription = \"Changes\"\n\
         [[bundle.files]]\npath = \"assets/*.png\"\ndescription = \"Pictures\"\n"
    ));
    // Into the default folder, which does not exist yet ...
    let out = Sentinel::new()
        .dir(&repo.path)
        .args(["bundle", "--version", "v1.2.3"])
        .stdout_has(row("files", "FAIL"))
        .stdout_has(BUNDLE_FAIL)
        .blocked();
    let m = message_of(&out.stdout, "files");
    assert!(m.contains("docs/CHANGELOG.md does not exist"), "{m}");
    assert!(m.contains("assets/*.png matches no file"), "{m}");
    assert!(
        !repo.path.join("artifacts").exists(),
        "the run left a folder"
    );
    // ... and into one that exists: nothing written, no temporary file.
    let out_dir = repo.path.join("dist");
    std::fs::create_dir(&out_dir).expect("mkdir");
    Sentinel::new()
        .dir(&repo.path)
        .args(["bundle", "--version", "v1.2.3", "--out", "dist"])
        .stdout_has("docs/CHANGELOG.md does not exist")
        .stdout_has(BUNDLE_FAIL)
        .blocked();
    assert_eq!(listing(&out_dir), Vec::<String>::new());

    // A listed link is refused too, by name.
    std::fs::remove_file(repo.path.join("VERSION")).expect("rm");
    std::os::unix::fs::symlink("/etc/hostname", repo.path.join("VERSION")).expect("symlink");
    std::fs::write(repo.path.join("docs/CHANGELOG.md"), "changes\n").expect("write");
    std::fs::create_dir_all(repo.path.join("assets")).expect("mkdir");
    std::fs::write(repo.path.join("assets/logo.png"), "png\n").expect("write");
    Sentinel::new()
        .dir(&repo.path)
        .args(["bundle", "--version", "v1.2.3", "--out", "dist"])
        .stdout_has("VERSION is a symbolic link")
        .stdout_has(BUNDLE_FAIL)
        .blocked();
    assert_eq!(listing(&out_dir), Vec::<String>::new());

    // So is a listed file under a folder that is a link (here out of the
    // repository, to /etc).
    std::fs::remove_file(repo.path.join("VERSION")).expect("rm");
    std::fs::write(repo.path.join("VERSION"), "1.2.3\n").expect("write");
    std::os::unix::fs::symlink("/etc", repo.path.join("system")).expect("symlink");
    repo.config(&format!(
        "{BUNDLE_CONFIG}\n[[bundle.files]]\npath = \"system/hostname\"\ndescription = \"Host\"\n"
    ));
    Sentinel::new()
        .dir(&repo.path)
        .args(["bundle", "--version", "v1.2.3", "--out", "dist"])
        .stdout_has("system/hostname is under system, a symbolic link")
        .stdout_has(BUNDLE_FAIL)
        .blocked();
    assert_eq!(listing(&out_dir), Vec::<String>::new());
}

#[test]
fn a_glob_over_the_whole_tree_leaves_out_earlier_bundles() {
    // `**` matches everything, the folder given with --out included: a
    // second build must not take in the first one's zip, and is the same.
    let repo = Repo::new();
    repo.write("data/a.txt", "a\n");
    repo.config(
        "[bundle]\nname = \"all\"\n[[bundle.files]]\npath = \"**\"\ndescription = \"all\"\n",
    );
    for _ in 0..2 {
        let out = Sentinel::new()
            .dir(&repo.path)
            .args(["bundle", "--version", "v1.0.0", "--out", "dist"])
            .stdout_has(BUNDLE_OK)
            .safe();
        let m = message_of(&out.stdout, "files");
        assert!(m.starts_with("3 files,"), "{m}");
    }
    let z = inspect(&repo.path.join("dist/all-v1.0.0.zip"));
    assert_eq!(
        z["names"],
        serde_json::json!([
            "MANIFEST.json",
            "README",
            "data/a.txt",
            "release-sentinel.toml"
        ])
    );
}

#[test]
fn a_listed_file_swapped_for_a_link_while_the_bundle_is_built_is_never_followed() {
    // Listed files, each swapped again and again for a moment (an atomic
    // exchange of names, and back) with a link to a file outside the
    // repository. The link must never be followed: a run either bundles
    // the listed files or fails naming a link; the outside file is never
    // read.
    let repo = Repo::new();
    let secret = repo.outside("outside.txt", "OUTSIDE THE REPOSITORY\n");
    let secret_digest = sha256sum(&secret);
    let mut config = String::from("[bundle]\nname = \"race\"\n");
    std::fs::create_dir_all(repo.path.join("data")).expect("mkdir");
    let links = repo.scratch().join("links");
    std::fs::create_dir_all(&links).expect("mkdir");
    let mut pairs = Vec::new();
    for i in 0..4 {
        let rel = format!("data/f{i}.txt");
        std::fs::write(repo.path.join(&rel), format!("inside {i}\n")).expect("write");
        let link = links.join(format!("l{i}"));
        std::os::unix::fs::symlink(&secret, &link).expect("symlink");
        pairs.push((repo.path.join(&rel), link));
        config.push_str(&format!(
            "[[bundle.files]]\npath = \"{rel}\"\ndescription = \"f\"\n"
        ));
    }
    repo.config(&config);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for (a, b) in &pairs {
                    for _ in 0..2 {
                        let exchanged = rustix::fs::renameat_with(
                            rustix::fs::CWD,
                            a,
                            rustix::fs::CWD,
                            b,
                            rustix::fs::RenameFlags::EXCHANGE,
                        );
                        if exchanged.is_err() {
                            return swaps;
                        }
                        swaps += 1;
                    }
                    // The listed file is in place most of the time.
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_micros(20) {
                        std::hint::spin_loop();
                    }
                }
            }
            swaps
        })
    };
    let (mut built, mut refused) = (0, Vec::new());
    let started = Instant::now();
    let mut leaked = None;
    for _ in 0..200 {
        let out = Sentinel::new()
            .dir(&repo.path)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args([
                "bundle",
                "--version",
                "v1.0.0",
                "--out",
                "dist",
                "--format",
                "json",
            ])
            .code_in(&[0, 1]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains(&secret_digest) {
            leaked = Some(text);
            break;
        }
        if out.status.success() {
            built += 1;
        } else {
            refused.push(text);
        }
        if started.elapsed() > Duration::from_secs(40) {
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().expect("swapper");
    eprintln!("{built} built, {} refused", refused.len());
    assert!(
        leaked.is_none(),
        "the outside file was bundled (after {built} good and {} refused runs):\n{}",
        refused.len(),
        leaked.unwrap_or_default()
    );
    assert!(swaps > 1000, "only {swaps} swaps");
    for text in &refused {
        assert!(
            text.contains("is a symbolic link") || text.contains("was replaced"),
            "a failed run names the link: {text}"
        );
    }
}

#[test]
fn a_glob_over_a_folder_that_cannot_be_read_fails_the_bundle_by_name() {
    let repo = Repo::new();
    repo.write("deploy/a.yml", "a: 1\n");
    repo.write("deploy/locked/b.yml", "b: 2\n");
    repo.write("other/locked/c.txt", "c\n");
    repo.config(
        "[bundle]\nname = \"g\"\n[[bundle.files]]\npath = \"deploy/**/*.yml\"\ndescription = \"d\"\n",
    );
    chmod(&repo.path, "deploy/locked", 0o000);
    // A folder the glob cannot reach does not matter.
    chmod(&repo.path, "other/locked", 0o000);
    let out = crate::harness::held_to_file_modes()
        .dir(&repo.path)
        .args(["bundle", "--version", "v1.0.0", "--out", "dist"])
        .stdout_has(row("files", "FAIL"))
        .stdout_has(BUNDLE_FAIL)
        .blocked();
    let m = message_of(&out.stdout, "files");
    assert!(
        m.contains("deploy/**/*.yml: the folder deploy/locked cannot be read (Permission denied"),
        "{m}"
    );
    assert!(!m.contains("other/locked"), "{m}");
    assert!(!repo.path.join("dist/g-v1.0.0.zip").exists());
    // Readable again, the same glob takes both files.
    chmod(&repo.path, "deploy/locked", 0o755);
    let out = crate::harness::held_to_file_modes()
        .dir(&repo.path)
        .args(["bundle", "--version", "v1.0.0", "--out", "dist"])
        .stdout_has(BUNDLE_OK)
        .safe();
    let m = message_of(&out.stdout, "files");
    assert!(m.starts_with("2 files,"), "{m}");
    chmod(&repo.path, "other/locked", 0o755);
}

#[test]
fn a_file_of_4_gib_or_more_is_bundled_with_zip64() {
    // A sparse file of 4.1 GiB (zeros: quick to compress), with a small
    // file after it, so that its local header is beyond 4 GiB too.
    let repo = Repo::new();
    repo.write("a.txt", "first\n");
    repo.write("z.txt", "last\n");
    let big = repo.path.join("big.bin");
    let size: u64 = 4_400_000_000;
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(size))
        .expect("a sparse file");
    repo.config(
        "[bundle]\nname = \"big\"\n[[bundle.files]]\npath = \"*.bin\"\ndescription = \"big\"\n\
         [[bundle.files]]\npath = \"*.txt\"\ndescription = \"small\"\n",
    );
    Sentinel::new()
        .dir(&repo.path)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["bundle", "--version", "v1.0.0", "--out", "dist"])
        .stdout_has(BUNDLE_OK)
        .safe();
    let zip = repo.path.join("dist/big-v1.0.0.zip");
    let check = python(
        Path::new("/"),
        "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\n\
         print(z.namelist())\nprint(z.getinfo('big.bin').file_size)\n\
         print(z.read('a.txt'), z.read('z.txt'))\nprint(z.testzip())",
        &[&zip.display().to_string()],
    );
    assert_eq!(
        check,
        format!(
            "['MANIFEST.json', 'a.txt', 'big.bin', 'z.txt']\n{size}\nb'first\\n' b'last\\n'\nNone\n"
        )
    );
    let dist = repo.path.join("dist");
    let sums = tool_ok(&dist, "sha256sum", &["-c", "big-v1.0.0.zip.sha256"]);
    assert_eq!(sums, "big-v1.0.0.zip: OK\n");
}

#[test]
fn the_zip_its_checksum_and_its_statement_appear_together_or_not_at_all() {
    // A folder where the checksum (then the statement) must go: it cannot
    // be written, and neither the zip nor the other file stays.
    for blocked in ["mm-bot-v1.2.3.zip.sha256", "mm-bot-v1.2.3.zip.intoto.json"] {
        let repo = bundle_repo();
        let dist = repo.path.join("dist");
        std::fs::create_dir_all(dist.join(blocked)).expect("mkdir");
        let out = Sentinel::new()
            .dir(&repo.path)
            .args(["bundle", "--version", "v1.2.3", "--out", "dist"])
            .stdout_has(row("bundle", "FAIL"))
            .stdout_has(BUNDLE_FAIL)
            .blocked();
        let m = message_of(&out.stdout, "bundle");
        assert!(m.contains("cannot write") && m.contains(blocked), "{m}");
        assert_eq!(
            listing(&dist),
            [blocked],
            "{blocked}: only the folder is there"
        );
    }
}

#[test]
fn config_paths_the_tool_writes_stay_inside_the_repository() {
    // The folder bundle writes to, the file ready writes and the state
    // file verify writes: each refused by its key path when it leaves the
    // repository, and nothing is written.
    let repo = bundle_repo();
    let victim_dir = repo.path.parent().expect("parent").join("escaped");
    repo.config(&format!(
        "{}\n[ready]\nreport = \"/tmp/rs-ready-escape.json\"\n[verify]\nstate_file = \"../state.json\"\n",
        BUNDLE_CONFIG.replace("name = \"mm-bot\"", "name = \"mm-bot\"\nout = \"../escaped\"")
    ));
    Sentinel::new()
        .dir(&repo.path)
        .args(["bundle", "--version", "v1.2.3"])
        .stderr_has("bundle.out: \"../escaped\": a path that climbs out with ..")
        .stderr_has("ready.report: \"/tmp/rs-ready-escape.json\": an absolute path")
        .stderr_has("verify.state_file: \"../state.json\": a path that climbs out with ..")
        .blocked();
    assert!(!victim_dir.exists());
    // A folder of the repository that is a link out of it, named by
    // bundle.out: refused too (`--out` may name any folder).
    repo.config(&BUNDLE_CONFIG.replace(
        "name = \"mm-bot\"",
        "name = \"mm-bot\"\nout = \"dist/release\"",
    ));
    std::fs::create_dir_all(&victim_dir).expect("mkdir");
    std::os::unix::fs::symlink(&victim_dir, repo.path.join("dist")).expect("symlink");
    Sentinel::new()
        .dir(&repo.path)
        .args(["bundle", "--version", "v1.2.3"])
        .stdout_has("bundle.out \"dist/release\": dist is a symbolic link")
        .stdout_has(BUNDLE_FAIL)
        .blocked();
    assert_eq!(listing(&victim_dir), Vec::<String>::new());
    Sentinel::new()
        .dir(&repo.path)
        .args(["bundle", "--version", "v1.2.3", "--out"])
        .arg(&victim_dir)
        .stdout_has(BUNDLE_OK)
        .safe();
}

// ----------------------------------------------------------- bundle verify

/// Rewrite the zip `src` as `dst` with Python's `zipfile`, each entry
/// kept as it was (name, time, mode, method) except as `mode` says:
/// `missing` drops `target`, `modified` flips a bit of it, `extra` adds it,
/// `wrong_size` adds one to its size in MANIFEST.json, `grown` adds three
/// bytes to it (its MANIFEST.json record unchanged).
const REWRITE: &str = r#"
import json, sys, zipfile
src, dst, mode, target = sys.argv[1:5]
zin = zipfile.ZipFile(src)
with zipfile.ZipFile(dst, "w") as zout:
    for info in zin.infolist():
        data = zin.read(info)
        if mode == "missing" and info.filename == target:
            continue
        if mode == "modified" and info.filename == target:
            data = bytes([data[0] ^ 1]) + data[1:]
        if mode == "grown" and info.filename == target:
            data = data + b"abc"
        if mode == "wrong_size" and info.filename == "MANIFEST.json":
            m = json.loads(data)
            for f in m["files"]:
                if f["path"] == target:
                    f["size"] += 1
            data = (json.dumps(m, indent=2) + "\n").encode()
        zout.writestr(info, data)
    if mode == "extra":
        zout.writestr(target, b"not in the manifest\n")
"#;

/// The good bundle's folder.
fn good_bundle() -> (Repo, PathBuf) {
    let repo = bundle_repo();
    build(&repo.path);
    let dir = repo.path.join("artifacts/release");
    (repo, dir)
}

/// A folder `name` in `repo`'s scratch space holding `ZIP` made by
/// [`REWRITE`] from `good`, and its `.sha256` made by `sha256sum`.
fn damaged(repo: &Repo, good: &Path, name: &str, mode: &str, target: &str) -> PathBuf {
    let dir = repo.scratch().join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    python(
        &dir,
        REWRITE,
        &[&good.join(ZIP).display().to_string(), ZIP, mode, target],
    );
    sha256sum_file(&dir, ZIP);
    dir
}

fn verify_in(dir: &Path) -> Sentinel {
    Sentinel::new().dir(dir).args(["bundle", "verify", ZIP])
}

#[test]
fn verify_names_missing_extra_modified_and_wrong_size_files() {
    let (repo, good) = good_bundle();
    for (mode, target, says) in [
        ("missing", "deploy/y.yml", "missing: deploy/y.yml"),
        ("extra", "deploy/z.yml", "extra: deploy/z.yml"),
        ("modified", "docs/notes.txt", "modified: docs/notes.txt"),
        (
            "wrong_size",
            "VERSION",
            "wrong size: VERSION (6 bytes, the manifest says 7)",
        ),
        // The archive holds 9 bytes where the manifest says 6: the
        // manifest's size is named, not only the archive's own header.
        (
            "grown",
            "VERSION",
            "wrong size: VERSION (9 bytes, the manifest says 6)",
        ),
    ] {
        let dir = damaged(&repo, &good, mode, mode, target);
        let out = verify_in(&dir)
            .stdout_has(row("checksum", "OK"))
            .stdout_has(row("entries", "OK"))
            .stdout_has(row("manifest", "FAIL"))
            .stdout_has(BUNDLE_FAIL)
            .blocked();
        let m = message_of(&out.stdout, "manifest");
        assert_eq!(m, says, "{mode}");
    }
    // The rewrite itself keeps a good bundle good (the cases above fail
    // for their one change, not for the rewriting).
    let same = damaged(&repo, &good, "rewritten", "none", "-");
    verify_in(&same).stdout_has(BUNDLE_OK).safe();
}

/// `description` may be left out: the manifest then describes each file
/// by its `path` as written; a blank one is still refused.
#[test]
fn a_bundle_file_without_a_description_is_described_by_its_path() {
    let repo = Repo::new();
    repo.write(".gitignore", "artifacts/\n");
    repo.write("VERSION", "1.2.3\n");
    repo.write("deploy/y.yml", "image: x\n");
    repo.config(
        "[bundle]\nname = \"mm-bot\"\n[[bundle.files]]\npath = \"VERSION\"\n\
         [[bundle.files]]\npath = \"deploy/*.yml\"\n",
    );
    build(&repo.path);
    let dir = repo.path.join("artifacts/release");
    let manifest: Value = serde_json::from_str(&python(
        &dir,
        "import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read('MANIFEST.json').decode())",
        &[ZIP],
    ))
    .expect("manifest");
    let described: Vec<(&str, &str)> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("path"),
                f["description"].as_str().expect("description"),
            )
        })
        .collect();
    assert_eq!(
        described,
        [("VERSION", "VERSION"), ("deploy/y.yml", "deploy/*.yml")]
    );
    verify_in(&dir).stdout_has(BUNDLE_OK).safe();

    repo.config(
        "[bundle]\nname = \"mm-bot\"\n[[bundle.files]]\npath = \"VERSION\"\ndescription = \" \"\n",
    );
    Sentinel::new()
        .dir(&repo.path)
        .args(["bundle", "--version", "v1.2.3"])
        .stderr_has("bundle.files[0].description")
        .blocked();
}

#[test]
fn verify_fails_on_a_missing_or_wrong_checksum_file() {
    let (repo, good) = good_bundle();
    let dir = repo.scratch().join("sums");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::copy(good.join(ZIP), dir.join(ZIP)).expect("copy");
    // No .sha256 at all.
    let out = verify_in(&dir)
        .stdout_has(row("checksum", "FAIL"))
        .stdout_has(row("manifest", "OK"))
        .stdout_has(BUNDLE_FAIL)
        .blocked();
    let m = message_of(&out.stdout, "checksum");
    assert!(m.contains("mm-bot-v1.2.3.zip.sha256: no such file"), "{m}");
    // Another digest.
    let wrong = format!("{}  {ZIP}\n", "0".repeat(64));
    std::fs::write(dir.join("mm-bot-v1.2.3.zip.sha256"), wrong).expect("write");
    let out = verify_in(&dir)
        .stdout_has(row("checksum", "FAIL"))
        .stdout_has(BUNDLE_FAIL)
        .blocked();
    let m = message_of(&out.stdout, "checksum");
    assert!(
        m.contains(&format!(".sha256 says {}", "0".repeat(64))),
        "{m}"
    );
    // The right digest for another file's name.
    let other = format!("{}  other.zip\n", sha256sum(&dir.join(ZIP)));
    std::fs::write(dir.join("mm-bot-v1.2.3.zip.sha256"), other).expect("write");
    let out = verify_in(&dir).stdout_has(BUNDLE_FAIL).blocked();
    let m = message_of(&out.stdout, "checksum");
    assert!(m.contains("names other.zip"), "{m}");
    // A zip changed after its .sha256 was written (the statement, copied
    // beside it, no longer names it either).
    sha256sum_file(&dir, ZIP);
    std::fs::copy(
        good.join("mm-bot-v1.2.3.zip.intoto.json"),
        dir.join("mm-bot-v1.2.3.zip.intoto.json"),
    )
    .expect("copy");
    verify_in(&dir).stdout_has(BUNDLE_OK).safe();
    let mut bytes = std::fs::read(dir.join(ZIP)).expect("read");
    bytes.extend_from_slice(b"trailing");
    std::fs::write(dir.join(ZIP), bytes).expect("write");
    verify_in(&dir)
        .stdout_has(row("checksum", "FAIL"))
        .stdout_has(row("statement", "FAIL"))
        .stdout_has(BUNDLE_FAIL)
        .blocked();
}

/// Hostile archives, each with a manifest that lists its regular files
/// truly: `python3 -c HOSTILE NAME` writes NAME.zip.
const HOSTILE: &str = r#"
import hashlib, json, struct, sys, zipfile
name = sys.argv[1]
def record(path, data):
    return {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "description": "x"}
def build(entries, listed):
    with zipfile.ZipFile(name + ".zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("MANIFEST.json", json.dumps({"version": "v1.0.0", "created_at": "2024-01-01T00:00:00Z",
                                                "files": [record(p, d) for p, d in listed]}))
        for path, data, mode in entries:
            info = zipfile.ZipInfo(path, (2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = mode << 16
            z.writestr(info, data)
ok = ("ok.txt", b"fine\n", 0o100644)
if name == "dotdot":
    build([ok, ("../escape.txt", b"x", 0o100644)], [ok[:2], ("../escape.txt", b"x")])
elif name == "absolute":
    build([ok, ("/tmp/escape.txt", b"x", 0o100644)], [ok[:2], ("/tmp/escape.txt", b"x")])
elif name == "symlink":
    build([ok, ("link.txt", b"/etc/passwd", 0o120777)], [ok[:2]])
elif name == "bomb":
    zeros = bytes(100 * 1024 * 1024)
    build([ok, ("zeros.bin", zeros, 0o100644)], [ok[:2], ("zeros.bin", zeros)])
elif name == "liar":
    # The same bomb, its headers claiming 1 MiB: under every ratio limit.
    zeros = bytes(100 * 1024 * 1024)
    build([ok, ("zeros.bin", zeros, 0o100644)], [ok[:2], ("zeros.bin", zeros)])
    b = bytearray(open(name + ".zip", "rb").read())
    at = 0
    while True:
        at = b.find(b"zeros.bin", at + 1)
        if at < 0:
            break
        if b[at - 30:at - 26] == b"PK\x03\x04":
            struct.pack_into("<I", b, at - 30 + 22, 1024 * 1024)
        if b[at - 46:at - 42] == b"PK\x01\x02":
            struct.pack_into("<I", b, at - 46 + 24, 1024 * 1024)
    open(name + ".zip", "wb").write(b)
elif name == "duplicate":
    # The second copy is the one the manifest describes.
    build([ok, ("twice.txt", b"payload\n", 0o100644), ("twice.txt", b"listed\n", 0o100644)],
          [ok[:2], ("twice.txt", b"listed\n")])
"#;

#[test]
fn verify_refuses_hostile_archives_by_name_without_inflating_them() {
    let repo = Repo::new();
    let dir = repo.scratch().join("hostile");
    std::fs::create_dir(&dir).expect("mkdir");
    for (name, entry, why) in [
        ("dotdot", "../escape.txt", "a path that climbs out with .."),
        ("absolute", "/tmp/escape.txt", "an absolute path"),
        ("symlink", "link.txt", "a symbolic link"),
        ("bomb", "zeros.bin", "more than 100x"),
        ("duplicate", "twice.txt", "a name the archive holds twice"),
    ] {
        python(&dir, HOSTILE, &[name]);
        let zip = format!("{name}.zip");
        sha256sum_file(&dir, &zip);
        let started = Instant::now();
        let out = Sentinel::new()
            .dir(&dir)
            .args(["bundle", "verify", &zip])
            .stdout_has(row("checksum", "OK"))
            .stdout_has(row("entries", "FAIL"))
            .stdout_has(BUNDLE_FAIL)
            .blocked();
        let took = started.elapsed();
        let m = message_of(&out.stdout, "entries");
        assert!(
            m.contains(&format!("{entry}: ")) && m.contains(why),
            "{name}: {m}\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(took < PROMPT, "{name}: took {took:?}");
    }
    // A bomb whose headers lie about its size passes the limits on
    // paper; it is stopped at the size it claims, not inflated whole
    // (inflating and hashing 100 MiB takes a debug build many seconds).
    python(&dir, HOSTILE, &["liar"]);
    sha256sum_file(&dir, "liar.zip");
    let started = Instant::now();
    let out = Sentinel::new()
        .dir(&dir)
        .args(["bundle", "verify", "liar.zip"])
        .stdout_has(row("manifest", "FAIL"))
        .stdout_has(BUNDLE_FAIL)
        .blocked();
    let took = started.elapsed();
    let m = message_of(&out.stdout, "manifest");
    assert!(m.contains("zeros.bin"), "{m}");
    assert!(took < PROMPT, "the lying bomb took {took:?}");
    // Nothing was extracted anywhere near.
    assert!(!dir.join("../escape.txt").exists());
    assert!(!Path::new("/tmp/escape.txt").exists());
}

#[test]
fn verify_refuses_a_fifo_a_folder_and_a_device_before_reading() {
    let repo = Repo::new();
    let dir = repo.scratch().join("odd");
    std::fs::create_dir(&dir).expect("mkdir");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.join("fifo.zip"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mkfifo");
    std::fs::create_dir(dir.join("folder.zip")).expect("mkdir");
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.zip")).expect("symlink");
    for (name, kind) in [
        ("fifo.zip", "a FIFO, not a regular file"),
        ("folder.zip", "a directory, not a file"),
        ("zero.zip", "a device, not a regular file"),
    ] {
        let mut reaper = Reaper::for_repo(&repo);
        reaper.spawn(
            &mut Sentinel::new()
                .dir(&dir)
                .args(["bundle", "verify", name])
                .into_command(),
        );
        let out = reaper.wait(PROMPT);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", context(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(BUNDLE_FAIL), "{name}: {text}");
        let m = message_of(&out.stdout, "checksum");
        assert_eq!(m, format!("cannot read {name}: it is {kind}"), "{name}");
        let m = message_of(&out.stdout, "manifest");
        assert_eq!(m, format!("cannot read {name}: it is {kind}"), "{name}");
    }
}

// ------------------------------------------------------------------ rotate

pub(crate) const ROTATE_OK: &str = "| rotate                    | OK   | ROTATE=OK |";
pub(crate) const ROTATE_FAIL: &str = "| rotate                    | FAIL | ROTATE=FAIL |";

/// `touch -d WHEN` on `paths` (relative to `dir`).
pub(crate) fn touch(dir: &Path, when: &str, paths: &[&str]) {
    let mut args = vec!["-d", when];
    args.extend_from_slice(paths);
    tool_ok(dir, "touch", &args);
}

/// The lock file `rotate` keeps in the folder it rotates.
pub(crate) const LOCK: &str = ".release-sentinel-rotate.lock";

/// Every regular file under `dir` (relative) with its size and mtime,
/// except `rotate`'s lock file.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<String, (u64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let e = e.expect("entry");
            let m = std::fs::symlink_metadata(e.path()).expect("lstat");
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() && e.file_name() != LOCK {
                let rel = e.path().strip_prefix(dir).expect("under dir").to_owned();
                out.insert(rel.display().to_string(), (m.len(), m.mtime()));
            }
        }
    }
    out
}

pub(crate) fn rotate_in(repo: &Repo) -> Sentinel {
    Sentinel::new().dir(&repo.path).arg("rotate")
}

/// A tree of artifacts with real sizes and ages (`touch -d`):
/// (path, size, age in days).
pub(crate) const TREE: &[(&str, usize, u32)] = &[
    ("new/a.log", 1000, 0),
    ("new/b.log", 2000, 2),
    ("mid/c.bin", 3000, 3),
    ("mid/d.bin", 4000, 5),
    ("old/e.tar", 5000, 10),
    ("old/f.tar", 6000, 20),
    ("old/deep/g.tar", 7000, 30),
];

pub(crate) fn artifacts(repo: &Repo) -> PathBuf {
    let dir = repo.path.join("artifacts");
    for (i, (path, size, age)) in TREE.iter().enumerate() {
        write_bytes(&dir, path, &noise(*size, i as u64 + 1));
        touch(&dir, &format!("{age} days ago"), &[path]);
    }
    dir
}

pub(crate) fn ignored_repo() -> Repo {
    let repo = Repo::new();
    repo.write(".gitignore", "artifacts/\n");
    repo.commit_all("ignore artifacts");
    repo
}

#[test]
fn rotate_deletes_by_ttl_then_by_size_oldest_first_keeping_the_newest() {
    let repo = ignored_repo();
    let dir = artifacts(&repo);
    // TTL 7 days: e, f, g (18,000 B). Then under 5,000 B: of a, b, c, d
    // (10,000 B), d then c go, oldest first; a is kept whatever happens.
    let out = rotate_in(&repo)
        .args(["--days", "7", "--max-size", "5000", "--keep", "1"])
        .stdout_has(ROTATE_OK)
        .safe();
    assert_eq!(
        message_of(&out.stdout, "ttl"),
        "3 files older than 7 days: 17.6 KiB"
    );
    assert_eq!(
        message_of(&out.stdout, "size"),
        "2 more of the oldest to get under 4.9 KiB: 6.8 KiB; 2.9 KiB left"
    );
    assert_eq!(
        message_of(&out.stdout, "rotate"),
        "deleted 5 files, freed 24.4 KiB"
    );
    assert_eq!(
        snapshot(&dir).keys().collect::<Vec<_>>(),
        ["new/a.log", "new/b.log"]
    );

    // --keep wins over the TTL: the 2 newest of what is left stay, even
    // a year old.
    touch(&dir, "400 days ago", &["new/a.log", "new/b.log"]);
    rotate_in(&repo)
        .args(["--days", "7", "--keep", "2"])
        .stdout_has("deleted 0 files, freed 0 B")
        .safe();
    assert_eq!(snapshot(&dir).len(), 2);
    rotate_in(&repo)
        .args(["--days", "7", "--keep", "1"])
        .stdout_has("deleted 1 file, freed 2.0 KiB")
        .safe();
    assert_eq!(snapshot(&dir).keys().collect::<Vec<_>>(), ["new/a.log"]);
    // [rotate] in the config is the same as the options.
    repo.config("[rotate]\ndays = 7\n");
    rotate_in(&repo).stdout_has("deleted 1 file").safe();
    assert!(snapshot(&dir).is_empty());
}

#[test]
fn rotate_judges_ages_by_the_runs_clock_and_an_invalid_one_deletes_nothing() {
    let repo = ignored_repo();
    let dir = artifacts(&repo);
    let before = snapshot(&dir);
    // A year from now every file is older than 7 days.
    let later = humantime::format_rfc3339_seconds(
        std::time::SystemTime::now() + std::time::Duration::from_secs(365 * 24 * 3600),
    )
    .to_string();
    let out = rotate_in(&repo)
        .env("CI_FAKE_UTC", &later)
        .args(["--days", "7", "--dry-run"])
        .safe();
    assert_eq!(
        message_of(&out.stdout, "rotate"),
        "dry run: would delete 7 files and free 27.3 KiB"
    );
    rotate_in(&repo)
        .env("CI_FAKE_UTC", "tomorrow")
        .args(["--days", "7"])
        .stderr_has("CI_FAKE_UTC=\"tomorrow\" is not an RFC 3339 time")
        .blocked();
    assert_eq!(
        snapshot(&dir),
        before,
        "a run without a valid time deleted files"
    );
}

#[test]
fn rotate_dry_run_deletes_nothing_and_prints_the_plan_and_the_bytes() {
    let repo = ignored_repo();
    let dir = artifacts(&repo);
    let before = snapshot(&dir);
    let out = rotate_in(&repo)
        .args([
            "--days",
            "7",
            "--max-size",
            "5000",
            "--keep",
            "1",
            "--dry-run",
        ])
        .stdout_has(ROTATE_OK)
        .safe();
    assert_eq!(
        message_of(&out.stdout, "rotate"),
        "dry run: would delete 5 files and free 24.4 KiB"
    );
    assert_eq!(snapshot(&dir), before, "a dry run changed the tree");
    // Not even a lock file: a dry run writes nothing (a read-only folder
    // can be planned).
    assert!(!dir.join(LOCK).exists(), "a dry run wrote its lock file");
    // The JSON report has every file and what becomes of it.
    let doc = json_of(
        &rotate_in(&repo)
            .args([
                "--days",
                "7",
                "--max-size",
                "5000",
                "--keep",
                "1",
                "--dry-run",
            ])
            .args(["--format", "json"])
            .safe(),
    );
    let plan: Vec<(String, String, u64)> = json_check(&doc, "rotate")["details"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("path").to_string(),
                f["action"].as_str().expect("action").to_string(),
                f["size"].as_u64().expect("size"),
            )
        })
        .collect();
    let want: Vec<(String, String, u64)> = [
        ("new/a.log", "keep", 1000),
        ("new/b.log", "stay", 2000),
        ("mid/c.bin", "size", 3000),
        ("mid/d.bin", "size", 4000),
        ("old/e.tar", "ttl", 5000),
        ("old/f.tar", "ttl", 6000),
        ("old/deep/g.tar", "ttl", 7000),
    ]
    .iter()
    .map(|(p, a, s)| (p.to_string(), a.to_string(), *s))
    .collect();
    assert_eq!(plan, want);
    let freed: u64 = plan
        .iter()
        .filter(|(_, a, _)| a == "ttl" || a == "size")
        .map(|(_, _, s)| s)
        .sum();
    assert_eq!(freed, 25_000);
    assert_eq!(snapshot(&dir), before, "a dry run changed the tree");
}

#[test]
fn rotate_counts_links_and_never_follows_them_out_of_the_folder() {
    let repo = ignored_repo();
    let dir = artifacts(&repo);
    // Old things outside the folder, and links to them inside.
    let outside = repo.scratch().join("outside");
    std::fs::create_dir_all(outside.join("dir")).expect("mkdir");
    std::fs::write(outside.join("file.txt"), "precious\n").expect("write");
    std::fs::write(outside.join("dir/inner.txt"), "precious too\n").expect("write");
    touch(&outside, "100 days ago", &["file.txt", "dir/inner.txt"]);
    let before = snapshot(&outside);
    std::os::unix::fs::symlink(outside.join("file.txt"), dir.join("old/file-link")).expect("ln");
    std::os::unix::fs::symlink(outside.join("dir"), dir.join("dir-link")).expect("ln");
    let out = rotate_in(&repo)
        .args(["--days", "1"])
        .stdout_has(ROTATE_OK)
        .safe();
    let m = message_of(&out.stdout, "scan");
    assert!(m.contains("7 files"), "{m}");
    assert!(m.contains("2 links"), "{m}");
    assert_eq!(snapshot(&outside), before, "rotate changed a file outside");
    assert!(
        std::fs::symlink_metadata(dir.join("old/file-link")).is_ok_and(|m| m.is_symlink()),
        "the link to a file was deleted"
    );
    assert!(
        std::fs::symlink_metadata(dir.join("dir-link")).is_ok_and(|m| m.is_symlink()),
        "the link to a folder was deleted"
    );
    assert_eq!(
        snapshot(&dir).keys().collect::<Vec<_>>(),
        ["new/a.log"],
        "only the file younger than a day stays"
    );
    // A folder that is itself a link is refused.
    std::os::unix::fs::symlink(&outside, repo.path.join("linked")).expect("ln");
    rotate_in(&repo)
        .args(["linked", "--days", "1"])
        .stdout_has(row("folder", "FAIL"))
        .stdout_has("linked is a symbolic link")
        .stdout_has(ROTATE_FAIL)
        .blocked();
    assert_eq!(snapshot(&outside), before);
}

#[test]
fn rotate_refuses_the_root_home_the_repository_and_what_contains_them() {
    let repo = ignored_repo();
    artifacts(&repo);
    let home = tempfile::tempdir().expect("temp HOME");
    std::fs::write(home.path().join("old.txt"), "mine\n").expect("write");
    touch(home.path(), "100 days ago", &["old.txt"]);
    let home_s = home.path().display().to_string();
    let root_s = repo.path.display().to_string();
    let parent_s = repo.scratch().display().to_string();
    for (dir, says) in [
        ("/", "is the root of the filesystem"),
        (home_s.as_str(), "is the home directory"),
        (".", "is the repository root"),
        (root_s.as_str(), "is the repository root"),
        ("..", "contains the repository root"),
        (parent_s.as_str(), "contains the repository root"),
    ] {
        let out = rotate_in(&repo)
            .env("HOME", home.path())
            .args([dir, "--days", "1"])
            .stdout_has(row("folder", "FAIL"))
            .stdout_has(ROTATE_FAIL)
            .blocked();
        let m = message_of(&out.stdout, "folder");
        assert!(m.contains(says), "{dir}: {m}");
    }
    // A folder above HOME contains it: refused too.
    let nested = tempfile::tempdir().expect("temp dir");
    let inner_home = nested.path().join("users/me");
    std::fs::create_dir_all(&inner_home).expect("mkdir");
    let out = rotate_in(&repo)
        .env("HOME", &inner_home)
        .args([
            nested.path().join("users").as_os_str(),
            "--days".as_ref(),
            "1".as_ref(),
        ])
        .stdout_has(ROTATE_FAIL)
        .blocked();
    let m = message_of(&out.stdout, "folder");
    assert!(m.contains("contains the home directory"), "{m}");
    // Nothing was deleted anywhere.
    assert!(home.path().join("old.txt").exists());
    assert_eq!(snapshot(&repo.path.join("artifacts")).len(), TREE.len());
    assert!(repo.path.join("README").exists());
}

/// `n_dirs` folders of `per_dir` small files each, all 10 days old.
pub(crate) fn big_tree(dir: &Path, n_dirs: usize, per_dir: usize) {
    for d in 0..n_dirs {
        let sub = dir.join(format!("d{d:04}"));
        std::fs::create_dir_all(&sub).expect("mkdir");
        for f in 0..per_dir {
            std::fs::write(sub.join(format!("f{f:03}.log")), "0123456789").expect("write");
        }
    }
    tool_ok(
        dir,
        "sh",
        &["-c", "find . -type f -exec touch -d '10 days ago' {} +"],
    );
}

#[test]
fn a_file_deleted_by_another_process_during_the_run_does_not_fail_it() {
    let repo = ignored_repo();
    let dir = repo.path.join("artifacts");
    let mut hit = false;
    for round in 0..5 {
        big_tree(&dir, 100, 100);
        // Another process deletes whole folders, file by file, while the
        // rotation walks and deletes the same tree.
        let mut reaper = Reaper::for_repo(&repo);
        reaper.spawn(
            Command::new("sh")
                .args(["-c", "for d in d*; do rm -rf \"$d\"; done"])
                .current_dir(&dir)
                .env_clear()
                .envs(base_env()),
        );
        let doc = json_of(
            &rotate_in(&repo)
                .args(["--days", "7", "--format", "json"])
                .safe(),
        );
        let rm = reaper.wait(Duration::from_secs(60));
        assert!(rm.status.success(), "the rm loop failed: {}", context(&rm));
        let result = &json_check(&doc, "rotate")["details"];
        let (deleted, vanished) = (
            result["deleted"].as_u64().expect("deleted"),
            result["vanished"].as_u64().expect("vanished"),
        );
        let planned = result["files"].as_array().expect("files").len() as u64;
        assert_eq!(deleted + vanished, planned, "round {round}: {doc:#}");
        assert!(snapshot(&dir).is_empty());
        if vanished > 0 {
            hit = true;
            break;
        }
    }
    assert!(
        hit,
        "in 5 rounds the rm loop never deleted a file during the rotation: the race was not \
         exercised"
    );
}

#[test]
fn a_second_rotate_fails_at_once_while_another_holds_the_lock() {
    require("flock");
    let repo = ignored_repo();
    let dir = artifacts(&repo);
    let lock = dir.join(LOCK);
    std::fs::write(&lock, "").expect("create the lock file");
    let mut holder = Reaper::for_repo(&repo);
    holder.spawn(
        Command::new("flock")
            .arg(&lock)
            .args(["sleep", "60"])
            .env_clear()
            .envs(base_env()),
    );
    // Wait until flock holds it (flock -n fails then).
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let probe = tool(&dir, "flock", &["-n", LOCK, "true"]);
        if !probe.status.success() {
            break;
        }
        assert!(Instant::now() < until, "flock did not take the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    let out = rotate_in(&repo)
        .args(["--days", "1"])
        .stdout_has(row("folder", "FAIL"))
        .stdout_has(ROTATE_FAIL)
        .blocked();
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    let m = message_of(&out.stdout, "folder");
    assert!(
        m.contains("another rotate is running") && m.contains(".release-sentinel-rotate.lock"),
        "{m}"
    );
    assert_eq!(
        snapshot(&dir).len(),
        TREE.len(),
        "the refused run deleted files"
    );
    // Once the lock is let go, a run goes ahead (and the lock file is
    // never rotated itself).
    drop(holder);
    let until = Instant::now() + Duration::from_secs(10);
    while !tool(&dir, "flock", &["-n", LOCK, "true"]).status.success() {
        assert!(Instant::now() < until, "the lock was not let go");
        std::thread::sleep(Duration::from_millis(20));
    }
    rotate_in(&repo)
        .args(["--days", "1"])
        .stdout_has("deleted 6 files")
        .safe();
    assert!(lock.exists());
}

#[test]
fn rotate_does_not_enter_another_filesystem() {
    // A tmpfs mounted inside the folder, in a user and mount namespace of
    // the test's own (no root needed); the file on it outlives the run.
    require("unshare");
    let repo = ignored_repo();
    let dir = artifacts(&repo);
    std::fs::create_dir(dir.join("mnt")).expect("mkdir");
    let probe = tool(&dir, "unshare", &["-rm", "true"]);
    assert!(
        probe.status.success(),
        "this machine does not allow user namespaces (unshare -rm), which this test needs to \
         mount a tmpfs without root: {}",
        context(&probe)
    );
    let script = "mount -t tmpfs tmpfs mnt && echo old > mnt/old.txt && \
                  touch -d '100 days ago' mnt/old.txt && \"$0\" rotate . --days 1; rc=$?; \
                  [ -f mnt/old.txt ] && echo SURVIVED; exit $rc";
    Sentinel::of(Path::new("unshare"))
        .dir(&dir)
        .args(["-rm", "sh", "-c", script, BIN])
        .stdout_has("6 files")
        .stdout_has("1 other mount not entered")
        .stdout_has("deleted 6 files")
        .stdout_has("SURVIVED")
        .stdout_has(ROTATE_OK)
        .safe();
}

#[test]
fn rotate_walks_a_wide_tree_under_a_low_limit_of_open_files() {
    // 1,200 folders beside each other, with the soft limit of open files
    // many systems start with lowered to 256.
    let repo = ignored_repo();
    let dir = repo.path.join("artifacts");
    big_tree(&dir, 1200, 1);
    let out = Sentinel::of(Path::new("sh"))
        .dir(&repo.path)
        .args(["-c", "ulimit -n 256 && exec \"$0\" rotate --days 7", BIN])
        .stdout_has(row("scan", "OK"))
        .stdout_has("deleted 1200 files")
        .stdout_has(ROTATE_OK)
        .safe();
    assert!(message_of(&out.stdout, "scan").contains("1200 files"));
    assert!(snapshot(&dir).is_empty());
}

// --------------------------------------------------------------- freshness

const FRESH_OK: &str = "| freshness                 | OK   | FRESHNESS=OK |";
const FRESH_FAIL: &str = "| freshness                 | FAIL | FRESHNESS=FAIL |";

fn fresh_repo(tasks: &str) -> Repo {
    let repo = Repo::new();
    repo.write(".gitignore", "artifacts/\n");
    repo.config(tasks);
    repo
}

fn task(name: &str, artifact: &str, max_age: &str) -> String {
    format!(
        "[[freshness.tasks]]\nname = {}\nartifact = {}\nmax_age = {}\n",
        toml_str(name),
        toml_str(artifact),
        toml_str(max_age)
    )
}

#[test]
fn freshness_reports_fresh_stale_missing_and_a_file_from_the_future() {
    let repo = fresh_repo(
        &[
            task("backup", "artifacts/backup.tar", "7d"),
            task("metrics", "artifacts/metrics.json", "36h"),
            task("skewed", "artifacts/skewed.json", "1h"),
            task("gone", "artifacts/gone.json", "1h"),
        ]
        .concat(),
    );
    repo.write("artifacts/backup.tar", "b");
    repo.write("artifacts/metrics.json", "m");
    repo.write("artifacts/skewed.json", "s");
    touch(&repo.path, "2 hours ago", &["artifacts/backup.tar"]);
    touch(&repo.path, "3 days ago", &["artifacts/metrics.json"]);
    touch(&repo.path, "2 hours", &["artifacts/skewed.json"]);
    let out = Sentinel::new()
        .dir(&repo.path)
        .arg("freshness")
        .stdout_has(row("task:backup", "OK"))
        .stdout_has(row("task:metrics", "FAIL"))
        .stdout_has(row("task:skewed", "FAIL"))
        .stdout_has(row("task:gone", "FAIL"))
        .stdout_has(FRESH_FAIL)
        .blocked();
    let m = message_of(&out.stdout, "task:backup");
    assert!(
        m.starts_with("FRESH: artifacts/backup.tar is 2h00m old"),
        "{m}"
    );
    let m = message_of(&out.stdout, "task:metrics");
    assert!(
        m.starts_with("STALE: artifacts/metrics.json is 3d00h old; max age 1d12h"),
        "{m}"
    );
    let m = message_of(&out.stdout, "task:skewed");
    assert!(
        m.starts_with("STALE: artifacts/skewed.json is dated 1h59m in the future"),
        "{m}"
    );
    let m = message_of(&out.stdout, "task:gone");
    assert_eq!(m, "MISSING: nothing at artifacts/gone.json");
    // All fresh: exit 0.
    touch(
        &repo.path,
        "10 minutes ago",
        &["artifacts/metrics.json", "artifacts/skewed.json"],
    );
    repo.write("artifacts/gone.json", "g");
    Sentinel::new()
        .dir(&repo.path)
        .arg("freshness")
        .stdout_has(FRESH_OK)
        .stdout_lacks("FAIL")
        .safe();
}

#[test]
fn freshness_counts_the_newest_match_of_a_glob() {
    let repo = fresh_repo(&task(
        "nightly_tests",
        "artifacts/reports/nightly_*.json",
        "36h",
    ));
    for (name, age) in [
        ("nightly_1.json", "5 days ago"),
        ("nightly_2.json", "2 hours ago"),
        ("nightly_3.json", "3 days ago"),
    ] {
        let rel = format!("artifacts/reports/{name}");
        repo.write(&rel, "{}");
        touch(&repo.path, age, &[&rel]);
    }
    // Newer, but not a match: another name, and one folder deeper.
    repo.write("artifacts/reports/weekly_1.json", "{}");
    repo.write("artifacts/reports/old/nightly_9.json", "{}");
    touch(
        &repo.path,
        "4 days ago",
        &["artifacts/reports/nightly_2.json"],
    );
    let out = Sentinel::new()
        .dir(&repo.path)
        .arg("freshness")
        .stdout_has(FRESH_FAIL)
        .blocked();
    let m = message_of(&out.stdout, "task:nightly_tests");
    assert!(
        m.starts_with("STALE: artifacts/reports/nightly_3.json is 3d00h old"),
        "{m}"
    );
    touch(
        &repo.path,
        "2 hours ago",
        &["artifacts/reports/nightly_1.json"],
    );
    let out = Sentinel::new()
        .dir(&repo.path)
        .arg("freshness")
        .stdout_has(FRESH_OK)
        .safe();
    let m = message_of(&out.stdout, "task:nightly_tests");
    assert!(
        m.starts_with("FRESH: artifacts/reports/nightly_1.json is 2h00m old"),
        "{m}"
    );
}

/// The seed's task file, as it was written.
const SEED_TASKS: &str = r#"{
  "tasks": [
    {
      "name": "nightly_tests",
      "artifact": "artifacts/reports/nightly_results.json",
      "max_age": "36h"
    },
    {
      "name": "soak_metrics",
      "artifact": "artifacts/reports/soak_metrics.json",
      "max_age": "7d"
    },
    {
      "name": "readiness_score",
      "artifact": "artifacts/reports/readiness.json",
      "max_age": "24h"
    }
  ]
}
"#;

#[test]
fn freshness_takes_the_seeds_json_task_file_as_is() {
    let repo = fresh_repo("");
    repo.outside("sentinel.json", SEED_TASKS);
    let tasks = repo.scratch().join("sentinel.json");
    repo.write("artifacts/reports/nightly_results.json", "{}");
    repo.write("artifacts/reports/soak_metrics.json", "{}");
    touch(
        &repo.path,
        "20 hours ago",
        &["artifacts/reports/nightly_results.json"],
    );
    touch(
        &repo.path,
        "8 days ago",
        &["artifacts/reports/soak_metrics.json"],
    );
    let out = Sentinel::new()
        .dir(&repo.path)
        .arg("freshness")
        .arg("--tasks")
        .arg(&tasks)
        .stdout_has(row("task:nightly_tests", "OK"))
        .stdout_has(row("task:soak_metrics", "FAIL"))
        .stdout_has(row("task:readiness_score", "FAIL"))
        .stdout_has(FRESH_FAIL)
        .blocked();
    assert!(message_of(&out.stdout, "task:soak_metrics").contains("8d00h old; max age 7d00h"));
    assert!(message_of(&out.stdout, "task:readiness_score").starts_with("MISSING"));
    // Without --tasks and without [[freshness.tasks]]: an error that
    // says what to add.
    Sentinel::new()
        .dir(&repo.path)
        .arg("freshness")
        .stderr_has("no tasks")
        .blocked();
}

#[test]
fn freshness_invalid_ages_are_errors_with_their_key_path() {
    let repo = fresh_repo(
        &[
            task("good", "artifacts/a.json", "36h"),
            task("bad", "artifacts/b.json", "36 parsecs"),
            task("zero", "artifacts/c.json", "0s"),
        ]
        .concat(),
    );
    let out = Sentinel::new()
        .dir(&repo.path)
        .arg("freshness")
        .stderr_has("freshness.tasks[1].max_age: \"36 parsecs\" is not an age")
        .stderr_has("freshness.tasks[2].max_age")
        .blocked();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("tasks[0]"),
        "{}",
        context(&out)
    );
    let file = repo.outside(
        "bad.json",
        r#"{"tasks": [{"name": "a", "artifact": "x", "max_age": "7d"},
                      {"name": "b", "artifact": "y", "max_age": "soon"}]}"#,
    );
    Sentinel::new()
        .dir(&repo.path)
        .arg("freshness")
        .arg("--tasks")
        .arg(&file)
        .stderr_has("tasks[1].max_age: \"soon\" is not an age")
        .blocked();
}

#[test]
fn freshness_reads_only_the_repositorys_own_files() {
    // Absolute and `..` artifacts are refused by their key path, in the
    // config and in the seed's task file; a link (to a file or a folder)
    // inside the repository is not followed out of it.
    let repo = fresh_repo(
        &[
            task("abs", "/etc/hostname", "36h"),
            task("up", "../outside.json", "36h"),
            task("glob", "../*/x.json", "36h"),
        ]
        .concat(),
    );
    Sentinel::new()
        .dir(&repo.path)
        .arg("freshness")
        .stderr_has("freshness.tasks[0].artifact: \"/etc/hostname\": an absolute path")
        .stderr_has(
            "freshness.tasks[1].artifact: \"../outside.json\": a path that climbs out with ..",
        )
        .stderr_has("freshness.tasks[2].artifact")
        .blocked();
    let file = repo.outside(
        "tasks.json",
        r#"{"tasks": [{"name": "a", "artifact": "/etc/hostname", "max_age": "7d"}]}"#,
    );
    Sentinel::new()
        .dir(&repo.path)
        .arg("freshness")
        .arg("--tasks")
        .arg(&file)
        .stderr_has("tasks[0].artifact: \"/etc/hostname\": an absolute path")
        .blocked();
    // Links out of the repository: to a fresh file, and to a folder of
    // fresh files.
    let outside = repo.scratch().join("elsewhere");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(outside.join("r.json"), "{}").expect("write");
    std::fs::create_dir_all(repo.path.join("artifacts")).expect("mkdir");
    std::os::unix::fs::symlink(
        outside.join("r.json"),
        repo.path.join("artifacts/link.json"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink(&outside, repo.path.join("artifacts/linked")).expect("symlink");
    repo.config(
        &[
            task("file", "artifacts/link.json", "36h"),
            task("folder", "artifacts/linked/r.json", "36h"),
            task("globbed", "artifacts/linked/*.json", "36h"),
        ]
        .concat(),
    );
    let out = Sentinel::new()
        .dir(&repo.path)
        .arg("freshness")
        .stdout_has(row("task:file", "FAIL"))
        .stdout_has(row("task:folder", "FAIL"))
        .stdout_has(row("task:globbed", "FAIL"))
        .stdout_has(FRESH_FAIL)
        .blocked();
    assert_eq!(
        message_of(&out.stdout, "task:file"),
        "cannot judge artifacts/link.json: artifacts/link.json is a symbolic link; freshness judges only the repository's own files"
    );
    assert_eq!(
        message_of(&out.stdout, "task:folder"),
        "cannot judge artifacts/linked/r.json: artifacts/linked is a symbolic link; freshness judges only the repository's own files"
    );
    assert!(message_of(&out.stdout, "task:globbed").starts_with("MISSING"));
}

// ------------------------------------------------------------------- ready

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
