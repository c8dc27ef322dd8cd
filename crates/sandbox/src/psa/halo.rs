//! HaloPSA REST API: authorisation server `/halo/auth`, resource server `/halo/api`.
//!
//! Sources:
//! - Authorisation: an API application with "Client Credentials" and the `all`
//!   permission (usehalo.com guide "Authorising API Access into Your Own Halo Instance");
//!   `POST {auth}/token` with the form `grant_type=client_credentials`, `client_id`,
//!   `client_secret`, `scope=all`, answering `access_token`, `token_type`, `expires_in`,
//!   then `Authorization: Bearer` on the resource server (github.com/homotechsual/HaloAPI
//!   Public/Connect-HaloAPI.ps1, which falls back to `auth/token`;
//!   github.com/KelvinTegelaar/CIPP-API Modules/CippExtensions/Public/Halo/Get-HaloToken.ps1).
//!   A refused client is OAuth's `{"error": "invalid_client"}` (RFC 6749 §5.2), with 400.
//! - Creating: `POST /api/Tickets` and `POST /api/Actions` take a JSON array of objects
//!   (HaloAPI Private/New-HaloPOSTRequest.ps1 sends `ConvertTo-Json -AsArray`; CIPP-API
//!   New-HaloPSATicket.ps1 sends `@($Object)`) and answer with the created object, whose
//!   `id` clients read (CIPP-API: `$Ticket.id`). A ticket carries `summary`, `details`
//!   (or `details_html`), `client_id`, `tickettype_id`, `priority_id`, `team_id`; an action
//!   `ticket_id`, `note` (or `note_html`), `outcome` or `outcome_id`, `hiddenfromuser`,
//!   and Halo refuses one without an outcome: "An Outcome must be entered for this
//!   Action" (CIPP-API New-HaloPSATicket.ps1).
//! - Listing: `GET /api/Client?search=` answers `{"record_count", "clients": [...]}`,
//!   `GET /api/Tickets?search=&client_id=` answers `{"record_count", "tickets": [...]}`
//!   (github.com/wyre-technology/node-halopsa src/resources/tickets.ts and clients.ts).
//! - Errors: HaloAPI's error handler reads a body of `{"ClassName", "Message"}`
//!   (Private/New-HaloError.ps1); the stand-in answers that shape.
//!
//! Guess, marked as such: each of these, which the vendor does not document.
//! - 201 for a created ticket or action (a client must take any 2xx); 400 with
//!   `{"ClassName", "Message"}` for a refused body; 401 with an empty body for a missing or
//!   unknown bearer token; 404 for an action on a ticket that does not exist.
//! - The POST body must be an array of exactly one object: how Halo answers several at
//!   once is not documented, and Rulewatch sends one.
//! - `client_id` is required on a ticket (Halo may fall back to a default client) and
//!   must exist, as must a given `tickettype_id`, `priority_id`, `team_id`.
//! - `search` on tickets matches the `summary` only (Halo's search may look further;
//!   a client that puts its key in the summary is served by both). Matching ignores case.
//! - `scope` must be `all`; tokens do not expire within a run (`expires_in` is 3600).
//! - Throttling: node-halopsa assumes 500 requests in 3 minutes answered with 429;
//!   Halo does not document it. The stand-in answers 429 without `Retry-After`, and 503
//!   for the outage, both in the error shape.
//! - The seeded ticket types, priorities, teams and outcomes: each Halo has its own, so a
//!   client takes their ids from its configuration.

use std::collections::HashMap;
use std::sync::{Arc, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{Desk, Injected, Note, Refusal, Ticket, Vendor, contains_ci, is_json};
use crate::app::App;

/// The sandbox API application's client id.
pub const CLIENT_ID: &str = "9c1e5a0b-7d3f-4e2a-8b6c-5d4e3f2a1b13";
/// The sandbox API application's client secret.
pub const CLIENT_SECRET: &str = "rw-sandbox-halo-secret-0013";

/// Seconds a token claims to last.
const TOKEN_LIFETIME_S: u64 = 3600;

/// Seeded lookups: `(id, name)`.
const TICKET_TYPES: [(u64, &str); 2] = [(1, "Incident"), (21, "Security Alert")];
const PRIORITIES: [(u64, &str); 4] = [
    (1, "P1 - Critical"),
    (2, "P2 - High"),
    (3, "P3 - Medium"),
    (4, "P4 - Low"),
];
const TEAMS: [(u64, &str); 2] = [(1, "1st Line Support"), (2, "Security")];
const OUTCOMES: [(u64, &str); 3] = [(1, "Update"), (7, "Private Note"), (9, "Resolved")];
/// The status a new ticket gets.
const NEW_STATUS: u64 = 1;

pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/halo/auth/token", post(token))
        .route("/halo/api/Client", get(clients))
        .route("/halo/api/Tickets", get(tickets).post(create))
        .route("/halo/api/Actions", post(add_action))
}

