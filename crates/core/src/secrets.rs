//! Secrets (client secrets, certificate keys, the ipstack API key) live only in the OS keychain: Windows
//! Credential Manager, macOS Keychain, the Secret Service on Linux. Nothing here ever
//! formats a secret into an error or log line.
#![warn(missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use keyring_core::CredentialStore;
use secrecy::{ExposeSecret, SecretSlice};

const SERVICE: &str = "rulewatch";

/// Which secret an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// A tenant app's client secret, as text.
    ClientSecret,
    /// The certificate's RSA private key, PKCS#1 DER.
    CertificateKey,
    /// The geolocation API key. It belongs to no tenant: the tenant id given with it is
    /// ignored (pass [`NO_TENANT`]).
    IpstackKey,
    /// The signed-in partner account's refresh token; one per installation, like the
    /// ipstack key.
    PartnerRefreshToken,
    /// The key that signs the remediation record (HMAC-SHA256). One per record: the id
    /// given with it is the record's own id, not a tenant's.
    RecordKey,
    /// The key a webhook channel signs its deliveries with (HMAC-SHA256). The id given with
    /// it is the channel's name, not a tenant's.
    ChannelSecret,
    /// The password of the team's PostgreSQL database. The id given with it is the
    /// workstation's (team.json), not a tenant's.
    TeamPassword,
}

/// The tenant id to pass with secrets that belong to no tenant.
pub const NO_TENANT: &str = "";

impl SecretKind {
    /// The kinds a tenant owns, all removed with the tenant.
    pub const PER_TENANT: [SecretKind; 2] = [SecretKind::ClientSecret, SecretKind::CertificateKey];

    fn account(self, tenant_id: &str) -> String {
        match self {
            SecretKind::ClientSecret => format!("tenant/{tenant_id}/client-secret"),
            SecretKind::CertificateKey => format!("tenant/{tenant_id}/certificate-key"),
            SecretKind::IpstackKey => "geo/ipstack-api-key".into(),
            SecretKind::PartnerRefreshToken => "partner/refresh-token".into(),
            SecretKind::RecordKey => format!("remediation/{tenant_id}/record-key"),
            SecretKind::ChannelSecret => format!("channel/{tenant_id}/secret"),
            SecretKind::TeamPassword => format!("team/{tenant_id}/database-password"),
        }
    }

    /// Entries of kinds that belong to no tenant are one per keychain, whatever id is given.
    fn owner(self, tenant_id: &str) -> &str {
        match self {
            SecretKind::IpstackKey | SecretKind::PartnerRefreshToken => NO_TENANT,
            SecretKind::ClientSecret
            | SecretKind::CertificateKey
            | SecretKind::RecordKey
            | SecretKind::ChannelSecret
            | SecretKind::TeamPassword => tenant_id,
        }
    }

    fn missing(self, tenant_id: &str) -> SecretError {
        match self {
            SecretKind::IpstackKey => SecretError::MissingIpstackKey,
            SecretKind::PartnerRefreshToken => SecretError::NotSignedIn,
            SecretKind::RecordKey => SecretError::MissingRecordKey,
            SecretKind::TeamPassword => SecretError::MissingTeamPassword,
            SecretKind::ChannelSecret => SecretError::MissingChannelSecret {
                channel: tenant_id.into(),
            },
            SecretKind::ClientSecret | SecretKind::CertificateKey => SecretError::Missing {
                tenant_id: tenant_id.into(),
                what: describe(self),
            },
        }
    }
}

