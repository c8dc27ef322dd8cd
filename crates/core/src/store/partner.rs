//! The partner's customers as last listed, and which of them are watched.

use super::db::{self, params};
use serde::Serialize;

use super::{Result, Store, TenantState, ts};
use crate::auth::AuthMethod;

/// One customer as the Tenants page and `rulewatch partner customers` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerRow {
    /// The customer's tenant id.
    pub tenant_id: String,
    /// The customer's name, as last listed.
    pub name: String,
    /// The technician excluded it from "watch all".
    pub excluded: bool,
    /// The GDAP roles granted in it; `None` when they could not be read.
    pub gdap_roles: Option<Vec<String>>,
    /// Rulewatch scans it (through the partner account, or its own app registration).
    pub watched: bool,
    /// The last scan's state; `None` before the first.
    pub access: Option<TenantState>,
    /// The last scan's problem code and what to do about it.
    pub problem: Option<String>,
    /// The last scan's message: what went wrong, in words.
    pub message: Option<String>,
    /// When the customer was first listed (RFC 3339, UTC).
    pub first_seen_at: String,
    /// When the customer was last listed (RFC 3339, UTC).
    pub last_seen_at: String,
}

impl Store {
    /// Records the customers listed now (tenant id, name, GDAP roles when known).
    pub fn record_customers(&self, listed: &[(String, String, Option<Vec<String>>)]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(crate::clock::now());
            for (tenant_id, name, roles) in listed {
                let roles = roles.as_ref().map(|r| serde_json::to_string(r).unwrap_or_default());
                tx.execute(
                    "INSERT INTO partner_customers (tenant_id, name, gdap_roles, first_seen_at, last_seen_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)
                     ON CONFLICT (tenant_id) DO UPDATE SET
                         name = excluded.name, gdap_roles = excluded.gdap_roles, last_seen_at = excluded.last_seen_at",
                    params![tenant_id, name, roles, now],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Every customer listed, with whether it is watched and how its last scan went.
    pub fn customers(&self) -> Result<Vec<CustomerRow>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT p.tenant_id, p.name, p.excluded, t.tenant_id IS NOT NULL, p.first_seen_at, p.last_seen_at, p.gdap_roles,
                        s.state, s.problem, s.message
                 FROM partner_customers p
                 LEFT JOIN tenants t ON t.tenant_id = p.tenant_id
                 LEFT JOIN tenant_status s ON s.tenant_id = p.tenant_id
                 ORDER BY p.name, p.tenant_id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let roles: Option<String> = r.get(6)?;
                    let state: Option<String> = r.get(7)?;
                    Ok(CustomerRow {
                        access: state.as_deref().map(TenantState::parse),
                        problem: r.get(8)?,
                        message: r.get(9)?,
                        gdap_roles: roles.and_then(|r| serde_json::from_str(&r).ok()),
                        tenant_id: r.get(0)?,
                        name: r.get(1)?,
                        excluded: r.get(2)?,
                        watched: r.get(3)?,
                        first_seen_at: r.get(4)?,
                        last_seen_at: r.get(5)?,
                    })
                })?
                .collect::<db::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Excludes a customer from "watch all" (or includes it again).
    pub fn set_customer_excluded(&self, tenant_id: &str, excluded: bool) -> Result<bool> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE partner_customers SET excluded = ?2 WHERE tenant_id = ?1",
                params![tenant_id, excluded],
            )? == 1)
        })
    }

    /// The tenants reached through the partner account.
    pub fn partner_tenants(&self) -> Result<Vec<String>> {
        Ok(self
            .tenants()?
            .into_iter()
            .filter(|t| t.auth_method == AuthMethod::Partner)
            .map(|t| t.tenant_id)
            .collect())
    }
}
