//! Partner sign-in: a technician of the MSP signs in once, with MFA, in the browser
//! (authorization code with PKCE, answered on a loopback port) or with a device code;
//! the refresh token goes to the keychain and is exchanged at each customer tenant's
//! token endpoint for that tenant's tokens (m365-api.md C2). Rotated refresh tokens
//! replace the stored one at once; the old ones stay valid (§G 9), so customers'
//! exchanges run at once and the keychain keeps the newest.

pub mod oauth;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, DeviceAuthorizationUrl, EndpointNotSet,
    PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::cloud::Endpoints;
use crate::http::{Http, RetryStats};
use crate::problem::{Problem, ProblemKind};
use crate::secrets::{NO_TENANT, SecretKind, SecretStore};
use crate::store::{Store, StoreError};
use oauth::{DeviceMessage, EntraClient, Tokens, Transport, token_problem};

/// Where the signed-in partner account is described (never its tokens).
pub const ACCOUNT_SETTING: &str = "partner.account";

/// How long a browser sign-in may take before Rulewatch stops waiting.
const SIGN_IN_WAIT: Duration = Duration::from_secs(300);

/// How long one connection to the loopback port may take to send its request: a
/// browser's pre-connect or a port scanner may open one and send nothing.
const CONNECTION_WAIT: Duration = Duration::from_secs(10);

/// The signed-in partner account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerAccount {
    pub tenant_id: String,
    pub client_id: String,
    /// Who signed in (the ID token's `preferred_username`).
    pub upn: String,
    pub signed_in_at: DateTime<Utc>,
    /// When the refresh token was last used (and rotated).
    pub refreshed_at: DateTime<Utc>,
    /// When Entra says the refresh token lapses, if it says.
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

impl PartnerAccount {
    /// When the refresh token lapses, if within 3 days of `now`: 90 days after its last
    /// use (Entra's inactivity limit; every scan of a partner customer uses and renews
    /// it), or earlier when Entra said so.
    pub fn lapses_soon(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let unused = self.refreshed_at + chrono::Duration::days(90);
        let at = self
            .refresh_expires_at
            .map_or(unused, |stated| stated.min(unused));
        (at - now < chrono::Duration::days(3)).then_some(at)
    }
}

pub fn account(store: &Store) -> Result<Option<PartnerAccount>, StoreError> {
    store.setting(ACCOUNT_SETTING)
}

/// The scopes a sign-in asks for: Graph (to list customers), a refresh token, and an ID
/// token naming who signed in (Entra sends one only for `openid`, m365-api.md §G 10).
fn sign_in_scopes(endpoints: &Endpoints) -> Vec<Scope> {
    ["offline_access", "openid", "profile"]
        .into_iter()
        .map(|s| Scope::new(s.into()))
        .chain([Scope::new(format!("{}/.default", endpoints.graph_resource))])
        .collect()
}

fn client(endpoints: &Endpoints, tenant_id: &str, client_id: &str) -> Result<EntraClient, Problem> {
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
    pub http: &'a Http,
    pub endpoints: &'a Endpoints,
    pub secrets: &'a dyn SecretStore,
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
        let now = Utc::now();
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
            .set_setting(ACCOUNT_SETTING, &account)
            .map_err(|e| {
                Problem::new(
                    ProblemKind::BadResponse,
                    format!("could not save the partner account: {e}"),
                )
            })?;
        Ok(account)
    }

    /// Signs in in the browser: `open` is given the sign-in page's address (and may
    /// fail: the address is also for the user to open by hand); Microsoft sends the
    /// browser back to `http://localhost:PORT/`, the host the README has technicians
    /// register (Entra matches the host, not the port: m365-api.md §G 10), answered on
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
        self.store.remove_setting(ACCOUNT_SETTING).map_err(|e| {
            Problem::new(
                ProblemKind::BadResponse,
                format!("could not forget the partner account: {e}"),
            )
        })
    }
}

/// The partner refresh token in the keychain, replaced only by a newer one: the one Entra
/// answered last. Old refresh tokens stay valid (m365-api.md §G 9), so exchanges need not
/// wait for each other; this only keeps one answered earlier from overwriting a newer token.
pub struct RefreshKeeper {
    secrets: Arc<dyn SecretStore>,
    kept_at: Mutex<Option<Instant>>,
}

