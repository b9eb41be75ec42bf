//! What the integration tests share.
//!
//! - [`Sentinel`]: one run of the binary, the way CI runs it. A run ends in
//!   the status it must exit with, so no run goes unchecked:
//!
//!   ```ignore
//!   Sentinel::in_repo(&repo).gate("prod", "v1.2.3")
//!       .stdout_has(row("clean_tree", "FAIL")).blocked();
//!   ```
//!
//!   The child gets a cleared environment (PATH, a private HOME, and what
//!   the test sets), so CI variables on the machine running the tests do
//!   not leak into it. Every expectation is checked and every mismatch is
//!   reported together with the full stdout and stderr.
//! - [`Repo`]: a real git repository in a temporary folder.
//! - [`Server`]: an HTTP server on 127.0.0.1 that reports each request on a
//!   channel and stops when dropped; [`health_url`] is one shared by all.
//! - [`Reaper`]: kills a started process, and whatever it left running,
//!   when the test ends, pass or fail.
//! - [`Prometheus`]: a real Prometheus on 127.0.0.1 with a throwaway data
//!   directory, backfilled with promtool or scraping a test exporter; its
//!   process group is killed when the test ends, pass or fail. A missing
//!   `prometheus` or `promtool` fails the test with the install command.
//! - [`webhook_receiver`] and [`slack_receiver`]: [`Server`]s that take
//!   notifications; the first checks every Standard Webhooks signature on
//!   its own ([`signature_check`]).

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_release-sentinel");

/// The deploy token the harness sets (not a real secret).
pub const DEPLOY_TOKEN: &str = "tok-not-a-real-secret-0000";

/// The policy gates, in the order the table shows them.
pub const POLICY_GATES: &[&str] = &[
    "env_allowed",
    "git_repo",
    "clean_tree",
    "branch_allowed",
    "version_valid",
    "tag_absent",
    "version_newer",
    "required_config",
    "deploy_window",
    "changelog_entry",
];

/// The gate's final row for each verdict.
pub const SAFE: &str = "| release_sentinel          | OK   | RELEASE_SENTINEL=SAFE |";
pub const BLOCKED: &str = "| release_sentinel          | FAIL | RELEASE_SENTINEL=BLOCKED |";
pub const CRITICAL: &str = "| release_sentinel          | CRIT | RELEASE_SENTINEL=CRITICAL |";

/// A health endpoint on 127.0.0.1 that answers every request with 200,
/// shared by every test of this process: a [`Server`] with a long but
/// bounded life, which ends with the test process.
pub fn health_url() -> &'static str {
    static SHARED: OnceLock<(Server, String)> = OnceLock::new();
    let (_, url) = SHARED.get_or_init(|| {
        let server = Server::with_limits(Duration::from_secs(30 * 60), 10_000, Exchange::ok);
        let url = server.url("/health");
        (server, url)
    });
    url
}

// ------------------------------------------------------------ test server

/// The longest a [`Server`] started with [`Server::start`] lives.
pub const SERVER_LIFETIME: Duration = Duration::from_secs(60);
/// The most connections a [`Server`] started with [`Server::start`] accepts.
pub const SERVER_MAX_CONNECTIONS: usize = 64;
/// The longest one connection is held open (never answered, or streamed).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// How long a test waits for requests it expects before it fails.
const REQUEST_WAIT: Duration = Duration::from_secs(10);

/// One request as a [`Server`] saw it.
#[derive(Clone, Debug)]
pub struct Request {
    /// 0-based, in the order the request heads were read.
    pub n: usize,
    /// The request line and headers, as received.
    pub head: String,
    /// The body, as received (up to `Content-Length`, at most
    /// [`BODY_CAP`] bytes; empty for a request without one).
    pub body: Vec<u8>,
    /// When the head had been read.
    pub at: Instant,
}

/// The most of a request body a [`Server`] reads.
pub const BODY_CAP: usize = 1024 * 1024;

impl Request {
    /// The body as text (invalid UTF-8 replaced).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of the header `name` (any case), if the request had it.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    }
}

/// One connection of a [`Server`], handed to its handler once the request
/// head has been read: the handler answers (or does not).
pub struct Exchange {
    /// The request's number, as in [`Request::n`].
    pub n: usize,
    /// The request itself.
    pub request: Request,
    stream: TcpStream,
    shared: Arc<Shared>,
}

impl Exchange {
    /// Answer with `status`, extra header lines and a small body; close.
    pub fn reply(&mut self, status: &str, headers: &[&str], body: &str) {
        let mut text = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for h in headers {
            text.push_str(h);
            text.push_str("\r\n");
        }
        text.push_str("\r\n");
        text.push_str(body);
        let _ = self.stream.write_all(text.as_bytes());
        let _ = self.stream.flush();
    }

    /// Answer `200 OK` with the body `ok`.
    pub fn ok(&mut self) {
        self.reply("200 OK", &[], "ok");
    }

