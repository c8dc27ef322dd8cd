//! What the app holds while it runs: the watched tenants' store and engine (real, or
//! the embedded sandbox), the scan state the tray and panel show, and the settings.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use m365_sandbox::{RunningSandbox, Scenario};
use rulewatch_core::cloud::{Cloud, Endpoints};
use rulewatch_core::detect::Severity;
use rulewatch_core::engine::{Engine, EngineConfig};
use rulewatch_core::remediate::Plan;
use rulewatch_core::secrets::{MemorySecrets, SecretStore, keychain_for};
use rulewatch_core::store::Store;
use rulewatch_core::tenants::add_test_tenants;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, RwLock};

/// Where the desktop settings live in the settings table.
const SETTINGS_KEY: &str = "desktop.settings";

/// Settings of the app itself (the rest live where the CLI keeps them too).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DesktopSettings {
    pub scan_interval_minutes: u32,
    pub backfill_hours: u32,
    pub notify: NotifyPrefs,
}

impl Default for DesktopSettings {
    fn default() -> Self {
        DesktopSettings {
            scan_interval_minutes: 5,
            backfill_hours: 24,
            notify: NotifyPrefs::default(),
        }
    }
}

/// Which severities raise a notification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyPrefs {
    pub low: bool,
    pub medium: bool,
    pub high: bool,
    pub critical: bool,
}

impl Default for NotifyPrefs {
    fn default() -> Self {
        NotifyPrefs {
            low: true,
            medium: true,
            high: true,
            critical: true,
        }
    }
}

impl NotifyPrefs {
    pub fn allows(&self, severity: Severity) -> bool {
        match severity {
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
            Severity::Critical => self.critical,
        }
    }
}

/// How the app reaches Microsoft, from the same environment variables as the CLI.
#[derive(Debug, Clone)]
pub struct Launch {
    pub data_dir: PathBuf,
    pub endpoints: Endpoints,
    pub publisher_id: Option<String>,
    /// Hours between listings of the partner's customers (`RULEWATCH_DISCOVERY_HOURS`).
    pub discovery_hours: u16,
    /// `RULEWATCH_ENDPOINTS`, when set: the panel names its host in a banner.
    pub endpoints_override: Option<String>,
    /// `RULEWATCH_TRUST_ENDPOINTS=1`: the keychain's secrets may go to an override on another machine.
    pub trust_endpoints: bool,
    /// Where the daily log file is written, when it is.
    pub log_dir: Option<PathBuf>,
}

impl Launch {
    pub fn from_env() -> Result<Launch> {
        let data_dir = match std::env::var_os("RULEWATCH_DATA_DIR") {
            Some(d) => PathBuf::from(d),
            None => rulewatch_core::default_data_dir()
                .context("no home folder for the database; set RULEWATCH_DATA_DIR")?,
        };
        let endpoints_override = std::env::var("RULEWATCH_ENDPOINTS").ok();
        let endpoints = match &endpoints_override {
            Some(url) => Endpoints::single(url).map_err(anyhow::Error::msg)?,
            None => {
                let cloud: Cloud = std::env::var("RULEWATCH_CLOUD")
                    .unwrap_or_else(|_| "global".into())
                    .parse()
                    .map_err(anyhow::Error::msg)?;
                Endpoints::for_cloud(cloud)
            }
        };
        let publisher_id = std::env::var("RULEWATCH_PUBLISHER_ID")
            .ok()
            .map(|p| rulewatch_core::tenants::parse_guid(&p, "RULEWATCH_PUBLISHER_ID"))
            .transpose()?;
        let discovery_hours = match std::env::var("RULEWATCH_DISCOVERY_HOURS") {
            Ok(h) => h
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|h| *h <= 168)
                .with_context(|| {
                    format!("RULEWATCH_DISCOVERY_HOURS is '{h}': give whole hours from 0 to 168")
                })?,
            Err(_) => 24,
        };
        let trust_endpoints =
            std::env::var("RULEWATCH_TRUST_ENDPOINTS").is_ok_and(|v| v.trim() == "1");
        Ok(Launch {
            data_dir,
            endpoints,
            publisher_id,
            discovery_hours,
            endpoints_override,
            trust_endpoints,
            log_dir: None,
        })
    }

    /// The keychain, withholding its secrets from an untrusted override on another machine.
    pub fn keychain(&self) -> Arc<dyn SecretStore> {
        keychain_for(self.endpoints_override.as_deref(), self.trust_endpoints)
    }

    /// The override's host, for the panel's banner.
    pub fn override_host(&self) -> Option<String> {
        self.endpoints_override
            .as_deref()
            .map(rulewatch_core::cloud::override_host)
    }
}

