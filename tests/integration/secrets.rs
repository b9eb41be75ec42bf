//! Secrets never leave the process: a value is planted where the report
//! or the logs would otherwise print it, and every output is searched.

use crate::harness::{
    BLOCKED, Repo, Sentinel, Server, each_row, is_root, json_of, message_of, row, toml_str,
};

/// Run with the most verbose logging, in both formats, and check that
/// `secret` appears in neither stdout nor stderr while `***` does.
/// `setup` adds the arguments and variables of each run.
fn assert_scrubbed(repo: &Repo, secret: &str, setup: impl Fn(Sentinel) -> Sentinel) {
    for format in ["table", "json"] {
        let run = setup(Sentinel::in_repo(repo))
            .env("RUST_LOG", "trace")
            .args(["-vvv", "--format", format])
            .nowhere(secret)
            .stdout_has("***")
            .stderr_has("***")
            .blocked();
        if format == "json" {
            // Still one valid document after scrubbing.
            let doc = json_of(&run);
            assert_eq!(doc["verdict"], "BLOCKED", "{doc:#}");
        }
    }
}

#[test]
fn planted_deploy_token_is_scrubbed_from_every_output() {
    let secret = "s3cr3t-planted-value-42";
    let repo = Repo::new();
    repo.git(["checkout", "-q", "-b", &format!("feature/{secret}")]);
    repo.write(&format!("leak-{secret}.txt"), "x\n");
    let version = format!("v1.3.0-{secret}");

    // The table shows where the secret was.
    let out = Sentinel::in_repo(&repo)
        .env("RS_DEPLOY_TOKEN", secret)
        .gate("prod", &version)
        .nowhere(secret)
        .stdout_has("RELEASE SENTINEL: env=prod version=v1.3.0-***\n")
        .stdout_has(row("clean_tree", "FAIL"))
        .stdout_has("leak-***.txt (untracked)")
        .stdout_has(row("branch_allowed", "FAIL"))
        .stdout_has("\"feature/***\"")
        .stdout_has(row("version_valid", "FAIL"))
        .stdout_has(row("required_config", "OK"))
        .stdout_has(BLOCKED)
        .blocked();
    assert!(message_of(&out.stdout, "version_valid").contains("v1.3.0-***"));

    assert_scrubbed(&repo, secret, |s| {
        s.env("RS_DEPLOY_TOKEN", secret).gate("prod", &version)
    });
}

#[test]
fn planted_secret_in_the_environment_name_is_scrubbed() {
    let secret = "s3cr3t-env-value-9001";
    let repo = Repo::new();
    let env = format!("prod-{secret}");
    let out = Sentinel::in_repo(&repo)
        .env("RS_DEPLOY_TOKEN", secret)
        .gate(&env, "v1.2.3")
        .nowhere(secret)
        .stdout_has(row("env_allowed", "FAIL"))
        .stdout_has(BLOCKED)
        .blocked();
    assert!(message_of(&out.stdout, "env_allowed").contains("prod-***"));
    assert_scrubbed(&repo, secret, |s| {
        s.env("RS_DEPLOY_TOKEN", secret).gate(&env, "v1.2.3")
    });
}

#[test]
fn planted_secret_in_a_repo_path_is_scrubbed() {
    let secret = "s3cr3t-path-value-5150";
    let repo = Repo::new();
    let missing = repo.scratch().join(secret);
    Sentinel::in_repo(&repo)
        .env("RS_DEPLOY_TOKEN", secret)
        .env("RUST_LOG", "trace")
        .arg("--repo")
        .arg(&missing)
        .gate("prod", "v1.2.3")
        .stdout_has(row("git_repo", "FAIL"))
        .nowhere(secret)
        .stdout_has("***")
        .blocked();
}

