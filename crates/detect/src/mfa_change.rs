//! MFA turned off for an account, or a sign-in method added to it (Entra ID, content type
//! `Audit.AzureActiveDirectory`). Attackers who got past MFA once register their own
//! authenticator or phone to keep getting in (Proofpoint, Microsoft's AiTM write-ups).
//!
//! A method added right after a sign-in from a new country is the strong signal; that
//! join is the core's (it holds the sign-ins): the finding's `target` is the account,
//! and its time the record's.
//!
//! Severity: MFA turned off, or a Temporary Access Pass issued, high; every method
//! removed, or a method added by someone other than the account's owner, medium; the
//! owner registering a method (new staff, new phones do it daily) low.

use super::record::AuditRecord;
use super::text::visible;
use super::{Finding, MFA_CHANGED, Severity};
use crate::evidence::{Evidence, MfaEvidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// MFA turned off, or a sign-in method added or removed.
pub(crate) const RULE: Rule = Rule {
    id: "mfa-changed",
    title: "MFA disabled or sign-in method changed",
    notification: "mfa disabled or sign-in method changed",
    description: "Per-user MFA was turned off (`Disable Strong Authentication.`, or `Update user.` \
                  dropping StrongAuthenticationRequirement), or a sign-in method was registered or removed \
                  (`Update user.` changing StrongAuthenticationMethod or StrongAuthenticationPhoneAppDetail; \
                  `User registered security info` and its kin). Records come from Entra ID, content type \
                  Audit.AzureActiveDirectory. Weigh a new method against the account's recent sign-ins: \
                  one added just after a sign-in from a new country is an intruder's.",
    false_positives: "New staff registering at first sign-in, phone replacements, helpdesk resets.",
    attack: "T1556.006",
    severity: "MFA turned off or a Temporary Access Pass issued: high; every method removed, or a method \
               added by someone other than the owner: medium; the owner registering a method: low",
    quieted_by: &[TrustKind::Rule],
    references: &[
        "https://attack.mitre.org/techniques/T1556/006/",
        "https://attack.mitre.org/techniques/T1098/005/",
        "https://github.com/SigmaHQ/sigma/blob/master/rules/cloud/m365/audit/microsoft365_disabling_mfa.yml",
        "https://github.com/splunk/security_content/blob/develop/detections/cloud/o365_new_mfa_method_registered.yml",
        "https://learn.microsoft.com/entra/identity/monitoring-health/reference-audit-activities#authentication-methods",
    ],
    corpus: Corpus::Missing(
        "no verbatim MFA or security-info record is public in the corpus's sources",
    ),
};

const DISABLED: &str = "mfa disabled";
pub(crate) const REGISTERED: &str = "method registered";
const REMOVED: &str = "methods removed";
const TEMPORARY_PASS: &str = "temporary access pass";

pub(super) fn detect(record: &AuditRecord, findings: &mut Vec<Finding>) {
    // GUESS: Entra ID's Authentication Methods activities (`… security info`) are not known
    // to reach the unified audit log (identity-and-account-takeover.md §4); they are read
    // under their Entra names, with the account where other user records put it.
    let target = record.directory_target();
    let by_owner = target.trim().eq_ignore_ascii_case(record.user_id.trim());
    let added = if by_owner {
        Severity::Low
    } else {
        Severity::Medium
    };
    let change = if record.is_activity("Disable Strong Authentication.") {
        Some((Severity::High, DISABLED))
    } else if record.is_activity("Update user.") {
        updated(record, added)
    } else if [
        "User registered security info",
        "User registered all required security info",
    ]
    .iter()
    .any(|a| record.is_activity(a))
    {
        Some((added, REGISTERED))
    } else if record.is_activity("Admin registered security info") {
        // Entra ID's record names a Temporary Access Pass in the properties it sets
        // (`TemporaryAccessPass.Id`, …); GUESS: the unified audit log keeps those names.
        let pass = record
            .modified_properties
            .iter()
            .any(|p| p.name.to_ascii_lowercase().contains("temporaryaccesspass"));
        Some(if pass {
            (Severity::High, TEMPORARY_PASS)
        } else {
            (Severity::Medium, REGISTERED)
        })
    } else if ["User deleted security info", "Admin deleted security info"]
        .iter()
        .any(|a| record.is_activity(a))
    {
        Some((Severity::Medium, REMOVED))
    } else {
        None
    };
    let Some((severity, change)) = change else {
        return;
    };
    let account = visible(&target);
    let actor = visible(&record.user_id);
    let summary = match change {
        DISABLED => format!("MFA was turned off for {account} by {actor}."),
        TEMPORARY_PASS => format!("{actor} issued a Temporary Access Pass for {account}."),
        REMOVED => format!("Sign-in methods of {account} were removed by {actor}."),
        _ if by_owner => format!("{account} registered a new sign-in method."),
        _ => format!("A sign-in method was added to {account} by {actor}."),
    };
    findings.push(Finding {
        rule: MFA_CHANGED,
        severity,
        target,
        actor: record.user_id.clone(),
        summary,
        details: Evidence::Mfa(MfaEvidence {
            operation: record.operation.clone(),
            change: change.to_string(),
            properties: record
                .modified_properties
                .iter()
                .map(|p| p.name.clone())
                .collect(),
        }),
    });
}

/// What an `Update user.` did to the account's MFA, if anything: its requirement
/// dropped, its methods all removed, or one added (`added` says how grave that is).
fn updated(record: &AuditRecord, added: Severity) -> Option<(Severity, &'static str)> {
    let counts = |property: &str, key: &str| {
        record
            .modified(property)
            .map(|p| (count(&p.old_value, key), count(&p.new_value, key)))
    };
    if record
        .modified("StrongAuthenticationRequirement")
        .is_some_and(|p| requires(&p.old_value) && !requires(&p.new_value))
    {
        return Some((Severity::High, DISABLED));
    }
    // Splunk counts `MethodType` entries, old against new. GUESS: an authenticator app
    // added shows as one more `DeviceName` in StrongAuthenticationPhoneAppDetail (the
    // property's fields, as Graph's strongAuthenticationPhoneAppDetail has them); a
    // phone-only registration may log nothing else (Azure-Sentinel issue 4786).
    let methods = counts("StrongAuthenticationMethod", "\"methodtype\"");
    if methods.is_some_and(|(old, new)| old > 0 && new == 0) {
        return Some((Severity::Medium, REMOVED));
    }
    let apps = counts("StrongAuthenticationPhoneAppDetail", "\"devicename\"");
    if [methods, apps]
        .into_iter()
        .flatten()
        .any(|(old, new)| new > old)
    {
        return Some((added, REGISTERED));
    }
    None
}

/// How often `key` (lower case) occurs in `value`, case ignored.
fn count(value: &str, key: &str) -> usize {
    value.to_ascii_lowercase().matches(key).count()
}

/// Whether a StrongAuthenticationRequirement value requires MFA. GUESS: it is the
/// requirement list as JSON, `[{"RelyingParty":"*","State":1,...}]`, with `State` 0
/// disabled, 1 enabled, 2 enforced (Graph's strongAuthenticationRequirements; Sigma's
/// rule looks for `"State":0`); states written as words are read too.
fn requires(value: &str) -> bool {
    let v: String = value
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    [
        "\"state\":1",
        "\"state\":2",
        "\"state\":\"enabled\"",
        "\"state\":\"enforced\"",
    ]
    .iter()
    .any(|s| v.contains(s))
}
