//! git's index file, read directly: each entry's path, mode, object id
//! and cached stat data, and the cache-tree extension (`TREE`).
//!
//! The status engine ([`super::status`]) needs only these raw fields.
//! libgit2's index load gives the same data at several times the cost: it
//! hashes the whole file with collision-detecting SHA-1, then copies,
//! validates and hashes every path into a map. Here the file's checksum is
//! verified with plain SHA-1 (hardware-accelerated where the CPU has it;
//! git itself does not verify it on ordinary reads), while the entries are
//! parsed.
//!
//! The format is git's `gitformat-index(5)`: versions 2, 3 and 4, SHA-1
//! object ids. A split index (the `link` extension) is read with the shared
//! index file it names and merged into the index they stand for, as git
//! does: libgit2 cannot read one at all. Anything else, or anything that
//! does not add up (a short file, a checksum that does not match or is
//! absent, entries out of order, a path git would refuse, another mandatory
//! extension such as a sparse index's, a malformed cache tree or split
//! index link, a missing shared index), is [`ReadError::Malformed`], and the
//! caller takes the slow exact path. Optional extensions (resolve undo,
//! untracked cache, ...) are skipped.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha1::{Digest as _, Sha1};

/// Length of an object id (SHA-1).
pub const OID_LEN: usize = 20;
const HEADER_LEN: usize = 12;
/// From this size on, the checksum is computed on a thread of its own.
const PARALLEL_HASH_FROM: usize = 1 << 20;
/// The fixed part of an entry: ten 32-bit stat and mode fields, the
/// object id and the 16-bit flags.
const ENTRY_FIXED_LEN: usize = 40 + OID_LEN + 2;
const FLAG_ASSUME_VALID: u16 = 0x8000;
const FLAG_EXTENDED: u16 = 0x4000;
const FLAG_STAGE_SHIFT: u16 = 12;
const NAME_MASK: u16 = 0x0fff;
const EXT_SKIP_WORKTREE: u16 = 0x4000;
const EXT_INTENT_TO_ADD: u16 = 0x2000;
/// Extended flag bits git defines; others must be zero.
const EXT_KNOWN: u16 = EXT_SKIP_WORKTREE | EXT_INTENT_TO_ADD;

/// Why the index could not be used.
#[derive(Debug)]
pub enum ReadError {
    /// There is no index file (nothing was ever staged).
    Missing,
    Io(std::io::Error),
    /// Not an index this reader understands completely.
    Malformed(&'static str),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Missing => f.write_str("no index file"),
            ReadError::Io(e) => e.fmt(f),
            ReadError::Malformed(why) => f.write_str(why),
        }
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            ReadError::Missing
        } else {
            ReadError::Io(e)
        }
    }
}

/// The identity of the index file as read: when any of it changes, the
/// file was rewritten (git replaces it by renaming a new file over it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    /// Seconds truncated to 32 bits as the index stores times, so that
    /// entry times compare with it directly; nanoseconds.
    pub mtime: (i32, u32),
    pub ctime: (i64, i64),
}

impl Stamp {
    pub fn of(m: &std::fs::Metadata) -> Self {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime() as i32, m.mtime_nsec() as u32),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// One index entry. Times are (seconds, nanoseconds) as stored: seconds
/// truncated to 32 bits.
#[derive(Debug, Clone)]
pub struct Entry {
    pub ctime: (i32, u32),
    pub mtime: (i32, u32),
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u32,
    pub oid: [u8; OID_LEN],
    /// 0 normally; 1 to 3 for the sides of a conflict.
    pub stage: u8,
    /// git's "assume unchanged" bit.
    pub assume_valid: bool,
    pub skip_worktree: bool,
    pub intent_to_add: bool,
    name: (usize, usize),
}

/// One directory of the cache tree: how many index entries it covers and
/// the id of the tree they make, unless invalidated since.
#[derive(Debug, Clone)]
pub struct TreeNode {
    pub name: Vec<u8>,
    /// `None` when invalidated (git writes a negative count).
    pub valid: Option<(usize, [u8; OID_LEN])>,
    /// Indexes into [`CacheTree::nodes`], sorted by name.
    pub children: Vec<usize>,
}

/// The `TREE` extension; node 0 is the root.
#[derive(Debug, Clone)]
pub struct CacheTree {
    pub nodes: Vec<TreeNode>,
}

impl CacheTree {
    /// The subdirectory `name` of node `at`, if the cache tree has it.
    pub fn child(&self, at: usize, name: &[u8]) -> Option<usize> {
        let children = &self.nodes.get(at)?.children;
        children
            .binary_search_by(|&c| name_of(&self.nodes, c).cmp(name))
            .ok()
            .and_then(|i| children.get(i).copied())
    }
}

/// A parsed index file.
#[derive(Debug)]
pub struct Index {
    pub version: u32,
    /// In the file's order: by path (bytewise), then stage.
    pub entries: Vec<Entry>,
    names: Vec<u8>,
    pub tree: Option<CacheTree>,
    /// The file this was read from (a split index: its own file).
    pub stamp: Stamp,
    /// When the index was written, for the racy rule: its file's
    /// modification time (a split index: the older of its own file's and
    /// the shared index's).
    pub written: (i32, u32),
    /// The file's trailing checksum.
    pub checksum: [u8; OID_LEN],
    /// Read from a split index and its shared index.
    pub split: bool,
    /// A sparse index: entries may be directories (mode 040000, a path
    /// ending in `/`, the tree's id), until [`expand_sparse`].
    pub sparse: bool,
    /// Made whole from a sparse index by [`expand_sparse`].
    pub expanded: bool,
    /// A split index's link, until [`read`] has merged the shared index.
    link: Option<Link>,
}

impl Index {
    /// Whether libgit2 cannot read this index's file itself: a split or a
    /// sparse index.
    pub fn beyond_libgit2(&self) -> bool {
        self.split || self.expanded || self.sparse
    }

