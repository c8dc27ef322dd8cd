//! Rulewatch's desktop shell: a tray icon that scans every client tenant in the
//! background with the same engine, store and keychain entries as the CLI, notifies
//! new alerts natively and opens the review panel (ui/).

mod commands;
mod notifier;
mod pages;
mod scheduler;
mod state;
mod tray;
mod window;

use std::sync::Arc;

use tauri::{Manager, RunEvent, WindowEvent};

use rulewatch_core::app::{Config, Error, Session};

use crate::state::Shared;
use crate::window::View;

/// Passed by the login item, so a start at login stays in the tray.
const MINIMIZED: &str = "--minimized";
/// Watch the embedded sandbox tenant at once (scripts/run.sh passes it when nothing is
/// configured).
const SANDBOX: &str = "--sandbox";

pub fn run() {
    let mut config = Config::from_env();
    let log_dir = rulewatch_core::app::start_logging(
        "warn",
        config.as_ref().ok().map(|c| c.data_dir.as_path()),
    );
    if let Ok(c) = &mut config {
        c.log_dir = log_dir;
    }
    let config = config.unwrap_or_else(|e| {
        eprintln!("error: Rulewatch cannot start: {e}");
        std::process::exit(1);
    });
    let shared = match Session::open(config.clone()) {
        Ok(s) => Arc::new(Shared::new(config, Ok(s))),
        // The team's database may be down or out of reach (a laptop off the office's
        // network): the tray says so and the app keeps trying, rather than not running.
        Err(e @ Error::Team(_)) => {
            tracing::warn!("cannot open the team's database: {e}");
            Arc::new(Shared::new(config, Err(scheduler::offline(&e))))
        }
        Err(e) => {
            eprintln!("error: Rulewatch cannot start: {e}");
            std::process::exit(1);
        }
    };
    let first_run = match shared.session() {
        Some(s) => tauri::async_runtime::block_on(s.tenants())
            .map(|t| t.is_empty())
            .unwrap_or(true),
        None => false,
    };
    let minimized = std::env::args().any(|a| a == MINIMIZED);
    let sandbox = std::env::args().any(|a| a == SANDBOX);

    let result = tauri::Builder::default()
        // First, so a second launch is caught before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            window::open(app, View::Current)
        }))
        // After single-instance, which hands a second launch's link to this one.
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![MINIMIZED]),
        ))
        .manage(shared)
        .invoke_handler(tauri::generate_handler![
            commands::overview,
            commands::recent_incidents,
            commands::alert_page,
            commands::delivery_channels,
            commands::add_channel,
            commands::add_email_channel,
            commands::add_psa_channel,
            commands::psa_companies,
            commands::map_companies,
            commands::list_incidents,
            commands::resolve_incident,
            commands::test_channel,
            commands::remove_channel,
            commands::get_alert,
            commands::set_alert_status,
            commands::alert_review,
            commands::take_alert,
            commands::release_alert,
            commands::note_alert,
            commands::scan_now,
            commands::list_tenants,
            commands::add_tenant,
            commands::rules,
            commands::tuning,
            commands::set_rule_severity,
            commands::trust,
            commands::untrust,
            commands::msp_tenant,
            commands::test_connection,
            commands::remove_tenant,
            commands::get_settings,
            commands::save_settings,
            commands::start_sandbox,
            commands::leave_sandbox,
            commands::remediation_plan,
            commands::remediate,
            commands::undo_preview,
            commands::undo_step,
            commands::alert_history,
            commands::export_report,
            commands::partner_state,
            commands::partner_sign_in,
            commands::partner_sign_out,
            commands::refresh_customers,
            commands::set_watch_all,
            commands::watch_customer,
            commands::exclude_customer,
            commands::team_state,
            commands::join_team,
            commands::leave_team,
            commands::copy_to_team,
            commands::panel_drawn,
        ])
        .setup(move |app| {
            tray::build(app.handle())?;
            window::follow_links(app.handle());
            tracing::info!("tray ready");
            tauri::async_runtime::spawn(scheduler::follow_store(app.handle().clone()));
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let shared = handle.state::<Arc<Shared>>().inner().clone();
                if shared.session().is_none() {
                    scheduler::reopen(&handle).await;
                } else {
                    scheduler::register(&shared).await;
                }
                if sandbox
                    && let Some(s) = shared.session()
                    && let Err(e) = s.start_sandbox().await
                {
                    tracing::error!("cannot start the sandbox tenant: {e}");
                }
                shared.recount().await;
                tray::refresh(&handle);
                scheduler::run(handle).await;
            });
            // A newcomer sees the first-run screen; a start at login stays in the tray.
            if first_run || !minimized {
                window::open(app.handle(), View::Current);
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    match result {
        // Closing the panel destroys it; the app keeps watching from the tray until
        // Quit, which exits with a code where a closed last window has none.
        Ok(app) => app.run(|app, event| match event {
            RunEvent::ExitRequested {
                code: None, api, ..
            } => api.prevent_exit(),
            RunEvent::WindowEvent {
                label,
                event: WindowEvent::Destroyed,
                ..
            } if label == window::PANEL => window::closed(app),
            _ => {}
        }),
        Err(e) => {
            eprintln!("error: Rulewatch stopped: {e}");
            std::process::exit(1);
        }
    }
}
