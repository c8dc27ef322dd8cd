//! The state every endpoint shares.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::http::HeaderName;
use chrono::{DateTime, Duration, Utc};

use crate::certs::RegisteredCert;
use crate::control::Stats;
use crate::directory::Directory;
use crate::elsewhere::Recorder;
use crate::faults::FaultInjector;
use crate::feed::Feed;
use crate::hooks::Receiver;
use crate::ipstack::GeoScenario;
use crate::partner::PartnerState;
use crate::psa::Psa;
use crate::scenario::{ContentType, Scenario, SubscriptionState, Tenant, TokenRefusal};
use crate::times::Clock;
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
    pub partner: Option<PartnerState>,
    /// The hostile-network recorder (elsewhere.rs).
    pub elsewhere: Arc<Recorder>,
    /// The webhook receiver (hooks.rs).
    pub hooks: Receiver,
    /// The PSA stand-ins (psa/).
    pub psa: Psa,
    /// The wall clock, or the scenario's faster one.
    pub clock: Clock,
}

pub(crate) struct TenantEntry {
    /// Lower-case GUID, as Microsoft writes tenant ids.
    pub id: String,
    pub config: Tenant,
    pub certs: Vec<RegisteredCert>,
    pub clock: Clock,
    live: RwLock<Live>,
    directory: Mutex<Directory>,
}

/// What tests may change while the sandbox runs.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub client_secret: String,
    pub audit_enabled: bool,
    pub consented: bool,
    pub roles: Vec<String>,
    pub directory_roles: Vec<String>,
    /// How long a remediation write stays invisible to reads (§G 11).
    pub write_visible_after_ms: u64,
    /// Indexed by `ContentType::index`.
    pub subscriptions: [SubscriptionState; ContentType::ALL.len()],
    pub token_refusal: Option<TokenRefusal>,
    /// The last `subscriptions/start` per content type, for Microsoft's 15-minute spacing.
    pub started_at: [Option<DateTime<Utc>>; ContentType::ALL.len()],
}

impl App {
    /// `scenario` must have passed `Scenario::validate`.
    pub(crate) fn new(scenario: Scenario, base_url: String) -> App {
        let clock = Clock::start(scenario.clock_speed);
        let start = clock.now_ms();
        let feed = Feed::build(&scenario, start);
        let faults = FaultInjector::new(&scenario.faults);
        let records = &scenario.records;
        let tenants = scenario
            .tenants
            .into_iter()
            .map(|config| {
                let id = config.tenant_id.to_ascii_lowercase();
                let released = records
                    .iter()
                    .filter(|r| r.tenant_id.eq_ignore_ascii_case(&id))
                    .map(|r| {
                        (
                            start + Duration::seconds(r.release_after_s),
                            r.record.clone(),
                        )
                    })
                    .collect();
                TenantEntry {
                    directory: Mutex::new(Directory::new(&config, &id, released, start)),
                    id,
                    clock,
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
                        directory_roles: config.directory_roles.clone(),
                        write_visible_after_ms: config.write_visible_after_ms,
                        subscriptions: [config.subscription; ContentType::ALL.len()],
                        token_refusal: config.token_refusal,
                        started_at: [None; ContentType::ALL.len()],
                    }),
                    config,
                }
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
            tokens: TokenStore::new(clock),
            faults,
            stats: Stats::default(),
            geo: scenario.geo,
            partner: scenario.partner.map(PartnerState::new),
            elsewhere: Arc::default(),
            hooks: Receiver::default(),
            psa: Psa::default(),
            clock,
        }
    }

    /// By tenant GUID, ignoring case.
    pub(crate) fn tenant_by_id(&self, id: &str) -> Option<usize> {
        self.tenants
            .iter()
            .position(|t| t.id.eq_ignore_ascii_case(id))
    }

    /// By GUID or by one of its domains, as Entra's token endpoint accepts either.
    pub(crate) fn tenant_by_name(&self, name: &str) -> Option<usize> {
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
    pub(crate) fn live(&self) -> RwLockReadGuard<'_, Live> {
        self.live.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn live_mut(&self) -> RwLockWriteGuard<'_, Live> {
        self.live.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Accounts and mailboxes, with every planted record released by now applied.
    pub(crate) fn directory(&self) -> MutexGuard<'_, Directory> {
        let mut directory = self
            .directory
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        directory.catch_up(self.clock.now());
        directory.write_delay = Duration::milliseconds(self.live().write_visible_after_ms as i64);
        directory
    }

    pub(crate) fn has_directory_role(&self, role: &str) -> bool {
        self.live()
            .directory_roles
            .iter()
            .any(|r| r.eq_ignore_ascii_case(role))
    }
}
