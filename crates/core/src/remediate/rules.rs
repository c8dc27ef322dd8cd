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
    /// The rule's name, as Exchange lists it (the attacker's text).
    pub name: String,
    /// Whether the rule runs now (taken as yes when Exchange does not say).
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

/// What changing any rule through Exchange does besides (../shared/reference/m365-api.md B7).
pub(super) const CLIENT_ONLY_RULES: &str = "Changing a rule through Exchange also deletes the rules this mailbox's \
     desktop Outlook keeps only on the computer (client-only rules); the user may need to recreate those";

/// Mailbox-level forwarding (`Get-Mailbox`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Forwarding {
    /// `ForwardingSmtpAddress`: any address, outside ones included, without its `smtp:`
    /// prefix.
    pub forwarding_smtp_address: Option<String>,
    /// `ForwardingAddress`: a recipient of the organisation's directory (often a mail contact
    /// for an outside address).
    pub forwarding_address: Option<String>,
    /// Whether the mailbox keeps a copy of what it forwards.
    pub deliver_to_mailbox_and_forward: bool,
}

impl Forwarding {
    /// Whether nothing is forwarded and keep-a-copy is off.
    pub fn is_clear(&self) -> bool {
        self.forwarding_smtp_address.is_none()
            && self.forwarding_address.is_none()
            && !self.deliver_to_mailbox_and_forward
    }

    /// The forwarding in words, for the plan ("forwards all mail to …, keeping a copy").
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
        return StepDone::already(request, rule, "the rule is already disabled".into());
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
    let shows = |now: &Option<Value>| match action {
        Action::RemoveRule => now.is_none(),
        _ => now
            .as_ref()
            .is_some_and(|r| r["Enabled"].as_bool() == Some(false)),
    };
    let after = ms.read_back(|| rule_now(ms, mailbox, &exact), shows).await;
    match after {
        Ok(now) if shows(&now) => {
            let detail = if action == Action::RemoveRule {
                "rule removed"
            } else {
                "rule disabled; it stays in the mailbox as evidence"
            };
            StepDone::new(Outcome::Done, request, Some(rule), now, detail.into())
        }
        Ok(now) => StepDone::not_visible(request, Some(rule), now, None),
        Err(r) => StepDone::not_visible(request, Some(rule), None, Some(r.message)),
    }
}

/// The rule `identity` names, as Exchange lists it now.
async fn rule_now(
    ms: &Microsoft<'_>,
    mailbox: &str,
    identity: &str,
) -> Result<Option<Value>, Refusal> {
    definitions(ms, mailbox)
        .await
        .map(|rules| find(&rules, identity).cloned())
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
    let enabled = |now: &Option<Value>| {
        now.as_ref()
            .is_some_and(|r| r["Enabled"].as_bool() == Some(true))
    };
    match ms
        .read_back(|| rule_now(ms, mailbox, &identity), enabled)
        .await
    {
        Ok(now) if enabled(&now) => StepDone::new(
            Outcome::Done,
            request,
            None,
            now,
            "rule enabled again".into(),
        ),
        Ok(now) => StepDone::not_visible(request, None, now, None),
        Err(r) => StepDone::not_visible(request, None, None, Some(r.message)),
    }
}

