//! Each injected fault, random and scripted, seen from the client.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

/// The Exchange blobs listed for Contoso in the hour around now.
async fn listing(api: &Api, token: &str) -> reqwest::Response {
    let (start, end) = around_now();
    let q = [
        ("contentType", "Audit.Exchange"),
        ("startTime", start.as_str()),
        ("endTime", end.as_str()),
    ];
    api.feed(token, CONTOSO, "subscriptions/content", &q).await
}

#[tokio::test]
async fn throttling_alternates_429_with_retry_after_and_403_without() {
    let sandbox = sandbox(json!({"faults": {"throttle": 1.0, "retry_after_s": 7}})).await;
    let api = Api::new(&sandbox);
    // The token endpoint is not throttled by the random fault.
    let token = api.token(CONTOSO, MANAGE).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = api.feed(&token, CONTOSO, "subscriptions/list", &[]).await;
        statuses.push(response.status());
        // AF429 on 403 comes without Retry-After (../shared/reference/m365-api.md §G 14).
        let retry_after = response.headers().get("retry-after").cloned();
        match response.status() {
            StatusCode::FORBIDDEN => assert_eq!(retry_after, None),
            _ => assert_eq!(retry_after.unwrap(), "7"),
        }
        let m = af_error_any(response, "AF429").await;
        assert_eq!(
            m,
            format!("Too many requests. Method=GET, PublisherId={PUBLISHER}")
        );
    }
    assert_eq!(
        statuses,
        [
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::FORBIDDEN,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::FORBIDDEN
        ]
    );
    let graph = api.token(CONTOSO, GRAPH).await;
    let response = api
        .http
        .get(format!("{}/v1.0/domains", api.base))
        .bearer_auth(&graph)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "TooManyRequests"
    );
    assert_eq!(api.stats().await["faults"]["throttle"], 5);
    sandbox.shutdown().await;
}

