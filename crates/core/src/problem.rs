//! Why a tenant could not be scanned, in words that tell the technician what to do.
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

/// What kind of problem it is, so a front end or the next scan can react to it; serialised
/// (and stored) by its snake_case name, the one [`ProblemKind::as_str`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The client secret or certificate was refused.
    BadCredentials,
    /// The app is not consented (installed) in the tenant.
    ConsentMissing,
    /// Consented, but an API permission is not granted.
    PermissionMissing,
    /// Entra does not know the tenant id (AADSTS90002, 900023, 90072).
    TenantNotFound,
    /// Audit logging is off in the tenant, so there is no audit log to read.
    AuditDisabled,
    /// The tenant's Management Activity subscription is off, and Rulewatch cannot start
    /// it yet (one start every 15 minutes) or Microsoft still reports it off after a start.
    SubscriptionDisabled,
    /// Still throttled after every retry.
    Throttled,
    /// Microsoft could not be reached or kept failing.
    Unreachable,
    /// The OS keychain is unreachable or lacks the tenant's secret.
    Keychain,
    /// The partner account's sign-in lapsed or was revoked: sign in again.
    SignInNeeded,
    /// Microsoft answered something Rulewatch cannot read.
    BadResponse,
    /// A content blob stayed unreadable; the others were processed.
    BlobFailed,
    /// Content expired before it could be read: events in that range are lost.
    DataGap,
    /// An answer was larger than Rulewatch reads of its kind.
    TooLarge,
    /// A URL in Microsoft's answer, or a redirect, pointed outside the tenant's cloud.
    ForeignHost,
    /// A service's principal is disabled in the tenant (AADSTS500014).
    ServiceDisabled,
    /// The tenant has no such service at all, e.g. no Office 365 (AADSTS500011).
    ServiceMissing,
    /// The app itself is disabled (AADSTS7000112).
    AppDisabled,
    /// Rulewatch's own database on this machine failed: nothing Microsoft said.
    LocalDatabase,
}

impl ProblemKind {
    /// The kind's stable snake_case name, e.g. `consent_missing`: the serialised form.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::BadCredentials => "bad_credentials",
            ProblemKind::ConsentMissing => "consent_missing",
            ProblemKind::PermissionMissing => "permission_missing",
            ProblemKind::TenantNotFound => "tenant_not_found",
            ProblemKind::AuditDisabled => "audit_disabled",
            ProblemKind::SubscriptionDisabled => "subscription_disabled",
            ProblemKind::Throttled => "throttled",
            ProblemKind::Unreachable => "unreachable",
            ProblemKind::Keychain => "keychain",
            ProblemKind::SignInNeeded => "sign_in_needed",
            ProblemKind::BadResponse => "bad_response",
            ProblemKind::BlobFailed => "blob_failed",
            ProblemKind::DataGap => "data_gap",
            ProblemKind::TooLarge => "too_large",
            ProblemKind::ForeignHost => "foreign_host",
            ProblemKind::ServiceDisabled => "service_disabled",
            ProblemKind::ServiceMissing => "service_missing",
            ProblemKind::AppDisabled => "app_disabled",
            ProblemKind::LocalDatabase => "local_database",
        }
    }
}

/// A problem with one tenant or one call; it displays as its message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Problem {
    /// What kind of problem it is.
    pub kind: ProblemKind,
    /// What happened, in plain words, and what the technician can do about it.
    pub message: String,
}

impl Problem {
    /// A problem of `kind`, explained by `message`.
    pub fn new(kind: ProblemKind, message: impl Into<String>) -> Self {
        Problem {
            kind,
            message: message.into(),
        }
    }
}

impl From<crate::secrets::SecretError> for Problem {
    fn from(e: crate::secrets::SecretError) -> Self {
        Problem::new(ProblemKind::Keychain, e.to_string())
    }
}
