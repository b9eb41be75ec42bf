//! Notifications: what the release sends people and systems, and how.
//!
//! Targets are Slack incoming webhooks (`POST {"text": ...}`, success is
//! 200) and generic JSON webhooks signed per the Standard Webhooks scheme
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64
//! HMAC-SHA256 of "<id>.<timestamp>.<body>">`, success is any 2xx). A
//! target's URL and signing key are secrets: rows name the target, never
//! its URL.
//!
//! Delivery is bounded: up to [`ATTEMPTS`] attempts within [`BUDGET`];
//! connection errors, timeouts, 429, 500, 502, 503 and 504 are retried
//! after the server's `Retry-After` (capped) or a short backoff; redirects
//! are not followed (a 3xx is a failure). What happened is a row of the
//! report; it never changes a verdict.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::config::values::{Problems, check_name, duration, expand};
use crate::envsnap::EnvSnapshot;
use crate::report::{CheckResult, Outcome, Phase, Status};
use crate::sanitize::quoted;

/// Attempts per target, at most.
pub const ATTEMPTS: u32 = 3;
/// The longest a delivery to one target may take, all attempts included.
pub const BUDGET: Duration = Duration::from_secs(30);
/// One attempt's timeout, by default.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `Retry-After` honoured.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(10);

/// The events, with their default texts: the go-live playbook's four
/// messages, then what the gate and `verify` send by themselves.
pub const EVENTS: &[(&str, &str)] = &[
    (
        "deployment.started",
        "{app} release {version} started (canary phase). Decision owner: {owner}. Next update in {next_update}.",
    ),
    (
        "canary.succeeded",
        "{app} canary healthy (error/latency within guardrails). Proceeding to rolling rollout 25% -> 100%.",
    ),
    (
        "golive.completed",
        "{app} release {version} go-live complete. Post-deploy smoke passed. Hypercare window now active (T+72h).",
    ),
    (
        "rollback",
        "{app} rollout aborted due to {reason}. Rollback in progress to {previous_tag}. Next status in {next_update}.",
    ),
    (
        "gate.blocked",
        "{app} release {version} to {env} BLOCKED by the release gate: {reason}.",
    ),
    (
        "gate.critical",
        "{app} release {version} to {env}: the release gate found a critical health check: {reason}.",
    ),
    (
        "gate.freeze_override",
        "{app} release {version} to {env} goes ahead during a deploy freeze: {reason}.",
    ),
    (
        "verify.healthy",
        "{app} release {version} on {env} verified HEALTHY ({reason}).",
    ),
    (
        "verify.rollback",
        "{app} rollout of {version} on {env} aborted due to {reason}. {rollback}. Next status in {next_update}.",
    ),
];

/// The placeholders a text may use.
pub const PLACEHOLDERS: &[&str] = &[
    "app",
    "version",
    "env",
    "reason",
    "previous_tag",
    "owner",
    "next_update",
    "commit",
    "verdict",
    "rollback",
];

/// `[notify]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub app: Option<String>,
    pub owner: Option<String>,
    pub next_update: Option<String>,
    pub templates: Option<BTreeMap<String, String>>,
    pub slack: Option<Vec<RawTarget>>,
    pub webhook: Option<Vec<RawTarget>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub name: String,
    pub url: String,
    pub secret: Option<String>,
    pub events: Option<Vec<String>>,
    pub timeout: Option<String>,
}

/// Where a target delivers.
#[derive(Debug, Clone)]
pub enum Channel {
    Slack,
    /// A signed JSON webhook; the HMAC key.
    Webhook {
        key: Vec<u8>,
    },
}

#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub channel: Channel,
    pub url: String,
    /// The events it wants; empty: all.
    pub events: Vec<String>,
    pub timeout: Duration,
}

impl Target {
    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }
}

/// The validated `[notify]`.
#[derive(Debug, Clone, Default)]
pub struct Notify {
    pub app: Option<String>,
    pub owner: Option<String>,
    pub next_update: Option<String>,
    pub templates: BTreeMap<String, String>,
    pub targets: Vec<Target>,
}