/// What New-InboxRule takes to rebuild a rule's conditions, exceptions and actions: its
/// `Identity` parameter set in Exchange Online (MicrosoftDocs/office-docs-powershell
/// `exchange/exchange-ps/ExchangePowerShell/New-InboxRule.md`), less `Name` and `Mailbox`
/// (set apart), `Priority` (the mailbox's rules may have changed since) and the switches
/// `AlwaysDeleteOutlookRulesBlob`, `Confirm`, `Force`, `WhatIf`. Anything else
/// `Get-InboxRule` shows (`Enabled`, `RuleIdentity`, `IsValid`, …) makes Exchange refuse
/// the whole call (../shared/reference/m365-api.md §G 7).
const RULE_CONTENT: [&str; 61] = [
    "ApplyCategory",
    "ApplySystemCategory",
    "BodyContainsWords",
    "CopyToFolder",
    "DeleteMessage",
    "DeleteSystemCategory",
    "ExceptIfBodyContainsWords",
    "ExceptIfFlaggedForAction",
    "ExceptIfFrom",
    "ExceptIfFromAddressContainsWords",
    "ExceptIfHasAttachment",
    "ExceptIfHasClassification",
    "ExceptIfHeaderContainsWords",
    "ExceptIfMessageTypeMatches",
    "ExceptIfMyNameInCcBox",
    "ExceptIfMyNameInToBox",
    "ExceptIfMyNameInToOrCcBox",
    "ExceptIfMyNameNotInToBox",
    "ExceptIfReceivedAfterDate",
    "ExceptIfReceivedBeforeDate",
    "ExceptIfRecipientAddressContainsWords",
    "ExceptIfSentOnlyToMe",
    "ExceptIfSentTo",
    "ExceptIfSubjectContainsWords",
    "ExceptIfSubjectOrBodyContainsWords",
    "ExceptIfWithImportance",
    "ExceptIfWithinSizeRangeMaximum",
    "ExceptIfWithinSizeRangeMinimum",
    "ExceptIfWithSensitivity",
    "FlaggedForAction",
    "ForwardAsAttachmentTo",
    "ForwardTo",
    "From",
    "FromAddressContainsWords",
    "HasAttachment",
    "HasClassification",
    "HeaderContainsWords",
    "MarkAsRead",
    "MarkImportance",
    "MessageTypeMatches",
    "MoveToFolder",
    "MyNameInCcBox",
    "MyNameInToBox",
    "MyNameInToOrCcBox",
    "MyNameNotInToBox",
    "PinMessage",
    "ReceivedAfterDate",
    "ReceivedBeforeDate",
    "RecipientAddressContainsWords",
    "RedirectTo",
    "SendTextMessageNotificationTo",
    "SentOnlyToMe",
    "SentTo",
    "SoftDeleteMessage",
    "StopProcessingRules",
    "SubjectContainsWords",
    "SubjectOrBodyContainsWords",
    "WithImportance",
    "WithinSizeRangeMaximum",
    "WithinSizeRangeMinimum",
    "WithSensitivity",
];

/// The parameters among [`RULE_CONTENT`] that name recipients (`RecipientIdParameter[]`).
const RECIPIENTS: [&str; 7] = [
    "ForwardTo",
    "ForwardAsAttachmentTo",
    "RedirectTo",
    "From",
    "SentTo",
    "ExceptIfFrom",
    "ExceptIfSentTo",
];

/// A plain SMTP address: one `@`, something on both sides, a dotted domain, nothing that
/// could carry a second value or a display name.
fn bare_address(s: &str) -> Option<&str> {
    let (local, domain) = s.split_once('@')?;
    let clean = |p: &str| {
        !p.is_empty()
            && !p
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "\"'[]<>;,:@()\\".contains(c))
    };
    (clean(local) && clean(domain) && domain.contains('.')).then_some(s)
}

/// The bare SMTP address of one recipient as Get-InboxRule shows it (§G 7): `"Name"
/// [SMTP:x@y]`, `smtp:x@y` or `x@y`. Only the bracket counts, never the display name,
/// which whoever made the rule chose. `Err` holds the value when it has no SMTP address
/// (`"Name" [EX:/o=…]`, an internal recipient shown only by its Exchange DN).
fn smtp_recipient(value: &str) -> Result<String, String> {
    let v = value.trim();
    let inner = match v.rfind('[') {
        Some(open) if v.ends_with(']') => &v[open + 1..v.len() - 1],
        _ => v,
    };
    let address = match inner.split_once(':') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("smtp") => rest,
        Some(_) => return Err(v.to_string()),
        None => inner,
    };
    bare_address(address.trim())
        .map(str::to_string)
        .ok_or_else(|| v.to_string())
}

