//! `verify` against real things: a real Prometheus (Debian's package)
//! that each test starts on 127.0.0.1 with a throwaway data directory
//! (see [`Prometheus`]), fed two ways:
//!
//! - backfilled history ([`history`], written with promtool before the
//!   start) judged with `--at`: exact, repeatable verdicts;
//! - a live scrape (every second) of a loopback [`Exporter`] whose values
//!   the test changes while `verify` watches.
//!
//! Probes hit the harness's [`Server`]s, rollbacks and profile commands
//! are real commands, and the previous tag comes from a real repository
//! with tags. Live windows are short (`--for 6s --interval 1s`); a bound
//! on time leaves at least 3x what is expected (a busy 2-core machine).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{
    Exchange, Prometheus, Reaper, Repo, Sentinel, Server, bearer_proxy, context, each_row, http,
    json_check, json_of, message_of, row, signature_check, slack_receiver, toml_str,
    webhook_receiver, whsec,
};
use crate::notify::{KEY, NOTIFY};

/// The final rows.
pub const HEALTHY: &str = "| verify                    | OK   | VERIFY=HEALTHY |";
pub const ROLLBACK: &str = "| verify                    | CRIT | VERIFY=ROLLBACK |";

/// The history starts here: 2023-11-14T22:20:00Z. A sample every 15 s,
/// k = 0..=40, up to [`AT`].
const T0: i64 = 1_700_000_400;
/// The end of the history, T0 + 600 s: where `--at` judges.
const AT: &str = "2023-11-14T22:30:00Z";

/// `verify --env prod --version v1.2.3` in `repo`.
pub fn verify(repo: &Repo) -> Sentinel {
    Sentinel::in_repo(repo).arg("verify").gate("prod", "v1.2.3")
}

/// `[prometheus]` naming `url`.
fn prometheus_section(url: &str) -> String {
    format!("[prometheus]\nurl = {}\n\n", toml_str(url))
}

/// A `[[verify.rule]]` with `rest` (the bound, `for`, limits).
fn rule(name: &str, query: &str, rest: &str) -> String {
    format!(
        "\n[[verify.rule]]\nname = \"{name}\"\nquery = {}\n{rest}\n",
        toml_str(query)
    )
}

/// A `[[verify.probe]]` of `url` with `rest`.
fn probe(name: &str, url: &str, rest: &str) -> String {
    format!(
        "\n[[verify.probe]]\nname = \"{name}\"\nurl = {}\n{rest}\n",
        toml_str(url)
    )
}

/// The samples every backfill test reads, as OpenMetrics text: one sample
/// every 15 s from T0 (k = 0) to T0 + 600 (k = 40), unless said otherwise.
///
/// - `http_requests_total{code}`: +570 (200), +24 (500), +6 (503) a step:
///   600 requests per 15 s, 30 of them 5xx;
/// - `idle_requests_total{code}`: constant (no traffic at all);
/// - `http_request_duration_seconds`: a histogram, per step 50 requests
///   up to 0.1 s, 30 more up to 0.25, 10 more up to 0.5, 10 more up to 1;
/// - `rs_error_ratio{case}`: a gauge; `sustained` 0.05 throughout; `late`
///   0.005 up to k = 32 (22:28:00), then 0.05 (8 samples); `recovers`
///   0.005 up to k = 31, 0.05 for k = 32..=39 (8 samples), 0.005 at k = 40;
/// - `rs_newest_nan`: 0.5, and NaN at k = 40;
/// - `rs_stale`: 0.5 at T0 + 7 + 15k for k = 0..=16 only (the last at
///   22:24:07).
fn history() -> String {
    let t = |k: i64| T0 + 15 * k;
    let mut out = String::new();
    out.push_str("# TYPE http_requests counter\n");
    for (code, per_step) in [("200", 570), ("500", 24), ("503", 6)] {
        for k in 0..=40 {
            let v = 1000 + per_step * k;
            writeln!(out, "http_requests_total{{code=\"{code}\"}} {v} {}", t(k)).unwrap();
        }
    }
    out.push_str("# TYPE idle_requests counter\n");
    for (code, v) in [("200", 5000), ("500", 7)] {
        for k in 0..=40 {
            writeln!(out, "idle_requests_total{{code=\"{code}\"}} {v} {}", t(k)).unwrap();
        }
    }
    out.push_str("# TYPE http_request_duration_seconds histogram\n");
    for k in 0..=40 {
        for (le, per_step) in [
            ("0.1", 50),
            ("0.25", 80),
            ("0.5", 90),
            ("1.0", 100),
            ("+Inf", 100),
        ] {
            let v = per_step * k;
            writeln!(
                out,
                "http_request_duration_seconds_bucket{{le=\"{le}\"}} {v} {}",
                t(k)
            )
            .unwrap();
        }
        writeln!(
            out,
            "http_request_duration_seconds_count {} {}",
            100 * k,
            t(k)
        )
        .unwrap();
        writeln!(out, "http_request_duration_seconds_sum {} {}", 30 * k, t(k)).unwrap();
    }
    out.push_str("# TYPE rs_error_ratio gauge\n");
    for case in ["sustained", "late", "recovers"] {
        for k in 0..=40 {
            let v = match case {
                "late" if k <= 32 => 0.005,
                "recovers" if !(32..=39).contains(&k) => 0.005,
                _ => 0.05,
            };
            writeln!(out, "rs_error_ratio{{case=\"{case}\"}} {v} {}", t(k)).unwrap();
        }
    }
    out.push_str("# TYPE rs_newest_nan gauge\n");
    for k in 0..=40 {
        let v = if k == 40 { "NaN" } else { "0.5" };
        writeln!(out, "rs_newest_nan {v} {}", t(k)).unwrap();
    }
    out.push_str("# TYPE rs_stale gauge\n");
    for k in 0..=16 {
        writeln!(out, "rs_stale 0.5 {}", t(k) + 7).unwrap();
    }
    out.push_str("# EOF\n");
    out
}

/// A Prometheus holding [`history`], scraping nothing.
fn history_prometheus() -> Prometheus {
    Prometheus::with_history(Prometheus::no_scrapes(), &history())
}

/// A repository whose config points at `prom` and has `[verify]` with a
/// 15 s interval (the history's step) and `rules`.
fn history_repo(prom: &Prometheus, rules: &str) -> Repo {
    Repo::with_config(&history_config(prom, rules))
}

/// The config of [`history_repo`].
fn history_config(prom: &Prometheus, rules: &str) -> String {
    format!(
        "{}[verify]\ninterval = \"15s\"\n{rules}",
        prometheus_section(&prom.url(""))
    )
}

/// One [`rule`] after the other, each as (name, query, rest).
fn rules(each: &[(&str, &str, &str)]) -> String {
    each.iter()
        .map(|(name, query, rest)| rule(name, query, rest))
        .collect()
}

/// The error ratio of the playbook, over one minute.
const ERROR_RATIO: &str =
    r#"sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))"#;
/// The p95 latency from the histogram, over one minute.
const P95: &str =
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))";

/// The `value` detail of `id`'s row in a JSON report.
fn value_of(doc: &serde_json::Value, id: &str) -> f64 {
    json_check(doc, id)["details"]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("{id} has no value: {doc:#}"))
}

// ------------------------------------------------------------ backfilled history

/// `http` is the tests' own client; check it reads a real Prometheus.
#[test]
fn the_test_prometheus_answers_on_loopback_only() {
    let prom = Prometheus::start(Prometheus::no_scrapes());
    let (status, body) = http(
        "GET",
        &prom.url("/api/v1/status/flags"),
        &[],
        b"",
        Duration::from_secs(5),
    )
    .expect("flags");
    assert_eq!(status, 200);
    let flags: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        flags["data"]["web.listen-address"],
        format!("127.0.0.1:{}", prom.port())
    );
}

#[test]
fn an_error_ratio_breached_for_the_whole_sustain_rolls_back_with_its_value() {
    let prom = history_prometheus();
    let repo = history_repo(
        &prom,
        &rule("error_rate", ERROR_RATIO, "max = 0.01\nfor = \"2m\""),
    );
    let out = verify(&repo)
        .args(["--at", AT, "--format", "json"])
        .critical();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "ROLLBACK", "{doc:#}");
    // Over [22:29:00, 22:30:00], 4 steps of 15 s: the 5xx counters grew by
    // 4 * (24 + 6) = 120, all of them by 4 * 600 = 2400, with samples on
    // both edges (no extrapolation): (120 / 60) / (2400 / 60) = 0.05.
    let expected = 0.05;
    let value = value_of(&doc, "rule:error_rate");
    assert!((value - expected).abs() < 1e-12, "{value}");
    let rule = json_check(&doc, "rule:error_rate");
    assert_eq!(rule["status"], "CRIT");
    assert_eq!(rule["details"]["outcome"], "BREACH");
    assert_eq!(rule["details"]["sample_time"], AT);
    assert_eq!(
        rule["message"],
        "error_rate (max 0.01 for 2m): BREACH: 0.05 at 2023-11-14T22:30:00Z: \
         above the bound for the whole 120s (9 samples)"
    );
    // The chart has the 9 samples of the sustain, all 0.05.
    let points = rule["details"]["chart"]["points"].as_array().unwrap();
    assert_eq!(points.len(), 9, "{rule:#}");
    assert_eq!(points[0][0], "2023-11-14T22:28:00Z");
    assert!(
        points
            .iter()
            .all(|p| (p[1].as_f64().unwrap() - 0.05).abs() < 1e-12)
    );
    let rollback = json_check(&doc, "rollback");
    assert!(
        rollback["message"]
            .as_str()
            .unwrap()
            .starts_with("no rollback command is configured (verify.rollback); triggered by rule:error_rate breached: 0.05"),
        "{rollback:#}"
    );
}

