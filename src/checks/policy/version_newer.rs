//! `version_newer`: the version is greater, by SemVer precedence, than
//! every release tag (by the tag format) reachable from HEAD. Only
//! reachable tags count, so a hotfix on a maintenance branch is compared
//! with its own line, not with a newer major release made elsewhere. Build
//! metadata has no precedence: `v1.2.3+b2` is not newer than `v1.2.3`.
//!
//! When the clone has tags but none has the format's shape, this is not a
//! first release: the gate warns, names the shape most tags have, and
//! suggests the `tag_format` key. In a tag pipeline, the release's own tag
//! is left out of the comparison.

use std::cmp::Ordering;

use super::Input;
use crate::git::Repo;
use crate::git::tags::{self, Release, precedence};
use crate::report::Outcome;

pub fn check(input: &Input<'_>, repo: &Repo, release: &Release) -> Outcome {
    let version_text = &release.input;
    let format = &input.policy.tag_format;
    let except = input.own_tag.as_ref().map(|o| o.name.as_str());
    let found = match tags::highest_reachable(repo, format, except) {
        Ok(h) => h,
        Err(e) => {
            return Outcome::fail(format!("cannot walk the history from HEAD: {e}"));
        }
    };
    let Some((top, top_name)) = found.highest else {
        if found.matching == 0 && found.total > 0 {
            return mismatch(repo, format, found.total, except);
        }
        return Outcome::ok(format!(
            "no version tag is reachable from HEAD: {version_text} is the first release on this line"
        ))
        .detail("tags", found.total)
        .detail("matching", found.matching);
    };
    if precedence(&release.version, &top) == Ordering::Greater {
        return Outcome::ok(format!(
            "{version_text} is newer than {top_name}, the highest version tag reachable from HEAD"
        ))
        .detail("highest", top_name);
    }
    let relation = if precedence(&release.version, &top) == Ordering::Equal {
        "is not newer than"
    } else {
        "is older than"
    };
    let message = format!("{version_text} {relation} {top_name}, reachable from HEAD");
    if input.policy.allow_downgrade {
        Outcome::warn(format!("{message} (allowed: allow_downgrade)"))
    } else {
        Outcome::fail(format!(
            "{message}; release a higher version (a deliberate downgrade needs allow_downgrade = true)"
        ))
    }
    .detail("highest", top_name)
}

/// The clone has tags, but none of the format's shape.
fn mismatch(repo: &Repo, format: &tags::TagFormat, total: usize, except: Option<&str>) -> Outcome {
    let shape = tags::common_shape(
        tags::names(repo)
            .unwrap_or_default()
            .iter()
            .map(String::as_str)
            .filter(|n| Some(*n) != except),
    );
    let plural = if total == 1 { "tag" } else { "tags" };
    let message = match &shape {
        Some((shape, n)) => format!(
            "none of the clone's {total} {plural} has the tag format {format}, so none was compared; \
             {n} look like {shape}: set tag_format = \"{shape}\" in [policy] if that is how releases are tagged"
        ),
        None => format!(
            "none of the clone's {total} {plural} has the tag format {format}, and none carries a \
             SemVer version, so none was compared; set tag_format in [policy] to how releases are tagged"
        ),
    };
    Outcome::warn(message)
        .detail("tags", total)
        .detail("matching", 0)
        .detail("common_shape", shape.map(|(s, _)| s))
}
