//! The registry: every rule describes itself, as Sigma and Elastic rules do, in a
//! [`Rule`] constant beside its `detect` function. The notifier's words, the
//! allowlist's reach and the tests over every rule read this list, never a list of
//! their own.

pub use crate::rule::{Corpus, Rule, TrustKind};

/// Every rule, in the order `detect` runs them.
/// The rules over several events (fan-in, bursts) come last: the store runs them.
pub static RULES: [&Rule; 17] = [
    &crate::inbox_rule::RULE,
    &crate::hides_mail::RULE,
    &crate::mailbox_forward::RULE,
    &crate::transport_rule::RULE,
    &crate::delegation::RULE,
    &crate::audit_tampering::RULE,
    &crate::legacy_protocol::RULE,
    &crate::protection_policy::RULE,
    &crate::app_consent::RULE,
    &crate::app_access::RULE,
    &crate::privileged_role::RULE,
    &crate::mfa_change::RULE,
    &crate::conditional_access::RULE,
    &crate::fan_in::RULE,
    &crate::burst::MASS_DELETION,
    &crate::burst::BULK_SYNC,
    &crate::burst::ACCESS_REMOVAL,
];

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.id == id)
}
