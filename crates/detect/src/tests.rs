//! Detection on crafted records: every address judged, actor versus target, system
//! and failed operations ignored, evasions seen through, everyday changes left alone.
//! The account-takeover rules have their own files beside this one.

mod bursts;
mod directory;
mod exchange;
mod mail_record;

use serde_json::{Value, json};

use super::*;

fn ctx() -> TenantContext {
    TenantContext {
        accepted_domains: vec!["contoso.com".into(), "contoso.onmicrosoft.com".into()],
    }
}

fn record(operation: &str, user: &str, params: &[(&str, &str)]) -> Value {
    json!({
        "Id": "11111111-1111-1111-1111-111111111111",
        "CreationTime": "2026-11-27T10:00:00",
        "Operation": operation,
        "ResultStatus": "True",
        "UserId": user,
        "ClientIP": "203.0.113.9:4431",
        "ObjectId": "EX/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/adele\\Sync",
        "Parameters": params.iter().map(|(n, v)| json!({"Name": n, "Value": v})).collect::<Vec<_>>(),
    })
}

/// Every finding of a record, which the pre-filter must have let through, and whose
/// evidence the store reads back as it was.
fn run(v: &Value) -> Vec<Finding> {
    let findings = detect(&serde_json::from_value(v.clone()).unwrap(), &ctx());
    assert!(
        findings.is_empty() || is_candidate(&v.to_string()),
        "the pre-filter drops a record that raises {findings:?}"
    );
    for f in &findings {
        assert_stored_evidence_reads_back(f);
    }
    findings
}

fn assert_stored_evidence_reads_back(f: &Finding) {
    let stored = serde_json::to_value(&f.details).unwrap();
    assert!(
        !matches!(f.details, Evidence::Other(_)),
        "{}: untyped evidence",
        f.rule
    );
    assert_eq!(Evidence::read(f.rule, stored), f.details, "{}", f.rule);
}

#[test]
fn every_forward_address_is_judged_not_only_the_first() {
    let v = record(
        "New-InboxRule",
        "adele@contoso.com",
        &[
            ("Name", "Sync"),
            ("ForwardTo", "bob@contoso.com;eve@evil.example"),
            ("SubjectContainsWords", "invoice"),
        ],
    );
    let f = run(&v);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, INBOX_RULE_EXTERNAL_FORWARD);
    // Forwarding filtered on a finance word is how invoice fraud starts.
    assert_eq!(f[0].severity, Severity::Critical);
    assert_eq!(f[0].details.destinations(), ["eve@evil.example"]);
    assert_eq!(
        f[0].summary,
        r#"Rule "Sync" on adele@contoso.com applies to messages whose subject contains "invoice": forwards it to eve@evil.example (outside the organisation)."#
    );
}

#[test]
fn internal_forwarding_and_internal_mailbox_forwarding_raise_nothing() {
    assert!(
        run(&record(
            "New-InboxRule",
            "adele@contoso.com",
            &[("Name", "x"), ("RedirectTo", "Bob Smith;bob@CONTOSO.com")]
        ))
        .is_empty()
    );
    assert!(
        run(&record(
            "Set-Mailbox",
            "adele@contoso.com",
            &[
                ("Identity", "adele"),
                ("ForwardingSmtpAddress", "smtp:bob@contoso.com")
            ]
        ))
        .is_empty()
    );
    assert!(
        run(&record(
            "Set-Mailbox",
            "adele@contoso.com",
            &[("Identity", "adele"), ("RetainDeletedItemsFor", "30")]
        ))
        .is_empty()
    );
}

#[test]
fn redirect_of_all_mail_that_also_deletes_is_critical_and_hides_mail() {
    let v = record(
        "New-InboxRule",
        "adele@contoso.com",
        &[
            ("Name", "."),
            ("RedirectTo", "\"Eve\" [SMTP:eve@evil.example]"),
            ("DeleteMessage", "True"),
        ],
    );
    let f = run(&v);
    let rules: Vec<&str> = f.iter().map(|f| f.rule).collect();
    assert_eq!(
        rules,
        vec![INBOX_RULE_EXTERNAL_FORWARD, INBOX_RULE_HIDES_MAIL]
    );
    assert_eq!(f[0].severity, Severity::Critical);
}

