//! Team mode (issue 14): a workstation's store on the team's PostgreSQL server instead of
//! its own SQLite file. Joining writes `team.json` in the data folder (the server's URL
//! without its password, and this workstation's id) and puts the password in the
//! keychain; every Rulewatch on that folder then opens the shared store. Leaving removes
//! both, and the local file is used again as it was.
//!
//! The connection is encrypted and the server's certificate checked unless the URL says
//! otherwise, as libpq's `sslmode` does: `verify-full` (the default: a trusted chain
//! naming the host), `verify-ca` (a trusted chain), `require` (encrypted, unchecked), or
//! `disable`, accepted only for a server on this machine. `prefer` and `allow` are
//! refused: they fall back to plain text when the network says so. The trusted roots
//! are the system's, or only those in `sslrootcert=FILE` (libpq's own default file,
//! ~/.postgresql/root.crt, is not read).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::secrets::{SecretError, SecretKind, SecretStore};
use crate::store::db::Postgres;
use crate::store::{Store, StoreError};

/// The file in the data folder that says the folder's store is the team's.
pub const TEAM_FILE: &str = "team.json";

/// How long joining or opening waits for the server before saying it cannot be reached.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// Why joining, leaving or opening the team's store failed; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// The URL is not one Rulewatch connects to; says why.
    #[error("{0}")]
    BadUrl(String),
    /// The server could not be reached, refused the sign-in, or its certificate.
    #[error("the team's database at {url} cannot be reached: {detail}")]
    Unreachable {
        /// The URL, without a password.
        url: String,
        /// Why, with what to do when it is known.
        detail: String,
    },
    /// The team file in the data folder cannot be read or written.
    #[error("{path}: {detail}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong and what to do.
        detail: String,
    },
    /// This folder is in a team already.
    #[error("this data folder already uses the team's database at {0}: leave the team first")]
    AlreadyJoined(String),
    /// The keychain failed.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The shared store could not be opened or upgraded.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// libpq's `sslmode`, as far as Rulewatch honours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// No encryption: only for a server on this machine.
    Disable,
    /// Encrypted; the certificate is not checked.
    Require,
    /// Encrypted; the certificate chains to a trusted root, whatever host it names.
    VerifyCa,
    /// Encrypted; the certificate chains to a trusted root and names the host.
    VerifyFull,
}

impl SslMode {
    /// libpq's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// A name or address, over TCP.
    Tcp(String),
    /// A Unix socket's folder on this machine.
    Socket(PathBuf),
}

/// The team's server, as a URL names it.
#[derive(Debug, Clone)]
pub struct Target {
    url: String,
    host: Host,
    port: u16,
    user: String,
    dbname: String,
    sslmode: SslMode,
    root: Option<PathBuf>,
}

/// What `team.json` holds: nothing secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Membership {
    /// The server's URL, without a password.
    pub url: String,
    /// This workstation's id, which owns its keychain entries.
    pub workstation: String,
    /// When it joined.
    pub joined_at: String,
}

/// The query parameters a team URL may carry.
const PARAMETERS: [&str; 4] = ["sslmode", "sslrootcert", "host", "port"];

