//! `rulewatch remediate`, `undo` and `audit`: Secure and Remediate from the terminal,
//! and the hash-chained record of every step.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::{Subcommand, ValueEnum};
use rulewatch_core::app::{
    CHAIN_DOES_NOT_PROVE, CHAIN_PROVES, ChainHead, LogEntry, Outcome, Plan, Session, StepResult,
};
use rulewatch_core::shown::shown;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::Global;

/// Exit status when a step failed (the others still ran).
pub(crate) const STEP_FAILED: u8 = 4;
/// Exit status when the remediation log's chain is broken.
pub(crate) const CHAIN_BROKEN: u8 = 5;

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Check that no recorded step was changed, deleted or inserted, and print the head to keep elsewhere
    Verify {
        #[arg(long)]
        json: bool,
        /// A head printed by an earlier `audit verify` (ID:HASH): the record must still hold it
        #[arg(long, value_name = "ID:HASH", value_parser = parse_head)]
        since: Option<ChainHead>,
    },
    /// Write the whole log to FILE
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        file: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ExportFormat {
    Csv,
    Json,
}

fn parse_head(s: &str) -> std::result::Result<ChainHead, String> {
    let bad = || {
        format!(
            "'{s}' is not a head: give ID:HASH as `rulewatch audit verify` printed it, e.g. 14:3f9a…"
        )
    };
    let (id, hash) = s.split_once(':').ok_or_else(bad)?;
    let id = id
        .trim()
        .trim_start_matches("row")
        .trim()
        .parse()
        .map_err(|_| bad())?;
    let hash = hash.trim();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok(ChainHead {
        id,
        hash: hash.to_ascii_lowercase(),
    })
}

/// Asks on the terminal; anything but yes declines.
fn confirm(question: &str) -> Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn print_plan(plan: &Plan, chosen: &[String]) {
    eprintln!(
        "Secure and Remediate alert {} in {} ({})",
        plan.alert_id,
        shown(&plan.tenant_name),
        shown(&plan.tenant_id)
    );
    let sign_in = match plan.account_enabled {
        Some(true) => "sign-in allowed",
        Some(false) => "sign-in blocked",
        None => "sign-in state unknown",
    };
    let resolved = plan
        .resolved_from
        .as_deref()
        .map(|from| format!(", resolved from {}", shown(from)))
        .unwrap_or_default();
    eprintln!("  Mailbox: {} ({sign_in}{resolved})", shown(&plan.mailbox));
    if plan.actor_differs {
        eprintln!(
            "  The change was made by another account, {}; add --contain-actor to contain it too.",
            shown(&plan.actor)
        );
    }
    if let Some(why) = &plan.actor_not_offered {
        eprintln!(
            "  The change was made by another account, not offered for containment: {}.",
            shown(why)
        );
    }
    if let Some(f) = &plan.forwarding {
        eprintln!("  Mailbox forwarding: {}", shown(&f.words()));
    }
    eprintln!("  Inbox rules ({}):", plan.rules.len());
    for r in &plan.rules {
        let state = if r.enabled { "enabled" } else { "disabled" };
        let about = if r.about_alert {
            "  <- the alert's rule"
        } else {
            ""
        };
        eprintln!("    - {} [{state}]{about}", shown(&r.description));
        for mark in &r.marks {
            eprintln!("        ! {}", shown(mark));
        }
    }
    for p in &plan.problems {
        eprintln!("  Could not read: {}", shown(p));
    }
    eprintln!("  Steps:");
    for s in plan.steps.iter().filter(|s| chosen.contains(&s.key)) {
        eprintln!("    [x] {} (now: {})", shown(&s.label), shown(&s.current));
        if let Some(w) = &s.warning {
            eprintln!("        warning: {}", shown(w));
        }
    }
}

fn print_result(r: &StepResult, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(r)?;
        if let Some(p) = &r.password {
            v["password"] = p.expose_secret().into();
        }
        writeln!(out, "{v}")?;
    } else {
        let rule = r
            .rule_name
            .as_deref()
            .map(|n| format!(" rule \"{}\"", shown(n)))
            .unwrap_or_default();
        let account = shown(&r.account);
        writeln!(
            out,
            "{:<11} {} {account}{rule}: {} (step {})",
            r.outcome.words(),
            r.action,
            shown(&r.detail),
            r.action_id
        )?;
        if let Some(w) = &r.warning {
            writeln!(out, "            warning: {}", shown(w))?;
        }
        if let Some(p) = &r.password {
            writeln!(
                out,
                "            New password for {account} (shown once, stored nowhere): {}",
                p.expose_secret()
            )?;
        }
    }
    Ok(())
}

