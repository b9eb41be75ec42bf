//! A real Prometheus on 127.0.0.1 and the exporters it scrapes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::*;

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
