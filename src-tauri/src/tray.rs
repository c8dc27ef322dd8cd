//! The tray icon: its look says all clear, open alerts, error or paused; its menu has
//! the status line, Scan now, Open, Pause/Resume, Start at login and Quit.

use std::sync::Arc;

use chrono::{DateTime, Local, Utc};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};
use tauri_plugin_autostart::ManagerExt;

use crate::state::{ScanState, Shared};
use crate::window::{self, View};

const TRAY_ID: &str = "main";
const PAUSE: chrono::Duration = chrono::Duration::hours(1);

/// The menu items whose text changes.
pub(crate) struct TrayItems {
    status: MenuItem<Wry>,
    pause: MenuItem<Wry>,
    autostart: CheckMenuItem<Wry>,
    on_duty: CheckMenuItem<Wry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Look {
    Clear,
    Alerts,
    Error,
    Paused,
}

impl Look {
    /// Decoded when the app is built, so the binary carries no PNG decoder of Tauri's
    /// (issue 15 keeps it under 25 MB).
    fn icon(self) -> Image<'static> {
        match self {
            Look::Clear => tauri::include_image!("../icons/tray-clear.png"),
            Look::Alerts => tauri::include_image!("../icons/tray-alerts.png"),
            Look::Error => tauri::include_image!("../icons/tray-error.png"),
            Look::Paused => tauri::include_image!("../icons/tray-paused.png"),
        }
    }
}

fn paused(s: &ScanState) -> Option<DateTime<Utc>> {
    s.paused_until.filter(|p| *p > Utc::now())
}

/// Threats first: an open alert outranks a tenant that could not be scanned.
pub(crate) fn look(s: &ScanState) -> Look {
    if paused(s).is_some() {
        Look::Paused
    } else if s.open_alerts > 0 {
        Look::Alerts
    } else if s.error || s.offline.is_some() {
        Look::Error
    } else {
        Look::Clear
    }
}

fn local_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%H:%M").to_string()
}

/// The status line: "Last scan 10:42 · 3 open alerts".
pub(crate) fn status_line(s: &ScanState) -> String {
    if s.offline.is_some() {
        return "Cannot reach the team's database · trying again".to_string();
    }
    let activity = match (&s.scanning, paused(s), s.last_scan_at) {
        (Some(p), _, _) => match p.throttled_until {
            Some(until) => format!(
                "Scanning {}/{} tenants, throttled by Microsoft until {}",
                p.done,
                p.total,
                until.with_timezone(&Local).format("%H:%M:%S")
            ),
            None => format!("Scanning {}/{} tenants", p.done, p.total),
        },
        (None, Some(until), _) => format!("Paused until {}", local_time(until)),
        (None, None, Some(last)) => format!("Last scan {}", local_time(last)),
        (None, None, None) => "Not scanned yet".to_string(),
    };
    let alerts = match s.open_alerts {
        1 => "1 open alert".to_string(),
        n => format!("{n} open alerts"),
    };
    let error = if s.error {
        " · a tenant cannot be scanned"
    } else {
        ""
    };
    let left = match s.elsewhere {
        0 => String::new(),
        n => format!(" · {n} left to colleagues"),
    };
    let channels = match s.failing_channels {
        0 => String::new(),
        1 => " · a channel's delivery fails".to_string(),
        n => format!(" · {n} channels' deliveries fail"),
    };
    format!("{activity} · {alerts}{left}{error}{channels}")
}

pub(crate) fn build(app: &AppHandle) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "Starting…", false, None::<&str>)?;
    let scan = MenuItem::with_id(app, "scan", "Scan now", true, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Rulewatch", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause for 1 hour", true, None::<&str>)?;
    let at_login = app.autolaunch().is_enabled().unwrap_or(false);
    let autostart = CheckMenuItem::with_id(
        app,
        "autostart",
        "Start at login",
        true,
        at_login,
        None::<&str>,
    )?;
    // Read from the store just after: the menu is built before the session is at hand.
    let on_duty = CheckMenuItem::with_id(app, "on-duty", "On duty", true, true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &scan,
            &open,
            &pause,
            &on_duty,
            &autostart,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(Look::Clear.icon())
        .tooltip("Rulewatch")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| on_menu(app, event.id.as_ref()))
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                window::open(tray.app_handle(), View::Current);
            }
        })
        .build(app)?;
    app.manage(TrayItems {
        status,
        pause,
        autostart,
        on_duty,
    });
    show_duty(app.clone());
    Ok(())
}

