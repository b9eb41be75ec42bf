//! Health checks that read the fleet through Prometheus: the generic
//! PromQL kind (`query:<name>`), and `disk`, `memory` and `process` when
//! they are given `fleet = '<selector>'`. Not a kind of its own: the
//! engine those kinds share.
//!
//! A check sends its instant queries at once, on the `[prometheus]`
//! server and HTTP client that `verify` uses, all at one evaluation time
//! (the real clock: Prometheus holds the fleet's present, a faked clock
//! would only ask it about the past):
//!
//! - the value query: the user's PromQL, or for a host kind a raw
//!   selector over the exporter's metrics (see [`Measure`]);
//! - with `max_age`, `timestamp(...)` of it: when each series was scraped;
//! - for a host kind, `up{<selector>}`: the targets that are the fleet.
//!
//! Every series is judged (by [`crate::prom::judge`], shared with
//! `verify`); the row names the worst by the labels that tell the series
//! apart, and counts how many breach. Missing data is never a pass: a
//! query error, an answer that is not Prometheus's, no series, a NaN or
//! stale sample, a target whose `up` is not 1, a target without series,
//! or fewer series than expected is CRIT ("could not check"). The JSON
//! details list every series with its labels and value, sorted by labels,
//! when an output of the run shows details ([`Detail`]); the counts are
//! always there.
//!
//! An answer is read once, into typed series whose labels borrow from its
//! body (no JSON tree, no map of strings per series), and a message's
//! words are made only for the series it names: a fleet of 10,000 hosts
//! costs about its answers' size, not many times it.
//!
//! Ignored on purpose: which exporter version wrote a metric (the names
//! are node_exporter's and process-exporter's since 2018), and series a
//! selector matches beyond the expected number (reported, a WARN).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::grade;
use super::{Detail, Running, Shared};
use crate::prom::judge::{self, Bound, Expect};
use crate::prom::{Answer, Labels, Point, Server};
use crate::report::{Outcome, Status};
use crate::text::human;

/// Extra allowance on top of the server's timeout before a check is cut off.
pub const SLACK: Duration = Duration::from_millis(500);

/// The label that names a host, as Prometheus sets it at scrape time.
pub const HOST_LABEL: &str = "instance";

/// Which series a check expects.
#[derive(Debug, Clone, PartialEq)]
pub enum Hosts {
    /// A number of series (generic kind), or of hosts (`hosts = N`).
    Count(Expect),
    /// One host per target of `up{<selector>}`, each with its series.
    EveryTarget,
}

/// What a check measures, and how it grades one series.
#[derive(Debug, Clone)]
pub enum Measure {
    /// The user's PromQL; every series within `bound`.
    Query { query: String, bound: Bound },
    /// node_exporter's filesystem metrics for `mountpoint`: used percent
    /// as `df` counts it, and the bytes available to unprivileged users.
    Disk {
        mountpoint: String,
        warn: f64,
        crit: f64,
        min_free: Option<u64>,
    },
    /// node_exporter's `MemAvailable` against `MemTotal`.
    Memory { warn: f64, crit: f64 },
    /// process-exporter's `namedprocess_namegroup_num_procs` for a group:
    /// at least one process.
    Process { name: String },
}

/// A check over Prometheus, validated.
#[derive(Debug, Clone)]
pub struct FleetCheck {
    pub server: Server,
    pub measure: Measure,
    /// The label matchers that pick the fleet, without braces
    /// (`job="node", env="prod"`); `None` for the generic kind.
    pub selector: Option<String>,
    pub hosts: Hosts,
    /// Seconds: a series scraped longer ago than this is stale.
    pub max_age: Option<f64>,
}

/// Where a local check (disk, memory, process) runs: the machine it reads,
/// and whether that machine is a CI runner or a pod, which is not where a
/// release lands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    /// This machine's host name.
    pub host: String,
    /// `a CI runner` or `a pod`, and the variable that said so. The
    /// message says only which of the two (the same bytes whichever CI
    /// system runs it); the JSON names the variable.
    pub away: Option<(&'static str, &'static str)>,
}

impl Place {
    /// This machine, and what `env` says it is.
    pub fn here(env: &crate::envsnap::EnvSnapshot) -> Self {
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        let set = |name: &str| {
            env.non_empty(name)
                .is_some_and(|v| !matches!(v.trim(), "false" | "0"))
        };
        let away = ["GITHUB_ACTIONS", "GITLAB_CI", "CI"]
            .into_iter()
            .find(|v| set(v))
            .map(|v| ("a CI runner", v))
            .or_else(|| {
                set("KUBERNETES_SERVICE_HOST").then_some(("a pod", "KUBERNETES_SERVICE_HOST"))
            });
        Self {
            host: if host.is_empty() {
                "this machine".to_string()
            } else {
                host
            },
            away,
        }
    }

    /// `outcome` saying where it ran: a row that is not OK on a CI runner or
    /// in a pod says that it read that machine, not the release's hosts,
    /// and points to the fleet form. The status stays: a check that was
    /// asked for and failed is not turned into a pass.
    pub fn say(&self, outcome: Outcome) -> Outcome {
        let outcome = outcome.detail("host", self.host.clone());
        match &self.away {
            Some((what, var)) if outcome.status != Status::Ok => {
                let message = format!(
                    "{}; this is {what}, not the release's hosts: set fleet = '{{...}}' to read them through Prometheus",
                    outcome.message
                );
                Outcome { message, ..outcome }.detail("ran_on", format!("{what} ({var})"))
            }
            _ => outcome,
        }
    }
}

