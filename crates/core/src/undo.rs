//! What undoing a recorded step puts back, in plain words, for the confirmation the
//! technician answers. Read from the step's verified row only: a row someone edited is
//! refused here as it is by the undo itself.
#![warn(missing_docs)]

use serde::Serialize;
use serde_json::Value;

use crate::detect::address::{addresses, is_external};
use crate::detect::{TenantContext, visible_text};
use crate::remediate::{Action, Forwarding, read_rule};
use crate::store::{Store, StoreError};

/// Rule fields that send mail on.
const RULE_DESTINATIONS: [&str; 3] = ["ForwardTo", "ForwardAsAttachmentTo", "RedirectTo"];

/// What undoing one recorded step would put back, for the technician to confirm.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UndoPreview {
    /// The recorded step's id.
    pub action_id: i64,
    /// The mailbox (or account) the step changed, as recorded.
    pub mailbox: String,
    /// What the undo puts back, e.g. "forward all mail from … to x@evil.example again".
    pub restores: String,
    /// Addresses outside the organisation that mail goes to again after the undo: the
    /// technician is asked a second time before that.
    pub outside: Vec<String>,
}

/// Every address in a recorded value (text, or Exchange's list of recipients).
fn addresses_in(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => addresses(s),
        Value::Array(items) => items.iter().flat_map(addresses_in).collect(),
        _ => Vec::new(),
    }
}

