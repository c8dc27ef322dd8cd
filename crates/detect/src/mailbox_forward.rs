//! `Set-Mailbox` forwarding every message to an outside address, through
//! `ForwardingSmtpAddress` (with or without `smtp:`) or `ForwardingAddress`.

use super::address::{addresses, is_external};
use super::record::AuditRecord;
use super::target::mailbox;
use super::text::{list, visible};
use super::{Finding, MAILBOX_EXTERNAL_FORWARD, Severity, TenantContext};
use crate::evidence::{Evidence, MailboxForwardEvidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// Mailbox forwarding set to an outside address.
pub(crate) const RULE: Rule = Rule {
    id: "mailbox-external-forward",
    title: "Mail forwarded outside",
    notification: "mail forwarded outside",
    description: "The mailbox's own forwarding (`Set-Mailbox` ForwardingSmtpAddress or ForwardingAddress) \
                  sends every message to an address outside the tenant's accepted domains.",
    false_positives: "An admin forwarding a leaver's mail to a successor's outside address; trust that \
                      destination once it is confirmed.",
    attack: "T1114.003",
    severity: "critical when no copy stays in the mailbox; high otherwise",
    quieted_by: &[TrustKind::Destination],
    references: &[
        "https://attack.mitre.org/techniques/T1114/003/",
        "https://learn.microsoft.com/powershell/module/exchange/set-mailbox",
    ],
    corpus: Corpus::Records(&["set-mailbox-forwardingsmtpaddress-smtp-prefix.json"]),
};

pub(super) fn detect(record: &AuditRecord, ctx: &TenantContext, findings: &mut Vec<Finding>) {
    if !record.is("Set-Mailbox") {
        return;
    }
    let outside: Vec<String> = ["ForwardingSmtpAddress", "ForwardingAddress"]
        .iter()
        .filter_map(|p| record.param(p))
        .flat_map(addresses)
        .filter(|a| is_external(a, &ctx.accepted_domains))
        .collect();
    if outside.is_empty() {
        return;
    }
    let keep_copy = record
        .param("DeliverToMailboxAndForward")
        .map(|v| v.trim().eq_ignore_ascii_case("true"));
    let (severity, copy) = match keep_copy {
        Some(false) => (Severity::Critical, "no copy is kept in the mailbox"),
        Some(true) => (Severity::High, "a copy is kept in the mailbox"),
        None => (Severity::High, "whether a copy is kept was not changed"),
    };
    let target = mailbox(record);
    findings.push(Finding {
        rule: MAILBOX_EXTERNAL_FORWARD,
        severity,
        summary: format!(
            "Mailbox {} now forwards all mail to {} (outside the organisation); {copy}.",
            visible(&target),
            list(&outside)
        ),
        target,
        actor: record.user_id.clone(),
        details: Evidence::MailboxForward(MailboxForwardEvidence {
            destinations: outside,
            deliver_to_mailbox_and_forward: keep_copy,
            forwarding_smtp_address: record.param("ForwardingSmtpAddress").map(str::to_string),
            forwarding_address: record.param("ForwardingAddress").map(str::to_string),
        }),
    });
}
