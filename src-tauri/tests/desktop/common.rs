//! What the desktop end-to-end tests share: the tools they need, the notification
//! daemon, the sandbox tenants and `Desktop`, the real app driven through tauri-driver
//! (WebKitWebDriver) against the sandbox over loopback. Each test file has `mod common;`.
// Not every test file uses every helper.
#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::{Client, ClientBuilder, Locator};
use m365_sandbox::RunningSandbox;
use m365_sandbox::Scenario;
use rulewatch_core::secrets::Keychain;
use rulewatch_core::store::Store;
use rulewatch_core::team;
use rulewatch_core::tenants::{NewCredential, NewTenant, add_tenant};
use secrecy::SecretString;
use serde_json::{Value, json};

/// One app at a time: it is single-instance per D-Bus session.
pub(crate) fn one_app() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn tool(name: &str, hint: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain([format!("{home}/.cargo/bin").as_str(), "/usr/bin"])
    {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p.display().to_string();
        }
    }
    panic!("{name} is needed by this test and is missing: {hint}");
}

/// dunst, started once for every test in this D-Bus session; it goes with the session.
pub(crate) fn notification_daemon() {
    static DUNST: OnceLock<Mutex<Child>> = OnceLock::new();
    DUNST.get_or_init(|| {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "no DISPLAY: run the tests under xvfb-run (scripts/test.sh does)"
        );
        let dunst = tool(
            "dunst",
            "install the dunst package (scripts/install-deps.sh test)",
        );
        let config = std::env::temp_dir().join(format!("rulewatch-dunstrc-{}", std::process::id()));
        std::fs::write(&config, "[global]\n    history_length = 100\n").unwrap();
        let child = Command::new(dunst)
            .arg("-config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_until(
            "dunst to take the notification service",
            Duration::from_secs(10),
            || {
                Command::new("dunstctl")
                    .arg("is-paused")
                    .output()
                    .is_ok_and(|o| o.status.success())
            },
        );
        Mutex::new(child)
    });
}

/// How many match rules on the session bus listen for notification clicks
/// (`ActionInvoked`), read through the bus's own statistics interface.
pub(crate) fn action_listeners() -> usize {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--dest=org.freedesktop.DBus",
            "--type=method_call",
            "--print-reply",
            "/org/freedesktop/DBus",
        ])
        .arg("org.freedesktop.DBus.Debug.Stats.GetAllMatchRules")
        .output()
        .expect("dbus-send (the dbus package) is needed by this test");
    String::from_utf8_lossy(&out.stdout)
        .matches("member='ActionInvoked'")
        .count()
}

/// Every notification dunst has shown or holds, as (title, body).
pub(crate) fn notifications() -> Vec<(String, String)> {
    let _ = Command::new("dunstctl").arg("close-all").status();
    history().into_iter().map(|(_, n)| n).collect()
}

