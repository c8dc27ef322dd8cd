//! `rulewatch channel add|list|remove|retry`: where alerts go besides this terminal and
//! the desktop's notifications. Webhooks today.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use rulewatch_core::app::{Chat, Pass, Route, Session};
use rulewatch_core::detect::Severity;
use rulewatch_core::shown::shown;
use secrecy::SecretString;

use crate::Global;

#[derive(Subcommand)]
pub(crate) enum ChannelCommand {
    /// Add a channel; it receives the alerts found from now on
    #[command(subcommand)]
    Add(AddChannel),
    /// Every channel with its queue: alerts waiting, last delivery, last error
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a channel you added, with what waited for it and its secret
    Remove { name: String },
    /// Send a channel a signed test delivery ("event": "channel.test")
    Test { name: String },
    /// Deliver what waits now, without waiting for the retry backoff
    Retry,
}

#[derive(Subcommand)]
pub(crate) enum AddChannel {
    /// A POST of each incident change as JSON (schema rulewatch.incident/v1), signed
    /// with HMAC-SHA256 in X-Rulewatch-Signature, idempotency key in X-Rulewatch-Delivery
    Webhook {
        /// The channel's name, e.g. psa-bridge
        #[arg(long)]
        name: String,
        /// The receiver: https://, or http:// only on this machine
        #[arg(long)]
        url: String,
        /// Read the shared signing secret (16 characters or more) from standard input
        #[arg(long, required = true)]
        secret_stdin: bool,
        #[command(flatten)]
        route: RouteArgs,
    },
    /// A Microsoft Teams channel, through a Workflows webhook ("Send webhook alerts to a
    /// channel"): an Adaptive Card per incident change
    Teams(ChatArgs),
    /// A Slack channel, through an incoming webhook: a message per incident change
    Slack(ChatArgs),
}

/// A chat channel: its webhook URL is the credential, read from standard input.
#[derive(clap::Args)]
pub(crate) struct ChatArgs {
    /// The channel's name, e.g. soc-chat
    #[arg(long)]
    name: String,
    /// Read the webhook's URL from standard input (it is the credential: kept in the keychain)
    #[arg(long, required = true)]
    url_stdin: bool,
    #[command(flatten)]
    route: RouteArgs,
}

/// Which incidents a channel receives.
#[derive(clap::Args)]
pub(crate) struct RouteArgs {
    /// Only incidents at least this grave: low, medium, high or critical
    #[arg(long, value_parser = ["low", "medium", "high", "critical"])]
    min_severity: Option<String>,
    /// Only this tenant's incidents (repeat for several)
    #[arg(long = "tenant")]
    tenants: Vec<String>,
    /// Never this tenant's incidents (repeat for several)
    #[arg(long = "exclude-tenant")]
    exclude_tenants: Vec<String>,
}

impl RouteArgs {
    fn route(self) -> Route {
        Route {
            min_severity: self.min_severity.as_deref().and_then(Severity::parse),
            tenants: self.tenants,
            exclude_tenants: self.exclude_tenants,
        }
    }
}

pub(crate) async fn run(g: &Global, cmd: ChannelCommand) -> Result<ExitCode> {
    let session = g.session()?;
    match cmd {
        ChannelCommand::Add(AddChannel::Webhook {
            name, url, route, ..
        }) => {
            let mut secret = String::new();
            std::io::stdin()
                .read_to_string(&mut secret)
                .context("reading the webhook secret from standard input")?;
            session
                .add_webhook(&name, &url, SecretString::from(secret), route.route())
                .await?;
            eprintln!(
                "Channel {} added: each new alert's incident is posted to it, signed; the secret is in the keychain.",
                shown(&name)
            );
        }
        ChannelCommand::Add(AddChannel::Teams(chat)) => {
            add_chat(&session, Chat::Teams, chat).await?
        }
        ChannelCommand::Add(AddChannel::Slack(chat)) => {
            add_chat(&session, Chat::Slack, chat).await?
        }
        ChannelCommand::List { json } => {
            let health = session.channels().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&health)?);
            } else {
                crate::output::channels(&health)?;
            }
        }
        ChannelCommand::Test { name } => {
            session.test_channel(&name).await?;
            eprintln!("Channel {} took the test delivery.", shown(&name));
        }
        ChannelCommand::Remove { name } => {
            session.remove_channel(&name).await?;
            eprintln!("Channel {} removed.", shown(&name));
        }
        ChannelCommand::Retry => {
            let passes = session.deliver_to_channels(true).await?;
            report(&passes);
            if passes.iter().any(|p| p.error.is_some()) {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds a Teams or Slack channel with the URL read from standard input.
async fn add_chat(session: &Session, chat: Chat, args: ChatArgs) -> Result<()> {
    let (name, route) = (args.name, args.route.route());
    let mut url = String::new();
    std::io::stdin()
        .read_to_string(&mut url)
        .context("reading the webhook URL from standard input")?;
    session
        .add_chat(chat, &name, SecretString::from(url), route)
        .await?;
    eprintln!(
        "Channel {} added: each new alert's incident is posted to it; its URL is in the keychain.",
        shown(&name)
    );
    Ok(())
}

/// One line per channel on stderr: what it received, or why it stopped.
pub(crate) fn report(passes: &[Pass]) {
    for p in passes {
        match &p.error {
            None => eprintln!("channel {}: {} delivered", shown(&p.channel), p.delivered),
            Some(e) => eprintln!(
                "channel {}: {} delivered, then FAILED: {}; the rest wait for a retry",
                shown(&p.channel),
                p.delivered,
                shown(e)
            ),
        }
    }
}

/// Delivers to the added channels what is due; a failure is said, never fatal: the
/// alerts stay queued for the next scan.
pub(crate) async fn deliver(session: &Session) {
    match session.deliver_to_channels(false).await {
        Ok(passes) => report(&passes),
        Err(e) => eprintln!("the delivery channels could not be read: {e}"),
    }
}
