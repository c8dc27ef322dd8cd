//! The token endpoint for a partner: codes, device codes and refresh tokens redeemed,
//! at the partner's own tenant or a customer's.

use super::*;

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
    let now = app.clock.now();
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
    let now = app.clock.now();
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
