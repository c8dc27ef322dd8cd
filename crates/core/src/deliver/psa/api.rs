//! The three PSAs' REST calls: sign-in, company listing, ticket search by the incident
//! key, ticket create and notes. Paths, headers and bodies follow each vendor's public
//! documentation:
//! - ConnectWise PSA (Manage REST 3.0): `Authorization: Basic
//!   base64("{companyId}+{publicKey}:{privateKey}")` and a `clientId` header
//!   (developer.connectwise.com/ClientID, the developer guide's "Authentication");
//!   `service/tickets` (summary at most 100 characters, `initialDescription` on POST
//!   only), `service/tickets/{id}/notes`, `company/companies`, `conditions` queries.
//! - Autotask REST: the zone from `zoneInformation?user=`, then the `ApiIntegrationCode`,
//!   `UserName` and `Secret` headers (Autotask help, "REST API security and
//!   authentication"); `Companies/query` and `Tickets/query` filters, `POST Tickets`
//!   answering `itemId`, notes as the child `Tickets/{id}/Notes` ("Creating resources",
//!   "TicketNotes entity").
//! - HaloPSA: an OAuth client-credentials token from `{base}/auth/token` with scope
//!   `all` (Halo's "Authorising API access" guide), then `api/Client`, `api/Tickets` and
//!   `api/Actions`, whose POST bodies are arrays of one object (as Halo's own PowerShell
//!   module, HaloAPI, sends them).
//!
//! No vendor documents its throttling or outage answers, nor `Retry-After`: a 429 or a
//! 5xx is a failure the channel's backoff retries.

use std::time::Duration;

use base64::Engine;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::{Account, Vendor};

/// How long one PSA call may take: longer than a webhook's, as a PSA searches and
/// writes tickets (set on each request of the deliveries' shared client).
const TIMEOUT: Duration = Duration::from_secs(30);

/// ConnectWise cuts a ticket's summary at 100 characters, Autotask a title at 255;
/// Halo documents no limit, so its is a guess kept to Autotask's.
pub(super) fn summary_limit(vendor: Vendor) -> usize {
    match vendor {
        Vendor::ConnectWise => 100,
        Vendor::Autotask | Vendor::Halo => 255,
    }
}

/// Why a call did not do what was asked, in words that name the PSA and hold no secret.
#[derive(Debug)]
pub(super) struct Failure {
    /// The HTTP status, when the PSA answered.
    status: Option<u16>,
    /// What went wrong.
    pub message: String,
}

impl Failure {
    fn new(message: String) -> Failure {
        Failure {
            status: None,
            message,
        }
    }

    /// Whether what was asked about is not there: after a note, the ticket was
    /// deleted or merged in the PSA.
    pub(super) fn gone(&self) -> bool {
        self.status == Some(404)
    }
}

/// A ticket to open.
pub(super) struct NewTicket {
    pub company: i64,
    pub summary: String,
    pub description: String,
    pub board: i64,
    pub priority: i64,
    pub kind: Option<i64>,
    pub status: Option<i64>,
    pub key: String,
}

/// A signed-in connection to one PSA.
pub(super) struct Conn {
    vendor: Vendor,
    client: reqwest::Client,
    /// The API's root, without a trailing slash.
    root: String,
    /// What every call sends to sign in (marked sensitive: never in a debug print).
    auth: HeaderMap,
    /// The note's kind: Autotask's `noteType`, Halo's `outcome_id`.
    note_kind: Option<i64>,
    /// Autotask's `publish`.
    note_publish: Option<i64>,
}

fn sensitive(value: &str) -> Result<HeaderValue, String> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| "a credential holds characters a header cannot carry".to_string())?;
    v.set_sensitive(true);
    Ok(v)
}

fn plain(value: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(value).map_err(|_| {
        format!(
            "'{}' cannot be sent in a header",
            crate::shown::short(value)
        )
    })
}

