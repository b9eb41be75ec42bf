//! `changelog_entry`: the changelog has a section for the version, and the
//! section is not empty. Off unless `require_changelog` is set for the
//! environment.
//!
//! The changelog (`changelog_file`, default `CHANGELOG.md`, from the
//! repository root, as the work tree has it) is read as CommonMark reads
//! it (pulldown-cmark): a section is a top-level heading, ATX (`#` to
//! `######`) or setext (a title underlined with `===` or `---`, as ripgrep
//! and just write them), and the blocks up to the next heading of the same
//! or a higher level. A heading is the version's when the first word of
//! its text (a link's text, markup taken off; brackets taken off) is the
//! version (`1.2.3`), the version with a `v` (`v1.2.3`) or the release's
//! tag by `tag_format` (`mylib-1.2.3`); a leading `Version` or `Release` is
//! skipped. So Keep a Changelog's `## [1.2.3] - 2026-11-30`, release
//! tools' `## [1.2.3](https://...) (2026-11-30)`, just's
//! `[1.58.0](https://...) - 2026-08-03` over `---`, ripgrep's
//! `15.2.0 (2026-07-15)` over `===`, and plain `## v1.2.3` and `# 1.2.3`
//! all count. A section is empty when it holds nothing but headings, link
//! definitions, thematic breaks and HTML comments. Headings inside code
//! blocks, quotes and lists are not the changelog's headings.
//!
//! The file is read only when it is inside the repository: a changelog
//! that is a link (or under a linked folder) resolving outside the
//! repository's root is refused, since a release's changelog is part of
//! what is released.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::Input;
use crate::config::values::MAX_FILE_SIZE;
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
    let path = match inside(&repo.root, &path) {
        Ok(real) => real,
        Err(why) => {
            return Outcome::fail(format!("cannot read {file}: {why}")).detail("file", file);
        }
    };
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
            crate::text::plural(s.content)
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

/// Where `path` really is, when that is inside the repository at `root`:
/// a changelog that is a link (or under a linked folder) is followed only
/// as far as the repository goes. The real path is what is then read, so
/// a link is resolved once.
fn inside(root: &std::path::Path, path: &std::path::Path) -> Result<std::path::PathBuf, String> {
    let root = std::fs::canonicalize(root).map_err(|e| e.to_string())?;
    match std::fs::canonicalize(path) {
        Ok(real) if real.starts_with(&root) => Ok(real),
        Ok(real) => Err(format!(
            "it leads outside the repository, to {}; a changelog is read only from inside \
             the repository (commit the file itself)",
            quoted(&real.display().to_string())
        )),
        // A dangling link: read_regular says where it points.
        Err(_) => Ok(path.to_path_buf()),
    }
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

/// A top-level block of the changelog, as far as sections go.
#[derive(Debug, PartialEq, Eq)]
enum Block {
    Heading {
        /// 1-based: the heading's first line.
        line: usize,
        level: usize,
        /// As written: without the `#`s of an ATX heading, without the
        /// underline of a setext one.
        title: String,
        /// Its text as CommonMark reads it (links' text, no markup): what
        /// its key is taken from.
        text: String,
    },
    /// Any other block: this many lines of content (zero for an HTML
    /// block of comments only, or a thematic break).
    Content(usize),
}

/// A heading and what its section holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    /// 1-based.
    line: usize,
    level: usize,
    /// The heading as written (without the `#`s or the underline).
    title: String,
    /// Lines of content up to the next heading of the same or a higher
    /// level.
    content: usize,
}

