//! The remediation log: append-only, hash-chained, with its head kept in the settings so
//! that losing the newest rows shows too.

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::geo::{read_setting, write_setting};
use super::{Result, Store, StoreError, ts};

const HEAD: &str = "remediation.head";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One step to record.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NewLogEntry {
    pub os_user: String,
    pub machine: String,
    pub operator: Option<String>,
    pub tenant_id: String,
    pub mailbox: String,
    pub alert_id: Option<i64>,
    pub action: String,
    pub request: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub result: String,
    pub detail: String,
    pub undoes: Option<i64>,
}

/// One recorded step.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogEntry {
    pub id: i64,
    pub at: String,
    #[serde(flatten)]
    pub step: NewLogEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChainReport {
    pub rows: usize,
    pub intact: bool,
    /// The first row that does not check out.
    pub broken_at: Option<i64>,
    pub reason: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Head {
    id: i64,
    hash: String,
}

/// The stored text of each field, as hashed.
struct Stored<'a> {
    id: i64,
    at: &'a str,
    e: &'a NewLogEntry,
    before: Option<String>,
    after: Option<String>,
    prev_hash: &'a str,
}

fn hash_of(s: &Stored<'_>) -> String {
    let e = s.e;
    // A JSON array gives every field an unambiguous boundary.
    let canonical = json!([
        s.id,
        s.at,
        e.os_user,
        e.machine,
        e.operator,
        e.tenant_id,
        e.mailbox,
        e.alert_id,
        e.action,
        e.request,
        s.before,
        s.after,
        e.result,
        e.detail,
        e.undoes,
        s.prev_hash
    ]);
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

const COLUMNS: &str = "id, at, os_user, machine, operator, tenant_id, mailbox, alert_id, action, request, \
                       before_state, after_state, result, detail, undoes, prev_hash, hash";

/// A row as stored: `before`/`after` as their text, so the hash can be recomputed.
struct Raw {
    entry: NewLogEntry,
    id: i64,
    at: String,
    before: Option<String>,
    after: Option<String>,
    prev_hash: String,
    hash: String,
}

impl Raw {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Raw> {
        Ok(Raw {
            id: r.get(0)?,
            at: r.get(1)?,
            entry: NewLogEntry {
                os_user: r.get(2)?,
                machine: r.get(3)?,
                operator: r.get(4)?,
                tenant_id: r.get(5)?,
                mailbox: r.get(6)?,
                alert_id: r.get(7)?,
                action: r.get(8)?,
                request: r.get(9)?,
                before: None,
                after: None,
                result: r.get(12)?,
                detail: r.get(13)?,
                undoes: r.get(14)?,
            },
            before: r.get(10)?,
            after: r.get(11)?,
            prev_hash: r.get(15)?,
            hash: r.get(16)?,
        })
    }

    fn computed_hash(&self) -> String {
        hash_of(&Stored {
            id: self.id,
            at: &self.at,
            e: &self.entry,
            before: self.before.clone(),
            after: self.after.clone(),
            prev_hash: &self.prev_hash,
        })
    }

    fn into_entry(self) -> LogEntry {
        let parse =
            |t: Option<String>| t.map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t)));
        LogEntry {
            id: self.id,
            at: self.at,
            step: NewLogEntry {
                before: parse(self.before),
                after: parse(self.after),
                ..self.entry
            },
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

fn raw_rows(c: &Connection, filter: &str, arg: Option<i64>) -> Result<Vec<Raw>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {COLUMNS} FROM remediation_log {filter} ORDER BY id"
    ))?;
    let rows = match arg {
        Some(a) => stmt
            .query_map([a], Raw::from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        None => stmt
            .query_map([], Raw::from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    };
    Ok(rows)
}

impl Store {
    /// Appends one step, chained to the row before it, in one transaction.
    pub fn append_log(&self, e: &NewLogEntry) -> Result<LogEntry> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let last: Option<(i64, String)> =
                tx.query_row("SELECT id, hash FROM remediation_log ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
            let (id, prev_hash) = match last {
                Some((id, hash)) => (id + 1, hash),
                None => (1, GENESIS.to_string()),
            };
            let at = ts(Utc::now());
            let text = |v: &Option<Value>| v.as_ref().map(Value::to_string);
            let stored = Stored { id, at: &at, e, before: text(&e.before), after: text(&e.after), prev_hash: &prev_hash };
            let hash = hash_of(&stored);
            tx.execute(
                &format!("INSERT INTO remediation_log ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"),
                params![
                    id, at, e.os_user, e.machine, e.operator, e.tenant_id, e.mailbox, e.alert_id, e.action, e.request,
                    stored.before, stored.after, e.result, e.detail, e.undoes, prev_hash, hash
                ],
            )?;
            write_setting(&tx, HEAD, &Head { id, hash: hash.clone() })?;
            tx.commit()?;
            Ok(LogEntry { id, at, step: e.clone(), prev_hash, hash })
        })
    }

    /// The whole log, oldest first.
    pub fn log(&self) -> Result<Vec<LogEntry>> {
        self.with(|c| {
            Ok(raw_rows(c, "", None)?
                .into_iter()
                .map(Raw::into_entry)
                .collect())
        })
    }

    pub fn log_for_alert(&self, alert_id: i64) -> Result<Vec<LogEntry>> {
        self.with(|c| {
            Ok(raw_rows(c, "WHERE alert_id = ?1", Some(alert_id))?
                .into_iter()
                .map(Raw::into_entry)
                .collect())
        })
    }

    pub fn log_entry(&self, id: i64) -> Result<LogEntry> {
        self.with(|c| {
            raw_rows(c, "WHERE id = ?1", Some(id))?
                .into_iter()
                .next()
                .map(Raw::into_entry)
                .ok_or(StoreError::NoLogEntry(id))
        })
    }

    /// The rows that undo `id`.
    pub fn undos_of(&self, id: i64) -> Result<Vec<LogEntry>> {
        self.with(|c| {
            Ok(raw_rows(c, "WHERE undoes = ?1", Some(id))?
                .into_iter()
                .map(Raw::into_entry)
                .collect())
        })
    }

    /// Walks the chain: every row must follow the one before it and hash to what it says,
    /// and the newest row must be the head recorded when it was written.
    pub fn verify_log(&self) -> Result<ChainReport> {
        self.with(|c| {
            let rows = raw_rows(c, "", None)?;
            let head: Option<Head> = read_setting(c, HEAD).unwrap_or(None);
            let broken = |id: i64, reason: String| ChainReport { rows: rows.len(), intact: false, broken_at: Some(id), reason: Some(reason) };
            let mut prev: Option<&Raw> = None;
            for row in &rows {
                let expected = prev.map_or(GENESIS, |p| p.hash.as_str());
                if row.prev_hash != expected {
                    let reason = match prev {
                        Some(p) => format!(
                            "row {} does not follow row {}: a row between them was deleted, or row {} was inserted or changed",
                            row.id, p.id, row.id
                        ),
                        None => format!("row {} is not the start of the log: the rows before it were deleted", row.id),
                    };
                    return Ok(broken(row.id, reason));
                }
                if row.computed_hash() != row.hash {
                    return Ok(broken(row.id, format!("row {} was changed after it was written", row.id)));
                }
                prev = Some(row);
            }
            let last = rows.last().map(|r| (r.id, r.hash.as_str()));
            match (&head, last) {
                (None, None) => {}
                (Some(h), Some((id, hash))) if h.id == id && h.hash == hash => {}
                (Some(h), _) => {
                    let reason = format!("the log ends before row {}, the last one written: newer rows were deleted or replaced", h.id);
                    return Ok(broken(h.id, reason));
                }
                (None, Some((id, _))) => {
                    return Ok(broken(id, "the log's head record is missing: it was removed from the settings".into()));
                }
            }
            Ok(ChainReport { rows: rows.len(), intact: true, broken_at: None, reason: None })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> NewLogEntry {
        NewLogEntry {
            os_user: "tech".into(),
            machine: "desk-1".into(),
            operator: None,
            tenant_id: "t1".into(),
            mailbox: "adele@contoso.example".into(),
            alert_id: Some(7),
            action: action.into(),
            request: "PATCH /v1.0/users/adele@contoso.example accountEnabled=false".into(),
            before: Some(json!({"account_enabled": true})),
            after: Some(json!({"account_enabled": false})),
            result: "done".into(),
            detail: "sign-in is blocked".into(),
            undoes: None,
        }
    }

    /// A store with five chained rows.
    fn logged() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for a in [
            "block-sign-in",
            "revoke-sessions",
            "reset-password",
            "disable-rule",
            "clear-forwarding",
        ] {
            store.append_log(&entry(a)).unwrap();
        }
        (dir, store)
    }

    fn sql(store: &Store, statement: &str) {
        store.with(|c| Ok(c.execute_batch(statement)?)).unwrap();
    }

    #[test]
    fn an_untouched_log_verifies_and_reads_back_as_written() {
        let (_dir, store) = logged();
        let report = store.verify_log().unwrap();
        assert_eq!(
            report,
            ChainReport {
                rows: 5,
                intact: true,
                broken_at: None,
                reason: None
            }
        );
        let log = store.log().unwrap();
        assert_eq!(log[0].prev_hash, GENESIS);
        assert_eq!(log[1].prev_hash, log[0].hash);
        assert_eq!(log[3].step.before, Some(json!({"account_enabled": true})));
        assert_eq!(store.log_for_alert(7).unwrap().len(), 5);
        assert!(matches!(
            store.log_entry(99),
            Err(StoreError::NoLogEntry(99))
        ));
    }

    #[test]
    fn an_edited_row_breaks_the_chain_at_that_row() {
        let (_dir, store) = logged();
        sql(
            &store,
            "UPDATE remediation_log SET result = 'failed' WHERE id = 3",
        );
        let report = store.verify_log().unwrap();
        assert_eq!((report.intact, report.broken_at), (false, Some(3)));
        assert!(report.reason.unwrap().contains("row 3 was changed"));
    }

    #[test]
    fn an_edit_with_a_recomputed_hash_breaks_the_next_row() {
        let (_dir, store) = logged();
        let mut forged = store.log_entry(2).unwrap();
        forged.step.detail = "nothing happened".into();
        let e = forged.step.clone();
        let hash = hash_of(&Stored {
            id: 2,
            at: &forged.at,
            e: &e,
            before: e.before.as_ref().map(Value::to_string),
            after: e.after.as_ref().map(Value::to_string),
            prev_hash: &forged.prev_hash,
        });
        sql(
            &store,
            &format!(
                "UPDATE remediation_log SET detail = 'nothing happened', hash = '{hash}' WHERE id = 2"
            ),
        );
        let report = store.verify_log().unwrap();
        assert_eq!((report.intact, report.broken_at), (false, Some(3)));
        assert!(report.reason.unwrap().contains("does not follow row 2"));
    }

    #[test]
    fn a_deleted_row_breaks_the_chain_at_the_next() {
        let (_dir, store) = logged();
        sql(&store, "DELETE FROM remediation_log WHERE id = 2");
        let report = store.verify_log().unwrap();
        assert_eq!((report.intact, report.broken_at), (false, Some(3)));
    }

    #[test]
    fn an_inserted_row_breaks_the_chain() {
        let (_dir, store) = logged();
        sql(
            &store,
            "INSERT INTO remediation_log SELECT 35, at, os_user, machine, operator, tenant_id, mailbox, alert_id, 'undo-block-sign-in', \
             request, before_state, after_state, result, detail, undoes, hash, hash FROM remediation_log WHERE id = 3;
             UPDATE remediation_log SET id = 6 WHERE id = 5; UPDATE remediation_log SET id = 5 WHERE id = 4;
             UPDATE remediation_log SET id = 4 WHERE id = 35;",
        );
        let report = store.verify_log().unwrap();
        assert_eq!((report.intact, report.broken_at), (false, Some(4)));
    }

    #[test]
    fn losing_the_newest_rows_shows() {
        let (_dir, store) = logged();
        sql(&store, "DELETE FROM remediation_log WHERE id >= 4");
        let report = store.verify_log().unwrap();
        assert_eq!((report.intact, report.broken_at), (false, Some(5)));
        assert!(report.reason.unwrap().contains("newer rows were deleted"));
    }
}
