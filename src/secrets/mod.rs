//! The one scrubber that every output path goes through: the table, JSON,
//! logs at every level, error messages and the panic hook.
//!
//! It removes the values of secret variables (and their JSON-escaped and
//! `\u`-escaped forms, and every percent-encoded form: each character
//! other than a letter or a digit may be written as itself or as `%XX` in
//! either case, and a space also as `+`, because which characters an
//! encoder leaves alone differs by library) and masks
//! credentials in any URL it finds in the text: the user-info part and the
//! values of query and fragment parameters whose names look secret
//! (`token`, `key`, `password`, `signature`, ...). Text cut out of a longer
//! stream (the tail a step printed) goes through [`Scrubber::scrub_cut`],
//! which also masks what is left of a secret the cut split.
//!
//! Deliberately not handled: secrets transformed in other ways (base64 in a
//! basic-auth header, hashed, split across lines), and values shorter than
//! [`MIN_SECRET_LEN`] characters, which are too short to scrub without
//! destroying unrelated text.

pub mod rules;

use std::sync::{Arc, RwLock};

use regex::Regex;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Values shorter than this are not scrubbed (a one-letter "secret" would
/// erase every occurrence of that letter from the report).
pub const MIN_SECRET_LEN: usize = 3;

/// A shared, append-only set of secret values. Cloning shares the set, so
/// the logger, the panic hook and the renderers all see secrets registered
/// after they were built.
#[derive(Clone, Default, Debug)]
pub struct Scrubber {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default, Debug)]
struct Inner {
    /// Every form of every secret, longest first: what a cut stream is
    /// checked against ([`Scrubber::scrub_cut`]).
    values: Vec<String>,
    /// What [`Scrubber::scrub`] removes, longest first.
    matchers: Vec<Matcher>,
}

/// One way a secret appears in text.
#[derive(Debug)]
enum Matcher {
    /// As written (or JSON-escaped, or escaped for the table).
    Literal(String),
    /// Any mix of characters as written and percent-encoded; `len` is the
    /// length of the shortest text it matches (the secret as written).
    Encoded { len: usize, re: Regex },
}

impl Matcher {
    fn len(&self) -> usize {
        match self {
            Matcher::Literal(v) => v.len(),
            Matcher::Encoded { len, .. } => *len,
        }
    }

    fn is_in(&self, text: &str) -> bool {
        match self {
            Matcher::Literal(v) => text.contains(v.as_str()),
            Matcher::Encoded { re, .. } => re.is_match(text),
        }
    }

    fn remove(&self, text: String) -> String {
        match self {
            Matcher::Literal(v) if text.contains(v.as_str()) => text.replace(v.as_str(), MASK),
            Matcher::Literal(_) => text,
            Matcher::Encoded { re, .. } => match re.replace_all(&text, regex::NoExpand(MASK)) {
                std::borrow::Cow::Owned(out) => out,
                std::borrow::Cow::Borrowed(_) => text,
            },
        }
    }
}

/// The process's scrubber: the one `main` registers every secret with.
static PROCESS: std::sync::LazyLock<Scrubber> = std::sync::LazyLock::new(Scrubber::default);

impl Scrubber {
    pub fn new() -> Self {
        Self::default()
    }

    /// The process's scrubber (a handle sharing its set), which `main`
    /// hands to every command. Code that shortens a value for a message
    /// (`sanitize::capped`) scrubs it with this one first: a cut
    /// made before scrubbing would split a secret into halves that no
    /// later scrub recognises.
    pub fn process() -> Self {
        PROCESS.clone()
    }

