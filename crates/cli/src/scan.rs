//! `rulewatch scan`: one scan of every tenant; new alerts on stdout, a summary per
//! tenant on stderr.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use rulewatch_core::app::{
    Alert, Delivered, FrontEnd, Problem, Remedy, ScanReport, Session, TenantState,
};
use rulewatch_core::shown::shown;

use crate::progress::ScanProgress;
use crate::{Global, output};

/// Exit status when any tenant could not be scanned completely.
pub(crate) const TENANT_FAILED: u8 = 3;

pub(crate) async fn scan(g: &Global, json: bool) -> Result<ExitCode> {
    let session = g.session()?;
    if !session.has_anything_to_scan().await? {
        eprintln!(
            "No tenant is configured. Add one with `rulewatch tenant add`, sign in as your partner account with \
             `rulewatch partner login`, or try `rulewatch demo`."
        );
        return Ok(ExitCode::SUCCESS);
    }
    session.register(FrontEnd::Scan).await?;
    let report = run_scan(&session, FrontEnd::Scan, true, json).await?;
    crate::channel::deliver(&session).await;
    Ok(exit_code(&report))
}

/// Scans once, printing `to`'s new alerts on stdout as each tenant's scan commits (and
/// any an interrupted run stored but did not print; each printed one is marked
/// delivered), then a summary per tenant on stderr. With `progress`, its progress too
/// (the watcher's log has no use for it every interval).
pub(crate) async fn run_scan(
    session: &Session,
    to: FrontEnd,
    progress: bool,
    json: bool,
) -> Result<ScanReport> {
    let progress = progress.then(ScanProgress::new);
    let stdout = std::io::stdout();
    let (report, printed) = session
        .scan_delivering(
            to,
            |done, total| {
                if let Some(p) = &progress {
                    p.update(done, total);
                }
            },
            |pending| {
                let print = || print_alerts(&mut stdout.lock(), &pending, json);
                match &progress {
                    Some(p) => p.suspend(print),
                    None => print(),
                }
            },
        )
        .await;
    if let Some(p) = &progress {
        p.finish();
    }
    let report = report?;
    summarise(&report);
    printed?;
    Ok(report)
}

/// Prints what waits to be delivered (alerts an interrupted run or another front end on
/// this data folder stored but this one did not print); each printed one is marked
/// delivered.
pub(crate) async fn print_new_alerts(session: &Session, to: FrontEnd, json: bool) -> Result<()> {
    let stdout = std::io::stdout();
    session
        .deliver_new_alerts(to, |pending| {
            print_alerts(&mut stdout.lock(), &pending, json)
        })
        .await?;
    Ok(())
}

/// Writes each alert to `out`, up to the first that cannot be written.
fn print_alerts(out: &mut impl Write, pending: &[Alert], json: bool) -> Delivered {
    let mut printed = Delivered::default();
    for alert in pending {
        let written = output::write_alert(out, alert, json).and_then(|()| out.flush());
        if let Err(e) = written {
            printed.error = Some(format!("cannot write to standard output: {e}"));
            break;
        }
        printed.ids.push(alert.id);
    }
    printed
}

pub(crate) fn exit_code(report: &ScanReport) -> ExitCode {
    if report.all_scanned() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(TENANT_FAILED)
    }
}

fn summarise(report: &ScanReport) {
    if !report.elsewhere.is_empty() {
        eprintln!(
            "{} tenant(s) left to colleagues' workstations: this one holds no credentials for them.",
            report.elsewhere.len()
        );
    }
    for name in &report.busy {
        eprintln!(
            "{}: skipped, another Rulewatch (on this data folder, or a colleague's in a team) is scanning it",
            shown(name)
        );
    }
    match &report.discovery {
        Some(Ok(d)) => {
            for c in &d.now_watched {
                eprintln!(
                    "Coverage grew: now watching {} ({}), a new customer of the partner account.",
                    shown(&c.name),
                    shown(&c.tenant_id)
                );
            }
        }
        Some(Err(p)) => eprintln!(
            "The partner's customers could not be listed: {}",
            shown(&p.to_string())
        ),
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
        let name = shown(&t.name);
        let took = t.took.as_secs_f64();
        match t.state {
            TenantState::Ok => eprintln!(
                "{name}: scanned {} blobs, {} records, {} new alerts in {took:.2} s{retries}",
                t.blobs, t.records, t.new_alerts
            ),
            TenantState::Partial => eprintln!(
                "{name}: INCOMPLETE: scanned {} blobs, {} records, {} new alerts{retries}; {}",
                t.blobs,
                t.records,
                t.new_alerts,
                join(&t.problems)
            ),
            _ => eprintln!("{name}: FAILED{retries}: {}", join(&t.problems)),
        }
    }
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| {
            let hint = Remedy::for_problem(p).map(|r| crate::hint(&r));
            shown(&p.message) + &hint.unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("; ")
}
