//! Release tags as real projects write them (`14.1.1`, `mylib-0.4.33`),
//! tag pipelines (the gate run by the pipeline a pushed tag starts), the CI
//! variables that name a branch, and row ids of unset references. Real
//! repositories and clones in temporary folders.

use std::collections::BTreeSet;

use crate::harness::{BLOCKED, Repo, SAFE, Sentinel, each_row, message_of, row};

/// A repository on `main` with one commit per tag, tagged lightweight, in
/// order.
fn tagged(tags: &[&str]) -> Repo {
    let repo = Repo::new();
    for t in tags {
        repo.git(["commit", "-q", "--allow-empty", "-m", t]);
        repo.git(["tag", t]);
    }
    repo.git(["commit", "-q", "--allow-empty", "-m", "after the tags"]);
    repo
}

fn message(repo: &Repo, version: &str, id: &str, code: i32) -> String {
    let out = Sentinel::in_repo(repo).gate("prod", version).code(code);
    message_of(&out.stdout, id)
}

// ------------------------------------------------------- 14.1.1-style tags

#[test]
fn bare_tags_under_the_default_format_are_not_a_first_release() {
    let repo = tagged(&["14.1.0", "14.1.1"]);
    // The released version, asked for as v14.1.1: the tag 14.1.1 is it.
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v14.1.1")
        .stdout_has(row("tag_absent", "FAIL"))
        .stdout_has(BLOCKED)
        .blocked();
    let m = message_of(&out.stdout, "tag_absent");
    assert!(m.contains("tag 14.1.1 already exists"), "{m}");
    assert!(m.contains("tag_format v{version}"), "{m}");
    // A new version: no tag of the format, so not compared, and said so.
    let m = message(&repo, "v14.1.2", "version_newer", 0);
    assert!(!m.contains("first release"), "{m}");
    assert!(
        m.contains("none of the clone's 2 tags has the tag format v{version}"),
        "{m}"
    );
    assert!(m.contains("2 look like {version}"), "{m}");
    assert!(m.contains("tag_format = \"{version}\""), "{m}");
    Sentinel::in_repo(&repo)
        .gate("prod", "v14.1.2")
        .stdout_has(row("version_newer", "WARN"))
        .safe();
}

#[test]
fn the_bare_format_compares_bare_tags_and_takes_either_version_form() {
    let repo = tagged(&["14.1.0", "14.1.1"]);
    repo.config("[policy]\ntag_format = \"{version}\"\n");
    for version in ["14.1.2", "v14.1.2"] {
        let out = Sentinel::in_repo(&repo)
            .gate("prod", version)
            .stdout_has(row("version_valid", "OK"))
            .stdout_has(row("tag_absent", "OK"))
            .stdout_has(SAFE)
            .safe();
        let m = message_of(&out.stdout, "version_newer");
        assert!(m.contains("newer than 14.1.1"), "{version}: {m}");
        assert!(message_of(&out.stdout, "tag_absent").contains("no tag 14.1.2 yet"));
    }
    let m = message(&repo, "14.1.1", "tag_absent", 1);
    assert!(m.contains("tag 14.1.1 already exists"), "{m}");
    let m = message(&repo, "v14.1.0", "version_newer", 1);
    assert!(m.contains("older than 14.1.1"), "{m}");
}

#[test]
fn a_v_tag_blocks_the_bare_format_too() {
    // The reverse shape: the format says 2.0.0, the clone has v2.0.0.
    let repo = tagged(&["v2.0.0"]);
    repo.config("[policy]\ntag_format = \"{version}\"\n");
    let m = message(&repo, "2.0.0", "tag_absent", 1);
    assert!(m.contains("tag v2.0.0 already exists"), "{m}");
}

// ------------------------------------------------------------ monorepos

fn monorepo() -> Repo {
    tagged(&["alpha-0.4.32", "beta-0.5.0", "alpha-0.4.33", "beta-0.6.1"])
}

