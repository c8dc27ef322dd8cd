//! The scenario file: tenants, planted audit records, background noise and faults.

use std::collections::{BTreeMap, HashSet};

use axum::http::HeaderName;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::certs;
use crate::ipstack::GeoScenario;

mod faults;
mod partner;

pub use faults::{Endpoint, FaultKind, Faults, ScriptedFault};
pub(crate) use partner::default_gdap_roles;
pub use partner::{Partner, PartnerUser};

/// Everything the sandbox serves, read from a JSON scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The customer tenants served, each with its app registration and users.
    pub tenants: Vec<Tenant>,
    /// Audit records planted in the tenants' feeds, served verbatim.
    #[serde(default)]
    pub records: Vec<PlantedRecord>,
    /// Background records mixed into every tenant's Exchange, Entra ID and General feeds.
    #[serde(default)]
    pub noise: Noise,
    /// Blobs per page of `subscriptions/content`.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// Set each planted record's `CreationTime` to its release time.
    #[serde(default)]
    pub rebase_times: bool,
    /// Faults injected into the answers, at random and scripted.
    #[serde(default)]
    pub faults: Faults,
    /// The most records a content blob holds (default 100), not counting the copies
    /// `faults.duplicate_records` adds.
    #[serde(default = "default_records_per_blob")]
    pub records_per_blob: usize,
    /// Seconds each access token the sandbox issues stays valid, its `expires_in`
    /// (default 3599).
    #[serde(default = "default_token_lifetime_s")]
    pub token_lifetime_s: u64,
    /// How many times as fast as the wall clock the sandbox's clock runs from its start
    /// (default 1): a day of scenario time in minutes for tests of the always-on watcher.
    #[serde(default = "default_clock_speed")]
    pub clock_speed: u32,
    /// Name of the pagination header; Microsoft's pages disagree (A5).
    #[serde(default = "default_next_page_header")]
    pub next_page_header: String,
    /// The ipstack stand-in; without it every ipstack key is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<GeoScenario>,
    /// A partner (GDAP) tenant whose technicians sign in and act in customer tenants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<Partner>,
}

/// One customer tenant with its app registration as seen from that tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// The tenant's GUID, unique in the scenario.
    pub tenant_id: String,
    /// The organisation's display name, as Entra's error messages and GDAP listings show it.
    pub name: String,
    /// The verified domains, vanity and `*.onmicrosoft.com` (at least one); the token
    /// endpoint accepts any of them in place of the GUID.
    #[serde(default)]
    pub domains: Vec<String>,
    /// The app registration's application (client) GUID.
    pub client_id: String,
    /// The app's client secret; empty means the app has none, so only a certificate signs in.
    #[serde(default)]
    pub client_secret: String,
    /// Whether unified audit logging is on (default yes); when off, starting a subscription
    /// fails as Microsoft's does and no subscription is listed.
    #[serde(default = "yes")]
    pub audit_enabled: bool,
    /// The mailbox users at start.
    #[serde(default)]
    pub users: Vec<User>,
    /// PEM `CERTIFICATE`s registered on the app, for client-assertion sign-in.
    #[serde(default)]
    pub certificates: Vec<String>,
    /// The feed subscription at start, the same for every content type.
    #[serde(default)]
    pub subscription: SubscriptionState,
    /// Whether the tenant's admin consented to the app.
    #[serde(default = "yes")]
    pub consented: bool,
    /// App roles granted by consent, copied into every token issued.
    #[serde(default = "default_roles")]
    pub roles: Vec<String>,
    /// Entra roles held by the app's service principal, checked on each call (B3, B7).
    #[serde(default = "default_directory_roles")]
    pub directory_roles: Vec<String>,
    /// Reads show a remediation write only this long after it (../shared/reference/m365-api.md §G 11).
    #[serde(default)]
    pub write_visible_after_ms: u64,
    /// A refusal the token endpoint answers this tenant's app with (../shared/reference/m365-api.md §G 13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_refusal: Option<TokenRefusal>,
    /// The Microsoft cloud the tenant lives in (../shared/reference/m365-api.md §G 3).
    #[serde(default)]
    pub cloud: TenantCloud,
}

