//! The secrets scan (the pack's `scan_secrets_dry`): committed secrets in
//! the repository's tracked files and its untracked files that are not
//! ignored (listed by [`crate::git::files`]).
//!
//! One combined byte regex (every credential rule of
//! [`crate::secrets::rules`], and the current values of the secret
//! variables) runs over each whole file; line numbers are counted only for
//! hits. Files are scanned on several threads. Binary files (a NUL byte in
//! the first 8 KiB) and files over the size limit are skipped and counted.
//! A path allowed by a glob is not scanned; a line carrying
//! [`ALLOW_MARKER`] is not reported. A finding names the file, the line
//! and the rule, never the secret.
//!
//! Deliberately ignored: symlinks and submodules (not the repository's own
//! content), history (only the current tree), encoded or split secrets.

use std::path::Path;

use regex::bytes::{Regex, RegexBuilder};

use serde_json::json;

use crate::config::Config;
use crate::envsnap::EnvSnapshot;
use crate::git;
use crate::pack::Scan;
use crate::secrets::rules;
use crate::text::list_some;

/// A line with this text is not reported.
pub const ALLOW_MARKER: &str = "release-sentinel:allow";
/// How many leading bytes are looked at for a NUL.
const BINARY_PROBE: usize = 8 * 1024;

/// One secret found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// Live secrets sort first: they are the worst finding of all.
    pub live: bool,
    pub path: String,
    pub line: usize,
    /// The rule id, or `live secret <NAME>`.
    pub rule: String,
}

/// What the scan did and found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub scanned: usize,
    pub binary: usize,
    pub large: usize,
    pub allowed: usize,
    pub unreadable: usize,
    pub findings: Vec<Finding>,
}

struct Matcher {
    any: Regex,
    live: Vec<(String, Vec<u8>)>,
}

impl Matcher {
    fn new(live: &[(String, String)]) -> Result<Self, String> {
        let mut parts: Vec<String> = rules::rules()
            .iter()
            .map(|r| format!("(?:{})", r.regex.as_str()))
            .collect();
        let live: Vec<(String, Vec<u8>)> = live
            .iter()
            .filter(|(_, v)| v.trim().len() >= crate::secrets::MIN_SECRET_LEN)
            .map(|(n, v)| (n.clone(), v.trim().as_bytes().to_vec()))
            .collect();
        parts.extend(
            live.iter()
                .map(|(_, v)| regex::escape(&String::from_utf8_lossy(v))),
        );
        let any = RegexBuilder::new(&parts.join("|"))
            .unicode(false)
            .size_limit(64 << 20)
            .build()
            .map_err(|e| format!("cannot build the scan's patterns: {e}"))?;
        Ok(Self { any, live })
    }

    /// What a match is: a live secret (by name) or a rule id.
    fn classify(&self, text: &[u8]) -> (bool, String) {
        if let Some((name, _)) = self
            .live
            .iter()
            .find(|(_, v)| text.windows(v.len()).any(|w| w == v.as_slice()))
        {
            return (true, format!("live secret {name}"));
        }
        let id = rules::rules()
            .iter()
            .find(|r| std::str::from_utf8(text).is_ok_and(|t| r.regex.is_match(t)))
            .map_or("credential", |r| r.id);
        (false, id.to_string())
    }
}

enum FileResult {
    Scanned(Vec<Finding>),
    Binary,
    Large,
    Allowed,
    Unreadable,
}