#[test]
fn a_p95_from_a_histogram_is_interpolated_inside_its_bucket() {
    let prom = history_prometheus();
    // Per step 100 requests: 90 at most 0.5 s, all 100 at most 1 s. The
    // 95th is the 5th of the 10 in (0.5, 1]: 0.5 + (1 - 0.5) * 5/10 = 0.75.
    let expected = 0.75;
    let repo = history_repo(&prom, &rule("p95", P95, "max = 1\nfor = \"2m\""));
    let out = verify(&repo)
        .args(["--at", &(T0 + 600).to_string(), "--format", "json"])
        .safe();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "HEALTHY", "{doc:#}");
    let value = value_of(&doc, "rule:p95");
    assert!((value - expected).abs() < 1e-9, "{value}");
    assert_eq!(json_check(&doc, "rule:p95")["details"]["outcome"], "OK");
    // The same p95 against 0.7: above it for the whole sustain.
    repo.config(&history_config(
        &prom,
        &rule("p95", P95, "max = 0.7\nfor = \"2m\""),
    ));
    let out = verify(&repo)
        .args(["--at", AT])
        .stdout_has(row("rule:p95", "CRIT"))
        .stdout_has("p95 (max 0.7 for 2m): BREACH: 0.75 at 2023-11-14T22:30:00Z")
        .stdout_has(ROLLBACK)
        .critical();
    assert!(
        message_of(&out.stdout, "rule:p95").contains("(9 samples)"),
        "{}",
        context(&out)
    );
}

#[test]
fn a_breach_one_sample_short_of_the_sustain_is_no_breach() {
    let prom = history_prometheus();
    // `recovers`: 8 samples above 0.01, back below at the ninth (22:30:00);
    // `late`: above only from 22:28:15, 8 samples of the 9 of 2 minutes.
    let rules = rules(&[
        (
            "recovers",
            r#"max(rs_error_ratio{case="recovers"})"#,
            "max = 0.01\nfor = \"2m\"",
        ),
        (
            "late",
            r#"max(rs_error_ratio{case="late"})"#,
            "max = 0.01\nfor = \"2m\"",
        ),
    ]);
    let repo = history_repo(&prom, &rules);
    let out = verify(&repo)
        .args(["--at", AT])
        .stdout_has(row("rule:recovers", "OK"))
        .stdout_has(row("rule:late", "OK"))
        .stdout_has(HEALTHY)
        .stdout_lacks("rollback")
        .safe();
    assert_eq!(
        message_of(&out.stdout, "rule:recovers"),
        "recovers (max 0.01 for 2m): OK: 0.005 at 2023-11-14T22:30:00Z"
    );
    assert_eq!(
        message_of(&out.stdout, "rule:late"),
        "late (max 0.01 for 2m): OK: 0.05 at 2023-11-14T22:30:00Z; beyond the bound for 105s of 120s"
    );
    // With a sustain of 105 s (8 samples at 15 s), `late` is a breach.
    repo.config(&history_config(
        &prom,
        &rule(
            "late",
            r#"max(rs_error_ratio{case="late"})"#,
            "max = 0.01\nfor = \"105s\"",
        ),
    ));
    verify(&repo)
        .args(["--at", AT])
        .stdout_has(
            "late (max 0.01 for 1m 45s): BREACH: 0.05 at 2023-11-14T22:30:00Z: \
             above the bound for the whole 105s (8 samples)",
        )
        .stdout_has(ROLLBACK)
        .critical();
}

#[test]
fn nan_is_no_data_and_rolls_back_whatever_the_limit() {
    let prom = history_prometheus();
    // No traffic: 0/0 is NaN at every step. And a gauge whose newest
    // sample is NaN. `--at` judges once: NO_DATA triggers despite its limit.
    let rules = rules(&[
        (
            "idle_ratio",
            r#"sum(rate(idle_requests_total{code=~"5.."}[1m])) / sum(rate(idle_requests_total[1m]))"#,
            "max = 0.01\nfor = \"2m\"\nno_data_limit = 5",
        ),
        (
            "newest_nan",
            "max(rs_newest_nan)",
            "max = 1\nfor = \"1m\"\nno_data_limit = 5",
        ),
    ]);
    let repo = history_repo(&prom, &rules);
    let out = verify(&repo)
        .args(["--at", AT, "--format", "json"])
        .critical();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "ROLLBACK", "{doc:#}");
    let idle = json_check(&doc, "rule:idle_ratio");
    assert_eq!(idle["status"], "CRIT");
    assert_eq!(
        idle["message"],
        "idle_ratio (max 0.01 for 2m): NO_DATA: only NaN in the window (9 samples)"
    );
    assert_eq!(idle["details"]["value"], serde_json::Value::Null);
    let nan = json_check(&doc, "rule:newest_nan");
    assert_eq!(nan["status"], "CRIT");
    assert_eq!(
        nan["message"],
        "newest_nan (max 1 for 1m): NO_DATA: the newest sample is NaN (at 2023-11-14T22:30:00Z)"
    );
    // The newest real sample is kept, with its time.
    assert_eq!(nan["details"]["value"], 0.5, "{nan:#}");
    assert_eq!(nan["details"]["sample_time"], "2023-11-14T22:29:45Z");
    assert!(
        json_check(&doc, "rollback")["message"]
            .as_str()
            .unwrap()
            .contains("rule:idle_ratio has no data: only NaN"),
        "{doc:#}"
    );
}

/// A rule whose query has no usable data at `--at`, and what its row says.
struct NoData {
    name: &'static str,
    query: &'static str,
    rest: &'static str,
    says: &'static str,
}

#[test]
fn an_empty_result_or_a_stale_sample_is_no_data_and_rolls_back() {
    let prom = history_prometheus();
    let rows = [
        NoData {
            name: "missing",
            query: "sum(rate(no_such_requests_total[1m]))",
            rest: "max = 1\nno_data_limit = 3",
            says: "missing (max 1): NO_DATA: no series: the query matched nothing",
        },
        // The last sample is at 22:24:07; Prometheus carries it for its 5
        // minute lookback, to 22:29:00 on the 15 s steps: at 22:30:00 the
        // newest point is 60 s old, more than two steps.
        NoData {
            name: "stale",
            query: "max(rs_stale)",
            rest: "max = 1\nfor = \"2m\"",
            says: "stale (max 1 for 2m): NO_DATA: the newest sample is stale: 0.5 at \
                   2023-11-14T22:29:00Z, 60s before the evaluation",
        },
    ];
    each_row(
        &rows,
        |r| r.name,
        |r| {
            let repo = history_repo(&prom, &rule(r.name, r.query, r.rest));
            verify(&repo)
                .args(["--at", AT])
                .stdout_has(row(&format!("rule:{}", r.name), "CRIT"))
                .stdout_has(r.says)
                .stdout_has(ROLLBACK)
                .critical();
        },
    );
}

#[test]
fn queries_prometheus_rejects_are_errors_and_roll_back() {
    let prom = history_prometheus();
    // 422: three series on each side of a match on no labels; 400: a
    // parse error; and three series where a rule judges one.
    let rules = rules(&[
        (
            "many_to_many",
            "sum(http_requests_total + on() http_requests_total)",
            "max = 1\nerror_limit = 5",
        ),
        (
            "unparsable",
            "sum(rate(http_requests_total[1m])",
            "max = 1\nerror_limit = 5",
        ),
        (
            "three_series",
            "http_requests_total",
            "max = 1\nerror_limit = 5",
        ),
    ]);
    let repo = history_repo(&prom, &rules);
    let out = verify(&repo)
        .args(["--at", AT])
        .stdout_has(row("rule:many_to_many", "CRIT"))
        .stdout_has(row("rule:unparsable", "CRIT"))
        .stdout_has(ROLLBACK)
        .critical();
    let m = message_of(&out.stdout, "rule:many_to_many");
    assert!(
        m.starts_with(
            "many_to_many (max 1): ERROR: HTTP 422, execution: \
             found duplicate series for the match group {} on the right hand-side"
        ),
        "{m}"
    );
    let m = message_of(&out.stdout, "rule:unparsable");
    assert!(
        m.starts_with("unparsable (max 1): ERROR: HTTP 400, bad_data: ")
            && m.contains("parse error"),
        "{m}"
    );
    // A query that is not aggregated to one series.
    assert_eq!(
        message_of(&out.stdout, "rule:three_series"),
        "three_series (max 1): ERROR: the query returned 3 series; a rule judges one: \
         aggregate it (sum, max, ...)"
    );
}

