//! One module per check. A check takes what it needs and returns an
//! [`Outcome`](crate::report::Outcome): a failed check is data, not an
//! error. Checks never print and never read the process environment
//! directly; they get an [`EnvSnapshot`](crate::envsnap::EnvSnapshot).

pub mod api;
pub mod branch_allowed;
pub mod clean_tree;
pub mod disk;
pub mod env_allowed;
pub mod git_repo;
pub mod memory;
pub mod process;
pub mod required_config;
pub mod tag_absent;
pub mod version_newer;
pub mod version_valid;

/// The policy gates, in the order they run and are reported.
pub const POLICY_GATES: &[&str] = &[
    "env_allowed",
    "git_repo",
    "clean_tree",
    "branch_allowed",
    "version_valid",
    "tag_absent",
    "version_newer",
    "required_config",
];

/// Abbreviated commit id, as `git log --oneline` shows it.
pub fn short_id(oid: git2::Oid) -> String {
    let mut s = oid.to_string();
    s.truncate(7);
    s
}

/// A list for a message: the first `max` items, then "and N more".
pub fn list_some(items: &[String], max: usize) -> String {
    let mut out = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        out.push_str(&format!(" and {} more", items.len() - max));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_some_counts_the_rest() {
        let items: Vec<String> = (1..=7).map(|i| i.to_string()).collect();
        assert_eq!(list_some(&items, 3), "1, 2, 3 and 4 more");
        assert_eq!(list_some(&items[..2], 3), "1, 2");
    }
}
