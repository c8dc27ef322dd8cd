//! The commands the panel calls (ui/src/api.ts). Each returns what the panel shows, or
//! a plain-language error. No command ever returns a secret.

use std::sync::{Arc, PoisonError};

use chrono::{DateTime, Utc};
use rulewatch_core::allowlist::{TrustError, TrustKind, normalize_destination};
use rulewatch_core::cloud::Cloud;
use rulewatch_core::engine::ConnectionStep;
use rulewatch_core::geo::{self, GeoProvider};
use rulewatch_core::partner::{self, PartnerAccount};
use rulewatch_core::problem::Problem;
use rulewatch_core::remediate::{self, Action, Operator, Plan, StepResult, default_actions};
use rulewatch_core::report;
use rulewatch_core::secrets::SecretError;
use rulewatch_core::secrets::{Keychain, NO_TENANT, SecretKind, SecretStore};
use rulewatch_core::sign_ins;
use rulewatch_core::store::{Alert, AlertStatus, CustomerRow, LogEntry, StoreError, TenantStatus};
use rulewatch_core::tenants::TenantError;
use rulewatch_core::tenants::{self, NewCredential, NewTenant as CoreTenant};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tauri::{AppHandle, Emitter, State};
use tauri_plugin_autostart::ManagerExt;

use crate::scheduler::CHANGED;
use crate::state::{DesktopSettings, NotifyPrefs, Progress, Shared};
use crate::tray;

type AppState<'a> = State<'a, Arc<Shared>>;

/// One remediation step finished: `{alert_id, result}`, never the password.
const REMEDIATION_STEP: &str = "rulewatch://remediation-step";
type Reply<T> = Result<T, CommandError>;

/// A refused or failed command as the panel receives it, `{kind, message}`: the panel
/// decides on `kind` (one of `ProblemKind`'s names, or `local_database`, `keychain`,
/// `invalid_input`, `not_signed_in`, `not_a_customer`, `failed`) and shows `message`.
#[derive(Debug, Serialize)]
pub struct CommandError {
    kind: &'static str,
    message: String,
}

impl CommandError {
    fn new(kind: &'static str, message: impl std::fmt::Display) -> Self {
        CommandError {
            kind,
            message: message.to_string(),
        }
    }
}

/// A failure with no kind of its own.
fn text(e: impl std::fmt::Display) -> CommandError {
    CommandError::new("failed", e)
}

/// The command's own refusal of what the panel sent.
impl From<&str> for CommandError {
    fn from(message: &str) -> Self {
        CommandError::new("invalid_input", message)
    }
}

impl From<String> for CommandError {
    fn from(message: String) -> Self {
        CommandError::new("invalid_input", message)
    }
}

impl From<Problem> for CommandError {
    fn from(p: Problem) -> Self {
        CommandError::new(p.kind.as_str(), p.message)
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        CommandError::new("local_database", e)
    }
}

impl From<SecretError> for CommandError {
    fn from(e: SecretError) -> Self {
        CommandError::new("keychain", e)
    }
}

impl From<TenantError> for CommandError {
    fn from(e: TenantError) -> Self {
        match e {
            TenantError::Invalid(_) => CommandError::new("invalid_input", e),
            TenantError::Store(e) => e.into(),
            TenantError::Secret(e) => e.into(),
        }
    }
}

impl From<TrustError> for CommandError {
    fn from(e: TrustError) -> Self {
        CommandError::new("invalid_input", e)
    }
}

impl From<geo::MmdbError> for CommandError {
    fn from(e: geo::MmdbError) -> Self {
        CommandError::new("invalid_input", e)
    }
}

impl From<tokio::task::JoinError> for CommandError {
    fn from(e: tokio::task::JoinError) -> Self {
        text(e)
    }
}

impl From<anyhow::Error> for CommandError {
    fn from(e: anyhow::Error) -> Self {
        CommandError::new("failed", format!("{e:#}"))
    }
}

