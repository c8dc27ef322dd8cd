//! The partner's customers (Graph `delegatedAdminCustomers`) and their GDAP roles:
//! listed, recorded, and watched or excluded.
#![warn(missing_docs)]

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{PartnerAccount, account};
use crate::http::RetryStats;
use crate::problem::{Problem, ProblemKind};
use crate::store::{Key, Store, StoreError};

/// One customer of the partner (Graph `delegatedAdminCustomers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// The customer's tenant id, lower-cased.
    pub tenant_id: String,
    /// Its display name; the tenant id when Graph gives none.
    pub name: String,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<serde_json::Value>,
    #[serde(rename = "@odata.nextLink")]
    next: Option<String>,
}

/// Every item of a Graph collection under `tenantRelationships/`, read with the partner
/// account's own token, following `@odata.nextLink`.
async fn partner_collection(
    api: &crate::api::Api,
    account: &PartnerAccount,
    collection: &str,
    what: &str,
    stats: &RetryStats,
) -> Result<Vec<serde_json::Value>, Problem> {
    let app = crate::auth::AppIdentity {
        tenant_id: account.tenant_id.clone(),
        client_id: account.client_id.clone(),
        method: crate::auth::AuthMethod::Partner,
        cloud: None,
    };
    let mut url = format!(
        "{}/v1.0/tenantRelationships/{collection}",
        api.endpoints.graph
    );
    let mut found = Vec::new();
    loop {
        let reply = api
            .send(&app, crate::auth::Resource::Graph, reqwest::Method::GET, &url, what, stats, crate::api::Request::default())
            .await
            .map_err(|e| match e {
                crate::api::CallError::Problem(p) => p,
                crate::api::CallError::Api(e) => Problem::new(
                    ProblemKind::PermissionMissing,
                    format!(
                        "{what}: Microsoft answered HTTP {} ({} {}). The partner app needs the delegated Graph permission \
                         DelegatedAdminRelationship.Read.All, and the account a role that may read GDAP relationships",
                        e.status.as_u16(),
                        e.code,
                        e.message
                    ),
                ),
            })?;
        let page: Page = serde_json::from_slice(&reply.body).map_err(|e| {
            Problem::new(
                ProblemKind::BadResponse,
                format!("{what}: the answer cannot be read ({e})"),
            )
        })?;
        found.extend(page.value);
        match page.next {
            Some(next) => url = next,
            None => return Ok(found),
        }
    }
}

/// Every customer the partner account reaches through GDAP. A refusal is
/// [`ProblemKind::PermissionMissing`], naming the permission and role the account needs.
pub async fn customers(
    api: &crate::api::Api,
    account: &PartnerAccount,
    stats: &RetryStats,
) -> Result<Vec<Customer>, Problem> {
    let items = partner_collection(
        api,
        account,
        "delegatedAdminCustomers",
        "listing the partner's customers",
        stats,
    )
    .await?;
    Ok(items
        .iter()
        .filter_map(|c| {
            let tenant_id = c["tenantId"].as_str()?.to_ascii_lowercase();
            let name = c["displayName"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map_or_else(|| tenant_id.clone(), str::to_string);
            Some(Customer { tenant_id, name })
        })
        .collect())
}

/// Entra's role template ids, for naming the roles a GDAP relationship grants.
const ROLE_NAMES: [(&str, &str); 8] = [
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
    ),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
    ),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"),
    ("5d6b6bb7-de71-4623-b4af-96380a352509", "Security Reader"),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
    ),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader"),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
    ),
    (
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Privileged Authentication Administrator",
    ),
];

