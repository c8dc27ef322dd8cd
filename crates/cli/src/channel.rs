//! `rulewatch channel add|list|remove|retry`: where alerts go besides this terminal and
//! the desktop's notifications: webhooks, Teams, Slack, e-mail and PSA tickets.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use std::collections::BTreeMap;

use rulewatch_core::app::{
    Chat, EmailConfig, Pass, PsaAccount, PsaConfig, QuietHours, Route, Security, Session,
};
use rulewatch_core::detect::Severity;
use rulewatch_core::shown::shown;
use secrecy::SecretString;

use crate::Global;

#[derive(Subcommand)]
pub(crate) enum ChannelCommand {
    /// Add a channel; it receives the alerts found from now on
    #[command(subcommand)]
    Add(Box<AddChannel>),
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
    /// A PSA channel's companies: each tenant's confirmed company and the one its name
    /// suggests
    Companies {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Confirm which PSA company a tenant's tickets go under
    Map {
        /// The PSA channel
        name: String,
        /// The tenant (with --company)
        #[arg(long, requires = "company", conflicts_with = "accept_suggestions")]
        tenant: Option<String>,
        /// The PSA company's id (with --tenant)
        #[arg(long, requires = "tenant")]
        company: Option<i64>,
        /// Confirm every suggestion `rulewatch channel companies` shows for an unmapped tenant
        #[arg(long)]
        accept_suggestions: bool,
    },
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
    /// E-mail through an SMTP relay: a message per incident change (threaded per
    /// incident), or one digest a day
    Email(EmailArgs),
    /// ConnectWise PSA (Manage REST): a ticket per incident, a note per later alert;
    /// the private key is read from standard input
    Connectwise {
        /// The site, e.g. https://api-na.myconnectwise.net
        #[arg(long)]
        site: String,
        /// The company id you sign in to ConnectWise with
        #[arg(long)]
        company_id: String,
        /// The API member's public key
        #[arg(long)]
        public_key: String,
        /// Your integration's clientId (developer.connectwise.com/ClientID)
        #[arg(long)]
        client_id: String,
        /// The service board's id
        #[arg(long)]
        board: i64,
        #[command(flatten)]
        ticket: PsaArgs,
    },
    /// Autotask: a ticket per incident, a note per later alert; the API user's secret is
    /// read from standard input
    Autotask {
        /// Where the zone is looked up [default: https://webservices.autotask.net]
        #[arg(long, default_value = "https://webservices.autotask.net")]
        zone_url: String,
        /// The API-only user's name
        #[arg(long)]
        username: String,
        /// The API integration code (tracking identifier)
        #[arg(long)]
        integration_code: String,
        /// The queue's id
        #[arg(long)]
        queue: i64,
        /// A new ticket's status [default: 1, New]
        #[arg(long)]
        status: Option<i64>,
        /// The note type for notes (picklist value)
        #[arg(long)]
        note_type: i64,
        /// The publish setting for notes (picklist value)
        #[arg(long)]
        note_publish: i64,
        #[command(flatten)]
        ticket: PsaArgs,
    },
    /// HaloPSA: a ticket per incident, an action per later alert; the client secret is
    /// read from standard input
    Halo {
        /// Your Halo address, e.g. https://msp.halopsa.com
        #[arg(long)]
        url: String,
        /// The API application's client id (client credentials, permission "all")
        #[arg(long)]
        client_id: String,
        /// The Halo tenant's name, for hosted Halo (not a Microsoft tenant)
        #[arg(long = "halo-tenant")]
        tenant: Option<String>,
        /// The team's id
        #[arg(long)]
        team: i64,
        /// The outcome id for actions (notes)
        #[arg(long)]
        note_outcome: i64,
        #[command(flatten)]
        ticket: PsaArgs,
    },
}

/// What every PSA channel needs: its name, where tickets go, their priority and type.
#[derive(clap::Args)]
pub(crate) struct PsaArgs {
    /// The channel's name, e.g. psa
    #[arg(long)]
    name: String,
    /// The company a tenant without a confirmed one files under (its id)
    #[arg(long)]
    default_company: i64,
    /// A severity's ticket priority id, e.g. critical=1 (repeat; a severity without one
    /// takes the nearest graver one's)
    #[arg(long = "priority", required = true, value_parser = severity_priority)]
    priorities: Vec<(rulewatch_core::detect::Severity, i64)>,
    /// The ticket type's id
    #[arg(long)]
    ticket_type: Option<i64>,
    #[command(flatten)]
    route: RouteArgs,
}

fn severity_priority(s: &str) -> Result<(Severity, i64), String> {
    let bad = || format!("'{s}' is not SEVERITY=ID, such as critical=1");
    let (sev, id) = s.split_once('=').ok_or_else(bad)?;
    Ok((
        Severity::parse(sev.trim()).ok_or_else(bad)?,
        id.trim().parse().map_err(|_| bad())?,
    ))
}

/// An e-mail channel: the relay, the addresses, and how often.
#[derive(clap::Args)]
pub(crate) struct EmailArgs {
    /// The channel's name, e.g. soc-mail
    #[arg(long)]
    name: String,
    /// The SMTP relay, e.g. smtp.office365.com
    #[arg(long)]
    smtp_host: String,
    /// The relay's port [default: 587 with starttls, 465 with tls, 25 with none]
    #[arg(long)]
    port: Option<u16>,
    /// starttls, tls (SMTPS), or none (only to a relay on this machine)
    #[arg(long, default_value = "starttls", value_parser = ["starttls", "tls", "none"])]
    security: String,
    /// The user name the relay signs in with
    #[arg(long, requires = "password_stdin")]
    username: Option<String>,
    /// Read the relay's password from standard input (it goes to the keychain)
    #[arg(long, requires = "username")]
    password_stdin: bool,
    /// The sender, e.g. "Rulewatch <alerts@msp.example>"
    #[arg(long)]
    from: String,
    /// A recipient (repeat for several)
    #[arg(long = "to", required = true)]
    to: Vec<String>,
    /// One digest a day at this local time (HH:MM) instead of a message per change
    #[arg(long)]
    digest_at: Option<String>,
    /// The certificate (PEM) of a CA that signed the relay's certificate, trusted
    /// besides the system's, for a relay with an in-house CA
    #[arg(long)]
    ca_file: Option<PathBuf>,
    #[command(flatten)]
    route: RouteArgs,
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
    /// Local hours when only critical incidents are sent, e.g. 22:00-07:00; the rest
    /// are sent when they end
    #[arg(long)]
    quiet_hours: Option<String>,
}

impl RouteArgs {
    fn route(self) -> Result<Route> {
        Ok(Route {
            min_severity: self.min_severity.as_deref().and_then(Severity::parse),
            tenants: self.tenants,
            exclude_tenants: self.exclude_tenants,
            quiet_hours: self
                .quiet_hours
                .as_deref()
                .map(QuietHours::parse)
                .transpose()?,
        })
    }
}

pub(crate) async fn run(g: &Global, cmd: ChannelCommand) -> Result<ExitCode> {
    let session = g.session()?;
    match cmd {
        ChannelCommand::Add(add) => add_channel(&session, *add).await?,
        ChannelCommand::Companies { name, json } => {
            let matches = session.psa_companies(&name).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&matches)?);
            } else {
                crate::output::companies(&matches)?;
            }
        }
        ChannelCommand::Map {
            name,
            tenant,
            company,
            accept_suggestions,
        } => {
            let pairs = match (tenant, company) {
                (Some(t), Some(c)) => vec![(t, c)],
                _ if accept_suggestions => session
                    .psa_companies(&name)
                    .await?
                    .into_iter()
                    .filter(|m| m.mapped.is_none())
                    .filter_map(|m| m.suggested.map(|c| (m.tenant_id, c.id)))
                    .collect(),
                _ => anyhow::bail!(
                    "say which company: --tenant ID --company ID, or --accept-suggestions"
                ),
            };
            session.map_companies(&name, pairs.clone()).await?;
            eprintln!(
                "{} tenant(s) confirmed in channel {}.",
                pairs.len(),
                shown(&name)
            );
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

/// Adds the channel `add` describes.
async fn add_channel(session: &Session, add: AddChannel) -> Result<()> {
    match add {
        AddChannel::Webhook {
            name, url, route, ..
        } => {
            let secret = crate::read_stdin("the webhook secret")?;
            session
                .add_webhook(&name, &url, SecretString::from(secret), route.route()?)
                .await?;
            eprintln!(
                "Channel {} added: each new alert's incident is posted to it, signed; the secret is in the keychain.",
                shown(&name)
            );
        }
        AddChannel::Teams(chat) => add_chat(session, Chat::Teams, chat).await?,
        AddChannel::Slack(chat) => add_chat(session, Chat::Slack, chat).await?,
        AddChannel::Email(args) => add_email(session, args).await?,
        AddChannel::Connectwise {
            site,
            company_id,
            public_key,
            client_id,
            board,
            ticket,
        } => {
            let account = PsaAccount::Connectwise {
                company_id,
                public_key,
                client_id,
            };
            add_psa(session, site, account, board, (None, None, None), ticket).await?
        }
        AddChannel::Autotask {
            zone_url,
            username,
            integration_code,
            queue,
            status,
            note_type,
            note_publish,
            ticket,
        } => {
            let account = PsaAccount::Autotask {
                username,
                integration_code,
            };
            let notes = (status, Some(note_type), Some(note_publish));
            add_psa(session, zone_url, account, queue, notes, ticket).await?
        }
        AddChannel::Halo {
            url,
            client_id,
            tenant,
            team,
            note_outcome,
            ticket,
        } => {
            let account = PsaAccount::Halo { client_id, tenant };
            let notes = (None, Some(note_outcome), None);
            add_psa(session, url, account, team, notes, ticket).await?
        }
    }
    Ok(())
}

/// Adds a Teams or Slack channel with the URL read from standard input.
async fn add_chat(session: &Session, chat: Chat, args: ChatArgs) -> Result<()> {
    let (name, route) = (args.name, args.route.route()?);
    let url = crate::read_stdin("the webhook URL")?;
    session
        .add_chat(chat, &name, SecretString::from(url), route)
        .await?;
    eprintln!(
        "Channel {} added: each new alert's incident is posted to it; its URL is in the keychain.",
        shown(&name)
    );
    Ok(())
}

/// Adds an e-mail channel, the password (when the relay signs in) read from standard input.
async fn add_email(session: &Session, args: EmailArgs) -> Result<()> {
    let security = Security::parse(&args.security).expect("clap allows only these");
    let digest_at = match args.digest_at.as_deref() {
        None => None,
        Some(t) => Some(
            chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| {
                anyhow::anyhow!(
                    "--digest-at '{}' is not a time of day; give the local time as HH:MM, such as 07:30",
                    shown(t)
                )
            })?,
        ),
    };
    let ca_pem = match &args.ca_file {
        None => None,
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
            format!(
                "reading the CA certificate {}",
                shown(&path.display().to_string())
            )
        })?),
    };
    let password = if args.password_stdin {
        let password = crate::read_stdin("the relay's password")?;
        Some(SecretString::from(
            password.trim_end_matches(['\r', '\n']).to_string(),
        ))
    } else {
        None
    };
    let config = EmailConfig {
        host: args.smtp_host.trim().to_string(),
        port: args.port.unwrap_or(security.default_port()),
        security,
        username: args.username,
        from: args.from,
        to: args.to,
        digest_at,
        ca_pem,
    };
    let mode = if digest_at.is_some() {
        "a digest of the day's incidents is mailed to it daily"
    } else {
        "each new alert's incident is mailed to it"
    };
    session
        .add_email(&args.name, config, password, args.route.route()?)
        .await?;
    eprintln!(
        "Channel {} added: {mode}. Send a test with `rulewatch channel test {}`.",
        shown(&args.name),
        shown(&args.name)
    );
    Ok(())
}

/// Adds a PSA channel, its secret read from standard input. `extra`: Autotask's status,
/// and the note kind and publish setting where the PSA needs them.
async fn add_psa(
    session: &Session,
    base_url: String,
    account: PsaAccount,
    board: i64,
    extra: (Option<i64>, Option<i64>, Option<i64>),
    args: PsaArgs,
) -> Result<()> {
    let secret = crate::read_stdin("the PSA's secret")?;
    let config = PsaConfig {
        base_url: base_url.trim().to_string(),
        account,
        default_company: args.default_company,
        companies: BTreeMap::new(),
        board,
        priorities: args.priorities.into_iter().collect(),
        ticket_type: args.ticket_type,
        status: extra.0,
        note_kind: extra.1,
        note_publish: extra.2,
    };
    session
        .add_psa(
            &args.name,
            config,
            SecretString::from(secret.trim().to_string()),
            args.route.route()?,
        )
        .await?;
    eprintln!(
        "Channel {} added: each incident opens a ticket, later alerts add notes. Confirm each tenant's company with `rulewatch channel companies {}` and `rulewatch channel map`; until then tickets go to the default company.",
        shown(&args.name),
        shown(&args.name)
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
