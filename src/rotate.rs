//! Artifact rotation: delete files older than a TTL, then the oldest until
//! the total is under a size, always keeping the newest few.
//!
//! Safety first: the walk opens every directory relative to its parent
//! with `O_NOFOLLOW`, never follows a symbolic link (links are counted,
//! not walked, not deleted), never crosses into another filesystem, and
//! deletes relative to the handle of the directory it found the file in,
//! so no path trick (`..`, a link swapped in meanwhile) can lead it out of
//! the folder. `/`, the home directory, the repository root, and any folder
//! that contains one of them, are refused. A lock (`flock` on
//! [`LOCK_FILE`] in the folder) keeps two runs from racing; a file that
//! vanishes during the run is not an error.

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, openat, statat};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};

/// The lock file in the rotated folder (never rotated itself).
pub const LOCK_FILE: &str = ".release-sentinel-rotate.lock";

/// One file found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    /// Relative to the folder, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Modification time, unix seconds.
    pub mtime: i64,
}

/// What the walk found.
#[derive(Debug, Default)]
pub struct Scan {
    pub files: Vec<Found>,
    /// Symbolic links seen (not followed, not deleted).
    pub links: usize,
    /// Directories on another filesystem (not entered).
    pub mounts: usize,
    /// Directories that could not be read.
    pub unreadable: Vec<String>,
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW
}

/// A folder still to list: its path, and its parent's handle and its name.
type Pending = (String, Option<(Rc<OwnedFd>, CString)>);

/// Walk `root` (an open directory on device `dev`) on up to `threads`
/// threads: the root is listed on this thread, then its folders are
/// shared out, each walked whole by one thread. The result does not
/// depend on the threads: files are sorted (newest first, then by path),
/// and so are the folders that could not be read.
pub fn scan(root: &OwnedFd, dev: u64, threads: usize) -> Scan {
    let mut out = Scan::default();
    let mut top = Vec::new();
    match rustix::io::dup(root) {
        Ok(fd) => list(&fd, "", dev, &mut out, &mut top),
        Err(e) => out.unreadable.push(format!(".: {e}")),
    }
    let parts =
        crate::par::fold(
            &top,
            threads,
            Scan::default,
            |acc, (path, name)| match rustix::io::dup(root) {
                Ok(fd) => walk(
                    dev,
                    vec![(path.clone(), Some((Rc::new(fd), name.clone())))],
                    acc,
                ),
                Err(e) => acc.unreadable.push(format!("{path}: {e}")),
            },
        );
    match parts {
        Some(parts) => {
            for p in parts {
                out.files.extend(p.files);
                out.links += p.links;
                out.mounts += p.mounts;
                out.unreadable.extend(p.unreadable);
            }
        }
        None => out
            .unreadable
            .push("the walk failed unexpectedly: nothing may be deleted".to_string()),
    }
    out.files
        .sort_unstable_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| a.path.cmp(&b.path)));
    out.unreadable.sort();
    out
}

/// Walk the folders of `stack` and everything below them into `out`.
///
/// A folder is opened (relative to its parent's handle, shared by its
/// siblings) only when its turn comes, so the handles open at once are
/// those of the folders on the way down, not one per folder waiting: a
/// wide tree does not run out of file descriptors.
#[allow(clippy::unnecessary_cast)] // `stat` field widths differ by platform
fn walk(dev: u64, mut stack: Vec<Pending>, out: &mut Scan) {
    let mut subdirs = Vec::new();
    while let Some((rel, from)) = stack.pop() {
        let opened = match &from {
            None => continue,
            Some((parent, name)) => openat(&**parent, name.as_c_str(), dir_flags(), Mode::empty()),
        };
        drop(from);
        let dirfd = match opened {
            Ok(fd) => Rc::new(fd),
            Err(Errno::NOENT) => continue, // vanished meanwhile
            Err(e) => {
                out.unreadable.push(format!("{rel}: {e}"));
                continue;
            }
        };
        // A folder mounted over since it was listed is not entered either.
        if rustix::fs::fstat(&*dirfd).map_or(true, |st| st.st_dev as u64 != dev) {
            out.mounts += 1;
            continue;
        }
        list(&dirfd, &rel, dev, out, &mut subdirs);
        for (path, name) in subdirs.drain(..) {
            stack.push((path, Some((Rc::clone(&dirfd), name))));
        }
    }
}

