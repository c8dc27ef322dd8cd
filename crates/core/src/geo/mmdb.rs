//! Offline MaxMind-format databases (GeoLite2, DB-IP Lite): a City file for the place,
//! and optionally an ASN file for the network. Both are read whole into memory once.
#![warn(missing_docs)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{Reader, geoip2};

use super::Location;

pub(super) const SOURCE: &str = "mmdb";

/// A file that cannot serve as the database it was given as.
#[derive(Debug, thiserror::Error)]
pub enum MmdbError {
    /// The City database cannot be read, or is another kind of database.
    #[error(
        "cannot open {} as a MaxMind database: {detail}; download GeoLite2-City.mmdb or DB-IP's \
         dbip-city-lite.mmdb and give its path", .path.display()
    )]
    City {
        /// The file given.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The ASN database cannot be read, or is another kind of database.
    #[error(
        "cannot open {} as a MaxMind ASN database: {detail}; download GeoLite2-ASN.mmdb or DB-IP's \
         dbip-asn-lite.mmdb and give its path, or leave out --asn", .path.display()
    )]
    Asn {
        /// The file given.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
}

pub(super) struct Databases {
    city: Reader<Vec<u8>>,
    asn: Option<Reader<Vec<u8>>>,
}

/// Opens `path` and checks that its metadata names a database of the wanted kind
/// (GeoLite2-City, DBIP-City-Lite, GeoLite2-ASN, DBIP-ASN-Lite…).
fn open(path: &Path, kinds: &[&str], wanted: &str) -> Result<Reader<Vec<u8>>, String> {
    let reader = Reader::open_readfile(path).map_err(|e| e.to_string())?;
    let kind = reader.metadata().database_type.to_ascii_lowercase();
    if !kinds.iter().any(|k| kind.contains(k)) {
        return Err(format!(
            "it is a {} database, not {wanted}",
            reader.metadata().database_type
        ));
    }
    Ok(reader)
}

impl Databases {
    pub(super) fn open(city: &Path, asn: Option<&Path>) -> Result<Self, MmdbError> {
        let city_db = open(city, &["city", "enterprise"], "a City database").map_err(|detail| {
            MmdbError::City {
                path: city.to_path_buf(),
                detail,
            }
        })?;
        let asn_db = asn
            .map(|p| {
                open(p, &["asn", "isp"], "an ASN database").map_err(|detail| MmdbError::Asn {
                    path: p.to_path_buf(),
                    detail,
                })
            })
            .transpose()?;
        Ok(Databases {
            city: city_db,
            asn: asn_db,
        })
    }

    /// `Ok(None)`: neither file knows `ip`.
    pub(super) fn lookup(&self, ip: IpAddr) -> Result<Option<Location>, String> {
        let mut location = Location::unknown(ip, SOURCE);
        if let Some(city) = decode::<geoip2::City>(&self.city, ip)? {
            location.country_code = city.country.iso_code.map(str::to_string);
            location.country = city.country.names.english.map(str::to_string);
            location.region = city
                .subdivisions
                .first()
                .and_then(|s| s.names.english)
                .map(str::to_string);
            location.city = city.city.names.english.map(str::to_string);
        }
        if let Some(asn_db) = &self.asn
            && let Some(asn) = decode::<geoip2::Asn>(asn_db, ip)?
        {
            location.asn = asn.autonomous_system_number;
            location.network = asn.autonomous_system_organization.map(str::to_string);
        }
        Ok(location.knows_something().then_some(location))
    }
}

fn decode<'a, T: serde::Deserialize<'a>>(
    reader: &'a Reader<Vec<u8>>,
    ip: IpAddr,
) -> Result<Option<T>, String> {
    // An IPv4-only file cannot know an IPv6 address; that is no error.
    if ip.is_ipv6() && reader.metadata().ip_version == 4 {
        return Ok(None);
    }
    let found = reader
        .lookup(ip)
        .map_err(|e| format!("the database cannot be read at {ip} ({e})"))?;
    found
        .decode::<T>()
        .map_err(|e| format!("the database's record for {ip} cannot be read ({e})"))
}
