//! Entra ID takeover signs on crafted records in the unified audit log's shape
//! (RecordType 8: `ModifiedProperties` as `{Name, NewValue, OldValue}`, `Target` and
//! `Actor` as `{ID, Type}`, the account changed in `ObjectId`): consent, application
//! credentials, admin roles, MFA, conditional access.

use serde_json::{Value, json};

use super::*;

/// A directory record by `actor`, changing `object`, with these changes and targets.
fn directory(
    operation: &str,
    actor: &str,
    object: &str,
    changes: &[(&str, &str, &str)],
    target: &[(&str, i64)],
) -> Value {
    json!({
        "CreationTime": "2026-11-27T10:00:00",
        "Id": "33333333-3333-3333-3333-333333333333",
        "Operation": operation,
        "OrganizationId": "8d4121ed-0008-406d-bff9-0d5bb312183c",
        "RecordType": 8,
        "ResultStatus": "Success",
        "UserKey": "10032002643F6746@contoso.com",
        "UserType": 0,
        "Version": 1,
        "Workload": "AzureActiveDirectory",
        "ClientIP": "203.0.113.9",
        "ObjectId": object,
        "UserId": actor,
        "AzureActiveDirectoryEventType": 1,
        "ExtendedProperties": [
            {"Name": "additionalDetails", "Value": "{\"User-Agent\":\"Mozilla/5.0\"}"},
            {"Name": "resultType", "Value": "Success"},
        ],
        "ModifiedProperties": changes.iter()
            .map(|(n, new, old)| json!({"Name": n, "NewValue": new, "OldValue": old}))
            .collect::<Vec<_>>(),
        "Actor": [{"ID": actor, "Type": 5}, {"ID": "User", "Type": 2}],
        "ActorContextId": "8d4121ed-0008-406d-bff9-0d5bb312183c",
        "ActorIpAddress": "203.0.113.9",
        "Target": target.iter().map(|(id, t)| json!({"ID": id, "Type": t})).collect::<Vec<_>>(),
        "TargetContextId": "8d4121ed-0008-406d-bff9-0d5bb312183c",
    })
}

const EM_CLIENT: &str = "e9a7fea1-1cc0-4cd9-a31b-9137ca5deedd";
const SP: &str = "7f3a1e8c-4d29-4b65-b0c7-9e2d5a8f1b36";

/// A consent in the shape Microsoft's Nobelium hunting query reads: the admin flag
/// first, the grants as `[] => [[…, ConsentType: …, Scope: …]]`.
fn consent(
    actor: &str,
    admin: &str,
    consent_type: &str,
    scope: &str,
    app: &str,
    app_id: &str,
) -> Value {
    let grants = format!(
        "[] => [[Id: 6O8vGqNJ2kuaYnQ8sR5Xr4ZPqC7nRLRNlQfKkl3bT5k, ClientId: {SP}, PrincipalId: \
         c6d0f2a8-7b4e-4c19-93a5-e8f1b2d7c064, ResourceId: 00000003-0000-0000-c000-000000000000, \
         ConsentType: {consent_type}, Scope: {scope}, CreatedDateTime: , LastModifiedDateTime: ]]; "
    );
    directory(
        "Consent to application.",
        actor,
        SP,
        &[
            ("ConsentContext.IsAdminConsent", admin, ""),
            ("ConsentContext.IsAppOnly", "False", ""),
            ("ConsentContext.OnBehalfOfAll", "False", ""),
            (
                "ConsentContext.Tags",
                "WindowsAzureActiveDirectoryIntegratedApp",
                "",
            ),
            ("ConsentAction.Permissions", &grants, ""),
            ("TargetId.ServicePrincipalNames", app_id, ""),
        ],
        &[
            (&format!("ServicePrincipal_{SP}"), 2),
            (SP, 2),
            ("ServicePrincipal", 2),
            (app, 1),
        ],
    )
}

fn verdict(v: &Value) -> (&'static str, Severity) {
    let f = one(v);
    (f.rule, f.severity)
}

