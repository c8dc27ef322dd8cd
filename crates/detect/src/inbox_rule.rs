//! Inbox rules, read into one shape whether made with `New-InboxRule` / `Set-InboxRule`
//! or in Outlook (`UpdateInboxRules`, see [`outlook_rule`](super::outlook_rule)), and
//! the forwarding check: every address outside the organisation, not only the first.

use super::address::{addresses, is_external};
use super::record::AuditRecord;
use super::signals::{Keyword, hidden_folder, keyword};
use super::target::{inbox_rule_mailbox, split_rule_identity};
use super::text::{list, quoted, visible};
use super::{Finding, INBOX_RULE_EXTERNAL_FORWARD, Severity, TenantContext};
use crate::evidence::{Condition, Evidence, InboxRuleEvidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// Forwarding or redirecting by inbox rule to an address outside the organisation.
pub(crate) const RULE: Rule = Rule {
    id: "inbox-rule-external-forward",
    title: "Inbox rule forwards mail outside",
    notification: "inbox rule forwards mail outside",
    description: "An inbox rule forwards, redirects or sends as an attachment to an address outside the \
                  tenant's accepted domains. Attackers who took over a mailbox use it to keep reading the \
                  owner's mail after the password is changed.",
    false_positives: "A user forwarding to their own private mailbox, or to an accountant or partner; trust \
                      that destination once it is confirmed.",
    attack: "T1114.003",
    severity: "critical when the rule takes all mail, deletes it, hides it in a folder or acts on a finance or \
               security word; high otherwise",
    quieted_by: &[TrustKind::Destination],
    references: &[
        "https://attack.mitre.org/techniques/T1114/003/",
        "https://learn.microsoft.com/powershell/module/exchange/new-inboxrule",
    ],
    corpus: Corpus::Missing("the corpus's rule records delete or move mail; none forwards outside"),
};

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
pub(super) const FORWARD: &str = "forwards it to";
pub(super) const FORWARD_AS_ATTACHMENT: &str = "forwards it as an attachment to";
pub(super) const REDIRECT: &str = "redirects it to";
const FORWARDS: [(&str, &str); 3] = [
    ("ForwardTo", FORWARD),
    ("ForwardAsAttachmentTo", FORWARD_AS_ATTACHMENT),
    ("RedirectTo", REDIRECT),
];

const DELETES: [&str; 3] = ["DeleteMessage", "SoftDeleteMessage", "PermanentDelete"];

/// What one record says a rule does, however it was made.
#[derive(Debug, Default)]
pub(super) struct InboxRule {
    pub name: String,
    pub target: String,
    /// The record shows the whole rule (a new rule), not only what changed.
    pub created: bool,
    pub conditions: Vec<(String, String)>,
    pub exceptions: Vec<String>,
    /// Each forwarding verb with the addresses it sends to.
    pub forwards: Vec<(&'static str, Vec<String>)>,
    pub move_to: Option<String>,
    pub deletes: bool,
    pub deletes_permanently: bool,
    pub marks_read: bool,
    pub stops_other_rules: bool,
}

impl InboxRule {
    /// A `New-InboxRule` / `Set-InboxRule` record; `None` for other operations.
    pub(crate) fn from_cmdlet(record: &AuditRecord) -> Option<Self> {
        if !(record.is("New-InboxRule") || record.is("Set-InboxRule")) {
            return None;
        }
        let name = record
            .param("Name")
            .map(str::to_string)
            .or_else(|| {
                record
                    .param("Identity")
                    .map(|i| split_rule_identity(i).map_or(i, |(_, n)| n).to_string())
            })
            .or_else(|| split_rule_identity(&record.object_id).map(|(_, n)| n.to_string()))
            .unwrap_or_default();
        let conditions = record
            .parameters
            .iter()
            .filter(|p| {
                CONDITIONS.iter().any(|c| c.eq_ignore_ascii_case(&p.name)) && !p.value.is_empty()
            })
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect();
        let exceptions = record
            .parameters
            .iter()
            .filter(|p| p.name.len() > 8 && p.name.is_char_boundary(8))
            .filter(|p| p.name[..8].eq_ignore_ascii_case("ExceptIf") && !p.value.is_empty())
            .map(|p| p.name[8..].to_string())
            .collect();
        let forwards = FORWARDS
            .iter()
            .filter_map(|(param, verb)| {
                let found = record.param(param).map(addresses).unwrap_or_default();
                (!found.is_empty()).then_some((*verb, found))
            })
            .collect();
        Some(InboxRule {
            name,
            target: inbox_rule_mailbox(record),
            created: record.is("New-InboxRule"),
            conditions,
            exceptions,
            forwards,
            move_to: record
                .param("MoveToFolder")
                .filter(|f| !f.is_empty())
                .map(str::to_string),
            deletes: DELETES.iter().any(|d| record.flag(d)),
            deletes_permanently: record.flag("PermanentDelete"),
            marks_read: record.flag("MarkAsRead"),
            stops_other_rules: record.flag("StopProcessingRules"),
        })
    }

    /// Conditions that match every message: the NUL character (Permiso's
    /// "Inboxfuscation") or a minimum size no message is below.
    fn catch_all(&self) -> bool {
        !self.conditions.is_empty()
            && self.conditions.iter().all(|(name, value)| {
                value.contains('\0')
                    || (name.eq_ignore_ascii_case("WithinSizeRangeMinimum")
                        && size_in_bytes(value).is_some_and(|b| b <= 1023))
            })
    }

    /// Only a new rule's record shows all its conditions; Set-InboxRule logs the
    /// parameters that changed (../shared/reference/m365-api.md A11). A catch-all condition counts either way.
    pub(crate) fn applies_to_all(&self) -> bool {
        (self.created && self.conditions.is_empty()) || self.catch_all()
    }

    pub(crate) fn hides_in_folder(&self) -> bool {
        self.move_to.as_deref().is_some_and(hidden_folder)
    }

    /// The most telling sensitive word in the conditions, security before finance.
    pub(crate) fn keyword(&self) -> Option<(Keyword, &'static str)> {
        let found: Vec<_> = self
            .conditions
            .iter()
            .filter_map(|(_, v)| keyword(v))
            .collect();
        found
            .iter()
            .find(|(k, _)| *k == Keyword::Security)
            .or(found.first())
            .copied()
    }

    pub(crate) fn external(&self, ctx: &TenantContext) -> Vec<(&'static str, Vec<String>)> {
        self.forwards
            .iter()
            .map(|(verb, addrs)| {
                (
                    *verb,
                    addrs
                        .iter()
                        .filter(|a| is_external(a, &ctx.accepted_domains))
                        .cloned()
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, addrs)| !addrs.is_empty())
            .collect()
    }

    fn scope(&self) -> String {
        if self.applies_to_all() {
            let mut s = "applies to every incoming message".to_string();
            if self.catch_all() {
                let parts: Vec<String> = self
                    .conditions
                    .iter()
                    .map(|(n, v)| condition_words(n, v))
                    .collect();
                s.push_str(&format!(
                    " (its condition, messages {}, matches everything)",
                    list(&parts)
                ));
            }
            if !self.exceptions.is_empty() {
                s.push_str(&format!(
                    " (except by {})",
                    visible(&self.exceptions.join(", "))
                ));
            }
            return s;
        }
        if self.conditions.is_empty() {
            return "was changed".to_string();
        }
        let parts: Vec<String> = self
            .conditions
            .iter()
            .map(|(n, v)| condition_words(n, v))
            .collect();
        format!("applies to messages {}", list(&parts))
    }

    /// The rule's actions in plain words, in the order they act.
    fn actions(&self, external: &[(&str, Vec<String>)]) -> Vec<String> {
        let mut out = Vec::new();
        for (verb, addrs) in external {
            out.push(format!("{verb} {} (outside the organisation)", list(addrs)));
        }
        if let Some(folder) = &self.move_to {
            out.push(format!("moves it to {}", quoted(folder)));
        }
        if self.deletes_permanently {
            out.push("deletes it permanently".into());
        } else if self.deletes {
            out.push("deletes it".into());
        }
        if self.marks_read {
            out.push("marks it as read".into());
        }
        if self.stops_other_rules {
            out.push("stops other rules".into());
        }
        out
    }

    /// The one sentence both rule checks show.
    pub(crate) fn sentence(&self, ctx: &TenantContext) -> String {
        let name = if self.name.is_empty() {
            "(no name logged)".to_string()
        } else {
            quoted(&self.name)
        };
        format!(
            "Rule {name} on {} {}: {}.",
            visible(&self.target),
            self.scope(),
            self.actions(&self.external(ctx)).join(", ")
        )
    }

    pub(crate) fn details(&self, operation: &str, destinations: Vec<String>) -> InboxRuleEvidence {
        InboxRuleEvidence {
            rule_name: self.name.clone(),
            operation: operation.to_string(),
            applies_to_all: self.applies_to_all(),
            conditions: self
                .conditions
                .iter()
                .map(|(name, value)| Condition {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            destinations,
            move_to_folder: self.move_to.clone(),
            deletes: self.deletes,
            marks_as_read: self.marks_read,
            stops_other_rules: self.stops_other_rules,
            keyword: self.keyword().map(|(_, w)| w.to_string()),
            hidden_folder: None,
            suspicious_name: None,
        }
    }
}

/// `1023`, `1KB`, `2 MB`, or Exchange's own `1 KB (1,024 bytes)`.
fn size_in_bytes(value: &str) -> Option<u64> {
    let v = value.trim().to_ascii_lowercase();
    if let Some((_, inner)) = v.split_once('(') {
        let digits: String = inner
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .filter(|c| *c != ',')
            .collect();
        return digits.parse().ok();
    }
    let digits: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
    let number: u64 = digits.parse().ok()?;
    let unit = v[digits.len()..].trim();
    let factor: u64 = match unit {
        "" | "b" | "bytes" => 1,
        "kb" => 1 << 10,
        "mb" => 1 << 20,
        "gb" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
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
        "withinsizerangeminimum" => format!("of at least {v} in size"),
        "condition" => format!("matching {v}"),
        _ => format!("matching {} {v}", visible(name)),
    }
}

/// Forwarding outside the organisation. Critical when it takes all mail, also deletes or
/// hides it, or filters on security or finance words; high otherwise.
pub(super) fn detect(
    rule: &InboxRule,
    record: &AuditRecord,
    ctx: &TenantContext,
    findings: &mut Vec<Finding>,
) {
    let external = rule.external(ctx);
    if external.is_empty() {
        return;
    }
    let destinations: Vec<String> = external.iter().flat_map(|(_, a)| a.clone()).collect();
    let aggravated =
        rule.applies_to_all() || rule.deletes || rule.hides_in_folder() || rule.keyword().is_some();
    findings.push(Finding {
        rule: INBOX_RULE_EXTERNAL_FORWARD,
        severity: if aggravated {
            Severity::Critical
        } else {
            Severity::High
        },
        target: rule.target.clone(),
        actor: record.user_id.clone(),
        summary: rule.sentence(ctx),
        details: Evidence::InboxRule(rule.details(&record.operation, destinations)),
    });
}

#[cfg(test)]
mod tests {
    use super::size_in_bytes;

    #[test]
    fn sizes_as_exchange_writes_them() {
        assert_eq!(size_in_bytes("1023"), Some(1023));
        assert_eq!(size_in_bytes("1KB"), Some(1024));
        assert_eq!(size_in_bytes("1 KB (1,024 bytes)"), Some(1024));
        assert_eq!(size_in_bytes("2 mb"), Some(2 << 20));
        assert_eq!(size_in_bytes("lots"), None);
    }
}
