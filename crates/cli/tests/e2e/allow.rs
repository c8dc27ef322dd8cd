//! The allowlist and forwarding-fan-in through the real binary: trusted destinations and
//! rule names are stored as suppressed and never printed, a trusted rule name never
//! quiets forwarding outside, and one drop box fed from two tenants is one alert.

use m365_sandbox::attacks::{self, ForwardKind};
use serde_json::{Value, json};

use crate::harness::*;

fn planted(t: &TestTenant, record: Value) -> Value {
    json!({"tenant_id": t.tenant_id, "content_type": "Audit.Exchange", "release_after_s": -5, "record": record})
}

#[test]
fn trusted_alerts_are_kept_quiet_and_a_shared_drop_box_is_one_alert() {
    let (a, b) = (TestTenant::new(0), TestTenant::new(1));
    let drop_box = "collect@dropbox-mail.example";
    let records = vec![
        planted(
            &a,
            attacks::set_mailbox_forwarding(
                &a.ctx(3, 2),
                Some("smtp:books@accountant.example"),
                None,
                true,
            ),
        ),
        planted(&a, attacks::new_inbox_rule_delete_all(&a.ctx(1, 1), "Tidy")),
        planted(
            &a,
            attacks::new_inbox_rule_forward(
                &a.ctx(1, 1),
                "Tidy",
                &["x@evil.example"],
                ForwardKind::ForwardTo,
            ),
        ),
        planted(
            &a,
            attacks::new_inbox_rule_forward(
                &a.ctx(0, 0),
                "Sync",
                &[drop_box],
                ForwardKind::ForwardTo,
            ),
        ),
        planted(
            &b,
            attacks::set_mailbox_forwarding(
                &b.ctx(3, 2),
                Some(&format!("smtp:{drop_box}")),
                None,
                false,
            ),
        ),
    ];
    let scenario = json!({
        "tenants": [a.scenario_json(), b.scenario_json()],
        "records": records,
        "noise": {"records_per_tenant": 40, "seed": 3},
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &[a.clone(), b.clone()]);

    let public = rw.run(&[
        "allow",
        "add",
        &a.tenant_id,
        "--destination",
        "Gmail.com",
        "--reason",
        "x",
    ]);
    assert_ne!(public.code, 0);
    assert!(
        public.stderr.contains("trust the one address instead"),
        "{}",
        public.stderr
    );
    let unknown = rw.run(&[
        "allow",
        "add",
        "0b9d3f53-5b73-4c41-9ad2-6f6b51b9a001",
        "--rule-name",
        "x",
        "--reason",
        "x",
    ]);
    assert_ne!(unknown.code, 0);
    assert!(
        unknown
            .stderr
            .contains("no tenant 0b9d3f53-5b73-4c41-9ad2-6f6b51b9a001 is configured"),
        "{}",
        unknown.stderr
    );
    for args in [
        ["--destination", "accountant.example"],
        ["--rule-name", "tidy"],
    ] {
        let added = rw.run(&[
            "allow",
            "add",
            &a.tenant_id,
            args[0],
            args[1],
            "--note",
            "agreed with the customer",
        ]);
        assert_eq!(added.code, 0, "{}", added.stderr);
    }

    let scan = rw.scan();
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let printed: Vec<(String, String, String)> = scan
        .json_lines()
        .iter()
        .map(|a| {
            (
                a["tenant_id"].as_str().unwrap().into(),
                a["rule"].as_str().unwrap().into(),
                a["target"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut expected = vec![
        (
            a.tenant_id.clone(),
            "inbox-rule-external-forward".to_string(),
            a.users[1].clone(),
        ),
        (
            a.tenant_id.clone(),
            "inbox-rule-external-forward".to_string(),
            a.users[0].clone(),
        ),
        (
            b.tenant_id.clone(),
            "mailbox-external-forward".to_string(),
            b.users[2].clone(),
        ),
    ];
    let fan_in_tenant = if printed
        .iter()
        .any(|p| p.1 == "forwarding-fan-in" && p.0 == b.tenant_id)
    {
        &b
    } else {
        &a
    };
    expected.push((
        fan_in_tenant.tenant_id.clone(),
        "forwarding-fan-in".into(),
        drop_box.into(),
    ));
    let mut got = printed.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);

    let stored = rw.alerts();
    let fan_in = stored
        .iter()
        .find(|x| x["rule"] == "forwarding-fan-in")
        .unwrap();
    assert_eq!(fan_in["severity"], "critical");
    let summary = fan_in["summary"].as_str().unwrap();
    for part in [
        format!("{} ({})", a.users[0], a.name),
        format!("{} ({})", b.users[2], b.name),
        "2 mailboxes in 2 tenants".to_string(),
    ] {
        assert!(summary.contains(&part), "{summary} lacks {part}");
    }
    let suppressed: Vec<&Value> = stored
        .iter()
        .filter(|x| x["status"] == "suppressed")
        .collect();
    assert_eq!(suppressed.len(), 2, "{stored:?}");
    assert!(suppressed.iter().any(|x| {
        x["rule"] == "mailbox-external-forward"
            && x["suppressed_by"]
                .as_str()
                .unwrap()
                .contains("trusted destination accountant.example")
    }));
    assert!(suppressed.iter().any(|x| {
        x["rule"] == "inbox-rule-hides-mail"
            && x["suppressed_by"]
                .as_str()
                .unwrap()
                .contains("trusted rule name \"tidy\"")
    }));
    let text = rw.run(&["alerts"]);
    assert!(
        text.stdout
            .contains("suppressed: trusted destination accountant.example"),
        "{}",
        text.stdout
    );

    let status = rw.status();
    // Two forwarding alerts, and the fan-in when it is filed under this tenant.
    let open = 2 + usize::from(fan_in_tenant.tenant_id == a.tenant_id);
    assert_eq!(
        tenant_status(&status, &a)["open_alerts"],
        open,
        "suppressed alerts are not open"
    );

    let again = rw.scan();
    assert_eq!(again.stdout, "", "a second scan printed alerts again");

    let entries = rw.run(&["allow", "list", "--json"]).json();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["reason"], "agreed with the customer");
    let id = entries[0]["id"].to_string();
    assert_eq!(rw.run(&["allow", "remove", &id]).code, 0);
    let gone = rw.run(&["allow", "remove", &id]);
    assert_ne!(gone.code, 0);
    assert!(
        gone.stderr.contains(&format!("no allowlist entry {id}")),
        "{}",
        gone.stderr
    );
}

#[test]
fn a_refusal_names_the_command_that_helps() {
    let t = TestTenant::new(0);
    let sandbox = Sandbox::start(&json!({"tenants": [t.scenario_json()]}));
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    let add_again = t.add_args();
    let cases: [(&[&str], &str, &str); 4] = [
        (
            &["allow", "remove", "999"],
            "no allowlist entry 999",
            "`rulewatch allow list` shows the entries",
        ),
        (
            &["undo", "999", "--yes"],
            "no remediation step 999",
            "`rulewatch audit` lists the recorded steps",
        ),
        (
            &["partner", "watch", &t.tenant_id],
            "no partner account is signed in",
            "(`rulewatch partner login`)",
        ),
        (
            &add_again,
            "is already configured; remove it first",
            "(`rulewatch tenant remove ",
        ),
    ];
    for (args, says, hint) in cases {
        let r = rw.run_with_stdin(args, "secret");
        assert!(
            r.code != 0 && r.stderr.contains(says) && r.stderr.contains(hint),
            "{args:?}: {}",
            r.stderr
        );
    }
}