impl From<report::ReportError> for CommandError {
    fn from(e: report::ReportError) -> Self {
        match e {
            report::ReportError::Store(e) => e.into(),
            report::ReportError::Write { .. } => CommandError::new("failed", e),
        }
    }
}

impl From<remediate::RemediateError> for CommandError {
    fn from(e: remediate::RemediateError) -> Self {
        use remediate::RemediateError as R;
        let kind = match &e {
            R::Store(_) => "local_database",
            R::NotAMailbox { .. }
            | R::Unresolved { .. }
            | R::FanIn { .. }
            | R::MailFlowRule { .. }
            | R::OutsideTenant { .. } => "not_containable",
            R::CannotUndo { .. } => "cannot_undo",
            R::UnknownStep(_) | R::Conflict(_) | R::NothingChosen => "invalid_input",
        };
        CommandError::new(kind, e)
    }
}

impl From<partner::CustomerError> for CommandError {
    fn from(e: partner::CustomerError) -> Self {
        match e {
            partner::CustomerError::NotACustomer(_) => {
                CommandError::new("not_a_customer", format!("{e}: refresh the list"))
            }
            partner::CustomerError::NotSignedIn => {
                CommandError::new("not_signed_in", format!("{e}: sign in first"))
            }
            partner::CustomerError::Store(e) => e.into(),
        }
    }
}

/// Something stored changed: the tray and every open view refresh.
async fn changed(app: &AppHandle, shared: &Shared) {
    shared.recount().await;
    tray::refresh(app);
    let _ = app.emit(CHANGED, ());
}

#[derive(Serialize)]
pub struct Overview {
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
}

#[tauri::command]
pub async fn overview(shared: AppState<'_>) -> Reply<Overview> {
    let mode = shared.mode.read().await;
    let state = shared.scan_state();
    Ok(Overview {
        sandbox: mode.sandbox.is_some(),
        tenants: mode.store.tenants()?.len(),
        open_alerts: mode.store.open_alert_count()?,
        scanning: state.scanning,
        last_scan_at: state.last_scan_at,
        next_scan_at: state.next_scan_at,
        paused_until: state.paused_until.filter(|p| *p > Utc::now()),
        error: state.error,
        endpoints_override: shared.launch.override_host(),
        log_dir: shared
            .launch
            .log_dir
            .as_ref()
            .map(|d| d.display().to_string()),
    })
}

#[tauri::command]
pub async fn list_alerts(shared: AppState<'_>) -> Reply<Vec<Alert>> {
    shared
        .mode
        .read()
        .await
        .store
        .alerts()
        .map_err(CommandError::from)
}

/// Every detection rule as it describes itself: the panel's words for alerts.
#[tauri::command]
pub fn rules() -> Vec<&'static rulewatch_core::detect::rules::Rule> {
    rulewatch_core::detect::rules::RULES.to_vec()
}

#[derive(Serialize)]
pub struct AlertDetail {
    #[serde(flatten)]
    alert: Alert,
    parameters: Vec<Field>,
    raw_record: String,
    related: Vec<Alert>,
}

#[derive(Serialize, Debug, PartialEq)]
pub struct Field {
    name: String,
    value: String,
}

/// Every field of an audit record as name and text; `Parameters` and
/// `OperationProperties` entries each get a row of their own.
fn fields(raw: &str) -> Vec<Field> {
    let as_text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(raw) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, value) in &map {
        let entries = match value {
            Value::Array(items) if name == "Parameters" || name == "OperationProperties" => {
                Some(items)
            }
            _ => None,
        };
        match entries {
            Some(items) => out.extend(items.iter().map(|p| Field {
                name: format!("{name} · {}", as_text(&p["Name"])),
                value: as_text(&p["Value"]),
            })),
            None => out.push(Field {
                name: name.clone(),
                value: as_text(value),
            }),
        }
    }
    out
}

