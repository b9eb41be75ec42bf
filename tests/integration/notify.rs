//! Notifications against real receivers on 127.0.0.1: a Slack-shaped
//! one (200 `ok`), a Standard Webhooks one that checks every signature
//! itself (HMAC-SHA256 computed here, not by the tool) and refuses what
//! does not verify, and one that answers 429 then 500 to prove the
//! bounded retry. Every receiver is a [`Server`] the test stops.

use std::time::{Duration, Instant};

use crate::harness::{
    Repo, Request, Sentinel, Server, context, health_url, json_check, json_of, message_of, row,
    signature_check, slack_receiver, webhook_receiver, whsec,
};
use crate::verify::{HEALTHY, verify};

/// The webhook signing key the receivers and the config share.
pub const KEY: &[u8] = b"a-signing-key-of-32-bytes-000001";

/// `[notify]` with the playbook's fields, a Slack target and a signed
/// webhook, their URLs and secret from the environment.
pub const NOTIFY: &str = r#"[notify]
app = "ARIS3"
owner = "Dana"
next_update = "10 min"

[[notify.slack]]
name = "ops"
url = "${SLACK_WEBHOOK_URL}"

[[notify.webhook]]
name = "audit"
url = "${AUDIT_WEBHOOK_URL}"
secret = "${AUDIT_WEBHOOK_SECRET}"
"#;

/// `release-sentinel notify <event> --env prod --version v1.2.3` with the
/// targets' variables set.
fn notify(repo: &Repo, event: &str, slack: &Server, hook: &Server) -> Sentinel {
    Sentinel::in_repo(repo)
        .args(["notify", event])
        .gate("prod", "v1.2.3")
        .env("SLACK_WEBHOOK_URL", slack.url("/services/T0/B0/slack"))
        .env("AUDIT_WEBHOOK_URL", hook.url("/hooks/audit"))
        .env("AUDIT_WEBHOOK_SECRET", whsec(KEY))
}

/// A request's JSON body.
fn body(r: &Request) -> serde_json::Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {}", r.body_text()))
}

/// A repository with `NOTIFY` and the releases v1.0.0 and v1.1.0 below
/// HEAD: the previous tag of v1.2.3 is v1.1.0.
fn notify_repo() -> Repo {
    let repo = Repo::new();
    repo.tag("v1.0.0");
    repo.config(NOTIFY);
    repo.tag("v1.1.0");
    repo.commit_all("next");
    repo
}

