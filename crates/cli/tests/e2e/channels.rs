//! Webhook channels: every alert's incident reaches the receiver once, signed, with a
//! stable idempotency key; a receiver that is down is retried after a backoff, not
//! hammered; an address that would send alerts unencrypted is refused.

use std::collections::BTreeSet;

use rulewatch_core::app::{WEBHOOK_SCHEMA, signature};
use serde_json::{Value, json};

use crate::harness::*;

const SECRET: &str = "a shared secret of more than sixteen characters";

#[test]
fn every_alert_reaches_the_webhook_once_signed_and_an_outage_waits_for_its_retry() {
    let (scenario, tenants, expected) = world(1, 20, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let url = format!("{}/_sandbox/hooks/psa", sandbox.url);
    let add = |name: &str, url: &str| rw.add_webhook(name, url, SECRET, &[]);
    let added = add("psa", &url);
    assert_eq!(added.code, 0, "{}", added.stderr);
    let refused = add("elsewhere", "http://hooks.example.com/T0KEN");
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("unencrypted") && !refused.stderr.contains("T0KEN"),
        "{}",
        refused.stderr
    );
    assert_eq!(add("psa", &url).code, 1, "a name is taken once");
    let tested = rw.run(&["channel", "test", "psa"]);
    assert_eq!(tested.code, 0, "{}", tested.stderr);
    let test = sandbox.hook("psa")["received"][0].clone();
    let body = test["body"].as_str().unwrap();
    assert_eq!(
        test["signature"].as_str().unwrap(),
        signature(SECRET.as_bytes(), body.as_bytes())
    );
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap()["event"],
        "channel.test"
    );

    // The receiver is down: the first alert fails and the channel stops for this pass.
    sandbox.fail_hook("psa", 1);
    let first = rw.scan();
    assert_exactly(&first.json_lines(), &expected);
    assert!(
        first
            .stderr
            .contains("channel psa: 0 delivered, then FAILED: the webhook at http://127.0.0.1:"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("answered HTTP 503"),
        "{}",
        first.stderr
    );
    let listed = rw.run(&["channel", "list", "--json"]).json();
    let psa = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "psa")
        .unwrap()
        .clone();
    assert_eq!(psa["queued"], expected.len(), "{psa}");
    assert!(psa["last_error"].as_str().unwrap().contains("503"), "{psa}");

    // A scan right after waits for the backoff instead of knocking again.
    let again = rw.scan();
    assert!(
        again.stderr.contains("channel psa: 0 delivered"),
        "{}",
        again.stderr
    );
    assert_eq!(sandbox.hook("psa")["refused"], 1);
    assert_eq!(
        sandbox.hook("psa")["received"].as_array().unwrap().len(),
        1,
        "the test delivery alone"
    );

    // The technician's retry delivers everything, each alert once.
    let retry = rw.run(&["channel", "retry"]);
    assert_eq!(retry.code, 0, "{}", retry.stderr);
    assert!(
        retry
            .stderr
            .contains(&format!("channel psa: {} delivered", expected.len())),
        "{}",
        retry.stderr
    );
    let got: Vec<Value> = sandbox.hook("psa")["received"].as_array().unwrap()[1..].to_vec();
    assert_eq!(got.len(), expected.len());
    let mut keys = BTreeSet::new();
    let mut opened = BTreeSet::new();
    let mut incidents = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for delivery in &got {
        let body = delivery["body"].as_str().unwrap();
        assert_eq!(
            delivery["signature"].as_str().unwrap(),
            signature(SECRET.as_bytes(), body.as_bytes()),
            "signed over the raw body"
        );
        assert_eq!(delivery["content_type"], "application/json");
        let key = delivery["delivery"].as_str().unwrap().to_string();
        assert!(
            keys.insert(key.clone()),
            "one idempotency key per delivery: {key}"
        );
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["schema"], WEBHOOK_SCHEMA);
        let incident = &v["incident"];
        let incident_key = incident["key"].as_str().unwrap().to_string();
        assert!(key.starts_with(&format!("{incident_key}:")), "{key}");
        incidents.insert(incident_key.clone());
        match v["event"].as_str().unwrap() {
            "incident.opened" => assert!(opened.insert(incident_key), "opened once: {v}"),
            "incident.updated" => {}
            other => panic!("unexpected event {other}"),
        }
        let alerts = incident["alerts"].as_array().unwrap();
        for a in alerts {
            assert_eq!(
                a["target"].as_str().unwrap().to_lowercase(),
                incident["mailbox"]
            );
        }
        let id = key.rsplit(':').next().unwrap().parse::<i64>().unwrap();
        assert!(alerts.iter().any(|a| a["id"] == id), "{v}");
        seen.insert((
            incident["tenant_id"].as_str().unwrap().to_string(),
            alerts.iter().find(|a| a["id"] == id).unwrap()["record_id"]
                .as_str()
                .unwrap()
                .to_string(),
        ));
    }
    assert_eq!(opened, incidents, "each incident opened exactly once");
    assert!(
        incidents.len() < got.len(),
        "two alerts share a mailbox's incident"
    );
    let want: BTreeSet<(String, String)> = expected
        .iter()
        .map(|(tenant, record, _)| (tenant.clone(), record.clone()))
        .collect();
    assert_eq!(seen, want, "every alert, by its record");

    // Nothing new: nothing sent again.
    rw.scan();
    assert_eq!(
        sandbox.hook("psa")["received"].as_array().unwrap().len(),
        1 + expected.len()
    );

    // Resolving an incident is news too, signed, under the incident's own key.
    let key = opened.iter().next().unwrap().clone();
    let resolved = rw.run(&["incidents", "resolve", &key, "--note", "contained"]);
    assert_eq!(resolved.code, 0, "{}", resolved.stderr);
    rw.scan();
    let received = sandbox.hook("psa")["received"].as_array().unwrap().clone();
    assert_eq!(received.len(), 2 + expected.len());
    let last = received.last().unwrap();
    assert_eq!(
        last["delivery"].as_str().unwrap(),
        format!("incident-resolved:{key}")
    );
    let body = last["body"].as_str().unwrap();
    assert_eq!(
        last["signature"].as_str().unwrap(),
        signature(SECRET.as_bytes(), body.as_bytes())
    );
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["event"], "incident.resolved");
    assert_eq!(v["incident"]["key"], key.as_str());
    assert_eq!(v["resolution"]["note"], "contained");
    let removed = rw.run(&["channel", "remove", "psa"]);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert_eq!(
        rw.run(&["channel", "remove", "desktop"]).code,
        1,
        "built in"
    );
}

