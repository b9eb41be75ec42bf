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

use std::collections::BTreeMap;
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
use crate::tools::{PROMPT, noise, require, tool, tool_ok, touch, write_bytes};

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
    let out = the_readme_plan(&repo).stdout_has(ROTATE_OK).safe();
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
    let out = the_readme_plan(&repo).safe();
    let text = String::from_utf8_lossy(&out.stdout);
    for r in rows {
        assert!(
            text.lines().any(|l| l == r),
            "the README shows a row the binary does not print: {r}\n{text}"
        );
    }
}

// ------------------------------------------- on real trees (touch -d, flock, a tmpfs)

pub(crate) const ROTATE_OK: &str = "| rotate                    | OK   | ROTATE=OK |";
pub(crate) const ROTATE_FAIL: &str = "| rotate                    | FAIL | ROTATE=FAIL |";

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

/// The README's dry run over [`artifacts`]: `rotate --days 7 --max-size
/// 5000 --keep 1 --dry-run`.
fn the_readme_plan(repo: &Repo) -> Sentinel {
    rotate_in(repo).args([
        "--days",
        "7",
        "--max-size",
        "5000",
        "--keep",
        "1",
        "--dry-run",
    ])
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
    let out = the_readme_plan(&repo).stdout_has(ROTATE_OK).safe();
    assert_eq!(
        message_of(&out.stdout, "rotate"),
        "dry run: would delete 5 files and free 24.4 KiB"
    );
    assert_eq!(snapshot(&dir), before, "a dry run changed the tree");
    // Not even a lock file: a dry run writes nothing (a read-only folder
    // can be planned).
    assert!(!dir.join(LOCK).exists(), "a dry run wrote its lock file");
    // The JSON report has every file and what becomes of it.
    let doc = json_of(&the_readme_plan(&repo).args(["--format", "json"]).safe());
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
