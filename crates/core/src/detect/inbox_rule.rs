//! Inbox rules made or changed with `New-InboxRule` / `Set-InboxRule`: forwarding
//! outside the organisation (every address, not the first), and rules that delete
//! every incoming message.

use serde_json::json;

use super::address::{addresses, is_external};
use super::record::AuditRecord;
use super::target::inbox_rule_mailbox;
use super::text::{list, quoted, visible};
use super::{Finding, INBOX_RULE_EXTERNAL_FORWARD, INBOX_RULE_HIDES_MAIL, Severity, TenantContext};

/// Condition parameters of New-/Set-InboxRule (Exchange docs). A rule with none of
/// them applies to every message; `ExceptIf*` only narrows that.
const CONDITIONS: [&str; 26] = [
    "BodyContainsWords",
    "FlaggedForAction",
    "From",
    "FromAddressContainsWords",
    "FromSubscription",
    "HasAttachment",
    "HasClassification",
    "HeaderContainsWords",
    "MessageTypeMatches",
    "MyNameInCcBox",
    "MyNameInToBox",
    "MyNameInToOrCcBox",
    "MyNameNotInToBox",
    "ReceivedAfterDate",
    "ReceivedBeforeDate",
    "RecipientAddressContainsWords",
    "SentOnlyToMe",
    "SentTo",
    "SubjectContainsWords",
    "SubjectOrBodyContainsWords",
    "WithImportance",
    "WithinSizeRangeMaximum",
    "WithinSizeRangeMinimum",
    "WithSensitivity",
    "FromAddress",
    "RecipientAddress",
];

/// Forwarding actions and how to say them.
const FORWARDS: [(&str, &str); 3] = [
    ("ForwardTo", "forwards it to"),
    ("ForwardAsAttachmentTo", "forwards it as an attachment to"),
    ("RedirectTo", "redirects it to"),
];

const DELETES: [&str; 3] = ["DeleteMessage", "SoftDeleteMessage", "PermanentDelete"];

struct Rule<'a> {
    record: &'a AuditRecord,
    name: String,
    created: bool,
    conditions: Vec<(String, String)>,
    exceptions: Vec<String>,
}

impl<'a> Rule<'a> {
    fn read(record: &'a AuditRecord) -> Self {
        let name = record
            .param("Name")
            .map(str::to_string)
            .or_else(|| record.param("Identity").map(|i| i.rsplit('\\').next().unwrap_or(i).to_string()))
            .or_else(|| record.object_id.rsplit_once('\\').map(|(_, n)| n.to_string()))
            .unwrap_or_default();
        let conditions = record
            .parameters
            .iter()
            .filter(|p| CONDITIONS.iter().any(|c| c.eq_ignore_ascii_case(&p.name)) && !p.value.is_empty())
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect();
        let exceptions = record
            .parameters
            .iter()
            .filter(|p| p.name.len() > 8 && p.name[..8].eq_ignore_ascii_case("ExceptIf") && !p.value.is_empty())
            .map(|p| p.name[8..].to_string())
            .collect();
        Rule { record, name, created: record.is("New-InboxRule"), conditions, exceptions }
    }

    /// Only a new rule's record shows all its conditions; Set-InboxRule logs the
    /// parameters that changed (m365-api.md A11).
    fn applies_to_all(&self) -> bool {
        self.created && self.conditions.is_empty()
    }

    fn deletes(&self) -> bool {
        DELETES.iter().any(|d| self.record.flag(d))
    }

    fn scope(&self) -> String {
        if self.applies_to_all() {
            let mut s = "applies to every incoming message".to_string();
            if !self.exceptions.is_empty() {
                s.push_str(&format!(" (except by {})", visible(&self.exceptions.join(", "))));
            }
            return s;
        }
        if self.conditions.is_empty() {
            return "was changed".to_string();
        }
        let parts: Vec<String> = self.conditions.iter().map(|(n, v)| condition_words(n, v)).collect();
        format!("applies to messages {}", list(&parts))
    }

    /// The rule's actions in plain words, in the order they act.
    fn actions(&self, external: &[(&str, Vec<String>)]) -> Vec<String> {
        let mut out = Vec::new();
        for (verb, addrs) in external {
            out.push(format!("{verb} {} (outside the organisation)", list(addrs)));
        }
        if let Some(folder) = self.record.param("MoveToFolder").filter(|f| !f.is_empty()) {
            out.push(format!("moves it to {}", quoted(folder)));
        }
        if self.record.flag("PermanentDelete") {
            out.push("deletes it permanently".into());
        } else if self.deletes() {
            out.push("deletes it".into());
        }
        if self.record.flag("MarkAsRead") {
            out.push("marks it as read".into());
        }
        if self.record.flag("StopProcessingRules") {
            out.push("stops other rules".into());
        }
        out
    }
}

fn condition_words(name: &str, value: &str) -> String {
    let v = quoted(value);
    match name.to_ascii_lowercase().as_str() {
        "subjectcontainswords" => format!("whose subject contains {v}"),
        "bodycontainswords" => format!("whose body contains {v}"),
        "subjectorbodycontainswords" => format!("whose subject or body contains {v}"),
        "from" | "fromaddress" => format!("from {v}"),
        "fromaddresscontainswords" => format!("whose sender address contains {v}"),
        "sentto" | "recipientaddress" => format!("sent to {v}"),
        "hasattachment" => "with attachments".into(),
        _ => format!("matching {} {v}", visible(name)),
    }
}

pub(super) fn detect(record: &AuditRecord, ctx: &TenantContext, findings: &mut Vec<Finding>) {
    if !(record.is("New-InboxRule") || record.is("Set-InboxRule")) {
        return;
    }
    let rule = Rule::read(record);
    let target = inbox_rule_mailbox(record);

    let mut external: Vec<(&str, Vec<String>)> = Vec::new();
    for (param, verb) in FORWARDS {
        let outside: Vec<String> = record
            .param(param)
            .map(addresses)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| is_external(a, &ctx.accepted_domains))
            .collect();
        if !outside.is_empty() {
            external.push((verb, outside));
        }
    }
    let sentence = format!(
        "Rule {} on {} {}: {}.",
        quoted(&rule.name),
        visible(&target),
        rule.scope(),
        rule.actions(&external).join(", ")
    );
    let details = |destinations: Vec<String>| {
        json!({
            "rule_name": rule.name,
            "operation": record.operation,
            "applies_to_all": rule.applies_to_all(),
            "conditions": rule.conditions.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
            "destinations": destinations,
            "deletes": rule.deletes(),
        })
    };

    if !external.is_empty() {
        let destinations: Vec<String> = external.iter().flat_map(|(_, a)| a.clone()).collect();
        let severity = if rule.applies_to_all() || rule.deletes() { Severity::Critical } else { Severity::High };
        findings.push(Finding {
            rule: INBOX_RULE_EXTERNAL_FORWARD,
            severity,
            target: target.clone(),
            actor: record.user_id.clone(),
            summary: sentence.clone(),
            details: details(destinations),
        });
    }
    if rule.deletes() && rule.applies_to_all() {
        findings.push(Finding {
            rule: INBOX_RULE_HIDES_MAIL,
            severity: Severity::High,
            target,
            actor: record.user_id.clone(),
            summary: sentence,
            details: details(Vec::new()),
        });
    }
}
