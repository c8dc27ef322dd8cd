//! Incidents: the alerts about one mailbox of one tenant within a day form one incident
//! (a fan-in's, about one outside address, too), so a channel reports an account's
//! takeover once and later alerts update it instead of starting anew.

use serde::Serialize;

use super::alerts::ALERT_SELECT;
use super::chain::{self, Link};
use super::models::named;
use super::*;
use crate::detect::Severity;

/// An alert this close to an incident's first or last alert joins it.
pub const INCIDENT_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    /// Alerts may still join it.
    Open,
    /// A technician closed it; a later alert about the mailbox opens a new one.
    Resolved,
}

impl IncidentStatus {
    /// The status as stored (`"open"`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(IncidentStatus::Open),
            "resolved" => Some(IncidentStatus::Resolved),
            _ => None,
        }
    }
}

/// One incident with its alerts, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    /// The incident's number in this store.
    pub id: i64,
    /// Its stable key (a UUID), the idempotency key channels and tickets carry.
    pub key: String,
    /// The tenant of its mailbox (a fan-in's: of its first mailbox).
    pub tenant_id: String,
    /// That tenant's display name, as the newest alert gives it.
    pub tenant_name: String,
    /// The mailbox it is about (a fan-in's: the outside address), lower-cased.
    pub subject: String,
    /// One line: what its gravest alert found, about whom, and how many more alerts it
    /// holds; or, when its alerts make a takeover chain (`chain.rs`), that story. Attacker-influenced text: show it through `shown` like any field.
    pub title: String,
    /// The gravest of its alerts' severities; critical when they make a takeover chain.
    pub severity: Severity,
    /// Where it stands.
    pub status: IncidentStatus,
    /// When its first alert's change was made.
    pub first_event: Option<DateTime<Utc>>,
    /// When its latest alert's change was made.
    pub last_event: Option<DateTime<Utc>>,
    /// When a technician resolved it.
    pub resolved_at: Option<DateTime<Utc>>,
    /// What the technician said on resolving it.
    pub resolution_note: Option<String>,
    /// Its alerts, oldest first.
    pub alerts: Vec<Alert>,
}

/// The takeover chain the alerts make, in one sentence; else what the gravest alert (the
/// first of equals) found, about whom, and how many more alerts there are.
fn title(subject: &str, alerts: &[Alert]) -> String {
    let links: Vec<Link<'_>> = alerts
        .iter()
        .filter_map(|a| {
            Some(Link {
                rule: &a.rule,
                at: a.event_time.or(a.detected_at)?,
                origin: a.origin.as_ref(),
            })
        })
        .collect();
    if let Some(chain) = chain::find(&links) {
        return format!("{} ({} alerts)", chain.sentence(subject), alerts.len());
    }
    let gravest = alerts
        .iter()
        .max_by_key(|a| (a.severity, std::cmp::Reverse(a.id)));
    let what = gravest.map_or("Alerts", |a| {
        crate::detect::rules::rule(&a.rule).map_or(a.rule.as_str(), |r| r.title)
    });
    let more = match alerts.len() {
        0 | 1 => String::new(),
        2 => " (and 1 more alert)".to_string(),
        n => format!(" (and {} more alerts)", n - 1),
    };
    format!("{what}: {subject}{more}")
}

/// Puts alert `alert_id` into the open incident about its mailbox within
/// [`INCIDENT_WINDOW`], or opens one; an alert already in one brings that incident's
/// severity and times up to date (a fan-in that widened). Answers whether it opened one.
pub(super) fn attach(c: &Connection, alert_id: i64, now: &str) -> db::Result<bool> {
    attach_by(c, alert_id, now, "COALESCE(mailbox, target)")
}

/// [`attach`], naming the mailbox by the alerts' column expression `mailbox`: alerts got
/// the UPN Exchange gave (`mailbox`) after incidents came, so the upgrade that made the
/// first incidents had only the name in the record (`target`).
fn attach_by(c: &Connection, alert_id: i64, now: &str, mailbox: &str) -> db::Result<bool> {
    let (tenant_id, tenant_name, target, severity, at, current): (
        String,
        String,
        String,
        String,
        String,
        Option<i64>,
    ) = c.query_row(
        &format!(
            "SELECT tenant_id, tenant_name, {mailbox}, severity, COALESCE(event_time, detected_at), incident_id
             FROM alerts WHERE id = ?1"
        ),
        [alert_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
    )?;
    if let Some(id) = current {
        refresh(c, id, now)?;
        return Ok(false);
    }
    let subject = target.to_lowercase();
    let at = parse_ts(&at).unwrap_or_else(crate::clock::now);
    let near: Option<i64> = c
        .query_row(
            "SELECT id FROM incidents
             WHERE status = 'open' AND tenant_id = ?1 AND subject = ?2 AND last_event >= ?3 AND first_event <= ?4
             ORDER BY last_event DESC LIMIT 1",
            params![
                tenant_id,
                subject,
                ts(at - INCIDENT_WINDOW),
                ts(at + INCIDENT_WINDOW)
            ],
            |r| r.get(0),
        )
        .optional()?;
    let (id, opened) = match near {
        Some(id) => (id, false),
        None => {
            let id = c.query_row(
                "INSERT INTO incidents (key, tenant_id, tenant_name, subject, severity, first_event, last_event,
                                        opened_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?7) RETURNING id",
                params![
                    uuid::Uuid::new_v4().to_string(),
                    tenant_id,
                    tenant_name,
                    subject,
                    severity,
                    ts(at),
                    now
                ],
                |r| r.get(0),
            )?;
            (id, true)
        }
    };
    c.execute(
        "UPDATE alerts SET incident_id = ?2 WHERE id = ?1",
        params![alert_id, id],
    )?;
    refresh(c, id, now)?;
    Ok(opened)
}

