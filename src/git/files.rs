//! The files the secrets scan reads: tracked regular files and
//! executables, and untracked files that are not ignored.

use git2::{Repository, Status as G, StatusOptions};

/// `/`-separated paths relative to the root, sorted.
pub fn files(repo: &Repository) -> Result<Vec<String>, git2::Error> {
    let mut out = Vec::new();
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
