//! Entra ID directory records (`Audit.AzureActiveDirectory`, RecordType 8): consent,
//! roles, authentication methods, app credentials, Conditional Access, user changes.
//!
//! The shape follows the schema's "Azure Active Directory schema" (`Actor`, `Target`,
//! `ModifiedProperties`, `ExtendedProperties`; MicrosoftDocs/office-365-management-api
//! office-365-management-activity-api-schema.md) and a real `Update application.` record
//! (elastic/integrations packages/o365/data_stream/audit/_dev/test/pipeline/
//! test-azuread-events.json): `Actor` is [UPN (5), PUID (3), the portal's app id,
//! `User_<oid>`, oid, `User` (2)]; `Target` is [`<Class>_<oid>`, oid, `<Class>` (2), …];
//! `UserKey` is `<PUID>@<initial domain>`; `ResultStatus` is `Success`; values are text,
//! and updates end `ModifiedProperties` with `Included Updated Properties`. Users as
//! targets add their UPN (5) and PUID (3), and user records name the user in `ObjectId`,
//! which Splunk's and Microsoft's hunting queries read (`ObjectId`, `Target[1]` the
//! object id, `Target[2]` the class). Operation names carry the unified audit log's
//! trailing period (microsoft-365-docs audit-log-activities.md).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{RecordCtx, USER_AGENT, bare_ip, title_bool};
use crate::ids;
use crate::times::record_time;

/// The Azure portal's app id, the `Actor` app of changes an admin makes there.
const AZURE_PORTAL_APP_ID: &str = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c";

/// Microsoft Graph's app id, the resource of delegated consents.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// What `ObjectId` holds when the record names no user (the real `Update application.`).
const NOT_AVAILABLE: &str = "Not Available";

/// The `Role.WellKnownObjectName` of the roles public rules key on, by template id
/// (Sentinel's UserAssignedPrivilegedRole list; Global Administrator's template id is
/// the one Splunk's lookup and Microsoft's role reference give).
const WELL_KNOWN_ROLES: [(&str, &str); 4] = [
    ("62e90394-69f5-4237-9190-012177145e10", "TenantAdmins"),
    (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "PrivilegedRoleAdmins",
    ),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "UserAccountAdmins"),
    (
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "PrivilegedAuthenticationAdmins",
    ),
];

/// The directory object a record changed.
struct Subject {
    /// `User`, `ServicePrincipal`, `Group` or `Policy`.
    class: &'static str,
    id: Uuid,
    /// A display name (`Target` type 1) for objects that are not users.
    name: Option<String>,
    /// A user's UPN, which `Target` and `ObjectId` carry.
    upn: Option<String>,
}

impl Subject {
    fn user(ctx: &RecordCtx, upn: &str) -> Subject {
        Subject {
            class: "User",
            id: ids::user_object_id(&ctx.tenant_id, upn),
            name: None,
            upn: Some(upn.to_string()),
        }
    }

    fn named(class: &'static str, id: Uuid, name: &str) -> Subject {
        Subject {
            class,
            id,
            name: Some(name.to_string()),
            upn: None,
        }
    }
}