    /// The entry's path, `/`-separated, relative to the work tree root.
    pub fn path(&self, e: &Entry) -> &[u8] {
        self.names.get(e.name.0..e.name.1).unwrap_or_default()
    }
}

/// Read and parse the index file at `path`, and verify its checksum. A
/// split index is read with its shared index, into the index they make.
pub fn read(path: &Path) -> Result<Index, ReadError> {
    let own = read_file(path)?;
    let Some(link) = own.link.as_ref() else {
        return Ok(own);
    };
    // A split index (`git update-index --split-index`, core.splitIndex):
    // most entries are in the shared index file beside it, named by its
    // checksum.
    if link.shared.iter().all(|b| *b == 0) {
        if !link.delete.iter().chain(&link.replace).all(|b| !*b) {
            return Err(ReadError::Malformed("bitmaps without a shared index"));
        }
        let mut own = own;
        own.link = None;
        check_entries(&own).map_err(ReadError::Malformed)?;
        return Ok(own);
    }
    let hex: String = link.shared.iter().map(|b| format!("{b:02x}")).collect();
    let shared_path = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!("sharedindex.{hex}"));
    let shared = match read_file(&shared_path) {
        Ok(shared) => shared,
        Err(ReadError::Missing) => {
            return Err(ReadError::Malformed("the shared index file is missing"));
        }
        Err(e) => return Err(e),
    };
    if shared.checksum != link.shared {
        return Err(ReadError::Malformed("the shared index is another one"));
    }
    if shared.link.is_some() {
        return Err(ReadError::Malformed("a shared index that is itself split"));
    }
    merge_split(own, shared).map_err(ReadError::Malformed)
}

/// The index of the repository `repo`, read as [`read`] does, and made
/// whole when it is a sparse index ([`expand_sparse`]).
pub fn read_whole(repo: &git2::Repository) -> Result<Index, ReadError> {
    let index = read(&repo.path().join("index"))?;
    expand_sparse(index, repo).map_err(ReadError::Malformed)
}

/// One index file, parsed and its checksum verified.
fn read_file(path: &Path) -> Result<Index, ReadError> {
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let stamp = Stamp::of(&meta);
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    if bytes.len() as u64 != meta.len() {
        // Rewritten in place while being read (git never does this).
        return Err(ReadError::Malformed("the file changed while being read"));
    }
    let Some(body) = bytes.len().checked_sub(OID_LEN) else {
        return Err(ReadError::Malformed("too short"));
    };
    let (content, checksum) = bytes.split_at(body);
    if checksum.iter().all(|b| *b == 0) {
        // index.skipHash: nothing to verify the content against.
        return Err(ReadError::Malformed("no checksum"));
    }
    let sha1 = || Sha1::digest(content);
    // A large index is hashed on a second thread while it is parsed.
    let (parsed, hash) = if bytes.len() < PARALLEL_HASH_FROM {
        (parse(&bytes, stamp), Some(sha1()))
    } else {
        std::thread::scope(|scope| {
            let hash = scope.spawn(sha1);
            (parse(&bytes, stamp), hash.join().ok())
        })
    };
    if hash.is_none_or(|h| h.as_slice() != checksum) {
        return Err(ReadError::Malformed("checksum mismatch"));
    }
    parsed.map_err(ReadError::Malformed)
}

/// Whether the file at `path` starts like an index git can read (or is
/// absent, which git takes as an empty index). Only the header: the full
/// read happens when the status needs it.
pub fn check_header(path: &Path) -> Result<(), ReadError> {
    let mut head = [0u8; HEADER_LEN];
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut got = 0;
    while got < HEADER_LEN {
        match file.read(&mut head[got..])? {
            0 => return Err(ReadError::Malformed("too short")),
            n => got += n,
        }
    }
    header(&head).map(|_| ())
}

/// The version and entry count from the 12-byte header.
fn header(head: &[u8]) -> Result<(u32, u32), ReadError> {
    let mut cur = Cursor { buf: head, pos: 0 };
    let bad = ReadError::Malformed;
    if cur.take(4).map_err(bad)? != b"DIRC" {
        return Err(bad("not an index file"));
    }
    let version = cur.u32().map_err(bad)?;
    if !(2..=4).contains(&version) {
        return Err(bad("unknown index version"));
    }
    Ok((version, cur.u32().map_err(bad)?))
}

/// A bounds-checked reader over the file's bytes.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.pos.checked_add(n).ok_or("size overflow")?;
        let s = self.buf.get(self.pos..end).ok_or("truncated")?;
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u16(&mut self) -> Result<u16, &'static str> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn oid(&mut self) -> Result<[u8; OID_LEN], &'static str> {
        let mut oid = [0; OID_LEN];
        oid.copy_from_slice(self.take(OID_LEN)?);
        Ok(oid)
    }

    /// Bytes up to the next NUL, which is consumed.
    fn until_nul(&mut self) -> Result<&'a [u8], &'static str> {
        let rest = self.buf.get(self.pos..).ok_or("truncated")?;
        let len = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or("unterminated name")?;
        let s = self.take(len)?;
        self.pos += 1;
        Ok(s)
    }

    /// Version 4's prefix length: the variable-width integer of pack
    /// offsets (each continuation adds one before shifting).
    fn varint(&mut self) -> Result<usize, &'static str> {
        let mut c = self.take(1)?[0];
        let mut value = usize::from(c & 0x7f);
        while c & 0x80 != 0 {
            c = self.take(1)?[0];
            value = value
                .checked_add(1)
                .and_then(|v| v.checked_mul(128))
                .ok_or("prefix length overflow")?
                | usize::from(c & 0x7f);
        }
        Ok(value)
    }
}

