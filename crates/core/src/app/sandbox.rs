//! The embedded sandbox: planted attacks from a built-in stand-in for Microsoft,
//! scanned in a throwaway folder so nothing of the technician's is touched. The desktop
//! switches to it and back; `rulewatch demo` runs a session of it alone.

use std::sync::Arc;

use m365_sandbox::{RunningSandbox, Scenario};

use super::{Config, Error, Mode, Session, build_engine};
use crate::cloud::Endpoints;
use crate::secrets::{MemorySecrets, SecretStore};
use crate::store::Store;

/// The sandbox while its tenants are watched, and the folder that goes with it.
pub(super) struct Running {
    server: RunningSandbox,
    /// A folder removed when the demo ends (the desktop's own folder is cleared when
    /// the sandbox next starts instead).
    _folder: Option<tempfile::TempDir>,
}

impl Running {
    pub(super) fn endpoints(&self) -> Result<Endpoints, Error> {
        Endpoints::single(self.server.base_url()).map_err(Error::Failed)
    }
}

fn failed<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> Error + '_ {
    move |e| Error::Failed(format!("{what}: {e:#}"))
}

/// The demo scenario with its attacks spread out: the first is there at once, the
/// others arrive a minute apart, so a newcomer watches alerts come in.
fn live_demo() -> Scenario {
    let mut scenario = Scenario::demo();
    scenario.rebase_times = true;
    for (i, r) in scenario.records.iter_mut().enumerate() {
        r.release_after_s = -60 + 60 * i as i64;
    }
    scenario
}

/// Starts `scenario`'s sandbox and a store of its tenants in `dir`.
async fn sandbox_mode(
    config: &Config,
    home: Option<&Store>,
    scenario: Scenario,
    dir: &std::path::Path,
    folder: Option<tempfile::TempDir>,
) -> Result<(Mode, Arc<Store>), Error> {
    let server = m365_sandbox::start(([127, 0, 0, 1], 0).into(), scenario.clone())
        .await
        .map_err(failed("the sandbox could not start"))?;
    // The sandbox's credentials are public test values: kept in memory, not the keychain.
    let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecrets::default());
    let store = Arc::new(Store::open(dir)?.sign_record_with(secrets.clone()));
    let credentials = scenario
        .tenants
        .iter()
        .map(|t| (&*t.tenant_id, &*t.name, &*t.client_id, &*t.client_secret));
    crate::tenants::add_test_tenants(&store, secrets.as_ref(), credentials)?;
    let running = Running {
        server,
        _folder: folder,
    };
    let engine = build_engine(
        config,
        home.unwrap_or(&store),
        &store,
        secrets.clone(),
        running.endpoints()?,
    )?;
    let mode = Mode {
        store: store.clone(),
        engine,
        secrets,
        sandbox: Some(running),
    };
    Ok((mode, store))
}

impl Session {
    /// A session of the sandbox alone, in a new folder removed when it ends: every
    /// planted attack is there at once.
    pub async fn demo(config: Config) -> Result<Session, Error> {
        let folder = tempfile::Builder::new()
            .prefix("rulewatch-demo-")
            .tempdir()
            .map_err(|e| Error::Failed(format!("cannot create a throwaway data folder: {e}")))?;
        let dir = folder.path().to_path_buf();
        let (mode, store) =
            sandbox_mode(&config, None, Scenario::demo(), &dir, Some(folder)).await?;
        Ok(Session::with_mode(config, store, mode))
    }

    /// Whether the sandbox's tenants are watched now.
    pub async fn in_sandbox(&self) -> bool {
        self.mode.read().await.sandbox.is_some()
    }

    /// Where the sandbox being watched is served, when one is.
    pub async fn sandbox_url(&self) -> Option<String> {
        let mode = self.mode.read().await;
        mode.sandbox
            .as_ref()
            .map(|s| s.server.base_url().to_string())
    }

    /// Watches the sandbox's tenants, their attacks arriving a minute apart, in a
    /// marked folder of their own in the data folder.
    pub async fn start_sandbox(&self) -> Result<(), Error> {
        let mut mode = self.mode.write().await;
        if mode.sandbox.is_some() {
            return Ok(());
        }
        let dir = m365_sandbox::folder::throwaway_folder(&self.config.data_dir)
            .map_err(failed("the sandbox folder could not be made"))?;
        let (sandbox, _) =
            sandbox_mode(&self.config, Some(&self.home), live_demo(), &dir, None).await?;
        *mode = sandbox;
        Ok(())
    }

    /// Back to the technician's own tenants.
    pub async fn leave_sandbox(&self) -> Result<(), Error> {
        let mut mode = self.mode.write().await;
        if mode.sandbox.is_none() {
            return Ok(());
        }
        let secrets = self.config.keychain();
        let engine = build_engine(
            &self.config,
            &self.home,
            &self.home,
            secrets.clone(),
            self.config.endpoints(),
        )?;
        let old = std::mem::replace(
            &mut *mode,
            Mode {
                store: self.home.clone(),
                engine,
                secrets,
                sandbox: None,
            },
        );
        drop(mode);
        if let Some(running) = old.sandbox {
            running.server.shutdown().await;
        }
        Ok(())
    }

    /// Stops the sandbox being watched, if one is, for a clean exit.
    pub async fn shutdown(self) {
        if let Some(running) = self.mode.into_inner().sandbox {
            running.server.shutdown().await;
        }
    }
}
