//! The allowlist, and the forwarding index behind `forwarding-fan-in`.

use super::db::{self, Connection, OptionalExtension, Row, params};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Result, Store, StoreError, parse_ts, ts};
use crate::allowlist::{Allowlist, TrustEntry, TrustKind};
use crate::detect::fan_in::{self, FanIn, Forward};
use crate::detect::{Evidence, FORWARDING_FAN_IN};

impl Store {
    /// Adds an entry (already normalised); adding one that exists returns it unchanged.
    pub fn add_trust(
        &self,
        tenant_id: &str,
        kind: TrustKind,
        value: &str,
        note: Option<&str>,
    ) -> Result<TrustEntry> {
        self.with(|c| {
            let tx = c.transaction()?;
            let exists: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = ?1)", [tenant_id], |r| r.get(0))?;
            if !exists {
                return Err(StoreError::NoTenant(tenant_id.to_string()));
            }
            tx.execute(
                "INSERT INTO allowlist (tenant_id, kind, value, note, added_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
                params![tenant_id, kind.as_str(), value, note, ts(crate::clock::now())],
            )?;
            let entry = tx.query_row(
                &format!("{TRUST_SELECT} WHERE tenant_id = ?1 AND kind = ?2 AND lower(value) = lower(?3)"),
                params![tenant_id, kind.as_str(), value],
                trust_from_row,
            )?;
            tx.commit()?;
            Ok(entry)
        })
    }

    /// Every entry, or one tenant's.
    pub fn trust_entries(&self, tenant_id: Option<&str>) -> Result<Vec<TrustEntry>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "{TRUST_SELECT} WHERE CAST(?1 AS TEXT) IS NULL OR tenant_id = ?1 ORDER BY tenant_id, id"
            ))?;
            let rows = stmt
                .query_map([tenant_id], trust_from_row)?
                .collect::<db::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// The tenant's allowlist, ready to judge findings against.
    pub fn allowlist(&self, tenant_id: &str) -> Result<Allowlist> {
        Ok(Allowlist::new(self.trust_entries(Some(tenant_id))?))
    }

    /// Removes an entry; alerts it suppressed stay suppressed.
    pub fn remove_trust(&self, id: i64) -> Result<TrustEntry> {
        self.with(|c| {
            let entry = c
                .query_row(
                    &format!("{TRUST_SELECT} WHERE id = ?1"),
                    [id],
                    trust_from_row,
                )
                .optional()?
                .ok_or(StoreError::NoTrustEntry(id))?;
            c.execute("DELETE FROM allowlist WHERE id = ?1", [id])?;
            Ok(entry)
        })
    }
}

const TRUST_SELECT: &str = "SELECT id, tenant_id, kind, value, note, added_at FROM allowlist";

fn trust_from_row(r: &Row<'_>) -> db::Result<TrustEntry> {
    let kind: String = r.get(2)?;
    Ok(TrustEntry {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        kind: TrustKind::parse(&kind).unwrap_or(TrustKind::Destination),
        value: r.get(3)?,
        note: r.get(4)?,
        added_at: r.get::<_, Option<String>>(5)?.as_deref().and_then(parse_ts),
    })
}

/// Indexes the outside destinations of a new forwarding alert; returns them.
pub(super) fn index_forwards(
    c: &Connection,
    alert_id: i64,
    details: &Evidence,
) -> db::Result<Vec<String>> {
    let destinations: Vec<String> = details
        .destinations()
        .into_iter()
        .map(str::to_lowercase)
        .collect();
    for d in &destinations {
        c.execute(
            "INSERT INTO forwards (alert_id, destination) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![alert_id, d],
        )?;
    }
    Ok(destinations)
}