#[test]
fn notify_sends_the_playbooks_four_texts_to_slack_and_a_signed_webhook() {
    let repo = notify_repo();
    let slack = slack_receiver();
    let hook = webhook_receiver(KEY);
    let cases = [
        (
            "deployment.started",
            &[][..],
            "ARIS3 release v1.2.3 started (canary phase). Decision owner: Dana. Next update in 10 min.",
        ),
        (
            "canary.succeeded",
            &[][..],
            "ARIS3 canary healthy (error/latency within guardrails). Proceeding to rolling rollout 25% -> 100%.",
        ),
        (
            "golive.completed",
            &[][..],
            "ARIS3 release v1.2.3 go-live complete. Post-deploy smoke passed. Hypercare window now active (T+72h).",
        ),
        (
            "rollback",
            &["--reason", "error rate above 1%"][..],
            "ARIS3 rollout aborted due to error rate above 1%. Rollback in progress to v1.1.0. Next status in 10 min.",
        ),
    ];
    for (n, (event, extra, text)) in cases.iter().enumerate() {
        let out = notify(&repo, event, &slack, &hook)
            .args(*extra)
            .stdout_has(row("notify:ops", "OK"))
            .stdout_has(row("notify:audit", "OK"))
            .stdout_has("| notify                    | OK   | NOTIFY=SENT |")
            .safe();
        assert_eq!(
            message_of(&out.stdout, "notify:ops"),
            format!("delivered {event} (HTTP 200, 1 attempt)")
        );
        assert_eq!(
            message_of(&out.stdout, "notify:audit"),
            format!("delivered {event} (HTTP 204, 1 attempt)")
        );
        // Slack: {"text": ...}, nothing else.
        let s = &slack.wait_for(n + 1)[n];
        assert!(
            s.head.starts_with("POST /services/T0/B0/slack "),
            "{}",
            s.head
        );
        assert_eq!(body(s), serde_json::json!({ "text": text }), "{event}");
        // The webhook: signed (checked again here), typed, with the text.
        let h = &hook.wait_for(n + 1)[n];
        signature_check(KEY, h).unwrap_or_else(|e| panic!("{event}: {e}"));
        let b = body(h);
        assert_eq!(b["type"], *event);
        assert_eq!(b["data"]["text"], *text);
        assert_eq!(b["data"]["version"], "v1.2.3");
        assert_eq!(b["data"]["env"], "prod");
        assert!(
            b["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{b}"
        );
    }
    assert_eq!(body(&hook.requests()[3])["data"]["previous_tag"], "v1.1.0");
    assert_eq!(slack.requests().len(), 4);
    assert_eq!(hook.requests().len(), 4);
}

#[test]
fn a_receiver_holding_another_key_refuses_and_notify_exits_1() {
    let repo = notify_repo();
    let slack = slack_receiver();
    let hook = webhook_receiver(b"another-key-entirely-0000000001");
    let out = notify(&repo, "golive.completed", &slack, &hook)
        .stdout_has(row("notify:ops", "OK"))
        .stdout_has(row("notify:audit", "FAIL"))
        .blocked();
    assert_eq!(
        message_of(&out.stdout, "notify:audit"),
        "not delivered golive.completed: HTTP 401 (not retried)"
    );
    assert_eq!(hook.requests().len(), 1, "a 401 is not retried");
}

#[test]
fn a_webhook_answering_429_then_500_gets_three_attempts_and_the_verdict_stands() {
    // 429 asking for 2 s, then 500 for good.
    let hook = Server::start(|x| {
        if x.n == 0 {
            x.reply("429 Too Many Requests", &["Retry-After: 2"], "slow down")
        } else {
            x.reply("500 Internal Server Error", &[], "broken")
        }
    });
    let slack = slack_receiver();
    let repo = Repo::with_config(&format!(
        "{NOTIFY}\n[verify]\n\n[[verify.probe]]\nname = \"health\"\nurl = \"{}\"\n",
        health_url()
    ));
    let start = Instant::now();
    let out = verify(&repo)
        .env("SLACK_WEBHOOK_URL", slack.url("/services/T0/B0/slack"))
        .env("AUDIT_WEBHOOK_URL", hook.url("/hooks/audit"))
        .env("AUDIT_WEBHOOK_SECRET", whsec(KEY))
        .args(["--once", "--format", "json"])
        .safe();
    let took = start.elapsed();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "HEALTHY", "{doc:#}");
    let audit = json_check(&doc, "notify:audit");
    assert_eq!(audit["details"]["attempts"], 3, "{audit:#}");
    assert_eq!(
        audit["details"]["results"],
        serde_json::json!(["HTTP 429", "HTTP 500", "HTTP 500"])
    );
    let message = audit["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "not delivered verify.healthy: HTTP 429, HTTP 500, HTTP 500 (3 attempts in "
        ),
        "{message}"
    );
    assert_eq!(json_check(&doc, "notify:ops")["details"]["attempts"], 1);
    // Three attempts, no more; the first retry after the 2 s asked for,
    // the second after the 2 s backoff; each signed, all one message.
    let seen = hook.requests();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(1900));
    assert!(seen[2].at - seen[1].at >= Duration::from_millis(1900));
    for r in &seen {
        signature_check(KEY, r).unwrap_or_else(|e| panic!("attempt {}: {e}", r.n));
    }
    let ids: Vec<_> = seen.iter().map(|r| r.header("webhook-id")).collect();
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "a retry keeps its id: {ids:?}"
    );
    let bodies: Vec<_> = seen.iter().map(body).collect();
    assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:#?}");
    assert_eq!(bodies[0]["type"], "verify.healthy");
    assert!(took < Duration::from_secs(30), "{took:?}");
    // The same in the table: the row says so, the verdict is HEALTHY.
    let hook2 = Server::start(|x| x.reply("503 Service Unavailable", &["Retry-After: 1"], ""));
    let out = verify(&repo)
        .env("SLACK_WEBHOOK_URL", slack.url("/services/T0/B0/slack"))
        .env("AUDIT_WEBHOOK_URL", hook2.url("/hooks/audit"))
        .env("AUDIT_WEBHOOK_SECRET", whsec(KEY))
        .arg("--once")
        .stdout_has(HEALTHY)
        .safe();
    assert!(
        message_of(&out.stdout, "notify:audit").starts_with(
            "not delivered verify.healthy: HTTP 503, HTTP 503, HTTP 503 (3 attempts in "
        ),
        "{}",
        context(&out)
    );
    assert_eq!(hook2.requests().len(), 3);
}

