//! Delivery to the channels a technician adds: today webhooks. Each channel takes its own
//! queue (store `deliveries`), oldest alert first, one POST per alert about its incident,
//! at least once: an alert is marked delivered only after the receiver answered 2xx, and
//! every retry of it carries the same idempotency key (`X-Rulewatch-Delivery`), so a
//! receiver can drop what it already has. A failure stops that channel for this pass
//! (a receiver that is down is not hammered) and the alert is tried again after a backoff
//! that doubles, from 30 seconds up to an hour.

mod chat;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use chat::Chat;

use crate::cloud::is_loopback;
use crate::detect::Severity;
use crate::secrets::{SecretError, SecretKind, SecretStore};
use crate::store::{Alert, ChannelRow, Incident, MonitoringEvent, Queued, Store, StoreError};

/// The webhook payload's schema name; a receiver dispatches on it.
pub const SCHEMA: &str = "rulewatch.incident/v1";

/// How long one POST may take before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The longest `Retry-After` on a 429 that a pass waits out before trying again.
const MAX_RATE_WAIT: Duration = Duration::from_secs(10);

/// How many 429s in a row one delivery waits out before it counts as failed.
const RATE_RETRIES: u32 = 3;

/// A receiver's answer is read only to quote it in an error.
const QUOTED: usize = 200;

/// Which incidents a channel receives; by default every one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Only incidents at least this grave; `None`: every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Only these tenants (ids, any case); empty: every tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<String>,
    /// Never these tenants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_tenants: Vec<String>,
}

impl Route {
    /// Whether the channel receives `incident` as it stands now (its gravest severity).
    pub fn takes(&self, incident: &Incident) -> bool {
        self.min_severity.is_none_or(|min| incident.severity >= min)
            && self.takes_tenant(&incident.tenant_id)
    }

    /// Whether the channel receives news of tenant `tenant_id` (its monitoring breaking
    /// or recovering, whatever the minimum severity).
    pub fn takes_tenant(&self, tenant_id: &str) -> bool {
        let listed = |ids: &[String]| ids.iter().any(|t| t.eq_ignore_ascii_case(tenant_id));
        (self.tenants.is_empty() || listed(&self.tenants)) && !listed(&self.exclude_tenants)
    }
}

/// Why a webhook cannot be added.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The URL is not one Rulewatch sends alerts to.
    #[error("{0}")]
    Invalid(String),
    /// The local database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The keychain.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The receiver did not take a test delivery.
    #[error("{0}")]
    Unreachable(String),
}

/// Checks a webhook's URL: `https://`, or `http://` only on this machine (a receiver
/// there is not reached over a network anyone else can read).
pub fn check_url(url: &str) -> Result<url::Url, ChannelError> {
    let parsed = url::Url::parse(url).map_err(|e| {
        ChannelError::Invalid(format!(
            "'{}' is not a URL ({e}); give the receiver's https:// address",
            crate::shown::short(url)
        ))
    })?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(ChannelError::Invalid(format!(
            "the webhook URL {} is plain http:// to another machine, so alerts and their signature would \
             travel unencrypted: use https://, or http:// only on this machine (127.0.0.1, [::1] or localhost)",
            crate::cloud::origin(url)
        ))),
        other => Err(ChannelError::Invalid(format!(
            "the webhook URL has the scheme '{other}'; give an https:// address"
        ))),
    }
}

/// Adds a webhook channel: its URL in the store, its secret in the keychain. A name
/// already taken is refused before the secret is stored.
pub fn add_webhook(
    store: &Store,
    secrets: &dyn SecretStore,
    name: &str,
    url: &str,
    secret: &SecretString,
    route: &Route,
) -> Result<(), ChannelError> {
    let name = checked_name(name)?;
    let url = check_url(url)?;
    if secret.expose_secret().trim().len() < 16 {
        return Err(ChannelError::Invalid(
            "the webhook secret is shorter than 16 characters; give the receiver's shared secret"
                .into(),
        ));
    }
    if store.channels()?.iter().any(|c| c.name == name) {
        return Err(StoreError::ChannelExists(name.to_string()).into());
    }
    secrets.set(
        name,
        SecretKind::ChannelSecret,
        secret.expose_secret().trim().as_bytes(),
    )?;
    let config = serde_json::json!({"url": url.as_str(), "route": route});
    if let Err(e) = store.add_channel(name, "webhook", &config) {
        // Nothing half-added stays behind: the secret leaves with the refusal.
        let _ = secrets.delete(name, SecretKind::ChannelSecret);
        return Err(e.into());
    }
    Ok(())
}