fn on_menu(app: &AppHandle, id: &str) {
    let shared = app.state::<Arc<Shared>>();
    match id {
        "scan" => shared.wake.notify_one(),
        "open" => window::open(app, View::Current),
        "pause" => {
            let now_paused = paused(&shared.scan_state()).is_some();
            shared.update_scan(|s| {
                s.paused_until = if now_paused {
                    None
                } else {
                    Some(Utc::now() + PAUSE)
                }
            });
            shared.reschedule.notify_one();
            refresh(app);
        }
        "autostart" => {
            let launcher = app.autolaunch();
            let result = if launcher.is_enabled().unwrap_or(false) {
                launcher.disable()
            } else {
                launcher.enable()
            };
            if let Err(e) = result {
                tracing::error!("cannot change start at login: {e}");
            }
            refresh(app);
        }
        "on-duty" => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let Some(session) = app.state::<Arc<Shared>>().session() else {
                    return;
                };
                let on = session.on_duty().await.unwrap_or(true);
                if let Err(e) = session.set_on_duty(!on).await {
                    tracing::error!("cannot change who is on duty: {e}");
                }
                show_duty(app.clone());
            });
        }
        "quit" => app.exit(0),
        _ => {}
    }
}

/// Ticks "On duty" as the store has it: off duty, this desktop notifies nothing.
pub(crate) fn show_duty(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let Some(session) = app.state::<Arc<Shared>>().session() else {
            return;
        };
        let on = session.on_duty().await.unwrap_or(true);
        if let Some(items) = app.try_state::<TrayItems>() {
            let _ = items.on_duty.set_checked(on);
        }
    });
}

/// Brings icon, tooltip and menu up to date with the scan state.
pub(crate) fn refresh(app: &AppHandle) {
    let state = app.state::<Arc<Shared>>().scan_state();
    let line = status_line(&state);
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_icon(Some(look(&state).icon()));
        let _ = tray.set_tooltip(Some(format!("Rulewatch — {line}")));
    }
    if let Some(items) = app.try_state::<TrayItems>() {
        let _ = items.status.set_text(&line);
        let _ = items.pause.set_text(if paused(&state).is_some() {
            "Resume"
        } else {
            "Pause for 1 hour"
        });
        let _ = items
            .autostart
            .set_checked(app.autolaunch().is_enabled().unwrap_or(false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Progress;

    #[test]
    fn the_icon_says_paused_then_alerts_then_error() {
        let mut s = ScanState::default();
        assert_eq!(look(&s), Look::Clear);
        s.error = true;
        assert_eq!(look(&s), Look::Error);
        s.open_alerts = 2;
        assert_eq!(look(&s), Look::Alerts);
        s.paused_until = Some(Utc::now() + chrono::Duration::minutes(30));
        assert_eq!(look(&s), Look::Paused);
        s.paused_until = Some(Utc::now() - chrono::Duration::minutes(1));
        assert_eq!(look(&s), Look::Alerts, "an expired pause is no pause");
    }

    #[test]
    fn the_status_line_tells_progress_and_count() {
        let mut s = ScanState {
            open_alerts: 3,
            ..ScanState::default()
        };
        assert_eq!(status_line(&s), "Not scanned yet · 3 open alerts");
        s.scanning = Some(Progress {
            done: 2,
            total: 5,
            throttled_until: None,
        });
        assert_eq!(status_line(&s), "Scanning 2/5 tenants · 3 open alerts");
        let until = Utc::now() + chrono::Duration::seconds(61);
        s.scanning = Some(Progress {
            done: 2,
            total: 5,
            throttled_until: Some(until),
        });
        assert_eq!(
            status_line(&s),
            format!(
                "Scanning 2/5 tenants, throttled by Microsoft until {} · 3 open alerts",
                until.with_timezone(&Local).format("%H:%M:%S")
            )
        );
        s.scanning = None;
        s.open_alerts = 1;
        s.error = true;
        s.last_scan_at = Some(Utc::now());
        assert!(status_line(&s).starts_with("Last scan "));
        assert!(status_line(&s).ends_with(" · 1 open alert · a tenant cannot be scanned"));
        s.failing_channels = 2;
        assert!(
            status_line(&s)
                .ends_with(" · a tenant cannot be scanned · 2 channels' deliveries fail"),
            "{}",
            status_line(&s)
        );
        s.elsewhere = 4;
        assert!(
            status_line(&s).contains(" · 1 open alert · 4 left to colleagues · "),
            "{}",
            status_line(&s)
        );
        s.offline = Some("the team's database at postgres://db/rw cannot be reached".into());
        assert_eq!(
            status_line(&s),
            "Cannot reach the team's database · trying again"
        );
        s.open_alerts = 0;
        s.error = false;
        assert_eq!(look(&s), Look::Error, "nothing is watched while offline");
    }
}
