//! Stand-ins for the three PSAs Rulewatch files tickets in (issue 13): ConnectWise PSA
//! (Manage REST), Autotask (REST) and HaloPSA (REST). Each serves its vendor's real path
//! shape under its own prefix, so a client configured with a base URL needs nothing else:
//! - ConnectWise: site `{base}/connectwise`, API `/connectwise/v4_6_release/apis/3.0/...`
//! - Autotask: zone `{base}/autotask`, API `/autotask/ATServicesRest/V1.0/...`
//! - HaloPSA: `{base}/halo`, token `/halo/auth/token`, API `/halo/api/...`
//!
//! Each holds companies (seeded from the scenario's tenants, see `seeded_companies`),
//! the tickets created with their notes, and failures or throttles a test asked for.
//! Fixed credentials are the constants in [`connectwise`], [`autotask`] and [`halo`].
//!
//! Endpoints for tests, not any vendor's, under `/_sandbox/psa/{vendor}` with `vendor`
//! one of `connectwise`, `autotask`, `halo`:
//! - `GET  .../tickets`: every ticket created, its notes in order;
//! - `GET  .../companies`: the seeded companies;
//! - `POST .../fail?count=N`: the next N API requests answer the vendor's outage;
//! - `POST .../throttle?count=N`: the next N API requests answer its throttling.
//!
//! Vendor behaviour is cited in each module; what the vendors do not document is marked
//! `Guess, marked as such:` there, and chosen stricter than the service where in doubt.

pub mod autotask;
pub mod connectwise;
pub mod halo;

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::App;

/// Which PSA a request or a control call is about.
#[derive(Clone, Copy)]
pub(crate) enum Vendor {
    ConnectWise,
    Autotask,
    Halo,
}

impl Vendor {
    fn parse(name: &str) -> Option<Vendor> {
        match name {
            "connectwise" => Some(Vendor::ConnectWise),
            "autotask" => Some(Vendor::Autotask),
            "halo" => Some(Vendor::Halo),
            _ => None,
        }
    }
}

/// A customer company as the PSA lists it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Company {
    pub id: u64,
    pub name: String,
    /// ConnectWise's short `identifier`; the others have none and ignore it.
    pub identifier: String,
}

/// One note on a ticket, as the control listing shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Note {
    pub id: u64,
    /// Autotask's note title; the others have none.
    pub title: Option<String>,
    pub text: String,
    /// The vendor's visibility and kind, e.g. ConnectWise's flags or Halo's outcome.
    pub kind: String,
    /// When it was added, for measuring how long delivery takes.
    pub created_at: DateTime<Utc>,
}

/// A ticket as created, in the vendor-neutral form the control listing shows.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Ticket {
    pub id: u64,
    pub company_id: u64,
    /// ConnectWise's `summary`, Autotask's `title`, Halo's `summary`.
    pub summary: String,
    pub description: String,
    /// ConnectWise's board, Autotask's queue, Halo's team.
    pub board: Option<u64>,
    pub priority: Option<u64>,
    /// ConnectWise's service type, Autotask's ticket type, Halo's ticket type.
    pub kind: Option<u64>,
    pub status: Option<u64>,
    /// ConnectWise's `externalXRef`, Autotask's `externalID`; Halo has none.
    pub external_ref: Option<String>,
    pub notes: Vec<Note>,
    /// When it was opened, for measuring how long delivery takes.
    pub created_at: DateTime<Utc>,
}

/// One PSA's state.
pub(crate) struct Desk {
    pub companies: Vec<Company>,
    pub tickets: Vec<Ticket>,
    next_ticket: u64,
    next_note: u64,
    /// API requests still to answer with the outage, then with throttling.
    fail_next: u32,
    throttle_next: u32,
    /// Halo's issued bearer tokens; the other two authenticate every request.
    pub tokens: Vec<String>,
}