fn parse(bytes: &[u8], stamp: Stamp) -> Result<Index, &'static str> {
    // The trailing checksum is not part of the content.
    let content_len = bytes
        .len()
        .checked_sub(OID_LEN)
        .filter(|n| *n >= HEADER_LEN)
        .ok_or("too short")?;
    let mut cur = Cursor {
        buf: bytes.get(..content_len).ok_or("too short")?,
        pos: 0,
    };
    let (version, count) = match header(cur.take(HEADER_LEN)?) {
        Ok(h) => h,
        Err(ReadError::Malformed(why)) => return Err(why),
        Err(_) => return Err("unreadable header"),
    };
    let count = usize::try_from(count).map_err(|_| "too many entries")?;
    // Every entry takes at least its fixed part: a bound before allocating.
    if count > content_len / ENTRY_FIXED_LEN {
        return Err("more entries than the file holds");
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(count);
    let mut names: Vec<u8> = Vec::with_capacity(content_len / 2);
    let mut prev: (usize, usize) = (0, 0);
    for _ in 0..count {
        let start = cur.pos;
        let fixed = cur.take(ENTRY_FIXED_LEN)?;
        let word = |at: usize| be32(fixed, at);
        let (ctime, mtime) = ((word(0) as i32, word(4)), (word(8) as i32, word(12)));
        // 16: dev, which git's stat rule does not compare.
        let (ino, mode, uid, gid, size) = (word(20), word(24), word(28), word(32), word(36));
        let mut oid = [0; OID_LEN];
        oid.copy_from_slice(fixed.get(40..40 + OID_LEN).ok_or("truncated")?);
        let flags = fixed
            .get(40 + OID_LEN..)
            .and_then(|b| Some(u16::from_be_bytes([*b.first()?, *b.get(1)?])))
            .ok_or("truncated")?;
        let ext = if flags & FLAG_EXTENDED != 0 {
            if version < 3 {
                return Err("extended flags in a version 2 index");
            }
            let ext = cur.u16()?;
            if ext & !EXT_KNOWN != 0 {
                return Err("unknown extended flags");
            }
            ext
        } else {
            0
        };
        let name_start = names.len();
        let stored_len = usize::from(flags & NAME_MASK);
        if version == 4 {
            let strip = cur.varint()?;
            let keep = (prev.1 - prev.0).checked_sub(strip).ok_or("bad prefix")?;
            names.extend_from_within(prev.0..prev.0 + keep);
            names.extend_from_slice(cur.until_nul()?);
        } else {
            // The name's length is stored unless it is 0xFFF or more.
            if stored_len < usize::from(NAME_MASK) {
                names.extend_from_slice(cur.take(stored_len)?);
            } else {
                let name = cur.until_nul()?;
                cur.pos -= 1;
                names.extend_from_slice(name);
            }
            // 1 to 8 NULs end the name and pad the entry to a multiple of
            // 8 bytes.
            let len = cur.pos - start;
            let padded = (len + 8) & !7;
            let pad = cur.take(padded - len)?;
            if pad.iter().any(|b| *b != 0) {
                return Err("bad padding");
            }
        }
        let name = (name_start, names.len());
        let path = &names[name.0..name.1];
        if stored_len != path.len().min(usize::from(NAME_MASK)) {
            return Err("name length mismatch");
        }
        let stage = ((flags >> FLAG_STAGE_SHIFT) & 0x3) as u8;
        match mode & 0o170000 {
            // A sparse index's directory entries: checked once its `sdir`
            // extension is seen.
            0o100000 | 0o120000 | 0o160000 | 0o040000 => {}
            _ => return Err("unexpected entry mode"),
        }
        entries.push(Entry {
            ctime,
            mtime,
            ino,
            mode,
            uid,
            gid,
            size,
            oid,
            stage,
            assume_valid: flags & FLAG_ASSUME_VALID != 0,
            skip_worktree: ext & EXT_SKIP_WORKTREE != 0,
            intent_to_add: ext & EXT_INTENT_TO_ADD != 0,
            name,
        });
        prev = name;
    }
    let mut tree = None;
    let mut link = None;
    let mut sparse = false;
    while cur.pos < content_len {
        let sig = cur.take(4)?;
        let len = usize::try_from(cur.u32()?).map_err(|_| "extension too long")?;
        let data = cur.take(len)?;
        match sig {
            b"TREE" => {
                if tree.is_some() {
                    return Err("two cache trees");
                }
                tree = Some(parse_tree(data)?);
            }
            b"link" => {
                if link.is_some() {
                    return Err("two split index links");
                }
                link = Some(parse_link(data)?);
            }
            // A sparse index: some entries are directories (see
            // [`expand_sparse`]).
            b"sdir" => sparse = true,
            // Optional extensions (resolve undo, untracked cache, ...): an
            // upper-case first letter means a reader may skip it.
            [b'A'..=b'Z', ..] => {}
            // Anything newer changes what the entries mean.
            _ => return Err("a mandatory extension"),
        }
    }
    let mut checksum = [0; OID_LEN];
    checksum.copy_from_slice(bytes.get(content_len..).ok_or("too short")?);
    let index = Index {
        version,
        entries,
        names,
        tree,
        stamp,
        written: stamp.mtime,
        checksum,
        split: false,
        sparse,
        expanded: false,
        link,
    };
    // A split index's own entries are checked once merged with the shared
    // index's (its replacements may have no name).
    if index.link.is_none() {
        check_entries(&index)?;
    }
    Ok(index)
}

/// Every path one git accepts, in git's order (by path, then stage), each
/// (path, stage) once.
fn check_entries(index: &Index) -> Result<(), &'static str> {
    let mut prev: Option<(&[u8], u8)> = None;
    for e in &index.entries {
        let path = index.path(e);
        let file_path = if e.mode & 0o170000 == 0o040000 {
            // A sparse directory: skip-worktree, stage 0, `dir/`.
            if !index.sparse || !e.skip_worktree || e.stage != 0 {
                return Err("a directory entry outside a sparse index");
            }
            path.strip_suffix(b"/")
                .ok_or("a directory entry without its slash")?
        } else {
            path
        };
        if !valid_path(file_path) {
            return Err("a path git would refuse");
        }
        if let Some((p, stage)) = prev
            && p.cmp(path).then(stage.cmp(&e.stage)) != std::cmp::Ordering::Less
        {
            return Err("entries out of order");
        }
        prev = Some((path, e.stage));
    }
    Ok(())
}

