//! Entra's OpenID metadata per tenant, which tells a client the tenant's cloud.
//!
//! Behaviours taken from ../shared/reference/m365-api.md §G:
//! - `GET /{tenant}/v2.0/.well-known/openid-configuration` answers the tenant's metadata
//!   with `tenant_region_scope` and, for a GCC tenant, `tenant_region_sub_scope: "GCC"`
//!   (§G 3). The tenant is named by GUID or by one of its domains, as public clients
//!   that read it do.
//! - Guess: an unknown tenant gets the token endpoint's AADSTS90002 answer (HTTP 400,
//!   `invalid_request`); the metadata endpoint's own `error` value is not seen here.
//! - Guess: only the fields a client reads are served; real metadata has more
//!   (`claims_supported`, `kerberos_endpoint`, …).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::app::App;
use crate::scenario::TenantCloud;
use crate::token::{EntraError, tenant_not_found};

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`, by tenant GUID or domain.
pub(crate) async fn configuration(
    State(app): State<Arc<App>>,
    Path(tenant_name): Path<String>,
) -> Result<Json<Value>, EntraError> {
    let Some(t) = app.tenant_by_name(&tenant_name) else {
        return Err(tenant_not_found(&tenant_name));
    };
    let entry = &app.tenants[t];
    let (login, id) = (&app.base_url, &entry.id);
    let mut body = json!({
        "token_endpoint": format!("{login}/{id}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{login}/{id}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("https://login.microsoftonline.com/{id}/v2.0"),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{login}/{id}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{login}/{id}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        // Guess: a North American tenant; the sandbox's tenants all answer "NA".
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    });
    if entry.config.cloud == TenantCloud::Gcc {
        // §G 3: GCC tenants sign in at the commercial hosts and say so only here.
        body["tenant_region_sub_scope"] = json!("GCC");
    }
    Ok(Json(body))
}
