//! The remediation record: append-only, each row chained to the one before it and signed
//! with HMAC-SHA256 under a key of its own kept in the OS keychain (made on first use,
//! never in the database, a log or an error). The newest row, the head, is kept in the
//! settings and, signed, in a file beside the database, and `audit verify` prints it so
//! that a copy kept elsewhere anchors the record.
//!
//! Rows written before the record was signed name the scheme `sha256` and keep verifying
//! as they were written; every new row is `hmac-sha256`. No transition row is needed: the
//! first signed row covers the hash of the last plain one, so it anchors all of them. A
//! plain row after a signed one is refused, so nobody can pass off a recomputed row as old.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::db::{self, Connection, OptionalExtension, Row, params};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::settings::{Key, read_setting, write_setting};
use super::{Result, Store, StoreError, ts};
use crate::secrets::{SecretKind, SecretStore, record_key};

const HEAD: Key<ChainHead> = Key::new("remediation.head");
/// The record's own id, naming its key in the keychain.
const RECORD_ID: Key<String> = Key::new("remediation.record_id");
/// The head's copy outside the database, in the data folder.
pub(super) const HEAD_FILE: &str = "remediation-head.json";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const PLAIN: &str = "sha256";
const SIGNED: &str = "hmac-sha256";

/// What an intact chain shows, in plain words, for `audit verify` and the report.
pub const CHAIN_PROVES: &str = "An intact record shows that nobody without this record's key in the keychain \
changed, deleted or inserted a step, and that no step newer than the head printed here was removed; \
compare the head with a copy kept elsewhere (a ticket, an email) to show that nothing was cut off since.";
/// What it does not show.
pub const CHAIN_DOES_NOT_PROVE: &str = "It proves nothing against someone who can use the key (anyone signed in \
as this account on this computer), nor that Microsoft did what a step says: a step records what Microsoft \
answered. Removing the newest steps together with the head copies, from an older backup, is caught only by a \
head copy kept elsewhere.";

/// One step to record.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NewLogEntry {
    /// The technician who ran the step (their OS login unless they named themselves).
    pub os_user: String,
    /// The computer it ran on.
    pub machine: String,
    /// The partner account's UPN, when the tenant is reached through it.
    pub operator: Option<String>,
    /// The tenant changed.
    pub tenant_id: String,
    /// The account or mailbox changed.
    pub mailbox: String,
    /// The alert the step answers, if any.
    pub alert_id: Option<i64>,
    /// The action's name (`block-sign-in`, `undo-block-sign-in`, …).
    pub action: String,
    /// The call made, in short (`PATCH /v1.0/users/… accountEnabled=false`); never a secret.
    pub request: String,
    /// The state read before acting: what Undo puts back.
    pub before: Option<Value>,
    /// The state read back after acting, when it could be read.
    pub after: Option<Value>,
    /// How the step ended: an outcome's name (`done`, `already_so`, `failed`, …).
    pub result: String,
    /// What was found or done, or why it failed, in words.
    pub detail: String,
    /// For an undo, the step it undoes.
    pub undoes: Option<i64>,
}

/// One recorded step.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogEntry {
    /// The row's number: 1 for the first, then one more for each row.
    pub id: i64,
    /// When it was recorded (RFC 3339, UTC).
    pub at: String,
    /// What was done.
    #[serde(flatten)]
    pub step: NewLogEntry,
    /// The hash of the row before (all zeros for the first row).
    pub prev_hash: String,
    /// This row's hash: HMAC-SHA256 under the record's key (plain SHA-256 in rows from
    /// before the record was signed).
    pub hash: String,
}

/// The newest row: what a copy kept elsewhere must match.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChainHead {
    /// The newest row's number.
    pub id: i64,
    /// Its hash.
    pub hash: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ChainReport {
    /// Rows in the record.
    pub rows: usize,
    /// Whether every check passed.
    pub intact: bool,
    /// The first row that does not check out.
    pub broken_at: Option<i64>,
    /// Why the first broken row does not check out.
    pub reason: Option<String>,
    /// The newest row.
    pub head: Option<ChainHead>,
    /// The first signed row; the rows before it are plain SHA-256 from older versions.
    pub signed_from: Option<i64>,
}

impl ChainReport {
    /// One sentence: intact, or where and why not.
    pub fn summary(&self) -> String {
        match (&self.broken_at, &self.reason) {
            (Some(at), Some(reason)) => {
                format!("The remediation record is BROKEN from row {at}: {reason}.")
            }
            _ => format!(
                "The remediation record is intact: {} row(s), each chained to the one before and signed.",
                self.rows
            ),
        }
    }

