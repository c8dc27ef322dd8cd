//! Autotask (Datto / Kaseya) PSA REST API, under `/autotask/ATServicesRest/V1.0`.
//!
//! Sources (Autotask's online help, ww1.autotask.net/help/DeveloperHelp/Content/APIs/REST/,
//! and its Swagger definition as kept in github.com/KelvinTegelaar/AutotaskAPI v1.json):
//! - Authentication: headers `ApiIntegrationCode`, `UserName` and `Secret` on every call
//!   (Swagger: all three `"in": "header", "required": true`); "Failed authentication to
//!   the REST API will result in the return of a 401 error" (General_Topics/
//!   REST_Security_Auth.htm).
//! - Zone discovery: `GET /V1.0/ZoneInformation?user=` answers `ZoneName`, `Url`, `WebUrl`,
//!   `CI` (Swagger `ZoneInformationResultModel`; clients read `url`, e.g. AutotaskAPI
//!   Public/Add-AutotaskAPIAuth.ps1, and append `V1.0/` to it); it needs no
//!   authentication (SOAP getZoneInfo(): "does not require authentication or a tracking
//!   identifier"). Here it answers the sandbox's own `/autotask/ATServicesRest/`.
//! - Queries: `POST /{Entity}/query` with `{"filter": [{"op", "field", "value"}]}`, ops
//!   `eq`, `noteq`, `gt`, `gte`, `lt`, `lte`, `beginsWith`, `endsWith`, `contains`, groups
//!   `and` / `or` with `items`; the answer is `{"items": [...], "pageDetails": {"count",
//!   "requestCount", "prevPageUrl", "nextPageUrl"}}`, at most 500 items a page
//!   (API_Calls/REST_Basic_Query_Calls.htm, REST_Advanced_Query_Features.htm).
//! - Creating: `POST /Tickets` and the child `POST /Tickets/{parentId}/Notes` answer 200
//!   with `{"itemId": n}`; failures answer 500 with `{"errors": ["..."]}`
//!   (API_Calls/REST_Creating_Resources_POST.htm).
//! - Fields (Entities/TicketsEntity.htm, TicketNotesEntity.htm; lengths as AutotaskNET
//!   transcribes them, github.com/moldypenguins/AutotaskNET Entities/Ticket.cs,
//!   TicketNote.cs): a ticket requires `companyID`, `title` (≤ 255), `status`,
//!   `priority`; `description` ≤ 8,000, `externalID` ≤ 50. A note requires `title`
//!   (≤ 250; "Whether ticket note titles are required is determined by the Require titles
//!   on ticket notes Ticket Category setting"), `description` (≤ 32,000), `noteType`,
//!   `publish`.
//! - Throttling: a thread limit of three concurrent requests per tracking identifier and
//!   endpoint, 10,000 requests an hour per database (General/ThreadLimiting.htm,
//!   REST/General_Topics/REST_Thresholds_Limits.htm). Clients have met it as 429 with
//!   "thread threshold of 3 threads has been exceeded" (github.com/msoukhomlinov/
//!   n8n-nodes-autotask pull 107).
//!
//! Guess, marked as such: each of these, which the vendor does not document.
//! - `queueID` is required here: some Autotask configurations require it or a billing
//!   code (KelvinTegelaar/AutotaskAPI issue 74), so a client always sends it.
//! - A note's `title` is always required (the stricter setting of the category option).
//! - The query JSON's keys are taken in the documented lower case only (`filter`, `op`,
//!   `field`, `value`, `items`), field names in the documented camel case, and a value of
//!   the wrong kind (text for a number) is refused; the service is more forgiving.
//! - Empty-bodied 401 (the body is undocumented); 404 with `{"errors"}` for a ticket id
//!   that does not exist and for an unknown zone user; 429 without `Retry-After` and 503
//!   for the outage, both with `{"errors"}`.
//! - The seeded queues, priorities, statuses, ticket types, note types and publish values:
//!   picklists differ per Autotask database, so a client takes their ids from its
//!   configuration.