#[test]
fn non_ascii_secret_is_scrubbed_before_escaping() {
    // Escaping "é" as \u{e9} must not let the rest of the value through.
    let secret = "s\u{e9}cret-planted-6060";
    let tail = "cret-planted-6060";
    let repo = Repo::new();
    repo.git(["checkout", "-q", "-b", &format!("feature/{secret}")]);
    repo.write(&format!("leak-{secret}.txt"), "x\n");
    let version = format!("v1.3.0-{secret}");
    for format in ["table", "json"] {
        Sentinel::in_repo(&repo)
            .env("RS_DEPLOY_TOKEN", secret)
            .env("RUST_LOG", "trace")
            .args(["-vvv", "--format", format])
            .gate("prod", &version)
            .nowhere(secret)
            .nowhere(tail)
            .stdout_has("***")
            .blocked();
    }
}

/// A variable that is a secret by how the config names it (or by its own
/// name), its value planted in the branch name too.
struct Secret {
    name: &'static str,
    config: &'static str,
    var: &'static str,
    value: &'static str,
}

#[test]
fn a_variable_is_secret_when_declared_required_or_secret_looking() {
    let rows = [
        Secret {
            name: "declared secret in the config",
            config: "[variables]\nsecret = [\"MY_SECRET\"]\n",
            var: "MY_SECRET",
            value: "my-declared-secret-31337",
        },
        Secret {
            name: "required and not declared public",
            config: "[variables]\nrequired = [\"DEPLOY_HANDLE\"]\n",
            var: "DEPLOY_HANDLE",
            value: "handle-value-4242",
        },
        Secret {
            name: "secret-looking ambient variable, undeclared",
            config: "",
            var: "GITHUB_TOKEN",
            value: "ghs-ambient-value-2718",
        },
    ];
    each_row(
        &rows,
        |r| r.name,
        |r| {
            let repo = if r.config.is_empty() {
                Repo::new()
            } else {
                Repo::with_config(r.config)
            };
            repo.git(["checkout", "-q", "-b", &format!("feature/{}", r.value)]);
            assert_scrubbed(&repo, r.value, |s| {
                s.env(r.var, r.value).gate("prod", "v1.2.3")
            });
        },
    );
}

#[test]
fn declared_secret_with_an_ordinary_name_and_short_value_is_scrubbed() {
    // Neither the name nor the length would get it picked up as an ambient
    // secret: only the declaration protects it.
    let secret = "q7Zk";
    let repo = Repo::with_config("[variables]\nsecret = [\"DEPLOY_HANDLE\"]\n");
    repo.git(["checkout", "-q", "-b", &format!("feature/{secret}")]);
    let out = Sentinel::in_repo(&repo)
        .env("DEPLOY_HANDLE", secret)
        .env("RUST_LOG", "trace")
        .gate("prod", "v1.2.3")
        .nowhere(secret)
        .stdout_has(row("branch_allowed", "FAIL"))
        .blocked();
    assert!(message_of(&out.stdout, "branch_allowed").contains("feature/***"));
}

#[test]
fn config_holding_a_secret_value_is_refused_without_echoing_it() {
    let secret = "s3cr3t-in-config-1234";
    let repo = Repo::with_config(&format!(
        "[variables]\nsecret = [\"MY_SECRET\"]\n\n[policy]\nbranches = [\"main\", \"{secret}\"]\n"
    ));
    Sentinel::in_repo(&repo)
        .env("MY_SECRET", secret)
        .env("RUST_LOG", "trace")
        .gate("prod", "v1.2.3")
        .stdout("")
        .stderr_has("policy.branches[1]")
        .stderr_has("contains the value of a secret variable")
        .nowhere(secret)
        .blocked();
    let out = Sentinel::in_repo(&repo)
        .env("MY_SECRET", secret)
        .args(["--format", "json"])
        .gate("prod", "v1.2.3")
        .nowhere(secret)
        .blocked();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "BLOCKED", "{doc:#}");
    assert!(
        doc["error"]
            .as_str()
            .is_some_and(|e| e.contains("policy.branches[1]")),
        "{doc:#}"
    );
}

