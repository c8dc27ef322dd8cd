//! Authenticated calls to Microsoft APIs: a token for the tenant and resource, the
//! retrying HTTP layer, and one retry with a fresh token when the API answers 401.
#![warn(missing_docs)]

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::auth::{AppIdentity, Resource, TokenProvider};
use crate::cloud::Endpoints;
use crate::http::{Http, HttpError, PAGE_LIMIT, Reply, RetryStats};
use crate::problem::{Problem, ProblemKind};

/// Microsoft's APIs as every scan and remediation calls them; clones share the HTTP
/// client and the token cache.
#[derive(Clone)]
pub struct Api {
    /// The retrying HTTP layer every call goes through.
    pub http: Http,
    /// The installation's endpoints; [`Api::endpoints_of`] gives a tenant's own cloud's.
    pub endpoints: Endpoints,
    /// Where the tenants' tokens come from, cached per tenant and resource.
    pub tokens: Arc<TokenProvider>,
}

/// A definite error answer from an API, with its code when the body had one.
#[derive(Debug)]
pub struct ApiError {
    /// The answer's HTTP status.
    pub status: StatusCode,
    /// Microsoft's `error.code` (e.g. `AF20023`, `Request_ResourceNotFound`); empty when
    /// the body had none.
    pub code: String,
    /// Empty when the body held nothing readable (Exchange's NUL-byte 403, ../shared/reference/m365-api.md §G 6).
    pub message: String,
    /// The .NET exception Exchange names, e.g. `…ManagementObjectNotFoundException`.
    pub exception: Option<String>,
}

/// Exchange's `error.message` on every failure, which says nothing (§G 6).
const EXCHANGE_NO_REASON: &str = "Invalid Operation";

/// `v[name]`, matching the key in any case: Exchange sends `internalexception` where
/// clients written in PowerShell read `internalException` (§G 6).
fn field<'v>(v: &'v Value, name: &str) -> &'v Value {
    v.as_object()
        .and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .unwrap_or(&Value::Null)
}

/// Splits Exchange's `details[].message`, `[id|]Type|text`, into the type and the text.
fn exchange_detail(message: &str) -> (Option<String>, String) {
    let parts: Vec<&str> = message.splitn(3, '|').collect();
    match parts.iter().position(|p| p.ends_with("Exception")) {
        Some(i) if i + 1 < parts.len() => (
            Some(parts[i].to_string()),
            parts[i + 1..].join("|").trim().to_string(),
        ),
        _ => (None, message.trim().to_string()),
    }
}

