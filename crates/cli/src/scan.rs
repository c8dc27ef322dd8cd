//! `rulewatch scan`: one scan of every tenant; new alerts on stdout, a summary per
//! tenant on stderr.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use rulewatch_core::engine::{Engine, ScanReport, deliver_outbox};
use rulewatch_core::secrets::{Keychain, SecretStore};
use rulewatch_core::store::{Store, TenantState};

use crate::{Global, output};

/// Exit status when any tenant could not be scanned completely.
pub const TENANT_FAILED: u8 = 3;

pub async fn scan(g: &Global, json: bool) -> Result<ExitCode> {
    let store = g.store()?;
    if store.tenants()?.is_empty() && rulewatch_core::partner::account(&store)?.is_none() {
        eprintln!(
            "No tenant is configured. Add one with `rulewatch tenant add`, sign in as your partner account with \
             `rulewatch partner login`, or try `rulewatch demo`."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let report = run_scan(store.clone(), Arc::new(Keychain), g).await?;
    print_new_alerts(&store, json)?;
    Ok(exit_code(&report))
}

pub async fn run_scan(
    store: Arc<Store>,
    secrets: Arc<dyn SecretStore>,
    g: &Global,
) -> Result<ScanReport> {
    let engine = Engine::new(store, secrets, g.engine_config()?)?;
    let report = engine.scan().await?;
    summarise(&report);
    Ok(report)
}

/// Prints what the outbox holds (this scan's alerts, and any an interrupted run
/// stored but did not print) and marks each printed.
pub fn print_new_alerts(store: &Store, json: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    deliver_outbox(store, |alert| {
        output::write_alert(&mut out, alert, json)?;
        out.flush()
    })?;
    Ok(())
}

pub fn exit_code(report: &ScanReport) -> ExitCode {
    if report.all_scanned() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(TENANT_FAILED)
    }
}

fn summarise(report: &ScanReport) {
    match &report.discovery {
        Some(Ok(d)) => {
            for c in &d.now_watched {
                eprintln!(
                    "Coverage grew: now watching {} ({}), a new customer of the partner account.",
                    c.name, c.tenant_id
                );
            }
        }
        Some(Err(p)) => eprintln!("The partner's customers could not be listed: {p}"),
        None => {}
    }
    for t in &report.tenants {
        let retries = if t.throttled + t.retried > 0 {
            format!(
                ", {} throttled and {} failed requests retried",
                t.throttled, t.retried
            )
        } else {
            String::new()
        };
        match t.state {
            TenantState::Ok => eprintln!(
                "{}: scanned {} blobs, {} records, {} new alerts{retries}",
                t.name, t.blobs, t.records, t.new_alerts
            ),
            TenantState::Partial => eprintln!(
                "{}: INCOMPLETE: scanned {} blobs, {} records, {} new alerts{retries}; {}",
                t.name,
                t.blobs,
                t.records,
                t.new_alerts,
                join(&t.problems)
            ),
            _ => eprintln!("{}: FAILED{retries}: {}", t.name, join(&t.problems)),
        }
    }
}

fn join(problems: &[rulewatch_core::problem::Problem]) -> String {
    problems
        .iter()
        .map(|p| p.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}