impl Conn {
    /// Signs in: ConnectWise and Autotask by headers on every call (Autotask after
    /// finding the database's zone), Halo with a token fetched now.
    pub(super) async fn open(
        client: &reqwest::Client,
        vendor: Vendor,
        base_url: &str,
        account: &Account,
        secret: &SecretString,
        notes: (Option<i64>, Option<i64>),
    ) -> Result<Conn, String> {
        let client = client.clone();
        let base = base_url.trim_end_matches('/');
        let mut auth = HeaderMap::new();
        let root = match account {
            Account::Connectwise {
                company_id,
                public_key,
                client_id,
            } => {
                let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{company_id}+{public_key}:{}",
                    secret.expose_secret()
                ));
                auth.insert("authorization", sensitive(&format!("Basic {basic}"))?);
                auth.insert("clientid", plain(client_id)?);
                format!("{base}/v4_6_release/apis/3.0")
            }
            Account::Autotask {
                username,
                integration_code,
            } => {
                let zone = format!("{base}/ATServicesRest/V1.0/zoneInformation");
                let answer = client
                    .get(&zone)
                    .timeout(TIMEOUT)
                    .query(&[("user", username)])
                    .send()
                    .await
                    .map_err(|e| unreachable(vendor, e))?;
                let zone = read(vendor, answer).await.map_err(|f| {
                    if f.gone() {
                        format!(
                            "Autotask knows no API user {}; check the user name",
                            crate::shown::short(username)
                        )
                    } else {
                        f.message
                    }
                })?;
                let url = zone["url"].as_str().ok_or_else(|| {
                    format!(
                        "{} named no zone for the API user; check the user name",
                        vendor.name()
                    )
                })?;
                auth.insert("apiintegrationcode", sensitive(integration_code)?);
                auth.insert("username", plain(username)?);
                auth.insert("secret", sensitive(secret.expose_secret())?);
                format!("{}/V1.0", url.trim_end_matches('/'))
            }
            Account::Halo { client_id, tenant } => {
                let mut token_url = format!("{base}/auth/token");
                if let Some(tenant) = tenant {
                    token_url = format!("{token_url}?tenant={}", urlencode(tenant));
                }
                let answer = client
                    .post(&token_url)
                    .timeout(TIMEOUT)
                    .form(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", client_id.as_str()),
                        ("client_secret", secret.expose_secret()),
                        ("scope", "all"),
                    ])
                    .send()
                    .await
                    .map_err(|e| unreachable(vendor, e))?;
                let token = read(vendor, answer).await.map_err(|f| f.message)?;
                let token = token["access_token"].as_str().ok_or_else(|| {
                    "HaloPSA answered the sign-in without a token; check the client id and secret"
                        .to_string()
                })?;
                auth.insert("authorization", sensitive(&format!("Bearer {token}"))?);
                format!("{base}/api")
            }
        };
        Ok(Conn {
            vendor,
            client,
            root,
            auth,
            note_kind: notes.0,
            note_publish: notes.1,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}/{path}", self.root))
            .timeout(TIMEOUT)
            .headers(self.auth.clone())
            .header("accept", "application/json")
    }

    async fn call(&self, request: RequestBuilder) -> Result<Value, Failure> {
        let answer = request
            .send()
            .await
            .map_err(|e| Failure::new(unreachable(self.vendor, e)))?;
        read(self.vendor, answer).await
    }

    /// Every company the PSA lists, as (id, name); inactive ones left out.
    pub(super) async fn companies(&self) -> Result<Vec<(i64, String)>, Failure> {
        let mut out = Vec::new();
        match self.vendor {
            Vendor::ConnectWise => {
                // Pages of 1,000 until one comes back short (the developer guide's paging).
                for page in 1.. {
                    let got = self
                        .call(
                            self.request(Method::GET, "company/companies")
                                .query(&[("pageSize", "1000"), ("page", &page.to_string())]),
                        )
                        .await?;
                    let items = got.as_array().cloned().unwrap_or_default();
                    out.extend(items.iter().filter_map(|c| named(c, "id", "name")));
                    if items.len() < 1000 {
                        break;
                    }
                }
            }
            Vendor::Autotask => {
                let mut got = self
                    .call(
                        self.request(Method::POST, "Companies/query")
                            .json(&json!({"filter": [{"op": "gte", "field": "id", "value": 0}]})),
                    )
                    .await?;
                loop {
                    out.extend(
                        got["items"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|c| c["isActive"].as_bool() != Some(false))
                            .filter_map(|c| named(c, "id", "companyName")),
                    );
                    // Autotask pages by a next-page URL on its own host.
                    let Some(next) = got["pageDetails"]["nextPageUrl"].as_str() else {
                        break;
                    };
                    let next = next.to_string();
                    got = self
                        .call(
                            self.client
                                .get(next)
                                .timeout(TIMEOUT)
                                .headers(self.auth.clone()),
                        )
                        .await?;
                }
            }
            Vendor::Halo => {
                let got = self.call(self.request(Method::GET, "Client")).await?;
                out.extend(
                    got["clients"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|c| c["inactive"].as_bool() != Some(true))
                        .filter_map(|c| named(c, "id", "name")),
                );
            }
        }
        Ok(out)
    }

    /// The tickets whose summary carries `key`, lowest id first.
    pub(super) async fn search(&self, key: &str) -> Result<Vec<i64>, Failure> {
        let got =
            match self.vendor {
                Vendor::ConnectWise => {
                    let conditions = format!("summary like \"%{key}%\"");
                    self.call(
                        self.request(Method::GET, "service/tickets")
                            .query(&[("conditions", conditions.as_str()), ("pageSize", "25")]),
                    )
                    .await?
                }
                Vendor::Autotask => self
                    .call(self.request(Method::POST, "Tickets/query").json(
                        &json!({"filter": [{"op": "contains", "field": "title", "value": key}]}),
                    ))
                    .await?["items"]
                    .take(),
                Vendor::Halo => self
                    .call(
                        self.request(Method::GET, "Tickets")
                            .query(&[("search", key)]),
                    )
                    .await?["tickets"]
                    .take(),
            };
        let mut ids: Vec<i64> = got
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| {
                ["summary", "title"]
                    .iter()
                    .any(|f| t[*f].as_str().is_some_and(|s| s.contains(key)))
            })
            .filter_map(|t| t["id"].as_i64())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Opens a ticket; answers its id.
    pub(super) async fn create(&self, t: &NewTicket) -> Result<i64, Failure> {
        let (request, id_field) = match self.vendor {
            Vendor::ConnectWise => {
                let mut body = json!({
                    "summary": t.summary, "company": {"id": t.company}, "board": {"id": t.board},
                    "priority": {"id": t.priority}, "initialDescription": t.description,
                    "externalXRef": t.key,
                });
                if let Some(kind) = t.kind {
                    body["type"] = json!({"id": kind});
                }
                (
                    self.request(Method::POST, "service/tickets").json(&body),
                    "id",
                )
            }
            Vendor::Autotask => {
                let mut body = json!({
                    "companyID": t.company, "title": t.summary,
                    // Autotask keeps 8,000 characters of a description.
                    "description": cut(&t.description, 8000), "status": t.status.unwrap_or(1),
                    "priority": t.priority, "queueID": t.board,
                });
                if let Some(kind) = t.kind {
                    body["ticketType"] = json!(kind);
                }
                (self.request(Method::POST, "Tickets").json(&body), "itemId")
            }
            Vendor::Halo => {
                let mut body = json!({
                    "summary": t.summary, "details": t.description, "client_id": t.company,
                    "priority_id": t.priority, "team_id": t.board,
                });
                if let Some(kind) = t.kind {
                    body["tickettype_id"] = json!(kind);
                }
                (self.request(Method::POST, "Tickets").json(&[body]), "id")
            }
        };
        let got = self.call(request).await?;
        got[id_field].as_i64().ok_or_else(|| {
            Failure::new(format!(
                "{} answered the new ticket without its id",
                self.vendor.name()
            ))
        })
    }

    /// Adds a note to ticket `ticket`; `closing` marks it the resolution.
    pub(super) async fn note(
        &self,
        ticket: i64,
        title: &str,
        text: &str,
        closing: bool,
    ) -> Result<(), Failure> {
        let request = match self.vendor {
            Vendor::ConnectWise => {
                let flag = if closing {
                    "resolutionFlag"
                } else {
                    "internalAnalysisFlag"
                };
                let mut body = json!({"text": text});
                body[flag] = json!(true);
                self.request(Method::POST, &format!("service/tickets/{ticket}/notes"))
                    .json(&body)
            }
            Vendor::Autotask => self
                .request(Method::POST, &format!("Tickets/{ticket}/Notes"))
                .json(&json!({
                    "ticketID": ticket, "title": cut(title, 250), "description": cut(text, 32000),
                    "noteType": self.note_kind, "publish": self.note_publish,
                })),
            Vendor::Halo => self.request(Method::POST, "Actions").json(&[json!({
                "ticket_id": ticket, "note": text, "outcome_id": self.note_kind,
                "hiddenfromuser": true,
            })]),
        };
        self.call(request).await.map(|_| ())
    }
}

