//! Entra ID's v2 token endpoint for the client-credentials grant, and the bearer tokens it
//! issues; the partner's user grants are in `partner.rs`.
//!
//! Behaviours taken from ../shared/reference/m365-api.md §G:
//! - Certificate client assertions are accepted signed with PS256 (the current form) or
//!   RS256, naming their certificate by `x5t#S256` or the older SHA-1 `x5t`; every
//!   thumbprint given must be the registered certificate's (§G 4).
//! - A tenant's `token_refusal` makes the endpoint answer its app, once its credential is
//!   checked, with AADSTS500014 (the Management API's service principal disabled),
//!   AADSTS500011 (no Management API principal: a tenant without Office 365), both for
//!   Management API tokens only, or AADSTS7000112 (the app disabled) for every resource
//!   (§G 13).
//! - Tokens for GCC's Management API (`https://manage-gcc.office.com`) are issued as for
//!   the commercial one: GCC tenants sign in at the commercial Entra (§G 3). Guess: Entra
//!   issues either resource to a tenant of either cloud and leaves the refusal to the API,
//!   as the "()" answers in §G 3 suggest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Form;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::app::{App, TenantEntry};
use crate::certs::RegisteredCert;
use crate::partner;
use crate::scenario::TokenRefusal;
use crate::times::{Clock, entra_time};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Clock skew Entra tolerates on client assertions.
const SKEW_S: i64 = 300;

/// The resource a token is for, from the `.default` scope requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    Manage,
    /// The GCC cloud's Management API (../shared/reference/m365-api.md A2, §G 3).
    ManageGcc,
    Graph,
    Outlook,
}

impl Audience {
    pub(crate) fn from_scope(scope: &str) -> Option<Audience> {
        match scope.trim() {
            "https://manage.office.com/.default" => Some(Audience::Manage),
            "https://manage-gcc.office.com/.default" => Some(Audience::ManageGcc),
            "https://graph.microsoft.com/.default" => Some(Audience::Graph),
            "https://outlook.office365.com/.default" => Some(Audience::Outlook),
            _ => None,
        }
    }

    /// A Management API of either cloud.
    pub(crate) fn is_manage(self) -> bool {
        matches!(self, Audience::Manage | Audience::ManageGcc)
    }

    /// The `.default` scope naming this resource.
    pub(crate) fn default_scope(self) -> &'static str {
        match self {
            Audience::Manage => "https://manage.office.com/.default",
            Audience::ManageGcc => "https://manage-gcc.office.com/.default",
            Audience::Graph => "https://graph.microsoft.com/.default",
            Audience::Outlook => "https://outlook.office365.com/.default",
        }
    }
}

/// What a token for one of the scenario's tenants was issued for.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub tenant: usize,
    pub audience: Audience,
    /// App roles; for a delegated token, the app roles its GDAP roles amount to, so every
    /// API checks both kinds of token alike.
    pub roles: Vec<String>,
    /// Set when a partner technician signed in: app-only tokens have none.
    pub delegated: Option<Delegation>,
    pub expires: DateTime<Utc>,
}

/// The technician a delegated token acts as, and their Entra roles in the token's tenant.
#[derive(Debug, Clone)]
pub(crate) struct Delegation {
    pub upn: String,
    pub directory_roles: Vec<String>,
    /// The delegated permissions in the token's `scp` claim (§G 5).
    pub scopes: Vec<String>,
}

impl Delegation {
    pub(crate) fn has_role(&self, role: &str) -> bool {
        self.directory_roles
            .iter()
            .any(|r| r.eq_ignore_ascii_case(role))
    }

    pub(crate) fn has_scope(&self, scopes: &[&str]) -> bool {
        self.scopes
            .iter()
            .any(|s| scopes.iter().any(|w| s.eq_ignore_ascii_case(w)))
    }
}

impl Grant {
    /// The app's service principal holds the role, or for a delegated token the technician.
    pub(crate) fn has_directory_role(&self, entry: &TenantEntry, role: &str) -> bool {
        match &self.delegated {
            Some(delegation) => delegation.has_role(role),
            None => entry.has_directory_role(role),
        }
    }
}

/// A delegated token for the partner's own tenant when that is no tenant of the scenario:
/// good only for the partner-level Graph calls.
#[derive(Debug, Clone)]
pub(crate) struct HomeGrant {
    pub audience: Audience,
    pub expires: DateTime<Utc>,
}

