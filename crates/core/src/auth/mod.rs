//! App-only tokens (OAuth 2.0 client credentials, v2 endpoint) per tenant and resource,
//! with a client secret or a certificate's signed client assertion. Tokens are cached
//! and renewed before they expire.

pub mod certificate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::cloud::Endpoints;
use crate::http::{Http, HttpError, RetryStats};
use crate::problem::{Problem, ProblemKind};
use crate::secrets::{SecretKind, SecretStore, secret_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Management,
    Graph,
    /// Exchange Online admin REST (`InvokeCommand`).
    Exchange,
}

/// How a tenant's app proves itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecret,
    /// `thumbprint_s256` is the certificate's base64url SHA-256 thumbprint.
    Certificate {
        thumbprint_s256: String,
    },
    /// Delegated, through the signed-in partner account's refresh token (GDAP).
    Partner,
}

#[derive(Debug, Clone)]
pub struct AppIdentity {
    pub tenant_id: String,
    pub client_id: String,
    pub method: AuthMethod,
}

struct Cached {
    token: SecretString,
    renew_at: Instant,
}

pub struct TokenProvider {
    http: Http,
    endpoints: Endpoints,
    secrets: Arc<dyn SecretStore>,
    cache: Mutex<HashMap<(String, Resource), Cached>>,
    /// Each partner exchange rotates the refresh token the next one uses: one at a time.
    partner: tokio::sync::Mutex<()>,
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
    pub fn new(http: Http, endpoints: Endpoints, secrets: Arc<dyn SecretStore>) -> Self {
        TokenProvider {
            http,
            endpoints,
            secrets,
            cache: Mutex::new(HashMap::new()),
            partner: tokio::sync::Mutex::new(()),
        }
    }

    fn resource_url(&self, resource: Resource) -> &str {
        match resource {
            Resource::Management => &self.endpoints.management_resource,
            Resource::Graph => &self.endpoints.graph_resource,
            Resource::Exchange => &self.endpoints.exchange_resource,
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
                renew_at: Instant::now() + renew_after,
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
        if app.method == AuthMethod::Partner {
            let _one_at_a_time = self.partner.lock().await;
            let resource = self.resource_url(resource);
            return crate::partner::exchange(
                &self.http,
                &self.endpoints,
                self.secrets.clone(),
                &app.client_id,
                &app.tenant_id,
                resource,
                stats,
            )
            .await;
        }
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.endpoints.login, app.tenant_id
        );
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", app.client_id.clone()),
            ("scope", format!("{}/.default", self.resource_url(resource))),
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
                Err(entra_problem(app, &err, reply.status.as_u16()))
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn client_assertion(
    app: &AppIdentity,
    thumbprint: &str,
    key_pkcs1: &[u8],
    token_url: &str,
) -> Result<String, Problem> {
    let mut header = Header::new(Algorithm::RS256);
    header.x5t_s256 = Some(thumbprint.to_string());
    let now = Utc::now().timestamp();
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
fn entra_problem(app: &AppIdentity, err: &EntraError, status: u16) -> Problem {
    let code = err.error_codes.first().copied().unwrap_or(0);
    // Entra's description ends with trace ids; the first line carries the meaning.
    let said = err
        .error_description
        .lines()
        .next()
        .unwrap_or(&err.error)
        .trim()
        .to_string();
    let consent_url = format!(
        "https://login.microsoftonline.com/{}/adminconsent?client_id={}",
        app.tenant_id, app.client_id
    );
    match code {
        7000215 | 7000222 | 7000218 | 700027 | 700024 | 50013 | 700023 => Problem::new(
            ProblemKind::BadCredentials,
            format!(
                "Microsoft refused the app's credentials ({said}). Create a new client secret or upload the \
                 certificate in the app registration, then run `rulewatch tenant add` again for {}",
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