/// A split index's `link` extension: the shared index it builds on, and
/// which of the shared index's entries it deletes and replaces.
#[derive(Debug, Clone)]
pub struct Link {
    /// The shared index file's checksum (`sharedindex.<hex>`); all zeros
    /// when there is none.
    pub shared: [u8; OID_LEN],
    pub delete: Vec<bool>,
    pub replace: Vec<bool>,
}

/// Parse the `link` extension: the shared index's id, then the delete and
/// the replace bitmaps (both absent when nothing is deleted or replaced).
fn parse_link(data: &[u8]) -> Result<Link, &'static str> {
    let mut cur = Cursor { buf: data, pos: 0 };
    let shared = cur.oid()?;
    let (delete, replace) = if cur.pos == data.len() {
        (Vec::new(), Vec::new())
    } else {
        (ewah(&mut cur)?, ewah(&mut cur)?)
    };
    if cur.pos != data.len() {
        return Err("trailing data in the split index link");
    }
    Ok(Link {
        shared,
        delete,
        replace,
    })
}

/// One EWAH-compressed bitmap as git writes it: the bit count, the count
/// of 64-bit words, the words, and the position of the last run marker.
/// Each marker word holds the run's bit (bit 0), the run's length in words
/// (the next 32 bits) and how many literal words follow it (the top 31).
fn ewah(cur: &mut Cursor<'_>) -> Result<Vec<bool>, &'static str> {
    let bits = usize::try_from(cur.u32()?).map_err(|_| "bitmap too large")?;
    let words = usize::try_from(cur.u32()?).map_err(|_| "bitmap too large")?;
    let mut buffer = Vec::with_capacity(words.min(cur.buf.len() / 8));
    for _ in 0..words {
        let b = cur.take(8)?;
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        buffer.push(u64::from_be_bytes(w));
    }
    cur.u32()?;
    // Each decoded word gives 64 bits: a bound on a bogus run length.
    let limit = bits.div_ceil(64);
    let mut out: Vec<u64> = Vec::with_capacity(limit);
    let mut at = 0;
    while let Some(marker) = buffer.get(at) {
        let run_bit = marker & 1;
        let run = usize::try_from((marker >> 1) & 0xffff_ffff).map_err(|_| "bad bitmap")?;
        let literals = usize::try_from(marker >> 33).map_err(|_| "bad bitmap")?;
        if out.len() + run > limit {
            return Err("bitmap longer than its bit count");
        }
        let fill = if run_bit == 1 { u64::MAX } else { 0 };
        out.extend(std::iter::repeat_n(fill, run));
        let end = at + 1 + literals;
        out.extend_from_slice(buffer.get(at + 1..end).ok_or("truncated bitmap")?);
        at = end;
    }
    if out.len() > limit {
        return Err("bitmap longer than its bit count");
    }
    Ok((0..bits)
        .map(|i| out.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1))
        .collect())
}

/// The index a split index stands for: the shared index's entries, minus
/// the deleted ones, with the replaced ones swapped for this file's first
/// entries (in order; an empty name keeps the shared entry's name), and
/// this file's other entries added in order. As git merges them.
fn merge_split(own: Index, shared: Index) -> Result<Index, &'static str> {
    let Some(link) = own.link.as_ref() else {
        return Ok(own);
    };
    let n = shared.entries.len();
    let bit = |v: &[bool], i: usize| v.get(i).copied().unwrap_or(false);
    if link.delete.len() > n || link.replace.len() > n {
        return Err("the split index's bitmaps are longer than the shared index");
    }
    let replaced = link.replace.iter().filter(|b| **b).count();
    if replaced > own.entries.len() {
        return Err("more replacements than entries");
    }
    let (replacements, added) = own.entries.split_at(replaced);
    let mut names = Vec::with_capacity(shared.names.len() + own.names.len());
    let mut entries = Vec::with_capacity(n + added.len());
    let mut push = |e: &Entry, path: &[u8], out: &mut Vec<Entry>| {
        let start = names.len();
        names.extend_from_slice(path);
        let mut e = e.clone();
        e.name = (start, names.len());
        out.push(e);
    };
    // The shared entries that remain, replaced where marked.
    let mut kept: Vec<(Entry, Vec<u8>)> = Vec::with_capacity(n);
    let mut next = replacements.iter();
    for (i, e) in shared.entries.iter().enumerate() {
        let entry = if bit(&link.replace, i) {
            let r = next.next().ok_or("more replacements than entries")?;
            // git writes a replacement without its name, and refuses one
            // with a name.
            if !own.path(r).is_empty() {
                return Err("a split index replacement with a name");
            }
            (r.clone(), shared.path(e).to_vec())
        } else {
            (e.clone(), shared.path(e).to_vec())
        };
        if !bit(&link.delete, i) {
            kept.push(entry);
        }
    }
    // Both lists are sorted: merge them.
    let mut a = kept.iter().peekable();
    let mut b = added.iter().peekable();
    loop {
        let take_kept = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((ke, kn)), Some(be)) => (kn.as_slice(), ke.stage) < (own.path(be), be.stage),
        };
        if take_kept {
            if let Some((e, name)) = a.next() {
                push(e, name, &mut entries);
            }
        } else if let Some(e) = b.next() {
            push(e, own.path(e), &mut entries);
        }
    }
    let index = Index {
        version: own.version,
        entries,
        names,
        tree: own.tree,
        stamp: own.stamp,
        // The older of the two files: an entry is racy against either.
        written: own.written.min(shared.written),
        checksum: own.checksum,
        split: true,
        sparse: own.sparse || shared.sparse,
        expanded: false,
        link: None,
    };
    check_entries(&index)?;
    Ok(index)
}

