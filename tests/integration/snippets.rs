//! The README's CI snippets and manifests run where they are pasted. Each
//! job, step and manifest is read from the README and run the way the
//! system it is for runs it: GitHub's variables and its full-depth,
//! detached checkout of the tag; GitLab's tag-only, detached checkout made
//! by root (its helper), the job's `script:` lines in `sh` as the image's
//! user (65532) with GitLab's variables; the Kubernetes Job's init
//! container and gate as the users and with the environment the manifest
//! gives them; the CronJob's and the Argo analysis' containers as 65532
//! on their volumes. The config the snippets name ("Use in CI") is the
//! repository's, its Prometheus and API a real Prometheus and a server on
//! 127.0.0.1 (Prometheus scrapes fixed node and process series, so the
//! verdict does not depend on this machine). The container definition's
//! bases are pinned by digest.
//!
//! What this does not do: pull or run the images (no registry here); their
//! environment is reproduced instead (a POSIX `sh`, the user, the
//! variables, the checkout's owner and modes).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use yaml_rust2::{Yaml, YamlLoader};

use crate::harness::{
    BIN, Exchange, Prometheus, Reaper, Repo, SAFE, Sentinel, Server, bearer_proxy_with_limits,
    is_root, json_of,
};
use crate::readme::{block_after, readme};

/// The Prometheus token the snippets pass (not a real secret).
const PROM_TOKEN: &str = "prom-tok-not-a-real-secret-1111";
/// The deploy token the snippets pass (not a real secret).
const DEPLOY_TOKEN: &str = "deploy-tok-not-a-real-secret-2222";
/// The user the image runs as (`USER` in the Containerfile).
const NONROOT: u32 = 65532;
/// The hosts the README's config names, and the repository the Job clones.
const README_PROMETHEUS: &str = "https://prometheus.internal:9090";
const README_API: &str = "https://payments.internal/health";
const README_REMOTE: &str = "https://git.internal/payments.git";
/// How long the fixture's servers live: long enough for every job of a
/// test, bounded.
const FIXTURE_LIFE: Duration = Duration::from_secs(300);

// ------------------------------------------------------------ README parts

fn yaml(text: &str) -> Yaml {
    let mut docs =
        YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"));
    assert_eq!(docs.len(), 1, "one document:\n{text}");
    docs.remove(0)
}

/// The block after `<!-- manifest:NAME -->`.
fn manifest(name: &str) -> Yaml {
    yaml(&block_after(
        &readme(),
        &format!("<!-- manifest:{name} -->"),
        "yaml",
    ))
}

/// The repository config the CI snippets name.
fn ci_config_block() -> String {
    block_after(
        &readme(),
        "The repository's `release-sentinel.toml` for the snippets",
        "toml",
    )
}

/// The GitLab gate job of "Use in CI".
fn gitlab_gate_job() -> Yaml {
    let text = readme();
    let at = text
        .find("```yaml\nrelease-gate:\n")
        .expect("the GitLab gate job");
    yaml(&block_after(&text[at..], "", "yaml"))
}

fn strings(list: &Yaml) -> Vec<String> {
    list.as_vec()
        .unwrap_or_else(|| panic!("not a list: {list:?}"))
        .iter()
        .map(|y| y.as_str().expect("a string").to_string())
        .collect()
}

// ------------------------------------------------------------ the fleet

