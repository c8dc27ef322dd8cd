//! ConnectWise PSA (Manage) REST API 3.0, under `/connectwise/v4_6_release/apis/3.0`.
//!
//! Sources:
//! - Authentication: `Authorization: Basic base64("{companyId}+{publicKey}:{privateKey}")`
//!   and a `clientId` header on every call (developer.connectwise.com/ClientID; the
//!   ConnectWise developer guide, "ClientIds": "This clientId is required for all API
//!   calls"). The 401 body `{"code": "Unauthorized", "message"}` is the shape the
//!   ConnectWiseManageAPI module handles (github.com/christaylorcodes/ConnectWiseManageAPI,
//!   Private/Invoke/Invoke-CWMWebRequest.ps1); its message text is a guess.
//! - Paths, status codes and models from ConnectWise's OpenAPI definition as generated
//!   into clients (github.com/tjone270/pyconnectwise-psa docs/TicketsApi.md,
//!   docs/TicketNotesApi.md; github.com/ai-connor/connectwise model_ticket.go,
//!   model_error_response_message.go): `POST /service/tickets` answers 201 with the
//!   Ticket, `POST /service/tickets/{parentId}/notes` 201 with the note, lists answer 200
//!   with a JSON array; Ticket `summary` is required, "Max length: 100", `company` is
//!   required, `externalXRef` "Max length: 100", `initialDescription` "Only available for
//!   POST"; errors are `{"code", "message", "errors": [{"code", "message", "resource",
//!   "field"}]}`.
//! - Queries: `conditions` with `=`, `!=`, `like` (with `%`), `contains`, joined by `and`
//!   / `or`; `page` and `pageSize`, default 25, at most 1,000 (ConnectWise developer guide,
//!   "Pagination" and "Conditions", as quoted in the ConnectWise PSA API quick reference of
//!   gitea.resolutionflow.com/chihlasm/resolutionflow docs/connectwise).
//!
//! Guess, marked as such: each of these, which the vendor does not document.
//! - The error codes `InvalidObject`, `MissingRequiredField`, `InvalidField`, `NotFound`
//!   and their messages: the OpenAPI definition gives the shape, not the values.
//! - A missing `clientId` is refused like bad keys, with 401 (stricter than a service
//!   that might only log it).
//! - A note must have text and at least one of `detailDescriptionFlag`,
//!   `internalAnalysisFlag`, `resolutionFlag` (stricter: without one the note would show
//!   nowhere on the ticket).
//! - A ticket must name a `board` (by `id` or `name`); the service may fall back to a
//!   default board, the stand-in does not.
//! - Conditions: no parentheses, `and` binds tighter than `or`, `like` knows only `%`,
//!   string comparisons ignore case (SQL Server's default collation), a field the stand-in
//!   does not know is refused with 400.
//! - Throttling: ConnectWise documents no rate limit; the stand-in answers 429 in the
//!   error shape, without `Retry-After`. Outage: 503 in the error shape. Both undocumented.
//! - The seeded boards, priorities, service types and the `New` status: every PSA has
//!   its own, so a client takes their ids from its configuration.

use std::collections::HashMap;
use std::sync::{Arc, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use super::{Desk, Injected, Note, Refusal, Ticket, Vendor, chars, is_json};
use crate::app::App;

/// The sandbox's ConnectWise company id, the first part of the Basic credentials.
pub const COMPANY_ID: &str = "rulewatch";
/// The sandbox API member's public key.
pub const PUBLIC_KEY: &str = "rwSandboxPublicKey01";
/// The sandbox API member's private key.
pub const PRIVATE_KEY: &str = "rwSandboxPrivateKey01";
/// The integration's `clientId`, sent as a header on every call.
pub const CLIENT_ID: &str = "4b7f3f0e-2d5a-4c61-9a57-6e0c1d2b3a13";

/// Where the API lives under the sandbox's base URL.
const API: &str = "/connectwise/v4_6_release/apis/3.0";

/// The summary's and `externalXRef`'s maximum length (OpenAPI "Max length: 100").
const SUMMARY_MAX: usize = 100;

/// Seeded boards, priorities and service types: `(id, name)`.
const BOARDS: [(u64, &str); 2] = [(1, "Service Desk"), (2, "Security Alerts")];
const PRIORITIES: [(u64, &str); 4] = [
    (1, "Priority 1 - Emergency Response"),
    (2, "Priority 2 - Quick Response"),
    (3, "Priority 3 - Normal Response"),
    (4, "Priority 4 - Schedule Maintenance"),
];
const TYPES: [(u64, &str); 2] = [(1, "Incident"), (2, "Security Alert")];
/// The status every new ticket gets.
const NEW_STATUS: (u64, &str) = (1, "New");

pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route(&format!("{API}/company/companies"), get(companies))
        .route(&format!("{API}/service/tickets"), get(tickets).post(create))
        .route(
            &format!("{API}/service/tickets/{{id}}/notes"),
            post(add_note),
        )
}

