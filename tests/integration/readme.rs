//! The README tells the truth: its configuration example parses, the
//! embedded default it shows is the real one, and the error it shows is
//! what the binary prints.

use std::path::PathBuf;

use release_sentinel::config::{self, EMBEDDED_DEFAULT, Source};
use release_sentinel::envsnap::EnvSnapshot;
use release_sentinel::secrets::Scrubber;

use crate::harness::{DEPLOY_TOKEN, Reaper, Repo, SAFE, Sentinel, Server, health_url, row};
use crate::tools::{copy_executable, sleep_binary};

pub(crate) fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

/// The first fenced block of `lang` after `marker`.
pub(crate) fn block_after(text: &str, marker: &str, lang: &str) -> String {
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("README lacks {marker}"));
    let fence = format!("```{lang}\n");
    let open = text[start..].find(&fence).expect("fence") + start + fence.len();
    let close = text[open..].find("```").expect("closing fence") + open;
    text[open..close].to_string()
}

#[test]
fn the_full_config_example_parses() {
    let example = block_after(&readme(), "<!-- config-example -->", "toml");
    let env = EnvSnapshot::from_pairs([("HOTFIX_BRANCH", "hotfix/1")]);
    let parsed = config::parse(
        &example,
        Source::File(PathBuf::from("README example")),
        &env,
        &Scrubber::new(),
    );
    let config = match parsed {
        Ok(c) => c,
        Err(e) => panic!("the README's example does not parse: {e}"),
    };
    assert!(config.policy_for("prod").branch_allowed("hotfix/1"));
    assert!(config.policy_for("dev").allow_dirty);
    assert!(!config.policy_for("prod").allow_dirty);
}

#[test]
fn the_example_works_as_a_file_too() {
    // Its health checks name hosts that do not exist here, so the run is
    // stopped at policy (an environment it does not allow): what this
    // proves is that the binary accepts the file, not a config error.
    let repo = Repo::with_config(&block_after(&readme(), "<!-- config-example -->", "toml"));
    Sentinel::in_repo(&repo)
        .env("HOTFIX_BRANCH", "hotfix/1")
        .gate("qa", "v1.0.0")
        .stdout_has("| env_allowed               | FAIL |")
        .stdout_has("| api:ledger                | SKIP |")
        .stderr_empty()
        .blocked();
}

#[test]
fn the_embedded_default_shown_is_the_real_one() {
    let shown = block_after(
        &readme(),
        "checks the root filesystem, memory, a process and an API:",
        "toml",
    );
    let real: Vec<&str> = EMBEDDED_DEFAULT
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    let shown: Vec<&str> = shown.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(shown, real);
}

#[test]
fn the_validation_example_is_what_the_binary_prints() {
    let text = readme();
    let start = text
        .find("release-sentinel: error: invalid config")
        .expect("example");
    let end = text[start..].find("```").expect("fence") + start;
    let expected = &text[start..end];
    let repo = Repo::with_config(
        "environments = [\"dev\", \"stage\", \"prod\", \"prod\"]\n[policy]\nbranches = [\"[unclosed\"]\n[policy.env.production]\nallow_dirty = true\n",
    );
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stdout("")
        .blocked();
    // The README's repository is at /src/service.
    let stderr = String::from_utf8_lossy(&out.stderr)
        .replace(&repo.path.display().to_string(), "/src/service");
    assert_eq!(stderr, expected);
}

#[test]
fn the_first_run_shown_is_what_a_new_user_sees() {
    let shown = block_after(&readme(), "<!-- first-run -->", "");
    let repo = Repo::new();
    let out = Sentinel::new()
        .dir(&repo.path)
        .gate("prod", "v1.2.3")
        .blocked();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.ends_with(&shown),
        "the README's first run is not the end of the real one:\n{stdout}"
    );
}

/// Every config block of the section (the approvals file's aside),
/// together one config the binary accepts.
#[test]
fn the_evidence_sections_config_blocks_parse() {
    let text = readme();
    let start = text
        .find("## Before the deploy: the evidence")
        .expect("README lacks the evidence section");
    let end = text[start + 3..]
        .find("\n## ")
        .map_or(text.len(), |e| e + start + 3);
    let section = &text[start..end];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```toml\n") {
        let body = &rest[open + 8..];
        let close = body.find("```").expect("closing fence");
        blocks.push(body[..close].to_string());
        rest = &body[close..];
    }
    let configs: Vec<&String> = blocks
        .iter()
        .filter(|b| !b.contains("[[approvals]]"))
        .collect();
    assert_eq!(configs.len(), 3, "the predeploy, parity and golive blocks");
    let joined = configs
        .iter()
        .map(|b| b.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    if let Err(e) = config::parse(
        &joined,
        Source::File(PathBuf::from("README evidence section")),
        &EnvSnapshot::default(),
        &Scrubber::new(),
    ) {
        panic!("the README's evidence config does not parse: {e}");
    }
    let approvals = blocks
        .iter()
        .find(|b| b.contains("[[approvals]]"))
        .expect("the approvals example");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("approvals.toml");
    std::fs::write(&path, approvals).unwrap();
    let file = release_sentinel::approvals::read(&path).expect("the approvals example reads");
    let now = humantime::parse_rfc3339("2026-11-30T00:00:00Z").unwrap();
    let intake = release_sentinel::approvals::check(&file, &["quality-audit".into()], now);
    assert!(intake.passed(), "{:?}", intake.problems);
}