/// What undoing step `action_id` would restore. A step that does not check out is an error.
pub fn undo_preview(store: &Store, action_id: i64) -> Result<UndoPreview, StoreError> {
    let entry = store.verified_log_entry(action_id)?;
    let step = &entry.step;
    let mailbox = visible_text(&step.mailbox);
    let before = step.before.clone().unwrap_or(Value::Null);
    let ctx = TenantContext {
        accepted_domains: store
            .accepted_domains(&step.tenant_id)?
            .map(|(d, _)| d)
            .unwrap_or_default(),
    };
    let outside = |found: Vec<String>| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in found
            .into_iter()
            .filter(|a| is_external(a, &ctx.accepted_domains))
        {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    };
    let (restores, outside) = match Action::parse(&step.action) {
        Some(Action::BlockSignIn) => (format!("allow {mailbox} to sign in again"), Vec::new()),
        Some(action @ (Action::DisableRule | Action::RemoveRule)) => {
            let rule = read_rule(&before, &step.mailbox, &ctx, &[]);
            let verb = if action == Action::DisableRule {
                "turn this inbox rule back on"
            } else {
                "re-create this inbox rule"
            };
            let sends_to = RULE_DESTINATIONS
                .iter()
                .flat_map(|k| addresses_in(&before[*k]))
                .collect();
            (format!("{verb}: {}", rule.description), outside(sends_to))
        }
        Some(Action::ClearForwarding) => match serde_json::from_value::<Forwarding>(before.clone())
        {
            Ok(f) => {
                let to: Vec<String> = [&f.forwarding_smtp_address, &f.forwarding_address]
                    .into_iter()
                    .flatten()
                    .map(|a| visible_text(a))
                    .collect();
                let keep = if f.deliver_to_mailbox_and_forward {
                    ", keeping a copy in the mailbox"
                } else {
                    ""
                };
                let words = if to.is_empty() {
                    format!("set {mailbox} to keep a copy of forwarded mail again")
                } else {
                    format!(
                        "forward all mail from {mailbox} to {} again{keep}",
                        to.join(" and ")
                    )
                };
                (
                    words,
                    outside(addresses_in(&before["forwarding_smtp_address"])),
                )
            }
            Err(_) => (
                "put back a forwarding that cannot be read from the record".into(),
                Vec::new(),
            ),
        },
        _ => (
            format!("put back the state recorded before step {action_id}"),
            Vec::new(),
        ),
    };
    Ok(UndoPreview {
        action_id,
        mailbox: step.mailbox.clone(),
        restores,
        outside,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::secrets::MemorySecrets;
    use crate::store::NewLogEntry;

    fn step(action: &str, before: Value) -> NewLogEntry {
        NewLogEntry {
            os_user: "tech".into(),
            machine: "desk".into(),
            operator: None,
            tenant_id: "t1".into(),
            mailbox: "adele@contoso.example".into(),
            alert_id: Some(1),
            action: action.into(),
            request: "InvokeCommand".into(),
            before: Some(before),
            after: None,
            result: "done".into(),
            detail: "done".into(),
            undoes: None,
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path())
            .unwrap()
            .sign_record_with(Arc::new(MemorySecrets::default()));
        let tenant = crate::store::TenantRow {
            tenant_id: "t1".into(),
            name: "Contoso".into(),
            client_id: "c1".into(),
            auth_method: crate::auth::AuthMethod::ClientSecret,
            cloud: None,
        };
        store.add_tenant(&tenant).unwrap();
        store
            .set_accepted_domains("t1", &["contoso.example".to_string()])
            .unwrap();
        (dir, store)
    }

    #[test]
    fn restoring_outside_forwarding_says_where_mail_goes_and_flags_it() {
        let (_dir, store) = store();
        let out = json!({"forwarding_smtp_address": "x@evil.example", "forwarding_address": null, "deliver_to_mailbox_and_forward": true});
        let id = store.append_log(&step("clear-forwarding", out)).unwrap().id;
        let p = undo_preview(&store, id).unwrap();
        assert_eq!(
            p.restores,
            "forward all mail from adele@contoso.example to x@evil.example again, keeping a copy in the mailbox"
        );
        assert_eq!(p.outside, ["x@evil.example"]);

        let inside = json!({"forwarding_smtp_address": "bob@contoso.example", "forwarding_address": null, "deliver_to_mailbox_and_forward": false});
        let id = store
            .append_log(&step("clear-forwarding", inside))
            .unwrap()
            .id;
        let p = undo_preview(&store, id).unwrap();
        assert_eq!(
            p.restores,
            "forward all mail from adele@contoso.example to bob@contoso.example again"
        );
        assert!(p.outside.is_empty(), "{p:?}");
    }

    #[test]
    fn a_rule_is_read_in_plain_words_with_its_outside_recipients() {
        let (_dir, store) = store();
        let rule = json!({
            "Identity": "adele@contoso.example\\1", "Name": "Sync", "Enabled": true,
            "RedirectTo": ["\"Eve\" [SMTP:eve@evil.example]", "\"Bob\" [SMTP:bob@contoso.example]"]
        });
        let id = store
            .append_log(&step("disable-rule", rule.clone()))
            .unwrap()
            .id;
        let p = undo_preview(&store, id).unwrap();
        assert!(
            p.restores
                .starts_with("turn this inbox rule back on: Rule \"Sync\""),
            "{}",
            p.restores
        );
        assert!(p.restores.contains("eve@evil.example"), "{}", p.restores);
        assert_eq!(p.outside, ["eve@evil.example"]);
        let id = store.append_log(&step("remove-rule", rule)).unwrap().id;
        assert!(
            undo_preview(&store, id)
                .unwrap()
                .restores
                .starts_with("re-create this inbox rule: ")
        );
        let id = store
            .append_log(&step("block-sign-in", json!({"account_enabled": true})))
            .unwrap()
            .id;
        assert_eq!(
            undo_preview(&store, id).unwrap().restores,
            "allow adele@contoso.example to sign in again"
        );
    }

    #[test]
    fn an_edited_step_gets_no_preview() {
        let (dir, store) = store();
        let out = json!({"forwarding_smtp_address": "x@evil.example", "forwarding_address": null, "deliver_to_mailbox_and_forward": false});
        let id = store.append_log(&step("clear-forwarding", out)).unwrap().id;
        assert!(undo_preview(&store, id).is_ok());
        let c = rusqlite::Connection::open(dir.path().join("rulewatch.db")).unwrap();
        c.execute(
            "UPDATE remediation_log SET before_state = replace(before_state, 'x@evil', 'y@evil')",
            [],
        )
        .unwrap();
        let refused = undo_preview(&store, id).unwrap_err().to_string();
        assert!(
            refused.contains("was changed after it was written"),
            "{refused}"
        );
    }
}