/// Why a secret could not be stored, read or removed. No message ever holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No keychain can be reached (none running, or none for this session).
    #[error(
        "no OS keychain is reachable ({detail}). Rulewatch keeps secrets only in the keychain. \
         On Linux start a Secret Service provider (for example gnome-keyring or KeePassXC) in \
         your desktop session, or run inside `dbus-run-session` with \
         `gnome-keyring-daemon --unlock` for a headless machine; then try again"
    )]
    Unavailable {
        /// The platform's diagnostic.
        detail: String,
    },
    /// The keychain has no such secret for the tenant.
    #[error("the keychain has no {what} for tenant {tenant_id}: add the tenant again")]
    Missing {
        /// The tenant.
        tenant_id: String,
        /// Which secret, in words, e.g. "client secret".
        what: &'static str,
    },
    /// A channel's secret (a webhook's signing secret, a chat webhook's URL, a mail
    /// relay's password) is not in the keychain.
    #[error("the keychain has no secret for channel {channel}: remove it and add it again")]
    MissingChannelSecret {
        /// The channel.
        channel: String,
    },
    /// No ipstack API key is stored.
    #[error("the keychain has no ipstack API key: give one again")]
    MissingIpstackKey,
    /// No partner refresh token is stored: nobody is signed in.
    #[error("no partner account is signed in: sign in first")]
    NotSignedIn,
    /// The key that signs a remediation record is not in the keychain, so the record's
    /// signed rows cannot be checked.
    #[error(
        "the keychain holds no key for this remediation record, so its signed rows cannot be checked: \
         the keychain was reset or replaced, or the database was copied from another computer or account"
    )]
    MissingRecordKey,
    /// The team database's password is not in the keychain; the server may not need one.
    #[error(
        "the keychain has no password for the team's database: leave the team and join it again"
    )]
    MissingTeamPassword,
    /// The keychain refused, or a stored secret is unusable.
    #[error("the keychain refused the operation ({detail})")]
    Failed {
        /// The keychain's diagnostic, or what is wrong with the secret.
        detail: String,
    },
    /// A secret that travels was asked for while every request goes to an endpoint
    /// override on another machine the user has not trusted.
    #[error(
        "the endpoint override (RULEWATCH_ENDPOINTS or --endpoints) points at {host}, which is neither Microsoft \
         nor this machine: Rulewatch does not send the keychain's secrets there unless you trust it with \
         --trust-endpoints (RULEWATCH_TRUST_ENDPOINTS=1)"
    )]
    Withheld {
        /// The override's host (and port).
        host: String,
    },
}

/// Where secrets are kept. The keychain in normal use; memory for the throwaway demo.
pub trait SecretStore: Send + Sync {
    /// Stores `secret` as the `kind` of `tenant_id` (or of a record), replacing any there.
    /// Kinds that belong to no tenant ignore the id.
    fn set(&self, tenant_id: &str, kind: SecretKind, secret: &[u8]) -> Result<(), SecretError>;
    /// The stored secret. A missing one is the kind's own error: [`SecretError::Missing`],
    /// [`SecretError::MissingIpstackKey`], [`SecretError::NotSignedIn`] or
    /// [`SecretError::MissingRecordKey`].
    fn get(&self, tenant_id: &str, kind: SecretKind) -> Result<SecretSlice<u8>, SecretError>;
    /// Removes the entry; an absent entry is not an error.
    fn delete(&self, tenant_id: &str, kind: SecretKind) -> Result<(), SecretError>;
}

fn describe(kind: SecretKind) -> &'static str {
    match kind {
        SecretKind::ClientSecret => "client secret",
        SecretKind::CertificateKey => "certificate key",
        SecretKind::IpstackKey => "ipstack API key",
        SecretKind::PartnerRefreshToken => "partner refresh token",
        SecretKind::RecordKey => "remediation record key",
        SecretKind::ChannelSecret => "channel secret (signing secret, webhook URL or password)",
        SecretKind::TeamPassword => "team database password",
    }
}

/// The OS keychain through the Keyring project's stores. Every `Keychain` shares one
/// connection to the store, opened on first use and again after a failure.
#[derive(Debug, Default)]
pub struct Keychain;

/// The store every [`Keychain`] uses. It is forgotten when a call cannot reach it, so the
/// next try opens a new one: the keyring daemon may have been started again since, and the
/// new one knows nothing of the old session (gnome-keyring aborts when many clients open
/// sessions at once, gnome-keyring#196; the session bus then starts it again on the next
/// call). The `keyring` crate's own front opens its store once per process and keeps a
/// failure for good, which is why this is done here.
static STORE: Mutex<Option<Arc<CredentialStore>>> = Mutex::new(None);

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn open_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(zbus_secret_service_keyring_store::Store::new()?)
}

#[cfg(target_os = "macos")]
fn open_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}

#[cfg(target_os = "windows")]
fn open_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new()?)
}

