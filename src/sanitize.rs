//! Text that reaches a terminal or a table: one line, ASCII only, bounded.
//!
//! Anything outside printable ASCII is escaped (`\n`, `\t`, `\u{661}`), so
//! the table stays ASCII and a value with a trailing newline or digits from
//! another script is visible for what it is. This module does not remove
//! secrets; scrub first (see [`crate::secrets`]), then sanitize.

/// Escape `s` to printable ASCII on one line.
pub fn ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

/// Escape `s` to printable ASCII and cut it to at most `max` characters,
/// ending in `...` when cut.
pub fn ascii_capped(s: &str, max: usize) -> String {
    let escaped = ascii(s);
    if escaped.len() <= max {
        return escaped;
    }
    let keep = max.saturating_sub(3);
    // Escaped text is ASCII, so byte indices are char boundaries.
    let mut out = escaped[..keep].to_string();
    out.push_str("...");
    out
}

/// Quote a user-supplied value for a message: `"v1.2.3\n"`.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' {
            out.push_str("\\\"");
        } else {
            push_escaped(&mut out, c);
        }
    }
    out.push('"');
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\\' => out.push_str("\\\\"),
        ' '..='~' => out.push(c),
        _ => {
            use std::fmt::Write;
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_is_unchanged() {
        assert_eq!(ascii("v1.2.3 ok"), "v1.2.3 ok");
    }

    #[test]
    fn control_and_non_ascii_are_escaped() {
        assert_eq!(ascii("v1.2.3\n"), "v1.2.3\\n");
        assert_eq!(ascii("v\u{661}.2"), "v\\u{661}.2");
        assert_eq!(ascii("a\u{1b}[31m"), "a\\u{1b}[31m");
        assert_eq!(ascii("back\\slash"), "back\\\\slash");
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
    fn quoting_escapes_quotes() {
        assert_eq!(quoted("a\"b\n"), "\"a\\\"b\\n\"");
    }
}