/// One directory change: the operation, its audit category, what it changed and how.
struct Change<'a> {
    operation: &'a str,
    /// `auditEventCategory`, Entra's category: `UserManagement`, `RoleManagement`, …
    category: &'a str,
    subject: Subject,
    /// `ModifiedProperties` as (Name, NewValue, OldValue).
    modified: Vec<(&'a str, String, String)>,
    /// Further `additionalDetails` keys beside `User-Agent`.
    details: Vec<(&'a str, String)>,
}

/// The record of `change`, made by the context's actor.
fn directory_record(ctx: &RecordCtx, change: Change) -> Value {
    let id = ctx.record_id.as_bytes().as_slice();
    let ip = bare_ip(&ctx.client_ip);
    let actor_id = ids::user_object_id(&ctx.tenant_id, &ctx.actor_upn);
    let actor_puid = ids::puid(&ctx.tenant_id, &ctx.actor_upn);
    let correlation = ids::guid(&[b"correlation", id]).to_string();
    let subject = &change.subject;
    let object_id = subject
        .upn
        .clone()
        .unwrap_or_else(|| NOT_AVAILABLE.to_string());
    let target_name = subject
        .upn
        .as_deref()
        .or(subject.name.as_deref())
        .unwrap_or_default()
        .to_string();
    let mut target = vec![
        json!({"ID": format!("{}_{}", subject.class, subject.id), "Type": 2}),
        json!({"ID": subject.id.to_string(), "Type": 2}),
        json!({"ID": subject.class, "Type": 2}),
    ];
    if let Some(upn) = &subject.upn {
        target.push(json!({"ID": upn, "Type": 5}));
        target.push(json!({"ID": ids::puid(&ctx.tenant_id, upn), "Type": 3}));
    }
    if let Some(name) = &subject.name {
        target.push(json!({"ID": name, "Type": 1}));
    }
    let updated = change
        .modified
        .iter()
        .find(|(name, _, _)| *name == "Included Updated Properties")
        .map(|(_, new, _)| new.clone());
    let mut details = serde_json::Map::new();
    details.insert("User-Agent".into(), json!(USER_AGENT));
    for (key, value) in change.details {
        details.insert(key.into(), json!(value));
    }
    let mut extended = vec![
        ("actorContextId", ctx.tenant_id.clone()),
        ("actorObjectId", actor_id.to_string()),
        ("actorObjectClass", "User".to_string()),
        ("actorUPN", ctx.actor_upn.clone()),
        ("actorAppID", AZURE_PORTAL_APP_ID.to_string()),
        ("actorPUID", actor_puid.clone()),
        ("teamName", "MSODS.".to_string()),
        ("targetContextId", ctx.tenant_id.clone()),
        ("targetObjectId", subject.id.to_string()),
        ("extendedAuditEventCategory", subject.class.to_string()),
        ("targetName", target_name),
    ];
    if let Some(updated) = updated {
        let names: Vec<&str> = updated.split(", ").collect();
        extended.push(("targetIncludedUpdatedProperties", json!(names).to_string()));
    }
    extended.extend([
        ("correlationId", correlation.clone()),
        ("version", "2".to_string()),
        ("additionalDetails", Value::Object(details).to_string()),
        ("resultType", "Success".to_string()),
        ("auditEventCategory", change.category.to_string()),
    ]);
    json!({
        "CreationTime": record_time(ctx.creation_time),
        "Id": ctx.record_id.to_string(),
        "Operation": change.operation,
        "OrganizationId": ctx.tenant_id,
        "RecordType": 8,
        "ResultStatus": "Success",
        "UserKey": format!("{actor_puid}@{}", ctx.tenant_initial_domain),
        "UserType": 0,
        "Version": 1,
        "Workload": "AzureActiveDirectory",
        "ClientIP": ip,
        "ObjectId": object_id,
        "UserId": ctx.actor_upn,
        "AzureActiveDirectoryEventType": 1,
        "ExtendedProperties": extended
            .into_iter()
            .map(|(name, value)| json!({"Name": name, "Value": value}))
            .collect::<Vec<_>>(),
        "ModifiedProperties": change
            .modified
            .into_iter()
            .map(|(name, new, old)| json!({"Name": name, "NewValue": new, "OldValue": old}))
            .collect::<Vec<_>>(),
        "Actor": [
            {"ID": ctx.actor_upn, "Type": 5},
            {"ID": actor_puid, "Type": 3},
            {"ID": AZURE_PORTAL_APP_ID, "Type": 2},
            {"ID": format!("User_{actor_id}"), "Type": 2},
            {"ID": actor_id.to_string(), "Type": 2},
            {"ID": "User", "Type": 2},
        ],
        "ActorContextId": ctx.tenant_id,
        "ActorIpAddress": ip,
        "InterSystemsId": correlation,
        "IntraSystemId": ids::guid(&[b"intrasystem", id]).to_string(),
        "SupportTicketId": "",
        "Target": target,
        "TargetContextId": ctx.tenant_id,
    })
}

/// A service principal's object id in the tenant, for the app `app_id`.
fn service_principal(ctx: &RecordCtx, app_id: &str) -> Uuid {
    ids::guid(&[
        b"service principal",
        ctx.tenant_id.as_bytes(),
        app_id.to_ascii_lowercase().as_bytes(),
    ])
}

/// The `ModifiedProperties` value of a multi-valued directory attribute: a JSON array,
/// as the real record writes `RequiredResourceAccess`.
fn list(values: &[&str]) -> String {
    json!(values).to_string()
}

/// `Consent to application.` (`Audit.AzureActiveDirectory`, RecordType 8): the actor
/// grants `app_name` (`app_id`) delegated `scopes` on Microsoft Graph, for everyone when
/// `admin_consent` (ConsentType `AllPrincipals`), else for themselves (`Principal`).
///
/// `ModifiedProperties` in Microsoft's order, which Microsoft's own hunting query reads by
/// position (microsoft/Microsoft-365-Defender-Hunting-Queries, Persistence/
/// `CredentialsAddAfterAdminConsentedToApp[Nobelium].md`: `[0]` is
/// `ConsentContext.IsAdminConsent` = `True`, `[4]`'s NewValue holds `=> [[… Scope: …]]`):
/// `ConsentContext.IsAdminConsent`, `.IsAppOnly`, `.OnBehalfOfAll`, `.Tags`,
/// `ConsentAction.Permissions`, `TargetId.ServicePrincipalNames` (the app id). The
/// permissions text follows the Entra records public tools parse (`[] => [[Id: …,
/// ClientId: <SP>, PrincipalId: …, ResourceId: <Graph SP>, ConsentType: …, Scope: …]]`).
/// The app id is also in `additionalDetails` (`AppId`), as identity-and-account-takeover.md
/// notes. GUESS: `ObjectId` is `Not Available`, as on the real application record.
pub fn consent_to_application(
    ctx: &RecordCtx,
    app_name: &str,
    app_id: &str,
    scopes: &[&str],
    admin_consent: bool,
) -> Value {
    let client = service_principal(ctx, app_id);
    let resource = service_principal(ctx, GRAPH_APP_ID);
    let (consent_type, principal) = if admin_consent {
        ("AllPrincipals", String::new())
    } else {
        (
            "Principal",
            ids::user_object_id(&ctx.tenant_id, &ctx.actor_upn).to_string(),
        )
    };
    // Grant ids are 48 bytes in base64url, as in the Entra records public tools parse.
    let mut grant = ids::digest(&[b"grant", client.as_bytes(), principal.as_bytes()]).to_vec();
    grant.extend_from_slice(&ids::digest(&[b"grant", resource.as_bytes()])[..16]);
    let grant = URL_SAFE_NO_PAD.encode(grant);
    let permissions = format!(
        "[] => [[Id: {grant}, ClientId: {client}, PrincipalId: {principal}, ResourceId: {resource}, \
         ConsentType: {consent_type}, Scope: {}, CreatedDateTime: , LastModifiedDateTime ]]; ",
        scopes.join(" ")
    );
    directory_record(
        ctx,
        Change {
            operation: "Consent to application.",
            category: "ApplicationManagement",
            subject: Subject::named("ServicePrincipal", client, app_name),
            modified: vec![
                (
                    "ConsentContext.IsAdminConsent",
                    title_bool(admin_consent),
                    String::new(),
                ),
                ("ConsentContext.IsAppOnly", title_bool(false), String::new()),
                (
                    "ConsentContext.OnBehalfOfAll",
                    title_bool(admin_consent),
                    String::new(),
                ),
                (
                    "ConsentContext.Tags",
                    "WindowsAzureActiveDirectoryIntegratedApp".into(),
                    String::new(),
                ),
                ("ConsentAction.Permissions", permissions, String::new()),
                (
                    "TargetId.ServicePrincipalNames",
                    app_id.to_string(),
                    String::new(),
                ),
            ],
            details: vec![("AppId", app_id.to_string())],
        },
    )
}

/// `Add member to role.` (`Audit.AzureActiveDirectory`, RecordType 8): the target user
/// is given the directory role. `ModifiedProperties` NewValues, in the order Splunk's
/// o365_high_privilege_role_granted reads by index (1 the name, 2 the template id):
/// `Role.ObjectID`, `Role.DisplayName`, `Role.TemplateId`, `Role.WellKnownObjectName`.
/// Global Administrator's template id is `62e90394-69f5-4237-9190-012177145e10`. GUESS:
/// roles outside Sentinel's list get their name without spaces as the well-known name.
pub fn add_member_to_role(ctx: &RecordCtx, role_name: &str, role_template_id: &str) -> Value {
    role_change(
        ctx,
        "Add member to role.",
        role_name,
        role_template_id,
        true,
    )
}

/// `Remove member from role.` (`Audit.AzureActiveDirectory`, RecordType 8): the target
/// user loses the directory role; the role is in the OldValues (Purview's
/// audit-log-activities, Sentinel's MultipleAdmin_membership_removals_from_NewAdmin).
pub fn remove_member_from_role(ctx: &RecordCtx, role_name: &str, role_template_id: &str) -> Value {
    role_change(
        ctx,
        "Remove member from role.",
        role_name,
        role_template_id,
        false,
    )
}

fn role_change(
    ctx: &RecordCtx,
    operation: &str,
    role_name: &str,
    role_template_id: &str,
    added: bool,
) -> Value {
    let role_object = ids::guid(&[
        b"role",
        ctx.tenant_id.as_bytes(),
        role_template_id.as_bytes(),
    ]);
    let well_known = WELL_KNOWN_ROLES
        .iter()
        .find(|(template, _)| template.eq_ignore_ascii_case(role_template_id))
        .map_or_else(|| role_name.replace(' ', ""), |(_, name)| name.to_string());
    let values = [
        ("Role.ObjectID", role_object.to_string()),
        ("Role.DisplayName", role_name.to_string()),
        ("Role.TemplateId", role_template_id.to_string()),
        ("Role.WellKnownObjectName", well_known),
    ];
    directory_record(
        ctx,
        Change {
            operation,
            category: "RoleManagement",
            subject: Subject::user(ctx, &ctx.target_upn),
            modified: values
                .into_iter()
                .map(|(name, value)| {
                    if added {
                        (name, value, String::new())
                    } else {
                        (name, String::new(), value)
                    }
                })
                .collect(),
            details: Vec::new(),
        },
    )
}

/// `User registered security info.` (`Audit.AzureActiveDirectory`, RecordType 8): the
/// actor registered an authentication `method` (e.g. `Authenticator App with
/// Notification and Code`) for their own account. The activity is Entra's
/// "Authentication Methods" one (entra-docs reference-audit-activities.md), whose result
/// reason reads `User registered <method>` (LETHAL-FORENSICS' analyzer). GUESS: its
/// presence in the unified audit log is unverified, so its name here takes the UAL's
/// trailing period and the reason is an `ExtendedProperties` `resultReason`.
pub fn register_security_info(ctx: &RecordCtx, method: &str) -> Value {
    let mut record = directory_record(
        ctx,
        Change {
            operation: "User registered security info.",
            category: "UserManagement",
            subject: Subject::user(ctx, &ctx.actor_upn),
            modified: Vec::new(),
            details: Vec::new(),
        },
    );
    record["ExtendedProperties"]
        .as_array_mut()
        .expect("directory records list extended properties")
        .push(json!({"Name": "resultReason", "Value": format!("User registered {method}")}));
    record
}

/// `Update user.` adding a strong authentication method to the target
/// (`Audit.AzureActiveDirectory`, RecordType 8): `StrongAuthenticationMethod` first, as
/// Splunk's o365_new_mfa_method_registered reads index 0 and counts `"MethodType"` in
/// NewValue against OldValue, then `Included Updated Properties`. GUESS: the values'
/// JSON (method 7 added beside 6) is the legacy per-user MFA object's shape.
pub fn update_user_strong_auth(ctx: &RecordCtx) -> Value {
    user_updated(
        ctx,
        "StrongAuthenticationMethod",
        r#"[{"MethodType":6,"Default":true},{"MethodType":7,"Default":false}]"#.into(),
        r#"[{"MethodType":6,"Default":true}]"#.into(),
    )
}

/// `Update user.` of the target's `property`, its values as the record writes them, then
/// `Included Updated Properties` naming it, as on the real update record.
fn user_updated(ctx: &RecordCtx, property: &str, new: String, old: String) -> Value {
    directory_record(
        ctx,
        Change {
            operation: "Update user.",
            category: "UserManagement",
            subject: Subject::user(ctx, &ctx.target_upn),
            modified: vec![
                (property, new, old),
                (
                    "Included Updated Properties",
                    property.to_string(),
                    String::new(),
                ),
            ],
            details: Vec::new(),
        },
    )
}

/// `Disable Strong Authentication.` for the target (`Audit.AzureActiveDirectory`,
/// RecordType 8), the operation Splunk's o365_disable_mfa and Sigma's
/// microsoft365_disabling_mfa match; the user is in `ObjectId`. GUESS: no
/// `ModifiedProperties`, since none is documented and rules read none.
pub fn disable_strong_authentication(ctx: &RecordCtx) -> Value {
    directory_record(
        ctx,
        Change {
            operation: "Disable Strong Authentication.",
            category: "UserManagement",
            subject: Subject::user(ctx, &ctx.target_upn),
            modified: Vec::new(),
            details: Vec::new(),
        },
    )
}

/// `Add service principal.` (`Audit.AzureActiveDirectory`, RecordType 8): `app_name`
/// (`app_id`) first appears in the tenant, as eM Client does before a consent (Huntress,
/// "Legitimate apps as traitorware"); the name is the `Target` display name. GUESS: the
/// `ModifiedProperties` are the service principal's attributes as JSON arrays, like the
/// real application record's.
pub fn add_service_principal(ctx: &RecordCtx, app_name: &str, app_id: &str) -> Value {
    directory_record(
        ctx,
        Change {
            operation: "Add service principal.",
            category: "ApplicationManagement",
            subject: Subject::named("ServicePrincipal", service_principal(ctx, app_id), app_name),
            modified: vec![
                ("AccountEnabled", "[true]".into(), "[]".into()),
                ("AppPrincipalId", list(&[app_id]), "[]".into()),
                ("DisplayName", list(&[app_name]), "[]".into()),
                ("ServicePrincipalName", list(&[app_id]), "[]".into()),
                (
                    "Included Updated Properties",
                    "AccountEnabled, AppPrincipalId, DisplayName, ServicePrincipalName".into(),
                    String::new(),
                ),
            ],
            details: vec![("AppId", app_id.to_string())],
        },
    )
}

/// `Add service principal credentials.` (`Audit.AzureActiveDirectory`, RecordType 8): a
/// new client secret on the service principal of `app_name` (`app_id`), the same object
/// [`consent_to_application`] names for that app, so a consent-then-credential chain
/// joins. `KeyDescription` holds `[[KeyIdentifier=…,KeyType=Password,KeyUsage=Verify,
/// DisplayName=…]]` against an empty OldValue, and `TargetId.ServicePrincipalNames` the
/// app id (Sentinel's NewAppOrServicePrincipalCredential).
pub fn add_service_principal_credentials(ctx: &RecordCtx, app_name: &str, app_id: &str) -> Value {
    let app_id = app_id.to_string();
    let key = ids::guid(&[b"key", ctx.record_id.as_bytes()]);
    directory_record(
        ctx,
        Change {
            operation: "Add service principal credentials.",
            category: "ApplicationManagement",
            subject: Subject::named(
                "ServicePrincipal",
                service_principal(ctx, &app_id),
                app_name,
            ),
            modified: vec![
                (
                    "KeyDescription",
                    format!(
                        "[[KeyIdentifier={key},KeyType=Password,KeyUsage=Verify,DisplayName={app_name} secret]]"
                    ),
                    "[]".into(),
                ),
                (
                    "Included Updated Properties",
                    "KeyDescription".into(),
                    String::new(),
                ),
                (
                    "TargetId.ServicePrincipalNames",
                    app_id.clone(),
                    String::new(),
                ),
            ],
            details: vec![("AppId", app_id)],
        },
    )
}

/// A Conditional Access policy named `name` as Graph writes one (Graph
/// conditionalAccessPolicy resource): MFA for all users, in `state`.
fn policy_json(id: Uuid, name: &str, state: &str) -> String {
    json!({
        "id": id.to_string(),
        "displayName": name,
        "state": state,
        "conditions": {
            "applications": {"includeApplications": ["All"]},
            "users": {"includeUsers": ["All"]},
        },
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]},
    })
    .to_string()
}

