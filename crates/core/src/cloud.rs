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
            _ => crate::http::short(base),
        },
        Err(_) => crate::http::short(base),
    }
}

/// `scheme://host[:port]` of a URL (its path and query may carry anything), or the
/// text cut short when it is not a URL.
pub fn origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => crate::http::short(url),
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
    fn national_clouds_use_their_own_hosts() {
        let dod = Endpoints::for_cloud("dod".parse().unwrap());
        assert_eq!(dod.management, "https://manage.protection.apps.mil");
        assert_eq!(dod.login, "https://login.microsoftonline.us");
        assert_eq!(dod.ipstack, "http://api.ipstack.com");
        assert!("mars".parse::<Cloud>().is_err());
    }
}
