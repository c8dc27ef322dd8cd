//! Triage that names people: two technicians on one data folder take, release, review
//! and annotate alerts through `rulewatch alerts`, each step recorded with who and when,
//! and the desk's filters find them.

use std::process::Stdio;

use serde_json::{Value, json};

use crate::harness::*;

/// `rulewatch ARGS` as technician `who`.
fn as_tech(rw: &Rulewatch, who: &str, args: &[&str]) -> Run {
    Run::from(
        rw.command(args)
            .env("RULEWATCH_TECHNICIAN", who)
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    )
}

#[test]
fn two_technicians_take_review_and_annotate_alerts_and_the_history_names_each() {
    let (scenario, tenants, expected) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    assert_exactly(&rw.scan().json_lines(), &expected);
    let alerts = rw.run(&["alerts", "--json"]).json_lines();
    assert!(
        alerts
            .iter()
            .all(|a| a["assignee"].is_null() && a["status"] == "open")
    );
    let id = alerts[0]["id"].to_string();

    let took = as_tech(&rw, "alice", &["alerts", "take", &id]);
    assert_eq!(took.code, 0, "{}", took.stderr);
    assert_eq!(took.stdout.trim(), format!("alert {id}: open, yours"));
    // A colleague is told who holds it, and how to take it over.
    let refused = as_tech(&rw, "bob", &["alerts", "take", &id]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains(&format!("alert {id} is held by alice since"))
            && refused.stderr.contains("--force"),
        "{}",
        refused.stderr
    );
    let held: Vec<Value> =
        as_tech(&rw, "bob", &["alerts", "--assignee", "alice", "--json"]).json_lines();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["assignee"], "alice");
    let mine = as_tech(&rw, "alice", &["alerts", "--assignee", "me", "--json"]).json_lines();
    assert_eq!(mine.len(), 1);
    let free = rw
        .run(&["alerts", "--assignee", "none", "--json"])
        .json_lines();
    assert_eq!(free.len(), alerts.len() - 1);

    let ack = as_tech(
        &rw,
        "alice",
        &["alerts", "ack", &id, "--note", "calling the user"],
    );
    assert_eq!(
        ack.stdout.trim(),
        format!("alert {id}: acknowledged, yours")
    );
    let noted = as_tech(
        &rw,
        "alice",
        &["alerts", "note", &id, "rule removed by hand"],
    );
    assert_eq!(noted.code, 0, "{}", noted.stderr);
    let over = as_tech(&rw, "bob", &["alerts", "take", &id, "--force"]);
    assert_eq!(
        over.stdout.trim(),
        format!("alert {id}: acknowledged, yours")
    );
    let resolved = as_tech(&rw, "bob", &["alerts", "resolve", &id]);
    assert_eq!(
        resolved.stdout.trim(),
        format!("alert {id}: resolved, yours")
    );
    let by_status = rw
        .run(&["alerts", "--status", "resolved", "--json"])
        .json_lines();
    assert_eq!(by_status.len(), 1);
    assert_eq!(by_status[0]["id"].to_string(), id);

    let history: Vec<Value> =
        serde_json::from_str(&rw.run(&["alerts", "history", &id, "--json"]).stdout).unwrap();
    let steps: Vec<(&str, &str)> = history
        .iter()
        .map(|e| {
            (
                e["technician"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("alice", "took"),
            ("alice", "acknowledged"),
            ("alice", "note"),
            ("bob", "took over from alice"),
            ("bob", "resolved"),
        ]
    );
    assert_eq!(history[1]["note"], "calling the user");
    let text = rw.run(&["alerts", "history", &id]).stdout;
    assert!(text.contains("bob  took over from alice"), "{text}");

    // Bad input is said plainly, and changes nothing.
    let bad = rw.run(&["alerts", "--severity", "urgent"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .contains("--severity urgent: give low, medium, high or critical"),
        "{}",
        bad.stderr
    );
    let bad = rw.run(&["alerts", "--since", "yesterday"]);
    assert!(
        bad.stderr
            .contains("--since yesterday: give hours or days ago"),
        "{}",
        bad.stderr
    );
    let hostile = as_tech(&rw, "eve\u{1b}[2J", &["alerts", "take", &id]);
    assert_eq!(hostile.code, 1);
    assert!(
        hostile
            .stderr
            .contains("RULEWATCH_TECHNICIAN (--technician): holds control characters"),
        "{}",
        hostile.stderr
    );
    let empty = as_tech(&rw, "bob", &["alerts", "note", &id, "  "]);
    assert!(
        empty.stderr.contains("the note is empty"),
        "{}",
        empty.stderr
    );
    let missing = as_tech(&rw, "bob", &["alerts", "take", "9999"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no alert 9999"),
        "{}",
        missing.stderr
    );
    let after: Vec<Value> =
        serde_json::from_str(&rw.run(&["alerts", "history", &id, "--json"]).stdout).unwrap();
    assert_eq!(after, history, "refused steps left the history as it was");
}
