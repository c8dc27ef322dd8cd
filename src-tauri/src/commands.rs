//! The commands the panel calls (ui/src/api.ts). Each returns what the panel shows, or
//! a plain-language error. No command ever returns a secret.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rulewatch_core::app::{self as core_app, Config};
use rulewatch_core::app::{
    AlertDetail, AlertPage, AlertPageRequest, ChannelHealth, Chat, Cloud, CompanyMatch,
    ConnectionStep, EmailConfig, Error, ErrorKind, Incident, IncidentStart, LogEntry, Migrated,
    NewCredential, PartnerAccount, PartnerState, Plan, PsaConfig, Review, Route, Session,
    Settings as CoreSettings, SettingsUpdate as CoreUpdate, SeverityOverride, SignInWith,
    StepResult, TeamStatus, TenantInput, TenantStatus, TrustEntry, TrustRequest, UndoPreview,
};
use rulewatch_core::detect::Severity;
use rulewatch_core::detect::rules::{RULES, Rule};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tauri::{AppHandle, Emitter, State};
use tauri_plugin_autostart::ManagerExt;

use crate::scheduler::CHANGED;
use crate::state::{Progress, Shared};
use crate::{scheduler, tray};

type AppState<'a> = State<'a, Arc<Shared>>;

/// One remediation step finished: `{alert_id, result}`, never the password.
const REMEDIATION_STEP: &str = "rulewatch://remediation-step";
type Reply<T> = Result<T, CommandError>;

/// A refused or failed command as the panel receives it, `{kind, message}`: the panel
/// decides on `kind` (an [`ErrorKind`]'s name) and shows `message`.
#[derive(Debug, Serialize)]
pub(crate) struct CommandError {
    kind: &'static str,
    message: String,
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        let kind = e.kind();
        // The panel's own words for what to do next; the CLI names its commands instead.
        let hint = match kind {
            ErrorKind::NotACustomer => ": refresh the list",
            ErrorKind::NotSignedIn => ": sign in first",
            _ => "",
        };
        CommandError {
            kind: kind.as_str(),
            message: format!("{e}{hint}"),
        }
    }
}

/// The command's own refusal of what the panel sent.
fn invalid(message: impl Into<String>) -> CommandError {
    CommandError {
        kind: ErrorKind::InvalidInput.as_str(),
        message: message.into(),
    }
}

/// The session open now, or why there is none: the team's database cannot be reached
/// (the app keeps trying and says so in the tray).
fn current(shared: &Shared) -> Reply<Arc<Session>> {
    shared.session().ok_or_else(|| CommandError {
        kind: ErrorKind::Failed.as_str(),
        message: shared
            .scan_state()
            .offline
            .unwrap_or_else(|| "Rulewatch's store is not open yet".into()),
    })
}

/// Something stored changed: the tray and every open view refresh.
async fn changed(app: &AppHandle, shared: &Shared) {
    shared.recount().await;
    tray::refresh(app);
    let _ = app.emit(CHANGED, ());
}

#[derive(Serialize)]
pub(crate) struct Overview {
    sandbox: bool,
    tenants: usize,
    open_alerts: u64,
    scanning: Option<Progress>,
    last_scan_at: Option<DateTime<Utc>>,
    next_scan_at: Option<DateTime<Utc>>,
    paused_until: Option<DateTime<Utc>>,
    error: bool,
    /// `RULEWATCH_ENDPOINTS`'s host: every call goes there, not to Microsoft.
    endpoints_override: Option<String>,
    /// The folder of the daily log file.
    log_dir: Option<String>,
    /// Why the store is not open (the team's database cannot be reached): the app keeps
    /// trying, and nothing else here is known until it opens.
    offline: Option<String>,
    /// Tenants the last scan left to colleagues' workstations (no credentials here).
    elsewhere: usize,
}

#[tauri::command]
pub(crate) async fn overview(shared: AppState<'_>) -> Reply<Overview> {
    let state = shared.scan_state();
    let config = &shared.config;
    let mut overview = Overview {
        sandbox: false,
        tenants: 0,
        open_alerts: 0,
        scanning: state.scanning,
        last_scan_at: state.last_scan_at,
        next_scan_at: state.next_scan_at,
        paused_until: state.paused_until.filter(|p| *p > Utc::now()),
        error: state.error,
        endpoints_override: config.override_host(),
        log_dir: config.log_dir.as_ref().map(|d| d.display().to_string()),
        offline: state.offline,
        elsewhere: state.elsewhere,
    };
    if let Some(session) = shared.session() {
        overview.sandbox = session.in_sandbox().await;
        overview.tenants = session.tenants().await?.len();
        overview.open_alerts = session.open_alert_count().await?;
    }
    Ok(overview)
}