/// Adds a Teams or Slack channel. Their webhook URL is the credential itself, so it goes
/// to the keychain; the store keeps only its origin, for display.
pub fn add_chat(
    store: &Store,
    secrets: &dyn SecretStore,
    chat: Chat,
    name: &str,
    url: &SecretString,
    route: &Route,
) -> Result<(), ChannelError> {
    let name = checked_name(name)?;
    let url = check_url(url.expose_secret().trim())?;
    if store.channels()?.iter().any(|c| c.name == name) {
        return Err(StoreError::ChannelExists(name.to_string()).into());
    }
    secrets.set(name, SecretKind::ChannelSecret, url.as_str().as_bytes())?;
    let config = serde_json::json!({"origin": url.origin().ascii_serialization(), "route": route});
    if let Err(e) = store.add_channel(name, chat.kind(), &config) {
        let _ = secrets.delete(name, SecretKind::ChannelSecret);
        return Err(e.into());
    }
    Ok(())
}

fn checked_name(name: &str) -> Result<&str, ChannelError> {
    let name = name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ChannelError::Invalid(
            "a channel's name is 1 to 64 letters, digits, '-' or '_', such as psa-bridge".into(),
        ));
    }
    Ok(name)
}

/// Removes a channel the technician added, its queue and its secret.
pub fn remove(store: &Store, secrets: &dyn SecretStore, name: &str) -> Result<(), ChannelError> {
    store.remove_channel(name)?;
    secrets.delete(name, SecretKind::ChannelSecret)?;
    Ok(())
}

/// Sends channel `name` a signed test delivery (`"event": "channel.test"`), so a
/// technician sees the receiver and the shared secret work before an alert depends on it.
pub async fn test(
    store: &Store,
    secrets: Arc<dyn SecretStore>,
    name: &str,
) -> Result<(), ChannelError> {
    let channel = store
        .channels()?
        .into_iter()
        .find(|c| c.name == name && !c.built_in())
        .ok_or_else(|| StoreError::NoChannel(name.to_string()))?;
    let target = target(&channel, secrets)
        .await
        .map_err(ChannelError::Unreachable)?;
    let client = client()
        .map_err(|e| ChannelError::Unreachable(format!("the HTTP client cannot start ({e})")))?;
    let delivery = format!("test:{}", uuid::Uuid::new_v4());
    let sent = match &target {
        Target::Webhook { url, secret } => {
            let body = serde_json::to_vec(&serde_json::json!({
                "schema": SCHEMA,
                "event": "channel.test",
                "channel": name,
                "sent_at": Utc::now(),
            }))
            .expect("plain data, always serialisable");
            let signed = signature(secret, &body);
            send(&client, url, Some(signed), delivery, body).await
        }
        Target::Chat { chat, url } => {
            let body = serde_json::to_vec(&chat::test_message(*chat))
                .expect("plain data, always serialisable");
            send(&client, url, None, delivery, body).await
        }
    };
    sent.map_err(ChannelError::Unreachable)
}

/// The client every delivery goes through: bounded in time, and never redirected (a
/// receiver's redirect would carry the signed body somewhere unchecked).
fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Rulewatch/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// What a webhook receives for one alert.
#[derive(Debug, Serialize)]
struct Payload<'a> {
    schema: &'static str,
    /// `incident.opened` for an incident's first alert, `incident.updated` after.
    event: &'static str,
    incident: IncidentView<'a>,
}