    /// Never answer: hold the connection until the client gives up, the
    /// server stops or [`CONNECTION_LIFETIME`] has passed.
    pub fn hold(&mut self) {
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(100)));
        let until = Instant::now() + CONNECTION_LIFETIME;
        let mut buf = [0u8; 1024];
        while !self.stopped() && Instant::now() < until {
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
        }
    }

    /// A 200 whose body never ends: `chunk` after `chunk`, `pause` apart,
    /// until the client goes away, the server stops or
    /// [`CONNECTION_LIFETIME`] has passed.
    pub fn endless(&mut self, chunk: &[u8], pause: Duration) {
        let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
        if self.stream.write_all(head).is_err() {
            return;
        }
        let _ = self.stream.set_write_timeout(Some(Duration::from_secs(1)));
        let until = Instant::now() + CONNECTION_LIFETIME;
        while !self.stopped() && Instant::now() < until {
            match self.stream.write_all(chunk) {
                Ok(()) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
            if !pause.is_zero() {
                thread::sleep(pause);
            }
        }
    }

    /// Wait `how_long` before answering, or less if the server stops.
    pub fn pause(&self, how_long: Duration) {
        let until = Instant::now() + how_long;
        while !self.stopped() && Instant::now() < until {
            thread::sleep(Duration::from_millis(10).min(until - Instant::now()));
        }
    }

    /// The port the server listens on (for a `Location` back to it).
    pub fn port(&self) -> u16 {
        self.stream.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Whether the server was stopped (dropped, or its life is over).
    pub fn stopped(&self) -> bool {
        self.shared.stopped()
    }
}

/// What a [`Server`] does with each request.
type Handler = dyn Fn(&mut Exchange) + Send + Sync;

struct Shared {
    stop: AtomicBool,
    /// `None` once the server stopped accepting: its port is closed.
    listener: Mutex<Option<TcpListener>>,
    max_connections: usize,
    /// Connections accepted; changed only while `listener` is locked.
    accepted: AtomicUsize,
    /// Connections whose request head was read (or that sent none).
    settled: Mutex<usize>,
    settled_changed: Condvar,
    /// The next request's number; locked while its report is sent, so the
    /// channel carries the requests in the order of their numbers.
    next: Mutex<usize>,
    requests: Sender<Request>,
    handler: Box<Handler>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Accept every connection waiting in the backlog, each on a thread of
    /// its own.
    fn accept_waiting(self: &Arc<Self>) {
        let listener = self.listener.lock().unwrap_or_else(|e| e.into_inner());
        let Some(listener) = listener.as_ref() else {
            return;
        };
        while self.accepted.load(Ordering::SeqCst) < self.max_connections {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            self.accepted.fetch_add(1, Ordering::SeqCst);
            let shared = Arc::clone(self);
            thread::spawn(move || shared.serve(stream));
        }
    }

    fn close(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    fn serve(self: Arc<Self>, mut stream: TcpStream) {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let read = read_request(&mut stream);
        let at = Instant::now();
        let request = read.map(|(head, body)| {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let n = *next;
            *next += 1;
            let request = Request { n, head, body, at };
            let _ = self.requests.send(request.clone());
            request
        });
        *self.settled.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.settled_changed.notify_all();
        if let Some(request) = request {
            let mut exchange = Exchange {
                n: request.n,
                request,
                stream,
                shared: Arc::clone(&self),
            };
            (self.handler)(&mut exchange);
        }
    }
}

/// Read the request head, and the body its `Content-Length` announces
/// (none without one: a GET). `None` when no complete head arrived.
fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = [0u8; 4096];
    let mut data = Vec::new();
    let end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if data.len() > 64 * 1024 {
            return None;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let mut body = data.split_off(end);
    let head = String::from_utf8_lossy(&data).into_owned();
    let length = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(BODY_CAP);
    while body.len() < length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    body.truncate(length);
    Some((head, body))
}

/// An HTTP/1.1 server on 127.0.0.1, on a port of its own, one thread per
/// connection. Each request is reported on a channel as it arrives, so a
/// test waits for the requests it expects instead of sleeping. It accepts
/// a bounded number of connections for a bounded time, and stops (its port
/// closed, held connections let go) when dropped.
pub struct Server {
    port: u16,
    shared: Arc<Shared>,
    requests: Mutex<Receiver<Request>>,
    /// The requests received from the channel so far.
    seen: Mutex<Vec<Request>>,
}

impl Server {
    /// A server that gives every request to `handler`, for at most
    /// [`SERVER_LIFETIME`] and [`SERVER_MAX_CONNECTIONS`] connections.
    pub fn start(handler: impl Fn(&mut Exchange) + Send + Sync + 'static) -> Self {
        Self::with_limits(SERVER_LIFETIME, SERVER_MAX_CONNECTIONS, handler)
    }

    /// [`Server::start`] with another lifetime and connection count.
    pub fn with_limits(
        lifetime: Duration,
        max_connections: usize,
        handler: impl Fn(&mut Exchange) + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            listener: Mutex::new(Some(listener)),
            max_connections,
            accepted: AtomicUsize::new(0),
            settled: Mutex::new(0),
            settled_changed: Condvar::new(),
            next: Mutex::new(0),
            requests: tx,
            handler: Box::new(handler),
        });
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            let until = Instant::now() + lifetime;
            while !accepting.stopped()
                && Instant::now() < until
                && accepting.accepted.load(Ordering::SeqCst) < max_connections
            {
                accepting.accept_waiting();
                thread::sleep(Duration::from_millis(5));
            }
            accepting.close();
        });
        Self {
            port,
            shared,
            requests: Mutex::new(rx),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The first `n` requests, waiting for them as they arrive; fails the
    /// test, naming what did arrive, when they do not come in time.
    pub fn wait_for(&self, n: usize) -> Vec<Request> {
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = Instant::now() + REQUEST_WAIT;
        while seen.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match requests.recv_timeout(left) {
                Ok(request) => seen.push(request),
                Err(_) => {
                    let heads: Vec<&str> = seen.iter().map(|r| r.head.as_str()).collect();
                    panic!(
                        "waited {REQUEST_WAIT:?} for {n} request(s); {} arrived: {heads:#?}",
                        seen.len()
                    );
                }
            }
        }
        seen[..n].to_vec()
    }

    /// Every request made so far, in order. For use once the client has
    /// exited: a connection it made is then either accepted or waiting in
    /// the backlog, and this accepts and reads every one before it counts,
    /// so a request that arrived late is counted and none is missed.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.accept_waiting();
        let accepted = self.shared.accepted.load(Ordering::SeqCst);
        let deadline = Instant::now() + REQUEST_WAIT;
        let mut settled = self
            .shared
            .settled
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while *settled < accepted {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{} of {accepted} connections sent no request head in {REQUEST_WAIT:?}",
                accepted - *settled
            );
            settled = self
                .shared
                .settled_changed
                .wait_timeout(settled, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(settled);
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.extend(requests.try_iter());
        seen.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.close();
    }
}