    /// The head to copy elsewhere, and which rows predate signing.
    pub fn head_words(&self) -> Option<String> {
        let head = self.head.as_ref()?;
        let mut words = format!(
            "Head: row {}, hash {}. Keep a copy of this line outside this computer (a ticket, an email): \
             later, the record must still hold that row with that hash.",
            head.id, head.hash
        );
        match self.signed_from {
            Some(1) => {}
            Some(s) => words.push_str(&format!(
                " Rows 1 to {} were written before the record was signed (plain SHA-256); signed row {s} covers them.",
                s - 1
            )),
            None => words.push_str(" No row is signed yet: older versions wrote them with plain SHA-256, which anyone can recompute."),
        }
        Some(words)
    }
}

/// Where the record's key and its head's outside copy are kept.
pub(super) struct Record {
    secrets: Option<Arc<dyn SecretStore>>,
    head_file: PathBuf,
    /// In a team, this workstation's id: its keychain entry for the team record's key
    /// is its own (`<record id>@<workstation>`), as every other secret of it is.
    owner: Option<String>,
}

impl Record {
    pub(super) fn new(dir: &Path) -> Record {
        Record {
            secrets: None,
            head_file: dir.join(HEAD_FILE),
            owner: None,
        }
    }

    /// The record of a team's workstation `owner`, its head copy in `dir`.
    pub(super) fn owned(dir: &Path, owner: &str) -> Record {
        Record {
            owner: Some(owner.to_string()),
            ..Record::new(dir)
        }
    }

    /// The keychain entry's id for the key of record `id`.
    fn entry(&self, id: &str) -> String {
        match &self.owner {
            Some(owner) => format!("{id}@{owner}"),
            None => id.to_string(),
        }
    }

    /// The record's key; with `create`, the record's id and key are made when missing.
    /// A team's record has one key, made by the workstation that wrote its first step:
    /// another workstation adopts it ([`Store::adopt_record_key`]) and never makes its
    /// own, which would sign the shared chain with a key the others cannot check.
    fn key(&self, c: &Connection, create: bool) -> Result<Option<SecretSlice<u8>>> {
        let secrets = self.secrets.as_ref().ok_or(StoreError::RecordUnsigned)?;
        let shared = c.engine() == db::Engine::Postgres;
        let id = match read_setting(c, &RECORD_ID)? {
            Some(id) => id,
            None if create => {
                let id = uuid::Uuid::new_v4().simple().to_string();
                write_setting(c, &RECORD_ID, &id)?;
                return Ok(record_key(secrets.as_ref(), &self.entry(&id), true)?);
            }
            None => return Ok(None),
        };
        match record_key(secrets.as_ref(), &self.entry(&id), create && !shared)? {
            None if shared => Err(StoreError::RecordKeyElsewhere),
            key => Ok(key),
        }
    }

