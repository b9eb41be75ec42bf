//! Configuration: where it is found, and how bad files are refused (exit 1,
//! every problem at once, with line and column or key path).

use std::path::Path;
use std::time::Duration;

use crate::harness::{BLOCKED, Reaper, Repo, SAFE, Sentinel, context, json_of, message_of, row};
use crate::tools::mkfifo;

#[test]
fn file_at_the_repository_root_is_used() {
    let repo = Repo::with_config("environments = [\"qa\"]\n");
    Sentinel::in_repo(&repo)
        .gate("qa", "v1.2.3")
        .stdout_has(row("env_allowed", "OK"))
        .stdout_has("qa is an allowed environment")
        .stdout_has(SAFE)
        .safe();
    // It replaces the default list: prod is no longer allowed.
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .stdout_has(row("env_allowed", "FAIL"))
        .stdout_has("allowed: qa")
        .stdout_has(BLOCKED)
        .blocked();
}

#[test]
fn file_at_the_root_is_found_from_a_subdirectory() {
    let repo = Repo::with_config("environments = [\"qa\"]\n");
    repo.write("sub/dir/keep", "x\n");
    repo.commit_all("sub");
    Sentinel::in_repo(&repo)
        .dir(&repo.path.join("sub/dir"))
        .gate("qa", "v1.2.3")
        .stdout_has(row("env_allowed", "OK"))
        .stdout_has(SAFE)
        .safe();
}

#[test]
fn config_flag_names_the_file_and_wins_over_the_root_file() {
    let repo = Repo::with_config("environments = [\"dev\"]\n");
    let path = repo.outside("ci.toml", "environments = [\"qa\"]\n");
    Sentinel::in_repo(&repo)
        .arg("--config")
        .arg(&path)
        .gate("qa", "v1.2.3")
        .stdout_has(row("env_allowed", "OK"))
        .stdout_has(SAFE)
        .safe();
}

#[test]
fn rs_config_names_the_file() {
    let repo = Repo::new();
    let path = repo.outside("ci.toml", "environments = [\"qa\"]\n");
    Sentinel::in_repo(&repo)
        .env("RS_CONFIG", &path)
        .gate("qa", "v1.2.3")
        .stdout_has(row("env_allowed", "OK"))
        .stdout_has(SAFE)
        .safe();
    let out = Sentinel::in_repo(&repo)
        .env("RS_CONFIG", &path)
        .gate("qa", "v1.2.3")
        .args(["--format", "json"])
        .safe();
    let doc = json_of(&out);
    assert_eq!(doc["config"], path.display().to_string(), "{doc:#}");
    assert_eq!(doc["verdict"], "SAFE", "{doc:#}");
}

#[test]
fn missing_config_file_exits_1_naming_the_path() {
    let repo = Repo::new();
    let path = repo.scratch().join("no-such-config.toml");
    Sentinel::in_repo(&repo)
        .arg("--config")
        .arg(&path)
        .gate("prod", "v1.2.3")
        .stdout("")
        .stderr_has(path.display().to_string())
        .blocked();
}

#[test]
fn unknown_key_exits_1_with_path_line_and_column() {
    let repo = Repo::new();
    let path = repo.outside(
        "bad.toml",
        "environments = [\"qa\"]\n\n[policy]\n  brnaches = [\"main\"]\n",
    );
    Sentinel::in_repo(&repo)
        .arg("--config")
        .arg(&path)
        .gate("qa", "v1.2.3")
        .stdout("")
        .stderr_has(format!("{}:4:3:", path.display()))
        .stderr_has("brnaches")
        .blocked();
}

#[test]
fn unknown_key_in_the_root_file_exits_1_too() {
    let repo = Repo::with_config("environmnets = [\"qa\"]\n");
    Sentinel::in_repo(&repo)
        .gate("qa", "v1.2.3")
        .stdout("")
        .stderr_has("release-sentinel.toml:1:1:")
        .stderr_has("environmnets")
        .blocked();
}

#[test]
fn syntax_error_exits_1_with_line_and_column() {
    let repo = Repo::new();
    let path = repo.outside("broken.toml", "environments = [\"qa\"\n");
    let out = Sentinel::in_repo(&repo)
        .arg("--config")
        .arg(&path)
        .gate("qa", "v1.2.3")
        .stdout("")
        .stderr_has(format!("{}:", path.display()))
        .blocked();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let prefix = format!("{}:", path.display());
    let at = stderr.find(&prefix).unwrap() + prefix.len();
    let mut parts = stderr[at..].splitn(3, ':');
    let line = parts.next().unwrap_or_default();
    let column = parts.next().unwrap_or_default();
    assert!(
        line.parse::<usize>().is_ok() && column.parse::<usize>().is_ok(),
        "expected path:line:column in {stderr}"
    );
}

