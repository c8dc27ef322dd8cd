//! Graph's domain list and the sandbox's own control endpoints.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn domains_come_from_the_tokens_tenant() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, GRAPH).await;
    let response = api.graph_get(&token, "domains").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#domains"
    );
    assert_eq!(
        body["value"],
        json!([
            {"id": "contoso.com", "authenticationType": "Managed", "isDefault": true, "isInitial": false,
             "isRoot": true, "isVerified": true, "supportedServices": ["Email"]},
            {"id": "contoso.onmicrosoft.com", "authenticationType": "Managed", "isDefault": false, "isInitial": true,
             "isRoot": true, "isVerified": true, "supportedServices": ["Email"]}
        ])
    );
    let fabrikam: Value = api
        .graph_get(&api.token(FABRIKAM, GRAPH).await, "domains")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fabrikam["value"][0]["id"], "fabrikam.onmicrosoft.com");
    assert_eq!(fabrikam["value"][0]["isDefault"], true);
    assert_eq!(fabrikam["value"][0]["isInitial"], true);

    let manage = api.token(CONTOSO, MANAGE).await;
    let wrong_audience = api.graph_get(&manage, "domains").await;
    api_error(
        wrong_audience,
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
    )
    .await;
    // No bearer token at all.
    assert_eq!(
        api.http
            .get(format!("{}/v1.0/domains", api.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );

    api.update_tenant(CONTOSO, json!({"roles": ["ActivityFeed.Read"]}))
        .await;
    let weak = api.token(CONTOSO, GRAPH).await;
    let denied = api.graph_get(&weak, "domains").await;
    let message = api_error(denied, StatusCode::FORBIDDEN, "Authorization_RequestDenied").await;
    assert_eq!(
        message,
        "Insufficient privileges to complete the operation."
    );
    // A token issued before the change keeps the roles it was issued with.
    assert_eq!(
        api.graph_get(&token, "domains").await.status(),
        StatusCode::OK
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn stats_count_requests_by_endpoint() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    let empty = api.stats().await;
    assert_eq!(
        empty,
        json!({"requests": {"token": 0, "subscriptions": 0, "content": 0, "blob": 0, "domains": 0,
                            "users": 0, "invoke_command": 0, "authorize": 0, "device_code": 0,
                            "device_login": 0, "customers": 0},
               "token_grants": {"client_credentials": 0, "authorization_code": 0, "refresh_token": 0,
                                "device_code": 0},
               "faults": {"throttle": 0, "server_error": 0, "truncated_body": 0, "cut_connection": 0, "slow": 0, "expired": 0, "subscription_stopped": 0, "hostile": 0, "over_quota": 0},
               "missing_publisher_identifier": 0, "publisher_identifiers": {}, "tokens_issued": 0,
               "subscriptions_started": 0, "token_requests_peak_in_flight": 0,
               "listings_peak_in_flight_per_tenant": 0, "blob_reads_peak_per_blob": 0,
               "ipstack": {"requests": 0, "answered": 0}})
    );
    let manage = api.token(CONTOSO, MANAGE).await;
    let graph = api.token(CONTOSO, GRAPH).await;
    api.start_subscription(&manage, CONTOSO, "Audit.Exchange")
        .await;
    api.feed(&manage, CONTOSO, "subscriptions/list", &[]).await;
    api.feed(
        &manage,
        CONTOSO,
        "subscriptions/content",
        &[("contentType", "Audit.Exchange")],
    )
    .await;
    api.graph_get(&graph, "domains").await;
    let stats = api.stats().await;
    assert_eq!(
        stats["requests"],
        json!({"token": 2, "subscriptions": 2, "content": 1, "blob": 0, "domains": 1,
               "users": 0, "invoke_command": 0, "authorize": 0, "device_code": 0,
               "device_login": 0, "customers": 0})
    );
    assert_eq!(stats["token_grants"]["client_credentials"], 2);
    assert_eq!(stats["tokens_issued"], 2);
    assert_eq!(stats["subscriptions_started"], 1);
    assert_eq!(
        stats["listings_peak_in_flight_per_tenant"], 1,
        "one listing, answered alone"
    );

    let unknown = api
        .update_tenant(
            "00000000-0000-4000-8000-000000000000",
            json!({"audit_enabled": false}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let changed = api
        .update_tenant(FABRIKAM, json!({"subscription": "disabled"}))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        changed.json::<Value>().await.unwrap()["subscriptions"]["Audit.Exchange"],
        "disabled"
    );
    let typo = api
        .update_tenant(FABRIKAM, json!({"audit_enabledd": false}))
        .await;
    assert!(typo.status().is_client_error());
    sandbox.shutdown().await;
}
