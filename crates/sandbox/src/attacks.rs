//! Generators of audit records in the exact shape the Management Activity API serves
//! them (see the real samples in the reference corpus), for planting attacks in scenarios
//! and tests. Each generator's documentation names the content type whose listing serves
//! the record, which a planted record's `content_type` must match:
//!
//! - `Audit.Exchange`: Exchange admin cmdlets (RecordType 1, here) and mailbox-audit
//!   records ([`hard_delete_items`], [`mail_items_accessed_sync`]);
//! - `Audit.AzureActiveDirectory`: sign-ins ([`user_logged_in`]) and directory changes
//!   (consent, roles, authentication methods, app credentials, Conditional Access);
//! - `Audit.General`: Security & Compliance cmdlets ([`remove_dlp_policy`],
//!   [`disable_protection_alert`]).

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ids;
use crate::times::record_time;

mod compliance;
mod entra;
mod mailbox;

pub(crate) use compliance::compliance_record;
pub use compliance::{disable_protection_alert, remove_dlp_policy};
pub(crate) use entra::{add_member_to_group, update_user};
pub use entra::{
    add_member_to_role, add_service_principal, add_service_principal_credentials,
    conditional_access_policy_deleted, conditional_access_policy_updated, consent_to_application,
    delete_user, disable_strong_authentication, register_security_info, remove_member_from_role,
    reset_user_password, security_defaults_disabled, update_user_strong_auth,
};
pub use mailbox::{hard_delete_items, mail_items_accessed_sync};

/// Exchange Online's first-party app id, which Exchange admin records carry as `AppId`.
const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";

/// The browser sign-ins and portal changes are made from.
const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// Who did what to whom, where and when: the parts of a record that vary between attacks.
#[derive(Debug, Clone)]
pub struct RecordCtx {
    /// The tenant's GUID (`OrganizationId`).
    pub tenant_id: String,
    /// The tenant's `*.onmicrosoft.com` domain (`OrganizationName`, and part of rule ObjectIds).
    pub tenant_initial_domain: String,
    /// The account that acted: ran the cmdlet, signed in, changed the directory (`UserId`).
    pub actor_upn: String,
    /// The mailbox or account acted on; equal to the actor for a user's own rules.
    pub target_upn: String,
    /// As real records show it, with a port: `203.0.113.7:51234` or `[2001:db8::7]:51234`.
    pub client_ip: String,
    /// When it happened (`CreationTime`).
    pub creation_time: DateTime<Utc>,
    /// The record's `Id`, from which its other identifiers are derived.
    pub record_id: Uuid,
}

/// The inbox-rule action that sends mail on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardKind {
    /// `ForwardTo`: each message is forwarded as it is.
    ForwardTo,
    /// `ForwardAsAttachmentTo`: each message is forwarded as an attachment.
    ForwardAsAttachmentTo,
    /// `RedirectTo`: each message is redirected, keeping its original sender.
    RedirectTo,
}

impl ForwardKind {
    /// The cmdlet parameter name, which is also the record's `Parameters` name.
    pub fn parameter(self) -> &'static str {
        match self {
            ForwardKind::ForwardTo => "ForwardTo",
            ForwardKind::ForwardAsAttachmentTo => "ForwardAsAttachmentTo",
            ForwardKind::RedirectTo => "RedirectTo",
        }
    }
}

/// `New-InboxRule` with no condition that forwards every message to `forward_to`.
/// ObjectId: `<forest>/Microsoft Exchange Hosted Organizations/<initial domain>/<alias>\<rule>`.
pub fn new_inbox_rule_forward(
    ctx: &RecordCtx,
    rule_name: &str,
    forward_to: &[&str],
    kind: ForwardKind,
) -> Value {
    let mut params = rule_header(ctx, "Name", rule_name);
    params.push((kind.parameter(), recipients(forward_to)));
    params.push(("StopProcessingRules", "True".into()));
    admin_record(ctx, "New-InboxRule", rule_object_id(ctx, rule_name), params)
}

