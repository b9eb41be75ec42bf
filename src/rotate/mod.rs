//! Artifact rotation: delete files older than a TTL, then the oldest until
//! the total is under a size, always keeping the newest few.
//!
//! Safety first, and every decision on handles, never on paths:
//! - `DIR` is opened in one step with `O_NOFOLLOW | O_DIRECTORY` on its
//!   last component, however it is written (`link/` and `link/.` name the
//!   link too), and the guarded folders (`/`, the home directory, the
//!   repository root) are compared with the opened handle by device and
//!   inode, walking up from each of them: no spelling decides, and a `DIR`
//!   swapped for a link after that one step changes nothing.
//! - The walk opens every folder relative to its parent's handle with
//!   `O_NOFOLLOW`, never follows a link (links are counted, not walked,
//!   not deleted), and enters no other mount: neither another filesystem
//!   (device) nor a bind mount of the same one (the mount id `statx` gives
//!   since Linux 5.8; on older kernels the device alone).
//! - Names are bytes from the walk to the `unlinkat`, never decoded; they
//!   are escaped only to be shown ([`shown`]).
//! - Deleting re-opens each folder from the root's handle, one component
//!   at a time without following links, checks it is the folder the walk
//!   listed (the same mount, device and inode: a mount put over it since,
//!   or another folder moved in, is left alone), and re-checks each file
//!   relative to that handle just before the `unlinkat` (a regular file,
//!   the same inode, size and modification time): what changed since the
//!   walk is left alone. What remains is the instant between that check
//!   and the `unlinkat`, which no system call closes.
//!
//! `/`, the home directory, the repository root, and any folder that
//! contains one of them, are refused. A lock (`flock` on [`LOCK_FILE`] in
//! the folder) keeps two runs from racing; a file that vanishes during the
//! run is not an error. Anything that is not a regular file, a folder or a
//! link (sockets, FIFOs, devices) is ignored: neither counted nor deleted.

pub mod run;

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path};
use std::rc::Rc;

use rustix::fs::{
    AtFlags, Dir, FileType, Mode, OFlags, Statx, StatxFlags, openat, statx, unlinkat,
};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};

/// The lock file in the rotated folder (never rotated itself).
pub const LOCK_FILE: &str = ".release-sentinel-rotate.lock";

/// What the walk and the deletion ask `statx` for.
const WANT: StatxFlags = StatxFlags::TYPE
    .union(StatxFlags::MODE)
    .union(StatxFlags::INO)
    .union(StatxFlags::SIZE)
    .union(StatxFlags::MTIME)
    .union(StatxFlags::MNT_ID);

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW
}

/// A handle that only names a folder (`O_PATH`): no read permission needed.
fn path_flags() -> OFlags {
    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC
}

/// `statx` of `name` in `dir`, not following a link.
fn look(dir: BorrowedFd<'_>, name: &CStr) -> Result<Statx, Errno> {
    statx(dir, name, AtFlags::SYMLINK_NOFOLLOW, WANT)
}

/// `statx` of an open handle.
fn look_fd(fd: BorrowedFd<'_>) -> Result<Statx, Errno> {
    statx(fd, c"", AtFlags::EMPTY_PATH, WANT)
}

fn file_type(st: &Statx) -> FileType {
    FileType::from_raw_mode(st.stx_mode.into())
}

/// The device and inode: what a folder is, whatever its path.
fn identity(st: &Statx) -> (u32, u32, u64) {
    (st.stx_dev_major, st.stx_dev_minor, st.stx_ino)
}

/// Where the rotated folder lives: its device and, when the kernel tells,
/// its mount. Nothing elsewhere is entered or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    dev: (u32, u32),
    mount: Option<u64>,
}

impl Place {
    fn of(st: &Statx) -> Self {
        Self {
            dev: (st.stx_dev_major, st.stx_dev_minor),
            mount: StatxFlags::from_bits_retain(st.stx_mask)
                .contains(StatxFlags::MNT_ID)
                .then_some(st.stx_mnt_id),
        }
    }