#[tauri::command]
pub async fn get_alert(shared: AppState<'_>, id: i64) -> Reply<AlertDetail> {
    let mode = shared.mode.read().await;
    let (alert, raw) = mode.store.alert_with_record(id)?;
    let related = mode
        .store
        .alerts_about(&alert.tenant_id, &alert.target)?
        .into_iter()
        .filter(|a| a.id != id)
        .collect();
    let raw_record = serde_json::from_str::<Value>(&raw)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| raw.clone());
    Ok(AlertDetail {
        parameters: fields(&raw),
        raw_record,
        related,
        alert,
    })
}

#[tauri::command]
pub async fn set_alert_status(
    app: AppHandle,
    shared: AppState<'_>,
    id: i64,
    status: String,
    note: Option<String>,
    trust_destination: bool,
) -> Reply<()> {
    let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    let status = AlertStatus::parse(&status)
        .filter(|s| s.settable())
        .ok_or_else(|| format!("'{status}' is not a status an alert can be given"))?;
    {
        let mode = shared.mode.read().await;
        let alert = mode.store.set_alert_status(id, status, note.as_deref())?;
        if trust_destination && status == AlertStatus::FalsePositive {
            let destinations = rulewatch_core::detect::destinations(&alert.details);
            if destinations.is_empty() {
                return Err("this alert names no destination to trust".into());
            }
            let why = note
                .clone()
                .unwrap_or_else(|| format!("marked a false positive on alert {id}"));
            for d in destinations {
                let value = normalize_destination(d)?;
                mode.store.add_trust(
                    &alert.tenant_id,
                    TrustKind::Destination,
                    &value,
                    Some(&why),
                )?;
            }
        }
    }
    changed(&app, &shared).await;
    Ok(())
}

#[tauri::command]
pub async fn scan_now(shared: AppState<'_>) -> Reply<()> {
    shared.wake.notify_one();
    Ok(())
}

#[tauri::command]
pub async fn list_tenants(shared: AppState<'_>) -> Reply<Vec<TenantStatus>> {
    shared
        .mode
        .read()
        .await
        .store
        .statuses()
        .map_err(CommandError::from)
}

#[derive(Deserialize)]
pub struct NewTenant {
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

/// Whether the add form asks for the MSP's own tenant id, sent as `PublisherIdentifier`:
/// only while none is known (stored, set by `RULEWATCH_PUBLISHER_ID`, or a signed-in
/// partner account's tenant).
#[derive(Serialize)]
pub struct MspTenant {
    msp_tenant_id: Option<String>,
    ask: bool,
}

#[tauri::command]
pub async fn msp_tenant(shared: AppState<'_>) -> Reply<MspTenant> {
    let stored = tenants::msp_tenant(&shared.home)?;
    let partner = partner::account(&shared.home)?;
    let ask = stored.is_none() && partner.is_none() && shared.launch.publisher_id.is_none();
    Ok(MspTenant {
        msp_tenant_id: stored,
        ask,
    })
}

#[tauri::command]
/// Answers where the tenant is read, in words: "in the GCC cloud".
pub async fn add_tenant(app: AppHandle, shared: AppState<'_>, tenant: NewTenant) -> Reply<String> {
    let credential = match (tenant.client_secret, tenant.certificate_pem) {
        (Some(secret), None) => NewCredential::ClientSecret(SecretString::from(secret)),
        (None, Some(pem)) => NewCredential::CertificatePem {
            pem: SecretString::from(pem),
            source: "the chosen certificate file".into(),
        },
        _ => return Err("give either a client secret or a certificate file, not both".into()),
    };
    let msp = tenant
        .msp_tenant_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty());
    let msp = msp
        .map(|id| tenants::parse_guid(id, "your MSP's own tenant id"))
        .transpose()?;
    let chosen: Option<Cloud> = match tenant.cloud.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(c.parse()?),
        None => None,
    };
    let endpoints = &shared.launch.endpoints;
    let choice = tenants::CloudChoice::decide(endpoints, &tenant.tenant_id, chosen).await;
    let new = CoreTenant {
        tenant_id: tenant.tenant_id,
        name: tenant.name,
        client_id: tenant.client_id,
        credential,
        cloud: choice.cloud,
    };
    let home = shared.home.clone();
    // The keychain is reached over D-Bus or the platform's API: blocking calls.
    tokio::task::spawn_blocking(move || tenants::add_tenant(&home, &Keychain, new)).await??;
    let place = choice.words(endpoints, "with its cloud chosen");
    if let Some(id) = msp {
        tenants::set_msp_tenant(&shared.home, &id)?;
    }
    // A real tenant ends the sandbox: from now on the user's own tenants are watched.
    shared.leave_sandbox().await?;
    shared.wake.notify_one();
    changed(&app, &shared).await;
    Ok(place)
}

