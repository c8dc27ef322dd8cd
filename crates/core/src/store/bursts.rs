//! Bursts (issue 16): each record's part in one is kept in `burst_events`, and each blob's
//! commit asks rulewatch-detect's `burst::bursts` whether the events around the keys it
//! touched now make one. A burst is raised once: while an alert of its rule about the same
//! account is younger than the window before the burst's first event, a later blob that
//! grows the burst adds nothing.

use super::*;
use crate::detect::Evidence;
use crate::detect::burst::{self, Countable, WINDOW};

/// Keeps tenant `tenant_id`'s `events` and answers the alerts of the bursts they complete.
pub(super) fn raise(
    c: &Connection,
    tenant_id: &str,
    events: &[Countable],
) -> db::Result<Vec<NewAlert>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    // The span each kind and key of this commit covers.
    let mut spans: Vec<(&Countable, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for e in events {
        c.execute(
            "INSERT INTO burst_events (tenant_id, record_id, kind, key, at, event)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (tenant_id, record_id) DO NOTHING",
            params![
                tenant_id,
                e.record_id(),
                e.kind.as_str(),
                e.key(),
                ts(e.time),
                serde_json::to_string(e).unwrap_or_default()
            ],
        )?;
        match spans
            .iter_mut()
            .find(|(s, _, _)| s.kind == e.kind && s.key() == e.key())
        {
            Some((_, from, until)) => {
                *from = (*from).min(e.time);
                *until = (*until).max(e.time);
            }
            None => spans.push((e, e.time, e.time)),
        }
    }
    let tenant_name: String = c
        .query_row(
            "SELECT name FROM tenants WHERE tenant_id = ?1",
            [tenant_id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or_else(|| tenant_id.to_string());
    let mut alerts = Vec::new();
    for (e, from, until) in spans {
        let around: Vec<Countable> = c
            .prepare(
                "SELECT event FROM burst_events
                 WHERE tenant_id = ?1 AND kind = ?2 AND key = ?3 AND at >= ?4 AND at <= ?5 ORDER BY at",
            )?
            .query_map(
                params![
                    tenant_id,
                    e.kind.as_str(),
                    e.key(),
                    ts(from - WINDOW),
                    ts(until + WINDOW)
                ],
                |r| r.get::<_, String>(0),
            )?
            .collect::<db::Result<Vec<_>>>()?
            .iter()
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect();
        for finding in burst::bursts(&around) {
            let Evidence::Burst(b) = &finding.details else {
                continue;
            };
            let raised: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM alerts
                                WHERE tenant_id = ?1 AND rule = ?2 AND target = ?3 AND event_time >= ?4)",
                params![tenant_id, finding.rule, finding.target, ts(b.first - WINDOW)],
                |r| r.get(0),
            )?;
            if raised {
                continue;
            }
            alerts.push(NewAlert {
                tenant_name: tenant_name.clone(),
                // The burst's first record names it: the same burst read again is stored
                // once (alerts are unique by tenant, record and rule).
                record_id: format!("burst:{}", b.record_ids.first().map_or("", String::as_str)),
                rule: finding.rule.to_string(),
                severity: finding.severity,
                operation: format!("{} records", b.records),
                target: finding.target.clone(),
                actor: finding.actor.clone(),
                client_ip: b.addresses.first().cloned(),
                summary: finding.summary.clone(),
                event_time: Some(b.last),
                // No one record shows a burst: its evidence stands in for the record.
                raw_record: finding.details.to_json(),
                details: finding.details,
                suppressed_by: None,
                origin: None,
                mailbox: None,
            });
        }
    }
    Ok(alerts)
}
