//! `man`: the man page (roff), generated from the command line's
//! definition.

use clap::CommandFactory;

use super::{Context, Done, Error};
use crate::cli::{Cli, OutputArgs};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {}

pub fn output(_: &Args) -> Option<&OutputArgs> {
    None
}

pub fn run(_: &Args, _cx: &Context<'_>) -> Result<Done, Error> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(|source| Error::Write {
            what: "the man page".to_string(),
            source,
        })?;
    Ok(Done::Text(buf))
}
