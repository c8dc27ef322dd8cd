//! Which mailbox an alert is about. Audit records name mailboxes by UPN, by a primary SMTP
//! address that is not the UPN, by alias or by GUID (../shared/reference/m365-api.md §G 12); Graph takes only a
//! UPN or object id. So the alert's target is resolved through Exchange `Get-Mailbox`
//! (Graph `/users/{id}` when Exchange cannot answer) to exactly one mailbox before any
//! step is planned, and every step then names that mailbox by its UPN. The target is text
//! from an audit record: it only ever selects an account through Microsoft's own answer.

use serde_json::{Value, json};
use uuid::Uuid;

use super::microsoft::Microsoft;
use crate::api::Api;
use crate::auth::AppIdentity;
use crate::http::RetryStats;

/// The mailbox every step acts on.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Resolved {
    pub upn: String,
    /// The Entra object id (Exchange's `ExternalDirectoryObjectId`), when known.
    pub object_id: Option<String>,
}

/// What the target looks like, before anyone is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Guid,
    Address,
    Alias,
}

/// Exchange's characters for an alias (a mail nickname): letters, digits and
/// `!#$%&'*+-/=?^_`{|}~.`, so nothing that could be a second value or a display name.
fn form(target: &str) -> Option<Form> {
    let alias_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    if Uuid::parse_str(target).is_ok() {
        return Some(Form::Guid);
    }
    match target.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && local.chars().all(alias_char)
                && domain.contains('.')
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') =>
        {
            Some(Form::Address)
        }
        Some(_) => None,
        None => (target.len() <= 64 && !target.is_empty() && target.chars().all(alias_char))
            .then_some(Form::Alias),
    }
}

/// Whether `target` could name a mailbox at all: one address, alias or GUID.
pub(super) fn is_target(target: &str) -> bool {
    form(target.trim()).is_some()
}

/// Whether `target` names a mailbox by GUID or alias, so that only Exchange can say whose.
pub(crate) fn named_by_id(target: &str) -> bool {
    matches!(form(target.trim()), Some(Form::Guid | Form::Alias))
}

/// The UPN of the mailbox `target` names, as Exchange (or Graph) says, for a scan that
/// groups alerts by mailbox: a read, nothing changed.
pub(crate) async fn upn_of(
    api: &Api,
    app: &AppIdentity,
    stats: &RetryStats,
    target: &str,
) -> Result<String, String> {
    let ms = Microsoft {
        api,
        app,
        stats,
        verify_delays: &[],
    };
    resolve(&ms, target).await.map(|r| r.upn)
}

/// A UPN as Exchange or Graph gave it: one plain address.
fn upn(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|u| form(u) == Some(Form::Address))
        .map(str::to_string)
}

/// Resolves `target` to exactly one mailbox, or says in words why it cannot.
pub(super) async fn resolve(ms: &Microsoft<'_>, target: &str) -> Result<Resolved, String> {
    let target = target.trim();
    let Some(form) = form(target) else {
        return Err(format!(
            "\"{}\" is not a mailbox address, alias or id",
            crate::detect::visible_text(target)
        ));
    };
    let what = format!("finding the mailbox {target}");
    let exchange = match ms
        .org_cmdlet("Get-Mailbox", json!({"Identity": target}), &what)
        .await
    {
        Ok(rows) => match rows.as_slice() {
            [one] => match upn(&one["UserPrincipalName"]) {
                Some(upn) => {
                    let object_id = one["ExternalDirectoryObjectId"]
                        .as_str()
                        .filter(|id| Uuid::parse_str(id).is_ok());
                    return Ok(Resolved {
                        upn,
                        object_id: object_id.map(str::to_string),
                    });
                }
                None => format!("{what}: Exchange's answer names no user principal"),
            },
            [] => return Err(format!("{what}: Exchange finds no such mailbox")),
            many => {
                return Err(format!(
                    "{what}: Exchange finds {} mailboxes by that name, not one",
                    many.len()
                ));
            }
        },
        Err(r) if r.not_found => return Err(r.message),
        Err(r) => r.message,
    };
    // Graph knows users by object id or UPN only: an SMTP address that is not a UPN, or an
    // alias, is not found there (§G 12).
    if form == Form::Alias {
        return Err(exchange);
    }
    match ms.account(target).await {
        Ok(account) => match upn(&Value::String(account.user_principal_name)) {
            Some(upn) => Ok(Resolved {
                upn,
                object_id: Some(account.id).filter(|id| Uuid::parse_str(id).is_ok()),
            }),
            None => Err(format!(
                "{exchange}; Graph's answer names no user principal"
            )),
        },
        Err(graph) => Err(format!("{exchange}; {}", graph.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_address_alias_or_id_is_a_target() {
        assert_eq!(
            form("311b45d6-1a3e-46ac-8434-721367961e19"),
            Some(Form::Guid)
        );
        assert_eq!(form("megan.bowen@contoso.com"), Some(Form::Address));
        assert_eq!(form("meganb"), Some(Form::Alias));
        for hostile in [
            "",
            "Megan Bowen",
            "a@b.com;c@d.com",
            "a@b.com c@d.com",
            "\"ceo@contoso.com\" [SMTP:x@evil.example]",
            "Invoices/ceo@contoso.com\\x",
            "a@b",
            "x\u{1b}[2K@contoso.com",
            "ceo@contoso.com\u{202e}",
        ] {
            assert_eq!(form(hostile), None, "{hostile:?}");
        }
    }
}
