//! `rulewatch`: Rulewatch's engine without a window.

mod alerts;
mod allow;
mod channel;
mod check;
mod demo;
mod geo;
mod output;
mod partner;
mod progress;
mod remediate;
mod rules;
mod scan;
mod sign_ins;
mod team;
mod tenant;
mod watch;

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use rulewatch_core::app::{
    BACKFILL_HOURS, CONCURRENCY, Config, DISCOVERY_HOURS, Remedy, Session, THROTTLE_WAIT_SECS, Var,
};
use rulewatch_core::shown::shown;

/// Watches the Microsoft 365 audit log of every client tenant for inbox rules and
/// forwarding that leak or hide mail.
#[derive(Parser)]
#[command(name = "rulewatch", version)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Where the database lives [default: the platform's data folder]
    #[arg(long, env = "RULEWATCH_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// One base URL serving every Microsoft endpoint (the sandbox)
    #[arg(long, env = "RULEWATCH_ENDPOINTS", global = true)]
    endpoints: Option<String>,
    /// Send the keychain's secrets to an --endpoints URL on another machine
    #[arg(long, env = "RULEWATCH_TRUST_ENDPOINTS", global = true)]
    trust_endpoints: bool,
    /// Microsoft cloud: global, gcc, gcchigh or dod. With `tenant add`, the tenant's own
    /// instead of asking Microsoft; otherwise the cloud of tenants with none recorded
    /// (with --endpoints, every cloud is served from that one URL)
    #[arg(long, env = "RULEWATCH_CLOUD", global = true)]
    cloud: Option<String>,
    /// Your MSP's own tenant id, sent as PublisherIdentifier [default: each tenant's id]
    #[arg(long, env = "RULEWATCH_PUBLISHER_ID", global = true)]
    publisher_id: Option<String>,
    /// Hours of audit history a tenant's first scan reads (1 to 167)
    /// [default: the panel's setting, else 24]
    #[arg(long, env = "RULEWATCH_BACKFILL_HOURS", global = true,
          value_parser = clap::value_parser!(u16).range(
              i64::from(*BACKFILL_HOURS.start())..=i64::from(*BACKFILL_HOURS.end())))]
    backfill_hours: Option<u16>,
    /// The most tenants scanned at once; fewer while Microsoft throttles [default: 32]
    #[arg(long, env = "RULEWATCH_CONCURRENCY", global = true,
          value_parser = clap::value_parser!(u16).range(
              i64::from(*CONCURRENCY.start())..=i64::from(*CONCURRENCY.end())))]
    concurrency: Option<u16>,
    /// Hours between listings of the partner's customers (0: before every scan) [default: 24]
    #[arg(long, env = "RULEWATCH_DISCOVERY_HOURS", global = true,
          value_parser = clap::value_parser!(u16).range(
              i64::from(*DISCOVERY_HOURS.start())..=i64::from(*DISCOVERY_HOURS.end())))]
    discovery_hours: Option<u16>,
    /// Seconds to wait before each further read-back of a remediation change that does not
    /// show yet, comma-separated [default: 1,2,4,8]
    #[arg(long, env = "RULEWATCH_VERIFY_DELAYS", global = true)]
    verify_delays: Option<String>,
    /// Seconds to wait after throttling that names no wait [default: 61, to outlast a
    /// per-minute quota]; tests shorten it
    #[arg(long, env = "RULEWATCH_THROTTLE_WAIT_SECS", global = true, hide = true,
          value_parser = clap::value_parser!(u16).range(
              i64::from(*THROTTLE_WAIT_SECS.start())..=i64::from(*THROTTLE_WAIT_SECS.end())))]
    throttle_wait_secs: Option<u16>,
    /// Your name in alerts' history, as colleagues see it [default: your login name]
    #[arg(long, env = "RULEWATCH_TECHNICIAN", global = true)]
    technician: Option<String>,
    /// More detail on stderr (-v: retries and progress, -vv: debugging)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