#[test]
fn teams_and_slack_take_a_message_per_alert_in_their_own_shape() {
    let (scenario, tenants, expected) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    for (kind, path) in [("teams", "teams/soc"), ("slack", "slack/soc")] {
        // The URL is the credential: its path stands for the token.
        let url = format!("{}/_sandbox/{path}?sig=T0KEN-{kind}", sandbox.url);
        let added = rw.add_chat(kind, kind, &url, &[]);
        assert_eq!(added.code, 0, "{}", added.stderr);
        let tested = rw.run(&["channel", "test", kind]);
        assert_eq!(tested.code, 0, "{kind}: {}", tested.stderr);
    }
    let run = rw.scan();
    assert_exactly(&run.json_lines(), &expected);
    for kind in ["teams", "slack"] {
        assert!(
            run.stderr
                .contains(&format!("channel {kind}: {} delivered", expected.len())),
            "{}",
            run.stderr
        );
    }
    // Both receivers record under the name in their path.
    let got = sandbox.hook("soc")["received"].as_array().unwrap().clone();
    assert_eq!(
        got.len(),
        2 * (1 + expected.len()),
        "each took its test and every alert"
    );
    assert!(
        sandbox.hook("soc")["rate_limited"].as_u64().unwrap() > 0,
        "Slack's one message a second was met by waiting out its 429s"
    );
    let bodies: Vec<Value> = got
        .iter()
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect();
    let cards: Vec<&Value> = bodies.iter().filter(|b| b["type"] == "message").collect();
    let slack: Vec<&Value> = bodies.iter().filter(|b| b["blocks"].is_array()).collect();
    assert_eq!(
        (cards.len(), slack.len()),
        (1 + expected.len(), 1 + expected.len())
    );
    for c in cards.iter().skip(1) {
        let title = c["attachments"][0]["content"]["body"][0]["text"]
            .as_str()
            .unwrap();
        assert!(title.contains(&tenants[0].name), "{title}");
    }
    assert!(
        slack
            .iter()
            .skip(1)
            .any(|m| m["blocks"][1]["text"]["text"] == "New incident"),
        "{slack:?}"
    );
    // Every message links to its alert in the desktop app.
    let alerts = rw.alerts();
    for m in cards.iter().skip(1).chain(slack.iter().skip(1)) {
        let text = m.to_string();
        assert!(
            alerts
                .iter()
                .any(|a| text.contains(&format!("rulewatch://alert/{}\"", a["id"]))),
            "{text}"
        );
    }
    // The store keeps the origin only, never the URL's token.
    let listed = rw.run(&["channel", "list", "--json"]).stdout;
    assert!(!listed.contains("T0KEN"), "{listed}");
    for file in ["rulewatch.db", "rulewatch.db-wal"] {
        let bytes = std::fs::read(rw.dir.path().join(file)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("T0KEN"),
            "the webhook URL never enters {file}"
        );
    }
}