impl Desk {
    fn new(vendor: Vendor, tenant_names: &[String]) -> Desk {
        let (first_ticket, first_note) = match vendor {
            Vendor::ConnectWise => (3001, 9001),
            Vendor::Autotask => (7001, 4001),
            Vendor::Halo => (1001, 5001),
        };
        Desk {
            companies: seeded_companies(vendor, tenant_names),
            tickets: Vec::new(),
            next_ticket: first_ticket,
            next_note: first_note,
            fail_next: 0,
            throttle_next: 0,
            tokens: Vec::new(),
        }
    }

    pub(crate) fn company(&self, id: u64) -> Option<&Company> {
        self.companies.iter().find(|c| c.id == id)
    }

    /// Whether ticket `id` exists.
    pub(crate) fn has_ticket(&self, id: u64) -> bool {
        self.tickets.iter().any(|t| t.id == id)
    }

    /// The ticket a path segment names, when it is a number and such a ticket exists.
    pub(crate) fn ticket_in_path(&self, segment: &str) -> Option<u64> {
        segment.parse().ok().filter(|id| self.has_ticket(*id))
    }

    pub(crate) fn ticket_mut(&mut self, id: u64) -> Option<&mut Ticket> {
        self.tickets.iter_mut().find(|t| t.id == id)
    }

    pub(crate) fn next_ticket_id(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket - 1
    }

    pub(crate) fn next_note_id(&mut self) -> u64 {
        self.next_note += 1;
        self.next_note - 1
    }

    /// The injected answer this API request gets, if any: outages first, then throttles.
    pub(crate) fn injected(&mut self) -> Option<Injected> {
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return Some(Injected::Outage);
        }
        if self.throttle_next > 0 {
            self.throttle_next -= 1;
            return Some(Injected::Throttle);
        }
        None
    }
}

/// A vendor's refusal: its status and body, which handlers return as their `Err` so `?`
/// carries it out (a full `Response` is too large to pass around in a `Result`).
pub(crate) struct Refusal {
    status: StatusCode,
    /// `None` for the vendors' empty-bodied answers.
    body: Option<Value>,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, body: Value) -> Refusal {
        Refusal {
            status,
            body: Some(body),
        }
    }

    pub(crate) fn bare(status: StatusCode) -> Refusal {
        Refusal { status, body: None }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self.body {
            Some(body) => (self.status, Json(body)).into_response(),
            None => self.status.into_response(),
        }
    }
}

/// What a test told the next requests to answer instead of serving them.
pub(crate) enum Injected {
    Outage,
    Throttle,
}

/// The name of the MSP's catch-all company, where unmapped tenants' tickets go.
pub const DEFAULT_COMPANY: &str = "Rulewatch - Unmapped alerts";

/// Companies unrelated to any tenant, so a name suggestion has something to reject.
const UNRELATED: [&str; 2] = ["Northwind Traders", "Tailspin Toys"];

/// The scenario's tenants as this PSA names them, then unrelated companies, then the
/// default one. Guess, marked as such: an MSP's PSA rarely spells a client exactly as its
/// Microsoft 365 tenant's display name does, differing in punctuation, legal suffix and
/// case; each stand-in shows one of those so a name suggestion must see through them:
/// ConnectWise "Contoso Ltd" → "Contoso, Ltd.", Autotask → "Contoso Limited",
/// Halo → "contoso ltd".
pub(crate) fn seeded_companies(vendor: Vendor, tenant_names: &[String]) -> Vec<Company> {
    let first_id = match vendor {
        Vendor::ConnectWise => 250,
        Vendor::Autotask => 29_683_500,
        Vendor::Halo => 12,
    };
    let stem = |name: &str| name.trim().trim_end_matches(" Ltd").to_string();
    tenant_names
        .iter()
        .map(|name| match vendor {
            Vendor::ConnectWise => format!("{}, Ltd.", stem(name)),
            Vendor::Autotask => format!("{} Limited", stem(name)),
            Vendor::Halo => format!("{} ltd", stem(name).to_lowercase()),
        })
        .chain(UNRELATED.iter().map(|n| n.to_string()))
        .chain([DEFAULT_COMPANY.to_string()])
        .zip(first_id..)
        .map(|(name, id)| Company {
            id,
            // ConnectWise identifiers are at most 30 characters without spaces.
            identifier: name
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(30)
                .collect(),
            name,
        })
        .collect()
}

