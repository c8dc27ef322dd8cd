//! An application given a way in that needs no user (Entra ID, content type
//! `Audit.AzureActiveDirectory`): a new secret or certificate on an application or its
//! service principal, or an application permission over mail. The Nobelium pattern: a
//! credential added to an application that already reads mail.
//!
//! Severity: an application permission over every mailbox (`full_access_as_app`) is
//! critical, other mail permissions high; a credential added by a person high, by an
//! application (secret rotation, deployment pipelines) medium.

use super::record::{AuditRecord, DISPLAY_NAME};
use super::text::visible;
use super::{APP_ACCESS, Finding, Severity};
use crate::evidence::{AppAccessEvidence, Evidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// An application given new credentials or a mail permission.
pub(crate) const RULE: Rule = Rule {
    id: "app-access-added",
    title: "Application given new access",
    notification: "application given new access",
    description: "A secret or certificate was added to an application or service principal (`Add service \
                  principal credentials.`, `Update application – Certificates and secrets management `), \
                  or an application was given an application permission over mail (`Add app role \
                  assignment to service principal.`). Either lets whoever holds the credential read mail \
                  with no user signed in. Records come from Entra ID, content type \
                  Audit.AzureActiveDirectory.",
    false_positives: "Secret rotation and deployment pipelines renewing their own credentials; an admin \
                      setting up an approved backup or archiving service.",
    attack: "T1098.001",
    severity: "full_access_as_app: critical; other mail permissions: high; a credential added by a person: \
               high, by an application: medium",
    quieted_by: &[TrustKind::Rule],
    references: &[
        "https://attack.mitre.org/techniques/T1098/001/",
        "https://learn.microsoft.com/purview/audit-log-activities#application-administration-activities",
        "https://github.com/SigmaHQ/sigma/blob/master/rules/cloud/azure/audit_logs/azure_app_credential_added.yml",
        "https://github.com/microsoft/Microsoft-365-Defender-Hunting-Queries/blob/master/Persistence/CredentialsAddAfterAdminConsentedToApp%5BNobelium%5D.md",
    ],
    corpus: Corpus::Missing(
        "none in the corpus; a real Add app role assignment to service principal. record (Office 365 \
         Management APIs, no mail role) is public in elastic/beats x-pack/filebeat/module/o365/audit/test/\
         08-azuread.log under the Elastic License, which keeps it out of this repository: run through \
         `rulewatch check` it stays quiet, as a role over no mail should",
    ),
};

/// Exchange's permission over every mailbox, by value and by its id in Exchange Online's
/// application (identity-and-account-takeover.md §1, from Splunk and Sentinel rules).
const FULL_ACCESS_AS_APP: [&str; 2] =
    ["full_access_as_app", "dc890d15-9560-4a4c-9b7f-a736ec74ec40"];

/// Application permissions over mail, by value, and Graph's `Mail.Read` by id (ibid.).
const MAIL_ROLES: [&str; 8] = [
    "mail.read",
    "mail.readwrite",
    "mail.send",
    "mailboxsettings.readwrite",
    "ews.accessasapp",
    "imap.accessasapp",
    "pop.accessasapp",
    "810c84a8-4a9e-49e6-bf7d-12d183f40d01",
];

pub(super) fn detect(record: &AuditRecord, findings: &mut Vec<Finding>) {
    let (severity, evidence, what) = if record.is_activity("Add service principal credentials.")
        || is_secrets_update(&record.operation)
    {
        let by_person = record.user_id.contains('@');
        let credential = record
            .new_value("KeyDescription")
            .filter(|k| !k.is_empty())
            .map(str::to_string);
        let severity = if by_person {
            Severity::High
        } else {
            Severity::Medium
        };
        let evidence = AppAccessEvidence {
            operation: record.operation.clone(),
            app: app(record),
            permission: None,
            credential,
            by_person,
        };
        (
            severity,
            evidence,
            "a new secret or certificate".to_string(),
        )
    } else if record.is_activity("Add app role assignment to service principal.") {
        let Some((severity, permission)) = mail_role(record) else {
            return;
        };
        let evidence = AppAccessEvidence {
            operation: record.operation.clone(),
            app: app(record),
            permission: Some(permission.clone()),
            credential: None,
            by_person: record.user_id.contains('@'),
        };
        (
            severity,
            evidence,
            format!("the application permission {}", visible(&permission)),
        )
    } else {
        return;
    };
    findings.push(Finding {
        rule: APP_ACCESS,
        severity,
        target: evidence.app.clone(),
        actor: record.user_id.clone(),
        summary: format!(
            "Application {} was given {what} by {}.",
            visible(&evidence.app),
            visible(&record.user_id)
        ),
        details: Evidence::AppAccess(evidence),
    });
}

/// `Update application – Certificates and secrets management `: the unified audit log's
/// name has an en dash and a trailing space, Entra ID's a hyphen and none; any dash, any
/// spacing.
fn is_secrets_update(operation: &str) -> bool {
    let words: Vec<String> = operation
        .split(|c: char| c.is_whitespace() || matches!(c, '-' | '–' | '—' | '.'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    words
        == [
            "update",
            "application",
            "certificates",
            "and",
            "secrets",
            "management",
        ]
}

/// The mail permission an app role assignment gives, with its severity; `None` for any
/// other permission. `AppRole.Value` names it, `AppRole.Id` identifies it.
fn mail_role(record: &AuditRecord) -> Option<(Severity, String)> {
    let given: Vec<&str> = ["AppRole.Value", "AppRole.Id", "AppRole.DisplayName"]
        .iter()
        .filter_map(|p| record.new_value(p))
        .filter(|v| !v.is_empty())
        .collect();
    let is = |names: &[&str]| {
        given
            .iter()
            .any(|g| names.iter().any(|n| g.eq_ignore_ascii_case(n)))
    };
    let shown = given.first()?.to_string();
    if is(&FULL_ACCESS_AS_APP) {
        Some((Severity::Critical, shown))
    } else if is(&MAIL_ROLES) {
        Some((Severity::High, shown))
    } else {
        None
    }
}

/// The application changed. GUESS: app role records name the receiving application in
/// `ServicePrincipal.DisplayName` (Entra ID's modified properties for this activity),
/// credential records only in `Target`; then `ObjectId`.
fn app(record: &AuditRecord) -> String {
    record
        .new_value("ServicePrincipal.DisplayName")
        .filter(|n| !n.is_empty())
        .or_else(|| record.target_of(DISPLAY_NAME))
        .map(str::to_string)
        .unwrap_or_else(|| record.directory_target())
}
