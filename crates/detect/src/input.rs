//! Audit records a technician already has, read for `rulewatch check`: a JSON array of
//! records, JSON lines, or a CSV export (Purview audit search, `Search-UnifiedAuditLog`)
//! whose `AuditData` column holds each record, in UTF-8 (with or without a byte-order
//! mark) or UTF-16 as Windows PowerShell and the Purview portal write them. Records that
//! cannot be read are reported one by one so the rest are still judged.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::fan_in::{self, FanIn, Forward};
use super::record::AuditRecord;
use super::{RecordAlert, TenantContext, alerts};

/// Where a record sits in its file; serialised as shown ("record 2", "line 7").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 1-based index in a JSON array.
    Record(usize),
    /// 1-based line of a JSON-lines or CSV file.
    Line(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Record(n) => write!(f, "record {n}"),
            Position::Line(n) => write!(f, "line {n}"),
        }
    }
}

impl Serialize for Position {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A record that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// Where the record was in the file.
    pub position: Position,
    /// Why it could not be read, in words.
    pub reason: String,
}

/// The records of one file.
#[derive(Debug, Default)]
pub struct Records {
    /// Every readable record, with where it was.
    pub records: Vec<(Position, AuditRecord)>,
    /// Every record that could not be read.
    pub unreadable: Vec<Unreadable>,
}

impl Records {
    fn take(&mut self, position: Position, value: Result<Value, String>) {
        match value.and_then(record) {
            Ok(r) => self.records.push((position, r)),
            Err(reason) => self.unreadable.push(Unreadable { position, reason }),
        }
    }
}

/// An object with an `Id` and an `Operation`: the least a record needs to be judged.
fn record(value: Value) -> Result<AuditRecord, String> {
    let Value::Object(map) = &value else {
        return Err("not a JSON object".into());
    };
    for field in ["Id", "Operation"] {
        if map
            .get(field)
            .is_none_or(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()))
        {
            return Err(format!("no {field}"));
        }
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// A file's bytes as text: UTF-16 (LE or BE) or UTF-8, by the byte-order mark; without
/// one, UTF-16 is known by the NUL beside the first character (every layout starts with
/// an ASCII character: `[`, `{` or a CSV header), else UTF-8. Malformed text is refused
/// whole, never read with replacement characters that would change what is judged.
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    let (encoding, bom) = match encoding_rs::Encoding::for_bom(bytes) {
        Some(found) => found,
        None => match bytes {
            [b, 0, ..] if b.is_ascii() && *b != 0 => (encoding_rs::UTF_16LE, 0),
            [0, b, ..] if b.is_ascii() && *b != 0 => (encoding_rs::UTF_16BE, 0),
            _ => (encoding_rs::UTF_8, 0),
        },
    };
    encoding
        .decode_without_bom_handling_and_without_replacement(&bytes[bom..])
        .map(|text| text.into_owned())
        .ok_or_else(|| {
            format!(
                "the file is not valid {} text; export it again as UTF-8 or as Unicode (UTF-16), as Purview and PowerShell's `Export-Csv -Encoding UTF8` do",
                encoding.name()
            )
        })
}

/// Reads a file's text in whichever of the three layouts it is.
pub fn read(text: &str) -> Records {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Records::default();
    match text.trim_start().chars().next() {
        None => {}
        Some('[') => match serde_json::from_str::<Vec<Value>>(text) {
            Ok(items) => {
                for (i, v) in items.into_iter().enumerate() {
                    out.take(Position::Record(i + 1), Ok(v));
                }
            }
            Err(e) => out.unreadable.push(Unreadable {
                position: Position::Line(e.line()),
                reason: format!("not a JSON array of records: {e}"),
            }),
        },
        Some('{') => {
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                out.take(
                    Position::Line(i + 1),
                    serde_json::from_str(line).map_err(|e| format!("not JSON: {e}")),
                );
            }
        }
        Some(_) => read_csv(text, &mut out),
    }
    out
}

fn read_csv(text: &str, out: &mut Records) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let column = match reader.headers() {
        Ok(h) => h
            .iter()
            .position(|name| name.trim().eq_ignore_ascii_case("AuditData")),
        Err(e) => {
            out.unreadable.push(Unreadable {
                position: Position::Line(1),
                reason: format!("not CSV: {e}"),
            });
            return;
        }
    };
    let Some(column) = column else {
        out.unreadable.push(Unreadable {
            position: Position::Line(1),
            reason: "neither JSON nor a CSV export with an AuditData column".into(),
        });
        return;
    };
    for row in reader.records() {
        match row {
            Ok(row) => {
                let line = row.position().map_or(0, |p| p.line() as usize);
                let value = match row.get(column) {
                    Some(data) => serde_json::from_str(data)
                        .map_err(|e| format!("AuditData is not JSON: {e}")),
                    None => Err("no AuditData value".into()),
                };
                out.take(Position::Line(line), value);
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                out.unreadable.push(Unreadable {
                    position: Position::Line(line),
                    reason: format!("bad CSV row: {e}"),
                });
            }
        }
    }
}

