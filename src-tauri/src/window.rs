//! The panel window: made when asked for, destroyed by its close button. Closed, no
//! webview exists, so the app watching from the tray holds none of WebKit's processes
//! or memory; the panel's own timers end with it.

use std::sync::Mutex;
use std::time::Instant;

use rulewatch_core::shown::shown;
use serde_json::json;
use tauri::{AppHandle, Emitter, Manager, WebviewWindowBuilder};
use tauri_plugin_deep_link::DeepLinkExt;

/// The panel window's label in tauri.conf.json, where it is not created at start.
const PANEL: &str = "main";

/// When the panel was last asked for while closed: its first drawing is timed from it.
static ASKED_AT: Mutex<Option<Instant>> = Mutex::new(None);

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

/// What a `rulewatch://` link may do: open the panel on one alert, nothing else. Any
/// web page or message can fire such a link, so it never acts, and anything else in it
/// (another path, a query, a fragment, credentials, a port) makes it ignored.
pub(crate) fn alert_link(link: &str) -> Option<i64> {
    let url = url::Url::parse(link).ok()?;
    let plain = url.scheme() == "rulewatch"
        && url.host_str() == Some("alert")
        && url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    let id = url.path().strip_prefix('/')?;
    if !plain || id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok().filter(|id| *id > 0)
}

/// Registers `rulewatch://` with the desktop (where it is done at run time: Linux,
/// Windows) and opens the panel on the alert of each link the app is started or handed
/// by a second launch with.
pub(crate) fn follow_links(app: &AppHandle) {
    let links = app.deep_link();
    #[cfg(any(target_os = "linux", windows))]
    if let Err(e) = links.register_all() {
        tracing::warn!("rulewatch:// links cannot be registered with the desktop: {e}");
    }
    let handle = app.clone();
    let follow = move |urls: Vec<url::Url>| {
        for url in urls {
            match alert_link(url.as_str()) {
                Some(id) => open(&handle, View::Alert(id)),
                None => tracing::warn!(
                    "ignored the link {}: a rulewatch:// link only opens an alert (rulewatch://alert/ID)",
                    shown(url.as_str())
                ),
            }
        }
    };
    if let Ok(Some(urls)) = links.get_current() {
        follow(urls);
    }
    links.on_open_url(move |event| follow(event.urls()));
}

/// Whether the panel is open (shown or not): closed, it has no window.
pub(crate) fn is_open(app: &AppHandle) -> bool {
    app.get_webview_window(PANEL).is_some()
}

/// Shows the panel, on `view`: the open one, or a new one that starts there.
pub(crate) fn open(app: &AppHandle, view: View) {
    if let Some(w) = app.get_webview_window(PANEL) {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
        let _ = match view {
            View::Current => Ok(()),
            View::Alert(id) => app.emit(OPEN_ALERT, id),
            View::Page(page) => app.emit(OPEN_PAGE, page),
        };
        return;
    }
    // A new panel is not listening yet when it is made, so what it opens on is handed
    // to it before its own script runs.
    let start = match view {
        View::Current => json!(null),
        View::Alert(id) => json!({ "alert": id }),
        View::Page(page) => json!({ "page": page }),
    };
    let Some(config) = app.config().app.windows.iter().find(|w| w.label == PANEL) else {
        tracing::error!("tauri.conf.json has no {PANEL} window");
        return;
    };
    *ASKED_AT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
    let made = WebviewWindowBuilder::from_config(app, config).and_then(|b| {
        b.initialization_script(format!("window.__RULEWATCH_START__ = {start};"))
            .build()
    });
    match made {
        Ok(w) => {
            let _ = w.show();
            let _ = w.set_focus();
        }
        Err(e) => tracing::error!("cannot open the panel: {e}"),
    }
}

/// The panel drew its first page: how long after it was asked for, in the log (what
/// scripts/measure-desktop.sh reads).
pub(crate) fn drawn() {
    if let Some(at) = ASKED_AT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
    {
        tracing::info!(
            "panel drawn {} ms after it was asked for",
            at.elapsed().as_millis()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::alert_link;

    #[test]
    fn a_link_opens_one_alert_and_anything_more_is_ignored() {
        assert_eq!(alert_link("rulewatch://alert/42"), Some(42));
        for ignored in [
            "rulewatch://alert/42?remediate=1",
            "rulewatch://alert/42#undo",
            "rulewatch://alert/42/remediate",
            "rulewatch://remediate/42",
            "rulewatch://user:pw@alert/42",
            "rulewatch://alert:8080/42",
            "rulewatch://alert/",
            "rulewatch://alert/0",
            "rulewatch://alert/-1",
            "rulewatch://alert/99999999999999999999",
            "https://alert/42",
            "not a link",
        ] {
            assert_eq!(alert_link(ignored), None, "{ignored}");
        }
    }
}