#[test]
fn consent_to_a_listed_mail_client_is_high_and_says_why() {
    let f = one(&consent(
        "adele@contoso.com",
        "False",
        "Principal",
        "EWS.AccessAsUser.All IMAP.AccessAsUser.All offline_access openid email",
        "eM Client",
        EM_CLIENT,
    ));
    assert_eq!((f.rule, f.severity), (APP_CONSENT, Severity::High));
    assert_eq!(
        (f.target.as_str(), f.actor.as_str()),
        ("adele@contoso.com", "adele@contoso.com")
    );
    assert_eq!(
        f.summary,
        "adele@contoso.com consented to application eM Client for their own account, with mail \
         permissions EWS.AccessAsUser.All and IMAP.AccessAsUser.All. eM Client is known from account \
         takeovers: a mail client that copies the whole mailbox to the attacker's machine."
    );
    let Evidence::Consent(e) = &f.details else {
        panic!("consent evidence")
    };
    assert_eq!(e.app_id.as_deref(), Some(EM_CLIENT));
    assert!(e.permissions.contains(&"offline_access".to_string()));
    // An imitation's name in Cyrillic letters, under another id, is still the listed app.
    let imitation = consent(
        "adele@contoso.com",
        "False",
        "Principal",
        "User.Read",
        "\u{435}M Client",
        "11111111-2222-4333-8444-555555555555",
    );
    assert_eq!(verdict(&imitation), (APP_CONSENT, Severity::High));
}

#[test]
fn tenant_wide_consent_is_high_and_critical_with_mail() {
    let mail = one(&consent(
        "admin@contoso.com",
        "True",
        "AllPrincipals",
        "Mail.Read openid",
        "Invoice Helper",
        "11111111-2222-4333-8444-555555555555",
    ));
    assert_eq!(
        (mail.severity, mail.target.as_str()),
        (Severity::Critical, "the whole organisation")
    );
    // Entra ID's own spelling, quoted, and a lower-cased flag.
    for admin in ["\"True\"", "true"] {
        let v = consent(
            "admin@contoso.com",
            admin,
            "Principal",
            "User.Read Directory.Read.All",
            "Contoso Expenses",
            "11111111-2222-4333-8444-555555555555",
        );
        assert_eq!(verdict(&v), (APP_CONSENT, Severity::High), "{admin}");
    }
    // AllPrincipals alone makes it tenant-wide, whatever the flag says.
    let all = consent(
        "admin@contoso.com",
        "False",
        "AllPrincipals",
        "User.Read Files.Read.All",
        "Contoso Expenses",
        "11111111-2222-4333-8444-555555555555",
    );
    assert_eq!(verdict(&all), (APP_CONSENT, Severity::High));
    // Tenant-wide sign-in and profile only, to an app no list names: a line-of-business
    // app's everyday consent raises nothing.
    let everyday = consent(
        "admin@contoso.com",
        "True",
        "AllPrincipals",
        "openid profile email User.Read",
        "Contoso Expenses",
        "11111111-2222-4333-8444-555555555555",
    );
    assert!(run(&everyday).is_empty());
}

#[test]
fn one_user_s_consent_rises_with_mail_permissions() {
    let sev = |scope: &str| {
        verdict(&consent(
            "adele@contoso.com",
            "False",
            "Principal",
            scope,
            "Some App",
            "11111111-2222-4333-8444-555555555555",
        ))
        .1
    };
    assert_eq!(sev("Mail.Read openid"), Severity::Medium);
    assert_eq!(sev("mail.readwrite offline_access"), Severity::High);
    assert_eq!(sev("MAIL.SEND OFFLINE_ACCESS"), Severity::High);
    // Headers only is not Mail.Read.
    assert_eq!(sev("Mail.ReadBasic offline_access"), Severity::Low);
}

#[test]
fn a_consent_to_sign_in_alone_raises_nothing_unless_the_app_is_listed() {
    let v = consent(
        "admin@contoso.com",
        "False",
        "Principal",
        "openid profile User.Read offline_access",
        "Contoso Expenses",
        "11111111-2222-4333-8444-555555555555",
    );
    assert!(run(&v).is_empty());
    // A listed mail-theft app is raised whatever it asks for.
    let listed = consent(
        "adele@contoso.com",
        "False",
        "Principal",
        "openid profile",
        "eM Client",
        "e9a7fea1-1cc0-4cd9-a31b-9137ca5deedd",
    );
    assert_eq!(verdict(&listed), (APP_CONSENT, Severity::High));
    let mut failed = consent(
        "admin@contoso.com",
        "False",
        "Principal",
        "Mail.Read",
        "Contoso Expenses",
        "11111111-2222-4333-8444-555555555555",
    );
    failed["ResultStatus"] = json!("Failure");
    assert!(run(&failed).is_empty());
}

