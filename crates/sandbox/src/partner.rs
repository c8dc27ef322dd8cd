//! Partner (GDAP) sign-in for the Secure Application Model (C1, C2): a technician signs in to
//! the partner's multi-tenant app with the authorization code flow (PKCE) or the device code
//! flow, then redeems the refresh token at each customer tenant's token endpoint per resource.
//! Also Graph's `delegatedAdminCustomers`, which lists those customers.
//!
//! Behaving as Entra does (../shared/reference/m365-api.md §G):
//! - The redirect URI must match one registered on the app (`partner.redirect_uris`, by
//!   default `http://localhost`): for a loopback URI the port is ignored but the host is not,
//!   so `localhost` and `127.0.0.1` do not match each other, and `[::1]` is never accepted;
//!   a mismatch is the `AADSTS50011` error page (§G 10).
//! - An `id_token` comes back only when `openid` was asked for (§G 10).
//! - A refresh token is replaced on each use, but the old one stays valid (§G 9); several
//!   exchanges may run at once.
//! - The device code flow answers `expired_token` once the code has lapsed and
//!   `authorization_declined` once the user cancelled at the device login page.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{EncodingKey, Header};
use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;
use uuid::Uuid;

use crate::app::{App, TenantEntry};
use crate::graph::{GraphCaller, Refused, graph_caller};
use crate::ids;
use crate::scenario::{Partner, default_gdap_roles};
use crate::times::entra_time;
use crate::token::{
    Audience, Delegation, EntraError, Grant, GrantKind, HomeGrant, entra_error, invalid_scope,
    missing_parameter, random_token, tenant_not_found, unknown_client,
};

/// Authorization codes live 10 minutes.
const CODE_LIFETIME: Duration = Duration::minutes(10);

/// The HS256 key of id tokens: clients read them, nothing needs to verify them.
const ID_TOKEN_KEY: &[u8] = b"m365-sandbox-id-token";

/// Scopes asking for sign-in artefacts rather than a resource.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// What a technician holds in their own tenant when it is also a scenario tenant.
const HOME_ROLE: &str = "Global Administrator";

/// The partner of the scenario and what changes while the sandbox runs.
pub(crate) struct PartnerState {
    /// Lower-case GUID.
    pub id: String,
    pub config: Partner,
    live: Mutex<PartnerLive>,
}

struct PartnerLive {
    /// Lower-case tenant GUIDs with an active relationship, in the order they were added.
    customers: Vec<String>,
    /// By lower-case tenant GUID; a tenant without an entry gets `default_gdap_roles`.
    gdap_roles: HashMap<String, Vec<String>>,
    codes: HashMap<String, AuthCode>,
    refresh_tokens: HashMap<String, RefreshGrant>,
    /// By device code.
    devices: HashMap<String, DeviceAuth>,
    /// Refresh tokens from sign-ins before this are revoked (Entra's `TokensValidFrom`).
    valid_from: Option<DateTime<Utc>>,
}

struct AuthCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    user: usize,
    expires: DateTime<Utc>,
    redeemed: bool,
}

struct RefreshGrant {
    user: usize,
    /// The sign-in, kept across rotation so that revoking reaches every descendant.
    auth_time: DateTime<Utc>,
    issued: DateTime<Utc>,
}

/// What the technician did at the device login page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DeviceAnswer {
    Approved(usize),
    Declined,
}

struct DeviceAuth {
    user_code: String,
    scope: String,
    expires: DateTime<Utc>,
    answer: Option<DeviceAnswer>,
}

/// The requested scopes: one resource (Graph when none is named) plus OpenID scopes.
struct Scopes {
    audience: Audience,
    offline: bool,
    /// Asks for an ID token (§G 10).
    openid: bool,
    /// Echoed as the token response's `scope`.
    text: String,
}

