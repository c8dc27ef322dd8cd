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
    /// Alerts and monitoring events queued for it and not yet delivered.
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
    /// Whether it is one of the front ends, which every installation (and in a team,
    /// every workstation) has.
    pub fn built_in(&self) -> bool {
        [FrontEnd::Desktop, FrontEnd::Scan, FrontEnd::Watch]
            .iter()
            .any(|f| f.channel() == self.kind)
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

/// A resolved incident's news waiting for a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedResolution {
    /// The incident.
    pub incident_id: i64,
    /// How often delivering it failed.
    pub attempts: u32,
    /// Not to be tried before this, after a failure.
    pub retry_at: Option<DateTime<Utc>>,
}

/// A tenant's monitoring breaking or recovering, as the channels receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonitoringEvent {
    /// The event's number in this store.
    pub id: i64,
    /// The tenant.
    pub tenant_id: String,
    /// Its display name.
    pub tenant_name: String,
    /// `tenant.broken` or `tenant.recovered`.
    pub event: String,
    /// The problem's kind (`consent_missing`, …), when broken.
    pub problem: Option<String>,
    /// What is wrong and what to do, when broken.
    pub message: Option<String>,
    /// When the scan that saw the change ended.
    pub at: Option<DateTime<Utc>>,
    /// How often delivering it to the channel failed.
    pub attempts: u32,
    /// Not to be tried before this, after a failure.
    pub retry_at: Option<DateTime<Utc>>,
}

/// Records that `s`'s tenant broke (or recovered) and queues it for every channel the
/// technician added, inside the caller's transaction. The front ends show a tenant's
/// state themselves.
pub(super) fn monitoring_event(
    c: &Connection,
    s: &super::StatusUpdate<'_>,
    broken: bool,
    now: &str,
) -> db::Result<()> {
    let id: i64 = c.query_row(
        "INSERT INTO monitoring_events (tenant_id, tenant_name, event, problem, message, at)
         SELECT tenant_id, name, ?2, ?3, ?4, ?5 FROM tenants WHERE tenant_id = ?1
         RETURNING id",
        params![
            s.tenant_id,
            if broken {
                "tenant.broken"
            } else {
                "tenant.recovered"
            },
            s.problem.filter(|_| broken),
            s.message.filter(|_| broken),
            now
        ],
        |r| r.get(0),
    )?;
    c.execute(
        "INSERT INTO event_deliveries (channel, event_id, queued_at)
         SELECT name, ?1, ?2 FROM channels WHERE kind NOT IN ('desktop', 'scan', 'watch')",
        params![id, now],
    )?;
    Ok(())
}

/// Queues alert `alert_id` for every channel, inside the caller's transaction.
pub(super) fn queue(c: &Connection, alert_id: i64, now: &str) -> db::Result<()> {
    // `WHERE true`: SQLite would read `ON` right after `FROM channels` as a join's.
    c.execute(
        "INSERT INTO deliveries (channel, alert_id, queued_at) SELECT name, ?1, ?2 FROM channels WHERE true
         ON CONFLICT DO NOTHING",
        params![alert_id, now],
    )?;
    Ok(())
}

/// Records an attempt at the row of `table` (one of the channel queues, keyed by
/// `channel` and `column` = `id`): done with, or failed with `error` and not to be tried
/// again before `retry_at`.
fn attempt_done(
    c: &Connection,
    table: &'static str,
    column: &'static str,
    channel: &str,
    id: i64,
    failed: Option<(&str, DateTime<Utc>)>,
) -> Result<()> {
    let now = ts(crate::clock::now());
    match failed {
        None => c.execute(
            &format!(
                "UPDATE {table} SET delivered_at = ?3, attempts = attempts + 1, last_attempt_at = ?3
                 WHERE channel = ?1 AND {column} = ?2 AND delivered_at IS NULL"
            ),
            params![channel, id, now],
        )?,
        Some((error, retry_at)) => c.execute(
            &format!(
                "UPDATE {table} SET attempts = attempts + 1, last_attempt_at = ?3, last_error = ?4,
                                    next_attempt_at = ?5
                 WHERE channel = ?1 AND {column} = ?2 AND delivered_at IS NULL"
            ),
            params![channel, id, now, error, ts(retry_at)],
        )?,
    };
    Ok(())
}

/// This store's own id in the keychain names of its channels' secrets, so two data
/// folders on one machine with a channel of the same name never share a secret.
const CHANNEL_SECRETS: super::settings::Key<String> =
    super::settings::Key::new("channels.secret_owner");

