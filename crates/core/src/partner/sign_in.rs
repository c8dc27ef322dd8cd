//! Signing the partner account in (in the browser with PKCE, or with a device code)
//! and out.
#![warn(missing_docs)]

use std::time::Duration;

use base64::Engine as _;
use oauth2::{
    AuthUrl, AuthorizationCode, CsrfToken, DeviceAuthorizationUrl, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse,
};
use tokio::net::TcpListener;

use super::loopback::{query_param, wait_for_redirect};
use super::{ACCOUNT_SETTING, PartnerAccount};
use crate::auth::oauth::{DeviceMessage, Tokens, Transport, token_problem};
use crate::auth::partner::client;
use crate::cloud::Endpoints;
use crate::http::Http;
use crate::problem::{Problem, ProblemKind};
use crate::secrets::{NO_TENANT, SecretKind, SecretStore};
use crate::store::Store;

/// How long a browser sign-in may take before Rulewatch stops waiting.
const SIGN_IN_WAIT: Duration = Duration::from_secs(300);

/// The scopes a sign-in asks for: Graph (to list customers), a refresh token, and an ID
/// token naming who signed in (Entra sends one only for `openid`, ../shared/reference/m365-api.md §G 10).
fn sign_in_scopes(endpoints: &Endpoints) -> Vec<Scope> {
    ["offline_access", "openid", "profile"]
        .into_iter()
        .map(|s| Scope::new(s.into()))
        .chain([Scope::new(format!("{}/.default", endpoints.graph_resource))])
        .collect()
}

/// The claims of an ID token, read without checking its signature: it came straight
/// from Entra's token endpoint over TLS, and only names who signed in.
fn signed_in_user(tokens: &Tokens) -> String {
    let claims = tokens
        .extra_fields()
        .id_token
        .as_deref()
        .and_then(|t| t.split('.').nth(1))
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .ok()
        });
    let claims: serde_json::Value = claims
        .and_then(|c| serde_json::from_slice(&c).ok())
        .unwrap_or_default();
    ["preferred_username", "upn", "email", "name"]
        .iter()
        .find_map(|k| claims[*k].as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown account".into())
}

/// The partner account's connection: sign-in, refresh, sign-out.
pub struct Partner<'a> {
    /// The HTTP layer the sign-in's requests go through.
    pub http: &'a Http,
    /// The installation's endpoints: the account signs in at their login host.
    pub endpoints: &'a Endpoints,
    /// Where the refresh token is kept.
    pub secrets: &'a dyn SecretStore,
    /// Where the account is described ([`crate::partner::ACCOUNT_SETTING`]).
    pub store: &'a Store,
}

