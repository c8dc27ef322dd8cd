use crate::auth::AuthMethod;
use crate::detect::TenantContext;
use crate::store::TenantRow;

use super::{Judging, judge, split};

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
    let allowlist = crate::allowlist::Allowlist::default();
    let judging = Judging {
        ctx: &ctx,
        allowlist: &allowlist,
    };
    judge(split::records(body.as_bytes()), &judging, &tenant).map(|(_, alerts)| alerts.len())
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
