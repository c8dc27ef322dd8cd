//! The account-takeover signs around the rule (issue 16), through `rulewatch scan` and
//! `rulewatch incidents` against the sandbox: each new signal planted in its own feed
//! (Entra's directory audit, Exchange admin, Security & Compliance) alerts, the sandbox's
//! benign look-alikes in every feed's noise stay quiet, and a sign-in from a new country,
//! a new MFA method and a forwarding rule on one account within hours make one critical
//! incident that says so.

use m365_sandbox::attacks::{self, ForwardKind, RecordCtx};
use serde_json::{Value, json};

use crate::geo::ipstack_key_turn;
use crate::harness::*;

const LONDON: &str = "81.2.69.160";
const LAGOS: &str = "41.58.1.1";
const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
const AAD: &str = "Audit.AzureActiveDirectory";
const EXCHANGE: &str = "Audit.Exchange";
const GENERAL: &str = "Audit.General";

fn from(mut ctx: RecordCtx, ip: &str) -> RecordCtx {
    ctx.client_ip = ip.into();
    ctx.record_id = uuid::Uuid::new_v4();
    ctx
}

fn planted(t: &TestTenant, content_type: &str, record: Value, release_after_s: i64) -> Value {
    json!({"tenant_id": t.tenant_id, "content_type": content_type, "release_after_s": release_after_s, "record": record})
}

fn geo(key: &str) -> Value {
    json!({"ipstack_key": key, "locations": {
        LONDON: {"country_code": "GB", "country_name": "United Kingdom", "region_name": "England", "city": "London",
                 "asn": 2856, "isp": "British Telecommunications"},
        LAGOS: {"country_code": "NG", "country_name": "Nigeria", "region_name": "Lagos", "city": "Lagos",
                "asn": 36873, "isp": "Airtel Networks", "is_proxy": true}}})
}

/// Adele's own sign-in from London two hours ago, an intruder's from Lagos 25 minutes
/// ago, then `changes`, scanned once (times rebased to now) with sign-ins on and the
/// sandbox's ipstack answering. Holds the ipstack key's turn and the sandbox for the test.
fn scanned_after_sign_in_abroad(
    t: &TestTenant,
    changes: Vec<Value>,
) -> (std::sync::MutexGuard<'static, ()>, Sandbox, Rulewatch, Run) {
    let turn = ipstack_key_turn();
    let key = format!("ipstack-{}", uuid::Uuid::new_v4().simple());
    let mut records = vec![
        planted(t, AAD, attacks::user_logged_in(&adele(t, LONDON)), -7200),
        planted(t, AAD, attacks::user_logged_in(&adele(t, LAGOS)), -1500),
    ];
    records.extend(changes);
    let sandbox = Sandbox::start(&json!({
        "tenants": [t.scenario_json()],
        "records": records,
        "rebase_times": true,
        "geo": geo(&key),
    }));
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(t));
    let geo = rw.run_with_stdin(&["geo", "ipstack"], &format!("{key}\n"));
    assert_eq!(geo.code, 0, "{}", geo.stderr);
    let on = rw.run(&["sign-ins", "on"]);
    assert_eq!(on.code, 0, "{}", on.stderr);
    let scan = rw.scan();
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    (turn, sandbox, rw, scan)
}

/// A record's context for Adele's own account, from `ip`.
fn adele(t: &TestTenant, ip: &str) -> RecordCtx {
    from(t.ctx(0, 0), ip)
}

/// The incident about `subject` among `incidents --json`'s.
fn incident_of<'a>(incidents: &'a [Value], subject: &str) -> &'a Value {
    incidents
        .iter()
        .find(|i| i["subject"] == subject)
        .unwrap_or_else(|| panic!("an incident for {subject}: {incidents:?}"))
}

#[test]
fn sign_in_abroad_then_new_mfa_then_forwarding_is_one_critical_incident() {
    let t = TestTenant::new(0);
    // The intruder's MFA method and rule; another mailbox's forwarding alone, an
    // incident of its own with no chain.
    let (_turn, _sandbox, rw, scan) = scanned_after_sign_in_abroad(
        &t,
        vec![
            planted(
                &t,
                AAD,
                attacks::register_security_info(&adele(&t, LAGOS), "Authenticator App"),
                -1200,
            ),
            planted(
                &t,
                EXCHANGE,
                attacks::new_inbox_rule_forward(
                    &adele(&t, LAGOS),
                    "..",
                    &[&t.drop_box("exfil")],
                    ForwardKind::ForwardTo,
                ),
                -600,
            ),
            planted(
                &t,
                EXCHANGE,
                attacks::new_inbox_rule_forward(
                    &from(t.ctx(1, 1), LONDON),
                    "Copy",
                    &[&t.drop_box("other")],
                    ForwardKind::ForwardTo,
                ),
                -600,
            ),
        ],
    );
    let alerts = scan.json_lines();
    let rules: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| (a["rule"].as_str().unwrap(), a["target"].as_str().unwrap()))
        .collect();
    let adele_upn = t.users[0].as_str();
    assert!(
        rules.contains(&("mfa-changed", adele_upn)),
        "the new MFA method alerts on its own: {rules:?}"
    );
    assert!(
        rules.contains(&("inbox-rule-external-forward", adele_upn)),
        "{rules:?}"
    );

    let incidents = rw.run(&["incidents", "--json"]).json_lines();
    let hers = incident_of(&incidents, adele_upn);
    assert_eq!(hers["severity"], "critical", "{hers}");
    assert_eq!(
        hers["title"].as_str().unwrap(),
        format!(
            "Account takeover: {adele_upn} was used from Nigeria, where it had never signed in, then its MFA was \
             changed and its mail forwarded outside ({} alerts)",
            hers["alerts"].as_array().unwrap().len()
        )
    );
    let other = incidents
        .iter()
        .find(|i| i["subject"] == t.users[1].as_str())
        .expect("the other mailbox's incident");
    assert!(
        !other["title"]
            .as_str()
            .unwrap()
            .starts_with("Account takeover"),
        "{other}"
    );
}

