//! A client for the Prometheus HTTP API, and the `[prometheus]` section
//! that names the server. `verify` and the fleet health checks share both.
//!
//! Two queries: a range (`/api/v1/query_range`, for `verify`'s rules over
//! a window) and an instant one (`/api/v1/query`, for the health checks,
//! which judge every series at one moment). [`judge`] judges what they
//! return, for both.
//!
//! What a range query returns is one of three things, kept apart on
//! purpose: a series of samples (sorted by time here, whatever order the
//! server sent them in), no series at all, or an error (the server could
//! not be reached, said `status: error`, answered 4xx/5xx, or answered
//! something that is not Prometheus JSON). A range query that returns
//! several series is an error too: a rule judges one series, so it must
//! aggregate. An instant query returns every series with its labels, or
//! an error.
//!
//! Deliberately not handled: native histograms, and more than the 11,000
//! points per series Prometheus allows (the step is chosen so a window
//! stays below).

pub mod judge;

use std::borrow::Cow;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::config::values::{Problems, duration};
use crate::secrets::mask_url;

/// How long one query may take, by default.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a range answer's body that is read.
const BODY_CAP: usize = 8 * 1024 * 1024;
/// The most of an instant answer's body that is read: a fleet of 10,000
/// hosts with three series each is about 7 MiB.
const INSTANT_BODY_CAP: usize = 64 * 1024 * 1024;

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
    let params = [
        ("query", query.to_string()),
        ("start", format_time(start)),
        ("end", format_time(end)),
        ("step", format!("{step}")),
    ];
    match post(client, server, "query_range", &params, BODY_CAP).await {
        Ok((status, body)) => parse(status, &body),
        Err(why) => Fetched::Error(why),
    }
}

/// A series' labels: sorted by name, each name once (the last, if an
/// answer repeats one). Kept as slices of the answer's body where they
/// can be (a name or value with a JSON escape in it is copied): a fleet's
/// answer has tens of thousands of series, and a map of owned strings per
/// series costs many times the body. Ordered as a map of them would be:
/// pair by pair, name then value.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Labels<'a> {
    /// The labels `pairs` names; a name given twice keeps its last value.
    pub fn new(mut pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>) -> Self {
        // Prometheus sends the names sorted: most sets need nothing done.
        if pairs.windows(2).all(|w| w[0].0 < w[1].0) {
            return Self(pairs);
        }
        // Stable: of two pairs with one name, the later stays later.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match out.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => out.push(pair),
            }
        }
        Self(out)
    }

    /// The value of label `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v.as_ref())
    }

    /// Set label `name` to `value`, in its place by name.
    pub fn insert(&mut self, name: Cow<'a, str>, value: Cow<'a, str>) {
        match self
            .0
            .binary_search_by(|(k, _)| k.as_ref().cmp(name.as_ref()))
        {
            Ok(at) => self.0[at].1 = value,
            Err(at) => self.0.insert(at, (name, value)),
        }
    }

    /// Take label `name` out.
    pub fn remove(&mut self, name: &str) -> Option<Cow<'a, str>> {
        let at = self.0.iter().position(|(k, _)| k.as_ref() == name)?;
        Some(self.0.remove(at).1)
    }

    /// Name and value of each label, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The labels, no longer tied to the body they were read from.
    pub fn into_owned(self) -> Labels<'static> {
        Labels(
            self.0
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
        )
    }
}

impl<'a> FromIterator<(&'a str, &'a str)> for Labels<'a> {
    fn from_iter<I: IntoIterator<Item = (&'a str, &'a str)>>(pairs: I) -> Self {
        Self::new(
            pairs
                .into_iter()
                .map(|(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v)))
                .collect(),
        )
    }
}

/// A JSON string, borrowed from the body unless it has escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visit(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Labels<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Labels<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of label names to values")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                // A series has a handful of labels: gathered here first,
                // then kept in a vector of exactly their number (tens of
                // thousands of series: the spare room would add up).
                const FEW: usize = 16;
                let mut few: [Option<(Cow<'a, str>, Cow<'a, str>)>; FEW] = Default::default();
                let (mut n, mut more) = (0, Vec::new());
                while let Some((Text(k), Text(v))) = map.next_entry::<Text, Text>()? {
                    match few.get_mut(n) {
                        Some(slot) => *slot = Some((k, v)),
                        None => more.push((k, v)),
                    }
                    n += 1;
                }
                let mut pairs = Vec::with_capacity(n);
                pairs.extend(few.into_iter().flatten());
                pairs.extend(more);
                Ok(Labels::new(pairs))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// One series of an instant answer: its labels, and its sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Point<'a> {
    pub labels: Labels<'a>,
    /// Unix seconds. For an instant query this is the evaluation time, not
    /// the scrape: `timestamp(...)` of a raw series gives the scrape.
    pub time: f64,
    /// May be NaN or infinite.
    pub value: f64,
}