/// The incidents begun at or after `since`, for the Overview's chart of the last 30 days:
/// never every alert of a year.
#[tauri::command]
pub(crate) async fn recent_incidents(
    shared: AppState<'_>,
    since: DateTime<Utc>,
) -> Reply<Vec<IncidentStart>> {
    Ok(current(&shared)?.incidents_since(since).await?)
}

/// One page of the alert list, as the panel's filters ask: a year's alerts are never sent
/// at once.
#[tauri::command]
pub(crate) async fn alert_page(shared: AppState<'_>, query: AlertPageRequest) -> Reply<AlertPage> {
    Ok(current(&shared)?.alert_page(&query).await?)
}

/// Adds a channel: a webhook (its signing secret), or Teams or Slack (whose URL is the
/// credential). Secrets and such URLs go to the keychain and are never sent back.
#[tauri::command]
pub(crate) async fn add_channel(
    shared: AppState<'_>,
    kind: String,
    name: String,
    url: String,
    secret: Option<String>,
    route: Route,
) -> Reply<()> {
    let chat = match kind.as_str() {
        "webhook" => None,
        "teams" => Some(Chat::Teams),
        "slack" => Some(Chat::Slack),
        other => return Err(invalid(format!("'{other}' is not a kind of channel"))),
    };
    match chat {
        None => Ok(current(&shared)?
            .add_webhook(
                &name,
                &url,
                SecretString::from(secret.unwrap_or_default()),
                route,
            )
            .await?),
        Some(chat) => Ok(current(&shared)?
            .add_chat(chat, &name, SecretString::from(url), route)
            .await?),
    }
}

/// Adds an e-mail channel; the relay's password, when given, goes to the keychain.
#[tauri::command]
pub(crate) async fn add_email_channel(
    shared: AppState<'_>,
    name: String,
    config: EmailConfig,
    password: Option<String>,
    route: Route,
) -> Reply<()> {
    let password = password.filter(|p| !p.is_empty()).map(SecretString::from);
    Ok(current(&shared)?
        .add_email(&name, config, password, route)
        .await?)
}

/// Adds a PSA channel (ConnectWise, Autotask, HaloPSA); its secret goes to the keychain.
#[tauri::command]
pub(crate) async fn add_psa_channel(
    shared: AppState<'_>,
    name: String,
    config: PsaConfig,
    secret: String,
    route: Route,
) -> Reply<()> {
    Ok(current(&shared)?
        .add_psa(&name, config, SecretString::from(secret), route)
        .await?)
}

/// Each tenant's company in PSA channel `name`: the confirmed one, and the suggestion.
#[tauri::command]
pub(crate) async fn psa_companies(shared: AppState<'_>, name: String) -> Reply<Vec<CompanyMatch>> {
    Ok(current(&shared)?.psa_companies(&name).await?)
}

/// Confirms tenants' companies in PSA channel `name`: (tenant id, company id) pairs.
#[tauri::command]
pub(crate) async fn map_companies(
    shared: AppState<'_>,
    name: String,
    pairs: Vec<(String, i64)>,
) -> Reply<()> {
    Ok(current(&shared)?.map_companies(&name, pairs).await?)
}

/// The incidents of `ids` with their alerts, the most recently active first: the
/// headings of the alert list's page, never a year's incidents.
#[tauri::command]
pub(crate) async fn list_incidents(shared: AppState<'_>, ids: Vec<i64>) -> Reply<Vec<Incident>> {
    Ok(current(&shared)?.incidents_of(&ids).await?)
}

/// Resolves the open incident `key`; the channels told of it hear so.
#[tauri::command]
pub(crate) async fn resolve_incident(
    shared: AppState<'_>,
    key: String,
    note: Option<String>,
) -> Reply<Incident> {
    Ok(current(&shared)?
        .resolve_incident(&key, note.as_deref())
        .await?)
}

/// Sends a channel a signed test delivery.
#[tauri::command]
pub(crate) async fn test_channel(shared: AppState<'_>, name: String) -> Reply<()> {
    Ok(current(&shared)?.test_channel(&name).await?)
}

/// Removes a channel the technician added.
#[tauri::command]
pub(crate) async fn remove_channel(shared: AppState<'_>, name: String) -> Reply<()> {
    Ok(current(&shared)?.remove_channel(&name).await?)
}

