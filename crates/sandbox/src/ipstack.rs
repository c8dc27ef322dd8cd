//! A stand-in for ipstack's geolocation API: `GET /ipstack/{ip}?access_key=KEY`,
//! answering from the scenario's `geo` section in ipstack's own shapes. ipstack reports
//! errors as HTTP 200 with `success: false`, so every answer here is HTTP 200.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::App;
use crate::scenario::{ScenarioError, invalid};

/// The scenario's `geo` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoScenario {
    /// The only `access_key` accepted.
    pub ipstack_key: String,
    /// Lookups answered before every further one gets code 104 (none: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<u64>,
    /// Known addresses; any other public address is answered with null fields.
    #[serde(default)]
    pub locations: BTreeMap<String, IpLocation>,
}

/// What ipstack knows of one address, in its field names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpLocation {
    /// The country's ISO 3166-1 alpha-2 code, e.g. `NG`.
    #[serde(default)]
    pub country_code: Option<String>,
    /// The country's English name.
    #[serde(default)]
    pub country_name: Option<String>,
    /// The region (state, province) the address is in.
    #[serde(default)]
    pub region_name: Option<String>,
    /// The city the address is in.
    #[serde(default)]
    pub city: Option<String>,
    /// The autonomous system number announcing the address (`connection.asn`).
    #[serde(default)]
    pub asn: Option<u32>,
    /// The internet service provider's name (`connection.isp`).
    #[serde(default)]
    pub isp: Option<String>,
    /// A known proxy or VPN exit (`security.is_proxy`); the answer then also says
    /// `proxy_type` `vpn` and threat level `high`.
    #[serde(default)]
    pub is_proxy: bool,
    /// In a hosting facility or data centre (`security.hosting_facility`).
    #[serde(default)]
    pub hosting: bool,
}

impl GeoScenario {
    pub(crate) fn validate(&self) -> Result<(), ScenarioError> {
        if self.ipstack_key.trim().is_empty() {
            return Err(invalid("geo.ipstack_key", "must not be empty"));
        }
        if let Some(bad) = self
            .locations
            .keys()
            .find(|ip| ip.parse::<IpAddr>().is_err())
        {
            return Err(invalid(
                format!("geo.locations.{bad}"),
                "is not an IP address",
            ));
        }
        Ok(())
    }
}

fn error(code: u16, kind: &str, info: &str) -> Json<Value> {
    Json(json!({"success": false, "error": {"code": code, "type": kind, "info": info}}))
}

/// `GET /ipstack/{ip}`.
pub(crate) async fn lookup(
    State(app): State<Arc<App>>,
    Path(ip): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Json<Value> {
    app.stats.ipstack_request();
    let key = query
        .get("access_key")
        .map(String::as_str)
        .unwrap_or_default();
    if key.is_empty() {
        return error(
            101,
            "missing_access_key",
            "You have not supplied an API Access Key. [Required format: access_key=YOUR_ACCESS_KEY]",
        );
    }
    let Some(geo) = app.geo.as_ref().filter(|g| g.ipstack_key == key) else {
        return error(
            101,
            "invalid_access_key",
            "You have not supplied a valid API Access Key. [Technical Support: support@apilayer.com]",
        );
    };
    let Ok(addr) = ip.parse::<IpAddr>() else {
        // Guessed: ipstack's documentation lists no code for a malformed address.
        return error(
            106,
            "invalid_ip_address",
            "The IP Address supplied is invalid.",
        );
    };
    let quota = geo.quota.unwrap_or(u64::MAX);
    let counted =
        app.stats
            .ipstack_answered
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < quota).then_some(n + 1)
            });
    if counted.is_err() {
        return error(
            104,
            "usage_limit_reached",
            "Your monthly usage limit has been reached. Please upgrade your Subscription Plan.",
        );
    }
    let kind = if addr.is_ipv4() { "ipv4" } else { "ipv6" };
    // Compared as addresses, so `2a09:bac5::1` matches however the scenario spells it.
    let known = geo
        .locations
        .iter()
        .find(|(k, _)| k.parse::<IpAddr>().ok() == Some(addr))
        .map(|(_, l)| l);
    let Some(l) = known else {
        // An address ipstack knows nothing of: the full shape, every field null.
        return Json(json!({
            "ip": ip, "type": kind, "continent_code": null, "continent_name": null,
            "country_code": null, "country_name": null, "region_code": null, "region_name": null,
            "city": null, "zip": null, "latitude": null, "longitude": null,
            "location": {"geoname_id": null, "capital": null, "languages": null, "country_flag": null,
                         "country_flag_emoji": null, "country_flag_emoji_unicode": null,
                         "calling_code": null, "is_eu": null},
        }));
    };
    Json(json!({
        "ip": ip, "type": kind, "continent_code": null, "continent_name": null,
        "country_code": l.country_code, "country_name": l.country_name,
        "region_code": null, "region_name": l.region_name, "city": l.city,
        "zip": null, "latitude": null, "longitude": null,
        "location": {"geoname_id": null, "capital": null, "languages": [], "is_eu": false},
        "connection": {"asn": l.asn, "isp": l.isp},
        // The security module of the paid plans.
        "security": {
            "is_proxy": l.is_proxy, "proxy_type": if l.is_proxy { Some("vpn") } else { None },
            "is_crawler": false, "crawler_name": null, "crawler_type": null, "is_tor": false,
            "threat_level": if l.is_proxy { "high" } else { "low" }, "threat_types": null,
            "hosting_facility": l.hosting,
        },
    }))
}
