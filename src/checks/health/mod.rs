//! The health checks: a registry of kinds, and the phase that runs them.
//!
//! A kind is one module: its config section as written (`Raw`, refused
//! with line and column when it has an unknown key), its validation
//! (`validate`, every problem with its key path), and the validated check,
//! which implements [`Check`] (its budget and its run function). The
//! [`kinds!`] line below registers it: the section name, whether it is a
//! list (`[[health.disk]]`) or one table (`[health.memory]`), and the
//! module. Rows come out in registry order, then file order.
//!
//! The phase runs every check at once, as tasks on a single-threaded tokio
//! runtime: HTTP is asynchronous, local work runs on blocking threads
//! ([`blocking`]). Every check is cut off at its budget, so a hung
//! dependency or a hung mount costs at most its own budget and the phase
//! takes about as long as its slowest check. A check cut off is CRIT. The
//! runtime is shut down without waiting for threads that are still stuck.

pub mod api;
pub mod disk;
pub mod fleet;
pub mod memory;
pub mod process;
pub mod query;

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::values::{Expanded, Problems, expand_with};
use crate::envsnap::EnvSnapshot;
use crate::progress::Progress;
use crate::report::{CheckResult, Outcome, Phase, Status};

/// How long a local check (disk, memory, process) may take.
pub const LOCAL_BUDGET: Duration = Duration::from_secs(5);

/// What a check's run function returns.
pub type Running<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// A validated health check of some kind.
pub trait Check: std::fmt::Debug + Send + Sync {
    /// The hard deadline: the check is cut off (CRIT) when it runs longer.
    fn budget(&self) -> Duration {
        LOCAL_BUDGET
    }

    /// Evaluate the check. `shared` holds what checks of a kind share in
    /// one run (one process table, one HTTP client per setting).
    fn run<'a>(&'a self, shared: &'a Shared) -> Running<'a>;

    /// Values the check sends that are secrets whatever their variable is
    /// called (an API check's header values).
    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }
}

/// One configured health check.
#[derive(Debug, Clone)]
pub struct HealthCheck {
    /// The row id: `disk:/`, `memory`, `process:nginx`, `api:payments`.
    pub id: String,
    /// Where it is configured (`health.disk[0]`).
    pub key: String,
    pub check: Arc<dyn Check>,
    /// Required variables it references that are unset: the check cannot
    /// run (and fails closed if asked to).
    pub unset: Vec<String>,
    /// How much its result counts (`[modes]`).
    pub mode: crate::report::Mode,
}

/// What a kind's validation sees.
pub struct Ctx<'a> {
    pub env: &'a EnvSnapshot,
    /// Required variables: references to them may be unset (see
    /// [`Expanded::Unset`]).
    pub required: &'a [String],
    pub problems: &'a mut Problems,
    /// `[prometheus]`, which the checks over the fleet read.
    pub prometheus: Option<&'a crate::prom::Server>,
}

impl Ctx<'_> {
    /// Expand a string value; `unset` collects unset required variables.
    pub fn expand(&mut self, value: &str, key: &str, unset: &mut Vec<String>) -> Option<String> {
        match expand_with(value, key, self.env, self.required, self.problems)? {
            Expanded::Value(v) => Some(v),
            Expanded::Unset(vars) => {
                unset.extend(vars);
                None
            }
        }
    }
}