/// Each delivery channel's queue: alerts waiting, the last delivery, the last error.
#[tauri::command]
pub(crate) async fn delivery_channels(shared: AppState<'_>) -> Reply<Vec<ChannelHealth>> {
    Ok(current(&shared)?.channels().await?)
}

/// Every detection rule as it describes itself: the panel's words for alerts.
#[tauri::command]
pub(crate) fn rules() -> Vec<&'static Rule> {
    RULES.to_vec()
}

/// What Settings → Rules and allowlist shows: every allowlist entry (expired ones too)
/// and every rule severity the MSP set.
#[derive(Debug, Serialize)]
pub(crate) struct Tuning {
    allowlist: Vec<TrustEntry>,
    severities: Vec<SeverityOverride>,
}

#[tauri::command]
pub(crate) async fn tuning(shared: AppState<'_>) -> Reply<Tuning> {
    let session = current(&shared)?;
    Ok(Tuning {
        allowlist: session.trusted(None).await?,
        severities: session.rule_severities().await?,
    })
}

/// Sets a rule's severity for every tenant (`tenant_id` null) or one; `severity` null
/// gives back the rule's own.
#[tauri::command]
pub(crate) async fn set_rule_severity(
    shared: AppState<'_>,
    rule: String,
    tenant_id: Option<String>,
    severity: Option<Severity>,
) -> Reply<Vec<SeverityOverride>> {
    Ok(current(&shared)?
        .set_rule_severity(&rule, tenant_id.as_deref(), severity)
        .await?)
}

#[tauri::command]
pub(crate) async fn trust(shared: AppState<'_>, request: TrustRequest) -> Reply<TrustEntry> {
    Ok(current(&shared)?.trust(&request).await?)
}

#[tauri::command]
pub(crate) async fn untrust(shared: AppState<'_>, id: i64) -> Reply<TrustEntry> {
    Ok(current(&shared)?.untrust(id).await?)
}

#[tauri::command]
pub(crate) async fn get_alert(shared: AppState<'_>, id: i64) -> Reply<AlertDetail> {
    Ok(current(&shared)?.alert_detail(id).await?)
}

#[tauri::command]
pub(crate) async fn set_alert_status(
    app: AppHandle,
    shared: AppState<'_>,
    id: i64,
    status: String,
    note: Option<String>,
    trust_destination: bool,
) -> Reply<()> {
    current(&shared)?
        .set_alert_status(id, &status, note.as_deref(), trust_destination)
        .await?;
    changed(&app, &shared).await;
    Ok(())
}

/// The technician at this workstation and an alert's review: who holds it, each step.
#[derive(Serialize)]
pub(crate) struct ReviewView {
    technician: String,
    #[serde(flatten)]
    review: Review,
}

#[tauri::command]
pub(crate) async fn alert_review(shared: AppState<'_>, id: i64) -> Reply<ReviewView> {
    let session = current(&shared)?;
    Ok(ReviewView {
        technician: session.technician().to_string(),
        review: session.alert_review(id).await?,
    })
}

/// Takes the alert for this technician (`force`: over a colleague who holds it).
#[tauri::command]
pub(crate) async fn take_alert(
    app: AppHandle,
    shared: AppState<'_>,
    id: i64,
    force: bool,
) -> Reply<()> {
    current(&shared)?.take_alert(id, force).await?;
    changed(&app, &shared).await;
    Ok(())
}

/// Lets the alert go (`force`: although a colleague holds it).
#[tauri::command]
pub(crate) async fn release_alert(
    app: AppHandle,
    shared: AppState<'_>,
    id: i64,
    force: bool,
) -> Reply<()> {
    current(&shared)?.release_alert(id, force).await?;
    changed(&app, &shared).await;
    Ok(())
}

#[tauri::command]
pub(crate) async fn note_alert(
    app: AppHandle,
    shared: AppState<'_>,
    id: i64,
    note: String,
) -> Reply<()> {
    current(&shared)?.note_alert(id, &note).await?;
    changed(&app, &shared).await;
    Ok(())
}

#[tauri::command]
pub(crate) async fn scan_now(shared: AppState<'_>) -> Reply<()> {
    shared.wake.notify_one();
    Ok(())
}

#[tauri::command]
pub(crate) async fn list_tenants(shared: AppState<'_>) -> Reply<Vec<TenantStatus>> {
    Ok(current(&shared)?.statuses().await?)
}