#[test]
fn the_markdown_report_charts_a_rule_against_its_bound() {
    let prom = history_prometheus();
    let repo = history_repo(
        &prom,
        &rule(
            "recovers",
            r#"max(rs_error_ratio{case="recovers"})"#,
            "max = 0.01\nfor = \"2m\"",
        ),
    );
    let out = verify(&repo)
        .args(["--at", AT, "--format", "markdown"])
        .safe();
    let text = String::from_utf8_lossy(&out.stdout);
    let chart = "\
#### rule:recovers

```mermaid
xychart-beta
    title \"rule:recovers: samples (first line) and the bound (second)\"
    x-axis [\"22:28:00\", \"22:28:15\", \"22:28:30\", \"22:28:45\", \"22:29:00\", \"22:29:15\", \"22:29:30\", \"22:29:45\", \"22:30:00\"]
    y-axis \"value\"
    line [0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.005]
    line [0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01]
```
";
    assert!(text.contains(chart), "{text}");
    assert!(text.contains("| rule:recovers | OK |"), "{text}");
}

// ------------------------------------------------------------ live scrapes

/// A loopback exporter: the text exposition of the values the test sets
/// (`name` or `name{label="v"}` to a number), scraped by Prometheus.
struct Exporter {
    values: Arc<Mutex<BTreeMap<String, f64>>>,
    server: Server,
}

impl Exporter {
    fn start(initial: &[(&str, f64)]) -> Self {
        let values: BTreeMap<String, f64> =
            initial.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let values = Arc::new(Mutex::new(values));
        let shared = Arc::clone(&values);
        let server = Server::with_limits(Duration::from_secs(300), 5000, move |x| {
            let body: String = shared
                .lock()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{k} {v}\n"))
                .collect();
            x.reply(
                "200 OK",
                &["Content-Type: text/plain; version=0.0.4"],
                &body,
            );
        });
        Self { values, server }
    }

    fn set(&self, name: &str, value: f64) {
        self.values.lock().unwrap().insert(name.to_string(), value);
    }

    /// A Prometheus scraping this exporter every second, once it has
    /// scraped `name` at `value`.
    fn scraped(&self, name: &str, value: f64) -> Prometheus {
        let target = format!("127.0.0.1:{}", self.server.port());
        let prom = Prometheus::start(&Prometheus::scraping(&target));
        prom.wait_for_value(name, value, Duration::from_secs(30));
        prom
    }
}

/// A live window: a loopback exporter of `rs_latency_seconds` (0.2) that a
/// real Prometheus scrapes every second, and a repository whose `[verify]`
/// probes `app` (with `probe_rest`) and holds that latency at most 0.5 for
/// 3 s (with `rule_rest`, lines after those).
fn live_window(app: &Server, probe_rest: &str, rule_rest: &str) -> (Exporter, Prometheus, Repo) {
    let exporter = Exporter::start(&[("rs_latency_seconds", 0.2)]);
    let prom = exporter.scraped("rs_latency_seconds", 0.2);
    let repo = Repo::with_config(&format!(
        "{}[verify]\n{}{}",
        prometheus_section(&prom.url("")),
        probe("health", &app.url("/health"), probe_rest),
        rule(
            "latency",
            "max(rs_latency_seconds)",
            &format!("max = 0.5\nfor = \"3s\"{rule_rest}")
        ),
    ));
    (exporter, prom, repo)
}

/// Run `verify` with `args` in `repo` as a child the reaper holds.
fn spawn_verify(repo: &Repo, reaper: &mut Reaper, args: &[&str]) {
    let mut cmd = verify(repo).args(args).into_command();
    reaper.spawn(&mut cmd);
}

