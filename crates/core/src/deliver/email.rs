//! E-mail: a message per incident change, or one daily digest, over SMTP with STARTTLS
//! (RFC 3207) or implicit TLS (RFC 8314), authenticated when the relay asks. Every
//! message has a plain-text and an HTML part (`multipart/alternative`), each field an
//! attacker wrote made plain text, and the HTML escaped. Messages about one incident
//! thread in the recipient's mail client: the first is the incident's root Message-ID,
//! later ones answer it (`In-Reply-To`, `References`, RFC 5322 3.6.4).

use std::time::Duration;

use chrono::{DateTime, Local, NaiveTime, TimeZone, Utc};
use lettre::message::{Mailbox, MultiPart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::ChannelError;
use crate::report::escape;
use crate::shown::shown;
use crate::store::{Alert, Incident, MonitoringEvent};

/// How long connecting, each SMTP command and the whole message may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain at first, upgraded with STARTTLS before anything is sent; a relay that
    /// does not offer it is refused (no downgrade). Port 587 by default.
    Starttls,
    /// TLS from the first byte (SMTPS). Port 465 by default.
    Tls,
    /// No encryption: only to a relay on this machine.
    None,
}

impl Security {
    /// The port a relay of this kind listens on by default.
    pub fn default_port(self) -> u16 {
        match self {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        }
    }

    /// By name, as the CLI and the panel give it.
    pub fn parse(s: &str) -> Option<Security> {
        match s.to_ascii_lowercase().as_str() {
            "starttls" => Some(Security::Starttls),
            "tls" => Some(Security::Tls),
            "none" => Some(Security::None),
            _ => None,
        }
    }
}

/// An e-mail channel's settings as stored (the password is in the keychain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailConfig {
    /// The SMTP relay's host name or address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// How the connection is protected.
    pub security: Security,
    /// The relay's user name; `None`: the relay takes mail without signing in.
    pub username: Option<String>,
    /// The sender address.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// The local time of day a daily digest is sent; `None`: a message per change.
    pub digest_at: Option<NaiveTime>,
    /// A certificate authority (PEM) trusted for this relay besides the system's, for
    /// an internal relay whose certificate an in-house CA signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

impl EmailConfig {
    /// Checks what a technician gave: addresses that parse, encryption unless the relay
    /// is on this machine, a CA that is a certificate.
    pub fn check(&self) -> Result<(), ChannelError> {
        let invalid = |m: String| Err(ChannelError::Invalid(m));
        let host = self.host.trim();
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
            return invalid(format!(
                "'{}' is not an SMTP relay's host name; give one such as smtp.example.com",
                shown(host)
            ));
        }
        if self.security == Security::None && !is_loopback_host(host) {
            return invalid(format!(
                "mail to {} without encryption would carry alerts and the password readable on the network: \
                 use --security starttls or tls, or none only for a relay on this machine (127.0.0.1, [::1] or localhost)",
                shown(host)
            ));
        }
        mailbox(&self.from, "sender")?;
        if self.to.is_empty() {
            return invalid("give at least one recipient (--to, repeat for several)".into());
        }
        for to in &self.to {
            mailbox(to, "recipient")?;
        }
        if let Some(pem) = &self.ca_pem {
            Certificate::from_pem(pem.as_bytes()).map_err(|e| {
                ChannelError::Invalid(format!(
                    "the CA file is not a PEM certificate ({e}); give the certificate (-----BEGIN CERTIFICATE-----) of the CA that signed the relay's"
                ))
            })?;
        }
        Ok(())
    }

    /// The domain Message-IDs are made in: the sender's, so they are unique to it.
    fn domain(&self) -> &str {
        self.from
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>'))
            .unwrap_or("rulewatch.invalid")
    }
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn mailbox(address: &str, role: &str) -> Result<Mailbox, ChannelError> {
    address.trim().parse::<Mailbox>().map_err(|e| {
        ChannelError::Invalid(format!(
            "the {role} '{}' is not an e-mail address ({e}); give one such as alerts@example.com",
            shown(address)
        ))
    })
}

/// A channel's SMTP relay, signed in on first use; the connection is kept for the rest of
/// a delivery pass (lettre's pool), so a burst of alerts pays for TLS and AUTH once.
pub(super) struct Relay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// `host:port`, as errors name it.
    name: String,
}

