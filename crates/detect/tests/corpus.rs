//! Detection against the real audit records in ../shared/corpus/records: each file's
//! expected verdicts, with the summary a technician reads.

use std::path::PathBuf;

use rulewatch_detect::{AuditRecord, Finding, TenantContext, detect, is_candidate};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/records")
}

fn findings(file: &str) -> Vec<Finding> {
    let path = corpus_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is needed by this test ({e}); see README.md",
            path.display()
        )
    });
    let raw: Vec<Box<serde_json::value::RawValue>> = serde_json::from_str(&text).unwrap();
    let ctx = TenantContext {
        accepted_domains: vec!["contoso.com".into(), "contoso.onmicrosoft.com".into()],
    };
    raw.iter()
        .filter(|r| is_candidate(r.get()))
        .flat_map(|r| detect(&serde_json::from_str::<AuditRecord>(r.get()).unwrap(), &ctx))
        .collect()
}

/// (rule, severity) of each finding, in order.
fn verdicts(file: &str) -> Vec<(&'static str, &'static str)> {
    findings(file)
        .iter()
        .map(|f| (f.rule, f.severity.as_str()))
        .collect()
}

#[test]
fn rule_deleting_every_message_from_outlook_on_the_web() {
    let f = findings("new-inboxrule-noconditions-delete-markasread.json");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule, "inbox-rule-hides-mail");
    // Every message deleted unseen: the owner is cut off from their mail (critical
    // under the wider rule set's scheme; it was high when this was the only hiding rule).
    assert_eq!(f[0].severity.as_str(), "critical");
    assert_eq!(f[0].target, "stinger@contoso.com");
    assert_eq!(f[0].actor, "stinger@contoso.com");
    assert_eq!(
        f[0].summary,
        r#"Rule "." on stinger@contoso.com applies to every incoming message: deletes it, marks it as read, stops other rules."#
    );
}

#[test]
fn mailbox_forwarding_with_smtp_prefix_names_target_and_actor() {
    let f = findings("set-mailbox-forwardingsmtpaddress-smtp-prefix.json");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule, "mailbox-external-forward");
    assert_eq!(f[0].severity.as_str(), "high");
    // Matt changed the mailbox with this id; the alert is about the mailbox, not Matt.
    assert_eq!(f[0].target, "311b45d6-1a3e-46ac-8434-721367961e19");
    assert_eq!(f[0].actor, "Matt@contoso.onmicrosoft.com");
    assert_eq!(f[0].details.destinations(), ["bla@bla.com"]);
    assert!(
        f[0].summary.contains("forwards all mail to bla@bla.com"),
        "{}",
        f[0].summary
    );
    assert!(f[0].summary.contains("a copy is kept"), "{}", f[0].summary);
}

#[test]
fn rule_deleting_mail_on_an_ordinary_subject_word_is_medium() {
    assert_eq!(
        verdicts("new-inboxrule-subject-delete.json"),
        vec![("inbox-rule-hides-mail", "medium")]
    );
    let f = findings("new-inboxrule-subject-delete.json");
    assert_eq!(
        f[0].summary,
        r#"Rule "Direct" on 311b45d6-1a3e-46ac-8434-721367961e19 applies to messages whose subject contains "Attention": deletes it, stops other rules."#
    );
}

#[test]
fn changed_rule_moving_invoices_to_deleted_items_is_high() {
    let f = findings("set-inboxrule-move-deleted-items.json");
    assert_eq!(
        verdicts("set-inboxrule-move-deleted-items.json"),
        vec![("inbox-rule-hides-mail", "high")]
    );
    assert_eq!(f[0].actor, "Matt@contoso.onmicrosoft.com");
    let rulewatch_detect::Evidence::InboxRule(rule) = &f[0].details else {
        panic!("an inbox rule's evidence: {:?}", f[0].details)
    };
    assert_eq!(rule.keyword.as_deref(), Some("invoice"));
    assert_eq!(
        f[0].summary,
        r#"Rule "Accounts" on 311b45d6-1a3e-46ac-8434-721367961e19 applies to messages whose subject contains "invoice": moves it to "Deleted Items", stops other rules."#
    );
}