/// The outcomes of a JSON row's evaluations, in order.
fn outcomes(doc: &serde_json::Value, id: &str) -> Vec<String> {
    json_check(doc, id)["details"]["evaluations"]
        .as_array()
        .unwrap_or_else(|| panic!("{id} has no evaluations: {doc:#}"))
        .iter()
        .map(|e| e["outcome"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn a_healthy_window_is_watched_to_its_end_and_every_evaluation_is_in_the_json() {
    let app = Server::start(Exchange::ok);
    let (_exporter, _prom, repo) = live_window(&app, "", "");
    let start = Instant::now();
    let out = verify(&repo)
        .args(["--for", "6s", "--interval", "1s", "--format", "json"])
        .safe();
    let took = start.elapsed();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "HEALTHY", "{doc:#}");
    // Evaluations at 0, 1, ..., 6 s: seven, all in the report.
    assert_eq!(outcomes(&doc, "probe:health"), ["OK"; 7], "{doc:#}");
    assert_eq!(outcomes(&doc, "rule:latency"), ["OK"; 7], "{doc:#}");
    assert_eq!(app.requests().len(), 7);
    for e in json_check(&doc, "rule:latency")["details"]["evaluations"]
        .as_array()
        .unwrap()
    {
        assert_eq!(e["value"], "0.2", "{e:#}");
        assert!(e["at"].is_string() && e["sample_time"].is_string(), "{e:#}");
    }
    assert_eq!(
        json_check(&doc, "probe:health")["message"],
        format!(
            "GET {} -> 200; 7 evaluations, 0 failures",
            app.url("/health")
        )
    );
    assert!(
        took >= Duration::from_secs(6) && took < Duration::from_secs(30),
        "{took:?}"
    );
}

#[test]
fn a_metric_crossing_its_bound_mid_window_rolls_back() {
    let app = Server::start(Exchange::ok);
    let (exporter, _prom, repo) = live_window(&app, "", "");
    let mut reaper = Reaper::for_repo(&repo);
    spawn_verify(
        &repo,
        &mut reaper,
        &["--for", "60s", "--interval", "1s", "--format", "json"],
    );
    // The second evaluation has begun: the first found it healthy.
    app.wait_for(2);
    exporter.set("rs_latency_seconds", 2.5);
    let changed = Instant::now();
    // Seen in about a second, held for 3 s, then the next evaluation.
    let out = reaper.wait(Duration::from_secs(30));
    let took = changed.elapsed();
    assert_eq!(out.status.code(), Some(2), "{}", context(&out));
    let doc = json_of(&out);
    let seen = outcomes(&doc, "rule:latency");
    assert_eq!(seen.first().map(String::as_str), Some("OK"), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("BREACH"), "{seen:?}");
    assert!(seen[..seen.len() - 1].iter().all(|o| o == "OK"), "{seen:?}");
    let rule = json_check(&doc, "rule:latency");
    assert!(
        rule["message"]
            .as_str()
            .unwrap()
            .starts_with("latency (max 0.5 for 3s): BREACH: 2.5 at "),
        "{rule:#}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn a_probe_going_bad_mid_window_rolls_back_on_its_third_failure_in_a_row() {
    // Three good answers, then 503 for good.
    let app = Server::start(|x| {
        if x.n < 3 {
            x.ok()
        } else {
            x.reply("503 Service Unavailable", &[], "down")
        }
    });
    let (_exporter, _prom, repo) = live_window(&app, "failures = 2", "");
    let start = Instant::now();
    let out = verify(&repo)
        .args(["--for", "60s", "--interval", "1s", "--format", "json"])
        .critical();
    let took = start.elapsed();
    let doc = json_of(&out);
    assert_eq!(
        outcomes(&doc, "probe:health"),
        ["OK", "OK", "OK", "FAIL", "FAIL", "FAIL"],
        "{doc:#}"
    );
    assert_eq!(outcomes(&doc, "rule:latency"), ["OK"; 6], "{doc:#}");
    assert_eq!(app.requests().len(), 6, "one GET per evaluation, no retry");
    let probe_row = json_check(&doc, "probe:health");
    assert_eq!(probe_row["status"], "CRIT");
    assert_eq!(
        probe_row["message"],
        format!(
            "GET {} -> 503; probe:health failed 3 times in a row (limit 2); 6 evaluations, 3 failures",
            app.url("/health")
        )
    );
    assert_eq!(json_check(&doc, "rule:latency")["status"], "OK");
    // Six evaluations a second apart, long before the window's end.
    assert!(took < Duration::from_secs(25), "{took:?}");
}

#[test]
fn prometheus_stopped_mid_window_is_an_error_and_rolls_back() {
    let app = Server::start(Exchange::ok);
    let (_exporter, mut prom, repo) = live_window(&app, "", "\nerror_limit = 2");
    let mut reaper = Reaper::for_repo(&repo);
    spawn_verify(
        &repo,
        &mut reaper,
        &["--for", "60s", "--interval", "1s", "--format", "json"],
    );
    app.wait_for(2);
    prom.stop();
    let stopped = Instant::now();
    // Three errors in a row (limit 2), a second apart.
    let out = reaper.wait(Duration::from_secs(30));
    let took = stopped.elapsed();
    assert_eq!(out.status.code(), Some(2), "{}", context(&out));
    let doc = json_of(&out);
    let seen = outcomes(&doc, "rule:latency");
    assert_eq!(seen[0], "OK", "{seen:?}");
    assert_eq!(seen[seen.len() - 3..], ["ERROR"; 3], "{seen:?}");
    let rule = json_check(&doc, "rule:latency");
    assert_eq!(
        rule["message"],
        "latency (max 0.5 for 3s): ERROR: unreachable: connection refused"
    );
    assert!(
        json_check(&doc, "rollback")["message"]
            .as_str()
            .unwrap()
            .contains("rule:latency could not be evaluated: unreachable: connection refused"),
        "{doc:#}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn a_hung_probe_rolls_back_within_its_timeouts() {
    let app = Server::start(Exchange::hold);
    let repo = Repo::with_config(&format!(
        "[verify]\n{}",
        probe(
            "health",
            &app.url("/health"),
            "failures = 1\ntimeout = \"1s\""
        ),
    ));
    let start = Instant::now();
    let out = verify(&repo)
        .args(["--for", "60s", "--interval", "1s"])
        .stdout_has(row("probe:health", "CRIT"))
        .stdout_has(ROLLBACK)
        .critical();
    let took = start.elapsed();
    let m = message_of(&out.stdout, "probe:health");
    assert!(
        m.contains("timed out") && m.contains("probe:health failed 2 times in a row (limit 1)"),
        "{m}"
    );
    assert_eq!(app.requests().len(), 2);
    // Two evaluations of at most a second each, a second apart.
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[test]
fn no_data_an_error_or_a_failing_probe_within_its_limit_at_the_end_is_not_healthy() {
    let prom = Prometheus::start(Prometheus::no_scrapes());
    let app = Server::start(|x| x.reply("503 Service Unavailable", &[], "down"));
    let repo = Repo::with_config(&format!(
        "{}[verify]\n{}{}{}",
        prometheus_section(&prom.url("")),
        probe("health", &app.url("/health"), "failures = 100"),
        rule(
            "missing",
            "sum(rate(no_such_requests_total[1m]))",
            "max = 1\nno_data_limit = 100"
        ),
        rule(
            "unparsable",
            "sum(rate(http_requests_total[1m])",
            "max = 1\nerror_limit = 100"
        ),
    ));
    let out = verify(&repo)
        .args(["--for", "3s", "--interval", "1s", "--format", "json"])
        .critical();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "ROLLBACK", "{doc:#}");
    assert_eq!(outcomes(&doc, "rule:missing"), ["NO_DATA"; 4]);
    assert_eq!(outcomes(&doc, "rule:unparsable"), ["ERROR"; 4]);
    assert_eq!(outcomes(&doc, "probe:health"), ["FAIL"; 4]);
    for id in ["rule:missing", "rule:unparsable", "probe:health"] {
        assert_eq!(json_check(&doc, id)["status"], "CRIT", "{id}: {doc:#}");
    }
    assert!(
        json_check(&doc, "probe:health")["message"]
            .as_str()
            .unwrap()
            .contains("the window ended with it failing (4 of 100 allowed in a row)"),
        "{doc:#}"
    );
    assert_eq!(
        json_check(&doc, "rollback")["details"]["reason"],
        serde_json::Value::Null,
        "no rollback command: the row has no details"
    );
    assert!(
        json_check(&doc, "rollback")["message"]
            .as_str()
            .unwrap()
            .ends_with("triggered by probe:health ended the window failing"),
        "{doc:#}"
    );
}

#[test]
fn once_with_no_data_is_a_trigger() {
    let prom = Prometheus::start(Prometheus::no_scrapes());
    let repo = Repo::with_config(&format!(
        "{}[verify]\n{}",
        prometheus_section(&prom.url("")),
        rule(
            "missing",
            "sum(rate(no_such_requests_total[1m]))",
            "max = 1\nno_data_limit = 5"
        ),
    ));
    let out = verify(&repo)
        .arg("--once")
        .stdout_has(row("rule:missing", "CRIT"))
        .stdout_has(ROLLBACK)
        .critical();
    assert!(
        message_of(&out.stdout, "rollback").ends_with(
            "triggered by rule:missing has no data: no series: the query matched nothing"
        ),
        "{}",
        context(&out)
    );
}

// ------------------------------------------------------------ the rollback

/// A repository whose HEAD carries the release `v1.2.3`, with `v1.1.0`
/// and `v1.0.0` below it on `main`, and `v1.2.0` on a branch HEAD does not
/// contain: the previous tag is `v1.1.0`. `config` is committed on top.
fn tagged_repo(config: &str) -> Repo {
    let repo = Repo::new();
    repo.tag("v1.0.0");
    repo.commit_all("two");
    repo.tag("v1.1.0");
    repo.git(["checkout", "-q", "-b", "side"]);
    repo.commit_all("side");
    repo.tag("v1.2.0");
    repo.git(["checkout", "-q", "main"]);
    repo.config(config);
    repo.tag("v1.2.3");
    repo
}

/// `[verify]` with a smoke step that fails (exit 3), a probe it keeps
/// from running, and a rollback that writes its arguments to
/// `$OUT/rollback.args`, prints, and exits 7.
const ROLLBACK_CONFIG: &str = r#"[verify]
rollback = ["sh", "-c", "printf '%s\n' \"$@\" > \"$OUT/rollback.args\"; echo rolled back to $RS_PREVIOUS_TAG; exit 7", "rollback", "--env", "{env}", "--to", "{previous_tag}", "--from", "{version}"]

[[verify.smoke]]
name = "critical"
run = ["sh", "-c", "echo smoke says no; exit 3"]
timeout = "30s"

[[verify.probe]]
name = "health"
url = "http://127.0.0.1:9/never-asked"
"#;

#[test]
fn the_rollback_runs_with_the_previous_tag_the_version_and_the_env() {
    let repo = tagged_repo(&format!("{NOTIFY}\n{ROLLBACK_CONFIG}"));
    let slack = slack_receiver();
    let hook = webhook_receiver(KEY);
    let out = verify(&repo)
        .env("OUT", repo.scratch())
        .env("SLACK_WEBHOOK_URL", slack.url("/services/T0/B0/slack"))
        .env("AUDIT_WEBHOOK_URL", hook.url("/hooks/audit"))
        .env("AUDIT_WEBHOOK_SECRET", whsec(KEY))
        .args(["--format", "json"])
        .critical();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "ROLLBACK", "{doc:#}");
    let args = std::fs::read_to_string(repo.scratch().join("rollback.args")).expect("it ran");
    assert_eq!(args, "--env\nprod\n--to\nv1.1.0\n--from\nv1.2.3\n");
    let rb = json_check(&doc, "rollback");
    assert_eq!(rb["status"], "FAIL", "{rb:#}");
    assert_eq!(rb["details"]["exit_code"], 7, "{rb:#}");
    assert_eq!(rb["details"]["stdout"], "rolled back to v1.1.0\n", "{rb:#}");
    assert_eq!(
        rb["details"]["stderr"], "",
        "nothing printed is nothing: {rb:#}"
    );
    assert_eq!(
        rb["details"]["reason"],
        "smoke:critical failed: failed: exit 3"
    );
    assert!(
        rb["message"]
            .as_str()
            .unwrap()
            .ends_with("rollback --env prod --to v1.1.0 --from v1.2.3: exit 7"),
        "{rb:#}"
    );
    let smoke = json_check(&doc, "smoke:critical");
    assert_eq!(smoke["status"], "CRIT");
    assert_eq!(smoke["details"]["stdout"], "smoke says no\n");
    // The smoke step triggered before the watch began.
    let probe_row = json_check(&doc, "probe:health");
    assert_eq!(probe_row["status"], "SKIP");
    assert_eq!(
        probe_row["message"],
        "not evaluated: a smoke step triggered first"
    );
    assert_eq!(doc["interrupted"], false);
    // People are told, with the tag rolled back to.
    let text = "ARIS3 rollout of v1.2.3 on prod aborted due to smoke:critical failed: \
                failed: exit 3. The rollback to v1.1.0 failed; roll back by hand. Next status in 10 min.";
    let s = &slack.wait_for(1)[0];
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&s.body).unwrap()["text"],
        text
    );
    let h = &hook.wait_for(1)[0];
    signature_check(KEY, h).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&h.body).unwrap();
    assert_eq!(b["type"], "verify.rollback");
    assert_eq!(b["data"]["text"], text);
    assert_eq!(b["data"]["previous_tag"], "v1.1.0");
    assert_eq!(b["data"]["verdict"], "ROLLBACK");
    assert_eq!(json_check(&doc, "notify:audit")["status"], "OK", "{doc:#}");
}

