//! Partner (GDAP) sign-in: authorization code with PKCE, device code, refresh tokens redeemed
//! at customers (old ones staying valid), delegated rights, `delegatedAdminCustomers` and the
//! control endpoints; redirect URIs matched by host, ID tokens only for `openid`, and a device
//! code that lapses or is declined (../shared/reference/m365-api.md §G 9, 10).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use m365_sandbox::RunningSandbox;
use reqwest::redirect::Policy;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use crate::common::*;
use crate::token::entra;

const PARTNER: &str = "3c4d5e6f-3333-4444-8555-b66677778888";
const NORTHWIND: &str = "8f3e4c5d-4444-4555-a666-c77788889999";
const APP: &str = "22222222-3333-4444-8555-666666666666";
const TECH: &str = "tech@msp.example";
/// What Rulewatch sends: the README registers `http://localhost`, any port.
const REDIRECT: &str = "http://localhost:53682/";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-0123456789";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Contoso and Fabrikam are customers at start; Northwind is a tenant that is not (yet).
async fn partner_sandbox(partner: Value) -> RunningSandbox {
    let mut tenants = tenants();
    tenants.as_array_mut().unwrap().push(json!(
        {"tenant_id": NORTHWIND, "name": "Northwind", "domains": ["northwind.onmicrosoft.com"],
         "client_id": CLIENT_ID, "client_secret": SECRET}
    ));
    let mut config = json!({
        "tenant_id": PARTNER, "client_id": APP,
        "users": [{"upn": TECH, "display_name": "Tech One"}, {"upn": "second@msp.example"}],
        "customers": [CONTOSO, FABRIKAM]
    });
    config
        .as_object_mut()
        .unwrap()
        .extend(partner.as_object().unwrap().clone());
    sandbox_with(tenants, json!({"partner": config})).await
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn no_redirects() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

/// `params` with `changes` replacing or adding parameters (an empty value drops one).
fn changed<'a>(
    mut params: Vec<(&'a str, &'a str)>,
    changes: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    for &(name, value) in changes {
        params.retain(|&(n, _)| n != name);
        if !value.is_empty() {
            params.push((name, value));
        }
    }
    params
}

/// The authorize request a native app sends, with `changes` as for [`changed`].
async fn authorize(api: &Api, changes: &[(&str, &str)]) -> Response {
    let code_challenge = challenge(VERIFIER);
    let params = changed(
        vec![
            ("client_id", APP),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            (
                "scope",
                "https://graph.microsoft.com/.default offline_access openid profile",
            ),
            ("state", "st4te"),
            ("code_challenge", &code_challenge),
            ("code_challenge_method", "S256"),
        ],
        changes,
    );
    no_redirects()
        .get(format!("{}/{PARTNER}/oauth2/v2.0/authorize", api.base))
        .query(&params)
        .send()
        .await
        .unwrap()
}

