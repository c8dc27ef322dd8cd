//! `rulewatch watch`: scans at once, prints each alert from its own queue, stops on
//! SIGTERM with exit 0, and a restart repeats nothing but picks up what arrived while it
//! was stopped, delivering it to the channels; `rulewatch scan` on the same data folder
//! still prints every alert.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

/// Starts `watch --json` and waits until each of `tenants` is scanned (its summary on
/// stderr) and `want` alerts are printed (a minute at most), then a little more for any
/// extra line, then stops it with SIGTERM; answers the alerts and the watcher's stderr.
fn watch_until(rw: &Rulewatch, tenants: &[TestTenant], want: usize) -> (Vec<Value>, String) {
    let mut child = rw
        .command(&["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    for (out, stream) in [
        (
            true,
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        ),
        (false, Box::new(child.stderr.take().unwrap())),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send((out, line)).is_err() {
                    return;
                }
            }
        });
    }
    // The readers hold the only senders: the channel ends when both streams do.
    drop(tx);
    let (mut alerts, mut stderr) = (Vec::new(), String::new());
    let scanned = |stderr: &str| {
        tenants
            .iter()
            .all(|t| stderr.contains(&format!("{}: scanned", t.name)))
    };
    while !(scanned(&stderr) && alerts.len() >= want) {
        let got = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the watcher scanned and printed its alerts");
        take(&mut alerts, &mut stderr, got);
    }
    // Anything more than wanted would show here before the stop.
    std::thread::sleep(Duration::from_millis(500));
    for got in rx.try_iter() {
        take(&mut alerts, &mut stderr, got);
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "a SIGTERM is a clean stop: {status:?}");
    while let Ok(got) = rx.recv_timeout(Duration::from_secs(5)) {
        take(&mut alerts, &mut stderr, got);
    }
    (alerts, stderr)
}

/// One line from the watcher: an alert from stdout, or a line of stderr.
fn take(alerts: &mut Vec<Value>, stderr: &mut String, (out, line): (bool, String)) {
    if out {
        alerts.push(serde_json::from_str::<Value>(&line).unwrap());
    } else {
        stderr.push_str(&line);
        stderr.push('\n');
    }
}

#[test]
fn the_watcher_prints_from_its_own_queue_and_stops_cleanly_on_sigterm() {
    let (scenario, tenants, expected) = world(2, 30, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let (alerts, stderr) = watch_until(&rw, &tenants, expected.len());
    assert_exactly(&alerts, &expected);
    assert!(
        stderr.contains("stopped; the next start resumes"),
        "{stderr}"
    );

    // A restart scans again and repeats nothing.
    let (again, _) = watch_until(&rw, &tenants, 0);
    assert!(again.is_empty(), "{again:?}");
    // The watcher took nothing from `rulewatch scan`'s queue.
    assert_exactly(&rw.scan().json_lines(), &expected);
    let refused = rw.run(&["watch", "--every", "0"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("out of range"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_tenant_another_process_is_scanning_is_left_to_it_until_its_lease_ends() {
    let (scenario, tenants, expected) = world(2, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let db = rusqlite::Connection::open(rw.dir.path().join("rulewatch.db")).unwrap();
    let lease = |expires: chrono::DateTime<chrono::Utc>| {
        db.execute(
            "INSERT INTO scan_leases (tenant_id, holder, expires_at) VALUES (?1, 'another process', ?2)
             ON CONFLICT (tenant_id) DO UPDATE SET expires_at = excluded.expires_at",
            rusqlite::params![
                tenants[0].tenant_id,
                expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ],
        )
        .unwrap();
    };
    lease(chrono::Utc::now() + chrono::Duration::minutes(10));
    let first = rw.scan();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.contains(&format!(
            "{}: skipped, another Rulewatch on this data folder is scanning it",
            tenants[0].name
        )),
        "{}",
        first.stderr
    );
    let mine: Vec<Value> = first.json_lines();
    assert!(
        mine.iter()
            .all(|a| a["tenant_id"] == tenants[1].tenant_id.as_str()),
        "only the free tenant was scanned"
    );
    // The other process died: its lease ends, and the tenant is scanned.
    lease(chrono::Utc::now() - chrono::Duration::seconds(1));
    let second = rw.scan();
    let mut all = mine;
    all.extend(second.json_lines());
    assert_exactly(&all, &expected);
}

#[test]
fn attacks_arriving_while_the_watcher_is_stopped_reach_every_channel_once_after_its_restart() {
    let (mut scenario, tenants, expected) = world(2, 10, json!({}));
    // The second tenant's attacks become readable only after the first watcher stopped.
    let later = &tenants[1].tenant_id;
    for r in scenario["records"].as_array_mut().unwrap() {
        if r["tenant_id"] == later.as_str() {
            r["release_after_s"] = json!(20);
        }
    }
    let sandbox = Sandbox::start(&scenario);
    let released = std::time::Instant::now() + Duration::from_secs(21);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let hook = format!("{}/_sandbox/hooks/night", sandbox.url);
    let added = rw.add_webhook("night", &hook, "a secret long enough to sign with", &[]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    let first: Expected = expected
        .iter()
        .filter(|(t, _, _)| t != later)
        .cloned()
        .collect();

    let (before, _) = watch_until(&rw, &tenants, first.len());
    assert_exactly(&before, &first);
    std::thread::sleep(released.saturating_duration_since(std::time::Instant::now()));
    let (after, stderr) = watch_until(&rw, &tenants, expected.len() - first.len());
    let mut all = before;
    all.extend(after);
    assert_exactly(&all, &expected);
    assert!(stderr.contains("channel night: "), "{stderr}");

    // Every alert reached the webhook once, under its own key, across the restart.
    let received = sandbox.hook("night")["received"]
        .as_array()
        .unwrap()
        .clone();
    let keys: std::collections::BTreeSet<&str> = received
        .iter()
        .map(|r| r["delivery"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), received.len(), "nothing posted twice");
    assert_eq!(received.len(), expected.len());
}
