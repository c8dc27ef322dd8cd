// Listing the app's commands makes Tauri deny any command a capability does not grant,
// so the panel can call exactly what capabilities/panel.json names.
const COMMANDS: &[&str] = &[
    "overview",
    "list_alerts",
    "delivery_channels",
    "add_channel",
    "add_email_channel",
    "add_psa_channel",
    "psa_companies",
    "map_companies",
    "list_incidents",
    "resolve_incident",
    "test_channel",
    "remove_channel",
    "rules",
    "get_alert",
    "set_alert_status",
    "alert_review",
    "take_alert",
    "release_alert",
    "note_alert",
    "scan_now",
    "list_tenants",
    "add_tenant",
    "msp_tenant",
    "test_connection",
    "remove_tenant",
    "get_settings",
    "save_settings",
    "start_sandbox",
    "leave_sandbox",
    "remediation_plan",
    "remediate",
    "undo_step",
    "undo_preview",
    "alert_history",
    "export_report",
    "partner_state",
    "partner_sign_in",
    "partner_sign_out",
    "refresh_customers",
    "set_watch_all",
    "watch_customer",
    "exclude_customer",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build step failed");
}