#[tauri::command]
pub async fn test_connection(
    shared: AppState<'_>,
    tenant_id: String,
) -> Reply<Vec<ConnectionStep>> {
    let (engine, store) = {
        let mode = shared.mode.read().await;
        (mode.engine.clone(), mode.store.clone())
    };
    let tenant = store.tenant(&tenant_id)?;
    Ok(engine.test_connection(&tenant).await)
}

#[tauri::command]
pub async fn remove_tenant(app: AppHandle, shared: AppState<'_>, tenant_id: String) -> Reply<()> {
    let (store, secrets) = {
        let mode = shared.mode.read().await;
        (mode.store.clone(), mode.secrets.clone())
    };
    tokio::task::spawn_blocking(move || {
        tenants::remove_tenant(&store, secrets.as_ref(), &tenant_id)
    })
    .await??;
    changed(&app, &shared).await;
    Ok(())
}

#[derive(Serialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum GeoSetting {
    Off,
    Ipstack { key_stored: bool },
    Mmdb { city: String, asn: Option<String> },
}

#[derive(Serialize)]
pub struct Settings {
    scan_interval_minutes: u32,
    backfill_hours: u32,
    notify: NotifyPrefs,
    start_at_login: bool,
    sign_ins: bool,
    geo: GeoSetting,
    remediation_defaults: Vec<Action>,
}

#[tauri::command]
pub async fn get_settings(app: AppHandle, shared: AppState<'_>) -> Reply<Settings> {
    let desktop = shared.settings();
    let geo = match shared.home.geo_provider()? {
        GeoProvider::Off => GeoSetting::Off,
        GeoProvider::Ipstack => {
            let key_stored = tokio::task::spawn_blocking(|| {
                Keychain.get(NO_TENANT, SecretKind::IpstackKey).is_ok()
            })
            .await?;
            GeoSetting::Ipstack { key_stored }
        }
        GeoProvider::Mmdb { city, asn } => GeoSetting::Mmdb {
            city: city.display().to_string(),
            asn: asn.map(|a| a.display().to_string()),
        },
    };
    Ok(Settings {
        scan_interval_minutes: desktop.scan_interval_minutes,
        backfill_hours: desktop.backfill_hours,
        notify: desktop.notify,
        start_at_login: app.autolaunch().is_enabled().unwrap_or(false),
        sign_ins: sign_ins::enabled(&shared.home)?,
        geo,
        remediation_defaults: default_actions(&shared.home)?,
    })
}

#[derive(Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum GeoUpdate {
    Off,
    Ipstack { key: Option<String> },
    Mmdb { city: String, asn: Option<String> },
}

#[derive(Deserialize)]
pub struct SettingsUpdate {
    scan_interval_minutes: u32,
    backfill_hours: u32,
    notify: NotifyPrefs,
    start_at_login: bool,
    sign_ins: bool,
    geo: GeoUpdate,
    remediation_defaults: Vec<Action>,
}

