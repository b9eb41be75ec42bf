//! The health phase against real things: HTTP servers on 127.0.0.1 that
//! the test starts (the harness's [`Server`]: raw HTTP/1.1, one thread per
//! connection, every request reported), real child processes, the real
//! filesystem and memory.
//!
//! Every server stops by itself: it accepts a bounded number of
//! connections for a bounded time, and stops when the test drops it.
//! Configs set `backoff = "100ms"` to keep the suite fast, except
//! `default_backoff_waits_a_second_before_the_retry`, which proves the real
//! schedule. An upper time bound leaves at least 3x the expected time (a
//! loaded 2-core CI machine) and still proves its point; concurrency is
//! proved by what the servers saw, not by a clock.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{
    BIN, BLOCKED, CRITICAL, Exchange, POLICY_GATES, Reaper, Repo, SAFE, Sentinel, Server, context,
    each_row, health_url, json_check, json_of, message_of, own_process_name, row, toml_str,
};
use crate::tools::{copy_executable, sleep_binary, unique};

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

// ------------------------------------------------------------ helpers

/// When each request reached `server`, in order (once the run is over).
fn arrivals(server: &Server) -> Vec<Instant> {
    server.requests().iter().map(|r| r.at).collect()
}

/// The heads of the requests that reached `server`, in order.
fn heads(server: &Server) -> Vec<String> {
    server.requests().into_iter().map(|r| r.head).collect()
}

/// An `[[health.api]]` entry with the fast test backoff and `extra` keys.
fn api(name: &str, url: &str, extra: &str) -> String {
    format!("[[health.api]]\nname = \"{name}\"\nurl = \"{url}\"\nbackoff = \"100ms\"\n{extra}\n")
}

/// A server that answers `status` with `headers` and `body` to the first
/// `failures` requests, and 200 after.
fn ok_after(
    failures: usize,
    status: &'static str,
    headers: &'static [&'static str],
    body: &'static str,
) -> Server {
    Server::start(move |x| {
        if x.n < failures {
            x.reply(status, headers, body);
        } else {
            x.ok();
        }
    })
}

/// Run, and how long the run took.
fn timed(run: impl FnOnce() -> Output) -> (Output, Duration) {
    let start = Instant::now();
    let out = run();
    (out, start.elapsed())
}

/// The status word of `id`'s row.
fn status_of(stdout: &[u8], id: &str) -> String {
    let text = String::from_utf8_lossy(stdout);
    let prefix = format!("| {id:<25} | ");
    text.lines()
        .find(|l| l.starts_with(&prefix))
        .map(|l| l[prefix.len()..prefix.len() + 4].trim_end().to_string())
        .unwrap_or_else(|| panic!("no row {id} in:\n{text}"))
}

/// The ids of the rows, in order (the final row included).
fn row_ids(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .map(|l| l.split(" | ").next().unwrap_or("").trim_end().to_string())
        .collect()
}

// ------------------------------------------------------------ api: answers

/// A server that answers every request at once, what the config expects
/// of it, and what the gate must say after exactly one request.
struct AtOnce {
    name: &'static str,
    reply: fn(&mut Exchange),
    extra: &'static str,
    status: &'static str,
    /// The message after `GET {url}`.
    says: &'static str,
    verdict: &'static str,
    code: i32,
}

#[test]
fn an_answer_is_judged_after_one_request() {
    let rows = [
        AtOnce {
            name: "200 is ok",
            reply: Exchange::ok,
            extra: "",
            status: "OK",
            says: " -> 200 in 1 attempt |",
            verdict: SAFE,
            code: 0,
        },
        AtOnce {
            name: "404 is critical without a retry",
            reply: |x| x.reply("404 Not Found", &[], "nope"),
            extra: "retries = 3",
            status: "CRIT",
            says: " -> 404 (expected 200; not retried)",
            verdict: CRITICAL,
            code: 2,
        },
        AtOnce {
            name: "expect_status accepts any listed status",
            reply: |x| x.reply("204 No Content", &[], ""),
            extra: "expect_status = [200, 204]",
            status: "OK",
            says: " -> 204 in 1 attempt",
            verdict: SAFE,
            code: 0,
        },
        AtOnce {
            name: "a 200 that was not expected is critical",
            reply: Exchange::ok,
            extra: "expect_status = 204",
            status: "CRIT",
            says: " -> 200 (expected 204; not retried)",
            verdict: CRITICAL,
            code: 2,
        },
    ];
    each_row(
        &rows,
        |r| r.name,
        |r| {
            let server = Server::start(r.reply);
            let url = server.url("/health");
            let repo = Repo::with_config(&api("svc", &url, r.extra));
            let out = Sentinel::prod(&repo)
                .stdout_has(row("api:svc", r.status))
                .stdout_has(format!("GET {url}{}", r.says))
                .stdout_has(r.verdict)
                .code(r.code);
            assert_eq!(server.requests().len(), 1, "{}", context(&out));
        },
    );
}

