//! Retention: what the store lets go, and when, so that a year of watching stays small.
//! Blobs' marks, tenant and monitoring events, the sign-in baseline, the geolocation cache
//! and alerts' raw audit records are pruned; alerts themselves, incidents, their history
//! and the remediation record are kept for ever.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::db::{self, Connection, TransactionBehavior, params};
use super::settings::{Key, read_setting, write_setting};
use super::{Result, Store, StoreError, ts};

/// How far back Microsoft lists content: a listing's start is at most 7 days in the past
/// (../shared/reference/m365-api.md §A4), and content expires 7 days after it was made
/// (§A6; §G leaves both as they are). The engine never lists further back (it starts
/// each feed 7 days less 10 minutes before its scan's start), so a blob's mark older than
/// this is never asked for again.
const LISTED_FOR: Duration = Duration::days(7);

/// A blob's mark is kept a day longer than Microsoft lists it: a team's workstations
/// prune by their own clocks, and a scan that started hours before the prune still lists
/// from its own start. Were a mark dropped too early anyway, its blob would be read
/// again, and its alerts not stored twice (they are unique by tenant, record and rule).
const LISTING_MARGIN: Duration = Duration::days(1);

/// [`Store::prune_if_due`] prunes a store at most this often, whoever asks.
const PRUNE_EVERY: Duration = Duration::hours(24);

/// When the store was last pruned, by any process or workstation.
const LAST_PRUNED: Key<DateTime<Utc>> = Key::new("retention.last_pruned_at");

/// What a pruned raw record starts with: the object `{"pruned_after_days": N}`, which
/// still reads as JSON and keeps how long the record was kept, whatever the setting
/// says later.
const PRUNED_PREFIX: &str = "{\"pruned_after_days\":";

/// How long the store keeps what it does not keep for ever. Alerts, incidents, the
/// alerts' history and the remediation record are kept whatever it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Days after its detection that an alert keeps the audit record it came from; the
    /// alert's own fields and evidence stay.
    pub raw_days: u32,
    /// Days tenant events (scan errors, data gaps) and delivered monitoring events are kept.
    pub events_days: u32,
    /// Days an address a user has not signed in from since stays in their sign-in baseline.
    pub sign_ins_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            // Half a year: an incident is often looked into again months later (a
            // quarterly review, an insurer's questions), and the record is its evidence.
            raw_days: 180,
            // A month of scan errors and delivered notices: what a technician looks back on.
            events_days: 30,
            // Half a year: places a user signs in from twice a year (a seasonal office, a
            // holiday) stay familiar, while an address they left long ago stops vouching
            // for a change made from it; enrich.rs compares only the 10 latest anyway.
            sign_ins_days: 180,
        }
    }
}

/// What one prune removed, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Marks of blobs older than Microsoft lists.
    pub processed_blobs: usize,
    /// Records' parts in bursts, kept as long as the marks of their blobs.
    pub burst_events: usize,
    /// Tenant events (scan errors, data gaps).
    pub tenant_events: usize,
    /// Expired geolocation answers.
    pub geo_cache: usize,
    /// Sign-in addresses not seen again within the retention.
    pub sign_ins: usize,
    /// Delivery rows of monitoring events every channel has delivered.
    pub event_deliveries: usize,
    /// Monitoring events every channel has delivered.
    pub monitoring_events: usize,
    /// Alerts whose raw audit record was replaced by the pruned marker.
    pub raw_records: usize,
}

impl Pruned {
    /// Whether anything was removed.
    pub fn removed_anything(&self) -> bool {
        *self != Pruned::default()
    }
}

/// The words that stand for an alert's raw audit record once it was pruned; `None` when
/// `raw` is the record itself.
pub fn pruned_record(raw: &str) -> Option<String> {
    let days = raw.strip_prefix(PRUNED_PREFIX)?.strip_suffix('}')?;
    let days: u32 = days.trim().parse().ok()?;
    Some(format!(
        "The raw audit record was pruned after {days} days, as the retention setting says; the alert and its evidence are kept."
    ))
}

/// What an alert's raw record is replaced by when pruned after `days`.
fn marker(days: u32) -> String {
    format!("{PRUNED_PREFIX}{days}}}")
}

/// `days` before `now`, as stored. A span past chrono's range reaches back to its first
/// time, which sorts before every stored one ('-' before any digit): nothing is that old.
fn days_before(now: DateTime<Utc>, days: u32) -> String {
    let then = Duration::try_days(days.into())
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    ts(then)
}

