//! `rulewatch allow add|list|remove`: the destinations, inbox rule names, applications
//! and rules an MSP trusts, with their scope, expiry and reason.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{ArgGroup, Subcommand};
use rulewatch_core::app::{TrustKind, TrustRequest, clock};
use rulewatch_core::shown::shown;

use crate::Global;

#[derive(Subcommand)]
pub(crate) enum AllowCommand {
    /// Trust a forwarding destination, an inbox rule name, an application or a whole
    /// rule, for one tenant or every tenant, one account or all, until removed or until
    /// it expires; matching alerts are stored as suppressed and never notified
    #[command(group(ArgGroup::new("what").required(true).args(["destination", "rule_name", "app", "rule"])))]
    #[command(group(ArgGroup::new("scope").required(true).args(["tenant_id", "all_tenants"])))]
    Add {
        /// The tenant id
        tenant_id: Option<String>,
        /// For every tenant, instead of one
        #[arg(long)]
        all_tenants: bool,
        /// An address (accountant@partner.example) or a whole domain (partner.example)
        #[arg(long)]
        destination: Option<String>,
        /// An inbox rule's name; quiets deleting, moving or marking read, never forwarding outside
        #[arg(long)]
        rule_name: Option<String>,
        /// An application's id (a GUID, never its name, which anyone can copy); quiets consent to it
        #[arg(long, value_name = "APP_ID")]
        app: Option<String>,
        /// One of Rulewatch's rules (`rulewatch rules list`); quiets all its alerts in the
        /// entry's scope, except rules about mail leaving the organisation
        #[arg(long, value_name = "RULE_ID")]
        rule: Option<String>,
        /// Only alerts about this account (the mailbox or user changed)
        #[arg(long, visible_alias = "user", value_name = "ADDRESS")]
        account: Option<String>,
        /// Why it is safe, for whoever reads the list later
        #[arg(long, alias = "note")]
        reason: String,
        /// When it stops quieting anything: a date (2027-01-31, the end of that day, UTC),
        /// a time (2027-01-31T18:00:00Z) or a span from now (12h, 30d, 2w)
        #[arg(long, value_name = "WHEN")]
        expires: Option<String>,
    },
    /// The entries, of every tenant or those that apply to one, expired ones marked
    List {
        #[arg(long)]
        tenant_id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove an entry by its number (alerts it suppressed stay suppressed)
    Remove { id: i64 },
}

pub(crate) async fn run(g: &Global, cmd: AllowCommand) -> Result<ExitCode> {
    let session = g.session()?;
    match cmd {
        AllowCommand::Add {
            tenant_id,
            all_tenants: _,
            destination,
            rule_name,
            app,
            rule,
            account,
            reason,
            expires,
        } => {
            let (kind, value) = match (destination, rule_name, app, rule) {
                (Some(d), None, None, None) => (TrustKind::Destination, d),
                (None, Some(n), None, None) => (TrustKind::RuleName, n),
                (None, None, Some(a), None) => (TrustKind::Application, a),
                (None, None, None, Some(r)) => (TrustKind::Rule, r),
                _ => bail!("give one of --destination, --rule-name, --app or --rule"),
            };
            let e = session
                .trust(&TrustRequest {
                    tenant_id,
                    account,
                    kind,
                    value,
                    reason,
                    expires,
                })
                .await?;
            eprintln!(
                "Allowlist entry {}: {} {} ({}). Alerts it covers from now on are stored as suppressed.",
                e.id,
                kind.as_str().replace('_', " "),
                shown(&e.value),
                shown(&e.scope())
            );
        }
        AllowCommand::List { tenant_id, json } => {
            let entries = session.trusted(tenant_id.as_deref()).await?;
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &entries)?;
                writeln!(out)?;
            } else if entries.is_empty() {
                writeln!(
                    out,
                    "The allowlist is empty. Add to it with `rulewatch allow add`."
                )?;
            }
            let now = clock::now();
            for e in entries.iter().filter(|_| !json) {
                let reason = e
                    .reason
                    .as_deref()
                    .map(|n| format!(" — {}", shown(n)))
                    .unwrap_or_default();
                let by = e
                    .added_by
                    .as_deref()
                    .map(|b| format!(" (added by {})", shown(b)))
                    .unwrap_or_default();
                let expired = if e.active(now) { "" } else { "EXPIRED  " };
                writeln!(
                    out,
                    "{}  {expired}{} {}  [{}]{reason}{by}",
                    e.id,
                    e.kind.as_str().replace('_', " "),
                    shown(&e.value),
                    shown(&e.scope())
                )?;
            }
        }
        AllowCommand::Remove { id } => {
            let e = session.untrust(id).await?;
            eprintln!(
                "Removed allowlist entry {} ({} {}).",
                e.id,
                e.kind.as_str().replace('_', " "),
                shown(&e.value)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
