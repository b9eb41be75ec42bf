//! The command line: help, version, usage errors (always 1, never clap's
//! 2), environment fallbacks, non-UTF-8 input and the panic hook; `init`,
//! shell completions and the man page.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use serde_json::Value;

use crate::formats::rows_of;
use crate::harness::{
    BLOCKED, POLICY_GATES, Repo, SAFE, Sentinel, context, each_row, json_of, message_of, row,
};
use crate::tools::{listing, text};

#[test]
fn help_exits_0_with_examples_and_exit_codes() {
    for flag in ["--help", "-h"] {
        Sentinel::new()
            .arg(flag)
            .stdout_has("Usage: release-sentinel")
            .stdout_has("--env <ENV>")
            .stdout_has("--version <VERSION>")
            .stdout_has("Examples")
            .stdout_has("release-sentinel --env prod --version v1.2.3")
            .stdout_has("Exit codes")
            .stdout_has("0  SAFE")
            .stdout_has("1  BLOCKED")
            .stdout_has("2  CRITICAL")
            .stderr_empty()
            .safe();
    }
}

#[test]
fn capital_v_prints_the_tool_version() {
    Sentinel::new()
        .arg("-V")
        .stdout(format!("release-sentinel {}\n", env!("CARGO_PKG_VERSION")))
        .stderr_empty()
        .safe();
}

/// A command line the parser refuses, and what stderr says of it.
struct Usage {
    name: &'static str,
    args: &'static [&'static str],
    says: &'static [&'static str],
}

#[test]
fn usage_errors_exit_1_with_nothing_on_stdout() {
    let rows = [
        Usage {
            name: "missing --env",
            args: &["--version", "v1.2.3"],
            says: &[
                "the following required arguments were not provided",
                "--env <ENV>",
                "Usage:",
            ],
        },
        Usage {
            name: "missing --version",
            args: &["--env", "prod"],
            says: &["--version <VERSION>"],
        },
        Usage {
            name: "an unknown flag",
            args: &["--env", "prod", "--version", "v1.2.3", "--bogus"],
            says: &["unexpected argument '--bogus'"],
        },
        Usage {
            name: "a bad --format value",
            args: &["--env", "prod", "--version", "v1.2.3", "--format", "xml"],
            says: &["invalid value 'xml'", "table", "json"],
        },
        Usage {
            name: "-v with -q",
            args: &["--env", "prod", "--version", "v1.2.3", "-v", "-q"],
            says: &["cannot be used with"],
        },
    ];
    let repo = Repo::new();
    each_row(
        &rows,
        |r| r.name,
        |r| {
            let mut s = Sentinel::in_repo(&repo).args(r.args).stdout("");
            for text in r.says {
                s = s.stderr_has(*text);
            }
            s.blocked();
        },
    );
}

#[test]
fn rs_env_and_rs_version_are_fallbacks() {
    let repo = Repo::new();
    Sentinel::in_repo(&repo)
        .env("RS_ENV", "prod")
        .env("RS_VERSION", "v1.2.3")
        .stdout_has("RELEASE SENTINEL: env=prod version=v1.2.3\n")
        .stdout_has(row("env_allowed", "OK"))
        .stdout_has(row("version_valid", "OK"))
        .stdout_has(SAFE)
        .safe();
}

#[test]
fn flags_win_over_rs_env_and_rs_version() {
    let repo = Repo::new();
    Sentinel::in_repo(&repo)
        .env("RS_ENV", "production")
        .env("RS_VERSION", "not-a-version")
        .gate("prod", "v1.2.3")
        .stdout_has("RELEASE SENTINEL: env=prod version=v1.2.3\n")
        .stdout_has(SAFE)
        .safe();
}

#[test]
fn non_utf8_argument_exits_1_with_a_clear_error() {
    let repo = Repo::new();
    Sentinel::in_repo(&repo)
        .arg("--env")
        .arg(OsStr::from_bytes(b"pr\xffod"))
        .args(["--version", "v1.2.3"])
        .stdout("")
        .stderr_has("invalid UTF-8")
        .blocked();
}

#[test]
fn non_utf8_rs_env_exits_1_and_names_the_variable() {
    let repo = Repo::new();
    Sentinel::in_repo(&repo)
        .env("RS_ENV", OsStr::from_bytes(b"pr\xffod"))
        .args(["--version", "v1.2.3"])
        .stdout("")
        .stderr_has("UTF-8")
        // The bad value is in the environment, not on the command line: the
        // error must say where to look.
        .stderr_has("RS_ENV")
        .blocked();
}

