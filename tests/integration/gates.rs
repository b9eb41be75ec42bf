//! Each policy gate on real repositories: the row and the exit code.

use std::process::Command;

use crate::harness::{BLOCKED, Repo, SAFE, Sentinel, each_row, is_root, message_of, row};

/// `s` expecting SKIP on the gates that need a usable repository.
fn skips_git_dependent(mut s: Sentinel) -> Sentinel {
    for id in [
        "clean_tree",
        "branch_allowed",
        "tag_absent",
        "version_newer",
    ] {
        s = s.stdout_has(row(id, "SKIP"));
    }
    s
}

/// One run of the gate on a repository and what it must show: a row of
/// the tables below.
struct Case {
    name: &'static str,
    /// The repository the gate runs in, and what is done to it first.
    repo: fn() -> Repo,
    setup: fn(&Repo),
    /// A folder inside it to run from ("" for its root).
    subdir: &'static str,
    /// Variables set on top of the embedded default's.
    vars: &'static [(&'static str, &'static str)],
    env: &'static str,
    version: &'static str,
    /// Rows of the table, as (check, status).
    rows: &'static [(&'static str, &'static str)],
    /// Text stdout contains.
    has: &'static [&'static str],
    /// (check, text) its message contains.
    message: &'static [(&'static str, &'static str)],
    /// (check, text) its message lacks.
    message_lacks: &'static [(&'static str, &'static str)],
    stderr_empty: bool,
    code: i32,
}

const BASE: Case = Case {
    name: "",
    repo: Repo::new,
    setup: |_| {},
    subdir: "",
    vars: &[],
    env: "prod",
    version: "v1.2.3",
    rows: &[],
    has: &[],
    message: &[],
    message_lacks: &[],
    stderr_empty: false,
    code: 1,
};

/// Runs every case, naming each one that fails.
fn check(cases: &[Case]) {
    each_row(
        cases,
        |c| c.name,
        |c| {
            let repo = (c.repo)();
            (c.setup)(&repo);
            let mut s = Sentinel::in_repo(&repo)
                .dir(&repo.path.join(c.subdir))
                .gate(c.env, c.version);
            for (k, v) in c.vars {
                s = s.env(k, v);
            }
            for (id, status) in c.rows {
                s = s.stdout_has(row(id, status));
            }
            for text in c.has {
                s = s.stdout_has(*text);
            }
            if c.stderr_empty {
                s = s.stderr_empty();
            }
            let out = s.code(c.code);
            for (id, text) in c.message {
                let message = message_of(&out.stdout, id);
                assert!(message.contains(text), "{id} lacks {text:?}: {message}");
            }
            for (id, text) in c.message_lacks {
                let message = message_of(&out.stdout, id);
                assert!(!message.contains(text), "{id} has {text:?}: {message}");
            }
        },
    );
}

/// Every policy gate passes on a clean `main` with the variables set.
const ALL_OK: &[(&str, &str)] = &[
    ("env_allowed", "OK"),
    ("git_repo", "OK"),
    ("clean_tree", "OK"),
    ("branch_allowed", "OK"),
    ("version_valid", "OK"),
    ("tag_absent", "OK"),
    ("version_newer", "OK"),
    ("required_config", "OK"),
];

#[test]
fn clean_main_with_variables_is_safe() {
    check(&[
        Case {
            name: "from the root",
            rows: ALL_OK,
            has: &[SAFE],
            stderr_empty: true,
            code: 0,
            ..BASE
        },
        Case {
            name: "a subdirectory finds the repository",
            setup: |r| {
                r.write("src/deep/lib.txt", "code\n");
                r.commit_all("deep");
            },
            subdir: "src/deep",
            rows: ALL_OK,
            has: &[SAFE],
            code: 0,
            ..BASE
        },
    ]);
}

// ---------------------------------------------------------------- clean_tree

#[test]
fn each_kind_of_change_blocks_and_is_named() {
    check(&[
        Case {
            name: "modified",
            setup: |r| r.write("README", "changed\n"),
            rows: &[("clean_tree", "FAIL")],
            has: &["README (modified)", BLOCKED],
            ..BASE
        },
        Case {
            name: "staged",
            setup: |r| {
                r.write("new.txt", "staged\n");
                r.git(["add", "new.txt"]);
            },
            rows: &[("clean_tree", "FAIL")],
            has: &["new.txt (staged)", BLOCKED],
            ..BASE
        },
        Case {
            name: "untracked",
            setup: |r| r.write("stray.txt", "untracked\n"),
            rows: &[("clean_tree", "FAIL")],
            has: &["stray.txt (untracked)", BLOCKED],
            ..BASE
        },
        Case {
            name: "deleted",
            setup: |r| std::fs::remove_file(r.path.join("README")).unwrap(),
            rows: &[("clean_tree", "FAIL")],
            has: &["README (deleted)", BLOCKED],
            ..BASE
        },
    ]);
}