#[derive(Deserialize)]
pub(crate) struct NewTenant {
    tenant_id: String,
    name: String,
    client_id: String,
    client_secret: Option<String>,
    certificate_pem: Option<String>,
    /// The MSP's own tenant id, asked once (see `msp_tenant`); stored, never per tenant.
    #[serde(default)]
    msp_tenant_id: Option<String>,
    /// The tenant's cloud as the technician chose it; absent: asked of Microsoft.
    #[serde(default)]
    cloud: Option<String>,
}

/// Whether the add form asks for the MSP's own tenant id, sent as `PublisherIdentifier`.
#[tauri::command]
pub(crate) async fn msp_tenant(shared: AppState<'_>) -> Reply<rulewatch_core::app::MspTenant> {
    Ok(current(&shared)?.msp_tenant()?)
}

#[tauri::command]
/// Answers where the tenant is read, in words: "in the GCC cloud".
pub(crate) async fn add_tenant(
    app: AppHandle,
    shared: AppState<'_>,
    tenant: NewTenant,
) -> Reply<String> {
    let credential = match (tenant.client_secret, tenant.certificate_pem) {
        (Some(secret), None) => NewCredential::ClientSecret(SecretString::from(secret)),
        (None, Some(pem)) => NewCredential::CertificatePem {
            pem: SecretString::from(pem),
            source: "the chosen certificate file".into(),
        },
        _ => {
            return Err(invalid(
                "give either a client secret or a certificate file, not both",
            ));
        }
    };
    let cloud: Option<Cloud> = match tenant.cloud.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(c.parse().map_err(invalid)?),
        None => None,
    };
    let input = TenantInput {
        tenant_id: tenant.tenant_id,
        name: tenant.name,
        client_id: tenant.client_id,
        credential,
        cloud,
        msp_tenant_id: tenant.msp_tenant_id,
    };
    let added = current(&shared)?
        .add_tenant(input, "with its cloud chosen")
        .await?;
    shared.wake.notify_one();
    changed(&app, &shared).await;
    Ok(added.place)
}

#[tauri::command]
pub(crate) async fn test_connection(
    shared: AppState<'_>,
    tenant_id: String,
) -> Reply<Vec<ConnectionStep>> {
    Ok(current(&shared)?.test_connection(&tenant_id).await?)
}

#[tauri::command]
pub(crate) async fn remove_tenant(
    app: AppHandle,
    shared: AppState<'_>,
    tenant_id: String,
) -> Reply<()> {
    current(&shared)?.remove_tenant(&tenant_id).await?;
    changed(&app, &shared).await;
    Ok(())
}

/// Every setting, and whether the app starts at login (the desktop's own).
#[derive(Serialize)]
pub(crate) struct Settings {
    #[serde(flatten)]
    settings: CoreSettings,
    start_at_login: bool,
}

#[tauri::command]
pub(crate) async fn get_settings(app: AppHandle, shared: AppState<'_>) -> Reply<Settings> {
    Ok(Settings {
        settings: current(&shared)?.settings().await?,
        start_at_login: app.autolaunch().is_enabled().unwrap_or(false),
    })
}

#[derive(Deserialize)]
pub(crate) struct SettingsUpdate {
    #[serde(flatten)]
    settings: CoreUpdate,
    start_at_login: bool,
}

#[tauri::command]
pub(crate) async fn save_settings(
    app: AppHandle,
    shared: AppState<'_>,
    settings: SettingsUpdate,
) -> Reply<()> {
    current(&shared)?.save_settings(settings.settings).await?;
    let launcher = app.autolaunch();
    let result = if settings.start_at_login {
        launcher.enable()
    } else {
        launcher.disable()
    };
    result.map_err(|e| CommandError {
        kind: ErrorKind::Failed.as_str(),
        message: format!("cannot change start at login: {e}"),
    })?;
    shared.reschedule.notify_one();
    changed(&app, &shared).await;
    Ok(())
}

/// What a remediation step did, as the panel shows it: the new password, for the one
/// display, only here (never in an event, the log or the store).
#[derive(Serialize)]
pub(crate) struct StepView {
    #[serde(flatten)]
    result: StepResult,
    password: Option<String>,
}

impl From<StepResult> for StepView {
    fn from(mut result: StepResult) -> StepView {
        let password = result
            .password
            .take()
            .map(|p| p.expose_secret().to_string());
        StepView { result, password }
    }
}

#[tauri::command]
pub(crate) async fn remediation_plan(shared: AppState<'_>, alert_id: i64) -> Reply<Plan> {
    Ok(current(&shared)?.remediation_plan(alert_id).await?)
}