impl Notify {
    /// The notification for `event` about the release `t`.
    /// `extra` adds the fields only some senders have: `verdict` (the gate's
    /// and verify's own), `rollback` (what verify did about a trigger).
    pub fn message(
        &self,
        t: &crate::report::Target,
        event: &str,
        reason: &str,
        previous_tag: Option<String>,
        extra: &[(&'static str, String)],
    ) -> Message {
        let mut fields: BTreeMap<&str, String> = BTreeMap::new();
        let app = self.app.clone().unwrap_or_else(|| "release".to_string());
        fields.insert("app", app);
        fields.insert("version", t.version.clone().unwrap_or_default());
        fields.insert("env", t.env.clone().unwrap_or_default());
        fields.insert("commit", t.commit.clone().unwrap_or_default());
        fields.insert("reason", reason.to_string());
        fields.insert("previous_tag", previous_tag.unwrap_or_default());
        fields.insert("owner", self.owner.clone().unwrap_or_default());
        fields.insert(
            "next_update",
            self.next_update
                .clone()
                .unwrap_or_else(|| "10 min".to_string()),
        );
        for (name, value) in extra {
            fields.insert(name, value.clone());
        }
        let text = self.text(event, &fields);
        let data: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
            .collect();
        let mut data = Value::Object(data);
        data["text"] = Value::String(text.clone());
        Message {
            event: event.to_string(),
            text,
            data,
        }
    }

    /// Values that are secrets: every URL and signing key.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.targets {
            out.push(t.url.clone());
            if let Channel::Webhook { key } = &t.channel {
                out.push(base64::engine::general_purpose::STANDARD.encode(key));
            }
        }
        out
    }

    /// The text of `event` with `fields` filled in.
    pub fn text(&self, event: &str, fields: &BTreeMap<&str, String>) -> String {
        let template = self
            .templates
            .get(event)
            .map(String::as_str)
            .or_else(|| EVENTS.iter().find(|(e, _)| *e == event).map(|(_, t)| *t))
            .unwrap_or("{app} {version} on {env}: {reason}");
        fill(template, fields)
    }
}

/// `{name}` placeholders filled in; a name without a value stays visible
/// as `<name>` rather than vanishing.
pub fn fill(template: &str, fields: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open + 1..];
        match tail.find('}') {
            Some(close) if PLACEHOLDERS.contains(&&tail[..close]) => {
                let name = &tail[..close];
                match fields.get(name).filter(|v| !v.is_empty()) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('<');
                        out.push_str(name);
                        out.push('>');
                    }
                }
                rest = &tail[close + 1..];
            }
            _ => {
                out.push('{');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders in `template` that are not known.
fn unknown_placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let tail = &rest[open + 1..];
        if let Some(close) = tail.find('}') {
            let name = &tail[..close];
            if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !PLACEHOLDERS.contains(&name)
            {
                out.push(name.to_string());
            }
            rest = &tail[close + 1..];
        } else {
            break;
        }
    }
    out
}

/// A Standard Webhooks secret: `whsec_` and the base64 of the key.
pub fn webhook_key(secret: &str) -> Result<Vec<u8>, String> {
    let Some(b64) = secret.strip_prefix("whsec_") else {
        return Err("not a Standard Webhooks secret: write it as whsec_ followed by base64".into());
    };
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| "the part after whsec_ is not base64".to_string())
        .and_then(|k| {
            if k.is_empty() {
                Err("the key is empty".to_string())
            } else {
                Ok(k)
            }
        })
}

