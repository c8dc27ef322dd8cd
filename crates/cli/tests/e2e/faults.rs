//! Microsoft's failure modes, one by one and mixed: throttled, failing, cut, truncated,
//! duplicated, late and expired content never lose or repeat an alert, and are never
//! silent.

use serde_json::{Value, json};

use crate::harness::*;

fn scan_with(faults: Value) -> (Sandbox, Rulewatch, Run, Expected) {
    let (scenario, tenants, expected) = world(2, 150, faults);
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let run = rw.scan();
    (sandbox, rw, run, expected)
}

#[test]
fn throttling_is_retried_and_reported() {
    let (sandbox, rw, run, expected) = scan_with(json!({"throttle": 0.35, "seed": 11}));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exactly(&run.json_lines(), &expected);
    assert!(sandbox.stats()["faults"]["throttle"].as_u64().unwrap() > 0);
    assert!(
        run.stderr.contains("throttled and"),
        "throttling must show in the summary: {}",
        run.stderr
    );
    let throttled: u64 = rw
        .status()
        .iter()
        .map(|s| s["throttled_last_scan"].as_u64().unwrap())
        .sum();
    assert!(throttled > 0);
}

#[test]
fn throttling_without_retry_after_waits_on_our_own_clock_and_says_so() {
    // AF429 on 403 comes without Retry-After, a 429 with it (../shared/reference/m365-api.md §G 14).
    let (scenario, tenants, expected) = world(
        1,
        20,
        json!({"script": [{"endpoint": "content", "fault": "throttle_af429", "count": 1},
                          {"endpoint": "blob", "fault": "throttle", "count": 1}]}),
    );
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let run = rw.run(&["-v", "scan", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exactly(&run.json_lines(), &expected);
    assert_eq!(sandbox.stats()["faults"]["throttle"], 2);
    let own = run
        .stderr
        .lines()
        .find(|l| l.contains("throttled without Retry-After"))
        .unwrap_or_else(|| panic!("the wait on our own clock must show at -v: {}", run.stderr));
    assert!(
        own.contains("AF429") && own.contains("per-minute quota"),
        "{own}"
    );
    // The harness sets the floor to one second (the default is 61).
    let secs: f64 = own
        .split("retry 1 of 9 in ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!((1.0..=1.25).contains(&secs), "{own}");
    assert!(run.stderr.contains("as Microsoft asked"), "{}", run.stderr);
}

#[test]
fn server_errors_and_cut_connections_are_retried() {
    // Scripted for the same reason as the truncated bodies: a random draw per request
    // could fail one request on every attempt.
    let (sandbox, _rw, run, expected) = scan_with(json!({
        "slow": 0.1, "slow_ms": 300, "seed": 5,
        "script": [
            {"endpoint": "content", "fault": "server_error", "count": 3},
            {"endpoint": "blob", "fault": "server_error", "count": 2},
            {"endpoint": "blob", "fault": "cut_connection", "count": 3},
        ],
    }));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exactly(&run.json_lines(), &expected);
    let faults = &sandbox.stats()["faults"];
    assert!(
        faults["server_error"].as_u64().unwrap() > 0
            && faults["cut_connection"].as_u64().unwrap() > 0,
        "{faults}"
    );
}

#[test]
fn truncated_bodies_are_fetched_again() {
    // Scripted, not random: tenants are scanned concurrently, so a random draw per request
    // could cut one blob on every one of its attempts. Three cuts never exhaust the four.
    let (sandbox, _rw, run, expected) =
        scan_with(json!({"script": [{"endpoint": "blob", "fault": "truncated_body", "count": 3}]}));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exactly(&run.json_lines(), &expected);
    assert_eq!(
        sandbox.stats()["faults"]["truncated_body"]
            .as_u64()
            .unwrap(),
        3
    );
}

#[test]
fn duplicate_records_across_blobs_alert_once() {
    let (_sandbox, rw, run, expected) = scan_with(json!({"duplicate_records": 0.9, "seed": 4}));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exactly(&run.json_lines(), &expected);
    assert_exactly(&rw.alerts(), &expected);
}

#[test]
fn a_blob_listed_late_inside_a_window_already_read_is_still_found() {
    // Planted before start and listed an hour late, until the test says it arrived: no
    // scan's speed decides what this test sees.
    let (scenario, tenants, expected) =
        world(1, 40, json!({"late_blobs": 1.0, "late_delay_s": 3600}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let early = rw.scan();
    assert_eq!(early.code, 0, "{}", early.stderr);
    assert!(
        early.json_lines().is_empty(),
        "the planted blob was not listable yet"
    );
    sandbox.release_late_blobs();
    let late = rw.scan();
    assert_eq!(late.code, 0, "{}", late.stderr);
    assert_exactly(&late.json_lines(), &expected);
}

#[test]
fn expired_content_is_recorded_as_a_data_gap() {
    let (mut scenario, tenants, expected) = world(1, 0, json!({}));
    let t = &tenants[0];
    let lost = json!({"tenant_id": t.tenant_id, "content_type": "Audit.Exchange", "release_after_s": -30, "expired": true,
                      "record": {"Id": "lost", "Operation": "Set-Mailbox", "CreationTime": "2026-01-01T00:00:00"}});
    scenario["records"].as_array_mut().unwrap().push(lost);
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    rw.add_tenant(t);
    let run = rw.scan();
    assert_eq!(
        run.code, 3,
        "a data gap must not look like a clean scan: {}",
        run.stderr
    );
    assert_exactly(&run.json_lines(), &expected);
    let s = rw.status();
    let s = tenant_status(&s, t);
    assert_eq!(s["state"], "partial", "{s}");
    assert_eq!(s["problem"], "data_gap");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("expired before it could be read"),
        "{s}"
    );
    // The gap is recorded once; the next scan is clean.
    assert_eq!(rw.scan().code, 0);
}

#[test]
fn a_blob_that_stays_malformed_is_named_and_read_on_a_later_scan() {
    let (mut scenario, tenants, expected) = world(2, 0, json!({}));
    let bad = &tenants[0];
    // Every attempt of the first scan gets a cut-off body; the script then runs out.
    scenario["faults"] = json!({"script": [{"endpoint": "blob", "tenant_id": bad.tenant_id, "fault": "truncated_body", "count": 4}]});
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let first = rw.scan();
    assert_eq!(first.code, 3, "{}", first.stderr);
    let others: Expected = expected
        .iter()
        .filter(|e| e.0 != bad.tenant_id)
        .cloned()
        .collect();
    assert_exactly(&first.json_lines(), &others);
    let statuses = rw.status();
    let s = tenant_status(&statuses, bad);
    assert_eq!(s["state"], "partial", "{s}");
    assert_eq!(s["problem"], "blob_failed");
    assert!(
        s["message"].as_str().unwrap().contains("malformed 4 times"),
        "{s}"
    );
    assert_eq!(tenant_status(&statuses, &tenants[1])["state"], "ok");

    let second = rw.scan();
    assert_eq!(second.code, 0, "{}", second.stderr);
    let mine: Expected = expected
        .iter()
        .filter(|e| e.0 == bad.tenant_id)
        .cloned()
        .collect();
    assert_exactly(&second.json_lines(), &mine);
    assert_exactly(&rw.alerts(), &expected);
}

#[test]
fn fifty_tenants_with_every_fault_mixed_in() {
    let faults = json!({"throttle": 0.08, "server_error": 0.04, "truncated_body": 0.02, "cut_connection": 0.02,
                        "duplicate_records": 0.05, "late_blobs": 0.1, "late_delay_s": 30, "seed": 3});
    let (mut scenario, tenants, expected) = world(50, 200, faults);
    // Released a minute before the sandbox started, so even late blobs are listable.
    for r in scenario["records"].as_array_mut().unwrap() {
        r["release_after_s"] = json!(-60);
    }
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let first = rw.scan();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_exactly(&first.json_lines(), &expected);
    let second = rw.scan();
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.json_lines().is_empty(),
        "second scan repeated alerts"
    );
    let statuses = rw.status();
    assert_eq!(statuses.len(), 50);
    assert!(
        statuses
            .iter()
            .all(|s| s["state"] == "ok" && s["last_success_at"].is_string())
    );
}