impl Point<'_> {
    /// The point, no longer tied to the body it was read from.
    pub fn into_owned(self) -> Point<'static> {
        Point {
            labels: self.labels.into_owned(),
            time: self.time,
            value: self.value,
        }
    }
}

/// An instant answer as it came: read its series with
/// [`Answer::points`], which borrow from it.
#[derive(Debug)]
pub struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    /// Every series, or why the answer is not one.
    pub fn points(&self) -> Result<Vec<Point<'_>>, String> {
        parse_vector(self.status, &self.body)
    }
}

/// The instant query `query` at `at` (unix seconds): the answer, or why
/// there is none.
pub async fn instant(
    client: &reqwest::Client,
    server: &Server,
    query: &str,
    at: f64,
) -> Result<Answer, String> {
    let params = [("query", query.to_string()), ("time", format_time(at))];
    let (status, body) = post(client, server, "query", &params, INSTANT_BODY_CAP).await?;
    Ok(Answer { status, body })
}

/// POST `params`, form-encoded, to `/api/v1/<endpoint>` with the server's
/// headers and timeout: the status and at most `cap` bytes of the body
/// (more is an error: a cut JSON body would only mislead).
async fn post(
    client: &reqwest::Client,
    server: &Server,
    endpoint: &str,
    params: &[(&str, String)],
    cap: usize,
) -> Result<(u16, Vec<u8>), String> {
    let url = format!("{}/api/v1/{endpoint}", server.url);
    // The parameters form-encoded as a POST body: a long query does not
    // meet a URL length limit.
    let body = reqwest::Url::parse_with_params("http://form.invalid/", params)
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
    let response = request
        .send()
        .await
        .map_err(|e| format!("unreachable: {}", crate::http::transport_reason(&e)))?;
    let status = response.status().as_u16();
    let body = read_capped(response, cap).await.map_err(|e| {
        format!(
            "the answer broke off: {}",
            crate::http::transport_reason(&e)
        )
    })?;
    if body.len() > cap {
        return Err(format!(
            "HTTP {status}, and the answer is larger than {} MiB: narrow the query",
            cap / (1024 * 1024)
        ));
    }
    Ok((status, body))
}

/// Seconds with millisecond precision, as Prometheus takes them.
fn format_time(t: f64) -> String {
    format!("{:.3}", t)
}

/// The body, stopping once it is longer than `cap`.
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > cap {
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
            // Judged newest last: a server that sends samples out of time
            // order must not hide its newest one. Two samples at one time
            // are not a series.
            samples.sort_by(|a, b| a.0.total_cmp(&b.0));
            if let Some(w) = samples.windows(2).find(|w| w[0].0 == w[1].0) {
                return Fetched::Error(format!(
                    "two samples at the same time ({}): not a series",
                    judge::time(w[0].0)
                ));
            }
            Fetched::Series(samples)
        }
        many => Fetched::Error(format!(
            "the query returned {} series; a rule judges one: aggregate it (sum, max, ...)",
            many.len()
        )),
    }
}

/// What an instant answer says, as typed fields borrowing from the body:
/// read without building a JSON tree or a map per series, which for a big
/// fleet would cost many times the body.
#[derive(Deserialize)]
struct VectorAnswer<'a> {
    #[serde(borrow)]
    status: Text<'a>,
    #[serde(borrow)]
    data: VectorData<'a>,
}

#[derive(Deserialize)]
struct VectorData<'a> {
    #[serde(rename = "resultType", borrow)]
    result_type: Text<'a>,
    #[serde(borrow)]
    result: Vec<VectorItem<'a>>,
}

#[derive(Deserialize)]
struct VectorItem<'a> {
    #[serde(borrow)]
    metric: Labels<'a>,
    #[serde(borrow)]
    value: (f64, Text<'a>),
}

