//! `version_valid`: the release version is a SemVer 2.0 version, as the
//! `semver` crate parses it (so `v01.2.3`, `v1.2`, a trailing newline and
//! digits from other scripts are all refused), written as the tag format
//! wants it (`v1.2.3` for the default `v{version}`; with or without the `v`
//! for a format without one; or the release's whole tag name).
//! Pre-release and build metadata are refused unless the environment's
//! policy allows them.

use super::Input;
use crate::git::tags::Release;
use crate::report::Outcome;

/// Why the environment's policy refuses a version that parses: a
/// pre-release or build metadata it does not allow. Empty: accepted. The
/// gate registry asks this too, so that a refused version is not one the
/// gates that need a valid version compare with.
pub fn refusals(input: &Input<'_>, release: &Release) -> Vec<String> {
    let (v, version, env) = (&release.version, &release.input, input.env);
    let policy = &input.policy;
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
    refused
}

pub fn check(input: &Input<'_>) -> Outcome {
    let release = match &input.release {
        Ok(r) => r,
        Err(message) => return Outcome::fail(message.clone()),
    };
    let (v, version) = (&release.version, &release.input);
    let refused = refusals(input, release);
    let outcome = if refused.is_empty() {
        let kind = if !v.pre.is_empty() {
            " (pre-release, allowed)"
        } else {
            ""
        };
        let tag = if release.tag != *version {
            format!(" (tag {})", release.tag)
        } else {
            String::new()
        };
        Outcome::ok(format!("{version} is valid SemVer{kind}{tag}"))
    } else {
        Outcome::fail(refused.join("; "))
    };
    outcome
        .detail("major", v.major)
        .detail("minor", v.minor)
        .detail("patch", v.patch)
        .detail("pre", v.pre.as_str())
        .detail("build", v.build.as_str())
        .detail("tag", release.tag.as_str())
}
