//! Processes a test starts and must not leave behind ([`Reaper`]), and
//! signals.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

/// Whether `pid` is a live process (a zombie is dead: it only waits to be
/// reaped by whoever inherited it).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z'),
    }
}

/// The live processes that carry `OUT=<scratch>` in their environment:
/// every process a step of this test started (steps inherit the
/// variable), whatever its group or session.
pub fn survivors(scratch: &std::path::Path) -> Vec<u32> {
    let tag = format!("OUT={}", scratch.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == tag.as_bytes()))
        })
        .filter(|pid| alive(*pid))
        .collect()
}

/// Send `signal` (`INT`, `TERM`, `KILL`, ...) to `pid` with `kill`.
pub fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Kills, when dropped, pass or fail, the child it holds and every live
/// process tagged `OUT=<scratch>` (see [`survivors`]): whatever a test
/// started, and whatever a step started in turn, is not left running.
pub struct Reaper {
    scratch: PathBuf,
    child: Option<Child>,
}

impl Reaper {
    /// A reaper for the processes tagged with `scratch`; it holds no child
    /// yet.
    pub fn new(scratch: &Path) -> Self {
        Self {
            scratch: scratch.to_path_buf(),
            child: None,
        }
    }

    /// A reaper for `repo`'s scratch folder.
    pub fn for_repo(repo: &Repo) -> Self {
        Self::new(&repo.scratch())
    }

    /// Start `cmd` tagged `OUT=<scratch>`, stdin empty and stdout and
    /// stderr captured, and hold it; returns its pid. Retries while a
    /// freshly copied executable is still "busy" (a concurrent fork in this
    /// test process may briefly hold it open).
    pub fn spawn(&mut self, cmd: &mut Command) -> u32 {
        assert!(self.child.is_none(), "the reaper already holds a child");
        cmd.env("OUT", &self.scratch)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for _ in 0..50 {
            match cmd.spawn() {
                Ok(child) => {
                    let pid = child.id();
                    self.child = Some(child);
                    return pid;
                }
                Err(e) if e.raw_os_error() == Some(26) => thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("spawn {cmd:?}: {e}"),
            }
        }
        panic!("spawn {cmd:?}: text file busy");
    }

    /// The held child's exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut().expect("the reaper holds no child");
        child.try_wait().expect("try_wait")
    }

    /// Wait up to `timeout` for the held child to exit (failing the test if
    /// it does not) and return what it printed.
    pub fn wait(&mut self, timeout: Duration) -> Output {
        let until = Instant::now() + timeout;
        while self.exited().is_none() {
            assert!(
                Instant::now() < until,
                "the child did not exit within {timeout:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        let child = self.child.take().expect("the reaper holds no child");
        child
            .wait_with_output()
            .expect("collect the child's output")
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in survivors(&self.scratch) {
            signal(pid, "KILL");
        }
    }
}

/// Whether `pid` is gone within a moment (a killed process still needs
/// the kernel to tear it down).
pub fn gone_soon(pid: u32) -> bool {
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

/// The pid a step wrote into `path`, waiting up to 10 s for it.
pub fn read_pid(path: &Path) -> u32 {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        assert!(
            Instant::now() < until,
            "no pid was written to {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fails, naming them, if any process of the test's steps is still
/// running a moment after the run.
pub fn assert_no_survivors(repo: &Repo) {
    let scratch = repo.scratch();
    let until = Instant::now() + Duration::from_secs(3);
    let mut left = survivors(&scratch);
    while !left.is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
        left = survivors(&scratch);
    }
    let described: Vec<String> = left
        .iter()
        .map(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            )
        })
        .collect();
    assert!(left.is_empty(), "still running: {described:?}");
}

/// Kill a server's process group (it was started in a group of its own)
/// and reap it; nothing when it is already gone.
pub(crate) fn kill_group(child: Option<std::process::Child>) {
    if let Some(mut child) = child {
        if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
