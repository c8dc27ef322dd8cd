//! Attacker-written text on the terminal (issue 11, item 16): rule names, actors,
//! addresses and names carrying escape sequences are printed escaped by every command,
//! and characters that reorder or hide text are named.

use m365_sandbox::attacks::{self, ForwardKind};
use serde_json::json;

use crate::harness::*;
use crate::remediate::planted;

/// Erases the line, returns the cursor, opens an OSC 8 link, and reverses the rest.
pub(crate) const HOSTILE: &str =
    "\u{1b}[2K\r\u{1b}]8;;http://evil.example/\u{7}x\u{1b}]8;;\u{7}\u{202E}";

/// What no output may contain raw: ESC, CR, BEL, the C1 CSI and the bidi override.
pub(crate) fn assert_shown(what: &str, text: &str) {
    for raw in ['\u{1b}', '\r', '\u{7}', '\u{9b}', '\u{202E}'] {
        assert!(!text.contains(raw), "{what} printed {raw:?} raw:\n{text:?}");
    }
}

#[test]
fn escape_sequences_in_records_and_names_never_reach_the_terminal_raw() {
    let mut t = TestTenant::new(0);
    // `tenant add` refuses control characters in a name, not a bidi override.
    t.name = "Contoso \u{202E}ltd".into();
    let megan = t.users[1].clone();
    let rule_name = format!("Sync{HOSTILE}");
    let mut rule = attacks::new_inbox_rule_forward(
        &t.ctx(1, 1),
        &rule_name,
        &[&t.drop_box("sync")],
        ForwardKind::ForwardTo,
    );
    rule["ClientIP"] = json!(format!("203.0.113.7{HOSTILE}"));
    let mut forwarding =
        attacks::set_mailbox_forwarding(&t.ctx(3, 2), Some(&t.drop_box("drop")), None, false);
    forwarding["UserId"] = json!(format!("admin{HOSTILE}@{}", t.domain));
    let scenario = json!({"tenants": [t.scenario_json()], "records": [planted(&t, rule), planted(&t, forwarding)]});
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));

    let scan = rw.run(&["scan"]);
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    assert!(
        scan.stdout.contains("\\u{1b}[2K"),
        "the rule name is printed, escaped: {}",
        scan.stdout
    );
    assert_shown("scan", &format!("{}{}", scan.stdout, scan.stderr));

    let alerts = rw.run(&["alerts"]);
    assert_shown("alerts", &alerts.stdout);
    for expected in [
        "Sync\\u{1b}[2K\\u{d}\\u{1b}]8;;http://evil.example/\\u{7}x",
        "<U+202E>",
        "203.0.113.7\\u{1b}",
        "admin\\u{1b}[2K",
    ] {
        assert!(
            alerts.stdout.contains(expected),
            "{expected} in {}",
            alerts.stdout
        );
    }
    // Machines get the value as logged, in valid JSON.
    let json_alerts = rw.alerts();
    assert!(
        json_alerts
            .iter()
            .any(|a| a["details"]["rule_name"] == rule_name.as_str()),
        "{json_alerts:?}"
    );

    let id = json_alerts
        .iter()
        .find(|a| a["rule"] == "inbox-rule-external-forward")
        .unwrap()["id"]
        .to_string();
    let plan = rw.run_with_stdin(&["remediate", &id], "n\n");
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stderr.contains(&format!("mailbox {megan}")),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("Sync\\u{1b}[2K"),
        "the live rule is listed, escaped: {}",
        plan.stderr
    );
    assert_shown("remediate (plan)", &plan.stderr);
    let run = rw.run(&["remediate", &id, "--yes", "--actions", "disable-rule"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Sync\\u{1b}[2K"), "{}", run.stdout);
    assert_shown("remediate", &format!("{}{}", run.stdout, run.stderr));

    // Undo shows the recorded rule, hostile name and all, before asking.
    let step = rw
        .run(&["audit", "--json"])
        .json_lines()
        .into_iter()
        .find(|e| e["action"] == "disable-rule")
        .unwrap();
    let undo = rw.run_with_stdin(&["undo", &step["id"].to_string()], "n\n");
    assert!(
        undo.stderr.contains("Sync\\u{1b}[2K") && undo.stderr.contains("<U+202E>"),
        "{}",
        undo.stderr
    );
    assert_shown("undo", &undo.stderr);

    let audit = rw.run(&["audit"]);
    assert_eq!(audit.code, 0, "{}", audit.stderr);
    assert!(
        audit.stdout.contains("disable-rule") && audit.stdout.contains("Sync\\u{1b}[2K"),
        "the step's row names the rule, escaped: {}",
        audit.stdout
    );
    assert_shown("audit", &audit.stdout);
    let tenants = rw.run(&["status"]);
    assert!(
        tenants.stdout.contains("Contoso <U+202E>ltd"),
        "{}",
        tenants.stdout
    );
    assert_shown("status", &tenants.stdout);
}

#[test]
fn log_lines_show_attacker_chosen_names_safe_on_the_terminal_and_in_the_log_file() {
    let mut t = TestTenant::new(0);
    t.name = "Contoso \u{202E}ltd".into();
    let (mut scenario, _, _) = world(1, 0, json!({}));
    scenario["tenants"] = json!([t.scenario_json()]);
    scenario["records"] = json!([planted(
        &t,
        attacks::new_inbox_rule_forward(
            &t.ctx(1, 1),
            "x",
            &[&t.drop_box("x")],
            ForwardKind::ForwardTo
        )
    )]);
    // Every attempt gets a cut-off body, so the scan warns, naming the tenant.
    scenario["faults"] =
        json!({"script": [{"endpoint": "blob", "fault": "truncated_body", "count": 4}]});
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    let scan = rw.run(&["scan", "-v"]);
    assert_eq!(scan.code, 3, "{}", scan.stderr);
    let warned = "WARN Contoso <U+202E>ltd: Audit.Exchange blob";
    assert!(scan.stderr.contains(warned), "{}", scan.stderr);
    assert_shown("scan -v", &scan.stderr);
    let logs = rw.data_dir().join("logs");
    let file = std::fs::read_dir(&logs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let logged = std::fs::read_to_string(file).unwrap();
    assert!(logged.contains(warned), "{logged}");
    assert_shown("the log file", &logged);
}