#[test]
fn api_503_twice_then_200_is_ok_after_three_attempts() {
    let server = ok_after(2, "503 Service Unavailable", &[], "busy");
    let url = server.url("/health");
    let repo = Repo::with_config(&api("svc", &url, ""));
    let out = Sentinel::prod(&repo)
        .stdout_has(row("api:svc", "OK"))
        .stdout_has(format!("GET {url} -> 200 in 3 attempts"))
        .stdout_has(SAFE)
        .safe();
    let at = arrivals(&server);
    assert_eq!(at.len(), 3, "{}", context(&out));
    // Exponential backoff from the 100 ms base: 100 ms, then 200 ms.
    let (first, second) = (at[1] - at[0], at[2] - at[1]);
    assert!(first >= Duration::from_millis(100), "first wait {first:?}");
    assert!(
        second >= Duration::from_millis(200),
        "second wait {second:?}"
    );
}

#[test]
fn default_backoff_waits_a_second_before_the_retry() {
    // No `backoff` key: the real 1 s schedule.
    let server = ok_after(1, "503 Service Unavailable", &[], "busy");
    let url = server.url("/health");
    let repo = Repo::with_config(&format!(
        "[[health.api]]\nname = \"svc\"\nurl = \"{url}\"\n"
    ));
    let (out, elapsed) = timed(|| {
        Sentinel::prod(&repo)
            .stdout_has(row("api:svc", "OK"))
            .stdout_has(format!("GET {url} -> 200 in 2 attempts"))
            .stdout_has(SAFE)
            .safe()
    });
    let at = arrivals(&server);
    assert_eq!(at.len(), 2, "{}", context(&out));
    let wait = at[1] - at[0];
    assert!(wait >= Duration::from_secs(1), "waited only {wait:?}");
    // 1 s plus at most 25% of jitter: more than 3x that is not a backoff.
    assert!(wait < Duration::from_secs(4), "waited {wait:?}");
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
}

#[test]
fn api_429_with_retry_after_is_honoured() {
    let server = ok_after(1, "429 Too Many Requests", &["Retry-After: 1"], "slow down");
    let url = server.url("/health");
    let repo = Repo::with_config(&api("svc", &url, ""));
    let out = Sentinel::prod(&repo)
        .stdout_has(row("api:svc", "OK"))
        .stdout_has(format!("GET {url} -> 200 in 2 attempts"))
        .stdout_has(SAFE)
        .safe();
    let at = arrivals(&server);
    assert_eq!(at.len(), 2, "{}", context(&out));
    // The backoff alone would be at most 125 ms: the 1 s came from the
    // server's Retry-After.
    let wait = at[1] - at[0];
    assert!(
        wait >= Duration::from_millis(950),
        "Retry-After: 1 not honoured: the retry came after {wait:?}"
    );
    assert!(wait < Duration::from_secs(4), "waited {wait:?}");
}

// ------------------------------------------------------------ api: failures

#[test]
fn api_that_never_answers_is_critical_within_its_budget() {
    let server = Server::start(Exchange::hold);
    let url = server.url("/health");
    let repo = Repo::with_config(&api("svc", &url, "timeout = \"1s\"\nretries = 2"));
    let (out, elapsed) = timed(|| {
        Sentinel::prod(&repo)
            .stdout_has(row("api:svc", "CRIT"))
            .stdout_has(format!("GET {url}: timed out after 1s (2 attempts)"))
            .stdout_has(CRITICAL)
            .critical()
    });
    // Two 1 s attempts and one short wait: about 2.1 s. The bound leaves
    // room for a loaded machine and is still far below the 30 s the server
    // holds a connection: the budget holds.
    assert!(elapsed >= Duration::from_secs(2), "took only {elapsed:?}");
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
    assert_eq!(server.requests().len(), 2, "{}", context(&out));
}

