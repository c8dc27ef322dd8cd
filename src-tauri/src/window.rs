//! The panel window: shown and focused on demand, hidden (never closed) by its close
//! button so the app keeps watching from the tray.

use tauri::{AppHandle, Emitter, Manager};

pub(crate) const OPEN_ALERT: &str = "rulewatch://open-alert";
pub(crate) const OPEN_PAGE: &str = "rulewatch://open-page";

/// What the panel opens on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum View {
    Current,
    Alert(i64),
    /// A page by its name in the panel ("tenants").
    Page(&'static str),
}

/// Shows the panel, on `view`.
pub(crate) fn open(app: &AppHandle, view: View) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
    let _ = match view {
        View::Current => Ok(()),
        View::Alert(id) => app.emit(OPEN_ALERT, id),
        View::Page(page) => app.emit(OPEN_PAGE, page),
    };
}