/// The name of this test process, which is running for as long as any
/// test runs: the process the embedded default's health check looks for.
pub fn own_process_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .expect("test binary name")
}

/// The variables the embedded default requires: its health checks pass
/// against a live endpoint and a running process.
pub fn default_vars() -> Vec<(&'static str, String)> {
    vec![
        ("RS_REQUIRED_PROCESS", own_process_name()),
        ("RS_API_URL", health_url().to_string()),
        ("RS_DEPLOY_TOKEN", DEPLOY_TOKEN.to_string()),
    ]
}

/// A private HOME, so no user or machine git config is seen.
fn home() -> &'static Path {
    static HOME: OnceLock<TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("temp HOME"))
        .path()
}

/// The environment every child process starts from.
pub fn base_env() -> Vec<(OsString, OsString)> {
    vec![
        ("PATH".into(), std::env::var_os("PATH").unwrap_or_default()),
        ("HOME".into(), home().as_os_str().to_owned()),
        ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
        ("LC_ALL".into(), "C".into()),
    ]
}

/// A real git repository in a temporary folder, on branch `main` with one
/// commit.
pub struct Repo {
    _dir: TempDir,
    pub path: PathBuf,
}

impl Repo {
    /// A repository with one commit on `main`.
    pub fn new() -> Self {
        let repo = Self::empty();
        repo.write("README", "hello\n");
        repo.commit_all("initial");
        repo
    }

    /// A repository with one commit on `main`, then `text` committed as
    /// its `release-sentinel.toml`.
    pub fn with_config(text: &str) -> Self {
        let repo = Self::new();
        repo.config(text);
        repo
    }

    /// `git init` and nothing else: no commit yet.
    pub fn empty() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("repo");
        std::fs::create_dir(&path).expect("mkdir repo");
        let repo = Self { _dir: dir, path };
        repo.git(["init", "-q", "-b", "main"]);
        repo
    }

    /// Run git in the repository; panics with git's stderr on failure.
    pub fn git<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        git_in(&self.path, args)
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, content).expect("write file");
    }

    pub fn commit_all(&self, message: &str) {
        self.git(["add", "-A"]);
        self.git(["commit", "-q", "--allow-empty", "-m", message]);
    }

    pub fn tag(&self, name: &str) {
        self.git(["tag", "-a", name, "-m", name]);
    }

    /// Write `release-sentinel.toml` at the root and commit it.
    pub fn config(&self, text: &str) {
        self.write("release-sentinel.toml", text);
        self.commit_all("config");
    }

    pub fn head(&self) -> String {
        self.git(["rev-parse", "HEAD"]).trim().to_string()
    }

    /// `git clone <args> file://<src> repo` into a fresh temporary folder.
    /// The `file://` URL makes git use its transport, so `--depth` works.
    pub fn clone_of(src: &Repo, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("file://{}", src.path.display());
        let mut full: Vec<&str> = vec!["clone", "-q"];
        full.extend_from_slice(args);
        full.push(&url);
        full.push("repo");
        git_in(dir.path(), full);
        let path = dir.path().join("repo");
        Self { _dir: dir, path }
    }

    /// The temporary folder that holds the work tree: a place for files
    /// that must not be inside the repository (and are removed with it).
    pub fn scratch(&self) -> PathBuf {
        self.path.parent().expect("repo has a parent").to_path_buf()
    }

    /// Write `name` in [`Repo::scratch`], outside the work tree; returns
    /// its path.
    pub fn outside(&self, name: &str, content: &str) -> PathBuf {
        let p = self.scratch().join(name);
        std::fs::write(&p, content).expect("write file outside the repo");
        p
    }
}

