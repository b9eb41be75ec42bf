//! The files the secrets scan reads: tracked regular files and
//! executables, and untracked files that are not ignored.
//!
//! The index is libgit2's, or when libgit2 cannot read it (a split or a
//! sparse index) the one [`super::index`] reads.

use git2::{Repository, Status as G, StatusOptions};

use super::{index, status};

/// `/`-separated paths relative to the root, sorted.
pub fn files(repo: &Repository) -> Result<Vec<String>, git2::Error> {
    let mut out = Vec::new();
    // Only when libgit2 cannot read the index itself.
    let read = match repo.index() {
        Ok(_) => None,
        Err(_) => index::read_whole(repo).ok(),
    };
    let view = match (&read, repo.workdir()) {
        (Some(index), Some(root)) => status::memory_repo(root, index, None),
        _ => None,
    };
    let repo = view.as_ref().unwrap_or(repo);
    for e in repo.index()?.iter() {
        let kind = e.mode & 0o170000;
        if kind == 0o100000 {
            out.push(String::from_utf8_lossy(&e.path).into_owned());
        }
    }
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true);
    for s in repo.statuses(Some(&mut opts))?.iter() {
        if s.status().contains(G::WT_NEW) {
            out.push(String::from_utf8_lossy(s.path_bytes()).into_owned());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::testutil::{fixture, git, write};

    #[test]
    fn a_split_index_lists_the_same_files() {
        let tmp = fixture();
        let d = tmp.path();
        write(d, "d0/untracked.txt", "u\n");
        write(d, "fresh/deep/new.txt", "n\n");
        write(d, "d1/f1.txt", "changed\n");
        let repo = Repository::open(d).unwrap();
        let whole = files(&repo).unwrap();
        assert!(whole.contains(&"fresh/deep/new.txt".to_string()));
        assert!(whole.contains(&"run.sh".to_string()));
        git(d, &["update-index", "--split-index"]);
        let repo = Repository::open(d).unwrap();
        assert!(repo.index().is_err(), "libgit2 reads split indexes now");
        assert_eq!(files(&repo).unwrap(), whole);
    }
}
