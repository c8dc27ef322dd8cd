//! Tuning an MSP can live with (issue 16 item 5), through the real binary against the
//! sandbox: allowlist entries for one account, every tenant, an application by its id,
//! each with a reason and some with an expiry that the scenario clock lets pass; what
//! they refuse; and `rulewatch check --tenant` replaying an export with the tenant's
//! allowlist and severities.

use chrono::Duration;
use m365_sandbox::attacks::{self, RecordCtx};
use serde_json::{Value, json};

use crate::harness::*;

/// One scenario hour per 6 real seconds: an entry given two hours expires mid-test.
const SPEED: u32 = 600;
const APP_ID: &str = "5b1e4f0e-4f0a-4b8e-9a4e-2a1d8c3e7f10";

fn planted(t: &TestTenant, content_type: &str, record: &Value, release_after_s: i64) -> Value {
    json!({"tenant_id": t.tenant_id, "content_type": content_type,
           "release_after_s": release_after_s, "record": record})
}

fn imap_on(ctx: &RecordCtx) -> Value {
    attacks::set_cas_mailbox_legacy(ctx, None, Some(true), None)
}

fn consent(ctx: &RecordCtx, name: &str, app_id: &str) -> Value {
    attacks::consent_to_application(ctx, name, app_id, &["Mail.Read", "offline_access"], true)
}