impl Keychain {
    /// `op` on the entry for `kind` of `tenant_id` in the shared store, opening the store
    /// if none is held; a store found unreachable is let go of.
    fn with_entry<T>(
        tenant_id: &str,
        kind: SecretKind,
        op: impl FnOnce(keyring_core::Entry) -> Result<T, SecretError>,
    ) -> Result<T, SecretError> {
        let store = {
            // One opening at a time: a burst of sessions opened at once is what brings
            // gnome-keyring down.
            let mut held = STORE.lock().unwrap_or_else(PoisonError::into_inner);
            match &*held {
                Some(store) => Arc::clone(store),
                None => {
                    let store = open_store().map_err(map_keyring_error)?;
                    *held = Some(Arc::clone(&store));
                    store
                }
            }
        };
        let answer = keyring_core::Entry::new_in_store(&store, SERVICE, &kind.account(tenant_id))
            .map_err(map_keyring_error)
            .and_then(op);
        if matches!(answer, Err(SecretError::Unavailable { .. })) {
            let mut held = STORE.lock().unwrap_or_else(PoisonError::into_inner);
            if held.as_ref().is_some_and(|h| Arc::ptr_eq(h, &store)) {
                *held = None;
            }
        }
        answer
    }
}

/// How long to wait before each new try of a keychain that could not be reached. The
/// Secret Service may be starting: a tray app started at login can ask before the
/// keyring daemon is up, and gnome-keyring is started again by the next call after a
/// client died in the middle of one. Five seconds in all, then the refusal stands: two
/// were once too few for a daemon started again on a busy 2-core machine.
const UNREACHABLE_RETRIES: [std::time::Duration; 4] = [
    std::time::Duration::from_millis(100),
    std::time::Duration::from_millis(400),
    std::time::Duration::from_millis(1500),
    std::time::Duration::from_millis(3000),
];

/// `op`, tried again after each of `waits` while the keychain cannot be reached; any
/// other answer is final at once.
fn retrying<T>(
    waits: &[std::time::Duration],
    op: impl Fn() -> Result<T, SecretError>,
) -> Result<T, SecretError> {
    let mut waits = waits.iter();
    loop {
        match op() {
            Err(SecretError::Unavailable { detail }) => match waits.next() {
                Some(wait) => {
                    tracing::debug!("the keychain cannot be reached ({detail}); trying again");
                    std::thread::sleep(*wait);
                }
                None => return Err(SecretError::Unavailable { detail }),
            },
            answer => return answer,
        }
    }
}

// keyring's error texts never contain the secret itself, only platform diagnostics.
fn map_keyring_error(e: keyring_core::Error) -> SecretError {
    match e {
        keyring_core::Error::NoStorageAccess(inner) => SecretError::Unavailable {
            detail: inner.to_string(),
        },
        keyring_core::Error::PlatformFailure(inner) => SecretError::Unavailable {
            detail: inner.to_string(),
        },
        other => SecretError::Failed {
            detail: other.to_string(),
        },
    }
}

impl SecretStore for Keychain {
    fn set(&self, tenant_id: &str, kind: SecretKind, secret: &[u8]) -> Result<(), SecretError> {
        retrying(&UNREACHABLE_RETRIES, || {
            Self::with_entry(tenant_id, kind, |entry| {
                entry.set_secret(secret).map_err(map_keyring_error)
            })
        })
    }

    fn get(&self, tenant_id: &str, kind: SecretKind) -> Result<SecretSlice<u8>, SecretError> {
        retrying(&UNREACHABLE_RETRIES, || {
            Self::with_entry(tenant_id, kind, |entry| match entry.get_secret() {
                Ok(bytes) => Ok(SecretSlice::from(bytes)),
                Err(keyring_core::Error::NoEntry) => Err(kind.missing(tenant_id)),
                Err(e) => Err(map_keyring_error(e)),
            })
        })
    }

    fn delete(&self, tenant_id: &str, kind: SecretKind) -> Result<(), SecretError> {
        retrying(&UNREACHABLE_RETRIES, || {
            Self::with_entry(tenant_id, kind, |entry| match entry.delete_credential() {
                Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
                Err(e) => Err(map_keyring_error(e)),
            })
        })
    }
}

/// Secrets held in process memory only; for the demo's sandbox tenants, whose
/// credentials are public test values and must not clutter the user's keychain.
#[derive(Default)]
pub struct MemorySecrets {
    entries: Mutex<HashMap<(String, SecretKind), Vec<u8>>>,
}

