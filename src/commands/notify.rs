//! `notify <EVENT>`: send one of the events a person announces (the go-live
//! playbook's deployment start, canary success, go-live complete and
//! rollback) to the targets of `[notify]`. Exit 0 when every target that
//! wants the event took it, 1 otherwise (and when none wants it: a message
//! nobody receives is not sent).

use super::{Context, Done, Error};
use crate::cli::Common;
use release_sentinel::http::Proxies;
use release_sentinel::notify;
use release_sentinel::notify::KIND;

/// The events a person sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Event {
    /// Deployment start (the playbook's message A)
    #[value(name = "deployment.started")]
    DeploymentStarted,
    /// Canary success (message B)
    #[value(name = "canary.succeeded")]
    CanarySucceeded,
    /// Go-live complete (message C)
    #[value(name = "golive.completed")]
    GoliveCompleted,
    /// Abort / rollback, with --reason and --previous-tag (message D)
    #[value(name = "rollback")]
    Rollback,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Event::DeploymentStarted => "deployment.started",
            Event::CanarySucceeded => "canary.succeeded",
            Event::GoliveCompleted => "golive.completed",
            Event::Rollback => "rollback",
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The event
    pub event: Event,

    #[command(flatten)]
    pub common: Common,

    /// Why ({reason}: what a rollback is due to)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// The release rolled back to ({previous_tag}) [default: the highest
    /// release tag below --version that HEAD contains]
    #[arg(long, value_name = "TAG")]
    pub previous_tag: Option<String>,

    /// Who decides ({owner}) [default: notify.owner]
    #[arg(long, value_name = "NAME")]
    pub owner: Option<String>,
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let ws = args.common.open(cx);
    let mut report = args.common.target.report(&ws, &KIND);
    let Ok(config) = &ws.config else {
        return Ok(Done::Report(report));
    };
    // The version goes into the message: parse it before anything is sent.
    super::release_version(config, &args.common.target)?;
    let event = args.event.name();
    if !config.notify.targets.iter().any(|t| t.wants(event)) {
        report.error = Some(format!(
            "no [notify] target wants {event}: add a [[notify.slack]] or [[notify.webhook]] target"
        ));
        return Ok(Done::Report(report));
    }
    let mut config = config.clone();
    if let Some(owner) = &args.owner {
        config.notify.owner = Some(owner.clone());
    }
    let previous = match &args.previous_tag {
        Some(t) => Some(t.clone()),
        None => ws.previous_tag(&config, args.common.target.version()).ok(),
    };
    let reason = args.reason.clone().unwrap_or_default();
    // A person's announcement has no verdict: `{verdict}` stays unfilled.
    let message = config
        .notify
        .message(&report.target, event, &reason, previous, &[]);
    report.rows = notify::deliver_all(&config.notify, &message, &Proxies::from_env(cx.vars), true);
    Ok(Done::Report(report))
}