pub(crate) async fn remediate(
    g: &Global,
    alert_id: i64,
    actions: Option<Vec<String>>,
    contain_actor: bool,
    yes: bool,
    json: bool,
) -> Result<ExitCode> {
    let session = g.session()?;
    let plan = session.remediation_plan(alert_id).await?;
    let mut chosen = Session::choose_steps(&plan, actions.as_deref())?;
    if contain_actor {
        let actor = Session::actor_steps(&plan).map_err(|e| anyhow!("--contain-actor: {e}"))?;
        chosen.extend(actor);
    }
    print_plan(&plan, &chosen);
    if chosen.is_empty() {
        eprintln!(
            "Nothing to do: every chosen step's state is already as it should be. Choose steps with --actions."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let question = format!(
        "Run these {} step(s) on tenant {}, mailbox {}?",
        chosen.len(),
        shown(&plan.tenant_name),
        shown(&plan.mailbox)
    );
    if !yes && !confirm(&question)? {
        eprintln!("Nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = false;
    let mut printing = Ok(());
    session
        .remediate(alert_id, &chosen, |r| {
            failed |= r.outcome == Outcome::Failed;
            if printing.is_ok() {
                printing = print_result(r, json);
            }
        })
        .await?;
    printing?;
    Ok(if failed {
        ExitCode::from(STEP_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) async fn undo(g: &Global, action_id: i64, yes: bool, json: bool) -> Result<ExitCode> {
    let session = g.session()?;
    let step = session.undo_preview(action_id).await?;
    let (entry, preview) = (step.entry, step.preview);
    eprintln!(
        "Undo step {action_id}: {} on {} in tenant {} ({} at {}). This will {}.",
        shown(&entry.step.action),
        shown(&entry.step.mailbox),
        shown(&entry.step.tenant_id),
        shown(&entry.step.result),
        shown(&entry.at),
        shown(&preview.restores)
    );
    if !yes && !confirm("Restore that state?")? {
        eprintln!("Nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }
    if !preview.outside.is_empty() {
        let question = format!(
            "Mail will go outside the organisation again, to {}. Are you sure?",
            preview.outside.join(", ")
        );
        if !yes && !confirm(&question)? {
            eprintln!("Nothing was changed.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let r = session.undo(action_id).await?;
    print_result(&r, json)?;
    Ok(if r.outcome == Outcome::Failed {
        ExitCode::from(STEP_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) async fn report(g: &Global, alert_id: i64, dir: &Path) -> Result<ExitCode> {
    for path in g.session()?.write_reports(alert_id, Some(dir)).await? {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn audit(g: &Global, cmd: Option<AuditCommand>, json: bool) -> Result<ExitCode> {
    let session = g.session()?;
    match cmd {
        None => {
            let log = session.remediation_log().await?;
            let mut out = std::io::stdout().lock();
            if json {
                for e in &log {
                    writeln!(out, "{}", serde_json::to_string(e)?)?;
                }
            } else if log.is_empty() {
                eprintln!("No remediation has been recorded.");
            } else {
                for e in &log {
                    let alert = e
                        .step
                        .alert_id
                        .map(|a| format!(" alert {a}"))
                        .unwrap_or_default();
                    // A rule step's row names the rule it touched, as recorded before it.
                    let rule = Some(&e.step.before)
                        .filter(|_| e.step.action.ends_with("-rule"))
                        .and_then(|b| b.as_ref()?["Name"].as_str())
                        .map(|n| format!(" '{}'", shown(n)))
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{:>4} {} {}@{} {} {}{alert} {}{rule} {}: {}",
                        e.id,
                        shown(&e.at),
                        shown(&e.step.os_user),
                        shown(&e.step.machine),
                        shown(&e.step.tenant_id),
                        shown(&e.step.mailbox),
                        shown(&e.step.action),
                        shown(&e.step.result),
                        shown(&e.step.detail)
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(AuditCommand::Verify { json, since }) => {
            let report = session.verify_log(since.as_ref()).await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("{}", shown(&report.summary()));
                if let Some(head) = report.head_words() {
                    println!("{head}");
                }
                println!("{CHAIN_PROVES}\n{CHAIN_DOES_NOT_PROVE}");
            }
            Ok(if report.intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(CHAIN_BROKEN)
            })
        }
        Some(AuditCommand::Export { format, file }) => {
            let log = session.remediation_log().await?;
            export(&log, format, &file).with_context(|| format!("writing {}", file.display()))?;
            eprintln!("Wrote {} step(s) to {}.", log.len(), file.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn export(log: &[LogEntry], format: ExportFormat, file: &Path) -> Result<()> {
    match format {
        ExportFormat::Json => std::fs::write(file, serde_json::to_string_pretty(&json!(log))?)?,
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_path(file)?;
            w.write_record([
                "id",
                "at",
                "os_user",
                "machine",
                "operator",
                "tenant_id",
                "mailbox",
                "alert_id",
                "action",
                "request",
                "before",
                "after",
                "result",
                "detail",
                "undoes",
                "prev_hash",
                "hash",
            ])?;
            let json_text = |v: &Option<serde_json::Value>| {
                v.as_ref().map(|v| v.to_string()).unwrap_or_default()
            };
            let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
            for e in log {
                w.write_record([
                    e.id.to_string(),
                    e.at.clone(),
                    e.step.os_user.clone(),
                    e.step.machine.clone(),
                    e.step.operator.clone().unwrap_or_default(),
                    e.step.tenant_id.clone(),
                    e.step.mailbox.clone(),
                    opt(e.step.alert_id),
                    e.step.action.clone(),
                    e.step.request.clone(),
                    json_text(&e.step.before),
                    json_text(&e.step.after),
                    e.step.result.clone(),
                    e.step.detail.clone(),
                    opt(e.step.undoes),
                    e.prev_hash.clone(),
                    e.hash.clone(),
                ])?;
            }
            w.flush()?;
        }
    }
    Ok(())
}
