//! Shared helpers: a two-tenant scenario and a client that talks to the sandbox over loopback.

use m365_sandbox::{RunningSandbox, Scenario};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

pub(crate) const CONTOSO: &str = "6f1c2a3b-1111-4222-8333-944455556666";
pub(crate) const FABRIKAM: &str = "7e2d3b4c-2222-4333-9444-a55566667777";
pub(crate) const CLIENT_ID: &str = "11111111-2222-4333-8444-555555555555";
pub(crate) const SECRET: &str = "s3cret~value";
pub(crate) const PUBLISHER: &str = "99999999-8888-4777-8666-555555555555";
pub(crate) const MANAGE: &str = "https://manage.office.com/.default";
pub(crate) const GRAPH: &str = "https://graph.microsoft.com/.default";
pub(crate) const OUTLOOK: &str = "https://outlook.office365.com/.default";

pub(crate) fn tenants() -> Value {
    json!([
        {"tenant_id": CONTOSO, "name": "Contoso", "domains": ["contoso.com", "contoso.onmicrosoft.com"],
         "client_id": CLIENT_ID, "client_secret": SECRET,
         "users": [{"upn": "adele@contoso.com", "display_name": "Adele Vance"},
                   {"upn": "megan@contoso.com", "display_name": "Megan Bowen"}]},
        {"tenant_id": FABRIKAM, "name": "Fabrikam", "domains": ["fabrikam.onmicrosoft.com"],
         "client_id": CLIENT_ID, "client_secret": SECRET}
    ])
}

/// A sandbox of `tenants` plus `extra` top-level fields.
pub(crate) async fn sandbox_with(tenants: Value, extra: Value) -> RunningSandbox {
    let mut text = json!({"tenants": tenants});
    text.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let scenario = Scenario::from_json(&text.to_string()).unwrap();
    m365_sandbox::start("127.0.0.1:0".parse().unwrap(), scenario)
        .await
        .unwrap()
}

pub(crate) async fn sandbox(extra: Value) -> RunningSandbox {
    sandbox_with(tenants(), extra).await
}

/// A planted record with a recognisable Id.
pub(crate) fn planted(tenant: &str, id: &str, release_after_s: i64) -> Value {
    json!({"tenant_id": tenant, "content_type": "Audit.Exchange", "release_after_s": release_after_s,
           "record": {"Id": id, "Operation": "New-InboxRule", "OrganizationId": "00000000-0000-0000-0000-000000000000",
                      "CreationTime": "2020-01-01T00:00:00", "RecordType": 1}})
}

pub(crate) struct Api {
    pub http: Client,
    pub base: String,
}

impl Api {
    pub(crate) fn new(sandbox: &RunningSandbox) -> Api {
        Api {
            http: Client::new(),
            base: sandbox.base_url().to_string(),
        }
    }

    pub(crate) async fn token_response(&self, tenant: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(format!("{}/{tenant}/oauth2/v2.0/token", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn token(&self, tenant: &str, scope: &str) -> String {
        let response = self
            .token_response(
                tenant,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", CLIENT_ID),
                    ("client_secret", SECRET),
                    ("scope", scope),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// GET a feed operation with `PublisherIdentifier` added.
    pub(crate) async fn feed(
        &self,
        token: &str,
        tenant: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Response {
        let mut query = query.to_vec();
        query.push(("PublisherIdentifier", PUBLISHER));
        self.http
            .get(format!(
                "{}/api/v1.0/{tenant}/activity/feed/{path}",
                self.base
            ))
            .query(&query)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn start_subscription(
        &self,
        token: &str,
        tenant: &str,
        content_type: &str,
    ) -> Response {
        self.http
            .post(format!(
                "{}/api/v1.0/{tenant}/activity/feed/subscriptions/start",
                self.base
            ))
            .query(&[
                ("contentType", content_type),
                ("PublisherIdentifier", PUBLISHER),
            ])
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// GET a contentUri exactly as listed, with `PublisherIdentifier` appended as clients do.
    pub(crate) async fn blob(&self, token: &str, content_uri: &str) -> Response {
        self.http
            .get(format!("{content_uri}?PublisherIdentifier={PUBLISHER}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The records of the blob at `content_uri`.
    pub(crate) async fn records(&self, token: &str, content_uri: &str) -> Vec<Value> {
        self.blob(token, content_uri).await.json().await.unwrap()
    }

    pub(crate) async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/_sandbox/stats", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A Graph call to `/v1.0/{path}`, with `body` as JSON if given.
    pub(crate) async fn graph(
        &self,
        method: Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .http
            .request(method, format!("{}/v1.0/{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub(crate) async fn graph_get(&self, token: &str, path: &str) -> Response {
        self.graph(Method::GET, token, path, None).await
    }

    /// Contoso's Exchange `InvokeCommand`, routed by `anchor` as `X-AnchorMailbox`.
    pub(crate) async fn invoke(
        &self,
        token: &str,
        anchor: Option<&str>,
        cmdlet: &str,
        parameters: Value,
    ) -> Response {
        let mut request = self
            .http
            .post(format!(
                "{}/adminapi/beta/{CONTOSO}/InvokeCommand",
                self.base
            ))
            .bearer_auth(token)
            .json(&json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}));
        // A bare address anchors by UPN, as clients send it (B7).
        if let Some(anchor) = anchor {
            let anchor = match anchor.contains(':') {
                true => anchor.to_string(),
                false => format!("UPN:{anchor}"),
            };
            request = request.header("X-AnchorMailbox", anchor);
        }
        request.send().await.unwrap()
    }

    pub(crate) async fn update_tenant(&self, tenant: &str, change: Value) -> Response {
        self.http
            .post(format!("{}/_sandbox/tenants/{tenant}", self.base))
            .json(&change)
            .send()
            .await
            .unwrap()
    }
}

/// The window `[now - 1 h, now + 1 h)` in the API's format.
pub(crate) fn around_now() -> (String, String) {
    let now = chrono::Utc::now();
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    (
        fmt(now - chrono::Duration::hours(1)),
        fmt(now + chrono::Duration::hours(1)),
    )
}

/// Asserts an error in the shape the Management API, Graph and Exchange share
/// (`{"error": {"code", "message"}}`) and returns its message.
pub(crate) async fn api_error(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status, "expected {code}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"].as_str().unwrap().to_string()
}
