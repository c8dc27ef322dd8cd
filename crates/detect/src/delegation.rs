//! Access to a mailbox handed to someone else: full access or control of its
//! permissions, sending as or on behalf of its owner, or its inbox opened to everyone;
//! or access to every mailbox handed to an account or application through an Exchange
//! management role (`ApplicationImpersonation`, or RBAC for Applications' mail roles).
//!
//! Severity: control of the mailbox's permissions, an inbox readable by everyone, and a
//! role over mailboxes are high; full access and send-as are medium (admins grant them
//! to assistants daily); send-on-behalf and a management role named only by its id (the
//! record cannot say which) are low and medium. Any grant to an address outside the
//! organisation is high.

use super::address::{addresses, is_external};
use super::record::{AuditRecord, is_guid};
use super::signals::fold;
use super::target::mailbox;
use super::text::visible;
use super::{Finding, MAILBOX_DELEGATION, Severity, TenantContext};
use crate::evidence::{DelegationEvidence, Evidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// Access to a mailbox handed to someone else.
pub(crate) const RULE: Rule = Rule {
    id: "mailbox-delegation",
    title: "Mailbox access granted",
    notification: "mailbox access granted",
    description: "Someone was given full access, control of permissions, send-as or send-on-behalf rights \
                  to a mailbox, or its inbox was opened to everyone, or an account or application was given \
                  the ApplicationImpersonation role or a mail role of RBAC for Applications over every \
                  mailbox (`New-ManagementRoleAssignment`): a way back in that survives a password reset. \
                  Records come from Exchange, content type Audit.Exchange.",
    false_positives: "Assistants and shared mailboxes are granted these rights every day; backup and \
                      migration services are given impersonation or application roles. Check who granted \
                      them and to whom.",
    attack: "T1098.002",
    severity: "control of permissions, an inbox readable by everyone, a management role over mailboxes, or \
               any grant outside the organisation: high; full access and send-as: medium; a management role \
               named by id: medium; send-on-behalf: low",
    quieted_by: &[TrustKind::Rule],
    references: &[
        "https://attack.mitre.org/techniques/T1098/002/",
        "https://learn.microsoft.com/powershell/module/exchange/add-mailboxpermission",
        "https://learn.microsoft.com/powershell/module/exchange/new-managementroleassignment",
        "https://learn.microsoft.com/exchange/permissions-exo/application-rbac",
        "https://github.com/splunk/security_content/blob/develop/detections/cloud/o365_applicationimpersonation_role_assigned.yml",
    ],
    corpus: Corpus::Records(&["add-recipientpermission-sendas.json"]),
};

/// Members that stand for every user (or anyone at all).
const EVERYONE: [&str; 3] = ["default", "anonymous", "everyone"];

/// Folder roles and rights that let the member read the messages.
/// (`PublishingEditor`, `NonEditingAuthor`, `ReadItems`, `ReadAny` included by substring.)
const READING: [&str; 5] = ["owner", "editor", "author", "reviewer", "read"];

struct Grant {
    severity: Severity,
    target: String,
    grantee: String,
    what: String,
}

pub(super) fn detect(record: &AuditRecord, ctx: &TenantContext, findings: &mut Vec<Finding>) {
    let Some(mut grant) = grant(record) else {
        return;
    };
    let outside: Vec<String> = addresses(&grant.grantee)
        .into_iter()
        .filter(|a| is_external(a, &ctx.accepted_domains))
        .collect();
    if !outside.is_empty() {
        grant.severity = Severity::High;
    }
    findings.push(Finding {
        rule: MAILBOX_DELEGATION,
        severity: grant.severity,
        summary: format!(
            "{} was given {} {}.",
            visible(&grant.grantee),
            grant.what,
            visible(&grant.target)
        ),
        details: Evidence::Delegation(DelegationEvidence {
            operation: record.operation.clone(),
            grantee: grant.grantee,
            grantee_outside: !outside.is_empty(),
            access_rights: record
                .param("AccessRights")
                .or_else(|| record.param("Role"))
                .map(str::to_string),
        }),
        target: grant.target,
        actor: record.user_id.clone(),
    });
}

fn grant(record: &AuditRecord) -> Option<Grant> {
    let rights = record
        .param("AccessRights")
        .unwrap_or("")
        .to_ascii_lowercase();
    let grantee = |param: &str| record.param(param).unwrap_or("").trim().to_string();
    if record.is("Add-MailboxPermission") && !record.flag("Deny") {
        let (severity, what) =
            if rights.contains("changeowner") || rights.contains("changepermission") {
                (Severity::High, "control over the permissions of mailbox")
            } else if rights.contains("fullaccess") {
                (Severity::Medium, "full access to mailbox")
            } else {
                return None;
            };
        return Some(Grant {
            severity,
            target: mailbox(record),
            grantee: grantee("User"),
            what: what.into(),
        });
    }
    if record.is("Add-RecipientPermission") && rights.contains("sendas") {
        return Some(Grant {
            severity: Severity::Medium,
            target: mailbox(record),
            grantee: grantee("Trustee"),
            what: "the right to send as".into(),
        });
    }
    if record.is("Set-Mailbox") {
        let to = grantee("GrantSendOnBehalfTo");
        let lower = to.to_ascii_lowercase();
        // `@{Remove="bob"}` takes the right away; `$null` clears it.
        if to.is_empty() || lower == "$null" || (lower.contains("remove") && !lower.contains("add"))
        {
            return None;
        }
        return Some(Grant {
            severity: Severity::Low,
            target: mailbox(record),
            grantee: to,
            what: "the right to send on behalf of".into(),
        });
    }
    if record.is("Set-MailboxFolderPermission") || record.is("Add-MailboxFolderPermission") {
        let identity = record.param("Identity").unwrap_or("");
        let (owner, folder) = identity.rsplit_once(':').unwrap_or(("", identity));
        let member = fold(&grantee("User"));
        if !is_inbox(folder) || !EVERYONE.contains(&member.as_str()) || !reads(&rights) {
            return None;
        }
        let target = if owner.trim().is_empty() {
            record.user_id.clone()
        } else {
            owner.trim().to_string()
        };
        let what = inbox_words(record.param("AccessRights").unwrap_or(""));
        return Some(Grant {
            severity: Severity::High,
            target,
            grantee: grantee("User"),
            what,
        });
    }
    if record.is("New-ManagementRoleAssignment") {
        return role_assignment(record);
    }
    if record.is("ModifyFolderPermissions") || record.is("AddFolderPermissions") {
        let folder = &record.item["ParentFolder"];
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
        let name = if folder["Name"].is_string() {
            text(&folder["Name"])
        } else {
            text(&folder["Path"])
        };
        let member = text(&folder["MemberUpn"]);
        let member_rights = text(&folder["MemberRights"]);
        if !is_inbox(&name)
            || !EVERYONE.contains(&fold(&member).as_str())
            || !reads(&member_rights.to_ascii_lowercase())
        {
            return None;
        }
        let target = [record.mailbox_owner_upn.trim(), record.user_id.trim()]
            .into_iter()
            .find(|m| !m.is_empty())?;
        return Some(Grant {
            severity: Severity::High,
            target: target.to_string(),
            grantee: member,
            what: inbox_words(&member_rights),
        });
    }
    None
}

/// The scopes that narrow a management role assignment to some mailboxes.
const SCOPES: [&str; 5] = [
    "CustomResourceScope",
    "CustomRecipientWriteScope",
    "ExclusiveRecipientWriteScope",
    "RecipientAdministrativeUnitScope",
    "RecipientOrganizationalUnitScope",
];

/// A management role over mailboxes: ApplicationImpersonation (retired from Exchange
/// Online in 2025, so any grant is odd), RBAC for Applications' mail roles
/// (`Application Mail.Read`, `Application EWS.AccessAsApp`, `Application Exchange Full
/// Access`…), or a role named only by its id, which the record cannot resolve. The
/// assignee is an `App` (service principal), `User`, `SecurityGroup` or `Policy`.
fn role_assignment(record: &AuditRecord) -> Option<Grant> {
    let role = record.param("Role").unwrap_or("").trim();
    let folded = fold(role).replace(' ', "");
    let application_mail = folded.starts_with("application")
        && ["mail", "ews", "exchangefullaccess"]
            .iter()
            .any(|m| folded.contains(m));
    // The assignment is named `<role>-<assignee>` unless -Name says otherwise.
    let impersonation = folded == "applicationimpersonation"
        || (role.is_empty()
            && record
                .object_id
                .to_ascii_lowercase()
                .contains("applicationimpersonation"));
    let severity = if impersonation || application_mail {
        Severity::High
    } else if is_guid(role) {
        Severity::Medium
    } else {
        return None;
    };
    let grantee = ["App", "User", "SecurityGroup", "Policy"]
        .iter()
        .filter_map(|p| record.param(p))
        .map(str::trim)
        .find(|g| !g.is_empty())
        .unwrap_or("")
        .to_string();
    let target = SCOPES
        .iter()
        .filter_map(|s| record.param(s))
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map_or("every mailbox in the organisation".to_string(), |scope| {
            format!("the mailboxes of scope {scope}")
        });
    let shown = if role.is_empty() {
        "ApplicationImpersonation"
    } else {
        role
    };
    Some(Grant {
        severity,
        target,
        grantee,
        what: format!("the management role {} over", visible(shown)),
    })
}

fn is_inbox(folder: &str) -> bool {
    fold(folder).trim_start_matches(['\\', '/']) == "inbox"
}

fn reads(rights: &str) -> bool {
    READING.iter().any(|r| rights.contains(r))
}

fn inbox_words(rights: &str) -> String {
    format!("{} access to the inbox of", visible(rights))
}
