//! The release bundle: a reproducible zip of the files a release ships,
//! with `MANIFEST.json` inside, `<zip>.sha256` beside it (GNU format, as
//! `sha256sum -c` reads it) and an unsigned in-toto Statement v1 (subject:
//! the zip and its digest), ready for `cosign attest`. And its check,
//! `bundle verify`, which trusts nothing in the archive.
//!
//! Reproducible: the same files and version give the same bytes on any
//! machine. Entries are sorted, carry one fixed time (the commit's, or
//! `SOURCE_DATE_EPOCH`), permissions 0644 (0755 when executable), no owner
//! and no extra fields, and are compressed with deflate level 6. Files are
//! compressed and hashed in one read, on several threads, each into a
//! partial archive of its own; the partials' compressed entries are then
//! copied, in order, into the bundle, unchanged. Everything is written to
//! temporary names and renamed at the end: nothing half-written is left.

pub mod run;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::digest::sha256_of;
use crate::fsutil::{Found, literal_prefix, walk};

/// The manifest's name inside the bundle.
pub const MANIFEST: &str = "MANIFEST.json";
/// The in-toto predicate type of the statement.
pub const PREDICATE_TYPE: &str = "https://github.com/release-sentinel/bundle/v1";
/// The most a verified bundle may expand to, in all.
pub const MAX_TOTAL: u64 = 16 * 1024 * 1024 * 1024;
/// An entry larger than this must not expand more than [`MAX_RATIO`].
const RATIO_FLOOR: u64 = 8 * 1024 * 1024;
/// How many times its compressed size a large entry may expand.
pub const MAX_RATIO: u64 = 100;

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub description: String,
}

/// `MANIFEST.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: String,
    pub created_at: String,
    pub files: Vec<Record>,
}

/// A file to bundle: its path in the bundle (and under `base`, the folder
/// it is read from), what it is, and, when it was looked at before, the
/// device and inode it had then: the file opened must be that one.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub base: PathBuf,
    pub description: String,
    pub id: Option<(u64, u64)>,
}

impl Entry {
    /// Where the file is.
    pub fn full(&self) -> PathBuf {
        self.base.join(&self.path)
    }
}

/// What `build` made.
#[derive(Debug, Clone)]
pub struct Built {
    pub zip: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub checksum_file: PathBuf,
    pub statement: PathBuf,
    pub manifest: Manifest,
}

/// The last time a zip holds: 2107-12-31T23:59:59Z, in unix seconds.
pub const LAST_ZIP_TIME: u64 = 4_354_819_199;

/// The bundle's fixed time: unix seconds as a zip time (which starts in
/// 1980: anything earlier is 1980-01-01) and as RFC 3339. Callers refuse a
/// time after [`LAST_ZIP_TIME`]; it is held to that here, never added
/// unchecked.
pub fn fixed_time(unix: u64) -> (DateTime, String) {
    let rfc = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.min(LAST_ZIP_TIME)),
    )
    .to_string();
    // "YYYY-MM-DDTHH:MM:SSZ"
    let num = |a: usize, b: usize| rfc.get(a..b).and_then(|s| s.parse::<u16>().ok());
    let dos = match (
        num(0, 4),
        num(5, 7),
        num(8, 10),
        num(11, 13),
        num(14, 16),
        num(17, 19),
    ) {
        (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) if y >= 1980 => {
            DateTime::from_date_and_time(y, mo as u8, d as u8, h as u8, mi as u8, s as u8)
                .unwrap_or_default()
        }
        _ => DateTime::default(),
    };
    (dos, rfc)
}

/// An entry's options. `large` (ZIP64 headers) is set for a file of 4 GiB
/// or more, and only then: it depends on the file's size alone, so the
/// bytes stay the same from one build to the next.
fn options(time: DateTime, executable: bool, large: bool) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(time)
        .unix_permissions(if executable { 0o755 } else { 0o644 })
        .large_file(large)
}

/// The size from which an entry needs ZIP64 headers (the 32-bit fields'
/// largest value is their "see ZIP64" marker).
const ZIP64_FROM: u64 = 0xFFFF_FFFF;