#[test]
fn config_holding_the_deploy_token_value_is_refused() {
    // RS_DEPLOY_TOKEN is not declared by this file, but its name says it is
    // a secret: its value must not be written in the file either.
    let secret = "tok-ambient-in-config-777";
    let repo = Repo::with_config(&format!("environments = [\"dev\", \"{secret}\"]\n"));
    Sentinel::in_repo(&repo)
        .env("RS_DEPLOY_TOKEN", secret)
        .gate("dev", "v1.2.3")
        .stdout("")
        .stderr_has("environments[1]")
        .nowhere(secret)
        .blocked();
}

#[test]
fn config_error_messages_are_scrubbed() {
    let secret = "s3cr3t-as-a-key-8080";
    let repo = Repo::with_config(&format!("{secret} = 1\n"));
    Sentinel::in_repo(&repo)
        .env("RS_DEPLOY_TOKEN", secret)
        .gate("prod", "v1.2.3")
        .stdout("")
        .stderr_has("release-sentinel.toml:1:1:")
        .stderr_has("***")
        .nowhere(secret)
        .blocked();
}

#[test]
fn usage_errors_are_scrubbed() {
    let secret = "s3cr3t-usage-value-6543";
    let repo = Repo::new();
    Sentinel::in_repo(&repo)
        .env("RS_DEPLOY_TOKEN", secret)
        .gate("prod", "v1.2.3")
        .args(["--format", secret])
        .stdout("")
        .stderr_has("invalid value '***'")
        .nowhere(secret)
        .blocked();
}

#[test]
fn url_credentials_and_secret_query_values_are_masked() {
    let repo = Repo::new();
    let env = "https://deploy:hunter2pw@example.com/x?token=abc123xyz&page=2";
    Sentinel::in_repo(&repo)
        .env("RUST_LOG", "trace")
        .gate(env, "v1.2.3")
        .stdout_has(row("env_allowed", "FAIL"))
        .stdout_has("https://***@example.com/x?token=***&page=2")
        .nowhere("hunter2pw")
        .nowhere("abc123xyz")
        .blocked();
}

/// `secret` percent-encoded the way one encoder or another writes it:
/// every choice of characters left alone among those libraries differ on,
/// upper- or lower-case hex, a space as `%20` or `+`.
fn percent_forms(secret: &str) -> Vec<String> {
    const OPTIONAL: &[u8] = b"/:@~+!";
    let mut forms = Vec::new();
    for choice in 0..(4u32 << OPTIONAL.len()) {
        let kept = choice & ((1 << OPTIONAL.len()) - 1);
        let lower = choice & (1 << OPTIONAL.len()) != 0;
        let plus_space = choice & (2 << OPTIONAL.len()) != 0;
        let mut form = String::new();
        for b in secret.bytes() {
            let alone = OPTIONAL
                .iter()
                .position(|o| *o == b)
                .is_some_and(|i| kept & (1 << i) != 0);
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) || alone {
                form.push(char::from(b));
            } else if b == b' ' && plus_space {
                form.push('+');
            } else if lower {
                form.push_str(&format!("%{b:02x}"));
            } else {
                form.push_str(&format!("%{b:02X}"));
            }
        }
        forms.push(form);
    }
    forms.sort();
    forms.dedup();
    forms
}

