//! Scan state: cursors, processed blobs, one blob's commit, sign-ins, and each
//! tenant's status.

use super::alerts::alert_by_id;
use super::*;

impl Store {
    /// The tenant's accepted domains as last read, and when; `None` when never read (or the
    /// stored row cannot be read).
    pub fn accepted_domains(
        &self,
        tenant_id: &str,
    ) -> Result<Option<(Vec<String>, DateTime<Utc>)>> {
        self.with(|c| {
            let row: Option<(String, String)> = c
                .query_row(
                    "SELECT domains, fetched_at FROM accepted_domains WHERE tenant_id = ?1",
                    [tenant_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(row.and_then(|(d, at)| Some((serde_json::from_str(&d).ok()?, parse_ts(&at)?))))
        })
    }

    /// Stores the tenant's accepted domains, read now.
    pub fn set_accepted_domains(&self, tenant_id: &str, domains: &[String]) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO accepted_domains (tenant_id, domains, fetched_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant_id) DO UPDATE SET domains = excluded.domains, fetched_at = excluded.fetched_at",
                params![tenant_id, serde_json::to_string(domains).expect("strings serialise"), ts(crate::clock::now())],
            )?;
            Ok(())
        })
    }

    /// The UPN Exchange gave for the mailbox the tenant's records call `name` (a GUID or
    /// an alias, any case), if it was asked before.
    pub fn mailbox_name(&self, tenant_id: &str, name: &str) -> Result<Option<String>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT upn FROM mailbox_names WHERE tenant_id = ?1 AND name = ?2",
                [tenant_id, &name.to_lowercase()],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    /// Keeps the UPN Exchange gave for the mailbox called `name`.
    pub fn set_mailbox_name(&self, tenant_id: &str, name: &str, upn: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO mailbox_names (tenant_id, name, upn, resolved_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant_id, name) DO UPDATE SET upn = excluded.upn, resolved_at = excluded.resolved_at",
                params![tenant_id, name.to_lowercase(), upn, ts(crate::clock::now())],
            )?;
            Ok(())
        })
    }

    /// Up to when the tenant's `content_type` feed has been read completely; `None` before
    /// its first scan.
    pub fn cursor(&self, tenant_id: &str, content_type: &str) -> Result<Option<DateTime<Utc>>> {
        self.with(|c| {
            let s: Option<String> = c
                .query_row(
                    "SELECT complete_until FROM cursors WHERE tenant_id = ?1 AND content_type = ?2",
                    [tenant_id, content_type],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(s.as_deref().and_then(parse_ts))
        })
    }

    /// Moves the feed's cursor forward to `to`; an earlier time leaves it where it is.
    pub fn advance_cursor(
        &self,
        tenant_id: &str,
        content_type: &str,
        to: DateTime<Utc>,
    ) -> Result<()> {
        self.with(|c| Ok(advance_cursor(c, tenant_id, content_type, to)?))
    }

    /// Whether the tenant's blob `content_id` was already committed (read, or expired).
    pub fn is_processed(&self, tenant_id: &str, content_id: &str) -> Result<bool> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM processed_blobs WHERE tenant_id = ?1 AND content_id = ?2)",
                [tenant_id, content_id],
                |r| r.get(0),
            )?)
        })
    }

    /// Commits one processed blob: new alerts (duplicates ignored) queued for every
    /// channel (suppressed alerts for none), the bursts its records complete with those
    /// kept from earlier blobs, any forwarding-fan-in they complete, the blob's mark, and
    /// optionally the cursor. Returns the alerts that were new.
    pub fn commit_blob(&self, commit: BlobCommit<'_>) -> Result<Vec<Alert>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(crate::clock::now());
            let mut inserted = Vec::new();
            let mut forwarded: Vec<(String, DateTime<Utc>)> = Vec::new();
            let mut bursts = bursts::raise(&*tx, commit.tenant_id, commit.countables)?;
            bursts.iter_mut().for_each(commit.tune);
            for a in commit.alerts.iter().chain(&bursts) {
                let id: Option<i64> = tx
                    .query_row(
                        "INSERT INTO alerts (tenant_id, tenant_name, record_id, rule, severity, operation, target, actor,
                                             client_ip, summary, details, event_time, detected_at, content_id, raw_record,
                                             status, suppressed_by, origin, mailbox)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                                 CASE WHEN CAST(?16 AS TEXT) IS NULL THEN 'open' ELSE 'suppressed' END, ?16, ?17, ?18)
                         ON CONFLICT (tenant_id, record_id, rule) DO NOTHING
                         RETURNING id",
                        params![
                            commit.tenant_id,
                            a.tenant_name,
                            a.record_id,
                            a.rule,
                            a.severity.as_str(),
                            a.operation,
                            a.target,
                            a.actor,
                            a.client_ip,
                            a.summary,
                            a.details.to_json(),
                            a.event_time.map(ts),
                            now,
                            commit.content_id,
                            a.raw_record,
                            a.suppressed_by,
                            a.origin.as_ref().map(Value::to_string),
                            a.mailbox,
                        ],
                        |r| r.get(0),
                    )
                    .optional()?;
                let Some(id) = id else { continue };
                inserted.push(id);
                if a.suppressed_by.is_some() {
                    continue;
                }
                incidents::attach(&*tx, id, &now)?;
                deliveries::queue(&*tx, id, &now)?;
                if crate::detect::fan_in::is_forwarding(&a.rule) {
                    let at = a.event_time.unwrap_or_else(crate::clock::now);
                    for d in allowlist::index_forwards(&*tx, id, &a.details)? {
                        forwarded.push((d, at));
                    }
                }
            }
            for s in commit.sign_ins {
                tx.execute(
                    "INSERT INTO sign_ins (tenant_id, \"user\", ip, first_seen, last_seen, sign_ins) VALUES (?1, ?2, ?3, ?4, ?4, 1)
                     ON CONFLICT (tenant_id, \"user\", ip) DO UPDATE SET
                        first_seen = CASE WHEN excluded.first_seen < sign_ins.first_seen THEN excluded.first_seen ELSE sign_ins.first_seen END,
                        last_seen = CASE WHEN excluded.last_seen > sign_ins.last_seen THEN excluded.last_seen ELSE sign_ins.last_seen END,
                        sign_ins = sign_ins.sign_ins + 1",
                    params![commit.tenant_id, s.user, s.ip, ts(s.at)],
                )?;
            }
            for (destination, at) in forwarded {
                inserted.extend(allowlist::update_fan_in(&*tx, &destination, at, &now)?);
            }
            tx.execute(
                "INSERT INTO processed_blobs (tenant_id, content_id, content_created, processed_at, records, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                params![
                    commit.tenant_id,
                    commit.content_id,
                    ts(commit.content_created),
                    now,
                    commit.records as i64,
                    if commit.expired { "expired" } else { "processed" }
                ],
            )?;
            if let Some(to) = commit.cursor {
                advance_cursor(&*tx, commit.tenant_id, commit.content_type, to)?;
            }
            let alerts = inserted.iter().map(|id| alert_by_id(&*tx, *id)).collect::<Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(alerts)
        })
    }

    /// The addresses `user` had first signed in from before `before`, most recent first.
    pub fn sign_in_ips(
        &self,
        tenant_id: &str,
        user: &str,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT ip FROM sign_ins WHERE tenant_id = ?1 AND \"user\" = ?2 AND first_seen < ?3
                 ORDER BY last_seen DESC LIMIT ?4",
            )?;
            let rows = stmt
                .query_map(
                    params![
                        tenant_id,
                        user.trim().to_lowercase(),
                        ts(before),
                        limit as i64
                    ],
                    |r| r.get(0),
                )?
                .collect::<db::Result<Vec<String>>>()?;
            Ok(rows)
        })
    }

    /// Takes tenant `tenant_id`'s scan lease for `holder` until `until`: `false` while
    /// another holder's lease has not expired by `now` and that holder still runs. A
    /// holder named `<pid>:<anything>` whose process is gone (killed mid-scan) loses its
    /// lease at once, where the system says which processes run (Linux); elsewhere the
    /// lease waits for its expiry. The write lock is taken first, so two processes (or
    /// workstations) asking at once cannot both win.
    pub fn take_scan_lease(
        &self,
        tenant_id: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(db::TransactionBehavior::Immediate)?;
            let held: Option<(String, String)> = tx
                .query_row(
                    "SELECT holder, expires_at FROM scan_leases WHERE tenant_id = ?1",
                    [tenant_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            // A process id names a process on one machine only: in a team, another
            // workstation's lease ends at its expiry.
            if let Some((other, expires)) = held
                && other != holder
                && parse_ts(&expires).is_some_and(|e| e > now)
                && holder_runs(&other, tx.engine() == db::Engine::Postgres)
            {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO scan_leases (tenant_id, holder, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at",
                params![tenant_id, holder, ts(until)],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    /// Who holds the lease `key`, whether or not it has ended.
    pub fn lease_holder(&self, key: &str) -> Result<Option<String>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT holder FROM scan_leases WHERE tenant_id = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    /// Every lease, ended or not: key (a tenant's id, or `remediation:ID`, `channel:NAME`),
    /// holder, and until when.
    pub fn leases(&self) -> Result<Vec<(String, String, String)>> {
        self.with(|c| {
            Ok(c.prepare(
                "SELECT tenant_id, holder, expires_at FROM scan_leases ORDER BY tenant_id",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<db::Result<Vec<_>>>()?)
        })
    }

    /// Gives back `holder`'s lease on the tenant, after its scan.
    pub fn release_scan_lease(&self, tenant_id: &str, holder: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM scan_leases WHERE tenant_id = ?1 AND holder = ?2",
                params![tenant_id, holder],
            )?;
            Ok(())
        })
    }

    /// Adds an event to the tenant's history (`data_gap`, `blob_failed`), with the blob it
    /// concerns, if any, and a message.
    pub fn record_event(
        &self,
        tenant_id: &str,
        kind: &str,
        content_id: Option<&str>,
        message: &str,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO tenant_events (tenant_id, at, kind, content_id, message) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![tenant_id, ts(crate::clock::now()), kind, content_id, message],
            )?;
            Ok(())
        })
    }

    /// Saves how the tenant's scan went, as of now; any state but `error` also updates the
    /// last success. A change into `error`, or out of it, is a monitoring event queued for
    /// the channels the technician added, in the same transaction.
    pub fn set_status(&self, s: &StatusUpdate<'_>) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ts(crate::clock::now());
            let before: Option<String> = tx
                .query_row(
                    "SELECT state FROM tenant_status WHERE tenant_id = ?1",
                    [s.tenant_id],
                    |r| r.get(0),
                )
                .optional()?;
            let was_broken = before.as_deref() == Some(TenantState::Error.as_str());
            let broken = s.state == TenantState::Error;
            if was_broken != broken && before.is_some() {
                deliveries::monitoring_event(&*tx, s, broken, &now)?;
            }
            tx.execute(
                "UPDATE tenant_status SET state = ?2, problem = ?3, message = ?4, last_attempt_at = ?5,
                        last_success_at = CASE WHEN ?6 THEN ?5 ELSE last_success_at END,
                        throttled = ?7, retried = ?8
                 WHERE tenant_id = ?1",
                params![
                    s.tenant_id,
                    s.state.as_str(),
                    s.problem,
                    s.message,
                    now,
                    s.state != TenantState::Error,
                    s.throttled as i64,
                    s.retried as i64
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Every configured tenant's scan state, by name.
    pub fn statuses(&self) -> Result<Vec<TenantStatus>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT t.tenant_id, t.name, s.state, s.problem, s.message, s.last_attempt_at, s.last_success_at,
                        s.throttled, s.retried,
                        (SELECT MIN(complete_until) FROM cursors k WHERE k.tenant_id = t.tenant_id),
                        (SELECT COUNT(*) FROM alerts a WHERE a.tenant_id = t.tenant_id AND a.status = 'open'),
                        t.auth_method = 'partner', t.cloud
                 FROM tenants t JOIN tenant_status s USING (tenant_id)
                 ORDER BY t.name, t.tenant_id",
            )?;
            let rows = stmt.query_map([], TenantStatus::from_row)?.collect::<db::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

/// What [`Store::commit_blob`] writes.
pub struct BlobCommit<'a> {
    /// The tenant.
    pub tenant_id: &'a str,
    /// The feed (`Audit.Exchange`, `Audit.AzureActiveDirectory`).
    pub content_type: &'a str,
    /// The blob's content id.
    pub content_id: &'a str,
    /// When Microsoft created the blob.
    pub content_created: DateTime<Utc>,
    /// Audit records read from it.
    pub records: usize,
    /// The blob expired before it could be read: marked done, nothing inserted.
    pub expired: bool,
    /// The alerts judged from it, suppressed ones included.
    pub alerts: &'a [NewAlert],
    /// The sign-ins read from it.
    pub sign_ins: &'a [SignIn],
    /// What its records count towards bursts (mail deleted in bulk, admins removed…).
    pub countables: &'a [crate::detect::burst::Countable],
    /// What the MSP's allowlist and severities make of an alert the bursts raise (the
    /// blob's own alerts come tuned).
    pub tune: &'a dyn Fn(&mut NewAlert),
    /// Where to move the feed's cursor; `None` while an earlier unreadable blob holds it.
    pub cursor: Option<DateTime<Utc>>,
}

/// How a tenant's scan went, for [`Store::set_status`].
pub struct StatusUpdate<'a> {
    /// The tenant.
    pub tenant_id: &'a str,
    /// How the scan went.
    pub state: TenantState,
    /// The first problem's kind, if any.
    pub problem: Option<&'a str>,
    /// Every problem's message, in words.
    pub message: Option<&'a str>,
    /// Requests throttled during the scan.
    pub throttled: u64,
    /// Requests retried after another failure during the scan.
    pub retried: u64,
}

