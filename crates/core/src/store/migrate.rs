//! `rulewatch team migrate`: what a workstation's own file holds, copied into the team's
//! store without duplicates, so running it twice (or from two workstations that saw the
//! same alerts) copies each thing once. Secrets are not in either store.

use std::collections::HashMap;

use super::db::{Value, params};
use super::*;

/// The alert columns copied as they are (not the id, which the team's store gives, nor
/// the incident, which the copy joins there).
const ALERT_COPIED: &str = "tenant_id, tenant_name, record_id, rule, severity, operation, target, actor, \
     client_ip, summary, details, event_time, detected_at, content_id, status, raw_record, suppressed_by, origin, \
     status_note, status_changed_at, mailbox, assignee, assigned_at";
const ALERT_COPIED_COUNT: usize = 23;

/// What a migration copied; things the team's store had already are not counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Migrated {
    /// Tenants added (their secrets stay in this workstation's keychain).
    pub tenants: usize,
    /// Allowlist entries added.
    pub allowlist: usize,
    /// Alerts added, with their review history.
    pub alerts: usize,
    /// Remediation steps appended to the team's record.
    pub steps: usize,
}

impl Store {
    /// Copies `local`'s tenants, allowlist, alerts (with who holds them and their
    /// history) and remediation record into this store, the team's. Alerts copied are
    /// not queued for any channel: they were delivered where they were found. Steps are
    /// appended to the team's chain in their order, keeping their time and technician.
    pub fn migrate_from(&self, local: &Store) -> Result<Migrated> {
        let mut done = Migrated::default();
        for t in local.tenants()? {
            match self.add_tenant(&t) {
                Ok(()) => done.tenants += 1,
                Err(StoreError::TenantExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // An entry the team's store has already keeps its own reason and expiry.
        let key = |e: &crate::allowlist::TrustEntry| {
            (
                e.tenant_id.clone(),
                e.account.as_deref().map(str::to_lowercase),
                e.kind,
                e.value.to_lowercase(),
            )
        };
        let held: Vec<_> = self.trust_entries(None)?.iter().map(key).collect();
        for entry in local.trust_entries(None)? {
            if held.contains(&key(&entry)) {
                continue;
            }
            let (_, new) = self.add_trust(NewTrust {
                tenant_id: entry.tenant_id.as_deref(),
                account: entry.account.as_deref(),
                kind: entry.kind,
                value: &entry.value,
                reason: entry.reason.as_deref(),
                added_by: entry.added_by.as_deref(),
                expires_at: entry.expires_at,
            })?;
            done.allowlist += usize::from(new);
        }
        let alert_ids = self.copy_alerts(local, &mut done)?;
        let mut step_ids: HashMap<i64, i64> = HashMap::new();
        for step in local.log()? {
            let mut e = step.step.clone();
            e.alert_id = e.alert_id.and_then(|id| alert_ids.get(&id).copied());
            e.undoes = e.undoes.and_then(|id| step_ids.get(&id).copied());
            let same: Option<i64> = self.with(|c| {
                Ok(c.query_row(
                    "SELECT id FROM remediation_log WHERE at = ?1 AND machine = ?2 AND os_user = ?3 AND action = ?4
                       AND tenant_id = ?5 AND mailbox = ?6 ORDER BY id LIMIT 1",
                    params![step.at, e.machine, e.os_user, e.action, e.tenant_id, e.mailbox],
                    |r| r.get(0),
                )
                .optional()?)
            })?;
            let id = match same {
                Some(id) => id,
                None => {
                    done.steps += 1;
                    self.append_log_at(&e, Some(&step.at))?.id
                }
            };
            step_ids.insert(step.id, id);
        }
        Ok(done)
    }

    /// Copies every alert of `local` the team's store lacks; answers each local alert's
    /// id in the team's store.
    fn copy_alerts(&self, local: &Store, done: &mut Migrated) -> Result<HashMap<i64, i64>> {
        let rows = local.with(|c| {
            Ok(c.fetch(
                &format!("SELECT id, {ALERT_COPIED} FROM alerts ORDER BY id"),
                Vec::new(),
            )?)
        })?;
        let placeholders: Vec<String> = (1..=ALERT_COPIED_COUNT).map(|n| format!("?{n}")).collect();
        let insert = format!(
            "INSERT INTO alerts ({ALERT_COPIED}) VALUES ({}) ON CONFLICT (tenant_id, record_id, rule) DO NOTHING RETURNING id",
            placeholders.join(", ")
        );
        // Every alert's review history at once, by alert.
        let mut histories: HashMap<i64, Vec<Vec<Value>>> = HashMap::new();
        let all = local.with(|c| {
            Ok(c.fetch(
                "SELECT alert_id, at, technician, action, note FROM alert_history ORDER BY id",
                Vec::new(),
            )?)
        })?;
        for mut row in all {
            if let Value::Integer(alert) = row.remove(0) {
                histories.entry(alert).or_default().push(row);
            }
        }
        let mut ids = HashMap::new();
        for row in rows {
            let Some((Value::Integer(local_id), copied)) = row
                .split_first()
                .map(|(id, rest)| (id.clone(), rest.to_vec()))
            else {
                continue;
            };
            let history = histories.remove(&local_id).unwrap_or_default();
            let id = self.with(|c| {
                let tx = c.transaction()?;
                let added: Option<i64> = tx.query_row(&insert, db::params_from_iter(copied.iter()), |r| r.get(0)).optional()?;
                let id = match added {
                    Some(id) => {
                        for h in &history {
                            let mut values = vec![Value::Integer(id)];
                            values.extend(h.iter().cloned());
                            tx.execute(
                                "INSERT INTO alert_history (alert_id, at, technician, action, note) VALUES (?1, ?2, ?3, ?4, ?5)",
                                db::params_from_iter(values.iter()),
                            )?;
                        }
                        let alert = alerts::alert_by_id(&*tx, id)?;
                        allowlist::index_forwards(&*tx, id, &alert.details)?;
                        if alert.status != AlertStatus::Suppressed {
                            incidents::attach(&*tx, id, &ts(crate::clock::now()))?;
                        }
                        done.alerts += 1;
                        id
                    }
                    None => {
                        let key = |i: usize| copied.get(i).cloned().unwrap_or(Value::Null);
                        tx.query_row(
                            "SELECT id FROM alerts WHERE tenant_id = ?1 AND record_id = ?2 AND rule = ?3",
                            [key(0), key(2), key(3)],
                            |r| r.get(0),
                        )?
                    }
                };
                tx.commit()?;
                Ok(id)
            })?;
            ids.insert(local_id, id);
        }
        Ok(ids)
    }
}