#[derive(Debug, Serialize)]
struct IncidentView<'a> {
    key: &'a str,
    tenant_id: &'a str,
    tenant_name: &'a str,
    mailbox: &'a str,
    severity: &'static str,
    title: &'a str,
    alerts: Vec<AlertView<'a>>,
}

#[derive(Debug, Serialize)]
struct AlertView<'a> {
    id: i64,
    rule: &'a str,
    severity: &'static str,
    record_id: &'a str,
    target: &'a str,
    actor: &'a str,
    client_ip: Option<&'a str>,
    summary: &'a str,
    event_time: Option<DateTime<Utc>>,
}

/// The JSON body for `alert`, part of `incident` (the incident as it stands now).
fn payload(alert: &Alert, incident: &Incident) -> Vec<u8> {
    let first = incident.alerts.iter().map(|a| a.id).min();
    let body = Payload {
        schema: SCHEMA,
        event: if first == Some(alert.id) {
            "incident.opened"
        } else {
            "incident.updated"
        },
        incident: IncidentView {
            key: &incident.key,
            tenant_id: &incident.tenant_id,
            tenant_name: &incident.tenant_name,
            mailbox: &incident.subject,
            severity: incident.severity.as_str(),
            title: &incident.title,
            alerts: incident
                .alerts
                .iter()
                .map(|a| AlertView {
                    id: a.id,
                    rule: &a.rule,
                    severity: a.severity.as_str(),
                    record_id: &a.record_id,
                    target: &a.target,
                    actor: &a.actor,
                    client_ip: a.client_ip.as_deref(),
                    summary: &a.summary,
                    event_time: a.event_time,
                })
                .collect(),
        },
    };
    serde_json::to_vec(&body).expect("the payload is plain data, always serialisable")
}

/// `sha256=<hex>` of HMAC-SHA256 over the raw body, as GitHub's and Slack's webhooks sign.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    // Hex by hand: 32 bytes do not need a crate.
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The wait before the `attempt`-th retry: 30 s doubling, at most an hour.
fn backoff(attempt: u32) -> chrono::Duration {
    let secs = 30u64.saturating_mul(1 << attempt.min(7)).min(3600);
    chrono::Duration::seconds(secs as i64)
}

/// How one channel's pass went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    /// The channel.
    pub channel: String,
    /// Alerts it received in this pass.
    pub delivered: usize,
    /// Why the pass stopped early, when it did; the rest wait for the next pass.
    pub error: Option<String>,
}

/// Delivers what waits for every channel the technician added. `now` chooses what is
/// due (`None`: everything waiting, whatever its backoff, as a technician's retry asks).
pub async fn deliver_all(
    store: &Store,
    secrets: Arc<dyn SecretStore>,
    now: Option<DateTime<Utc>>,
) -> Result<Vec<Pass>, StoreError> {
    let mut passes = Vec::new();
    let added: Vec<ChannelRow> = store
        .channels()?
        .into_iter()
        .filter(|c| !c.built_in())
        .collect();
    if added.is_empty() {
        // Most installations have none: no HTTP client (and its TLS roots) per scan.
        return Ok(passes);
    }
    let client = client();
    for channel in added {
        let pass = match &client {
            Ok(client) => channel_pass(store, secrets.clone(), client, &channel, now).await?,
            Err(e) => Pass {
                channel: channel.name.clone(),
                delivered: 0,
                error: Some(format!("the HTTP client cannot start ({e})")),
            },
        };
        passes.push(pass);
    }
    Ok(passes)
}

