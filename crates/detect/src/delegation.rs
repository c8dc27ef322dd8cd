//! Access to a mailbox handed to someone else: full access or control of its
//! permissions, sending as or on behalf of its owner, or its inbox opened to everyone.
//!
//! Severity: control of the mailbox's permissions and an inbox readable by everyone are
//! high; full access and send-as are medium (admins grant them to assistants daily);
//! send-on-behalf is low. Any grant to an address outside the organisation is high.

use super::address::{addresses, is_external};
use super::record::AuditRecord;
use super::signals::fold;
use super::target::mailbox;
use super::text::visible;
use super::{Finding, MAILBOX_DELEGATION, Severity, TenantContext};
use crate::evidence::{DelegationEvidence, Evidence};
use crate::rule::{Corpus, Rule};

/// Access to a mailbox handed to someone else.
pub(crate) const RULE: Rule = Rule {
    id: "mailbox-delegation",
    title: "Mailbox access granted",
    notification: "mailbox access granted",
    description: "Someone was given full access, control of permissions, send-as or send-on-behalf rights \
                  to a mailbox, or its inbox was opened to everyone: a way back in that survives a password \
                  reset.",
    false_positives: "Assistants and shared mailboxes are granted these rights every day; check who granted \
                      them and to whom.",
    attack: "T1098.002",
    severity: "control of permissions, an inbox readable by everyone, or any grant outside the organisation: \
               high; full access and send-as: medium; send-on-behalf: low",
    quieted_by: &[],
    references: &[
        "https://attack.mitre.org/techniques/T1098/002/",
        "https://learn.microsoft.com/powershell/module/exchange/add-mailboxpermission",
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
            access_rights: record.param("AccessRights").map(str::to_string),
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

fn is_inbox(folder: &str) -> bool {
    fold(folder).trim_start_matches(['\\', '/']) == "inbox"
}

fn reads(rights: &str) -> bool {
    READING.iter().any(|r| rights.contains(r))
}

fn inbox_words(rights: &str) -> String {
    format!("{} access to the inbox of", visible(rights))
}