#[test]
fn many_changes_name_the_first_few_then_a_count() {
    let repo = Repo::new();
    for i in 0..8 {
        repo.write(&format!("stray{i}.txt"), "x\n");
    }
    let out = Sentinel::prod(&repo)
        .stdout_has(row("clean_tree", "FAIL"))
        .stdout_has("8 uncommitted changes")
        .stdout_has("and 3 more")
        .stdout_has(BLOCKED)
        .blocked();
    let message = message_of(&out.stdout, "clean_tree");
    assert!(message.contains("stray0.txt"), "{message}");
    assert!(!message.contains("stray7.txt"), "{message}");
}

#[test]
fn only_an_ignored_file_is_clean() {
    let repo = Repo::new();
    repo.write(".gitignore", "*.log\nbuild/\n");
    repo.commit_all("ignore logs");
    repo.write("debug.log", "noise\n");
    repo.write("build/out.bin", "artefact\n");
    Sentinel::prod(&repo)
        .stdout_has(row("clean_tree", "OK"))
        .stdout_lacks("debug.log")
        .stdout_has(SAFE)
        .safe();
}

#[test]
fn dirty_submodule_blocks_and_names_it() {
    let upstream = Repo::new();
    let repo = Repo::new();
    repo.git([
        "submodule".as_ref(),
        "add".as_ref(),
        "-q".as_ref(),
        upstream.path.as_os_str(),
        "sub".as_ref(),
    ]);
    repo.commit_all("add submodule");
    // Clean right after the commit...
    Sentinel::prod(&repo)
        .stdout_has(row("clean_tree", "OK"))
        .safe();
    // ...dirty once a file inside the submodule changes.
    repo.write("sub/README", "changed inside the submodule\n");
    let out = Sentinel::prod(&repo)
        .stdout_has(row("clean_tree", "FAIL"))
        .stdout_has(BLOCKED)
        .blocked();
    let message = message_of(&out.stdout, "clean_tree");
    assert!(message.contains("sub"), "{message}");
    assert!(message.contains("submodule"), "{message}");
}

#[test]
fn allow_dirty_for_dev_warns_and_passes() {
    let repo = Repo::with_config("[policy.env.dev]\nallow_dirty = true\n");
    repo.write("wip.txt", "work in progress\n");
    Sentinel::in_repo(&repo)
        .gate("dev", "v1.2.3")
        .stdout_has(row("clean_tree", "WARN"))
        .stdout_has("allow_dirty")
        .stdout_has("wip.txt (untracked)")
        .stdout_has(SAFE)
        .safe();
    // The override is for dev only: prod still refuses the dirty tree.
    Sentinel::prod(&repo)
        .stdout_has(row("clean_tree", "FAIL"))
        .stdout_has(BLOCKED)
        .blocked();
}

#[test]
fn an_untracked_file_is_seen_when_the_index_is_empty() {
    // A first commit with nothing in it: the index has no entries.
    let repo = Repo::empty();
    repo.git(["commit", "-q", "--allow-empty", "-m", "empty"]);
    Sentinel::prod(&repo)
        .stdout_has(row("clean_tree", "OK"))
        .safe();
    repo.write("new.txt", "x\n");
    Sentinel::prod(&repo)
        .stdout_has(row("clean_tree", "FAIL"))
        .stdout_has("new.txt (untracked)")
        .blocked();
    // Every file removed from the index and the removal committed.
    let repo = Repo::new();
    repo.git(["rm", "-q", "--cached", "README"]);
    repo.git(["commit", "-q", "-m", "untrack everything"]);
    Sentinel::prod(&repo)
        .stdout_has(row("clean_tree", "FAIL"))
        .stdout_has("README (untracked)")
        .blocked();
    // The file `init` has just written.
    let repo = Repo::empty();
    repo.git(["commit", "-q", "--allow-empty", "-m", "empty"]);
    Sentinel::new().dir(&repo.path).arg("init").safe();
    Sentinel::prod(&repo)
        .stdout_has(row("clean_tree", "FAIL"))
        .stdout_has("release-sentinel.toml (untracked)")
        .blocked();
}

