//! Files the tool reads and writes: whole or not at all, and never
//! anything that is not a regular file.
//!
//! Writes go to a temporary file created exclusively under an unpredictable
//! name in the target's directory (a link planted there cannot redirect
//! them), then are renamed into place. Reads and appends open without
//! blocking and refuse what is not a regular file, so a FIFO or a device
//! named by mistake (or on purpose) cannot hang the tool or feed it
//! without end.
//!
//! Names relative to a folder are checked here too ([`unsafe_name`],
//! [`linked_part`]), for the config sections and the archives alike: a
//! leaf, so that a section can use it without importing its feature. So
//! is the one walk of a repository's files that never follows a link
//! ([`walk`], under a glob's [`literal_prefix`]), for the bundle and the
//! cron sentinel alike.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Write `data` to `path` atomically: into a new temporary file in the
/// same directory, flushed to disk, then renamed over `path`. A reader
/// never sees a half-written file, even if the tool is killed midway.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    replace(path, data, true)
}

/// [`write_atomic`] without the flush: still whole for every reader (a
/// killed tool leaves the old file or the new one), but on disk only once
/// the system writes it back or [`sync`] is called. For a run that writes
/// many files, some of them again and again, and makes them durable
/// together at its end: one flush (one journal commit) for the lot
/// instead of one per write.
pub fn write_whole(path: &Path, data: &[u8]) -> std::io::Result<()> {
    replace(path, data, false)
}

fn replace(path: &Path, data: &[u8], flush: bool) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "release-sentinel".to_string());
    // The mode a plain `File::create` gives (0666 less the umask), not the
    // temporary file's 0600: reports and evidence are for others to read.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| plain(&e))?;
    // Removed even if the process is ended before the rename.
    crate::interrupt::remove_if_abandoned(tmp.path());
    tmp.write_all(data)?;
    if flush {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| plain(&e.error))?;
    Ok(())
}

/// An I/O error as the system gave it. tempfile wraps its errors with the
/// temporary file's name (`... at path ".x.tmp"`), a name nobody asked
/// for, and keeps the system's code to itself; the code, or the text
/// before that name, is what a message needs.
pub fn plain(e: &std::io::Error) -> std::io::Error {
    if let Some(code) = e.raw_os_error() {
        return std::io::Error::from_raw_os_error(code);
    }
    let text = e.to_string();
    let reason = text
        .split_once(" at path \"")
        .map_or(text.as_str(), |(r, _)| r);
    std::io::Error::new(e.kind(), reason.to_string())
}

/// Flush the files of `paths` that exist, and the directories holding
/// them (so their names are on disk too), to disk. The flushes run side by
/// side (up to 16 at a time): each mostly waits on the disk, and a
/// journaling filesystem commits flushes that arrive together at once (on
/// ext4, ten small files flushed one after the other take several times
/// as long as flushed together).
pub fn sync(paths: &[std::path::PathBuf]) -> std::io::Result<()> {
    let mut all: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    for p in paths {
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !all.contains(&dir) {
            all.push(dir);
        }
    }
    let errors = crate::par::fold(
        &all,
        all.len().min(16),
        Vec::new,
        |errors, p| match File::open(p).and_then(|f| f.sync_all()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => errors.push(e),
            _ => {}
        },
    )
    .ok_or_else(|| std::io::Error::other("flushing to disk failed unexpectedly"))?;
    match errors.into_iter().flatten().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn nonblocking() -> i32 {
    // The flag's bits fit an i32 on every platform rustix supports.
    rustix::fs::OFlags::NONBLOCK.bits() as i32
}

/// What a path is, for a message about why it was not read or written.
fn kind_of(file: &File) -> std::io::Result<Option<&'static str>> {
    let t = file.metadata()?.file_type();
    Ok(if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory, not a file")
    } else if t.is_fifo() {
        Some("a FIFO, not a regular file")
    } else if t.is_socket() {
        Some("a socket, not a regular file")
    } else if t.is_char_device() || t.is_block_device() {
        Some("a device, not a regular file")
    } else {
        Some("not a regular file")
    })
}

/// Open a regular file for reading (a link to one is followed), without
/// blocking on a FIFO. The error says, in words, why not: a missing file
/// or a dangling link, a directory, a FIFO, a device.
pub fn open_regular(path: &Path) -> Result<File, String> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(nonblocking())
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(match std::fs::read_link(path) {
                Ok(target) => format!(
                    "it is a symbolic link to {}, which does not exist",
                    target.display()
                ),
                Err(_) => "no such file".to_string(),
            });
        }
        Err(e) => return Err(e.to_string()),
    };
    match kind_of(&file) {
        Ok(Some(kind)) => Err(format!("it is {kind}")),
        Ok(None) => Ok(file),
        Err(e) => Err(e.to_string()),
    }
}

/// Read a regular file of at most `max` bytes. The error says, in words,
/// why not: a missing file or a dangling link, a directory, a FIFO, a
/// device, a file too large.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let file = open_regular(path)?;
    let mut data = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut data)
        .map_err(|e| e.to_string())?;
    if data.len() as u64 > max {
        return Err(format!(
            "it is larger than the {} a file here may be",
            crate::text::human(max)
        ));
    }
    Ok(data)
}

