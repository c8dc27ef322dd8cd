//! The use cases both front ends share, behind one door: [`Session`]. The CLI's
//! subcommands and the desktop's commands parse what they were given, make one call
//! here, and print or serialise the answer; neither reaches the store or Microsoft's
//! clients itself, so a rule (how a customer id is compared, which bounds a setting
//! has, what trusting an alert's destination stores) lives once.
//!
//! A session watches the technician's own tenants, or the embedded sandbox's planted
//! attacks in a throwaway folder ([`Session::start_sandbox`], [`Session::demo`]).

// The door the front ends use says what each thing is (issue 12 item 7).
#![warn(missing_docs)]

mod alerts;
mod channels;
mod config;
mod error;
mod partner;
mod remediation;
mod sandbox;
mod settings;
mod team;
mod tenants;
mod tuning;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::RwLock;

use crate::cloud::Endpoints;
use crate::engine::Engine;
use crate::secrets::SecretStore;
use crate::store::Store;

pub use alerts::{AlertDetail, AlertPageRequest, Field, HeldBy, MAX_PAGE};
pub use config::{
    BACKFILL_HOURS, CONCURRENCY, Config, ConfigError, DISCOVERY_HOURS, THROTTLE_WAIT_SECS, Var,
};
pub use error::{Error, ErrorKind, Remedy};
pub use partner::{PartnerState, SignInWith};
pub use remediation::UndoStep;
pub use settings::{
    Bounds, GeoSetting, GeoUpdate, KeyState, NotifyPrefs, Preferences, SCAN_INTERVAL_MINUTES,
    Settings, SettingsUpdate,
};
pub use team::{Lease, OnDuty, TeamStatus, TenantScan, join_team, leave_team};
pub use tenants::{Added, MspTenant, TenantInput};

/// What a front end did with the alerts handed to it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The alerts it delivered (or deliberately left unsaid, such as muted ones).
    pub ids: Vec<i64>,
    /// Why the others were not delivered, when something failed; they stay queued.
    pub error: Option<String>,
}

// The model and error types the front ends show, named from here so they need no
// other door into core.
pub use crate::allowlist::{TrustEntry, TrustError, TrustKind};
pub use crate::clock;
pub use crate::cloud::{Cloud, override_host};
pub use crate::deliver::{
    ChannelError, Chat, Company, CompanyMatch, EmailConfig, Pass, PsaAccount, PsaConfig,
    QuietHours, Route, SCHEMA as WEBHOOK_SCHEMA, Security, Vendor, signature,
};
pub use crate::engine::{ConnectionStep, ScanReport};
pub use crate::geo::{Answer, Location};
pub use crate::logging::init as start_logging;
pub use crate::partner::{CustomerError, Discovery, PartnerAccount};
pub use crate::problem::{Problem, ProblemKind};
pub use crate::remediate::{Action, Outcome, Plan, RemediateError, StepResult};
pub use crate::secrets::SecretError;
pub use crate::sign_ins::AUDIT_AZURE_AD;
pub use crate::store::{
    Alert, AlertFilter, AlertPage, AlertStatus, AlertTenant, Assignee, CHAIN_DOES_NOT_PROVE,
    CHAIN_PROVES, ChainHead, ChainReport, ChannelHealth, ChannelRow, CustomerRow, FrontEnd, GeoFix,
    GeoProblem, GeoProvider, HistoryEntry, INCIDENT_WINDOW, Incident, IncidentStart,
    IncidentStatus, LogEntry, Migrated, Review, StatusFilter, StoreError, TenantRow, TenantState,
    TenantStatus,
};
pub use crate::tenants::{NewCredential, TenantError};
pub use crate::tuning::SeverityOverride;
pub use crate::tuning::Tuning;
pub use crate::undo::UndoPreview;
pub use tuning::{TenantTuning, TrustRequest};

/// The tenants being watched: the technician's, or the embedded sandbox's.
struct Mode {
    store: Arc<Store>,
    engine: Arc<Engine>,
    secrets: Arc<dyn SecretStore>,
    /// Running while the sandbox's tenants are watched.
    sandbox: Option<sandbox::Running>,
}

/// One installation's use cases: its configuration, the technician's own store (every
/// setting lives there, sandbox or not) and the tenants watched now.
pub struct Session {
    config: Config,
    /// This workstation's id, when its data folder is in a team: its front ends' queues
    /// are its own.
    workstation: Option<String>,
    home: Arc<Store>,
    mode: RwLock<Mode>,
    /// The last Secure and Remediate plan read per alert: the steps that may be run.
    plans: Mutex<HashMap<i64, Plan>>,
    /// Why the partner's customers could not be listed, or its sign-in lapsed.
    partner_problem: Mutex<Option<Problem>>,
}

