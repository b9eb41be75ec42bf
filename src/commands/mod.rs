//! The commands: one module each, with its clap `Args` and one `run`
//! function that returns what it produced ([`Done`]): a [`Report`] for
//! everything that judges something, or text (a completion script, the
//! man page). `main` resolves the [`Invocation`] once, calls the command
//! with a [`Context`], and delivers the result; nothing here prints.
//!
//! A new command is one module and one line in the [`commands!`] list.

pub mod backup;
pub mod bundle;
pub mod completions;
pub mod evidence;
pub mod freshness;
pub mod gate;
pub mod golive;
pub mod init;
pub mod man;
pub mod notify;
pub mod pack;
pub mod parity;
pub mod predeploy;
pub mod ready;
pub mod rotate;
pub mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::cli::{ColorArg, Common, OutputArgs, SourceArgs, TargetArgs};
use crate::clock::Now;
use crate::config::{self, Config, ConfigError};
use crate::envsnap::EnvSnapshot;
use crate::git::{self, Opened};
use crate::progress::Progress;
use crate::report::deliver::Delivery;
use crate::report::{Kind, Report, Target};
use crate::secrets::Scrubber;

/// What a command produced.
#[derive(Debug)]
pub enum Done {
    /// A verdict, delivered by [`crate::report::deliver`].
    Report(Report),
    /// Text for stdout (exit 0).
    Text(Vec<u8>),
}

/// Why a command could not run at all. (A failed check, and an invalid
/// config, are in the report instead.)
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Refused(String),
    #[error("cannot write {what}: {source}")]
    Write {
        what: String,
        source: std::io::Error,
    },
}

