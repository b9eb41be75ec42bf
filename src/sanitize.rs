//! Text that reaches a terminal or a table: one line, ASCII only, bounded.
//!
//! Anything outside printable ASCII is escaped (`\n`, `\t`, `\u{661}`), so
//! the table stays ASCII and a value with a trailing newline or digits from
//! another script is visible for what it is. Backslashes are left alone:
//! messages quote other tools' text (`unexpected character '\n'`) that is
//! already escaped, and the JSON report carries every value exactly.
//!
//! Checks and errors produce raw text; escaping happens once, at output
//! time, after scrubbing (see [`crate::secrets`]): a secret with non-ASCII
//! characters must be removed before it is escaped into another form.
//! (The escaping itself is [`crate::text::ascii`]: the scrubber needs it
//! too, to know a secret's escaped forms.)

pub use crate::text::{ascii, controls_escaped};

/// Escape `s` to printable ASCII and cut it to at most `max` characters,
/// ending in `...` when cut. Secrets are scrubbed first (see [`capped`]).
pub fn ascii_capped(s: &str, max: usize) -> String {
    let escaped = ascii(&crate::secrets::Scrubber::process().scrub(s));
    if escaped.len() <= max {
        return escaped;
    }
    let keep = max.saturating_sub(3);
    // Escaped text is ASCII, so byte indices are char boundaries.
    let mut out = escaped[..keep].to_string();
    out.push_str("...");
    out
}

/// Cut a raw value to at most `max` characters for a message, ending in
/// `...` when cut. (Escaping happens later, at output time.)
///
/// A value that is cut is scrubbed first, with the process's scrubber:
/// scrubbing at output time could not recognise half a secret, and the
/// half left would be shown. A value that fits is left whole (it is
/// scrubbed at output time like any text).
pub fn capped(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let s = crate::secrets::Scrubber::process().scrub(s);
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

/// The longest a value echoed in a message may be, in characters: a
/// megabyte of input must not come back as a megabyte of error.
pub const ECHO_MAX: usize = 200;

/// Quote a user-supplied value in a message, cut to [`ECHO_MAX`], with
/// every control character and line separator escaped (`\n`, `\u{2028}`):
/// a quoted value never breaks the message's line, in any output, the
/// plain `release-sentinel: error:` line on stderr included (whose own
/// continuation lines are kept). Other characters stay raw; the renderer
/// escapes them for the table.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", controls_escaped(&capped(s, ECHO_MAX)))
}

/// A command's arguments as a shell would read them back: an argument
/// with a space, a quote or another special character is single-quoted.
pub fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%^{}".contains(&b));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `s` shows nothing: empty, white space, or only characters that
/// are invisible (zero-width spaces and joiners, the byte order mark, soft
/// hyphens). Such a value is not "set".
pub fn is_blank(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_whitespace()
            || matches!(
                c,
                '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
            )
    })
}

/// Escape every line of `s` to printable ASCII, keeping the line breaks
/// (for multi-line errors and log lines).
pub fn ascii_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&ascii(line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_lines_quote_what_a_shell_would_split() {
        let argv: Vec<String> = [
            "pytest",
            "-q",
            "tests/smoke x.py",
            "it's",
            "",
            "--env={env}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            shell_line(&argv),
            "pytest -q 'tests/smoke x.py' 'it'\\''s' '' --env={env}"
        );
    }

    #[test]
    fn plain_ascii_is_unchanged() {
        assert_eq!(ascii("v1.2.3 ok"), "v1.2.3 ok");
    }

    #[test]
    fn control_and_non_ascii_are_escaped() {
        assert_eq!(ascii("v1.2.3\n"), "v1.2.3\\n");
        assert_eq!(ascii("v\u{661}.2"), "v\\u{661}.2");
        assert_eq!(ascii("a\u{1b}[31m"), "a\\u{1b}[31m");
        assert_eq!(ascii("back\\slash"), "back\\slash");
    }

    #[test]
    fn capping_keeps_ascii_and_marks_the_cut() {
        let long = "x".repeat(50);
        let cut = ascii_capped(&long, 10);
        assert_eq!(cut, "xxxxxxx...");
        assert_eq!(ascii_capped("short", 10), "short");
        // A cut never splits an escape into non-ASCII.
        assert!(ascii_capped(&"\u{e9}".repeat(40), 20).is_ascii());
    }

    #[test]
    fn invisible_values_are_blank() {
        assert!(is_blank(""));
        assert!(is_blank(" \t\n"));
        assert!(is_blank("\u{200B}"));
        assert!(is_blank("\u{FEFF} \u{200D}"));
        assert!(!is_blank("x\u{200B}"));
    }

    #[test]
    fn quoted_values_are_capped() {
        let long = "A".repeat(1_000_000);
        assert_eq!(quoted(&long).len(), ECHO_MAX + 2);
    }

    #[test]
    fn a_secret_across_the_cut_is_scrubbed_before_it() {
        let secret = "HALFONE-cut-here-HALFTWO";
        crate::secrets::Scrubber::process().add(secret);
        let value = format!("{}{secret}{}", "a".repeat(ECHO_MAX - 10), "b".repeat(50));
        for shown in [
            quoted(&value),
            capped(&value, ECHO_MAX),
            ascii_capped(&value, ECHO_MAX),
        ] {
            assert!(!shown.contains("HALFONE"), "{shown}");
            assert!(!shown.contains("HALFTWO"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
    }

    #[test]
    fn capped_values_keep_whole_characters() {
        assert_eq!(capped("abcdef", 10), "abcdef");
        assert_eq!(capped("abcdefghijk", 6), "abc...");
        assert_eq!(capped(&"\u{e9}".repeat(10), 5), "\u{e9}\u{e9}...");
    }

    #[test]
    fn quoting_leaves_escaping_to_the_renderer() {
        assert_eq!(ascii(&quoted("v1.2.3\n")), "\"v1.2.3\\n\"");
        assert_eq!(quoted("caf\u{e9}"), "\"caf\u{e9}\"");
    }

    #[test]
    fn a_quoted_value_never_breaks_the_line() {
        let forged = "x\n::error::forged\r\u{85}\u{2028}\u{1b}[2J";
        let q = quoted(forged);
        assert_eq!(q, "\"x\\n::error::forged\\r\\u{85}\\u{2028}\\u{1b}[2J\"");
        assert_eq!(ascii_lines(&q).lines().count(), 1);
    }

    #[test]
    fn lines_keep_their_breaks() {
        assert_eq!(ascii_lines("a\u{e9}\nb\t"), "a\\u{e9}\nb\\t");
    }
}
