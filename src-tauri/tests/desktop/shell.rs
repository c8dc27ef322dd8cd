//! The desktop shell end to end, what a user notices outside the panel: a second launch
//! brings back the running app instead of starting another, "start at login" writes and
//! removes the login item, and settings survive a restart. Same setting as webview.rs:
//! the real app through tauri-driver, the sandbox over loopback, the real keychain in a
//! private D-Bus session (scripts/with-keyring.sh) on a virtual display (xvfb-run).

use std::ffi::{CString, c_char, c_int, c_long, c_ulong, c_void};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Desktop, Named, Tenant, tool, wait_until};
use m365_sandbox::attacks;
use serde_json::json;

const TITLE: &str = "Rulewatch";

/// The X11 windows named `TITLE`, with whether each is mapped (shown) now.
fn panel_windows() -> Vec<(String, bool)> {
    let xwininfo = tool(
        "xwininfo",
        "install the x11-utils package (scripts/install-deps.sh test)",
    );
    // A window destroyed while xwininfo walks the tree (a panel closing) fails the walk
    // with BadWindow; a walk a moment later sees the tree as it has settled.
    let walk = || {
        Command::new(&xwininfo)
            .args(["-root", "-tree"])
            .output()
            .unwrap()
    };
    let mut tree = walk();
    for _ in 0..5 {
        if tree.status.success() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        tree = walk();
    }
    assert!(
        tree.status.success(),
        "xwininfo: {}",
        String::from_utf8_lossy(&tree.stderr)
    );
    let needle = format!(" \"{TITLE}\": ");
    String::from_utf8_lossy(&tree.stdout)
        .lines()
        .filter(|l| l.contains(&needle))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .map(|id| {
            let info = Command::new(&xwininfo).args(["-id", &id]).output().unwrap();
            let shown = String::from_utf8_lossy(&info.stdout).contains("Map State: IsViewable");
            (id, shown)
        })
        .collect()
}

fn panel_shown() -> bool {
    panel_windows().iter().any(|(_, shown)| *shown)
}

/// Closes the panel on screen as its close button does, and waits until it is gone.
fn close_shown_panel() {
    let (panel, _) = panel_windows()
        .into_iter()
        .find(|(_, shown)| *shown)
        .expect("a panel on screen");
    close_window(&panel);
    wait_until("the panel to be gone", Duration::from_secs(10), || {
        panel_windows().is_empty()
    });
}

// Just enough of Xlib to ask a window to close the way a window manager does
// (WM_DELETE_WINDOW): Xvfb runs none, and closing through WebDriver destroys the webview
// instead of asking the window.
#[repr(C)]
struct XClientMessageEvent {
    kind: c_int,
    serial: c_ulong,
    send_event: c_int,
    display: *mut c_void,
    window: c_ulong,
    message_type: c_ulong,
    format: c_int,
    data: [c_long; 5],
}

/// XEvent is a union of 24 longs; XSendEvent may read all of it.
#[repr(C)]
struct XEvent {
    message: XClientMessageEvent,
    _rest: [c_long; 12],
}

#[link(name = "X11")]
unsafe extern "C" {
    fn XOpenDisplay(name: *const c_char) -> *mut c_void;
    fn XInternAtom(display: *mut c_void, name: *const c_char, only_if_exists: c_int) -> c_ulong;
    fn XSendEvent(
        display: *mut c_void,
        window: c_ulong,
        propagate: c_int,
        mask: c_long,
        event: *mut XEvent,
    ) -> c_int;
    fn XFlush(display: *mut c_void) -> c_int;
    fn XCloseDisplay(display: *mut c_void) -> c_int;
}

/// Presses the window's close button, as far as the app can tell.
fn close_window(id: &str) {
    let window = c_ulong::from_str_radix(id.trim_start_matches("0x"), 16).unwrap();
    let protocols = CString::new("WM_PROTOCOLS").unwrap();
    let delete = CString::new("WM_DELETE_WINDOW").unwrap();
    // SAFETY: plain Xlib calls on a display opened and closed here; the event is a
    // zeroed, correctly laid out ClientMessage.
    unsafe {
        let display = XOpenDisplay(std::ptr::null());
        assert!(!display.is_null(), "cannot open the X display");
        let mut event: XEvent = std::mem::zeroed();
        event.message.kind = 33; // ClientMessage
        event.message.window = window;
        event.message.message_type = XInternAtom(display, protocols.as_ptr(), 0);
        event.message.format = 32;
        event.message.data[0] = XInternAtom(display, delete.as_ptr(), 0) as c_long;
        event.message.data[1] = 0; // CurrentTime
        assert_ne!(
            XSendEvent(display, window, 0, 0, &mut event),
            0,
            "XSendEvent failed"
        );
        XFlush(display);
        XCloseDisplay(display);
    }
}

