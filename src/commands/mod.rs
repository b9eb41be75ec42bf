//! The commands: one module each, with its clap `Args` and one `run`
//! function that returns what it produced ([`Done`]): a [`Report`] for
//! everything that judges something, or text (a completion script, the
//! man page). `main` resolves the [`Invocation`] once, calls the command
//! with a [`Context`], and delivers the result; nothing here prints.
//!
//! A new command is one file and one line in the [`commands!`] list
//! (which declares its module).

use std::io::{self, Write};
use std::path::PathBuf;

use crate::cli::{ColorArg, OutputArgs};
use release_sentinel::envsnap::EnvSnapshot;
use release_sentinel::exit::USAGE_OR_INPUT_ERROR;
use release_sentinel::interrupt;
use release_sentinel::report::Report;
use release_sentinel::report::deliver::{Delivery, deliver, error_line};
use release_sentinel::secrets::Scrubber;
pub use release_sentinel::workspace::{Context, Workspace};

/// What a command produced.
#[derive(Debug)]
pub enum Done {
    /// A verdict, delivered by [`release_sentinel::report::deliver`].
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

/// The commands, each `Variant(module)`: the module (declared here) has
/// `Args` and `run`.
/// `{ common.output }` names the field of its `Args` that holds its output
/// options; `{ fn }` says the module's `output` finds them (they sit in a
/// sub-action); nothing, that it has none (it prints text).
macro_rules! commands {
    (@output $args:ident $module:ident) => {{
        let _ = $args;
        None
    }};
    (@output $args:ident $module:ident fn) => { $module::output($args) };
    (@output $args:ident $module:ident $($field:ident).+) => { Some(&$args.$($field).+) };
    ($($(#[$meta:meta])* $variant:ident($module:ident) $({ $($output:tt)* })?),* $(,)?) => {
        $(pub mod $module;)*

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
                    $(Command::$variant(args) => commands!(@output args $module $($($output)*)?),)*
                }
            }
        }
    };
}

commands! {
    /// The gate (the default without a subcommand)
    #[command(hide = true)]
    Gate(gate) { common.output },
    /// Run the pre-live pack (the same as the gate's --dry-run)
    Pack(pack) { common.output },
    /// Write a commented starter release-sentinel.toml (at the repository
    /// root, or --path)
    Init(init),
    /// Print a shell completion script
    Completions(completions),
    /// Print the man page (roff)
    Man(man),
    /// After the deploy: watch health and metrics, roll back on a trigger
    /// (exit 0 HEALTHY, 2 ROLLBACK, 1 could not run)
    Verify(verify) { common.output },
    /// Send an announcement (deployment start, canary success, go-live
    /// complete, rollback) to the [notify] targets
    Notify(notify) { common.output },
    /// Build the release bundle (<name>-v<version>.zip, .sha256, in-toto
    /// statement); `bundle verify <ZIP>` checks one
    Bundle(bundle) { fn },
    /// Delete old artifacts (TTL, then size, keeping the newest);
    /// --dry-run shows the plan
    Rotate(rotate) { output },
    /// The cron sentinel: is each scheduled job's artifact fresh?
    Freshness(freshness) { output },
    /// Make-ready: the pre-live pack and a readiness score, written to a
    /// JSON file (exit 0 ready, 1 not)
    Ready(ready) { common.output },
    /// `backup verify <MANIFEST>`: a backup present, intact and recent
    Backup(backup) { fn },
    /// Compare two environments' configurations (exit 1 on critical
    /// drift); secret values are never shown
    Parity(parity) { output },
    /// The pre-deployment protocol: approvals, parity, deploy and rollback
    /// rehearsals, smoke tests, security, the go/no-go package (exit 0
    /// READY, 1 HALTED)
    Predeploy(predeploy) { common.output },
    /// The go-live checklist: gate, pack, backup, parity evidence, open
    /// blockers, your items (--dry-run shows DRY-RUN <command> for each)
    Golive(golive) { common.output },
    /// `evidence verify <DIR>`: an evidence record intact, its verdict
    /// following from its rows; --replay re-runs its policy gates
    Evidence(evidence) { fn },
}

/// `--version` parsed by the environment's tag format, as the gate's
/// `version_valid` parses it (`v` and a SemVer version by default, or the
/// release's tag name). Every command that puts the version into a command
/// line or a message calls it before doing anything: a value that is not a
/// version (`v1.2.3-a$(touch x)`) is refused, named, with exit 1.
pub fn release_version(
    config: &release_sentinel::config::Config,
    target: &crate::cli::TargetArgs,
) -> Result<release_sentinel::git::tags::Release, Error> {
    config
        .release(target.env(), target.version())
        .map_err(|why| Error::Refused(format!("--version: {why}")))
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
        release_sentinel::logging::init(rust_log, self.verbose, self.quiet, scrubber.clone());
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

/// Deliver what a command produced, once the front end is done with the
/// terminal: the report (through [`deliver`]) or the text on stdout, or
/// the error on stderr; the exit code. A run a signal interrupted is never
/// a pass (exit 1), and its report says it was interrupted.
pub fn finish(done: Result<Done, Error>, delivery: &Delivery, scrubber: &Scrubber) -> u8 {
    let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
    // Interrupted: whatever the command made of it, the run is not a
    // pass (exit 1), and its report says it was interrupted.
    let interrupted = interrupt::signal_name();
    let error = match done {
        Ok(Done::Report(mut r)) => {
            if interrupted.is_some() {
                r.interrupted = Some(true);
            }
            let code = deliver(&r, delivery, scrubber, &mut out, &mut err);
            match interrupt::signal_name() {
                // The signal came while the report was being written.
                Some(signal) if interrupted.is_none() => format!("interrupted by {signal}"),
                _ => return code,
            }
        }
        Ok(Done::Text(_)) if let Some(signal) = interrupted => format!("interrupted by {signal}"),
        // A reader that stopped early (`| head`) is not an error.
        Ok(Done::Text(text)) => match out.write_all(&text).and_then(|()| out.flush()) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => e.to_string(),
            _ => match interrupt::signal_name() {
                Some(signal) => format!("interrupted by {signal}"),
                None => return 0,
            },
        },
        Err(e) => e.to_string(),
    };
    let _ = err.write_all(error_line(&error, scrubber).as_bytes());
    USAGE_OR_INPUT_ERROR
}

#[cfg(test)]
mod tests {
    use super::*;
    use release_sentinel::report::Format;

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