fn error(status: StatusCode, message: &str) -> Refusal {
    Refusal::new(
        status,
        json!({"ClassName": "System.Exception", "Message": message}),
    )
}

fn oauth_error(code: &str) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, json!({"error": code}))
}

/// The outage or throttling a test asked for, if this request gets one.
fn injected(app: &App) -> Option<Refusal> {
    app.psa
        .desk(app, Vendor::Halo)
        .injected()
        .map(|injected| match injected {
            Injected::Outage => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable.",
            ),
            Injected::Throttle => error(StatusCode::TOO_MANY_REQUESTS, "Too many requests."),
        })
}

/// Injected faults, then the bearer token.
fn gate<'a>(app: &'a App, headers: &HeaderMap) -> Result<MutexGuard<'a, Desk>, Refusal> {
    if let Some(answer) = injected(app) {
        return Err(answer);
    }
    let desk = app.psa.desk(app, Vendor::Halo);
    let known = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .is_some_and(|(_, token)| desk.tokens.iter().any(|t| t == token.trim()));
    if !known {
        return Err(Refusal::bare(StatusCode::UNAUTHORIZED));
    }
    Ok(desk)
}

/// `POST /auth/token` with a client-credentials form.
async fn token(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    if let Some(answer) = injected(&app) {
        return Err(answer);
    }
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(oauth_error("invalid_request"));
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str);
    if field("grant_type") != Some("client_credentials") {
        return Err(oauth_error("unsupported_grant_type"));
    }
    if field("client_id") != Some(CLIENT_ID) || field("client_secret") != Some(CLIENT_SECRET) {
        return Err(oauth_error("invalid_client"));
    }
    if !field("scope").is_some_and(|s| s.split(' ').any(|scope| scope == "all")) {
        return Err(oauth_error("invalid_scope"));
    }
    let access_token = uuid::Uuid::new_v4().simple().to_string();
    app.psa
        .desk(&app, Vendor::Halo)
        .tokens
        .push(access_token.clone());
    Ok(Json(json!({
        "scope": "all",
        "token_type": "Bearer",
        "access_token": access_token,
        "expires_in": TOKEN_LIFETIME_S,
    }))
    .into_response())
}

/// `GET /api/Client?search=`: clients whose name contains the search text.
async fn clients(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    let desk = gate(&app, &headers)?;
    let search = query.get("search").map(String::as_str).unwrap_or_default();
    let clients: Vec<Value> = desk
        .companies
        .iter()
        .filter(|c| contains_ci(&c.name, search))
        .map(|c| json!({"id": c.id, "name": c.name, "inactive": false}))
        .collect();
    Ok(Json(json!({"record_count": clients.len(), "clients": clients})).into_response())
}

fn ticket_json(desk: &Desk, t: &Ticket) -> Value {
    json!({
        "id": t.id,
        "summary": t.summary,
        "details": t.description,
        "client_id": t.company_id,
        "client_name": desk.company(t.company_id).map(|c| c.name.clone()),
        "tickettype_id": t.kind,
        "priority_id": t.priority,
        "team_id": t.board,
        "status_id": t.status,
    })
}

/// `GET /api/Tickets?search=&client_id=`.
async fn tickets(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    let desk = gate(&app, &headers)?;
    let client = match query.get("client_id").map(|c| c.parse::<u64>()) {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "client_id must be a number.",
            ));
        }
        None => None,
    };
    let search = query.get("search").map(String::as_str).unwrap_or_default();
    let tickets: Vec<Value> = desk
        .tickets
        .iter()
        .filter(|t| client.is_none_or(|id| t.company_id == id))
        .filter(|t| contains_ci(&t.summary, search))
        .map(|t| ticket_json(&desk, t))
        .collect();
    Ok(Json(json!({"record_count": tickets.len(), "tickets": tickets})).into_response())
}

/// The single object of a POST body that must be a one-element JSON array.
fn one_object(headers: &HeaderMap, body: &Bytes) -> Result<Value, Refusal> {
    if !is_json(headers) {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json.",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(mut items)) if items.len() == 1 && items[0].is_object() => {
            Ok(items.remove(0))
        }
        Ok(Value::Array(_)) => Err(error(
            StatusCode::BAD_REQUEST,
            "The sandbox takes exactly one object in the array.",
        )),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "The request body must be a JSON array of objects.",
        )),
    }
}

