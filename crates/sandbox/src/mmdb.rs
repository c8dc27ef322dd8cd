//! Offline geolocation databases in the MaxMind DB format, laid out as GeoLite2 and
//! DB-IP Lite ship them: the stand-in for a file a technician downloads, read by the
//! real `maxminddb` reader in tests.

use std::net::IpAddr;
use std::path::Path;

use maxminddb_writer::Database;
use maxminddb_writer::metadata::IpVersion;
use maxminddb_writer::paths::IpAddrWithMask;
use serde::Serialize;

/// One network of a City database.
pub struct Place {
    /// CIDR, e.g. `41.58.0.0/16` or `2a09:bac5::/32`.
    pub network: &'static str,
    /// The city's English name (`city.names.en`).
    pub city: &'static str,
    /// The first subdivision's English name (`subdivisions[0].names.en`).
    pub region: &'static str,
    /// The country's ISO 3166-1 alpha-2 code (`country.iso_code`).
    pub country_code: &'static str,
    /// The country's English name (`country.names.en`).
    pub country: &'static str,
}

/// One network of an ASN database.
pub struct Network {
    /// CIDR, e.g. `41.58.0.0/16` or `2a09:bac5::/32`.
    pub network: &'static str,
    /// The autonomous system number (`autonomous_system_number`).
    pub asn: u32,
    /// The autonomous system's organisation (`autonomous_system_organization`).
    pub organization: &'static str,
}

#[derive(Serialize)]
struct Names {
    en: &'static str,
}

#[derive(Serialize)]
struct Named {
    names: Names,
}

#[derive(Serialize)]
struct Country {
    iso_code: &'static str,
    names: Names,
}

#[derive(Serialize)]
struct CityRecord {
    city: Named,
    country: Country,
    subdivisions: Vec<Named>,
}

#[derive(Serialize)]
struct AsnRecord {
    autonomous_system_number: u32,
    autonomous_system_organization: &'static str,
}

/// Writes a `GeoLite2-City` database.
/// Overwrites `path`; a network that is not a CIDR fails with `InvalidInput`.
pub fn write_city(path: &Path, places: &[Place]) -> std::io::Result<()> {
    let records = places.iter().map(|p| {
        let record = CityRecord {
            city: Named {
                names: Names { en: p.city },
            },
            country: Country {
                iso_code: p.country_code,
                names: Names { en: p.country },
            },
            subdivisions: vec![Named {
                names: Names { en: p.region },
            }],
        };
        (p.network, record)
    });
    write(path, "GeoLite2-City", records)
}

/// Writes a `GeoLite2-ASN` database.
/// Overwrites `path`; a network that is not a CIDR fails with `InvalidInput`.
pub fn write_asn(path: &Path, networks: &[Network]) -> std::io::Result<()> {
    let records = networks.iter().map(|n| {
        (
            n.network,
            AsnRecord {
                autonomous_system_number: n.asn,
                autonomous_system_organization: n.organization,
            },
        )
    });
    write(path, "GeoLite2-ASN", records)
}

/// An IPv6 tree with IPv4 networks where the format puts them (`::a.b.c.d`).
fn write<T: Serialize>(
    path: &Path,
    kind: &str,
    records: impl Iterator<Item = (&'static str, T)>,
) -> std::io::Result<()> {
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
    let mut db = Database::default();
    db.metadata.ip_version = IpVersion::V6;
    db.metadata.database_type = kind.into();
    db.metadata.languages = vec!["en".into()];
    db.metadata.binary_format_major_version = 2;
    db.metadata.build_epoch = 1_760_000_000;
    db.metadata.description =
        [("en".to_string(), format!("{kind} written by m365-sandbox"))].into();
    for (network, record) in records {
        let (addr, len) = network
            .split_once('/')
            .ok_or_else(|| invalid(format!("{network} is not a CIDR network")))?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| invalid(format!("{network} has no valid address")))?;
        let len: u8 = len
            .parse()
            .map_err(|_| invalid(format!("{network} has no valid prefix length")))?;
        let data = db
            .insert_value(record)
            .map_err(|e| invalid(e.to_string()))?;
        let path = match addr {
            IpAddr::V4(v4) => IpAddrWithMask::new(IpAddr::V6(v4.to_ipv6_compatible()), len + 96),
            v6 => IpAddrWithMask::new(v6, len),
        };
        db.insert_node(path, data);
    }
    db.write_to(std::fs::File::create(path)?)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(())
}