/// When an incident began, how grave it is and whose: what the Overview's chart counts,
/// without the incident's alerts.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentStart {
    /// Its id.
    pub id: i64,
    /// The tenant of its mailbox.
    pub tenant_id: String,
    /// That tenant's display name, as the newest alert gives it.
    pub tenant_name: String,
    /// The gravest of its alerts' severities; critical when they make a takeover chain.
    pub severity: Severity,
    /// When its first alert's change was made.
    pub first_event: DateTime<Utc>,
}

/// Brings an incident's severity, tenant name and times in line with its alerts.
fn refresh(c: &Connection, id: i64, now: &str) -> db::Result<()> {
    let mut stmt = c.prepare(
        "SELECT severity, COALESCE(event_time, detected_at), tenant_name, rule, origin FROM alerts
         WHERE incident_id = ?1 ORDER BY id",
    )?;
    let alerts = stmt
        .query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?
        .collect::<db::Result<Vec<_>>>()?;
    let origins: Vec<Option<serde_json::Value>> = alerts
        .iter()
        .map(|a| a.4.as_deref().and_then(|o| serde_json::from_str(o).ok()))
        .collect();
    let links: Vec<Link<'_>> = alerts
        .iter()
        .zip(&origins)
        .filter_map(|(a, origin)| {
            Some(Link {
                rule: &a.3,
                at: parse_ts(&a.1)?,
                origin: origin.as_ref(),
            })
        })
        .collect();
    // The takeover chain makes the incident critical whatever its alerts' own severities.
    let severity = if chain::find(&links).is_some() {
        Some(Severity::Critical)
    } else {
        alerts.iter().filter_map(|a| Severity::parse(&a.0)).max()
    };
    // Every time here was written by `ts`, whose text sorts as the instants do.
    let first = alerts.iter().map(|a| &a.1).min();
    let last = alerts.iter().map(|a| &a.1).max();
    let newest_name = alerts.last().map(|a| &a.2);
    if let (Some(severity), Some(first), Some(last), Some(name)) =
        (severity, first, last, newest_name)
    {
        c.execute(
            "UPDATE incidents SET severity = ?2, first_event = ?3, last_event = ?4, tenant_name = ?5, updated_at = ?6
             WHERE id = ?1",
            params![id, severity.as_str(), first, last, name, now],
        )?;
    }
    Ok(())
}