/// A new lease holder's name: this process and machine, then a run of its own
/// (`<pid>@<machine>:<uuid>`), so a holder on this machine whose process is gone is seen.
pub fn lease_holder() -> String {
    format!(
        "{}@{}:{}",
        std::process::id(),
        this_machine(),
        uuid::Uuid::new_v4().simple()
    )
}

/// This machine's id (systemd's /etc/machine-id), or `unknown`.
pub(super) fn this_machine() -> String {
    std::fs::read_to_string("/etc/machine-id")
        .map(|id| id.trim().to_string())
        .ok()
        .filter(|id| !id.is_empty() && !id.contains([':', '@']))
        .unwrap_or_else(|| "unknown".into())
}

/// Whether the process a lease holder names (`<pid>[@<machine>]:…`) still runs. Unknown
/// (another form, another machine of a team, or a system without `/proc`): assumed
/// running, so only the expiry frees it.
fn holder_runs(holder: &str, shared: bool) -> bool {
    let first = holder.split(':').next().unwrap_or_default();
    let (pid, machine) = match first.split_once('@') {
        Some((pid, machine)) => (pid, Some(machine)),
        None => (first, None),
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return true;
    };
    if shared && machine != Some(this_machine().as_str()) {
        return true;
    }
    if cfg!(target_os = "linux") {
        std::path::Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Moves the cursor forward only: a later, smaller value never rewinds it.
fn advance_cursor(
    c: &Connection,
    tenant_id: &str,
    content_type: &str,
    to: DateTime<Utc>,
) -> db::Result<()> {
    c.execute(
        "INSERT INTO cursors (tenant_id, content_type, complete_until) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant_id, content_type) DO UPDATE SET complete_until = CASE WHEN excluded.complete_until > cursors.complete_until
             THEN excluded.complete_until ELSE cursors.complete_until END",
        params![tenant_id, content_type, ts(to)],
    )?;
    Ok(())
}
