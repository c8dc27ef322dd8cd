//! Where an IP address is: city, region, country, network (AS) and, where the source
//! says, hosting or VPN/proxy. Two providers: ipstack's web API, with its key in the
//! keychain, and an offline MaxMind-format database file. ipstack's answers are cached
//! in SQLite. A provider that fails or runs out of quota costs an alert at most
//! [`DEADLINE`] and never drops it: the location is simply left out.
#![warn(missing_docs)]

mod ip;
mod ipstack;
mod mmdb;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use crate::cloud::Endpoints;
use crate::detect::record::normalize_ip;
use crate::secrets::{NO_TENANT, SecretKind, SecretStore, secret_text};
use crate::store::{GeoFix, GeoProblem, Store};
// The store keeps them; geolocation finds and chooses them.
pub use crate::store::{GeoProvider, Location};

pub use ip::is_public;
pub use mmdb::MmdbError;

/// How long a lookup may hold up its caller, retries and the keychain included.
pub const DEADLINE: Duration = Duration::from_secs(3);
/// How long a found location is trusted.
pub const FOUND_TTL: chrono::Duration = chrono::Duration::days(30);
/// How long "the provider knows nothing of this address" is trusted.
pub const UNKNOWN_TTL: chrono::Duration = chrono::Duration::days(1);
/// After a refused key, an exhausted quota or a plan restriction the provider is not
/// asked again for this long: every call would fail the same way and count against it.
pub const REFUSAL_PAUSE: Duration = Duration::from_secs(3600);
/// After a network failure or a timeout: long enough that a burst of alerts does not
/// each wait for the deadline.
pub const OUTAGE_PAUSE: Duration = Duration::from_secs(60);

impl Location {
    fn unknown(ip: IpAddr, source: &str) -> Self {
        Location {
            ip: ip.to_string(),
            country_code: None,
            country: None,
            region: None,
            city: None,
            asn: None,
            network: None,
            hosting: None,
            proxy: None,
            source: source.into(),
        }
    }

    fn knows_something(&self) -> bool {
        self.country_code.is_some()
            || self.country.is_some()
            || self.city.is_some()
            || self.asn.is_some()
    }

    /// A short plain text, e.g. `Lagos, Nigeria (NG) · AS36873 Airtel Networks · VPN/proxy`,
    /// leaving out what is unknown.
    pub fn describe(&self) -> String {
        let mut place: Vec<&str> = Vec::new();
        if let Some(city) = &self.city {
            place.push(city);
        }
        if let Some(region) = &self.region
            && self.city.as_ref() != Some(region)
        {
            place.push(region);
        }
        let country = match (&self.country, &self.country_code) {
            (Some(name), Some(code)) => Some(format!("{name} ({code})")),
            (Some(name), None) => Some(name.clone()),
            (None, Some(code)) => Some(code.clone()),
            (None, None) => None,
        };
        let mut parts = Vec::new();
        let mut place = place.join(", ");
        if let Some(country) = country {
            if !place.is_empty() {
                place.push_str(", ");
            }
            place.push_str(&country);
        }
        if !place.is_empty() {
            parts.push(place);
        }
        let network = match (self.asn, &self.network) {
            (Some(asn), Some(name)) => Some(format!("AS{asn} {name}")),
            (Some(asn), None) => Some(format!("AS{asn}")),
            (None, Some(name)) => Some(name.clone()),
            (None, None) => None,
        };
        parts.extend(network);
        if self.proxy == Some(true) {
            parts.push("VPN/proxy".into());
        }
        if self.hosting == Some(true) {
            parts.push("hosting".into());
        }
        if parts.is_empty() {
            "location unknown".into()
        } else {
            parts.join(" · ")
        }
    }
}

/// The outcome of one lookup, with the reason when there is no location.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Where the address is, as far as the provider knows.
    Found(Location),
    /// The provider knows nothing of this address.
    Unknown,
    /// The text is not an IP address in any form `ClientIP` takes.
    NotAnIp,
    /// Private, shared, documentation or another special-purpose range: never looked up.
    NotPublic(IpAddr),
    /// Geolocation is turned off.
    Off,
    /// The provider failed or is paused after failing; in plain words, with what helps.
    Failed(GeoProblem),
}

