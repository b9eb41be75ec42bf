//! What a hostile review of the binary found, each case proved on real
//! repositories, processes, files and loopback servers: no false SAFE, no
//! secret in any output, no forged output line, no unbounded input, and
//! the git states a gate must not wave through.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{
    BLOCKED, Reaper, Repo, SAFE, Sentinel, Server, context, json_of, message_of, row, signal,
    toml_str,
};

/// The value of `[variables] secret` the step tests plant.
const PLANTED: &str = "planted-secret-value-0123456789";

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {}", path.display());
}

/// A copy of `true` named `name` in `dir`, for a zombie of that name.
fn copy_of_true(dir: &Path, name: &str) -> PathBuf {
    let t = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("true");
    let p = dir.join(name);
    std::fs::copy(t, &p).expect("copy true");
    p
}

/// The state letter of every live process named `comm`.
fn states_of(comm: &str) -> Vec<char> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if &stat[open + 1..close] == comm {
            out.extend(stat[close + 2..].chars().next());
        }
    }
    out
}

// ---------------------------------------------------------- false SAFE

#[test]
fn a_zombie_is_not_a_running_process() {
    let repo = Repo::new();
    let name = format!("rs-zmb-{}", std::process::id() % 100_000);
    let zombie = copy_of_true(&repo.scratch(), &name);
    // The shell starts the process, then becomes `sleep`, which never
    // reaps it: it stays a zombie for as long as the sleep lasts.
    let mut reaper = Reaper::for_repo(&repo);
    reaper.spawn(
        Command::new("sh")
            .arg("-c")
            .arg(format!("'{}' & exec sleep 30", zombie.display())),
    );
    let until = Instant::now() + Duration::from_secs(10);
    while states_of(&name) != ['Z'] {
        assert!(
            Instant::now() < until,
            "no zombie {name}: {:?}",
            states_of(&name)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    repo.config(&format!("[[health.process]]\nname = {}\n", toml_str(&name)));
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stdout_has(row(&format!("process:{name}"), "CRIT"))
        .stdout_has(format!("no running process named {name}"))
        .critical();
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

fn in_progress(setup: impl Fn(&Repo), operation: &str, fix: &str) {
    let repo = Repo::new();
    repo.write("f.txt", "base\n");
    repo.commit_all("base");
    setup(&repo);
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stdout_has(row("clean_tree", "FAIL"))
        .blocked();
    let m = message_of(&out.stdout, "clean_tree");
    assert!(m.contains(&format!("{operation} is in progress")), "{m}");
    assert!(m.contains(fix), "{m}");
}

#[test]
fn a_merge_in_progress_is_not_releasable_even_with_a_clean_tree() {
    in_progress(
        |r| {
            r.git(["checkout", "-q", "-b", "other"]);
            r.git(["commit", "-q", "--allow-empty", "-m", "other"]);
            r.git(["checkout", "-q", "main"]);
            // Takes nothing of `other`: the tree stays HEAD's.
            r.git(["merge", "-q", "-s", "ours", "--no-commit", "other"]);
        },
        "a merge",
        "git merge --abort",
    );
}

#[test]
fn a_rebase_in_progress_is_not_releasable() {
    in_progress(
        |r| {
            r.git(["commit", "-q", "--allow-empty", "-m", "two"]);
            // Stops at a `break` before replaying anything.
            r.git([
                "-c",
                "sequence.editor=sed -i '1i break'",
                "rebase",
                "-q",
                "-i",
                "HEAD~1",
            ]);
        },
        "a rebase",
        "git rebase --abort",
    );
}

/// A change on `main` and a conflicting one on `other`, with HEAD on main.
fn conflicting(r: &Repo) {
    r.git(["checkout", "-q", "-b", "other"]);
    r.write("f.txt", "theirs\n");
    r.commit_all("theirs");
    r.git(["checkout", "-q", "main"]);
    r.write("f.txt", "ours\n");
    r.commit_all("ours");
}

/// Back to HEAD's tree and index, the operation still in progress.
fn resolved_as_head(r: &Repo) {
    r.git(["checkout", "HEAD", "--", "f.txt"]);
}

#[test]
fn a_cherry_pick_in_progress_is_not_releasable() {
    in_progress(
        |r| {
            conflicting(r);
            let out = Command::new("git")
                .args(["cherry-pick", "other"])
                .current_dir(&r.path)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", r.scratch())
                .output()
                .expect("git");
            assert!(
                !out.status.success(),
                "the cherry-pick must stop on the conflict"
            );
            resolved_as_head(r);
        },
        "a cherry-pick",
        "git cherry-pick --abort",
    );
}

#[test]
fn a_revert_in_progress_is_not_releasable() {
    in_progress(
        |r| {
            r.write("f.txt", "one\n");
            r.commit_all("one");
            r.write("f.txt", "two\n");
            r.commit_all("two");
            let out = Command::new("git")
                .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
                .args(["revert", "--no-edit", "HEAD~1"])
                .current_dir(&r.path)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", r.scratch())
                .output()
                .expect("git");
            assert!(
                !out.status.success(),
                "the revert must stop on the conflict"
            );
            resolved_as_head(r);
        },
        "a revert",
        "git revert --abort",
    );
}

#[test]
fn a_bisect_in_progress_is_not_releasable() {
    in_progress(
        |r| {
            r.git(["bisect", "start"]);
        },
        "a bisect",
        "git bisect reset",
    );
}

#[test]
fn invisible_characters_are_not_a_value() {
    let repo = Repo::new();
    for value in ["\u{200B}", "\u{FEFF}", " \u{200D} "] {
        let out = Sentinel::in_repo(&repo)
            .env("RS_DEPLOY_TOKEN", value)
            .gate("prod", "v1.0.0")
            .stdout_has(row("required_config", "FAIL"))
            .blocked();
        assert!(
            message_of(&out.stdout, "required_config").contains("empty: RS_DEPLOY_TOKEN"),
            "{value:?}"
        );
    }
}

// ------------------------------------------------------------ secret leaks

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

// --------------------------------------------------------------- injection

const FORGED: &str = "::error::forged";

fn no_forged_line(text: &str) {
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("::error::forged"),
            "forged line: {line:?}\n{text}"
        );
    }
}

#[test]
fn a_file_name_with_a_line_break_forges_no_line() {
    let repo = Repo::new();
    repo.write(&format!("x\n{FORGED}"), "planted\n");
    for args in [
        vec!["-vv"],
        vec!["--format", "junit"],
        vec!["--format", "markdown"],
        vec![],
    ] {
        let out = Sentinel::in_repo(&repo)
            .env("GITHUB_ACTIONS", "true")
            .gate("prod", "v1.0.0")
            .args(&args)
            .blocked();
        no_forged_line(&String::from_utf8_lossy(&out.stdout));
        no_forged_line(&String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn config_values_and_arguments_with_line_breaks_forge_no_line() {
    let repo = Repo::with_config(&format!(
        "environments = [{}]\n",
        toml_str(&format!("dev\n{FORGED}"))
    ));
    let out = Sentinel::in_repo(&repo).gate("dev", "v1.0.0").blocked();
    no_forged_line(&String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\\n::error::forged"));
    let out = Sentinel::in_repo(&repo)
        .gate("dev", "v1.0.0")
        .args(["--format", &format!("json\n{FORGED}")])
        .blocked();
    no_forged_line(&String::from_utf8_lossy(&out.stderr));
}

// ---------------------------------------------------------- bounded inputs

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
fn a_step_summary_that_is_a_fifo_neither_hangs_nor_fails_the_run() {
    let repo = Repo::new();
    let fifo = repo.scratch().join("summary.fifo");
    mkfifo(&fifo);
    let mut reaper = Reaper::for_repo(&repo);
    reaper.spawn(
        &mut Sentinel::in_repo(&repo)
            .env("GITHUB_STEP_SUMMARY", &fifo)
            .gate("prod", "v1.0.0")
            .into_command(),
    );
    let out = reaper.wait(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", context(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(SAFE));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: cannot append to GITHUB_STEP_SUMMARY"),
        "{stderr}"
    );
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

// ---------------------------------------------------------- interruption

/// An API check that never answers, `[[health.api]]` with the defaults'
/// long budget.
fn hung_api(server: &Server) -> String {
    format!(
        "[[health.api]]\nname = \"hung\"\nurl = {}\ntimeout = \"20s\"\nretries = 1\n",
        toml_str(&server.url("/hang"))
    )
}

#[test]
fn sigterm_ends_the_gate_with_exit_1_and_the_table_so_far() {
    let server = Server::start(|x| x.hold());
    let repo = Repo::with_config(&hung_api(&server));
    let mut reaper = Reaper::for_repo(&repo);
    let pid = reaper.spawn(
        &mut Sentinel::in_repo(&repo)
            .gate("prod", "v1.0.0")
            .into_command(),
    );
    server.wait_for(1);
    let sent = Instant::now();
    assert!(signal(pid, "TERM"));
    let out = reaper.wait(Duration::from_secs(5));
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "{:?}",
        sent.elapsed()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", context(&out));
    assert!(stdout.contains(&row("api:hung", "SKIP")), "{stdout}");
    assert!(stdout.contains("not evaluated: interrupted"), "{stdout}");
    assert!(stdout.contains(BLOCKED), "{stdout}");
    assert!(stdout.contains(&row("required_config", "OK")), "{stdout}");
}

#[test]
fn sigint_during_a_builtin_step_stops_the_pack_within_a_moment() {
    let server = Server::start(|x| x.hold());
    let repo = Repo::with_config(&hung_api(&server));
    let mut reaper = Reaper::for_repo(&repo);
    let pid = reaper.spawn(
        &mut Sentinel::dry_run(&repo)
            .args(["--format", "json"])
            .into_command(),
    );
    server.wait_for(1);
    let sent = Instant::now();
    assert!(signal(pid, "INT"));
    let out = reaper.wait(Duration::from_secs(5));
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(out.status.code(), Some(1), "{}", context(&out));
    let doc = json_of(&out);
    assert_eq!(doc["interrupted"], true, "{doc:#}");
    let steps = doc["steps"].as_array().expect("steps");
    let health = steps
        .iter()
        .find(|s| s["id"] == "health_checks_dry")
        .expect("the step");
    assert_eq!(health["message"], "interrupted", "{doc:#}");
    let scan = steps
        .iter()
        .find(|s| s["id"] == "scan_secrets_dry")
        .expect("the step");
    assert_eq!(scan["status"], "SKIP", "{doc:#}");
}

// ------------------------------------------------------------------- HTTP

#[test]
fn a_proxy_is_never_used_for_loopback() {
    // A "proxy" that answers 200 to everything: a dead API behind it would
    // pass. The API is on a closed loopback port.
    let proxy = Server::start(|x| x.ok());
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let repo = Repo::with_config(&format!(
        "[[health.api]]\nname = \"down\"\nurl = \"http://127.0.0.1:{closed}/health\"\nretries = 1\n"
    ));
    for var in ["http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"] {
        Sentinel::in_repo(&repo)
            .env(var, proxy.url(""))
            .gate("prod", "v1.0.0")
            .stdout_has(row("api:down", "CRIT"))
            .stdout_has("connection refused")
            .critical();
    }
    assert!(proxy.requests().is_empty(), "the proxy was asked");
}

#[test]
fn a_proxy_that_is_used_is_named() {
    let proxy = Server::start(|x| x.ok());
    let repo = Repo::with_config(
        "[[health.api]]\nname = \"svc\"\nurl = \"http://payments.service.invalid/health\"\nretries = 1\n",
    );
    let out = Sentinel::in_repo(&repo)
        .env("http_proxy", proxy.url(""))
        .gate("prod", "v1.0.0")
        .stdout_has(row("api:svc", "OK"))
        .safe();
    let m = message_of(&out.stdout, "api:svc");
    assert!(m.contains(&format!("via proxy {}", proxy.url(""))), "{m}");
    let seen = proxy.wait_for(1);
    assert!(
        seen[0]
            .head
            .starts_with("GET http://payments.service.invalid/health"),
        "{}",
        seen[0].head
    );
    // And no_proxy takes it away again.
    Sentinel::in_repo(&repo)
        .env("http_proxy", proxy.url(""))
        .env("no_proxy", ".service.invalid")
        .gate("prod", "v1.0.0")
        .stdout_has(row("api:svc", "CRIT"))
        .critical();
}

#[test]
fn an_expected_redirect_is_an_answer_even_with_no_redirects_allowed() {
    let server = Server::start(|x| x.reply("302 Found", &["Location: /elsewhere"], ""));
    let repo = Repo::with_config(&format!(
        "[[health.api]]\nname = \"login\"\nurl = {}\nexpect_status = [302]\nmax_redirects = 0\n",
        toml_str(&server.url("/login"))
    ));
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stdout_has(row("api:login", "OK"))
        .stdout_has("-> 302 in 1 attempt")
        .safe();
}

/// A private CA and a certificate for 127.0.0.1 it signed, by openssl.
fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (Debian: apt-get install -y openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=rs test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
    ]);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "srv.pem",
    ]);
    (dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key"))
}

#[test]
fn a_private_ca_is_trusted_through_ca_file() {
    let repo = Repo::new();
    let (ca, cert, key) = private_ca(&repo.scratch());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut reaper = Reaper::for_repo(&repo);
    reaper.spawn(
        Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key),
    );
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "openssl s_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("https://127.0.0.1:{port}/");
    let with = |extra: &str| {
        format!(
            "[[health.api]]\nname = \"tls\"\nurl = {}\nretries = 1\n{extra}",
            toml_str(&url)
        )
    };
    repo.config(&with(""));
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stdout_has(row("api:tls", "CRIT"))
        .critical();
    repo.config(&with(&format!(
        "ca_file = {}\n",
        toml_str(&ca.display().to_string())
    )));
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stdout_has(row("api:tls", "OK"))
        .safe();
    // A ca_file that is no bundle is a config error with its key.
    repo.config(&with("ca_file = \"README\"\n"));
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stderr_has("health.api[0].ca_file")
        .blocked();
}

// ------------------------------------------------------------- the pack

#[test]
fn a_builtin_step_runs_beside_configured_ones_when_named() {
    let repo = Repo::with_config(
        "[[pack.steps]]\nname = \"mine\"\nrun = [\"true\"]\n\
         [[pack.steps]]\nname = \"scan_secrets_dry\"\n\
         [pack.scan]\nallow = [\"docs/**\"]\n",
    );
    let key = format!("{}{}", "AKIA", "IOSFODNN7EXAMPLE");
    repo.write("leak.txt", &format!("key = {key}\n"));
    repo.commit_all("leak");
    let out = Sentinel::dry_run(&repo)
        .stdout_has(row("mine", "OK"))
        .stdout_has(row("scan_secrets_dry", "FAIL"))
        .blocked();
    assert!(message_of(&out.stdout, "scan_secrets_dry").contains("leak.txt:1"));
}

#[test]
fn a_scan_setting_no_step_runs_is_a_config_error() {
    let repo = Repo::with_config(
        "[[pack.steps]]\nname = \"mine\"\nrun = [\"true\"]\n[pack.scan]\nallow = [\"x/**\"]\n",
    );
    Sentinel::dry_run(&repo)
        .stderr_has("pack.scan: set, but no step runs the secrets scan")
        .blocked();
}

#[test]
fn a_builtin_step_has_a_timeout() {
    let server = Server::start(|x| x.hold());
    let repo = Repo::with_config(&format!(
        "{}[[pack.steps]]\nname = \"health_checks_dry\"\ntimeout = \"1s\"\n\
         [[pack.steps]]\nname = \"after\"\nrun = [\"true\"]\n",
        hung_api(&server)
    ));
    let start = Instant::now();
    Sentinel::dry_run(&repo)
        .stdout_has("| health_checks_dry         | FAIL | timed out after 1s |")
        .stdout_has(row("after", "OK"))
        .blocked();
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
}

// ------------------------------------------------------ config and README

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

#[test]
fn tagless_repositories_do_what_the_readme_says() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    assert!(readme.contains(
        "A full clone of a remote with no tags at all is a WARN that says how to fetch them; \
         a repository without a remote has nothing to fetch, and its first release is OK."
    ));
    let local = Repo::new();
    Sentinel::in_repo(&local)
        .gate("prod", "v1.0.0")
        .stdout_has(row("tag_absent", "OK"))
        .safe();
    let clone = Repo::clone_of(&local, &[]);
    let out = Sentinel::in_repo(&clone)
        .gate("prod", "v1.0.0")
        .stdout_has(row("tag_absent", "WARN"))
        .safe();
    assert!(message_of(&out.stdout, "tag_absent").contains("git fetch --tags"));
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