#[test]
fn non_utf8_required_variable_fails_required_config() {
    let repo = Repo::new();
    let out = Sentinel::in_repo(&repo)
        .env("RS_DEPLOY_TOKEN", OsStr::from_bytes(b"tok-\xff\xfe-value"))
        .gate("prod", "v1.2.3")
        .stdout_has(row("required_config", "FAIL"))
        .stdout_has(BLOCKED)
        .blocked();
    let message = message_of(&out.stdout, "required_config");
    assert!(message.contains("not valid UTF-8"), "{message}");
    assert!(message.contains("RS_DEPLOY_TOKEN"), "{message}");
    assert!(!message.contains("tok-"), "{message}");
}

#[test]
fn panic_exits_1_says_internal_error_and_leaks_no_secret() {
    let repo = Repo::new();
    let secret = "planted-panic-secret-7781";
    let out = Sentinel::in_repo(&repo)
        .env("RS_DEPLOY_TOKEN", secret)
        .env("RS_TEST_PANIC", "1")
        .env("RUST_BACKTRACE", "1")
        .gate("prod", "v1.2.3")
        .stdout_lacks("RELEASE_SENTINEL=SAFE")
        .stderr_has("internal error")
        .stderr_has("BLOCKED")
        .nowhere(secret)
        .blocked();
    assert_ne!(out.status.code(), Some(101));
}

#[test]
fn help_never_shows_the_values_of_its_environment_variables() {
    Sentinel::new()
        .arg("--help")
        .env("RS_ENV", "planted-env-value")
        .env("RS_VERSION", "planted-version-value")
        .env("RS_CONFIG", "planted-config-value")
        .stdout_has("[env: RS_ENV]")
        .stdout_lacks("planted-env-value")
        .stdout_lacks("planted-version-value")
        .stdout_lacks("planted-config-value")
        .safe();
}

/// What `init` writes.
const STARTER: &str = include_str!("../../src/config/starter.toml");

// ------------------------------------------------------------------- init

#[test]
fn init_writes_the_starter_at_the_root_even_from_a_subdirectory() {
    let repo = Repo::new();
    let sub = repo.path.join("deep").join("er");
    std::fs::create_dir_all(&sub).expect("mkdir");
    let out = Sentinel::new().dir(&sub).arg("init").safe();
    let file = repo.path.join("release-sentinel.toml");
    let written = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("no file at the root ({e}):\n{}", context(&out)));
    assert_eq!(written, STARTER);
    assert!(!sub.join("release-sentinel.toml").exists());
    assert!(
        text(&out.stdout).contains("release-sentinel.toml"),
        "{}",
        context(&out)
    );

    // The gate picks it up (dev allows the dirty tree the new file makes)
    // and it validates. Its disk and memory checks measure this machine:
    // SAFE, or CRITICAL on a full disk, never BLOCKED.
    let out = Sentinel::new()
        .dir(&sub)
        .args(["--env", "dev", "--version", "v0.1.0", "--format", "json"])
        .code_in(&[0, 2]);
    let doc = json_of(&out);
    assert!(
        doc["config"]
            .as_str()
            .is_some_and(|c| c.ends_with("release-sentinel.toml")),
        "{doc:#}"
    );
    assert!(doc.get("error").is_none_or(Value::is_null), "{doc:#}");
    for id in POLICY_GATES {
        let check = rows_of(&doc).iter().find(|c| c["id"] == *id).expect(id);
        assert!(
            check["status"] == "OK" || check["status"] == "WARN",
            "{id}: {doc:#}"
        );
    }
    assert!(!text(&out.stderr).contains("error"), "{}", context(&out));

    // Committed, it validates for every environment (the pack's config
    // step).
    repo.commit_all("starter config");
    let out = Sentinel::new()
        .dir(&repo.path)
        .args([
            "--env",
            "prod",
            "--version",
            "v0.1.0",
            "--dry-run",
            "--format",
            "json",
        ])
        // The built-in health step measures this machine's disk and memory:
        // the pack passes, or fails on a full disk; the config step is what
        // this checks.
        .code_in(&[0, 1]);
    let doc = json_of(&out);
    let config_step = rows_of(&doc)
        .iter()
        .find(|s| s["id"] == "config_check_dry")
        .unwrap_or_else(|| panic!("no config_check_dry in {doc:#}"));
    assert_eq!(config_step["status"], "OK", "{doc:#}");
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let repo = Repo::new();
    Sentinel::new().dir(&repo.path).arg("init").safe();
    let file = repo.path.join("release-sentinel.toml");
    let mine = format!("{STARTER}\n# my own edit\n");
    std::fs::write(&file, &mine).expect("edit");
    Sentinel::new()
        .dir(&repo.path)
        .arg("init")
        .stderr_has("release-sentinel.toml")
        .stderr_has("--force")
        .blocked();
    assert_eq!(std::fs::read_to_string(&file).expect("file"), mine);
    Sentinel::new()
        .dir(&repo.path)
        .args(["init", "--force"])
        .safe();
    assert_eq!(std::fs::read_to_string(&file).expect("file"), STARTER);
    assert_eq!(
        listing(&repo.path),
        [".git", "README", "release-sentinel.toml"],
        "a temporary file is left"
    );
}