async fn af_error_any(response: reqwest::Response, code: &str) -> String {
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn server_errors_alternate_500_and_503_without_retry_after() {
    let sandbox = sandbox(json!({"faults": {"server_error": 1.0}})).await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, MANAGE).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = listing(&api, &token).await;
        statuses.push(response.status());
        assert!(response.headers().get("retry-after").is_none());
        af_error_any(response, "AF50000").await;
    }
    assert_eq!(
        statuses,
        [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::INTERNAL_SERVER_ERROR
        ]
    );
    assert_eq!(api.stats().await["faults"]["server_error"], 3);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn truncated_bodies_fail_to_parse_but_the_blob_stays_right() {
    let records = vec![planted(CONTOSO, "kept", 0)];
    let scripted = json!({"records": records, "faults": {"script": [
        {"endpoint": "content", "fault": "truncated_body", "count": 1},
        {"endpoint": "blob", "fault": "truncated_body", "count": 1}]}});
    let sandbox = sandbox(scripted).await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, MANAGE).await;
    let cut = listing(&api, &token).await;
    assert_eq!(cut.status(), StatusCode::OK);
    let length: usize = cut.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let text = cut.text().await.unwrap();
    assert_eq!(text.len(), length);
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    let listed: Vec<Value> = listing(&api, &token).await.json().await.unwrap();
    assert!(text.len() * 2 <= serde_json::to_string(&listed).unwrap().len() + 1);
    let uri = listed[0]["contentUri"].as_str().unwrap();
    let cut = api.blob(&token, uri).await.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&cut).is_err());
    let whole: Vec<Value> = api.blob(&token, uri).await.json().await.unwrap();
    assert_eq!(whole[0]["Id"], "kept");
    assert_eq!(api.stats().await["faults"]["truncated_body"], 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn cut_connections_fail_mid_body() {
    let sandbox =
        sandbox(json!({"records": [planted(CONTOSO, "r", 0)], "faults": {"cut_connection": 1.0}}))
            .await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, MANAGE).await;
    for _ in 0..2 {
        let response = listing(&api, &token).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "status and headers arrive"
        );
        assert!(response.bytes().await.is_err(), "the body does not");
    }
    assert_eq!(api.stats().await["faults"]["cut_connection"], 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn slow_answers_are_delayed() {
    let sandbox = sandbox(json!({"faults": {"slow": 1.0, "slow_ms": 400}})).await;
    let api = Api::new(&sandbox);
    let began = Instant::now();
    let token = api.token(CONTOSO, MANAGE).await;
    assert!(began.elapsed() >= Duration::from_millis(400));
    let began = Instant::now();
    assert_eq!(listing(&api, &token).await.status(), StatusCode::OK);
    assert!(began.elapsed() >= Duration::from_millis(400));
    assert_eq!(api.stats().await["faults"]["slow"], 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn every_answer_takes_the_network_s_round_trip_with_its_jitter() {
    let sandbox =
        sandbox(json!({"faults": {"latency_ms": 120, "latency_jitter_ms": 60, "seed": 4}})).await;
    let api = Api::new(&sandbox);
    let began = Instant::now();
    let token = api.token(CONTOSO, MANAGE).await;
    let mut took = vec![began.elapsed()];
    for _ in 0..6 {
        let began = Instant::now();
        assert_eq!(listing(&api, &token).await.status(), StatusCode::OK);
        took.push(began.elapsed());
    }
    assert!(
        took.iter().all(|t| *t >= Duration::from_millis(120)),
        "{took:?}"
    );
    // The jitter is drawn per request: not every answer takes the same time.
    let spread = took
        .iter()
        .max()
        .unwrap()
        .saturating_sub(*took.iter().min().unwrap());
    assert!(spread >= Duration::from_millis(5), "{took:?}");
    // Latency is the network, not a fault.
    assert_eq!(api.stats().await["faults"]["slow"], 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn over_the_minute_s_quota_the_management_api_answers_af429_on_403_per_tenant() {
    let sandbox = sandbox(json!({"faults": {"quota_per_minute": 3}})).await;
    let api = Api::new(&sandbox);
    let contoso = api.token(CONTOSO, MANAGE).await;
    let fabrikam = api.token(FABRIKAM, MANAGE).await;
    for _ in 0..3 {
        assert_eq!(listing(&api, &contoso).await.status(), StatusCode::OK);
    }
    let refused = listing(&api, &contoso).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.headers().get("retry-after"), None);
    assert_eq!(
        af_error_any(refused, "AF429").await,
        format!("Too many requests. Method=GET, PublisherId={PUBLISHER}")
    );
    // A refused request counts too: the pool stays full.
    assert_eq!(
        listing(&api, &contoso).await.status(),
        StatusCode::FORBIDDEN
    );
    // Each tenant has its own quota.
    let q = [("contentType", "Audit.Exchange")];
    assert_eq!(
        api.feed(&fabrikam, FABRIKAM, "subscriptions/list", &q)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(api.stats().await["faults"]["over_quota"], 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn scripted_faults_hit_the_first_matching_requests_only() {
    let script = json!([
        {"endpoint": "token", "tenant_id": FABRIKAM, "fault": "throttle", "count": 1},
        {"endpoint": "blob", "fault": "expired", "count": 1},
        {"endpoint": "any", "tenant_id": CONTOSO, "fault": "throttle", "count": 1},
        {"endpoint": "subscriptions", "fault": "server_error", "count": 2},
        {"endpoint": "content", "fault": "throttle_af429", "count": 1}
    ]);
    let sandbox = sandbox(json!({"records": [planted(CONTOSO, "r", 0)], "faults": {"script": script, "throttle": 0.0}})).await;
    let api = Api::new(&sandbox);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", SECRET),
        ("scope", MANAGE),
    ];

    // Contoso's first request of any kind is throttled: a token request, so Entra-style.
    let throttled = api.token_response(CONTOSO, &form).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let token = api.token(CONTOSO, MANAGE).await;

    let throttled = api.token_response(FABRIKAM, &form).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.headers()["retry-after"], "1");
    assert_eq!(
        throttled.json::<Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );
    assert_eq!(
        api.token_response(FABRIKAM, &form).await.status(),
        StatusCode::OK
    );

    for expected in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::OK,
    ] {
        assert_eq!(
            api.feed(&token, CONTOSO, "subscriptions/list", &[])
                .await
                .status(),
            expected
        );
    }

    let throttled = listing(&api, &token).await;
    assert_eq!(throttled.status(), StatusCode::FORBIDDEN);
    af_error_any(throttled, "AF429").await;
    let listed: Vec<Value> = listing(&api, &token).await.json().await.unwrap();
    let uri = listed[0]["contentUri"].as_str().unwrap();
    let expired = api.blob(&token, uri).await;
    assert_eq!(expired.status(), StatusCode::BAD_REQUEST);
    af_error_any(expired, "AF20051").await;
    let records: Vec<Value> = api.blob(&token, uri).await.json().await.unwrap();
    assert_eq!(records[0]["Id"], "r");

    let faults = api.stats().await["faults"].clone();
    assert_eq!(
        faults,
        json!({"throttle": 3, "server_error": 2, "truncated_body": 0, "cut_connection": 0, "slow": 0, "expired": 1, "subscription_stopped": 0, "hostile": 0, "over_quota": 0})
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn random_faults_follow_the_seed() {
    let statuses = |seed: u64| async move {
        let sandbox =
            sandbox(json!({"faults": {"throttle": 0.3, "server_error": 0.3, "seed": seed}})).await;
        let api = Api::new(&sandbox);
        let token = api.token(CONTOSO, MANAGE).await;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(
                api.feed(&token, CONTOSO, "subscriptions/list", &[])
                    .await
                    .status()
                    .as_u16(),
            );
        }
        sandbox.shutdown().await;
        statuses
    };
    let first = statuses(11).await;
    assert_eq!(first, statuses(11).await);
    assert!(
        first.contains(&200) && first.iter().any(|s| *s != 200),
        "{first:?}"
    );
}

#[tokio::test]
async fn duplicate_records_reappear_in_a_later_blob() {
    let records = [planted(CONTOSO, "twice", 0), planted(CONTOSO, "anchor", 1)];
    let sandbox = sandbox(json!({"records": records, "faults": {"duplicate_records": 1.0}})).await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, MANAGE).await;
    // The copy goes into the next blob, released a second after start.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut seen = Vec::new();
    let listed: Vec<Value> = listing(&api, &token).await.json().await.unwrap();
    for blob in &listed {
        let records: Vec<Value> = api
            .records(&token, blob["contentUri"].as_str().unwrap())
            .await;
        seen.extend(
            records
                .into_iter()
                .filter(|r| r["Id"] == "twice")
                .map(|r| (blob["contentId"].clone(), r)),
        );
    }
    assert_eq!(seen.len(), 2, "the record is served twice");
    assert_ne!(seen[0].0, seen[1].0, "from two different blobs");
    assert_eq!(seen[0].1, seen[1].1, "as the same record");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn late_blobs_appear_inside_an_already_read_window() {
    let sandbox = sandbox(json!({"records": [planted(CONTOSO, "late", 0)], "faults": {"late_blobs": 1.0, "late_delay_s": 1}})).await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, MANAGE).await;
    let before: Vec<Value> = listing(&api, &token).await.json().await.unwrap();
    assert!(before.is_empty(), "not listable yet");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let after: Vec<Value> = listing(&api, &token).await.json().await.unwrap();
    assert_eq!(after.len(), 1);
    let created =
        chrono::DateTime::parse_from_rfc3339(after[0]["contentCreated"].as_str().unwrap()).unwrap();
    assert!(
        chrono::Utc::now().signed_duration_since(created) >= chrono::Duration::seconds(1),
        "contentCreated is unchanged"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn hostile_network_faults_point_elsewhere_and_the_recorder_keeps_what_it_got() {
    let sandbox = sandbox(
        json!({"records": [planted(CONTOSO, "r", 0)], "faults": {"huge_body_mb": 2, "script": [
            {"endpoint": "token", "fault": "redirect_elsewhere", "count": 1},
            {"endpoint": "content", "fault": "foreign_links", "count": 1},
            {"endpoint": "blob", "fault": "huge_body", "count": 1},
        ]}}),
    )
    .await;
    let api = Api::new(&sandbox);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_secret", SECRET),
    ];
    let token_url = format!("{}/{CONTOSO}/oauth2/v2.0/token", api.base);
    let redirected = no_redirects
        .post(&token_url)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(redirected.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = redirected.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let control: Value = api
        .http
        .get(format!("{}/_sandbox/elsewhere", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let elsewhere = control["url"].as_str().unwrap().to_string();
    assert_ne!(elsewhere, api.base);
    assert_eq!(location, format!("{elsewhere}/{CONTOSO}/oauth2/v2.0/token"));
    // A client that follows the 307 re-sends the form: the recorder keeps it.
    no_redirects
        .post(&location)
        .bearer_auth("tok")
        .form(&form)
        .send()
        .await
        .unwrap();
    let control: Value = api
        .http
        .get(format!("{}/_sandbox/elsewhere", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let got = &control["received"][0];
    assert_eq!(got["method"], "POST");
    assert_eq!(got["authorization"], "Bearer tok");
    let form: Vec<(String, String)> =
        url::form_urlencoded::parse(got["body"].as_str().unwrap().as_bytes())
            .into_owned()
            .collect();
    assert!(
        form.contains(&("client_secret".to_string(), SECRET.to_string())),
        "{got}"
    );

    let token = api.token(CONTOSO, MANAGE).await;
    let listed: Value = listing(&api, &token).await.json().await.unwrap();
    let uri = listed[0]["contentUri"].as_str().unwrap();
    assert!(uri.starts_with(&elsewhere), "{uri}");
    let honest: Value = listing(&api, &token).await.json().await.unwrap();
    let uri = honest[0]["contentUri"].as_str().unwrap();
    assert!(uri.starts_with(&api.base), "{uri}");

    let huge = api.blob(&token, uri).await;
    assert_eq!(huge.status(), StatusCode::OK);
    assert!(huge.headers().get("content-length").is_none());
    assert!(huge.bytes().await.unwrap().len() >= 2 << 20);
}