#[tauri::command]
pub(crate) async fn remediate(
    app: AppHandle,
    shared: AppState<'_>,
    alert_id: i64,
    keys: Vec<String>,
) -> Reply<Vec<StepView>> {
    let results = current(&shared)?
        .remediate(alert_id, &keys, |r| {
            let _ = app.emit(REMEDIATION_STEP, json!({"alert_id": alert_id, "result": r}));
        })
        .await?;
    changed(&app, &shared).await;
    Ok(results.into_iter().map(StepView::from).collect())
}

/// What undoing a step puts back, for the confirmation; an edited record is refused.
#[tauri::command]
pub(crate) async fn undo_preview(shared: AppState<'_>, action_id: i64) -> Reply<UndoPreview> {
    Ok(current(&shared)?.undo_preview(action_id).await?.preview)
}

#[tauri::command]
pub(crate) async fn undo_step(
    app: AppHandle,
    shared: AppState<'_>,
    action_id: i64,
) -> Reply<StepView> {
    let result = current(&shared)?.undo(action_id).await?;
    changed(&app, &shared).await;
    Ok(result.into())
}

#[tauri::command]
pub(crate) async fn alert_history(shared: AppState<'_>, alert_id: i64) -> Reply<Vec<LogEntry>> {
    Ok(current(&shared)?.alert_history(alert_id).await?)
}

/// Reports go beside the database, in `reports/`, where the panel says they are: one
/// per customer the alert concerns.
#[tauri::command]
pub(crate) async fn export_report(shared: AppState<'_>, alert_id: i64) -> Reply<Vec<String>> {
    let paths = current(&shared)?.write_reports(alert_id, None).await?;
    Ok(paths.iter().map(|p| p.display().to_string()).collect())
}

#[tauri::command]
pub(crate) async fn partner_state(shared: AppState<'_>) -> Reply<PartnerState> {
    Ok(current(&shared)?.partner_state()?)
}

/// Lists the customers now; a scan follows when coverage grew.
async fn discover(app: &AppHandle, shared: &Shared) -> Reply<()> {
    let found = current(shared)?.discover().await?;
    if !found.now_watched.is_empty() {
        shared.wake.notify_one();
    }
    changed(app, shared).await;
    Ok(())
}

/// Signs the partner account in through the default browser (Microsoft sends it back to
/// a loopback port), then lists and watches its customers. The user's own tenants are
/// watched from then on, so the sandbox ends.
#[tauri::command]
pub(crate) async fn partner_sign_in(
    app: AppHandle,
    shared: AppState<'_>,
    tenant_id: String,
    client_id: String,
) -> Reply<PartnerAccount> {
    let mut open = |url: &str| {
        if let Err(e) = opener::open_browser(url) {
            tracing::warn!("the browser could not be started for the partner sign-in: {e}");
        }
    };
    let account = current(&shared)?
        .partner_sign_in(&tenant_id, &client_id, SignInWith::Browser(&mut open))
        .await?;
    shared
        .partner_warned
        .store(false, std::sync::atomic::Ordering::Relaxed);
    discover(&app, &shared).await?;
    shared.wake.notify_one();
    Ok(account)
}

#[tauri::command]
pub(crate) async fn partner_sign_out(app: AppHandle, shared: AppState<'_>) -> Reply<()> {
    current(&shared)?.partner_sign_out().await?;
    changed(&app, &shared).await;
    Ok(())
}

#[tauri::command]
pub(crate) async fn refresh_customers(app: AppHandle, shared: AppState<'_>) -> Reply<PartnerState> {
    discover(&app, &shared).await?;
    Ok(current(&shared)?.partner_state()?)
}

#[tauri::command]
pub(crate) async fn set_watch_all(app: AppHandle, shared: AppState<'_>, on: bool) -> Reply<()> {
    current(&shared)?.set_watch_all(on)?;
    if on {
        discover(&app, &shared).await?;
    }
    changed(&app, &shared).await;
    Ok(())
}

#[tauri::command]
pub(crate) async fn watch_customer(
    app: AppHandle,
    shared: AppState<'_>,
    tenant_id: String,
) -> Reply<()> {
    let (_, already) = current(&shared)?.watch_customer(&tenant_id)?;
    if !already {
        shared.wake.notify_one();
    }
    changed(&app, &shared).await;
    Ok(())
}

