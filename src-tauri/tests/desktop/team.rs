//! Team mode in the panel: a colleague's desktop, on a computer of its own (its own
//! D-Bus session, keychain and data folder), joins the team from Settings, sees the
//! desk's alert and takes it, and the desk's open panel names the colleague by itself;
//! a workstation whose team database is down at launch says so, and connects once the
//! database is back. The database is the throwaway cluster scripts/test-postgres.sh
//! starts (RULEWATCH_TEST_POSTGRES), reached over TLS with its own CA.

use std::time::{Duration, Instant};

use m365_sandbox::testkit::{CLUSTER_PASSWORD, TestCluster};
use rulewatch_core::team::TEAM_FILE;
use serde_json::json;

use crate::common::{
    Desktop, Named, Tenant, free_port, megan_forwards_outside, notifications, wait_until,
};

const COLLEAGUE: &str = "Sam <b>on nights</b>";

/// A database of the test's own on the throwaway cluster, as a URL checked against the
/// cluster's CA.
fn team_database(name: &str) -> String {
    let cluster = TestCluster::from_env();
    cluster.url(&cluster.database(&format!("desktop_{name}")))
}

fn scenario(t: &Tenant) -> serde_json::Value {
    json!({
        "tenants": [t.scenario("Contoso")],
        "records": [megan_forwards_outside(t)],
    })
}

#[test]
fn a_colleague_joins_from_settings_takes_the_desk_s_alert_and_the_desk_s_panel_names_them() {
    let url = team_database("panels");
    let t = Tenant::new(0);
    let desk = Desktop::start_in(
        scenario(&t),
        &[(&t, "Contoso")],
        Some((&url, CLUSTER_PASSWORD)),
    );
    desk.click("#nav-alerts");
    desk.wait_for("[data-testid=alert-row]", Duration::from_secs(40));
    desk.open_row("megan");
    let holder = || desk.text("[data-testid=triage-holder]");
    wait_until("the review is read", Duration::from_secs(10), || {
        holder() == "Nobody holds this alert"
    });

    // The colleague's computer holds no tenant's credentials: it joins from Settings and
    // sees what the desk found.
    let colleague = Desktop::colleague(&desk, COLLEAGUE);
    colleague.click("#nav-settings");
    colleague.type_into("#team-url", &url);
    colleague.type_into("#team-password", CLUSTER_PASSWORD);
    colleague.click("#join-team");
    wait_until(
        "the colleague's panel shows the team",
        Duration::from_secs(30),
        || colleague.count("#team-database") == 1 && colleague.text("#team-database") == url,
    );
    assert_eq!(colleague.value("#team-password"), json!(""));
    assert!(
        colleague.data_dir().join(TEAM_FILE).is_file(),
        "the colleague's data folder records the team"
    );
    // Its keychain holds no tenant's credentials: its scans leave Contoso to the desk.
    wait_until(
        "the colleague's scan leaves the tenant to the desk",
        Duration::from_secs(30),
        || {
            colleague
                .text("#scan-state")
                .contains("1 tenant(s) left to colleagues")
        },
    );
    colleague.click("#nav-alerts");
    colleague.wait_for("[data-testid=alert-row]", Duration::from_secs(30));
    colleague.open_row("megan");
    colleague.click("[data-testid=triage-take]");
    let taken = Instant::now();
    wait_until(
        "the colleague holds the alert",
        Duration::from_secs(10),
        || colleague.text("[data-testid=triage-holder]") == "Held by you",
    );

    // The desk's open panel follows by itself: no click, no scan.
    wait_until(
        "the desk's open panel names the colleague",
        Duration::from_secs(10),
        || holder() == format!("Held by {COLLEAGUE}"),
    );
    eprintln!(
        "the desk's panel named the colleague {} ms after the take was clicked (polled every 200 ms)",
        taken.elapsed().as_millis()
    );
    assert_eq!(desk.text("[data-testid=row-assignee]"), COLLEAGUE);
    assert_eq!(
        desk.script("return document.querySelectorAll('[data-testid=row-assignee] b').length"),
        json!(0),
        "a colleague's name is text"
    );
}

#[test]
fn a_workstation_whose_team_database_is_down_at_launch_says_so_and_connects_when_it_is_back() {
    let url = team_database("down");
    let t = Tenant::new(0);
    let mut desk = Desktop::start_in(
        scenario(&t),
        &[(&t, "Contoso")],
        Some((&url, CLUSTER_PASSWORD)),
    );
    desk.click("#nav-alerts");
    desk.wait_for("[data-testid=alert-row]", Duration::from_secs(40));
    desk.stop();

    // The team's server is out of reach (a laptop off the office's network): nothing
    // listens where team.json points.
    let file = desk.data_dir().join(TEAM_FILE);
    let joined = std::fs::read_to_string(&file).unwrap();
    let port = url.split(':').nth(2).unwrap().split('/').next().unwrap();
    std::fs::write(
        &file,
        joined.replace(&format!(":{port}/"), &format!(":{}/", free_port())),
    )
    .unwrap();
    desk.launch();
    wait_until(
        "the panel says the team's database cannot be reached",
        Duration::from_secs(30),
        || desk.text("#scan-state").contains("cannot be reached"),
    );
    assert!(desk.text("#scan-state").contains("keeps trying"));
    wait_until(
        "a notification says nothing is watched",
        Duration::from_secs(10),
        || {
            notifications().iter().any(|(title, body)| {
                title == "Rulewatch is not watching" && body.contains("cannot be reached")
            })
        },
    );

    // The server is back: the app connects by itself and shows what the team holds.
    std::fs::write(&file, joined).unwrap();
    wait_until(
        "the app connects to the team's database again",
        Duration::from_secs(60),
        || !desk.text("#scan-state").contains("cannot be reached"),
    );
    desk.click("#nav-alerts");
    desk.wait_for("[data-testid=alert-row]", Duration::from_secs(20));
    assert_eq!(desk.count("[data-testid=alert-row]"), 1);
}
