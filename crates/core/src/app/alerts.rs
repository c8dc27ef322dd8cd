//! Alerts and their review: the list, one alert's evidence, its status (a false
//! positive may trust its destinations), the allowlist, and the customer's report.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::{Error, Session};
use crate::allowlist::{TrustEntry, TrustKind, normalize_destination, normalize_rule_name};
use crate::store::{Alert, AlertFilter, AlertStatus, Incident, Review};

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

    /// Every incident with its alerts, the most recently active first.
    pub async fn incidents(&self) -> Result<Vec<Incident>, Error> {
        Ok(self.store().await.incidents()?)
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
                store.add_trust(&alert.tenant_id, TrustKind::Destination, &value, Some(&why))?;
            }
        }
        Ok(alert)
    }

    /// Trusts a destination (an address or a whole domain) or a rule name for one tenant.
    pub async fn trust(
        &self,
        tenant_id: &str,
        kind: TrustKind,
        value: &str,
        note: Option<&str>,
    ) -> Result<TrustEntry, Error> {
        let tenant_id = crate::tenants::parse_guid(tenant_id, "the tenant id")?;
        let value = match kind {
            TrustKind::Destination => normalize_destination(value)?,
            TrustKind::RuleName => normalize_rule_name(value)?,
        };
        Ok(self
            .store()
            .await
            .add_trust(&tenant_id, kind, &value, note)?)
    }

    /// The allowlist, of every tenant or of one.
    pub async fn trusted(&self, tenant_id: Option<&str>) -> Result<Vec<TrustEntry>, Error> {
        let tenant_id = tenant_id
            .map(|t| crate::tenants::parse_guid(t, "the tenant id"))
            .transpose()?;
        Ok(self.store().await.trust_entries(tenant_id.as_deref())?)
    }

    /// Removes an allowlist entry by its number; the alerts it suppressed stay so.
    pub async fn untrust(&self, id: i64) -> Result<TrustEntry, Error> {
        Ok(self.store().await.remove_trust(id)?)
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

    /// The panel's detail of an alert whose record was pruned says so, and lists no fields.
    #[tokio::test]
    async fn a_pruned_record_is_said_to_be_pruned_in_the_alert_s_detail() {
        use crate::store::{BlobCommit, NewAlert, Retention, TenantRow};
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().as_os_str().to_owned();
        let config =
            crate::app::Config::read(|var| (var == crate::app::Var::DataDir).then(|| data.clone()))
                .unwrap();
        let session = Session::open(config).unwrap();
        let store = session.store().await;
        let tenant_id = "8d4121ed-0008-406d-bff9-0d5bb312183c";
        store
            .add_tenant(&TenantRow {
                tenant_id: tenant_id.into(),
                name: "Contoso".into(),
                client_id: "11111111-2222-3333-4444-555555555555".into(),
                auth_method: crate::auth::AuthMethod::ClientSecret,
                cloud: None,
            })
            .unwrap();
        let alert = NewAlert {
            tenant_name: "Contoso".into(),
            record_id: "r1".into(),
            rule: "inbox-rule-hides-mail".into(),
            severity: crate::detect::Severity::High,
            operation: "New-InboxRule".into(),
            target: "adele@contoso.com".into(),
            actor: "adele@contoso.com".into(),
            client_ip: None,
            summary: "s".into(),
            details: crate::detect::evidence::Evidence::read(
                "inbox-rule-hides-mail",
                serde_json::json!({}),
            ),
            event_time: None,
            raw_record: r#"{"Operation":"New-InboxRule","ResultStatus":"True"}"#.into(),
            suppressed_by: None,
            origin: None,
            mailbox: None,
        };
        let stored = store
            .commit_blob(BlobCommit {
                tenant_id,
                content_type: "Audit.Exchange",
                content_id: "b1",
                content_created: crate::clock::now(),
                records: 1,
                expired: false,
                alerts: &[alert],
                sign_ins: &[],
                cursor: None,
            })
            .unwrap();
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
}