#[test]
fn a_second_launch_shows_the_running_app_and_exits() {
    let t = Tenant::new(0);
    let app = Desktop::start(
        json!({"tenants": [t.scenario("Contoso")]}),
        &[(&t, "Contoso")],
    );
    app.wait_for("#nav-alerts", Duration::from_secs(20));
    wait_until("the panel on screen", Duration::from_secs(10), panel_shown);

    // Closing the panel destroys it, and its webview's process goes with it; the app
    // keeps running in the tray.
    assert!(
        !webkit_processes().is_empty(),
        "the open panel has a webview"
    );
    close_shown_panel();
    // The panel's page, the web process, goes. Under WebDriver WebKit's network process
    // stays (see window::closed; the next test has it end without WebDriver), and
    // Tauri keeps its context on Linux so a new panel reuses it.
    wait_until(
        "the webview's process to end",
        Duration::from_secs(10),
        || webkit_processes() == ["WebKitNetworkPr"],
    );
    assert_eq!(
        Desktop::app_pids().len(),
        1,
        "closing the panel keeps the app running"
    );

    // A second launch, as from the application menu: it hands over and leaves at once.
    let took = handed_over(launch(&app, Desktop::binary(), &[]));
    assert!(
        took < Duration::from_secs(15),
        "the second launch took {took:?}"
    );

    // The running app's panel is back, still working, and it is still the only one.
    wait_until(
        "the panel to be shown again",
        Duration::from_secs(10),
        panel_shown,
    );
    assert_eq!(Desktop::app_pids().len(), 1, "one app process");
    app.follow_new_panel();
    app.click("#nav-settings");
    app.wait_for("#scan-interval", Duration::from_secs(10));
    let mut network = webkit_processes();
    network.retain(|p| p == "WebKitNetworkPr");
    assert_eq!(network.len(), 1, "the new panel reuses the network process");
}

#[test]
fn a_panel_closed_for_a_while_leaves_no_webkit_process_and_opens_again() {
    let (mut app, id) = with_an_alert();
    let link = format!("rulewatch://alert/{id}");

    // As a technician runs it, without WebDriver: in the tray, its log on stderr.
    app.stop();
    let mut tray = Started(launch(&app, Desktop::binary(), &["--minimized"]));
    let log = Log::of(&mut tray);
    log.heard("tray ready", Duration::from_secs(20));
    // The first scan, with no panel open, lets go of the pages it read from files; the
    // panels below are drawn with them read again.
    log.heard("a scan ended: let go of", Duration::from_secs(30));

    // Twice: the second panel is made after WebKit's network process ended.
    for _ in 0..2 {
        handed_over(launch(&app, Desktop::binary(), &[&link]));
        log.heard("panel drawn", Duration::from_secs(20));
        close_shown_panel();
        // The network process lingers 10 s for a quick reopening (window::NETWORK_LINGERS);
        // The pages the panel read from files are let go of then too, and the next panel
        // reads them again.
        wait_until(
            "every WebKit process to end",
            Duration::from_secs(30),
            || webkit_processes().is_empty(),
        );
        log.heard(
            "the panel stayed closed: let go of",
            Duration::from_secs(10),
        );
        assert_eq!(Desktop::app_pids().len(), 1, "the app keeps running");
    }
    assert!(
        tray.0.try_wait().unwrap().is_none(),
        "the app keeps running"
    );
}

/// The WebKit helper processes (web, network) of the app under test.
fn webkit_processes() -> Vec<String> {
    let mut found = Vec::new();
    for app in Desktop::app_pids() {
        let mut parents = vec![app];
        while let Some(parent) = parents.pop() {
            let children =
                std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
                    .unwrap_or_default();
            for child in children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                let name =
                    std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
                if name.starts_with("WebKit") {
                    found.push(name.trim().to_string());
                }
                parents.push(child);
            }
        }
    }
    found
}

#[test]
fn a_rulewatch_link_opens_its_alert_and_a_link_that_asks_for_more_does_nothing() {
    let (app, id) = with_an_alert();
    app.click("#nav-settings");
    app.wait_for("#scan-interval", Duration::from_secs(10));

    // As a chat message's or an e-mail's link starts it: the running app takes the link,
    // and with the panel closed, makes one that opens on the alert.
    close_shown_panel();
    let link = format!("rulewatch://alert/{id}");
    handed_over(launch(&app, Desktop::binary(), &[&link]));
    app.follow_new_panel();
    app.wait_for("#alert-detail", Duration::from_secs(15));
    assert!(
        app.text("#alert-rule").starts_with("Inbox rule hides mail"),
        "{}",
        app.text("#alert-rule")
    );

    // A link that asks for anything more is ignored: the panel stays where it is.
    app.click("#nav-settings");
    app.wait_for("#scan-interval", Duration::from_secs(10));
    let more = format!("{link}?remediate=all");
    handed_over(launch(&app, Desktop::binary(), &[&more]));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        app.count("#alert-detail"),
        0,
        "a link with a query opened an alert"
    );
    assert_eq!(app.count("#scan-interval"), 1);
    assert_eq!(Desktop::app_pids().len(), 1, "one app process");
}

