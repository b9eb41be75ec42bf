//! `changelog_entry`: the changelog has a section for the version, and the
//! section is not empty. Off unless `require_changelog` is set for the
//! environment.
//!
//! The changelog (`changelog_file`, default `CHANGELOG.md`, from the
//! repository root, as the work tree has it) is read as Markdown: a section
//! is an ATX heading (`#` to `######`) and the lines up to the next heading
//! of the same or a higher level. A heading is the version's when its first
//! word, brackets and a link taken off, is the version (`1.2.3`), the
//! version with a `v` (`v1.2.3`) or the release's tag by `tag_format`
//! (`mylib-1.2.3`); a leading `Version` or `Release` is skipped. So Keep a
//! Changelog's `## [1.2.3] - 2026-11-30`, release tools'
//! `## [1.2.3](https://...) (2026-11-30)`, and plain `## v1.2.3` and
//! `# 1.2.3` all count. A section is empty when it holds nothing but
//! blank lines, headings, link definitions (`[1.2.3]: https://...`) and
//! HTML comments. Headings inside fenced code blocks do not count.

use super::Input;
use crate::config::MAX_FILE_SIZE;
use crate::git::Repo;
use crate::git::tags::Release;
use crate::report::Outcome;
use crate::sanitize::quoted;

pub fn check(input: &Input<'_>, repo: &Repo, release: &Release) -> Outcome {
    let policy = &input.policy;
    if !policy.require_changelog {
        return Outcome::ok(format!(
            "not required for {} (require_changelog is off)",
            input.env
        ));
    }
    let file = policy.changelog_file.as_str();
    let path = repo.root.join(file);
    let date = input.now.utc.format("%Y-%m-%d").to_string();
    let heading = |level: usize| {
        format!(
            "{} [{}] - {date}",
            "#".repeat(level.max(2)),
            release.version
        )
    };
    if std::fs::symlink_metadata(&path).is_err() {
        return Outcome::fail(format!(
            "{file} does not exist at the repository root: write it, with a section \"{}\" \
             saying what changed (or set changelog_file)",
            heading(2)
        ))
        .detail("file", file);
    }
    let text = match crate::fsutil::read_regular(&path, MAX_FILE_SIZE) {
        Ok(data) => String::from_utf8_lossy(&data).into_owned(),
        Err(why) => {
            return Outcome::fail(format!("cannot read {file}: {why}")).detail("file", file);
        }
    };
    let wanted = Wanted::new(input, release);
    let Found {
        version: found,
        unreleased,
    } = scan(&text, |key| wanted.matches(key));
    let outcome = match (&found, &unreleased) {
        (Some(s), _) if s.content > 0 => Outcome::ok(format!(
            "{file} has a section for {} ({} at line {}, {} line{})",
            release.version,
            quoted(&s.title),
            s.line,
            s.content,
            if s.content == 1 { "" } else { "s" }
        )),
        (Some(s), Some(u)) if u.content > 0 => Outcome::fail(format!(
            "the section for {} in {file} (line {}) is empty, and the entries are still under \
             {} (line {}): move them under the version's heading",
            release.version,
            s.line,
            quoted(&u.title),
            u.line
        )),
        (Some(s), _) => Outcome::fail(format!(
            "the section for {} in {file} (line {}) is empty: write what changed under it",
            release.version, s.line
        )),
        (None, Some(u)) if u.content > 0 => Outcome::fail(format!(
            "{file} has no section for {}, but {} (line {}) has entries: rename that heading \
             to \"{}\"",
            release.version,
            quoted(&u.title),
            u.line,
            heading(u.level)
        )),
        (None, _) => Outcome::fail(format!(
            "{file} has no section for {}: add a heading \"{}\" with what changed under it",
            release.version,
            heading(2)
        )),
    };
    let mut outcome = outcome.detail("file", file);
    if let Some(s) = found {
        outcome = outcome
            .detail("line", s.line)
            .detail("heading", s.title.as_str())
            .detail("content_lines", s.content);
    }
    outcome
}

/// The first words a heading of this release may start with.
struct Wanted {
    names: Vec<String>,
}

impl Wanted {
    fn new(input: &Input<'_>, release: &Release) -> Self {
        let v = &release.version;
        let mut bare = v.clone();
        bare.build = semver::BuildMetadata::EMPTY;
        let mut names = vec![
            v.to_string(),
            format!("v{v}"),
            release.tag.clone(),
            input.policy.tag_format.other_shape(v),
        ];
        if bare != *v {
            let bare_release = input.policy.tag_format.tag(&bare);
            names.extend([bare.to_string(), format!("v{bare}"), bare_release]);
        }
        Self { names }
    }

