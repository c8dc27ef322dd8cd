//! Rows as the rest of Rulewatch sees them: the model the front ends show, every
//! public item documented.
#![warn(missing_docs)]

use super::db::{self, Row};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::parse_ts;
use crate::auth::{AppIdentity, AuthMethod};
use crate::cloud::Cloud;
use crate::detect::{Evidence, Severity};

/// A configured tenant (no secret: those are in the keychain).
#[derive(Debug, Clone, Serialize)]
pub struct TenantRow {
    /// The tenant's id (a lower-case GUID).
    pub tenant_id: String,
    /// The name the technician gave it.
    pub name: String,
    /// The app registration's client id.
    pub client_id: String,
    /// How Rulewatch signs in to it: client secret, certificate, or the partner account.
    #[serde(serialize_with = "method_name")]
    pub auth_method: AuthMethod,
    /// The tenant's Microsoft cloud; `None` (before it was recorded): the installation's.
    pub cloud: Option<Cloud>,
}

fn method_name<S: serde::Serializer>(m: &AuthMethod, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(method_str(m))
}

fn method_str(m: &AuthMethod) -> &'static str {
    match m {
        AuthMethod::ClientSecret => "client_secret",
        AuthMethod::Certificate { .. } => "certificate",
        AuthMethod::Partner => "partner",
    }
}

impl TenantRow {
    /// How Rulewatch signs in to this tenant.
    pub fn app(&self) -> AppIdentity {
        AppIdentity {
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            method: self.auth_method.clone(),
            cloud: self.cloud,
        }
    }

    pub(super) fn auth_method_str(&self) -> &'static str {
        method_str(&self.auth_method)
    }

    pub(super) fn cert_thumbprint(&self) -> Option<&str> {
        match &self.auth_method {
            AuthMethod::Certificate { thumbprint_s256 } => Some(thumbprint_s256),
            AuthMethod::ClientSecret | AuthMethod::Partner => None,
        }
    }

    pub(super) fn from_row(r: &Row<'_>) -> db::Result<Self> {
        let method: String = r.get(3)?;
        let thumbprint: Option<String> = r.get(4)?;
        Ok(TenantRow {
            tenant_id: r.get(0)?,
            name: r.get(1)?,
            client_id: r.get(2)?,
            auth_method: match (method.as_str(), thumbprint) {
                ("certificate", Some(thumbprint_s256)) => {
                    AuthMethod::Certificate { thumbprint_s256 }
                }
                ("partner", _) => AuthMethod::Partner,
                _ => AuthMethod::ClientSecret,
            },
            cloud: r.get::<_, Option<String>>(5)?.and_then(|c| c.parse().ok()),
        })
    }
}

/// How a tenant's last scan went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantState {
    /// Not scanned yet.
    NotScanned,
    /// Scanned completely.
    Ok,
    /// Scanned, but some content could not be read or was lost; see the message.
    Partial,
    /// Could not be scanned; see the problem and message.
    Error,
}

impl TenantState {
    /// The name stored and serialised (`not_scanned`, `ok`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TenantState::NotScanned => "not_scanned",
            TenantState::Ok => "ok",
            TenantState::Partial => "partial",
            TenantState::Error => "error",
        }
    }

    pub(super) fn parse(s: &str) -> Self {
        match s {
            "ok" => TenantState::Ok,
            "partial" => TenantState::Partial,
            "error" => TenantState::Error,
            _ => TenantState::NotScanned,
        }
    }
}

/// A tenant's scan state, as `rulewatch status` and the panel show it.
#[derive(Debug, Clone, Serialize)]
pub struct TenantStatus {
    /// The tenant's id.
    pub tenant_id: String,
    /// Its name.
    pub name: String,
    /// How its last scan went.
    pub state: TenantState,
    /// The kind of problem of its last scan, if any.
    pub problem: Option<String>,
    /// What went wrong, in words.
    pub message: Option<String>,
    /// When it was last scanned.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When it was last scanned completely.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Every content blob created before this instant has been read.
    pub data_complete_until: Option<DateTime<Utc>>,
    /// Requests throttled in its last scan.
    pub throttled_last_scan: u64,
    /// Requests retried in its last scan.
    pub retried_last_scan: u64,
    /// Its open alerts.
    pub open_alerts: u64,
    /// Reached through the partner account (removing it excludes the customer).
    pub partner: bool,
    /// The tenant's Microsoft cloud, when recorded.
    pub cloud: Option<Cloud>,
}

impl TenantStatus {
    pub(super) fn from_row(r: &Row<'_>) -> db::Result<Self> {
        let state: String = r.get(2)?;
        let at = |i: usize| -> db::Result<Option<DateTime<Utc>>> {
            Ok(r.get::<_, Option<String>>(i)?.as_deref().and_then(parse_ts))
        };
        Ok(TenantStatus {
            tenant_id: r.get(0)?,
            name: r.get(1)?,
            state: TenantState::parse(&state),
            problem: r.get(3)?,
            message: r.get(4)?,
            last_attempt_at: at(5)?,
            last_success_at: at(6)?,
            throttled_last_scan: r.get::<_, i64>(7)? as u64,
            retried_last_scan: r.get::<_, i64>(8)? as u64,
            data_complete_until: at(9)?,
            open_alerts: r.get::<_, i64>(10)? as u64,
            partner: r.get(11)?,
            cloud: r.get::<_, Option<String>>(12)?.and_then(|c| c.parse().ok()),
        })
    }
}