#[test]
fn api_on_a_closed_port_is_connection_refused() {
    let url = format!("http://127.0.0.1:{}/health", closed_port());
    let repo = Repo::with_config(&api("svc", &url, "retries = 2"));
    let (out, elapsed) = timed(|| {
        Sentinel::prod(&repo)
            .stdout_has(row("api:svc", "CRIT"))
            .stdout_has(format!("GET {url}: connection refused (2 attempts)"))
            .stdout_has(CRITICAL)
            .critical()
    });
    assert!(
        elapsed < Duration::from_secs(5),
        "took {elapsed:?}\n{}",
        context(&out)
    );
}

#[test]
fn endless_body_does_not_hang_the_check() {
    // 8 KiB at a time, as fast as the client takes them.
    let server = Server::start(|x| x.endless(&[b'x'; 8192], Duration::ZERO));
    let url = server.url("/stream");
    let repo = Repo::with_config(&api("svc", &url, "timeout = \"2s\"\nretries = 1"));
    let (out, elapsed) = timed(|| {
        Sentinel::prod(&repo)
            .stdout_has(format!("GET {url}"))
            .safe()
    });
    let status = status_of(&out.stdout, "api:svc");
    // Only a bounded part of the body is read; the status was 200.
    assert_eq!(status, "OK", "{}", context(&out));
    assert!(
        message_of(&out.stdout, "api:svc").contains("-> 200 in 1 attempt"),
        "{}",
        context(&out)
    );
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
    assert_eq!(server.requests().len(), 1, "{}", context(&out));
}

#[test]
fn slow_endless_body_is_cut_off_by_the_timeout() {
    // A byte every 50 ms: the body cap is never reached, only the timeout
    // can end the read.
    let server = Server::start(|x| x.endless(b"x", Duration::from_millis(50)));
    let url = server.url("/drip");
    let repo = Repo::with_config(&api("svc", &url, "timeout = \"2s\"\nretries = 1"));
    // Whether the last byte before the timeout completes the read depends
    // on timing: OK (exit 0) or CRIT (exit 2), never anything else.
    let (out, elapsed) = timed(|| {
        Sentinel::prod(&repo)
            .stdout_has(format!("GET {url}"))
            .code_in(&[0, 2])
    });
    let status = status_of(&out.stdout, "api:svc");
    let code = out.status.code();
    assert!(
        (status == "OK" && code == Some(0)) || (status == "CRIT" && code == Some(2)),
        "{}",
        context(&out)
    );
    // The 2 s timeout ends the read; the server would drip for 30 s.
    assert!(
        elapsed < Duration::from_secs(8),
        "took {elapsed:?}\n{}",
        context(&out)
    );
}

#[test]
fn redirect_loop_is_critical_and_bounded() {
    let server = Server::start(|x| {
        let location = format!("Location: http://127.0.0.1:{}/loop", x.port());
        x.reply("302 Found", &[&location], "");
    });
    let url = server.url("/loop");
    let repo = Repo::with_config(&api("svc", &url, "max_redirects = 3\nretries = 3"));
    let out = Sentinel::prod(&repo)
        .stdout_has(row("api:svc", "CRIT"))
        .stdout_has("redirects")
        .stdout_has(CRITICAL)
        .critical();
    let message = message_of(&out.stdout, "api:svc");
    assert!(message.contains(&format!("GET {url}")), "{message}");
    // The first request and 3 redirects followed; not retried.
    let n = server.requests().len();
    assert_eq!(
        n,
        4,
        "{n} requests for max_redirects = 3\n{}",
        context(&out)
    );
}

// ------------------------------------------------------------ api: secrets

#[test]
fn header_secret_reaches_the_server_and_no_output() {
    let key = "hdr-Kq7Zp2Wm9Xv4-secret";
    let declared = "declared-Rt5Yh8Jn3Bc6";
    // Every other request is a 503, so the retry path logs too.
    let server = Server::start(|x| {
        if x.n % 2 == 0 {
            x.reply("503 Service Unavailable", &[], "busy");
        } else {
            x.ok();
        }
    });
    let url = server.url("/health");
    let repo = Repo::with_config(&format!(
        "[variables]\nsecret = [\"UPSTREAM_VALUE\"]\n\n{}",
        api(
            "svc",
            &url,
            "headers = { \"X-Api-Key\" = \"${MY_API_KEY}\", \"X-Upstream\" = \"${UPSTREAM_VALUE}\" }"
        )
    ));
    let runs: [&[&str]; 4] = [
        &[],
        &["--format", "json"],
        &["-vvv"],
        &["-vvv", "--format", "json"],
    ];
    for (i, args) in runs.iter().enumerate() {
        let mut s = Sentinel::prod(&repo)
            .env("MY_API_KEY", key)
            .env("UPSTREAM_VALUE", declared)
            .args(*args)
            .nowhere(key)
            .nowhere(declared);
        if i >= 2 {
            s = s.env("RUST_LOG", "trace");
        }
        let out = s.safe();
        if args.contains(&"json") {
            let doc = json_of(&out);
            assert_eq!(json_check(&doc, "api:svc")["status"], "OK", "{doc:#}");
            assert_eq!(doc["exit_code"], 0, "{doc:#}");
        } else {
            assert_eq!(status_of(&out.stdout, "api:svc"), "OK", "{}", context(&out));
        }
        if i >= 2 {
            assert!(!out.stderr.is_empty(), "no trace logs: {}", context(&out));
        }
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 8, "{requests:#?}");
    for r in &requests {
        assert_eq!(r.header("X-Api-Key").as_deref(), Some(key), "{}", r.head);
        assert_eq!(
            r.header("X-Upstream").as_deref(),
            Some(declared),
            "{}",
            r.head
        );
    }
}