impl RefreshKeeper {
    pub fn new(secrets: Arc<dyn SecretStore>) -> RefreshKeeper {
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
pub async fn exchange(
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

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Serves the loopback port, each connection on its own and for at most
/// [`CONNECTION_WAIT`], until a request carries `state`; returns that request's query.
/// A silent connection (a browser's pre-connect, a port scanner) or a request for
/// another sign-in cannot hold up the real redirect.
async fn wait_for_redirect(listener: TcpListener, state: String) -> Result<String, Problem> {
    let state = Arc::new(state);
    // Dropping the set (once the redirect came) ends the connections still open.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (socket, _) = accepted.map_err(|e| Problem::new(ProblemKind::Unreachable, e.to_string()))?;
                let state = state.clone();
                connections.spawn(async move {
                    tokio::time::timeout(CONNECTION_WAIT, answer_redirect(socket, &state)).await.ok().flatten()
                });
            }
            Some(done) = connections.join_next() => {
                if let Ok(Some(query)) = done {
                    return Ok(query);
                }
            }
        }
    }
}

/// Reads one HTTP request and answers it; returns its query if it carries `state`,
/// checked before anything else in it is looked at.
async fn answer_redirect(mut socket: TcpStream, state: &str) -> Option<String> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut read = 0;
    while read < buf.len() {
        match socket.read(&mut buf[read..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
        if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..read]);
    let target = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_string();
    let query = target.split_once('?').map(|(_, q)| q.to_string());
    let (status, text, found) = match query {
        // Browsers also ask for /favicon.ico: only the redirect carries a query.
        None => ("404 Not Found", "", None),
        Some(q) if query_param(&q, "state").as_deref() == Some(state) => (
            "200 OK",
            "Sign-in received. You can close this tab and return to Rulewatch.",
            Some(q),
        ),
        Some(_) => (
            "400 Bad Request",
            "This answer does not belong to the sign-in Rulewatch is waiting for, and was ignored. \
             If you did not start it, close this tab.",
            None,
        ),
    };
    let page = if text.is_empty() {
        String::new()
    } else {
        format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Rulewatch</title></head><body><p>{text}</p></body></html>"
        )
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    found
}

/// One customer of the partner (Graph `delegatedAdminCustomers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub tenant_id: String,
    pub name: String,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<serde_json::Value>,
    #[serde(rename = "@odata.nextLink")]
    next: Option<String>,
}

/// Every item of a Graph collection under `tenantRelationships/`, read with the partner
/// account's own token, following `@odata.nextLink`.
async fn partner_collection(
    api: &crate::api::Api,
    account: &PartnerAccount,
    collection: &str,
    what: &str,
    stats: &RetryStats,
) -> Result<Vec<serde_json::Value>, Problem> {
    let app = crate::auth::AppIdentity {
        tenant_id: account.tenant_id.clone(),
        client_id: account.client_id.clone(),
        method: crate::auth::AuthMethod::Partner,
        cloud: None,
    };
    let mut url = format!(
        "{}/v1.0/tenantRelationships/{collection}",
        api.endpoints.graph
    );
    let mut found = Vec::new();
    loop {
        let reply = api
            .send(&app, crate::auth::Resource::Graph, reqwest::Method::GET, &url, what, stats, crate::api::Request::default())
            .await
            .map_err(|e| match e {
                crate::api::CallError::Problem(p) => p,
                crate::api::CallError::Api(e) => Problem::new(
                    ProblemKind::PermissionMissing,
                    format!(
                        "{what}: Microsoft answered HTTP {} ({} {}). The partner app needs the delegated Graph permission \
                         DelegatedAdminRelationship.Read.All, and the account a role that may read GDAP relationships",
                        e.status.as_u16(),
                        e.code,
                        e.message
                    ),
                ),
            })?;
        let page: Page = serde_json::from_slice(&reply.body).map_err(|e| {
            Problem::new(
                ProblemKind::BadResponse,
                format!("{what}: the answer cannot be read ({e})"),
            )
        })?;
        found.extend(page.value);
        match page.next {
            Some(next) => url = next,
            None => return Ok(found),
        }
    }
}

/// Every customer the partner account reaches through GDAP.
pub async fn customers(
    api: &crate::api::Api,
    account: &PartnerAccount,
    stats: &RetryStats,
) -> Result<Vec<Customer>, Problem> {
    let items = partner_collection(
        api,
        account,
        "delegatedAdminCustomers",
        "listing the partner's customers",
        stats,
    )
    .await?;
    Ok(items
        .iter()
        .filter_map(|c| {
            let tenant_id = c["tenantId"].as_str()?.to_ascii_lowercase();
            let name = c["displayName"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map_or_else(|| tenant_id.clone(), str::to_string);
            Some(Customer { tenant_id, name })
        })
        .collect())
}

/// Entra's role template ids, for naming the roles a GDAP relationship grants.
const ROLE_NAMES: [(&str, &str); 8] = [
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
    ),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
    ),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"),
    ("5d6b6bb7-de71-4623-b4af-96380a352509", "Security Reader"),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
    ),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader"),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
    ),
    (
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Privileged Authentication Administrator",
    ),
];

