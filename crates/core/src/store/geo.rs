//! The geolocation provider and its cache of answers.

use std::path::PathBuf;

use super::db::{self, Connection, OptionalExtension, params};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Result, Store, ts};

/// Where an address is, as far as the source knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// The address looked up.
    pub ip: String,
    /// The country's ISO 3166-1 alpha-2 code (`GB`).
    pub country_code: Option<String>,
    /// The country's name, in English.
    pub country: Option<String>,
    /// The region (a state, province or county), in English.
    pub region: Option<String>,
    /// The city, in English.
    pub city: Option<String>,
    /// The network's autonomous system number.
    pub asn: Option<u32>,
    /// The AS organisation or ISP.
    pub network: Option<String>,
    /// Whether the address belongs to a hosting provider or data centre; `None` when the
    /// source does not say.
    pub hosting: Option<bool>,
    /// VPN, proxy or Tor.
    pub proxy: Option<bool>,
    /// "ipstack" or "mmdb".
    pub source: String,
}

/// The chosen source of locations, kept as a setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum GeoProvider {
    /// No lookups: alerts carry no location.
    #[default]
    Off,
    /// ipstack's web API, with its key in the keychain.
    Ipstack,
    /// Offline MaxMind-format database files (GeoLite2 or GeoIP2).
    Mmdb {
        /// The City database file.
        city: PathBuf,
        /// The ASN database file, for the network; without it, no network is known.
        #[serde(default)]
        asn: Option<PathBuf>,
    },
}

use super::settings::{Key, read_setting, write_setting};

const PROVIDER: Key<GeoProvider> = Key::new("geo.provider");
const PROBLEM: Key<GeoProblem> = Key::new("geo.last_problem");
/// Where versions before [`GeoProblem`] kept the problem's words alone.
const PROBLEM_TEXT: Key<String> = Key::new("geo.problem");

/// Why the geolocation provider gives no answer, in plain words that name no front end's
/// commands, and what helps: the CLI names its command for the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoProblem {
    /// What went wrong and what it means, e.g. the quota is used up.
    pub message: String,
    /// What the technician can change, when something helps.
    pub fix: Option<GeoFix>,
}

impl GeoProblem {
    /// A problem no setting fixes (an outage, a file gone).
    pub fn plain(message: String) -> Self {
        GeoProblem { message, fix: None }
    }
}

/// What the technician can change when the geolocation provider fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeoFix {
    /// Give another ipstack key (refused, inactive, or its quota used up).
    NewIpstackKey,
    /// Use offline MaxMind databases instead (the ipstack plan does not allow it).
    OfflineDatabases,
}

/// An unexpired cache entry: `location` is `None` when the provider knew nothing of the IP.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheHit {
    /// The location cached; `None` when the provider knew nothing of the address.
    pub location: Option<Location>,
}

/// Drops every cache entry expired by `now`; how many went.
pub(super) fn drop_expired(c: &Connection, now: DateTime<Utc>) -> db::Result<usize> {
    c.execute("DELETE FROM geo_cache WHERE expires_at <= ?1", [ts(now)])
}

impl Store {
    /// The chosen geolocation provider; `Off` until one is chosen.
    pub fn geo_provider(&self) -> Result<GeoProvider> {
        Ok(self.setting(&PROVIDER)?.unwrap_or(GeoProvider::Off))
    }

    /// Saves the provider. A different provider empties the cache (its answers came from
    /// another source) and forgets the old provider's problem, all in one transaction.
    pub fn set_geo_provider(&self, provider: &GeoProvider) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            // An unreadable old value counts as different.
            let old: Option<GeoProvider> = read_setting(&*tx, &PROVIDER).unwrap_or(None);
            if old.as_ref() != Some(provider) {
                tx.execute("DELETE FROM geo_cache", [])?;
                for key in [PROBLEM.name(), PROBLEM_TEXT.name()] {
                    tx.execute("DELETE FROM settings WHERE key = ?1", [key])?;
                }
            }
            write_setting(&*tx, &PROVIDER, provider)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// The provider's last problem, kept so that `rulewatch geo show` can tell it.
    /// (An older version's words alone are read as a problem without a fix.)
    pub fn geo_problem(&self) -> Result<Option<GeoProblem>> {
        match self.setting(&PROBLEM)? {
            Some(p) => Ok(Some(p)),
            None => Ok(self.setting(&PROBLEM_TEXT)?.map(GeoProblem::plain)),
        }
    }

    /// Records the provider's latest problem, or with `None` forgets it; either way an older
    /// version's copy of it goes.
    pub fn set_geo_problem(&self, problem: Option<&GeoProblem>) -> Result<()> {
        self.remove_setting(&PROBLEM_TEXT)?;
        match problem {
            Some(p) => self.set_setting(&PROBLEM, p),
            None => self.remove_setting(&PROBLEM),
        }
    }

    /// The cached answer for `ip` unless it expired by `now`.
    pub fn cached_location(&self, ip: &str, now: DateTime<Utc>) -> Result<Option<CacheHit>> {
        self.with(|c| {
            let row: Option<Option<String>> = c
                .query_row(
                    "SELECT location FROM geo_cache WHERE ip = ?1 AND expires_at > ?2",
                    params![ip, ts(now)],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(location) = row else { return Ok(None) };
            // A row this version cannot read is a miss: the provider is asked again.
            Ok(location
                .map(|l| serde_json::from_str::<Location>(&l))
                .transpose()
                .ok()
                .map(|location| CacheHit { location }))
        })
    }

    /// Caches an answer (`None`: the provider knows nothing of `ip`) for `ttl` from
    /// `now`, and drops every expired entry on the way.
    pub fn cache_location(
        &self,
        ip: &str,
        source: &str,
        location: Option<&Location>,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<()> {
        let json = location.map(|l| serde_json::to_string(l).expect("a location serialises"));
        self.with(|c| {
            let tx = c.transaction()?;
            drop_expired(&*tx, now)?;
            tx.execute(
                "INSERT INTO geo_cache (ip, location, source, fetched_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (ip) DO UPDATE SET location = excluded.location, source = excluded.source,
                        fetched_at = excluded.fetched_at, expires_at = excluded.expires_at",
                params![ip, json, source, ts(now), ts(now + ttl)],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Unexpired entries in the cache.
    pub fn location_cache_size(&self, now: DateTime<Utc>) -> Result<u64> {
        self.with(|c| {
            let n: i64 = c.query_row(
                "SELECT COUNT(*) FROM geo_cache WHERE expires_at > ?1",
                [ts(now)],
                |r| r.get(0),
            )?;
            Ok(n as u64)
        })
    }
}