use std::collections::HashMap;
use std::sync::{Arc, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{Desk, Injected, Note, Refusal, Ticket, Vendor, chars, contains_ci, is_json};
use crate::app::App;

/// The sandbox API user's tracking identifier (`ApiIntegrationCode` header).
pub const INTEGRATION_CODE: &str = "RWSANDBOXTRACKINGID00000013";
/// The sandbox API user's name (`UserName` header), also the zone look-up's `user`.
pub const USERNAME: &str = "rulewatch-api@sandbox.example";
/// The sandbox API user's secret (`Secret` header).
pub const SECRET: &str = "rw$andbox-Secret-01";

/// Where the API lives under the sandbox's base URL.
const API: &str = "/autotask/ATServicesRest/V1.0";

const TITLE_MAX: usize = 255;
const DESCRIPTION_MAX: usize = 8000;
const EXTERNAL_ID_MAX: usize = 50;
const NOTE_TITLE_MAX: usize = 250;
const NOTE_DESCRIPTION_MAX: usize = 32_000;
/// Items a query page holds at most.
const PAGE: usize = 500;

/// Seeded picklists: `(value, label)`.
const QUEUES: [(u64, &str); 2] = [(29_682_833, "Monitoring Alert"), (29_683_481, "Security")];
const PRIORITIES: [(u64, &str); 4] = [(1, "High"), (2, "Medium"), (3, "Low"), (4, "Critical")];
const STATUSES: [(u64, &str); 3] = [(1, "New"), (5, "Complete"), (8, "In Progress")];
const TICKET_TYPES: [(u64, &str); 5] = [
    (1, "Service Request"),
    (2, "Incident"),
    (3, "Problem"),
    (4, "Change Request"),
    (5, "Alert"),
];
const NOTE_TYPES: [(u64, &str); 3] = [
    (1, "Detailed Description"),
    (2, "Internal Notes"),
    (3, "Resolution"),
];
const PUBLISH: [(u64, &str); 2] = [(1, "All Autotask Users"), (2, "Internal Only")];

pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        // The Swagger spells it `ZoneInformation`, the help and most clients `zoneInformation`.
        .route(&format!("{API}/ZoneInformation"), get(zone))
        .route(&format!("{API}/zoneInformation"), get(zone))
        .route(&format!("{API}/Companies/query"), post(query_companies))
        .route(&format!("{API}/Tickets/query"), post(query_tickets))
        .route(&format!("{API}/Tickets"), post(create))
        .route(&format!("{API}/Tickets/{{id}}/Notes"), post(add_note))
}

fn errors(status: StatusCode, message: &str) -> Refusal {
    Refusal::new(status, json!({"errors": [message]}))
}

fn refused(problems: Vec<String>) -> Refusal {
    Refusal::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"errors": problems}),
    )
}

/// The outage or throttling a test asked for, if this request gets one.
fn injected(app: &App) -> Option<Refusal> {
    app.psa
        .desk(app, Vendor::Autotask)
        .injected()
        .map(|injected| match injected {
            Injected::Outage => errors(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable.",
            ),
            Injected::Throttle => errors(
                StatusCode::TOO_MANY_REQUESTS,
                "The Autotask API thread threshold of 3 threads has been exceeded.",
            ),
        })
}

/// Injected faults, then the three credential headers.
fn gate<'a>(app: &'a App, headers: &HeaderMap) -> Result<MutexGuard<'a, Desk>, Refusal> {
    if let Some(answer) = injected(app) {
        return Err(answer);
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let valid = header("apiintegrationcode") == Some(INTEGRATION_CODE)
        && header("username") == Some(USERNAME)
        && header("secret") == Some(SECRET);
    if !valid {
        return Err(Refusal::bare(StatusCode::UNAUTHORIZED));
    }
    Ok(app.psa.desk(app, Vendor::Autotask))
}

/// `GET /ZoneInformation?user=`: this sandbox is the only zone.
async fn zone(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    if let Some(answer) = injected(&app) {
        return Err(answer);
    }
    match query.get("user") {
        Some(user) if user.eq_ignore_ascii_case(USERNAME) => Ok(Json(json!({
            "zoneName": "Rulewatch sandbox",
            "url": format!("{}/autotask/ATServicesRest/", app.base_url),
            "webUrl": format!("{}/autotask/", app.base_url),
            "ci": 13,
        }))
        .into_response()),
        _ => Err(errors(
            StatusCode::NOT_FOUND,
            "Zone information could not be determined for this user.",
        )),
    }
}

/// The kind a queryable field holds.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Number,
    Flag,
}

fn kind_of(v: &Value) -> Option<Kind> {
    match v {
        Value::String(_) => Some(Kind::Text),
        Value::Number(_) => Some(Kind::Number),
        Value::Bool(_) => Some(Kind::Flag),
        _ => None,
    }
}