/// What the fixture's exporter says: one host with 40 % of `/` used, 25 %
/// of its memory in use and two nginx processes.
const METRICS: &str = "\
node_filesystem_avail_bytes{mountpoint=\"/\"} 6e10
node_filesystem_free_bytes{mountpoint=\"/\"} 6e10
node_filesystem_size_bytes{mountpoint=\"/\"} 1e11
node_memory_MemAvailable_bytes 6e9
node_memory_MemTotal_bytes 8e9
namedprocess_namegroup_num_procs{groupname=\"nginx\"} 2
";

/// The hosts of the README's CI config, on 127.0.0.1: a Prometheus behind
/// a proxy that wants `Bearer PROM_TOKEN`, scraping an exporter as the
/// `node` and `process` jobs of `env="prod"`, and the payments API, which
/// answers 200 to `Bearer DEPLOY_TOKEN` only.
struct Fleet {
    _exporter: Server,
    _prom: Prometheus,
    proxy: Server,
    api: Server,
}

impl Fleet {
    fn start() -> Self {
        let exporter = Server::with_limits(FIXTURE_LIFE, 2000, |x: &mut Exchange| {
            x.reply(
                "200 OK",
                &["Content-Type: text/plain; version=0.0.4"],
                METRICS,
            );
        });
        let target = format!("127.0.0.1:{}", exporter.port());
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
        );
        for job in ["node", "process"] {
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: [\"{target}\"]\n        labels: {{instance: \"web-1\", env: prod}}\n"
            ));
        }
        let prom = Prometheus::start(&config);
        let scraped = Duration::from_secs(30);
        prom.wait_for_value("count(up{env=\"prod\"} == 1)", 2.0, scraped);
        prom.wait_for_value(
            "count(namedprocess_namegroup_num_procs{job=\"process\"})",
            1.0,
            scraped,
        );
        let proxy = bearer_proxy_with_limits(prom.url(""), PROM_TOKEN, FIXTURE_LIFE, 500);
        let api = Server::with_limits(FIXTURE_LIFE, 500, |x: &mut Exchange| {
            if x.request.header("authorization") == Some(format!("Bearer {DEPLOY_TOKEN}")) {
                x.ok();
            } else {
                x.reply("401 Unauthorized", &[], "no token");
            }
        });
        Self {
            _exporter: exporter,
            _prom: prom,
            proxy,
            api,
        }
    }

    /// The README's CI config, its hosts these.
    fn config(&self) -> String {
        let block = ci_config_block();
        for host in [README_PROMETHEUS, README_API] {
            assert!(block.contains(host), "the CI config lacks {host}");
        }
        block
            .replace(README_PROMETHEUS, &self.proxy.url(""))
            .replace(README_API, &self.api.url("/health"))
    }
}

/// The value a snippet's `${{ secrets.NAME }}` or a Kubernetes Secret
/// `NAME` holds here.
fn secret(name: &str) -> &'static str {
    match name {
        "PROM_TOKEN" | "prometheus" => PROM_TOKEN,
        "DEPLOY_TOKEN" | "deploy" => DEPLOY_TOKEN,
        other => panic!("a secret the test does not know: {other}"),
    }
}

/// The project: the README's CI config, a `[bundle]` (the toolkit's
/// example) and what it lists, committed on `main`; v1.0.0, then v1.1.0 at
/// `main`'s tip (the release the tag pipelines run for); a feature branch
/// beside it.
fn upstream(fleet: &Fleet) -> Repo {
    let up = Repo::new();
    up.write("VERSION", "1.1.0\n");
    up.write("deploy/app.yml", "replicas: 3\n");
    let text = readme();
    let at = text
        .find("```toml\n[bundle]\n")
        .expect("the [bundle] example");
    let bundle = block_after(&text[at..], "", "toml");
    up.config(&format!("{}\n{bundle}", fleet.config()));
    up.tag("v1.0.0");
    up.git(["commit", "-q", "--allow-empty", "-m", "two"]);
    up.tag("v1.1.0");
    up.git(["checkout", "-q", "-b", "feature"]);
    up.git(["commit", "-q", "--allow-empty", "-m", "feature work"]);
    up.git(["checkout", "-q", "main"]);
    up
}

/// Git as a CI system's own machinery runs it (not the snippet): the
/// harness's environment, any owner accepted.
fn machinery_git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "safe.directory=*", "-c", "protocol.file.allow=always"])
        .args(["-c", "advice.detachedHead=false"])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(crate::harness::base_env())
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The project's remote, served over the network by `git daemon` on
/// 127.0.0.1 (as a forge serves it: whoever fetches, the remote's files
/// stay its owner's); stopped with the returned [`Reaper`].
fn serve(up: &Repo) -> (Reaper, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = up.scratch();
    let mut reaper = Reaper::new(&base);
    reaper.spawn(
        std::process::Command::new("git")
            .arg("daemon")
            .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(&base)
            .env_clear()
            .envs(crate::harness::base_env()),
    );
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < until,
            "git daemon did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (reaper, format!("git://127.0.0.1:{port}/repo"))
}

/// No file under `dir` (but git's own) holds either token.
fn no_token_written(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                let text = String::from_utf8_lossy(&bytes);
                for token in [PROM_TOKEN, DEPLOY_TOKEN] {
                    assert!(!text.contains(token), "{} holds a token", path.display());
                }
            }
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn chown_r(path: &Path, uid: u32) {
    let status = std::process::Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{uid}"))
        .arg(path)
        .status()
        .expect("run chown");
    assert!(status.success(), "chown {}", path.display());
}

