//! Delivery to the channels a technician adds: webhooks, Teams, Slack and e-mail. Each
//! channel takes its own queue (store `deliveries`), oldest alert first, one message per
//! alert about its incident (or, for an e-mail digest, one a day), at least once: an
//! alert is marked delivered only after the receiver took it, and every retry of it
//! carries the same idempotency key (`X-Rulewatch-Delivery`, an e-mail's Message-ID), so
//! a receiver can drop what it already has. A failure stops that channel for this pass
//! (a receiver that is down is not hammered) and the alert is tried again after a backoff
//! that doubles, from 30 seconds up to an hour.

mod chat;
mod email;
mod psa;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Local, NaiveTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use chat::Chat;
pub use email::{EmailConfig, Security};
pub use psa::{
    Account as PsaAccount, Company, CompanyMatch, PsaConfig, Vendor, add as add_psa,
    companies as psa_companies, map_companies,
};

use crate::cloud::is_loopback;
use crate::detect::Severity;
use crate::secrets::{SecretError, SecretKind, SecretStore};
use crate::store::{
    Alert, ChannelRow, Incident, MonitoringEvent, Queued, QueuedResolution, Store, StoreError,
};

/// The webhook payload's schema name; a receiver dispatches on it.
pub const SCHEMA: &str = "rulewatch.incident/v1";

/// How long one POST may take before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The longest `Retry-After` on a 429 that a pass waits out before trying again.
const MAX_RATE_WAIT: Duration = Duration::from_secs(10);

/// How many 429s in a row one delivery waits out before it counts as failed.
const RATE_RETRIES: u32 = 3;

/// How long one process may hold a channel's delivery before another may take it over
/// (a pass that long is stuck; a killed process's lease is freed at once on Linux).
const LEASE: chrono::Duration = chrono::Duration::minutes(10);

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
    /// Local hours when only critical incidents are sent; the rest wait for their end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
}

/// A span of the local day, such as 22:00 to 07:00 (it may pass midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// When it starts.
    pub start: NaiveTime,
    /// When it ends, the first moment outside it.
    pub end: NaiveTime,
}

impl QuietHours {
    /// Reads `22:00-07:00` (seconds may be given: `22:00:00-07:00:30`).
    pub fn parse(s: &str) -> Result<QuietHours, ChannelError> {
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M:%S")
                .or_else(|_| NaiveTime::parse_from_str(t.trim(), "%H:%M"))
                .ok()
        };
        match s.split_once('-').map(|(a, b)| (time(a), time(b))) {
            Some((Some(start), Some(end))) if start != end => Ok(QuietHours { start, end }),
            _ => Err(ChannelError::Invalid(format!(
                "'{}' is not a span of hours; give local start and end such as 22:00-07:00",
                crate::shown::short(s)
            ))),
        }
    }

    /// Whether the local time `t` falls in it.
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

impl Route {
    /// Whether the channel receives `incident` as it stands now (its gravest severity).
    pub fn takes(&self, incident: &Incident) -> bool {
        self.min_severity.is_none_or(|min| incident.severity >= min)
            && self.takes_tenant(&incident.tenant_id)
    }

