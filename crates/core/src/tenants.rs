//! Adding and removing tenants: validation, the secret into the keychain, the rest into
//! the database. A failure leaves neither half behind.
#![warn(missing_docs)]

use std::path::Path;

use crate::auth::AuthMethod;
use crate::auth::certificate::{CertificateCredential, parse_pem_bundle, parse_pkcs12};
use crate::cloud::{Cloud, Endpoints};
use crate::http::{Http, HttpError, RetryPolicy, RetryStats};
use crate::secrets::{SecretKind, SecretStore};
use crate::store::{Store, StoreError, TenantRow};
use secrecy::{ExposeSecret, SecretString};

/// How the new tenant's app authenticates.
pub enum NewCredential {
    /// A client secret's value; line breaks at its end are dropped.
    ClientSecret(SecretString),
    /// A PEM file with the certificate and its RSA private key.
    CertificateFile(std::path::PathBuf),
    /// A PKCS#12 (.pfx/.p12) file and the password it was exported with.
    CertificatePkcs12 {
        /// The file.
        path: std::path::PathBuf,
        /// Its export password; line breaks at its end are dropped.
        password: SecretString,
    },
    /// The same PEM text, as the desktop panel reads it from the chosen file.
    CertificatePem {
        /// The file's text.
        pem: SecretString,
        /// The file's name, for messages.
        source: String,
    },
}

/// A tenant to add, as the technician gave it; [`add_tenant`] checks it.
pub struct NewTenant {
    /// The tenant's id: a GUID, in any case, spaces around it ignored.
    pub tenant_id: String,
    /// The name to show: 1 to 200 printable characters once trimmed.
    pub name: String,
    /// The app registration's client id (a GUID).
    pub client_id: String,
    /// How the app authenticates.
    pub credential: NewCredential,
    /// The tenant's Microsoft cloud, from [`CloudChoice::decide`].
    pub cloud: Option<Cloud>,
}

/// Why a tenant could not be added, removed or set up.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// What was given is unusable: what is wrong, and what to give instead.
    #[error("{0}")]
    Invalid(String),
    /// The database failed, or the tenant is already added (or is not).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The keychain failed.
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
}

/// A GUID in its canonical lower-case hyphenated form, or an error naming `what`.
pub fn parse_guid(value: &str, what: &str) -> Result<String, TenantError> {
    uuid::Uuid::parse_str(value.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| {
            TenantError::Invalid(format!(
                "{what} '{}' is not a GUID (like 8d4121ed-0008-406d-bff9-0d5bb312183c); find it in the Entra admin center",
                crate::detect::visible_text(value)
            ))
        })
}

/// Adds tenants whose client secrets are public test values (the sandbox's), given as
/// (tenant id, name, client id, secret); their secrets go to `secrets`, which for them
/// is memory, never the OS keychain.
pub fn add_test_tenants<'a>(
    store: &Store,
    secrets: &dyn SecretStore,
    tenants: impl IntoIterator<Item = (&'a str, &'a str, &'a str, &'a str)>,
) -> Result<(), TenantError> {
    for (tenant_id, name, client_id, secret) in tenants {
        add_tenant(
            store,
            secrets,
            NewTenant {
                tenant_id: tenant_id.into(),
                name: name.into(),
                client_id: client_id.into(),
                credential: NewCredential::ClientSecret(SecretString::from(secret.to_string())),
                cloud: None,
            },
        )?;
    }
    Ok(())
}

