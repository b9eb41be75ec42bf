//! The checks, as two registries: the policy gates
//! ([`policy::GATES`], in their fixed order, each with what it needs) and
//! the health-check kinds ([`health`], each owning its config section,
//! validation, budget and run function).
//!
//! A check takes what it needs and returns an
//! [`Outcome`](crate::report::Outcome): a failed check is data, not an
//! error. Checks never print and never read the process environment
//! directly; they get an [`EnvSnapshot`](crate::envsnap::EnvSnapshot).

pub mod health;
pub mod policy;

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

/// `n` and the noun, in the singular for one: `1 file`, `3 files`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(1, "key"), "1 key");
        assert_eq!(count(0, "key"), "0 keys");
        assert_eq!(count(2, "command"), "2 commands");
    }

    #[test]
    fn list_some_counts_the_rest() {
        let items: Vec<String> = (1..=7).map(|i| i.to_string()).collect();
        assert_eq!(list_some(&items, 3), "1, 2, 3 and 4 more");
        assert_eq!(list_some(&items[..2], 3), "1, 2");
    }
}