fn error(status: StatusCode, code: &str, message: &str, errors: Vec<Value>) -> Refusal {
    let mut body = json!({"code": code, "message": message});
    if !errors.is_empty() {
        body["errors"] = Value::Array(errors);
    }
    Refusal::new(status, body)
}

fn field_error(code: &str, field: &str, message: &str) -> Value {
    json!({"code": code, "message": message, "resource": "ticket", "field": field})
}

fn bad_request(message: &str) -> Refusal {
    error(
        StatusCode::BAD_REQUEST,
        "InvalidObject",
        message,
        Vec::new(),
    )
}

/// Injected faults first, then the credentials; the locked desk when the request may go on.
fn gate<'a>(app: &'a App, headers: &HeaderMap) -> Result<MutexGuard<'a, Desk>, Refusal> {
    let mut desk = app.psa.desk(app, Vendor::ConnectWise);
    match desk.injected() {
        Some(Injected::Outage) => {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is temporarily unavailable.",
                Vec::new(),
            ));
        }
        Some(Injected::Throttle) => {
            return Err(error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests.",
                Vec::new(),
            ));
        }
        None => {}
    }
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{COMPANY_ID}+{PUBLIC_KEY}:{PRIVATE_KEY}"));
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .is_some_and(|(_, credentials)| credentials.trim() == expected);
    let client_id = headers
        .get("clientid")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == CLIENT_ID);
    if !basic {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Authentication failed: expected Basic credentials companyId+publicKey:privateKey.",
            Vec::new(),
        ));
    }
    if !client_id {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "A valid clientId header is required.",
            Vec::new(),
        ));
    }
    Ok(desk)
}

/// A value in a condition or a record's field.
#[derive(PartialEq)]
enum Val {
    Str(String),
    Num(i64),
    Bool(bool),
}

#[derive(Clone, Copy)]
enum Op {
    Eq,
    Ne,
    Like,
    Contains,
}

struct Clause {
    field: String,
    op: Op,
    value: Val,
}

/// `or` of `and` groups.
type Conditions = Vec<Vec<Clause>>;

#[derive(Debug)]
enum Tok {
    Word(String),
    Str(String),
    Num(i64),
    Eq,
    Ne,
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut rest = text.chars().peekable();
    while let Some(&c) = rest.peek() {
        if c.is_whitespace() {
            rest.next();
        } else if c == '"' {
            rest.next();
            let mut s = String::new();
            loop {
                match rest.next() {
                    Some('"') => break,
                    Some(ch) => s.push(ch),
                    None => return Err("an unterminated string".into()),
                }
            }
            out.push(Tok::Str(s));
        } else if c == '=' {
            rest.next();
            out.push(Tok::Eq);
        } else if c == '!' {
            rest.next();
            if rest.next() != Some('=') {
                return Err("'!' not followed by '='".into());
            }
            out.push(Tok::Ne);
        } else if c.is_ascii_digit() || c == '-' {
            let mut s = String::new();
            while let Some(&d) = rest.peek().filter(|d| d.is_ascii_digit() || **d == '-') {
                s.push(d);
                rest.next();
            }
            out.push(Tok::Num(
                s.parse().map_err(|_| format!("a bad number {s}"))?,
            ));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut s = String::new();
            while let Some(&d) = rest
                .peek()
                .filter(|d| d.is_ascii_alphanumeric() || **d == '_' || **d == '/')
            {
                s.push(d);
                rest.next();
            }
            out.push(Tok::Word(s));
        } else {
            return Err(format!("an unexpected character '{c}'"));
        }
    }
    Ok(out)
}