#[test]
fn admin_on_another_mailbox_alerts_on_the_mailbox() {
    let v = record(
        "New-InboxRule",
        "admin@contoso.com",
        &[
            ("Mailbox", "adele@contoso.com"),
            ("Name", "f"),
            ("ForwardAsAttachmentTo", "x@evil.example"),
        ],
    );
    let f = run(&v);
    assert_eq!(f[0].target, "adele@contoso.com");
    assert_eq!(f[0].actor, "admin@contoso.com");
    assert!(
        f[0].summary
            .contains("forwards it as an attachment to x@evil.example")
    );
}

#[test]
fn mailbox_forwarding_address_outside_and_no_copy_is_critical() {
    let v = record(
        "set-mailbox",
        "admin@contoso.com",
        &[
            ("Identity", "lidia@contoso.com"),
            ("ForwardingAddress", "eve@evil.example"),
            ("DeliverToMailboxAndForward", "False"),
        ],
    );
    let f = run(&v);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, MAILBOX_EXTERNAL_FORWARD);
    assert_eq!(f[0].severity, Severity::Critical);
    assert_eq!(f[0].target, "lidia@contoso.com");
}

#[test]
fn system_actor_and_failed_operations_raise_nothing() {
    let fwd = [
        ("Identity", "adele"),
        ("ForwardingSmtpAddress", "eve@evil.example"),
    ];
    assert!(
        run(&record(
            "Set-Mailbox",
            "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
            &fwd
        ))
        .is_empty()
    );
    let mut failed = record("Set-Mailbox", "adele@contoso.com", &fwd);
    failed["ResultStatus"] = json!("False");
    assert!(run(&failed).is_empty());
}

#[test]
fn set_inbox_rule_without_conditions_is_not_taken_as_all_mail() {
    // Set-InboxRule logs only what changed, so the rule may well have conditions: a
    // rule turned into a deleting one is worth a look, not an all-mail alarm.
    let v = record(
        "Set-InboxRule",
        "adele@contoso.com",
        &[("Identity", "Sync"), ("DeleteMessage", "True")],
    );
    let f = run(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].rule, f[0].severity),
        (INBOX_RULE_HIDES_MAIL, Severity::Medium)
    );
    let Evidence::InboxRule(rule) = &f[0].details else {
        panic!("an inbox rule's evidence: {:?}", f[0].details)
    };
    assert!(!rule.applies_to_all);
    assert_eq!(
        f[0].summary,
        r#"Rule "Sync" on adele@contoso.com was changed: deletes it."#
    );
}