    /// Whether `st` is on the same mount (a bind mount of the same
    /// filesystem has the same device but another mount id).
    fn holds(&self, st: &Statx) -> bool {
        *self == Self::of(st)
    }
}

/// The opened folder: its handle, where it lives, and the lock (when taken,
/// held until dropped).
#[derive(Debug)]
pub struct Root {
    pub fd: OwnedFd,
    pub place: Place,
    ino: u64,
    _lock: Option<OwnedFd>,
}

/// A folder the walk entered; index 0 of [`Scan::folders`] is the root.
#[derive(Debug)]
pub struct Folder {
    /// The index of its parent (the root's is 0, itself).
    parent: u32,
    ino: u64,
    name: Box<CStr>,
}

/// One file found: where, its name as bytes, and what the deletion
/// re-checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// The index of its folder in [`Scan::folders`].
    folder: u32,
    name: Box<CStr>,
    pub size: u64,
    /// Modification time, unix seconds, and the nanoseconds.
    pub mtime: i64,
    pub mtime_ns: u32,
    ino: u64,
}

/// What the walk found.
#[derive(Debug)]
pub struct Scan {
    pub folders: Vec<Folder>,
    /// Newest first, then by folder and name.
    pub files: Vec<File>,
    /// Symbolic links seen (not followed, not deleted).
    pub links: usize,
    /// Folders (and files) on another mount: not entered, not deleted.
    pub mounts: usize,
    /// Folders that could not be read.
    pub unreadable: Vec<String>,
    /// The walk itself failed (a thread panicked, or more folders than
    /// it counts): the scan is not to be trusted, nothing may be deleted.
    pub failed: bool,
}

impl Scan {
    /// An empty scan of the root whose inode is `ino`.
    fn new(ino: u64) -> Self {
        Self {
            folders: vec![Folder {
                parent: 0,
                ino,
                name: Box::from(c""),
            }],
            files: Vec::new(),
            links: 0,
            mounts: 0,
            unreadable: Vec::new(),
            failed: false,
        }
    }

    /// The folder's path from the root, `/`-separated bytes (empty for
    /// the root).
    fn folder_path(&self, mut folder: u32) -> Vec<u8> {
        let mut names = Vec::new();
        // Parents have smaller indices than their children: this ends.
        while folder != 0 {
            let Some(f) = self.folders.get(folder as usize) else {
                break;
            };
            names.push(f.name.to_bytes());
            folder = f.parent;
        }
        names.reverse();
        names.join(&b'/')
    }

    /// A name's path from the root, as bytes.
    fn path_of(&self, folder: u32, name: &CStr) -> Vec<u8> {
        let mut path = self.folder_path(folder);
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(name.to_bytes());
        path
    }

    /// A file's path from the root, as bytes.
    pub fn path(&self, file: &File) -> Vec<u8> {
        self.path_of(file.folder, &file.name)
    }

    /// Sort the files newest first; files of the same time by folder (in
    /// the order of their paths), then by name: the order does not depend
    /// on the threads of the walk.
    fn sort(&mut self) {
        let paths: Vec<Vec<u8>> = (0..self.folders.len())
            .map(|i| self.folder_path(u32::try_from(i).unwrap_or(0)))
            .collect();
        let mut order: Vec<usize> = (0..paths.len()).collect();
        order.sort_unstable_by(|a, b| paths[*a].cmp(&paths[*b]));
        let mut rank = vec![0usize; order.len()];
        for (r, i) in order.into_iter().enumerate() {
            rank[i] = r;
        }
        let rank_of = |f: &File| rank.get(f.folder as usize).copied().unwrap_or(0);
        self.files.sort_unstable_by(|a, b| {
            (b.mtime, b.mtime_ns)
                .cmp(&(a.mtime, a.mtime_ns))
                .then_with(|| rank_of(a).cmp(&rank_of(b)))
                .then_with(|| a.name.cmp(&b.name))
        });
        self.unreadable.sort();
    }

