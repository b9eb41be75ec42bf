//! `bundle` on real trees, checked by the real consumers: its zip read by
//! `unzip`, `zipinfo`, `sha256sum -c` and Python's `zipfile`, rebuilt on a
//! copy of the tree to prove it is reproducible; and `bundle verify` on
//! bundles damaged, and archives made hostile, with Python's `zipfile`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{
    BIN, Reaper, Repo, Sentinel, context, json_check, json_of, message_of, row, sha256sum,
};
use crate::tools::{PROMPT, chmod, listing, noise, python, sha256sum_file, tool_ok, write_bytes};

const BUNDLE_OK: &str = "| bundle                    | OK   | BUNDLE=OK |";
const BUNDLE_FAIL: &str = "| bundle                    | FAIL | BUNDLE=FAIL |";

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