/// Reads a `postgres://` (or `postgresql://`) URL: the target, and the password when
/// the URL carries one.
pub fn parse(url: &str) -> Result<(Target, Option<SecretString>), TeamError> {
    let bad = |why: String| TeamError::BadUrl(why);
    let parsed = url::Url::parse(url.trim()).map_err(|e| {
        bad(format!(
            "the team's database must be given as a URL such as postgres://USER@HOST/DATABASE ({e})"
        ))
    })?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(bad(format!(
            "the team's database URL must begin postgres:// (it begins {}://)",
            parsed.scheme()
        )));
    }
    let decode = |s: &str| -> Result<String, TeamError> {
        percent_decode(s).ok_or_else(|| bad("the URL holds a %-escape that is not UTF-8".into()))
    };
    let user = decode(parsed.username())?;
    if user.is_empty() {
        return Err(bad(
            "the URL names no database user: give one, as in postgres://USER@HOST/DATABASE".into(),
        ));
    }
    let password = match parsed.password() {
        Some(p) => Some(SecretString::from(decode(p)?)),
        None => None,
    };
    let mut sslmode = SslMode::VerifyFull;
    let mut root = None;
    let mut host_param = None;
    let mut port_param = None;
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "sslmode" => {
                sslmode = match value.as_ref() {
                    "disable" => SslMode::Disable,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    "prefer" | "allow" => {
                        return Err(bad(format!(
                            "sslmode={value} falls back to an unencrypted connection whenever the network says so: \
                             use verify-full (the default), verify-ca or require, or disable for a server on this machine"
                        )));
                    }
                    other => {
                        return Err(bad(format!(
                            "sslmode={other} is not one Rulewatch knows: use verify-full (the default), verify-ca, require or disable"
                        )));
                    }
                }
            }
            "sslrootcert" => root = Some(PathBuf::from(value.as_ref())),
            "host" => host_param = Some(value.to_string()),
            "port" => port_param = Some(value.to_string()),
            other => {
                return Err(bad(format!(
                    "the URL's parameter {other} is not one Rulewatch reads: it reads {}",
                    PARAMETERS.join(", ")
                )));
            }
        }
    }
    let host = match (parsed.host_str(), host_param) {
        (_, Some(h)) if h.starts_with('/') => Host::Socket(PathBuf::from(h)),
        (_, Some(h)) => Host::Tcp(h),
        (Some(h), None) if !h.is_empty() => {
            let h = decode(h)?;
            if h.starts_with('/') {
                Host::Socket(PathBuf::from(h))
            } else {
                Host::Tcp(h.trim_start_matches('[').trim_end_matches(']').to_string())
            }
        }
        _ => {
            return Err(bad(
                "the URL names no server: give its host, as in postgres://USER@HOST/DATABASE"
                    .into(),
            ));
        }
    };
    let port = match port_param {
        Some(p) => p
            .parse()
            .map_err(|_| bad(format!("port={p} is not a port number")))?,
        None => parsed.port().unwrap_or(5432),
    };
    let dbname = decode(parsed.path().trim_start_matches('/'))?;
    let dbname = if dbname.is_empty() {
        user.clone()
    } else {
        dbname
    };
    if sslmode == SslMode::Disable && !on_this_machine(&host) {
        return Err(bad(format!(
            "sslmode=disable would send the team's alerts and your password unencrypted to {}: \
             it is accepted only for a server on this machine (localhost or a Unix socket)",
            match &host {
                Host::Tcp(h) => h.as_str(),
                Host::Socket(_) => "a socket",
            }
        )));
    }
    let mut shown = parsed.clone();
    // Never fails on a URL with a host; a socket URL has no password slot to clear.
    let _ = shown.set_password(None);
    Ok((
        Target {
            url: shown.to_string(),
            host,
            port,
            user,
            dbname,
            sslmode,
            root,
        },
        password,
    ))
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|d| d.into_owned())
}