impl Relay {
    /// The relay of `config`, with its password when it signs in; `Err` says why TLS
    /// cannot be set up. Nothing is sent yet.
    pub(super) fn open(
        config: &EmailConfig,
        password: Option<&SecretString>,
    ) -> Result<Relay, String> {
        let name = format!("{}:{}", shown(&config.host), config.port);
        let tls = || -> Result<TlsParameters, String> {
            let mut params = TlsParameters::builder(config.host.clone());
            if let Some(pem) = &config.ca_pem {
                let ca = Certificate::from_pem(pem.as_bytes())
                    .map_err(|e| format!("the channel's CA certificate cannot be read ({e})"))?;
                params = params.add_root_certificate(ca);
            }
            params
                .build_rustls()
                .map_err(|e| format!("TLS for {name} cannot be set up ({e})"))
        };
        let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .timeout(Some(TIMEOUT))
            .tls(match config.security {
                Security::Starttls => Tls::Required(tls()?),
                Security::Tls => Tls::Wrapper(tls()?),
                Security::None => Tls::None,
            });
        if let (Some(user), Some(password)) = (&config.username, password) {
            transport = transport.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_string(),
            ));
        }
        Ok(Relay {
            transport: transport.build(),
            name,
        })
    }

    /// Sends `message`; `Err` says why it did not go, naming the relay and never the
    /// password.
    pub(super) async fn send(&self, message: Message) -> Result<(), String> {
        let relay = &self.name;
        match tokio::time::timeout(TIMEOUT * 2, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!(
                "the mail relay {relay} did not take the message ({e})"
            )),
            Err(_) => Err(format!(
                "the mail relay {relay} did not answer within {} s",
                (TIMEOUT * 2).as_secs()
            )),
        }
    }
}

/// A message with both parts, from the channel's sender to its recipients.
fn compose(
    config: &EmailConfig,
    subject: &str,
    message_id: String,
    answers: Option<String>,
    text: String,
    html: String,
) -> Result<Message, String> {
    let mut builder = Message::builder()
        .from(
            config
                .from
                .parse()
                .map_err(|e| format!("the sender: {e}"))?,
        )
        .subject(subject)
        .message_id(Some(message_id))
        .header(header::Date::now());
    for to in &config.to {
        builder = builder.to(to.parse().map_err(|e| format!("the recipient: {e}"))?);
    }
    if let Some(root) = answers {
        builder = builder.in_reply_to(root.clone()).references(root);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| format!("the message cannot be built ({e})"))
}

/// The severity with a capital, as a subject line starts.
fn headline(severity: &str) -> String {
    let mut s = severity.to_string();
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}

/// The facts of one incident as label/value pairs, in plain text (shown, not raw).
fn facts(incident: &Incident) -> Vec<(&'static str, String)> {
    vec![
        (
            "Tenant",
            format!(
                "{} ({})",
                shown(&incident.tenant_name),
                shown(&incident.tenant_id)
            ),
        ),
        ("Mailbox", shown(&incident.subject)),
        ("Severity", incident.severity.as_str().to_string()),
        ("Incident", incident.key.clone()),
    ]
}

fn alert_line(a: &Alert) -> String {
    format!(
        "{}  {}  {} (changed by {} from {})",
        a.event_time
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "time unknown".into()),
        a.severity.as_str(),
        shown(&a.summary),
        shown(&a.actor),
        shown(a.client_ip.as_deref().unwrap_or("an unknown address")),
    )
}

/// The plain text and HTML of one incident: its facts, then its alerts in order.
fn incident_parts(incident: &Incident, lead: &str) -> (String, String) {
    let mut text = format!("{lead}\n\n");
    let mut html = format!("<p>{}</p><table>", escape(lead));
    for (label, value) in facts(incident) {
        text.push_str(&format!("{label}: {value}\n"));
        html.push_str(&format!(
            "<tr><th align=\"left\">{label}</th><td>{}</td></tr>",
            escape(&value)
        ));
    }
    html.push_str("</table><ol>");
    text.push_str("\nAlerts, oldest first:\n");
    for a in &incident.alerts {
        let line = alert_line(a);
        text.push_str(&format!(
            "- {line}\n  Open in Rulewatch: {}\n",
            open_link(a.id)
        ));
        html.push_str(&format!(
            "<li>{} <a href=\"{}\">Open in Rulewatch</a></li>",
            escape(&line),
            open_link(a.id)
        ));
    }
    html.push_str("</ol>");
    (text, html)
}

/// The plain text of one incident, after `lead`: what a PSA ticket or note says.
pub(super) fn plain_incident(incident: &Incident, lead: &str) -> String {
    incident_parts(incident, lead).0
}

/// The desktop app's link to one alert (it only opens the panel on it).
fn open_link(alert_id: i64) -> String {
    format!("rulewatch://alert/{alert_id}")
}

/// The root Message-ID of an incident's thread.
fn thread_root(config: &EmailConfig, incident: &Incident) -> String {
    format!("<rulewatch.{}@{}>", incident.key, config.domain())
}

