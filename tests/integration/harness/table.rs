//! Same-shaped cases written as a table: every row runs, and the test
//! fails once at the end naming each row that failed and why, so one bad
//! row neither hides the others nor leaves its name out of the message.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `check` on every row of `rows`, each under the name `name` gives
/// it; panics after the last row with every failed row's name and message.
pub fn each_row<R>(rows: &[R], name: impl Fn(&R) -> &str, check: impl Fn(&R)) {
    assert!(!rows.is_empty(), "a table needs at least one row");
    let mut failed = Vec::new();
    for r in rows {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| check(r))) {
            let why = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(a panic without a message)".to_string());
            failed.push(format!("row {:?}: {why}", name(r)));
        }
    }
    if !failed.is_empty() {
        panic!(
            "{} of {} rows failed:\n{}",
            failed.len(),
            rows.len(),
            failed.join("\n")
        );
    }
}
