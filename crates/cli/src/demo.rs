//! `rulewatch demo`: the built-in sandbox with planted attacks, scanned in a throwaway
//! data folder, so a newcomer sees real-looking alerts without configuring anything.

use std::process::ExitCode;

use anyhow::Result;
use rulewatch_core::app::{FrontEnd, Session};
use rulewatch_core::shown::shown;

use crate::{Global, scan};

pub(crate) async fn run(g: &Global) -> Result<ExitCode> {
    let session = Session::demo(g.demo_config()?).await?;
    let tenants = session.tenants().await?;
    eprintln!(
        "Rulewatch demo: scanning {} sandbox tenants served at {} (not Microsoft; nothing real is touched).\n",
        tenants.len(),
        session.sandbox_url().await.unwrap_or_default()
    );
    let report = session.scan(|_, _| {}).await?;
    for t in &report.tenants {
        eprintln!(
            "{}: {} records in {} blobs, {} alerts",
            shown(&t.name),
            t.records,
            t.blobs,
            t.new_alerts
        );
    }
    eprintln!();
    scan::print_new_alerts(&session, FrontEnd::Scan, false).await?;
    eprintln!(
        "\nTo watch your own tenants: register an Entra app with ActivityFeed.Read and Domain.Read.All,\n\
         grant admin consent in each client tenant, then `rulewatch tenant add` (see README.md)."
    );
    session.shutdown().await;
    Ok(scan::exit_code(&report))
}