/// The three desks, each seeded on first use from the scenario's tenants.
#[derive(Default)]
pub(crate) struct Psa {
    connectwise: OnceLock<Mutex<Desk>>,
    autotask: OnceLock<Mutex<Desk>>,
    halo: OnceLock<Mutex<Desk>>,
}

impl Psa {
    pub(crate) fn desk<'a>(&'a self, app: &App, vendor: Vendor) -> MutexGuard<'a, Desk> {
        let cell = match vendor {
            Vendor::ConnectWise => &self.connectwise,
            Vendor::Autotask => &self.autotask,
            Vendor::Halo => &self.halo,
        };
        cell.get_or_init(|| {
            let names: Vec<String> = app.tenants.iter().map(|t| t.config.name.clone()).collect();
            Mutex::new(Desk::new(vendor, &names))
        })
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether the request says its body is JSON, as all three vendors' POSTs require.
/// Guess, marked as such: none documents its answer to another content type; refusing
/// it is stricter than a service that might sniff the body.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// A string field's length in characters, as the vendors count their limits.
pub(crate) fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Case-insensitive containment, as all three search without regard to case.
pub(crate) fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// All the routes: each vendor's API and the control endpoints.
pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .merge(connectwise::router())
        .merge(autotask::router())
        .merge(halo::router())
        .route("/_sandbox/psa/{vendor}/tickets", get(control_tickets))
        .route("/_sandbox/psa/{vendor}/companies", get(control_companies))
        .route("/_sandbox/psa/{vendor}/fail", post(control_fail))
        .route("/_sandbox/psa/{vendor}/throttle", post(control_throttle))
}

fn unknown_vendor(name: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!("no PSA stand-in named {name}: connectwise, autotask or halo"),
    )
        .into_response()
}

/// `GET /_sandbox/psa/{vendor}/tickets`: every ticket created, oldest first.
async fn control_tickets(State(app): State<Arc<App>>, Path(vendor): Path<String>) -> Response {
    match Vendor::parse(&vendor) {
        Some(v) => Json(app.psa.desk(&app, v).tickets.clone()).into_response(),
        None => unknown_vendor(&vendor),
    }
}

/// `GET /_sandbox/psa/{vendor}/companies`: the seeded companies.
async fn control_companies(State(app): State<Arc<App>>, Path(vendor): Path<String>) -> Response {
    match Vendor::parse(&vendor) {
        Some(v) => Json(app.psa.desk(&app, v).companies.clone()).into_response(),
        None => unknown_vendor(&vendor),
    }
}

/// How many of the next API requests to spoil.
#[derive(Deserialize)]
struct Count {
    count: u32,
}

/// `POST /_sandbox/psa/{vendor}/fail?count=N`: the next N API requests answer the outage.
async fn control_fail(
    State(app): State<Arc<App>>,
    Path(vendor): Path<String>,
    Query(count): Query<Count>,
) -> Response {
    spoil(&app, &vendor, |desk| desk.fail_next = count.count)
}

/// `POST /_sandbox/psa/{vendor}/throttle?count=N`: the next N API requests are throttled.
async fn control_throttle(
    State(app): State<Arc<App>>,
    Path(vendor): Path<String>,
    Query(count): Query<Count>,
) -> Response {
    spoil(&app, &vendor, |desk| desk.throttle_next = count.count)
}

/// Sets how `vendor`'s next API requests are spoiled.
fn spoil(app: &App, vendor: &str, set: impl FnOnce(&mut Desk)) -> Response {
    match Vendor::parse(vendor) {
        Some(v) => {
            set(&mut app.psa.desk(app, v));
            StatusCode::NO_CONTENT.into_response()
        }
        None => unknown_vendor(vendor),
    }
}
