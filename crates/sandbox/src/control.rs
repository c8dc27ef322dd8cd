//! Endpoints for tests, not Microsoft's: counters, and changing a tenant while running.
//!
//! `/_sandbox/stats` also shows `publisher_identifiers` (Management API calls per
//! `PublisherIdentifier` sent, A8 and ../shared/reference/m365-api.md §G: a test asserts whose quota a client
//! spends) and `token_requests_peak_in_flight` (the most token requests answered at once,
//! §G 9: partner token exchanges need not be serialised), `listings_peak_in_flight_per_tenant`
//! (the most content listings of one tenant answered at once, over all tenants: a team
//! whose workstations share scan leases never lists one tenant's feed twice at once) and
//! `blob_reads_peak_per_blob` (the most times one blob was fetched: exactly-once
//! collection across a team reads each blob once). Both are test instruments, not
//! Microsoft's behaviour.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::partner::PartnerState;
use crate::scenario::{ContentType, Endpoint, FaultKind, SubscriptionState};
use crate::times::content_time;
use crate::token::GrantKind;

/// Request, fault and action counters since start.
#[derive(Default)]
pub(crate) struct Stats {
    token: AtomicU64,
    subscriptions: AtomicU64,
    content: AtomicU64,
    blob: AtomicU64,
    domains: AtomicU64,
    users: AtomicU64,
    invoke_command: AtomicU64,
    device_code: AtomicU64,
    customers: AtomicU64,
    authorize: AtomicU64,
    device_login: AtomicU64,
    client_credentials: AtomicU64,
    authorization_code: AtomicU64,
    refresh_token: AtomicU64,
    device_code_grant: AtomicU64,
    throttle: AtomicU64,
    server_error: AtomicU64,
    truncated_body: AtomicU64,
    cut_connection: AtomicU64,
    slow: AtomicU64,
    expired: AtomicU64,
    hostile: AtomicU64,
    subscription_stopped: AtomicU64,
    over_quota: AtomicU64,
    missing_publisher_identifier: AtomicU64,
    tokens_issued: AtomicU64,
    subscriptions_started: AtomicU64,
    ipstack_requests: AtomicU64,
    /// Lookups answered with a location or nulls: what counts against the quota.
    pub ipstack_answered: AtomicU64,
    /// Management API calls per `PublisherIdentifier` sent (lower-case), so a test sees
    /// whose quota a client spends (A8).
    publishers: Mutex<BTreeMap<String, u64>>,
    /// Token requests being answered now, and the most at once: a client that serialises
    /// its partner token exchanges never has two in flight (§G 9).
    token_in_flight: AtomicU64,
    token_peak_in_flight: AtomicU64,
    /// Content listings being answered now per tenant, and the most at once.
    listings: Mutex<BTreeMap<usize, (u64, u64)>>,
    /// Blob fetches per blob id.
    blob_reads: Mutex<BTreeMap<String, u64>>,
}

/// One content listing of a tenant in flight, until dropped.
pub(crate) struct Listing<'a>(&'a Stats, usize);

impl Drop for Listing<'_> {
    fn drop(&mut self) {
        if let Some(entry) = self
            .0
            .listings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&self.1)
        {
            entry.0 -= 1;
        }
    }
}

/// One token request in flight, until dropped.
pub(crate) struct InFlight<'a>(&'a Stats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.token_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Stats {
    pub(crate) fn request(&self, endpoint: Endpoint) {
        match endpoint {
            Endpoint::Token => bump(&self.token),
            Endpoint::Subscriptions => bump(&self.subscriptions),
            Endpoint::Content => bump(&self.content),
            Endpoint::Blob => bump(&self.blob),
            Endpoint::Domains => bump(&self.domains),
            Endpoint::Users => bump(&self.users),
            Endpoint::InvokeCommand => bump(&self.invoke_command),
            Endpoint::DeviceCode => bump(&self.device_code),
            Endpoint::Customers => bump(&self.customers),
            Endpoint::Any => unreachable!("requests are always to one endpoint"),
        }
    }

    pub(crate) fn fault(&self, fault: FaultKind) {
        bump(match fault {
            FaultKind::Throttle | FaultKind::ThrottleAf429 => &self.throttle,
            FaultKind::ServerError => &self.server_error,
            FaultKind::TruncatedBody => &self.truncated_body,
            FaultKind::CutConnection => &self.cut_connection,
            FaultKind::Slow => &self.slow,
            FaultKind::Expired => &self.expired,
            FaultKind::RedirectElsewhere | FaultKind::ForeignLinks | FaultKind::HugeBody => {
                &self.hostile
            }
            FaultKind::SubscriptionStopped => &self.subscription_stopped,
        });
    }

    /// Token requests by grant type, whatever their outcome.
    pub(crate) fn token_grant(&self, kind: GrantKind) {
        bump(match kind {
            GrantKind::ClientCredentials => &self.client_credentials,
            GrantKind::AuthorizationCode => &self.authorization_code,
            GrantKind::RefreshToken => &self.refresh_token,
            GrantKind::DeviceCode => &self.device_code_grant,
        });
    }