#[derive(Debug, Clone)]
enum Issued {
    Tenant(Grant),
    PartnerHome(HomeGrant),
}

impl Issued {
    fn expires(&self) -> DateTime<Utc> {
        match self {
            Issued::Tenant(grant) => grant.expires,
            Issued::PartnerHome(home) => home.expires,
        }
    }
}

/// The `Authorization` header of a request, checked.
pub(crate) enum Bearer {
    Missing,
    Unknown,
    Expired,
    Valid(Grant),
    PartnerHome(HomeGrant),
}

/// Issued tokens are opaque random strings remembered here, valid on the sandbox's clock.
pub(crate) struct TokenStore {
    grants: Mutex<HashMap<String, Issued>>,
    clock: Clock,
}

/// An opaque random token.
pub(crate) fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 48]>())
}

impl TokenStore {
    pub(crate) fn new(clock: Clock) -> TokenStore {
        TokenStore {
            grants: Mutex::default(),
            clock,
        }
    }

    fn remember(&self, issued: Issued) -> String {
        let token = random_token();
        let mut grants = self.grants.lock().unwrap_or_else(PoisonError::into_inner);
        let now = self.clock.now();
        grants.retain(|_, g| g.expires() > now);
        grants.insert(token.clone(), issued);
        token
    }

    pub(crate) fn issue(&self, grant: Grant) -> String {
        self.remember(Issued::Tenant(grant))
    }

    pub(crate) fn issue_home(&self, home: HomeGrant) -> String {
        self.remember(Issued::PartnerHome(home))
    }

