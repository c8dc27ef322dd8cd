//! The watched tenants: their configuration (never a secret) and accepted domains.

use super::*;

impl Store {
    /// Adds a tenant, not scanned yet; [`StoreError::TenantExists`] when its id is already
    /// configured.
    pub fn add_tenant(&self, t: &TenantRow) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let exists: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = ?1)", [&t.tenant_id], |r| {
                    r.get(0)
                })?;
            if exists {
                return Err(StoreError::TenantExists(t.tenant_id.clone()));
            }
            tx.execute(
                "INSERT INTO tenants (tenant_id, name, client_id, auth_method, cert_thumbprint, added_at, cloud)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    t.tenant_id,
                    t.name,
                    t.client_id,
                    t.auth_method_str(),
                    t.cert_thumbprint(),
                    ts(crate::clock::now()),
                    t.cloud.map(Cloud::as_str)
                ],
            )?;
            tx.execute(
                "INSERT INTO tenant_status (tenant_id, state) VALUES (?1, ?2)",
                params![t.tenant_id, TenantState::NotScanned.as_str()],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Every configured tenant, by name.
    pub fn tenants(&self) -> Result<Vec<TenantRow>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT tenant_id, name, client_id, auth_method, cert_thumbprint, cloud FROM tenants
                 ORDER BY name, tenant_id",
            )?;
            let rows = stmt
                .query_map([], TenantRow::from_row)?
                .collect::<db::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// The tenant with this id; [`StoreError::NoTenant`] when there is none.
    pub fn tenant(&self, tenant_id: &str) -> Result<TenantRow> {
        self.with(|c| {
            c.query_row(
                "SELECT tenant_id, name, client_id, auth_method, cert_thumbprint, cloud FROM tenants
                 WHERE tenant_id = ?1",
                [tenant_id],
                TenantRow::from_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NoTenant(tenant_id.to_string()))
        })
    }

    /// Removes the tenant and its scan state; its alerts stay as history.
    pub fn remove_tenant(&self, tenant_id: &str) -> Result<()> {
        self.with(|c| {
            let n = c.execute("DELETE FROM tenants WHERE tenant_id = ?1", [tenant_id])?;
            if n == 0 {
                Err(StoreError::NoTenant(tenant_id.to_string()))
            } else {
                Ok(())
            }
        })
    }
}
