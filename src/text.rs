//! Text for messages, one helper per job: how many of something
//! ([`count`], [`plural`]), a list cut short ([`list_some`]), a size
//! ([`human`]), a value escaped to printable ASCII on one line
//! ([`ascii`], [`controls_escaped`]). A leaf: it imports nothing of the
//! crate.

/// A list for a message: the first `max` items, then "and N more".
pub fn list_some(items: &[String], max: usize) -> String {
    let mut out = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        out.push_str(&format!(" and {} more", items.len() - max));
    }
    out
}

/// `n` and the noun, in the singular for one: `1 file`, `3 files`.
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", plural(n))
}

/// The plural ending for `n` of something: `""` for one, else `"s"`.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Bytes as people read them, in binary units: `512 B`, `12.3 GiB` (the
/// units `config::values::parse_size` reads).
pub fn human(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Escape `s` to printable ASCII on one line.
pub fn ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

/// `s` with every control character (C0, DEL, C1) and Unicode line or
/// paragraph separator escaped as [`ascii`] escapes it; the rest as is.
pub fn controls_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
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
    fn counts_agree_with_their_noun() {
        assert_eq!(count(1, "key"), "1 key");
        assert_eq!(count(0, "key"), "0 keys");
        assert_eq!(count(2, "command"), "2 commands");
    }

    #[test]
    fn list_some_counts_the_rest() {
        let items: Vec<String> = (1..=7).map(|i| i.to_string()).collect();
        assert_eq!(list_some(&items, 3), "1, 2, 3 and 4 more");
        assert_eq!(list_some(&items[..2], 3), "1, 2");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }

    #[test]
    fn one_is_singular() {
        assert_eq!(plural(1), "");
        assert_eq!(plural(0), "s");
        assert_eq!(plural(2), "s");
    }
}