impl ApiError {
    /// Graph's and the Management API's `error.code` / `error.message`; for Exchange's
    /// `InvokeCommand` the cmdlet's own words, which sit in `error.details[].message`
    /// (as `Ex6F9304|Type|text`, absent on some errors) or
    /// `error.innererror.internalexception.message`, never the bare "Invalid Operation"
    /// of `error.message` (../shared/reference/m365-api.md §G 6).
    fn from_reply(reply: &Reply) -> Self {
        let raw = reply.text();
        let Ok(body) = serde_json::from_slice::<Value>(&reply.body) else {
            let readable = raw.chars().any(|c| !c.is_control() && !c.is_whitespace());
            let message = if readable {
                crate::shown::short(&raw)
            } else {
                String::new()
            };
            return ApiError {
                status: reply.status,
                code: String::new(),
                message,
                exception: None,
            };
        };
        let error = field(&body, "error");
        let text = |v: &Value| {
            v.as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let detail = match field(error, "details") {
            Value::Array(items) => items.iter().find_map(|d| text(field(d, "message"))),
            d => text(field(d, "message")),
        }
        .map(|m| exchange_detail(&m));
        let internal = field(field(error, "innererror"), "internalexception");
        let exception = detail
            .as_ref()
            .and_then(|(t, _)| t.clone())
            .or_else(|| text(field(internal, "type")));
        let message = detail
            .map(|(_, m)| m)
            .filter(|m| !m.is_empty())
            .or_else(|| text(field(internal, "message")))
            .or_else(|| text(field(error, "message")).filter(|m| m != EXCHANGE_NO_REASON))
            .unwrap_or_else(|| match text(field(error, "message")) {
                Some(_) => "Exchange gave no reason beyond \"Invalid Operation\"".into(),
                None => crate::shown::short(&raw),
            });
        ApiError {
            status: reply.status,
            code: text(field(error, "code")).unwrap_or_default(),
            message,
            exception,
        }
    }

    /// Exchange could not find the object, whatever the status (§G 6).
    pub fn not_found(&self) -> bool {
        self.exception
            .as_deref()
            .is_some_and(|t| t.ends_with("ManagementObjectNotFoundException"))
            || (self.status == StatusCode::NOT_FOUND && self.exception.is_none())
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
    /// Extra headers as (name, value), sent with every attempt (e.g. Exchange's
    /// `X-AnchorMailbox`).
    pub headers: Vec<(&'static str, String)>,
}

impl Api {
    /// The tenant's endpoints: those of its own cloud.
    pub fn endpoints_of(&self, app: &AppIdentity) -> Endpoints {
        self.endpoints.in_cloud(app.cloud)
    }

    /// Sends an authenticated request, reading at most [`PAGE_LIMIT`] of the answer.
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
        self.send_capped(app, resource, method, url, what, stats, request, PAGE_LIMIT)
            .await
    }

    /// [`Api::send`] reading at most `limit` bytes. A URL outside the cloud's hosts (a
    /// `nextLink`, `NextPageUri` or `contentUri` Microsoft's answer named) is refused
    /// before the token is fetched, so the tenant's token never goes there.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_capped(
        &self,
        app: &AppIdentity,
        resource: Resource,
        method: Method,
        url: &str,
        what: &str,
        stats: &RetryStats,
        request: Request<'_>,
        limit: usize,
    ) -> Result<Reply, CallError> {
        let endpoints = self.endpoints_of(app);
        if !endpoints.owns(url) {
            return Err(CallError::Problem(Problem::new(
                ProblemKind::ForeignHost,
                format!(
                    "{what}: Microsoft's answer pointed to {}, which is not one of this tenant's Microsoft hosts ({}); \
                     Rulewatch refused to send the tenant's token there",
                    crate::cloud::origin(url),
                    endpoints.hosts().join(", ")
                ),
            )));
        }
        let mut refreshed = false;
        loop {
            let token = self.tokens.token(app, resource, stats).await?;
            let result = self
                .http
                .send_capped(what, stats, limit, || {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, body: &[u8]) -> ApiError {
        let reply = Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Default::default(),
            body: bytes::Bytes::copy_from_slice(body),
        };
        ApiError::from_reply(&reply)
    }

    #[test]
    fn exchange_words_come_from_the_lowercase_internal_exception_never_invalid_operation() {
        let e = error(
            400,
            br#"{"error":{"code":"BadRequest","message":"Invalid Operation","innererror":{"internalexception":
                {"message":"Rule 'x' has a problem.","type":"System.Management.Automation.ParameterBindingException"}}}}"#,
        );
        assert_eq!(e.message, "Rule 'x' has a problem.");
        assert!(!e.not_found());
        let bare = error(
            400,
            br#"{"error":{"code":"BadRequest","message":"Invalid Operation"}}"#,
        );
        assert_ne!(bare.message, "Invalid Operation");
        assert!(bare.message.contains("no reason"), "{}", bare.message);
    }

    #[test]
    fn not_found_is_the_exception_type_whatever_the_status() {
        let body = br#"{"error":{"code":"BadRequest","message":"Invalid Operation","details":[{"message":
            "Ex6F9304|Microsoft.Exchange.Management.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object 'a|b' couldn't be found."}]}}"#;
        for status in [400, 403] {
            let e = error(status, body);
            assert!(e.not_found(), "{status}");
            assert_eq!(
                e.message,
                "The operation couldn't be performed because object 'a|b' couldn't be found."
            );
        }
    }

    #[test]
    fn a_body_of_nul_bytes_reads_as_no_message() {
        let e = error(403, &[0u8; 32]);
        assert_eq!((e.message.as_str(), e.code.as_str()), ("", ""));
        assert_eq!(error(403, b"\x01\x02\r\n").message, "");
    }
}