    pub(crate) fn authorize(&self) {
        bump(&self.authorize);
    }

    pub(crate) fn device_login(&self) {
        bump(&self.device_login);
    }

    pub(crate) fn missing_publisher_identifier(&self) {
        bump(&self.missing_publisher_identifier);
    }

    pub(crate) fn publisher_identifier(&self, publisher: &str) {
        *self
            .publishers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(publisher.to_ascii_lowercase())
            .or_default() += 1;
    }

    pub(crate) fn token_request_started(&self) -> InFlight<'_> {
        let now = self.token_in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.token_peak_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(self)
    }

    pub(crate) fn listing_started(&self, tenant: usize) -> Listing<'_> {
        let mut listings = self.listings.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = listings.entry(tenant).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(entry.0);
        Listing(self, tenant)
    }

    pub(crate) fn blob_read(&self, content_id: &str) {
        *self
            .blob_reads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(content_id.to_string())
            .or_default() += 1;
    }

    pub(crate) fn tokens_issued(&self) {
        bump(&self.tokens_issued);
    }

    /// A Management API request refused over its pool's quota.
    pub(crate) fn over_quota(&self) {
        bump(&self.over_quota);
    }

    pub(crate) fn subscription_started(&self) {
        bump(&self.subscriptions_started);
    }

    pub(crate) fn ipstack_request(&self) {
        bump(&self.ipstack_requests);
    }

    fn snapshot(&self) -> Value {
        json!({
            "requests": {
                "token": read(&self.token),
                "subscriptions": read(&self.subscriptions),
                "content": read(&self.content),
                "blob": read(&self.blob),
                "domains": read(&self.domains),
                "users": read(&self.users),
                "invoke_command": read(&self.invoke_command),
                "authorize": read(&self.authorize),
                "device_code": read(&self.device_code),
                "device_login": read(&self.device_login),
                "customers": read(&self.customers),
            },
            "token_grants": {
                "client_credentials": read(&self.client_credentials),
                "authorization_code": read(&self.authorization_code),
                "refresh_token": read(&self.refresh_token),
                "device_code": read(&self.device_code_grant),
            },
            "faults": {
                "throttle": read(&self.throttle),
                "server_error": read(&self.server_error),
                "truncated_body": read(&self.truncated_body),
                "cut_connection": read(&self.cut_connection),
                "slow": read(&self.slow),
                "expired": read(&self.expired),
                "hostile": read(&self.hostile),
                "subscription_stopped": read(&self.subscription_stopped),
                "over_quota": read(&self.over_quota),
            },
            "missing_publisher_identifier": read(&self.missing_publisher_identifier),
            "publisher_identifiers": *self.publishers.lock().unwrap_or_else(PoisonError::into_inner),
            "token_requests_peak_in_flight": read(&self.token_peak_in_flight),
            "listings_peak_in_flight_per_tenant": self.listings.lock().unwrap_or_else(PoisonError::into_inner)
                .values().map(|(_, peak)| *peak).max().unwrap_or(0),
            "blob_reads_peak_per_blob": self.blob_reads.lock().unwrap_or_else(PoisonError::into_inner)
                .values().copied().max().unwrap_or(0),
            "tokens_issued": read(&self.tokens_issued),
            "subscriptions_started": read(&self.subscriptions_started),
            "ipstack": {
                "requests": read(&self.ipstack_requests),
                "answered": read(&self.ipstack_answered),
            },
        })
    }
}

/// `GET /_sandbox/clock`: the wall-clock instant the sandbox's clock started from (Unix
/// milliseconds), its speed, and its time now; a client runs the same clock from these.
pub(crate) async fn clock(State(app): State<Arc<App>>) -> Json<Value> {
    let (anchor, speed) = app.clock.anchor();
    Json(json!({
        "anchor_ms": anchor.timestamp_millis(),
        "speed": speed,
        "now": content_time(app.clock.now()),
    }))
}

/// `GET /_sandbox/stats`.
pub(crate) async fn stats(State(app): State<Arc<App>>) -> Json<Value> {
    Json(app.stats.snapshot())
}

/// Fields of a tenant a test may change; `subscription` applies to every content type.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantUpdate {
    client_secret: Option<String>,
    audit_enabled: Option<bool>,
    subscription: Option<SubscriptionState>,
    consented: Option<bool>,
    roles: Option<Vec<String>>,
    directory_roles: Option<Vec<String>>,
    write_visible_after_ms: Option<u64>,
}