    /// Add the folders and files of `part` (a scan of its own, made from
    /// the same root) to this one.
    fn merge(&mut self, part: Scan) {
        // The part's folder i (i > 0) becomes base + i - 1; its root is ours.
        let base = self.folders.len();
        if u32::try_from(base + part.folders.len()).is_err() {
            self.unreadable
                .push("more than 4 billion folders: not walked".to_string());
            self.failed = true;
            return;
        }
        let map = |i: u32| -> u32 {
            if i == 0 {
                0
            } else {
                u32::try_from(base + i as usize - 1).unwrap_or(u32::MAX)
            }
        };
        for f in part.folders.into_iter().skip(1) {
            self.folders.push(Folder {
                parent: map(f.parent),
                ..f
            });
        }
        self.files.extend(part.files.into_iter().map(|f| File {
            folder: map(f.folder),
            ..f
        }));
        self.links += part.links;
        self.mounts += part.mounts;
        self.unreadable.extend(part.unreadable);
        self.failed |= part.failed;
    }
}

/// A path as shown in the report: itself when it is UTF-8; otherwise each
/// byte that is not part of valid UTF-8 as `\xNN` (with the exact bytes in
/// hex beside it in JSON, see [`hex`]).
pub fn shown(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for chunk in path.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A folder still to enter: its parent's index and handle, its name, and
/// the inode the listing saw.
struct Pending {
    parent: u32,
    fd: Rc<OwnedFd>,
    name: Box<CStr>,
    ino: u64,
}

/// Walk the root on up to `threads` threads: the root is listed on this
/// thread, then its folders are shared out, each walked whole by one
/// thread. The result does not depend on the threads (see [`Scan::sort`]).
pub fn scan(root: &Root, threads: usize) -> Scan {
    let mut out = Scan::new(root.ino);
    let mut top = Vec::new();
    list(root.fd.as_fd(), 0, root.place, &mut out, &mut top);
    let parts = crate::par::fold(
        &top,
        threads,
        || Scan::new(root.ino),
        |acc, (name, ino)| match rustix::io::dup(&root.fd) {
            Ok(fd) => walk(
                root.place,
                vec![Pending {
                    parent: 0,
                    fd: Rc::new(fd),
                    name: name.clone(),
                    ino: *ino,
                }],
                acc,
            ),
            Err(e) => acc
                .unreadable
                .push(format!("{}: {e}", shown(name.to_bytes()))),
        },
    );
    match parts {
        Some(parts) => parts.into_iter().for_each(|p| out.merge(p)),
        None => {
            out.unreadable
                .push("the walk failed unexpectedly: nothing may be deleted".to_string());
            out.failed = true;
        }
    }
    out.sort();
    out
}

/// Walk the folders of `stack` and everything below them into `out`.
///
/// A folder is opened (relative to its parent's handle, shared by its
/// siblings) only when its turn comes, so the handles open at once are
/// those of the folders on the way down, not one per folder waiting: a
/// wide tree does not run out of file descriptors.
fn walk(place: Place, mut stack: Vec<Pending>, out: &mut Scan) {
    let mut subdirs = Vec::new();
    while let Some(p) = stack.pop() {
        let fd = match openat(&*p.fd, &*p.name, dir_flags(), Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => continue, // vanished meanwhile
            Err(e) => {
                let path = out.path_of(p.parent, &p.name);
                out.unreadable.push(format!("{}: {e}", shown(&path)));
                continue;
            }
        };
        // The folder opened is the one listed: not a mount put over it
        // since, nor another folder moved in (that one is left alone).
        match look_fd(fd.as_fd()) {
            Ok(st) if !place.holds(&st) => {
                out.mounts += 1;
                continue;
            }
            Ok(st) if st.stx_ino == p.ino => {}
            _ => continue,
        }
        let Ok(index) = u32::try_from(out.folders.len()) else {
            out.unreadable
                .push("more than 4 billion folders: not walked".to_string());
            out.failed = true;
            return;
        };
        out.folders.push(Folder {
            parent: p.parent,
            ino: p.ino,
            name: p.name,
        });
        let fd = Rc::new(fd);
        list(fd.as_fd(), index, place, out, &mut subdirs);
        for (name, ino) in subdirs.drain(..) {
            stack.push(Pending {
                parent: index,
                fd: Rc::clone(&fd),
                name,
                ino,
            });
        }
    }
}

/// List the folder `dir` (at index `folder`): its files, links and other
/// mounts into `out`, its folders (name, inode) into `subdirs`.
fn list(
    dir: BorrowedFd<'_>,
    folder: u32,
    place: Place,
    out: &mut Scan,
    subdirs: &mut Vec<(Box<CStr>, u64)>,
) {
    let unreadable = |out: &mut Scan, e: Errno| {
        let path = out.folder_path(folder);
        let path = if path.is_empty() {
            ".".to_string()
        } else {
            shown(&path)
        };
        out.unreadable.push(format!("{path}: {e}"));
    };
    let mut listing = match Dir::read_from(dir) {
        Ok(l) => l,
        Err(e) => return unreadable(out, e),
    };
    while let Some(entry) = listing.read() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => return unreadable(out, e),
        };
        let name = entry.file_name();
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." || (folder == 0 && bytes == LOCK_FILE.as_bytes()) {
            continue;
        }
        let Ok(st) = look(dir, name) else {
            continue; // vanished meanwhile
        };
        match file_type(&st) {
            FileType::Symlink => out.links += 1,
            FileType::Directory if place.holds(&st) => subdirs.push((name.into(), st.stx_ino)),
            FileType::RegularFile if place.holds(&st) => out.files.push(File {
                folder,
                name: name.into(),
                size: st.stx_size,
                mtime: st.stx_mtime.tv_sec,
                mtime_ns: st.stx_mtime.tv_nsec,
                ino: st.stx_ino,
            }),
            // A mount point, or a file bind-mounted from elsewhere.
            FileType::Directory | FileType::RegularFile => out.mounts += 1,
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

impl Action {
    /// Its name in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Stay => "stay",
            Action::Ttl => "ttl",
            Action::Size => "size",
        }
    }

    pub fn deletes(self) -> bool {
        matches!(self, Action::Ttl | Action::Size)
    }
}

