//! `clean_tree`: nothing staged, modified, deleted, renamed or untracked,
//! and no dirty submodule. Ignored files do not count. Untracked
//! directories are reported as one entry (`dir/`), as `git status` does.
//!
//! Most of the cost of a status is one `lstat` per tracked file, which
//! libgit2 does serially. On a large tree the work is split by top-level
//! name across threads, each with its own repository handle and an exact
//! path list. The names are the union of the index's, HEAD's and the work
//! tree's top-level entries, so every path that can differ is covered.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use git2::{Repository, Status as G, StatusOptions, StatusShow};

use super::git_repo::Repo;
use super::list_some;
use crate::config::Policy;
use crate::report::Outcome;

/// How many paths a message names before "and N more".
const SHOWN: usize = 5;

/// Below this many index entries one thread is faster than several.
const SPLIT_MIN_ENTRIES: usize = 4096;
/// At most this many threads for one status.
const MAX_THREADS: usize = 8;

/// One changed path and how it changed.
pub type Change = (Vec<u8>, G);

fn options() -> StatusOptions {
    let mut opts = StatusOptions::new();
    opts.show(StatusShow::IndexAndWorkdir)
        .include_untracked(true)
        .recurse_untracked_dirs(false)
        .include_ignored(false)
        .exclude_submodules(false)
        .renames_head_to_index(false);
    opts
}

fn collect(
    repo: &Repository,
    opts: &mut StatusOptions,
    out: &mut Vec<Change>,
) -> Result<(), git2::Error> {
    for entry in repo.statuses(Some(opts))?.iter() {
        let st = entry.status();
        if !st.is_empty() && !st.contains(G::IGNORED) {
            out.push((entry.path_bytes().to_vec(), st));
        }
    }
    Ok(())
}

/// Every changed path, sorted, using up to `threads` threads.
pub fn changes(repo: &Repo, threads: usize) -> Result<Vec<Change>, git2::Error> {
    let mut out = Vec::new();
    let start = std::time::Instant::now();
    let weights = if threads > 1 {
        top_level_weights(repo)?
    } else {
        BTreeMap::new()
    };
    tracing::debug!(elapsed = ?start.elapsed(), names = weights.len(), "listed top-level names");
    let indexed: usize = weights.values().sum();
    if threads <= 1 || weights.len() < 2 || indexed < SPLIT_MIN_ENTRIES {
        collect(&repo.repo, &mut options(), &mut out)?;
        out.sort();
        return Ok(out);
    }
    // The calling thread takes the first group on the repository whose
    // index is already loaded; every other thread must load the index
    // again (about a fifth of the cost of a whole status), so it starts
    // with that much weight and gets less of the tree.
    let reload_cost = indexed / 5;
    let mut groups = partition(weights, threads, reload_cost).into_iter();
    let first = groups.next().unwrap_or_default();
    let root = repo.root.as_path();
    let results: Vec<Result<Vec<Change>, git2::Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .map(|names| scope.spawn(move || status_of(root, names)))
            .collect();
        let mut results = vec![status_in(&repo.repo, first)];
        results.extend(handles.into_iter().map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(git2::Error::from_str("a status thread panicked")))
        }));
        results
    });
    tracing::debug!(elapsed = ?start.elapsed(), threads, "status done");
    for r in results {
        out.extend(r?);
    }
    out.sort();
    Ok(out)
}

/// The status of the paths under `names`, with a repository of its own.
fn status_of(root: &Path, names: Vec<Vec<u8>>) -> Result<Vec<Change>, git2::Error> {
    let repo = Repository::open_ext(
        root,
        git2::RepositoryOpenFlags::NO_SEARCH,
        std::iter::empty::<&std::ffi::OsStr>(),
    )?;
    status_in(&repo, names)
}

/// The status of the paths under `names` (exact top-level names).
fn status_in(repo: &Repository, names: Vec<Vec<u8>>) -> Result<Vec<Change>, git2::Error> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut opts = options();
    opts.disable_pathspec_match(true);
    for n in names {
        opts.pathspec(n);
    }
    let mut out = Vec::new();
    collect(repo, &mut opts, &mut out)?;
    Ok(out)
}

