//! The SQLite store: one file, WAL, versioned migrations, foreign keys on. Processing a
//! blob commits its alerts, their outbox entries, the blob's "processed" mark and the
//! cursor in one transaction, so a crash at any instant loses and repeats nothing.

mod allowlist;
mod geo;
mod models;
mod partner;
mod remediation;
mod subscriptions;
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

    // ---- tenants -------------------------------------------------------------

    pub fn add_tenant(&self, t: &TenantRow) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let exists: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = ?1)", [&t.tenant_id], |r| {
                    r.get(0)
                })?;
            if exists {
                return Err(StoreError::TenantExists(t.tenant_id.clone()));
            }
            tx.execute(
                "INSERT INTO tenants (tenant_id, name, client_id, auth_method, cert_thumbprint, added_at, cloud)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    t.tenant_id,
                    t.name,
                    t.client_id,
                    t.auth_method_str(),
                    t.cert_thumbprint(),
                    ts(Utc::now()),
                    t.cloud.map(Cloud::as_str)
                ],
            )?;
            tx.execute(
                "INSERT INTO tenant_status (tenant_id, state) VALUES (?1, ?2)",
                params![t.tenant_id, TenantState::NotScanned.as_str()],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn tenants(&self) -> Result<Vec<TenantRow>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT tenant_id, name, client_id, auth_method, cert_thumbprint, cloud FROM tenants
                 ORDER BY name, tenant_id",
            )?;
            let rows = stmt
                .query_map([], TenantRow::from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    pub fn tenant(&self, tenant_id: &str) -> Result<TenantRow> {
        self.with(|c| {
            c.query_row(
                "SELECT tenant_id, name, client_id, auth_method, cert_thumbprint, cloud FROM tenants
                 WHERE tenant_id = ?1",
                [tenant_id],
                TenantRow::from_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NoTenant(tenant_id.to_string()))
        })
    }

    /// Removes the tenant and its scan state; its alerts stay as history.
    pub fn remove_tenant(&self, tenant_id: &str) -> Result<()> {
        self.with(|c| {
            let n = c.execute("DELETE FROM tenants WHERE tenant_id = ?1", [tenant_id])?;
            if n == 0 {
                Err(StoreError::NoTenant(tenant_id.to_string()))
            } else {
                Ok(())
            }
        })
    }

    // ---- scan state ----------------------------------------------------------

    pub fn accepted_domains(
        &self,
        tenant_id: &str,
    ) -> Result<Option<(Vec<String>, DateTime<Utc>)>> {
        self.with(|c| {
            let row: Option<(String, String)> = c
                .query_row(
                    "SELECT domains, fetched_at FROM accepted_domains WHERE tenant_id = ?1",
                    [tenant_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(row.and_then(|(d, at)| Some((serde_json::from_str(&d).ok()?, parse_ts(&at)?))))
        })
    }

    pub fn set_accepted_domains(&self, tenant_id: &str, domains: &[String]) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO accepted_domains (tenant_id, domains, fetched_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant_id) DO UPDATE SET domains = excluded.domains, fetched_at = excluded.fetched_at",
                params![tenant_id, serde_json::to_string(domains).expect("strings serialise"), ts(Utc::now())],
            )?;
            Ok(())
        })
    }

    pub fn cursor(&self, tenant_id: &str, content_type: &str) -> Result<Option<DateTime<Utc>>> {
        self.with(|c| {
            let s: Option<String> = c
                .query_row(
                    "SELECT complete_until FROM cursors WHERE tenant_id = ?1 AND content_type = ?2",
                    [tenant_id, content_type],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(s.as_deref().and_then(parse_ts))
        })
    }

    pub fn advance_cursor(
        &self,
        tenant_id: &str,
        content_type: &str,
        to: DateTime<Utc>,
    ) -> Result<()> {
        self.with(|c| Ok(advance_cursor(c, tenant_id, content_type, to)?))
    }

    pub fn is_processed(&self, tenant_id: &str, content_id: &str) -> Result<bool> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM processed_blobs WHERE tenant_id = ?1 AND content_id = ?2)",
                [tenant_id, content_id],
                |r| r.get(0),
            )?)
        })
    }

    /// Commits one processed blob: new alerts (duplicates ignored) with their outbox
    /// entries (none for suppressed alerts), any forwarding-fan-in they complete, the
    /// blob's mark, and optionally the cursor. Returns the alerts that were new.
    pub fn commit_blob(&self, commit: BlobCommit<'_>) -> Result<Vec<Alert>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(Utc::now());
            let mut inserted = Vec::new();
            let mut forwarded: Vec<(String, DateTime<Utc>)> = Vec::new();
            for a in commit.alerts {
                let id: Option<i64> = tx
                    .query_row(
                        "INSERT INTO alerts (tenant_id, tenant_name, record_id, rule, severity, operation, target, actor,
                                             client_ip, summary, details, event_time, detected_at, content_id, raw_record,
                                             status, suppressed_by, origin)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                                 CASE WHEN ?16 IS NULL THEN 'open' ELSE 'suppressed' END, ?16, ?17)
                         ON CONFLICT (tenant_id, record_id, rule) DO NOTHING
                         RETURNING id",
                        params![
                            commit.tenant_id,
                            a.tenant_name,
                            a.record_id,
                            a.rule,
                            a.severity.as_str(),
                            a.operation,
                            a.target,
                            a.actor,
                            a.client_ip,
                            a.summary,
                            a.details.to_string(),
                            a.event_time.map(ts),
                            now,
                            commit.content_id,
                            a.raw_record,
                            a.suppressed_by,
                            a.origin.as_ref().map(Value::to_string),
                        ],
                        |r| r.get(0),
                    )
                    .optional()?;
                let Some(id) = id else { continue };
                inserted.push(id);
                if a.suppressed_by.is_some() {
                    continue;
                }
                tx.execute("INSERT INTO outbox (alert_id, queued_at) VALUES (?1, ?2)", params![id, now])?;
                if crate::detect::fan_in::is_forwarding(&a.rule) {
                    let at = a.event_time.unwrap_or_else(Utc::now);
                    for d in allowlist::index_forwards(&tx, id, &a.details)? {
                        forwarded.push((d, at));
                    }
                }
            }
            for s in commit.sign_ins {
                tx.execute(
                    "INSERT INTO sign_ins (tenant_id, user, ip, first_seen, last_seen, sign_ins) VALUES (?1, ?2, ?3, ?4, ?4, 1)
                     ON CONFLICT (tenant_id, user, ip) DO UPDATE SET
                        first_seen = MIN(first_seen, excluded.first_seen),
                        last_seen = MAX(last_seen, excluded.last_seen),
                        sign_ins = sign_ins + 1",
                    params![commit.tenant_id, s.user, s.ip, ts(s.at)],
                )?;
            }
            for (destination, at) in forwarded {
                inserted.extend(allowlist::update_fan_in(&tx, &destination, at, &now)?);
            }
            tx.execute(
                "INSERT INTO processed_blobs (tenant_id, content_id, content_created, processed_at, records, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                params![
                    commit.tenant_id,
                    commit.content_id,
                    ts(commit.content_created),
                    now,
                    commit.records as i64,
                    if commit.expired { "expired" } else { "processed" }
                ],
            )?;
            if let Some(to) = commit.cursor {
                advance_cursor(&tx, commit.tenant_id, commit.content_type, to)?;
            }
            let alerts = inserted.iter().map(|id| alert_by_id(&tx, *id)).collect::<Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(alerts)
        })
    }

    /// The addresses `user` signed in from, most recent first.
    pub fn sign_in_ips(&self, tenant_id: &str, user: &str, limit: usize) -> Result<Vec<String>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT ip FROM sign_ins WHERE tenant_id = ?1 AND user = ?2 ORDER BY last_seen DESC LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![tenant_id, user.trim().to_lowercase(), limit as i64], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(rows)
        })
    }

    pub fn record_event(
        &self,
        tenant_id: &str,
        kind: &str,
        content_id: Option<&str>,
        message: &str,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO tenant_events (tenant_id, at, kind, content_id, message) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![tenant_id, ts(Utc::now()), kind, content_id, message],
            )?;
            Ok(())
        })
    }

    pub fn set_status(&self, s: &StatusUpdate<'_>) -> Result<()> {
        self.with(|c| {
            let now = ts(Utc::now());
            c.execute(
                "UPDATE tenant_status SET state = ?2, problem = ?3, message = ?4, last_attempt_at = ?5,
                        last_success_at = CASE WHEN ?6 THEN ?5 ELSE last_success_at END,
                        throttled = ?7, retried = ?8
                 WHERE tenant_id = ?1",
                params![
                    s.tenant_id,
                    s.state.as_str(),
                    s.problem,
                    s.message,
                    now,
                    s.state != TenantState::Error,
                    s.throttled as i64,
                    s.retried as i64
                ],
            )?;
            Ok(())
        })
    }

    pub fn statuses(&self) -> Result<Vec<TenantStatus>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT t.tenant_id, t.name, s.state, s.problem, s.message, s.last_attempt_at, s.last_success_at,
                        s.throttled, s.retried,
                        (SELECT MIN(complete_until) FROM cursors k WHERE k.tenant_id = t.tenant_id),
                        (SELECT COUNT(*) FROM alerts a WHERE a.tenant_id = t.tenant_id AND a.status = 'open'),
                        t.auth_method = 'partner', t.cloud
                 FROM tenants t JOIN tenant_status s USING (tenant_id)
                 ORDER BY t.name, t.tenant_id",
            )?;
            let rows = stmt.query_map([], TenantStatus::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    // ---- alerts and outbox ---------------------------------------------------

    pub fn alerts(&self) -> Result<Vec<Alert>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "{ALERT_SELECT} ORDER BY a.event_time DESC, a.id DESC"
            ))?;
            let rows = stmt
                .query_map([], Alert::from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// One alert and the audit record it came from, as Microsoft served it.
    pub fn alert_with_record(&self, id: i64) -> Result<(Alert, String)> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {ALERT_COLUMNS}, a.raw_record FROM alerts a WHERE a.id = ?1"),
                [id],
                |r| Ok((Alert::from_row(r)?, r.get(ALERT_COLUMN_COUNT)?)),
            )
            .optional()?
            .ok_or(StoreError::NoAlert(id))
        })
    }

    /// The alerts about one mailbox of one tenant, newest first.
    pub fn alerts_about(&self, tenant_id: &str, target: &str) -> Result<Vec<Alert>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "{ALERT_SELECT} WHERE a.tenant_id = ?1 AND a.target = ?2 COLLATE NOCASE ORDER BY a.event_time DESC, a.id DESC"
            ))?;
            let rows = stmt.query_map([tenant_id, target], Alert::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Records the technician's decision. Suppressed alerts can be reviewed too.
    pub fn set_alert_status(
        &self,
        id: i64,
        status: AlertStatus,
        note: Option<&str>,
    ) -> Result<Alert> {
        if !status.settable() {
            return Err(StoreError::BadStatus(status.as_str().to_string()));
        }
        let status = status.as_str();
        self.with(|c| {
            let n = c.execute(
                "UPDATE alerts SET status = ?2, status_note = ?3, status_changed_at = ?4 WHERE id = ?1",
                params![id, status, note, ts(Utc::now())],
            )?;
            if n == 0 {
                return Err(StoreError::NoAlert(id));
            }
            alert_by_id(c, id)
        })
    }

    pub fn open_alert_count(&self) -> Result<u64> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM alerts WHERE status = 'open'",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
    }

    /// Alerts queued and not yet delivered, oldest first.
    pub fn pending_outbox(&self) -> Result<Vec<Alert>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "{ALERT_SELECT} JOIN outbox o ON o.alert_id = a.id WHERE o.delivered_at IS NULL ORDER BY a.id"
            ))?;
            let rows = stmt.query_map([], Alert::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    pub fn mark_delivered(&self, alert_ids: &[i64]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(Utc::now());
            for id in alert_ids {
                tx.execute(
                    "UPDATE outbox SET delivered_at = ?2 WHERE alert_id = ?1",
                    params![id, now],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }
}

/// What [`Store::commit_blob`] writes.
pub struct BlobCommit<'a> {
    pub tenant_id: &'a str,
    pub content_type: &'a str,
    pub content_id: &'a str,
    pub content_created: DateTime<Utc>,
    pub records: usize,
    /// The blob expired before it could be read: marked done, nothing inserted.
    pub expired: bool,
    pub alerts: &'a [NewAlert],
    pub sign_ins: &'a [SignIn],
    pub cursor: Option<DateTime<Utc>>,
}

pub struct StatusUpdate<'a> {
    pub tenant_id: &'a str,
    pub state: TenantState,
    pub problem: Option<&'a str>,
    pub message: Option<&'a str>,
    pub throttled: u64,
    pub retried: u64,
}