/// The app on one tenant whose inbox rule hides mail, once its alert is stored; the
/// alert's id.
fn with_an_alert() -> (Desktop, i64) {
    let t = Tenant::new(0);
    let scenario = json!({
        "tenants": [t.scenario("Contoso")],
        "records": [{
            "tenant_id": t.tenant_id, "content_type": "Audit.Exchange", "release_after_s": -5,
            "record": attacks::new_inbox_rule_delete_all(&t.own("adele"), "Tidy"),
        }],
    });
    let app = Desktop::start(scenario, &[(&t, "Contoso")]);
    let mut id = None;
    wait_until("the alert", Duration::from_secs(40), || {
        let first = json!({"status": "all", "severity": null, "tenant": null, "search": "",
                           "held_by": "anyone", "offset": 0, "limit": 1});
        id = app
            .invoke("alert_page", json!({ "query": first }))
            .ok()
            .and_then(|p| p["alerts"][0]["id"].as_i64());
        id.is_some()
    });
    (app, id.unwrap())
}

/// A process this test started, ended when the test ends however it ends: a stray app
/// would take the next test's launch as a second instance.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a process this test started logs on stderr, line by line as it comes.
struct Log(std::sync::mpsc::Receiver<String>);

impl Log {
    fn of(started: &mut Started) -> Log {
        let stderr = started
            .0
            .stderr
            .take()
            .expect("stderr piped, as launch does");
        let (said, heard) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = said.send(line);
            }
        });
        Log(heard)
    }

    /// Waits for a line with `what`, passing over the lines before it.
    fn heard(&self, what: &str, within: Duration) {
        let start = Instant::now();
        while start.elapsed() < within {
            if self
                .0
                .recv_timeout(Duration::from_millis(200))
                .is_ok_and(|l| l.contains(what))
            {
                return;
            }
        }
        panic!("the app did not log {what:?} within {within:?}");
    }
}