    fn write_head_file(&self, key: &SecretSlice<u8>, head: &ChainHead) -> std::io::Result<()> {
        let copy = HeadCopy {
            id: head.id,
            hash: head.hash.clone(),
            tag: head_tag(key, head),
        };
        let text = serde_json::to_vec(&copy).expect("the head serialises");
        let tmp = self.head_file.with_extension("json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        std::io::Write::write_all(&mut file, &text)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.head_file)
    }

    /// The outside copy: `Ok(None)` when there is none, `Err` with why when it is unreadable.
    fn read_head_file(&self) -> std::result::Result<Option<HeadCopy>, String> {
        match std::fs::read(&self.head_file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|_| {
                format!(
                    "the head copy {} was altered: it is no longer a head record",
                    self.head_file.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!(
                "the head copy {} cannot be read ({e})",
                self.head_file.display()
            )),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct HeadCopy {
    id: i64,
    hash: String,
    /// HMAC of the id and hash under the record's key.
    tag: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mac(key: &SecretSlice<u8>, text: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key.expose_secret())
        .expect("HMAC takes a key of any length");
    m.update(text.as_bytes());
    hex(&m.finalize().into_bytes())
}

fn head_tag(key: &SecretSlice<u8>, head: &ChainHead) -> String {
    mac(
        key,
        &json!(["rulewatch remediation head", head.id, head.hash]).to_string(),
    )
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

impl Stored<'_> {
    /// A JSON array gives every field an unambiguous boundary.
    fn canonical(&self) -> Value {
        let e = self.e;
        json!([
            self.id,
            self.at,
            e.os_user,
            e.machine,
            e.operator,
            e.tenant_id,
            e.mailbox,
            e.alert_id,
            e.action,
            e.request,
            self.before,
            self.after,
            e.result,
            e.detail,
            e.undoes,
            self.prev_hash
        ])
    }

    /// How rows were hashed before the record was signed.
    fn plain_hash(&self) -> String {
        hex(&Sha256::digest(self.canonical().to_string().as_bytes()))
    }

    /// The scheme's name is signed too, so a signed row cannot be relabelled.
    fn signed_hash(&self, key: &SecretSlice<u8>) -> String {
        mac(key, &json!([SIGNED, self.canonical()]).to_string())
    }
}

const COLUMNS: &str = "id, at, os_user, machine, operator, tenant_id, mailbox, alert_id, action, request, \
                       before_state, after_state, result, detail, undoes, prev_hash, hash, scheme";

/// A row as stored: `before`/`after` as their text, so the hash can be recomputed.
struct Raw {
    entry: NewLogEntry,
    id: i64,
    at: String,
    before: Option<String>,
    after: Option<String>,
    prev_hash: String,
    hash: String,
    scheme: String,
}

impl Raw {
    fn from_row(r: &Row<'_>) -> db::Result<Raw> {
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
            scheme: r.get(17)?,
        })
    }

    fn stored(&self) -> Stored<'_> {
        Stored {
            id: self.id,
            at: &self.at,
            e: &self.entry,
            before: self.before.clone(),
            after: self.after.clone(),
            prev_hash: &self.prev_hash,
        }
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
            .collect::<db::Result<Vec<_>>>()?,
        None => stmt
            .query_map([], Raw::from_row)?
            .collect::<db::Result<Vec<_>>>()?,
    };
    Ok(rows)
}

/// Walks the rows: each must follow the one before it and hash, under its scheme, to
/// what it says. `Err` names the first row that does not and why.
fn walk(rows: &[Raw], key: Option<&SecretSlice<u8>>) -> std::result::Result<(), (i64, String)> {
    let mut prev: Option<&Raw> = None;
    let mut signed = false;
    for row in rows {
        let expected = prev.map_or(GENESIS, |p| p.hash.as_str());
        if row.prev_hash != expected {
            let reason = match prev {
                Some(p) => format!(
                    "row {} does not follow row {}: a row between them was deleted, or row {} was inserted or changed",
                    row.id, p.id, row.id
                ),
                None => format!(
                    "row {} is not the start of the log: the rows before it were deleted",
                    row.id
                ),
            };
            return Err((row.id, reason));
        }
        let computed = match (row.scheme.as_str(), key) {
            (PLAIN, _) if signed => {
                return Err((
                    row.id,
                    format!(
                        "row {} claims the old unsigned form after signed rows began: it was replaced",
                        row.id
                    ),
                ));
            }
            (PLAIN, _) => row.stored().plain_hash(),
            (SIGNED, Some(key)) => {
                signed = true;
                row.stored().signed_hash(key)
            }
            (SIGNED, None) => {
                return Err((
                    row.id,
                    format!(
                        "row {} onwards cannot be checked: {}",
                        row.id,
                        crate::secrets::SecretError::MissingRecordKey
                    ),
                ));
            }
            (other, _) => {
                return Err((
                    row.id,
                    format!(
                        "row {} names an unknown scheme '{other}': it was changed",
                        row.id
                    ),
                ));
            }
        };
        if computed != row.hash {
            return Err((
                row.id,
                format!("row {} was changed after it was written", row.id),
            ));
        }
        prev = Some(row);
    }
    Ok(())
}

impl Store {
    /// Signs this store's remediation record with keys kept in `secrets`.
    pub fn sign_record_with(mut self, secrets: Arc<dyn SecretStore>) -> Store {
        self.record.secrets = Some(secrets);
        self
    }

    /// Appends one step, chained to the row before it and signed, in one transaction;
    /// then updates the head's copy outside the database.
    pub fn append_log(&self, e: &NewLogEntry) -> Result<LogEntry> {
        self.append_log_at(e, None)
    }

    /// [`Store::append_log`], the step recorded as taken at `at` when given (a step
    /// copied from a workstation's own record into the team's keeps its time).
    pub(super) fn append_log_at(&self, e: &NewLogEntry, at: Option<&str>) -> Result<LogEntry> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(db::TransactionBehavior::Immediate)?;
            let key = self.record.key(&*tx, true)?.ok_or(crate::secrets::SecretError::MissingRecordKey)?;
            let last: Option<(i64, String)> =
                tx.query_row("SELECT id, hash FROM remediation_log ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
            let (id, prev_hash) = match last {
                Some((id, hash)) => (id + 1, hash),
                None => (1, GENESIS.to_string()),
            };
            let at = at.map_or_else(|| ts(crate::clock::now()), str::to_string);
            let text = |v: &Option<Value>| v.as_ref().map(Value::to_string);
            let stored = Stored { id, at: &at, e, before: text(&e.before), after: text(&e.after), prev_hash: &prev_hash };
            let hash = stored.signed_hash(&key);
            tx.execute(
                &format!("INSERT INTO remediation_log ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"),
                params![
                    id, at, e.os_user, e.machine, e.operator, e.tenant_id, e.mailbox, e.alert_id, e.action, e.request,
                    stored.before, stored.after, e.result, e.detail, e.undoes, prev_hash, hash, SIGNED
                ],
            )?;
            let head = ChainHead { id, hash: hash.clone() };
            write_setting(&*tx, &HEAD, &head)?;
            tx.commit()?;
            // The step is recorded; a head copy left behind shows in `audit verify` as
            // rows after the copy, which only the key holder could have signed.
            if let Err(err) = self.record.write_head_file(&key, &head) {
                tracing::warn!("the remediation record's head copy {} could not be written: {err}", self.record.head_file.display());
            }
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

    /// The steps taken for one alert, oldest first, as stored: not verified (see
    /// [`Store::verified_log_entry`]).
    pub fn log_for_alert(&self, alert_id: i64) -> Result<Vec<LogEntry>> {
        self.with(|c| {
            Ok(raw_rows(c, "WHERE alert_id = ?1", Some(alert_id))?
                .into_iter()
                .map(Raw::into_entry)
                .collect())
        })
    }

    /// One step, as stored: not verified (see [`Store::verified_log_entry`]);
    /// [`StoreError::NoLogEntry`] when there is none.
    pub fn log_entry(&self, id: i64) -> Result<LogEntry> {
        self.with(|c| one_entry(c, id))
    }

    /// One step, only when the record shows it is as written: its own row checks out, and
    /// a plain row also needs the signed row that anchors it (or, with none, the whole record).
    pub fn verified_log_entry(&self, id: i64) -> Result<LogEntry> {
        self.with(|c| {
            let entry = one_entry(c, id)?;
            let report = self.check(c)?;
            let plain = report.signed_from.is_none_or(|s| id < s);
            let must_hold_to = if plain {
                report.signed_from.unwrap_or(i64::MAX)
            } else {
                id
            };
            match (report.broken_at, report.reason) {
                (Some(at), Some(reason)) if at <= must_hold_to => {
                    Err(StoreError::TamperedStep { id, reason })
                }
                _ => Ok(entry),
            }
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

    /// The key that signs the team's record, as base64, for a colleague's workstation to
    /// adopt ([`Store::adopt_record_key`]).
    pub fn share_record_key(&self) -> Result<SecretString> {
        use base64::Engine as _;
        self.with(|c| {
            let key = self
                .record
                .key(c, false)?
                .ok_or(StoreError::RecordKeyElsewhere)?;
            Ok(SecretString::from(
                base64::engine::general_purpose::STANDARD.encode(key.expose_secret()),
            ))
        })
    }

    /// Keeps `key` (base64, as [`Store::share_record_key`] gives it) in this
    /// workstation's keychain as the team record's key, once every signed row checks out
    /// with it; then copies the head beside the database, as a step written here would.
    pub fn adopt_record_key(&self, key: &SecretString) -> Result<ChainHead> {
        use base64::Engine as _;
        let secrets = self
            .record
            .secrets
            .as_ref()
            .ok_or(StoreError::RecordUnsigned)?;
        let refused = |why: &str| StoreError::NotTheRecordKey(why.to_string());
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.expose_secret().trim())
            .map_err(|_| {
                refused("the key given is not base64, as a colleague's workstation shares it")
            })?;
        let candidate = SecretSlice::from(bytes);
        self.with(|c| {
            let Some(id) = read_setting(c, &RECORD_ID)? else {
                return Err(refused(
                    "the team's remediation record has no step yet: the first step written makes its key, with nothing to adopt",
                ));
            };
            let rows = raw_rows(c, "", None)?;
            let Some(last) = rows.last() else {
                return Err(refused("the team's remediation record has no step yet: nothing to adopt"));
            };
            if let Err((row, _)) = walk(&rows, Some(&candidate)) {
                return Err(refused(&format!(
                    "the key given does not sign the team's remediation record (row {row} does not check out with it): \
                     ask for the key again; nothing was kept"
                )));
            }
            secrets.set(&self.record.entry(&id), SecretKind::RecordKey, candidate.expose_secret())?;
            let head = ChainHead {
                id: last.id,
                hash: last.hash.clone(),
            };
            if let Err(e) = self.record.write_head_file(&candidate, &head) {
                tracing::warn!("the head's copy beside the database is not updated: {e}");
            }
            Ok(head)
        })
    }

    /// Walks the chain: every row must follow the one before it and hash to what it says,
    /// and the newest row must be the head recorded in the settings and, signed, in the
    /// file beside the database.
    pub fn verify_log(&self) -> Result<ChainReport> {
        self.with(|c| self.check(c))
    }

    /// [`Store::verify_log`], and the record must still hold `earlier`, a head copied
    /// elsewhere before: the one check that catches a record cut back to an old backup.
    pub fn verify_log_since(&self, earlier: &ChainHead) -> Result<ChainReport> {
        self.with(|c| {
            let mut report = self.check(c)?;
            let held = raw_rows(c, "WHERE id = ?1", Some(earlier.id))?.first().is_some_and(|r| r.hash.eq_ignore_ascii_case(&earlier.hash));
            if report.intact && !held {
                report.intact = false;
                report.broken_at = Some(earlier.id);
                report.reason = Some(format!(
                    "the record no longer holds row {} with the hash copied earlier: it was cut back or replaced since",
                    earlier.id
                ));
            }
            Ok(report)
        })
    }

    fn check(&self, c: &Connection) -> Result<ChainReport> {
        let rows = raw_rows(c, "", None)?;
        let signed_from = rows.iter().find(|r| r.scheme != PLAIN).map(|r| r.id);
        let file = self.record.read_head_file();
        // A team's workstation keeps a copy of the head only once it has written a step
        // (or adopted the key); until then only the key can vouch for the rows.
        let copy_expected = c.engine() == db::Engine::Sqlite;
        let key = if signed_from.is_some() || !matches!(file, Ok(None)) {
            self.record.key(c, false)?
        } else {
            None
        };
        let last = rows.last().map(|r| ChainHead {
            id: r.id,
            hash: r.hash.clone(),
        });
        let report = |broken: Option<(i64, String)>| ChainReport {
            rows: rows.len(),
            intact: broken.is_none(),
            broken_at: broken.as_ref().map(|b| b.0),
            reason: broken.map(|b| b.1),
            head: last.clone(),
            signed_from,
        };
        if let Err(broken) = walk(&rows, key.as_ref()) {
            return Ok(report(Some(broken)));
        }
        let head: Option<ChainHead> = read_setting(c, &HEAD).unwrap_or(None);
        match (&head, &last) {
            (None, None) => {}
            (Some(h), Some(l)) if h == l => {}
            (Some(h), _) => {
                let reason = format!(
                    "the log ends before row {}, the last one written: newer rows were deleted or replaced",
                    h.id
                );
                return Ok(report(Some((h.id, reason))));
            }
            (None, Some(l)) => {
                return Ok(report(Some((
                    l.id,
                    "the log's head record is missing: it was removed from the settings".into(),
                ))));
            }
        }
        Ok(report(
            outside_head(
                &self.record,
                file,
                key.as_ref(),
                &rows,
                signed_from,
                copy_expected,
            )
            .err(),
        ))
    }
}

/// The head's copy outside the database must be signed with the record's key and name a
/// row of the chain; rows after it are fine (only the key holder could sign them).
fn outside_head(
    record: &Record,
    file: std::result::Result<Option<HeadCopy>, String>,
    key: Option<&SecretSlice<u8>>,
    rows: &[Raw],
    signed_from: Option<i64>,
    copy_expected: bool,
) -> std::result::Result<(), (i64, String)> {
    let first_signed = signed_from.unwrap_or(1);
    let copy = match file {
        Ok(Some(copy)) => copy,
        Ok(None) if signed_from.is_none() || !copy_expected => return Ok(()),
        Ok(None) => {
            return Err((
                first_signed,
                format!(
                    "the head copy {} beside the database is missing: it was deleted",
                    record.head_file.display()
                ),
            ));
        }
        Err(why) => return Err((first_signed, why)),
    };
    let head = ChainHead {
        id: copy.id,
        hash: copy.hash,
    };
    let Some(key) = key else {
        return Err((
            head.id,
            crate::secrets::SecretError::MissingRecordKey.to_string(),
        ));
    };
    if head_tag(key, &head) != copy.tag {
        return Err((
            head.id,
            format!("the head copy {} was altered", record.head_file.display()),
        ));
    }
    match rows.iter().find(|r| r.id == head.id) {
        Some(r) if r.hash == head.hash => Ok(()),
        Some(_) => Err((
            head.id,
            format!(
                "row {} is not the row the head copy beside the database names: it was replaced",
                head.id
            ),
        )),
        None => Err((
            head.id,
            format!(
                "the log ends before row {}, the newest one the head copy beside the database names: newer rows were deleted",
                head.id
            ),
        )),
    }
}

fn one_entry(c: &Connection, id: i64) -> Result<LogEntry> {
    raw_rows(c, "WHERE id = ?1", Some(id))?
        .into_iter()
        .next()
        .map(Raw::into_entry)
        .ok_or(StoreError::NoLogEntry(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MemorySecrets;

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

    const ACTIONS: [&str; 5] = [
        "block-sign-in",
        "revoke-sessions",
        "reset-password",
        "disable-rule",
        "clear-forwarding",
    ];

    /// A store with five chained rows, its keys in `secrets`.
    fn logged_with(secrets: Arc<MemorySecrets>) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap().sign_record_with(secrets);
        for a in ACTIONS {
            store.append_log(&entry(a)).unwrap();
        }
        (dir, store)
    }

    fn logged() -> (tempfile::TempDir, Store) {
        logged_with(Arc::new(MemorySecrets::default()))
    }

    fn sql(store: &Store, statement: &str) {
        store.with(|c| Ok(c.execute_batch(statement)?)).unwrap();
    }

    fn broken(store: &Store) -> (Option<i64>, String) {
        let report = store.verify_log().unwrap();
        assert!(!report.intact, "{report:?}");
        (report.broken_at, report.reason.unwrap())
    }

    /// Rewrites every row's hash the way the version before signing did, labelled plain,
    /// with the settings' head to match: what someone without the key can do.
    fn rewrite_unsigned(store: &Store) {
        store
            .with(|c| {
                let mut prev = GENESIS.to_string();
                for mut row in raw_rows(c, "", None)? {
                    row.prev_hash = prev;
                    let hash = row.stored().plain_hash();
                    c.execute(
                        "UPDATE remediation_log SET prev_hash = ?2, hash = ?3, scheme = 'sha256' WHERE id = ?1",
                        params![row.id, row.prev_hash, hash],
                    )?;
                    write_setting(c, &HEAD, &ChainHead { id: row.id, hash: hash.clone() })?;
                    prev = hash;
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn an_untouched_log_verifies_and_reads_back_as_written() {
        let (_dir, store) = logged();
        let report = store.verify_log().unwrap();
        let log = store.log().unwrap();
        let head = ChainHead {
            id: 5,
            hash: log[4].hash.clone(),
        };
        assert_eq!(
            report,
            ChainReport {
                rows: 5,
                intact: true,
                head: Some(head),
                signed_from: Some(1),
                ..Default::default()
            }
        );
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
        let (at, reason) = broken(&store);
        assert_eq!(at, Some(3));
        assert!(reason.contains("row 3 was changed"), "{reason}");
    }

    #[test]
    fn an_edit_re_signed_without_the_record_key_breaks_at_that_row() {
        let (_dir, store) = logged();
        let forged = store.log_entry(2).unwrap();
        let e = NewLogEntry {
            detail: "nothing happened".into(),
            ..forged.step.clone()
        };
        let stored = Stored {
            id: 2,
            at: &forged.at,
            e: &e,
            before: e.before.as_ref().map(Value::to_string),
            after: e.after.as_ref().map(Value::to_string),
            prev_hash: &forged.prev_hash,
        };
        // With a key of the forger's own: the row no longer checks out.
        let hash = stored.signed_hash(&SecretSlice::from(vec![7u8; 32]));
        sql(
            &store,
            &format!(
                "UPDATE remediation_log SET detail = 'nothing happened', hash = '{hash}' WHERE id = 2"
            ),
        );
        assert_eq!(broken(&store).0, Some(2));
        // Passed off as a row from before signing: refused after signed rows began.
        let hash = stored.plain_hash();
        sql(
            &store,
            &format!("UPDATE remediation_log SET hash = '{hash}', scheme = 'sha256' WHERE id = 2"),
        );
        let (at, reason) = broken(&store);
        assert_eq!(at, Some(2));
        assert!(
            reason.contains("old unsigned form after signed rows began"),
            "{reason}"
        );
    }

    #[test]
    fn rewriting_the_whole_record_unsigned_is_caught_by_the_signed_head_copy() {
        let (dir, store) = logged();
        let before = store.verify_log().unwrap().head.unwrap();
        rewrite_unsigned(&store);
        let (at, reason) = broken(&store);
        assert_eq!(at, Some(5));
        assert!(
            reason.contains("row 5 is not the row the head copy beside the database names"),
            "{reason}"
        );
        // Deleting the copy too: it is missing, and the printed head differs from one kept elsewhere.
        std::fs::remove_file(dir.path().join(HEAD_FILE)).unwrap();
        let report = store.verify_log().unwrap();
        assert!(
            report.intact,
            "without any signed row nor head copy, only an outside copy shows it: {report:?}"
        );
        assert_ne!(report.head.unwrap().hash, before.hash);
    }

    #[test]
    fn the_head_copy_beside_the_database_is_private_signed_and_checked() {
        let (dir, store) = logged();
        let path = dir.path().join(HEAD_FILE);
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&path).unwrap().permissions()
            ) & 0o777,
            0o600
        );
        let copy: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            (copy["id"].as_i64(), copy["hash"].as_str()),
            (Some(5), Some(store.log().unwrap()[4].hash.as_str()))
        );

        let mut edited = copy.clone();
        edited["id"] = json!(4);
        edited["hash"] = json!(store.log().unwrap()[3].hash);
        std::fs::write(&path, edited.to_string()).unwrap();
        let (at, reason) = broken(&store);
        assert!(at == Some(4) && reason.contains("was altered"), "{reason}");

        std::fs::remove_file(&path).unwrap();
        let (at, reason) = broken(&store);
        assert!(at == Some(1) && reason.contains("is missing"), "{reason}");
    }

    #[test]
    fn a_head_copied_elsewhere_catches_a_record_cut_back_to_an_older_backup() {
        let (dir, store) = logged();
        let backup = tempfile::tempdir().unwrap();
        sql(
            &store,
            &format!(
                "VACUUM INTO '{}'",
                backup.path().join("rulewatch.db").display()
            ),
        );
        std::fs::copy(dir.path().join(HEAD_FILE), backup.path().join(HEAD_FILE)).unwrap();
        let secrets = store.record.secrets.clone().unwrap();
        store.append_log(&entry("remove-rule")).unwrap();
        let copied = store.verify_log().unwrap().head.unwrap();
        assert!(store.verify_log_since(&copied).unwrap().intact);
        drop(store);
        let restored = Store::open(backup.path())
            .unwrap()
            .sign_record_with(secrets);
        assert!(
            restored.verify_log().unwrap().intact,
            "the backup is consistent in itself"
        );
        let report = restored.verify_log_since(&copied).unwrap();
        assert_eq!((report.intact, report.broken_at), (false, Some(6)));
        assert!(report.reason.unwrap().contains("no longer holds row 6"));
    }

    #[test]
    fn a_deleted_row_breaks_the_chain_at_the_next() {
        let (_dir, store) = logged();
        sql(&store, "DELETE FROM remediation_log WHERE id = 2");
        assert_eq!(broken(&store).0, Some(3));
    }

    #[test]
    fn an_inserted_row_breaks_the_chain() {
        let (_dir, store) = logged();
        sql(
            &store,
            "INSERT INTO remediation_log SELECT 35, at, os_user, machine, operator, tenant_id, mailbox, alert_id, 'undo-block-sign-in', \
             request, before_state, after_state, result, detail, undoes, hash, hash, scheme FROM remediation_log WHERE id = 3;
             UPDATE remediation_log SET id = 6 WHERE id = 5; UPDATE remediation_log SET id = 5 WHERE id = 4;
             UPDATE remediation_log SET id = 4 WHERE id = 35;",
        );
        assert_eq!(broken(&store).0, Some(4));
    }

    #[test]
    fn losing_the_newest_rows_shows_even_with_the_settings_head_moved_back() {
        let (_dir, store) = logged();
        sql(&store, "DELETE FROM remediation_log WHERE id >= 4");
        let (at, reason) = broken(&store);
        assert_eq!(at, Some(5));
        assert!(reason.contains("newer rows were deleted"), "{reason}");
        let head3 = ChainHead {
            id: 3,
            hash: store.log().unwrap()[2].hash.clone(),
        };
        store.with(|c| write_setting(c, &HEAD, &head3)).unwrap();
        let (at, reason) = broken(&store);
        assert_eq!(at, Some(5));
        assert!(
            reason.contains("the head copy beside the database names"),
            "{reason}"
        );
    }

    #[test]
    fn without_the_record_key_signed_rows_cannot_be_checked() {
        let (dir, store) = logged();
        drop(store);
        let elsewhere = Store::open(dir.path())
            .unwrap()
            .sign_record_with(Arc::new(MemorySecrets::default()));
        let (at, reason) = broken(&elsewhere);
        assert_eq!(at, Some(1));
        assert!(
            reason.contains("keychain holds no key for this remediation record"),
            "{reason}"
        );
        assert!(matches!(
            elsewhere.verified_log_entry(3),
            Err(StoreError::TamperedStep { id: 3, .. })
        ));
    }

    #[test]
    fn a_store_opened_without_a_keychain_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(matches!(
            store.append_log(&entry("block-sign-in")),
            Err(StoreError::RecordUnsigned)
        ));
        assert!(store.log().unwrap().is_empty());
    }

    #[test]
    fn undo_reads_only_a_step_that_checks_out() {
        let (_dir, store) = logged();
        sql(
            &store,
            r#"UPDATE remediation_log SET before_state = '{"account_enabled":false}' WHERE id = 4"#,
        );
        let refused = store.verified_log_entry(4).unwrap_err().to_string();
        assert!(
            refused.contains("step 4 of the remediation record does not check out")
                && refused.contains("row 4 was changed"),
            "{refused}"
        );
        assert!(
            matches!(
                store.verified_log_entry(5),
                Err(StoreError::TamperedStep { id: 5, .. })
            ),
            "a later row rests on the changed one"
        );
        assert_eq!(
            store.verified_log_entry(2).unwrap().step.action,
            "revoke-sessions",
            "an earlier signed row still checks out"
        );
    }

    /// Writes rows as Rulewatch did before it signed the record, in a database at that version.
    fn old_database(dir: &Path, rows: usize) {
        let mut c = rusqlite::Connection::open(dir.join("rulewatch.db")).unwrap();
        super::super::migrations().to_version(&mut c, 6).unwrap();
        let mut prev = GENESIS.to_string();
        for (i, a) in ACTIONS.iter().take(rows).enumerate() {
            let e = entry(a);
            let id = i as i64 + 1;
            let stored = Stored {
                id,
                at: "2026-11-01T10:00:00.000Z",
                e: &e,
                before: e.before.as_ref().map(Value::to_string),
                after: e.after.as_ref().map(Value::to_string),
                prev_hash: &prev,
            };
            let hash = stored.plain_hash();
            c.execute(
                "INSERT INTO remediation_log (id, at, os_user, machine, operator, tenant_id, mailbox, alert_id, action, request, \
                 before_state, after_state, result, detail, undoes, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                rusqlite::params![id, stored.at, e.os_user, e.machine, e.operator, e.tenant_id, e.mailbox, e.alert_id, e.action, e.request,
                        stored.before, stored.after, e.result, e.detail, e.undoes, prev, hash],
            )
            .unwrap();
            write_setting(
                &c,
                &HEAD,
                &ChainHead {
                    id,
                    hash: hash.clone(),
                },
            )
            .unwrap();
            prev = hash;
        }
    }

    #[test]
    fn rows_from_before_signing_keep_verifying_and_the_first_signed_row_anchors_them() {
        let dir = tempfile::tempdir().unwrap();
        old_database(dir.path(), 3);
        let store = Store::open(dir.path())
            .unwrap()
            .sign_record_with(Arc::new(MemorySecrets::default()));
        let report = store.verify_log().unwrap();
        assert!(
            report.intact && report.rows == 3 && report.signed_from.is_none(),
            "{report:?}"
        );
        assert_eq!(
            store.verified_log_entry(2).unwrap().step.action,
            "revoke-sessions"
        );

        store.append_log(&entry("disable-rule")).unwrap();
        let report = store.verify_log().unwrap();
        assert!(
            report.intact && report.rows == 4 && report.signed_from == Some(4),
            "{report:?}"
        );

        // An old row edited and the plain chain recomputed: the signed row no longer follows.
        sql(
            &store,
            "UPDATE remediation_log SET detail = 'nothing happened' WHERE id = 2",
        );
        store
            .with(|c| {
                let mut prev = GENESIS.to_string();
                for mut row in raw_rows(c, "WHERE id <= 3", None)? {
                    row.prev_hash = prev;
                    let hash = row.stored().plain_hash();
                    c.execute(
                        "UPDATE remediation_log SET prev_hash = ?2, hash = ?3 WHERE id = ?1",
                        params![row.id, row.prev_hash, hash],
                    )?;
                    prev = hash;
                }
                Ok(())
            })
            .unwrap();
        let (at, reason) = broken(&store);
        assert_eq!(at, Some(4));
        assert!(reason.contains("does not follow row 3"), "{reason}");
        assert!(
            matches!(
                store.verified_log_entry(1),
                Err(StoreError::TamperedStep { id: 1, .. })
            ),
            "old rows rest on their anchor"
        );
        assert!(
            matches!(
                store.verified_log_entry(4),
                Err(StoreError::TamperedStep { id: 4, .. })
            ),
            "and the anchor on them"
        );
    }
}
