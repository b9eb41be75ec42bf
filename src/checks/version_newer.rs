//! `version_newer`: the version is greater, by SemVer precedence, than
//! every version tag reachable from HEAD. Only reachable tags count, so a
//! hotfix on a maintenance branch is compared with its own line, not with
//! a newer major release made elsewhere. Build metadata has no precedence:
//! `v1.2.3+b2` is not newer than `v1.2.3`.

use std::cmp::Ordering;
use std::collections::HashMap;

use git2::Oid;
use semver::Version;

use super::git_repo::Repo;
use crate::config::Policy;
use crate::report::Outcome;

/// SemVer precedence: build metadata ignored.
pub fn precedence(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| a.pre.cmp(&b.pre))
}

/// The highest `v<semver>` tag reachable from HEAD, with its name.
pub fn highest_reachable(repo: &Repo) -> Result<Option<(Version, String)>, git2::Error> {
    let mut by_commit: HashMap<Oid, Vec<(Version, String)>> = HashMap::new();
    for reference in repo.repo.references_glob("refs/tags/*")? {
        let reference = reference?;
        let Ok(name) = reference.shorthand() else {
            continue;
        };
        let Some(version) = name.strip_prefix('v').and_then(|v| Version::parse(v).ok()) else {
            continue;
        };
        let Ok(commit) = reference.peel_to_commit() else {
            continue;
        };
        by_commit
            .entry(commit.id())
            .or_default()
            .push((version, name.to_string()));
    }
    if by_commit.is_empty() {
        return Ok(None);
    }
    let mut remaining = by_commit.len();
    let mut best: Option<(Version, String)> = None;
    let mut walk = repo.repo.revwalk()?;
    walk.push(repo.head)?;
    for oid in walk {
        let Some(tags) = by_commit.get(&oid?) else {
            continue;
        };
        for (v, name) in tags {
            let better = best.as_ref().is_none_or(|(b, bn)| {
                precedence(v, b).then_with(|| name.cmp(bn)) == Ordering::Greater
            });
            if better {
                best = Some((v.clone(), name.clone()));
            }
        }
        remaining -= 1;
        if remaining == 0 {
            break;
        }
    }
    Ok(best)
}

pub fn check(repo: &Repo, version_text: &str, version: &Version, policy: &Policy) -> Outcome {
    let highest = match highest_reachable(repo) {
        Ok(h) => h,
        Err(e) => {
            return Outcome::fail(format!(
                "cannot walk the history from HEAD: {}",
                e.message()
            ));
        }
    };
    let Some((top, top_name)) = highest else {
        return Outcome::ok(format!(
            "no version tag is reachable from HEAD: {version_text} is the first release on this line"
        ));
    };
    if precedence(version, &top) == Ordering::Greater {
        return Outcome::ok(format!(
            "{version_text} is newer than {top_name}, the highest version tag reachable from HEAD"
        ))
        .detail("highest", top_name);
    }
    let relation = if precedence(version, &top) == Ordering::Equal {
        "is not newer than"
    } else {
        "is older than"
    };
    let message = format!("{version_text} {relation} {top_name}, reachable from HEAD");
    if policy.allow_downgrade {
        Outcome::warn(format!("{message} (allowed: allow_downgrade)"))
    } else {
        Outcome::fail(format!(
            "{message}; release a higher version (a deliberate downgrade needs allow_downgrade = true)"
        ))
    }
    .detail("highest", top_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn precedence_follows_semver() {
        assert_eq!(precedence(&v("1.0.0"), &v("1.0.0-rc.1")), Ordering::Greater);
        assert_eq!(
            precedence(&v("1.0.0-rc.2"), &v("1.0.0-rc.10")),
            Ordering::Less
        );
        assert_eq!(
            precedence(&v("1.0.0-alpha"), &v("1.0.0-alpha.1")),
            Ordering::Less
        );
        assert_eq!(precedence(&v("1.2.3+b2"), &v("1.2.3+b1")), Ordering::Equal);
        assert_eq!(precedence(&v("2.0.0"), &v("10.0.0")), Ordering::Less);
    }
}
