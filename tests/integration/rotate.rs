//! `rotate` under attack, and its plan as a person reads it: values out of
//! range, a `DIR` that is a link however it is written, a `DIR` swapped for
//! a link while runs go on (real concurrency, bounded in count) or at the
//! moment before deleting, names that are not UTF-8, planned files replaced
//! or rewritten, mounts (a tmpfs, bind mounts of the same filesystem)
//! appearing inside the folder after the walk or there before it; and the
//! dry run's table listing the files it would delete.
//!
//! The races at a known moment use the pause point of debug builds
//! (`RS_TEST_ROTATE_PAUSE=<folder>`: after the plan, before the first
//! deletion, the binary creates `<folder>/paused` and waits for
//! `<folder>/resume`); release builds have no such point.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::harness::{
    BIN, Reaper, Repo, Sentinel, base_env, context, json_check, json_of, message_of, row,
};
use crate::toolkit::{
    ROTATE_FAIL, ROTATE_OK, TREE, artifacts, ignored_repo, require, rotate_in, snapshot, tool,
    touch, write_bytes,
};

/// Old files outside the repository (100 days old), for a link to point
/// at; returns the folder.
fn outside(repo: &Repo) -> PathBuf {
    let dir = repo.scratch().join("outside");
    write_bytes(&dir, "precious.txt", b"precious\n");
    write_bytes(&dir, "new/a.log", b"same name as one inside\n");
    write_bytes(&dir, "old/e.tar", b"same name as one inside\n");
    touch(
        &dir,
        "100 days ago",
        &["precious.txt", "new/a.log", "old/e.tar"],
    );
    dir
}

/// Every name under `dir` (bytes, relative), for trees whose names are not
/// all UTF-8.
fn names(dir: &Path) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(dir.join(&rel)).expect("read dir") {
            let e = e.expect("entry");
            let path = rel.join(e.file_name());
            if e.file_type().expect("type").is_dir() {
                stack.push(path.clone());
            }
            out.push(path.into_os_string());
        }
    }
    out.sort();
    out
}

/// Write `data` at `dir/rel` (bytes) dated `age` ago.
fn write_aged(dir: &Path, rel: &[u8], data: &[u8], age: Duration) {
    let path = dir.join(OsStr::from_bytes(rel));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, data).expect("write");
    let file = std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_modified(SystemTime::now() - age)
        .expect("set mtime");
}

const DAY: Duration = Duration::from_secs(86_400);

// ------------------------------------------------------------------ ranges

#[test]
fn out_of_range_days_and_sizes_are_usage_errors_that_delete_nothing() {
    let repo = ignored_repo();
    let dir = artifacts(&repo);
    write_bytes(&dir, "fresh.log", b"one minute old\n");
    touch(&dir, "1 minute ago", &["fresh.log"]);
    let before = snapshot(&dir);
    // 144115188075855872 days are 2^63 / 64 seconds... and wrapped around to
    // a cutoff in the future; u64::MAX, i64::MAX, one past the limit.
    for days in [
        "144115188075855872",
        "9223372036854775807",
        "18446744073709551615",
        "18446744073709551616",
        "36501",
        "-1",
        "7.5",
    ] {
        let out = rotate_in(&repo)
            .arg(format!("--days={days}"))
            .stdout_lacks("ROTATE=OK")
            .blocked();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--days") && err.contains(days) && err.contains("0 to 36500"),
            "--days {days}: {}",
            context(&out)
        );
        assert_eq!(snapshot(&dir), before, "--days {days} deleted files");
    }
    // The same in the config, named by its key.
    for days in ["144115188075855872", "9223372036854775807", "36501"] {
        repo.config(&format!("[rotate]\ndays = {days}\n"));
        let out = rotate_in(&repo).blocked();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("rotate.days") && err.contains(days),
            "[rotate] days = {days}: {}",
            context(&out)
        );
        assert_eq!(snapshot(&dir), before, "days = {days} deleted files");
    }
    repo.config("[rotate]\n");
    // Sizes beyond what 64 bits count, in any unit, are refused by value.
    for size in [
        "18446744073709551616",
        "99999999999999999999 B",
        "16777216 TiB",
    ] {
        let out = rotate_in(&repo)
            .args(["--days", "7", "--max-size", size])
            .blocked();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--max-size") && err.contains(size),
            "--max-size {size}: {}",
            context(&out)
        );
        assert_eq!(snapshot(&dir), before, "--max-size {size} deleted files");
    }
    // The limits themselves are fine, and exact.
    let out = rotate_in(&repo)
        .args(["--days", "36500", "--max-size", "18446744073709551615"])
        .args(["--dry-run"])
        .safe();
    assert_eq!(
        message_of(&out.stdout, "rotate"),
        "dry run: would delete 0 files and free 0 B"
    );
    // --keep beyond the number of files keeps them all.
    rotate_in(&repo)
        .args(["--days", "0", "--keep", "18446744073709551615"])
        .stdout_has("deleted 0 files")
        .safe();
    assert_eq!(snapshot(&dir), before);
}

