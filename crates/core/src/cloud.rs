//! Where Microsoft's services live: the real hosts of each cloud, or one base URL
//! serving all of them (the sandbox).

use std::fmt;
use std::str::FromStr;

/// The Microsoft cloud a tenant lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Global,
    Gcc,
    GccHigh,
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

/// Base URLs (no trailing slash) and token resources for every service Rulewatch calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub login: String,
    pub management: String,
    pub graph: String,
    pub exchange: String,
    /// Resource the Management Activity API token is requested for (`{resource}/.default`).
    pub management_resource: String,
    pub graph_resource: String,
    pub exchange_resource: String,
    /// ipstack's geolocation API; not Microsoft's, but the sandbox stands in for it too.
    pub ipstack: String,
}

impl Endpoints {
    /// Microsoft's hosts for a cloud (m365-api.md A2; Graph and Exchange national hosts).
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
    /// are still requested for the global cloud's resources, as the sandbox expects.
    pub fn single(base: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(base).map_err(|e| {
            format!("--endpoints '{base}' is not a URL ({e}): give e.g. http://127.0.0.1:8080")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "--endpoints '{base}' must start with http:// or https://"
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
    fn national_clouds_use_their_own_hosts() {
        let dod = Endpoints::for_cloud("dod".parse().unwrap());
        assert_eq!(dod.management, "https://manage.protection.apps.mil");
        assert_eq!(dod.login, "https://login.microsoftonline.us");
        assert_eq!(dod.ipstack, "http://api.ipstack.com");
        assert!("mars".parse::<Cloud>().is_err());
    }
}