/// New-InboxRule's parameters for a recorded rule: only [`RULE_CONTENT`], no empty or
/// unset values, recipients as bare SMTP addresses. `Err` lists the recipients that
/// cannot be named so.
fn recreate_parameters(before: &Value) -> Result<Map<String, Value>, Vec<String>> {
    let mut parameters = Map::new();
    let mut unnamed = Vec::new();
    for (key, value) in before.as_object().into_iter().flatten() {
        let Some(name) = RULE_CONTENT.iter().find(|p| p.eq_ignore_ascii_case(key)) else {
            continue;
        };
        let value = match value {
            Value::Null | Value::Bool(false) => continue,
            Value::String(s) if s.trim().is_empty() => continue,
            Value::Array(items) => {
                let items: Vec<Value> = items
                    .iter()
                    .filter(|i| i.as_str().is_none_or(|s| !s.trim().is_empty()))
                    .cloned()
                    .collect();
                if items.is_empty() {
                    continue;
                }
                Value::Array(items)
            }
            other => other.clone(),
        };
        let value = if RECIPIENTS.contains(name) {
            let listed: Vec<&str> = match &value {
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                single => single.as_str().into_iter().collect(),
            };
            let mut addresses = Vec::new();
            for recipient in listed {
                match smtp_recipient(recipient) {
                    Ok(a) => addresses.push(Value::String(a)),
                    Err(v) => unnamed.push(v),
                }
            }
            Value::Array(addresses)
        } else {
            value
        };
        parameters.insert((*name).to_string(), value);
    }
    if unnamed.is_empty() {
        Ok(parameters)
    } else {
        Err(unnamed)
    }
}