/// The tenants being watched: the user's, or the embedded sandbox's.
pub struct Mode {
    pub store: Arc<Store>,
    pub engine: Arc<Engine>,
    pub secrets: Arc<dyn SecretStore>,
    /// Running while the sandbox tenant is watched; dropped when it is left.
    pub sandbox: Option<RunningSandbox>,
}

/// What the tray and the panel show of the scanner.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanState {
    pub scanning: Option<Progress>,
    pub last_scan_at: Option<DateTime<Utc>>,
    pub next_scan_at: Option<DateTime<Utc>>,
    pub paused_until: Option<DateTime<Utc>>,
    /// A tenant could not be scanned at the last scan.
    pub error: bool,
    pub open_alerts: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    /// Microsoft is throttling and the scan waits until then.
    pub throttled_until: Option<DateTime<Utc>>,
}

pub struct Shared {
    pub launch: Launch,
    /// The user's own store: their tenants and every setting, sandbox or not.
    pub home: Arc<Store>,
    pub mode: RwLock<Mode>,
    pub scan: Mutex<ScanState>,
    /// Asks the scheduler for a scan now; one request waits if a scan is running.
    pub wake: Notify,
    /// The interval or the pause changed: the scheduler recomputes its next scan.
    pub reschedule: Notify,
    /// The last Secure and Remediate plan read per alert: the steps the panel may run.
    pub plans: Mutex<HashMap<i64, Plan>>,
    /// Why the partner's customers could not be listed, or its sign-in lapsed.
    pub partner_problem: Mutex<Option<rulewatch_core::problem::Problem>>,
    /// The technician was told the partner sign-in lapsed (or is about to): once.
    pub partner_warned: std::sync::atomic::AtomicBool,
}