/// What git accepts in an index path: relative, no empty, `.`, `..` or
/// `.git` component (checked case-insensitively, as git does on every
/// platform for `.git`).
fn valid_path(path: &[u8]) -> bool {
    let mut start = 0;
    for (i, b) in path.iter().enumerate() {
        match b {
            0 => return false,
            b'/' => {
                if !valid_component(&path[start..i]) {
                    return false;
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    valid_component(&path[start..])
}

fn valid_component(c: &[u8]) -> bool {
    match c.first() {
        None => false,
        Some(b'.') => c != b"." && c != b".." && !c.eq_ignore_ascii_case(b".git"),
        Some(_) => true,
    }
}

/// The big-endian 32-bit number at `at` (zero past the end, which the
/// callers' fixed-size slices rule out).
fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[b0, b1, b2, b3]) => u32::from_be_bytes([b0, b1, b2, b3]),
        _ => 0,
    }
}

/// A sparse index made whole, as git does before most commands: each
/// directory entry is replaced by the files of its tree (from `repo`),
/// each skip-worktree with no stat data. The cache tree, which counted the
/// directories as one entry each, is dropped. An index that is not sparse
/// is returned as it is.
pub fn expand_sparse(index: Index, repo: &git2::Repository) -> Result<Index, &'static str> {
    if !index.sparse {
        return Ok(index);
    }
    let mut names = Vec::with_capacity(index.names.len());
    let mut entries = Vec::with_capacity(index.entries.len());
    for e in &index.entries {
        let path = index.path(e);
        if e.mode & 0o170000 != 0o040000 {
            let start = names.len();
            names.extend_from_slice(path);
            let mut e = e.clone();
            e.name = (start, names.len());
            entries.push(e);
            continue;
        }
        let mut prefix = path.to_vec();
        add_tree(repo, &e.oid, &mut prefix, &mut names, &mut entries)?;
    }
    let whole = Index {
        entries,
        names,
        tree: None,
        sparse: false,
        expanded: true,
        ..index
    };
    check_entries(&whole)?;
    Ok(whole)
}

/// Add the files of the tree `id`, under `prefix` (which ends in `/`), as
/// skip-worktree entries with no stat data, in index order.
fn add_tree(
    repo: &git2::Repository,
    id: &[u8; OID_LEN],
    prefix: &mut Vec<u8>,
    names: &mut Vec<u8>,
    entries: &mut Vec<Entry>,
) -> Result<(), &'static str> {
    let id = git2::Oid::from_bytes(id).map_err(|_| "a bad tree id")?;
    let tree = repo
        .find_tree(id)
        .map_err(|_| "a sparse directory's tree is missing")?;
    // Index order is bytewise on whole paths: a subdirectory `a` sorts as
    // `a/`, which tree order already does; sorted again to be sure.
    let mut items: Vec<(Vec<u8>, u32, [u8; OID_LEN])> = Vec::with_capacity(tree.len());
    for item in tree.iter() {
        let mut oid = [0; OID_LEN];
        oid.copy_from_slice(
            item.id()
                .as_bytes()
                .get(..OID_LEN)
                .ok_or("a bad object id")?,
        );
        let mode = item.filemode_raw() as u32;
        let mut name = item.name_bytes().to_vec();
        if mode & 0o170000 == 0o040000 {
            name.push(b'/');
        }
        items.push((name, mode, oid));
    }
    items.sort();
    // Trees cannot nest without end, but a crafted one can nest deeply.
    if prefix.len() > 1 << 16 {
        return Err("a sparse directory nested too deep");
    }
    for (name, mode, oid) in items {
        let len = prefix.len();
        prefix.extend_from_slice(&name);
        if mode & 0o170000 == 0o040000 {
            add_tree(repo, &oid, prefix, names, entries)?;
        } else {
            let start = names.len();
            names.extend_from_slice(prefix);
            entries.push(Entry {
                ctime: (0, 0),
                mtime: (0, 0),
                ino: 0,
                mode,
                uid: 0,
                gid: 0,
                size: 0,
                oid,
                stage: 0,
                assume_valid: false,
                skip_worktree: true,
                intent_to_add: false,
                name: (start, names.len()),
            });
        }
        prefix.truncate(len);
    }
    Ok(())
}

/// Parse the `TREE` extension: nodes in depth-first order, each a
/// NUL-terminated name, an ASCII entry count (negative: invalidated), a
/// space, an ASCII subtree count, a newline, and the tree id when valid.
fn parse_tree(data: &[u8]) -> Result<CacheTree, &'static str> {
    let mut cur = Cursor { buf: data, pos: 0 };
    let mut nodes: Vec<TreeNode> = Vec::new();
    // (node, subtrees still to read)
    let mut open: Vec<(usize, usize)> = Vec::new();
    loop {
        let name = cur.until_nul()?.to_vec();
        let entries = decimal(&mut cur, b' ')?;
        let subtrees =
            usize::try_from(decimal(&mut cur, b'\n')?).map_err(|_| "bad subtree count")?;
        let valid = match usize::try_from(entries) {
            Ok(n) => Some((n, cur.oid()?)),
            Err(_) => None,
        };
        let at = nodes.len();
        if let Some((parent, _)) = open.last() {
            if name.is_empty() || name.contains(&b'/') {
                return Err("bad cache tree name");
            }
            let parent = *parent;
            if let Some(p) = nodes.get_mut(parent) {
                p.children.push(at);
            }
        } else if !name.is_empty() {
            return Err("the cache tree's root has a name");
        }
        nodes.push(TreeNode {
            name,
            valid,
            children: Vec::new(),
        });
        // Each node takes at least four bytes: a bound on a bogus count.
        if subtrees > data.len() {
            return Err("bad subtree count");
        }
        open.push((at, subtrees));
        // Close every level whose subtrees have all been read.
        while let Some((_, left)) = open.last_mut() {
            if *left == 0 {
                open.pop();
            } else {
                *left -= 1;
                break;
            }
        }
        if open.is_empty() {
            break;
        }
    }
    if cur.pos != data.len() {
        return Err("trailing data in the cache tree");
    }
    // Sorted children, so that a directory is found by binary search.
    let mut sorted = Vec::with_capacity(nodes.len());
    for node in &nodes {
        let mut children = node.children.clone();
        children.sort_by(|a, b| name_of(&nodes, *a).cmp(name_of(&nodes, *b)));
        if children
            .windows(2)
            .any(|w| name_of(&nodes, w[0]) == name_of(&nodes, w[1]))
        {
            return Err("a cache tree directory listed twice");
        }
        sorted.push(children);
    }
    for (node, children) in nodes.iter_mut().zip(sorted) {
        node.children = children;
    }
    Ok(CacheTree { nodes })
}

