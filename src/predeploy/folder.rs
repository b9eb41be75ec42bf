//! The evidence folder (`.artifacts/pre-deployment/`, or `--out`): each
//! step's file under the protocol's name, and the manifest, which says
//! what was written (size, SHA-256) and what is missing.
//!
//! Every file is written whole (a temporary name, then a rename) and every
//! text scrubbed of secrets; the files are flushed to disk together when
//! the run ends ([`Folder::flush`]), one flush for the lot rather than one
//! per write (the manifest alone is written up to ten times). What the
//! files say is the steps' business; files of the folder that are not the
//! protocol's are left alone.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::protocol::{MANIFEST, STEPS};
use crate::report::CheckResult;
use crate::secrets::Scrubber;

/// A file of the evidence (or the folder) could not be written: the run
/// stops, since evidence that cannot be kept is no evidence.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {what}: {source}")]
pub struct WriteError {
    pub what: String,
    pub source: io::Error,
}

/// The evidence folder of one run.
pub struct Folder<'a> {
    dir: PathBuf,
    scrubber: &'a Scrubber,
}

impl<'a> Folder<'a> {
    /// The folder at `dir`, every text written through `scrubber`.
    pub fn new(dir: PathBuf, scrubber: &'a Scrubber) -> Self {
        Self { dir, scrubber }
    }

    /// Where the folder is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a file of the folder is.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The folder as a whole could not be written.
    pub fn unwritable(&self, source: io::Error) -> WriteError {
        WriteError {
            what: format!("the evidence to {}", self.dir.display()),
            source,
        }
    }

    /// Create the folder and remove a previous run's files, so that the
    /// manifest and the folder tell the same story.
    pub fn clear(&self) -> Result<(), WriteError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.unwritable(e))?;
        for name in files() {
            match std::fs::remove_file(self.path(name)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(self.unwritable(e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Write a file whole, scrubbed; [`Folder::flush`] puts it on disk.
    pub fn write(&self, name: &str, text: &str) -> Result<(), WriteError> {
        let clean = self.scrubber.scrub(text);
        crate::fsutil::write_whole(&self.path(name), clean.as_bytes()).map_err(|e| WriteError {
            what: self.path(name).display().to_string(),
            source: e,
        })
    }

    /// Write a JSON document, every string scrubbed.
    pub fn write_json(&self, name: &str, mut value: Value) -> Result<(), WriteError> {
        crate::report::json::scrub_value(&mut value, self.scrubber);
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        self.write(name, &text)
    }

    /// Write a step's JSON file, `m` followed by its `result` (pass when
    /// there is no problem) and its `problems`.
    pub fn write_result(
        &self,
        name: &str,
        mut m: Map<String, Value>,
        problems: &[String],
    ) -> Result<(), WriteError> {
        let result = if problems.is_empty() { "pass" } else { "fail" };
        m.insert("result".into(), json!(result));
        m.insert("problems".into(), json!(problems));
        self.write_json(name, Value::Object(m))
    }

    /// Write the manifest: `m` (its head), then the run's status, the step
    /// it halted at, the steps so far (`rows`), and the protocol's files:
    /// those written (size, SHA-256) and those missing.
    pub fn write_manifest(
        &self,
        mut m: Map<String, Value>,
        rows: &[CheckResult],
        halted: Option<&str>,
        interrupted: bool,
    ) -> Result<(), WriteError> {
        let mut artifacts = Vec::new();
        let mut missing = Vec::new();
        for s in STEPS {
            let p = self.path(s.file);
            match (std::fs::metadata(&p), crate::digest::sha256_file(&p)) {
                (Ok(m), Ok(sha)) if m.is_file() => artifacts.push(json!({
                    "file": s.file, "gate": s.gate, "step": s.id, "size": m.len(), "sha256": sha,
                })),
                _ => missing.push(json!({"file": s.file, "gate": s.gate, "step": s.id})),
            }
        }
        let done = rows.len() == STEPS.len();
        let status = if interrupted {
            "interrupted"
        } else if halted.is_some() {
            "halted"
        } else if done && missing.is_empty() {
            "complete"
        } else {
            "in_progress"
        };
        m.insert("status".into(), json!(status));
        m.insert("halted_at".into(), json!(halted));
        m.insert(
            "steps".into(),
            json!(rows.iter().map(|r| json!({"step": r.id, "status": r.status().as_str(), "message": r.outcome.message})).collect::<Vec<_>>()),
        );
        m.insert("artifacts".into(), json!(artifacts));
        m.insert("missing".into(), json!(missing));
        self.write_json(MANIFEST, Value::Object(m))
    }

    /// Flush the protocol's files and the manifest to disk, all at once.
    pub fn flush(&self) -> Result<(), WriteError> {
        let paths: Vec<PathBuf> = files().map(|name| self.path(name)).collect();
        crate::fsutil::sync(&paths).map_err(|e| self.unwritable(e))
    }
}

/// The protocol's files: each step's, and the manifest.
fn files() -> impl Iterator<Item = &'static str> {
    STEPS.iter().map(|s| s.file).chain([MANIFEST])
}