/// How long an alert waits in a front end's queue to be handed over: a desktop away
/// longer (or a watcher stopped) would otherwise read a year of alerts into memory at
/// once to ring one summary (issue 15); the older ones are passed over, never lost.
pub const HAND_OVER_FOR: chrono::Duration = chrono::Duration::days(7);

impl Session {
    /// Opens the technician's store in the configured folder (or the team's, when the
    /// folder has joined one), its remediation record signed with a key from the keychain.
    pub fn open(config: Config) -> Result<Session, Error> {
        let secrets = config.keychain();
        let (store, workstation) = match crate::team::open(&config.data_dir, secrets.as_ref())? {
            Some((shared, membership)) => (shared, Some(membership.workstation)),
            None => (Store::open(&config.data_dir)?, None),
        };
        let home = Arc::new(store.sign_record_with(secrets.clone()));
        let engine = build_engine(&config, &home, &home, secrets.clone(), config.endpoints())?;
        let mut session = Session::with_mode(
            config,
            home.clone(),
            Mode {
                store: home,
                engine,
                secrets,
                sandbox: None,
            },
        );
        session.workstation = workstation;
        Ok(session)
    }

    fn with_mode(config: Config, home: Arc<Store>, mode: Mode) -> Session {
        Session {
            config,
            workstation: None,
            home,
            mode: RwLock::new(mode),
            plans: Mutex::new(HashMap::new()),
            partner_problem: Mutex::new(None),
        }
    }

    /// The configuration the session was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The engine and store of the tenants watched now.
    async fn current(&self) -> (Arc<Engine>, Arc<Store>) {
        let mode = self.mode.read().await;
        (mode.engine.clone(), mode.store.clone())
    }

    /// Changes whenever another process commits to this session's store: a colleague's
    /// CLI taking an alert, the watcher storing one. The panel polls it to stay live.
    pub async fn store_version(&self) -> Result<i64, Error> {
        Ok(self.store().await.data_version()?)
    }

    async fn store(&self) -> Arc<Store> {
        self.mode.read().await.store.clone()
    }

    /// Builds the engine of the tenants watched now again, after settings it reads changed.
    async fn rebuild_engine(&self) -> Result<(), Error> {
        let mut mode = self.mode.write().await;
        let endpoints = match &mode.sandbox {
            Some(s) => s.endpoints()?,
            None => self.config.endpoints(),
        };
        mode.engine = build_engine(
            &self.config,
            &self.home,
            &mode.store,
            mode.secrets.clone(),
            endpoints,
        )?;
        Ok(())
    }

    /// Scans every watched tenant once, calling `progress(done, total)` as each finishes;
    /// then, once a day, prunes what the retention setting no longer keeps.
    pub async fn scan(&self, progress: impl Fn(usize, usize)) -> Result<ScanReport, Error> {
        let (engine, store) = self.current().await;
        let report = engine.scan_with_progress(progress).await?;
        match (report.partner_lapsed(), &report.discovery) {
            (Some(p), _) => self.note_partner_problem(Some(p.clone())),
            (None, Some(listed)) => self.note_partner_problem(listed.as_ref().err().cloned()),
            (None, None) => {}
        }
        self.prune_if_due(store).await;
        Ok(report)
    }

    /// Scans as [`Session::scan`] does, handing `to`'s new alerts to `deliver` as each
    /// tenant's scan commits, not once every tenant is done: at a thousand tenants a cycle
    /// takes seconds, which the first tenant's alert would otherwise wait out (issue 15
    /// item 6). Answers the scan's report and how many alerts were delivered, or why a
    /// delivery failed (what was not delivered stays queued for the next call).
    pub async fn scan_delivering(
        &self,
        to: FrontEnd,
        progress: impl Fn(usize, usize),
        mut deliver: impl FnMut(Vec<Alert>) -> Delivered,
    ) -> (Result<ScanReport, Error>, Result<usize, Error>) {
        let committed = tokio::sync::Notify::new();
        let scan = self.scan(|done, total| {
            progress(done, total);
            committed.notify_one();
        });
        tokio::pin!(scan);
        // Once a scan, not at each tenant's hand-over.
        let mut delivered = self.pass_over_stale(to).await.map(|()| 0);
        let mut hand_over = async |delivered: &mut Result<usize, Error>| {
            // After a failure the rest waits in the queue for the next call.
            if let Ok(n) = delivered {
                match self.hand_over(to, &mut deliver).await {
                    Ok(more) => *n += more,
                    Err(e) => *delivered = Err(e),
                }
            }
        };
        let report = loop {
            tokio::select! {
                report = &mut scan => break report,
                () = committed.notified() => hand_over(&mut delivered).await,
            }
        };
        hand_over(&mut delivered).await;
        (report, delivered)
    }