// ------------------------------------------------------------------- links

#[test]
fn a_dir_that_is_a_link_is_refused_however_it_is_written() {
    let repo = ignored_repo();
    artifacts(&repo);
    let outside = outside(&repo);
    let before = snapshot(&outside);
    std::os::unix::fs::symlink(&outside, repo.path.join("linked")).expect("ln");
    let absolute = format!("{}/", repo.path.join("linked").display());
    for spelling in [
        "linked",
        "linked/",
        "linked/.",
        "linked//",
        "./linked/./",
        absolute.as_str(),
    ] {
        let out = rotate_in(&repo)
            .args([spelling, "--days", "1"])
            .stdout_has(row("folder", "FAIL"))
            .stdout_has(ROTATE_FAIL)
            .blocked();
        let m = message_of(&out.stdout, "folder");
        assert!(m.contains("is a symbolic link"), "{spelling}: {m}");
        assert_eq!(snapshot(&outside), before, "{spelling} deleted files");
    }
    // The folder the link points to, named itself, is rotated.
    rotate_in(&repo)
        .arg(&outside)
        .args(["--days", "1"])
        .stdout_has("deleted 3 files")
        .safe();
}

/// Swap `a` and `b` (any kind of entry) in one step: `renameat2` with
/// `RENAME_EXCHANGE`.
fn exchange(a: &Path, b: &Path) {
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        a,
        rustix::fs::CWD,
        b,
        rustix::fs::RenameFlags::EXCHANGE,
    )
    .unwrap_or_else(|e| panic!("exchange {} and {}: {e}", a.display(), b.display()));
}

#[test]
fn a_dir_swapped_for_a_link_while_runs_go_on_never_leads_outside() {
    const RUNS: usize = 100;
    let repo = ignored_repo();
    let dir = artifacts(&repo);
    let outside = outside(&repo);
    let before = snapshot(&outside);
    let swap = repo.path.join("swap");
    std::os::unix::fs::symlink(&outside, &swap).expect("ln");
    // Another thread swaps the folder and the link as fast as it can while
    // the runs start one after another.
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, dir, swap) = (stop.clone(), dir.clone(), swap.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                exchange(&dir, &swap);
                n += 1;
            }
            if n % 2 == 1 {
                exchange(&dir, &swap);
            }
            n
        })
    };
    let mut refused = 0;
    for run in 0..RUNS {
        let out = rotate_in(&repo)
            .args(["artifacts", "--days", "1"])
            .code_in(&[0, 1]);
        if out.status.code() == Some(1) {
            // Refused: the link was in place at the open (the message
            // depends on what a look afterwards finds there).
            assert!(
                String::from_utf8_lossy(&out.stdout).contains(&row("folder", "FAIL")),
                "run {run}: {}",
                context(&out)
            );
            refused += 1;
        }
        if snapshot(&outside) != before {
            stop.store(true, Ordering::Relaxed);
            panic!("run {run} deleted files outside the folder");
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().expect("the swapping thread");
    assert!(swaps > RUNS as u64, "only {swaps} swaps in {RUNS} runs");
    assert!(
        std::fs::symlink_metadata(&swap).is_ok_and(|m| m.is_symlink()),
        "the swaps did not end where they started"
    );
    eprintln!("{refused} of {RUNS} runs found the link in place");

    // At the moment before the first deletion: the folder is swapped for
    // the link; the run deletes in the folder it opened (now named `swap`)
    // and nothing outside.
    // The tree again (the runs above deleted what was older than a day).
    artifacts(&repo);
    let run = Paused::start(&repo, &["artifacts", "--days", "7"]);
    exchange(&dir, &swap);
    let out = run.resume();
    assert!(out.status.success(), "{}", context(&out));
    assert_eq!(snapshot(&outside), before, "files outside were deleted");
    assert!(std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_symlink()));
    assert_eq!(
        snapshot(&swap).keys().collect::<Vec<_>>(),
        ["mid/c.bin", "mid/d.bin", "new/a.log", "new/b.log"],
        "the folder it opened was not rotated"
    );
}