/// `New-InboxRule` with no condition that deletes and marks read every message, like the
/// real rule named "." in the reference corpus.
pub fn new_inbox_rule_delete_all(ctx: &RecordCtx, rule_name: &str) -> Value {
    let mut params = rule_header(ctx, "Name", rule_name);
    params.extend([
        ("DeleteMessage", "True".to_string()),
        ("MarkAsRead", "True".to_string()),
        ("StopProcessingRules", "True".to_string()),
    ]);
    admin_record(ctx, "New-InboxRule", rule_object_id(ctx, rule_name), params)
}

/// `Set-InboxRule` adding a forwarding action to an existing rule. Like real Set-InboxRule
/// records it carries only the changed parameters; ObjectId is `<mailbox GUID>\<rule id>`.
pub fn set_inbox_rule_forward(
    ctx: &RecordCtx,
    rule_identity: &str,
    forward_to: &[&str],
    kind: ForwardKind,
) -> Value {
    let mut params = rule_header(ctx, "Identity", rule_identity);
    params.push((kind.parameter(), recipients(forward_to)));
    let rule_id = ids::rule_id(&[
        b"rule",
        ctx.target_upn.to_ascii_lowercase().as_bytes(),
        rule_identity.as_bytes(),
    ]);
    let object_id = format!(
        "{}\\{rule_id}",
        ids::mailbox_guid(&ctx.tenant_id, &ctx.target_upn)
    );
    admin_record(ctx, "Set-InboxRule", object_id, params)
}

/// `Set-Mailbox` on the target (`Identity` = target UPN) setting mailbox forwarding.
/// `forwarding_smtp` is copied verbatim, so pass `"smtp:x@example.net"` or a bare address.
pub fn set_mailbox_forwarding(
    ctx: &RecordCtx,
    forwarding_smtp: Option<&str>,
    forwarding_address: Option<&str>,
    deliver_to_mailbox_and_forward: bool,
) -> Value {
    let mut params = vec![("Identity", ctx.target_upn.clone())];
    if let Some(smtp) = forwarding_smtp {
        params.push(("ForwardingSmtpAddress", smtp.to_string()));
    }
    if let Some(address) = forwarding_address {
        params.push(("ForwardingAddress", address.to_string()));
    }
    params.push((
        "DeliverToMailboxAndForward",
        title_bool(deliver_to_mailbox_and_forward),
    ));
    let object_id = ids::mailbox_guid(&ctx.tenant_id, &ctx.target_upn).to_string();
    admin_record(ctx, "Set-Mailbox", object_id, params)
}

/// A successful Entra sign-in (`Audit.AzureActiveDirectory`, RecordType 15) by the
/// actor from `client_ip`, in the shape of the real UserLoggedIn records in the corpus
/// (which carry the address without a port). Where the address is located is the
/// scenario's `geo` business: the record, like Microsoft's, names no country.
pub fn user_logged_in(ctx: &RecordCtx) -> Value {
    let id = ctx.record_id.as_bytes().as_slice();
    let user_key = ids::user_object_id(&ctx.tenant_id, &ctx.actor_upn).to_string();
    let ip = bare_ip(&ctx.client_ip);
    json!({
        "CreationTime": record_time(ctx.creation_time),
        "Id": ctx.record_id.to_string(),
        "Operation": "UserLoggedIn",
        "OrganizationId": ctx.tenant_id,
        "RecordType": 15,
        "ResultStatus": "Success",
        "UserKey": user_key,
        "UserType": 0,
        "Version": 1,
        "Workload": "AzureActiveDirectory",
        "ClientIP": ip,
        "ObjectId": "00000002-0000-0ff1-ce00-000000000000",
        "UserId": ctx.actor_upn,
        "AzureActiveDirectoryEventType": 1,
        "ExtendedProperties": [
            {"Name": "ResultStatusDetail", "Value": "Success"},
            {"Name": "UserAgent", "Value": USER_AGENT},
            {"Name": "RequestType", "Value": "OAuth2:Authorize"},
        ],
        "ModifiedProperties": [],
        "Actor": [{"ID": user_key, "Type": 0}, {"ID": ctx.actor_upn, "Type": 5}],
        "ActorContextId": ctx.tenant_id,
        "ActorIpAddress": ip,
        "InterSystemsId": ids::guid(&[b"intersystems", id]).to_string(),
        "IntraSystemId": ctx.record_id.to_string(),
        "Target": [{"ID": "00000002-0000-0ff1-ce00-000000000000", "Type": 0}],
        "TargetContextId": ctx.tenant_id,
        "ApplicationId": "00000002-0000-0ff1-ce00-000000000000",
        "ErrorNumber": "0",
    })
}