#[test]
fn untracked_folders_with_odd_names_are_seen() {
    // Names libgit2's path patterns would read otherwise: a line break or
    // another control character, a backslash, a leading `!` or `#`, a
    // trailing space, wildcards.
    each_row(
        &[
            "evil\ndir",
            "feed\x0cdir",
            "vt\x0bdir",
            "cr\r",
            "back\\slash",
            "\\",
            "!bang",
            "#hash",
            "trailing ",
            "star*",
            "q?",
            "[set]",
        ],
        |r| *r,
        |&name| {
            let repo = Repo::new();
            repo.write(&format!("{name}/run.sh"), "p\n");
            let out = Sentinel::prod(&repo)
                .allow_non_ascii()
                .stdout_has(row("clean_tree", "FAIL"))
                .blocked();
            let message = message_of(&out.stdout, "clean_tree");
            assert!(message.contains("(untracked)"), "{name:?}: {message}");
            // The same inside a tracked folder.
            let repo = Repo::new();
            repo.write("src/lib.txt", "tracked\n");
            repo.commit_all("src");
            repo.write(&format!("src/{name}/run.sh"), "p\n");
            let out = Sentinel::prod(&repo)
                .allow_non_ascii()
                .stdout_has(row("clean_tree", "FAIL"))
                .blocked();
            let message = message_of(&out.stdout, "clean_tree");
            assert!(message.contains("(untracked)"), "src/{name:?}: {message}");
        },
    );
}

#[test]
fn a_split_index_is_read_whole() {
    each_row(
        &["update-index", "config"],
        |r| *r,
        |&how| {
            let repo = Repo::new();
            repo.write("src/a.txt", "a\n");
            repo.write("src/b.txt", "b\n");
            repo.commit_all("more");
            if how == "config" {
                repo.git(["config", "core.splitIndex", "true"]);
                repo.write("src/c.txt", "c\n");
                repo.commit_all("with a split index");
            } else {
                repo.git(["update-index", "--split-index"]);
            }
            assert!(
                std::fs::read_dir(repo.path.join(".git")).unwrap().any(|e| e
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("sharedindex.")),
                "{how}: git wrote no shared index"
            );
            Sentinel::prod(&repo)
                .stdout_has(row("clean_tree", "OK"))
                .safe();
            // Changes on top of the shared index: modified, staged, untracked.
            repo.write("src/a.txt", "changed\n");
            repo.write("staged.txt", "s\n");
            repo.git(["add", "staged.txt"]);
            repo.write("src/new.txt", "n\n");
            let out = Sentinel::prod(&repo)
                .stdout_has(row("clean_tree", "FAIL"))
                .blocked();
            let message = message_of(&out.stdout, "clean_tree");
            for part in [
                "src/a.txt (modified)",
                "staged.txt (staged)",
                "src/new.txt (untracked)",
            ] {
                assert!(message.contains(part), "{how}: {message}");
            }
        },
    );
}

#[test]
fn a_sparse_index_is_read_whole() {
    let repo = Repo::new();
    repo.write("in/a.txt", "a\n");
    repo.write("out/b.txt", "b\n");
    repo.commit_all("two folders");
    repo.git(["sparse-checkout", "init", "--cone", "--sparse-index"]);
    repo.git(["sparse-checkout", "set", "in"]);
    assert!(
        !repo.path.join("out/b.txt").exists(),
        "not a sparse checkout"
    );
    Sentinel::prod(&repo)
        .stdout_has(row("clean_tree", "OK"))
        .safe();
    repo.write("in/a.txt", "changed\n");
    repo.write("in/new.txt", "n\n");
    let out = Sentinel::prod(&repo)
        .stdout_has(row("clean_tree", "FAIL"))
        .blocked();
    let message = message_of(&out.stdout, "clean_tree");
    for part in ["in/a.txt (modified)", "in/new.txt (untracked)"] {
        assert!(message.contains(part), "{message}");
    }
}

// ------------------------------------------------------------ branch_allowed

/// HEAD detached at `main`'s commit.
fn detached(repo: &Repo) {
    repo.git(["checkout", "-q", "--detach"]);
}

