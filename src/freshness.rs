//! `freshness`, the cron sentinel: its report and its config section
//! (`[[freshness.tasks]]`, or the seed's JSON task file), validated.
//! The command (`commands/freshness.rs`) judges each task's artifact.

use crate::config::values::Problems;
use crate::report::Kind;
use serde::Deserialize;
use std::time::Duration;

/// The freshness report.
pub static KIND: Kind = Kind {
    name: "freshness",
    title: "FRESHNESS",
    heading: "Freshness",
    final_id: "freshness",
    marker: "FRESHNESS",
    ..Kind::CHECKS
};

/// One task as written (in the config or the seed's JSON file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    pub name: String,
    pub artifact: String,
    pub max_age: String,
}

/// `[freshness]` (and the seed's `{"tasks": [...]}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub tasks: Option<Vec<RawTask>>,
}

/// A validated task.
#[derive(Debug, Clone)]
pub struct Task {
    pub name: String,
    pub artifact: String,
    pub glob: Option<globset::GlobMatcher>,
    pub max_age: Duration,
}

/// Validate tasks; problems under `prefix` (`freshness.tasks` or the file).
pub fn validate(raw: Raw, prefix: &str, problems: &mut Problems) -> Vec<Task> {
    let mut out = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, t) in raw.tasks.unwrap_or_default().into_iter().enumerate() {
        let key = format!("{prefix}[{i}]");
        if let Err(why) = crate::config::values::check_name(&t.name, "task") {
            problems.push(format!("{key}.name"), why);
        } else if !names.insert(t.name.clone()) {
            problems.push(
                format!("{key}.name"),
                format!(
                    "{} names another task too",
                    crate::sanitize::quoted(&t.name)
                ),
            );
        }
        let max_age = match humantime::parse_duration(t.max_age.trim()) {
            Ok(d) if !d.is_zero() => d,
            _ => {
                problems.push(
                    format!("{key}.max_age"),
                    format!(
                        "{} is not an age like \"36h\" or \"7d\"",
                        crate::sanitize::quoted(&t.max_age)
                    ),
                );
                continue;
            }
        };
        // Artifacts are the repository's own files: a path that leaves it
        // is refused here, by its key.
        if let Some(why) = crate::fsutil::unsafe_name(&t.artifact) {
            problems.push(
                format!("{key}.artifact"),
                format!(
                    "{}: {why}; artifacts are paths relative to the repository root",
                    crate::sanitize::quoted(&t.artifact)
                ),
            );
            continue;
        }
        let glob = if t.artifact.contains(['*', '?', '[', '{']) {
            match globset::GlobBuilder::new(&t.artifact)
                .literal_separator(true)
                .build()
            {
                Ok(g) => Some(g.compile_matcher()),
                Err(e) => {
                    problems.push(
                        format!("{key}.artifact"),
                        format!("invalid glob: {}", e.kind()),
                    );
                    continue;
                }
            }
        } else {
            None
        };
        out.push(Task {
            name: t.name,
            artifact: t.artifact,
            glob,
            max_age,
        });
    }
    out
}
