//! Evidence an auditor can re-check. `--evidence DIR` on the gate and
//! `verify` writes what a run saw and what it decided into DIR, under a
//! manifest of SHA-256 digests; [`verify`] checks such a directory, and
//! [`replay`] re-runs its policy gates at the recorded commit.
//!
//! A record is three files:
//!
//! - `record.json`: the tool and its version, the command line, the time
//!   ([`crate::clock`], so `CI_FAKE_UTC` fixes it), the environment,
//!   version and commit, where the repository was and its branch, the
//!   configuration's source and the SHA-256 of its text as read, the
//!   variables that decided anything (the CI's branch, tag and run
//!   variables, `RS_*`, `CI_FAKE_UTC`, and the variables the configuration
//!   names), and the whole JSON report: every row with its details, the
//!   verdict and the exit code.
//! - `config.toml`: the configuration text with its secret values
//!   removed: the values under secret-looking keys (`Authorization`,
//!   `token`, ...) become `"***"`, and so does anything the scrubber
//!   masks. The digest in `record.json` is that of the text before, so an
//!   auditor who holds the real configuration can match it to the record.
//! - `SHA256SUMS`: the digests of the other two, as `sha256sum -c` reads
//!   them. It is written last: a directory without it is a record whose
//!   writing did not finish.
//!
//! Every file is written whole (a temporary name, then a rename) and
//! scrubbed of secrets before it reaches the disk; a variable whose value
//! is a secret, or part of one, is named and its value withheld. The same
//! inputs give the same bytes, but for the time.
//!
//! Deliberately left out: signatures (`SHA256SUMS` shows that the files
//! belong together and have not changed since, not who wrote them: keep
//! its own digest where the writer cannot change it, or sign it), row
//! durations (they decide nothing and differ on every run), the content
//! of a dirty work tree (the `clean_tree` row names what was dirty), and a
//! replay of the health checks (what they judged, a disk or an API, has
//! moved on since).

pub mod replay;
pub mod sign;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::config::Config;
use crate::envsnap::EnvSnapshot;
use crate::git::Repo;
use crate::report::{CheckResult, Kind, Outcome, Report, Status, json as report_json};
use crate::sanitize;
use crate::secrets::{self, MASK, Scrubber};
use crate::text::list_some;

/// The record's main file.
pub const RECORD: &str = "record.json";
/// The configuration text, its secret values removed.
pub const CONFIG: &str = "config.toml";
/// The manifest: every other file's SHA-256, in `sha256sum` format.
pub const SUMS: &str = "SHA256SUMS";
/// Version of `record.json`'s shape.
pub const SCHEMA_VERSION: u64 = 1;
/// What a removed secret value is replaced with.
pub const PLACEHOLDER: &str = MASK;
/// The largest `record.json` read back.
const MAX_RECORD: u64 = 64 * 1024 * 1024;

/// The kinds of report that can be recorded. `predeploy` joins them when
/// it records its evidence.
pub static KINDS: &[&Kind] = &[
    &crate::gate::KIND,
    &crate::verify::KIND,
    &crate::predeploy::KIND,
];

/// The recordable kind named `name`.
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().copied().find(|k| k.name == name)
}

/// What a record needs that the report does not hold.
pub struct Inputs<'a> {
    /// The command line as given (scrubbed when written).
    pub argv: &'a [String],
    /// The environment the run saw.
    pub vars: &'a EnvSnapshot,
    /// The configuration the run used; `None` when it had none usable
    /// (the report's error says why).
    pub config: Option<&'a Config>,
    /// The repository, when the run was in one.
    pub repo: Option<&'a Repo>,
    /// The gate's `--fail-fast`, which a replay repeats.
    pub fail_fast: bool,
    /// The key that signs `SHA256SUMS`, when one was given.
    pub signer: Option<&'a sign::Signer>,
}

