//! `required_config`: every required variable is set and not blank. The
//! message names the missing ones and never shows a value.

use super::Input;
use crate::config::variables::Variables;
use crate::envsnap::EnvSnapshot;
use crate::report::Outcome;
use crate::text::list_some;

pub fn check(input: &Input<'_>) -> Outcome {
    variables(input.config.variables, input.vars)
}

/// The row for `vars` in `env`.
pub fn variables(vars: &Variables, env: &EnvSnapshot) -> Outcome {
    if vars.required.is_empty() {
        return Outcome::ok("no required variables are configured");
    }
    let (mut missing, mut blank, mut not_utf8) = (Vec::new(), Vec::new(), Vec::new());
    for name in &vars.required {
        match env.get(name) {
            Ok(None) => missing.push(name.clone()),
            Ok(Some(v)) if crate::sanitize::is_blank(v) => blank.push(name.clone()),
            Ok(Some(_)) => {}
            Err(_) => not_utf8.push(name.clone()),
        }
    }
    if missing.is_empty() && blank.is_empty() && not_utf8.is_empty() {
        return Outcome::ok(format!(
            "all {} required variables are set: {}",
            vars.required.len(),
            list_some(&vars.required, 6)
        ));
    }
    let mut parts = Vec::new();
    for (label, names) in [
        ("missing", &missing),
        ("empty", &blank),
        ("not valid UTF-8", &not_utf8),
    ] {
        if !names.is_empty() {
            parts.push(format!("{label}: {}", list_some(names, 6)));
        }
    }
    Outcome::fail(format!("{}; set them in the environment", parts.join("; ")))
        .detail("missing", missing)
        .detail("empty", blank)
        .detail("not_utf8", not_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(names: &[&str]) -> Variables {
        Variables {
            required: names.iter().map(|s| s.to_string()).collect(),
            ..Variables::default()
        }
    }

    #[test]
    fn names_missing_and_empty_never_values() {
        let env = EnvSnapshot::from_pairs([("A", "value-of-a"), ("B", "  ")]);
        let o = variables(&vars(&["A", "B", "C"]), &env);
        assert_eq!(o.status, crate::report::Status::Fail);
        assert_eq!(
            o.message,
            "missing: C; empty: B; set them in the environment"
        );
        assert!(!o.message.contains("value-of-a"));
    }

    #[test]
    fn invisible_characters_are_not_a_value() {
        let env = EnvSnapshot::from_pairs([("A", "\u{200B}"), ("B", "\u{FEFF}")]);
        let o = variables(&vars(&["A", "B"]), &env);
        assert_eq!(o.status, crate::report::Status::Fail);
        assert_eq!(o.message, "empty: A, B; set them in the environment");
    }

    #[test]
    fn all_set_passes() {
        let env = EnvSnapshot::from_pairs([("A", "x")]);
        let o = variables(&vars(&["A"]), &env);
        assert_eq!(o.status, crate::report::Status::Ok);
    }
}
