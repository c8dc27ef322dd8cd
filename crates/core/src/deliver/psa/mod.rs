//! PSA tickets: ConnectWise PSA, Autotask and HaloPSA. An incident opens one ticket under
//! its tenant's company (or the channel's default company, which the ticket then says);
//! each later alert adds a note to it. Killed at any instant, no ticket is opened twice:
//! the ticket's summary carries the incident key, and before opening one the PSA is
//! searched for it; a ticket found or opened is stored at once. Notes cannot be looked
//! up on any of the three, so a note may at worst repeat, never a ticket.

mod api;

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{ChannelError, check_url, checked_name};
use crate::detect::Severity;
use crate::secrets::SecretStore;
use crate::shown::shown;
use crate::store::{Alert, Incident, MonitoringEvent, Store, StoreError};

/// The PSAs a channel can file tickets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// ConnectWise PSA (Manage).
    ConnectWise,
    /// Autotask (Datto / Kaseya).
    Autotask,
    /// HaloPSA.
    Halo,
}

impl Vendor {
    /// The channel kind stored for it.
    pub fn kind(self) -> &'static str {
        match self {
            Vendor::ConnectWise => "connectwise",
            Vendor::Autotask => "autotask",
            Vendor::Halo => "halo",
        }
    }

    /// The PSA of a stored channel kind.
    pub fn of_kind(kind: &str) -> Option<Vendor> {
        [Vendor::ConnectWise, Vendor::Autotask, Vendor::Halo]
            .into_iter()
            .find(|v| v.kind() == kind)
    }

    /// Its product name, as messages say it.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::ConnectWise => "ConnectWise PSA",
            Vendor::Autotask => "Autotask",
            Vendor::Halo => "HaloPSA",
        }
    }
}

/// How Rulewatch signs in to the PSA, less the secret (in the keychain): ConnectWise's
/// private key, Autotask's secret, Halo's client secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "vendor", rename_all = "lowercase")]
pub enum Account {
    /// ConnectWise: the login company, the API member's public key, and the
    /// integration's clientId.
    Connectwise {
        /// The company id typed at login.
        company_id: String,
        /// The API key's public half.
        public_key: String,
        /// The clientId from developer.connectwise.com.
        client_id: String,
    },
    /// Autotask: the API user and the integration's tracking identifier.
    Autotask {
        /// The API-only user's name.
        username: String,
        /// The API integration code (tracking identifier).
        integration_code: String,
    },
    /// Halo: the API application's client id, and the tenant for hosted Halo.
    Halo {
        /// The application's client id.
        client_id: String,
        /// The hosted tenant's name, when Halo needs it on the token request.
        tenant: Option<String>,
    },
}

impl Account {
    fn vendor(&self) -> Vendor {
        match self {
            Account::Connectwise { .. } => Vendor::ConnectWise,
            Account::Autotask { .. } => Vendor::Autotask,
            Account::Halo { .. } => Vendor::Halo,
        }
    }
}

/// A PSA channel's settings as stored; every id is the PSA's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PsaConfig {
    /// ConnectWise's site, Autotask's zone look-up address, Halo's address.
    pub base_url: String,
    /// How to sign in.
    pub account: Account,
    /// The company a tenant without a mapping files under.
    pub default_company: i64,
    /// Each tenant's company (tenant ids in lower case), as the technician confirmed.
    #[serde(default)]
    pub companies: BTreeMap<String, i64>,
    /// ConnectWise's board, Autotask's queue, Halo's team.
    pub board: i64,
    /// The ticket priority per severity (`critical`, `high`, `medium`, `low`); a
    /// severity without one takes the nearest graver one's, else the nearest lighter.
    pub priorities: BTreeMap<Severity, i64>,
    /// ConnectWise's type, Autotask's ticket type, Halo's ticket type.
    #[serde(default)]
    pub ticket_type: Option<i64>,
    /// Autotask's status for a new ticket (1, New, unless given).
    #[serde(default)]
    pub status: Option<i64>,
    /// Autotask's note type, Halo's action outcome (both required there).
    #[serde(default)]
    pub note_kind: Option<i64>,
    /// Autotask's note publish setting (required there).
    #[serde(default)]
    pub note_publish: Option<i64>,
}