/// Four independent problems in one file.
fn many_problems(repo: &Repo) -> std::path::PathBuf {
    let token = format!("ghp_{}", "0123456789abcdefghijABCDEFGHIJ012345");
    repo.outside(
        "many.toml",
        &format!(
            "environments = []\n\
             \n\
             [policy]\n\
             branches = [\"main\", \"release/[x\", \"{token}\"]\n\
             \n\
             [policy.env.qa]\n\
             allow_dirty = true\n"
        ),
    )
}

#[test]
fn every_semantic_problem_is_reported_in_one_run() {
    let repo = Repo::new();
    let path = many_problems(&repo);
    let token = format!("ghp_{}", "0123456789abcdefghijABCDEFGHIJ012345");
    Sentinel::in_repo(&repo)
        .arg("--config")
        .arg(&path)
        .gate("qa", "v1.2.3")
        .stdout("")
        .stderr_has(path.display().to_string())
        .stderr_has("environments: the list is empty")
        .stderr_has("policy.branches[1]: invalid glob")
        .stderr_has("policy.branches[2]: looks like a literal secret")
        .stderr_has("policy.env.qa: override for an undeclared environment")
        .stderr_lacks(token)
        .blocked();
}

#[test]
fn names_under_secret_looking_keys_pass_and_a_credential_among_them_does_not() {
    let token = format!("ghp_{}", "0123456789abcdefghijABCDEFGHIJ012345");
    // `variables.secret` and `ready.key` hold names: fine as literals.
    let repo = Repo::with_config(
        "[variables]\nsecret = [\"MY_SECRET\"]\n[ready]\nkey = [\"clean_tree\"]\n",
    );
    Sentinel::in_repo(&repo)
        .args(["ready", "--env", "prod", "--version", "v1.2.3"])
        .stderr_lacks("literal")
        .code_in(&[0, 1]);
    // A credential pasted there is still refused, and not echoed.
    let repo = Repo::with_config(&format!("[variables]\nsecret = [\"{token}\"]\n"));
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .stderr_has("variables.secret[0]: looks like a literal secret")
        .stderr_lacks(&token)
        .blocked();
}

#[test]
fn invalid_config_with_json_format_prints_a_blocked_document() {
    let repo = Repo::new();
    let path = many_problems(&repo);
    let out = Sentinel::in_repo(&repo)
        .arg("--config")
        .arg(&path)
        .gate("qa", "v1.2.3")
        .args(["--format", "json"])
        .stderr_has("environments: the list is empty")
        .blocked();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "BLOCKED", "{doc:#}");
    assert_eq!(doc["exit_code"], 1, "{doc:#}");
    assert_eq!(doc["env"], "qa", "{doc:#}");
    assert_eq!(doc["version"], "v1.2.3", "{doc:#}");
    let error = doc["error"].as_str().expect("an error string");
    assert!(error.contains("environments: the list is empty"), "{error}");
    assert!(error.contains("policy.env.qa"), "{error}");
    assert!(!error.contains("ghp_0123"), "{error}");
    assert!(doc["schema_version"].is_number(), "{doc:#}");
}

#[test]
fn unset_variable_reference_is_an_error_naming_it() {
    let repo = Repo::with_config("[policy]\nbranches = [\"${RELEASE_BRANCH_GLOB}\"]\n");
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .stdout("")
        .stderr_has("policy.branches[0]")
        .stderr_has("RELEASE_BRANCH_GLOB")
        .stderr_has("not set")
        .blocked();
}

#[test]
fn variable_reference_expands_from_the_environment() {
    let repo = Repo::with_config("[policy]\nbranches = [\"${BRANCH}\"]\n");
    repo.git(["checkout", "-q", "-b", "trunk"]);
    Sentinel::in_repo(&repo)
        .env("BRANCH", "trunk")
        .gate("prod", "v1.2.3")
        .stdout_has(row("branch_allowed", "OK"))
        .stdout_has("trunk is allowed for prod")
        .stdout_has(SAFE)
        .safe();
    // The same file with another value: main is not trunk.
    let out = Sentinel::in_repo(&repo)
        .env("BRANCH", "main")
        .gate("prod", "v1.2.3")
        .stdout_has(row("branch_allowed", "FAIL"))
        .stdout_has(BLOCKED)
        .blocked();
    assert!(message_of(&out.stdout, "branch_allowed").contains("allowed: main"));
}

#[test]
fn required_variables_from_the_file_replace_the_default() {
    let repo = Repo::with_config("[variables]\nrequired = [\"DEPLOY_TARGET\"]\n");
    let out = Sentinel::new()
        .dir(&repo.path)
        .gate("prod", "v1.2.3")
        .stdout_has(row("required_config", "FAIL"))
        .stdout_has(BLOCKED)
        .blocked();
    let message = message_of(&out.stdout, "required_config");
    assert!(message.contains("missing: DEPLOY_TARGET"), "{message}");
    assert!(!message.contains("RS_API_URL"), "{message}");
    Sentinel::new()
        .dir(&repo.path)
        .env("DEPLOY_TARGET", "eu-west")
        .gate("prod", "v1.2.3")
        .stdout_has(row("required_config", "OK"))
        .stdout_has(SAFE)
        .safe();
}

