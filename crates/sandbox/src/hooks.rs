//! A webhook receiver standing in for an MSP's own endpoint (an automation platform or a
//! ticketing bridge): it records every POST as received, raw body and headers, so tests
//! check the signature and the idempotency key themselves, and it can be told to fail the
//! next requests. Not Microsoft: its only contract is Rulewatch's documented webhook
//! schema. Guess, marked as such: receivers answer 2xx on success and 5xx while down,
//! as most HTTP services do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::app::App;

/// One POST as it arrived.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Received {
    /// `X-Rulewatch-Delivery`, the idempotency key.
    delivery: Option<String>,
    /// `X-Rulewatch-Signature`, `sha256=<hex>`.
    signature: Option<String>,
    /// `Content-Type`.
    content_type: Option<String>,
    /// The body exactly as sent, for the signature check.
    body: String,
}

#[derive(Default)]
struct Hook {
    received: Vec<Received>,
    /// Requests still to answer 503 before accepting again.
    fail_next: u32,
    /// Requests answered 503, for the tests' counts.
    refused: u32,
}

/// Every hook's record, by the name in its path.
#[derive(Default)]
pub(crate) struct Receiver {
    hooks: Mutex<HashMap<String, Hook>>,
}

impl Receiver {
    fn with<T>(&self, name: &str, f: impl FnOnce(&mut Hook) -> T) -> T {
        let mut hooks = self.hooks.lock().unwrap_or_else(PoisonError::into_inner);
        f(hooks.entry(name.to_string()).or_default())
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `POST /_sandbox/hooks/{name}`: records the delivery, or answers 503 while told to fail.
pub(crate) async fn receive(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    app.hooks.with(&name, |hook| {
        if hook.fail_next > 0 {
            hook.fail_next -= 1;
            hook.refused += 1;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        hook.received.push(Received {
            delivery: header(&headers, "x-rulewatch-delivery"),
            signature: header(&headers, "x-rulewatch-signature"),
            content_type: header(&headers, "content-type"),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        StatusCode::NO_CONTENT
    })
}

/// What a hook holds, for `GET /_sandbox/hooks/{name}/received`.
#[derive(Serialize)]
pub(crate) struct Record {
    received: Vec<Received>,
    refused: u32,
}

/// `GET /_sandbox/hooks/{name}/received`: every delivery accepted, oldest first.
pub(crate) async fn received(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Json<Record> {
    Json(app.hooks.with(&name, |hook| Record {
        received: hook.received.clone(),
        refused: hook.refused,
    }))
}

/// How many of the next requests fail.
#[derive(Deserialize)]
pub(crate) struct Fail {
    count: u32,
}

/// `POST /_sandbox/hooks/{name}/fail?count=N`: the next `N` requests answer 503.
pub(crate) async fn fail(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(fail): Query<Fail>,
) -> StatusCode {
    app.hooks.with(&name, |hook| hook.fail_next = fail.count);
    StatusCode::NO_CONTENT
}