impl PsaConfig {
    fn check(&self) -> Result<(), ChannelError> {
        check_url(&self.base_url)?;
        let invalid = |m: &str| Err(ChannelError::Invalid(m.to_string()));
        if self.priorities.is_empty() {
            return invalid(
                "give the ticket priority for at least one severity, such as --priority critical=1",
            );
        }
        match self.account {
            Account::Autotask { .. } if self.note_kind.is_none() || self.note_publish.is_none() => {
                invalid(
                    "Autotask needs the note type and publish values for notes (--note-type, --note-publish)",
                )
            }
            Account::Halo { .. } if self.note_kind.is_none() => {
                invalid("HaloPSA needs the outcome id for notes (--note-outcome)")
            }
            _ => Ok(()),
        }
    }

    /// The priority for `severity`.
    fn priority(&self, severity: Severity) -> i64 {
        self.priorities
            .range(severity..)
            .next()
            .or_else(|| self.priorities.range(..severity).next_back())
            .map(|(_, p)| *p)
            .expect("checked: at least one priority")
    }

    /// The company a tenant's tickets go under, and whether it is the default.
    fn company(&self, tenant_id: &str) -> (i64, bool) {
        match self.companies.get(&tenant_id.to_ascii_lowercase()) {
            Some(id) => (*id, false),
            None => (self.default_company, true),
        }
    }
}

/// Adds a PSA channel: its settings in the store, its secret in the keychain.
pub fn add(
    store: &Store,
    secrets: &dyn SecretStore,
    name: &str,
    config: &PsaConfig,
    secret: &SecretString,
    route: &super::Route,
) -> Result<(), ChannelError> {
    let name = checked_name(name)?;
    config.check()?;
    if secret.expose_secret().trim().is_empty() {
        return Err(ChannelError::Invalid(
            "the PSA's secret is empty; give it on standard input".into(),
        ));
    }
    let stored = serde_json::json!({"psa": config, "route": route});
    let kind = config.account.vendor().kind();
    let secret = secret.expose_secret().trim().as_bytes();
    super::store_channel(store, secrets, name, kind, &stored, Some(secret))
}

/// A tenant's company in the PSA: the one confirmed, and the one its name suggests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompanyMatch {
    /// The tenant.
    pub tenant_id: String,
    /// Its display name.
    pub tenant_name: String,
    /// The company it files under now, when confirmed.
    pub mapped: Option<Company>,
    /// The company whose name matches the tenant's, when one does.
    pub suggested: Option<Company>,
}

/// A company as the PSA lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Company {
    /// Its id in the PSA.
    pub id: i64,
    /// Its name there.
    pub name: String,
}

/// A name as compared: lower case, letters and digits only, legal suffixes dropped.
fn comparable(name: &str) -> String {
    const SUFFIXES: [&str; 12] = [
        "ltd",
        "limited",
        "inc",
        "llc",
        "gmbh",
        "plc",
        "pty",
        "co",
        "corp",
        "corporation",
        "the",
        "bv",
    ];
    name.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !SUFFIXES.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The company whose name is the tenant's, seen through case, punctuation and legal
/// suffixes ("Contoso" and "Contoso, Ltd."); else the only one whose name starts with it.
fn suggest(tenant_name: &str, companies: &[(i64, String)]) -> Option<Company> {
    let want = comparable(tenant_name);
    if want.is_empty() {
        return None;
    }
    let pick = |(id, name): &(i64, String)| Company {
        id: *id,
        name: name.clone(),
    };
    if let Some(exact) = companies.iter().find(|(_, n)| comparable(n) == want) {
        return Some(pick(exact));
    }
    let prefixed: Vec<&(i64, String)> = companies
        .iter()
        .filter(|(_, n)| comparable(n).starts_with(&format!("{want} ")))
        .collect();
    match prefixed.as_slice() {
        [one] => Some(pick(one)),
        _ => None,
    }
}

/// Reads a PSA channel's settings; `Err` says why they cannot be used.
fn config_of(store: &Store, name: &str) -> Result<(PsaConfig, serde_json::Value), ChannelError> {
    let channel = store
        .channels()?
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| StoreError::NoChannel(name.to_string()))?;
    let stored = channel.config.unwrap_or_default();
    let config = serde_json::from_value(stored["psa"].clone()).map_err(|_| {
        ChannelError::Invalid(format!(
            "channel {} is not a PSA channel; companies are mapped for ConnectWise, Autotask and HaloPSA channels",
            shown(name)
        ))
    })?;
    Ok((config, stored))
}

