//! Team mode on the throwaway PostgreSQL cluster (RULEWATCH_TEST_POSTGRES, started by
//! scripts/test.sh) and the sandbox, with every request held back 50 ms as a network
//! would: the time for one workstation to scan N tenants against three workstations
//! sharing the scan leases (the baseline is the single workstation, in the same run);
//! how soon a change committed on one workstation moves another's store version, which
//! the panel polls every second (the floor: the commit's own round trip); and the
//! PostgreSQL connections each workstation holds.
//!
//! `scripts/with-keyring.sh cargo bench -p rulewatch-cli --bench team` (with
//! RULEWATCH_TEST_POSTGRES set) measures 200 tenants; `cargo test --all-targets` runs it
//! once on 6, checking that every tenant was scanned once by the team.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use m365_sandbox::testkit::{CLUSTER_PASSWORD, TestCluster, TestTenant, one_attack_each, start_on};
use rulewatch_core::app::{Config, Session, Var};
use serde_json::json;

const PASSWORD: &str = CLUSTER_PASSWORD;

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let count = if measuring { 200 } else { 6 };
    let server = TestCluster::from_env();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");

    let alone = team_scan(&rt, &server, count, 1, "alone");
    let shared = team_scan(&rt, &server, count, 3, "shared");
    println!(
        "{count} tenants, 50 ms a request: one workstation {:.2} s, three sharing leases {:.2} s (ratio {:.2})",
        alone.elapsed.as_secs_f64(),
        shared.elapsed.as_secs_f64(),
        shared.elapsed.as_secs_f64() / alone.elapsed.as_secs_f64()
    );

    // Two sessions as two panels would hold them: one takes and releases an alert, the
    // other watches its store version move.
    let open = |data: &Path| {
        Session::open(
            Config::read(|var| match var {
                Var::DataDir => Some(OsString::from(data)),
                _ => None,
            })
            .expect("a configuration"),
        )
        .expect("the team's store opens")
    };
    let desk = open(shared.folders[0].path());
    let panel = open(shared.folders[1].path());
    let connections = server.psql(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rulewatch' AND datname = '{}'",
            shared.database
        ));
    println!("PostgreSQL connections held by two open sessions: {connections}");
    let id = rt.block_on(desk.alerts()).expect("alerts")[0].id;
    let rounds = if measuring { 20 } else { 3 };
    let (mut seen, mut commits) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let before = rt.block_on(panel.store_version()).expect("a version");
        let start = Instant::now();
        if round % 2 == 0 {
            rt.block_on(desk.take_alert(id, true)).expect("taken");
        } else {
            rt.block_on(desk.release_alert(id, true)).expect("released");
        }
        commits.push(start.elapsed());
        while rt.block_on(panel.store_version()).expect("a version") == before {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the change was never announced"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        seen.push(start.elapsed());
    }
    seen.sort();
    commits.sort();
    let median = |v: &[Duration]| v[v.len() / 2].as_secs_f64() * 1000.0;
    println!(
        "a colleague's change moves this store's version after {:.1} ms (median of {rounds}; max {:.1} ms); \
         the commit itself takes {:.1} ms (ratio {:.1}); the panel polls the version every 1000 ms",
        median(&seen),
        seen.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        median(&commits),
        median(&seen) / median(&commits)
    );
}

struct Scanned {
    elapsed: Duration,
    folders: Vec<tempfile::TempDir>,
    database: String,
}

/// A fresh sandbox and team database; `workstations` join, the first adds the tenants,
/// then all scan at once. Answers how long the scans took.
fn team_scan(
    rt: &tokio::runtime::Runtime,
    server: &TestCluster,
    count: usize,
    workstations: usize,
    name: &str,
) -> Scanned {
    let tenants: Vec<TestTenant> = (0..count).map(TestTenant::new).collect();
    let scenario = json!({
        "tenants": tenants.iter().map(TestTenant::scenario_json).collect::<Vec<_>>(),
        "records": one_attack_each(&tenants, -5),
        "noise": {"records_per_tenant": 20, "seed": 5},
        "faults": {"slow": 1.0, "slow_ms": 50},
    });
    let sandbox = start_on(rt, &scenario);
    let base = sandbox.base_url().to_string();
    let database = server.database(&format!("bench_{name}"));
    let url = server.url(&database);
    let folders: Vec<tempfile::TempDir> = (0..workstations)
        .map(|_| tempfile::tempdir().expect("a folder"))
        .collect();
    let command = |data: &Path, args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rulewatch"));
        c.args(args)
            .env("RULEWATCH_DATA_DIR", data)
            .env("RULEWATCH_ENDPOINTS", &base)
            .env_remove("RULEWATCH_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let with_stdin = |data: &Path, args: &[&str], stdin: &str| -> Output {
        let mut child = command(data, args).spawn().expect("rulewatch starts");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), stdin.as_bytes())
            .expect("stdin is written");
        let out = child.wait_with_output().expect("rulewatch ends");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    for f in &folders {
        with_stdin(
            f.path(),
            &["team", "join", &url, "--password-stdin"],
            PASSWORD,
        );
    }
    for t in &tenants {
        with_stdin(folders[0].path(), &t.add_args(), &t.secret);
    }
    let start = Instant::now();
    let running: Vec<_> = folders
        .iter()
        .map(|f| {
            let mut c = command(f.path(), &["scan"]);
            c.stdin(Stdio::null());
            c.spawn().expect("rulewatch starts")
        })
        .collect();
    for child in running {
        let out = child.wait_with_output().expect("rulewatch ends");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let elapsed = start.elapsed();
    let never = server.psql_in(
        &database,
        "SELECT count(*) FROM tenant_status WHERE last_success_at IS NULL",
    );
    assert_eq!(never.trim(), "0", "every tenant was scanned");
    drop(sandbox);
    Scanned {
        elapsed,
        folders,
        database,
    }
}
