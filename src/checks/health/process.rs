//! `process:<name>`: a running process matches by its kernel name, its
//! executable's file name or the base name of its argv[0]. A process that
//! has exited (a zombie waiting to be reaped, or one being torn down) is
//! not running, and never matches. The kernel cuts
//! names to 15 characters, so a longer name is found through the other
//! two; an interpreter (`python3 app.py`) is found by `python3`. The
//! tool's own process never counts.
//!
//! With `fleet = '<selector>'` it reads every host of the fleet through
//! Prometheus instead: process-exporter's
//! `namedprocess_namegroup_num_procs{groupname="<name>"}`, present and at
//! least 1 on every selected host (see [`super::fleet`]).
//!
//! One snapshot of the process table serves every process check. On Linux
//! it reads `/proc` directly and lazily: the kernel names first (one small
//! read per process), and a process's executable and argv[0] only when
//! the kernel names do not settle the question. Elsewhere, sysinfo.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use super::fleet::{Fields, Measure, Place};
use super::{Check, Ctx, HealthCheck, Running, Shared, blocking};
use crate::config::values::unexpanded_label;
use crate::report::Outcome;
use crate::sanitize::quoted;

/// `[[health.process]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub name: String,
    /// A label selector: read the fleet through Prometheus.
    pub fleet: Option<String>,
    pub hosts: Option<i64>,
    pub max_age: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Process {
    pub name: String,
    pub place: Place,
}

pub fn validate(p: Raw, key: &str, cx: &mut Ctx<'_>) -> Option<HealthCheck> {
    let key_name = format!("{key}.name");
    let fields = Fields {
        fleet: p.fleet,
        hosts: p.hosts,
        max_age: p.max_age,
    };
    let target = super::fleet::fields(fields, key, cx).ok()?;
    let mut unset = Vec::new();
    let name = match cx.expand(&p.name, &key_name, &mut unset) {
        Some(name) if name.trim().is_empty() || name.contains('/') => {
            cx.problems
                .push(key_name, format!("{} is not a process name", quoted(&name)));
            return None;
        }
        Some(name) => name,
        // Named by a required variable that is unset: `process:<NAME>`.
        None if !unset.is_empty() => unexpanded_label(&p.name),
        None => return None,
    };
    let check: Arc<dyn Check> = match target {
        Some(target) => Arc::new(target.check(Measure::Process { name: name.clone() })),
        None => Arc::new(Process {
            name: name.clone(),
            place: Place::here(cx.env),
        }),
    };
    Some(HealthCheck {
        id: format!("process:{name}"),
        key: key.to_string(),
        check,
        unset,
        mode: Default::default(),
    })
}

/// The process table, read once per run for every process check.
#[derive(Default)]
struct Table(tokio::sync::OnceCell<Arc<Result<Snapshot, String>>>);

impl Check for Process {
    fn run<'a>(&'a self, shared: &'a Shared) -> Running<'a> {
        Box::pin(async move {
            let cell = shared.get::<Table>();
            let table = cell
                .0
                .get_or_init(|| async {
                    Arc::new(
                        tokio::task::spawn_blocking(Snapshot::take)
                            .await
                            .unwrap_or_else(|_| {
                                Err("the process table could not be read".to_string())
                            }),
                    )
                })
                .await
                .clone();
            let name = self.name.clone();
            let place = self.place.clone();
            // Reading executables and command lines blocks: off the runtime.
            blocking(move || place.say(check(&table, &name, &place.host))).await
        })
    }
}

/// The kernel keeps this many bytes of a process name.
const COMM_LEN: usize = 15;

/// One process: its kernel name, and (read on demand) the base names of
/// its executable and argv[0].
#[derive(Debug)]
struct Entry {
    pid: u32,
    comm: String,
    more: OnceLock<Vec<String>>,
}

/// The process table, read once.
#[derive(Debug)]
pub struct Snapshot {
    entries: Vec<Entry>,
}