// ------------------------------------------------------------- pause point

/// A `rotate` run stopped at the pause point of debug builds: after the
/// plan, before the first deletion.
struct Paused {
    reaper: Reaper,
    gate: PathBuf,
}

impl Paused {
    /// Start `rotate ARGS` in `repo` and wait until it pauses.
    fn start(repo: &Repo, args: &[&str]) -> Self {
        let gate = tempfile::tempdir_in(repo.scratch())
            .expect("pause folder")
            .keep();
        let mut reaper = Reaper::for_repo(repo);
        reaper.spawn(
            Command::new(BIN)
                .arg("rotate")
                .args(args)
                .current_dir(&repo.path)
                .env_clear()
                .envs(base_env())
                .env("RS_TEST_ROTATE_PAUSE", &gate),
        );
        let until = Instant::now() + Duration::from_secs(30);
        while !gate.join("paused").exists() {
            if reaper.exited().is_some() {
                let out = reaper.wait(Duration::from_secs(1));
                panic!(
                    "rotate ran to its end without pausing (a debug build pauses when \
                     RS_TEST_ROTATE_PAUSE is set): {}",
                    context(&out)
                );
            }
            assert!(Instant::now() < until, "rotate did not pause within 30 s");
            std::thread::sleep(Duration::from_millis(10));
        }
        Self { reaper, gate }
    }

    /// Let it go on; what it printed.
    fn resume(mut self) -> Output {
        std::fs::write(self.gate.join("resume"), "").expect("resume");
        self.reaper.wait(Duration::from_secs(30))
    }
}

// ------------------------------------------------------------------- names

#[test]
fn names_that_are_not_utf8_are_deleted_by_their_bytes() {
    let repo = ignored_repo();
    let dir = repo.path.join("artifacts");
    // Old ones whose names are not UTF-8, beside fresh ones whose names are
    // what a lossy decoding makes of them.
    write_aged(&dir, b"report\xff.log", b"old\n", 10 * DAY);
    write_aged(
        &dir,
        "report\u{fffd}.log".as_bytes(),
        b"fresh\n",
        Duration::ZERO,
    );
    write_aged(&dir, b"logs\xfe/a.log", b"old\n", 10 * DAY);
    write_aged(
        &dir,
        "logs\u{fffd}/a.log".as_bytes(),
        b"fresh\n",
        Duration::ZERO,
    );
    let doc = json_of(
        &rotate_in(&repo)
            .args(["--days", "7", "--dry-run", "--format", "json"])
            .safe(),
    );
    let mut plan: Vec<(String, String, Option<String>)> =
        json_check(&doc, "rotate")["details"]["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().expect("path").to_string(),
                    f["action"].as_str().expect("action").to_string(),
                    f["path_hex"].as_str().map(str::to_string),
                )
            })
            .collect();
    plan.sort();
    assert_eq!(
        plan,
        [
            (
                "logs\\xfe/a.log".into(),
                "ttl".into(),
                Some(hex(b"logs\xfe/a.log"))
            ),
            ("logs\u{fffd}/a.log".into(), "stay".into(), None),
            (
                "report\\xff.log".into(),
                "ttl".into(),
                Some(hex(b"report\xff.log"))
            ),
            ("report\u{fffd}.log".into(), "stay".into(), None),
        ]
    );
    let out = rotate_in(&repo)
        .args(["--days", "7", "--dry-run"])
        .stdout_has("report\\xff.log")
        .safe();
    assert!(out.stdout.is_ascii());
    rotate_in(&repo)
        .args(["--days", "7"])
        .stdout_has("deleted 2 files")
        .safe();
    let want: Vec<OsString> = ["logs\u{fffd}", "logs\u{fffd}/a.log", "report\u{fffd}.log"]
        .iter()
        .map(OsString::from)
        .chain([
            OsStr::from_bytes(b"logs\xfe").to_owned(),
            OsString::from(".release-sentinel-rotate.lock"),
        ])
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(names(&dir), want, "the fresh files must stay");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ------------------------------------------------------- changed meanwhile

