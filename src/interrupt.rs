//! SIGINT and SIGTERM, one state for the whole process: the flag every
//! command watches to stop cleanly, the signal that set it, and the
//! temporary files to remove if the process has to be ended before its
//! own clean-up runs.
//!
//! The front end (`main`) watches both signals for every command, before
//! any command starts, so neither ends the process by its default action
//! (which would skip every clean-up and exit by signal, not 1). A command
//! looks at [`requested`] (or the [`flag`] it shares) between units of
//! work, stops, and reports what ran. The front end ends a command that
//! does not stop within its grace itself, with exit 1, after removing the
//! files registered with [`remove_if_abandoned`].
//!
//! Not handled here: other signals (SIGHUP, SIGQUIT keep their default
//! action), and SIGKILL, which nothing can handle.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

static STOP: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// The first signal that arrived (0: none), as the front end's watcher
/// thread records it.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Raised in the signal handler itself, at the moment each signal arrives:
/// the watcher thread may record it a moment later, and a command that is
/// just ending must not miss it.
static INT: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));
static TERM: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// Raise the stop flag, and note which signal it was, in the handler of
/// SIGINT and SIGTERM (before the front end's watcher thread wakes).
pub fn raise_in_handler() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for (signal, which) in [(SIGINT, &INT), (SIGTERM, &TERM)] {
        signal_hook::flag::register(signal, flag())?;
        signal_hook::flag::register(signal, Arc::clone(which))?;
    }
    Ok(())
}

/// Temporary files that are still being written.
static ABANDONED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The process's stop flag, set on SIGINT or SIGTERM.
pub fn flag() -> Arc<AtomicBool> {
    Arc::clone(&STOP)
}

/// Whether SIGINT or SIGTERM has arrived.
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Record that `signal` arrived and raise the flag (the front end's
/// watcher calls this).
pub fn arrived(signal: i32) {
    let _ = SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    STOP.store(true, Ordering::SeqCst);
}

/// The name of the first signal that arrived (`SIGTERM`), if one did.
pub fn signal_name() -> Option<&'static str> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 if INT.load(Ordering::SeqCst) => Some("SIGINT"),
        0 if TERM.load(Ordering::SeqCst) => Some("SIGTERM"),
        0 => None,
        signal_hook::consts::SIGINT => Some("SIGINT"),
        signal_hook::consts::SIGTERM => Some("SIGTERM"),
        _ => Some("a signal"),
    }
}

/// Remove `path` if the process is ended before the file is finished
/// (renamed into place or dropped, which removes it): a temporary file is
/// never left behind. Registering a path that is later renamed away is
/// harmless: nothing is then found under its temporary name.
pub fn remove_if_abandoned(path: &Path) {
    ABANDONED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(path.to_path_buf());
}

/// Remove every temporary file still there (the front end, just before it
/// ends a command that did not stop).
pub fn remove_abandoned() {
    let paths = std::mem::take(&mut *ABANDONED.lock().unwrap_or_else(|e| e.into_inner()));
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandoned_files_are_removed_and_finished_ones_are_not_there() {
        let dir = tempfile::tempdir().unwrap();
        let left = dir.path().join(".x.part");
        std::fs::write(&left, "half").unwrap();
        remove_if_abandoned(&left);
        // Renamed into place: its temporary name is gone, nothing to do.
        let renamed = dir.path().join(".y.part");
        std::fs::write(&renamed, "whole").unwrap();
        remove_if_abandoned(&renamed);
        std::fs::rename(&renamed, dir.path().join("y")).unwrap();
        remove_abandoned();
        assert!(!left.exists());
        assert!(dir.path().join("y").exists());
    }
}
