//! A delivery queue per channel: each alert is queued for every channel in the
//! transaction that stores it, and each channel marks only its own rows delivered, so
//! one consumer never takes an alert from another.

use super::alerts::ALERT_SELECT;
use serde::Serialize;

use super::*;

/// The channels each installation has: its two front ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontEnd {
    /// The desktop app's native notifications.
    Desktop,
    /// What `rulewatch scan` prints.
    Scan,
}

impl FrontEnd {
    /// The channel's name in the store.
    pub fn channel(self) -> &'static str {
        match self {
            FrontEnd::Desktop => "desktop",
            FrontEnd::Scan => "scan",
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

    /// Records a failed attempt to deliver these alerts to `channel`: they stay queued.
    pub fn delivery_failed(&self, channel: &str, alert_ids: &[i64], error: &str) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(Utc::now());
            for id in alert_ids {
                tx.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = ?3, last_error = ?4
                     WHERE channel = ?1 AND alert_id = ?2 AND delivered_at IS NULL",
                    params![channel, id, now, error],
                )?;
            }
            tx.commit()?;
            Ok(())
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