/// The roles each customer's active GDAP relationships grant, by customer tenant id.
pub async fn gdap_roles(
    api: &crate::api::Api,
    account: &PartnerAccount,
    stats: &RetryStats,
) -> Result<std::collections::HashMap<String, Vec<String>>, Problem> {
    let items = partner_collection(
        api,
        account,
        "delegatedAdminRelationships",
        "reading the GDAP relationships",
        stats,
    )
    .await?;
    let mut roles: std::collections::HashMap<String, Vec<String>> =
        std::collections::HashMap::new();
    for r in items.iter().filter(|r| r["status"] == "active") {
        let Some(tenant) = r["customer"]["tenantId"].as_str() else {
            continue;
        };
        let granted = roles.entry(tenant.to_ascii_lowercase()).or_default();
        for id in r["accessDetails"]["unifiedRoles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u["roleDefinitionId"].as_str())
        {
            let name = ROLE_NAMES
                .iter()
                .find(|(t, _)| t.eq_ignore_ascii_case(id))
                .map_or(id, |(_, n)| n)
                .to_string();
            if !granted.contains(&name) {
                granted.push(name);
            }
        }
    }
    Ok(roles)
}

/// Whether every customer is watched unless excluded (on unless turned off).
pub const WATCH_ALL_SETTING: &str = "partner.watch_all";
/// When the customers were last listed.
pub const DISCOVERED_AT_SETTING: &str = "partner.discovered_at";

pub fn watch_all(store: &Store) -> Result<bool, StoreError> {
    Ok(store.setting(WATCH_ALL_SETTING)?.unwrap_or(true))
}

/// What one listing of the customers changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Discovery {
    pub customers: usize,
    /// Customers Rulewatch started watching: coverage grew.
    pub now_watched: Vec<Customer>,
}

fn store_problem(e: StoreError) -> Problem {
    Problem::new(
        ProblemKind::LocalDatabase,
        format!("the partner's customers could not be saved: {e}"),
    )
}

/// Lists the customers, records them, and with "watch all" on starts watching each one
/// not excluded and not watched yet.
pub async fn discover(
    api: &crate::api::Api,
    store: &Store,
    account: &PartnerAccount,
    stats: &RetryStats,
) -> Result<Discovery, Problem> {
    let listed = customers(api, account, stats).await?;
    // Roles are shown, not needed: a failure to read them leaves them unknown.
    let roles = gdap_roles(api, account, stats)
        .await
        .map_err(|p| tracing::warn!("reading the GDAP roles failed: {p}"))
        .ok();
    let rows: Vec<(String, String, Option<Vec<String>>)> = listed
        .iter()
        .map(|c| {
            (
                c.tenant_id.clone(),
                c.name.clone(),
                roles
                    .as_ref()
                    .map(|r| r.get(&c.tenant_id).cloned().unwrap_or_default()),
            )
        })
        .collect();
    store.record_customers(&rows).map_err(store_problem)?;
    store
        .set_setting(DISCOVERED_AT_SETTING, &Utc::now())
        .map_err(store_problem)?;
    let mut now_watched = Vec::new();
    if watch_all(store).map_err(store_problem)? {
        let rows = store.customers().map_err(store_problem)?;
        for c in &listed {
            if rows
                .iter()
                .any(|r| r.tenant_id == c.tenant_id && !r.excluded && !r.watched)
            {
                watch(store, account, c).map_err(store_problem)?;
                now_watched.push(c.clone());
            }
        }
    }
    Ok(Discovery {
        customers: listed.len(),
        now_watched,
    })
}

/// Starts watching one customer through the partner account.
pub fn watch(store: &Store, account: &PartnerAccount, c: &Customer) -> Result<(), StoreError> {
    store.set_customer_excluded(&c.tenant_id, false)?;
    store.add_tenant(&crate::store::TenantRow {
        tenant_id: c.tenant_id.clone(),
        name: c.name.clone(),
        client_id: account.client_id.clone(),
        auth_method: crate::auth::AuthMethod::Partner,
        cloud: None,
    })
}