/// The domains taken as the organisation's when none are given: those of each record's
/// `OrganizationName` and of each person (not system account) who acted.
pub fn assumed_domains<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> Vec<String> {
    let mut domains: Vec<String> = Vec::new();
    for r in records {
        let org = r.organization_name.trim();
        let actor = if r.by_system() {
            None
        } else {
            r.user_id.rsplit_once('@').map(|(_, d)| d)
        };
        for d in [Some(org), actor].into_iter().flatten() {
            let d = d.trim().to_ascii_lowercase();
            if d.contains('.') && !d.contains(['\\', ' ', '@']) && !domains.contains(&d) {
                domains.push(d);
            }
        }
    }
    domains.sort();
    domains
}

/// An alert of `check`: the tenant the record names and where the record was read.
#[derive(Debug, Clone, Serialize)]
pub struct CheckedAlert {
    /// The tenant the record names (`OrganizationId`).
    pub tenant_id: String,
    /// The record's `OrganizationName`, or its tenant id when it has none.
    pub tenant_name: String,
    /// What was found.
    #[serde(flatten)]
    pub alert: RecordAlert,
    /// Where the record was in the file.
    pub position: Position,
}

/// Every finding of one record, as alerts.
pub fn judge(position: Position, record: &AuditRecord, ctx: &TenantContext) -> Vec<CheckedAlert> {
    alerts(record, ctx)
        .into_iter()
        .map(|alert| CheckedAlert {
            tenant_id: record.organization_id.clone(),
            tenant_name: record.tenant_name().to_string(),
            alert,
            position,
        })
        .collect()
}

/// `forwarding-fan-in` over every alert found in the files checked together.
pub fn fan_ins(found: &[CheckedAlert]) -> Vec<FanIn> {
    let mut by_destination: std::collections::BTreeMap<String, Vec<Forward>> = Default::default();
    for c in found
        .iter()
        .filter(|c| fan_in::is_forwarding(c.alert.finding.rule))
    {
        let Some(event_time) = c.alert.event_time else {
            continue;
        };
        for d in c.alert.finding.details.destinations() {
            by_destination
                .entry(d.to_lowercase())
                .or_default()
                .push(Forward {
                    alert_id: None,
                    tenant_id: c.tenant_id.clone(),
                    tenant_name: c.tenant_name.clone(),
                    mailbox: c.alert.finding.target.clone(),
                    actor: c.alert.finding.actor.clone(),
                    operation: c.alert.operation.clone(),
                    event_time,
                });
        }
    }
    by_destination
        .into_iter()
        .flat_map(|(d, forwards)| fan_in::campaigns(&d, forwards))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_layouts() {
        let array = read(r#"[{"Id":"1","Operation":"Send"},{"Id":"2","Operation":"Set-Mailbox"}]"#);
        assert_eq!(array.records.len(), 2);
        assert_eq!(array.records[1].0, Position::Record(2));

        let lines =
            read("{\"Id\":\"1\",\"Operation\":\"Send\"}\n\nnot json\n{\"Operation\":\"Send\"}\n");
        assert_eq!(lines.records.len(), 1);
        let bad: Vec<_> = lines
            .unreadable
            .iter()
            .map(|u| (u.position, u.reason.as_str()))
            .collect();
        assert_eq!(bad[0].0, Position::Line(3));
        assert_eq!(bad[1], (Position::Line(4), "no Id"));

        let csv = read(
            "CreationDate,UserIds,Operations,AuditData\n2026-11-27,a,Send,\"{\"\"Id\"\":\"\"1\"\",\"\"Operation\"\":\"\"Send\"\"}\"\n",
        );
        assert_eq!(csv.records.len(), 1);
        assert_eq!(csv.records[0].0, Position::Line(2));

        let wrong = read("a,b\n1,2\n");
        assert_eq!(wrong.unreadable[0].position, Position::Line(1));
    }

    #[test]
    fn text_from_windows_in_every_encoding_it_is_written_in() {
        let text = "[{\"Id\":\"1\",\"Operation\":\"Set-Mailbox\",\"UserId\":\"zoë@contoso.com\"}]";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        for (name, bytes) in [
            ("UTF-8", text.as_bytes().to_vec()),
            (
                "UTF-8 with BOM",
                [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
            ),
            ("UTF-16LE with BOM", [&[0xFF, 0xFE][..], &le].concat()),
            ("UTF-16BE with BOM", [&[0xFE, 0xFF][..], &be].concat()),
            ("UTF-16LE without BOM", le.clone()),
        ] {
            assert_eq!(decode(&bytes).as_deref(), Ok(text), "{name}");
        }
        let latin1 = b"[{\"UserId\":\"zo\xEB@contoso.com\"}]";
        let e = decode(latin1).unwrap_err();
        assert!(
            e.contains("not valid UTF-8 text") && e.contains("export it again"),
            "{e}"
        );
        let cut = [&[0xFF, 0xFE][..], &le[..le.len() - 1]].concat();
        assert!(
            decode(&cut)
                .unwrap_err()
                .contains("not valid UTF-16LE text")
        );
    }

    #[test]
    fn domains_of_the_organisation_and_its_people_not_of_the_system() {
        let r = |v: &str| serde_json::from_str::<AuditRecord>(v).unwrap();
        let records = [
            r(
                r#"{"Id":"1","OrganizationName":"contoso.onmicrosoft.com","UserId":"adele@Contoso.com"}"#,
            ),
            r(r#"{"Id":"2","UserId":"NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)"}"#),
        ];
        assert_eq!(
            assumed_domains(&records),
            vec!["contoso.com", "contoso.onmicrosoft.com"]
        );
    }
}
