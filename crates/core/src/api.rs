//! Authenticated calls to Microsoft APIs: a token for the tenant and resource, the
//! retrying HTTP layer, and one retry with a fresh token when the API answers 401.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::auth::{AppIdentity, Resource, TokenProvider};
use crate::cloud::Endpoints;
use crate::http::{Http, HttpError, Reply, RetryStats};
use crate::problem::Problem;

#[derive(Clone)]
pub struct Api {
    pub http: Http,
    pub endpoints: Endpoints,
    pub tokens: Arc<TokenProvider>,
}

/// A definite error answer from an API, with its code when the body had one.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ApiError {
    /// Graph's and the Management API's `error.code` / `error.message`; for Exchange's
    /// `InvokeCommand` the cmdlet's own words, which sit in `error.details[].message`
    /// (as `Ex6F9304|Type|text`) or `error.innererror.internalException.message`
    /// (m365-api.md B7).
    fn from_reply(reply: &Reply) -> Self {
        let Ok(body) = serde_json::from_slice::<Value>(&reply.body) else {
            return ApiError {
                status: reply.status,
                code: String::new(),
                message: crate::http::short(&reply.text()),
            };
        };
        let error = &body["error"];
        let text = |v: &Value| {
            v.as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let detail = match &error["details"] {
            Value::Array(items) => items.iter().find_map(|d| text(&d["message"])),
            d => text(&d["message"]),
        }
        .map(|m| m.rsplit('|').next().unwrap_or(&m).trim().to_string());
        let message = detail
            .or_else(|| text(&error["innererror"]["internalException"]["message"]))
            .or_else(|| text(&error["message"]))
            .unwrap_or_else(|| crate::http::short(&reply.text()));
        ApiError {
            status: reply.status,
            code: text(&error["code"]).unwrap_or_default(),
            message,
        }
    }
}

/// What an authenticated call can end in besides success.
#[derive(Debug)]
pub enum CallError {
    /// Could not get a token, or retries ran out.
    Problem(Problem),
    /// The API answered with an error worth interpreting by the caller.
    Api(ApiError),
}

impl From<Problem> for CallError {
    fn from(p: Problem) -> Self {
        CallError::Problem(p)
    }
}

/// A JSON body and extra headers for [`Api::send`].
#[derive(Default)]
pub struct Request<'a> {
    /// Sent as `application/json`. May hold a secret (a new password): it is never
    /// logged or put in an error.
    pub json: Option<&'a serde_json::Value>,
    pub headers: Vec<(&'static str, String)>,
}

impl Api {
    #[allow(clippy::too_many_arguments)]
    pub async fn send(
        &self,
        app: &AppIdentity,
        resource: Resource,
        method: Method,
        url: &str,
        what: &str,
        stats: &RetryStats,
        request: Request<'_>,
    ) -> Result<Reply, CallError> {
        let mut refreshed = false;
        loop {
            let token = self.tokens.token(app, resource, stats).await?;
            let result = self
                .http
                .send(what, stats, || {
                    let mut req = self
                        .http
                        .client()
                        .request(method.clone(), url)
                        .bearer_auth(token.expose_secret());
                    for (name, value) in &request.headers {
                        req = req.header(*name, value);
                    }
                    match request.json {
                        Some(json) => req.json(json),
                        // Microsoft answers 411 to a POST without a length.
                        None if method == Method::POST => req.body(""),
                        None => req,
                    }
                })
                .await;
            match result {
                Ok(reply) => return Ok(reply),
                Err(HttpError::Status { reply, .. })
                    if reply.status == StatusCode::UNAUTHORIZED && !refreshed =>
                {
                    let err = ApiError::from_reply(&reply);
                    // A missing permission is not cured by a new token.
                    if err.code == "AF10001" {
                        return Err(CallError::Api(err));
                    }
                    tracing::info!("{what}: token refused (HTTP 401), retrying with a fresh token");
                    self.tokens.invalidate(&app.tenant_id, resource);
                    refreshed = true;
                }
                Err(HttpError::Status { reply, .. }) => {
                    return Err(CallError::Api(ApiError::from_reply(&reply)));
                }
                Err(e) => return Err(CallError::Problem(e.into())),
            }
        }
    }
}
