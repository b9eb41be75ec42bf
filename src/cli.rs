//! The command line: clap types only. Argument groups shared by several
//! commands are defined here once and flattened into each command's
//! `Args`; the commands themselves are in [`crate::commands`].

use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{ArgAction, Parser};

use crate::commands::{Command, Context, Workspace, gate};
use release_sentinel::envsnap::EnvSnapshot;
use release_sentinel::exit::USAGE_OR_INPUT_ERROR;
use release_sentinel::report::Format;
use release_sentinel::report::{Kind, Report};
use release_sentinel::sanitize;
use release_sentinel::secrets::Scrubber;

const AFTER_HELP: &str = "\
Exit codes:
  0  SAFE      every policy gate passed (and no health check is critical)
  1  BLOCKED   a policy gate failed, or the arguments or config are invalid
  2  CRITICAL  policy passed, but a health check is critical

Pre-live pack (pack, or --dry-run): exit 0 when every step passed, 1 otherwise.

Examples:
  release-sentinel --env prod --version v1.2.3
  release-sentinel --env prod --version v1.2.3 --dry-run
  release-sentinel --env stage --version v1.3.0-rc.1 --format json
  RS_ENV=prod RS_VERSION=v1.2.3 release-sentinel --repo ./service --fail-fast
  release-sentinel --env dev --version v0.4.0 --config ci/release-sentinel.toml -v
  release-sentinel --env prod --version v1.2.3 --evidence evidence/v1.2.3";

/// A release safety gate: may this version go to this environment now?
///
/// Checks policy (environment, git state, version, tag, required
/// variables), then health (disk, memory, processes, dependency APIs), and
/// prints a table; the exit code is the verdict. --dry-run runs the
/// pre-live pack instead.
#[derive(Debug, Parser)]
#[command(
    name = "release-sentinel",
    version,
    disable_version_flag = true,
    after_help = AFTER_HELP,
    max_term_width = 100,
    subcommand_negates_reqs = true,
    disable_help_subcommand = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Without a subcommand: the gate.
    #[command(flatten)]
    pub gate: gate::Args,

    /// Print the tool's own version
    #[arg(short = 'V', action = ArgAction::Version)]
    pub tool_version: Option<bool>,
}

impl Cli {
    /// The command to run: the subcommand, or the gate.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Gate(self.gate))
    }
}

/// What a parse that did not yield a command prints, and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// Print on stdout (help, version) rather than stderr.
    pub stdout: bool,
    pub text: String,
    pub code: u8,
}

/// `--help` and `-V` print and exit 0; every usage error exits 1 (clap's
/// own default would be 2, which means CRITICAL here). Scrubbed, ASCII.
/// clap quotes the offending argument as given; an argument with a line
/// break or another control character is escaped where it is quoted, so
/// that it cannot start a line of its own (`::error` on GitHub).
pub fn stopped(
    e: &clap::Error,
    args: &[std::ffi::OsString],
    vars: &EnvSnapshot,
    scrubber: &Scrubber,
) -> Stopped {
    // clap reads RS_ENV and friends itself and blames "arguments"; name
    // the variable when one of them is the culprit.
    let bad: Vec<&str> = ["RS_ENV", "RS_VERSION", "RS_CONFIG"]
        .into_iter()
        .filter(|name| vars.get(name).is_err())
        .collect();
    if e.kind() == ErrorKind::InvalidUtf8 && !bad.is_empty() {
        return Stopped {
            stdout: false,
            text: release_sentinel::report::deliver::error_line(
                &format!(
                    "{} is set but not valid UTF-8; set it to a plain text value",
                    bad.join(", ")
                ),
                scrubber,
            ),
            code: USAGE_OR_INPUT_ERROR,
        };
    }
    let help = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    let mut text = scrubber.scrub(&e.render().to_string());
    for arg in args {
        let arg = scrubber.scrub(&arg.to_string_lossy());
        let value = arg.split_once('=').map(|(_, v)| v.to_string());
        for piece in std::iter::once(arg.clone()).chain(value) {
            if piece.chars().any(char::is_control) {
                text = text.replace(&piece, &sanitize::ascii(&piece));
            }
        }
    }
    Stopped {
        stdout: help,
        text: sanitize::ascii_lines(&text),
        code: if help { 0 } else { USAGE_OR_INPUT_ERROR },
    }
}

/// The options of every command that reports on one release: what it is
/// about, where the repository and config are, where the report goes.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl Common {
    /// The library's options for this release: what it is and where the
    /// repository is; nothing stops early, WARN does not block, no freeze
    /// is overridden.
    pub fn options(&self) -> release_sentinel::gate::Options {
        release_sentinel::gate::Options {
            env: self.target.env().to_string(),
            version: self.target.version().to_string(),
            repo: self.source.repo.clone(),
            ..Default::default()
        }
    }

    /// Open the repository and load the config for this release's
    /// environment.
    pub fn open(&self, cx: &Context<'_>) -> Workspace {
        self.source.open(self.target.env.as_deref(), cx)
    }
}

/// The environment and release version a command is about.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Target environment (exact match against the allowed list)
    #[arg(
        long,
        env = "RS_ENV",
        hide_env_values = true,
        value_name = "ENV",
        required = true
    )]
    pub env: Option<String>,

    #[command(flatten)]
    pub release: VersionArg,
}