#[test]
fn a_package_format_sees_only_its_own_tags() {
    let repo = monorepo();
    repo.config("[policy]\ntag_format = \"alpha-{version}\"\n");
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "0.4.34")
        .stdout_has(SAFE)
        .safe();
    let m = message_of(&out.stdout, "version_newer");
    assert!(m.contains("newer than alpha-0.4.33"), "{m}");
    assert!(message_of(&out.stdout, "version_valid").contains("(tag alpha-0.4.34)"));
    // The whole tag name, as a tag pipeline passes it.
    Sentinel::in_repo(&repo)
        .gate("prod", "alpha-0.4.34")
        .stdout_has(SAFE)
        .safe();
    // Released already, by either name.
    for v in ["0.4.33", "alpha-0.4.33"] {
        let m = message(&repo, v, "tag_absent", 1);
        assert!(m.contains("tag alpha-0.4.33 already exists"), "{v}: {m}");
    }
    assert!(message(&repo, "0.4.32", "version_newer", 1).contains("older than alpha-0.4.33"));
    // beta's 0.5.0 is another package's.
    Sentinel::in_repo(&repo)
        .gate("prod", "0.5.0")
        .stdout_has(SAFE)
        .safe();
    // Another package's tag name is not a version of this one.
    assert!(message(&repo, "beta-0.7.0", "version_valid", 1).contains("is not a SemVer version"));
}

#[test]
fn the_tag_format_is_set_per_environment() {
    let repo = monorepo();
    repo.config(
        "[policy]\ntag_format = \"alpha-{version}\"\n\
         [policy.env.prod]\ntag_format = \"beta-{version}\"\n",
    );
    assert!(message(&repo, "0.6.2", "version_newer", 0).contains("newer than beta-0.6.1"));
    let out = Sentinel::in_repo(&repo)
        .gate("stage", "0.6.2")
        .stdout_has(SAFE)
        .safe();
    assert!(message_of(&out.stdout, "version_newer").contains("newer than alpha-0.4.33"));
}

#[test]
fn a_bad_tag_format_is_a_config_error_with_its_key() {
    let repo = Repo::new();
    repo.config(
        "[policy]\ntag_format = \"release\"\n[policy.env.prod]\ntag_format = \"a b {version}\"\n",
    );
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stdout("")
        .stderr_has("policy.tag_format: \"release\" has no {version}")
        .stderr_has("policy.env.prod.tag_format: \"a b {version}\" does not make a valid tag name")
        .blocked();
}

// ------------------------------------------------------- tag pipelines

/// An upstream with v1.0.0 and v1.1.0 on main and a feature branch, and a
/// full clone of it with HEAD detached at `at`, as a CI checkout is.
fn pipeline_clone(at: &str) -> (Repo, Repo) {
    let upstream = Repo::new();
    upstream.tag("v1.0.0");
    upstream.git(["commit", "-q", "--allow-empty", "-m", "two"]);
    upstream.tag("v1.1.0");
    upstream.git(["checkout", "-q", "-b", "feature"]);
    upstream.git(["commit", "-q", "--allow-empty", "-m", "feature work"]);
    upstream.tag("v1.2.0");
    upstream.git(["checkout", "-q", "main"]);
    let clone = Repo::clone_of(&upstream, &[]);
    clone.git(["checkout", "-q", "--detach", at]);
    (upstream, clone)
}

fn github_tag(s: Sentinel, tag: &str) -> Sentinel {
    s.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REF", format!("refs/tags/{tag}"))
        .env("GITHUB_REF_NAME", tag)
        .env("GITHUB_REF_TYPE", "tag")
}

/// The variables GitHub Actions sets on a tag pipeline for `v1.1.0`.
const GITHUB_V1_1_0: &[(&str, &str)] = &[
    ("GITHUB_ACTIONS", "true"),
    ("GITHUB_REF", "refs/tags/v1.1.0"),
    ("GITHUB_REF_NAME", "v1.1.0"),
    ("GITHUB_REF_TYPE", "tag"),
];

