//! Microsoft Graph's error body and bearer check, and `GET /v1.0/domains` (B5).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::app::App;
use crate::scenario::is_initial;
use crate::token::{Audience, Bearer, Grant};

/// Graph's error body, with the `innerError` it always adds.
pub(crate) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let request_id = Uuid::new_v4();
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id.to_string(),
                "client-request-id": request_id.to_string(),
            }
        }
    });
    (status, Json(body)).into_response()
}

/// Graph's refusal of a token: 401 for a missing, unknown, expired or misdirected one, 403
/// for one that may not act here.
pub(crate) enum Refused {
    Unauthenticated(&'static str),
    Forbidden,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Unauthenticated(message) => graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                message,
            ),
            Refused::Forbidden => insufficient_privileges(),
        }
    }
}

/// Who a valid Graph token speaks for.
pub(crate) enum GraphCaller {
    Tenant(Grant),
    /// A technician in the partner's own tenant, when that is no tenant of the scenario.
    PartnerHome,
}

/// A valid Graph token's caller.
pub(crate) fn graph_caller(app: &App, headers: &HeaderMap) -> Result<GraphCaller, Refused> {
    let invalid_audience =
        Refused::Unauthenticated("Access token validation failure. Invalid audience.");
    match app.tokens.bearer(headers) {
        Bearer::Missing => Err(Refused::Unauthenticated("Access token is empty.")),
        Bearer::Unknown => Err(Refused::Unauthenticated("Access token validation failure.")),
        Bearer::Expired => Err(Refused::Unauthenticated(
            "Lifetime validation failed, the token is expired.",
        )),
        Bearer::Valid(grant) if grant.audience != Audience::Graph => Err(invalid_audience),
        Bearer::PartnerHome(home) if home.audience != Audience::Graph => Err(invalid_audience),
        Bearer::Valid(grant) => Ok(GraphCaller::Tenant(grant)),
        Bearer::PartnerHome(_) => Ok(GraphCaller::PartnerHome),
    }
}

/// A valid Graph token's grant for one of the scenario's tenants.
pub(crate) fn graph_grant(app: &App, headers: &HeaderMap) -> Result<Grant, Refused> {
    match graph_caller(app, headers)? {
        GraphCaller::Tenant(grant) => Ok(grant),
        // The partner's own directory is not modelled, so it holds nothing the token may read.
        GraphCaller::PartnerHome => Err(Refused::Forbidden),
    }
}

/// Whether the grant holds any of `roles`.
pub(crate) fn has_any_role(grant: &Grant, roles: &[&str]) -> bool {
    grant.roles.iter().any(|r| roles.contains(&r.as_str()))
}

/// Graph's 403 for a missing permission or directory role.
pub(crate) fn insufficient_privileges() -> Response {
    graph_error(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

/// `GET /v1.0/domains` for the token's tenant.
pub(crate) async fn domains(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let grant = match graph_grant(&app, &headers) {
        Ok(grant) => grant,
        Err(refused) => return refused.into_response(),
    };
    if !has_any_role(&grant, &["Domain.Read.All"]) {
        return insufficient_privileges();
    }
    let tenant = &app.tenants[grant.tenant].config;
    let default = tenant.primary_domain();
    let value: Vec<Value> = tenant
        .domains
        .iter()
        .map(|domain| {
            json!({
                "id": domain,
                "authenticationType": "Managed",
                "isDefault": domain == default,
                "isInitial": domain == tenant.initial_domain() && is_initial(domain),
                "isRoot": true,
                "isVerified": true,
                "supportedServices": ["Email"],
            })
        })
        .collect();
    Json(json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#domains", "value": value})).into_response()
}