/// The clouds the sandbox serves from its one base URL: GCC's Management API under the
/// path prefix `/gcc` (see activity.rs); Entra, Graph and Exchange are shared, as GCC
/// shares the commercial ones (../shared/reference/m365-api.md §G 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantCloud {
    /// The commercial cloud, its Management API at the root of the base URL.
    #[default]
    Global,
    /// GCC (US Government Community Cloud), its Management API under `/gcc`.
    Gcc,
}

impl TenantCloud {
    /// Every cloud the sandbox serves.
    pub const ALL: [TenantCloud; 2] = [TenantCloud::Global, TenantCloud::Gcc];

    /// Where this cloud's Management API is served, below the base URL.
    pub fn management_prefix(self) -> &'static str {
        match self {
            TenantCloud::Global => "",
            TenantCloud::Gcc => "/gcc",
        }
    }
}

/// Token-endpoint refusals that no request can cure (../shared/reference/m365-api.md §G 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRefusal {
    /// AADSTS500014: the Management API's service principal is disabled in the tenant.
    ServicePrincipalDisabled,
    /// AADSTS500011: the tenant has no Management API principal (no Office 365).
    ResourceNotFound,
    /// AADSTS7000112: the app itself is disabled.
    ApplicationDisabled,
}

/// A mailbox user; noise records are about these people.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The user principal name, unique in the tenant regardless of case.
    pub upn: String,
    /// The name Graph and Exchange show for the user.
    pub display_name: String,
    /// Whether the account may sign in at start (Graph's `accountEnabled`, default yes).
    #[serde(default = "yes")]
    pub account_enabled: bool,
    /// Synced from on-premises AD (Graph's `onPremisesSyncEnabled`).
    #[serde(default)]
    pub on_premises_sync: bool,
    /// Mailbox forwarding at start, `x@y` or `smtp:x@y`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarding_smtp_address: Option<String>,
    /// Inbox rules at start, in priority order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inbox_rules: Vec<InboxRule>,
    /// The mailbox's primary SMTP address when it is not the UPN (../shared/reference/m365-api.md §G 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_smtp_address: Option<String>,
    /// The mail nickname when it is not the UPN's local part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Further SMTP addresses the mailbox receives at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_addresses: Vec<String>,
    /// Entra admin roles the user holds, e.g. "Global Administrator" (§G 5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directory_roles: Vec<String>,
    /// Exchange's mailbox GUID, when a planted record names the mailbox by a given one
    /// (the corpus's Set-Mailbox record does, §G 12); else derived from the UPN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox_guid: Option<String>,
}

impl User {
    /// An enabled cloud user with an empty mailbox.
    pub fn new(upn: &str, display_name: &str) -> User {
        User {
            upn: upn.into(),
            display_name: display_name.into(),
            account_enabled: true,
            on_premises_sync: false,
            forwarding_smtp_address: None,
            inbox_rules: Vec::new(),
            primary_smtp_address: None,
            alias: None,
            proxy_addresses: Vec::new(),
            directory_roles: Vec::new(),
            mailbox_guid: None,
        }
    }
}

