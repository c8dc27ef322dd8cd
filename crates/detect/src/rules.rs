//! The registry: every rule describes itself, as Sigma and Elastic rules do, in a
//! [`Rule`] constant beside its `detect` function. The notifier's words, the
//! allowlist's reach and the tests over every rule read this list, never a list of
//! their own.

use serde::Serialize;

use crate::allowlist::TrustKind;

/// What a rule is, for the technician and for the code around it.
#[derive(Debug, Serialize)]
pub struct Rule {
    /// Stored with every alert; never changes once released.
    pub id: &'static str,
    /// A heading: "Inbox rule forwards mail outside".
    pub title: &'static str,
    /// The few words a notification's title gives it, lower-case.
    pub notification: &'static str,
    /// What the rule looks for, in a few sentences.
    pub description: &'static str,
    /// What else makes it fire, and what to check before acting.
    pub false_positives: &'static str,
    /// MITRE ATT&CK technique, e.g. `T1114.003`.
    pub attack: &'static str,
    /// How the severity is chosen, in words.
    pub severity: &'static str,
    /// What an allowlist entry may quiet: a trusted destination only quiets mail that
    /// goes to trusted destinations alone; a trusted rule name only what stays inside.
    pub quieted_by: &'static [TrustKind],
    /// Where the behaviour and its detection are documented.
    pub references: &'static [&'static str],
    /// Real records in `../shared/corpus/records` that this rule must find.
    #[serde(skip)]
    pub corpus: Corpus,
}

/// Where the rule meets real data.
#[derive(Debug)]
pub enum Corpus {
    /// Files of the corpus, each holding a record the rule finds.
    Records(&'static [&'static str]),
    /// No real record yet, and why; the rule's own tests use built records.
    Missing(&'static str),
}

/// Every rule, in the order `detect` runs them.
pub static RULES: [&Rule; 7] = [
    &crate::inbox_rule::RULE,
    &crate::hides_mail::RULE,
    &crate::mailbox_forward::RULE,
    &crate::transport_rule::RULE,
    &crate::delegation::RULE,
    &crate::audit_tampering::RULE,
    &crate::fan_in::RULE,
];

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.id == id)
}
