//! The work tree's status: every staged, modified, deleted, renamed or
//! untracked path, and dirty submodules. Ignored files do not count.
//! Untracked directories are one entry (`dir/`), as `git status` shows them.
//!
//! Most of the cost of a status is one `lstat` per tracked file, which
//! libgit2 does serially. So the work is split: the index file is read
//! directly ([`super::index`]), the tracked files are `lstat`ed on several
//! threads and compared with the stat data the index caches for them,
//! git's own rule for "unchanged" (same mode, size, mtime, ctime, inode,
//! owner; and not racy, i.e. modified in an earlier second than the index
//! file was written; see `racy`). The tracked directories, and the root
//! always (even when the index has no entry), are listed to find names
//! that are not tracked. Everything this cannot prove clean (a stat
//! mismatch, a racy or missing file, a submodule, a conflict, every
//! untracked or ignored candidate) goes to libgit2's status, limited to
//! exactly those paths. The shortcut only ever proves a file unchanged by
//! the rule git itself applies, and being stricter than git only sends more
//! paths to libgit2, so the result is libgit2's status either way.
//!
//! libgit2 works on the index as read here, held in memory (see
//! `memory_repo`): that is how it sees a split index, which it cannot read
//! itself, and how it follows git's racy rule. The staged changes (HEAD
//! against the index, no `lstat`) are libgit2's too, but only where the
//! index's cache tree cannot prove the index equal to HEAD: see
//! `staged_scope`. The candidates' status runs on an index holding only
//! their entries when the index has nothing but plain entries (see
//! `partial_repo`). An untracked directory whose name libgit2 would read
//! as a pattern (see `plain_pattern`) takes the full status. The index file
//! must be the same one at the end, or the full status decides. Whatever
//! is unusual (no index, a format this reader does not fully understand, a
//! bad checksum, a conflict, no cache tree) takes libgit2's whole
//! comparison, never a guess.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::path::Path;

use git2::{Oid, Repository, Status as G, StatusOptions, StatusShow};
use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, Stat, openat, statat};
use rustix::io::Errno;

use super::Repo;
use super::index::{self, CacheTree, Entry, Index};

/// At most this many threads for one status.
const MAX_THREADS: usize = 8;
/// When more than this share of the index needs libgit2 anyway (a fresh
/// checkout where every entry is racy), one plain status is cheaper than a
/// long path list.
const MAX_CANDIDATE_SHARE: usize = 8;

/// The mode of a gitlink (a submodule's commit).
const GITLINK: u32 = 0o160000;

/// One changed path and how it changed.
pub type Change = (Vec<u8>, G);

fn options(show: StatusShow) -> StatusOptions {
    let mut opts = StatusOptions::new();
    opts.show(show)
        .include_untracked(true)
        .recurse_untracked_dirs(false)
        .include_ignored(false)
        .exclude_submodules(false)
        .renames_head_to_index(false);
    opts
}

fn collect(repo: &Repository, opts: &mut StatusOptions) -> Result<Vec<Change>, git2::Error> {
    let mut out = Vec::new();
    for entry in repo.statuses(Some(opts))?.iter() {
        let st = entry.status();
        if !st.is_empty() && !st.contains(G::IGNORED) {
            out.push((entry.path_bytes().to_vec(), st));
        }
    }
    Ok(out)
}

/// libgit2's whole status, for comparison and as the fallback.
pub fn full_status(repo: &Repo) -> Result<Vec<Change>, git2::Error> {
    let mut out = collect(&repo.repo, &mut options(StatusShow::IndexAndWorkdir))?;
    out.sort();
    Ok(out)
}

/// One tracked file: its path and the index entry caching its stat data.
struct Tracked<'a> {
    path: &'a [u8],
    /// The file name, after the last `/`.
    name: &'a [u8],
    e: &'a Entry,
}

impl Tracked<'_> {
    /// Whether the file on disk is unchanged by git's stat rule. Fields are
    /// compared as the index stores them (32 bits).
    #[allow(clippy::unnecessary_cast)] // `stat` field widths differ by platform
    fn unchanged(&self, st: &Stat, written: i32) -> bool {
        let e = self.e;
        let mode = st.st_mode as u32;
        let kind_ok = match e.mode & 0o170000 {
            0o100000 => mode & 0o170000 == 0o100000 && (mode & 0o111 != 0) == (e.mode & 0o111 != 0),
            0o120000 => mode & 0o170000 == 0o120000,
            _ => false,
        };
        kind_ok
            && st.st_size as u32 == e.size
            && (st.st_mtime as i32, st.st_mtime_nsec as u32) == e.mtime
            && (st.st_ctime as i32, st.st_ctime_nsec as u32) == e.ctime
            && st.st_ino as u32 == e.ino
            && st.st_uid as u32 == e.uid
            && st.st_gid as u32 == e.gid
            && !racy(e, written)
    }
}

/// Whether an entry's stat data cannot prove its file unchanged: the file
/// was modified in the same second as the index was `written`, or later,
/// so a change within that second may have left the stat data as cached.
/// Whole seconds, as git compares times (it is built without nanosecond
/// times by default); nanoseconds would trust a file modified in the same
/// second before the index was written, which git does not.
fn racy(e: &Entry, written: i32) -> bool {
    e.mtime.0 >= written
}

/// One tracked directory: its tracked files, and the names of its tracked
/// subdirectories and other index entries (all sorted).
#[derive(Default)]
struct DirWork<'a> {
    dir: &'a [u8],
    files: Vec<&'a Tracked<'a>>,
    known: Vec<&'a [u8]>,
}

/// What the scan of the directories found for libgit2 to decide.
#[derive(Default)]
struct Candidates {
    /// Tracked files not proven unchanged, and untracked or ignored files.
    paths: Vec<Vec<u8>>,
    /// Untracked or ignored directories.
    dirs: Vec<Vec<u8>>,
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut path = Vec::with_capacity(dir.len() + 1 + name.len());
    if !dir.is_empty() {
        path.extend_from_slice(dir);
        path.push(b'/');
    }
    path.extend_from_slice(name);
    path
}

/// `(parent, name)` of a path; the parent of a top-level name is `""`.
fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|b| *b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&path[..0], path),
    }
}