/// The redirect's query parameters.
fn redirected(response: &Response) -> Vec<(String, String)> {
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn code(api: &Api, changes: &[(&str, &str)]) -> String {
    let pairs = redirected(&authorize(api, changes).await);
    assert_eq!(param(&pairs, "state"), Some("st4te"));
    param(&pairs, "code").unwrap().to_string()
}

/// Redeems `code` as the app that asked for it, with `changes` as for [`changed`].
async fn redeem(api: &Api, code: &str, changes: &[(&str, &str)]) -> Response {
    let form = changed(
        vec![
            ("grant_type", "authorization_code"),
            ("client_id", APP),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            (
                "scope",
                "https://graph.microsoft.com/.default offline_access openid profile",
            ),
        ],
        changes,
    );
    api.token_response(PARTNER, &form).await
}

async fn ok_json(response: Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Signs the technician in and answers their refresh token.
async fn sign_in(api: &Api) -> String {
    let code = code(api, &[]).await;
    let body = ok_json(redeem(api, &code, &[]).await).await;
    body["refresh_token"].as_str().unwrap().to_string()
}

/// A partner sandbox with `partner` settings, and the technician's refresh token there.
async fn signed_in(partner: Value) -> (RunningSandbox, Api, String) {
    let sandbox = partner_sandbox(partner).await;
    let api = Api::new(&sandbox);
    let refresh_token = sign_in(&api).await;
    (sandbox, api, refresh_token)
}

async fn refresh(api: &Api, tenant: &str, refresh_token: &str, scope: &str) -> Response {
    refresh_as(api, APP, tenant, refresh_token, scope).await
}

async fn refresh_as(
    api: &Api,
    client_id: &str,
    tenant: &str,
    refresh_token: &str,
    scope: &str,
) -> Response {
    api.token_response(
        tenant,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ],
    )
    .await
}

/// A delegated access token for `tenant` and `scope`, and the rotated refresh token.
async fn delegated(api: &Api, tenant: &str, refresh_token: &str, scope: &str) -> (String, String) {
    let body = ok_json(refresh(api, tenant, refresh_token, scope).await).await;
    (
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    )
}

/// Entra's 400 answer to a token or device code request; its description.
async fn bad_request(response: Response, error: &str, code: u32) -> String {
    entra(response, StatusCode::BAD_REQUEST, error, code).await
}

/// The claims of a token answer's `id_token`.
fn id_claims(body: &Value) -> Value {
    let jwt = body["id_token"].as_str().unwrap();
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn control(api: &Api, method: reqwest::Method, path: &str, body: Option<Value>) -> Response {
    let mut request = api
        .http
        .request(method, format!("{}/_sandbox/partner/{path}", api.base));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn authorization_code_with_pkce_signs_the_technician_in() {
    let sandbox = partner_sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    let code = code(&api, &[]).await;

    let wrong = redeem(
        &api,
        &code,
        &[(
            "code_verifier",
            "not-the-verifier-that-made-the-challenge-at-all",
        )],
    )
    .await;
    let d = bad_request(wrong, "invalid_grant", 501481).await;
    assert!(d.contains("Code_Verifier does not match"), "{d}");

    let body = ok_json(redeem(&api, &code, &[]).await).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert_eq!(
        body["scope"],
        "https://graph.microsoft.com/.default offline_access openid profile"
    );
    assert!(body["access_token"].is_string());
    assert!(body["refresh_token"].is_string());
    let id = id_claims(&body);
    assert_eq!(id["tid"], PARTNER);
    assert_eq!(id["aud"], APP);
    assert_eq!(id["preferred_username"], TECH);
    assert_eq!(id["name"], "Tech One");
    assert_eq!(id["iss"], format!("{}/{PARTNER}/v2.0", api.base));
    assert!(id["oid"].as_str().unwrap().len() == 36);
    assert!(id["exp"].as_i64().unwrap() > id["iat"].as_i64().unwrap());

    let again = redeem(&api, &code, &[]).await;
    bad_request(again, "invalid_grant", 54005).await;

    // The redirect URI must be the one the code was issued for.
    let other = self::code(&api, &[]).await;
    let response = redeem(
        &api,
        &other,
        &[("redirect_uri", "http://localhost:1/"), ("scope", "")],
    )
    .await;
    bad_request(response, "invalid_grant", 50011).await;

    // Without openid there is no ID token, at sign-in or at redemption.
    let code = self::code(
        &api,
        &[(
            "scope",
            "https://graph.microsoft.com/.default offline_access",
        )],
    )
    .await;
    let body = ok_json(redeem(&api, &code, &[("scope", "")]).await).await;
    assert!(body.get("id_token").is_none(), "{body}");
    assert!(body["refresh_token"].is_string());

    // Without offline_access there is no refresh token; login_hint picks the technician.
    let code = self::code(
        &api,
        &[
            ("scope", "https://graph.microsoft.com/.default openid"),
            ("login_hint", "second@msp.example"),
        ],
    )
    .await;
    let body = ok_json(redeem(&api, &code, &[("scope", "")]).await).await;
    assert!(body.get("refresh_token").is_none(), "{body}");
    let id = id_claims(&body);
    assert_eq!(id["preferred_username"], "second@msp.example");
    assert_eq!(id["name"], "second@msp.example");

    let stats = api.stats().await;
    assert_eq!(stats["requests"]["authorize"], 4);
    assert_eq!(stats["token_grants"]["authorization_code"], 6);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn authorize_refuses_like_entra() {
    let sandbox = partner_sandbox(json!({})).await;
    let api = Api::new(&sandbox);

    // Not a registered redirect URI: an error page, never a redirect. The port of a
    // loopback URI is free, its host and path are not; IPv6 loopback is not supported.
    for uri in [
        "https://evil.example/cb",
        "http://evil.example/cb",
        "",
        "http://127.0.0.1:53682/",
        "http://[::1]:53682/",
        "http://localhost:53682/callback",
    ] {
        let response = authorize(&api, &[("redirect_uri", uri)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(response.text().await.unwrap().contains("AADSTS50011"));
    }
    let at_customer = no_redirects()
        .get(format!("{}/{CONTOSO}/oauth2/v2.0/authorize", api.base))
        .query(&[("client_id", APP), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_eq!(at_customer.status(), StatusCode::BAD_REQUEST);

    // With a good redirect URI the error goes back to the app.
    let cases = [
        (
            ("client_id", CLIENT_ID),
            "unauthorized_client",
            "AADSTS700016: ",
        ),
        (
            ("response_type", "token"),
            "unsupported_response_type",
            "AADSTS700054: ",
        ),
        (("code_challenge", ""), "invalid_request", "AADSTS900144: "),
        (
            ("code_challenge_method", "plain"),
            "invalid_request",
            "AADSTS50149: ",
        ),
        (
            ("code_challenge_method", ""),
            "invalid_request",
            "AADSTS50149: ",
        ),
        (
            ("code_challenge", "short"),
            "invalid_request",
            "AADSTS501491: ",
        ),
        (("scope", "User.Read"), "invalid_scope", "AADSTS70011: "),
    ];
    for (change, error, prefix) in cases {
        let pairs = redirected(&authorize(&api, &[change]).await);
        assert_eq!(param(&pairs, "error"), Some(error), "{change:?}");
        assert!(
            param(&pairs, "error_description")
                .unwrap()
                .starts_with(prefix),
            "{change:?}: {pairs:?}"
        );
        assert_eq!(param(&pairs, "state"), Some("st4te"));
        assert!(param(&pairs, "code").is_none());
    }
    // localhost with any port matches the registered http://localhost.
    let response = authorize(&api, &[("redirect_uri", "http://localhost:8400/")]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    sandbox.shutdown().await;

    // An app that registered 127.0.0.1 (through its manifest) gets that host, not localhost.
    let sandbox = partner_sandbox(json!({"redirect_uris": ["http://127.0.0.1/cb"]})).await;
    let api = Api::new(&sandbox);
    let response = authorize(&api, &[("redirect_uri", "http://127.0.0.1:8400/cb")]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let response = authorize(&api, &[("redirect_uri", "http://localhost:8400/cb")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("AADSTS50011"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn refresh_at_a_customer_reads_its_feed_and_domains() {
    let (sandbox, api, rt) = signed_in(json!({})).await;

    let body = ok_json(refresh(&api, CONTOSO, &rt, MANAGE).await).await;
    assert_eq!(body["scope"], MANAGE);
    assert!(
        body.get("id_token").is_none(),
        "no openid, no ID token: {body}"
    );
    let with_openid = ok_json(refresh(&api, CONTOSO, &rt, &format!("{MANAGE} openid")).await).await;
    assert_eq!(id_claims(&with_openid)["tid"], CONTOSO);
    let manage = body["access_token"].as_str().unwrap();
    let rt = body["refresh_token"].as_str().unwrap();
    let list = api.feed(manage, CONTOSO, "subscriptions/list", &[]).await;
    assert_eq!(list.status(), StatusCode::OK);
    let (start, end) = around_now();
    let content = api
        .feed(
            manage,
            CONTOSO,
            "subscriptions/content",
            &[
                ("contentType", "Audit.Exchange"),
                ("startTime", &start),
                ("endTime", &end),
            ],
        )
        .await;
    assert_eq!(content.status(), StatusCode::OK);
    // The token is for Contoso only.
    let other = api.feed(manage, FABRIKAM, "subscriptions/list", &[]).await;
    api_error(other, StatusCode::UNAUTHORIZED, "AF20010").await;

    // A customer's domain name works in place of its id, as for app-only tokens.
    let (graph, _) = delegated(&api, "contoso.onmicrosoft.com", rt, GRAPH).await;
    let domains: Value = api.graph_get(&graph, "domains").await.json().await.unwrap();
    assert_eq!(domains["value"][0]["id"], "contoso.com");
    let user = api.graph_get(&graph, "users/adele@contoso.com").await;
    assert_eq!(user.status(), StatusCode::OK);

    let stats = api.stats().await;
    assert_eq!(stats["token_grants"]["refresh_token"], 3);
    assert_eq!(stats["tokens_issued"], 4);
    // Calls are counted per PublisherIdentifier (the tenant mismatch is refused before).
    assert_eq!(stats["publisher_identifiers"], json!({PUBLISHER: 2}));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_rotated_refresh_token_stays_valid_and_exchanges_may_overlap() {
    // Each token request at Contoso takes a while, so two sent together overlap.
    let mut tenants = tenants();
    tenants.as_array_mut().unwrap().truncate(2);
    let sandbox = sandbox_with(
        tenants,
        json!({
            "partner": {"tenant_id": PARTNER, "client_id": APP, "users": [{"upn": TECH}],
                        "customers": [CONTOSO, FABRIKAM]},
            "faults": {"slow_ms": 300, "script": [
                {"endpoint": "token", "tenant_id": CONTOSO, "fault": "slow", "count": 2}
            ]}
        }),
    )
    .await;
    let api = Api::new(&sandbox);
    let first = sign_in(&api).await;
    let (a, b) = tokio::join!(
        refresh(&api, CONTOSO, &first, GRAPH),
        refresh(&api, CONTOSO, &first, MANAGE)
    );
    let (a, b) = (ok_json(a).await, ok_json(b).await);
    assert_ne!(a["refresh_token"], b["refresh_token"]);
    assert_eq!(api.stats().await["token_requests_peak_in_flight"], 2);
    // The redeemed token keeps working, and so do the ones it was replaced by.
    let (_, second) = delegated(&api, FABRIKAM, &first, GRAPH).await;
    assert_ne!(first, second);
    delegated(&api, FABRIKAM, &first, GRAPH).await;
    let (_, third) = delegated(&api, FABRIKAM, &second, GRAPH).await;
    let garbage = refresh(&api, FABRIKAM, "not-a-refresh-token", GRAPH).await;
    bad_request(garbage, "invalid_grant", 9002313).await;
    let bad_scope = refresh(&api, FABRIKAM, &third, "User.Read").await;
    bad_request(bad_scope, "invalid_scope", 70011).await;
    delegated(&api, FABRIKAM, &third, GRAPH).await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn revoked_refresh_tokens_fail_with_50173() {
    let (sandbox, api, rt) = signed_in(json!({})).await;
    let (_, rt) = delegated(&api, CONTOSO, &rt, MANAGE).await;
    let state: Value = control(&api, Method::POST, "revoke", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(state["tokens_valid_from"].is_string());
    let d = bad_request(
        refresh(&api, CONTOSO, &rt, MANAGE).await,
        "invalid_grant",
        50173,
    )
    .await;
    assert!(
        d.contains("The provided grant has expired due to it being revoked"),
        "{d}"
    );
    assert!(d.contains("TokensValidFrom"), "{d}");
    // Signing in again gives a working token.
    let rt = sign_in(&api).await;
    delegated(&api, CONTOSO, &rt, MANAGE).await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn expired_refresh_tokens_fail_with_700082() {
    let (sandbox, api, rt) = signed_in(json!({"refresh_token_lifetime_s": 1})).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let d = bad_request(
        refresh(&api, CONTOSO, &rt, GRAPH).await,
        "invalid_grant",
        700082,
    )
    .await;
    assert!(d.contains("was inactive for 00:00:01."), "{d}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn customers_without_consent_or_relationship_are_refused() {
    let (sandbox, api, rt) = signed_in(json!({})).await;
    api.update_tenant(FABRIKAM, json!({"consented": false}))
        .await;
    let d = bad_request(
        refresh(&api, FABRIKAM, &rt, GRAPH).await,
        "invalid_grant",
        65001,
    )
    .await;
    assert!(
        d.contains(&format!(
            "has not consented to use the application with ID '{APP}' named 'Rulewatch'"
        )),
        "{d}"
    );
    let (_, rt) = delegated(&api, CONTOSO, &rt, GRAPH).await;
    let d = bad_request(
        refresh(&api, NORTHWIND, &rt, GRAPH).await,
        "invalid_grant",
        50020,
    )
    .await;
    assert!(d.contains(&format!("User account '{TECH}'")), "{d}");
    assert!(d.contains("does not exist in tenant 'Northwind'"), "{d}");
    let unknown = refresh(&api, "00000000-1111-4222-8333-000000000000", &rt, GRAPH).await;
    bad_request(unknown, "invalid_request", 90002).await;
    let wrong_app = refresh_as(&api, CLIENT_ID, CONTOSO, &rt, GRAPH).await;
    bad_request(wrong_app, "unauthorized_client", 700016).await;
    // A removed customer is refused from then on.
    let removed = control(&api, Method::DELETE, &format!("customers/{CONTOSO}"), None).await;
    assert_eq!(removed.status(), StatusCode::OK);
    let refused = refresh(&api, CONTOSO, &rt, GRAPH).await;
    bad_request(refused, "invalid_grant", 50020).await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn missing_gdap_roles_forbid_changes_but_not_reads() {
    let (sandbox, api, rt) = signed_in(json!({"gdap_roles": {CONTOSO: ["Security Reader"]}})).await;
    let (graph, rt) = delegated(&api, CONTOSO, &rt, GRAPH).await;
    assert_eq!(
        api.graph_get(&graph, "users/adele@contoso.com")
            .await
            .status(),
        StatusCode::OK
    );
    let patch = |token: String| {
        let api = &api;
        async move {
            let body = json!({"accountEnabled": false});
            api.graph(Method::PATCH, &token, "users/adele@contoso.com", Some(body))
                .await
        }
    };
    let refused = patch(graph.clone()).await;
    api_error(
        refused,
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
    )
    .await;
    let (outlook, rt) = delegated(&api, CONTOSO, &rt, OUTLOOK).await;
    let exchange = |token: String| {
        let api = &api;
        async move {
            api.invoke(
                &token,
                Some("adele@contoso.com"),
                "Get-AcceptedDomain",
                json!({}),
            )
            .await
        }
    };
    let exo = exchange(outlook).await;
    assert_eq!(exo.status(), StatusCode::UNAUTHORIZED);

    // Granting the roles applies to tokens issued afterwards.
    let state: Value = control(
        &api,
        Method::POST,
        "gdap",
        Some(json!({"tenant_id": CONTOSO, "roles": ["User Administrator", "Exchange Administrator"]})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        state["gdap_roles"][CONTOSO],
        json!(["User Administrator", "Exchange Administrator"])
    );
    assert_eq!(patch(graph).await.status(), StatusCode::FORBIDDEN);
    let (graph, rt) = delegated(&api, CONTOSO, &rt, GRAPH).await;
    assert_eq!(patch(graph).await.status(), StatusCode::NO_CONTENT);
    let (outlook, _) = delegated(&api, CONTOSO, &rt, OUTLOOK).await;
    let exo = exchange(outlook).await;
    assert_eq!(exo.status(), StatusCode::OK);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn delegated_admin_customers_lists_customers_and_additions() {
    let (sandbox, api, rt) = signed_in(json!({})).await;
    let (home, rt) = delegated(&api, PARTNER, &rt, GRAPH).await;
    let listed = |token: String| {
        let api = &api;
        async move {
            api.graph_get(&token, "tenantRelationships/delegatedAdminCustomers")
                .await
        }
    };
    let body = ok_json(listed(home.clone()).await).await;
    assert_eq!(
        body,
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#tenantRelationships/delegatedAdminCustomers",
            "value": [
                {"@odata.type": "#microsoft.graph.delegatedAdminCustomer", "id": CONTOSO, "tenantId": CONTOSO,
                 "displayName": "Contoso"},
                {"@odata.type": "#microsoft.graph.delegatedAdminCustomer", "id": FABRIKAM, "tenantId": FABRIKAM,
                 "displayName": "Fabrikam"}
            ]
        })
    );
    // A partner-tenant token reads nothing of a customer's.
    assert_eq!(
        api.graph_get(&home, "domains").await.status(),
        StatusCode::FORBIDDEN
    );
    // Each customer's relationship names its GDAP roles by role template id.
    let relationships = ok_json(
        api.graph_get(&home, "tenantRelationships/delegatedAdminRelationships")
            .await,
    )
    .await;
    let contoso = relationships["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["customer"]["tenantId"] == CONTOSO)
        .unwrap();
    assert_eq!(contoso["status"], "active");
    let roles: Vec<&str> = contoso["accessDetails"]["unifiedRoles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["roleDefinitionId"].as_str().unwrap())
        .collect();
    assert!(
        roles.contains(&"29232cdf-9323-42fd-ade2-1d097af3e4de"),
        "Exchange Administrator: {roles:?}"
    );

    let added = control(
        &api,
        Method::POST,
        "customers",
        Some(json!({"tenant_id": NORTHWIND})),
    )
    .await;
    assert_eq!(added.status(), StatusCode::OK);
    let body = ok_json(listed(home.clone()).await).await;
    let ids: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tenantId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [CONTOSO, FABRIKAM, NORTHWIND]);
    // The new customer's tokens work at once.
    let (_, rt) = delegated(&api, NORTHWIND, &rt, GRAPH).await;

    let unknown = control(
        &api,
        Method::POST,
        "customers",
        Some(json!({"tenant_id": PARTNER})),
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // Customer-tenant and app-only tokens are refused, a manage token is for another API.
    let (customer, _) = delegated(&api, CONTOSO, &rt, GRAPH).await;
    assert_eq!(listed(customer).await.status(), StatusCode::FORBIDDEN);
    let app_only = api.token(CONTOSO, GRAPH).await;
    assert_eq!(listed(app_only).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        listed("garbage".into()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.stats().await["requests"]["customers"],
        6,
        "five customer listings and one of relationships"
    );
    sandbox.shutdown().await;
}

async fn device_code_response(api: &Api, client_id: &str, scope: &str) -> Response {
    api.http
        .post(format!("{}/{PARTNER}/oauth2/v2.0/devicecode", api.base))
        .form(&[("client_id", client_id), ("scope", scope)])
        .send()
        .await
        .unwrap()
}

async fn device_code(api: &Api, scope: &str) -> Value {
    ok_json(device_code_response(api, APP, scope).await).await
}

async fn poll(api: &Api, device_code: &str) -> Response {
    api.token_response(
        PARTNER,
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", APP),
            ("device_code", device_code),
        ],
    )
    .await
}

async fn device_login(api: &Api, user_code: &str) -> Response {
    api.http
        .get(format!("{}/devicelogin", api.base))
        .query(&[("user_code", user_code)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn device_code_flow_pends_until_approved() {
    let sandbox = partner_sandbox(json!({"device_interval_s": 2})).await;
    let api = Api::new(&sandbox);
    let flow = device_code(
        &api,
        "https://graph.microsoft.com/.default offline_access openid profile",
    )
    .await;
    let user_code = flow["user_code"].as_str().unwrap();
    let device = flow["device_code"].as_str().unwrap();
    let uri = format!("{}/devicelogin", api.base);
    assert_eq!(flow["verification_uri"], uri);
    assert_eq!(flow["expires_in"], 900);
    assert_eq!(flow["interval"], 2);
    assert_eq!(
        flow["message"],
        format!(
            "To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."
        )
    );

    let d = bad_request(poll(&api, device).await, "authorization_pending", 70016).await;
    assert!(d.contains("Authorization is pending"), "{d}");
    assert_eq!(
        device_login(&api, "NOTACODE1").await.status(),
        StatusCode::BAD_REQUEST
    );
    let page = device_login(&api, user_code).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Rulewatch"));

    let body = ok_json(poll(&api, device).await).await;
    assert_eq!(id_claims(&body)["preferred_username"], TECH);
    let rt = body["refresh_token"].as_str().unwrap();
    delegated(&api, CONTOSO, rt, MANAGE).await;
    // A device code gives tokens once.
    bad_request(poll(&api, device).await, "invalid_grant", 9002313).await;
    let stats = api.stats().await;
    assert_eq!(stats["requests"]["device_code"], 1);
    assert_eq!(stats["token_grants"]["device_code"], 3);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn device_codes_expire() {
    let sandbox = partner_sandbox(json!({"device_code_lifetime_s": 1})).await;
    let api = Api::new(&sandbox);
    let flow = device_code(&api, GRAPH).await;
    assert_eq!(flow["expires_in"], 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let d = bad_request(
        poll(&api, flow["device_code"].as_str().unwrap()).await,
        "expired_token",
        70020,
    )
    .await;
    assert!(d.contains("This device code has expired."), "{d}");
    // Too late to approve as well.
    assert_eq!(
        device_login(&api, flow["user_code"].as_str().unwrap())
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let wrong_app = device_code_response(&api, CLIENT_ID, GRAPH).await;
    bad_request(wrong_app, "unauthorized_client", 700016).await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_declined_device_code_ends_the_polling() {
    let sandbox = partner_sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    let flow = device_code(&api, &format!("{GRAPH} offline_access")).await;
    let (user_code, device) = (
        flow["user_code"].as_str().unwrap(),
        flow["device_code"].as_str().unwrap(),
    );
    let declined = api
        .http
        .get(format!("{}/devicelogin", api.base))
        .query(&[("user_code", user_code), ("decline", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(declined.status(), StatusCode::OK);
    assert!(declined.text().await.unwrap().contains("declined"));
    let d = bad_request(poll(&api, device).await, "authorization_declined", 70000).await;
    assert!(d.contains("declined the authorization request"), "{d}");
    // Answered once: approving afterwards does not turn it into a sign-in.
    assert_eq!(
        device_login(&api, user_code).await.status(),
        StatusCode::BAD_REQUEST
    );
    bad_request(poll(&api, device).await, "authorization_declined", 70000).await;

    // Without openid the approved device code gives no ID token.
    let flow = device_code(&api, GRAPH).await;
    device_login(&api, flow["user_code"].as_str().unwrap()).await;
    let body = ok_json(poll(&api, flow["device_code"].as_str().unwrap()).await).await;
    assert!(body.get("id_token").is_none(), "{body}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn faults_reach_the_partner_endpoints() {
    let (sandbox, api, rt) = signed_in(json!({})).await;
    let (home, _) = delegated(&api, PARTNER, &rt, GRAPH).await;
    sandbox.shutdown().await;

    // A fresh sandbox with scripted faults; the token above is no longer known there.
    let mut tenants = tenants();
    tenants.as_array_mut().unwrap().truncate(1);
    let sandbox = sandbox_with(
        tenants.clone(),
        json!({
            "partner": {"tenant_id": PARTNER, "client_id": APP, "users": [{"upn": TECH}], "customers": [CONTOSO]},
            "faults": {"script": [
                {"endpoint": "device_code", "fault": "throttle", "count": 1},
                {"endpoint": "customers", "fault": "server_error", "count": 1}
            ]}
        }),
    )
    .await;
    let api = Api::new(&sandbox);
    let throttled = device_code_response(&api, APP, GRAPH).await;
    assert!(throttled.headers().contains_key("retry-after"));
    entra(
        throttled,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        90055,
    )
    .await;
    device_code(&api, GRAPH).await;
    let failed = api
        .graph_get(&home, "tenantRelationships/delegatedAdminCustomers")
        .await;
    api_error(
        failed,
        StatusCode::INTERNAL_SERVER_ERROR,
        "generalException",
    )
    .await;
    let stats = api.stats().await;
    assert_eq!(stats["faults"]["throttle"], 1);
    assert_eq!(stats["faults"]["server_error"], 1);

    // Scenario validation covers the partner.
    let bad = json!({"tenants": tenants, "partner": {"tenant_id": PARTNER, "client_id": APP,
                      "users": [{"upn": TECH}], "customers": [NORTHWIND]}});
    let err = m365_sandbox::Scenario::from_json(&bad.to_string()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("scenario field `partner.customers[0]`: no tenant `{NORTHWIND}`")
    );
    sandbox.shutdown().await;
}

/// ../shared/reference/m365-api.md §G 5: in delegated mode a password change needs `Directory.AccessAsUser.All`
/// (or `User-PasswordProfile.ReadWrite.All`) in the token's `scp`, and so does changing
/// `accountEnabled` of a privileged user; Graph answers 403 without it.
#[tokio::test]
async fn delegated_password_resets_and_privileged_users_need_directory_access_as_user() {
    let without = json!([
        "ActivityFeed.Read",
        "Domain.Read.All",
        "User.ReadWrite.All",
        "Exchange.Manage"
    ]);
    let password_only = json!(["User.ReadWrite.All", "User-PasswordProfile.ReadWrite.All"]);
    for (scopes, password, privileged) in [
        (Some(without), false, false),
        (Some(password_only), true, false),
        (None, true, true),
    ] {
        let mut tenants = tenants();
        tenants[0]["users"][0]["directory_roles"] = json!(["Global Administrator"]);
        let mut partner = json!({"tenant_id": PARTNER, "client_id": APP, "users": [{"upn": TECH}], "customers": [CONTOSO]});
        if let Some(scopes) = &scopes {
            partner["delegated_scopes"] = scopes.clone();
        }
        let sandbox = sandbox_with(tenants, json!({"partner": partner})).await;
        let api = Api::new(&sandbox);
        let rt = sign_in(&api).await;
        let (graph, _) = delegated(&api, CONTOSO, &rt, GRAPH).await;
        let patch = |user: &'static str, body: Value| {
            let (api, graph) = (&api, &graph);
            async move {
                api.graph(Method::PATCH, graph, &format!("users/{user}"), Some(body))
                    .await
            }
        };
        let expect = |allowed: bool| {
            if allowed {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::FORBIDDEN
            }
        };
        let reset = json!({"passwordProfile": {"password": "Tr0ub4dor&3-horse", "forceChangePasswordNextSignIn": true}});
        let answered = patch("megan@contoso.com", reset).await;
        assert_eq!(answered.status(), expect(password), "{scopes:?}");
        if !password {
            api_error(
                answered,
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
            )
            .await;
        }
        let block = json!({"accountEnabled": false});
        assert_eq!(
            patch("megan@contoso.com", block.clone()).await.status(),
            StatusCode::NO_CONTENT,
            "not privileged"
        );
        let admin = patch("adele@contoso.com", block).await;
        assert_eq!(admin.status(), expect(privileged), "{scopes:?}");
        if !privileged {
            let message =
                api_error(admin, StatusCode::FORBIDDEN, "Authorization_RequestDenied").await;
            assert_eq!(
                message,
                "Insufficient privileges to complete the operation."
            );
        }
        sandbox.shutdown().await;
    }
}