/// Run git in `dir` with the harness environment.
pub fn git_in<I, S>(dir: &Path, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(["-c", "protocol.file.allow=always"])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(base_env())
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git failed in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One run of the binary, with expectations. A run ends in the status it
/// must exit with: [`Sentinel::safe`], [`Sentinel::blocked`],
/// [`Sentinel::critical`] or [`Sentinel::code`].
#[must_use = "a run ends in its expected status: .safe(), .blocked(), .critical() or .code(n)"]
pub struct Sentinel {
    cmd: Command,
    stdout_has: Vec<String>,
    stdout_lacks: Vec<String>,
    stderr_has: Vec<String>,
    stderr_lacks: Vec<String>,
    stdout_exact: Option<String>,
    stderr_empty: bool,
    non_ascii_ok: bool,
}

impl Sentinel {
    pub fn new() -> Self {
        Self::of(Path::new(BIN))
    }

    /// Like [`Sentinel::new`], but runs `bin` (a copy of the binary under
    /// another name, for instance).
    pub fn of(bin: &Path) -> Self {
        let mut cmd = Command::new(bin);
        cmd.env_clear().envs(base_env());
        Self {
            cmd,
            stdout_has: Vec::new(),
            stdout_lacks: Vec::new(),
            stderr_has: Vec::new(),
            stderr_lacks: Vec::new(),
            stdout_exact: None,
            stderr_empty: false,
            non_ascii_ok: false,
        }
    }

    /// Run in `repo`, with the embedded default's required variables set.
    pub fn in_repo(repo: &Repo) -> Self {
        Self::new().dir(&repo.path).default_vars()
    }

    /// The pre-live pack (`--env dev --version v1.0.0 --dry-run`) in
    /// `repo`, with `$OUT` naming its scratch folder (steps write there,
    /// and a [`Reaper`] finds their processes by it).
    pub fn dry_run(repo: &Repo) -> Self {
        Self::new()
            .dir(&repo.path)
            .env("OUT", repo.scratch())
            .gate("dev", "v1.0.0")
            .arg("--dry-run")
    }

    /// `--env ENV --version VERSION`.
    pub fn gate(self, env: &str, version: &str) -> Self {
        self.args(["--env", env, "--version", version])
    }

    pub fn dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn default_vars(mut self) -> Self {
        for (k, v) in default_vars() {
            self.cmd.env(k, v);
        }
        self
    }

    pub fn stdout_has(mut self, needle: impl Into<String>) -> Self {
        self.stdout_has.push(needle.into());
        self
    }

    pub fn stdout_lacks(mut self, needle: impl Into<String>) -> Self {
        self.stdout_lacks.push(needle.into());
        self
    }

    pub fn stdout(mut self, exact: impl Into<String>) -> Self {
        self.stdout_exact = Some(exact.into());
        self
    }

    pub fn stderr_has(mut self, needle: impl Into<String>) -> Self {
        self.stderr_has.push(needle.into());
        self
    }

    pub fn stderr_lacks(mut self, needle: impl Into<String>) -> Self {
        self.stderr_lacks.push(needle.into());
        self
    }

    /// Neither stdout nor stderr contains `needle`.
    pub fn nowhere(self, needle: impl Into<String>) -> Self {
        let needle = needle.into();
        self.stdout_lacks(needle.clone()).stderr_lacks(needle)
    }

    pub fn stderr_empty(mut self) -> Self {
        self.stderr_empty = true;
        self
    }

    /// stdout may rightly carry non-ASCII text (JUnit and Markdown keep
    /// what XML and Markdown can carry): skip the table's ASCII rule.
    pub fn allow_non_ascii(mut self) -> Self {
        self.non_ascii_ok = true;
        self
    }

    /// The command as built so far, to spawn it (to send it a signal).
    pub fn into_command(self) -> Command {
        self.cmd
    }

    /// Run, expecting exit 0 (SAFE, or a command that passed).
    pub fn safe(self) -> Output {
        self.code(0)
    }

    /// Run, expecting exit 1 (BLOCKED, a usage error, a command that failed).
    pub fn blocked(self) -> Output {
        self.code(1)
    }

    /// Run, expecting exit 2 (CRITICAL, or ROLLBACK).
    pub fn critical(self) -> Output {
        self.code(2)
    }

    /// Run, expecting exit `code`, and check every other expectation;
    /// returns the output for more checks.
    pub fn code(self, code: i32) -> Output {
        self.run(&[code])
    }

    /// Run, expecting one of `codes`: for a run whose status depends on the
    /// machine (the disk and memory of this host) or on timing that the
    /// test cannot control. Checks every other expectation.
    pub fn code_in(self, codes: &[i32]) -> Output {
        assert!(!codes.is_empty(), "code_in needs at least one status");
        self.run(codes)
    }

    /// Run and check the status and every expectation; returns the output
    /// for more checks.
    fn run(mut self, codes: &[i32]) -> Output {
        let out = self.cmd.output().expect("run release-sentinel");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut problems = Vec::new();
        if !out.status.code().is_some_and(|c| codes.contains(&c)) {
            let expected = match codes {
                [one] => one.to_string(),
                many => format!("one of {many:?}"),
            };
            problems.push(format!("{}, expected {expected}", out.status));
        }
        if let Some(exact) = &self.stdout_exact
            && stdout != exact.as_str()
        {
            problems.push(format!("stdout differs; expected:\n{exact}"));
        }
        for n in &self.stdout_has {
            if !stdout.contains(n.as_str()) {
                problems.push(format!("stdout lacks {n:?}"));
            }
        }
        for n in &self.stdout_lacks {
            if stdout.contains(n.as_str()) {
                problems.push(format!("stdout contains {n:?}"));
            }
        }
        for n in &self.stderr_has {
            if !stderr.contains(n.as_str()) {
                problems.push(format!("stderr lacks {n:?}"));
            }
        }
        for n in &self.stderr_lacks {
            if stderr.contains(n.as_str()) {
                problems.push(format!("stderr contains {n:?}"));
            }
        }
        if self.stderr_empty && !stderr.is_empty() {
            problems.push("stderr is not empty".to_string());
        }
        // Contract checks that hold for every run.
        if let Some(code) = out.status.code()
            && !(0..=2).contains(&code)
        {
            problems.push(format!("exit code {code} is outside 0..=2"));
        }
        if !self.non_ascii_ok && !out.stdout.is_ascii() && !stdout.trim_start().starts_with('{') {
            problems.push("the table is not ASCII".to_string());
        }
        if !problems.is_empty() {
            panic!(
                "{} mismatch(es):\n- {}\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}--------------",
                problems.len(),
                problems.join("\n- ")
            );
        }
        out
    }
}

/// A TOML basic string (JSON's escapes are a subset of TOML's).
pub fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("quote")
}

