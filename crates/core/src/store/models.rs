//! Rows as the rest of Rulewatch sees them.

use chrono::{DateTime, Utc};
use rusqlite::Row;
use serde::Serialize;
use serde_json::Value;

use super::parse_ts;
use crate::auth::{AppIdentity, AuthMethod};
use crate::cloud::Cloud;
use crate::detect::Severity;

/// A configured tenant (no secret: those are in the keychain).
#[derive(Debug, Clone, Serialize)]
pub struct TenantRow {
    pub tenant_id: String,
    pub name: String,
    pub client_id: String,
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

    pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantState {
    NotScanned,
    /// Scanned completely.
    Ok,
    /// Scanned, but some content could not be read or was lost; see the message.
    Partial,
    /// Could not be scanned; see the problem and message.
    Error,
}

impl TenantState {
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

#[derive(Debug, Clone, Serialize)]
pub struct TenantStatus {
    pub tenant_id: String,
    pub name: String,
    pub state: TenantState,
    pub problem: Option<String>,
    pub message: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Every content blob created before this instant has been read.
    pub data_complete_until: Option<DateTime<Utc>>,
    pub throttled_last_scan: u64,
    pub retried_last_scan: u64,
    pub open_alerts: u64,
    /// Reached through the partner account (removing it excludes the customer).
    pub partner: bool,
    /// The tenant's Microsoft cloud, when recorded.
    pub cloud: Option<Cloud>,
}

impl TenantStatus {
    pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        let state: String = r.get(2)?;
        let at = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
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
    pub tenant_name: String,
    pub record_id: String,
    pub rule: String,
    pub severity: Severity,
    pub operation: String,
    pub target: String,
    pub actor: String,
    pub client_ip: Option<String>,
    pub summary: String,
    pub details: Value,
    pub event_time: Option<DateTime<Utc>>,
    pub raw_record: String,
    /// Why the allowlist covers it: stored as suppressed and never delivered.
    pub suppressed_by: Option<String>,
    /// Where the change came from (see `enrich`).
    pub origin: Option<Value>,
}

/// One successful sign-in, as collected from `Audit.AzureActiveDirectory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// Lower-cased UPN.
    pub user: String,
    pub ip: String,
    pub at: DateTime<Utc>,
}

/// Where an alert stands, stored and serialised as its snake-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    FalsePositive,
    /// Covered by the allowlist: stored, never notified.
    Suppressed,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 4] = [
        AlertStatus::Open,
        AlertStatus::Acknowledged,
        AlertStatus::FalsePositive,
        AlertStatus::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::FalsePositive => "false_positive",
            AlertStatus::Suppressed => "suppressed",
        }
    }

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
fn named<T>(r: &Row<'_>, i: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = r.get(i)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("'{text}' is not a known value").into(),
        )
    })
}

/// A stored alert, as `scan --json` and `alerts --json` print it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Alert {
    pub id: i64,
    pub tenant_id: String,
    pub tenant_name: String,
    pub rule: String,
    pub severity: Severity,
    pub record_id: String,
    pub operation: String,
    pub target: String,
    pub actor: String,
    pub client_ip: Option<String>,
    pub summary: String,
    pub details: Value,
    pub event_time: Option<DateTime<Utc>>,
    pub detected_at: Option<DateTime<Utc>>,
    pub status: AlertStatus,
    pub content_id: Option<String>,
    pub suppressed_by: Option<String>,
    pub origin: Option<Value>,
    /// The technician's note when they marked it (a false positive's reason).
    pub status_note: Option<String>,
}

impl Alert {
    pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        let details: String = r.get(11)?;
        let at = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
            Ok(r.get::<_, Option<String>>(i)?.as_deref().and_then(parse_ts))
        };
        Ok(Alert {
            id: r.get(0)?,
            tenant_id: r.get(1)?,
            tenant_name: r.get(2)?,
            rule: r.get(3)?,
            severity: named(r, 4, Severity::parse)?,
            record_id: r.get(5)?,
            operation: r.get(6)?,
            target: r.get(7)?,
            actor: r.get(8)?,
            client_ip: r.get(9)?,
            summary: r.get(10)?,
            details: serde_json::from_str(&details).unwrap_or(Value::Null),
            event_time: at(12)?,
            detected_at: at(13)?,
            status: named(r, 14, AlertStatus::parse)?,
            content_id: r.get(15)?,
            suppressed_by: r.get(16)?,
            origin: r
                .get::<_, Option<String>>(17)?
                .and_then(|o| serde_json::from_str(&o).ok()),
            status_note: r.get(18)?,
        })
    }
}
