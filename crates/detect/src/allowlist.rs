//! What a technician has said is fine for one tenant: forwarding destinations (an
//! address or a whole domain) and rule names. An alert the allowlist covers is still
//! stored, as suppressed, but never notified.
//!
//! A trusted rule name quiets what a rule does inside the mailbox (delete, move, mark
//! read). Mail leaving the organisation is quiet only when every outside destination
//! is trusted, so an attacker who copies a trusted rule's name still gets noticed.

use serde::Serialize;

use crate::address::{addresses, domain_of};
use crate::evidence::Evidence;
// The kind lives with the rule type, which says what each kind may quiet.
pub use crate::rule::TrustKind;

/// One stored allowlist entry.
#[derive(Debug, Clone, Serialize)]
pub struct TrustEntry {
    /// The entry's number, which `allow remove` takes.
    pub id: i64,
    /// The tenant the entry applies to; never another's.
    pub tenant_id: String,
    /// What it trusts.
    pub kind: TrustKind,
    /// The destination or rule name, normalised.
    pub value: String,
    /// Why it is trusted, as the technician wrote it.
    pub note: Option<String>,
    /// When it was added.
    pub added_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Why a value cannot be trusted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustError {
    /// Neither an address nor a domain.
    #[error(
        "'{0}' is neither a mail address nor a domain; give an address such as accountant@partner.example or a domain such as partner.example"
    )]
    NotADestination(String),
    /// A public mail domain, which anyone can register an address at.
    #[error(
        "trusting all of {0} would also hide an attacker's forwarding to any {0} mailbox; trust the one address instead (for example name@{0})"
    )]
    PublicMailDomain(String),
    /// An empty rule name.
    #[error("a rule name cannot be empty")]
    EmptyRuleName,
}

/// Public mail services anyone can open a mailbox at: attackers forward to these.
const PUBLIC_MAIL_DOMAINS: [&str; 16] = [
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "ymail.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "mail.com",
    "yandex.com",
];

/// The stored form of a destination: a lower-cased address, or a lower-cased domain.
pub fn normalize_destination(input: &str) -> Result<String, TrustError> {
    let text = input
        .trim()
        .trim_start_matches("smtp:")
        .trim_start_matches("SMTP:");
    if text.contains('@') {
        let found = addresses(text);
        return match found.as_slice() {
            [one] if one.len() == text.len() => Ok(one.clone()),
            _ => Err(TrustError::NotADestination(input.trim().to_string())),
        };
    }
    let domain = text.trim_matches('.').to_lowercase();
    let valid = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if !valid {
        return Err(TrustError::NotADestination(input.trim().to_string()));
    }
    if PUBLIC_MAIL_DOMAINS.contains(&domain.as_str()) {
        return Err(TrustError::PublicMailDomain(domain));
    }
    Ok(domain)
}

/// A rule name as the allowlist keeps it: trimmed, never empty.
pub fn normalize_rule_name(input: &str) -> Result<String, TrustError> {
    let name = input.trim();
    if name.is_empty() {
        Err(TrustError::EmptyRuleName)
    } else {
        Ok(name.to_string())
    }
}

/// A tenant's allowlist, ready to judge alerts.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    entries: Vec<TrustEntry>,
}

impl Allowlist {
    /// The allowlist of `entries`, all of one tenant.
    pub fn new(entries: Vec<TrustEntry>) -> Self {
        Allowlist { entries }
    }

    fn trusted_destination(&self, address: &str) -> Option<&TrustEntry> {
        let domain = domain_of(address);
        self.entries
            .iter()
            .filter(|e| e.kind == TrustKind::Destination)
            .find(|e| {
                if e.value.contains('@') {
                    e.value.eq_ignore_ascii_case(address)
                } else {
                    domain.eq_ignore_ascii_case(&e.value)
                        || domain.len() > e.value.len()
                            && domain
                                .to_ascii_lowercase()
                                .ends_with(&format!(".{}", e.value))
                }
            })
    }

    fn trusted_rule_name(&self, name: &str) -> Option<&TrustEntry> {
        let name = name.trim();
        self.entries
            .iter()
            .filter(|e| e.kind == TrustKind::RuleName)
            .find(|e| !name.is_empty() && e.value.to_lowercase() == name.to_lowercase())
    }

