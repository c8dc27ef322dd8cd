//! The geolocation provider and its cache of answers.

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Result, Store, ts};

/// Where an address is, as far as the source knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub ip: String,
    pub country_code: Option<String>,
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub asn: Option<u32>,
    /// The AS organisation or ISP.
    pub network: Option<String>,
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
    #[default]
    Off,
    Ipstack,
    Mmdb {
        city: PathBuf,
        #[serde(default)]
        asn: Option<PathBuf>,
    },
}

use super::settings::{Key, read_setting, write_setting};

const PROVIDER: Key<GeoProvider> = Key::new("geo.provider");
const PROBLEM: Key<String> = Key::new("geo.problem");

/// An unexpired cache entry: `location` is `None` when the provider knew nothing of the IP.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheHit {
    pub location: Option<Location>,
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
            let old: Option<GeoProvider> = read_setting(&tx, &PROVIDER).unwrap_or(None);
            if old.as_ref() != Some(provider) {
                tx.execute("DELETE FROM geo_cache", [])?;
                tx.execute("DELETE FROM settings WHERE key = ?1", [PROBLEM.name()])?;
            }
            write_setting(&tx, &PROVIDER, provider)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// The provider's last problem, kept so that `rulewatch geo show` can tell it.
    pub fn geo_problem(&self) -> Result<Option<String>> {
        self.setting(&PROBLEM)
    }

    pub fn set_geo_problem(&self, problem: Option<&str>) -> Result<()> {
        match problem {
            Some(p) => self.set_setting(&PROBLEM, &p.to_string()),
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
            tx.execute("DELETE FROM geo_cache WHERE expires_at <= ?1", [ts(now)])?;
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