#[test]
fn url_credentials_and_tokens_are_masked_everywhere() {
    let password = "pw-Hunter2-9d8c7b6a";
    let token = "tok-Q7w8e9r0t1y2";
    let server = Server::start(|x| x.reply("404 Not Found", &[], "nope"));
    // The variable's name says nothing secret: only URL masking protects it.
    let svc_url = format!(
        "http://svc-user:{password}@127.0.0.1:{}/health?token={token}&region=eu",
        server.port()
    );
    let shown = format!(
        "http://***@127.0.0.1:{}/health?token=***&region=eu",
        server.port()
    );
    let repo = Repo::with_config(&api("svc", "${SVC_URL}", "retries = 1"));
    // What a basic-auth header would carry.
    let basic = "c3ZjLXVzZXI6cHctSHVudGVyMi05ZDhjN2I2YQ==";
    let runs: [&[&str]; 3] = [&[], &["--format", "json", "-vvv"], &["-vvv"]];
    for (i, args) in runs.iter().enumerate() {
        let mut s = Sentinel::prod(&repo)
            .env("SVC_URL", &svc_url)
            .args(*args)
            .nowhere(password)
            .nowhere(token)
            .nowhere(basic)
            .stdout_has(&shown);
        if i >= 1 {
            s = s.env("RUST_LOG", "trace");
        }
        let out = s.critical();
        if args.contains(&"json") {
            let doc = json_of(&out);
            let message = json_check(&doc, "api:svc")["message"]
                .as_str()
                .unwrap_or("");
            assert!(message.contains(&shown), "{doc:#}");
        } else {
            assert_eq!(
                status_of(&out.stdout, "api:svc"),
                "CRIT",
                "{}",
                context(&out)
            );
        }
        if i >= 1 {
            assert!(!out.stderr.is_empty(), "no trace logs: {}", context(&out));
        }
    }
    // The real URL was used: the token reached the server.
    let heads = heads(&server);
    assert_eq!(heads.len(), 3, "{heads:#?}");
    assert!(
        heads[0].starts_with(&format!("GET /health?token={token}&region=eu HTTP/1.1")),
        "{}",
        heads[0]
    );
}

#[test]
fn secret_variable_in_a_url_is_never_shown() {
    let key = "ak-Lm3Nb6Vc9Xz1";
    let declared = "dv-Pq4Wr7Ty0Ui3";
    let server = Server::start(|x| x.reply("404 Not Found", &[], "nope"));
    let url = format!(
        "http://127.0.0.1:{}/h?key=${{API_KEY}}&q=${{UPSTREAM_VALUE}}",
        server.port()
    );
    let repo = Repo::with_config(&format!(
        "[variables]\nsecret = [\"UPSTREAM_VALUE\"]\n\n{}",
        api("svc", &url, "retries = 1")
    ));
    let runs: [&[&str]; 3] = [&[], &["--format", "json", "-vvv"], &["-vvv"]];
    for (i, args) in runs.iter().enumerate() {
        let mut s = Sentinel::prod(&repo)
            .env("API_KEY", key)
            .env("UPSTREAM_VALUE", declared)
            .args(*args)
            .nowhere(key)
            .nowhere(declared)
            .stdout_has("key=***");
        if i >= 1 {
            s = s.env("RUST_LOG", "trace");
        }
        let out = s.critical();
        if !args.contains(&"json") {
            assert_eq!(
                status_of(&out.stdout, "api:svc"),
                "CRIT",
                "{}",
                context(&out)
            );
        }
    }
    let heads = heads(&server);
    assert_eq!(heads.len(), 3, "{heads:#?}");
    assert!(
        heads[0].starts_with(&format!("GET /h?key={key}&q={declared} HTTP/1.1")),
        "{}",
        heads[0]
    );
}