/// The registry: `<section>: <many|one> <module>`, in report order.
macro_rules! kinds {
    ($($key:ident: $arity:ident $module:ident),* $(,)?) => {
        /// `[health]` as written: each kind in its own section.
        #[derive(Debug, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct RawHealth {
            $(pub $key: Option<kinds!(@raw $arity $module)>,)*
        }

        fn validate_kinds(raw: RawHealth, cx: &mut Ctx<'_>) -> Vec<HealthCheck> {
            let mut out = Vec::new();
            $(kinds!(@each $arity $module, raw.$key, stringify!($key), cx, out);)*
            out
        }
    };
    (@raw many $m:ident) => { Vec<$m::Raw> };
    (@raw one $m:ident) => { $m::Raw };
    (@each many $m:ident, $section:expr, $name:expr, $cx:ident, $out:ident) => {
        for (i, raw) in $section.into_iter().flatten().enumerate() {
            $out.extend($m::validate(raw, &format!("health.{}[{i}]", $name), $cx));
        }
    };
    (@each one $m:ident, $section:expr, $name:expr, $cx:ident, $out:ident) => {
        if let Some(raw) = $section {
            $out.extend($m::validate(raw, &format!("health.{}", $name), $cx));
        }
    };
}

kinds! {
    disk: many disk,
    memory: one memory,
    process: many process,
    api: many api,
    query: many query,
}

/// Validate `[health]`: every check in report order, problems recorded.
pub fn validate(
    raw: RawHealth,
    env: &EnvSnapshot,
    required: &[String],
    prometheus: Option<&crate::prom::Server>,
    problems: &mut Problems,
) -> Vec<HealthCheck> {
    let mut cx = Ctx {
        env,
        required,
        problems,
        prometheus,
    };
    let checks = validate_kinds(raw, &mut cx);
    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
    for c in &checks {
        if let Some(at) = first.insert(&c.id, &c.key) {
            cx.problems.push(
                c.key.clone(),
                format!("{} is checked twice (also at {at})", c.id),
            );
        }
    }
    checks
}

/// What the checks of one run share, one value per type, made on first
/// use (the process table, the HTTP clients).
#[derive(Default)]
pub struct Shared {
    items: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Shared {
    /// Set the run's value of type `T` (before the checks run).
    pub fn set<T: Any + Send + Sync>(&self, value: T) {
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The run's value of type `T`.
    pub fn get<T: Any + Send + Sync + Default>(&self) -> Arc<T> {
        let item = self
            .items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()))
            .clone();
        // Stored under T's own TypeId, so it is a T.
        item.downcast::<T>()
            .unwrap_or_else(|_| Arc::new(T::default()))
    }
}

/// Run `f` on a blocking thread (local work that may hang on a syscall).
pub async fn blocking(f: impl FnOnce() -> Outcome + Send + 'static) -> Outcome {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Outcome::crit("cannot check: the check failed unexpectedly"))
}

/// The rows when the policy phase did not pass: nothing is evaluated.
pub fn skipped(checks: &[HealthCheck]) -> Vec<CheckResult> {
    same_rows(
        checks,
        &Outcome::skip("not evaluated: a policy gate did not pass"),
    )
}

/// One row per check, each with the same outcome.
fn same_rows(checks: &[HealthCheck], outcome: &Outcome) -> Vec<CheckResult> {
    checks
        .iter()
        .map(|c| CheckResult::new(c.id.clone(), Phase::Health, outcome.clone(), Duration::ZERO))
        .collect()
}

/// How much of what it found a row keeps in its details.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Detail {
    /// Everything: a fleet check lists every series it judged. For the
    /// outputs that show details (the JSON and JUnit reports, the report
    /// files, an evidence record).
    #[default]
    Full,
    /// The counts, without the per-series list: for a run whose outputs
    /// show no details (the table). A fleet of 10,000 hosts would
    /// otherwise hold tens of MiB of JSON that nothing prints.
    Summary,
}

/// Run every check concurrently; one row per check, in declared order.
/// `vars` gives the proxy settings. `stop` (SIGINT, SIGTERM) ends the phase
/// within a moment: the checks still running are SKIP, the ones that
/// finished keep their result, whatever their place in the order.
pub fn run(
    checks: &[HealthCheck],
    vars: &EnvSnapshot,
    progress: &Progress,
    stop: &AtomicBool,
) -> Vec<CheckResult> {
    run_with(checks, vars, progress, stop, Detail::Full)
}