/// Validate `[notify]`.
pub fn validate(raw: Raw, env: &EnvSnapshot, problems: &mut Problems) -> Notify {
    let mut templates = BTreeMap::new();
    for (event, text) in raw.templates.unwrap_or_default() {
        let key = format!("notify.templates.{event}");
        if !EVENTS.iter().any(|(e, _)| *e == event) {
            problems.push(
                &key,
                format!(
                    "not an event; the events are: {}",
                    EVENTS
                        .iter()
                        .map(|(e, _)| *e)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            continue;
        }
        let unknown = unknown_placeholders(&text);
        if !unknown.is_empty() {
            problems.push(
                &key,
                format!(
                    "unknown placeholder {}; the placeholders are: {}",
                    unknown.join(", "),
                    PLACEHOLDERS.join(", ")
                ),
            );
        }
        templates.insert(event, text);
    }
    let mut targets = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    let lists = [
        ("slack", raw.slack.unwrap_or_default()),
        ("webhook", raw.webhook.unwrap_or_default()),
    ];
    for (kind, list) in lists {
        for (i, t) in list.into_iter().enumerate() {
            let key = format!("notify.{kind}[{i}]");
            if let Err(why) = check_name(&t.name, "target") {
                problems.push(format!("{key}.name"), why);
            } else if !names.insert(t.name.clone()) {
                problems.push(
                    format!("{key}.name"),
                    format!("{} names another target too", quoted(&t.name)),
                );
            }
            let Some(url) = expand(&t.url, &format!("{key}.url"), env, problems) else {
                continue;
            };
            if !reqwest::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                // Never echo it: a webhook URL is a credential.
                problems.push(format!("{key}.url"), "is not an http or https URL");
                continue;
            }
            let channel = match (kind, t.secret) {
                ("slack", None) => Channel::Slack,
                ("slack", Some(_)) => {
                    problems.push(
                        format!("{key}.secret"),
                        "a Slack webhook takes no secret: its URL is the secret",
                    );
                    continue;
                }
                (_, None) => {
                    problems.push(
                        format!("{key}.secret"),
                        "missing: a webhook is signed; set secret = \"${NAME}\" (whsec_...)",
                    );
                    continue;
                }
                (_, Some(s)) => {
                    let Some(secret) = expand(&s, &format!("{key}.secret"), env, problems) else {
                        continue;
                    };
                    match webhook_key(&secret) {
                        Ok(key) => Channel::Webhook { key },
                        Err(why) => {
                            problems.push(format!("{key}.secret"), why);
                            continue;
                        }
                    }
                }
            };
            let events = t.events.unwrap_or_default();
            for (j, e) in events.iter().enumerate() {
                if !EVENTS.iter().any(|(name, _)| name == e) {
                    problems.push(
                        format!("{key}.events[{j}]"),
                        format!("{} is not an event", quoted(e)),
                    );
                }
            }
            let timeout = duration(
                t.timeout.as_deref(),
                TIMEOUT,
                BUDGET,
                &format!("{key}.timeout"),
                problems,
            );
            targets.push(Target {
                name: t.name,
                channel,
                url,
                events,
                timeout,
            });
        }
    }
    let text = |v: Option<String>, k: &str, problems: &mut Problems| {
        v.and_then(|v| expand(&v, &format!("notify.{k}"), env, problems))
    };
    Notify {
        app: text(raw.app, "app", problems),
        owner: text(raw.owner, "owner", problems),
        next_update: text(raw.next_update, "next_update", problems),
        templates,
        targets,
    }
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct Message {
    pub event: String,
    pub text: String,
    /// The fields, for the webhook's JSON `data`.
    pub data: Value,
}

/// The Standard Webhooks signature of `body` sent as message `id` at
/// `timestamp`: `v1,<base64>`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC takes a key of any length; keep a signature that verifies
        // nothing rather than panic.
        Err(_) => return "v1,".to_string(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Deliver `message` to every target that wants it, at once; one row
/// each. `counts`: whether the rows count in the verdict (only for the
/// `notify` command).
pub fn deliver_all(
    notify: &Notify,
    message: &Message,
    proxies: &crate::http::Proxies,
    counts: bool,
) -> Vec<CheckResult> {
    let targets: Vec<&Target> = notify
        .targets
        .iter()
        .filter(|t| t.wants(&message.event))
        .collect();
    if targets.is_empty() {
        return Vec::new();
    }
    let runtime = match crate::http::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return targets
                .iter()
                .map(|t| {
                    row(
                        t,
                        Outcome::fail(format!("not delivered: no runtime ({e})")),
                        Duration::ZERO,
                        counts,
                    )
                })
                .collect();
        }
    };
    // A redirect is the receiver's answer, a failure: never followed (the
    // signed body must not go where the target did not name) and never
    // retried.
    let client = crate::http::client(
        &crate::http::Settings {
            max_redirects: 0,
            insecure: false,
            ca_file: None,
            answers: (300..400).collect(),
        },
        proxies,
    );
    let rows = runtime.block_on(async {
        let futures: Vec<_> = targets
            .iter()
            .map(|t| {
                let client = client.clone();
                async move {
                    let start = Instant::now();
                    let outcome = match client {
                        Ok(c) => deliver(&c, t, message).await,
                        Err(e) => Outcome::fail(format!("not delivered: no HTTP client ({e})")),
                    };
                    row(t, outcome, start.elapsed(), counts)
                }
            })
            .collect();
        crate::par::join_all(futures).await
    });
    runtime.shutdown_background();
    rows
}

fn row(t: &Target, outcome: Outcome, took: Duration, counts: bool) -> CheckResult {
    let kind = match t.channel {
        Channel::Slack => "slack",
        Channel::Webhook { .. } => "webhook",
    };
    let r = CheckResult::new(
        format!("notify:{}", t.name),
        Phase::Notify,
        outcome.detail("channel", kind),
        took,
    );
    if counts {
        r
    } else {
        r.with_mode(crate::report::Mode::Shadow)
    }
}

/// A random message id: `msg_` and 24 hex digits.
fn message_id() -> String {
    format!(
        "msg_{:012x}{:012x}",
        fastrand::u64(..) >> 16,
        fastrand::u64(..) >> 16
    )
}

/// What one attempt came to.
enum Attempt {
    Delivered(u16),
    Retry(String, Option<Duration>),
    Failed(String),
}

/// One attempt to deliver `message` as the message `id` of an event that
/// happened at `sent` (unix seconds). Per Standard Webhooks, a retry keeps
/// the id (a receiver deduplicates by it) and the payload, and is signed
/// with the attempt's own `webhook-timestamp`.
async fn attempt(
    client: &reqwest::Client,
    t: &Target,
    message: &Message,
    id: &str,
    sent: i64,
) -> Attempt {
    let (body, headers) = match &t.channel {
        Channel::Slack => (json!({ "text": message.text }), Vec::new()),
        Channel::Webhook { key } => {
            let timestamp = chrono_now();
            let body = json!({
                "type": message.event,
                "timestamp": crate::verify::judge::time(sent as f64),
                "data": message.data,
            });
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let sig = sign(key, id, timestamp, &bytes);
            let headers = vec![
                ("webhook-id", id.to_string()),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", sig),
            ];
            (body, headers)
        }
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut request = client
        .post(&t.url)
        .timeout(t.timeout)
        .header("content-type", "application/json")
        .body(bytes);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = crate::http::retry_after(response.headers());
            if (200..300).contains(&status) {
                Attempt::Delivered(status)
            } else if crate::http::retryable_status(status) {
                Attempt::Retry(format!("HTTP {status}"), retry_after)
            } else {
                Attempt::Failed(format!("HTTP {status}"))
            }
        }
        Err(e) => Attempt::Retry(crate::http::transport_reason(&e), None),
    }
}

