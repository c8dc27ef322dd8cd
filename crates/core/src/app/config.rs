//! How an installation reaches Microsoft and where it keeps its data: read once from
//! the `RULEWATCH_*` environment (the desktop) or the CLI's flags of the same names,
//! and checked here, so both front ends accept and refuse the same values.

use std::ffi::OsString;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cloud::{Cloud, Endpoints};
use crate::engine::EngineConfig;
use crate::secrets::{SecretStore, keychain_for};

/// Hours of audit history a tenant's first scan may read: Microsoft keeps content for 7
/// days (`../shared/reference/m365-api.md` §A4), and the scan stays inside them.
pub const BACKFILL_HOURS: RangeInclusive<u16> = crate::engine::BACKFILL_HOURS;
/// The most tenants scanned at once (fewer while Microsoft throttles).
pub const CONCURRENCY: RangeInclusive<u16> = 1..=64;
/// Hours between listings of the partner's customers; 0 lists before every scan.
pub const DISCOVERY_HOURS: RangeInclusive<u16> = 0..=168;
/// Seconds waited after throttling that names no wait.
pub const THROTTLE_WAIT_SECS: RangeInclusive<u16> = 1..=600;

/// One value of the configuration, named as the environment and the CLI name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Var {
    /// Where the database lives.
    DataDir,
    /// One base URL serving every Microsoft endpoint.
    Endpoints,
    /// Whether the keychain's secrets may go to an override on another machine.
    TrustEndpoints,
    /// The Microsoft cloud.
    Cloud,
    /// The MSP's own tenant id, sent as `PublisherIdentifier`.
    PublisherId,
    /// Hours of audit history a tenant's first scan reads.
    BackfillHours,
    /// Tenants scanned at once.
    Concurrency,
    /// Hours between listings of the partner's customers.
    DiscoveryHours,
    /// Seconds between read-backs of a remediation change not yet visible.
    VerifyDelays,
    /// Seconds waited after throttling that names no wait.
    ThrottleWaitSecs,
    /// The technician's name in alerts' history and the remediation record.
    Technician,
}

impl Var {
    const ALL: [Var; 11] = [
        Var::DataDir,
        Var::Endpoints,
        Var::TrustEndpoints,
        Var::Cloud,
        Var::PublisherId,
        Var::BackfillHours,
        Var::Concurrency,
        Var::DiscoveryHours,
        Var::VerifyDelays,
        Var::ThrottleWaitSecs,
        Var::Technician,
    ];

    /// The environment variable.
    pub fn env(self) -> &'static str {
        match self {
            Var::DataDir => "RULEWATCH_DATA_DIR",
            Var::Endpoints => "RULEWATCH_ENDPOINTS",
            Var::TrustEndpoints => "RULEWATCH_TRUST_ENDPOINTS",
            Var::Cloud => "RULEWATCH_CLOUD",
            Var::PublisherId => "RULEWATCH_PUBLISHER_ID",
            Var::BackfillHours => "RULEWATCH_BACKFILL_HOURS",
            Var::Concurrency => "RULEWATCH_CONCURRENCY",
            Var::DiscoveryHours => "RULEWATCH_DISCOVERY_HOURS",
            Var::VerifyDelays => "RULEWATCH_VERIFY_DELAYS",
            Var::ThrottleWaitSecs => "RULEWATCH_THROTTLE_WAIT_SECS",
            Var::Technician => "RULEWATCH_TECHNICIAN",
        }
    }

    /// How an error names it: both ways it can be given.
    fn named(self) -> String {
        let flag = self.env()["RULEWATCH_".len()..]
            .to_ascii_lowercase()
            .replace('_', "-");
        format!("{} (--{flag})", self.env())
    }
}

/// A configuration value that cannot be used, said with what to give instead.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {why}")]
pub struct ConfigError {
    var: String,
    why: String,
}

impl ConfigError {
    fn new(var: Var, why: impl Into<String>) -> Self {
        ConfigError {
            var: var.named(),
            why: why.into(),
        }
    }
}

/// The installation's configuration, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the database and the daily log live.
    pub data_dir: PathBuf,
    /// One base URL serving every Microsoft endpoint (the sandbox), when set.
    pub endpoints_override: Option<String>,
    /// The keychain's secrets may go to an override on another machine.
    pub trust_endpoints: bool,
    /// The cloud of tenants with none recorded, and the one a new tenant is read in
    /// when given.
    pub cloud: Option<Cloud>,
    /// The MSP's own tenant id, sent as `PublisherIdentifier` above any stored one.
    pub publisher_id: Option<String>,
    /// The first scan's look-back; the stored setting's when not given.
    pub backfill_hours: Option<u16>,
    /// Tenants scanned at once.
    pub concurrency: u16,
    /// Hours between listings of the partner's customers (0: before every scan).
    pub discovery_hours: u16,
    /// Waits between read-backs of a change not yet visible; the default when not given.
    pub verify_delays: Option<Vec<Duration>>,
    /// The least wait after throttling that names none; the default when not given.
    pub throttle_wait: Option<Duration>,
    /// Where the daily log file is written, when it is.
    pub log_dir: Option<PathBuf>,
    /// Who is at this workstation: the name alerts' history records.
    pub technician: String,
}