/// Write the evidence record of `report` into `dir` (created when
/// missing). The error is one line that names `dir`:
/// `cannot write evidence to DIR: Permission denied (os error 13)`. A
/// failed write leaves no file of its own behind, and never a manifest.
pub fn record(
    dir: &Path,
    report: &Report,
    inputs: &Inputs<'_>,
    scrubber: &Scrubber,
) -> Result<(), String> {
    let fail = |why: String| {
        format!(
            "cannot write evidence to {}: {why}",
            sanitize::ascii(&scrubber.scrub(&dir.display().to_string()))
        )
    };
    // The time the checks judged by; else now.
    let now: std::time::SystemTime = match report.time {
        Some(t) => t.utc.into(),
        None => crate::clock::now(inputs.vars).map_err(fail)?,
    };
    let mut files: Vec<(&str, Vec<u8>)> = Vec::new();
    let config = match inputs.config {
        None => Value::Null,
        Some(c) => {
            let mut section = json!({
                "source": c.source.to_string(),
                "sha256": crate::digest::sha256_hex(c.text.as_bytes()),
            });
            match redact_config(&c.text, scrubber) {
                Ok(redacted) => {
                    section["file"] = json!(CONFIG);
                    section["redacted"] = json!(redacted.text != c.text);
                    section["redacted_keys"] = json!(redacted.keys);
                    files.push((CONFIG, redacted.text.into_bytes()));
                }
                Err(why) => {
                    section["file"] = Value::Null;
                    section["not_recorded"] = json!(format!(
                        "its secret values could not be found to remove them: {why}"
                    ));
                }
            }
            section
        }
    };
    let (variables, withheld) = variables(inputs.vars, inputs.config, scrubber);
    let repository = inputs.repo.map_or(Value::Null, |r| {
        json!({
            "root": crate::git::show(&r.root),
            "branch": branch_of(r),
        })
    });
    let mut report_value = report_json::to_value(report);
    if let Some(rows) = report_value
        .get_mut(report.kind.rows_key)
        .and_then(Value::as_array_mut)
    {
        for (row, result) in rows
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .zip(&report.rows)
        {
            row.remove("duration_ms");
            row.insert("facts".to_string(), facts(result));
        }
    }
    let doc = json!({
        "schema_version": SCHEMA_VERSION,
        "tool": "release-sentinel",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "kind": report.kind.name,
        "argv": inputs.argv,
        "recorded_at": crate::clock::rfc3339(now),
        "env": report.target.env,
        "version": report.target.version,
        "commit": report.target.commit,
        "repository": repository,
        "options": { "fail_fast": inputs.fail_fast },
        "config": config,
        "variables": variables,
        "withheld": withheld,
        "report": report_value,
    });
    let mut text = Vec::new();
    report_json::write_value(doc, scrubber, &mut text).map_err(|e| fail(e.to_string()))?;
    files.push((RECORD, text));
    write_files(dir, &files, inputs.signer).map_err(fail)
}

/// Detail keys that describe what a row saw around what it judged (how
/// many tags the clone holds, where the work tree is), by row id. They
/// change with things the row does not judge: a new, unrelated tag
/// changes `tag_absent`'s count and message, not its finding.
const CONTEXT: &[(&str, &[&str])] = &[
    ("git_repo", &["root", "worktree"]),
    ("tag_absent", &["tags"]),
    ("version_newer", &["tags", "matching"]),
    ("changelog_entry", &["line", "content_lines"]),
];

