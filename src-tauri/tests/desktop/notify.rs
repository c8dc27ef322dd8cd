//! Notifications through the real daemon: many alerts at once are one summary counted
//! by severity, not a notification each; alerts of one incident share one notification.

use std::process::Command;
use std::time::Duration;

use m365_sandbox::attacks::{self, ForwardKind};
use serde_json::{Value, json};

use crate::common::{Desktop, Named, Tenant, history, wait_until};

fn planted(t: &Tenant, record: Value) -> Value {
    json!({"tenant_id": t.tenant_id, "content_type": "Audit.Exchange", "release_after_s": -5, "record": record})
}

#[test]
fn more_than_three_alerts_at_once_are_one_summary_notification() {
    let t = Tenant::new(0);
    let forward = |user: &str, rule: &str| {
        attacks::new_inbox_rule_forward(
            &t.own(user),
            rule,
            &[&t.drop_box(rule)],
            ForwardKind::ForwardTo,
        )
    };
    let scenario = json!({
        "tenants": [t.scenario("Contoso")],
        "records": [
            planted(&t, attacks::new_inbox_rule_delete_all(&t.own("adele"), "Clean")),
            planted(&t, forward("megan", "sync")),
            planted(&t, forward("lidia", "backup")),
            planted(&t, forward("admin", "archive")),
        ],
        "noise": {"records_per_tenant": 20, "seed": 11},
    });
    let app = Desktop::start(scenario, &[(&t, "Contoso")]);
    // dunst keeps earlier tests' notifications in its history: only later ones count.
    // (Alerts this critical never expire, so none of this app's is in the history yet.)
    let earlier = history().iter().map(|(id, _)| *id).max().unwrap_or(-1);
    // The panel opens on the overview.
    app.click("#nav-alerts");
    app.wait_for("[data-testid=alert-row]", Duration::from_secs(40));
    wait_until("all four alerts", Duration::from_secs(20), || {
        app.count("[data-testid=alert-row]") == 4
    });

    let mut shown = Vec::new();
    wait_until("the summary notification", Duration::from_secs(20), || {
        // Closed notifications move to the history, where they can be read.
        let _ = Command::new("dunstctl").arg("close-all").status();
        shown = history()
            .into_iter()
            .filter(|(id, _)| *id > earlier)
            .map(|(_, n)| n)
            .collect();
        !shown.is_empty()
    });
    let titles: Vec<&str> = shown.iter().map(|(title, _)| title.as_str()).collect();
    assert_eq!(titles.len(), 1, "one summary, not one each: {titles:?}");
    assert!(titles[0].starts_with("4 new alerts: "), "{titles:?}");
    assert!(
        shown[0].1.contains("Contoso") && shown[0].1.contains("Open Rulewatch"),
        "{:?}",
        shown[0]
    );
}

#[test]
fn a_later_alert_of_an_incident_replaces_its_notification() {
    let t = Tenant::new(0);
    let scenario = json!({
        "tenants": [t.scenario("Contoso")],
        "records": [
            planted(&t, attacks::new_inbox_rule_delete_all(&t.own("adele"), "Clean")),
            planted(&t, attacks::new_inbox_rule_forward(
                &t.own("adele"), "Sync", &[&t.drop_box("sync")], ForwardKind::ForwardTo,
            )),
        ],
    });
    let app = Desktop::start(scenario, &[(&t, "Contoso")]);
    let earlier = history().iter().map(|(id, _)| *id).max().unwrap_or(-1);
    // The panel opens on the overview.
    app.click("#nav-alerts");
    app.wait_for("[data-testid=alert-row]", Duration::from_secs(40));
    wait_until("both alerts", Duration::from_secs(20), || {
        app.count("[data-testid=alert-row]") == 2
    });
    let mut shown = Vec::new();
    wait_until(
        "the incident's notification",
        Duration::from_secs(20),
        || {
            let _ = Command::new("dunstctl").arg("close-all").status();
            shown = history()
                .into_iter()
                .filter(|(id, _)| *id > earlier)
                .map(|(_, n)| n)
                .collect();
            shown
                .iter()
                .any(|(title, _)| title.ends_with("(2 alerts in this incident)"))
        },
    );
    let titles: Vec<&str> = shown.iter().map(|(title, _)| title.as_str()).collect();
    assert_eq!(
        titles.len(),
        1,
        "one notification for the incident: {titles:?}"
    );
    assert!(
        titles[0].ends_with("— Contoso (2 alerts in this incident)"),
        "{titles:?}"
    );
}
