//! `rulewatch alerts`: the stored alerts, filtered, and the desk's triage on them: take,
//! release, acknowledge, resolve, false positive, note, and the history of who did what.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use clap::{Args, Subcommand};
use rulewatch_core::app::{
    Alert, AlertFilter, AlertStatus, Assignee, HistoryEntry, Session, clock,
};
use rulewatch_core::detect::Severity;
use rulewatch_core::shown::shown;

use crate::{Global, output};

/// `rulewatch alerts [filters] [--json]`, or one of its actions on an alert.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct AlertsArgs {
    #[command(subcommand)]
    action: Option<AlertAction>,
    /// Only this tenant, by id or name
    #[arg(long)]
    tenant: Option<String>,
    /// Only this status: open, acknowledged, false_positive, resolved or suppressed
    #[arg(long)]
    status: Option<String>,
    /// Only this severity or graver: low, medium, high or critical
    #[arg(long)]
    severity: Option<String>,
    /// Only changes made since: hours or days ago (24h, 7d), a date (2026-12-01) or a
    /// time (2026-12-01T08:00:00Z)
    #[arg(long)]
    since: Option<String>,
    /// Only alerts this technician holds: a name, `me`, or `none` for nobody's
    #[arg(long)]
    assignee: Option<String>,
    /// One JSON object per alert per line, with its `assignee` and `status`
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum AlertAction {
    /// Take an alert: it is yours until you release it, and colleagues see who holds it
    Take {
        id: i64,
        /// Take it over from the colleague who holds it (the history says so)
        #[arg(long)]
        force: bool,
    },
    /// Let an alert go, for a colleague to take
    Release {
        id: i64,
        /// Release it although a colleague holds it
        #[arg(long)]
        force: bool,
    },
    /// Acknowledge an alert: seen, being worked on
    Ack {
        id: i64,
        #[arg(long)]
        note: Option<String>,
    },
    /// Resolve an alert: the account is safe again
    Resolve {
        id: i64,
        #[arg(long)]
        note: Option<String>,
    },
    /// Mark an alert a false positive; say why with --note
    Fp {
        id: i64,
        #[arg(long)]
        note: Option<String>,
    },
    /// Add a note to an alert's history
    Note { id: i64, text: String },
    /// Who did what to an alert, and when
    History {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(g: &Global, args: AlertsArgs) -> Result<ExitCode> {
    let session = g.session()?;
    let Some(action) = args.action else {
        let filter = filter(&args, session.technician())?;
        let alerts = session
            .alerts_where(&filter)
            .await
            .context("reading the alerts")?;
        output::alerts(&alerts, args.json)?;
        return Ok(ExitCode::SUCCESS);
    };
    match action {
        AlertAction::Take { id, force } => {
            said(&session, session.take_alert(id, force).await?);
        }
        AlertAction::Release { id, force } => {
            said(&session, session.release_alert(id, force).await?);
        }
        AlertAction::Ack { id, note } => {
            status(&session, id, AlertStatus::Acknowledged, note).await?
        }
        AlertAction::Resolve { id, note } => {
            status(&session, id, AlertStatus::Resolved, note).await?
        }
        AlertAction::Fp { id, note } => {
            status(&session, id, AlertStatus::FalsePositive, note).await?
        }
        AlertAction::Note { id, text } => {
            session.note_alert(id, &text).await?;
            println!("alert {id}: note added by {}", shown(session.technician()));
        }
        AlertAction::History { id, json } => {
            history(&session.alert_review(id).await?.history, json)?
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(
    session: &Session,
    id: i64,
    status: AlertStatus,
    note: Option<String>,
) -> Result<()> {
    let alert = session
        .set_alert_status(id, status.as_str(), note.as_deref(), false)
        .await?;
    said(session, alert);
    Ok(())
}

/// One line on what an alert now is, and whose.
fn said(session: &Session, a: Alert) {
    let holder = match a.assignee.as_deref() {
        Some(who) if who == session.technician() => "yours".to_string(),
        Some(who) => format!("held by {}", shown(who)),
        None => "held by nobody".to_string(),
    };
    println!("alert {}: {}, {holder}", a.id, a.status.words());
}

fn history(entries: &[HistoryEntry], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(entries)?);
        return Ok(());
    }
    if entries.is_empty() {
        println!("Nobody has reviewed this alert yet.");
    }
    for e in entries {
        let note = e
            .note
            .as_deref()
            .map(|n| format!(": {}", shown(n)))
            .unwrap_or_default();
        println!(
            "{}  {}  {}{note}",
            e.at,
            shown(&e.technician),
            shown(&e.action)
        );
    }
    Ok(())
}

fn filter(args: &AlertsArgs, me: &str) -> Result<AlertFilter> {
    let status = args
        .status
        .as_deref()
        .map(|s| {
            AlertStatus::parse(&s.trim().to_lowercase().replace(' ', "_")).with_context(|| {
                format!(
                    "--status {s}: give open, acknowledged, false_positive, resolved or suppressed"
                )
            })
        })
        .transpose()?;
    let severity = args
        .severity
        .as_deref()
        .map(|s| {
            Severity::parse(&s.trim().to_lowercase())
                .with_context(|| format!("--severity {s}: give low, medium, high or critical"))
        })
        .transpose()?;
    let assignee = args.assignee.as_deref().map(|a| match a.trim() {
        "none" => Assignee::Nobody,
        "me" => Assignee::Named(me.to_string()),
        name => Assignee::Named(name.to_string()),
    });
    Ok(AlertFilter {
        tenant: args.tenant.clone(),
        status,
        severity,
        since: args.since.as_deref().map(since).transpose()?,
        assignee,
    })
}

/// `--since`: `24h`, `7d`, a date (midnight UTC) or an RFC 3339 time.
pub(crate) fn since(text: &str) -> Result<DateTime<Utc>> {
    let text = text.trim();
    let ago = |n: &str, unit: fn(i64) -> Duration| -> Option<DateTime<Utc>> {
        n.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| clock::now() - unit(n))
    };
    let parsed = text
        .strip_suffix('h')
        .and_then(|n| ago(n, Duration::hours))
        .or_else(|| text.strip_suffix('d').and_then(|n| ago(n, Duration::days)))
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
        .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|t| t.to_utc()));
    match parsed {
        Some(t) => Ok(t),
        None => bail!(
            "--since {text}: give hours or days ago (24h, 7d), a date (2026-12-01) or a time (2026-12-01T08:00:00Z)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_ages_dates_and_times() {
        let now = clock::now();
        let day = since("24h").unwrap();
        assert!((now - day - Duration::hours(24)).num_seconds().abs() < 5);
        assert_eq!(
            since("2026-12-01").unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
        assert_eq!(
            since("2026-12-01T08:00:00Z").unwrap().to_rfc3339(),
            "2026-12-01T08:00:00+00:00"
        );
        for bad in ["", "yesterday", "-3h", "3w", "2026-13-01"] {
            assert!(since(bad).is_err(), "{bad}");
        }
    }
}
