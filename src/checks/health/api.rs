//! `api:<name>`: an HTTP GET answers with an expected status within the
//! timeout.
//!
//! Up to `attempts` tries. 429, 500, 502, 503, 504, connection errors and
//! timeouts are retried after an exponential backoff (base, 2x base, ...,
//! each stretched by up to 25% of jitter), or after the server's
//! `Retry-After` (seconds or an HTTP date), capped. Any other unexpected
//! status, and a redirect loop, is CRIT at once. At most [`BODY_CAP`]
//! bytes of the body are read; redirects are bounded; TLS is verified
//! unless the check says `insecure` (which makes the row a WARN at best).
//!
//! Messages name the URL with its credentials masked and never show a
//! header value.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use super::{Check, Ctx, HealthCheck, Running, Shared};
use crate::config::values::{check_name, duration};
use crate::report::{Outcome, Status};
use crate::sanitize::quoted;
use crate::secrets::mask_url;

pub const TIMEOUT: Duration = Duration::from_secs(3);
pub const ATTEMPTS: u32 = 3;
pub const MAX_REDIRECTS: u32 = 5;
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(5);
pub const BACKOFF: Duration = Duration::from_secs(1);
/// Upper bounds that keep a typo from turning into an hour-long gate.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_ATTEMPTS: i64 = 10;

/// One status or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatusList {
    One(i64),
    Many(Vec<i64>),
}

/// `[[health.api]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub name: String,
    pub url: String,
    pub timeout: Option<String>,
    pub retries: Option<i64>,
    pub expect_status: Option<StatusList>,
    pub headers: Option<BTreeMap<String, String>>,
    pub max_redirects: Option<i64>,
    pub insecure: Option<bool>,
    pub ca_file: Option<String>,
    pub retry_after_cap: Option<String>,
    pub backoff: Option<String>,
}

/// One HTTP GET as configured: shared by API checks and `verify`'s probes.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    /// Per attempt, connection to the end of the bounded body.
    pub timeout: Duration,
    pub expect: Vec<u16>,
    pub headers: Vec<(String, String)>,
    pub max_redirects: u32,
    pub insecure: bool,
    /// A PEM bundle trusted beside the system's roots.
    pub ca_file: Option<String>,
}

impl Request {
    /// The HTTP client settings this request needs.
    pub fn http(&self) -> crate::http::Settings {
        let mut answers: Vec<u16> = self
            .expect
            .iter()
            .copied()
            .filter(|s| (300..400).contains(s))
            .collect();
        answers.sort_unstable();
        crate::http::Settings {
            max_redirects: self.max_redirects,
            insecure: self.insecure,
            ca_file: self.ca_file.clone(),
            answers,
        }
    }
}

/// The request keys as written, wherever a section has them.
pub struct RequestFields {
    pub url: String,
    pub timeout: Option<String>,
    pub expect_status: Option<StatusList>,
    pub headers: Option<BTreeMap<String, String>>,
    pub max_redirects: Option<i64>,
    pub insecure: Option<bool>,
    pub ca_file: Option<String>,
}