#[test]
fn sentinel_lab_rules_hiding_warnings_and_deleting_mail() {
    // rule2 files "do not open" warnings into Junk Email; my_rule1 deletes on "covid-19".
    assert_eq!(
        verdicts("new-inboxrule-sentinel-lab-junk-and-delete.json"),
        vec![
            ("inbox-rule-hides-mail", "critical"),
            ("inbox-rule-hides-mail", "medium")
        ]
    );
}

#[test]
fn send_as_right_is_delegation_of_the_mailbox() {
    let f = findings("add-recipientpermission-sendas.json");
    assert_eq!(
        verdicts("add-recipientpermission-sendas.json"),
        vec![("mailbox-delegation", "medium")]
    );
    assert_eq!(f[0].target, "e4ad2d28-703e-4189-9752-6b827ef9107d");
    assert_eq!(
        f[0].summary,
        "311b45d6-1a3e-46ac-8434-721367961e19 was given the right to send as e4ad2d28-703e-4189-9752-6b827ef9107d."
    );
}

#[test]
fn audit_bypass_is_audit_tampering() {
    let f = findings("set-mailboxauditbypassassociation.json");
    assert_eq!(
        verdicts("set-mailboxauditbypassassociation.json"),
        vec![("audit-tampering", "high")]
    );
    assert_eq!(f[0].target, "Alex@contoso.onmicrosoft.com");
    assert_eq!(f[0].actor, "stinger@contoso.onmicrosoft.com");
}

#[test]
fn pop_and_imap_turned_on_by_an_admin_is_a_legacy_protocol_finding() {
    let f = findings("set-casmailbox-enable-pop-imap.json");
    assert_eq!(
        verdicts("set-casmailbox-enable-pop-imap.json"),
        vec![("legacy-protocol-enabled", "medium")]
    );
    // The mailbox as Identity names it; ObjectId holds the same account's object id.
    assert_eq!(f[0].target, "Lidia@contoso.onmicrosoft.com");
    assert_eq!(f[0].actor, "stinger@contoso.onmicrosoft.com");
    assert_eq!(
        f[0].summary,
        "POP and IMAP were turned on for mailbox Lidia@contoso.onmicrosoft.com by \
         stinger@contoso.onmicrosoft.com: they take a password alone, with no MFA."
    );
}

