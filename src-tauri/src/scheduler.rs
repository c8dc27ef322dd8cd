//! Background scans on tokio: the first a few seconds after launch, then one every
//! interval (with a little jitter so many installs do not hit Microsoft in step).
//! **Scan now** wakes it; scans never overlap, and a request made during a scan runs
//! once that scan ends.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use tauri::{AppHandle, Emitter, Manager};

use std::sync::atomic::Ordering;

use rulewatch_core::app::{Error, FrontEnd, ScanReport, Session, TenantState};

use crate::state::{Progress, Shared};
use crate::{notifier, tray, window};

/// How soon after launch the first scan starts.
const FIRST_SCAN: Duration = Duration::from_secs(2);
/// The sandbox's attacks arrive a minute apart; it is scanned often enough to show it.
const SANDBOX_INTERVAL: Duration = Duration::from_secs(20);

pub(crate) const CHANGED: &str = "rulewatch://changed";

pub(crate) async fn run(app: AppHandle) {
    let shared = app.state::<Arc<Shared>>().inner().clone();
    shared.update_scan(|s| {
        s.next_scan_at =
            Some(Utc::now() + chrono::Duration::from_std(FIRST_SCAN).unwrap_or_default())
    });
    loop {
        let wait = until_next(&shared);
        tokio::select! {
            () = tokio::time::sleep(wait) => {
                if shared.scan_state().paused_until.is_some_and(|p| p > Utc::now()) {
                    continue;
                }
            }
            () = shared.wake.notified() => {}
            () = shared.reschedule.notified() => {
                schedule_next(&shared).await;
                continue;
            }
        }
        scan_once(&app, &shared).await;
        schedule_next(&shared).await;
        // The scan's code (HTTP, TLS, JSON, the store) is not needed until the next one.
        if !window::is_open(&app) {
            let _ = tauri::async_runtime::spawn_blocking(|| {
                crate::pages::let_go("a scan ended");
            })
            .await;
        }
    }
}

fn until_next(shared: &Shared) -> Duration {
    let state = shared.scan_state();
    let due = match (state.paused_until, state.next_scan_at) {
        (Some(p), _) if p > Utc::now() => p,
        (_, Some(n)) => n,
        (_, None) => Utc::now(),
    };
    (due - Utc::now()).to_std().unwrap_or(Duration::ZERO)
}

/// How often the store is checked for what other processes on the data folder committed
/// while the panel is open, and while only the tray shows it: checked every second, the
/// closed app woke each second for it (0.2 % of a core, measured by
/// scripts/measure-desktop.sh), and each workstation of a team asked the team's server.
const LIVE_EVERY: Duration = Duration::from_secs(1);
const TRAY_EVERY: Duration = Duration::from_secs(5);

/// Keeps the panel and the tray live to changes other processes commit to the store (a
/// colleague's CLI taking an alert, the watcher storing one): within a second of a
/// commit while the panel is open (five with the panel closed), the counts are read
/// again and the panel told.
pub(crate) async fn follow_store(app: AppHandle) {
    let shared = app.state::<Arc<Shared>>().inner().clone();
    let (mut seen, mut failing) = (None, false);
    // Checked first, then after each wait: what is committed after the first check is a
    // change, however soon after the start.
    loop {
        if let Some(session) = shared.session() {
            match session.store_version().await {
                Ok(version) => {
                    failing = false;
                    if seen.replace(version).is_some_and(|s| s != version) {
                        shared.recount().await;
                        tray::refresh(&app);
                        let _ = app.emit(CHANGED, ());
                    }
                }
                // Said once per failure, not once a second.
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!("cannot check the store for others' changes: {e}");
                }
                Err(_) => {}
            }
        }
        let open = window::is_open(&app);
        tokio::time::sleep(if open { LIVE_EVERY } else { TRAY_EVERY }).await;
    }
}

/// The first wait before opening the team's database again; it doubles up to the last.
const REOPEN_FIRST: Duration = Duration::from_secs(2);
const REOPEN_MOST: Duration = Duration::from_secs(60);

/// What the tray and the panel say while the store cannot be opened.
pub(crate) fn offline(e: &Error) -> String {
    format!("{e}. Rulewatch keeps trying to connect.")
}

/// Opens the store again until it opens, backing off: the team's database was out of
/// reach at launch. Said once by a notification, and all along in the tray.
pub(crate) async fn reopen(app: &AppHandle) {
    let shared = app.state::<Arc<Shared>>().inner().clone();
    if let Some(why) = shared.scan_state().offline {
        notifier::store_offline(app, &why);
    }
    tray::refresh(app);
    let mut wait = REOPEN_FIRST;
    loop {
        tokio::time::sleep(wait).await;
        let config = shared.config.clone();
        match tauri::async_runtime::spawn_blocking(move || Session::open(config)).await {
            Ok(Ok(session)) => break shared.install(session),
            Ok(Err(e)) => {
                tracing::warn!("cannot open the team's database yet: {e}");
                shared.update_scan(|s| s.offline = Some(offline(&e)));
            }
            Err(e) => tracing::error!("opening the store stopped: {e}"),
        }
        tray::refresh(app);
        let _ = app.emit(CHANGED, ());
        wait = (wait * 2).min(REOPEN_MOST);
    }
    tracing::info!("the store is open");
    opened(app).await;
}