/// Validate the request keys under `key`; `unset` collects unset required
/// variables (the URL is then kept as written, and the check cannot run).
pub fn request(
    f: RequestFields,
    key: &str,
    cx: &mut Ctx<'_>,
    unset: &mut Vec<String>,
) -> Option<Request> {
    let timeout = duration(
        f.timeout.as_deref(),
        TIMEOUT,
        MAX_TIMEOUT,
        &format!("{key}.timeout"),
        cx.problems,
    );
    let max_redirects = match f.max_redirects {
        None => MAX_REDIRECTS,
        Some(n) if (0..=20).contains(&n) => n as u32,
        Some(n) => {
            cx.problems
                .push(format!("{key}.max_redirects"), format!("{n}: use 0 to 20"));
            MAX_REDIRECTS
        }
    };
    let statuses = match f.expect_status {
        None => vec![200],
        Some(StatusList::One(s)) => vec![s],
        Some(StatusList::Many(list)) => list,
    };
    if statuses.is_empty() {
        cx.problems.push(
            format!("{key}.expect_status"),
            "the list is empty: no answer could pass",
        );
    }
    let mut expect = Vec::new();
    for s in statuses {
        match u16::try_from(s) {
            Ok(s) if (100..=599).contains(&s) => expect.push(s),
            _ => cx.problems.push(
                format!("{key}.expect_status"),
                format!("{s} is not an HTTP status (100 to 599)"),
            ),
        }
    }
    let mut headers = Vec::new();
    for (name, value) in f.headers.unwrap_or_default() {
        let hkey = format!("{key}.headers.{name}");
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            cx.problems.push(
                &hkey,
                format!("{} is not a valid header name", quoted(&name)),
            );
            continue;
        }
        if let Some(v) = cx.expand(&value, &hkey, unset) {
            if reqwest::header::HeaderValue::from_str(&v).is_err() {
                // Never show the value: it is usually a credential.
                cx.problems.push(
                    &hkey,
                    "the value is not a valid header value (control characters?)",
                );
                continue;
            }
            headers.push((name, v));
        }
    }
    let ca_file = f.ca_file.and_then(|text| {
        let ca_key = format!("{key}.ca_file");
        let path = cx.expand(&text, &ca_key, unset)?;
        match crate::http::load_ca(std::path::Path::new(&path)) {
            Ok(_) => Some(path),
            Err(why) => {
                cx.problems
                    .push(ca_key, format!("{}: {why}", quoted(&path)));
                None
            }
        }
    });
    let url_key = format!("{key}.url");
    let url = match cx.expand(&f.url, &url_key, unset) {
        Some(u) => {
            match reqwest::Url::parse(&u) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
                Ok(_) => cx.problems.push(
                    &url_key,
                    format!("{} is not an http or https URL", quoted(&mask_url(&u))),
                ),
                Err(e) => cx.problems.push(
                    &url_key,
                    format!("{} is not a URL: {e}", quoted(&mask_url(&u))),
                ),
            }
            u
        }
        None if !unset.is_empty() => f.url.clone(),
        None => return None,
    };
    Some(Request {
        url,
        timeout,
        expect,
        headers,
        max_redirects,
        insecure: f.insecure.unwrap_or(false),
        ca_file,
    })
}

#[derive(Debug, Clone)]
pub struct Api {
    pub name: String,
    pub req: Request,
    pub attempts: u32,
    pub retry_after_cap: Duration,
    /// The first wait between attempts; each next wait doubles.
    pub backoff: Duration,
}

pub fn validate(a: Raw, key: &str, cx: &mut Ctx<'_>) -> Option<HealthCheck> {
    if let Err(why) = check_name(&a.name, "check") {
        cx.problems.push(format!("{key}.name"), why);
    }
    let mut dur = |text: Option<&str>, default, field: &str| {
        duration(
            text,
            default,
            MAX_TIMEOUT,
            &format!("{key}.{field}"),
            cx.problems,
        )
    };
    let retry_after_cap = dur(
        a.retry_after_cap.as_deref(),
        RETRY_AFTER_CAP,
        "retry_after_cap",
    );
    let backoff = dur(a.backoff.as_deref(), BACKOFF, "backoff");
    let attempts = match a.retries {
        None => ATTEMPTS,
        Some(n) if (1..=MAX_ATTEMPTS).contains(&n) => n as u32,
        Some(n) => {
            cx.problems.push(
                format!("{key}.retries"),
                format!("{n} attempts: use 1 to {MAX_ATTEMPTS}"),
            );
            ATTEMPTS
        }
    };
    let mut unset = Vec::new();
    let fields = RequestFields {
        url: a.url,
        timeout: a.timeout,
        expect_status: a.expect_status,
        headers: a.headers,
        max_redirects: a.max_redirects,
        insecure: a.insecure,
        ca_file: a.ca_file,
    };
    let req = request(fields, key, cx, &mut unset)?;
    Some(HealthCheck {
        id: format!("api:{}", a.name),
        key: key.to_string(),
        check: Arc::new(Api {
            name: a.name,
            req,
            attempts,
            retry_after_cap,
            backoff,
        }),
        unset,
        mode: Default::default(),
    })
}