#[tauri::command]
pub(crate) async fn exclude_customer(
    app: AppHandle,
    shared: AppState<'_>,
    tenant_id: String,
) -> Reply<()> {
    current(&shared)?.exclude_customer(&tenant_id)?;
    changed(&app, &shared).await;
    Ok(())
}

#[tauri::command]
pub(crate) async fn start_sandbox(app: AppHandle, shared: AppState<'_>) -> Reply<()> {
    current(&shared)?.start_sandbox().await?;
    shared.wake.notify_one();
    changed(&app, &shared).await;
    Ok(())
}

#[tauri::command]
pub(crate) async fn leave_sandbox(app: AppHandle, shared: AppState<'_>) -> Reply<()> {
    current(&shared)?.leave_sandbox().await?;
    shared.reschedule.notify_one();
    changed(&app, &shared).await;
    Ok(())
}

/// The team this workstation is in (its database, who is on duty, who scans what), or
/// `null` when its data folder keeps its own file.
#[tauri::command]
pub(crate) async fn team_state(shared: AppState<'_>) -> Reply<Option<TeamStatus>> {
    Ok(current(&shared)?.team_status().await?)
}

/// Opens the session `change` leaves the data folder with (in a team, or out of one) on
/// a blocking thread, as both connect to a server, and puts it in place.
async fn reopen_with(
    app: &AppHandle,
    shared: &Shared,
    change: impl FnOnce(&Config) -> Result<(), Error> + Send + 'static,
) -> Reply<()> {
    let config = shared.config.clone();
    let session = tauri::async_runtime::spawn_blocking(move || {
        change(&config)?;
        Session::open(config)
    })
    .await
    .map_err(|e| CommandError {
        kind: ErrorKind::Failed.as_str(),
        message: format!("joining or leaving the team stopped: {e}"),
    })??;
    shared.install(session);
    shared.reschedule.notify_one();
    scheduler::opened(app).await;
    Ok(())
}

/// Joins the team whose database `url` names; `password` (empty: the URL's own) goes to
/// the keychain. Nothing is recorded unless the server was reached over the URL's TLS,
/// took the password and has Rulewatch's schema. Answers the team's state.
#[tauri::command]
pub(crate) async fn join_team(
    app: AppHandle,
    shared: AppState<'_>,
    url: String,
    password: String,
) -> Reply<Option<TeamStatus>> {
    let password = (!password.is_empty()).then_some(password);
    reopen_with(&app, &shared, move |config| {
        core_app::join_team(config, &url, password).map(drop)
    })
    .await?;
    Ok(current(&shared)?.team_status().await?)
}

/// Leaves the team: this data folder's own file is used again.
#[tauri::command]
pub(crate) async fn leave_team(app: AppHandle, shared: AppState<'_>) -> Reply<()> {
    reopen_with(&app, &shared, |config| {
        core_app::leave_team(config).map(drop)
    })
    .await
}

/// Copies this workstation's own alerts, tenants (never their secrets), allowlist and
/// remediation record into the team's database, each thing once.
#[tauri::command]
pub(crate) async fn copy_to_team(app: AppHandle, shared: AppState<'_>) -> Reply<Migrated> {
    let copied = current(&shared)?.migrate_to_team().await?;
    changed(&app, &shared).await;
    Ok(copied)
}

/// The panel drew its first page since it was opened (timed in the log).
#[tauri::command]
pub(crate) fn panel_drawn() {
    crate::window::drawn();
}

#[cfg(test)]
mod tests {
    use rulewatch_core::app::{CustomerError, Problem, ProblemKind, StoreError, TenantError};

    use super::*;

    #[test]
    fn a_command_error_reaches_the_panel_as_its_kind_and_message() {
        let sent = |e: Error| serde_json::to_value(CommandError::from(e)).unwrap();
        assert_eq!(
            sent(TenantError::Invalid("the tenant id is not a GUID".into()).into()),
            json!({"kind": "invalid_input", "message": "the tenant id is not a GUID"})
        );
        let lapsed = Problem::new(ProblemKind::SignInNeeded, "sign in again");
        assert_eq!(sent(lapsed.into())["kind"], "sign_in_needed");
        assert_eq!(
            sent(StoreError::NoAlert(7).into())["kind"],
            "local_database"
        );
        let not_signed_in = sent(CustomerError::NotSignedIn.into());
        assert_eq!(not_signed_in["kind"], "not_signed_in");
        assert!(
            not_signed_in["message"]
                .as_str()
                .unwrap()
                .ends_with("sign in first"),
            "{not_signed_in}"
        );
    }
}
