//! `rulewatch check`: detection over exported audit records, in each layout a
//! technician has them, with unreadable records named and the rest still judged.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::bin;

fn corpus(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/records")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is needed by this test ({e}); see README.md",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

/// The "." rule, the smtp: forwarding and the Set-CASMailbox change (POP and IMAP turned on).
fn records() -> Vec<Value> {
    [
        "new-inboxrule-noconditions-delete-markasread.json",
        "set-mailbox-forwardingsmtpaddress-smtp-prefix.json",
        "set-casmailbox-enable-pop-imap.json",
    ]
    .iter()
    .flat_map(|f| corpus(f).as_array().unwrap().clone())
    .collect()
}

fn check(args: &[&str]) -> Output {
    Command::new(bin())
        .arg("check")
        .args(args)
        .output()
        .unwrap()
}

fn alerts(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn rules(alerts: &[Value]) -> Vec<(String, String)> {
    alerts
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_string(),
                a["position"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn json_array_alerts_carry_the_record_facts() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "export.json",
        &serde_json::to_string_pretty(&records()).unwrap(),
    );
    let out = check(&[
        "--json",
        "--accepted-domains",
        "contoso.com,contoso.onmicrosoft.com",
        &file,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = alerts(&out);
    assert_eq!(
        rules(&a),
        vec![
            ("inbox-rule-hides-mail".into(), "record 1".into()),
            ("mailbox-external-forward".into(), "record 2".into()),
            ("legacy-protocol-enabled".into(), "record 3".into())
        ]
    );
    assert_eq!(a[0]["tenant_id"], "7c1aec86-7bc7-44d0-a01c-72c2f196f29b");
    assert_eq!(a[0]["severity"], "critical");
    assert_eq!(a[0]["operation"], "New-InboxRule");
    assert_eq!(a[0]["target"], "stinger@contoso.com");
    assert_eq!(a[0]["client_ip"], "154.66.247.79");
    assert_eq!(a[0]["file"], file.as_str());
    assert_eq!(
        a[0]["summary"],
        r#"Rule "." on stinger@contoso.com applies to every incoming message: deletes it, marks it as read, stops other rules."#
    );
    for field in ["record_id", "actor", "event_time", "details"] {
        assert!(!a[0][field].is_null(), "{field} missing: {}", a[0]);
    }
}

#[test]
fn json_lines_without_domains_assumes_them_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = records().iter().map(Value::to_string).collect();
    let file = write(dir.path(), "export.jsonl", &lines.join("\n"));
    let out = check(&[&file]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "assumed the organisation's domains are: contoso.com, contoso.onmicrosoft.com"
        ),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("CRITICAL inbox-rule-hides-mail"),
        "{stdout}"
    );
    assert!(
        stdout.contains("now forwards all mail to bla@bla.com"),
        "{stdout}"
    );
    assert!(stdout.contains("export.jsonl, line 2"), "{stdout}");
}

/// The records as a Purview / `Search-UnifiedAuditLog` CSV export.
fn purview_csv() -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(["CreationDate", "UserIds", "Operations", "auditdata"])
        .unwrap();
    for r in records() {
        let mut r = r;
        // Search-UnifiedAuditLog exports keep Parameters as text inside AuditData.
        r["Parameters"] = Value::String(r["Parameters"].to_string());
        writer
            .write_record([
                "2024-02-04T22:49:32",
                r["UserId"].as_str().unwrap(),
                r["Operation"].as_str().unwrap(),
                &r.to_string(),
            ])
            .unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

#[test]
fn purview_csv_export_is_read_from_its_audit_data_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "purview.csv", &purview_csv());
    let out = check(&["--json", "--accepted-domains", "contoso.com", &file]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        rules(&alerts(&out)),
        vec![
            ("inbox-rule-hides-mail".into(), "line 2".into()),
            ("mailbox-external-forward".into(), "line 3".into()),
            ("legacy-protocol-enabled".into(), "line 4".into())
        ]
    );
}

/// Text in the encodings Windows writes: Purview's UTF-8 with a byte-order mark, and
/// Windows PowerShell's "Unicode" (UTF-16LE) and BigEndianUnicode, each with its mark.
fn windows_encodings(text: &str) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "utf8-bom",
            [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
        ),
        (
            "utf16le",
            [
                vec![0xFF, 0xFE],
                text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            ]
            .concat(),
        ),
        (
            "utf16be",
            [
                vec![0xFE, 0xFF],
                text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            ]
            .concat(),
        ),
    ]
}

#[test]
fn exports_written_on_windows_are_read_in_each_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let array = serde_json::to_string_pretty(&records()).unwrap();
    for (layout, text, first, second, third) in [
        ("json", array, "record 1", "record 2", "record 3"),
        ("csv", purview_csv(), "line 2", "line 3", "line 4"),
    ] {
        for (encoding, bytes) in windows_encodings(&text) {
            let path = dir.path().join(format!("export-{encoding}.{layout}"));
            std::fs::write(&path, bytes).unwrap();
            let out = check(&[
                "--json",
                "--accepted-domains",
                "contoso.com",
                path.to_str().unwrap(),
            ]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{layout} {encoding}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let found = alerts(&out);
            assert_eq!(
                rules(&found),
                vec![
                    ("inbox-rule-hides-mail".into(), first.into()),
                    ("mailbox-external-forward".into(), second.into()),
                    ("legacy-protocol-enabled".into(), third.into())
                ],
                "{layout} {encoding}"
            );
            assert_eq!(
                found[0]["target"], "stinger@contoso.com",
                "{layout} {encoding}"
            );
        }
    }
    // Latin-1 is neither: refused with what to do, never read with replaced characters.
    let latin1 = write(dir.path(), "latin1.json", "");
    std::fs::write(
        &latin1,
        b"[{\"Id\":\"1\",\"Operation\":\"Set-Mailbox\",\"UserId\":\"zo\xEB@contoso.com\"}]",
    )
    .unwrap();
    let out = check(&[&latin1]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("latin1.json: the file is not valid UTF-8 text; export it again as UTF-8"),
        "{stderr}"
    );
}

