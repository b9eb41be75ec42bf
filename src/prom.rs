//! A client for the Prometheus HTTP API (`/api/v1/query_range`), and the
//! `[prometheus]` section that names the server.
//!
//! What comes back is one of three things, kept apart on purpose: a series
//! of samples, no series at all, or an error (the server could not be
//! reached, said `status: error`, answered 4xx/5xx, or answered something
//! that is not Prometheus JSON). A query that returns several series is an
//! error too: a rule judges one series, so it must aggregate.
//!
//! Deliberately not handled: instant queries (a range with one point is
//! the same thing), native histograms, and more than the 11,000 points per
//! series Prometheus allows (the step is chosen so a window stays below).

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::config::values::{Problems, duration};
use crate::secrets::mask_url;

/// How long one query may take, by default.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a body that is read.
const BODY_CAP: usize = 8 * 1024 * 1024;

/// `[prometheus]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub url: String,
    pub timeout: Option<String>,
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    pub ca_file: Option<String>,
    pub insecure: Option<bool>,
}

/// The Prometheus server the rules query.
#[derive(Debug, Clone)]
pub struct Server {
    pub url: String,
    pub timeout: Duration,
    /// Request headers (a bearer token, usually): secrets.
    pub headers: Vec<(String, String)>,
    pub http: crate::http::Settings,
}

/// Validate `[prometheus]`.
pub fn validate(
    raw: Raw,
    env: &crate::envsnap::EnvSnapshot,
    problems: &mut Problems,
) -> Option<Server> {
    let key = "prometheus";
    let url = crate::config::values::expand(&raw.url, "prometheus.url", env, problems)?;
    match reqwest::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => {
            problems.push(
                "prometheus.url",
                format!(
                    "{} is not an http or https URL",
                    crate::sanitize::quoted(&mask_url(&url))
                ),
            );
            return None;
        }
    }
    let timeout = duration(
        raw.timeout.as_deref(),
        TIMEOUT,
        Duration::from_secs(300),
        &format!("{key}.timeout"),
        problems,
    );
    let mut headers = Vec::new();
    for (name, value) in raw.headers.unwrap_or_default() {
        let hkey = format!("{key}.headers.{name}");
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            problems.push(&hkey, "not a valid header name");
            continue;
        }
        if let Some(v) = crate::config::values::expand(&value, &hkey, env, problems) {
            if reqwest::header::HeaderValue::from_str(&v).is_err() {
                problems.push(&hkey, "the value is not a valid header value");
                continue;
            }
            headers.push((name, v));
        }
    }
    let ca_file = raw.ca_file.and_then(|text| {
        let path = crate::config::values::expand(&text, "prometheus.ca_file", env, problems)?;
        match crate::http::load_ca(std::path::Path::new(&path)) {
            Ok(_) => Some(path),
            Err(why) => {
                problems.push(
                    "prometheus.ca_file",
                    format!("{}: {why}", crate::sanitize::quoted(&path)),
                );
                None
            }
        }
    });
    Some(Server {
        url: url.trim_end_matches('/').to_string(),
        timeout,
        headers,
        http: crate::http::Settings {
            max_redirects: 0,
            insecure: raw.insecure.unwrap_or(false),
            ca_file,
            answers: Vec::new(),
        },
    })
}

/// What a range query returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// One series: `(unix seconds, value)`, in time order. Values may be
    /// NaN or infinite.
    Series(Vec<(f64, f64)>),
    /// No series at all.
    Empty,
    /// The query could not be answered; why.
    Error(String),
}

/// `query` over `[start, end]` (unix seconds) every `step` seconds.
pub async fn range(
    client: &reqwest::Client,
    server: &Server,
    query: &str,
    start: f64,
    end: f64,
    step: f64,
) -> Fetched {
    let url = format!("{}/api/v1/query_range", server.url);
    // The parameters form-encoded as a POST body: a long query does not
    // meet a URL length limit.
    let params = [
        ("query", query.to_string()),
        ("start", format_time(start)),
        ("end", format_time(end)),
        ("step", format!("{step}")),
    ];
    let body = reqwest::Url::parse_with_params("http://form.invalid/", &params)
        .ok()
        .and_then(|u| u.query().map(str::to_string))
        .unwrap_or_default();
    let mut request = client
        .post(&url)
        .timeout(server.timeout)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    for (name, value) in &server.headers {
        request = request.header(name, value);
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            return Fetched::Error(format!(
                "unreachable: {}",
                crate::http::transport_reason(&e)
            ));
        }
    };
    let status = response.status();
    let body = match read_capped(response).await {
        Ok(b) => b,
        Err(e) => {
            return Fetched::Error(format!(
                "the answer broke off: {}",
                crate::http::transport_reason(&e)
            ));
        }
    };
    parse(status.as_u16(), &body)
}

/// Seconds with millisecond precision, as Prometheus takes them.
fn format_time(t: f64) -> String {
    format!("{:.3}", t)
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > BODY_CAP {
            break;
        }
    }
    Ok(body)
}

/// Read an answer: one series, none, or why it is not an answer.
pub fn parse(status: u16, body: &[u8]) -> Fetched {
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return Fetched::Error(format!(
            "HTTP {status}, and the body is not Prometheus JSON (something in front of it failed?)"
        ));
    };
    if doc["status"] != "success" {
        let kind = doc["errorType"].as_str().unwrap_or("error");
        let why = doc["error"].as_str().unwrap_or("no reason given");
        return Fetched::Error(format!(
            "HTTP {status}, {kind}: {}",
            crate::sanitize::capped(why, 300)
        ));
    }
    let Some(result) = doc["data"]["result"].as_array() else {
        return Fetched::Error("the answer has no data.result".to_string());
    };
    match result.as_slice() {
        [] => Fetched::Empty,
        [one] => {
            let Some(values) = one["values"].as_array() else {
                return Fetched::Error("the series has no values (not a range answer)".to_string());
            };
            let mut samples = Vec::with_capacity(values.len());
            for v in values {
                let (Some(t), Some(x)) = (v[0].as_f64(), v[1].as_str().and_then(parse_value))
                else {
                    return Fetched::Error(format!(
                        "a sample is not [time, \"value\"]: {}",
                        crate::sanitize::capped(&v.to_string(), 80)
                    ));
                };
                samples.push((t, x));
            }
            Fetched::Series(samples)
        }
        many => Fetched::Error(format!(
            "the query returned {} series; a rule judges one: aggregate it (sum, max, ...)",
            many.len()
        )),
    }
}

/// A sample value: a number, `NaN`, `+Inf` or `-Inf`.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_series_none_or_an_error() {
        let ok = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1700000000,"1"],[1700000060,"NaN"],[1700000120,"+Inf"]]}]}}"#;
        match parse(200, ok) {
            Fetched::Series(s) => {
                assert_eq!(s.len(), 3);
                assert_eq!(s[0], (1_700_000_000.0, 1.0));
                assert!(s[1].1.is_nan());
                assert_eq!(s[2].1, f64::INFINITY);
            }
            other => panic!("{other:?}"),
        }
        let empty = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert_eq!(parse(200, empty), Fetched::Empty);
        let two = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[]},{"metric":{},"values":[]}]}}"#;
        assert!(matches!(parse(200, two), Fetched::Error(e) if e.contains("2 series")));
        let bad = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#;
        assert!(
            matches!(parse(400, bad), Fetched::Error(e) if e.contains("HTTP 400, bad_data: parse error"))
        );
        assert!(
            matches!(parse(502, b"<html>bad gateway</html>"), Fetched::Error(e) if e.contains("not Prometheus JSON"))
        );
    }
}
