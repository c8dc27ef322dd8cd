//! Detection reads attacker-controlled text: whatever a record holds, `detect` and the
//! pre-filter answer without panicking.

use proptest::prelude::*;
use rulewatch_detect::{AuditRecord, TenantContext, detect};
use serde_json::{Value, json};

const OPERATIONS: [&str; 36] = [
    "HardDelete",
    "Delete user.",
    "Remove member from role.",
    "Set-CASMailbox",
    "Set-TransportConfig",
    "New-ManagementRoleAssignment",
    "Set-OrganizationConfig",
    "Set-DlpCompliancePolicy",
    "Remove-RetentionCompliancePolicy",
    "Disable-AntiPhishRule",
    "Consent to application.",
    "Add service principal credentials.",
    "Update application \u{2013} Certificates and secrets management ",
    "Add app role assignment to service principal.",
    "Add member to role.",
    "Add eligible member to role in PIM completed (permanent)",
    "Disable Strong Authentication.",
    "Update user.",
    "Admin registered security info",
    "Update Conditional Access policy",
    "Update policy.",
    "Update security defaults",
    "New-InboxRule",
    "set-inboxrule",
    "UpdateInboxRules",
    "Set-Mailbox",
    "New-TransportRule",
    "Set-TransportRule",
    "Add-MailboxPermission",
    "Add-RecipientPermission",
    "Set-MailboxFolderPermission",
    "ModifyFolderPermissions",
    "Set-AdminAuditLogConfig",
    "Set-MailboxAuditBypassAssociation",
    "MailItemsAccessed",
    "",
];

const NAMES: [&str; 28] = [
    "PopEnabled",
    "SmtpClientAuthenticationDisabled",
    "Role",
    "AuditOwner",
    "AuditDisabled",
    "Mode",
    "ConsentAction.Permissions",
    "ConsentContext.IsAdminConsent",
    "Role.DisplayName",
    "Role.TemplateId",
    "StrongAuthenticationMethod",
    "ConditionalAccessPolicy",
    "Name",
    "ForwardTo",
    "RedirectTo",
    "DeleteMessage",
    "MoveToFolder",
    "BodyContainsWords",
    "WithinSizeRangeMinimum",
    "AccessRights",
    "Identity",
    "RuleActions",
    "ServerRule",
    "RuleOperation",
    "AuditLogAgeLimit",
    "RedirectMessageTo",
    "User",
    "GrantSendOnBehalfTo",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<String>().prop_map(Value::String),
        "[a-z@.:\\\\ \u{0}Је]{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[A-Za-z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn params() -> impl Strategy<Value = Value> {
    let pairs = || {
        prop::collection::vec(
            (prop::sample::select(NAMES.to_vec()), json_value())
                .prop_map(|(n, v)| json!({"Name": n, "Value": v})),
            0..8,
        )
    };
    prop_oneof![
        pairs().prop_map(Value::Array),
        pairs().prop_map(|v| Value::String(Value::Array(v).to_string())),
        json_value(),
    ]
}

/// `ModifiedProperties` entries, `{Name, NewValue, OldValue}`, or anything else.
fn changes() -> impl Strategy<Value = Value> {
    let entry = (
        prop::sample::select(NAMES.to_vec()),
        json_value(),
        json_value(),
    )
        .prop_map(|(n, new, old)| json!({"Name": n, "NewValue": new, "OldValue": old}));
    prop_oneof![
        prop::collection::vec(entry, 0..6).prop_map(Value::Array),
        json_value(),
    ]
}

/// `Target` entries, `{ID, Type}`, or anything else.
fn identities() -> impl Strategy<Value = Value> {
    let entry = (json_value(), json_value()).prop_map(|(id, t)| json!({"ID": id, "Type": t}));
    prop_oneof![
        prop::collection::vec(entry, 0..6).prop_map(Value::Array),
        json_value(),
    ]
}

proptest! {
    #[test]
    fn detect_never_panics(
        operation in prop::sample::select(OPERATIONS.to_vec()),
        parameters in params(),
        properties in params(),
        modified in changes(),
        target in identities(),
        item in json_value(),
        user in any::<String>(),
        object_id in any::<String>(),
    ) {
        let record = json!({
            "Id": "1", "Operation": operation, "UserId": user, "ObjectId": object_id,
            "ResultStatus": "True", "Parameters": parameters, "OperationProperties": properties, "Item": item,
            "ModifiedProperties": modified, "Target": target, "CreationTime": "2026-11-27T10:00:00",
        });
        rulewatch_detect::sift(&record.to_string());
        if let Ok(r) = serde_json::from_value::<AuditRecord>(record) {
            rulewatch_detect::burst::counted(&r);
            let ctx = TenantContext { accepted_domains: vec!["contoso.com".into()] };
            for f in detect(&r, &ctx) {
                prop_assert!(!f.summary.chars().any(char::is_control), "{}", f.summary);
            }
        }
    }
}