/// The longest staleness bound (a typo must not turn a week-old sample
/// into a fresh one).
const MAX_AGE_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// The `[prometheus]` server a check needs, or a problem at `key`.
pub fn server(key: &str, cx: &mut super::Ctx<'_>) -> Option<Server> {
    match cx.prometheus {
        Some(s) => Some(s.clone()),
        None => {
            cx.problems.push(
                key,
                "reads Prometheus, and there is no [prometheus] section (its url)",
            );
            None
        }
    }
}

/// `max_age` as written: seconds, or `None`.
pub fn max_age(text: Option<&str>, key: &str, cx: &mut super::Ctx<'_>) -> Option<f64> {
    text.map(|t| {
        crate::config::values::duration(
            Some(t),
            MAX_AGE_LIMIT,
            MAX_AGE_LIMIT,
            &format!("{key}.max_age"),
            cx.problems,
        )
        .as_secs_f64()
    })
}

/// The keys that point a host kind at the fleet, as written.
pub struct Fields {
    pub fleet: Option<String>,
    pub hosts: Option<i64>,
    pub max_age: Option<String>,
}

/// What a host kind needs to read the fleet.
pub struct Target {
    pub server: Server,
    pub selector: String,
    pub hosts: Hosts,
    pub max_age: Option<f64>,
}

/// A problem was recorded (with its key path) in the config's problems.
#[derive(Debug)]
pub struct Recorded;

/// Validate the fleet keys of a host kind at `key`: `Ok(None)` for the
/// local form, `Err(Recorded)` when a problem was recorded.
pub fn fields(f: Fields, key: &str, cx: &mut super::Ctx<'_>) -> Result<Option<Target>, Recorded> {
    let Some(text) = f.fleet else {
        for (name, set) in [
            ("hosts", f.hosts.is_some()),
            ("max_age", f.max_age.is_some()),
        ] {
            if set {
                cx.problems.push(
                    format!("{key}.{name}"),
                    "only counts with fleet = '<selector>' (the local form reads this machine)",
                );
            }
        }
        return if f.hosts.is_some() || f.max_age.is_some() {
            Err(Recorded)
        } else {
            Ok(None)
        };
    };
    let fleet_key = format!("{key}.fleet");
    let mut unset = Vec::new();
    let expanded = cx.expand(&text, &fleet_key, &mut unset);
    let selector = match expanded.as_deref().map(selector) {
        Some(Ok(s)) => Some(s),
        Some(Err(why)) => {
            cx.problems.push(&fleet_key, why);
            None
        }
        None => {
            if !unset.is_empty() {
                cx.problems.push(
                    &fleet_key,
                    format!("{} is not set: the fleet is not named", unset.join(", ")),
                );
            }
            None
        }
    };
    let hosts = match f.hosts {
        None => Some(Hosts::EveryTarget),
        Some(n) if n >= 1 => Some(Hosts::Count(Expect::Exactly(n as usize))),
        Some(n) => {
            cx.problems.push(
                format!("{key}.hosts"),
                format!("{n}: the number of hosts the fleet has, 1 or more"),
            );
            None
        }
    };
    let max_age = max_age(f.max_age.as_deref(), key, cx);
    let server = server(&fleet_key, cx);
    match (server, selector, hosts) {
        (Some(server), Some(selector), Some(hosts)) => Ok(Some(Target {
            server,
            selector,
            hosts,
            max_age,
        })),
        _ => Err(Recorded),
    }
}

impl Target {
    /// The check over this fleet measuring `measure`.
    pub fn check(self, measure: Measure) -> FleetCheck {
        FleetCheck {
            server: self.server,
            measure,
            selector: Some(self.selector),
            hosts: self.hosts,
            max_age: self.max_age,
        }
    }
}

/// The matchers inside `{...}` of a selector as written, or why it is not
/// one.
pub fn selector(text: &str) -> Result<String, String> {
    let t = text.trim();
    let inner = t
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or_else(|| {
            format!(
                "{} is not a label selector like '{{job=\"node\", env=\"prod\"}}'",
                crate::sanitize::quoted(text)
            )
        })?
        .trim();
    if inner.is_empty() {
        return Err("an empty selector picks every target Prometheus has: name the fleet".into());
    }
    if inner.contains(['{', '}']) {
        return Err(format!(
            "{} is not one label selector",
            crate::sanitize::quoted(text)
        ));
    }
    Ok(inner.trim_end_matches(',').trim().to_string())
}

/// A label value as PromQL writes it in a matcher.
fn quoted_value(v: &str) -> String {
    judge::quote(v)
}

/// `name{matchers, selector}`.
fn select(name: &str, matchers: &[String], selector: Option<&str>) -> String {
    let mut all: Vec<String> = matchers.to_vec();
    all.extend(selector.map(str::to_string));
    format!("{name}{{{}}}", all.join(","))
}

impl FleetCheck {
    fn sel(&self) -> Option<&str> {
        self.selector.as_deref()
    }

