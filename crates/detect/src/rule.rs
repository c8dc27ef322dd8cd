//! What a rule is: its self-description ([`Rule`]), where it meets real data
//! ([`Corpus`]), and what an allowlist entry may quiet ([`TrustKind`]). Each rule module
//! defines its `RULE` with these; the registry ([`crate::rules`]) lists them.

use serde::{Deserialize, Serialize};

/// What an allowlist entry trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustKind {
    /// A forwarding destination: an address, or a whole domain.
    Destination,
    /// An inbox rule's name: quiets rules that keep mail inside.
    RuleName,
    /// An application, by its id: quiets consent to it.
    Application,
    /// One of Rulewatch's rules, by id: quiets all its alerts within the entry's scope.
    /// Never a rule about mail leaving the organisation, which only its trusted
    /// destinations quiet.
    Rule,
}

impl TrustKind {
    /// The name stored and shown (`destination`, `rule_name`).
    pub fn as_str(self) -> &'static str {
        match self {
            TrustKind::Destination => "destination",
            TrustKind::RuleName => "rule_name",
            TrustKind::Application => "application",
            TrustKind::Rule => "rule",
        }
    }

    /// The kind stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "destination" => Some(TrustKind::Destination),
            "rule_name" => Some(TrustKind::RuleName),
            "application" => Some(TrustKind::Application),
            "rule" => Some(TrustKind::Rule),
            _ => None,
        }
    }
}

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
