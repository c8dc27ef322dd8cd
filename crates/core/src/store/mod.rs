//! The SQLite store: one file, WAL, versioned migrations, foreign keys on. Processing a
//! blob commits its alerts, their incidents and deliveries (one per channel), the blob's
//! "processed" mark and the cursor in one transaction, so a crash at any instant loses
//! and repeats nothing.

mod alerts;
mod allowlist;
mod bursts;
mod chain;
pub mod db;
mod deliveries;
mod geo;
mod incidents;
mod migrate;
mod models;
mod partner;
mod remediation;
mod retention;
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
use db::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use serde_json::Value;

use crate::cloud::Cloud;

pub use alerts::{
    AlertFilter, AlertPage, AlertQuery, AlertTenant, Assignee, HistoryEntry, Review, StatusFilter,
};
pub use allowlist::NewTrust;
pub use deliveries::{
    ChannelHealth, ChannelRow, FrontEnd, MonitoringEvent, Queued, QueuedResolution,
};
pub use geo::{CacheHit, GeoFix, GeoProblem, GeoProvider, Location};
pub use incidents::{INCIDENT_WINDOW, Incident, IncidentStart, IncidentStatus};
pub use migrate::Migrated;
pub use models::{Alert, AlertStatus, NewAlert, SignIn, TenantRow, TenantState, TenantStatus};
pub use partner::CustomerRow;
pub use remediation::{
    CHAIN_DOES_NOT_PROVE, CHAIN_PROVES, ChainHead, ChainReport, LogEntry, NewLogEntry,
};
pub use retention::{Pruned, Retention, pruned_record};
pub use scan_state::{BlobCommit, StatusUpdate, lease_holder};
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
    /// The team's database could not be brought to this version's schema.
    #[error(
        "the team's Rulewatch database cannot be upgraded: {0}. A newer Rulewatch on another workstation may have upgraded it; nothing in it was changed"
    )]
    MigrateShared(String),
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
    /// A team's remediation record is signed with a key this workstation's keychain lacks.
    #[error(
        "this workstation holds no key for the team's remediation record, so it can neither add a step nor check the record; \
         a colleague whose workstation holds the key can share it, and nothing was recorded"
    )]
    RecordKeyElsewhere,
    /// A key offered for the team's record does not sign it.
    #[error("{0}")]
    NotTheRecordKey(String),
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
    Sql(#[from] db::Error),
    /// The data folder could not be prepared or made private.
    #[error(transparent)]
    Folder(#[from] crate::folder::FolderError),
}

/// The store's result.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The Rulewatch database, `rulewatch.db` in the data folder: one connection behind a
/// lock, and the remediation record's signing.
pub struct Store {
    conn: Mutex<Box<Connection>>,
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
            |tx: &rusqlite::Transaction<'_>| {
                Ok(incidents::attach_stored(&**tx).map_err(|e| match e {
                    db::Error::Sqlite(e) => e,
                    e => rusqlite::Error::ToSqlConversionFailure(e.into()),
                })?)
            },
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
        M::up(include_str!("alert_list.sql")),
        M::up(include_str!("overview.sql")),
        M::up(include_str!("bursts.sql")),
        M::up(include_str!("allowlist_scope.sql")).foreign_key_check(),
    ])
}

/// The PostgreSQL schema's versions, in order; version N is the Nth. Applied by hand
/// rather than by a migration crate: rusqlite_migration is SQLite's alone, and a list
/// applied in order under one advisory lock is all the shared schema needs.
const POSTGRES_MIGRATIONS: &[&str] = &[
    include_str!("postgres.sql"),
    include_str!("postgres_alert_list.sql"),
    include_str!("postgres_overview.sql"),
    include_str!("postgres_bursts.sql"),
    include_str!("postgres_allowlist_scope.sql"),
];

/// The advisory lock that lets one workstation at a time upgrade the shared schema
/// ("RWSCHEMA" in ASCII).
const SCHEMA_LOCK: i64 = 0x5257_5343_4845_4d41;