/// One HTTP client per setting, for the whole run.
#[derive(Default)]
struct Clients(Mutex<HashMap<crate::http::Settings, Result<reqwest::Client, String>>>);

impl Check for Api {
    fn budget(&self) -> Duration {
        budget(self) + SLACK
    }

    fn run<'a>(&'a self, shared: &'a Shared) -> Running<'a> {
        let proxies = shared.get::<crate::http::Proxies>();
        let settings = self.req.http();
        let client = shared
            .get::<Clients>()
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(settings.clone())
            .or_insert_with(|| crate::http::client(&settings, &proxies))
            .clone();
        Box::pin(async move {
            let via = crate::http::via(&proxies, &self.req.url);
            let outcome = match client {
                Ok(client) => check(&client, self).await,
                Err(e) => Outcome::crit(format!("cannot check: no HTTP client ({e})")),
            };
            if via.is_empty() {
                outcome
            } else {
                // A proxy answered, or failed to: say so.
                let message = format!("{}{via}", outcome.message);
                Outcome { message, ..outcome }
                    .detail("proxy", via.trim_start_matches(" via proxy "))
            }
        })
    }

    fn secrets(&self) -> Vec<String> {
        // Header values are credentials more often than not, whatever the
        // variable they came from is called.
        self.req.headers.iter().map(|(_, v)| v.clone()).collect()
    }
}

/// Most bytes of a response body that are read.
pub const BODY_CAP: usize = 64 * 1024;
/// Extra allowance on top of the computed budget before a check is cut off.
pub const SLACK: Duration = Duration::from_millis(500);

/// The backoff before retry number `retry` (1-based), before jitter.
pub fn backoff(base: Duration, retry: u32) -> Duration {
    base.saturating_mul(1u32 << retry.saturating_sub(1).min(16))
}

/// The longest a check can take: every attempt timing out, every wait at
/// its longest (full jitter, or the `Retry-After` cap).
pub fn budget(api: &Api) -> Duration {
    let mut total = api.req.timeout.saturating_mul(api.attempts);
    for retry in 1..api.attempts {
        let wait = backoff(api.backoff, retry)
            .mul_f64(1.25)
            .max(api.retry_after_cap);
        total = total.saturating_add(wait);
    }
    total
}

/// A one-line reason for a transport error, without the URL (the caller
/// names it, masked).
fn describe(e: &reqwest::Error, req: &Request) -> String {
    if e.is_timeout() {
        return format!(
            "timed out after {}",
            humantime::format_duration(req.timeout)
        );
    }
    if e.is_redirect() {
        return format!("too many redirects: more than {}", req.max_redirects);
    }
    crate::http::transport_reason(e)
}

enum Try {
    Answer {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    Failed {
        reason: String,
        retry: bool,
    },
}

async fn attempt(client: &reqwest::Client, req: &Request) -> Try {
    let mut request = client.get(&req.url).timeout(req.timeout);
    for (name, value) in &req.headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(mut response) => {
            let status = response.status();
            let retry_after = crate::http::retry_after(response.headers());
            // Read a bounded part of the body; what it says is not used,
            // and an endless body must not hold the check.
            let mut read = 0usize;
            while read < BODY_CAP {
                match response.chunk().await {
                    Ok(Some(chunk)) => read += chunk.len(),
                    _ => break,
                }
            }
            Try::Answer {
                status,
                retry_after,
            }
        }
        Err(e) => Try::Failed {
            reason: describe(&e, req),
            retry: e.is_timeout() || e.is_connect() || (e.is_request() && !e.is_redirect()),
        },
    }
}

/// One GET, no retry (a probe of `verify`, which judges over time): the
/// status, or why there is none.
pub async fn once(client: &reqwest::Client, req: &Request) -> Result<u16, String> {
    match attempt(client, req).await {
        Try::Answer { status, .. } => Ok(status.as_u16()),
        Try::Failed { reason, .. } => Err(reason),
    }
}