/// An inbox rule: the `New-InboxRule` parameters the sandbox models (empty lists are unset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxRule {
    /// The rule's name (`Name`), not empty.
    pub name: String,
    /// Whether the rule runs (`Enabled`, default yes).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Listed by `Get-InboxRule` only with `IncludeHidden`.
    #[serde(default)]
    pub hidden: bool,
    /// Recipients each message is forwarded to (`ForwardTo`).
    #[serde(default)]
    pub forward_to: Vec<String>,
    /// Recipients each message is forwarded to as an attachment (`ForwardAsAttachmentTo`).
    #[serde(default)]
    pub forward_as_attachment_to: Vec<String>,
    /// Recipients each message is redirected to, keeping its sender (`RedirectTo`).
    #[serde(default)]
    pub redirect_to: Vec<String>,
    /// Moves each message to Deleted Items (`DeleteMessage`).
    #[serde(default)]
    pub delete_message: bool,
    /// Soft-deletes each message (`SoftDeleteMessage`).
    #[serde(default)]
    pub soft_delete_message: bool,
    /// The folder each message is moved to (`MoveToFolder`).
    #[serde(default)]
    pub move_to_folder: Option<String>,
    /// Marks each message as read (`MarkAsRead`).
    #[serde(default)]
    pub mark_as_read: bool,
    /// Later rules are not run on a message this rule handled (`StopProcessingRules`).
    #[serde(default)]
    pub stop_processing_rules: bool,
    /// Condition: the message is from one of these senders (`From`).
    #[serde(default)]
    pub from: Vec<String>,
    /// Condition: the subject holds one of these words (`SubjectContainsWords`).
    #[serde(default)]
    pub subject_contains_words: Vec<String>,
    /// Condition: the subject or body holds one of these words (`SubjectOrBodyContainsWords`).
    #[serde(default)]
    pub subject_or_body_contains_words: Vec<String>,
    /// Condition: the body holds one of these words (`BodyContainsWords`).
    #[serde(default)]
    pub body_contains_words: Vec<String>,
}

/// A raw audit record served verbatim in the feed of `tenant_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlantedRecord {
    /// The GUID of the scenario tenant whose feed serves the record.
    pub tenant_id: String,
    /// The content type whose listing holds the record's blob.
    pub content_type: ContentType,
    /// Seconds after sandbox start when the record's blob is created (may be negative).
    #[serde(default)]
    pub release_after_s: i64,
    /// The audit record, a JSON object served as given (but see `Scenario::rebase_times`).
    pub record: Value,
    /// The blob is listed but fetching it answers AF20051.
    #[serde(default)]
    pub expired: bool,
}

/// Background traffic per tenant, generated from `seed`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Noise {
    /// How many background `Audit.Exchange` records each tenant's feed holds (default
    /// none). `Audit.AzureActiveDirectory` gets a fifth as many and `Audit.General` a
    /// twentieth, rounded down; the other content types get none.
    #[serde(default)]
    pub records_per_tenant: usize,
    /// Seeds the blob layout and the records' content: one seed, the same noise (relative
    /// to the sandbox's start).
    #[serde(default)]
    pub seed: u64,
    /// Noise blobs are created over `[start - spread_s, start]`.
    #[serde(default = "default_spread_s")]
    pub spread_s: u64,
    /// Also the benign changes Rulewatch's rules raise by design, at low or medium
    /// severity: helpdesk turning IMAP on for a scanner's mailbox, an assistant given their
    /// manager's mailbox. Off by default, so a test can count exactly what it planted;
    /// a test of false alarms turns them on.
    #[serde(default)]
    pub alerting_look_alikes: bool,
}

/// The Management Activity API's content types (A7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ContentType {
    /// `Audit.AzureActiveDirectory`: Entra sign-ins and directory changes.
    #[serde(rename = "Audit.AzureActiveDirectory")]
    AzureActiveDirectory,
    /// `Audit.Exchange`: Exchange admin and mailbox activity.
    #[serde(rename = "Audit.Exchange")]
    Exchange,
    /// `Audit.SharePoint`: SharePoint and OneDrive activity.
    #[serde(rename = "Audit.SharePoint")]
    SharePoint,
    /// `Audit.General`: every other workload.
    #[serde(rename = "Audit.General")]
    General,
    /// `DLP.All`: data loss prevention events.
    #[serde(rename = "DLP.All")]
    Dlp,
}

impl ContentType {
    /// Every content type, in declaration order.
    pub const ALL: [ContentType; 5] = [
        ContentType::AzureActiveDirectory,
        ContentType::Exchange,
        ContentType::SharePoint,
        ContentType::General,
        ContentType::Dlp,
    ];