/// Compress `entries` into a partial archive in `dir`; the records, in
/// the entries' order.
fn partial(
    entries: &[&Entry],
    dir: &Path,
    time: DateTime,
) -> Result<(tempfile::NamedTempFile, Vec<Record>), String> {
    let tmp = tempfile::Builder::new()
        .prefix(".bundle-part.")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a temporary file in {}: {e}", dir.display()))?;
    crate::interrupt::remove_if_abandoned(tmp.path());
    let file = tmp.reopen().map_err(|e| e.to_string())?;
    let mut zip = ZipWriter::new(std::io::BufWriter::new(file));
    let mut records = Vec::with_capacity(entries.len());
    let mut buf = vec![0u8; 256 * 1024];
    for e in entries {
        // Opened without following a link anywhere on the way, and checked
        // on the handle: what is read is what was listed, even if the name
        // was swapped for a link since.
        let (mut f, meta) = crate::fsutil::open_beneath(&e.base, &e.path).map_err(|why| {
            if why.starts_with("it is a symbolic link") {
                format!(
                    "{} is a symbolic link; a bundle holds regular files",
                    e.path
                )
            } else {
                format!("{}: {why}", e.path)
            }
        })?;
        if e.id.is_some_and(|id| id != (meta.dev(), meta.ino())) {
            return Err(format!(
                "{} was replaced while the bundle was built (another file is there now)",
                e.path
            ));
        }
        let executable = meta.mode() & 0o111 != 0;
        zip.start_file(
            e.path.as_str(),
            options(time, executable, meta.len() >= ZIP64_FROM),
        )
        .map_err(|err| format!("{}: {err}", e.path))?;
        let (mut h, mut size) = (Sha256::new(), 0u64);
        loop {
            // SIGINT, SIGTERM: stop; dropping the partial file removes it.
            if crate::interrupt::requested() {
                return Err("interrupted".to_string());
            }
            let n = f
                .read(&mut buf)
                .map_err(|err| format!("{}: {err}", e.path))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            zip.write_all(&buf[..n])
                .map_err(|err| format!("{}: {err}", e.path))?;
            size += n as u64;
        }
        records.push(Record {
            path: e.path.clone(),
            size,
            sha256: crate::digest::hex(&h.finalize()),
            description: e.description.clone(),
        });
    }
    let mut out = zip.finish().map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    Ok((tmp, records))
}

/// Build `<name>-v<version>.zip` in `out` from `entries` (sorted by path,
/// unique), with the fixed `unix` time, on up to `threads` threads.
pub fn build(
    entries: &[Entry],
    name: &str,
    version: &str,
    unix: u64,
    out: &Path,
    threads: usize,
) -> Result<Built, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let file_name = format!("{name}-v{}.zip", version.trim_start_matches('v'));
    let zip = zip_temporary(entries, version, unix, out, &file_name, threads)?;
    zip.tmp.as_file().sync_all().map_err(|e| e.to_string())?;
    place(out, &file_name, zip)
}

/// The zip, written under a temporary name, with what was learnt writing it.
struct Written {
    tmp: tempfile::NamedTempFile,
    sha256: String,
    size: u64,
    manifest: Manifest,
}

/// The bundle's write step: the `.sha256` and the statement of the zip
/// `written`, each to a temporary name of its own, then the three put in
/// place together. All three appear, or none: when one cannot be put in
/// place, those already placed are removed again.
fn place(out: &Path, file_name: &str, written: Written) -> Result<Built, String> {
    let Written {
        tmp,
        sha256,
        size,
        manifest,
    } = written;
    let zip_path = out.join(file_name);
    let checksum_file = out.join(format!("{file_name}.sha256"));
    let checksum = crate::fsutil::temporary(
        out,
        &format!("{file_name}.sha256"),
        format!("{sha256}  {file_name}\n").as_bytes(),
    )?;
    let statement = out.join(format!("{file_name}.intoto.json"));
    let doc = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": file_name, "digest": { "sha256": sha256 } }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "version": manifest.version,
            "created_at": manifest.created_at,
            "files": manifest.files.len(),
            "manifest": MANIFEST,
        },
    });
    let mut text = serde_json::to_vec_pretty(&doc).map_err(|e| e.to_string())?;
    text.push(b'\n');
    let statement_tmp = crate::fsutil::temporary(out, &format!("{file_name}.intoto.json"), &text)?;
    crate::fsutil::place_all(vec![
        (tmp, zip_path.clone()),
        (checksum, checksum_file.clone()),
        (statement_tmp, statement.clone()),
    ])?;
    Ok(Built {
        zip: zip_path,
        sha256,
        size,
        checksum_file,
        statement,
        manifest,
    })
}

