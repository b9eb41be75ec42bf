//! The `release-sentinel` binary: parse, set up logging, call the library,
//! turn the verdict into the exit code. Only `main` exits; only the
//! renderers print the report.

mod cli;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use release_sentinel::envsnap::EnvSnapshot;
use release_sentinel::exit::USAGE_OR_INPUT_ERROR;
use release_sentinel::report::{self, Format, json};
use release_sentinel::secrets::Scrubber;
use release_sentinel::{Settings, logging, register_ambient_secrets, run_gate, sanitize};

use cli::{Cli, ColorArg, Command, FormatArg};

/// Variables clap reads when the matching option is not given.
const ENV_FALLBACKS: &[&str] = &["RS_ENV", "RS_VERSION", "RS_CONFIG"];

fn main() -> ExitCode {
    let scrubber = Scrubber::new();
    install_panic_hook(scrubber.clone());
    let vars = EnvSnapshot::from_process();
    ExitCode::from(run(&vars, &scrubber))
}

/// The last line of defence: a panic is a bug, but it must still exit 1
/// (BLOCKED), never 101, and its message must not leak a secret.
fn install_panic_hook(scrubber: Scrubber) {
    std::panic::set_hook(Box::new(move |info| {
        let message = sanitize::ascii(&scrubber.scrub(&info.to_string()));
        let _ = writeln!(
            io::stderr(),
            "release-sentinel: internal error: {message}\n\
             release-sentinel: this is a bug; the release is BLOCKED (exit 1)"
        );
        std::process::exit(i32::from(USAGE_OR_INPUT_ERROR));
    }));
}

fn run(vars: &EnvSnapshot, scrubber: &Scrubber) -> u8 {
    register_ambient_secrets(vars, scrubber);
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(e, vars, scrubber),
    };
    if let Some(command) = cli.command {
        return subcommand(command);
    }
    logging::init(
        vars.get("RUST_LOG").ok().flatten(),
        cli.verbose,
        cli.quiet,
        scrubber.clone(),
    );
    // A test hook, compiled into debug builds only (which the integration
    // tests run): it proves that a panic still exits 1 and leaks nothing. A
    // release build has no input that reaches a panic.
    #[cfg(debug_assertions)]
    if vars.get("RS_TEST_PANIC").ok().flatten() == Some("1") {
        panic!("panic requested by RS_TEST_PANIC");
    }
    let format = match cli.format {
        FormatArg::Table => Format::Table,
        FormatArg::Json => Format::Json,
        FormatArg::Junit => Format::Junit,
        FormatArg::Markdown => Format::Markdown,
    };
    let sinks = Sinks {
        report: cli.report,
        github: vars.get("GITHUB_ACTIONS").ok().flatten() == Some("true"),
        step_summary: vars
            .get("GITHUB_STEP_SUMMARY")
            .ok()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .map(Into::into),
    };
    // clap requires both when no subcommand is given.
    let (Some(env), Some(version)) = (cli.env, cli.release_version) else {
        let _ = writeln!(
            io::stderr(),
            "release-sentinel: error: --env and --version are required"
        );
        return USAGE_OR_INPUT_ERROR;
    };
    let set = |name: &str| vars.get(name).ok().flatten().is_some_and(|v| !v.is_empty());
    let colour = match cli.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            io::stdout().is_terminal()
                && !set("NO_COLOR")
                && vars.get("TERM").ok().flatten() != Some("dumb")
        }
    };
    let settings = Settings {
        // A progress line only where a person watches: never in CI logs.
        progress: io::stderr().is_terminal() && !cli.quiet && !set("CI"),
        env,
        version,
        config: cli.config,
        repo: cli.repo,
        fail_fast: cli.fail_fast,
        strict: cli.strict,
    };
    let mut stdout = io::stdout().lock();
    if cli.dry_run {
        let report = release_sentinel::pack::run(&settings, vars, scrubber);
        if let Some(e) = &report.config_error {
            let _ = writeln!(
                io::stderr(),
                "release-sentinel: error: {}",
                sanitize::ascii_lines(&scrubber.scrub(e))
            );
        }
        if let Err(e) = report::render_pack(format, &report, scrubber, colour, &mut stdout)
            .and_then(|()| stdout.flush())
        {
            tracing::debug!("cannot write the report: {e}");
        }
        return sinks.deliver(&report.summary(), json::pack_value(&report), scrubber);
    }
    match run_gate(&settings, vars, scrubber) {
        Ok(report) => {
            if let Err(e) = report::render(format, &report, scrubber, colour, &mut stdout)
                .and_then(|()| stdout.flush())
            {
                tracing::debug!("cannot write the report: {e}");
            }
            sinks.deliver(&report.summary(), json::to_value(&report), scrubber)
        }
        Err(e) => {
            let message = scrubber.scrub(&e.to_string());
            let _ = writeln!(
                io::stderr(),
                "release-sentinel: error: {}",
                sanitize::ascii_lines(&message)
            );
            // The run stopped before any check: one BLOCKED row named
            // `config`, so that JUnit, Markdown, the annotations and the job
            // summary still say why (the table prints nothing; stderr has it).
            let stopped = release_sentinel::report::Report {
                env: settings.env.clone(),
                version: settings.version.clone(),
                commit: None,
                config: "invalid".to_string(),
                strict: settings.strict,
                results: vec![release_sentinel::report::CheckResult {
                    id: "config".to_string(),
                    phase: release_sentinel::report::Phase::Policy,
                    outcome: release_sentinel::report::Outcome::fail(message.clone()),
                    duration: std::time::Duration::ZERO,
                }],
            };
            let doc = json::error_value(Some(&settings.env), Some(&settings.version), &message);
            match format {
                Format::Json => {
                    let _ = json::write_value(doc.clone(), scrubber, &mut stdout)
                        .and_then(|()| stdout.flush());
                }
                Format::Junit | Format::Markdown => {
                    let _ = report::render(format, &stopped, scrubber, false, &mut stdout)
                        .and_then(|()| stdout.flush());
                }
                Format::Table => {}
            }
            sinks.deliver(&stopped.summary(), doc, scrubber);
            USAGE_OR_INPUT_ERROR
        }
    }
}

