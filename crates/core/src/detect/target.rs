//! Which mailbox a record changed. The actor (`UserId`) is who ran the cmdlet; an
//! admin changing someone else's mailbox must not be mistaken for the victim
//! (the original runbooks' bug B3).

use super::record::AuditRecord;

/// The mailbox an inbox-rule record changed.
pub fn inbox_rule_mailbox(r: &AuditRecord) -> String {
    if let Some(m) = r.param("Mailbox").filter(|m| !m.trim().is_empty()) {
        return resolve(r, m);
    }
    // Set-InboxRule -Identity "mailbox\rule" names the mailbox too.
    if let Some((mailbox, _)) = r.param("Identity").and_then(|i| i.rsplit_once('\\')) {
        return resolve(r, mailbox);
    }
    // ObjectId is `…/<tenant>.onmicrosoft.com/<mailbox>\<rule>` or `<mailbox>\<rule id>`.
    if let Some((path, _)) = r.object_id.rsplit_once('\\') {
        return resolve(r, path.rsplit('/').next().unwrap_or(path));
    }
    r.user_id.clone()
}

/// The mailbox a Set-Mailbox record changed.
pub fn mailbox(r: &AuditRecord) -> String {
    let identity = r
        .param("Identity")
        .filter(|i| !i.trim().is_empty())
        .unwrap_or(&r.object_id);
    resolve(r, identity.rsplit('/').next().unwrap_or(identity))
}

/// A mailbox named by alias or id is the actor's own when the alias is the actor's
/// (Outlook on the web logs `stinger_b5cd7fb7af` for stinger@contoso.com); otherwise
/// the name stays as logged.
fn resolve(r: &AuditRecord, mailbox: &str) -> String {
    let mailbox = mailbox.trim();
    if mailbox.is_empty() {
        return r.user_id.clone();
    }
    if mailbox.contains('@') {
        return mailbox.to_string();
    }
    let actor_local = r
        .user_id
        .split('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let m = mailbox.to_ascii_lowercase();
    let own = !actor_local.is_empty()
        && (m == actor_local
            || m.strip_prefix(&actor_local)
                .is_some_and(|rest| rest.starts_with('_')));
    if own {
        r.user_id.clone()
    } else {
        mailbox.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(json: &str) -> AuditRecord {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn owa_alias_is_the_actor() {
        let r = rec(
            r#"{"Id":"1","UserId":"stinger@contoso.com","ObjectId":"APC/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/stinger_b5cd7fb7af\\."}"#,
        );
        assert_eq!(inbox_rule_mailbox(&r), "stinger@contoso.com");
    }

    #[test]
    fn another_mailbox_is_the_target() {
        let r = rec(
            r#"{"Id":"1","UserId":"admin@contoso.com","Parameters":[{"Name":"Mailbox","Value":"adele@contoso.com"}]}"#,
        );
        assert_eq!(inbox_rule_mailbox(&r), "adele@contoso.com");
        let r = rec(
            r#"{"Id":"1","UserId":"stinger@contoso.onmicrosoft.com","ObjectId":"X/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/311b45d6-1a3e-46ac-8434-721367961e19\\Direct"}"#,
        );
        assert_eq!(
            inbox_rule_mailbox(&r),
            "311b45d6-1a3e-46ac-8434-721367961e19"
        );
        let r = rec(
            r#"{"Id":"1","UserId":"matt@contoso.com","ObjectId":"x","Parameters":[{"Name":"Identity","Value":"A/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/311b45d6"}]}"#,
        );
        assert_eq!(mailbox(&r), "311b45d6");
    }
}
