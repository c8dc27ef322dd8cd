//! A rule's severity as an MSP sets it (issue 16 item 5): for one tenant or for every
//! tenant, in the store's settings so a team shares them; with the allowlist, what
//! [`Tuning`] applies to a tenant's findings. Detection keeps its own
//! severity; judging replaces it before enrichment, which may still raise it a step for a
//! change made from somewhere new.
#![warn(missing_docs)]

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::allowlist::Allowlist;
use crate::detect::{Evidence, Severity};
use crate::store::{Key, NewAlert, Store, StoreError};

/// The overrides, as stored.
pub const SETTING: Key<Vec<SeverityOverride>> = Key::new("rules.severity");

/// One rule's severity, for one tenant or (no tenant) for all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityOverride {
    /// The rule's id (`legacy-protocol-enabled`).
    pub rule: String,
    /// The tenant it applies to; none: every tenant.
    pub tenant_id: Option<String>,
    /// The severity its alerts get.
    pub severity: Severity,
}

/// The overrides that apply to one tenant, by rule: its own over the all-tenant ones.
#[derive(Debug, Clone, Default)]
pub struct Severities(HashMap<String, Severity>);

impl Severities {
    /// What `overrides` set for tenant `tenant_id`.
    pub fn for_tenant(overrides: &[SeverityOverride], tenant_id: &str) -> Severities {
        let mut by_rule = HashMap::new();
        for o in overrides.iter().filter(|o| o.tenant_id.is_none()) {
            by_rule.insert(o.rule.clone(), o.severity);
        }
        for o in overrides.iter().filter(|o| {
            o.tenant_id
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(tenant_id))
        }) {
            by_rule.insert(o.rule.clone(), o.severity);
        }
        Severities(by_rule)
    }

    /// The severity set for `rule`, if any.
    pub fn of(&self, rule: &str) -> Option<Severity> {
        self.0.get(rule).copied()
    }
}

/// What the MSP set for one tenant's alerts: the allowlist that applies to it now, and
/// the severities set for it. Applied to findings after detection made them; the rules
/// never see it.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    /// The tenant's allowlist and every tenant's, active entries only.
    pub allowlist: Allowlist,
    /// The severities set for the tenant's alerts, by rule.
    pub severities: Severities,
}

impl Tuning {
    /// Tenant `tenant_id`'s, as the store holds them now.
    pub fn of_tenant(store: &Store, tenant_id: &str) -> Result<Tuning, StoreError> {
        Ok(Tuning {
            allowlist: store.allowlist(tenant_id)?,
            severities: Severities::for_tenant(
                &store.setting(&SETTING)?.unwrap_or_default(),
                tenant_id,
            ),
        })
    }

    /// A finding of `rule` about `target` as the MSP wants it: the severity set for the
    /// rule (else `severity`, detection's), and why the allowlist quiets it, if it does.
    pub fn apply(
        &self,
        rule: &str,
        target: &str,
        details: &Evidence,
        severity: Severity,
    ) -> (Severity, Option<String>) {
        (
            self.severities.of(rule).unwrap_or(severity),
            self.allowlist.covers(rule, target, details),
        )
    }

    /// `alert` as the MSP wants it (see [`Tuning::apply`]).
    pub fn tune(&self, alert: &mut NewAlert) {
        let (severity, quiet) =
            self.apply(&alert.rule, &alert.target, &alert.details, alert.severity);
        alert.severity = severity;
        alert.suppressed_by = alert.suppressed_by.take().or(quiet);
    }
}

/// `overrides` with `rule`'s severity for `tenant_id` (all tenants when none) set to
/// `severity`, or back to the rule's own when `None`.
pub fn with(
    mut overrides: Vec<SeverityOverride>,
    rule: &str,
    tenant_id: Option<&str>,
    severity: Option<Severity>,
) -> Vec<SeverityOverride> {
    overrides.retain(|o| !(o.rule == rule && o.tenant_id.as_deref() == tenant_id));
    if let Some(severity) = severity {
        overrides.push(SeverityOverride {
            rule: rule.to_string(),
            tenant_id: tenant_id.map(str::to_string),
            severity,
        });
    }
    overrides
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_s_own_severity_wins_over_every_tenant_s_and_clearing_restores_the_rule_s() {
        let all = with(
            Vec::new(),
            "legacy-protocol-enabled",
            None,
            Some(Severity::High),
        );
        let both = with(
            all,
            "legacy-protocol-enabled",
            Some("t-1"),
            Some(Severity::Low),
        );
        assert_eq!(
            Severities::for_tenant(&both, "T-1").of("legacy-protocol-enabled"),
            Some(Severity::Low)
        );
        assert_eq!(
            Severities::for_tenant(&both, "t-2").of("legacy-protocol-enabled"),
            Some(Severity::High)
        );
        assert_eq!(Severities::for_tenant(&both, "t-2").of("mfa-changed"), None);
        // Setting again replaces; clearing the tenant's leaves every tenant's.
        let again = with(
            both,
            "legacy-protocol-enabled",
            None,
            Some(Severity::Medium),
        );
        assert_eq!(again.len(), 2);
        let cleared = with(again, "legacy-protocol-enabled", Some("t-1"), None);
        assert_eq!(
            Severities::for_tenant(&cleared, "t-1").of("legacy-protocol-enabled"),
            Some(Severity::Medium)
        );
    }
}