async fn channel_pass(
    store: &Store,
    secrets: Arc<dyn SecretStore>,
    client: &reqwest::Client,
    channel: &ChannelRow,
    now: Option<DateTime<Utc>>,
) -> Result<Pass, StoreError> {
    let mut pass = Pass {
        channel: channel.name.clone(),
        delivered: 0,
        error: None,
    };
    let queued = store.queued_deliveries(&channel.name)?;
    let events = store.queued_events(&channel.name)?;
    if queued.is_empty() && events.is_empty() {
        return Ok(pass);
    }
    let target = target(channel, secrets).await;
    let route: Route = channel
        .config
        .as_ref()
        .and_then(|c| serde_json::from_value(c["route"].clone()).ok())
        .unwrap_or_default();
    for Queued {
        alert,
        attempts,
        retry_at,
    } in queued
    {
        // In order or not at all: an incident's update never overtakes its opening, so
        // the whole channel waits while its oldest alert waits for its retry.
        if waiting(now, retry_at) {
            return Ok(pass);
        }
        let incident = match alert.incident_id {
            Some(id) => Some(store.incident(id)?),
            None => None,
        };
        if let Some(incident) = &incident
            && !route.takes(incident)
        {
            // Not this channel's: done with, unsent.
            store.mark_delivered(&channel.name, &[alert.id])?;
            continue;
        }
        let sent = match (&target, &incident) {
            (Ok(target), Some(incident)) => post(client, target, &alert, incident).await,
            (Err(e), _) => Err(e.clone()),
            (_, None) => Err(format!("alert {} belongs to no incident", alert.id)),
        };
        match sent {
            Ok(()) => {
                store.mark_delivered(&channel.name, &[alert.id])?;
                pass.delivered += 1;
            }
            Err(error) => {
                let retry_at = Utc::now() + backoff(attempts);
                store.delivery_failed(&channel.name, &[alert.id], &error, Some(retry_at))?;
                pass.error = Some(error);
                return Ok(pass);
            }
        }
    }
    // Then monitoring's news, in order too: a recovery never overtakes its breaking.
    for event in events {
        if waiting(now, event.retry_at) {
            break;
        }
        if !route.takes_tenant(&event.tenant_id) {
            store.event_delivery(&channel.name, event.id, None)?;
            continue;
        }
        let sent = match &target {
            Ok(target) => post_event(client, target, &event).await,
            Err(e) => Err(e.clone()),
        };
        match sent {
            Ok(()) => {
                store.event_delivery(&channel.name, event.id, None)?;
                pass.delivered += 1;
            }
            Err(error) => {
                let retry_at = Utc::now() + backoff(event.attempts);
                store.event_delivery(&channel.name, event.id, Some((&error, retry_at)))?;
                pass.error = Some(error);
                break;
            }
        }
    }
    Ok(pass)
}

/// Whether an item's retry time is still ahead (`now` is `None` on a technician's retry).
fn waiting(now: Option<DateTime<Utc>>, retry_at: Option<DateTime<Utc>>) -> bool {
    matches!((now, retry_at), (Some(now), Some(at)) if at > now)
}

/// One POST of a monitoring event; the idempotency key is the event's.
async fn post_event(
    client: &reqwest::Client,
    target: &Target,
    event: &MonitoringEvent,
) -> Result<(), String> {
    let delivery = format!("tenant-event:{}:{}", event.tenant_id, event.id);
    match target {
        Target::Webhook { url, secret } => {
            let body = serde_json::to_vec(&serde_json::json!({
                "schema": SCHEMA,
                "event": event.event,
                "tenant": {
                    "tenant_id": event.tenant_id,
                    "tenant_name": event.tenant_name,
                    "problem": event.problem,
                    "message": event.message,
                    "at": event.at,
                },
            }))
            .expect("plain data, always serialisable");
            let signed = signature(secret, &body);
            send(client, url, Some(signed), delivery, body).await
        }
        Target::Chat { chat, url } => {
            let body = serde_json::to_vec(&chat::event_message(*chat, event))
                .expect("plain data, always serialisable");
            send(client, url, None, delivery, body).await
        }
    }
}