/// The message for `alert`, a change of `incident`; `opened` when it is the first this
/// channel sends about it.
pub(super) fn alert_message(
    config: &EmailConfig,
    alert: &Alert,
    incident: &Incident,
    opened: bool,
) -> Result<Message, String> {
    let subject = format!(
        "[Rulewatch] {}: {} — {}",
        headline(incident.severity.as_str()),
        shown(&incident.title),
        shown(&incident.tenant_name)
    );
    let lead = if opened {
        format!("New incident: {}", shown(&alert.summary))
    } else {
        format!(
            "Incident updated, {} alerts now: {}",
            incident.alerts.len(),
            shown(&alert.summary)
        )
    };
    let (text, html) = incident_parts(incident, &lead);
    let root = thread_root(config, incident);
    let (id, answers) = if opened {
        (root, None)
    } else {
        (
            format!(
                "<rulewatch.{}.{}@{}>",
                incident.key,
                alert.id,
                config.domain()
            ),
            Some(root),
        )
    };
    compose(config, &subject, id, answers, text, page(&html))
}

/// The message that a technician resolved `incident`, answering its thread.
pub(super) fn resolved_message(
    config: &EmailConfig,
    incident: &Incident,
) -> Result<Message, String> {
    let subject = format!(
        "[Rulewatch] Resolved: {} — {}",
        shown(&incident.title),
        shown(&incident.tenant_name)
    );
    let lead = match incident.resolution_note.as_deref() {
        Some(note) if !note.trim().is_empty() => format!("Resolved: {}", shown(note)),
        _ => "Resolved.".to_string(),
    };
    let (text, html) = incident_parts(incident, &lead);
    let id = format!("<rulewatch.{}.resolved@{}>", incident.key, config.domain());
    compose(
        config,
        &subject,
        id,
        Some(thread_root(config, incident)),
        text,
        page(&html),
    )
}

/// The message that a tenant's monitoring broke or recovered.
pub(super) fn event_message(
    config: &EmailConfig,
    event: &MonitoringEvent,
) -> Result<Message, String> {
    let (subject, text) = event_words(event);
    let html = page(&format!("<p>{}</p>", escape(&text)));
    let id = format!(
        "<rulewatch.tenant-event.{}.{}@{}>",
        shown(&event.tenant_id),
        event.id,
        config.domain()
    );
    compose(config, &subject, id, None, text, html)
}

/// A monitoring event's subject line and sentence.
pub(super) fn event_words(event: &MonitoringEvent) -> (String, String) {
    if event.event == "tenant.broken" {
        (
            format!(
                "[Rulewatch] Monitoring broken: {}",
                shown(&event.tenant_name)
            ),
            format!(
                "Rulewatch cannot scan {} ({}): {}",
                shown(&event.tenant_name),
                shown(&event.tenant_id),
                shown(event.message.as_deref().unwrap_or("no reason given"))
            ),
        )
    } else {
        (
            format!(
                "[Rulewatch] Monitoring recovered: {}",
                shown(&event.tenant_name)
            ),
            format!(
                "Rulewatch scans {} ({}) again.",
                shown(&event.tenant_name),
                shown(&event.tenant_id)
            ),
        )
    }
}

/// What changed since the last digest.
pub(super) struct Changed<'a> {
    /// Incidents with new alerts, each as it stands now (resolved ones say so).
    pub incidents: &'a [Incident],
    /// Incidents told of in an earlier digest and resolved since.
    pub resolved: &'a [Incident],
    /// Monitoring's news.
    pub events: &'a [MonitoringEvent],
}

/// One day's digest: every incident that changed, with its alerts, those resolved, and
/// monitoring's news. `day` names it; retries of one digest keep its Message-ID.
pub(super) fn digest_message(
    config: &EmailConfig,
    channel: &str,
    day: &str,
    changed: &Changed<'_>,
) -> Result<Message, String> {
    let Changed {
        incidents,
        resolved,
        events,
    } = changed;
    let subject = format!(
        "[Rulewatch] Digest {day}: {} incident{}{}{}",
        incidents.len(),
        if incidents.len() == 1 { "" } else { "s" },
        if resolved.is_empty() {
            String::new()
        } else {
            format!(", {} resolved", resolved.len())
        },
        if events.is_empty() {
            String::new()
        } else {
            format!(", {} monitoring change(s)", events.len())
        }
    );
    let mut text = String::new();
    let mut html = String::new();
    for incident in incidents.iter() {
        let mut lead = format!(
            "{}: {} — {}",
            headline(incident.severity.as_str()),
            shown(&incident.title),
            shown(&incident.tenant_name)
        );
        if incident.resolved_at.is_some() {
            lead.push_str(&format!(" (resolved{})", resolution(incident)));
        }
        let (t, h) = incident_parts(incident, &lead);
        text.push_str(&t);
        text.push('\n');
        html.push_str(&format!("<h2>{}</h2>{h}", escape(&lead)));
    }
    if !resolved.is_empty() {
        text.push_str("Resolved:\n");
        html.push_str("<h2>Resolved</h2><ul>");
        for incident in resolved.iter() {
            let line = format!(
                "{} — {} (incident {}){}",
                shown(&incident.title),
                shown(&incident.tenant_name),
                incident.key,
                resolution(incident)
            );
            text.push_str(&format!("- {line}\n"));
            html.push_str(&format!("<li>{}</li>", escape(&line)));
        }
        html.push_str("</ul>");
    }
    if !events.is_empty() {
        text.push_str("Monitoring:\n");
        html.push_str("<h2>Monitoring</h2><ul>");
        for e in events.iter() {
            let (_, words) = event_words(e);
            text.push_str(&format!("- {words}\n"));
            html.push_str(&format!("<li>{}</li>", escape(&words)));
        }
        html.push_str("</ul>");
    }
    let id = format!("<rulewatch.digest.{channel}.{day}@{}>", config.domain());
    compose(config, &subject, id, None, text, page(&html))
}

