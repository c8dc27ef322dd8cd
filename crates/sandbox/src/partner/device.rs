//! The device code flow: the code, and the device login page a technician answers.

use super::*;

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
            expires: app.clock.now() + seconds(lifetime),
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
        let now = app.clock.now();
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
