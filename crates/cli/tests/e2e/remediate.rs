//! Secure and Remediate through the real binary against the sandbox: each alert kind
//! contained and the state read back from the sandbox, a repeat changing nothing, undo,
//! refusals and throttling as readable step results, the new password shown once and
//! written nowhere, and the hash-chained log verified and exported.

use m365_sandbox::attacks::{self, ForwardKind};
use serde_json::{Value, json};

use crate::harness::*;

pub(crate) fn planted(t: &TestTenant, record: Value) -> Value {
    json!({"tenant_id": t.tenant_id, "content_type": "Audit.Exchange", "release_after_s": -5, "record": record})
}

fn alert_id(rw: &Rulewatch, rule: &str, target: &str) -> String {
    let alerts = rw.alerts();
    let a = alerts
        .iter()
        .find(|a| a["rule"] == rule && a["target"] == target)
        .unwrap_or_else(|| panic!("no {rule} alert about {target} in {alerts:?}"));
    a["id"].to_string()
}

/// The steps of one `remediate --json` run, by action.
fn steps(run: &Run) -> Vec<Value> {
    run.json_lines()
}

fn step<'a>(steps: &'a [Value], action: &str) -> &'a Value {
    steps
        .iter()
        .find(|s| s["action"] == action)
        .unwrap_or_else(|| panic!("no {action} step in {steps:?}"))
}

fn rule<'a>(user: &'a Value, name: &str) -> Option<&'a Value> {
    user["inbox_rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
}