fn parse_scopes(scope: &str) -> Result<Scopes, EntraError> {
    let mut audiences = Vec::new();
    let mut oidc = Vec::new();
    for part in scope.split_whitespace() {
        if OIDC_SCOPES.contains(&part) {
            oidc.push(part);
        } else if let Some(audience) = Audience::from_scope(part) {
            audiences.push(audience);
        } else {
            return Err(invalid_scope(scope));
        }
    }
    if audiences.len() > 1 {
        return Err(entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            28000,
            &format!(
                "Provided value for the input parameter scope '{scope}' is not valid because it contains more \
                 than one resource. Scope {scope} is not valid."
            ),
        ));
    }
    let audience = audiences.first().copied().unwrap_or(Audience::Graph);
    let text = std::iter::once(audience.default_scope())
        .chain(oidc.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Scopes {
        audience,
        offline: oidc.contains(&"offline_access"),
        openid: oidc.contains(&"openid"),
        text,
    })
}

fn invalid_grant(code: u32, description: &str) -> EntraError {
    entra_error(StatusCode::BAD_REQUEST, "invalid_grant", code, description)
}

fn malformed_grant() -> EntraError {
    invalid_grant(9002313, "Invalid request. Request is malformed or invalid.")
}

/// Entra's timestamps in grant errors, e.g. `2021-07-19T14:01:41.1468970Z`.
fn grant_time(t: DateTime<Utc>) -> String {
    // chrono has no 7-digit fraction, .NET's tick precision.
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

/// A .NET `TimeSpan` as Entra prints it, e.g. `90.00:00:00`.
fn timespan(seconds: u64) -> String {
    let (days, rest) = (seconds / 86400, seconds % 86400);
    let hms = format!("{:02}:{:02}:{:02}", rest / 3600, rest / 60 % 60, rest % 60);
    if days > 0 {
        format!("{days}.{hms}")
    } else {
        hms
    }
}

fn seconds(s: u64) -> Duration {
    Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX))
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The GDAP roles' rights, named as the app roles the existing APIs check.
fn permissions(directory_roles: &[String]) -> Vec<String> {
    let holds = |role: &str| directory_roles.iter().any(|r| r.eq_ignore_ascii_case(role));
    let mut permissions = Vec::new();
    if !directory_roles.is_empty() {
        permissions.extend(["ActivityFeed.Read", "Domain.Read.All", "User.Read.All"]);
    }
    if holds("User Administrator") || holds("Global Administrator") {
        permissions.extend([
            "User.EnableDisableAccount.All",
            "User.RevokeSessions.All",
            "User-PasswordProfile.ReadWrite.All",
        ]);
    }
    permissions.into_iter().map(String::from).collect()
}

impl PartnerState {
    pub(crate) fn new(config: Partner) -> PartnerState {
        let customers = config
            .customers
            .iter()
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let gdap_roles = config
            .gdap_roles
            .iter()
            .map(|(tenant, roles)| (tenant.to_ascii_lowercase(), roles.clone()))
            .collect();
        PartnerState {
            id: config.tenant_id.to_ascii_lowercase(),
            live: Mutex::new(PartnerLive {
                customers,
                gdap_roles,
                codes: HashMap::new(),
                refresh_tokens: HashMap::new(),
                devices: HashMap::new(),
                valid_from: None,
            }),
            config,
        }
    }

    /// Whether `tenant` (from a URL) is the partner's own tenant.
    pub(crate) fn is_home(&self, tenant: &str) -> bool {
        self.id.eq_ignore_ascii_case(tenant)
    }

    fn live(&self) -> MutexGuard<'_, PartnerLive> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How Entra names the partner's directory in messages.
    fn directory_name(&self, app: &App) -> String {
        app.tenant_by_id(&self.id)
            .map_or(self.id.clone(), |t| app.tenants[t].config.name.clone())
    }

    fn oid(&self, user: usize) -> Uuid {
        let upn = self.config.users[user].upn.to_ascii_lowercase();
        ids::guid(&[b"partner-user", self.id.as_bytes(), upn.as_bytes()])
    }

    /// Adds a customer (idempotent); `tenant` must be a scenario tenant other than the partner.
    pub(crate) fn add_customer(&self, tenant: &str) {
        let mut live = self.live();
        if !live.customers.iter().any(|c| c == tenant) {
            live.customers.push(tenant.to_string());
        }
    }

    /// Ends a relationship; false if `tenant` was no customer.
    pub(crate) fn remove_customer(&self, tenant: &str) -> bool {
        let mut live = self.live();
        let before = live.customers.len();
        live.customers.retain(|c| c != tenant);
        live.customers.len() != before
    }