/// Group the tracked files by directory. Every tracked directory is known
/// to its parent by name, so that it is not taken for an untracked one.
fn directories<'a>(tracked: &'a [Tracked<'a>], others: &'a [&'a [u8]]) -> Vec<DirWork<'a>> {
    let mut dirs = Dirs::default();
    // The root is always listed, even when the index has no entry at all
    // (a first commit made empty, or every file removed from the index):
    // its untracked names are changes like any other.
    dirs.slot(b"");
    for t in tracked {
        let i = dirs.slot(split(t.path).0);
        if let Some(w) = dirs.out.get_mut(i) {
            w.files.push(t);
        }
    }
    for o in others {
        let (parent, name) = split(o);
        let i = dirs.slot(parent);
        if let Some(w) = dirs.out.get_mut(i) {
            w.known.push(name);
        }
    }
    let mut out = dirs.out;
    for w in &mut out {
        w.files.sort_by(|a, b| a.name.cmp(b.name));
        w.known.sort();
        w.known.dedup();
    }
    // Biggest first, so that the threads finish together.
    out.sort_by(|a, b| {
        b.files
            .len()
            .cmp(&a.files.len())
            .then_with(|| a.dir.cmp(b.dir))
    });
    out
}

/// The directories found so far, each with its place in `out`.
#[derive(Default)]
struct Dirs<'a> {
    out: Vec<DirWork<'a>>,
    places: HashMap<&'a [u8], usize>,
    /// The last directory asked for: paths come in index order, which
    /// keeps a directory's files together, so most lookups are this one.
    last: Option<(&'a [u8], usize)>,
}

impl<'a> Dirs<'a> {
    /// The place of directory `dir`, adding it (and its parents, each
    /// knowing its child by name) when new.
    fn slot(&mut self, dir: &'a [u8]) -> usize {
        if let Some((last, i)) = self.last
            && last == dir
        {
            return i;
        }
        let i = match self.places.get(dir) {
            Some(i) => *i,
            None => {
                if !dir.is_empty() {
                    let (parent, name) = split(dir);
                    let p = self.slot(parent);
                    if let Some(w) = self.out.get_mut(p) {
                        w.known.push(name);
                    }
                }
                self.out.push(DirWork {
                    dir,
                    ..DirWork::default()
                });
                self.places.insert(dir, self.out.len() - 1);
                self.out.len() - 1
            }
        };
        self.last = Some((dir, i));
        i
    }
}

/// List one tracked directory: compare its tracked files with their cached
/// stat data, and collect the names nobody tracks.
fn scan_dir(
    root: &OwnedFd,
    w: &DirWork<'_>,
    written: i32,
    out: &mut Candidates,
) -> std::io::Result<()> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let opened = if w.dir.is_empty() {
        openat(root, ".", flags, Mode::empty())
    } else {
        openat(root, bytes_path(w.dir), flags, Mode::empty())
    };
    let fd = match opened {
        Ok(fd) => fd,
        // Gone, or replaced by a file or a link: its tracked files changed.
        Err(e) if e == Errno::NOENT || e == Errno::NOTDIR || e == Errno::LOOP => {
            out.paths.extend(w.files.iter().map(|t| t.path.to_vec()));
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let mut seen = vec![false; w.files.len()];
    let mut listing = Dir::read_from(&fd)?;
    while let Some(entry) = listing.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." || (w.dir.is_empty() && name == b".git") {
            continue;
        }
        if let Ok(i) = w.files.binary_search_by(|t| t.name.cmp(name)) {
            seen[i] = true;
            let t = w.files[i];
            let st = statat(&fd, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW);
            let now_dir = entry.file_type() == FileType::Directory || st.as_ref().is_ok_and(is_dir);
            if now_dir {
                // A tracked file replaced by a directory: listed without
                // recursion, as `git status` shows it.
                out.dirs.push(t.path.to_vec());
            } else if !st.is_ok_and(|st| t.unchanged(&st, written)) {
                out.paths.push(t.path.to_vec());
            }
            continue;
        }
        if w.known.binary_search(&name).is_ok() {
            continue;
        }
        let is_dir = match entry.file_type() {
            FileType::Directory => true,
            FileType::Unknown => statat(&fd, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| is_dir(&st)),
            _ => false,
        };
        let path = join(w.dir, name);
        if is_dir {
            out.dirs.push(path);
        } else {
            out.paths.push(path);
        }
    }
    for (t, seen) in w.files.iter().zip(seen) {
        if !seen {
            out.paths.push(t.path.to_vec());
        }
    }
    Ok(())
}

#[allow(clippy::unnecessary_cast)] // `st_mode`'s width differs by platform
fn is_dir(st: &Stat) -> bool {
    st.st_mode as u32 & 0o170000 == 0o040000
}

fn bytes_path(bytes: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(bytes))
}

/// What [`changes`] found.
pub struct Found {
    /// Every changed path, sorted.
    pub changes: Vec<Change>,
    /// The index's gitlinks, when the index was read directly (`None`:
    /// libgit2's index has them).
    pub index_gitlinks: Option<Vec<Vec<u8>>>,
}

/// libgit2's whole status, as a [`Found`]: over the index as read here
/// when there is one (see [`memory_repo`]), else over the index libgit2
/// reads itself.
fn fallback(repo: &Repo, read: Option<&Index>) -> Result<Found, git2::Error> {
    if let Some(index) = read
        && let Some(whole) = memory_repo(&repo.root, index, None)
    {
        let skipped: HashSet<&[u8]> = index
            .entries
            .iter()
            .filter(|e| e.skip_worktree)
            .map(|e| index.path(e))
            .collect();
        let mut changes = collect(&whole, &mut options(StatusShow::IndexAndWorkdir))?;
        changes.sort();
        return Ok(Found {
            changes: without_skipped(changes, &skipped),
            index_gitlinks: None,
        });
    }
    let index = repo.repo.index()?;
    let paths: Vec<Vec<u8>> = index
        .iter()
        .filter(|e| e.flags_extended & SKIP_WORKTREE != 0)
        .map(|e| e.path)
        .collect();
    let skipped: HashSet<&[u8]> = paths.iter().map(Vec::as_slice).collect();
    Ok(Found {
        changes: without_skipped(full_status(repo)?, &skipped),
        index_gitlinks: None,
    })
}

/// The skip-worktree bit of an index entry's extended flags.
const SKIP_WORKTREE: u16 = 0x4000;
/// The intent-to-add bit of an index entry's extended flags.
const INTENT_TO_ADD: u16 = 0x2000;

/// `changes` without the work-tree side of skip-worktree entries. git never
/// compares those with the work tree (a sparse checkout leaves their files
/// out on purpose); libgit2 does, and sees them deleted. A staged change to
/// such an entry still counts.
fn without_skipped(changes: Vec<Change>, skipped: &HashSet<&[u8]>) -> Vec<Change> {
    if skipped.is_empty() {
        return changes;
    }
    let worktree = G::WT_NEW | G::WT_MODIFIED | G::WT_DELETED | G::WT_TYPECHANGE | G::WT_RENAMED;
    changes
        .into_iter()
        .filter_map(|(path, st)| {
            let st = if skipped.contains(path.as_slice()) {
                st - worktree
            } else {
                st
            };
            (!st.is_empty()).then_some((path, st))
        })
        .collect()
}

