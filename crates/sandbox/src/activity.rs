//! The Office 365 Management Activity API under `/api/v1.0/{tenant}/activity/feed/` (A3–A9).
//!
//! Behaviours taken from ../shared/reference/m365-api.md §G:
//! - Starting a subscription that is already enabled answers HTTP 400 `AF20024` "The
//!   subscription is already enabled. No property change." (§G 2).
//! - A stopped (`AF20023`) subscription is enabled again by `subscriptions/start` (§G 2).
//! - A start less than 15 minutes after the previous one for the same content type answers
//!   HTTP 429 "Too many frequent subscription start requests. Please retry again after …"
//!   (A3; the words from elastic/integrations #15476).
//! - With audit logging off, `subscriptions/start` answers HTTP 400 with the
//!   `StartSubscription […]` code and a `DataServiceException` message followed by a .NET
//!   stack trace (§G 1); the tenant then has no subscription to list.
//! - Two clouds' Management APIs are served: the commercial one at the root, GCC's under
//!   `/gcc` (a tenant's scenario `cloud`). Guess, because one base URL cannot have two
//!   hosts: the path prefix stands for `manage-gcc.office.com`. Each answers a token for
//!   another resource, or for a tenant of the other cloud, with HTTP 401 `AF10001` and an
//!   empty permission set "()" (§G 3).

use std::borrow::Cow;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use url::form_urlencoded;
use uuid::Uuid;

use crate::app::{App, TenantEntry};
use crate::feed::RETENTION;
use crate::scenario::{ContentType, SubscriptionState, TenantCloud};
use crate::times::{content_time, parse_window_time};
use crate::token::{Audience, Bearer};

const MAX_WINDOW: Duration = Duration::hours(24);

/// A refused call, rendered as Microsoft's error body for this API.
pub(crate) enum AfError {
    /// A bad, expired or missing token: the service's ASP.NET default answer, as seen from
    /// manage.office.com in the wild (`{"Message":…}` with `WWW-Authenticate: Bearer`).
    Unauthorized,
    Api {
        status: StatusCode,
        /// Built per request only for the audit-off answer (§G 1).
        code: Cow<'static, str>,
        message: String,
    },
}

pub(crate) fn af_error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> AfError {
    AfError::Api {
        status,
        code: Cow::Borrowed(code),
        message: message.into(),
    }
}

