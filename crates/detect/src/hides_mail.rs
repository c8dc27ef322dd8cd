//! Inbox rules that keep mail from its owner: deleting it, parking it in a folder nobody
//! opens, or marking it read so it goes unnoticed.
//!
//! Severity: deleting or hiding in a folder is critical for all mail or behind a
//! security word (the attacker silencing warnings), high behind a finance word or under
//! a machine-made name, medium otherwise. Marking read alone is a step lower (high,
//! medium) and nothing with an ordinary condition into an ordinary folder.

use super::inbox_rule::InboxRule;
use super::record::AuditRecord;
use super::signals::{Keyword, suspicious_name};
use super::{Finding, INBOX_RULE_HIDES_MAIL, Severity, TenantContext};
use crate::evidence::{Evidence, InboxRuleEvidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// Inbox rules that delete, hide or mark read the owner's mail.
pub(crate) const RULE: Rule = Rule {
    id: "inbox-rule-hides-mail",
    title: "Inbox rule hides mail",
    notification: "inbox rule hides mail",
    description: "An inbox rule deletes mail, moves it to a folder nobody opens, or marks it read, so the \
                  owner does not see replies, bank warnings or security notices while an attacker works.",
    false_positives: "Users' own clean-up rules for newsletters or notifications; trust the rule's name once \
                      it is confirmed with the user.",
    attack: "T1564.008",
    severity: "deleting or hiding: critical for all mail or behind a security word, high behind a finance word \
               or under a machine-made name, medium otherwise; marking read alone a step lower",
    quieted_by: &[TrustKind::RuleName, TrustKind::Rule],
    references: &[
        "https://attack.mitre.org/techniques/T1564/008/",
        "https://learn.microsoft.com/powershell/module/exchange/new-inboxrule",
    ],
    corpus: Corpus::Records(&[
        "new-inboxrule-noconditions-delete-markasread.json",
        "new-inboxrule-subject-delete.json",
        "set-inboxrule-move-deleted-items.json",
        "new-inboxrule-sentinel-lab-junk-and-delete.json",
    ]),
};

pub(super) fn detect(
    rule: &InboxRule,
    record: &AuditRecord,
    ctx: &TenantContext,
    findings: &mut Vec<Finding>,
) {
    let removes = rule.deletes || rule.hides_in_folder();
    if !removes && !rule.marks_read {
        return;
    }
    let keyword = rule.keyword().map(|(k, _)| k);
    let grave = rule.applies_to_all() || keyword == Some(Keyword::Security);
    let telling = keyword == Some(Keyword::Finance) || suspicious_name(&rule.name);
    let severity = match (removes, grave, telling) {
        (true, true, _) => Severity::Critical,
        (true, false, true) | (false, true, _) => Severity::High,
        (true, false, false) | (false, false, true) => Severity::Medium,
        (false, false, false) => return,
    };
    let details = Evidence::InboxRule(InboxRuleEvidence {
        hidden_folder: Some(rule.hides_in_folder()),
        suspicious_name: Some(suspicious_name(&rule.name)),
        ..rule.details(&record.operation, Vec::new())
    });
    findings.push(Finding {
        rule: INBOX_RULE_HIDES_MAIL,
        severity,
        target: rule.target.clone(),
        actor: record.user_id.clone(),
        summary: rule.sentence(ctx),
        details,
    });
}