/// The exit status, stdout and stderr of a run, for assertion messages.
pub fn context(out: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}--- stderr ---\n{}--------------",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A JSON report without its `duration_ms` fields (the gate's `checks` or
/// the pack's `steps`) and the time it was made (`time`), to compare two
/// runs.
pub fn without_durations(mut doc: serde_json::Value) -> serde_json::Value {
    if let Some(o) = doc.as_object_mut() {
        o.remove("time");
    }
    for key in ["checks", "steps"] {
        if let Some(rows) = doc[key].as_array_mut() {
            for r in rows {
                if let Some(o) = r.as_object_mut() {
                    o.remove("duration_ms");
                }
            }
        }
    }
    doc
}

/// The table row for `id`, as printed (without the message when `None`).
pub fn row(id: &str, status: &str) -> String {
    format!("| {id:<25} | {status:<4} |")
}

/// The message cell of `id`'s row in a table.
pub fn message_of(stdout: &[u8], id: &str) -> String {
    let text = String::from_utf8_lossy(stdout);
    let prefix = format!("| {id:<25} | ");
    text.lines()
        .find(|l| l.starts_with(&prefix))
        .map(|l| l[prefix.len() + 7..].trim_end_matches(" |").to_string())
        .unwrap_or_else(|| panic!("no row {id} in:\n{text}"))
}

/// Whether the process runs as root (some cases need to chown).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The digest `sha256sum` prints for `path`.
pub fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "sha256sum {}", path.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let digest = text.split_whitespace().next().unwrap_or("").to_string();
    assert_eq!(digest.len(), 64, "sha256sum printed {text:?}");
    digest
}

/// The binary, held to file modes even when the tests run as root: as
/// root, started through util-linux `setpriv` with the capabilities that
/// override modes (`dac_override`, `dac_read_search`) dropped. Without
/// `setpriv` the test fails and says what to install: a read-only folder
/// or an unreadable file is then shown to root too, never skipped.
pub fn held_to_file_modes() -> Sentinel {
    if !is_root() {
        return Sentinel::new();
    }
    let found = Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "setpriv is not installed, and as root only it makes file modes hold: \
         apt-get install -y util-linux"
    );
    Sentinel::of(Path::new("setpriv"))
        .args(["--bounding-set=-dac_override,-dac_read_search", "--"])
        .arg(BIN)
}

/// stdout of a `--format json` run, parsed.
pub fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The check `id` in a parsed JSON report.
pub fn json_check<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {doc:#}"))
}

/// Whether `pid` is a live process (a zombie is dead: it only waits to be
/// reaped by whoever inherited it).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z'),
    }
}

/// The live processes that carry `OUT=<scratch>` in their environment:
/// every process a step of this test started (steps inherit the
/// variable), whatever its group or session.
pub fn survivors(scratch: &std::path::Path) -> Vec<u32> {
    let tag = format!("OUT={}", scratch.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == tag.as_bytes()))
        })
        .filter(|pid| alive(*pid))
        .collect()
}

/// Send `signal` (`INT`, `TERM`, `KILL`, ...) to `pid` with `kill`.
pub fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Kills, when dropped, pass or fail, the child it holds and every live
/// process tagged `OUT=<scratch>` (see [`survivors`]): whatever a test
/// started, and whatever a step started in turn, is not left running.
pub struct Reaper {
    scratch: PathBuf,
    child: Option<Child>,
}

