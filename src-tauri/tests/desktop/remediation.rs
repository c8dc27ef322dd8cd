//! Secure and Remediate in the real webview: from an alert that arrived by itself, the
//! plan read live from the sandbox's mailbox, one confirmation naming tenant and
//! mailbox, each step's verified result, the new password shown once and kept nowhere,
//! an undo, the alert's history and the customer report.

use std::time::Duration;

use crate::common::{Desktop, Named, Tenant, megan_forwards_outside, wait_until};
use m365_sandbox::attacks;
use serde_json::json;

fn rule_enabled(app: &Desktop, t: &Tenant, upn: &str, name: &str) -> Option<bool> {
    let user = app.user(&t.tenant_id, upn);
    user["inbox_rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .and_then(|r| r["enabled"].as_bool())
}

#[test]
fn a_mailbox_is_contained_from_the_panel_with_one_confirmation_and_the_report_written() {
    let t = Tenant::new(0);
    let megan = t.user("megan");
    let scenario = json!({
        "tenants": [t.scenario("Contoso")],
        "records": [megan_forwards_outside(&t)],
    });
    let app = Desktop::start(scenario, &[(&t, "Contoso")]);
    // The panel opens on the overview.
    app.click("#nav-alerts");
    app.wait_for("[data-testid=alert-row]", Duration::from_secs(40));
    app.open_row(&megan);
    assert_eq!(rule_enabled(&app, &t, &megan, "Sync"), Some(true));

    // The plan, read live: the mailbox, its rule marked as the alert's, the default steps.
    app.click("#secure-remediate");
    app.wait_for("#plan-steps", Duration::from_secs(30));
    assert!(app.text("#plan-mailbox").contains(&megan));
    assert!(
        app.text("#plan-rules").contains("drop@evil.example"),
        "{}",
        app.text("#plan-rules")
    );
    for action in [
        "block-sign-in",
        "revoke-sessions",
        "reset-password",
        "disable-rule",
    ] {
        let checked = app.script(&format!(
            "return [...document.querySelectorAll('[data-testid=plan-step][data-action={action}] input')].some(i => i.checked)"
        ));
        assert_eq!(checked, json!(true), "{action} is checked by default");
    }

    // One confirmation naming the tenant and the mailbox, then each step's result.
    app.click("#remediate-run");
    let question = app.text("#remediate-confirm");
    assert!(
        question.contains("Contoso") && question.contains(&megan),
        "{question}"
    );
    app.click("#remediate-confirm-yes");
    wait_until("four verified steps", Duration::from_secs(60), || {
        app.count("[data-testid=step-result][data-outcome=done]") == 4
    });
    let user = app.user(&t.tenant_id, &megan);
    assert_eq!(user["account_enabled"], false);
    assert!(
        user["sessions_revoked_at"].is_string() && user["password_changed_at"].is_string(),
        "{user}"
    );
    assert_eq!(rule_enabled(&app, &t, &megan, "Sync"), Some(false));

    // The new password is on screen once, and nowhere on disk.
    let password = app.text("#new-password");
    assert!(password.len() >= 16, "{password}");
    for entry in walk(app.data_dir()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "the password is in {}",
            entry.display()
        );
    }

    // Undo the rule step: the confirmation says in plain words what comes back, and as
    // the rule forwards outside, a second question names where mail would go.
    let undo = "[data-testid=step-result][data-key^='disable-rule'] [data-testid=undo-step]";
    app.click_for(undo, "[data-testid=undo-question]");
    let question = app.text("[data-testid=undo-question]");
    assert!(
        question.contains("turn this inbox rule back on") && question.contains("drop@evil.example"),
        "{question}"
    );
    app.click("[data-testid=confirm-undo]");
    let outside = app.text("[data-testid=undo-outside-question]");
    assert!(
        outside.contains("outside the organisation again, to drop@evil.example"),
        "{outside}"
    );
    assert_eq!(
        rule_enabled(&app, &t, &megan, "Sync"),
        Some(false),
        "nothing is restored before the second answer"
    );
    app.click("[data-testid=confirm-undo-outside]");
    wait_until("the undo's result", Duration::from_secs(30), || {
        app.count("[data-testid=undo-result][data-outcome=done]") == 1
    });
    assert_eq!(rule_enabled(&app, &t, &megan, "Sync"), Some(true));

    // The alert's history lists every step; the report is written where the panel says.
    wait_until("five steps in the history", Duration::from_secs(20), || {
        app.count("[data-testid=history-row]") == 5
    });
    app.click("#export-report");
    wait_until("the report's path", Duration::from_secs(20), || {
        app.text("#report-path").contains(".html")
    });
    let shown = app.text("#report-path");
    let path = shown[shown.find('/').expect("a path")..]
        .trim()
        .trim_end_matches('.');
    let html = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(
        html.contains(&megan) && html.contains("undo-disable-rule") && !html.contains(&password)
    );

    // Closing the view drops the password from the page.
    app.click("#remediation-close");
    let page = app.script("return document.documentElement.outerHTML");
    assert!(!page.as_str().unwrap().contains(&password));
}