/// Checks `t`, stores its secret (or certificate key) in `secrets` and the rest in the
/// database, and answers the row stored. Refuses ids that are not GUIDs, a bad name, an
/// empty secret, an unusable certificate ([`TenantError::Invalid`]) and a tenant already
/// added ([`StoreError::TenantExists`]); if the database refuses the row, the secret is
/// removed again.
pub fn add_tenant(
    store: &Store,
    secrets: &dyn SecretStore,
    t: NewTenant,
) -> Result<TenantRow, TenantError> {
    let tenant_id = parse_guid(&t.tenant_id, "tenant id")?;
    let client_id = parse_guid(&t.client_id, "client id")?;
    let name = t.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(TenantError::Invalid(
            "the tenant name must be 1 to 200 printable characters, such as \"Contoso Ltd\"".into(),
        ));
    }
    if store.tenant(&tenant_id).is_ok() {
        return Err(StoreError::TenantExists(tenant_id).into());
    }
    let (kind, secret, auth_method) = match &t.credential {
        NewCredential::ClientSecret(s) => {
            let text = s.expose_secret().trim_end_matches(['\r', '\n']);
            if text.trim().is_empty() {
                return Err(TenantError::Invalid(
                    "the client secret is empty; give the secret's Value (not its Secret ID) from the app \
                     registration's Certificates & secrets"
                        .into(),
                ));
            }
            (
                SecretKind::ClientSecret,
                text.as_bytes().to_vec(),
                AuthMethod::ClientSecret,
            )
        }
        NewCredential::CertificateFile(path) => certificate_secret(read_certificate(path)?),
        NewCredential::CertificatePkcs12 { path, password } => {
            certificate_secret(read_pkcs12(path, password)?)
        }
        NewCredential::CertificatePem { pem, source } => certificate_secret(
            parse_pem_bundle(pem.expose_secret(), source)
                .map_err(|e| TenantError::Invalid(e.to_string()))?,
        ),
    };
    let row = TenantRow {
        tenant_id: tenant_id.clone(),
        name,
        client_id,
        auth_method,
        cloud: t.cloud,
    };
    secrets.set(&tenant_id, kind, &secret)?;
    if let Err(e) = store.add_tenant(&row) {
        secrets.delete(&tenant_id, kind)?;
        return Err(e.into());
    }
    Ok(row)
}

