//! The panel window: shown and focused on demand, hidden (never closed) by its close
//! button so the app keeps watching from the tray.

use tauri::{AppHandle, Emitter, Manager};

pub const OPEN_ALERT: &str = "rulewatch://open-alert";

/// Shows the panel, on one alert when given.
pub fn open(app: &AppHandle, alert: Option<i64>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
    if let Some(id) = alert {
        let _ = app.emit(OPEN_ALERT, id);
    }
}
