//! The one scrubber that every output path goes through: the table, JSON,
//! logs at every level, error messages and the panic hook.
//!
//! It removes the values of secret variables (and their JSON-escaped and
//! percent-encoded forms) and masks credentials in any URL it finds in the
//! text: the user-info part and the values of query parameters whose names
//! look secret (`token`, `key`, `password`, `signature`, ...).
//!
//! Deliberately not handled: secrets transformed in other ways (base64 in a
//! basic-auth header, hashed, split across lines), and values shorter than
//! [`MIN_SECRET_LEN`] characters, which are too short to scrub without
//! destroying unrelated text.

pub mod rules;

use std::sync::{Arc, RwLock};

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
    values: Arc<RwLock<Vec<String>>>,
}

impl Scrubber {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a secret value. Short and empty values are ignored.
    pub fn add(&self, value: &str) {
        let trimmed = value.trim();
        let mut forms = vec![value.to_string()];
        if trimmed != value {
            forms.push(trimmed.to_string());
        }
        let escaped = crate::sanitize::ascii(trimmed);
        for form in [json_escaped(trimmed), percent_encoded(trimmed), escaped] {
            if form != trimmed {
                forms.push(form);
            }
        }
        let mut values = self.values.write().unwrap_or_else(|e| e.into_inner());
        for form in forms {
            if form.chars().count() >= MIN_SECRET_LEN && !values.contains(&form) {
                values.push(form);
            }
        }
        // Longest first, so a secret that contains another is removed whole.
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// Whether any secret value is registered.
    pub fn is_empty(&self) -> bool {
        self.values
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Whether `text` contains a registered secret value.
    pub fn contains_secret(&self, text: &str) -> bool {
        let values = self.values.read().unwrap_or_else(|e| e.into_inner());
        values.iter().any(|v| text.contains(v.as_str()))
    }

    /// Remove every registered secret from `text` and mask credentials in
    /// any URL it contains.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = {
            let values = self.values.read().unwrap_or_else(|e| e.into_inner());
            let mut out = text.to_string();
            for v in values.iter() {
                if out.contains(v.as_str()) {
                    out = out.replace(v.as_str(), MASK);
                }
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
    const NOT_SECRET: &[&str] = &["pwd", "oldpwd", "ssh_auth_sock"];
    if NOT_SECRET.contains(&lower.as_str()) {
        return false;
    }
    const SUBSTRINGS: &[&str] = &[
        "token",
        "secret",
        "passw",
        "passwd",
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
    ];
    SUBSTRINGS.iter().any(|s| lower.contains(s))
        || lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| WORDS.contains(&w))
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
            let query = &before_frag[q + 1..];
            let masked: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, v)) if !v.is_empty() && is_secret_like_name(k) => {
                        format!("{k}={MASK}")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            out.push_str(&masked.join("&"));
        }
        None => out.push_str(before_frag),
    }
    out.push_str(frag);
    out
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

fn percent_encoded(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
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
        ] {
            assert!(!is_secret_like_name(n), "{n}");
        }
    }
}