/// Unix seconds now (the webhook's timestamp).
fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Deliver to one target, bounded.
pub async fn deliver(client: &reqwest::Client, t: &Target, message: &Message) -> Outcome {
    let start = Instant::now();
    let (id, sent) = (message_id(), chrono_now());
    let mut seen = Vec::new();
    for n in 1..=ATTEMPTS {
        match attempt(client, t, message, &id, sent).await {
            Attempt::Delivered(status) => {
                return Outcome::ok(format!(
                    "delivered {} (HTTP {status}, {n} attempt{})",
                    message.event,
                    crate::text::plural(n as usize)
                ))
                .detail("event", message.event.as_str())
                .detail("attempts", n)
                .detail("results", seen);
            }
            Attempt::Failed(why) => {
                seen.push(why.clone());
                return Outcome::fail(format!(
                    "not delivered {}: {why} (not retried)",
                    message.event
                ))
                .detail("event", message.event.as_str())
                .detail("attempts", n)
                .detail("results", seen);
            }
            Attempt::Retry(why, retry_after) => {
                seen.push(why);
                let wait = retry_after
                    .unwrap_or(Duration::from_secs(1) * n)
                    .min(RETRY_AFTER_CAP);
                let left = BUDGET.saturating_sub(start.elapsed());
                if n == ATTEMPTS || wait + t.timeout > left {
                    break;
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
    Outcome::fail(format!(
        "not delivered {}: {} ({} attempt{} in {:.1}s)",
        message.event,
        seen.join(", "),
        seen.len(),
        crate::text::plural(seen.len()),
        start.elapsed().as_secs_f64()
    ))
    .detail("event", message.event.as_str())
    .detail("attempts", seen.len())
    .detail("results", seen)
}

/// The status a row of a delivery has, for tests.
pub fn delivered(row: &CheckResult) -> bool {
    row.status() == Status::Ok
}

/// The notify report.
pub static KIND: crate::report::Kind = crate::report::Kind {
    name: "notify",
    title: "NOTIFY",
    title_target: true,
    heading: "Notify",
    final_id: "notify",
    marker: "NOTIFY",
    words: ["SENT", "FAIL", "FAIL"],
    ..crate::report::Kind::CHECKS
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_playbooks_messages_are_the_defaults() {
        let n = Notify {
            app: Some("ARIS3".into()),
            ..Notify::default()
        };
        let mut f = BTreeMap::new();
        f.insert("app", "ARIS3".to_string());
        f.insert("version", "RC.3".to_string());
        f.insert("owner", "Dana".to_string());
        f.insert("next_update", "10 min".to_string());
        assert_eq!(
            n.text("deployment.started", &f),
            "ARIS3 release RC.3 started (canary phase). Decision owner: Dana. Next update in 10 min."
        );
        f.insert("reason", "error rate above 1%".to_string());
        f.insert("previous_tag", "v1.2.2".to_string());
        assert_eq!(
            n.text("rollback", &f),
            "ARIS3 rollout aborted due to error rate above 1%. Rollback in progress to v1.2.2. Next status in 10 min."
        );
    }

    #[test]
    fn a_missing_field_stays_visible() {
        let f = BTreeMap::new();
        assert_eq!(fill("to {previous_tag} {x}", &f), "to <previous_tag> {x}");
        assert_eq!(unknown_placeholders("{app} {nope} {}"), ["nope"]);
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The Standard Webhooks reference example.
        let key = webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(webhook_key("plain").is_err());
        assert!(webhook_key("whsec_!!").is_err());
    }
}
