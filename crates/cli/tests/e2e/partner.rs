//! Partner sign-in through the real binary against the sandbox: the browser flow played
//! by the test (following the authorization URL to the loopback port), the device code
//! flow, the rotated refresh token only in the real keychain, customers discovered and
//! watched (a new one between two scans is scanned and reported), a customer without
//! consent named as such while the others are scanned, revocation, and sign-out. Also
//! (../shared/reference/m365-api.md §G 9, 10): the redirect to `localhost`, the account named from the ID
//! token, a loopback port that a silent connection or a forged answer cannot derail, a
//! lapsed or declined device code in plain words, customers' token exchanges at once, and
//! the partner's tenant as `PublisherIdentifier`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use m365_sandbox::attacks::{self, ForwardKind};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

/// One partner account per keychain: these tests take turns.
fn one_partner() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

const TECH: &str = "tech@msp.example";

struct World {
    partner_tenant: String,
    client_id: String,
    customers: Vec<TestTenant>,
}

impl World {
    /// Customers 0 and 1 are the partner's from the start; 2 becomes one later; 1 never
    /// consented to the app. Each has a forwarding rule planted.
    fn new() -> (World, Value) {
        let customers: Vec<TestTenant> = (0..3).map(TestTenant::new).collect();
        let world = World {
            partner_tenant: Uuid::new_v4().to_string(),
            client_id: Uuid::new_v4().to_string(),
            customers,
        };
        let mut tenants: Vec<Value> = world
            .customers
            .iter()
            .map(TestTenant::scenario_json)
            .collect();
        tenants[1]["consented"] = json!(false);
        let records: Vec<Value> = world
            .customers
            .iter()
            .map(|t| {
                let record = attacks::new_inbox_rule_forward(&t.ctx(0, 0), "Sync", &[&t.drop_box("x")], ForwardKind::ForwardTo);
                json!({"tenant_id": t.tenant_id, "content_type": "Audit.Exchange", "release_after_s": -5, "record": record})
            })
            .collect();
        let scenario = json!({
            "tenants": tenants,
            "records": records,
            "partner": {
                "tenant_id": world.partner_tenant,
                "client_id": world.client_id,
                "users": [{"upn": TECH}],
                "customers": [world.customers[0].tenant_id, world.customers[1].tenant_id],
            },
        });
        (world, scenario)
    }
}

/// Runs `rulewatch partner login …` and hands each stderr line to `on_line` until it
/// returns false (the line it needed); the process keeps running.
fn login(
    rw: &Rulewatch,
    args: &[&str],
    mut on_line: impl FnMut(&str) -> bool,
) -> (Child, JoinHandle<String>) {
    let mut child = rw
        .command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if !on_line(&line) {
            break;
        }
    }
    let rest = std::thread::spawn(move || {
        lines
            .map_while(Result::ok)
            .fold(seen, |acc, l| acc + &l + "\n")
    });
    (child, rest)
}

fn finish(child: Child, rest: JoinHandle<String>) -> String {
    let (succeeded, stderr) = outcome(child, rest);
    assert!(succeeded, "login failed: {stderr}");
    assert!(
        !stderr.contains("unknown account"),
        "Entra named the account: {stderr}"
    );
    stderr
}

/// Whether the login succeeded, and all it wrote to stderr.
fn outcome(child: Child, rest: JoinHandle<String>) -> (bool, String) {
    let status = child.wait_with_output().unwrap().status;
    (status.success(), rest.join().unwrap())
}

fn keychain_token() -> Option<String> {
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
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!token.is_empty()).then_some(token)
}

/// Signs in with the browser flow, the test playing the browser.
fn browser_sign_in(rw: &Rulewatch, w: &World) -> String {
    browser_sign_in_after(rw, w, |_| {})
}