/// The facts a row judged: its status and its details but those of
/// [`CONTEXT`], never its prose. The record carries them with each row
/// (`facts`), and a replay compares these, so that rewording a message,
/// or a count that decides nothing, is not a difference.
pub fn facts(row: &CheckResult) -> Value {
    let context = CONTEXT
        .iter()
        .find(|(id, _)| *id == row.id)
        .map_or(&[][..], |(_, keys)| *keys);
    let details: serde_json::Map<String, Value> = row
        .outcome
        .details
        .iter()
        .filter(|(k, _)| !context.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    json!({ "status": row.status().as_str(), "details": details })
}

/// The branch HEAD is on, or `None` on a detached HEAD.
fn branch_of(repo: &Repo) -> Option<String> {
    let head = repo.repo.head().ok()?;
    if !head.is_branch() {
        return None;
    }
    head.shorthand().ok().map(str::to_string)
}

/// The variables that decided anything, with their values, and the names
/// of those whose values are withheld (a secret, part of one, or not
/// text): the CI's branch, tag and run variables, `RS_*`, `CI_FAKE_UTC`,
/// and every variable the configuration names. Unset ones are left out.
fn variables(
    vars: &EnvSnapshot,
    config: Option<&Config>,
    scrubber: &Scrubber,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut names: Vec<String> = crate::ci::BRANCH_VARIABLES
        .iter()
        .chain(crate::ci::TAG_VARIABLES)
        .chain(crate::ci::RUN_VARIABLES)
        .chain(&["GITHUB_REF_TYPE", "CI_FAKE_UTC"])
        .map(|n| n.to_string())
        .collect();
    names.extend(
        vars.iter_lossy()
            .map(|(n, _)| n)
            .filter(|n| n.starts_with("RS_"))
            .map(str::to_string),
    );
    let mut secret: Vec<&str> = Vec::new();
    if let Some(c) = config {
        names.extend(c.variables.required.iter().cloned());
        names.extend(c.variables.secret.iter().cloned());
        names.extend(crate::config::values::references(&c.text));
        secret = c.secret_names();
    }
    let (mut shown, mut withheld) = (BTreeMap::new(), Vec::new());
    for name in names {
        if shown.contains_key(&name) || withheld.contains(&name) {
            continue;
        }
        let value = match vars.get(&name) {
            Ok(None) => continue,
            Ok(Some(v)) => v,
            Err(_) => {
                withheld.push(name);
                continue;
            }
        };
        // A blank value tells nothing, and whether it is blank decides
        // `required_config`: it is kept as it is.
        let hidden = !sanitize::is_blank(value)
            && (secret.contains(&name.as_str())
                || secrets::is_secret_like_name(&name)
                || scrubber.scrub(value) != value
                || scrubber.within_secret(value));
        if hidden {
            withheld.push(name);
        } else {
            shown.insert(name, value.to_string());
        }
    }
    withheld.sort();
    (shown, withheld)
}

/// Configuration text with its secret values removed, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    /// The key paths whose values were replaced.
    pub keys: Vec<String>,
}

/// `text` with the value of every secret-looking key (strings and numbers,
/// in tables, inline tables and arrays) replaced by `"***"`, then scrubbed
/// of whatever else the scrubber masks (the values of secret variables,
/// credentials in URLs). The rest, comments and layout included, is kept.
pub fn redact_config(text: &str, scrubber: &Scrubber) -> Result<Redacted, String> {
    let doc = toml::de::DeTable::parse(text).map_err(|e| e.message().to_string())?;
    let mut spans: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    secret_values(doc.get_ref(), "", &mut spans);
    spans.sort_by_key(|(span, _)| span.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut keys: Vec<String> = Vec::new();
    for (span, key) in spans {
        // Spans come from the parser of this very text; one that does not
        // fit it, or overlaps the last, is refused rather than trusted.
        let (Some(before), Some(_)) = (text.get(at..span.start), text.get(span.clone())) else {
            return Err(format!("a value of {key} could not be located"));
        };
        out.push_str(before);
        out.push('"');
        out.push_str(PLACEHOLDER);
        out.push('"');
        at = span.end;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    out.push_str(text.get(at..).unwrap_or_default());
    Ok(Redacted {
        text: scrubber.scrub(&out),
        keys,
    })
}

/// Collect the spans of the values to remove: every string and number
/// under a secret-looking key.
fn secret_values(
    table: &toml::de::DeTable<'_>,
    prefix: &str,
    spans: &mut Vec<(std::ops::Range<usize>, String)>,
) {
    for (key, value) in table {
        let name = key.get_ref();
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        // `variables` lists names, not values.
        if path == "variables" {
            continue;
        }
        walk(value, &path, secrets::is_secret_like_name(name), spans);
    }
}

fn walk(
    value: &toml::Spanned<toml::de::DeValue<'_>>,
    path: &str,
    secret: bool,
    spans: &mut Vec<(std::ops::Range<usize>, String)>,
) {
    use toml::de::DeValue;
    match value.get_ref() {
        DeValue::String(_) | DeValue::Integer(_) | DeValue::Float(_) if secret => {
            spans.push((value.span(), path.to_string()));
        }
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), secret, spans);
            }
        }
        DeValue::Table(t) if secret => {
            for (k, v) in t {
                walk(v, &format!("{path}.{}", k.get_ref()), true, spans);
            }
        }
        DeValue::Table(t) => secret_values(t, path, spans),
        _ => {}
    }
}