    /// Register a secret value. Short and empty values are ignored.
    pub fn add(&self, value: &str) {
        let trimmed = value.trim();
        let mut forms = vec![value.to_string()];
        if trimmed != value {
            forms.push(trimmed.to_string());
        }
        let escaped = crate::text::ascii(trimmed);
        for form in [
            // As a quoted value shows it.
            crate::text::controls_escaped(trimmed),
            json_escaped(trimmed),
            json_ascii_escaped(trimmed),
            percent_encoded(trimmed, false),
            percent_encoded(trimmed, false).to_ascii_lowercase(),
            percent_encoded(trimmed, true),
            escaped,
        ] {
            if form != trimmed {
                forms.push(form);
            }
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if trimmed.chars().count() >= MIN_SECRET_LEN
            && let Some(re) = any_percent_encoding(trimmed)
        {
            inner.matchers.push(Matcher::Encoded {
                len: trimmed.len(),
                re,
            });
        }
        for form in forms {
            if form.chars().count() >= MIN_SECRET_LEN && !inner.values.contains(&form) {
                inner.values.push(form.clone());
                inner.matchers.push(Matcher::Literal(form));
            }
        }
        // Longest first, so a secret that contains another is removed whole
        // (and before the shorter one could break up its encoded form).
        inner
            .values
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        inner.matchers.sort_by_key(|m| std::cmp::Reverse(m.len()));
    }

    /// [`Scrubber::scrub`] for text cut out of a longer stream: when
    /// `cut` (the start was dropped), a secret's end at the very start of
    /// the text is masked too, and a secret's beginning (three characters
    /// or more) at the very end, where the stream stopped.
    pub fn scrub_cut(&self, text: &str, cut: bool) -> String {
        if text.is_empty() {
            return String::new();
        }
        let (mut start, mut end) = (0, text.len());
        {
            let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
            for v in inner.values.iter() {
                if cut {
                    // The longest proper suffix of `v` that `text` starts with.
                    let found = v
                        .char_indices()
                        .skip(1)
                        .map(|(i, _)| &v[i..])
                        .find(|suffix| text.starts_with(suffix));
                    start = start.max(found.map_or(0, str::len));
                }
                // The longest proper prefix of `v` that `text` ends with.
                let found = v.char_indices().rev().map(|(i, _)| &v[..i]).find(|prefix| {
                    prefix.chars().count() >= MIN_SECRET_LEN && text.ends_with(prefix)
                });
                end = end.min(text.len() - found.map_or(0, str::len));
            }
        }
        if start >= end {
            return MASK.to_string();
        }
        let mut out = String::with_capacity(text.len());
        if start > 0 {
            out.push_str(MASK);
        }
        out.push_str(&self.scrub(&text[start..end]));
        if end < text.len() {
            out.push_str(MASK);
        }
        out
    }

    /// Whether any secret value is registered.
    pub fn is_empty(&self) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values
            .is_empty()
    }

    /// Whether `text` contains a registered secret value (in any form).
    pub fn contains_secret(&self, text: &str) -> bool {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.matchers.iter().any(|m| m.is_in(text))
    }

    /// Whether `text` is part of a registered secret value (a variable
    /// whose value is pasted into a header, for one): not safe to show on
    /// its own even though [`Scrubber::scrub`] would leave it. Text shorter
    /// than [`MIN_SECRET_LEN`] is not looked for, as for scrubbing.
    pub fn within_secret(&self, text: &str) -> bool {
        let text = text.trim();
        if text.chars().count() < MIN_SECRET_LEN {
            return false;
        }
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.values.iter().any(|v| v.contains(text))
    }

    /// Remove every registered secret from `text` and mask credentials in
    /// any URL it contains.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = {
            let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
            let mut out = text.to_string();
            for m in &inner.matchers {
                out = m.remove(out);
            }
            out
        };
        if out.contains("://") {
            out = mask_urls_in_text(&out);
        }
        out
    }
}

/// Whether a variable, header or parameter name looks like it holds a
/// secret. Used to pick up secrets that nobody declared.
pub fn is_secret_like_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    // Well-known names that match the words below but hold no secret.
    // RS_SIGN_KEY names the file of a signing key, not the key.
    const NOT_SECRET: &[&str] = &["pwd", "oldpwd", "ssh_auth_sock", "rs_sign_key"];
    if NOT_SECRET.contains(&lower.as_str()) || is_git_config_name(&lower) {
        return false;
    }
    if is_git_config_value(&lower) {
        return true;
    }
    const SUBSTRINGS: &[&str] = &[
        "token",
        "secret",
        "passw",
        "passwd",
        "passphrase",
        "authkey",
        "signature",
        "apikey",
        "api_key",
        "api-key",
        "credential",
        "private",
        "authorization",
        "cookie",
    ];
    const WORDS: &[&str] = &[
        "key",
        "sig",
        "auth",
        "pwd",
        "pass",
        "session",
        "sessionid",
        "jwt",
        "bearer",
        "pat",
        "creds",
    ];
    SUBSTRINGS.iter().any(|s| lower.contains(s))
        || lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| WORDS.contains(&w))
}

