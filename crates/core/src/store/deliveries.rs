//! A delivery queue per channel: each alert is queued for every channel in the
//! transaction that stores it, and each channel marks only its own rows delivered, so
//! one consumer never takes an alert from another.

use super::alerts::{ALERT_COLUMN_COUNT, ALERT_COLUMNS, ALERT_SELECT};
use serde::Serialize;

use super::*;

/// The channels each installation has: its two front ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontEnd {
    /// The desktop app's native notifications.
    Desktop,
    /// What `rulewatch scan` prints.
    Scan,
    /// What `rulewatch watch` prints, the headless watcher; its queue exists from the
    /// watcher's first start.
    Watch,
}

impl FrontEnd {
    /// The channel's name in the store.
    pub fn channel(self) -> &'static str {
        match self {
            FrontEnd::Desktop => "desktop",
            FrontEnd::Scan => "scan",
            FrontEnd::Watch => "watch",
        }
    }
}

/// How one channel's deliveries stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelHealth {
    /// The channel's name.
    pub name: String,
    /// What kind of channel it is (`desktop`, `scan`).
    pub kind: String,
    /// Alerts queued for it and not yet delivered.
    pub queued: u64,
    /// When it last received an alert.
    pub last_delivered_at: Option<DateTime<Utc>>,
    /// Its latest failed attempt's error, when that came after its last success.
    pub last_error: Option<String>,
}

/// A channel as configured: a front end, or one the technician added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelRow {
    /// The channel's name, chosen by the technician (`desktop` and `scan` are built in).
    pub name: String,
    /// What kind of channel it is (`desktop`, `scan`, `webhook`).
    pub kind: String,
    /// Its settings as JSON (a webhook's URL); never a secret.
    pub config: Option<serde_json::Value>,
}

impl ChannelRow {
    /// Whether it is one of the front ends, which every installation has.
    pub fn built_in(&self) -> bool {
        [FrontEnd::Desktop, FrontEnd::Scan, FrontEnd::Watch]
            .iter()
            .any(|f| f.channel() == self.name)
    }
}

/// An alert waiting for a channel.
#[derive(Debug, Clone)]
pub struct Queued {
    /// The alert.
    pub alert: Alert,
    /// How often delivering it failed.
    pub attempts: u32,
    /// Not to be tried before this, after a failure.
    pub retry_at: Option<DateTime<Utc>>,
}

/// Queues alert `alert_id` for every channel, inside the caller's transaction.
pub(super) fn queue(c: &Connection, alert_id: i64, now: &str) -> rusqlite::Result<()> {
    // `WHERE true`: SQLite would read `ON` right after `FROM channels` as a join's.
    c.execute(
        "INSERT INTO deliveries (channel, alert_id, queued_at) SELECT name, ?1, ?2 FROM channels WHERE true
         ON CONFLICT DO NOTHING",
        params![alert_id, now],
    )?;
    Ok(())
}