/// Whether `record` passes `filter`, whose fields `schema` names; `Err` says why the
/// filter is refused.
fn passes(filter: &Value, record: &Value, schema: &[(&str, Kind)]) -> Result<bool, String> {
    let op = filter["op"]
        .as_str()
        .ok_or("Each filter needs an op.".to_string())?;
    if op == "and" || op == "or" {
        let items = filter["items"]
            .as_array()
            .filter(|items| !items.is_empty())
            .ok_or(format!("The {op} filter needs items."))?;
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            results.push(passes(item, record, schema)?);
        }
        return Ok(if op == "and" {
            results.iter().all(|r| *r)
        } else {
            results.iter().any(|r| *r)
        });
    }
    let field = filter["field"]
        .as_str()
        .ok_or("Each filter needs a field.".to_string())?;
    let Some((_, kind)) = schema.iter().find(|(name, _)| *name == field) else {
        return Err(format!("Unable to find the {field} field."));
    };
    let value = &filter["value"];
    let actual = &record[field];
    let number = |v: &Value| v.as_f64();
    let text = |v: &Value| v.as_str().map(str::to_lowercase);
    match (kind, kind_of(value)) {
        (Kind::Text, Some(Kind::Text)) => {
            let (a, v) = (
                text(actual).unwrap_or_default(),
                text(value).unwrap_or_default(),
            );
            match op {
                "eq" => Ok(a == v),
                "noteq" => Ok(a != v),
                "contains" => Ok(contains_ci(&a, &v)),
                "beginsWith" => Ok(a.starts_with(&v)),
                "endsWith" => Ok(a.ends_with(&v)),
                _ => Err(format!("The {op} operator does not apply to {field}.")),
            }
        }
        (Kind::Number, Some(Kind::Number)) => {
            let (a, v) = (
                number(actual).unwrap_or(f64::NAN),
                number(value).unwrap_or(0.0),
            );
            match op {
                "eq" => Ok(a == v),
                "noteq" => Ok(a != v),
                "gt" => Ok(a > v),
                "gte" => Ok(a >= v),
                "lt" => Ok(a < v),
                "lte" => Ok(a <= v),
                _ => Err(format!("The {op} operator does not apply to {field}.")),
            }
        }
        (Kind::Flag, Some(Kind::Flag)) => match op {
            "eq" => Ok(actual == value),
            "noteq" => Ok(actual != value),
            _ => Err(format!("The {op} operator does not apply to {field}.")),
        },
        _ => Err(format!("The value for {field} is of the wrong type.")),
    }
}

/// The query body's records that pass every top-level filter, as Autotask's answer.
fn query(
    headers: &HeaderMap,
    body: &Bytes,
    records: Vec<Value>,
    schema: &[(&str, Kind)],
) -> Result<Response, Refusal> {
    let body = json_object(headers, body)?;
    let Some(filters) = body["filter"].as_array().filter(|f| !f.is_empty()) else {
        return Err(errors(
            StatusCode::INTERNAL_SERVER_ERROR,
            "A query needs a filter with at least one condition.",
        ));
    };
    let mut items = Vec::new();
    for record in records {
        let mut keep = true;
        for filter in filters {
            keep &= passes(filter, &record, schema)
                .map_err(|why| errors(StatusCode::INTERNAL_SERVER_ERROR, &why))?;
        }
        if keep {
            items.push(record);
        }
    }
    items.truncate(PAGE);
    Ok(Json(json!({
        "items": items,
        "pageDetails": {
            "count": items.len(),
            "requestCount": PAGE,
            "prevPageUrl": null,
            "nextPageUrl": null,
        },
    }))
    .into_response())
}

/// `POST /Companies/query`.
async fn query_companies(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let records = gate(&app, &headers)?
        .companies
        .iter()
        .map(|c| json!({"id": c.id, "companyName": c.name, "companyType": 1, "isActive": true}))
        .collect();
    query(
        &headers,
        &body,
        records,
        &[
            ("id", Kind::Number),
            ("companyName", Kind::Text),
            ("companyType", Kind::Number),
            ("isActive", Kind::Flag),
        ],
    )
}

fn ticket_json(t: &Ticket) -> Value {
    json!({
        "id": t.id,
        "title": t.summary,
        "description": t.description,
        "companyID": t.company_id,
        "queueID": t.board,
        "priority": t.priority,
        "status": t.status,
        "ticketType": t.kind,
        "externalID": t.external_ref,
    })
}

/// `POST /Tickets/query`.
async fn query_tickets(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let records = gate(&app, &headers)?
        .tickets
        .iter()
        .map(ticket_json)
        .collect();
    query(
        &headers,
        &body,
        records,
        &[
            ("id", Kind::Number),
            ("title", Kind::Text),
            ("companyID", Kind::Number),
            ("queueID", Kind::Number),
            ("priority", Kind::Number),
            ("status", Kind::Number),
            ("ticketType", Kind::Number),
            ("externalID", Kind::Text),
        ],
    )
}

fn json_object(headers: &HeaderMap, body: &Bytes) -> Result<Value, Refusal> {
    if !is_json(headers) {
        return Err(errors(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json.",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(errors(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The request body must be a JSON object.",
        )),
    }
}