// ------------------------------------------------------------ concurrency

#[test]
fn api_checks_run_concurrently_and_report_in_declared_order() {
    // No server answers until the test has seen all four requests arrive:
    // checks made one after another would never have more than one in
    // flight, and waiting for the second would fail the test. Then the
    // first declared answers last: completion order is the reverse of the
    // declared order.
    let delays = [600u64, 400, 200, 0];
    let names = ["zulu", "alpha", "mike", "bravo"];
    let go = Arc::new(AtomicBool::new(false));
    let servers: Vec<Server> = delays
        .iter()
        .map(|&ms| {
            let go = Arc::clone(&go);
            Server::start(move |x| {
                let until = Instant::now() + Duration::from_secs(10);
                while !go.load(Ordering::SeqCst) && !x.stopped() && Instant::now() < until {
                    thread::sleep(Duration::from_millis(10));
                }
                x.pause(Duration::from_millis(ms));
                x.ok();
            })
        })
        .collect();
    let mut config = String::new();
    for (name, server) in names.iter().zip(&servers) {
        config.push_str(&api(name, &server.url("/health"), "timeout = \"15s\""));
    }
    let repo = Repo::with_config(&config);
    let mut s = Sentinel::prod(&repo).stdout_has(SAFE);
    for name in names {
        s = s.stdout_has(row(&format!("api:{name}"), "OK"));
    }
    let run = thread::spawn(move || s.safe());
    for server in &servers {
        server.wait_for(1);
    }
    go.store(true, Ordering::SeqCst);
    let out = run
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let ids = row_ids(&out.stdout);
    let health: Vec<&str> = ids
        .iter()
        .filter(|id| id.starts_with("api:"))
        .map(String::as_str)
        .collect();
    assert_eq!(health, ["api:zulu", "api:alpha", "api:mike", "api:bravo"]);
    for server in &servers {
        assert_eq!(server.requests().len(), 1, "{}", context(&out));
    }
}

#[test]
fn a_hung_dependency_does_not_delay_the_others() {
    // The hung server reports when the client let its connection go.
    let (released_tx, released) = mpsc::channel::<Instant>();
    let hung = Server::start(move |x| {
        x.hold();
        let _ = released_tx.send(Instant::now());
    });
    let fast = Server::start(Exchange::ok);
    let config = format!(
        "{}{}",
        api(
            "hung",
            &hung.url("/health"),
            "timeout = \"2s\"\nretries = 1"
        ),
        api(
            "fast",
            &fast.url("/health"),
            "timeout = \"2s\"\nretries = 1"
        ),
    );
    let repo = Repo::with_config(&config);
    let (out, elapsed) = timed(|| {
        Sentinel::prod(&repo)
            .stdout_has(row("api:hung", "CRIT"))
            .stdout_has("timed out after 2s (1 attempt)")
            .stdout_has(row("api:fast", "OK"))
            .stdout_has(CRITICAL)
            .critical()
    });
    assert!(elapsed >= Duration::from_secs(2), "took only {elapsed:?}");
    // The hung check's budget (2 s), far below the 30 s the server would
    // hold the connection, with room for a loaded machine.
    assert!(
        elapsed < Duration::from_secs(8),
        "took {elapsed:?}\n{}",
        context(&out)
    );
    // The fast check asked while the hung one was still waiting.
    let fast_at = arrivals(&fast);
    assert_eq!(fast_at.len(), 1, "{}", context(&out));
    let released_at = released
        .recv_timeout(Duration::from_secs(10))
        .expect("the hung connection was never let go");
    assert!(
        fast_at[0] < released_at,
        "the fast check asked only after the hung one gave up\n{}",
        context(&out)
    );
    assert_eq!(hung.requests().len(), 1, "{}", context(&out));
}

// ------------------------------------------------------------ process

#[test]
fn a_process_with_a_long_name_is_found() {
    let dir = tempfile::tempdir().unwrap();
    // Longer than the kernel's 15-character name, and unique: a fixed name
    // would also count the sleeper of another run of this test on the
    // machine.
    let name = unique("rs-sentinel-long-process-name");
    let exe = copy_executable(&sleep_binary(), dir.path(), &name);
    let mut sleeper = Reaper::new(dir.path());
    sleeper.spawn(std::process::Command::new(&exe).arg("30"));
    thread::sleep(Duration::from_millis(100));
    assert!(
        sleeper.exited().is_none(),
        "{name} exited at once (is sleep a multi-call binary?)"
    );
    let repo = Repo::with_config(&format!("[[health.process]]\nname = \"{name}\"\n"));
    let id = format!("process:{name}");
    Sentinel::prod(&repo)
        .stdout_has(row(&id, "OK"))
        .stdout_has(format!("{name} is running (1 process)"))
        .stdout_has(SAFE)
        .safe();
    drop(sleeper);
}

