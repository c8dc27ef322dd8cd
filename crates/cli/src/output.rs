//! How alerts, tenants and statuses are printed: JSON lines for machines, short text
//! for people.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};
use rulewatch_core::app::{Alert, TenantRow, TenantStatus};
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
    writeln!(
        out,
        "    mailbox {} changed by {} from {}",
        shown(&a.target),
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
