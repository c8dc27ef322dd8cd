//! POP, IMAP or SMTP AUTH turned on (Exchange Online cmdlets, content type
//! `Audit.Exchange`): protocols that sign in with a password alone, which attackers turn
//! on to pull a mailbox into their own client or send from it where MFA never asks.
//!
//! Severity: SMTP AUTH for the whole organisation (`Set-TransportConfig`) or POP/IMAP in
//! a mailbox plan (every new mailbox) high; several protocols in one mailbox at once (the
//! "turn everything on for my sync tool" pattern) medium; one protocol in one mailbox (a
//! helpdesk setting up a scanner or an old phone) low.

use super::record::{AuditRecord, truth};
use super::target::mailbox;
use super::text::{list, visible};
use super::{Finding, LEGACY_PROTOCOL, Severity};
use crate::evidence::{Evidence, ProtocolEvidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// Mail protocols that bypass MFA turned on.
pub(crate) const RULE: Rule = Rule {
    id: "legacy-protocol-enabled",
    title: "Legacy mail protocol enabled",
    notification: "legacy mail protocol enabled",
    description: "POP, IMAP or SMTP AUTH was turned on for a mailbox (`Set-CASMailbox`), for a mailbox \
                  plan (`Set-CASMailboxPlan`) or SMTP AUTH for the whole organisation (`Set-TransportConfig \
                  -SmtpClientAuthenticationDisabled $false`). These protocols take a password alone, so an \
                  attacker can read or send the mailbox's mail from their own client. Records come from \
                  Exchange, content type Audit.Exchange.",
    false_positives: "A scanner or line-of-business application that sends with SMTP AUTH; an old phone \
                      or mail client a helpdesk set up on purpose.",
    attack: "T1114.002",
    severity: "SMTP AUTH for the organisation, or POP/IMAP in a mailbox plan: high; several protocols in \
               one mailbox: medium; one protocol in one mailbox: low",
    quieted_by: &[TrustKind::Rule],
    references: &[
        "https://attack.mitre.org/techniques/T1114/002/",
        "https://learn.microsoft.com/powershell/module/exchange/set-casmailbox",
        "https://learn.microsoft.com/exchange/clients-and-mobile-in-exchange-online/authenticated-client-smtp-submission",
        "https://github.com/elastic/detection-rules/blob/main/rules/integrations/o365/initial_access_identity_ropc_grant_via_legacy_authenticated_client.toml",
    ],
    corpus: Corpus::Records(&["set-casmailbox-enable-pop-imap.json"]),
};

pub(super) fn detect(record: &AuditRecord, findings: &mut Vec<Finding>) {
    let on = |name| record.param(name).and_then(truth) == Some(true);
    // SmtpClientAuthenticationDisabled is the inverse; blank or `$null` means "the
    // organisation's setting", not on.
    let smtp = record
        .param("SmtpClientAuthenticationDisabled")
        .and_then(truth)
        == Some(false);
    let (scope, target, severity) = if record.is("Set-TransportConfig") {
        if !smtp {
            return;
        }
        let target = "the whole organisation".to_string();
        ("organisation", target, Severity::High)
    } else if record.is("Set-CASMailboxPlan") {
        ("mailbox plan", mailbox(record), Severity::High)
    } else if record.is("Set-CASMailbox") {
        ("mailbox", mailbox(record), Severity::Medium)
    } else {
        return;
    };
    let protocols: Vec<String> = [
        (on("PopEnabled"), "POP"),
        (on("ImapEnabled"), "IMAP"),
        (smtp, "SMTP AUTH"),
    ]
    .into_iter()
    .filter(|(enabled, _)| *enabled)
    .map(|(_, name)| name.to_string())
    .collect();
    if protocols.is_empty() {
        return;
    }
    let severity = if scope == "mailbox" && protocols.len() == 1 {
        Severity::Low
    } else {
        severity
    };
    let place = match scope {
        "organisation" => "the whole organisation".to_string(),
        "mailbox plan" => format!("mailbox plan {} (every new mailbox)", visible(&target)),
        _ => format!("mailbox {}", visible(&target)),
    };
    findings.push(Finding {
        rule: LEGACY_PROTOCOL,
        severity,
        summary: format!(
            "{} {} turned on for {place} by {}: {} a password alone, with no MFA.",
            list(&protocols),
            if protocols.len() == 1 { "was" } else { "were" },
            visible(&record.user_id),
            if protocols.len() == 1 {
                "it takes"
            } else {
                "they take"
            },
        ),
        target,
        actor: record.user_id.clone(),
        details: Evidence::Protocol(ProtocolEvidence {
            operation: record.operation.clone(),
            protocols,
            scope: scope.to_string(),
        }),
    });
}