/// The real record with its protocols given the ways PowerShell also writes them, and
/// with only IMAP: still found, one protocol a step lower; turned off, nothing.
#[test]
fn the_real_protocol_record_rewritten() {
    let text =
        std::fs::read_to_string(corpus_dir().join("set-casmailbox-enable-pop-imap.json")).unwrap();
    let records: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let ctx = TenantContext {
        accepted_domains: vec!["contoso.com".into(), "contoso.onmicrosoft.com".into()],
    };
    let judge = |pop: &str, imap: &str, operation: &str| {
        let mut r = records[0].clone();
        r["Operation"] = operation.into();
        for p in r["Parameters"].as_array_mut().unwrap() {
            match p["Name"].as_str() {
                Some("PopEnabled") => p["Value"] = pop.into(),
                Some("ImapEnabled") => p["Value"] = imap.into(),
                _ => {}
            }
        }
        assert!(is_candidate(&r.to_string()));
        detect(&serde_json::from_value::<AuditRecord>(r).unwrap(), &ctx)
            .iter()
            .map(|f| f.severity.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(judge("$True", "1", "set-casmailbox"), ["medium"]);
    assert_eq!(judge("False", "true", "SET-CASMAILBOX"), ["low"]);
    assert!(judge("False", "$false", "Set-CASMailbox").is_empty());
}

#[test]
fn sign_ins_raise_nothing() {
    let file = "userloggedin-azurehound.json";
    assert!(findings(file).is_empty(), "{file}: {:?}", findings(file));
}

#[test]
fn the_whole_corpus_is_read() {
    let files: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("corpus folder")
        .collect();
    assert!(
        files.len() >= 9,
        "expected the 9 corpus files, found {}",
        files.len()
    );
}

/// A real rule record renamed as an attacker would name the rule (issue 11, item 15):
/// Exchange logs the name in `Name` and at the end of `ObjectId`, and the alert must
/// still name the mailbox the rule is in, never the address hidden in the name.
#[test]
fn a_real_rule_renamed_to_hold_another_address_still_names_its_own_mailbox() {
    let crafted = "Invoices/ceo@contoso.com\\x";
    let ctx = TenantContext {
        accepted_domains: vec!["contoso.com".into(), "contoso.onmicrosoft.com".into()],
    };
    let text =
        std::fs::read_to_string(corpus_dir().join("new-inboxrule-subject-delete.json")).unwrap();
    let mut records: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let real = &mut records[0];
    let object_id = real["ObjectId"].as_str().unwrap().to_string();
    let (mailbox_path, old_name) = object_id.rsplit_once('\\').unwrap();
    assert_eq!(old_name, "Direct");
    real["ObjectId"] = format!("{mailbox_path}\\{crafted}").into();
    for p in real["Parameters"].as_array_mut().unwrap() {
        if p["Name"] == "Name" {
            p["Value"] = crafted.into();
        }
    }
    let f = detect(
        &serde_json::from_value::<AuditRecord>(real.clone()).unwrap(),
        &ctx,
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].target, "311b45d6-1a3e-46ac-8434-721367961e19");
    assert!(
        !f[0].summary.contains(" on ceo@contoso.com"),
        "{}",
        f[0].summary
    );
}

/// Every rule in the registry describes itself completely, and finds the real records
/// it names; a rule without one says why.
#[test]
fn every_rule_is_described_and_finds_its_corpus_records() {
    use rulewatch_detect::rules::{Corpus, RULES, rule};
    let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), RULES.len(), "rule ids are unique");
    for r in RULES {
        assert_eq!(rule(r.id).map(|found| found.id), Some(r.id));
        assert!(
            r.id.split('-')
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())),
            "{}: ids are lower-case words joined by '-'",
            r.id
        );
        for (field, text) in [
            ("title", r.title),
            ("notification", r.notification),
            ("description", r.description),
            ("false_positives", r.false_positives),
            ("severity", r.severity),
        ] {
            assert!(text.trim().len() > 3, "{}: {field} is empty", r.id);
        }
        assert_eq!(
            r.notification,
            r.title.to_lowercase(),
            "{}: the notification words are the title's",
            r.id
        );
        let technique = r.attack.strip_prefix('T').unwrap_or_default();
        let (base, sub) = technique.split_once('.').unwrap_or((technique, "000"));
        assert!(
            base.len() == 4
                && sub.len() == 3
                && (base.to_owned() + sub).bytes().all(|b| b.is_ascii_digit()),
            "{}: '{}' is not an ATT&CK technique id",
            r.id,
            r.attack
        );
        assert!(
            r.references
                .iter()
                .any(|u| u.contains(&technique.replace('.', "/"))),
            "{}: the ATT&CK technique's page is among the references",
            r.id
        );
        assert!(
            r.references.iter().all(|u| u.starts_with("https://")),
            "{}",
            r.id
        );
        match r.corpus {
            Corpus::Records(files) => {
                assert!(!files.is_empty(), "{}", r.id);
                for file in files {
                    assert!(
                        findings(file).iter().any(|f| f.rule == r.id),
                        "{}: finds nothing in {file}",
                        r.id
                    );
                }
            }
            Corpus::Missing(why) => assert!(why.len() > 10, "{}: say why", r.id),
        }
    }
}
