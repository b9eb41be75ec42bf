//! The smoke steps: commands run once, before the watch, by the pack's
//! runner. A failed one is a trigger, so the watch does not start. Under
//! `--at` (a replay of stored metrics) and once the run is interrupted
//! they are not run.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::pack::{Run, Step};
use crate::report::{CheckResult, Mode, Outcome, Phase, Status};
use crate::runner::{self, End};
use crate::workspace::Context;

/// Every smoke step of the config, in order: its rows, and the triggers
/// (a failed step whose row is enforced). `env` is added to each step's
/// environment; `replay` is `--at`; `mode_of` gives a row's mode by its id.
pub fn steps(
    steps: &[Step],
    env: &[(String, String)],
    replay: bool,
    root: &Path,
    stop: &AtomicBool,
    cx: &Context<'_>,
    mode_of: impl Fn(&str) -> Mode,
) -> (Vec<CheckResult>, Vec<String>) {
    let mut rows: Vec<CheckResult> = Vec::new();
    let mut triggers: Vec<String> = Vec::new();
    for step in steps {
        let id = format!("smoke:{}", step.name);
        let start = Instant::now();
        let outcome = if replay {
            Outcome::skip("not evaluated: --at judges stored metrics only")
        } else if stop.load(Ordering::SeqCst) {
            Outcome::skip("not evaluated: interrupted")
        } else {
            cx.progress.begin(&id);
            let o = smoke(step, env, root, stop, cx);
            cx.progress.end(&id);
            o
        };
        let row =
            CheckResult::new(&id, Phase::Verify, outcome, start.elapsed()).with_mode(mode_of(&id));
        if row.counts() && matches!(row.status(), Status::Crit) {
            triggers.push(format!("{id} failed: {}", row.outcome.message));
        }
        rows.push(row);
    }
    (rows, triggers)
}

/// One step: `passed (exit 0)`, `failed: <how it ended>`, `not finished:
/// interrupted` (SKIP), or `could not start: <why>`.
fn smoke(
    step: &Step,
    env: &[(String, String)],
    root: &Path,
    stop: &AtomicBool,
    cx: &Context<'_>,
) -> Outcome {
    let Run::Command { argv, env: own } = &step.run else {
        return Outcome::crit("could not start: a smoke step is a command");
    };
    let env: Vec<(String, String)> = env.iter().chain(own).cloned().collect();
    let ran = runner::run(argv, &env, step.timeout, root, stop);
    let how = ran.end.describe(step.timeout);
    let (status, message) = match &ran.end {
        End::Exited(0) => (Status::Ok, format!("passed ({how})")),
        End::Interrupted => (Status::Skip, format!("not finished: {how}")),
        End::CouldNotStart(_) => (Status::Crit, how),
        End::Exited(_) | End::Signalled(_) | End::TimedOut => {
            (Status::Crit, format!("failed: {how}"))
        }
    };
    Outcome::new(status, message)
        .detail("stdout", ran.stdout.scrubbed(cx.scrubber))
        .detail("stderr", ran.stderr.scrubbed(cx.scrubber))
}