/// The chain's other shape: the hold is IMAP turned on (a password alone lets the
/// intruder back in), the taking a rule that hides every message.
#[test]
fn sign_in_abroad_then_imap_then_a_hiding_rule_is_a_takeover_too() {
    let t = TestTenant::new(0);
    let (_turn, _sandbox, rw, _) = scanned_after_sign_in_abroad(
        &t,
        vec![
            planted(
                &t,
                EXCHANGE,
                attacks::set_cas_mailbox_legacy(&adele(&t, LAGOS), None, Some(true), None),
                -1200,
            ),
            planted(
                &t,
                EXCHANGE,
                attacks::new_inbox_rule_delete_all(&adele(&t, LAGOS), "."),
                -600,
            ),
        ],
    );
    let adele_upn = t.users[0].as_str();
    let incidents = rw.run(&["incidents", "--json"]).json_lines();
    let hers = incident_of(&incidents, adele_upn);
    assert_eq!(hers["severity"], "critical", "{hers}");
    assert_eq!(
        hers["title"].as_str().unwrap(),
        format!(
            "Account takeover: {adele_upn} was used from Nigeria, where it had never signed in, then a \
             password-only mail protocol was turned on for it and its mail hidden by an inbox rule ({} alerts)",
            hers["alerts"].as_array().unwrap().len()
        )
    );
}