    /// Revokes every refresh token issued so far, as revoking the technician's sessions does.
    pub(crate) fn revoke(&self) {
        self.live().valid_from = Some(Utc::now());
    }

    pub(crate) fn set_gdap_roles(&self, tenant: &str, roles: Vec<String>) {
        self.live().gdap_roles.insert(tenant.to_string(), roles);
    }

    /// For the control endpoints' answers.
    pub(crate) fn state(&self) -> Value {
        let live = self.live();
        let roles: HashMap<&str, Vec<String>> = live
            .customers
            .iter()
            .map(|c| (c.as_str(), live.roles_in(c)))
            .collect();
        json!({
            "tenant_id": self.id,
            "customers": live.customers,
            "gdap_roles": roles,
            "tokens_valid_from": live.valid_from.map(grant_time),
        })
    }
}

impl PartnerLive {
    fn roles_in(&self, tenant: &str) -> Vec<String> {
        self.gdap_roles
            .get(tenant)
            .cloned()
            .unwrap_or_else(default_gdap_roles)
    }
}

/// A refused sign-in that cannot go back to the app: Entra's error page.
fn error_page(code: u32, description: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Sorry, but we’re having trouble signing you in.",
        &format!("AADSTS{code}: {description}"),
    )
}

fn page(status: StatusCode, heading: &str, text: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sign in to your account</title></head>\
         <body><h1>{}</h1><p>{}</p></body></html>\n",
        escape(heading),
        escape(text)
    );
    (status, Html(body)).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The redirect URI if it matches one registered on the app. Entra ignores the port of a
/// loopback URI but compares everything else, the host included: `localhost` does not
/// match `127.0.0.1`, and `[::1]` is not supported at all (../shared/reference/m365-api.md §G 10, [ER]).
fn registered_redirect(uri: &str, registered: &[String]) -> Option<Url> {
    let url = Url::parse(uri).ok()?;
    if url.fragment().is_some() || url.host_str() == Some("[::1]") {
        return None;
    }
    let loopback =
        url.scheme() == "http" && matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    let matches = |r: &String| {
        let Ok(r) = Url::parse(r) else { return false };
        let same_port = loopback || r.port_or_known_default() == url.port_or_known_default();
        // Guess: Entra treats `http://localhost` and `http://localhost/` alike, because
        // its portal stores what it was given and URL parsers add the `/` to an empty path.
        r.scheme() == url.scheme()
            && r.host_str().map(str::to_ascii_lowercase)
                == url.host_str().map(str::to_ascii_lowercase)
            && same_port
            && r.path() == url.path()
            && r.query() == url.query()
    };
    registered.iter().any(matches).then_some(url)
}

/// A refused sign-in sent back to the app, as Entra does once the redirect URI is trusted.
fn redirect_error(url: Url, state: Option<&str>, err: &EntraError) -> Response {
    let (trace_id, correlation_id) = (Uuid::new_v4(), Uuid::new_v4());
    let description = format!(
        "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {}",
        err.code,
        err.description,
        entra_time(Utc::now())
    );
    let uri = format!("https://login.microsoftonline.com/error?code={}", err.code);
    redirect_back(
        url,
        &[
            ("error", err.error),
            ("error_description", &description),
            ("error_uri", &uri),
        ],
        state,
    )
}

/// Redirects to the app with `pairs` and then the `state` it sent, whether it is signed in or refused.
fn redirect_back(mut url: Url, pairs: &[(&str, &str)], state: Option<&str>) -> Response {
    {
        let mut query = url.query_pairs_mut();
        query.extend_pairs(pairs);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.as_str())]).into_response()
}