/// Undo of a removal: creates the rule again from its recorded definition with
/// New-InboxRule's own parameters, then disables it if it was disabled (§G 7).
pub(super) async fn recreate(ms: &Microsoft<'_>, mailbox: &str, before: &Value) -> StepDone {
    let name = before["Name"].as_str().unwrap_or_default().to_string();
    let request = format!(
        "InvokeCommand New-InboxRule Mailbox={mailbox} Name={name} (from the recorded definition)"
    );
    if name.trim().is_empty() {
        return StepDone::failed(
            request,
            None,
            "the recorded rule has no name; it cannot be re-created".into(),
        );
    }
    let mut parameters = match recreate_parameters(before) {
        Ok(p) => p,
        Err(unnamed) => {
            let shown: Vec<String> = unnamed.iter().map(|v| visible_text(v)).collect();
            let detail = format!(
                "the rule cannot be re-created: Exchange showed {} without an SMTP address (an internal recipient \
                 named only by its Exchange DN), and Rulewatch sends nothing it cannot name exactly. Re-create the \
                 rule by hand in Outlook or the Exchange admin center",
                shown.join(", ")
            );
            return StepDone::failed(request, None, detail);
        }
    };
    parameters.insert("Name".into(), name.clone().into());
    parameters.insert("Mailbox".into(), mailbox.into());
    let what = format!("re-creating inbox rule {name}");
    let created = match ms
        .cmdlet(mailbox, "New-InboxRule", Value::Object(parameters), &what)
        .await
    {
        Ok(rows) => rows,
        Err(r) => return StepDone::failed(request, None, r.message),
    };
    let identity = created
        .first()
        .and_then(|r| r["Identity"].as_str())
        .unwrap_or(&name)
        .to_string();
    let was_enabled = before["Enabled"].as_bool().unwrap_or(true);
    if !was_enabled {
        let what = format!("disabling the re-created inbox rule {identity}");
        if let Err(r) = ms
            .cmdlet(
                mailbox,
                "Disable-InboxRule",
                json!({"Identity": identity, "Confirm": false}),
                &what,
            )
            .await
        {
            let detail = format!(
                "the rule was re-created but is enabled, not disabled as it was: {}",
                r.message
            );
            return StepDone::failed(request, None, detail);
        }
    }
    let as_it_was = |now: &Option<Value>| {
        now.as_ref()
            .is_some_and(|r| r["Enabled"].as_bool().unwrap_or(true) == was_enabled)
    };
    match ms
        .read_back(|| rule_now(ms, mailbox, &identity), as_it_was)
        .await
    {
        Ok(now) if as_it_was(&now) => StepDone::new(
            Outcome::Done,
            request,
            None,
            now,
            "rule re-created as it was".into(),
        ),
        Ok(now) => StepDone::not_visible(request, None, now, None),
        Err(r) => StepDone::not_visible(request, None, None, Some(r.message)),
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
    match ms
        .read_back(|| forwarding(ms, mailbox), |now| now == to)
        .await
    {
        Ok(now) if &now == to => StepDone::new(
            Outcome::Done,
            request,
            before,
            Some(now.state()),
            now.words(),
        ),
        Ok(now) => StepDone::not_visible(request, before, Some(now.state()), None),
        Err(r) => StepDone::not_visible(request, before, None, Some(r.message)),
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
        return StepDone::already(request, before.state(), before.words());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A removed rule as Get-InboxRule showed it (§G 7).
    fn recorded() -> Value {
        serde_json::from_str(
            r#"{"Identity": "6e1c0b9a-3f0e-4c44-9d5e-1b2f3a4c5d6e\\18158125012442873857",
                "RuleIdentity": 18158125012442873857, "Name": "sync", "Enabled": false, "Priority": 2,
                "Description": "…", "MailboxOwnerId": "megan@contoso.com", "InError": false, "ErrorType": "None",
                "IsValid": true, "ObjectState": "Unchanged", "SupportedByTask": true,
                "ForwardTo": ["\"ceo@contoso.com\" [SMTP:x@evil.example]", "smtp:b@evil.example"],
                "RedirectTo": null, "DeleteMessage": false, "MarkAsRead": true, "MoveToFolder": "RSS Feeds",
                "SubjectContainsWords": ["invoice", ""], "BodyContainsWords": [], "From": ""}"#,
        )
        .unwrap()
    }

    #[test]
    fn only_new_inbox_rule_parameters_with_values_and_bare_addresses() {
        let p = recreate_parameters(&recorded()).unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"ForwardTo": ["x@evil.example", "b@evil.example"], "MarkAsRead": true, "MoveToFolder": "RSS Feeds",
                   "SubjectContainsWords": ["invoice"]})
        );
    }

    #[test]
    fn the_big_rule_identity_keeps_every_digit() {
        assert_eq!(
            recorded()["RuleIdentity"].to_string(),
            "18158125012442873857"
        );
        assert_eq!(
            recorded()["RuleIdentity"].as_u64(),
            Some(18158125012442873857)
        );
    }

    #[test]
    fn recipients_without_an_smtp_address_are_named_not_sent() {
        let mut rule = recorded();
        rule["RedirectTo"] = json!([
            "\"Megan Bowen\" [EX:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=ab-megan]"
        ]);
        let unnamed = recreate_parameters(&rule).unwrap_err();
        assert_eq!(unnamed.len(), 1);
        assert!(unnamed[0].contains("[EX:"), "{unnamed:?}");
        for junk in [
            "Megan Bowen",
            "\"a@b.com\" [SMTP:]",
            "x@y.org;z@evil.example",
            "[SMTP:a@b.com] extra",
        ] {
            assert!(smtp_recipient(junk).is_err(), "{junk}");
        }
        assert_eq!(
            smtp_recipient("\"x@evil.example\" [SMTP:x@evil.example]"),
            Ok("x@evil.example".into())
        );
        assert_eq!(
            smtp_recipient("SMTP:Bob@Fabrikam.com"),
            Ok("Bob@Fabrikam.com".into())
        );
    }
}