/// The reproducible zip alone: `entries` with `MANIFEST.json` first, at
/// `zip_path` (written under a temporary name, flushed to disk when `flush`
/// says so, then renamed). Returns its SHA-256, its size and the manifest.
pub fn write_zip(
    entries: &[Entry],
    version: &str,
    unix: u64,
    zip_path: &Path,
    threads: usize,
    flush: bool,
) -> Result<(String, u64, Manifest), String> {
    let out = match zip_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = zip_path
        .file_name()
        .map_or("bundle.zip".into(), |n| n.to_string_lossy().into_owned());
    let w = zip_temporary(entries, version, unix, out, &file_name, threads)?;
    if flush {
        w.tmp.as_file().sync_all().map_err(|e| e.to_string())?;
    }
    w.tmp
        .persist(zip_path)
        .map_err(|e| crate::fsutil::plain(&e.error).to_string())?;
    Ok((w.sha256, w.size, w.manifest))
}

/// The reproducible zip, under a temporary name in `out`, not yet flushed
/// to disk.
fn zip_temporary(
    entries: &[Entry],
    version: &str,
    unix: u64,
    out: &Path,
    file_name: &str,
    threads: usize,
) -> Result<Written, String> {
    let (time, created_at) = fixed_time(unix);
    // Big files first over the threads, each thread a partial archive
    // (the sizes only share the work out: what is read is checked later).
    let sizes: BTreeMap<&str, u64> = entries
        .iter()
        .map(|e| {
            let len = std::fs::symlink_metadata(e.full()).map_or(0, |m| m.len());
            (e.path.as_str(), len)
        })
        .collect();
    let size_of = |e: &Entry| sizes.get(e.path.as_str()).copied().unwrap_or(0);
    let mut order: Vec<&Entry> = entries.iter().collect();
    order.sort_by_key(|e| std::cmp::Reverse(size_of(e)));
    let threads = threads.clamp(1, entries.len().max(1));
    let mut shares: Vec<Vec<&Entry>> = vec![Vec::new(); threads];
    let mut loads = vec![0u64; threads];
    for e in order {
        let i = (0..threads).min_by_key(|&i| loads[i]).unwrap_or(0);
        loads[i] += size_of(e) + 1;
        shares[i].push(e);
    }
    let parts = crate::par::fold(&shares, threads, Vec::new, |acc, share| {
        acc.push(partial(share, out, time));
    })
    .ok_or("compressing failed unexpectedly")?;
    let mut archives = Vec::new();
    let mut records: BTreeMap<String, (usize, Record)> = BTreeMap::new();
    for part in parts.into_iter().flatten() {
        let (tmp, recs) = part?;
        let file = File::open(tmp.path()).map_err(|e| e.to_string())?;
        let archive = ZipArchive::new(BufReader::new(file)).map_err(|e| e.to_string())?;
        for r in recs {
            records.insert(r.path.clone(), (archives.len(), r));
        }
        archives.push((tmp, archive));
    }
    let manifest = Manifest {
        version: version.to_string(),
        created_at,
        files: records.values().map(|(_, r)| r.clone()).collect(),
    };
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(out)
        .map_err(|e| crate::fsutil::plain(&e).to_string())?;
    crate::interrupt::remove_if_abandoned(tmp.path());
    {
        let file = tmp.reopen().map_err(|e| e.to_string())?;
        let mut zip = ZipWriter::new(std::io::BufWriter::new(file));
        let mut text = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
        text.push(b'\n');
        zip.start_file(MANIFEST, options(time, false, false))
            .map_err(|e| e.to_string())?;
        zip.write_all(&text).map_err(|e| e.to_string())?;
        for (path, (part, _)) in &records {
            if crate::interrupt::requested() {
                return Err("interrupted".to_string());
            }
            let archive = &mut archives[*part].1;
            let entry = archive.by_name(path).map_err(|e| e.to_string())?;
            zip.raw_copy_file(entry).map_err(|e| e.to_string())?;
        }
        let mut w = zip.finish().map_err(|e| e.to_string())?;
        w.flush().map_err(|e| e.to_string())?;
    }
    drop(archives);
    let mut file = tmp.reopen().map_err(|e| e.to_string())?;
    file.rewind().map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    let sha256 = sha256_of(file).map_err(|e| e.to_string())?;
    Ok(Written {
        tmp,
        sha256,
        size,
        manifest,
    })
}

