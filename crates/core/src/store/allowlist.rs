//! The allowlist, and the forwarding index behind `forwarding-fan-in`.

use super::db::{self, Connection, OptionalExtension, Row, params};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Result, Store, StoreError, parse_ts, ts};
use crate::allowlist::{Allowlist, TrustEntry, TrustKind};
use crate::detect::fan_in::{self, FanIn, Forward};
use crate::detect::{Evidence, FORWARDING_FAN_IN};

/// An allowlist entry to add, its values already normalised.
#[derive(Debug, Clone, Copy)]
pub struct NewTrust<'a> {
    /// The tenant it applies to; none: every tenant.
    pub tenant_id: Option<&'a str>,
    /// The one account it applies to; none: every account.
    pub account: Option<&'a str>,
    /// What it trusts.
    pub kind: TrustKind,
    /// The destination, rule name, application id or rule id.
    pub value: &'a str,
    /// Why.
    pub reason: Option<&'a str>,
    /// Who adds it.
    pub added_by: Option<&'a str>,
    /// When it stops quieting anything.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Finds the entry of a scope and value: no tenant and no account are scopes too.
const SAME_ENTRY: &str = "COALESCE(tenant_id, '') = COALESCE(CAST(?1 AS TEXT), '')
     AND COALESCE(lower(account), '') = COALESCE(lower(CAST(?2 AS TEXT)), '')
     AND kind = ?3 AND lower(value) = lower(?4)";

impl Store {
    /// Adds an entry; adding one whose scope and value exist gives that entry this
    /// reason, expiry and author (the newest word on it wins). Answers the entry and
    /// whether it is new.
    pub fn add_trust(&self, new: NewTrust<'_>) -> Result<(TrustEntry, bool)> {
        self.with(|c| {
            let tx = c.transaction()?;
            if let Some(tenant_id) = new.tenant_id {
                let exists: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = ?1)",
                    [tenant_id],
                    |r| r.get(0),
                )?;
                if !exists {
                    return Err(StoreError::NoTenant(tenant_id.to_string()));
                }
            }
            let key = params![new.tenant_id, new.account, new.kind.as_str(), new.value];
            let existing: Option<i64> = tx
                .query_row(&format!("SELECT id FROM allowlist WHERE {SAME_ENTRY}"), key, |r| r.get(0))
                .optional()?;
            let expires_at = new.expires_at.map(ts);
            let id: i64 = match existing {
                Some(id) => {
                    tx.execute(
                        "UPDATE allowlist SET note = ?2, added_by = ?3, expires_at = ?4 WHERE id = ?1",
                        params![id, new.reason, new.added_by, expires_at],
                    )?;
                    id
                }
                None => tx.query_row(
                    "INSERT INTO allowlist (tenant_id, account, kind, value, note, added_at, added_by, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                    params![
                        new.tenant_id,
                        new.account,
                        new.kind.as_str(),
                        new.value,
                        new.reason,
                        ts(crate::clock::now()),
                        new.added_by,
                        expires_at
                    ],
                    |r| r.get(0),
                )?,
            };
            let entry = tx.query_row(&format!("{TRUST_SELECT} WHERE id = ?1"), [id], trust_from_row)?;
            tx.commit()?;
            Ok((entry, existing.is_none()))
        })
    }

    /// Every entry, or those that apply to one tenant (its own and every tenant's),
    /// expired ones included.
    pub fn trust_entries(&self, tenant_id: Option<&str>) -> Result<Vec<TrustEntry>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "{TRUST_SELECT} WHERE CAST(?1 AS TEXT) IS NULL OR tenant_id = ?1 OR tenant_id IS NULL
                 ORDER BY tenant_id IS NOT NULL, tenant_id, id"
            ))?;
            let rows = stmt
                .query_map([tenant_id], trust_from_row)?
                .collect::<db::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// The tenant's allowlist as it stands now, ready to judge findings against.
    pub fn allowlist(&self, tenant_id: &str) -> Result<Allowlist> {
        Ok(Allowlist::new(
            self.trust_entries(Some(tenant_id))?,
            crate::clock::now(),
        ))
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

const TRUST_SELECT: &str = "SELECT id, tenant_id, account, kind, value, note, added_at, added_by, expires_at FROM allowlist";

fn trust_from_row(r: &Row<'_>) -> db::Result<TrustEntry> {
    let kind: String = r.get(3)?;
    let time =
        |i| -> db::Result<_> { Ok(r.get::<_, Option<String>>(i)?.as_deref().and_then(parse_ts)) };
    Ok(TrustEntry {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        account: r.get(2)?,
        // The table's CHECK admits only the kinds this version knows.
        kind: TrustKind::parse(&kind).unwrap_or(TrustKind::Destination),
        value: r.get(4)?,
        reason: r.get(5)?,
        added_at: time(6)?,
        added_by: r.get(7)?,
        expires_at: time(8)?,
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
