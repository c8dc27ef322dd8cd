//! Notifications through the real daemon when many alerts arrive at once: one summary
//! counted by severity, not a notification each.

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
