//! A cycle over many tenants at a real round trip: the sandbox holds every answer back
//! 50 ms (plus up to 10 ms of jitter) and enforces Microsoft's per-tenant quota of 2,000
//! Management API requests a minute (A8), each tenant's feed holds a day of audit
//! content, nearly all of it noise, and one planted attack. `rulewatch scan` (the release
//! or debug binary cargo built) runs twice on one data folder: the first run is the
//! first-run backfill, the second a steady cycle. Each is reported with its wall time,
//! the floor (requests × mean round trip ÷ the most tenants scanned at once) and their ratio, the
//! process's peak RSS, requests per tenant, and the percentiles of each tenant's own scan
//! time (what Rulewatch adds to an attack's wait beyond the poll interval).
//!
//! `scripts/with-keyring.sh cargo bench -p rulewatch-cli --bench scale` measures 1,000
//! tenants (`-- --tenants N` for another count); `cargo test --all-targets` runs it once
//! on 12, checking that each planted attack was stored once.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use m365_sandbox::testkit::{TestTenant, get_json, one_attack_each, start_on};
use rulewatch_core::store::Store;
use serde_json::Value;

/// The most tenants the engine scans at once (EngineConfig::new's ceiling).
const CEILING: usize = 32;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count = common::tenant_count(&args, 1000, 12);
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let tenants: Vec<TestTenant> = (0..count).map(TestTenant::new).collect();
    let scenario = common::real_world(&tenants, one_attack_each(&tenants, -3600), 15);
    let sandbox = start_on(&rt, &scenario);
    let base = sandbox.base_url().to_string();
    let data = tempfile::tempdir().expect("a folder");
    common::add_tenants(data.path(), &tenants);
    let stats = || get_json(&rt, &format!("{base}/_sandbox/stats"));
    let mut before = requests(&stats());
    for cycle in ["first-run backfill", "steady cycle"] {
        let run = scan(data.path(), &base);
        let after = requests(&stats());
        let made = after - before;
        before = after;
        let mean_rtt = common::mean_rtt();
        let at_once = CEILING.min(count);
        let floor = made as f64 * mean_rtt / at_once as f64;
        println!(
            "{count} tenants, {cycle}: {:.2} s against a floor of {floor:.2} s ({made} requests × {:.0} ms ÷ {at_once} at once), ratio {:.2}; peak RSS {} MB; {:.1} requests per tenant",
            run.elapsed.as_secs_f64(),
            mean_rtt * 1000.0,
            run.elapsed.as_secs_f64() / floor,
            run.peak_rss_kb / 1024,
            made as f64 / count as f64,
        );
        println!(
            "  each tenant's own scan (listing, download, judging, commit): p50 {:.2} s, p99 {:.2} s, over {} tenants",
            run.percentile(0.5),
            run.percentile(0.99),
            run.tenant_seconds.len()
        );
    }
    let s = stats();
    println!(
        "throttled by the quota: {}; most listings of one tenant at once: {}",
        s["faults"]["over_quota"], s["listings_peak_in_flight_per_tenant"]
    );
    let store = Store::open(data.path()).expect("the store opens");
    let alerts = store.alerts().expect("alerts");
    assert_eq!(alerts.len(), count, "each planted attack stored once");
    rt.block_on(sandbox.shutdown());
}

/// Every request the sandbox counted.
fn requests(stats: &Value) -> u64 {
    stats["requests"]
        .as_object()
        .expect("request counts")
        .values()
        .filter_map(Value::as_u64)
        .sum()
}

struct Run {
    elapsed: Duration,
    peak_rss_kb: u64,
    /// Each tenant's own scan time, from its summary line, sorted.
    tenant_seconds: Vec<f64>,
}

impl Run {
    /// The `p`th percentile of the tenants' own scan times.
    fn percentile(&self, p: f64) -> f64 {
        let i = ((self.tenant_seconds.len() as f64 - 1.0) * p).round() as usize;
        self.tenant_seconds.get(i).copied().unwrap_or(0.0)
    }
}

/// One `rulewatch scan`, its peak RSS read from /proc while it runs (VmHWM only grows).
fn scan(data: &Path, base: &str) -> Run {
    let log = data.join("scan.log");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rulewatch"))
        .arg("scan")
        .env("RULEWATCH_DATA_DIR", data)
        .env("RULEWATCH_ENDPOINTS", base)
        .env_remove("RULEWATCH_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // A file, not a pipe: a thousand tenants' summary lines would fill a pipe no one
        // reads until the end.
        .stderr(std::fs::File::create(&log).expect("a log file"))
        .spawn()
        .expect("rulewatch starts");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_rss_kb = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("rulewatch runs") {
            break status;
        }
        if let Some(kb) = std::fs::read_to_string(&status_file).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        }) {
            peak_rss_kb = kb;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = start.elapsed();
    let summary = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "rulewatch scan failed: {summary}");
    let mut tenant_seconds: Vec<f64> = summary
        .lines()
        .filter_map(|l| {
            l.split_once(" new alerts in ")?
                .1
                .strip_suffix(" s")?
                .parse()
                .ok()
        })
        .collect();
    tenant_seconds.sort_by(f64::total_cmp);
    Run {
        elapsed,
        peak_rss_kb,
        tenant_seconds,
    }
}
