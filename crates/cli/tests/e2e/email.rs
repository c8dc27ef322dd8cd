//! The e-mail channel through a real SMTP server (aiosmtpd, scripts/smtp-sink.py) on
//! loopback: STARTTLS or TLS with a certificate the channel must trust, AUTH required,
//! temporary refusals retried, messages threaded per incident, a daily digest, and
//! quiet hours that hold back all but what is critical.

use std::collections::BTreeMap;

use chrono::Local;
use m365_sandbox::attacks;
use m365_sandbox::testkit::{SmtpSink, TestTenant};
use serde_json::{Value, json};

use crate::harness::*;

const USER: &str = SmtpSink::USER;
const PASSWORD: &str = SmtpSink::PASSWORD;

fn add_email(rw: &Rulewatch, sink: &SmtpSink, name: &str, extra: &[&str]) -> Run {
    let port = sink.port.to_string();
    let args = [
        "channel",
        "add",
        "email",
        "--name",
        name,
        "--smtp-host",
        "localhost",
        "--port",
        &port,
        "--username",
        USER,
        "--password-stdin",
        "--from",
        "Rulewatch <alerts@msp.example>",
        "--to",
        "soc@msp.example",
        "--to",
        "oncall@msp.example",
    ];
    rw.run_with_stdin(&[&args[..], extra].concat(), PASSWORD)
}

/// One tenant with the usual attacks and one more whose rule name is markup and a
/// header injection.
fn hostile_world() -> (Value, Vec<TestTenant>, Expected) {
    let (mut scenario, tenants, mut expected) = world(1, 0, json!({}));
    let t = &tenants[0];
    let record = attacks::new_inbox_rule_delete_all(
        &t.ctx(2, 2),
        "<script>alert(1)</script>\r\nBcc: thief@evil.example",
    );
    plant(
        &mut scenario,
        &mut expected,
        t,
        record,
        "inbox-rule-hides-mail",
    );
    (scenario, tenants, expected)
}