/// This desktop's notifications get a queue of their own in the store open now (in a
/// team, this workstation's), before the first scan stores anything.
pub(crate) async fn register(shared: &Shared) {
    if let Some(session) = shared.session()
        && let Err(e) = session.register(FrontEnd::Desktop).await
    {
        tracing::error!("cannot give this desktop's notifications a queue: {e}");
    }
}

/// A session was put in place: the tray, the panel and the scanner follow it at once.
pub(crate) async fn opened(app: &AppHandle) {
    let shared = app.state::<Arc<Shared>>().inner().clone();
    register(&shared).await;
    shared.recount().await;
    tray::refresh(app);
    tray::show_duty(app.clone());
    let _ = app.emit(CHANGED, ());
    shared.wake.notify_one();
}

async fn schedule_next(shared: &Shared) {
    let Some(session) = shared.session() else {
        return;
    };
    let interval = if session.in_sandbox().await {
        SANDBOX_INTERVAL
    } else {
        session.preferences().interval()
    };
    let jitter = rand::rng().random_range(0.95..1.05);
    let next =
        Utc::now() + chrono::Duration::from_std(interval.mul_f64(jitter)).unwrap_or_default();
    shared.update_scan(|s| s.next_scan_at = Some(next));
}

async fn scan_once(app: &AppHandle, shared: &Shared) {
    let Some(session) = shared.session() else {
        return;
    };
    let show = |done, total, throttled_until| {
        shared.update_scan(|s| {
            s.scanning = Some(Progress {
                done,
                total,
                throttled_until,
            })
        });
        tray::refresh(app);
        let _ = app.emit(CHANGED, ());
    };
    // The throttling wait is read by the tick below; progress keeps the one shown.
    let progress = |done, total| {
        let throttled = shared.scan_state().scanning.and_then(|p| p.throttled_until);
        show(done, total, throttled)
    };
    let prefs = session.preferences().notify;
    // A store that cannot say is taken as on duty: an alert missed is worse than one rung.
    let on_duty = session.on_duty().await.unwrap_or(true);
    let desk = notifier::Desk {
        technician: session.technician(),
        on_duty,
    };
    // Each tenant's alerts are notified as its scan commits, not at the cycle's end.
    let scan = session.scan_delivering(FrontEnd::Desktop, progress, |pending| {
        notifier::deliver(app, pending, &prefs, desk)
    });
    tokio::pin!(scan);
    // A throttling wait can last a minute or more (../shared/reference/m365-api.md §G 14): show it while it lasts.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (report, delivered) = loop {
        tokio::select! {
            done = &mut scan => break done,
            _ = tick.tick() => {
                let until = session.throttled_until().await;
                if let Some(p) = shared.scan_state().scanning.filter(|p| p.throttled_until != until) {
                    show(p.done, p.total, until);
                }
            }
        }
    };
    let error = match &report {
        Ok(r) => r.tenants.iter().any(|t| t.state == TenantState::Error),
        Err(e) => {
            tracing::error!("scan failed: {e}");
            true
        }
    };
    shared.update_scan(|s| {
        s.scanning = None;
        s.last_scan_at = Some(Utc::now());
        s.error = error;
        s.elsewhere = report.as_ref().map_or(0, |r| r.elsewhere.len());
    });
    if let Ok(r) = &report {
        partner_news(app, shared, &session, r);
    }
    if let Err(e) = delivered {
        tracing::error!("cannot notify the new alerts: {e}");
    }
    // The channels the technician added; a failure waits for its retry, and shows in
    // Settings → Delivery.
    match session.deliver_to_channels(false).await {
        Ok(passes) => {
            let failing = passes.iter().filter(|p| p.error.is_some()).count();
            shared.update_scan(|s| s.failing_channels = failing);
            for p in passes.iter().filter(|p| p.error.is_some()) {
                tracing::warn!(
                    "channel {}: {} delivered, then failed: {}",
                    p.channel,
                    p.delivered,
                    p.error.as_deref().unwrap_or_default()
                );
            }
        }
        Err(e) => tracing::error!("cannot deliver to the channels: {e}"),
    }
    shared.recount().await;
    tray::refresh(app);
    let _ = app.emit(CHANGED, ());
}

/// What the partner account's part of a scan means for the technician: coverage that
/// grew, and a sign-in that lapsed or is about to (said once until signed in again).
fn partner_news(app: &AppHandle, shared: &Shared, session: &Session, report: &ScanReport) {
    if let Some(Ok(d)) = &report.discovery
        && !d.now_watched.is_empty()
    {
        notifier::coverage_grew(
            app,
            &d.now_watched
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>(),
        );
    }
    let lapsed = report.partner_lapsed().is_some();
    let expiring = session
        .partner_account()
        .ok()
        .flatten()
        .and_then(|a| a.lapses_soon(Utc::now()));
    let why = match (lapsed, expiring) {
        (true, _) => Some("Your partner sign-in has lapsed or was revoked.".to_string()),
        (false, Some(at)) => Some(format!(
            "Your partner sign-in expires on {}.",
            at.format("%Y-%m-%d %H:%M UTC")
        )),
        (false, None) => None,
    };
    match why {
        Some(why) if !shared.partner_warned.swap(true, Ordering::Relaxed) => {
            notifier::sign_in_needed(app, &why)
        }
        Some(_) => {}
        None => shared.partner_warned.store(false, Ordering::Relaxed),
    }
}