/// `program` run as `uid` (through `setpriv`, as root), or as this user
/// when `uid` is this process's.
fn as_user(uid: u32, program: &Path) -> Sentinel {
    if uid == 0 || !is_root() {
        return Sentinel::of(program);
    }
    Sentinel::of(Path::new("/usr/bin/setpriv")).args([
        format!("--reuid={uid}"),
        format!("--regid={uid}"),
        "--clear-groups".to_string(),
        "--".to_string(),
        program.display().to_string(),
    ])
}

/// A PATH with the binary first, then the system's.
fn path_with_binary() -> String {
    let dir = Path::new(BIN).parent().expect("binary dir");
    format!("{}:/usr/local/bin:/usr/bin:/bin", dir.display())
}

fn needs_root() {
    assert!(
        is_root(),
        "this test runs the snippet as the image's user (65532), which needs root: \
         run it as root (`cargo test --locked -- --ignored`, as .ci/test does)"
    );
}

/// A folder of the "machine" (root's, 0755), for checkouts and homes.
fn machine() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    chmod(dir.path(), 0o755);
    dir
}

/// A home for `uid`: a folder it owns.
fn home_of(machine: &Path, name: &str, uid: u32) -> PathBuf {
    let home = machine.join(name);
    std::fs::create_dir_all(&home).expect("mkdir home");
    chown_r(&home, uid);
    home
}

// ------------------------------------------------------------ the container

#[test]
fn every_base_of_the_container_is_pinned_by_digest() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/container/Containerfile");
    let text = std::fs::read_to_string(&path).expect("Containerfile");
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(!froms.is_empty());
    for from in froms {
        let image = from
            .split_whitespace()
            .skip(1)
            .find(|w| !w.starts_with("--"))
            .expect("an image");
        let (named, digest) = image
            .split_once("@sha256:")
            .unwrap_or_else(|| panic!("not pinned by digest: {from}"));
        assert!(
            digest.len() == 64
                && digest
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "not a 64-hex digest: {from}"
        );
        // The tag stays beside the digest, for the reader.
        let last = named.rsplit('/').next().expect("name");
        assert!(last.contains(':'), "no tag beside the digest: {from}");
    }
}

// ------------------------------------------------------------ GitHub

/// The two GitHub snippets of "Use in CI": the binary's steps, run in a
/// checkout shaped as `actions/checkout` with `fetch-depth: 0` leaves it
/// for a pushed tag (every branch and tag, HEAD detached at the tag, no
/// local branch), with GitHub's variables and only the environment the
/// step sets, against the config the snippets name. The action's snippet
/// passes the same environment.
#[test]
fn the_github_binary_snippet_is_safe_in_a_tag_build_with_the_config_it_names() {
    let text = readme();
    let at = text
        .find("**GitHub Actions, with the binary**")
        .expect("the GitHub binary snippet");
    let steps = yaml(&block_after(&text[at..], "", "yaml"));
    let steps = steps.as_vec().expect("a list of steps");
    let checkout = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/checkout@"))
        })
        .expect("a checkout step");
    assert_eq!(checkout["with"]["fetch-depth"].as_i64(), Some(0));
    let gate = steps
        .iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("release-sentinel "))
        })
        .expect("the gate step");
    let run = gate["run"].as_str().expect("run");
    let env: Vec<(String, String)> = gate["env"]
        .as_hash()
        .expect("the step's env")
        .iter()
        .map(|(k, v)| {
            let name = v
                .as_str()
                .and_then(|v| v.strip_prefix("${{ secrets."))
                .and_then(|v| v.strip_suffix(" }}"))
                .unwrap_or_else(|| panic!("not a secret: {v:?}"));
            (
                k.as_str().expect("name").to_string(),
                secret(name).to_string(),
            )
        })
        .collect();

    // The action's snippet sets the same variables.
    let at = text
        .find("**GitHub Actions, with the reusable action**")
        .expect("the action snippet");
    let job = yaml(&block_after(&text[at..], "", "yaml"));
    let action_step = job["jobs"]["deploy"]["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .find(|s| s["id"].as_str() == Some("gate"))
        .expect("the gate step")
        .clone();
    let mut names: Vec<&str> = action_step["env"]
        .as_hash()
        .expect("env")
        .keys()
        .filter_map(Yaml::as_str)
        .collect();
    let mut ours: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    ours.sort_unstable();
    assert_eq!(names, ours, "the two GitHub snippets pass other variables");

    let fleet = Fleet::start();
    let up = upstream(&fleet);
    let checkout = Repo::clone_of(&up, &[]);
    checkout.git(["checkout", "-q", "--detach", "v1.1.0"]);
    checkout.git(["branch", "-q", "-D", "main"]);
    let sha = checkout.head();
    let mut s = Sentinel::of(Path::new("/bin/bash"))
        .dir(&checkout.path)
        .env("PATH", path_with_binary())
        .env("CI", "true")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_REF", "refs/tags/v1.1.0")
        .env("GITHUB_REF_NAME", "v1.1.0")
        .env("GITHUB_REF_TYPE", "tag")
        .env("GITHUB_SHA", &sha)
        .env("GITHUB_WORKSPACE", &checkout.path);
    for (k, v) in &env {
        s = s.env(k, v);
    }
    s.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", run])
        .stdout_has(SAFE)
        .nowhere(PROM_TOKEN)
        .nowhere(DEPLOY_TOKEN)
        .safe();
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(checkout.path.join("gate.json")).expect("gate.json"),
    )
    .expect("JSON");
    assert_eq!(report["verdict"], "SAFE", "{report:#}");
    no_token_written(&checkout.path);
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    for id in ["disk:/", "memory", "process:nginx", "api:payments"] {
        assert!(ids.contains(&id), "{id} did not run: {ids:?}");
    }
}