impl Reaper {
    /// A reaper for the processes tagged with `scratch`; it holds no child
    /// yet.
    pub fn new(scratch: &Path) -> Self {
        Self {
            scratch: scratch.to_path_buf(),
            child: None,
        }
    }

    /// A reaper for `repo`'s scratch folder.
    pub fn for_repo(repo: &Repo) -> Self {
        Self::new(&repo.scratch())
    }

    /// Start `cmd` tagged `OUT=<scratch>`, stdin empty and stdout and
    /// stderr captured, and hold it; returns its pid. Retries while a
    /// freshly copied executable is still "busy" (a concurrent fork in this
    /// test process may briefly hold it open).
    pub fn spawn(&mut self, cmd: &mut Command) -> u32 {
        assert!(self.child.is_none(), "the reaper already holds a child");
        cmd.env("OUT", &self.scratch)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for _ in 0..50 {
            match cmd.spawn() {
                Ok(child) => {
                    let pid = child.id();
                    self.child = Some(child);
                    return pid;
                }
                Err(e) if e.raw_os_error() == Some(26) => thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("spawn {cmd:?}: {e}"),
            }
        }
        panic!("spawn {cmd:?}: text file busy");
    }

    /// The held child's exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut().expect("the reaper holds no child");
        child.try_wait().expect("try_wait")
    }

    /// Wait up to `timeout` for the held child to exit (failing the test if
    /// it does not) and return what it printed.
    pub fn wait(&mut self, timeout: Duration) -> Output {
        let until = Instant::now() + timeout;
        while self.exited().is_none() {
            assert!(
                Instant::now() < until,
                "the child did not exit within {timeout:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        let child = self.child.take().expect("the reaper holds no child");
        child
            .wait_with_output()
            .expect("collect the child's output")
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in survivors(&self.scratch) {
            signal(pid, "KILL");
        }
    }
}

/// Whether `pid` is gone within a moment (a killed process still needs
/// the kernel to tear it down).
pub fn gone_soon(pid: u32) -> bool {
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

/// The pid a step wrote into `path`, waiting up to 10 s for it.
pub fn read_pid(path: &Path) -> u32 {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        assert!(
            Instant::now() < until,
            "no pid was written to {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fails, naming them, if any process of the test's steps is still
/// running a moment after the run.
pub fn assert_no_survivors(repo: &Repo) {
    let scratch = repo.scratch();
    let until = Instant::now() + Duration::from_secs(3);
    let mut left = survivors(&scratch);
    while !left.is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
        left = survivors(&scratch);
    }
    let described: Vec<String> = left
        .iter()
        .map(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            )
        })
        .collect();
    assert!(left.is_empty(), "still running: {described:?}");
}

// ------------------------------------------------------------ prometheus

/// The command that installs `prometheus` and `promtool` (Debian's package).
pub const PROMETHEUS_INSTALL: &str = "apt-get install -y --no-install-recommends prometheus";

/// The path of `tool` on PATH. A test that needs a missing tool fails,
/// naming the command that installs it: it never passes without it.
pub fn require_tool(tool: &str, install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{tool} is not installed, and this test runs a real one; install it: {install}")
        })
}

/// One HTTP/1.1 exchange with a server on 127.0.0.1 (`Connection: close`,
/// every step bounded by `timeout`): the status and the body. For the
/// tests' own look at a server, not for what is under test.
pub fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: not an http URL"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let addr: std::net::SocketAddr = host.parse().map_err(|e| format!("{host}: {e}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    let mut request = text.into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream
        .take(16 * 1024 * 1024)
        .read_to_end(&mut answer)
        .map_err(|e| e.to_string())?;
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no complete answer head")?;
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP answer: {head}"))?;
    let mut payload = answer[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        payload = dechunk(&payload);
    }
    Ok((status, payload))
}

/// A chunked body, joined.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || data.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[(eol + 4 + size).min(data.len())..];
    }
    out
}

/// `text` percent-encoded for a query string or a form body.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How long a Prometheus may take to become ready.
const PROMETHEUS_READY: Duration = Duration::from_secs(30);

/// A real Prometheus (Debian's package) on 127.0.0.1, on a port of its
/// own, with a throwaway data directory, optionally filled beforehand
/// with `promtool tsdb create-blocks-from openmetrics`. It is the leader
/// of a process group of its own, and the group is killed when this is
/// dropped (or [`Prometheus::stop`]ped), pass or fail.
pub struct Prometheus {
    dir: TempDir,
    port: u16,
    child: Option<Child>,
}

impl Prometheus {
    /// Start one with `config` (prometheus.yml) and no history.
    pub fn start(config: &str) -> Self {
        Self::launch(config, None)
    }

    /// Start one with `config` whose data directory first gets the
    /// samples of `openmetrics` (an OpenMetrics text ending in `# EOF`).
    pub fn with_history(config: &str, openmetrics: &str) -> Self {
        Self::launch(config, Some(openmetrics))
    }

