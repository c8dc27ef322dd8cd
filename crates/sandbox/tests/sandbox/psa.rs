//! The PSA stand-ins (ConnectWise, Autotask, HaloPSA) over loopback HTTP, as a ticket
//! channel reaches them: authentication, company look-up, a ticket found again by its
//! incident key, notes, and each vendor's refusals, outage and throttling.

use base64::Engine;
use m365_sandbox::psa::{DEFAULT_COMPANY, autotask, connectwise, halo};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

/// An incident key as Rulewatch makes them.
const KEY: &str = "0b6f2c8e-3d41-4f6a-9c2b-7e5d1a0f9b13";

async fn control(api: &Api, vendor: &str, what: &str) -> Value {
    api.http
        .get(format!("{}/_sandbox/psa/{vendor}/{what}", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn inject(api: &Api, vendor: &str, what: &str, count: u32) {
    let response = api
        .http
        .post(format!(
            "{}/_sandbox/psa/{vendor}/{what}?count={count}",
            api.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

/// The one ticket the control listing holds, with its notes' texts.
async fn only_ticket(api: &Api, vendor: &str) -> (Value, Vec<String>) {
    let tickets = control(api, vendor, "tickets").await;
    let tickets = tickets.as_array().unwrap();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let notes = tickets[0]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap().to_string())
        .collect();
    (tickets[0].clone(), notes)
}

// ---- ConnectWise ----

/// `Basic base64("{companyId}+{publicKey}:{privateKey}")`.
fn cw_basic() -> String {
    let credentials = format!(
        "{}+{}:{}",
        connectwise::COMPANY_ID,
        connectwise::PUBLIC_KEY,
        connectwise::PRIVATE_KEY
    );
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

fn cw(http: &Client, method: reqwest::Method, base: &str, path: &str) -> RequestBuilder {
    http.request(
        method,
        format!("{base}/connectwise/v4_6_release/apis/3.0/{path}"),
    )
    .header("Authorization", cw_basic())
    .header("clientId", connectwise::CLIENT_ID)
}

#[tokio::test]
async fn connectwise_ticket_is_found_by_its_key_and_takes_notes() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    let get = |path: &str| cw(&api.http, reqwest::Method::GET, &api.base, path);
    let post = |path: &str| cw(&api.http, reqwest::Method::POST, &api.base, path);

    // Without credentials, or without clientId, ConnectWise refuses.
    let bare = api
        .http
        .get(format!(
            "{}/connectwise/v4_6_release/apis/3.0/company/companies",
            api.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(bare.json::<Value>().await.unwrap()["code"], "Unauthorized");
    let no_client_id = api
        .http
        .get(format!(
            "{}/connectwise/v4_6_release/apis/3.0/company/companies",
            api.base
        ))
        .header("Authorization", cw_basic())
        .send()
        .await
        .unwrap();
    assert_eq!(no_client_id.status(), StatusCode::UNAUTHORIZED);

    // Companies: the tenant "Contoso" is "Contoso, Ltd." here, and paging works.
    let found: Value = get("company/companies")
        .query(&[("conditions", r#"name like "contoso%""#)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["name"], "Contoso, Ltd.");
    let contoso = found[0]["id"].as_u64().unwrap();
    let page: Value = get("company/companies")
        .query(&[("pageSize", "2"), ("page", "3")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page[0]["name"], DEFAULT_COMPANY,
        "the fifth of five companies"
    );

    // Nothing yet carries the key; then one ticket does.
    let search = || {
        get("service/tickets")
            .query(&[("conditions", format!(r#"summary like "%{KEY}%""#))])
            .send()
    };
    let none: Value = search().await.unwrap().json().await.unwrap();
    assert_eq!(none, json!([]));
    let summary = format!("[Rulewatch {KEY}] Suspicious inbox rule on adele@contoso.com");
    let created = post("service/tickets")
        .json(&json!({
            "summary": summary,
            "board": {"name": "Security Alerts"},
            "company": {"id": contoso},
            "priority": {"id": 2},
            "type": {"id": 2},
            "initialDescription": "A rule forwards mail outside the tenant.",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_u64().unwrap();
    assert_eq!(
        created["board"],
        json!({"id": 2, "name": "Security Alerts"})
    );
    let found: Value = search().await.unwrap().json().await.unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], id);

    for (text, flag) in [
        (
            "A second alert on the same mailbox.",
            "internalAnalysisFlag",
        ),
        ("Resolved in Rulewatch.", "resolutionFlag"),
    ] {
        let note = post(&format!("service/tickets/{id}/notes"))
            .json(&json!({"text": text, flag: true}))
            .send()
            .await
            .unwrap();
        assert_eq!(note.status(), StatusCode::CREATED);
        assert_eq!(note.json::<Value>().await.unwrap()["ticketId"], id);
    }
    let (ticket, notes) = only_ticket(&api, "connectwise").await;
    assert_eq!(ticket["company_id"], contoso);
    assert_eq!(ticket["summary"], summary);
    assert_eq!(ticket["priority"], 2);
    assert_eq!(ticket["board"], 2);
    assert_eq!(
        ticket["description"],
        "A rule forwards mail outside the tenant."
    );
    assert_eq!(
        notes,
        [
            "A second alert on the same mailbox.",
            "Resolved in Rulewatch."
        ]
    );
}

#[tokio::test]
async fn connectwise_refuses_what_connectwise_refuses() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    let post = |path: &str| cw(&api.http, reqwest::Method::POST, &api.base, path);
    let company = control(&api, "connectwise", "companies").await[0]["id"].clone();
    let ticket = |summary: String| json!({"summary": summary, "board": {"id": 1}, "company": {"id": company}});

    // The summary is at most 100 characters.
    let long = post("service/tickets")
        .json(&ticket("x".repeat(101)))
        .send()
        .await
        .unwrap();
    assert_eq!(long.status(), StatusCode::BAD_REQUEST);
    let body: Value = long.json().await.unwrap();
    assert_eq!(body["code"], "InvalidObject");
    assert_eq!(body["errors"][0]["field"], "summary");
    let fits = post("service/tickets")
        .json(&ticket("x".repeat(100)))
        .send()
        .await
        .unwrap();
    assert_eq!(fits.status(), StatusCode::CREATED);

    // No board, an unknown company, a body not sent as JSON.
    let no_board = post("service/tickets")
        .json(&json!({"summary": "s", "company": {"id": company}}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_board.status(), StatusCode::BAD_REQUEST);
    let unknown = post("service/tickets")
        .json(&json!({"summary": "s", "board": {"id": 1}, "company": {"id": 9999}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["errors"][0]["field"],
        "company"
    );
    let text = post("service/tickets")
        .body(ticket("s".into()).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A note needs text and a flag, on a ticket that exists.
    let id = control(&api, "connectwise", "tickets").await[0]["id"].clone();
    let flagless = post(&format!("service/tickets/{id}/notes"))
        .json(&json!({"text": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(flagless.status(), StatusCode::BAD_REQUEST);
    let missing = post("service/tickets/424242/notes")
        .json(&json!({"text": "t", "internalAnalysisFlag": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.json::<Value>().await.unwrap()["code"], "NotFound");

    // Conditions it cannot read.
    let bad = cw(
        &api.http,
        reqwest::Method::GET,
        &api.base,
        "service/tickets",
    )
    .query(&[("conditions", "summary like")])
    .send()
    .await
    .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

// ---- Autotask ----

fn at(http: &Client, base: &str, path: &str) -> RequestBuilder {
    http.post(format!("{base}/autotask/ATServicesRest/V1.0/{path}"))
        .header("ApiIntegrationCode", autotask::INTEGRATION_CODE)
        .header("UserName", autotask::USERNAME)
        .header("Secret", autotask::SECRET)
}

#[tokio::test]
async fn autotask_ticket_is_found_by_its_key_and_takes_notes() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);

    // The zone is this sandbox, whose URL the client appends V1.0/ to.
    let zone: Value = api
        .http
        .get(format!(
            "{}/autotask/ATServicesRest/V1.0/zoneInformation",
            api.base
        ))
        .query(&[("user", autotask::USERNAME)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        zone["url"],
        format!("{}/autotask/ATServicesRest/", api.base)
    );

    let bare = api
        .http
        .post(format!(
            "{}/autotask/ATServicesRest/V1.0/Companies/query",
            api.base
        ))
        .json(&json!({"filter": [{"op": "gte", "field": "id", "value": 0}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);

    let companies: Value = at(&api.http, &api.base, "Companies/query")
        .json(&json!({"filter": [{"op": "contains", "field": "companyName", "value": "contoso"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(companies["items"].as_array().unwrap().len(), 1);
    assert_eq!(companies["items"][0]["companyName"], "Contoso Limited");
    assert_eq!(companies["pageDetails"]["nextPageUrl"], Value::Null);
    let contoso = companies["items"][0]["id"].as_u64().unwrap();

    let search = || {
        at(&api.http, &api.base, "Tickets/query")
            .json(&json!({"filter": [{"op": "contains", "field": "title", "value": KEY}]}))
            .send()
    };
    let none: Value = search().await.unwrap().json().await.unwrap();
    assert_eq!(none["items"], json!([]));
    let title = format!("[Rulewatch {KEY}] Suspicious inbox rule on adele@contoso.com");
    let created = at(&api.http, &api.base, "Tickets")
        .json(&json!({
            "companyID": contoso, "title": title, "description": "A rule forwards mail.",
            "status": 1, "priority": 4, "queueID": 29_683_481, "ticketType": 5,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    let id = created.json::<Value>().await.unwrap()["itemId"]
        .as_u64()
        .unwrap();
    let found: Value = search().await.unwrap().json().await.unwrap();
    assert_eq!(found["items"][0]["id"], id);
    assert_eq!(found["pageDetails"]["count"], 1);

    for text in [
        "A second alert on the same mailbox.",
        "Resolved in Rulewatch.",
    ] {
        let note = at(&api.http, &api.base, &format!("Tickets/{id}/Notes"))
            .json(
                &json!({"ticketID": id, "title": "Rulewatch", "description": text,
                          "noteType": 2, "publish": 2}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(note.status(), StatusCode::OK);
        assert!(note.json::<Value>().await.unwrap()["itemId"].is_u64());
    }
    let (ticket, notes) = only_ticket(&api, "autotask").await;
    assert_eq!(ticket["company_id"], contoso);
    assert_eq!(ticket["board"], 29_683_481);
    assert_eq!(ticket["kind"], 5);
    assert_eq!(
        notes,
        [
            "A second alert on the same mailbox.",
            "Resolved in Rulewatch."
        ]
    );
}

#[tokio::test]
async fn autotask_refuses_what_autotask_refuses() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    let company = control(&api, "autotask", "companies").await[0]["id"].clone();
    let ticket = |title: String| {
        json!({"companyID": company, "title": title, "status": 1, "priority": 2,
               "queueID": 29_682_833})
    };
    let create = |body: Value| at(&api.http, &api.base, "Tickets").json(&body).send();

    // A title over 255 characters: 500 with the errors array.
    let long = create(ticket("x".repeat(256))).await.unwrap();
    assert_eq!(long.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let errors = long.json::<Value>().await.unwrap()["errors"].clone();
    assert!(errors[0].as_str().unwrap().contains("title"), "{errors}");
    assert_eq!(
        create(ticket("x".repeat(255))).await.unwrap().status(),
        StatusCode::OK
    );

    // Without a queue, or with a priority the picklist lacks.
    let mut no_queue = ticket("t".into());
    no_queue.as_object_mut().unwrap().remove("queueID");
    assert_eq!(
        create(no_queue).await.unwrap().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let mut odd_priority = ticket("t".into());
    odd_priority["priority"] = json!(77);
    assert_eq!(
        create(odd_priority).await.unwrap().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );

    // A note without a title; a note on no ticket; a query without a filter.
    let id = control(&api, "autotask", "tickets").await[0]["id"].clone();
    let untitled = at(&api.http, &api.base, &format!("Tickets/{id}/Notes"))
        .json(&json!({"description": "d", "noteType": 1, "publish": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(untitled.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let orphan = at(&api.http, &api.base, "Tickets/99/Notes")
        .json(&json!({"title": "t", "description": "d", "noteType": 1, "publish": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(orphan.status(), StatusCode::NOT_FOUND);
    let unfiltered = at(&api.http, &api.base, "Tickets/query")
        .json(&json!({"filter": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(unfiltered.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let unknown_field = at(&api.http, &api.base, "Tickets/query")
        .json(&json!({"filter": [{"op": "eq", "field": "summary", "value": "x"}]}))
        .send()
        .await
        .unwrap();
    assert!(
        unknown_field.json::<Value>().await.unwrap()["errors"][0]
            .as_str()
            .unwrap()
            .contains("summary")
    );
}

// ---- HaloPSA ----

async fn halo_token(api: &Api) -> String {
    let response = api
        .http
        .post(format!("{}/halo/auth/token", api.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", halo::CLIENT_ID),
            ("client_secret", halo::CLIENT_SECRET),
            ("scope", "all"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn halo_ticket_is_found_by_its_key_and_takes_actions() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);

    let wrong = api
        .http
        .post(format!("{}/halo/auth/token", api.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", halo::CLIENT_ID),
            ("client_secret", "guess"),
            ("scope", "all"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let anonymous = api
        .http
        .get(format!("{}/halo/api/Client", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let token = halo_token(&api).await;
    let get = |path: &str| {
        api.http
            .get(format!("{}/halo/api/{path}", api.base))
            .bearer_auth(&token)
    };
    let post = |path: &str| {
        api.http
            .post(format!("{}/halo/api/{path}", api.base))
            .bearer_auth(&token)
    };
    let clients: Value = get("Client")
        .query(&[("search", "Contoso")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clients["record_count"], 1);
    assert_eq!(clients["clients"][0]["name"], "contoso ltd");
    let contoso = clients["clients"][0]["id"].as_u64().unwrap();

    let search = || get("Tickets").query(&[("search", KEY)]).send();
    let none: Value = search().await.unwrap().json().await.unwrap();
    assert_eq!(none["record_count"], 0);
    let created = post("Tickets")
        .json(&json!([{
            "summary": format!("[Rulewatch {KEY}] Suspicious inbox rule"),
            "details": "A rule forwards mail.",
            "client_id": contoso, "tickettype_id": 21, "priority_id": 1, "team_id": 2,
        }]))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap();
    let found: Value = search().await.unwrap().json().await.unwrap();
    assert_eq!(found["record_count"], 1);
    assert_eq!(found["tickets"][0]["id"], id);

    for (note, outcome) in [
        (
            json!({"note": "A second alert on the same mailbox."}),
            json!({"outcome": "Private Note"}),
        ),
        (
            json!({"note_html": "Resolved in Rulewatch."}),
            json!({"outcome_id": 9}),
        ),
    ] {
        let mut action = json!({"ticket_id": id, "hiddenfromuser": true});
        action
            .as_object_mut()
            .unwrap()
            .extend(note.as_object().unwrap().clone());
        action
            .as_object_mut()
            .unwrap()
            .extend(outcome.as_object().unwrap().clone());
        let response = post("Actions").json(&json!([action])).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let (ticket, notes) = only_ticket(&api, "halo").await;
    assert_eq!(ticket["company_id"], contoso);
    assert_eq!(ticket["priority"], 1);
    assert_eq!(
        notes,
        [
            "A second alert on the same mailbox.",
            "Resolved in Rulewatch."
        ]
    );
}

#[tokio::test]
async fn halo_refuses_what_halo_refuses() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    let token = halo_token(&api).await;
    let post = |path: &str| {
        api.http
            .post(format!("{}/halo/api/{path}", api.base))
            .bearer_auth(&token)
    };
    let company = control(&api, "halo", "companies").await[0]["id"].clone();

    // The body is an array, not the object itself.
    let object = post("Tickets")
        .json(&json!({"summary": "s", "client_id": company}))
        .send()
        .await
        .unwrap();
    assert_eq!(object.status(), StatusCode::BAD_REQUEST);
    assert!(object.json::<Value>().await.unwrap()["Message"].is_string());
    let no_summary = post("Tickets")
        .json(&json!([{"client_id": company}]))
        .send()
        .await
        .unwrap();
    assert_eq!(no_summary.status(), StatusCode::BAD_REQUEST);
    let created: Value = post("Tickets")
        .json(&json!([{"summary": "s", "client_id": company}]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // An action without an outcome, as Halo words it.
    let no_outcome = post("Actions")
        .json(&json!([{"ticket_id": created["id"], "note": "n"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(no_outcome.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        no_outcome.json::<Value>().await.unwrap()["Message"],
        "An Outcome must be entered for this Action"
    );
    let orphan = post("Actions")
        .json(&json!([{"ticket_id": 4242, "note": "n", "outcome_id": 7}]))
        .send()
        .await
        .unwrap();
    assert_eq!(orphan.status(), StatusCode::NOT_FOUND);

    // Only the client-credentials grant, with the `all` scope.
    let scopeless = api
        .http
        .post(format!("{}/halo/auth/token", api.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", halo::CLIENT_ID),
            ("client_secret", halo::CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        scopeless.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );
}

// ---- Injected outages and throttling, in each vendor's shape ----

#[tokio::test]
async fn outages_and_throttling_answer_in_each_vendors_shape() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    let token = halo_token(&api).await;
    let cw_list = || {
        cw(
            &api.http,
            reqwest::Method::GET,
            &api.base,
            "company/companies",
        )
        .send()
    };
    let at_list = || {
        at(&api.http, &api.base, "Companies/query")
            .json(&json!({"filter": [{"op": "gte", "field": "id", "value": 0}]}))
            .send()
    };
    let halo_list = || {
        api.http
            .get(format!("{}/halo/api/Client", api.base))
            .bearer_auth(&token)
            .send()
    };

    for vendor in ["connectwise", "autotask", "halo"] {
        inject(&api, vendor, "fail", 1).await;
        inject(&api, vendor, "throttle", 1).await;
    }
    let outages = [
        cw_list().await.unwrap(),
        at_list().await.unwrap(),
        halo_list().await.unwrap(),
    ];
    let throttles = [
        cw_list().await.unwrap(),
        at_list().await.unwrap(),
        halo_list().await.unwrap(),
    ];
    let recovered = [
        cw_list().await.unwrap(),
        at_list().await.unwrap(),
        halo_list().await.unwrap(),
    ];
    let shapes = ["code", "errors", "Message"];
    for (response, shape) in outages.into_iter().zip(shapes) {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!response.json::<Value>().await.unwrap()[shape].is_null());
    }
    for (response, shape) in throttles.into_iter().zip(shapes) {
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        // None of the three documents Retry-After, so a client must not rely on it.
        assert!(response.headers().get("retry-after").is_none());
        assert!(!response.json::<Value>().await.unwrap()[shape].is_null());
    }
    for response in recovered {
        assert_eq!(response.status(), StatusCode::OK);
    }

    // The token endpoint and the zone look-up are API requests too.
    inject(&api, "halo", "fail", 1).await;
    let down = api
        .http
        .post(format!("{}/halo/auth/token", api.base))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    inject(&api, "autotask", "throttle", 1).await;
    let zone = api
        .http
        .get(format!(
            "{}/autotask/ATServicesRest/V1.0/zoneInformation?user={}",
            api.base,
            autotask::USERNAME
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(zone.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn companies_mirror_the_tenants_with_a_default() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    for (vendor, contoso) in [
        ("connectwise", "Contoso, Ltd."),
        ("autotask", "Contoso Limited"),
        ("halo", "contoso ltd"),
    ] {
        let names: Vec<String> = control(&api, vendor, "companies")
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names.len(), 5, "{names:?}");
        assert_eq!(names[0], contoso);
        assert_eq!(names[4], DEFAULT_COMPANY);
    }
    let unknown = api
        .http
        .get(format!("{}/_sandbox/psa/kaseya/tickets", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