pub async fn check(client: &reqwest::Client, api: &Api) -> Outcome {
    let url = mask_url(&api.req.url);
    let expected: Vec<String> = api.req.expect.iter().map(u16::to_string).collect();
    let expected = expected.join(" or ");
    let mut statuses: Vec<Option<u16>> = Vec::new();
    let attempts = |n: u32| crate::text::count(n as usize, "attempt");
    for n in 1..=api.attempts {
        let wait = match attempt(client, &api.req).await {
            Try::Answer {
                status,
                retry_after,
            } => {
                statuses.push(Some(status.as_u16()));
                if api.req.expect.contains(&status.as_u16()) {
                    let (st, note) = if api.req.insecure {
                        (Status::Warn, "; TLS verification is off (insecure)")
                    } else {
                        (Status::Ok, "")
                    };
                    return Outcome::new(
                        st,
                        format!("GET {url} -> {} in {}{note}", status.as_u16(), attempts(n)),
                    )
                    .detail("attempts", n)
                    .detail("statuses", statuses);
                }
                if !crate::http::retryable_status(status.as_u16()) {
                    return Outcome::new(
                        Status::Crit,
                        format!(
                            "GET {url} -> {} (expected {expected}; not retried)",
                            status.as_u16()
                        ),
                    )
                    .detail("attempts", n)
                    .detail("statuses", statuses);
                }
                if n == api.attempts {
                    return Outcome::new(
                        Status::Crit,
                        format!("GET {url} -> {} after {}", status.as_u16(), attempts(n)),
                    )
                    .detail("attempts", n)
                    .detail("statuses", statuses);
                }
                match retry_after {
                    Some(d) => d.min(api.retry_after_cap),
                    None => jitter(backoff(api.backoff, n)),
                }
            }
            Try::Failed { reason, retry } => {
                statuses.push(None);
                if !retry || n == api.attempts {
                    let tail = if retry {
                        format!(" ({})", attempts(n))
                    } else {
                        " (not retried)".to_string()
                    };
                    return Outcome::new(Status::Crit, format!("GET {url}: {reason}{tail}"))
                        .detail("attempts", n)
                        .detail("statuses", statuses);
                }
                jitter(backoff(api.backoff, n))
            }
        };
        tracing::debug!(check = %api.name, attempt = n, wait = ?wait, "retrying");
        tokio::time::sleep(wait).await;
    }
    // `attempts` is at least 1, so the loop has returned.
    Outcome::new(Status::Crit, format!("GET {url}: no attempt was made"))
}

/// Stretch a wait by up to 25%, so that many gates do not retry in step.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(1.0 + fastrand::f64() * 0.25)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(attempts: u32) -> Api {
        Api {
            name: "x".into(),
            req: Request {
                url: "http://127.0.0.1:9/".into(),
                timeout: Duration::from_secs(3),
                expect: vec![200],
                headers: Vec::new(),
                max_redirects: 5,
                insecure: false,
                ca_file: None,
            },
            attempts,
            retry_after_cap: Duration::from_secs(5),
            backoff: Duration::from_secs(1),
        }
    }

    #[test]
    fn backoff_doubles() {
        let b = Duration::from_secs(1);
        assert_eq!(backoff(b, 1), Duration::from_secs(1));
        assert_eq!(backoff(b, 2), Duration::from_secs(2));
        assert_eq!(backoff(b, 3), Duration::from_secs(4));
    }

    #[test]
    fn default_budget_is_documented() {
        // 3 attempts x 3 s, and two waits of at most the 5 s Retry-After cap.
        assert_eq!(budget(&api(3)), Duration::from_secs(19));
        assert_eq!(budget(&api(1)), Duration::from_secs(3));
    }

    #[test]
    fn retry_after_in_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(crate::http::retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(crate::http::retry_after(&h), Some(Duration::ZERO));
    }
}
