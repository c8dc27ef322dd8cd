//! Why a tenant could not be scanned, in words that tell the technician what to do.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The client secret or certificate was refused.
    BadCredentials,
    /// The app is not consented (installed) in the tenant.
    ConsentMissing,
    /// Consented, but an API permission is not granted.
    PermissionMissing,
    TenantNotFound,
    AuditDisabled,
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

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Problem {
    pub kind: ProblemKind,
    pub message: String,
}

impl Problem {
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
