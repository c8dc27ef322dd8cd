//! The SQLite store: one file, WAL, versioned migrations, foreign keys on. Processing a
//! blob commits its alerts, their outbox entries, the blob's "processed" mark and the
//! cursor in one transaction, so a crash at any instant loses and repeats nothing.

mod alerts;
mod allowlist;
mod geo;
mod models;
mod partner;
mod remediation;
mod scan_state;
mod settings;
mod subscriptions;
mod tenants;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use serde_json::Value;

use crate::cloud::Cloud;

pub use geo::{CacheHit, GeoProvider, Location};
pub use models::{Alert, AlertStatus, NewAlert, SignIn, TenantRow, TenantState, TenantStatus};
pub use partner::CustomerRow;
pub use remediation::{
    CHAIN_DOES_NOT_PROVE, CHAIN_PROVES, ChainHead, ChainReport, LogEntry, NewLogEntry,
};
pub use scan_state::{BlobCommit, StatusUpdate};
pub use settings::Key;
pub use subscriptions::SubscriptionStart;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the Rulewatch database {path} cannot be opened: {source}. Check that the folder is writable, or choose another with --data-dir"
    )]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the Rulewatch database {path} cannot be upgraded: {detail}. It may come from a newer Rulewatch; nothing in it was changed"
    )]
    Migrate { path: PathBuf, detail: String },
    #[error("tenant {0} is already configured; remove it first")]
    TenantExists(String),
    #[error("no tenant {0} is configured")]
    NoTenant(String),
    #[error("no alert {0}; it may have been removed")]
    NoAlert(i64),
    #[error("an alert cannot be set to '{0}': use open, acknowledged or false_positive")]
    BadStatus(String),
    #[error("no allowlist entry {0}")]
    NoTrustEntry(i64),
    #[error("the setting {key} in the database cannot be read ({detail}); set it again")]
    BadSetting { key: String, detail: String },
    #[error("no remediation step {0}")]
    NoLogEntry(i64),
    #[error(transparent)]
    Keychain(#[from] crate::secrets::SecretError),
    #[error(
        "this Rulewatch database was opened without the keychain that signs its remediation record; nothing was recorded"
    )]
    RecordUnsigned,
    #[error(
        "step {id} of the remediation record does not check out ({reason}), so Rulewatch will not act on it. \
         Verify the whole record; reverse the change by hand in the admin centre if it is still needed"
    )]
    TamperedStep { id: i64, reason: String },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Folder(#[from] crate::folder::FolderError),
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub struct Store {
    conn: Mutex<Connection>,
    record: remediation::Record,
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("schema.sql")),
        M::up(include_str!("allowlist.sql")),
        M::up(include_str!("geo.sql")),
        M::up(include_str!("enrichment.sql")),
        M::up(include_str!("review.sql")),
        M::up(include_str!("remediation.sql")),
        M::up(include_str!("partner.sql")).foreign_key_check(),
        M::up(include_str!("subscriptions.sql")).foreign_key_check(),
        M::up(include_str!("remediation_signed.sql")),
        M::up(include_str!("clouds.sql")),
    ])
}

impl Store {
    /// Opens (creating if needed) `rulewatch.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        let path = dir.join("rulewatch.db");
        crate::folder::prepare(dir)?;
        // SQLite gives the WAL and shared-memory files the database's own mode.
        crate::folder::private_file(&path)?;
        for companion in ["rulewatch.db-wal", "rulewatch.db-shm"] {
            let companion = dir.join(companion);
            if companion.exists() {
                crate::folder::private_file(&companion)?;
            }
        }
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        // Off while migrating: a table rebuilt to change a CHECK must not cascade its
        // drop into the tables that refer to it. Each migration checks the keys after.
        conn.pragma_update(None, "foreign_keys", "OFF")
            .map_err(open_err)?;
        migrations()
            .to_latest(&mut conn)
            .map_err(|e| StoreError::Migrate {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        Ok(Store {
            conn: Mutex::new(conn),
            record: remediation::Record::new(dir),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().expect("database lock poisoned");
        f(&mut conn)
    }
}