#[test]
fn a_planned_file_replaced_or_rewritten_before_its_deletion_is_left_alone() {
    let repo = ignored_repo();
    let dir = artifacts(&repo);
    // e, f and g are older than 7 days: planned.
    let run = Paused::start(&repo, &["--days", "7", "--format", "json"]);
    // e: replaced by a fresh file of the same name (another inode).
    std::fs::write(dir.join("old/e.new"), "fresh e\n").expect("write");
    std::fs::rename(dir.join("old/e.new"), dir.join("old/e.tar")).expect("rename");
    // f: rewritten in place (the same inode, a new mtime).
    std::fs::write(dir.join("old/f.tar"), "fresh f\n").expect("write");
    // g: replaced by another file of the same size and age.
    let g = std::fs::read(dir.join("old/deep/g.tar")).expect("read");
    std::fs::write(dir.join("old/deep/g.new"), vec![b'g'; g.len()]).expect("write");
    touch(&dir, "30 days ago", &["old/deep/g.new"]);
    std::fs::rename(dir.join("old/deep/g.new"), dir.join("old/deep/g.tar")).expect("rename");
    let out = run.resume();
    assert!(out.status.success(), "{}", context(&out));
    let doc = json_of(&out);
    let result = &json_check(&doc, "rotate");
    assert_eq!(result["details"]["deleted"], 0, "{result:#}");
    assert_eq!(result["details"]["changed"], 3, "{result:#}");
    assert!(
        result["message"]
            .as_str()
            .is_some_and(|m| m.contains("3 changed since the scan, left alone")),
        "{result:#}"
    );
    assert_eq!(
        std::fs::read(dir.join("old/e.tar")).expect("e"),
        b"fresh e\n"
    );
    assert_eq!(
        std::fs::read(dir.join("old/f.tar")).expect("f"),
        b"fresh f\n"
    );
    assert_eq!(
        std::fs::read(dir.join("old/deep/g.tar")).expect("g"),
        vec![b'g'; g.len()]
    );
    assert_eq!(snapshot(&dir).len(), TREE.len());
}

// ------------------------------------------------------------------ mounts

/// Run `script` with `sh` in `dir` inside a user and mount namespace of the
/// test's own (`unshare -rm`: mounts without root); `$0` is the binary.
fn in_namespace(dir: &Path, script: &str) -> Sentinel {
    require("unshare");
    let probe = tool(dir, "unshare", &["-rm", "true"]);
    assert!(
        probe.status.success(),
        "this machine does not allow user namespaces (unshare -rm), which this test needs to \
         mount without root: {}",
        context(&probe)
    );
    Sentinel::of(Path::new("unshare"))
        .dir(dir)
        .args(["-rm", "sh", "-c", script, BIN])
}