/// Every changed path, using up to `threads` threads.
pub fn changes(repo: &Repo, threads: usize) -> Result<Found, git2::Error> {
    let index_file = repo.repo.path().join("index");
    let index = match index::read_whole(&repo.repo) {
        Ok(i) => i,
        Err(e) => {
            // No index (nothing staged yet: nothing to prove clean), or
            // one this reader does not fully understand: libgit2 decides.
            tracing::debug!(why = %e, "index not read directly: full status");
            return fallback(repo, None);
        }
    };
    let mut others: Vec<&[u8]> = Vec::new();
    let mut tracked: Vec<Tracked<'_>> = Vec::with_capacity(index.entries.len());
    for e in &index.entries {
        let path = index.path(e);
        // Conflicts, submodules, intent-to-add and skip-worktree entries:
        // libgit2 decides.
        if e.stage != 0 || e.mode == GITLINK || e.intent_to_add || e.skip_worktree {
            others.push(path);
        } else {
            tracked.push(Tracked {
                path,
                name: split(path).1,
                e,
            });
        }
    }
    let total = tracked.len() + others.len();
    let work = directories(&tracked, &others);
    let root = match openat(
        CWD,
        &repo.root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(_) => return fallback(repo, Some(&index)),
    };
    let threads = threads.clamp(1, MAX_THREADS);
    let written = index.written.0;
    // libgit2 cannot read a split or sparse index: it is given the index as
    // read here.
    let split_view = if index.beyond_libgit2() {
        memory_repo(&repo.root, &index, None)
    } else {
        None
    };
    let (staged, scanned) = std::thread::scope(|scope| {
        let scan = scope.spawn(|| {
            crate::par::fold(
                &work,
                threads,
                || Ok(Candidates::default()),
                |found: &mut std::io::Result<Candidates>, w| {
                    if let Ok(c) = found
                        && let Err(e) = scan_dir(&root, w, written, c)
                    {
                        *found = Err(e);
                    }
                },
            )
        });
        // Meanwhile, on this thread: the staged changes.
        let staged = staged(split_view.as_ref().unwrap_or(&repo.repo), &index);
        (staged, scan.join().ok().flatten())
    });
    // A worker that did not finish proves nothing: libgit2 decides all.
    let Some(parts) = scanned else {
        return fallback(repo, Some(&index));
    };
    let mut all = Candidates::default();
    for part in parts {
        match part {
            Ok(c) => {
                all.paths.extend(c.paths);
                all.dirs.extend(c.dirs);
            }
            // A directory could not be read (permissions, a race): let
            // libgit2 do the whole status and report what it finds.
            Err(_) => return fallback(repo, Some(&index)),
        }
    }
    let staged = staged?;
    let Candidates { mut paths, dirs } = all;
    paths.extend(others.iter().map(|p| p.to_vec()));
    tracing::debug!(
        tracked = total,
        candidates = paths.len(),
        directories = dirs.len(),
        "scan done; libgit2 checks the candidates"
    );
    if paths.len() + dirs.len() > total / MAX_CANDIDATE_SHARE + 64 {
        tracing::debug!("too many candidates: one full status instead");
        return fallback(repo, Some(&index));
    }
    // A directory is found by libgit2 through a path pattern; a name the
    // pattern would read otherwise is left to the full status.
    if dirs.iter().any(|d| !plain_pattern(d)) {
        tracing::debug!("a directory name libgit2 would read as a pattern: full status");
        return fallback(repo, Some(&index));
    }

    let mut merged: BTreeMap<Vec<u8>, G> = staged.into_iter().collect();
    // With only plain entries, the candidates' status needs only their own
    // entries (see `partial_repo`); otherwise it needs the whole index, the
    // one read here (see `memory_repo`). Untracked directories are not
    // among them: libgit2 judges those against the whole index.
    let view = if others.is_empty() && dirs.is_empty() && !ignore_case(&repo.repo) {
        partial_repo(repo, &index, &paths)
    } else {
        None
    };
    let view = match (view, split_view) {
        (Some(v), _) | (None, Some(v)) => Some(v),
        (None, None) => memory_repo(&repo.root, &index, None),
    };
    let target = view.as_ref().unwrap_or(&repo.repo);
    // libgit2 takes a tracked directory none of whose index entries is in
    // the path list for an untracked one, and does not look inside it
    // without recursion: an untracked directory below it would go unseen.
    // One tracked path under each such parent makes libgit2 descend; its
    // own status is exact like any other.
    let mut dirs = dirs;
    let parents: Vec<Vec<u8>> = dirs
        .iter()
        .filter_map(|d| {
            let (parent, _) = split(d);
            if parent.is_empty() {
                return None;
            }
            let mut under = parent.to_vec();
            under.push(b'/');
            let first = index
                .entries
                .partition_point(|e| index.path(e) < under.as_slice());
            let e = index.entries.get(first)?;
            let path = index.path(e);
            path.starts_with(&under).then(|| path.to_vec())
        })
        .collect();
    dirs.extend(parents);
    // Exact paths need recursion on: without it libgit2 drops an untracked
    // file named exactly. Directories go in a second call without it, so
    // that an untracked directory is one `dir/` entry and is not walked.
    for (mut list, recurse) in [(paths, true), (dirs, false)] {
        if list.is_empty() {
            continue;
        }
        list.sort();
        list.dedup();
        let mut opts = options(StatusShow::Workdir);
        opts.disable_pathspec_match(true)
            .recurse_untracked_dirs(recurse);
        for p in list {
            opts.pathspec(p);
        }
        for (path, st) in collect(target, &mut opts)? {
            *merged.entry(path).or_insert(G::empty()) |= st;
        }
    }
    // The shortcut and libgit2 must have seen the same index: git replaces
    // the file whole, so an unchanged identity means unchanged content. A
    // rewrite in the meantime (another git command) leaves it to libgit2
    // alone.
    match std::fs::metadata(&index_file) {
        Ok(m) if index::Stamp::of(&m) == index.stamp => {}
        _ => {
            tracing::debug!("the index changed during the status: full status");
            return fallback(repo, index::read_whole(&repo.repo).ok().as_ref());
        }
    }
    let index_gitlinks = index
        .entries
        .iter()
        .filter(|e| e.stage == 0 && e.mode == GITLINK)
        .map(|e| index.path(e).to_vec())
        .collect();
    let skipped: HashSet<&[u8]> = index
        .entries
        .iter()
        .filter(|e| e.skip_worktree)
        .map(|e| index.path(e))
        .collect();
    Ok(Found {
        changes: without_skipped(merged.into_iter().collect(), &skipped),
        index_gitlinks: Some(index_gitlinks),
    })
}

/// Whether libgit2 reads `path` as itself when it is given as a status
/// path for a directory.
///
/// Even with pattern matching disabled, libgit2 matches directories (not
/// files) against its parsed form of each path, parsed like a line of a
/// `.gitignore`: a line break, form feed or vertical tab ends it, a trailing
/// space, tab or CR is dropped, a backslash escapes, a leading `!` negates,
/// a leading `#` makes a comment of it, and a wildcard (`*`, `?`, `[`)
/// turns off the match of the directory's own name. Any such path goes to
/// the full status instead, which lists the work tree without patterns.
/// Every control character is refused, a little more than needed.
fn plain_pattern(path: &[u8]) -> bool {
    let special = |b: &u8| b.is_ascii_control() || matches!(b, b'\\' | b'*' | b'?' | b'[');
    !path.is_empty()
        && !matches!(path.first(), Some(b'!' | b'#'))
        && !matches!(path.last(), Some(b' '))
        && !path.iter().any(special)
}

/// HEAD's tree against the index, as libgit2's status shows it, with
/// libgit2 comparing only where the cache tree cannot prove the index
/// equal to HEAD.
fn staged(repo: &Repository, index: &Index) -> Result<Vec<Change>, git2::Error> {
    let scope = match repo.head().and_then(|h| h.peel_to_tree()) {
        Ok(head) => staged_scope(repo, index, head.id()),
        Err(_) => None,
    };
    let mut opts = options(StatusShow::Index);
    match scope {
        None => {
            tracing::debug!("the cache tree does not decide: full index comparison");
        }
        Some(paths) if paths.is_empty() => return Ok(Vec::new()),
        Some(paths) => {
            tracing::debug!(
                paths = paths.len(),
                "index comparison limited by the cache tree"
            );
            opts.disable_pathspec_match(true);
            for p in paths {
                opts.pathspec(p);
            }
        }
    }
    collect(repo, &mut opts)
}

/// The paths outside of which the index provably equals the tree `head`,
/// or `None` when that takes the whole comparison.
///
/// The cache tree (git's `TREE` extension, kept by git and libgit2 alike)
/// records, per directory, how many index entries it covers and the id of
/// the tree they make, or that it was invalidated since. A valid directory
/// whose id equals HEAD's tree for it holds exactly HEAD's entries (same
/// paths, modes and ids), so no comparison can find a change there; git's
/// own status skips such trees the same way. Invalidated directories are
/// compared entry by entry against HEAD's tree, down to the subtrees that
/// are valid again. Whatever differs, or is not described, goes to
/// libgit2 by path, which decides it exactly.
fn staged_scope(repo: &Repository, index: &Index, head: Oid) -> Option<Vec<Vec<u8>>> {
    let tree = index.tree.as_ref()?;
    // Conflicts and intent-to-add entries are outside what the cache tree
    // describes (git leaves intent-to-add entries out of trees).
    if index
        .entries
        .iter()
        .any(|e| e.stage != 0 || e.intent_to_add)
    {
        return None;
    }
    // With core.ignorecase libgit2 pairs paths case-insensitively; the walk
    // below compares bytes.
    if ignore_case(repo) {
        return None;
    }
    let mut out = Vec::new();
    let walk = Walk { repo, index, tree };
    walk.dir(0, head, b"", 0..index.entries.len(), &mut out)?;
    Some(out)
}

