//! SIGINT and SIGTERM end every command with exit 1 (never death by the
//! signal), with the report of what ran; results already in hand are
//! kept; nothing half-written is left behind.
//!
//! Each command is made slow where it really waits: a health check on a
//! server on 127.0.0.1 that never answers, a step that sleeps, a large
//! file to compress; a command with no such wait is held where it writes
//! its result, on a stdout pipe that is already full (the test reads it
//! only once the command has exited). The signal is sent once the command
//! is seen waiting there, never after a fixed sleep alone.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::harness::{
    BLOCKED, Exchange, Reaper, Repo, Sentinel, Server, context, json_check, json_of, row, signal,
    toml_str,
};
use crate::pack::hung_api;

/// How long a command may take to reach its slow point on a loaded
/// machine.
const START: Duration = Duration::from_secs(90);

/// How long a command may take to exit after the signal: the front end's
/// grace (5 s) for a command that does not stop by itself, with room for
/// a loaded 2-core machine.
const PROMPT: Duration = Duration::from_secs(40);

/// A server on 127.0.0.1 that never answers, and a channel that says when
/// a request arrived.
fn hung_server() -> (Server, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Server::start(move |x: &mut Exchange| {
        let _ = tx.lock().unwrap_or_else(|e| e.into_inner()).send(());
        x.hold();
    });
    (server, rx)
}

/// What makes a command slow, and how to see that it is waiting there.
enum Slow {
    /// A request has reached this hung server.
    Request(mpsc::Receiver<()>),
    /// This file exists.
    File(PathBuf),
    /// A file whose name starts with this appears in this folder.
    Prefix(PathBuf, &'static str),
    /// It is blocked writing to its (full) stdout.
    Stdout,
}

/// A started command, killed (with whatever it started) when dropped.
struct Running {
    child: Option<Child>,
    /// The read end of a stdout pipe the test filled.
    held: Option<std::io::PipeReader>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A pipe whose buffer is full: a write to it blocks until the test reads.
fn full_pipe() -> (std::io::PipeReader, std::io::PipeWriter) {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    let (reader, mut writer) = std::io::pipe().expect("pipe");
    let flags = fcntl_getfl(&writer).expect("getfl");
    fcntl_setfl(&writer, flags | OFlags::NONBLOCK).expect("setfl");
    let chunk = [b'#'; 4096];
    loop {
        match writer.write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("fill the pipe: {e}"),
        }
    }
    // The child inherits a blocking pipe: its write waits.
    fcntl_setfl(&writer, flags).expect("setfl");
    (reader, writer)
}

/// Whether a thread of `pid` waits in a pipe write.
fn writing_to_a_pipe(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("wchan")).is_ok_and(|w| w.contains("pipe_write"))
    })
}

fn start(mut cmd: Command, slow: &Slow) -> Running {
    cmd.stdin(Stdio::null()).stderr(Stdio::piped());
    let held = if matches!(slow, Slow::Stdout) {
        let (reader, writer) = full_pipe();
        cmd.stdout(writer);
        Some(reader)
    } else {
        cmd.stdout(Stdio::piped());
        None
    };
    let child = cmd.spawn().expect("start release-sentinel");
    drop(cmd);
    Running {
        child: Some(child),
        held,
    }
}

