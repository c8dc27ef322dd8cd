//! Partner sign-in from the panel, in the real webview: the app opens Microsoft's page
//! in the "browser" (here a script that notes the address, which the test then follows
//! against the sandbox, as a browser would), ends signed in with the refresh token only
//! in the keychain, watches the customer and finds its attack by itself; sign-out
//! removes the token.

use std::process::Command;
use std::time::Duration;

use crate::common::{Desktop, Named, Tenant, megan_forwards_outside, notifications, wait_until};
use serde_json::json;
use uuid::Uuid;

const TECH: &str = "tech@msp.example";

fn keychain_token() -> String {
    let out = Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            "rulewatch",
            "username",
            "partner/refresh-token",
        ])
        .output()
        .expect("secret-tool (libsecret-tools) is needed by this test");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_technician_signs_in_once_in_the_browser_and_every_customer_is_watched() {
    let (t, later) = (Tenant::new(0), Tenant::new(0));
    let (partner_tenant, client_id) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
    let scenario = json!({
        "tenants": [t.scenario("Contoso"), later.scenario("Northwind")],
        "records": [megan_forwards_outside(&t)],
        "partner": {"tenant_id": partner_tenant, "client_id": client_id, "users": [{"upn": TECH}], "customers": [t.tenant_id]},
    });
    let app = Desktop::start(scenario, &[]);
    app.wait_for("#first-run", Duration::from_secs(20));
    app.click("#first-run-tenants");
    app.type_into("#partner-tenant-id", &partner_tenant);
    app.type_into("#partner-client-id", &client_id);
    app.click("#partner-sign-in");

    // The app opened Microsoft's sign-in page; the test is the browser.
    wait_until(
        "the sign-in page to be opened",
        Duration::from_secs(20),
        || !app.opened().is_empty(),
    );
    let url = app.opened().remove(0);
    assert!(
        url.starts_with(app.sandbox_url()) && url.contains("code_challenge_method=S256"),
        "{url}"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = browser.get(&url).send().await.unwrap();
        let back = page.headers()["location"].to_str().unwrap().to_string();
        // The host the README registers (../shared/reference/m365-api.md §G 10); the sandbox refuses 127.0.0.1.
        assert!(back.starts_with("http://localhost:"), "{back}");
        assert!(
            browser
                .get(&back)
                .send()
                .await
                .unwrap()
                .status()
                .is_success()
        );
    });

    wait_until("the account to show", Duration::from_secs(30), || {
        app.text("#partner-account").contains(TECH)
    });
    assert!(
        !app.text("#partner-account").contains("unknown account"),
        "the ID token names the account"
    );
    let token = keychain_token();
    assert!(!token.is_empty(), "the refresh token is in the keychain");
    for entry in std::fs::read_dir(app.data_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
    {
        let bytes = std::fs::read(entry.path()).unwrap();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token is in {}",
            entry.path().display()
        );
    }
    let page = app.script("return document.documentElement.outerHTML");
    assert!(
        !page.as_str().unwrap().contains(&token),
        "the token never reaches the page"
    );

    // The customer is watched, and its attack arrives without anyone asking.
    let row = format!(
        "[data-testid=customer-row][data-tenant-id='{}']",
        t.tenant_id
    );
    wait_until("the customer watched", Duration::from_secs(20), || {
        app.count(&row) == 1
            && app
                .text(&format!("{row} [data-testid=customer-watch]"))
                .contains("watched")
    });
    assert!(
        app.text(&format!("{row} [data-testid=customer-roles]"))
            .contains("Exchange Administrator")
    );
    app.click("#nav-alerts");
    app.wait_for("[data-testid=alert-row]", Duration::from_secs(40));
    assert!(app.text("#alert-list").contains("Contoso"));

    // A customer added later is watched at the next scan, and the technician is told.
    rt.block_on(async {
        let added = reqwest::Client::new()
            .post(format!("{}/_sandbox/partner/customers", app.sandbox_url()))
            .json(&json!({"tenant_id": later.tenant_id}))
            .send()
            .await
            .unwrap();
        assert!(added.status().is_success());
    });
    app.click("#scan-now");
    wait_until("the coverage notification", Duration::from_secs(40), || {
        notifications().iter().any(|(title, body)| {
            title.contains("watches 1 more customer") && body.contains("Northwind")
        })
    });

    // Signing out removes the refresh token.
    app.click("#nav-tenants");
    app.click("#partner-sign-out");
    app.click("#partner-confirm-sign-out");
    wait_until(
        "the token gone from the keychain",
        Duration::from_secs(20),
        || keychain_token().is_empty(),
    );
    wait_until("the sign-in form back", Duration::from_secs(20), || {
        app.count("#partner-sign-in") == 1
    });
}