/// List the folder `dir` (at `rel`): its files, links and other
/// filesystems into `out`, its folders (path, name) into `subdirs`.
#[allow(clippy::unnecessary_cast)] // `stat` field widths differ by platform
fn list(dir: &OwnedFd, rel: &str, dev: u64, out: &mut Scan, subdirs: &mut Vec<(String, CString)>) {
    let Ok(mut listing) = Dir::read_from(dir) else {
        out.unreadable
            .push(if rel.is_empty() { "." } else { rel }.to_string());
        return;
    };
    while let Some(Ok(entry)) = listing.read() {
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." || (rel.is_empty() && name == LOCK_FILE.as_bytes()) {
            continue;
        }
        let Ok(st) = statat(dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW) else {
            continue; // vanished meanwhile
        };
        let path = || {
            let name = String::from_utf8_lossy(name);
            if rel.is_empty() {
                name.into_owned()
            } else {
                format!("{rel}/{name}")
            }
        };
        match FileType::from_raw_mode(st.st_mode as _) {
            FileType::Symlink => out.links += 1,
            FileType::Directory => {
                if st.st_dev as u64 != dev {
                    out.mounts += 1;
                } else {
                    subdirs.push((path(), entry.file_name().to_owned()));
                }
            }
            FileType::RegularFile => out.files.push(Found {
                path: path(),
                size: st.st_size as u64,
                mtime: st.st_mtime as i64,
            }),
            _ => {}
        }
    }
}

/// Why a file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// One of the newest `keep`.
    Keep,
    /// Not old enough, and the total fits.
    Stay,
    /// Older than the TTL.
    Ttl,
    /// Among the oldest, over the size limit.
    Size,
}

/// The plan: every file (newest first) and what becomes of it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub files: Vec<(Found, Action)>,
    pub total: u64,
    pub after: u64,
}

impl Plan {
    pub fn deleted(&self, why: Action) -> (usize, u64) {
        self.files
            .iter()
            .filter(|(_, a)| *a == why)
            .fold((0, 0), |(n, b), (f, _)| (n + 1, b + f.size))
    }
}

/// Plan the rotation of `files` (newest first) at `now`.
pub fn plan(
    files: Vec<Found>,
    now: i64,
    days: Option<u64>,
    max_size: Option<u64>,
    keep: usize,
) -> Plan {
    let cutoff = days.map(|d| now - (d as i64) * 86_400);
    let total: u64 = files.iter().map(|f| f.size).sum();
    let mut out: Vec<(Found, Action)> = files
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let action = if i < keep {
                Action::Keep
            } else if cutoff.is_some_and(|c| f.mtime < c) {
                Action::Ttl
            } else {
                Action::Stay
            };
            (f, action)
        })
        .collect();
    let mut left: u64 = out
        .iter()
        .filter(|(_, a)| *a != Action::Ttl)
        .map(|(f, _)| f.size)
        .sum();
    if let Some(max) = max_size {
        // Oldest first, never the kept ones.
        for (f, a) in out.iter_mut().rev() {
            if left <= max {
                break;
            }
            if *a == Action::Stay {
                *a = Action::Size;
                left -= f.size;
            }
        }
    }
    Plan {
        files: out,
        total,
        after: left,
    }
}

/// What deleting came to.
#[derive(Debug, Default, Serialize)]
pub struct Applied {
    pub deleted: usize,
    pub freed: u64,
    /// Gone before it could be deleted (another process): not an error.
    pub vanished: usize,
    /// Could not be deleted, with why.
    pub failed: Vec<String>,
}

/// Delete what `plan` says, relative to directory handles opened one
/// component at a time without following links.
pub fn apply(root: &OwnedFd, plan: &Plan) -> Applied {
    let mut out = Applied::default();
    for (f, a) in &plan.files {
        if !matches!(a, Action::Ttl | Action::Size) {
            continue;
        }
        let (parent, name) = match f.path.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, f.path.as_str()),
        };
        let dir = match parent {
            None => rustix::io::dup(root),
            Some(p) => p
                .split('/')
                .try_fold(None::<OwnedFd>, |fd, comp| {
                    let base = match &fd {
                        Some(d) => d,
                        None => root,
                    };
                    openat(base, comp, dir_flags(), Mode::empty()).map(Some)
                })
                .and_then(|d| d.ok_or(Errno::NOENT)),
        };
        let result = dir.and_then(|d| rustix::fs::unlinkat(&d, name, AtFlags::empty()));
        match result {
            Ok(()) => {
                out.deleted += 1;
                out.freed += f.size;
            }
            Err(e) if e == Errno::NOENT => out.vanished += 1,
            Err(e) => out.failed.push(format!("{}: {e}", f.path)),
        }
    }
    out
}