#[test]
fn no_rollback_says_what_would_run_and_runs_nothing() {
    let repo = tagged_repo(ROLLBACK_CONFIG);
    let out = verify(&repo)
        .env("OUT", repo.scratch())
        .arg("--no-rollback")
        .stdout_has(row("rollback", "SKIP"))
        .stdout_has(ROLLBACK)
        .critical();
    assert!(
        message_of(&out.stdout, "rollback")
            .ends_with("rollback --env prod --to v1.1.0 --from v1.2.3"),
        "{}",
        context(&out)
    );
    assert!(
        message_of(&out.stdout, "rollback").starts_with("--no-rollback: would run: sh -c "),
        "{}",
        context(&out)
    );
    assert!(!repo.scratch().join("rollback.args").exists());
}

#[test]
fn without_a_release_below_the_rollback_that_needs_one_does_not_run() {
    // No tags at all: {previous_tag} has no value.
    let repo = Repo::with_config(ROLLBACK_CONFIG);
    let out = verify(&repo)
        .env("OUT", repo.scratch())
        .stdout_has(row("rollback", "FAIL"))
        .stdout_has(ROLLBACK)
        .critical();
    assert_eq!(
        message_of(&out.stdout, "rollback"),
        "cannot run the rollback: {previous_tag} is unknown: no release tag below v1.2.3 \
         is reachable from HEAD"
    );
    assert!(!repo.scratch().join("rollback.args").exists());
}

// ------------------------------------------------------------ profile switches

/// How long Prometheus may take to show a changed value (two scrapes
/// expected).
const SCRAPED: Duration = Duration::from_secs(30);

/// A switch `edge` from `moderate` to `conservative` after 3 evaluations
/// of `max(edge_ema1h)` below 0, back when `max(edge_ema24h)` is at least
/// 1.5; each profile's command appends its name to `$OUT/applied`.
fn switch_config(prom: &Prometheus) -> String {
    format!(
        r#"{}[verify]
interval = "1s"

[[verify.switch]]
name = "edge"
query = "max(edge_ema1h)"
min = 0
after = 3
recover_query = "max(edge_ema24h)"
recover_min = 1.5
profiles = ["moderate", "conservative"]
apply = {{ moderate = ["sh", "-c", "echo moderate >> \"$OUT/applied\""], conservative = ["sh", "-c", "echo conservative >> \"$OUT/applied\""] }}
"#,
        prometheus_section(&prom.url(""))
    )
}

#[test]
fn a_switch_degrades_after_three_and_recovers_only_on_its_second_condition() {
    let exporter = Exporter::start(&[("edge_ema1h", -0.5), ("edge_ema24h", 1.0)]);
    let prom = exporter.scraped("edge_ema1h", -0.5);
    prom.wait_for_value("edge_ema24h", 1.0, SCRAPED);
    let repo = Repo::with_config(&switch_config(&prom));
    let state_path = repo.path.join(".release-sentinel/verify-state.json");
    let applied = repo.scratch().join("applied");
    // One `verify --once` (a cron run): the switch's row, and the state
    // file as it is afterwards.
    let run = || {
        let out = verify(&repo)
            .env("OUT", repo.scratch())
            .args(["--once", "--format", "json"])
            .safe();
        let doc = json_of(&out);
        assert_eq!(doc["verdict"], "HEALTHY", "{doc:#}");
        let row = json_check(&doc, "switch:edge").clone();
        let state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&state_path).expect("state file"))
                .expect("state file is JSON");
        (row, state)
    };
    let counts = |row: &serde_json::Value, state: &serde_json::Value| {
        let d = &row["details"];
        let s = &state["switches"]["edge"];
        assert_eq!(d["profile"], s["profile"], "{row:#} {state:#}");
        assert_eq!(d["breaching"], s["breaching"], "{row:#} {state:#}");
        assert_eq!(d["switches"], s["switches"], "{row:#} {state:#}");
        (
            d["profile"].as_str().unwrap().to_string(),
            d["breaching"].as_u64().unwrap(),
            d["switches"].as_u64().unwrap(),
        )
    };
    let expect = |(row, state): (serde_json::Value, serde_json::Value),
                  want: (&str, u64, u64),
                  status: &str,
                  applied_now: Option<&str>| {
        let (p, b, s) = counts(&row, &state);
        assert_eq!((p.as_str(), b, s), want, "{row:#}");
        assert_eq!(row["status"], status, "{row:#}");
        let message = row["message"].as_str().unwrap();
        match applied_now {
            Some(profile) => assert!(
                message.starts_with(&format!("PROFILE_APPLIED={profile}; profile {profile} (")),
                "{message}"
            ),
            None => assert!(!message.contains("PROFILE_APPLIED"), "{message}"),
        }
    };
    // Two below 0, then one good sample: the count starts over.
    expect(run(), ("moderate", 1, 0), "OK", None);
    expect(run(), ("moderate", 2, 0), "OK", None);
    exporter.set("edge_ema1h", 0.5);
    prom.wait_for_value("edge_ema1h", 0.5, SCRAPED);
    expect(run(), ("moderate", 0, 0), "OK", None);
    // Three in a row: degraded, and its command ran.
    exporter.set("edge_ema1h", -0.5);
    prom.wait_for_value("edge_ema1h", -0.5, SCRAPED);
    expect(run(), ("moderate", 1, 0), "OK", None);
    expect(run(), ("moderate", 2, 0), "OK", None);
    assert!(!applied.exists());
    expect(run(), ("conservative", 0, 1), "WARN", Some("conservative"));
    assert_eq!(std::fs::read_to_string(&applied).unwrap(), "conservative\n");
    // A good ema1h does not bring it back: the 24 h average is below 1.5.
    exporter.set("edge_ema1h", 0.5);
    prom.wait_for_value("edge_ema1h", 0.5, SCRAPED);
    expect(run(), ("conservative", 0, 1), "WARN", None);
    expect(run(), ("conservative", 0, 1), "WARN", None);
    // The second condition holds: back to normal.
    exporter.set("edge_ema24h", 2.0);
    prom.wait_for_value("edge_ema24h", 2.0, SCRAPED);
    expect(run(), ("moderate", 0, 2), "OK", Some("moderate"));
    assert_eq!(
        std::fs::read_to_string(&applied).unwrap(),
        "conservative\nmoderate\n"
    );
}