/// The cloud the tenant lives in, read from its OpenID metadata on the login host of
/// `endpoints` (../shared/reference/m365-api.md §G 3: every cloud's tenants answer there). The error says
/// why it could not be read; an id that is not a GUID is left to [`add_tenant`] to refuse.
async fn detect_cloud(endpoints: &Endpoints, tenant_id: &str) -> Result<Cloud, String> {
    let Ok(id) = parse_guid(tenant_id, "tenant id") else {
        return Err("the tenant id is not a GUID".into());
    };
    let url = format!(
        "{}/{id}/v2.0/.well-known/openid-configuration",
        endpoints.login
    );
    let http = Http::new(RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    })
    .map_err(|e| format!("no HTTP client ({e})"))?;
    let what = format!("reading the OpenID metadata of tenant {id}");
    // Metadata is a few kilobytes; anything near this is not Entra's answer.
    const LIMIT: usize = 256 << 10;
    let reply = match http
        .send_capped(&what, &RetryStats::default(), LIMIT, || {
            http.client().get(&url)
        })
        .await
    {
        Ok(reply) => reply,
        Err(HttpError::Status { reply, .. }) => {
            let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
            // Entra's description: its first line says what is wrong (an unknown tenant).
            let said = body["error_description"]
                .as_str()
                .and_then(|d| d.lines().next())
                .unwrap_or_default();
            return Err(format!(
                "Microsoft answered HTTP {}: {}",
                reply.status.as_u16(),
                crate::detect::visible_text(said)
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    let metadata: serde_json::Value = serde_json::from_slice(&reply.body)
        .map_err(|e| format!("the answer of {url} cannot be read ({e})"))?;
    Ok(Cloud::from_openid(&metadata))
}

/// The cloud a new tenant is read in, and whether it could be asked of Microsoft.
pub struct CloudChoice {
    /// `None`: the installation's, as its own could not be read.
    pub cloud: Option<Cloud>,
    unread: Option<String>,
}

impl CloudChoice {
    /// The cloud the technician gave, else the one the tenant's metadata names
    /// (../shared/reference/m365-api.md §G 3): the tenant's own cloud decides its endpoints.
    pub async fn decide(endpoints: &Endpoints, tenant_id: &str, given: Option<Cloud>) -> Self {
        let (cloud, unread) = match given {
            Some(cloud) => (Some(cloud), None),
            None => match detect_cloud(endpoints, tenant_id).await {
                Ok(cloud) => (Some(cloud), None),
                Err(why) => (None, Some(why)),
            },
        };
        CloudChoice { cloud, unread }
    }

    /// Where the tenant is read, in words: "in the GCC cloud". `choose` says how the
    /// technician gives a tenant its cloud, for when its own could not be read.
    pub fn words(&self, installation: &Endpoints, choose: &str) -> String {
        match self.cloud {
            Some(cloud) => format!("in the {cloud} cloud"),
            None => format!(
                "read in the {} cloud: its own could not be read ({}); if it is a GCC, GCC High or DoD tenant, \
                 remove it and add it again {choose}",
                installation.cloud_for(None),
                self.unread.as_deref().unwrap_or_default()
            ),
        }
    }
}

/// The certificate's private key goes to the keychain; its thumbprint to the database.
fn certificate_secret(cred: CertificateCredential) -> (SecretKind, Vec<u8>, AuthMethod) {
    (
        SecretKind::CertificateKey,
        cred.private_key_pkcs1.expose_secret().to_vec(),
        AuthMethod::Certificate {
            thumbprint_s256: cred.thumbprint_s256,
        },
    )
}

fn read_certificate(path: &Path) -> Result<CertificateCredential, TenantError> {
    let bytes = read_file(path)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        TenantError::Invalid(format!(
            "{} is not a PEM file (it is not text); a certificate exported on Windows is read from a file \
             named .pfx or .p12",
            path.display()
        ))
    })?;
    parse_pem_bundle(&text, &path.display().to_string())
        .map_err(|e| TenantError::Invalid(e.to_string()))
}

fn read_pkcs12(path: &Path, password: &SecretString) -> Result<CertificateCredential, TenantError> {
    let password = password.expose_secret().trim_end_matches(['\r', '\n']);
    parse_pkcs12(&read_file(path)?, password, &path.display().to_string())
        .map_err(|e| TenantError::Invalid(e.to_string()))
}

fn read_file(path: &Path) -> Result<Vec<u8>, TenantError> {
    std::fs::read(path).map_err(|e| {
        TenantError::Invalid(format!(
            "cannot read the certificate file {} ({e})",
            path.display()
        ))
    })
}

/// Removes the tenant's configuration, scan state and keychain entries. Its alerts
/// stay as history.
pub fn remove_tenant(
    store: &Store,
    secrets: &dyn SecretStore,
    tenant_id: &str,
) -> Result<(), TenantError> {
    let tenant_id = parse_guid(tenant_id, "tenant id")?;
    if store.tenant(&tenant_id)?.auth_method == AuthMethod::Partner {
        // A customer reached through the partner account has no secret of its own; kept
        // out of "watch all", or the next listing would add it back.
        crate::partner::exclude(store, &tenant_id)?;
        return Ok(());
    }
    for kind in SecretKind::PER_TENANT {
        secrets.delete(&tenant_id, kind)?;
    }
    store.remove_tenant(&tenant_id)?;
    Ok(())
}

/// Where the MSP's own tenant id is kept, given once at setup: Microsoft counts
/// Management API calls against the `PublisherIdentifier` sent (../shared/reference/m365-api.md A8).
pub const MSP_TENANT_SETTING: crate::store::Key<String> = crate::store::Key::new("msp_tenant_id");

/// Stores the MSP's own tenant id; answers it in canonical form.
pub fn set_msp_tenant(store: &Store, value: &str) -> Result<String, TenantError> {
    let id = parse_guid(value, "your MSP's own tenant id")?;
    store.set_setting(&MSP_TENANT_SETTING, &id)?;
    Ok(id)
}

/// The MSP's own tenant id, if it was given at setup.
pub fn msp_tenant(store: &Store) -> Result<Option<String>, StoreError> {
    store.setting(&MSP_TENANT_SETTING)
}

/// The `PublisherIdentifier` sent for `tenant_id`'s Management API calls: the override
/// (`--publisher-id`), else the MSP's tenant id given at setup, else the signed-in partner
/// account's tenant, else the tenant's own id (A8: without the MSP's own id each customer
/// spends its own quota).
pub fn publisher_id(
    store: &Store,
    override_id: Option<&str>,
    tenant_id: &str,
) -> Result<String, StoreError> {
    if let Some(id) = override_id {
        return Ok(id.to_string());
    }
    if let Some(id) = msp_tenant(store)? {
        return Ok(id);
    }
    Ok(crate::partner::account(store)?.map_or_else(|| tenant_id.to_string(), |a| a.tenant_id))
}