/// One side of a name in a directory: a file-like entry (mode and id) or a
/// subdirectory (the index entries under it, or HEAD's tree id).
enum Side {
    File(u32, [u8; index::OID_LEN]),
    IndexDir(Range<usize>),
    TreeDir(Oid),
}

struct Walk<'a> {
    repo: &'a Repository,
    index: &'a Index,
    tree: &'a CacheTree,
}

impl Walk<'_> {
    /// Compare cache tree node `node` (directory `dir`, covering the index
    /// entries `range`) with HEAD's tree `head`, adding to `out` the paths
    /// that may differ. `None`: the cache tree does not add up.
    fn dir(
        &self,
        node: usize,
        head: Oid,
        dir: &[u8],
        range: Range<usize>,
        out: &mut Vec<Vec<u8>>,
    ) -> Option<()> {
        let n = self.tree.nodes.get(node)?;
        if let Some((count, oid)) = n.valid {
            // A node that does not cover exactly these entries describes
            // some other index: doubt.
            if count != range.len() {
                return None;
            }
            if head.as_bytes() == oid.as_slice() {
                return Some(());
            }
            if dir.is_empty() {
                return None;
            }
            out.push(dir.to_vec());
            return Some(());
        }
        let mut names: BTreeMap<Vec<u8>, (Option<Side>, Option<Side>)> = BTreeMap::new();
        let entries = self.index.entries.get(range.clone())?;
        let mut i = 0;
        while let Some(e) = entries.get(i) {
            let path = self.index.path(e);
            let rel = if dir.is_empty() {
                path
            } else {
                path.get(dir.len() + 1..)?
            };
            let (name, side, next) = match rel.iter().position(|b| *b == b'/') {
                None => (rel, Side::File(e.mode, e.oid), i + 1),
                Some(k) => {
                    // The entries under `name/` are contiguous (sorted).
                    let prefix = path.get(..path.len() - rel.len() + k + 1)?;
                    let end = entries[i..]
                        .iter()
                        .position(|e| !self.index.path(e).starts_with(prefix))
                        .map_or(entries.len(), |n| i + n);
                    let start = range.start + i;
                    (&rel[..k], Side::IndexDir(start..range.start + end), end)
                }
            };
            let slot = names.entry(name.to_vec()).or_default();
            if slot.0.is_some() {
                // A file and a directory of one name: not a real index.
                return None;
            }
            slot.0 = Some(side);
            i = next;
        }
        let head_tree = self.repo.find_tree(head).ok()?;
        for t in head_tree.iter() {
            let mode = t.filemode_raw() as u32;
            let side = if mode & 0o170000 == 0o040000 {
                Side::TreeDir(t.id())
            } else {
                let mut oid = [0; index::OID_LEN];
                oid.copy_from_slice(t.id().as_bytes().get(..index::OID_LEN)?);
                Side::File(mode, oid)
            };
            let slot = names.entry(t.name_bytes().to_vec()).or_default();
            if slot.1.is_some() {
                return None;
            }
            slot.1 = Some(side);
        }
        for (name, sides) in names {
            let path = join(dir, &name);
            match sides {
                (Some(Side::File(m, o)), Some(Side::File(hm, ho))) if m == hm && o == ho => {}
                (Some(Side::IndexDir(sub)), Some(Side::TreeDir(sub_head))) => {
                    match self.tree.child(node, &name) {
                        Some(c) => self.dir(c, sub_head, &path, sub, out)?,
                        None => out.push(path),
                    }
                }
                _ => out.push(path),
            }
        }
        Some(())
    }
}

/// Whether core.ignorecase is set (unreadable: taken as set, the careful
/// side).
fn ignore_case(repo: &Repository) -> bool {
    match repo.config().and_then(|c| c.get_bool("core.ignorecase")) {
        Ok(set) => set,
        Err(e) => e.code() != git2::ErrorCode::NotFound,
    }
}

/// A second handle on the repository whose index holds only what the
/// candidates' status reads: the entries at or under the candidate paths,
/// and every `.gitattributes` (libgit2 reads attributes from the index
/// too). libgit2 then never loads the whole index, most of the cost of a
/// run on a large tree. `None` when the handle cannot be made: the caller
/// uses the repository's own index.
///
/// The status of a path restricted by an exact path list depends only on
/// the index entries of that path list (the racy rule aside, which
/// [`memory_repo`] keeps). The caller keeps this to indexes with nothing
/// but plain entries (no conflict, submodule, intent-to-add or
/// skip-worktree entry) and case-sensitive paths.
fn partial_repo(repo: &Repo, index: &Index, paths: &[Vec<u8>]) -> Option<Repository> {
    let entries = &index.entries;
    let mut wanted: Vec<usize> = Vec::new();
    for p in paths {
        if let Ok(i) = entries.binary_search_by(|e| index.path(e).cmp(p)) {
            wanted.push(i);
        }
        let mut under = p.clone();
        under.push(b'/');
        let start = entries.partition_point(|e| index.path(e) < under.as_slice());
        wanted.extend((start..entries.len()).take_while(|i| {
            entries
                .get(*i)
                .is_some_and(|e| index.path(e).starts_with(&under))
        }));
    }
    wanted.extend(
        entries
            .iter()
            .enumerate()
            .filter(|(_, e)| split(index.path(e)).1 == b".gitattributes")
            .map(|(i, _)| i),
    );
    wanted.sort_unstable();
    wanted.dedup();
    memory_repo(&repo.root, index, Some(&wanted))
}

/// A second handle on the repository whose index is the index as read
/// here, held in memory: every entry, or only the entries at `only`
/// (positions in [`Index::entries`]). `None` when the handle cannot be
/// made.
///
/// This is how libgit2 sees a split index, which it cannot read itself,
/// and how its status follows git's racy rule (see [`racy`]): libgit2 would
/// rehash only a file modified at or after the index file's nanosecond,
/// and an index held in memory has no file. A racy entry gets a
/// modification time no file can have (a nanosecond count of 10^9), so
/// that libgit2 rehashes its file; every other field is the index's own.
pub(crate) fn memory_repo(
    root: &Path,
    index: &Index,
    only: Option<&[usize]>,
) -> Option<Repository> {
    let handle = Repository::open(root).ok()?;
    let mut memory = git2::Index::new().ok()?;
    let add = |memory: &mut git2::Index, e: &Entry| -> Option<()> {
        let mtime = if racy(e, index.written.0) {
            (e.mtime.0, 1_000_000_000)
        } else {
            e.mtime
        };
        let extended = if e.skip_worktree { SKIP_WORKTREE } else { 0 }
            | if e.intent_to_add { INTENT_TO_ADD } else { 0 };
        let flags = if e.assume_valid { 0x8000 } else { 0 }
            | if extended != 0 { 0x4000 } else { 0 }
            | (u16::from(e.stage) << 12);
        memory
            .add(&git2::IndexEntry {
                ctime: git2::IndexTime::new(e.ctime.0, e.ctime.1),
                mtime: git2::IndexTime::new(mtime.0, mtime.1),
                dev: 0,
                ino: e.ino,
                mode: e.mode,
                uid: e.uid,
                gid: e.gid,
                file_size: e.size,
                id: Oid::from_bytes(&e.oid).ok()?,
                flags,
                flags_extended: extended,
                path: index.path(e).to_vec(),
            })
            .ok()
    };
    match only {
        Some(at) => {
            for e in at.iter().filter_map(|i| index.entries.get(*i)) {
                add(&mut memory, e)?;
            }
        }
        None => {
            for e in &index.entries {
                add(&mut memory, e)?;
            }
        }
    }
    handle.set_index(&mut memory).ok()?;
    Some(handle)
}

