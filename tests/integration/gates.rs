//! Each policy gate on real repositories: the row and the exit code.

use crate::harness::{Repo, Sentinel, row};

#[test]
fn clean_main_with_variables_is_safe() {
    let repo = Repo::new();
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .status(0)
        .stdout_has(row("env_allowed", "OK"))
        .stdout_has(row("git_repo", "OK"))
        .stdout_has(row("clean_tree", "OK"))
        .stdout_has(row("branch_allowed", "OK"))
        .stdout_has(row("version_valid", "OK"))
        .stdout_has(row("tag_absent", "OK"))
        .stdout_has(row("version_newer", "OK"))
        .stdout_has(row("required_config", "OK"))
        .stdout_has("| release_sentinel          | OK   | RELEASE_SENTINEL=SAFE |")
        .stderr_empty()
        .run();
}

#[test]
fn modified_file_blocks() {
    let repo = Repo::new();
    repo.write("README", "changed\n");
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .status(1)
        .stdout_has(row("clean_tree", "FAIL"))
        .stdout_has("README (modified)")
        .stdout_has("| release_sentinel          | FAIL | RELEASE_SENTINEL=BLOCKED |")
        .run();
}
