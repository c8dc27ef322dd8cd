//! Conditional access or security defaults weakened (Entra ID, content type
//! `Audit.AzureActiveDirectory`): the tenant-wide rules that demand MFA or block legacy
//! sign-in turned off, set to report only, deleted, or given new exclusions, so an
//! attacker's sign-ins stop meeting them.
//!
//! GUESS: whether these activities reach the unified audit log, and under which name, is
//! unverified (identity-and-account-takeover.md §4). Entra ID names them `Update
//! Conditional Access policy` and `Update security defaults`; older records call every
//! directory policy change `Update policy.`, which counts only when it changes a property
//! named `ConditionalAccessPolicy`, the name Entra ID gives the policy's JSON.
//!
//! Severity: a policy deleted, turned off, set to report only, given exclusions or
//! stripped of its MFA requirement, or security defaults turned off: high; any other
//! change to a policy (or to security defaults, when the record does not say which way):
//! medium. New policies and security defaults turned on raise nothing.

use serde_json::Value;

use super::record::{AuditRecord, DISPLAY_NAME, scalar, truth};
use super::text::visible;
use super::{CONDITIONAL_ACCESS, Finding, Severity};
use crate::evidence::{Evidence, PolicyEvidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// Conditional access or security defaults weakened.
pub(crate) const RULE: Rule = Rule {
    id: "conditional-access-weakened",
    title: "Conditional access weakened",
    notification: "conditional access weakened",
    description: "A conditional access policy was deleted, turned off, set to report only, given new \
                  exclusions or stripped of its MFA requirement, or security defaults were turned off \
                  (Entra ID's `Update Conditional Access policy`, `Delete Conditional Access policy`, \
                  `Update security defaults`, or `Update policy.` on a conditional access policy; content \
                  type Audit.AzureActiveDirectory). Sign-ins the policy blocked or challenged now pass.",
    false_positives: "Planned policy work in a change window, or by the MSP's own automation; a user \
                      excluded while they travel.",
    attack: "T1556.009",
    severity: "deleted, turned off, report-only, new exclusions, MFA requirement removed, or security \
               defaults off: high; other changes: medium",
    quieted_by: &[TrustKind::Rule],
    references: &[
        "https://attack.mitre.org/techniques/T1556/009/",
        "https://learn.microsoft.com/entra/identity/monitoring-health/reference-audit-activities#conditional-access",
        "https://learn.microsoft.com/entra/identity/conditional-access/troubleshoot-policy-changes-audit-log",
        "https://github.com/SigmaHQ/sigma/blob/master/rules/cloud/azure/audit_logs/azure_aad_secops_ca_policy_updatedby_bad_actor.yml",
    ],
    corpus: Corpus::Missing(
        "no verbatim conditional access record is public in the corpus's sources",
    ),
};

/// The property holding a conditional access policy's JSON.
const POLICY_PROPERTY: &str = "ConditionalAccessPolicy";

pub(super) fn detect(record: &AuditRecord, findings: &mut Vec<Finding>) {
    let legacy = |activity| {
        record.is_activity(activity)
            && record.modified_properties.iter().any(|p| {
                p.name
                    .to_ascii_lowercase()
                    .contains("conditionalaccesspolicy")
            })
    };
    let (severity, change) = if record.is_activity("Delete Conditional Access policy")
        || legacy("Delete policy.")
    {
        (Severity::High, "deleted".to_string())
    } else if record.is_activity("Update Conditional Access policy") || legacy("Update policy.") {
        match weakened(record) {
            Some(how) => (Severity::High, how.to_string()),
            None => (Severity::Medium, "changed".to_string()),
        }
    } else if record.is_activity("Update security defaults") {
        match security_defaults_on(record) {
            Some(true) => return,
            Some(false) => (Severity::High, "turned off".to_string()),
            None => (Severity::Medium, "changed".to_string()),
        }
    } else {
        return;
    };
    let defaults = record.is_activity("Update security defaults");
    let policy = if defaults {
        "security defaults".to_string()
    } else {
        record
            .target_of(DISPLAY_NAME)
            .map(str::to_string)
            .unwrap_or_else(|| record.directory_target())
    };
    let summary = if defaults {
        format!(
            "Security defaults were {change} by {}.",
            visible(&record.user_id)
        )
    } else {
        format!(
            "Conditional access policy {} was {} by {}.",
            visible(&policy),
            if change == "report-only" {
                "set to report only"
            } else {
                &change
            },
            visible(&record.user_id)
        )
    };
    findings.push(Finding {
        rule: CONDITIONAL_ACCESS,
        severity,
        target: "the whole organisation".to_string(),
        actor: record.user_id.clone(),
        summary,
        details: Evidence::Policy(PolicyEvidence {
            operation: record.operation.clone(),
            policy,
            change,
            parameters: Vec::new(),
        }),
    });
}

/// How an update weakened the policy, comparing its JSON before and after; `None` when
/// it did not, or the record does not say.
fn weakened(record: &AuditRecord) -> Option<&'static str> {
    let property = record.modified(POLICY_PROPERTY)?;
    let parse = |v: &str| serde_json::from_str::<Value>(v.trim()).ok();
    let (old, new) = (parse(&property.old_value)?, parse(&property.new_value)?);
    let state = |v: &Value| {
        find(v, "state")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    let (was, is) = (state(&old), state(&new));
    if is.as_deref() == Some("disabled") && was.as_deref() != Some("disabled") {
        return Some("turned off");
    }
    if is.as_deref() == Some("enabledforreportingbutnotenforced")
        && was.as_deref() == Some("enabled")
    {
        return Some("report-only");
    }
    if exclusions(&new) > exclusions(&old) {
        return Some("given new exclusions");
    }
    let mfa = |v: &Value| v.to_string().to_ascii_lowercase().contains("\"mfa\"");
    if mfa(&old) && !mfa(&new) {
        return Some("stripped of its MFA requirement");
    }
    None
}

/// The first value under `key` (without case), searched depth first.
fn find<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
            .or_else(|| map.values().find_map(|v| find(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find(v, key)),
        _ => None,
    }
}

/// How many users, groups, roles, applications and locations the policy excludes: the
/// entries of every `exclude…` list.
fn exclusions(v: &Value) -> usize {
    match v {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Value::Array(items) if k.to_ascii_lowercase().starts_with("exclude") => items.len(),
                _ => exclusions(v),
            })
            .sum(),
        Value::Array(items) => items.iter().map(exclusions).sum(),
        _ => 0,
    }
}

/// Whether security defaults are now on, when the record says. GUESS: no record of this
/// activity was found; an `…Enabled` property with a boolean value, or a value holding
/// `"isEnabled": …` (Graph's identitySecurityDefaultsEnforcementPolicy), is read.
fn security_defaults_on(record: &AuditRecord) -> Option<bool> {
    record.modified_properties.iter().find_map(|p| {
        if p.name.to_ascii_lowercase().contains("enabled")
            && let Some(on) = truth(&p.new_value)
        {
            return Some(on);
        }
        serde_json::from_str::<Value>(scalar(&p.new_value))
            .ok()
            .and_then(|v| find(&v, "isEnabled").and_then(Value::as_bool))
    })
}