/// Signs in with the browser flow; `before_redirect` gets the loopback port before the
/// browser is sent back to it.
fn browser_sign_in_after(rw: &Rulewatch, w: &World, before_redirect: impl FnOnce(u16)) -> String {
    let mut url = None;
    let (child, rest) = login(
        rw,
        &[
            "partner",
            "login",
            "--tenant",
            &w.partner_tenant,
            "--client-id",
            &w.client_id,
            "--no-browser",
        ],
        |line| {
            if line.starts_with("http") {
                url = Some(line.trim().to_string());
                return false;
            }
            true
        },
    );
    let url = url.expect("the sign-in address is printed");
    assert!(
        url.contains("code_challenge=") && url.contains("code_challenge_method=S256"),
        "PKCE: {url}"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = rt.block_on(browser.get(&url).send()).unwrap();
    assert_eq!(
        page.status(),
        302,
        "Microsoft's page signs the user in and redirects"
    );
    let back = page.headers()["location"].to_str().unwrap().to_string();
    let port = back
        .strip_prefix("http://localhost:")
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok());
    before_redirect(
        port.unwrap_or_else(|| panic!("back to the registered host's loopback port: {back}")),
    );
    rt.block_on(async {
        let done = browser
            .get(&back)
            .timeout(std::time::Duration::from_secs(60))
            .send()
            .await
            .unwrap();
        assert!(done.status().is_success());
        assert!(done.text().await.unwrap().contains("return to Rulewatch"));
    });
    finish(child, rest)
}

fn device_sign_in(rw: &Rulewatch, w: &World, sandbox: &Sandbox) -> String {
    let (child, rest) = device_code_login(rw, w, sandbox, "");
    finish(child, rest)
}

/// Starts a device code sign-in and answers Microsoft's page (`answer` is added to its
/// query, e.g. `&decline=true`; `None` leaves the code unused).
fn device_code_login(
    rw: &Rulewatch,
    w: &World,
    sandbox: &Sandbox,
    answer: impl Into<Option<&'static str>>,
) -> (Child, JoinHandle<String>) {
    let mut message = None;
    let (child, rest) = login(
        rw,
        &[
            "partner",
            "login",
            "--tenant",
            &w.partner_tenant,
            "--client-id",
            &w.client_id,
            "--device-code",
        ],
        |line| {
            if line.contains("enter the code") {
                message = Some(line.to_string());
                return false;
            }
            true
        },
    );
    let message = message.expect("Microsoft's message is printed");
    assert!(
        message.contains(&format!("{}/devicelogin", sandbox.url)),
        "{message}"
    );
    let code = message
        .split("enter the code ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    if let Some(answer) = answer.into() {
        let page = format!("{}/devicelogin?user_code={code}{answer}", sandbox.url);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert!(rt.block_on(async { reqwest::get(page).await.unwrap().status().is_success() }));
    }
    (child, rest)
}

fn status_of<'a>(statuses: &'a [Value], t: &TestTenant) -> &'a Value {
    tenant_status(statuses, t)
}