/// The roles each customer's active GDAP relationships grant, by customer tenant id.
pub async fn gdap_roles(
    api: &crate::api::Api,
    account: &PartnerAccount,
    stats: &RetryStats,
) -> Result<std::collections::HashMap<String, Vec<String>>, Problem> {
    let items = partner_collection(
        api,
        account,
        "delegatedAdminRelationships",
        "reading the GDAP relationships",
        stats,
    )
    .await?;
    let mut roles: std::collections::HashMap<String, Vec<String>> =
        std::collections::HashMap::new();
    for r in items.iter().filter(|r| r["status"] == "active") {
        let Some(tenant) = r["customer"]["tenantId"].as_str() else {
            continue;
        };
        let granted = roles.entry(tenant.to_ascii_lowercase()).or_default();
        for id in r["accessDetails"]["unifiedRoles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u["roleDefinitionId"].as_str())
        {
            let name = ROLE_NAMES
                .iter()
                .find(|(t, _)| t.eq_ignore_ascii_case(id))
                .map_or(id, |(_, n)| n)
                .to_string();
            if !granted.contains(&name) {
                granted.push(name);
            }
        }
    }
    Ok(roles)
}

/// Whether every customer is watched unless excluded (on unless turned off).
pub const WATCH_ALL_SETTING: Key<bool> = Key::new("partner.watch_all");
/// When the customers were last listed.
pub const DISCOVERED_AT_SETTING: Key<DateTime<Utc>> = Key::new("partner.discovered_at");

/// Whether "watch all" is on: every listed customer not excluded is watched. On unless
/// turned off.
pub fn watch_all(store: &Store) -> Result<bool, StoreError> {
    Ok(store.setting(&WATCH_ALL_SETTING)?.unwrap_or(true))
}

/// What one listing of the customers changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Discovery {
    /// How many customers were listed.
    pub customers: usize,
    /// Customers Rulewatch started watching: coverage grew.
    pub now_watched: Vec<Customer>,
}

fn store_problem(e: StoreError) -> Problem {
    Problem::new(
        ProblemKind::LocalDatabase,
        format!("the partner's customers could not be saved: {e}"),
    )
}

/// Lists the customers, records them, and with "watch all" on starts watching each one
/// not excluded and not watched yet.
pub async fn discover(
    api: &crate::api::Api,
    store: &Store,
    account: &PartnerAccount,
    stats: &RetryStats,
) -> Result<Discovery, Problem> {
    let listed = customers(api, account, stats).await?;
    // Roles are shown, not needed: a failure to read them leaves them unknown.
    let roles = gdap_roles(api, account, stats)
        .await
        .map_err(|p| tracing::warn!("reading the GDAP roles failed: {p}"))
        .ok();
    let rows: Vec<(String, String, Option<Vec<String>>)> = listed
        .iter()
        .map(|c| {
            (
                c.tenant_id.clone(),
                c.name.clone(),
                roles
                    .as_ref()
                    .map(|r| r.get(&c.tenant_id).cloned().unwrap_or_default()),
            )
        })
        .collect();
    store.record_customers(&rows).map_err(store_problem)?;
    store
        .set_setting(&DISCOVERED_AT_SETTING, &crate::clock::now())
        .map_err(store_problem)?;
    let mut now_watched = Vec::new();
    if watch_all(store).map_err(store_problem)? {
        let rows = store.customers().map_err(store_problem)?;
        for c in &listed {
            if rows
                .iter()
                .any(|r| r.tenant_id == c.tenant_id && !r.excluded && !r.watched)
            {
                watch(store, account, c).map_err(store_problem)?;
                now_watched.push(c.clone());
            }
        }
    }
    Ok(Discovery {
        customers: listed.len(),
        now_watched,
    })
}

/// Starts watching one customer through the partner account.
pub fn watch(store: &Store, account: &PartnerAccount, c: &Customer) -> Result<(), StoreError> {
    store.set_customer_excluded(&c.tenant_id, false)?;
    store.add_tenant(&crate::store::TenantRow {
        tenant_id: c.tenant_id.clone(),
        name: c.name.clone(),
        client_id: account.client_id.clone(),
        auth_method: crate::auth::AuthMethod::Partner,
        cloud: None,
    })
}