fn name_of(nodes: &[TreeNode], i: usize) -> &[u8] {
    nodes.get(i).map_or(&[][..], |n| n.name.as_slice())
}

/// An ASCII decimal, possibly negative, ended by `end`.
fn decimal(cur: &mut Cursor<'_>, end: u8) -> Result<i64, &'static str> {
    let rest = cur.buf.get(cur.pos..).ok_or("truncated")?;
    let len = rest
        .iter()
        .position(|b| *b == end)
        .ok_or("unterminated number")?;
    let text = cur.take(len)?;
    cur.pos += 1;
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return Err("bad number");
    }
    let value = digits
        .iter()
        .fold(0i64, |v, d| v * 10 + i64::from(d - b'0'));
    Ok(if text.len() > digits.len() {
        -value
    } else {
        value
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::testutil::{drop_cache_tree, fixture, git, run_git, write};

    fn index_of(d: &Path) -> Index {
        read(&d.join(".git/index")).unwrap()
    }

    /// Every field this reader takes must be what libgit2 reads.
    fn agrees_with_libgit2(d: &Path) {
        let ours = index_of(d);
        let repo = git2::Repository::open(d).unwrap();
        let theirs: Vec<git2::IndexEntry> = repo.index().unwrap().iter().collect();
        assert_eq!(ours.entries.len(), theirs.len());
        for (e, t) in ours.entries.iter().zip(&theirs) {
            let path = String::from_utf8_lossy(ours.path(e)).into_owned();
            assert_eq!(ours.path(e), t.path.as_slice());
            assert_eq!(e.mode, t.mode, "{path}");
            assert_eq!(&e.oid[..], t.id.as_bytes(), "{path}");
            assert_eq!(e.size, t.file_size, "{path}");
            assert_eq!(
                e.mtime,
                (t.mtime.seconds(), t.mtime.nanoseconds()),
                "{path}"
            );
            assert_eq!(
                e.ctime,
                (t.ctime.seconds(), t.ctime.nanoseconds()),
                "{path}"
            );
            assert_eq!((e.ino, e.uid, e.gid), (t.ino, t.uid, t.gid), "{path}");
            assert_eq!(u16::from(e.stage), (t.flags >> 12) & 3, "{path}");
            assert_eq!(e.skip_worktree, t.flags_extended & 0x4000 != 0, "{path}");
            assert_eq!(e.intent_to_add, t.flags_extended & 0x2000 != 0, "{path}");
        }
    }

    #[test]
    fn entries_agree_with_libgit2_in_versions_2_3_and_4() {
        let tmp = fixture();
        let d = tmp.path();
        assert_eq!(index_of(d).version, 2);
        agrees_with_libgit2(d);
        // Extended flags make git write version 3.
        write(d, "d1/later.txt", "later\n");
        git(d, &["add", "-N", "d1/later.txt"]);
        git(d, &["update-index", "--skip-worktree", "d0/f0.txt"]);
        assert_eq!(index_of(d).version, 3);
        agrees_with_libgit2(d);
        git(d, &["update-index", "--index-version", "4"]);
        assert_eq!(index_of(d).version, 4);
        agrees_with_libgit2(d);
    }

    #[test]
    fn a_long_path_is_read_whole() {
        let tmp = fixture();
        let d = tmp.path();
        // Past the 12-bit name length field (0xFFF), so longer than a
        // file system path may be: an index entry only.
        let long = format!("{}z.txt", "y/".repeat(2100));
        let top = index_of(d);
        let blob = top
            .entries
            .iter()
            .find(|e| top.path(e) == b"top.txt")
            .unwrap();
        let hex: String = blob.oid.iter().map(|b| format!("{b:02x}")).collect();
        let info = format!("100644,{hex},{long}");
        git(d, &["update-index", "--add", "--cacheinfo", &info]);
        // libgit2 refuses a path this long; git lists it.
        for version in ["3", "4"] {
            git(d, &["update-index", "--index-version", version]);
            let index = index_of(d);
            let ours: Vec<&[u8]> = index.entries.iter().map(|e| index.path(e)).collect();
            let listed = run_git(d, &["ls-files", "-z"]).stdout;
            let listed: Vec<&[u8]> = listed
                .split(|b| *b == 0)
                .filter(|p| !p.is_empty())
                .collect();
            assert_eq!(ours, listed);
            assert!(ours.contains(&long.as_bytes()));
        }
    }

    #[test]
    fn the_cache_tree_after_a_commit_is_valid_and_matches_head() {
        let tmp = fixture();
        let d = tmp.path();
        let index = index_of(d);
        let tree = index.tree.as_ref().expect("git writes a cache tree");
        let repo = git2::Repository::open(d).unwrap();
        let head = repo.head().unwrap().peel_to_tree().unwrap();
        let root = &tree.nodes[0];
        assert_eq!(
            root.valid,
            Some((index.entries.len(), head_bytes(head.id())))
        );
        // Each subdirectory: valid, the tree HEAD has there.
        let a = tree.child(0, b"a").unwrap();
        let b = tree.child(a, b"b").unwrap();
        let in_head = head.get_path(Path::new("a/b")).unwrap().id();
        assert_eq!(tree.nodes[b].valid, Some((2, head_bytes(in_head))));
        assert!(tree.child(0, b"nope").is_none());
        // A staged change invalidates its directories up to the root.
        write(d, "a/b/c/deep.txt", "staged\n");
        git(d, &["add", "a/b/c/deep.txt"]);
        let index = index_of(d);
        let tree = index.tree.as_ref().unwrap();
        let a = tree.child(0, b"a").unwrap();
        let x = tree.child(a, b"x").unwrap();
        assert!(tree.nodes[0].valid.is_none());
        assert!(tree.nodes[a].valid.is_none());
        assert!(tree.nodes[x].valid.is_some());
    }

    fn head_bytes(oid: git2::Oid) -> [u8; OID_LEN] {
        oid.as_bytes().try_into().unwrap()
    }

    fn malformed(bytes: &[u8]) -> &'static str {
        let stamp = Stamp {
            dev: 0,
            ino: 0,
            size: 0,
            mtime: (0, 0),
            ctime: (0, 0),
        };
        parse(bytes, stamp).expect_err("must be refused")
    }

    /// The index bytes with `extension` appended before the checksum (the
    /// checksum is not verified here).
    fn with_extension(bytes: &[u8], sig: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let body = bytes.len() - OID_LEN;
        let mut out = bytes[..body].to_vec();
        out.extend_from_slice(sig);
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(&bytes[body..]);
        out
    }

    #[test]
    fn anything_not_understood_is_refused() {
        let tmp = fixture();
        let d = tmp.path();
        let file = d.join(".git/index");
        let good = std::fs::read(&file).unwrap();
        let stamp = index_of(d).stamp;
        assert!(parse(&good, stamp).is_ok());
        assert_eq!(
            malformed(b"garbage, not an index at all, no"),
            "not an index file"
        );
        assert_eq!(malformed(&good[..good.len() - 30]), "truncated");
        let mut v5 = good.clone();
        v5[7] = 5;
        assert_eq!(malformed(&v5), "unknown index version");
        let mut more = good.clone();
        more[11] += 1;
        assert!(!malformed(&more).is_empty());
        // Optional extensions are skipped; mandatory ones are refused.
        assert!(parse(&with_extension(&good, b"ZZZZ", b"whatever"), stamp).is_ok());
        assert_eq!(
            malformed(&with_extension(&good, b"zzzz", &[])),
            "a mandatory extension"
        );
        // A split index link: an id, then two bitmaps or none.
        assert!(parse(&with_extension(&good, b"link", &[0; 20]), stamp).is_ok());
        assert!(!malformed(&with_extension(&good, b"link", &[0; 19])).is_empty());
        assert!(!malformed(&with_extension(&good, b"link", &[0; 22])).is_empty());
        assert_eq!(
            malformed(&with_extension(&good, b"TREE", b"\x00-1 1\n")),
            "two cache trees"
        );
        // A second copy of the tree extension is refused; so is a bad one.
        let no_tree = {
            drop_cache_tree(d);
            std::fs::read(&file).unwrap()
        };
        for bad in [
            &b"\x001 0\n"[..],              // valid but no id
            b"\x00-1 2\n\x00",              // a subtree missing
            b"\x00x 0\n",                   // not a number
            b"root\x00-1 0\n",              // a named root
            b"\x00-1 1\nsub\x00-1 0\nmore", // trailing data
        ] {
            assert!(!malformed(&with_extension(&no_tree, b"TREE", bad)).is_empty());
        }
        let tree = with_extension(&no_tree, b"TREE", b"\x00-1 1\nsub\x00-1 0\n");
        let tree = parse(&tree, stamp).unwrap().tree.unwrap();
        assert_eq!(tree.nodes.len(), 2);
        assert_eq!(tree.child(0, b"sub"), Some(1));
        // Entries out of order.
        let mut swapped = good.clone();
        let first = good.windows(10).position(|w| w == b".gitignore").unwrap();
        swapped[first] = b'~';
        assert!(!malformed(&swapped).is_empty());
    }

    #[test]
    fn a_bad_or_absent_checksum_is_refused() {
        let tmp = fixture();
        let file = tmp.path().join(".git/index");
        let good = std::fs::read(&file).unwrap();
        assert!(read(&file).is_ok());
        // One bit of a cached file size: still a well-formed index.
        let mut flipped = good.clone();
        flipped[12 + 36] ^= 1;
        std::fs::write(&file, &flipped).unwrap();
        assert!(matches!(
            read(&file),
            Err(ReadError::Malformed("checksum mismatch"))
        ));
        // What index.skipHash writes.
        let mut zero = good.clone();
        let n = zero.len();
        zero[n - OID_LEN..].fill(0);
        std::fs::write(&file, &zero).unwrap();
        assert!(matches!(
            read(&file),
            Err(ReadError::Malformed("no checksum"))
        ));
    }

    /// What matters of an entry, as comparable text. A size git smudged
    /// to 0 (an entry racily clean when the index was written) is left out.
    fn entries_of(index: &Index) -> Vec<String> {
        index
            .entries
            .iter()
            .map(|e| {
                let size = if e.size == 0 {
                    String::new()
                } else {
                    e.size.to_string()
                };
                format!(
                    "{} {:o} {:?} {} {:?} {:?} {} {size} {} {} {}",
                    String::from_utf8_lossy(index.path(e)),
                    e.mode,
                    e.oid,
                    e.stage,
                    e.mtime,
                    e.ctime,
                    e.ino,
                    e.skip_worktree,
                    e.intent_to_add,
                    e.assume_valid
                )
            })
            .collect()
    }

    #[test]
    fn a_split_index_reads_as_the_index_it_stands_for() {
        let tmp = fixture();
        let d = tmp.path();
        // Enough entries for the bitmaps to take several words.
        for i in 0..150 {
            write(d, &format!("many/f{i:03}.txt"), &format!("{i}\n"));
        }
        git(d, &["add", "many"]);
        git(d, &["commit", "-q", "-m", "many"]);
        let whole = index_of(d);
        assert!(!whole.split);
        git(d, &["update-index", "--split-index"]);
        let own = read_file(&d.join(".git/index")).unwrap();
        assert!(own.link.is_some());
        let split = index_of(d);
        assert!(split.split);
        assert_eq!(entries_of(&split), entries_of(&whole));
        assert!(split.tree.is_some());
        // Deleted, replaced and added entries on top of the shared index.
        write(d, "many/f005.txt", "replaced\n");
        write(d, "many/f140.txt", "replaced too\n");
        write(d, "aaa.txt", "first\n");
        write(d, "many/new.txt", "added\n");
        write(d, "zzz/later.txt", "later\n");
        git(
            d,
            &[
                "add",
                "many/f005.txt",
                "many/f140.txt",
                "aaa.txt",
                "many/new.txt",
            ],
        );
        git(d, &["add", "-N", "zzz/later.txt"]);
        git(
            d,
            &[
                "rm",
                "-q",
                "--cached",
                "many/f003.txt",
                "many/f099.txt",
                "top.txt",
            ],
        );
        git(d, &["update-index", "--skip-worktree", "d0/f0.txt"]);
        let own = read_file(&d.join(".git/index")).unwrap();
        let link = own.link.as_ref().unwrap();
        assert_eq!(link.delete.iter().filter(|b| **b).count(), 3);
        assert!(link.replace.iter().filter(|b| **b).count() >= 3);
        let split = index_of(d);
        assert!(split.split);
        // The same index, written whole by git.
        git(d, &["update-index", "--no-split-index"]);
        let whole = index_of(d);
        assert!(!whole.split);
        assert_eq!(entries_of(&split), entries_of(&whole));
        let paths: Vec<&[u8]> = split.entries.iter().map(|e| split.path(e)).collect();
        assert!(paths.contains(&&b"many/new.txt"[..]));
        assert!(!paths.contains(&&b"many/f099.txt"[..]));
    }

    #[test]
    fn a_split_index_whose_shared_index_is_missing_or_other_is_refused() {
        let tmp = fixture();
        let d = tmp.path();
        git(d, &["update-index", "--split-index"]);
        let shared: Vec<_> = std::fs::read_dir(d.join(".git"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("sharedindex.")
            })
            .collect();
        assert_eq!(shared.len(), 1);
        let bytes = std::fs::read(&shared[0]).unwrap();
        std::fs::remove_file(&shared[0]).unwrap();
        assert!(matches!(
            read(&d.join(".git/index")),
            Err(ReadError::Malformed("the shared index file is missing"))
        ));
        // Another index under the expected name.
        let other = std::fs::read(d.join(".git/index")).unwrap();
        std::fs::write(&shared[0], &other).unwrap();
        assert!(matches!(
            read(&d.join(".git/index")),
            Err(ReadError::Malformed(_))
        ));
        std::fs::write(&shared[0], &bytes).unwrap();
        assert!(read(&d.join(".git/index")).is_ok());
    }

    #[test]
    fn a_sparse_index_is_made_whole() {
        let tmp = fixture();
        let d = tmp.path();
        let full = index_of(d);
        git(d, &["sparse-checkout", "init", "--cone", "--sparse-index"]);
        git(d, &["sparse-checkout", "set", "d0", "a/b"]);
        let sparse = index_of(d);
        assert!(sparse.sparse);
        let dirs: Vec<&[u8]> = sparse
            .entries
            .iter()
            .filter(|e| e.mode == 0o040000)
            .map(|e| sparse.path(e))
            .collect();
        assert!(
            dirs.contains(&&b"d1/"[..]) && dirs.contains(&&b"a/x/"[..]),
            "{dirs:?}"
        );
        let repo = git2::Repository::open(d).unwrap();
        let whole = read_whole(&repo).unwrap();
        assert!(!whole.sparse && whole.tree.is_none());
        // The same paths, modes and ids as the full index; skip-worktree
        // outside the cone.
        let ids = |i: &Index| -> Vec<(Vec<u8>, u32, [u8; OID_LEN])> {
            i.entries
                .iter()
                .map(|e| (i.path(e).to_vec(), e.mode, e.oid))
                .collect()
        };
        assert_eq!(ids(&whole), ids(&full));
        for e in &whole.entries {
            let path = whole.path(e);
            let inside =
                path.starts_with(b"d0/") || path.starts_with(b"a/b/") || !path.contains(&b'/');
            assert_eq!(
                e.skip_worktree,
                !inside,
                "{}",
                String::from_utf8_lossy(path)
            );
        }
        // A directory entry without the sparse index's extension.
        let bytes = std::fs::read(d.join(".git/index")).unwrap();
        let at = bytes.windows(4).position(|w| w == b"sdir").unwrap();
        let mut other = bytes.clone();
        other[at..at + 4].copy_from_slice(b"SDIR");
        assert_eq!(
            malformed(&other),
            "a directory entry outside a sparse index"
        );
    }

    #[test]
    fn the_header_check_accepts_a_missing_index_only() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("index");
        assert!(check_header(&file).is_ok());
        std::fs::write(&file, b"DIR").unwrap();
        assert!(check_header(&file).is_err());
        std::fs::write(&file, b"\x00\xffgarbage, not a git index").unwrap();
        assert!(check_header(&file).is_err());
        std::fs::write(&file, b"DIRC\x00\x00\x00\x02\x00\x00\x00\x00").unwrap();
        assert!(check_header(&file).is_ok());
    }
}
