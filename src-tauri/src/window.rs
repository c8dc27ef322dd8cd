//! The panel window: made when asked for, destroyed by its close button. Closed, no
//! webview exists, so the app watching from the tray holds none of WebKit's processes
//! or memory; the panel's own timers end with it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rulewatch_core::shown::shown;
use serde_json::json;
use tauri::{AppHandle, Emitter, Manager, WebviewWindowBuilder};
use tauri_plugin_deep_link::DeepLinkExt;

/// The panel window's label in tauri.conf.json, where it is not created at start.
pub(crate) const PANEL: &str = "main";

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

/// How long WebKit's network process outlives a closed panel, so that reopening it at
/// once (a close by mistake, a notification clicked just after) starts no new one.
const NETWORK_LINGERS: Duration = Duration::from_secs(10);

/// Panels closed so far: a later closing (or a panel open again) cancels an earlier
/// closing's end of the network process.
static CLOSINGS: AtomicU64 = AtomicU64::new(0);

/// The panel was destroyed. Its web process ends with it, but WebKit keeps its network
/// process for the app's life, and Tauri keeps the web context on Linux so that a new
/// panel reuses it instead of leaking another (tauri-apps/tauri#14626): 17 MB of PSS in
/// the tray for good once the panel has been open. Once the panel has stayed closed for
/// NETWORK_LINGERS, the process is ended; WebKit starts a new one for the next panel, as
/// it does after the process crashes. The code and data the panel read are let go of then
/// too (`pages::let_go`).
pub(crate) fn closed(app: &AppHandle) {
    // Under WebDriver (tauri-driver sets this; Tauri reads it to allow automation) the
    // session loses sight of every panel made after the process ended, so it stays
    // there; the shell tests try the end without WebDriver.
    if std::env::var("TAURI_WEBVIEW_AUTOMATION").as_deref() == Ok("true") {
        return;
    }
    let closing = CLOSINGS.fetch_add(1, Ordering::SeqCst) + 1;
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(NETWORK_LINGERS).await;
        let app = handle.clone();
        // On the main thread, where panels are made, so none is being made meanwhile.
        let _ = handle.run_on_main_thread(move || {
            if CLOSINGS.load(Ordering::SeqCst) == closing && !is_open(&app) {
                end_network_process();
                crate::pages::let_go("the panel stayed closed");
            }
        });
    });
}

#[cfg(target_os = "linux")]
fn end_network_process() {
    let Ok(threads) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    for thread in threads.flatten() {
        let children = std::fs::read_to_string(thread.path().join("children")).unwrap_or_default();
        for pid in children.split_whitespace().filter_map(|p| p.parse().ok()) {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            // The kernel cuts a process's name to 15 bytes.
            if name.trim_end() == "WebKitNetworkPr" {
                // SAFETY: kill(2) touches no memory of ours. The number cannot name
                // another process: a child keeps it until reaped, and WebKit reaps this
                // one only after it ends, which it does not do by itself.
                if unsafe { libc::kill(pid, libc::SIGTERM) } == 0 {
                    tracing::info!("the panel stayed closed: WebKit's network process ended");
                }
            }
        }
    }
}

/// WebKit's network process ends by itself on the other platforms (Tauri drops the
/// context there, see tauri-apps/tauri#14626).
#[cfg(not(target_os = "linux"))]
fn end_network_process() {}

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
