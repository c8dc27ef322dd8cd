//! Where a change came from: the location of its address and whether its author had
//! signed in from there before. A change made from a country or network the user has
//! never signed in from is raised one severity step; the location joins the summary.
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::detect::visible_text as visible;
use crate::geo::{Geo, Location};
use crate::store::{NewAlert, Store};

/// How many of the user's latest sign-in addresses a change is compared with.
const HISTORY: usize = 10;

/// An address first signed in from this shortly before a change is not yet the user's:
/// an intruder signs in and makes the change minutes later, and with sign-ins collected
/// first, that sign-in would otherwise make the intruder's address look familiar (issue
/// 16). An hour is a judgement, not a cited figure: long enough for a phishing kit's
/// sign-in-then-change, short enough that a user's own new address settles within a
/// working session. An intruder who waits longer looks familiar on that address; the
/// chain of the account's alerts (incidents) still holds the earlier new-country one.
const SETTLED: chrono::Duration = chrono::Duration::hours(1);

/// What the sign-in history says of the change's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Familiarity {
    /// No sign-in of the user is known, or the address could not be placed.
    Unknown,
    /// The user signed in from this very address.
    KnownAddress,
    /// From this country and network before, not this address.
    KnownNetwork,
    /// From this country before, never from this network.
    NewNetwork,
    /// Never from this country.
    NewCountry,
}

fn compare(location: Option<&Location>, seen: &[Location]) -> Familiarity {
    let Some(here) = location.filter(|l| l.country_code.is_some()) else {
        return Familiarity::Unknown;
    };
    let placed: Vec<&Location> = seen.iter().filter(|l| l.country_code.is_some()).collect();
    if placed.is_empty() {
        return Familiarity::Unknown;
    }
    if !placed.iter().any(|l| l.country_code == here.country_code) {
        return Familiarity::NewCountry;
    }
    match here.asn {
        Some(asn)
            if placed
                .iter()
                .filter(|l| l.asn.is_some())
                .all(|l| l.asn != Some(asn)) =>
        {
            if placed.iter().any(|l| l.asn.is_some()) {
                Familiarity::NewNetwork
            } else {
                Familiarity::KnownNetwork
            }
        }
        _ => Familiarity::KnownNetwork,
    }
}

/// Whether [`enrich`] found the alert made from a country or network its author never
/// signed in from.
pub fn from_somewhere_new(alert: &NewAlert) -> bool {
    alert
        .origin
        .as_ref()
        .and_then(|o| Familiarity::deserialize(&o["familiarity"]).ok())
        .is_some_and(|f| matches!(f, Familiarity::NewCountry | Familiarity::NewNetwork))
}

/// Adds the origin to each alert with an address. Never fails: what cannot be learnt
/// is left out.
pub async fn enrich(alerts: &mut [NewAlert], tenant_id: &str, store: &Store, geo: &Geo) {
    // Suppressed alerts are never shown, so they spend no lookups (ipstack counts them).
    for alert in alerts.iter_mut().filter(|a| a.suppressed_by.is_none()) {
        let Some(ip) = alert.client_ip.clone() else {
            continue;
        };
        let location = geo.locate(&ip).await;
        let made = alert.event_time.unwrap_or_else(crate::clock::now);
        let history = store
            .sign_in_ips(tenant_id, &alert.actor, made - SETTLED, HISTORY)
            .unwrap_or_else(|e| {
                tracing::warn!("sign-in history unreadable: {e}");
                Vec::new()
            });
        let familiarity = if history.is_empty() {
            Familiarity::Unknown
        } else if history.contains(&ip) {
            Familiarity::KnownAddress
        } else {
            let mut seen = Vec::new();
            for h in &history {
                seen.extend(geo.locate(h).await);
            }
            compare(location.as_ref(), &seen)
        };
        apply(alert, location, familiarity);
    }
}

fn apply(alert: &mut NewAlert, location: Option<Location>, familiarity: Familiarity) {
    if location.is_none() && familiarity == Familiarity::Unknown {
        return;
    }
    let ip = alert.client_ip.clone().unwrap_or_default();
    if let Some(l) = &location {
        alert.summary.push_str(&format!(
            " Made from {} ({}).",
            visible(&ip),
            visible(&l.describe())
        ));
    }
    let actor = visible(&alert.actor);
    let new = match (familiarity, &location) {
        (Familiarity::NewCountry, Some(l)) => Some(format!(
            " {actor} has never signed in from {}.",
            visible(
                l.country
                    .as_deref()
                    .or(l.country_code.as_deref())
                    .unwrap_or("that country")
            )
        )),
        (Familiarity::NewNetwork, Some(l)) => Some(format!(
            " {actor} has never signed in from network AS{}.",
            l.asn.map(|a| a.to_string()).unwrap_or_default()
        )),
        _ => None,
    };
    if let Some(sentence) = new {
        alert.summary.push_str(&sentence);
        alert.severity = alert.severity.raised();
    }
    alert.origin = Some(json!({"location": location, "familiarity": familiarity}));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(country: &str, asn: u32) -> Location {
        Location {
            ip: "198.51.100.1".into(),
            country_code: Some(country.into()),
            country: Some(format!("Country {country}")),
            region: None,
            city: None,
            asn: Some(asn),
            network: None,
            hosting: None,
            proxy: None,
            source: "mmdb".into(),
        }
    }

    #[test]
    fn country_then_network_decide() {
        let seen = [at("GB", 2856), at("GB", 5089)];
        assert_eq!(
            compare(Some(&at("NG", 36873)), &seen),
            Familiarity::NewCountry
        );
        assert_eq!(
            compare(Some(&at("GB", 9009)), &seen),
            Familiarity::NewNetwork
        );
        assert_eq!(
            compare(Some(&at("GB", 5089)), &seen),
            Familiarity::KnownNetwork
        );
        assert_eq!(compare(None, &seen), Familiarity::Unknown);
        assert_eq!(compare(Some(&at("NG", 36873)), &[]), Familiarity::Unknown);
    }
}