// ------------------------------------------------------------ GitLab

/// One GitLab job of a tag pipeline for `tag`, run as GitLab's Docker
/// executor runs it: the helper (root) fetches only the tag (at
/// `GIT_DEPTH`, default 20, with `GIT_FETCH_EXTRA_FLAGS`) into
/// `/builds/<project>`, checks its commit out detached and leaves every
/// file writable by all (umask 0000); `artifacts` of earlier jobs are put
/// back; then the `script:` lines run in `sh -e` as the image's user,
/// with GitLab's variables, the job's and the masked tokens. Returns the
/// project folder and the run's expectations, to finish.
fn gitlab_job(
    job: &Yaml,
    remote: &str,
    tag: &str,
    builds: &Path,
    artifacts: &[PathBuf],
) -> (PathBuf, Sentinel) {
    let project = builds.join("payments");
    std::fs::create_dir(&project).expect("mkdir project");
    let vars = &job["variables"];
    let depth = vars["GIT_DEPTH"].as_str().unwrap_or("20");
    let extra = vars["GIT_FETCH_EXTRA_FLAGS"]
        .as_str()
        .unwrap_or("--prune --quiet");
    machinery_git(&project, &["init", "-q"]);
    machinery_git(&project, &["remote", "add", "origin", remote]);
    let refspec = format!("+refs/tags/{tag}:refs/tags/{tag}");
    let mut fetch = vec!["fetch", "origin", refspec.as_str()];
    let depth_flag = format!("--depth={depth}");
    if depth != "0" {
        fetch.push(&depth_flag);
    }
    fetch.extend(extra.split_whitespace());
    machinery_git(&project, &fetch);
    let sha = machinery_git(&project, &["rev-parse", &format!("{tag}^{{commit}}")])
        .trim()
        .to_string();
    machinery_git(&project, &["checkout", "-q", "-f", &sha]);
    for from in artifacts {
        let rel = from
            .strip_prefix(
                from.ancestors()
                    .find(|a| a.ends_with("payments"))
                    .expect("from a project"),
            )
            .expect("relative");
        let to = project.join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(from, &to).expect("copy an artifact");
    }
    let status = std::process::Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(&project)
        .status()
        .expect("chmod");
    assert!(status.success());

    let script: Vec<String> = strings(&job["script"]);
    let home = home_of(builds, "home", NONROOT);
    let mut s = as_user(NONROOT, Path::new("/bin/sh"))
        .dir(&project)
        .env("HOME", &home)
        .env("PATH", path_with_binary())
        .env("CI", "true")
        .env("GITLAB_CI", "true")
        .env("CI_COMMIT_TAG", tag)
        .env("CI_COMMIT_REF_NAME", tag)
        .env("CI_COMMIT_SHA", &sha)
        .env("CI_PIPELINE_SOURCE", "push")
        .env("CI_PROJECT_DIR", &project)
        .env("CI_PROJECT_NAME", "payments")
        .env("PROM_TOKEN", PROM_TOKEN)
        .env("RS_DEPLOY_TOKEN", DEPLOY_TOKEN);
    if let Some(vars) = vars.as_hash() {
        for (k, v) in vars {
            s = s.env(
                k.as_str().expect("name"),
                v.as_str().expect("a string value"),
            );
        }
    }
    let s = s
        .args(["-ec", &script.join("\n")])
        .nowhere(PROM_TOKEN)
        .nowhere(DEPLOY_TOKEN);
    (project, s)
}

