//! Remediation: Graph's user calls and Exchange's `InvokeCommand`, against mailbox state
//! that planted audit records built.

use std::time::Duration;

use chrono::{DateTime, Utc};
use m365_sandbox::attacks::{self, ForwardKind, RecordCtx};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::*;

const PASSWORD: &str = "Tr0ub4dor&3-horse";

/// Contoso's users, Megan with two rules (one hidden) and mailbox forwarding.
fn remediation_tenants() -> Value {
    let mut tenants = tenants();
    tenants[0]["users"][1] = json!({
        "upn": "megan@contoso.com", "display_name": "Megan Bowen",
        "forwarding_smtp_address": "x@evil.example",
        "inbox_rules": [
            {"name": "Invoices", "subject_contains_words": ["invoice"], "move_to_folder": "RSS Feeds",
             "mark_as_read": true, "stop_processing_rules": true},
            {"name": "sync", "hidden": true, "forward_to": ["a@evil.example", "b@evil.example"]}
        ]
    });
    tenants
}

/// A successful `InvokeCommand`'s `value`.
async fn values(response: Response) -> Vec<Value> {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["@adminapi.warnings"], json!([]));
    assert_eq!(body["adminapi.warnings@odata.type"], "#Collection(String)");
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .starts_with("https://outlook.office365.com/adminapi/beta/")
    );
    body["value"].as_array().unwrap().clone()
}

/// The cmdlet's words in an EXO error, as §G 6 shows them on the wire: `error.message` is
/// only "Invalid Operation"; the words and the exception type sit in the lowercase
/// `innererror.internalexception`, and in `details[0]` (`id|Type|text`) when present.
async fn exo_failure(response: Response, status: StatusCode) -> (String, String) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    assert_eq!(error["message"], "Invalid Operation");
    assert!(
        error["innererror"].get("internalException").is_none(),
        "the key is lowercase: {body}"
    );
    let internal = &error["innererror"]["internalexception"];
    let (kind, message) = (
        internal["type"].as_str().unwrap(),
        internal["message"].as_str().unwrap(),
    );
    if let Some(detail) = error["details"][0]["message"].as_str() {
        assert!(detail.ends_with(&format!("|{kind}|{message}")), "{detail}");
    }
    (kind.to_string(), message.to_string())
}

async fn user_state(api: &Api, tenant: &str, upn: &str) -> Response {
    api.http
        .get(format!(
            "{}/_sandbox/tenants/{tenant}/users/{upn}",
            api.base
        ))
        .send()
        .await
        .unwrap()
}