    /// The value query.
    pub fn value_query(&self) -> String {
        match &self.measure {
            Measure::Query { query, .. } => query.clone(),
            Measure::Disk { mountpoint, .. } => select(
                "",
                &[
                    "__name__=~\"node_filesystem_(avail|free|size)_bytes\"".to_string(),
                    format!("mountpoint={}", quoted_value(mountpoint)),
                ],
                self.sel(),
            ),
            Measure::Memory { .. } => select(
                "",
                &["__name__=~\"node_memory_(MemAvailable|MemTotal)_bytes\"".to_string()],
                self.sel(),
            ),
            Measure::Process { name } => select(
                "namedprocess_namegroup_num_procs",
                &[format!("groupname={}", quoted_value(name))],
                self.sel(),
            ),
        }
    }

    /// When each series was scraped: `timestamp()` of one raw metric (of
    /// the query itself for the generic kind).
    pub fn time_query(&self) -> String {
        match &self.measure {
            Measure::Query { query, .. } => format!("timestamp(({query}))"),
            Measure::Disk { mountpoint, .. } => format!(
                "timestamp({})",
                select(
                    "node_filesystem_avail_bytes",
                    &[format!("mountpoint={}", quoted_value(mountpoint))],
                    self.sel(),
                )
            ),
            Measure::Memory { .. } => format!(
                "timestamp({})",
                select("node_memory_MemAvailable_bytes", &[], self.sel())
            ),
            Measure::Process { .. } => format!("timestamp({})", self.value_query()),
        }
    }

    /// The targets of the fleet.
    pub fn up_query(&self) -> Option<String> {
        self.selector.as_ref().map(|s| format!("up{{{s}}}"))
    }

    fn noun(&self) -> &'static str {
        match self.measure {
            Measure::Query { .. } => "series",
            _ => "host",
        }
    }
}

/// One HTTP client per setting, for the whole run.
#[derive(Default)]
struct Clients(Mutex<HashMap<crate::http::Settings, Result<reqwest::Client, String>>>);

/// The `up` answers of one run, by server and query: every check of one
/// selector asks for the same targets, so they share one request (the
/// first to ask makes it, the others wait for its answer).
#[derive(Default)]
pub struct UpAnswers(Mutex<HashMap<(String, String), Arc<UpAnswer>>>);

type UpAnswer = tokio::sync::OnceCell<Result<Vec<Point<'static>>, String>>;

impl UpAnswers {
    /// The one answer to `query` on `server` in this run.
    async fn ask(
        &self,
        client: &reqwest::Client,
        server: &Server,
        query: &str,
        at: f64,
    ) -> Arc<UpAnswer> {
        let cell = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((server.url.clone(), query.to_string()))
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let answer = crate::prom::instant(client, server, query, at).await?;
            Ok(answer
                .points()?
                .into_iter()
                .map(Point::into_owned)
                .collect())
        })
        .await;
        cell
    }
}

/// The run's client for `server`.
pub fn client(shared: &Shared, server: &Server) -> Result<reqwest::Client, String> {
    let proxies = shared.get::<crate::http::Proxies>();
    shared
        .get::<Clients>()
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(server.http.clone())
        .or_insert_with(|| crate::http::client(&server.http, &proxies))
        .clone()
}

impl super::Check for FleetCheck {
    fn budget(&self) -> Duration {
        self.server.timeout + SLACK
    }

    fn run<'a>(&'a self, shared: &'a Shared) -> Running<'a> {
        let client = client(shared, &self.server);
        let detail = *shared.get::<Detail>();
        Box::pin(async move {
            match client {
                Ok(c) => check(&c, self, now(), &shared.get::<UpAnswers>(), detail).await,
                Err(e) => Outcome::crit(format!("could not check: no HTTP client ({e})")),
            }
        })
    }