#[test]
fn a_switch_without_data_degrades_to_the_safe_profile() {
    let prom = Prometheus::start(Prometheus::no_scrapes());
    let repo = Repo::with_config(&switch_config(&prom));
    // The state where --state says, not in the repository.
    let state = repo.scratch().join("edge-state.json");
    for (n, profile) in [(1, "moderate"), (2, "moderate"), (3, "conservative")] {
        let out = verify(&repo)
            .env("OUT", repo.scratch())
            .args(["--once", "--format", "json", "--state"])
            .arg(&state)
            .safe();
        let doc = json_of(&out);
        let row = json_check(&doc, "switch:edge");
        assert_eq!(row["details"]["profile"], profile, "run {n}: {row:#}");
        assert!(
            row["message"]
                .as_str()
                .unwrap()
                .contains("max(edge_ema1h): no data"),
            "{row:#}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(repo.scratch().join("applied")).unwrap(),
        "conservative\n"
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(
        saved["switches"]["edge"]["profile"], "conservative",
        "{saved:#}"
    );
    assert!(!repo.path.join(".release-sentinel").exists());
}

#[test]
fn a_profile_that_cannot_be_applied_triggers_the_rollback_and_is_applied_again_later() {
    let prom = Prometheus::start(Prometheus::no_scrapes());
    let config = switch_config(&prom)
        .replace("after = 3", "after = 1")
        .replace(
            "conservative = [\"sh\", \"-c\", \"echo conservative >> \\\"$OUT/applied\\\"\"]",
            "conservative = [\"sh\", \"-c\", \"echo tried >> \\\"$OUT/applied\\\"; exit 4\"]",
        )
        .replace(
            "interval = \"1s\"\n",
            &format!("interval = \"1s\"\n{MARK_ROLLBACK}\n"),
        );
    assert!(
        config.contains("exit 4") && config.contains("rolled-back"),
        "{config}"
    );
    let repo = Repo::with_config(&config);
    let state = repo.scratch().join("state.json");
    for n in 1..=2 {
        let out = verify(&repo)
            .env("OUT", repo.scratch())
            .args(["--once", "--format", "json", "--state"])
            .arg(&state)
            .critical();
        let doc = json_of(&out);
        let row = json_check(&doc, "switch:edge");
        assert_eq!(row["status"], "CRIT", "run {n}: {row:#}");
        assert!(
            row["message"]
                .as_str()
                .unwrap()
                .contains("applying it failed: exit 4"),
            "run {n}: {row:#}"
        );
        assert_eq!(
            json_check(&doc, "rollback")["status"],
            "OK",
            "run {n}: {doc:#}"
        );
        assert!(repo.scratch().join("rolled-back").exists(), "run {n}");
        std::fs::remove_file(repo.scratch().join("rolled-back")).unwrap();
        // The state keeps the profile that is in force, so the next run
        // tries again.
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        assert_eq!(
            saved["switches"]["edge"]["profile"], "moderate",
            "{saved:#}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(repo.scratch().join("applied")).unwrap(),
        "tried\ntried\n"
    );
}

// ------------------------------------------------------------ modes

/// A rollback command that leaves `$OUT/rolled-back` behind.
const MARK_ROLLBACK: &str = r#"rollback = ["sh", "-c", "touch \"$OUT/rolled-back\""]"#;

#[test]
fn shadow_and_warn_rules_are_reported_and_never_trigger() {
    let prom = history_prometheus();
    // Two breaches, one in shadow mode, one in warn mode; p95 is fine.
    let repo = Repo::with_config(&format!(
        "{}[modes]\n\"rule:error_rate\" = \"shadow\"\n\"rule:late\" = \"warn\"\n\n\
         [verify]\ninterval = \"15s\"\n{MARK_ROLLBACK}\n{}{}{}",
        prometheus_section(&prom.url("")),
        rule("error_rate", ERROR_RATIO, "max = 0.01\nfor = \"2m\""),
        rule(
            "late",
            r#"max(rs_error_ratio{case="late"})"#,
            "max = 0.01\nfor = \"105s\""
        ),
        rule("p95", P95, "max = 1\nfor = \"2m\""),
    ));
    let out = verify(&repo)
        .env("OUT", repo.scratch())
        .args(["--at", AT, "--format", "json"])
        .safe();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "HEALTHY", "{doc:#}");
    let shadow = json_check(&doc, "rule:error_rate");
    assert_eq!(shadow["mode"], "shadow", "{shadow:#}");
    assert_eq!(shadow["details"]["outcome"], "BREACH");
    assert!((value_of(&doc, "rule:error_rate") - 0.05).abs() < 1e-12);
    let warn = json_check(&doc, "rule:late");
    assert_eq!(warn["status"], "WARN", "{warn:#}");
    assert_eq!(warn["details"]["outcome"], "BREACH");
    assert!(
        warn["message"]
            .as_str()
            .unwrap()
            .ends_with("(mode warn: counts as WARN, not CRIT)"),
        "{warn:#}"
    );
    assert!(
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != "rollback"),
        "{doc:#}"
    );
    assert!(
        !repo.scratch().join("rolled-back").exists(),
        "a rollback ran"
    );
}

#[test]
fn a_failing_probe_in_warn_mode_is_a_warn_and_rolls_nothing_back() {
    let app = Server::start(|x| x.reply("503 Service Unavailable", &[], "down"));
    // One over its limit at once, one still within it when --once ends.
    let repo = Repo::with_config(&format!(
        "[modes]\n\"probe:strict\" = \"warn\"\n\"probe:lenient\" = \"warn\"\n\n\
         [verify]\n{MARK_ROLLBACK}\n{}{}",
        probe("strict", &app.url("/a"), "failures = 0"),
        probe("lenient", &app.url("/b"), "failures = 5"),
    ));
    verify(&repo)
        .env("OUT", repo.scratch())
        .arg("--once")
        .stdout_has(row("probe:strict", "WARN"))
        .stdout_has(row("probe:lenient", "WARN"))
        .stdout_has(HEALTHY)
        .stdout_lacks("rollback")
        .safe();
    assert!(
        !repo.scratch().join("rolled-back").exists(),
        "a rollback ran"
    );
}

// ------------------------------------------------------------ secrets

#[test]
fn secrets_never_appear_in_any_output_or_written_file() {
    // Every planted secret has `5ecret` in it; the token's end is checked
    // on its own (the rollback's output is cut inside the token).
    const PROM_TOKEN: &str = "prom-token-5ecret-8d7c6b5a4f3e";
    const TOKEN_END: &str = "8d7c6b5a4f3e";
    const SIGNING_KEY: &[u8] = b"signing-key-5ecret-000000000001";
    let prom = history_prometheus();
    // Prometheus behind a proxy that lets only the bearer token through.
    let upstream = prom.url("");
    let proxy = bearer_proxy(upstream, PROM_TOKEN);
    let slack = slack_receiver();
    let hook = webhook_receiver(SIGNING_KEY);
    // The rollback prints the token, then 8180 bytes (the kept 8 KiB
    // start inside the token), and every other secret on stderr.
    let rollback = [
        "sh",
        "-c",
        "printf %s \"$PROM_TOKEN\"; head -c 8180 /dev/zero | tr '\\0' y; \
         echo \"$AUDIT_WEBHOOK_SECRET $AUDIT_WEBHOOK_URL $SLACK_WEBHOOK_URL\" >&2",
    ];
    let repo = tagged_repo(&format!(
        "{}headers = {{ Authorization = \"Bearer ${{PROM_TOKEN}}\" }}\n\n{NOTIFY}\n\
         [verify]\ninterval = \"15s\"\nrollback = {}\n{}",
        prometheus_section(&proxy.url("")),
        serde_json::to_string(&rollback).unwrap(),
        rule("error_rate", ERROR_RATIO, "max = 0.01\nfor = \"2m\""),
    ));
    let files = ["report.json", "junit.xml", "summary.md"].map(|f| repo.scratch().join(f));
    let mut all = String::new();
    // `--at` judges the history (and acts on nothing); `--once` judges now,
    // where the history has no data, and runs the rollback and notifies.
    for (format, when) in [
        ("table", ["--at", AT]),
        ("json", ["--at", AT]),
        ("table", ["--once", "-v"]),
        ("json", ["--once", "-v"]),
    ] {
        let out = verify(&repo)
            .env("PROM_TOKEN", PROM_TOKEN)
            .env(
                "SLACK_WEBHOOK_URL",
                slack.url("/services/T0/B0/slack-5ecret-1a2b3c"),
            )
            .env("AUDIT_WEBHOOK_URL", hook.url("/hooks/audit-5ecret-9f8e7d"))
            .env("AUDIT_WEBHOOK_SECRET", whsec(SIGNING_KEY))
            .env("GITHUB_STEP_SUMMARY", &files[2])
            .args(when)
            .args(["-vv", "--format", format, "--report"])
            .arg(&files[0])
            .arg("--junit")
            .arg(&files[1])
            .critical();
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
        // The token reached Prometheus: the rule judged its answer (no
        // token would be an ERROR).
        let replay = when[0] == "--at";
        assert_eq!(
            json_check(&doc, "rule:error_rate")["details"]["outcome"],
            if replay { "BREACH" } else { "NO_DATA" },
            "{doc:#}"
        );
        if replay {
            for id in ["rollback", "notify:audit", "notify:ops"] {
                assert_eq!(json_check(&doc, id)["status"], "SKIP", "{doc:#}");
            }
        } else {
            assert_eq!(json_check(&doc, "rollback")["status"], "OK", "{doc:#}");
            assert!(
                json_check(&doc, "rollback")["details"]["stdout"]
                    .as_str()
                    .unwrap()
                    .ends_with("yyyy"),
                "the output is kept: {doc:#}"
            );
            assert_eq!(json_check(&doc, "notify:audit")["status"], "OK", "{doc:#}");
            assert_eq!(json_check(&doc, "notify:ops")["status"], "OK", "{doc:#}");
        }
        all.push_str(&String::from_utf8_lossy(&out.stdout));
        all.push_str(&String::from_utf8_lossy(&out.stderr));
        for f in &files {
            all.push_str(&std::fs::read_to_string(f).expect("written"));
        }
    }
    assert!(!proxy.requests().is_empty());
    let signing = whsec(SIGNING_KEY);
    for needle in ["5ecret", TOKEN_END, &signing[6..]] {
        if let Some(at) = all.find(needle) {
            let from = all[..at]
                .char_indices()
                .rev()
                .nth(300)
                .map_or(0, |(i, _)| i);
            let around: String = all[from..].chars().take(400).collect();
            panic!("{needle:?} was shown, in:\n{around}");
        }
    }
}

// ------------------------------------------------------------ refusals

#[test]
fn verify_without_a_verify_section_exits_1_and_says_why() {
    let repo = Repo::with_config("[notify]\napp = \"ARIS3\"\n");
    verify(&repo)
        .stdout_lacks(HEALTHY)
        .stderr_has("has no [verify] section: nothing to watch")
        .blocked();
}

#[test]
fn an_invalid_at_for_or_interval_exits_1() {
    let app = Server::start(Exchange::ok);
    let repo = Repo::with_config(&format!("[verify]\n{}", probe("health", &app.url("/"), "")));
    // Each row: the arguments, and what stderr says of them.
    let refused: &[(&[&str], &str)] = &[
        (
            &["--at", "yesterday"],
            "--at \"yesterday\": not a time; write it in RFC 3339",
        ),
        (
            &["--for", "soon"],
            "--for \"soon\": not a duration like 15m or 30s",
        ),
        (&["--for", "0s"], "--for \"0s\": not a duration"),
        (
            &["--for", "500000000000y"],
            "--for \"500000000000y\": longer than the 7days limit",
        ),
        (
            &["--interval", "2h"],
            "--interval \"2h\": longer than the 1h limit",
        ),
        (&["--at", "1e300"], "--at \"1e300\": not a time"),
        (&["--interval=-1s"], "--interval \"-1s\": not a duration"),
    ];
    each_row(
        refused,
        |r| r.1,
        |&(args, says)| {
            verify(&repo).args(args).stderr_has(says).blocked();
        },
    );
    assert_eq!(app.requests().len(), 0, "nothing was watched");
    // --at without rules has nothing to judge.
    verify(&repo)
        .args(["--at", AT])
        .stderr_has("--at judges the metric rules as of a time, and [verify] has none")
        .blocked();
}

// ------------------------------------------------------------ --at is a replay

/// `--at` replays a verdict over stored metrics and never acts on the
/// world: a breach there runs no rollback, applies no profile, writes no
/// state file and sends no notification; the rows say what would have run
/// and been sent.
#[test]
fn at_is_a_replay_that_runs_applies_writes_and_sends_nothing() {
    let prom = history_prometheus();
    let slack = slack_receiver();
    let hook = webhook_receiver(KEY);
    let repo = tagged_repo(&format!(
        "{}{NOTIFY}\n[verify]\ninterval = \"15s\"\n{MARK_ROLLBACK}\n{}\n\
         [[verify.switch]]\nname = \"edge\"\nquery = 'max(rs_error_ratio{{case=\"sustained\"}})'\n\
         max = 0.01\nafter = 1\nrecover_query = 'max(rs_error_ratio{{case=\"sustained\"}})'\n\
         recover_max = 0.01\nprofiles = [\"moderate\", \"conservative\"]\n\
         apply = {{ moderate = [\"sh\", \"-c\", \"echo moderate >> \\\"$OUT/applied\\\"\"], \
         conservative = [\"sh\", \"-c\", \"echo conservative >> \\\"$OUT/applied\\\"\"] }}\n",
        prometheus_section(&prom.url("")),
        rule("error_rate", ERROR_RATIO, "max = 0.01\nfor = \"2m\""),
    ));
    let out = verify(&repo)
        .env("OUT", repo.scratch())
        .env("SLACK_WEBHOOK_URL", slack.url("/services/T0/B0/slack"))
        .env("AUDIT_WEBHOOK_URL", hook.url("/hooks/audit"))
        .env("AUDIT_WEBHOOK_SECRET", whsec(KEY))
        .args(["--at", AT, "--format", "json"])
        .critical();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "ROLLBACK", "{doc:#}");
    assert_eq!(
        json_check(&doc, "rule:error_rate")["details"]["outcome"],
        "BREACH"
    );
    // 1. No rollback command: the row says what would have run.
    let rb = json_check(&doc, "rollback");
    assert_eq!(rb["status"], "SKIP", "{rb:#}");
    assert_eq!(
        rb["message"], "--at replays stored metrics: would run: sh -c touch \"$OUT/rolled-back\"",
        "{rb:#}"
    );
    assert!(
        !repo.scratch().join("rolled-back").exists(),
        "a rollback ran"
    );
    // 2. No profile applied.
    let sw = json_check(&doc, "switch:edge");
    assert_eq!(sw["status"], "SKIP", "{sw:#}");
    assert!(
        !repo.scratch().join("applied").exists(),
        "a profile was applied"
    );
    // 3. No state file.
    assert!(
        !repo.path.join(".release-sentinel").exists(),
        "a state file was written"
    );
    // 4. No notification: each target's row says what would have been sent.
    for (id, channel) in [("notify:ops", "slack"), ("notify:audit", "webhook")] {
        let n = json_check(&doc, id);
        assert_eq!(n["status"], "SKIP", "{n:#}");
        assert_eq!(n["details"]["channel"], channel, "{n:#}");
        assert!(
            n["message"]
                .as_str()
                .unwrap()
                .starts_with("--at replays stored metrics: would send verify.rollback: ARIS3 rollout of v1.2.3 on prod aborted due to rule:error_rate breached"),
            "{n:#}"
        );
    }
    assert!(slack.requests().is_empty(), "Slack was notified");
    assert!(hook.requests().is_empty(), "the webhook was notified");
}