/// The plan: what becomes of each file of the scan (in its order).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub total: u64,
    pub after: u64,
}

impl Plan {
    /// How many files go for `why`, and their bytes.
    pub fn deleted(&self, files: &[File], why: Action) -> (usize, u64) {
        files
            .iter()
            .zip(&self.actions)
            .filter(|(_, a)| **a == why)
            .fold((0, 0), |(n, b), (f, _)| (n + 1, b.saturating_add(f.size)))
    }
}

/// Plan the rotation of `files` (newest first): older than `cutoff` (unix
/// seconds) goes, then the oldest while the rest is over `max_size`; the
/// `keep` newest always stay.
pub fn plan(files: &[File], cutoff: Option<i64>, max_size: Option<u64>, keep: usize) -> Plan {
    let mut actions: Vec<Action> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if i < keep {
                Action::Keep
            } else if cutoff.is_some_and(|c| f.mtime < c) {
                Action::Ttl
            } else {
                Action::Stay
            }
        })
        .collect();
    let total = files.iter().fold(0u64, |t, f| t.saturating_add(f.size));
    let mut left = files
        .iter()
        .zip(&actions)
        .filter(|(_, a)| **a != Action::Ttl)
        .fold(0u64, |t, (f, _)| t.saturating_add(f.size));
    if let Some(max) = max_size {
        // Oldest first, never the kept ones.
        for (f, a) in files.iter().zip(actions.iter_mut()).rev() {
            if left <= max {
                break;
            }
            if *a == Action::Stay {
                *a = Action::Size;
                left = left.saturating_sub(f.size);
            }
        }
    }
    Plan {
        actions,
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
    /// Changed since the walk (replaced, rewritten, or its folder replaced
    /// or mounted over): left alone.
    pub changed: usize,
    /// Could not be deleted, with why.
    pub failed: Vec<String>,
}

/// Why a folder could not be re-opened for deleting.
enum Reopen {
    Vanished,
    Changed,
    Failed(Errno),
}