#[test]
fn each_incident_is_a_mail_thread_over_starttls_and_a_refusal_is_retried() {
    let (scenario, tenants, expected) = hostile_world();
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let sink = SmtpSink::start("starttls");

    // Encryption is required to anything but this machine.
    let plain = rw.run_with_stdin(
        &[
            "channel",
            "add",
            "email",
            "--name",
            "plain",
            "--smtp-host",
            "smtp.example.com",
            "--security",
            "none",
            "--from",
            "a@msp.example",
            "--to",
            "b@msp.example",
        ],
        "",
    );
    assert_eq!(plain.code, 1);
    assert!(
        plain.stderr.contains("without encryption"),
        "{}",
        plain.stderr
    );

    // A relay whose certificate nothing vouches for is not sent to.
    let untrusted = add_email(&rw, &sink, "untrusted", &[]);
    assert_eq!(untrusted.code, 0, "{}", untrusted.stderr);
    let refused = rw.run(&["channel", "test", "untrusted"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("the mail relay localhost:"),
        "{}",
        refused.stderr
    );
    assert!(sink.messages().is_empty());
    assert_eq!(rw.run(&["channel", "remove", "untrusted"]).code, 0);

    let added = add_email(&rw, &sink, "soc-mail", &["--ca-file", &sink.ca()]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    let tested = rw.run(&["channel", "test", "soc-mail"]);
    assert_eq!(tested.code, 0, "{}", tested.stderr);
    assert_eq!(sink.messages().len(), 1);

    // The relay refuses for a while: the first alert fails and waits for its retry.
    sink.fail(1);
    let first = rw.scan();
    assert_exactly(&first.json_lines(), &expected);
    assert!(first.stderr.contains("451"), "{}", first.stderr);
    assert!(!first.stderr.contains(PASSWORD));
    assert_eq!(sink.messages().len(), 1);
    let retried = rw.run(&["channel", "retry"]);
    assert_eq!(retried.code, 0, "{}", retried.stderr);

    let messages = sink.messages();
    let mail: Vec<&Value> = messages[1..].iter().collect();
    assert_eq!(mail.len(), expected.len(), "one message per alert");
    for m in &mail {
        assert_eq!(m["tls"], true, "{m}");
        assert_eq!(m["login"], USER);
        assert_eq!(
            m["rcpt_tos"],
            json!(["soc@msp.example", "oncall@msp.example"])
        );
        assert!(m["subject"].as_str().unwrap().starts_with("[Rulewatch] "));
        assert!(m["html"].as_str().unwrap().contains("rulewatch://alert/"));
    }
    // Attacker text is text: no markup in the HTML, no header of its own.
    let hostile: Vec<&&Value> = mail
        .iter()
        .filter(|m| {
            m["text"]
                .as_str()
                .unwrap()
                .contains("<script>alert(1)</script>")
        })
        .collect();
    assert!(!hostile.is_empty());
    for m in &mail {
        assert!(!m["html"].as_str().unwrap().contains("<script>"), "{m}");
        assert!(!m["rcpt_tos"].to_string().contains("thief"));
    }
    // Per incident: one thread, opened once, every later message answering its opening.
    let incidents = rw.run(&["incidents", "--json"]).json_lines();
    let mut threads: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for m in &mail {
        let id = m["in_reply_to"]
            .as_str()
            .unwrap_or_else(|| m["message_id"].as_str().unwrap());
        threads.entry(id.to_string()).or_default().push(m);
    }
    assert_eq!(threads.len(), incidents.len());
    for i in &incidents {
        let root = format!("<rulewatch.{}@msp.example>", i["key"].as_str().unwrap());
        let thread = &threads[&root];
        assert_eq!(thread.len(), i["alerts"].as_array().unwrap().len());
        assert_eq!(thread[0]["message_id"], root.as_str());
        assert!(
            thread[0]["text"]
                .as_str()
                .unwrap()
                .starts_with("New incident")
        );
    }
    let listed = rw.run(&["channel", "list", "--json"]).json();
    let soc = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "soc-mail")
        .unwrap();
    assert_eq!(soc["queued"], 0, "{soc}");

    // Resolving an incident answers its thread.
    let key = incidents[0]["key"].as_str().unwrap();
    let resolved = rw.run(&["incidents", "resolve", key, "--note", "mailbox secured"]);
    assert_eq!(resolved.code, 0, "{}", resolved.stderr);
    assert_eq!(rw.run(&["channel", "retry"]).code, 0);
    let messages = sink.messages();
    let last = messages.last().unwrap();
    assert!(
        last["subject"]
            .as_str()
            .unwrap()
            .starts_with("[Rulewatch] Resolved: "),
        "{last}"
    );
    assert_eq!(
        last["in_reply_to"],
        format!("<rulewatch.{key}@msp.example>").as_str()
    );
    assert!(
        last["text"]
            .as_str()
            .unwrap()
            .starts_with("Resolved: mailbox secured"),
        "{last}"
    );
}

#[test]
fn a_digest_channel_mails_once_a_day_and_quiet_hours_hold_all_but_critical() {
    let (mut scenario, tenants, mut expected) = world(2, 0, json!({}));
    // Forwarding that keeps a copy: a high incident, not critical, on its own mailbox.
    let t = &tenants[1];
    let keeps_copy = attacks::set_mailbox_forwarding(
        &t.ctx(3, 3),
        Some(&format!("smtp:{}", t.drop_box("copy"))),
        None,
        true,
    );
    plant(
        &mut scenario,
        &mut expected,
        t,
        keeps_copy,
        "mailbox-external-forward",
    );
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let sink = SmtpSink::start("tls");
    // The digest's time is a minute ago: its first slot since the channel was added is
    // tomorrow's, so nothing goes out today until a technician asks.
    let minute_ago = (Local::now() - chrono::Duration::minutes(1))
        .format("%H:%M")
        .to_string();
    let digest = add_email(
        &rw,
        &sink,
        "daily",
        &[
            "--security",
            "tls",
            "--ca-file",
            &sink.ca(),
            "--digest-at",
            &minute_ago,
        ],
    );
    assert_eq!(digest.code, 0, "{}", digest.stderr);
    // Quiet from an hour ago to an hour from now: only what is critical is sent now.
    let quiet = format!(
        "{}-{}",
        (Local::now() - chrono::Duration::hours(1)).format("%H:%M"),
        (Local::now() + chrono::Duration::hours(1)).format("%H:%M")
    );
    let hook = format!("{}/_sandbox/hooks/night", sandbox.url);
    let added = rw.add_webhook(
        "night",
        &hook,
        "a shared secret of more than sixteen characters",
        &["--quiet-hours", &quiet],
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    let bad = rw.add_webhook(
        "never",
        &hook,
        "a shared secret of more than sixteen characters",
        &["--quiet-hours", "late"],
    );
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("22:00-07:00"), "{}", bad.stderr);

    let alerts = rw.scan().json_lines();
    assert_exactly(&alerts, &expected);
    assert!(sink.messages().is_empty(), "the digest waits for its time");

    let incidents = rw.run(&["incidents", "--json"]).json_lines();
    let critical: usize = incidents
        .iter()
        .filter(|i| i["severity"] == "critical")
        .map(|i| i["alerts"].as_array().unwrap().len())
        .sum();
    assert!(critical > 0 && critical < alerts.len());
    let night = sandbox.hook("night")["received"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        night.len(),
        critical,
        "only critical incidents in quiet hours"
    );
    for r in &night {
        let v: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        assert_eq!(v["incident"]["severity"], "critical");
    }
    let listed = rw.run(&["channel", "list", "--json"]).json();
    let queued = |name: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["queued"]
            .clone()
    };
    assert_eq!(queued("night"), alerts.len() - critical);
    assert_eq!(queued("daily"), alerts.len());

    // A technician's retry sends the digest now: one message, every incident in it, the
    // one resolved meanwhile saying so.
    let first = incidents[0]["key"].as_str().unwrap();
    let resolved = rw.run(&["incidents", "resolve", first, "--note", "false alarm"]);
    assert_eq!(resolved.code, 0, "{}", resolved.stderr);
    let retried = rw.run(&["channel", "retry"]);
    assert!(
        retried.stderr.contains("channel daily: "),
        "{}",
        retried.stderr
    );
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let d = &messages[0];
    assert!(
        d["subject"]
            .as_str()
            .unwrap()
            .contains(&format!("{} incidents", incidents.len()))
    );
    for i in &incidents {
        assert!(
            d["text"]
                .as_str()
                .unwrap()
                .contains(i["key"].as_str().unwrap())
        );
    }
    assert_eq!(
        d["text"]
            .as_str()
            .unwrap()
            .matches("(resolved: false alarm)")
            .count(),
        1,
        "{d}"
    );
    // The quiet hours still hold on a retry (a critical incident's resolution is not
    // held); the digest is not sent twice.
    let alerts_posted = sandbox.hook("night")["received"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            !r["delivery"]
                .as_str()
                .unwrap()
                .starts_with("incident-resolved:")
        })
        .count();
    assert_eq!(alerts_posted, critical);
    rw.run(&["channel", "retry"]);
    assert_eq!(sink.messages().len(), 1);

    // An incident resolved after the digest told of it is in the next one.
    let second = incidents[1]["key"].as_str().unwrap();
    assert_eq!(rw.run(&["incidents", "resolve", second]).code, 0);
    assert_eq!(rw.run(&["channel", "retry"]).code, 0);
    let messages = sink.messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    let next = &messages[1];
    assert!(
        next["subject"]
            .as_str()
            .unwrap()
            .contains("0 incidents, 1 resolved"),
        "{next}"
    );
    assert!(
        next["text"]
            .as_str()
            .unwrap()
            .contains(&format!("(incident {second})")),
        "{next}"
    );
}