    fn secrets(&self) -> Vec<String> {
        self.server.headers.iter().map(|(_, v)| v.clone()).collect()
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Ask Prometheus and judge what it says. The queries go out at once;
/// each answer is read where it lies, its series borrowing from its body.
pub async fn check(
    client: &reqwest::Client,
    c: &FleetCheck,
    at: f64,
    ups: &UpAnswers,
    detail: Detail,
) -> Outcome {
    let value_query = c.value_query();
    let time_query = c.max_age.map(|_| c.time_query());
    let up_query = c.up_query();
    let ask = |q: Option<String>| async move {
        match q {
            Some(q) => Some(crate::prom::instant(client, &c.server, &q, at).await),
            None => None,
        }
    };
    let ask_up = |q: Option<String>| async move {
        match q {
            Some(q) => Some(ups.ask(client, &c.server, &q, at).await),
            None => None,
        }
    };
    let (values, times, up_answer) = tokio::join!(
        ask(Some(value_query.clone())),
        ask(time_query.clone()),
        ask_up(up_query.clone())
    );
    let up = up_answer.as_ref().and_then(|cell| cell.get());
    let mut queries = vec![value_query];
    queries.extend(time_query);
    queries.extend(up_query);
    let base = |o: Outcome| {
        o.detail("queries", queries.clone())
            .detail("prometheus", crate::secrets::mask_url(&c.server.url))
            .detail("evaluated_at", judge::time(at))
    };
    // The points borrow from the answers' bodies, kept here until judged.
    let values = match values {
        Some(Ok(answer)) => Some(answer),
        Some(Err(why)) => return base(Outcome::crit(format!("could not check: {why}"))),
        None => None,
    };
    let values = match values.as_ref().map(Answer::points) {
        Some(Ok(points)) => points,
        Some(Err(why)) => return base(Outcome::crit(format!("could not check: {why}"))),
        None => Vec::new(),
    };
    let times = match times {
        Some(Ok(answer)) => Some(answer),
        Some(Err(why)) => {
            return base(Outcome::crit(format!(
                "could not check the sample times: {why}"
            )));
        }
        None => None,
    };
    let times = match times.as_ref().map(Answer::points) {
        Some(Ok(points)) => Some(points),
        Some(Err(why)) => {
            return base(Outcome::crit(format!(
                "could not check the sample times: {why}"
            )));
        }
        None => None,
    };
    let up = match up {
        Some(Ok(u)) => Some(u.as_slice()),
        Some(Err(why)) => {
            return base(Outcome::crit(format!(
                "could not check the targets (up): {why}"
            )));
        }
        None => None,
    };
    base(judge_all(c, values, times, up, at, detail))
}

/// One series (for a host kind, one host's series), judged.
#[derive(Debug)]
struct Item<'a> {
    labels: Labels<'a>,
    /// The number judged (a percent, a count, the query's value).
    value: f64,
    status: Status,
    /// Why it says nothing (NaN, stale, incomplete): CRIT.
    unread: Option<String>,
    /// How bad it is, higher is worse, among items of one status.
    badness: f64,
    /// Disk and memory: the bytes available and in all, as read.
    bytes: Option<(f64, f64)>,
    /// When it was scraped, with `max_age`.
    sample_time: Option<f64>,
}

/// A host that should be there and is not.
struct Missing<'a> {
    labels: Labels<'a>,
    why: String,
}

/// One value series, its `__name__` apart from its other labels.
struct Sample<'a> {
    labels: Labels<'a>,
    name: Cow<'a, str>,
    value: f64,
}

/// The metrics of one group: name and value, in the answer's order.
type Metrics<'a> = Vec<(Cow<'a, str>, f64)>;

/// The value series grouped by their labels without `__name__` (a host's
/// avail, free and size series form one group), in label order; within a
/// group, the order of the answer.
fn group(points: Vec<Point<'_>>) -> Vec<(Labels<'_>, Metrics<'_>)> {
    let mut samples: Vec<Sample> = points
        .into_iter()
        .map(|mut p| Sample {
            name: p.labels.remove("__name__").unwrap_or_default(),
            labels: p.labels,
            value: p.value,
        })
        .collect();
    // Stable, and quick on an answer that comes sorted by metric name then
    // labels (a few sorted runs).
    samples.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut out = Vec::new();
    let mut samples = samples.into_iter().peekable();
    while let Some(first) = samples.next() {
        let mut metrics = vec![(first.name, first.value)];
        while let Some(next) = samples.next_if(|s| s.labels == first.labels) {
            metrics.push((next.name, next.value));
        }
        out.push((first.labels, metrics));
    }
    out
}

/// Judge the series of one group.
fn item<'a>(c: &FleetCheck, labels: Labels<'a>, metrics: &[(Cow<'_, str>, f64)]) -> Item<'a> {
    // A name the answer repeats counts once, its last value.
    let one = |name: &str| {
        metrics
            .iter()
            .rev()
            .find(|(n, _)| n.as_ref() == name)
            .map(|(_, v)| *v)
    };
    let mut it = Item {
        labels,
        value: f64::NAN,
        status: Status::Ok,
        unread: None,
        badness: 0.0,
        bytes: None,
        sample_time: None,
    };
    let lacking = |mut it: Item<'a>, what: &str| {
        it.status = Status::Crit;
        it.unread = Some(format!("no {what} series"));
        it
    };
    match &c.measure {
        Measure::Query { bound, .. } => {
            // One series per label set: the value of the first name.
            let v = metrics
                .iter()
                .map(|(n, _)| n.as_ref())
                .min()
                .and_then(one)
                .unwrap_or(f64::NAN);
            it.value = v;
            it.status = if bound.beyond(v) {
                Status::Crit
            } else {
                Status::Ok
            };
            it.badness = bound.badness(v);
        }
        Measure::Disk {
            warn,
            crit,
            min_free,
            ..
        } => {
            let (Some(avail), Some(free), Some(size)) = (
                one("node_filesystem_avail_bytes"),
                one("node_filesystem_free_bytes"),
                one("node_filesystem_size_bytes"),
            ) else {
                let absent: Vec<&str> = [
                    "node_filesystem_avail_bytes",
                    "node_filesystem_free_bytes",
                    "node_filesystem_size_bytes",
                ]
                .into_iter()
                .filter(|n| one(n).is_none())
                .collect();
                return lacking(it, &absent.join(", "));
            };
            let used = size - free;
            let pct = used * 100.0 / (used + avail);
            it.status = grade(pct, *warn, *crit);
            if let Some(min) = min_free
                && avail_bytes(avail) < *min
            {
                it.status = Status::Crit;
            }
            it.value = pct;
            it.badness = pct;
            if (used + avail) <= 0.0 || !pct.is_finite() {
                it.value = f64::NAN;
            }
            it.bytes = Some((avail, used + avail));
        }
        Measure::Memory { warn, crit } => {
            let (Some(avail), Some(total)) = (
                one("node_memory_MemAvailable_bytes"),
                one("node_memory_MemTotal_bytes"),
            ) else {
                let absent = if one("node_memory_MemTotal_bytes").is_none() {
                    "node_memory_MemTotal_bytes"
                } else {
                    "node_memory_MemAvailable_bytes"
                };
                return lacking(it, absent);
            };
            let pct = (total - avail) * 100.0 / total;
            it.value = pct;
            it.status = grade(pct, *warn, *crit);
            it.badness = pct;
            if !pct.is_finite() {
                it.value = f64::NAN;
            }
            it.bytes = Some((avail, total));
        }
        Measure::Process { .. } => {
            let v = one("namedprocess_namegroup_num_procs").unwrap_or(f64::NAN);
            it.value = v;
            it.status = if v >= 1.0 { Status::Ok } else { Status::Crit };
            it.badness = -v;
        }
    }
    if it.value.is_nan() {
        it.unread = Some("NaN".to_string());
    }
    it
}

/// Bytes as a whole number: 0 for what is not a positive number.
fn avail_bytes(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v as u64
    } else {
        0
    }
}

