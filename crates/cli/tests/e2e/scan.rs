//! A clean scan: every planted threat reported once, nothing twice, truthful status,
//! and per-tenant failures that say what to do.

use serde_json::json;

use crate::harness::*;

#[test]
fn every_planted_threat_once_then_nothing_new() {
    let (scenario, tenants, expected) = world(3, 300, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);

    let first = rw.scan();
    assert_eq!(first.code, 0, "{}", first.stderr);
    let alerts = first.json_lines();
    assert_exactly(&alerts, &expected);
    for a in &alerts {
        for field in [
            "id",
            "tenant_id",
            "rule",
            "severity",
            "record_id",
            "target",
            "actor",
            "client_ip",
            "summary",
            "event_time",
        ] {
            assert!(!a[field].is_null(), "alert lacks {field}: {a}");
        }
        assert_eq!(a["client_ip"], "203.0.113.77");
    }
    for t in &tenants {
        assert!(
            first.stderr.contains(&format!("{}: scanned", t.name)),
            "{}",
            first.stderr
        );
    }

    let second = rw.scan();
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.stdout, "", "a second scan reported alerts again");
    assert_exactly(&rw.alerts(), &expected);

    let statuses = rw.status();
    for t in &tenants {
        let s = tenant_status(&statuses, t);
        assert_eq!(s["state"], "ok", "{s}");
        assert!(s["last_success_at"].is_string());
        let complete: chrono::DateTime<chrono::Utc> =
            s["data_complete_until"].as_str().unwrap().parse().unwrap();
        assert!(
            chrono::Utc::now() - complete < chrono::Duration::minutes(2),
            "{s}"
        );
        assert_eq!(
            s["open_alerts"],
            expected.iter().filter(|e| e.0 == t.tenant_id).count()
        );
    }
    assert_eq!(sandbox.stats()["missing_publisher_identifier"], 0);
}

