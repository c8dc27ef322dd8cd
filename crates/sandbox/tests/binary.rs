//! The `m365-sandbox` command as the CLI and scripts run it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use m365_sandbox::Scenario;
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_m365-sandbox");

/// Starts the binary and returns it with the base URL from its `listening on` line.
fn spawn(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BINARY)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        tx.send(line).unwrap();
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the binary announces itself");
    let base = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    let port: u16 = base
        .strip_prefix("http://127.0.0.1:")
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(port, 0);
    (child, base)
}

fn stop(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success(), "SIGTERM is a clean stop");
}

#[tokio::test]
async fn demo_listens_on_a_free_port_and_serves_its_tenants() {
    let (mut child, base) = spawn(&["--listen", "127.0.0.1:0", "--demo"]);
    let demo = Scenario::demo();
    let tenant = &demo.tenants[0];
    let response = reqwest::Client::new()
        .post(format!("{base}/{}/oauth2/v2.0/token", tenant.tenant_id))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", tenant.client_id.as_str()),
            ("client_secret", tenant.client_secret.as_str()),
            ("scope", "https://manage.office.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert!(response.json::<Value>().await.unwrap()["access_token"].is_string());
    stop(&mut child);
}

#[tokio::test]
async fn a_scenario_file_is_played() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scenario.json");
    std::fs::write(&path, serde_json::to_string(&Scenario::demo()).unwrap()).unwrap();
    let (mut child, base) = spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--scenario",
        path.to_str().unwrap(),
    ]);
    let stats: Value = reqwest::get(format!("{base}/_sandbox/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["tokens_issued"], 0);
    stop(&mut child);
}

#[test]
fn a_bad_scenario_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (r#"{"tenants": [], "page_size": "ten"}"#, "page_size"),
        (
            r#"{"tenants": [], "faults": {"throttle": 2}}"#,
            "faults.throttle",
        ),
        (
            r#"{"tenants": [], "records": [{"tenant_id": "x", "content_type": "Audit.Exchange", "record": {}}]}"#,
            "records[0].tenant_id",
        ),
        (
            r#"{"tenants": [], "noise": {"records": 5}}"#,
            "noise.records",
        ),
        (
            r#"{"tenants": [{"tenant_id": "nope", "name": "X", "domains": ["x.com"], "client_id": "x"}]}"#,
            "tenants[0].tenant_id",
        ),
    ];
    for (i, (text, field)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.json"));
        std::fs::write(&path, text).unwrap();
        let output = Command::new(BINARY)
            .args(["--scenario", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("`{field}`")), "{stderr}");
    }
    let missing = Command::new(BINARY)
        .args(["--scenario", "/nonexistent/scenario.json"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}
