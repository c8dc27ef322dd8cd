//! Microsoft Graph calls: the tenant's domains, which decide what "outside" means.
#![warn(missing_docs)]

use reqwest::Method;
use serde::Deserialize;

use crate::api::{Api, CallError, Request};
use crate::auth::{AppIdentity, Resource};
use crate::http::RetryStats;
use crate::problem::{Problem, ProblemKind};

#[derive(Deserialize)]
struct DomainList {
    value: Vec<Domain>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Domain {
    id: String,
    #[serde(default)]
    is_verified: bool,
}

/// The tenant's verified domain names, lower-cased (B5: `GET /domains`). A refusal (HTTP
/// 403) is [`ProblemKind::PermissionMissing`], naming the `Domain.Read.All` permission and
/// where to grant consent.
pub async fn accepted_domains(
    api: &Api,
    app: &AppIdentity,
    stats: &RetryStats,
) -> Result<Vec<String>, Problem> {
    let url = format!("{}/v1.0/domains", api.endpoints_of(app).graph);
    let what = format!("reading the domains of tenant {}", app.tenant_id);
    let reply = match api
        .send(
            app,
            Resource::Graph,
            Method::GET,
            &url,
            &what,
            stats,
            Request::default(),
        )
        .await
    {
        Ok(r) => r,
        Err(CallError::Problem(p)) => return Err(p),
        Err(CallError::Api(e)) if e.status.as_u16() == 403 => {
            return Err(Problem::new(
                ProblemKind::PermissionMissing,
                format!(
                    "{what}: the app lacks Domain.Read.All ({} {}). In the app registration add Microsoft Graph → \
                     Application permissions → Domain.Read.All, then grant admin consent at {}",
                    e.code,
                    e.message,
                    app.consent_url(&api.endpoints)
                ),
            ));
        }
        Err(CallError::Api(e)) => {
            return Err(Problem::new(
                ProblemKind::BadResponse,
                format!(
                    "{what}: HTTP {} {} {}",
                    e.status.as_u16(),
                    e.code,
                    e.message
                ),
            ));
        }
    };
    let list: DomainList = serde_json::from_slice(&reply.body).map_err(|e| {
        Problem::new(
            ProblemKind::BadResponse,
            format!("{what}: the answer cannot be read ({e})"),
        )
    })?;
    Ok(list
        .value
        .into_iter()
        .filter(|d| d.is_verified)
        .map(|d| d.id.to_ascii_lowercase())
        .collect())
}