    /// Whether something of `severity` waits at `now` for the quiet hours to end (what is
    /// critical never does).
    pub fn holds(&self, severity: Severity, now: DateTime<Utc>) -> bool {
        severity < Severity::Critical
            && self
                .quiet_hours
                .is_some_and(|q| q.contains(now.with_timezone(&Local).time()))
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
    let config = serde_json::json!({"url": url.as_str(), "route": route});
    let secret = secret.expose_secret().trim().as_bytes();
    store_channel(store, secrets, name, "webhook", &config, Some(secret))
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
    let config = serde_json::json!({"origin": url.origin().ascii_serialization(), "route": route});
    let secret = url.as_str().as_bytes();
    store_channel(store, secrets, name, chat.kind(), &config, Some(secret))
}

/// Adds an e-mail channel: its settings in the store, the relay's password (when it
/// signs in) in the keychain. A relay that does not take mail is found by
/// `rulewatch channel test`, not here.
pub fn add_email(
    store: &Store,
    secrets: &dyn SecretStore,
    name: &str,
    config: &EmailConfig,
    password: Option<&SecretString>,
    route: &Route,
) -> Result<(), ChannelError> {
    let name = checked_name(name)?;
    config.check()?;
    match (&config.username, password) {
        (Some(_), None) => {
            return Err(ChannelError::Invalid(
                "a user name was given without its password; give the password on standard input (--password-stdin)".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(ChannelError::Invalid(
                "a password was given without a user name; give the relay's --username".into(),
            ));
        }
        _ => {}
    }
    let stored = serde_json::json!({"email": config, "route": route});
    let secret = password.map(|p| p.expose_secret().as_bytes());
    store_channel(store, secrets, name, "email", &stored, secret)
}

/// Stores a new channel: its secret (when it has one) in the keychain, then its row; a
/// name already taken is refused before the secret is stored, and a row that cannot be
/// added takes its secret with it, so nothing half-added stays behind.
fn store_channel(
    store: &Store,
    secrets: &dyn SecretStore,
    name: &str,
    kind: &str,
    config: &serde_json::Value,
    secret: Option<&[u8]>,
) -> Result<(), ChannelError> {
    if store.channels()?.iter().any(|c| c.name == name) {
        return Err(StoreError::ChannelExists(name.to_string()).into());
    }
    let owner = store.channel_secret_owner(name)?;
    if let Some(secret) = secret {
        secrets.set(&owner, SecretKind::ChannelSecret, secret)?;
    }
    if let Err(e) = store.add_channel(name, kind, config) {
        if secret.is_some() {
            let _ = secrets.delete(&owner, SecretKind::ChannelSecret);
        }
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
    let owner = store.channel_secret_owner(name)?;
    store.remove_channel(name)?;
    secrets.delete(&owner, SecretKind::ChannelSecret)?;
    // Stored by the channel's name alone before secrets were kept per data folder.
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
    let client = client()
        .map_err(|e| ChannelError::Unreachable(format!("the HTTP client cannot start ({e})")))?;
    let target = target(store, &client, &channel, secrets)
        .await
        .map_err(ChannelError::Unreachable)?;
    let delivery = format!("test:{}", uuid::Uuid::new_v4());
    let sent = match &target {
        Target::Webhook { url, secret } => {
            let body = serde_json::to_vec(&serde_json::json!({
                "schema": SCHEMA,
                "event": "channel.test",
                "channel": name,
                "sent_at": crate::clock::now(),
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
        Target::Email { config, relay } => match email::test_message(config, &delivery[5..]) {
            Ok(message) => relay.send(message).await,
            Err(e) => Err(e),
        },
        Target::Psa(desk) => desk.test().await,
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

/// What a webhook receives for one change of an incident.
#[derive(Debug, Serialize)]
struct Payload<'a> {
    schema: &'static str,
    /// `incident.opened` for an incident's first alert, `incident.updated` after,
    /// `incident.resolved` when a technician resolved it.
    event: &'static str,
    incident: IncidentView<'a>,
    /// When and why it was resolved (`incident.resolved` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<Resolution<'a>>,
}

#[derive(Debug, Serialize)]
struct Resolution<'a> {
    at: Option<DateTime<Utc>>,
    note: Option<&'a str>,
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

/// The JSON body for `event` of `incident` (as it stands now, every alert in it).
fn payload(incident: &Incident, event: &'static str) -> Vec<u8> {
    let body = Payload {
        schema: SCHEMA,
        event,
        resolution: (event == "incident.resolved").then_some(Resolution {
            at: incident.resolved_at,
            note: incident.resolution_note.as_deref(),
        }),
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
    // One process delivers a channel at a time (the desktop app and `rulewatch watch`
    // share a data folder): two at once could both open a PSA ticket for one incident.
    let holder = crate::store::lease_holder();
    // The channels at once: one waiting out a rate limit or a slow receiver never holds
    // back another.
    let each = added.iter().map(|channel| {
        let (secrets, client, holder) = (secrets.clone(), &client, &holder);
        async move {
            let lease = format!("channel:{}", channel.name);
            let start = Utc::now();
            if !store.take_scan_lease(&lease, holder, start, start + LEASE)? {
                return Ok(None);
            }
            let pass = match client {
                Ok(client) => channel_pass(store, secrets, client, channel, now).await,
                Err(e) => Ok(Pass {
                    channel: channel.name.clone(),
                    delivered: 0,
                    error: Some(format!("the HTTP client cannot start ({e})")),
                }),
            };
            store.release_scan_lease(&lease, holder)?;
            pass.map(Some)
        }
    });
    for pass in futures::future::join_all(each).await {
        passes.extend(pass?);
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
    let resolutions = store.queued_resolutions(&channel.name)?;
    if queued.is_empty() && events.is_empty() && resolutions.is_empty() {
        return Ok(pass);
    }
    let target = target(store, client, channel, secrets).await;
    let route: Route = channel
        .config
        .as_ref()
        .and_then(|c| serde_json::from_value(c["route"].clone()).ok())
        .unwrap_or_default();
    // Quiet hours are the technician's rule, not a backoff: a retry asked for now keeps them.
    let clock = now.unwrap_or_else(crate::clock::now);
    if let Ok(Target::Email { config, relay }) = &target
        && let Some(at) = config.digest_at
    {
        let digest = Digest {
            config,
            relay,
            at,
            route: &route,
        };
        return digest
            .pass(store, pass, (queued, events, resolutions), now)
            .await;
    }
    let to = target.as_ref().map_err(Clone::clone).map(|target| To {
        client,
        store,
        channel: &channel.name,
        target,
    });
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
        if let Some(incident) = &incident {
            if !route.takes(incident) {
                // Not this channel's: done with, unsent.
                store.mark_passed_over(&channel.name, &[alert.id])?;
                continue;
            }
            // Held for the end of the quiet hours; the incident's later alerts are held
            // with it (the decision is the incident's), so the order holds.
            if route.holds(incident.severity, clock) {
                continue;
            }
        }
        let sent = match (&to, &incident) {
            (Ok(to), Some(incident)) => {
                let opened = !store.sent_about(&channel.name, incident.id)?;
                to.post(&alert, incident, opened).await
            }
            (Err(e), _) => Err(e.clone()),
            (_, None) => Err(format!("alert {} belongs to no incident", alert.id)),
        };
        match sent {
            Ok(()) => {
                store.mark_delivered(&channel.name, &[alert.id])?;
                pass.delivered += 1;
            }
            Err(error) => {
                let retry_at = crate::clock::now() + backoff(attempts);
                store.delivery_failed(&channel.name, &[alert.id], &error, Some(retry_at))?;
                pass.error = Some(error);
                return Ok(pass);
            }
        }
    }
    // Then monitoring's news, in order too: a recovery never overtakes its breaking.
    for event in events {
        if waiting(now, event.retry_at) || route.holds(Severity::High, clock) {
            break;
        }
        if !route.takes_tenant(&event.tenant_id) {
            store.event_delivery(&channel.name, event.id, None)?;
            continue;
        }
        let sent = match &to {
            Ok(to) => to.post_event(&event).await,
            Err(e) => Err(e.clone()),
        };
        if !settle(&mut pass, sent, event.attempts, |failed| {
            store.event_delivery(&channel.name, event.id, failed)
        })? {
            return Ok(pass);
        }
    }
    // Then incidents resolved, each once every alert of it went out to this channel.
    for r in resolutions {
        if waiting(now, r.retry_at) || store.alerts_waiting(&channel.name, r.incident_id)? {
            continue;
        }
        let incident = store.incident(r.incident_id)?;
        if !store.sent_about(&channel.name, incident.id)? {
            // Never told of it (its route passed it over): nothing to close.
            store.resolution_delivery(&channel.name, incident.id, None)?;
            continue;
        }
        if route.holds(incident.severity, clock) {
            continue;
        }
        let sent = match &to {
            Ok(to) => to.post_resolution(&incident).await,
            Err(e) => Err(e.clone()),
        };
        if !settle(&mut pass, sent, r.attempts, |failed| {
            store.resolution_delivery(&channel.name, incident.id, failed)
        })? {
            break;
        }
    }
    Ok(pass)
}

/// Counts an item that went, or records its failure with the backoff its attempts
/// earn; `false` when it failed, which stops the channel's pass.
fn settle(
    pass: &mut Pass,
    sent: Result<(), String>,
    attempts: u32,
    record: impl FnOnce(Option<(&str, DateTime<Utc>)>) -> Result<(), StoreError>,
) -> Result<bool, StoreError> {
    match sent {
        Ok(()) => {
            record(None)?;
            pass.delivered += 1;
            Ok(true)
        }
        Err(error) => {
            record(Some((&error, crate::clock::now() + backoff(attempts))))?;
            pass.error = Some(error);
            Ok(false)
        }
    }
}

/// An e-mail channel in digest mode: what waited since the last digest goes in one
/// message once a day, at the local time chosen.
struct Digest<'a> {
    config: &'a EmailConfig,
    relay: &'a email::Relay,
    at: NaiveTime,
    route: &'a Route,
}

impl Digest<'_> {
    /// Sends the digest when its time has come since the last one (or at once, on a
    /// technician's retry: `now` is `None`).
    async fn pass(
        &self,
        store: &Store,
        mut pass: Pass,
        (queued, events, resolutions): (Vec<Queued>, Vec<MonitoringEvent>, Vec<QueuedResolution>),
        now: Option<DateTime<Utc>>,
    ) -> Result<Pass, StoreError> {
        let clock = now.unwrap_or_else(crate::clock::now);
        let slot = email::digest_slot(self.at, clock);
        let last = store.digest_sent_at(&pass.channel)?;
        let due = now.is_none() || last.is_none_or(|last| last < slot);
        let backing_off = queued.iter().any(|q| waiting(now, q.retry_at))
            || events.iter().any(|e| waiting(now, e.retry_at))
            || resolutions.iter().any(|r| waiting(now, r.retry_at));
        if !due || backing_off {
            return Ok(pass);
        }
        let mut incidents: Vec<crate::store::Incident> = Vec::new();
        let mut alert_ids = Vec::new();
        let mut attempts = 0;
        for q in &queued {
            let Some(id) = q.alert.incident_id else {
                continue;
            };
            // Each incident is read once, however many of its alerts wait.
            let at = match incidents.iter().position(|i| i.id == id) {
                Some(at) => at,
                None => {
                    incidents.push(store.incident(id)?);
                    incidents.len() - 1
                }
            };
            if !self.route.takes(&incidents[at]) {
                store.mark_passed_over(&pass.channel, &[q.alert.id])?;
                continue;
            }
            attempts = attempts.max(q.attempts);
            alert_ids.push(q.alert.id);
        }
        // Read to be judged; those the route passes over are not the digest's.
        incidents.retain(|i| self.route.takes(i));
        let mut news = Vec::new();
        for e in events {
            if self.route.takes_tenant(&e.tenant_id) {
                attempts = attempts.max(e.attempts);
                news.push(e);
            } else {
                store.event_delivery(&pass.channel, e.id, None)?;
            }
        }
        // Incidents resolved since the last digest: one with alerts in this digest shows
        // its state in its own entry; one told of in an earlier digest is listed apart.
        let (mut closed, mut settled) = (Vec::new(), Vec::new());
        for r in &resolutions {
            attempts = attempts.max(r.attempts);
            if incidents.iter().any(|i| i.id == r.incident_id) {
                settled.push(r.incident_id);
            } else if store.sent_about(&pass.channel, r.incident_id)? {
                closed.push(store.incident(r.incident_id)?);
                settled.push(r.incident_id);
            } else {
                store.resolution_delivery(&pass.channel, r.incident_id, None)?;
            }
        }
        if incidents.is_empty() && news.is_empty() && closed.is_empty() {
            store.digest_sent(&pass.channel, clock)?;
            return Ok(pass);
        }
        let day = slot
            .with_timezone(&Local)
            .date_naive()
            .format("%Y-%m-%d")
            .to_string();
        let changed = email::Changed {
            incidents: &incidents,
            resolved: &closed,
            events: &news,
        };
        let sent = match email::digest_message(self.config, &pass.channel, &day, &changed) {
            Ok(message) => self.relay.send(message).await,
            Err(e) => Err(e),
        };
        match sent {
            Ok(()) => {
                store.mark_delivered(&pass.channel, &alert_ids)?;
                for e in &news {
                    store.event_delivery(&pass.channel, e.id, None)?;
                }
                for id in &settled {
                    store.resolution_delivery(&pass.channel, *id, None)?;
                }
                store.digest_sent(&pass.channel, clock)?;
                pass.delivered += alert_ids.len() + news.len() + closed.len();
            }
            Err(error) => {
                let retry_at = crate::clock::now() + backoff(attempts);
                store.delivery_failed(&pass.channel, &alert_ids, &error, Some(retry_at))?;
                for e in &news {
                    store.event_delivery(&pass.channel, e.id, Some((&error, retry_at)))?;
                }
                for id in &settled {
                    store.resolution_delivery(&pass.channel, *id, Some((&error, retry_at)))?;
                }
                pass.error = Some(error);
            }
        }
        Ok(pass)
    }
}

/// Whether an item's retry time is still ahead (`now` is `None` on a technician's retry).
fn waiting(now: Option<DateTime<Utc>>, retry_at: Option<DateTime<Utc>>) -> bool {
    matches!((now, retry_at), (Some(now), Some(at)) if at > now)
}

/// Where `channel`'s deliveries go, read from the store and the keychain; `Err` says why
/// nothing can be sent to it.
async fn target(
    store: &Store,
    client: &reqwest::Client,
    channel: &ChannelRow,
    secrets: Arc<dyn SecretStore>,
) -> Result<Target, String> {
    if Vendor::of_kind(&channel.kind).is_some() {
        return Ok(Target::Psa(Box::new(
            psa::Desk::open(store, client, channel, secrets).await?,
        )));
    }
    if channel.kind == "email" {
        let config: EmailConfig = channel
            .config
            .as_ref()
            .and_then(|c| serde_json::from_value(c["email"].clone()).ok())
            .ok_or("the channel's settings cannot be read; remove it and add it again")?;
        let password = match config.username {
            Some(_) => Some(secret_text(store, &channel.name, secrets).await?),
            None => None,
        };
        let relay = email::Relay::open(&config, password.as_ref())?;
        return Ok(Target::Email { config, relay });
    }
    let secret = channel_secret(store, &channel.name, secrets).await?;
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

/// Channel `name`'s secret from the keychain; `Err` says why it cannot be read. A
/// secret stored by the channel's name alone (before secrets were kept per data folder)
/// moves to this store's name for it.
async fn channel_secret(
    store: &Store,
    name: &str,
    secrets: Arc<dyn SecretStore>,
) -> Result<secrecy::SecretSlice<u8>, String> {
    let owner = store
        .channel_secret_owner(name)
        .map_err(|e| e.to_string())?;
    let name = name.to_string();
    // The keychain is reached over D-Bus or the platform's API: blocking calls.
    tokio::task::spawn_blocking(
        move || match secrets.get(&owner, SecretKind::ChannelSecret) {
            Err(SecretError::MissingChannelSecret { .. }) => {
                let legacy = secrets.get(&name, SecretKind::ChannelSecret)?;
                secrets.set(&owner, SecretKind::ChannelSecret, legacy.expose_secret())?;
                secrets.delete(&name, SecretKind::ChannelSecret)?;
                Ok(legacy)
            }
            found => found,
        },
    )
    .await
    .unwrap_or_else(|e| {
        Err(SecretError::Failed {
            detail: e.to_string(),
        })
    })
    .map_err(|e| e.to_string())
}

/// Channel `name`'s secret that is text (a password, a PSA's key), from the keychain.
async fn secret_text(
    store: &Store,
    name: &str,
    secrets: Arc<dyn SecretStore>,
) -> Result<SecretString, String> {
    let secret = channel_secret(store, name, secrets).await?;
    String::from_utf8(secret.expose_secret().to_vec())
        .map(SecretString::from)
        .map_err(|_| "the channel's stored secret is not text; remove it and add it again".into())
}

/// Where a channel's deliveries go, and how they are made.
enum Target {
    /// Rulewatch's own schema, signed with the shared secret.
    Webhook { url: String, secret: Vec<u8> },
    /// A Teams or Slack message; the URL is the credential.
    Chat { chat: Chat, url: String },
    /// Mail through an SMTP relay.
    Email {
        config: EmailConfig,
        relay: email::Relay,
    },
    /// Tickets in a PSA, signed in for this pass.
    Psa(Box<psa::Desk>),
}

/// Where one channel's delivery goes, with what a PSA needs to record its tickets.
struct To<'a> {
    client: &'a reqwest::Client,
    store: &'a Store,
    channel: &'a str,
    target: &'a Target,
}

impl To<'_> {
    /// One message about `alert`'s incident (`opened`: the first this channel is sent
    /// about it); `Err` says why it did not arrive, in words that hold
    /// no secret (the URL is shown as its origin only: its path may be a token).
    async fn post(&self, alert: &Alert, incident: &Incident, opened: bool) -> Result<(), String> {
        let client = self.client;
        let delivery = format!("{}:{}", incident.key, alert.id);
        match self.target {
            Target::Webhook { url, secret } => {
                let event = if opened {
                    "incident.opened"
                } else {
                    "incident.updated"
                };
                let body = payload(incident, event);
                let signed = signature(secret, &body);
                send(client, url, Some(signed), delivery, body).await
            }
            Target::Chat { chat, url } => {
                let body = serde_json::to_vec(&chat::message(*chat, alert, incident, opened))
                    .expect("a message is plain data, always serialisable");
                send(client, url, None, delivery, body).await
            }
            Target::Email { config, relay } => {
                let message = email::alert_message(config, alert, incident, opened)?;
                relay.send(message).await
            }
            Target::Psa(desk) => desk.alert(self.store, self.channel, alert, incident).await,
        }
    }

    /// The news that `incident` was resolved; the idempotency key is the incident's.
    async fn post_resolution(&self, incident: &Incident) -> Result<(), String> {
        let delivery = format!("incident-resolved:{}", incident.key);
        match self.target {
            Target::Webhook { url, secret } => {
                let body = payload(incident, "incident.resolved");
                let signed = signature(secret, &body);
                send(self.client, url, Some(signed), delivery, body).await
            }
            Target::Chat { chat, url } => {
                let body = serde_json::to_vec(&chat::resolved_message(*chat, incident))
                    .expect("plain data, always serialisable");
                send(self.client, url, None, delivery, body).await
            }
            Target::Email { config, relay } => {
                let message = email::resolved_message(config, incident)?;
                relay.send(message).await
            }
            Target::Psa(desk) => desk.resolved(self.store, self.channel, incident).await,
        }
    }

    /// One message of a monitoring event; the idempotency key is the event's.
    async fn post_event(&self, event: &MonitoringEvent) -> Result<(), String> {
        let client = self.client;
        let delivery = format!("tenant-event:{}:{}", event.tenant_id, event.id);
        match self.target {
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
            Target::Email { config, relay } => {
                let message = email::event_message(config, event)?;
                relay.send(message).await
            }
            Target::Psa(desk) => desk.event(self.store, self.channel, event).await,
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
    fn quiet_hours_may_pass_midnight_and_hold_all_but_critical() {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        let night = QuietHours::parse("22:00-07:00").unwrap();
        assert!(night.contains(t("23:30")) && night.contains(t("06:59")));
        assert!(!night.contains(t("07:00")) && !night.contains(t("12:00")));
        let lunch = QuietHours::parse(" 12:00 - 13:00:30 ").unwrap();
        assert!(lunch.contains(t("13:00")) && !lunch.contains(t("11:59")));
        for bad in ["late", "22:00", "22:00-22:00", "25:00-07:00"] {
            let e = QuietHours::parse(bad).unwrap_err().to_string();
            assert!(e.contains("22:00-07:00"), "{bad}: {e}");
        }
        // As the panel sends them: times of day without seconds.
        let route: Route = serde_json::from_value(serde_json::json!({
            "quiet_hours": {"start": "00:00", "end": "23:59"},
        }))
        .unwrap();
        let noon = Local::now()
            .date_naive()
            .and_time(t("12:00"))
            .and_local_timezone(Local)
            .earliest()
            .unwrap()
            .with_timezone(&Utc);
        assert!(route.holds(Severity::High, noon));
        assert!(!route.holds(Severity::Critical, noon));
        assert!(!Route::default().holds(Severity::Low, noon));
    }

    #[tokio::test]
    async fn each_data_folder_keeps_its_own_channel_secrets_and_old_ones_move_over() {
        let secrets: Arc<dyn SecretStore> = Arc::new(crate::secrets::MemorySecrets::default());
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (first, second) = (
            Store::open(a.path()).unwrap(),
            Store::open(b.path()).unwrap(),
        );
        for (store, secret) in [
            (&first, "first folder's secret"),
            (&second, "second folder's one"),
        ] {
            let added = add_webhook(
                store,
                secrets.as_ref(),
                "soc",
                "https://hooks.example.com/x",
                &SecretString::from(secret),
                &Route::default(),
            );
            added.unwrap();
        }
        for (store, want) in [
            (&first, "first folder's secret"),
            (&second, "second folder's one"),
        ] {
            let s = channel_secret(store, "soc", secrets.clone()).await.unwrap();
            assert_eq!(s.expose_secret(), want.as_bytes());
        }

        // A secret kept under the channel's name alone, as before, is found and moved.
        let (c, moved) = (tempfile::tempdir().unwrap(), "kept by name");
        let third = Store::open(c.path()).unwrap();
        secrets
            .set("legacy", SecretKind::ChannelSecret, moved.as_bytes())
            .unwrap();
        let s = channel_secret(&third, "legacy", secrets.clone())
            .await
            .unwrap();
        assert_eq!(s.expose_secret(), moved.as_bytes());
        assert!(secrets.get("legacy", SecretKind::ChannelSecret).is_err());
        let owner = third.channel_secret_owner("legacy").unwrap();
        assert!(secrets.get(&owner, SecretKind::ChannelSecret).is_ok());
    }

    #[test]
    fn retries_back_off_from_half_a_minute_to_an_hour() {
        let waits: Vec<i64> = (0..10).map(|a| backoff(a).num_seconds()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    }
}