/// The commands, each `Variant(module)`: the module has `Args`, `run`, and
/// says which output options it takes.
macro_rules! commands {
    ($($(#[$meta:meta])* $variant:ident($module:ident)),* $(,)?) => {
        /// Commands besides the gate.
        #[derive(Debug, clap::Subcommand)]
        pub enum Command {
            $($(#[$meta])* $variant($module::Args),)*
        }

        impl Command {
            /// Run the command.
            pub fn run(&self, cx: &Context<'_>) -> Result<Done, Error> {
                match self {
                    $(Command::$variant(args) => $module::run(args, cx),)*
                }
            }

            /// The command's output options, when it has them.
            pub fn output(&self) -> Option<&OutputArgs> {
                match self {
                    $(Command::$variant(args) => $module::output(args),)*
                }
            }
        }
    };
}

commands! {
    /// The gate (the default without a subcommand)
    #[command(hide = true)]
    Gate(gate),
    /// Run the pre-live pack (the same as the gate's --dry-run)
    Pack(pack),
    /// Write a commented starter release-sentinel.toml (at the repository
    /// root, or --path)
    Init(init),
    /// Print a shell completion script
    Completions(completions),
    /// Print the man page (roff)
    Man(man),
    /// After the deploy: watch health and metrics, roll back on a trigger
    /// (exit 0 HEALTHY, 2 ROLLBACK, 1 could not run)
    Verify(verify),
    /// Send an announcement (deployment start, canary success, go-live
    /// complete, rollback) to the [notify] targets
    Notify(notify),
    /// Build the release bundle (<name>-v<version>.zip, .sha256, in-toto
    /// statement); `bundle verify <ZIP>` checks one
    Bundle(bundle),
    /// Delete old artifacts (TTL, then size, keeping the newest);
    /// --dry-run shows the plan
    Rotate(rotate),
    /// The cron sentinel: is each scheduled job's artifact fresh?
    Freshness(freshness),
    /// Make-ready: the pre-live pack and a readiness score, written to a
    /// JSON file (exit 0 ready, 1 not)
    Ready(ready),
    /// `backup verify <MANIFEST>`: a backup present, intact and recent
    Backup(backup),
    /// Compare two environments' configurations (exit 1 on critical
    /// drift); secret values are never shown
    Parity(parity),
    /// The pre-deployment protocol: approvals, parity, deploy and rollback
    /// rehearsals, smoke tests, security, the go/no-go package (exit 0
    /// READY, 1 HALTED)
    Predeploy(predeploy),
    /// The go-live checklist: gate, pack, backup, parity evidence, open
    /// blockers, your items (--dry-run shows DRY-RUN <command> for each)
    Golive(golive),
    /// `evidence verify <DIR>`: an evidence record intact, its verdict
    /// following from its rows; --replay re-runs its policy gates
    Evidence(evidence),
}

/// What every command sees of the world.
pub struct Context<'a> {
    pub vars: &'a EnvSnapshot,
    pub scrubber: &'a Scrubber,
    /// The command line as given (invalid UTF-8 replaced), for the
    /// evidence record.
    pub argv: Vec<String>,
    /// Where to report progress (the front end may show it).
    pub progress: Progress,
}

impl<'a> Context<'a> {
    pub fn new(vars: &'a EnvSnapshot, scrubber: &'a Scrubber, progress: Progress) -> Self {
        Self {
            vars,
            scrubber,
            argv: Vec::new(),
            progress,
        }
    }

    /// The context, with the command line it was started with.
    pub fn with_argv(self, argv: &[std::ffi::OsString]) -> Self {
        Self {
            argv: argv
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            ..self
        }
    }

    /// The process's flag, set on SIGINT or SIGTERM (see
    /// [`crate::interrupt`]): the front end watches both signals for every
    /// command before it starts, so a signal never ends a command by
    /// itself. A command looks at the flag between units of work, stops,
    /// and reports what ran; one that has not stopped within the front
    /// end's grace is ended by it, with exit 1.
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        crate::interrupt::flag()
    }
}

/// Whether stdout and stderr are terminals.
#[derive(Debug, Clone, Copy, Default)]
pub struct Terminal {
    pub stdout: bool,
    pub stderr: bool,
}

impl Terminal {
    /// This process's stdout and stderr.
    pub fn detect() -> Self {
        use std::io::IsTerminal;
        Self {
            stdout: std::io::stdout().is_terminal(),
            stderr: std::io::stderr().is_terminal(),
        }
    }
}

/// Settings derived once from the parsed arguments and the environment.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    pub delivery: Delivery,
    /// Show a progress line on stderr.
    pub progress: bool,
    pub verbose: u8,
    pub quiet: bool,
}

impl Invocation {
    /// Install the log subscriber at the level this invocation asks for
    /// (`RUST_LOG` wins), every line through `scrubber`.
    pub fn init_logging(&self, vars: &EnvSnapshot, scrubber: &Scrubber) {
        let rust_log = vars.get("RUST_LOG").ok().flatten();
        crate::logging::init(rust_log, self.verbose, self.quiet, scrubber.clone());
    }

    pub fn resolve(output: Option<&OutputArgs>, vars: &EnvSnapshot, term: Terminal) -> Self {
        let set = |name: &str| vars.get(name).ok().flatten().is_some_and(|v| !v.is_empty());
        let Some(out) = output else {
            return Self::default();
        };
        let colour = match out.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                term.stdout && !set("NO_COLOR") && vars.get("TERM").ok().flatten() != Some("dumb")
            }
        };
        Self {
            delivery: Delivery {
                format: out.format,
                colour,
                report: out.report.clone(),
                junit: out.junit.clone(),
                github: vars.get("GITHUB_ACTIONS").ok().flatten() == Some("true"),
                step_summary: vars
                    .get("GITHUB_STEP_SUMMARY")
                    .ok()
                    .flatten()
                    .filter(|s| !s.trim().is_empty())
                    .map(PathBuf::from),
            },
            // A progress line only where a person watches: never in CI logs.
            progress: term.stderr && !out.quiet && !set("CI"),
            verbose: out.verbose,
            quiet: out.quiet,
        }
    }
}

