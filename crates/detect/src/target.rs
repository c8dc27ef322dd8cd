//! Which mailbox a record changed. The actor (`UserId`) is who ran the cmdlet; an
//! admin changing someone else's mailbox must not be mistaken for the victim
//! (the original runbooks' bug B3).

use super::record::AuditRecord;

/// Where Exchange Online's rule ObjectIds name the organisation; the mailbox follows it.
const HOSTED: &str = "/Microsoft Exchange Hosted Organizations/";

/// The mailbox an inbox-rule record changed. The rule's name is the attacker's free
/// text and may hold `\`, `/` and addresses, so it never supplies the mailbox: the
/// `Mailbox` parameter (an identity Exchange resolved, or the cmdlet failed), then the
/// ObjectId Microsoft writes, then `Identity`, then the actor.
pub(crate) fn inbox_rule_mailbox(r: &AuditRecord) -> String {
    if let Some(m) = r.param("Mailbox").filter(|m| !m.trim().is_empty()) {
        return resolve(r, m);
    }
    if let Some(mailbox) = object_id_mailbox(r) {
        return resolve(r, mailbox);
    }
    // Set-InboxRule -Identity "mailbox\rule" names the mailbox too; a bare rule name
    // (no `\`) names none.
    if let Some((mailbox, _)) = r.param("Identity").and_then(split_rule_identity) {
        return resolve(r, mailbox);
    }
    r.user_id.clone()
}

/// `<mailbox>\<rule>`: the mailbox ends at the first `\`, since the rule's name may
/// hold more of them. `None` without a `\`.
pub(super) fn split_rule_identity(identity: &str) -> Option<(&str, &str)> {
    identity.split_once('\\')
}

/// The mailbox in a rule record's ObjectId: `…/<org>/<mailbox>\<rule name>` (New-InboxRule)
/// or `<mailbox GUID>\<rule id>` (Set-InboxRule). The logged `Name` is stripped from the
/// end as a whole; without it the ObjectId is cut at its first `\`.
fn object_id_mailbox(r: &AuditRecord) -> Option<&str> {
    let id = r.object_id.trim();
    let head = r
        .param("Name")
        .filter(|n| !n.is_empty())
        .and_then(|n| id.strip_suffix(n)?.strip_suffix('\\'))
        .or_else(|| split_rule_identity(id).map(|(mailbox, _)| mailbox))?;
    let mailbox = match head.find(HOSTED) {
        // After the organisation's own segment.
        Some(at) => head[at + HOSTED.len()..]
            .split_once('/')
            .map_or("", |(_, m)| m),
        None => head.rsplit('/').next().unwrap_or(head),
    };
    (!mailbox.trim().is_empty()).then_some(mailbox)
}

/// The mailbox a Set-Mailbox record changed.
pub(crate) fn mailbox(r: &AuditRecord) -> String {
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

    /// A rule name holding `\`, `/` and another mailbox's address (issue 11, item 15).
    const CRAFTED: &str = "Invoices/ceo@contoso.com\\x";

    fn rule_record(actor: &str, object_id: Option<String>, params: &[(&str, &str)]) -> AuditRecord {
        let params: Vec<_> = params
            .iter()
            .map(|(n, v)| serde_json::json!({"Name": n, "Value": v}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "Id": "1", "Operation": "New-InboxRule", "UserId": actor, "ObjectId": object_id, "Parameters": params,
        }))
        .unwrap()
    }

    #[test]
    fn a_crafted_rule_name_never_names_the_mailbox() {
        let path = "EX/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com";
        let r = rule_record(
            "adele@contoso.com",
            Some(format!("{path}/adele\\{CRAFTED}")),
            &[("Name", CRAFTED)],
        );
        assert_eq!(inbox_rule_mailbox(&r), "adele@contoso.com");
        // Logged by an admin, the mailbox stays the name Exchange wrote.
        let r = rule_record(
            "admin@contoso.com",
            Some(format!("{path}/AdeleV\\{CRAFTED}")),
            &[("Name", CRAFTED)],
        );
        assert_eq!(inbox_rule_mailbox(&r), "AdeleV");
        // Without a logged name the ObjectId is cut at its first backslash.
        let guid = "311b45d6-1a3e-46ac-8434-721367961e19";
        let r = rule_record("admin@contoso.com", Some(format!("{guid}\\{CRAFTED}")), &[]);
        assert_eq!(inbox_rule_mailbox(&r), guid);
        // So is Identity, when Microsoft wrote no ObjectId.
        let r = rule_record(
            "admin@contoso.com",
            None,
            &[("Identity", &format!("adele@contoso.com\\{CRAFTED}"))],
        );
        assert_eq!(inbox_rule_mailbox(&r), "adele@contoso.com");
        // A bare rule name as Identity names no mailbox: the ObjectId's GUID does.
        let r = rule_record(
            "admin@contoso.com",
            Some(format!("{guid}\\17639250888751054849")),
            &[("Identity", CRAFTED)],
        );
        assert_eq!(inbox_rule_mailbox(&r), guid);
    }
}
