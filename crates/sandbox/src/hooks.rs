//! A webhook receiver standing in for an MSP's own endpoint (an automation platform or a
//! ticketing bridge): it records every POST as received, raw body and headers, so tests
//! check the signature and the idempotency key themselves, and it can be told to fail the
//! next requests. Not Microsoft: its only contract is Rulewatch's documented webhook
//! schema. Guess, marked as such: receivers answer 2xx on success and 5xx while down,
//! as most HTTP services do.
//!
//! Beside it, stand-ins for the two chat services' webhooks, which refuse a message of
//! the wrong shape as the services do:
//! - Teams Workflows ("When a Teams webhook request is received"): a `message` whose first
//!   attachment is an Adaptive Card (`application/vnd.microsoft.card.adaptive`, `type`
//!   `AdaptiveCard`, a `version`, a non-empty `body`); accepted with 202, as the flow's
//!   HTTP trigger answers. Microsoft does not document the refusal's body: 400 with a
//!   line of text is a guess.
//!   Sources: learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/
//!   add-incoming-webhook (the Workflows payload), and
//!   learn.microsoft.com/azure/connectors/connectors-native-reqres (a Request trigger
//!   without a Response action answers 202 Accepted). Workflows' own throttling is not
//!   modelled: its limits depend on the flow's licence.
//! - Slack incoming webhooks: `text` or `blocks`; 200 `ok`, or 400 `invalid_payload` /
//!   `invalid_blocks` / `no_text` as api.slack.com/messaging/webhooks lists its errors.
//!   Block limits (at most 50 blocks, a `header`'s `plain_text` at most 150 characters, a
//!   `section`'s text at most 3,000) from Slack's Block Kit reference
//!   (api.slack.com/reference/block-kit/blocks). Rate: "1 per second, short bursts >1
//!   allowed", answered with 429 and `Retry-After` (api.slack.com/docs/rate-limits).
//!   The burst Slack allows is not documented, so this stand-in allows none (stricter, a
//!   guess): a second message within a second of the last is refused with 429 and
//!   `Retry-After: 1`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
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
    /// When it arrived, for measuring how long delivery takes.
    received_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Default)]
struct Hook {
    received: Vec<Received>,
    /// When the last chat message was taken, for Slack's one a second.
    last_message: Option<Instant>,
    /// Messages answered 429 for coming too soon.
    rate_limited: u32,
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
    if take(&app, &name, &headers, &body) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Records a request for hook `name`; `false` while the hook is told to fail.
fn take(app: &App, name: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    app.hooks.with(name, |hook| {
        if hook.fail_next > 0 {
            hook.fail_next -= 1;
            hook.refused += 1;
            return false;
        }
        hook.received.push(Received {
            delivery: header(headers, "x-rulewatch-delivery"),
            signature: header(headers, "x-rulewatch-signature"),
            content_type: header(headers, "content-type"),
            body: String::from_utf8_lossy(body).into_owned(),
            received_at: app.clock.now(),
        });
        true
    })
}

/// Which chat service's webhook a request stands in for.
#[derive(Clone, Copy)]
enum Chat {
    Teams,
    Slack,
}

/// Why the service would refuse `v`, or `None` when it takes it.
fn refusal(chat: Chat, v: &serde_json::Value) -> Option<&'static str> {
    match chat {
        Chat::Teams => {
            let card = &v["attachments"][0];
            let ok = v["type"] == "message"
                && card["contentType"] == "application/vnd.microsoft.card.adaptive"
                && card["content"]["type"] == "AdaptiveCard"
                && card["content"]["version"].is_string()
                && card["content"]["body"]
                    .as_array()
                    .is_some_and(|b| !b.is_empty() && b.iter().all(|e| e["type"].is_string()));
            (!ok).then_some("the request is not a message carrying an Adaptive Card")
        }
        Chat::Slack => {
            let text = v["text"].as_str().is_some_and(|t| !t.is_empty());
            let Some(blocks) = v["blocks"].as_array() else {
                return (!text).then_some("no_text");
            };
            let chars =
                |b: &serde_json::Value| b["text"]["text"].as_str().map(|t| t.chars().count());
            let fine = blocks.len() <= 50
                && blocks.iter().all(|b| match b["type"].as_str() {
                    Some("header") => {
                        b["text"]["type"] == "plain_text" && chars(b).is_some_and(|n| n <= 150)
                    }
                    Some("section") => {
                        (b["text"]["type"] == "plain_text" || b["text"]["type"] == "mrkdwn")
                            && chars(b).is_some_and(|n| n <= 3000)
                    }
                    Some("divider") => true,
                    _ => false,
                });
            (!fine).then_some("invalid_blocks")
        }
    }
}

fn chat_message(app: &App, chat: Chat, name: &str, headers: &HeaderMap, body: &Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    if let Some(why) = refusal(chat, &v) {
        return (StatusCode::BAD_REQUEST, why).into_response();
    }
    if matches!(chat, Chat::Slack) {
        let too_soon = app.hooks.with(name, |hook| {
            let now = Instant::now();
            let soon = hook
                .last_message
                .is_some_and(|at| now.duration_since(at) < Duration::from_secs(1));
            if soon {
                hook.rate_limited += 1;
            } else {
                hook.last_message = Some(now);
            }
            soon
        });
        if too_soon {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(RETRY_AFTER, "1")],
                "rate_limited",
            )
                .into_response();
        }
    }
    match (take(app, name, headers, body), chat) {
        (true, Chat::Teams) => StatusCode::ACCEPTED.into_response(),
        (true, Chat::Slack) => (StatusCode::OK, "ok").into_response(),
        (false, _) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// `POST /_sandbox/teams/{name}`: a Teams Workflows webhook.
pub(crate) async fn teams(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    chat_message(&app, Chat::Teams, &name, &headers, &body)
}

/// `POST /_sandbox/slack/{name}`: a Slack incoming webhook.
pub(crate) async fn slack(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    chat_message(&app, Chat::Slack, &name, &headers, &body)
}

/// What a hook holds, for `GET /_sandbox/hooks/{name}/received`.
#[derive(Serialize)]
pub(crate) struct Record {
    received: Vec<Received>,
    refused: u32,
    rate_limited: u32,
}

/// `GET /_sandbox/hooks/{name}/received`: every delivery accepted, oldest first.
pub(crate) async fn received(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Json<Record> {
    Json(app.hooks.with(&name, |hook| Record {
        received: hook.received.clone(),
        refused: hook.refused,
        rate_limited: hook.rate_limited,
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