/// Whether the store was last pruned [`PRUNE_EVERY`] or longer before `now`, or never.
/// An unreadable record of it counts as never: the prune writes it again.
fn due(c: &Connection, now: DateTime<Utc>) -> Result<bool> {
    let last = match read_setting(c, &LAST_PRUNED) {
        Ok(last) => last,
        Err(StoreError::BadSetting { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(last.is_none_or(|last| last + PRUNE_EVERY <= now))
}

/// Removes what `policy` no longer keeps as of `now`, inside the caller's transaction.
fn prune_in(c: &Connection, now: DateTime<Utc>, policy: &Retention) -> Result<Pruned> {
    let blobs_before = ts(now - LISTED_FOR - LISTING_MARGIN);
    let events_before = days_before(now, policy.events_days);
    let processed_blobs = c.execute(
        "DELETE FROM processed_blobs WHERE content_created < ?1",
        [&blobs_before],
    )?;
    // A late blob's records still join a burst whose other blobs Microsoft still lists.
    let burst_events = c.execute("DELETE FROM burst_events WHERE at < ?1", [&blobs_before])?;
    let tenant_events = c.execute("DELETE FROM tenant_events WHERE at < ?1", [&events_before])?;
    let geo_cache = super::geo::drop_expired(c, now)?;
    let sign_ins = c.execute(
        "DELETE FROM sign_ins WHERE last_seen < ?1",
        [days_before(now, policy.sign_ins_days)],
    )?;
    // An event still queued for any channel keeps every row of it; the event goes once
    // none is left.
    let event_deliveries = c.execute(
        "DELETE FROM event_deliveries WHERE event_id IN (
             SELECT e.id FROM monitoring_events e
             WHERE e.at < ?1 AND NOT EXISTS (
                 SELECT 1 FROM event_deliveries q WHERE q.event_id = e.id AND q.delivered_at IS NULL))",
        [&events_before],
    )?;
    let monitoring_events = c.execute(
        "DELETE FROM monitoring_events WHERE at < ?1
           AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = monitoring_events.id)",
        [&events_before],
    )?;
    // Already pruned records keep the days they were kept.
    let raw_records = c.execute(
        "UPDATE alerts SET raw_record = ?1 WHERE detected_at < ?2 AND raw_record NOT LIKE ?3",
        params![
            marker(policy.raw_days),
            days_before(now, policy.raw_days),
            format!("{PRUNED_PREFIX}%")
        ],
    )?;
    Ok(Pruned {
        processed_blobs,
        burst_events,
        tenant_events,
        geo_cache,
        sign_ins,
        event_deliveries,
        monitoring_events,
        raw_records,
    })
}

impl Store {
    /// Removes, in one transaction, what `policy` no longer keeps as of `now`: marks of
    /// blobs Microsoft no longer lists, older tenant events, expired geolocation answers,
    /// sign-in addresses not seen again, monitoring events every channel has delivered,
    /// and the raw audit records of older alerts (each reads as [`pruned_record`] then).
    /// Records when, for [`Store::prune_if_due`]. On SQLite the freed pages then go back to
    /// the file system.
    pub fn prune(&self, now: DateTime<Utc>, policy: &Retention) -> Result<Pruned> {
        self.prune_when(now, policy, false)
            .map(|pruned| pruned.unwrap_or_default())
    }

    /// [`Store::prune`], unless this store was pruned less than a day before `now` (by
    /// this process, another, or another workstation of the team): then `None`.
    pub fn prune_if_due(&self, now: DateTime<Utc>, policy: &Retention) -> Result<Option<Pruned>> {
        // A look without the writer lock first, as most scans find the day's prune done.
        if !self.with(|c| due(c, now))? {
            return Ok(None);
        }
        self.prune_when(now, policy, true)
    }

    fn prune_when(
        &self,
        now: DateTime<Utc>,
        policy: &Retention,
        only_if_due: bool,
    ) -> Result<Option<Pruned>> {
        let pruned = self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Checked again under the lock: another workstation may have pruned meanwhile.
            if only_if_due && !due(&*tx, now)? {
                return Ok(None);
            }
            let pruned = prune_in(&*tx, now, policy)?;
            write_setting(&*tx, &LAST_PRUNED, &now)?;
            tx.commit()?;
            Ok(Some(pruned))
        })?;
        if pruned.is_some_and(|p| p.removed_anything()) {
            self.with(|c| {
                // PostgreSQL's autovacuum does this by itself. Read to the end: each step
                // of the pragma frees one page, and a single step (execute_batch) stops there.
                if c.engine() == db::Engine::Sqlite {
                    c.fetch("PRAGMA incremental_vacuum", Vec::new())?;
                }
                Ok(())
            })?;
        }
        Ok(pruned)
    }
}