/// [`run`], keeping `detail` of what each check found.
pub fn run_with(
    checks: &[HealthCheck],
    vars: &EnvSnapshot,
    progress: &Progress,
    stop: &AtomicBool,
    detail: Detail,
) -> Vec<CheckResult> {
    if checks.is_empty() {
        return Vec::new();
    }
    let runtime = match crate::http::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return same_rows(
                checks,
                &Outcome::crit(format!("cannot check: no runtime ({e})")),
            );
        }
    };
    let shared = Arc::new(Shared::default());
    shared.set(crate::http::Proxies::from_env(vars));
    shared.set(detail);
    let rows = runtime.block_on(async {
        let tasks: Vec<_> = checks
            .iter()
            .map(|c| tokio::spawn(one(c.clone(), shared.clone(), progress.clone())))
            .collect();
        let mut rows = Vec::with_capacity(tasks.len());
        let mut interrupted = false;
        for (mut task, check) in tasks.into_iter().zip(checks) {
            let mut row = if interrupted {
                None
            } else {
                tokio::select! {
                    r = &mut task => Some(r),
                    () = stopped(stop) => {
                        interrupted = true;
                        None
                    }
                }
            };
            // Interrupted: a check that already has its answer keeps it
            // (whatever its place in the order); only the ones still
            // running are abandoned (SKIP).
            if row.is_none() {
                if task.is_finished() {
                    row = Some((&mut task).await);
                } else {
                    task.abort();
                }
            }
            rows.push(match row {
                Some(Ok(row)) => row,
                Some(Err(_)) => CheckResult::new(
                    check.id.clone(),
                    Phase::Health,
                    Outcome::crit("cannot check: the check failed unexpectedly"),
                    Duration::ZERO,
                ),
                None => CheckResult::new(
                    check.id.clone(),
                    Phase::Health,
                    Outcome::skip("not evaluated: interrupted"),
                    Duration::ZERO,
                ),
            });
        }
        rows
    });
    // Do not wait for a blocking thread stuck in a hung filesystem.
    runtime.shutdown_background();
    rows
}

/// Resolves once `stop` is set.
async fn stopped(stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn one(check: HealthCheck, shared: Arc<Shared>, progress: Progress) -> CheckResult {
    let start = Instant::now();
    progress.begin(&check.id);
    let budget = check.check.budget();
    let outcome = if !check.unset.is_empty() {
        // Only reachable if required_config was bypassed: fail closed.
        Outcome::crit(format!(
            "cannot check: {} is not set",
            check.unset.join(", ")
        ))
    } else {
        match tokio::time::timeout(budget, check.check.run(&shared)).await {
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
    let elapsed = start.elapsed();
    tracing::debug!(check = %check.id, status = outcome.status.as_str(), elapsed_ms = %crate::report::millis(elapsed), "{}", outcome.message);
    progress.end(&check.id);
    CheckResult::new(check.id, Phase::Health, outcome, elapsed).with_mode(check.mode)
}

/// The status for a used percentage against WARN and CRIT thresholds.
pub fn grade(used: f64, warn: f64, crit: f64) -> Status {
    if used >= crit {
        Status::Crit
    } else if used >= warn {
        Status::Warn
    } else {
        Status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades() {
        assert_eq!(grade(10.0, 75.0, 85.0), Status::Ok);
        assert_eq!(grade(75.0, 75.0, 85.0), Status::Warn);
        assert_eq!(grade(90.0, 75.0, 85.0), Status::Crit);
    }

    #[derive(Default)]
    struct Counter(std::sync::atomic::AtomicUsize);

    #[test]
    fn shared_values_are_one_per_type() {
        let s = Shared::default();
        s.get::<Counter>()
            .0
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            s.get::<Counter>()
                .0
                .load(std::sync::atomic::Ordering::SeqCst),
            1
        );
    }
}