#[test]
fn each_sign_alerts_from_its_own_feed_and_the_noise_s_look_alikes_stay_quiet_or_low() {
    let t = TestTenant::new(0);
    let ctx = || from(t.ctx(3, 0), LONDON);
    let records = [
        (
            AAD,
            attacks::consent_to_application(
                &ctx(),
                "eM Client",
                "e9a7fea1-1cc0-4cd9-a31b-9137ca5deedd",
                &["Mail.ReadWrite", "offline_access"],
                true,
            ),
            "app-consent-granted",
        ),
        (
            AAD,
            attacks::add_member_to_role(&ctx(), "Global Administrator", GLOBAL_ADMIN),
            "privileged-role-assigned",
        ),
        (
            AAD,
            attacks::disable_strong_authentication(&ctx()),
            "mfa-changed",
        ),
        (
            AAD,
            attacks::conditional_access_policy_deleted(&ctx(), "Require MFA for admins"),
            "conditional-access-weakened",
        ),
        (
            AAD,
            attacks::add_service_principal_credentials(
                &ctx(),
                "Payroll sync",
                "6f0b3c0e-5a8e-4d3f-9a53-1d3f0e2b7c11",
            ),
            "app-access-added",
        ),
        (
            EXCHANGE,
            attacks::set_cas_mailbox_legacy(&ctx(), Some(true), Some(true), None),
            "legacy-protocol-enabled",
        ),
        (
            GENERAL,
            attacks::remove_dlp_policy(&ctx(), "Protect financial data"),
            "protection-policy-disabled",
        ),
        // Sixty messages purged at once: a burst of one record, counted by the store.
        (
            EXCHANGE,
            attacks::hard_delete_items(&ctx(), 60),
            "mailbox-mass-deletion",
        ),
    ];
    let scenario = json!({
        "tenants": [t.scenario_json()],
        "records": records.iter().map(|(ct, r, _)| planted(&t, ct, r.clone(), -60)).collect::<Vec<_>>(),
        // A day of each feed's noise, with its benign look-alikes: consents to line-of-business
        // apps, IMAP for a scanner, security info registered from home, mailbox sharing inside.
        "noise": {"records_per_tenant": 2000, "seed": 16, "spread_s": 86_400, "alerting_look_alikes": true},
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    let scan = rw.scan();
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let alerts = scan.json_lines();
    let planted: Vec<&str> = records
        .iter()
        .map(|(_, r, _)| r["Id"].as_str().unwrap())
        .collect();
    // A burst's alert lists the records it counted (the noise's own deletions of the
    // mailbox within the hour may join the planted purge).
    let of_planted = |a: &Value| {
        planted.iter().any(|id| {
            a["record_id"] == *id
                || a["details"]["record_ids"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|r| r == *id))
        })
    };
    let mut found: Vec<&str> = alerts
        .iter()
        .filter(|a| of_planted(a))
        .map(|a| a["rule"].as_str().unwrap())
        .collect();
    found.sort();
    let mut expected: Vec<&str> = records.iter().map(|(_, _, r)| *r).collect();
    expected.sort();
    assert_eq!(
        found,
        expected,
        "each planted sign alerts once, from its own feed: {:?}",
        alerts
            .iter()
            .map(|a| (&a["rule"], &a["record_id"]))
            .collect::<Vec<_>>()
    );
    // The noise's look-alikes: consents to sign-in scopes, a user's own MFA method
    // (sign-in collection is off, so nothing is new), the scanner's IMAP and an assistant's
    // full access. The two the rules still raise by design stay at their low severities:
    // enabling one protocol on one mailbox, and full access inside the organisation.
    let from_noise: Vec<(&str, &str)> = alerts
        .iter()
        .filter(|a| !of_planted(a))
        .map(|a| (a["rule"].as_str().unwrap(), a["severity"].as_str().unwrap()))
        .collect();
    assert!(
        from_noise.iter().all(|a| matches!(
            a,
            ("legacy-protocol-enabled", "low") | ("mailbox-delegation", "medium")
        )),
        "{from_noise:?}"
    );
}

#[test]
fn a_rule_s_severity_set_for_every_tenant_or_one_is_what_new_alerts_get() {
    let (a, b) = (TestTenant::new(0), TestTenant::new(1));
    let legacy = |t: &TestTenant| {
        planted(
            t,
            EXCHANGE,
            attacks::set_cas_mailbox_legacy(
                &from(t.ctx(3, 0), LONDON),
                Some(true),
                Some(true),
                None,
            ),
            -60,
        )
    };
    let scenario = json!({
        "tenants": [a.scenario_json(), b.scenario_json()],
        "records": [legacy(&a), legacy(&b)],
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &[a.clone(), b.clone()]);
    let none_set = || {
        let listed = rw.run(&["rules", "list", "--json"]);
        assert!(
            listed
                .json_lines()
                .iter()
                .all(|r| r["severity_set"] == json!([])),
            "{}",
            listed.stdout
        );
    };
    let set = |args: &[&str]| {
        let mut all = vec!["rules", "severity"];
        all.extend_from_slice(args);
        rw.run(&all)
    };
    // Refused with what to give instead, and nothing stored.
    let unknown = set(&["legacy-protocol", "high"]);
    assert_ne!(unknown.code, 0);
    assert!(
        unknown
            .stderr
            .contains("no rule is called legacy-protocol: `rulewatch rules` lists them"),
        "{}",
        unknown.stderr
    );
    let level = set(&["legacy-protocol-enabled", "severe"]);
    assert_ne!(level.code, 0);
    assert!(
        level
            .stderr
            .contains("severe is no severity: give low, medium, high, critical"),
        "{}",
        level.stderr
    );
    let stranger = set(&[
        "legacy-protocol-enabled",
        "low",
        "--tenant",
        "00000000-0000-4000-8000-000000000000",
    ]);
    assert_ne!(stranger.code, 0);
    none_set();

    // High for every tenant, low for b.
    assert_eq!(set(&["legacy-protocol-enabled", "high"]).code, 0);
    let own = set(&["legacy-protocol-enabled", "low", "--tenant", &b.tenant_id]);
    assert_eq!(own.code, 0, "{}", own.stderr);
    let scan = rw.scan();
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let severity_of = |t: &TestTenant| {
        scan.json_lines()
            .iter()
            .find(|x| {
                x["tenant_id"] == t.tenant_id.as_str() && x["rule"] == "legacy-protocol-enabled"
            })
            .map(|x| x["severity"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("an alert for {}: {}", t.name, scan.stdout))
    };
    assert_eq!(severity_of(&a), "high", "every tenant's setting");
    assert_eq!(severity_of(&b), "low", "the tenant's own wins");
    let listed = rw.run(&["rules", "list"]);
    assert!(
        listed.stdout.contains("    set to high: every tenant"),
        "{}",
        listed.stdout
    );
    assert!(
        listed
            .stdout
            .contains(&format!("    set to low: tenant {}", b.tenant_id)),
        "{}",
        listed.stdout
    );
    // `default` gives back the rule's own.
    assert_eq!(set(&["legacy-protocol-enabled", "default"]).code, 0);
    assert_eq!(
        set(&[
            "legacy-protocol-enabled",
            "default",
            "--tenant",
            &b.tenant_id
        ])
        .code,
        0
    );
    none_set();
}