/// `Set-CASMailbox` on the target turning mail protocols on or off (`Audit.Exchange`,
/// RecordType 1): `Some(true)` enables POP (`PopEnabled`), IMAP (`ImapEnabled`) or SMTP
/// AUTH (`SmtpClientAuthenticationDisabled` `False`), `Some(false)` disables it and `None`
/// leaves the parameter out, as a cmdlet record lists only the parameters given. Order and
/// `ObjectId` (the mailbox's Entra object id) follow the corpus's real Set-CASMailbox
/// record; the parameter names and SMTP AUTH's inverted sense are Set-CASMailbox's own
/// (office-docs-powershell Set-CASMailbox.md).
pub fn set_cas_mailbox_legacy(
    ctx: &RecordCtx,
    pop: Option<bool>,
    imap: Option<bool>,
    smtp_auth: Option<bool>,
) -> Value {
    let mut params = vec![("Identity", ctx.target_upn.clone())];
    params.extend(imap.map(|on| ("ImapEnabled", title_bool(on))));
    params.extend(pop.map(|on| ("PopEnabled", title_bool(on))));
    params.extend(smtp_auth.map(|on| ("SmtpClientAuthenticationDisabled", title_bool(!on))));
    let object_id = ids::user_object_id(&ctx.tenant_id, &ctx.target_upn).to_string();
    admin_record(ctx, "Set-CASMailbox", object_id, params)
}

/// `Add-MailboxPermission` giving `trustee` `access_rights` (e.g. `FullAccess`) on the
/// target's mailbox (`Audit.Exchange`, RecordType 1). Parameter names are the cmdlet's
/// (`Identity`, `User`, `AccessRights`, `InheritanceType`; Purview "Audit log activities"
/// lists the operation); `ObjectId` is the mailbox's Entra object id as in the corpus's
/// Add-RecipientPermission record. GUESS: `InheritanceType` `All` is logged, as the
/// Exchange admin center passes it; the detection should not need it.
pub fn add_mailbox_permission(ctx: &RecordCtx, trustee: &str, access_rights: &str) -> Value {
    let params = vec![
        ("Identity", ctx.target_upn.clone()),
        ("User", trustee.to_string()),
        ("AccessRights", access_rights.to_string()),
        ("InheritanceType", "All".to_string()),
    ];
    let object_id = ids::user_object_id(&ctx.tenant_id, &ctx.target_upn).to_string();
    admin_record(ctx, "Add-MailboxPermission", object_id, params)
}