/// `: <note>` when the technician said why an incident was resolved.
fn resolution(incident: &Incident) -> String {
    match incident.resolution_note.as_deref() {
        Some(note) if !note.trim().is_empty() => format!(": {}", shown(note)),
        _ => String::new(),
    }
}

/// The message `rulewatch channel test` sends.
pub(super) fn test_message(config: &EmailConfig, id: &str) -> Result<Message, String> {
    let text = "Rulewatch test message: this address receives Rulewatch's incidents.".to_string();
    let html = page(&format!("<p>{}</p>", escape(&text)));
    compose(
        config,
        "[Rulewatch] Test message",
        format!("<rulewatch.test.{id}@{}>", config.domain()),
        None,
        text,
        html,
    )
}

fn page(body: &str) -> String {
    format!(
        "<!DOCTYPE html><html><body style=\"font-family:system-ui,sans-serif\">{body}</body></html>"
    )
}

/// The latest moment at or before `now` when the local clock read `at`: the digest
/// slot `now` falls in. A local time skipped by a clock change counts from the next
/// hour that exists.
pub(super) fn digest_slot(at: NaiveTime, now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&Local);
    let mut day = local.date_naive();
    loop {
        let candidate = Local
            .from_local_datetime(&day.and_time(at))
            .earliest()
            .or_else(|| {
                Local
                    .from_local_datetime(&(day.and_time(at) + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc));
        match candidate {
            Some(t) if t <= now => return t,
            _ => day = day.pred_opt().expect("far from the calendar's start"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EmailConfig {
        EmailConfig {
            host: "smtp.example.com".into(),
            port: 587,
            security: Security::Starttls,
            username: Some("alerts".into()),
            from: "Rulewatch <alerts@msp.example>".into(),
            to: vec!["soc@msp.example".into()],
            digest_at: None,
            ca_pem: None,
        }
    }

    #[test]
    fn plain_smtp_is_for_this_machine_only() {
        let mut c = config();
        assert!(c.check().is_ok());
        c.security = Security::None;
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("without encryption"), "{e}");
        c.host = "127.0.0.1".into();
        assert!(c.check().is_ok());
        c.host = "[::1]".into();
        assert!(c.check().is_ok());
    }

    #[test]
    fn addresses_that_do_not_parse_are_refused_by_role() {
        let mut c = config();
        c.to = vec!["soc@msp.example".into(), "not an address".into()];
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("recipient 'not an address'"), "{e}");
        c.to.clear();
        assert!(c.check().unwrap_err().to_string().contains("--to"));
    }

    #[test]
    fn the_panels_settings_read_as_sent() {
        let c: EmailConfig = serde_json::from_value(serde_json::json!({
            "host": "smtp.example.com", "port": 465, "security": "tls", "username": null,
            "from": "a@msp.example", "to": ["b@msp.example"], "digest_at": "07:30",
        }))
        .unwrap();
        assert_eq!(c.digest_at, NaiveTime::from_hms_opt(7, 30, 0));
        assert_eq!(c.security, Security::Tls);
    }

    #[test]
    fn message_ids_are_made_in_the_senders_domain() {
        assert_eq!(config().domain(), "msp.example");
    }

    #[test]
    fn the_digest_slot_is_the_last_time_the_clock_read_it() {
        let now = crate::clock::now();
        let at = now.with_timezone(&Local).time();
        let slot = digest_slot(at, now);
        assert!(slot <= now && now - slot < chrono::Duration::seconds(1));
        let later = digest_slot(at, now - chrono::Duration::seconds(5));
        let day = chrono::Duration::hours(24);
        assert!(
            slot - later >= day - chrono::Duration::hours(1),
            "{later} {slot}"
        );
    }
}
