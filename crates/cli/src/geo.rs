//! `rulewatch geo show|ipstack|mmdb|off|lookup`: where alerts' addresses are located.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use rulewatch_core::app::{Answer, GeoFix, GeoProvider, GeoUpdate, KeyState};
use serde_json::json;

use crate::Global;

#[derive(Subcommand)]
pub(crate) enum GeoCommand {
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

pub(crate) async fn run(g: &Global, cmd: GeoCommand) -> Result<ExitCode> {
    let session = g.session()?;
    match cmd {
        GeoCommand::Show { json } => {
            let status = session.geo_status().await?;
            let key = match status.ipstack_key {
                KeyState::Stored => "in the keychain".to_string(),
                KeyState::Missing => "not in the keychain".to_string(),
                KeyState::Unknown(e) => format!("unknown: {e}"),
            };
            let (provider, cached, problem) =
                (status.provider, status.cached_locations, status.problem);
            if json {
                // `problem` stays the words, as before; what helps is beside it.
                let (words, fix) = problem.map_or((None, None), |p| (Some(p.message), p.fix));
                let view = json!({"provider": provider, "ipstack_key": key, "cached_locations": cached,
                                  "problem": words, "problem_fix": fix});
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
            match problem {
                Some(p) => println!(
                    "last problem: {}{}",
                    rulewatch_core::shown::shown(&p.message),
                    fix_hint(p.fix)
                ),
                None => println!("last problem: none"),
            }
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
            session
                .set_geo(GeoUpdate::Ipstack { key: Some(key) })
                .await?;
            eprintln!(
                "ipstack now locates alerts' addresses; its key is in the OS keychain. Try `rulewatch geo lookup 8.8.8.8`."
            );
        }
        GeoCommand::Mmdb { city, asn } => {
            let text = |p: PathBuf| {
                p.into_os_string().into_string().map_err(|p| {
                    anyhow::anyhow!("{} is not a path in plain characters", p.display())
                })
            };
            let update = GeoUpdate::Mmdb {
                city: text(city)?,
                asn: asn.map(text).transpose()?,
            };
            session.set_geo(update).await?;
            eprintln!(
                "The offline databases now locate alerts' addresses. Try `rulewatch geo lookup 8.8.8.8`."
            );
        }
        GeoCommand::Off => {
            session.set_geo(GeoUpdate::Off).await?;
            eprintln!("Geolocation is off; no ipstack key is left in the keychain.");
        }
        GeoCommand::Lookup { ip, json } => {
            let (location, reason) = match session.locate(&ip).await {
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
                Answer::Failed(problem) => bail!(
                    "no location for {ip}: {}{}",
                    problem.message,
                    fix_hint(problem.fix)
                ),
            };
            if json {
                println!(
                    "{}",
                    json!({"ip": ip, "location": location, "reason": reason})
                );
            } else {
                match (location, reason) {
                    (Some(l), _) => {
                        println!("{}: {}", l.ip, rulewatch_core::shown::shown(&l.describe()))
                    }
                    (None, reason) => println!("{ip}: {}", reason.unwrap_or_default()),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The command that applies a geolocation fix: core says what helps, the CLI names how.
fn fix_hint(fix: Option<GeoFix>) -> &'static str {
    match fix {
        Some(GeoFix::NewIpstackKey) => {
            " (`rulewatch geo ipstack` reads a new key from standard input)"
        }
        Some(GeoFix::OfflineDatabases) => {
            " (`rulewatch geo mmdb CITY_FILE` uses offline databases instead)"
        }
        None => "",
    }
}