/// Everything on standard input, where secrets are piped in (never on the command line,
/// where other users' `ps` would see them); `what` names it in the error.
pub(crate) fn read_stdin(what: &str) -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("reading {what} from standard input"))?;
    Ok(text)
}

/// What can be done to an incident.
#[derive(Subcommand)]
enum IncidentAction {
    /// Resolve an incident: a later alert about the mailbox opens a new one, and the
    /// channels told of it hear it is resolved (a PSA ticket gets a closing note)
    Resolve {
        /// The incident's key, from `rulewatch incidents`
        key: String,
        /// What was done, for the record and the channels
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Add, list or remove client tenants
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Scan every tenant once now; new alerts go to stdout
    Scan {
        /// One JSON object per new alert per line
        #[arg(long)]
        json: bool,
    },
    /// Scan at once and then at the interval, print new alerts, deliver to the channels;
    /// stops on SIGTERM or Ctrl-C (for a server covering the nights)
    Watch {
        /// Minutes between scans; the panel's setting when not given
        #[arg(long)]
        every: Option<u32>,
        /// One JSON object per new alert per line
        #[arg(long)]
        json: bool,
    },
    /// Whether scans read Entra sign-ins, to tell changes made from somewhere new
    #[command(subcommand)]
    SignIns(sign_ins::SignInsCommand),
    /// Share one PostgreSQL database with the rest of the service desk
    #[command(subcommand)]
    Team(team::TeamCommand),
    /// Partner sign-in (GDAP): sign in once with MFA and watch every customer
    #[command(subcommand)]
    Partner(partner::PartnerCommand),
    /// Trusted forwarding destinations and rule names, per tenant
    #[command(subcommand)]
    Allow(allow::AllowCommand),
    /// The detection rules, and the severity their alerts get per tenant
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Where alerts go besides this terminal and the desktop: webhooks
    #[command(subcommand)]
    Channel(channel::ChannelCommand),
    /// The stored alerts, newest first (filtered), and the desk's triage: take, release,
    /// ack, resolve, fp, note, history
    Alerts(alerts::AlertsArgs),
    /// Alerts grouped by incident: one mailbox's alerts within a day (a fan-in's, one
    /// outside address's), the most recently active first
    Incidents {
        #[arg(long)]
        json: bool,
        /// Only incidents active since: hours or days ago (24h, 7d), a date (2026-12-01)
        /// or a time (2026-12-01T08:00:00Z)
        #[arg(long)]
        since: Option<String>,
        #[command(subcommand)]
        action: Option<IncidentAction>,
    },
    /// Each tenant's state, last successful scan and how far its data is complete, and
    /// each delivery channel's queue
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Where alerts' addresses are located: ipstack, offline databases, or off
    #[command(subcommand)]
    Geo(geo::GeoCommand),
    /// Watch planted attacks arrive from a built-in sandbox tenant (nothing to configure)
    Demo,
    /// Secure and Remediate an alert's mailbox: shows the plan with the live state, asks,
    /// then runs each step and verifies it (exit 4 when a step failed)
    Remediate {
        alert_id: i64,
        /// Comma-separated: block-sign-in, revoke-sessions, reset-password, disable-rule,
        /// remove-rule, clear-forwarding [default: the checked steps of the plan]
        #[arg(long, value_delimiter = ',')]
        actions: Option<Vec<String>>,
        /// Also block, revoke and reset the account that made the change, when it is another
        #[arg(long)]
        contain_actor: bool,
        /// Do not ask
        #[arg(long)]
        yes: bool,
        /// One JSON object per step per line (the plan and question go to stderr)
        #[arg(long)]
        json: bool,
    },
    /// Reverse one recorded remediation step (its id is in the output and in `audit`)
    Undo {
        action_id: i64,
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write an alert's HTML incident report for the customer (what happened, the
    /// evidence, what was done); prints the file's path
    Report {
        alert_id: i64,
        /// The folder to write it in
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// The hash-chained record of every remediation step: list, verify, export
    Audit {
        #[command(subcommand)]
        command: Option<remediate::AuditCommand>,
        #[arg(long)]
        json: bool,
    },
    /// Run detection over exported audit records (JSON array, JSON lines or a CSV with
    /// an AuditData column); exit 1 when some records could not be read
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The organisation's domains, comma-separated [default: the --tenant's as last
        /// read, else assumed from the records]
        #[arg(long)]
        accepted_domains: Option<String>,
        /// Replay with this configured tenant's settings: its allowlist and rule
        /// severities as they stand now, to preview what would have alerted
        #[arg(long, value_name = "TENANT_ID")]
        tenant: Option<String>,
        /// One JSON object per alert per line
        #[arg(long)]
        json: bool,
    },
}

impl Global {
    /// The configuration, checked by core as the desktop's is: each value from its flag,
    /// which clap fills from the environment variable of the same name when not given.
    fn config(&self) -> Result<Config> {
        self.config_in(self.data_dir.clone())
    }

    /// The demo's: it keeps nothing in the data folder, so it runs without one.
    fn demo_config(&self) -> Result<Config> {
        self.config_in(self.data_dir.clone().or_else(|| Some(std::env::temp_dir())))
    }

    fn config_in(&self, data_dir: Option<PathBuf>) -> Result<Config> {
        let number = |n: Option<u16>| n.map(|n| OsString::from(n.to_string()));
        let text = |t: &Option<String>| t.as_ref().map(OsString::from);
        Ok(Config::read(|var| match var {
            Var::DataDir => data_dir.as_ref().map(OsString::from),
            Var::Endpoints => text(&self.endpoints),
            Var::TrustEndpoints => self.trust_endpoints.then(|| "1".into()),
            Var::Cloud => text(&self.cloud),
            Var::PublisherId => text(&self.publisher_id),
            Var::BackfillHours => number(self.backfill_hours),
            Var::Concurrency => number(self.concurrency),
            Var::DiscoveryHours => number(self.discovery_hours),
            Var::VerifyDelays => text(&self.verify_delays),
            Var::ThrottleWaitSecs => number(self.throttle_wait_secs),
            Var::Technician => text(&self.technician),
        })?)
    }

    /// The session over the technician's own store.
    fn session(&self) -> Result<Session> {
        Ok(Session::open(self.config()?)?)
    }
}

/// The command that gets past a refusal: core says what to do, the CLI names how.
pub(crate) fn hint(remedy: &Remedy) -> String {
    match remedy {
        Remedy::AddTenantAgain { tenant_id } => format!(
            " (`rulewatch tenant remove {}`, then `rulewatch tenant add`)",
            shown(tenant_id)
        ),
        Remedy::RemoveTenantFirst { tenant_id } => {
            format!(" (`rulewatch tenant remove {}`)", shown(tenant_id))
        }
        Remedy::SignInPartner => " (`rulewatch partner login`)".into(),
        Remedy::GiveIpstackKey => {
            " (`rulewatch geo ipstack`, which reads the key from standard input)".into()
        }
        Remedy::SetAgain { key } if key.starts_with("geo.") => {
            " (`rulewatch geo off`, then choose a provider)".into()
        }
        Remedy::SetAgain { .. } => String::new(),
        Remedy::ListTenants => "; `rulewatch tenant list` shows the configured ones".into(),
        Remedy::ListCustomers => "; `rulewatch partner customers` lists them".into(),
        Remedy::ListAllowlist => "; `rulewatch allow list` shows the entries".into(),
        Remedy::ListSteps => "; `rulewatch audit` lists the recorded steps".into(),
        Remedy::VerifyRecord => " (`rulewatch audit verify`)".into(),
        Remedy::TakeOver { id } => format!(" (`rulewatch alerts take {id} --force`)"),
        Remedy::AdoptRecordKey => {
            " (on that colleague's workstation, `rulewatch team record-key`; then here, \
             `rulewatch team record-key --adopt` with the key on standard input)"
                .into()
        }
    }
}

/// Diagnostics on stderr at the `-v` level; a scan (the command run on a schedule)
/// also writes them to the daily log file in the data folder.
fn init_logging(cli: &Cli) {
    let level = match cli.global.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let data_dir = matches!(cli.command, Command::Scan { .. })
        .then(|| cli.global.config().ok())
        .flatten()
        .map(|c| c.data_dir);
    rulewatch_core::app::start_logging(level, data_dir.as_deref());
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    if let Some(url) = &cli.global.endpoints {
        eprintln!(
            "warning: RULEWATCH_ENDPOINTS (--endpoints) is set: Rulewatch is not talking to Microsoft; every call goes to {}",
            rulewatch_core::app::override_host(url)
        );
    }
    match rulewatch_core::app::clock::init_from_env() {
        Ok(None) => {}
        Ok(Some(speed)) => eprintln!(
            "warning: {} is set: Rulewatch's clock runs {speed} times as fast as the wall clock",
            rulewatch_core::app::clock::ENV
        ),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            let hint = e
                .downcast_ref::<rulewatch_core::app::Error>()
                .and_then(|e| e.remedy())
                .map(|r| hint(&r))
                .unwrap_or_default();
            // Errors carry Microsoft's texts and names from audit records: each line shown safely.
            let text = format!("{e:#}{hint}");
            let lines: Vec<String> = text.lines().map(shown).collect();
            eprintln!("error: {}", lines.join("\n"));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        Command::Tenant(cmd) => tenant::run(g, cmd).await,
        Command::Scan { json } => scan::scan(g, json).await,
        Command::Watch { every, json } => watch::run(g, every, json).await,
        Command::Allow(cmd) => allow::run(g, cmd).await,
        Command::Channel(cmd) => channel::run(g, cmd).await,
        Command::Partner(cmd) => partner::run(g, cmd).await,
        Command::SignIns(cmd) => sign_ins::run(g, cmd),
        Command::Rules(cmd) => rules::run(g, cmd).await,
        Command::Team(cmd) => team::run(g, cmd).await,
        Command::Alerts(args) => alerts::run(g, args).await,
        Command::Incidents {
            action: Some(IncidentAction::Resolve { key, note }),
            ..
        } => {
            let incident = g.session()?.resolve_incident(&key, note.as_deref()).await?;
            eprintln!(
                "Incident {} resolved: {}. The channels told of it hear so at their next delivery.",
                incident.key,
                shown(&incident.title)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Incidents { json, since, .. } => {
            let since = since.as_deref().map(alerts::since).transpose()?;
            let incidents = g
                .session()?
                .incidents(since)
                .await
                .context("reading the incidents")?;
            output::incidents(&incidents, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { json } => {
            let session = g.session()?;
            let statuses = session.statuses().await;
            output::statuses(&statuses.context("reading the tenants' status")?, json)?;
            if !json {
                let channels = session.channels().await;
                output::channels(&channels.context("reading the delivery queues")?)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Geo(cmd) => geo::run(g, cmd).await,
        Command::Demo => demo::run(g).await,
        Command::Remediate {
            alert_id,
            actions,
            contain_actor,
            yes,
            json,
        } => remediate::remediate(g, alert_id, actions, contain_actor, yes, json).await,
        Command::Undo {
            action_id,
            yes,
            json,
        } => remediate::undo(g, action_id, yes, json).await,
        Command::Report { alert_id, dir } => remediate::report(g, alert_id, &dir).await,
        Command::Audit { command, json } => remediate::audit(g, command, json).await,
        Command::Check {
            files,
            accepted_domains,
            tenant,
            json,
        } => {
            let settings = match tenant {
                Some(t) => Some(g.session()?.tenant_tuning(&t).await?),
                None => None,
            };
            check::run(&files, accepted_domains.as_deref(), settings.as_ref(), json)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_command_line_is_well_formed() {
        // Clap checks option clashes (two `--tenant`s in one command) only when that
        // command is parsed; this checks every command at once.
        super::Cli::command().debug_assert();
    }
}