fn base(name: &OsStr) -> Option<String> {
    Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

fn threads() -> usize {
    crate::par::threads(4)
}

impl Snapshot {
    /// Read the process table, without the tool's own process.
    pub fn take() -> Result<Self, String> {
        let start = std::time::Instant::now();
        let me = std::process::id();
        let mut entries = read_table()?;
        entries.retain(|e| e.pid != me);
        entries.sort_by_key(|e| e.pid);
        tracing::debug!(elapsed = ?start.elapsed(), processes = entries.len(), "read the process table");
        Ok(Self { entries })
    }

    fn more(e: &Entry) -> &[String] {
        e.more.get_or_init(|| read_more(e.pid))
    }

    /// The processes that match `name`, lowest pid first. The kernel name
    /// answers first; only when it does not are executables and argv[0]
    /// read (for every process, on a few threads).
    pub fn matching(&self, name: &str) -> Vec<u32> {
        let exact: Vec<u32> = self
            .entries
            .iter()
            .filter(|e| e.comm == name)
            .map(|e| e.pid)
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        let by_more = |e: &Entry| Self::more(e).iter().any(|n| n == name);
        if name.len() > COMM_LEN {
            // A long name shows cut in the kernel name: confirm those first.
            let cut = &name.as_bytes()[..COMM_LEN];
            let confirmed: Vec<u32> = self
                .entries
                .iter()
                .filter(|e| e.comm.as_bytes() == cut && by_more(e))
                .map(|e| e.pid)
                .collect();
            if !confirmed.is_empty() {
                return confirmed;
            }
        }
        crate::par::fold(
            &self.entries,
            threads(),
            || (),
            |(), e| {
                Self::more(e);
            },
        );
        self.entries
            .iter()
            .filter(|e| by_more(e))
            .map(|e| e.pid)
            .collect()
    }
}

/// Read up to `buf.len()` bytes of a small file (no `stat`, one read).
#[cfg(target_os = "linux")]
fn read_head<'a>(path: &str, buf: &'a mut [u8]) -> Option<&'a [u8]> {
    use std::io::Read;
    let n = std::fs::File::open(path).ok()?.read(buf).ok()?;
    Some(&buf[..n])
}

/// Linux: the kernel name of every live process, from `/proc/<pid>/stat`
/// (`pid (comm) state ...`; the name may itself hold `)`, so the last one
/// closes it). Zombies (`Z`) and dead processes (`X`, `x`) are left out.
#[cfg(target_os = "linux")]
fn read_table() -> Result<Vec<Entry>, String> {
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .map_err(|e| format!("cannot read /proc: {e}"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let parts = crate::par::fold(&pids, threads(), Vec::new, |entries, &pid| {
        // pid, " (", 15 bytes of name, ") ", the state: well within 64.
        let mut buf = [0u8; 64];
        let Some(stat) = read_head(&format!("/proc/{pid}/stat"), &mut buf) else {
            return;
        };
        let (Some(open), Some(close)) = (
            stat.iter().position(|b| *b == b'('),
            stat.iter().rposition(|b| *b == b')'),
        ) else {
            return;
        };
        let state = stat.get(close + 2).copied();
        if close <= open || matches!(state, None | Some(b'Z' | b'X' | b'x')) {
            return;
        }
        entries.push(Entry {
            pid,
            comm: String::from_utf8_lossy(&stat[open + 1..close]).into_owned(),
            more: OnceLock::new(),
        });
    })
    .ok_or("the process table could not be read")?;
    Ok(parts.into_iter().flatten().collect())
}

/// Linux: the base names of a process's executable and argv[0]. A process
/// that is gone, or not ours to read, has none.
#[cfg(target_os = "linux")]
fn read_more(pid: u32) -> Vec<String> {
    use std::os::unix::ffi::OsStrExt;
    let mut names = Vec::new();
    if let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) {
        let exe = exe.as_os_str().as_bytes();
        // A replaced binary's link ends in " (deleted)".
        let exe = exe.strip_suffix(b" (deleted)").unwrap_or(exe);
        names.extend(base(OsStr::from_bytes(exe)));
    }
    let mut buf = [0u8; 4096];
    if let Some(cmdline) = read_head(&format!("/proc/{pid}/cmdline"), &mut buf) {
        let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
        if !argv0.is_empty() {
            names.extend(base(OsStr::from_bytes(argv0)));
        }
    }
    names
}

/// Elsewhere: sysinfo, with every name read at once.
#[cfg(not(target_os = "linux"))]
fn read_table() -> Result<Vec<Entry>, String> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};
    let mut sys = System::new().map_err(|e| e.to_string())?;
    sys.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing()
            .with_exe(UpdateKind::Always)
            .with_cmd(UpdateKind::Always)
            .without_tasks(),
    );
    Ok(sys
        .processes()
        .iter()
        .filter(|(_, p)| p.thread_kind().is_none())
        .filter(|(_, p)| {
            !matches!(
                p.status(),
                sysinfo::ProcessStatus::Zombie | sysinfo::ProcessStatus::Dead
            )
        })
        .map(|(pid, p)| {
            let mut more = Vec::new();
            more.extend(p.exe().and_then(|e| base(e.as_os_str())));
            more.extend(p.cmd().first().and_then(|a| base(a)));
            Entry {
                pid: pid.as_u32(),
                comm: p.name().to_string_lossy().into_owned(),
                more: OnceLock::from(more),
            }
        })
        .collect())
}