/// Why an entry name is unsafe to extract, if it is (the one check of a
/// relative path, in [`crate::fsutil`]).
pub use crate::fsutil::unsafe_name;

/// What `verify` found.
#[derive(Debug)]
pub struct Verified {
    /// The checksum file's verdict: `Ok(hex)` or why not.
    pub checksum: Result<String, String>,
    /// The in-toto statement's verdict, when there is one.
    pub statement: Option<Result<(), String>>,
    /// Entries refused: name, why.
    pub unsafe_entries: Vec<(String, String)>,
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    pub modified: Vec<String>,
    pub wrong_size: Vec<String>,
    pub checked: usize,
    /// Why the archive or its manifest could not be read at all.
    pub unreadable: Option<String>,
}

/// Check a bundle: its checksum file, its statement, every entry's name,
/// size and digest against the manifest, with bounded expansion.
pub fn verify(zip_path: &Path) -> Verified {
    let mut v = Verified {
        checksum: Err("not checked".to_string()),
        statement: None,
        unsafe_entries: Vec::new(),
        missing: Vec::new(),
        extra: Vec::new(),
        modified: Vec::new(),
        wrong_size: Vec::new(),
        checked: 0,
        unreadable: None,
    };
    let name = zip_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Opened once, refused before any read when it is not a regular file
    // (a FIFO would block, a device never end); the digest and the archive
    // are read from this one handle.
    let opened = crate::fsutil::open_regular(zip_path);
    let actual = match &opened {
        Ok(f) => f.try_clone().and_then(sha256_of).map_err(|e| e.to_string()),
        Err(why) => Err(why.clone()),
    };
    let sum_path = PathBuf::from(format!("{}.sha256", zip_path.display()));
    v.checksum = match (&actual, crate::fsutil::read_regular(&sum_path, 4096)) {
        (Err(e), _) => Err(format!("cannot read {name}: {e}")),
        (_, Err(why)) => Err(format!("{}.sha256: {why}", name)),
        (Ok(actual), Ok(text)) => {
            let text = String::from_utf8_lossy(&text);
            let mut parts = text.split_whitespace();
            match (
                parts.next(),
                parts.next().map(|p| p.trim_start_matches('*')),
            ) {
                (Some(sum), Some(file)) if file == name && sum.eq_ignore_ascii_case(actual) => {
                    Ok(actual.clone())
                }
                (Some(_), Some(file)) if file != name => {
                    Err(format!("{name}.sha256 names {file}, not {name}"))
                }
                (Some(sum), Some(_)) => Err(format!(
                    "{name} has SHA-256 {actual}, but {name}.sha256 says {sum}"
                )),
                _ => Err(format!("{name}.sha256 is not a sha256sum line")),
            }
        }
    };
    let st_path = PathBuf::from(format!("{}.intoto.json", zip_path.display()));
    if std::fs::symlink_metadata(&st_path).is_ok() {
        v.statement = Some(
            match (&actual, crate::fsutil::read_regular(&st_path, 1024 * 1024)) {
                (Ok(actual), Ok(text)) => {
                    match serde_json::from_slice::<serde_json::Value>(&text) {
                        Ok(doc)
                            if doc["subject"][0]["digest"]["sha256"] == actual.as_str()
                                && doc["subject"][0]["name"] == name.as_str() =>
                        {
                            Ok(())
                        }
                        Ok(_) => {
                            Err("the statement's subject is not this bundle and its digest".into())
                        }
                        Err(e) => Err(format!("not JSON: {e}")),
                    }
                }
                (Err(e), _) => Err(e.to_string()),
                (_, Err(why)) => Err(why),
            },
        );
    }
    let reader = opened.and_then(|f| {
        let mut r = f.try_clone().map_err(|e| e.to_string())?;
        r.rewind().map_err(|e| e.to_string())?;
        Ok((f, r))
    });
    let (held, file) = match reader {
        Ok(both) => both,
        Err(why) => {
            v.unreadable = Some(format!("cannot read {name}: {why}"));
            return v;
        }
    };
    let mut archive = match ZipArchive::new(BufReader::new(file)) {
        Ok(a) => a,
        Err(e) => {
            v.unreadable = Some(format!("{name} is not a zip archive: {e}"));
            return v;
        }
    };
    // The archive reader keeps one entry per name: a name held twice
    // (the copy a check reads need not be the one an unzip leaves) is
    // found in the central directory itself.
    if archive.has_duplicate_names() {
        let twice = held.try_clone().map_or_else(
            |_| Vec::new(),
            |f| names_held_twice(f, archive.central_directory_start()),
        );
        if twice.is_empty() {
            v.unsafe_entries
                .push(("?".into(), "a name the archive holds twice".into()));
        }
        for n in twice {
            v.unsafe_entries
                .push((n, "a name the archive holds twice".into()));
        }
    }
    // Every entry's name and kind first, and what each declares.
    let mut declared: BTreeMap<String, usize> = BTreeMap::new();
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let Ok(entry) = archive.by_index_raw(i) else {
            v.unsafe_entries
                .push((format!("#{i}"), "an entry that cannot be read".into()));
            continue;
        };
        let entry_name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        if let Some(why) = unsafe_name(&entry_name) {
            v.unsafe_entries.push((entry_name, why.into()));
            continue;
        }
        if entry.is_symlink() {
            v.unsafe_entries.push((
                entry_name,
                "a symbolic link (it could point out of the bundle)".into(),
            ));
            continue;
        }
        if entry.is_dir() {
            continue;
        }
        let (size, packed) = (entry.size(), entry.compressed_size().max(1));
        if size > RATIO_FLOOR && size / packed > MAX_RATIO {
            v.unsafe_entries.push((
                entry_name,
                format!(
                    "expands {}x ({size} bytes from {packed}): more than {MAX_RATIO}x",
                    size / packed
                ),
            ));
            continue;
        }
        total = total.saturating_add(size);
        if declared.insert(entry_name.clone(), i).is_some() {
            v.unsafe_entries
                .push((entry_name, "a name the archive holds twice".into()));
        }
    }
    if total > MAX_TOTAL {
        v.unreadable = Some(format!(
            "it expands to {total} bytes, more than the {MAX_TOTAL} allowed"
        ));
        return v;
    }
    if !v.unsafe_entries.is_empty() {
        return v;
    }
    let manifest: Manifest = match declared
        .get(MANIFEST)
        .map(|&i| read_entry(&mut archive, i, 64 * 1024 * 1024))
    {
        Some(Ok((bytes, _))) => match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => {
                v.unreadable = Some(format!("{MANIFEST} is not a manifest: {e}"));
                return v;
            }
        },
        Some(Err(why)) => {
            v.unreadable = Some(format!("{MANIFEST}: {why}"));
            return v;
        }
        None => {
            v.unreadable = Some(format!("{name} has no {MANIFEST}"));
            return v;
        }
    };
    let listed: BTreeMap<&str, &Record> = manifest
        .files
        .iter()
        .map(|r| (r.path.as_str(), r))
        .collect();
    for (path, &i) in &declared {
        if path == MANIFEST {
            continue;
        }
        let Some(record) = listed.get(path.as_str()) else {
            v.extra.push(path.clone());
            continue;
        };
        v.checked += 1;
        // The size the archive declares is compared with the manifest's
        // before anything is inflated: a file of another size is named
        // with both, and never read past the manifest's size.
        let in_archive = archive.by_index_raw(i).map(|e| e.size()).ok();
        if let Some(size) = in_archive.filter(|s| *s != record.size) {
            v.wrong_size.push(format!(
                "{path} ({size} bytes, the manifest says {})",
                record.size
            ));
            continue;
        }
        match read_entry(&mut archive, i, record.size.saturating_add(1)) {
            Ok((_, (_, digest))) => {
                if digest != record.sha256 {
                    v.modified.push(path.clone());
                }
            }
            // The archive's header agrees with the manifest here, so its
            // size is the manifest's: the data disagrees with both.
            Err(why) => v.modified.push(format!("{path} ({why})")),
        }
    }
    for r in &manifest.files {
        if !declared.contains_key(&r.path) {
            v.missing.push(r.path.clone());
        }
    }
    v
}

