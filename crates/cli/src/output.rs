//! How alerts, tenants and statuses are printed: JSON lines for machines, short text
//! for people.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};
use rulewatch_core::app::{
    Alert, ChannelHealth, Company, CompanyMatch, Incident, IncidentStatus, TenantRow, TenantStatus,
};
use rulewatch_core::shown::shown;

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| "never".into())
}

pub(crate) fn write_alert(out: &mut impl Write, a: &Alert, json: bool) -> std::io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, a)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "#{} {} {} — {} ({}) at {}",
        a.id,
        a.severity.as_str().to_uppercase(),
        shown(&a.rule),
        shown(&a.tenant_name),
        shown(&a.tenant_id),
        when(a.event_time)
    )?;
    writeln!(out, "    {}", shown(&a.summary))?;
    let mailbox = match &a.mailbox {
        Some(upn) => format!("{} ({})", shown(&a.target), shown(upn)),
        None => shown(&a.target).to_string(),
    };
    writeln!(
        out,
        "    mailbox {mailbox} changed by {} from {}",
        shown(&a.actor),
        shown(a.client_ip.as_deref().unwrap_or("an unknown address"))
    )?;
    match &a.suppressed_by {
        Some(why) => writeln!(out, "    suppressed: {}", shown(why)),
        None => Ok(()),
    }
}

pub(crate) fn alerts(alerts: &[Alert], json: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if alerts.is_empty() && !json {
        writeln!(out, "No alerts.")?;
    }
    for a in alerts {
        write_alert(&mut out, a, json)?;
    }
    Ok(())
}

/// Incidents, the most recently active first: one JSON line each, or a heading per
/// incident with one line per alert.
pub(crate) fn incidents(incidents: &[Incident], json: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if incidents.is_empty() && !json {
        writeln!(out, "No incidents.")?;
    }
    for i in incidents {
        if json {
            serde_json::to_writer(&mut out, i)?;
            writeln!(out)?;
            continue;
        }
        let status = match i.status {
            IncidentStatus::Open => "open",
            IncidentStatus::Resolved => "resolved",
        };
        writeln!(
            out,
            "Incident {} {} — {} ({}), {status}, {} to {}",
            i.id,
            i.severity.as_str().to_uppercase(),
            shown(&i.tenant_name),
            shown(&i.tenant_id),
            when(i.first_event),
            when(i.last_event)
        )?;
        writeln!(out, "    {}", shown(&i.title))?;
        for a in &i.alerts {
            writeln!(
                out,
                "    #{} {} {} at {}: {}",
                a.id,
                a.severity.as_str(),
                shown(&a.rule),
                when(a.event_time),
                shown(&a.summary)
            )?;
        }
    }
    Ok(())
}

pub(crate) fn tenants(tenants: &[TenantRow], json: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, tenants)?;
        writeln!(out)?;
        return Ok(());
    }
    if tenants.is_empty() {
        writeln!(
            out,
            "No tenant is configured. Add one with `rulewatch tenant add`."
        )?;
    }
    for t in tenants {
        let method = serde_json::to_value(t)?["auth_method"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let cloud = t.cloud.map(|c| format!(", {c}")).unwrap_or_default();
        writeln!(
            out,
            "{}  {}  client {}  ({method}{cloud})",
            shown(&t.tenant_id),
            shown(&t.name),
            shown(&t.client_id),
        )?;
    }
    Ok(())
}

/// Each delivery channel's queue, after the tenants in `rulewatch status`.
pub(crate) fn channels(channels: &[ChannelHealth]) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "Delivery:")?;
    for c in channels {
        writeln!(
            out,
            "  {}: {} queued; last delivered {}",
            shown(&c.name),
            c.queued,
            when(c.last_delivered_at)
        )?;
        if let Some(e) = &c.last_error {
            writeln!(out, "    last error: {}", shown(e))?;
        }
    }
    Ok(())
}

/// Each tenant's company in a PSA channel: confirmed, or what its name suggests.
pub(crate) fn companies(matches: &[CompanyMatch]) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let named = |c: &Company| format!("{} ({})", shown(&c.name), c.id);
    for m in matches {
        let state = match (&m.mapped, &m.suggested) {
            (Some(c), _) => format!("files under {}", named(c)),
            (None, Some(c)) => format!(
                "default company for now; suggested: {} (confirm with --accept-suggestions or --tenant/--company)",
                named(c)
            ),
            (None, None) => {
                "default company; no company's name matches: map it with --tenant/--company".into()
            }
        };
        writeln!(
            out,
            "{} ({}): {state}",
            shown(&m.tenant_name),
            shown(&m.tenant_id)
        )?;
    }
    Ok(())
}

pub(crate) fn statuses(statuses: &[TenantStatus], json: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, statuses)?;
        writeln!(out)?;
        return Ok(());
    }
    if statuses.is_empty() {
        writeln!(
            out,
            "No tenant is configured. Add one with `rulewatch tenant add`."
        )?;
    }
    for s in statuses {
        writeln!(
            out,
            "{} ({}): {}; last successful scan {}; data complete up to {}; {} open alerts",
            shown(&s.name),
            shown(&s.tenant_id),
            s.state.as_str(),
            when(s.last_success_at),
            when(s.data_complete_until),
            s.open_alerts
        )?;
        if let Some(m) = &s.message {
            writeln!(out, "    {}", shown(m))?;
        }
    }
    Ok(())
}