/// An alert about to be stored.
#[derive(Debug, Clone)]
pub struct NewAlert {
    /// The tenant's name when it was found.
    pub tenant_name: String,
    /// The audit record's `Id`.
    pub record_id: String,
    /// The rule that found it.
    pub rule: String,
    /// How urgent it is.
    pub severity: Severity,
    /// The record's operation.
    pub operation: String,
    /// The mailbox that was changed.
    pub target: String,
    /// Who made the change.
    pub actor: String,
    /// Where the change came from.
    pub client_ip: Option<String>,
    /// One plain sentence for the technician.
    pub summary: String,
    /// The rule's evidence.
    pub details: Evidence,
    /// When the change was made.
    pub event_time: Option<DateTime<Utc>>,
    /// The audit record as Microsoft served it.
    pub raw_record: String,
    /// Why the allowlist covers it: stored as suppressed and never delivered.
    pub suppressed_by: Option<String>,
    /// Where the change came from (see `enrich`).
    pub origin: Option<Value>,
    /// The UPN of `target` when the record named the mailbox by GUID or alias and
    /// Exchange said whose it is; alerts on one mailbox form one incident by it.
    pub mailbox: Option<String>,
}

/// One successful sign-in, as collected from `Audit.AzureActiveDirectory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// Lower-cased UPN.
    pub user: String,
    /// The address signed in from.
    pub ip: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Where an alert stands, stored and serialised as its snake-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// New, not reviewed.
    Open,
    /// Seen by a technician, still active.
    Acknowledged,
    /// Reviewed and judged harmless.
    FalsePositive,
    /// Covered by the allowlist: stored, never notified.
    Suppressed,
    /// Dealt with: the account is safe again.
    Resolved,
}

impl AlertStatus {
    /// Every status.
    pub const ALL: [AlertStatus; 5] = [
        AlertStatus::Open,
        AlertStatus::Acknowledged,
        AlertStatus::FalsePositive,
        AlertStatus::Suppressed,
        AlertStatus::Resolved,
    ];

    /// The name stored and serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::FalsePositive => "false_positive",
            AlertStatus::Suppressed => "suppressed",
            AlertStatus::Resolved => "resolved",
        }
    }

    /// The status named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        AlertStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// For people: "false positive".
    pub fn words(self) -> &'static str {
        match self {
            AlertStatus::FalsePositive => "false positive",
            other => other.as_str(),
        }
    }

    /// What a technician may set: suppression is the allowlist's alone.
    pub fn settable(self) -> bool {
        self != AlertStatus::Suppressed
    }
}

/// A column holding one of an enum's names; another text is a damaged database.
pub(super) fn named<T>(r: &Row<'_>, i: usize, parse: fn(&str) -> Option<T>) -> db::Result<T> {
    let text: String = r.get(i)?;
    parse(&text).ok_or(db::Error::Unreadable {
        column: i,
        value: text,
    })
}

/// A stored alert, as `scan --json` and `alerts --json` print it.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// The alert's number.
    pub id: i64,
    /// The tenant's id.
    pub tenant_id: String,
    /// The tenant's name when it was found.
    pub tenant_name: String,
    /// The rule that found it.
    pub rule: String,
    /// How urgent it is.
    pub severity: Severity,
    /// The audit record's `Id`.
    pub record_id: String,
    /// The record's operation.
    pub operation: String,
    /// The mailbox that was changed.
    pub target: String,
    /// Who made the change.
    pub actor: String,
    /// Where the change came from, as the record gives it.
    pub client_ip: Option<String>,
    /// One plain sentence for the technician.
    pub summary: String,
    /// The rule's evidence (destinations, rule name, actions…).
    pub details: Evidence,
    /// When the change was made.
    pub event_time: Option<DateTime<Utc>>,
    /// When Rulewatch found it.
    pub detected_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub status: AlertStatus,
    /// The content blob it came from.
    pub content_id: Option<String>,
    /// Why the allowlist covers it, when it does.
    pub suppressed_by: Option<String>,
    /// Where the change came from: location and familiarity (see `enrich`).
    pub origin: Option<Value>,
    /// The technician's note when they marked it (a false positive's reason).
    pub status_note: Option<String>,
    /// The incident it belongs to (none when suppressed).
    pub incident_id: Option<i64>,
    /// The technician who took it, while they hold it.
    pub assignee: Option<String>,
    /// The UPN Exchange gave for `target` when the record named the mailbox by GUID or
    /// alias.
    pub mailbox: Option<String>,
}

impl Alert {
    pub(super) fn from_row(r: &Row<'_>) -> db::Result<Self> {
        let rule: String = r.get(3)?;
        let details: String = r.get(11)?;
        let at = |i: usize| -> db::Result<Option<DateTime<Utc>>> {
            Ok(r.get::<_, Option<String>>(i)?.as_deref().and_then(parse_ts))
        };
        Ok(Alert {
            id: r.get(0)?,
            tenant_id: r.get(1)?,
            tenant_name: r.get(2)?,
            details: Evidence::read(&rule, serde_json::from_str(&details).unwrap_or(Value::Null)),
            rule,
            severity: named(r, 4, Severity::parse)?,
            record_id: r.get(5)?,
            operation: r.get(6)?,
            target: r.get(7)?,
            actor: r.get(8)?,
            client_ip: r.get(9)?,
            summary: r.get(10)?,
            event_time: at(12)?,
            detected_at: at(13)?,
            status: named(r, 14, AlertStatus::parse)?,
            content_id: r.get(15)?,
            suppressed_by: r.get(16)?,
            origin: r
                .get::<_, Option<String>>(17)?
                .and_then(|o| serde_json::from_str(&o).ok()),
            status_note: r.get(18)?,
            incident_id: r.get(19)?,
            assignee: r.get(20)?,
            mailbox: r.get(21)?,
        })
    }
}