/// The names that the central directory of the zip `file`, which
/// starts at `start`, holds more than once. Reads header after header
/// until one does not start with the central header's signature (or the
/// file ends), so it is bounded by the file's size.
fn names_held_twice(file: File, start: u64) -> Vec<String> {
    let mut r = BufReader::new(file);
    if r.seek(std::io::SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut seen: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut head = [0u8; 46];
    while r.read_exact(&mut head).is_ok() && head[..4] == *b"PK\x01\x02" {
        let field = |at: usize| u16::from_le_bytes([head[at], head[at + 1]]);
        let (name_len, skip) = (field(28), i64::from(field(30)) + i64::from(field(32)));
        let mut name = vec![0u8; usize::from(name_len)];
        if r.read_exact(&mut name).is_err() || r.seek_relative(skip).is_err() {
            break;
        }
        *seen.entry(name).or_default() += 1;
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, _)| String::from_utf8_lossy(&name).into_owned())
        .collect()
}

/// Read entry `i`, at most `cap` bytes: its bytes (kept up to 64 MiB), its
/// size and digest. A mismatch with the declared size is an error.
fn read_entry<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    i: usize,
    cap: u64,
) -> Result<(Vec<u8>, (u64, String)), String> {
    let entry = archive.by_index(i).map_err(|e| e.to_string())?;
    let declared = entry.size();
    let mut limited = entry.take(cap);
    let (mut h, mut size, mut kept) = (Sha256::new(), 0u64, Vec::new());
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = limited
            .read(&mut buf)
            .map_err(|e| format!("cannot inflate: {e}"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
        if kept.len() < 64 * 1024 * 1024 {
            kept.extend_from_slice(&buf[..n]);
        }
    }
    if size != declared {
        // Reading stops at `cap`: past the declared size, the count is
        // only a lower bound.
        let inflated = if size >= cap && cap > declared {
            format!("more than {declared} bytes")
        } else {
            format!("{size} bytes")
        };
        return Err(format!("{inflated} inflated, {declared} declared"));
    }
    Ok((kept, (size, crate::digest::hex(&h.finalize()))))
}

/// The bundle's report (and its check's).
pub static KIND: crate::report::Kind = crate::report::Kind {
    name: "bundle",
    title: "BUNDLE",
    title_target: true,
    heading: "Release bundle",
    final_id: "bundle",
    marker: "BUNDLE",
    ..crate::report::Kind::CHECKS
};

/// An archive's fixed time: `SOURCE_DATE_EPOCH`, else HEAD's commit time.
/// A time a zip cannot hold (after 2107) is refused, named, never wrapped
/// or replaced.
pub fn archive_time(
    repo: &crate::git::Opened,
    vars: &crate::envsnap::EnvSnapshot,
) -> Result<u64, String> {
    let last = LAST_ZIP_TIME;
    match vars.non_empty("SOURCE_DATE_EPOCH") {
        Some(v) => match v.trim().parse::<u64>() {
            Ok(t) if t <= last => Ok(t),
            Ok(_) => Err(format!(
                "SOURCE_DATE_EPOCH {}: out of range: a zip holds times up to \
                 2107-12-31T23:59:59Z ({last} unix seconds)",
                crate::sanitize::quoted(v)
            )),
            Err(_) => Err(format!(
                "SOURCE_DATE_EPOCH {}: not unix seconds",
                crate::sanitize::quoted(v)
            )),
        },
        None => match repo {
            Ok(r) => {
                let t = r
                    .repo
                    .find_commit(r.head)
                    .map(|c| c.time().seconds())
                    .map_err(|e| format!("cannot read HEAD's time: {}", e.message()))?;
                // Before 1970 is the zip's earliest time (1980) anyway.
                let t = u64::try_from(t).unwrap_or(0);
                if t > last {
                    return Err(format!(
                        "HEAD's commit time ({t} unix seconds) is after 2107, the last time a \
                         zip holds; set SOURCE_DATE_EPOCH"
                    ));
                }
                Ok(t)
            }
            Err(e) => Err(format!(
                "no commit to take the archive's time from ({}); set SOURCE_DATE_EPOCH",
                e.message
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_times_read_the_same_way() {
        let (_, rfc) = fixed_time(1_700_000_000);
        assert_eq!(rfc, "2023-11-14T22:13:20Z");
        let (dos, _) = fixed_time(0);
        assert_eq!(dos, DateTime::default());
    }
}

/// `[bundle]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub name: Option<String>,
    pub out: Option<String>,
    /// Recent reports to add, by glob (each described as a report).
    pub reports: Option<String>,
    pub files: Option<Vec<RawFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub path: String,
    /// What the manifest says the file is; `path` as written when left out.
    pub description: Option<String>,
}

/// One `[[bundle.files]]`: a path or a glob, relative to the root.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub text: String,
    pub description: String,
    /// Set when the text is a glob.
    pub glob: Option<globset::GlobMatcher>,
}

/// The validated `[bundle]`.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub name: Option<String>,
    pub out: String,
    pub reports: Option<Pattern>,
    pub files: Vec<Pattern>,
}

/// The default output folder, relative to the root.
pub const OUT: &str = "artifacts/release";

fn pattern(
    text: &str,
    description: &str,
    key: &str,
    problems: &mut crate::config::values::Problems,
) -> Option<Pattern> {
    let is_glob = text.contains(['*', '?', '[', '{']);
    if let Some(why) = unsafe_name(text) {
        problems.push(
            key,
            format!(
                "{}: {why}; paths are relative to the repository root",
                crate::sanitize::quoted(text)
            ),
        );
        return None;
    }
    let glob = if is_glob {
        match globset::GlobBuilder::new(text)
            .literal_separator(true)
            .build()
        {
            Ok(g) => Some(g.compile_matcher()),
            Err(e) => {
                problems.push(
                    key,
                    format!(
                        "invalid glob {}: {}",
                        crate::sanitize::quoted(text),
                        e.kind()
                    ),
                );
                return None;
            }
        }
    } else {
        None
    };
    Some(Pattern {
        text: text.to_string(),
        description: description.to_string(),
        glob,
    })
}

/// Validate `[bundle]`.
pub fn validate(raw: Raw, problems: &mut crate::config::values::Problems) -> Bundle {
    let mut files = Vec::new();
    for (i, f) in raw.files.unwrap_or_default().into_iter().enumerate() {
        let key = format!("bundle.files[{i}].path");
        let description = f.description.unwrap_or_else(|| f.path.clone());
        if description.trim().is_empty() {
            problems.push(
                format!("bundle.files[{i}].description"),
                "describe the file, or leave the key out (the path describes it)",
            );
        }
        files.extend(pattern(&f.path, &description, &key, problems));
    }
    if let Some(name) = &raw.name
        && (name.is_empty()
            || name.contains(['/', '\\'])
            || name.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        problems.push(
            "bundle.name",
            format!(
                "{} is not usable in a file name",
                crate::sanitize::quoted(name)
            ),
        );
    }
    let out = raw.out.unwrap_or_else(|| OUT.to_string());
    if out.trim().is_empty() {
        problems.push("bundle.out", "an empty folder");
    } else if let Some(why) = unsafe_name(&out) {
        // Where the bundle is written, from the config: inside the
        // repository (`--out` may name any folder).
        problems.push(
            "bundle.out",
            format!(
                "{}: {why}; the folder is relative to the repository root (--out DIR names any other)",
                crate::sanitize::quoted(&out)
            ),
        );
    }
    Bundle {
        name: raw.name,
        out,
        reports: raw
            .reports
            .and_then(|r| pattern(&r, "report", "bundle.reports", problems)),
        files,
    }
}

/// The files `bundle` lists, resolved under `root`: every one must exist
/// as a regular file, and every glob match something. Sorted, unique. A
/// glob never matches what is in `out`, the folder the bundle is written
/// to (earlier bundles). Each entry keeps the device and inode it has
/// now: the file read when the bundle is built must be the same one.
pub fn collect(bundle: &Bundle, root: &Path, out: &Path) -> Result<Vec<Entry>, Vec<String>> {
    let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (walk_root, out_dir) = (real(root), real(out));
    let mut walked: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    let mut found: BTreeMap<String, Entry> = BTreeMap::new();
    let mut problems = Vec::new();
    let entry = |path: &str, description: &str, id: (u64, u64)| Entry {
        path: path.to_string(),
        base: root.to_path_buf(),
        description: description.to_string(),
        id: Some(id),
    };
    for p in bundle.files.iter().chain(bundle.reports.iter()) {
        match &p.glob {
            None => {
                let full = root.join(&p.text);
                // A folder on the way that is a link could lead out of the
                // repository: refused like a link to the file itself.
                let linked = Path::new(&p.text)
                    .ancestors()
                    .skip(1)
                    .filter(|a| !a.as_os_str().is_empty())
                    .find(|a| {
                        std::fs::symlink_metadata(root.join(a))
                            .is_ok_and(|m| m.file_type().is_symlink())
                    });
                if let Some(link) = linked {
                    problems.push(format!(
                        "{} is under {}, a symbolic link; a bundle holds the repository's own files",
                        p.text,
                        link.display()
                    ));
                    continue;
                }
                match std::fs::symlink_metadata(&full) {
                    Ok(m) if m.is_file() => {
                        found
                            .entry(p.text.clone())
                            .or_insert_with(|| entry(&p.text, &p.description, (m.dev(), m.ino())));
                    }
                    Ok(m) if m.file_type().is_symlink() => problems.push(format!(
                        "{} is a symbolic link; a bundle holds regular files",
                        p.text
                    )),
                    Ok(_) => problems.push(format!("{} is not a regular file", p.text)),
                    Err(_) => problems.push(format!("{} does not exist", p.text)),
                }
            }
            Some(glob) => {
                let prefix = literal_prefix(&p.text);
                let files = match walked.get(&prefix) {
                    Some(files) => files,
                    None => match walk(&walk_root, &prefix, &out_dir) {
                        Ok(files) => walked.entry(prefix).or_insert(files),
                        Err(unread) => {
                            problems.extend(unread.into_iter().map(|u| format!("{}: {u}", p.text)));
                            continue;
                        }
                    },
                };
                let matched: Vec<&Found> = files
                    .iter()
                    .filter(|(f, _)| glob.is_match(f.as_str()))
                    .collect();
                // Reports are optional; a listed glob must match (told
                // apart by which pattern it is, not by its description,
                // which a listed file may share).
                let optional = bundle.reports.as_ref().is_some_and(|r| std::ptr::eq(r, p));
                if matched.is_empty() && !optional {
                    problems.push(format!("{} matches no file", p.text));
                }
                for (f, id) in matched {
                    found
                        .entry(f.clone())
                        .or_insert_with(|| entry(f, &p.description, *id));
                }
            }
        }
    }
    if found.contains_key(MANIFEST) {
        problems.push(format!(
            "{MANIFEST} is the bundle's own manifest; a file of that name cannot be bundled"
        ));
    }
    if problems.is_empty() {
        Ok(found.into_values().collect())
    } else {
        Err(problems)
    }
}