/// Where else the report goes: a JSON file, GitHub's annotations and job
/// summary.
struct Sinks {
    report: Option<std::path::PathBuf>,
    github: bool,
    step_summary: Option<std::path::PathBuf>,
}

impl Sinks {
    /// Deliver the side outputs; returns the exit code: the report's, or 1
    /// when the requested report file could not be written.
    fn deliver(
        &self,
        summary: &report::Summary<'_>,
        doc: serde_json::Value,
        scrubber: &Scrubber,
    ) -> u8 {
        let mut code = summary.exit_code;
        if let Some(path) = &self.report
            && !self.write_report(path, doc, scrubber)
        {
            code = USAGE_OR_INPUT_ERROR;
        }
        if self.github {
            let _ =
                io::stderr().write_all(report::github::annotations(summary, scrubber).as_bytes());
        }
        if let Some(path) = &self.step_summary {
            let mut text = Vec::new();
            let written = report::markdown::render(summary, scrubber, &mut text).and_then(|()| {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                f.write_all(&text)?;
                f.write_all(b"\n")
            });
            if let Err(e) = written {
                let _ = writeln!(
                    io::stderr(),
                    "release-sentinel: warning: cannot append to GITHUB_STEP_SUMMARY: {e}"
                );
            }
        }
        code
    }

    /// Write the JSON report atomically; false (and a message) on failure.
    fn write_report(
        &self,
        path: &std::path::Path,
        doc: serde_json::Value,
        scrubber: &Scrubber,
    ) -> bool {
        let mut text = Vec::new();
        let result = json::write_value(doc, scrubber, &mut text)
            .and_then(|()| release_sentinel::fsutil::write_atomic(path, &text));
        if let Err(e) = &result {
            let _ = writeln!(
                io::stderr(),
                "release-sentinel: error: cannot write the report to {}: {e}",
                sanitize::ascii(&path.display().to_string())
            );
        }
        result.is_ok()
    }
}

/// `init`, `completions` and `man`.
fn subcommand(command: Command) -> u8 {
    let mut stdout = io::stdout().lock();
    match command {
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "release-sentinel", &mut buf);
            emit(&mut stdout, &buf, "the completion script")
        }
        Command::Man => {
            let mut buf = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut buf) {
                Ok(()) => emit(&mut stdout, &buf, "the man page"),
                Err(e) => {
                    let _ = writeln!(
                        io::stderr(),
                        "release-sentinel: error: cannot render the man page: {e}"
                    );
                    USAGE_OR_INPUT_ERROR
                }
            }
        }
        Command::Init { path, force } => {
            let path = path.unwrap_or_else(|| {
                git2::Repository::discover(".")
                    .ok()
                    .and_then(|r| {
                        r.workdir()
                            .map(|w| w.join(release_sentinel::config::FILE_NAME))
                    })
                    .unwrap_or_else(|| release_sentinel::config::FILE_NAME.into())
            });
            let shown = sanitize::ascii(&path.display().to_string());
            if path.exists() && !force {
                let _ = writeln!(
                    io::stderr(),
                    "release-sentinel: error: {shown} already exists; use --force to replace it"
                );
                return USAGE_OR_INPUT_ERROR;
            }
            match release_sentinel::fsutil::write_atomic(
                &path,
                release_sentinel::config::STARTER.as_bytes(),
            ) {
                Ok(()) => {
                    let _ = writeln!(
                        stdout,
                        "wrote {shown}\nnext: edit it, then run: release-sentinel --env dev --version v0.1.0"
                    );
                    0
                }
                Err(e) => {
                    let _ = writeln!(
                        io::stderr(),
                        "release-sentinel: error: cannot write {shown}: {e}"
                    );
                    USAGE_OR_INPUT_ERROR
                }
            }
        }
    }
}

/// Write generated text to stdout. A reader that stopped early (`| head`)
/// is not an error.
fn emit(out: &mut impl Write, data: &[u8], what: &str) -> u8 {
    match out.write_all(data).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            let _ = writeln!(
                io::stderr(),
                "release-sentinel: error: cannot write {what}: {e}"
            );
            USAGE_OR_INPUT_ERROR
        }
    }
}

/// `--help` and `-V` print and exit 0; every usage error exits 1 (clap's
/// own default would be 2, which means CRITICAL here).
fn usage(e: clap::Error, vars: &EnvSnapshot, scrubber: &Scrubber) -> u8 {
    if e.kind() == ErrorKind::InvalidUtf8 {
        // clap reads RS_ENV and friends itself and blames "arguments";
        // name the variable when one of them is the culprit.
        let bad: Vec<&str> = ENV_FALLBACKS
            .iter()
            .copied()
            .filter(|name| vars.get(name).is_err())
            .collect();
        if !bad.is_empty() {
            let _ = writeln!(
                io::stderr(),
                "release-sentinel: error: {} is set but not valid UTF-8; set it to a plain text value",
                bad.join(", ")
            );
            return USAGE_OR_INPUT_ERROR;
        }
    }
    let text = sanitize::ascii_lines(&scrubber.scrub(&e.render().to_string()));
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = io::stdout().lock().write_all(text.as_bytes());
            0
        }
        _ => {
            let _ = io::stderr().lock().write_all(text.as_bytes());
            USAGE_OR_INPUT_ERROR
        }
    }
}
