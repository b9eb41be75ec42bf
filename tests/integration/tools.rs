//! The real tools the tests check results with (`unzip`, `sha256sum`,
//! `python3`, `touch`, ...: [`require`] fails a test whose tool is missing
//! and names the package to install, never passing without having checked
//! anything), files with real bytes, and executables under a name of the
//! test's choosing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::harness::{base_env, context};

/// The Debian packages these tools come from.
pub(crate) const INSTALL: &str = "apt-get install -y unzip coreutils python3 util-linux";

/// Fails the test unless `tool` is on the PATH, naming what to install.
pub(crate) fn require(tool: &str) {
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    });
    assert!(
        found,
        "`{tool}` is not installed: the toolkit's tests check their results with it \
         (Debian: {INSTALL})"
    );
}

/// Run `tool` with `args` in `dir` with the harness environment; the
/// output, whatever the status.
pub(crate) fn tool(dir: &Path, tool: &str, args: &[&str]) -> Output {
    require(tool);
    Command::new(tool)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(base_env())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"))
}

/// Run `tool` and expect it to succeed; its stdout.
pub(crate) fn tool_ok(dir: &Path, name: &str, args: &[&str]) -> String {
    let out = tool(dir, name, args);
    assert!(
        out.status.success(),
        "{name} {args:?} failed in {}: {}",
        dir.display(),
        context(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a Python script (`python3 -c`) with `args` in `dir`; its stdout.
pub(crate) fn python(dir: &Path, script: &str, args: &[&str]) -> String {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    tool_ok(dir, "python3", &all)
}

/// `sha256sum NAME > NAME.sha256` in `dir`, as a person would make it.
pub(crate) fn sha256sum_file(dir: &Path, name: &str) {
    let line = tool_ok(dir, "sha256sum", &[name]);
    std::fs::write(dir.join(format!("{name}.sha256")), line).expect("write .sha256");
}

/// The names in `dir`, sorted.
pub(crate) fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `n` bytes that do not compress (a fixed xorshift stream).
pub(crate) fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub(crate) fn write_bytes(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, data).expect("write");
}

pub(crate) fn chmod(root: &Path, rel: &str, mode: u32) {
    std::fs::set_permissions(root.join(rel), std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// `touch -d WHEN` on `paths` (relative to `dir`).
pub(crate) fn touch(dir: &Path, when: &str, paths: &[&str]) {
    let mut args = vec!["-d", when];
    args.extend_from_slice(paths);
    tool_ok(dir, "touch", &args);
}

/// The longest a run that must be prompt may take on a loaded 2-core
/// machine: each such run takes well under a second.
pub(crate) const PROMPT: Duration = Duration::from_secs(3);

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {}", path.display());
}

/// Copy an executable into `dir` under `name`; returns the copy's path.
pub(crate) fn copy_executable(from: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    to
}

/// `sleep` from PATH (or /bin).
pub(crate) fn sleep_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/bin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join("sleep"))
        .find(|p| p.is_file())
        .expect("a sleep executable")
}

/// A name no other test uses.
pub(crate) fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}