/// Why the provider gave no answer; `pause` keeps it from being asked for a while.
#[derive(Debug)]
struct Failure {
    problem: GeoProblem,
    pause: Option<Duration>,
}

impl Failure {
    fn outage(message: String) -> Self {
        Failure {
            problem: GeoProblem::plain(message),
            pause: Some(OUTAGE_PAUSE),
        }
    }
}

enum Backend {
    Off,
    Ipstack(ipstack::Ipstack),
    Mmdb(Box<mmdb::Databases>),
    /// Configured, but cannot work (unreadable setting, database file gone…).
    Broken(GeoProblem),
}

#[derive(Default)]
struct Health {
    paused_until: Option<Instant>,
    problem: Option<GeoProblem>,
}

/// Locates addresses with the provider the user chose.
pub struct Geo {
    store: Arc<Store>,
    secrets: Arc<dyn SecretStore>,
    backend: Backend,
    /// The ipstack key, read from the keychain on first use.
    key: tokio::sync::Mutex<Option<SecretString>>,
    health: Mutex<Health>,
}

impl Geo {
    /// Reads the provider setting and opens its database files. A provider that cannot
    /// work is reported by [`Geo::problem`], never as an error: alerts go on without it.
    pub fn new(store: Arc<Store>, secrets: Arc<dyn SecretStore>, endpoints: &Endpoints) -> Geo {
        let backend = match store.geo_provider() {
            Ok(GeoProvider::Off) => Backend::Off,
            Ok(GeoProvider::Ipstack) => match ipstack::Ipstack::new(&endpoints.ipstack, DEADLINE) {
                Ok(client) => Backend::Ipstack(client),
                Err(e) => Backend::Broken(GeoProblem::plain(format!(
                    "the HTTP client for ipstack cannot start ({e}); alerts are not affected"
                ))),
            },
            Ok(GeoProvider::Mmdb { city, asn }) => {
                match mmdb::Databases::open(&city, asn.as_deref()) {
                    Ok(dbs) => Backend::Mmdb(Box::new(dbs)),
                    Err(e) => {
                        Backend::Broken(GeoProblem::plain(format!("{e}; alerts are not affected")))
                    }
                }
            }
            Err(e) => Backend::Broken(GeoProblem::plain(format!("{e}; alerts are not affected"))),
        };
        let problem = match &backend {
            Backend::Broken(problem) => {
                tracing::warn!("geolocation: {}", problem.message);
                Some(problem.clone())
            }
            _ => store.geo_problem().ok().flatten(),
        };
        Geo {
            store,
            secrets,
            backend,
            key: tokio::sync::Mutex::new(None),
            health: Mutex::new(Health {
                paused_until: None,
                problem,
            }),
        }
    }

    /// The provider's last problem in plain words, with what helps.
    pub fn problem(&self) -> Option<GeoProblem> {
        self.health
            .lock()
            .expect("geo health poisoned")
            .problem
            .clone()
    }

    /// The location of a `ClientIP` in any of its forms, or `None`.
    pub async fn locate(&self, raw_ip: &str) -> Option<Location> {
        match self.resolve(raw_ip).await {
            Answer::Found(location) => Some(location),
            _ => None,
        }
    }

    /// Like [`Geo::locate`], saying why there is no location.
    pub async fn resolve(&self, raw_ip: &str) -> Answer {
        let Some(ip) = normalize_ip(raw_ip).and_then(|s| s.parse::<IpAddr>().ok()) else {
            return Answer::NotAnIp;
        };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if !is_public(ip) {
            return Answer::NotPublic(ip);
        }
        match &self.backend {
            Backend::Off => Answer::Off,
            Backend::Broken(problem) => Answer::Failed(problem.clone()),
            // The file answers in microseconds and, once the user updates it, is fresher
            // than any cache, so it is asked every time.
            Backend::Mmdb(dbs) => match dbs.lookup(ip) {
                Ok(found) => self.succeeded(found),
                Err(message) => self.failed(Failure {
                    problem: GeoProblem::plain(message),
                    pause: None,
                }),
            },
            Backend::Ipstack(client) => self.ask_ipstack(client, ip).await,
        }
    }

