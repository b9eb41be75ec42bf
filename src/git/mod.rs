//! Git access, in one place: opening the repository ([`open`]), the work
//! tree status ([`status`]) and the index file it reads ([`index`]), tags
//! ([`tags`]) and the file listing of the secrets scan ([`files`]). The
//! policy gates look at git only through this module.
//!
//! Opening happens once per run. Discovery walks upward like git does, so a
//! subdirectory and a linked worktree work. A repository git refuses to read
//! (owned by another user: the `safe.directory` rule), one whose index file
//! is not an index, a bare one and one with no commit are [`NotUsable`],
//! with what to do next. Opening does not load the index: the status does,
//! and reports an index that is damaged further in.

pub mod files;
pub mod index;
pub mod status;
pub mod tags;
#[cfg(test)]
mod testutil;

use std::path::{Path, PathBuf};

use git2::{ErrorCode, Oid, Repository};

/// A repository the gates can read.
pub struct Repo {
    pub repo: Repository,
    /// The work tree root.
    pub root: PathBuf,
    /// The commit HEAD points at.
    pub head: Oid,
    /// The tag names, listed once per run (see [`tags::names`]).
    tag_names: std::cell::OnceCell<Result<Vec<String>, String>>,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("root", &self.root)
            .field("head", &self.head)
            .finish()
    }
}

/// Why the path is not a usable repository: the `git_repo` row's message,
/// and the work tree root when one was found (the configuration file may
/// live there even when the repository is unusable).
#[derive(Debug)]
pub struct NotUsable {
    pub message: String,
    pub root: Option<PathBuf>,
}

/// The result of [`open`].
pub type Opened = Result<Repo, NotUsable>;

/// Abbreviated commit id, as `git log --oneline` shows it.
pub fn short_id(oid: Oid) -> String {
    let mut s = oid.to_string();
    s.truncate(7);
    s
}

/// A path for a message, without the trailing `/` libgit2 puts on
/// directories.
pub fn show(p: &Path) -> String {
    let text = p.display().to_string();
    if text.len() > 1 {
        text.trim_end_matches('/').to_string()
    } else {
        text
    }
}

/// Discover and open the repository containing `path`, and make sure git
/// can read it.
pub fn open(path: &Path) -> Opened {
    // git itself does not re-hash objects on ordinary reads; libgit2's
    // default would hash every tree the status reads.
    git2::opts::strict_hash_verification(false);
    let unusable = |message: String, root: Option<PathBuf>| NotUsable { message, root };
    if !path.exists() {
        return Err(unusable(
            format!(
                "{} does not exist; pass --repo with the repository's path",
                show(path)
            ),
            None,
        ));
    }
    let repo = match Repository::discover(path) {
        Ok(r) => r,
        Err(e) if e.code() == ErrorCode::Owner => {
            let root = find_root(path);
            let shown = show(root.as_deref().unwrap_or(path));
            return Err(unusable(
                format!(
                    "{shown} is owned by another user, so git refuses it (safe.directory); \
                     if you trust it: git config --global --add safe.directory {shown}"
                ),
                root,
            ));
        }
        Err(e) if e.code() == ErrorCode::NotFound => {
            return Err(unusable(
                format!(
                    "{} is not inside a git work tree; run from the repository or pass --repo",
                    show(path)
                ),
                None,
            ));
        }
        Err(e) => {
            return Err(unusable(
                format!(
                    "cannot open the git repository at {}: {}",
                    show(path),
                    e.message()
                ),
                find_root(path),
            ));
        }
    };
    let Some(root) = repo.workdir().map(Path::to_path_buf) else {
        return Err(unusable(
            format!(
                "{} is a bare repository: there is no work tree to release from",
                show(repo.path())
            ),
            None,
        ));
    };
    // Only the header here: loading the whole index is the status's job,
    // and most of its cost; a damaged body fails the status instead.
    let index = repo.path().join("index");
    if let Err(e) = index::check_header(&index) {
        return Err(unusable(
            format!(
                "cannot read the git index ({e}): it may be corrupt; see `git status`, \
                 and rebuild it with: rm {} && git reset",
                show(&index)
            ),
            Some(root),
        ));
    }
    let head = match repo.head() {
        Ok(h) => h.peel_to_commit().map(|c| c.id()),
        Err(e) if e.code() == ErrorCode::UnbornBranch => {
            return Err(unusable(
                "the repository has no commits yet: there is nothing to release; commit first"
                    .to_string(),
                Some(root),
            ));
        }
        Err(e) => {
            return Err(unusable(
                format!("cannot resolve HEAD: {}", e.message()),
                Some(root),
            ));
        }
    };
    let head = match head {
        Ok(id) => id,
        Err(e) => {
            return Err(unusable(
                format!("HEAD does not point at a commit: {}", e.message()),
                Some(root),
            ));
        }
    };
    Ok(Repo {
        repo,
        root,
        head,
        tag_names: std::cell::OnceCell::new(),
    })
}

/// The work tree root of an opened path, usable or not.
pub fn root_of(opened: &Opened) -> Option<&Path> {
    match opened {
        Ok(r) => Some(&r.root),
        Err(e) => e.root.as_deref(),
    }
}

/// The nearest directory at or above `path` that holds a `.git` entry.
fn find_root(path: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(path).ok()?;
    let start = start.canonicalize().unwrap_or(start);
    start
        .ancestors()
        .find(|p| p.join(".git").exists())
        .map(Path::to_path_buf)
}
