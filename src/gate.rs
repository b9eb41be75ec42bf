//! The gate: its report. The gate's order and its checks are the
//! registries in `checks`.

use crate::report::{Kind, Rule};

/// The gate's report.
pub static KIND: Kind = Kind {
    name: "gate",
    title: "RELEASE SENTINEL",
    title_target: true,
    heading: "Release gate",
    final_id: "release_sentinel",
    marker: "RELEASE_SENTINEL",
    words: ["SAFE", "BLOCKED", "CRITICAL"],
    rows_key: "checks",
    compact_ok: false,
    rule: Rule::Phases,
    footer: None,
};