    fn matches(&self, key: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(key))
    }
}

/// One line of the changelog, as far as sections go.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    Heading { level: usize, title: &'a str },
    Content,
    Empty,
}

/// A heading and what its section holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    /// 1-based.
    line: usize,
    level: usize,
    /// The heading as written (without the `#`s).
    title: String,
    /// Lines of content up to the next heading of the same or a higher
    /// level.
    content: usize,
}

/// The changelog's lines, read one at a time (a scan stops as soon as it
/// has what it looks for).
fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut fence: Option<(char, usize)> = None;
    let mut in_comment = false;
    text.lines().map(move |raw| {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        // Fenced code: content, and no heading inside.
        if let Some((mark, len)) = fence {
            if indent < 4 && fence_of(trimmed).is_some_and(|(m, l)| m == mark && l >= len) {
                fence = None;
            }
            return Line::Content;
        }
        if indent < 4
            && let Some(f) = fence_of(trimmed)
        {
            fence = Some(f);
            return Line::Content;
        }
        // HTML comments, on lines of their own or across lines.
        if in_comment || trimmed.starts_with("<!--") {
            in_comment = !trimmed.contains("-->");
            return Line::Empty;
        }
        if trimmed.is_empty() || is_link_definition(trimmed) {
            Line::Empty
        } else {
            heading(line).unwrap_or(Line::Content)
        }
    })
}

/// A code fence's character and length: three or more backticks or tildes.
fn fence_of(trimmed: &str) -> Option<(char, usize)> {
    let mark = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|c| *c == mark).count();
    (len >= 3).then_some((mark, len))
}

/// `[label]: target`: a link reference definition.
fn is_link_definition(trimmed: &str) -> bool {
    trimmed.starts_with('[')
        && trimmed
            .find("]:")
            .is_some_and(|i| i > 1 && !trimmed[..i].contains(']'))
}

/// An ATX heading: up to three spaces, one to six `#`, then a space or
/// the end of the line.
fn heading(line: &str) -> Option<Line<'_>> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let level = trimmed.chars().take_while(|c| *c == '#').count();
    let rest = &trimmed[level..];
    if !(1..=6).contains(&level) || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    Some(Line::Heading {
        level,
        title: rest.trim().trim_end_matches('#').trim_end(),
    })
}

/// The word a heading is known by: `1.2.3` for `[1.2.3] - 2026-11-30`,
/// `[1.2.3](https://...)`, `v1.2.3:` or `Version 1.2.3`.
fn key_of(title: &str) -> &str {
    let mut words = title.split_whitespace();
    let mut first = words.next().unwrap_or("");
    if ["version", "release"]
        .iter()
        .any(|w| first.eq_ignore_ascii_case(w))
        && let Some(next) = words.next()
    {
        first = next;
    }
    let word = match first.strip_prefix('[') {
        Some(inner) => inner.split(']').next().unwrap_or(inner),
        None => first,
    };
    word.trim_end_matches([':', ',', ';'])
}

fn is_unreleased(key: &str) -> bool {
    key.eq_ignore_ascii_case("unreleased")
}

/// What a scan found: the first section whose heading's key passes the
/// test, and the first `Unreleased` section.
#[derive(Debug, Default)]
struct Found {
    version: Option<Section>,
    unreleased: Option<Section>,
}