impl Config {
    /// The configuration from the `RULEWATCH_*` environment variables.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::read(|var| std::env::var_os(var.env()))
    }

    /// The configuration from `value`, which answers each variable as given (a flag,
    /// else the environment); unset ones take their defaults.
    pub fn read(value: impl Fn(Var) -> Option<OsString>) -> Result<Config, ConfigError> {
        let mut text = std::collections::HashMap::new();
        for var in Var::ALL {
            let Some(v) = value(var) else { continue };
            if var == Var::DataDir {
                continue;
            }
            let v = v.into_string().map_err(|_| {
                ConfigError::new(var, "is not valid text; give it in plain characters")
            })?;
            text.insert(var, v.trim().to_string());
        }
        let get = |var: Var| text.get(&var).filter(|v| !v.is_empty()).cloned();
        let data_dir = match value(Var::DataDir).filter(|d| !d.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => crate::default_data_dir().ok_or_else(|| {
                ConfigError::new(
                    Var::DataDir,
                    "no home folder found for the database; give a folder",
                )
            })?,
        };
        let endpoints_override = get(Var::Endpoints);
        if let Some(url) = &endpoints_override {
            Endpoints::single(url).map_err(|e| ConfigError::new(Var::Endpoints, e))?;
        }
        let cloud = get(Var::Cloud)
            .map(|c| c.parse::<Cloud>())
            .transpose()
            .map_err(|e| ConfigError::new(Var::Cloud, e))?;
        let publisher_id = get(Var::PublisherId)
            .map(|p| crate::tenants::parse_guid(p.as_str(), "your MSP's own tenant id"))
            .transpose()
            .map_err(|e| ConfigError::new(Var::PublisherId, e.to_string()))?;
        let hours = |var: Var, range: &RangeInclusive<u16>, why: &str| {
            get(var)
                .map(|h| {
                    let n: u16 = h.parse().map_err(|_| {
                        ConfigError::new(var, format!("'{h}' is not a whole number"))
                    })?;
                    if range.contains(&n) {
                        Ok(n)
                    } else {
                        Err(ConfigError::new(
                            var,
                            format!("{n} is not in {}..={}{why}", range.start(), range.end()),
                        ))
                    }
                })
                .transpose()
        };
        let backfill_hours = hours(
            Var::BackfillHours,
            &BACKFILL_HOURS,
            "; Microsoft keeps 7 days of audit content",
        )?;
        let concurrency = hours(Var::Concurrency, &CONCURRENCY, "")?.unwrap_or(32);
        let discovery_hours = hours(Var::DiscoveryHours, &DISCOVERY_HOURS, "")?.unwrap_or(24);
        let throttle_wait = hours(Var::ThrottleWaitSecs, &THROTTLE_WAIT_SECS, "")?
            .map(|s| Duration::from_secs(s.into()));
        let verify_delays = get(Var::VerifyDelays)
            .map(|d| parse_delays(d.as_str()))
            .transpose()?;
        let technician = match get(Var::Technician) {
            Some(name) => {
                checked_technician(&name).map_err(|why| ConfigError::new(Var::Technician, why))?
            }
            None => os_user(),
        };
        let trust_endpoints = get(Var::TrustEndpoints)
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"));
        Ok(Config {
            data_dir,
            endpoints_override,
            trust_endpoints,
            cloud,
            publisher_id,
            backfill_hours,
            concurrency,
            discovery_hours,
            verify_delays,
            throttle_wait,
            log_dir: None,
            technician,
        })
    }

    /// Where Microsoft is reached: the override, or the configured cloud's hosts.
    pub fn endpoints(&self) -> Endpoints {
        match &self.endpoints_override {
            // Checked when read.
            Some(url) => {
                Endpoints::single(url).unwrap_or_else(|_| Endpoints::for_cloud(Cloud::Global))
            }
            None => Endpoints::for_cloud(self.cloud.unwrap_or(Cloud::Global)),
        }
    }

    /// The keychain, withholding its secrets from an untrusted override on another machine.
    pub fn keychain(&self) -> Arc<dyn SecretStore> {
        keychain_for(self.endpoints_override.as_deref(), self.trust_endpoints)
    }

    /// The override's host, for a warning or the panel's banner.
    pub fn override_host(&self) -> Option<String> {
        self.endpoints_override
            .as_deref()
            .map(crate::cloud::override_host)
    }

    /// The engine's configuration, reaching Microsoft at `endpoints`, with the stored
    /// first-run look-back unless one was given.
    pub(crate) fn engine(&self, endpoints: Endpoints, stored_backfill: u16) -> EngineConfig {
        let mut config = EngineConfig::new(endpoints);
        config.publisher_id = self.publisher_id.clone();
        let backfill = self
            .backfill_hours
            .unwrap_or(stored_backfill)
            .clamp(*BACKFILL_HOURS.start(), *BACKFILL_HOURS.end());
        config.backfill = chrono::Duration::hours(backfill.into());
        config.concurrency = self.concurrency.into();
        config.discovery_every = chrono::Duration::hours(self.discovery_hours.into());
        if let Some(delays) = &self.verify_delays {
            config.verify_delays = delays.clone();
        }
        if let Some(wait) = self.throttle_wait {
            config.retry.throttle_floor = wait;
        }
        config
    }
}