impl Partner<'_> {
    /// Keeps the new refresh token in the keychain and the account in the settings.
    fn keep(
        &self,
        tenant_id: &str,
        client_id: &str,
        tokens: &Tokens,
    ) -> Result<PartnerAccount, Problem> {
        let refresh = tokens.refresh_token().ok_or_else(|| {
            Problem::new(
                ProblemKind::BadResponse,
                "Microsoft gave no refresh token; the sign-in must ask for offline_access",
            )
        })?;
        self.secrets
            .set(
                NO_TENANT,
                SecretKind::PartnerRefreshToken,
                refresh.secret().as_bytes(),
            )
            .map_err(|e| Problem::new(ProblemKind::Keychain, e.to_string()))?;
        let now = crate::clock::now();
        let account = PartnerAccount {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            upn: signed_in_user(tokens),
            signed_in_at: now,
            refreshed_at: now,
            refresh_expires_at: tokens
                .extra_fields()
                .refresh_token_expires_in
                .map(|s| now + chrono::Duration::seconds(s as i64)),
        };
        self.store
            .set_setting(&ACCOUNT_SETTING, &account)
            .map_err(|e| {
                Problem::new(
                    ProblemKind::LocalDatabase,
                    format!("could not save the partner account: {e}"),
                )
            })?;
        Ok(account)
    }

    /// Signs in in the browser: `open` is given the sign-in page's address (and may
    /// fail: the address is also for the user to open by hand); Microsoft sends the
    /// browser back to `http://localhost:PORT/`, the host the README has technicians
    /// register (Entra matches the host, not the port: ../shared/reference/m365-api.md §G 10), answered on
    /// 127.0.0.1 until a request carries this sign-in's `state`.
    pub async fn sign_in_browser(
        &self,
        tenant_id: &str,
        client_id: &str,
        open: impl FnOnce(&str),
    ) -> Result<PartnerAccount, Problem> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| {
            Problem::new(
                ProblemKind::Unreachable,
                format!("cannot listen on a loopback port for the sign-in ({e})"),
            )
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| Problem::new(ProblemKind::Unreachable, e.to_string()))?
            .port();
        let redirect = format!("http://localhost:{port}/");
        let auth_url = AuthUrl::new(format!(
            "{}/{tenant_id}/oauth2/v2.0/authorize",
            self.endpoints.login
        ))
        .map_err(|e| Problem::new(ProblemKind::BadResponse, format!("bad sign-in URL ({e})")))?;
        let client = client(self.endpoints, tenant_id, client_id)?
            .set_auth_uri(auth_url)
            .set_redirect_uri(
                RedirectUrl::new(redirect)
                    .map_err(|e| Problem::new(ProblemKind::BadResponse, e.to_string()))?,
            );
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(sign_in_scopes(self.endpoints))
            .set_pkce_challenge(challenge)
            .add_extra_param("prompt", "select_account")
            .url();
        open(url.as_str());
        let query = tokio::time::timeout(
            SIGN_IN_WAIT,
            wait_for_redirect(listener, state.secret().clone()),
        )
        .await
        .map_err(|_| {
            Problem::new(
                ProblemKind::SignInNeeded,
                "the sign-in was not finished within 5 minutes; start it again",
            )
        })??;
        let param = |name: &str| query_param(&query, name);
        if let Some(error) = param("error") {
            let description = param("error_description").unwrap_or_default();
            return Err(Problem::new(
                ProblemKind::SignInNeeded,
                format!("Microsoft did not sign you in: {error}: {description}"),
            ));
        }
        let code = param("code").ok_or_else(|| {
            Problem::new(
                ProblemKind::SignInNeeded,
                "the sign-in answer carries no code",
            )
        })?;
        let what = "signing in the partner account";
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(verifier)
            .request_async(&Transport::new(self.http, what))
            .await
            .map_err(|e| token_problem(e, what))?;
        self.keep(tenant_id, client_id, &tokens)
    }

    /// Signs in with a device code: `show` gets Microsoft's sentence naming the page and
    /// the code; Rulewatch polls until the user approved.
    pub async fn sign_in_device(
        &self,
        tenant_id: &str,
        client_id: &str,
        show: impl FnOnce(&str),
    ) -> Result<PartnerAccount, Problem> {
        let device_url = DeviceAuthorizationUrl::new(format!(
            "{}/{tenant_id}/oauth2/v2.0/devicecode",
            self.endpoints.login
        ))
        .map_err(|e| {
            Problem::new(
                ProblemKind::BadResponse,
                format!("bad device code URL ({e})"),
            )
        })?;
        let client =
            client(self.endpoints, tenant_id, client_id)?.set_device_authorization_url(device_url);
        let what = "asking Microsoft for a device code";
        let details: oauth2::DeviceAuthorizationResponse<DeviceMessage> = client
            .exchange_device_code()
            .add_scopes(sign_in_scopes(self.endpoints))
            .request_async(&Transport::new(self.http, what))
            .await
            .map_err(|e| token_problem(e, what))?;
        let message = details.extra_fields().message.clone().unwrap_or_else(|| {
            format!(
                "To sign in, open {} and enter the code {}",
                details.verification_uri().as_str(),
                details.user_code().secret()
            )
        });
        show(&message);
        let what = "waiting for the device sign-in";
        let tokens = client
            .exchange_device_access_token(&details)
            .request_async(&Transport::new(self.http, what), tokio::time::sleep, None)
            .await
            .map_err(|e| token_problem(e, what))?;
        self.keep(tenant_id, client_id, &tokens)
    }

    /// Removes the refresh token and the account; cached access tokens go with the process.
    pub fn sign_out(&self) -> Result<(), Problem> {
        self.secrets
            .delete(NO_TENANT, SecretKind::PartnerRefreshToken)
            .map_err(|e| Problem::new(ProblemKind::Keychain, e.to_string()))?;
        self.store.remove_setting(&ACCOUNT_SETTING).map_err(|e| {
            Problem::new(
                ProblemKind::LocalDatabase,
                format!("could not forget the partner account: {e}"),
            )
        })
    }
}
