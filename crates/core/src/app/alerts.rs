//! Alerts and their review: the list, one alert's evidence, its status (a false
//! positive may trust its destinations), and the customer's report.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Error, Session};
use crate::allowlist::{TrustKind, normalize_destination};
use crate::detect::Severity;
use crate::store::{
    Alert, AlertFilter, AlertPage, AlertQuery, AlertStatus, Assignee, Incident, IncidentStart,
    NewTrust, Review, StatusFilter,
};

/// The most alerts one page of the list holds, whatever a front end asks: it reads the
/// list a page at a time, never all of a year's.
pub const MAX_PAGE: u32 = 500;

/// Whose alerts a page of the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldBy {
    /// Held or not, by anyone.
    Anyone,
    /// Held by the technician at this workstation.
    Mine,
    /// Held by nobody.
    Nobody,
}

/// A page of the alert list as a front end asks for it (the panel's filters).
#[derive(Debug, Clone, Deserialize)]
pub struct AlertPageRequest {
    /// Which statuses: `active` (open or acknowledged), `all`, or one status's name.
    pub status: StatusFilter,
    /// This severity or graver; none: any.
    pub severity: Option<Severity>,
    /// One tenant's id; none or empty: every tenant.
    pub tenant: Option<String>,
    /// Text in the summary, mailbox, actor, tenant name, rule id or IP address (ASCII
    /// letters in any case); blank: no search.
    pub search: String,
    /// Whose.
    pub held_by: HeldBy,
    /// How many matching alerts come before the page.
    pub offset: u64,
    /// How many alerts the page holds, from 1 to [`MAX_PAGE`].
    pub limit: u32,
}

/// One alert with its evidence: every field of its audit record, the record itself,
/// and the other alerts about the same mailbox.
#[derive(Debug, Serialize)]
pub struct AlertDetail {
    /// The alert as stored.
    #[serde(flatten)]
    pub alert: Alert,
    /// The outside addresses its evidence names: what a false positive can trust.
    pub destinations: Vec<String>,
    /// Every field of its audit record as name and text.
    pub parameters: Vec<Field>,
    /// The audit record, indented for reading; once pruned, words saying after how many
    /// days.
    pub raw_record: String,
    /// The other alerts about the same mailbox, newest first.
    pub related: Vec<Alert>,
    /// The incident it belongs to, with its title and its alerts oldest first: the
    /// panel's timeline of the account's takeover (none when suppressed).
    pub incident: Option<Incident>,
}

/// One field of an audit record, as text.
#[derive(Debug, Serialize, PartialEq)]
pub struct Field {
    /// The field's name; a parameter's is `Parameters · Name`.
    pub name: String,
    /// Its value as text.
    pub value: String,
}

/// Every field of an audit record as name and text; `Parameters` and
/// `OperationProperties` entries each get a row of their own.
fn fields(raw: &str) -> Vec<Field> {
    let as_text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(raw) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, value) in &map {
        match value {
            Value::Array(items) if name == "Parameters" || name == "OperationProperties" => {
                out.extend(items.iter().map(|p| Field {
                    name: format!("{name} · {}", as_text(&p["Name"])),
                    value: as_text(&p["Value"]),
                }));
            }
            _ => out.push(Field {
                name: name.clone(),
                value: as_text(value),
            }),
        }
    }
    out
}

impl Session {
    /// Every stored alert, newest first.
    pub async fn alerts(&self) -> Result<Vec<Alert>, Error> {
        Ok(self.store().await.alerts()?)
    }

    /// The alerts `filter` lets through, the newest first.
    pub async fn alerts_where(&self, filter: &AlertFilter) -> Result<Vec<Alert>, Error> {
        Ok(self.store().await.alerts_where(filter)?)
    }

    /// One page of the alerts `request` lets through, newest first, how many match, and
    /// every alert's tenant; "mine" are the alerts this workstation's technician holds.
    pub async fn alert_page(&self, request: &AlertPageRequest) -> Result<AlertPage, Error> {
        let query = AlertQuery {
            status: request.status,
            severity: request.severity,
            tenant: request.tenant.clone().filter(|t| !t.is_empty()),
            search: request.search.clone(),
            assignee: match request.held_by {
                HeldBy::Anyone => None,
                HeldBy::Mine => Some(Assignee::Named(self.config.technician.clone())),
                HeldBy::Nobody => Some(Assignee::Nobody),
            },
            offset: request.offset,
            limit: request.limit.clamp(1, MAX_PAGE),
        };
        Ok(self.store().await.alert_page(&query)?)
    }