/// Brings the shared schema to [`POSTGRES_MIGRATIONS`]' last version in one transaction
/// under [`SCHEMA_LOCK`], so workstations starting together apply each version once.
fn migrate_postgres(c: &mut Connection) -> Result<()> {
    let shared = |e: db::Error| StoreError::MigrateShared(e.to_string());
    c.execute_batch("CREATE TABLE IF NOT EXISTS rulewatch_schema (version BIGINT NOT NULL)")
        .map_err(shared)?;
    let tx = c.transaction().map_err(shared)?;
    tx.query_row(
        "SELECT 1 FROM pg_advisory_xact_lock(?1)",
        [SCHEMA_LOCK],
        |_| Ok(()),
    )
    .map_err(shared)?;
    let at: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM rulewatch_schema",
            [],
            |r| r.get(0),
        )
        .map_err(shared)?;
    let known = POSTGRES_MIGRATIONS.len();
    let at = usize::try_from(at).unwrap_or(usize::MAX);
    if at > known {
        return Err(StoreError::MigrateShared(format!(
            "it is at schema version {at}, and this Rulewatch knows versions up to {known}"
        )));
    }
    for (version, sql) in POSTGRES_MIGRATIONS.iter().enumerate().skip(at) {
        tx.execute_batch(sql).map_err(shared)?;
        tx.execute("DELETE FROM rulewatch_schema", [])
            .map_err(shared)?;
        tx.execute(
            "INSERT INTO rulewatch_schema (version) VALUES (?1)",
            [version + 1],
        )
        .map_err(shared)?;
    }
    tx.commit().map_err(shared)
}

/// Switches a file made before pruning (auto_vacuum NONE) to incremental vacuum, once:
/// the mode of an existing file changes only through VACUUM, which rewrites the whole file
/// (for a moment it needs as much free disk again). Should that fail (another Rulewatch
/// busy with the file, a full disk), the file works as before, and the next open tries
/// again.
fn vacuum_incrementally(conn: &rusqlite::Connection, path: &Path) -> Result<()> {
    let mode: i64 = conn
        .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
        .map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    if mode != 0 {
        return Ok(());
    }
    if let Err(e) = conn
        .pragma_update(None, "auto_vacuum", "INCREMENTAL")
        .and_then(|()| conn.execute_batch("VACUUM"))
    {
        tracing::warn!(
            "the database {} could not be rewritten to hand back the space pruning frees ({e}); \
             it works as before, and Rulewatch tries again when it next opens it",
            path.display()
        );
    }
    Ok(())
}

impl Store {
    /// The team's store on a PostgreSQL connection, its schema brought up to date; `dir`
    /// is this workstation's data folder, `workstation` its id in the team.
    pub fn on_postgres(conn: db::Postgres, dir: &Path, workstation: &str) -> Result<Store> {
        crate::folder::prepare(dir)?;
        let mut conn: Box<Connection> = Box::new(conn);
        migrate_postgres(&mut *conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
            record: remediation::Record::owned(dir, workstation),
        })
    }

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
        let mut conn = rusqlite::Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        // Takes effect in a new file only, and there only before its first table and
        // before WAL mode writes its header: pruning then hands freed pages back.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
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
        vacuum_incrementally(&conn, &path)?;
        Ok(Store {
            conn: Mutex::new(Box::new(conn)),
            record: remediation::Record::new(dir),
        })
    }

    /// A number that changes whenever another connection (another Rulewatch on this data
    /// folder: the watcher, the CLI) commits a change, and only then; SQLite's
    /// `PRAGMA data_version`; on PostgreSQL, the changes other connections announced.
    pub fn data_version(&self) -> Result<i64> {
        self.with(|c| Ok(c.version()?))
    }

    /// Whether this is a team's store, shared with other workstations (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.conn.lock().expect("database lock poisoned").engine() == db::Engine::Postgres
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().expect("database lock poisoned");
        f(&mut **conn)
    }
}
