//! The rollback a trigger calls for: the configured command (its
//! placeholders filled, quoted where they land in a shell script) run, or
//! with `--no-rollback` or `--at` only shown; and what the verify.rollback
//! notification says was done. Ignored here: whether to roll back (the
//! watch decides).

use std::path::Path;
use std::time::{Duration, Instant};

use super::Verify;
use crate::report::{CheckResult, Outcome, Phase, Status};
use crate::runner;
use crate::workspace::Context;

/// Why `--at` acts on nothing, at the start of each row that says what
/// would have been done.
pub const REPLAY: &str = "--at replays stored metrics";

/// The release rolled back and how: `env` and `version` (`--env`,
/// `--version`), `no_rollback` (`--no-rollback`: show the command, run
/// nothing), `replay` (`--at`: the same, for a replay).
pub struct Plan<'a> {
    pub env: &'a str,
    pub version: &'a str,
    pub no_rollback: bool,
    pub replay: bool,
}

/// Run (or, with `--no-rollback` or `--at`, show) the rollback command.
pub fn rollback(
    verify: &Verify,
    plan: &Plan<'_>,
    previous: &Result<String, String>,
    reason: &str,
    root: &Path,
    cx: &Context<'_>,
) -> CheckResult {
    let start = Instant::now();
    let id = "rollback";
    let Some(rb) = &verify.rollback else {
        let o = Outcome::skip(format!(
            "no rollback command is configured (verify.rollback); triggered by {reason}"
        ));
        return CheckResult::new(id, Phase::Verify, o, Duration::ZERO);
    };
    let needs_tag = rb.argv.iter().any(|a| a.contains("{previous_tag}"));
    let previous_tag = match (previous, needs_tag) {
        (Ok(t), _) => t.clone(),
        (Err(_), false) => String::new(),
        (Err(why), true) => {
            let o = Outcome::fail(format!(
                "cannot run the rollback: {{previous_tag}} is unknown: {why}"
            ));
            return CheckResult::new(id, Phase::Verify, o, Duration::ZERO);
        }
    };
    // Quoted where they land in a shell script (rollback_shell = true,
    // or a `sh -c` argv): a tag or an --env holding `$(...)` stays data.
    let argv = runner::substitute(
        &rb.argv,
        &[
            ("previous_tag", previous_tag.as_str()),
            ("version", plan.version),
            ("env", plan.env),
        ],
    );
    let shown = argv.join(" ");
    // A replay (`--at`) judges the past: it never acts on the world.
    let dry = if plan.replay {
        Some(REPLAY)
    } else if plan.no_rollback {
        Some("--no-rollback")
    } else {
        None
    };
    if let Some(why) = dry {
        let o = Outcome::skip(format!("{why}: would run: {shown}"))
            .detail("argv", argv)
            .detail("reason", reason);
        return CheckResult::new(id, Phase::Verify, o, Duration::ZERO);
    }
    let env = [
        ("RS_ENV".to_string(), plan.env.to_string()),
        ("RS_VERSION".to_string(), plan.version.to_string()),
        ("RS_PREVIOUS_TAG".to_string(), previous_tag.clone()),
    ];
    let ran = runner::run(&argv, &env, rb.timeout, root, &cx.interrupt_flag());
    let took = start.elapsed();
    let status = if ran.end.passed() {
        Status::Ok
    } else {
        Status::Fail
    };
    let o = Outcome::new(
        status,
        format!("ran {shown}: {}", ran.end.describe(rb.timeout)),
    )
    .detail("argv", argv)
    .detail("reason", reason)
    .detail("exit_code", ran.end.code())
    .detail("duration_ms", took.as_millis() as u64)
    .detail("stdout", ran.stdout.scrubbed(cx.scrubber))
    .detail("stderr", ran.stderr.scrubbed(cx.scrubber));
    CheckResult::new(id, Phase::Verify, o, took)
}

/// The `{rollback}` of a verify.rollback message, from the rollback row:
/// "Rollback in progress to v1.1.0" only when the command ran and passed;
/// otherwise what was (not) done, so nobody waits for a rollback that is
/// not happening.
pub fn note_of(row: &CheckResult, previous: Option<&String>) -> String {
    let to = previous.map(|t| format!(" to {t}")).unwrap_or_default();
    let message = &row.outcome.message;
    match row.status() {
        Status::Ok => format!("Rollback in progress{to}"),
        Status::Skip if message.starts_with(REPLAY) => {
            format!("No rollback was run ({REPLAY}); it would have rolled back{to}")
        }
        Status::Skip if message.starts_with("--no-rollback") => {
            format!("No rollback was run (--no-rollback); roll back{to} by hand")
        }
        Status::Skip => format!("No rollback command is configured; roll back{to} by hand"),
        _ => format!("The rollback{to} failed; roll back by hand"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: Status, message: &str) -> CheckResult {
        CheckResult::new(
            "rollback",
            Phase::Verify,
            Outcome::new(status, message),
            Duration::ZERO,
        )
    }

    #[test]
    fn the_note_says_a_rollback_is_in_progress_only_when_one_ran_and_passed() {
        let tag = "v1.1.0".to_string();
        let cases = [
            (
                Status::Ok,
                "ran x: exit 0",
                "Rollback in progress to v1.1.0",
            ),
            (
                Status::Skip,
                "--at replays stored metrics: would run: x",
                "No rollback was run (--at replays stored metrics); it would have rolled back to v1.1.0",
            ),
            (
                Status::Skip,
                "--no-rollback: would run: x",
                "No rollback was run (--no-rollback); roll back to v1.1.0 by hand",
            ),
            (
                Status::Skip,
                "no rollback command is configured (verify.rollback); triggered by y",
                "No rollback command is configured; roll back to v1.1.0 by hand",
            ),
            (
                Status::Fail,
                "ran x: exit 3",
                "The rollback to v1.1.0 failed; roll back by hand",
            ),
        ];
        for (status, message, note) in cases {
            assert_eq!(note_of(&row(status, message), Some(&tag)), note);
        }
        assert_eq!(
            note_of(&row(Status::Fail, "ran x: exit 3"), None),
            "The rollback failed; roll back by hand"
        );
    }
}