impl IntoResponse for AfError {
    fn into_response(self) -> Response {
        match self {
            AfError::Unauthorized => {
                let body =
                    Json(json!({"Message": "Authorization has been denied for this request."}));
                let mut response = (StatusCode::UNAUTHORIZED, body).into_response();
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            AfError::Api {
                status,
                code,
                message,
            } => (
                status,
                Json(json!({"error": {"code": code, "message": message}})),
            )
                .into_response(),
        }
    }
}

/// The query string as pairs; names match case-insensitively and empty values count as absent.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// The checks every operation makes, in order; answers the tenant's index.
fn authorize(
    app: &App,
    service: TenantCloud,
    headers: &HeaderMap,
    url_tenant: &str,
    query: &Query,
) -> Result<usize, AfError> {
    let Bearer::Valid(grant) = app.tokens.bearer(headers) else {
        return Err(AfError::Unauthorized);
    };
    let audience = match service {
        TenantCloud::Global => Audience::Manage,
        TenantCloud::Gcc => Audience::ManageGcc,
    };
    // §G 3: a token for another resource or cloud: "wrong cloud or no consent".
    if grant.audience != audience || app.tenants[grant.tenant].config.cloud != service {
        return Err(af_error(
            StatusCode::UNAUTHORIZED,
            "AF10001",
            "The permission set () sent in the request does not include the expected permission \
             ActivityFeed.Read.",
        ));
    }
    if Uuid::parse_str(url_tenant).is_err() {
        return Err(af_error(
            StatusCode::BAD_REQUEST,
            "AF20013",
            format!("The tenant ID passed in the URL ({url_tenant}) is not a valid GUID."),
        ));
    }
    let token_tenant = &app.tenants[grant.tenant];
    if !token_tenant.id.eq_ignore_ascii_case(url_tenant) {
        return Err(af_error(
            StatusCode::UNAUTHORIZED,
            "AF20010",
            format!(
                "The tenant ID passed in the URL ({url_tenant}) does not match the tenant ID passed in the access \
                 token ({}).",
                token_tenant.id
            ),
        ));
    }
    if !grant.roles.iter().any(|r| r == "ActivityFeed.Read") {
        return Err(af_error(
            StatusCode::UNAUTHORIZED,
            "AF10001",
            format!(
                "The permission set ({}) sent in the request does not include the expected permission \
                 ActivityFeed.Read.",
                grant.roles.join(",")
            ),
        ));
    }
    // Microsoft accepts calls without it (shared quota, A8); the sandbox refuses them so a
    // client that forgets it is caught in tests.
    let Some(publisher) = query.get("PublisherIdentifier") else {
        app.stats.missing_publisher_identifier();
        return Err(af_error(
            StatusCode::BAD_REQUEST,
            "AF20001",
            "Missing parameter: PublisherIdentifier.",
        ));
    };
    app.stats.publisher_identifier(publisher);
    Ok(grant.tenant)
}

fn content_type(query: &Query) -> Result<ContentType, AfError> {
    let text = query.get("contentType").ok_or_else(|| {
        af_error(
            StatusCode::BAD_REQUEST,
            "AF20001",
            "Missing parameter: contentType.",
        )
    })?;
    ContentType::parse(text).ok_or_else(|| {
        af_error(
            StatusCode::BAD_REQUEST,
            "AF20020",
            "The specified content type is not valid.",
        )
    })
}

fn subscription_json(content_type: ContentType, state: SubscriptionState) -> Value {
    let status = if state == SubscriptionState::Disabled {
        "disabled"
    } else {
        "enabled"
    };
    json!({"contentType": content_type.as_str(), "status": status, "webhook": null})
}

pub(crate) fn disabled() -> AfError {
    // Guess: which admin Microsoft names; the reference only says "a tenant admin" or "a service admin".
    af_error(
        StatusCode::BAD_REQUEST,
        "AF20023",
        "The subscription was disabled by a tenant admin.",
    )
}

/// Microsoft allows one start per content type every 15 minutes (A3).
const START_SPACING: Duration = Duration::minutes(15);

/// `POST subscriptions/start?contentType=…`. Webhooks are not simulated: any body is ignored.
pub(crate) async fn start_subscription(
    State(app): State<Arc<App>>,
    Extension(service): Extension<TenantCloud>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AfError> {
    let query = Query::parse(raw.as_deref());
    let t = authorize(&app, service, &headers, &tenant, &query)?;
    let content_type = content_type(&query)?;
    let entry = &app.tenants[t];
    let mut live = entry.live_mut();
    let now = app.clock.now();
    if let Some(last) = live.started_at[content_type.index()]
        && now - last < START_SPACING
    {
        let left = START_SPACING - (now - last);
        // Guess: the code; the status and words are from elastic/integrations #15476.
        return Err(af_error(
            StatusCode::TOO_MANY_REQUESTS,
            "AF429",
            format!(
                "Too many frequent subscription start requests. Please retry again after {}m {}s",
                left.num_minutes(),
                left.num_seconds() % 60
            ),
        ));
    }
    live.started_at[content_type.index()] = Some(now);
    app.stats.subscription_started();
    if !live.audit_enabled {
        return Err(audit_off(entry, content_type, &query));
    }
    let state = &mut live.subscriptions[content_type.index()];
    if *state == SubscriptionState::Enabled {
        return Err(af_error(
            StatusCode::BAD_REQUEST,
            "AF20024",
            "The subscription is already enabled. No property change.",
        ));
    }
    *state = SubscriptionState::Enabled;
    Ok(Json(subscription_json(content_type, SubscriptionState::Enabled)).into_response())
}

/// The answer to a start in a tenant without audit logging (../shared/reference/m365-api.md §G 1): the code
/// names the call's context and is cut off where Microsoft cuts it; the message carries the
/// rest of it, the exception and a stack trace.
fn audit_off(entry: &TenantEntry, content_type: ContentType, query: &Query) -> AfError {
    let publisher = query.get("PublisherIdentifier").unwrap_or_default();
    let client_id = &entry.config.client_id;
    AfError::Api {
        status: StatusCode::BAD_REQUEST,
        code: Cow::Owned(format!(
            "StartSubscription [CorrId={}][TenantId={},ContentType={},ApplicationId={client_id},PublisherId={publisher}][AppId",
            Uuid::new_v4(),
            entry.id,
            content_type.as_str()
        )),
        // Guess: the frames of the stack trace; the reports quote only its first lines.
        message: format!(
            "{client_id}] failed. Exception: Microsoft.Office.Compliance.Audit.DataServiceException: Tenant {} does \
             not exist.\r\n   at Microsoft.Office.Compliance.Audit.API.AuditApiDataService.GetTenantInfo(Guid tenantId)\r\n   \
             at Microsoft.Office.Compliance.Audit.API.SubscriptionManager.StartSubscription(Guid tenantId, String \
             contentType, Webhook webhook)\r\n   at Microsoft.Office.Compliance.Audit.API.Controllers.\
             SubscriptionsController.Start(String tenantId, String contentType)",
            entry.id
        ),
    }
}

/// `GET subscriptions/list`.
pub(crate) async fn list_subscriptions(
    State(app): State<Arc<App>>,
    Extension(service): Extension<TenantCloud>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AfError> {
    let query = Query::parse(raw.as_deref());
    let t = authorize(&app, service, &headers, &tenant, &query)?;
    let live = app.tenants[t].live();
    let list: Vec<Value> = ContentType::ALL
        .into_iter()
        .filter(|_| live.audit_enabled)
        .filter(|ct| live.subscriptions[ct.index()] != SubscriptionState::Absent)
        .map(|ct| subscription_json(ct, live.subscriptions[ct.index()]))
        .collect();
    Ok(Json(list).into_response())
}

/// `startTime`/`endTime`, checked against the rules of A4.
fn window(query: &Query, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), AfError> {
    let window_rule = || {
        af_error(
            StatusCode::BAD_REQUEST,
            "AF20030",
            "Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 \
             hours apart, with the start time no more than 7 days in the past.",
        )
    };
    let parse = |name: &str, text: &str| {
        parse_window_time(text).ok_or_else(|| {
            // Guess: Microsoft's answer to an unreadable time; AF20002 is its wrong-type code.
            af_error(
                StatusCode::BAD_REQUEST,
                "AF20002",
                format!("Invalid parameter type: {name}. Expected type: DateTime."),
            )
        })
    };
    match (query.get("startTime"), query.get("endTime")) {
        // The reference page's reading of an omitted window (A4 notes the conflict).
        (None, None) => Ok((now - MAX_WINDOW, now)),
        (Some(start), Some(end)) => {
            let (start, end) = (parse("startTime", start)?, parse("endTime", end)?);
            if start >= end {
                return Err(af_error(
                    StatusCode::BAD_REQUEST,
                    "AF20055",
                    "Start time and end time must both be specified (or both omitted) and must be less than or equal \
                     to 24 hours apart, with the start time prior to end time and start time no more than 7 days in \
                     the past.",
                ));
            }
            if end - start > MAX_WINDOW || start < now - RETENTION {
                return Err(window_rule());
            }
            Ok((start, end))
        }
        _ => Err(window_rule()),
    }
}

/// `GET subscriptions/content?contentType=…&startTime=…&endTime=…[&nextPage=…]`.
pub(crate) async fn list_content(
    State(app): State<Arc<App>>,
    Extension(service): Extension<TenantCloud>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AfError> {
    let query = Query::parse(raw.as_deref());
    let t = authorize(&app, service, &headers, &tenant, &query)?;
    let content_type = content_type(&query)?;
    let now = app.clock.now_ms();
    let window = window(&query, now)?;
    let live = app.tenants[t].live().clone();
    // Guess: with auditing off no subscription can exist (its start fails, §G 1).
    let state = match live.audit_enabled {
        true => live.subscriptions[content_type.index()],
        false => SubscriptionState::Absent,
    };
    match state {
        SubscriptionState::Enabled => {}
        SubscriptionState::Absent => {
            return Err(af_error(
                StatusCode::BAD_REQUEST,
                "AF20022",
                "No subscription found for the specified content type.",
            ));
        }
        SubscriptionState::Disabled => return Err(disabled()),
    }

    let blobs = app.feed.listable(t, content_type, window, now);
    let first = match query.get("nextPage") {
        None => 0,
        Some(token) => blobs
            .iter()
            .position(|b| b.page_token() == token)
            .ok_or_else(|| {
                af_error(
                    StatusCode::BAD_REQUEST,
                    "AF20031",
                    format!("Invalid nextPage Input: {token}."),
                )
            })?,
    };
    let tenant_id = &app.tenants[t].id;
    let page = &blobs[first..blobs.len().min(first + app.page_size)];
    let items: Vec<Value> = page
        .iter()
        .map(|b| {
            json!({
                "contentType": b.content_type.as_str(),
                "contentId": b.id,
                "contentUri": format!(
                    "{}{}/api/v1.0/{tenant_id}/activity/feed/audit/{}",
                    app.base_url,
                    service.management_prefix(),
                    b.id
                ),
                "contentCreated": content_time(b.created),
                "contentExpiration": content_time(b.expires()),
            })
        })
        .collect();
    let mut response = Json(items).into_response();
    if let Some(next) = blobs.get(first + app.page_size) {
        let mut params = form_urlencoded::Serializer::new(String::new());
        for (name, value) in query
            .0
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("nextPage"))
        {
            params.append_pair(name, value);
        }
        params.append_pair("nextPage", &next.page_token());
        let url = format!(
            "{}{}/api/v1.0/{tenant_id}/activity/feed/subscriptions/content?{}",
            app.base_url,
            service.management_prefix(),
            params.finish()
        );
        response.headers_mut().insert(
            app.next_page_header.clone(),
            HeaderValue::from_str(&url).expect("URL-encoded text is a valid header"),
        );
    }
    Ok(response)
}

/// `GET audit/{contentId}`: the blob's records.
pub(crate) async fn fetch_blob(
    State(app): State<Arc<App>>,
    Extension(service): Extension<TenantCloud>,
    Path((tenant, content_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AfError> {
    let query = Query::parse(raw.as_deref());
    let t = authorize(&app, service, &headers, &tenant, &query)?;
    let now = app.clock.now_ms();
    let Some(blob) = app
        .feed
        .blob(&content_id)
        .filter(|b| b.tenant == t && app.feed.is_listable(b, now))
    else {
        return Err(af_error(
            StatusCode::NOT_FOUND,
            "AF20050",
            format!("The specified content ({content_id}) does not exist."),
        ));
    };
    if blob.expired || blob.expires() <= now {
        return Err(expired(&content_id));
    }
    Ok((
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        app.feed.body(blob),
    )
        .into_response())
}

pub(crate) fn expired(content_id: &str) -> AfError {
    af_error(
        StatusCode::BAD_REQUEST,
        "AF20051",
        format!(
            "Content requested with the key {content_id} has already expired. Content older than 7 days cannot be \
             retrieved."
        ),
    )
}
