//! PSA channels against the sandbox's ConnectWise, Autotask and HaloPSA stand-ins: an
//! incident opens one ticket under its tenant's confirmed company, later alerts add
//! notes, an unmapped tenant files under the default company and says so, throttling
//! and outages are retried, and a ticket opened by a pass that died before recording it
//! is found again instead of opened twice.

use m365_sandbox::attacks::{self, ForwardKind};
use m365_sandbox::psa::{DEFAULT_COMPANY, autotask, connectwise, halo};
use m365_sandbox::testkit::TestTenant;
use serde_json::{Value, json};

use crate::harness::*;

/// Two tenants: three attacks on one mailbox of the first (one incident of three
/// alerts), one on the second, whose name matches no PSA company.
fn two_incidents() -> (Value, Vec<TestTenant>, Expected) {
    let (mut scenario, tenants, _) = world(2, 0, json!({}));
    scenario["records"] = json!([]);
    let mut expected = Expected::new();
    let mut plant = |t: &TestTenant, record: Value, rule: &str| {
        crate::harness::plant(&mut scenario, &mut expected, t, record, rule)
    };
    let t = &tenants[0];
    plant(
        t,
        attacks::new_inbox_rule_forward(
            &t.ctx(0, 0),
            "Sync",
            &[&t.drop_box("exfil")],
            ForwardKind::ForwardTo,
        ),
        "inbox-rule-external-forward",
    );
    plant(
        t,
        attacks::new_inbox_rule_delete_all(&t.ctx(0, 0), "."),
        "inbox-rule-hides-mail",
    );
    plant(
        t,
        attacks::set_mailbox_forwarding(
            &t.ctx(0, 0),
            Some(&format!("smtp:{}", t.drop_box("drop"))),
            None,
            false,
        ),
        "mailbox-external-forward",
    );
    let other = &tenants[1];
    plant(
        other,
        attacks::new_inbox_rule_delete_all(&other.ctx(1, 1), "."),
        "inbox-rule-hides-mail",
    );
    // Rulewatch knows the second tenant by a name no PSA company has (the stand-ins
    // seed a company for each scenario tenant's own name).
    let mut tenants = tenants;
    tenants[1] = tenants[1].clone().named("Fabrikam Unlisted");
    (scenario, tenants, expected)
}

/// The company `name` in stand-in `vendor`.
fn company(sandbox: &Sandbox, vendor: &str, name: &str) -> i64 {
    sandbox
        .psa(vendor, "companies")
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{vendor} has no company {name}"))["id"]
        .as_i64()
        .unwrap()
}

/// The channel's name: one per vendor, as a technician with several PSAs names them.
fn channel(vendor: &str) -> String {
    format!("{vendor}-tickets")
}

/// Adds PSA channel [`channel`] of `vendor` with its sandbox credentials.
fn add(rw: &Rulewatch, sandbox: &Sandbox, vendor: &str) -> Run {
    let name = channel(vendor);
    let default = company(sandbox, vendor, DEFAULT_COMPANY).to_string();
    let base = format!("{}/{vendor}", sandbox.url);
    let common = [
        "--name",
        &name,
        "--default-company",
        &default,
        "--priority",
        "critical=1",
        "--priority",
        "high=2",
        "--priority",
        "low=4",
    ];
    let (args, secret): (Vec<&str>, &str) = match vendor {
        "connectwise" => (
            vec![
                "connectwise",
                "--site",
                &base,
                "--company-id",
                connectwise::COMPANY_ID,
                "--public-key",
                connectwise::PUBLIC_KEY,
                "--client-id",
                connectwise::CLIENT_ID,
                "--board",
                "2",
                "--ticket-type",
                "2",
            ],
            connectwise::PRIVATE_KEY,
        ),
        "autotask" => (
            vec![
                "autotask",
                "--zone-url",
                &base,
                "--username",
                autotask::USERNAME,
                "--integration-code",
                autotask::INTEGRATION_CODE,
                "--queue",
                "29683481",
                "--note-type",
                "2",
                "--note-publish",
                "2",
                "--ticket-type",
                "5",
            ],
            autotask::SECRET,
        ),
        _ => (
            vec![
                "halo",
                "--url",
                &base,
                "--client-id",
                halo::CLIENT_ID,
                "--team",
                "2",
                "--note-outcome",
                "7",
                "--ticket-type",
                "21",
            ],
            halo::CLIENT_SECRET,
        ),
    };
    rw.run_with_stdin(&[&["channel", "add"][..], &args, &common].concat(), secret)
}

