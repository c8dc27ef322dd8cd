//! Every way a use case fails, with a kind a front end acts on: the desktop sends it to
//! the panel, the CLI adds the command that helps. The messages name no front end's
//! commands.

use crate::allowlist::TrustError;
use crate::deliver::ChannelError;
use crate::geo::MmdbError;
use crate::partner::CustomerError;
use crate::problem::Problem;
use crate::remediate::RemediateError;
use crate::report::ReportError;
use crate::secrets::SecretError;
use crate::store::StoreError;
use crate::team::TeamError;
use crate::tenants::TenantError;

use super::config::ConfigError;

/// Why a use case failed; [`Error::kind`] says what kind, [`Error::remedy`] what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The local database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The OS keychain.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A tenant could not be added or removed.
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// An allowlist entry was refused.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// A geolocation database was refused.
    #[error(transparent)]
    Mmdb(#[from] MmdbError),
    /// Secure and Remediate refused or failed.
    #[error(transparent)]
    Remediate(#[from] RemediateError),
    /// A partner customer could not be watched or excluded.
    #[error(transparent)]
    Customer(#[from] CustomerError),
    /// Microsoft, the network or the keychain, as a scan would report it.
    #[error(transparent)]
    Problem(#[from] Problem),
    /// A delivery channel was refused.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// An incident report could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Joining, leaving or reaching the team's database failed.
    #[error(transparent)]
    Team(#[from] TeamError),
    /// What was asked is refused: why, and what to give instead.
    #[error("{0}")]
    Invalid(String),
    /// Something on this machine failed: the sandbox did not start, a task stopped.
    #[error("{0}")]
    Failed(String),
}

/// What kind of failure: a front end decides on this, never on the message's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A problem Microsoft or the network reported, by its own kind's name.
    Problem(crate::problem::ProblemKind),
    /// The local database failed.
    LocalDatabase,
    /// The OS keychain failed or lacks a secret.
    Keychain,
    /// What was given is refused.
    InvalidInput,
    /// The partner account is not signed in.
    NotSignedIn,
    /// The tenant is not among the partner's customers.
    NotACustomer,
    /// The alert's account cannot be contained (not a mailbox, outside the tenant, …).
    NotContainable,
    /// A recorded step cannot be reversed.
    CannotUndo,
    /// Another technician holds the alert.
    HeldByColleague,
    /// Anything else.
    Failed,
}

impl ErrorKind {
    /// The kind's name, as the panel receives it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Problem(p) => p.as_str(),
            ErrorKind::LocalDatabase => "local_database",
            ErrorKind::Keychain => "keychain",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotSignedIn => "not_signed_in",
            ErrorKind::NotACustomer => "not_a_customer",
            ErrorKind::NotContainable => "not_containable",
            ErrorKind::CannotUndo => "cannot_undo",
            ErrorKind::HeldByColleague => "held_by_colleague",
            ErrorKind::Failed => "failed",
        }
    }
}

/// What the technician does next, for a front end to say its own way: the CLI names
/// its command, the panel its page or button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remedy {
    /// The tenant's secret is gone from the keychain: add the tenant again.
    AddTenantAgain {
        /// The tenant whose secret is gone.
        tenant_id: String,
    },
    /// A tenant of that id is configured already: remove it first.
    RemoveTenantFirst {
        /// The tenant already configured.
        tenant_id: String,
    },
    /// The partner account must sign in (again).
    SignInPartner,
    /// The ipstack key is gone from the keychain: give it again.
    GiveIpstackKey,
    /// A stored setting cannot be read: set it again (geolocation's: turn it off first).
    SetAgain {
        /// The setting's key.
        key: String,
    },
    /// The id names no tenant: list them.
    ListTenants,
    /// The id names no customer: list them.
    ListCustomers,
    /// The id names no entry: list them.
    ListAllowlist,
    /// The id names no step: list them.
    ListSteps,
    /// The remediation record does not check out: verify it whole.
    VerifyRecord,
    /// A colleague holds the alert: take it over, if they agree.
    TakeOver {
        /// The alert.
        id: i64,
    },
    /// Adopt the team record's key from a colleague's workstation that holds it.
    AdoptRecordKey,
}

impl Remedy {
    /// What to do about a problem a scan met, when there is a step to name.
    pub fn for_problem(p: &crate::problem::Problem) -> Option<Remedy> {
        (p.kind == crate::problem::ProblemKind::SignInNeeded).then_some(Remedy::SignInPartner)
    }
}

impl Error {
    /// What to do next, when there is a step to name.
    pub fn remedy(&self) -> Option<Remedy> {
        let store = |e: &StoreError| match e {
            StoreError::TenantExists(id) => Some(Remedy::RemoveTenantFirst {
                tenant_id: id.clone(),
            }),
            StoreError::NoTenant(_) => Some(Remedy::ListTenants),
            StoreError::NoTrustEntry(_) => Some(Remedy::ListAllowlist),
            StoreError::NoLogEntry(_) => Some(Remedy::ListSteps),
            StoreError::TamperedStep { .. } => Some(Remedy::VerifyRecord),
            StoreError::HeldBy { id, .. } => Some(Remedy::TakeOver { id: *id }),
            StoreError::RecordKeyElsewhere => Some(Remedy::AdoptRecordKey),
            StoreError::BadSetting { key, .. } => Some(Remedy::SetAgain { key: key.clone() }),
            StoreError::Keychain(e) => secret(e),
            _ => None,
        };
        fn secret(e: &SecretError) -> Option<Remedy> {
            match e {
                SecretError::Missing { tenant_id, .. } => Some(Remedy::AddTenantAgain {
                    tenant_id: tenant_id.clone(),
                }),
                SecretError::MissingIpstackKey => Some(Remedy::GiveIpstackKey),
                SecretError::NotSignedIn => Some(Remedy::SignInPartner),
                _ => None,
            }
        }
        match self {
            Error::Store(e)
            | Error::Tenant(TenantError::Store(e))
            | Error::Customer(CustomerError::Store(e))
            | Error::Report(ReportError::Store(e))
            | Error::Remediate(RemediateError::Store(e)) => store(e),
            Error::Secret(e)
            | Error::Tenant(TenantError::Secret(e))
            | Error::Team(TeamError::Secret(e)) => secret(e),
            Error::Team(TeamError::Store(e)) => store(e),
            Error::Customer(CustomerError::NotSignedIn) => Some(Remedy::SignInPartner),
            Error::Customer(CustomerError::NotACustomer(_)) => Some(Remedy::ListCustomers),
            Error::Problem(p) => Remedy::for_problem(p),
            _ => None,
        }
    }

