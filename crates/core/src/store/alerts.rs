//! Alerts and their review status.

use super::*;

/// The columns `Alert::from_row` reads, in its order.
macro_rules! alert_columns {
    () => {
        "a.id, a.tenant_id, a.tenant_name, a.rule, a.severity, a.record_id, a.operation, a.target, a.actor,
         a.client_ip, a.summary, a.details, a.event_time, a.detected_at, a.status, a.content_id, a.suppressed_by,
         a.origin, a.status_note, a.incident_id"
    };
}
pub(super) const ALERT_COLUMNS: &str = alert_columns!();
pub(super) const ALERT_COLUMN_COUNT: usize = 20;
pub(super) const ALERT_SELECT: &str = concat!("SELECT ", alert_columns!(), " FROM alerts a");

pub(super) fn alert_by_id(c: &Connection, id: i64) -> Result<Alert> {
    Ok(c.query_row(
        &format!("{ALERT_SELECT} WHERE a.id = ?1"),
        [id],
        Alert::from_row,
    )?)
}

impl Store {
    /// Every alert, suppressed ones included, the newest event first.
    pub fn alerts(&self) -> Result<Vec<Alert>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "{ALERT_SELECT} ORDER BY a.event_time DESC, a.id DESC"
            ))?;
            let rows = stmt
                .query_map([], Alert::from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// One alert and the audit record it came from, as Microsoft served it.
    pub fn alert_with_record(&self, id: i64) -> Result<(Alert, String)> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {ALERT_COLUMNS}, a.raw_record FROM alerts a WHERE a.id = ?1"),
                [id],
                |r| Ok((Alert::from_row(r)?, r.get(ALERT_COLUMN_COUNT)?)),
            )
            .optional()?
            .ok_or(StoreError::NoAlert(id))
        })
    }

    /// The alerts about one mailbox of one tenant, newest first.
    pub fn alerts_about(&self, tenant_id: &str, target: &str) -> Result<Vec<Alert>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "{ALERT_SELECT} WHERE a.tenant_id = ?1 AND a.target = ?2 COLLATE NOCASE ORDER BY a.event_time DESC, a.id DESC"
            ))?;
            let rows = stmt.query_map([tenant_id, target], Alert::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Records the technician's decision. Suppressed alerts can be reviewed too.
    pub fn set_alert_status(
        &self,
        id: i64,
        status: AlertStatus,
        note: Option<&str>,
    ) -> Result<Alert> {
        if !status.settable() {
            return Err(StoreError::BadStatus(status.as_str().to_string()));
        }
        let status = status.as_str();
        self.with(|c| {
            let n = c.execute(
                "UPDATE alerts SET status = ?2, status_note = ?3, status_changed_at = ?4 WHERE id = ?1",
                params![id, status, note, ts(crate::clock::now())],
            )?;
            if n == 0 {
                return Err(StoreError::NoAlert(id));
            }
            alert_by_id(c, id)
        })
    }

    /// How many alerts await review (status `open`), across every tenant, removed tenants'
    /// included.
    pub fn open_alert_count(&self) -> Result<u64> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM alerts WHERE status = 'open'",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
    }
}