/// The migration's hook: every alert stored before incidents existed joins one, in the
/// order the changes were made. Suppressed alerts stay out, as they do when new.
pub(super) fn attach_stored(tx: &Connection) -> db::Result<()> {
    let now = ts(crate::clock::now());
    let ids: Vec<i64> = tx
        .prepare(
            "SELECT id FROM alerts WHERE status <> 'suppressed' AND incident_id IS NULL
             ORDER BY COALESCE(event_time, detected_at), id",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<db::Result<_>>()?;
    for id in ids {
        attach_by(tx, id, &now, "target")?;
    }
    Ok(())
}

impl Store {
    /// The incidents whose first alert's change was made at or after `since`, oldest
    /// first: an index range, whatever the number of alerts (issue 15: the Overview read
    /// every alert on each refresh).
    pub fn incidents_since(&self, since: DateTime<Utc>) -> Result<Vec<IncidentStart>> {
        self.with(|c| {
            let rows = c
                .prepare(
                    "SELECT id, tenant_id, tenant_name, severity, first_event FROM incidents
                     WHERE first_event >= ?1 ORDER BY first_event, id",
                )?
                .query_map([ts(since)], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        named(r, 3, Severity::parse)?,
                        r.get::<_, String>(4)?,
                    ))
                })?
                .collect::<db::Result<Vec<_>>>()?;
            Ok(rows
                .into_iter()
                .filter_map(|(id, tenant_id, tenant_name, severity, first)| {
                    Some(IncidentStart {
                        id,
                        tenant_id,
                        tenant_name,
                        severity,
                        first_event: parse_ts(&first)?,
                    })
                })
                .collect())
        })
    }

    /// Every incident active at or after `active_since` (every one, without it) with its
    /// alerts, the most recently active first: two queries, whatever the number of
    /// incidents.
    pub fn incidents(&self, active_since: Option<DateTime<Utc>>) -> Result<Vec<Incident>> {
        // Incidents without a time are as old as can be: only the whole list has them.
        let since = active_since.map_or_else(String::new, ts);
        let active = "(?1 = '' OR last_event >= ?1)";
        self.with(|c| {
            let mut incidents: Vec<Incident> = c
                .prepare(&format!(
                    "{INCIDENT_SELECT} WHERE {active} ORDER BY last_event DESC, id DESC"
                ))?
                .query_map([&since], incident_row)?
                .collect::<db::Result<_>>()?;
            let at: std::collections::HashMap<i64, usize> = incidents
                .iter()
                .enumerate()
                .map(|(i, incident)| (incident.id, i))
                .collect();
            let mut stmt = c.prepare(&format!(
                "{ALERT_SELECT} WHERE a.incident_id IN (SELECT id FROM incidents WHERE {active})
                 ORDER BY COALESCE(a.event_time, a.detected_at), a.id"
            ))?;
            for alert in stmt.query_map([&since], Alert::from_row)? {
                let alert = alert?;
                if let Some(&i) = alert.incident_id.and_then(|id| at.get(&id)) {
                    incidents[i].alerts.push(alert);
                }
            }
            for incident in &mut incidents {
                incident.title = title(&incident.subject, &incident.alerts);
            }
            Ok(incidents)
        })
    }

    /// The incidents of `ids` that exist, each with its alerts, the latest first: the
    /// headings of one page of the alert list, never a year's incidents.
    pub fn incidents_of(&self, ids: &[i64]) -> Result<Vec<Incident>> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        self.with(|c| {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                match incident_by_id(c, id) {
                    Ok(incident) => found.push(incident),
                    Err(StoreError::NoIncident(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            found.sort_by(|a, b| (&b.last_event, b.id).cmp(&(&a.last_event, a.id)));
            Ok(found)
        })
    }

    /// One incident with its alerts.
    pub fn incident(&self, id: i64) -> Result<Incident> {
        self.with(|c| incident_by_id(c, id))
    }

    /// Resolves the open incident `key` with the technician's `note`, and queues the news
    /// for every channel the technician added; a later alert about the mailbox opens a
    /// new incident.
    pub fn resolve_incident(&self, key: &str, note: Option<&str>) -> Result<Incident> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(crate::clock::now());
            let id: Option<i64> = tx
                .query_row(
                    "UPDATE incidents SET status = 'resolved', resolved_at = ?2, resolution_note = ?3
                     WHERE key = ?1 AND status = 'open' RETURNING id",
                    params![key.trim().to_ascii_lowercase(), now, note],
                    |r| r.get(0),
                )
                .optional()?;
            let id = id.ok_or_else(|| StoreError::NoOpenIncident(key.to_string()))?;
            tx.execute(
                "INSERT INTO resolution_deliveries (channel, incident_id, queued_at)
                 SELECT name, ?1, ?2 FROM channels WHERE kind NOT IN ('desktop', 'scan', 'watch')",
                params![id, now],
            )?;
            tx.commit()?;
            incident_by_id(c, id)
        })
    }
}

/// An incident's own columns, as [`incident_row`] reads them.
const INCIDENT_SELECT: &str =
    "SELECT id, key, tenant_id, tenant_name, subject, severity, status, first_event, last_event,
            resolved_at, resolution_note
     FROM incidents";

/// An incident without its alerts or title, from a row of [`INCIDENT_SELECT`].
fn incident_row(r: &db::Row<'_>) -> db::Result<Incident> {
    let at = |i: usize| -> db::Result<Option<DateTime<Utc>>> {
        Ok(r.get::<_, Option<String>>(i)?.as_deref().and_then(parse_ts))
    };
    Ok(Incident {
        id: r.get(0)?,
        key: r.get(1)?,
        tenant_id: r.get(2)?,
        tenant_name: r.get(3)?,
        subject: r.get(4)?,
        title: String::new(),
        severity: named(r, 5, Severity::parse)?,
        status: named(r, 6, IncidentStatus::parse)?,
        first_event: at(7)?,
        last_event: at(8)?,
        resolved_at: at(9)?,
        resolution_note: r.get(10)?,
        alerts: Vec::new(),
    })
}

fn incident_by_id(c: &Connection, id: i64) -> Result<Incident> {
    let mut incident = c
        .query_row(
            &format!("{INCIDENT_SELECT} WHERE id = ?1"),
            [id],
            incident_row,
        )
        .optional()?
        .ok_or(StoreError::NoIncident(id))?;
    incident.alerts = c
        .prepare(&format!(
            "{ALERT_SELECT} WHERE a.incident_id = ?1 ORDER BY COALESCE(a.event_time, a.detected_at), a.id"
        ))?
        .query_map([id], Alert::from_row)?
        .collect::<db::Result<_>>()?;
    incident.title = title(&incident.subject, &incident.alerts);
    Ok(incident)
}