/// Open `folder` again from the root, one component at a time without
/// following links, keeping in `chain` the handles from the root down to
/// it (those shared with the previous folder are kept). Each must be the
/// folder the walk listed: the same mount, device and inode.
fn reopen(
    root: &Root,
    scan: &Scan,
    folder: u32,
    chain: &mut Vec<(u32, OwnedFd)>,
) -> Result<(), Reopen> {
    let mut path = Vec::new();
    let mut at = folder;
    while at != 0 {
        path.push(at);
        at = scan.folders.get(at as usize).map_or(0, |f| f.parent);
    }
    path.reverse();
    let common = chain
        .iter()
        .zip(&path)
        .take_while(|((open, _), want)| open == *want)
        .count();
    chain.truncate(common);
    for &index in &path[common..] {
        let Some(f) = scan.folders.get(index as usize) else {
            return Err(Reopen::Vanished);
        };
        let base = chain.last().map_or(root.fd.as_fd(), |(_, fd)| fd.as_fd());
        let fd = match openat(base, &*f.name, dir_flags(), Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Err(Reopen::Vanished),
            // A link or a file in its place now.
            Err(Errno::NOTDIR | Errno::LOOP) => return Err(Reopen::Changed),
            Err(e) => return Err(Reopen::Failed(e)),
        };
        match look_fd(fd.as_fd()) {
            Ok(st) if root.place.holds(&st) && st.stx_ino == f.ino => {}
            Ok(_) => return Err(Reopen::Changed),
            Err(e) => return Err(Reopen::Failed(e)),
        }
        chain.push((index, fd));
    }
    Ok(())
}

/// Delete what `plan` says, folder by folder, relative to the folders'
/// handles, each file re-checked just before (see the module's notes).
pub fn apply(root: &Root, scan: &Scan, plan: &Plan) -> Applied {
    let mut out = Applied::default();
    let mut order: Vec<usize> = (0..scan.files.len())
        .filter(|i| plan.actions.get(*i).is_some_and(|a| a.deletes()))
        .collect();
    // Folder by folder (parents before children); the plan's order within.
    order.sort_by_key(|i| scan.files[*i].folder);
    let mut chain = Vec::new();
    for batch in order.chunk_by(|a, b| scan.files[*a].folder == scan.files[*b].folder) {
        let folder = scan.files[batch[0]].folder;
        match reopen(root, scan, folder, &mut chain) {
            Ok(()) => {
                let dir = chain.last().map_or(root.fd.as_fd(), |(_, fd)| fd.as_fd());
                for &i in batch {
                    delete(dir, root.place, scan, &scan.files[i], &mut out);
                }
            }
            Err(Reopen::Vanished) => out.vanished += batch.len(),
            Err(Reopen::Changed) => out.changed += batch.len(),
            Err(Reopen::Failed(e)) => out.failed.extend(
                batch
                    .iter()
                    .map(|i| format!("{}: {e}", shown(&scan.path(&scan.files[*i])))),
            ),
        }
    }
    out
}

/// Delete `f` from `dir` if it is still the file the walk saw.
fn delete(dir: BorrowedFd<'_>, place: Place, scan: &Scan, f: &File, out: &mut Applied) {
    let same = match look(dir, &f.name) {
        Ok(st) => {
            file_type(&st) == FileType::RegularFile
                && place.holds(&st)
                && st.stx_ino == f.ino
                && st.stx_size == f.size
                && (st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec) == (f.mtime, f.mtime_ns)
        }
        Err(Errno::NOENT) => {
            out.vanished += 1;
            return;
        }
        Err(e) => {
            out.failed.push(format!("{}: {e}", shown(&scan.path(f))));
            return;
        }
    };
    if !same {
        out.changed += 1;
        return;
    }
    match unlinkat(dir, &*f.name, AtFlags::empty()) {
        Ok(()) => {
            out.deleted += 1;
            out.freed = out.freed.saturating_add(f.size);
        }
        Err(Errno::NOENT) => out.vanished += 1,
        Err(e) => out.failed.push(format!("{}: {e}", shown(&scan.path(f)))),
    }
}