/// Open the regular file `rel` (a relative, `/`-separated path) under the
/// folder `base` for reading, following no symbolic link on the way: each
/// folder is opened relative to the one before it with `O_NOFOLLOW`, and
/// the file too, so a name swapped for a link between a check and this
/// open is refused here, not followed out of `base`. Returns the open
/// file and its status, taken from the handle itself. The error says
/// why, in words: a link (and where), a folder, a FIFO, a missing file.
pub fn open_beneath(base: &Path, rel: &str) -> Result<(File, std::fs::Metadata), String> {
    use rustix::fs::{AtFlags, Mode, OFlags, statat};
    use rustix::io::Errno;
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let Some((last, folders)) = parts.split_last() else {
        return Err("an empty path".to_string());
    };
    if parts.contains(&"..") {
        return Err("a path that climbs out with ..".to_string());
    }
    let io = |e: Errno| std::io::Error::from(e).to_string();
    let mut dir = rustix::fs::open(
        base,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open the folder {}: {}", base.display(), io(e)))?;
    let is_link = |dir: &rustix::fd::OwnedFd, name: &str| {
        statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_symlink())
    };
    for (i, name) in folders.iter().enumerate() {
        let shown = || folders[..=i].join("/");
        dir = match rustix::fs::openat(
            &dir,
            *name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(d) => d,
            Err(Errno::LOOP | Errno::NOTDIR) if is_link(&dir, name) => {
                return Err(format!("it is under {}, a symbolic link", shown()));
            }
            Err(Errno::NOTDIR) => return Err(format!("{} is not a folder", shown())),
            Err(Errno::NOENT) => return Err("no such file".to_string()),
            Err(e) => return Err(format!("cannot open the folder {}: {}", shown(), io(e))),
        };
    }
    let fd = match rustix::fs::openat(
        &dir,
        *last,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::LOOP) => return Err("it is a symbolic link".to_string()),
        Err(Errno::NOENT) => return Err("no such file".to_string()),
        Err(e) => return Err(io(e)),
    };
    let file = File::from(fd);
    if let Some(kind) = kind_of(&file).map_err(|e| e.to_string())? {
        return Err(format!("it is {kind}"));
    }
    let meta = file.metadata().map_err(|e| e.to_string())?;
    Ok((file, meta))
}

/// Why a name relative to a folder (an archive's entry, a configured
/// path under the repository) is unsafe to use, if it is: empty,
/// absolute, climbing out with `..`, or holding a control character.
pub fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("an empty name");
    }
    if name.starts_with('/') || name.starts_with('\\') || name.get(1..2) == Some(":") {
        return Some("an absolute path");
    }
    if name.split(['/', '\\']).any(|c| c == "..") {
        return Some("a path that climbs out with ..");
    }
    if name.chars().any(|c| c.is_control()) {
        return Some("a control character in the name");
    }
    None
}