/// The changelog's top-level blocks, read as CommonMark reads them
/// (pulldown-cmark). Headings nested in a quote or a list are part of that
/// block's content, not headings of the changelog.
fn blocks(text: &str) -> impl Iterator<Item = Block> + '_ {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut events = Parser::new_ext(text, Options::empty()).into_offset_iter();
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter_map(|(i, b)| (b == b'\n').then_some(i))
        .collect();
    let line_of = move |offset: usize| newlines.partition_point(|n| *n < offset) + 1;
    std::iter::from_fn(move || {
        let (event, range) = events.next()?;
        let block = match event {
            Event::Start(Tag::Heading { level, .. }) => {
                let mut inline = String::new();
                for (e, _) in events.by_ref() {
                    match e {
                        Event::End(TagEnd::Heading(_)) => break,
                        Event::Text(t) | Event::Code(t) => inline.push_str(&t),
                        Event::SoftBreak | Event::HardBreak => inline.push(' '),
                        _ => {}
                    }
                }
                Block::Heading {
                    line: line_of(range.start),
                    level: level as usize,
                    title: as_written(&text[range]),
                    text: inline.trim().to_string(),
                }
            }
            // The lines of a block are the lines its text is on (a block's
            // own range may run over link definitions that follow it), and
            // an HTML block's lines once its comments are taken out.
            Event::Start(tag) => {
                let end = tag.to_end();
                let (mut depth, mut counted, mut last) = (0usize, 0usize, 0usize);
                let mut html = String::new();
                for (e, r) in events.by_ref() {
                    match e {
                        Event::Start(t) if t.to_end() == end => depth += 1,
                        Event::End(t) if t == end => {
                            if depth == 0 {
                                break;
                            }
                            depth -= 1;
                        }
                        Event::Html(t) => html.push_str(&t),
                        Event::Text(_)
                        | Event::Code(_)
                        | Event::InlineHtml(_)
                        | Event::InlineMath(_)
                        | Event::DisplayMath(_)
                        | Event::FootnoteReference(_)
                        | Event::TaskListMarker(_)
                        | Event::Rule => {
                            let first = line_of(r.start).max(last + 1);
                            let through = line_of(r.end.saturating_sub(1).max(r.start));
                            if through >= first {
                                counted += through - first + 1;
                                last = through;
                            }
                        }
                        _ => {}
                    }
                }
                Block::Content(counted + lines_of(&without_comments(&html)))
            }
            // A thematic break at the top level, or what a block above
            // already holds.
            _ => Block::Content(0),
        };
        Some(block)
    })
}

/// Lines that hold something.
fn lines_of(source: &str) -> usize {
    source.lines().filter(|l| !l.trim().is_empty()).count()
}