fn policy_change(ctx: &RecordCtx, operation: &str, name: &str, new_state: Option<&str>) -> Value {
    let id = ids::guid(&[b"ca policy", ctx.tenant_id.as_bytes(), name.as_bytes()]);
    let old = policy_json(id, name, "enabled");
    let new = new_state.map_or_else(String::new, |state| policy_json(id, name, state));
    directory_record(
        ctx,
        Change {
            operation,
            category: "Policy",
            subject: Subject::named("Policy", id, name),
            modified: vec![("ConditionalAccessPolicy", new, old)],
            details: Vec::new(),
        },
    )
}

/// `Delete conditional access policy.` of the enabled policy `name`
/// (`Audit.AzureActiveDirectory`, RecordType 8). Entra logs a policy change as one
/// `ConditionalAccessPolicy` property holding the whole policy as JSON (entra-docs
/// troubleshoot-policy-changes-audit-log.md); here the OldValue, with an empty NewValue.
/// GUESS: the UAL name is Entra's `Delete conditional access policy` with the trailing
/// period, as public UAL alert mappings write it; its presence in the UAL is unverified.
pub fn conditional_access_policy_deleted(ctx: &RecordCtx, name: &str) -> Value {
    policy_change(ctx, "Delete conditional access policy.", name, None)
}

