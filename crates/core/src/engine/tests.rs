use crate::auth::AuthMethod;
use crate::detect::TenantContext;
use crate::store::TenantRow;

use super::{AtOnce, Judging, judge, split};

fn judged(body: &str) -> Result<usize, split::Malformed> {
    let ctx = TenantContext {
        accepted_domains: vec!["contoso.com".into()],
    };
    let tenant = TenantRow {
        tenant_id: "t".into(),
        name: "Contoso".into(),
        client_id: "c".into(),
        auth_method: AuthMethod::ClientSecret,
        cloud: None,
    };
    let tuning = crate::tuning::Tuning::default();
    let judging = Judging {
        ctx: &ctx,
        tuning: &tuning,
    };
    judge(split::records(body.as_bytes()), &judging, &tenant).map(|j| j.alerts.len())
}

#[test]
fn a_candidate_that_is_not_json_fails_the_blob() {
    assert!(judged(r#"[{"Operation":"New-InboxRule","Id":tru}]"#).is_err());
    assert!(judged(r#"[{"Operation":"Set-Mailbox","Id":"1",}]"#).is_err());
}

#[test]
fn a_candidate_that_is_json_but_no_audit_record_is_skipped() {
    assert_eq!(judged(r#"[{"Operation":"New-InboxRule"}]"#).unwrap(), 0);
    let deep = format!(
        r#"[{{"Operation":"New-InboxRule","Id":"1","Item":{}{}}}]"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_eq!(judged(&deep).unwrap(), 0);
}

#[test]
fn noise_is_not_parsed_so_its_inner_syntax_is_not_checked() {
    assert_eq!(
        judged(r#"[{"Operation":"MailItemsAccessed","Id":tru}]"#).unwrap(),
        0
    );
}

#[test]
fn tenants_at_once_grow_one_by_one_and_halve_when_throttled() {
    let mut at_once = AtOnce::new(12);
    assert_eq!(at_once.now(), 8, "a scan starts at 8");
    for _ in 0..10 {
        at_once.finished(false);
    }
    assert_eq!(at_once.now(), 12, "never above the ceiling");
    at_once.finished(true);
    assert_eq!(at_once.now(), 6);
    at_once.finished(false);
    assert_eq!(at_once.now(), 7);
    for _ in 0..5 {
        at_once.finished(true);
    }
    assert_eq!(at_once.now(), 1, "never below one");
    assert_eq!(AtOnce::new(3).now(), 3, "a low ceiling is where it starts");
    assert_eq!(AtOnce::new(0).now(), 1);
}