    /// A config with no scrape target (the history only).
    pub fn no_scrapes() -> &'static str {
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs: []\n"
    }

    /// A config that scrapes `target` (`127.0.0.1:PORT`) every second.
    pub fn scraping(target: &str) -> String {
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: exporter\n    static_configs:\n      - targets: [\"{target}\"]\n"
        )
    }

    fn launch(config: &str, openmetrics: Option<&str>) -> Self {
        let prometheus = require_tool("prometheus", PROMETHEUS_INSTALL);
        let mut dir = tempfile::tempdir().expect("temp dir for prometheus");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("mkdir prometheus data");
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        if let Some(text) = openmetrics {
            let promtool = require_tool("promtool", PROMETHEUS_INSTALL);
            let file = dir.path().join("history.om");
            std::fs::write(&file, text).expect("write the history");
            let out = Command::new(promtool)
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                .arg(&file)
                .arg(&data)
                .output()
                .expect("run promtool");
            assert!(
                out.status.success(),
                "promtool could not backfill: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // A free port, released just before Prometheus takes it: another
        // process may take it in between, so a failed start is retried.
        let mut why = String::new();
        for _ in 0..3 {
            let port = {
                let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
                l.local_addr().expect("local addr").port()
            };
            let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
            let mut cmd = Command::new(&prometheus);
            cmd.arg(format!("--config.file={}", config_path.display()))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--storage.tsdb.retention.time=3650d")
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            let child = cmd.spawn().expect("start prometheus");
            let mut prom = Self {
                dir,
                port,
                child: Some(child),
            };
            match prom.wait_ready() {
                Ok(()) => return prom,
                Err(e) => {
                    why = e;
                    prom.stop();
                    dir = std::mem::replace(&mut prom.dir, tempfile::tempdir().expect("temp dir"));
                }
            }
        }
        panic!("prometheus did not start: {why}");
    }

    /// Poll `/-/ready` until it answers 200, the process exits, or
    /// [`PROMETHEUS_READY`] has passed.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + PROMETHEUS_READY;
        let url = self.url("/-/ready");
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!("it exited ({status}): {}", self.log()));
            }
            if let Ok((200, _)) = http("GET", &url, &[], b"", Duration::from_secs(1)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "not ready after {PROMETHEUS_READY:?}: {}",
                    self.log()
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// What Prometheus logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The value of the instant query `query` now: `None` for an empty
    /// result; panics on anything but a one-sample answer.
    pub fn value(&self, query: &str) -> Option<f64> {
        let url = self.url(&format!("/api/v1/query?query={}", url_encode(query)));
        let (status, body) = http("GET", &url, &[], b"", Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("query {query}: {e}"));
        let doc: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("query {query}: HTTP {status}, not JSON ({e})"));
        assert_eq!(doc["status"], "success", "query {query}: {doc}");
        let result = doc["data"]["result"].as_array().expect("a vector");
        match result.as_slice() {
            [] => None,
            [one] => one["value"][1].as_str().and_then(|v| v.parse().ok()),
            _ => panic!("query {query}: more than one series: {doc}"),
        }
    }

    /// Wait until the instant query `query` returns `expected` (Prometheus
    /// scraped it); fails the test after `within`.
    pub fn wait_for_value(&self, query: &str, expected: f64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.value(query);
            if seen == Some(expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{query} is {seen:?}, not {expected}, after {within:?}; prometheus log:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kill its process group now and reap it (idempotent).
    pub fn stop(&mut self) {
        kill_group(self.child.take());
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

// ------------------------------------------------------------ exporters

/// The command that installs Debian's node_exporter and process-exporter.
pub const EXPORTERS_INSTALL: &str = "apt-get install -y --no-install-recommends \
     prometheus-node-exporter prometheus-process-exporter";

/// A real exporter (Debian's node_exporter or process-exporter) on
/// 127.0.0.1, on a port of its own, in a process group of its own that is
/// killed when this is dropped (or [`Exporter::stop`]ped), pass or fail.
pub struct Exporter {
    port: u16,
    child: Option<Child>,
    log: TempDir,
}

impl Exporter {
    /// node_exporter with the filesystem and meminfo collectors only.
    pub fn node() -> Self {
        let bin = require_tool("prometheus-node-exporter", EXPORTERS_INSTALL);
        Self::launch(|port| {
            let mut cmd = Command::new(&bin);
            cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .args([
                    "--collector.disable-defaults",
                    "--collector.filesystem",
                    "--collector.meminfo",
                ]);
            cmd
        })
    }

    /// process-exporter watching the processes named `names`.
    pub fn process(names: &[&str]) -> Self {
        let bin = require_tool("prometheus-process-exporter", EXPORTERS_INSTALL);
        let names = names.join(",");
        Self::launch(|port| {
            let mut cmd = Command::new(&bin);
            cmd.args(["-web.listen-address", &format!("127.0.0.1:{port}")])
                .args(["-procnames", &names]);
            cmd
        })
    }

    fn launch(command: impl Fn(u16) -> Command) -> Self {
        let mut why = String::new();
        // A free port, released just before the exporter takes it: another
        // process may take it in between, so a failed start is retried.
        for _ in 0..3 {
            let log = tempfile::tempdir().expect("temp dir for an exporter");
            let port = {
                let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
                l.local_addr().expect("local addr").port()
            };
            let file = std::fs::File::create(log.path().join("log")).expect("log file");
            let mut cmd = command(port);
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(file);
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            let child = cmd.spawn().expect("start the exporter");
            let mut exporter = Self {
                port,
                child: Some(child),
                log,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            let url = format!("http://127.0.0.1:{port}/metrics");
            loop {
                if let Ok((200, _)) = http("GET", &url, &[], b"", Duration::from_secs(2)) {
                    return exporter;
                }
                let exited = exporter
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten());
                if exited.is_some() || Instant::now() > deadline {
                    why = std::fs::read_to_string(exporter.log.path().join("log"))
                        .unwrap_or_default();
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
            exporter.stop();
        }
        panic!("the exporter did not start: {why}");
    }

    /// `127.0.0.1:<port>`, as a scrape target.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kill its process group now and reap it (idempotent).
    pub fn stop(&mut self) {
        kill_group(self.child.take());
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A server in front of `upstream` (a Prometheus) that passes on only the
/// requests carrying `Authorization: Bearer <token>`, and answers 401 with
/// Prometheus's error shape to the rest.
pub fn bearer_proxy(upstream: String, token: &'static str) -> Server {
    bearer_proxy_with_limits(upstream, token, SERVER_LIFETIME, SERVER_MAX_CONNECTIONS)
}

/// [`bearer_proxy`] with another lifetime and connection count (for a
/// test that runs several commands through it).
pub fn bearer_proxy_with_limits(
    upstream: String,
    token: &'static str,
    lifetime: Duration,
    max_connections: usize,
) -> Server {
    Server::with_limits(lifetime, max_connections, move |x| {
        if x.request.header("authorization") != Some(format!("Bearer {token}")) {
            let no = r#"{"status":"error","errorType":"unauthorized","error":"no token"}"#;
            return x.reply("401 Unauthorized", &["Content-Type: application/json"], no);
        }
        let line = x.request.head.lines().next().unwrap_or("").to_string();
        let mut parts = line.split(' ');
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let kind = x.request.header("content-type").unwrap_or_default();
        let url = format!("{upstream}{path}");
        let headers = [("Content-Type", kind.as_str())];
        let body = x.request.body.clone();
        match http(method, &url, &headers, &body, Duration::from_secs(10)) {
            Ok((status, answer)) => x.reply(
                &format!("{status} Upstream"),
                &["Content-Type: application/json"],
                &String::from_utf8_lossy(&answer),
            ),
            Err(e) => x.reply("502 Bad Gateway", &[], &e),
        }
    })
}

// ------------------------------------------------------------ webhook receivers

/// A Standard Webhooks signing secret for `key`: `whsec_<base64>`.
pub fn whsec(key: &[u8]) -> String {
    use base64::Engine;
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// Whether `r` carries a valid Standard Webhooks signature made with
/// `key`, computed here on its own: `webhook-id` (`msg_...`),
/// `webhook-timestamp` (unix seconds, within 5 minutes of now) and a
/// `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` among the
/// space-separated signatures of `webhook-signature`.
pub fn signature_check(key: &[u8], r: &Request) -> Result<(), String> {
    use base64::Engine;
    use hmac::Mac;
    let id = r.header("webhook-id").ok_or("no webhook-id header")?;
    let timestamp = r
        .header("webhook-timestamp")
        .ok_or("no webhook-timestamp header")?;
    let signatures = r
        .header("webhook-signature")
        .ok_or("no webhook-signature header")?;
    if !id.starts_with("msg_") {
        return Err(format!("webhook-id {id:?} does not start with msg_"));
    }
    let sent: i64 = timestamp
        .parse()
        .map_err(|_| format!("webhook-timestamp {timestamp:?} is not unix seconds"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    if (now - sent).abs() > 300 {
        return Err(format!(
            "webhook-timestamp {sent} is not within 5 minutes of {now}"
        ));
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("an HMAC key");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&r.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if signatures
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
    {
        Ok(())
    } else {
        Err(format!("no signature matches: {signatures:?}"))
    }
}

/// A webhook receiver that takes (204) only deliveries signed with `key`
/// and answers 401 to the rest; every request is recorded.
pub fn webhook_receiver(key: &[u8]) -> Server {
    let key = key.to_vec();
    Server::start(move |x| match signature_check(&key, &x.request) {
        Ok(()) => x.reply("204 No Content", &[], ""),
        Err(why) => x.reply("401 Unauthorized", &["Content-Type: text/plain"], &why),
    })
}

/// A Slack incoming webhook's answer: 200 with the body `ok`.
pub fn slack_receiver() -> Server {
    Server::start(|x| x.reply("200 OK", &["Content-Type: text/plain"], "ok"))
}

/// Kill a server's process group (it was started in a group of its own)
/// and reap it; nothing when it is already gone.
fn kill_group(child: Option<std::process::Child>) {
    if let Some(mut child) = child {
        if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