#[test]
fn every_percent_encoded_form_of_a_secret_is_scrubbed_from_step_output() {
    let secrets = ["p@ss:word/with+plus", "s3cr3t pass~w\u{f6}rd!"];
    let mut lines = String::new();
    for (i, secret) in secrets.iter().enumerate() {
        for form in percent_forms(secret) {
            lines.push_str(&format!("s{i} {form}\n"));
        }
    }
    let repo = Repo::with_config(
        "[variables]\nsecret = [\"DB_URL_PART\"]\n\n\
         [[pack.steps]]\nname = \"prints\"\nshell = true\n\
         run = \"cat \\\"$OUT/forms.txt\\\"; exit 3\"\n",
    );
    std::fs::write(repo.scratch().join("forms.txt"), &lines).expect("write forms");
    assert!(lines.len() < 8 * 1024, "the output is kept whole");
    assert!(lines.contains("p%40ss%3Aword/with%2Bplus"), "{lines}");
    for (i, secret) in secrets.iter().enumerate() {
        // One secret at a time: the other's forms must survive untouched,
        // and every line of this one must be masked.
        let report = repo.scratch().join(format!("report-{i}.json"));
        let mut run = Sentinel::dry_run(&repo)
            .env("DB_URL_PART", secret)
            .env("RUST_LOG", "trace")
            .args(["-vvv", "--format", "json", "--report"])
            .arg(&report);
        for form in percent_forms(secret) {
            run = run.nowhere(form);
        }
        let out = run.blocked();
        let doc = json_of(&out);
        let printed = doc["steps"][0]["details"]["stdout"]
            .as_str()
            .unwrap_or_else(|| panic!("no step output in {doc:#}"))
            .to_string();
        let file = std::fs::read_to_string(&report).expect("read the report file");
        for form in percent_forms(secret) {
            assert!(!file.contains(&form), "{form} is in the report file");
        }
        for line in printed.lines() {
            if line.starts_with(&format!("s{i} ")) {
                assert_eq!(line, format!("s{i} ***"), "{printed}");
            } else {
                assert!(!line.contains("***"), "{line} is not this secret");
            }
        }
    }
}

#[test]
fn git_config_key_and_count_are_names_not_secrets() {
    // git's documented way to pass configuration through the environment.
    let value = "/srv/planted-config-value-1234";
    let repo = Repo::new();
    let out = Sentinel::in_repo(&repo)
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "safe.directory")
        .env("GIT_CONFIG_VALUE_0", value)
        .env("RUST_LOG", "trace")
        .gate("safe.directory", "v1.2.3")
        .stdout_has(row("env_allowed", "FAIL"))
        .blocked();
    assert!(
        message_of(&out.stdout, "env_allowed").contains("\"safe.directory\""),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The value may be anything, a credential among them: still masked.
    let out = Sentinel::in_repo(&repo)
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "safe.directory")
        .env("GIT_CONFIG_VALUE_0", value)
        .env("RUST_LOG", "trace")
        .gate(value, "v1.2.3")
        .nowhere(value)
        .stdout_has(row("env_allowed", "FAIL"))
        .blocked();
    assert!(message_of(&out.stdout, "env_allowed").contains("***"));
}

#[test]
#[ignore = "needs root to chown the repository to another user; run as root with --ignored (.ci/test does)"]
fn the_safe_directory_advice_is_shown_whole_with_git_config_in_the_environment() {
    assert!(is_root(), "this test needs root to chown the repository");
    let repo = Repo::new();
    let status = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&repo.path)
        .status()
        .expect("run chown");
    assert!(status.success(), "chown failed");
    let out = Sentinel::in_repo(&repo)
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "safe.directory")
        .env("GIT_CONFIG_VALUE_0", "/nowhere/else")
        .gate("prod", "v1.2.3")
        .stdout_has(row("git_repo", "FAIL"))
        .blocked();
    let message = message_of(&out.stdout, "git_repo");
    assert!(
        message.contains("git config --global --add safe.directory "),
        "{message}"
    );
}

#[test]
fn a_secret_across_the_length_cap_is_masked_whole_in_every_output() {
    // The branch name is cut at 200 characters in its message: the secret
    // straddles the cut, so each half would survive a scrub made after it.
    // At 175 it also straddles the table's cut of the whole message.
    let (first, second) = ("HALFONE", "HALFTWO");
    let secret = format!("{first}k7q{second}z3w");
    for (at, format) in [190, 175]
        .into_iter()
        .flat_map(|at| ["table", "json", "junit", "markdown"].map(|f| (at, f)))
    {
        let branch = format!(
            "feature/{}{secret}{}",
            "a".repeat(at - "feature/".len()),
            "b".repeat(30)
        );
        let repo = Repo::new();
        repo.git(["checkout", "-q", "-b", &branch]);
        let scratch = repo.scratch();
        let summary = scratch.join("summary.md");
        let report = scratch.join(format!("report-{format}.json"));
        let junit = scratch.join(format!("junit-{format}.xml"));
        let out = Sentinel::in_repo(&repo)
            .env("RS_DEPLOY_TOKEN", &secret)
            .env("RUST_LOG", "trace")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args(["-vvv", "--format", format, "--report"])
            .arg(&report)
            .arg("--junit")
            .arg(&junit)
            .gate("prod", "v1.2.3")
            .allow_non_ascii()
            .nowhere(first)
            .nowhere(second)
            .stderr_has("***")
            .blocked();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("aaaa"),
            "the branch is shown: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let report_text = std::fs::read_to_string(&report).expect("read the report");
        assert!(report_text.contains("aaa***"), "{report_text}");
        for file in [&report, &junit, &summary] {
            let text = std::fs::read_to_string(file).expect("read a written file");
            assert!(!text.contains(first), "{}: {text}", file.display());
            assert!(!text.contains(second), "{}: {text}", file.display());
        }
    }
}