/// The incident of tenant `t`'s mailbox, as `rulewatch incidents --json` lists it.
fn incident_of(incidents: &[Value], t: &TestTenant) -> Value {
    incidents
        .iter()
        .find(|i| i["tenant_id"] == t.tenant_id.as_str())
        .unwrap()
        .clone()
}

/// The ticket whose summary carries the incident's key, and how many carry it.
fn ticket_of(tickets: &Value, incident: &Value) -> (Value, usize) {
    let key = incident["key"].as_str().unwrap();
    let all: Vec<&Value> = tickets
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["summary"].as_str().unwrap().contains(key))
        .collect();
    (all[0].clone(), all.len())
}

/// One ticket per incident under the confirmed company (the default one, said so, for
/// the unmapped tenant), a note per later alert.
fn assert_filed(sandbox: &Sandbox, rw: &Rulewatch, vendor: &str, tenants: &[TestTenant]) {
    let incidents = rw.run(&["incidents", "--json"]).json_lines();
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    let tickets = sandbox.psa(vendor, "tickets");
    assert_eq!(tickets.as_array().unwrap().len(), 2, "{tickets}");
    let three = incident_of(&incidents, &tenants[0]);
    assert_eq!(three["alerts"].as_array().unwrap().len(), 3);
    let (ticket, copies) = ticket_of(&tickets, &three);
    assert_eq!(copies, 1);
    // The stand-ins name the first tenant's company after it (in their own spelling).
    let companies = sandbox.psa(vendor, "companies");
    let mapped = companies
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["name"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .starts_with(&tenants[0].name.to_lowercase())
        })
        .unwrap()["id"]
        .clone();
    assert_eq!(ticket["company_id"], mapped, "{ticket}");
    assert_eq!(ticket["priority"], 1, "a critical incident: {ticket}");
    assert_eq!(
        ticket["notes"].as_array().unwrap().len(),
        2,
        "two later alerts: {ticket}"
    );
    assert!(
        !ticket["description"]
            .as_str()
            .unwrap()
            .contains("not mapped")
    );
    let one = incident_of(&incidents, &tenants[1]);
    let (unmapped, _) = ticket_of(&tickets, &one);
    assert_eq!(
        unmapped["company_id"],
        company(sandbox, vendor, DEFAULT_COMPANY)
    );
    assert!(
        unmapped["description"].as_str().unwrap().contains(&format!(
            "Tenant {} ({}) is not mapped",
            tenants[1].name, tenants[1].tenant_id
        )),
        "{unmapped}"
    );
    assert!(unmapped["notes"].as_array().unwrap().is_empty());
}

