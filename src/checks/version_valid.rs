//! `version_valid`: the release version is `v` followed by a SemVer 2.0
//! version, as the `semver` crate parses it (so `v01.2.3`, `v1.2`, a
//! trailing newline and digits from other scripts are all refused).
//! Pre-release and build metadata are refused unless the environment's
//! policy allows them.

use semver::Version;

use crate::config::Policy;
use crate::report::Outcome;
use crate::sanitize::quoted;

/// Parse `v<semver>`, or say in one line what is wrong with it.
pub fn parse(version: &str) -> Result<Version, String> {
    if version.is_empty() {
        return Err("the version is empty; pass --version like v1.2.3".to_string());
    }
    let Some(rest) = version.strip_prefix('v') else {
        if Version::parse(version).is_ok() {
            return Err(format!(
                "{} must start with \"v\": use \"v{version}\"",
                quoted(version)
            ));
        }
        return Err(format!(
            "{} is not \"v\" followed by a SemVer version, like v1.2.3",
            quoted(version)
        ));
    };
    Version::parse(rest).map_err(|e| format!("{} is not SemVer 2.0: {}", quoted(version), e))
}

/// The row, and the parsed version when it is valid *as SemVer* (even if
/// the policy refuses it), so the later gates can still compare it.
pub fn check(version: &str, policy: &Policy, env: &str) -> (Outcome, Option<Version>) {
    let v = match parse(version) {
        Ok(v) => v,
        Err(message) => return (Outcome::fail(message), None),
    };
    let mut refused = Vec::new();
    if !v.pre.is_empty() && !policy.allow_prerelease {
        refused.push(format!(
            "{version} is a pre-release, which {env} does not allow (allow_prerelease)"
        ));
    }
    if !v.build.is_empty() && !policy.allow_build_metadata {
        refused.push(format!(
            "{version} carries build metadata, which {env} does not allow (allow_build_metadata)"
        ));
    }
    let outcome = if refused.is_empty() {
        let kind = if !v.pre.is_empty() {
            " (pre-release, allowed)"
        } else {
            ""
        };
        Outcome::ok(format!("{version} is valid SemVer{kind}"))
    } else {
        Outcome::fail(refused.join("; "))
    };
    let outcome = outcome
        .detail("major", v.major)
        .detail("minor", v.minor)
        .detail("patch", v.patch)
        .detail("pre", v.pre.as_str())
        .detail("build", v.build.as_str());
    (outcome, Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_v_semver() {
        assert!(parse("v1.2.3").is_ok());
        assert!(parse("v0.0.0-rc.1+build.5").is_ok());
    }

    #[test]
    fn refuses_with_a_clear_reason() {
        let cases = [
            ("1.0.0", "must start with \"v\": use \"v1.0.0\""),
            ("v01.2.3", "leading zero"),
            ("v1.2", "is not SemVer 2.0"),
            ("v1.2.3\n", "\"v1.2.3\n\""),
            (
                "v\u{661}.\u{662}.\u{663}",
                "\"v\u{661}.\u{662}.\u{663}\" is not SemVer",
            ),
            ("", "empty"),
            ("V1.2.3", "is not \"v\" followed by a SemVer version"),
        ];
        for (input, needle) in cases {
            let err = parse(input).unwrap_err();
            assert!(err.contains(needle), "{input:?}: {err}");
        }
    }
}
