//! The Microsoft Graph call Rulewatch makes: `GET /v1.0/domains` (B5).

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
use crate::token::{Audience, Bearer};

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

fn unauthenticated(message: &str) -> Response {
    graph_error(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        message,
    )
}

/// `GET /v1.0/domains` for the token's tenant.
pub(crate) async fn domains(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let grant = match app.tokens.bearer(&headers) {
        Bearer::Missing => return unauthenticated("Access token is empty."),
        Bearer::Unknown => return unauthenticated("Access token validation failure."),
        Bearer::Expired => {
            return unauthenticated("Lifetime validation failed, the token is expired.");
        }
        Bearer::Valid(grant) if grant.audience != Audience::Graph => {
            return unauthenticated("Access token validation failure. Invalid audience.");
        }
        Bearer::Valid(grant) => grant,
    };
    if !grant.roles.iter().any(|r| r == "Domain.Read.All") {
        return graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
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
