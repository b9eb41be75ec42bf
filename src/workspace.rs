//! What a command sees of the world ([`Context`]: the environment read
//! once, the scrubber, the command line, where progress goes) and what it
//! opens once ([`Workspace`]: the repository, the validated config, the
//! run's clock). Plain types: the binary builds them from its arguments.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::clock::Now;
use crate::config::{self, Config, ConfigError};
use crate::envsnap::EnvSnapshot;
use crate::git::{self, Opened};
use crate::progress::Progress;
use crate::report::{Kind, Report, Target};
use crate::secrets::Scrubber;

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
    /// Open the repository at `path` (discovered upward, like git) and
    /// load the config (`config_file`, else the repository's, else the
    /// embedded default); `env`, when given, is the only environment whose
    /// override must resolve.
    pub fn open(
        path: &Path,
        config_file: Option<&Path>,
        env: Option<&str>,
        cx: &Context<'_>,
    ) -> Self {
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
        let repo = git::open(path);
        tracing::debug!(elapsed = ?start.elapsed(), "opened the repository");
        let root = git::root_of(&repo).map(PathBuf::from);
        let config = config::load(config_file, root.as_deref(), cx.vars, cx.scrubber, env);
        Self {
            root: root.unwrap_or_else(|| path.to_path_buf()),
            repo,
            env: env.map(str::to_string),
            config,
            now,
        }
    }

    /// A report of `kind` about the release (`env`, `version`, when the
    /// command has one): the commit, the time, and the config's source or
    /// why there is no usable config or time (the one path every command
    /// takes for an invalid config or `CI_FAKE_UTC`).
    pub fn report(&self, kind: &'static Kind, env: Option<&str>, version: Option<&str>) -> Report {
        let mut report = Report::new(
            kind,
            Target {
                env: env.map(str::to_string),
                version: version.map(str::to_string),
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

    /// The highest release tag below `version` that HEAD contains.
    pub fn previous_tag(&self, config: &Config, version: &str) -> Result<String, String> {
        let repo = self.repo.as_ref().map_err(|e| e.message.clone())?;
        let policy = config.policy_for(self.env.as_deref().unwrap_or_default());
        let release = policy.tag_format.release(version)?;
        crate::git::tags::highest_below(repo, &policy.tag_format, &release.version)?.ok_or_else(
            || {
                format!(
                    "no release tag below {} is reachable from HEAD",
                    release.tag
                )
            },
        )
    }
}
