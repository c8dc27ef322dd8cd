//! The SQLite store: one file, WAL, versioned migrations, foreign keys on. Processing a
//! blob commits its alerts, their incidents and deliveries (one per channel), the blob's
//! "processed" mark and the cursor in one transaction, so a crash at any instant loses
//! and repeats nothing.

mod alerts;
mod allowlist;
mod deliveries;
mod geo;
mod incidents;
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

pub use alerts::{AlertFilter, Assignee, HistoryEntry, Review};
pub use deliveries::{
    ChannelHealth, ChannelRow, FrontEnd, MonitoringEvent, Queued, QueuedResolution,
};
pub use geo::{CacheHit, GeoFix, GeoProblem, GeoProvider, Location};
pub use incidents::{INCIDENT_WINDOW, Incident, IncidentStatus};
pub use models::{Alert, AlertStatus, NewAlert, SignIn, TenantRow, TenantState, TenantStatus};
pub use partner::CustomerRow;
pub use remediation::{
    CHAIN_DOES_NOT_PROVE, CHAIN_PROVES, ChainHead, ChainReport, LogEntry, NewLogEntry,
};
pub use scan_state::{BlobCommit, StatusUpdate};
pub use settings::Key;
pub use subscriptions::SubscriptionStart;

/// What can go wrong with the store; each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or set up.
    #[error(
        "the Rulewatch database {path} cannot be opened: {source}. Check that the folder is writable, or choose another with --data-dir"
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The database could not be brought to this version's schema.
    #[error(
        "the Rulewatch database {path} cannot be upgraded: {detail}. It may come from a newer Rulewatch; nothing in it was changed"
    )]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// Why, from the migration.
        detail: String,
    },
    /// A tenant with this id is already configured; holds the id.
    #[error("tenant {0} is already configured; remove it first")]
    TenantExists(String),
    /// No tenant with this id is configured; holds the id.
    #[error("no tenant {0} is configured")]
    NoTenant(String),
    /// No alert has this id.
    #[error("no alert {0}; it may have been removed")]
    NoAlert(i64),
    /// No incident has this id.
    #[error("no incident {0}")]
    NoIncident(i64),
    /// No incident has this key, or it is resolved already.
    #[error("no open incident has the key {0}; `rulewatch incidents` lists them")]
    NoOpenIncident(String),
    /// A channel of that name is configured already.
    #[error("a channel named {0} exists already; remove it first or choose another name")]
    ChannelExists(String),
    /// No channel of that name is configured (or it is built in and cannot be changed).
    #[error("no channel named {0} can be changed")]
    NoChannel(String),
    /// Another technician holds the alert.
    #[error("alert {id} is held by {technician} since {since}; ask them, or take it over")]
    HeldBy {
        /// The alert.
        id: i64,
        /// Who holds it.
        technician: String,
        /// Since when, as stored.
        since: String,
    },
    /// A status a technician may not set (suppression is the allowlist's); holds its name.
    #[error("an alert cannot be set to '{0}': use open, acknowledged or false_positive")]
    BadStatus(String),
    /// No allowlist entry has this id.
    #[error("no allowlist entry {0}")]
    NoTrustEntry(i64),
    /// A setting's stored value is not of its key's type, or a value could not be written
    /// as JSON.
    #[error("the setting {key} in the database cannot be read ({detail}); set it again")]
    BadSetting {
        /// The setting's name.
        key: String,
        /// What JSON (de)serialisation said.
        detail: String,
    },
    /// No remediation step has this id.
    #[error("no remediation step {0}")]
    NoLogEntry(i64),
    /// The keychain holding the remediation record's key failed.
    #[error(transparent)]
    Keychain(#[from] crate::secrets::SecretError),
    /// The store was opened without the keychain ([`Store::sign_record_with`]), so the
    /// remediation record can be neither signed nor checked.
    #[error(
        "this Rulewatch database was opened without the keychain that signs its remediation record; nothing was recorded"
    )]
    RecordUnsigned,
    /// A remediation step, or a row its proof rests on, does not check out, so Rulewatch does
    /// not act on it.
    #[error(
        "step {id} of the remediation record does not check out ({reason}), so Rulewatch will not act on it. \
         Verify the whole record; reverse the change by hand in the admin centre if it is still needed"
    )]
    TamperedStep {
        /// The step asked for.
        id: i64,
        /// What does not check out, as [`Store::verify_log`] says it.
        reason: String,
    },
    /// SQLite failed.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The data folder could not be prepared or made private.
    #[error(transparent)]
    Folder(#[from] crate::folder::FolderError),
}

/// The store's result.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The Rulewatch database, `rulewatch.db` in the data folder: one connection behind a
/// lock, and the remediation record's signing.
pub struct Store {
    conn: Mutex<Connection>,
    record: remediation::Record,
}

/// A time as the store writes it: RFC 3339 in UTC, with milliseconds and `Z`, so that
/// stored times sort as text.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads an RFC 3339 time (as [`ts`] writes it) in UTC; `None` when `s` is not one.
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
        M::up(include_str!("deliveries.sql")).foreign_key_check(),
        M::up_with_hook(
            include_str!("incidents.sql"),
            |tx: &rusqlite::Transaction<'_>| Ok(incidents::attach_stored(tx)?),
        )
        .foreign_key_check(),
        M::up(include_str!("channels.sql")),
        M::up(include_str!("monitoring.sql")).foreign_key_check(),
        M::up(include_str!("leases.sql")),
        M::up(include_str!("outbound.sql")),
        M::up(include_str!("resolutions.sql")),
        M::up(include_str!("mailboxes.sql")),
        M::up(include_str!("triage.sql")),
        M::up(include_str!("technicians.sql")),
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

    /// A number that changes whenever another connection (another Rulewatch on this data
    /// folder: the watcher, the CLI) commits a change, and only then; SQLite's
    /// `PRAGMA data_version`.
    pub fn data_version(&self) -> Result<i64> {
        self.with(|c| Ok(c.query_row("PRAGMA data_version", [], |r| r.get(0))?))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().expect("database lock poisoned");
        f(&mut conn)
    }
}