/// dunst's history, newest first: (id, (title, body)) of each closed notification.
pub(crate) fn history() -> Vec<(i64, (String, String))> {
    let out = Command::new("dunstctl").arg("history").output().unwrap();
    let history: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    history["data"][0]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|n| {
                    (
                        n["id"]["data"].as_i64().unwrap_or(-1),
                        (
                            n["summary"]["data"].as_str().unwrap_or("").into(),
                            n["body"]["data"].as_str().unwrap_or("").into(),
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(crate) use m365_sandbox::testkit::TestTenant as Tenant;

/// A test tenant's scenario entry under the name the panel shows.
pub(crate) trait Named {
    fn scenario(&self, name: &str) -> Value;
}

impl Named for Tenant {
    fn scenario(&self, name: &str) -> Value {
        self.clone().named(name).scenario_json()
    }
}

/// The app, its sandbox, its data folder and its home folder, driven through
/// tauri-driver.
/// Who sits at the app under test.
pub(crate) const TECHNICIAN: &str = "Dana at the desk";

pub(crate) struct Desktop {
    rt: tokio::runtime::Runtime,
    sandbox: Option<RunningSandbox>,
    /// Where the app's calls go: its own sandbox's, or a colleague's.
    endpoints: String,
    driver: Option<Child>,
    client: Option<Client>,
    data: tempfile::TempDir,
    /// HOME and XDG_CONFIG_HOME of the app, so a login item or anything else it writes
    /// there never lands in the real ones.
    home: tempfile::TempDir,
    technician: &'static str,
    /// A colleague's workstation: the app runs in a D-Bus session and keychain of its
    /// own (scripts/with-keyring.sh), where this test's single-instance lock and
    /// secrets do not reach. `None` for the app in this test's own session.
    own_session: Option<tempfile::TempDir>,
    _turn: Option<MutexGuard<'static, ()>>,
}

impl Desktop {
    pub(crate) fn start(scenario: Value, tenants: &[(&Tenant, &str)]) -> Desktop {
        Self::start_in(scenario, tenants, None)
    }

    /// Like `start`, with the data folder in the team whose database `team` names (its
    /// URL and password), joined before the app starts and the tenants added there.
    pub(crate) fn start_in(
        scenario: Value,
        tenants: &[(&Tenant, &str)],
        team: Option<(&str, &str)>,
    ) -> Desktop {
        let turn = one_app();
        notification_daemon();
        // Nothing left on screen from an earlier test's app (critical ones never expire).
        let _ = Command::new("dunstctl").arg("close-all").status();
        let rt = runtime();
        let scenario = Scenario::from_json(&scenario.to_string()).expect("valid scenario");
        let sandbox = rt
            .block_on(m365_sandbox::start(
                "127.0.0.1:0".parse().unwrap(),
                scenario,
            ))
            .unwrap();
        let data = tempfile::tempdir().unwrap();
        let home = home_with_browser();
        let store = match team {
            Some((url, password)) => {
                team::join(
                    data.path(),
                    &Keychain,
                    url,
                    Some(SecretString::from(password)),
                )
                .expect("the team's database takes this workstation");
                team::open(data.path(), &Keychain).unwrap().unwrap().0
            }
            None => Store::open(data.path()).unwrap(),
        };
        for (t, name) in tenants {
            let new = NewTenant {
                tenant_id: t.tenant_id.clone(),
                name: name.to_string(),
                client_id: t.client_id.clone(),
                credential: NewCredential::ClientSecret(SecretString::from(t.secret.clone())),
                cloud: None,
            };
            add_tenant(&store, &Keychain, new).expect("tenant added to the real keychain");
        }
        drop(store);
        let mut app = Desktop {
            rt,
            endpoints: sandbox.base_url().to_string(),
            sandbox: Some(sandbox),
            driver: None,
            client: None,
            data,
            home,
            technician: TECHNICIAN,
            own_session: None,
            _turn: Some(turn),
        };
        app.launch();
        app
    }

    /// A colleague's desktop beside `desk`, on a computer of its own: an empty data
    /// folder, its own D-Bus session and keychain, the same tenants' endpoints, and
    /// `technician` at it.
    pub(crate) fn colleague(desk: &Desktop, technician: &'static str) -> Desktop {
        let rt = runtime();
        let home = home_with_browser();
        let mut app = Desktop {
            rt,
            sandbox: None,
            endpoints: desk.endpoints.clone(),
            driver: None,
            client: None,
            data: tempfile::tempdir().unwrap(),
            home,
            technician,
            own_session: Some(tempfile::tempdir().unwrap()),
            _turn: None,
        };
        app.launch();
        app
    }

    /// The environment the app runs with: a second launch by hand uses it too.
    pub(crate) fn env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        vec![
            ("RULEWATCH_DATA_DIR", self.data.path().into()),
            ("RULEWATCH_ENDPOINTS", self.endpoints.clone().into()),
            ("HOME", self.home.path().into()),
            ("XDG_CONFIG_HOME", self.home.path().join(".config").into()),
            ("BROWSER", self.home.path().join("browser").into()),
            // A partner's customers are listed before every scan, not daily.
            ("RULEWATCH_DISCOVERY_HOURS", "0".into()),
            ("RULEWATCH_TECHNICIAN", self.technician.into()),
        ]
    }

    pub(crate) fn home(&self) -> &Path {
        self.home.path()
    }

    /// The app binary under test.
    pub(crate) fn binary() -> &'static str {
        env!("CARGO_BIN_EXE_rulewatch-desktop")
    }

    /// Every running process of the app binary under test in this test's D-Bus
    /// session (where single-instance holds), so a parallel run elsewhere is not counted.
    pub(crate) fn app_pids() -> Vec<u32> {
        let binary = std::fs::canonicalize(Self::binary()).unwrap();
        let bus = format!(
            "DBUS_SESSION_BUS_ADDRESS={}",
            std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap_or_default()
        );
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary)
            })
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == bus.as_bytes()))
            })
            .collect()
    }

    /// Starts the app through tauri-driver and connects to it.
    pub(crate) fn launch(&mut self) {
        if self.own_session.is_none() {
            // It would take this launch as a second instance and keep it from starting.
            assert_eq!(
                Self::app_pids(),
                Vec::<u32>::new(),
                "an app that was stopped (here or by an earlier test) still runs in this session"
            );
        }
        let (port, native) = (free_port(), free_port());
        let tauri_driver = tool(
            "tauri-driver",
            "cargo install tauri-driver --locked (scripts/install-deps.sh test)",
        );
        let mut command = match &self.own_session {
            None => Command::new(tauri_driver),
            Some(tmp) => {
                let mut c = Command::new(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../scripts/with-keyring.sh"
                ));
                // A session of its own, its files under a folder this test removes.
                c.arg(tauri_driver)
                    .env_remove("RULEWATCH_IN_KEYRING_SESSION")
                    .env("TMPDIR", tmp.path());
                c
            }
        };
        // The driver leads a process group (WebKitWebDriver, the app, and a colleague's
        // session are in it), so stopping it can take everything along.
        let driver = command
            .process_group(0)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .arg("--native-driver")
            .arg(tool(
                "WebKitWebDriver",
                "install the webkit2gtk-driver package (scripts/install-deps.sh test)",
            ))
            .envs(self.env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.driver = Some(driver);
        let caps = json!({"browserName": "wry", "tauri:options": {"application": Self::binary()}});
        let connect = async {
            let start = Instant::now();
            loop {
                let mut builder = ClientBuilder::rustls().expect("TLS for the WebDriver client");
                builder.capabilities(caps.as_object().unwrap().clone());
                match builder.connect(&format!("http://127.0.0.1:{port}")).await {
                    Ok(c) => break c,
                    // tauri-driver takes a moment to listen.
                    Err(_) if start.elapsed() < Duration::from_secs(30) => {
                        tokio::time::sleep(Duration::from_millis(300)).await
                    }
                    Err(e) => panic!("tauri-driver did not start the app: {e}"),
                }
            }
        };
        // An app that hands over to another instance and exits leaves WebKitWebDriver
        // waiting for it without end; this fails instead.
        let client = self
            .rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(60), connect).await })
            .unwrap_or_else(|_| {
                panic!(
                    "the app did not come up under WebDriver within 60 s; running in this \
                     session: {:?}",
                    Self::app_pids()
                )
            });
        self.client = Some(client);
    }

    /// Ends the app (the WebDriver session takes it along) and its driver, and waits
    /// until it is gone: the next app would otherwise hand over to it and exit.
    pub(crate) fn stop(&mut self) {
        if let Some(c) = self.client.take() {
            // Ending the session quits the app; with no window left (a test that failed
            // between closing a panel and following the next) WebKitWebDriver may never
            // answer, which once held every later test behind this one until CI's limit.
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(15), c.close()).await });
        }
        let gone = |within| {
            let start = Instant::now();
            while !Self::app_pids().is_empty() && start.elapsed() < within {
                std::thread::sleep(Duration::from_millis(100));
            }
        };
        if let Some(mut d) = self.driver.take() {
            if self.own_session.is_none() {
                gone(Duration::from_secs(10));
            }
            // Whatever did not quit goes with the driver's process group; a colleague's
            // session is asked, so its keyring script can clean up after it.
            let signal = match self.own_session {
                Some(_) => "-TERM",
                None => "-KILL",
            };
            let _ = Command::new("kill")
                .args([signal, "--", &format!("-{}", d.id())])
                .status();
            let _ = d.wait();
        }
        for pid in Self::app_pids() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        gone(Duration::from_secs(5));
    }

    /// Quits the app and starts it again on the same data and home folders.
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Drives the panel the app made after the last one was closed: WebDriver sees it as
    /// a new window of the same session.
    pub(crate) fn follow_new_panel(&self) {
        let client = self.client();
        let mut handles = Vec::new();
        wait_until("the new panel's webview", Duration::from_secs(10), || {
            handles = self.rt.block_on(client.windows()).unwrap_or_default();
            !handles.is_empty()
        });
        let newest = handles.pop().unwrap();
        self.rt
            .block_on(client.switch_to_window(newest))
            .expect("the new panel can be driven");
    }

    pub(crate) fn client(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    pub(crate) fn stats(&self) -> Value {
        let url = format!("{}/_sandbox/stats", self.endpoints);
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    /// What the sandbox's webhook receiver `name` accepted.
    pub(crate) fn hook(&self, name: &str) -> Value {
        let url = format!("{}/_sandbox/hooks/{name}/received", self.endpoints);
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    /// A user's account and mailbox as the sandbox holds them now.
    pub(crate) fn user(&self, tenant_id: &str, upn: &str) -> Value {
        let url = format!(
            "{}/_sandbox/tenants/{tenant_id}/users/{upn}",
            self.endpoints
        );
        self.rt.block_on(async {
            reqwest::get(url)
                .await
                .unwrap()
                .error_for_status()
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    }

    /// The addresses the app asked the browser to open, oldest first.
    pub(crate) fn opened(&self) -> Vec<String> {
        std::fs::read_to_string(self.home.path().join("opened"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The sandbox's base URL.
    pub(crate) fn sandbox_url(&self) -> &str {
        &self.endpoints
    }

    /// The app's data folder.
    pub(crate) fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Waits for an element, up to `limit`.
    pub(crate) fn wait_for(&self, css: &str, limit: Duration) -> fantoccini::elements::Element {
        self.rt
            .block_on(
                self.client()
                    .wait()
                    .at_most(limit)
                    .for_element(Locator::Css(css)),
            )
            .unwrap_or_else(|e| panic!("{css} did not appear within {limit:?}: {e}"))
    }

    /// Clicks, finding the element again if a re-render replaced it meanwhile.
    pub(crate) fn click(&self, css: &str) {
        for _ in 0..5 {
            let el = self.wait_for(css, Duration::from_secs(10));
            // WebKitWebDriver often sends these with an empty message, so the
            // status decides, and a panic shows it.
            match self.rt.block_on(el.click()) {
                Ok(()) => return,
                Err(CmdError::Standard(w))
                    if matches!(
                        w.error,
                        ErrorStatus::StaleElementReference
                            | ErrorStatus::NoSuchElement
                            | ErrorStatus::ElementNotInteractable
                            | ErrorStatus::ElementClickIntercepted
                    ) =>
                {
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                }
                Err(e) => panic!("clicking {css}: {e:?}"),
            }
        }
        panic!("{css} kept being replaced before it could be clicked");
    }

    /// Clicks `css` until `then` appears: a background change (a scan, another process's
    /// commit) may re-render the panel just after a click and take away what it opened.
    pub(crate) fn click_for(&self, css: &str, then: &str) {
        for _ in 0..3 {
            self.click(css);
            let shown = self.rt.block_on(
                self.client()
                    .wait()
                    .at_most(Duration::from_secs(5))
                    .for_element(Locator::Css(then)),
            );
            if shown.is_ok() {
                return;
            }
        }
        panic!("clicking {css} never showed {then}");
    }

    /// The element's text, read in one script call: the panel re-renders on every
    /// change, so an element found a moment earlier may be gone.
    pub(crate) fn text(&self, css: &str) -> String {
        self.wait_for(css, Duration::from_secs(10));
        let js = format!(
            "return document.querySelector({})?.textContent ?? ''",
            json!(css)
        );
        self.script(&js).as_str().unwrap_or_default().to_string()
    }

    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let el = self.wait_for(css, Duration::from_secs(10));
        self.rt.block_on(el.send_keys(text)).unwrap();
    }

    pub(crate) fn count(&self, css: &str) -> usize {
        self.rt
            .block_on(self.client().find_all(Locator::Css(css)))
            .unwrap()
            .len()
    }

    /// Opens the alert whose list row mentions `text`.
    pub(crate) fn open_row(&self, text: &str) {
        let js = format!(
            "return [...document.querySelectorAll('[data-testid=alert-row]')].find(r => r.textContent.includes({}))?.dataset.alertId ?? null",
            json!(text)
        );
        let id = self.script(&js);
        let id = id
            .as_str()
            .unwrap_or_else(|| panic!("no alert row mentions {text}"));
        self.click(&format!(
            "[data-testid=alert-row][data-alert-id='{id}'] [data-testid=open-alert]"
        ));
    }

    pub(crate) fn script(&self, js: &str) -> Value {
        self.rt.block_on(self.client().execute(js, vec![])).unwrap()
    }

    /// A property of the element (`value`, `checked`…), read in one script call.
    pub(crate) fn prop(&self, css: &str, name: &str) -> Value {
        self.wait_for(css, Duration::from_secs(10));
        let js = format!(
            "return document.querySelector({})?.[{}] ?? null",
            json!(css),
            json!(name)
        );
        self.script(&js)
    }

    pub(crate) fn value(&self, css: &str) -> Value {
        self.prop(css, "value")
    }

    pub(crate) fn clear(&self, css: &str) {
        let el = self.wait_for(css, Duration::from_secs(10));
        self.rt.block_on(el.clear()).unwrap();
    }

    /// Calls one of the app's commands as the panel does: its reply, or its error.
    pub(crate) fn invoke(&self, command: &str, args: Value) -> Result<Value, Value> {
        let js = "const [command, args, done] = arguments; \
                  window.__TAURI_INTERNALS__.invoke(command, args).then(ok => done({ok}), err => done({err}));";
        let reply = self
            .rt
            .block_on(self.client().execute_async(js, vec![json!(command), args]))
            .unwrap();
        match reply.get("err") {
            Some(err) => Err(err.clone()),
            None => Ok(reply.get("ok").cloned().unwrap_or(Value::Null)),
        }
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        self.stop();
        if let Some(s) = self.sandbox.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}

/// The runtime a test's calls to the sandbox and the WebDriver client run on.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A home folder for the app with its "browser": a script that notes each address it
/// is asked to open, for a test to follow (and no real browser ever starts).
fn home_with_browser() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let browser = home.path().join("browser");
    std::fs::write(
        &browser,
        "#!/bin/sh\necho \"$1\" >> \"$(dirname \"$0\")/opened\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    home
}

/// Megan's new inbox rule "Sync" forwarding every message outside, planted as readable
/// now in `t`'s feed: the attack most tests start from.
pub(crate) fn megan_forwards_outside(t: &Tenant) -> Value {
    let record = m365_sandbox::attacks::new_inbox_rule_forward(
        &t.own("megan"),
        "Sync",
        &["drop@evil.example"],
        m365_sandbox::attacks::ForwardKind::ForwardTo,
    );
    json!({"tenant_id": t.tenant_id, "content_type": "Audit.Exchange", "release_after_s": -5, "record": record})
}
