//! `rulewatch demo`: the built-in sandbox with planted attacks, scanned in a throwaway
//! data folder, so a newcomer sees real-looking alerts without configuring anything.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use m365_sandbox::Scenario;
use rulewatch_core::cloud::Endpoints;
use rulewatch_core::engine::Engine;
use rulewatch_core::secrets::MemorySecrets;
use rulewatch_core::store::Store;
use rulewatch_core::tenants::add_test_tenants;

use crate::{Global, scan};

pub async fn run(g: &Global) -> Result<ExitCode> {
    let scenario = Scenario::demo();
    let sandbox = m365_sandbox::start("127.0.0.1:0".parse()?, scenario.clone())
        .await
        .context("starting the built-in sandbox")?;
    let dir = tempfile::tempdir().context("creating a throwaway data folder")?;
    let store = Arc::new(Store::open(dir.path())?);
    // The sandbox's credentials are public test values: kept in memory, not the keychain.
    let secrets = Arc::new(MemorySecrets::default());
    let credentials = scenario
        .tenants
        .iter()
        .map(|t| (&*t.tenant_id, &*t.name, &*t.client_id, &*t.client_secret));
    add_test_tenants(&store, secrets.as_ref(), credentials)?;
    eprintln!(
        "Rulewatch demo: scanning {} sandbox tenants served at {} (not Microsoft; nothing real is touched).\n",
        scenario.tenants.len(),
        sandbox.base_url()
    );
    let mut config = g.engine_config()?;
    config.endpoints = Endpoints::single(sandbox.base_url()).map_err(anyhow::Error::msg)?;
    let engine = Engine::new(store.clone(), secrets, config)?;
    let report = engine.scan().await?;
    for t in &report.tenants {
        eprintln!(
            "{}: {} records in {} blobs, {} alerts",
            t.name, t.records, t.blobs, t.new_alerts
        );
    }
    eprintln!();
    scan::print_new_alerts(&store, false)?;
    eprintln!(
        "\nTo watch your own tenants: register an Entra app with ActivityFeed.Read and Domain.Read.All,\n\
         grant admin consent in each client tenant, then `rulewatch tenant add` (see README.md)."
    );
    sandbox.shutdown().await;
    Ok(scan::exit_code(&report))
}
