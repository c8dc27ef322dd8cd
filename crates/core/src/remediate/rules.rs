//! The mailbox side of remediation, through Exchange cmdlets: inbox rules (hidden ones
//! included) and mailbox forwarding.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::microsoft::{Microsoft, Refusal};
use super::{Action, Outcome, StepDone};
use crate::detect::{TenantContext, live_rule, visible_text};

/// A rule in the mailbox now.
#[derive(Debug, Clone, Serialize)]
pub struct LiveRule {
    /// Exchange's identity (`mailbox\number`), what the cmdlets take.
    pub identity: String,
    pub name: String,
    pub enabled: bool,
    /// What the rule does, in Rulewatch's words.
    pub description: String,
    /// What detection finds in it (e.g. "inbox-rule-external-forward: …").
    pub marks: Vec<String>,
    /// The rule the alert is about.
    pub about_alert: bool,
    /// Exchange's own rules (junk mail, out of office, delegates), left alone.
    pub system: bool,
}

/// What changing any rule through Exchange does besides (m365-api.md B7).
pub(super) const CLIENT_ONLY_RULES: &str = "Changing a rule through Exchange also deletes the rules this mailbox's \
     desktop Outlook keeps only on the computer (client-only rules); the user may need to recreate those";

/// Mailbox-level forwarding (`Get-Mailbox`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Forwarding {
    pub forwarding_smtp_address: Option<String>,
    pub forwarding_address: Option<String>,
    pub deliver_to_mailbox_and_forward: bool,
}

impl Forwarding {
    pub fn is_clear(&self) -> bool {
        self.forwarding_smtp_address.is_none()
            && self.forwarding_address.is_none()
            && !self.deliver_to_mailbox_and_forward
    }

    pub fn words(&self) -> String {
        let to: Vec<String> = [&self.forwarding_smtp_address, &self.forwarding_address]
            .into_iter()
            .flatten()
            .map(|a| visible_text(a))
            .collect();
        match (to.is_empty(), self.deliver_to_mailbox_and_forward) {
            (true, false) => "no forwarding".into(),
            (true, true) => "no forwarding address (keep-a-copy still set)".into(),
            (false, keep) => {
                format!(
                    "forwards all mail to {}{}",
                    to.join(" and "),
                    if keep { ", keeping a copy" } else { "" }
                )
            }
        }
    }

    fn state(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Fields of a `Get-InboxRule` object that say nothing about what the rule does.
const METADATA: [&str; 14] = [
    "Identity",
    "RuleIdentity",
    "Name",
    "Enabled",
    "Priority",
    "Description",
    "MailboxOwnerId",
    "InError",
    "ErrorType",
    "IsValid",
    "ObjectState",
    "SupportedByTask",
    "Legacy",
    "RuleType",
];

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null | Value::Bool(false) => None,
        Value::Bool(true) => Some("True".into()),
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(text_of)
                .collect::<Vec<_>>()
                .join(";"),
        ),
        other => Some(other.to_string()),
    }
}

fn is_system(name: &str) -> bool {
    name.eq_ignore_ascii_case("Junk E-Mail Rule")
        || name.starts_with("Microsoft.Exchange.OOF.")
        || name.to_ascii_lowercase().starts_with("delegate rule")
}

pub(crate) fn read_rule(
    v: &Value,
    mailbox: &str,
    ctx: &TenantContext,
    alert_rules: &[String],
) -> LiveRule {
    let name = v["Name"].as_str().unwrap_or_default().to_string();
    let parameters = v
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !METADATA.contains(&k.as_str()))
        .filter_map(|(k, v)| text_of(v).map(|t| (k.clone(), t)))
        .collect();
    let (sentence, findings) = live_rule(mailbox, &name, parameters, ctx);
    LiveRule {
        identity: v["Identity"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| name.clone()),
        enabled: v["Enabled"].as_bool().unwrap_or(true),
        description: sentence,
        marks: findings
            .iter()
            .map(|f| format!("{}: {}", f.rule, f.summary))
            .collect(),
        about_alert: alert_rules.iter().any(|a| a == &name),
        system: is_system(&name),
        name,
    }
}

/// Every rule in the mailbox, hidden ones included (B7: `Get-InboxRule -IncludeHidden`).
pub(super) async fn list(
    ms: &Microsoft<'_>,
    mailbox: &str,
    ctx: &TenantContext,
    alert_rules: &[String],
) -> Result<Vec<LiveRule>, Refusal> {
    let rows = definitions(ms, mailbox).await?;
    Ok(rows
        .iter()
        .map(|r| read_rule(r, mailbox, ctx, alert_rules))
        .collect())
}

async fn definitions(ms: &Microsoft<'_>, mailbox: &str) -> Result<Vec<Value>, Refusal> {
    let what = format!("listing the inbox rules of {mailbox}");
    ms.cmdlet(
        mailbox,
        "Get-InboxRule",
        json!({"Mailbox": mailbox, "IncludeHidden": true}),
        &what,
    )
    .await
}

