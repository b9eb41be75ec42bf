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

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;

use crate::config::health::Api;
use crate::report::{Outcome, Status};
use crate::secrets::mask_url;

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
    let mut total = api.timeout.saturating_mul(api.attempts);
    for retry in 1..api.attempts {
        let wait = backoff(api.backoff, retry)
            .mul_f64(1.25)
            .max(api.retry_after_cap);
        total = total.saturating_add(wait);
    }
    total
}

fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After`: delta-seconds or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// A one-line reason for a transport error, without the URL (the caller
/// names it, masked).
fn describe(e: &reqwest::Error, api: &Api) -> String {
    if e.is_timeout() {
        return format!(
            "timed out after {}",
            humantime::format_duration(api.timeout)
        );
    }
    if e.is_redirect() {
        return format!("too many redirects: more than {}", api.max_redirects);
    }
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                std::io::ErrorKind::ConnectionReset => "connection reset".to_string(),
                std::io::ErrorKind::TimedOut => "timed out".to_string(),
                _ => io.to_string(),
            };
        }
        if s.source().is_none() {
            return s.to_string();
        }
        source = s.source();
    }
    if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    }
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

async fn attempt(client: &reqwest::Client, api: &Api) -> Try {
    let mut request = client.get(&api.url).timeout(api.timeout);
    for (name, value) in &api.headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(mut response) => {
            let status = response.status();
            let retry_after = retry_after(response.headers());
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
            reason: describe(&e, api),
            retry: e.is_timeout() || e.is_connect() || (e.is_request() && !e.is_redirect()),
        },
    }
}

pub async fn check(client: &reqwest::Client, api: &Api) -> Outcome {
    let url = mask_url(&api.url);
    let expected: Vec<String> = api.expect.iter().map(u16::to_string).collect();
    let expected = expected.join(" or ");
    let mut statuses: Vec<Option<u16>> = Vec::new();
    let plural = |n: u32| if n == 1 { "attempt" } else { "attempts" };
    for n in 1..=api.attempts {
        let wait = match attempt(client, api).await {
            Try::Answer {
                status,
                retry_after,
            } => {
                statuses.push(Some(status.as_u16()));
                if api.expect.contains(&status.as_u16()) {
                    let (st, note) = if api.insecure {
                        (Status::Warn, "; TLS verification is off (insecure)")
                    } else {
                        (Status::Ok, "")
                    };
                    return Outcome::new(
                        st,
                        format!(
                            "GET {url} -> {} in {n} {}{note}",
                            status.as_u16(),
                            plural(n)
                        ),
                    )
                    .detail("attempts", n)
                    .detail("statuses", statuses);
                }
                if !retryable(status) {
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
                        format!("GET {url} -> {} after {n} {}", status.as_u16(), plural(n)),
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
                        format!(" ({n} {})", plural(n))
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

/// A client for the given redirect limit and TLS setting.
pub fn client(max_redirects: u32, insecure: bool) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(concat!("release-sentinel/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(max_redirects as usize))
        .tls_danger_accept_invalid_certs(insecure)
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(attempts: u32) -> Api {
        Api {
            name: "x".into(),
            url: "http://127.0.0.1:9/".into(),
            timeout: Duration::from_secs(3),
            attempts,
            expect: vec![200],
            headers: Vec::new(),
            max_redirects: 5,
            insecure: false,
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
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