/// How long a run waits for another that is writing the same directory.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The name of the manifest's signature.
fn sums_sig() -> String {
    format!("{SUMS}{}", sign::SUFFIX)
}

/// Hold `dir` for this run: an exclusive `flock` on the directory itself
/// (a writer), or a shared one (a reader), released when the returned
/// handle is dropped. Two runs writing one directory take turns, each
/// leaving a whole record, and a reader never sees one half-written. A
/// run waits for another up to [`LOCK_WAIT`], then gives up, naming it.
fn hold(dir: &Path, exclusive: bool) -> Result<rustix::fd::OwnedFd, String> {
    use rustix::fs::{FlockOperation, Mode, OFlags};
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| os_reason(&e.into()))?;
    let op = if exclusive {
        FlockOperation::NonBlockingLockExclusive
    } else {
        FlockOperation::NonBlockingLockShared
    };
    let start = std::time::Instant::now();
    loop {
        match rustix::fs::flock(&fd, op) {
            Ok(()) => return Ok(fd),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK && start.elapsed() < LOCK_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                return Err(format!(
                    "another run is writing an evidence record there (it has held the directory's lock for over {} s)",
                    LOCK_WAIT.as_secs()
                ));
            }
            Err(e) => return Err(format!("cannot lock it: {}", os_reason(&e.into()))),
        }
    }
}