#[test]
fn without_a_file_the_embedded_default_requires_the_rs_variables() {
    let repo = Repo::new();
    let out = Sentinel::new()
        .dir(&repo.path)
        .gate("prod", "v1.2.3")
        .stdout_has(row("required_config", "FAIL"))
        .stdout_has(BLOCKED)
        .blocked();
    let message = message_of(&out.stdout, "required_config");
    for name in ["RS_REQUIRED_PROCESS", "RS_API_URL", "RS_DEPLOY_TOKEN"] {
        assert!(message.contains(name), "{name} not named: {message}");
    }
}

#[test]
fn a_root_config_that_is_not_a_regular_file_is_an_error() {
    // A directory, a dangling link, and a link into a submodule that was
    // not checked out: the repository meant a config; none may be replaced
    // by the embedded default.
    type Plant = fn(&Repo);
    let cases: [(&str, Plant, &str); 3] = [
        (
            "a directory",
            |r| std::fs::create_dir(r.path.join("release-sentinel.toml")).unwrap(),
            "it is a directory",
        ),
        (
            "a dangling link",
            |r| {
                std::os::unix::fs::symlink("nowhere.toml", r.path.join("release-sentinel.toml"))
                    .unwrap()
            },
            "symbolic link to nowhere.toml, which does not exist",
        ),
        (
            "a link into an empty submodule",
            |r| {
                std::fs::create_dir(r.path.join("shared")).unwrap();
                std::os::unix::fs::symlink(
                    "shared/release-sentinel.toml",
                    r.path.join("release-sentinel.toml"),
                )
                .unwrap()
            },
            "which does not exist",
        ),
    ];
    for (what, plant, says) in cases {
        let repo = Repo::new();
        plant(&repo);
        repo.commit_all(what);
        Sentinel::in_repo(&repo)
            .gate("prod", "v1.0.0")
            .stdout("")
            .stderr_has("cannot read config file")
            .stderr_has("release-sentinel.toml")
            .stderr_has(says)
            .blocked();
    }
}

#[test]
fn a_config_that_is_a_fifo_a_device_or_huge_is_refused_at_once() {
    let repo = Repo::new();
    let fifo = repo.scratch().join("config.fifo");
    mkfifo(&fifo);
    let huge = repo.scratch().join("huge.toml");
    std::fs::write(&huge, format!("# {}\n", "x".repeat(5 * 1024 * 1024))).unwrap();
    for (path, says) in [
        (fifo.as_path(), "a FIFO"),
        (Path::new("/dev/zero"), "a device"),
        (huge.as_path(), "larger than the 4.0 MiB"),
    ] {
        // Spawned and bounded: a run that hangs fails the test, not CI.
        let mut reaper = Reaper::for_repo(&repo);
        reaper.spawn(
            &mut Sentinel::in_repo(&repo)
                .gate("prod", "v1.0.0")
                .arg("--config")
                .arg(path)
                .into_command(),
        );
        let out = reaper.wait(Duration::from_secs(10));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{says}: {}", context(&out));
        assert!(
            stderr.contains("cannot read config file") && stderr.contains(says),
            "{says}: {stderr}"
        );
    }
}

#[test]
fn a_huge_reference_is_not_echoed_whole() {
    let name = "A".repeat(1_000_000);
    let repo = Repo::new();
    let config = repo.outside("refs.toml", &format!("environments = [\"${{{name}}}\"]\n"));
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .arg("--config")
        .arg(&config)
        .stderr_has("which is not set")
        .blocked();
    assert!(
        out.stderr.len() < 4096,
        "{} bytes of error",
        out.stderr.len()
    );
}

#[test]
fn an_unset_reference_in_another_environments_override_blocks_only_that_one() {
    let repo =
        Repo::with_config("[policy.env.prod]\nbranches = [\"main\", \"${HOTFIX_BRANCH}\"]\n");
    Sentinel::in_repo(&repo)
        .gate("dev", "v1.0.0")
        .stdout_has(SAFE)
        .safe();
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stderr_has("policy.env.prod.branches[1]: references ${HOTFIX_BRANCH}, which is not set")
        .blocked();
    // The pack's config check still names it: prod does not resolve.
    let out = Sentinel::dry_run(&repo)
        .default_vars()
        .stdout_has(row("config_check_dry", "FAIL"))
        .blocked();
    assert!(
        message_of(&out.stdout, "config_check_dry").contains("prod: policy.env.prod.branches[1]")
    );
}