    /// The technician at this workstation, as alerts' history names them.
    pub fn technician(&self) -> &str {
        &self.config.technician
    }

    /// Whether this technician is on duty: off duty, the desktop notifies nothing.
    pub async fn on_duty(&self) -> Result<bool, Error> {
        Ok(self.store().await.on_duty(&self.config.technician)?)
    }

    /// Puts this technician on duty or off it.
    pub async fn set_on_duty(&self, on: bool) -> Result<(), Error> {
        Ok(self
            .store()
            .await
            .set_on_duty(&self.config.technician, on)?)
    }

    /// This technician takes the alert; one a colleague holds only with `force`.
    pub async fn take_alert(&self, id: i64, force: bool) -> Result<Alert, Error> {
        Ok(self
            .store()
            .await
            .take_alert(id, &self.config.technician, force)?)
    }

    /// This technician lets the alert go; one a colleague holds only with `force`.
    pub async fn release_alert(&self, id: i64, force: bool) -> Result<Alert, Error> {
        Ok(self
            .store()
            .await
            .release_alert(id, &self.config.technician, force)?)
    }

    /// Adds this technician's note to the alert's history.
    pub async fn note_alert(&self, id: i64, note: &str) -> Result<(), Error> {
        let note = note.trim();
        if note.is_empty() {
            return Err(Error::Invalid(
                "the note is empty; say what was seen or done".into(),
            ));
        }
        Ok(self
            .store()
            .await
            .note_alert(id, &self.config.technician, note)?)
    }

    /// Who holds the alert, and every step of its review, oldest first.
    pub async fn alert_review(&self, id: i64) -> Result<Review, Error> {
        Ok(self.store().await.alert_review(id)?)
    }

    /// Every incident active at or after `active_since` (every one, without it) with its
    /// alerts, the most recently active first.
    pub async fn incidents(
        &self,
        active_since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Incident>, Error> {
        Ok(self.store().await.incidents(active_since)?)
    }

    /// The incidents of `ids` (those that exist), with their alerts: the headings of one
    /// page of the alert list.
    pub async fn incidents_of(&self, ids: &[i64]) -> Result<Vec<Incident>, Error> {
        Ok(self.store().await.incidents_of(ids)?)
    }

    /// The incidents begun at or after `since`, oldest first, without their alerts: what
    /// the Overview's chart counts.
    pub async fn incidents_since(&self, since: DateTime<Utc>) -> Result<Vec<IncidentStart>, Error> {
        Ok(self.store().await.incidents_since(since)?)
    }

    /// Resolves the open incident `key`, with the technician's `note`; the channels that
    /// were told of it are told it is resolved (a PSA ticket gets a closing note) at
    /// their next delivery. A later alert about the mailbox opens a new incident.
    pub async fn resolve_incident(&self, key: &str, note: Option<&str>) -> Result<Incident, Error> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        Ok(self.store().await.resolve_incident(key, note)?)
    }

    /// How many alerts are open, for the tray.
    pub async fn open_alert_count(&self) -> Result<u64, Error> {
        Ok(self.store().await.open_alert_count()?)
    }

    /// One alert with its evidence.
    pub async fn alert_detail(&self, id: i64) -> Result<AlertDetail, Error> {
        let store = self.store().await;
        let (alert, raw) = store.alert_with_record(id)?;
        let related = store
            .alerts_about(&alert.tenant_id, &alert.target)?
            .into_iter()
            .filter(|a| a.id != id)
            .collect();
        let incident = alert.incident_id.map(|i| store.incident(i)).transpose()?;
        // A pruned record says so in its place, and has no fields to list.
        let (raw_record, parameters) = match crate::store::pruned_record(&raw) {
            Some(words) => (words, Vec::new()),
            None => (
                serde_json::from_str::<Value>(&raw)
                    .and_then(|v| serde_json::to_string_pretty(&v))
                    .unwrap_or_else(|_| raw.clone()),
                fields(&raw),
            ),
        };
        Ok(AlertDetail {
            destinations: alert
                .details
                .destinations()
                .into_iter()
                .map(str::to_string)
                .collect(),
            parameters,
            raw_record,
            related,
            incident,
            alert,
        })
    }

