//! What a finding shows, typed per rule. The store keeps it and the panel receives it as
//! the JSON object it serialises to, the same `details` shape earlier versions wrote;
//! [`Evidence::read`] turns a stored object back into its type by the alert's rule.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    ACCESS_REMOVAL, APP_ACCESS, APP_CONSENT, AUDIT_TAMPERING, CONDITIONAL_ACCESS,
    FORWARDING_FAN_IN, INBOX_RULE_EXTERNAL_FORWARD, INBOX_RULE_HIDES_MAIL, LEGACY_PROTOCOL,
    MAILBOX_BULK_SYNC, MAILBOX_DELEGATION, MAILBOX_EXTERNAL_FORWARD, MAILBOX_MASS_DELETION,
    MFA_CHANGED, PRIVILEGED_ROLE, PROTECTION_POLICY, TRANSPORT_RULE_REDIRECT,
};

/// The evidence of one finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Evidence {
    /// An inbox rule that forwards or hides mail.
    InboxRule(InboxRuleEvidence),
    /// Mailbox forwarding to an outside address.
    MailboxForward(MailboxForwardEvidence),
    /// A mail-flow rule that redirects, copies or deletes mail.
    TransportRule(TransportRuleEvidence),
    /// Access to a mailbox given to someone.
    Delegation(DelegationEvidence),
    /// Audit logging switched off or bypassed.
    AuditTampering(AuditTamperingEvidence),
    /// Several mailboxes forwarding to one outside address.
    FanIn(FanInEvidence),
    /// Consent granted to an application.
    Consent(ConsentEvidence),
    /// An application given credentials or mail permissions.
    AppAccess(AppAccessEvidence),
    /// A directory role given to someone.
    RoleGrant(RoleGrantEvidence),
    /// MFA turned off or a sign-in method changed.
    Mfa(MfaEvidence),
    /// A security policy removed or weakened.
    Policy(PolicyEvidence),
    /// Mail protocols turned on.
    Protocol(ProtocolEvidence),
    /// Many events of one kind for one account within the hour.
    Burst(BurstEvidence),
    /// Stored evidence this version cannot read as its rule's type (an older or newer
    /// version wrote it, or the rule is unknown): kept and shown as stored, never lost.
    Other(Value),
}

/// What an inbox rule does, as the record showed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxRuleEvidence {
    /// The rule's name, as the attacker wrote it.
    pub rule_name: String,
    /// The operation that made or changed it, e.g. `New-InboxRule`.
    pub operation: String,
    /// The rule has no condition: it takes every message.
    pub applies_to_all: bool,
    /// The rule's conditions, each a parameter and its value.
    pub conditions: Vec<Condition>,
    /// The outside addresses it sends mail to (empty when none).
    pub destinations: Vec<String>,
    /// The folder it moves mail to.
    pub move_to_folder: Option<String>,
    /// It deletes mail.
    pub deletes: bool,
    /// It marks mail as read.
    pub marks_as_read: bool,
    /// It stops the rules after it.
    pub stops_other_rules: bool,
    /// The security or finance word its conditions look for.
    pub keyword: Option<String>,
    /// It moves mail to a folder nobody looks at (the hides-mail rule only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_folder: Option<bool>,
    /// Its name is one attackers give (the hides-mail rule only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspicious_name: Option<bool>,
}

/// One condition of a rule: a parameter and its value, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The parameter, e.g. `SubjectContainsWords`.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// Mailbox forwarding as the record set it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailboxForwardEvidence {
    /// The outside addresses mail now goes to.
    pub destinations: Vec<String>,
    /// Whether a copy stays in the mailbox; `None` when the record did not change it.
    pub deliver_to_mailbox_and_forward: Option<bool>,
    /// `ForwardingSmtpAddress` as written.
    pub forwarding_smtp_address: Option<String>,
    /// `ForwardingAddress` as written.
    pub forwarding_address: Option<String>,
}

/// A mail-flow rule as the record showed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransportRuleEvidence {
    /// The rule's name, as written.
    pub rule_name: String,
    /// The operation, e.g. `New-TransportRule`.
    pub operation: String,
    /// The outside addresses it sends mail to.
    pub destinations: Vec<String>,
    /// It deletes mail.
    pub deletes: bool,
    /// Whose mail it takes.
    pub conditions: TransportConditions,
}

/// The conditions of a mail-flow rule that say whose mail it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransportConditions {
    /// `From`, as written.
    pub from: Option<String>,
    /// `SentTo`, as written.
    pub sent_to: Option<String>,
    /// `SentToScope`, as written.
    pub sent_to_scope: Option<String>,
}

/// Access to a mailbox given to someone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DelegationEvidence {
    /// The operation, e.g. `Add-MailboxPermission`.
    pub operation: String,
    /// Who was given access, as written.
    pub grantee: String,
    /// The grantee is outside the organisation.
    pub grantee_outside: bool,
    /// `AccessRights`, as written.
    pub access_rights: Option<String>,
}

