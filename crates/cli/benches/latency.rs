//! The latency of one alert: from its blob becoming listable to its notification shown,
//! Rulewatch's own share. Each tenant's feed holds a day of noise at a 50 ms round trip
//! (plus up to 10 ms of jitter) under Microsoft's per-tenant quota, and one attack per
//! tenant per round, listable at the round's start. The first `rulewatch scan` is the
//! first-run backfill and is not counted; then each round waits until its attacks are
//! listable and runs `rulewatch scan --json` at once, as a poll falling just after the
//! blobs appear: what is left is ours (listing, download, judging, commit, delivery),
//! whatever the poll interval adds before it. Each alert printed on stdout counts as its
//! notification shown, the moment the bench reads its line (the desktop notifies from the
//! same per-tenant hand-over, `Session::scan_delivering`).
//!
//! Reported over every planted attack, p50 and p99 of:
//! - from the scan's start to the alert shown, which includes waiting for the tenants
//!   scanned before its own;
//! - the tenant's own share: its scan (listing to commit, the summary's time) plus commit
//!   to shown;
//!
//! each also in round trips, the floor a tenant's scan cannot go under.
//!
//! `scripts/with-keyring.sh cargo bench -p rulewatch-cli --bench latency` measures 200
//! tenants × 5 rounds (`-- --tenants N`); `cargo test --all-targets` runs it once on 4 × 1,
//! checking that every planted attack was shown once.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use m365_sandbox::attacks;
use m365_sandbox::testkit::{TestTenant, get_json, start_on};
use serde_json::{Value, json};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let measuring = args.iter().any(|a| a == "--bench");
    let count = common::tenant_count(&args, 200, 4);
    let rounds: usize = if measuring { 5 } else { 1 };
    // Long enough for the backfill and each round's scan to finish before the next
    // round's attacks appear.
    let round_s: i64 = if measuring { 30 } else { 4 };
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let tenants: Vec<TestTenant> = (0..count).map(TestTenant::new).collect();
    let records: Vec<Value> = (1..=rounds)
        .flat_map(|round| {
            tenants.iter().map(move |t| {
                json!({
                    "tenant_id": t.tenant_id, "content_type": "Audit.Exchange",
                    "release_after_s": round as i64 * round_s,
                    "record": attacks::new_inbox_rule_delete_all(&t.ctx(round % t.users.len(), round % t.users.len()), "."),
                })
            })
        })
        .collect();
    let scenario = common::real_world(&tenants, records, 16);
    let began = Instant::now();
    let sandbox = start_on(&rt, &scenario);
    let base = sandbox.base_url().to_string();
    let data = tempfile::tempdir().expect("a folder");
    common::add_tenants(data.path(), &tenants);
    let backfill = scan(data.path(), &base);
    assert!(
        backfill.shown.is_empty(),
        "the backfill finds no attack: they appear with the rounds"
    );

    let rtt = common::mean_rtt();
    let mut from_start = Vec::new();
    let mut own = Vec::new();
    for round in 1..=rounds {
        // The sandbox's clock started with it; a second's margin for its listing's
        // rounding of times.
        let listable = Duration::from_secs((round as i64 * round_s) as u64 + 1);
        if let Some(wait) = listable.checked_sub(began.elapsed()) {
            std::thread::sleep(wait);
        }
        let run = scan(data.path(), &base);
        assert_eq!(
            run.shown.len(),
            count,
            "round {round}: every tenant's attack is shown once"
        );
        for alert in &run.shown {
            from_start.push(alert.at.duration_since(run.started).unwrap_or_default());
            let took = run
                .took
                .get(&alert.tenant_name)
                .expect("a summary line for each tenant with an alert");
            let commit_to_shown = DateTime::<Utc>::from(alert.at) - alert.detected_at;
            own.push(*took + commit_to_shown.to_std().unwrap_or_default());
        }
    }
    let seconds = |d: &Duration| d.as_secs_f64();
    for (what, mut times) in [
        ("from the scan's start to shown", from_start),
        (
            "the tenant's own share (its scan, then commit to shown)",
            own,
        ),
    ] {
        times.sort();
        let p = |q: f64| seconds(&times[((times.len() as f64 - 1.0) * q).round() as usize]);
        println!(
            "{count} tenants × {rounds} rounds, {what}: p50 {:.2} s ({:.0} round trips), p99 {:.2} s ({:.0} round trips), over {} alerts",
            p(0.5),
            p(0.5) / rtt,
            p(0.99),
            p(0.99) / rtt,
            times.len()
        );
    }
    let stats = get_json(&rt, &format!("{base}/_sandbox/stats"));
    println!("throttled by the quota: {}", stats["faults"]["over_quota"]);
    rt.block_on(sandbox.shutdown());
}

/// An alert as `rulewatch scan --json` printed it, and when the bench read its line.
struct Shown {
    tenant_name: String,
    detected_at: DateTime<Utc>,
    at: SystemTime,
}

struct Run {
    started: SystemTime,
    shown: Vec<Shown>,
    /// Each tenant's own scan time, from its summary line, by tenant name.
    took: HashMap<String, Duration>,
}

/// One `rulewatch scan --json`, each stdout line timed as it arrives.
fn scan(data: &Path, base: &str) -> Run {
    let log = data.join("scan.log");
    let started = SystemTime::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rulewatch"))
        .args(["scan", "--json"])
        .env("RULEWATCH_DATA_DIR", data)
        .env("RULEWATCH_ENDPOINTS", base)
        .env_remove("RULEWATCH_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // A file, not a pipe: many tenants' summary lines would fill a pipe no one reads
        // until the end.
        .stderr(std::fs::File::create(&log).expect("a log file"))
        .spawn()
        .expect("rulewatch starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut shown = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let at = SystemTime::now();
        let line = line.expect("stdout reads");
        let alert: Value = serde_json::from_str(&line).expect("one alert per line");
        shown.push(Shown {
            tenant_name: alert["tenant_name"].as_str().expect("a tenant name").into(),
            detected_at: alert["detected_at"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .expect("a detection time"),
            at,
        });
    }
    let status = child.wait().expect("rulewatch runs");
    let summary = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "rulewatch scan failed: {summary}");
    let took = summary
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(": scanned ")?;
            let secs: f64 = rest
                .split_once(" new alerts in ")?
                .1
                .split(' ')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_string(), Duration::from_secs_f64(secs)))
        })
        .collect();
    Run {
        started,
        shown,
        took,
    }
}
