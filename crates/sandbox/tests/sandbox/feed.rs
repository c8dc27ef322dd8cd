//! The Management Activity API: authorization, subscriptions, content listing and blobs.

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

fn parse_content_time(text: &str) -> DateTime<Utc> {
    assert_eq!(text.len(), 24, "{text} has milliseconds and Z");
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3fZ")
        .unwrap()
        .and_utc()
}

#[tokio::test]
async fn feed_calls_need_a_manage_token_for_the_tenant_and_a_publisher_id() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    let list_url = format!(
        "{}/api/v1.0/{CONTOSO}/activity/feed/subscriptions/list?PublisherIdentifier={PUBLISHER}",
        api.base
    );

    let anonymous = api.http.get(&list_url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        anonymous.json::<Value>().await.unwrap()["Message"],
        "Authorization has been denied for this request."
    );
    let made_up = api
        .http
        .get(&list_url)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(made_up.status(), StatusCode::UNAUTHORIZED);
    // A token for another resource: the empty permission set of §G 3.
    let graph = api.token(CONTOSO, GRAPH).await;
    let m = api_error(
        api.feed(&graph, CONTOSO, "subscriptions/list", &[]).await,
        StatusCode::UNAUTHORIZED,
        "AF10001",
    )
    .await;
    assert!(m.starts_with("The permission set () "), "{m}");

    let token = api.token(CONTOSO, MANAGE).await;
    let m = api_error(
        api.feed(&token, FABRIKAM, "subscriptions/list", &[]).await,
        StatusCode::UNAUTHORIZED,
        "AF20010",
    )
    .await;
    assert!(m.contains(FABRIKAM) && m.contains(CONTOSO), "{m}");
    api_error(
        api.feed(&token, "contoso", "subscriptions/list", &[]).await,
        StatusCode::BAD_REQUEST,
        "AF20013",
    )
    .await;

    let no_publisher = api
        .http
        .get(list_url.split('?').next().unwrap())
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let m = api_error(no_publisher, StatusCode::BAD_REQUEST, "AF20001").await;
    assert!(m.contains("PublisherIdentifier"), "{m}");
    assert_eq!(api.stats().await["missing_publisher_identifier"], 1);

    api.update_tenant(CONTOSO, json!({"roles": ["ActivityFeed.ReadDlp"]}))
        .await;
    let weak = api.token(CONTOSO, MANAGE).await;
    let m = api_error(
        api.feed(&weak, CONTOSO, "subscriptions/list", &[]).await,
        StatusCode::UNAUTHORIZED,
        "AF10001",
    )
    .await;
    assert_eq!(
        m,
        "The permission set (ActivityFeed.ReadDlp) sent in the request does not include the expected permission ActivityFeed.Read."
    );

    api.update_tenant(
        CONTOSO,
        json!({"roles": ["ActivityFeed.Read"], "audit_enabled": false}),
    )
    .await;
    let token = api.token(CONTOSO, MANAGE).await;
    let (start, end) = around_now();
    let query = [
        ("contentType", "Audit.Exchange"),
        ("startTime", start.as_str()),
        ("endTime", end.as_str()),
    ];
    // Without auditing there is no subscription, and starting one fails as in §G 1.
    api_error(
        api.feed(&token, CONTOSO, "subscriptions/content", &query)
            .await,
        StatusCode::BAD_REQUEST,
        "AF20022",
    )
    .await;
    let started = api
        .start_subscription(&token, CONTOSO, "Audit.Exchange")
        .await;
    assert_eq!(started.status(), StatusCode::BAD_REQUEST);
    let body: Value = started.json().await.unwrap();
    let code = body["error"]["code"].as_str().unwrap();
    assert!(
        code.starts_with("StartSubscription [CorrId=")
            && code.contains(&format!("[TenantId={CONTOSO},ContentType=Audit.Exchange,"))
            && code.ends_with("][AppId"),
        "{code}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "Microsoft.Office.Compliance.Audit.DataServiceException: Tenant {CONTOSO} does not exist.\r\n   at "
        )),
        "{message}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn tokens_expire_after_their_lifetime() {
    let sandbox = sandbox(json!({"token_lifetime_s": 1})).await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, MANAGE).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let response = api.feed(&token, CONTOSO, "subscriptions/list", &[]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let fresh = api.token(CONTOSO, MANAGE).await;
    assert_eq!(
        api.feed(&fresh, CONTOSO, "subscriptions/list", &[])
            .await
            .status(),
        StatusCode::OK
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn subscriptions_start_list_and_gate_the_content_listing() {
    let mut tenants = tenants();
    tenants[0]["subscription"] = json!("absent");
    tenants[1]["subscription"] = json!("disabled");
    let scenario =
        m365_sandbox::Scenario::from_json(&json!({"tenants": tenants}).to_string()).unwrap();
    let sandbox = m365_sandbox::start("127.0.0.1:0".parse().unwrap(), scenario)
        .await
        .unwrap();
    let api = Api::new(&sandbox);
    let (start, end) = around_now();
    let query = [
        ("contentType", "Audit.Exchange"),
        ("startTime", start.as_str()),
        ("endTime", end.as_str()),
    ];

    let contoso = api.token(CONTOSO, MANAGE).await;
    let list = api.feed(&contoso, CONTOSO, "subscriptions/list", &[]).await;
    assert_eq!(list.json::<Value>().await.unwrap(), json!([]));
    let m = api_error(
        api.feed(&contoso, CONTOSO, "subscriptions/content", &query)
            .await,
        StatusCode::BAD_REQUEST,
        "AF20022",
    )
    .await;
    assert_eq!(m, "No subscription found for the specified content type.");
    let started = api
        .start_subscription(&contoso, CONTOSO, "Audit.Exchange")
        .await;
    assert_eq!(started.status(), StatusCode::OK);
    assert_eq!(
        started.json::<Value>().await.unwrap(),
        json!({"contentType": "Audit.Exchange", "status": "enabled", "webhook": null})
    );
    let list = api.feed(&contoso, CONTOSO, "subscriptions/list", &[]).await;
    assert_eq!(
        list.json::<Value>().await.unwrap(),
        json!([{"contentType": "Audit.Exchange", "status": "enabled", "webhook": null}])
    );
    assert_eq!(
        api.feed(&contoso, CONTOSO, "subscriptions/content", &query)
            .await
            .status(),
        StatusCode::OK
    );
    api_error(
        api.start_subscription(&contoso, CONTOSO, "Audit.Everything")
            .await,
        StatusCode::BAD_REQUEST,
        "AF20020",
    )
    .await;

    // A stopped subscription is started again (§G 2).
    let fabrikam = api.token(FABRIKAM, MANAGE).await;
    api_error(
        api.feed(&fabrikam, FABRIKAM, "subscriptions/content", &query)
            .await,
        StatusCode::BAD_REQUEST,
        "AF20023",
    )
    .await;
    let list: Value = api
        .feed(&fabrikam, FABRIKAM, "subscriptions/list", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 5);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "disabled")
    );
    let restarted = api
        .start_subscription(&fabrikam, FABRIKAM, "Audit.Exchange")
        .await;
    assert_eq!(restarted.status(), StatusCode::OK);
    assert_eq!(
        api.feed(&fabrikam, FABRIKAM, "subscriptions/content", &query)
            .await
            .status(),
        StatusCode::OK
    );

    assert_eq!(api.stats().await["subscriptions_started"], 2);
    assert_eq!(
        api.update_tenant("00000000-0000-4000-8000-000000000000", json!({}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn starting_an_enabled_subscription_is_no_change_and_starts_are_spaced() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    let contoso = api.token(CONTOSO, MANAGE).await;
    // Already enabled: "no property change" (§G 2).
    let m = api_error(
        api.start_subscription(&contoso, CONTOSO, "Audit.Exchange")
            .await,
        StatusCode::BAD_REQUEST,
        "AF20024",
    )
    .await;
    assert_eq!(
        m,
        "The subscription is already enabled. No property change."
    );
    // That start still counts: the next one within 15 minutes is refused as too frequent.
    let m = api_error(
        api.start_subscription(&contoso, CONTOSO, "Audit.Exchange")
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "AF429",
    )
    .await;
    assert!(
        m.starts_with(
            "Too many frequent subscription start requests. Please retry again after 14m "
        ),
        "{m}"
    );
    // The spacing is per tenant and content type.
    api_error(
        api.start_subscription(&contoso, CONTOSO, "Audit.General")
            .await,
        StatusCode::BAD_REQUEST,
        "AF20024",
    )
    .await;
    let fabrikam = api.token(FABRIKAM, MANAGE).await;
    api_error(
        api.start_subscription(&fabrikam, FABRIKAM, "Audit.Exchange")
            .await,
        StatusCode::BAD_REQUEST,
        "AF20024",
    )
    .await;
    assert_eq!(api.stats().await["subscriptions_started"], 3);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn content_listing_validates_its_window() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, MANAGE).await;
    let now = Utc::now();
    let day = |d: i64| (now - Duration::days(d)).format("%Y-%m-%d").to_string();
    let at = |h: i64| {
        (now - Duration::hours(h))
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let listing = |query: Vec<(&'static str, String)>| {
        let api = &api;
        let token = &token;
        async move {
            let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            api.feed(token, CONTOSO, "subscriptions/content", &query)
                .await
        }
    };
    let ct = || ("contentType", "Audit.Exchange".to_string());
    let cases: Vec<(Vec<(&'static str, String)>, &str)> = vec![
        (vec![ct(), ("startTime", at(2))], "AF20030"),
        (
            vec![ct(), ("startTime", at(30)), ("endTime", at(2))],
            "AF20030",
        ),
        (
            vec![ct(), ("startTime", day(8)), ("endTime", day(7))],
            "AF20030",
        ),
        (
            vec![ct(), ("startTime", at(1)), ("endTime", at(2))],
            "AF20055",
        ),
        (
            vec![ct(), ("startTime", at(1)), ("endTime", at(1))],
            "AF20055",
        ),
        (
            vec![ct(), ("startTime", "yesterday".into()), ("endTime", at(1))],
            "AF20002",
        ),
        (vec![("contentType", "Audit.Everything".into())], "AF20020"),
        (vec![], "AF20001"),
        (
            vec![
                ct(),
                ("startTime", at(3)),
                ("endTime", at(1)),
                ("nextPage", "12345".into()),
            ],
            "AF20031",
        ),
    ];
    for (query, code) in cases {
        api_error(listing(query).await, StatusCode::BAD_REQUEST, code).await;
    }
    let fine = [
        vec![ct()],
        vec![ct(), ("startTime", day(1)), ("endTime", day(0))],
        vec![ct(), ("startTime", at(24)), ("endTime", at(0))],
        vec![
            ct(),
            ("startTime", format!("{}:00Z", at(3))),
            ("endTime", format!("{}:59.999Z", at(1))),
        ],
        vec![
            ("contentType", "audit.exchange".into()),
            ("startTime", format!("{}:00", at(167))),
            ("endTime", at(150)),
        ],
    ];
    for query in fine {
        let response = listing(query.clone()).await;
        assert_eq!(response.status(), StatusCode::OK, "{query:?}");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn listing_shows_released_blobs_in_the_window_and_pages() {
    let records: Vec<Value> = (0..5)
        .map(|i| planted(CONTOSO, &format!("now-{i}"), 0))
        .chain([
            planted(CONTOSO, "half-hour-ago", -1800),
            planted(CONTOSO, "future", 3600),
            planted(FABRIKAM, "fabrikam", 0),
            json!({"tenant_id": CONTOSO, "content_type": "Audit.AzureActiveDirectory", "release_after_s": 0,
                   "record": {"Id": "aad", "Operation": "UserLoggedIn"}}),
        ])
        .collect();
    let sandbox = sandbox(
        json!({"records": records, "records_per_blob": 1, "page_size": 2, "rebase_times": true}),
    )
    .await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, MANAGE).await;
    let (start, end) = around_now();

    let mut query = vec![
        ("contentType", "Audit.Exchange".to_string()),
        ("startTime", start.clone()),
        ("endTime", end.clone()),
    ];
    let mut blobs = Vec::new();
    let mut pages = 0;
    loop {
        let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = api.feed(&token, CONTOSO, "subscriptions/content", &q).await;
        assert_eq!(response.status(), StatusCode::OK);
        let next = response
            .headers()
            .get("NextPageUri")
            .map(|v| v.to_str().unwrap().to_string());
        let page: Vec<Value> = response.json().await.unwrap();
        pages += 1;
        assert!(page.len() <= 2);
        blobs.extend(page);
        let Some(next) = next else { break };
        assert!(
            next.starts_with(&format!(
                "{}/api/v1.0/{CONTOSO}/activity/feed/subscriptions/content?",
                api.base
            )),
            "{next}"
        );
        let url = reqwest::Url::parse(&next).unwrap();
        query = url
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| k != "PublisherIdentifier")
            .map(|(k, v)| {
                let k: &'static str = match k.as_str() {
                    "contentType" => "contentType",
                    "startTime" => "startTime",
                    "endTime" => "endTime",
                    "nextPage" => "nextPage",
                    other => panic!("unexpected parameter {other}"),
                };
                (k, v)
            })
            .collect();
        assert!(query.iter().any(|(k, v)| *k == "startTime" && *v == start));
    }
    assert_eq!(pages, 3, "six blobs at two per page");
    assert_eq!(
        blobs.len(),
        6,
        "five at start and one half an hour before; the future one is not out yet"
    );
    let created: Vec<DateTime<Utc>> = blobs
        .iter()
        .map(|b| parse_content_time(b["contentCreated"].as_str().unwrap()))
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] <= w[1]),
        "sorted by contentCreated"
    );
    let mut ids = Vec::new();
    for blob in &blobs {
        assert_eq!(blob["contentType"], "Audit.Exchange");
        let id = blob["contentId"].as_str().unwrap();
        assert_eq!(
            blob["contentUri"],
            format!("{}/api/v1.0/{CONTOSO}/activity/feed/audit/{id}", api.base)
        );
        let created = parse_content_time(blob["contentCreated"].as_str().unwrap());
        assert_eq!(
            parse_content_time(blob["contentExpiration"].as_str().unwrap()),
            created + Duration::days(7)
        );
        let response = api.blob(&token, blob["contentUri"].as_str().unwrap()).await;
        assert_eq!(response.status(), StatusCode::OK);
        let records: Vec<Value> = response.json().await.unwrap();
        assert_eq!(records.len(), 1);
        let record = &records[0];
        assert_eq!(
            record["OrganizationId"], "00000000-0000-0000-0000-000000000000",
            "served verbatim"
        );
        let creation = NaiveDateTime::parse_from_str(
            record["CreationTime"].as_str().unwrap(),
            "%Y-%m-%dT%H:%M:%S",
        )
        .unwrap()
        .and_utc();
        assert!(
            (creation - created).num_seconds().abs() <= 1,
            "rebased to the release time"
        );
        ids.push(record["Id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids[0], "half-hour-ago");
    assert_eq!(ids[1..].iter().collect::<HashSet<_>>().len(), 5);

    // A window that ends before the blobs released at start holds only the older one.
    let early = (Utc::now() - Duration::minutes(90))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let before = (Utc::now() - Duration::minutes(20))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let q = [
        ("contentType", "Audit.Exchange"),
        ("startTime", early.as_str()),
        ("endTime", before.as_str()),
    ];
    let listed: Vec<Value> = api
        .feed(&token, CONTOSO, "subscriptions/content", &q)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);

    let q = [
        ("contentType", "Audit.AzureActiveDirectory"),
        ("startTime", start.as_str()),
        ("endTime", end.as_str()),
    ];
    let aad: Vec<Value> = api
        .feed(&token, CONTOSO, "subscriptions/content", &q)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(aad.len(), 1);
    assert_eq!(aad[0]["contentType"], "Audit.AzureActiveDirectory");

    // Another tenant's blob is not found through this tenant's feed.
    let fabrikam = api.token(FABRIKAM, MANAGE).await;
    let q = [
        ("contentType", "Audit.Exchange"),
        ("startTime", start.as_str()),
        ("endTime", end.as_str()),
    ];
    let theirs: Vec<Value> = api
        .feed(&fabrikam, FABRIKAM, "subscriptions/content", &q)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    let foreign = theirs[0]["contentUri"]
        .as_str()
        .unwrap()
        .replace(FABRIKAM, CONTOSO);
    api_error(
        api.blob(&token, &foreign).await,
        StatusCode::NOT_FOUND,
        "AF20050",
    )
    .await;
    let m = api_error(
        api.feed(
            &token,
            CONTOSO,
            "audit/20260101000000000000000$nothing",
            &[],
        )
        .await,
        StatusCode::NOT_FOUND,
        "AF20050",
    )
    .await;
    assert!(m.contains("20260101000000000000000$nothing"), "{m}");
    let stats = api.stats().await;
    assert_eq!(stats["requests"]["blob"], 8);
    assert_eq!(stats["requests"]["content"], 6);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn expired_content_and_the_other_page_header_name() {
    let mut expired = planted(CONTOSO, "gone", 0);
    expired["expired"] = json!(true);
    let records = vec![
        expired,
        planted(CONTOSO, "a", -60),
        planted(CONTOSO, "b", -30),
    ];
    let sandbox =
        sandbox(json!({"records": records, "page_size": 1, "next_page_header": "NextPageUrl"}))
            .await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, MANAGE).await;
    let (start, end) = around_now();
    let q = [
        ("contentType", "Audit.Exchange"),
        ("startTime", start.as_str()),
        ("endTime", end.as_str()),
    ];
    let first = api.feed(&token, CONTOSO, "subscriptions/content", &q).await;
    assert!(first.headers().get("NextPageUri").is_none());
    let mut next = first.headers()["NextPageUrl"].to_str().unwrap().to_string();
    let mut uris = vec![
        first.json::<Vec<Value>>().await.unwrap()[0]["contentUri"]
            .as_str()
            .unwrap()
            .to_string(),
    ];
    loop {
        let response = api
            .http
            .get(format!("{next}&PublisherIdentifier={PUBLISHER}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let following = response
            .headers()
            .get("NextPageUrl")
            .map(|v| v.to_str().unwrap().to_string());
        uris.push(
            response.json::<Vec<Value>>().await.unwrap()[0]["contentUri"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        match following {
            Some(url) => next = url,
            None => break,
        }
    }
    assert_eq!(uris.len(), 3);
    let m = api_error(
        api.blob(&token, &uris[2]).await,
        StatusCode::BAD_REQUEST,
        "AF20051",
    )
    .await;
    let id = uris[2].rsplit('/').next().unwrap();
    assert_eq!(
        m,
        format!(
            "Content requested with the key {id} has already expired. Content older than 7 days cannot be retrieved."
        )
    );
    let a: Vec<Value> = api.blob(&token, &uris[0]).await.json().await.unwrap();
    assert_eq!(a[0]["Id"], "a");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn fifty_tenants_with_five_thousand_noise_records_list_each_record_once() {
    let tenants: Vec<Value> = (0..50)
        .map(|i| {
            json!({"tenant_id": format!("{i:08x}-1111-4222-8333-944455556666"), "name": format!("Tenant {i}"),
                   "domains": [format!("t{i}.example.com"), format!("t{i}.onmicrosoft.com")],
                   "client_id": CLIENT_ID, "client_secret": SECRET,
                   "users": [{"upn": format!("a@t{i}.example.com"), "display_name": "A"},
                             {"upn": format!("b@t{i}.example.com"), "display_name": "B"}]})
        })
        .collect();
    let text = json!({"tenants": tenants, "noise": {"records_per_tenant": 5000, "seed": 7},
                      "faults": {"duplicate_records": 0.05, "late_blobs": 0.1, "seed": 3}})
    .to_string();
    let scenario = m365_sandbox::Scenario::from_json(&text).unwrap();
    let sandbox = m365_sandbox::start("127.0.0.1:0".parse().unwrap(), scenario)
        .await
        .unwrap();

    let api = Api::new(&sandbox);
    let tenant = "0000002a-1111-4222-8333-944455556666";
    let token = api.token(tenant, MANAGE).await;
    let (mut total, mut unique) = (0, HashSet::new());
    let now = Utc::now();
    for hours in [(7, 0), (31, 7)] {
        let fmt = |h: i64| {
            (now - Duration::hours(h))
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string()
        };
        let (s, e) = (
            fmt(hours.0),
            if hours.1 == 0 { fmt(-1) } else { fmt(hours.1) },
        );
        let q = [
            ("contentType", "Audit.Exchange"),
            ("startTime", s.as_str()),
            ("endTime", e.as_str()),
        ];
        let blobs: Vec<Value> = api
            .feed(&token, tenant, "subscriptions/content", &q)
            .await
            .json()
            .await
            .unwrap();
        for blob in blobs {
            let records: Vec<Value> = api
                .records(&token, blob["contentUri"].as_str().unwrap())
                .await;
            total += records.len();
            unique.extend(
                records
                    .into_iter()
                    .map(|r| r["Id"].as_str().unwrap().to_string()),
            );
        }
    }
    assert_eq!(unique.len(), 5000, "every noise record is served");
    assert!(total > 5000, "with duplicates: {total}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn each_content_type_lists_and_serves_its_own_noise() {
    let sandbox =
        sandbox(json!({"noise": {"records_per_tenant": 100, "seed": 12, "spread_s": 3600}})).await;
    let api = Api::new(&sandbox);
    let token = api.token(CONTOSO, MANAGE).await;
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let (start, end) = (
        fmt(Utc::now() - Duration::hours(2)),
        fmt(Utc::now() + Duration::minutes(1)),
    );
    for (content_type, workload, count) in [
        ("Audit.Exchange", "Exchange", 100),
        ("Audit.AzureActiveDirectory", "AzureActiveDirectory", 20),
        ("Audit.General", "SecurityComplianceCenter", 5),
        ("Audit.SharePoint", "", 0),
        ("DLP.All", "", 0),
    ] {
        let q = [
            ("contentType", content_type),
            ("startTime", start.as_str()),
            ("endTime", end.as_str()),
        ];
        let response = api.feed(&token, CONTOSO, "subscriptions/content", &q).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get("NextPageUri").is_none());
        let blobs: Vec<Value> = response.json().await.unwrap();
        let mut ids = HashSet::new();
        for blob in blobs {
            assert_eq!(blob["contentType"], content_type);
            let records: Vec<Value> = api
                .records(&token, blob["contentUri"].as_str().unwrap())
                .await;
            for r in records {
                assert_eq!(r["Workload"], workload, "{content_type}: {r}");
                assert_eq!(r["OrganizationId"], CONTOSO);
                ids.insert(r["Id"].as_str().unwrap().to_string());
            }
        }
        assert_eq!(ids.len(), count, "{content_type}");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_gcc_tenant_is_read_at_the_gcc_host_and_its_metadata_says_gcc() {
    let mut tenants = tenants();
    tenants[1]["cloud"] = json!("gcc");
    let sandbox = sandbox_with(
        tenants,
        json!({"records": [planted(FABRIKAM, "gcc-1", 0)], "rebase_times": true}),
    )
    .await;
    let api = Api::new(&sandbox);
    let metadata = |tenant: &str| {
        api.http
            .get(format!(
                "{}/{tenant}/v2.0/.well-known/openid-configuration",
                api.base
            ))
            .send()
    };
    let gcc: Value = metadata(FABRIKAM).await.unwrap().json().await.unwrap();
    assert_eq!(gcc["tenant_region_sub_scope"], "GCC", "{gcc}");
    assert!(gcc["token_endpoint"].as_str().unwrap().contains(FABRIKAM));
    let by_domain: Value = metadata("fabrikam.onmicrosoft.com")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_domain["tenant_region_sub_scope"], "GCC");
    let commercial: Value = metadata(CONTOSO).await.unwrap().json().await.unwrap();
    assert_eq!(commercial["tenant_region_scope"], "NA");
    assert!(
        commercial.get("tenant_region_sub_scope").is_none(),
        "{commercial}"
    );
    let unknown = metadata("00000000-1111-4222-8333-000000000000")
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error_codes"][0], 90002, "{body}");

    const GCC_MANAGE: &str = "https://manage-gcc.office.com/.default";
    let list = |prefix: &'static str, token: String, tenant: &'static str| {
        let (start, end) = around_now();
        api.http
            .get(format!(
                "{}{prefix}/api/v1.0/{tenant}/activity/feed/subscriptions/content",
                api.base
            ))
            .query(&[
                ("contentType", "Audit.Exchange"),
                ("startTime", start.as_str()),
                ("endTime", end.as_str()),
                ("PublisherIdentifier", PUBLISHER),
            ])
            .bearer_auth(token)
            .send()
    };
    let gcc_token = api.token(FABRIKAM, GCC_MANAGE).await;
    let listed = list("/gcc", gcc_token.clone(), FABRIKAM).await.unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let listed: Vec<Value> = listed.json().await.unwrap();
    let uri = listed[0]["contentUri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!("{}/gcc/api/v1.0/{FABRIKAM}/", api.base)),
        "the blob is on the GCC host: {uri}"
    );
    let blob = api.blob(&gcc_token, uri).await;
    assert_eq!(blob.status(), StatusCode::OK);
    let records: Vec<Value> = blob.json().await.unwrap();
    assert_eq!(records[0]["Id"], "gcc-1");

    // A commercial token, the commercial host, or a commercial tenant on the GCC host:
    // "wrong cloud or no consent" (§G 3).
    let commercial_token = api.token(FABRIKAM, MANAGE).await;
    for (prefix, token, tenant) in [
        ("", commercial_token.clone(), FABRIKAM),
        ("/gcc", commercial_token, FABRIKAM),
        ("", gcc_token.clone(), FABRIKAM),
        ("/gcc", api.token(CONTOSO, GCC_MANAGE).await, CONTOSO),
    ] {
        let m = api_error(
            list(prefix, token, tenant).await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "AF10001",
        )
        .await;
        assert_eq!(
            m,
            "The permission set () sent in the request does not include the expected permission \
             ActivityFeed.Read.",
            "{prefix} {tenant}"
        );
    }
    let blob = api
        .blob(
            &api.token(FABRIKAM, MANAGE).await,
            &uri.replace("/gcc/", "/"),
        )
        .await;
    assert_eq!(blob.status(), StatusCode::UNAUTHORIZED);
    // The commercial tenant is still read at the root.
    let contoso = api.token(CONTOSO, MANAGE).await;
    assert_eq!(
        list("", contoso, CONTOSO).await.unwrap().status(),
        StatusCode::OK
    );
    sandbox.shutdown().await;
}