    async fn ask_ipstack(&self, client: &ipstack::Ipstack, ip: IpAddr) -> Answer {
        let cache_key = ip.to_string();
        let now = crate::clock::now();
        match self.store.cached_location(&cache_key, now) {
            Ok(Some(hit)) => return hit.location.map_or(Answer::Unknown, Answer::Found),
            Ok(None) => {}
            Err(e) => tracing::warn!("geolocation cache unreadable, asking the provider: {e}"),
        }
        if let Some(problem) = self.paused() {
            return Answer::Failed(problem);
        }
        let asked = tokio::time::timeout(DEADLINE, async {
            let key = self.ipstack_key().await?;
            client.lookup(ip, key.expose_secret()).await
        })
        .await;
        let found = match asked {
            Ok(Ok(found)) => found,
            Ok(Err(failure)) => return self.failed(failure),
            Err(_) => {
                return self.failed(Failure::outage(format!(
                    "ipstack did not answer within {} s; locations are skipped for now; alerts are not affected",
                    DEADLINE.as_secs()
                )));
            }
        };
        let ttl = if found.is_some() {
            FOUND_TTL
        } else {
            UNKNOWN_TTL
        };
        if let Err(e) =
            self.store
                .cache_location(&cache_key, ipstack::SOURCE, found.as_ref(), now, ttl)
        {
            tracing::warn!("geolocation cache not written: {e}");
        }
        self.succeeded(found)
    }

    async fn ipstack_key(&self) -> Result<SecretString, Failure> {
        let mut cached = self.key.lock().await;
        if let Some(key) = cached.as_ref() {
            return Ok(key.clone());
        }
        let secrets = self.secrets.clone();
        // The keychain is reached over D-Bus or the platform's API: blocking calls.
        let read = tokio::task::spawn_blocking(move || {
            secrets
                .get(NO_TENANT, SecretKind::IpstackKey)
                .and_then(|s| secret_text(&s))
        })
        .await;
        let key = match read {
            Ok(Ok(text)) => SecretString::from(text),
            Ok(Err(e)) => {
                return Err(Failure {
                    problem: GeoProblem {
                        message: format!("{e}; alerts are not affected"),
                        fix: Some(GeoFix::NewIpstackKey),
                    },
                    pause: Some(REFUSAL_PAUSE),
                });
            }
            Err(e) => {
                return Err(Failure::outage(format!(
                    "reading the keychain failed ({e}); alerts are not affected"
                )));
            }
        };
        *cached = Some(key.clone());
        Ok(key)
    }

    fn paused(&self) -> Option<GeoProblem> {
        let health = self.health.lock().expect("geo health poisoned");
        match health.paused_until {
            Some(until) if Instant::now() < until => {
                let mut problem = health
                    .problem
                    .clone()
                    .unwrap_or_else(|| GeoProblem::plain(String::new()));
                let _ = write!(
                    problem.message,
                    " (ipstack is not asked again for {} min)",
                    (until - Instant::now()).as_secs().div_ceil(60)
                );
                Some(problem)
            }
            _ => None,
        }
    }

    fn succeeded(&self, found: Option<Location>) -> Answer {
        let had_problem = {
            let mut health = self.health.lock().expect("geo health poisoned");
            health.paused_until = None;
            health.problem.take().is_some()
        };
        if had_problem && let Err(e) = self.store.set_geo_problem(None) {
            tracing::warn!("geolocation: cannot clear the recorded problem: {e}");
        }
        found.map_or(Answer::Unknown, Answer::Found)
    }

    fn failed(&self, failure: Failure) -> Answer {
        tracing::warn!("geolocation: {}", failure.problem.message);
        {
            let mut health = self.health.lock().expect("geo health poisoned");
            health.paused_until = failure.pause.map(|p| Instant::now() + p);
            health.problem = Some(failure.problem.clone());
        }
        if let Err(e) = self.store.set_geo_problem(Some(&failure.problem)) {
            tracing::warn!("geolocation: cannot record the problem: {e}");
        }
        Answer::Failed(failure.problem)
    }
}

/// Checks that `city` (and `asn`, if given) open as MaxMind City and ASN databases,
/// before they are saved as the provider.
pub fn check_mmdb(city: &std::path::Path, asn: Option<&std::path::Path>) -> Result<(), MmdbError> {
    mmdb::Databases::open(city, asn).map(|_| ())
}