#[cfg(not(target_os = "linux"))]
fn read_more(_pid: u32) -> Vec<String> {
    Vec::new()
}

/// Whether `name` runs in `snapshot`, read on `host`.
pub fn check(snapshot: &Result<Snapshot, String>, name: &str, host: &str) -> Outcome {
    let snapshot = match snapshot {
        Ok(s) => s,
        Err(e) => {
            return Outcome::crit(format!("cannot list processes on {host}: {e}"));
        }
    };
    let pids = snapshot.matching(name);
    match pids.as_slice() {
        [] => Outcome::crit(format!("no running process named {name} on {host}"))
            .detail("pids", Vec::<u32>::new()),
        [one] => Outcome::ok(format!("{name} is running (1 process) on {host}"))
            .detail("pids", vec![*one]),
        many => Outcome::ok(format!(
            "{name} is running ({} processes) on {host}",
            many.len()
        ))
        .detail("pids", many.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Child(std::process::Child);

    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// A copy of `sleep` under `name`, running.
    fn sleeper(dir: &Path, name: &str) -> Child {
        let path = dir.join(name);
        let sleep = ["/bin/sleep", "/usr/bin/sleep"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("sleep");
        std::fs::copy(sleep, &path).unwrap();
        Child(std::process::Command::new(&path).arg("30").spawn().unwrap())
    }

    #[test]
    fn finds_short_and_long_names_and_never_itself() {
        let dir = tempfile::tempdir().unwrap();
        let short = sleeper(dir.path(), "rs-short-nm");
        let long = sleeper(dir.path(), "rs-a-process-name-longer-than-fifteen");
        std::thread::sleep(std::time::Duration::from_millis(100));
        let snap = Snapshot::take().unwrap();
        assert_eq!(snap.matching("rs-short-nm"), vec![short.0.id()]);
        assert_eq!(
            snap.matching("rs-a-process-name-longer-than-fifteen"),
            vec![long.0.id()]
        );
        // The cut kernel name alone is not the long name.
        assert!(snap.matching("rs-a-process-name-longer").is_empty());
        assert!(!snap.entries.iter().any(|p| p.pid == std::process::id()));
    }

    #[test]
    fn a_missing_process_is_critical() {
        let snap = Snapshot::take();
        let o = check(&snap, "no-such-process-release-sentinel", "here");
        assert_eq!(o.status, crate::report::Status::Crit);
    }
}