/// Wait until the command is at its slow point.
fn wait_until_slow(run: &mut Running, slow: &Slow, name: &str) {
    let until = Instant::now() + START;
    loop {
        let child = run.child.as_mut().expect("child");
        if let Ok(Some(status)) = child.try_wait() {
            let out = run.child.take().expect("child").wait_with_output();
            panic!(
                "{name} ended before it was interrupted: {status}\n{}",
                out.map(|o| context(&o)).unwrap_or_default()
            );
        }
        let there = match slow {
            Slow::Request(rx) => rx.try_recv().is_ok(),
            Slow::File(p) => p.exists(),
            Slow::Prefix(dir, prefix) => std::fs::read_dir(dir).is_ok_and(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
            }),
            Slow::Stdout => writing_to_a_pipe(child.id()),
        };
        if there {
            return;
        }
        assert!(
            Instant::now() < until,
            "{name} did not reach its slow point in {START:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Send `sig`, wait for the exit and return what the command printed.
fn interrupt(mut run: Running, sig: &str, name: &str) -> Output {
    let pid = run.child.as_ref().expect("child").id();
    assert!(signal(pid, sig), "kill -{sig} {pid}");
    let until = Instant::now() + PROMPT;
    // Drain a held stdout as the command exits (the filler, then the
    // report if it got to write it).
    let drain = run.held.take().map(|mut r| {
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = r.read_to_end(&mut all);
            all
        })
    });
    loop {
        let child = run.child.as_mut().expect("child");
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        assert!(
            Instant::now() < until,
            "{name} did not exit within {PROMPT:?} of SIG{sig}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = run
        .child
        .take()
        .expect("child")
        .wait_with_output()
        .expect("output");
    if let Some(d) = drain {
        let all = d.join().unwrap_or_default();
        let report = all.iter().position(|b| *b != b'#').unwrap_or(all.len());
        out.stdout = all[report..].to_vec();
    }
    out
}

/// Temporary and partial files under `dir` (outside `.git`).
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == ".git" {
                continue;
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            } else if name.starts_with(".bundle-part.")
                || (name.starts_with('.') && name.ends_with(".tmp"))
                || (name.starts_with('.') && name.contains(".zip."))
            {
                found.push(e.path());
            }
        }
    }
    found
}

/// One command, made slow: the run, where it waits, what must stay alive
/// while it runs, and the folder that must hold no partial file after.
struct Case {
    run: Sentinel,
    slow: Slow,
    _keep: Vec<Box<dyn std::any::Any>>,
    repo: Repo,
}

/// A repository with `config`, the run in it with the embedded default's
/// variables set.
fn in_repo(config: Option<&str>) -> (Repo, Sentinel) {
    let repo = match config {
        Some(c) => Repo::with_config(c),
        None => Repo::new(),
    };
    let run = Sentinel::in_repo(&repo).env("OUT", repo.scratch());
    (repo, run)
}

fn held(config: Option<&str>, args: &[&str]) -> Case {
    let (repo, run) = in_repo(config);
    Case {
        run: run.args(args),
        slow: Slow::Stdout,
        _keep: Vec::new(),
        repo,
    }
}

/// The embedded default with its API check pointed at a hung server.
fn builtin_hung(args: &[&str]) -> Case {
    let (server, rx) = hung_server();
    let (repo, run) = in_repo(None);
    Case {
        run: run.env("RS_API_URL", server.url("/health")).args(args),
        slow: Slow::Request(rx),
        _keep: vec![Box::new(server)],
        repo,
    }
}

