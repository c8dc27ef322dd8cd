//! The technician's settings, typed and checked in one place with their bounds: how
//! often to scan, the first scan's look-back, how long raw audit records are kept, which
//! severities notify, sign-ins, geolocation and the remediation steps checked by default.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Error, Session};
use crate::detect::Severity;
use crate::geo::{self, GeoProvider};
use crate::remediate::{self, Action};
use crate::secrets::{Keychain, NO_TENANT, SecretError, SecretKind, SecretStore};
use crate::store::{GeoProblem, Key, Retention, Store};

/// Minutes between background scans.
pub const SCAN_INTERVAL_MINUTES: RangeInclusive<u32> = 1..=1440;

/// Days an alert keeps its raw audit record: a week at least, so that the week's alerts
/// are reviewed with their evidence; ten years at most.
const RAW_RETENTION_DAYS: RangeInclusive<u32> = 7..=3650;

/// Where the schedule and notification choices live in the settings table (the key
/// the desktop has always used, so existing choices are kept).
const PREFERENCES_KEY: Key<Preferences> = Key::new("desktop.settings");

/// The preferences saved in `store`; the defaults when none were saved or the saved
/// row cannot be read.
pub(super) fn preferences_in(store: &crate::store::Store) -> Preferences {
    store
        .setting(&PREFERENCES_KEY)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// How often to scan, how far the first scan reads back, and what notifies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Preferences {
    /// Minutes between background scans.
    pub scan_interval_minutes: u32,
    /// Hours of audit history a tenant's first scan reads.
    pub backfill_hours: u32,
    /// Days after its detection that an alert keeps the raw audit record it came from.
    pub raw_retention_days: u32,
    /// Which severities notify.
    pub notify: NotifyPrefs,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            scan_interval_minutes: 5,
            backfill_hours: 24,
            raw_retention_days: Retention::default().raw_days,
            notify: NotifyPrefs::default(),
        }
    }
}

impl Preferences {
    /// The first scan's look-back within the bounds, whatever an old row holds.
    pub fn backfill(&self) -> u16 {
        let bounds = super::config::BACKFILL_HOURS;
        u16::try_from(self.backfill_hours)
            .unwrap_or(*bounds.end())
            .clamp(*bounds.start(), *bounds.end())
    }

    /// The scan interval within the bounds.
    pub fn interval(&self) -> std::time::Duration {
        let minutes = self
            .scan_interval_minutes
            .clamp(*SCAN_INTERVAL_MINUTES.start(), *SCAN_INTERVAL_MINUTES.end());
        std::time::Duration::from_secs(u64::from(minutes) * 60)
    }

    /// What the store keeps, and for how long: the raw records' days within the bounds,
    /// whatever an old row holds, and the defaults for the rest.
    pub fn retention(&self) -> Retention {
        Retention {
            raw_days: self
                .raw_retention_days
                .clamp(*RAW_RETENTION_DAYS.start(), *RAW_RETENTION_DAYS.end()),
            ..Retention::default()
        }
    }
}

/// Refuses a raw-record retention outside [`RAW_RETENTION_DAYS`].
fn check_raw_retention(days: u32) -> Result<(), Error> {
    if RAW_RETENTION_DAYS.contains(&days) {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "raw audit records must be kept {} to {} days, not {days}",
        RAW_RETENTION_DAYS.start(),
        RAW_RETENTION_DAYS.end()
    )))
}

/// Which severities raise a notification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyPrefs {
    /// Notify low-severity alerts.
    pub low: bool,
    /// Notify medium-severity alerts.
    pub medium: bool,
    /// Notify high-severity alerts.
    pub high: bool,
    /// Notify critical alerts.
    pub critical: bool,
    /// Notify an alert a colleague has already taken too (team mode: by default, what a
    /// colleague holds is theirs and rings no other desktop).
    pub colleagues_taken: bool,
}

impl Default for NotifyPrefs {
    fn default() -> Self {
        NotifyPrefs {
            low: true,
            medium: true,
            high: true,
            critical: true,
            colleagues_taken: false,
        }
    }
}

impl NotifyPrefs {
    /// Whether an alert of `severity` is notified.
    pub fn allows(&self, severity: Severity) -> bool {
        match severity {
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
            Severity::Critical => self.critical,
        }
    }
}

/// The geolocation provider as shown: never the ipstack key, only whether one is kept.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum GeoSetting {
    /// No address is located.
    Off,
    /// ipstack locates addresses.
    Ipstack {
        /// Whether its key is in the keychain.
        key_stored: bool,
    },
    /// Offline MaxMind-format databases locate addresses.
    Mmdb {
        /// The City database's path.
        city: String,
        /// The ASN database's path, if one is used.
        asn: Option<String>,
    },
}