/// Moves the cursor forward only: a later, smaller value never rewinds it.
fn advance_cursor(
    c: &Connection,
    tenant_id: &str,
    content_type: &str,
    to: DateTime<Utc>,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO cursors (tenant_id, content_type, complete_until) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant_id, content_type) DO UPDATE SET complete_until = MAX(complete_until, excluded.complete_until)",
        params![tenant_id, content_type, ts(to)],
    )?;
    Ok(())
}

/// The columns `Alert::from_row` reads, in its order.
macro_rules! alert_columns {
    () => {
        "a.id, a.tenant_id, a.tenant_name, a.rule, a.severity, a.record_id, a.operation, a.target, a.actor,
         a.client_ip, a.summary, a.details, a.event_time, a.detected_at, a.status, a.content_id, a.suppressed_by,
         a.origin, a.status_note"
    };
}
const ALERT_COLUMNS: &str = alert_columns!();
const ALERT_COLUMN_COUNT: usize = 19;
const ALERT_SELECT: &str = concat!("SELECT ", alert_columns!(), " FROM alerts a");

fn alert_by_id(c: &Connection, id: i64) -> Result<Alert> {
    Ok(c.query_row(
        &format!("{ALERT_SELECT} WHERE a.id = ?1"),
        [id],
        Alert::from_row,
    )?)
}
