//! The harness of the end-to-end tests: the sandbox served over loopback, a throwaway
//! data folder, and the real `rulewatch` binary run as a user would run it. Tests run
//! inside scripts/with-keyring.sh, so tenant secrets go to a real gnome-keyring.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use m365_sandbox::attacks::{self, ForwardKind};
use m365_sandbox::{RunningSandbox, Scenario};
use serde_json::{Value, json};

pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rulewatch")
}

/// The sandbox on a free loopback port, with a runtime of its own.
pub(crate) struct Sandbox {
    rt: tokio::runtime::Runtime,
    running: Option<RunningSandbox>,
    pub url: String,
}

impl Sandbox {
    pub(crate) fn start(scenario: &Value) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let scenario = Scenario::from_json(&scenario.to_string()).expect("valid scenario");
        let running = rt
            .block_on(m365_sandbox::start(
                "127.0.0.1:0".parse().unwrap(),
                scenario,
            ))
            .unwrap();
        let url = running.base_url().to_string();
        Sandbox {
            rt,
            running: Some(running),
            url,
        }
    }

    pub(crate) fn stats(&self) -> Value {
        let url = format!("{}/_sandbox/stats", self.url);
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    /// What the sandbox's hostile-network recorder received (another host than the sandbox's).
    pub(crate) fn elsewhere(&self) -> Vec<Value> {
        let url = format!("{}/_sandbox/elsewhere", self.url);
        let got: Value = self
            .rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
        got["received"].as_array().unwrap().clone()
    }

    /// What the sandbox's webhook receiver `name` accepted, and how many it refused.
    pub(crate) fn hook(&self, name: &str) -> Value {
        let url = format!("{}/_sandbox/hooks/{name}/received", self.url);
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    /// The webhook receiver `name` answers 503 to its next `count` requests.
    pub(crate) fn fail_hook(&self, name: &str, count: u32) {
        self.control(&format!("hooks/{name}/fail?count={count}"));
    }

    /// What the PSA stand-in `vendor` lists: its `tickets` or its `companies`.
    pub(crate) fn psa(&self, vendor: &str, what: &str) -> Value {
        let url = format!("{}/_sandbox/psa/{vendor}/{what}", self.url);
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    /// The PSA stand-in `vendor`'s next `count` API requests `fail` (503) or `throttle` (429).
    pub(crate) fn psa_trouble(&self, vendor: &str, trouble: &str, count: u32) {
        self.control(&format!("psa/{vendor}/{trouble}?count={count}"));
    }

    /// The sandbox's clock: the wall-clock instant it started from and its speed.
    pub(crate) fn clock(&self) -> m365_sandbox::Clock {
        let url = format!("{}/_sandbox/clock", self.url);
        let got: Value = self
            .rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
        m365_sandbox::Clock::from_anchor(
            chrono::DateTime::from_timestamp_millis(got["anchor_ms"].as_i64().unwrap()).unwrap(),
            u32::try_from(got["speed"].as_u64().unwrap()).unwrap(),
        )
    }

    /// POSTs to the sandbox's control endpoint `/_sandbox/{path}`, which must accept it.
    fn control(&self, path: &str) {
        let url = format!("{}/_sandbox/{path}", self.url);
        let status = self.rt.block_on(async {
            reqwest::Client::new()
                .post(url)
                .send()
                .await
                .unwrap()
                .status()
        });
        assert!(status.is_success(), "POST /_sandbox/{path}: {status}");
    }

    /// A user's account and mailbox as the sandbox holds them now.
    pub(crate) fn user(&self, tenant_id: &str, upn: &str) -> Value {
        let url = format!("{}/_sandbox/tenants/{tenant_id}/users/{upn}", self.url);
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

    /// Changes a tenant mid-test (secret, audit switch, subscription…).
    /// Every late blob is listable from now on.
    pub(crate) fn release_late_blobs(&self) {
        self.control("late/release");
    }

    pub(crate) fn patch_tenant(&self, tenant_id: &str, patch: Value) {
        let url = format!("{}/_sandbox/tenants/{tenant_id}", self.url);
        let status = self.rt.block_on(async {
            reqwest::Client::new()
                .post(url)
                .json(&patch)
                .send()
                .await
                .unwrap()
                .status()
        });
        assert!(status.is_success(), "patching tenant {tenant_id}: {status}");
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            self.rt.block_on(r.shutdown());
        }
    }
}

pub(crate) use m365_sandbox::testkit::TestTenant;

/// Sleeps until the sandbox's `clock` reads `t`.
pub(crate) fn sleep_until(clock: &m365_sandbox::Clock, t: chrono::DateTime<chrono::Utc>) {
    if let Ok(left) = (t - clock.now()).to_std() {
        std::thread::sleep(left / clock.anchor().1);
    }
}

/// `RULEWATCH_SCENARIO_CLOCK` set to the sandbox's `clock`, for the `rulewatch` runs.
pub(crate) fn scenario_clock_env(clock: &m365_sandbox::Clock) -> (&'static str, String) {
    let (anchor, speed) = clock.anchor();
    (
        rulewatch_core::app::clock::ENV,
        format!("{}x{speed}", anchor.timestamp_millis()),
    )
}

/// A threat the scan must report: (tenant, record id, rule).
pub(crate) type Expected = BTreeSet<(String, String, String)>;

/// Planted records, one of each kind the detection rules cover, for one tenant; each
/// released at `release_after_s`.
pub(crate) fn plant_attacks(
    t: &TestTenant,
    release_after_s: i64,
    records: &mut Vec<Value>,
    expected: &mut Expected,
) {
    let mut plant = |record: Value, rules: &[&str]| {
        let id = record["Id"].as_str().unwrap().to_string();
        for rule in rules {
            expected.insert((t.tenant_id.clone(), id.clone(), rule.to_string()));
        }
        records.push(
            json!({"tenant_id": t.tenant_id, "content_type": "Audit.Exchange",
                            "release_after_s": release_after_s, "record": record}),
        );
    };
    plant(
        attacks::new_inbox_rule_forward(
            &t.ctx(0, 0),
            "Sync",
            &[&t.drop_box("bob"), &t.drop_box("exfil")],
            ForwardKind::ForwardTo,
        ),
        &["inbox-rule-external-forward"],
    );
    plant(
        attacks::new_inbox_rule_delete_all(&t.ctx(1, 1), "."),
        &["inbox-rule-hides-mail"],
    );
    plant(
        attacks::set_mailbox_forwarding(
            &t.ctx(3, 2),
            Some(&format!("smtp:{}", t.drop_box("drop"))),
            None,
            false,
        ),
        &["mailbox-external-forward"],
    );
    plant(
        attacks::set_inbox_rule_forward(
            &t.ctx(3, 0),
            "Sync",
            &[&t.drop_box("relay")],
            ForwardKind::RedirectTo,
        ),
        &["inbox-rule-external-forward"],
    );
    // Internal forwarding must stay quiet.
    plant(
        attacks::new_inbox_rule_forward(
            &t.ctx(2, 2),
            "Team",
            &[&t.users[0]],
            ForwardKind::ForwardTo,
        ),
        &[],
    );
}

/// Adds `record` of tenant `t`, which `rule` reports, to a scenario.
pub(crate) fn plant(
    scenario: &mut Value,
    expected: &mut Expected,
    t: &TestTenant,
    record: Value,
    rule: &str,
) {
    expected.insert((
        t.tenant_id.clone(),
        record["Id"].as_str().unwrap().to_string(),
        rule.to_string(),
    ));
    scenario["records"].as_array_mut().unwrap().push(json!({
        "tenant_id": t.tenant_id, "content_type": "Audit.Exchange",
        "release_after_s": -5, "record": record,
    }));
}

/// A scenario of `tenants` tenants, each with every attack kind and `noise` records.
pub(crate) fn world(
    tenants: usize,
    noise: usize,
    faults: Value,
) -> (Value, Vec<TestTenant>, Expected) {
    let specs: Vec<TestTenant> = (0..tenants).map(TestTenant::new).collect();
    let mut records = Vec::new();
    let mut expected = Expected::new();
    for t in &specs {
        // A few seconds old: content created in the scan's own second is listed next scan.
        plant_attacks(t, -5, &mut records, &mut expected);
    }
    let scenario = json!({
        "tenants": specs.iter().map(TestTenant::scenario_json).collect::<Vec<_>>(),
        "records": records,
        "noise": {"records_per_tenant": noise, "seed": 7},
        "page_size": 20,
        "records_per_blob": 50,
        "faults": faults,
    });
    (scenario, specs, expected)
}

/// A data folder with the sandbox's endpoints, and the binary run against them.
pub(crate) struct Rulewatch {
    pub dir: tempfile::TempDir,
    pub endpoints: String,
    /// More environment for every run (a scenario clock, a time zone).
    pub env: Vec<(&'static str, String)>,
}

pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs `command` with `stdin` on its standard input.
    pub(crate) fn with_stdin(mut command: Command, stdin: &str) -> Run {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        Run::from(child.wait_with_output().unwrap())
    }

    pub(crate) fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    pub(crate) fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

impl Rulewatch {
    pub(crate) fn new(sandbox: &Sandbox) -> Self {
        Rulewatch {
            dir: tempfile::tempdir().unwrap(),
            endpoints: sandbox.url.clone(),
            env: Vec::new(),
        }
    }

    /// A data folder with every one of `tenants` added.
    pub(crate) fn with_tenants(sandbox: &Sandbox, tenants: &[TestTenant]) -> Self {
        let rw = Rulewatch::new(sandbox);
        for t in tenants {
            rw.add_tenant(t);
        }
        rw
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env("RULEWATCH_DATA_DIR", self.dir.path())
            .env("RULEWATCH_ENDPOINTS", &self.endpoints)
            // Throttling without Retry-After waits a minute by default; tests wait a second.
            .env("RULEWATCH_THROTTLE_WAIT_SECS", "1")
            .env_remove("RULEWATCH_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).stdin(Stdio::null()).output().unwrap())
    }

    /// `channel add webhook NAME` to `url`, the secret on standard input, then `extra`.
    pub(crate) fn add_webhook(&self, name: &str, url: &str, secret: &str, extra: &[&str]) -> Run {
        let args = [
            "channel",
            "add",
            "webhook",
            "--name",
            name,
            "--url",
            url,
            "--secret-stdin",
        ];
        self.run_with_stdin(&[&args[..], extra].concat(), secret)
    }

    /// `channel add teams|slack NAME`, the URL on standard input, then `extra`.
    pub(crate) fn add_chat(&self, kind: &str, name: &str, url: &str, extra: &[&str]) -> Run {
        let args = ["channel", "add", kind, "--name", name, "--url-stdin"];
        self.run_with_stdin(&[&args[..], extra].concat(), url)
    }

    pub(crate) fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        Run::with_stdin(self.command(args), stdin)
    }

    pub(crate) fn add_tenant(&self, t: &TestTenant) {
        let r = self.run_with_stdin(&t.add_args(), &t.secret);
        assert_eq!(r.code, 0, "tenant add failed: {}", r.stderr);
    }

    pub(crate) fn remove_tenant(&self, t: &TestTenant) {
        let r = self.run(&["tenant", "remove", &t.tenant_id]);
        assert_eq!(r.code, 0, "tenant remove failed: {}", r.stderr);
    }

    pub(crate) fn scan(&self) -> Run {
        self.run(&["scan", "--json"])
    }

    pub(crate) fn alerts(&self) -> Vec<Value> {
        let r = self.run(&["alerts", "--json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json_lines()
    }

    pub(crate) fn status(&self) -> Vec<Value> {
        let r = self.run(&["status", "--json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json().as_array().unwrap().clone()
    }

    pub(crate) fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The (tenant, record, rule) triples of alert objects.
pub(crate) fn keys(alerts: &[Value]) -> Vec<(String, String, String)> {
    alerts
        .iter()
        .map(|a| {
            (
                a["tenant_id"].as_str().unwrap().to_string(),
                a["record_id"].as_str().unwrap().to_string(),
                a["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Asserts that `alerts` are exactly `expected`, each once.
pub(crate) fn assert_exactly(alerts: &[Value], expected: &Expected) {
    let got = keys(alerts);
    let unique: Expected = got.iter().cloned().collect();
    assert_eq!(got.len(), unique.len(), "duplicate alerts: {got:#?}");
    let missing: Vec<_> = expected.difference(&unique).collect();
    let extra: Vec<_> = unique.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nunexpected {extra:#?}"
    );
}

pub(crate) fn tenant_status<'a>(statuses: &'a [Value], t: &TestTenant) -> &'a Value {
    statuses
        .iter()
        .find(|s| s["tenant_id"] == t.tenant_id.as_str())
        .expect("tenant in status")
}
