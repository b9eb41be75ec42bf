//! One evaluation of the watch: every probe (an HTTP GET), rule and
//! profile switch (Prometheus range queries) at once, each bounded by the
//! evaluation's budget. What it found is judged elsewhere: the probes and
//! rules by [`super::watch::Tracker`], the switches by
//! [`super::switches::Switches`]. The HTTP clients are made once per
//! setting and kept for the whole window.

use std::collections::HashMap;
use std::time::Duration;

use super::Verify;
use super::judge::{self, Evaluation};
use crate::checks::health::api;
use crate::config::Config;
use crate::http::{self, Proxies};
use crate::prom::{self, Fetched};

/// What one evaluation found, in the config's order: each probe's status
/// code (or why there is none), each rule's evaluation, and each switch's
/// (degrade, recover) evaluations.
pub type Found = (
    Vec<Result<u16, String>>,
    Vec<Evaluation>,
    Vec<(Evaluation, Evaluation)>,
);

/// The most one evaluation may take: the longest of the probes' and
/// Prometheus' own timeouts, and a grace of [`BUDGET_GRACE`] (each request
/// is bounded by its own; this bounds anything else). A run ends at most
/// this long after its window.
pub fn budget(verify: &Verify, config: &Config) -> Duration {
    verify
        .probes
        .iter()
        .map(|p| p.req.timeout)
        .chain(config.prometheus.as_ref().map(|s| s.timeout))
        .max()
        .unwrap_or(Duration::from_secs(1))
        + BUDGET_GRACE
}

/// Past the longest request timeout: a request's own timeout, which says
/// what it waited for ("timed out"), ends it before the evaluation's
/// budget does, even on a loaded machine where both would fire together.
pub const BUDGET_GRACE: Duration = Duration::from_millis(250);

/// The HTTP clients and what an evaluation needs.
pub struct Evaluator<'a> {
    verify: &'a Verify,
    config: &'a Config,
    proxies: &'a Proxies,
    clients: HashMap<http::Settings, Result<reqwest::Client, String>>,
    /// A rule's step when it sets none.
    interval: Duration,
}

impl<'a> Evaluator<'a> {
    pub fn new(
        verify: &'a Verify,
        config: &'a Config,
        proxies: &'a Proxies,
        interval: Duration,
    ) -> Self {
        Self {
            verify,
            config,
            proxies,
            clients: HashMap::new(),
            interval,
        }
    }

    fn client(&mut self, settings: &http::Settings) -> Result<reqwest::Client, String> {
        self.clients
            .entry(settings.clone())
            .or_insert_with(|| http::client(settings, self.proxies))
            .clone()
    }

    /// One evaluation at `t`: every probe (when `live`), rule and switch at once.
    pub async fn evaluate(&mut self, t: f64, live: bool) -> Found {
        let probe_clients: Vec<_> = self
            .verify
            .probes
            .iter()
            .map(|p| self.client(&p.req.http()))
            .collect();
        let prom = self.config.prometheus.clone();
        let prom_client = prom.as_ref().map(|s| self.client(&s.http));
        let budget = budget(self.verify, self.config);
        let over = move || {
            format!(
                "no answer within the evaluation's budget of {}",
                humantime::format_duration(budget)
            )
        };
        let probes = self
            .verify
            .probes
            .iter()
            .zip(probe_clients)
            .map(|(p, c)| async move {
                if !live {
                    return Err("not evaluated".to_string());
                }
                match c {
                    Ok(c) => tokio::time::timeout(budget, api::once(&c, &p.req))
                        .await
                        .unwrap_or_else(|_| Err(over())),
                    Err(e) => Err(format!("no HTTP client ({e})")),
                }
            });
        let step_of = |s: Option<Duration>| s.unwrap_or(self.interval).as_secs_f64().max(1.0);
        let query = |q: String, sustain: f64, step: f64| {
            let (prom, client) = (prom.clone(), prom_client.clone());
            async move {
                match (prom, client) {
                    (Some(server), Some(Ok(c))) => tokio::time::timeout(
                        budget,
                        prom::range(&c, &server, &q, t - sustain, t, step),
                    )
                    .await
                    .unwrap_or_else(|_| Fetched::Error(over())),
                    (Some(_), Some(Err(e))) => Fetched::Error(format!("no HTTP client ({e})")),
                    _ => Fetched::Error("no [prometheus] server".to_string()),
                }
            }
        };
        let rules = self.verify.rules.iter().map(|r| {
            let step = step_of(r.step);
            let sustain = r.sustain.as_secs_f64();
            let fut = query(r.query.clone(), sustain, step);
            async move { judge::judge(&fut.await, r.bound, t, sustain, step) }
        });
        let switches = self.verify.switches.iter().map(|s| {
            let step = step_of(s.step);
            let (d, rc) = (
                query(s.query.clone(), 0.0, step),
                query(s.recover_query.clone(), 0.0, step),
            );
            async move {
                let (d, rc) = (d.await, rc.await);
                (
                    judge::judge(&d, s.bound, t, 0.0, step),
                    judge::judge(&rc, s.recover_bound, t, 0.0, step),
                )
            }
        });
        let (p, r, s) = (
            crate::par::join_all(probes.collect()),
            crate::par::join_all(rules.collect()),
            crate::par::join_all(switches.collect()),
        );
        tokio::join!(p, r, s)
    }
}