/// Every top-level name that a change could be under, weighted by how many
/// index entries it holds (a stand-in for the work of checking it).
fn top_level_weights(repo: &Repo) -> Result<BTreeMap<Vec<u8>, usize>, git2::Error> {
    let mut weights: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let index = repo.repo.index()?;
    for entry in index.iter() {
        let path = &entry.path[..];
        let top = path.split(|b| *b == b'/').next().unwrap_or(path);
        *weights.entry(top.to_vec()).or_default() += 1;
    }
    // Staged deletions are only in HEAD; untracked entries only on disk.
    let mut extra: BTreeSet<Vec<u8>> = BTreeSet::new();
    let tree = repo.repo.find_commit(repo.head)?.tree()?;
    for entry in tree.iter() {
        extra.insert(entry.name_bytes().to_vec());
    }
    let list_error =
        |e: std::io::Error| git2::Error::from_str(&format!("cannot list the work tree: {e}"));
    for entry in std::fs::read_dir(&repo.root).map_err(list_error)? {
        let name = entry.map_err(list_error)?.file_name();
        if name != ".git" {
            extra.insert(name.as_encoded_bytes().to_vec());
        }
    }
    for name in extra {
        weights.entry(name).or_insert(1);
    }
    Ok(weights)
}

/// Split names into `n` groups of similar total weight (heaviest first,
/// each to the lightest group). Every group but the first starts with
/// `head_start` weight. Every name lands in exactly one group.
fn partition(weights: BTreeMap<Vec<u8>, usize>, n: usize, head_start: usize) -> Vec<Vec<Vec<u8>>> {
    let mut items: Vec<(Vec<u8>, usize)> = weights.into_iter().collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let n = n.min(items.len()).max(1);
    let mut groups: Vec<(usize, Vec<Vec<u8>>)> = (0..n)
        .map(|i| (if i == 0 { 0 } else { head_start }, Vec::new()))
        .collect();
    for (name, w) in items {
        if let Some(g) = groups.iter_mut().min_by_key(|g| g.0) {
            g.0 += w;
            g.1.push(name);
        }
    }
    groups.into_iter().map(|g| g.1).collect()
}

/// Threads to use: the machine's parallelism, capped.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(MAX_THREADS)
}

pub fn check(repo: &Repo, policy: &Policy, env: &str) -> Outcome {
    let found = match changes(repo, default_threads()) {
        Ok(c) => c,
        Err(e) => {
            return Outcome::fail(format!(
                "cannot read the work tree's status: {}; run `git status` to see why",
                e.message()
            ));
        }
    };
    let submodules: Vec<Vec<u8>> = if found.is_empty() {
        Vec::new()
    } else {
        repo.repo
            .submodules()
            .map(|subs| {
                subs.iter()
                    .map(|s| s.path().as_os_str().as_encoded_bytes().to_vec())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut changes = Vec::new();
    for (path, st) in &found {
        let what = if submodules.contains(path) {
            "submodule modified"
        } else {
            describe(*st)
        };
        changes.push(format!("{} ({what})", String::from_utf8_lossy(path)));
    }
    if changes.is_empty() {
        return Outcome::ok("no uncommitted changes (ignored files do not count)");
    }
    let summary = format!(
        "{} uncommitted change{}: {}",
        changes.len(),
        if changes.len() == 1 { "" } else { "s" },
        list_some(&changes, SHOWN)
    );
    let details = changes.clone();
    if policy.allow_dirty {
        Outcome::warn(format!("allowed for {env} (allow_dirty): {summary}"))
    } else {
        Outcome::fail(format!("{summary}; commit or stash them"))
    }
    .detail("changes", details)
}

fn describe(st: G) -> &'static str {
    if st.contains(G::CONFLICTED) {
        "conflicted"
    } else if st.intersects(
        G::INDEX_NEW
            | G::INDEX_MODIFIED
            | G::INDEX_DELETED
            | G::INDEX_RENAMED
            | G::INDEX_TYPECHANGE,
    ) {
        "staged"
    } else if st.contains(G::WT_NEW) {
        "untracked"
    } else if st.contains(G::WT_DELETED) {
        "deleted"
    } else if st.contains(G::WT_RENAMED) {
        "renamed"
    } else if st.contains(G::WT_TYPECHANGE) {
        "type changed"
    } else {
        "modified"
    }
}