/// Write `files` into `dir`, each whole, then [`SUMS`] over them, last
/// (its signature by `signer` just before it). The directory is held
/// ([`hold`]) throughout. A manifest of an earlier record goes first, and
/// a write that fails takes the files it wrote with it: a directory is a
/// complete record or has no manifest. A directory holding anything but a
/// record is refused.
fn write_files(
    dir: &Path,
    files: &[(&str, Vec<u8>)],
    signer: Option<&sign::Signer>,
) -> Result<(), String> {
    let io = |e: std::io::Error| os_reason(&e);
    std::fs::create_dir_all(dir).map_err(io)?;
    let _held = hold(dir, true)?;
    let sig = sums_sig();
    let mut foreign: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let name = entry
            .map_err(io)?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if ![RECORD, CONFIG, SUMS, sig.as_str()].contains(&name.as_str()) {
            foreign.push(sanitize::ascii(&name));
        }
    }
    if !foreign.is_empty() {
        foreign.sort();
        return Err(format!(
            "it holds files that are not part of an evidence record ({}); give a new or empty directory",
            list_some(&foreign, 3)
        ));
    }
    let remove = |name: &str| match std::fs::remove_file(dir.join(name)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    remove(SUMS).map_err(io)?;
    remove(&sig).map_err(io)?;
    for stale in [RECORD, CONFIG] {
        if !files.iter().any(|(n, _)| *n == stale) {
            remove(stale).map_err(io)?;
        }
    }
    let mut written: Vec<String> = Vec::new();
    let mut sums = String::new();
    let mut sorted: Vec<&(&str, Vec<u8>)> = files.iter().collect();
    sorted.sort_by_key(|(n, _)| *n);
    let result = (|| {
        for (name, data) in &sorted {
            crate::fsutil::write_atomic(&dir.join(name), data).map_err(io)?;
            written.push(name.to_string());
            sums.push_str(&format!("{}  {name}\n", crate::digest::sha256_hex(data)));
        }
        if let Some(signer) = signer {
            signer.sign_file(&dir.join(SUMS), sums.as_bytes())?;
            written.push(sig.clone());
        }
        crate::fsutil::write_atomic(&dir.join(SUMS), sums.as_bytes()).map_err(io)
    })();
    if result.is_err() {
        for name in written {
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    result
}

/// What the operating system said, without the temporary file's name that
/// some layers add to it: `Permission denied (os error 13)`.
fn os_reason(e: &std::io::Error) -> String {
    crate::fsutil::plain(e).to_string()
}

/// A record read back: the whole document and its report.
#[derive(Debug, Clone)]
pub struct Record {
    pub doc: Value,
    pub report: Report,
}

impl Record {
    /// A string field of the document.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.doc.get(key).and_then(Value::as_str)
    }
}

/// What [`verify`] found: its rows (`digests`, `verdict`) and the record,
/// when `record.json` could be read as one.
#[derive(Debug)]
pub struct Checked {
    pub rows: Vec<CheckResult>,
    pub record: Option<Record>,
}

/// Check the record in `dir`: every file `SHA256SUMS` lists is there and
/// has its digest, no other file is (but its signature), the verdict
/// recorded follows from the rows recorded by the rule of their kind, and
/// `SHA256SUMS.sig` (see [`sign::check`]) against `signers` at `now`. The
/// directory is held for reading ([`hold`]) throughout, so that a run
/// writing it is waited for.
pub fn verify(
    dir: &Path,
    signers: Option<&sign::AllowedSigners>,
    now: std::time::SystemTime,
) -> Checked {
    let _held = hold(dir, false);
    let record = read(dir);
    // The files the record is made of: the manifest must cover them.
    let mut covered = vec![RECORD];
    if let Ok(r) = &record
        && r.doc.pointer("/config/file").and_then(Value::as_str) == Some(CONFIG)
    {
        covered.push(CONFIG);
    }
    let digests = digests(dir, &covered);
    let (verdict, record) = match record {
        Ok(record) => (follows(&record), Some(record)),
        Err(why) => (Outcome::fail(why), None),
    };
    let mut rows = vec![
        CheckResult::untimed("digests", digests),
        CheckResult::untimed("verdict", verdict),
    ];
    let sums = crate::fsutil::read_regular(&dir.join(SUMS), 1024 * 1024);
    let signature = match &sums {
        Ok(data) => sign::check(&dir.join(SUMS), SUMS, data, signers, now),
        // The digests row says why the manifest cannot be read.
        Err(_) => signers.map(|_| {
            Outcome::fail(format!(
                "{SUMS} cannot be read (see the digests row): nothing to check the signature against"
            ))
        }),
    };
    if let Some(outcome) = signature {
        rows.push(CheckResult::untimed("signature", outcome));
    }
    Checked { rows, record }
}

/// The `digests` row; `covered` must be listed in the manifest.
fn digests(dir: &Path, covered: &[&str]) -> Outcome {
    let shown = sanitize::ascii(&dir.display().to_string());
    let text = match crate::fsutil::read_regular(&dir.join(SUMS), 1024 * 1024) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(why) => {
            return Outcome::fail(format!(
                "{shown}/{SUMS}: {why}: the record is incomplete (its writing did not finish) or {shown} is not an evidence directory"
            ));
        }
    };
    let mut listed: BTreeMap<String, String> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let parsed = line
            .split_once(' ')
            .map(|(sum, rest)| (sum, rest.strip_prefix([' ', '*']).unwrap_or(rest)));
        let Some((sum, name)) = parsed.filter(|(sum, name)| {
            sum.len() == 64
                && sum.bytes().all(|b| b.is_ascii_hexdigit())
                && plain_name(name)
                && *name != SUMS
        }) else {
            return Outcome::fail(format!(
                "{SUMS} line {}: not a sha256sum line for a file of this directory",
                n + 1
            ));
        };
        if listed
            .insert(name.to_string(), sum.to_ascii_lowercase())
            .is_some()
        {
            return Outcome::fail(format!("{SUMS} lists {name} twice"));
        }
    }
    let present: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) => return Outcome::fail(format!("cannot list {shown}: {e}")),
    };
    let (mut missing, mut modified) = (Vec::new(), Vec::new());
    for (name, sum) in &listed {
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => match crate::digest::sha256_file(&path) {
                Ok(actual) if actual == *sum => {}
                Ok(_) => modified.push(name.clone()),
                Err(e) => missing.push(format!("{name} ({e})")),
            },
            Ok(_) => missing.push(format!("{name} (not a regular file)")),
            Err(_) => missing.push(name.clone()),
        }
    }
    let mut extra: Vec<String> = present
        .iter()
        .filter(|n| n.as_str() != SUMS && **n != sums_sig() && !listed.contains_key(n.as_str()))
        .map(|n| sanitize::ascii(n))
        .collect();
    extra.sort();
    let mut problems: Vec<String> = [
        ("modified", &modified),
        ("missing", &missing),
        ("not in the manifest", &extra),
    ]
    .into_iter()
    .filter(|(_, l)| !l.is_empty())
    .map(|(what, l)| format!("{what}: {}", list_some(l, 4)))
    .collect();
    for name in covered.iter().filter(|n| !listed.contains_key(**n)) {
        problems.push(format!("{SUMS} does not cover {name}"));
    }
    let sums_digest = crate::digest::sha256_hex(text.as_bytes());
    let outcome = if problems.is_empty() {
        let names: Vec<String> = listed.keys().cloned().collect();
        Outcome::ok(format!(
            "{} match {SUMS}; its own SHA-256 is {sums_digest}",
            names.join(" and ")
        ))
    } else {
        Outcome::fail(problems.join("; "))
    };
    outcome
        .detail("sums_sha256", sums_digest)
        .detail("modified", modified)
        .detail("missing", missing)
        .detail("extra", extra)
}