#[test]
fn a_missing_process_is_critical() {
    let name = unique("rs-no-such-process");
    let repo = Repo::with_config(&format!("[[health.process]]\nname = \"{name}\"\n"));
    Sentinel::prod(&repo)
        .stdout_has(row(&format!("process:{name}"), "CRIT"))
        .stdout_has(format!("no running process named {name}"))
        .stdout_has(CRITICAL)
        .critical();
}

#[test]
fn the_tool_never_counts_itself() {
    // A copy of the binary under a name nothing else runs under: the only
    // process with that name is the one doing the check.
    let dir = tempfile::tempdir().unwrap();
    let name = unique("rs-self");
    let exe = copy_executable(Path::new(BIN), dir.path(), &name);
    // Let a concurrent fork that briefly held the new file let go of it.
    for _ in 0..50 {
        match std::process::Command::new(&exe).arg("-V").output() {
            Err(e) if e.raw_os_error() == Some(26) => thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("run {}: {e}", exe.display()),
            Ok(_) => break,
        }
    }
    let repo = Repo::with_config(&format!("[[health.process]]\nname = \"{name}\"\n"));
    Sentinel::of(&exe)
        .dir(&repo.path)
        .gate("prod", "v1.2.3")
        .stdout_has(row(&format!("process:{name}"), "CRIT"))
        .stdout_has(format!("no running process named {name}"))
        .stdout_has(CRITICAL)
        .critical();
}

// ------------------------------------------------------------ disk, memory

/// A disk or memory check against limits the host is sure to cross (or
/// never to meet), and what the gate must say.
struct Limit {
    name: &'static str,
    config: &'static str,
    id: &'static str,
    status: &'static str,
    has: &'static [&'static str],
    /// Text the check's message contains.
    message: &'static [&'static str],
    /// Texts of which the message contains at least one.
    message_any: &'static [&'static str],
    code: i32,
}

const DISK_WARN_0_CRIT_100: &str = "[[health.disk]]\npath = \"/\"\nwarn = 0\ncrit = 100\n";

#[test]
fn disk_and_memory_limits() {
    let rows = [
        Limit {
            name: "disk above warn is a warning that does not block",
            config: DISK_WARN_0_CRIT_100,
            id: "disk:/",
            status: "WARN",
            has: &["(warn 0%, crit 100%)", SAFE],
            message: &["% used, "],
            message_any: &[],
            code: 0,
        },
        Limit {
            name: "disk above crit is critical",
            config: "[[health.disk]]\npath = \"/\"\nwarn = 0\ncrit = 0\n",
            id: "disk:/",
            status: "CRIT",
            has: &["(warn 0%, crit 0%)", CRITICAL],
            message: &[],
            message_any: &[],
            code: 2,
        },
        Limit {
            name: "disk below the minimum free size is critical",
            config: "[[health.disk]]\npath = \"/\"\nmin_free = \"1000 TiB\"\n",
            id: "disk:/",
            status: "CRIT",
            has: &["below the minimum of 1000.0 TiB", CRITICAL],
            message: &[],
            message_any: &[],
            code: 2,
        },
        Limit {
            name: "memory above warn is a warning that does not block",
            config: "[health.memory]\nwarn = 0\ncrit = 100\n",
            id: "memory",
            status: "WARN",
            has: &["warn 0%, crit 100%)", SAFE],
            message: &["% used of "],
            // The message says what was measured.
            message_any: &["(host;", "(cgroup limit;"],
            code: 0,
        },
        Limit {
            name: "memory above crit is critical",
            config: "[health.memory]\nwarn = 0\ncrit = 0\n",
            id: "memory",
            status: "CRIT",
            has: &[CRITICAL],
            message: &[],
            message_any: &[],
            code: 2,
        },
    ];
    each_row(
        &rows,
        |r| r.name,
        |r| {
            let repo = Repo::with_config(r.config);
            let mut s = Sentinel::prod(&repo).stdout_has(row(r.id, r.status));
            for text in r.has {
                s = s.stdout_has(*text);
            }
            let out = s.code(r.code);
            let message = message_of(&out.stdout, r.id);
            for text in r.message {
                assert!(message.contains(text), "lacks {text:?}: {message}");
            }
            if !r.message_any.is_empty() {
                assert!(
                    r.message_any.iter().any(|t| message.contains(t)),
                    "none of {:?} in: {message}",
                    r.message_any
                );
            }
        },
    );
}

