//! `UpdateInboxRules`: rules made in desktop Outlook or through EWS, logged by mailbox
//! auditing with everything in `OperationProperties`, in one of two layouts
//! (../shared/reference/m365-api.md A12). No complete real record is public, so every field is optional.

use serde_json::Value;

use super::address::addresses;
use super::inbox_rule::{FORWARD, FORWARD_AS_ATTACHMENT, InboxRule, REDIRECT};
use super::record::AuditRecord;

/// The rule an `UpdateInboxRules` record creates or changes; `None` for other records
/// and for deletions.
pub(super) fn read(record: &AuditRecord) -> Option<InboxRule> {
    if !record.is("UpdateInboxRules") {
        return None;
    }
    let operation = record
        .property("RuleOperation")
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if operation.contains("remove") || operation.contains("delete") {
        return None;
    }
    let target = [record.mailbox_owner_upn.trim(), record.user_id.trim()]
        .into_iter()
        .find(|m| !m.is_empty())
        .unwrap_or_default()
        .to_string();
    let mut rule =
        if record.property("RuleActions").is_some() || record.property("RuleName").is_some() {
            mapi(record)
        } else {
            ews(record)
        };
    rule.target = target;
    rule.created = operation == "addmailboxrule"
        || operation == "create"
        || record
            .property("IsNew")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    Some(rule)
}

/// Outlook desktop: `RuleName`, `RuleCondition` (a MAPI restriction as text), `RuleState`
/// and `RuleActions`, a JSON string holding `[{ActionType, Recipients…}]`.
fn mapi(record: &AuditRecord) -> InboxRule {
    let mut rule = InboxRule {
        name: record.property("RuleName").unwrap_or("").to_string(),
        conditions: condition(record.property("RuleCondition")),
        stops_other_rules: record
            .property("RuleState")
            .is_some_and(|s| s.to_ascii_lowercase().contains("exitafterexecution")),
        ..InboxRule::default()
    };
    let actions: Vec<Value> = record
        .property("RuleActions")
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or_default();
    for action in &actions {
        let kind = action
            .get("ActionType")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        apply(&mut rule, &kind, recipients(action));
    }
    rule
}

/// EWS: `Name`, `Actions` naming the action types, `Conditions`, and `ServerRule`, a JSON
/// string with the recipients at `Actions[].Recipients[].Values[].Value`.
fn ews(record: &AuditRecord) -> InboxRule {
    let server_rule: Value = record
        .property("ServerRule")
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    let conditions_text = server_rule
        .get("Conditions")
        .map(|c| leaves(c).join(" "))
        .filter(|c| !c.trim().is_empty())
        .or_else(|| record.property("Conditions").map(str::to_string));
    let mut rule = InboxRule {
        name: record.property("Name").unwrap_or("").to_string(),
        conditions: condition(conditions_text.as_deref()),
        ..InboxRule::default()
    };
    let kinds = format!(
        "{} {}",
        record.property("Actions").unwrap_or(""),
        server_rule
            .get("Actions")
            .map(Value::to_string)
            .unwrap_or_default()
    )
    .to_ascii_lowercase();
    let found = server_rule
        .get("Actions")
        .map(recipients)
        .unwrap_or_default();
    apply(&mut rule, &kinds, found);
    rule
}

/// Records what an action (or a text naming several action types) does to the rule.
fn apply(rule: &mut InboxRule, kind: &str, found: Vec<String>) {
    let verb = if kind.contains("redirect") {
        Some(REDIRECT)
    } else if kind.contains("forwardasattachment") {
        Some(FORWARD_AS_ATTACHMENT)
    } else if kind.contains("forward") || kind.contains("delegate") {
        Some(FORWARD)
    } else {
        None
    };
    if let Some(verb) = verb.filter(|_| !found.is_empty()) {
        rule.forwards.push((verb, found));
    }
    rule.deletes |= kind.contains("delete");
    rule.deletes_permanently |= kind.contains("permanentdelete");
    rule.marks_read |= kind.contains("markasread") || kind.contains("markread");
    rule.stops_other_rules |= kind.contains("stopprocessing");
}

/// An empty body (`{}`, `[]`, blank) is no condition.
fn condition(text: Option<&str>) -> Vec<(String, String)> {
    match text.map(str::trim) {
        None | Some("" | "{}" | "[]" | "null") => Vec::new(),
        Some(t) => vec![("Condition".to_string(), t.to_string())],
    }
}

/// Every address anywhere under a `Recipients` value.
fn recipients(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_recipients(value, false, &mut found);
    found
}

fn collect_recipients(value: &Value, inside: bool, found: &mut Vec<String>) {
    match value {
        Value::String(s) if inside => {
            for a in addresses(s) {
                if !found.contains(&a) {
                    found.push(a);
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| collect_recipients(v, inside, found)),
        Value::Object(map) => {
            for (k, v) in map {
                collect_recipients(v, inside || k.eq_ignore_ascii_case("Recipients"), found);
            }
        }
        _ => {}
    }
}

/// The string leaves of a JSON value, for matching words in conditions.
fn leaves(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(leaves).collect(),
        Value::Object(map) => map.values().flat_map(leaves).collect(),
        _ => Vec::new(),
    }
}