fn on_this_machine(host: &Host) -> bool {
    match host {
        Host::Socket(_) => true,
        Host::Tcp(h) => {
            h.eq_ignore_ascii_case("localhost")
                || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    }
}

impl Target {
    /// The URL, without a password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How the connection is protected.
    pub fn sslmode(&self) -> SslMode {
        self.sslmode
    }

    /// Connects, as `password` says.
    pub fn connect(&self, password: Option<&SecretString>) -> Result<Postgres, TeamError> {
        let mut config = postgres::Config::new();
        match &self.host {
            Host::Tcp(h) => config.host(h),
            Host::Socket(dir) => config.host_path(dir),
        };
        config
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name("rulewatch")
            .connect_timeout(CONNECT_WAIT);
        if let Some(p) = password {
            config.password(p.expose_secret());
        }
        let unreachable = |detail: String| TeamError::Unreachable {
            url: self.url.clone(),
            detail,
        };
        let connected = match self.sslmode {
            SslMode::Disable => {
                config.ssl_mode(postgres::config::SslMode::Disable);
                Postgres::connect(config, postgres::NoTls)
            }
            mode => {
                config.ssl_mode(postgres::config::SslMode::Require);
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(self.tls(mode)?);
                Postgres::connect(config, tls)
            }
        };
        connected.map_err(|e| {
            let detail = e.to_string();
            let hint = if detail.contains("not valid for name") {
                ". Connect by the name the certificate carries, or use sslmode=verify-ca"
            } else if detail.contains("certificate") || detail.contains("Certificate") {
                ". If the server's certificate comes from your own CA, give it with sslrootcert=FILE in the URL"
            } else if detail.contains("password") {
                ". Join again with the right password (--password-stdin)"
            } else {
                ""
            };
            unreachable(format!("{detail}{hint}"))
        })
    }

    fn tls(&self, mode: SslMode) -> Result<rustls::ClientConfig, TeamError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls_error = |detail: String| TeamError::Unreachable {
            url: self.url.clone(),
            detail,
        };
        let checked: Arc<dyn ServerCertVerifier> = match &self.root {
            Some(file) => {
                let mut roots = rustls::RootCertStore::empty();
                let certs = CertificateDer::pem_file_iter(file)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        tls_error(format!(
                            "sslrootcert={} cannot be read as PEM certificates ({e})",
                            file.display()
                        ))
                    })?;
                for cert in certs {
                    roots.add(cert).map_err(|e| {
                        tls_error(format!(
                            "sslrootcert={} holds a certificate that cannot be trusted ({e})",
                            file.display()
                        ))
                    })?;
                }
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider.clone(),
                )
                .build()
                .map_err(|e| tls_error(format!("no certificate check can be built ({e})")))?
            }
            None => Arc::new(
                rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
                    tls_error(format!("the system's trusted roots cannot be read ({e})"))
                })?,
            ),
        };
        let verifier: Arc<dyn ServerCertVerifier> = match mode {
            SslMode::VerifyFull | SslMode::Disable => checked,
            SslMode::VerifyCa => Arc::new(Lenient {
                inner: checked,
                name_only: true,
            }),
            SslMode::Require => Arc::new(Lenient {
                inner: checked,
                name_only: false,
            }),
        };
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(format!("no TLS version can be offered ({e})")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }
}

/// `verify-ca` (a certificate for another name is accepted) and `require` (any
/// certificate is); the handshake's signatures are always checked.
#[derive(Debug)]
struct Lenient {
    inner: Arc<dyn ServerCertVerifier>,
    name_only: bool,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(v) => Ok(v),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.name_only => Ok(ServerCertVerified::assertion()),
            Err(_) if !self.name_only => Ok(ServerCertVerified::assertion()),
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn file_error(path: &Path, detail: String) -> TeamError {
    TeamError::File {
        path: path.to_path_buf(),
        detail,
    }
}

/// The folder's membership, when it is in a team.
pub fn membership(dir: &Path) -> Result<Option<Membership>, TeamError> {
    let path = dir.join(TEAM_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(&path, format!("cannot be read ({e})"))),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        file_error(
            &path,
            format!("is damaged ({e}); leave the team and join again"),
        )
    })
}

/// Joins the team whose database `url` names: connects (with `password`, else the URL's
/// own), brings the shared schema up to date, then records the membership and the
/// password. Nothing is recorded when any of it fails.
pub fn join(
    dir: &Path,
    secrets: &dyn SecretStore,
    url: &str,
    password: Option<SecretString>,
) -> Result<(Membership, Target), TeamError> {
    if let Some(m) = membership(dir)? {
        return Err(TeamError::AlreadyJoined(m.url));
    }
    let (target, in_url) = parse(url)?;
    let password = password.or(in_url);
    let workstation = uuid::Uuid::new_v4().simple().to_string();
    let store = Store::on_postgres(target.connect(password.as_ref())?, dir, &workstation)?;
    drop(store);
    let membership = Membership {
        url: target.url.clone(),
        workstation,
        joined_at: crate::store::ts(Utc::now()),
    };
    if let Some(p) = &password {
        secrets.set(
            &membership.workstation,
            SecretKind::TeamPassword,
            p.expose_secret().as_bytes(),
        )?;
    }
    let path = dir.join(TEAM_FILE);
    let text = serde_json::to_string_pretty(&membership)
        .map_err(|e| file_error(&path, format!("cannot be written ({e})")))?;
    crate::folder::write_private(&path, text.as_bytes())
        .map_err(|e| file_error(&path, format!("cannot be written ({e})")))?;
    Ok((membership, target))
}

