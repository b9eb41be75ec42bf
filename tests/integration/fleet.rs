//! The health checks over the fleet, against real things: a real
//! Prometheus (Debian's package) on 127.0.0.1 scraping, every second,
//!
//! - Debian's node_exporter, three of them told apart by the `instance`
//!   and `env` labels Prometheus gives each target, one stopped mid-test;
//! - Debian's process-exporter watching a process the test starts and
//!   kills;
//! - a loopback server holding series with kube-state-metrics' names and
//!   labels (scraped with `honor_labels`), for the workloads recipe.
//!
//! Also what a fleet check does with an unreachable Prometheus, a body
//! that is not Prometheus's, a query Prometheus refuses, a planted token,
//! and what a local check says on a CI runner or in a pod. Polling is
//! bounded; every exporter, server and Prometheus is stopped on drop.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{
    CRITICAL, Exchange, Exporter, Prometheus, Reaper, Repo, SAFE, Sentinel, Server, bearer_proxy,
    json_check, json_of, message_of, row, toml_str,
};

/// How long the first scrapes may take to show.
const SCRAPED: Duration = Duration::from_secs(20);

/// `[prometheus]` naming `url`, with a short timeout.
fn prometheus_section(url: &str) -> String {
    format!(
        "[prometheus]\nurl = {}\ntimeout = \"3s\"\n\n",
        toml_str(url)
    )
}

/// A Prometheus config: a 1 s scrape of `jobs` (name, [(target, instance)])
/// with `env="prod"` on every target, plus `extra` jobs as written.
fn scrape_config(jobs: &[(&str, Vec<(String, String)>)], extra: &str) -> String {
    let mut text = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
    );
    for (job, targets) in jobs {
        text.push_str(&format!("  - job_name: {job}\n    static_configs:\n"));
        for (target, instance) in targets {
            text.push_str(&format!(
                "      - targets: [\"{target}\"]\n        labels: {{instance: \"{instance}\", env: prod}}\n"
            ));
        }
    }
    text.push_str(extra);
    text
}