#[test]
fn connectwise_files_one_ticket_per_incident_and_rides_out_throttling_and_an_outage() {
    let (scenario, tenants, expected) = two_incidents();
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let added = add(&rw, &sandbox, "connectwise");
    assert_eq!(added.code, 0, "{}", added.stderr);

    // The technician looks at the suggestions and confirms the first tenant's.
    let name = channel("connectwise");
    let matches = rw.run(&["channel", "companies", &name, "--json"]).json();
    let first = matches
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["tenant_id"] == tenants[0].tenant_id.as_str())
        .unwrap();
    assert_eq!(
        first["suggested"]["name"],
        format!("{}, Ltd.", tenants[0].name),
        "{matches}"
    );
    assert!(first["mapped"].is_null());
    let id = first["suggested"]["id"].as_i64().unwrap().to_string();
    let mapped = rw.run(&[
        "channel",
        "map",
        &name,
        "--tenant",
        &tenants[0].tenant_id,
        "--company",
        &id,
    ]);
    assert_eq!(mapped.code, 0, "{}", mapped.stderr);
    let unknown = rw.run(&[
        "channel",
        "map",
        &name,
        "--tenant",
        "nobody",
        "--company",
        "1",
    ]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("no tenant nobody"),
        "{}",
        unknown.stderr
    );

    // Throttled, then down: each pass stops at its first refusal, nothing is lost.
    sandbox.psa_trouble("connectwise", "throttle", 1);
    let first_scan = rw.scan();
    assert_exactly(&first_scan.json_lines(), &expected);
    assert!(
        first_scan
            .stderr
            .contains("ConnectWise PSA answered HTTP 429"),
        "{}",
        first_scan.stderr
    );
    assert!(!first_scan.stderr.contains(connectwise::PRIVATE_KEY));
    sandbox.psa_trouble("connectwise", "fail", 1);
    let down = rw.run(&["channel", "retry"]);
    assert_eq!(down.code, 1);
    assert!(down.stderr.contains("HTTP 503"), "{}", down.stderr);
    let retried = rw.run(&["channel", "retry"]);
    assert_eq!(retried.code, 0, "{}", retried.stderr);
    assert_filed(&sandbox, &rw, "connectwise", &tenants);

    // A pass that opened tickets and died before recording them: the next finds them.
    let db = rusqlite::Connection::open(rw.dir.path().join("rulewatch.db")).unwrap();
    db.execute_batch(
        "DELETE FROM psa_tickets;
         UPDATE deliveries SET delivered_at = NULL WHERE channel = 'connectwise-tickets' AND alert_id IN
           (SELECT MIN(id) FROM alerts GROUP BY incident_id);",
    )
    .unwrap();
    let again = rw.run(&["channel", "retry"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_filed(&sandbox, &rw, "connectwise", &tenants);

    // Resolving the incident closes its ticket with a note; once.
    let incidents = rw.run(&["incidents", "--json"]).json_lines();
    let three = incident_of(&incidents, &tenants[0]);
    let key = three["key"].as_str().unwrap();
    let resolved = rw.run(&[
        "incidents",
        "resolve",
        key,
        "--note",
        "Rule removed, password reset <b>done</b>",
    ]);
    assert_eq!(resolved.code, 0, "{}", resolved.stderr);
    let twice = rw.run(&["incidents", "resolve", key]);
    assert_eq!(twice.code, 1);
    assert!(
        twice.stderr.contains("no open incident"),
        "{}",
        twice.stderr
    );
    let closed = rw.run(&["channel", "retry"]);
    assert_eq!(closed.code, 0, "{}", closed.stderr);
    let (ticket, _) = ticket_of(&sandbox.psa("connectwise", "tickets"), &three);
    let notes = ticket["notes"].as_array().unwrap();
    assert_eq!(
        notes.len(),
        3,
        "two alerts, then the closing note: {ticket}"
    );
    assert_eq!(
        notes[2]["text"],
        "Resolved in Rulewatch: Rule removed, password reset <b>done</b>"
    );
    assert!(
        notes[2]["kind"].as_str().unwrap().contains("resolution"),
        "{}",
        notes[2]
    );
    let after = incident_of(&rw.run(&["incidents", "--json"]).json_lines(), &tenants[0]);
    assert_eq!(after["status"], "resolved");
    assert_eq!(
        after["resolution_note"],
        "Rule removed, password reset <b>done</b>"
    );
    // Nothing more waits, and a second pass adds nothing.
    assert_eq!(rw.run(&["channel", "retry"]).code, 0);
    let (ticket, _) = ticket_of(&sandbox.psa("connectwise", "tickets"), &three);
    assert_eq!(ticket["notes"].as_array().unwrap().len(), 3);
}

#[test]
fn autotask_and_halo_file_under_the_suggested_companies_once_confirmed() {
    for vendor in ["autotask", "halo"] {
        let (scenario, tenants, expected) = two_incidents();
        let sandbox = Sandbox::start(&scenario);
        let rw = Rulewatch::with_tenants(&sandbox, &tenants);
        let added = add(&rw, &sandbox, vendor);
        assert_eq!(added.code, 0, "{vendor}: {}", added.stderr);
        let name = channel(vendor);
        let tested = rw.run(&["channel", "test", &name]);
        assert_eq!(tested.code, 0, "{vendor}: {}", tested.stderr);
        // Only the first tenant's name has a company; the second stays on the default.
        let accepted = rw.run(&["channel", "map", &name, "--accept-suggestions"]);
        assert_eq!(accepted.code, 0, "{vendor}: {}", accepted.stderr);
        let listed = rw.run(&["channel", "companies", &name]);
        assert!(
            listed.stdout.contains("files under"),
            "{vendor}: {}",
            listed.stdout
        );
        sandbox.psa_trouble(vendor, "fail", 1);
        let scan = rw.scan();
        assert_exactly(&scan.json_lines(), &expected);
        assert!(
            scan.stderr.contains("HTTP 503"),
            "{vendor}: {}",
            scan.stderr
        );
        let retried = rw.run(&["channel", "retry"]);
        assert_eq!(retried.code, 0, "{vendor}: {}", retried.stderr);
        assert_filed(&sandbox, &rw, vendor, &tenants);
    }
}