#[tauri::command]
pub async fn save_settings(
    app: AppHandle,
    shared: AppState<'_>,
    settings: SettingsUpdate,
) -> Reply<()> {
    if !(1..=1440).contains(&settings.scan_interval_minutes) {
        return Err("the scan interval must be 1 to 1440 minutes".into());
    }
    let backfill = rulewatch_core::engine::BACKFILL_HOURS;
    let within = u16::try_from(settings.backfill_hours).is_ok_and(|h| backfill.contains(&h));
    if !within {
        return Err(format!(
            "the first-run backfill must be {} to {} hours (Microsoft keeps 7 days)",
            backfill.start(),
            backfill.end()
        )
        .into());
    }
    let provider = match settings.geo {
        GeoUpdate::Off => GeoProvider::Off,
        GeoUpdate::Ipstack { key } => {
            let key = key.map(|k| k.trim().to_string()).filter(|k| !k.is_empty());
            let stored = tokio::task::spawn_blocking(move || match key {
                Some(k) => Keychain
                    .set(NO_TENANT, SecretKind::IpstackKey, k.as_bytes())
                    .map(|()| true),
                None => Ok(Keychain.get(NO_TENANT, SecretKind::IpstackKey).is_ok()),
            })
            .await??;
            if !stored {
                return Err(
                    "ipstack needs an API key: type it once; it is kept in the OS keychain".into(),
                );
            }
            GeoProvider::Ipstack
        }
        GeoUpdate::Mmdb { city, asn } => {
            let city = std::path::PathBuf::from(city.trim());
            let asn = asn
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .map(std::path::PathBuf::from);
            geo::check_mmdb(&city, asn.as_deref())?;
            GeoProvider::Mmdb { city, asn }
        }
    };
    if provider == GeoProvider::Off {
        tokio::task::spawn_blocking(|| Keychain.delete(NO_TENANT, SecretKind::IpstackKey))
            .await??;
    }
    shared.home.set_geo_provider(&provider)?;
    shared
        .home
        .set_setting(sign_ins::SETTING, &settings.sign_ins)?;
    shared
        .home
        .set_setting(remediate::DEFAULTS_SETTING, &settings.remediation_defaults)?;
    shared.save_settings(&DesktopSettings {
        scan_interval_minutes: settings.scan_interval_minutes,
        backfill_hours: settings.backfill_hours,
        notify: settings.notify,
    })?;
    let launcher = app.autolaunch();
    let result = if settings.start_at_login {
        launcher.enable()
    } else {
        launcher.disable()
    };
    result
        .map_err(|e| CommandError::new("failed", format!("cannot change start at login: {e}")))?;
    // The engine reads the backfill and the geolocation provider when it is built.
    shared.rebuild_engine().await?;
    shared.reschedule.notify_one();
    changed(&app, &shared).await;
    Ok(())
}

/// What a remediation step did, as the panel shows it: the new password, for the one
/// display, only here (never in an event, the log or the store).
#[derive(Serialize)]
pub struct StepView {
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

/// The engine of the watched tenants and the remediation defaults.
async fn remediator_parts(
    shared: &Shared,
) -> Reply<(Arc<rulewatch_core::engine::Engine>, Vec<Action>)> {
    let engine = shared.mode.read().await.engine.clone();
    Ok((engine, default_actions(&shared.home)?))
}

#[tauri::command]
pub async fn remediation_plan(shared: AppState<'_>, alert_id: i64) -> Reply<Plan> {
    let (engine, defaults) = remediator_parts(&shared).await?;
    let plan = engine
        .remediator(Operator::current(), defaults)
        .plan(alert_id)
        .await?;
    shared
        .plans
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(alert_id, plan.clone());
    Ok(plan)
}

#[tauri::command]
pub async fn remediate(
    app: AppHandle,
    shared: AppState<'_>,
    alert_id: i64,
    keys: Vec<String>,
) -> Reply<Vec<StepView>> {
    let plan = shared
        .plans
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&alert_id)
        .cloned()
        .ok_or("the plan for this alert was not read yet: open Secure and Remediate again")?;
    let (engine, defaults) = remediator_parts(&shared).await?;
    let results = engine
        .remediator(Operator::current(), defaults)
        .run(&plan, &keys, |r| {
            let _ = app.emit(REMEDIATION_STEP, json!({"alert_id": alert_id, "result": r}));
        })
        .await?;
    changed(&app, &shared).await;
    Ok(results.into_iter().map(StepView::from).collect())
}

