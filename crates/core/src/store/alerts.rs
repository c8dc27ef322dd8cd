//! Alerts and their review status.

use super::*;

/// The columns `Alert::from_row` reads, in its order.
macro_rules! alert_columns {
    () => {
        "a.id, a.tenant_id, a.tenant_name, a.rule, a.severity, a.record_id, a.operation, a.target, a.actor,
         a.client_ip, a.summary, a.details, a.event_time, a.detected_at, a.status, a.content_id, a.suppressed_by,
         a.origin, a.status_note, a.incident_id, a.assignee, a.mailbox"
    };
}
pub(super) const ALERT_COLUMNS: &str = alert_columns!();
pub(super) const ALERT_COLUMN_COUNT: usize = 22;
pub(super) const ALERT_SELECT: &str = concat!("SELECT ", alert_columns!(), " FROM alerts a");

/// Which alerts `Store::alerts_where` answers; each field left `None` lets every alert by.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// A tenant, by id or name (any case).
    pub tenant: Option<String>,
    /// One status.
    pub status: Option<AlertStatus>,
    /// This severity or graver.
    pub severity: Option<crate::detect::Severity>,
    /// Changes made at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Whose they are.
    pub assignee: Option<Assignee>,
}

/// Whose alerts a filter asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    /// Alerts nobody holds.
    Nobody,
    /// Alerts this technician holds (any case).
    Named(String),
}

/// Which statuses the alert list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum StatusFilter {
    /// Every status, suppressed included (`all`).
    All,
    /// Open or acknowledged: what is still to be dealt with (`active`).
    Active,
    /// This one status (its stored name).
    Only(AlertStatus),
}

impl TryFrom<String> for StatusFilter {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Self, String> {
        match s.as_str() {
            "all" => Ok(StatusFilter::All),
            "active" => Ok(StatusFilter::Active),
            other => AlertStatus::parse(other)
                .map(StatusFilter::Only)
                .ok_or_else(|| format!("'{other}' is not a status the alert list can show")),
        }
    }
}

/// Which page of the alert list `Store::alert_page` answers, and the filters it is of.
#[derive(Debug, Clone)]
pub struct AlertQuery {
    /// Which statuses.
    pub status: StatusFilter,
    /// This severity or graver.
    pub severity: Option<crate::detect::Severity>,
    /// One tenant, by its id exactly.
    pub tenant: Option<String>,
    /// Text found, without regard to ASCII case, in the summary, mailbox, actor, tenant
    /// name, rule id or IP address; `%` and `_` are themselves. Blank: no search.
    pub search: String,
    /// Whose they are.
    pub assignee: Option<Assignee>,
    /// How many matching alerts come before the page.
    pub offset: u64,
    /// The most alerts the page holds (at least one is asked for).
    pub limit: u32,
}

impl Default for AlertQuery {
    /// The first hundred alerts, whatever their status.
    fn default() -> Self {
        AlertQuery {
            status: StatusFilter::All,
            severity: None,
            tenant: None,
            search: String::new(),
            assignee: None,
            offset: 0,
            limit: 100,
        }
    }
}

/// A tenant some alert belongs to: an option of the list's tenant filter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertTenant {
    /// Its id.
    pub tenant_id: String,
    /// Its name, as its newest alert gives it.
    pub tenant_name: String,
}

/// A page of the alert list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AlertPage {
    /// The page's alerts, the newest event first.
    pub alerts: Vec<Alert>,
    /// How many alerts match the filters, on every page.
    pub total: u64,
    /// How many matching alerts come before the page: the offset asked for, or the last
    /// page's when fewer alerts match now than the offset (a colleague resolved some).
    pub offset: u64,
    /// Every tenant of every alert, filters aside, by name.
    pub tenants: Vec<AlertTenant>,
}

/// `text` as a `LIKE … ESCAPE '\'` pattern that finds it anywhere, ASCII letters in lower
/// case: the user's `%`, `_` and `\` stand for themselves.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c.to_ascii_lowercase());
    }
    pattern.push('%');
    pattern
}

