//! Backups: a backup is there, intact and recent. The manifest (JSON)
//! lists the backup's files, relative to its own folder, with their sizes
//! and SHA-256, when the backup was made, and a reference to the restore
//! drill that proved it can be restored. Missing, modified and stale are
//! named. Used by `backup verify` and by `golive`'s backup item.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::report::{CheckResult, Kind, Outcome};
use crate::text::list_some;

/// The backup check's report.
pub static KIND: Kind = Kind {
    name: "backup",
    title: "BACKUP",
    heading: "Backup",
    final_id: "backup",
    marker: "BACKUP",
    ..Kind::CHECKS
};

/// How old a backup may be, by default.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// `[backup]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub max_age: Option<String>,
    pub require_drill: Option<bool>,
    /// The manifest `golive` checks.
    pub manifest: Option<String>,
}

/// Validate `[backup]` (its defaults are read where they are used).
pub fn validate(raw: Raw, problems: &mut crate::config::values::Problems) -> Raw {
    if let Some(age) = &raw.max_age
        && humantime::parse_duration(age.trim()).is_err()
    {
        problems.push(
            "backup.max_age",
            format!(
                "{} is not a duration like \"24h\"",
                crate::sanitize::quoted(age)
            ),
        );
    }
    raw
}

/// A backup manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub created_at: String,
    pub files: Vec<File>,
    pub restore_drill: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct File {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// The rows for a manifest: files, age, drill.
pub fn check(
    manifest: &Path,
    max_age: Duration,
    require_drill: bool,
    now: std::time::SystemTime,
) -> Vec<CheckResult> {
    let shown = crate::sanitize::ascii(&manifest.display().to_string());
    let m: Manifest = match crate::fsutil::read_regular(manifest, 16 * 1024 * 1024)
        .and_then(|d| serde_json::from_slice(&d).map_err(|e| format!("not a backup manifest: {e}")))
    {
        Ok(m) => m,
        Err(why) => {
            return vec![CheckResult::untimed(
                "manifest",
                Outcome::fail(format!("{shown}: {why}")),
            )];
        }
    };
    let dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    // Every file, hashed on a few threads. Each thread takes whichever
    // file is next, so a result carries its file's index: the files are
    // named by it, never by the order the results came back in.
    let indices: Vec<usize> = (0..m.files.len()).collect();
    let Some(parts) = crate::par::fold(&indices, crate::par::threads(4), Vec::new, |acc, &i| {
        acc.push((i, one(&dir, &m.files[i])));
    }) else {
        // A worker that failed checked nothing: never a pass.
        return vec![CheckResult::untimed(
            "files",
            Outcome::fail(format!("{shown}: the files could not be checked")),
        )];
    };
    let mut results: Vec<(usize, Problem)> = parts.into_iter().flatten().collect();
    results.sort_by_key(|(i, _)| *i);
    let (mut missing, mut modified, mut wrong) = (Vec::new(), Vec::new(), Vec::new());
    for (f, (_, r)) in m.files.iter().zip(&results) {
        match r {
            Problem::None => {}
            Problem::Missing(why) => missing.push(format!("{} ({why})", f.path)),
            Problem::Size(n) => wrong.push(format!(
                "{} ({n} bytes, the manifest says {})",
                f.path, f.size
            )),
            Problem::Digest => modified.push(f.path.clone()),
        }
    }
    let mut rows = Vec::new();
    let problems: Vec<String> = [
        ("missing", &missing),
        ("modified", &modified),
        ("wrong size", &wrong),
    ]
    .into_iter()
    .filter(|(_, l)| !l.is_empty())
    .map(|(w, l)| format!("{w}: {}", list_some(l, 3)))
    .collect();
    rows.push(CheckResult::untimed(
        "files",
        if m.files.is_empty() {
            Outcome::fail("the manifest lists no file: a backup of nothing")
        } else if problems.is_empty() && results.len() == m.files.len() {
            Outcome::ok(format!(
                "{} present and intact",
                crate::text::count(m.files.len(), "file")
            ))
        } else {
            Outcome::fail(problems.join("; "))
        }
        .detail("missing", missing)
        .detail("modified", modified)
        .detail("wrong_size", wrong),
    ));
    let created = crate::clock::parse_rfc3339(&m.created_at);
    rows.push(CheckResult::untimed(
        "age",
        match created {
            None => Outcome::fail(format!(
                "created_at {} is not an RFC 3339 time",
                crate::sanitize::quoted(&m.created_at)
            )),
            Some(t) => match now.duration_since(t) {
                Err(e) => Outcome::fail(format!(
                    "created {} in the future ({}): clock skew, or a forged manifest",
                    humantime::format_duration(Duration::from_secs(e.duration().as_secs())),
                    m.created_at
                )),
                Ok(age) if age > max_age => Outcome::fail(format!(
                    "STALE: created {} ago ({}); max age {}",
                    humantime::format_duration(Duration::from_secs(age.as_secs())),
                    m.created_at,
                    humantime::format_duration(max_age)
                )),
                Ok(age) => Outcome::ok(format!(
                    "created {} ago ({}); max age {}",
                    humantime::format_duration(Duration::from_secs(age.as_secs())),
                    m.created_at,
                    humantime::format_duration(max_age)
                )),
            },
        },
    ));
    rows.push(CheckResult::untimed(
        "drill",
        match (
            m.restore_drill.as_deref().filter(|d| !d.trim().is_empty()),
            require_drill,
        ) {
            (Some(d), _) => Outcome::ok(format!("restore drill {}", crate::sanitize::quoted(d))),
            (None, true) => {
                Outcome::fail("no restore drill is referenced, and backup.require_drill is set")
            }
            (None, false) => Outcome::ok("no restore drill referenced (not required)"),
        },
    ));
    rows
}

enum Problem {
    None,
    Missing(String),
    Size(u64),
    Digest,
}

/// One file of the backup: read only under the manifest's folder, through
/// no link (the manifest is data, and could name anything): each folder
/// on the way and the file are opened without following links, and the
/// size is the opened file's.
fn one(dir: &Path, f: &File) -> Problem {
    if let Some(why) = crate::fsutil::unsafe_name(&f.path) {
        return Problem::Missing(format!("refused: {why}"));
    }
    let base = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    match crate::fsutil::open_beneath(base, &f.path) {
        Ok((file, meta)) => {
            if meta.len() != f.size {
                return Problem::Size(meta.len());
            }
            match crate::digest::sha256_of(file) {
                Ok(d) if d.eq_ignore_ascii_case(&f.sha256) => Problem::None,
                Ok(_) => Problem::Digest,
                Err(e) => Problem::Missing(e.to_string()),
            }
        }
        Err(why) if why.contains("symbolic link") => Problem::Missing(format!(
            "refused: {}; a backup's files are read only under its manifest's folder",
            why.trim_start_matches("it is ")
        )),
        Err(why) => Problem::Missing(why.trim_start_matches("it is ").to_string()),
    }
}