/// Every tenant with its company in PSA channel `name`: confirmed, and suggested by name.
pub async fn companies(
    store: &Store,
    secrets: Arc<dyn SecretStore>,
    name: &str,
) -> Result<Vec<CompanyMatch>, ChannelError> {
    let (config, _) = config_of(store, name)?;
    let client = super::client()
        .map_err(|e| ChannelError::Unreachable(format!("the HTTP client cannot start ({e})")))?;
    let conn = open(store, &client, &config, name, secrets)
        .await
        .map_err(ChannelError::Unreachable)?;
    let listed = conn
        .companies()
        .await
        .map_err(|f| ChannelError::Unreachable(f.message))?;
    let by_id = |id: i64| {
        listed
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(id, n)| Company {
                id: *id,
                name: n.clone(),
            })
    };
    Ok(store
        .tenants()?
        .into_iter()
        .map(|t| CompanyMatch {
            mapped: config
                .companies
                .get(&t.tenant_id.to_ascii_lowercase())
                .map(|id| {
                    by_id(*id).unwrap_or(Company {
                        id: *id,
                        name: "(not listed by the PSA)".into(),
                    })
                }),
            suggested: suggest(&t.name, &listed),
            tenant_id: t.tenant_id,
            tenant_name: t.name,
        })
        .collect())
}

/// Confirms companies for PSA channel `name`: each (tenant, company) pair given.
pub fn map_companies(
    store: &Store,
    name: &str,
    pairs: &[(String, i64)],
) -> Result<(), ChannelError> {
    let (mut config, mut stored) = config_of(store, name)?;
    let tenants = store.tenants()?;
    for (tenant, company) in pairs {
        let Some(t) = tenants
            .iter()
            .find(|t| t.tenant_id.eq_ignore_ascii_case(tenant))
        else {
            return Err(ChannelError::Invalid(format!(
                "no tenant {} is watched; give a tenant id from `rulewatch tenant list`",
                shown(tenant)
            )));
        };
        config
            .companies
            .insert(t.tenant_id.to_ascii_lowercase(), *company);
    }
    stored["psa"] = serde_json::to_value(&config).expect("plain data, always serialisable");
    store.set_channel_config(name, &stored)?;
    Ok(())
}

/// Signs in to the PSA of channel `name`.
async fn open(
    store: &Store,
    client: &reqwest::Client,
    config: &PsaConfig,
    name: &str,
    secrets: Arc<dyn SecretStore>,
) -> Result<api::Conn, String> {
    let secret = super::secret_text(store, name, secrets).await?;
    api::Conn::open(
        client,
        config.account.vendor(),
        &config.base_url,
        &config.account,
        &secret,
        (config.note_kind, config.note_publish),
    )
    .await
}

/// A PSA channel's connection for one delivery pass.
pub(super) struct Desk {
    config: PsaConfig,
    conn: api::Conn,
}

