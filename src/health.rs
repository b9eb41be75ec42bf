//! The health phase: every check at once, each under a hard deadline, the
//! results in declared order.
//!
//! Checks run as tasks on a single-threaded tokio runtime: API checks are
//! asynchronous, the local ones (disk, memory, the process table) run on
//! blocking threads. Every check is cut off at its budget (an API check's
//! computed worst case, [`LOCAL_BUDGET`] for the others), so a hung
//! dependency or a hung mount costs at most its own budget and the phase
//! takes about as long as its slowest check. A check cut off is CRIT. The
//! runtime is shut down without waiting for threads that are still stuck.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::checks::{api, disk, memory, process};
use crate::config::health::{HealthCheck, Kind};
use crate::report::progress::Progress;
use crate::report::{CheckResult, Outcome, Phase, Status};

/// How long a disk, memory or process check may take.
pub const LOCAL_BUDGET: Duration = Duration::from_secs(5);

type Snapshot = Arc<OnceCell<Arc<Result<process::Snapshot, String>>>>;

/// The rows when the policy phase did not pass: nothing is evaluated.
pub fn skipped(checks: &[HealthCheck]) -> Vec<CheckResult> {
    checks
        .iter()
        .map(|c| CheckResult {
            id: c.id.clone(),
            phase: Phase::Health,
            outcome: Outcome::skip("not evaluated: a policy gate did not pass"),
            duration: Duration::ZERO,
        })
        .collect()
}

fn critical_rows(checks: &[HealthCheck], why: &str) -> Vec<CheckResult> {
    checks
        .iter()
        .map(|c| CheckResult {
            id: c.id.clone(),
            phase: Phase::Health,
            outcome: Outcome::new(Status::Crit, why.to_string()),
            duration: Duration::ZERO,
        })
        .collect()
}

/// Run every check concurrently; one row per check, in declared order.
pub fn run(checks: &[HealthCheck], progress: &Progress) -> Vec<CheckResult> {
    if checks.is_empty() {
        return Vec::new();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return critical_rows(checks, &format!("cannot check: no runtime ({e})")),
    };
    let rows = runtime.block_on(async {
        let snapshot: Snapshot = Arc::new(OnceCell::new());
        let mut clients: HashMap<(u32, bool), Result<reqwest::Client, String>> = HashMap::new();
        let mut tasks = Vec::with_capacity(checks.len());
        for check in checks {
            let client = match &check.kind {
                Kind::Api(a) => Some(
                    clients
                        .entry((a.max_redirects, a.insecure))
                        .or_insert_with(|| api::client(a.max_redirects, a.insecure))
                        .clone(),
                ),
                _ => None,
            };
            tasks.push(tokio::spawn(one(
                check.clone(),
                client,
                snapshot.clone(),
                progress.clone(),
            )));
        }
        let mut rows = Vec::with_capacity(tasks.len());
        for (task, check) in tasks.into_iter().zip(checks) {
            rows.push(task.await.unwrap_or_else(|_| CheckResult {
                id: check.id.clone(),
                phase: Phase::Health,
                outcome: Outcome::new(Status::Crit, "cannot check: the check failed unexpectedly"),
                duration: Duration::ZERO,
            }));
        }
        rows
    });
    // Do not wait for a blocking thread stuck in a hung filesystem.
    runtime.shutdown_background();
    rows
}

/// The hard deadline for one check.
pub fn budget(check: &HealthCheck) -> Duration {
    match &check.kind {
        Kind::Api(a) => api::budget(a) + api::SLACK,
        _ => LOCAL_BUDGET,
    }
}

async fn one(
    check: HealthCheck,
    client: Option<Result<reqwest::Client, String>>,
    snapshot: Snapshot,
    progress: Progress,
) -> CheckResult {
    let start = Instant::now();
    progress.begin(&check.id);
    let budget = budget(&check);
    let outcome = if !check.unset.is_empty() {
        // Only reachable if required_config was bypassed: fail closed.
        Outcome::new(
            Status::Crit,
            format!("cannot check: {} is not set", check.unset.join(", ")),
        )
    } else {
        match tokio::time::timeout(budget, evaluate(&check, client, &snapshot)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::new(
                Status::Crit,
                format!(
                    "cannot check: no answer within its budget of {}",
                    humantime::format_duration(budget)
                ),
            ),
        }
    };
    tracing::debug!(check = %check.id, status = outcome.status.as_str(), "{}", outcome.message);
    progress.end(&check.id);
    CheckResult {
        id: check.id,
        phase: Phase::Health,
        outcome,
        duration: start.elapsed(),
    }
}

async fn blocking(f: impl FnOnce() -> Outcome + Send + 'static) -> Outcome {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|_| {
        Outcome::new(Status::Crit, "cannot check: the check failed unexpectedly")
    })
}

async fn evaluate(
    check: &HealthCheck,
    client: Option<Result<reqwest::Client, String>>,
    snapshot: &Snapshot,
) -> Outcome {
    match &check.kind {
        Kind::Disk(d) => {
            let d = d.clone();
            blocking(move || disk::check(&d)).await
        }
        Kind::Memory(m) => {
            let m = m.clone();
            blocking(move || memory::check(&m)).await
        }
        Kind::Process(p) => {
            let table = snapshot
                .get_or_init(|| async {
                    Arc::new(
                        tokio::task::spawn_blocking(process::Snapshot::take)
                            .await
                            .unwrap_or_else(|_| {
                                Err("the process table could not be read".to_string())
                            }),
                    )
                })
                .await;
            let (table, name) = (table.clone(), p.name.clone());
            // Reading executables and command lines blocks: off the runtime.
            blocking(move || process::check(&table, &name)).await
        }
        Kind::Api(a) => match client {
            Some(Ok(client)) => api::check(&client, a).await,
            Some(Err(e)) => {
                Outcome::new(Status::Crit, format!("cannot check: no HTTP client ({e})"))
            }
            None => Outcome::new(Status::Crit, "cannot check: no HTTP client"),
        },
    }
}