/// `New-ManagementRoleAssignment -Role ApplicationImpersonation` for `app_or_user`
/// (`Audit.Exchange`, RecordType 1): a GUID is an app's service principal (`-App`),
/// anything else a user (`-User`), as the cmdlet takes them (office-docs-powershell
/// New-ManagementRoleAssignment.md). GUESS: with no `-Name`, Exchange names the
/// assignment `<role>-<assignee>`, which is the `ObjectId`.
pub fn new_management_role_assignment_impersonation(ctx: &RecordCtx, app_or_user: &str) -> Value {
    let assignee = if Uuid::parse_str(app_or_user).is_ok() {
        "App"
    } else {
        "User"
    };
    let params = vec![
        ("Role", "ApplicationImpersonation".to_string()),
        (assignee, app_or_user.to_string()),
    ];
    let object_id = format!("ApplicationImpersonation-{}", ids::alias(app_or_user));
    admin_record(ctx, "New-ManagementRoleAssignment", object_id, params)
}

/// The client's address without the port real Exchange records append:
/// `203.0.113.7:51234` → `203.0.113.7`, `[2001:db8::7]:51234` → `2001:db8::7`.
pub(crate) fn bare_ip(client_ip: &str) -> &str {
    let ip = client_ip
        .rsplit_once(':')
        .filter(|(host, _)| !host.contains(':') || host.ends_with(']'))
        .map_or(client_ip, |(host, _)| host);
    ip.trim_start_matches('[').trim_end_matches(']')
}

/// The parameters every inbox-rule record starts with, plus `Mailbox` when an admin
/// acts on someone else's mailbox (`New-InboxRule -Mailbox`).
pub(crate) fn rule_header(
    ctx: &RecordCtx,
    name_param: &'static str,
    name: &str,
) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("AlwaysDeleteOutlookRulesBlob", "False".to_string()),
        ("Force", "False".to_string()),
        (name_param, name.to_string()),
    ];
    if !ctx.actor_upn.eq_ignore_ascii_case(&ctx.target_upn) {
        params.push(("Mailbox", ctx.target_upn.clone()));
    }
    params
}

pub(crate) fn rule_object_id(ctx: &RecordCtx, rule_name: &str) -> String {
    format!(
        "{}/Microsoft Exchange Hosted Organizations/{}/{}\\{rule_name}",
        ids::forest(&[ctx.tenant_id.as_bytes()]),
        ctx.tenant_initial_domain,
        ids::alias(&ctx.target_upn),
    )
}

/// Several recipients in one parameter value: guessed `;`-separated, as PowerShell
/// renders a multi-valued parameter in the audit log.
fn recipients(addresses: &[&str]) -> String {
    addresses.join(";")
}

pub(crate) fn title_bool(value: bool) -> String {
    if value { "True" } else { "False" }.to_string()
}

