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

/// With `stdin` answered to the plan's question, as technician `who`.
fn as_tech_answering(rw: &Rulewatch, who: &str, args: &[&str], stdin: &str) -> Run {
    let mut command = rw.command(args);
    command.env("RULEWATCH_TECHNICIAN", who);
    Run::with_stdin(command, stdin)
}

#[test]
fn secure_and_remediate_is_refused_under_a_colleague_and_the_record_names_who_ran_it() {
    use m365_sandbox::attacks::{self, ForwardKind};
    let t = TestTenant::new(0);
    let megan = t.users[1].clone();
    let scenario = json!({
        "tenants": [t.scenario_json()],
        "records": [{"tenant_id": t.tenant_id, "content_type": "Audit.Exchange", "release_after_s": -5,
                     "record": attacks::new_inbox_rule_forward(&t.ctx(1, 1), "Sync", &[&t.drop_box("sync")], ForwardKind::ForwardTo)}],
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    assert_eq!(rw.scan().code, 0);
    let id = rw.run(&["alerts", "--json"]).json_lines()[0]["id"].to_string();
    assert_eq!(as_tech(&rw, "alice", &["alerts", "take", &id]).code, 0);

    let refused = as_tech_answering(&rw, "bob", &["remediate", &id], "y\n");
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains(&format!("alert {id} is held by alice since"))
            && refused
                .stderr
                .contains(&format!("rulewatch alerts take {id} --force")),
        "{}",
        refused.stderr
    );
    assert_eq!(
        sandbox.user(&t.tenant_id, &megan)["account_enabled"],
        true,
        "nothing was changed under alice"
    );

    // A run of this alert going on in another process (this test's, alive) is named.
    let db = rusqlite::Connection::open(rw.dir.path().join("rulewatch.db")).unwrap();
    let lock = format!("remediation:{id}");
    db.execute(
        "INSERT INTO scan_leases (tenant_id, holder, expires_at) VALUES (?1, ?2, ?3)",
        rusqlite::params![
            lock,
            format!("{}:run:carol", std::process::id()),
            (chrono::Utc::now() + chrono::Duration::minutes(5))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ],
    )
    .unwrap();
    let busy = as_tech_answering(&rw, "alice", &["remediate", &id], "y\n");
    assert_eq!(busy.code, 1);
    assert!(
        busy.stderr.contains(&format!(
            "Secure and Remediate of alert {id} is running already, started by carol"
        )),
        "{}",
        busy.stderr
    );
    assert_eq!(sandbox.user(&t.tenant_id, &megan)["account_enabled"], true);
    db.execute("DELETE FROM scan_leases WHERE tenant_id = ?1", [&lock])
        .unwrap();

    let run = as_tech_answering(&rw, "alice", &["remediate", &id, "--json"], "y\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sandbox.user(&t.tenant_id, &megan)["account_enabled"], false);
    let rows = rw.run(&["audit", "--json"]).json_lines();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r["os_user"] == "alice"),
        "every step names the technician who ran it: {rows:#?}"
    );
}
