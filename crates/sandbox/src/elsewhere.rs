//! Hostile-network stand-ins, not Microsoft behaviour: a second loopback listener
//! ("elsewhere", another port and so another origin) that records every request it
//! gets, and the scripted faults that try to send Rulewatch's credentials there or
//! drown it in a huge answer. Each is a guess at what a hijacked network, a hostile
//! proxy or a compromised answer does, because the client must hold up against them
//! whatever Microsoft does:
//!
//! - `redirect_elsewhere`: HTTP 307 with `Location` on the recorder, same path and
//!   query (a 307 makes a client re-send a POST's body, such as a token request's
//!   client secret).
//! - `foreign_links`: the real answer, with every link to the sandbox in its body and
//!   headers (`contentUri`, `NextPageUri`, `@odata.nextLink`) moved to the recorder.
//! - `huge_body`: HTTP 200 with a streamed, never-ending-looking JSON array of
//!   `faults.huge_body_mb` MiB and no `Content-Length`.
//!
//! `GET /_sandbox/elsewhere` lists what the recorder received: method, path and query,
//! the `Authorization` header and the body.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::app::App;

/// The most of a request body the recorder keeps.
const KEEP: usize = 1 << 20;
/// One chunk of a huge body: about 64 KiB of one filler record.
const CHUNK: usize = 64 << 10;

/// What the recorder listener received, shared with the main listener's control route.
#[derive(Default)]
pub(crate) struct Recorder {
    /// `http://127.0.0.1:PORT` of the recorder, once it listens.
    pub url: String,
    received: Mutex<Vec<Value>>,
}

impl Recorder {
    pub(crate) fn new(url: String) -> Recorder {
        Recorder {
            url,
            received: Mutex::default(),
        }
    }

    fn record(&self, entry: Value) {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    }

    fn received(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Every request to the recorder listener: recorded, answered with an empty list.
pub(crate) async fn record(State(recorder): State<Arc<Recorder>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, KEEP).await.unwrap_or_default();
    recorder.record(json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        "authorization": parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()),
        "body": String::from_utf8_lossy(&body),
    }));
    Json(json!([])).into_response()
}

/// `GET /_sandbox/elsewhere`.
pub(crate) async fn received(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!({"url": app.elsewhere.url, "received": app.elsewhere.received()}))
}

/// `redirect_elsewhere`: 307 to the same path and query on the recorder.
pub(crate) fn redirect(app: &App, request: &Request) -> Response {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = format!("{}{path}", app.elsewhere.url);
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `foreign_links`: the answer with the sandbox's own URL moved to the recorder.
pub(crate) async fn foreign_links(app: &App, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let moved = String::from_utf8_lossy(&bytes).replace(&app.base_url, &app.elsewhere.url);
    // JSON escapes `/` optionally: move the escaped form too.
    let moved = moved.replace(
        &app.base_url.replace('/', "\\/"),
        &app.elsewhere.url.replace('/', "\\/"),
    );
    for value in parts.headers.values_mut() {
        if let Ok(text) = value.to_str()
            && text.contains(&app.base_url)
            && let Ok(new) = HeaderValue::from_str(&text.replace(&app.base_url, &app.elsewhere.url))
        {
            *value = new;
        }
    }
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(moved.len()));
    Response::from_parts(parts, Body::from(moved))
}

/// `huge_body`: `mib` MiB of a JSON array of filler records, streamed chunk by chunk
/// without a `Content-Length`, so only counting what arrives can stop it.
pub(crate) fn huge_body(mib: u64) -> Response {
    let filler = format!("{{\"filler\":\"{}\"}},", "x".repeat(CHUNK - 16));
    let chunk = Bytes::from(filler);
    let chunks = (mib << 20).div_ceil(chunk.len() as u64);
    let head = futures::stream::once(async { Ok::<Bytes, io::Error>(Bytes::from_static(b"[")) });
    let body =
        futures::stream::iter((0..chunks).map(move |_| Ok::<Bytes, io::Error>(chunk.clone())));
    let tail = futures::stream::once(async { Ok::<Bytes, io::Error>(Bytes::from_static(b"{}]")) });
    let stream = head.chain(body).chain(tail);
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
