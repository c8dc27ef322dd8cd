//! Triage across processes on one data folder: a colleague's process takes an alert and
//! the open panel says so by itself; taking it over in the panel is recorded with both
//! names; names are text.

use std::time::Duration;

use crate::common::{Desktop, Named, TECHNICIAN, Tenant, megan_forwards_outside, wait_until};
use rulewatch_core::store::Store;
use serde_json::json;

const COLLEAGUE: &str = "alice <img src=x onerror=\"document.title='pwned'\">";

#[test]
fn a_colleague_s_take_shows_in_the_open_panel_and_a_take_over_is_recorded() {
    let t = Tenant::new(0);
    let scenario = json!({
        "tenants": [t.scenario("Contoso")],
        "records": [megan_forwards_outside(&t)],
    });
    let app = Desktop::start(scenario, &[(&t, "Contoso")]);
    app.click("#nav-alerts");
    app.wait_for("[data-testid=alert-row]", Duration::from_secs(40));
    app.open_row("megan");
    app.wait_for("[data-testid=triage-holder]", Duration::from_secs(10));
    let holder = || app.text("[data-testid=triage-holder]");
    wait_until("the review is read", Duration::from_secs(10), || {
        holder() == "Nobody holds this alert"
    });

    // A colleague's process on the same data folder takes it: the panel follows by
    // itself, with no scan and no click.
    let colleague = Store::open(app.data_dir()).unwrap();
    let id = colleague.alerts().unwrap()[0].id;
    colleague.take_alert(id, COLLEAGUE, false).unwrap();
    wait_until(
        "the open panel names the colleague",
        Duration::from_secs(10),
        || holder() == format!("Held by {COLLEAGUE}"),
    );
    assert_eq!(app.text("[data-testid=row-assignee]"), COLLEAGUE);

    // Taking it over asks first, then is recorded with both names.
    app.click("[data-testid=triage-takeover]");
    app.click("[data-testid=triage-takeover-yes]");
    wait_until(
        "the alert is this technician's",
        Duration::from_secs(10),
        || holder() == "Held by you",
    );
    let review = colleague.alert_review(id).unwrap();
    assert_eq!(review.assignee.as_deref(), Some(TECHNICIAN));
    let steps: Vec<(String, String)> = review
        .history
        .into_iter()
        .map(|e| (e.technician, e.action))
        .collect();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0], (COLLEAGUE.to_string(), "took".to_string()));
    assert_eq!(steps[1].1, format!("took over from {COLLEAGUE}"));
    assert_eq!(steps[1].0, TECHNICIAN);
    assert!(
        app.text("[data-testid=triage-history]").contains(COLLEAGUE),
        "the history shows the name as text"
    );
    assert_ne!(app.script("return document.title"), json!("pwned"));
}