/// Open `dir` as the folder to rotate, in one step: its last component
/// with `O_NOFOLLOW | O_DIRECTORY` relative to its parent (components
/// normalised first, so a trailing `/` or `/.` does not follow a link).
/// `.`, `..` and `/` name no link.
fn open_dir(dir: &Path) -> Result<OwnedFd, Errno> {
    let mut parts = dir.components();
    match parts.next_back() {
        Some(Component::Normal(name)) => {
            let parent = parts.as_path();
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            let base = openat(rustix::fs::CWD, parent, path_flags(), Mode::empty())?;
            openat(&base, name, dir_flags(), Mode::empty())
        }
        Some(_) => openat(rustix::fs::CWD, dir, dir_flags(), Mode::empty()),
        None => Err(Errno::NOENT),
    }
}

/// How many levels above `path` the folder `me` (device, inode) is: 0 when
/// it is `path` itself; `None` when it is not `path` nor above it (or
/// `path` cannot be opened). Walks `..` from `path` up to the root.
fn levels_above(path: &Path, me: (u32, u32, u64)) -> Option<usize> {
    let mut at = openat(rustix::fs::CWD, path, path_flags(), Mode::empty()).ok()?;
    let mut here = identity(&look_fd(at.as_fd()).ok()?);
    // Deeper than any real path gets (PATH_MAX allows 2048 levels).
    for level in 0..4096 {
        if here == me {
            return Some(level);
        }
        let up = openat(&at, "..", path_flags(), Mode::empty()).ok()?;
        let above = identity(&look_fd(up.as_fd()).ok()?);
        if above == here {
            return None; // the root: `..` is itself
        }
        (at, here) = (up, above);
    }
    None
}

/// Open `dir` for rotation: refuse a link (however written), what is not a
/// folder, and `/`, the home directory, the repository root and the
/// folders above them, all judged on the opened handle; take the lock
/// when `lock` (a dry run deletes nothing and writes nothing, so it takes
/// none).
pub fn open(
    dir: &Path,
    home: Option<&Path>,
    repo_root: Option<&Path>,
    lock: bool,
) -> Result<Root, String> {
    let shown_dir = dir.display().to_string();
    let fd = open_dir(dir).map_err(|e| match e {
        // What is there now, only to say why (the open decided).
        Errno::NOTDIR | Errno::LOOP => match std::fs::symlink_metadata(normalised(dir)) {
            Ok(m) if m.file_type().is_symlink() => {
                format!("{shown_dir} is a symbolic link; name the folder it points to itself")
            }
            Ok(m) if !m.is_dir() => format!("{shown_dir} is not a folder"),
            _ => format!("{shown_dir}: {e}"),
        },
        e => format!("{shown_dir}: {e}"),
    })?;
    let st = look_fd(fd.as_fd()).map_err(|e| format!("{shown_dir}: {e}"))?;
    let me = identity(&st);
    let guarded = [
        (Some(Path::new("/")), "the root of the filesystem"),
        (home, "the home directory"),
        (repo_root, "the repository root"),
    ];
    for (path, what) in guarded {
        let Some(path) = path else { continue };
        match levels_above(path, me) {
            Some(0) => {
                return Err(format!(
                    "{shown_dir} is {what}; rotate a folder of artifacts instead"
                ));
            }
            Some(_) => {
                return Err(format!(
                    "{shown_dir} contains {what} ({}); rotate a folder of artifacts instead",
                    path.display()
                ));
            }
            None => {}
        }
    }
    let lock = if lock {
        let lock = openat(
            &fd,
            LOCK_FILE,
            OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| format!("cannot create the lock {shown_dir}/{LOCK_FILE}: {e}"))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |e| {
                if e == Errno::WOULDBLOCK {
                    format!(
                        "another rotate is running on {shown_dir} (it holds {LOCK_FILE}); try \
                         again when it ends"
                    )
                } else {
                    format!("cannot lock {shown_dir}/{LOCK_FILE}: {e}")
                }
            },
        )?;
        Some(lock)
    } else {
        None
    };
    Ok(Root {
        fd,
        place: Place::of(&st),
        ino: st.stx_ino,
        _lock: lock,
    })
}

/// `dir` without a trailing `/` or `/.` (the path [`open_dir`] opened).
fn normalised(dir: &Path) -> std::path::PathBuf {
    dir.components().collect()
}

