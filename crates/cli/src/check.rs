//! `rulewatch check FILE...`: detection over audit records a technician already has
//! (JSON arrays, JSON lines, Purview / Search-UnifiedAuditLog CSV exports). Reading and
//! judging live in rulewatch_core::detect::input; this file only prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use rulewatch_core::detect::TenantContext;
use rulewatch_core::detect::fan_in::FanIn;
use rulewatch_core::detect::input::{self, CheckedAlert, Records};
use rulewatch_core::shown::shown;
use serde_json::json;

pub(crate) fn run(
    files: &[PathBuf],
    accepted_domains: Option<&str>,
    json: bool,
) -> Result<ExitCode> {
    let mut complete = true;
    let mut read: Vec<(String, Records)> = Vec::new();
    for path in files {
        let name = path.display().to_string();
        match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| input::decode(&bytes))
        {
            Ok(text) => read.push((name, input::read(&text))),
            Err(e) => {
                eprintln!("error: cannot read {name}: {e}");
                complete = false;
            }
        }
    }
    let accepted: Vec<String> = match accepted_domains {
        Some(list) => list
            .split(',')
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect(),
        None => {
            let assumed = input::assumed_domains(
                read.iter()
                    .flat_map(|(_, r)| r.records.iter().map(|(_, rec)| rec)),
            );
            if assumed.is_empty() {
                eprintln!(
                    "No --accepted-domains given and none found in the records: every address counts as outside."
                );
            } else {
                eprintln!(
                    "No --accepted-domains given; assumed the organisation's domains are: {}.",
                    shown(&assumed.join(", "))
                );
            }
            assumed
        }
    };
    let ctx = TenantContext {
        accepted_domains: accepted,
    };

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut found = Vec::new();
    for (file, records) in &read {
        for bad in &records.unreadable {
            eprintln!(
                "{file}: {}: skipped, cannot be read: {}",
                bad.position,
                shown(&bad.reason)
            );
            complete = false;
        }
        // "No alerts" for a file that held nothing would read as a clean bill.
        if records.records.is_empty() && records.unreadable.is_empty() {
            eprintln!(
                "{file}: holds no audit records; check that the export finished and is the right file"
            );
            complete = false;
        }
        for (position, record) in &records.records {
            for alert in input::judge(*position, record, &ctx) {
                write(&mut out, file, &alert, json)?;
                found.push(alert);
            }
        }
    }
    let campaigns = input::fan_ins(&found);
    for campaign in &campaigns {
        write_fan_in(&mut out, campaign, json)?;
    }
    if !json && found.is_empty() {
        writeln!(out, "No alerts.")?;
    }
    Ok(if complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn write(
    out: &mut impl Write,
    file: &str,
    checked: &CheckedAlert,
    json: bool,
) -> std::io::Result<()> {
    if json {
        let mut value = serde_json::to_value(checked)?;
        value["file"] = json!(file);
        serde_json::to_writer(&mut *out, &value)?;
        return writeln!(out);
    }
    let (a, f) = (&checked.alert, &checked.alert.finding);
    writeln!(
        out,
        "{} {} — {}, {}",
        f.severity.as_str().to_uppercase(),
        f.rule,
        shown(file),
        checked.position
    )?;
    writeln!(out, "    {}", shown(&f.summary))?;
    writeln!(
        out,
        "    {} changed by {} from {} at {}",
        shown(&f.target),
        shown(&f.actor),
        a.client_ip
            .as_deref()
            .map(shown)
            .unwrap_or_else(|| "an unknown address".into()),
        a.event_time
            .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
            .unwrap_or_else(|| "an unknown time".into())
    )
}

/// A fan-in spans records (and files), so it has no one position; its details list
/// every forward.
fn write_fan_in(out: &mut impl Write, campaign: &FanIn, json: bool) -> std::io::Result<()> {
    let f = &campaign.finding;
    if json {
        let value = json!({
            "tenant_id": campaign.forwards[0].tenant_id,
            "tenant_name": campaign.tenant_names(),
            "event_time": campaign.last_event(),
            "rule": f.rule,
            "severity": f.severity,
            "target": f.target,
            "actor": f.actor,
            "summary": f.summary,
            "details": f.details,
        });
        serde_json::to_writer(&mut *out, &value)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "{} {} — across the records checked",
        f.severity.as_str().to_uppercase(),
        f.rule
    )?;
    writeln!(out, "    {}", shown(&f.summary))
}
