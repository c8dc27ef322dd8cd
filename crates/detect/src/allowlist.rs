//! What a technician has said is fine: forwarding destinations (an address or a whole
//! domain), inbox rule names, applications and whole rules, each for one tenant or every
//! tenant, for one account or all, until removed or until it expires, with the reason.
//! An alert the allowlist covers is still stored, as suppressed, but never notified.
//!
//! A trusted rule name quiets what a rule does inside the mailbox (delete, move, mark
//! read). Mail leaving the organisation is quiet only when every outside destination
//! is trusted, so an attacker who copies a trusted rule's name still gets noticed; for
//! the same reason no entry trusting a whole rule quiets forwarding outside.

use chrono::{DateTime, Utc};
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
    /// The tenant the entry applies to; none: every tenant.
    pub tenant_id: Option<String>,
    /// The one account it applies to (the mailbox or user an alert is about); none:
    /// every account.
    pub account: Option<String>,
    /// What it trusts.
    pub kind: TrustKind,
    /// The destination, rule name, application id or rule id, normalised.
    pub value: String,
    /// Why it is trusted, as the technician wrote it.
    pub reason: Option<String>,
    /// When it was added.
    pub added_at: Option<DateTime<Utc>>,
    /// Who added it.
    pub added_by: Option<String>,
    /// When it stops quieting anything; none: until it is removed.
    pub expires_at: Option<DateTime<Utc>>,
}

impl TrustEntry {
    /// Whether it still quiets alerts at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }

    /// "for every tenant, account x@y, until 2027-01-31 12:00Z": where and how long it
    /// applies, in words.
    pub fn scope(&self) -> String {
        let mut words = vec![match &self.tenant_id {
            Some(t) => format!("tenant {t}"),
            None => "every tenant".to_string(),
        }];
        if let Some(a) = &self.account {
            words.push(format!("account {a}"));
        }
        words.push(match self.expires_at {
            Some(e) => format!("until {}", e.format("%Y-%m-%d %H:%MZ")),
            None => "until removed".to_string(),
        });
        words.join(", ")
    }
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
    /// No rule has this id.
    #[error("no rule is called '{0}': `rulewatch rules list` lists them")]
    NoSuchRule(String),
    /// A rule about mail leaving the organisation, which only destinations quiet.
    #[error(
        "{0} reports mail leaving the organisation, which only trusting its destination quiets; use --destination with the address or domain instead"
    )]
    RuleSendsMailOut(String),
    /// An account scope that is not one address.
    #[error(
        "'{0}' is not one account's address; give the user's address, such as scanner@contoso.example"
    )]
    NotAnAccount(String),
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

/// A rule's id as an entry trusting the whole rule keeps it: a rule that exists and
/// that such an entry may quiet.
pub fn normalize_rule_id(input: &str) -> Result<String, TrustError> {
    let id = input.trim().to_ascii_lowercase();
    let rule =
        crate::rules::rule(&id).ok_or_else(|| TrustError::NoSuchRule(input.trim().into()))?;
    if rule.quieted_by.contains(&TrustKind::Rule) {
        Ok(id)
    } else {
        Err(TrustError::RuleSendsMailOut(id))
    }
}

/// An account scope as stored: one lower-cased address.
pub fn normalize_account(input: &str) -> Result<String, TrustError> {
    let text = input.trim();
    match addresses(text).as_slice() {
        [one] if one.len() == text.len() => Ok(one.clone()),
        _ => Err(TrustError::NotAnAccount(text.to_string())),
    }
}

/// A tenant's allowlist, ready to judge alerts: its own entries and every tenant's, those
/// still active.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    entries: Vec<TrustEntry>,
}

impl Allowlist {
    /// The allowlist of `entries` (one tenant's and every tenant's) still active at `now`.
    pub fn new(mut entries: Vec<TrustEntry>, now: DateTime<Utc>) -> Self {
        entries.retain(|e| e.active(now));
        Allowlist { entries }
    }