#[test]
fn branch_allowed_by_branch_and_ci_variable() {
    check(&[
        Case {
            name: "a feature branch blocks",
            setup: |r| {
                r.git(["checkout", "-q", "-b", "feature/login"]);
            },
            rows: &[("branch_allowed", "FAIL")],
            has: &[
                "\"feature/login\" is not allowed for prod",
                "allowed: main, master",
                BLOCKED,
            ],
            ..BASE
        },
        Case {
            name: "detached HEAD without a CI variable blocks",
            setup: detached,
            rows: &[("branch_allowed", "FAIL")],
            has: &[BLOCKED],
            message: &[
                ("branch_allowed", "detached"),
                ("branch_allowed", "no CI variable"),
            ],
            ..BASE
        },
        Case {
            name: "detached HEAD with GITHUB_REF on main passes",
            setup: detached,
            vars: &[("GITHUB_REF", "refs/heads/main")],
            rows: &[("branch_allowed", "OK")],
            has: &[SAFE],
            message: &[
                ("branch_allowed", "main"),
                ("branch_allowed", "GITHUB_REF"),
                ("branch_allowed", "detached"),
            ],
            code: 0,
            ..BASE
        },
        Case {
            name: "detached HEAD with GitLab's feature branch blocks",
            setup: detached,
            vars: &[("CI_COMMIT_BRANCH", "feature/x")],
            rows: &[("branch_allowed", "FAIL")],
            has: &[BLOCKED],
            message: &[
                ("branch_allowed", "feature/x"),
                ("branch_allowed", "CI_COMMIT_BRANCH"),
            ],
            ..BASE
        },
        // GitHub sets GITHUB_REF to the tag on a tag build: that is no branch.
        Case {
            name: "detached HEAD on a tag build names no branch",
            setup: detached,
            vars: &[("GITHUB_REF", "refs/tags/v1.2.3")],
            rows: &[("branch_allowed", "FAIL")],
            has: &["no CI variable names a branch", BLOCKED],
            ..BASE
        },
    ]);
}

// ---------------------------------------------------------- tags and history

/// A repository with `v0.4.0`, then `v1.0.0` on a later commit, then one
/// more commit on `main`.
fn repo_with_v1() -> Repo {
    let repo = Repo::new();
    repo.tag("v0.4.0");
    repo.write("CHANGES", "1.0.0\n");
    repo.commit_all("one point oh");
    repo.tag("v1.0.0");
    repo.write("CHANGES", "1.0.0\nnext\n");
    repo.commit_all("after 1.0.0");
    repo
}

/// `release/0.x` cut at `v0.4.0` (before `v1.0.0`), with a config that
/// allows `release/*`.
fn maintenance_branch() -> Repo {
    let repo = repo_with_v1();
    repo.git(["checkout", "-q", "-b", "release/0.x", "v0.4.0"]);
    repo.config("[policy]\nbranches = [\"main\", \"release/*\"]\n");
    repo
}

#[test]
fn tags_and_history_decide_tag_absent_and_version_newer() {
    check(&[
        Case {
            name: "an existing tag blocks",
            setup: |r| r.tag("v1.2.3"),
            rows: &[("tag_absent", "FAIL"), ("version_newer", "FAIL")],
            has: &[
                "tag v1.2.3 already exists",
                "v1.2.3 is not newer than v1.2.3",
                BLOCKED,
            ],
            ..BASE
        },
        Case {
            name: "a lightweight tag counts too",
            setup: |r| {
                r.git(["tag", "v1.2.3"]);
            },
            rows: &[("tag_absent", "FAIL")],
            has: &["tag v1.2.3 already exists", BLOCKED],
            ..BASE
        },
        Case {
            name: "older than a reachable tag blocks",
            repo: repo_with_v1,
            version: "v0.5.0",
            rows: &[("tag_absent", "OK"), ("version_newer", "FAIL")],
            has: &["v0.5.0 is older than v1.0.0", BLOCKED],
            ..BASE
        },
        // SemVer precedence: 1.0.0-rc.1 < 1.0.0.
        Case {
            name: "a pre-release of a released version is older",
            repo: repo_with_v1,
            setup: |r| r.config("[policy]\nallow_prerelease = true\n"),
            version: "v1.0.0-rc.1",
            rows: &[("version_valid", "OK"), ("version_newer", "FAIL")],
            has: &["older than v1.0.0", BLOCKED],
            ..BASE
        },
        Case {
            name: "an allowed downgrade warns and passes",
            repo: repo_with_v1,
            setup: |r| r.config("[policy]\nallow_downgrade = true\n"),
            version: "v0.5.0",
            rows: &[("version_newer", "WARN")],
            has: &["v0.5.0 is older than v1.0.0", "allow_downgrade", SAFE],
            code: 0,
            ..BASE
        },
        Case {
            name: "a hotfix on a maintenance branch compares with its own line",
            repo: maintenance_branch,
            version: "v0.5.0",
            rows: &[
                ("branch_allowed", "OK"),
                ("tag_absent", "OK"),
                ("version_newer", "OK"),
            ],
            has: &[SAFE],
            message: &[("version_newer", "newer than v0.4.0")],
            message_lacks: &[("version_newer", "v1.0.0")],
            code: 0,
            ..BASE
        },
        Case {
            name: "a maintenance branch still refuses a downgrade of its line",
            repo: maintenance_branch,
            version: "v0.3.9",
            rows: &[("version_newer", "FAIL")],
            has: &["v0.3.9 is older than v0.4.0", BLOCKED],
            ..BASE
        },
    ]);
}