#[test]
fn a_bad_line_is_named_and_the_rest_still_judged() {
    let dir = tempfile::tempdir().unwrap();
    let r = records();
    let text = format!("{}\n{{\"Id\": \"x\", broken\n[1, 2]\n{}\n", r[0], r[1]);
    let file = write(dir.path(), "mixed.jsonl", &text);
    let out = check(&["--json", "--accepted-domains", "contoso.com", &file]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mixed.jsonl: line 2: skipped"), "{stderr}");
    assert!(
        stderr.contains("mixed.jsonl: line 3: skipped, cannot be read: not a JSON object"),
        "{stderr}"
    );
    assert_eq!(
        rules(&alerts(&out)),
        vec![
            ("inbox-rule-hides-mail".into(), "line 1".into()),
            ("mailbox-external-forward".into(), "line 4".into())
        ]
    );
}

#[test]
fn an_empty_export_and_a_bad_audit_data_cell_are_named_not_taken_as_clean() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.json", "");
    let bom_only = dir.path().join("bom-only.csv");
    std::fs::write(&bom_only, b"\xEF\xBB\xBF").unwrap();
    let bad_cell = write(
        dir.path(),
        "bad-cell.csv",
        &purview_csv().replacen("\"{\"\"", "\"{oops\"\"", 1),
    );
    let out = check(&[&empty, bom_only.to_str().unwrap(), &bad_cell]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for file in ["empty.json", "bom-only.csv"] {
        assert!(
            stderr.contains(&format!("{file}: holds no audit records")),
            "{stderr}"
        );
    }
    assert!(
        stderr.contains("bad-cell.csv: line 2: skipped, cannot be read: AuditData is not JSON"),
        "{stderr}"
    );
    // The good row after the bad cell is still judged.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("mailbox-external-forward"), "{stdout}");
    assert!(!stdout.contains("No alerts"), "{stdout}");
}

#[test]
fn missing_file_and_wrong_columns_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = write(dir.path(), "wrong.csv", "Date,User\n2024-01-01,a\n");
    let out = check(&[&wrong, "/no/such/export.json"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read /no/such/export.json"),
        "{stderr}"
    );
    assert!(stderr.contains("wrong.csv: line 1: skipped, cannot be read: neither JSON nor a CSV export with an AuditData column"), "{stderr}");
}

#[test]
fn one_destination_fed_from_two_mailboxes_across_files_is_a_fan_in() {
    let dir = tempfile::tempdir().unwrap();
    let first = corpus("set-mailbox-forwardingsmtpaddress-smtp-prefix.json");
    let mut second = first.clone();
    second[0]["Id"] = "0f0e0d0c-0000-4000-8000-000000000002".into();
    second[0]["CreationTime"] = "2023-06-02T08:00:00".into();
    second[0]["Parameters"][0]["Value"] = "megan@contoso.onmicrosoft.com".into();
    let a = write(dir.path(), "a.json", &first.to_string());
    let b = write(dir.path(), "b.json", &second.to_string());
    let out = check(&[
        "--json",
        "--accepted-domains",
        "contoso.onmicrosoft.com",
        &a,
        &b,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found = alerts(&out);
    let fan_in: Vec<&Value> = found
        .iter()
        .filter(|x| x["rule"] == "forwarding-fan-in")
        .collect();
    assert_eq!(fan_in.len(), 1, "{found:?}");
    assert_eq!(fan_in[0]["target"], "bla@bla.com");
    assert_eq!(fan_in[0]["severity"], "high");
    assert_eq!(fan_in[0]["details"]["mailboxes"], 2);
    let summary = fan_in[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("megan@contoso.onmicrosoft.com (contoso.onmicrosoft.com)"),
        "{summary}"
    );

    // More than a week apart, the same two forwards are no campaign.
    second[0]["CreationTime"] = "2023-06-20T08:00:00".into();
    let b = write(dir.path(), "b.json", &second.to_string());
    let out = check(&[
        "--json",
        "--accepted-domains",
        "contoso.onmicrosoft.com",
        &a,
        &b,
    ]);
    assert!(
        alerts(&out)
            .iter()
            .all(|x| x["rule"] != "forwarding-fan-in")
    );
}

#[test]
fn help_gives_check_and_remediate_each_their_own_description() {
    let out = Command::new(bin()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let line = |command: &str| {
        help.lines()
            .find(|l| l.trim_start().starts_with(&format!("{command} ")))
            .unwrap_or_else(|| panic!("no `{command}` in:\n{help}"))
            .to_string()
    };
    assert!(
        line("check").contains("Run detection over exported audit records"),
        "{help}"
    );
    assert!(
        line("remediate").contains("Secure and Remediate an alert's mailbox"),
        "{help}"
    );
    assert!(!line("remediate").contains("exported"), "{help}");
}