/// An Exchange admin (cmdlet) record with the fields real ones carry.
pub(crate) fn admin_record(
    ctx: &RecordCtx,
    operation: &str,
    object_id: String,
    parameters: Vec<(&str, String)>,
) -> Value {
    let id = ctx.record_id.as_bytes().as_slice();
    let own_mailbox = ctx.actor_upn.eq_ignore_ascii_case(&ctx.target_upn);
    // Outlook on the web logs the OWA pool; admin tooling (EXO V3, REST) the admin API pool.
    let app_pool = if own_mailbox {
        "MSExchangeOWAAppPool"
    } else {
        "MSExchangeAdminApiNetCore"
    };
    let parameters: Vec<Value> = parameters
        .into_iter()
        .map(|(name, value)| json!({"Name": name, "Value": value}))
        .collect();
    json!({
        "AppAccessContext": {
            "IssuedAtTime": record_time(ctx.creation_time - Duration::minutes(12)),
            "UniqueTokenId": ids::hex(&[b"token", id], 22),
        },
        "CreationTime": record_time(ctx.creation_time),
        "Id": ctx.record_id.to_string(),
        "Operation": operation,
        "OrganizationId": ctx.tenant_id,
        "RecordType": 1,
        "ResultStatus": "True",
        "UserKey": ids::puid(&ctx.tenant_id, &ctx.actor_upn),
        "UserType": 2,
        "Version": 1,
        "Workload": "Exchange",
        "ClientIP": ctx.client_ip,
        "ObjectId": object_id,
        "UserId": ctx.actor_upn,
        "AppId": EXCHANGE_APP_ID,
        "AppPoolName": app_pool,
        "ClientAppId": "",
        "ExternalAccess": false,
        "OrganizationName": ctx.tenant_initial_domain,
        "OriginatingServer": format!("{} (15.20.8857.021)", ids::server(&[b"origin", id])),
        "Parameters": parameters,
        "RequestId": ids::guid(&[b"request", id]).to_string(),
        "SessionId": ids::guid(&[b"session", ctx.actor_upn.as_bytes(), ctx.tenant_id.as_bytes()]).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(super) fn ctx(actor: &str, target: &str) -> RecordCtx {
        RecordCtx {
            tenant_id: "6f1c2a3b-1111-4222-8333-944455556666".into(),
            tenant_initial_domain: "contoso.onmicrosoft.com".into(),
            actor_upn: actor.into(),
            target_upn: target.into(),
            client_ip: "203.0.113.7:51234".into(),
            creation_time: Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 5).unwrap(),
            record_id: Uuid::parse_str("3afb17e9-3e04-4b8c-3bc4-08dc25d38dd4").unwrap(),
        }
    }

    pub(super) fn params(record: &Value) -> Vec<(String, String)> {
        record["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["Name"].as_str().unwrap().into(),
                    p["Value"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    #[test]
    fn forward_rule_matches_the_real_shape() {
        let r = new_inbox_rule_forward(
            &ctx("adele@contoso.com", "adele@contoso.com"),
            "sync",
            &["a@evil.example", "b@evil.example"],
            ForwardKind::ForwardTo,
        );
        assert_eq!(r["RecordType"], 1);
        assert_eq!(r["Workload"], "Exchange");
        assert_eq!(r["ResultStatus"], "True");
        assert_eq!(r["Operation"], "New-InboxRule");
        assert_eq!(r["CreationTime"], "2026-11-27T10:00:05");
        assert_eq!(r["Id"], "3afb17e9-3e04-4b8c-3bc4-08dc25d38dd4");
        assert_eq!(r["UserId"], "adele@contoso.com");
        let object_id = r["ObjectId"].as_str().unwrap();
        assert!(
            object_id.ends_with(
                "/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/adele\\sync"
            ),
            "{object_id}"
        );
        let p = params(&r);
        assert_eq!(
            &p[..3],
            &[
                ("AlwaysDeleteOutlookRulesBlob".into(), "False".into()),
                ("Force".into(), "False".into()),
                ("Name".into(), "sync".into())
            ]
        );
        assert!(p.contains(&("ForwardTo".into(), "a@evil.example;b@evil.example".into())));
        assert!(!p.iter().any(|(n, _)| n == "Mailbox"));
    }

    #[test]
    fn admin_acting_on_another_mailbox_names_it() {
        let c = ctx("admin@contoso.com", "megan@contoso.com");
        let r = new_inbox_rule_delete_all(&c, ".");
        let p = params(&r);
        assert!(p.contains(&("Mailbox".into(), "megan@contoso.com".into())));
        for action in ["DeleteMessage", "MarkAsRead", "StopProcessingRules"] {
            assert!(p.contains(&(action.into(), "True".into())), "{action}");
        }
        let r = set_inbox_rule_forward(
            &c,
            "Team sync",
            &["x@evil.example"],
            ForwardKind::RedirectTo,
        );
        let p = params(&r);
        assert_eq!(r["Operation"], "Set-InboxRule");
        assert!(p.contains(&("Identity".into(), "Team sync".into())));
        assert!(p.contains(&("RedirectTo".into(), "x@evil.example".into())));
        assert!(r["ObjectId"].as_str().unwrap().contains('\\'));
    }

    #[test]
    fn mailbox_forwarding_keeps_the_value_verbatim() {
        let c = ctx("megan@contoso.com", "megan@contoso.com");
        let r = set_mailbox_forwarding(&c, Some("smtp:x@evil.example"), None, false);
        assert_eq!(
            params(&r),
            vec![
                ("Identity".to_string(), "megan@contoso.com".to_string()),
                ("ForwardingSmtpAddress".into(), "smtp:x@evil.example".into()),
                ("DeliverToMailboxAndForward".into(), "False".into()),
            ]
        );
    }

    #[test]
    fn set_cas_mailbox_lists_only_the_protocols_given() {
        let c = ctx("admin@contoso.com", "megan@contoso.com");
        let r = set_cas_mailbox_legacy(&c, Some(true), Some(true), Some(true));
        assert_eq!(
            (r["RecordType"].clone(), r["Operation"].clone()),
            (json!(1), json!("Set-CASMailbox"))
        );
        assert_eq!(r["ResultStatus"], "True");
        assert_eq!(
            r["ObjectId"],
            ids::user_object_id(&c.tenant_id, "megan@contoso.com").to_string(),
            "the mailbox's Entra object id, as in the corpus record"
        );
        assert_eq!(
            params(&r),
            [
                ("Identity", "megan@contoso.com"),
                ("ImapEnabled", "True"),
                ("PopEnabled", "True"),
                ("SmtpClientAuthenticationDisabled", "False"),
            ]
            .map(|(n, v)| (n.to_string(), v.to_string()))
        );
        let r = set_cas_mailbox_legacy(&c, Some(false), None, None);
        assert_eq!(
            params(&r),
            [("Identity", "megan@contoso.com"), ("PopEnabled", "False")]
                .map(|(n, v)| (n.to_string(), v.to_string()))
        );
    }

    #[test]
    fn delegation_and_impersonation_cmdlets_name_who_gains_access() {
        let c = ctx("admin@contoso.com", "megan@contoso.com");
        let r = add_mailbox_permission(&c, "mallory@evil.example", "FullAccess");
        assert_eq!(r["Operation"], "Add-MailboxPermission");
        let p = params(&r);
        for pair in [
            ("Identity", "megan@contoso.com"),
            ("User", "mallory@evil.example"),
            ("AccessRights", "FullAccess"),
        ] {
            assert!(p.contains(&(pair.0.into(), pair.1.into())), "{pair:?}");
        }
        let r = new_management_role_assignment_impersonation(&c, "svc-sync@contoso.com");
        assert_eq!(r["Operation"], "New-ManagementRoleAssignment");
        assert_eq!(
            params(&r),
            [
                ("Role", "ApplicationImpersonation"),
                ("User", "svc-sync@contoso.com")
            ]
            .map(|(n, v)| (n.to_string(), v.to_string()))
        );
        let app = "e9a7fea1-1cc0-4cd9-a31b-9137ca5deedd";
        let r = new_management_role_assignment_impersonation(&c, app);
        assert!(params(&r).contains(&("App".into(), app.into())));
    }

    #[test]
    fn addresses_lose_their_port() {
        for (given, bare) in [
            ("203.0.113.7:51234", "203.0.113.7"),
            ("203.0.113.7", "203.0.113.7"),
            ("[2001:db8::7]:51234", "2001:db8::7"),
            ("2001:db8::7", "2001:db8::7"),
        ] {
            assert_eq!(bare_ip(given), bare, "{given}");
        }
        let mut c = ctx("adele@contoso.com", "adele@contoso.com");
        c.client_ip = "[2001:db8::7]:51234".into();
        let r = user_logged_in(&c);
        assert_eq!(
            (r["ClientIP"].clone(), r["ActorIpAddress"].clone()),
            (json!("2001:db8::7"), json!("2001:db8::7"))
        );
        assert_eq!(r["RecordType"], 15);
        assert_eq!(r["ResultStatus"], "Success");
        assert_eq!(
            r["UserKey"],
            ids::user_object_id(&c.tenant_id, "adele@contoso.com").to_string()
        );
    }
}