impl Store {
    /// The keychain owner of channel `name`'s secret: `<this store's id>/<name>`, the id
    /// made on first use. Every delivery pass reads it, so only its making writes.
    pub fn channel_secret_owner(&self, name: &str) -> Result<String> {
        if let Some(id) = self.setting(&CHANNEL_SECRETS)? {
            return Ok(format!("{id}/{name}"));
        }
        self.with(|c| {
            // Two processes making it at once: the write lock makes one id win.
            let tx = c.transaction_with_behavior(db::TransactionBehavior::Immediate)?;
            let id = match super::settings::read_setting(&*tx, &CHANNEL_SECRETS)? {
                Some(id) => id,
                None => {
                    let id = uuid::Uuid::new_v4().simple().to_string();
                    super::settings::write_setting(&*tx, &CHANNEL_SECRETS, &id)?;
                    id
                }
            };
            tx.commit()?;
            Ok(format!("{id}/{name}"))
        })
    }

    /// The alerts queued for `channel` and not yet delivered to it, oldest first.
    pub fn pending_deliveries(&self, channel: &str) -> Result<Vec<Alert>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "{ALERT_SELECT} JOIN deliveries d ON d.alert_id = a.id
                 WHERE d.channel = ?1 AND d.delivered_at IS NULL ORDER BY a.id"
            ))?;
            let rows = stmt
                .query_map([channel], Alert::from_row)?
                .collect::<db::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Marks these alerts delivered to `channel`; the other channels' rows stay as
    /// they are.
    pub fn mark_delivered(&self, channel: &str, alert_ids: &[i64]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(crate::clock::now());
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

    /// Marks done with, without sending, what waited for `channel` since before
    /// `before`; answers how many. A front end away that long hands over only the rest
    /// (the panel and `rulewatch alerts` list them all).
    pub fn pass_over_stale(&self, channel: &str, before: DateTime<Utc>) -> Result<usize> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE deliveries SET delivered_at = ?3, sent = 0
                 WHERE channel = ?1 AND delivered_at IS NULL AND queued_at < ?2",
                params![channel, ts(before), ts(crate::clock::now())],
            )?)
        })
    }

    /// Marks these alerts done with for `channel` without sending them: its route
    /// passed them over.
    pub fn mark_passed_over(&self, channel: &str, alert_ids: &[i64]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(crate::clock::now());
            for id in alert_ids {
                tx.execute(
                    "UPDATE deliveries SET delivered_at = ?3, sent = 0
                     WHERE channel = ?1 AND alert_id = ?2 AND delivered_at IS NULL",
                    params![channel, id, now],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Whether `channel` was already sent an alert of incident `incident_id`.
    pub fn sent_about(&self, channel: &str, incident_id: i64) -> Result<bool> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM deliveries d JOIN alerts a ON a.id = d.alert_id
                 WHERE d.channel = ?1 AND a.incident_id = ?2 AND d.delivered_at IS NOT NULL AND d.sent = 1)",
                params![channel, incident_id],
                |r| r.get(0),
            )?)
        })
    }

    /// When `channel` last sent its digest, or was added when it never has.
    pub fn digest_sent_at(&self, channel: &str) -> Result<Option<DateTime<Utc>>> {
        self.with(|c| {
            let at: Option<String> = c
                .query_row(
                    "SELECT COALESCE(digest_sent_at, added_at) FROM channels WHERE name = ?1",
                    [channel],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            Ok(at.as_deref().and_then(parse_ts))
        })
    }

    /// Records that `channel` sent its digest at `at`.
    pub fn digest_sent(&self, channel: &str, at: DateTime<Utc>) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE channels SET digest_sent_at = ?2 WHERE name = ?1",
                params![channel, ts(at)],
            )?;
            Ok(())
        })
    }

    /// The resolved incidents whose news waits for `channel`, in the order resolved.
    pub fn queued_resolutions(&self, channel: &str) -> Result<Vec<QueuedResolution>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT incident_id, attempts, next_attempt_at FROM resolution_deliveries
                 WHERE channel = ?1 AND delivered_at IS NULL ORDER BY queued_at, incident_id",
            )?;
            let rows = stmt
                .query_map([channel], |r| {
                    Ok(QueuedResolution {
                        incident_id: r.get(0)?,
                        attempts: r.get(1)?,
                        retry_at: r.get::<_, Option<String>>(2)?.as_deref().and_then(parse_ts),
                    })
                })?
                .collect::<db::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Records how delivering incident `incident_id`'s resolution to `channel` went:
    /// done with (sent, or not the channel's), or failed with `error`, not to be tried
    /// again before `retry_at`.
    pub fn resolution_delivery(
        &self,
        channel: &str,
        incident_id: i64,
        failed: Option<(&str, DateTime<Utc>)>,
    ) -> Result<()> {
        self.with(|c| {
            attempt_done(
                c,
                "resolution_deliveries",
                "incident_id",
                channel,
                incident_id,
                failed,
            )
        })
    }

    /// Whether alerts of incident `incident_id` still wait for `channel` (its
    /// resolution then waits too, so it never arrives before them).
    pub fn alerts_waiting(&self, channel: &str, incident_id: i64) -> Result<bool> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM deliveries d JOIN alerts a ON a.id = d.alert_id
                 WHERE d.channel = ?1 AND a.incident_id = ?2 AND d.delivered_at IS NULL)",
                params![channel, incident_id],
                |r| r.get(0),
            )?)
        })
    }

    /// The PSA ticket `thread` (an incident's key) opened in PSA channel `channel`, and
    /// the alert whose delivery opened it.
    pub fn psa_ticket(&self, channel: &str, thread: &str) -> Result<Option<(i64, Option<i64>)>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT ticket_id, opened_by_alert FROM psa_tickets WHERE channel = ?1 AND thread = ?2",
                params![channel, thread],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })
    }

    /// Records the PSA ticket `thread` opened in `channel`.
    pub fn set_psa_ticket(
        &self,
        channel: &str,
        thread: &str,
        ticket: i64,
        opened_by_alert: Option<i64>,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO psa_tickets (channel, thread, ticket_id, opened_by_alert, opened_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (channel, thread) DO UPDATE SET ticket_id = ?3, opened_by_alert = ?4, opened_at = ?5",
                params![channel, thread, ticket, opened_by_alert, ts(crate::clock::now())],
            )?;
            Ok(())
        })
    }

    /// Forgets `thread`'s ticket in `channel` (gone from the PSA, or done with).
    pub fn forget_psa_ticket(&self, channel: &str, thread: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM psa_tickets WHERE channel = ?1 AND thread = ?2",
                params![channel, thread],
            )?;
            Ok(())
        })
    }

    /// Replaces a channel's settings (never a secret).
    pub fn set_channel_config(&self, name: &str, config: &serde_json::Value) -> Result<()> {
        self.with(|c| {
            let changed = c.execute(
                "UPDATE channels SET config = ?2 WHERE name = ?1",
                params![name, config.to_string()],
            )?;
            if changed == 0 {
                return Err(StoreError::NoChannel(name.to_string()));
            }
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
            let now = ts(crate::clock::now());
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
                .collect::<db::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// The monitoring events waiting for `channel`, oldest first.
    pub fn queued_events(&self, channel: &str) -> Result<Vec<MonitoringEvent>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT e.id, e.tenant_id, e.tenant_name, e.event, e.problem, e.message, e.at,
                        d.attempts, d.next_attempt_at
                 FROM monitoring_events e JOIN event_deliveries d ON d.event_id = e.id
                 WHERE d.channel = ?1 AND d.delivered_at IS NULL ORDER BY e.id",
            )?;
            let at = |r: &db::Row<'_>, i| -> db::Result<Option<DateTime<Utc>>> {
                Ok(r.get::<_, Option<String>>(i)?.as_deref().and_then(parse_ts))
            };
            let rows = stmt
                .query_map([channel], |r| {
                    Ok(MonitoringEvent {
                        id: r.get(0)?,
                        tenant_id: r.get(1)?,
                        tenant_name: r.get(2)?,
                        event: r.get(3)?,
                        problem: r.get(4)?,
                        message: r.get(5)?,
                        at: at(r, 6)?,
                        attempts: r.get(7)?,
                        retry_at: at(r, 8)?,
                    })
                })?
                .collect::<db::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Records how delivering event `event_id` to `channel` went: delivered, or failed
    /// with `error` and not to be tried again before `retry_at`.
    pub fn event_delivery(
        &self,
        channel: &str,
        event_id: i64,
        failed: Option<(&str, DateTime<Utc>)>,
    ) -> Result<()> {
        self.with(|c| attempt_done(c, "event_deliveries", "event_id", channel, event_id, failed))
    }

    /// Adds a channel; it receives the alerts stored from now on.
    pub fn add_channel(&self, name: &str, kind: &str, config: &serde_json::Value) -> Result<()> {
        self.with(|c| {
            let added = c.execute(
                "INSERT INTO channels (name, kind, added_at, config) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO NOTHING",
                params![name, kind, ts(crate::clock::now()), config.to_string()],
            )?;
            if added == 0 {
                return Err(StoreError::ChannelExists(name.to_string()));
            }
            Ok(())
        })
    }

    /// Makes sure front end `to` has its queue, `name`; alerts stored from now on wait
    /// in it.
    pub fn ensure_front_end(&self, name: &str, to: FrontEnd) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO channels (name, kind, added_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING",
                params![name, to.channel(), ts(crate::clock::now())],
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
                .collect::<db::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Every channel's queue: what waits, when it last received something, its error.
    pub fn channel_health(&self) -> Result<Vec<ChannelHealth>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT ch.name, ch.kind,
                        (SELECT COUNT(*) FROM deliveries d WHERE d.channel = ch.name AND d.delivered_at IS NULL)
                        + (SELECT COUNT(*) FROM event_deliveries d WHERE d.channel = ch.name AND d.delivered_at IS NULL)
                        + (SELECT COUNT(*) FROM resolution_deliveries d WHERE d.channel = ch.name AND d.delivered_at IS NULL),
                        (SELECT MAX(delivered_at) FROM deliveries d WHERE d.channel = ch.name AND d.sent = 1),
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
                .collect::<db::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}
