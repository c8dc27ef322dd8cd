//! Where Microsoft's services live: the real hosts of each cloud, or one base URL
//! serving all of them (the sandbox).
#![warn(missing_docs)]

use std::fmt;
use std::str::FromStr;

/// The Microsoft cloud a tenant lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// The commercial cloud, worldwide.
    Global,
    /// US Government Community Cloud: commercial sign-in, Graph and Exchange, its own
    /// Management API host.
    Gcc,
    /// US Government GCC High, on the `.us` hosts.
    GccHigh,
    /// US Department of Defense, on the `.us` hosts and a `.mil` Management API host.
    Dod,
}

impl FromStr for Cloud {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "global" => Ok(Cloud::Global),
            "gcc" => Ok(Cloud::Gcc),
            "gcchigh" | "gcc-high" => Ok(Cloud::GccHigh),
            "dod" => Ok(Cloud::Dod),
            other => Err(format!(
                "unknown cloud '{other}': use one of global, gcc, gcchigh, dod"
            )),
        }
    }
}

impl Cloud {
    const ALL: [Cloud; 4] = [Cloud::Global, Cloud::Gcc, Cloud::GccHigh, Cloud::Dod];

    /// The name `--cloud` takes and the database keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcchigh",
            Cloud::Dod => "dod",
        }
    }

    /// Where a Global Administrator of `tenant_id` grants the app consent: on the cloud's
    /// own login host (../shared/reference/m365-api.md §G 13).
    pub fn admin_consent_url(self, tenant_id: &str, client_id: &str) -> String {
        format!(
            "{}/{tenant_id}/adminconsent?client_id={client_id}",
            Endpoints::for_cloud(self).login
        )
    }

    /// The cloud a tenant's OpenID metadata names. GCC tenants say
    /// `tenant_region_sub_scope: "GCC"` (../shared/reference/m365-api.md §G 3); GCC High says `DODCON` and
    /// DoD `DOD` under the `USGov` scope, as public clients that read it found live.
    pub fn from_openid(metadata: &serde_json::Value) -> Cloud {
        let field = |name: &str| {
            metadata[name]
                .as_str()
                .unwrap_or_default()
                .to_ascii_uppercase()
        };
        match (
            field("tenant_region_scope").as_str(),
            field("tenant_region_sub_scope").as_str(),
        ) {
            (_, "GCC") => Cloud::Gcc,
            (_, "DOD") => Cloud::Dod,
            ("USGOV", _) | (_, "DODCON") => Cloud::GccHigh,
            _ => Cloud::Global,
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cloud::Global => "commercial (global)",
            Cloud::Gcc => "GCC",
            Cloud::GccHigh => "GCC High",
            Cloud::Dod => "DoD",
        })
    }
}

impl serde::Serialize for Cloud {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Base URLs (no trailing slash) and token resources for every service Rulewatch calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Entra's sign-in host: token, authorisation and device-code endpoints, and tenants'
    /// OpenID metadata.
    pub login: String,
    /// The Office 365 Management Activity API.
    pub management: String,
    /// Microsoft Graph.
    pub graph: String,
    /// Exchange Online's admin REST API (`InvokeCommand`).
    pub exchange: String,
    /// Resource the Management Activity API token is requested for (`{resource}/.default`).
    pub management_resource: String,
    /// Resource Graph tokens are requested for.
    pub graph_resource: String,
    /// Resource Exchange Online tokens are requested for.
    pub exchange_resource: String,
    /// ipstack's geolocation API; not Microsoft's, but the sandbox stands in for it too.
    pub ipstack: String,
}

impl Endpoints {
    /// Microsoft's hosts for a cloud (../shared/reference/m365-api.md A2; Graph and Exchange national hosts).
    pub fn for_cloud(cloud: Cloud) -> Self {
        let (login, management, graph, exchange) = match cloud {
            Cloud::Global => (
                "https://login.microsoftonline.com",
                "https://manage.office.com",
                "https://graph.microsoft.com",
                "https://outlook.office365.com",
            ),
            Cloud::Gcc => (
                "https://login.microsoftonline.com",
                "https://manage-gcc.office.com",
                "https://graph.microsoft.com",
                "https://outlook.office365.com",
            ),
            Cloud::GccHigh => (
                "https://login.microsoftonline.us",
                "https://manage.office365.us",
                "https://graph.microsoft.us",
                "https://outlook.office365.us",
            ),
            Cloud::Dod => (
                "https://login.microsoftonline.us",
                "https://manage.protection.apps.mil",
                "https://dod-graph.microsoft.us",
                "https://outlook-dod.office365.us",
            ),
        };
        Endpoints {
            login: login.into(),
            management: management.into(),
            graph: graph.into(),
            exchange: exchange.into(),
            management_resource: management.into(),
            graph_resource: graph.into(),
            exchange_resource: exchange.into(),
            // ipstack's free plan answers over plain HTTP only.
            ipstack: "http://api.ipstack.com".into(),
        }
    }

