//! Team mode: workstations (data folders of their own) join one PostgreSQL database
//! over TLS with the server's certificate checked, keep its password in the keychain,
//! and share alerts and who holds them. The server is the throwaway cluster
//! scripts/test-postgres.sh starts (RULEWATCH_TEST_POSTGRES), which takes TCP
//! connections over TLS only, with a certificate for "localhost" from its own CA.

use serde_json::json;

use m365_sandbox::testkit::{CLUSTER_PASSWORD, TestCluster};

use crate::harness::*;
use crate::keychain::{files_containing, keychain_lookup};

const PASSWORD: &str = CLUSTER_PASSWORD;

fn server() -> TestCluster {
    TestCluster::from_env()
}

/// `n` workstations (data folders of their own) joined to database `db` with the
/// server's certificate checked.
fn workstations(server: &TestCluster, db: &str, sandbox: &Sandbox, n: usize) -> Vec<Rulewatch> {
    let url = server.url(db);
    (0..n)
        .map(|_| {
            let rw = Rulewatch::new(sandbox);
            let joined = rw.run_with_stdin(&["team", "join", &url, "--password-stdin"], PASSWORD);
            assert_eq!(joined.code, 0, "{}", joined.stderr);
            rw
        })
        .collect()
}

/// Whether `team status --json` shows a finished scan for every tenant.
fn every_tenant_scanned(status: &serde_json::Value) -> bool {
    status["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["last_success_at"].is_string())
}

#[test]
fn workstations_join_over_checked_tls_and_share_alerts_and_who_holds_them() {
    let server = server();
    let db = server.database("join");
    let (scenario, tenants, expected) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let desk = Rulewatch::new(&sandbox);
    let join = |rw: &Rulewatch, url: &str, password: &str| {
        rw.run_with_stdin(&["team", "join", url, "--password-stdin"], password)
    };

    // The server's certificate comes from the team's own CA: without it, no join, and
    // the technician is told what to give.
    let url = format!("postgres://rulewatch@localhost:{}/{db}", server.port);
    let refused = join(&desk, &url, PASSWORD);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("UnknownIssuer") && refused.stderr.contains("sslrootcert="),
        "{}",
        refused.stderr
    );
    // With the CA, but connecting by an address the certificate does not name.
    let by_address = format!(
        "postgres://rulewatch@127.0.0.1:{}/{db}?sslrootcert={}",
        server.port,
        server.ca()
    );
    let refused = join(&desk, &by_address, PASSWORD);
    assert!(
        refused.code != 0 && refused.stderr.contains("not valid for name"),
        "{}",
        refused.stderr
    );
    let verified = format!("{url}?sslrootcert={}", server.ca());
    let refused = join(&desk, &verified, "not the password");
    assert!(
        refused.code != 0 && refused.stderr.contains("password authentication failed"),
        "{}",
        refused.stderr
    );
    assert!(
        !desk.data_dir().join("team.json").exists(),
        "a failed join records nothing"
    );
    // Unencrypted is refused before anything is tried, for any server not on this machine.
    let refused = join(
        &desk,
        "postgres://rulewatch@db.msp.example/rw?sslmode=disable",
        PASSWORD,
    );
    assert!(refused.stderr.contains("unencrypted"), "{}", refused.stderr);

    let joined = join(&desk, &verified, PASSWORD);
    assert_eq!(joined.code, 0, "{}", joined.stderr);
    assert!(
        joined.stderr.contains("checked against its name"),
        "{}",
        joined.stderr
    );
    let membership: serde_json::Value =
        serde_json::from_slice(&std::fs::read(desk.data_dir().join("team.json")).unwrap()).unwrap();
    let workstation = membership["workstation"].as_str().unwrap();
    assert_eq!(
        keychain_lookup(&format!("team/{workstation}/database-password")).as_deref(),
        Some(PASSWORD)
    );
    assert!(
        files_containing(desk.data_dir(), PASSWORD.as_bytes()).is_empty(),
        "the password is in the keychain only"
    );

    // The desk's workstation scans; the alerts are stored in the team's database.
    for t in &tenants {
        desk.add_tenant(t);
    }
    assert_exactly(&desk.scan().json_lines(), &expected);

    // A colleague's workstation, another data folder, joins by address with verify-ca.
    let colleague = Rulewatch::new(&sandbox);
    let by_address_ca = format!("{by_address}&sslmode=verify-ca");
    let joined = join(&colleague, &by_address_ca, PASSWORD);
    assert_eq!(joined.code, 0, "{}", joined.stderr);
    let theirs = colleague.alerts();
    assert_eq!(theirs.len(), desk.alerts().len());
    assert!(!theirs.is_empty());
    let id = theirs[0]["id"].clone();
    let took = Run::from(
        colleague
            .command(&["alerts", "take", &id.to_string()])
            .env("RULEWATCH_TECHNICIAN", "Sam at home")
            .output()
            .unwrap(),
    );
    assert_eq!(took.code, 0, "{}", took.stderr);
    let seen = desk.alerts();
    let taken = seen.iter().find(|a| a["id"] == id).unwrap();
    assert_eq!(
        taken["assignee"], "Sam at home",
        "the desk sees who holds it"
    );

    let status = colleague.run(&["team", "status", "--json"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let status = status.json();
    assert_eq!(status["sslmode"], "verify-ca");
    assert_eq!(
        status["tenants"].as_array().unwrap().len(),
        tenants.len(),
        "the tenants the desk added"
    );
    assert!(every_tenant_scanned(&status), "{status}");

    // Leaving returns the colleague to their own (empty) file and forgets the password.
    let left = colleague.run(&["team", "leave"]);
    assert_eq!(left.code, 0, "{}", left.stderr);
    assert!(colleague.alerts().is_empty());
    let theirs: serde_json::Value = status["workstation"].clone();
    assert_eq!(
        keychain_lookup(&format!(
            "team/{}/database-password",
            theirs.as_str().unwrap()
        )),
        None
    );
    assert_eq!(desk.alerts().len(), seen.len(), "the team's alerts stay");

    // A veteran's folder found the same alerts on its own before the team existed:
    // migrating it copies its own alert and duplicates nothing.
    let veteran = Rulewatch::with_tenants(&sandbox, &tenants);
    assert_exactly(&veteran.scan().json_lines(), &expected);
    let mine = veteran.run(&["alerts", "--json"]).json_lines();
    let note = veteran.run(&[
        "alerts",
        "note",
        &mine[0]["id"].to_string(),
        "seen on my own",
    ]);
    assert_eq!(note.code, 0, "{}", note.stderr);
    let joined = join(&veteran, &verified, PASSWORD);
    assert_eq!(joined.code, 0, "{}", joined.stderr);
    let migrated = veteran.run(&["team", "migrate"]);
    assert_eq!(migrated.code, 0, "{}", migrated.stderr);
    assert!(
        migrated.stderr.contains("0 tenant(s)") && migrated.stderr.contains("0 alert(s)"),
        "{}",
        migrated.stderr
    );
    assert_eq!(veteran.alerts().len(), seen.len());
}

/// Three workstations of one team scan 50 tenants at once: each tenant's feed is listed
/// by one of them at a time (the scan leases in the shared database), no blob is read
/// twice, and each planted threat is stored once.
#[test]
fn three_workstations_share_fifty_tenants_without_listing_one_twice_at_once() {
    let server = server();
    let db = server.database("three");
    // Slow answers keep scans in flight long enough for the workstations to meet.
    let (scenario, tenants, expected) = world(50, 5, json!({"slow": 0.5, "slow_ms": 100}));
    let sandbox = Sandbox::start(&scenario);
    let workstations = workstations(&server, &db, &sandbox, 3);
    // The tenants are the team's: added once, on the first workstation.
    for t in &tenants {
        workstations[0].add_tenant(t);
    }
    let running: Vec<_> = workstations
        .iter()
        .map(|rw| {
            rw.command(&["scan", "--json"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let runs: Vec<Run> = running
        .into_iter()
        .map(|child| Run::from(child.wait_with_output().unwrap()))
        .collect();
    for r in &runs {
        assert!(r.code == 0, "{}", r.stderr);
    }
    assert!(
        runs.iter().any(|r| r.stderr.contains("skipped")),
        "the workstations met on some tenant: {:?}",
        runs.iter().map(|r| &r.stderr).collect::<Vec<_>>()
    );
    let stats = sandbox.stats();
    assert_eq!(stats["listings_peak_in_flight_per_tenant"], 1, "{stats}");
    assert_eq!(stats["blob_reads_peak_per_blob"], 1, "{stats}");
    assert_exactly(&workstations[2].alerts(), &expected);
}

/// A workstation killed mid-scan (`kill -9`) leaves leases behind; a colleague's
/// workstation on the same machine sees the process is gone and takes its tenants over
/// at once (another machine's lease would end at its 2-minute expiry): every threat is
/// stored once, none lost.
#[test]
fn a_workstation_killed_mid_scan_hands_its_tenants_to_a_colleague() {
    let server = server();
    let db = server.database("killed");
    let (scenario, tenants, expected) = world(12, 40, json!({"slow": 1.0, "slow_ms": 150}));
    let sandbox = Sandbox::start(&scenario);
    let mut both = workstations(&server, &db, &sandbox, 2);
    let (survivor, doomed) = (both.pop().unwrap(), both.pop().unwrap());
    for t in &tenants {
        doomed.add_tenant(t);
    }
    let mut child = doomed
        .command(&["scan"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Until it holds leases, then a little into its scans.
    let leases = || {
        server
            .psql_in(&db, "SELECT count(*) FROM scan_leases")
            .parse::<u32>()
            .unwrap()
    };
    let started = std::time::Instant::now();
    while leases() == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no lease was taken"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(leases() > 0, "the killed scan left its leases");

    let scan = survivor.run(&["scan", "--json"]);
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    assert!(!scan.stderr.contains("skipped"), "{}", scan.stderr);
    assert_exactly(&survivor.alerts(), &expected);
    let status = survivor.run(&["team", "status", "--json"]).json();
    assert!(every_tenant_scanned(&status), "{status}");
}

/// Two technicians on two workstations confirm Secure and Remediate of one alert at the
/// same instant: one run acts, the other is told whose run is going on. Before that, the
/// colleague's workstation adopts the record's key through the CLI, and afterwards the
/// one chain verifies on both workstations and names who ran each step.
#[test]
fn two_workstations_remediating_one_alert_at_once_run_it_once() {
    use m365_sandbox::attacks::{self, ForwardKind};
    let server = server();
    let db = server.database("remediate");
    let t = m365_sandbox::testkit::TestTenant::new(0);
    let (adele, megan) = (t.users[0].clone(), t.users[1].clone());
    let planted = |record| json!({"tenant_id": t.tenant_id, "content_type": "Audit.Exchange", "release_after_s": -5, "record": record});
    let scenario = json!({
        "tenants": [t.scenario_json()],
        "records": [
            planted(attacks::new_inbox_rule_forward(&t.ctx(0, 0), "Sync", &[&t.drop_box("a")], ForwardKind::ForwardTo)),
            planted(attacks::new_inbox_rule_forward(&t.ctx(1, 1), "Sync", &[&t.drop_box("m")], ForwardKind::ForwardTo)),
        ],
        // Each answer held back, so the winner's run is still going when the other asks.
        "faults": {"slow": 1.0, "slow_ms": 150},
    });
    let sandbox = Sandbox::start(&scenario);
    let mut both = workstations(&server, &db, &sandbox, 2);
    let (colleague, desk) = (both.pop().unwrap(), both.pop().unwrap());
    desk.add_tenant(&t);
    assert_eq!(desk.scan().code, 0);
    let alerts = desk.alerts();
    let about = |who: &str| {
        alerts
            .iter()
            .find(|a| a["target"] == who)
            .unwrap_or_else(|| panic!("no alert about {who}"))["id"]
            .to_string()
    };
    let remediate = |rw: &Rulewatch, who: &str, id: &str| {
        let mut c = rw.command(&["remediate", id]);
        c.env("RULEWATCH_TECHNICIAN", who);
        c
    };
    // The desk's first step makes the record's key.
    let first = Run::with_stdin(remediate(&desk, "Dana", &about(&adele)), "y\n");
    assert_eq!(first.code, 0, "{}", first.stderr);
    let without = colleague.run(&["audit", "verify"]);
    assert!(
        without.code != 0 && without.stderr.contains("team record-key --adopt"),
        "{}",
        without.stderr
    );
    let key = desk.run(&["team", "record-key"]);
    assert_eq!(key.code, 0, "{}", key.stderr);
    let adopted = colleague.run_with_stdin(&["team", "record-key", "--adopt"], &key.stdout);
    assert_eq!(adopted.code, 0, "{}", adopted.stderr);

    let id = about(&megan);
    let spawn = |rw: &Rulewatch, who: &str| {
        let mut c = remediate(rw, who, &id);
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let mut runs = [spawn(&desk, "Dana"), spawn(&colleague, "Sam")];
    for child in &mut runs {
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    }
    let [dana, sam] = runs.map(|c| Run::from(c.wait_with_output().unwrap()));
    let (won, lost, loser, winner) = match (dana.code, sam.code) {
        (0, 1) => (&dana, &sam, "Sam", "Dana"),
        (1, 0) => (&sam, &dana, "Dana", "Sam"),
        codes => panic!(
            "one run, one refusal, not {codes:?}:\n{}\n{}",
            dana.stderr, sam.stderr
        ),
    };
    assert!(
        lost.stderr
            .contains(&format!("is running already, started by {winner}")),
        "{loser}: {}",
        lost.stderr
    );
    assert!(
        won.stderr.contains("done") || won.stdout.contains("done"),
        "{}",
        won.stderr
    );
    assert_eq!(sandbox.user(&t.tenant_id, &megan)["account_enabled"], false);

    for rw in [&desk, &colleague] {
        let verified = rw.run(&["audit", "verify", "--json"]);
        assert_eq!(verified.code, 0, "{}", verified.stderr);
        assert_eq!(verified.json()["intact"], true);
    }
    let rows = colleague.run(&["audit", "--json"]).json_lines();
    let by: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["os_user"].as_str().unwrap())
        .collect();
    assert_eq!(by, [winner, "Dana"].into_iter().collect(), "{rows:#?}");
}
