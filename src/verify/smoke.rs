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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::envsnap::EnvSnapshot;
    use crate::progress::Progress;
    use crate::secrets::Scrubber;

    fn step(name: &str, argv: &[&str], timeout: Duration) -> Step {
        Step {
            name: name.into(),
            run: Run::Command {
                argv: argv.iter().map(|a| a.to_string()).collect(),
                env: Vec::new(),
            },
            timeout,
        }
    }

    #[test]
    fn each_step_says_how_it_ended_and_a_failure_is_a_trigger() {
        let (vars, scrubber) = (EnvSnapshot::default(), Scrubber::new());
        let cx = Context::new(&vars, &scrubber, Progress::none());
        let second = Duration::from_secs(5);
        let steps = [
            step("ok", &["sh", "-c", "test \"$RS_VERSION\" = v1.2.3"], second),
            step("exit", &["sh", "-c", "exit 3"], second),
            step("slow", &["sleep", "5"], Duration::from_millis(200)),
            step("missing", &["/nonexistent/smoke"], second),
            step("shadowed", &["false"], second),
        ];
        let env = [("RS_VERSION".to_string(), "v1.2.3".to_string())];
        let stop = AtomicBool::new(false);
        let mode_of = |id: &str| {
            if id == "smoke:shadowed" {
                Mode::Shadow
            } else {
                Mode::Enforce
            }
        };
        let (rows, triggers) = steps_of(&steps, &env, &stop, &cx, mode_of);
        let messages: Vec<(&str, Status, &str)> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.status(), r.outcome.message.as_str()))
            .collect();
        assert_eq!(messages[0], ("smoke:ok", Status::Ok, "passed (exit 0)"));
        assert_eq!(messages[1], ("smoke:exit", Status::Crit, "failed: exit 3"));
        assert_eq!(
            messages[2],
            ("smoke:slow", Status::Crit, "failed: timed out after 200ms")
        );
        assert_eq!(messages[3].1, Status::Crit);
        assert!(
            messages[3]
                .2
                .starts_with("could not start: /nonexistent/smoke: "),
            "{}",
            messages[3].2
        );
        assert_eq!(triggers.len(), 3, "{triggers:?}");
        assert_eq!(triggers[0], "smoke:exit failed: failed: exit 3");

        // Interrupted: nothing runs, and nothing triggers.
        stop.store(true, Ordering::SeqCst);
        let (rows, triggers) = steps_of(&steps[..1], &env, &stop, &cx, mode_of);
        assert_eq!(rows[0].outcome.message, "not evaluated: interrupted");
        assert!(triggers.is_empty());
    }

    fn steps_of(
        s: &[Step],
        env: &[(String, String)],
        stop: &AtomicBool,
        cx: &Context<'_>,
        mode_of: impl Fn(&str) -> Mode,
    ) -> (Vec<CheckResult>, Vec<String>) {
        steps(s, env, false, &std::env::temp_dir(), stop, cx, mode_of)
    }
}