impl Store {
    /// The alerts queued for `channel` and not yet delivered to it, oldest first.
    pub fn pending_deliveries(&self, channel: &str) -> Result<Vec<Alert>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "{ALERT_SELECT} JOIN deliveries d ON d.alert_id = a.id
                 WHERE d.channel = ?1 AND d.delivered_at IS NULL ORDER BY a.id"
            ))?;
            let rows = stmt
                .query_map([channel], Alert::from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Marks these alerts delivered to `channel`; the other channels' rows stay as
    /// they are.
    pub fn mark_delivered(&self, channel: &str, alert_ids: &[i64]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(Utc::now());
            for id in alert_ids {
                tx.execute(
                    "UPDATE deliveries SET delivered_at = ?3, attempts = attempts + 1, last_attempt_at = ?3
                     WHERE channel = ?1 AND alert_id = ?2 AND delivered_at IS NULL",
                    params![channel, id, now],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Records a failed attempt to deliver these alerts to `channel`: they stay queued,
    /// not tried again before `retry_at` when one is given.
    pub fn delivery_failed(
        &self,
        channel: &str,
        alert_ids: &[i64],
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(Utc::now());
            for id in alert_ids {
                tx.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = ?3, last_error = ?4,
                                           next_attempt_at = ?5
                     WHERE channel = ?1 AND alert_id = ?2 AND delivered_at IS NULL",
                    params![channel, id, now, error, retry_at.map(ts)],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// The alerts waiting for `channel`, oldest first, each with how often it was tried
    /// and when it may be tried again.
    pub fn queued_deliveries(&self, channel: &str) -> Result<Vec<Queued>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {ALERT_COLUMNS}, d.attempts, d.next_attempt_at FROM alerts a
                 JOIN deliveries d ON d.alert_id = a.id
                 WHERE d.channel = ?1 AND d.delivered_at IS NULL ORDER BY a.id"
            ))?;
            let rows = stmt
                .query_map(params![channel], |r| {
                    Ok(Queued {
                        alert: Alert::from_row(r)?,
                        attempts: r.get(ALERT_COLUMN_COUNT)?,
                        retry_at: r
                            .get::<_, Option<String>>(ALERT_COLUMN_COUNT + 1)?
                            .as_deref()
                            .and_then(parse_ts),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Adds a channel; it receives the alerts stored from now on.
    pub fn add_channel(&self, name: &str, kind: &str, config: &serde_json::Value) -> Result<()> {
        self.with(|c| {
            let added = c.execute(
                "INSERT INTO channels (name, kind, added_at, config) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO NOTHING",
                params![name, kind, ts(Utc::now()), config.to_string()],
            )?;
            if added == 0 {
                return Err(StoreError::ChannelExists(name.to_string()));
            }
            Ok(())
        })
    }

    /// Makes sure front end `to` has its queue; alerts stored from now on wait in it.
    pub fn ensure_front_end(&self, to: FrontEnd) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO channels (name, kind, added_at) VALUES (?1, ?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![to.channel(), ts(Utc::now())],
            )?;
            Ok(())
        })
    }

    /// Removes a channel the technician added, with its queue.
    pub fn remove_channel(&self, name: &str) -> Result<()> {
        self.with(|c| {
            let removed = c.execute(
                "DELETE FROM channels WHERE name = ?1 AND kind NOT IN ('desktop', 'scan', 'watch')",
                [name],
            )?;
            if removed == 0 {
                return Err(StoreError::NoChannel(name.to_string()));
            }
            Ok(())
        })
    }

    /// Every channel as configured, by name.
    pub fn channels(&self) -> Result<Vec<ChannelRow>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT name, kind, config FROM channels ORDER BY name")?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(ChannelRow {
                        name: r.get(0)?,
                        kind: r.get(1)?,
                        config: r
                            .get::<_, Option<String>>(2)?
                            .and_then(|c| serde_json::from_str(&c).ok()),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Every channel's queue: what waits, when it last received something, its error.
    pub fn channel_health(&self) -> Result<Vec<ChannelHealth>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT ch.name, ch.kind,
                        (SELECT COUNT(*) FROM deliveries d WHERE d.channel = ch.name AND d.delivered_at IS NULL),
                        (SELECT MAX(delivered_at) FROM deliveries d WHERE d.channel = ch.name),
                        (SELECT last_error FROM deliveries d
                          WHERE d.channel = ch.name AND d.delivered_at IS NULL AND d.last_error IS NOT NULL
                          ORDER BY d.last_attempt_at DESC LIMIT 1)
                 FROM channels ch ORDER BY ch.name",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(ChannelHealth {
                        name: r.get(0)?,
                        kind: r.get(1)?,
                        queued: r.get::<_, i64>(2)? as u64,
                        last_delivered_at: r
                            .get::<_, Option<String>>(3)?
                            .as_deref()
                            .and_then(parse_ts),
                        last_error: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}