/// The rule `identity` names: its Exchange identity, or its name.
fn find<'v>(rules: &'v [Value], identity: &str) -> Option<&'v Value> {
    rules
        .iter()
        .find(|r| r["Identity"].as_str() == Some(identity))
        .or_else(|| rules.iter().find(|r| r["Name"].as_str() == Some(identity)))
}

pub(super) fn label(action: Action, name: &str) -> String {
    match action {
        Action::RemoveRule => format!("Remove inbox rule \"{}\"", visible_text(name)),
        _ => format!(
            "Disable inbox rule \"{}\" (keeps it as evidence)",
            visible_text(name)
        ),
    }
}

/// Disables or removes one rule, keeping its whole definition as the before-state.
pub(super) async fn change(
    ms: &Microsoft<'_>,
    mailbox: &str,
    identity: &str,
    action: Action,
) -> StepDone {
    let cmdlet = if action == Action::RemoveRule {
        "Remove-InboxRule"
    } else {
        "Disable-InboxRule"
    };
    let rules = match definitions(ms, mailbox).await {
        Ok(r) => r,
        Err(r) => return StepDone::failed(format!("InvokeCommand {cmdlet}"), None, r.message),
    };
    let Some(rule) = find(&rules, identity).cloned() else {
        let request = format!("InvokeCommand {cmdlet} Identity={identity}");
        let detail = "the rule is no longer in the mailbox".to_string();
        return StepDone::new(
            if action == Action::RemoveRule {
                Outcome::AlreadySo
            } else {
                Outcome::Skipped
            },
            request,
            None,
            None,
            detail,
        );
    };
    let exact = rule["Identity"].as_str().unwrap_or(identity).to_string();
    let request = format!("InvokeCommand {cmdlet} Identity={exact}");
    if action == Action::DisableRule && rule["Enabled"].as_bool() == Some(false) {
        return StepDone::new(
            Outcome::AlreadySo,
            request,
            Some(rule.clone()),
            Some(rule),
            "the rule is already disabled".into(),
        );
    }
    let what = format!(
        "{} inbox rule {exact}",
        if action == Action::RemoveRule {
            "removing"
        } else {
            "disabling"
        }
    );
    match ms
        .cmdlet(
            mailbox,
            cmdlet,
            json!({"Identity": exact, "Confirm": false}),
            &what,
        )
        .await
    {
        Ok(_) => {}
        Err(r) if r.not_found && action == Action::RemoveRule => {
            return StepDone::new(
                Outcome::AlreadySo,
                request,
                Some(rule),
                None,
                format!("the rule was already gone ({})", r.message),
            );
        }
        Err(r) => return StepDone::failed(request, Some(rule), r.message),
    }
    let after = definitions(ms, mailbox)
        .await
        .map(|rules| find(&rules, &exact).cloned());
    match (action, after) {
        (Action::RemoveRule, Ok(None)) => StepDone::new(Outcome::Done, request, Some(rule), None, "rule removed".into()),
        (Action::DisableRule, Ok(Some(now))) if now["Enabled"].as_bool() == Some(false) => {
            StepDone::new(Outcome::Done, request, Some(rule), Some(now), "rule disabled; it stays in the mailbox as evidence".into())
        }
        (_, Ok(now)) => StepDone::new(
            Outcome::Failed,
            request,
            Some(rule),
            now,
            "Exchange accepted the change, but reading the rules back does not show it; retry this step".into(),
        ),
        (_, Err(r)) => StepDone::failed(request, Some(rule), format!("the change was sent, but could not be verified: {}", r.message)),
    }
}

/// Undo of a disable: enables the rule again.
pub(super) async fn enable(ms: &Microsoft<'_>, mailbox: &str, before: &Value) -> StepDone {
    let identity = before["Identity"].as_str().unwrap_or_default().to_string();
    let request = format!("InvokeCommand Enable-InboxRule Identity={identity}");
    let what = format!("enabling inbox rule {identity}");
    if let Err(r) = ms
        .cmdlet(
            mailbox,
            "Enable-InboxRule",
            json!({"Identity": identity, "Confirm": false}),
            &what,
        )
        .await
    {
        return StepDone::failed(request, None, r.message);
    }
    match definitions(ms, mailbox)
        .await
        .map(|rules| find(&rules, &identity).cloned())
    {
        Ok(Some(now)) if now["Enabled"].as_bool() == Some(true) => StepDone::new(
            Outcome::Done,
            request,
            None,
            Some(now),
            "rule enabled again".into(),
        ),
        Ok(now) => StepDone::new(
            Outcome::Failed,
            request,
            None,
            now,
            "the rule does not show as enabled; retry".into(),
        ),
        Err(r) => StepDone::failed(
            request,
            None,
            format!("could not be verified: {}", r.message),
        ),
    }
}