/// Runs the app binary by hand with the app's environment and `args`, as a desktop
/// session or a user would.
fn launch(app: &Desktop, program: &str, args: &[&str]) -> Child {
    Command::new(program)
        .args(args)
        .envs(app.env())
        .env("RULEWATCH_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a second launch to hand over and exit successfully; how long it took.
fn handed_over(mut second: Child) -> Duration {
    let started = Instant::now();
    let mut status = None;
    wait_until("the second launch to exit", Duration::from_secs(20), || {
        status = second.try_wait().unwrap();
        status.is_some()
    });
    let mut err = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = status.unwrap();
    assert!(
        status.success(),
        "the second launch failed: {status}\n{err}"
    );
    started.elapsed()
}

#[test]
fn start_at_login_writes_an_entry_that_starts_the_app_in_the_tray_and_unticking_removes_it() {
    let t = Tenant::new(0);
    let mut app = Desktop::start(
        json!({"tenants": [t.scenario("Contoso")]}),
        &[(&t, "Contoso")],
    );
    let entry = app.home().join(".config/autostart/Rulewatch.desktop");
    app.click("#nav-settings");
    wait_until("the settings to load", Duration::from_secs(10), || {
        app.value("#scan-interval") == json!("5")
    });
    assert_eq!(app.prop("#start-at-login", "checked"), json!(false));
    assert!(!entry.exists());

    app.click("#start-at-login");
    app.click("#save-settings");
    wait_until("the settings to be saved", Duration::from_secs(10), || {
        app.text("#settings-message") == "Settings saved."
    });
    let desktop = std::fs::read_to_string(&entry)
        .unwrap_or_else(|e| panic!("no autostart entry at {}: {e}", entry.display()));
    let exec: Vec<&str> = desktop
        .lines()
        .filter_map(|l| l.strip_prefix("Exec="))
        .collect();
    let binary = std::fs::canonicalize(Desktop::binary()).unwrap();
    assert_eq!(
        exec,
        [format!("{} --minimized", binary.display())],
        "{desktop}"
    );
    assert!(
        desktop.lines().any(|l| l == "Type=Application"),
        "{desktop}"
    );
    assert_eq!(
        app.prop("#start-at-login", "checked"),
        json!(true),
        "the page reads the login item back"
    );
    let exec = exec[0].to_string();

    app.click("#start-at-login");
    app.click("#save-settings");
    wait_until("the entry to be removed", Duration::from_secs(10), || {
        !entry.exists()
    });
    wait_until("the settings to be saved", Duration::from_secs(10), || {
        app.text("#settings-message") == "Settings saved."
    });
    assert_eq!(app.prop("#start-at-login", "checked"), json!(false));

    // What the session runs at login starts the app in the tray, the panel hidden.
    app.stop();
    let words: Vec<&str> = exec.split(' ').collect();
    let mut login = Started(launch(&app, words[0], &words[1..]));
    Log::of(&mut login).heard("tray ready", Duration::from_secs(20));
    // The panel would be shown right after "tray ready", within milliseconds: watch
    // for a while that it is not (it is not even realized yet, so it has no X window).
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(2) {
        assert!(!panel_shown(), "a start at login opened the panel");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        login.0.try_wait().unwrap().is_none(),
        "the app started at login keeps running"
    );
    // Opening Rulewatch from the menu then shows it.
    handed_over(launch(&app, Desktop::binary(), &[]));
    wait_until(
        "the panel to be shown",
        Duration::from_secs(10),
        panel_shown,
    );
    assert_eq!(Desktop::app_pids(), [login.0.id()]);
}

#[test]
fn settings_survive_a_restart_and_a_bad_interval_is_refused() {
    let mut app = Desktop::start(json!({"tenants": []}), &[]);
    app.click("#nav-settings");
    wait_until("the settings to load", Duration::from_secs(10), || {
        app.value("#scan-interval") == json!("5")
    });
    assert_eq!(app.prop("#notify-low", "checked"), json!(true));
    app.clear("#scan-interval");
    app.type_into("#scan-interval", "17");
    app.click("#notify-low");
    app.click("#save-settings");
    wait_until("the settings to be saved", Duration::from_secs(10), || {
        app.text("#settings-message") == "Settings saved."
    });

    // Quit (the tray menu cannot be driven) and start again on the same data folder.
    app.restart();
    app.click("#nav-settings");
    wait_until("the saved settings", Duration::from_secs(10), || {
        app.value("#scan-interval") == json!("17")
    });
    for (severity, on) in [
        ("low", false),
        ("medium", true),
        ("high", true),
        ("critical", true),
    ] {
        assert_eq!(
            app.prop(&format!("#notify-{severity}"), "checked"),
            json!(on),
            "{severity}"
        );
    }
    // And the scheduler runs on it: after the first scan, the next is 17 minutes out
    // (give or take its 5% jitter).
    let mut overview = json!(null);
    wait_until(
        "the first scan after the restart",
        Duration::from_secs(20),
        || {
            overview = app.invoke("overview", json!({})).unwrap();
            overview["last_scan_at"].is_string() && overview["scanning"].is_null()
        },
    );
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(overview[field].as_str().unwrap()).unwrap()
    };
    let gap = (at("next_scan_at") - at("last_scan_at")).num_seconds();
    assert!(
        (17 * 57..=17 * 63).contains(&gap),
        "next scan {gap} s after the last: {overview}"
    );

    // A bad interval is refused in plain words and the stored one stays.
    for bad in ["0", "abc"] {
        app.clear("#scan-interval");
        app.type_into("#scan-interval", bad);
        app.click("#save-settings");
        wait_until(
            "the interval to be refused",
            Duration::from_secs(10),
            || app.text("#settings-message").contains("from 1 to 1440"),
        );
        assert_eq!(
            app.prop("#settings-message", "className"),
            json!("field-error")
        );
    }
    // The app refuses it too, should anything but the form send it, and a look-back
    // past the 7 days Microsoft keeps.
    let save = |interval: u32, backfill: u32| {
        app.invoke(
            "save_settings",
            json!({"settings": {"scan_interval_minutes": interval, "backfill_hours": backfill,
                "notify": {"low": true, "medium": true, "high": true, "critical": true},
                "start_at_login": false, "sign_ins": false, "geo": {"provider": "off"},
                "remediation_defaults": ["block-sign-in"]}}),
        )
    };
    for (interval, backfill, message) in [
        (0, 24, "the scan interval must be 1 to 1440 minutes"),
        (
            5,
            168,
            "the first-run backfill must be 1 to 167 hours (Microsoft keeps 7 days)",
        ),
    ] {
        assert_eq!(
            save(interval, backfill),
            Err(json!({"kind": "invalid_input", "message": message}))
        );
    }
    let stored = app.invoke("get_settings", json!({})).unwrap();
    assert_eq!(stored["scan_interval_minutes"], json!(17));
    assert_eq!(stored["notify"]["low"], json!(false));
    app.click("#nav-alerts");
    app.click("#nav-settings");
    wait_until("the stored interval", Duration::from_secs(10), || {
        app.value("#scan-interval") == json!("17")
    });
}