    /// Gives an alert a status a technician may set, with an optional note. A false
    /// positive with `trust_destination` also trusts each destination it names, for its
    /// own tenant only (the alert's, never one an audit field names).
    pub async fn set_alert_status(
        &self,
        id: i64,
        status: &str,
        note: Option<&str>,
        trust_destination: bool,
    ) -> Result<Alert, Error> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        let status = AlertStatus::parse(status)
            .filter(|s| s.settable())
            .ok_or_else(|| {
                Error::Invalid(format!("'{status}' is not a status an alert can be given"))
            })?;
        let store = self.store().await;
        let alert = store.set_alert_status(id, status, note, &self.config.technician)?;
        if trust_destination && status == AlertStatus::FalsePositive {
            let destinations = alert.details.destinations();
            if destinations.is_empty() {
                return Err(Error::Invalid(
                    "this alert names no destination to trust".into(),
                ));
            }
            let why = note
                .map(str::to_string)
                .unwrap_or_else(|| format!("marked a false positive on alert {id}"));
            for d in destinations {
                let value = normalize_destination(d)?;
                store.add_trust(NewTrust {
                    tenant_id: Some(&alert.tenant_id),
                    account: None,
                    kind: TrustKind::Destination,
                    value: &value,
                    reason: Some(&why),
                    added_by: Some(&self.config.technician),
                    expires_at: None,
                })?;
            }
        }
        Ok(alert)
    }

    /// Writes the alert's HTML incident report, one per customer it concerns, in `dir`
    /// (beside the database, in `reports/`, when `None`).
    pub async fn write_reports(
        &self,
        alert_id: i64,
        dir: Option<&Path>,
    ) -> Result<Vec<PathBuf>, Error> {
        let store = self.store().await;
        let dir = dir.map_or_else(|| self.config.data_dir.join("reports"), Path::to_path_buf);
        tokio::task::spawn_blocking(move || {
            crate::report::write_incident_reports(&store, alert_id, &dir)
        })
        .await
        .map_err(|e| Error::Failed(format!("writing the report stopped: {e}")))?
        .map_err(Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_field_and_parameter_is_a_row_of_text() {
        let raw = r#"{"Operation":"New-InboxRule","ResultStatus":"True","RecordType":1,
                      "Parameters":[{"Name":"Name","Value":"<img src=x onerror=alert(1)>"},{"Name":"DeleteMessage","Value":"True"}]}"#;
        let rows = fields(raw);
        let row = |name: &str| {
            rows.iter()
                .find(|f| f.name == name)
                .map(|f| f.value.as_str())
        };
        assert_eq!(row("Operation"), Some("New-InboxRule"));
        assert_eq!(row("RecordType"), Some("1"));
        assert_eq!(
            row("Parameters · Name"),
            Some("<img src=x onerror=alert(1)>")
        );
        assert_eq!(row("Parameters · DeleteMessage"), Some("True"));
        assert!(fields("not json").is_empty());
    }

    const CONTOSO: &str = "8d4121ed-0008-406d-bff9-0d5bb312183c";

    /// A session on a folder of its own with `technician` at it and tenant Contoso added.
    fn with_contoso(technician: &str) -> (tempfile::TempDir, Session) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().as_os_str().to_owned();
        let config = crate::app::Config::read(|var| match var {
            crate::app::Var::DataDir => Some(data.clone()),
            crate::app::Var::Technician => Some(technician.into()),
            _ => None,
        })
        .unwrap();
        let session = Session::open(config).unwrap();
        futures::executor::block_on(session.store())
            .add_tenant(&crate::store::TenantRow {
                tenant_id: CONTOSO.into(),
                name: "Contoso".into(),
                client_id: "11111111-2222-3333-4444-555555555555".into(),
                auth_method: crate::auth::AuthMethod::ClientSecret,
                cloud: None,
            })
            .unwrap();
        (dir, session)
    }

    /// A hides-mail alert on Contoso's user `i`, `i` minutes old, from `raw`.
    fn hides_mail(i: usize, raw: &str) -> crate::store::NewAlert {
        crate::store::NewAlert {
            tenant_name: "Contoso".into(),
            record_id: format!("r{i}"),
            rule: "inbox-rule-hides-mail".into(),
            severity: Severity::High,
            operation: "New-InboxRule".into(),
            target: format!("user{i}@contoso.com"),
            actor: format!("user{i}@contoso.com"),
            client_ip: None,
            summary: "s".into(),
            details: crate::detect::evidence::Evidence::read(
                "inbox-rule-hides-mail",
                serde_json::json!({}),
            ),
            event_time: Some(crate::clock::now() - chrono::Duration::minutes(i as i64)),
            raw_record: raw.into(),
            suppressed_by: None,
            origin: None,
            mailbox: None,
        }
    }

    /// Commits `alerts` to Contoso in one blob; answers them as stored.
    fn committed(store: &crate::store::Store, alerts: &[crate::store::NewAlert]) -> Vec<Alert> {
        store
            .commit_blob(crate::store::BlobCommit {
                tenant_id: CONTOSO,
                content_type: "Audit.Exchange",
                content_id: "b1",
                content_created: crate::clock::now(),
                records: alerts.len(),
                expired: false,
                alerts,
                sign_ins: &[],
                countables: &[],
                tune: &|_| {},
                cursor: None,
            })
            .unwrap()
    }

    /// The panel's detail of an alert whose record was pruned says so, and lists no fields.
    #[tokio::test]
    async fn a_pruned_record_is_said_to_be_pruned_in_the_alert_s_detail() {
        use crate::store::Retention;
        let (_dir, session) = with_contoso("alice");
        let store = session.store().await;
        let stored = committed(
            &store,
            &[hides_mail(
                1,
                r#"{"Operation":"New-InboxRule","ResultStatus":"True"}"#,
            )],
        );
        let id = stored[0].id;
        let before = session.alert_detail(id).await.unwrap();
        assert!(before.raw_record.contains("New-InboxRule") && !before.parameters.is_empty());

        let half_a_year_on = crate::clock::now() + chrono::Duration::days(181);
        store.prune(half_a_year_on, &Retention::default()).unwrap();
        let after = session.alert_detail(id).await.unwrap();
        assert!(
            after
                .raw_record
                .starts_with("The raw audit record was pruned after 180 days"),
            "{}",
            after.raw_record
        );
        assert!(after.parameters.is_empty());
        assert_eq!(after.alert.summary, "s", "the alert itself is kept");
    }

    /// The panel's query as it sends it, and "mine" as this workstation's technician, not
    /// whoever the panel names; a page holds at least one alert and at most MAX_PAGE.
    #[tokio::test]
    async fn a_page_of_mine_is_what_this_technician_holds() {
        let request: AlertPageRequest = serde_json::from_value(serde_json::json!({
            "status": "active", "severity": "high", "tenant": null, "search": " x ",
            "held_by": "mine", "offset": 100, "limit": 100,
        }))
        .unwrap();
        assert_eq!(request.status, StatusFilter::Active);
        assert_eq!(request.severity, Some(Severity::High));
        assert_eq!(request.held_by, HeldBy::Mine);
        assert_eq!(
            serde_json::from_value::<StatusFilter>(serde_json::json!("false_positive")).unwrap(),
            StatusFilter::Only(AlertStatus::FalsePositive)
        );
        assert!(serde_json::from_value::<StatusFilter>(serde_json::json!("deleted")).is_err());

        let (_dir, session) = with_contoso("alice");
        let store = session.store().await;
        let stored = committed(
            &store,
            &[
                hides_mail(0, "{}"),
                hides_mail(1, "{}"),
                hides_mail(2, "{}"),
            ],
        );
        let [newest, middle, oldest] = [stored[0].id, stored[1].id, stored[2].id];
        session.take_alert(middle, false).await.unwrap();
        store.take_alert(oldest, "bob", false).unwrap();
        let page = |held_by, limit| AlertPageRequest {
            status: StatusFilter::All,
            severity: None,
            tenant: Some(String::new()),
            search: String::new(),
            held_by,
            offset: 0,
            limit,
        };
        let ids = |p: AlertPage| p.alerts.iter().map(|a| a.id).collect::<Vec<_>>();
        let mine = session.alert_page(&page(HeldBy::Mine, 100)).await.unwrap();
        assert_eq!(ids(mine), [middle]);
        let nobody_s = session
            .alert_page(&page(HeldBy::Nobody, 100))
            .await
            .unwrap();
        assert_eq!(ids(nobody_s), [newest]);
        let one = session.alert_page(&page(HeldBy::Anyone, 0)).await.unwrap();
        assert_eq!((one.total, ids(one)), (3, vec![newest]));
        let most = session
            .alert_page(&page(HeldBy::Anyone, u32::MAX))
            .await
            .unwrap();
        assert_eq!(most.alerts.len(), 3);
    }
}