#[test]
fn a_channel_receives_only_what_its_route_lets_through() {
    let (scenario, tenants, expected) = world(2, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let slack = format!("{}/_sandbox/slack/grave", sandbox.url);
    let first = tenants[0].tenant_id.to_uppercase();
    let added = rw.add_chat(
        "slack",
        "grave",
        &slack,
        &["--min-severity", "critical", "--tenant", &first],
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    let hook = format!("{}/_sandbox/hooks/others", sandbox.url);
    let added = rw.add_webhook(
        "others",
        &hook,
        SECRET,
        &["--exclude-tenant", &tenants[0].tenant_id],
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    let alerts = rw.scan().json_lines();
    assert_exactly(&alerts, &expected);
    let incidents = rw.run(&["incidents", "--json"]).json_lines();
    let want = |keep: &dyn Fn(&Value) -> bool| -> usize {
        incidents
            .iter()
            .filter(|i| keep(i))
            .map(|i| i["alerts"].as_array().unwrap().len())
            .sum()
    };
    let grave =
        want(&|i| i["tenant_id"] == tenants[0].tenant_id.as_str() && i["severity"] == "critical");
    let others = want(&|i| i["tenant_id"] != tenants[0].tenant_id.as_str());
    assert!(
        grave > 0 && grave < alerts.len(),
        "{grave} of {}",
        alerts.len()
    );
    assert_eq!(
        sandbox.hook("grave")["received"].as_array().unwrap().len(),
        grave
    );
    let got = sandbox.hook("others")["received"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(got.len(), others);
    for r in &got {
        let v: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        assert_ne!(v["incident"]["tenant_id"], tenants[0].tenant_id.as_str());
    }
    // What a route held back is done with, not left waiting.
    let listed = rw.run(&["channel", "list", "--json"]).json();
    for c in listed.as_array().unwrap() {
        if c["name"] == "grave" || c["name"] == "others" {
            assert_eq!(c["queued"], 0, "{c}");
        }
    }
}

#[test]
fn a_tenant_that_breaks_is_news_once_and_so_is_its_recovery() {
    let (scenario, tenants, expected) = world(2, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let hook = format!("{}/_sandbox/hooks/noc", sandbox.url);
    assert_eq!(rw.add_webhook("noc", &hook, SECRET, &[]).code, 0);
    let slack = format!("{}/_sandbox/slack/noc-chat", sandbox.url);
    assert_eq!(rw.add_chat("slack", "noc-chat", &slack, &[]).code, 0);
    assert_exactly(&rw.scan().json_lines(), &expected);
    let events = |name: &str| -> Vec<Value> {
        sandbox.hook(name)["received"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| serde_json::from_str::<Value>(r["body"].as_str().unwrap()).unwrap())
            .filter(|v| {
                v["event"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("tenant."))
                    || v["text"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("Monitoring"))
            })
            .collect()
    };
    assert!(events("noc").is_empty(), "healthy tenants are no news");

    // Consent revoked: broken, said once however many scans fail.
    sandbox.patch_tenant(&tenants[0].tenant_id, json!({"consented": false}));
    assert_eq!(rw.scan().code, 3);
    assert_eq!(rw.scan().code, 3);
    let broken = events("noc");
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert_eq!(broken[0]["event"], "tenant.broken");
    assert_eq!(
        broken[0]["tenant"]["tenant_id"],
        tenants[0].tenant_id.as_str()
    );
    assert_eq!(broken[0]["tenant"]["problem"], "consent_missing");
    assert!(
        broken[0]["tenant"]["message"]
            .as_str()
            .unwrap()
            .contains("adminconsent")
    );
    let chat = events("noc-chat");
    assert_eq!(chat.len(), 1, "{chat:?}");
    assert!(
        chat[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Monitoring broken: "),
        "{chat:?}"
    );

    // Consent given again: recovered, once.
    sandbox.patch_tenant(&tenants[0].tenant_id, json!({"consented": true}));
    assert_eq!(rw.scan().code, 0);
    assert_eq!(rw.scan().code, 0);
    let all = events("noc");
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[1]["event"], "tenant.recovered");
    assert!(all[1]["tenant"]["message"].is_null());
    assert_eq!(events("noc-chat").len(), 2);
}