#[test]
fn credentials_added_to_an_application_by_a_person_or_by_an_application() {
    let key = "[KeyIdentifier=0c2c1a2e-0d7e-4cb6-8c4e-0a3e4f1b2c3d,KeyType=Password,KeyUsage=Verify,DisplayName=x]";
    let person = one(&directory(
        "Add service principal credentials.",
        "admin@contoso.com",
        SP,
        &[
            ("KeyDescription", key, "[]"),
            ("Included Updated Properties", "KeyDescription", ""),
        ],
        &[(SP, 2), ("ServicePrincipal", 2), ("Mail Archiver", 1)],
    ));
    assert_eq!(
        (person.rule, person.severity, person.target.as_str()),
        (APP_ACCESS, Severity::High, "Mail Archiver")
    );
    assert_eq!(
        person.summary,
        "Application Mail Archiver was given a new secret or certificate by admin@contoso.com."
    );
    // The unified audit log's en dash and trailing space, Entra ID's hyphen, any case.
    for operation in [
        "Update application \u{2013} Certificates and secrets management ",
        "update application - certificates and secrets management",
    ] {
        let v = directory(
            operation,
            "ServicePrincipal_4b2c5d6e-1111-4222-8333-944455556666",
            SP,
            &[("KeyDescription", key, "[]")],
            &[("Deploy Pipeline", 1)],
        );
        assert_eq!(verdict(&v), (APP_ACCESS, Severity::Medium), "{operation}");
    }
}

#[test]
fn application_permissions_over_mail_are_high_and_full_access_critical() {
    let grant = |value: &str, id: &str| {
        directory(
            "Add app role assignment to service principal.",
            "admin@contoso.com",
            SP,
            &[
                ("AppRole.Id", id, ""),
                ("AppRole.Value", value, ""),
                ("ServicePrincipal.DisplayName", "Mail Archiver", ""),
            ],
            &[(SP, 2), ("Office 365 Exchange Online", 1)],
        )
    };
    let full = one(&grant(
        "full_access_as_app",
        "dc890d15-9560-4a4c-9b7f-a736ec74ec40",
    ));
    assert_eq!(
        (full.severity, full.target.as_str()),
        (Severity::Critical, "Mail Archiver")
    );
    assert_eq!(
        verdict(&grant(
            "Mail.ReadWrite",
            "e2a3a72e-5f79-4c64-b1b1-878b674786c9"
        )),
        (APP_ACCESS, Severity::High)
    );
    // Named by id alone.
    assert_eq!(
        verdict(&grant("", "810c84a8-4a9e-49e6-bf7d-12d183f40d01")),
        (APP_ACCESS, Severity::High)
    );
    assert!(
        run(&grant(
            "User.Read.All",
            "df021288-bdef-4463-88db-98f22de89214"
        ))
        .is_empty()
    );
}

/// A role grant in the shape Splunk's rule indexes: name, then template, then the
/// well-known name.
fn role(
    operation: &str,
    member: &str,
    name: &str,
    template: &str,
    well_known: &str,
    class: &str,
) -> Value {
    directory(
        operation,
        "admin@contoso.com",
        member,
        &[
            ("Role.ObjectID", "e1b3d7f9-6c2a-4f48-b5e0-8a1d3c7f9e52", ""),
            ("Role.DisplayName", name, ""),
            ("Role.TemplateId", template, ""),
            ("Role.WellKnownObjectName", well_known, ""),
        ],
        &[
            ("9a5c3e1f-7d2b-4f84-b6a0-2e8d4c1f7b39", 2),
            (class, 2),
            (member, 5),
        ],
    )
}

const GA: &str = "62e90394-69f5-4237-9190-012177145e10";

#[test]
fn global_administrator_given_is_critical() {
    let f = one(&role(
        "Add member to role.",
        "svc-backup@contoso.com",
        "Global Administrator",
        GA,
        "TenantAdmins",
        "User",
    ));
    assert_eq!((f.rule, f.severity), (PRIVILEGED_ROLE, Severity::Critical));
    assert_eq!(
        (f.target.as_str(), f.actor.as_str()),
        ("svc-backup@contoso.com", "admin@contoso.com")
    );
    assert_eq!(
        f.summary,
        "svc-backup@contoso.com was given the Global Administrator role by admin@contoso.com."
    );
    // Re-cased operation; the old name; the name alone, re-cased, when nothing else is given.
    for (operation, name, template, well_known) in [
        ("add member to role.", "Global Administrator", GA, ""),
        (
            "Add member to role",
            "Company Administrator",
            "",
            "TenantAdmins",
        ),
        ("Add member to role.", "global administrator", "", ""),
    ] {
        let v = role(
            operation,
            "eve@contoso.com",
            name,
            template,
            well_known,
            "User",
        );
        assert_eq!(verdict(&v).1, Severity::Critical, "{operation} {name}");
    }
}

