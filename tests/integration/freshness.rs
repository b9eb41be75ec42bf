//! `freshness`, the cron sentinel, on real files with real ages.

use crate::harness::{Repo, Sentinel, context, message_of, row, toml_str};
use crate::tools::touch;

const FRESH_OK: &str = "| freshness                 | OK   | FRESHNESS=OK |";
const FRESH_FAIL: &str = "| freshness                 | FAIL | FRESHNESS=FAIL |";

fn fresh_repo(tasks: &str) -> Repo {
    let repo = Repo::new();
    repo.write(".gitignore", "artifacts/\n");
    repo.config(tasks);
    repo
}

/// `freshness` in `repo`.
fn freshness(repo: &Repo) -> Sentinel {
    Sentinel::new().dir(&repo.path).arg("freshness")
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
    let out = freshness(&repo)
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
    freshness(&repo)
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
    let out = freshness(&repo).stdout_has(FRESH_FAIL).blocked();
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
    let out = freshness(&repo).stdout_has(FRESH_OK).safe();
    let m = message_of(&out.stdout, "task:nightly_tests");
    assert!(
        m.starts_with("FRESH: artifacts/reports/nightly_1.json is 2h00m old"),
        "{m}"
    );
}

/// The seed's task file, as it was written.
pub(crate) const SEED_TASKS: &str = r#"{
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
    let out = freshness(&repo)
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
    freshness(&repo).stderr_has("no tasks").blocked();
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
    let out = freshness(&repo)
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
    freshness(&repo)
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
    freshness(&repo)
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
    freshness(&repo)
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
    let out = freshness(&repo)
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