impl Desk {
    /// Reads the channel's settings and signs in.
    pub(super) async fn open(
        store: &Store,
        client: &reqwest::Client,
        channel: &crate::store::ChannelRow,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<Desk, String> {
        let config: PsaConfig = channel
            .config
            .as_ref()
            .and_then(|c| serde_json::from_value(c["psa"].clone()).ok())
            .ok_or("the channel's settings cannot be read; remove it and add it again")?;
        let conn = open(store, client, &config, &channel.name, secrets).await?;
        Ok(Desk { config, conn })
    }

    /// A test: the PSA answers a search with these credentials.
    pub(super) async fn test(&self) -> Result<(), String> {
        self.conn
            .search("rulewatch-test")
            .await
            .map(|_| ())
            .map_err(|f| f.message)
    }

    fn vendor(&self) -> Vendor {
        self.config.account.vendor()
    }

    /// `[Rulewatch KEY] words`, cut to the PSA's limit after the tag, never inside it.
    fn summary(&self, key: &str, words: &str) -> String {
        let tag = format!("[Rulewatch {key}] ");
        let room = api::summary_limit(self.vendor()).saturating_sub(tag.chars().count());
        format!("{tag}{}", words.chars().take(room).collect::<String>())
    }

    /// Finds the ticket opened for `key`, or opens one; answers its id.
    async fn ticket(
        &self,
        key: &str,
        ticket: impl FnOnce() -> api::NewTicket,
    ) -> Result<i64, String> {
        if let Some(found) = self.conn.search(key).await.map_err(|f| f.message)?.first() {
            return Ok(*found);
        }
        self.conn.create(&ticket()).await.map_err(|f| f.message)
    }

    /// Delivers one alert of `incident`: its ticket opened (found again when an
    /// earlier pass opened it and was stopped before storing it), or a note added.
    pub(super) async fn alert(
        &self,
        store: &Store,
        channel: &str,
        alert: &Alert,
        incident: &Incident,
    ) -> Result<(), String> {
        // A store failure here is a failed delivery: its retry searches the PSA first,
        // so a ticket opened but not recorded is found, not opened again.
        let stored = store
            .psa_ticket(channel, &incident.key)
            .map_err(|e| e.to_string())?;
        match stored {
            Some((_, Some(opened_by))) if opened_by == alert.id => Ok(()),
            Some((ticket, _)) => {
                let text = super::email::plain_incident(
                    incident,
                    &format!(
                        "Rulewatch: another alert in this incident ({} now). {}",
                        incident.alerts.len(),
                        shown(&alert.summary)
                    ),
                );
                match self
                    .conn
                    .note(ticket, "Rulewatch: new alert", &text, false)
                    .await
                {
                    Ok(()) => Ok(()),
                    Err(f) if f.gone() => {
                        // Deleted or merged in the PSA: the next try opens a new one.
                        store
                            .forget_psa_ticket(channel, &incident.key)
                            .map_err(|e| e.to_string())?;
                        Err(format!(
                            "{}'s ticket {ticket} for this incident is gone; a new one is opened on the next try",
                            self.vendor().name()
                        ))
                    }
                    Err(f) => Err(f.message),
                }
            }
            None => {
                let (company, unmapped) = self.config.company(&incident.tenant_id);
                let mut lead = format!("New incident: {}", shown(&alert.summary));
                if unmapped {
                    lead.push_str(&format!(
                        "\n\nTenant {} ({}) is not mapped to a {} company; this ticket was filed under the default company.",
                        shown(&incident.tenant_name),
                        shown(&incident.tenant_id),
                        self.vendor().name()
                    ));
                }
                let words = format!(
                    "{} — {}",
                    shown(&incident.title),
                    shown(&incident.tenant_name)
                );
                let opened = self
                    .ticket(&incident.key, || api::NewTicket {
                        company,
                        summary: self.summary(&incident.key, &words),
                        description: super::email::plain_incident(incident, &lead),
                        board: self.config.board,
                        priority: self.config.priority(incident.severity),
                        kind: self.config.ticket_type,
                        status: self.config.status,
                        key: incident.key.clone(),
                    })
                    .await;
                store
                    .set_psa_ticket(channel, &incident.key, opened?, Some(alert.id))
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Adds the closing note to `incident`'s ticket, when this channel opened one.
    pub(super) async fn resolved(
        &self,
        store: &Store,
        channel: &str,
        incident: &Incident,
    ) -> Result<(), String> {
        let Some((ticket, _)) = store
            .psa_ticket(channel, &incident.key)
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        let text = match incident.resolution_note.as_deref() {
            Some(note) if !note.trim().is_empty() => {
                format!("Resolved in Rulewatch: {}", shown(note))
            }
            _ => "Resolved in Rulewatch.".to_string(),
        };
        match self
            .conn
            .note(ticket, "Rulewatch: resolved", &text, true)
            .await
        {
            // A ticket gone from the PSA has nothing left to close.
            Err(f) if !f.gone() => Err(f.message),
            _ => Ok(()),
        }
    }

    /// Delivers a tenant's monitoring breaking (a ticket under its company) or
    /// recovering (a note on that ticket, or a ticket of its own when there is none).
    pub(super) async fn event(
        &self,
        store: &Store,
        channel: &str,
        event: &MonitoringEvent,
    ) -> Result<(), String> {
        let thread = format!("monitoring-{}", event.tenant_id.to_ascii_lowercase());
        let (subject, text) = super::email::event_words(event);
        let stored = store
            .psa_ticket(channel, &thread)
            .map_err(|e| e.to_string())?;
        if event.event != "tenant.broken"
            && let Some((ticket, _)) = stored
        {
            let noted = self
                .conn
                .note(ticket, "Rulewatch: monitoring recovered", &text, true)
                .await;
            return match noted {
                Err(f) if !f.gone() => Err(f.message),
                _ => store
                    .forget_psa_ticket(channel, &thread)
                    .map_err(|e| e.to_string()),
            };
        }
        let key = format!("ev{}-{}", event.id, &thread[11..thread.len().min(31)]);
        let (company, _) = self.config.company(&event.tenant_id);
        let opened = self
            .ticket(&key, || api::NewTicket {
                company,
                summary: self.summary(&key, subject.trim_start_matches("[Rulewatch] ")),
                description: text.clone(),
                board: self.config.board,
                priority: self.config.priority(Severity::Medium),
                kind: self.config.ticket_type,
                status: self.config.status,
                key: key.clone(),
            })
            .await;
        let ticket = opened?;
        if event.event == "tenant.broken" {
            store
                .set_psa_ticket(channel, &thread, ticket, None)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_matched_through_punctuation_case_and_legal_suffixes() {
        let listed = vec![
            (250, "Contoso, Ltd.".to_string()),
            (251, "Client 10 Limited".to_string()),
            (252, "Client 1 Limited".to_string()),
            (253, "Northwind Traders".to_string()),
        ];
        assert_eq!(suggest("Contoso", &listed).unwrap().id, 250);
        assert_eq!(suggest("contoso ltd", &listed).unwrap().id, 250);
        assert_eq!(suggest("Client 1", &listed).unwrap().id, 252);
        assert_eq!(suggest("Client 10", &listed).unwrap().id, 251);
        assert_eq!(suggest("Northwind", &listed).unwrap().id, 253);
        assert_eq!(suggest("Fabrikam", &listed), None);
        assert_eq!(suggest("Ltd.", &listed), None);
    }

    #[test]
    fn a_severity_without_a_priority_takes_the_nearest_graver_one() {
        let config = PsaConfig {
            base_url: "https://psa.example".into(),
            account: Account::Halo {
                client_id: "c".into(),
                tenant: None,
            },
            default_company: 1,
            companies: BTreeMap::new(),
            board: 1,
            priorities: BTreeMap::from([(Severity::Critical, 1), (Severity::Medium, 3)]),
            ticket_type: None,
            status: None,
            note_kind: Some(7),
            note_publish: None,
        };
        assert_eq!(config.priority(Severity::Critical), 1);
        assert_eq!(config.priority(Severity::High), 1);
        assert_eq!(config.priority(Severity::Medium), 3);
        assert_eq!(config.priority(Severity::Low), 3);
    }
}
