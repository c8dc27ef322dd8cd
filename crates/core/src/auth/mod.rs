//! App-only tokens (OAuth 2.0 client credentials, v2 endpoint) per tenant and resource,
//! with a client secret or a certificate's signed client assertion. Tokens are cached
//! and renewed before they expire.
#![warn(missing_docs)]

pub mod certificate;
pub(crate) mod oauth;
pub(crate) mod partner;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::cloud::{Cloud, Endpoints};
use crate::http::{Http, HttpError, RetryStats};
use crate::problem::{Problem, ProblemKind};
use crate::secrets::{SecretKind, SecretStore, secret_text};

/// A Microsoft service a token is for; tokens are cached per tenant and resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// The Office 365 Management Activity API: the audit log.
    Management,
    /// Microsoft Graph.
    Graph,
    /// Exchange Online admin REST (`InvokeCommand`).
    Exchange,
}

impl Resource {
    /// The service's name, for messages.
    pub fn service(self) -> &'static str {
        match self {
            Resource::Management => "the Office 365 Management API",
            Resource::Graph => "Microsoft Graph",
            Resource::Exchange => "Exchange Online",
        }
    }
}

/// How a tenant's app proves itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// App-only, with a client secret kept in the keychain.
    ClientSecret,
    /// `thumbprint_s256` is the certificate's base64url SHA-256 thumbprint.
    Certificate {
        /// Sent as the client assertion's `x5t#S256`; the private key is in the keychain.
        thumbprint_s256: String,
    },
    /// Delegated, through the signed-in partner account's refresh token (GDAP).
    Partner,
}

/// Who Rulewatch signs in to a tenant as: the tenant, the app, and how it proves itself.
#[derive(Debug, Clone)]
pub struct AppIdentity {
    /// The tenant signed in to (a lower-case GUID); tokens are cached by it.
    pub tenant_id: String,
    /// The app's client id: the tenant's own app registration, or the partner app.
    pub client_id: String,
    /// How the app proves itself.
    pub method: AuthMethod,
    /// The tenant's own cloud; `None`: the installation's.
    pub cloud: Option<Cloud>,
}

impl AppIdentity {
    /// Where the tenant's admin grants the app consent, on the login host of the
    /// tenant's cloud (`installation`'s when the tenant has none recorded).
    pub fn consent_url(&self, installation: &Endpoints) -> String {
        installation
            .cloud_for(self.cloud)
            .admin_consent_url(&self.tenant_id, &self.client_id)
    }
}

struct Cached {
    token: SecretString,
    renew_at: Instant,
}

/// Access tokens per tenant and resource: app-only ones with a client secret or a
/// certificate from the keychain, or the partner account's delegated ones. Each is cached
/// and renewed five minutes before it expires (half-way for short-lived ones).
pub struct TokenProvider {
    http: Http,
    endpoints: Endpoints,
    secrets: Arc<dyn SecretStore>,
    cache: Mutex<HashMap<(String, Resource), Cached>>,
    /// The partner refresh token: exchanges run at once, the newest is kept (../shared/reference/m365-api.md §G 9).
    partner: Arc<partner::RefreshKeeper>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize, Default)]
struct EntraError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u64>,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

impl TokenProvider {
    /// A provider with an empty cache. `endpoints` are the installation's (a tenant in
    /// another cloud signs in at its own); credentials are read from `secrets` when needed.
    pub fn new(http: Http, endpoints: Endpoints, secrets: Arc<dyn SecretStore>) -> Self {
        let partner = Arc::new(partner::RefreshKeeper::new(secrets.clone()));
        TokenProvider {
            http,
            endpoints,
            secrets,
            cache: Mutex::new(HashMap::new()),
            partner,
        }
    }

    /// Drops every cached token (after the partner account signed out).
    pub fn clear(&self) {
        self.cache.lock().expect("token cache poisoned").clear();
    }

    /// Drops a cached token, e.g. after the API answered 401.
    pub fn invalidate(&self, tenant_id: &str, resource: Resource) {
        self.cache
            .lock()
            .expect("token cache poisoned")
            .remove(&(tenant_id.to_string(), resource));
    }