    /// The name the API uses, e.g. `Audit.Exchange`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::AzureActiveDirectory => "Audit.AzureActiveDirectory",
            ContentType::Exchange => "Audit.Exchange",
            ContentType::SharePoint => "Audit.SharePoint",
            ContentType::General => "Audit.General",
            ContentType::Dlp => "DLP.All",
        }
    }

    /// Case-insensitive, as Microsoft's query parameters are.
    pub fn parse(text: &str) -> Option<ContentType> {
        ContentType::ALL
            .into_iter()
            .find(|ct| ct.as_str().eq_ignore_ascii_case(text))
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A tenant's feed subscription, the same for every content type at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    /// Started: listed as enabled, and its content can be listed.
    #[default]
    Enabled,
    /// Never started: not listed, and a content listing answers AF20022.
    Absent,
    /// Stopped: listed as disabled, and a content listing answers AF20023.
    Disabled,
}

/// A scenario that cannot be used, naming the offending field.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The text is not JSON or does not have a scenario's shape.
    #[error("scenario field `{path}`: {message}")]
    Parse {
        /// Where the parser stopped, e.g. `tenants[0].users`; `.` for the whole text.
        path: String,
        /// The parser's complaint.
        message: String,
    },
    /// A field's value the sandbox cannot use.
    #[error("scenario field `{field}`: {message}")]
    Invalid {
        /// The field's path, e.g. `tenants[0].tenant_id`.
        field: String,
        /// What is wrong with the value.
        message: String,
    },
}

pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl Scenario {
    /// Parses and validates a scenario file's text.
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let scenario: Scenario =
            serde_path_to_error::deserialize(&mut de).map_err(|err| ScenarioError::Parse {
                path: err.path().to_string(),
                message: err.into_inner().to_string(),
            })?;
        de.end().map_err(|err| ScenarioError::Parse {
            path: ".".into(),
            message: err.to_string(),
        })?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Checks what serde cannot: identifiers, references between fields, ranges.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let mut ids = HashSet::new();
        for (i, tenant) in self.tenants.iter().enumerate() {
            let at = |field: &str| format!("tenants[{i}].{field}");
            if Uuid::parse_str(&tenant.tenant_id).is_err() {
                return Err(invalid(
                    at("tenant_id"),
                    format!("`{}` is not a GUID", tenant.tenant_id),
                ));
            }
            if !ids.insert(tenant.tenant_id.to_ascii_lowercase()) {
                return Err(invalid(
                    at("tenant_id"),
                    format!("`{}` is listed twice", tenant.tenant_id),
                ));
            }
            if Uuid::parse_str(&tenant.client_id).is_err() {
                return Err(invalid(
                    at("client_id"),
                    format!("`{}` is not a GUID", tenant.client_id),
                ));
            }
            if tenant.domains.is_empty() {
                return Err(invalid(at("domains"), "needs at least one domain"));
            }
            if let Some(j) = tenant
                .domains
                .iter()
                .position(|d| d.is_empty() || d.contains(['@', '/', ' ']))
            {
                return Err(invalid(
                    at(&format!("domains[{j}]")),
                    "is not a domain name",
                ));
            }
            if let Some(j) = tenant.users.iter().position(|u| !u.upn.contains('@')) {
                return Err(invalid(
                    at(&format!("users[{j}].upn")),
                    "is not a user principal name",
                ));
            }
            let mut upns = HashSet::new();
            for (j, user) in tenant.users.iter().enumerate() {
                if !upns.insert(user.upn.to_ascii_lowercase()) {
                    return Err(invalid(
                        at(&format!("users[{j}].upn")),
                        format!("`{}` is listed twice", user.upn),
                    ));
                }
                if let Some(k) = user
                    .primary_smtp_address
                    .iter()
                    .chain(&user.proxy_addresses)
                    .position(|a| !a.contains('@') || a.contains(char::is_whitespace))
                {
                    return Err(invalid(
                        at(&format!("users[{j}]")),
                        format!("address {k} of `{}` is not an SMTP address", user.upn),
                    ));
                }
                if let Some(guid) = &user.mailbox_guid
                    && Uuid::parse_str(guid).is_err()
                {
                    return Err(invalid(
                        at(&format!("users[{j}].mailbox_guid")),
                        format!("`{guid}` is not a GUID"),
                    ));
                }
                if let Some(k) = user.inbox_rules.iter().position(|r| r.name.is_empty()) {
                    return Err(invalid(
                        at(&format!("users[{j}].inbox_rules[{k}].name")),
                        "must not be empty",
                    ));
                }
            }
            for (j, pem) in tenant.certificates.iter().enumerate() {
                certs::RegisteredCert::from_pem(pem)
                    .map_err(|msg| invalid(at(&format!("certificates[{j}]")), msg))?;
            }
        }
        for (i, record) in self.records.iter().enumerate() {
            if !ids.contains(&record.tenant_id.to_ascii_lowercase()) {
                return Err(invalid(
                    format!("records[{i}].tenant_id"),
                    format!("no tenant `{}`", record.tenant_id),
                ));
            }
            if !record.record.is_object() {
                return Err(invalid(
                    format!("records[{i}].record"),
                    "must be a JSON object",
                ));
            }
        }
        for (field, value) in [
            ("page_size", self.page_size),
            ("records_per_blob", self.records_per_blob),
        ] {
            if value == 0 {
                return Err(invalid(field, "must be at least 1"));
            }
        }
        if !(1..=MAX_CLOCK_SPEED).contains(&self.clock_speed) {
            return Err(invalid(
                "clock_speed",
                format!("must be from 1 to {MAX_CLOCK_SPEED}"),
            ));
        }
        if self.token_lifetime_s == 0 {
            return Err(invalid("token_lifetime_s", "must be at least 1"));
        }
        if HeaderName::from_bytes(self.next_page_header.as_bytes()).is_err() {
            return Err(invalid("next_page_header", "is not an HTTP header name"));
        }
        if let Some(geo) = &self.geo {
            geo.validate()?;
        }
        if let Some(partner) = &self.partner {
            partner.validate(&ids)?;
        }
        self.faults.validate(&ids)
    }
}

