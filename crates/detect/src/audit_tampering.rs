//! Changes that blind the audit log: switching off unified audit ingestion (Rulewatch's
//! own source) or mailbox auditing for the whole organisation, exempting an account from
//! mailbox auditing, turning a mailbox's auditing off, narrowing the actions it logs, or
//! shortening how long its audit log is kept.

use super::record::{AuditRecord, truth};
use super::target::mailbox;
use super::text::{list, visible};
use super::{AUDIT_TAMPERING, Finding, Severity};
use crate::evidence::{AuditTamperingEvidence, Evidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// Changes that blind the audit log.
pub(crate) const RULE: Rule = Rule {
    id: "audit-tampering",
    title: "Auditing weakened",
    notification: "auditing weakened",
    description: "Unified audit ingestion, or mailbox auditing for the whole organisation \
                  (`Set-OrganizationConfig -AuditDisabled`), was switched off, an account was exempted from \
                  mailbox auditing, or a mailbox's auditing was turned off, stopped logging actions \
                  (`Set-Mailbox -AuditOwner/-AuditDelegate/-AuditAdmin`) or shortened: what an attacker does \
                  next may not be recorded at all. Records come from Exchange, content type Audit.Exchange.",
    false_positives: "Service accounts exempted from auditing on purpose to cut noise; audit action lists \
                      trimmed to save space; confirm with whoever runs the tenant.",
    attack: "T1562.008",
    severity: "ingestion or organisation-wide mailbox auditing off: critical; an account exempted, a \
               mailbox's auditing off, or its inbox-rule or mail-access actions no longer logged: high; other \
               audit actions dropped, or changed in a way the record does not show, and a shorter log: medium",
    quieted_by: &[TrustKind::Rule],
    references: &[
        "https://attack.mitre.org/techniques/T1562/008/",
        "https://learn.microsoft.com/powershell/module/exchange/set-mailboxauditbypassassociation",
        "https://learn.microsoft.com/purview/audit-mailboxes",
        "https://learn.microsoft.com/powershell/module/exchange/set-organizationconfig",
    ],
    corpus: Corpus::Records(&["set-mailboxauditbypassassociation.json"]),
};

/// Exchange Online's default mailbox audit retention.
const DEFAULT_AGE_LIMIT_DAYS: u64 = 90;

/// The audit action lists of a mailbox, per kind of sign-in, and what to call them.
const AUDIT_LISTS: [(&str, &str); 3] = [
    ("AuditOwner", "owner"),
    ("AuditDelegate", "delegate"),
    ("AuditAdmin", "admin"),
];

/// Logged actions a responder needs, all in Exchange Online's defaults for the three
/// lists ("Manage mailbox auditing"): rule changes, mail read, deletions and folder
/// sharing.
const NEEDED: [&str; 6] = [
    "UpdateInboxRules",
    "MailItemsAccessed",
    "HardDelete",
    "SoftDelete",
    "MoveToDeletedItems",
    "UpdateFolderPermissions",
];

/// Those whose loss blinds Rulewatch itself: Outlook's inbox rules, and mail read.
const VITAL: [&str; 2] = ["UpdateInboxRules", "MailItemsAccessed"];

fn is_false(value: Option<&str>) -> bool {
    value.and_then(truth) == Some(false)
}

/// What a new audit action list drops of [`NEEDED`]: `None` when the record cannot say.
/// A plain list replaces the old one, so what it lacks is dropped (`$null` drops all);
/// `@{Remove=…}` drops what it names; `@{Add=…}` drops nothing. GUESS: a hashtable may
/// be logged as its type name, `System.Collections.Hashtable`, which says nothing.
fn dropped(value: &str) -> Option<Vec<&'static str>> {
    let lower = value.trim().to_ascii_lowercase();
    if lower.contains("hashtable") {
        return None;
    }
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty() && *w != "null")
            .map(str::to_string)
            .collect()
    };
    let hashtable = lower.starts_with("@{") || (lower.starts_with('{') && lower.contains('='));
    // A list names what stays; a hashtable's `Remove=` names what goes.
    let (named, names_what_stays) = if hashtable {
        let removed = lower
            .split_once("remove")
            .map_or("", |(_, rest)| rest.split([';', '}']).next().unwrap_or(""));
        (words(removed), false)
    } else {
        (words(&lower), true)
    };
    Some(
        NEEDED
            .iter()
            .copied()
            .filter(|a| named.contains(&a.to_ascii_lowercase()) != names_what_stays)
            .collect(),
    )
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
                parameters: record.conditions(),
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
    if record.is("Set-OrganizationConfig")
        && record.param("AuditDisabled").and_then(truth) == Some(true)
    {
        found(
            Severity::Critical,
            "the whole organisation".to_string(),
            "Mailbox auditing was switched off for the whole organisation: what anyone does in any mailbox is no longer logged.".to_string(),
        );
    }
    if record.is("Set-MailboxAuditBypassAssociation")
        && record.param("AuditBypassEnabled").and_then(truth) == Some(true)
    {
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
        for (param, logon) in AUDIT_LISTS {
            let Some(value) = record.param(param) else {
                continue;
            };
            match dropped(value) {
                Some(gone) if gone.is_empty() => {}
                Some(gone) => {
                    let severity = if gone.iter().any(|a| VITAL.contains(a)) {
                        Severity::High
                    } else {
                        Severity::Medium
                    };
                    let names: Vec<String> = gone.iter().map(|a| a.to_string()).collect();
                    found(
                        severity,
                        target.clone(),
                        format!(
                            "Mailbox {} no longer logs {} when its {logon} signs in.",
                            visible(&target),
                            list(&names)
                        ),
                    );
                }
                None => found(
                    Severity::Medium,
                    target.clone(),
                    format!(
                        "The {logon} audit actions of mailbox {} were changed; the record does not show how.",
                        visible(&target)
                    ),
                ),
            }
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