fn scan_file(root: &Path, path: &str, cfg: &Scan, m: &Matcher) -> FileResult {
    if cfg.allowed(path) {
        return FileResult::Allowed;
    }
    let full = root.join(path);
    match std::fs::symlink_metadata(&full) {
        Ok(meta) if !meta.is_file() => return FileResult::Unreadable,
        Ok(meta) if meta.len() > cfg.max_file_size => return FileResult::Large,
        Ok(_) => {}
        Err(_) => return FileResult::Unreadable,
    }
    let Ok(data) = std::fs::read(&full) else {
        return FileResult::Unreadable;
    };
    if data[..data.len().min(BINARY_PROBE)].contains(&0) {
        return FileResult::Binary;
    }
    let mut findings = Vec::new();
    let (mut line, mut counted_to) = (1usize, 0usize);
    for hit in m.any.find_iter(&data) {
        line += data[counted_to..hit.start()]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        counted_to = hit.start();
        let start = data[..hit.start()]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let end = data[hit.end()..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(data.len(), |i| hit.end() + i);
        let text = &data[start..end];
        if text
            .windows(ALLOW_MARKER.len())
            .any(|w| w == ALLOW_MARKER.as_bytes())
        {
            continue;
        }
        let (live, rule) = m.classify(hit.as_bytes());
        findings.push(Finding {
            live,
            path: path.to_string(),
            line,
            rule,
        });
    }
    findings.dedup_by(|a, b| a.line == b.line && a.rule == b.rule);
    FileResult::Scanned(findings)
}

/// Scan `files` under `root`. `live` holds the secret variables' names and
/// current values.
pub fn scan(
    root: &Path,
    files: &[String],
    cfg: &Scan,
    live: &[(String, String)],
) -> Result<Outcome, String> {
    let matcher = Matcher::new(live)?;
    let parts = crate::par::fold(
        files,
        crate::par::threads(8),
        Outcome::default,
        |o, path| match scan_file(root, path, cfg, &matcher) {
            FileResult::Scanned(f) => {
                o.scanned += 1;
                o.findings.extend(f);
            }
            FileResult::Binary => o.binary += 1,
            FileResult::Large => o.large += 1,
            FileResult::Allowed => o.allowed += 1,
            FileResult::Unreadable => o.unreadable += 1,
        },
    )
    .ok_or("the scan failed unexpectedly")?;
    let mut all = Outcome::default();
    for p in parts {
        all.scanned += p.scanned;
        all.binary += p.binary;
        all.large += p.large;
        all.allowed += p.allowed;
        all.unreadable += p.unreadable;
        all.findings.extend(p.findings);
    }
    // Live secrets first, then by place.
    all.findings.sort_by(|a, b| {
        b.live
            .cmp(&a.live)
            .then_with(|| (&a.path, a.line, &a.rule).cmp(&(&b.path, b.line, &b.rule)))
    });
    Ok(all)
}

/// The pack's secrets scan over the files git tracks in `repo`: the
/// config's rules and allow-list, and the live values of its secret
/// variables (read from `vars`). Not a repository: SKIP, never a pass.
pub fn secrets_scan(
    config: Option<&Config>,
    repo: &Path,
    vars: &EnvSnapshot,
) -> crate::report::Outcome {
    let repo = git::open(repo);
    let Ok(repo) = &repo else {
        return crate::report::Outcome::skip(
            "not checked: not a readable git repository (see policy_gates_dry)",
        );
    };
    let files = match git::files::files(&repo.repo) {
        Ok(f) => f,
        Err(e) => {
            return crate::report::Outcome::fail(format!(
                "cannot list the files to scan: {}",
                e.message()
            ));
        }
    };
    let default_scan = Scan::default();
    let cfg = config.map_or(&default_scan, |c| &c.pack.scan);
    let live: Vec<(String, String)> = config
        .map(|c| c.secret_names())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| vars.non_empty(n).map(|v| (n.to_string(), v.to_string())))
        .collect();
    let found = match scan(&repo.root, &files, cfg, &live) {
        Ok(f) => f,
        Err(e) => return crate::report::Outcome::fail(e),
    };
    let skipped = format!(
        "{} binary, {} large, {} allowed, {} unreadable skipped",
        found.binary, found.large, found.allowed, found.unreadable
    );
    let findings: Vec<serde_json::Value> = found
        .findings
        .iter()
        .map(|f| json!({"path": f.path, "line": f.line, "rule": f.rule, "live": f.live}))
        .collect();
    let outcome = if found.scanned == 0 {
        crate::report::Outcome::skip(format!("not checked: no file could be scanned ({skipped})"))
    } else if found.findings.is_empty() {
        crate::report::Outcome::ok(format!(
            "{} files scanned, no secrets found ({skipped})",
            found.scanned
        ))
    } else {
        let places: Vec<String> = found
            .findings
            .iter()
            .map(|f| format!("{} at {}:{}", f.rule, f.path, f.line))
            .collect();
        crate::report::Outcome::fail(format!(
            "{} finding{}: {}",
            places.len(),
            crate::text::plural(places.len()),
            list_some(&places, 3)
        ))
    };
    outcome
        .detail("scanned", found.scanned)
        .detail("skipped_binary", found.binary)
        .detail("skipped_large", found.large)
        .detail("allowed", found.allowed)
        .detail("unreadable", found.unreadable)
        .detail("findings", findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_text(files: &[(&str, &[u8])], cfg: &Scan, live: &[(String, String)]) -> Outcome {
        let dir = tempfile::tempdir().unwrap();
        for (name, data) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        let names: Vec<String> = files.iter().map(|(n, _)| n.to_string()).collect();
        scan(dir.path(), &names, cfg, live).unwrap()
    }

    #[test]
    fn finds_rules_and_live_secrets_with_lines() {
        let live = vec![(
            "RS_DEPLOY_TOKEN".to_string(),
            "live-token-value-123".to_string(),
        )];
        let o = scan_text(
            &[
                ("a.txt", b"nothing\nkey = AKIAIOSFODNN7EXAMPLE\n"), // release-sentinel:allow (a test fixture)
                ("b/c.env", b"x\ny\nTOKEN=live-token-value-123\n"),
                ("clean.txt", b"hello\n"),
            ],
            &Scan::default(),
            &live,
        );
        assert_eq!(o.scanned, 3);
        let found: Vec<(bool, &str, usize, &str)> = o
            .findings
            .iter()
            .map(|f| (f.live, f.path.as_str(), f.line, f.rule.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (true, "b/c.env", 3, "live secret RS_DEPLOY_TOKEN"),
                (false, "a.txt", 2, "aws-access-key-id"),
            ]
        );
    }

    #[test]
    fn skips_binary_large_allowed_and_marked() {
        let mut cfg = Scan::default();
        cfg.max_file_size = 100;
        let o = scan_text(
            &[
                ("bin.dat", b"\0\0AKIAIOSFODNN7EXAMPLE"),
                ("big.txt", &[b'a'; 200]),
                ("ok.txt", b"AKIAIOSFODNN7EXAMPLE # release-sentinel:allow\n"),
            ],
            &cfg,
            &[],
        );
        assert_eq!((o.scanned, o.binary, o.large), (1, 1, 1));
        assert!(o.findings.is_empty(), "{:?}", o.findings);
    }
}