fn case(name: &str) -> Case {
    let gate = ["--env", "prod", "--version", "v1.2.3"];
    match name {
        "gate" => {
            let (server, rx) = hung_server();
            let (repo, run) = in_repo(Some(&format!(
                "[[health.api]]\nname = \"hung\"\nurl = {}\ntimeout = \"60s\"\nretries = 1\n",
                toml_str(&server.url("/health"))
            )));
            Case {
                run: run.args(gate),
                slow: Slow::Request(rx),
                _keep: vec![Box::new(server)],
                repo,
            }
        }
        "gate (built-in)" => builtin_hung(&gate),
        // A signal while the verdict is being written is still exit 1.
        "gate (writing)" => held(None, &gate),
        "ready" => builtin_hung(&["ready", "--env", "prod", "--version", "v1.2.3"]),
        "verify" => {
            let (server, rx) = hung_server();
            let (repo, run) = in_repo(Some(&format!(
                "[verify]\nfor = \"120s\"\ninterval = \"30s\"\n\n\
                 [[verify.probe]]\nname = \"hung\"\nurl = {}\ntimeout = \"60s\"\n",
                toml_str(&server.url("/health"))
            )));
            Case {
                run: run.args([
                    "verify",
                    "--env",
                    "prod",
                    "--version",
                    "v1.2.3",
                    "--no-rollback",
                ]),
                slow: Slow::Request(rx),
                _keep: vec![Box::new(server)],
                repo,
            }
        }
        "pack" | "gate --dry-run" => {
            let (repo, run) = in_repo(Some(
                "[[pack.steps]]\nname = \"sleeps\"\nshell = true\n\
                 run = \"touch \\\"$OUT/started\\\"; sleep 60\"\ntimeout = \"120s\"\n",
            ));
            let started = repo.scratch().join("started");
            let run = if name == "pack" {
                run.args(["pack", "--env", "dev", "--version", "v1.0.0"])
            } else {
                run.args(["--env", "dev", "--version", "v1.0.0", "--dry-run"])
            };
            Case {
                run,
                slow: Slow::File(started),
                _keep: Vec::new(),
                repo,
            }
        }
        "notify" => {
            let (server, rx) = hung_server();
            let (repo, run) = in_repo(Some(
                "[notify]\napp = \"app\"\n\n[[notify.slack]]\nname = \"ops\"\n\
                 url = \"${SLACK_WEBHOOK_URL}\"\n",
            ));
            Case {
                run: run
                    .env("SLACK_WEBHOOK_URL", server.url("/hook"))
                    .args(["notify", "--env", "prod", "--version", "v1.2.3"])
                    .arg("deployment.started"),
                slow: Slow::Request(rx),
                _keep: vec![Box::new(server)],
                repo,
            }
        }
        "bundle" => {
            let (repo, run) = in_repo(Some(
                "[bundle]\nname = \"app\"\n[[bundle.files]]\npath = \"big.bin\"\n\
                 description = \"big\"\n",
            ));
            // Sparse: large to compress, nothing on disk.
            let big = std::fs::File::create(repo.path.join("big.bin")).expect("create");
            big.set_len(1 << 30).expect("set_len");
            repo.commit_all("big");
            let out = repo.path.join("out");
            Case {
                run: run.args(["bundle", "--version", "v1.2.3", "--out", "out"]),
                slow: Slow::Prefix(out, ".bundle-part."),
                _keep: Vec::new(),
                repo,
            }
        }
        "bundle verify" => held(None, &["bundle", "verify", "missing.zip"]),
        "rotate" => {
            let c = held(None, &["rotate", "--dry-run", "--days", "1", "artifacts"]);
            let dir = c.repo.path.join("artifacts");
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join("old.log"), "x").expect("write");
            c
        }
        "freshness" => held(
            Some(
                "[[freshness.tasks]]\nname = \"nightly\"\nartifact = \"reports/*.json\"\n\
                 max_age = \"36h\"\n",
            ),
            &["freshness"],
        ),
        "backup verify" => held(None, &["backup", "verify", "missing.json"]),
        "parity" => held(None, &["parity", "--source", "dev", "--target", "prod"]),
        "predeploy" => held(None, &["predeploy", "--env", "prod", "--version", "v1.2.3"]),
        "golive" => held(
            None,
            &[
                "golive",
                "--env",
                "prod",
                "--version",
                "v1.2.3",
                "--dry-run",
            ],
        ),
        "evidence verify" => held(None, &["evidence", "verify", "missing"]),
        "init" => held(None, &["init", "--force", "--path", "starter.toml"]),
        "completions" => held(None, &["completions", "bash"]),
        "man" => held(None, &["man"]),
        other => panic!("no case {other}"),
    }
}

/// Interrupt `name` with SIGINT, then SIGTERM: exit 1 each time, not
/// death by the signal, and no partial file left.
fn exits_1_on_both_signals(name: &str) {
    for sig in ["INT", "TERM"] {
        let c = case(name);
        let mut run = start(c.run.into_command(), &c.slow);
        wait_until_slow(&mut run, &c.slow, name);
        let out = interrupt(run, sig, name);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name} after SIG{sig}\n{}",
            context(&out)
        );
        let left = leftovers(&c.repo.path);
        assert!(
            left.is_empty(),
            "{name} after SIG{sig} left {left:?}\n{}",
            context(&out)
        );
    }
}

macro_rules! every_command {
    ($($test:ident: $name:expr),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                exits_1_on_both_signals($name);
            }
        )*
    };
}