/// An HTML block without its comments.
fn without_comments(source: &str) -> String {
    let mut out = String::new();
    let mut rest = source;
    while let Some(open) = rest.find("<!--") {
        out.push_str(&rest[..open]);
        match rest[open + 4..].find("-->") {
            Some(close) => rest = &rest[open + 4 + close + 3..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// A heading's title as written: an ATX heading's line without its `#`s
/// (opening and closing), a setext heading's lines without the underline.
fn as_written(source: &str) -> String {
    let source = source.trim_end();
    let trimmed = source.trim_start();
    if !source.contains('\n') && trimmed.starts_with('#') {
        let rest = trimmed.trim_start_matches('#');
        let rest = rest.trim();
        let closed = rest.trim_end_matches('#');
        let title = if closed.is_empty() || closed.ends_with([' ', '\t']) {
            closed
        } else {
            rest
        };
        return title.trim().to_string();
    }
    let lines: Vec<&str> = source.lines().collect();
    let text = match lines.split_last() {
        Some((_, above)) if !above.is_empty() => above,
        _ => &lines[..],
    };
    text.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")
}

/// The word a heading is known by: `1.2.3` for `[1.2.3] - 2026-11-30`,
/// `1.2.3 - 2026-11-30` (a link's text), `v1.2.3:`, `Version 1.2.3` or
/// `15.2.0 (2026-07-15)`.
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

/// One pass over the blocks, counting the content of the two sections it
/// looks for; it stops once the version's section is complete with
/// content (a release's section is usually at the top).
fn scan(text: &str, want: impl Fn(&str) -> bool) -> Found {
    let mut found = Found::default();
    // Which of the two sections are still being counted.
    let (mut in_version, mut in_unreleased) = (false, false);
    for block in blocks(text) {
        match block {
            Block::Heading {
                line,
                level,
                title,
                text,
            } => {
                let ends = |s: &Option<Section>| s.as_ref().is_some_and(|s| level <= s.level);
                in_version &= !ends(&found.version);
                in_unreleased &= !ends(&found.unreleased);
                if found.version.as_ref().is_some_and(|s| s.content > 0) && !in_version {
                    break;
                }
                let key = key_of(&text);
                let section = || Section {
                    line,
                    level,
                    title: title.clone(),
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
            Block::Content(lines) => {
                for (open, section) in [
                    (in_version, &mut found.version),
                    (in_unreleased, &mut found.unreleased),
                ] {
                    if let (true, Some(s)) = (open, section) {
                        s.content += lines;
                    }
                }
            }
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
        // The code's line; the fences are markup.
        assert_eq!(s.content, 1);
        assert_eq!(section("```\n## 1.2.3\n```\n", "1.2.3"), None);
        assert_eq!(section("~~~~\n## 1.2.3\n~~~\n## x\n~~~~\n", "1.2.3"), None);
    }

    #[test]
    fn setext_headings_are_headings() {
        // ripgrep's shape: a title underlined with `=`, the version then
        // the date.
        let text = "TBD\n===\nUnreleased.\n\n15.2.0 (2026-07-15)\n===================\n\
                    A release.\n\nBug fixes:\n\n* one\n\n\n15.1.0 (2025-10-22)\n======\nx\n";
        let s = section(text, "15.2.0").unwrap();
        assert_eq!((s.line, s.level, s.content), (5, 1, 3));
        assert_eq!(s.title, "15.2.0 (2026-07-15)");
        // just's shape: a link as the title, underlined with `-`, under a
        // `=` title; the section holds its `###` headings.
        let text = "Changelog\n=========\n\n\
                    [1.58.0](https://example.invalid/releases/tag/1.58.0) - 2026-08-03\n\
                    ------------------------------------------------------------------\n\n\
                    ### Fixed\n- x\n\n### Added\n- y\n\n\
                    [1.57.0](https://example.invalid/releases/tag/1.57.0) - 2026-07-18\n\
                    ------------------------------------------------------------------\n- z\n";
        let s = section(text, "1.58.0").unwrap();
        assert_eq!((s.line, s.level, s.content), (4, 2, 2));
        assert_eq!(
            s.title,
            "[1.58.0](https://example.invalid/releases/tag/1.58.0) - 2026-08-03"
        );
        assert_eq!(section(text, "1.57.0").map(|s| s.content), Some(1));
        // A `---` under a paragraph makes it a heading; a `---` after a
        // blank line is a thematic break, not content.
        let s = section("## 1.2.3\n\n---\n\n## 1.2.2\n- x\n", "1.2.3").unwrap();
        assert_eq!(s.content, 0);
        // A heading inside a quote or a list item is that block's content.
        assert_eq!(section("> ## 1.2.3\n> x\n", "1.2.3"), None);
    }

    /// Real changelogs, committed as they were at a release tag (trimmed;
    /// see tests/data/changelog/README.md): every version has its section,
    /// with content.
    #[test]
    fn real_changelogs_have_a_section_for_every_version() {
        for (file, versions) in [
            (
                "ripgrep-15.2.0.md",
                &[
                    "15.2.0", "15.1.0", "15.0.0", "14.1.1", "14.1.0", "14.0.3", "14.0.2", "14.0.1",
                    "14.0.0", "13.0.0",
                ][..],
            ),
            (
                "just-1.58.0.md",
                &[
                    "1.58.0", "1.57.0", "1.56.0", "1.55.1", "1.55.0", "1.54.0", "1.53.0", "1.52.0",
                    "1.51.0", "1.50.0",
                ][..],
            ),
            (
                "keep-a-changelog-1.1.1.md",
                &[
                    "1.1.1", "1.1.0", "1.0.0", "0.3.0", "0.2.0", "0.1.0", "0.0.8", "0.0.7",
                    "0.0.6", "0.0.5", "0.0.4", "0.0.3", "0.0.2", "0.0.1",
                ][..],
            ),
        ] {
            let path = format!("{}/tests/data/changelog/{file}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap();
            for v in versions {
                let s = section(&text, v).unwrap_or_else(|| panic!("{file}: no section for {v}"));
                assert!(s.content > 0, "{file}: {v}: {s:?}");
                assert!(s.title.contains(v), "{file}: {v}: {s:?}");
            }
            // No other version is taken for one of these.
            assert_eq!(section(&text, "99.0.0"), None, "{file}");
        }
    }

    #[test]
    fn crlf_and_a_byte_order_mark_are_read() {
        let s = section("\u{feff}## 1.2.3\r\n- x\r\n", "1.2.3").unwrap();
        assert_eq!((s.line, s.content), (1, 1));
    }
}