fn named(v: &Value, id: &str, name: &str) -> Option<(i64, String)> {
    Some((v[id].as_i64()?, v[name].as_str()?.to_string()))
}

fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn unreachable(vendor: Vendor, e: reqwest::Error) -> String {
    let e = e.without_url();
    let why = if e.is_timeout() {
        format!("no answer within {} s", TIMEOUT.as_secs())
    } else {
        e.to_string()
    };
    format!("{} could not be reached ({why})", vendor.name())
}

/// The answer's JSON on 2xx; otherwise the vendor's own error words (ConnectWise's
/// `message`, Autotask's `errors`, Halo's `Message`), quoted as text.
async fn read(vendor: Vendor, answer: reqwest::Response) -> Result<Value, Failure> {
    let status = answer.status();
    let body = answer.text().await.unwrap_or_default();
    if status.is_success() {
        return Ok(serde_json::from_str(&body).unwrap_or(Value::Null));
    }
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let said = v["message"]
        .as_str()
        .or(v["Message"].as_str())
        .or(v["error"].as_str())
        .map(str::to_string)
        .or_else(|| {
            v["errors"].as_array().map(|e| {
                e.iter()
                    .filter_map(|m| m.as_str().or(m["message"].as_str()))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        })
        .unwrap_or_default();
    let hint = match status.as_u16() {
        401 | 403 => ": the PSA refused the credentials; check them, then add the channel again",
        429 => ": the PSA is throttling; the channel tries again after its backoff",
        _ => "",
    };
    Err(Failure {
        status: Some(status.as_u16()),
        message: format!(
            "{} answered HTTP {}{}{hint}",
            vendor.name(),
            status.as_u16(),
            if said.trim().is_empty() {
                String::new()
            } else {
                format!(" ({})", crate::shown::short(said.trim()))
            }
        ),
    })
}