#[test]
fn hostile_rule_names_are_shown_not_obeyed() {
    let v = record(
        "New-InboxRule",
        "adele@contoso.com",
        &[
            ("Name", "\u{1b}[2J<img src=x onerror=alert(1)>"),
            ("DeleteMessage", "True"),
        ],
    );
    let f = run(&v);
    assert!(
        f[0].summary
            .starts_with(r#"Rule "\u{1b}[2J<img src=x onerror=alert(1)>" on"#),
        "{}",
        f[0].summary
    );
}

#[test]
fn prefilter_keeps_watched_operations_only() {
    assert!(is_candidate(r#"{"Operation":"New-InboxRule"}"#));
    assert!(is_candidate(r#"{"Operation":"set-MAILBOX"}"#));
    assert!(!is_candidate(r#"{"Operation":"MailItemsAccessed"}"#));
}

#[test]
fn prefilter_ignores_case_finds_needles_anywhere_and_passes_mail_access_noise() {
    assert!(is_candidate(r#"{"Operation":"New-INBOXRule"}"#));
    assert!(is_candidate(r#"{"Operation":"UpdateInboxRules"}"#));
    // A needle that is the whole text, or touches either end, is still found.
    assert!(is_candidate("InboxRule"));
    assert!(is_candidate("inboxrule\"}"));
    assert!(is_candidate("{\"x\":\"SET-MAILBOX"));
    // Outside Operation too: a watched word in any field keeps the record.
    assert!(is_candidate(
        r#"{"Operation":"Custom","Cmdlet":"Remove-TransportRule"}"#
    ));
    // Near misses: split words and subjects that talk about rules.
    assert!(!is_candidate("inbox rule set mailbox transport-rule"));
    // Folding maps `\r` onto `-`; the check on the raw text must still say no.
    assert!(!is_candidate("set\rmailbox"));
    let noise = json!({
        "Operation": "MailItemsAccessed",
        "RecordType": 50,
        "UserId": "adele@contoso.com",
        "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}],
        "Folders": [{"Path": "\\Inbox", "FolderItems": [
            {"InternetMessageId": "<A1B2@contoso.com>", "Subject": "New inbox rules policy", "SizeInBytes": 40211},
            {"InternetMessageId": "<C3D4@contoso.com>", "Subject": "Re: mailbox permissions for the rules team", "SizeInBytes": 9120},
        ]}],
    });
    assert!(!is_candidate(&noise.to_string()));
}

#[test]
fn newer_cmdlets_count_in_cmdlet_records_and_directory_operations_in_directory_records() {
    let cmdlet = json!({"Operation": "set-CASMailbox", "Parameters": []});
    assert!(is_candidate(&cmdlet.to_string()));
    assert!(is_candidate(
        r#"{"PARAMETERS":"-Identity x","Operation":"Remove-AntiPhishRule"}"#
    ));
    assert!(!is_candidate(
        &json!({"Operation": "MailItemsAccessed", "Subject": "Set-CASMailbox for the scanner"})
            .to_string()
    ));
    let directory = json!({"Workload": "AzureActiveDirectory", "Operation": "Add member to role."});
    assert!(is_candidate(&directory.to_string()));
    assert!(is_candidate(
        r#"{"Operation":"ADD MEMBER TO ROLE.","Workload":"azureactivedirectory"}"#
    ));
    // Past a gate whose needles are absent, the first search goes on.
    assert!(is_candidate(
        r#"{"Workload":"AzureActiveDirectory","Parameters":[],"Operation":"x","Note":"Set-Mailbox"}"#
    ));
    assert!(is_candidate(
        r#"{"Workload":"AzureActiveDirectory","Parameters":[],"Cmdlet":"Disable-SafeLinksRule"}"#
    ));
    // Sign-ins, and mail that talks about roles and consent, are not.
    assert!(!is_candidate(
        &json!({"Workload": "AzureActiveDirectory", "Operation": "UserLoggedIn"}).to_string()
    ));
    assert!(!is_candidate(
        &json!({"Workload": "Exchange", "Operation": "MailItemsAccessed",
                "Subject": "Add member to role. Consent to application."})
        .to_string()
    ));
}

#[test]
fn needles_are_lower_case_ascii_and_no_two_of_a_search_share_a_mark() {
    let mut first = WATCHED.to_vec();
    first.extend(GATED.iter().map(|(gate, _)| *gate));
    first.extend(crate::burst::COUNTED);
    // The first search's order names each of its marks once: a mark it left out would
    // still be searched, but in a bucket no one chose for it.
    let mut marks: Vec<&str> = first.iter().map(|(n, at)| crate::mark(n, *at)).collect();
    let mut ordered = crate::FIRST_ORDER.to_vec();
    marks.sort_unstable();
    ordered.sort_unstable();
    assert_eq!(marks, ordered);
    let mut sets = vec![first];
    sets.extend(GATED.iter().map(|(_, needles)| needles.to_vec()));
    for needles in &sets {
        for (i, (needle, at)) in needles.iter().enumerate() {
            assert!(
                needle.bytes().all(|b| b.is_ascii() && b | 0x20 == b),
                "{needle}: folding must leave it as it is"
            );
            assert!(*at + crate::MARK <= needle.len(), "{needle}");
            for (j, (other, other_at)) in needles.iter().enumerate() {
                assert!(
                    i == j || crate::mark(other, *other_at) != crate::mark(needle, *at),
                    "{needle} / {other}"
                );
            }
        }
    }
}

/// Whether any of `needles` is anywhere in `text`, ASCII case ignored, written plainly.
fn has_needle(text: &str, needles: &[(&str, usize)]) -> bool {
    needles.iter().any(|(needle, _)| {
        text.as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    })
}

/// The pre-filter's meaning, written plainly: any watched needle anywhere, or a gate and
/// any needle it guards, ASCII case ignored.
fn has_watched_needle(text: &str) -> bool {
    has_needle(text, &WATCHED)
        || GATED
            .iter()
            .any(|(gate, needles)| has_needle(text, &[*gate]) && has_needle(text, needles))
}

#[test]
fn prefilter_finds_a_needle_wherever_it_stands_in_any_case() {
    // Every offset across the vectorised search's 32-byte steps, with the text ending
    // right after the needle or well after it.
    for at in (0..70).chain(4090..4100) {
        for tail in [0, 5, 100] {
            for needle in ["AdminAuditLogConfig", "ADMINAUDITLOGCONFIG"] {
                let mut text = "a".repeat(at);
                text.push_str(needle);
                text.push_str(&"b".repeat(tail));
                assert!(is_candidate(&text), "{needle} at {at}, {tail} after");
                let apart = text.replace("LogC", "Log C").replace("LOGC", "LOG C");
                assert!(!is_candidate(&apart), "near miss at {at}");
            }
        }
    }
}

#[test]
#[should_panic(expected = "a record and its folded bytes differ in length")]
fn a_record_folded_short_is_refused() {
    sift_folded("{\"Operation\":\"New-InboxRule\"}", b"{\"operation\"");
}

proptest::proptest! {
    /// Both searches (vectorised, and the automaton for CPUs without it) agree with the
    /// plain meaning on text made of needle pieces in any case, at any offset.
    #[test]
    fn prefilter_means_any_needle_in_any_case(
        pad in 0usize..4200,
        pieces in proptest::collection::vec((0usize..38, proptest::prelude::any::<u32>()), 0..24),
    ) {
        const PIECES: [&str; 38] = [
            "inbox", "rule", "set-", "mail", "box", "permission", "x", "t", "r", "folder",
            "recipient", "transport", "admin", "auditlog", "config", "é\\\"", "set\r", "@[",
            "cas", "member", " to ", "role", "strong", "authentication", "security info", "\0",
            "azure", "activedirectory", "\"param", "eters\"", "antiphish", "onalert",
            "hard", "delete", "\"sync", "\"", " from ", " user",
        ];
        let mut text = "a".repeat(pad);
        for (piece, case) in pieces {
            text.extend(PIECES[piece].chars().enumerate().map(|(i, c)| {
                if case >> (i % 32) & 1 == 1 { c.to_ascii_uppercase() } else { c }
            }));
        }
        let expected = Sifted {
            candidate: has_watched_needle(&text),
            countable: has_needle(&text, &burst::COUNTED),
        };
        proptest::prop_assert_eq!(sift(&text), expected);
        let folded: Vec<u8> = text.bytes().map(|c| c | 0x20).collect();
        proptest::prop_assert_eq!(Sieve::new(false).sift(&text, &folded), expected);
    }
}

fn one(v: &Value) -> Finding {
    let f = run(v);
    assert_eq!(f.len(), 1, "{f:?}");
    f.into_iter().next().unwrap()
}

#[test]
fn nul_character_condition_is_all_mail() {
    let v = record(
        "New-InboxRule",
        "adele@contoso.com",
        &[
            ("Name", "Archive sync"),
            ("BodyContainsWords", "\u{0}"),
            ("MoveToFolder", "Archive"),
        ],
    );
    let f = one(&v);
    assert_eq!(
        (f.rule, f.severity),
        (INBOX_RULE_HIDES_MAIL, Severity::Critical)
    );
    assert_eq!(
        f.summary,
        r#"Rule "Archive sync" on adele@contoso.com applies to every incoming message (its condition, messages whose body contains "\u{0}", matches everything): moves it to "Archive"."#
    );
    let tiny = record(
        "Set-InboxRule",
        "adele@contoso.com",
        &[
            ("Identity", "x1"),
            ("WithinSizeRangeMinimum", "1"),
            ("SoftDeleteMessage", "True"),
        ],
    );
    assert_eq!(one(&tiny).severity, Severity::Critical);
}

#[test]
fn lookalike_folder_names_still_hide_mail() {
    for folder in [
        "Junk \u{415}mail",
        "\u{408}unk Email",
        "ＲＳＳ Ｆｅｅｄｓ",
        ":\\Deleted Items",
        "Inbox\\RSS Subscriptions",
        "Conversation\u{a0}History",
    ] {
        let v = record(
            "New-InboxRule",
            "adele@contoso.com",
            &[
                ("Name", "Vendor mail"),
                ("From", "billing@vendor.example"),
                ("MoveToFolder", folder),
                ("MarkAsRead", "True"),
            ],
        );
        let f = one(&v);
        assert_eq!(
            (f.rule, f.severity),
            (INBOX_RULE_HIDES_MAIL, Severity::Medium),
            "{folder}"
        );
    }
}

#[test]
fn mixed_case_operations_and_string_parameters_are_read() {
    let v = json!({
        "Id": "2", "Operation": "nEW-inBOXrule", "ResultStatus": "True", "UserId": "adele@contoso.com",
        "ObjectId": "x/contoso.onmicrosoft.com/adele\\x",
        "Parameters": "[{\"Name\":\"Name\",\"Value\":\"x\"},{\"Name\":\"SubjectContainsWords\",\"Value\":\"phishing alert\"},{\"Name\":\"DeleteMessage\",\"Value\":\"True\"}]",
    });
    assert!(is_candidate(&v.to_string()));
    let f = one(&v);
    assert_eq!(
        (f.rule, f.severity),
        (INBOX_RULE_HIDES_MAIL, Severity::Critical)
    );
    let Evidence::InboxRule(rule) = &f.details else {
        panic!("an inbox rule's evidence: {:?}", f.details)
    };
    assert_eq!(rule.keyword.as_deref(), Some("phish"));
}

#[test]
fn hiding_severity_follows_keywords_and_names() {
    let sev = |params: &[(&str, &str)]| {
        one(&record("New-InboxRule", "adele@contoso.com", params)).severity
    };
    assert_eq!(
        sev(&[
            ("Name", "Accounts"),
            ("SubjectContainsWords", "Wire transfer"),
            ("DeleteMessage", "True")
        ]),
        Severity::High
    );
    assert_eq!(
        sev(&[
            ("Name", "zz"),
            ("From", "bob@contoso.com"),
            ("DeleteMessage", "True")
        ]),
        Severity::High
    );
    assert_eq!(
        sev(&[
            ("Name", "Cleanup"),
            ("From", "bob@contoso.com"),
            ("DeleteMessage", "True")
        ]),
        Severity::Medium
    );
    assert_eq!(
        sev(&[("Name", "."), ("MarkAsRead", "True")]),
        Severity::High
    );
    assert_eq!(
        sev(&[
            ("Name", "Alerts"),
            ("SubjectContainsWords", "security alert"),
            ("MarkAsRead", "True")
        ]),
        Severity::High
    );
}

#[test]
fn everyday_noise_raises_nothing() {
    let mut mail_access = record("MailItemsAccessed", "adele@contoso.com", &[]);
    mail_access["OperationProperties"] = json!([{"Name": "MailAccessType", "Value": "Bind"}]);
    let noise = [
        mail_access,
        record("Send", "adele@contoso.com", &[]),
        record(
            "New-InboxRule",
            "adele@contoso.com",
            &[
                ("Name", "Newsletters"),
                ("From", "newsletter@contoso.com"),
                ("MoveToFolder", "Newsletters"),
            ],
        ),
        record(
            "New-InboxRule",
            "adele@contoso.com",
            &[
                ("Name", "Team News"),
                ("From", "communications@contoso.com"),
                ("MoveToFolder", "Team News"),
                ("MarkAsRead", "True"),
            ],
        ),
        record(
            "New-InboxRule",
            "adele@contoso.com",
            &[("Name", "To Bob"), ("ForwardTo", "bob@contoso.com")],
        ),
        record(
            "Set-Mailbox",
            "admin@contoso.com",
            &[
                ("Identity", "adele@contoso.com"),
                ("MaxSendSize", "150 MB (157,286,400 bytes)"),
            ],
        ),
        record(
            "Set-Mailbox",
            "admin@contoso.com",
            &[
                ("Identity", "adele@contoso.com"),
                ("AuditLogAgeLimit", "180.00:00:00"),
                ("AuditEnabled", "True"),
            ],
        ),
        record(
            "Set-Mailbox",
            "admin@contoso.com",
            &[
                ("Identity", "adele@contoso.com"),
                ("ForwardingSmtpAddress", "smtp:bob@contoso.com"),
            ],
        ),
        record(
            "New-TransportRule",
            "admin@contoso.com",
            &[("Name", "Legal copy"), ("BlindCopyTo", "legal@contoso.com")],
        ),
        record(
            "Set-MailboxFolderPermission",
            "adele@contoso.com",
            &[
                ("Identity", "adele@contoso.com:\\Calendar"),
                ("User", "Default"),
                ("AccessRights", "Reviewer"),
            ],
        ),
        record(
            "Add-MailboxPermission",
            "admin@contoso.com",
            &[
                ("Identity", "adele"),
                ("User", "bob"),
                ("AccessRights", "ReadPermission"),
            ],
        ),
        record(
            "Remove-InboxRule",
            "adele@contoso.com",
            &[("Identity", "."), ("Confirm", "False")],
        ),
        record(
            "Set-CASMailbox",
            "admin@contoso.com",
            &[("Identity", "adele"), ("PopEnabled", "False")],
        ),
    ];
    for v in &noise {
        assert!(run(v).is_empty(), "{}: {:?}", v["Operation"], run(v));
    }
}

#[test]
fn transport_rule_redirecting_outside_is_organisation_wide() {
    let v = record(
        "New-TransportRule",
        "admin@contoso.com",
        &[
            ("Name", "Journal"),
            ("RedirectMessageTo", "drop@evil.example"),
            ("SentToScope", "InOrganization"),
        ],
    );
    let f = one(&v);
    assert_eq!(
        (f.rule, f.severity),
        (TRANSPORT_RULE_REDIRECT, Severity::Critical)
    );
    assert_eq!(f.target, "the whole organisation");
    assert_eq!(
        f.summary,
        r#"Mail-flow rule "Journal" for the whole organisation redirects messages to drop@evil.example (outside the organisation)."#
    );
    let bcc = record(
        "Set-TransportRule",
        "admin@contoso.com",
        &[
            ("Identity", "Copy"),
            ("BlindCopyTo", "bob@contoso.com;x@evil.example"),
            ("RedirectMessageTo", "legal@contoso.com"),
        ],
    );
    assert_eq!(one(&bcc).severity, Severity::High);
    let drop = record(
        "New-TransportRule",
        "admin@contoso.com",
        &[("Name", "Quiet"), ("DeleteMessage", "True")],
    );
    assert_eq!(one(&drop).severity, Severity::Critical);
}

#[test]
fn delegation_names_mailbox_and_grantee() {
    let full = one(&record(
        "Add-MailboxPermission",
        "admin@contoso.com",
        &[
            ("Identity", "ceo@contoso.com"),
            ("User", "adele@contoso.com"),
            ("AccessRights", "FullAccess"),
            ("InheritanceType", "All"),
        ],
    ));
    assert_eq!(
        (full.rule, full.severity),
        (MAILBOX_DELEGATION, Severity::Medium)
    );
    assert_eq!(full.target, "ceo@contoso.com");
    assert_eq!(
        full.summary,
        "adele@contoso.com was given full access to mailbox ceo@contoso.com."
    );
    let outside = one(&record(
        "Add-MailboxPermission",
        "admin@contoso.com",
        &[
            ("Identity", "ceo@contoso.com"),
            ("User", "eve@evil.example"),
            ("AccessRights", "FullAccess"),
        ],
    ));
    assert_eq!(outside.severity, Severity::High);
    let behalf = one(&record(
        "set-mailbox",
        "admin@contoso.com",
        &[
            ("Identity", "ceo@contoso.com"),
            ("GrantSendOnBehalfTo", "adele"),
        ],
    ));
    assert_eq!(
        (behalf.rule, behalf.severity),
        (MAILBOX_DELEGATION, Severity::Low)
    );
    let inbox = one(&record(
        "Add-MailboxFolderPermission",
        "adele@contoso.com",
        &[
            ("Identity", "adele@contoso.com:\\Inbox"),
            ("User", "Default"),
            ("AccessRights", "Reviewer"),
        ],
    ));
    assert_eq!(
        (inbox.severity, inbox.target.as_str()),
        (Severity::High, "adele@contoso.com")
    );
    assert_eq!(
        inbox.summary,
        "Default was given Reviewer access to the inbox of adele@contoso.com."
    );
    let mut audited = record("ModifyFolderPermissions", "adele@contoso.com", &[]);
    audited["MailboxOwnerUPN"] = json!("adele@contoso.com");
    audited["Item"] = json!({"ParentFolder": {"Name": "Inbox", "Path": "\\Inbox", "MemberUpn": "Everyone", "MemberRights": "ReadAny"}});
    assert!(is_candidate(&audited.to_string()));
    assert_eq!(one(&audited).rule, MAILBOX_DELEGATION);
}

#[test]
fn audit_tampering_by_how_much_it_blinds() {
    let off = one(&record(
        "Set-AdminAuditLogConfig",
        "admin@contoso.com",
        &[("UnifiedAuditLogIngestionEnabled", "False")],
    ));
    assert_eq!(
        (off.rule, off.severity),
        (AUDIT_TAMPERING, Severity::Critical)
    );
    assert!(is_candidate(
        &record("Set-AdminAuditLogConfig", "a", &[]).to_string()
    ));
    let mailbox = one(&record(
        "Set-Mailbox",
        "admin@contoso.com",
        &[("Identity", "ceo@contoso.com"), ("AuditEnabled", "False")],
    ));
    assert_eq!(
        (mailbox.severity, mailbox.summary.as_str()),
        (
            Severity::High,
            "Mailbox auditing was turned off for ceo@contoso.com."
        )
    );
    let short = one(&record(
        "Set-Mailbox",
        "admin@contoso.com",
        &[
            ("Identity", "ceo@contoso.com"),
            ("AuditLogAgeLimit", "7.00:00:00"),
        ],
    ));
    assert_eq!(
        (short.severity, short.summary.as_str()),
        (
            Severity::Medium,
            "The mailbox audit log of ceo@contoso.com is now kept for only 7 days."
        )
    );
}

fn outlook(properties: Value) -> Value {
    json!({
        "Id": "3", "Operation": "UpdateInboxRules", "RecordType": 2, "ResultStatus": "Succeeded",
        "UserId": "admin@contoso.com", "MailboxOwnerUPN": "adele@contoso.com", "ClientIP": "203.0.113.9",
        "OperationProperties": properties,
    })
}

#[test]
fn outlook_rules_in_both_layouts() {
    let server_rule = json!({"Actions": [{"Recipients": [{"Values": [{"Value": "eve@evil.example"}, {"Value": "bob@contoso.com"}]}]}]});
    let ews = outlook(json!([
        {"Name": "RuleOperation", "Value": "Create"},
        {"Name": "Name", "Value": "Backup"},
        {"Name": "Actions", "Value": "RedirectToRecipientsAction"},
        {"Name": "ServerRule", "Value": server_rule.to_string()},
    ]));
    assert!(is_candidate(&ews.to_string()));
    let f = one(&ews);
    assert_eq!(
        (f.rule, f.severity),
        (INBOX_RULE_EXTERNAL_FORWARD, Severity::Critical)
    );
    assert_eq!(
        (f.target.as_str(), f.actor.as_str()),
        ("adele@contoso.com", "admin@contoso.com")
    );
    assert_eq!(
        f.summary,
        r#"Rule "Backup" on adele@contoso.com applies to every incoming message: redirects it to eve@evil.example (outside the organisation)."#
    );

    let actions = json!([{"ActionType": "Forward", "Recipients": [{"SmtpAddress": "x@evil.example"}]}, {"ActionType": "Delete"}]);
    let mapi = outlook(json!([
        {"Name": "RuleOperation", "Value": "AddMailboxRule"},
        {"Name": "RuleState", "Value": "Enabled, ExitAfterExecution"},
        {"Name": "RuleCondition", "Value": "(Subject Contains invoice)"},
        {"Name": "RuleActions", "Value": actions.to_string()},
    ]));
    let f = run(&mapi);
    let rules: Vec<_> = f.iter().map(|f| (f.rule, f.severity)).collect();
    assert_eq!(
        rules,
        vec![
            (INBOX_RULE_EXTERNAL_FORWARD, Severity::Critical),
            (INBOX_RULE_HIDES_MAIL, Severity::High)
        ]
    );
    assert!(
        f[0].summary
            .starts_with("Rule (no name logged) on adele@contoso.com applies to messages matching"),
        "{}",
        f[0].summary
    );
}

#[test]
fn outlook_resyncs_and_deletions_raise_nothing() {
    for properties in [
        json!([{"Name": "RuleOperation", "Value": "ModifyMailboxRule"}, {"Name": "RuleCondition", "Value": "{}"}, {"Name": "RuleActions", "Value": "[]"}]),
        json!([{"Name": "RuleOperation", "Value": "RemoveMailboxRule"}, {"Name": "RuleName", "Value": "."}, {"Name": "RuleActions", "Value": "[{\"ActionType\":\"Delete\"}]"}]),
        json!([{"Name": "RuleOperation", "Value": "Delete"}, {"Name": "Actions", "Value": "RedirectToRecipientsAction"}, {"Name": "ServerRule", "Value": "{\"Actions\":[{\"Recipients\":[{\"Values\":[{\"Value\":\"eve@evil.example\"}]}]}]}"}]),
        json!([{"Name": "RuleOperation", "Value": "AddMailboxRule"}, {"Name": "RuleActions", "Value": "not json"}]),
        json!("garbage"),
    ] {
        assert!(run(&outlook(properties.clone())).is_empty(), "{properties}");
    }
}

#[test]
fn folders_and_affected_items_are_read_whatever_shape_an_export_gives_them() {
    let read = |v: Value| -> AuditRecord { serde_json::from_value(v).unwrap() };
    let sync = read(json!({
        "Id": "1",
        "Folders": [
            {"FolderItems": [{"InternetMessageId": "<a@b>"}, {"InternetMessageId": "<c@d>"}], "Path": "\\Inbox"},
            {"Path": 7, "Id": "x"},
            "not a folder",
            {"Path": "\\Sent Items"}
        ],
        "Folder": {"Id": "f", "Path": "\\Deleted Items", "Extra": {"Deep": [1, 2]}},
        "AffectedItems": [{"Id": "i"}, {}, 3],
    }));
    assert_eq!(sync.folders, ["\\Inbox", "", "", "\\Sent Items"]);
    assert_eq!(sync.folder, "\\Deleted Items");
    assert_eq!(sync.affected_items, 3);
    for odd in [
        json!("text"),
        json!(3),
        json!(null),
        json!({"Path": "x"}),
        json!(true),
    ] {
        let r = read(json!({"Id": "2", "Folders": odd, "AffectedItems": odd, "Folder": odd}));
        assert!(r.folders.is_empty(), "{odd}");
        assert_eq!(r.affected_items, 0, "{odd}");
    }
    assert_eq!(read(json!({"Id": "3", "Folder": "\\Inbox"})).folder, "");
}