/// A change to audit logging, with every parameter the record carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditTamperingEvidence {
    /// The operation, e.g. `Set-AdminAuditLogConfig`.
    pub operation: String,
    /// The cmdlet's parameters.
    pub parameters: Vec<Condition>,
}

/// Several mailboxes forwarding to one outside address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanInEvidence {
    /// The outside address.
    pub destination: String,
    /// The outside address, in the list every forwarding rule's evidence has.
    pub destinations: Vec<String>,
    /// How many mailboxes forward to it.
    pub mailboxes: usize,
    /// In how many tenants; `None` in one customer's view of the campaign, which says
    /// only how many mailboxes are elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenants: Option<usize>,
    /// In one customer's view, how many of the mailboxes are in other organisations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailboxes_in_other_organisations: Option<usize>,
    /// Every forward of the campaign, oldest first.
    pub forwards: Vec<Forward>,
}

/// One mailbox forwarding to the destination, as one alert showed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forward {
    /// The stored alert that showed it (none for `rulewatch check`).
    pub alert_id: Option<i64>,
    /// The tenant of the mailbox.
    pub tenant_id: String,
    /// The tenant's display name, for the alert's words.
    pub tenant_name: String,
    /// The mailbox that forwards.
    pub mailbox: String,
    /// Who set the forwarding up.
    pub actor: String,
    /// The operation that did, e.g. `Set-Mailbox`.
    pub operation: String,
    /// When it was set up.
    pub event_time: DateTime<Utc>,
}

impl Forward {
    pub(crate) fn mailbox_key(&self) -> (String, String) {
        (self.tenant_id.to_lowercase(), self.mailbox.to_lowercase())
    }
}

/// Consent granted to an application, as the record showed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentEvidence {
    /// The application's name, as its publisher (or an attacker) wrote it.
    pub app_name: String,
    /// The application's id, when the record gives one.
    pub app_id: Option<String>,
    /// Consent for the whole organisation: admin consent, or on behalf of all users.
    pub tenant_wide: bool,
    /// Application permissions, used with no user signed in.
    pub app_only: bool,
    /// The mail permissions among those granted.
    pub mail_permissions: Vec<String>,
    /// Every permission granted, as written.
    pub permissions: Vec<String>,
    /// Why the application is on the list of applications abused to take mail, if it is.
    pub listed: Option<String>,
}

/// An application given new credentials or a mail permission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppAccessEvidence {
    /// The operation, e.g. `Add service principal credentials.`.
    pub operation: String,
    /// The application, by name when the record gives one.
    pub app: String,
    /// The mail permission given, as written (app role assignments).
    pub permission: Option<String>,
    /// The credential added, as the record describes it (`KeyDescription`).
    pub credential: Option<String>,
    /// A person made the change, not an application.
    pub by_person: bool,
}

/// A directory role given to a user, group or application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleGrantEvidence {
    /// The operation, e.g. `Add member to role.`.
    pub operation: String,
    /// The role's name, as written.
    pub role: String,
    /// The role's template id, when the record gives one.
    pub template_id: Option<String>,
    /// What was given the role: `user`, `group` or `application`.
    pub member: String,
    /// The privileged role whose name this role's imitates with look-alike characters.
    pub lookalike_of: Option<String>,
}

/// MFA turned off, or a sign-in method added or removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfaEvidence {
    /// The operation, e.g. `Disable Strong Authentication.`.
    pub operation: String,
    /// What changed: `mfa disabled`, `method registered`, `methods removed` or
    /// `temporary access pass`.
    pub change: String,
    /// The properties the record changed.
    pub properties: Vec<String>,
}

/// A security policy removed, turned off or weakened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyEvidence {
    /// The operation, e.g. `Remove-DlpCompliancePolicy`.
    pub operation: String,
    /// The policy's name, as written.
    pub policy: String,
    /// What happened to it, e.g. `removed`, `turned off`, `report-only`, `given new
    /// exclusions`.
    pub change: String,
    /// The cmdlet's parameters (empty for directory records).
    pub parameters: Vec<Condition>,
}

/// Mail protocols turned on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolEvidence {
    /// The operation, e.g. `Set-CASMailbox`.
    pub operation: String,
    /// The protocols turned on: `POP`, `IMAP`, `SMTP AUTH`.
    pub protocols: Vec<String>,
    /// Where: `mailbox`, `mailbox plan` or `organisation`.
    pub scope: String,
}