/// Shell: run `rotate . ARGS` in the background paused (debug builds),
/// wait for the pause, run `$AT_PAUSE`, resume, print what it printed.
const PAUSED_RUN: &str = "
    gate=$(mktemp -d)
    RS_TEST_ROTATE_PAUSE=$gate \"$0\" rotate . $ARGS > \"$gate/out\" 2>&1 &
    pid=$!
    i=0
    while [ ! -e \"$gate/paused\" ]; do
      if ! kill -0 $pid 2>/dev/null || [ $i -gt 3000 ]; then
        echo 'NO PAUSE: the run did not stop at the pause point'; cat \"$gate/out\"; exit 9
      fi
      i=$((i+1)); sleep 0.01
    done
    eval \"$AT_PAUSE\" || { echo 'AT_PAUSE FAILED'; exit 9; }
    touch \"$gate/resume\"
    wait $pid; rc=$?
    cat \"$gate/out\"
";

#[test]
fn a_mount_appearing_inside_the_folder_after_the_walk_is_left_alone() {
    let repo = ignored_repo();
    let dir = artifacts(&repo);
    let outside = outside(&repo);
    // Planned on the folder's own filesystem: tmp/old.txt and bound/*,
    // whose names the mounts below show too.
    write_bytes(&dir, "tmp/old.txt", b"planned\n");
    write_bytes(&dir, "bound/precious.txt", b"planned\n");
    touch(&dir, "100 days ago", &["tmp/old.txt", "bound/precious.txt"]);
    let script = format!(
        "ARGS='--days 1'
         AT_PAUSE='mount -t tmpfs tmpfs tmp && echo other > tmp/old.txt && \
                   touch -d \"100 days ago\" tmp/old.txt && mount --bind {} bound'
         {PAUSED_RUN}
         [ -f tmp/old.txt ] && echo TMPFS SURVIVED
         [ -f bound/precious.txt ] && echo BIND SURVIVED
         exit $rc",
        format_args!("'{}'", outside.display())
    );
    let out = in_namespace(&dir, &script)
        .stdout_has("TMPFS SURVIVED")
        .stdout_has("BIND SURVIVED")
        .stdout_has(ROTATE_OK)
        .safe();
    let m = message_of(&out.stdout, "rotate");
    assert!(m.contains("2 changed since the scan, left alone"), "{m}");
    // Outside the namespace the mounts are gone: the files the walk saw
    // are still there (left alone), and nothing outside was touched.
    assert!(dir.join("tmp/old.txt").exists());
    assert!(dir.join("bound/precious.txt").exists());
    assert!(outside.join("precious.txt").exists());
}

#[test]
fn a_bind_mount_of_the_same_filesystem_inside_the_folder_is_not_entered() {
    let repo = ignored_repo();
    let dir = artifacts(&repo);
    let outside = outside(&repo);
    let before = snapshot(&outside);
    std::fs::create_dir(dir.join("bound")).expect("mkdir");
    let script = format!(
        "mount --bind '{}' bound && \"$0\" rotate . --days 1; rc=$?
         [ -f bound/precious.txt ] && echo SURVIVED
         exit $rc",
        outside.display()
    );
    let out = in_namespace(&dir, &script)
        .stdout_has("SURVIVED")
        .stdout_has(ROTATE_OK)
        .safe();
    let m = message_of(&out.stdout, "scan");
    assert!(m.contains("1 other mount not entered"), "{m}");
    assert_eq!(snapshot(&outside), before);
}

// ---------------------------------------------------------------- the plan

#[test]
fn a_dry_run_lists_the_files_it_would_delete_with_their_age_and_size() {
    let repo = ignored_repo();
    let dir = artifacts(&repo);
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
    // Oldest first, as the rotation reasons: the TTL, then the size.
    let listed: Vec<String> = (1..=5)
        .map(|i| message_of(&out.stdout, &format!("delete:{i}")))
        .collect();
    assert_eq!(
        listed,
        [
            "old/deep/g.tar: 30 days old, 6.8 KiB (older than 7 days)",
            "old/f.tar: 20 days old, 5.9 KiB (older than 7 days)",
            "old/e.tar: 10 days old, 4.9 KiB (older than 7 days)",
            "mid/d.bin: 5 days old, 3.9 KiB (over the size limit)",
            "mid/c.bin: 3 days old, 2.9 KiB (over the size limit)",
        ]
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("delete:6"));
    // Many: a readable number, then how many more.
    for i in 0..30 {
        write_bytes(&dir, &format!("many/{i:02}.log"), b"x");
    }
    tool(&dir, "sh", &["-c", "touch -d '50 days ago' many/*"]);
    let out = rotate_in(&repo)
        .args(["--days", "7", "--dry-run"])
        .stdout_has(row("delete:20", "OK"))
        .stdout_lacks("delete:21")
        .safe();
    assert_eq!(
        message_of(&out.stdout, "delete:more"),
        "and 13 more (the JSON report lists every file)"
    );
    let doc = json_of(
        &rotate_in(&repo)
            .args(["--days", "7", "--dry-run", "--format", "json"])
            .safe(),
    );
    let files = json_check(&doc, "rotate")["details"]["files"]
        .as_array()
        .expect("files")
        .len();
    assert_eq!(files, TREE.len() + 30);
    // A real run lists nothing: it says what it did.
    rotate_in(&repo)
        .args(["--days", "7"])
        .stdout_lacks("delete:1")
        .stdout_has("deleted 33 files")
        .safe();
}

#[test]
fn the_ttl_row_counts_the_old_files_that_keep_holds_back() {
    let repo = ignored_repo();
    artifacts(&repo);
    // e, f, g are older than 7 days; the 6 newest include e and f.
    let out = rotate_in(&repo)
        .args(["--days", "7", "--keep", "6", "--dry-run"])
        .safe();
    assert_eq!(
        message_of(&out.stdout, "ttl"),
        "3 files older than 7 days, 2 of them kept by --keep 6: 1 to delete, 6.8 KiB"
    );
    let out = rotate_in(&repo).args(["--days", "25", "--dry-run"]).safe();
    assert_eq!(
        message_of(&out.stdout, "ttl"),
        "1 file older than 25 days: 6.8 KiB"
    );
}

#[test]
fn sizes_are_binary_as_written_and_as_shown() {
    let repo = ignored_repo();
    artifacts(&repo);
    for (written, shown) in [
        ("2G", "2.0 GiB"),
        ("2 GB", "2.0 GiB"),
        ("2GiB", "2.0 GiB"),
        ("500 MB", "500.0 MiB"),
        ("1.5k", "1.5 KiB"),
        ("1000", "1000 B"),
    ] {
        let out = rotate_in(&repo)
            .args(["--max-size", written, "--dry-run"])
            .safe();
        let m = message_of(&out.stdout, "size");
        assert!(
            m.contains(&format!("to get under {shown}:")),
            "{written}: {m}"
        );
    }
}

#[test]
fn a_run_held_back_by_keep_fails_and_so_does_its_dry_run() {
    let repo = ignored_repo();
    let dir = artifacts(&repo);
    // The 3 newest make 6,000 B, over a 1,000 B limit.
    for dry in [true, false] {
        let mut cmd = rotate_in(&repo).args(["--max-size", "1000", "--keep", "3"]);
        if dry {
            cmd = cmd.arg("--dry-run");
        }
        let out = cmd
            .stdout_has(row("keep", "WARN"))
            .stdout_has(ROTATE_FAIL)
            .blocked();
        assert_eq!(
            message_of(&out.stdout, "keep"),
            "held back by --keep 3: the 3 newest make 5.9 KiB, over the 1000 B limit"
        );
    }
    // The dry run deleted nothing; the run deleted all but the 3 newest.
    assert_eq!(snapshot(&dir).len(), 3);
}

#[test]
fn the_readme_dry_run_sample_is_what_the_binary_prints() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let marker = "$ release-sentinel rotate --days 7 --max-size 5000 --keep 1 --dry-run\n";
    let start = readme.find(marker).expect("the README's dry run sample") + marker.len();
    let end = readme[start..].find("```").expect("the end of the sample") + start;
    let rows: Vec<&str> = readme[start..end]
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('|'))
        .collect();
    assert_eq!(rows.len(), 9, "{rows:#?}");
    let repo = ignored_repo();
    artifacts(&repo);
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
        .safe();
    let text = String::from_utf8_lossy(&out.stdout);
    for r in rows {
        assert!(
            text.lines().any(|l| l == r),
            "the README shows a row the binary does not print: {r}\n{text}"
        );
    }
}
