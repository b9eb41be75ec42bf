//! `man [COMMAND]`: the man page (roff), generated from the command
//! line's definition: `release-sentinel(1)`, or `release-sentinel-<command>(1)`,
//! the pages the main page's list of commands refers to.

use clap::CommandFactory;

use super::{Context, Done, Error};
use crate::cli::Cli;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The page of one command (release-sentinel-<COMMAND>(1)) instead of
    /// the main page
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

pub fn run(args: &Args, _cx: &Context<'_>) -> Result<Done, Error> {
    let main = Cli::command();
    let page = match &args.command {
        None => main,
        Some(name) => {
            let visible: Vec<String> = main
                .get_subcommands()
                .filter(|c| !c.is_hide_set())
                .map(|c| c.get_name().to_string())
                .collect();
            let Some(sub) = main
                .find_subcommand(name)
                .filter(|c| !c.is_hide_set())
                .cloned()
            else {
                return Err(Error::Refused(format!(
                    "{} is not a command; the pages are: {}",
                    release_sentinel::sanitize::quoted(name),
                    visible.join(", ")
                )));
            };
            sub.name(format!("release-sentinel-{name}"))
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut buf)
        .map_err(|source| Error::Write {
            what: "the man page".to_string(),
            source,
        })?;
    Ok(Done::Text(buf))
}
