//! Graph's user calls remediation makes (B1–B3): read a user, block sign-in or reset the
//! password (`PATCH`), and revoke sign-in sessions. The user is looked up in the token's tenant.
//!
//! As Graph answers (../shared/reference/m365-api.md §G): `/users/{x}` takes an object id or UPN only, so a
//! primary SMTP address that is not the UPN, or an alias, is 404 (§G 12). A delegated
//! token needs `Directory.AccessAsUser.All` or `User-PasswordProfile.ReadWrite.All` in its
//! `scp` to change a password, and `Directory.AccessAsUser.All` to change
//! `accountEnabled` of a user holding an admin role; without, 403
//! `Authorization_RequestDenied` (§G 5). Reads show a write only after the tenant's
//! `write_visible_after_ms` (§G 11).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::app::App;
use crate::directory::{Account, graph_time};
use crate::graph::{graph_error, graph_grant, has_any_role, insufficient_privileges};

const ENABLE_ROLES: [&str; 2] = ["User.EnableDisableAccount.All", "User.ReadWrite.All"];
const PASSWORD_ROLES: [&str; 2] = ["User-PasswordProfile.ReadWrite.All", "User.ReadWrite.All"];
const REVOKE_ROLES: [&str; 2] = ["User.RevokeSessions.All", "User.ReadWrite.All"];
const READ_ROLES: [&str; 5] = [
    "User.Read.All",
    "User.ReadWrite.All",
    "User.EnableDisableAccount.All",
    "User.RevokeSessions.All",
    "User-PasswordProfile.ReadWrite.All",
];

/// The delegated permission that lets a partner technician act with all their rights (§G 5).
const ACCESS_AS_USER: &str = "Directory.AccessAsUser.All";
const DELEGATED_PASSWORD_SCOPES: [&str; 2] = [ACCESS_AS_USER, "User-PasswordProfile.ReadWrite.All"];

/// Password resets also need one of these Entra roles: on the app for app-only tokens (B3),
/// on the technician for delegated ones.
const PASSWORD_DIRECTORY_ROLES: [&str; 3] = [
    "User Administrator",
    "Privileged Authentication Administrator",
    "Global Administrator",
];

/// The fields of a user `PATCH` the sandbox models.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UserUpdate {
    account_enabled: Option<bool>,
    password_profile: Option<PasswordProfile>,
}

/// Deliberately not `Debug`, so the password cannot end up in a log line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PasswordProfile {
    #[serde(default)]
    password: String,
    #[serde(default)]
    force_change_password_next_sign_in: bool,
}

fn not_found(user: &str) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{user}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

/// `GET /v1.0/users/{id-or-upn}`; `$select` is ignored, so every modelled property comes back.
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Response {
    on_user(
        &app,
        &headers,
        &user,
        &READ_ROLES,
        Access::Read,
        |account, baseline| {
            Json(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "id": account.id.to_string(),
            "userPrincipalName": account.upn,
            "displayName": account.display_name,
            "accountEnabled": account.account_enabled,
            // Graph shows null, not false, for cloud-only users.
            "onPremisesSyncEnabled": account.on_premises_sync.then_some(true),
            "signInSessionsValidFromDateTime": graph_time(account.sessions_revoked_at.unwrap_or(baseline)),
            "lastPasswordChangeDateTime": graph_time(account.password_changed_at.unwrap_or(baseline)),
        }))
        .into_response()
        },
    )
}