/// A file name of this directory: not a path, not hidden by a control
/// character.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

/// Read `record.json` as a record.
pub fn read(dir: &Path) -> Result<Record, String> {
    let data = crate::fsutil::read_regular(&dir.join(RECORD), MAX_RECORD)
        .map_err(|why| format!("{RECORD}: {why}"))?;
    let doc: Value =
        serde_json::from_slice(&data).map_err(|e| format!("{RECORD} is not JSON: {e}"))?;
    match doc.get("schema_version").and_then(Value::as_u64) {
        Some(SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "{RECORD} has schema_version {v}; this version reads {SCHEMA_VERSION}"
            ));
        }
        None => return Err(format!("{RECORD} has no schema_version: not a record")),
    }
    if doc.get("tool").and_then(Value::as_str) != Some("release-sentinel") {
        return Err(format!("{RECORD} is not a release-sentinel record"));
    }
    let report_doc = doc
        .get("report")
        .ok_or_else(|| format!("{RECORD} holds no report"))?;
    let report = report_json::from_value(report_doc, KINDS)
        .map_err(|why| format!("{RECORD}: report: {why}"))?;
    if doc.get("kind").and_then(Value::as_str) != Some(report.kind.name) {
        return Err(format!(
            "{RECORD} says its kind is {}, but its report is a {} report",
            doc.get("kind")
                .map_or("nothing".to_string(), Value::to_string),
            report.kind.name
        ));
    }
    Ok(Record { doc, report })
}

/// The rows a run of `kind` always records when it has no error: the
/// gate's policy gates (a gate not evaluated is a SKIP row, never
/// absent) and predeploy's steps; `verify`'s depend on its configuration.
fn always_rows(kind: &Kind) -> Vec<&'static str> {
    match kind.name {
        "gate" => crate::checks::policy::GATES.iter().map(|g| g.id).collect(),
        "predeploy" => crate::predeploy::step_ids(),
        _ => Vec::new(),
    }
}

/// The `verdict` row: the recorded rows are all there (some, and every
/// one the kind always has), and the verdict and exit code recorded are
/// those they give.
fn follows(record: &Record) -> Outcome {
    let report = &record.report;
    let kind = report.kind;
    let doc = &record.doc["report"];
    let recorded_word = doc.get("verdict").and_then(Value::as_str);
    let recorded_code = doc.get("exit_code").and_then(Value::as_u64);
    let verdict = report.verdict();
    let (word, code) = (kind.word(verdict), u64::from(verdict.code()));
    let rows = report.rows.len();
    let not_passed: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.counts() && r.status() != Status::Ok)
        .map(|r| format!("{} {}", r.id, r.status().as_str()))
        .collect();
    let reasons = match (&report.error, not_passed.is_empty()) {
        (Some(_), _) => "the run recorded an error".to_string(),
        (None, true) => "every counted row OK".to_string(),
        (None, false) => list_some(&not_passed, 4),
    };
    // A rule holds vacuously over no rows: rows removed from a record
    // must not leave a verdict that passes. A run without an error
    // always has rows, and those its kind always has.
    if report.error.is_none() {
        if report.rows.is_empty() {
            return Outcome::fail(format!(
                "the record has no rows and no error: a {} run always records rows (were they removed?)",
                kind.name
            ))
            .detail("rows", 0);
        }
        let missing: Vec<String> = always_rows(kind)
            .into_iter()
            .filter(|id| !report.rows.iter().any(|r| r.id == *id))
            .map(str::to_string)
            .collect();
        if !missing.is_empty() {
            return Outcome::fail(format!(
                "the record lacks rows a {} run always has: {} (were they removed?)",
                kind.name,
                list_some(&missing, 4)
            ))
            .detail("missing", missing)
            .detail("rows", rows);
        }
    }
    let outcome = match (recorded_word, recorded_code) {
        (Some(w), Some(c)) if w == word && c == code => Outcome::ok(format!(
            "{}={word} (exit {code}) follows from the {rows} recorded rows by the {} rule ({reasons})",
            kind.marker, kind.name
        )),
        (Some(w), Some(c)) => Outcome::fail(format!(
            "the record says {}={} (exit {c}), but its {rows} rows give {}={word} (exit {code}) ({reasons})",
            kind.marker,
            sanitize::capped(w, 40),
            kind.marker
        )),
        _ => Outcome::fail(format!(
            "the record's report has no verdict and exit code; its {rows} rows give {}={word} (exit {code})",
            kind.marker
        )),
    };
    outcome
        .detail("verdict", word)
        .detail("exit_code", code)
        .detail("rows", rows)
}