    /// Until when Microsoft's throttling holds the running scan back.
    pub async fn throttled_until(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.mode.read().await.engine.throttled_until()
    }

    /// Hands `to`'s queue, the alerts it has not received yet (this scan's, and any an
    /// interrupted run stored but did not hand over, from the last [`HAND_OVER_FOR`]),
    /// to `deliver`. What it delivered is marked so for `to` alone: the other front end's
    /// queue keeps every alert. The rest stay queued for the next call, with the error
    /// when there was one. Answers how many were delivered.
    pub async fn deliver_new_alerts(
        &self,
        to: FrontEnd,
        deliver: impl FnOnce(Vec<Alert>) -> Delivered,
    ) -> Result<usize, Error> {
        self.pass_over_stale(to).await?;
        self.hand_over(to, deliver).await
    }

    /// Passes over what waited for `to` longer than [`HAND_OVER_FOR`], saying so in the
    /// log.
    async fn pass_over_stale(&self, to: FrontEnd) -> Result<(), Error> {
        let name = self.queue(to).await;
        let stale = self
            .store()
            .await
            .pass_over_stale(&name, crate::clock::now() - HAND_OVER_FOR)?;
        if stale > 0 {
            tracing::warn!(
                "{stale} alert(s) waited for {name} longer than {} days: not handed over (the panel and `rulewatch alerts` list them)",
                HAND_OVER_FOR.num_days()
            );
        }
        Ok(())
    }

    /// [`Session::deliver_new_alerts`] without passing over the stale ones first.
    async fn hand_over(
        &self,
        to: FrontEnd,
        deliver: impl FnOnce(Vec<Alert>) -> Delivered,
    ) -> Result<usize, Error> {
        let store = self.store().await;
        let name = self.queue(to).await;
        let channel = name.as_str();
        let pending = store.pending_deliveries(channel)?;
        let queued: Vec<i64> = pending.iter().map(|a| a.id).collect();
        let done = deliver(pending);
        store.mark_delivered(channel, &done.ids)?;
        if let Some(error) = &done.error {
            let left: Vec<i64> = queued
                .into_iter()
                .filter(|id| !done.ids.contains(id))
                .collect();
            store.delivery_failed(channel, &left, error, None)?;
        }
        Ok(done.ids.len())
    }

    /// Gives front end `to` its own queue, if it has none yet (the watcher's, on its first
    /// start; in a team, each workstation's front ends' own): it receives the alerts
    /// stored from now on. Each front end registers before it scans, so a team's server
    /// that only watches gains no desktop queue that nothing would ever empty.
    pub async fn register(&self, to: FrontEnd) -> Result<(), Error> {
        let name = self.queue(to).await;
        Ok(self.store().await.ensure_front_end(&name, to)?)
    }

    /// Front end `to`'s queue in the store watched now: in a team, this workstation's.
    async fn queue(&self, to: FrontEnd) -> String {
        let shared = self.mode.read().await.sandbox.is_none();
        queue_name(to, self.workstation.as_deref().filter(|_| shared))
    }

    /// Every delivery channel's queue: how many alerts wait, when it last received
    /// one, and its latest error.
    pub async fn channels(&self) -> Result<Vec<ChannelHealth>, Error> {
        Ok(self.store().await.channel_health()?)
    }

    /// Whether anything is configured to scan: a tenant or a partner account.
    pub async fn has_anything_to_scan(&self) -> Result<bool, Error> {
        let store = self.store().await;
        Ok(!store.tenants()?.is_empty() || crate::partner::account(&store)?.is_some())
    }

    fn note_partner_problem(&self, problem: Option<Problem>) {
        *self
            .partner_problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = problem;
    }
}

/// An engine over `store`, with the look-back saved in `home` unless one was given.
fn build_engine(
    config: &Config,
    home: &Store,
    store: &Arc<Store>,
    secrets: Arc<dyn SecretStore>,
    endpoints: Endpoints,
) -> Result<Arc<Engine>, Error> {
    let stored = settings::preferences_in(home);
    let engine_config = config.engine(endpoints, stored.backfill());
    Engine::new(store.clone(), secrets, engine_config)
        .map(Arc::new)
        .map_err(|e| Error::Failed(format!("cannot start the HTTP client: {e}")))
}

/// The name of front end `to`'s queue: its own name alone, or in a team, with the
/// workstation's id (`desktop@ID`), so that every technician's front ends receive every
/// alert.
fn queue_name(to: FrontEnd, workstation: Option<&str>) -> String {
    match workstation {
        Some(id) => format!("{}@{id}", to.channel()),
        None => to.channel().to_string(),
    }
}
