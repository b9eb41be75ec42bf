//! The GitHub workflows and the reusable action are valid YAML with the
//! keys GitHub requires, and the action has the documented interface.

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    assert_eq!(docs.len(), 1, "{}: one document", path.display());
    docs.remove(0)
}

fn has(doc: &Yaml, key: &str) -> bool {
    !doc[key].is_badvalue() && !matches!(doc[key], Yaml::Null)
}

/// Every step has `uses` or `run` (and, in a composite action, a `run`
/// step has a `shell`).
fn check_steps(file: &str, steps: &Yaml, composite: bool, problems: &mut Vec<String>) {
    let Some(list) = steps.as_vec() else {
        problems.push(format!("{file}: steps is not a list"));
        return;
    };
    if list.is_empty() {
        problems.push(format!("{file}: no steps"));
    }
    for (i, step) in list.iter().enumerate() {
        let (uses, run) = (has(step, "uses"), has(step, "run"));
        if uses == run {
            problems.push(format!("{file}: step {i} needs exactly one of uses or run"));
        }
        if composite && run && !has(step, "shell") {
            problems.push(format!("{file}: composite step {i} runs without a shell"));
        }
    }
}

#[test]
fn workflows_have_the_keys_github_requires() {
    let dir = root().join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("workflows")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    let mut problems = Vec::new();
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let doc = load(path);
        for key in ["name", "on", "jobs"] {
            if !has(&doc, key) {
                problems.push(format!("{file}: no {key}"));
            }
        }
        let Some(jobs) = doc["jobs"].as_hash() else {
            problems.push(format!("{file}: jobs is not a mapping"));
            continue;
        };
        for (name, job) in jobs {
            let name = format!("{file}: job {}", name.as_str().unwrap_or("?"));
            if has(job, "uses") {
                continue; // a reusable workflow call
            }
            if !has(job, "runs-on") {
                problems.push(format!("{name}: no runs-on"));
            }
            check_steps(&name, &job["steps"], false, &mut problems);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_project_tests_lints_and_releases_itself() {
    let ci = load(&root().join(".github/workflows/ci.yml"));
    let text = std::fs::read_to_string(root().join(".github/workflows/ci.yml")).unwrap();
    for needle in [
        "cargo fmt --all -- --check",
        "cargo clippy --all-targets --locked -- -D warnings",
        "cargo test --locked",
        "macos-latest",
        "--dry-run",
    ] {
        assert!(text.contains(needle), "ci.yml lacks {needle}");
    }
    let msrv = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let version = msrv
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("rust-version")
        .trim_matches('"');
    assert!(
        text.contains(&format!("dtolnay/rust-toolchain@{version}")),
        "the MSRV job checks {version}"
    );
    assert!(ci["jobs"]["dry-run"]["steps"].as_vec().is_some());

    let release = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    for needle in [
        "tags: [\"v*\"]",
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "apple-darwin",
        "sha256",
    ] {
        assert!(release.contains(needle), "release.yml lacks {needle}");
    }
}

#[test]
fn the_action_has_its_documented_interface() {
    let path = root().join(".github/actions/release-sentinel/action.yml");
    let doc = load(&path);
    let mut problems = Vec::new();
    for key in ["name", "description", "runs"] {
        if !has(&doc, key) {
            problems.push(format!("action.yml: no {key}"));
        }
    }
    for input in ["env", "version", "config", "dry-run"] {
        if !has(&doc["inputs"][input], "description") {
            problems.push(format!("action.yml: input {input} missing or undescribed"));
        }
    }
    for output in ["verdict", "exit-code"] {
        let o = &doc["outputs"][output];
        if !has(o, "description") || !has(o, "value") {
            problems.push(format!(
                "action.yml: output {output} needs a description and a value"
            ));
        }
    }
    assert_eq!(doc["runs"]["using"].as_str(), Some("composite"));
    check_steps("action.yml", &doc["runs"]["steps"], true, &mut problems);
    // Inputs reach the scripts through the environment, never spliced into
    // them (a version string could otherwise run commands).
    let text = std::fs::read_to_string(&path).unwrap();
    for line in text.lines().filter(|l| l.contains("${{ inputs.")) {
        assert!(
            line.trim_start().starts_with("INPUT_"),
            "an input is used outside env: {line}"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
