//! Per-request faults, played by a middleware in front of each Microsoft endpoint.
//!
//! Scripted faults come first (the first N matching requests); then each random fault
//! that can happen on the endpoint is drawn in turn from a seeded RNG, first hit wins.
//! Faults change only the answer to the request they hit, never the feed itself.
//!
//! Throttling answers carry `Retry-After` from Entra, Graph and the Management API's 429s,
//! but not from the Management API's `AF429` on HTTP 403 nor from Exchange's
//! `InvokeCommand`, whose live captures showed none (../shared/reference/m365-api.md §G 14).
//!
//! `subscription_stopped` answers a content listing with AF20023 while the subscription is
//! enabled, as Microsoft has been seen to right after set-up (../shared/reference/m365-api.md §G 2).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{RawPathParams, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::activity::{self, Query, af_error};
use crate::app::App;
use crate::elsewhere;
use crate::exchange::exo_error;
use crate::graph::graph_error;
use crate::scenario::{Endpoint, FaultKind, Faults, ScriptedFault};
use crate::token::{Bearer, entra_error};

/// Keeps the per-request stream apart from the build-time one seeded with the same number.
const REQUEST_STREAM: u64 = 0x9e37_79b9_7f4a_7c15;
/// Keeps the latency's jitter apart from the faults' draws.
const LATENCY_STREAM: u64 = 0x2545_f491_4f6c_dd1d;
/// The Management API's quota is counted over a minute (A8).
const QUOTA_WINDOW: Duration = Duration::from_secs(60);

/// How long a cut response stalls after its first half, so the status and headers reach the client.
const CUT_PAUSE: Duration = Duration::from_millis(50);

pub(crate) struct FaultInjector {
    config: Faults,
    rng: Mutex<StdRng>,
    script: Mutex<Vec<(ScriptedFault, u32)>>,
    throttles: AtomicU64,
    server_errors: AtomicU64,
    jitter: Mutex<StdRng>,
    /// Per tenant, when its recent Management API requests came.
    quota: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl FaultInjector {
    pub(crate) fn new(config: &Faults) -> FaultInjector {
        FaultInjector {
            jitter: Mutex::new(StdRng::seed_from_u64(config.seed ^ LATENCY_STREAM)),
            quota: Mutex::new(HashMap::new()),
            rng: Mutex::new(StdRng::seed_from_u64(config.seed ^ REQUEST_STREAM)),
            script: Mutex::new(config.script.iter().map(|s| (s.clone(), s.count)).collect()),
            throttles: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            config: config.clone(),
        }
    }

    fn pick(&self, endpoint: Endpoint, tenant: Option<&str>) -> Option<Pick> {
        let mut script = self.script.lock().unwrap_or_else(PoisonError::into_inner);
        let scripted = script.iter_mut().find(|(entry, remaining)| {
            *remaining > 0
                && (entry.endpoint == endpoint || entry.endpoint == Endpoint::Any)
                && entry.fault.applies_to(endpoint)
                && entry
                    .tenant_id
                    .as_deref()
                    .is_none_or(|want| tenant.is_some_and(|t| t.eq_ignore_ascii_case(want)))
        });
        if let Some((entry, remaining)) = scripted {
            *remaining -= 1;
            return Some(Pick {
                fault: entry.fault,
                scripted: true,
            });
        }
        drop(script);
        let c = &self.config;
        let microsoft_api = !matches!(endpoint, Endpoint::Token | Endpoint::DeviceCode);
        let listing_or_blob = matches!(endpoint, Endpoint::Content | Endpoint::Blob);
        let candidates = [
            (FaultKind::Throttle, c.throttle, microsoft_api),
            (FaultKind::ServerError, c.server_error, microsoft_api),
            (FaultKind::TruncatedBody, c.truncated_body, listing_or_blob),
            (FaultKind::CutConnection, c.cut_connection, microsoft_api),
            (FaultKind::Slow, c.slow, true),
        ];
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        candidates
            .into_iter()
            .find(|&(_, p, applies)| applies && p > 0.0 && rng.random_bool(p))
            .map(|(fault, _, _)| Pick {
                fault,
                scripted: false,
            })
    }

    /// How long this request's answer is held back for the network's round trip.
    fn latency(&self) -> Duration {
        let c = &self.config;
        let jitter = match c.latency_jitter_ms {
            0 => 0,
            most => self
                .jitter
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .random_range(0..=most),
        };
        Duration::from_millis(c.latency_ms + jitter)
    }

    /// Counts a Management API request against its tenant's quota; `false` when the
    /// tenant is over it for the last minute.
    fn within_quota(&self, tenant: &str, now: Instant) -> bool {
        let limit = self.config.quota_per_minute as usize;
        if limit == 0 {
            return true;
        }
        let mut pools = self.quota.lock().unwrap_or_else(PoisonError::into_inner);
        let recent = pools.entry(tenant.to_string()).or_default();
        while recent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= QUOTA_WINDOW)
        {
            recent.pop_front();
        }
        recent.push_back(now);
        recent.len() <= limit
    }

