//! Client tenants reached by their own app registration: add (with its cloud and the
//! MSP's tenant id asked once), list, test, remove.

use serde::Serialize;

use super::{Error, Session};
use crate::cloud::Cloud;
use crate::engine::ConnectionStep;
use crate::secrets::Keychain;
use crate::store::{TenantRow, TenantStatus};
use crate::tenants::{self, CloudChoice, NewCredential, NewTenant};

/// A tenant to add, as the technician gave it.
pub struct TenantInput {
    /// The tenant's id (a GUID).
    pub tenant_id: String,
    /// The name the technician knows it by.
    pub name: String,
    /// The app registration's client id.
    pub client_id: String,
    /// Its client secret or certificate.
    pub credential: NewCredential,
    /// The tenant's cloud as chosen; `None`: asked of Microsoft.
    pub cloud: Option<Cloud>,
    /// The MSP's own tenant id, when given with this tenant: stored once for all.
    pub msp_tenant_id: Option<String>,
}

/// What adding a tenant did.
#[derive(Debug)]
pub struct Added {
    /// The tenant as stored.
    pub tenant: TenantRow,
    /// Where the tenant is read, in words: "in the GCC cloud".
    pub place: String,
    /// The MSP's tenant id stored with it, in canonical form.
    pub msp_tenant_id: Option<String>,
}

/// Whether to ask for the MSP's own tenant id, sent as `PublisherIdentifier`: only while
/// none is known (given in the configuration, stored, or a signed-in partner account's
/// tenant).
#[derive(Debug, Serialize)]
pub struct MspTenant {
    /// The MSP's tenant id, when one is stored.
    pub msp_tenant_id: Option<String>,
    /// Whether to ask for it.
    pub ask: bool,
}

impl Session {
    /// The watched tenants.
    pub async fn tenants(&self) -> Result<Vec<TenantRow>, Error> {
        Ok(self.store().await.tenants()?)
    }

    /// Each tenant's state, last successful scan and how far its data is complete.
    pub async fn statuses(&self) -> Result<Vec<TenantStatus>, Error> {
        Ok(self.store().await.statuses()?)
    }

    /// Whether to ask for the MSP's own tenant id.
    pub fn msp_tenant(&self) -> Result<MspTenant, Error> {
        let stored = tenants::msp_tenant(&self.home)?;
        let known = stored.is_some()
            || self.config.publisher_id.is_some()
            || crate::partner::account(&self.home)?.is_some();
        Ok(MspTenant {
            msp_tenant_id: stored,
            ask: !known,
        })
    }

    /// Adds a tenant to the technician's own store, its secret to the keychain, and
    /// watches their tenants from then on (a sandbox being watched ends). `choose` says
    /// how the technician gives a tenant its cloud, for when its own could not be read.
    pub async fn add_tenant(&self, input: TenantInput, choose: &str) -> Result<Added, Error> {
        let msp = input
            .msp_tenant_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(|id| tenants::parse_guid(id, "your MSP's own tenant id"))
            .transpose()?;
        let endpoints = self.config.endpoints();
        let choice = CloudChoice::decide(&endpoints, &input.tenant_id, input.cloud).await;
        let new = NewTenant {
            tenant_id: input.tenant_id,
            name: input.name,
            client_id: input.client_id,
            credential: input.credential,
            cloud: choice.cloud,
        };
        let home = self.home.clone();
        // The keychain is reached over D-Bus or the platform's API: blocking calls.
        let tenant =
            tokio::task::spawn_blocking(move || tenants::add_tenant(&home, &Keychain, new))
                .await
                .map_err(|e| Error::Failed(format!("adding the tenant stopped: {e}")))??;
        if let Some(id) = &msp {
            tenants::set_msp_tenant(&self.home, id)?;
        }
        self.leave_sandbox().await?;
        Ok(Added {
            tenant,
            place: choice.words(&endpoints, choose),
            msp_tenant_id: msp,
        })
    }

    /// Removes a tenant's configuration, scan state and keychain entries; its alerts
    /// stay. A partner customer is excluded instead.
    pub async fn remove_tenant(&self, tenant_id: &str) -> Result<(), Error> {
        let (store, secrets) = {
            let mode = self.mode.read().await;
            (mode.store.clone(), mode.secrets.clone())
        };
        let id = tenant_id.to_string();
        tokio::task::spawn_blocking(move || tenants::remove_tenant(&store, secrets.as_ref(), &id))
            .await
            .map_err(|e| Error::Failed(format!("removing the tenant stopped: {e}")))??;
        Ok(())
    }

    /// Each step of reaching the tenant, with what failed and what to do.
    pub async fn test_connection(&self, tenant_id: &str) -> Result<Vec<ConnectionStep>, Error> {
        let (engine, store) = self.current().await;
        let tenant = store.tenant(tenant_id)?;
        Ok(engine.test_connection(&tenant).await)
    }
}
