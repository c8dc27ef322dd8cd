//! Mail-flow (transport) rules: tenant-wide, so one rule can copy or redirect every
//! message of the organisation outside it, or silently drop mail.

use super::address::{addresses, is_external};
use super::record::AuditRecord;
use super::text::{list, quoted};
use super::{Finding, Severity, TRANSPORT_RULE_REDIRECT, TenantContext};
use crate::evidence::{Evidence, TransportConditions, TransportRuleEvidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// Mail-flow rules that copy, redirect or drop the organisation's mail.
pub(crate) const RULE: Rule = Rule {
    id: "transport-rule-redirect",
    title: "Transport rule redirects mail",
    notification: "transport rule redirects mail",
    description: "A mail-flow (transport) rule copies or redirects messages to an address outside the \
                  organisation, or deletes them. One rule acts on every mailbox of the tenant.",
    false_positives: "Journaling or archiving services and compliance copies to a vendor; trust the \
                      destination, or the rule's name for a rule that only deletes.",
    attack: "T1114.003",
    severity: "critical when it redirects or deletes; high when it copies",
    quieted_by: &[TrustKind::Destination, TrustKind::RuleName],
    references: &[
        "https://attack.mitre.org/techniques/T1114/003/",
        "https://learn.microsoft.com/powershell/module/exchange/new-transportrule",
    ],
    corpus: Corpus::Missing(
        "no real New-TransportRule or Set-TransportRule record is public in the corpus's sources",
    ),
};

const ORGANISATION: &str = "the whole organisation";

/// Parameters that send a message to more people, and how to say them.
const SENDS: [(&str, &str); 4] = [
    ("RedirectMessageTo", "redirects messages to"),
    ("BlindCopyTo", "blind-copies messages to"),
    ("CopyTo", "copies messages to"),
    ("AddToRecipients", "adds as a recipient"),
];

pub(super) fn detect(record: &AuditRecord, ctx: &TenantContext, findings: &mut Vec<Finding>) {
    if !(record.is("New-TransportRule") || record.is("Set-TransportRule")) {
        return;
    }
    let mut actions = Vec::new();
    let mut destinations = Vec::new();
    let mut redirects = false;
    for (param, verb) in SENDS {
        let outside: Vec<String> = record
            .param(param)
            .map(addresses)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| is_external(a, &ctx.accepted_domains))
            .collect();
        if !outside.is_empty() {
            redirects |= param == "RedirectMessageTo";
            actions.push(format!(
                "{verb} {} (outside the organisation)",
                list(&outside)
            ));
            destinations.extend(outside);
        }
    }
    let deletes = record.flag("DeleteMessage");
    if deletes {
        actions.push("deletes messages without notice".to_string());
    }
    if actions.is_empty() {
        return;
    }
    let name = record
        .param("Name")
        .or_else(|| record.param("Identity"))
        .unwrap_or(&record.object_id);
    // Redirecting takes the mail away; copying leaks it while everyone still gets theirs.
    let severity = if redirects || deletes {
        Severity::Critical
    } else {
        Severity::High
    };
    findings.push(Finding {
        rule: TRANSPORT_RULE_REDIRECT,
        severity,
        target: ORGANISATION.to_string(),
        actor: record.user_id.clone(),
        summary: format!(
            "Mail-flow rule {} for {ORGANISATION} {}.",
            quoted(name),
            list(&actions)
        ),
        details: Evidence::TransportRule(TransportRuleEvidence {
            rule_name: name.to_string(),
            operation: record.operation.clone(),
            destinations,
            deletes,
            conditions: TransportConditions {
                from: record.param("From").map(str::to_string),
                sent_to: record.param("SentTo").map(str::to_string),
                sent_to_scope: record.param("SentToScope").map(str::to_string),
            },
        }),
    });
}
