//! Tags: the release tag format, tag lookups, whether the clone's tags can
//! be trusted to be complete, and the highest release reachable from HEAD.
//!
//! A release's tag is written by a format with one `{version}`:
//! `v{version}` (the default), `{version}` (`14.1.1`), `mylib-{version}`
//! (a monorepo's packages). Only tags of that shape are releases of this
//! line; `v1.2.3` and `1.2.3` are the same version in two common shapes.

use std::cmp::Ordering;

use git2::{ErrorCode, Oid};
use semver::Version;

use super::Repo;
use crate::sanitize::quoted;

/// The placeholder a tag format must contain once.
pub const PLACEHOLDER: &str = "{version}";
/// The default tag format.
pub const DEFAULT_FORMAT: &str = "v{version}";

/// How release tags are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFormat {
    text: String,
    prefix: String,
    suffix: String,
}

impl Default for TagFormat {
    fn default() -> Self {
        Self::parse(DEFAULT_FORMAT).unwrap_or(Self {
            text: DEFAULT_FORMAT.into(),
            prefix: "v".into(),
            suffix: String::new(),
        })
    }
}

impl std::fmt::Display for TagFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A release version as given, parsed by the tag format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// `--version` as given.
    pub input: String,
    pub version: Version,
    /// The release's tag name by the format.
    pub tag: String,
}

impl TagFormat {
    /// Parse a format such as `v{version}`; the text around the placeholder
    /// must be usable in a tag name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some((prefix, suffix)) = text.split_once(PLACEHOLDER) else {
            return Err(format!(
                "{} has no {PLACEHOLDER}; write the tag with the version as {PLACEHOLDER}, like \"v{PLACEHOLDER}\"",
                quoted(text)
            ));
        };
        if suffix.contains(PLACEHOLDER) {
            return Err(format!("{} has {PLACEHOLDER} twice", quoted(text)));
        }
        let sample = format!("{prefix}1.0.0{suffix}");
        if !git2::Reference::is_valid_name(&format!("refs/tags/{sample}")) {
            return Err(format!(
                "{} does not make a valid tag name ({})",
                quoted(text),
                quoted(&sample)
            ));
        }
        Ok(Self {
            text: text.to_string(),
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
        })
    }

    /// The tag of `version`.
    pub fn tag(&self, version: &Version) -> String {
        format!("{}{version}{}", self.prefix, self.suffix)
    }

    /// The version a tag names, when the tag has this format's shape.
    pub fn version_of(&self, tag: &str) -> Option<Version> {
        let rest = tag.strip_prefix(&self.prefix)?.strip_suffix(&self.suffix)?;
        // semver accepts no leading "v" itself; a stray one means another
        // shape (`vv1.2.3`, or `v1.2.3` for `{version}`).
        Version::parse(rest).ok()
    }

    /// Whether the version is written with a `v` right before it.
    fn has_v(&self) -> bool {
        self.prefix.ends_with('v')
    }

    /// The same version's tag in the other common shape: without the `v`
    /// when the format has one, with it otherwise.
    pub fn other_shape(&self, version: &Version) -> String {
        match self.prefix.strip_suffix('v') {
            Some(bare) => format!("{bare}{version}{}", self.suffix),
            None => format!("{}v{version}{}", self.prefix, self.suffix),
        }
    }

    /// An example of a valid `--version` for messages.
    pub fn example(&self) -> String {
        if self.has_v() {
            "v1.2.3".to_string()
        } else {
            "1.2.3".to_string()
        }
    }

    /// Parse `--version`: the release's tag name, or the version itself
    /// (with or without a leading `v` when the format has none; with the
    /// `v` when it has one). Says in one line what is wrong otherwise.
    pub fn release(&self, input: &str) -> Result<Release, String> {
        let ok = |version: Version| Release {
            input: input.to_string(),
            tag: self.tag(&version),
            version,
        };
        if input.is_empty() {
            return Err(format!(
                "the version is empty; pass --version like {}",
                self.example()
            ));
        }
        if let Some(rest) = input
            .strip_prefix(&self.prefix)
            .and_then(|r| r.strip_suffix(&self.suffix))
            .filter(|_| !self.prefix.is_empty() || !self.suffix.is_empty())
        {
            return Version::parse(rest)
                .map(ok)
                .map_err(|e| format!("{} is not SemVer 2.0: {e}", quoted(input)));
        }
        let bare = input.strip_prefix('v');
        match (self.has_v(), bare) {
            (true, Some(rest)) => Version::parse(rest)
                .map(ok)
                .map_err(|e| format!("{} is not SemVer 2.0: {e}", quoted(input))),
            (true, None) => {
                if Version::parse(input).is_ok() {
                    Err(format!(
                        "{} must start with \"v\": use \"v{input}\"",
                        quoted(input)
                    ))
                } else {
                    Err(format!(
                        "{} is not \"v\" followed by a SemVer version, like v1.2.3",
                        quoted(input)
                    ))
                }
            }
            (false, rest) => {
                let text = rest.unwrap_or(input);
                Version::parse(text).map(ok).map_err(|e| {
                    if text.starts_with(|c: char| c.is_ascii_digit()) {
                        format!("{} is not SemVer 2.0: {e}", quoted(input))
                    } else {
                        format!(
                            "{} is not a SemVer version, like 1.2.3 (tags: {})",
                            quoted(input),
                            self.text
                        )
                    }
                })
            }
        }
    }
}

