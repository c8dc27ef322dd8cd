//! `rulewatch geo show|ipstack|mmdb|off|lookup`: where alerts' addresses are located.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use rulewatch_core::geo::{self, Answer, Geo, GeoProvider};
use rulewatch_core::secrets::{Keychain, NO_TENANT, SecretError, SecretKind, SecretStore};
use serde_json::json;

use crate::Global;

#[derive(Subcommand)]
pub enum GeoCommand {
    /// The provider, its files or whether its key is in the keychain, the cache and the
    /// last problem
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Locate with ipstack: reads the API key (one line) from standard input and keeps it
    /// in the OS keychain
    Ipstack,
    /// Locate with offline MaxMind-format databases (GeoLite2 or DB-IP Lite)
    Mmdb {
        /// A City database, e.g. GeoLite2-City.mmdb or dbip-city-lite.mmdb
        city: PathBuf,
        /// An ASN database for the network's name, e.g. GeoLite2-ASN.mmdb or dbip-asn-lite.mmdb
        #[arg(long, value_name = "ASN_FILE")]
        asn: Option<PathBuf>,
    },
    /// Stop locating addresses and remove the ipstack key from the keychain
    Off,
    /// Locate one address now (exit 1 when no provider could be asked)
    Lookup {
        /// An address as audit records give it: a.b.c.d, a.b.c.d:port, [v6]:port or v6
        ip: String,
        #[arg(long)]
        json: bool,
    },
}

/// Runs a keychain call off the async runtime: it blocks on D-Bus or the platform API.
async fn keychain<T: Send + 'static>(
    f: impl FnOnce(&Keychain) -> Result<T, SecretError> + Send + 'static,
) -> Result<T> {
    Ok(tokio::task::spawn_blocking(move || f(&Keychain)).await??)
}

pub async fn run(g: &Global, cmd: GeoCommand) -> Result<ExitCode> {
    let store = g.store()?;
    match cmd {
        GeoCommand::Show { json } => {
            let provider = store.geo_provider()?;
            let key = match keychain(|k| k.get(NO_TENANT, SecretKind::IpstackKey).map(|_| ())).await
            {
                Ok(()) => "in the keychain".to_string(),
                Err(e) => match e.downcast_ref::<SecretError>() {
                    Some(SecretError::MissingIpstackKey) => "not in the keychain".to_string(),
                    _ => format!("unknown: {e}"),
                },
            };
            let cached = store.location_cache_size(chrono::Utc::now())?;
            // Opening the provider finds today's problems too (a database file gone since).
            let problem = Geo::new(store.clone(), Arc::new(Keychain), &g.endpoints()?).problem();
            if json {
                let view = json!({"provider": provider, "ipstack_key": key, "cached_locations": cached, "problem": problem});
                println!("{view}");
                return Ok(ExitCode::SUCCESS);
            }
            match &provider {
                GeoProvider::Off => println!("provider: off (no address is located)"),
                GeoProvider::Ipstack => println!("provider: ipstack"),
                GeoProvider::Mmdb { city, asn } => {
                    println!("provider: offline databases");
                    println!("city database: {}", city.display());
                    println!(
                        "ASN database: {}",
                        asn.as_ref()
                            .map_or("none".into(), |a| a.display().to_string())
                    );
                }
            }
            println!("ipstack API key: {key}");
            println!("cached locations: {cached}");
            println!("last problem: {}", problem.as_deref().unwrap_or("none"));
        }
        GeoCommand::Ipstack => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the ipstack API key from standard input")?;
            let key = line.trim().to_string();
            if key.is_empty() {
                bail!(
                    "no ipstack API key on standard input: pipe it in, e.g. `rulewatch geo ipstack < ipstack-key.txt`"
                );
            }
            keychain(move |k| k.set(NO_TENANT, SecretKind::IpstackKey, key.as_bytes())).await?;
            store.set_geo_provider(&GeoProvider::Ipstack)?;
            // A new key: whatever the old one ran into no longer applies.
            store.set_geo_problem(None)?;
            eprintln!(
                "ipstack now locates alerts' addresses; its key is in the OS keychain. Try `rulewatch geo lookup 8.8.8.8`."
            );
        }
        GeoCommand::Mmdb { city, asn } => {
            let (c, a) = (city.clone(), asn.clone());
            tokio::task::spawn_blocking(move || geo::check_mmdb(&c, a.as_deref())).await??;
            // Absolute paths, so the setting holds whatever folder Rulewatch runs from.
            let absolute = |p: PathBuf| {
                std::fs::canonicalize(&p).with_context(|| format!("resolving {}", p.display()))
            };
            let provider = GeoProvider::Mmdb {
                city: absolute(city)?,
                asn: asn.map(absolute).transpose()?,
            };
            store.set_geo_provider(&provider)?;
            eprintln!(
                "The offline databases now locate alerts' addresses. Try `rulewatch geo lookup 8.8.8.8`."
            );
        }
        GeoCommand::Off => {
            store.set_geo_provider(&GeoProvider::Off)?;
            keychain(|k| k.delete(NO_TENANT, SecretKind::IpstackKey)).await.map_err(|e| {
                anyhow!("geolocation is off, but the ipstack key could not be removed from the keychain: {e}")
            })?;
            eprintln!("Geolocation is off; no ipstack key is left in the keychain.");
        }
        GeoCommand::Lookup { ip, json } => {
            let geo = Geo::new(store, Arc::new(Keychain), &g.endpoints()?);
            let (location, reason) = match geo.resolve(&ip).await {
                Answer::Found(location) => (Some(location), None),
                Answer::Unknown => (
                    None,
                    Some("the provider knows nothing of this address".to_string()),
                ),
                Answer::NotPublic(addr) => (
                    None,
                    Some(format!(
                        "{addr} is in a private or reserved range, which is never looked up"
                    )),
                ),
                Answer::NotAnIp => bail!("'{ip}' is not an IP address"),
                Answer::Off => bail!(
                    "geolocation is off: choose a provider with `rulewatch geo ipstack` or `rulewatch geo mmdb CITY_FILE`"
                ),
                Answer::Failed(problem) => bail!("no location for {ip}: {problem}"),
            };
            if json {
                println!(
                    "{}",
                    json!({"ip": ip, "location": location, "reason": reason})
                );
            } else {
                match (location, reason) {
                    (Some(l), _) => println!("{}: {}", l.ip, l.describe()),
                    (None, reason) => println!("{ip}: {}", reason.unwrap_or_default()),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