#[test]
fn look_alike_role_names_are_imitations_not_the_role_and_never_hide_it() {
    let lookalike = "Global \u{410}dministrator";
    // A custom role named with a Cyrillic А: not Global Administrator, but reported.
    let custom = one(&role(
        "Add member to role.",
        "eve@contoso.com",
        lookalike,
        "0b4e4f5a-7c3d-4c0e-9d7e-2f1b9a6c8d10",
        "",
        "User",
    ));
    assert_eq!(custom.severity, Severity::High);
    assert!(
        custom
            .summary
            .ends_with("The role's name imitates Global Administrator with look-alike characters."),
        "{}",
        custom.summary
    );
    let Evidence::RoleGrant(e) = &custom.details else {
        panic!("role evidence")
    };
    assert_eq!(e.lookalike_of.as_deref(), Some("Global Administrator"));
    // Global Administrator's own template under a doctored name is still critical.
    let real = role(
        "Add member to role.",
        "eve@contoso.com",
        lookalike,
        GA,
        "",
        "User",
    );
    assert_eq!(verdict(&real).1, Severity::Critical);
    // An invisible character inside the name changes nothing either.
    let hidden = role(
        "Add member to role.",
        "eve@contoso.com",
        "Exchange\u{200b} Administrator",
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "",
        "User",
    );
    assert_eq!(verdict(&hidden).1, Severity::High);
}

#[test]
fn roles_by_privilege_and_member() {
    let sev = |name: &str, template: &str, well_known: &str| {
        verdict(&role(
            "Add member to role.",
            "bob@contoso.com",
            name,
            template,
            well_known,
            "User",
        ))
        .1
    };
    assert_eq!(
        sev(
            "Exchange Administrator",
            "29232cdf-9323-42fd-ade2-1d097af3e4de",
            ""
        ),
        Severity::High
    );
    assert_eq!(
        sev("User Administrator", "", "UserAccountAdmins"),
        Severity::High
    );
    assert_eq!(
        sev(
            "Teams Administrator",
            "69091246-20e8-4a56-aa4d-066075b2a7a8",
            ""
        ),
        Severity::Medium
    );
    assert_eq!(
        sev(
            "Directory Readers",
            "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
            ""
        ),
        Severity::Low
    );
    let group = one(&role(
        "Add member to role.",
        "Helpdesk Tier 2",
        "Privileged Role Administrator",
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "PrivilegedRoleAdmins",
        "Group",
    ));
    assert_eq!(
        group.summary,
        "Group Helpdesk Tier 2 was given the Privileged Role Administrator role by admin@contoso.com: \
         every member of the group now holds it."
    );
    let app = one(&role(
        "Add member to role.",
        "graph-poller",
        "Global Administrator",
        GA,
        "TenantAdmins",
        "ServicePrincipal",
    ));
    assert!(
        app.summary
            .starts_with("Application graph-poller was given"),
        "{}",
        app.summary
    );
    let pim = one(&role(
        "Add eligible member to role in PIM completed (permanent)",
        "eve@contoso.com",
        "Global Administrator",
        GA,
        "",
        "User",
    ));
    assert_eq!(pim.severity, Severity::Critical);
    assert!(
        pim.summary.contains("role (eligible, through PIM) by"),
        "{}",
        pim.summary
    );
}

#[test]
fn pim_activations_requests_and_removals_raise_nothing_alone() {
    for operation in [
        "Add member to role completed (PIM activation)",
        "Add member to role in PIM requested (permanent)",
        "Remove member from role.",
    ] {
        let v = role(
            operation,
            "bob@contoso.com",
            "Global Administrator",
            GA,
            "TenantAdmins",
            "User",
        );
        assert!(run(&v).is_empty(), "{operation}");
    }
}