fn parse_conditions(text: &str) -> Result<Conditions, String> {
    let mut toks = tokenize(text)?.into_iter();
    let mut groups: Conditions = vec![Vec::new()];
    loop {
        let Some(Tok::Word(field)) = toks.next() else {
            return Err("a field name expected".into());
        };
        let op = match toks.next() {
            Some(Tok::Eq) => Op::Eq,
            Some(Tok::Ne) => Op::Ne,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("like") => Op::Like,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("contains") => Op::Contains,
            _ => return Err(format!("an operator expected after {field}")),
        };
        let value = match toks.next() {
            Some(Tok::Str(s)) => Val::Str(s),
            Some(Tok::Num(n)) => Val::Num(n),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Val::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Val::Bool(false),
            _ => return Err(format!("a value expected after {field}")),
        };
        groups
            .last_mut()
            .expect("never empty")
            .push(Clause { field, op, value });
        match toks.next() {
            None => return Ok(groups),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("and") => {}
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("or") => groups.push(Vec::new()),
            Some(other) => return Err(format!("'and' or 'or' expected, not {other:?}")),
        }
    }
}

/// SQL `LIKE` with `%` only, ignoring case.
fn like(value: &str, pattern: &str) -> bool {
    let value = value.to_lowercase();
    let parts: Vec<String> = pattern
        .to_lowercase()
        .split('%')
        .map(String::from)
        .collect();
    let (first, last) = (&parts[0], &parts[parts.len() - 1]);
    if parts.len() == 1 {
        return value == *first;
    }
    if !value.starts_with(first.as_str())
        || !value.ends_with(last.as_str())
        || value.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle.as_str()) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

fn clause_holds(clause: &Clause, actual: &Val) -> Result<bool, String> {
    match (clause.op, actual, &clause.value) {
        (Op::Eq, Val::Str(a), Val::Str(b)) => Ok(a.eq_ignore_ascii_case(b)),
        (Op::Ne, Val::Str(a), Val::Str(b)) => Ok(!a.eq_ignore_ascii_case(b)),
        (Op::Like, Val::Str(a), Val::Str(b)) => Ok(like(a, b)),
        (Op::Contains, Val::Str(a), Val::Str(b)) => Ok(super::contains_ci(a, b)),
        (Op::Eq, a, b) if std::mem::discriminant(a) == std::mem::discriminant(b) => Ok(a == b),
        (Op::Ne, a, b) if std::mem::discriminant(a) == std::mem::discriminant(b) => Ok(a != b),
        _ => Err(format!(
            "the operator or value does not suit the field {}",
            clause.field
        )),
    }
}

/// Whether a record whose fields `lookup` gives matches; an unknown field is an error.
fn holds(conditions: &Conditions, lookup: impl Fn(&str) -> Option<Val>) -> Result<bool, String> {
    let mut any = false;
    for group in conditions {
        let mut all = true;
        for clause in group {
            let actual = lookup(&clause.field)
                .ok_or_else(|| format!("{} is not a field the sandbox can filter", clause.field))?;
            all &= clause_holds(clause, &actual)?;
        }
        any |= all;
    }
    Ok(any)
}

/// Applies `conditions`, `page` and `pageSize` to `records`.
fn select<T>(
    records: &[T],
    query: &HashMap<String, String>,
    lookup: impl Fn(&T, &str) -> Option<Val>,
) -> Result<Vec<usize>, Refusal> {
    let conditions = match query.get("conditions").filter(|c| !c.trim().is_empty()) {
        Some(text) => Some(
            parse_conditions(text)
                .map_err(|why| bad_request(&format!("conditions is invalid: {why}.")))?,
        ),
        None => None,
    };
    let number = |name: &str, default: usize| match query.get(name) {
        Some(v) => v.parse::<usize>().ok().filter(|n| *n >= 1),
        None => Some(default),
    };
    let (Some(page), Some(page_size)) = (number("page", 1), number("pageSize", 25)) else {
        return Err(bad_request("page and pageSize must be positive integers."));
    };
    if page_size > 1000 {
        return Err(bad_request("pageSize must be at most 1000."));
    }
    let mut chosen = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let keep = match &conditions {
            Some(c) => holds(c, |field| lookup(record, field))
                .map_err(|why| bad_request(&format!("conditions is invalid: {why}.")))?,
            None => true,
        };
        if keep {
            chosen.push(i);
        }
    }
    Ok(chosen
        .into_iter()
        .skip((page - 1) * page_size)
        .take(page_size)
        .collect())
}

fn reference(list: &[(u64, &str)], id: Option<u64>) -> Value {
    match id.and_then(|id| list.iter().find(|(i, _)| *i == id)) {
        Some((id, name)) => json!({"id": id, "name": name}),
        None => Value::Null,
    }
}