/// `(name, arguments)` of every command, each reaching the point where it
/// reads the clock or quotes what it was given.
fn every_command(dir: &std::path::Path) -> Vec<(&'static str, Vec<String>)> {
    let forged = |name: &str| {
        dir.join(format!("{name}\n::error::forged"))
            .display()
            .to_string()
    };
    let v = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    vec![
        ("gate", v(&["--env", "prod", "--version", "v1.2.3"])),
        ("pack", v(&["pack", "--env", "dev", "--version", "v1.0.0"])),
        (
            "verify",
            v(&["verify", "--env", "prod", "--version", "v1.2.3"]),
        ),
        (
            "notify",
            v(&[
                "notify",
                "--env",
                "prod",
                "--version",
                "v1.2.3",
                "deployment.started",
            ]),
        ),
        ("bundle", v(&["bundle", "--version", "v1.2.3"])),
        ("bundle verify", v(&["bundle", "verify", &forged("b.zip")])),
        ("rotate", v(&["rotate", &forged("artifacts")])),
        ("freshness", v(&["freshness"])),
        (
            "ready",
            v(&["ready", "--env", "prod", "--version", "v1.2.3"]),
        ),
        ("backup verify", v(&["backup", "verify", &forged("m.json")])),
        (
            "parity",
            v(&["parity", "--source", "dev", "--target", "prod"]),
        ),
        (
            "predeploy",
            v(&["predeploy", "--env", "prod", "--version", "v1.2.3"]),
        ),
        (
            "golive",
            v(&["golive", "--env", "prod", "--version", "v1.2.3"]),
        ),
        ("evidence verify", v(&["evidence", "verify", &forged("ev")])),
        (
            "init",
            v(&["init", "--force", "--path", &forged("init.toml")]),
        ),
    ]
}

#[test]
fn a_quoted_value_never_starts_a_line_of_its_own_in_any_command() {
    let repo = Repo::new();
    let fake = "2026-01-01T00:00:00Z\n::error::forged";
    for (name, args) in every_command(&repo.scratch()) {
        for github in ["false", "true"] {
            // `init` writes its file (exit 0); every other command stops.
            let out = Sentinel::in_repo(&repo)
                .env("CI_FAKE_UTC", fake)
                .env("GITHUB_ACTIONS", github)
                .args(&args)
                .code(if name == "init" { 0 } else { 1 });
            for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
                let text = String::from_utf8_lossy(text);
                assert!(
                    !text
                        .lines()
                        .any(|l| l.trim_start().starts_with("::error::forged")),
                    "{name}: a forged line on {stream}:\n{text}"
                );
            }
        }
    }
}

/// The value of `[variables] secret` the step tests plant.
const PLANTED: &str = "planted-secret-value-0123456789";

/// A pack with one shell step, `PLANTED` declared secret.
fn step_repo(line: &str) -> Repo {
    Repo::with_config(&format!(
        "[variables]\nsecret = [\"PLANTED\"]\n\n[[pack.steps]]\nname = \"talk\"\nrun = {}\nshell = true\n",
        toml_str(line)
    ))
}