/// Waits between read-backs: seconds, comma-separated, each from 0 to 60.
fn parse_delays(text: &str) -> Result<Vec<Duration>, ConfigError> {
    text.split(',')
        .map(|d| {
            d.trim()
                .parse::<f64>()
                .ok()
                .filter(|s| (0.0..=60.0).contains(s))
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    ConfigError::new(
                        Var::VerifyDelays,
                        format!(
                            "'{}' is not a number of seconds from 0 to 60; write e.g. 1,2,4,8",
                            d.trim()
                        ),
                    )
                })
        })
        .collect()
}

/// The longest technician name taken.
const TECHNICIAN_MAX: usize = 64;

/// A technician's name as given: printable text of at most 64 characters, since it is
/// shown to colleagues and written into every record.
fn checked_technician(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.chars().count() > TECHNICIAN_MAX {
        return Err(format!("is longer than {TECHNICIAN_MAX} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("holds control characters; give a plain name".into());
    }
    Ok(name.to_string())
}

/// The operating system's user, the default technician name.
fn os_user() -> String {
    whoami::username()
        .ok()
        .and_then(|n| checked_technician(&n).ok())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "technician".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(Var, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(Var, OsString)> = pairs.iter().map(|(v, s)| (*v, s.into())).collect();
        Config::read(|var| {
            if var == Var::DataDir {
                return Some("/tmp/rulewatch-config-test".into());
            }
            pairs
                .iter()
                .find(|(v, _)| *v == var)
                .map(|(_, s)| s.clone())
        })
    }

    #[test]
    fn unset_values_take_the_defaults_both_front_ends_had() {
        let c = read(&[]).unwrap();
        assert_eq!((c.concurrency, c.discovery_hours), (32, 24));
        assert_eq!(c.backfill_hours, None);
        assert_eq!(
            c.engine(c.endpoints(), 24).backfill,
            chrono::Duration::hours(24)
        );
        assert!(!c.trust_endpoints);
        assert_eq!(c.endpoints().cloud(), Some(Cloud::Global));
    }

    #[test]
    fn a_given_backfill_wins_over_the_stored_one() {
        let c = read(&[(Var::BackfillHours, "72")]).unwrap();
        assert_eq!(
            c.engine(c.endpoints(), 24).backfill,
            chrono::Duration::hours(72)
        );
    }

    #[test]
    fn each_refusal_names_the_variable_the_flag_and_the_bounds() {
        let e = read(&[(Var::BackfillHours, "168")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("RULEWATCH_BACKFILL_HOURS (--backfill-hours)")
                && e.contains("168 is not in 1..=167"),
            "{e}"
        );
        let e = read(&[(Var::DiscoveryHours, "soon")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--discovery-hours") && e.contains("'soon'"),
            "{e}"
        );
        let e = read(&[(Var::VerifyDelays, "1,x")]).unwrap_err().to_string();
        assert!(e.contains("'x' is not a number of seconds"), "{e}");
        let e = read(&[(Var::Cloud, "mars")]).unwrap_err().to_string();
        assert!(
            e.contains("RULEWATCH_CLOUD") && e.contains("unknown cloud 'mars'"),
            "{e}"
        );
        let e = read(&[(Var::PublisherId, "not-a-guid")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("RULEWATCH_PUBLISHER_ID"), "{e}");
        let e = read(&[(Var::Endpoints, "not a url")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("RULEWATCH_ENDPOINTS (--endpoints)"), "{e}");
    }

    #[test]
    fn values_given_are_used() {
        let c = read(&[
            (Var::Concurrency, "3"),
            (Var::DiscoveryHours, "0"),
            (Var::VerifyDelays, "0.5, 1"),
            (Var::ThrottleWaitSecs, "2"),
            (Var::TrustEndpoints, "1"),
            (Var::Cloud, "gcc"),
        ])
        .unwrap();
        let e = c.engine(c.endpoints(), 24);
        assert_eq!(e.concurrency, 3);
        assert_eq!(e.discovery_every, chrono::Duration::zero());
        assert_eq!(
            e.verify_delays,
            vec![Duration::from_millis(500), Duration::from_secs(1)]
        );
        assert_eq!(e.retry.throttle_floor, Duration::from_secs(2));
        assert!(c.trust_endpoints);
        assert_eq!(c.endpoints().cloud(), Some(Cloud::Gcc));
    }
}