#[test]
fn what_scan_printed_still_waits_for_the_desktop_s_notification() {
    let (scenario, tenants, expected) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    assert_exactly(&rw.scan().json_lines(), &expected);
    let status = rw.run(&["status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status
            .stdout
            .contains("  scan: 0 queued; last delivered 20"),
        "scan printed its queue: {}",
        status.stdout
    );
    assert!(
        status.stdout.contains(&format!(
            "  desktop: {} queued; last delivered never",
            expected.len()
        )),
        "the desktop's queue keeps every alert scan printed: {}",
        status.stdout
    );
}

#[test]
fn every_alert_is_in_one_incident_of_its_own_mailbox() {
    let (scenario, tenants, expected) = world(2, 50, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let alerts = rw.scan().json_lines();
    assert_exactly(&alerts, &expected);
    let incidents = rw.run(&["incidents", "--json"]);
    assert_eq!(incidents.code, 0, "{}", incidents.stderr);
    let incidents = incidents.json_lines();
    let mut seen: Vec<i64> = Vec::new();
    for i in &incidents {
        let members = i["alerts"].as_array().unwrap();
        assert!(!members.is_empty(), "{i}");
        for a in members {
            assert_eq!(a["tenant_id"], i["tenant_id"], "{i}");
            // The mailbox by the UPN Exchange gave, else as the record named it.
            let mailbox = a["mailbox"].as_str().or(a["target"].as_str()).unwrap();
            assert_eq!(mailbox.to_lowercase(), i["subject"], "{i}");
            assert_eq!(a["incident_id"], i["id"], "{i}");
            seen.push(a["id"].as_i64().unwrap());
        }
        let gravest = members
            .iter()
            .map(|a| severity_rank(a["severity"].as_str().unwrap()))
            .max();
        assert_eq!(
            Some(severity_rank(i["severity"].as_str().unwrap())),
            gravest,
            "{i}"
        );
    }
    seen.sort_unstable();
    let mut all: Vec<i64> = alerts.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    all.sort_unstable();
    assert_eq!(seen, all, "each alert in exactly one incident");
    assert!(
        incidents.len() < alerts.len(),
        "the planted attacks put several alerts on one mailbox: {} incidents for {} alerts",
        incidents.len(),
        alerts.len()
    );
}

fn severity_rank(s: &str) -> u8 {
    ["low", "medium", "high", "critical"]
        .iter()
        .position(|x| *x == s)
        .unwrap_or_else(|| panic!("unknown severity {s}")) as u8
}

#[test]
fn the_summary_names_mailbox_destination_and_actor() {
    let (scenario, tenants, _) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let alerts = rw.scan().json_lines();
    let t = &tenants[0];
    let forwarding = alerts
        .iter()
        .find(|a| a["rule"] == "mailbox-external-forward")
        .expect("mailbox forwarding alert");
    assert_eq!(forwarding["severity"], "critical");
    assert_eq!(forwarding["target"], t.users[2].as_str());
    assert_eq!(forwarding["actor"], t.users[3].as_str());
    assert_eq!(
        forwarding["summary"],
        format!(
            "Mailbox {} now forwards all mail to {} (outside the organisation); no copy is kept in the mailbox.",
            t.users[2],
            t.drop_box("drop")
        )
    );
    let rule = alerts
        .iter()
        .find(|a| a["rule"] == "inbox-rule-external-forward" && a["operation"] == "New-InboxRule")
        .expect("rule forwarding alert");
    // Both outside addresses are named, whichever comes first.
    assert_eq!(
        rule["details"]["destinations"],
        json!([t.drop_box("bob"), t.drop_box("exfil")])
    );
    let text = rw.run(&["alerts"]);
    assert!(text.stdout.contains("changed by"), "{}", text.stdout);
}

#[test]
fn a_missing_subscription_is_started() {
    let (mut scenario, tenants, expected) = world(1, 50, json!({}));
    scenario["tenants"][0]["subscription"] = json!("absent");
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let run = rw.scan();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exactly(&run.json_lines(), &expected);
    // Entra's, Exchange's and the general feed, each once.
    assert_eq!(sandbox.stats()["subscriptions_started"], 3);
}

#[test]
fn a_stopped_subscription_is_restarted_at_most_every_15_minutes() {
    let (mut scenario, tenants, expected) = world(1, 20, json!({}));
    scenario["tenants"][0]["subscription"] = json!("disabled");
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let first = rw.scan();
    assert_eq!(
        first.code, 0,
        "a stopped subscription is started again: {}",
        first.stderr
    );
    assert_exactly(&first.json_lines(), &expected);
    // Each of the three feeds' subscriptions, once.
    assert_eq!(sandbox.stats()["subscriptions_started"], 3);

    // Stopped again minutes later: Microsoft allows one start every 15 minutes, so the
    // tenant is reported, saying when Rulewatch will start it again.
    sandbox.patch_tenant(&tenants[0].tenant_id, json!({"subscription": "disabled"}));
    let second = rw.scan();
    assert_eq!(second.code, 3, "{}", second.stderr);
    assert_eq!(
        sandbox.stats()["subscriptions_started"],
        3,
        "none started again within 15 minutes"
    );
    let s = rw.status();
    let s = tenant_status(&s, &tenants[0]);
    assert_eq!(s["problem"], "subscription_disabled", "{s}");
    let message = s["message"].as_str().unwrap();
    assert!(
        message.contains("is stopped") && message.contains("starts it again after"),
        "{s}"
    );
}

#[test]
fn a_subscription_briefly_reported_stopped_is_already_enabled_when_started() {
    // Right after set-up Microsoft can list a subscription as stopped (AF20023) and then
    // answer its start with "already enabled" (AF20024), which is success (§G 2).
    let (scenario, tenants, expected) = world(
        1,
        20,
        json!({"script": [{"endpoint": "content", "fault": "subscription_stopped", "count": 1}]}),
    );
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let run = rw.scan();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exactly(&run.json_lines(), &expected);
    assert_eq!(sandbox.stats()["subscriptions_started"], 1);
    assert_eq!(sandbox.stats()["faults"]["subscription_stopped"], 1);
}

#[test]
fn each_failing_tenant_says_what_to_do_while_the_others_are_scanned() {
    let (mut scenario, tenants, expected) = world(6, 20, json!({}));
    // A tenant whose subscription was stopped is started again (§G 2) and scanned.
    scenario["tenants"][1]["subscription"] = json!("disabled");
    scenario["tenants"][2]["audit_enabled"] = json!(false);
    scenario["tenants"][3]["consented"] = json!(false);
    scenario["tenants"][4]["roles"] = json!(["Domain.Read.All"]);
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    // Tenant 5's secret was rotated in Entra after it was added here.
    sandbox.patch_tenant(
        &tenants[5].tenant_id,
        json!({"client_secret": "rotated-elsewhere"}),
    );

    let run = rw.scan();
    assert_eq!(
        run.code, 3,
        "a failed tenant must fail the scan: {}",
        run.stderr
    );
    let healthy: Expected = expected
        .iter()
        .filter(|e| e.0 == tenants[0].tenant_id || e.0 == tenants[1].tenant_id)
        .cloned()
        .collect();
    assert_exactly(&run.json_lines(), &healthy);

    let statuses = rw.status();
    assert_eq!(tenant_status(&statuses, &tenants[0])["state"], "ok");
    assert_eq!(tenant_status(&statuses, &tenants[1])["state"], "ok");
    let cases = [
        (
            2,
            "audit_disabled",
            "Start recording user and admin activity",
        ),
        (3, "consent_missing", "adminconsent?client_id="),
        (4, "permission_missing", "ActivityFeed.Read"),
        (5, "bad_credentials", "Create a new client secret"),
    ];
    for (i, problem, hint) in cases {
        let s = tenant_status(&statuses, &tenants[i]);
        assert_eq!(s["state"], "error", "{s}");
        assert_eq!(s["problem"], problem, "{s}");
        assert!(s["message"].as_str().unwrap().contains(hint), "{s}");
        assert!(s["last_success_at"].is_null(), "{s}");
        assert!(
            run.stderr.contains(&format!("{}: FAILED", tenants[i].name)),
            "{}",
            run.stderr
        );
    }
    // Audit off answers with a code full of context and a stack trace (§G 1): the status
    // is one readable line.
    let audit = tenant_status(&statuses, &tenants[2])["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !audit.contains('\n') && !audit.contains("   at ") && !audit.contains("CorrId"),
        "{audit}"
    );
    assert!(
        audit.contains(&format!("Tenant {} does not exist", tenants[2].tenant_id)),
        "{audit}"
    );
    let text = rw.run(&["status"]);
    assert!(
        text.stdout.contains("error; last successful scan never"),
        "{}",
        text.stdout
    );
}

#[test]
fn token_refusals_each_get_their_own_plain_words() {
    let (mut scenario, tenants, _) = world(4, 0, json!({}));
    let cases = [
        (
            1,
            "service_principal_disabled",
            "service_disabled",
            "service principal is disabled",
        ),
        (
            2,
            "resource_not_found",
            "service_missing",
            "no Office 365 or Exchange Online subscription",
        ),
        (
            3,
            "application_disabled",
            "app_disabled",
            "Enabled for users to sign-in",
        ),
    ];
    for (i, refusal, _, _) in cases {
        scenario["tenants"][i]["token_refusal"] = json!(refusal);
    }
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let run = rw.scan();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let statuses = rw.status();
    assert_eq!(tenant_status(&statuses, &tenants[0])["state"], "ok");
    for (i, _, problem, words) in cases {
        let s = tenant_status(&statuses, &tenants[i]);
        assert_eq!(s["state"], "error", "{s}");
        assert_eq!(s["problem"], problem, "{s}");
        let message = s["message"].as_str().unwrap();
        assert!(message.contains(words), "{s}");
        assert!(!message.contains("Trace ID"), "{s}");
    }
}

#[test]
fn bad_input_is_refused_clearly_and_loses_nothing() {
    let (scenario, tenants, expected) = world(1, 10, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    let t = &tenants[0];
    rw.add_tenant(t);

    let bad_guid = rw.run_with_stdin(
        &[
            "tenant",
            "add",
            "--tenant-id",
            "contoso.com",
            "--name",
            "X",
            "--client-id",
            &t.client_id,
            "--client-secret-stdin",
        ],
        "x",
    );
    assert_eq!(bad_guid.code, 1);
    assert!(
        bad_guid
            .stderr
            .contains("tenant id 'contoso.com' is not a GUID"),
        "{}",
        bad_guid.stderr
    );

    let again = rw.run_with_stdin(
        &[
            "tenant",
            "add",
            "--tenant-id",
            &t.tenant_id,
            "--name",
            "Again",
            "--client-id",
            &t.client_id,
            "--client-secret-stdin",
        ],
        "a-different-secret",
    );
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("already configured"),
        "{}",
        again.stderr
    );

    let empty = rw.run_with_stdin(
        &[
            "tenant",
            "add",
            "--tenant-id",
            &uuid::Uuid::new_v4().to_string(),
            "--name",
            "Y",
            "--client-id",
            &t.client_id,
            "--client-secret-stdin",
        ],
        "\n",
    );
    assert_eq!(empty.code, 1);
    assert!(
        empty
            .stderr
            .contains("client secret read from standard input is empty"),
        "{}",
        empty.stderr
    );

    // The refused attempts changed nothing: the original tenant and secret still work.
    let listed = rw.run(&["tenant", "list", "--json"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let run = rw.scan();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exactly(&run.json_lines(), &expected);
}

#[test]
fn demo_shows_planted_attacks_without_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin())
        .arg("demo")
        .env("RULEWATCH_DATA_DIR", dir.path())
        .env_remove("RULEWATCH_ENDPOINTS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for rule in [
        "inbox-rule-external-forward",
        "inbox-rule-hides-mail",
        "mailbox-external-forward",
        "forwarding-fan-in",
    ] {
        assert!(stdout.contains(rule), "demo output lacks {rule}:\n{stdout}");
    }
    assert!(stderr.contains("not Microsoft"), "{stderr}");
    // The demo works in a throwaway folder and leaves the user's data alone.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_long_backfill_is_read_in_windows_of_at_most_a_day() {
    let (mut scenario, tenants, expected) = world(1, 200, json!({}));
    // Noise over the last 60 hours and the attacks 50 hours ago: three listing windows.
    scenario["noise"]["spread_s"] = json!(60 * 3600);
    for r in scenario["records"].as_array_mut().unwrap() {
        r["release_after_s"] = json!(-50 * 3600);
    }
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let short = rw.scan();
    assert_eq!(short.code, 0, "{}", short.stderr);
    assert!(
        short.json_lines().is_empty(),
        "the default backfill is 24 hours"
    );

    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let too_long = rw.run(&["--backfill-hours", "168", "scan"]);
    assert!(
        too_long.code != 0 && too_long.stderr.contains("168 is not in 1..=167"),
        "Microsoft keeps 7 days: {}",
        too_long.stderr
    );
    let long = rw.run(&["--backfill-hours", "72", "scan", "--json"]);
    assert_eq!(
        long.code, 0,
        "the sandbox refuses windows over 24 h: {}",
        long.stderr
    );
    assert_exactly(&long.json_lines(), &expected);
}

#[test]
fn tokens_are_renewed_before_they_expire() {
    // Two-second tokens and slow answers: one scan outlives several tokens.
    let (mut scenario, tenants, expected) = world(1, 300, json!({"slow": 1.0, "slow_ms": 400}));
    scenario["token_lifetime_s"] = json!(2);
    scenario["records_per_blob"] = json!(40);
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let run = rw.scan();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exactly(&run.json_lines(), &expected);
    let issued = sandbox.stats()["tokens_issued"].as_u64().unwrap();
    assert!(
        issued > 2,
        "only {issued} tokens for a scan longer than a token's life"
    );
}

#[test]
fn a_mailbox_exchange_cannot_name_keeps_its_alert_under_the_recorded_guid() {
    use m365_sandbox::attacks::{self, ForwardKind};
    let t = TestTenant::new(0);
    let mut tenant = t.scenario_json();
    // Neither Exchange nor Graph may be read: nobody can say whose the GUID is.
    tenant["roles"] = json!(["ActivityFeed.Read", "Domain.Read.All"]);
    let set = attacks::set_inbox_rule_forward(
        &t.ctx(1, 1),
        "Sync",
        &[&t.drop_box("sync")],
        ForwardKind::ForwardTo,
    );
    let scenario = json!({
        "tenants": [tenant],
        "records": [{"tenant_id": t.tenant_id, "content_type": "Audit.Exchange", "release_after_s": -5, "record": set}],
    });
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, std::slice::from_ref(&t));
    let scan = rw.scan();
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let alerts = scan.json_lines();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let guid = alerts[0]["target"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(guid).is_ok(), "{guid}");
    assert!(alerts[0]["mailbox"].is_null());
    let incidents = rw.run(&["incidents", "--json"]).json_lines();
    assert_eq!(incidents[0]["subject"], guid.to_lowercase());
}

/// A scan of many tenants shows how far it is: plain lines at each tenth in a log (stderr
/// not a terminal), a bar on a terminal, which goes before the summary.
#[test]
fn a_scan_of_many_tenants_shows_its_progress_as_lines_in_a_log_and_a_bar_on_a_terminal() {
    let (scenario, tenants, _) = world(10, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let logged = rw.run(&["scan"]);
    assert_eq!(logged.code, 0, "{}", logged.stderr);
    let lines: Vec<&str> = logged
        .stderr
        .lines()
        .filter(|l| l.starts_with("Scanned "))
        .collect();
    let expected: Vec<String> = (1..=10)
        .map(|n| format!("Scanned {n}/10 tenants"))
        .collect();
    assert_eq!(lines, expected);
    // Each tenant's summary says how long its scan took.
    let timed = logged
        .stderr
        .lines()
        .filter(|l| {
            l.split_once(" new alerts in ")
                .and_then(|(_, t)| t.strip_suffix(" s"))
                .is_some_and(|t| t.parse::<f64>().is_ok())
        })
        .count();
    assert_eq!(timed, 10, "{}", logged.stderr);

    // On a terminal (util-linux's `script` gives the scan one), a bar instead.
    let c = rw.command(&["scan"]);
    let program = c.get_program().to_string_lossy().into_owned();
    let on_terminal = std::process::Command::new("script")
        .args(["-qec", &format!("'{program}' scan"), "/dev/null"])
        .envs(c.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux) runs the scan on a terminal");
    let shown = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(on_terminal.status.success(), "{shown}");
    assert!(shown.contains("tenants scanned"), "{shown}");
    assert!(!shown.contains("Scanned 1/10"), "{shown}");
}
