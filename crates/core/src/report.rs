//! The incident report for the customer: one self-contained HTML file saying what
//! happened, the evidence, and what was done and when. Every value is escaped: rule
//! names and addresses come from the attacker. A report goes to one customer, so it
//! names only that customer's mailboxes: a fan-in across tenants gets one report per
//! tenant, each counting the other organisations' mailboxes without naming them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::detect::evidence::{Evidence, FanInEvidence};
use crate::detect::fan_in::Forward;
use crate::detect::{FORWARDING_FAN_IN, visible_text};
use crate::store::{
    Alert, CHAIN_DOES_NOT_PROVE, CHAIN_PROVES, ChainReport, LogEntry, Store, StoreError,
};

/// Why an incident report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The alert, its steps or the remediation record could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A report file, or the folder for it, could not be written.
    #[error("the report cannot be written to {path}: {source}. Check that the folder is writable")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Text made safe for HTML content and quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #eaeef2}\
th{width:14rem;color:#57606a;font-weight:600}pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;padding:.75rem}\
.failed{color:#cf222e}.done{color:#1a7f37}.muted{color:#57606a}";

fn row(out: &mut String, label: &str, value: &str) {
    let _ = write!(
        out,
        "<tr><th>{}</th><td>{}</td></tr>",
        escape(label),
        escape(value)
    );
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map_or("unknown".into(), |t| {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    })
}

fn location(origin: &Option<Value>) -> Option<String> {
    let l = &origin.as_ref()?["location"];
    let parts: Vec<&str> = ["city", "region", "country"]
        .iter()
        .filter_map(|k| l[*k].as_str())
        .collect();
    let mut s = parts.join(", ");
    if let Some(n) = l["network"].as_str() {
        s.push_str(&format!(" · {n}"));
    }
    (!s.is_empty()).then_some(s)
}

/// The report as HTML.
pub fn incident_html(
    alert: &Alert,
    raw_record: &str,
    steps: &[LogEntry],
    chain: &ChainReport,
    generated: DateTime<Utc>,
) -> String {
    let mut h = String::new();
    let title = format!("Incident report: {} — {}", alert.target, alert.tenant_name);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        escape(&title)
    );
    let _ = write!(
        h,
        "<h1>{}</h1><p class=\"muted\">Written by Rulewatch on {}.</p>",
        escape(&title),
        when(Some(generated))
    );

    h.push_str("<h2>What happened</h2>");
    let _ = write!(h, "<p>{}</p><table>", escape(&alert.summary));
    row(
        &mut h,
        "Organisation",
        &format!("{} ({})", alert.tenant_name, alert.tenant_id),
    );
    row(&mut h, "Mailbox", &alert.target);
    row(&mut h, "Changed by", &alert.actor);
    row(&mut h, "Severity", alert.severity.as_str());
    match crate::detect::rules::rule(&alert.rule) {
        Some(rule) => {
            row(
                &mut h,
                "Detection",
                &format!("{} ({})", rule.title, rule.id),
            );
            row(&mut h, "What this means", rule.description);
        }
        None => row(&mut h, "Detection", &alert.rule),
    }
    row(&mut h, "Operation", &alert.operation);
    row(&mut h, "When it happened", &when(alert.event_time));
    row(&mut h, "When Rulewatch found it", &when(alert.detected_at));
    row(
        &mut h,
        "From address",
        alert.client_ip.as_deref().unwrap_or("not recorded"),
    );
    if let Some(l) = location(&alert.origin) {
        row(&mut h, "Location of that address", &l);
    }
    let status = match &alert.status_note {
        Some(n) => format!("{} ({n})", alert.status.words()),
        None => alert.status.words().to_string(),
    };
    row(&mut h, "Status", &status);
    h.push_str("</table>");

    h.push_str("<h2>What was done</h2>");
    if steps.is_empty() {
        h.push_str("<p>No containment step has been recorded for this incident.</p>");
    } else {
        h.push_str(
            "<table><tr><th>Time</th><th>Step</th><th>Account</th><th>Result</th><th>By</th></tr>",
        );
        for s in steps {
            let e = &s.step;
            let by = match &e.operator {
                Some(op) => format!("{}@{} (signed in as {op})", e.os_user, e.machine),
                None => format!("{}@{}", e.os_user, e.machine),
            };
            let class = if e.result == "failed" {
                "failed"
            } else if e.result == "done" {
                "done"
            } else {
                ""
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{}: {}</td><td>{}</td></tr>",
                escape(&s.at),
                escape(&e.action),
                escape(&e.mailbox),
                escape(&e.result.replace('_', " ")),
                escape(&e.detail),
                escape(&by)
            );
        }
        h.push_str("</table>");
    }
    let _ = write!(h, "<p class=\"muted\">{}", escape(&chain.summary()));
    if let Some(head) = chain.head_words() {
        let _ = write!(h, " {}", escape(&head));
    }
    let _ = write!(
        h,
        "</p><p class=\"muted\">{} {}</p>",
        escape(CHAIN_PROVES),
        escape(CHAIN_DOES_NOT_PROVE)
    );

    h.push_str("<h2>Evidence: the audit record</h2>");
    match crate::store::pruned_record(raw_record) {
        Some(words) => {
            let _ = write!(h, "<p>{}</p></body></html>", escape(&words));
        }
        None => {
            let pretty = serde_json::from_str::<Value>(raw_record)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or_else(|_| raw_record.to_string());
            let _ = write!(h, "<pre>{}</pre></body></html>", escape(&pretty));
        }
    }
    h
}

/// The alert as each customer it concerns may read it, with its evidence: the alert
/// itself, or for a fan-in one view per tenant naming only that tenant's mailboxes.
pub fn per_customer(alert: &Alert, raw_record: &str) -> Vec<(Alert, String)> {
    let forwards = alert.details.forwards();
    if alert.rule != FORWARDING_FAN_IN || forwards.is_empty() {
        return vec![(alert.clone(), raw_record.to_string())];
    }
    let key = |f: &Forward| (f.tenant_id.to_lowercase(), f.mailbox.to_lowercase());
    let mut all_mailboxes: Vec<(String, String)> = Vec::new();
    let mut tenants: Vec<(String, String)> = Vec::new();
    for f in forwards {
        if !all_mailboxes.contains(&key(f)) {
            all_mailboxes.push(key(f));
        }
        if !tenants
            .iter()
            .any(|(id, _)| id.eq_ignore_ascii_case(&f.tenant_id))
        {
            tenants.push((f.tenant_id.clone(), f.tenant_name.clone()));
        }
    }
    tenants
        .into_iter()
        .map(|(tenant_id, tenant_name)| {
            let own: Vec<&Forward> = forwards.iter().filter(|f| f.tenant_id.eq_ignore_ascii_case(&tenant_id)).collect();
            let mut mailboxes: Vec<String> = Vec::new();
            let mut actors: Vec<String> = Vec::new();
            for f in &own {
                if !mailboxes.iter().any(|m| m.eq_ignore_ascii_case(&f.mailbox)) {
                    mailboxes.push(f.mailbox.clone());
                }
                if !actors.contains(&f.actor) {
                    actors.push(f.actor.clone());
                }
            }
            let others = all_mailboxes.len() - mailboxes.len();
            let elsewhere = match others {
                0 => String::new(),
                1 => ", and from 1 mailbox in other organisations you watch".to_string(),
                n => format!(", and from {n} mailboxes in other organisations you watch"),
            };
            let shown: Vec<String> = mailboxes.iter().map(|m| visible_text(m)).collect();
            let summary = format!(
                "Outside address {} receives mail forwarded from {} of {}'s mailboxes ({}){elsewhere}, within 7 days.",
                visible_text(&alert.target),
                mailboxes.len(),
                visible_text(&tenant_name),
                shown.join(", "),
            );
            let details = Evidence::FanIn(FanInEvidence {
                destination: alert.target.clone(),
                destinations: vec![alert.target.clone()],
                mailboxes: mailboxes.len(),
                tenants: None,
                mailboxes_in_other_organisations: Some(others),
                forwards: own.into_iter().cloned().collect(),
            });
            let evidence = details.to_json();
            let view = Alert {
                tenant_id,
                tenant_name,
                summary,
                actor: actors.join(", "),
                details,
                ..alert.clone()
            };
            (view, evidence)
        })
        .collect()
}

/// Writes the report(s) of `alert_id` into `dir`, one per customer it concerns;
/// answers the files' paths.
pub fn write_incident_reports(
    store: &Store,
    alert_id: i64,
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let (alert, raw) = store.alert_with_record(alert_id)?;
    let steps = store.log_for_alert(alert_id)?;
    let chain = store.verify_log()?;
    let now = crate::clock::now();
    let views = per_customer(&alert, &raw);
    let several = views.len() > 1;
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    for (view, evidence) in views {
        let own_steps: Vec<LogEntry> = steps
            .iter()
            .filter(|s| s.step.tenant_id.eq_ignore_ascii_case(&view.tenant_id))
            .cloned()
            .collect();
        let html = incident_html(&view, &evidence, &own_steps, &chain, now);
        let customer = if several {
            format!("-{}", view.tenant_id)
        } else {
            String::new()
        };
        let path = dir.join(format!(
            "rulewatch-incident-{alert_id}{customer}-{}.html",
            now.format("%Y%m%d-%H%M%S")
        ));
        crate::folder::write_private(&path, html.as_bytes()).map_err(|source| {
            ReportError::Write {
                path: path.clone(),
                source,
            }
        })?;
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{AlertStatus, ChainHead, NewLogEntry};

    /// An open critical alert of `rule` with this stored evidence, read back as the store
    /// reads it.
    fn sample(id: i64, rule: &str, details: Value) -> Alert {
        let at = |s: &str| Some(s.parse().expect("a time"));
        Alert {
            assignee: None,
            mailbox: None,
            id,
            tenant_id: "t".into(),
            tenant_name: "Contoso".into(),
            rule: rule.into(),
            severity: crate::detect::Severity::Critical,
            record_id: "r".into(),
            operation: "New-InboxRule".into(),
            target: "adele@contoso.example".into(),
            actor: "adele@contoso.example".into(),
            client_ip: Some("203.0.113.7".into()),
            summary: String::new(),
            details: Evidence::read(rule, details),
            event_time: at("2026-11-27T10:00:00Z"),
            detected_at: at("2026-11-27T10:05:00Z"),
            status: AlertStatus::Open,
            content_id: None,
            suppressed_by: None,
            origin: None,
            status_note: None,
            incident_id: Some(1),
        }
    }

    #[test]
    fn attacker_chosen_text_is_escaped_and_every_step_is_listed() {
        let hostile = "<img src=x onerror=alert(1)>";
        let alert = Alert {
            summary: format!("Rule \"{hostile}\" deletes every message."),
            origin: Some(json!({"location": {"city": "Lagos", "country": "Nigeria"}})),
            ..sample(3, "inbox-rule-hides-mail", json!({}))
        };
        let step = LogEntry {
            id: 1,
            at: "2026-11-27T10:10:00.000Z".into(),
            step: NewLogEntry {
                os_user: "tech".into(),
                machine: "desk".into(),
                operator: None,
                tenant_id: "t".into(),
                mailbox: "adele@contoso.example".into(),
                alert_id: Some(3),
                action: "disable-rule".into(),
                request: "InvokeCommand Disable-InboxRule".into(),
                before: None,
                after: None,
                result: "done".into(),
                detail: format!("rule {hostile} disabled"),
                undoes: None,
            },
            prev_hash: String::new(),
            hash: String::new(),
        };
        let head = ChainHead {
            id: 1,
            hash: "ab".repeat(32),
        };
        let chain = ChainReport {
            rows: 1,
            intact: true,
            head: Some(head),
            signed_from: Some(1),
            ..Default::default()
        };
        let raw = json!({"Parameters": [{"Name": "Name", "Value": hostile}]}).to_string();
        let html = incident_html(&alert, &raw, &[step], &chain, crate::clock::now());
        assert!(!html.contains("<img"), "{html}");
        assert_eq!(
            html.matches("&lt;img src=x onerror=alert(1)&gt;").count(),
            3,
            "summary, step and record"
        );
        assert!(
            html.contains("Lagos, Nigeria")
                && html.contains("tech@desk")
                && html.contains("intact")
        );
        // The customer reads the rule's title and what it means, not its id alone.
        assert!(
            html.contains("<td>Inbox rule hides mail (inbox-rule-hides-mail)</td>")
                && html.contains("An inbox rule deletes mail"),
            "{html}"
        );
        assert!(
            html.contains(&format!("Head: row 1, hash {}", "ab".repeat(32))),
            "the head, to keep elsewhere"
        );
        assert!(
            html.contains("proves nothing against someone who can use the key"),
            "what the record does not prove"
        );
    }

    #[test]
    fn a_pruned_record_is_said_to_be_pruned_instead_of_shown() {
        let alert = sample(4, "inbox-rule-hides-mail", json!({}));
        let chain = ChainReport {
            rows: 0,
            intact: true,
            ..Default::default()
        };
        // What the store keeps in place of a record pruned after 180 days.
        let html = incident_html(
            &alert,
            r#"{"pruned_after_days":180}"#,
            &[],
            &chain,
            crate::clock::now(),
        );
        assert!(
            html.contains("<p>The raw audit record was pruned after 180 days")
                && !html.contains("pruned_after_days"),
            "{html}"
        );
    }

    #[test]
    fn a_fan_in_across_customers_gives_each_a_report_naming_only_its_own_mailboxes() {
        let forward = |id: i64, tenant: &str, name: &str, mailbox: &str| {
            json!({"alert_id": id, "tenant_id": tenant, "tenant_name": name, "mailbox": mailbox, "actor": mailbox,
                   "operation": "New-InboxRule", "event_time": "2026-11-27T10:00:00Z"})
        };
        let forwards = json!([
            forward(1, "t-a", "Contoso", "adele@contoso.example"),
            forward(2, "t-b", "Fabrikam", "bob@fabrikam.example"),
            forward(3, "t-a", "Contoso", "carol@contoso.example"),
        ]);
        let details = json!({"destination": "eve@evil.example", "destinations": ["eve@evil.example"], "mailboxes": 3, "tenants": 2,
                             "forwards": forwards});
        let alert = Alert {
            tenant_id: "t-a".into(),
            tenant_name: "Contoso + Fabrikam".into(),
            record_id: "fan-in:eve@evil.example".into(),
            target: "eve@evil.example".into(),
            actor: "adele@contoso.example, bob@fabrikam.example, carol@contoso.example".into(),
            client_ip: None,
            summary: "Outside address eve@evil.example receives mail forwarded from 3 mailboxes in 2 tenants within 7 days: \
                      adele@contoso.example (Contoso), bob@fabrikam.example (Fabrikam) and carol@contoso.example (Contoso)."
                .into(),
            ..sample(7, "forwarding-fan-in", details.clone())
        };
        assert!(
            matches!(alert.details, Evidence::FanIn(_)),
            "a fan-in's stored evidence reads as its type: {:?}",
            alert.details
        );
        let chain = ChainReport {
            rows: 0,
            intact: true,
            ..Default::default()
        };
        let views = per_customer(&alert, &details.to_string());
        assert_eq!(views.len(), 2);
        let html: Vec<String> = views
            .iter()
            .map(|(a, raw)| incident_html(a, raw, &[], &chain, crate::clock::now()))
            .collect();
        let (contoso, fabrikam) = (&html[0], &html[1]);
        assert!(
            contoso.contains("adele@contoso.example") && contoso.contains("carol@contoso.example"),
            "{contoso}"
        );
        assert!(
            !contoso.contains("bob@fabrikam") && !contoso.contains("Fabrikam"),
            "{contoso}"
        );
        assert!(
            contoso.contains("and from 1 mailbox in other organisations you watch"),
            "{contoso}"
        );
        assert!(
            fabrikam.contains("bob@fabrikam.example")
                && fabrikam.contains("and from 2 mailboxes in other organisations you watch")
        );
        assert!(
            !fabrikam.contains("@contoso.example") && !fabrikam.contains("Contoso"),
            "{fabrikam}"
        );
        assert_eq!(views[1].0.tenant_id, "t-b");
    }
}