/// An optional lookup id, refused when it names nothing in `list`.
fn lookup(item: &Value, field: &str, list: &[(u64, &str)]) -> Result<Option<u64>, String> {
    match &item[field] {
        Value::Null => Ok(None),
        v => v
            .as_u64()
            .filter(|id| list.iter().any(|(i, _)| i == id))
            .map(Some)
            .ok_or_else(|| format!("{field} {v} does not exist.")),
    }
}

/// The first text field of `names` that is given, which must be a string.
fn first_text(item: &Value, names: &[&str]) -> Result<Option<String>, String> {
    for name in names {
        match &item[*name] {
            Value::Null => continue,
            Value::String(s) => return Ok(Some(s.clone())),
            _ => return Err(format!("{name} must be text.")),
        }
    }
    Ok(None)
}

fn new_ticket(desk: &Desk, item: &Value) -> Result<Ticket, String> {
    let summary = match &item["summary"] {
        Value::String(s) if !s.trim().is_empty() => s.clone(),
        _ => return Err("A summary must be entered for this ticket.".into()),
    };
    let company_id = item["client_id"]
        .as_u64()
        .filter(|id| desk.company(*id).is_some())
        .ok_or("client_id must name an existing client.")?;
    Ok(Ticket {
        id: 0,
        company_id,
        summary,
        description: first_text(item, &["details", "details_html"])?.unwrap_or_default(),
        board: lookup(item, "team_id", &TEAMS)?,
        priority: lookup(item, "priority_id", &PRIORITIES)?,
        kind: lookup(item, "tickettype_id", &TICKET_TYPES)?,
        status: Some(NEW_STATUS),
        external_ref: None,
        notes: Vec::new(),
        created_at: chrono::Utc::now(),
    })
}

/// `POST /api/Tickets` with `[ticket]`: 201 with the ticket.
async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let mut desk = gate(&app, &headers)?;
    let item = one_object(&headers, &body)?;
    let mut ticket =
        new_ticket(&desk, &item).map_err(|why| error(StatusCode::BAD_REQUEST, &why))?;
    ticket.id = desk.next_ticket_id();
    let answer = ticket_json(&desk, &ticket);
    desk.tickets.push(ticket);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// The action's outcome by `outcome_id` or by `outcome` name.
fn outcome(item: &Value) -> Result<&'static str, String> {
    let by_id = item["outcome_id"]
        .as_u64()
        .and_then(|id| OUTCOMES.iter().find(|(i, _)| *i == id));
    let by_name = item["outcome"]
        .as_str()
        .and_then(|name| OUTCOMES.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)));
    match (
        by_id.or(by_name),
        item["outcome_id"].is_null() && item["outcome"].is_null(),
    ) {
        (Some((_, name)), _) => Ok(name),
        (None, true) => Err("An Outcome must be entered for this Action".into()),
        (None, false) => Err("The outcome does not exist.".into()),
    }
}

/// `POST /api/Actions` with `[action]`: 201 with the action.
async fn add_action(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let mut desk = gate(&app, &headers)?;
    let item = one_object(&headers, &body)?;
    let Some(ticket_id) = item["ticket_id"].as_u64() else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "ticket_id must be a number.",
        ));
    };
    if !desk.has_ticket(ticket_id) {
        return Err(error(
            StatusCode::NOT_FOUND,
            &format!("Ticket {ticket_id} does not exist."),
        ));
    }
    let bad = |why: String| error(StatusCode::BAD_REQUEST, &why);
    let note = first_text(&item, &["note", "note_html"])
        .map_err(bad)?
        .filter(|note| !note.trim().is_empty())
        .ok_or_else(|| bad("A note must be entered for this Action".into()))?;
    let outcome = outcome(&item).map_err(bad)?;
    let hidden = match &item["hiddenfromuser"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "hiddenfromuser must be true or false.",
            ));
        }
    };
    let id = desk.next_note_id();
    desk.ticket_mut(ticket_id)
        .expect("checked above")
        .notes
        .push(Note {
            id,
            title: None,
            text: note.clone(),
            kind: format!(
                "{outcome}{}",
                if hidden { " (hidden from user)" } else { "" }
            ),
            created_at: chrono::Utc::now(),
        });
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": id,
            "ticket_id": ticket_id,
            "note": note,
            "outcome": outcome,
            "hiddenfromuser": hidden,
        })),
    )
        .into_response())
}