impl SecretStore for MemorySecrets {
    fn set(&self, tenant_id: &str, kind: SecretKind, secret: &[u8]) -> Result<(), SecretError> {
        self.entries
            .lock()
            .expect("secret map poisoned")
            .insert((kind.owner(tenant_id).to_string(), kind), secret.to_vec());
        Ok(())
    }

    fn get(&self, tenant_id: &str, kind: SecretKind) -> Result<SecretSlice<u8>, SecretError> {
        self.entries
            .lock()
            .expect("secret map poisoned")
            .get(&(kind.owner(tenant_id).to_string(), kind))
            .map(|v| SecretSlice::from(v.clone()))
            .ok_or_else(|| kind.missing(tenant_id))
    }

    fn delete(&self, tenant_id: &str, kind: SecretKind) -> Result<(), SecretError> {
        self.entries
            .lock()
            .expect("secret map poisoned")
            .remove(&(kind.owner(tenant_id).to_string(), kind));
        Ok(())
    }
}

/// A keychain whose secrets that travel (client secrets, certificate keys, the partner's
/// refresh token, the ipstack key) are not handed out, because every request goes to an
/// endpoint override on another machine the user has not said to trust. Writing and
/// removing still work, so `tenant add` and `tenant remove` do.
pub struct Withheld<S> {
    /// The keychain written to, removed from, and read for secrets that do not travel.
    pub inner: S,
    /// The override's host, named in the refusal.
    pub host: String,
}

impl<S: SecretStore> SecretStore for Withheld<S> {
    fn set(&self, tenant_id: &str, kind: SecretKind, secret: &[u8]) -> Result<(), SecretError> {
        self.inner.set(tenant_id, kind, secret)
    }

    fn get(&self, tenant_id: &str, kind: SecretKind) -> Result<SecretSlice<u8>, SecretError> {
        if matches!(
            kind,
            SecretKind::ClientSecret
                | SecretKind::CertificateKey
                | SecretKind::PartnerRefreshToken
                | SecretKind::IpstackKey
        ) {
            return Err(SecretError::Withheld {
                host: self.host.clone(),
            });
        }
        self.inner.get(tenant_id, kind)
    }

    fn delete(&self, tenant_id: &str, kind: SecretKind) -> Result<(), SecretError> {
        self.inner.delete(tenant_id, kind)
    }
}

/// The OS keychain as the front ends hand it to the engine: with an endpoint override on
/// another machine that the user has not trusted, the secrets that travel are withheld.
pub fn keychain_for(
    endpoints_override: Option<&str>,
    trusted: bool,
) -> std::sync::Arc<dyn SecretStore> {
    let remote = endpoints_override
        .filter(|base| url::Url::parse(base).is_ok_and(|u| !crate::cloud::is_loopback(&u)));
    match remote {
        Some(base) if !trusted => std::sync::Arc::new(Withheld {
            inner: Keychain,
            host: crate::cloud::override_host(base),
        }),
        _ => std::sync::Arc::new(Keychain),
    }
}