/// Where `channel`'s deliveries go, read from the store and the keychain; `Err` says why
/// nothing can be sent to it.
async fn target(channel: &ChannelRow, secrets: Arc<dyn SecretStore>) -> Result<Target, String> {
    // The keychain is reached over D-Bus or the platform's API: a blocking call.
    let name = channel.name.clone();
    let secret = tokio::task::spawn_blocking(move || secrets.get(&name, SecretKind::ChannelSecret))
        .await
        .unwrap_or_else(|e| {
            Err(SecretError::Failed {
                detail: e.to_string(),
            })
        })
        .map_err(|e| e.to_string())?;
    match channel.kind.as_str() {
        "webhook" => channel
            .config
            .as_ref()
            .and_then(|c| c["url"].as_str())
            .map(|url| Target::Webhook {
                url: url.to_string(),
                secret: secret.expose_secret().to_vec(),
            })
            .ok_or_else(|| "the channel has no URL; remove it and add it again".to_string()),
        kind => match Chat::of_kind(kind) {
            Some(chat) => String::from_utf8(secret.expose_secret().to_vec())
                .map(|url| Target::Chat { chat, url })
                .map_err(|_| {
                    "the channel's stored URL is not text; remove it and add it again".to_string()
                }),
            None => Err(format!(
                "this version cannot deliver to a channel of kind '{kind}'"
            )),
        },
    }
}

/// Where a channel's deliveries go, and how they are made.
enum Target {
    /// Rulewatch's own schema, signed with the shared secret.
    Webhook { url: String, secret: Vec<u8> },
    /// A Teams or Slack message; the URL is the credential.
    Chat { chat: Chat, url: String },
}

/// One POST of `alert`'s incident; `Err` says why it did not arrive, in words that hold
/// no secret (the URL is shown as its origin only: its path may be a token).
async fn post(
    client: &reqwest::Client,
    target: &Target,
    alert: &Alert,
    incident: &Incident,
) -> Result<(), String> {
    let delivery = format!("{}:{}", incident.key, alert.id);
    match target {
        Target::Webhook { url, secret } => {
            let body = payload(alert, incident);
            let signed = signature(secret, &body);
            send(client, url, Some(signed), delivery, body).await
        }
        Target::Chat { chat, url } => {
            let opened = incident.alerts.iter().map(|a| a.id).min() == Some(alert.id);
            let body = serde_json::to_vec(&chat::message(*chat, alert, incident, opened))
                .expect("a message is plain data, always serialisable");
            send(client, url, None, delivery, body).await
        }
    }
}

/// One POST of `body`, signed when a signature is given; `Err` says why it did not arrive.
async fn send(
    client: &reqwest::Client,
    url: &str,
    signed: Option<String>,
    delivery: String,
    body: Vec<u8>,
) -> Result<(), String> {
    let origin = crate::cloud::origin(url);
    let mut throttled = 0;
    let response = loop {
        let mut request = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-rulewatch-delivery", &delivery);
        if let Some(signed) = &signed {
            request = request.header("x-rulewatch-signature", signed);
        }
        let response = request.body(body.clone()).send().await.map_err(|e| {
            let e = e.without_url();
            let why = if e.is_timeout() {
                format!("no answer within {} s", TIMEOUT.as_secs())
            } else {
                e.to_string()
            };
            format!("the webhook at {origin} could not be reached ({why})")
        })?;
        // A receiver's rate limit (Slack posts one message a second) is waited out in
        // this pass when it names a short wait; a long or unnamed one is a failure that
        // the channel's backoff handles.
        let wait = crate::http::retry_after(response.headers()).filter(|w| *w <= MAX_RATE_WAIT);
        match wait {
            Some(wait) if response.status().as_u16() == 429 && throttled < RATE_RETRIES => {
                throttled += 1;
                tokio::time::sleep(wait).await;
            }
            _ => break response,
        }
    };
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let said = response.text().await.unwrap_or_default();
    let said: String = said.chars().take(QUOTED).collect();
    Err(format!(
        "the webhook at {origin} answered HTTP {}{}",
        status.as_u16(),
        if said.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", crate::shown::short(said.trim()))
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_the_raw_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn plain_http_is_for_this_machine_only() {
        assert!(check_url("https://hooks.example.com/x").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("http://localhost/x").is_ok());
        let e = check_url("http://hooks.example.com/T0KEN")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unencrypted") && !e.contains("T0KEN"), "{e}");
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn retries_back_off_from_half_a_minute_to_an_hour() {
        let waits: Vec<i64> = (0..10).map(|a| backoff(a).num_seconds()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    }
}