/// Many events of one kind for one account within the hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurstEvidence {
    /// The account counted: the mailbox, or the actor of directory changes.
    pub key: String,
    /// The count within the window (messages, folders, accounts or admins).
    pub total: u64,
    /// How many of them were of the gravest sort (mail purged beyond recovery, Global
    /// Administrators removed).
    pub grave: u64,
    /// How many records made up the count.
    pub records: usize,
    /// When the first of them happened.
    pub first: DateTime<Utc>,
    /// When the last of them happened.
    pub last: DateTime<Utc>,
    /// Who did it.
    pub actors: Vec<String>,
    /// Where from: the client addresses the records give.
    pub addresses: Vec<String>,
    /// What was touched (accounts, folders, clients), as written, at most a few dozen.
    pub items: Vec<String>,
    /// The audit records counted.
    pub record_ids: Vec<String>,
}

impl Evidence {
    /// Stored evidence of an alert of `rule`, read as that rule's type; what does not
    /// fit stays as stored ([`Evidence::Other`]).
    pub fn read(rule: &str, stored: Value) -> Self {
        fn typed<T: for<'de> Deserialize<'de>>(
            stored: Value,
            variant: fn(T) -> Evidence,
        ) -> Evidence {
            match serde_json::from_value(stored.clone()) {
                Ok(t) => variant(t),
                Err(_) => Evidence::Other(stored),
            }
        }
        match rule {
            INBOX_RULE_EXTERNAL_FORWARD | INBOX_RULE_HIDES_MAIL => {
                typed(stored, Evidence::InboxRule)
            }
            MAILBOX_EXTERNAL_FORWARD => typed(stored, Evidence::MailboxForward),
            TRANSPORT_RULE_REDIRECT => typed(stored, Evidence::TransportRule),
            MAILBOX_DELEGATION => typed(stored, Evidence::Delegation),
            AUDIT_TAMPERING => typed(stored, Evidence::AuditTampering),
            FORWARDING_FAN_IN => typed(stored, Evidence::FanIn),
            APP_CONSENT => typed(stored, Evidence::Consent),
            APP_ACCESS => typed(stored, Evidence::AppAccess),
            PRIVILEGED_ROLE => typed(stored, Evidence::RoleGrant),
            MFA_CHANGED => typed(stored, Evidence::Mfa),
            CONDITIONAL_ACCESS | PROTECTION_POLICY => typed(stored, Evidence::Policy),
            LEGACY_PROTOCOL => typed(stored, Evidence::Protocol),
            MAILBOX_MASS_DELETION | MAILBOX_BULK_SYNC | ACCESS_REMOVAL => {
                typed(stored, Evidence::Burst)
            }
            _ => Evidence::Other(stored),
        }
    }

    /// The outside addresses the finding names, as written; empty when it names none.
    pub fn destinations(&self) -> Vec<&str> {
        let typed = match self {
            Evidence::InboxRule(e) => &e.destinations,
            Evidence::MailboxForward(e) => &e.destinations,
            Evidence::TransportRule(e) => &e.destinations,
            Evidence::FanIn(e) => &e.destinations,
            Evidence::Other(v) => {
                return v["destinations"]
                    .as_array()
                    .map(|d| d.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
            }
            // Nothing else sends mail to an address.
            _ => return Vec::new(),
        };
        typed.iter().map(String::as_str).collect()
    }

    /// The name of the inbox or mail-flow rule the finding is about.
    pub fn rule_name(&self) -> Option<&str> {
        match self {
            Evidence::InboxRule(e) => Some(&e.rule_name),
            Evidence::TransportRule(e) => Some(&e.rule_name),
            Evidence::Other(v) => v["rule_name"].as_str(),
            _ => None,
        }
    }

    /// The forwards of a fan-in campaign; empty for any other finding.
    pub fn forwards(&self) -> &[Forward] {
        match self {
            Evidence::FanIn(e) => &e.forwards,
            _ => &[],
        }
    }

    /// The evidence as the JSON text the store keeps.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("evidence is plain data, always serialisable")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stored_evidence_reads_back_as_its_rule_s_type() {
        let forward = json!({
            "destinations": ["eve@evil.example"],
            "deliver_to_mailbox_and_forward": false,
            "forwarding_smtp_address": "smtp:eve@evil.example",
            "forwarding_address": null,
        });
        let read = Evidence::read(MAILBOX_EXTERNAL_FORWARD, forward.clone());
        assert!(matches!(read, Evidence::MailboxForward(_)), "{read:?}");
        assert_eq!(read.destinations(), ["eve@evil.example"]);
        assert_eq!(serde_json::to_value(&read).unwrap(), forward);
    }

    #[test]
    fn evidence_that_does_not_fit_is_kept_as_stored() {
        let odd = json!({"destinations": ["x@evil.example"], "rule_name": "r", "extra": 1});
        for rule in [INBOX_RULE_EXTERNAL_FORWARD, "a-rule-of-a-later-version"] {
            let read = Evidence::read(rule, odd.clone());
            assert_eq!(read, Evidence::Other(odd.clone()));
            assert_eq!(read.destinations(), ["x@evil.example"]);
            assert_eq!(read.rule_name(), Some("r"));
            assert_eq!(serde_json::from_str::<Value>(&read.to_json()).unwrap(), odd);
        }
    }
}