    /// Random throttles alternate 429 and 403 (Microsoft's own example shows AF429 on a 403).
    fn throttle_status(&self, pick: Pick) -> StatusCode {
        match (pick.fault, pick.scripted) {
            (FaultKind::ThrottleAf429, _) => StatusCode::FORBIDDEN,
            (_, true) => StatusCode::TOO_MANY_REQUESTS,
            _ if self
                .throttles
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(2) =>
            {
                StatusCode::TOO_MANY_REQUESTS
            }
            _ => StatusCode::FORBIDDEN,
        }
    }

    fn server_error_status(&self) -> StatusCode {
        if self
            .server_errors
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(2)
        {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Pick {
    fault: FaultKind,
    scripted: bool,
}

/// The middleware: counts the request, then plays at most one fault on it.
pub(crate) async fn inject(
    State((app, endpoint)): State<(Arc<App>, Endpoint)>,
    path: RawPathParams,
    request: Request,
    next: Next,
) -> Response {
    app.stats.request(endpoint);
    let _in_flight = (endpoint == Endpoint::Token).then(|| app.stats.token_request_started());
    let path_param = |name: &str| {
        path.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    };
    let tenant = match endpoint {
        // These take a tenant GUID or one of its domains in the path.
        Endpoint::Token | Endpoint::DeviceCode | Endpoint::InvokeCommand => {
            path_param("tenant").and_then(|t| app.tenant_by_name(&t))
        }
        Endpoint::Domains | Endpoint::Users => match app.tokens.bearer(request.headers()) {
            Bearer::Valid(grant) => Some(grant.tenant),
            _ => None,
        },
        _ => path_param("tenant").and_then(|t| app.tenant_by_id(&t)),
    };
    let _listing = match (endpoint, tenant) {
        (Endpoint::Content, Some(t)) => Some(app.stats.listing_started(t)),
        _ => None,
    };
    if endpoint == Endpoint::Blob {
        app.stats
            .blob_read(&path_param("content_id").unwrap_or_default());
    }
    let latency = app.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let (Endpoint::Subscriptions | Endpoint::Content | Endpoint::Blob, Some(t)) =
        (endpoint, tenant)
        && !app.faults.within_quota(&app.tenants[t].id, Instant::now())
    {
        app.stats.over_quota();
        let pick = Pick {
            fault: FaultKind::ThrottleAf429,
            scripted: false,
        };
        return throttled(&app, endpoint, pick, &request);
    }
    let Some(pick) = app
        .faults
        .pick(endpoint, tenant.map(|t| app.tenants[t].id.as_str()))
    else {
        return next.run(request).await;
    };
    app.stats.fault(pick.fault);
    match pick.fault {
        FaultKind::Throttle | FaultKind::ThrottleAf429 => throttled(&app, endpoint, pick, &request),
        FaultKind::ServerError => server_error(&app, endpoint),
        FaultKind::Expired => {
            activity::expired(&path_param("content_id").unwrap_or_default()).into_response()
        }
        FaultKind::SubscriptionStopped => activity::disabled().into_response(),
        FaultKind::Slow => {
            tokio::time::sleep(Duration::from_millis(app.faults.config.slow_ms)).await;
            next.run(request).await
        }
        FaultKind::TruncatedBody => truncate(next.run(request).await).await,
        FaultKind::CutConnection => cut(next.run(request).await).await,
        FaultKind::RedirectElsewhere => elsewhere::redirect(&app, &request),
        FaultKind::ForeignLinks => elsewhere::foreign_links(&app, next.run(request).await).await,
        FaultKind::HugeBody => elsewhere::huge_body(app.faults.config.huge_body_mb),
    }
}

/// Each service's own throttling answer, with `Retry-After` where that service sends it.
fn throttled(app: &App, endpoint: Endpoint, pick: Pick, request: &Request) -> Response {
    let mut response = match endpoint {
        // Guess: Entra's throttling answer (its tenant-throttling code).
        Endpoint::Token | Endpoint::DeviceCode => entra_error(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            90055,
            "The request has been throttled. There are too many incoming requests.",
        )
        .into_response(),
        Endpoint::Domains | Endpoint::Users | Endpoint::Customers => graph_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests. Please retry after the time in the Retry-After header.",
        ),
        // Guess: EXO publishes no throttling answer for this API (E3).
        Endpoint::InvokeCommand => exo_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "The request was throttled.",
        )
        .into_response(),
        _ => {
            let query = Query::parse(request.uri().query());
            let publisher = query
                .get("PublisherIdentifier")
                .unwrap_or("00000000-0000-0000-0000-000000000000");
            let message = format!(
                "Too many requests. Method={}, PublisherId={publisher}",
                request.method()
            );
            af_error(app.faults.throttle_status(pick), "AF429", message).into_response()
        }
    };
    // ../shared/reference/m365-api.md §G 14: AF429 on 403 "probably" and Exchange "showed no" Retry-After.
    if endpoint != Endpoint::InvokeCommand && response.status() != StatusCode::FORBIDDEN {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(app.faults.config.retry_after_s),
        );
    }
    response
}