impl AlertQuery {
    /// The query's ` WHERE …` (empty when it lets every alert by) and its parameters,
    /// numbered from `?1`.
    fn conditions(&self, engine: db::Engine) -> (String, Vec<db::Value>) {
        let mut clauses = Vec::new();
        let mut args = Vec::new();
        // Each value takes the next parameter number; answers "?N".
        let mut arg = |value: &str| {
            args.push(db::Value::Text(value.to_string()));
            format!("?{}", args.len())
        };
        match self.status {
            StatusFilter::All => {}
            StatusFilter::Active => clauses.push(format!(
                "a.status IN ({}, {})",
                arg(AlertStatus::Open.as_str()),
                arg(AlertStatus::Acknowledged.as_str())
            )),
            StatusFilter::Only(s) => clauses.push(format!("a.status = {}", arg(s.as_str()))),
        }
        // Severity is ranked, not compared as text: the names at or above it, so that the
        // database filters before LIMIT.
        if let Some(least) = self.severity {
            let graver: Vec<String> = [
                crate::detect::Severity::Low,
                crate::detect::Severity::Medium,
                crate::detect::Severity::High,
                crate::detect::Severity::Critical,
            ]
            .into_iter()
            .filter(|s| *s >= least)
            .map(|s| arg(s.as_str()))
            .collect();
            clauses.push(format!("a.severity IN ({})", graver.join(", ")));
        }
        if let Some(t) = &self.tenant {
            clauses.push(format!("a.tenant_id = {}", arg(t)));
        }
        let search = self.search.trim();
        if !search.is_empty() {
            let n = arg(&contains_pattern(search));
            // The pattern's ASCII letters are in lower case. SQLite's LIKE ignores ASCII
            // case itself, and lower() would copy every text it reads (half the time of a
            // search); PostgreSQL's LIKE heeds case, and its lower() folds ASCII only, as
            // the columns are COLLATE "C".
            let found: Vec<String> = [
                "a.summary",
                "a.target",
                "a.actor",
                "a.tenant_name",
                "a.rule",
                "a.client_ip",
            ]
            .iter()
            .map(|column| match engine {
                db::Engine::Sqlite => format!("{column} LIKE {n} ESCAPE '\\'"),
                db::Engine::Postgres => format!("lower({column}) LIKE {n} ESCAPE '\\'"),
            })
            .collect();
            clauses.push(format!("({})", found.join(" OR ")));
        }
        match &self.assignee {
            Some(Assignee::Nobody) => clauses.push("a.assignee IS NULL".to_string()),
            Some(Assignee::Named(who)) => clauses.push(format!(
                "lower(a.assignee) = {}",
                arg(&who.to_ascii_lowercase())
            )),
            None => {}
        }
        let clause = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        (clause, args)
    }
}

/// One step of an alert's review.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// When, as stored (RFC 3339, UTC).
    pub at: String,
    /// Who.
    pub technician: String,
    /// `took`, `took over from NAME`, `released`, `note`, or the status given.
    pub action: String,
    /// The note, when one was given.
    pub note: Option<String>,
}

/// An alert's review: who holds it, and each step so far.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Review {
    /// The technician who holds it, if anyone does.
    pub assignee: Option<String>,
    /// Every step, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// Who holds alert `id` and since when; `NoAlert` when there is no such alert.
fn holder(c: &Connection, id: i64) -> Result<Option<(String, String)>> {
    let row: Option<(Option<String>, Option<String>)> = c
        .query_row(
            "SELECT assignee, assigned_at FROM alerts WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        None => Err(StoreError::NoAlert(id)),
        Some((Some(who), since)) => Ok(Some((who, since.unwrap_or_default()))),
        Some((None, _)) => Ok(None),
    }
}