impl Tenant {
    /// The `*.onmicrosoft.com` domain, which Exchange records name as the organization.
    pub fn initial_domain(&self) -> &str {
        self.domains
            .iter()
            .find(|d| is_initial(d))
            .or(self.domains.first())
            .map_or("", String::as_str)
    }

    /// The default domain: the first vanity domain, else the initial one.
    pub fn primary_domain(&self) -> &str {
        self.domains
            .iter()
            .find(|d| !is_initial(d))
            .or(self.domains.first())
            .map_or("", String::as_str)
    }
}

pub(crate) fn is_initial(domain: &str) -> bool {
    domain.to_ascii_lowercase().ends_with(".onmicrosoft.com")
}

impl Default for Noise {
    fn default() -> Self {
        Noise {
            records_per_tenant: 0,
            seed: 0,
            spread_s: default_spread_s(),
            alerting_look_alikes: false,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_page_size() -> usize {
    100
}
fn default_records_per_blob() -> usize {
    100
}
/// Faster than this, one HTTP round trip spans scenario minutes and the feed's
/// one-minute listing granularity stops meaning anything.
const MAX_CLOCK_SPEED: u32 = 3_600;

fn default_clock_speed() -> u32 {
    1
}

fn default_token_lifetime_s() -> u64 {
    3599
}
fn default_next_page_header() -> String {
    "NextPageUri".into()
}
fn default_spread_s() -> u64 {
    21600
}
pub(crate) fn default_roles() -> Vec<String> {
    [
        "ActivityFeed.Read",
        "Domain.Read.All",
        "User.Read.All",
        "User.EnableDisableAccount.All",
        "User.RevokeSessions.All",
        "User-PasswordProfile.ReadWrite.All",
        "Exchange.ManageAsApp",
    ]
    .map(String::from)
    .to_vec()
}

pub(crate) fn default_directory_roles() -> Vec<String> {
    vec!["User Administrator".into(), "Exchange Administrator".into()]
}