/// Undo of a removal: creates the rule again from its recorded definition.
pub(super) async fn recreate(ms: &Microsoft<'_>, mailbox: &str, before: &Value) -> StepDone {
    let name = before["Name"].as_str().unwrap_or_default().to_string();
    let mut parameters: Map<String, Value> = before
        .as_object()
        .into_iter()
        .flatten()
        // What the rule does, and its name and state, rebuild it.
        .filter(|(k, v)| {
            (!METADATA.contains(&k.as_str()) || *k == "Name" || *k == "Enabled") && !v.is_null()
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    parameters.insert("Mailbox".into(), mailbox.into());
    let request = format!(
        "InvokeCommand New-InboxRule Mailbox={mailbox} Name={name} (from the recorded definition)"
    );
    let what = format!("re-creating inbox rule {name}");
    if let Err(r) = ms
        .cmdlet(mailbox, "New-InboxRule", Value::Object(parameters), &what)
        .await
    {
        return StepDone::failed(request, None, r.message);
    }
    match definitions(ms, mailbox)
        .await
        .map(|rules| find(&rules, &name).cloned())
    {
        Ok(Some(now)) => StepDone::new(
            Outcome::Done,
            request,
            None,
            Some(now),
            "rule re-created as it was".into(),
        ),
        Ok(None) => StepDone::new(
            Outcome::Failed,
            request,
            None,
            None,
            "the rule does not show in the mailbox; retry".into(),
        ),
        Err(r) => StepDone::failed(
            request,
            None,
            format!("could not be verified: {}", r.message),
        ),
    }
}

fn address(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(|s| {
        s.strip_prefix("smtp:")
            .or_else(|| s.strip_prefix("SMTP:"))
            .unwrap_or(s)
            .to_string()
    })
}

pub(super) async fn forwarding(ms: &Microsoft<'_>, mailbox: &str) -> Result<Forwarding, Refusal> {
    let what = format!("reading the forwarding of {mailbox}");
    let rows = ms
        .cmdlet(mailbox, "Get-Mailbox", json!({"Identity": mailbox}), &what)
        .await?;
    let m = rows.first().ok_or_else(|| Refusal {
        message: format!("{what}: Exchange returned no mailbox"),
        not_found: true,
    })?;
    Ok(Forwarding {
        forwarding_smtp_address: address(&m["ForwardingSmtpAddress"]),
        forwarding_address: address(&m["ForwardingAddress"]),
        deliver_to_mailbox_and_forward: m["DeliverToMailboxAndForward"].as_bool().unwrap_or(false),
    })
}

async fn set_forwarding(
    ms: &Microsoft<'_>,
    mailbox: &str,
    to: &Forwarding,
    request: String,
    before: Option<Value>,
) -> StepDone {
    let what = format!("setting the forwarding of {mailbox}");
    let parameters = json!({
        "Identity": mailbox,
        "ForwardingSmtpAddress": to.forwarding_smtp_address,
        "ForwardingAddress": to.forwarding_address,
        "DeliverToMailboxAndForward": to.deliver_to_mailbox_and_forward,
    });
    if let Err(r) = ms.cmdlet(mailbox, "Set-Mailbox", parameters, &what).await {
        return StepDone::failed(request, before, r.message);
    }
    match forwarding(ms, mailbox).await {
        Ok(now) if &now == to => StepDone::new(
            Outcome::Done,
            request,
            before,
            Some(now.state()),
            now.words(),
        ),
        Ok(now) => StepDone::new(
            Outcome::Failed,
            request,
            before,
            Some(now.state()),
            format!(
                "Exchange accepted the change, but the mailbox still shows: {}; retry",
                now.words()
            ),
        ),
        Err(r) => StepDone::failed(
            request,
            before,
            format!(
                "the change was sent, but could not be verified: {}",
                r.message
            ),
        ),
    }
}

/// Clears both forwarding fields and keep-a-copy (B6), as CIPP does.
pub(super) async fn clear_forwarding(ms: &Microsoft<'_>, mailbox: &str) -> StepDone {
    let request = format!(
        "InvokeCommand Set-Mailbox Identity={mailbox} ForwardingSmtpAddress=null ForwardingAddress=null DeliverToMailboxAndForward=false"
    );
    let before = match forwarding(ms, mailbox).await {
        Ok(f) => f,
        Err(r) => return StepDone::failed(request, None, r.message),
    };
    if before.is_clear() {
        return StepDone::new(
            Outcome::AlreadySo,
            request,
            Some(before.state()),
            Some(before.state()),
            before.words(),
        );
    }
    let clear = Forwarding {
        forwarding_smtp_address: None,
        forwarding_address: None,
        deliver_to_mailbox_and_forward: false,
    };
    set_forwarding(ms, mailbox, &clear, request, Some(before.state())).await
}

/// Undo of a clear: puts the recorded forwarding back.
pub(super) async fn restore_forwarding(
    ms: &Microsoft<'_>,
    mailbox: &str,
    before: &Value,
) -> StepDone {
    let Ok(to) = serde_json::from_value::<Forwarding>(before.clone()) else {
        return StepDone::failed(
            String::new(),
            None,
            "the recorded forwarding cannot be read".into(),
        );
    };
    let request = format!(
        "InvokeCommand Set-Mailbox Identity={mailbox} (the recorded forwarding: {})",
        to.words()
    );
    set_forwarding(ms, mailbox, &to, request, None).await
}
