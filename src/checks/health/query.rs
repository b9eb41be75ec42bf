//! `query:<name>`: a PromQL query over the fleet, where every series must
//! be within a bound (`max` or `min`) and an expected number of series
//! must be there (`series = 12`, or at least one by default), each
//! scraped within `max_age` when that is set. Read through `[prometheus]`
//! by the engine in [`super::fleet`], which says what counts as missing.

use std::sync::Arc;

use serde::Deserialize;

use super::fleet::{self, FleetCheck, Hosts, Measure};
use super::{Ctx, HealthCheck};
use crate::config::values::Number;
use crate::config::values::check_name;
use crate::prom::judge::{Bound, Expect};
use crate::sanitize::quoted;

/// How many series, as written: a number, or `"at least one"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Series {
    Count(i64),
    Words(String),
}

/// `[[health.query]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub name: String,
    pub query: String,
    pub max: Option<Number>,
    pub min: Option<Number>,
    pub series: Option<Series>,
    pub max_age: Option<String>,
}

pub fn validate(q: Raw, key: &str, cx: &mut Ctx<'_>) -> Option<HealthCheck> {
    if let Err(why) = check_name(&q.name, "check") {
        cx.problems.push(format!("{key}.name"), why);
    }
    let bound = match (q.max.map(Number::get), q.min.map(Number::get)) {
        (Some(m), None) if m.is_finite() => Some(Bound::Max(m)),
        (None, Some(m)) if m.is_finite() => Some(Bound::Min(m)),
        (Some(_), Some(_)) => {
            cx.problems
                .push(key, "give max or min, not both (two checks for a band)");
            None
        }
        (None, None) => {
            cx.problems.push(
                key,
                "needs a bound: max = <highest good value> or min = <lowest good value>",
            );
            None
        }
        _ => {
            cx.problems.push(key, "the bound is not a finite number");
            None
        }
    };
    let expect = match q.series {
        None => Some(Expect::AtLeastOne),
        Some(Series::Count(n)) if n >= 1 => Some(Expect::Exactly(n as usize)),
        Some(Series::Words(w)) if w.trim() == "at least one" => Some(Expect::AtLeastOne),
        Some(Series::Count(n)) => {
            cx.problems.push(
                format!("{key}.series"),
                format!("{n}: expect 1 or more series (no series is never a pass)"),
            );
            None
        }
        Some(Series::Words(w)) => {
            cx.problems.push(
                format!("{key}.series"),
                format!(
                    "{} is not a number of series or \"at least one\"",
                    quoted(&w)
                ),
            );
            None
        }
    };
    let max_age = fleet::max_age(q.max_age.as_deref(), key, cx);
    let query_key = format!("{key}.query");
    let mut unset = Vec::new();
    let query = match cx.expand(&q.query, &query_key, &mut unset) {
        Some(text) if text.trim().is_empty() => {
            cx.problems
                .push(&query_key, "an empty query checks nothing");
            None
        }
        Some(text) => Some(text),
        None if !unset.is_empty() => Some(q.query.clone()),
        None => None,
    };
    let server = fleet::server(key, cx);
    let (server, bound, expect, query) = (server?, bound?, expect?, query?);
    Some(HealthCheck {
        id: format!("query:{}", q.name),
        key: key.to_string(),
        check: Arc::new(FleetCheck {
            server,
            measure: Measure::Query { query, bound },
            selector: None,
            hosts: Hosts::Count(expect),
            max_age,
        }),
        unset,
        mode: Default::default(),
    })
}
