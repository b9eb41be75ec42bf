//! `bundle --version V`: the release bundle (see [`release_sentinel::bundle`]);
//! `bundle verify <ZIP>`: its check. Both exit 0 when all passed, 1
//! otherwise.

use std::path::PathBuf;

use super::{Context, Done, Error};
use crate::cli::{OutputArgs, SignersArgs, SourceArgs, VersionArg};
use release_sentinel::bundle;
use release_sentinel::bundle::KIND;

#[derive(Debug, Clone, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    mut_arg("release_version", |a| a.help("The release version: the bundle is <name>-v<version>.zip"))
)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,

    #[command(flatten)]
    pub release: VersionArg,

    /// Where to write it [default: bundle.out, artifacts/release]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Sign the bundle's .sha256 with this OpenSSH private key (or
    /// RS_SIGN_KEY; passphrase from RS_SIGN_PASSPHRASE): <zip>.sha256.sig,
    /// which `ssh-keygen -Y verify -n release-sentinel` checks
    #[arg(long, value_name = "PATH")]
    pub sign_key: Option<PathBuf>,

    #[command(flatten)]
    pub source: SourceArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// Check a bundle: its .sha256, its statement, every entry against
    /// MANIFEST.json; refuses unsafe names, links and bombs
    Verify {
        /// The bundle
        #[arg(value_name = "ZIP")]
        zip: PathBuf,
        #[command(flatten)]
        signers: SignersArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
}

pub fn output(args: &Args) -> Option<&OutputArgs> {
    match &args.action {
        Some(Action::Verify { output, .. }) => Some(output),
        None => Some(&args.output),
    }
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    if let Some(Action::Verify { zip, signers, .. }) = &args.action {
        let report = bundle::run::check(zip, signers.allowed_signers.as_deref(), cx.vars)
            .map_err(Error::Refused)?;
        return Ok(Done::Report(report));
    }
    let options = bundle::run::Options {
        version: args.release.release_version.clone().unwrap_or_default(),
        out: args.out.clone(),
        sign_key: args.sign_key.clone(),
    };
    let ws = args.source.open(None, cx);
    let mut report = ws.report(&KIND, None, Some(&options.version));
    bundle::run::release(&options, &ws, cx, &mut report).map_err(Error::Refused)?;
    Ok(Done::Report(report))
}