    /// A token for `app` at `resource`: the cached one while it is fresh, else a new one.
    /// Errors say what to do: refused credentials, missing consent, a disabled service or
    /// app, an unknown tenant, a lapsed partner sign-in, a secret missing from the keychain,
    /// or Entra unreachable.
    pub async fn token(
        &self,
        app: &AppIdentity,
        resource: Resource,
        stats: &RetryStats,
    ) -> Result<SecretString, Problem> {
        let key = (app.tenant_id.clone(), resource);
        if let Some(c) = self.cache.lock().expect("token cache poisoned").get(&key)
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.request(app, resource, stats).await?;
        // Renew five minutes early, or half-way through for short-lived tokens.
        let renew_after = lifetime
            .saturating_sub(Duration::from_secs(300))
            .max(lifetime / 2);
        self.cache.lock().expect("token cache poisoned").insert(
            key,
            Cached {
                token: token.clone(),
                renew_at: Instant::now() + crate::clock::wall(renew_after),
            },
        );
        Ok(token)
    }

    async fn credential_fields(
        &self,
        app: &AppIdentity,
        token_url: &str,
    ) -> Result<Vec<(&'static str, String)>, Problem> {
        let secrets = self.secrets.clone();
        let tenant = app.tenant_id.clone();
        let kind = match app.method {
            AuthMethod::ClientSecret => SecretKind::ClientSecret,
            AuthMethod::Certificate { .. } => SecretKind::CertificateKey,
            AuthMethod::Partner => {
                unreachable!("request() exchanges the partner refresh token instead")
            }
        };
        // Keychain calls block on D-Bus or the platform API.
        let secret = tokio::task::spawn_blocking(move || secrets.get(&tenant, kind))
            .await
            .map_err(|e| {
                Problem::new(
                    ProblemKind::Keychain,
                    format!("keychain lookup failed ({e})"),
                )
            })??;
        match &app.method {
            AuthMethod::ClientSecret => Ok(vec![("client_secret", secret_text(&secret)?)]),
            AuthMethod::Partner => {
                unreachable!("request() exchanges the partner refresh token instead")
            }
            AuthMethod::Certificate { thumbprint_s256 } => {
                let assertion =
                    client_assertion(app, thumbprint_s256, secret.expose_secret(), token_url)?;
                Ok(vec![
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                    ),
                    ("client_assertion", assertion),
                ])
            }
        }
    }

    async fn request(
        &self,
        app: &AppIdentity,
        resource: Resource,
        stats: &RetryStats,
    ) -> Result<(SecretString, Duration), Problem> {
        // The tenant's own cloud: its sign-in host and its services' resources.
        let endpoints = self.endpoints.in_cloud(app.cloud);
        let resource_url = match resource {
            Resource::Management => &endpoints.management_resource,
            Resource::Graph => &endpoints.graph_resource,
            Resource::Exchange => &endpoints.exchange_resource,
        };
        if app.method == AuthMethod::Partner {
            return partner::exchange(
                &self.http,
                &endpoints,
                self.partner.clone(),
                &app.client_id,
                &app.tenant_id,
                resource_url,
                stats,
            )
            .await;
        }
        let url = format!("{}/{}/oauth2/v2.0/token", endpoints.login, app.tenant_id);
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", app.client_id.clone()),
            ("scope", format!("{resource_url}/.default")),
        ];
        form.extend(self.credential_fields(app, &url).await?);
        let what = format!("token request for tenant {}", app.tenant_id);
        match self
            .http
            .send(&what, stats, || self.http.client().post(&url).form(&form))
            .await
        {
            Ok(reply) => {
                let answer: TokenAnswer = serde_json::from_slice(&reply.body).map_err(|e| {
                    Problem::new(
                        ProblemKind::BadResponse,
                        format!("{what}: the token answer cannot be read ({e})"),
                    )
                })?;
                Ok((
                    SecretString::from(answer.access_token),
                    Duration::from_secs(answer.expires_in.max(1)),
                ))
            }
            Err(HttpError::Status { reply, .. }) => {
                let err: EntraError = serde_json::from_slice(&reply.body).unwrap_or_default();
                let consent_url = app.consent_url(&self.endpoints);
                Err(entra_problem(
                    app,
                    &consent_url,
                    resource,
                    &err,
                    reply.status.as_u16(),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// A client assertion signed PS256 and naming the certificate by `x5t#S256`, the form
/// Microsoft's current certificate-credentials doc recommends (../shared/reference/m365-api.md §G 4).
fn client_assertion(
    app: &AppIdentity,
    thumbprint: &str,
    key_pkcs1: &[u8],
    token_url: &str,
) -> Result<String, Problem> {
    let mut header = Header::new(Algorithm::PS256);
    header.x5t_s256 = Some(thumbprint.to_string());
    let now = crate::clock::now().timestamp();
    let claims = AssertionClaims {
        aud: token_url,
        iss: &app.client_id,
        sub: &app.client_id,
        jti: uuid::Uuid::new_v4().to_string(),
        iat: now,
        nbf: now,
        exp: now + 600,
    };
    let key = EncodingKey::from_rsa_der(key_pkcs1);
    jsonwebtoken::encode(&header, &claims, &key).map_err(|e| {
        Problem::new(
            ProblemKind::BadCredentials,
            format!("cannot sign the client assertion with the stored certificate key ({e}); add the tenant again with its certificate"),
        )
    })
}

/// Turns Entra's error answer into what the technician must do. AADSTS codes:
/// https://learn.microsoft.com/entra/identity-platform/reference-error-codes
fn entra_problem(
    app: &AppIdentity,
    consent_url: &str,
    resource: Resource,
    err: &EntraError,
    status: u16,
) -> Problem {
    let service = resource.service();
    let code = err.error_codes.first().copied().unwrap_or(0);
    // Entra's description ends with trace ids; the first line carries the meaning.
    let said = err
        .error_description
        .lines()
        .next()
        .unwrap_or(&err.error)
        .trim()
        .to_string();
    match code {
        7000215 | 7000222 | 7000218 | 700027 | 700024 | 50013 | 700023 => Problem::new(
            ProblemKind::BadCredentials,
            format!(
                "Microsoft refused the app's credentials ({said}). Create a new client secret or upload the \
                 certificate in the app registration, then add tenant {} again with it",
                app.tenant_id
            ),
        ),
        700016 | 7000229 | 65001 | 650052 => Problem::new(
            ProblemKind::ConsentMissing,
            format!(
                "the app {} is not consented in tenant {} ({said}). Ask a Global Administrator of that tenant \
                 to grant admin consent at {consent_url}",
                app.client_id, app.tenant_id
            ),
        ),
        // ../shared/reference/m365-api.md §G 13: refusals no retry or new secret cures, each in its own words.
        500014 => Problem::new(
            ProblemKind::ServiceDisabled,
            format!(
                "Microsoft will not issue tokens for {service} in tenant {}: its service principal is disabled \
                 there (AADSTS500014). The tenant's subscription may have lapsed, or an admin disabled the service's \
                 enterprise application; ask the tenant's admin to check its licences and re-enable it",
                app.tenant_id
            ),
        ),
        500011 => Problem::new(
            ProblemKind::ServiceMissing,
            format!(
                "tenant {} does not have {service} at all (AADSTS500011): it probably has no Office 365 or \
                 Exchange Online subscription, so there is no audit log to read. Check the tenant's licences, or \
                 remove the tenant from Rulewatch",
                app.tenant_id
            ),
        ),
        7000112 => Problem::new(
            ProblemKind::AppDisabled,
            format!(
                "the app {} is disabled (AADSTS7000112), so Microsoft refuses to sign it in to tenant {}. An admin \
                 turned it off: in the Entra admin center, Enterprise applications → the app → Properties, set \
                 'Enabled for users to sign-in' back to Yes (in that tenant, or in your own for the app registration)",
                app.client_id, app.tenant_id
            ),
        ),
        90002 | 900023 | 90072 => Problem::new(
            ProblemKind::TenantNotFound,
            format!(
                "Microsoft does not know tenant {} ({said}); check the tenant id",
                app.tenant_id
            ),
        ),
        _ => Problem::new(
            ProblemKind::BadResponse,
            format!(
                "the token request for tenant {} failed with HTTP {status}: {said}",
                app.tenant_id
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::EncodeRsaPrivateKey;

    #[test]
    fn the_client_assertion_is_ps256_with_the_sha256_thumbprint_only() {
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let der = key.to_pkcs1_der().unwrap();
        let app = AppIdentity {
            tenant_id: "6f1c2a3b-1111-4222-8333-944455556666".into(),
            client_id: "11111111-2222-4333-8444-555555555555".into(),
            method: AuthMethod::Certificate {
                thumbprint_s256: "thumb".into(),
            },
            cloud: None,
        };
        let jwt = client_assertion(
            &app,
            "thumb",
            der.as_bytes(),
            "https://login.example/t/oauth2/v2.0/token",
        )
        .unwrap();
        let head = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(head.alg, Algorithm::PS256);
        assert_eq!(head.x5t_s256.as_deref(), Some("thumb"));
        assert_eq!(head.x5t, None, "the SHA-1 thumbprint is the older form");
    }
}