/// `PATCH /v1.0/users/{id-or-upn}` with `accountEnabled` and/or `passwordProfile`: 204.
pub(crate) async fn update(
    State(app): State<Arc<App>>,
    Path(user): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let grant = match graph_grant(&app, &headers) {
        Ok(grant) => grant,
        Err(refused) => return refused.into_response(),
    };
    let mut de = serde_json::Deserializer::from_slice(&body);
    let update: UserUpdate = match serde_path_to_error::deserialize(&mut de) {
        Ok(update) => update,
        // Only the path: serde's message could quote a value, and values may be passwords.
        Err(err) => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                &format!(
                    "Invalid or unsupported property '{}' in the request body.",
                    err.path()
                ),
            );
        }
    };
    let entry = &app.tenants[grant.tenant];
    if update.account_enabled.is_some() && !has_any_role(&grant, &ENABLE_ROLES) {
        return insufficient_privileges();
    }
    if update.password_profile.is_some()
        && (!has_any_role(&grant, &PASSWORD_ROLES)
            || !PASSWORD_DIRECTORY_ROLES
                .iter()
                .any(|role| grant.has_directory_role(entry, role)))
    {
        return insufficient_privileges();
    }
    let mut directory = entry.directory();
    let privileged = match directory.visible(&user) {
        Some(account) => account.privileged(),
        None => return not_found(&user),
    };
    if let Some(delegation) = &grant.delegated {
        // ../shared/reference/m365-api.md §G 5: in delegated mode, a password needs `Directory.AccessAsUser.All`
        // or `User-PasswordProfile.ReadWrite.All` in `scp`, and a privileged user's
        // `accountEnabled` needs `Directory.AccessAsUser.All`.
        if update.password_profile.is_some() && !delegation.has_scope(&DELEGATED_PASSWORD_SCOPES) {
            return insufficient_privileges();
        }
        if update.account_enabled.is_some()
            && privileged
            && !delegation.has_scope(&[ACCESS_AS_USER])
        {
            return insufficient_privileges();
        }
    }
    let Some(account) = directory.write(&user) else {
        return not_found(&user);
    };
    if let Some(profile) = &update.password_profile
        && !complex_enough(&profile.password)
    {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "The specified password does not comply with password complexity requirements. Please provide a \
             different password.",
        );
    }
    if let Some(enabled) = update.account_enabled {
        account.account_enabled = enabled;
    }
    // Only the fact and time of the change are kept, never the password.
    if let Some(profile) = update.password_profile {
        account.password_changed_at = Some(app.clock.now());
        account.force_change_password = profile.force_change_password_next_sign_in;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /v1.0/users/{id-or-upn}/revokeSignInSessions`.
pub(crate) async fn revoke_sessions(
    State(app): State<Arc<App>>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Response {
    on_user(
        &app,
        &headers,
        &user,
        &REVOKE_ROLES,
        Access::Write,
        |account, _| {
            account.sessions_revoked_at = Some(app.clock.now());
            Json(json!({
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean",
                "value": true,
            }))
            .into_response()
        },
    )
}

/// Whether a call reads the user (and may see it as it was before a recent write) or
/// changes it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// The checks of a call on one user, in Graph's order: a valid token, one of `roles`, then
/// the user in the token's tenant. `act` answers with the account and the directory's
/// baseline time, which stands for changes never made.
fn on_user(
    app: &App,
    headers: &HeaderMap,
    user: &str,
    roles: &[&str],
    access: Access,
    act: impl FnOnce(&mut Account, DateTime<Utc>) -> Response,
) -> Response {
    let grant = match graph_grant(app, headers) {
        Ok(grant) => grant,
        Err(refused) => return refused.into_response(),
    };
    if !has_any_role(&grant, roles) {
        return insufficient_privileges();
    }
    let mut directory = app.tenants[grant.tenant].directory();
    let baseline = directory.baseline();
    match access {
        Access::Read => match directory.visible(user) {
            Some(account) => act(&mut account.clone(), baseline),
            None => not_found(user),
        },
        Access::Write => match directory.write(user) {
            Some(account) => act(account, baseline),
            None => not_found(user),
        },
    }
}

/// Entra's rule for cloud users: at least 8 characters from at least 3 of lower case,
/// upper case, digits and symbols.
fn complex_enough(password: &str) -> bool {
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password
            .chars()
            .any(|c| !c.is_alphanumeric() && !c.is_whitespace()),
    ];
    password.chars().count() >= 8 && classes.into_iter().filter(|&c| c).count() >= 3
}

#[cfg(test)]
mod tests {
    use super::complex_enough;

    #[test]
    fn complexity_needs_length_and_three_classes() {
        for good in ["Summer2026", "summer-2026", "SUMMER-2026", "Abc!defg"] {
            assert!(complex_enough(good), "{good}");
        }
        for bad in ["", "Ab1!", "summer2026", "SUMMERTIME", "Abcdefgh"] {
            assert!(!complex_enough(bad), "{bad}");
        }
    }
}
