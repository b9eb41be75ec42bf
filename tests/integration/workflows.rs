//! The GitHub workflows, the reusable action, the container definition and
//! the README's manifests: each valid by its published schema (offline,
//! with check-jsonschema's vendored schemas and kubernetes-validate), and
//! each doing what the README says (the project tests, lints and releases
//! itself; the action has its documented interface).

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

// ------------------------------------------------- published schemas

/// Run a validator; it must exist (the install command says how) and pass.
fn validate(tool: &str, args: &[&str], files: &[PathBuf]) {
    let out = std::process::Command::new(tool)
        .args(args)
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{tool} is needed to validate against the published schemas ({e}); \
                 install it: python3 -m pip install check-jsonschema kubernetes-validate"
            )
        });
    assert!(
        out.status.success(),
        "{tool} {args:?} {files:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md")
}

/// The README's block after `<!-- manifest:NAME -->`, written to a file.
fn manifest(name: &str, dir: &Path) -> PathBuf {
    let text = readme();
    let marker = format!("<!-- manifest:{name} -->\n```yaml\n");
    let start = text
        .find(&marker)
        .unwrap_or_else(|| panic!("README lacks {marker}"))
        + marker.len();
    let end = text[start..].find("```").expect("closing fence") + start;
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, &text[start..end]).expect("write the manifest");
    path
}

#[test]
fn every_workflow_and_the_action_pass_githubs_published_schemas() {
    let mut workflows: Vec<PathBuf> = std::fs::read_dir(root().join(".github/workflows"))
        .expect("workflows")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    workflows.sort();
    assert!(workflows.len() >= 3, "{workflows:?}");
    validate(
        "check-jsonschema",
        &["--builtin-schema", "vendor.github-workflows"],
        &workflows,
    );
    validate(
        "check-jsonschema",
        &["--builtin-schema", "vendor.github-actions"],
        &[root().join(".github/actions/release-sentinel/action.yml")],
    );
}

#[test]
fn the_readmes_gitlab_jobs_pass_gitlabs_published_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let toolkit = manifest("gitlab-ci", dir.path());
    // The gate's job in "Use in CI", as a file of its own.
    let text = readme();
    let start = text
        .find("```yaml\nrelease-gate:\n")
        .expect("the GitLab gate job")
        + 8;
    let end = text[start..].find("```").expect("closing fence") + start;
    let gate = dir.path().join("gate.yaml");
    std::fs::write(&gate, &text[start..end]).expect("write");
    validate(
        "check-jsonschema",
        &["--builtin-schema", "vendor.gitlab-ci"],
        &[toolkit, gate],
    );
}

#[test]
fn the_readmes_kubernetes_manifests_pass_kubernetes_schemas() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = vec![
        manifest("k8s-job", dir.path()),
        manifest("k8s-cronjob", dir.path()),
    ];
    validate("kubernetes-validate", &["--strict", "--quiet"], &files);
}

#[test]
fn the_readmes_argo_analysis_runs_verify_once_in_a_valid_job() {
    // kubernetes-validate has no schema for Argo's CRD: the template's own
    // keys are checked here, and the Job it runs against Kubernetes' schema.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = manifest("argo-analysis", dir.path());
    let doc = load(&path);
    assert_eq!(doc["apiVersion"].as_str(), Some("argoproj.io/v1alpha1"));
    assert_eq!(doc["kind"].as_str(), Some("AnalysisTemplate"));
    let metric = &doc["spec"]["metrics"][0];
    assert!(metric["name"].as_str().is_some());
    let spec = &metric["provider"]["job"]["spec"];
    let args: Vec<&str> = spec["template"]["spec"]["containers"][0]["args"]
        .as_vec()
        .expect("container args")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(args.first(), Some(&"verify"), "{args:?}");
    assert!(args.contains(&"--once"), "{args:?}");
    let mut out = String::new();
    let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
    emitter.dump(spec).expect("emit the job spec");
    let body: String = out.lines().skip(1).map(|l| format!("  {l}\n")).collect();
    let job = dir.path().join("job.yaml");
    std::fs::write(
        &job,
        format!("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: verify\nspec:\n{body}"),
    )
    .expect("write");
    validate("kubernetes-validate", &["--strict", "--quiet"], &[job]);
}

#[test]
fn the_container_copies_the_binary_its_build_stage_makes() {
    let text = std::fs::read_to_string(root().join(".github/container/Containerfile"))
        .expect("Containerfile");
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(
        froms.len(),
        3,
        "a build stage, the ci variant and a minimal runtime (last: the default): {froms:?}"
    );
    assert!(froms[0].ends_with(" AS build"), "{froms:?}");
    assert!(froms[1].ends_with(" AS ci"), "{froms:?}");
    assert!(froms[2].contains("distroless/static"), "{froms:?}");
    assert!(text.contains("cargo build --release --locked"));
    assert!(text.contains(
        "COPY --from=build /src/target/release/release-sentinel /usr/local/bin/release-sentinel"
    ));
    assert!(text.contains("ENTRYPOINT [\"/usr/local/bin/release-sentinel\"]"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("USER ") && !l.contains(" 0")),
        "not root"
    );
    // The release workflow builds it.
    let release = load(&root().join(".github/workflows/release.yml"));
    let steps = release["jobs"]["container"]["steps"]
        .as_vec()
        .expect("container job");
    assert!(
        steps
            .iter()
            .any(|s| s["with"]["file"].as_str() == Some(".github/container/Containerfile"))
    );
}