#[test]
fn mfa_turned_off_is_high_and_names_the_account() {
    let off = one(&directory(
        "Disable Strong Authentication.",
        "admin@contoso.com",
        "lidia@contoso.com",
        &[],
        &[
            ("User_f23cb258-50ca-4092-9027-5c4ca2f1d999", 2),
            ("lidia@contoso.com", 5),
        ],
    ));
    assert_eq!(
        (off.rule, off.severity, off.target.as_str()),
        (MFA_CHANGED, Severity::High, "lidia@contoso.com")
    );
    assert_eq!(
        off.summary,
        "MFA was turned off for lidia@contoso.com by admin@contoso.com."
    );
    let dropped = directory(
        "Update user.",
        "admin@contoso.com",
        "lidia@contoso.com",
        &[
            (
                "StrongAuthenticationRequirement",
                "[]",
                "[{\"RelyingParty\":\"*\",\"State\":1,\"RememberDevicesNotIssuedBefore\":\"2026-01-01T00:00:00Z\"}]",
            ),
            (
                "Included Updated Properties",
                "StrongAuthenticationRequirement",
                "",
            ),
        ],
        &[("lidia@contoso.com", 5)],
    );
    assert_eq!(verdict(&dropped), (MFA_CHANGED, Severity::High));
}

const ONE_METHOD: &str = "[{\"MethodType\":6,\"Default\":true}]";
const TWO_METHODS: &str =
    "[{\"MethodType\":6,\"Default\":true},{\"MethodType\":7,\"Default\":false}]";

#[test]
fn a_method_added_is_low_by_its_owner_and_medium_by_someone_else() {
    let added = |actor: &str| {
        directory(
            "Update user.",
            actor,
            "lidia@contoso.com",
            &[
                ("StrongAuthenticationMethod", TWO_METHODS, ONE_METHOD),
                (
                    "Included Updated Properties",
                    "StrongAuthenticationMethod",
                    "",
                ),
            ],
            &[("lidia@contoso.com", 5)],
        )
    };
    let own = one(&added("Lidia@contoso.com"));
    assert_eq!(
        (own.severity, own.summary.as_str()),
        (
            Severity::Low,
            "lidia@contoso.com registered a new sign-in method."
        )
    );
    assert_eq!(
        verdict(&added("admin@contoso.com")),
        (MFA_CHANGED, Severity::Medium)
    );
    let app = directory(
        "Update user.",
        "lidia@contoso.com",
        "lidia@contoso.com",
        &[(
            "StrongAuthenticationPhoneAppDetail",
            "[{\"DeviceName\":\"iPhone 15\",\"DeviceToken\":\"x\",\"Id\":\"a\"},{\"DeviceName\":\"Pixel\",\"DeviceToken\":\"y\",\"Id\":\"b\"}]",
            "[{\"DeviceName\":\"iPhone 15\",\"DeviceToken\":\"x\",\"Id\":\"a\"}]",
        )],
        &[],
    );
    assert_eq!(verdict(&app), (MFA_CHANGED, Severity::Low));
    let removed = directory(
        "Update user.",
        "admin@contoso.com",
        "lidia@contoso.com",
        &[("StrongAuthenticationMethod", "[]", TWO_METHODS)],
        &[],
    );
    assert_eq!(verdict(&removed), (MFA_CHANGED, Severity::Medium));
}

#[test]
fn security_info_registered_and_temporary_passes() {
    // GUESS in the rule: the account in Target when ObjectId is empty. The name with the
    // unified audit log's period, as Entra ID's without it.
    let own = one(&directory(
        "User registered security info.",
        "lidia@contoso.com",
        "",
        &[],
        &[("lidia@contoso.com", 5)],
    ));
    assert_eq!(
        (own.severity, own.target.as_str()),
        (Severity::Low, "lidia@contoso.com")
    );
    let pass = one(&directory(
        "Admin registered security info",
        "helpdesk@contoso.com",
        "lidia@contoso.com",
        &[(
            "TemporaryAccessPass.Id",
            "3d38627e-f962-4166-8f96-ea05e09c6309",
            "",
        )],
        &[],
    ));
    assert_eq!(
        (pass.severity, pass.summary.as_str()),
        (
            Severity::High,
            "helpdesk@contoso.com issued a Temporary Access Pass for lidia@contoso.com."
        )
    );
}

#[test]
fn profile_changes_and_mfa_turned_on_raise_nothing() {
    for changes in [
        vec![("DisplayName", "[\"Lidia H\"]", "[\"Lidia\"]")],
        vec![("StrongAuthenticationMethod", TWO_METHODS, TWO_METHODS)],
        vec![(
            "StrongAuthenticationRequirement",
            "[{\"RelyingParty\":\"*\",\"State\":2}]",
            "[]",
        )],
    ] {
        let v = directory(
            "Update user.",
            "admin@contoso.com",
            "lidia@contoso.com",
            &changes,
            &[],
        );
        assert!(run(&v).is_empty(), "{changes:?}");
    }
}