/// A clone of [`repo_with_v1`] made with `args`, which leave its tags
/// behind: it cannot prove `v1.0.0` absent, and the message says so with
/// each of `words`.
fn tagless_clone_cannot_prove_absence(args: &[&str], words: &[&str]) {
    let origin = repo_with_v1();
    let clone = Repo::clone_of(&origin, args);
    assert!(
        clone.git(["tag", "--list"]).trim().is_empty(),
        "the clone ({args:?}) was expected to have no tags"
    );
    // v1.0.0 exists upstream; the clone must not let it through.
    let out = Sentinel::in_repo(&clone)
        .gate("prod", "v1.0.0")
        .stdout_has(row("tag_absent", "FAIL"))
        .stdout_has(row("version_newer", "SKIP"))
        .stdout_has(BLOCKED)
        .blocked();
    let message = message_of(&out.stdout, "tag_absent");
    for word in words {
        assert!(message.contains(word), "{args:?}: {message}");
    }
}

#[test]
fn shallow_clone_without_tags_cannot_prove_absence() {
    tagless_clone_cannot_prove_absence(&["--depth", "1"], &["shallow", "git fetch", "--tags"]);
}

#[test]
fn clone_without_tags_cannot_prove_absence() {
    tagless_clone_cannot_prove_absence(&["--no-tags"], &["no tags", "git fetch --tags"]);
}

// ------------------------------------------------------------------ git_repo

#[test]
fn unborn_repository_fails_and_skips_git_gates() {
    let repo = Repo::empty();
    let out = skips_git_dependent(
        Sentinel::prod(&repo)
            .stdout_has(row("env_allowed", "OK"))
            .stdout_has(row("git_repo", "FAIL"))
            .stdout_has("no commits")
            .stdout_has(row("version_valid", "OK"))
            .stdout_has(row("required_config", "OK"))
            .stdout_has(BLOCKED),
    )
    .blocked();
    assert!(message_of(&out.stdout, "clean_tree").contains("git_repo"));
}

#[test]
fn not_a_repository_fails_and_skips_git_gates() {
    let dir = tempfile::tempdir().unwrap();
    skips_git_dependent(
        Sentinel::new()
            .dir(dir.path())
            .default_vars()
            .gate("prod", "v1.2.3")
            .stdout_has(row("env_allowed", "OK"))
            .stdout_has(row("git_repo", "FAIL"))
            .stdout_has("not inside a git work tree")
            .stdout_has(row("version_valid", "OK"))
            .stdout_has(BLOCKED),
    )
    .blocked();
}

#[test]
fn missing_repo_path_fails() {
    let dir = tempfile::tempdir().unwrap();
    Sentinel::new()
        .dir(dir.path())
        .default_vars()
        .arg("--repo")
        .arg(dir.path().join("no-such-dir"))
        .gate("prod", "v1.2.3")
        .stdout_has(row("git_repo", "FAIL"))
        .stdout_has("does not exist")
        .stdout_has(row("clean_tree", "SKIP"))
        .stdout_has(BLOCKED)
        .blocked();
}

#[test]
fn repo_flag_points_at_the_repository_from_elsewhere() {
    let repo = Repo::new();
    let elsewhere = tempfile::tempdir().unwrap();
    // A config in the current directory is not the repository's: ignored.
    std::fs::write(
        elsewhere.path().join("release-sentinel.toml"),
        "environments = [\"qa\"]\n",
    )
    .unwrap();
    let out = Sentinel::new()
        .dir(elsewhere.path())
        .default_vars()
        .arg("--repo")
        .arg(&repo.path)
        .gate("prod", "v1.2.3")
        .stdout_has(row("env_allowed", "OK"))
        .stdout_has(row("git_repo", "OK"))
        .stdout_has(row("clean_tree", "OK"))
        .stdout_has(row("branch_allowed", "OK"))
        .stdout_has(row("required_config", "OK"))
        .stdout_has(SAFE)
        .safe();
    let head = repo.head();
    assert!(
        message_of(&out.stdout, "git_repo").contains(&head[..7]),
        "git_repo should name HEAD {head}"
    );
}

#[test]
fn linked_worktree_is_a_work_tree() {
    let repo = Repo::new();
    let wt = repo.scratch().join("wt");
    repo.git([
        "worktree".as_ref(),
        "add".as_ref(),
        "-q".as_ref(),
        "-b".as_ref(),
        "master".as_ref(),
        wt.as_os_str(),
    ]);
    let out = Sentinel::new()
        .dir(&wt)
        .default_vars()
        .gate("prod", "v1.2.3")
        .stdout_has(row("git_repo", "OK"))
        .stdout_has(row("clean_tree", "OK"))
        .stdout_has(row("branch_allowed", "OK"))
        .stdout_has("master is allowed for prod")
        .stdout_has(SAFE)
        .safe();
    assert!(message_of(&out.stdout, "git_repo").contains("linked worktree"));
}

