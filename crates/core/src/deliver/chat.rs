//! Teams and Slack messages for an incident change. Both services take a message on a
//! URL that is itself the credential (kept in the keychain, never in the store), so
//! nothing is signed. Every field an attacker wrote is made plain text for the service.
//!
//! - Teams: a Workflows "When a Teams webhook request is received" flow takes
//!   `{"type": "message", "attachments": [{"contentType":
//!   "application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard>}]}` and posts
//!   the card (Microsoft Learn, "Create incoming webhooks with Workflows for Microsoft
//!   Teams"; Office 365 connectors are retired).
//! - Slack: an incoming webhook takes `{"text": …, "blocks": […]}`, `text` being the
//!   notification's fallback in Slack's mrkdwn, whose `&`, `<` and `>` must be escaped
//!   (api.slack.com/messaging/webhooks, "Escaping text"); `plain_text` blocks parse nothing.

use serde_json::{Value, json};

use crate::shown::shown;
use crate::store::{Alert, Incident, MonitoringEvent};

/// The chat services a channel can post to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chat {
    /// Microsoft Teams, through a Workflows webhook.
    Teams,
    /// Slack, through an incoming webhook.
    Slack,
}

impl Chat {
    /// The channel kind stored for it.
    pub fn kind(self) -> &'static str {
        match self {
            Chat::Teams => "teams",
            Chat::Slack => "slack",
        }
    }

    /// The chat service of a stored channel kind.
    pub fn of_kind(kind: &str) -> Option<Chat> {
        [Chat::Teams, Chat::Slack]
            .into_iter()
            .find(|c| c.kind() == kind)
    }
}

/// The lines every message says, as plain text (control characters and bidi overrides
/// shown, not sent).
fn lines(alert: &Alert, incident: &Incident, opened: bool) -> (String, Vec<String>) {
    let severity = incident.severity.as_str();
    let mut head = severity.to_string();
    if let Some(first) = head.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    let title = format!(
        "{head}: {} — {}",
        shown(&incident.title),
        shown(&incident.tenant_name)
    );
    let mut body = vec![
        if opened {
            "New incident".to_string()
        } else {
            format!("Incident updated: {} alerts now", incident.alerts.len())
        },
        shown(&alert.summary),
        format!(
            "Changed by {} from {}",
            shown(&alert.actor),
            shown(alert.client_ip.as_deref().unwrap_or("an unknown address"))
        ),
    ];
    body.push(format!("Incident {}", incident.key));
    // The desktop app's link to the alert, as text. Guess, marked as such: neither
    // service documents whether a card's or a block's link may use a custom scheme
    // (Action.OpenUrl and Slack's button url show only https:// examples), so the link is
    // a line a technician can open, not a button a service might refuse.
    body.push(format!("Open in Rulewatch: rulewatch://alert/{}", alert.id));
    (title, body)
}

/// Markdown's special characters, backslash-escaped so Teams shows them as written.
/// A guess, marked as such: Adaptive Cards' TextBlock renders a Markdown subset (bold,
/// italic, lists, links) and Microsoft does not document its escapes; CommonMark's
/// backslash escapes are assumed to hold.
fn teams_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*'
                | '_'
                | '['
                | ']'
                | '('
                | ')'
                | '~'
                | '#'
                | '`'
                | '>'
                | '<'
                | '-'
                | '+'
                | '!'
                | '|'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Slack's mrkdwn escapes: `&`, `<` and `>` (its control sequences start with `<`).
fn slack_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The message for `alert`, a change of `incident`, on `chat`.
pub(super) fn message(chat: Chat, alert: &Alert, incident: &Incident, opened: bool) -> Value {
    let (title, body) = lines(alert, incident, opened);
    match chat {
        Chat::Teams => {
            let mut blocks = vec![json!({
                "type": "TextBlock", "text": teams_text(&title), "weight": "Bolder",
                "size": "Medium", "wrap": true,
            })];
            blocks.extend(
                body.iter()
                    .map(|l| json!({"type": "TextBlock", "text": teams_text(l), "wrap": true})),
            );
            teams_card(blocks)
        }
        Chat::Slack => {
            // Slack cuts a header at 150 characters and a text object at 3,000.
            let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
            let mut blocks = vec![json!({
                "type": "header", "text": {"type": "plain_text", "text": cut(&title, 150)},
            })];
            blocks.extend(body.iter().map(|l| {
                json!({"type": "section", "text": {"type": "plain_text", "text": cut(l, 3000)}})
            }));
            json!({"text": slack_text(&title), "blocks": blocks})
        }
    }
}

/// A Workflows message carrying one Adaptive Card of these body elements.
fn teams_card(body: Vec<Value>) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            },
        }],
    })
}

/// The message that a tenant's monitoring broke or recovered.
pub(super) fn event_message(chat: Chat, event: &MonitoringEvent) -> Value {
    let broken = event.event == "tenant.broken";
    let title = format!(
        "Monitoring {}: {}",
        if broken { "broken" } else { "recovered" },
        shown(&event.tenant_name)
    );
    let body = if broken {
        format!(
            "Rulewatch cannot scan this tenant: {}",
            shown(event.message.as_deref().unwrap_or("no reason given"))
        )
    } else {
        "Rulewatch scans this tenant again.".to_string()
    };
    headed(chat, &title, &body)
}

/// A message of a bold title and one line, in `chat`'s shape.
fn headed(chat: Chat, title: &str, body: &str) -> Value {
    match chat {
        Chat::Teams => teams_card(vec![
            json!({"type": "TextBlock", "text": teams_text(title), "weight": "Bolder", "wrap": true}),
            json!({"type": "TextBlock", "text": teams_text(body), "wrap": true}),
        ]),
        Chat::Slack => json!({
            "text": slack_text(title),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": title.chars().take(150).collect::<String>()}},
                {"type": "section", "text": {"type": "plain_text", "text": body.chars().take(3000).collect::<String>()}},
            ],
        }),
    }
}

/// The message that a technician resolved `incident`.
pub(super) fn resolved_message(chat: Chat, incident: &Incident) -> Value {
    let title = format!(
        "Resolved: {} — {}",
        shown(&incident.title),
        shown(&incident.tenant_name)
    );
    let body = match incident.resolution_note.as_deref() {
        Some(note) if !note.trim().is_empty() => {
            format!("Incident {} resolved: {}", incident.key, shown(note))
        }
        _ => format!("Incident {} resolved.", incident.key),
    };
    headed(chat, &title, &body)
}

/// A message saying the channel works, sent by `rulewatch channel test`.
pub(super) fn test_message(chat: Chat) -> Value {
    let text = "Rulewatch test message: this channel receives Rulewatch's incidents.";
    match chat {
        Chat::Teams => teams_card(vec![
            json!({"type": "TextBlock", "text": text, "wrap": true}),
        ]),
        Chat::Slack => json!({
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "plain_text", "text": text}}],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attacker_text_is_plain_for_each_service() {
        assert_eq!(
            teams_text("[click](http://evil.example) *now*"),
            "\\[click\\]\\(http://evil.example\\) \\*now\\*"
        );
        assert_eq!(
            slack_text("<!channel> & <http://evil.example|bank>"),
            "&lt;!channel&gt; &amp; &lt;http://evil.example|bank&gt;"
        );
    }
}
