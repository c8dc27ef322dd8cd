//! `rulewatch allow add|list|remove`: the destinations and rule names a tenant trusts.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{ArgGroup, Subcommand};
use rulewatch_core::app::TrustKind;
use rulewatch_core::shown::shown;

use crate::Global;

#[derive(Subcommand)]
pub(crate) enum AllowCommand {
    /// Trust a forwarding destination or a rule name for one tenant; matching alerts
    /// are stored as suppressed and never notified
    #[command(group(ArgGroup::new("what").required(true).args(["destination", "rule_name"])))]
    Add {
        /// The tenant id
        tenant_id: String,
        /// An address (accountant@partner.example) or a whole domain (partner.example)
        #[arg(long)]
        destination: Option<String>,
        /// A rule name; quiets deleting, moving or marking read, never forwarding outside
        #[arg(long)]
        rule_name: Option<String>,
        /// Why it is trusted, for whoever reads the list later
        #[arg(long)]
        note: Option<String>,
    },
    /// The entries, of every tenant or of one
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
            destination,
            rule_name,
            note,
        } => {
            let (kind, value) = match (destination, rule_name) {
                (Some(d), None) => (TrustKind::Destination, d),
                (None, Some(n)) => (TrustKind::RuleName, n),
                _ => bail!("give either --destination or --rule-name"),
            };
            let e = session
                .trust(&tenant_id, kind, &value, note.as_deref())
                .await?;
            eprintln!(
                "Allowlist entry {} for tenant {}: {} {}. Alerts it covers from now on are stored as suppressed.",
                e.id,
                e.tenant_id,
                kind.as_str().replace('_', " "),
                shown(&e.value)
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
            for e in entries.iter().filter(|_| !json) {
                let note = e
                    .note
                    .as_deref()
                    .map(|n| format!(" — {}", shown(n)))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{}  {}  {} {}{note}",
                    e.id,
                    e.tenant_id,
                    e.kind.as_str().replace('_', " "),
                    shown(&e.value)
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
