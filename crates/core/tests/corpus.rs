//! Detection against the real audit records in ../shared/corpus/records: each file's
//! expected verdicts, with the summary a technician reads.

use std::path::PathBuf;

use rulewatch_core::detect::{AuditRecord, Finding, TenantContext, detect, is_candidate};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/records")
}

fn findings(file: &str) -> Vec<Finding> {
    let path = corpus_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is needed by this test ({e}); see README.md", path.display()));
    let raw: Vec<Box<serde_json::value::RawValue>> = serde_json::from_str(&text).unwrap();
    let ctx = TenantContext {
        accepted_domains: vec!["contoso.com".into(), "contoso.onmicrosoft.com".into()],
    };
    raw.iter()
        .filter(|r| is_candidate(r.get()))
        .flat_map(|r| detect(&serde_json::from_str::<AuditRecord>(r.get()).unwrap(), &ctx))
        .collect()
}

#[test]
fn rule_deleting_every_message_from_outlook_on_the_web() {
    let f = findings("new-inboxrule-noconditions-delete-markasread.json");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule, "inbox-rule-hides-mail");
    assert_eq!(f[0].severity.as_str(), "high");
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
    assert_eq!(f[0].details["destinations"], serde_json::json!(["bla@bla.com"]));
    assert!(f[0].summary.contains("forwards all mail to bla@bla.com"), "{}", f[0].summary);
    assert!(f[0].summary.contains("a copy is kept"), "{}", f[0].summary);
}

#[test]
fn records_outside_the_first_three_rules_raise_nothing_yet() {
    // Conditional delete/move rules, delegation, audit bypass, protocol changes and
    // sign-ins are the wider rule set's (a later issue); here they must stay quiet.
    for file in [
        "new-inboxrule-subject-delete.json",
        "set-inboxrule-move-deleted-items.json",
        "new-inboxrule-sentinel-lab-junk-and-delete.json",
        "set-casmailbox-enable-pop-imap.json",
        "add-recipientpermission-sendas.json",
        "set-mailboxauditbypassassociation.json",
        "userloggedin-azurehound.json",
    ] {
        assert!(findings(file).is_empty(), "{file}: {:?}", findings(file));
    }
}

#[test]
fn the_whole_corpus_is_read() {
    let files: Vec<_> = std::fs::read_dir(corpus_dir()).expect("corpus folder").collect();
    assert!(files.len() >= 9, "expected the 9 corpus files, found {}", files.len());
}