/// The evidence check's report.
pub static KIND: crate::report::Kind = crate::report::Kind {
    name: "evidence",
    title: "EVIDENCE",
    title_target: true,
    heading: "Evidence",
    final_id: "evidence",
    marker: "EVIDENCE",
    words: ["VERIFIED", "FAILED", "FAILED"],
    ..crate::report::Kind::CHECKS
};

/// Write the record `--evidence DIR` asks for (in `dir`, signed with
/// `sign_key` when given), once `report`'s rows are
/// final. A record that cannot be written makes the report an error
/// (BLOCKED, exit 1) that names the directory: a run that was asked for
/// its evidence never passes without it. `fail_fast` is the gate's
/// `--fail-fast` (a replay repeats it).
pub fn attach(
    dir: Option<&Path>,
    sign_key: Option<&Path>,
    report: &mut Report,
    ws: &crate::workspace::Workspace,
    cx: &crate::workspace::Context<'_>,
    fail_fast: bool,
) {
    let Some(dir) = dir else {
        return;
    };
    let signer = sign::signer(
        sign_key,
        cx.vars,
        cx.scrubber,
        ws.config
            .as_ref()
            .ok()
            .map(|c| (&c.signing, ws.root.as_path())),
    );
    let inputs = Inputs {
        argv: &cx.argv,
        vars: cx.vars,
        config: ws.config.as_ref().ok(),
        repo: ws.repo.as_ref().ok(),
        fail_fast,
        signer: signer.as_ref().ok().and_then(Option::as_ref),
    };
    let written = signer
        .as_ref()
        .map_err(|why| {
            format!(
                "cannot write evidence to {}: {why}",
                sanitize::ascii(&cx.scrubber.scrub(&dir.display().to_string()))
            )
        })
        .and_then(|_| record(dir, report, &inputs, cx.scrubber));
    if let Err(why) = written {
        report.error = Some(match report.error.take() {
            Some(first) => format!("{first}\n{why}"),
            None => why,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_keys_lose_their_values_and_keep_the_layout() {
        let text = r#"# the API
[[health.api]]
name = "pay"   # kept
url = "https://pay.internal/health?token=${PAY_TOKEN}&region=eu"
headers = { Authorization = "Bearer ${PAY_TOKEN}", "X-Trace" = "on" }

[notify]
signing_key = '${SIGNING}'
[notify.secret_things]
a = "x"
b = ["y", 1]
"#;
        let r = redact_config(text, &Scrubber::new()).unwrap();
        assert_eq!(
            r.keys,
            [
                "health.api[0].headers.Authorization",
                "notify.signing_key",
                "notify.secret_things.a",
                "notify.secret_things.b[0]",
                "notify.secret_things.b[1]",
            ]
        );
        assert!(
            r.text
                .contains("headers = { Authorization = \"***\", \"X-Trace\" = \"on\" }\n"),
            "{}",
            r.text
        );
        assert!(r.text.contains("signing_key = \"***\"\n"), "{}", r.text);
        assert!(r.text.contains("b = [\"***\", \"***\"]"), "{}", r.text);
        assert!(r.text.contains("name = \"pay\"   # kept"), "{}", r.text);
        // A URL's secret-looking parameter is masked by the scrubber.
        assert!(r.text.contains("?token=***&region=eu"), "{}", r.text);
        // Still TOML.
        assert!(toml::from_str::<toml::Table>(&r.text).is_ok());
    }

    #[test]
    fn registered_secrets_are_scrubbed_from_the_text() {
        let s = Scrubber::new();
        s.add("literal-secret-value");
        let r = redact_config("[policy]\nbranches = [\"literal-secret-value\"]\n", &s).unwrap();
        assert_eq!(r.text, "[policy]\nbranches = [\"***\"]\n");
        assert!(r.keys.is_empty());
    }

    #[test]
    fn variables_withhold_secrets_and_parts_of_them() {
        let s = Scrubber::new();
        s.add("Bearer plain-value-123");
        let vars = EnvSnapshot::from_pairs([
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_RUN_ID", "42"),
            ("RS_DEPLOY_TOKEN", "tok-123456789"),
            ("RS_BLANK_TOKEN", "  "),
            ("PLAIN", "plain-value-123"),
            ("UNRELATED", "x"),
        ]);
        let config = crate::config::parse(
            "[[health.api]]\nname = \"a\"\nurl = \"http://h/\"\nheaders = { Authorization = \"Bearer ${PLAIN}\" }\n",
            crate::config::Source::Embedded,
            &vars,
            &s,
        )
        .unwrap();
        let (shown, withheld) = variables(&vars, Some(&config), &s);
        assert_eq!(withheld, ["PLAIN", "RS_DEPLOY_TOKEN"]);
        assert_eq!(
            shown.get("GITHUB_REF").map(String::as_str),
            Some("refs/heads/main")
        );
        assert_eq!(shown.get("GITHUB_RUN_ID").map(String::as_str), Some("42"));
        assert_eq!(shown.get("RS_BLANK_TOKEN").map(String::as_str), Some("  "));
        assert!(!shown.contains_key("UNRELATED"));
    }

    #[test]
    fn facts_leave_out_what_only_describes_the_context() {
        let row = |id: &str, outcome: Outcome| {
            CheckResult::new(
                id,
                crate::report::Phase::Policy,
                outcome,
                std::time::Duration::ZERO,
            )
        };
        let tags = |n: u64| {
            row(
                "tag_absent",
                Outcome::ok(format!("no tag yet ({n} tags)")).detail("tags", n),
            )
        };
        assert_eq!(facts(&tags(1)), facts(&tags(7)));
        assert_eq!(facts(&tags(1)), json!({ "status": "OK", "details": {} }));
        let newer = |highest: &str, total: u64| {
            row(
                "version_newer",
                Outcome::ok("newer")
                    .detail("highest", highest)
                    .detail("tags", total),
            )
        };
        assert_eq!(facts(&newer("v1.0.0", 3)), facts(&newer("v1.0.0", 4)));
        assert_ne!(facts(&newer("v1.0.0", 3)), facts(&newer("v1.1.0", 3)));
        // Another row keeps every detail, and its status counts.
        let clean = |status: Outcome| row("clean_tree", status.detail("changes", vec!["a"]));
        assert_ne!(
            facts(&clean(Outcome::ok("x"))),
            facts(&clean(Outcome::fail("x")))
        );
        assert_eq!(
            facts(&clean(Outcome::ok("x")))["details"]["changes"],
            json!(["a"])
        );
    }

    #[test]
    fn manifest_names_are_plain() {
        for bad in ["", ".", "..", "a/b", "../x", "a\\b", "a\nb"] {
            assert!(!plain_name(bad), "{bad:?}");
        }
        assert!(plain_name("record.json"));
    }

    #[test]
    fn the_operating_systems_reason_is_kept_without_the_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let e = crate::fsutil::write_atomic(&dir.path().join("no/such/x"), b"x").unwrap_err();
        assert_eq!(os_reason(&e), "No such file or directory (os error 2)");
        let e = std::fs::read_dir(dir.path().join("gone")).unwrap_err();
        assert_eq!(os_reason(&e), "No such file or directory (os error 2)");
    }
}
