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

    /// Revokes every refresh token issued before `now`, as revoking the technician's
    /// sessions does.
    pub(crate) fn revoke(&self, now: DateTime<Utc>) {
        self.live().valid_from = Some(now);
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

mod authorize;
mod customers;
mod device;
mod redeem;

pub(crate) use authorize::authorize;
pub(crate) use customers::{delegated_admin_customers, delegated_admin_relationships};
pub(crate) use device::{device_code, device_login};
pub(crate) use redeem::redeem;

#[cfg(test)]
mod tests {
    use super::authorize::registered_redirect;
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
