//! `rulewatch watch`: scans at once, prints each alert from its own queue, stops on
//! SIGTERM with exit 0, and a restart repeats nothing but picks up what arrived while it
//! was stopped, delivering it to the channels; `rulewatch scan` on the same data folder
//! still prints every alert.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

/// A running `rulewatch watch --json`: its alerts (stdout) and stderr, read as they come.
struct Watcher {
    child: std::process::Child,
    rx: mpsc::Receiver<(bool, String)>,
    alerts: Vec<Value>,
    stderr: String,
}

impl Watcher {
    fn start(rw: &Rulewatch, args: &[&str]) -> Watcher {
        let mut child = rw
            .command(&[&["watch", "--json"], args].concat())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        for (out, stream) in [
            (
                true,
                Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            ),
            (false, Box::new(child.stderr.take().unwrap())),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send((out, line)).is_err() {
                        return;
                    }
                }
            });
        }
        // The readers hold the only senders: the channel ends when both streams do.
        drop(tx);
        Watcher {
            child,
            rx,
            alerts: Vec::new(),
            stderr: String::new(),
        }
    }

    /// Reads until `done` holds (a minute at most), then a little more for any extra line.
    fn wait_for(&mut self, done: impl Fn(&[Value], &str) -> bool) {
        while !done(&self.alerts, &self.stderr) {
            let got = self
                .rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the watcher scanned and printed its alerts");
            self.take(got);
        }
        std::thread::sleep(Duration::from_millis(500));
        while let Ok(got) = self.rx.try_recv() {
            self.take(got);
        }
    }

    /// Stops it with SIGTERM, which must be a clean stop; answers its alerts and stderr.
    fn stop(mut self) -> (Vec<Value>, String) {
        let term = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "a SIGTERM is a clean stop: {status:?}");
        while let Ok(got) = self.rx.recv_timeout(Duration::from_secs(5)) {
            self.take(got);
        }
        (self.alerts, self.stderr)
    }

    /// One line from the watcher: an alert from stdout, or a line of stderr.
    fn take(&mut self, (out, line): (bool, String)) {
        if out {
            self.alerts
                .push(serde_json::from_str::<Value>(&line).unwrap());
        } else {
            self.stderr.push_str(&line);
            self.stderr.push('\n');
        }
    }
}

/// Starts `watch --json` and waits until each of `tenants` is scanned (its summary on
/// stderr) and `want` alerts are printed, then stops it with SIGTERM; answers the alerts
/// and the watcher's stderr.
fn watch_until(rw: &Rulewatch, tenants: &[TestTenant], want: usize) -> (Vec<Value>, String) {
    let mut watcher = Watcher::start(rw, &[]);
    watcher.wait_for(|alerts, stderr| {
        alerts.len() >= want
            && tenants
                .iter()
                .all(|t| stderr.contains(&format!("{}: scanned", t.name)))
    });
    watcher.stop()
}

