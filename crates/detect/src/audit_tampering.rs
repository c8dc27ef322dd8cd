//! Changes that blind the audit log: switching off unified audit ingestion (Rulewatch's
//! own source), exempting an account from mailbox auditing, turning a mailbox's auditing
//! off or shortening how long its audit log is kept.

use super::record::AuditRecord;
use super::target::mailbox;
use super::text::visible;
use super::{AUDIT_TAMPERING, Finding, Severity};
use crate::evidence::{AuditTamperingEvidence, Condition, Evidence};
use crate::rule::{Corpus, Rule};

/// Changes that blind the audit log.
pub(crate) const RULE: Rule = Rule {
    id: "audit-tampering",
    title: "Auditing weakened",
    notification: "auditing weakened",
    description: "Unified audit ingestion was switched off, an account was exempted from mailbox auditing, \
                  or a mailbox's auditing was turned off or shortened: what an attacker does next may not \
                  be recorded at all.",
    false_positives: "Service accounts exempted from auditing on purpose to cut noise; confirm with whoever \
                      runs the tenant.",
    attack: "T1562.008",
    severity: "ingestion off: critical; an account exempted or a mailbox's auditing off: high; a shorter log: \
               medium",
    quieted_by: &[],
    references: &[
        "https://attack.mitre.org/techniques/T1562/008/",
        "https://learn.microsoft.com/powershell/module/exchange/set-mailboxauditbypassassociation",
    ],
    corpus: Corpus::Records(&["set-mailboxauditbypassassociation.json"]),
};

/// Exchange Online's default mailbox audit retention.
const DEFAULT_AGE_LIMIT_DAYS: u64 = 90;

fn is_false(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "false" | "$false" | "0"
        )
    })
}

/// `90`, `90.00:00:00` or `30.12:00:00` to whole days.
fn days(value: &str) -> Option<u64> {
    value.trim().split(['.', ':']).next()?.trim().parse().ok()
}

pub(super) fn detect(record: &AuditRecord, findings: &mut Vec<Finding>) {
    let mut found = |severity, target: String, summary: String| {
        findings.push(Finding {
            rule: AUDIT_TAMPERING,
            severity,
            target,
            actor: record.user_id.clone(),
            summary,
            details: Evidence::AuditTampering(AuditTamperingEvidence {
                operation: record.operation.clone(),
                parameters: record
                    .parameters
                    .iter()
                    .map(|p| Condition {
                        name: p.name.clone(),
                        value: p.value.clone(),
                    })
                    .collect(),
            }),
        })
    };
    if record.is("Set-AdminAuditLogConfig")
        && is_false(record.param("UnifiedAuditLogIngestionEnabled"))
    {
        found(
            Severity::Critical,
            "the whole organisation".to_string(),
            "Unified audit logging was switched off for the whole organisation: no further changes will be seen.".to_string(),
        );
    }
    if record.is("Set-MailboxAuditBypassAssociation") && record.flag("AuditBypassEnabled") {
        let target = mailbox(record);
        found(
            Severity::High,
            target.clone(),
            format!(
                "Account {} was exempted from mailbox auditing: what it does in any mailbox is no longer logged.",
                visible(&target)
            ),
        );
    }
    if record.is("Set-Mailbox") {
        let target = mailbox(record);
        if is_false(record.param("AuditEnabled")) {
            found(
                Severity::High,
                target.clone(),
                format!("Mailbox auditing was turned off for {}.", visible(&target)),
            );
        }
        if let Some(limit) = record
            .param("AuditLogAgeLimit")
            .and_then(days)
            .filter(|d| *d < DEFAULT_AGE_LIMIT_DAYS)
        {
            found(
                Severity::Medium,
                target.clone(),
                format!(
                    "The mailbox audit log of {} is now kept for only {limit} days.",
                    visible(&target)
                ),
            );
        }
    }
}