    /// One base URL serving every endpoint (the sandbox, ipstack under `/ipstack`); tokens
    /// are still requested for the global cloud's resources, as the sandbox expects. The
    /// error, worded for `--endpoints`, refuses a text that is not a URL, a scheme other
    /// than http(s), and plain http to another machine.
    pub fn single(base: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(base).map_err(|e| {
            format!("--endpoints '{base}' is not a URL ({e}): give e.g. http://127.0.0.1:8080")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "--endpoints '{base}' must start with http:// or https://"
            ));
        }
        // Tokens and secrets would cross the network readable by anyone on the way.
        if parsed.scheme() == "http" && !is_loopback(&parsed) {
            return Err(format!(
                "--endpoints '{base}' is plain http:// to another machine, which would send tokens and secrets \
                 unencrypted: use https://, or http:// only on this machine (127.0.0.1, [::1] or localhost)"
            ));
        }
        let base = base.trim_end_matches('/').to_string();
        let global = Endpoints::for_cloud(Cloud::Global);
        Ok(Endpoints {
            login: base.clone(),
            management: base.clone(),
            graph: base.clone(),
            ipstack: format!("{base}/ipstack"),
            exchange: base,
            ..global
        })
    }
}

impl Endpoints {
    /// The Microsoft services' origins (`scheme://host[:port]`), for messages.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = [&self.login, &self.management, &self.graph, &self.exchange]
            .iter()
            .map(|u| origin(u))
            .collect();
        hosts.dedup();
        hosts
    }

    /// Whether `url` is on one of the Microsoft services' origins: links in Microsoft's
    /// answers (`nextLink`, `NextPageUri`, `contentUri`) must be, or the tenant's token
    /// would go to whoever the answer named. With an override, its host is the cloud.
    pub fn owns(&self, url: &str) -> bool {
        let asked = origin(url);
        url::Url::parse(url).is_ok() && self.hosts().contains(&asked)
    }
}

/// Whether the URL's host is this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The `--endpoints` override's host, e.g. `sandbox.example:8443`, for warnings.
pub fn override_host(base: &str) -> String {
    match url::Url::parse(base) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => crate::shown::short(base),
        },
        Err(_) => crate::shown::short(base),
    }
}

/// `scheme://host[:port]` of a URL (its path and query may carry anything), or the
/// text cut short when it is not a URL.
pub fn origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => crate::shown::short(url),
    }
}

impl Endpoints {
    /// The cloud these are Microsoft's hosts for; `None` for one base URL (the sandbox).
    pub fn cloud(&self) -> Option<Cloud> {
        Cloud::ALL
            .into_iter()
            .find(|c| *self == Endpoints::for_cloud(*c))
    }

    /// A tenant's cloud: its own when recorded, else the installation's.
    pub fn cloud_for(&self, tenant: Option<Cloud>) -> Cloud {
        tenant.or(self.cloud()).unwrap_or(Cloud::Global)
    }

    /// The endpoints of a tenant in `cloud` (`None`: the installation's). One base URL
    /// serves every cloud, one other than the global one under its own path prefix
    /// (`/gcc`) and with that cloud's token resources, as the sandbox expects.
    pub fn in_cloud(&self, cloud: Option<Cloud>) -> Endpoints {
        match (cloud, self.cloud()) {
            (None, _) | (Some(Cloud::Global), None) => self.clone(),
            (Some(c), Some(_)) => Endpoints::for_cloud(c),
            (Some(c), None) => {
                let real = Endpoints::for_cloud(c);
                let prefixed = format!("{}/{}", self.management, c.as_str());
                // GCC signs in, and reaches Graph and Exchange, at the commercial hosts (§G 3).
                let own = |shared: &String| {
                    if c == Cloud::Gcc {
                        shared.clone()
                    } else {
                        prefixed.clone()
                    }
                };
                Endpoints {
                    login: own(&self.login),
                    graph: own(&self.graph),
                    exchange: own(&self.exchange),
                    management: prefixed.clone(),
                    ipstack: self.ipstack.clone(),
                    ..real
                }
            }
        }
    }
}

