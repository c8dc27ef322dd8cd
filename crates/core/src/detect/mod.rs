//! Detection: a pure function from one audit record and the tenant's context to the
//! threats it shows. Each rule lives in its own module and adds its findings; a new
//! rule is a new module listed in [`detect`].

pub mod address;
mod audit_tampering;
mod delegation;
pub mod fan_in;
mod hides_mail;
mod inbox_rule;
pub mod input;
mod mailbox_forward;
mod outlook_rule;
pub mod record;
mod signals;
mod target;
mod text;
mod transport_rule;
#[cfg(test)]
mod tests;

use serde::Serialize;
use serde_json::Value;

pub use record::AuditRecord;
pub use text::visible as visible_text;

/// What detection knows of the tenant besides the record.
#[derive(Debug, Clone, Default)]
pub struct TenantContext {
    /// Accepted (verified) domains, lower-cased. Anything else is outside.
    pub accepted_domains: Vec<String>,
    /// What the technician trusts. Rules never read it: findings stay true, and the
    /// engine stores the ones it covers as suppressed.
    pub allowlist: crate::allowlist::Allowlist,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Self> {
        [Severity::Low, Severity::Medium, Severity::High, Severity::Critical].into_iter().find(|v| v.as_str() == s)
    }

    /// One step graver; critical stays critical.
    pub fn raised(self) -> Self {
        match self {
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One threat shown by one record.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    /// The mailbox that was changed.
    pub target: String,
    /// Who made the change (`UserId`).
    pub actor: String,
    /// One plain sentence for the technician.
    pub summary: String,
    /// Rule-specific evidence (destinations, rule name, actions…).
    pub details: Value,
}

/// A finding with the facts of the record that showed it: what `scan` stores and
/// `check` prints.
#[derive(Debug, Clone, Serialize)]
pub struct RecordAlert {
    pub record_id: String,
    pub operation: String,
    pub client_ip: Option<String>,
    pub event_time: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(flatten)]
    pub finding: Finding,
}

/// Every finding of one record, with the record's facts.
pub fn alerts(record: &AuditRecord, ctx: &TenantContext) -> Vec<RecordAlert> {
    detect(record, ctx)
        .into_iter()
        .map(|finding| RecordAlert {
            record_id: record.id.clone(),
            operation: record.operation.clone(),
            client_ip: record.client_address(),
            event_time: record.event_time(),
            finding,
        })
        .collect()
}

pub const INBOX_RULE_EXTERNAL_FORWARD: &str = "inbox-rule-external-forward";
pub const INBOX_RULE_HIDES_MAIL: &str = "inbox-rule-hides-mail";
pub const MAILBOX_EXTERNAL_FORWARD: &str = "mailbox-external-forward";
pub const TRANSPORT_RULE_REDIRECT: &str = "transport-rule-redirect";
pub const MAILBOX_DELEGATION: &str = "mailbox-delegation";
pub const AUDIT_TAMPERING: &str = "audit-tampering";
pub const FORWARDING_FAN_IN: &str = "forwarding-fan-in";

/// Operations any rule looks at, lower-cased; the cheap pre-filter in
/// [`is_candidate`] keys on them.
/// (`set-mailbox` also covers Set-MailboxAuditBypassAssociation and
/// Set-MailboxFolderPermission; `inboxrule` covers UpdateInboxRules.)
const WATCHED: [&str; 7] = [
    "inboxrule",
    "set-mailbox",
    "transportrule",
    "mailboxpermission",
    "recipientpermission",
    "folderpermission",
    "adminauditlogconfig",
];

/// Cheap test on a record's raw JSON: can any rule fire on it? Most of a blob is mail
/// access noise that never needs a full parse.
pub fn is_candidate(raw_json: &str) -> bool {
    let bytes = raw_json.as_bytes();
    WATCHED.iter().any(|needle| {
        let n = needle.as_bytes();
        bytes.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    })
}

/// Every finding of every rule for one record.
pub fn detect(record: &AuditRecord, ctx: &TenantContext) -> Vec<Finding> {
    // Failed attempts changed nothing, and Exchange's own housekeeping is no threat.
    if record.failed() || record.by_system() {
        return Vec::new();
    }
    let mut findings = Vec::new();
    if let Some(rule) = inbox_rule::InboxRule::from_cmdlet(record).or_else(|| outlook_rule::read(record)) {
        inbox_rule::detect(&rule, record, ctx, &mut findings);
        hides_mail::detect(&rule, record, ctx, &mut findings);
    }
    mailbox_forward::detect(record, ctx, &mut findings);
    transport_rule::detect(record, ctx, &mut findings);
    delegation::detect(record, ctx, &mut findings);
    audit_tampering::detect(record, &mut findings);
    findings
}