/// The key that signs the remediation record `record_id`. With `create`, a missing key is
/// made (32 random bytes) and stored; the keychain's copy is what is answered, so the row
/// signed is checked with the key that stays.
pub fn record_key(
    secrets: &dyn SecretStore,
    record_id: &str,
    create: bool,
) -> Result<Option<SecretSlice<u8>>, SecretError> {
    match secrets.get(record_id, SecretKind::RecordKey) {
        Ok(key) => Ok(Some(key)),
        Err(SecretError::MissingRecordKey) if create => {
            secrets.set(
                record_id,
                SecretKind::RecordKey,
                &rand::random::<[u8; 32]>(),
            )?;
            secrets.get(record_id, SecretKind::RecordKey).map(Some)
        }
        Err(SecretError::MissingRecordKey) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads a secret as UTF-8 text (client secrets are text).
pub fn secret_text(secret: &SecretSlice<u8>) -> Result<String, SecretError> {
    String::from_utf8(secret.expose_secret().to_vec()).map_err(|_| SecretError::Failed {
        detail: "the stored client secret is not text; add the tenant again".into(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_unreachable_keychain_is_tried_again_and_any_other_answer_is_final() {
        use std::cell::Cell;
        let waits = [std::time::Duration::ZERO; 3];
        let unreachable = || SecretError::Unavailable {
            detail: "no credential store could be opened".into(),
        };
        let calls = Cell::new(0);
        let back_on_the_third = super::retrying(&waits, || {
            calls.set(calls.get() + 1);
            if calls.get() < 3 {
                Err(unreachable())
            } else {
                Ok(7)
            }
        });
        assert_eq!((back_on_the_third.ok(), calls.get()), (Some(7), 3));
        calls.set(0);
        let never: Result<(), _> = super::retrying(&waits, || {
            calls.set(calls.get() + 1);
            Err(unreachable())
        });
        assert!(matches!(never, Err(SecretError::Unavailable { .. })));
        assert_eq!(calls.get(), 4, "the first try and one after each wait");
        calls.set(0);
        let refused: Result<(), _> = super::retrying(&waits, || {
            calls.set(calls.get() + 1);
            Err(SecretError::Failed {
                detail: "denied".into(),
            })
        });
        assert!(matches!(refused, Err(SecretError::Failed { .. })));
        assert_eq!(
            calls.get(),
            1,
            "only an unreachable keychain is tried again"
        );
    }

    use super::*;

    #[test]
    fn the_ipstack_key_belongs_to_no_tenant() {
        let secrets = MemorySecrets::default();
        secrets
            .set("tenant-a", SecretKind::IpstackKey, b"key-1")
            .unwrap();
        assert_eq!(
            secret_text(&secrets.get(NO_TENANT, SecretKind::IpstackKey).unwrap()).unwrap(),
            "key-1"
        );
        assert_eq!(
            SecretKind::IpstackKey.account("tenant-b"),
            "geo/ipstack-api-key"
        );
        assert!(
            !SecretKind::PER_TENANT.contains(&SecretKind::IpstackKey),
            "removing a tenant must keep the key"
        );
        secrets.delete("tenant-b", SecretKind::IpstackKey).unwrap();
        let e = secrets
            .get(NO_TENANT, SecretKind::IpstackKey)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no ipstack API key") && e.contains("give one again"),
            "{e}"
        );
        let e = secrets
            .get("t1", SecretKind::ClientSecret)
            .unwrap_err()
            .to_string();
        assert!(e.contains("client secret for tenant t1"), "{e}");
    }

    #[test]
    fn secrets_that_travel_are_withheld_from_an_untrusted_override() {
        let withheld = Withheld {
            inner: MemorySecrets::default(),
            host: "sandbox.example:8443".into(),
        };
        withheld
            .set("t1", SecretKind::ClientSecret, b"s3cret")
            .unwrap();
        withheld
            .set(NO_TENANT, SecretKind::PartnerRefreshToken, b"refresh")
            .unwrap();
        for kind in [
            SecretKind::ClientSecret,
            SecretKind::PartnerRefreshToken,
            SecretKind::CertificateKey,
            SecretKind::IpstackKey,
        ] {
            let e = withheld.get("t1", kind).unwrap_err().to_string();
            assert!(
                e.contains("sandbox.example:8443") && e.contains("--trust-endpoints"),
                "{e}"
            );
            assert!(!e.contains("s3cret") && !e.contains("refresh"));
        }
        assert_eq!(
            secret_text(&withheld.inner.get("t1", SecretKind::ClientSecret).unwrap()).unwrap(),
            "s3cret"
        );
        withheld.delete("t1", SecretKind::ClientSecret).unwrap();
        assert!(withheld.inner.get("t1", SecretKind::ClientSecret).is_err());
    }

    #[test]
    fn a_record_key_is_made_once_and_only_when_asked() {
        let secrets = MemorySecrets::default();
        assert!(
            record_key(&secrets, "r1", false).unwrap().is_none(),
            "checking never makes a key"
        );
        let made = record_key(&secrets, "r1", true).unwrap().unwrap();
        assert_eq!(made.expose_secret().len(), 32);
        let again = record_key(&secrets, "r1", true).unwrap().unwrap();
        assert_eq!(
            made.expose_secret(),
            again.expose_secret(),
            "an existing key is kept"
        );
        let other = record_key(&secrets, "r2", true).unwrap().unwrap();
        assert_ne!(
            made.expose_secret(),
            other.expose_secret(),
            "each record has its own key"
        );
        assert_eq!(
            SecretKind::RecordKey.account("r1"),
            "remediation/r1/record-key"
        );
    }
}