/// `POST /_sandbox/tenants/{tenant_id}`: answers the tenant's resulting state.
pub(crate) async fn update_tenant(
    State(app): State<Arc<App>>,
    Path(tenant_id): Path<String>,
    Json(update): Json<TenantUpdate>,
) -> Response {
    let Some(t) = app.tenant_by_id(&tenant_id) else {
        return not_found(format!("no tenant {tenant_id}"));
    };
    let entry = &app.tenants[t];
    let mut live = entry.live_mut();
    if let Some(secret) = update.client_secret {
        live.client_secret = secret;
    }
    if let Some(enabled) = update.audit_enabled {
        live.audit_enabled = enabled;
    }
    if let Some(state) = update.subscription {
        live.subscriptions = [state; ContentType::ALL.len()];
    }
    if let Some(consented) = update.consented {
        live.consented = consented;
    }
    if let Some(roles) = update.roles {
        live.roles = roles;
    }
    if let Some(roles) = update.directory_roles {
        live.directory_roles = roles;
    }
    if let Some(delay) = update.write_visible_after_ms {
        live.write_visible_after_ms = delay;
    }
    let subscriptions: Map<String, Value> = ContentType::ALL
        .into_iter()
        .map(|ct| {
            (
                ct.as_str().to_string(),
                json!(live.subscriptions[ct.index()]),
            )
        })
        .collect();
    Json(json!({
        "tenant_id": entry.id,
        "audit_enabled": live.audit_enabled,
        "consented": live.consented,
        "roles": live.roles,
        "directory_roles": live.directory_roles,
        "subscriptions": subscriptions,
    }))
    .into_response()
}

/// A scenario tenant other than the partner, by GUID, as the partner endpoints take.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustomerRef {
    tenant_id: String,
}

/// A customer's GDAP roles, replaced whole.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GdapUpdate {
    tenant_id: String,
    roles: Vec<String>,
}

/// The partner and a scenario tenant that may be its customer, else why not.
fn partner_and_customer<'a>(
    app: &'a App,
    tenant_id: &str,
) -> Result<(&'a PartnerState, String), String> {
    let Some(partner) = app.partner.as_ref() else {
        return Err("the scenario has no partner".into());
    };
    match app.tenant_by_id(tenant_id) {
        Some(t) if !partner.is_home(tenant_id) => Ok((partner, app.tenants[t].id.clone())),
        _ => Err(format!("no customer tenant {tenant_id}")),
    }
}

/// `POST /_sandbox/partner/customers` `{"tenant_id"}`: a new GDAP customer; answers the partner's state.
pub(crate) async fn add_customer(
    State(app): State<Arc<App>>,
    Json(customer): Json<CustomerRef>,
) -> Response {
    match partner_and_customer(&app, &customer.tenant_id) {
        Ok((partner, id)) => {
            partner.add_customer(&id);
            Json(partner.state()).into_response()
        }
        Err(message) => not_found(message),
    }
}

/// `DELETE /_sandbox/partner/customers/{tenant_id}`: the relationship ended.
pub(crate) async fn remove_customer(
    State(app): State<Arc<App>>,
    Path(tenant_id): Path<String>,
) -> Response {
    match partner_and_customer(&app, &tenant_id) {
        Ok((partner, id)) if partner.remove_customer(&id) => Json(partner.state()).into_response(),
        Ok(_) => not_found(format!("{tenant_id} is no customer")),
        Err(message) => not_found(message),
    }
}

/// `POST /_sandbox/late/release`: the late blobs arrive now, so a test need not wait
/// out their delay on the clock.
pub(crate) async fn release_late(State(app): State<Arc<App>>) -> StatusCode {
    app.feed.release_late();
    StatusCode::NO_CONTENT
}

/// `POST /_sandbox/partner/revoke`: the technician's sessions were revoked.
pub(crate) async fn revoke_partner(State(app): State<Arc<App>>) -> Response {
    match app.partner.as_ref() {
        Some(partner) => {
            partner.revoke(app.clock.now());
            Json(partner.state()).into_response()
        }
        None => not_found("the scenario has no partner".into()),
    }
}

/// `POST /_sandbox/partner/gdap` `{"tenant_id", "roles"}`: applies to tokens issued afterwards.
pub(crate) async fn set_gdap_roles(
    State(app): State<Arc<App>>,
    Json(update): Json<GdapUpdate>,
) -> Response {
    match partner_and_customer(&app, &update.tenant_id) {
        Ok((partner, id)) => {
            partner.set_gdap_roles(&id, update.roles);
            Json(partner.state()).into_response()
        }
        Err(message) => not_found(message),
    }
}

/// `GET /_sandbox/tenants/{tenant_id}/users/{upn}`: an account and its mailbox.
pub(crate) async fn user_state(
    State(app): State<Arc<App>>,
    Path((tenant_id, upn)): Path<(String, String)>,
) -> Response {
    let Some(t) = app.tenant_by_id(&tenant_id) else {
        return not_found(format!("no tenant {tenant_id}"));
    };
    match app.tenants[t].directory().account(&upn) {
        Some(account) => Json(account.state()).into_response(),
        None => not_found(format!("no user {upn} in tenant {tenant_id}")),
    }
}

fn not_found(message: String) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": message}))).into_response()
}