/// Each service's own 500 or 503 answer, without `Retry-After`.
fn server_error(app: &App, endpoint: Endpoint) -> Response {
    let status = app.faults.server_error_status();
    match endpoint {
        // Guess: Entra's transient-failure answer.
        Endpoint::Token | Endpoint::DeviceCode => entra_error(
            status,
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        )
        .into_response(),
        Endpoint::Domains | Endpoint::Users | Endpoint::Customers
            if status == StatusCode::INTERNAL_SERVER_ERROR =>
        {
            graph_error(
                status,
                "generalException",
                "General exception while processing.",
            )
        }
        Endpoint::Domains | Endpoint::Users | Endpoint::Customers => {
            graph_error(status, "serviceNotAvailable", "Service unavailable.")
        }
        // Guess: the OData error body EXO uses elsewhere.
        Endpoint::InvokeCommand if status == StatusCode::INTERNAL_SERVER_ERROR => exo_error(
            status,
            "InternalServerError",
            "An internal server error occurred. Retry the request.",
        )
        .into_response(),
        Endpoint::InvokeCommand => exo_error(
            status,
            "ServiceUnavailable",
            "The service is temporarily unavailable. Retry the request.",
        )
        .into_response(),
        _ => af_error(
            status,
            "AF50000",
            "An internal server error occurred. Retry the request.",
        )
        .into_response(),
    }
}

/// The same status and headers with half the body, and a Content-Length that matches it.
async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = whole(body).await;
    let half = bytes.slice(..bytes.len() / 2);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(half.len()));
    Response::from_parts(parts, Body::from(half))
}

/// Promises the whole body, sends half, then fails the stream so hyper aborts the connection.
async fn cut(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = whole(body).await;
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let half = bytes.slice(..bytes.len() / 2);
    let failure = futures::stream::once(async {
        tokio::time::sleep(CUT_PAUSE).await;
        Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "sandbox fault: connection cut",
        ))
    });
    let stream = futures::stream::iter([Ok::<Bytes, io::Error>(half)]).chain(failure);
    Response::from_parts(parts, Body::from_stream(stream))
}

/// Handlers answer from memory, so reading their body cannot fail or be unbounded.
async fn whole(body: Body) -> Bytes {
    to_bytes(body, usize::MAX)
        .await
        .expect("in-memory response bodies are readable")
}