/// The golive dry run shown is what the binary prints with the section's
/// golive config.
#[test]
fn the_golive_dry_run_shown_is_what_the_binary_prints() {
    let text = readme();
    let start = text
        .find("**The go-live checklist.**")
        .expect("README lacks the go-live checklist");
    let section = &text[start..];
    // The first bare block after the two commands' block.
    let commands = section.find("```\n").expect("the commands' block") + 4;
    let after = section[commands..].find("```\n").expect("its end") + commands + 4;
    let shown = block_after(&section[after..], "", "");
    let config = block_after(section, "Without `--dry-run` every item runs", "toml");
    let repo = Repo::with_config(&config);
    Sentinel::in_repo(&repo)
        .args([
            "golive",
            "--env",
            "prod",
            "--version",
            "v1.2.3",
            "--dry-run",
        ])
        .stdout(shown)
        .safe();
}

/// The Layout section matches the tree: every path it names exists, every
/// entry of `src/` and every command file is named.
#[test]
fn the_layout_names_every_module_and_nothing_else() {
    let text = readme();
    let start = text
        .find("## Layout\n")
        .expect("README has a Layout section");
    let section = &text[start..];
    let section = &section[..section.find("\n## Development").expect("Layout ends")];
    let open = section.find("```\n").expect("the Layout block") + 4;
    let block = &section[open..open + section[open..].find("\n```").expect("block ends")];
    let named: Vec<&str> = block
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|t| t.starts_with("src/"))
        .collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    for path in &named {
        if !root.join(path).exists() {
            problems.push(format!("{path} is named but does not exist"));
        }
    }
    let entries = |dir: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root.join(dir))
            .expect("read src")
            .map(|e| {
                let e = e.expect("entry");
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir() {
                    format!("{name}/")
                } else {
                    name
                }
            })
            .collect();
        names.sort();
        names
    };
    for entry in entries("src") {
        let path = format!("src/{entry}");
        if !named.iter().any(|n| n.starts_with(&path)) {
            problems.push(format!("{path} is not in the Layout"));
        }
    }
    for file in entries("src/commands") {
        if !block.split_whitespace().any(|t| t == file) {
            problems.push(format!("src/commands/{file} is not in the Layout"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A message's shape: every number a `#` and every binary unit `B`, so
/// that what this machine measures compares with what the README shows.
fn shape(message: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in message.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    ["KiB", "MiB", "GiB", "TiB", "PiB"]
        .iter()
        .fold(out, |text, unit| text.replace(unit, "B"))
}

/// The Output section's table is a real run: the embedded default with
/// its three variables set (two `nginx` processes running, the API
/// answering 200), in a repository on `main` with 14 tags, v1.2.2 the
/// highest. The policy rows are compared byte for byte (the repository's
/// path and commit put in the README's); the health rows, whose figures
/// are this machine's, number for number in shape, with the host named
/// as in the README.
#[test]
fn the_output_sample_is_what_the_binary_prints() {
    let shown = block_after(&readme(), "<!-- output-sample -->", "");
    let repo = Repo::new();
    for minor in 0..2 {
        for patch in 0..6 {
            repo.git(["tag", &format!("v1.{minor}.{patch}")]);
        }
    }
    for patch in 0..3 {
        repo.git(["tag", &format!("v1.2.{patch}")]);
    }
    assert_eq!(repo.git(["tag"]).lines().count(), 15);
    repo.git(["tag", "-d", "v1.0.5"]);

    // Two processes called nginx (copies of sleep), stopped with the test.
    let dir = tempfile::tempdir().expect("temp dir");
    let sleep = ["/bin/sleep", "/usr/bin/sleep"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .expect("sleep");
    let nginx = dir.path().join("nginx");
    std::fs::copy(sleep, &nginx).expect("copy sleep");
    let mut reapers = Vec::new();
    for _ in 0..2 {
        let mut reaper = Reaper::new(dir.path());
        reaper.spawn(std::process::Command::new(&nginx).arg("120"));
        reapers.push(reaper);
    }

    let out = Sentinel::new()
        .dir(&repo.path)
        .env("RS_REQUIRED_PROCESS", "nginx")
        .env("RS_API_URL", health_url())
        .env("RS_DEPLOY_TOKEN", DEPLOY_TOKEN)
        .gate("prod", "v1.2.3")
        .safe();
    drop(reapers);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_string();
    let short = repo.head()[..7].to_string();
    let real = String::from_utf8_lossy(&out.stdout)
        .replace(&repo.path.display().to_string(), "/src/service")
        .replace(&short, "4f2a9c1")
        .replace(health_url(), "https://payments.internal/health")
        .replace(&format!(" on {host} "), " on web-1 ")
        .replace(&format!(" on {host}"), " on web-1");
    let (real, shown): (Vec<&str>, Vec<&str>) = (real.lines().collect(), shown.lines().collect());
    assert_eq!(real.len(), shown.len(), "rows differ:\n{}", real.join("\n"));
    for (r, s) in real.iter().zip(&shown) {
        let health = ["| disk:", "| memory ", "| process:", "| api:"]
            .iter()
            .any(|p| s.starts_with(p));
        if health {
            assert_eq!(shape(r), shape(s), "\nreal:   {r}\nREADME: {s}");
        } else {
            assert_eq!(r, s);
        }
    }
}

/// The Quick start's SAFE example, run as written where what it names is
/// there: its variables set by its own `export` line, in a new repository
/// on `main` at a new version, on a host where a process of that name runs
/// and the API answers 200. (The README's API host is an example name;
/// the test's API is its server on 127.0.0.1 at the same path.)
#[test]
fn the_quick_start_safe_example_is_safe_where_its_process_and_api_are() {
    let block = block_after(&readme(), "the gate says SAFE (exit 0):", "sh");
    let export = block
        .lines()
        .find_map(|l| l.strip_prefix("export "))
        .expect("the example exports its variables");
    let vars: Vec<(&str, &str)> = export
        .split_whitespace()
        .map(|kv| kv.split_once('=').expect("NAME=value"))
        .collect();
    let value = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .unwrap_or_else(|| panic!("the example sets no {name}"))
            .1
    };
    let args: Vec<&str> = block
        .lines()
        .find_map(|l| l.strip_prefix("release-sentinel "))
        .expect("the example runs the gate")
        .split_whitespace()
        .collect();

    let dir = tempfile::tempdir().expect("temp dir");
    let process = value("RS_REQUIRED_PROCESS");
    let exe = copy_executable(&sleep_binary(), dir.path(), process);
    let mut running = Reaper::new(dir.path());
    running.spawn(std::process::Command::new(&exe).arg("30"));
    let server = Server::start(|x| x.ok());
    let path = value("RS_API_URL")
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .expect("the example's API URL has a path");

    let repo = Repo::new();
    let mut gate = Sentinel::new().dir(&repo.path);
    for (k, v) in &vars {
        gate = gate.env(k, v);
    }
    gate.env("RS_API_URL", server.url(path))
        .args(&args)
        .stdout_has(row(&format!("process:{process}"), "OK"))
        .stdout_has(row("api:RS_API_URL", "OK"))
        .stdout_has(SAFE)
        .safe();
    drop(running);
}

/// The pre-live pack's sample table is a real run: five steps named as the
/// README names them, two that pass, one that exits 3, one that outlives
/// its timeout, and the built-in secrets scan on a clean repository. The
/// timeout here is 1 s (the README's is 30 s): the table is compared
/// number for number in shape.
#[test]
fn the_pack_sample_is_what_the_binary_prints() {
    let shown = block_after(&readme(), "<!-- pack-sample -->", "");
    let repo = Repo::with_config(
        r#"[[pack.steps]]
name = "param_sweep_dry"
run = ["true"]

[[pack.steps]]
name = "tuning_apply_dry"
run = ["true"]

[[pack.steps]]
name = "chaos_failover_dry"
run = "exit 3"
shell = true

[[pack.steps]]
name = "rotate_artifacts_dry"
run = ["sleep", "30"]
timeout = "1s"

[[pack.steps]]
name = "scan_secrets_dry"
"#,
    );
    let out = Sentinel::new()
        .dir(&repo.path)
        .gate("prod", "v1.2.3")
        .arg("--dry-run")
        .blocked();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        shape(&stdout),
        shape(&shown),
        "the binary printed:\n{stdout}"
    );
}