    /// The entries of `kind` whose account scope holds `target`.
    fn of<'a>(&'a self, kind: TrustKind, target: &str) -> impl Iterator<Item = &'a TrustEntry> {
        let target = target.trim().to_string();
        self.entries.iter().filter(move |e| {
            e.kind == kind
                && e.account
                    .as_deref()
                    .is_none_or(|a| a.eq_ignore_ascii_case(&target))
        })
    }

    fn trusted_destination(&self, target: &str, address: &str) -> Option<&TrustEntry> {
        let domain = domain_of(address);
        self.of(TrustKind::Destination, target).find(|e| {
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

    fn trusted_rule_name(&self, target: &str, name: &str) -> Option<&TrustEntry> {
        let name = name.trim();
        self.of(TrustKind::RuleName, target)
            .find(|e| !name.is_empty() && e.value.to_lowercase() == name.to_lowercase())
    }

    /// Why the allowlist covers an alert of `rule` about `target` (its mailbox or
    /// user) with these `details`, or `None` when it does not.
    pub fn covers(&self, rule: &str, target: &str, details: &Evidence) -> Option<String> {
        let destinations = details.destinations();
        let quieted_by = crate::rules::rule(rule).map_or(&[][..], |r| r.quieted_by);
        if quieted_by.contains(&TrustKind::Destination) && !destinations.is_empty() {
            let mut reasons = Vec::new();
            for d in &destinations {
                let entry = self.trusted_destination(target, d)?;
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
        if quieted_by.contains(&TrustKind::RuleName)
            && let Some(entry) = details
                .rule_name()
                .and_then(|name| self.trusted_rule_name(target, name))
        {
            return Some(format!(
                "trusted rule name \"{}\" (allowlist entry {})",
                entry.value, entry.id
            ));
        }
        // By id alone: a display name is whatever its publisher, or an attacker, chose.
        if quieted_by.contains(&TrustKind::Application)
            && let Evidence::Consent(c) = details
            && let Some(app_id) = c.app_id.as_deref()
            && let Some(entry) = self
                .of(TrustKind::Application, target)
                .find(|e| e.value.eq_ignore_ascii_case(app_id.trim()))
        {
            return Some(format!(
                "trusted application {} (allowlist entry {})",
                entry.value, entry.id
            ));
        }
        if quieted_by.contains(&TrustKind::Rule)
            && let Some(entry) = self.of(TrustKind::Rule, target).find(|e| e.value == rule)
        {
            return Some(match &entry.account {
                Some(a) => format!("trusted rule {rule} for {a} (allowlist entry {})", entry.id),
                None => format!("trusted rule {rule} (allowlist entry {})", entry.id),
            });
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
            tenant_id: Some("t".into()),
            account: None,
            kind,
            value: value.into(),
            reason: None,
            added_at: None,
            added_by: None,
            expires_at: None,
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-12-03T08:00:00Z".parse().unwrap()
    }

    fn list(entries: Vec<TrustEntry>) -> Allowlist {
        Allowlist::new(entries, now())
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
        let list = list(vec![
            entry(1, TrustKind::Destination, "partner.example"),
            entry(2, TrustKind::Destination, "bob@gmail.com"),
            entry(3, TrustKind::RuleName, "To accountant"),
        ]);
        let forward =
            |d: Value| Evidence::Other(json!({"rule_name": "To accountant", "destinations": d}));
        assert!(
            list.covers(
                INBOX_RULE_EXTERNAL_FORWARD,
                "u@contoso.example",
                &forward(json!(["x@partner.example"]))
            )
            .is_some()
        );
        assert!(
            list.covers(
                INBOX_RULE_EXTERNAL_FORWARD,
                "u@contoso.example",
                &forward(json!(["x@eu.partner.example"]))
            )
            .is_some()
        );
        assert!(
            list.covers(
                MAILBOX_EXTERNAL_FORWARD,
                "u@contoso.example",
                &forward(json!(["bob@gmail.com"]))
            )
            .is_some()
        );
        assert!(
            list.covers(
                MAILBOX_EXTERNAL_FORWARD,
                "u@contoso.example",
                &forward(json!(["eve@gmail.com"]))
            )
            .is_none()
        );
        assert!(
            list.covers(
                INBOX_RULE_EXTERNAL_FORWARD,
                "u@contoso.example",
                &forward(json!(["x@partner.example", "eve@evil.example"]))
            )
            .is_none()
        );
        assert!(
            list.covers(
                INBOX_RULE_EXTERNAL_FORWARD,
                "u@contoso.example",
                &forward(json!(["x@notpartner.example"]))
            )
            .is_none()
        );
        assert!(
            list.covers(
                INBOX_RULE_EXTERNAL_FORWARD,
                "u@contoso.example",
                &forward(json!(["x@partner.example.evil"]))
            )
            .is_none()
        );
    }

    #[test]
    fn rule_names_quiet_only_what_stays_in_the_mailbox() {
        let list = list(vec![entry(3, TrustKind::RuleName, "Newsletters")]);
        let hides = Evidence::Other(json!({"rule_name": "NEWSLETTERS ", "destinations": []}));
        assert_eq!(
            list.covers(INBOX_RULE_HIDES_MAIL, "u@contoso.example", &hides)
                .as_deref(),
            Some("trusted rule name \"Newsletters\" (allowlist entry 3)")
        );
        assert!(
            list.covers(
                INBOX_RULE_HIDES_MAIL,
                "u@contoso.example",
                &Evidence::Other(json!({"rule_name": "Other"}))
            )
            .is_none()
        );
        let forwards = Evidence::Other(
            json!({"rule_name": "Newsletters", "destinations": ["eve@evil.example"]}),
        );
        assert!(
            list.covers(INBOX_RULE_EXTERNAL_FORWARD, "u@contoso.example", &forwards)
                .is_none()
        );
        assert!(
            list.covers(crate::MAILBOX_DELEGATION, "u@contoso.example", &hides)
                .is_none()
        );
    }

    fn legacy(mailbox: &str) -> Evidence {
        Evidence::Other(json!({"mailbox": mailbox}))
    }

    #[test]
    fn an_entry_for_one_account_quiets_only_that_account_s_alerts() {
        let mut scanner = entry(4, TrustKind::Rule, crate::LEGACY_PROTOCOL);
        scanner.account = Some("scanner@contoso.example".into());
        let list = list(vec![scanner]);
        assert_eq!(
            list.covers(
                crate::LEGACY_PROTOCOL,
                " Scanner@Contoso.example",
                &legacy("x")
            )
            .as_deref(),
            Some(
                "trusted rule legacy-protocol-enabled for scanner@contoso.example (allowlist entry 4)"
            )
        );
        assert!(
            list.covers(crate::LEGACY_PROTOCOL, "ceo@contoso.example", &legacy("x"))
                .is_none()
        );
        assert!(
            list.covers(
                crate::MAILBOX_DELEGATION,
                "scanner@contoso.example",
                &legacy("x")
            )
            .is_none(),
            "an entry trusting one rule quiets no other"
        );
    }

    #[test]
    fn an_expired_entry_quiets_nothing() {
        let mut until_yesterday = entry(5, TrustKind::Rule, crate::LEGACY_PROTOCOL);
        until_yesterday.expires_at = Some(now() - chrono::Duration::days(1));
        let mut until_tomorrow = entry(6, TrustKind::Rule, crate::MAILBOX_DELEGATION);
        until_tomorrow.expires_at = Some(now() + chrono::Duration::days(1));
        assert!(!until_yesterday.active(now()));
        let list = list(vec![until_yesterday, until_tomorrow]);
        assert!(
            list.covers(crate::LEGACY_PROTOCOL, "u@contoso.example", &legacy("x"))
                .is_none()
        );
        assert!(
            list.covers(crate::MAILBOX_DELEGATION, "u@contoso.example", &legacy("x"))
                .is_some()
        );
    }

    #[test]
    fn an_application_is_trusted_by_its_id_never_by_its_name() {
        let app_id = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
        let consent = |name: &str, id: Option<&str>| {
            Evidence::Consent(crate::evidence::ConsentEvidence {
                app_name: name.into(),
                app_id: id.map(str::to_string),
                tenant_wide: true,
                app_only: false,
                mail_permissions: vec!["Mail.Read".into()],
                permissions: vec!["Mail.Read".into()],
                listed: None,
            })
        };
        let list = list(vec![entry(7, TrustKind::Application, app_id)]);
        assert!(
            list.covers(
                crate::APP_CONSENT,
                "u@contoso.example",
                &consent("Line of business", Some(&app_id.to_uppercase()))
            )
            .is_some()
        );
        assert!(
            list.covers(
                crate::APP_CONSENT,
                "u@contoso.example",
                &consent(app_id, Some("0b9d3f53-5b73-4c41-9ad2-6f6b51b9a001"))
            )
            .is_none(),
            "an application named after a trusted id is another application"
        );
        assert!(
            list.covers(
                crate::APP_CONSENT,
                "u@contoso.example",
                &consent("Line of business", None)
            )
            .is_none()
        );
    }

    #[test]
    fn no_entry_for_a_whole_rule_quiets_mail_leaving_the_organisation() {
        for rule in crate::rules::RULES {
            if rule.quieted_by.contains(&TrustKind::Destination) {
                assert!(!rule.quieted_by.contains(&TrustKind::Rule), "{}", rule.id);
                assert_eq!(
                    normalize_rule_id(rule.id),
                    Err(TrustError::RuleSendsMailOut(rule.id.into()))
                );
            }
        }
        assert_eq!(
            normalize_rule_id(" Legacy-Protocol-Enabled ").unwrap(),
            "legacy-protocol-enabled"
        );
        assert!(matches!(
            normalize_rule_id("no-such-rule"),
            Err(TrustError::NoSuchRule(_))
        ));
        let forwarding = Evidence::Other(json!({"destinations": ["eve@evil.example"]}));
        let list = list(vec![entry(8, TrustKind::Rule, INBOX_RULE_EXTERNAL_FORWARD)]);
        assert!(
            list.covers(
                INBOX_RULE_EXTERNAL_FORWARD,
                "u@contoso.example",
                &forwarding
            )
            .is_none(),
            "even an entry written to the store by hand does not quiet forwarding"
        );
    }

    #[test]
    fn an_account_is_one_address() {
        assert_eq!(
            normalize_account(" Scanner@Contoso.Example ").unwrap(),
            "scanner@contoso.example"
        );
        for bad in ["scanner", "a@b.example, c@d.example", ""] {
            assert!(
                matches!(normalize_account(bad), Err(TrustError::NotAnAccount(_))),
                "{bad}"
            );
        }
    }
}
