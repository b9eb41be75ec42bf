//! HTTP servers on 127.0.0.1 ([`Server`]), the shared health endpoint, and
//! the receivers of notifications.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

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
