//! Detection on crafted records: every address judged, actor versus target, system
//! and failed operations ignored.

use serde_json::{Value, json};

use super::*;

fn ctx() -> TenantContext {
    TenantContext { accepted_domains: vec!["contoso.com".into(), "contoso.onmicrosoft.com".into()] }
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

fn run(v: &Value) -> Vec<Finding> {
    detect(&serde_json::from_value(v.clone()).unwrap(), &ctx())
}

#[test]
fn every_forward_address_is_judged_not_only_the_first() {
    let v = record(
        "New-InboxRule",
        "adele@contoso.com",
        &[("Name", "Sync"), ("ForwardTo", "bob@contoso.com;eve@evil.example"), ("SubjectContainsWords", "invoice")],
    );
    let f = run(&v);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, INBOX_RULE_EXTERNAL_FORWARD);
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[0].details["destinations"], json!(["eve@evil.example"]));
    assert_eq!(
        f[0].summary,
        r#"Rule "Sync" on adele@contoso.com applies to messages whose subject contains "invoice": forwards it to eve@evil.example (outside the organisation)."#
    );
}

#[test]
fn internal_forwarding_and_internal_mailbox_forwarding_raise_nothing() {
    assert!(run(&record("New-InboxRule", "adele@contoso.com", &[("Name", "x"), ("RedirectTo", "Bob Smith;bob@CONTOSO.com")])).is_empty());
    assert!(run(&record("Set-Mailbox", "adele@contoso.com", &[("Identity", "adele"), ("ForwardingSmtpAddress", "smtp:bob@contoso.com")])).is_empty());
    assert!(run(&record("Set-Mailbox", "adele@contoso.com", &[("Identity", "adele"), ("RetainDeletedItemsFor", "30")])).is_empty());
}

#[test]
fn redirect_of_all_mail_that_also_deletes_is_critical_and_hides_mail() {
    let v = record(
        "New-InboxRule",
        "adele@contoso.com",
        &[("Name", "."), ("RedirectTo", "\"Eve\" [SMTP:eve@evil.example]"), ("DeleteMessage", "True")],
    );
    let f = run(&v);
    let rules: Vec<&str> = f.iter().map(|f| f.rule).collect();
    assert_eq!(rules, vec![INBOX_RULE_EXTERNAL_FORWARD, INBOX_RULE_HIDES_MAIL]);
    assert_eq!(f[0].severity, Severity::Critical);
}

#[test]
fn admin_on_another_mailbox_alerts_on_the_mailbox() {
    let v = record(
        "New-InboxRule",
        "admin@contoso.com",
        &[("Mailbox", "adele@contoso.com"), ("Name", "f"), ("ForwardAsAttachmentTo", "x@evil.example")],
    );
    let f = run(&v);
    assert_eq!(f[0].target, "adele@contoso.com");
    assert_eq!(f[0].actor, "admin@contoso.com");
    assert!(f[0].summary.contains("forwards it as an attachment to x@evil.example"));
}

#[test]
fn mailbox_forwarding_address_outside_and_no_copy_is_critical() {
    let v = record(
        "set-mailbox",
        "admin@contoso.com",
        &[("Identity", "lidia@contoso.com"), ("ForwardingAddress", "eve@evil.example"), ("DeliverToMailboxAndForward", "False")],
    );
    let f = run(&v);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, MAILBOX_EXTERNAL_FORWARD);
    assert_eq!(f[0].severity, Severity::Critical);
    assert_eq!(f[0].target, "lidia@contoso.com");
}

#[test]
fn system_actor_and_failed_operations_raise_nothing() {
    let fwd = [("Identity", "adele"), ("ForwardingSmtpAddress", "eve@evil.example")];
    assert!(run(&record("Set-Mailbox", "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)", &fwd)).is_empty());
    let mut failed = record("Set-Mailbox", "adele@contoso.com", &fwd);
    failed["ResultStatus"] = json!("False");
    assert!(run(&failed).is_empty());
}

#[test]
fn set_inbox_rule_without_conditions_is_not_taken_as_all_mail() {
    // Set-InboxRule logs only what changed, so the rule may well have conditions.
    let v = record("Set-InboxRule", "adele@contoso.com", &[("Identity", "Sync"), ("DeleteMessage", "True")]);
    assert!(run(&v).is_empty());
}

#[test]
fn hostile_rule_names_are_shown_not_obeyed() {
    let v = record(
        "New-InboxRule",
        "adele@contoso.com",
        &[("Name", "\u{1b}[2J<img src=x onerror=alert(1)>"), ("DeleteMessage", "True")],
    );
    let f = run(&v);
    assert!(f[0].summary.starts_with(r#"Rule "\u{1b}[2J<img src=x onerror=alert(1)>" on"#), "{}", f[0].summary);
}

#[test]
fn prefilter_keeps_watched_operations_only() {
    assert!(is_candidate(r#"{"Operation":"New-InboxRule"}"#));
    assert!(is_candidate(r#"{"Operation":"set-MAILBOX"}"#));
    assert!(!is_candidate(r#"{"Operation":"MailItemsAccessed"}"#));
}