/// The repository, the configuration and the time, read once for a
/// command.
pub struct Workspace {
    pub repo: Opened,
    /// The environment it was opened for.
    pub env: Option<String>,
    pub config: Result<Config, ConfigError>,
    /// The time every check uses, or why `CI_FAKE_UTC` is not one.
    pub now: Result<Now, String>,
    /// The work tree root, or the `--repo` path when there is none.
    pub root: PathBuf,
}

impl Workspace {
    /// Open the repository and load the config for `common`'s target.
    pub fn open(common: &Common, cx: &Context<'_>) -> Self {
        Self::open_for(&common.source, common.target.env.as_deref(), cx)
    }

    /// Open the repository and load the config; `env`, when given, is the
    /// only environment whose override must resolve.
    pub fn open_for(source: &SourceArgs, env: Option<&str>, cx: &Context<'_>) -> Self {
        let now = Now::read(cx.vars);
        if let Ok(t) = &now
            && t.fake
        {
            tracing::warn!(
                "the time is {}={}, not the clock: every check uses it",
                crate::clock::FAKE_VAR,
                t.rfc3339()
            );
        }
        let start = std::time::Instant::now();
        let repo = git::open(&source.repo);
        tracing::debug!(elapsed = ?start.elapsed(), "opened the repository");
        let root = git::root_of(&repo).map(PathBuf::from);
        let config = config::load(
            source.config.as_deref(),
            root.as_deref(),
            cx.vars,
            cx.scrubber,
            env,
        );
        Self {
            root: root.unwrap_or_else(|| source.repo.clone()),
            repo,
            env: env.map(str::to_string),
            config,
            now,
        }
    }

    /// A report of `kind` about `target`: the commit, the time, and the
    /// config's source or why there is no usable config or time (the one
    /// path every command takes for an invalid config or `CI_FAKE_UTC`).
    pub fn report(&self, kind: &'static Kind, target: &TargetArgs) -> Report {
        let mut report = Report::new(
            kind,
            Target {
                env: target.env.clone(),
                version: target.release_version.clone(),
                commit: self.repo.as_ref().ok().map(|r| r.head.to_string()),
            },
        );
        let mut errors = Vec::new();
        match &self.config {
            Ok(c) => report.config = Some(c.source.to_string()),
            Err(e) => errors.push(e.to_string()),
        }
        match &self.now {
            Ok(t) => report.time = Some(*t),
            Err(e) => errors.push(e.clone()),
        }
        if !errors.is_empty() {
            report.error = Some(errors.join("\n"));
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Format;

    fn output(color: ColorArg) -> OutputArgs {
        OutputArgs {
            format: Format::Json,
            color,
            report: None,
            junit: None,
            verbose: 0,
            quiet: false,
        }
    }

    #[test]
    fn colour_and_progress_follow_the_terminal_and_the_environment() {
        let tty = Terminal {
            stdout: true,
            stderr: true,
        };
        let none = EnvSnapshot::default();
        let inv = Invocation::resolve(Some(&output(ColorArg::Auto)), &none, tty);
        assert!(inv.delivery.colour && inv.progress);
        assert_eq!(inv.delivery.format, Format::Json);
        let ci = EnvSnapshot::from_pairs([("NO_COLOR", "1"), ("CI", "true")]);
        let inv = Invocation::resolve(Some(&output(ColorArg::Auto)), &ci, tty);
        assert!(!inv.delivery.colour && !inv.progress);
        let inv = Invocation::resolve(Some(&output(ColorArg::Always)), &none, Terminal::default());
        assert!(inv.delivery.colour && !inv.progress);
    }

    #[test]
    fn github_settings_come_from_its_variables() {
        let gh = EnvSnapshot::from_pairs([
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", "/tmp/summary.md"),
        ]);
        let inv = Invocation::resolve(Some(&output(ColorArg::Never)), &gh, Terminal::default());
        assert!(inv.delivery.github);
        assert_eq!(
            inv.delivery.step_summary.as_deref(),
            Some(std::path::Path::new("/tmp/summary.md"))
        );
    }
}