/// What a message says of a series that was read: `91.2% used, 1.2 GiB
/// free`, `4 processes`, the query's value. Made only for the series a
/// message names.
fn describe(c: &FleetCheck, i: &Item<'_>) -> String {
    let pct = i.value;
    match (&c.measure, i.bytes) {
        (Measure::Disk { min_free, .. }, Some((avail, _))) => {
            let free = avail_bytes(avail);
            match min_free {
                Some(min) if free < *min => format!(
                    "{pct:.1}% used, only {} free, below the minimum of {}",
                    human(free),
                    human(*min)
                ),
                _ => format!("{pct:.1}% used, {} free", human(free)),
            }
        }
        (Measure::Memory { .. }, Some((_, total))) => {
            format!("{pct:.1}% used of {}", human(avail_bytes(total)))
        }
        (Measure::Process { .. }, _) => {
            let n = if i.value.is_finite() && i.value > 0.0 {
                i.value as usize
            } else {
                0
            };
            if n == 1 {
                "1 process".to_string()
            } else {
                format!("{n} processes")
            }
        }
        _ => judge::number(i.value),
    }
}

/// A series' labels as a JSON object, in name order.
fn labels_json(labels: &Labels<'_>) -> Value {
    let mut m = Map::with_capacity(labels.len());
    for (k, v) in labels.iter() {
        m.insert(k.to_string(), Value::String(v.to_string()));
    }
    Value::Object(m)
}

/// The JSON of one judged series.
fn item_json(i: &Item<'_>) -> Value {
    let mut o = Map::with_capacity(7);
    o.insert("labels".into(), labels_json(&i.labels));
    o.insert(
        "value".into(),
        if i.value.is_finite() {
            Value::from(i.value)
        } else {
            Value::from(judge::number(i.value))
        },
    );
    let status = if i.unread.is_some() {
        "NO_DATA"
    } else {
        i.status.as_str()
    };
    o.insert("status".into(), Value::from(status));
    if let Some(why) = &i.unread {
        o.insert("why".into(), Value::from(why.as_str()));
    }
    if let Some((avail, total)) = i.bytes {
        o.insert("available_bytes".into(), Value::from(avail));
        o.insert("total_bytes".into(), Value::from(total));
    }
    if let Some(t) = i.sample_time {
        o.insert("sample_time".into(), Value::from(judge::time(t)));
    }
    Value::Object(o)
}