#[test]
fn undoing_a_cleared_forwarding_says_where_mail_would_go_and_asks_a_second_time() {
    let t = Tenant::new(0);
    let adele = t.user("adele");
    let record =
        attacks::set_mailbox_forwarding(&t.own("adele"), Some("smtp:x@evil.example"), None, true);
    let scenario = json!({
        "tenants": [t.scenario("Contoso")],
        "records": [{"tenant_id": t.tenant_id, "content_type": "Audit.Exchange", "release_after_s": -5, "record": record}],
    });
    let app = Desktop::start(scenario, &[(&t, "Contoso")]);
    // The panel opens on the overview.
    app.click("#nav-alerts");
    app.wait_for("[data-testid=alert-row]", Duration::from_secs(40));
    app.open_row(&adele);
    app.click("#secure-remediate");
    app.wait_for("#plan-steps", Duration::from_secs(30));
    app.click("#remediate-run");
    app.click("#remediate-confirm-yes");
    let cleared = "[data-testid=step-result][data-key^='clear-forwarding'][data-outcome=done]";
    app.wait_for(cleared, Duration::from_secs(60));
    assert_eq!(
        app.user(&t.tenant_id, &adele)["forwarding_smtp_address"],
        serde_json::Value::Null
    );

    // The question says, in plain words, where mail would go; the second one names it
    // as outside; cancelling there restores nothing.
    let undo = format!("{cleared} [data-testid=undo-step]");
    app.click_for(&undo, "[data-testid=undo-question]");
    let question = app.text("[data-testid=undo-question]");
    assert!(
        question.contains(&format!(
            "forward all mail from {adele} to x@evil.example again"
        )),
        "{question}"
    );
    app.click("[data-testid=confirm-undo]");
    let outside = app.text("[data-testid=undo-outside-question]");
    assert!(
        outside.contains("outside the organisation again, to x@evil.example"),
        "{outside}"
    );
    app.click("[data-testid=cancel-undo]");
    assert_eq!(app.count("[data-testid=undo-result]"), 0);
    assert_eq!(
        app.user(&t.tenant_id, &adele)["forwarding_smtp_address"],
        serde_json::Value::Null,
        "cancelled: nothing restored"
    );

    // Both answered: the forwarding is back.
    app.click(&undo);
    app.click("[data-testid=confirm-undo]");
    app.click("[data-testid=confirm-undo-outside]");
    wait_until("the undo's result", Duration::from_secs(30), || {
        app.count("[data-testid=undo-result][data-outcome=done]") == 1
    });
    assert_eq!(
        app.user(&t.tenant_id, &adele)["forwarding_smtp_address"],
        "smtp:x@evil.example"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path))
        } else {
            files.push(path)
        }
    }
    files
}