/// `Update conditional access policy.` turning the policy `name` from `enabled` to
/// `disabled` (`Audit.AzureActiveDirectory`, RecordType 8): the `ConditionalAccessPolicy`
/// Old and NewValues differ in `state`. GUESS as for
/// [`conditional_access_policy_deleted`].
pub fn conditional_access_policy_updated(ctx: &RecordCtx, name: &str) -> Value {
    policy_change(
        ctx,
        "Update conditional access policy.",
        name,
        Some("disabled"),
    )
}

/// `Update security defaults.` turning security defaults off (`Audit.AzureActiveDirectory`,
/// RecordType 8); the activity is Entra's (entra-docs reference-audit-activities.md,
/// category Policy). GUESS: the change is one `IsEnabled` property, `False` over `True`,
/// after Graph's identitySecurityDefaultsEnforcementPolicy `isEnabled`; the UAL name's
/// trailing period as for the other Entra activities.
pub fn security_defaults_disabled(ctx: &RecordCtx) -> Value {
    let id = ids::guid(&[b"security defaults", ctx.tenant_id.as_bytes()]);
    directory_record(
        ctx,
        Change {
            operation: "Update security defaults.",
            category: "Policy",
            subject: Subject::named("Policy", id, "Security Defaults"),
            modified: vec![("IsEnabled", "False".into(), "True".into())],
            details: Vec::new(),
        },
    )
}

