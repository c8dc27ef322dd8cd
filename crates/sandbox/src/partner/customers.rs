//! Graph's GDAP collections, for a technician's partner-tenant token.

use super::redeem::ROLE_TEMPLATES;
use super::*;

/// The partner's current customers (scenario tenant indexes), for a technician's
/// partner-tenant Graph token; otherwise the refusal to answer.
fn partner_customers(app: &App, headers: &HeaderMap) -> Result<Vec<usize>, Refused> {
    let caller = graph_caller(app, headers)?;
    let Some(partner) = app.partner.as_ref() else {
        return Err(Refused::Forbidden);
    };
    let allowed = match &caller {
        GraphCaller::PartnerHome => true,
        GraphCaller::Tenant(grant) => {
            grant.delegated.is_some() && partner.is_home(&app.tenants[grant.tenant].id)
        }
    };
    if !allowed {
        return Err(Refused::Forbidden);
    }
    let customers = partner.live().customers.clone();
    Ok(customers
        .iter()
        .filter_map(|id| app.tenant_by_id(id))
        .collect())
}

/// A `tenantRelationships` collection with one item per current customer.
fn per_customer(
    app: &App,
    headers: &HeaderMap,
    collection: &str,
    item: impl Fn(&TenantEntry) -> Value,
) -> Response {
    let customers = match partner_customers(app, headers) {
        Ok(c) => c,
        Err(refused) => return refused.into_response(),
    };
    let value: Vec<Value> = customers
        .into_iter()
        .map(|t| item(&app.tenants[t]))
        .collect();
    Json(json!({
        "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#tenantRelationships/{collection}"),
        "value": value,
    }))
    .into_response()
}

/// `GET /v1.0/tenantRelationships/delegatedAdminCustomers`, for a technician's partner-tenant token.
pub(crate) async fn delegated_admin_customers(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Response {
    per_customer(&app, &headers, "delegatedAdminCustomers", |entry| {
        json!({
            "@odata.type": "#microsoft.graph.delegatedAdminCustomer",
            "id": entry.id,
            "tenantId": entry.id,
            "displayName": entry.config.name,
        })
    })
}

/// `GET /v1.0/tenantRelationships/delegatedAdminRelationships`: one active relationship
/// per customer, granting its GDAP roles (by role template id).
pub(crate) async fn delegated_admin_relationships(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Response {
    let Some(partner) = app.partner.as_ref() else {
        return Refused::Forbidden.into_response();
    };
    per_customer(&app, &headers, "delegatedAdminRelationships", |entry| {
        let roles: Vec<Value> = partner
            .live()
            .roles_in(&entry.id)
            .iter()
            .filter_map(|name| ROLE_TEMPLATES.iter().find(|(n, _)| n == name))
            .map(|(_, id)| json!({"roleDefinitionId": id}))
            .collect();
        json!({
            "@odata.type": "#microsoft.graph.delegatedAdminRelationship",
            "id": format!("{}-{}", entry.id, partner.id),
            "displayName": format!("Rulewatch GDAP {}", entry.config.name),
            "status": "active",
            "customer": {"tenantId": entry.id, "displayName": entry.config.name},
            "accessDetails": {"unifiedRoles": roles},
        })
    })
}