// ------------------------------------------------------------ interrupts

/// SIGTERM or SIGINT mid-window: exit 1, `VERIFY=ERROR`, and the rows say
/// it was interrupted (not that the window ended); nothing is rolled back.
#[test]
fn an_interrupted_watch_ends_in_error_and_says_it_was_interrupted() {
    for sig in ["TERM", "INT"] {
        let app = Server::start(Exchange::ok);
        let down = Server::start(|x| x.reply("503 Service Unavailable", &[], "down"));
        let repo = tagged_repo(&format!(
            "[verify]\n{MARK_ROLLBACK}\n{}{}",
            probe("health", &app.url("/health"), ""),
            probe("flaky", &down.url("/health"), "failures = 100"),
        ));
        let mut reaper = Reaper::for_repo(&repo);
        let mut cmd = verify(&repo)
            .args(["--for", "5m", "--interval", "1s"])
            .into_command();
        let pid = reaper.spawn(&mut cmd);
        let until = Instant::now() + Duration::from_secs(30);
        while app.requests().len() < 2 {
            assert!(Instant::now() < until, "verify never probed");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(crate::harness::signal(pid, sig), "kill -{sig} {pid} failed");
        let out = reaper.wait(Duration::from_secs(20));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "SIG{sig}: {text}");
        assert!(
            text.contains("| verify                    | FAIL | VERIFY=ERROR |"),
            "SIG{sig}: {text}"
        );
        assert!(
            text.contains(&row("interrupted", "FAIL")),
            "SIG{sig}: {text}"
        );
        let why = message_of(&out.stdout, "interrupted");
        assert!(
            why.starts_with("stopped by SIGINT or SIGTERM during the window, after ")
                && why.ends_with(
                    "evaluations: no verdict; no rollback ran and no notification was sent"
                ),
            "SIG{sig}: {why}"
        );
        assert!(
            text.contains(&row("probe:health", "OK")),
            "SIG{sig}: {text}"
        );
        let flaky = message_of(&out.stdout, "probe:flaky");
        assert!(
            flaky.contains("; interrupted with it failing (") && !flaky.contains("window ended"),
            "SIG{sig}: {flaky}"
        );
        assert!(!text.contains("| rollback"), "SIG{sig}: {text}");
        assert!(
            !repo.scratch().join("rolled-back").exists(),
            "a rollback ran"
        );
    }
}

// ------------------------------------------------------------ injection

/// The version of the report: a command substitution in its pre-release.
const INJECTED: &str = "v1.2.3-a$(touch${IFS}pwned)";

/// `--version` is parsed as the gate's version_valid parses it before it
/// reaches any command: the injection attempt is refused, named, exit 1,
/// and nothing runs (no smoke step, no rollback, no file).
#[test]
fn a_version_that_is_not_semver_is_refused_before_any_command_runs() {
    let repo = tagged_repo(
        "[verify]\nrollback_shell = true\nrollback = \"echo rolling back {version} > rolled.txt\"\n\n\
         [[verify.smoke]]\nname = \"critical\"\nrun = [\"sh\", \"-c\", \"touch smoked; exit 3\"]\n",
    );
    Sentinel::in_repo(&repo)
        .args(["verify", "--env", "prod", "--version", INJECTED])
        .stderr_has(format!(
            "--version: \"{INJECTED}\" is not SemVer 2.0: unexpected character '$'"
        ))
        .stdout_lacks("VERIFY=ROLLBACK")
        .blocked();
    for f in ["pwned", "rolled.txt", "smoked"] {
        assert!(!repo.path.join(f).exists(), "{f} was written");
    }
    // The same for every other command that puts the version into a
    // command or a message.
    for command in [&["predeploy", "--yes"][..], &["notify", "rollback"][..]] {
        Sentinel::in_repo(&repo)
            .args(command)
            .args(["--env", "prod", "--version", INJECTED])
            .stderr_has(format!("--version: \"{INJECTED}\" is not SemVer 2.0"))
            .blocked();
        assert!(!repo.path.join("pwned").exists(), "{command:?} ran it");
    }
}