/// `Delete user.` of the target (`Audit.AzureActiveDirectory`, RecordType 8; Purview's
/// audit-log-activities). GUESS: the UPN in `ObjectId` and `Target` is the one a deleted
/// user carries in Entra, its object id without dashes before the original UPN, so a
/// detection cannot count on matching the live UPN.
pub fn delete_user(ctx: &RecordCtx) -> Value {
    let id = ids::user_object_id(&ctx.tenant_id, &ctx.target_upn);
    let deleted = format!("{}{}", id.simple(), ctx.target_upn);
    let mut subject = Subject::user(ctx, &ctx.target_upn);
    subject.upn = Some(deleted);
    directory_record(
        ctx,
        Change {
            operation: "Delete user.",
            category: "UserManagement",
            subject,
            modified: Vec::new(),
            details: Vec::new(),
        },
    )
}

/// `Reset user password.` of the target by the actor, e.g. a helpdesk
/// (`Audit.AzureActiveDirectory`, RecordType 8; Purview's audit-log-activities).
pub fn reset_user_password(ctx: &RecordCtx) -> Value {
    directory_record(
        ctx,
        Change {
            operation: "Reset user password.",
            category: "UserManagement",
            subject: Subject::user(ctx, &ctx.target_upn),
            modified: Vec::new(),
            details: Vec::new(),
        },
    )
}