#[test]
fn a_webhook_answering_a_redirect_is_not_retried_nor_followed() {
    let elsewhere = webhook_receiver(KEY);
    let target = elsewhere.url("/hooks/audit");
    let hook = Server::start(move |x| x.reply("302 Found", &[&format!("Location: {target}")], ""));
    let slack = slack_receiver();
    let out = notify(&notify_repo(), "golive.completed", &slack, &hook)
        .stdout_has(row("notify:audit", "FAIL"))
        .blocked();
    assert_eq!(
        message_of(&out.stdout, "notify:audit"),
        "not delivered golive.completed: HTTP 302 (not retried)"
    );
    assert_eq!(hook.requests().len(), 1, "a redirect is not retried");
    assert!(
        elsewhere.requests().is_empty(),
        "a redirect is not followed"
    );
}

#[test]
fn two_events_to_one_target_get_rows_of_their_own() {
    // Blocked (an untracked file) during an overridden freeze: the gate
    // sends gate.blocked and gate.freeze_override to the same target.
    let hook = webhook_receiver(KEY);
    let repo = Repo::with_config(
        "[[policy.freeze]]\nname = \"weekend\"\nfreeze_start = \"0 23 * * 5\"\n\
         freeze_end = \"0 7 * * 1\"\ntimezone = \"Europe/Berlin\"\n\
         [notify]\napp = \"ARIS3\"\n\n[[notify.webhook]]\nname = \"audit\"\n\
         url = \"${AUDIT_WEBHOOK_URL}\"\nsecret = \"${AUDIT_WEBHOOK_SECRET}\"\n",
    );
    repo.write("untracked.txt", "dirty\n");
    let out = Sentinel::in_repo(&repo)
        .env("CI_FAKE_UTC", "2026-12-05T12:00:00Z")
        .env("RS_FREEZE_OVERRIDE", "INC-4711")
        .env("AUDIT_WEBHOOK_URL", hook.url("/hooks/audit"))
        .env("AUDIT_WEBHOOK_SECRET", whsec(KEY))
        .gate("prod", "v1.2.3")
        .args(["--format", "json"])
        .blocked();
    let doc = json_of(&out);
    let ids: Vec<&str> = doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .filter(|id| id.starts_with("notify:"))
        .collect();
    assert_eq!(ids, ["notify:audit", "notify:audit:gate.freeze_override"]);
    assert_eq!(
        json_check(&doc, "notify:audit")["details"]["event"],
        "gate.blocked"
    );
    assert_eq!(hook.wait_for(2).len(), 2);
}

#[test]
fn a_manual_notify_has_no_verdict_to_give() {
    let slack = slack_receiver();
    let hook = webhook_receiver(KEY);
    let repo = notify_repo();
    repo.config(&format!(
        "{NOTIFY}\n[notify.templates]\n\"deployment.started\" = \"{{app}} {{version}} started ({{verdict}})\"\n"
    ));
    notify(&repo, "deployment.started", &slack, &hook)
        .stdout_has(row("notify:ops", "OK"))
        .safe();
    let sent = body(&slack.wait_for(1)[0]);
    assert_eq!(sent["text"], "ARIS3 v1.2.3 started (<verdict>)");
}