/// A required or optional picklist value, checked against `list`.
fn picklist(
    body: &Value,
    field: &str,
    list: &[(u64, &str)],
    required: bool,
    problems: &mut Vec<String>,
) -> Option<u64> {
    match &body[field] {
        Value::Null if required => {
            problems.push(format!("Missing Required Field: {field}."));
            None
        }
        Value::Null => None,
        v => match v.as_u64().filter(|n| list.iter().any(|(id, _)| id == n)) {
            Some(n) => Some(n),
            None => {
                problems.push(format!(
                    "Value {v} does not reference an existing picklist value for {field}."
                ));
                None
            }
        },
    }
}

/// A string field within `max` characters; `None` when absent or refused.
fn text(
    body: &Value,
    field: &str,
    max: usize,
    required: bool,
    problems: &mut Vec<String>,
) -> Option<String> {
    match &body[field] {
        Value::String(s) if s.trim().is_empty() && required => {
            problems.push(format!("Missing Required Field: {field}."));
            None
        }
        Value::String(s) if chars(s) > max => {
            problems.push(format!(
                "The value for {field} exceeds its maximum length of {max} characters."
            ));
            None
        }
        Value::String(s) => Some(s.clone()),
        Value::Null if required => {
            problems.push(format!("Missing Required Field: {field}."));
            None
        }
        Value::Null => None,
        _ => {
            problems.push(format!("The value for {field} must be text."));
            None
        }
    }
}

/// `POST /Tickets`: 200 with `{"itemId"}`.
async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let mut desk = gate(&app, &headers)?;
    let body = json_object(&headers, &body)?;
    let mut problems = Vec::new();
    let company_id = match &body["companyID"] {
        Value::Null => {
            problems.push("Missing Required Field: companyID.".to_string());
            None
        }
        v => match v.as_u64().filter(|id| desk.company(*id).is_some()) {
            Some(id) => Some(id),
            None => {
                problems.push(format!(
                    "Value {v} does not reference an existing entity for companyID."
                ));
                None
            }
        },
    };
    let title = text(&body, "title", TITLE_MAX, true, &mut problems);
    let description = text(&body, "description", DESCRIPTION_MAX, false, &mut problems);
    let external_ref = text(&body, "externalID", EXTERNAL_ID_MAX, false, &mut problems);
    let status = picklist(&body, "status", &STATUSES, true, &mut problems);
    let priority = picklist(&body, "priority", &PRIORITIES, true, &mut problems);
    let queue = picklist(&body, "queueID", &QUEUES, true, &mut problems);
    let kind = picklist(&body, "ticketType", &TICKET_TYPES, false, &mut problems);
    let (Some(company_id), Some(title), true) = (company_id, title, problems.is_empty()) else {
        return Err(refused(problems));
    };
    let id = desk.next_ticket_id();
    desk.tickets.push(Ticket {
        id,
        company_id,
        summary: title,
        description: description.unwrap_or_default(),
        board: queue,
        priority,
        kind,
        status,
        external_ref,
        notes: Vec::new(),
        created_at: chrono::Utc::now(),
    });
    Ok(Json(json!({"itemId": id})).into_response())
}

/// `POST /Tickets/{parentId}/Notes`: 200 with `{"itemId"}`.
async fn add_note(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let mut desk = gate(&app, &headers)?;
    let body = json_object(&headers, &body)?;
    let Some(ticket_id) = desk.ticket_in_path(&id) else {
        return Err(errors(
            StatusCode::NOT_FOUND,
            &format!("No Ticket with id {id} was found."),
        ));
    };
    let mut problems = Vec::new();
    if !body["ticketID"].is_null() && body["ticketID"].as_u64() != Some(ticket_id) {
        problems.push("ticketID does not match the parent ticket in the URL.".to_string());
    }
    let title = text(&body, "title", NOTE_TITLE_MAX, true, &mut problems);
    let description = text(
        &body,
        "description",
        NOTE_DESCRIPTION_MAX,
        true,
        &mut problems,
    );
    let note_type = picklist(&body, "noteType", &NOTE_TYPES, true, &mut problems);
    let publish = picklist(&body, "publish", &PUBLISH, true, &mut problems);
    let (Some(title), Some(description), Some(note_type), Some(publish), true) =
        (title, description, note_type, publish, problems.is_empty())
    else {
        return Err(refused(problems));
    };
    let note_id = desk.next_note_id();
    let label = |list: &[(u64, &str)], v: u64| {
        list.iter()
            .find(|(id, _)| *id == v)
            .map(|(_, l)| l.to_string())
            .unwrap_or_default()
    };
    let kind = format!(
        "{} / {}",
        label(&NOTE_TYPES, note_type),
        label(&PUBLISH, publish)
    );
    desk.ticket_mut(ticket_id)
        .expect("checked above")
        .notes
        .push(Note {
            id: note_id,
            title: Some(title),
            text: description,
            kind,
            created_at: chrono::Utc::now(),
        });
    Ok(Json(json!({"itemId": note_id})).into_response())
}