/// Every file in the data folder, as bytes.
fn data_files(rw: &Rulewatch) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(rw.data_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.path().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_forwarding_rule_is_contained_verified_repeated_undone_and_recorded() {
    let t = TestTenant::new(0);
    let megan = &t.users[1];
    let drop_box = t.drop_box("sync");
    let scenario = json!({
        "tenants": [t.scenario_json()],
        "records": [planted(&t, attacks::new_inbox_rule_forward(&t.ctx(1, 1), "Sync", &[&drop_box], ForwardKind::ForwardTo))],
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    assert_eq!(rw.scan().code, 0);
    let id = alert_id(&rw, "inbox-rule-external-forward", megan);
    assert_eq!(
        rule(&sandbox.user(&t.tenant_id, megan), "Sync").unwrap()["enabled"],
        true,
        "the released record left the rule"
    );

    // Declining the plan changes nothing.
    let declined = rw.run_with_stdin(&["remediate", &id], "n\n");
    assert_eq!(declined.code, 0, "{}", declined.stderr);
    assert!(
        declined.stderr.contains(&format!("mailbox {megan}"))
            && declined.stderr.contains("Nothing was changed"),
        "{}",
        declined.stderr
    );
    assert!(
        declined.stderr.contains("<- the alert's rule") && declined.stderr.contains(&drop_box),
        "the plan shows the live rule: {}",
        declined.stderr
    );
    assert!(
        declined.stderr.contains("client-only rules"),
        "rule steps warn what Exchange deletes besides: {}",
        declined.stderr
    );
    assert_eq!(sandbox.user(&t.tenant_id, megan)["account_enabled"], true);

    // Confirmed: every default step done and verified in the sandbox.
    let run = rw.run_with_stdin(&["remediate", &id, "--json", "-vv"], "y\n");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let done = steps(&run);
    let actions: Vec<&str> = done.iter().map(|s| s["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "block-sign-in",
            "revoke-sessions",
            "reset-password",
            "disable-rule"
        ],
        "in containment order"
    );
    for s in &done {
        assert_eq!(s["outcome"], "done", "{s}");
    }
    let user = sandbox.user(&t.tenant_id, megan);
    assert_eq!(user["account_enabled"], false);
    assert!(
        user["sessions_revoked_at"].is_string() && user["password_changed_at"].is_string(),
        "{user}"
    );
    assert_eq!(user["force_change_password"], true);
    assert_eq!(
        rule(&user, "Sync").unwrap()["enabled"],
        false,
        "disabled, kept as evidence"
    );

    // The password is shown once, in the output, and written nowhere.
    let password = step(&done, "reset-password")["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(password.len() >= 16);
    assert_eq!(run.stdout.matches(&password).count(), 1);
    assert!(!run.stderr.contains(&password));
    for (file, bytes) in data_files(&rw) {
        assert!(
            !bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "the password is in {file}"
        );
    }
    let audit = rw.run(&["audit", "--json"]);
    assert!(
        !audit.stdout.contains(&password) && audit.stdout.contains("passwordProfile"),
        "{}",
        audit.stdout
    );

    // A repeat finds everything already so and resets nothing.
    let again = rw.run(&[
        "remediate",
        &id,
        "--yes",
        "--json",
        "--actions",
        "block-sign-in,revoke-sessions,reset-password,disable-rule",
    ]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    for s in steps(&again) {
        assert_eq!(s["outcome"], "already_so", "{s}");
        assert!(s.get("password").is_none());
    }
    assert_eq!(
        sandbox.user(&t.tenant_id, megan)["password_changed_at"],
        user["password_changed_at"]
    );

    // Undo re-enables the rule and sign-in; a second undo is already so; a reset cannot be undone.
    let disable_id = step(&done, "disable-rule")["action_id"].to_string();
    let undo = rw.run(&["undo", &disable_id, "--yes", "--json"]);
    assert_eq!(undo.code, 0, "{}", undo.stderr);
    assert_eq!(undo.json_lines()[0]["outcome"], "done");
    assert_eq!(
        rule(&sandbox.user(&t.tenant_id, megan), "Sync").unwrap()["enabled"],
        true
    );
    assert_eq!(
        rw.run(&["undo", &disable_id, "--yes", "--json"])
            .json_lines()[0]["outcome"],
        "already_so"
    );
    let block_id = step(&done, "block-sign-in")["action_id"].to_string();
    assert_eq!(rw.run(&["undo", &block_id, "--yes", "--json"]).code, 0);
    assert_eq!(sandbox.user(&t.tenant_id, megan)["account_enabled"], true);
    let reset_id = step(&done, "reset-password")["action_id"].to_string();
    let refused = rw.run(&["undo", &reset_id, "--yes"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("cannot be undone")
            && refused.stderr.contains("old password is not kept"),
        "{}",
        refused.stderr
    );

    // Removing the rule while it is disabled; a second removal is already so (the rule is gone).
    let disabled = rw.run(&[
        "remediate",
        &id,
        "--yes",
        "--json",
        "--actions",
        "disable-rule",
    ]);
    assert_eq!(
        step(&steps(&disabled), "disable-rule")["outcome"],
        "done",
        "{}",
        disabled.stdout
    );
    let rule_number = rule(&sandbox.user(&t.tenant_id, megan), "Sync").unwrap()["rule_identity"]
        .as_str()
        .unwrap()
        .to_string();
    let removed = rw.run(&[
        "remediate",
        &id,
        "--yes",
        "--json",
        "--actions",
        "remove-rule",
    ]);
    assert_eq!(
        step(&steps(&removed), "remove-rule")["outcome"],
        "done",
        "{}",
        removed.stdout
    );
    assert!(rule(&sandbox.user(&t.tenant_id, megan), "Sync").is_none());
    let twice = rw.run(&[
        "remediate",
        &id,
        "--yes",
        "--json",
        "--actions",
        "remove-rule",
    ]);
    let second = step(&steps(&twice), "remove-rule").clone();
    assert_eq!(second["outcome"], "already_so", "{second}");
    assert!(
        second["detail"]
            .as_str()
            .unwrap()
            .contains("no longer in the mailbox"),
        "{second}"
    );
    // The record keeps Exchange's RuleIdentity, a number above i64::MAX, digit for digit.
    let remove_id = step(&steps(&removed), "remove-rule")["action_id"].clone();
    let log = rw.run(&["audit", "--json"]).json_lines();
    let row = log.iter().find(|e| e["id"] == remove_id).unwrap();
    assert_eq!(
        row["before"]["RuleIdentity"].to_string(),
        rule_number,
        "{row}"
    );
    // Undoing the removal re-creates the rule from its recorded definition with
    // New-InboxRule's own parameters (the recipient as a bare address), then disables it
    // again, as it was (§G 7).
    let undone = rw.run(&["undo", &remove_id.to_string(), "--yes", "--json"]);
    assert_eq!(
        undone.json_lines()[0]["outcome"],
        "done",
        "{}",
        undone.stdout
    );
    let back = sandbox.user(&t.tenant_id, megan);
    let recreated = rule(&back, "Sync").expect("the rule is back");
    assert_eq!(recreated["forward_to"], json!([drop_box]), "{recreated}");
    assert_eq!(recreated["enabled"], false, "{recreated}");

    // Every step is in the log; the chain verifies; both exports hold every row.
    let log = rw.run(&["audit", "--json"]).json_lines();
    assert_eq!(log.len(), 4 + 4 + 3 + 3 + 1, "{log:?}");
    assert!(
        log.iter()
            .all(|e| e["os_user"].as_str().is_some_and(|u| !u.is_empty())
                && e["tenant_id"] == t.tenant_id.as_str())
    );
    let verify = rw.run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    assert!(
        verify.stdout.contains("intact: 15 row(s)"),
        "{}",
        verify.stdout
    );
    let csv_path = rw.data_dir().join("log.csv");
    let json_path = rw.data_dir().join("log.json");
    assert_eq!(
        rw.run(&[
            "audit",
            "export",
            "--format",
            "csv",
            csv_path.to_str().unwrap()
        ])
        .code,
        0
    );
    assert_eq!(
        rw.run(&[
            "audit",
            "export",
            "--format",
            "json",
            json_path.to_str().unwrap()
        ])
        .code,
        0
    );
    let csv_rows = csv::Reader::from_path(&csv_path).unwrap().records().count();
    let json_rows: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!((csv_rows, json_rows.as_array().unwrap().len()), (15, 15));
    let exported = std::fs::read_to_string(&csv_path).unwrap();
    assert!(!exported.contains(&password));

    // The customer's report: the evidence and every step, the password nowhere.
    let reports = rw.data_dir().join("reports");
    let written = rw.run(&["report", &id, "--dir", reports.to_str().unwrap()]);
    assert_eq!(written.code, 0, "{}", written.stderr);
    let html = std::fs::read_to_string(written.stdout.trim()).unwrap();
    for expected in [
        megan.as_str(),
        drop_box.as_str(),
        "block-sign-in",
        "reset-password",
        "remediation record is intact",
    ] {
        assert!(html.contains(expected), "the report lacks {expected}");
    }
    assert!(!html.contains(&password));
}

#[test]
fn mailbox_forwarding_is_cleared_and_restored() {
    let t = TestTenant::new(0);
    let lidia = &t.users[2];
    let outside = t.drop_box("books");
    let scenario = json!({
        "tenants": [t.scenario_json()],
        "records": [planted(&t, attacks::set_mailbox_forwarding(&t.ctx(3, 2), Some(&format!("smtp:{outside}")), None, true))],
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    assert_eq!(rw.scan().code, 0);
    let id = alert_id(&rw, "mailbox-external-forward", lidia);

    // The change was made by the admin account: the plan says so; the default steps
    // contain the mailbox, and --contain-actor adds the admin's account.
    let run = rw.run(&["remediate", &id, "--yes", "--json", "--contain-actor"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("made by another account, {}", t.users[3])),
        "{}",
        run.stderr
    );
    let results = steps(&run);
    let done: Vec<(&str, &str)> = results
        .iter()
        .map(|s| {
            (
                s["action"].as_str().unwrap(),
                s["account"].as_str().unwrap(),
            )
        })
        .collect();
    let (admin, lidia_s) = (t.users[3].as_str(), lidia.as_str());
    assert_eq!(
        done,
        [
            ("block-sign-in", lidia_s),
            ("block-sign-in", admin),
            ("revoke-sessions", lidia_s),
            ("revoke-sessions", admin),
            ("reset-password", lidia_s),
            ("reset-password", admin),
            ("clear-forwarding", lidia_s)
        ]
    );
    assert!(
        results.iter().all(|s| s["outcome"] == "done"),
        "{results:?}"
    );
    let clear = step(&results, "clear-forwarding").clone();
    let user = sandbox.user(&t.tenant_id, lidia);
    assert_eq!(
        (
            &user["forwarding_smtp_address"],
            &user["deliver_to_mailbox_and_forward"]
        ),
        (&Value::Null, &json!(false))
    );
    assert_eq!(
        (
            &user["account_enabled"],
            &sandbox.user(&t.tenant_id, admin)["account_enabled"]
        ),
        (&json!(false), &json!(false))
    );

    let undo = rw.run(&["undo", &clear["action_id"].to_string(), "--yes", "--json"]);
    assert_eq!(undo.json_lines()[0]["outcome"], "done", "{}", undo.stdout);
    let user = sandbox.user(&t.tenant_id, lidia);
    assert_eq!(user["forwarding_smtp_address"], format!("smtp:{outside}"));
    assert_eq!(user["deliver_to_mailbox_and_forward"], true);
}

#[test]
fn refusals_and_throttling_are_readable_step_results_and_never_stop_the_others() {
    let t = TestTenant::new(0);
    let adele = &t.users[0];
    let mut tenant = t.scenario_json();
    // The app may read users and revoke sessions, but not block sign-in; no Exchange role.
    tenant["roles"] = json!([
        "ActivityFeed.Read",
        "Domain.Read.All",
        "User.Read.All",
        "User.RevokeSessions.All"
    ]);
    tenant["directory_roles"] = json!([]);
    let scenario = json!({
        "tenants": [tenant],
        "records": [planted(&t, attacks::new_inbox_rule_delete_all(&t.ctx(0, 0), "."))],
        "faults": {"retry_after_s": 1, "script": [
            {"endpoint": "users", "tenant_id": t.tenant_id, "fault": "throttle", "count": 2},
            {"endpoint": "invoke_command", "tenant_id": t.tenant_id, "fault": "server_error", "count": 2},
        ]},
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    assert_eq!(rw.scan().code, 0);
    let id = alert_id(&rw, "inbox-rule-hides-mail", adele);

    let run = rw.run(&[
        "remediate",
        &id,
        "--yes",
        "--json",
        "-v",
        "--actions",
        "block-sign-in,revoke-sessions,disable-rule",
    ]);
    assert_eq!(
        run.code, 4,
        "a failed step exits 4: {}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains("throttled"),
        "throttling is retried and said: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("failed (HTTP 50"),
        "an outage is retried and said: {}",
        run.stderr
    );
    let results = steps(&run);
    let block = step(&results, "block-sign-in");
    assert_eq!(block["outcome"], "failed");
    let why = block["detail"].as_str().unwrap();
    assert!(
        why.contains("permission denied") && why.contains("User.EnableDisableAccount.All"),
        "{why}"
    );
    assert_eq!(
        step(&results, "revoke-sessions")["outcome"],
        "done",
        "a failed step does not stop the others"
    );
    let rule_step = step(&results, "disable-rule");
    assert_eq!(rule_step["outcome"], "failed");
    assert!(
        rule_step["detail"]
            .as_str()
            .unwrap()
            .contains("Exchange.ManageAsApp"),
        "{rule_step}"
    );
    assert_eq!(sandbox.user(&t.tenant_id, adele)["account_enabled"], true);

    // Consented but without an Exchange role, Exchange answers 403 with NUL bytes (§G 6).
    sandbox.patch_tenant(&t.tenant_id, json!({"roles": ["ActivityFeed.Read", "Domain.Read.All", "User.Read.All", "Exchange.ManageAsApp"]}));
    let empty = rw.run(&[
        "remediate",
        &id,
        "--yes",
        "--json",
        "--actions",
        "disable-rule",
    ]);
    let why = step(&steps(&empty), "disable-rule")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.contains("Exchange refused (HTTP 403) with an empty answer: the app's service principal probably lacks the Exchange Administrator role"),
        "{why}"
    );
    assert!(!why.contains('\0'), "{why:?}");

    // Granted, the failed steps succeed on retry.
    sandbox.patch_tenant(&t.tenant_id, json!({"roles": ["ActivityFeed.Read", "Domain.Read.All", "User.ReadWrite.All", "Exchange.ManageAsApp"], "directory_roles": ["Exchange Administrator"]}));
    let retry = rw.run(&[
        "remediate",
        &id,
        "--yes",
        "--json",
        "--actions",
        "block-sign-in,disable-rule",
    ]);
    assert_eq!(retry.code, 0, "{}\n{}", retry.stdout, retry.stderr);
    assert!(
        steps(&retry).iter().all(|s| s["outcome"] == "done"),
        "{}",
        retry.stdout
    );
    let user = sandbox.user(&t.tenant_id, adele);
    assert_eq!(user["account_enabled"], false);
    assert_eq!(rule(&user, ".").unwrap()["enabled"], false);
}

/// The corpus's own Set-Mailbox record (its mailbox named by GUID), planted in `t` as a
/// change its admin made.
fn corpus_set_mailbox(t: &TestTenant) -> Value {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/records/set-mailbox-forwardingsmtpaddress-smtp-prefix.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is needed by this test ({e}); see README.md",
            path.display()
        )
    });
    let mut record = serde_json::from_str::<Value>(&text).unwrap()[0].clone();
    record["OrganizationId"] = json!(t.tenant_id);
    record["OrganizationName"] = json!(t.initial_domain);
    record["UserId"] = json!(t.users[3]);
    record
}

#[test]
fn a_mailbox_named_by_guid_or_by_an_address_that_is_not_the_upn_is_resolved_before_anything_is_planned()
 {
    const GUID: &str = "311b45d6-1a3e-46ac-8434-721367961e19";
    let t = TestTenant::new(0);
    let lidia = &t.users[2];
    let primary = format!("lidia.b@{}", t.domain);
    let mut tenant = t.scenario_json();
    tenant["users"][2]["mailbox_guid"] = json!(GUID);
    tenant["users"][2]["primary_smtp_address"] = json!(primary);
    // Two mailboxes share a display name: "Finance" names neither.
    tenant["users"][0]["display_name"] = json!("Finance");
    tenant["users"][1]["display_name"] = json!("Finance");
    // The admin's rule in Lidia's mailbox names it by her primary address, which Graph does not know.
    let mut rule_record = attacks::new_inbox_rule_forward(
        &t.ctx(3, 2),
        "Sync",
        &[&t.drop_box("sync")],
        ForwardKind::ForwardTo,
    );
    for p in rule_record["Parameters"].as_array_mut().unwrap() {
        if p["Name"] == "Mailbox" {
            p["Value"] = json!(primary);
        }
    }
    let mut finance = attacks::set_mailbox_forwarding(
        &t.ctx(3, 0),
        Some(&format!("smtp:{}", t.drop_box("fin"))),
        None,
        true,
    );
    finance["ObjectId"] = json!("Finance");
    for p in finance["Parameters"].as_array_mut().unwrap() {
        if p["Name"] == "Identity" {
            p["Value"] = json!("Finance");
        }
    }
    let scenario = json!({
        "tenants": [tenant],
        "records": [planted(&t, corpus_set_mailbox(&t)), planted(&t, rule_record), planted(&t, finance)],
        "rebase_times": true,
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    assert_eq!(rw.scan().code, 0);
    assert_eq!(
        sandbox.user(&t.tenant_id, lidia)["forwarding_smtp_address"],
        "smtp:bla@bla.com"
    );

    // By GUID: the corpus record's mailbox is Lidia's, contained under her UPN.
    let id = alert_id(&rw, "mailbox-external-forward", GUID);
    let run = rw.run(&["remediate", &id, "--yes", "--json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "Mailbox: {lidia} (sign-in allowed, resolved from {GUID})"
        )),
        "{}",
        run.stderr
    );
    let results = steps(&run);
    let done: Vec<(&str, &str, &str)> = results
        .iter()
        .map(|s| {
            (
                s["action"].as_str().unwrap(),
                s["account"].as_str().unwrap(),
                s["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    let l = lidia.as_str();
    assert_eq!(
        done,
        [
            ("block-sign-in", l, "done"),
            ("revoke-sessions", l, "done"),
            ("reset-password", l, "done"),
            ("clear-forwarding", l, "done")
        ]
    );
    let user = sandbox.user(&t.tenant_id, lidia);
    assert_eq!(
        (&user["account_enabled"], &user["forwarding_smtp_address"]),
        (&json!(false), &Value::Null)
    );

    // By a primary SMTP address that is not the UPN: Graph would answer 404 for it.
    let id = alert_id(&rw, "inbox-rule-external-forward", &primary);
    let run = rw.run(&[
        "remediate",
        &id,
        "--yes",
        "--json",
        "--actions",
        "disable-rule",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!("resolved from {primary}")),
        "{}",
        run.stderr
    );
    assert_eq!(
        step(&steps(&run), "disable-rule")["outcome"],
        "done",
        "{}",
        run.stdout
    );
    assert_eq!(
        rule(&sandbox.user(&t.tenant_id, lidia), "Sync").unwrap()["enabled"],
        false
    );

    // A name that matches two mailboxes is refused before anything is planned or changed.
    let rows = rw.run(&["audit", "--json"]).json_lines().len();
    let id = alert_id(&rw, "mailbox-external-forward", "Finance");
    let refused = rw.run(&["remediate", &id, "--yes", "--json"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused
            .stderr
            .contains("does not resolve to exactly one mailbox"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("matches multiple entries"),
        "Exchange's reason: {}",
        refused.stderr
    );
    assert_eq!(
        rw.run(&["audit", "--json"]).json_lines().len(),
        rows,
        "nothing was recorded"
    );
    for user in &t.users[..2] {
        assert_eq!(sandbox.user(&t.tenant_id, user)["account_enabled"], true);
    }
}

#[test]
fn a_change_that_shows_late_is_done_and_one_that_never_shows_is_sent_not_yet_visible() {
    let t = TestTenant::new(0);
    let megan = &t.users[1];
    let mut tenant = t.scenario_json();
    // Each write shows in reads only a second later (../shared/reference/m365-api.md §G 11).
    tenant["write_visible_after_ms"] = json!(1000);
    let scenario = json!({
        "tenants": [tenant],
        "records": [planted(&t, attacks::new_inbox_rule_forward(&t.ctx(1, 1), "Sync", &[&t.drop_box("sync")], ForwardKind::ForwardTo))],
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    assert_eq!(rw.scan().code, 0);
    let id = alert_id(&rw, "inbox-rule-external-forward", megan);

    // Read back again and again, the changes show before the schedule ends: done.
    let run = rw.run(&[
        "remediate",
        &id,
        "--yes",
        "--json",
        "-v",
        "--verify-delays",
        "0.3,0.6,1.2",
        "--actions",
        "block-sign-in,disable-rule",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for s in steps(&run) {
        assert_eq!(s["outcome"], "done", "{s}");
    }
    assert!(
        run.stderr.contains("does not show yet"),
        "the read-backs are visible at -v: {}",
        run.stderr
    );
    let block_id = step(&steps(&run), "block-sign-in")["action_id"].to_string();

    // Never visible within the schedule: sent, not yet visible, never failed.
    sandbox.patch_tenant(&t.tenant_id, json!({"write_visible_after_ms": 600_000}));
    let late = rw.run(&[
        "remediate",
        &id,
        "--yes",
        "--verify-delays",
        "0.1,0.1",
        "--actions",
        "revoke-sessions",
    ]);
    assert_eq!(
        late.code, 0,
        "not a failure: {}\n{}",
        late.stdout, late.stderr
    );
    assert!(
        late.stdout
            .starts_with("sent, not yet visible revoke-sessions"),
        "{}",
        late.stdout
    );
    assert!(late.stdout.contains("check again"), "{}", late.stdout);
    assert!(
        sandbox.user(&t.tenant_id, megan)["sessions_revoked_at"].is_string(),
        "the change was made"
    );
    let undo = rw.run(&[
        "undo",
        &block_id,
        "--yes",
        "--json",
        "--verify-delays",
        "0.1",
    ]);
    let undone = &undo.json_lines()[0];
    assert_eq!(undone["outcome"], "sent_not_visible", "{undone}");
    assert_eq!(sandbox.user(&t.tenant_id, megan)["account_enabled"], true);
    let log = rw.run(&["audit", "--json"]).json_lines();
    let results: Vec<&str> = log
        .iter()
        .rev()
        .take(2)
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        ["sent_not_visible", "sent_not_visible"],
        "recorded as such"
    );
}

/// Issue 11, item 15: a rule named to hold another mailbox's address (`…/ceo@…\x`)
/// makes neither the alert nor the plan name that mailbox.
#[test]
fn a_crafted_rule_name_never_chooses_the_mailbox_of_the_alert_or_the_plan() {
    let t = TestTenant::new(0);
    let (adele, megan) = (&t.users[0], &t.users[1]);
    let crafted = format!("Invoices/{adele}\\x");
    let scenario = json!({
        "tenants": [t.scenario_json()],
        "records": [planted(&t, attacks::new_inbox_rule_forward(&t.ctx(1, 1), &crafted, &[&t.drop_box("inv")], ForwardKind::ForwardTo))],
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    assert_eq!(rw.scan().code, 0);
    let alerts = rw.alerts();
    assert!(
        alerts.iter().all(|a| a["target"] != adele.as_str()),
        "{alerts:?}"
    );
    let id = alert_id(&rw, "inbox-rule-external-forward", megan);

    let plan = rw.run_with_stdin(&["remediate", &id], "n\n");
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stderr.contains(&format!("Mailbox: {megan}")),
        "{}",
        plan.stderr
    );
    assert!(
        !plan.stderr.contains(&format!("for {adele}")),
        "no step touches {adele}: {}",
        plan.stderr
    );
}

/// Issue 11, item 22: alerts without one mailbox of the tenant to contain say what to do
/// instead, and an account of another tenant is never offered for containment.
#[test]
fn fan_in_mail_flow_and_partner_actor_alerts_offer_only_what_fits() {
    let t = TestTenant::new(0);
    let (adele, megan) = (&t.users[0], &t.users[1]);
    let drop_box = t.drop_box("campaign");
    let mut transport = attacks::set_mailbox_forwarding(&t.ctx(3, 3), None, None, false);
    transport["Operation"] = json!("New-TransportRule");
    transport["ObjectId"] = json!("Archive copy");
    transport["Parameters"] = json!([{"Name": "Name", "Value": "Archive copy"}, {"Name": "BlindCopyTo", "Value": drop_box}]);
    let mut technician = t.ctx(1, 1);
    technician.actor_upn =
        "user_4b1f2a9c7d6e5f408a3b2c1d0e9f8a7b@msppartner.onmicrosoft.com".into();
    let scenario = json!({
        "tenants": [t.scenario_json()],
        "records": [
            planted(&t, attacks::new_inbox_rule_forward(&t.ctx(0, 0), "Sync", &[&drop_box], ForwardKind::ForwardTo)),
            planted(&t, attacks::set_mailbox_forwarding(&technician, Some(&drop_box), None, false)),
            planted(&t, transport),
        ],
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    assert_eq!(rw.scan().code, 0);

    // Fan-in: the outside address is no mailbox; each member's own alert is named.
    let fan_in = alert_id(&rw, "forwarding-fan-in", &drop_box);
    let member = alert_id(&rw, "inbox-rule-external-forward", adele);
    let refused = rw.run(&["remediate", &fan_in, "--yes"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("no mailbox of it to contain"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains(&format!("alert {member} ({adele} in {})", t.name)),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("Block sign-in"),
        "{}",
        refused.stderr
    );

    // A mail-flow rule: what to do in the Exchange admin center.
    let rule = alert_id(&rw, "transport-rule-redirect", "the whole organisation");
    let refused = rw.run(&["remediate", &rule, "--yes"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("Exchange admin center")
            && refused.stderr.contains("\"Archive copy\""),
        "{}",
        refused.stderr
    );

    // A partner technician's change: the mailbox is contained, the technician never.
    let forwarded = alert_id(&rw, "mailbox-external-forward", megan);
    let plan = rw.run_with_stdin(&["remediate", &forwarded], "n\n");
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stderr.contains("not offered for containment")
            && plan.stderr.contains("Partner Center"),
        "{}",
        plan.stderr
    );
    assert!(
        !plan.stderr.contains("add --contain-actor"),
        "{}",
        plan.stderr
    );
    let refused = rw.run(&["remediate", &forwarded, "--yes", "--contain-actor"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("--contain-actor") && refused.stderr.contains("accepted domains"),
        "{}",
        refused.stderr
    );
    let technician_account = sandbox.user(&t.tenant_id, &technician.actor_upn);
    assert_eq!(
        technician_account["account_enabled"], true,
        "nothing was run"
    );
}

/// Issue 11, item 19: a fan-in spanning two customers gives each its own report, naming
/// only its own mailboxes and counting the other's.
#[test]
fn a_fan_in_across_customers_is_reported_to_each_without_the_others_names() {
    let (a, b) = (TestTenant::new(0), TestTenant::new(1));
    let drop_box = a.drop_box("shared");
    let scenario = json!({
        "tenants": [a.scenario_json(), b.scenario_json()],
        "records": [
            planted(&a, attacks::new_inbox_rule_forward(&a.ctx(0, 0), "Sync", &[&drop_box], ForwardKind::ForwardTo)),
            planted(&b, attacks::new_inbox_rule_forward(&b.ctx(1, 1), "Sync", &[&drop_box], ForwardKind::ForwardTo)),
        ],
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &[a.clone(), b.clone()]);
    assert_eq!(rw.scan().code, 0);
    let fan_in = alert_id(&rw, "forwarding-fan-in", &drop_box);
    let dir = rw.data_dir().join("reports");
    let written = rw.run(&["report", &fan_in, "--dir", dir.to_str().unwrap()]);
    assert_eq!(written.code, 0, "{}", written.stderr);
    let paths: Vec<&str> = written.stdout.lines().collect();
    assert_eq!(
        paths.len(),
        2,
        "one report per customer: {}",
        written.stdout
    );
    for (own, other) in [(&a, &b), (&b, &a)] {
        let path = paths
            .iter()
            .find(|p| p.contains(&own.tenant_id))
            .unwrap_or_else(|| panic!("no report for {}", own.name));
        let html = std::fs::read_to_string(path).unwrap();
        assert!(
            html.contains(&own.name) && html.contains(&drop_box),
            "{path}"
        );
        assert!(
            html.contains("1 mailbox in other organisations you watch"),
            "{html}"
        );
        assert!(
            !html.contains(&other.name)
                && !html.contains(&other.domain)
                && !html.contains(&other.tenant_id),
            "{path} names the other customer: {html}"
        );
    }
}

#[test]
fn undo_refuses_a_step_whose_record_was_edited_and_verify_prints_the_head() {
    let t = TestTenant::new(0);
    let lidia = &t.users[2];
    let outside = t.drop_box("books");
    let scenario = json!({
        "tenants": [t.scenario_json()],
        "records": [planted(&t, attacks::set_mailbox_forwarding(&t.ctx(2, 2), Some(&format!("smtp:{outside}")), None, true))],
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    assert_eq!(rw.scan().code, 0);
    let id = alert_id(&rw, "mailbox-external-forward", lidia);
    let run = rw.run(&[
        "remediate",
        &id,
        "--yes",
        "--json",
        "--actions",
        "clear-forwarding",
    ]);
    let clear = step(&steps(&run), "clear-forwarding").clone();
    assert_eq!(clear["outcome"], "done", "{}", run.stderr);
    let step_id = clear["action_id"].as_i64().unwrap();

    let verify = rw.run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    let head_line = verify
        .stdout
        .lines()
        .find(|l| l.starts_with("Head: row "))
        .unwrap_or_else(|| panic!("{}", verify.stdout));
    let hash = head_line
        .split("hash ")
        .nth(1)
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(hash.len(), 64, "{head_line}");
    assert!(
        verify
            .stdout
            .contains("proves nothing against someone who can use the key"),
        "{}",
        verify.stdout
    );
    assert!(
        verify
            .stdout
            .contains("nor that Microsoft did what a step says"),
        "{}",
        verify.stdout
    );
    let since = format!("{step_id}:{hash}");
    assert_eq!(rw.run(&["audit", "verify", "--since", &since]).code, 0);
    let db = rw.data_dir().join("rulewatch.db");

    // Undo says what it would restore and asks a second time before forwarding outside.
    let declined = rw.run_with_stdin(&["undo", &step_id.to_string()], "y\nn\n");
    assert_eq!(declined.code, 0, "{}", declined.stderr);
    assert!(
        declined.stderr.contains(&format!(
            "This will forward all mail from {lidia} to {outside} again"
        )),
        "{}",
        declined.stderr
    );
    assert!(
        declined.stderr.contains(&format!(
            "Mail will go outside the organisation again, to {outside}"
        )),
        "{}",
        declined.stderr
    );
    assert!(
        declined.stderr.contains("Nothing was changed"),
        "{}",
        declined.stderr
    );
    assert_eq!(
        sandbox.user(&t.tenant_id, lidia)["forwarding_smtp_address"],
        Value::Null
    );

    // Someone edits the recorded before-state so that an undo would forward mail to them.
    let theirs = t.drop_box("theirs");
    let c = rusqlite::Connection::open(&db).unwrap();
    let before: String = c
        .query_row(
            "SELECT before_state FROM remediation_log WHERE id = ?1",
            [step_id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(before.contains(&outside), "{before}");
    c.execute(
        "UPDATE remediation_log SET before_state = ?2 WHERE id = ?1",
        rusqlite::params![step_id, before.replace(&outside, &theirs)],
    )
    .unwrap();
    drop(c);

    let refused = rw.run(&["undo", &step_id.to_string(), "--yes"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains(&format!(
            "step {step_id} of the remediation record does not check out"
        )) && refused.stderr.contains("was changed after it was written")
            && refused.stderr.contains("will not act on it"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        sandbox.user(&t.tenant_id, lidia)["forwarding_smtp_address"],
        Value::Null,
        "nothing was restored"
    );
    let verify = rw.run(&["audit", "verify", "--since", &since]);
    assert_eq!(verify.code, 5, "{}", verify.stdout);
    assert!(
        verify
            .stdout
            .contains(&format!("BROKEN from row {step_id}")),
        "{}",
        verify.stdout
    );
    let bad = rw.run(&["audit", "verify", "--since", "14"]);
    assert!(
        bad.code != 0 && bad.stderr.contains("give ID:HASH"),
        "{}",
        bad.stderr
    );
}
