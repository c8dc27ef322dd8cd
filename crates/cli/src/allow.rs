//! `rulewatch allow add|list|remove`: the destinations and rule names a tenant trusts.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{ArgGroup, Subcommand};
use rulewatch_core::allowlist::{TrustKind, normalize_destination, normalize_rule_name};
use rulewatch_core::detect::visible_text;
use rulewatch_core::tenants::parse_guid;

use crate::Global;

#[derive(Subcommand)]
pub enum AllowCommand {
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

pub fn run(g: &Global, cmd: AllowCommand) -> Result<ExitCode> {
    let store = g.store()?;
    match cmd {
        AllowCommand::Add {
            tenant_id,
            destination,
            rule_name,
            note,
        } => {
            let tenant_id = parse_guid(&tenant_id, "the tenant id")?;
            let (kind, value) = match (destination, rule_name) {
                (Some(d), None) => (TrustKind::Destination, normalize_destination(&d)?),
                (None, Some(n)) => (TrustKind::RuleName, normalize_rule_name(&n)?),
                _ => bail!("give either --destination or --rule-name"),
            };
            let e = store.add_trust(&tenant_id, kind, &value, note.as_deref())?;
            eprintln!(
                "Allowlist entry {} for tenant {}: {} {}. Alerts it covers from now on are stored as suppressed.",
                e.id,
                e.tenant_id,
                kind.as_str().replace('_', " "),
                visible_text(&e.value)
            );
        }
        AllowCommand::List { tenant_id, json } => {
            let tenant_id = tenant_id
                .map(|t| parse_guid(&t, "--tenant-id"))
                .transpose()?;
            let entries = store.trust_entries(tenant_id.as_deref())?;
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
                    .map(|n| format!(" — {}", visible_text(n)))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{}  {}  {} {}{note}",
                    e.id,
                    e.tenant_id,
                    e.kind.as_str().replace('_', " "),
                    visible_text(&e.value)
                )?;
            }
        }
        AllowCommand::Remove { id } => {
            let e = store.remove_trust(id)?;
            eprintln!(
                "Removed allowlist entry {} ({} {}).",
                e.id,
                e.kind.as_str().replace('_', " "),
                visible_text(&e.value)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