/// One pass over the lines, counting the content of the two sections it
/// looks for; it stops once the version's section is complete with
/// content (a release's section is usually at the top).
fn scan(text: &str, want: impl Fn(&str) -> bool) -> Found {
    let mut found = Found::default();
    // Which of the two sections are still being counted.
    let (mut in_version, mut in_unreleased) = (false, false);
    for (i, line) in lines(text).enumerate() {
        match line {
            Line::Heading { level, title } => {
                let ends = |s: &Option<Section>| s.as_ref().is_some_and(|s| level <= s.level);
                in_version &= !ends(&found.version);
                in_unreleased &= !ends(&found.unreleased);
                if found.version.as_ref().is_some_and(|s| s.content > 0) && !in_version {
                    break;
                }
                let key = key_of(title);
                let section = || Section {
                    line: i + 1,
                    level,
                    title: title.to_string(),
                    content: 0,
                };
                if found.version.is_none() && want(key) {
                    found.version = Some(section());
                    in_version = true;
                } else if found.unreleased.is_none() && is_unreleased(key) {
                    found.unreleased = Some(section());
                    in_unreleased = true;
                }
            }
            Line::Content => {
                for (open, section) in [
                    (in_version, &mut found.version),
                    (in_unreleased, &mut found.unreleased),
                ] {
                    if let (true, Some(s)) = (open, section) {
                        s.content += 1;
                    }
                }
            }
            Line::Empty => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str, version: &str) -> Option<Section> {
        scan(text, |k| {
            k.eq_ignore_ascii_case(version) || k.eq_ignore_ascii_case(&format!("v{version}"))
        })
        .version
    }

    const KEEP_A_CHANGELOG: &str = "# Changelog\n\nAll notable changes.\n\n\
        ## [Unreleased]\n\n## [1.2.3] - 2026-11-30\n### Added\n- freezes\n- changelogs\n\n\
        ## [1.2.2] - 2026-10-01\n### Fixed\n- a bug\n\n\
        [Unreleased]: https://example.invalid/compare/v1.2.3...HEAD\n\
        [1.2.3]: https://example.invalid/compare/v1.2.2...v1.2.3\n";

    #[test]
    fn keep_a_changelog_sections_end_at_the_next_version() {
        let s = section(KEEP_A_CHANGELOG, "1.2.3").unwrap();
        assert_eq!((s.line, s.level, s.content), (7, 2, 2));
        assert_eq!(s.title, "[1.2.3] - 2026-11-30");
        let s = section(KEEP_A_CHANGELOG, "1.2.2").unwrap();
        assert_eq!(s.content, 1, "link definitions are not content");
        assert_eq!(section(KEEP_A_CHANGELOG, "1.2").map(|s| s.line), None);
        let u = scan(KEEP_A_CHANGELOG, |_| false).unreleased.unwrap();
        assert_eq!((u.line, u.content), (5, 0));
        let u = scan("## Unreleased\n- x\n## 1.2.3\n\n", |k| k == "1.2.3")
            .unreleased
            .unwrap();
        assert_eq!(u.content, 1);
    }

    #[test]
    fn the_common_heading_shapes() {
        for (text, line) in [
            ("## v1.2.3\n- x\n", 1),
            ("# 1.2.3\n\n* x\n# 1.2.2\n", 1),
            (
                "## [1.2.3](https://example.invalid/compare/v1.2.2...v1.2.3) (2026-11-30)\nx\n",
                1,
            ),
            ("intro\n## Version 1.2.3 (2026-11-30)\nx\n", 2),
            ("## 1.2.3: the freeze release ##\nx\n", 1),
            ("   ## [v1.2.3] - 2026-11-30\nx\n", 1),
        ] {
            let s = section(text, "1.2.3");
            assert_eq!(
                s.as_ref().map(|s| (s.line, s.content)),
                Some((line, 1)),
                "{text:?}"
            );
        }
        for text in [
            "## 1.2.30\nx\n",
            "##1.2.3\nx\n",
            "    ## 1.2.3\nx\n",
            "## v1.2.3-rc.1\nx\n",
        ] {
            assert_eq!(section(text, "1.2.3"), None, "{text:?}");
        }
    }

    #[test]
    fn empty_means_nothing_but_headings_blank_lines_and_comments() {
        let s = section(
            "## 1.2.3\n\n### Added\n\n<!-- to do -->\n## 1.2.2\n- x\n",
            "1.2.3",
        )
        .unwrap();
        assert_eq!(s.content, 0);
        let s = section("## 1.2.3\n<!--\nnot yet\n-->\n", "1.2.3").unwrap();
        assert_eq!(s.content, 0);
        // Deeper headings are inside the section; a higher one ends it.
        let s = section("### 1.2.3\n#### Fixed\n- x\n## Older\n- y\n", "1.2.3").unwrap();
        assert_eq!(s.content, 1);
    }

    #[test]
    fn headings_in_code_blocks_do_not_count() {
        let text = "## 1.2.3\n```sh\n# 1.2.2 is not a heading here\n```\n";
        let s = section(text, "1.2.3").unwrap();
        assert_eq!(s.content, 3);
        assert_eq!(section("```\n## 1.2.3\n```\n", "1.2.3"), None);
        assert_eq!(section("~~~~\n## 1.2.3\n~~~\n## x\n~~~~\n", "1.2.3"), None);
    }

    #[test]
    fn crlf_and_a_byte_order_mark_are_read() {
        let s = section("\u{feff}## 1.2.3\r\n- x\r\n", "1.2.3").unwrap();
        assert_eq!((s.line, s.content), (1, 1));
    }
}
