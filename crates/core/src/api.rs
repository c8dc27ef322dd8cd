//! Authenticated calls to Microsoft APIs: a token for the tenant and resource, the
//! retrying HTTP layer, and one retry with a fresh token when the API answers 401.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::Deserialize;

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

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorInner,
}

#[derive(Deserialize)]
struct ErrorInner {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl ApiError {
    fn from_reply(reply: &Reply) -> Self {
        match serde_json::from_slice::<ErrorBody>(&reply.body) {
            Ok(b) => ApiError { status: reply.status, code: b.error.code, message: b.error.message },
            Err(_) => ApiError {
                status: reply.status,
                code: String::new(),
                message: crate::http::short(&reply.text()),
            },
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

impl Api {
    pub async fn call(
        &self,
        app: &AppIdentity,
        resource: Resource,
        method: Method,
        url: &str,
        what: &str,
        stats: &RetryStats,
    ) -> Result<Reply, CallError> {
        let mut refreshed = false;
        loop {
            let token = self.tokens.token(app, resource, stats).await?;
            let result = self
                .http
                .send(what, stats, || {
                    let req = self.http.client().request(method.clone(), url).bearer_auth(token.expose_secret());
                    // Microsoft answers 411 to a POST without a length.
                    if method == Method::POST { req.body("") } else { req }
                })
                .await;
            match result {
                Ok(reply) => return Ok(reply),
                Err(HttpError::Status { reply, .. }) if reply.status == StatusCode::UNAUTHORIZED && !refreshed => {
                    let err = ApiError::from_reply(&reply);
                    // A missing permission is not cured by a new token.
                    if err.code == "AF10001" {
                        return Err(CallError::Api(err));
                    }
                    tracing::info!("{what}: token refused (HTTP 401), retrying with a fresh token");
                    self.tokens.invalidate(&app.tenant_id, resource);
                    refreshed = true;
                }
                Err(HttpError::Status { reply, .. }) => return Err(CallError::Api(ApiError::from_reply(&reply))),
                Err(e) => return Err(CallError::Problem(e.into())),
            }
        }
    }
}