/// Read an instant answer: every series (a scalar is one series without
/// labels), or why it is not an answer.
pub fn parse_vector(status: u16, body: &[u8]) -> Result<Vec<Point<'_>>, String> {
    // UTF-8 checked once for the whole body, not string by string.
    if let Ok(text) = std::str::from_utf8(body)
        && let Ok(answer) = serde_json::from_str::<VectorAnswer>(text)
        && answer.status.0 == "success"
        && answer.data.result_type.0 == "vector"
    {
        let mut points = Vec::with_capacity(answer.data.result.len());
        for item in answer.data.result {
            let (time, Text(text)) = item.value;
            let Some(value) = parse_value(&text) else {
                return Err(format!(
                    "a sample value is not a number: {}",
                    crate::sanitize::quoted(&text)
                ));
            };
            points.push(Point {
                labels: item.metric,
                time,
                value,
            });
        }
        return Ok(points);
    }
    // Anything else: an error, a scalar, or not an answer at all.
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return Err(format!(
            "HTTP {status}, and the body is not Prometheus JSON (something in front of it failed?)"
        ));
    };
    if doc["status"] != "success" {
        let kind = doc["errorType"].as_str().unwrap_or("error");
        let why = doc["error"].as_str().unwrap_or("no reason given");
        return Err(format!(
            "HTTP {status}, {kind}: {}",
            crate::sanitize::capped(why, 300)
        ));
    }
    match doc["data"]["resultType"].as_str() {
        Some("scalar") => {
            let v = &doc["data"]["result"];
            match (v[0].as_f64(), v[1].as_str().and_then(parse_value)) {
                (Some(time), Some(value)) => Ok(vec![Point {
                    labels: Labels::default(),
                    time,
                    value,
                }]),
                _ => Err("the scalar is not [time, \"value\"]".to_string()),
            }
        }
        Some("matrix") => Err(
            "the query returns a range of samples; a check judges one value per series \
             (drop the [range], or wrap it in a function such as max_over_time)"
                .to_string(),
        ),
        Some(other) => Err(format!(
            "the answer is a {}, not a vector of series",
            crate::sanitize::quoted(other)
        )),
        None => Err("the answer has no data.result".to_string()),
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

    #[test]
    fn samples_out_of_time_order_are_sorted_and_twins_refused() {
        let shuffled = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1700000120,"NaN"],[1700000000,"1"],[1700000060,"2"]]}]}}"#;
        match parse(200, shuffled) {
            Fetched::Series(s) => {
                assert_eq!(s[0], (1_700_000_000.0, 1.0));
                assert_eq!(s[1], (1_700_000_060.0, 2.0));
                assert!(s[2].1.is_nan() && s[2].0 == 1_700_000_120.0);
            }
            other => panic!("{other:?}"),
        }
        let twins = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1700000000,"1"],[1700000000,"5"]]}]}}"#;
        assert!(matches!(parse(200, twins), Fetched::Error(e) if e.contains("same time")));
    }

    #[test]
    fn labels_are_read_from_the_body_sorted_escaped_and_each_name_once() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"job":"node","instance":"web \"1\"","a\u0062":"x","job":"last"},
             "value":[1700000000,"1"]}]}}"#;
        let points = parse_vector(200, body).unwrap();
        let labels = &points[0].labels;
        let pairs: Vec<(&str, &str)> = labels.iter().collect();
        assert_eq!(
            pairs,
            [("ab", "x"), ("instance", "web \"1\""), ("job", "last")]
        );
        // Plain strings stay in the body; escaped ones are copied.
        assert!(matches!(labels.0[2].0, Cow::Borrowed(_)));
        assert!(matches!(labels.0[1].1, Cow::Owned(_)));
        // Ordered as a map of them: pair by pair.
        let a: Labels = [("instance", "a"), ("job", "z")].into_iter().collect();
        let b: Labels = [("instance", "b"), ("job", "a")].into_iter().collect();
        let c: Labels = [("instance", "a")].into_iter().collect();
        assert!(c < a && a < b);
        assert_eq!(points[0].clone().into_owned(), points[0]);
        // Many labels: every one kept, in name order.
        let many: Vec<String> = (0..40)
            .rev()
            .map(|i| format!("\"l{i:02}\":\"{i}\""))
            .collect();
        let body = format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":[
            {{"metric":{{{}}},"value":[1,"1"]}}]}}}}"#,
            many.join(",")
        );
        let points = parse_vector(200, body.as_bytes()).unwrap();
        let names: Vec<&str> = points[0].labels.iter().map(|(k, _)| k).collect();
        let expected: Vec<String> = (0..40).map(|i| format!("l{i:02}")).collect();
        assert_eq!(names, expected);
        assert_eq!(points[0].labels.get("l39"), Some("39"));
    }

    #[test]
    fn an_instant_answer_is_every_series_with_its_labels() {
        let ok = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"instance":"web-1"},"value":[1700000000.5,"0.25"]},
            {"metric":{"instance":"web-2"},"value":[1700000000.5,"NaN"]}]}}"#;
        let points = parse_vector(200, ok).unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].labels.get("instance"), Some("web-1"));
        assert_eq!((points[0].time, points[0].value), (1_700_000_000.5, 0.25));
        assert!(points[1].value.is_nan());
        let empty = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(parse_vector(200, empty), Ok(vec![]));
        let scalar =
            br#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"3"]}}"#;
        assert_eq!(parse_vector(200, scalar).unwrap()[0].value, 3.0);
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(
            parse_vector(200, matrix)
                .unwrap_err()
                .contains("range of samples")
        );
        let bad = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert_eq!(
            parse_vector(400, bad).unwrap_err(),
            "HTTP 400, bad_data: parse error"
        );
        assert!(
            parse_vector(502, b"<html>")
                .unwrap_err()
                .contains("not Prometheus JSON")
        );
        let word = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{},"value":[1,"many"]}]}}"#;
        assert!(
            parse_vector(200, word)
                .unwrap_err()
                .contains("not a number")
        );
    }
}