#[test]
fn scoped_and_expiring_entries_quiet_what_they_name_and_check_replays_with_them() {
    let (a, b) = (TestTenant::new(0), TestTenant::new(1));
    let scanner = a.users[3].clone();
    let scanner_imap = imap_on(&a.ctx(0, 3));
    let other_imap = imap_on(&a.ctx(0, 2));
    let trusted_app = consent(&a.ctx(1, 1), "Contoso Timesheets", APP_ID);
    // Another tenant's consent to an application named after the trusted id.
    let look_alike = consent(&b.ctx(1, 1), APP_ID, "0b9d3f53-5b73-4c41-9ad2-6f6b51b9a001");
    let later_imap = imap_on(&a.ctx(0, 3));
    // Sixty messages purged at once: a burst, which the store raises, tuned as the rest.
    let purge = attacks::hard_delete_items(&b.ctx(2, 2), 60);
    let hour = Duration::hours(1).num_seconds();
    let sandbox = Sandbox::start(&json!({
        "tenants": [a.scenario_json(), b.scenario_json()],
        "records": [
            planted(&a, "Audit.Exchange", &scanner_imap, -60),
            planted(&a, "Audit.Exchange", &other_imap, -60),
            planted(&a, "Audit.AzureActiveDirectory", &trusted_app, -60),
            planted(&b, "Audit.AzureActiveDirectory", &look_alike, -60),
            planted(&b, "Audit.Exchange", &purge, -60),
            // After the scanner's entry has expired.
            planted(&a, "Audit.Exchange", &later_imap, 3 * hour),
        ],
        "rebase_times": true,
        "noise": {"records_per_tenant": 30, "seed": 5},
        "clock_speed": SPEED,
    }));
    let clock = sandbox.clock();
    let (start, _) = clock.anchor();
    let mut rw = Rulewatch::with_tenants(&sandbox, &[a.clone(), b.clone()]);
    rw.env.push(scenario_clock_env(&clock));
    let allow = |args: &[&str]| {
        let mut all = vec!["allow", "add"];
        all.extend_from_slice(args);
        rw.run(&all)
    };

    // Refusals say what was wrong and what to give instead; none stores anything.
    let refusals: [(&[&str], &str); 6] = [
        (
            &[
                &a.tenant_id,
                "--rule",
                "inbox-rule-external-forward",
                "--reason",
                "x",
            ],
            "only trusting its destination quiets; use --destination",
        ),
        (
            &[&a.tenant_id, "--rule", "imap", "--reason", "x"],
            "no rule is called 'imap': `rulewatch rules list` lists them",
        ),
        (
            &[
                "--all-tenants",
                "--app",
                "Contoso Timesheets",
                "--reason",
                "x",
            ],
            "the application id 'Contoso Timesheets' is not a GUID",
        ),
        (
            &[
                &a.tenant_id,
                "--rule",
                "legacy-protocol-enabled",
                "--user",
                "scanner",
                "--reason",
                "x",
            ],
            "'scanner' is not one account's address",
        ),
        (
            &[
                &a.tenant_id,
                "--rule",
                "legacy-protocol-enabled",
                "--reason",
                "x",
                "--expires",
                "2020-01-01",
            ],
            "has passed; give a later one",
        ),
        (
            &[
                &a.tenant_id,
                "--rule",
                "legacy-protocol-enabled",
                "--reason",
                "  ",
            ],
            "give the reason the entry is safe (--reason)",
        ),
    ];
    for (args, says) in refusals {
        let refused = allow(args);
        assert_ne!(refused.code, 0, "{args:?}");
        assert!(
            refused.stderr.contains(says),
            "{args:?}: {}",
            refused.stderr
        );
    }
    let no_reason = allow(&[&a.tenant_id, "--rule", "legacy-protocol-enabled"]);
    assert_ne!(no_reason.code, 0);
    assert!(
        no_reason.stderr.contains("--reason"),
        "{}",
        no_reason.stderr
    );
    assert_eq!(
        rw.run(&["allow", "list", "--json"]).json(),
        json!([]),
        "a refused entry stores nothing"
    );

    let for_scanner = allow(&[
        &a.tenant_id,
        "--rule",
        "legacy-protocol-enabled",
        "--user",
        &scanner.to_uppercase(),
        "--reason",
        "the copier scans to mail over IMAP",
        "--expires",
        "2h",
    ]);
    assert_eq!(for_scanner.code, 0, "{}", for_scanner.stderr);
    let app = allow(&[
        "--all-tenants",
        "--app",
        APP_ID,
        "--reason",
        "timesheets app every customer uses",
    ]);
    assert_eq!(app.code, 0, "{}", app.stderr);

    let low = rw.run(&[
        "rules",
        "severity",
        "mailbox-mass-deletion",
        "low",
        "--tenant",
        &b.tenant_id,
    ]);
    assert_eq!(low.code, 0, "{}", low.stderr);

    let first = rw.scan();
    assert_eq!(first.code, 0, "{}", first.stderr);
    let raised: Vec<(String, String)> = first
        .json_lines()
        .iter()
        .map(|x| {
            (
                x["rule"].as_str().unwrap().into(),
                x["target"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        raised.contains(&("legacy-protocol-enabled".into(), a.users[2].clone())),
        "another account of the tenant still alerts: {raised:?}"
    );
    assert!(
        !raised.iter().any(|(_, target)| *target == scanner),
        "the scanner's entry quiets it: {raised:?}"
    );
    assert_eq!(
        raised
            .iter()
            .filter(|(rule, _)| rule == "app-consent-granted")
            .count(),
        1,
        "only the look-alike's consent alerts: {raised:?}"
    );
    let purged: Vec<Value> = first
        .json_lines()
        .into_iter()
        .filter(|x| x["rule"] == "mailbox-mass-deletion")
        .collect();
    assert_eq!(purged.len(), 1, "{}", first.stdout);
    assert_eq!(
        purged[0]["severity"], "low",
        "the tenant's severity for the burst rule"
    );
    let stored = rw.alerts();
    let quiet = |rule: &str, target: &str| -> String {
        stored
            .iter()
            .find(|x| {
                x["tenant_id"] == a.tenant_id.as_str()
                    && x["rule"] == rule
                    && x["target"].as_str() == Some(target)
            })
            .filter(|x| x["status"] == "suppressed")
            .and_then(|x| x["suppressed_by"].as_str())
            .unwrap_or_else(|| panic!("{rule} for {target} stored as suppressed: {stored:?}"))
            .to_string()
    };
    assert!(
        quiet("legacy-protocol-enabled", &scanner).contains(&format!(
            "trusted rule legacy-protocol-enabled for {scanner}"
        )),
    );
    // Admin consent is about the whole organisation, not one account.
    assert!(
        quiet("app-consent-granted", "the whole organisation")
            .contains(&format!("trusted application {APP_ID}"))
    );

    // The replay: the tenant's entries and a severity set for it, on the exported records.
    let set = rw.run(&[
        "rules",
        "severity",
        "legacy-protocol-enabled",
        "critical",
        "--tenant",
        &a.tenant_id,
    ]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    let export = rw.data_dir().join("export.json");
    std::fs::write(
        &export,
        serde_json::to_vec(&json!([scanner_imap, other_imap, trusted_app, purge])).unwrap(),
    )
    .unwrap();
    let export = export.to_str().unwrap();
    let replay = rw.run(&["check", export, "--tenant", &a.tenant_id, "--json"]);
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    let replayed = replay.json_lines();
    let of = |target: &str, rule: &str| {
        replayed
            .iter()
            .find(|x| x["rule"] == rule && x["target"].as_str() == Some(target))
            .unwrap_or_else(|| panic!("{rule} for {target} replayed: {}", replay.stdout))
    };
    assert_eq!(
        of(&a.users[2], "legacy-protocol-enabled")["severity"],
        "critical"
    );
    assert_eq!(
        of(&a.users[2], "legacy-protocol-enabled")["suppressed_by"],
        Value::Null
    );
    assert!(of(&scanner, "legacy-protocol-enabled")["suppressed_by"].is_string());
    assert!(of("the whole organisation", "app-consent-granted")["suppressed_by"].is_string());
    assert!(
        replay
            .stderr
            .contains("2 alert(s) would have been raised, 2 of them kept quiet by the allowlist"),
        "{}",
        replay.stderr
    );
    let text = rw.run(&["check", export, "--tenant", &a.tenant_id]);
    assert!(
        text.stdout.contains("CRITICAL legacy-protocol-enabled")
            && text.stdout.contains("    quiet: trusted application"),
        "{}",
        text.stdout
    );
    assert!(
        replay
            .stderr
            .contains("    mailbox-mass-deletion: 1 raised, 0 quiet"),
        "{}",
        replay.stderr
    );
    let without = rw.run(&["check", export, "--json"]);
    assert!(
        without.json_lines().iter().any(|x| x["rule"] == "mailbox-mass-deletion"
            && x["tenant_id"] == b.tenant_id.as_str()),
        "check counts bursts as a scan does: {}",
        without.stdout
    );
    assert!(
        without
            .json_lines()
            .iter()
            .all(|x| x["suppressed_by"].is_null()
                && (x["rule"] != "legacy-protocol-enabled" || x["severity"] != "critical")),
        "without --tenant, detection's own view: {}",
        without.stdout
    );

    // Past the entry's two hours, the scanner's next change alerts again.
    sleep_until(&clock, start + Duration::hours(3) + Duration::minutes(10));
    let listed = rw.run(&["allow", "list"]);
    assert!(
        listed
            .stdout
            .lines()
            .any(|l| l.contains("EXPIRED  rule legacy-protocol-enabled") && l.contains(&scanner)),
        "{}",
        listed.stdout
    );
    let second = rw.scan();
    assert_eq!(second.code, 0, "{}", second.stderr);
    let again: Vec<Value> = second.json_lines();
    assert!(
        again.iter().any(|x| {
            x["rule"] == "legacy-protocol-enabled"
                && x["target"].as_str() == Some(scanner.as_str())
                && x["severity"] == "critical"
        }),
        "the expired entry quiets nothing: {}",
        second.stdout
    );
}