#[test]
fn disk_path_that_does_not_exist_is_critical() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let path = missing.display().to_string();
    let repo = Repo::with_config(&format!("[[health.disk]]\npath = \"{path}\"\n"));
    Sentinel::prod(&repo)
        .stdout_has(row(&format!("disk:{path}"), "CRIT"))
        .stdout_has(format!("{path} does not exist"))
        .stdout_has(CRITICAL)
        .critical();
}

// ------------------------------------------------------------ verdict

#[test]
fn strict_makes_a_health_warning_critical() {
    let repo = Repo::with_config(DISK_WARN_0_CRIT_100);
    Sentinel::prod(&repo)
        .arg("--strict")
        .stdout_has(row("disk:/", "WARN"))
        .stdout_has(CRITICAL)
        .critical();
}

#[test]
fn strict_in_the_config_makes_a_health_warning_critical() {
    let repo = Repo::with_config(&format!(
        "[policy.env.prod]\nstrict = true\n\n{DISK_WARN_0_CRIT_100}"
    ));
    Sentinel::prod(&repo)
        .stdout_has(row("disk:/", "WARN"))
        .stdout_has(CRITICAL)
        .critical();
    // Only for prod.
    Sentinel::in_repo(&repo)
        .gate("stage", "v1.2.3")
        .stdout_has(row("disk:/", "WARN"))
        .stdout_has(SAFE)
        .safe();
}

/// A dirty tree that dev allows (a WARN policy row), and an API server.
fn dirty_dev_repo(extra: &str, url: &str) -> Repo {
    let repo = Repo::with_config(&format!(
        "[policy.env.dev]\nallow_dirty = true\n{extra}\n\n{}",
        api("svc", url, "")
    ));
    repo.write("stray.txt", "dirty\n");
    repo
}

/// `dev` in `repo` with `args` blocks on the policy warning and health is
/// skipped: `server` has still seen only `seen` requests.
fn warning_blocks_before_health(repo: &Repo, args: &[&str], server: &Server, seen: usize) {
    Sentinel::in_repo(repo)
        .gate("dev", "v1.2.3")
        .args(args)
        .stdout_has(row("clean_tree", "WARN"))
        .stdout_has(row("api:svc", "SKIP"))
        .stdout_has(BLOCKED)
        .blocked();
    assert_eq!(
        server.requests().len(),
        seen,
        "health ran after a blocking warning"
    );
}

#[test]
fn strict_makes_a_policy_warning_block() {
    let server = Server::start(Exchange::ok);
    let repo = dirty_dev_repo("", &server.url("/health"));
    // Without --strict the warning passes and health runs.
    Sentinel::in_repo(&repo)
        .gate("dev", "v1.2.3")
        .stdout_has(row("clean_tree", "WARN"))
        .stdout_has(row("api:svc", "OK"))
        .stdout_has(SAFE)
        .safe();
    assert_eq!(server.requests().len(), 1);
    warning_blocks_before_health(&repo, &["--strict"], &server, 1);
}

#[test]
fn strict_in_the_config_makes_a_policy_warning_block() {
    let server = Server::start(Exchange::ok);
    let repo = dirty_dev_repo("strict = true", &server.url("/health"));
    warning_blocks_before_health(&repo, &[], &server, 0);
}

#[test]
fn health_checks_never_run_when_a_policy_gate_failed() {
    let server = Server::start(Exchange::ok);
    let repo = Repo::with_config(&format!(
        "{}\n[[health.process]]\nname = \"init\"\n\n[health.memory]\nwarn = 0\ncrit = 0\n",
        api("svc", &server.url("/health"), "")
    ));
    Sentinel::in_repo(&repo)
        .gate("production", "v1.2.3")
        .stdout_has(row("env_allowed", "FAIL"))
        .stdout_has(row("memory", "SKIP"))
        .stdout_has(row("process:init", "SKIP"))
        .stdout_has(row("api:svc", "SKIP"))
        .stdout_has("not evaluated: a policy gate did not pass")
        .stdout_has(BLOCKED)
        .blocked();
    assert_eq!(server.requests().len(), 0);
}

// ------------------------------------------------------------ embedded default

