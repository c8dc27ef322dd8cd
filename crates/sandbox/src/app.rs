//! The state every endpoint shares.

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::http::HeaderName;
use chrono::{DateTime, Utc};

use crate::certs::RegisteredCert;
use crate::control::Stats;
use crate::faults::FaultInjector;
use crate::feed::Feed;
use crate::ipstack::GeoScenario;
use crate::scenario::{ContentType, Scenario, SubscriptionState, Tenant};
use crate::token::TokenStore;

pub(crate) struct App {
    /// Where this sandbox is reached, e.g. `http://127.0.0.1:41234`.
    pub base_url: String,
    pub page_size: usize,
    pub token_lifetime_s: u64,
    pub next_page_header: HeaderName,
    pub tenants: Vec<TenantEntry>,
    pub feed: Feed,
    pub tokens: TokenStore,
    pub faults: FaultInjector,
    pub stats: Stats,
    pub geo: Option<GeoScenario>,
}

pub(crate) struct TenantEntry {
    /// Lower-case GUID, as Microsoft writes tenant ids.
    pub id: String,
    pub config: Tenant,
    pub certs: Vec<RegisteredCert>,
    live: RwLock<Live>,
}

/// What tests may change while the sandbox runs.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub client_secret: String,
    pub audit_enabled: bool,
    pub consented: bool,
    pub roles: Vec<String>,
    /// Indexed by `ContentType::index`.
    pub subscriptions: [SubscriptionState; ContentType::ALL.len()],
}

impl App {
    /// `scenario` must have passed `Scenario::validate`.
    pub fn new(scenario: Scenario, base_url: String, start: DateTime<Utc>) -> App {
        let feed = Feed::build(&scenario, start);
        let faults = FaultInjector::new(&scenario.faults);
        let tenants = scenario
            .tenants
            .into_iter()
            .map(|config| TenantEntry {
                id: config.tenant_id.to_ascii_lowercase(),
                certs: config
                    .certificates
                    .iter()
                    .map(|pem| RegisteredCert::from_pem(pem).expect("validated scenario"))
                    .collect(),
                live: RwLock::new(Live {
                    client_secret: config.client_secret.clone(),
                    audit_enabled: config.audit_enabled,
                    consented: config.consented,
                    roles: config.roles.clone(),
                    subscriptions: [config.subscription; ContentType::ALL.len()],
                }),
                config,
            })
            .collect();
        App {
            base_url,
            page_size: scenario.page_size,
            token_lifetime_s: scenario.token_lifetime_s,
            next_page_header: HeaderName::from_bytes(scenario.next_page_header.as_bytes())
                .expect("validated scenario"),
            tenants,
            feed,
            tokens: TokenStore::default(),
            faults,
            stats: Stats::default(),
            geo: scenario.geo,
        }
    }

    /// By tenant GUID, ignoring case.
    pub fn tenant_by_id(&self, id: &str) -> Option<usize> {
        self.tenants
            .iter()
            .position(|t| t.id.eq_ignore_ascii_case(id))
    }

    /// By GUID or by one of its domains, as Entra's token endpoint accepts either.
    pub fn tenant_by_name(&self, name: &str) -> Option<usize> {
        self.tenant_by_id(name).or_else(|| {
            self.tenants.iter().position(|t| {
                t.config
                    .domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(name))
            })
        })
    }
}

impl TenantEntry {
    pub fn live(&self) -> RwLockReadGuard<'_, Live> {
        self.live.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn live_mut(&self) -> RwLockWriteGuard<'_, Live> {
        self.live.write().unwrap_or_else(PoisonError::into_inner)
    }
}