#[test]
fn browser_sign_in_watches_every_customer_and_the_refresh_token_lives_only_in_the_keychain() {
    let _turn = one_partner();
    let (w, scenario) = World::new();
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);

    let said = browser_sign_in(&rw, &w);
    assert!(said.contains(&format!("Signed in as {TECH}")), "{said}");
    assert!(
        said.contains("2 customer(s) found; 2 now watched"),
        "{said}"
    );
    let first = keychain_token().expect("the refresh token is in the keychain");
    for entry in std::fs::read_dir(rw.data_dir()).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap();
        assert!(
            !bytes.windows(first.len()).any(|w| w == first.as_bytes()),
            "the token is in {}",
            entry.path().display()
        );
    }

    let listed = rw.run(&["partner", "customers", "--json"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let customers = listed.json();
    let names: Vec<&str> = customers
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["watched"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{customers}");
    let roles = &customers[0]["gdap_roles"];
    assert!(
        roles
            .as_array()
            .unwrap()
            .contains(&json!("Exchange Administrator")),
        "each customer's GDAP roles: {customers}"
    );

    // The consented customer is scanned; the other is named as lacking consent.
    let scan = rw.scan();
    assert_eq!(
        scan.code, 3,
        "one customer could not be scanned: {}",
        scan.stderr
    );
    let alerts = scan.json_lines();
    assert!(
        alerts
            .iter()
            .any(|a| a["tenant_id"] == w.customers[0].tenant_id.as_str()),
        "{alerts:?}"
    );
    let statuses = rw.status();
    assert_eq!(status_of(&statuses, &w.customers[0])["state"], "ok");
    let refused = status_of(&statuses, &w.customers[1]);
    assert_eq!(refused["problem"], "consent_missing", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("consent"),
        "{refused}"
    );

    let status = rw.run(&["partner", "status", "--json"]).json();
    let account = &status["account"];
    assert!(
        account["refreshed_at"].as_str() > account["signed_in_at"].as_str(),
        "the scan used the token: {status}"
    );
    assert_eq!(status["watch_all"], true);

    // Each exchange rotated the refresh token; the keychain holds the newest, which works.
    let rotated = keychain_token().unwrap();
    assert_ne!(
        rotated, first,
        "the rotated refresh token replaced the first"
    );
    assert_eq!(rw.scan().code, 3);

    // Remediation through the partner account records that account.
    let id = rw
        .alerts()
        .iter()
        .find(|a| a["tenant_id"] == w.customers[0].tenant_id.as_str())
        .unwrap()["id"]
        .to_string();
    let fixed = rw.run(&[
        "remediate",
        &id,
        "--yes",
        "--json",
        "--actions",
        "block-sign-in",
    ]);
    assert_eq!(fixed.code, 0, "{}\n{}", fixed.stdout, fixed.stderr);
    let log = rw.run(&["audit", "--json"]).json_lines();
    assert_eq!(log.last().unwrap()["operator"], TECH);

    // Revoked sessions: every partner tenant asks for a new sign-in.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/_sandbox/partner/revoke", sandbox.url))
            .send()
            .await
            .unwrap()
    });
    assert_eq!(rw.scan().code, 3);
    let statuses = rw.status();
    let lapsed = status_of(&statuses, &w.customers[0]);
    assert_eq!(lapsed["problem"], "sign_in_needed", "{lapsed}");
    assert!(
        lapsed["message"]
            .as_str()
            .unwrap()
            .contains("sign in again"),
        "{lapsed}"
    );

    let out = rw.run(&["partner", "logout"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(keychain_token(), None, "sign-out removes the refresh token");
}

#[test]
fn a_device_code_sign_in_then_a_new_customer_between_two_scans_is_scanned_and_reported() {
    let _turn = one_partner();
    let (w, scenario) = World::new();
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    let said = device_sign_in(&rw, &w, &sandbox);
    assert!(said.contains(&format!("Signed in as {TECH}")), "{said}");

    let first = rw.run(&["scan", "--json", "--discovery-hours", "0"]);
    assert!(
        !first.stdout.contains(&w.customers[2].tenant_id),
        "not a customer yet"
    );
    // The partner's own tenant is the PublisherIdentifier of every customer's calls.
    let publishers = sandbox.stats()["publisher_identifiers"].clone();
    let sent: Vec<&String> = publishers.as_object().unwrap().keys().collect();
    assert_eq!(sent, [&w.partner_tenant], "{publishers}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let added = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/_sandbox/partner/customers", sandbox.url))
            .json(&json!({"tenant_id": w.customers[2].tenant_id}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(added.is_success());

    let second = rw.run(&["scan", "--json", "--discovery-hours", "0"]);
    assert!(
        second.stderr.contains(&format!(
            "Coverage grew: now watching {}",
            w.customers[2].name
        )),
        "{}",
        second.stderr
    );
    let new_alerts = second.json_lines();
    assert!(
        new_alerts
            .iter()
            .any(|a| a["tenant_id"] == w.customers[2].tenant_id.as_str()),
        "{new_alerts:?}"
    );

    // Removing a customer keeps it out of "watch all": the next listing does not add it back.
    assert_eq!(
        rw.run(&["tenant", "remove", &w.customers[2].tenant_id])
            .code,
        0
    );
    let third = rw.run(&["scan", "--json", "--discovery-hours", "0"]);
    assert!(!third.stderr.contains("Coverage grew"), "{}", third.stderr);
    let listed = rw.run(&["partner", "customers", "--json"]).json();
    let removed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tenant_id"] == w.customers[2].tenant_id.as_str())
        .unwrap();
    assert_eq!(
        (&removed["watched"], &removed["excluded"]),
        (&json!(false), &json!(true)),
        "{removed}"
    );

    assert_eq!(rw.run(&["partner", "logout"]).code, 0);
}

#[test]
fn a_refresh_token_that_lapses_asks_for_a_new_sign_in_by_name() {
    let _turn = one_partner();
    let (w, mut scenario) = World::new();
    scenario["partner"]["refresh_token_lifetime_s"] = json!(3);
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    device_sign_in(&rw, &w, &sandbox);

    // Inactivity expiry: the token must go unused for its whole lifetime (each use would
    // rotate it into a fresh one), so here time has to pass.
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert_eq!(rw.scan().code, 3);
    let statuses = rw.status();
    let lapsed = status_of(&statuses, &w.customers[0]);
    assert_eq!(lapsed["problem"], "sign_in_needed", "{lapsed}");
    let message = lapsed["message"].as_str().unwrap();
    assert!(
        message.contains("AADSTS700082") && message.contains("sign in again"),
        "{message}"
    );
    assert_eq!(rw.run(&["partner", "logout"]).code, 0);
}

#[test]
fn a_partner_password_reset_or_block_of_an_admin_without_the_delegated_permission_says_which_delegated_one()
 {
    let _turn = one_partner();
    let (w, mut scenario) = World::new();
    // The partner app lacks Directory.AccessAsUser.All; the mailbox's owner is an admin.
    scenario["partner"]["delegated_scopes"] = json!([
        "ActivityFeed.Read",
        "DelegatedAdminRelationship.Read.All",
        "Domain.Read.All",
        "User.ReadWrite.All",
        "Exchange.Manage"
    ]);
    scenario["tenants"][0]["users"][0]["directory_roles"] = json!(["Global Administrator"]);
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    device_sign_in(&rw, &w, &sandbox);
    rw.scan();
    let customer = &w.customers[0];
    let id = rw
        .alerts()
        .iter()
        .find(|a| a["tenant_id"] == customer.tenant_id.as_str())
        .unwrap()["id"]
        .to_string();

    let run = rw.run(&[
        "remediate",
        &id,
        "--yes",
        "--json",
        "--actions",
        "block-sign-in,revoke-sessions,reset-password",
    ]);
    assert_eq!(run.code, 4, "{}\n{}", run.stdout, run.stderr);
    let results = run.json_lines();
    let outcome = |action: &str| {
        results
            .iter()
            .find(|s| s["action"] == action)
            .unwrap()
            .clone()
    };
    for action in ["block-sign-in", "reset-password"] {
        let s = outcome(action);
        assert_eq!(s["outcome"], "failed", "{s}");
        let why = s["detail"].as_str().unwrap();
        assert!(
            why.contains("permission denied")
                && why.contains("delegated")
                && why.contains("Directory.AccessAsUser.All"),
            "{why}"
        );
        assert!(
            !why.contains("application permission"),
            "a partner tenant is not told about application permissions: {why}"
        );
    }
    assert_eq!(outcome("revoke-sessions")["outcome"], "done");
    assert_eq!(
        sandbox.user(&customer.tenant_id, &customer.users[0])["account_enabled"],
        true
    );
}

#[test]
fn customer_names_with_escape_sequences_are_printed_escaped() {
    let _turn = one_partner();
    let (w, mut scenario) = World::new();
    scenario["tenants"][0]["name"] = json!(format!("Fabrikam{}", crate::terminal::HOSTILE));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    let said = device_sign_in(&rw, &w, &sandbox);
    crate::terminal::assert_shown("partner login", &said);

    let scan = rw.run(&["scan", "--discovery-hours", "0"]);
    crate::terminal::assert_shown("scan", &format!("{}{}", scan.stdout, scan.stderr));
    let customers = rw.run(&["partner", "customers"]);
    assert_eq!(customers.code, 0, "{}", customers.stderr);
    assert!(
        customers.stdout.contains("Fabrikam\\u{1b}[2K\\u{d}"),
        "{}",
        customers.stdout
    );
    assert!(
        customers.stdout.contains(&w.customers[1].tenant_id),
        "the customer without consent is listed: {}",
        customers.stdout
    );
    crate::terminal::assert_shown("partner customers", &customers.stdout);

    assert_eq!(rw.run(&["partner", "logout"]).code, 0);
}

#[test]
fn the_sign_in_port_outlasts_a_silent_connection_and_refuses_a_forged_answer_before_using_its_code()
{
    let _turn = one_partner();
    let (w, scenario) = World::new();
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);

    let mut silent = None;
    let said = browser_sign_in_after(&rw, &w, |port| {
        // A browser's pre-connect or a port scanner: connected, sending nothing, kept open.
        silent = Some(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
        let forged = format!("http://localhost:{port}/?code=forged-code&state=not-this-sign-in");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (status, page) = rt.block_on(async {
            let r = reqwest::Client::new()
                .get(forged)
                .timeout(std::time::Duration::from_secs(60))
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        });
        assert_eq!(status, 400, "{page}");
        assert!(page.contains("does not belong to the sign-in"), "{page}");
    });
    assert!(said.contains(&format!("Signed in as {TECH}")), "{said}");
    drop(silent);
    assert_eq!(
        sandbox.stats()["token_grants"]["authorization_code"],
        1,
        "only the real code was redeemed"
    );
    assert_eq!(rw.run(&["partner", "logout"]).code, 0);
}

#[test]
fn a_device_code_left_unused_or_declined_says_what_happened() {
    let _turn = one_partner();
    let (w, mut scenario) = World::new();
    scenario["partner"]["device_code_lifetime_s"] = json!(2);
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);

    let (child, rest) = device_code_login(&rw, &w, &sandbox, None);
    let (succeeded, said) = outcome(child, rest);
    assert!(!succeeded, "{said}");
    assert!(said.contains("the code was not entered in time"), "{said}");
    assert!(
        !said.contains("Check the partner app's registration"),
        "{said}"
    );

    let (child, rest) = device_code_login(&rw, &w, &sandbox, "&decline=true");
    let (succeeded, said) = outcome(child, rest);
    assert!(!succeeded, "{said}");
    assert!(
        said.contains("the sign-in was declined on Microsoft's page"),
        "{said}"
    );
}

#[test]
fn customers_token_exchanges_run_at_once() {
    let _turn = one_partner();
    let (w, mut scenario) = World::new();
    // Each customer's token requests take a while, so exchanges that wait for each other
    // never overlap.
    let slow: Vec<Value> = w.customers[..2]
        .iter()
        .map(
            |c| json!({"endpoint": "token", "tenant_id": c.tenant_id, "fault": "slow", "count": 4}),
        )
        .collect();
    scenario["faults"] = json!({"slow_ms": 500, "script": slow});
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    device_sign_in(&rw, &w, &sandbox);

    assert_eq!(
        rw.scan().code,
        3,
        "the customer without consent is reported"
    );
    let stats = sandbox.stats();
    assert!(
        stats["token_requests_peak_in_flight"].as_u64().unwrap() >= 2,
        "{stats}"
    );
    assert_eq!(status_of(&rw.status(), &w.customers[0])["state"], "ok");
    assert_eq!(rw.run(&["partner", "logout"]).code, 0);
}