fn ticket_json(desk: &Desk, t: &Ticket) -> Value {
    let company = desk.company(t.company_id).expect("validated on create");
    json!({
        "id": t.id,
        "summary": t.summary,
        "recordType": "ServiceTicket",
        "board": reference(&BOARDS, t.board),
        "status": reference(&[NEW_STATUS], t.status),
        "company": {"id": company.id, "identifier": company.identifier, "name": company.name},
        "priority": reference(&PRIORITIES, t.priority),
        "type": reference(&TYPES, t.kind),
        "externalXRef": t.external_ref,
        "closedFlag": false,
        "_info": {},
    })
}

/// `GET /company/companies?conditions=...&page=...&pageSize=...`.
async fn companies(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    let desk = gate(&app, &headers)?;
    let chosen = select(&desk.companies, &query, |c, field| match field {
        "id" => Some(Val::Num(c.id as i64)),
        "name" => Some(Val::Str(c.name.clone())),
        "identifier" => Some(Val::Str(c.identifier.clone())),
        _ => None,
    })?;
    let list: Vec<Value> = chosen
        .into_iter()
        .map(|i| &desk.companies[i])
        .map(|c| json!({"id": c.id, "identifier": c.identifier, "name": c.name, "_info": {}}))
        .collect();
    Ok(axum::Json(list).into_response())
}

/// `GET /service/tickets?conditions=...`.
async fn tickets(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    let desk = gate(&app, &headers)?;
    let chosen = select(&desk.tickets, &query, |t, field| match field {
        "id" => Some(Val::Num(t.id as i64)),
        "summary" => Some(Val::Str(t.summary.clone())),
        "externalXRef" => Some(Val::Str(t.external_ref.clone().unwrap_or_default())),
        "company/id" => Some(Val::Num(t.company_id as i64)),
        "board/id" => Some(Val::Num(t.board.unwrap_or_default() as i64)),
        "closedFlag" => Some(Val::Bool(false)),
        _ => None,
    })?;
    let list: Vec<Value> = chosen
        .into_iter()
        .map(|i| ticket_json(&desk, &desk.tickets[i]))
        .collect();
    Ok(axum::Json(list).into_response())
}

/// A reference object's `id`, or `Err` with why it is not one.
fn reference_id(body: &Value, field: &str) -> Result<Option<u64>, Value> {
    match &body[field] {
        Value::Null => Ok(None),
        v => v["id"].as_u64().map(Some).ok_or_else(|| {
            field_error(
                "InvalidField",
                field,
                &format!("{field} must be an object with a numeric id."),
            )
        }),
    }
}

fn known(list: &[(u64, &str)], field: &str, id: Option<u64>) -> Result<Option<u64>, Value> {
    match id {
        Some(id) if !list.iter().any(|(i, _)| *i == id) => Err(field_error(
            "InvalidField",
            field,
            &format!("{field} id {id} was not found."),
        )),
        id => Ok(id),
    }
}

/// The board by `id` or by `name`; required by the stand-in.
fn board(body: &Value) -> Result<u64, Value> {
    let by_name = body["board"]["name"]
        .as_str()
        .and_then(|name| BOARDS.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)));
    match (&body["board"], body["board"]["id"].as_u64(), by_name) {
        (Value::Null, _, _) => Err(field_error(
            "MissingRequiredField",
            "board",
            "The board field is required.",
        )),
        (_, Some(id), _) => known(&BOARDS, "board", Some(id)).map(|_| id),
        (_, None, Some((id, _))) => Ok(*id),
        _ => Err(field_error(
            "InvalidField",
            "board",
            "board must name an existing board by id or name.",
        )),
    }
}

