//! The command line: help, version, usage errors (always 1, never clap's
//! 2), environment fallbacks, non-UTF-8 input and the panic hook.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use crate::harness::{BLOCKED, Repo, SAFE, Sentinel, message_of, row};

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

#[test]
fn missing_env_is_a_usage_error_exit_1() {
    let repo = Repo::new();
    Sentinel::in_repo(&repo)
        .args(["--version", "v1.2.3"])
        .stdout("")
        .stderr_has("the following required arguments were not provided")
        .stderr_has("--env <ENV>")
        .stderr_has("Usage:")
        .blocked();
}

#[test]
fn missing_version_is_a_usage_error_exit_1() {
    let repo = Repo::new();
    Sentinel::in_repo(&repo)
        .args(["--env", "prod"])
        .stdout("")
        .stderr_has("--version <VERSION>")
        .blocked();
}

#[test]
fn unknown_flag_exits_1() {
    let repo = Repo::new();
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .arg("--bogus")
        .stdout("")
        .stderr_has("unexpected argument '--bogus'")
        .blocked();
}

#[test]
fn bad_format_value_exits_1() {
    let repo = Repo::new();
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .args(["--format", "xml"])
        .stdout("")
        .stderr_has("invalid value 'xml'")
        .stderr_has("table")
        .stderr_has("json")
        .blocked();
}

#[test]
fn verbose_and_quiet_conflict_exits_1() {
    let repo = Repo::new();
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .args(["-v", "-q"])
        .stdout("")
        .stderr_has("cannot be used with")
        .blocked();
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