/// The image a GitLab job names: the ci variant, its entrypoint emptied
/// (the binary's would swallow the job's shell).
fn assert_runs_a_shell(name: &str, job: &Yaml) {
    let image = &job["image"];
    let image_name = image["name"]
        .as_str()
        .unwrap_or_else(|| panic!("{name}: image.name"));
    assert!(
        image_name.starts_with("ghcr.io/OWNER/release-sentinel:") && image_name.ends_with("-ci"),
        "{name}: {image_name} is not the image with a shell"
    );
    assert_eq!(strings(&image["entrypoint"]), [""], "{name}: entrypoint");
}

/// Every GitLab job of the README in a tag pipeline: the gate job of "Use
/// in CI", then make-ready and the bundle (with make-ready's artifacts),
/// each in its own tag-only, detached checkout made by root, its script
/// run in `sh` as 65532.
#[test]
#[ignore = "needs root to run the jobs as the image's user (65532); run as root with --ignored (.ci/test does)"]
fn every_gitlab_job_passes_in_a_tag_pipeline_as_the_images_user() {
    needs_root();
    let fleet = Fleet::start();
    let up = upstream(&fleet);
    let (_daemon, remote) = serve(&up);
    let tag = "v1.1.0";

    let gate = gitlab_gate_job();
    let gate = &gate["release-gate"];
    assert_runs_a_shell("release-gate", gate);
    let builds = machine();
    let (project, run) = gitlab_job(gate, &remote, tag, builds.path(), &[]);
    run.stdout_has(SAFE).safe();
    no_token_written(&project);
    let xml = std::fs::read_to_string(project.join("gate.xml")).expect("gate.xml");
    assert!(xml.contains("<testsuite name=\"policy\""), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");

    let pipeline = manifest("gitlab-ci");
    let stages = strings(&pipeline["stages"]);
    // What the jobs leave as artifacts, kept between stages.
    let store = machine();
    let mut artifacts: Vec<PathBuf> = Vec::new();
    for stage in &stages {
        for (name, job) in pipeline.as_hash().expect("jobs") {
            let name = name.as_str().expect("job name");
            if job["stage"].as_str() != Some(stage.as_str()) {
                continue;
            }
            assert_runs_a_shell(name, job);
            let builds = machine();
            let (project, run) = gitlab_job(job, &remote, tag, builds.path(), &artifacts);
            let out = run.safe();
            no_token_written(&project);
            let stdout = String::from_utf8_lossy(&out.stdout);
            // Its artifacts, for the later stages.
            for path in job["artifacts"]["paths"].as_vec().expect("artifact paths") {
                let p = project.join(path.as_str().expect("a path"));
                assert!(p.exists(), "{name} left no {}:\n{stdout}", p.display());
                if p.is_file() {
                    let kept = store
                        .path()
                        .join("payments")
                        .join(path.as_str().expect("path"));
                    std::fs::create_dir_all(kept.parent().expect("parent")).expect("mkdir");
                    std::fs::copy(&p, &kept).expect("keep");
                    artifacts.push(kept);
                }
            }
            if name == "make-ready" {
                assert!(stdout.contains("MAKE_READY=OK"), "{stdout}");
            }
        }
    }
    assert!(
        artifacts.iter().any(|a| a.ends_with("readiness.json")),
        "{artifacts:?}"
    );
}

// ------------------------------------------------------------ Kubernetes

/// The README's Job, run as the cluster would: its emptyDir (mode 0777),
/// the init container's command as its user (the image's, root, unless
/// the manifest says otherwise) cloning the project, then the gate's
/// arguments as its user (the image's 65532 unless the manifest says
/// otherwise) with the Job's environment (its Secrets holding the test's
/// tokens), in the image's folder. The config is the repository's, the one
/// the snippets name.
#[test]
#[ignore = "needs root to run the Job's containers as their users; run as root with --ignored (.ci/test does)"]
fn the_kubernetes_job_clones_and_gates_as_its_users() {
    needs_root();
    let job = manifest("k8s-job");
    let pod = &job["spec"]["template"]["spec"];
    let user = |c: &Yaml, image: u32| -> u32 {
        c["securityContext"]["runAsUser"]
            .as_i64()
            .or_else(|| pod["securityContext"]["runAsUser"].as_i64())
            .map_or(image, |u| u32::try_from(u).expect("a uid"))
    };
    let env = |c: &Yaml| -> Vec<(String, String)> {
        c["env"]
            .as_vec()
            .map(|list| {
                list.iter()
                    .map(|e| {
                        let name = e["name"].as_str().expect("name").to_string();
                        let value = match e["value"].as_str() {
                            Some(v) => v.to_string(),
                            None => secret(
                                e["valueFrom"]["secretKeyRef"]["name"]
                                    .as_str()
                                    .expect("a value or a Secret"),
                            )
                            .to_string(),
                        };
                        (name, value)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let init = &pod["initContainers"][0];
    let gate = &pod["containers"][0];
    // A third party's image, which reads the repository, is pinned.
    let image = init["image"].as_str().expect("image");
    assert!(
        image.starts_with("alpine/git:") && image.contains("@sha256:"),
        "{image}"
    );
    assert_eq!(
        init["volumeMounts"][0]["mountPath"].as_str(),
        gate["volumeMounts"][0]["mountPath"].as_str()
    );
    let mount = gate["volumeMounts"][0]["mountPath"]
        .as_str()
        .expect("mount");

    let fleet = Fleet::start();
    let up = upstream(&fleet);
    let (_daemon, remote) = serve(&up);
    let node = machine();
    let work = node.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    chmod(&work, 0o777);
    let here = |arg: &str| -> String {
        arg.replace(README_REMOTE, &remote)
            .replacen(mount, &work.display().to_string(), 1)
    };

    // The init container: alpine/git, whose entrypoint is git, as root
    // unless the manifest says otherwise.
    let init_user = user(init, 0);
    let mut clone = as_user(init_user, Path::new("/usr/bin/git"))
        .dir(&work)
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    for (k, v) in env(init) {
        clone = clone.env(k, v);
    }
    clone
        .args(["-c", "protocol.file.allow=always"])
        .args(strings(&init["args"]).iter().map(|a| here(a)))
        .safe();

    // The gate: distroless as 65532, HOME its empty home.
    let gate_user = user(gate, NONROOT);
    let home = home_of(node.path(), "home-nonroot", gate_user);
    let mut run = as_user(gate_user, Path::new(BIN))
        .dir(&work)
        .env("HOME", &home)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("KUBERNETES_SERVICE_HOST", "10.96.0.1")
        .env("KUBERNETES_SERVICE_PORT", "443");
    for (k, v) in env(gate) {
        run = run.env(k, v);
    }
    let out = run
        .args(strings(&gate["args"]).iter().map(|a| here(a)))
        .nowhere(PROM_TOKEN)
        .nowhere(DEPLOY_TOKEN)
        .safe();
    let report = json_of(&out);
    assert_eq!(report["verdict"], "SAFE", "{report:#}");
}

/// A container of a README manifest, run as a node would run it: its
/// arguments and `workingDir` with every mount path under `root` (the
/// node's view of the volumes; the image's `WORKDIR`, `/work`, when the
/// manifest names none), as the image's user 65532 with its environment.
fn pod_container(container: &Yaml, root: &Path) -> Sentinel {
    let mounts: Vec<String> = container["volumeMounts"]
        .as_vec()
        .map(|v| {
            v.iter()
                .map(|m| m["mountPath"].as_str().expect("mountPath").to_string())
                .collect()
        })
        .unwrap_or_default();
    let here = |arg: &str| -> String {
        let mounted = mounts
            .iter()
            .any(|m| arg == m || arg.starts_with(&format!("{m}/")));
        if mounted {
            format!("{}{arg}", root.display())
        } else {
            arg.to_string()
        }
    };
    let dir = root.join(
        container["workingDir"]
            .as_str()
            .unwrap_or("/work")
            .trim_start_matches('/'),
    );
    std::fs::create_dir_all(&dir).expect("mkdir workingDir");
    let home = home_of(root, "home-nonroot", NONROOT);
    as_user(NONROOT, Path::new(BIN))
        .dir(&dir)
        .env("HOME", home)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("KUBERNETES_SERVICE_HOST", "10.96.0.1")
        .args(strings(&container["args"]).iter().map(|a| here(a)))
}

/// The README's CronJob: rotation, then freshness, on the volume the
/// scheduled jobs write to (owned by 65532, as they run), with the
/// ConfigMap's `tasks.json` from the README; each container as 65532.
#[test]
#[ignore = "needs root to run the containers as the image's user (65532); run as root with --ignored (.ci/test does)"]
fn the_cronjob_rotates_and_checks_freshness_as_its_user() {
    needs_root();
    let cron = manifest("k8s-cronjob");
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let containers = pod["containers"].as_vec().expect("containers");
    let node = machine();
    let root = node.path();
    // The volume: tonight's build, and one from ten days ago.
    let artifacts = root.join("artifacts");
    std::fs::create_dir(&artifacts).expect("mkdir");
    std::fs::write(artifacts.join("nightly.tar.gz"), "tonight\n").expect("write");
    let old = artifacts.join("nightly-old.tar.gz");
    std::fs::write(&old, "ten days ago\n").expect("write");
    let ten_days = std::time::SystemTime::now() - Duration::from_secs(10 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .and_then(|f| f.set_modified(ten_days))
        .expect("age the old build");
    chown_r(&artifacts, NONROOT);
    // The ConfigMap, as the kubelet mounts it: root's, read-only to all.
    let config = root.join("config");
    std::fs::create_dir(&config).expect("mkdir");
    std::fs::write(
        config.join("tasks.json"),
        block_after(&readme(), "<!-- cronjob-tasks -->", "json"),
    )
    .expect("write tasks.json");

    for c in containers {
        let name = c["name"].as_str().expect("name");
        let run = pod_container(c, root);
        match name {
            "rotate" => {
                run.stdout_has("ROTATE=OK").safe();
                // Kept by --keep 100 (two files on the volume).
                assert!(old.exists());
            }
            "freshness" => {
                run.stdout_has("| task:nightly-build ")
                    .stdout_has("FRESHNESS=OK")
                    .safe();
            }
            other => panic!("a container the test does not know: {other}"),
        }
    }
}

/// The README's Argo analysis: its Job's container, `{{args.version}}` as
/// Argo fills it, with the README's ConfigMap at `/config`, as 65532 in
/// the image's folder (no repository there): exit 0 while the service
/// answers, 2 (the analysis fails) once it does not.
#[test]
#[ignore = "needs root to run the container as the image's user (65532); run as root with --ignored (.ci/test does)"]
fn the_argo_analysis_runs_verify_once_as_its_user() {
    needs_root();
    let analysis = manifest("argo-analysis");
    let job = &analysis["spec"]["metrics"][0]["provider"]["job"]["spec"];
    let container = &job["template"]["spec"]["containers"][0];
    let text = format!("{:?}", strings(&container["args"]));
    assert!(text.contains("{{args.version}}"), "{text}");
    let mut args = container.clone();
    if let Yaml::Hash(h) = &mut args {
        let filled: Vec<Yaml> = strings(&container["args"])
            .iter()
            .map(|a| Yaml::String(a.replace("{{args.version}}", "v1.2.3")))
            .collect();
        h.insert(Yaml::String("args".into()), Yaml::Array(filled));
    }
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let answering = std::sync::Arc::clone(&up);
    let service = Server::with_limits(FIXTURE_LIFE, 100, move |x: &mut Exchange| {
        if answering.load(std::sync::atomic::Ordering::SeqCst) {
            x.ok();
        } else {
            x.reply("503 Service Unavailable", &[], "down");
        }
    });
    let node = machine();
    let config = node.path().join("config");
    std::fs::create_dir(&config).expect("mkdir");
    let block = block_after(&readme(), "<!-- argo-config -->", "toml");
    assert!(block.contains("https://prod.internal/health"), "{block}");
    std::fs::write(
        config.join("release-sentinel.toml"),
        block.replace("https://prod.internal/health", &service.url("/health")),
    )
    .expect("write the ConfigMap");
    pod_container(&args, node.path())
        .stdout_has("VERIFY=HEALTHY")
        .safe();
    up.store(false, std::sync::atomic::Ordering::SeqCst);
    pod_container(&args, node.path())
        .stdout_has("VERIFY=ROLLBACK")
        .critical();
}