/// `Update user.` changing one ordinary attribute of the target (`property` from `old` to
/// `new`), in the shape of the real update record ([`user_updated`]).
pub(crate) fn update_user(ctx: &RecordCtx, property: &str, old: &str, new: &str) -> Value {
    user_updated(ctx, property, list(&[new]), list(&[old]))
}

/// `Add member to group.` putting the target in the group `group` (Purview's
/// audit-log-activities). GUESS: the group is named in `Group.ObjectID` and
/// `Group.DisplayName`, as role records name the role.
pub(crate) fn add_member_to_group(ctx: &RecordCtx, group: &str) -> Value {
    let group_id = ids::guid(&[b"group", ctx.tenant_id.as_bytes(), group.as_bytes()]);
    directory_record(
        ctx,
        Change {
            operation: "Add member to group.",
            category: "GroupManagement",
            subject: Subject::user(ctx, &ctx.target_upn),
            modified: vec![
                ("Group.ObjectID", group_id.to_string(), String::new()),
                ("Group.DisplayName", group.to_string(), String::new()),
            ],
            details: Vec::new(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attacks::tests::ctx;

    const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
    const PAYROLL_SYNC: &str = "0b6a4f3e-2c1d-4e8f-9a7b-5c3d1e9f7a21";

    fn modified(record: &Value) -> Vec<(String, String, String)> {
        record["ModifiedProperties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["Name"].as_str().unwrap().into(),
                    p["NewValue"].as_str().unwrap().into(),
                    p["OldValue"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    fn new_value(record: &Value, name: &str) -> String {
        modified(record)
            .into_iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("no {name} in {record}"))
            .1
    }

    fn extended(record: &Value, name: &str) -> Option<String> {
        record["ExtendedProperties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["Name"] == name)
            .map(|p| p["Value"].as_str().unwrap().to_string())
    }

    #[test]
    fn every_directory_record_has_the_common_shape() {
        let c = ctx("admin@contoso.com", "megan@contoso.com");
        let records = [
            consent_to_application(
                &c,
                "eM Client",
                "e9a7fea1-1cc0-4cd9-a31b-9137ca5deedd",
                &["Mail.Read"],
                false,
            ),
            add_member_to_role(&c, "Global Administrator", GLOBAL_ADMIN),
            remove_member_from_role(&c, "Global Administrator", GLOBAL_ADMIN),
            register_security_info(&c, "Phone"),
            update_user_strong_auth(&c),
            disable_strong_authentication(&c),
            add_service_principal(&c, "eM Client", "e9a7fea1-1cc0-4cd9-a31b-9137ca5deedd"),
            add_service_principal_credentials(&c, "Payroll Sync", PAYROLL_SYNC),
            conditional_access_policy_deleted(&c, "Require MFA"),
            conditional_access_policy_updated(&c, "Require MFA"),
            security_defaults_disabled(&c),
            delete_user(&c),
            reset_user_password(&c),
            update_user(&c, "Department", "Sales", "Finance"),
            add_member_to_group(&c, "All Staff"),
        ];
        let actor_id = ids::user_object_id(&c.tenant_id, "admin@contoso.com").to_string();
        for r in &records {
            assert_eq!(r["RecordType"], 8, "{r}");
            assert_eq!(r["Workload"], "AzureActiveDirectory");
            assert_eq!(r["ResultStatus"], "Success");
            assert_eq!(r["UserType"], 0);
            assert_eq!(r["AzureActiveDirectoryEventType"], 1);
            assert!(r["Operation"].as_str().unwrap().ends_with('.'), "{r}");
            assert_eq!(r["UserId"], "admin@contoso.com");
            assert!(
                r["UserKey"]
                    .as_str()
                    .unwrap()
                    .ends_with("@contoso.onmicrosoft.com")
            );
            assert_eq!(r["ClientIP"], "203.0.113.7", "without the port");
            assert_eq!(r["ActorIpAddress"], "203.0.113.7");
            assert_eq!(r["Actor"][0], json!({"ID": "admin@contoso.com", "Type": 5}));
            assert_eq!(r["Actor"][4], json!({"ID": actor_id, "Type": 2}));
            assert_eq!(r["Actor"][5], json!({"ID": "User", "Type": 2}));
            assert_eq!(
                r["Target"][1]["ID"],
                extended(r, "targetObjectId").unwrap().as_str()
            );
            assert!(
                r["ExtendedProperties"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|p| p["Value"].is_string())
            );
            let details: Value =
                serde_json::from_str(&extended(r, "additionalDetails").unwrap()).unwrap();
            assert_eq!(details["User-Agent"], USER_AGENT);
            modified(r);
        }
    }

    #[test]
    fn consent_lists_the_context_then_the_permissions() {
        let c = ctx("admin@contoso.com", "admin@contoso.com");
        let app = "ff8d92dc-3d82-41d6-bcbd-b9174d163620";
        let r = consent_to_application(
            &c,
            "PERFECTDATA SOFTWARE",
            app,
            &["Mail.Read", "offline_access"],
            true,
        );
        assert_eq!(r["Operation"], "Consent to application.");
        let names: Vec<String> = modified(&r).into_iter().map(|(n, _, _)| n).collect();
        assert_eq!(
            names,
            [
                "ConsentContext.IsAdminConsent",
                "ConsentContext.IsAppOnly",
                "ConsentContext.OnBehalfOfAll",
                "ConsentContext.Tags",
                "ConsentAction.Permissions",
                "TargetId.ServicePrincipalNames",
            ]
        );
        assert_eq!(
            r["ModifiedProperties"][0]["NewValue"], "True",
            "read by position"
        );
        assert_eq!(new_value(&r, "ConsentContext.OnBehalfOfAll"), "True");
        assert_eq!(new_value(&r, "TargetId.ServicePrincipalNames"), app);
        let permissions = new_value(&r, "ConsentAction.Permissions");
        assert!(permissions.starts_with("[] => [[Id: "), "{permissions}");
        assert!(permissions.contains("PrincipalId: , "), "{permissions}");
        assert!(
            permissions.contains("ConsentType: AllPrincipals, Scope: Mail.Read offline_access, "),
            "{permissions}"
        );
        assert_eq!(r["Target"][2]["ID"], "ServicePrincipal");
        assert!(
            r["Target"]
                .as_array()
                .unwrap()
                .contains(&json!({"ID": "PERFECTDATA SOFTWARE", "Type": 1}))
        );
        assert_eq!(r["ObjectId"], "Not Available");
        let details: Value =
            serde_json::from_str(&extended(&r, "additionalDetails").unwrap()).unwrap();
        assert_eq!(details["AppId"], app);

        let r = consent_to_application(
            &c,
            "Spike",
            "946c777c-bc85-489e-b034-392389ae23d6",
            &["Mail.ReadWrite"],
            false,
        );
        assert_eq!(new_value(&r, "ConsentContext.IsAdminConsent"), "False");
        let user = ids::user_object_id(&c.tenant_id, "admin@contoso.com");
        assert!(
            new_value(&r, "ConsentAction.Permissions").contains(&format!("PrincipalId: {user}, "))
        );
        assert!(new_value(&r, "ConsentAction.Permissions").contains("ConsentType: Principal, "));
    }

    #[test]
    fn role_changes_name_the_role_and_the_member() {
        let c = ctx("admin@contoso.com", "megan@contoso.com");
        let r = add_member_to_role(&c, "Global Administrator", GLOBAL_ADMIN);
        assert_eq!(r["Operation"], "Add member to role.");
        assert_eq!(r["ObjectId"], "megan@contoso.com");
        let values: Vec<String> = modified(&r).into_iter().map(|(_, new, _)| new).collect();
        assert_eq!(
            values[1], "Global Administrator",
            "Splunk reads the name at 1"
        );
        assert_eq!(values[2], GLOBAL_ADMIN, "and the template id at 2");
        assert_eq!(values[3], "TenantAdmins");
        assert_eq!(
            r["Target"][1]["ID"],
            ids::user_object_id(&c.tenant_id, "megan@contoso.com").to_string()
        );
        assert_eq!(r["Target"][2]["ID"], "User");
        assert!(
            r["Target"]
                .as_array()
                .unwrap()
                .contains(&json!({"ID": "megan@contoso.com", "Type": 5}))
        );

        let r = remove_member_from_role(
            &c,
            "Helpdesk Administrator",
            "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        );
        assert_eq!(r["Operation"], "Remove member from role.");
        let m = modified(&r);
        assert!(m.iter().all(|(_, new, _)| new.is_empty()));
        assert_eq!(
            m[1].2, "Helpdesk Administrator",
            "the role is in the OldValues"
        );
        assert_eq!(m[3].2, "HelpdeskAdministrator");
    }

    #[test]
    fn authentication_changes_name_the_user() {
        let c = ctx("megan@contoso.com", "megan@contoso.com");
        let r = register_security_info(&c, "Authenticator App with Notification and Code");
        assert_eq!(r["Operation"], "User registered security info.");
        assert_eq!(r["ObjectId"], "megan@contoso.com");
        assert_eq!(
            extended(&r, "resultReason").unwrap(),
            "User registered Authenticator App with Notification and Code"
        );

        let c = ctx("admin@contoso.com", "megan@contoso.com");
        let r = update_user_strong_auth(&c);
        assert_eq!(r["Operation"], "Update user.");
        let m = modified(&r);
        assert_eq!(m[0].0, "StrongAuthenticationMethod", "read at index 0");
        let methods = |v: &str| v.matches("\"MethodType\"").count();
        assert!(methods(&m[0].1) > methods(&m[0].2), "a method was added");
        assert_eq!(
            m[1],
            (
                "Included Updated Properties".into(),
                "StrongAuthenticationMethod".into(),
                String::new()
            )
        );

        let r = disable_strong_authentication(&c);
        assert_eq!(r["Operation"], "Disable Strong Authentication.");
        assert_eq!(r["ObjectId"], "megan@contoso.com");

        let r = reset_user_password(&c);
        assert_eq!(
            (r["Operation"].clone(), r["ObjectId"].clone()),
            (json!("Reset user password."), json!("megan@contoso.com"))
        );
    }

    #[test]
    fn app_credentials_and_new_principals_name_the_app() {
        let c = ctx("admin@contoso.com", "admin@contoso.com");
        let r = add_service_principal_credentials(&c, "Payroll Sync", PAYROLL_SYNC);
        assert_eq!(r["Operation"], "Add service principal credentials.");
        let consent =
            consent_to_application(&c, "Payroll Sync", PAYROLL_SYNC, &["User.Read"], true);
        assert_eq!(
            r["Target"][1], consent["Target"][1],
            "the service principal the consent named"
        );
        let key = new_value(&r, "KeyDescription");
        assert!(
            key.starts_with("[[KeyIdentifier=")
                && key.contains(",KeyType=Password,KeyUsage=Verify,DisplayName="),
            "{key}"
        );
        assert!(
            r["Target"]
                .as_array()
                .unwrap()
                .contains(&json!({"ID": "Payroll Sync", "Type": 1}))
        );
        assert_eq!(
            new_value(&r, "TargetId.ServicePrincipalNames"),
            PAYROLL_SYNC
        );

        let r = add_service_principal(&c, "eM Client", "e9a7fea1-1cc0-4cd9-a31b-9137ca5deedd");
        assert_eq!(r["Operation"], "Add service principal.");
        assert_eq!(
            new_value(&r, "AppPrincipalId"),
            r#"["e9a7fea1-1cc0-4cd9-a31b-9137ca5deedd"]"#
        );
        assert!(
            r["Target"]
                .as_array()
                .unwrap()
                .contains(&json!({"ID": "eM Client", "Type": 1}))
        );
        assert_eq!(
            extended(&r, "targetIncludedUpdatedProperties").unwrap(),
            r#"["AccountEnabled","AppPrincipalId","DisplayName","ServicePrincipalName"]"#
        );
    }

    #[test]
    fn policy_changes_carry_the_policy_before_and_after() {
        let c = ctx("admin@contoso.com", "admin@contoso.com");
        let state = |text: &str| -> Option<String> {
            serde_json::from_str::<Value>(text)
                .ok()
                .map(|p| p["state"].as_str().unwrap().into())
        };
        let r = conditional_access_policy_deleted(&c, "Require MFA for all users");
        assert_eq!(r["Operation"], "Delete conditional access policy.");
        let m = modified(&r);
        assert_eq!(m[0].0, "ConditionalAccessPolicy");
        assert_eq!(
            (state(&m[0].1), state(&m[0].2)),
            (None, Some("enabled".into()))
        );
        assert!(
            r["Target"]
                .as_array()
                .unwrap()
                .contains(&json!({"ID": "Require MFA for all users", "Type": 1}))
        );

        let r = conditional_access_policy_updated(&c, "Require MFA for all users");
        assert_eq!(r["Operation"], "Update conditional access policy.");
        let m = modified(&r);
        assert_eq!(
            (state(&m[0].1), state(&m[0].2)),
            (Some("disabled".into()), Some("enabled".into()))
        );

        let r = security_defaults_disabled(&c);
        assert_eq!(r["Operation"], "Update security defaults.");
        assert_eq!(
            modified(&r),
            [("IsEnabled".into(), "False".into(), "True".into())]
        );
    }

    #[test]
    fn a_deleted_user_carries_the_deleted_upn() {
        let c = ctx("admin@contoso.com", "megan@contoso.com");
        let r = delete_user(&c);
        assert_eq!(r["Operation"], "Delete user.");
        let id = ids::user_object_id(&c.tenant_id, "megan@contoso.com");
        assert_eq!(r["ObjectId"], format!("{}megan@contoso.com", id.simple()));
        assert_eq!(r["Target"][1]["ID"], id.to_string());
    }
}