/// The rotation's report.
pub static KIND: crate::report::Kind = crate::report::Kind {
    name: "rotate",
    title: "ROTATE",
    heading: "Artifact rotation",
    final_id: "rotate",
    marker: "ROTATE",
    ..crate::report::Kind::CHECKS
};

/// The default folder, relative to the repository root.
pub const DIR: &str = "artifacts";

/// `[rotate]` as written: the same as the options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub dir: Option<String>,
    pub days: Option<u64>,
    pub max_size: Option<String>,
    pub keep: Option<u64>,
}

/// Validate `[rotate]` (its defaults are read where they are used).
pub fn validate(raw: Raw, problems: &mut crate::config::values::Problems) -> Raw {
    if let Some(size) = &raw.max_size
        && let Err(why) = crate::config::values::parse_size(size)
    {
        problems.push("rotate.max_size", why);
    }
    if let Some(days) = raw.days
        && let Err(why) = crate::config::values::check_days(days)
    {
        problems.push("rotate.days", why);
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, size: u64, age_days: i64) -> File {
        File {
            folder: 0,
            name: std::ffi::CString::new(name)
                .expect("name")
                .into_boxed_c_str(),
            size,
            mtime: 1_000_000_000 - age_days * 86_400,
            mtime_ns: 0,
            ino: 1,
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
        let root = open(dir.path(), None, None, true).expect("open");
        let paths = |s: &Scan| -> Vec<(Vec<u8>, u64, i64)> {
            s.files
                .iter()
                .map(|f| (s.path(f), f.size, f.mtime))
                .collect()
        };
        let one = scan(&root, 1);
        assert_eq!(one.files.len(), 7 * 3 * 4 + 1);
        assert_eq!((one.links, one.mounts), (1, 0));
        assert!(one.unreadable.is_empty(), "{:?}", one.unreadable);
        assert!(paths(&one).iter().any(|(p, _, _)| p == b"d6/e2/f3"));
        for threads in [2, 3, 8] {
            let many = scan(&root, threads);
            assert_eq!(paths(&many), paths(&one), "{threads} threads");
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
        let cutoff = Some(1_000_000_000 - 7 * 86_400);
        let p = plan(&files, cutoff, Some(80), 1);
        assert_eq!(
            p.actions,
            [
                Action::Keep,
                Action::Size,
                Action::Size,
                Action::Ttl,
                Action::Ttl
            ]
        );
        assert_eq!(p.after, 50);
        assert_eq!(p.deleted(&files, Action::Ttl), (2, 100));
        // The kept ones are never deleted, even over the limit.
        let p = plan(&files, None, Some(0), 2);
        assert_eq!(
            p.actions,
            [
                Action::Keep,
                Action::Keep,
                Action::Size,
                Action::Size,
                Action::Size
            ]
        );
    }

    #[test]
    fn names_are_shown_escaped_and_kept_as_bytes() {
        assert_eq!(shown(b"report\xff.log"), "report\\xff.log");
        assert_eq!(shown("r\u{e9}sum\u{e9}".as_bytes()), "r\u{e9}sum\u{e9}");
        assert_eq!(crate::digest::hex(b"a\xff"), "61ff");
    }

    #[test]
    fn a_link_is_refused_however_it_is_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("target");
        std::fs::create_dir(&target).expect("mkdir");
        std::os::unix::fs::symlink(&target, dir.path().join("link")).expect("symlink");
        for spelling in ["link", "link/", "link/.", "link//.//"] {
            let e = open(&dir.path().join(spelling), None, None, false).unwrap_err();
            assert!(e.contains("is a symbolic link"), "{spelling}: {e}");
        }
        assert!(open(&target, None, None, false).is_ok());
        // Guarded folders are found from the handle, however named.
        let e = open(
            &target.join("."),
            None,
            Some(&dir.path().join("link")),
            false,
        )
        .unwrap_err();
        assert!(e.contains("is the repository root"), "{e}");
        let e = open(dir.path(), Some(&target), None, false).unwrap_err();
        assert!(e.contains("contains the home directory"), "{e}");
    }
}