/// A tag pipeline on a [`pipeline_clone`] at `at` (then `setup`), the CI
/// variables it sets, the version asked about, and what the gate says.
struct Pipeline {
    name: &'static str,
    at: &'static str,
    setup: fn(&Repo),
    vars: &'static [(&'static str, &'static str)],
    version: &'static str,
    rows: &'static [(&'static str, &'static str)],
    has: &'static [&'static str],
    /// (check, text) its message contains.
    message: &'static [(&'static str, &'static str)],
    code: i32,
}

#[test]
fn a_tag_pipeline_passes_only_for_its_own_tag_on_an_allowed_branch() {
    let rows = [
        Pipeline {
            name: "GitHub, for the release tag: safe",
            at: "v1.1.0",
            setup: |_| {},
            vars: GITHUB_V1_1_0,
            version: "v1.1.0",
            rows: &[
                ("branch_allowed", "OK"),
                ("tag_absent", "OK"),
                ("version_newer", "OK"),
            ],
            has: &[SAFE],
            message: &[
                ("tag_absent", "this build's own"),
                ("tag_absent", "GITHUB_REF"),
                ("version_newer", "newer than v1.0.0"),
                ("branch_allowed", "tag pipeline for v1.1.0"),
                // The clone's own main (origin/main too) contains the tag.
                ("branch_allowed", "is on main"),
            ],
            code: 0,
        },
        Pipeline {
            name: "GitLab, for the release tag: safe",
            at: "v1.1.0",
            setup: |_| {},
            vars: &[("CI_COMMIT_TAG", "v1.1.0"), ("GITLAB_CI", "true")],
            version: "v1.1.0",
            rows: &[],
            has: &[SAFE],
            message: &[
                ("tag_absent", "this build's own"),
                ("tag_absent", "CI_COMMIT_TAG"),
            ],
            code: 0,
        },
        Pipeline {
            name: "a release tagged on a feature branch is refused",
            at: "v1.2.0",
            setup: |_| {},
            vars: &[("CI_COMMIT_TAG", "v1.2.0")],
            version: "v1.2.0",
            rows: &[("branch_allowed", "FAIL"), ("tag_absent", "OK")],
            has: &[BLOCKED],
            message: &[(
                "branch_allowed",
                "no allowed branch (main, master) contains HEAD",
            )],
            code: 1,
        },
        // The pipeline names v1.1.0, but HEAD is v1.0.0's commit.
        Pipeline {
            name: "a pipeline tag that points elsewhere still blocks",
            at: "v1.0.0",
            setup: |_| {},
            vars: &[("CI_COMMIT_TAG", "v1.1.0")],
            version: "v1.1.0",
            rows: &[("tag_absent", "FAIL"), ("branch_allowed", "FAIL")],
            has: &[],
            message: &[
                ("tag_absent", "tag v1.1.0 already exists"),
                ("branch_allowed", "tag pipeline for \"v1.1.0\""),
            ],
            code: 1,
        },
        // The pipeline runs for v1.1.1, the gate is asked about v1.1.0.
        Pipeline {
            name: "a pipeline for another tag is no pass for this version",
            at: "v1.1.0",
            setup: |clone| {
                clone.git(["tag", "v1.1.1"]);
            },
            vars: &[("CI_COMMIT_TAG", "v1.1.1")],
            version: "v1.1.0",
            rows: &[("tag_absent", "FAIL")],
            has: &[],
            message: &[],
            code: 1,
        },
    ];
    each_row(
        &rows,
        |r| r.name,
        |r| {
            let (_upstream, clone) = pipeline_clone(r.at);
            (r.setup)(&clone);
            let mut s = Sentinel::in_repo(&clone);
            for (k, v) in r.vars {
                s = s.env(k, v);
            }
            s = s.gate("prod", r.version);
            for (id, status) in r.rows {
                s = s.stdout_has(row(id, status));
            }
            for text in r.has {
                s = s.stdout_has(*text);
            }
            let out = s.code(r.code);
            for (id, text) in r.message {
                let m = message_of(&out.stdout, id);
                assert!(m.contains(text), "{id} lacks {text:?}: {m}");
            }
        },
    );
}

