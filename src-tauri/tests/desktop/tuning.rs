//! Settings → Rules and allowlist in the real webview: an entry added there (a whole
//! rule, for one account, with its reason and an expiry) and a severity chosen there are
//! what the next scan's alerts meet; a refused entry is said and stores nothing.

use std::time::{Duration, Instant};

use crate::common::{Desktop, Named, Tenant, wait_until};
use m365_sandbox::attacks;
use rulewatch_core::store::Store;
use serde_json::json;

const RULE: &str = "legacy-protocol-enabled";

#[test]
fn an_entry_and_a_severity_set_in_settings_shape_the_next_scan() {
    let t = Tenant::new(0);
    let (scanner, other) = (t.users[3].clone(), t.users[2].clone());
    // Readable only once the settings below are made, so the first scan finds nothing.
    const RELEASE_S: u64 = 30;
    let imap = |target: usize| {
        json!({"tenant_id": t.tenant_id, "content_type": "Audit.Exchange",
               "release_after_s": RELEASE_S,
               "record": attacks::set_cas_mailbox_legacy(&t.ctx(0, target), None, Some(true), None)})
    };
    let scenario = json!({
        "tenants": [t.scenario("Contoso")],
        "records": [imap(3), imap(2)],
    });
    let app = Desktop::start(scenario, &[(&t, "Contoso")]);
    // The sandbox started inside `start`, after waiting for any other test's app: its
    // records are readable RELEASE_S after a moment before this one.
    let started = Instant::now();
    app.click("#nav-settings");
    app.wait_for(&format!("#severity-{RULE}"), Duration::from_secs(20));

    app.click("#trust-kind option[value=rule]");
    app.click(&format!("#trust-rule option[value={RULE}]"));
    app.type_into("#trust-account", &scanner.to_uppercase());
    app.type_into("#trust-reason", "the copier scans to mail over IMAP");
    app.type_into("#trust-expires", "30d");
    app.click("#trust-add");
    app.wait_for("#allowlist-entries tbody tr", Duration::from_secs(10));
    let row = app.text("#allowlist-entries tbody tr");
    assert!(row.contains(&format!("only {scanner}")), "{row}");
    assert!(row.contains("the copier scans to mail over IMAP"), "{row}");

    // An application named, not given by id: refused, said, nothing stored.
    app.click("#trust-kind option[value=application]");
    app.type_into("#trust-value", "Timesheets");
    app.type_into("#trust-reason", "every customer uses it");
    app.click("#trust-add");
    wait_until("the refusal is shown", Duration::from_secs(10), || {
        app.text("#error").contains("is not a GUID")
    });
    assert_eq!(app.count("#allowlist-entries tbody tr"), 1);

    app.click(&format!("#severity-{RULE} option[value=critical]"));
    wait_until("the severity is set", Duration::from_secs(10), || {
        app.text("#tuning-message")
            .contains("Critical for every tenant")
    });

    let store = Store::open(app.data_dir()).unwrap();
    let entries = store.trust_entries(None).unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].account.as_deref(), Some(scanner.as_str()));
    assert_eq!(
        entries[0].tenant_id, None,
        "every tenant, as the form defaulted"
    );
    assert!(entries[0].expires_at.is_some());

    // Once the changes are readable, Scan now meets them.
    if let Some(left) = Duration::from_secs(RELEASE_S + 2).checked_sub(started.elapsed()) {
        std::thread::sleep(left);
    }
    app.click("#scan-now");
    wait_until("both changes are stored", Duration::from_secs(40), || {
        store
            .alerts()
            .unwrap()
            .iter()
            .filter(|a| a.rule == RULE)
            .count()
            == 2
    });
    let alerts = store.alerts().unwrap();
    let of = |target: &str| alerts.iter().find(|a| a.target == target).unwrap();
    assert_eq!(of(&other).severity.as_str(), "critical");
    assert_eq!(of(&other).suppressed_by, None);
    let quiet = of(&scanner).suppressed_by.clone().unwrap_or_default();
    assert!(
        quiet.contains(&format!("trusted rule {RULE} for {scanner}")),
        "{quiet}"
    );
}
