//! The partner account's tokens: its refresh token, kept in the keychain, exchanged at
//! each customer tenant's token endpoint for that tenant's tokens
//! (`../shared/reference/m365-api.md` §C2). Rotated refresh tokens replace the stored
//! one at once; the old ones stay valid (§G 9), so customers' exchanges run at once and
//! the keychain keeps the newest. Sign-in itself is in `crate::partner`.
#![warn(missing_docs)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use oauth2::{ClientId, EndpointNotSet, RefreshToken, Scope, TokenResponse, TokenUrl};
use secrecy::{ExposeSecret, SecretString};

use super::oauth::{EntraClient, Transport, token_problem};
use crate::cloud::Endpoints;
use crate::http::{Http, RetryStats};
use crate::problem::{Problem, ProblemKind};
use crate::secrets::{NO_TENANT, SecretKind, SecretStore};

/// An OAuth client of the partner app at `tenant_id`'s token endpoint.
pub(crate) fn client(
    endpoints: &Endpoints,
    tenant_id: &str,
    client_id: &str,
) -> Result<EntraClient, Problem> {
    let url = |path: &str| format!("{}/{tenant_id}/oauth2/v2.0/{path}", endpoints.login);
    let token_url = TokenUrl::new(url("token"))
        .map_err(|e| Problem::new(ProblemKind::BadResponse, format!("bad token URL ({e})")))?;
    Ok(
        EntraClient::<EndpointNotSet, EndpointNotSet, EndpointNotSet>::new(ClientId::new(
            client_id.into(),
        ))
        .set_token_uri(token_url),
    )
}

/// The partner refresh token in the keychain, replaced only by a newer one: the one Entra
/// answered last. Old refresh tokens stay valid (../shared/reference/m365-api.md §G 9), so exchanges need not
/// wait for each other; this only keeps one answered earlier from overwriting a newer token.
pub(crate) struct RefreshKeeper {
    secrets: Arc<dyn SecretStore>,
    kept_at: Mutex<Option<Instant>>,
}

impl RefreshKeeper {
    pub(crate) fn new(secrets: Arc<dyn SecretStore>) -> RefreshKeeper {
        RefreshKeeper {
            secrets,
            kept_at: Mutex::new(None),
        }
    }

    /// Runs `write` for a token Entra answered at `answered`, unless a newer one is kept.
    fn keep<E>(&self, answered: Instant, write: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        let mut kept = self.kept_at.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.is_some_and(|k| k > answered) {
            return Ok(());
        }
        write()?;
        *kept = Some(answered);
        Ok(())
    }
}

/// Exchanges the stored refresh token at `tenant_id`'s token endpoint for `resource`,
/// keeping the rotated refresh token if it is the newest.
pub(crate) async fn exchange(
    http: &Http,
    endpoints: &Endpoints,
    keeper: Arc<RefreshKeeper>,
    client_id: &str,
    tenant_id: &str,
    resource: &str,
    stats: &RetryStats,
) -> Result<(SecretString, Duration), Problem> {
    // Keychain calls block on D-Bus or the platform API.
    let keychain = keeper.secrets.clone();
    let stored = tokio::task::spawn_blocking(move || {
        keychain.get(NO_TENANT, SecretKind::PartnerRefreshToken)
    })
    .await
    .map_err(|e| {
        Problem::new(
            ProblemKind::Keychain,
            format!("keychain lookup failed ({e})"),
        )
    })?
    .map_err(|e| match e {
        crate::secrets::SecretError::NotSignedIn => {
            Problem::new(ProblemKind::SignInNeeded, e.to_string())
        }
        other => Problem::new(ProblemKind::Keychain, other.to_string()),
    })?;
    let refresh = RefreshToken::new(String::from_utf8(stored.expose_secret().to_vec()).map_err(
        |_| {
            Problem::new(
                ProblemKind::Keychain,
                "the stored partner refresh token is not text; sign in again",
            )
        },
    )?);
    let what = format!("getting a partner token for tenant {tenant_id}");
    let transport = Transport::new(http, &what);
    let answer = client(endpoints, tenant_id, client_id)?
        .exchange_refresh_token(&refresh)
        .add_scope(Scope::new(format!("{resource}/.default")))
        .add_scope(Scope::new("offline_access".into()))
        .request_async(&transport)
        .await;
    transport.count_into(stats);
    let tokens = answer.map_err(|e| token_problem(e, &what))?;
    if let Some(rotated) = tokens.refresh_token() {
        let (rotated, answered) = (rotated.secret().clone().into_bytes(), Instant::now());
        tokio::task::spawn_blocking(move || {
            keeper.keep(answered, || {
                keeper
                    .secrets
                    .set(NO_TENANT, SecretKind::PartnerRefreshToken, &rotated)
            })
        })
        .await
        .map_err(|e| {
            Problem::new(
                ProblemKind::Keychain,
                format!("keychain update failed ({e})"),
            )
        })?
        .map_err(|e| Problem::new(ProblemKind::Keychain, e.to_string()))?;
    }
    let lifetime = tokens.expires_in().unwrap_or(Duration::from_secs(3600));
    Ok((
        SecretString::from(tokens.access_token().secret().clone()),
        lifetime,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_token_answered_earlier_never_replaces_a_newer_one() {
        let keeper = RefreshKeeper::new(Arc::new(crate::secrets::MemorySecrets::default()));
        let (earlier, later) = (Instant::now(), Instant::now() + Duration::from_millis(1));
        let mut written = Vec::new();
        let mut write = |what| {
            written.push(what);
            Ok::<_, ()>(())
        };
        keeper.keep(later, || write("later")).unwrap();
        keeper.keep(earlier, || write("earlier")).unwrap();
        keeper
            .keep(later + Duration::from_millis(1), || write("newest"))
            .unwrap();
        assert_eq!(written, ["later", "newest"]);
    }
}