/// A change of geolocation provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum GeoUpdate {
    /// Locating is turned off.
    Off,
    /// ipstack, with a new key or (absent) the one already kept.
    Ipstack {
        /// A new key, or `None` to keep the one in the keychain.
        key: Option<String>,
    },
    /// Offline MaxMind-format databases.
    Mmdb {
        /// The City database's path.
        city: String,
        /// The ASN database's path, if one is used.
        asn: Option<String>,
    },
}

/// The bounds the numbers are checked against, lowest and highest, for a form to offer
/// and check the same ones.
#[derive(Debug, Clone, Serialize)]
pub struct Bounds {
    /// Minutes between scans, lowest and highest.
    pub scan_interval_minutes: (u32, u32),
    /// Hours a first scan reads back, lowest and highest.
    pub backfill_hours: (u16, u16),
    /// Days raw audit records are kept, lowest and highest.
    pub raw_retention_days: (u32, u32),
}

impl Bounds {
    fn new() -> Bounds {
        let backfill = super::config::BACKFILL_HOURS;
        Bounds {
            scan_interval_minutes: (*SCAN_INTERVAL_MINUTES.start(), *SCAN_INTERVAL_MINUTES.end()),
            backfill_hours: (*backfill.start(), *backfill.end()),
            raw_retention_days: (*RAW_RETENTION_DAYS.start(), *RAW_RETENTION_DAYS.end()),
        }
    }
}

/// Every setting, as the panel shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// How often to scan, how far back, and what notifies.
    #[serde(flatten)]
    pub preferences: Preferences,
    /// What [`Session::save_settings`] accepts.
    pub bounds: Bounds,
    /// Whether scans read Entra sign-ins.
    pub sign_ins: bool,
    /// The geolocation provider.
    pub geo: GeoSetting,
    /// The steps Secure and Remediate checks by default.
    pub remediation_defaults: Vec<Action>,
}

/// Every setting, as the panel saves them.
#[derive(Debug, Clone, Deserialize)]
pub struct SettingsUpdate {
    /// How often to scan, how far back, and what notifies.
    #[serde(flatten)]
    pub preferences: Preferences,
    /// Whether scans read Entra sign-ins.
    pub sign_ins: bool,
    /// The geolocation provider to use.
    pub geo: GeoUpdate,
    /// The steps Secure and Remediate checks by default.
    pub remediation_defaults: Vec<Action>,
}

/// Whether the ipstack key is in the keychain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// The key is in the keychain.
    Stored,
    /// No key is in the keychain.
    Missing,
    /// The keychain could not be asked.
    Unknown(String),
}

/// The geolocation provider with its state, for `rulewatch geo show`.
#[derive(Debug, Clone, Serialize)]
pub struct GeoStatus {
    pub provider: GeoProvider,
    pub ipstack_key: KeyState,
    pub cached_locations: u64,
    /// The provider's last problem, or today's (a database file gone since).
    pub problem: Option<GeoProblem>,
}

/// The keychain is reached over D-Bus or the platform's API: blocking calls, run off
/// the async runtime.
async fn keychain<T: Send + 'static>(
    f: impl FnOnce(&Keychain) -> Result<T, SecretError> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(move || f(&Keychain))
        .await
        .map_err(|e| Error::Failed(format!("the keychain call stopped: {e}")))?
        .map_err(Error::from)
}

impl Session {
    /// The schedule and notification choices; the defaults when none were saved or the
    /// saved row cannot be read.
    pub fn preferences(&self) -> Preferences {
        preferences_in(&self.home)
    }

    /// Every setting, as the panel shows them.
    pub async fn settings(&self) -> Result<Settings, Error> {
        Ok(Settings {
            preferences: self.preferences(),
            bounds: Bounds::new(),
            sign_ins: self.sign_ins()?,
            geo: self.geo_setting().await?,
            remediation_defaults: remediate::default_actions(&self.home)?,
        })
    }