/// git's way to pass configuration through the environment:
/// `GIT_CONFIG_COUNT` and `GIT_CONFIG_KEY_<n>` hold a count and names
/// (`safe.directory`), not secrets, although `_KEY` says otherwise.
fn is_git_config_name(lower: &str) -> bool {
    lower == "git_config_count" || numbered(lower, "git_config_key_")
}

/// `GIT_CONFIG_VALUE_<n>` may hold anything, a credential among them
/// (`http.extraHeader` = `Authorization: Bearer ...`): always a secret.
fn is_git_config_value(lower: &str) -> bool {
    numbered(lower, "git_config_value_")
}

/// `<prefix><digits>`.
fn numbered(lower: &str, prefix: &str) -> bool {
    lower
        .strip_prefix(prefix)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Mask the credentials of one URL: user info and secret-like query values.
/// Text that is not a URL is returned unchanged.
pub fn mask_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..rest_start]);
    match authority.rfind('@') {
        Some(at) => {
            out.push_str(MASK);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let tail = &rest[authority_end..];
    let (before_frag, frag) = match tail.find('#') {
        Some(i) => tail.split_at(i),
        None => (tail, ""),
    };
    match before_frag.find('?') {
        Some(q) => {
            out.push_str(&before_frag[..=q]);
            out.push_str(&mask_params(&before_frag[q + 1..]));
        }
        None => out.push_str(before_frag),
    }
    // A fragment can carry parameters too (`#access_token=...`, OAuth's
    // implicit flow).
    if let Some(f) = frag.strip_prefix('#') {
        out.push('#');
        out.push_str(&mask_params(f));
    }
    out
}

/// `k=v&k=v` with the values of secret-looking names masked.
fn mask_params(params: &str) -> String {
    params
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !v.is_empty() && is_secret_like_name(k) => format!("{k}={MASK}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Find every `scheme://...` run in free text and mask it.
fn mask_urls_in_text(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(pos) = text[search..].find("://").map(|p| p + search) {
        let mut start = pos;
        while start > copied {
            let c = bytes[start - 1];
            if c.is_ascii_alphanumeric() || c == b'+' || c == b'-' || c == b'.' {
                start -= 1;
            } else {
                break;
            }
        }
        let mut end = pos + 3;
        while end < bytes.len() {
            let c = bytes[end];
            if c.is_ascii_whitespace() || b"\"'<>`|".contains(&c) || c >= 0x80 {
                break;
            }
            end += 1;
        }
        // Punctuation that ends a sentence or closes a bracket is not part
        // of the URL: "(see https://h/x?token=abc)." keeps its ")."
        while end > pos + 3 && b".,;:!?)]}".contains(&bytes[end - 1]) {
            end -= 1;
        }
        if start == pos {
            // "://" with no scheme before it: not a URL.
            out.push_str(&text[copied..pos + 3]);
            copied = pos + 3;
            search = pos + 3;
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(&mask_url(&text[start..end]));
        copied = end;
        search = end;
    }
    out.push_str(&text[copied..]);
    out
}

fn json_escaped(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(s)
        .to_string()
}

/// JSON with every non-ASCII character as `\uXXXX` (UTF-16, as many
/// encoders write it).
fn json_ascii_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in json_escaped(s).chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// A pattern for `secret` in every percent-encoding: each character that
/// is not an ASCII letter or digit as written or as its UTF-8 bytes in
/// `%XX` (either case, even mixed), and a space also as `+`. Letters and
/// digits are never encoded by any common encoder. `None` when the secret
/// has nothing an encoder changes (the literal form covers it) or the
/// pattern cannot be built (the enumerated forms still apply).
fn any_percent_encoding(secret: &str) -> Option<Regex> {
    if secret.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let mut pattern = String::with_capacity(secret.len() * 16);
    for c in secret.chars() {
        if c.is_ascii_alphanumeric() {
            pattern.push(c);
            continue;
        }
        pattern.push_str("(?:");
        pattern.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
        pattern.push('|');
        for b in c.encode_utf8(&mut [0; 4]).bytes() {
            pattern.push('%');
            for digit in [b >> 4, b & 0xf] {
                match digit {
                    0..=9 => pattern.push(char::from(b'0' + digit)),
                    _ => {
                        let upper = char::from(b'A' + digit - 10);
                        pattern.push('[');
                        pattern.push(upper);
                        pattern.push(upper.to_ascii_lowercase());
                        pattern.push(']');
                    }
                }
            }
        }
        if c == ' ' {
            pattern.push_str("|\\+");
        }
        pattern.push(')');
    }
    Regex::new(&pattern).ok()
}

/// Percent-encoding (upper-case hex); with `form`, a space is `+`, as
/// `application/x-www-form-urlencoded` writes it.
fn percent_encoded(s: &str, form: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else if form && b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_registered_values_everywhere() {
        let s = Scrubber::new();
        s.add("hunter2-super-secret");
        assert_eq!(
            s.scrub("token=hunter2-super-secret and again hunter2-super-secret"),
            "token=*** and again ***"
        );
        assert!(s.contains_secret("xx hunter2-super-secret"));
    }

    #[test]
    fn scrubs_json_and_percent_forms() {
        let s = Scrubber::new();
        s.add("a\"b c/d");
        assert_eq!(s.scrub(r#"{"v":"a\"b c/d"}"#), r#"{"v":"***"}"#);
        assert_eq!(s.scrub("q=a%22b%20c%2Fd"), "q=***");
    }

    #[test]
    fn scrubs_unicode_escaped_and_form_encoded_forms() {
        let s = Scrubber::new();
        s.add("k\u{e4}se geheim");
        assert_eq!(s.scrub(r#"{"v":"k\u00e4se geheim"}"#), r#"{"v":"***"}"#);
        assert_eq!(s.scrub("v=k%C3%A4se+geheim&x=1"), "v=***&x=1");
        assert_eq!(s.scrub("v=k%c3%a4se%20geheim"), "v=***");
    }

    #[test]
    fn every_percent_encoding_is_scrubbed() {
        let s = Scrubber::new();
        s.add("p@ss:word/with+plus");
        for form in [
            "p%40ss%3Aword/with%2Bplus",   // Python's quote
            "p%40ss%3Aword%2Fwith%2Bplus", // quote(safe="")
            "p%40ss%3aword%2fwith%2bplus", // lower-case hex
            "p@ss:word/with%2Bplus",       // path encoders that keep : and @
            "p%40ss:word/with+plus",       // only @ encoded
            "p%40ss%3Aword/with+plus",     // + left alone
            "p%40ss%3aword%2Fwith%2bplus", // mixed case
        ] {
            assert_eq!(
                s.scrub(&format!("url=h/{form}?x=1")),
                "url=h/***?x=1",
                "{form}"
            );
            assert!(s.contains_secret(form), "{form}");
        }
        let s = Scrubber::new();
        s.add("s3cr3t pass~w\u{f6}rd!");
        for form in [
            "s3cr3t+pass~w%C3%B6rd%21",
            "s3cr3t%20pass%7Ew%c3%b6rd!",
            "s3cr3t pass~w%C3%B6rd!",
        ] {
            assert_eq!(s.scrub(&format!("[{form}]")), "[***]", "{form}");
        }
        // Letters stay letters: other text is left alone.
        assert_eq!(s.scrub("s3cr3t pass"), "s3cr3t pass");
    }

    #[test]
    fn a_shorter_secret_inside_an_encoded_one_does_not_break_it_up() {
        let s = Scrubber::new();
        s.add("word");
        s.add("p@ss:word/with+plus");
        assert_eq!(s.scrub("p%40ss%3Aword/with%2Bplus"), "***");
    }

    #[test]
    fn a_secret_cut_by_the_cap_leaves_nothing_behind() {
        let s = Scrubber::new();
        s.add("supersecret-token-4242");
        // The tail starts inside the secret: its end is masked too.
        assert_eq!(s.scrub_cut("token-4242 and more", true), "*** and more");
        assert_eq!(s.scrub_cut("-4242 more", true), "*** more");
        // Not cut: the same text is just text.
        assert_eq!(
            s.scrub_cut("token-4242 and more", false),
            "token-4242 and more"
        );
        // The stream stopped inside a secret.
        assert_eq!(s.scrub_cut("printing supersecr", false), "printing ***");
        // Whole secrets inside are scrubbed as always.
        assert_eq!(s.scrub_cut("a supersecret-token-4242 b", true), "a *** b");
        // Nothing printed is nothing, not a mask.
        assert_eq!(s.scrub_cut("", true), "");
        assert_eq!(s.scrub_cut("", false), "");
    }

    #[test]
    fn a_part_of_a_secret_is_known_as_one() {
        let s = Scrubber::new();
        s.add("Bearer abc123xyz");
        assert!(s.within_secret("abc123xyz"));
        assert!(s.within_secret("Bearer abc123xyz"));
        assert!(!s.within_secret("other"));
        assert!(!s.within_secret("ab"));
    }

    #[test]
    fn short_values_are_not_scrubbed() {
        let s = Scrubber::new();
        s.add("ab");
        s.add("");
        assert!(s.is_empty());
        assert_eq!(s.scrub("abc"), "abc");
    }

    #[test]
    fn longer_secret_wins_over_its_prefix() {
        let s = Scrubber::new();
        s.add("abcd");
        s.add("abcdefgh");
        assert_eq!(s.scrub("abcdefgh"), "***");
    }

    #[test]
    fn masks_url_credentials_and_secret_params() {
        assert_eq!(
            mask_url("https://user:pw@example.com/h?token=abc&x=1&api_key=zz#f"),
            "https://***@example.com/h?token=***&x=1&api_key=***#f"
        );
        assert_eq!(
            mask_url("http://127.0.0.1:8080/health"),
            "http://127.0.0.1:8080/health"
        );
        assert_eq!(
            mask_url("https://h/p?X-Amz-Signature=abc&sig=d&page=2"),
            "https://h/p?X-Amz-Signature=***&sig=***&page=2"
        );
        assert_eq!(
            mask_url("https://h/cb#access_token=abc&state=x&id_token=d"),
            "https://h/cb#access_token=***&state=x&id_token=***"
        );
    }

    #[test]
    fn masks_urls_inside_free_text() {
        let s = Scrubber::new();
        assert_eq!(
            s.scrub("error sending request for url (https://u:p@h/x?password=1): refused"),
            "error sending request for url (https://***@h/x?password=***): refused"
        );
        assert_eq!(s.scrub("no url :// here"), "no url :// here");
    }

    #[test]
    fn secret_like_names() {
        for n in [
            "RS_DEPLOY_TOKEN",
            "DB_PASSWORD",
            "api_key",
            "X-Api-Key",
            "sig",
            "Authorization",
            "AWS_SECRET_ACCESS_KEY",
            "DB_PWD",
            "GPG_PASSPHRASE",
            "SMTP_PASS",
            "GITHUB_PAT",
            "TAILSCALE_AUTHKEY",
            "REGISTRY_CREDS",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GIT_CONFIG_VALUE_0",
            "GIT_CONFIG_VALUE_12",
        ] {
            assert!(is_secret_like_name(n), "{n}");
        }
        for n in [
            "RS_ENV",
            "page",
            "design",
            "monkey_business",
            "PATH",
            "HOME",
            "PWD",
            "OLDPWD",
            "SSL_CERT_FILE",
            "NODE_EXTRA_CA_CERTS",
            "PATH_INFO",
            "COMPASS",
            "GIT_CONFIG_KEY_0",
            "GIT_CONFIG_KEY_17",
            "GIT_CONFIG_COUNT",
        ] {
            assert!(!is_secret_like_name(n), "{n}");
        }
    }
}