#[test]
fn the_watcher_prints_from_its_own_queue_and_stops_cleanly_on_sigterm() {
    let (scenario, tenants, expected) = world(2, 30, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let (alerts, stderr) = watch_until(&rw, &tenants, expected.len());
    assert_exactly(&alerts, &expected);
    assert!(
        stderr.contains("stopped; the next start resumes"),
        "{stderr}"
    );

    // A restart scans again and repeats nothing.
    let (again, _) = watch_until(&rw, &tenants, 0);
    assert!(again.is_empty(), "{again:?}");
    // The watcher took nothing from `rulewatch scan`'s queue.
    assert_exactly(&rw.scan().json_lines(), &expected);
    let refused = rw.run(&["watch", "--every", "0"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("out of range"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_tenant_another_process_is_scanning_is_left_to_it_until_its_lease_ends() {
    let (scenario, tenants, expected) = world(2, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let db = rusqlite::Connection::open(rw.dir.path().join("rulewatch.db")).unwrap();
    let lease = |expires: chrono::DateTime<chrono::Utc>| {
        db.execute(
            "INSERT INTO scan_leases (tenant_id, holder, expires_at) VALUES (?1, 'another process', ?2)
             ON CONFLICT (tenant_id) DO UPDATE SET expires_at = excluded.expires_at",
            rusqlite::params![
                tenants[0].tenant_id,
                expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ],
        )
        .unwrap();
    };
    lease(chrono::Utc::now() + chrono::Duration::minutes(10));
    let first = rw.scan();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.contains(&format!(
            "{}: skipped, another Rulewatch (on this data folder, or a colleague's in a team) is scanning it",
            tenants[0].name
        )),
        "{}",
        first.stderr
    );
    let mine: Vec<Value> = first.json_lines();
    assert!(
        mine.iter()
            .all(|a| a["tenant_id"] == tenants[1].tenant_id.as_str()),
        "only the free tenant was scanned"
    );
    // The other process died: its lease ends, and the tenant is scanned.
    lease(chrono::Utc::now() - chrono::Duration::seconds(1));
    let second = rw.scan();
    let mut all = mine;
    all.extend(second.json_lines());
    assert_exactly(&all, &expected);
}

#[test]
fn attacks_arriving_while_the_watcher_is_stopped_reach_every_channel_once_after_its_restart() {
    let (mut scenario, tenants, expected) = world(2, 10, json!({}));
    // The second tenant's attacks become readable only after the first watcher stopped.
    let later = &tenants[1].tenant_id;
    for r in scenario["records"].as_array_mut().unwrap() {
        if r["tenant_id"] == later.as_str() {
            r["release_after_s"] = json!(20);
        }
    }
    let sandbox = Sandbox::start(&scenario);
    let released = std::time::Instant::now() + Duration::from_secs(21);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let hook = format!("{}/_sandbox/hooks/night", sandbox.url);
    let added = rw.add_webhook("night", &hook, "a secret long enough to sign with", &[]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    let first: Expected = expected
        .iter()
        .filter(|(t, _, _)| t != later)
        .cloned()
        .collect();

    let (before, _) = watch_until(&rw, &tenants, first.len());
    assert_exactly(&before, &first);
    std::thread::sleep(released.saturating_duration_since(std::time::Instant::now()));
    let (after, stderr) = watch_until(&rw, &tenants, expected.len() - first.len());
    let mut all = before;
    all.extend(after);
    assert_exactly(&all, &expected);
    assert!(stderr.contains("channel night: "), "{stderr}");

    // Every alert reached the webhook once, under its own key, across the restart.
    let received = sandbox.hook("night")["received"]
        .as_array()
        .unwrap()
        .clone();
    let keys: std::collections::BTreeSet<&str> = received
        .iter()
        .map(|r| r["delivery"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), received.len(), "nothing posted twice");
    assert_eq!(received.len(), expected.len());
}

/// A day of scenario time, the sandbox's clock and the watcher's running 960 times as fast
/// (a minute and a half of wall clock): attacks arrive through the day on three tenants,
/// the watcher scans every 15 minutes, is stopped at hour 12 and restarted at hour 14,
/// quiet hours hold what is not critical, a tenant loses consent for two hours, and the
/// e-mail digest goes out once, at its time.
#[test]
fn the_watcher_lives_through_a_day_of_scenario_time_stopped_and_restarted_in_the_middle() {
    use chrono::{DateTime, Duration as Span, DurationRound, Utc};
    use m365_sandbox::attacks::{self, ForwardKind};
    use m365_sandbox::testkit::SmtpSink;

    const SPEED: u32 = 960;
    let tenants: Vec<TestTenant> = (0..3).map(TestTenant::new).collect();
    let (a, b, c) = (&tenants[0], &tenants[1], &tenants[2]);
    let forward_all = |t: &TestTenant, user: usize, drop: &str| {
        attacks::new_inbox_rule_forward(
            &t.ctx(user, user),
            "Sync",
            &[&t.drop_box(drop)],
            ForwardKind::ForwardTo,
        )
    };
    // Each to a drop box of its own: two mailboxes forwarding to one is another alert.
    let mailbox_forward = |t: &TestTenant, user: usize, keep_copy: bool| {
        attacks::set_mailbox_forwarding(
            &t.ctx(user, user),
            Some(&format!("smtp:{}", t.drop_box(&format!("drop{user}")))),
            None,
            keep_copy,
        )
    };
    // (hour of the day it becomes readable, tenant, record, the rule that reports it)
    let plan: Vec<(f64, &TestTenant, Value, Option<&str>)> = vec![
        (
            2.0,
            a,
            forward_all(a, 0, "x"),
            Some("inbox-rule-external-forward"),
        ),
        (
            5.0,
            a,
            attacks::set_inbox_rule_forward(
                &a.ctx(0, 0),
                "Sync",
                &[&a.drop_box("y")],
                ForwardKind::RedirectTo,
            ),
            Some("inbox-rule-external-forward"),
        ),
        // In the quiet hours: the critical one goes at once, the high one waits.
        (
            7.5,
            b,
            mailbox_forward(b, 1, false),
            Some("mailbox-external-forward"),
        ),
        (
            8.0,
            b,
            mailbox_forward(b, 2, true),
            Some("mailbox-external-forward"),
        ),
        // While the watcher is stopped.
        (
            12.5,
            c,
            mailbox_forward(c, 0, false),
            Some("mailbox-external-forward"),
        ),
        (
            13.0,
            c,
            attacks::new_inbox_rule_delete_all(&c.ctx(1, 1), "."),
            Some("inbox-rule-hides-mail"),
        ),
        (
            20.0,
            a,
            forward_all(a, 3, "z"),
            Some("inbox-rule-external-forward"),
        ),
        // Forwarding inside the organisation is no news.
        (
            22.0,
            b,
            attacks::new_inbox_rule_forward(
                &b.ctx(2, 2),
                "Team",
                &[&b.users[0]],
                ForwardKind::ForwardTo,
            ),
            None,
        ),
    ];
    let hour = |h: f64| Span::seconds((h * 3600.0) as i64);
    let mut expected = Expected::new();
    let mut released = std::collections::BTreeMap::new();
    let records: Vec<Value> = plan
        .iter()
        .map(|(h, t, record, rule)| {
            let id = record["Id"].as_str().unwrap().to_string();
            if let Some(rule) = rule {
                expected.insert((t.tenant_id.clone(), id.clone(), rule.to_string()));
            }
            released.insert(id, *h);
            json!({"tenant_id": t.tenant_id, "content_type": "Audit.Exchange",
                   "release_after_s": hour(*h).num_seconds(), "record": record})
        })
        .collect();
    let sandbox = Sandbox::start(&json!({
        "tenants": tenants.iter().map(TestTenant::scenario_json).collect::<Vec<_>>(),
        "records": records,
        "rebase_times": true,
        "noise": {"records_per_tenant": 20, "seed": 11},
        "clock_speed": SPEED,
    }));
    let clock = sandbox.clock();
    let (day, speed) = clock.anchor();
    assert_eq!(speed, SPEED);
    let at = |h: f64| day + hour(h);
    // Quiet hours and the digest's time are given to the minute.
    let to_minute = |t: DateTime<Utc>| t.duration_trunc(Span::minutes(1)).unwrap();
    let minute = |t: DateTime<Utc>| t.format("%H:%M").to_string();

    let mut rw = Rulewatch::with_tenants(&sandbox, &tenants);
    rw.env.push(scenario_clock_env(&clock));
    rw.env.push(("TZ", "UTC".into()));
    let (quiet_from, quiet_to) = (to_minute(at(7.0)), to_minute(at(10.0)));
    let quiet = format!("{}-{}", minute(quiet_from), minute(quiet_to));
    let hook = format!("{}/_sandbox/hooks/day", sandbox.url);
    let added = rw.add_webhook(
        "day",
        &hook,
        "a shared secret of more than sixteen characters",
        &["--quiet-hours", &quiet],
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    let sink = SmtpSink::start("tls");
    let digest_at = to_minute(at(21.5));
    let port = sink.port.to_string();
    let (ca, digest_time) = (sink.ca(), minute(digest_at));
    let mail = rw.run_with_stdin(
        &[
            "channel",
            "add",
            "email",
            "--name",
            "daily",
            "--smtp-host",
            "localhost",
            "--port",
            &port,
            "--security",
            "tls",
            "--ca-file",
            &ca,
            "--username",
            SmtpSink::USER,
            "--password-stdin",
            "--from",
            "Rulewatch <alerts@msp.example>",
            "--to",
            "soc@msp.example",
            "--digest-at",
            &digest_time,
        ],
        SmtpSink::PASSWORD,
    );
    assert_eq!(mail.code, 0, "{}", mail.stderr);

    let every = ["--every", "15"];
    let first = Watcher::start(&rw, &every);
    sleep_until(&clock, at(12.0));
    let (morning, stderr) = first.stop();
    assert!(
        stderr.contains("RULEWATCH_SCENARIO_CLOCK is set"),
        "the watcher says its clock is not the wall clock: {stderr}"
    );
    let before_noon: Expected = expected
        .iter()
        .filter(|(_, id, _)| released[id] < 12.0)
        .cloned()
        .collect();
    assert_exactly(&morning, &before_noon);

    sleep_until(&clock, at(14.0));
    let restarted = at(14.0);
    let mut second = Watcher::start(&rw, &every);
    sleep_until(&clock, at(16.0));
    sandbox.patch_tenant(&b.tenant_id, json!({"consented": false}));
    sleep_until(&clock, at(18.0));
    sandbox.patch_tenant(&b.tenant_id, json!({"consented": true}));
    sleep_until(&clock, at(24.0));

    // Every alert and both monitoring events reached the webhook, and the digest went out.
    let received = || sandbox.hook("day")["received"].as_array().unwrap().clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while received().len() < expected.len() + 2 || sink.messages().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {} webhook posts and {} digests by the end of the day: {:#?}",
            received().len(),
            expected.len() + 2,
            sink.messages().len(),
            received()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    second.wait_for(|alerts, _| alerts.len() + morning.len() >= expected.len());
    let (afternoon, _) = second.stop();
    let mut all = morning;
    all.extend(afternoon);
    assert_exactly(&all, &expected);
    // Set-InboxRule names the mailbox by GUID; Exchange said whose it is.
    let by_guid: Vec<&Value> = all
        .iter()
        .filter(|x| x["operation"] == "Set-InboxRule")
        .collect();
    assert_eq!(by_guid.len(), 1);
    assert!(uuid::Uuid::parse_str(by_guid[0]["target"].as_str().unwrap()).is_ok());
    assert_eq!(by_guid[0]["mailbox"], a.users[0].as_str());

    let received = received();
    let keys: std::collections::BTreeSet<&str> = received
        .iter()
        .map(|r| r["delivery"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), received.len(), "nothing posted twice");
    assert_eq!(received.len(), expected.len() + 2, "{received:#?}");
    let when = |r: &Value| {
        r["received_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap()
    };
    let mut incidents = std::collections::BTreeMap::<String, Vec<String>>::new();
    let mut monitoring = Vec::new();
    for r in &received {
        let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        let event = body["event"].as_str().unwrap();
        if event.starts_with("tenant.") {
            assert_eq!(body["tenant"]["tenant_id"], b.tenant_id.as_str());
            monitoring.push((event.to_string(), when(r)));
            continue;
        }
        // The delivery key is the incident's key and the alert's id.
        let delivery = r["delivery"].as_str().unwrap();
        let alert_id = delivery.rsplit_once(':').unwrap().1;
        let alert = body["incident"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"].as_i64() == alert_id.parse().ok())
            .unwrap();
        let h = released[alert["record_id"].as_str().unwrap()];
        let got = when(r);
        let held = alert["severity"] != "critical" && (7.0..10.0).contains(&h);
        // Readable at its hour; sent at once, or when the quiet hours end, or when the
        // watcher is back.
        let due = if held {
            quiet_to
        } else if (12.0..14.0).contains(&h) {
            restarted
        } else {
            at(h)
        };
        assert!(got >= due, "sent before {due}: {r:#}");
        // Within a few polls, across the restart and token renewals.
        assert!(
            got - due < hour(3.0),
            "{} min late: {r:#}",
            (got - due).num_minutes()
        );
        incidents
            .entry(body["incident"]["key"].as_str().unwrap().to_string())
            .or_default()
            .push(format!("{event} {}", body["incident"]["mailbox"]));
    }
    // Two alerts on one mailbox three hours apart are one incident: opened, then updated.
    assert_eq!(incidents.len(), expected.len() - 1, "{incidents:#?}");
    assert!(
        incidents
            .values()
            .any(|e| matches!(e.as_slice(), [opened, updated]
                if opened.starts_with("incident.opened ") && updated.starts_with("incident.updated "))),
        "{incidents:#?}"
    );
    assert!(
        incidents
            .values()
            .all(|e| e[0].starts_with("incident.opened ") && e.len() <= 2)
    );
    // Consent lost at hour 16 and back at hour 18: one message each, in order.
    assert_eq!(
        monitoring
            .iter()
            .map(|(e, _)| e.as_str())
            .collect::<Vec<_>>(),
        ["tenant.broken", "tenant.recovered"]
    );
    assert!(monitoring[0].1 >= at(16.0) && monitoring[1].1 >= at(18.0));

    // One digest in the day, at its time, telling of every incident opened before it.
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let sent = clock.at(messages[0]["received_at"]
        .as_str()
        .unwrap()
        .parse::<DateTime<Utc>>()
        .unwrap());
    assert!(
        sent >= digest_at,
        "the digest waited for {digest_time}: sent at {sent}"
    );
    assert!(
        messages[0]["subject"]
            .as_str()
            .unwrap()
            .contains(&format!("{} incidents", expected.len() - 1)),
        "{:#}",
        messages[0]
    );
}