    /// Checks and saves every setting; the engine is rebuilt, as it reads the look-back
    /// and the geolocation provider when built.
    pub async fn save_settings(&self, update: SettingsUpdate) -> Result<(), Error> {
        let p = &update.preferences;
        if !SCAN_INTERVAL_MINUTES.contains(&p.scan_interval_minutes) {
            return Err(Error::Invalid(format!(
                "the scan interval must be {} to {} minutes",
                SCAN_INTERVAL_MINUTES.start(),
                SCAN_INTERVAL_MINUTES.end()
            )));
        }
        let bounds = super::config::BACKFILL_HOURS;
        if !u16::try_from(p.backfill_hours).is_ok_and(|h| bounds.contains(&h)) {
            return Err(Error::Invalid(format!(
                "the first-run backfill must be {} to {} hours (Microsoft keeps 7 days)",
                bounds.start(),
                bounds.end()
            )));
        }
        check_raw_retention(p.raw_retention_days)?;
        self.set_geo(update.geo).await?;
        self.home
            .set_setting(&crate::sign_ins::SETTING, &update.sign_ins)?;
        self.home
            .set_setting(&remediate::DEFAULTS_SETTING, &update.remediation_defaults)?;
        self.home
            .set_setting(&PREFERENCES_KEY, &update.preferences)?;
        self.rebuild_engine().await
    }

    /// Sets how many days alerts keep their raw audit records; the next daily prune
    /// applies it.
    pub fn set_raw_retention_days(&self, days: u32) -> Result<(), Error> {
        check_raw_retention(days)?;
        let mut preferences = self.preferences();
        preferences.raw_retention_days = days;
        Ok(self.home.set_setting(&PREFERENCES_KEY, &preferences)?)
    }