/// Leaves the team: the folder's own SQLite file is used again. Answers the membership
/// left, if there was one.
pub fn leave(dir: &Path, secrets: &dyn SecretStore) -> Result<Option<Membership>, TeamError> {
    let Some(m) = membership(dir)? else {
        return Ok(None);
    };
    secrets.delete(&m.workstation, SecretKind::TeamPassword)?;
    let path = dir.join(TEAM_FILE);
    std::fs::remove_file(&path)
        .map_err(|e| file_error(&path, format!("cannot be removed ({e})")))?;
    Ok(Some(m))
}

/// The team's store and this folder's membership, when the folder is in a team.
pub fn open(
    dir: &Path,
    secrets: &dyn SecretStore,
) -> Result<Option<(Store, Membership)>, TeamError> {
    let Some(m) = membership(dir)? else {
        return Ok(None);
    };
    let (target, _) = parse(&m.url)?;
    let password = match secrets.get(&m.workstation, SecretKind::TeamPassword) {
        Ok(p) => Some(SecretString::from(
            String::from_utf8(p.expose_secret().to_vec()).map_err(|_| SecretError::Failed {
                detail: "the team database's password in the keychain is not text".into(),
            })?,
        )),
        Err(SecretError::MissingTeamPassword) => None,
        Err(e) => return Err(e.into()),
    };
    let store = Store::on_postgres(target.connect(password.as_ref())?, dir, &m.workstation)?;
    Ok(Some((store, m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> String {
        match parse(url) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{url} was accepted"),
        }
    }

    #[test]
    fn a_team_url_is_checked_before_anything_is_stored() {
        let (t, password) =
            parse("postgres://desk:s3cr%40t@db.msp.example:6543/rulewatch").unwrap();
        assert_eq!(
            t.sslmode(),
            SslMode::VerifyFull,
            "verification is the default"
        );
        assert_eq!(
            (t.host.clone(), t.port, t.user.as_str(), t.dbname.as_str()),
            (
                Host::Tcp("db.msp.example".into()),
                6543,
                "desk",
                "rulewatch"
            )
        );
        assert_eq!(password.unwrap().expose_secret(), "s3cr@t");
        assert!(!t.url().contains("s3cr"), "{}", t.url());

        let e = refused("postgres://desk@db.msp.example/rw?sslmode=disable");
        assert!(
            e.contains("unencrypted") && e.contains("this machine"),
            "{e}"
        );
        for local in [
            "postgres://desk@localhost/rw?sslmode=disable",
            "postgres://desk@127.0.0.1/rw?sslmode=disable",
            "postgres://desk@[::1]/rw?sslmode=disable",
            "postgres://desk@%2Frun%2Fpostgresql/rw?sslmode=disable",
            "postgres://desk@socket/rw?host=/run/postgresql&sslmode=disable",
        ] {
            let (t, _) = parse(local).unwrap_or_else(|e| panic!("{local}: {e}"));
            assert_eq!(t.sslmode(), SslMode::Disable, "{local}");
        }
        let (t, _) = parse("postgres://desk@%2Frun%2Fpostgresql/rw").unwrap();
        assert_eq!(t.host, Host::Socket("/run/postgresql".into()));

        let e = refused("postgres://desk@db.msp.example/rw?sslmode=prefer");
        assert!(e.contains("falls back"), "{e}");
        let e = refused("postgres://desk@db.msp.example/rw?sslmode=verify-fully");
        assert!(e.contains("verify-full"), "{e}");
        let e = refused("postgres://desk@db.msp.example/rw?options=-c%20x");
        assert!(e.contains("options") && e.contains("sslmode"), "{e}");
        let e = refused("mysql://desk@db.msp.example/rw");
        assert!(e.contains("postgres://"), "{e}");
        let e = refused("postgres://db.msp.example/rw");
        assert!(e.contains("no database user"), "{e}");
        let (t, _) = parse("postgresql://desk@db.msp.example?sslmode=require").unwrap();
        assert_eq!((t.dbname.as_str(), t.sslmode()), ("desk", SslMode::Require));
    }
}