fn history(
    c: &Connection,
    id: i64,
    now: &str,
    technician: &str,
    action: &str,
    note: Option<&str>,
) -> db::Result<()> {
    c.execute(
        "INSERT INTO alert_history (alert_id, at, technician, action, note) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, now, technician, action, note],
    )?;
    Ok(())
}

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
                .collect::<db::Result<Vec<_>>>()?;
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
                "{ALERT_SELECT} WHERE a.tenant_id = ?1 AND lower(a.target) = lower(?2) ORDER BY a.event_time DESC, a.id DESC"
            ))?;
            let rows = stmt.query_map([tenant_id, target], Alert::from_row)?.collect::<db::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Records `technician`'s decision, in the alert and its history. Suppressed alerts
    /// can be reviewed too.
    pub fn set_alert_status(
        &self,
        id: i64,
        status: AlertStatus,
        note: Option<&str>,
        technician: &str,
    ) -> Result<Alert> {
        if !status.settable() {
            return Err(StoreError::BadStatus(status.as_str().to_string()));
        }
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(crate::clock::now());
            let n = tx.execute(
                "UPDATE alerts SET status = ?2, status_note = ?3, status_changed_at = ?4 WHERE id = ?1",
                params![id, status.as_str(), note, now],
            )?;
            if n == 0 {
                return Err(StoreError::NoAlert(id));
            }
            history(&*tx, id, &now, technician, status.as_str(), note)?;
            let alert = alert_by_id(&*tx, id)?;
            tx.commit()?;
            Ok(alert)
        })
    }

    /// `technician` takes the alert: it is theirs until released. One another technician
    /// holds is refused, naming them, unless `force` (the history says whose it was).
    pub fn take_alert(&self, id: i64, technician: &str, force: bool) -> Result<Alert> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(crate::clock::now());
            let action = match holder(&*tx, id)? {
                Some((who, _)) if who == technician => return alert_by_id(&*tx, id),
                Some((who, since)) if !force => {
                    return Err(StoreError::HeldBy {
                        id,
                        technician: who,
                        since,
                    });
                }
                Some((who, _)) => format!("took over from {who}"),
                None => "took".to_string(),
            };
            tx.execute(
                "UPDATE alerts SET assignee = ?2, assigned_at = ?3 WHERE id = ?1",
                params![id, technician, now],
            )?;
            history(&*tx, id, &now, technician, &action, None)?;
            let alert = alert_by_id(&*tx, id)?;
            tx.commit()?;
            Ok(alert)
        })
    }

    /// Whether `technician` is on duty (one never set is).
    pub fn on_duty(&self, technician: &str) -> Result<bool> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT on_duty FROM technicians WHERE name = ?1",
                [technician],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .is_none_or(|on| on != 0))
        })
    }

    /// Every technician who has said whether they are on duty: name, on duty, since when.
    pub fn duty_roster(&self) -> Result<Vec<(String, bool, String)>> {
        self.with(|c| {
            Ok(
                c.prepare("SELECT name, on_duty, changed_at FROM technicians ORDER BY name")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<db::Result<Vec<_>>>()?,
            )
        })
    }

    /// Puts `technician` on duty or off it.
    pub fn set_on_duty(&self, technician: &str, on: bool) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO technicians (name, on_duty, changed_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET on_duty = excluded.on_duty, changed_at = excluded.changed_at",
                params![technician, i64::from(on), ts(crate::clock::now())],
            )?;
            Ok(())
        })
    }

    /// `HeldBy` when a technician other than `technician` holds the alert.
    pub fn may_act_on(&self, id: i64, technician: &str) -> Result<()> {
        self.with(|c| match holder(c, id)? {
            Some((who, since)) if who != technician => Err(StoreError::HeldBy {
                id,
                technician: who,
                since,
            }),
            _ => Ok(()),
        })
    }

    /// `technician` lets the alert go. One another technician holds is refused unless
    /// `force`; one nobody holds is left as it is.
    pub fn release_alert(&self, id: i64, technician: &str, force: bool) -> Result<Alert> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(crate::clock::now());
            match holder(&*tx, id)? {
                None => return alert_by_id(&*tx, id),
                Some((who, since)) if who != technician && !force => {
                    return Err(StoreError::HeldBy {
                        id,
                        technician: who,
                        since,
                    });
                }
                Some(_) => {}
            }
            tx.execute(
                "UPDATE alerts SET assignee = NULL, assigned_at = NULL WHERE id = ?1",
                [id],
            )?;
            history(&*tx, id, &now, technician, "released", None)?;
            let alert = alert_by_id(&*tx, id)?;
            tx.commit()?;
            Ok(alert)
        })
    }

    /// Adds `technician`'s note to the alert's history.
    pub fn note_alert(&self, id: i64, technician: &str, note: &str) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            holder(&*tx, id)?;
            history(
                &*tx,
                id,
                &ts(crate::clock::now()),
                technician,
                "note",
                Some(note),
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Who holds the alert, and every step of its review, oldest first.
    pub fn alert_review(&self, id: i64) -> Result<Review> {
        self.with(|c| {
            let assignee = holder(c, id)?.map(|(who, _)| who);
            let mut stmt = c.prepare(
                "SELECT at, technician, action, note FROM alert_history WHERE alert_id = ?1 ORDER BY id",
            )?;
            let rows = stmt
                .query_map([id], |r| {
                    Ok(HistoryEntry {
                        at: r.get::<_, String>(0)?,
                        technician: r.get(1)?,
                        action: r.get(2)?,
                        note: r.get(3)?,
                    })
                })?
                .collect::<db::Result<Vec<_>>>()?;
            Ok(Review {
                assignee,
                history: rows,
            })
        })
    }

    /// The alerts `filter` lets through, the newest event first.
    pub fn alerts_where(&self, filter: &AlertFilter) -> Result<Vec<Alert>> {
        let (mut clauses, mut args) = (Vec::new(), Vec::new());
        // Each clause takes the next parameter number for its value.
        let mut with = |clause: &dyn Fn(usize) -> String, value: String| {
            args.push(value);
            clauses.push(clause(args.len()));
        };
        if let Some(t) = &filter.tenant {
            with(
                &|n| {
                    format!(
                        "(lower(a.tenant_id) = lower(?{n}) OR lower(a.tenant_name) = lower(?{n}))"
                    )
                },
                t.clone(),
            );
        }
        if let Some(s) = filter.status {
            with(&|n| format!("a.status = ?{n}"), s.as_str().to_string());
        }
        if let Some(since) = filter.since {
            with(
                &|n| format!("COALESCE(a.event_time, a.detected_at) >= ?{n}"),
                ts(since),
            );
        }
        match &filter.assignee {
            Some(Assignee::Nobody) => clauses.push("a.assignee IS NULL".to_string()),
            Some(Assignee::Named(who)) => {
                with(&|n| format!("lower(a.assignee) = lower(?{n})"), who.clone())
            }
            None => {}
        }
        let mut sql = ALERT_SELECT.to_string();
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        sql.push_str(" ORDER BY a.event_time DESC, a.id DESC");
        let alerts = self.with(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt
                .query_map(db::params_from_iter(&args), Alert::from_row)?
                .collect::<db::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        // Severity is ranked, not compared as text: filtered here.
        Ok(alerts
            .into_iter()
            .filter(|a| filter.severity.is_none_or(|s| a.severity >= s))
            .collect())
    }

    /// One page of the alerts `query` lets through, the newest event first (a stable order:
    /// alerts of one instant by id), how many match in all, and every alert's tenant.
    pub fn alert_page(&self, query: &AlertQuery) -> Result<AlertPage> {
        const ORDER: &str = " ORDER BY a.event_time DESC, a.id DESC";
        let limit = u64::from(query.limit.max(1));
        // The page asked for, or the last one when fewer alerts match than it skips.
        let start = |total: u64| {
            if query.offset < total {
                query.offset
            } else {
                total.saturating_sub(1) / limit * limit
            }
        };
        self.with(|c| {
            let (clause, mut args) = query.conditions(c.engine());
            let (total, offset, alerts) = if query.search.trim().is_empty() {
                // The indexes count the matches and find the page's rows.
                let total = c.query_row(
                    &format!("SELECT COUNT(*) FROM alerts a{clause}"),
                    db::params_from_iter(&args),
                    |r| r.get::<_, i64>(0),
                )?
                .max(0) as u64;
                let offset = start(total);
                let n = args.len();
                args.push(db::Value::Integer(limit as i64));
                args.push(db::Value::Integer(offset as i64));
                let alerts = c
                    .prepare(&format!(
                        "{ALERT_SELECT}{clause}{ORDER} LIMIT ?{} OFFSET ?{}",
                        n + 1,
                        n + 2
                    ))?
                    .query_map(db::params_from_iter(&args), Alert::from_row)?
                    .collect::<db::Result<Vec<_>>>()?;
                (total, offset, alerts)
            } else {
                // No index finds text inside text: a search reads every alert, once, for
                // its matches' ids in order (their number is the total), then the page's
                // rows by id; counting and then paging would read them all twice.
                let ids = c
                    .prepare(&format!("SELECT a.id FROM alerts a{clause}{ORDER}"))?
                    .query_map(db::params_from_iter(&args), |r| r.get::<_, i64>(0))?
                    .collect::<db::Result<Vec<_>>>()?;
                let total = ids.len() as u64;
                let offset = start(total);
                let page: Vec<i64> = ids
                    .into_iter()
                    .skip(offset as usize)
                    .take(limit as usize)
                    .collect();
                let alerts = if page.is_empty() {
                    Vec::new()
                } else {
                    let marks: Vec<String> = (1..=page.len()).map(|i| format!("?{i}")).collect();
                    c.prepare(&format!(
                        "{ALERT_SELECT} WHERE a.id IN ({}){ORDER}",
                        marks.join(", ")
                    ))?
                    .query_map(db::params_from_iter(&page), Alert::from_row)?
                    .collect::<db::Result<Vec<_>>>()?
                };
                (total, offset, alerts)
            };
            // A step along alerts_by_tenant from each tenant to the next, rather than a pass
            // over every alert.
            let tenants = c
                .prepare(
                    "WITH RECURSIVE t (tenant_id) AS (
                         SELECT MIN(tenant_id) FROM alerts
                         UNION ALL
                         SELECT (SELECT MIN(b.tenant_id) FROM alerts b WHERE b.tenant_id > t.tenant_id)
                         FROM t WHERE t.tenant_id IS NOT NULL
                     )
                     SELECT t.tenant_id,
                            (SELECT b.tenant_name FROM alerts b WHERE b.tenant_id = t.tenant_id
                             ORDER BY b.event_time DESC, b.id DESC LIMIT 1)
                     FROM t WHERE t.tenant_id IS NOT NULL
                     ORDER BY 2, 1",
                )?
                .query_map([], |r| {
                    Ok(AlertTenant {
                        tenant_id: r.get(0)?,
                        tenant_name: r.get(1)?,
                    })
                })?
                .collect::<db::Result<Vec<_>>>()?;
            Ok(AlertPage {
                alerts,
                total,
                offset,
                tenants,
            })
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