every_command! {
    gate_exits_1_on_sigint_and_sigterm: "gate",
    builtin_gate_exits_1_on_sigint_and_sigterm: "gate (built-in)",
    gate_writing_its_verdict_exits_1_on_sigint_and_sigterm: "gate (writing)",
    dry_run_exits_1_on_sigint_and_sigterm: "gate --dry-run",
    pack_exits_1_on_sigint_and_sigterm: "pack",
    ready_exits_1_on_sigint_and_sigterm: "ready",
    verify_exits_1_on_sigint_and_sigterm: "verify",
    notify_exits_1_on_sigint_and_sigterm: "notify",
    bundle_exits_1_on_sigint_and_sigterm: "bundle",
    bundle_verify_exits_1_on_sigint_and_sigterm: "bundle verify",
    rotate_exits_1_on_sigint_and_sigterm: "rotate",
    freshness_exits_1_on_sigint_and_sigterm: "freshness",
    backup_verify_exits_1_on_sigint_and_sigterm: "backup verify",
    parity_exits_1_on_sigint_and_sigterm: "parity",
    predeploy_exits_1_on_sigint_and_sigterm: "predeploy",
    golive_exits_1_on_sigint_and_sigterm: "golive",
    evidence_verify_exits_1_on_sigint_and_sigterm: "evidence verify",
    init_exits_1_on_sigint_and_sigterm: "init",
    completions_exits_1_on_sigint_and_sigterm: "completions",
    man_exits_1_on_sigint_and_sigterm: "man",
}

#[test]
fn an_interrupted_bundle_stops_at_once_and_leaves_no_partial_file() {
    let c = case("bundle");
    let mut run = start(c.run.into_command(), &c.slow);
    wait_until_slow(&mut run, &c.slow, "bundle");
    let sent = Instant::now();
    let out = interrupt(run, "TERM", "bundle");
    assert_eq!(out.status.code(), Some(1), "{}", context(&out));
    // It stops by itself (within the front end's grace), with its report.
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("interrupted"),
        "{}",
        context(&out)
    );
    let dir = c.repo.path.join("out");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(names.is_empty(), "left in out/: {names:?}");
}

#[test]
fn checks_that_answered_keep_their_result_when_the_gate_is_interrupted() {
    for sig in ["TERM", "INT"] {
        // The hung check comes first in the order: the fast one, which has
        // answered, must not be thrown away with it.
        let (hung, hung_rx) = hung_server();
        let (answered_tx, answered) = mpsc::channel();
        let answered_tx = Arc::new(Mutex::new(answered_tx));
        let fast = Server::start(move |x: &mut Exchange| {
            x.ok();
            let _ = answered_tx
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .send(());
        });
        let repo = Repo::with_config(&format!(
            "[[health.api]]\nname = \"hung\"\nurl = {}\ntimeout = \"60s\"\nretries = 1\n\n\
             [[health.api]]\nname = \"fast\"\nurl = {}\nretries = 1\n",
            toml_str(&hung.url("/health")),
            toml_str(&fast.url("/health"))
        ));
        let run = Sentinel::in_repo(&repo).args([
            "--env",
            "prod",
            "--version",
            "v1.2.3",
            "--format",
            "json",
        ]);
        let slow = Slow::Request(hung_rx);
        let mut running = start(run.into_command(), &slow);
        wait_until_slow(&mut running, &slow, "gate");
        answered
            .recv_timeout(START)
            .expect("the fast API was asked and answered");
        // The answer is read and judged in well under this.
        std::thread::sleep(Duration::from_millis(1500));
        let out = interrupt(running, sig, "gate");
        assert_eq!(out.status.code(), Some(1), "{}", context(&out));
        let doc = json_of(&out);
        assert_eq!(doc["interrupted"], true, "{doc:#}");
        let fast_row = json_check(&doc, "api:fast");
        assert_eq!(fast_row["status"], "OK", "{doc:#}");
        let hung_row = json_check(&doc, "api:hung");
        assert_eq!(hung_row["status"], "SKIP", "{doc:#}");
        assert_eq!(hung_row["message"], "not evaluated: interrupted", "{doc:#}");
    }
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