/// Which of `paths` are submodules, as libgit2's list of submodules has
/// them: the paths `.gitmodules` declares and the gitlinks of the index and
/// of HEAD's tree. `index_gitlinks` are the index's, when [`changes`] read
/// them.
///
/// Building that list walks the whole index and every tree of HEAD. So
/// when there is no `.gitmodules` file, which leaves only the gitlinks,
/// each path is looked up in the index and in HEAD's tree instead.
pub fn submodules_among(
    repo: &Repo,
    paths: &[&[u8]],
    index_gitlinks: Option<&[Vec<u8>]>,
) -> HashSet<Vec<u8>> {
    let gitmodules = std::fs::symlink_metadata(repo.root.join(".gitmodules"));
    if !matches!(&gitmodules, Err(e) if e.kind() == std::io::ErrorKind::NotFound) {
        return repo
            .repo
            .submodules()
            .map(|subs| {
                subs.iter()
                    .map(|s| s.path().as_os_str().as_encoded_bytes().to_vec())
                    .filter(|p| paths.contains(&p.as_slice()))
                    .collect()
            })
            .unwrap_or_default();
    }
    // Loading libgit2's index only when the direct read did not happen.
    let index = match index_gitlinks {
        Some(_) => None,
        None => repo.repo.index().ok(),
    };
    let head = repo.repo.head().and_then(|h| h.peel_to_tree()).ok();
    paths
        .iter()
        // Untracked directories end in `/`; a gitlink's path never does.
        .filter(|p| !p.is_empty() && !p.ends_with(b"/"))
        .filter(|p| {
            let path = bytes_path(p);
            let in_index = match index_gitlinks {
                Some(links) => links.iter().any(|l| l.as_slice() == **p),
                None => index
                    .as_ref()
                    .and_then(|i| i.get_path(path, 0))
                    .is_some_and(|e| e.mode == GITLINK),
            };
            in_index
                || head
                    .as_ref()
                    .and_then(|t| t.get_path(path).ok())
                    .is_some_and(|e| e.filemode() as u32 == GITLINK)
        })
        .map(|p| p.to_vec())
        .collect()
}

