//! The tray menu, driven as a desktop's panel drives it: the app exports its menu on the
//! session bus (`com.canonical.dbusmenu`, through Ayatana AppIndicator), and the test
//! reads it with `GetLayout` and clicks items with `Event`, as a tray host does.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::common::{Desktop, Named, TECHNICIAN, Tenant, wait_until};

/// Where AppIndicator exports the menu of the tray icon with id "main".
const MENU_PATH: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_main/Menu";

fn dbus_list(method: &str, arg: Option<&str>) -> String {
    let mut c = Command::new("dbus-send");
    c.args([
        "--session",
        "--dest=org.freedesktop.DBus",
        "--type=method_call",
        "--print-reply",
        "/org/freedesktop/DBus",
    ])
    .arg(format!("org.freedesktop.DBus.{method}"));
    if let Some(a) = arg {
        c.arg(format!("string:{a}"));
    }
    let out = c
        .output()
        .expect("dbus-send (the dbus package) is needed by this test");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The app's menu on the bus, reached through the app's own connection.
struct TrayMenu {
    dest: String,
}

impl TrayMenu {
    /// The menu of the app process `pid`, once it is exported.
    fn of(pid: u32) -> TrayMenu {
        let mut found = None;
        wait_until("the tray menu on the bus", Duration::from_secs(20), || {
            found = dbus_list("ListNames", None)
                .split('"')
                .filter(|n| n.starts_with(':'))
                .find(|name| {
                    dbus_list("GetConnectionUnixProcessID", Some(name))
                        .split_whitespace()
                        .last()
                        .is_some_and(|p| p == pid.to_string())
                        && (TrayMenu {
                            dest: name.to_string(),
                        })
                        .layout()
                        .is_some()
                })
                .map(str::to_string);
            found.is_some()
        });
        TrayMenu {
            dest: found.unwrap(),
        }
    }

    fn call(&self, method: &str, args: &[&str]) -> Option<String> {
        let out = Command::new("gdbus")
            .args(["call", "--session", "--dest", &self.dest])
            .args(["--object-path", MENU_PATH])
            .args([
                "--method",
                &format!("com.canonical.dbusmenu.{method}"),
                "--",
            ])
            .args(args)
            .output()
            .expect("gdbus (libglib2.0-bin) is needed by this test");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn layout(&self) -> Option<String> {
        self.call("GetLayout", &["0", "-1", "[]"])
    }

    /// Each item's id and label, in menu order.
    fn items(&self) -> Vec<(i32, String)> {
        let layout = self.layout().unwrap_or_default();
        layout
            .split("<(")
            .skip(1)
            .filter_map(|item| {
                let (id, rest) = item.split_once(',')?;
                let label = rest.split("'label': <'").nth(1)?.split("'>").next()?;
                Some((id.trim().parse().ok()?, label.to_string()))
            })
            .collect()
    }

    fn labels(&self) -> Vec<String> {
        self.items().into_iter().map(|(_, l)| l).collect()
    }

    /// The first line: the scan state in words.
    fn status(&self) -> String {
        self.labels().into_iter().next().unwrap_or_default()
    }

    fn click(&self, label: &str) {
        let items = self.items();
        let (id, _) = items
            .iter()
            .find(|(_, l)| l == label)
            .unwrap_or_else(|| panic!("no '{label}' in the tray menu: {items:?}"));
        self.call("Event", &[&id.to_string(), "clicked", "<''>", "0"])
            .unwrap_or_else(|| panic!("clicking '{label}' failed"));
    }
}

#[test]
fn the_tray_menu_pauses_resumes_scans_now_and_quits() {
    let t = Tenant::new(0);
    let scenario = json!({
        "tenants": [t.scenario("Contoso")],
        "noise": {"records_per_tenant": 20, "seed": 9},
    });
    let app = Desktop::start(scenario, &[(&t, "Contoso")]);
    let pids = Desktop::app_pids();
    assert_eq!(pids.len(), 1, "one app runs");
    let menu = TrayMenu::of(pids[0]);
    assert_eq!(
        menu.labels()[1..],
        [
            "Scan now",
            "Open Rulewatch",
            "Pause for 1 hour",
            "On duty",
            "Start at login",
            "Quit"
        ]
    );
    wait_until("the first scan", Duration::from_secs(40), || {
        menu.status().starts_with("Last scan")
    });

    // Pause: the menu and the panel both say so, and Resume replaces it.
    menu.click("Pause for 1 hour");
    wait_until("the pause", Duration::from_secs(10), || {
        menu.status().starts_with("Paused until") && menu.labels().contains(&"Resume".into())
    });
    let overview = app.invoke("overview", json!({})).unwrap();
    assert!(overview["paused_until"].is_string(), "{overview}");
    menu.click("Resume");
    wait_until("the resume", Duration::from_secs(10), || {
        menu.labels().contains(&"Pause for 1 hour".into())
    });
    let overview = app.invoke("overview", json!({})).unwrap();
    assert!(overview["paused_until"].is_null(), "{overview}");

    // Scan now: the tenant's content is listed again at once, not at the next interval.
    let listed = app.stats()["requests"]["content"].as_u64().unwrap();
    menu.click("Scan now");
    wait_until("a scan from the menu", Duration::from_secs(20), || {
        app.stats()["requests"]["content"].as_u64().unwrap() > listed
    });

    // Off duty and back: the store says so, for this desktop's notifications (and, in a
    // team, for colleagues to see).
    let store = rulewatch_core::store::Store::open(app.data_dir()).unwrap();
    assert!(store.on_duty(TECHNICIAN).unwrap());
    menu.click("On duty");
    wait_until("off duty", Duration::from_secs(10), || {
        !store.on_duty(TECHNICIAN).unwrap()
    });
    menu.click("On duty");
    wait_until("on duty again", Duration::from_secs(10), || {
        store.on_duty(TECHNICIAN).unwrap()
    });

    // Quit ends the app, tray and all.
    menu.click("Quit");
    wait_until("the app to quit", Duration::from_secs(15), || {
        Desktop::app_pids().is_empty()
    });
}