#[test]
fn embedded_default_checks_disk_memory_process_and_api() {
    let repo = Repo::new();
    let process = format!("process:{}", own_process_name());
    let out = Sentinel::prod(&repo)
        .stdout_has(row(&process, "OK"))
        .stdout_has(row("api:RS_API_URL", "OK"))
        .stdout_has(format!("GET {} -> 200 in 1 attempt", health_url()))
        .stdout_has(SAFE)
        .safe();
    let ids = row_ids(&out.stdout);
    let health: Vec<&str> = ids[POLICY_GATES.len()..ids.len() - 1]
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        health,
        ["disk:/", "memory", process.as_str(), "api:RS_API_URL"],
        "{}",
        context(&out)
    );
    for id in ["disk:/", "memory"] {
        let status = status_of(&out.stdout, id);
        assert!(
            ["OK", "WARN"].contains(&status.as_str()),
            "{}",
            context(&out)
        );
    }
    assert!(message_of(&out.stdout, "disk:/").ends_with("(warn 75%, crit 85%)"));
    assert!(message_of(&out.stdout, "memory").ends_with("warn 70%, crit 85%)"));
}

#[test]
fn embedded_default_with_the_api_down_is_critical() {
    let url = format!("http://127.0.0.1:{}/health", closed_port());
    let repo = Repo::new();
    let (out, elapsed) = timed(|| {
        Sentinel::prod(&repo)
            .env("RS_API_URL", &url)
            .stdout_has(row("api:RS_API_URL", "CRIT"))
            .stdout_has(format!("GET {url}: connection refused (3 attempts)"))
            .stdout_has(CRITICAL)
            .critical()
    });
    // The default schedule: 3 attempts, 1 s then 2 s apart (at most 3.75 s
    // with jitter), and room for a loaded machine.
    assert!(elapsed >= Duration::from_secs(3), "took only {elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(12),
        "took {elapsed:?}\n{}",
        context(&out)
    );
}

#[test]
fn embedded_default_without_the_api_url_is_blocked_not_a_config_error() {
    let repo = Repo::new();
    let process = format!("process:{}", own_process_name());
    let out = Sentinel::new()
        .dir(&repo.path)
        .env("RS_REQUIRED_PROCESS", own_process_name())
        .env("RS_DEPLOY_TOKEN", "tok-not-a-real-secret-0000")
        .gate("prod", "v1.2.3")
        .stdout_has(row("required_config", "FAIL"))
        .stdout_has("RS_API_URL")
        .stdout_has(row("disk:/", "SKIP"))
        .stdout_has(row("memory", "SKIP"))
        .stdout_has(row(&process, "SKIP"))
        .stdout_has(row("api:RS_API_URL", "SKIP"))
        .stdout_has(BLOCKED)
        .stderr_lacks("config")
        .blocked();
    assert!(!message_of(&out.stdout, "required_config").contains(&own_process_name()));
}

// ------------------------------------------------------------ config errors

#[test]
fn health_config_errors_are_all_reported_at_once() {
    let repo = Repo::with_config(
        "[[health.disk]]\n\
         path = \"/\"\n\
         warn = 90\n\
         crit = 80\n\
         min_free = \"lots\"\n\
         \n\
         [[health.api]]\n\
         name = \"svc\"\n\
         url = \"ftp://127.0.0.1/health\"\n\
         timeout = \"3 parsecs\"\n\
         retries = 0\n\
         expect_status = 999\n",
    );
    Sentinel::prod(&repo)
        .stdout("")
        .stderr_has("release-sentinel.toml: 6 problems")
        .stderr_has("health.disk[0].warn")
        .stderr_has("health.disk[0].min_free")
        .stderr_has("\"lots\"")
        .stderr_has("health.api[0].url")
        .stderr_has("not an http or https URL")
        .stderr_has("health.api[0].timeout")
        .stderr_has("\"3 parsecs\"")
        .stderr_has("health.api[0].retries")
        .stderr_has("health.api[0].expect_status")
        .stderr_has("999")
        .blocked();
}

#[test]
fn fail_fast_with_strict_stops_at_a_warning() {
    // allow_dirty makes clean_tree a WARN; with --strict and --fail-fast it
    // is where the run stops.
    let repo = Repo::with_config("[policy.env.dev]\nallow_dirty = true\n");
    repo.write("README", "dirty\n");
    Sentinel::in_repo(&repo)
        .gate("dev", "v1.0.0")
        .args(["--strict", "--fail-fast"])
        .stdout_has(row("clean_tree", "WARN"))
        .stdout_has("--fail-fast stopped at clean_tree")
        .blocked();
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