#[test]
fn a_shallow_tag_build_names_the_shallow_clone_and_its_fix_in_the_rows_it_affects() {
    // GitHub's default checkout of a tag: depth 1, HEAD detached at it.
    let (upstream, _full) = pipeline_clone("v1.1.0");
    let clone = Repo::clone_of(&upstream, &["--depth", "1", "--branch", "v1.1.0"]);
    let out = github_tag(Sentinel::in_repo(&clone), "v1.1.0")
        .gate("prod", "v1.1.0")
        .stdout_has(row("tag_absent", "OK"))
        .stdout_has(row("version_newer", "SKIP"))
        .stdout_has(row("branch_allowed", "FAIL"))
        .blocked();
    for id in ["version_newer", "branch_allowed"] {
        let m = message_of(&out.stdout, id);
        assert!(
            m.contains("shallow clone")
                && m.contains("fetch-depth: 0")
                && m.contains("GIT_DEPTH")
                && !m.ends_with("..."),
            "{id}: {m}"
        );
    }
    // The branches fetched alone do not help, and the row does not
    // pretend they would.
    let m = message_of(&out.stdout, "branch_allowed");
    assert!(!m.contains("no branches in this clone"), "{m}");
}

#[test]
fn a_tag_pipeline_without_branches_says_how_to_fetch_them() {
    let (upstream, _) = pipeline_clone("v1.1.0");
    // What a CI that fetches only the tag leaves: no branch at all.
    let bare = Repo::empty();
    let url = format!("file://{}", upstream.path.display());
    bare.git(["fetch", "-q", &url, "refs/tags/v1.1.0:refs/tags/v1.1.0"]);
    bare.git(["fetch", "-q", &url, "refs/tags/v1.0.0:refs/tags/v1.0.0"]);
    bare.git(["checkout", "-q", "--detach", "v1.1.0"]);
    let out = Sentinel::in_repo(&bare)
        .env("CI_COMMIT_TAG", "v1.1.0")
        .gate("prod", "v1.1.0")
        .stdout_has(row("branch_allowed", "FAIL"))
        .blocked();
    let m = message_of(&out.stdout, "branch_allowed");
    assert!(m.contains("no branches in this clone"), "{m}");
    assert!(
        m.contains("git fetch origin '+refs/heads/*:refs/remotes/origin/*'"),
        "{m}"
    );
}

// The README's CI snippets are run where they are pasted in snippets.rs.

// ---------------------------------------------------- CI branch variables

/// Every variable the README lists under "CI branch variables", in order.
fn readme_branch_variables() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let start = readme
        .find("**CI branch variables**")
        .expect("the CI branch variables paragraph");
    let para = &readme[start..start + readme[start..].find("\n\n").expect("paragraph end")];
    let names: Vec<String> = para
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                && !s.starts_with("GITHUB_REF_TYPE")
        })
        .map(str::to_string)
        .collect();
    let mut seen = BTreeSet::new();
    names
        .into_iter()
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

/// The value a CI sets for branch `main`, and what it sets beside it.
fn ci_value(var: &str, branch: &str) -> (String, Vec<(&'static str, &'static str)>) {
    match var {
        "GITHUB_REF" | "BUILD_SOURCEBRANCH" => (format!("refs/heads/{branch}"), vec![]),
        "GITHUB_REF_NAME" => (branch.to_string(), vec![("GITHUB_REF_TYPE", "branch")]),
        "GIT_BRANCH" => (format!("origin/{branch}"), vec![]),
        _ => (branch.to_string(), vec![]),
    }
}

