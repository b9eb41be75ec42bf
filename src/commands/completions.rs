//! `completions <SHELL>`: a shell completion script, generated from the
//! command line's definition.

use clap::CommandFactory;

use super::{Context, Done, Error};
use crate::cli::Cli;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The shell
    pub shell: clap_complete::Shell,
}

pub fn run(args: &Args, _cx: &Context<'_>) -> Result<Done, Error> {
    let mut buf = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "release-sentinel",
        &mut buf,
    );
    Ok(Done::Text(buf))
}