    /// Why the allowlist covers an alert of `rule` with these `details`, or `None`
    /// when it does not.
    pub fn covers(&self, rule: &str, details: &Evidence) -> Option<String> {
        let destinations = details.destinations();
        let quieted_by = crate::rules::rule(rule).map_or(&[][..], |r| r.quieted_by);
        if quieted_by.contains(&TrustKind::Destination) && !destinations.is_empty() {
            let mut reasons = Vec::new();
            for d in &destinations {
                let entry = self.trusted_destination(d)?;
                let reason = format!(
                    "trusted destination {} (allowlist entry {})",
                    entry.value, entry.id
                );
                if !reasons.contains(&reason) {
                    reasons.push(reason);
                }
            }
            return Some(reasons.join(", "));
        }
        // Reached only when no mail leaves: a trusted name never quiets forwarding.
        if quieted_by.contains(&TrustKind::RuleName) {
            let entry = self.trusted_rule_name(details.rule_name()?)?;
            return Some(format!(
                "trusted rule name \"{}\" (allowlist entry {})",
                entry.value, entry.id
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::{INBOX_RULE_EXTERNAL_FORWARD, INBOX_RULE_HIDES_MAIL, MAILBOX_EXTERNAL_FORWARD};

    fn entry(id: i64, kind: TrustKind, value: &str) -> TrustEntry {
        TrustEntry {
            id,
            tenant_id: "t".into(),
            kind,
            value: value.into(),
            note: None,
            added_at: None,
        }
    }

    #[test]
    fn destinations_are_addresses_or_domains() {
        assert_eq!(
            normalize_destination(" Accountant@Partner.Example ").unwrap(),
            "accountant@partner.example"
        );
        assert_eq!(
            normalize_destination("smtp:a@b.example").unwrap(),
            "a@b.example"
        );
        assert_eq!(
            normalize_destination("Partner.Example.").unwrap(),
            "partner.example"
        );
        assert!(matches!(
            normalize_destination("partner"),
            Err(TrustError::NotADestination(_))
        ));
        assert!(matches!(
            normalize_destination("a@b.example;c@d.example"),
            Err(TrustError::NotADestination(_))
        ));
        assert!(matches!(
            normalize_destination("bad domain.example"),
            Err(TrustError::NotADestination(_))
        ));
        assert_eq!(
            normalize_destination("GMAIL.com"),
            Err(TrustError::PublicMailDomain("gmail.com".into()))
        );
        assert_eq!(
            normalize_destination("me.myself@gmail.com").unwrap(),
            "me.myself@gmail.com"
        );
        assert_eq!(normalize_rule_name("   "), Err(TrustError::EmptyRuleName));
    }

    #[test]
    fn forwarding_is_covered_only_when_every_destination_is_trusted() {
        let list = Allowlist::new(vec![
            entry(1, TrustKind::Destination, "partner.example"),
            entry(2, TrustKind::Destination, "bob@gmail.com"),
            entry(3, TrustKind::RuleName, "To accountant"),
        ]);
        let forward =
            |d: Value| Evidence::Other(json!({"rule_name": "To accountant", "destinations": d}));
        assert!(
            list.covers(
                INBOX_RULE_EXTERNAL_FORWARD,
                &forward(json!(["x@partner.example"]))
            )
            .is_some()
        );
        assert!(
            list.covers(
                INBOX_RULE_EXTERNAL_FORWARD,
                &forward(json!(["x@eu.partner.example"]))
            )
            .is_some()
        );
        assert!(
            list.covers(MAILBOX_EXTERNAL_FORWARD, &forward(json!(["bob@gmail.com"])))
                .is_some()
        );
        assert!(
            list.covers(MAILBOX_EXTERNAL_FORWARD, &forward(json!(["eve@gmail.com"])))
                .is_none()
        );
        assert!(
            list.covers(
                INBOX_RULE_EXTERNAL_FORWARD,
                &forward(json!(["x@partner.example", "eve@evil.example"]))
            )
            .is_none()
        );
        assert!(
            list.covers(
                INBOX_RULE_EXTERNAL_FORWARD,
                &forward(json!(["x@notpartner.example"]))
            )
            .is_none()
        );
        assert!(
            list.covers(
                INBOX_RULE_EXTERNAL_FORWARD,
                &forward(json!(["x@partner.example.evil"]))
            )
            .is_none()
        );
    }

    #[test]
    fn rule_names_quiet_only_what_stays_in_the_mailbox() {
        let list = Allowlist::new(vec![entry(3, TrustKind::RuleName, "Newsletters")]);
        let hides = Evidence::Other(json!({"rule_name": "NEWSLETTERS ", "destinations": []}));
        assert_eq!(
            list.covers(INBOX_RULE_HIDES_MAIL, &hides).as_deref(),
            Some("trusted rule name \"Newsletters\" (allowlist entry 3)")
        );
        assert!(
            list.covers(
                INBOX_RULE_HIDES_MAIL,
                &Evidence::Other(json!({"rule_name": "Other"}))
            )
            .is_none()
        );
        let forwards = Evidence::Other(
            json!({"rule_name": "Newsletters", "destinations": ["eve@evil.example"]}),
        );
        assert!(
            list.covers(INBOX_RULE_EXTERNAL_FORWARD, &forwards)
                .is_none()
        );
        assert!(list.covers(crate::MAILBOX_DELEGATION, &hides).is_none());
    }
}