/// Every output of a pack run in `repo`: stdout in every format, and the
/// `--report` file.
fn pack_outputs(repo: &Repo, vars: &[(&str, &std::ffi::OsStr)]) -> String {
    let mut all = String::new();
    for format in ["table", "json", "junit", "markdown"] {
        let report = repo.scratch().join(format!("report-{format}.json"));
        let mut s = Sentinel::dry_run(repo)
            .args(["--format", format, "--report"])
            .arg(&report)
            .allow_non_ascii();
        for (k, v) in vars {
            s = s.env(k, v);
        }
        let out = s.code_in(&[0, 1]);
        all.push_str(&String::from_utf8_lossy(&out.stdout));
        all.push_str(&String::from_utf8_lossy(&out.stderr));
        all.push_str(&std::fs::read_to_string(&report).expect("report"));
    }
    all
}

#[test]
fn a_secret_cut_in_half_by_the_output_cap_leaves_no_half() {
    // The secret, then 8180 bytes: the kept 8 KiB start inside it.
    let repo = step_repo("printf '%s' \"$PLANTED\"; head -c 8180 /dev/zero | tr '\\0' a");
    let all = pack_outputs(&repo, &[("PLANTED", PLANTED.as_ref())]);
    let second_half = &PLANTED[PLANTED.len() - 12..];
    assert!(
        !all.contains(second_half),
        "the secret's end survived the cut"
    );
    assert!(all.contains("aaaaaaaa"), "the output is kept");
}

#[test]
fn a_secret_cut_off_by_the_end_of_the_stream_leaves_no_half() {
    let repo = step_repo("printf 'start %s' \"${PLANTED%??????????}\"");
    let all = pack_outputs(&repo, &[("PLANTED", PLANTED.as_ref())]);
    assert!(!all.contains(&PLANTED[..20]), "the secret's start survived");
    assert!(all.contains("start"), "{all}");
}

#[test]
fn a_secret_that_is_not_utf8_is_scrubbed_in_its_decoded_form() {
    use std::os::unix::ffi::OsStrExt;
    let value = std::ffi::OsStr::from_bytes(b"\xff\xfebinary-secret-value-42");
    let repo = step_repo("printf '%s' \"$PLANTED\"");
    let all = pack_outputs(&repo, &[("PLANTED", value)]);
    assert!(
        !all.contains("binary-secret-value-42"),
        "the secret was shown"
    );
}

#[test]
fn secrets_under_more_names_are_scrubbed() {
    for name in [
        "GPG_PASSPHRASE",
        "SMTP_PASS",
        "GITHUB_PAT",
        "TAILSCALE_AUTHKEY",
        "REGISTRY_CREDS",
        "GOOGLE_CREDENTIALS",
    ] {
        let repo = Repo::with_config(&format!(
            "[[pack.steps]]\nname = \"talk\"\nrun = {}\nshell = true\n",
            toml_str(&format!("echo \"${name}\""))
        ));
        let out = Sentinel::dry_run(&repo)
            .env(name, PLANTED)
            .args(["--format", "json"])
            .nowhere(PLANTED)
            .safe();
        let doc = json_of(&out);
        assert_eq!(doc["steps"][0]["details"]["stdout"], "***\n", "{name}");
    }
}

#[test]
fn escaped_forms_of_a_secret_are_scrubbed() {
    let secret = "k\u{e4}se geheim 9876";
    // JSON's \u escapes, and form encoding (+ for a space).
    let repo =
        step_repo("printf '%s\\n' '{\"v\":\"k\\u00e4se geheim 9876\"}' 'v=k%C3%A4se+geheim+9876'");
    let all = pack_outputs(&repo, &[("PLANTED", secret.as_ref())]);
    for form in ["geheim 9876", "geheim+9876", "\\u00e4se"] {
        assert!(!all.contains(form), "{form} survived");
    }
}

#[test]
fn a_token_in_a_url_fragment_is_masked() {
    let server = Server::start(|x| x.ok());
    let repo = Repo::with_config(&format!(
        "[[health.api]]\nname = \"cb\"\nurl = {}\n",
        toml_str(&server.url("/cb#access_token=fragment-token-777&state=s"))
    ));
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stdout_has("#access_token=***&state=s")
        .nowhere("fragment-token-777")
        .safe();
}