/// SemVer precedence: build metadata ignored.
pub fn precedence(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| a.pre.cmp(&b.pre))
}

/// Every tag name in the clone, listed once per run. (Listed as refs:
/// libgit2's `tag_names` resolves every tag on the way, which costs 25
/// times more on a clone with 50,000 tags.)
pub fn names(repo: &Repo) -> Result<&[String], String> {
    let listed = repo.tag_names.get_or_init(|| {
        let mut refs = repo
            .repo
            .references_glob("refs/tags/*")
            .map_err(|e| e.message().to_string())?;
        let mut names = Vec::new();
        for name in refs.names() {
            let name = name.map_err(|e| e.message().to_string())?;
            if let Some(tag) = name.strip_prefix("refs/tags/") {
                names.push(tag.to_string());
            }
        }
        Ok(names)
    });
    listed.as_deref().map_err(String::clone)
}

/// The commit a tag points at: `Ok(None)` when there is no such tag,
/// `Ok(Some(None))` when it points at something that is not a commit.
pub fn find(repo: &Repo, name: &str) -> Result<Option<Option<Oid>>, git2::Error> {
    match repo.repo.find_reference(&format!("refs/tags/{name}")) {
        Ok(r) => Ok(Some(r.peel_to_commit().ok().map(|c| c.id()))),
        Err(e) if e.code() == ErrorCode::NotFound || e.code() == ErrorCode::InvalidSpec => Ok(None),
        Err(e) => Err(e),
    }
}

/// How to turn a shallow clone into one whose history and tags are whole,
/// by hand and in the CI checkouts that make shallow clones by default.
pub const SHALLOW_FIX: &str = "`git fetch --unshallow --tags` (GitHub: checkout with fetch-depth: 0; GitLab: GIT_DEPTH: \"0\")";

/// Why the clone's tags cannot be trusted to be complete, if they cannot.
pub fn incomplete(repo: &Repo) -> Option<String> {
    if repo.repo.is_shallow() {
        return Some(format!(
            "a shallow clone may lack tags; fetch them: {SHALLOW_FIX}"
        ));
    }
    if count(repo) > 0 {
        return None;
    }
    no_tag_remotes(repo).into_iter().next().map(|remote| {
        format!(
            "remote {} is set to fetch no tags (remote.{remote}.tagOpt=--no-tags) and the \
             clone has none: fetch them with `git fetch --tags {remote}`",
            quoted(&remote)
        )
    })
}

/// How many tags the clone has (none when they cannot be listed: the
/// callers then cannot prove a tag absent).
pub fn count(repo: &Repo) -> usize {
    names(repo).map_or(0, <[String]>::len)
}

/// Whether the clone has a remote.
pub fn has_remote(repo: &Repo) -> bool {
    repo.repo.remotes().is_ok_and(|r| !r.is_empty())
}

fn no_tag_remotes(repo: &Repo) -> Vec<String> {
    let Ok(config) = repo.repo.config() else {
        return Vec::new();
    };
    let Ok(remotes) = repo.repo.remotes() else {
        return Vec::new();
    };
    remotes
        .iter()
        .filter_map(|r| r.ok().flatten())
        .filter(|r| {
            config
                .get_string(&format!("remote.{r}.tagOpt"))
                .is_ok_and(|v| v.trim() == "--no-tags")
        })
        .map(str::to_string)
        .collect()
}

/// What [`highest_reachable`] found.
#[derive(Debug, Default)]
pub struct Reachable {
    /// The highest release reachable from HEAD, and its tag.
    pub highest: Option<(Version, String)>,
    /// Tags of the format's shape, and tags in all (both without the
    /// excepted one).
    pub matching: usize,
    pub total: usize,
}

/// The highest release tag (by `format`) reachable from HEAD, leaving out
/// `except` (a tag pipeline's own tag).
///
/// Tags are tried from the highest version down, and the first one HEAD
/// contains wins: typically the first is the answer, and only the walk
/// between HEAD and that tag is read, not the whole history.
pub fn highest_reachable(
    repo: &Repo,
    format: &TagFormat,
    except: Option<&str>,
) -> Result<Reachable, String> {
    let all = names(repo)?;
    let others: Vec<&str> = all
        .iter()
        .map(String::as_str)
        .filter(|n| Some(*n) != except)
        .collect();
    let mut candidates: Vec<(Version, &str)> = others
        .iter()
        .filter_map(|n| format.version_of(n).map(|v| (v, *n)))
        .collect();
    let (matching, total) = (candidates.len(), others.len());
    Ok(Reachable {
        highest: first_reachable(repo, &mut candidates)?,
        matching,
        total,
    })
}