    pub(crate) fn bearer(&self, headers: &HeaderMap) -> Bearer {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
        else {
            return Bearer::Missing;
        };
        match self
            .grants
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
        {
            None => Bearer::Unknown,
            Some(issued) if issued.expires() <= self.clock.now() => Bearer::Expired,
            Some(Issued::Tenant(grant)) => Bearer::Valid(grant.clone()),
            Some(Issued::PartnerHome(home)) => Bearer::PartnerHome(home.clone()),
        }
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn issue(
    State(app): State<Arc<App>>,
    Path(tenant_name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, EntraError> {
    let tenant = app.tenant_by_name(&tenant_name);
    let partner_tenant = app.partner.as_ref().filter(|p| p.is_home(&tenant_name));
    if tenant.is_none() && partner_tenant.is_none() {
        return Err(tenant_not_found(&tenant_name));
    }
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let Some(grant_type) = field("grant_type") else {
        return Err(missing_parameter("grant_type"));
    };
    // User grants exist only for the partner's app, so without a partner they are unsupported.
    let grant_kind = match grant_type {
        "client_credentials" => Some(GrantKind::ClientCredentials),
        "authorization_code" if app.partner.is_some() => Some(GrantKind::AuthorizationCode),
        "refresh_token" if app.partner.is_some() => Some(GrantKind::RefreshToken),
        DEVICE_CODE_GRANT if app.partner.is_some() => Some(GrantKind::DeviceCode),
        _ => None,
    };
    let Some(grant_kind) = grant_kind else {
        return Err(entra_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    };
    app.stats.token_grant(grant_kind);
    if grant_kind != GrantKind::ClientCredentials {
        return partner::redeem(&app, &tenant_name, tenant, grant_kind, &form);
    }
    let Some(tenant) = tenant else {
        return Err(tenant_not_found(&tenant_name));
    };
    let Some(client_id) = field("client_id") else {
        return Err(missing_parameter("client_id"));
    };
    let entry = &app.tenants[tenant];
    let live = entry.live().clone();
    if !client_id.eq_ignore_ascii_case(&entry.config.client_id) || !live.consented {
        return Err(unknown_client(client_id, &entry.config.name));
    }
    let scope = field("scope").unwrap_or_default();
    let Some(audience) = Audience::from_scope(scope) else {
        return Err(invalid_scope(scope));
    };
    match (field("client_secret"), field("client_assertion")) {
        (Some(secret), _) => {
            // An empty registered secret means the app has none, so nothing matches it.
            if live.client_secret.is_empty() || secret != live.client_secret {
                return Err(entra_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    7000215,
                    &format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client \
                         secret value, not the client secret ID, for a secret added to app '{client_id}'."
                    ),
                ));
            }
        }
        (None, Some(assertion)) => {
            if field("client_assertion_type") != Some(JWT_BEARER) {
                return Err(entra_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    90014,
                    "The required field 'client_assertion_type' is missing from the credential. Ensure that you \
                     have all the necessary parameters for the login request.",
                ));
            }
            let audiences = [
                format!("{}/{tenant_name}/oauth2/v2.0/token", app.base_url),
                format!("{}/{}/oauth2/v2.0/token", app.base_url, entry.id),
            ];
            check_assertion(entry, client_id, assertion, &audiences)?;
        }
        (None, None) => {
            return Err(entra_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
    }
    if let Some(refusal) = live.token_refusal {
        refuse(refusal, audience, client_id, entry)?;
    }
    let lifetime = app.token_lifetime_s;
    let token = app.tokens.issue(Grant {
        tenant,
        audience,
        roles: live.roles,
        delegated: None,
        expires: app.clock.now() + Duration::seconds(i64::try_from(lifetime).unwrap_or(i64::MAX)),
    });
    app.stats.tokens_issued();
    Ok(Json(json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}))
        .into_response())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct AssertionClaims {
    aud: Option<OneOrMany>,
    iss: Option<String>,
    sub: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
}

/// Verifies a certificate client assertion: PS256 or RS256 (../shared/reference/m365-api.md §G 4), signed by a
/// registered certificate named by its `x5t#S256` or `x5t` header, for this token endpoint,
/// from this app, and currently valid.
fn check_assertion(
    entry: &TenantEntry,
    client_id: &str,
    assertion: &str,
    audiences: &[String],
) -> Result<(), EntraError> {
    let malformed = |detail: &str| {
        entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50027,
            &format!("JWT token is invalid or malformed. {detail}"),
        )
    };
    let head = jsonwebtoken::decode_header(assertion)
        .map_err(|_| malformed("The header cannot be read."))?;
    // Guess: the code and words for another algorithm; Entra's docs name only these two.
    if !matches!(head.alg, Algorithm::PS256 | Algorithm::RS256) {
        return Err(malformed(
            "Client assertions must be signed with PS256 or RS256.",
        ));
    }
    // A thumbprint the header gives must name the certificate; at least one must be given.
    let names = |cert: &RegisteredCert| {
        (head.x5t_s256.is_some() || head.x5t.is_some())
            && head.x5t_s256.as_ref().is_none_or(|t| *t == cert.x5t_s256)
            && head.x5t.as_ref().is_none_or(|t| *t == cert.x5t)
    };
    let Some(cert) = entry.certs.iter().find(|c| names(c)) else {
        let thumbprint = head
            .x5t_s256
            .as_deref()
            .or(head.x5t.as_deref())
            .unwrap_or_default();
        return Err(bad_client(
            700027,
            &format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. \
                 [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the \
                 Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id \
                 '{client_id}'.]"
            ),
        ));
    };
    // Claims are checked below, one by one, to answer with Entra's specific codes.
    let mut validation = Validation::new(head.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = match jsonwebtoken::decode::<AssertionClaims>(assertion, &cert.key, &validation) {
        Ok(data) => data.claims,
        Err(err) if *err.kind() == ErrorKind::InvalidSignature => {
            return Err(bad_client(
                700027,
                "Client assertion contains an invalid signature. [Reason - The key was found but the signature is \
                 invalid.]",
            ));
        }
        Err(err) => return Err(malformed(&format!("The assertion cannot be read: {err}."))),
    };
    let aud = match &claims.aud {
        Some(OneOrMany::One(aud)) => vec![aud.as_str()],
        Some(OneOrMany::Many(auds)) => auds.iter().map(String::as_str).collect(),
        None => Vec::new(),
    };
    if !aud.iter().any(|a| {
        audiences
            .iter()
            .any(|expected| expected.eq_ignore_ascii_case(a))
    }) {
        return Err(bad_client(
            50013,
            &format!(
                "Assertion audience claim does not match the required value. The audience in the assertion was '{}' \
                 and the expected audience is '{}' or one of the Application Ids of this application.",
                aud.join(","),
                audiences[0]
            ),
        ));
    }
    let same_app = |claim: &Option<String>| {
        claim
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(client_id))
    };
    if !same_app(&claims.iss) || !same_app(&claims.sub) {
        return Err(bad_client(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let now = entry.clock.now().timestamp();
    let in_range = claims.exp.is_some_and(|exp| exp > now - SKEW_S)
        && claims.nbf.is_none_or(|nbf| nbf <= now + SKEW_S);
    if !in_range {
        let show = |t: Option<i64>| {
            t.and_then(|t| DateTime::from_timestamp(t, 0))
                .map_or("none".into(), entra_time)
        };
        return Err(bad_client(
            700024,
            &format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, \
                 expiry time of assertion {}.",
                entra_time(entry.clock.now()),
                show(claims.nbf),
                show(claims.exp)
            ),
        ));
    }
    if claims.jti.as_deref().is_none_or(str::is_empty) {
        return Err(malformed("The 'jti' claim is missing."));
    }
    Ok(())
}

/// The refusals of ../shared/reference/m365-api.md §G 13; descriptions as quoted in public issue threads
/// (AzureAD/microsoft-authentication-library-for-dotnet #3150, gbwisx/msal_mobile #6,
/// Worklytics/psoxy #74).
fn refuse(
    refusal: TokenRefusal,
    audience: Audience,
    client_id: &str,
    entry: &TenantEntry,
) -> Result<(), EntraError> {
    let resource = audience.default_scope().trim_end_matches("/.default");
    match refusal {
        // Guess: the `error` value and status; the threads quote only the description.
        TokenRefusal::ServicePrincipalDisabled if audience.is_manage() => Err(entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            500014,
            &format!(
                "The service principal for resource '{resource}' is disabled. This indicate that a subscription \
                 within the tenant has lapsed, or that the administrator for this tenant has disabled the \
                 application, preventing tokens from being issued for it."
            ),
        )),
        // Guess: the status; `invalid_resource` is quoted.
        TokenRefusal::ResourceNotFound if audience.is_manage() => Err(entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            &format!(
                "The resource principal named {resource} was not found in the tenant named {}. This can happen if \
                 the application has not been installed by the administrator of the tenant or consented to by any \
                 user in the tenant. You might have sent your authentication request to the wrong tenant.",
                entry.config.name
            ),
        )),
        // Guess: the status; `unauthorized_client` is quoted.
        TokenRefusal::ApplicationDisabled => Err(entra_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            7000112,
            &format!("Application '{client_id}'(Rulewatch) is disabled."),
        )),
        _ => Ok(()),
    }
}