    /// What kind of failure, for a front end to act on.
    pub fn kind(&self) -> ErrorKind {
        use RemediateError as R;
        match self {
            Error::Store(StoreError::HeldBy { .. }) => ErrorKind::HeldByColleague,
            Error::Store(StoreError::RecordKeyElsewhere)
            | Error::Remediate(RemediateError::Store(StoreError::RecordKeyElsewhere)) => {
                ErrorKind::Keychain
            }
            Error::Store(StoreError::NotTheRecordKey(_)) => ErrorKind::InvalidInput,
            Error::Store(_) => ErrorKind::LocalDatabase,
            Error::Secret(_) => ErrorKind::Keychain,
            Error::Tenant(TenantError::Invalid(_)) => ErrorKind::InvalidInput,
            Error::Tenant(TenantError::Store(_)) => ErrorKind::LocalDatabase,
            Error::Tenant(TenantError::Secret(_)) => ErrorKind::Keychain,
            Error::Trust(_) | Error::Mmdb(_) | Error::Config(_) | Error::Invalid(_) => {
                ErrorKind::InvalidInput
            }
            Error::Remediate(e) => match e {
                R::Store(_) => ErrorKind::LocalDatabase,
                R::NotAMailbox { .. }
                | R::Unresolved { .. }
                | R::FanIn { .. }
                | R::MailFlowRule { .. }
                | R::OutsideTenant { .. } => ErrorKind::NotContainable,
                R::CannotUndo { .. } => ErrorKind::CannotUndo,
                R::UnknownStep(_) | R::Conflict(_) | R::NothingChosen => ErrorKind::InvalidInput,
            },
            Error::Customer(CustomerError::NotACustomer(_)) => ErrorKind::NotACustomer,
            Error::Customer(CustomerError::NotSignedIn) => ErrorKind::NotSignedIn,
            Error::Customer(CustomerError::Store(_)) => ErrorKind::LocalDatabase,
            Error::Problem(p) => ErrorKind::Problem(p.kind),
            Error::Report(ReportError::Store(_)) => ErrorKind::LocalDatabase,
            Error::Channel(ChannelError::Invalid(_)) => ErrorKind::InvalidInput,
            Error::Channel(ChannelError::Unreachable(_)) => ErrorKind::Failed,
            Error::Channel(ChannelError::Store(_)) => ErrorKind::LocalDatabase,
            Error::Channel(ChannelError::Secret(_)) => ErrorKind::Keychain,
            Error::Report(ReportError::Write { .. }) | Error::Failed(_) => ErrorKind::Failed,
            Error::Team(TeamError::BadUrl(_) | TeamError::AlreadyJoined(_)) => {
                ErrorKind::InvalidInput
            }
            Error::Team(TeamError::Unreachable { .. } | TeamError::File { .. }) => {
                ErrorKind::Failed
            }
            Error::Team(TeamError::Secret(_)) => ErrorKind::Keychain,
            Error::Team(TeamError::Store(_)) => ErrorKind::LocalDatabase,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ProblemKind;

    #[test]
    fn each_failure_has_the_kind_a_front_end_acts_on() {
        let kind = |e: Error| e.kind().as_str();
        assert_eq!(
            kind(TenantError::Invalid("not a GUID".into()).into()),
            "invalid_input"
        );
        assert_eq!(
            kind(Problem::new(ProblemKind::SignInNeeded, "sign in again").into()),
            "sign_in_needed"
        );
        assert_eq!(kind(StoreError::NoAlert(7).into()), "local_database");
        assert_eq!(kind(CustomerError::NotSignedIn.into()), "not_signed_in");
        assert_eq!(kind(RemediateError::NothingChosen.into()), "invalid_input");
        assert_eq!(kind(Error::Failed("x".into())), "failed");
    }

    #[test]
    fn a_failure_with_a_next_step_names_it_without_naming_a_front_end() {
        let missing: Error = SecretError::Missing {
            tenant_id: "t1".into(),
            what: "client secret",
        }
        .into();
        assert_eq!(
            missing.remedy(),
            Some(Remedy::AddTenantAgain {
                tenant_id: "t1".into()
            })
        );
        let inside: Error = TenantError::Store(StoreError::NoTenant("t2".into())).into();
        assert_eq!(inside.remedy(), Some(Remedy::ListTenants));
        assert_eq!(
            Error::from(CustomerError::NotSignedIn).remedy(),
            Some(Remedy::SignInPartner)
        );
        assert_eq!(Error::Invalid("x".into()).remedy(), None);
        for e in [missing, inside, Error::from(CustomerError::NotSignedIn)] {
            assert!(!e.to_string().contains("rulewatch "), "{e}");
        }
    }
}
