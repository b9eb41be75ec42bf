//! `init`: write a commented starter `release-sentinel.toml` that
//! validates as written, at the repository root (or `--path`).

use std::path::PathBuf;

use super::{Context, Done, Error};
use release_sentinel::config;
use release_sentinel::sanitize;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Where to write it [default: release-sentinel.toml at the
    /// repository root, else in the current directory]
    #[arg(long, value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Replace an existing file
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &Args, _cx: &Context<'_>) -> Result<Done, Error> {
    let path = args.path.clone().unwrap_or_else(|| {
        git2::Repository::discover(".")
            .ok()
            .and_then(|r| r.workdir().map(|w| w.join(config::FILE_NAME)))
            .unwrap_or_else(|| config::FILE_NAME.into())
    });
    let shown = sanitize::ascii(&path.display().to_string());
    if path.exists() && !args.force {
        return Err(Error::Refused(format!(
            "{shown} already exists; use --force to replace it"
        )));
    }
    release_sentinel::fsutil::write_atomic(&path, config::STARTER.as_bytes()).map_err(
        |source| Error::Write {
            what: shown.clone(),
            source,
        },
    )?;
    // A file elsewhere than the root is only read when named.
    let config = match &args.path {
        None => String::new(),
        Some(_) => format!(" --config {}", shell_word(&shown)),
    };
    Ok(Done::Text(
        format!(
            "wrote {shown}\nnext: edit it, then run: release-sentinel --env dev --version v0.1.0{config}\n"
        )
        .into_bytes(),
    ))
}

/// `s` as one shell word: as is when plain, else single-quoted.
fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