impl fmt::Display for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "login {}, audit {}, graph {}",
            self.login, self.management, self.graph
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_base_serves_everything_with_global_resources() {
        let e = Endpoints::single("http://127.0.0.1:9/").unwrap();
        assert_eq!(e.login, "http://127.0.0.1:9");
        assert_eq!(e.management, "http://127.0.0.1:9");
        assert_eq!(e.management_resource, "https://manage.office.com");
        assert_eq!(e.ipstack, "http://127.0.0.1:9/ipstack");
        assert!(Endpoints::single("ftp://x").is_err());
        assert!(Endpoints::single("not a url").is_err());
    }

    #[test]
    fn plain_http_is_only_for_this_machine() {
        for local in [
            "http://127.0.0.1:9",
            "http://127.8.0.1",
            "http://[::1]:80/",
            "http://localhost:8080",
            "https://sandbox.example",
        ] {
            assert!(Endpoints::single(local).is_ok(), "{local}");
        }
        for remote in [
            "http://sandbox.example:8080",
            "http://10.0.0.5",
            "http://[2001:db8::1]",
            "http://localhost.evil.example",
        ] {
            let e = Endpoints::single(remote).unwrap_err();
            assert!(
                e.contains("unencrypted") && e.contains("https://"),
                "{remote}: {e}"
            );
        }
        assert_eq!(
            override_host("https://sandbox.example:8443/x"),
            "sandbox.example:8443"
        );
        assert_eq!(override_host("http://127.0.0.1:9"), "127.0.0.1:9");
    }

    #[test]
    fn links_must_stay_on_the_clouds_hosts() {
        let global = Endpoints::for_cloud(Cloud::Global);
        assert!(global.owns("https://manage.office.com/api/v1.0/t/activity/feed/audit/1"));
        assert!(global.owns("https://graph.microsoft.com/v1.0/users?$skiptoken=x"));
        assert!(!global.owns("https://manage.office.com.evil.example/api"));
        assert!(
            !global.owns("http://manage.office.com/api"),
            "another scheme is another origin"
        );
        assert!(!global.owns("https://graph.microsoft.us/v1.0/users"));
        assert!(!global.owns("not a url"));
        let sandbox = Endpoints::single("http://127.0.0.1:9").unwrap();
        assert!(sandbox.owns("http://127.0.0.1:9/api/v1.0/x"));
        assert!(
            !sandbox.owns("http://127.0.0.1:10/api/v1.0/x"),
            "another port is another host"
        );
    }

    #[test]
    fn a_tenant_in_another_cloud_gets_that_clouds_endpoints() {
        let global = Endpoints::for_cloud(Cloud::Global);
        assert_eq!(global.cloud(), Some(Cloud::Global));
        assert_eq!(global.in_cloud(None), global);
        let gcc = global.in_cloud(Some(Cloud::Gcc));
        assert_eq!(gcc.management, "https://manage-gcc.office.com");
        assert_eq!(gcc.login, "https://login.microsoftonline.com");
        assert!(gcc.owns("https://manage-gcc.office.com/api/v1.0/t/activity/feed/audit/1"));
        assert!(!gcc.owns("https://manage.office.com/api/v1.0/t/activity/feed/audit/1"));
        assert_eq!(
            Endpoints::for_cloud(Cloud::Dod).in_cloud(Some(Cloud::Global)),
            global
        );
        assert_eq!(Endpoints::for_cloud(Cloud::Dod).cloud_for(None), Cloud::Dod);

        let sandbox = Endpoints::single("http://127.0.0.1:9").unwrap();
        assert_eq!(
            (sandbox.cloud(), sandbox.cloud_for(None)),
            (None, Cloud::Global)
        );
        assert_eq!(sandbox.in_cloud(Some(Cloud::Global)), sandbox);
        let gcc = sandbox.in_cloud(Some(Cloud::Gcc));
        assert_eq!(gcc.management, "http://127.0.0.1:9/gcc");
        assert_eq!(gcc.management_resource, "https://manage-gcc.office.com");
        assert_eq!(
            (gcc.login.as_str(), gcc.graph.as_str()),
            ("http://127.0.0.1:9", "http://127.0.0.1:9")
        );
        assert_eq!(gcc.graph_resource, "https://graph.microsoft.com");
        let high = sandbox.in_cloud(Some(Cloud::GccHigh));
        assert_eq!(high.login, "http://127.0.0.1:9/gcchigh");
        assert_eq!(high.graph_resource, "https://graph.microsoft.us");
    }

    #[test]
    fn the_openid_metadata_names_the_cloud() {
        let cloud = |v: serde_json::Value| Cloud::from_openid(&v);
        use serde_json::json;
        assert_eq!(
            cloud(json!({"tenant_region_scope": "NA", "tenant_region_sub_scope": "GCC"})),
            Cloud::Gcc
        );
        assert_eq!(cloud(json!({"tenant_region_scope": "EU"})), Cloud::Global);
        assert_eq!(
            cloud(json!({"tenant_region_scope": "USGov", "tenant_region_sub_scope": "DODCON"})),
            Cloud::GccHigh
        );
        assert_eq!(
            cloud(json!({"tenant_region_scope": "USGov", "tenant_region_sub_scope": "DOD"})),
            Cloud::Dod
        );
        assert_eq!(cloud(json!({"tenant_region_scope": 7})), Cloud::Global);
        assert_eq!(
            Cloud::Gcc.admin_consent_url("t", "c"),
            "https://login.microsoftonline.com/t/adminconsent?client_id=c"
        );
        assert_eq!(
            Cloud::GccHigh.admin_consent_url("t", "c"),
            "https://login.microsoftonline.us/t/adminconsent?client_id=c"
        );
        for c in Cloud::ALL {
            assert_eq!(c.as_str().parse::<Cloud>(), Ok(c));
        }
    }

    #[test]
    fn national_clouds_use_their_own_hosts() {
        let dod = Endpoints::for_cloud("dod".parse().unwrap());
        assert_eq!(dod.management, "https://manage.protection.apps.mil");
        assert_eq!(dod.login, "https://login.microsoftonline.us");
        assert_eq!(dod.ipstack, "http://api.ipstack.com");
        assert!("mars".parse::<Cloud>().is_err());
    }
}
