//! The partner (GDAP) tenant of a scenario, its technicians and customers.

use super::*;

/// The MSP's tenant, its multi-tenant app and technicians, and its GDAP customers (C1, C2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partner {
    /// The partner tenant's GUID, where technicians sign in.
    pub tenant_id: String,
    /// The partner's multi-tenant app, a public client signing technicians in.
    pub client_id: String,
    /// How Entra names the app in its error messages.
    #[serde(default = "default_app_name")]
    pub app_name: String,
    /// Technicians; the first signs in unless `login_hint` names another.
    pub users: Vec<PartnerUser>,
    /// Tenants of this scenario with an active GDAP relationship at start.
    #[serde(default)]
    pub customers: Vec<String>,
    /// The technicians' Entra roles per customer tenant; see `default_gdap_roles`.
    #[serde(default)]
    pub gdap_roles: BTreeMap<String, Vec<String>>,
    /// Inactivity lifetime of each refresh token.
    #[serde(default = "default_refresh_token_lifetime_s")]
    pub refresh_token_lifetime_s: u64,
    /// The polling interval the device code flow asks for.
    #[serde(default = "default_device_interval_s")]
    pub device_interval_s: u64,
    /// Seconds a device code can be redeemed (default 900, as Entra's).
    #[serde(default = "default_device_code_lifetime_s")]
    pub device_code_lifetime_s: u64,
    /// The delegated permissions consented for the app: a delegated token's `scp`
    /// (../shared/reference/m365-api.md §G 5). See `default_delegated_scopes`.
    #[serde(default = "default_delegated_scopes")]
    pub delegated_scopes: Vec<String>,
    /// The app's registered redirect URIs (mobile and desktop platform). Rulewatch's README
    /// registers `http://localhost`; ../shared/reference/m365-api.md §G 10.
    #[serde(default = "default_redirect_uris")]
    pub redirect_uris: Vec<String>,
}

/// A partner technician.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerUser {
    /// The technician's user principal name, unique regardless of case.
    pub upn: String,
    /// The name in the technician's ID token; the UPN when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl Partner {
    pub(super) fn validate(&self, tenant_ids: &HashSet<String>) -> Result<(), ScenarioError> {
        let at = |field: &str| format!("partner.{field}");
        for (field, value) in [
            ("tenant_id", &self.tenant_id),
            ("client_id", &self.client_id),
        ] {
            if Uuid::parse_str(value).is_err() {
                return Err(invalid(at(field), format!("`{value}` is not a GUID")));
            }
        }
        if self.users.is_empty() {
            return Err(invalid(at("users"), "needs at least one technician"));
        }
        let mut upns = HashSet::new();
        for (i, user) in self.users.iter().enumerate() {
            if !user.upn.contains('@') {
                return Err(invalid(
                    at(&format!("users[{i}].upn")),
                    "is not a user principal name",
                ));
            }
            if !upns.insert(user.upn.to_ascii_lowercase()) {
                return Err(invalid(
                    at(&format!("users[{i}].upn")),
                    format!("`{}` is listed twice", user.upn),
                ));
            }
        }
        let mut customers = HashSet::new();
        for (i, customer) in self.customers.iter().enumerate() {
            let id = customer.to_ascii_lowercase();
            if !tenant_ids.contains(&id) {
                return Err(invalid(
                    at(&format!("customers[{i}]")),
                    format!("no tenant `{customer}`"),
                ));
            }
            if id.eq_ignore_ascii_case(&self.tenant_id) {
                return Err(invalid(
                    at(&format!("customers[{i}]")),
                    "the partner cannot be its own customer",
                ));
            }
            if !customers.insert(id) {
                return Err(invalid(
                    at(&format!("customers[{i}]")),
                    format!("`{customer}` is listed twice"),
                ));
            }
        }
        if let Some(tenant) = self
            .gdap_roles
            .keys()
            .find(|t| !tenant_ids.contains(&t.to_ascii_lowercase()))
        {
            return Err(invalid(
                at(&format!("gdap_roles.{tenant}")),
                format!("no tenant `{tenant}`"),
            ));
        }
        for (field, value) in [
            ("refresh_token_lifetime_s", self.refresh_token_lifetime_s),
            ("device_code_lifetime_s", self.device_code_lifetime_s),
        ] {
            if value == 0 {
                return Err(invalid(at(field), "must be at least 1"));
            }
        }
        for (i, uri) in self.redirect_uris.iter().enumerate() {
            if url::Url::parse(uri).is_err() {
                return Err(invalid(
                    at(&format!("redirect_uris[{i}]")),
                    format!("`{uri}` is not an absolute URI"),
                ));
            }
        }
        Ok(())
    }
}

fn default_app_name() -> String {
    "Rulewatch".into()
}

fn default_redirect_uris() -> Vec<String> {
    vec!["http://localhost".into()]
}

fn default_refresh_token_lifetime_s() -> u64 {
    90 * 24 * 3600
}

fn default_device_interval_s() -> u64 {
    1
}

/// Entra's device codes live 15 minutes.
fn default_device_code_lifetime_s() -> u64 {
    900
}

/// The delegated permissions the README asks the partner app for, with
/// `Directory.AccessAsUser.All`, which password resets and changes to privileged users
/// need in delegated mode (../shared/reference/m365-api.md §G 5; CIPP's SAM manifest carries it).
pub(crate) fn default_delegated_scopes() -> Vec<String> {
    [
        "ActivityFeed.Read",
        "DelegatedAdminRelationship.Read.All",
        "Domain.Read.All",
        "User.ReadWrite.All",
        "Directory.AccessAsUser.All",
        "Exchange.Manage",
    ]
    .map(String::from)
    .to_vec()
}

/// What a GDAP relationship grants a customer unless the scenario says otherwise.
pub(crate) fn default_gdap_roles() -> Vec<String> {
    [
        "Exchange Administrator",
        "User Administrator",
        "Security Reader",
    ]
    .map(String::from)
    .to_vec()
}