fn policy(operation: &str, old: &Value, new: &Value) -> Value {
    directory(
        operation,
        "admin@contoso.com",
        "Not Available",
        &[(
            "ConditionalAccessPolicy",
            &new.to_string(),
            &old.to_string(),
        )],
        &[
            ("b1c2d3e4-1111-4222-8333-944455556666", 2),
            ("Require MFA for all users", 1),
        ],
    )
}

fn ca(state: &str, excluded: &[&str], controls: &[&str]) -> Value {
    json!({
        "id": "b1c2d3e4-1111-4222-8333-944455556666",
        "displayName": "Require MFA for all users",
        "state": state,
        "conditions": {"users": {"includeUsers": ["All"], "excludeUsers": excluded}},
        "grantControls": {"operator": "OR", "builtInControls": controls},
    })
}

#[test]
fn conditional_access_turned_off_opened_or_stripped_is_high() {
    let before = ca("enabled", &[], &["mfa"]);
    let off = one(&policy(
        "Update Conditional Access policy",
        &before,
        &ca("disabled", &[], &["mfa"]),
    ));
    assert_eq!(
        (off.rule, off.severity, off.target.as_str()),
        (CONDITIONAL_ACCESS, Severity::High, "the whole organisation")
    );
    assert_eq!(
        off.summary,
        "Conditional access policy Require MFA for all users was turned off by admin@contoso.com."
    );
    for (after, change) in [
        (
            ca("enabledForReportingButNotEnforced", &[], &["mfa"]),
            "report-only",
        ),
        (
            ca("enabled", &["eve@contoso.com"], &["mfa"]),
            "given new exclusions",
        ),
        (
            ca("enabled", &[], &["compliantDevice"]),
            "stripped of its MFA requirement",
        ),
    ] {
        let f = one(&policy(
            "update conditional access policy.",
            &before,
            &after,
        ));
        let Evidence::Policy(e) = &f.details else {
            panic!("policy evidence")
        };
        assert_eq!((f.severity, e.change.as_str()), (Severity::High, change));
    }
    let mut renamed = before.clone();
    renamed["displayName"] = json!("MFA for everyone");
    assert_eq!(
        verdict(&policy(
            "Update Conditional Access policy",
            &before,
            &renamed
        )),
        (CONDITIONAL_ACCESS, Severity::Medium)
    );
    for operation in [
        "Delete Conditional Access policy",
        "delete conditional access policy.",
    ] {
        let deleted = policy(operation, &before, &json!(null));
        assert_eq!(verdict(&deleted), (CONDITIONAL_ACCESS, Severity::High));
    }
    // The older, generic name, recognised by the property it changes.
    let legacy = policy("Update policy.", &before, &ca("disabled", &[], &["mfa"]));
    assert_eq!(verdict(&legacy), (CONDITIONAL_ACCESS, Severity::High));
    assert!(
        run(&policy(
            "Add Conditional Access policy",
            &json!(null),
            &before
        ))
        .is_empty()
    );
    let other_policy = directory(
        "Update policy.",
        "admin@contoso.com",
        "Not Available",
        &[("TokenLifetimePolicy", "{\"state\":\"disabled\"}", "{}")],
        &[],
    );
    assert!(run(&other_policy).is_empty());
}

#[test]
fn security_defaults_turned_off_is_high_and_turned_on_raises_nothing() {
    let defaults = |changes: &[(&str, &str, &str)]| {
        directory(
            "Update security defaults.",
            "admin@contoso.com",
            "",
            changes,
            &[],
        )
    };
    let off = one(&defaults(&[("IsEnabled", "False", "True")]));
    assert_eq!(
        (off.severity, off.summary.as_str()),
        (
            Severity::High,
            "Security defaults were turned off by admin@contoso.com."
        )
    );
    assert_eq!(
        verdict(&defaults(&[(
            "Policy",
            "{\"isEnabled\":false}",
            "{\"isEnabled\":true}"
        )]))
        .1,
        Severity::High
    );
    assert!(run(&defaults(&[("IsEnabled", "\"True\"", "\"False\"")])).is_empty());
    assert_eq!(
        verdict(&defaults(&[])),
        (CONDITIONAL_ACCESS, Severity::Medium)
    );
}