/// Raises or widens the fan-in alert of `destination` around `at`. Returns the id of
/// a newly created alert (queued for delivery); a widened one is not notified again,
/// because each new mailbox's own forwarding alert already was.
pub(super) fn update_fan_in(
    c: &Connection,
    destination: &str,
    at: DateTime<Utc>,
    now: &str,
) -> Result<Option<i64>> {
    let window = fan_in::WINDOW;
    let mut stmt = c.prepare(
        "SELECT a.id, a.tenant_id, a.tenant_name, COALESCE(a.mailbox, a.target), a.actor, a.operation,
                COALESCE(a.event_time, a.detected_at)
         FROM forwards f JOIN alerts a ON a.id = f.alert_id
         WHERE f.destination = ?1 AND a.status <> 'suppressed'
           AND COALESCE(a.event_time, a.detected_at) BETWEEN ?2 AND ?3",
    )?;
    let forwards = stmt
        .query_map(
            params![destination, ts(at - window), ts(at + window)],
            |r| {
                Ok(Forward {
                    alert_id: Some(r.get(0)?),
                    tenant_id: r.get(1)?,
                    tenant_name: r.get(2)?,
                    mailbox: r.get(3)?,
                    actor: r.get(4)?,
                    operation: r.get(5)?,
                    event_time: r.get::<_, String>(6).map(|s| parse_ts(&s).unwrap_or(at))?,
                })
            },
        )?
        .collect::<db::Result<Vec<_>>>()?;
    let existing: Option<(i64, String)> = c
        .query_row(
            "SELECT id, details FROM alerts WHERE rule = ?1 AND target = ?2 AND event_time >= ?3
             ORDER BY id DESC LIMIT 1",
            params![FORWARDING_FAN_IN, destination, ts(at - window)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let mut all = forwards;
    if let Some((_, details)) = &existing {
        let earlier = serde_json::from_str(details)
            .map(|d| Evidence::read(FORWARDING_FAN_IN, d))
            .unwrap_or(Evidence::Other(Value::Null));
        all.extend_from_slice(earlier.forwards());
    }
    let Some(campaign) = fan_in::campaigns(destination, all)
        .into_iter()
        .find(|f| f.first_event() - window <= at && at <= f.last_event() + window)
    else {
        return Ok(None);
    };
    let f = &campaign.finding;
    match existing {
        Some((id, _)) => {
            c.execute(
                "UPDATE alerts SET severity = ?2, summary = ?3, details = ?4, actor = ?5, tenant_name = ?6, event_time = ?7
                 WHERE id = ?1",
                params![
                    id,
                    f.severity.as_str(),
                    f.summary,
                    f.details.to_json(),
                    f.actor,
                    campaign.tenant_names(),
                    ts(campaign.last_event())
                ],
            )?;
            super::incidents::attach(c, id, now)?;
            Ok(None)
        }
        None => insert_fan_in(c, &campaign, now).map(Some),
    }
}

fn insert_fan_in(c: &Connection, campaign: &FanIn, now: &str) -> Result<i64> {
    let f = &campaign.finding;
    let first = &campaign.forwards[0];
    let mut operations: Vec<&str> = Vec::new();
    for fwd in &campaign.forwards {
        if !operations.contains(&fwd.operation.as_str()) {
            operations.push(&fwd.operation);
        }
    }
    let id: i64 = c.query_row(
        "INSERT INTO alerts (tenant_id, tenant_name, record_id, rule, severity, operation, target, actor,
                             client_ip, summary, details, event_time, detected_at, content_id, raw_record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, ?10, ?11, ?12, NULL, ?13)
         RETURNING id",
        params![
            first.tenant_id,
            campaign.tenant_names(),
            format!("fan-in:{}:{}", campaign.destination, ts(campaign.first_event())),
            f.rule,
            f.severity.as_str(),
            operations.join(", "),
            f.target,
            f.actor,
            f.summary,
            f.details.to_json(),
            ts(campaign.last_event()),
            now,
            f.details.to_json(),
        ],
        |r| r.get(0),
    )?;
    super::incidents::attach(c, id, now)?;
    super::deliveries::queue(c, id, now)?;
    Ok(id)
}