/// A copy of `sleep` called `name` in `dir`.
fn named_sleep(dir: &Path, name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let sleep = std::env::split_paths(&path)
        .chain([PathBuf::from("/bin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join("sleep"))
        .find(|p| p.is_file())
        .expect("a sleep executable");
    let to = dir.join(name);
    std::fs::copy(&sleep, &to).expect("copy sleep");
    to
}

// ------------------------------------------------------------ node_exporter

#[test]
fn three_hosts_through_node_exporter_and_the_one_that_stops_turns_crit_named() {
    let mut nodes: Vec<Exporter> = (0..3).map(|_| Exporter::node()).collect();
    let targets: Vec<(String, String)> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.target(), format!("web-{}", i + 1)))
        .collect();
    let prom = Prometheus::start(&scrape_config(&[("node", targets)], ""));
    prom.wait_for_value("count(up{job=\"node\"} == 1)", 3.0, SCRAPED);
    prom.wait_for_value(
        "count(node_memory_MemTotal_bytes{job=\"node\"})",
        3.0,
        SCRAPED,
    );
    prom.wait_for_value(
        "count(node_filesystem_avail_bytes{job=\"node\",mountpoint=\"/\"})",
        3.0,
        SCRAPED,
    );
    let fleet = r#"fleet = '{job="node", env="prod"}'"#;
    let healthy = Repo::with_config(&format!(
        "{}[[health.disk]]\npath = \"/\"\n{fleet}\nwarn = 99\ncrit = 100\n\n\
         [health.memory]\n{fleet}\nwarn = 99\ncrit = 100\n",
        prometheus_section(&prom.url(""))
    ));
    Sentinel::prod(&healthy)
        .stdout_has(row("disk:/", "OK"))
        .stdout_has(row("memory", "OK"))
        .stdout_has(SAFE)
        .safe();
    let out = Sentinel::prod(&healthy).args(["--format", "json"]).safe();
    let doc = json_of(&out);
    let disk = json_check(&doc, "disk:/");
    assert_eq!(disk["status"], "OK", "{disk:#}");
    let message = disk["message"].as_str().unwrap();
    assert!(
        message.starts_with("3 hosts below warn: worst instance=\"web-"),
        "{message}"
    );
    assert!(
        message.ends_with(" free (warn 99%, crit 100%)"),
        "{message}"
    );
    // Every host in the JSON, sorted, with the value computed as df does.
    let series = disk["details"]["series"].as_array().unwrap();
    let hosts: Vec<&str> = series
        .iter()
        .map(|s| s["labels"]["instance"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["web-1", "web-2", "web-3"], "{disk:#}");
    for s in series {
        assert_eq!(s["labels"]["mountpoint"], "/");
        assert_eq!(s["labels"]["env"], "prod");
        let pct = s["value"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&pct), "{s}");
        assert_eq!(s["status"], "OK");
    }
    let memory = json_check(&doc, "memory");
    assert_eq!(memory["status"], "OK", "{memory:#}");
    assert!(
        memory["message"]
            .as_str()
            .unwrap()
            .starts_with("3 hosts below warn: worst instance=\"web-"),
        "{memory:#}"
    );

    // The same hosts against thresholds they all pass: each breaches, the
    // worst is named and the count is said; the table stays one row.
    let strict = Repo::with_config(&format!(
        "{}[[health.disk]]\npath = \"/\"\n{fleet}\nwarn = 0\ncrit = 0.001\n\n\
         [health.memory]\n{fleet}\nwarn = 0\ncrit = 0.001\n",
        prometheus_section(&prom.url(""))
    ));
    let out = Sentinel::prod(&strict)
        .stdout_has(row("disk:/", "CRIT"))
        .stdout_has(row("memory", "CRIT"))
        .stdout_has(CRITICAL)
        .critical();
    let disk = message_of(&out.stdout, "disk:/");
    assert!(
        disk.starts_with("3 of 3 hosts at or above crit: worst instance=\"web-"),
        "{disk}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("disk:")
            .count(),
        1
    );

    // web-2's exporter stops: its host is CRIT, named, on both rows.
    nodes[1].stop();
    prom.wait_for_value("up{instance=\"web-2\"}", 0.0, SCRAPED);
    let out = Sentinel::prod(&healthy)
        .stdout_has(row("disk:/", "CRIT"))
        .stdout_has(row("memory", "CRIT"))
        .stdout_has(CRITICAL)
        .critical();
    for id in ["disk:/", "memory"] {
        let message = message_of(&out.stdout, id);
        assert!(
            message.starts_with(
                "could not check 1 of 3 hosts: instance=\"web-2\" exporter down (up == 0)"
            ),
            "{id}: {message}"
        );
    }
    let out = Sentinel::prod(&healthy)
        .args(["--format", "json"])
        .critical();
    let doc = json_of(&out);
    let series = json_check(&doc, "disk:/")["details"]["series"]
        .as_array()
        .unwrap()
        .clone();
    let missing: Vec<&serde_json::Value> =
        series.iter().filter(|s| s["status"] == "MISSING").collect();
    assert_eq!(missing.len(), 1, "{series:?}");
    assert_eq!(missing[0]["labels"]["instance"], "web-2");

    // Counted against `hosts`: two answering of three expected.
    let counted = Repo::with_config(&format!(
        "{}[[health.disk]]\npath = \"/\"\nfleet = '{{job=\"node\", instance!=\"web-2\"}}'\n\
         hosts = 3\nwarn = 99\ncrit = 100\n",
        prometheus_section(&prom.url(""))
    ));
    let out = Sentinel::prod(&counted)
        .stdout_has(row("disk:/", "CRIT"))
        .critical();
    let message = message_of(&out.stdout, "disk:/");
    assert!(
        message.contains("1 missing (3 expected, 2 seen)"),
        "{message}"
    );
    drop(nodes);
}

#[test]
fn a_mount_point_no_host_has_is_crit_not_a_pass() {
    let node = Exporter::node();
    let prom = Prometheus::start(&scrape_config(
        &[("node", vec![(node.target(), "web-1".into())])],
        "",
    ));
    prom.wait_for_value("up{job=\"node\"}", 1.0, SCRAPED);
    let repo = Repo::with_config(&format!(
        "{}[[health.disk]]\npath = \"/no/such/mount\"\nfleet = '{{job=\"node\"}}'\n",
        prometheus_section(&prom.url(""))
    ));
    let out = Sentinel::prod(&repo)
        .stdout_has(row("disk:/no/such/mount", "CRIT"))
        .critical();
    let message = message_of(&out.stdout, "disk:/no/such/mount");
    assert!(
        message.starts_with("could not check 1 of 1 host: instance=\"web-1\" up, but no series"),
        "{message}"
    );
}

// ------------------------------------------------------------ process-exporter

#[test]
fn a_process_watched_by_process_exporter_starts_stops_and_its_host_is_named() {
    let name = "rs-fleet-app";
    let dir = tempfile::tempdir().unwrap();
    let exe = named_sleep(dir.path(), name);
    let mut app = Reaper::new(dir.path());
    app.spawn(std::process::Command::new(&exe).arg("120"));
    let mut exporter = Exporter::process(&[name]);
    let prom = Prometheus::start(&scrape_config(
        &[("process", vec![(exporter.target(), "web-1".into())])],
        "",
    ));
    let procs = format!("namedprocess_namegroup_num_procs{{groupname=\"{name}\"}}");
    prom.wait_for_value(&procs, 1.0, SCRAPED);
    let repo = Repo::with_config(&format!(
        "{}[[health.process]]\nname = \"{name}\"\nfleet = '{{job=\"process\", env=\"prod\"}}'\n",
        prometheus_section(&prom.url(""))
    ));
    let id = format!("process:{name}");
    Sentinel::prod(&repo)
        .stdout_has(row(&id, "OK"))
        .stdout_has(format!(
            "1 host running {name}: worst instance=\"web-1\" 1 process"
        ))
        .safe();

    drop(app);
    prom.wait_for_value(&procs, 0.0, SCRAPED);
    Sentinel::prod(&repo)
        .stdout_has(row(&id, "CRIT"))
        .stdout_has(format!(
            "1 of 1 host without a running {name}: worst instance=\"web-1\" 0 processes"
        ))
        .critical();

    exporter.stop();
    prom.wait_for_value("up{job=\"process\"}", 0.0, SCRAPED);
    Sentinel::prod(&repo)
        .stdout_has(row(&id, "CRIT"))
        .stdout_has("could not check 1 of 1 host: instance=\"web-1\" exporter down (up == 0)")
        .critical();
}

// ------------------------------------------------------------ kube-state-metrics

/// The recipe's Deployment check for namespace `ns`: available replicas
/// against desired, a Deployment whose series stopped updating over a
/// minute ago dropping out (and so counting as missing).
fn deployments(ns: &str, count: usize) -> String {
    format!(
        "[[health.query]]\nname = \"deployments-{ns}\"\nquery = '''\n\
         kube_deployment_status_replicas_available{{namespace=\"{ns}\"}}\n\
           / on(namespace, deployment) kube_deployment_spec_replicas{{namespace=\"{ns}\"}}\n\
         and on(namespace, deployment)\n\
           (time() - timestamp(kube_deployment_status_replicas_available{{namespace=\"{ns}\"}}) < 60)\n\
         '''\nmin = 1\nseries = {count}\n\n"
    )
}

/// The recipe's CrashLoopBackOff check for namespace `ns`: one series per
/// pod, 1 for a pod with a container in CrashLoopBackOff.
fn crashloop(ns: &str) -> String {
    format!(
        "[[health.query]]\nname = \"crashloop-{ns}\"\nquery = '''\n\
         max by (namespace, pod) (kube_pod_container_status_waiting_reason{{namespace=\"{ns}\", reason=\"CrashLoopBackOff\"}})\n\
           or on(namespace, pod)\n\
         max by (namespace, pod) (0 * kube_pod_status_ready{{namespace=\"{ns}\", condition=\"true\"}})\n\
         '''\nmax = 0\n\n"
    )
}

/// kube-state-metrics' series for a Deployment and its one pod; `at` (ms)
/// writes an explicit, old, sample time.
fn workload(ns: &str, name: &str, desired: u32, available: u32, at: Option<u128>) -> String {
    let t = at.map_or(String::new(), |ms| format!(" {ms}"));
    let labels = format!("namespace=\"{ns}\",deployment=\"{name}\"");
    format!(
        "kube_deployment_spec_replicas{{{labels}}} {desired}{t}\n\
         kube_deployment_status_replicas_available{{{labels}}} {available}{t}\n\
         kube_deployment_status_replicas_unavailable{{{labels}}} {}{t}\n\
         kube_pod_status_ready{{namespace=\"{ns}\",pod=\"{name}-0\",condition=\"true\"}} 1{t}\n",
        desired - available
    )
}

#[test]
fn the_kubernetes_recipe_over_kube_state_metrics_series_finds_breach_missing_and_stale() {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let old = Some(now_ms - 200_000);
    let mut text = String::new();
    for d in ["payments", "ledger", "search"] {
        text.push_str(&workload("good", d, 3, 3, None));
    }
    // `breach`: payments has 2 of 3 replicas, and a pod in CrashLoopBackOff.
    text.push_str(&workload("breach", "payments", 3, 2, None));
    text.push_str(&workload("breach", "ledger", 3, 3, None));
    text.push_str(&workload("breach", "search", 3, 3, None));
    text.push_str(
        "kube_pod_container_status_waiting_reason{namespace=\"breach\",pod=\"payments-0\",\
         container=\"app\",reason=\"CrashLoopBackOff\"} 1\n",
    );
    // `gone`: search's series are not there at all.
    text.push_str(&workload("gone", "payments", 3, 3, None));
    text.push_str(&workload("gone", "ledger", 3, 3, None));
    // `stale`: search was last seen 200 s ago.
    text.push_str(&workload("stale", "payments", 3, 3, None));
    text.push_str(&workload("stale", "ledger", 3, 3, None));
    text.push_str(&workload("stale", "search", 3, 3, old));
    let body = Arc::new(Mutex::new(text));
    let served = body.clone();
    let ksm = Server::with_limits(Duration::from_secs(120), 10_000, move |x| {
        let text = served.lock().unwrap().clone();
        x.reply(
            "200 OK",
            &["Content-Type: text/plain; version=0.0.4"],
            &text,
        )
    });
    let extra = format!(
        "  - job_name: kube-state-metrics\n    honor_labels: true\n    static_configs:\n      - targets: [\"127.0.0.1:{}\"]\n",
        ksm.port()
    );
    let prom = Prometheus::start(&scrape_config(&[], &extra));
    prom.wait_for_value("count(kube_deployment_spec_replicas)", 11.0, SCRAPED);
    let mut config = prometheus_section(&prom.url(""));
    for ns in ["good", "breach", "gone", "stale"] {
        config.push_str(&deployments(ns, 3));
    }
    config.push_str(&crashloop("good"));
    config.push_str(&crashloop("breach"));
    // The raw series with a staleness bound of its own.
    config.push_str(
        "[[health.query]]\nname = \"unavailable-stale\"\n\
         query = 'kube_deployment_status_replicas_unavailable{namespace=\"stale\"}'\n\
         max = 0\nseries = 3\nmax_age = \"60s\"\n",
    );
    let repo = Repo::with_config(&config);
    let out = Sentinel::prod(&repo)
        .stdout_has(row("query:deployments-good", "OK"))
        .stdout_has(row("query:deployments-breach", "CRIT"))
        .stdout_has(row("query:deployments-gone", "CRIT"))
        .stdout_has(row("query:deployments-stale", "CRIT"))
        .stdout_has(row("query:crashloop-good", "OK"))
        .stdout_has(row("query:crashloop-breach", "CRIT"))
        .stdout_has(row("query:unavailable-stale", "CRIT"))
        .critical();
    let said = |id: &str| message_of(&out.stdout, id);
    assert!(
        said("query:deployments-good")
            .starts_with("3 series within the bound: worst deployment=\"")
    );
    assert_eq!(
        said("query:deployments-breach"),
        "1 of 3 series below the bound: worst deployment=\"payments\" 0.666667 (min 1)"
    );
    assert_eq!(
        said("query:deployments-gone"),
        "could not check 1 of 3 series: 1 missing (3 expected, 2 seen)"
    );
    assert_eq!(
        said("query:deployments-stale"),
        "could not check 1 of 3 series: 1 missing (3 expected, 2 seen)"
    );
    assert_eq!(
        said("query:crashloop-breach"),
        "1 of 3 series above the bound: worst pod=\"payments-0\" 1 (max 0)"
    );
    let stale = said("query:unavailable-stale");
    assert!(
        stale.starts_with("could not check 1 of 3 series: deployment=\"search\" stale: sampled 2"),
        "{stale}"
    );
    // The JSON lists every series with its labels and value, sorted.
    let out = Sentinel::prod(&repo).args(["--format", "json"]).critical();
    let doc = json_of(&out);
    let series = json_check(&doc, "query:deployments-breach")["details"]["series"]
        .as_array()
        .unwrap()
        .clone();
    let named: Vec<(&str, &str)> = series
        .iter()
        .map(|s| {
            (
                s["labels"]["deployment"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [("ledger", "OK"), ("payments", "CRIT"), ("search", "OK")]
    );
    assert_eq!(series[1]["labels"]["namespace"], "breach");
    drop(prom);
    drop(ksm);
}

// ------------------------------------------------------------ details where shown

/// node_exporter's filesystem series for "/" on `hosts` (instance, percent
/// used), with a device name that JSON has to escape.
fn filesystems(hosts: &[(&str, u64)]) -> String {
    let g = 1u64 << 30;
    let mut text = String::new();
    for (host, used) in hosts {
        let labels = format!(
            "device=\"/dev/disk \\\"root\\\"\",fstype=\"ext4\",instance=\"{host}\",mountpoint=\"/\""
        );
        let avail = (100 - used) * g;
        text.push_str(&format!(
            "node_filesystem_avail_bytes{{{labels}}} {avail}\n\
             node_filesystem_free_bytes{{{labels}}} {avail}\n\
             node_filesystem_size_bytes{{{labels}}} {}\n",
            100 * g
        ));
    }
    text
}

#[test]
fn a_table_run_keeps_every_series_for_the_report_file_junit_and_evidence() {
    let text = filesystems(&[("web-2", 40), ("web-1", 91), ("web-3", 50)]);
    let files = Server::with_limits(Duration::from_secs(120), 10_000, move |x| {
        x.reply(
            "200 OK",
            &["Content-Type: text/plain; version=0.0.4"],
            &text,
        )
    });
    let extra = format!(
        "  - job_name: files\n    honor_labels: true\n    static_configs:\n      - targets: [\"127.0.0.1:{}\"]\n",
        files.port()
    );
    let prom = Prometheus::start(&scrape_config(&[], &extra));
    prom.wait_for_value("count(node_filesystem_size_bytes)", 3.0, SCRAPED);
    let mut config = prometheus_section(&prom.url(""));
    config.push_str("[[health.disk]]\npath = \"/\"\nfleet = '{job=\"files\"}'\nhosts = 3\n");
    let repo = Repo::with_config(&config);
    let said = "1 of 3 hosts at or above crit: worst instance=\"web-1\" 91.0% used, 9.0 GiB free (warn 75%, crit 85%)";
    let table = Sentinel::prod(&repo)
        .stdout_has(row("disk:/", "CRIT"))
        .critical();
    assert_eq!(message_of(&table.stdout, "disk:/"), said);

    // The table again, with every output that shows details beside it.
    let scratch = repo.scratch();
    let (report, junit, evidence) = (
        scratch.join("report.json"),
        scratch.join("junit.xml"),
        scratch.join("evidence"),
    );
    let out = Sentinel::prod(&repo)
        .arg("--report")
        .arg(&report)
        .arg("--junit")
        .arg(&junit)
        .arg("--evidence")
        .arg(&evidence)
        .critical();
    assert_eq!(message_of(&out.stdout, "disk:/"), said);
    let every = |doc: &serde_json::Value| {
        let series = doc["details"]["series"].as_array().expect("series");
        let seen: Vec<(String, String, String)> = series
            .iter()
            .map(|s| {
                (
                    s["labels"]["instance"].as_str().unwrap().to_string(),
                    s["labels"]["device"].as_str().unwrap().to_string(),
                    s["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("web-1", "/dev/disk \"root\"", "CRIT"),
                ("web-2", "/dev/disk \"root\"", "OK"),
                ("web-3", "/dev/disk \"root\"", "OK"),
            ]
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        );
        assert_eq!(series[0]["value"], 91.0);
        assert_eq!(series[0]["available_bytes"], 9.0 * (1u64 << 30) as f64);
    };
    let report_doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("JSON");
    every(json_check(&report_doc, "disk:/"));
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(evidence.join("record.json")).expect("record"))
            .expect("JSON");
    every(json_check(&record["report"], "disk:/"));
    let junit = std::fs::read_to_string(&junit).expect("junit");
    for host in ["web-1", "web-2", "web-3"] {
        assert!(junit.contains(host), "{host} not in the JUnit report");
    }
    // And the JSON on stdout, the same series.
    let out = Sentinel::prod(&repo).args(["--format", "json"]).critical();
    every(json_check(&json_of(&out), "disk:/"));
    drop(prom);
    drop(files);
}

// ------------------------------------------------------------ no answer is no pass

#[test]
fn unreachable_not_prometheus_or_refused_queries_are_crit_within_the_budget() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let check = "[[health.query]]\nname = \"errors\"\nquery = 'sum(rate(x[1m]))'\nmax = 1\n";
    let unreachable = Repo::with_config(&format!(
        "{}{check}",
        prometheus_section(&format!("http://127.0.0.1:{closed}"))
    ));
    let out = Sentinel::prod(&unreachable)
        .stdout_has(row("query:errors", "CRIT"))
        .critical();
    assert!(
        message_of(&out.stdout, "query:errors").starts_with("could not check: unreachable"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let gateway = Server::start(|x| x.reply("502 Bad Gateway", &[], "<html>bad gateway</html>"));
    let html = Repo::with_config(&format!("{}{check}", prometheus_section(&gateway.url(""))));
    Sentinel::prod(&html)
        .stdout_has(row("query:errors", "CRIT"))
        .stdout_has("could not check: HTTP 502, and the body is not Prometheus JSON")
        .critical();

    let hung = Server::start(Exchange::hold);
    let slow = Repo::with_config(&format!(
        "[prometheus]\nurl = {}\ntimeout = \"1s\"\n\n{check}",
        toml_str(&hung.url(""))
    ));
    let start = Instant::now();
    Sentinel::prod(&slow)
        .stdout_has(row("query:errors", "CRIT"))
        .critical();
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );

    let prom = Prometheus::start(Prometheus::no_scrapes());
    let refused = Repo::with_config(&format!(
        "{}[[health.query]]\nname = \"typo\"\nquery = 'sum(rate(x[1m])'\nmax = 1\n\n\
         [[health.query]]\nname = \"nothing\"\nquery = 'up{{job=\"none\"}}'\nmin = 1\n",
        prometheus_section(&prom.url(""))
    ));
    Sentinel::prod(&refused)
        .stdout_has(row("query:typo", "CRIT"))
        .stdout_has("could not check: HTTP 400, bad_data")
        .stdout_has(row("query:nothing", "CRIT"))
        .stdout_has("could not check: no series (the query matched nothing)")
        .critical();
}

#[test]
fn a_fleet_check_without_prometheus_or_with_a_bad_selector_is_a_config_error() {
    let repo = Repo::with_config(
        "[[health.query]]\nname = \"x\"\nquery = 'up'\nmax = 1\n\n\
         [[health.disk]]\npath = \"/\"\nfleet = 'job=\"node\"'\n\n\
         [[health.process]]\nname = \"nginx\"\nhosts = 3\n",
    );
    Sentinel::prod(&repo)
        .stderr_has("health.query[0]: reads Prometheus, and there is no [prometheus] section")
        .stderr_has("health.disk[0].fleet: \"job=\"node\"\" is not a label selector")
        .stderr_has("health.process[0].hosts: only counts with fleet")
        .code(1);
    let repo = Repo::with_config(
        "[prometheus]\nurl = \"http://127.0.0.1:9\"\n\n\
         [[health.query]]\nname = \"x\"\nquery = 'up'\nmax = 1\nmin = 0\nseries = 0\n",
    );
    Sentinel::prod(&repo)
        .stderr_has("health.query[0]: give max or min, not both")
        .stderr_has("health.query[0].series: 0: expect 1 or more series")
        .code(1);
}

// ------------------------------------------------------------ secrets

#[test]
fn the_prometheus_token_never_appears_in_any_output_or_written_file() {
    const TOKEN: &str = "fleet-token-5ecret-7a6b5c4d3e";
    let node = Exporter::node();
    let prom = Prometheus::start(&scrape_config(
        &[("node", vec![(node.target(), "web-1".into())])],
        "",
    ));
    prom.wait_for_value("count(node_memory_MemTotal_bytes)", 1.0, SCRAPED);
    let proxy = bearer_proxy(prom.url(""), TOKEN);
    let config = |header: &str| {
        format!(
            "[prometheus]\nurl = {}\ntimeout = \"3s\"\nheaders = {{ Authorization = \"{header}\" }}\n\n\
             [health.memory]\nfleet = '{{job=\"node\"}}'\nwarn = 99\ncrit = 100\n",
            toml_str(&proxy.url(""))
        )
    };
    let good = Repo::with_config(&config("Bearer ${PROM_TOKEN}"));
    // The token planted in the query too: a wrong token is refused.
    let bad = Repo::with_config(&config("Bearer ${PROM_TOKEN}-wrong"));
    let mut all = String::new();
    for (repo, ok) in [(&good, true), (&bad, false)] {
        let files = ["report.json", "junit.xml"].map(|f| repo.scratch().join(f));
        for format in ["table", "json", "markdown", "junit"] {
            let run = Sentinel::prod(repo)
                .env("PROM_TOKEN", TOKEN)
                .args(["-vvv", "--format", format, "--report"])
                .arg(&files[0])
                .arg("--junit")
                .arg(&files[1]);
            let out = if ok { run.safe() } else { run.critical() };
            all.push_str(&String::from_utf8_lossy(&out.stdout));
            all.push_str(&String::from_utf8_lossy(&out.stderr));
            for f in &files {
                all.push_str(&std::fs::read_to_string(f).expect("written"));
            }
        }
    }
    assert!(all.contains("HTTP 401, unauthorized: no token"), "{all}");
    assert!(all.contains("1 host below warn"), "{all}");
    assert!(!proxy.requests().is_empty());
    for needle in ["5ecret", "7a6b5c4d3e"] {
        assert!(!all.contains(needle), "{needle} was shown");
    }
}

// ------------------------------------------------------------ local checks

#[test]
fn a_local_check_names_its_host_and_on_a_runner_or_in_a_pod_points_to_the_fleet() {
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let repo = Repo::with_config(
        "[[health.process]]\nname = \"rs-no-such-fleet-process\"\n\n[[health.disk]]\npath = \"/\"\nwarn = 99\ncrit = 100\n",
    );
    let out = Sentinel::prod(&repo).critical();
    assert_eq!(
        message_of(&out.stdout, "process:rs-no-such-fleet-process"),
        format!("no running process named rs-no-such-fleet-process on {host}")
    );
    assert!(message_of(&out.stdout, "disk:/").contains(&format!(" free on {host} (warn 99%")));
    for (var, value, what) in [
        ("GITHUB_ACTIONS", "true", "a CI runner"),
        ("GITLAB_CI", "true", "a CI runner"),
        ("CI", "1", "a CI runner"),
        ("KUBERNETES_SERVICE_HOST", "10.0.0.1", "a pod"),
    ] {
        let out = Sentinel::prod(&repo)
            .env(var, value)
            // The status stays: a failing check is not turned into a pass.
            .stdout_has(row("process:rs-no-such-fleet-process", "CRIT"))
            .stdout_has(row("disk:/", "OK"))
            .critical();
        assert_eq!(
            message_of(&out.stdout, "process:rs-no-such-fleet-process"),
            format!(
                "no running process named rs-no-such-fleet-process on {host}; this is {what}, \
                 not the release's hosts: set fleet = '{{...}}' to read them through Prometheus"
            )
        );
        // A passing row says only where it ran.
        assert!(!message_of(&out.stdout, "disk:/").contains("fleet"));
    }
    // `CI=false` is not a runner.
    let out = Sentinel::prod(&repo).env("CI", "false").critical();
    assert!(!message_of(&out.stdout, "process:rs-no-such-fleet-process").contains("runner"));
}

// ------------------------------------------------------------ verify's samples

#[test]
fn verify_sorts_samples_a_hostile_server_sends_out_of_order_so_a_newest_nan_is_no_data() {
    // 22:30:00 is judged; the newest sample is NaN, sent first.
    let at = 1_700_001_000i64;
    let body = format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[[{},"NaN"],[{},"0.5"],[{},"0.5"],[{},"0.5"],[{},"0.5"]]}}]}}}}"#,
        at,
        at - 60,
        at - 45,
        at - 30,
        at - 15
    );
    let hostile =
        Server::start(move |x| x.reply("200 OK", &["Content-Type: application/json"], &body));
    let repo = Repo::with_config(&format!(
        "[prometheus]\nurl = {}\n\n[verify]\ninterval = \"15s\"\n\n\
         [[verify.rule]]\nname = \"shuffled\"\nquery = \"max(x)\"\nmax = 1\nfor = \"1m\"\n",
        toml_str(&hostile.url(""))
    ));
    Sentinel::in_repo(&repo)
        .arg("verify")
        .gate("prod", "v1.2.3")
        .args(["--at", "2023-11-14T22:30:00Z"])
        .stdout_has(row("rule:shuffled", "CRIT"))
        .stdout_has("NO_DATA: the newest sample is NaN")
        .stdout_lacks("VERIFY=HEALTHY")
        .critical();
}
