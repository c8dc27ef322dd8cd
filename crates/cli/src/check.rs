//! `rulewatch check FILE...`: detection over audit records a technician already has
//! (JSON arrays, JSON lines, Purview / Search-UnifiedAuditLog CSV exports). Reading and
//! judging live in rulewatch_core::detect::input; this file only prints. With `--tenant`
//! it replays them with that tenant's allowlist and severities as they stand now.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};
use rulewatch_core::app::TenantTuning;
use rulewatch_core::detect::burst::Countable;
use rulewatch_core::detect::input::{self, CheckedAlert, Records};
use rulewatch_core::detect::{Evidence, Finding, TenantContext, burst};
use rulewatch_core::shown::shown;
use serde_json::json;

pub(crate) fn run(
    files: &[PathBuf],
    accepted_domains: Option<&str>,
    settings: Option<&TenantTuning>,
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
        None if settings.is_some_and(|s| s.accepted_domains.is_some()) => {
            let known = settings
                .and_then(|s| s.accepted_domains.clone())
                .unwrap_or_default();
            eprintln!(
                "The organisation's domains, as Rulewatch last read them: {}.",
                shown(&known.join(", "))
            );
            known
        }
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
    // What each tenant's records count towards bursts, by tenant id (with its name).
    let mut countables: BTreeMap<&str, (&str, Vec<Countable>)> = BTreeMap::new();
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
            for mut alert in input::judge(*position, record, &ctx) {
                let quiet = tune(settings, &mut alert.alert.finding);
                write(&mut out, file, &alert, quiet.as_deref(), json)?;
                found.push((alert, quiet));
            }
            if let Some(c) = burst::counted(record) {
                countables
                    .entry(&record.organization_id)
                    .or_insert_with(|| (record.tenant_name(), Vec::new()))
                    .1
                    .push(c);
            }
        }
    }
    let mut across = Vec::new();
    for (tenant_id, (tenant_name, events)) in &countables {
        for mut finding in burst::bursts(events) {
            let quiet = tune(settings, &mut finding);
            let last = match &finding.details {
                Evidence::Burst(b) => Some(b.last),
                _ => None,
            };
            across.push((
                tenant_id.to_string(),
                tenant_name.to_string(),
                last,
                finding,
                quiet,
            ));
        }
    }
    // As a scan does: a forwarding the allowlist quiets counts towards no fan-in.
    let raised: Vec<CheckedAlert> = found
        .iter()
        .filter(|(_, quiet)| quiet.is_none())
        .map(|(a, _)| a.clone())
        .collect();
    for campaign in input::fan_ins(&raised) {
        across.push((
            campaign.forwards[0].tenant_id.clone(),
            campaign.tenant_names(),
            Some(campaign.last_event()),
            campaign.finding,
            None,
        ));
    }
    for (tenant_id, tenant_name, at, finding, quiet) in &across {
        write_across(
            &mut out,
            tenant_id,
            tenant_name,
            *at,
            finding,
            quiet.as_deref(),
            json,
        )?;
    }
    if let Some(s) = settings {
        let mut judged: Vec<(&str, bool)> = found
            .iter()
            .map(|(a, quiet)| (a.alert.finding.rule, quiet.is_some()))
            .collect();
        judged.extend(
            across
                .iter()
                .map(|(_, _, _, f, quiet)| (f.rule, quiet.is_some())),
        );
        preview(s, &judged);
    }
    if !json && found.is_empty() && across.is_empty() {
        writeln!(out, "No alerts.")?;
    }
    Ok(if complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `finding` as the tenant's settings (when replaying with them) would store it: its
/// severity set, and why the allowlist would keep it quiet.
fn tune(settings: Option<&TenantTuning>, finding: &mut Finding) -> Option<String> {
    let s = settings?;
    let (severity, quiet) = s.tuning.apply(
        finding.rule,
        &finding.target,
        &finding.details,
        finding.severity,
    );
    finding.severity = severity;
    quiet
}

/// What the tenant's settings made of the log, by rule (`judged`: each alert's rule and
/// whether it would be quiet): the preview before something is trusted or an entry goes.
fn preview(settings: &TenantTuning, judged: &[(&str, bool)]) {
    let mut by_rule: Vec<(&str, usize, usize)> = Vec::new();
    for &(rule, quiet) in judged {
        let i = match by_rule.iter().position(|(r, _, _)| *r == rule) {
            Some(i) => i,
            None => {
                by_rule.push((rule, 0, 0));
                by_rule.len() - 1
            }
        };
        by_rule[i].1 += 1;
        by_rule[i].2 += usize::from(quiet);
    }
    let quiet: usize = by_rule.iter().map(|r| r.2).sum();
    eprintln!(
        "With {}'s allowlist and severities as they stand now: {} alert(s) would have been raised, {} of them kept quiet by the allowlist.",
        shown(&settings.name),
        judged.len() - quiet,
        quiet
    );
    for (rule, all, quiet) in by_rule {
        eprintln!("    {rule}: {} raised, {quiet} quiet", all - quiet);
    }
}

fn write(
    out: &mut impl Write,
    file: &str,
    checked: &CheckedAlert,
    quiet: Option<&str>,
    json: bool,
) -> std::io::Result<()> {
    if json {
        let mut value = serde_json::to_value(checked)?;
        value["file"] = json!(file);
        if let Some(why) = quiet {
            value["suppressed_by"] = json!(why);
        }
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
    )?;
    match quiet {
        Some(why) => writeln!(out, "    quiet: {}", shown(why)),
        None => Ok(()),
    }
}

/// A fan-in or a burst spans records (and files), so it has no one position; its
/// details list what it counted.
fn write_across(
    out: &mut impl Write,
    tenant_id: &str,
    tenant_name: &str,
    at: Option<DateTime<Utc>>,
    f: &Finding,
    quiet: Option<&str>,
    json: bool,
) -> std::io::Result<()> {
    if json {
        let mut value = json!({
            "tenant_id": tenant_id,
            "tenant_name": tenant_name,
            "event_time": at,
            "rule": f.rule,
            "severity": f.severity,
            "target": f.target,
            "actor": f.actor,
            "summary": f.summary,
            "details": f.details,
        });
        if let Some(why) = quiet {
            value["suppressed_by"] = json!(why);
        }
        serde_json::to_writer(&mut *out, &value)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "{} {} — across the records checked",
        f.severity.as_str().to_uppercase(),
        f.rule
    )?;
    writeln!(out, "    {}", shown(&f.summary))?;
    match quiet {
        Some(why) => writeln!(out, "    quiet: {}", shown(why)),
        None => Ok(()),
    }
}
