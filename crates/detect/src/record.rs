//! A typed view of the audit record fields detection reads. Everything else stays in
//! the raw JSON, which is stored with the alert.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// One `Name`/`Value` pair of a cmdlet's `Parameters` or a record's `OperationProperties`.
#[derive(Debug, Clone, Deserialize)]
pub struct Param {
    /// The parameter's name, e.g. `ForwardTo`.
    #[serde(rename = "Name")]
    pub name: String,
    /// Its value as text (numbers and booleans written as JSON writes them).
    #[serde(rename = "Value", default, deserialize_with = "value_as_text")]
    pub value: String,
}

/// Real values are strings (`"True"`), but exports re-typed by other tools carry
/// booleans, numbers or null.
fn value_as_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// `Parameters` is an array of `{Name, Value}`, or in some exports that array
/// serialised into a string.
fn params<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Param>, D::Error> {
    match Value::deserialize(d)? {
        Value::Array(items) => Ok(items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect()),
        Value::String(s) => Ok(serde_json::from_str::<Vec<Value>>(&s)
            .map(|items| {
                items
                    .into_iter()
                    .filter_map(|v| serde_json::from_value(v).ok())
                    .collect()
            })
            .unwrap_or_default()),
        _ => Ok(Vec::new()),
    }
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    value_as_text(d)
}

/// One unified audit log record, with the fields detection reads; every field is text an
/// attacker may have chosen.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditRecord {
    /// The record's `Id`: the same record listed twice has the same one.
    #[serde(rename = "Id", deserialize_with = "lenient_string")]
    pub id: String,
    /// `CreationTime`, as the record writes it (UTC, without a zone).
    #[serde(rename = "CreationTime", default, deserialize_with = "lenient_string")]
    pub creation_time: String,
    /// `Operation`, e.g. `New-InboxRule`.
    #[serde(rename = "Operation", default, deserialize_with = "lenient_string")]
    pub operation: String,
    /// `UserId`: who made the change.
    #[serde(rename = "UserId", default, deserialize_with = "lenient_string")]
    pub user_id: String,
    /// `ClientIP`, with a port sometimes.
    #[serde(rename = "ClientIP", default, deserialize_with = "lenient_string")]
    pub client_ip: String,
    /// `ObjectId`: the mailbox or object the cmdlet changed.
    #[serde(rename = "ObjectId", default, deserialize_with = "lenient_string")]
    pub object_id: String,
    /// `ResultStatus`: whether the operation succeeded.
    #[serde(rename = "ResultStatus", default, deserialize_with = "lenient_string")]
    pub result_status: String,
    /// The cmdlet's `Parameters`.
    #[serde(rename = "Parameters", default, deserialize_with = "params")]
    pub parameters: Vec<Param>,
    /// Mailbox-audit records (`UpdateInboxRules`, `ModifyFolderPermissions`) carry their
    /// facts here instead of in `Parameters`.
    #[serde(rename = "OperationProperties", default, deserialize_with = "params")]
    pub operation_properties: Vec<Param>,
    /// The item a mailbox-audit record acted on (for folder permissions, the folder).
    #[serde(rename = "Item", default)]
    pub item: Value,
    /// `MailboxOwnerUPN` of mailbox-audit records.
    #[serde(
        rename = "MailboxOwnerUPN",
        default,
        deserialize_with = "lenient_string"
    )]
    pub mailbox_owner_upn: String,
    /// `OrganizationId`: the tenant.
    #[serde(
        rename = "OrganizationId",
        default,
        deserialize_with = "lenient_string"
    )]
    pub organization_id: String,
    /// `OrganizationName`: the tenant's initial domain.
    #[serde(
        rename = "OrganizationName",
        default,
        deserialize_with = "lenient_string"
    )]
    pub organization_name: String,
}

impl AuditRecord {
    /// Whether the record's operation is `operation` (without case, as Exchange compares).
    pub fn is(&self, operation: &str) -> bool {
        self.operation.trim().eq_ignore_ascii_case(operation)
    }

    /// The value of a parameter (names compared without case, as PowerShell does).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_str())
    }

    /// The value of an `OperationProperties` entry.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.operation_properties
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_str())
    }

    /// A switch parameter set to true (`"True"`, as Exchange logs it).
    pub fn flag(&self, name: &str) -> bool {
        self.param(name)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// Exchange logs cmdlet failures as `"False"`; other workloads use `Failed`.
    pub fn failed(&self) -> bool {
        let s = self.result_status.trim();
        s.eq_ignore_ascii_case("false") || s.eq_ignore_ascii_case("failed")
    }

    /// Changes made by Exchange itself, not by a person.
    pub fn by_system(&self) -> bool {
        self.user_id
            .trim_start()
            .to_ascii_uppercase()
            .starts_with("NT AUTHORITY\\SYSTEM")
    }

    /// When the change was made, when `CreationTime` can be read.
    pub fn event_time(&self) -> Option<DateTime<Utc>> {
        parse_creation_time(&self.creation_time)
    }

    /// The IP address of `ClientIP` without its port or brackets; `None` when empty.
    pub fn client_address(&self) -> Option<String> {
        normalize_ip(&self.client_ip)
    }
}

/// `CreationTime` is UTC without a zone suffix.
pub fn parse_creation_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(t.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// `a.b.c.d`, `a.b.c.d:port`, `[v6]:port` and bare v6 to the bare address.
pub fn normalize_ip(raw: &str) -> Option<String> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest
            .split(']')
            .next()
            .map(str::to_string)
            .filter(|v| !v.is_empty());
    }
    if s.matches(':').count() == 1 {
        return s.split(':').next().map(str::to_string);
    }
    Some(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ip_forms() {
        assert_eq!(
            normalize_ip("104.28.196.199:9808").as_deref(),
            Some("104.28.196.199")
        );
        assert_eq!(
            normalize_ip("[2a09:bac5:110:105::1a:98]:52629").as_deref(),
            Some("2a09:bac5:110:105::1a:98")
        );
        assert_eq!(
            normalize_ip("2a09:bac5::1").as_deref(),
            Some("2a09:bac5::1")
        );
        assert_eq!(
            normalize_ip("104.28.196.199").as_deref(),
            Some("104.28.196.199")
        );
        assert_eq!(normalize_ip(" "), None);
    }

    #[test]
    fn parameters_as_array_or_string() {
        let a: AuditRecord = serde_json::from_str(
            r#"{"Id":"1","Operation":"New-InboxRule","Parameters":[{"Name":"DeleteMessage","Value":"True"}]}"#,
        )
        .unwrap();
        let b: AuditRecord = serde_json::from_str(
            r#"{"Id":"1","Operation":"New-InboxRule","Parameters":"[{\"Name\":\"deletemessage\",\"Value\":true}]"}"#,
        )
        .unwrap();
        assert!(a.flag("DeleteMessage"));
        assert!(b.flag("DeleteMessage"));
    }

    #[test]
    fn creation_time_without_zone_is_utc() {
        let r: AuditRecord =
            serde_json::from_str(r#"{"Id":"1","CreationTime":"2023-05-29T12:29:35"}"#).unwrap();
        assert_eq!(
            r.event_time().unwrap().to_rfc3339(),
            "2023-05-29T12:29:35+00:00"
        );
    }
}