#[test]
fn corrupt_index_fails_with_what_to_do() {
    let repo = Repo::new();
    std::fs::write(
        repo.path.join(".git/index"),
        b"\x00\xffgarbage, not a git index\x01\x02\x03\x04\x05\x06\x07\x08",
    )
    .unwrap();
    let out = skips_git_dependent(
        Sentinel::prod(&repo)
            .stdout_has(row("git_repo", "FAIL"))
            .stdout_has(BLOCKED),
    )
    .blocked();
    let message = message_of(&out.stdout, "git_repo");
    assert!(message.contains("index"), "{message}");
    assert!(message.contains("git reset"), "{message}");
}

#[test]
#[ignore = "needs root to chown the repository to another user; run as root with --ignored (.ci/test does)"]
fn repository_owned_by_another_user_fails_with_safe_directory() {
    assert!(
        is_root(),
        "this test needs root to chown the repository to another user: \
         run it as root (`cargo test --locked -- --ignored`, as .ci/test does)"
    );
    let repo = Repo::new();
    let status = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&repo.path)
        .status()
        .expect("run chown");
    assert!(status.success(), "chown failed");
    let out = skips_git_dependent(
        Sentinel::prod(&repo)
            .stdout_has(row("git_repo", "FAIL"))
            .stdout_has(BLOCKED),
    )
    .blocked();
    let message = message_of(&out.stdout, "git_repo");
    assert!(message.contains("safe.directory"), "{message}");
    assert!(
        message.contains("git config --global --add safe.directory"),
        "{message}"
    );
}

// ------------------------------------------------------------- version_valid

/// `version` is refused by `version_valid` with `needle` in its message,
/// the run is blocked and the table stays ASCII (the harness checks that).
fn refused_version(version: &str, needle: &str) {
    let repo = Repo::new();
    let out = Sentinel::in_repo(&repo)
        .gate("prod", version)
        .stdout_has(row("version_valid", "FAIL"))
        .stdout_has(row("tag_absent", "SKIP"))
        .stdout_has(row("version_newer", "SKIP"))
        .stdout_has(BLOCKED)
        .blocked();
    assert!(out.stdout.is_ascii());
    let message = message_of(&out.stdout, "version_valid");
    assert!(
        message.contains(needle),
        "version_valid message for {version:?} lacks {needle:?}: {message}"
    );
}

#[test]
fn malformed_versions_are_refused_and_shown_escaped() {
    let rows: &[(&str, &str, &str)] = &[
        ("without v", "1.0.0", "must start with \"v\""),
        ("leading zero", "v01.2.3", "leading zero"),
        ("two parts", "v1.2", "\"v1.2\" is not SemVer 2.0"),
        // The newline is shown as \n (escaped once, like the title shows
        // it), not as a literal line break and not as a backslash then n.
        (
            "trailing newline",
            "v1.2.3\n",
            "\"v1.2.3\\n\" is not SemVer 2.0",
        ),
        (
            "Arabic-Indic digits",
            "v\u{661}.\u{662}.\u{663}",
            "\"v\\u{661}.\\u{662}.\\u{663}\" is not SemVer 2.0",
        ),
    ];
    each_row(
        rows,
        |r| r.0,
        |&(_, version, needle)| refused_version(version, needle),
    );
}

#[test]
fn prerelease_and_build_metadata_are_refused_by_default() {
    check(&[
        Case {
            name: "pre-release",
            version: "v1.2.3-rc.1",
            rows: &[("version_valid", "FAIL")],
            has: &["v1.2.3-rc.1 is a pre-release", "allow_prerelease", BLOCKED],
            ..BASE
        },
        Case {
            name: "build metadata",
            version: "v1.2.3+build.7",
            rows: &[("version_valid", "FAIL")],
            has: &["build metadata", BLOCKED],
            ..BASE
        },
    ]);
}

#[test]
fn prerelease_is_allowed_where_the_config_allows_it() {
    let repo = Repo::with_config("[policy.env.stage]\nallow_prerelease = true\n");
    Sentinel::in_repo(&repo)
        .gate("stage", "v1.2.3-rc.1")
        .stdout_has(row("version_valid", "OK"))
        .stdout_has("pre-release, allowed")
        .stdout_has(SAFE)
        .safe();
    // Only stage: prod with the same file still refuses it.
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3-rc.1")
        .stdout_has(row("version_valid", "FAIL"))
        .stdout_has(BLOCKED)
        .blocked();
}