/// Judge every series, count them against what is expected, and say it
/// in one row. With [`Detail::Full`], the row's details list every
/// series.
fn judge_all(
    c: &FleetCheck,
    values: Vec<Point<'_>>,
    times: Option<Vec<Point<'_>>>,
    up: Option<&[Point<'_>]>,
    at: f64,
    detail: Detail,
) -> Outcome {
    let mut items: Vec<Item> = Vec::new();
    let mut split = false;
    for (labels, metrics) in group(values) {
        match c.measure {
            // A query's series that differ only by their name are as many
            // series, each judged: one must not stand for the others.
            Measure::Query { .. } if metrics.len() > 1 => {
                split = true;
                for (name, value) in metrics {
                    let mut labels = labels.clone();
                    if !name.is_empty() {
                        labels.insert(Cow::Borrowed("__name__"), name.clone());
                    }
                    items.push(item(c, labels, &[(name, value)]));
                }
            }
            _ => items.push(item(c, labels, &metrics)),
        }
    }
    if split {
        items.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    // Sample times, by labels without `__name__` (which `timestamp()`
    // drops); of two with one label set, the later in the answer.
    if let (Some(times), Some(max_age)) = (times, c.max_age) {
        let mut by_labels: Vec<(Labels, f64)> = times
            .into_iter()
            .map(|mut p| {
                p.labels.remove("__name__");
                (p.labels, p.value)
            })
            .collect();
        by_labels.sort_by(|a, b| a.0.cmp(&b.0));
        for i in &mut items {
            // A series split by its name is timed by its other labels.
            let key: Cow<Labels> = if i.labels.get("__name__").is_some() {
                let mut unnamed = i.labels.clone();
                unnamed.remove("__name__");
                Cow::Owned(unnamed)
            } else {
                Cow::Borrowed(&i.labels)
            };
            let after = by_labels.partition_point(|(l, _)| *l <= *key);
            match after.checked_sub(1).map(|at| &by_labels[at]) {
                Some((l, t)) if *l == *key => {
                    i.sample_time = Some(*t);
                    if i.unread.is_none() {
                        i.unread = judge::unread(i.value, *t, at, Some(max_age));
                    }
                }
                _ if i.unread.is_none() => {
                    i.unread = Some("no sample time (timestamp() returned none)".into());
                }
                _ => {}
            }
        }
    }
    for i in &mut items {
        if i.unread.is_some() {
            i.status = Status::Crit;
        }
    }

    // Hosts that should be there and are not.
    let mut missing: Vec<Missing> = Vec::new();
    let mut counted_missing = 0usize;
    let mut extra = 0usize;
    let hosts_seen: HashSet<&str> = items
        .iter()
        .filter_map(|i| i.labels.get(HOST_LABEL))
        .collect();
    let mut targets = 0usize;
    if let Some(up) = up {
        targets = up.len();
        if up.is_empty() && c.hosts == Hosts::EveryTarget {
            // No target, no fleet: whatever series came cannot be counted.
            return Outcome::crit(format!(
                "could not check: no target matches {} (for series that do not come one \
                 target per host, say how many hosts with hosts = N)",
                c.up_query().unwrap_or_default()
            ))
            .detail("targets", 0);
        }
        for p in up {
            if p.value != 1.0 {
                missing.push(Missing {
                    labels: p.labels.clone(),
                    why: format!("exporter down (up == {})", judge::number(p.value)),
                });
            } else if c.hosts == Hosts::EveryTarget {
                let host = p.labels.get(HOST_LABEL);
                if !host.is_some_and(|h| hosts_seen.contains(h)) {
                    missing.push(Missing {
                        labels: p.labels.clone(),
                        why: "up, but no series for this check".to_string(),
                    });
                }
            }
        }
    }
    let seen = match c.measure {
        Measure::Query { .. } => items.len(),
        _ if c.hosts == Hosts::EveryTarget => hosts_seen.len(),
        _ => hosts_seen.len().max(usize::from(!items.is_empty())),
    };
    drop(hosts_seen);
    let expected_text = match c.hosts {
        Hosts::Count(e) => {
            counted_missing = e.missing(seen);
            extra = e.extra(seen);
            e.describe()
        }
        Hosts::EveryTarget => format!("every target of {}", c.up_query().unwrap_or_default()),
    };
    // A counted shortfall already explained by targets that are down is
    // not counted twice.
    let counted_missing = counted_missing.saturating_sub(missing.len());

    // Items are in label order (`group`'s, or sorted again after a split).
    missing.sort_by(|a, b| a.labels.cmp(&b.labels));
    let keys = judge::telling(
        items
            .iter()
            .map(|i| &i.labels)
            .chain(missing.iter().map(|m| &m.labels)),
    );
    let name = |l: &Labels| judge::name(l, &keys);

    let unread: Vec<&Item> = items.iter().filter(|i| i.unread.is_some()).collect();
    let breaching: Vec<&Item> = items
        .iter()
        .filter(|i| i.unread.is_none() && i.status == Status::Crit)
        .collect();
    let warning: Vec<&Item> = items
        .iter()
        .filter(|i| i.unread.is_none() && i.status == Status::Warn)
        .collect();
    // The worst; of equally bad ones, the first by labels.
    let worst_of = |list: &[&Item]| -> Option<String> {
        list.iter()
            .copied()
            .max_by(|a, b| {
                a.badness
                    .total_cmp(&b.badness)
                    .then_with(|| b.labels.cmp(&a.labels))
            })
            .map(|i| format!("{} {}", name(&i.labels), describe(c, i)))
    };
    let noun = c.noun();
    let plural = |n: usize| {
        if noun == "series" {
            format!("{n} series")
        } else {
            crate::text::count(n, noun)
        }
    };
    let limits = limits(&c.measure);
    let not_read = missing.len() + counted_missing + unread.len();
    let total = items.len() + missing.len() + counted_missing;

    let (status, message) = if not_read > 0 || (items.is_empty() && missing.is_empty()) {
        let first = missing
            .first()
            .map(|m| format!("{} {}", name(&m.labels), m.why))
            .or_else(|| {
                unread.first().map(|i| {
                    format!(
                        "{} {}",
                        name(&i.labels),
                        i.unread.as_deref().unwrap_or_default()
                    )
                })
            });
        let mut message = if items.is_empty() && missing.is_empty() {
            match (&c.hosts, up.map(<[Point]>::len)) {
                (_, Some(0)) => format!(
                    "could not check: no target matches {}",
                    c.up_query().unwrap_or_default()
                ),
                (Hosts::Count(Expect::Exactly(n)), _) => {
                    format!("could not check: no series, {} expected", n)
                }
                _ => "could not check: no series (the query matched nothing)".to_string(),
            }
        } else {
            format!("could not check {} of {}", not_read, plural(total))
        };
        if !(items.is_empty() && missing.is_empty()) {
            let mut parts = Vec::new();
            if let Some(first) = first {
                let more = (missing.len() + unread.len()).saturating_sub(1);
                parts.push(if more > 0 {
                    format!("{first} (and {more} more)")
                } else {
                    first
                });
            }
            if counted_missing > 0 {
                parts.push(format!(
                    "{} missing ({} expected, {} seen)",
                    counted_missing, expected_text, seen
                ));
            }
            message = format!("{message}: {}", parts.join("; "));
        }
        if !breaching.is_empty() {
            message.push_str(&format!("; {} beyond the bound", breaching.len()));
        }
        (Status::Crit, message)
    } else if let Some(worst) = worst_of(&breaching) {
        (
            Status::Crit,
            format!(
                "{} of {} {}: worst {worst}{limits}",
                breaching.len(),
                plural(items.len()),
                crit_words(&c.measure),
            ),
        )
    } else if let Some(worst) = worst_of(&warning) {
        (
            Status::Warn,
            format!(
                "{} of {} at or above warn: worst {worst}{limits}",
                warning.len(),
                plural(items.len()),
            ),
        )
    } else {
        let all: Vec<&Item> = items.iter().collect();
        let mut message = format!("{} {}", plural(items.len()), ok_words(&c.measure));
        if let Some(worst) = worst_of(&all) {
            message.push_str(&format!(": worst {worst}"));
        }
        message.push_str(&limits);
        if extra > 0 {
            (
                Status::Warn,
                format!("{message}; {extra} more than the {expected_text} expected"),
            )
        } else {
            (Status::Ok, message)
        }
    };
    let mut outcome = Outcome::new(status, message)
        .detail("expected", expected_text)
        .detail("seen", seen)
        .detail("breaching", breaching.len())
        .detail("missing", missing.len() + counted_missing)
        .detail("no_data", unread.len());
    if up.is_some() {
        outcome = outcome.detail("targets", targets);
    }
    if let Some(max_age) = c.max_age {
        outcome = outcome.detail("max_age_seconds", max_age);
    }
    if detail == Detail::Summary {
        return outcome;
    }
    // Every series, sorted by labels, then the missing hosts.
    let mut series: Vec<Value> = Vec::with_capacity(items.len() + missing.len());
    series.extend(items.iter().map(item_json));
    series.extend(missing.iter().map(|m| {
        json!({"labels": labels_json(&m.labels), "value": null, "status": "MISSING", "why": m.why})
    }));
    outcome.detail("series", series)
}

/// ` (warn 75%, crit 85%)`, ` (max 0.9)`: the limits, for a message.
fn limits(m: &Measure) -> String {
    match m {
        Measure::Query { bound, .. } => format!(" ({})", bound.describe()),
        Measure::Disk { warn, crit, .. } | Measure::Memory { warn, crit } => {
            format!(" (warn {warn}%, crit {crit}%)")
        }
        Measure::Process { .. } => String::new(),
    }
}

fn crit_words(m: &Measure) -> String {
    match m {
        Measure::Query { bound, .. } => format!("{} the bound", bound.side()),
        Measure::Disk { .. } | Measure::Memory { .. } => "at or above crit".to_string(),
        Measure::Process { name } => format!("without a running {name}"),
    }
}

fn ok_words(m: &Measure) -> String {
    match m {
        Measure::Query { .. } => "within the bound".to_string(),
        Measure::Disk { .. } | Measure::Memory { .. } => "below warn".to_string(),
        Measure::Process { name } => format!("running {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> Server {
        Server {
            url: "http://127.0.0.1:9".into(),
            timeout: Duration::from_secs(1),
            headers: Vec::new(),
            http: crate::http::Settings {
                max_redirects: 0,
                insecure: false,
                ca_file: None,
                answers: Vec::new(),
            },
        }
    }

    fn point<'a>(labels: &[(&'a str, &'a str)], value: f64) -> Point<'a> {
        Point {
            labels: labels.iter().copied().collect(),
            time: 1000.0,
            value,
        }
    }

    fn query(bound: Bound, hosts: Hosts, max_age: Option<f64>) -> FleetCheck {
        FleetCheck {
            server: server(),
            measure: Measure::Query {
                query: "q".into(),
                bound,
            },
            selector: None,
            hosts,
            max_age,
        }
    }

    #[test]
    fn the_worst_breaching_series_is_named_and_counted() {
        let c = query(Bound::Max(0.5), Hosts::Count(Expect::AtLeastOne), None);
        let values = vec![
            point(&[("instance", "web-1"), ("job", "a")], 0.1),
            point(&[("instance", "web-3"), ("job", "a")], 0.9),
            point(&[("instance", "web-2"), ("job", "a")], 0.7),
        ];
        let o = judge_all(&c, values, None, None, 1000.0, Detail::Full);
        assert_eq!(o.status, Status::Crit);
        assert_eq!(
            o.message,
            "2 of 3 series above the bound: worst instance=\"web-3\" 0.9 (max 0.5)"
        );
        let series = o.details["series"].as_array().unwrap();
        let names: Vec<&str> = series
            .iter()
            .map(|s| s["labels"]["instance"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["web-1", "web-2", "web-3"]);
    }

    #[test]
    fn series_that_differ_only_by_their_name_are_each_judged() {
        let c = query(Bound::Max(1.0), Hosts::Count(Expect::AtLeastOne), None);
        let values = vec![
            point(&[("__name__", "a"), ("x", "1")], 0.0),
            point(&[("__name__", "b"), ("x", "1")], 5.0),
        ];
        let o = judge_all(&c, values, None, None, 1000.0, Detail::Full);
        assert_eq!(o.status, Status::Crit, "{}", o.message);
        assert_eq!(
            o.message,
            "1 of 2 series above the bound: worst __name__=\"b\" 5 (max 1)"
        );
        let series = o.details["series"].as_array().unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[1]["labels"]["__name__"], "b");
    }

    #[test]
    fn missing_nan_stale_and_empty_are_never_a_pass() {
        let c = query(Bound::Max(1.0), Hosts::Count(Expect::Exactly(3)), None);
        let o = judge_all(
            &c,
            vec![point(&[("d", "a")], 0.0)],
            None,
            None,
            1000.0,
            Detail::Full,
        );
        assert_eq!(o.status, Status::Crit);
        assert!(
            o.message.contains("2 missing (3 expected, 1 seen)"),
            "{}",
            o.message
        );

        let c = query(Bound::Max(1.0), Hosts::Count(Expect::AtLeastOne), None);
        let o = judge_all(&c, vec![], None, None, 1000.0, Detail::Full);
        assert_eq!(o.status, Status::Crit);
        assert!(
            o.message.starts_with("could not check: no series"),
            "{}",
            o.message
        );

        let o = judge_all(
            &c,
            vec![point(&[("d", "a")], f64::NAN)],
            None,
            None,
            1000.0,
            Detail::Full,
        );
        assert_eq!(o.status, Status::Crit);
        assert!(o.message.contains("NaN"), "{}", o.message);

        let c = query(
            Bound::Max(1.0),
            Hosts::Count(Expect::AtLeastOne),
            Some(60.0),
        );
        let times = vec![point(&[("d", "a")], 900.0), point(&[("d", "b")], 990.0)];
        let values = vec![point(&[("d", "a")], 0.0), point(&[("d", "b")], 0.0)];
        let o = judge_all(&c, values, Some(times), None, 1000.0, Detail::Full);
        assert_eq!(o.status, Status::Crit);
        assert!(o.message.contains("d=\"a\" stale"), "{}", o.message);
    }

    #[test]
    fn a_target_that_is_down_or_silent_is_missing_and_named() {
        let c = FleetCheck {
            server: server(),
            measure: Measure::Memory {
                warn: 70.0,
                crit: 85.0,
            },
            selector: Some("job=\"node\"".into()),
            hosts: Hosts::EveryTarget,
            max_age: None,
        };
        let values = vec![
            point(
                &[
                    ("__name__", "node_memory_MemAvailable_bytes"),
                    ("instance", "a"),
                    ("job", "node"),
                ],
                50.0,
            ),
            point(
                &[
                    ("__name__", "node_memory_MemTotal_bytes"),
                    ("instance", "a"),
                    ("job", "node"),
                ],
                100.0,
            ),
        ];
        let up = [
            point(&[("instance", "a"), ("job", "node")], 1.0),
            point(&[("instance", "b"), ("job", "node")], 0.0),
            point(&[("instance", "c"), ("job", "node")], 1.0),
        ];
        let o = judge_all(
            &c,
            values.clone(),
            None,
            Some(&up[..]),
            1000.0,
            Detail::Full,
        );
        assert_eq!(o.status, Status::Crit);
        assert!(
            o.message.starts_with(
                "could not check 2 of 3 hosts: instance=\"b\" exporter down (up == 0)"
            ),
            "{}",
            o.message
        );
        let none = judge_all(
            &c,
            values.clone(),
            None,
            Some(&[][..]),
            1000.0,
            Detail::Full,
        );
        assert_eq!(none.status, Status::Crit);
        assert!(
            none.message
                .starts_with("could not check: no target matches up{job=\"node\"}"),
            "{}",
            none.message
        );
        let ok = judge_all(
            &c,
            values,
            None,
            Some(&[point(&[("instance", "a"), ("job", "node")], 1.0)][..]),
            1000.0,
            Detail::Full,
        );
        assert_eq!(ok.status, Status::Ok, "{}", ok.message);
        assert_eq!(
            ok.message,
            "1 host below warn: worst instance=\"a\" 50.0% used of 100 B (warn 70%, crit 85%)"
        );
    }

    #[test]
    fn selectors_and_queries() {
        assert_eq!(
            selector("{job=\"node\", env=\"prod\"}").unwrap(),
            "job=\"node\", env=\"prod\""
        );
        assert!(selector("job=\"node\"").is_err());
        assert!(selector("{}").is_err());
        let c = FleetCheck {
            server: server(),
            measure: Measure::Disk {
                mountpoint: "/var/lib \"x\"".into(),
                warn: 75.0,
                crit: 85.0,
                min_free: None,
            },
            selector: Some("job=\"node\"".into()),
            hosts: Hosts::EveryTarget,
            max_age: None,
        };
        assert_eq!(
            c.value_query(),
            "{__name__=~\"node_filesystem_(avail|free|size)_bytes\",mountpoint=\"/var/lib \\\"x\\\"\",job=\"node\"}"
        );
        assert_eq!(c.up_query().unwrap(), "up{job=\"node\"}");
    }
}
