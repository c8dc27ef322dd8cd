//! `rulewatch`: Rulewatch's engine without a window.

mod allow;
mod check;
mod demo;
mod geo;
mod output;
mod partner;
mod remediate;
mod scan;
mod sign_ins;
mod tenant;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Parser, Subcommand};
use rulewatch_core::cloud::{Cloud, Endpoints};
use rulewatch_core::engine::{BACKFILL_HOURS, EngineConfig};
use rulewatch_core::secrets::{SecretStore, keychain_for};
use rulewatch_core::store::Store;

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
    #[arg(long, env = "RULEWATCH_BACKFILL_HOURS", global = true, default_value_t = 24,
          value_parser = clap::value_parser!(u16).range(
              i64::from(*BACKFILL_HOURS.start())..=i64::from(*BACKFILL_HOURS.end())))]
    backfill_hours: u16,
    /// Tenants scanned at once
    #[arg(long, env = "RULEWATCH_CONCURRENCY", global = true, default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// Hours between listings of the partner's customers (0: before every scan)
    #[arg(long, env = "RULEWATCH_DISCOVERY_HOURS", global = true, default_value_t = 24,
          value_parser = clap::value_parser!(u16).range(0..=168))]
    discovery_hours: u16,
    /// Seconds to wait before each further read-back of a remediation change that does not
    /// show yet, comma-separated [default: 1,2,4,8]
    #[arg(long, env = "RULEWATCH_VERIFY_DELAYS", global = true)]
    verify_delays: Option<String>,
    /// Seconds to wait after throttling that names no wait [default: 61, to outlast a
    /// per-minute quota]; tests shorten it
    #[arg(long, env = "RULEWATCH_THROTTLE_WAIT_SECS", global = true, hide = true,
          value_parser = clap::value_parser!(u16).range(1..=600))]
    throttle_wait_secs: Option<u16>,
    /// More detail on stderr (-v: retries and progress, -vv: debugging)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
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
    /// Whether scans read Entra sign-ins, to tell changes made from somewhere new
    #[command(subcommand)]
    SignIns(sign_ins::SignInsCommand),
    /// Partner sign-in (GDAP): sign in once with MFA and watch every customer
    #[command(subcommand)]
    Partner(partner::PartnerCommand),
    /// Trusted forwarding destinations and rule names, per tenant
    #[command(subcommand)]
    Allow(allow::AllowCommand),
    /// Every stored alert, newest first
    Alerts {
        #[arg(long)]
        json: bool,
    },
    /// Each tenant's state, last successful scan and how far its data is complete
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
        /// The organisation's domains, comma-separated [default: assumed from the records]
        #[arg(long)]
        accepted_domains: Option<String>,
        /// One JSON object per alert per line
        #[arg(long)]
        json: bool,
    },
}

impl Global {
    fn data_dir(&self) -> Result<PathBuf> {
        match &self.data_dir {
            Some(d) => Ok(d.clone()),
            None => rulewatch_core::default_data_dir().ok_or_else(|| {
                anyhow!("no home folder found for the database; give one with --data-dir")
            }),
        }
    }

    fn store(&self) -> Result<Arc<Store>> {
        Ok(Arc::new(Store::open(&self.data_dir()?)?.sign_record_with(
            Arc::new(rulewatch_core::secrets::Keychain),
        )))
    }

    /// The keychain, withholding its secrets from an untrusted override on another machine.
    fn keychain(&self) -> Arc<dyn SecretStore> {
        keychain_for(self.endpoints.as_deref(), self.trust_endpoints)
    }

    fn endpoints(&self) -> Result<Endpoints> {
        if let Some(url) = &self.endpoints {
            return Endpoints::single(url).map_err(|e| anyhow!(e));
        }
        Ok(Endpoints::for_cloud(self.cloud()?.unwrap_or(Cloud::Global)))
    }

    fn cloud(&self) -> Result<Option<Cloud>> {
        self.cloud
            .as_deref()
            .map(|c| c.parse().map_err(|e: String| anyhow!(e)))
            .transpose()
    }

    fn engine_config(&self) -> Result<EngineConfig> {
        let mut config = EngineConfig::new(self.endpoints()?);
        if let Some(p) = &self.publisher_id {
            config.publisher_id = Some(rulewatch_core::tenants::parse_guid(p, "--publisher-id")?);
        }
        config.backfill = chrono::Duration::hours(self.backfill_hours.into());
        config.concurrency = self.concurrency.into();
        config.discovery_every = chrono::Duration::hours(self.discovery_hours.into());
        if let Some(delays) = &self.verify_delays {
            config.verify_delays = parse_delays(delays)?;
        }
        if let Some(secs) = self.throttle_wait_secs {
            config.retry.throttle_floor = std::time::Duration::from_secs(secs.into());
        }
        Ok(config)
    }
}

/// `--verify-delays`: seconds, comma-separated, each from 0 to 60.
fn parse_delays(text: &str) -> Result<Vec<std::time::Duration>> {
    text.split(',')
        .map(|d| {
            d.trim()
                .parse::<f64>()
                .ok()
                .filter(|s| (0.0..=60.0).contains(s))
                .map(std::time::Duration::from_secs_f64)
                .ok_or_else(|| anyhow!("--verify-delays: '{}' is not a number of seconds from 0 to 60; write e.g. 1,2,4,8", d.trim()))
        })
        .collect()
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
        .then(|| cli.global.data_dir().ok())
        .flatten();
    rulewatch_core::logging::init(level, data_dir.as_deref());
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    if let Some(url) = &cli.global.endpoints {
        eprintln!(
            "warning: RULEWATCH_ENDPOINTS (--endpoints) is set: Rulewatch is not talking to Microsoft; every call goes to {}",
            rulewatch_core::cloud::override_host(url)
        );
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
            // Errors carry Microsoft's texts and names from audit records: each line shown safely.
            let text = format!("{e:#}");
            let lines: Vec<String> = text.lines().map(rulewatch_core::shown::shown).collect();
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
        Command::Allow(cmd) => allow::run(g, cmd),
        Command::Partner(cmd) => partner::run(g, cmd).await,
        Command::SignIns(cmd) => sign_ins::run(g, cmd),
        Command::Alerts { json } => {
            let store = g.store()?;
            let alerts = store.alerts().context("reading the alerts")?;
            output::alerts(&alerts, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { json } => {
            let store = g.store()?;
            output::statuses(
                &store.statuses().context("reading the tenants' status")?,
                json,
            )?;
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
        Command::Report { alert_id, dir } => remediate::report(g, alert_id, &dir),
        Command::Audit { command, json } => remediate::audit(g, command, json),
        Command::Check {
            files,
            accepted_domains,
            json,
        } => check::run(&files, accepted_domains.as_deref(), json),
    }
}
