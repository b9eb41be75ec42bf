//! The command line: clap types only. `main` turns them into
//! [`release_sentinel::Settings`].

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  SAFE      every policy gate passed (and no health check is critical)
  1  BLOCKED   a policy gate failed, or the arguments or config are invalid
  2  CRITICAL  policy passed, but a health check is critical

Pre-live pack (--dry-run): exit 0 when every step passed, 1 otherwise.

Examples:
  release-sentinel --env prod --version v1.2.3
  release-sentinel --env prod --version v1.2.3 --dry-run
  release-sentinel --env stage --version v1.3.0-rc.1 --format json
  RS_ENV=prod RS_VERSION=v1.2.3 release-sentinel --repo ./service --fail-fast
  release-sentinel --env dev --version v0.4.0 --config ci/release-sentinel.toml -v";

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
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Target environment (exact match against the allowed list)
    #[arg(
        long,
        env = "RS_ENV",
        hide_env_values = true,
        value_name = "ENV",
        required = true
    )]
    pub env: Option<String>,

    /// Release version to check: "v" and a SemVer version, e.g. v1.2.3
    #[arg(
        long = "version",
        env = "RS_VERSION",
        hide_env_values = true,
        value_name = "VERSION",
        required = true
    )]
    pub release_version: Option<String>,

    /// Configuration file [default: release-sentinel.toml at the repository
    /// root, else the embedded default]
    #[arg(long, env = "RS_CONFIG", hide_env_values = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Repository to check (discovered upward, like git)
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,

    /// Output format of the report on stdout
    #[arg(long, value_enum, default_value_t = FormatArg::Table, value_name = "FORMAT")]
    pub format: FormatArg,

    /// When to colour the table's statuses: auto (stdout is a terminal and
    /// NO_COLOR is not set), always, never
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    pub color: ColorArg,

    /// Also write the JSON report to this file (atomically)
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,

    /// Stop at the first failed gate (the rest show SKIP)
    #[arg(long)]
    pub fail_fast: bool,

    /// WARN rows block: a WARN policy row exits 1, a WARN health row 2
    #[arg(long)]
    pub strict: bool,

    /// Run the pre-live pack instead of the gate (exit 0 when every step
    /// passed, else 1)
    #[arg(long)]
    pub dry_run: bool,

    /// More log output on stderr (-v info, -vv debug, -vvv trace)
    #[arg(short, long, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr
    #[arg(short, long)]
    pub quiet: bool,

    /// Print the tool's own version
    #[arg(short = 'V', action = ArgAction::Version)]
    pub tool_version: Option<bool>,
}

/// Commands besides the gate.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter release-sentinel.toml (at the repository
    /// root, or --path)
    Init {
        /// Where to write it [default: release-sentinel.toml at the
        /// repository root, else in the current directory]
        #[arg(long, value_name = "PATH")]
        path: Option<PathBuf>,
        /// Replace an existing file
        #[arg(long)]
        force: bool,
    },
    /// Print a shell completion script
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// The ASCII table
    Table,
    /// One JSON document
    Json,
    /// JUnit XML, one test suite per phase
    Junit,
    /// A Markdown table (for $GITHUB_STEP_SUMMARY)
    Markdown,
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
        assert_eq!(cli.release_version.as_deref(), Some("v1.2.3"));
        assert_eq!(cli.env.as_deref(), Some("prod"));
        assert_eq!(cli.format, FormatArg::Table);
    }

    #[test]
    fn subcommands_need_no_env_or_version() {
        let cli = Cli::try_parse_from(["rs", "man"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Man)));
        let err = Cli::try_parse_from(["rs"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn capital_v_prints_the_tool_version() {
        let err = Cli::try_parse_from(["rs", "-V"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
    }
}