/// Everything wrong with a ticket body, or the ticket it describes (id not yet given).
fn new_ticket(desk: &Desk, body: &Value) -> Result<Ticket, Vec<Value>> {
    let mut errors = Vec::new();
    // The limit counts what was sent, spaces included; only emptiness ignores them.
    let summary = body["summary"].as_str().unwrap_or_default();
    if summary.trim().is_empty() {
        errors.push(field_error(
            "MissingRequiredField",
            "summary",
            "The summary field is required.",
        ));
    } else if chars(summary) > SUMMARY_MAX {
        errors.push(field_error(
            "InvalidField",
            "summary",
            "The field summary must be a string with a maximum length of 100.",
        ));
    }
    let company = match reference_id(body, "company") {
        Ok(Some(id)) if desk.company(id).is_some() => Some(id),
        Ok(Some(id)) => {
            errors.push(field_error(
                "InvalidField",
                "company",
                &format!("company id {id} was not found."),
            ));
            None
        }
        Ok(None) => {
            errors.push(field_error(
                "MissingRequiredField",
                "company",
                "The company field is required.",
            ));
            None
        }
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let board = board(body).map_err(|e| errors.push(e)).ok();
    let priority = reference_id(body, "priority")
        .and_then(|id| known(&PRIORITIES, "priority", id))
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let kind = reference_id(body, "type")
        .and_then(|id| known(&TYPES, "type", id))
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let external_ref = match &body["externalXRef"] {
        Value::Null => None,
        Value::String(s) if chars(s) <= SUMMARY_MAX => Some(s.clone()),
        _ => {
            errors.push(field_error(
                "InvalidField",
                "externalXRef",
                "The field externalXRef must be a string with a maximum length of 100.",
            ));
            None
        }
    };
    let description = match &body["initialDescription"] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        _ => {
            errors.push(field_error(
                "InvalidField",
                "initialDescription",
                "initialDescription must be a string.",
            ));
            String::new()
        }
    };
    match (errors.is_empty(), company) {
        (true, Some(company_id)) => Ok(Ticket {
            id: 0,
            company_id,
            summary: summary.to_string(),
            description,
            board,
            priority,
            kind,
            status: Some(NEW_STATUS.0),
            external_ref,
            notes: Vec::new(),
            created_at: chrono::Utc::now(),
        }),
        _ => Err(errors),
    }
}

fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, Refusal> {
    if !is_json(headers) {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "Content-Type must be application/json.",
            Vec::new(),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(bad_request("The request body must be a JSON object.")),
    }
}

/// `POST /service/tickets`: 201 with the ticket.
async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let mut desk = gate(&app, &headers)?;
    let body = json_body(&headers, &body)?;
    let mut ticket = new_ticket(&desk, &body).map_err(|errors| {
        error(
            StatusCode::BAD_REQUEST,
            "InvalidObject",
            "ticket object is invalid",
            errors,
        )
    })?;
    ticket.id = desk.next_ticket_id();
    let answer = ticket_json(&desk, &ticket);
    desk.tickets.push(ticket);
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

/// `POST /service/tickets/{id}/notes`: 201 with the note.
async fn add_note(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let mut desk = gate(&app, &headers)?;
    let body = json_body(&headers, &body)?;
    let Some(ticket_id) = desk.ticket_in_path(&id) else {
        return Err(error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("Ticket ID {id} was not found."),
            Vec::new(),
        ));
    };
    let text = body["text"].as_str().unwrap_or_default();
    let flag = |name: &str| body[name].as_bool().unwrap_or(false);
    let flags: Vec<&str> = [
        "detailDescriptionFlag",
        "internalAnalysisFlag",
        "resolutionFlag",
    ]
    .into_iter()
    .filter(|f| flag(f))
    .collect();
    let mut errors = Vec::new();
    if text.trim().is_empty() {
        errors.push(field_error(
            "MissingRequiredField",
            "text",
            "The text field is required.",
        ));
    }
    if flags.is_empty() {
        errors.push(field_error(
            "InvalidField",
            "detailDescriptionFlag",
            "One of detailDescriptionFlag, internalAnalysisFlag or resolutionFlag must be true.",
        ));
    }
    if !errors.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidObject",
            "note object is invalid",
            errors,
        ));
    }
    let note_id = desk.next_note_id();
    let ticket = desk.ticket_mut(ticket_id).expect("checked above");
    ticket.notes.push(Note {
        id: note_id,
        title: None,
        text: text.to_string(),
        kind: flags.join(","),
        created_at: chrono::Utc::now(),
    });
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "id": note_id,
            "ticketId": ticket_id,
            "text": text,
            "detailDescriptionFlag": flag("detailDescriptionFlag"),
            "internalAnalysisFlag": flag("internalAnalysisFlag"),
            "resolutionFlag": flag("resolutionFlag"),
            "_info": {},
        })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_percent_wildcards_ignoring_case() {
        assert!(like("[RW 1234] Rule on adele", "%1234%"));
        assert!(like("Contoso, Ltd.", "contoso%"));
        assert!(like("Contoso, Ltd.", "%LTD."));
        assert!(!like("Contoso", "%1234%"));
        assert!(like("abc", "abc"));
        assert!(!like("abcd", "abc"));
    }

    #[test]
    fn conditions_bind_and_tighter_than_or() {
        let c = parse_conditions(r#"summary like "%k%" and company/id = 3 or id = 9"#).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].len(), 2);
        assert!(parse_conditions("summary like").is_err());
        assert!(parse_conditions(r#"(id = 1)"#).is_err());
    }
}