/// The first of the parts of `rel` (a relative path) under `base`, the
/// last one included, that is a symbolic link: a path through it could
/// lead out of `base`. Parts that do not exist end the search.
pub fn linked_part(base: &Path, rel: &Path) -> Option<std::path::PathBuf> {
    let mut at = std::path::PathBuf::new();
    for c in rel.components() {
        at.push(c);
        match std::fs::symlink_metadata(base.join(&at)) {
            Ok(m) if m.file_type().is_symlink() => return Some(at),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// Put each temporary file in place under its name, in order: all of
/// them, or, when one cannot be placed, none (those already placed are
/// removed again, the rest are dropped unplaced). For files that are only
/// whole together, such as an archive and its checksum.
pub fn place_all(files: Vec<(tempfile::NamedTempFile, std::path::PathBuf)>) -> Result<(), String> {
    let mut placed: Vec<std::path::PathBuf> = Vec::new();
    for (tmp, path) in files {
        if let Err(e) = tmp.persist(&path) {
            for p in &placed {
                let _ = std::fs::remove_file(p);
            }
            return Err(format!(
                "cannot write {}: {}",
                path.display(),
                plain(&e.error)
            ));
        }
        placed.push(path);
    }
    Ok(())
}

/// A new temporary file in `dir`, named after `name`, holding `data`, with
/// the mode a plain `File::create` gives: to be put in place with
/// [`place_all`].
pub fn temporary(dir: &Path, name: &str, data: &[u8]) -> Result<tempfile::NamedTempFile, String> {
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a file in {}: {}", dir.display(), plain(&e)))?;
    tmp.write_all(data)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    Ok(tmp)
}

/// Append `data` to `path` (created if missing), only when it is a regular
/// file; never blocks on a FIFO without a reader.
pub fn append_regular(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(nonblocking())
        .open(path)?;
    if let Some(kind) = kind_of(&file)? {
        return Err(std::io::Error::other(format!("it is {kind}")));
    }
    file.write_all(data)
}

/// The folder a glob's matches are all under: its leading components
/// without a glob character (`deploy/**/*.yml`: `deploy`; `**`: none).
pub fn literal_prefix(glob: &str) -> String {
    let parts: Vec<&str> = glob.split('/').collect();
    let literal = parts
        .iter()
        .take(parts.len().saturating_sub(1))
        .take_while(|c| !c.contains(['*', '?', '[', '{', '\\']) && !c.is_empty() && **c != ".")
        .copied()
        .collect::<Vec<_>>();
    literal.join("/")
}

/// A file a walk found: its path relative to the root, its device and
/// inode.
pub type Found = (String, (u64, u64));

/// Every regular file under `root/prefix` (relative to `root`,
/// `/`-separated, sorted, with its device and inode), leaving out `.git`
/// at the root and `skip`; links are not followed (a prefix that is or
/// goes through a link holds nothing). A folder that cannot be read is an
/// error, named: what it holds is unknown, and a bundle without it would
/// look complete.
pub fn walk(root: &Path, prefix: &str, skip: &Path) -> Result<Vec<Found>, Vec<String>> {
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    let start = PathBuf::from(prefix);
    // Each folder of the prefix must be one, not a link to one.
    let mut at = PathBuf::new();
    for c in start.components() {
        at.push(c);
        match std::fs::symlink_metadata(root.join(&at)) {
            Ok(m) if m.is_dir() => {}
            _ => return Ok(out),
        }
    }
    let mut stack = vec![start];
    while let Some(rel) = stack.pop() {
        let shown = |rel: &Path| rel.to_string_lossy().replace('\\', "/");
        if root.join(&rel) == skip {
            continue;
        }
        let dir = match std::fs::read_dir(root.join(&rel)) {
            Ok(d) => d,
            Err(e) => {
                let name = if rel.as_os_str().is_empty() {
                    ".".to_string()
                } else {
                    shown(&rel)
                };
                errors.push(format!(
                    "the folder {name} cannot be read ({}): what it holds is unknown",
                    plain(&e)
                ));
                continue;
            }
        };
        for entry in dir {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    errors.push(format!("the folder {} cannot be read ({e})", shown(&rel)));
                    break;
                }
            };
            let name = entry.file_name();
            let path = rel.join(&name);
            if rel.as_os_str().is_empty() && name == ".git" || root.join(&path) == skip {
                continue;
            }
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(path),
                Ok(m) if m.is_file() => out.push((shown(&path), (m.dev(), m.ino()))),
                Ok(_) => {}
                // Gone since the folder was listed: not there to bundle.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => errors.push(format!("{}: {e}", shown(&path))),
            }
        }
    }
    if !errors.is_empty() {
        errors.sort();
        return Err(errors);
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_named() {
        assert_eq!(
            unsafe_name("../etc/passwd"),
            Some("a path that climbs out with ..")
        );
        assert_eq!(
            unsafe_name("a/../../b"),
            Some("a path that climbs out with ..")
        );
        assert_eq!(unsafe_name("/etc/passwd"), Some("an absolute path"));
        assert_eq!(unsafe_name("C:\\x"), Some("an absolute path"));
        assert_eq!(unsafe_name("ok/file..txt"), None);
    }

    #[test]
    fn a_failed_write_says_what_the_system_said_not_the_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_atomic(&dir.path().join("none/report.json"), b"x").unwrap_err();
        assert_eq!(e.to_string(), "No such file or directory (os error 2)");
    }

    #[test]
    fn replaces_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("report.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn unflushed_writes_are_whole_and_sync_flushes_what_exists() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("manifest.json");
        write_whole(&p, b"one").unwrap();
        write_whole(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        sync(&[p.clone(), dir.path().join("never-written.json")]).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_atomic(&dir.path().join("no/such/dir/x"), b"x").is_err());
    }

    #[test]
    fn a_link_planted_at_the_old_temporary_name_redirects_nothing() {
        // The name a write used to go through: `.NAME.<pid>.tmp`.
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"untouched").unwrap();
        let planted = dir
            .path()
            .join(format!(".report.json.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        write_atomic(&dir.path().join("report.json"), b"report").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        assert_eq!(
            std::fs::read(dir.path().join("report.json")).unwrap(),
            b"report"
        );
    }

    #[test]
    fn reads_refuse_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            read_regular(dir.path(), 10)
                .unwrap_err()
                .contains("a directory")
        );
        assert!(
            read_regular(Path::new("/dev/zero"), 10)
                .unwrap_err()
                .contains("a device")
        );
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(read_regular(&fifo, 10).unwrap_err().contains("a FIFO"));
        assert!(append_regular(&fifo, b"x").is_err());
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("gone"), &link).unwrap();
        assert!(
            read_regular(&link, 10)
                .unwrap_err()
                .contains("does not exist")
        );
        let big = dir.path().join("big");
        std::fs::write(&big, [b'a'; 11]).unwrap();
        assert!(read_regular(&big, 10).unwrap_err().contains("larger than"));
        assert_eq!(read_regular(&big, 11).unwrap().len(), 11);
    }
}