/// Why a customer could not be watched or excluded.
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    /// No partner account is signed in.
    #[error("no partner account is signed in")]
    NotSignedIn,
    /// No listed customer has this tenant id (the id as given, made safe to show).
    #[error("{0} is not one of the partner's customers")]
    NotACustomer(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The listed customer with this tenant id, in any case.
fn listed_customer(
    store: &Store,
    tenant_id: &str,
) -> Result<crate::store::CustomerRow, CustomerError> {
    store
        .customers()?
        .into_iter()
        .find(|c| c.tenant_id.eq_ignore_ascii_case(tenant_id.trim()))
        .ok_or_else(|| CustomerError::NotACustomer(crate::shown::shown(tenant_id)))
}

/// Watches a listed customer (again); answers it, and whether it was watched already.
pub fn watch_customer(
    store: &Store,
    tenant_id: &str,
) -> Result<(crate::store::CustomerRow, bool), CustomerError> {
    let account = account(store)?.ok_or(CustomerError::NotSignedIn)?;
    let mut c = listed_customer(store, tenant_id)?;
    let already = c.watched;
    if !already {
        let customer = Customer {
            tenant_id: c.tenant_id.clone(),
            name: c.name.clone(),
        };
        watch(store, &account, &customer)?;
        c.watched = true;
    }
    Ok((c, already))
}

/// Stops watching a listed customer and keeps it out of "watch all"; its alerts stay.
pub fn exclude_customer(
    store: &Store,
    tenant_id: &str,
) -> Result<crate::store::CustomerRow, CustomerError> {
    let c = listed_customer(store, tenant_id)?;
    exclude(store, &c.tenant_id)?;
    Ok(c)
}

/// Stops watching one customer and keeps it out of "watch all"; its alerts stay. Answers
/// whether the customer was among those listed. `tenant_id` is matched exactly: give it
/// lower-cased, as the store keeps it.
pub fn exclude(store: &Store, tenant_id: &str) -> Result<bool, StoreError> {
    let known = store.set_customer_excluded(tenant_id, true)?;
    if store.partner_tenants()?.iter().any(|t| t == tenant_id) {
        store.remove_tenant(tenant_id)?;
    }
    Ok(known)
}

/// Whether the customers should be listed again: never listed, or `every` ago.
pub fn discovery_due(store: &Store, every: chrono::Duration) -> Result<bool, StoreError> {
    let last: Option<DateTime<Utc>> = store.setting(&DISCOVERED_AT_SETTING)?;
    Ok(last.is_none_or(|at| crate::clock::now() - at >= every))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partner::ACCOUNT_SETTING;
    use crate::partner::tests::account;

    #[test]
    fn a_customer_is_watched_and_excluded_by_its_id_in_any_case() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = "0b9d3f53-5b73-4c41-9ad2-6f6b51b9a001";
        store
            .record_customers(&[(id.into(), "Northwind".into(), None)])
            .unwrap();
        assert!(matches!(
            watch_customer(&store, id),
            Err(CustomerError::NotSignedIn)
        ));
        store
            .set_setting(&ACCOUNT_SETTING, &account(1, None, crate::clock::now()))
            .unwrap();
        let upper = id.to_ascii_uppercase();
        let (c, already) = watch_customer(&store, &format!(" {upper} ")).unwrap();
        assert_eq!((c.name.as_str(), already), ("Northwind", false));
        assert_eq!(store.partner_tenants().unwrap(), [id]);
        assert!(watch_customer(&store, id).unwrap().1, "already watched");
        exclude_customer(&store, &upper).unwrap();
        assert!(store.partner_tenants().unwrap().is_empty());
        assert!(store.customers().unwrap()[0].excluded);
        let unknown = exclude_customer(&store, "nobody").unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "nobody is not one of the partner's customers"
        );
    }
}