#[test]
fn a_version_the_policy_refuses_is_not_compared_with_tags() {
    // A parseable version that version_valid fails for a policy reason is
    // not a valid version: the gates that need one show SKIP, whatever the
    // tags and the changelog say.
    let repo = Repo::with_config("[policy]\nrequire_changelog = true\n");
    repo.write("CHANGELOG.md", "# Changelog\n\n## v1.2.3-rc.1\n\n- first\n");
    repo.commit_all("changelog");
    repo.tag("v1.2.3-rc.1");
    each_row(
        &[
            ("v1.2.3-rc.1", "pre-release"),
            ("v1.2.3+build.7", "build metadata"),
        ],
        |r| r.0,
        |&(version, why)| {
            let out = Sentinel::in_repo(&repo)
                .gate("prod", version)
                .stdout_has(row("version_valid", "FAIL"))
                .stdout_has(why)
                .stdout_has(row("tag_absent", "SKIP"))
                .stdout_has(row("version_newer", "SKIP"))
                .stdout_has(row("changelog_entry", "SKIP"))
                .stdout_has(BLOCKED)
                .blocked();
            for id in ["tag_absent", "version_newer", "changelog_entry"] {
                let message = message_of(&out.stdout, id);
                assert!(
                    message.contains("needs version_valid"),
                    "{version} {id}: {message}"
                );
            }
        },
    );
    // Allowed for stage: the same version is compared as usual.
    repo.config(
        "[policy]\nrequire_changelog = true\n[policy.env.stage]\nallow_prerelease = true\n",
    );
    Sentinel::in_repo(&repo)
        .gate("stage", "v1.2.3-rc.1")
        .stdout_has(row("version_valid", "OK"))
        .stdout_has(row("tag_absent", "FAIL"))
        .blocked();
}

// --------------------------------------------------------------- env_allowed

#[test]
fn env_allowed_matches_exactly_and_suggests() {
    check(&[
        Case {
            name: "unknown environment suggests prod",
            env: "production",
            rows: &[("env_allowed", "FAIL")],
            has: &[BLOCKED],
            message: &[
                (
                    "env_allowed",
                    "\"production\" is not an allowed environment",
                ),
                ("env_allowed", "did you mean prod?"),
            ],
            ..BASE
        },
        Case {
            name: "the match is exact",
            env: "Prod",
            rows: &[("env_allowed", "FAIL")],
            has: &[BLOCKED],
            ..BASE
        },
    ]);
}

// ----------------------------------------------------------- required_config

#[test]
fn missing_and_empty_required_variables_are_named() {
    let repo = Repo::new();
    let out = Sentinel::new()
        .dir(&repo.path)
        .env("RS_REQUIRED_PROCESS", "init")
        .env("RS_API_URL", "  ")
        .gate("prod", "v1.2.3")
        .stdout_has(row("required_config", "FAIL"))
        .stdout_has(BLOCKED)
        .blocked();
    let message = message_of(&out.stdout, "required_config");
    assert!(message.contains("missing: RS_DEPLOY_TOKEN"), "{message}");
    assert!(message.contains("empty: RS_API_URL"), "{message}");
    assert!(!message.contains("init"), "{message}");
}

// ---------------------------------------------------------------- fail-fast

#[test]
fn fail_fast_skips_everything_after_the_first_failure() {
    let repo = Repo::new();
    repo.write("stray.txt", "untracked\n");
    // branch and version would fail too; they must not even be evaluated.
    repo.git(["checkout", "-q", "-b", "feature/x"]);
    let out = Sentinel::in_repo(&repo)
        .arg("--fail-fast")
        .gate("prod", "not-a-version")
        .stdout_has(row("env_allowed", "OK"))
        .stdout_has(row("git_repo", "OK"))
        .stdout_has(row("clean_tree", "FAIL"))
        .stdout_has(row("branch_allowed", "SKIP"))
        .stdout_has(row("version_valid", "SKIP"))
        .stdout_has(row("tag_absent", "SKIP"))
        .stdout_has(row("version_newer", "SKIP"))
        .stdout_has(row("required_config", "SKIP"))
        .stdout_has(BLOCKED)
        .blocked();
    for id in [
        "branch_allowed",
        "version_valid",
        "tag_absent",
        "version_newer",
        "required_config",
    ] {
        let message = message_of(&out.stdout, id);
        assert!(message.contains("--fail-fast"), "{id}: {message}");
        assert!(message.contains("clean_tree"), "{id}: {message}");
    }
}

