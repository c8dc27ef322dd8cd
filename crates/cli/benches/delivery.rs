//! Delivery latency on the stand-ins: from an alert's commit (its `detected_at`) to its
//! arrival at each kind of channel (webhook, Teams, Slack, e-mail, a ConnectWise ticket
//! or note), through the real `rulewatch scan` binary, over loopback, with the real
//! keychain (run under scripts/with-keyring.sh). The floor, measured in the same run: a
//! direct POST of a webhook body to the same receiver, without Rulewatch.
//!
//! `scripts/with-keyring.sh cargo bench -p rulewatch-cli --bench delivery` measures 20
//! tenants (60 alerts); `cargo test --all-targets` runs it once on 2 tenants, checking
//! that every alert reached every channel, as a smoke test.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use chrono::{DateTime, Utc};
use m365_sandbox::attacks::{self, ForwardKind};
use m365_sandbox::psa::{DEFAULT_COMPANY, connectwise};
use m365_sandbox::testkit::{SmtpSink, TestTenant, connectwise_channel, get_json, start_on};
use serde_json::{Value, json};

const SECRET: &str = "a shared secret of more than sixteen characters";

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let count = if measuring { 20 } else { 2 };
    let tenants: Vec<TestTenant> = (0..count).map(TestTenant::new).collect();
    let mut records = Vec::new();
    for t in &tenants {
        // Three alerts a tenant, two on one mailbox: an opened incident and an update.
        for record in [
            attacks::new_inbox_rule_forward(
                &t.ctx(0, 0),
                "Sync",
                &[&t.drop_box("exfil")],
                ForwardKind::ForwardTo,
            ),
            attacks::new_inbox_rule_delete_all(&t.ctx(0, 0), "."),
            attacks::new_inbox_rule_delete_all(&t.ctx(1, 1), "."),
        ] {
            records.push(
                json!({"tenant_id": t.tenant_id, "content_type": "Audit.Exchange",
                                "release_after_s": -5, "record": record}),
            );
        }
    }
    let scenario = json!({
        "tenants": tenants.iter().map(TestTenant::scenario_json).collect::<Vec<_>>(),
        "records": records,
        "noise": {"records_per_tenant": 20, "seed": 3},
    });
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let sandbox = start_on(&rt, &scenario);
    let base = sandbox.base_url().to_string();
    let get = |path: &str| -> Value { get_json(&rt, &format!("{base}{path}")) };
    let data = tempfile::tempdir().expect("a temporary folder");
    let run = |args: &[&str], stdin: &str| -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rulewatch"))
            .args(args)
            .env("RULEWATCH_DATA_DIR", data.path())
            .env("RULEWATCH_ENDPOINTS", &base)
            .env_remove("RULEWATCH_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the rulewatch binary");
        child
            .stdin
            .take()
            .expect("its stdin")
            .write_all(stdin.as_bytes())
            .expect("writing its stdin");
        let out = child.wait_with_output().expect("it ends");
        assert!(
            out.status.success(),
            "rulewatch {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    for t in &tenants {
        run(&t.add_args(), &t.secret);
    }
    let sink = SmtpSink::start("starttls");
    let port = sink.port.to_string();
    let ca = sink.ca();
    let default = get("/_sandbox/psa/connectwise/companies")
        .as_array()
        .expect("companies")
        .iter()
        .find(|c| c["name"] == DEFAULT_COMPANY)
        .expect("the default company")["id"]
        .to_string();
    let site = format!("{base}/connectwise");
    let hook = format!("{base}/_sandbox/hooks/measure");
    let channel = |name: &str, args: &[&str], stdin: &str| {
        let added = [&["channel", "add"][..], args, &["--name", name]].concat();
        run(&added, stdin);
    };
    channel(
        "measure-hook",
        &["webhook", "--url", &hook, "--secret-stdin"],
        SECRET,
    );
    channel(
        "measure-teams",
        &["teams", "--url-stdin"],
        &format!("{base}/_sandbox/teams/measure-teams"),
    );
    channel(
        "measure-slack",
        &["slack", "--url-stdin"],
        &format!("{base}/_sandbox/slack/measure-slack"),
    );
    channel(
        "measure-mail",
        &[
            "email",
            "--smtp-host",
            "localhost",
            "--port",
            &port,
            "--username",
            SmtpSink::USER,
            "--password-stdin",
            "--from",
            "alerts@msp.example",
            "--to",
            "soc@msp.example",
            "--ca-file",
            &ca,
        ],
        SmtpSink::PASSWORD,
    );
    run(
        &connectwise_channel("measure-psa", &site, &default),
        connectwise::PRIVATE_KEY,
    );

    let scanned = Instant::now();
    run(&["scan", "--json"], "");
    let scan_took = scanned.elapsed();
    let alerts: Vec<Value> = String::from_utf8(run(&["alerts", "--json"], "").stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one alert a line"))
        .collect();
    assert_eq!(alerts.len(), 3 * count, "every planted attack is an alert");
    let committed = |id: i64| -> DateTime<Utc> {
        let a = alerts
            .iter()
            .find(|a| a["id"] == id)
            .expect("a delivered alert");
        at(&a["detected_at"])
    };
    let first_alert = alerts
        .iter()
        .map(|a| at(&a["detected_at"]))
        .min()
        .expect("alerts");

    // Per channel, each arrival with the alert it carries (by its link or key).
    let mut report: Vec<(&str, Vec<f64>)> = Vec::new();
    let alert_of = |text: &str| -> i64 {
        let at = text
            .find("rulewatch://alert/")
            .expect("a link to the alert")
            + 18;
        text[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .expect("an alert id")
    };
    for (label, name) in [
        ("webhook", "measure"),
        ("teams", "measure-teams"),
        ("slack", "measure-slack"),
    ] {
        let got = get(&format!("/_sandbox/hooks/{name}/received"))["received"]
            .as_array()
            .expect("received")
            .clone();
        let lat: Vec<f64> = got
            .iter()
            .map(|r| {
                let body = r["body"].as_str().expect("a body");
                let id = match label {
                    "webhook" => {
                        let key = r["delivery"].as_str().expect("a delivery key");
                        key.rsplit(':')
                            .next()
                            .expect("key:id")
                            .parse()
                            .expect("an id")
                    }
                    _ => alert_of(body),
                };
                secs(at(&r["received_at"]) - committed(id))
            })
            .collect();
        report.push((label, lat));
    }
    let mail: Vec<f64> = sink
        .messages()
        .iter()
        .map(|m| {
            let id = alert_of(m["text"].as_str().expect("a text part"));
            secs(at(&m["received_at"]) - committed(id))
        })
        .collect();
    report.push(("e-mail", mail));
    // A ticket or note arrives for each alert; they carry no alert id, so each is
    // measured from the first alert's commit (an upper bound).
    let psa: Vec<f64> = get("/_sandbox/psa/connectwise/tickets")
        .as_array()
        .expect("tickets")
        .iter()
        .flat_map(|t| {
            let notes = t["notes"].as_array().expect("notes").clone();
            std::iter::once(at(&t["created_at"])).chain(
                notes
                    .iter()
                    .map(|n| at(&n["created_at"]))
                    .collect::<Vec<_>>(),
            )
        })
        .map(|arrived| secs(arrived - first_alert))
        .collect();
    report.push(("connectwise", psa));

    // The floor: the same kind of POST, straight to the receiver.
    let floor = {
        let client = reqwest::Client::new();
        let body = json!({"schema": "rulewatch.incident/v1", "event": "floor"}).to_string();
        let started = Instant::now();
        for _ in 0..20 {
            rt.block_on(
                client
                    .post(format!("{base}/_sandbox/hooks/floor"))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send(),
            )
            .expect("the receiver answers");
        }
        started.elapsed().as_secs_f64() / 20.0
    };

    println!(
        "delivery latency, {count} tenants, {} alerts; rulewatch scan took {:.2} s; floor (one direct POST) {:.2} ms",
        alerts.len(),
        scan_took.as_secs_f64(),
        floor * 1000.0
    );
    for (label, mut lat) in report {
        assert_eq!(lat.len(), 3 * count, "{label}: every alert arrived once");
        lat.sort_by(f64::total_cmp);
        let median = lat[lat.len() / 2];
        let max = lat[lat.len() - 1];
        println!(
            "  {label:<12} median {:>7.3} s  max {:>7.3} s  (median = {:.0} x floor)",
            median,
            max,
            median / floor
        );
    }
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("a time: {v}"))
}

fn secs(d: chrono::TimeDelta) -> f64 {
    d.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
}
