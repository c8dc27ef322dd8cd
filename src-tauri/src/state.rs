//! What the app holds while it runs: the session (the watched tenants, real or the
//! embedded sandbox's, and the settings) and the scan state the tray and panel show.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use rulewatch_core::app::{Config, Session};
use serde::Serialize;
use tokio::sync::Notify;

/// What the tray and the panel show of the scanner.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ScanState {
    pub scanning: Option<Progress>,
    pub last_scan_at: Option<DateTime<Utc>>,
    pub next_scan_at: Option<DateTime<Utc>>,
    pub paused_until: Option<DateTime<Utc>>,
    /// A tenant could not be scanned at the last scan.
    pub error: bool,
    pub open_alerts: u64,
    /// Channels the technician added whose last delivery failed (their alerts wait).
    pub failing_channels: usize,
    /// Tenants the last scan left to colleagues' workstations: in a team, this one holds
    /// no credentials for them.
    pub elsewhere: usize,
    /// Why the store cannot be opened (the team's database cannot be reached); the app
    /// keeps trying.
    pub offline: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Progress {
    pub done: usize,
    pub total: usize,
    /// Microsoft is throttling and the scan waits until then.
    pub throttled_until: Option<DateTime<Utc>>,
}

pub(crate) struct Shared {
    /// What every session is opened with: joining or leaving a team opens another.
    pub config: Config,
    /// `None` until the store opens: a team workstation starts while its database is
    /// unreachable, and the tray says so instead of the app quitting.
    session: RwLock<Option<Arc<Session>>>,
    pub scan: Mutex<ScanState>,
    /// Asks the scheduler for a scan now; one request waits if a scan is running.
    pub wake: Notify,
    /// The interval or the pause changed: the scheduler recomputes its next scan.
    pub reschedule: Notify,
    /// The technician was told the partner sign-in lapsed (or is about to): once.
    pub partner_warned: AtomicBool,
}

impl Shared {
    pub(crate) fn new(config: Config, session: Result<Session, String>) -> Shared {
        let (session, offline) = match session {
            Ok(s) => (Some(Arc::new(s)), None),
            Err(why) => (None, Some(why)),
        };
        Shared {
            config,
            session: RwLock::new(session),
            scan: Mutex::new(ScanState {
                offline,
                ..ScanState::default()
            }),
            wake: Notify::new(),
            reschedule: Notify::new(),
            partner_warned: AtomicBool::new(false),
        }
    }

    /// The session open now. A scan or command keeps the one it started with, so a
    /// session replaced meanwhile ends its work on the store it began on.
    pub(crate) fn session(&self) -> Option<Arc<Session>> {
        self.session.read().expect("session lock poisoned").clone()
    }

    /// Puts `session` in place of the one open (if any): what follows uses it.
    pub(crate) fn install(&self, session: Session) {
        *self.session.write().expect("session lock poisoned") = Some(Arc::new(session));
        self.update_scan(|s| {
            s.offline = None;
            s.error = false;
        });
    }

    pub(crate) fn scan_state(&self) -> ScanState {
        self.scan.lock().expect("scan state poisoned").clone()
    }

    pub(crate) fn update_scan(&self, f: impl FnOnce(&mut ScanState)) {
        f(&mut self.scan.lock().expect("scan state poisoned"));
    }

    /// Counts the open alerts again, for the tray.
    pub(crate) async fn recount(&self) {
        let Some(session) = self.session() else {
            return;
        };
        match session.open_alert_count().await {
            Ok(n) => self.update_scan(|s| s.open_alerts = n),
            Err(e) => tracing::error!("cannot count the open alerts: {e}"),
        }
    }
}