/// What undoing a step puts back, for the confirmation; an edited record is refused.
#[tauri::command]
pub async fn undo_preview(
    shared: AppState<'_>,
    action_id: i64,
) -> Reply<rulewatch_core::undo::UndoPreview> {
    rulewatch_core::undo::undo_preview(&shared.mode.read().await.store, action_id)
        .map_err(CommandError::from)
}

#[tauri::command]
pub async fn undo_step(app: AppHandle, shared: AppState<'_>, action_id: i64) -> Reply<StepView> {
    let (engine, defaults) = remediator_parts(&shared).await?;
    let result = engine
        .remediator(Operator::current(), defaults)
        .undo(action_id)
        .await?;
    changed(&app, &shared).await;
    Ok(result.into())
}

#[tauri::command]
pub async fn alert_history(shared: AppState<'_>, alert_id: i64) -> Reply<Vec<LogEntry>> {
    shared
        .mode
        .read()
        .await
        .store
        .log_for_alert(alert_id)
        .map_err(CommandError::from)
}

/// Reports go beside the database, in `reports/`, where the panel says they are: one
/// per customer the alert concerns.
#[tauri::command]
pub async fn export_report(shared: AppState<'_>, alert_id: i64) -> Reply<Vec<String>> {
    let store = shared.mode.read().await.store.clone();
    let dir = shared.launch.data_dir.join("reports");
    let paths =
        tokio::task::spawn_blocking(move || report::write_incident_reports(&store, alert_id, &dir))
            .await??;
    Ok(paths.iter().map(|p| p.display().to_string()).collect())
}

#[derive(Serialize)]
pub struct PartnerState {
    account: Option<PartnerAccount>,
    watch_all: bool,
    customers: Vec<CustomerRow>,
    problem: Option<String>,
    /// What kind of problem, for the panel to act on: `sign_in_needed` offers a new
    /// sign-in.
    problem_kind: Option<&'static str>,
}

fn partner_view(shared: &Shared) -> Reply<PartnerState> {
    let store = &shared.home;
    let problem = shared
        .partner_problem
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Ok(PartnerState {
        account: partner::account(store)?,
        watch_all: partner::watch_all(store)?,
        customers: store.customers()?,
        problem_kind: problem.as_ref().map(|p| p.kind.as_str()),
        problem: problem.map(|p| p.message),
    })
}

#[tauri::command]
pub async fn partner_state(shared: AppState<'_>) -> Reply<PartnerState> {
    partner_view(&shared)
}