#[test]
fn init_path_writes_there_and_the_gate_accepts_it() {
    let repo = Repo::new();
    Sentinel::new()
        .dir(&repo.path)
        .args(["init", "--path", "other.toml"])
        .safe();
    assert_eq!(
        std::fs::read_to_string(repo.path.join("other.toml")).expect("other.toml"),
        STARTER
    );
    assert!(!repo.path.join("release-sentinel.toml").exists());
    let out = Sentinel::new()
        .dir(&repo.path)
        .args(["--env", "dev", "--version", "v0.1.0", "--format", "json"])
        .args(["--config", "other.toml"])
        // SAFE, or CRITICAL on a full disk (the starter's health checks
        // measure this machine), never BLOCKED.
        .code_in(&[0, 2]);
    let doc = json_of(&out);
    assert!(
        doc["config"]
            .as_str()
            .is_some_and(|c| c.ends_with("other.toml")),
        "{doc:#}"
    );
    // --path refuses to overwrite too.
    Sentinel::new()
        .dir(&repo.path)
        .args(["init", "--path", "other.toml"])
        .stderr_has("other.toml")
        .blocked();
}

// ------------------------------------------------- completions, man, help

#[test]
fn completions_for_every_shell_mention_the_options() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Sentinel::new()
            .args(["completions", shell])
            .stderr_empty()
            .safe();
        let script = text(&out.stdout);
        assert!(script.len() > 200, "{shell}: {}", context(&out));
        // fish names long options as `-l env`, the others as `--env`.
        for option in ["env", "dry-run", "format", "report", "color"] {
            assert!(
                script.contains(&format!("--{option}"))
                    || script.contains(&format!("-l {option} ")),
                "{shell} completions lack --{option}:\n{script}"
            );
        }
    }
}

#[test]
fn completions_for_an_unknown_shell_exit_1() {
    let out = Sentinel::new()
        .args(["completions", "tcsh"])
        .stderr_has("tcsh")
        .blocked();
    assert!(out.stdout.is_empty(), "{}", context(&out));
    Sentinel::new().arg("completions").blocked();
}

#[test]
fn man_page_is_roff_generated_from_the_options() {
    let out = Sentinel::new().arg("man").stderr_empty().safe();
    let roff = text(&out.stdout);
    assert!(roff.starts_with('.'), "{roff}");
    assert!(roff.lines().any(|l| l.starts_with(".TH")), "{roff}");
    // roff escapes hyphens as \-.
    let plain = roff.replace("\\-", "-");
    for needle in ["--env", "--dry-run", "--report", "--color", "junit"] {
        assert!(plain.contains(needle), "man page lacks {needle}:\n{roff}");
    }
}

#[test]
fn help_lists_the_new_options_and_subcommands() {
    let out = Sentinel::new().arg("--help").safe();
    let help = text(&out.stdout);
    for needle in [
        "--format",
        "junit",
        "markdown",
        "--report",
        "--color",
        "--dry-run",
        "init",
        "completions",
        "man",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    for sub in ["init", "completions", "man"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(sub)),
            "no {sub} command line in --help:\n{help}"
        );
    }
}

#[test]
fn init_at_another_path_suggests_the_config_flag() {
    let repo = Repo::new();
    let out = Sentinel::new()
        .dir(&repo.path)
        .args(["init", "--path", "ci/alt.toml"])
        .code_in(&[0, 1]);
    // The folder does not exist: refused, and nothing half-written.
    assert!(!repo.path.join("ci").exists() || out.status.success());
    std::fs::create_dir(repo.path.join("ci")).unwrap();
    Sentinel::new()
        .dir(&repo.path)
        .args(["init", "--path", "ci/alt.toml"])
        .stdout_has("release-sentinel --env dev --version v0.1.0 --config ci/alt.toml")
        .safe();
}

#[test]
fn every_man_page_the_main_page_names_exists() {
    let out = Sentinel::new().arg("man").safe();
    let page = String::from_utf8_lossy(&out.stdout).into_owned();
    let named: Vec<String> = page
        .split("release\\-sentinel\\-")
        .skip(1)
        .filter_map(|rest| rest.split_once("(1)").map(|(n, _)| n.replace("\\-", "-")))
        .collect();
    assert!(named.len() >= 4, "{named:?}");
    for name in named {
        Sentinel::new()
            .args(["man", &name])
            .stdout_has(format!(".TH release-sentinel-{name} 1"))
            .safe();
    }
    Sentinel::new()
        .args(["man", "nope"])
        .stderr_has("\"nope\" is not a command")
        .blocked();
}
