//! `kill -9` at random instants, then restart: no alert lost, none stored twice, every
//! alert still printed by a later run, every alert posted to a webhook under one
//! idempotency key (a kill between the POST and its mark repeats it with the same key),
//! and one PSA ticket per incident, however often a kill fell between opening a ticket
//! and recording it.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use m365_sandbox::psa::connectwise;
use m365_sandbox::testkit::connectwise_channel;

use crate::harness::*;

#[test]
fn killed_at_random_instants_loses_nothing_and_repeats_nothing() {
    // Slow answers stretch the scan so the kills land inside it.
    let faults = json!({"slow": 0.3, "slow_ms": 150, "throttle": 0.05, "duplicate_records": 0.2, "seed": 21});
    let (mut scenario, tenants, expected) = world(6, 1500, faults);
    // Spread the planted records over the noise so kills fall between them.
    for (i, r) in scenario["records"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        r["release_after_s"] = json!(-(i as i64 * 97 % 3600) - 10);
    }
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let hook = format!("{}/_sandbox/hooks/crash", sandbox.url);
    let added = rw.add_webhook("crash", &hook, "a secret long enough to sign with", &[]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    let site = format!("{}/connectwise", sandbox.url);
    let default = sandbox.psa("connectwise", "companies")[0]["id"].to_string();
    let psa = rw.run_with_stdin(
        &connectwise_channel("crash-tickets", &site, &default),
        connectwise::PRIVATE_KEY,
    );
    assert_eq!(psa.code, 0, "{}", psa.stderr);

    // New instants each run, yet any failure can be replayed: the seed is printed, and
    // RULEWATCH_CRASH_SEED=N runs those instants again.
    let seed = std::env::var("RULEWATCH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u64>());
    println!("kill instants from RULEWATCH_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut printed: Vec<Value> = Vec::new();
    let mut kills = 0;
    let started = Instant::now();
    loop {
        let mut child = rw
            .command(&["scan", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let kill_after = Duration::from_millis(rng.random_range(30..1200));
        let deadline = Instant::now() + kill_after;
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline && kills < 12 {
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if finished.is_none() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
        }
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        // A kill can cut the last line short; whole lines are alerts.
        printed.extend(
            out.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok()),
        );
        if let Some(status) = finished {
            assert!(status.success(), "the scan that ran to its end failed");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "scans never finished"
        );
    }
    assert!(kills >= 3, "only {kills} kills landed inside a scan");

    assert_exactly(&rw.alerts(), &expected);
    let printed_keys: BTreeSet<_> = keys(&printed).into_iter().collect();
    assert_eq!(
        &printed_keys, &expected,
        "every stored alert must have been printed by some run"
    );
    let rescan = rw.scan();
    assert_eq!(rescan.code, 0);
    assert!(rescan.json_lines().is_empty());

    // Anything a kill left in its backoff goes now; then each alert was posted, and any
    // repeat carries the key of the first.
    assert_eq!(rw.run(&["channel", "retry"]).code, 0);
    let received = sandbox.hook("crash")["received"]
        .as_array()
        .unwrap()
        .clone();
    let delivered: BTreeSet<String> = received
        .iter()
        .map(|r| r["delivery"].as_str().unwrap().to_string())
        .collect();
    let stored: BTreeSet<String> = rw.alerts().iter().map(|a| a["id"].to_string()).collect();
    let ids: BTreeSet<String> = delivered
        .iter()
        .map(|k| k.rsplit(':').next().unwrap().to_string())
        .collect();
    assert_eq!(ids, stored, "every stored alert posted");
    assert_eq!(
        delivered.len(),
        stored.len(),
        "one idempotency key per alert, whatever was repeated ({} posts)",
        received.len()
    );

    // One ticket per incident; a note may repeat after a kill, never go missing.
    let tickets = sandbox.psa("connectwise", "tickets");
    let tickets = tickets.as_array().unwrap();
    for incident in rw.run(&["incidents", "--json"]).json_lines() {
        let key = incident["key"].as_str().unwrap();
        let opened: Vec<&Value> = tickets
            .iter()
            .filter(|t| t["summary"].as_str().unwrap().contains(key))
            .collect();
        assert_eq!(opened.len(), 1, "incident {key}: {opened:?}");
        let later = incident["alerts"].as_array().unwrap().len() - 1;
        assert!(
            opened[0]["notes"].as_array().unwrap().len() >= later,
            "incident {key}: {} notes for {later} later alerts",
            opened[0]["notes"].as_array().unwrap().len()
        );
    }
    assert_eq!(
        tickets.len(),
        rw.run(&["incidents", "--json"]).json_lines().len()
    );
}