/// Lists the customers now, noting why it failed for the panel.
async fn discover(app: &AppHandle, shared: &Shared) -> Reply<()> {
    let engine = shared.mode.read().await.engine.clone();
    let found = engine.discover().await;
    *shared
        .partner_problem
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = found.as_ref().err().cloned();
    let found = found?;
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
pub async fn partner_sign_in(
    app: AppHandle,
    shared: AppState<'_>,
    tenant_id: String,
    client_id: String,
) -> Reply<PartnerAccount> {
    let tenant_id = tenants::parse_guid(&tenant_id, "the partner tenant id")?;
    let client_id = tenants::parse_guid(&client_id, "the partner app's client id")?;
    shared.leave_sandbox().await?;
    let engine = shared.mode.read().await.engine.clone();
    let account = engine
        .partner()
        .sign_in_browser(&tenant_id, &client_id, |url| {
            if let Err(e) = opener::open_browser(url) {
                tracing::warn!("the browser could not be started for the partner sign-in: {e}");
            }
        })
        .await?;
    shared
        .partner_warned
        .store(false, std::sync::atomic::Ordering::Relaxed);
    discover(&app, &shared).await?;
    shared.wake.notify_one();
    Ok(account)
}

#[tauri::command]
pub async fn partner_sign_out(app: AppHandle, shared: AppState<'_>) -> Reply<()> {
    let engine = shared.mode.read().await.engine.clone();
    tokio::task::spawn_blocking(move || {
        engine.partner().sign_out()?;
        engine.forget_tokens();
        Ok::<_, rulewatch_core::problem::Problem>(())
    })
    .await??;
    *shared
        .partner_problem
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = None;
    changed(&app, &shared).await;
    Ok(())
}

#[tauri::command]
pub async fn refresh_customers(app: AppHandle, shared: AppState<'_>) -> Reply<PartnerState> {
    discover(&app, &shared).await?;
    partner_view(&shared)
}

#[tauri::command]
pub async fn set_watch_all(app: AppHandle, shared: AppState<'_>, on: bool) -> Reply<()> {
    shared.home.set_setting(partner::WATCH_ALL_SETTING, &on)?;
    if on {
        discover(&app, &shared).await?;
    }
    changed(&app, &shared).await;
    Ok(())
}

#[tauri::command]
pub async fn watch_customer(app: AppHandle, shared: AppState<'_>, tenant_id: String) -> Reply<()> {
    let (_, already) = partner::watch_customer(&shared.home, &tenant_id)?;
    if !already {
        shared.wake.notify_one();
    }
    changed(&app, &shared).await;
    Ok(())
}

#[tauri::command]
pub async fn exclude_customer(
    app: AppHandle,
    shared: AppState<'_>,
    tenant_id: String,
) -> Reply<()> {
    partner::exclude_customer(&shared.home, &tenant_id)?;
    changed(&app, &shared).await;
    Ok(())
}

#[tauri::command]
pub async fn start_sandbox(app: AppHandle, shared: AppState<'_>) -> Reply<()> {
    shared.start_sandbox().await?;
    shared.wake.notify_one();
    changed(&app, &shared).await;
    Ok(())
}

#[tauri::command]
pub async fn leave_sandbox(app: AppHandle, shared: AppState<'_>) -> Reply<()> {
    shared.leave_sandbox().await?;
    shared.reschedule.notify_one();
    changed(&app, &shared).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rulewatch_core::problem::ProblemKind;

    use super::*;

    #[test]
    fn every_record_field_and_parameter_is_a_row_of_text() {
        let raw = r#"{"Operation":"New-InboxRule","ResultStatus":"True","RecordType":1,
                      "Parameters":[{"Name":"Name","Value":"<img src=x onerror=alert(1)>"},{"Name":"DeleteMessage","Value":"True"}]}"#;
        let rows = fields(raw);
        let row = |name: &str| {
            rows.iter()
                .find(|f| f.name == name)
                .map(|f| f.value.as_str())
        };
        assert_eq!(row("Operation"), Some("New-InboxRule"));
        assert_eq!(row("RecordType"), Some("1"));
        assert_eq!(
            row("Parameters · Name"),
            Some("<img src=x onerror=alert(1)>")
        );
        assert_eq!(row("Parameters · DeleteMessage"), Some("True"));
        assert!(fields("not json").is_empty());
    }

    #[test]
    fn a_command_error_reaches_the_panel_as_its_kind_and_message() {
        let sent = |e: CommandError| serde_json::to_value(e).unwrap();
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
        assert_eq!(
            sent(partner::CustomerError::NotSignedIn.into())["kind"],
            "not_signed_in"
        );
        assert_eq!(
            sent(remediate::RemediateError::NothingChosen.into())["kind"],
            "invalid_input"
        );
    }
}