/// Why a customer could not be watched or excluded.
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("no partner account is signed in")]
    NotSignedIn,
    #[error("{0} is not one of the partner's customers")]
    NotACustomer(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The listed customer with this tenant id, in any case.
fn listed_customer(
    store: &Store,
    tenant_id: &str,
) -> Result<crate::store::CustomerRow, CustomerError> {
    store
        .customers()?
        .into_iter()
        .find(|c| c.tenant_id.eq_ignore_ascii_case(tenant_id.trim()))
        .ok_or_else(|| CustomerError::NotACustomer(crate::shown::shown(tenant_id)))
}

/// Watches a listed customer (again); answers it, and whether it was watched already.
pub fn watch_customer(
    store: &Store,
    tenant_id: &str,
) -> Result<(crate::store::CustomerRow, bool), CustomerError> {
    let account = account(store)?.ok_or(CustomerError::NotSignedIn)?;
    let c = listed_customer(store, tenant_id)?;
    if !c.watched {
        let customer = Customer {
            tenant_id: c.tenant_id.clone(),
            name: c.name.clone(),
        };
        watch(store, &account, &customer)?;
    }
    let already = c.watched;
    Ok((c, already))
}

/// Stops watching a listed customer and keeps it out of "watch all"; its alerts stay.
pub fn exclude_customer(
    store: &Store,
    tenant_id: &str,
) -> Result<crate::store::CustomerRow, CustomerError> {
    let c = listed_customer(store, tenant_id)?;
    exclude(store, &c.tenant_id)?;
    Ok(c)
}

/// Stops watching one customer and keeps it out of "watch all"; its alerts stay.
pub fn exclude(store: &Store, tenant_id: &str) -> Result<bool, StoreError> {
    let known = store.set_customer_excluded(tenant_id, true)?;
    if store.partner_tenants()?.iter().any(|t| t == tenant_id) {
        store.remove_tenant(tenant_id)?;
    }
    Ok(known)
}

/// Whether the customers should be listed again: never listed, or `every` ago.
pub fn discovery_due(store: &Store, every: chrono::Duration) -> Result<bool, StoreError> {
    let last: Option<DateTime<Utc>> = store.setting(DISCOVERED_AT_SETTING)?;
    Ok(last.is_none_or(|at| Utc::now() - at >= every))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(
        refreshed_days_ago: i64,
        expires_in_days: Option<i64>,
        now: DateTime<Utc>,
    ) -> PartnerAccount {
        PartnerAccount {
            tenant_id: "p".into(),
            client_id: "c".into(),
            upn: "tech@msp.example".into(),
            signed_in_at: now - chrono::Duration::days(100),
            refreshed_at: now - chrono::Duration::days(refreshed_days_ago),
            refresh_expires_at: expires_in_days.map(|d| now + chrono::Duration::days(d)),
        }
    }

    #[test]
    fn a_customer_is_watched_and_excluded_by_its_id_in_any_case() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = "0b9d3f53-5b73-4c41-9ad2-6f6b51b9a001";
        store
            .record_customers(&[(id.into(), "Northwind".into(), None)])
            .unwrap();
        assert!(matches!(
            watch_customer(&store, id),
            Err(CustomerError::NotSignedIn)
        ));
        store
            .set_setting(ACCOUNT_SETTING, &account(1, None, Utc::now()))
            .unwrap();
        let upper = id.to_ascii_uppercase();
        let (c, already) = watch_customer(&store, &format!(" {upper} ")).unwrap();
        assert_eq!((c.name.as_str(), already), ("Northwind", false));
        assert_eq!(store.partner_tenants().unwrap(), [id]);
        assert!(watch_customer(&store, id).unwrap().1, "already watched");
        exclude_customer(&store, &upper).unwrap();
        assert!(store.partner_tenants().unwrap().is_empty());
        assert!(store.customers().unwrap()[0].excluded);
        let unknown = exclude_customer(&store, "nobody").unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "nobody is not one of the partner's customers"
        );
    }

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

    #[test]
    fn a_token_unused_for_almost_90_days_or_near_its_stated_expiry_lapses_soon() {
        let now = Utc::now();
        assert!(
            account(1, None, now).lapses_soon(now).is_none(),
            "used yesterday"
        );
        assert_eq!(
            account(88, None, now).lapses_soon(now),
            Some(now + chrono::Duration::days(2))
        );
        assert!(
            account(1, Some(2), now).lapses_soon(now).is_some(),
            "Entra's own expiry wins"
        );
        assert_eq!(
            account(88, Some(30), now).lapses_soon(now),
            Some(now + chrono::Duration::days(2)),
            "unused for 88 days, it lapses in 2 whatever Entra stated"
        );
        assert!(account(1, Some(30), now).lapses_soon(now).is_none());
    }
}
