//! Alerts in the real webview: an attack arrives by itself, is notified through the real
//! daemon, opened from the notification and reviewed as text; a tenant is added in the
//! panel, its secret goes to the keychain, and its connection test passes.

use std::process::Command;
use std::time::Duration;

use crate::common::{Desktop, Named, Tenant, action_listeners, history, notifications, wait_until};
use m365_sandbox::attacks::{self, ForwardKind};
use rulewatch_core::store::{IncidentStatus, Store};
use serde_json::{Value, json};

const HOSTILE: &str = "<img src=x onerror=\"document.title='pwned'\">";

fn planted(t: &Tenant, record: Value) -> Value {
    json!({"tenant_id": t.tenant_id, "content_type": "Audit.Exchange", "release_after_s": -5, "record": record})
}

#[test]
fn an_attack_arrives_is_notified_opened_from_the_notification_and_reviewed_as_text() {
    let t = Tenant::new(0);
    let scenario = json!({
        "tenants": [t.scenario("Contoso")],
        "records": [
            planted(&t, attacks::new_inbox_rule_delete_all(&t.own("adele"), HOSTILE)),
            planted(&t, attacks::new_inbox_rule_forward(&t.own("megan"), "Sync", &["drop@evil.example"], ForwardKind::ForwardTo)),
        ],
        "noise": {"records_per_tenant": 30, "seed": 5},
    });
    let app = Desktop::start(scenario, &[(&t, "Contoso")]);

    // The panel opens on the overview: the tenant's tile, and once the first background
    // scan has found both attacks without anyone touching anything, their incidents.
    app.wait_for("[data-testid=tenant-tile]", Duration::from_secs(20));
    assert!(app.text("[data-testid=tile-name]").contains("Contoso"));
    wait_until(
        "both incidents in the overview",
        Duration::from_secs(40),
        || {
            app.text("#incident-summary")
                .starts_with("2 incidents in the last 30 days: 2 critical")
        },
    );
    app.click("#nav-alerts");
    app.wait_for("[data-testid=alert-row]", Duration::from_secs(40));
    wait_until("both alerts in the list", Duration::from_secs(20), || {
        app.count("[data-testid=alert-row]") == 2
    });

    // Clicking a notification opens the panel on its alert.
    wait_until("notifications on screen", Duration::from_secs(20), || {
        Command::new("dunstctl")
            .arg("count")
            .arg("displayed")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() != "0")
    });
    // The app hears a click through a D-Bus match rule it adds just after showing each
    // notification; a click before that would be lost, so wait until the bus has both.
    wait_until(
        "the app to listen for clicks",
        Duration::from_secs(20),
        || action_listeners() >= 2,
    );
    app.click("#nav-settings");
    // Close one of the two so the click can only be the other's: the detail that opens
    // must be that other alert, not just any alert of the tenant.
    let displayed = || {
        let out = Command::new("dunstctl")
            .args(["count", "displayed"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    wait_until(
        "both notifications on screen",
        Duration::from_secs(20),
        || displayed() == "2",
    );
    let before: Vec<i64> = history().into_iter().map(|(id, _)| id).collect();
    assert!(
        Command::new("dunstctl")
            .arg("close")
            .status()
            .unwrap()
            .success()
    );
    let mut closed = None;
    wait_until("one notification closed", Duration::from_secs(10), || {
        closed = history().into_iter().find(|(id, _)| !before.contains(id));
        closed.is_some() && displayed() == "1"
    });
    let (_, (closed_title, _)) = closed.unwrap();
    assert!(
        Command::new("dunstctl")
            .args(["action", "0"])
            .status()
            .unwrap()
            .success()
    );
    app.wait_for("#alert-detail", Duration::from_secs(10));
    let rule = app.text("#alert-rule");
    let opened = rule.split(" (").next().unwrap().to_lowercase();
    let other = ["inbox rule hides mail", "inbox rule forwards mail outside"]
        .into_iter()
        .find(|words| !closed_title.contains(words))
        .unwrap();
    assert_eq!(
        opened, other,
        "closed '{closed_title}', clicked the other, opened {rule}"
    );

    // Each raised a native notification through the real daemon.
    let shown = {
        let mut shown = Vec::new();
        wait_until("two notifications", Duration::from_secs(20), || {
            shown = notifications();
            shown.len() >= 2
        });
        shown
    };
    let titles: Vec<&str> = shown.iter().map(|(title, _)| title.as_str()).collect();
    assert!(
        titles.contains(&"Critical: inbox rule hides mail — Contoso"),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"Critical: inbox rule forwards mail outside — Contoso"),
        "{titles:?}"
    );
    let forward = shown
        .iter()
        .find(|(title, _)| title.contains("forwards"))
        .unwrap();
    assert!(
        forward.1.contains(&t.user("megan")) && forward.1.contains("drop@evil.example"),
        "{forward:?}"
    );

    // The hostile rule name is shown as the characters it is and runs nothing.
    app.click("#back-to-alerts");
    // Rows and the detail name the rule by the registry's title.
    app.open_row("Inbox rule hides mail");
    let summary = app.text("#alert-summary");
    assert!(summary.contains(HOSTILE), "{summary}");
    assert_eq!(
        app.text("#alert-rule"),
        "Inbox rule hides mail (inbox-rule-hides-mail)"
    );
    assert!(app.text("#about-rule").contains("T1564.008"));
    assert!(
        app.text("#alert-raw").contains("onerror"),
        "the raw record is shown"
    );
    assert_eq!(
        app.script("return document.querySelectorAll('img').length"),
        json!(0)
    );
    assert_ne!(app.script("return document.title"), json!("pwned"));

    // Marked a false positive, with a note.
    app.click("#mark-false-positive");
    app.type_into("#status-note", "the user's own cleanup rule");
    app.click("#confirm-status");
    wait_until("the status to show", Duration::from_secs(10), || {
        app.text("#alert-status")
            .to_lowercase()
            .contains("false positive")
    });

    // Scan now reaches the sandbox again.
    let listed = app.stats()["requests"]["content"].as_u64().unwrap();
    app.click("#scan-now");
    wait_until("a scan after Scan now", Duration::from_secs(30), || {
        app.stats()["requests"]["content"].as_u64().unwrap() > listed
    });

    // Notifying took the alerts from the desktop's queue only: `rulewatch scan` on this
    // data folder would still print both.
    app.click("#nav-settings");
    let waiting = |channel: &str| {
        app.text(&format!(
            "[data-testid=channel-row][data-channel={channel}] td:nth-child(2)"
        ))
    };
    wait_until("the delivery queues", Duration::from_secs(10), || {
        waiting("desktop") == "0" && waiting("scan") == "2"
    });

    // A webhook added in Settings (its secret to the keychain) takes a signed test.
    app.type_into("#webhook-name", "psa");
    app.type_into(
        "#webhook-url",
        &format!("{}/_sandbox/hooks/psa", app.sandbox_url()),
    );
    app.type_into("#webhook-secret", "a shared secret for the test");
    app.click("#add-webhook");
    app.wait_for(
        "[data-testid=channel-row][data-channel=psa] [data-testid=test-channel]",
        Duration::from_secs(10),
    );
    app.click("[data-testid=channel-row][data-channel=psa] [data-testid=test-channel]");
    wait_until("the test delivery", Duration::from_secs(10), || {
        app.hook("psa")["received"].as_array().unwrap().len() == 1
    });
    let test = app.hook("psa")["received"][0].clone();
    let body = test["body"].as_str().unwrap();
    assert!(body.contains("\"event\":\"channel.test\""), "{body}");
    assert_eq!(
        test["signature"].as_str().unwrap(),
        rulewatch_core::app::signature(b"a shared secret for the test", body.as_bytes())
    );
    assert_eq!(app.text("#channel-message"), "psa took the test delivery.");

    // An incident resolved in the panel is resolved in the store, with its note.
    app.click("#nav-alerts");
    app.script(
        "const s = document.querySelector('#filter-group'); s.value = 'incidents'; \
         s.dispatchEvent(new Event('change')); return null",
    );
    app.wait_for("[data-testid=resolve-incident]", Duration::from_secs(10));
    app.click("[data-testid=resolve-incident]");
    app.type_into("[data-testid=resolve-note]", "rule removed, password reset");
    app.click("[data-testid=resolve-confirm]");
    let store = Store::open(app.data_dir()).unwrap();
    wait_until("the incident resolved", Duration::from_secs(10), || {
        store.incidents(None).unwrap().iter().any(|i| {
            i.status == IncidentStatus::Resolved
                && i.resolution_note.as_deref() == Some("rule removed, password reset")
        })
    });
    assert!(app.text("#alerts-message").starts_with("Incident resolved"));
}

#[test]
fn a_tenant_added_in_the_panel_goes_to_the_keychain_and_passes_the_connection_test() {
    let t = Tenant::new(0);
    // A GCC tenant: its cloud is read from Microsoft, and its audit log at GCC's host.
    let mut fabrikam = t.scenario("Fabrikam");
    fabrikam["cloud"] = json!("gcc");
    let app = Desktop::start(json!({"tenants": [fabrikam]}), &[]);

    // Nothing configured: the first-run screen, which leads to the Tenants page.
    app.wait_for("#first-run", Duration::from_secs(20));
    app.click("#first-run-tenants");
    app.type_into("#tenant-id", &t.tenant_id);
    app.type_into("#tenant-name", "Fabrikam");
    app.type_into("#client-id", &t.client_id);
    app.type_into("#client-secret", &t.secret);
    // Asked once: the MSP's own tenant, sent as PublisherIdentifier from then on.
    let msp = "99999999-8888-4777-8666-555555555555";
    wait_until("the MSP question", Duration::from_secs(10), || {
        app.script("return document.getElementById('msp-tenant-field').hidden") == json!(false)
    });
    app.type_into("#msp-tenant-id", msp);
    app.click("#save-tenant");
    wait_until("the tenant to be added", Duration::from_secs(20), || {
        app.text("#tenant-message").contains("keychain")
    });
    let said = app.text("#tenant-message");
    assert!(said.contains("Fabrikam, in the GCC cloud"), "{said}");
    wait_until("the MSP question to go", Duration::from_secs(10), || {
        app.script("return document.getElementById('msp-tenant-field').hidden") == json!(true)
    });

    let lookup = Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            "rulewatch",
            "username",
            &format!("tenant/{}/client-secret", t.tenant_id),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&lookup.stdout),
        t.secret,
        "the secret is in the keychain"
    );
    let page = app.script("return document.documentElement.outerHTML");
    assert!(
        !page.as_str().unwrap().contains(&t.secret),
        "the secret stays out of the page once sent"
    );

    let row = format!("[data-testid=tenant-row][data-tenant-id='{}']", t.tenant_id);
    assert_eq!(
        app.text(&format!("{row} [data-testid=tenant-cloud]")),
        "GCC"
    );
    app.click(&format!("{row} [data-testid=test-connection]"));
    let steps = format!("{row} [data-testid=connection-result] li");
    wait_until("three connection steps", Duration::from_secs(30), || {
        app.count(&steps) == 3
    });
    for (step, words) in [
        ("token", "signed in"),
        ("subscription", "subscription"),
        ("domains", "verified domain"),
    ] {
        let text = app.text(&format!("{steps}[data-step={step}]"));
        assert!(text.contains('✓') && text.contains(words), "{step}: {text}");
    }
    let publishers = app.stats()["publisher_identifiers"].clone();
    assert_eq!(
        publishers.as_object().unwrap().keys().collect::<Vec<_>>(),
        [msp],
        "{publishers}"
    );
}