fn bad_client(code: u32, description: &str) -> EntraError {
    entra_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        code,
        description,
    )
}

/// The grants the token endpoint serves, counted in `/_sandbox/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantKind {
    ClientCredentials,
    AuthorizationCode,
    RefreshToken,
    DeviceCode,
}

pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub(crate) fn unknown_client(client_id: &str, directory: &str) -> EntraError {
    entra_error(
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        700016,
        &format!(
            "Application with identifier '{client_id}' was not found in the directory '{directory}'. This can happen \
             if the application has not been installed by the administrator of the tenant or consented to by any \
             user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

pub(crate) fn invalid_scope(scope: &str) -> EntraError {
    entra_error(
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        70011,
        &format!(
            "The provided request must include a 'scope' input parameter. The provided value for the input \
             parameter 'scope' is not valid. The scope {scope} is not valid."
        ),
    )
}

pub(crate) fn tenant_not_found(tenant_name: &str) -> EntraError {
    entra_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        90002,
        &format!(
            "Tenant '{tenant_name}' not found. Check to make sure you have the correct tenant ID and are signing \
             into the correct cloud. Check with your subscription administrator, this may happen if there are no \
             active subscriptions for the tenant."
        ),
    )
}

pub(crate) fn missing_parameter(name: &str) -> EntraError {
    entra_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// A refused token request, rendered as Entra's error JSON.
#[derive(Debug)]
pub(crate) struct EntraError {
    status: StatusCode,
    pub error: &'static str,
    pub code: u32,
    pub description: String,
}

pub(crate) fn entra_error(
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: &str,
) -> EntraError {
    EntraError {
        status,
        error,
        code,
        description: description.to_string(),
    }
}

impl IntoResponse for EntraError {
    /// The description ends with trace, correlation and timestamp lines, as Entra's do.
    fn into_response(self) -> Response {
        let EntraError {
            status,
            error,
            code,
            description,
        } = self;
        let timestamp = entra_time(Utc::now());
        let (trace_id, correlation_id) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
        let body = json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        });
        (status, Json(body)).into_response()
    }
}