impl Shared {
    pub fn new(launch: Launch) -> Result<Shared> {
        let secrets = launch.keychain();
        let home = Arc::new(Store::open(&launch.data_dir)?.sign_record_with(secrets.clone()));
        let engine = engine(&home, secrets.clone(), &launch, launch.endpoints.clone())?;
        Ok(Shared {
            mode: RwLock::new(Mode {
                store: home.clone(),
                engine,
                secrets,
                sandbox: None,
            }),
            home,
            launch,
            scan: Mutex::new(ScanState::default()),
            wake: Notify::new(),
            reschedule: Notify::new(),
            plans: Mutex::new(HashMap::new()),
            partner_problem: Mutex::new(None),
            partner_warned: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn settings(&self) -> DesktopSettings {
        self.home
            .setting(SETTINGS_KEY)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    pub fn save_settings(&self, s: &DesktopSettings) -> Result<()> {
        Ok(self.home.set_setting(SETTINGS_KEY, s)?)
    }

    pub fn scan_state(&self) -> ScanState {
        self.scan.lock().expect("scan state poisoned").clone()
    }

    pub fn update_scan(&self, f: impl FnOnce(&mut ScanState)) {
        f(&mut self.scan.lock().expect("scan state poisoned"));
    }

    /// Counts the open alerts again, for the tray.
    pub async fn recount(&self) {
        let count = self.mode.read().await.store.open_alert_count();
        match count {
            Ok(n) => self.update_scan(|s| s.open_alerts = n),
            Err(e) => tracing::error!("cannot count the open alerts: {e}"),
        }
    }

    /// Rebuilds the engine of the current mode, after settings it reads changed.
    pub async fn rebuild_engine(&self) -> Result<()> {
        let mut mode = self.mode.write().await;
        let endpoints = match &mode.sandbox {
            Some(s) => Endpoints::single(s.base_url()).map_err(anyhow::Error::msg)?,
            None => self.launch.endpoints.clone(),
        };
        mode.engine = engine(&mode.store, mode.secrets.clone(), &self.launch, endpoints)?;
        Ok(())
    }

    /// Starts the embedded sandbox and watches its tenants, in a folder of their own
    /// so nothing of the user's is touched.
    pub async fn start_sandbox(&self) -> Result<()> {
        let mut mode = self.mode.write().await;
        if mode.sandbox.is_some() {
            return Ok(());
        }
        let scenario = live_demo();
        let sandbox = m365_sandbox::start("127.0.0.1:0".parse()?, scenario.clone())
            .await
            .context("starting the sandbox")?;
        let dir = m365_sandbox::folder::throwaway_folder(&self.launch.data_dir)?;
        // The sandbox's credentials are public test values: kept in memory, not the keychain.
        let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecrets::default());
        let store = Arc::new(Store::open(&dir)?.sign_record_with(secrets.clone()));
        let credentials = scenario
            .tenants
            .iter()
            .map(|t| (&*t.tenant_id, &*t.name, &*t.client_id, &*t.client_secret));
        add_test_tenants(&store, secrets.as_ref(), credentials)?;
        let endpoints = Endpoints::single(sandbox.base_url()).map_err(anyhow::Error::msg)?;
        let engine = engine(&store, secrets.clone(), &self.launch, endpoints)?;
        *mode = Mode {
            store,
            engine,
            secrets,
            sandbox: Some(sandbox),
        };
        Ok(())
    }

    /// Back to the user's own tenants.
    pub async fn leave_sandbox(&self) -> Result<()> {
        let mut mode = self.mode.write().await;
        let Some(sandbox) = mode.sandbox.take() else {
            return Ok(());
        };
        let secrets = self.launch.keychain();
        let engine = engine(
            &self.home,
            secrets.clone(),
            &self.launch,
            self.launch.endpoints.clone(),
        )?;
        *mode = Mode {
            store: self.home.clone(),
            engine,
            secrets,
            sandbox: None,
        };
        drop(mode);
        sandbox.shutdown().await;
        Ok(())
    }
}

fn engine(
    store: &Arc<Store>,
    secrets: Arc<dyn SecretStore>,
    launch: &Launch,
    endpoints: Endpoints,
) -> Result<Arc<Engine>> {
    let settings: DesktopSettings = store
        .setting(SETTINGS_KEY)
        .ok()
        .flatten()
        .unwrap_or_default();
    let mut config = EngineConfig::new(endpoints);
    config.publisher_id = launch.publisher_id.clone();
    config.discovery_every = chrono::Duration::hours(launch.discovery_hours.into());
    let bounds = rulewatch_core::engine::BACKFILL_HOURS;
    let hours = settings
        .backfill_hours
        .clamp(u32::from(*bounds.start()), u32::from(*bounds.end()));
    config.backfill = chrono::Duration::hours(hours.into());
    Ok(Arc::new(Engine::new(store.clone(), secrets, config)?))
}

/// The demo scenario with its attacks spread out: the first is there at once, the
/// others arrive a minute apart, so a newcomer watches alerts come in.
fn live_demo() -> Scenario {
    let mut scenario = Scenario::demo();
    scenario.rebase_times = true;
    for (i, r) in scenario.records.iter_mut().enumerate() {
        r.release_after_s = -60 + 60 * i as i64;
    }
    scenario
}