/// `GET /{partner}/oauth2/v2.0/authorize`: signs the technician in at once and redirects with a code.
pub(crate) async fn authorize(
    State(app): State<Arc<App>>,
    Path(tenant_name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    app.stats.authorize();
    let param = |name: &str| {
        query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let Some(partner) = app.partner.as_ref().filter(|p| p.is_home(&tenant_name)) else {
        return error_page(
            90002,
            &format!(
                "Tenant '{tenant_name}' not found. Technicians sign in at the partner tenant."
            ),
        );
    };
    let Some(client_id) = param("client_id") else {
        return error_page(
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(redirect) = param("redirect_uri")
        .and_then(|uri| registered_redirect(uri, &partner.config.redirect_uris))
    else {
        return error_page(
            50011,
            &format!(
                "The redirect URI '{}' specified in the request does not match the redirect URIs configured for the \
                 application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your \
                 application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more \
                 about how to fix this.",
                param("redirect_uri").unwrap_or_default()
            ),
        );
    };
    let state = param("state");
    let refuse = |err: EntraError| redirect_error(redirect.clone(), state, &err);
    let bad_request = |code: u32, description: &str| {
        refuse(entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            code,
            description,
        ))
    };
    if !client_id.eq_ignore_ascii_case(&partner.config.client_id) {
        return refuse(unknown_client(client_id, &partner.directory_name(&app)));
    }
    match param("response_type") {
        None => {
            return bad_request(
                900144,
                "The request body must contain the following parameter: 'response_type'.",
            );
        }
        Some("code") => {}
        Some(other) => {
            return refuse(entra_error(
                StatusCode::BAD_REQUEST,
                "unsupported_response_type",
                700054,
                &format!("response_type '{other}' is not enabled for the application."),
            ));
        }
    }
    // Entra makes PKCE optional for native apps; the sandbox insists, as Rulewatch must use it.
    let Some(challenge) = param("code_challenge") else {
        return bad_request(
            900144,
            "The request body must contain the following parameter: 'code_challenge'.",
        );
    };
    if param("code_challenge_method") != Some("S256") {
        return bad_request(50149, "Invalid Code_Challenge_method parameter.");
    }
    // A base64url SHA-256 is always 43 characters.
    if challenge.len() != 43 {
        return bad_request(501491, "Invalid size of Code_Challenge parameter.");
    }
    let scope = param("scope").unwrap_or_default();
    if let Err(err) = parse_scopes(scope) {
        return refuse(err);
    }
    let user = param("login_hint")
        .and_then(|hint| {
            partner
                .config
                .users
                .iter()
                .position(|u| u.upn.eq_ignore_ascii_case(hint))
        })
        .unwrap_or(0);
    let code = random_token();
    partner.live().codes.insert(
        code.clone(),
        AuthCode {
            client_id: client_id.to_string(),
            redirect_uri: param("redirect_uri").unwrap_or_default().to_string(),
            challenge: challenge.to_string(),
            scope: scope.to_string(),
            user,
            expires: Utc::now() + CODE_LIFETIME,
            redeemed: false,
        },
    );
    redirect_back(redirect, &[("code", &code)], state)
}

/// `POST /{partner}/oauth2/v2.0/devicecode`.
pub(crate) async fn device_code(
    State(app): State<Arc<App>>,
    Path(tenant_name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, EntraError> {
    let Some(partner) = app.partner.as_ref().filter(|p| p.is_home(&tenant_name)) else {
        return Err(match app.tenant_by_name(&tenant_name) {
            Some(t) => unknown_client(
                form.get("client_id").map_or("", String::as_str),
                &app.tenants[t].config.name,
            ),
            None => tenant_not_found(&tenant_name),
        });
    };
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client_id) = field("client_id") else {
        return Err(missing_parameter("client_id"));
    };
    if !client_id.eq_ignore_ascii_case(&partner.config.client_id) {
        return Err(unknown_client(client_id, &partner.directory_name(&app)));
    }
    let scope = field("scope").unwrap_or_default();
    parse_scopes(scope)?;
    let device_code = random_token();
    let user_code: String = {
        let mut rng = rand::rng();
        (0..9)
            .map(|_| char::from(b'A' + rng.random_range(0..26u8)))
            .collect()
    };
    let lifetime = partner.config.device_code_lifetime_s;
    partner.live().devices.insert(
        device_code.clone(),
        DeviceAuth {
            user_code: user_code.clone(),
            scope: scope.to_string(),
            expires: Utc::now() + seconds(lifetime),
            answer: None,
        },
    );
    let verification_uri = format!("{}/devicelogin", app.base_url);
    Ok(Json(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": lifetime,
        "interval": partner.config.device_interval_s,
        "message": format!(
            "To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to \
             authenticate."
        ),
    }))
    .into_response())
}

/// `GET /devicelogin?user_code=CODE`: stands in for the first technician entering the code
/// and signing in; with `&decline=true` for the technician answering "No" to "Are you
/// trying to sign in to …?".
pub(crate) async fn device_login(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    app.stats.device_login();
    let code = query.get("user_code").map_or("", |c| c.trim());
    let declined = query.get("decline").is_some_and(|d| d == "true");
    let answered = app.partner.as_ref().and_then(|partner| {
        let now = Utc::now();
        let mut live = partner.live();
        let device = live.devices.values_mut().find(|d| {
            d.user_code.eq_ignore_ascii_case(code) && d.expires > now && d.answer.is_none()
        })?;
        device.answer = Some(if declined {
            DeviceAnswer::Declined
        } else {
            DeviceAnswer::Approved(0)
        });
        Some(partner.config.app_name.clone())
    });
    match answered {
        Some(app_name) if declined => page(
            StatusCode::OK,
            &app_name,
            "You have declined to sign in to the application on your device. You may now close this window.",
        ),
        Some(app_name) => page(
            StatusCode::OK,
            &app_name,
            &format!(
                "You have signed in to the {app_name} application on your device. You may now close this window."
            ),
        ),
        None => page(
            StatusCode::BAD_REQUEST,
            "Enter code",
            "That code didn't work. Check the code and try again.",
        ),
    }
}

/// Where the tokens being issued are for.
struct Target {
    /// The scenario tenant, if the tokens are for one.
    tenant: Option<usize>,
    tenant_id: String,
    directory_roles: Vec<String>,
}

/// The token endpoint's user grants; `tenant` is the scenario tenant named in the URL, if any.
pub(crate) fn redeem(
    app: &App,
    tenant_name: &str,
    tenant: Option<usize>,
    kind: GrantKind,
    form: &HashMap<String, String>,
) -> Result<Response, EntraError> {
    let partner = app.partner.as_ref().expect("user grants need a partner");
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client_id) = field("client_id") else {
        return Err(missing_parameter("client_id"));
    };
    if !client_id.eq_ignore_ascii_case(&partner.config.client_id) {
        let directory = tenant.map_or_else(
            || partner.directory_name(app),
            |t| app.tenants[t].config.name.clone(),
        );
        return Err(unknown_client(client_id, &directory));
    }
    // The partner may also be a scenario tenant, named by one of its domains.
    let home =
        partner.is_home(tenant_name) || tenant.is_some_and(|t| partner.is_home(&app.tenants[t].id));
    let now = Utc::now();
    let mut live = partner.live();
    // Codes and device codes are redeemed where they were issued: at the partner tenant.
    let (user, auth_time, scopes, refresh) = match kind {
        GrantKind::AuthorizationCode => {
            let Some(code) = field("code") else {
                return Err(missing_parameter("code"));
            };
            let Some(entry) = live.codes.get_mut(code).filter(|_| home) else {
                return Err(malformed_grant());
            };
            if entry.redeemed {
                return Err(invalid_grant(
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an \
                     existing refresh token.",
                ));
            }
            if entry.expires <= now {
                return Err(invalid_grant(
                    70008,
                    "The provided authorization code or refresh token has expired due to inactivity. Send a new \
                     interactive authorization request for this user and resource.",
                ));
            }
            if !entry.client_id.eq_ignore_ascii_case(client_id) {
                return Err(malformed_grant());
            }
            let redirect_uri = field("redirect_uri").unwrap_or_default();
            if redirect_uri != entry.redirect_uri {
                return Err(invalid_grant(
                    50011,
                    &format!(
                        "The reply address '{redirect_uri}' does not match the reply address '{}' provided when \
                         requesting Authorization code.",
                        entry.redirect_uri
                    ),
                ));
            }
            if field("code_verifier").is_none_or(|v| s256(v) != entry.challenge) {
                return Err(invalid_grant(
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                ));
            }
            let mut scopes = parse_scopes(field("scope").unwrap_or(&entry.scope))?;
            // offline_access and openid asked at sign-in hold for the redemption.
            let signed_in = parse_scopes(&entry.scope)?;
            scopes.openid |= signed_in.openid;
            let offline = scopes.offline || signed_in.offline;
            entry.redeemed = true;
            (entry.user, now, scopes, offline)
        }
        GrantKind::DeviceCode => {
            let Some(code) = field("device_code") else {
                return Err(missing_parameter("device_code"));
            };
            let Some(device) = live.devices.get(code).filter(|_| home) else {
                return Err(malformed_grant());
            };
            if device.expires <= now {
                return Err(entra_error(
                    StatusCode::BAD_REQUEST,
                    "expired_token",
                    70020,
                    "The provided value for the input parameter 'device_code' is not valid. This device code has \
                     expired.",
                ));
            }
            let user = match device.answer {
                Some(DeviceAnswer::Approved(user)) => user,
                // Guess: the AADSTS number; Entra's device code doc names only the error
                // `authorization_declined` ("the end user denied the authorization request").
                Some(DeviceAnswer::Declined) => {
                    return Err(entra_error(
                        StatusCode::BAD_REQUEST,
                        "authorization_declined",
                        70000,
                        "The user has declined the authorization request.",
                    ));
                }
                None => {
                    return Err(entra_error(
                        StatusCode::BAD_REQUEST,
                        "authorization_pending",
                        70016,
                        "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                    ));
                }
            };
            let scopes = parse_scopes(&device.scope)?;
            let offline = scopes.offline;
            live.devices.remove(code);
            (user, now, scopes, offline)
        }
        GrantKind::RefreshToken => {
            let Some(token) = field("refresh_token") else {
                return Err(missing_parameter("refresh_token"));
            };
            let valid_from = live.valid_from;
            let Some(grant) = live.refresh_tokens.get(token) else {
                return Err(malformed_grant());
            };
            if let Some(valid_from) = valid_from.filter(|v| grant.auth_time < *v) {
                return Err(invalid_grant(
                    50173,
                    &format!(
                        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The \
                         user might have changed or reset their password. The grant was issued on '{}' and the \
                         TokensValidFrom date (before which tokens are not valid) for this user is '{}'.",
                        grant_time(grant.auth_time),
                        grant_time(valid_from)
                    ),
                ));
            }
            let lifetime = partner.config.refresh_token_lifetime_s;
            if grant.issued + seconds(lifetime) <= now {
                return Err(invalid_grant(
                    700082,
                    &format!(
                        "The refresh token has expired due to inactivity. The token was issued on {} and was \
                         inactive for {}.",
                        grant_time(grant.issued),
                        timespan(lifetime)
                    ),
                ));
            }
            let (user, auth_time) = (grant.user, grant.auth_time);
            let scopes = parse_scopes(field("scope").unwrap_or_default())?;
            if !home {
                check_customer(
                    app,
                    partner,
                    &live,
                    tenant.expect("checked by the caller"),
                    user,
                )?;
            }
            // The redeemed token stays valid: Entra does not revoke it (§G 9).
            (user, auth_time, scopes, true)
        }
        GrantKind::ClientCredentials => unreachable!("served by token::issue"),
    };
    let target = if home {
        Target {
            tenant,
            tenant_id: partner.id.clone(),
            directory_roles: vec![HOME_ROLE.to_string()],
        }
    } else {
        let t = tenant.expect("checked by the caller");
        Target {
            tenant,
            tenant_id: app.tenants[t].id.clone(),
            directory_roles: live.roles_in(&app.tenants[t].id),
        }
    };
    let refresh_token = refresh.then(|| {
        let token = random_token();
        live.refresh_tokens.insert(
            token.clone(),
            RefreshGrant {
                user,
                auth_time,
                issued: now,
            },
        );
        token
    });
    drop(live);
    Ok(user_tokens(
        app,
        partner,
        &target,
        user,
        &scopes,
        refresh_token,
    ))
}

/// The refresh token may be redeemed at this customer: a current GDAP customer that consented.
fn check_customer(
    app: &App,
    partner: &PartnerState,
    live: &PartnerLive,
    tenant: usize,
    user: usize,
) -> Result<(), EntraError> {
    let entry = &app.tenants[tenant];
    let config = &partner.config;
    if !live.customers.contains(&entry.id) {
        return Err(invalid_grant(
            50020,
            &format!(
                "User account '{}' from identity provider 'https://sts.windows.net/{}/' does not exist in tenant \
                 '{}' and cannot access the application '{}'({}) in that tenant. The account needs to be added as \
                 an external user in the tenant first. Sign out and sign in again with a different Azure Active \
                 Directory user account.",
                config.users[user].upn,
                partner.id,
                entry.config.name,
                config.client_id,
                config.app_name
            ),
        ));
    }
    if !entry.live().consented {
        return Err(invalid_grant(
            65001,
            &format!(
                "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send \
                 an interactive authorization request for this user and resource.",
                config.client_id, config.app_name
            ),
        ));
    }
    Ok(())
}

fn user_tokens(
    app: &App,
    partner: &PartnerState,
    target: &Target,
    user: usize,
    scopes: &Scopes,
    refresh_token: Option<String>,
) -> Response {
    let lifetime = app.token_lifetime_s;
    let now = Utc::now();
    let expires = now + seconds(lifetime);
    let upn = partner.config.users[user].upn.clone();
    let access_token = match target.tenant {
        Some(tenant) => app.tokens.issue(Grant {
            tenant,
            audience: scopes.audience,
            roles: permissions(&target.directory_roles),
            delegated: Some(Delegation {
                upn: upn.clone(),
                directory_roles: target.directory_roles.clone(),
                scopes: partner.config.delegated_scopes.clone(),
            }),
            expires,
        }),
        None => app.tokens.issue_home(HomeGrant {
            audience: scopes.audience,
            expires,
        }),
    };
    app.stats.tokens_issued();
    let name = partner.config.users[user]
        .display_name
        .clone()
        .unwrap_or_else(|| upn.clone());
    let claims = json!({
        "aud": partner.config.client_id,
        "iss": format!("{}/{}/v2.0", app.base_url, target.tenant_id),
        "iat": now.timestamp(),
        "nbf": now.timestamp(),
        "exp": expires.timestamp(),
        "tid": target.tenant_id,
        "oid": partner.oid(user).to_string(),
        "sub": ids::hex(&[b"sub", partner.config.client_id.as_bytes(), upn.to_ascii_lowercase().as_bytes()], 43),
        "preferred_username": upn,
        "name": name,
        "ver": "2.0",
    });
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scopes.text,
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    });
    // Only a sign-in that asked for `openid` gets an ID token (§G 10).
    if scopes.openid {
        let id_token = jsonwebtoken::encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(ID_TOKEN_KEY),
        )
        .expect("HS256 over JSON claims cannot fail");
        body["id_token"] = json!(id_token);
    }
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    Json(body).into_response()
}