/// Threads to use: the machine's parallelism, capped.
pub fn default_threads() -> usize {
    crate::par::threads(MAX_THREADS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use crate::git;
    use crate::git::testutil::{drop_cache_tree, fixture, git, git_status_paths, run_git, write};

    type Mutation = fn(&Path);

    /// Directory names libgit2's path patterns read otherwise than as
    /// themselves (see `plain_pattern`), and a few that it reads right.
    const ODD_NAMES: &[&str] = &[
        "evil\ndir",
        "feed\x0cdir",
        "vt\x0bdir",
        "cr\r",
        "mid\rcr",
        "tab\tdir",
        "back\\slash",
        "!bang",
        "#hash",
        "trailing ",
        " leading",
        "star*",
        "q?",
        "[set]",
        "caf\u{e9}",
    ];

    /// The shortcut's result after `mutate` must be libgit2's full status
    /// over the same index, and list the paths git lists; with `split`, on
    /// a split index (which libgit2 cannot read itself).
    fn same_as_libgit2(name: &str, mutate: Mutation, split: bool) {
        let tmp = fixture();
        mutate(tmp.path());
        if split {
            // git refuses to split a sparse index.
            if index::read(&tmp.path().join(".git/index")).is_ok_and(|i| i.sparse) {
                return;
            }
            git(tmp.path(), &["update-index", "--split-index"]);
            let read = index::read(&tmp.path().join(".git/index"));
            assert!(read.is_ok_and(|i| i.split), "{name}: not a split index");
        }
        let repo = git::open(tmp.path()).unwrap_or_else(|e| panic!("{name}: {}", e.message));
        let read = index::read_whole(&repo.repo).ok();
        let expected = fallback(&repo, read.as_ref()).unwrap().changes;
        for threads in [1, 2, 3] {
            let got = changes(&repo, threads).unwrap().changes;
            let show = |c: &[Change]| {
                c.iter()
                    .map(|(p, s)| format!("{} {s:?}", String::from_utf8_lossy(p)))
                    .collect::<Vec<_>>()
            };
            assert_eq!(show(&got), show(&expected), "{name} with {threads} threads");
        }
        // And the paths git itself lists.
        let paths: Vec<Vec<u8>> = expected.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(
            path_set(&paths),
            path_set(&git_status_paths(tmp.path())),
            "{name}: git"
        );
    }

    /// Paths as a set to compare with git's list: a file replaced by a
    /// directory is one path to git (`top.txt`), two to libgit2 (`top.txt`
    /// and `top.txt/`).
    fn path_set(paths: &[Vec<u8>]) -> BTreeSet<String> {
        paths
            .iter()
            .map(|p| String::from_utf8_lossy(p.strip_suffix(b"/").unwrap_or(p)).into_owned())
            .collect()
    }

    #[test]
    fn files_a_sparse_checkout_leaves_out_are_not_changes() {
        let tmp = fixture();
        let d = tmp.path();
        git(
            d,
            &["sparse-checkout", "set", "--no-cone", "/d0/", "/top.txt"],
        );
        assert!(!d.join("d1/f1.txt").exists(), "the checkout is not sparse");
        let repo = git::open(d).unwrap();
        for threads in [1, 2] {
            assert_eq!(
                changes(&repo, threads).unwrap().changes,
                [],
                "{threads} threads"
            );
        }
        assert_eq!(fallback(&repo, None).unwrap().changes, []);
        // A change inside the checkout still counts; so does a staged
        // change to a left-out file.
        write(d, "d0/f0.txt", "changed inside\n");
        git(d, &["rm", "-q", "--cached", "--sparse", "d1/f1.txt"]);
        let repo = git::open(d).unwrap();
        let got: Vec<(String, G)> = changes(&repo, 2)
            .unwrap()
            .changes
            .into_iter()
            .map(|(p, s)| (String::from_utf8_lossy(&p).into_owned(), s))
            .collect();
        assert_eq!(
            got,
            [
                ("d0/f0.txt".to_string(), G::WT_MODIFIED),
                ("d1/f1.txt".to_string(), G::INDEX_DELETED),
            ]
        );
    }

    #[test]
    fn the_shortcut_agrees_with_libgit2_status() {
        let cases: &[(&str, Mutation)] = &[
            ("clean", |_| {}),
            ("modified, other size", |d| {
                write(d, "d1/f1.txt", "changed!\n")
            }),
            ("modified, same size", |d| write(d, "d1/f2.txt", "XX\n")),
            ("deleted file", |d| {
                std::fs::remove_file(d.join("d2/f0.txt")).unwrap()
            }),
            ("deleted directory", |d| {
                std::fs::remove_dir_all(d.join("a")).unwrap()
            }),
            ("file replaced by a directory", |d| {
                std::fs::remove_file(d.join("top.txt")).unwrap();
                write(d, "top.txt/inner", "x\n");
            }),
            ("untracked file in a tracked directory", |d| {
                write(d, "d3/new.txt", "n\n")
            }),
            ("untracked file at the root", |d| {
                write(d, "new-top.txt", "n\n")
            }),
            ("untracked nested directory", |d| {
                write(d, "fresh/x/y.txt", "n\n")
            }),
            ("empty untracked directory", |d| {
                std::fs::create_dir(d.join("empty")).unwrap()
            }),
            ("ignored file and directory", |d| {
                write(d, "d0/debug.log", "l\n");
                write(d, "build/out.bin", "b\n");
            }),
            ("staged new file", |d| {
                write(d, "d0/staged.txt", "s\n");
                git(d, &["add", "d0/staged.txt"]);
            }),
            ("staged change", |d| {
                write(d, "d0/f0.txt", "staged change\n");
                git(d, &["add", "d0/f0.txt"]);
            }),
            ("removed from the index, kept on disk", |d| {
                git(d, &["rm", "-q", "--cached", "d0/f1.txt"])
            }),
            ("link retargeted", |d| {
                std::fs::remove_file(d.join("link")).unwrap();
                std::os::unix::fs::symlink("run.sh", d.join("link")).unwrap();
            }),
            ("exec bit dropped", |d| {
                std::fs::set_permissions(
                    d.join("run.sh"),
                    std::os::unix::fs::PermissionsExt::from_mode(0o644),
                )
                .unwrap()
            }),
            ("deep change", |d| write(d, "a/b/c/deep.txt", "deeper\n")),
            ("many changes at once", |d| {
                write(d, "d1/f1.txt", "changed!\n");
                write(d, "d3/new.txt", "n\n");
                write(d, "fresh/y.txt", "n\n");
                std::fs::remove_file(d.join("d2/f0.txt")).unwrap();
                git(d, &["rm", "-q", "--cached", "d0/f1.txt"]);
            }),
            // What the cache tree decides: the staged side.
            ("staged change, then committed", |d| {
                write(d, "d0/f0.txt", "committed\n");
                git(d, &["add", "d0/f0.txt"]);
                git(d, &["commit", "-q", "-m", "second"]);
            }),
            (
                "re-added unchanged: cache tree invalidated, index equal to HEAD",
                |d| {
                    write(d, "d1/f1.txt", "11\n");
                    write(d, "a/b/c/deep.txt", "deep\n");
                    git(d, &["add", "d1/f1.txt", "a/b/c/deep.txt"]);
                },
            ),
            ("staged change deep down, sibling subtrees valid", |d| {
                write(d, "a/b/c/deep.txt", "staged deeper\n");
                git(d, &["add", "a/b/c/deep.txt"]);
            }),
            ("staged change, then more on disk", |d| {
                write(d, "d0/f0.txt", "staged\n");
                git(d, &["add", "d0/f0.txt"]);
                write(d, "d0/f0.txt", "and more\n");
            }),
            ("staged deletion of a directory", |d| {
                git(d, &["rm", "-r", "-q", "--cached", "d2"])
            }),
            ("staged new directory", |d| {
                write(d, "fresh/n.txt", "n\n");
                write(d, "fresh/deeper/m.txt", "m\n");
                git(d, &["add", "fresh"]);
            }),
            ("staged mode change", |d| {
                git(d, &["update-index", "--chmod=-x", "run.sh"])
            }),
            ("staged link retarget", |d| {
                std::fs::remove_file(d.join("link")).unwrap();
                std::os::unix::fs::symlink("run.sh", d.join("link")).unwrap();
                git(d, &["add", "link"]);
            }),
            ("staged file replaced by a directory", |d| {
                git(d, &["rm", "-q", "--cached", "top.txt"]);
                std::fs::remove_file(d.join("top.txt")).unwrap();
                write(d, "top.txt/inner", "x\n");
                git(d, &["add", "top.txt/inner"]);
            }),
            ("staged directory replaced by a file", |d| {
                git(d, &["rm", "-r", "-q", "--cached", "a/x"]);
                std::fs::remove_dir_all(d.join("a/x")).unwrap();
                write(d, "a/x", "now a file\n");
                git(d, &["add", "a/x"]);
            }),
            (
                "HEAD moved back, index kept (valid cache tree, other tree)",
                |d| {
                    write(d, "d0/f0.txt", "committed\n");
                    git(d, &["add", "d0/f0.txt"]);
                    git(d, &["commit", "-q", "-m", "second"]);
                    git(d, &["reset", "-q", "--soft", "HEAD~1"]);
                },
            ),
            ("index written by libgit2 without a cache tree", |d| {
                write(d, "d0/f0.txt", "staged\n");
                git(d, &["add", "d0/f0.txt"]);
                drop_cache_tree(d);
            }),
            (
                "index written by libgit2 without a cache tree, clean",
                drop_cache_tree,
            ),
            ("index version 4, clean", |d| {
                git(d, &["update-index", "--index-version", "4"])
            }),
            ("index version 4 with changes", |d| {
                git(d, &["update-index", "--index-version", "4"]);
                write(d, "a/b/c/deep.txt", "staged\n");
                git(d, &["add", "a/b/c/deep.txt"]);
                write(d, "d1/f1.txt", "changed!\n");
                write(d, "d3/new.txt", "n\n");
            }),
            ("skip-worktree entry, file gone", |d| {
                git(d, &["update-index", "--skip-worktree", "d3/f3.txt"]);
                std::fs::remove_file(d.join("d3/f3.txt")).unwrap();
            }),
            ("sparse checkout", |d| {
                git(
                    d,
                    &["sparse-checkout", "set", "--no-cone", "/d0/", "/top.txt"],
                );
                write(d, "d0/f0.txt", "changed inside\n");
            }),
            ("sparse index, clean", |d| {
                git(d, &["sparse-checkout", "init", "--cone", "--sparse-index"]);
                git(d, &["sparse-checkout", "set", "d0", "a/b"]);
            }),
            (
                "sparse index with changes inside and outside the cone",
                |d| {
                    git(d, &["sparse-checkout", "init", "--cone", "--sparse-index"]);
                    git(d, &["sparse-checkout", "set", "d0", "a/b"]);
                    write(d, "d0/f0.txt", "changed inside\n");
                    write(d, "a/b/new.txt", "n\n");
                    write(d, "d1/outside.txt", "n\n");
                    git(d, &["rm", "-q", "--cached", "--sparse", "d2/f1.txt"]);
                },
            ),
            ("intent-to-add entry", |d| {
                write(d, "d1/later.txt", "later\n");
                git(d, &["add", "-N", "d1/later.txt"]);
            }),
            // What the candidates' status reads from a partial index.
            ("untracked directory inside a tracked one", |d| {
                write(d, "d1/sub/x/new.txt", "n\n");
                write(d, "a/b/c/more/new.txt", "n\n");
            }),
            ("untracked file deep in tracked directories", |d| {
                write(d, "a/b/c/new.txt", "n\n")
            }),
            ("attributes only in the index decide a change", |d| {
                // With the text attribute, CRLF on disk is the same content.
                write(d, ".gitattributes", "*.dat text\n");
                write(d, "x.dat", "one\ntwo\n");
                git(d, &["add", ".gitattributes", "x.dat"]);
                git(d, &["commit", "-q", "-m", "attributes"]);
                write(d, "x.dat", "one\r\ntwo\r\n");
                std::fs::remove_file(d.join(".gitattributes")).unwrap();
            }),
            ("assume-unchanged entry modified", |d| {
                git(d, &["update-index", "--assume-unchanged", "d1/f2.txt"]);
                write(d, "d1/f2.txt", "changed, assumed not\n");
            }),
            ("same size, rewritten in the index's instant (racy)", |d| {
                write(d, "d2/f2.txt", "ZZ\n");
                git(d, &["add", "d2/f2.txt"]);
                write(d, "d2/f2.txt", "YY\n");
            }),
            (
                "same stat data, different content: only the racy rule tells",
                |d| {
                    // Without ctime, only the racy rule (not older than the
                    // index) makes libgit2 rehash the file.
                    git(d, &["config", "core.trustctime", "false"]);
                    let index = index::read(&d.join(".git/index")).unwrap();
                    let e = index.entries.iter().find(|e| index.path(e) == b"d3/f1.txt");
                    let (secs, nanos) = e.unwrap().mtime;
                    write(d, "d3/f1.txt", "QQ\n");
                    let at = std::time::UNIX_EPOCH + std::time::Duration::new(secs as u64, nanos);
                    let file = std::fs::File::options()
                        .write(true)
                        .open(d.join("d3/f1.txt"));
                    file.unwrap().set_modified(at).unwrap();
                },
            ),
            ("every entry removed from the index and committed", |d| {
                git(d, &["rm", "-r", "-q", "--cached", "."]);
                git(d, &["commit", "-q", "-m", "nothing tracked"]);
                write(d, "new.txt", "n\n");
            }),
            (
                "untracked directories whose names libgit2 reads as patterns",
                |d| {
                    for name in ODD_NAMES {
                        write(d, &format!("{name}/run.sh"), "p\n");
                        write(d, &format!("d1/{name}/run.sh"), "p\n");
                    }
                },
            ),
            ("tracked directories with such names, changed inside", |d| {
                for name in ODD_NAMES {
                    write(d, &format!("{name}/kept.txt"), "k\n");
                }
                git(d, &["add", "-A"]);
                git(d, &["commit", "-q", "-m", "odd names"]);
                for name in ODD_NAMES {
                    write(d, &format!("{name}/kept.txt"), "changed\n");
                    write(d, &format!("{name}/sub/new.txt"), "n\n");
                }
            }),
            ("merge conflict", |d| {
                git(d, &["checkout", "-q", "-b", "other"]);
                write(d, "d0/f0.txt", "theirs\n");
                git(d, &["commit", "-q", "-am", "theirs"]);
                git(d, &["checkout", "-q", "main"]);
                write(d, "d0/f0.txt", "ours\n");
                git(d, &["commit", "-q", "-am", "ours"]);
                let out = run_git(d, &["merge", "-q", "other"]);
                assert!(!out.status.success(), "the merge must conflict");
            }),
        ];
        for (name, mutate) in cases {
            same_as_libgit2(name, *mutate, false);
            same_as_libgit2(name, *mutate, true);
        }
    }

    /// What `staged_scope` leaves to libgit2 after `mutate`.
    fn scope_after(mutate: Mutation) -> Option<Vec<String>> {
        let tmp = fixture();
        mutate(tmp.path());
        let repo = git::open(tmp.path()).unwrap();
        let index = index::read(&tmp.path().join(".git/index")).unwrap();
        let head = repo.repo.head().unwrap().peel_to_tree().unwrap().id();
        staged_scope(&repo.repo, &index, head).map(|paths| {
            paths
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect()
        })
    }

    #[test]
    fn the_cache_tree_leaves_libgit2_only_what_may_differ() {
        // Proven equal to HEAD: nothing to compare.
        assert_eq!(scope_after(|_| {}), Some(vec![]));
        assert_eq!(
            scope_after(|d| {
                write(d, "d1/f1.txt", "11\n");
                git(d, &["add", "d1/f1.txt"]);
            }),
            Some(vec![])
        );
        assert_eq!(
            scope_after(|d| git(d, &["update-index", "--index-version", "4"])),
            Some(vec![])
        );
        // A staged change: that path only, not its valid siblings.
        assert_eq!(
            scope_after(|d| {
                write(d, "a/b/c/deep.txt", "staged\n");
                git(d, &["add", "a/b/c/deep.txt"]);
            }),
            Some(vec!["a/b/c/deep.txt".to_string()])
        );
        assert_eq!(
            scope_after(|d| git(d, &["rm", "-r", "-q", "--cached", "d2"])),
            Some(vec!["d2".to_string()])
        );
        // Nothing to go by, or something the cache tree does not describe:
        // the whole comparison.
        assert_eq!(scope_after(drop_cache_tree), None);
        assert_eq!(
            scope_after(|d| {
                write(d, "d1/later.txt", "later\n");
                git(d, &["add", "-N", "d1/later.txt"]);
            }),
            None
        );
        assert_eq!(
            scope_after(|d| {
                write(d, "d0/f0.txt", "committed\n");
                git(d, &["commit", "-q", "-am", "second"]);
                git(d, &["reset", "-q", "--soft", "HEAD~1"]);
            }),
            None
        );
    }

    #[test]
    fn submodules_are_found_without_listing_them_all() {
        let tmp = fixture();
        let d = tmp.path();
        // A gitlink without a .gitmodules file: the per-path lookup.
        let sub = d.join("sub");
        std::fs::create_dir(&sub).unwrap();
        git(&sub, &["init", "-q", "-b", "main"]);
        write(&sub, "README", "inner\n");
        git(&sub, &["add", "README"]);
        git(&sub, &["commit", "-q", "-m", "inner"]);
        git(d, &["add", "sub"]);
        git(d, &["commit", "-q", "-m", "gitlink"]);
        let repo = git::open(d).unwrap();
        let paths: [&[u8]; 4] = [b"sub", b"top.txt", b"d0/", b"missing"];
        let listed = |repo: &git::Repo| -> HashSet<Vec<u8>> {
            repo.repo
                .submodules()
                .unwrap()
                .iter()
                .map(|s| s.path().as_os_str().as_encoded_bytes().to_vec())
                .filter(|p| paths.contains(&p.as_slice()))
                .collect()
        };
        let expected = listed(&repo);
        assert_eq!(expected, HashSet::from([b"sub".to_vec()]));
        let read = changes(&repo, 1).unwrap().index_gitlinks;
        assert_eq!(read, Some(vec![b"sub".to_vec()]));
        assert_eq!(submodules_among(&repo, &paths, read.as_deref()), expected);
        assert_eq!(submodules_among(&repo, &paths, None), expected);
        // Removed from the index, still in HEAD: still listed.
        git(d, &["rm", "-q", "--cached", "sub"]);
        let repo = git::open(d).unwrap();
        let read = changes(&repo, 1).unwrap().index_gitlinks;
        assert_eq!(read, Some(vec![]));
        assert_eq!(
            submodules_among(&repo, &paths, read.as_deref()),
            listed(&repo)
        );
        assert_eq!(submodules_among(&repo, &paths, None), listed(&repo));
    }

    #[test]
    fn a_file_older_than_the_index_is_proven_by_stat() {
        let tmp = fixture();
        let index = index::read(&tmp.path().join(".git/index")).unwrap();
        let e = index
            .entries
            .iter()
            .find(|e| index.path(e) == b"top.txt")
            .unwrap();
        let t = Tracked {
            path: b"top.txt",
            name: b"top.txt",
            e,
        };
        let st = statat(CWD, tmp.path().join("top.txt"), AtFlags::SYMLINK_NOFOLLOW).unwrap();
        assert!(t.unchanged(&st, i32::MAX));
        // Written in the index's own second: racy, not proven.
        assert!(!t.unchanged(&st, e.mtime.0));
    }

    /// The changed paths the shortcut finds, as a set to compare with git's.
    fn shortcut_paths(d: &Path, threads: usize) -> BTreeSet<String> {
        let repo = git::open(d).unwrap();
        let found = changes(&repo, threads).unwrap().changes;
        path_set(&found.into_iter().map(|(p, _)| p).collect::<Vec<_>>())
    }

    /// Point the index entry of `path` at the blob `oid` instead, keeping
    /// its stat data, and write the index back with a good checksum: an
    /// entry whose cached stat data matches a file whose content is not
    /// the entry's.
    fn swap_entry_id(d: &Path, path: &[u8], oid: &[u8; index::OID_LEN]) {
        let file = d.join(".git/index");
        let index = index::read(&file).unwrap();
        assert_eq!(index.version, 2);
        let e = index
            .entries
            .iter()
            .find(|e| index.path(e) == path)
            .unwrap();
        let mut bytes = std::fs::read(&file).unwrap();
        let at = bytes
            .windows(index::OID_LEN)
            .position(|w| w == e.oid)
            .unwrap();
        bytes[at..at + index::OID_LEN].copy_from_slice(oid);
        let body = bytes.len() - index::OID_LEN;
        let sum = <sha1::Sha1 as sha1::Digest>::digest(&bytes[..body]);
        bytes[body..].copy_from_slice(&sum);
        std::fs::write(&file, &bytes).unwrap();
    }

    fn set_mtime(path: &Path, secs: i32, nanos: u32) {
        let at = std::time::UNIX_EPOCH + std::time::Duration::new(secs as u64, nanos);
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(at).unwrap();
    }

    #[test]
    fn a_file_changed_within_the_index_s_second_is_not_proven_by_stat() {
        let tmp = fixture();
        let d = tmp.path();
        // The old content committed, then the file rewritten with other
        // content of the same size, staged: the entry's stat data is the
        // file's own.
        write(d, "d2/f3.txt", "AA\n");
        git(d, &["commit", "-q", "-am", "AA"]);
        let old = {
            let index = index::read(&d.join(".git/index")).unwrap();
            let e = index.entries.iter().find(|e| index.path(e) == b"d2/f3.txt");
            e.unwrap().oid
        };
        write(d, "d2/f3.txt", "BB\n");
        // Modified well before the index is written, so that git stages it
        // as it is (an entry racy when written would have its size zeroed).
        let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(10);
        let secs = earlier
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        set_mtime(&d.join("d2/f3.txt"), secs as i32, 500_000_000);
        git(d, &["add", "d2/f3.txt"]);
        // Now the entry says "AA" with the stat data of the file that says
        // "BB": what a change in the same instant as the staging leaves.
        swap_entry_id(d, b"d2/f3.txt", &old);
        let entry_mtime = {
            let index = index::read(&d.join(".git/index")).unwrap();
            let e = index.entries.iter().find(|e| index.path(e) == b"d2/f3.txt");
            e.unwrap().mtime
        };
        let index_file = d.join(".git/index");
        // The index written in the same second, even a little later: the
        // stat data proves nothing, the file is compared.
        for nanos in [entry_mtime.1, 999_999_999] {
            set_mtime(&index_file, entry_mtime.0, nanos);
            let expected: BTreeSet<String> = ["d2/f3.txt".to_string()].into();
            assert_eq!(path_set(&git_status_paths(d)), expected, "git, at {nanos}");
            for threads in [1, 2] {
                assert_eq!(shortcut_paths(d, threads), expected, "at {nanos}");
            }
        }
        // Written a second later: the stat data is trusted, by git too.
        set_mtime(&index_file, entry_mtime.0 + 1, 0);
        assert_eq!(
            path_set(&git_status_paths(d)),
            BTreeSet::new(),
            "git, a second later"
        );
        assert_eq!(shortcut_paths(d, 2), BTreeSet::new());
    }

    /// Random trees and random edits: the shortcut must list the paths git
    /// lists. Seeded, so that a failure names the seed that reproduces it.
    #[test]
    fn random_trees_and_edits_agree_with_git() {
        let names = [
            "a",
            "b",
            "c.txt",
            "d d",
            "e\tf",
            "[g]",
            "h*",
            "k\nl",
            "m ",
            "#n",
            "caf\u{e9}",
        ];
        let base_seed = 0x5eed_0000_u64;
        for round in 0..16 {
            let seed = base_seed + round;
            let mut rng = fastrand::Rng::with_seed(seed);
            let tmp = tempfile::tempdir().unwrap();
            let d = tmp.path();
            git(d, &["init", "-q", "-b", "main"]);
            write(d, ".gitignore", "*.log\nignored/\n");
            let mut files: Vec<String> = Vec::new();
            for _ in 0..rng.usize(1..25) {
                let depth = rng.usize(0..3);
                let mut path = String::new();
                for _ in 0..depth {
                    path.push_str(names[rng.usize(..names.len())]);
                    path.push('/');
                }
                path.push_str(&format!("f{}", rng.usize(0..6)));
                let text = format!("{}\n", rng.u32(..));
                let p = d.join(&path);
                // A name already taken as a file or a folder: skip it.
                if std::fs::create_dir_all(p.parent().unwrap()).is_err() || p.is_dir() {
                    continue;
                }
                std::fs::write(&p, text).unwrap();
                files.push(path);
            }
            // Half the time the files are older than the index, so that
            // the stat data proves them; else they are racy.
            if rng.bool() {
                for f in &files {
                    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(10);
                    let h = std::fs::File::options()
                        .write(true)
                        .open(d.join(f))
                        .unwrap();
                    h.set_modified(old).unwrap();
                }
            }
            git(d, &["add", "-A"]);
            git(d, &["commit", "-q", "--allow-empty", "-m", "base"]);
            let mut log = Vec::new();
            for _ in 0..rng.usize(0..5) {
                let f = files.get(rng.usize(..files.len().max(1))).cloned();
                let new_name =
                    format!("{}/new{}", names[rng.usize(..names.len())], rng.usize(0..3));
                let edit = rng.usize(0..10);
                log.push(format!("{edit} {f:?} {new_name:?}"));
                match (edit, f) {
                    (0, Some(f)) => {
                        // Same size, other content.
                        let p = d.join(&f);
                        if let Ok(mut text) = std::fs::read(&p) {
                            if let Some(b) = text.first_mut() {
                                *b = if *b == b'x' { b'y' } else { b'x' };
                            }
                            std::fs::write(&p, text).unwrap();
                        }
                    }
                    (1, Some(f)) => {
                        let _ = std::fs::write(d.join(&f), "other size entirely\n");
                    }
                    (2, Some(f)) => {
                        let _ = std::fs::remove_file(d.join(&f));
                    }
                    (3, Some(f)) => {
                        let _ = std::fs::write(d.join(&f), "staged\n");
                        let _ = run_git(d, &["add", "--", &f]);
                    }
                    (4, Some(f)) => {
                        let _ = run_git(d, &["rm", "-q", "--cached", "--", &f]);
                    }
                    (5, _) => write(d, &new_name, "untracked\n"),
                    (6, _) => write(d, &format!("{new_name}.log"), "ignored\n"),
                    (7, Some(f)) => {
                        let p = d.join(&f);
                        let _ = std::fs::set_permissions(
                            &p,
                            std::os::unix::fs::PermissionsExt::from_mode(0o755),
                        );
                    }
                    (8, _) if rng.bool() => {
                        let _ = run_git(d, &["update-index", "--split-index"]);
                    }
                    (8, _) => {
                        // Nothing tracked any more.
                        let _ = run_git(d, &["rm", "-r", "-q", "--cached", "."]);
                    }
                    _ => {
                        // Rewritten with its own content: stat data changes,
                        // the content does not.
                        if let Some(f) = files.first()
                            && let Ok(text) = std::fs::read(d.join(f))
                        {
                            std::fs::write(d.join(f), text).unwrap();
                        }
                    }
                }
            }
            let expected = path_set(&git_status_paths(d));
            let got = shortcut_paths(d, 1 + rng.usize(0..3));
            assert_eq!(
                got, expected,
                "seed {seed:#x}, files {files:?}, edits {log:?}"
            );
        }
    }
}
