//! Entra ID's v2 token endpoint for the client-credentials grant, and the bearer tokens it issues.

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
use crate::times::entra_time;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Clock skew Entra tolerates on client assertions.
const SKEW_S: i64 = 300;

/// The resource a token is for, from the `.default` scope requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    Manage,
    Graph,
    Outlook,
}

impl Audience {
    fn from_scope(scope: &str) -> Option<Audience> {
        match scope.trim() {
            "https://manage.office.com/.default" => Some(Audience::Manage),
            "https://graph.microsoft.com/.default" => Some(Audience::Graph),
            "https://outlook.office365.com/.default" => Some(Audience::Outlook),
            _ => None,
        }
    }
}

/// What a token was issued for.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub tenant: usize,
    pub audience: Audience,
    pub roles: Vec<String>,
    expires: DateTime<Utc>,
}

/// The `Authorization` header of a request, checked.
pub(crate) enum Bearer {
    Missing,
    Unknown,
    Expired,
    Valid(Grant),
}

/// Issued tokens are opaque random strings remembered here.
#[derive(Default)]
pub(crate) struct TokenStore {
    grants: Mutex<HashMap<String, Grant>>,
}

impl TokenStore {
    fn issue(&self, grant: Grant) -> String {
        let token = URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 48]>());
        let mut grants = self.grants.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Utc::now();
        grants.retain(|_, g| g.expires > now);
        grants.insert(token.clone(), grant);
        token
    }

    pub fn bearer(&self, headers: &HeaderMap) -> Bearer {
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
            Some(grant) if grant.expires <= Utc::now() => Bearer::Expired,
            Some(grant) => Bearer::Valid(grant.clone()),
        }
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn issue(
    State(app): State<Arc<App>>,
    Path(tenant_name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, EntraError> {
    let Some(tenant) = app.tenant_by_name(&tenant_name) else {
        return Err(entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant_name}' not found. Check to make sure you have the correct tenant ID and are signing \
                 into the correct cloud. Check with your subscription administrator, this may happen if there are no \
                 active subscriptions for the tenant."
            ),
        ));
    };
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let Some(grant_type) = field("grant_type") else {
        return Err(missing_parameter("grant_type"));
    };
    if grant_type != "client_credentials" {
        return Err(entra_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let Some(client_id) = field("client_id") else {
        return Err(missing_parameter("client_id"));
    };
    let entry = &app.tenants[tenant];
    let live = entry.live().clone();
    if !client_id.eq_ignore_ascii_case(&entry.config.client_id) || !live.consented {
        return Err(entra_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the \
                 application has not been installed by the administrator of the tenant or consented to by any user in \
                 the tenant. You may have sent your authentication request to the wrong tenant.",
                entry.config.name
            ),
        ));
    }
    let scope = field("scope").unwrap_or_default();
    let Some(audience) = Audience::from_scope(scope) else {
        return Err(entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            &format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input \
                 parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        ));
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
    let lifetime = app.token_lifetime_s;
    let token = app.tokens.issue(Grant {
        tenant,
        audience,
        roles: live.roles,
        expires: Utc::now() + Duration::seconds(i64::try_from(lifetime).unwrap_or(i64::MAX)),
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

/// Verifies a certificate client assertion: RS256, signed by a registered certificate named
/// by its `x5t#S256` header, for this token endpoint, from this app, and currently valid.
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
    if head.alg != Algorithm::RS256 {
        return Err(malformed("Client assertions must be signed with RS256."));
    }
    let thumbprint = head.x5t_s256.unwrap_or_default();
    let Some(cert) = entry.certs.iter().find(|c| c.x5t_s256 == thumbprint) else {
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
    let mut validation = Validation::new(Algorithm::RS256);
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
    let now = Utc::now().timestamp();
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
                entra_time(Utc::now()),
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

fn bad_client(code: u32, description: &str) -> EntraError {
    entra_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        code,
        description,
    )
}

fn missing_parameter(name: &str) -> EntraError {
    entra_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// A refused token request, rendered as Entra's error JSON.
pub(crate) struct EntraError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: String,
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
