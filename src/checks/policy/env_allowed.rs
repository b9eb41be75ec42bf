//! `env_allowed`: the environment is one of the configured names, matched
//! exactly (no case folding, no prefixes: `production` is not `prod`).

use super::Input;
use crate::report::Outcome;
use crate::sanitize::quoted;

pub fn check(input: &Input<'_>) -> Outcome {
    let (env, environments) = (input.env, input.config.environments);
    let allowed = environments.join(", ");
    if environments.iter().any(|e| e == env) {
        return Outcome::ok(format!("{env} is an allowed environment"))
            .detail("allowed", environments.to_vec());
    }
    let mut message = format!(
        "{} is not an allowed environment (allowed: {allowed})",
        quoted(env)
    );
    if let Some(close) = near_match(env, environments) {
        message.push_str(&format!("; did you mean {close}?"));
    }
    Outcome::fail(message).detail("allowed", environments.to_vec())
}

/// An allowed name the user probably meant: equal ignoring case and
/// surrounding space, or one a prefix of the other (`production`/`prod`).
fn near_match<'a>(env: &str, allowed: &'a [String]) -> Option<&'a str> {
    let wanted = env.trim().to_lowercase();
    if wanted.is_empty() {
        return None;
    }
    allowed
        .iter()
        .find(|a| {
            let a = a.to_lowercase();
            a == wanted || wanted.starts_with(&a) || a.starts_with(&wanted)
        })
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["dev", "stage", "prod"].map(String::from).to_vec()
    }

    #[test]
    fn suggests_a_near_name() {
        assert_eq!(near_match("production", &names()), Some("prod"));
        assert_eq!(near_match("PROD", &names()), Some("prod"));
        assert_eq!(near_match("qa", &names()), None);
        assert_eq!(near_match("", &names()), None);
    }
}