/// The highest of `candidates` (sorted here, highest version first) whose
/// tag HEAD contains.
fn first_reachable(
    repo: &Repo,
    candidates: &mut [(Version, &str)],
) -> Result<Option<(Version, String)>, String> {
    candidates.sort_by(|a, b| precedence(&b.0, &a.0).then_with(|| b.1.cmp(a.1)));
    let message = |e: git2::Error| e.message().to_string();
    for (version, name) in candidates.iter() {
        let Some(Some(commit)) = find(repo, name).map_err(message)? else {
            continue;
        };
        if commit == repo.head
            || repo
                .repo
                .graph_descendant_of(repo.head, commit)
                .map_err(message)?
        {
            return Ok(Some((version.clone(), name.to_string())));
        }
    }
    Ok(None)
}

/// The highest release tag (by `format`) below `version` that HEAD
/// contains: the release a rollback goes back to. Prereleases are passed
/// over: a rollback returns to a release, never to a release candidate.
pub fn highest_below(
    repo: &Repo,
    format: &TagFormat,
    version: &Version,
) -> Result<Option<String>, String> {
    let all = names(repo)?;
    let mut candidates: Vec<(Version, &str)> = all
        .iter()
        .filter_map(|n| format.version_of(n).map(|v| (v, n.as_str())))
        .filter(|(v, _)| v.pre.is_empty() && precedence(v, version) == Ordering::Less)
        .collect();
    Ok(first_reachable(repo, &mut candidates)?.map(|(_, name)| name))
}

/// The most common shape among tags that carry a SemVer version
/// (`{version}`, `release-v{version}`), with how many have it.
pub fn common_shape<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<(String, usize)> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for name in names {
        if let Some(shape) = shape_of(name) {
            *counts.entry(shape).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
}

/// A tag's shape: the text before the first place a SemVer version
/// starts and runs to the end, with `{version}` in its place.
fn shape_of(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    (0..bytes.len())
        .filter(|&i| {
            bytes[i].is_ascii_digit()
                && (i == 0 || !(bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b'.'))
        })
        .find(|&i| Version::parse(&name[i..]).is_ok())
        .map(|i| format!("{}{PLACEHOLDER}", &name[..i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn f(s: &str) -> TagFormat {
        TagFormat::parse(s).unwrap()
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

    #[test]
    fn formats_name_tags_and_read_them_back() {
        assert_eq!(TagFormat::default().tag(&v("1.2.3")), "v1.2.3");
        assert_eq!(f("{version}").tag(&v("14.1.1")), "14.1.1");
        assert_eq!(f("mylib-{version}").tag(&v("0.4.33")), "mylib-0.4.33");
        assert_eq!(
            f("mylib-{version}").version_of("mylib-0.4.33"),
            Some(v("0.4.33"))
        );
        assert_eq!(f("mylib-{version}").version_of("other-0.4.33"), None);
        assert_eq!(f("{version}").version_of("v1.0.0"), None);
        assert_eq!(TagFormat::default().version_of("1.0.0"), None);
        assert_eq!(TagFormat::default().other_shape(&v("1.0.0")), "1.0.0");
        assert_eq!(f("{version}").other_shape(&v("1.0.0")), "v1.0.0");
        assert_eq!(f("pkg-v{version}").other_shape(&v("1.0.0")), "pkg-1.0.0");
    }

    #[test]
    fn bad_formats_are_refused() {
        assert!(TagFormat::parse("v").unwrap_err().contains("no {version}"));
        assert!(TagFormat::parse("{version}-{version}").is_err());
        assert!(TagFormat::parse("bad name {version}").is_err());
    }

    #[test]
    fn release_versions_by_format() {
        let d = TagFormat::default();
        assert_eq!(d.release("v1.2.3").unwrap().tag, "v1.2.3");
        assert!(
            d.release("1.2.3")
                .unwrap_err()
                .contains("must start with \"v\"")
        );
        assert!(d.release("v01.2.3").unwrap_err().contains("leading zero"));
        let bare = f("{version}");
        assert_eq!(bare.release("14.1.1").unwrap().tag, "14.1.1");
        assert_eq!(bare.release("v14.1.1").unwrap().tag, "14.1.1");
        assert!(bare.release("x14").is_err());
        let pkg = f("mylib-{version}");
        assert_eq!(pkg.release("mylib-0.4.33").unwrap().tag, "mylib-0.4.33");
        assert_eq!(pkg.release("0.4.33").unwrap().tag, "mylib-0.4.33");
        assert!(pkg.release("other-0.4.33").is_err());
    }

    #[test]
    fn shapes_of_tags() {
        assert_eq!(shape_of("v1.2.3").as_deref(), Some("v{version}"));
        assert_eq!(shape_of("14.1.1").as_deref(), Some("{version}"));
        assert_eq!(shape_of("pkg-0.4.33").as_deref(), Some("pkg-{version}"));
        assert_eq!(shape_of("release-2020"), None);
        assert_eq!(
            common_shape(["a-1.0.0", "a-1.1.0", "v2.0.0", "junk"]),
            Some(("a-{version}".to_string(), 2))
        );
    }
}