    /// Prunes `store` (the one just scanned) as the retention setting says, unless it was
    /// pruned less than a day ago. A failure is logged, never the scan's.
    pub(super) async fn prune_if_due(&self, store: Arc<Store>) {
        let policy = self.preferences().retention();
        let now = crate::clock::now();
        let pruned = tokio::task::spawn_blocking(move || store.prune_if_due(now, &policy)).await;
        match pruned {
            Ok(Ok(Some(p))) if p.removed_anything() => {
                tracing::info!("pruned old data from the database: {p:?}")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(
                "pruning old data from the database failed; the scan is not affected, and the prune is tried again later: {e}"
            ),
            Err(e) => tracing::warn!(
                "pruning old data from the database stopped; the scan is not affected, and the prune is tried again later: {e}"
            ),
        }
    }

    /// Whether scans read Entra sign-ins.
    pub fn sign_ins(&self) -> Result<bool, Error> {
        Ok(crate::sign_ins::enabled(&self.home)?)
    }

    /// Turns the reading of Entra sign-ins on or off.
    pub fn set_sign_ins(&self, on: bool) -> Result<(), Error> {
        Ok(self.home.set_setting(&crate::sign_ins::SETTING, &on)?)
    }

    /// Whether the ipstack key is in the keychain.
    pub async fn ipstack_key(&self) -> KeyState {
        match keychain(|k| k.get(NO_TENANT, SecretKind::IpstackKey).map(|_| ())).await {
            Ok(()) => KeyState::Stored,
            Err(Error::Secret(SecretError::MissingIpstackKey)) => KeyState::Missing,
            Err(e) => KeyState::Unknown(e.to_string()),
        }
    }

    /// The geolocation provider, its key's state, its cache and its last problem.
    pub async fn geo_status(&self) -> Result<GeoStatus, Error> {
        Ok(GeoStatus {
            provider: self.home.geo_provider()?,
            ipstack_key: self.ipstack_key().await,
            cached_locations: self.home.location_cache_size(crate::clock::now())?,
            problem: self.geo().problem(),
        })
    }

    /// Locates one address now, through the cache and the chosen provider.
    pub async fn locate(&self, ip: &str) -> geo::Answer {
        self.geo().resolve(ip).await
    }

    fn geo(&self) -> geo::Geo {
        geo::Geo::new(
            self.home.clone(),
            self.config.keychain(),
            &self.config.endpoints(),
        )
    }

    async fn geo_setting(&self) -> Result<GeoSetting, Error> {
        Ok(match self.home.geo_provider()? {
            GeoProvider::Off => GeoSetting::Off,
            GeoProvider::Ipstack => GeoSetting::Ipstack {
                key_stored: self.ipstack_key().await == KeyState::Stored,
            },
            GeoProvider::Mmdb { city, asn } => GeoSetting::Mmdb {
                city: city.display().to_string(),
                asn: asn.map(|a| a.display().to_string()),
            },
        })
    }

    /// Chooses the geolocation provider. A new ipstack key goes to the keychain and
    /// clears the old key's problem; database files are checked and kept as absolute
    /// paths; off removes the key from the keychain.
    pub async fn set_geo(&self, update: GeoUpdate) -> Result<(), Error> {
        let provider = match update {
            GeoUpdate::Off => {
                self.home.set_geo_provider(&GeoProvider::Off)?;
                return keychain(|k| k.delete(NO_TENANT, SecretKind::IpstackKey))
                    .await
                    .map_err(|e| {
                        Error::Failed(format!(
                            "geolocation is off, but the ipstack key could not be removed from the keychain: {e}"
                        ))
                    });
            }
            GeoUpdate::Ipstack { key } => {
                match key.map(|k| k.trim().to_string()).filter(|k| !k.is_empty()) {
                    Some(k) => {
                        keychain(move |c| c.set(NO_TENANT, SecretKind::IpstackKey, k.as_bytes()))
                            .await?;
                        // A new key: whatever the old one ran into no longer applies.
                        self.home.set_geo_problem(None)?;
                    }
                    None if self.ipstack_key().await == KeyState::Stored => {}
                    None => {
                        return Err(Error::Invalid(
                            "ipstack needs an API key: give it once; it is kept in the OS keychain"
                                .into(),
                        ));
                    }
                }
                GeoProvider::Ipstack
            }
            GeoUpdate::Mmdb { city, asn } => {
                let city = PathBuf::from(city.trim());
                let asn = asn
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .map(PathBuf::from);
                let (c, a) = (city.clone(), asn.clone());
                tokio::task::spawn_blocking(move || geo::check_mmdb(&c, a.as_deref()))
                    .await
                    .map_err(|e| Error::Failed(format!("checking the databases stopped: {e}")))??;
                // Absolute paths, so the setting holds whatever folder Rulewatch runs from.
                let absolute = |p: PathBuf| {
                    std::fs::canonicalize(&p)
                        .map_err(|e| Error::Invalid(format!("cannot resolve {}: {e}", p.display())))
                };
                GeoProvider::Mmdb {
                    city: absolute(city)?,
                    asn: asn.map(absolute).transpose()?,
                }
            }
        };
        self.home.set_geo_provider(&provider)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Config, Var};

    /// A session on a fresh data folder; nothing here asks the keychain.
    fn session(dir: &std::path::Path) -> Session {
        let dir = dir.as_os_str().to_owned();
        let config = Config::read(|var| (var == Var::DataDir).then(|| dir.clone())).unwrap();
        Session::open(config).unwrap()
    }

    #[tokio::test]
    async fn a_raw_retention_outside_its_bounds_is_refused_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let session = session(dir.path());
        assert_eq!(session.preferences().raw_retention_days, 180);
        for days in [6, 3651] {
            let e = session
                .set_raw_retention_days(days)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("7 to 3650 days") && e.contains(&format!("not {days}")),
                "{e}"
            );
            let update = SettingsUpdate {
                preferences: Preferences {
                    raw_retention_days: days,
                    ..Preferences::default()
                },
                sign_ins: false,
                geo: GeoUpdate::Off,
                remediation_defaults: Vec::new(),
            };
            let e = session.save_settings(update).await.unwrap_err().to_string();
            assert!(e.contains("7 to 3650 days"), "{e}");
        }
        for days in [7, 3650] {
            session.set_raw_retention_days(days).unwrap();
            assert_eq!(session.preferences().retention().raw_days, days);
        }
        assert_eq!(
            session.settings().await.unwrap().bounds.raw_retention_days,
            (7, 3650)
        );
    }

    #[test]
    fn preferences_saved_before_the_retention_existed_keep_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let session = session(dir.path());
        let saved: Preferences =
            serde_json::from_str(r#"{"scan_interval_minutes": 10, "backfill_hours": 48}"#).unwrap();
        session.home.set_setting(&PREFERENCES_KEY, &saved).unwrap();
        let read = session.preferences();
        assert_eq!(
            (read.scan_interval_minutes, read.retention()),
            (10, Retention::default())
        );
    }

    #[tokio::test]
    async fn a_scan_prunes_its_store_once_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let session = session(dir.path());
        let store = session.home.clone();
        let long_ago = crate::clock::now() - chrono::Duration::days(10);
        let expired = |ip| {
            store
                .cache_location(ip, "mmdb", None, long_ago, chrono::Duration::days(1))
                .unwrap()
        };
        let cached = |ip| store.cached_location(ip, long_ago).unwrap().is_some();
        expired("192.0.2.1");
        session.scan(|_, _| {}).await.unwrap();
        assert!(!cached("192.0.2.1"), "the day's first scan prunes");
        expired("192.0.2.2");
        session.scan(|_, _| {}).await.unwrap();
        assert!(cached("192.0.2.2"), "the day's second does not");
    }
}