#[test]
fn without_fail_fast_every_gate_is_evaluated() {
    let repo = Repo::new();
    repo.write("stray.txt", "untracked\n");
    repo.git(["checkout", "-q", "-b", "feature/x"]);
    Sentinel::in_repo(&repo)
        .gate("prod", "not-a-version")
        .stdout_has(row("clean_tree", "FAIL"))
        .stdout_has(row("branch_allowed", "FAIL"))
        .stdout_has(row("version_valid", "FAIL"))
        .stdout_has(row("required_config", "OK"))
        .stdout_lacks("--fail-fast")
        .stdout_has(BLOCKED)
        .blocked();
}

/// A change on `main` and a conflicting one on `other`, with HEAD on main.
fn conflicting(r: &Repo) {
    r.git(["checkout", "-q", "-b", "other"]);
    r.write("f.txt", "theirs\n");
    r.commit_all("theirs");
    r.git(["checkout", "-q", "main"]);
    r.write("f.txt", "ours\n");
    r.commit_all("ours");
}

/// Runs `git args` in `r`, which must stop on a conflict; then back to
/// HEAD's tree and index, the operation still in progress.
fn stopped_then_resolved_as_head(r: &Repo, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(&r.path)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", r.scratch())
        .output()
        .expect("git");
    assert!(
        !out.status.success(),
        "git {args:?} must stop on the conflict"
    );
    r.git(["checkout", "HEAD", "--", "f.txt"]);
}

/// An operation git has in progress: its name in the message, how it is
/// started on a repository with `f.txt` committed, and the way out the
/// message names.
struct InProgress {
    operation: &'static str,
    setup: fn(&Repo),
    fix: &'static str,
}

#[test]
fn an_operation_in_progress_is_not_releasable_even_with_a_clean_tree() {
    let rows = [
        InProgress {
            operation: "a merge",
            setup: |r| {
                r.git(["checkout", "-q", "-b", "other"]);
                r.git(["commit", "-q", "--allow-empty", "-m", "other"]);
                r.git(["checkout", "-q", "main"]);
                // Takes nothing of `other`: the tree stays HEAD's.
                r.git(["merge", "-q", "-s", "ours", "--no-commit", "other"]);
            },
            fix: "git merge --abort",
        },
        InProgress {
            operation: "a rebase",
            setup: |r| {
                r.git(["commit", "-q", "--allow-empty", "-m", "two"]);
                // Stops at a `break` before replaying anything.
                r.git([
                    "-c",
                    "sequence.editor=sed -i '1i break'",
                    "rebase",
                    "-q",
                    "-i",
                    "HEAD~1",
                ]);
            },
            fix: "git rebase --abort",
        },
        InProgress {
            operation: "a cherry-pick",
            setup: |r| {
                conflicting(r);
                stopped_then_resolved_as_head(r, &["cherry-pick", "other"]);
            },
            fix: "git cherry-pick --abort",
        },
        InProgress {
            operation: "a revert",
            setup: |r| {
                r.write("f.txt", "one\n");
                r.commit_all("one");
                r.write("f.txt", "two\n");
                r.commit_all("two");
                stopped_then_resolved_as_head(
                    r,
                    &[
                        "-c",
                        "user.name=T",
                        "-c",
                        "user.email=t@example.invalid",
                        "revert",
                        "--no-edit",
                        "HEAD~1",
                    ],
                );
            },
            fix: "git revert --abort",
        },
        InProgress {
            operation: "a bisect",
            setup: |r| {
                r.git(["bisect", "start"]);
            },
            fix: "git bisect reset",
        },
    ];
    each_row(
        &rows,
        |r| r.operation,
        |r| {
            let repo = Repo::new();
            repo.write("f.txt", "base\n");
            repo.commit_all("base");
            (r.setup)(&repo);
            let out = Sentinel::in_repo(&repo)
                .gate("prod", "v1.0.0")
                .stdout_has(row("clean_tree", "FAIL"))
                .blocked();
            let m = message_of(&out.stdout, "clean_tree");
            assert!(
                m.contains(&format!("{} is in progress", r.operation)),
                "{m}"
            );
            assert!(m.contains(r.fix), "{m}");
        },
    );
}

#[test]
fn invisible_characters_are_not_a_value() {
    let repo = Repo::new();
    each_row(
        &["\u{200B}", "\u{FEFF}", " \u{200D} "],
        |r| *r,
        |&value| {
            let out = Sentinel::in_repo(&repo)
                .env("RS_DEPLOY_TOKEN", value)
                .gate("prod", "v1.0.0")
                .stdout_has(row("required_config", "FAIL"))
                .blocked();
            assert!(
                message_of(&out.stdout, "required_config").contains("empty: RS_DEPLOY_TOKEN"),
                "{value:?}"
            );
        },
    );
}