/// A tag named with `$(...)` (the tag format allows it) substituted into
/// a shell rollback is quoted: the rollback gets the name as it is, and
/// nothing in it runs. `--env` is quoted the same way.
#[test]
fn a_tag_holding_a_command_substitution_is_quoted_in_a_shell_rollback() {
    let repo = Repo::new();
    let format = "$(touch${IFS}tagged)-v{version}";
    repo.git(["tag", "$(touch${IFS}tagged)-v1.1.0"]);
    repo.config(&format!(
        "[policy]\ntag_format = {}\n\n[verify]\nrollback_shell = true\n\
         rollback = \"printf '%s|' {{previous_tag}} {{env}} \\\"{{version}}\\\" > \\\"$OUT/rolled.txt\\\"\"\n\n\
         [[verify.smoke]]\nname = \"critical\"\nrun = [\"sh\", \"-c\", \"exit 3\"]\n",
        toml_str(format)
    ));
    let out = verify(&repo)
        .env("OUT", repo.scratch())
        .args(["--format", "json"])
        .critical();
    let doc = json_of(&out);
    let rb = json_check(&doc, "rollback");
    assert_eq!(rb["status"], "OK", "{rb:#}");
    assert_eq!(
        std::fs::read_to_string(repo.scratch().join("rolled.txt")).expect("the rollback ran"),
        "$(touch${IFS}tagged)-v1.1.0|prod|v1.2.3|"
    );
    assert!(!repo.path.join("tagged").exists(), "the tag's command ran");
    // A hostile --env is data too (the rollback still runs, quoted).
    let env = "prod$(touch${IFS}envd)";
    let out = Sentinel::in_repo(&repo)
        .args(["verify", "--env", env, "--version", "v1.2.3"])
        .env("OUT", repo.scratch())
        .critical();
    assert_eq!(
        std::fs::read_to_string(repo.scratch().join("rolled.txt")).expect("the rollback ran"),
        format!("$(touch${{IFS}}tagged)-v1.1.0|{env}|v1.2.3|"),
        "{}",
        context(&out)
    );
    assert!(!repo.path.join("envd").exists(), "--env's command ran");
}

// ------------------------------------------------------------ the schedule

/// Evaluations are scheduled by the clock (start + k * interval): one that
/// takes longer than the interval makes the next start at the next tick
/// still ahead (missed ticks are skipped), never stretching the window;
/// the last one starts within the window, so the run ends within the window
/// plus one evaluation.
#[test]
fn slow_evaluations_skip_missed_ticks_and_never_stretch_the_window() {
    // Every answer takes 2 s (the probe's timeout is the default 3 s).
    let app = Server::start(|x| {
        x.pause(Duration::from_secs(2));
        x.ok();
    });
    let repo = Repo::with_config(&format!(
        "[verify]\n{}",
        probe("slow", &app.url("/health"), "")
    ));
    let start = Instant::now();
    let out = verify(&repo)
        .args(["--for", "4s", "--interval", "1s", "--format", "json"])
        .safe();
    let took = start.elapsed();
    let doc = json_of(&out);
    let asked: Vec<Instant> = app.requests().iter().map(|r| r.at).collect();
    assert!(asked.len() >= 2, "{asked:?}");
    // Ticks at 0, 1, 2, 3, 4 s: an evaluation that ends just after 2 s
    // has missed the ticks at 1 and 2 s; on a quiet machine the
    // evaluations start at 0 and 3 s. None starts after the window (4 s; a
    // moment for the requests to arrive).
    let span = asked[asked.len() - 1] - asked[0];
    assert!(span <= Duration::from_millis(4500), "{span:?}, {asked:?}");
    assert!(asked.len() <= 3, "{} evaluations", asked.len());
    assert_eq!(outcomes(&doc, "probe:slow").len(), asked.len(), "{doc:#}");
    // The window and one evaluation's budget (3 s), and a start-up margin;
    // watched to its end: at least the window.
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(11),
        "{took:?}"
    );
}

/// The interval has a floor of one second: below it is a usage error that
/// names the value (on the command line and in the config); a window that
/// would need too many evaluations, and durations too large to hold, are
/// usage errors too.
#[test]
fn an_interval_below_a_second_or_an_oversized_window_is_a_usage_error() {
    let app = Server::start(Exchange::ok);
    let repo = Repo::with_config(&format!("[verify]\n{}", probe("health", &app.url("/"), "")));
    each_row(
        &["1ns", "999ms", "100ms"],
        |r| *r,
        |&tiny| {
            verify(&repo)
                .args(["--interval", tiny, "--for", "2s"])
                .stderr_has(format!(
                    "--interval \"{tiny}\": shorter than the 1s minimum"
                ))
                .blocked();
        },
    );
    verify(&repo)
        .args(["--for", "7d", "--interval", "1s"])
        .stderr_has(
            "--for 7days at --interval 1s is 604801 evaluations, more than the 20161 allowed",
        )
        .blocked();
    each_row(
        &[
            "18446744073709551616s",
            "99999999999999999999999999h",
            "584942417356y",
        ],
        |r| *r,
        |&huge| {
            verify(&repo)
                .args(["--for", huge])
                .stderr_has(format!("--for \"{huge}\": "))
                .blocked();
            verify(&repo)
                .args(["--interval", huge])
                .stderr_has(format!("--interval \"{huge}\": "))
                .blocked();
        },
    );
    assert_eq!(app.requests().len(), 0, "nothing was watched");
    let repo = Repo::with_config(&format!(
        "[verify]\ninterval = \"10ms\"\n{}",
        probe("health", &app.url("/"), "")
    ));
    verify(&repo)
        .stderr_has("verify.interval")
        .stderr_has("\"10ms\" is shorter than the 1s minimum")
        .blocked();
    let repo = Repo::with_config(&format!(
        "[verify]\nfor = \"7d\"\ninterval = \"1s\"\n{}",
        probe("health", &app.url("/"), "")
    ));
    verify(&repo)
        .stderr_has("verify.for")
        .stderr_has("604801 evaluations, more than the 20161 allowed")
        .blocked();
    assert_eq!(app.requests().len(), 0, "nothing was watched");
}

/// A signal during an evaluation that waits on a hung probe (its timeout
/// 60 s) ends the run at once, with the interrupted row, not after the
/// timeout.
#[test]
fn a_signal_during_a_hung_evaluation_ends_the_run_at_once() {
    let app = Server::start(Exchange::hold);
    let repo = Repo::with_config(&format!(
        "[verify]\n{}",
        probe("hung", &app.url("/health"), "timeout = \"60s\"")
    ));
    let mut reaper = Reaper::for_repo(&repo);
    let mut cmd = verify(&repo)
        .args(["--for", "5m", "--interval", "1s"])
        .into_command();
    let pid = reaper.spawn(&mut cmd);
    app.wait_for(1);
    let signalled = Instant::now();
    assert!(crate::harness::signal(pid, "TERM"));
    let out = reaper.wait(Duration::from_secs(30));
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "{:?}",
        signalled.elapsed()
    );
    assert_eq!(out.status.code(), Some(1), "{}", context(&out));
    assert_eq!(
        message_of(&out.stdout, "interrupted"),
        "stopped by SIGINT or SIGTERM before the first evaluation: no verdict; no rollback ran \
         and no notification was sent"
    );
    assert_eq!(
        message_of(&out.stdout, "probe:hung"),
        "not evaluated: interrupted"
    );
}

#[test]
fn the_rollback_message_says_no_rollback_runs_when_none_does() {
    let slack = slack_receiver();
    let hook = webhook_receiver(KEY);
    // --no-rollback: the configured command is not run, and the message
    // does not say a rollback is in progress.
    let repo = tagged_repo(&format!("{NOTIFY}\n{ROLLBACK_CONFIG}"));
    verify(&repo)
        .env("OUT", repo.scratch())
        .env("SLACK_WEBHOOK_URL", slack.url("/services/T0/B0/slack"))
        .env("AUDIT_WEBHOOK_URL", hook.url("/hooks/audit"))
        .env("AUDIT_WEBHOOK_SECRET", whsec(KEY))
        .arg("--no-rollback")
        .critical();
    // No rollback command at all.
    let without = ROLLBACK_CONFIG
        .lines()
        .filter(|l| !l.starts_with("rollback = "))
        .collect::<Vec<_>>()
        .join("\n");
    let repo2 = tagged_repo(&format!("{NOTIFY}\n{without}\n"));
    verify(&repo2)
        .env("OUT", repo2.scratch())
        .env("SLACK_WEBHOOK_URL", slack.url("/services/T0/B0/slack"))
        .env("AUDIT_WEBHOOK_URL", hook.url("/hooks/audit"))
        .env("AUDIT_WEBHOOK_SECRET", whsec(KEY))
        .stdout_has(row("rollback", "SKIP"))
        .critical();
    let texts: Vec<String> = slack
        .wait_for(2)
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["text"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    for text in &texts {
        assert!(!text.contains("Rollback in progress"), "{text}");
    }
    assert!(
        texts[0].contains("No rollback was run (--no-rollback); roll back to v1.1.0 by hand."),
        "{}",
        texts[0]
    );
    assert!(
        texts[1].contains("No rollback command is configured; roll back to v1.1.0 by hand."),
        "{}",
        texts[1]
    );
}