/// `--version`: the release version (the tool's own is `-V`). A command
/// that says more of it changes its help with `mut_arg("release_version")`.
#[derive(Debug, Clone, clap::Args)]
pub struct VersionArg {
    /// Release version to check, as its tag is written: "v" and a SemVer
    /// version by default, e.g. v1.2.3
    #[arg(
        long = "version",
        env = "RS_VERSION",
        hide_env_values = true,
        value_name = "VERSION",
        required = true
    )]
    pub release_version: Option<String>,
}

impl TargetArgs {
    /// A report of `kind` about this release, from `ws`.
    pub fn report(&self, ws: &Workspace, kind: &'static Kind) -> Report {
        ws.report(
            kind,
            self.env.as_deref(),
            self.release.release_version.as_deref(),
        )
    }

    /// The environment (clap requires it; empty if it was ever absent).
    pub fn env(&self) -> &str {
        self.env.as_deref().unwrap_or_default()
    }

    /// The release version as given.
    pub fn version(&self) -> &str {
        self.release.release_version.as_deref().unwrap_or_default()
    }
}

/// Deploying through a freeze (`deploy_window`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FreezeArgs {
    /// Deploy during a freeze, for this reason (recorded in every output;
    /// or RS_FREEZE_OVERRIDE). An empty reason is refused
    #[arg(long, value_name = "REASON")]
    pub override_freeze: Option<String>,
}

/// Where the repository and the configuration are.
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// Configuration file [default: release-sentinel.toml at the repository
    /// root, else the embedded default]
    #[arg(long, env = "RS_CONFIG", hide_env_values = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Repository to check (discovered upward, like git)
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
}

impl SourceArgs {
    /// Open the repository and load the config; `env`, when given, is the
    /// only environment whose override must resolve.
    pub fn open(&self, env: Option<&str>, cx: &Context<'_>) -> Workspace {
        Workspace::open(&self.repo, self.config.as_deref(), env, cx)
    }
}

/// Where the report goes and how much is logged.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Output format of the report on stdout
    #[arg(long, value_enum, default_value_t = Format::Table, value_name = "FORMAT")]
    pub format: Format,

    /// When to colour the table's statuses: auto (stdout is a terminal and
    /// NO_COLOR is not set), always, never
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    pub color: ColorArg,

    /// Also write the JSON report to this file (atomically)
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,

    /// Also write the JUnit XML report to this file (atomically, after the
    /// checks, so a file in the work tree does not make it dirty)
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace)
    #[arg(short, long, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr
    #[arg(short, long)]
    pub quiet: bool,
}

/// Where a command that judges a release writes its evidence record.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EvidenceArgs {
    /// Write an evidence record into DIR (created if missing): the inputs,
    /// every row and the verdict, under a SHA-256 manifest; check it with
    /// `release-sentinel evidence verify DIR`. A record that cannot be
    /// written makes the run fail (exit 1)
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,

    /// Sign the record with this OpenSSH private key (Ed25519 or ECDSA
    /// P-256; or RS_SIGN_KEY): SHA256SUMS.sig beside SHA256SUMS, an SSH
    /// signature that `ssh-keygen -Y verify -n release-sentinel` checks. A
    /// passphrase comes from RS_SIGN_PASSPHRASE
    #[arg(long, value_name = "PATH", requires = "evidence")]
    pub sign_key: Option<PathBuf>,
}

impl EvidenceArgs {
    /// Write the record `--evidence DIR` asks for, once `report`'s rows
    /// are final (see [`release_sentinel::evidence::attach`]).
    pub fn attach(&self, report: &mut Report, ws: &Workspace, cx: &Context<'_>, fail_fast: bool) {
        release_sentinel::evidence::attach(
            self.evidence.as_deref(),
            self.sign_key.as_deref(),
            report,
            ws,
            cx,
            fail_fast,
        );
    }
}

/// Who may have signed what a command checks.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SignersArgs {
    /// Require a signature by a key in this allowed_signers file
    /// (ssh-keygen's and git's format: principals, options, key) and name
    /// its signer; a missing, bad or unknown-key signature fails
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn version_means_the_release_version() {
        let cli = Cli::try_parse_from(["rs", "--env", "prod", "--version", "v1.2.3"]).unwrap();
        let Command::Gate(g) = cli.into_command() else {
            panic!("not the gate");
        };
        assert_eq!(g.common.target.version(), "v1.2.3");
        assert_eq!(g.common.target.env(), "prod");
        assert_eq!(g.common.output.format, Format::Table);
    }

    #[test]
    fn subcommands_need_no_env_or_version_but_pack_does() {
        let cli = Cli::try_parse_from(["rs", "man"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Man(_))));
        let err = Cli::try_parse_from(["rs"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let err = Cli::try_parse_from(["rs", "pack", "--env", "dev"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let cli = Cli::try_parse_from([
            "rs",
            "pack",
            "--env",
            "dev",
            "--version",
            "v1.0.0",
            "--format",
            "json",
        ])
        .unwrap();
        assert!(matches!(cli.command, Some(Command::Pack(_))));
    }

    #[test]
    fn capital_v_prints_the_tool_version() {
        let err = Cli::try_parse_from(["rs", "-V"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
    }
}