/// Entra's role template ids (a GDAP relationship names roles by them).
pub(crate) const ROLE_TEMPLATES: [(&str, &str); 8] = [
    (
        "Global Administrator",
        "62e90394-69f5-4237-9190-012177145e10",
    ),
    (
        "Exchange Administrator",
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
    ),
    ("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
    ("Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509"),
    (
        "Security Administrator",
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
    ),
    ("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
    (
        "Helpdesk Administrator",
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    ),
    (
        "Privileged Authentication Administrator",
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    ),
];

/// The partner's current customers (scenario tenant indexes), for a technician's
/// partner-tenant Graph token; otherwise the refusal to answer.
fn partner_customers(app: &App, headers: &HeaderMap) -> Result<Vec<usize>, Refused> {
    let caller = graph_caller(app, headers)?;
    let Some(partner) = app.partner.as_ref() else {
        return Err(Refused::Forbidden);
    };
    let allowed = match &caller {
        GraphCaller::PartnerHome => true,
        GraphCaller::Tenant(grant) => {
            grant.delegated.is_some() && partner.is_home(&app.tenants[grant.tenant].id)
        }
    };
    if !allowed {
        return Err(Refused::Forbidden);
    }
    let customers = partner.live().customers.clone();
    Ok(customers
        .iter()
        .filter_map(|id| app.tenant_by_id(id))
        .collect())
}

/// A `tenantRelationships` collection with one item per current customer.
fn per_customer(
    app: &App,
    headers: &HeaderMap,
    collection: &str,
    item: impl Fn(&TenantEntry) -> Value,
) -> Response {
    let customers = match partner_customers(app, headers) {
        Ok(c) => c,
        Err(refused) => return refused.into_response(),
    };
    let value: Vec<Value> = customers
        .into_iter()
        .map(|t| item(&app.tenants[t]))
        .collect();
    Json(json!({
        "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#tenantRelationships/{collection}"),
        "value": value,
    }))
    .into_response()
}

/// `GET /v1.0/tenantRelationships/delegatedAdminCustomers`, for a technician's partner-tenant token.
pub(crate) async fn delegated_admin_customers(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Response {
    per_customer(&app, &headers, "delegatedAdminCustomers", |entry| {
        json!({
            "@odata.type": "#microsoft.graph.delegatedAdminCustomer",
            "id": entry.id,
            "tenantId": entry.id,
            "displayName": entry.config.name,
        })
    })
}

/// `GET /v1.0/tenantRelationships/delegatedAdminRelationships`: one active relationship
/// per customer, granting its GDAP roles (by role template id).
pub(crate) async fn delegated_admin_relationships(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Response {
    let Some(partner) = app.partner.as_ref() else {
        return Refused::Forbidden.into_response();
    };
    per_customer(&app, &headers, "delegatedAdminRelationships", |entry| {
        let roles: Vec<Value> = partner
            .live()
            .roles_in(&entry.id)
            .iter()
            .filter_map(|name| ROLE_TEMPLATES.iter().find(|(n, _)| n == name))
            .map(|(_, id)| json!({"roleDefinitionId": id}))
            .collect();
        json!({
            "@odata.type": "#microsoft.graph.delegatedAdminRelationship",
            "id": format!("{}-{}", entry.id, partner.id),
            "displayName": format!("Rulewatch GDAP {}", entry.config.name),
            "status": "active",
            "customer": {"tenantId": entry.id, "displayName": entry.config.name},
            "accessDetails": {"unifiedRoles": roles},
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_name_one_resource_defaulting_to_graph() {
        let s = parse_scopes("https://manage.office.com/.default offline_access").unwrap();
        assert_eq!(s.audience, Audience::Manage);
        assert!(s.offline);
        let s = parse_scopes("openid profile").unwrap();
        assert_eq!(s.audience, Audience::Graph);
        assert!(!s.offline);
        assert_eq!(
            s.text,
            "https://graph.microsoft.com/.default openid profile"
        );
        let two = "https://manage.office.com/.default https://graph.microsoft.com/.default";
        assert_eq!(parse_scopes(two).err().unwrap().code, 28000);
        assert_eq!(parse_scopes("User.Read").err().unwrap().code, 70011);
    }

    #[test]
    fn gdap_roles_map_to_the_permissions_the_apis_check() {
        assert!(permissions(&[]).is_empty());
        let reader = permissions(&["Security Reader".into()]);
        assert!(reader.contains(&"ActivityFeed.Read".to_string()));
        assert!(!reader.contains(&"User.EnableDisableAccount.All".to_string()));
        let admin = permissions(&["user administrator".into()]);
        assert!(admin.contains(&"User-PasswordProfile.ReadWrite.All".to_string()));
    }

    #[test]
    fn timespans_print_like_dotnet() {
        assert_eq!(timespan(90 * 86400), "90.00:00:00");
        assert_eq!(timespan(3661), "01:01:01");
    }

    #[test]
    fn redirects_match_a_registered_uri_on_any_loopback_port_but_the_same_host() {
        let localhost = ["http://localhost".to_string()];
        assert!(registered_redirect("http://localhost:53121/", &localhost).is_some());
        assert!(registered_redirect("http://LOCALHOST/", &localhost).is_some());
        assert!(registered_redirect("http://127.0.0.1:53121/", &localhost).is_none());
        assert!(registered_redirect("http://[::1]:53121/", &localhost).is_none());
        assert!(registered_redirect("http://localhost:53121/cb", &localhost).is_none());
        assert!(registered_redirect("http://localhost.evil.example/", &localhost).is_none());
        assert!(registered_redirect("https://evil.example/", &localhost).is_none());
        let ip = ["http://127.0.0.1/cb".to_string()];
        assert!(registered_redirect("http://127.0.0.1:9/cb", &ip).is_some());
        assert!(registered_redirect("http://localhost:9/cb", &ip).is_none());
        let web = ["https://app.example/cb".to_string()];
        assert!(registered_redirect("https://app.example/cb", &web).is_some());
        assert!(registered_redirect("https://app.example:8443/cb", &web).is_none());
        assert!(registered_redirect("http://[::1]/", &["http://[::1]".to_string()]).is_none());
    }
}
