//! The authorization code flow: the redirect URI checked as Entra does, the sign-in,
//! and the way back to the app.

use super::*;

/// The redirect URI if it matches one registered on the app. Entra ignores the port of a
/// loopback URI but compares everything else, the host included: `localhost` does not
/// match `127.0.0.1`, and `[::1]` is not supported at all (../shared/reference/m365-api.md §G 10, [ER]).
pub(super) fn registered_redirect(uri: &str, registered: &[String]) -> Option<Url> {
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
            expires: app.clock.now() + CODE_LIFETIME,
            redeemed: false,
        },
    );
    redirect_back(redirect, &[("code", &code)], state)
}