async fn state(api: &Api, upn: &str) -> Value {
    let response = user_state(api, CONTOSO, upn).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn rule_names(state: &Value) -> Vec<&str> {
    state["inbox_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect()
}

fn ctx(actor: &str, target: &str) -> RecordCtx {
    RecordCtx {
        tenant_id: CONTOSO.into(),
        tenant_initial_domain: "contoso.onmicrosoft.com".into(),
        actor_upn: actor.into(),
        target_upn: target.into(),
        client_ip: "203.0.113.7:51234".into(),
        creation_time: Utc::now(),
        record_id: Uuid::new_v4(),
    }
}

fn exchange_record(record: Value, release_after_s: i64) -> Value {
    json!({"tenant_id": CONTOSO, "content_type": "Audit.Exchange", "release_after_s": release_after_s,
           "record": record})
}

#[tokio::test]
async fn released_audit_records_build_rules_and_forwarding() {
    let diego = ctx("diego@contoso.com", "diego@contoso.com");
    let records = [
        exchange_record(
            attacks::new_inbox_rule_forward(
                &diego,
                "sync",
                &["a@evil.example", "b@evil.example"],
                ForwardKind::ForwardTo,
            ),
            -60,
        ),
        exchange_record(
            attacks::set_inbox_rule_forward(
                &diego,
                "sync",
                &["c@evil.example"],
                ForwardKind::RedirectTo,
            ),
            -30,
        ),
        exchange_record(
            attacks::set_mailbox_forwarding(
                &ctx("diego@contoso.com", "adele@contoso.com"),
                Some("smtp:x@evil.example"),
                None,
                true,
            ),
            -10,
        ),
        exchange_record(
            attacks::new_inbox_rule_delete_all(&ctx("diego@contoso.com", "megan@contoso.com"), "."),
            2,
        ),
    ];
    let sandbox = sandbox(json!({"records": records})).await;
    let api = Api::new(&sandbox);

    // Diego exists because a released record names him.
    let diego = state(&api, "Diego@Contoso.com").await;
    assert_eq!(diego["upn"], "diego@contoso.com");
    let rules = diego["inbox_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "{diego}");
    assert_eq!(rules[0]["name"], "sync");
    assert_eq!(
        rules[0]["forward_to"],
        json!(["a@evil.example", "b@evil.example"])
    );
    assert_eq!(rules[0]["redirect_to"], json!(["c@evil.example"]));
    assert_eq!(rules[0]["stop_processing_rules"], true);
    assert_eq!(rules[0]["enabled"], true);
    let rule_identity = rules[0]["rule_identity"].as_str().unwrap();
    let (mailbox, id) = rules[0]["identity"]
        .as_str()
        .unwrap()
        .split_once('\\')
        .unwrap();
    assert!(
        Uuid::parse_str(mailbox).is_ok() && id == rule_identity,
        "{}",
        rules[0]
    );
    assert!(rule_identity.parse::<u64>().unwrap() > i64::MAX as u64);

    let adele = state(&api, "adele@contoso.com").await;
    assert_eq!(adele["forwarding_smtp_address"], "smtp:x@evil.example");
    assert_eq!(adele["deliver_to_mailbox_and_forward"], true);
    assert_eq!(adele["forwarding_address"], Value::Null);

    // Megan's rule is planted 2 s after start: absent now, present once released.
    assert_eq!(
        rule_names(&state(&api, "megan@contoso.com").await),
        Vec::<&str>::new()
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let megan = state(&api, "megan@contoso.com").await;
    assert_eq!(rule_names(&megan), ["."]);
    assert_eq!(megan["inbox_rules"][0]["delete_message"], true);
    assert_eq!(megan["inbox_rules"][0]["mark_as_read"], true);

    // Exchange sees the same rule.
    let token = api.token(CONTOSO, OUTLOOK).await;
    let listed = values(
        api.invoke(
            &token,
            Some("megan@contoso.com"),
            "Get-InboxRule",
            json!({"Mailbox": "megan@contoso.com", "IncludeHidden": true}),
        )
        .await,
    )
    .await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["Name"], "Junk E-mail Rule");
    assert_eq!(listed[0]["Name"], ".");
    assert_eq!(listed[0]["DeleteMessage"], true);
    assert_eq!(listed[0]["MailboxOwnerId"], "megan@contoso.com");
    assert_eq!(
        listed[0]["Description"],
        "Take the following actions:\r\n\tdelete the message\r\n\tand mark the message as read\r\n\tand stop \
         processing more rules on this message\r\n"
    );

    assert_eq!(
        user_state(&api, CONTOSO, "nobody@contoso.com")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        user_state(&api, FABRIKAM, "adele@contoso.com")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        user_state(
            &api,
            "00000000-0000-4000-8000-000000000000",
            "adele@contoso.com"
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn inbox_rules_are_disabled_enabled_removed_and_restored() {
    let sandbox = sandbox_with(remediation_tenants(), json!({})).await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, OUTLOOK).await;
    let anchor = Some("megan@contoso.com");
    let get = |include_hidden: bool| {
        api.invoke(
            &token,
            anchor,
            "Get-InboxRule",
            json!({"Mailbox": "megan@contoso.com", "IncludeHidden": include_hidden}),
        )
    };

    let visible = values(get(false).await).await;
    assert_eq!(visible.len(), 1, "the hidden rule needs IncludeHidden");
    let invoices = &visible[0];
    assert_eq!(invoices["Name"], "Invoices");
    assert_eq!(invoices["Priority"], 1);
    assert_eq!(invoices["SubjectContainsWords"], json!(["invoice"]));
    assert_eq!(invoices["MoveToFolder"], "RSS Feeds");
    assert_eq!(invoices["ForwardTo"], Value::Null);
    assert_eq!(invoices["InError"], false);
    assert_eq!(
        invoices["Description"],
        "If the message:\r\n\tincludes 'invoice' in the subject\r\nTake the following actions:\r\n\tmove the \
         message to folder 'RSS Feeds'\r\n\tand mark the message as read\r\n\tand stop processing more rules \
         on this message\r\n"
    );
    let all = values(get(true).await).await;
    assert_eq!(
        all.len(),
        3,
        "the hidden rule and the junk-mail rule: {all:?}"
    );
    assert_eq!(all[2]["Name"], "Junk E-mail Rule");
    let sync = all[1].clone();
    assert_eq!(sync["Name"], "sync");
    assert_eq!(sync["Priority"], 2);
    // Recipients come back in display form, which does not bind back (§G 7).
    assert_eq!(
        sync["ForwardTo"],
        json!([
            "\"a@evil.example\" [SMTP:a@evil.example]",
            "\"b@evil.example\" [SMTP:b@evil.example]"
        ])
    );
    for (field, value) in [
        ("ErrorType", json!("None")),
        ("IsValid", json!(true)),
        ("ObjectState", json!("Unchanged")),
        ("SupportedByTask", json!(true)),
    ] {
        assert_eq!(sync[field], value, "{field}");
    }
    // RuleIdentity is a JSON number above i64::MAX; Identity is `<mailbox GUID>\<id>`.
    let sync_number = sync["RuleIdentity"].as_u64().expect("a JSON number");
    assert!(sync_number > i64::MAX as u64, "{sync_number}");
    let sync_id = sync_number.to_string();
    let sync_identity = sync["Identity"].as_str().unwrap().to_string();
    let (mailbox, id) = sync_identity.split_once('\\').unwrap();
    assert!(Uuid::parse_str(mailbox).is_ok(), "{sync_identity}");
    assert_eq!(id, sync_id);

    // Disable by the full Identity, enable by name, remove by RuleIdentity.
    let changed = api
        .invoke(
            &token,
            anchor,
            "Disable-InboxRule",
            json!({"Identity": sync_identity, "Confirm": false}),
        )
        .await;
    assert!(values(changed).await.is_empty());
    let megan = state(&api, "megan@contoso.com").await;
    assert_eq!(megan["inbox_rules"][1]["enabled"], false);
    assert_eq!(megan["inbox_rules"][1]["hidden"], true);
    values(
        api.invoke(
            &token,
            anchor,
            "Enable-InboxRule",
            json!({"Identity": "SYNC", "Confirm": false}),
        )
        .await,
    )
    .await;
    assert_eq!(
        state(&api, "megan@contoso.com").await["inbox_rules"][1]["enabled"],
        true
    );
    values(
        api.invoke(
            &token,
            anchor,
            "Remove-InboxRule",
            json!({"Identity": sync_id, "Confirm": false}),
        )
        .await,
    )
    .await;
    assert_eq!(
        rule_names(&state(&api, "megan@contoso.com").await),
        ["Invoices"]
    );

    let again = api
        .invoke(
            &token,
            anchor,
            "Remove-InboxRule",
            json!({"Identity": sync_identity, "Confirm": false}),
        )
        .await;
    let (_, message) = exo_failure(again, StatusCode::BAD_REQUEST).await;
    assert!(
        message.starts_with(&format!(
            "The operation couldn't be performed because object '{sync_identity}' couldn't be found on '"
        )),
        "{message}"
    );

    // New-InboxRule takes only its own parameters, each with a value, recipients as
    // addresses: no `Enabled`, no display forms, no empty lists (§G 7).
    for (parameters, kind, words) in [
        (
            json!({"Mailbox": "megan@contoso.com", "Name": "sync", "Enabled": true}),
            "AmbiguousParameterSetException",
            "Invalid cmdlet parameters specified",
        ),
        (
            json!({"Mailbox": "megan@contoso.com", "Name": "sync", "ForwardTo": sync["ForwardTo"]}),
            "ManagementObjectNotFoundException",
            "couldn't be found",
        ),
        (
            json!({"Mailbox": "megan@contoso.com", "Name": "sync", "ForwardTo": ["a@evil.example"], "From": []}),
            "ParameterBindingValidationException",
            "The argument is null or empty",
        ),
    ] {
        let refused = api
            .invoke(&token, anchor, "New-InboxRule", parameters.clone())
            .await;
        let (exception, message) = exo_failure(refused, StatusCode::BAD_REQUEST).await;
        assert!(
            exception.ends_with(kind) && message.contains(words),
            "{parameters}: {exception}: {message}"
        );
    }
    assert_eq!(
        rule_names(&state(&api, "megan@contoso.com").await),
        ["Invoices"],
        "nothing was created"
    );

    // Undo: New-InboxRule puts the rule back, under a new id.
    let created = values(
        api.invoke(
            &token,
            anchor,
            "New-InboxRule",
            json!({"Mailbox": "megan@contoso.com", "Name": "sync",
                   "ForwardTo": ["a@evil.example", "b@evil.example"], "StopProcessingRules": true}),
        )
        .await,
    )
    .await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["Name"], "sync");
    assert_eq!(created[0]["Enabled"], true);
    assert_eq!(created[0]["StopProcessingRules"], true);
    assert_ne!(created[0]["RuleIdentity"], sync["RuleIdentity"]);
    let megan = state(&api, "megan@contoso.com").await;
    assert_eq!(rule_names(&megan), ["Invoices", "sync"]);
    assert_eq!(
        megan["inbox_rules"][1]["forward_to"],
        json!(["a@evil.example", "b@evil.example"])
    );
    assert_eq!(megan["inbox_rules"][1]["hidden"], false);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn mailbox_forwarding_is_read_and_cleared() {
    let sandbox = sandbox_with(remediation_tenants(), json!({})).await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, OUTLOOK).await;
    let anchor = Some("UPN:megan@contoso.com");
    let mailbox = values(
        api.invoke(
            &token,
            anchor,
            "Get-Mailbox",
            json!({"Identity": "megan@contoso.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(mailbox.len(), 1, "{mailbox:?}");
    let forwarding = [
        "UserPrincipalName",
        "PrimarySmtpAddress",
        "Identity",
        "RecipientTypeDetails",
        "ForwardingSmtpAddress",
        "ForwardingAddress",
        "DeliverToMailboxAndForward",
    ]
    .map(|field| mailbox[0][field].clone());
    assert_eq!(
        forwarding,
        [
            json!("megan@contoso.com"),
            json!("megan@contoso.com"),
            json!("megan"),
            json!("UserMailbox"),
            json!("smtp:x@evil.example"),
            Value::Null,
            json!(false)
        ]
    );
    // What resolving a mailbox reads (../shared/reference/m365-api.md §G 12): its Entra object id.
    assert!(
        mailbox[0]["ExternalDirectoryObjectId"].is_string(),
        "{mailbox:?}"
    );

    values(
        api.invoke(
            &token,
            anchor,
            "Set-Mailbox",
            json!({"Identity": "megan@contoso.com", "ForwardingSmtpAddress": "keep@contoso.com",
                   "DeliverToMailboxAndForward": true}),
        )
        .await,
    )
    .await;
    let megan = state(&api, "megan@contoso.com").await;
    assert_eq!(megan["forwarding_smtp_address"], "smtp:keep@contoso.com");
    assert_eq!(megan["deliver_to_mailbox_and_forward"], true);

    let cleared = api
        .invoke(
            &token,
            anchor,
            "Set-Mailbox",
            json!({"Identity": "megan", "ForwardingSmtpAddress": null, "ForwardingAddress": null,
               "DeliverToMailboxAndForward": false}),
        )
        .await;
    assert!(values(cleared).await.is_empty());
    let megan = state(&api, "megan@contoso.com").await;
    assert_eq!(megan["forwarding_smtp_address"], Value::Null);
    assert_eq!(megan["forwarding_address"], Value::Null);
    assert_eq!(megan["deliver_to_mailbox_and_forward"], false);

    let unknown = api
        .invoke(
            &token,
            anchor,
            "Get-Mailbox",
            json!({"Identity": "nobody@contoso.com"}),
        )
        .await;
    let (kind, message) = exo_failure(unknown, StatusCode::BAD_REQUEST).await;
    assert_eq!(
        kind,
        "Microsoft.Exchange.Management.Tasks.ManagementObjectNotFoundException"
    );
    assert!(
        message.contains("'nobody@contoso.com' couldn't be found"),
        "{message}"
    );

    let org = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.onmicrosoft.com";
    let domains = values(
        api.invoke(&token, Some(org), "Get-AcceptedDomain", json!({}))
            .await,
    )
    .await;
    assert_eq!(
        domains,
        [
            json!({"DomainName": "contoso.com", "Name": "contoso.com", "DomainType": "Authoritative", "Default": true}),
            json!({"DomainName": "contoso.onmicrosoft.com", "Name": "contoso.onmicrosoft.com",
                   "DomainType": "Authoritative", "Default": false}),
        ]
    );

    let unknown_cmdlet = api
        .invoke(&token, Some(org), "Get-Nothing", json!({}))
        .await;
    let (_, message) = exo_failure(unknown_cmdlet, StatusCode::BAD_REQUEST).await;
    assert!(
        message.starts_with("The term 'Get-Nothing' is not recognized as the name of a cmdlet"),
        "{message}"
    );

    let no_anchor = api
        .invoke(&token, None, "Get-AcceptedDomain", json!({}))
        .await;
    let (_, message) = exo_failure(no_anchor, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("X-AnchorMailbox"), "{message}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn invoke_command_checks_audience_tenant_and_roles() {
    let sandbox = sandbox_with(remediation_tenants(), json!({})).await;
    let api = &Api::new(&sandbox);
    let anchor = Some("megan@contoso.com");
    let call = |token: String| async move {
        api.invoke(
            &token,
            anchor,
            "Get-Mailbox",
            json!({"Identity": "megan@contoso.com"}),
        )
        .await
    };
    let unauthorized =
        |response: Response| api_error(response, StatusCode::UNAUTHORIZED, "Unauthorized");
    unauthorized(call(api.token(CONTOSO, GRAPH).await).await).await;
    unauthorized(call(api.token(FABRIKAM, OUTLOOK).await).await).await;
    unauthorized(call("not-a-token".into()).await).await;

    // Without an Exchange role: 403 and a body of NUL bytes (§G 6).
    api.update_tenant(CONTOSO, json!({"directory_roles": ["User Administrator"]}))
        .await;
    let refused = call(api.token(CONTOSO, OUTLOOK).await).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body = refused.bytes().await.unwrap();
    assert!(!body.is_empty() && body.iter().all(|b| *b == 0), "{body:?}");
    let restored = api
        .update_tenant(
            CONTOSO,
            json!({"directory_roles": ["Exchange Administrator"], "roles": ["ActivityFeed.Read"]}),
        )
        .await;
    assert_eq!(
        restored.json::<Value>().await.unwrap()["directory_roles"],
        json!(["Exchange Administrator"])
    );
    unauthorized(call(api.token(CONTOSO, OUTLOOK).await).await).await;
    api.update_tenant(CONTOSO, json!({"roles": ["Exchange.ManageAsApp"]}))
        .await;
    assert_eq!(
        call(api.token(CONTOSO, OUTLOOK).await).await.status(),
        StatusCode::OK
    );
    sandbox.shutdown().await;
}

fn parse_time(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().unwrap();
    assert!(text.ends_with('Z'), "{text}");
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

#[tokio::test]
async fn account_remediation_blocks_sign_in_revokes_and_resets_password() {
    let sandbox = sandbox_with(remediation_tenants(), json!({})).await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, GRAPH).await;
    let user = "users/megan@contoso.com";
    let get = || async {
        let response = api.graph_get(&token, user).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()
    };
    let before = get().await;
    assert_eq!(before["userPrincipalName"], "megan@contoso.com");
    assert_eq!(before["displayName"], "Megan Bowen");
    assert_eq!(before["accountEnabled"], true);
    assert_eq!(before["onPremisesSyncEnabled"], Value::Null);
    let sessions_before = parse_time(&before["signInSessionsValidFromDateTime"]);
    let password_before = parse_time(&before["lastPasswordChangeDateTime"]);
    let id = before["id"].as_str().unwrap();
    Uuid::parse_str(id).unwrap();
    let by_id: Value = api
        .graph_get(&token, &format!("users/{id}?$select=id,accountEnabled"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_id["userPrincipalName"], "megan@contoso.com");

    let blocked = api
        .graph(
            Method::PATCH,
            &token,
            user,
            Some(json!({"accountEnabled": false})),
        )
        .await;
    assert_eq!(blocked.status(), StatusCode::NO_CONTENT);
    assert_eq!(get().await["accountEnabled"], false);

    let revoked = api
        .graph(
            Method::POST,
            &token,
            &format!("{user}/revokeSignInSessions"),
            None,
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        revoked.json::<Value>().await.unwrap(),
        json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": true})
    );

    let reset = api
        .graph(
            Method::PATCH,
            &token,
            user,
            Some(json!({"passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": true}})),
        )
        .await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    let after = get().await;
    assert!(parse_time(&after["signInSessionsValidFromDateTime"]) > sessions_before);
    assert!(parse_time(&after["lastPasswordChangeDateTime"]) > password_before);

    let megan = state(&api, "megan@contoso.com").await;
    assert_eq!(megan["account_enabled"], false);
    assert_eq!(megan["force_change_password"], true);
    let revoked_at = parse_time(&megan["sessions_revoked_at"]);
    let changed_at = parse_time(&megan["password_changed_at"]);
    let now = Utc::now();
    for t in [revoked_at, changed_at] {
        assert!((now - t).num_seconds().abs() < 10, "{t}");
    }
    assert!(!megan.to_string().contains(PASSWORD));
    assert!(!api.stats().await.to_string().contains(PASSWORD));
    assert_eq!(
        state(&api, "adele@contoso.com").await["account_enabled"],
        true
    );

    let missing = api.graph_get(&token, "users/nobody@contoso.com").await;
    let message = api_error(missing, StatusCode::NOT_FOUND, "Request_ResourceNotFound").await;
    assert_eq!(
        message,
        "Resource 'nobody@contoso.com' does not exist or one of its queried reference-property objects are not \
         present."
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn user_calls_check_audience_roles_and_password_rules() {
    let sandbox = sandbox_with(remediation_tenants(), json!({})).await;
    let api = Api::new(&sandbox);
    let user = "users/adele@contoso.com";
    let patch = |token: String, body: Value| {
        let api = &api;
        async move { api.graph(Method::PATCH, &token, user, Some(body)).await }
    };

    let manage = api.token(CONTOSO, MANAGE).await;
    api_error(
        patch(manage, json!({"accountEnabled": false})).await,
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
    )
    .await;

    let token = api.token(CONTOSO, GRAPH).await;
    let weak = api_error(
        patch(
            token.clone(),
            json!({"passwordProfile": {"password": "password1"}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "Request_BadRequest",
    )
    .await;
    assert_eq!(
        weak,
        "The specified password does not comply with password complexity requirements. Please provide a \
         different password."
    );
    assert_eq!(
        state(&api, "adele@contoso.com").await["password_changed_at"],
        Value::Null
    );

    // Without User Administrator the password stays, though blocking sign-in works.
    api.update_tenant(
        CONTOSO,
        json!({"directory_roles": ["Exchange Administrator"]}),
    )
    .await;
    let denied = api_error(
        patch(
            token.clone(),
            json!({"passwordProfile": {"password": PASSWORD}}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
    )
    .await;
    assert_eq!(denied, "Insufficient privileges to complete the operation.");
    assert_eq!(
        patch(token.clone(), json!({"accountEnabled": false}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    api.update_tenant(CONTOSO, json!({"roles": ["User.Read.All"]}))
        .await;
    let reader = api.token(CONTOSO, GRAPH).await;
    api_error(
        patch(reader.clone(), json!({"accountEnabled": true})).await,
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
    )
    .await;
    let revoke = api
        .graph(
            Method::POST,
            &reader,
            &format!("{user}/revokeSignInSessions"),
            None,
        )
        .await;
    api_error(revoke, StatusCode::FORBIDDEN, "Authorization_RequestDenied").await;
    let read = api.graph_get(&reader, user).await;
    assert_eq!(read.status(), StatusCode::OK);

    api.update_tenant(CONTOSO, json!({"roles": ["Domain.Read.All"]}))
        .await;
    let stranger = api.token(CONTOSO, GRAPH).await;
    let read = api.graph_get(&stranger, user).await;
    api_error(read, StatusCode::FORBIDDEN, "Authorization_RequestDenied").await;

    let adele = state(&api, "adele@contoso.com").await;
    assert_eq!(adele["account_enabled"], false);
    assert_eq!(adele["sessions_revoked_at"], Value::Null);
    assert_eq!(adele["password_changed_at"], Value::Null);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn scripted_faults_hit_user_calls_and_invoke_command() {
    let sandbox = sandbox_with(
        remediation_tenants(),
        json!({"faults": {"retry_after_s": 3, "script": [
            {"endpoint": "users", "fault": "throttle", "count": 1},
            {"endpoint": "invoke_command", "tenant_id": CONTOSO, "fault": "throttle", "count": 1},
            {"endpoint": "invoke_command", "fault": "server_error", "count": 1}
        ]}}),
    )
    .await;
    let api = Api::new(&sandbox);
    let graph = api.token(CONTOSO, GRAPH).await;
    let get = || api.graph_get(&graph, "users/megan@contoso.com");
    let throttled = get().await;
    assert_eq!(throttled.headers()["retry-after"], "3");
    api_error(throttled, StatusCode::TOO_MANY_REQUESTS, "TooManyRequests").await;
    assert_eq!(get().await.status(), StatusCode::OK);

    let outlook = api.token(CONTOSO, OUTLOOK).await;
    let call = || {
        api.invoke(
            &outlook,
            Some("megan@contoso.com"),
            "Get-InboxRule",
            json!({}),
        )
    };
    let throttled = call().await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    // Exchange's throttling showed no Retry-After in live captures (../shared/reference/m365-api.md §G 14).
    assert!(throttled.headers().get("retry-after").is_none());
    let failed = call().await;
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(failed.headers().get("retry-after").is_none());
    // Without a Mailbox parameter the anchor mailbox is listed.
    assert_eq!(values(call().await).await.len(), 1);

    let stats = api.stats().await;
    assert_eq!(stats["requests"]["users"], 2);
    assert_eq!(stats["requests"]["invoke_command"], 3);
    assert_eq!(stats["faults"]["throttle"], 2);
    assert_eq!(stats["faults"]["server_error"], 1);
    sandbox.shutdown().await;
}

/// Contoso with Megan's mailbox known by another primary address and an alias (§G 12), and
/// two mailboxes that share the display name "Finance".
fn named_tenants() -> Value {
    let mut tenants = remediation_tenants();
    let megan = &mut tenants[0]["users"][1];
    megan["primary_smtp_address"] = json!("megan.bowen@contoso.com");
    megan["alias"] = json!("meganb");
    megan["proxy_addresses"] = json!(["mb@contoso.com"]);
    megan["mailbox_guid"] = json!("311b45d6-1a3e-46ac-8434-721367961e19");
    for upn in ["finance1@contoso.com", "finance2@contoso.com"] {
        tenants[0]["users"]
            .as_array_mut()
            .unwrap()
            .push(json!({"upn": upn, "display_name": "Finance"}));
    }
    tenants
}

#[tokio::test]
async fn mailboxes_are_found_by_any_of_their_names_in_exchange_and_only_by_upn_or_id_in_graph() {
    let sandbox = sandbox_with(named_tenants(), json!({})).await;
    let api = Api::new(&sandbox);
    let outlook = api.token(CONTOSO, OUTLOOK).await;
    let org = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.onmicrosoft.com";
    let graph = api.token(CONTOSO, GRAPH).await;
    let megan: Value = api
        .graph_get(&graph, "users/megan@contoso.com")
        .await
        .json()
        .await
        .unwrap();
    let object_id = megan["id"].as_str().unwrap().to_string();

    for name in [
        "311b45d6-1a3e-46ac-8434-721367961e19",
        "megan.bowen@contoso.com",
        "MB@contoso.com",
        "meganb",
        &object_id,
    ] {
        let found = values(
            api.invoke(
                &outlook,
                Some(org),
                "Get-Mailbox",
                json!({"Identity": name}),
            )
            .await,
        )
        .await;
        assert_eq!(found.len(), 1, "{name}");
        let m = &found[0];
        assert_eq!(m["UserPrincipalName"], "megan@contoso.com", "{name}");
        assert_eq!(m["PrimarySmtpAddress"], "megan.bowen@contoso.com");
        assert_eq!(m["ExternalDirectoryObjectId"], object_id.as_str());
        assert_eq!(m["Guid"], "311b45d6-1a3e-46ac-8434-721367961e19");
        assert_eq!(
            m["EmailAddresses"],
            json!([
                "SMTP:megan.bowen@contoso.com",
                "smtp:megan@contoso.com",
                "smtp:mb@contoso.com"
            ])
        );
    }
    // Graph takes an object id or UPN only: another address is not a user there.
    for name in [
        "megan.bowen@contoso.com",
        "meganb",
        "311b45d6-1a3e-46ac-8434-721367961e19",
    ] {
        api_error(
            api.graph_get(&graph, &format!("users/{name}")).await,
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
        )
        .await;
    }
    // A name two mailboxes share names neither.
    let both = api
        .invoke(
            &outlook,
            Some(org),
            "Get-Mailbox",
            json!({"Identity": "Finance"}),
        )
        .await;
    let (kind, message) = exo_failure(both, StatusCode::BAD_REQUEST).await;
    assert!(
        kind.ends_with("ManagementObjectAmbiguousException"),
        "{kind}"
    );
    assert!(
        message.contains("'Finance' matches multiple entries"),
        "{message}"
    );
    // X-AnchorMailbox routes by UPN: another address in a UPN anchor names no mailbox.
    let routed = api
        .invoke(
            &outlook,
            Some("UPN:megan.bowen@contoso.com"),
            "Get-InboxRule",
            json!({}),
        )
        .await;
    let (_, message) = exo_failure(routed, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("X-AnchorMailbox"), "{message}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_write_shows_in_reads_only_after_the_tenants_delay() {
    let mut tenants = remediation_tenants();
    tenants[0]["write_visible_after_ms"] = json!(800);
    let sandbox = sandbox_with(tenants, json!({})).await;
    let api = Api::new(&sandbox);
    let graph = api.token(CONTOSO, GRAPH).await;
    let enabled = || async {
        let megan: Value = api
            .graph_get(&graph, "users/megan@contoso.com")
            .await
            .json()
            .await
            .unwrap();
        megan["accountEnabled"].clone()
    };
    let blocked = api
        .graph(
            Method::PATCH,
            &graph,
            "users/megan@contoso.com",
            Some(json!({"accountEnabled": false})),
        )
        .await;
    assert_eq!(blocked.status(), StatusCode::NO_CONTENT);
    assert_eq!(enabled().await, true, "not visible yet");
    assert_eq!(
        state(&api, "megan@contoso.com").await["account_enabled"],
        false,
        "but made"
    );
    let outlook = api.token(CONTOSO, OUTLOOK).await;
    let cleared = api
        .invoke(
            &outlook,
            Some("megan@contoso.com"),
            "Set-Mailbox",
            json!({"Identity": "megan@contoso.com", "ForwardingSmtpAddress": null}),
        )
        .await;
    values(cleared).await;
    let read = api
        .invoke(
            &outlook,
            Some("megan@contoso.com"),
            "Get-Mailbox",
            json!({"Identity": "megan@contoso.com"}),
        )
        .await;
    assert_eq!(
        values(read).await[0]["ForwardingSmtpAddress"],
        "smtp:x@evil.example",
        "Exchange too"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(enabled().await, false, "visible after the delay");
    let read = api
        .invoke(
            &outlook,
            Some("megan@contoso.com"),
            "Get-Mailbox",
            json!({"Identity": "megan@contoso.com"}),
        )
        .await;
    assert_eq!(values(read).await[0]["ForwardingSmtpAddress"], Value::Null);
    sandbox.shutdown().await;
}