/// Open `dir` for rotation: refuse `/`, the home directory, the
/// repository root and their ancestors, and a link; take the lock when
/// `lock` (a dry run deletes nothing and writes nothing, so it takes none).
/// Returns the directory's handle, its device, and the lock's handle
/// (held until dropped).
#[allow(clippy::unnecessary_cast)] // `st_dev`'s width differs by platform
pub fn open(
    dir: &Path,
    home: Option<&Path>,
    repo_root: Option<&Path>,
    lock: bool,
) -> Result<(OwnedFd, u64, Option<OwnedFd>), String> {
    let shown = dir.display().to_string();
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{shown}: {e}"))?;
    if meta.file_type().is_symlink() {
        return Err(format!(
            "{shown} is a symbolic link; name the folder itself"
        ));
    }
    if !meta.is_dir() {
        return Err(format!("{shown} is not a folder"));
    }
    let real = dir.canonicalize().map_err(|e| format!("{shown}: {e}"))?;
    let guarded: Vec<(PathBuf, &str)> = [
        (Some(PathBuf::from("/")), "the root of the filesystem"),
        (
            home.and_then(|h| h.canonicalize().ok()),
            "the home directory",
        ),
        (
            repo_root.and_then(|r| r.canonicalize().ok()),
            "the repository root",
        ),
    ]
    .into_iter()
    .filter_map(|(p, what)| p.map(|p| (p, what)))
    .collect();
    for (p, what) in &guarded {
        if *p == real {
            return Err(format!(
                "{shown} is {what}; rotate a folder of artifacts instead"
            ));
        }
        if p.starts_with(&real) {
            return Err(format!(
                "{shown} contains {what} ({}); rotate a folder of artifacts instead",
                p.display()
            ));
        }
    }
    let fd = openat(rustix::fs::CWD, &real, dir_flags(), Mode::empty())
        .map_err(|e| format!("{shown}: {e}"))?;
    let dev = rustix::fs::fstat(&fd)
        .map_err(|e| format!("{shown}: {e}"))?
        .st_dev as u64;
    if !lock {
        return Ok((fd, dev, None));
    }
    let lock = openat(
        &fd,
        LOCK_FILE,
        OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| format!("cannot create the lock {shown}/{LOCK_FILE}: {e}"))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|e| {
        if e == Errno::WOULDBLOCK {
            format!("another rotate is running on {shown} (it holds {LOCK_FILE}); try again when it ends")
        } else {
            format!("cannot lock {shown}/{LOCK_FILE}: {e}")
        }
    })?;
    Ok((fd, dev, Some(lock)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, size: u64, age_days: i64) -> Found {
        Found {
            path: path.into(),
            size,
            mtime: 1_000_000_000 - age_days * 86_400,
        }
    }

    #[test]
    fn the_walk_finds_the_same_files_on_any_number_of_threads() {
        let dir = tempfile::tempdir().expect("temp dir");
        for d in 0..7 {
            for e in 0..3 {
                let sub = dir.path().join(format!("d{d}/e{e}"));
                std::fs::create_dir_all(&sub).expect("mkdir");
                for f in 0..4 {
                    std::fs::write(sub.join(format!("f{f}")), vec![b'x'; d * 10 + f])
                        .expect("write");
                }
            }
        }
        std::fs::write(dir.path().join("top"), "t").expect("write");
        std::os::unix::fs::symlink("/", dir.path().join("d0/link")).expect("symlink");
        let (fd, dev, _lock) = open(dir.path(), None, None, true).expect("open");
        let one = scan(&fd, dev, 1);
        assert_eq!(one.files.len(), 7 * 3 * 4 + 1);
        assert_eq!((one.links, one.mounts), (1, 0));
        assert!(one.unreadable.is_empty(), "{:?}", one.unreadable);
        for threads in [2, 3, 8] {
            let many = scan(&fd, dev, threads);
            assert_eq!(many.files, one.files, "{threads} threads");
            assert_eq!((many.links, many.mounts), (1, 0));
        }
    }

    #[test]
    fn ttl_then_size_oldest_first_keeping_the_newest() {
        // Newest first, as the scan returns them.
        let files = vec![
            f("a", 50, 0),
            f("b", 50, 1),
            f("c", 50, 2),
            f("d", 50, 8),
            f("e", 50, 9),
        ];
        let p = plan(files.clone(), 1_000_000_000, Some(7), Some(80), 1);
        let actions: Vec<Action> = p.files.iter().map(|(_, a)| *a).collect();
        assert_eq!(
            actions,
            [
                Action::Keep,
                Action::Size,
                Action::Size,
                Action::Ttl,
                Action::Ttl
            ]
        );
        assert_eq!(p.after, 50);
        assert_eq!(p.deleted(Action::Ttl), (2, 100));
        // The kept ones are never deleted, even over the limit.
        let p = plan(files, 1_000_000_000, None, Some(0), 2);
        let actions: Vec<Action> = p.files.iter().map(|(_, a)| *a).collect();
        assert_eq!(
            actions,
            [
                Action::Keep,
                Action::Keep,
                Action::Size,
                Action::Size,
                Action::Size
            ]
        );
    }
}