#[test]
fn every_ci_branch_variable_the_readme_names_is_read() {
    let vars = readme_branch_variables();
    assert!(vars.len() >= 24, "{vars:?}");
    let repo = Repo::new();
    repo.git(["checkout", "-q", "--detach"]);
    for var in &vars {
        for (branch, code) in [("main", 0), ("feature/x", 1)] {
            let (value, extra) = ci_value(var, branch);
            let mut s = Sentinel::in_repo(&repo).env(var, &value);
            for (k, v) in extra {
                s = s.env(k, v);
            }
            let out = s.gate("prod", "v1.0.0").code(code);
            let m = message_of(&out.stdout, "branch_allowed");
            assert!(m.contains(branch), "{var}={value}: {m}");
            assert!(
                m.contains(&format!("branch from {var}")),
                "{var}={value}: {m}"
            );
        }
    }
}

#[test]
fn github_ref_name_names_a_branch_only_by_its_type() {
    let repo = Repo::new();
    repo.git(["checkout", "-q", "--detach"]);
    // Alone, with the branch type: the branch.
    Sentinel::in_repo(&repo)
        .env("GITHUB_REF_NAME", "main")
        .env("GITHUB_REF_TYPE", "branch")
        .gate("prod", "v1.0.0")
        .stdout_has("branch from GITHUB_REF_NAME")
        .safe();
    // A tag build's ref name is a tag, not a branch.
    Sentinel::in_repo(&repo)
        .env("GITHUB_REF_NAME", "main")
        .env("GITHUB_REF_TYPE", "tag")
        .gate("prod", "v1.0.0")
        .stdout_has(row("branch_allowed", "FAIL"))
        .stdout_has("no CI variable names a branch")
        .blocked();
}

#[test]
fn a_ci_branch_value_that_is_no_branch_name_is_not_trusted() {
    let repo = Repo::new();
    repo.git(["checkout", "-q", "--detach"]);
    for (var, value) in [
        ("GITHUB_REF", "refs/heads/main\n"),
        ("CI_COMMIT_BRANCH", "main "),
        ("CI_COMMIT_BRANCH", "ma..in"),
        ("CIRCLE_BRANCH", "main\u{7}"),
    ] {
        let out = Sentinel::in_repo(&repo)
            .env(var, value)
            // A later variable must not rescue a forged one.
            .env("CI_BRANCH", "main")
            .gate("prod", "v1.0.0")
            .stdout_has(row("branch_allowed", "FAIL"))
            .blocked();
        let m = message_of(&out.stdout, "branch_allowed");
        assert!(
            m.contains(var) && m.contains("not a valid git ref name"),
            "{var}: {m}"
        );
    }
}

// ----------------------------------------------------------- row ids

#[test]
fn a_row_id_never_shows_an_unexpanded_reference() {
    let repo = Repo::new();
    let out = Sentinel::new()
        .dir(&repo.path)
        .env("RS_API_URL", "http://127.0.0.1:9/health")
        .env("RS_DEPLOY_TOKEN", "tok-not-a-real-secret-0000")
        .gate("prod", "v1.0.0")
        .stdout_has(row("process:<RS_REQUIRED_PROCESS>", "SKIP"))
        .stdout_lacks("${")
        .blocked();
    assert!(message_of(&out.stdout, "required_config").contains("RS_REQUIRED_PROCESS"));
}

#[test]
fn tagless_repositories_do_what_the_readme_says() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    assert!(readme.contains(
        "A full clone of a remote with no tags at all is a WARN that says how to fetch them; \
         a repository without a remote has nothing to fetch, and its first release is OK."
    ));
    let local = Repo::new();
    Sentinel::in_repo(&local)
        .gate("prod", "v1.0.0")
        .stdout_has(row("tag_absent", "OK"))
        .safe();
    let clone = Repo::clone_of(&local, &[]);
    let out = Sentinel::in_repo(&clone)
        .gate("prod", "v1.0.0")
        .stdout_has(row("tag_absent", "WARN"))
        .safe();
    assert!(message_of(&out.stdout, "tag_absent").contains("git fetch --tags"));
}
