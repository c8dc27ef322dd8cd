//! The lean reading of counted records agrees with the full parse on any input: on the
//! records Exchange writes, on hostile and odd ones (fields re-typed, escaped, repeated,
//! re-cased, nested too deep, broken JSON), and on real records given a counted operation.

use serde_json::{Value, json};

use crate::AuditRecord;
use crate::burst::{Countable, counted, counted_json};
use crate::mail_record::MailRecord;

/// What the full parse makes of a record: the reference.
fn full(raw: &str) -> Option<Countable> {
    counted(&serde_json::from_str::<AuditRecord>(raw).ok()?)
}

fn assert_agrees(raw: &str) {
    assert_eq!(counted_json(raw), full(raw), "{raw}");
}

/// A deletion and a sync as Exchange writes them.
fn ordinary() -> [Value; 2] {
    [
        json!({
            "CreationTime": "2026-11-27T10:00:00", "Id": "d1", "Operation": "HardDelete",
            "OrganizationId": "8d4121ed-0008-406d-bff9-0d5bb312183c", "RecordType": 3,
            "ResultStatus": "Succeeded", "UserId": "eve@contoso.com", "ClientIP": "203.0.113.9:443",
            "MailboxOwnerUPN": "CEO@contoso.com", "OrganizationName": "contoso.onmicrosoft.com",
            "AffectedItems": [{"Id": "a", "ParentFolder": {"Path": "\\Inbox"}}, {"Id": "b"}],
            "Folder": {"Id": "LgAAAAB", "Path": "\\Recoverable Items\\Deletions"},
        }),
        json!({
            "CreationTime": "2026-11-27T10:05:00", "Id": "s1", "Operation": "MailItemsAccessed",
            "ResultStatus": "Succeeded", "UserId": "ceo@contoso.com", "ClientIP": "[2001:db8::7]:1",
            "MailboxOwnerUPN": "ceo@contoso.com", "OperationCount": 3,
            "OperationProperties": [
                {"Name": "MailAccessType", "Value": "Sync"}, {"Name": "IsThrottled", "Value": "False"},
            ],
            "Folders": [
                {"FolderItems": [{"InternetMessageId": "<a@b>"}], "Id": "x", "Path": "\\Inbox"},
                {"Id": "y", "Path": "\\Archive"},
            ],
        }),
    ]
}

#[test]
fn ordinary_mail_records_are_read_leanly_and_count_alike() {
    for v in ordinary() {
        let raw = v.to_string();
        assert!(
            serde_json::from_str::<MailRecord>(&raw).is_ok(),
            "read whole: {raw}"
        );
        assert!(counted_json(&raw).is_some(), "{raw}");
        assert_agrees(&raw);
    }
}

#[test]
fn odd_fields_count_alike() {
    let [deletion, sync] = ordinary();
    let edits: &[(&str, Value)] = &[
        ("Operation", json!("  harddelete ")),
        ("Operation", json!("SOFTDELETE")),
        ("Operation", json!("HardDelete.")),
        ("Operation", json!("Delete user.")),
        ("Operation", json!("MailItemsAccessed")),
        ("Operation", json!(7)),
        ("Operation", json!(null)),
        ("Id", json!(12)),
        ("Id", json!(null)),
        ("Id", json!(["a", 1])),
        ("Id", json!({"a": 1.5})),
        ("UserId", json!("nt authority\\system (w3wp)")),
        ("UserId", json!("  NT AUTHORITY\\SYSTEM")),
        ("UserId", json!("NT AUTHORITY\\SYSTEMÉ")),
        ("UserId", json!("NT AUTHORITÉ")),
        ("UserId", json!(true)),
        ("MailboxOwnerUPN", json!("  ")),
        ("MailboxOwnerUPN", json!(null)),
        ("ResultStatus", json!(" failure ")),
        ("ResultStatus", json!("False")),
        ("ResultStatus", json!(false)),
        ("ClientIP", json!(null)),
        ("ClientIP", json!("2001:db8::1")),
        ("ClientIP", json!(80)),
        ("CreationTime", json!("2026-11-27T10:00:00Z")),
        ("CreationTime", json!("2026-11-27T10:00:00.123")),
        ("CreationTime", json!(" 2026-11-27T10:00:00 ")),
        ("CreationTime", json!("2026-11-27t10:00:00")),
        ("CreationTime", json!("2026-11-27T10:00:60")),
        ("CreationTime", json!("2026-02-29T10:00:00")),
        ("CreationTime", json!("2024-02-29T24:00:00")),
        ("CreationTime", json!("+2026-11-27T10:00:0")),
        ("CreationTime", json!("2026-11-27 10:00:00")),
        ("CreationTime", json!("١٢٣٤-11-27T10:00:00")),
        ("CreationTime", json!(20261127)),
        ("AffectedItems", json!(3)),
        ("AffectedItems", json!({"a": [1, 2]})),
        ("AffectedItems", json!([])),
        ("Folder", json!("\\Inbox")),
        ("Folder", json!({"Path": 7})),
        ("Folder", json!([{"Path": "\\Inbox"}])),
        ("Folders", json!({"Path": "\\Inbox"})),
        ("Folders", json!([{"Path": 7}, "x", null, {"Path": "\\A"}])),
        ("Folders", json!("\\Inbox")),
        ("Parameters", json!([{"Name": "Identity", "Value": "x"}])),
        ("Parameters", json!("-MailAccessType Sync")),
        ("Item", json!({"Subject": "Why HardDelete is \"sync\" now"})),
        ("ObjectId", json!([1, {"a": null}])),
        ("Target", json!([{"ID": "User", "Type": 2}])),
        ("ModifiedProperties", json!(["Body"])),
        ("OrganizationName", json!(1.5e300)),
        (
            "OperationProperties",
            json!([{"Name": "mailaccesstype", "Value": " SYNC "}]),
        ),
        (
            "OperationProperties",
            json!([{"Name": "MailAccessType", "Value": "Bind"}, {"Name": "MailAccessType", "Value": "Sync"}]),
        ),
        (
            "OperationProperties",
            json!([{"Name": 7, "Value": "Sync"}, {"Name": "MailAccessType", "Value": "Sync"}]),
        ),
        ("OperationProperties", json!([{"Name": "MailAccessType"}])),
        (
            "OperationProperties",
            json!([{"Name": "MailAccessType", "Value": null}]),
        ),
        (
            "OperationProperties",
            json!([{"Name": "MailAccessType", "Value": ["Sync"]}]),
        ),
        (
            "OperationProperties",
            json!([{"Name": "MailAccessType", "Value": true}]),
        ),
        ("OperationProperties", json!([["MailAccessType", "Sync"]])),
        ("OperationProperties", json!([["MailAccessType"]])),
        (
            "OperationProperties",
            json!(["Sync", null, 3, {"Value": "Sync"}]),
        ),
        (
            "OperationProperties",
            json!("[{\"Name\":\"MailAccessType\",\"Value\":\"Sync\"}]"),
        ),
        ("OperationProperties", json!("-MailAccessType Sync")),
        (
            "OperationProperties",
            json!({"Name": "MailAccessType", "Value": "Sync"}),
        ),
        ("OperationProperties", json!(null)),
        ("OperationProperties", json!(false)),
    ];
    for base in [&deletion, &sync] {
        for (field, value) in edits {
            let mut v = base.clone();
            v[*field] = value.clone();
            assert_agrees(&v.to_string());
            v.as_object_mut().unwrap().remove(*field);
            assert_agrees(&v.to_string());
        }
    }
}

/// Text serde_json's `Value` reads differently from the derived parse, or rejects where
/// skipping accepts: repeated keys, escapes, numbers out of range, depth, serde_json's
/// private raw-value key, records as arrays, broken JSON.
#[test]
fn hostile_text_counts_alike() {
    let head = r#""Id":"d1","CreationTime":"2026-11-27T10:00:00","UserId":"eve@contoso.com""#;
    let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let raw_value = r#"{"$serde_json::private::RawValue":"[{\"Name\":\"MailAccessType\",\"Value\":\"Sync\"}]"}"#;
    let mut cases = vec![
        format!(r#"{{{head},"Operation":"HardDelete","Operation":"HardDelete"}}"#),
        format!(r#"{{{head},"Operation":"HardDelete","Parameters":1,"Parameters":2}}"#),
        format!(r#"{{{head},"Operation":"HardDelete","Unknown":1,"Unknown":2}}"#),
        format!(r#"{{{head},"\u004fperation":"Hard\u0044elete"}}"#),
        format!(r#"{{{head},"operation":"HardDelete"}}"#),
        format!(r#"{{{head},"Operation":"HardDelete","ObjectId":"\ud800"}}"#),
        format!(r#"{{{head},"Operation":"HardDelete","Unknown":"\ud800"}}"#),
        format!(r#"{{{head},"Operation":"HardDelete","ObjectId":1e400}}"#),
        format!(r#"{{{head},"Operation":"HardDelete","Unknown":1e400}}"#),
        format!(r#"{{{head},"Operation":"HardDelete","AffectedItems":[1e400]}}"#),
        format!(r#"{{{head},"Operation":"HardDelete","Folder":{{"Path":1e400}}}}"#),
        format!(r#"{{{head},"Operation":"HardDelete","Folder":{{"Path":"\\A","Path":7}}}}"#),
        format!(r#"{{{head},"Operation":"HardDelete","Folder":{{"Path":7,"Path":"\\A"}}}}"#),
        format!(
            r#"{{{head},"Operation":"HardDelete","Folder":{{"Path":{{"$serde_json::private::RawValue":"\"\\\\Raw\""}}}}}}"#
        ),
        format!(
            r#"{{{head},"Operation":"HardDelete","Item":{}}}"#,
            deep(127)
        ),
        format!(
            r#"{{{head},"Operation":"HardDelete","Item":{}}}"#,
            deep(128)
        ),
        format!(
            r#"{{{head},"Operation":"HardDelete","Unknown":{}}}"#,
            deep(300)
        ),
        format!(
            r#"{{{head},"Operation":"HardDelete","ClientIP":{}}}"#,
            deep(128)
        ),
        format!(
            r#"{{{head},"Operation":"HardDelete","Folder":{{"Path":{}}}}}"#,
            deep(126)
        ),
        format!(
            r#"{{{head},"Operation":"HardDelete","Folder":{{"Path":{}}}}}"#,
            deep(127)
        ),
        format!(
            r#"{{{head},"Operation":"HardDelete","Folder":{{"Id":{}}}}}"#,
            deep(300)
        ),
        format!(r#"{{{head},"Operation":"HardDelete","Id":"d2"}}"#),
        format!(r#"{{"Operation":"HardDelete","CreationTime":"2026-11-27T10:00:00"}}"#),
        format!(r#"{{{head},"Operation":"HardDelete",}}"#),
        format!(r#"{{{head},"Operation":"HardDelete","x":tru}}"#),
        format!(r#"{{{head},"Operation":"HardDelete"}} "#),
        format!(r#"{{{head},"Operation":"HardDelete"}}x"#),
        format!(r#"{{{head},"Operation":"HardDelete""#),
        r#"["d1","2026-11-27T10:00:00","HardDelete","eve@contoso.com"]"#.to_string(),
        r#""HardDelete""#.to_string(),
        String::new(),
    ];
    let sync = r#""Operation":"MailItemsAccessed","Folders":[{"Path":"\\Inbox"}]"#;
    for properties in [
        raw_value.to_string(),
        format!("[{raw_value}]"),
        r#"[{"$serde_json::private::RawValue":"{\"Name\":\"MailAccessType\",\"Value\":\"Sync\"}"}]"#.to_string(),
        r#"[{"Name":"MailAccessType","Name":7,"Value":"Sync"}]"#.to_string(),
        r#"[{"Name":7,"Name":"MailAccessType","Value":"Sync","Value":"Bind"}]"#.to_string(),
        r#"[{"Name":"MailAccessType","Value":"Sync","Other":1e400}]"#.to_string(),
        r#"[{"Name":"MailAccessType","Value":"Sync","Other":"\ud800"}]"#.to_string(),
        r#"[{"Name":"MailAccessType","Value":"Sync","$other":1}]"#.to_string(),
        r#"[{"Name":"Mail\u0041ccessType","Value":"\u0053ync"}]"#.to_string(),
        r#"[{"Name":"MailAccessType","Value":"Sync"},1e400]"#.to_string(),
        format!(r#"[{{"Name":"MailAccessType","Value":"Sync","Other":{}}}]"#, deep(125)),
        format!(r#"[{{"Name":"MailAccessType","Value":"Sync","Other":{}}}]"#, deep(126)),
        r#""[{\"Name\":\"MailAccessType\",\"Value\":\"Sync\"}]""#.to_string(),
        r#""-MailAccessType:Sync""#.to_string(),
    ] {
        cases.push(format!(
            r#"{{{head},{sync},"OperationProperties":{properties}}}"#
        ));
    }
    for raw in &cases {
        assert_agrees(raw);
    }
}

/// The real records of the corpus, given each counted operation.
#[test]
fn corpus_records_count_alike_whatever_their_operation() {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/records");
    let files = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "{} is needed by this test ({e}); see README.md",
            dir.display()
        )
    });
    let mut read = 0;
    for file in files {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        let records: Vec<Value> = serde_json::from_str(&text).unwrap();
        for record in records {
            for operation in [
                "HardDelete",
                "SoftDelete",
                "MailItemsAccessed",
                "Delete user.",
                "Remove member from role.",
            ] {
                let mut v = record.clone();
                v["Operation"] = json!(operation);
                v["OperationProperties"] = json!([{"Name": "MailAccessType", "Value": "Sync"}]);
                assert_agrees(&v.to_string());
                read += 1;
            }
        }
    }
    assert!(read > 0, "no records in {}", dir.display());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
    /// Records put together from fields and values of every odd kind, some then broken.
    #[test]
    fn any_record_counts_alike(
        base in 0usize..3,
        fields in proptest::collection::vec((0usize..22, 0usize..68), 0..16),
        cut in proptest::option::of((0usize..4000, 0usize..8)),
    ) {
        // Most records begin as a counted one would, so the rest can change its count.
        const BASES: [&str; 3] = [
            "",
            r#""Id":"d1","CreationTime":"2026-11-27T10:00:00","Operation":"HardDelete","#,
            r#""Id":"s1","CreationTime":"2026-11-27T10:00:00","Operation":"MailItemsAccessed","OperationProperties":[{"Name":"MailAccessType","Value":"Sync"}],"#,
        ];
        const KEYS: [&str; 22] = [
            "Id", "CreationTime", "Operation", "UserId", "ClientIP", "ResultStatus",
            "MailboxOwnerUPN", "AffectedItems", "Folder", "Folders", "OperationProperties",
            "ObjectId", "Parameters", "Item", "Target", "ModifiedProperties", "OrganizationId",
            "OrganizationName", "operation", "\\u0049d", "Op\\u0065ration", "Other",
        ];
        const VALUES: [&str; 68] = [
            r#""HardDelete""#, r#"" softdelete ""#, r#""MailItemsAccessed""#, r#""Delete user.""#,
            r#""Remove member from role.""#, r#""Hard\u0044elete""#, r#""2026-11-27T10:00:00""#,
            r#""2026-11-27T10:00:60""#, r#""2026-02-30T10:00:00""#, r#""2026-11-27T10:00:00.5Z""#,
            r#"" 2026-11-27T10:00:00 ""#, r#""Succeeded""#, r#""False""#, r#"" failed""#,
            r#""NT AUTHORITY\\SYSTEM (w3wp)""#, r#""nt authority\\system""#, r#""eve@contoso.com""#,
            r#""CEO@Contoso.com""#, r#""203.0.113.9:443""#, r#""[2001:db8::1]:443""#,
            r#""\ud800""#, r#""a\u00e9\n""#, r#""\\Inbox""#, r#""""#, "7", "-3", "1.5", "1e400",
            "12345678901234567890123", "true", "null", "[]", "[1,2,3]",
            r#"[{"Id":"x"},{},3]"#, "[[[[1]]]]", "{}",
            r#"{"Path":"\\Inbox","Id":"f"}"#, r#"{"Path":7,"Path":"\\Sent"}"#,
            r#"{"Path":"\\A","Path":7}"#,
            r#"{"Path":{"$serde_json::private::RawValue":"\"\\\\Raw\""}}"#,
            r#"[{"Path":"\\Inbox"},"x",{"Path":null}]"#,
            r#"[{"Name":"MailAccessType","Value":"Sync"}]"#,
            r#"[{"Name":"mailaccesstype","Value":" sync "}]"#,
            r#"[{"Name":"MailAccessType","Value":"Bind"},{"Name":"MailAccessType","Value":"Sync"}]"#,
            r#"[{"Name":7,"Value":"Sync"},{"Name":"MailAccessType","Value":"Sync"}]"#,
            r#"[{"Name":"MailAccessType","Name":7,"Value":"Sync"}]"#,
            r#"[{"Name":7,"Name":"MailAccessType","Value":"Sync","Value":"Bind"}]"#,
            r#"[["MailAccessType","Sync"]]"#,
            r#""[{\"Name\":\"MailAccessType\",\"Value\":\"Sync\"}]""#, r#""-MailAccessType Sync""#,
            r#"{"$serde_json::private::RawValue":"[{\"Name\":\"MailAccessType\",\"Value\":\"Sync\"}]"}"#,
            r#"[{"$serde_json::private::RawValue":"{\"Name\":\"MailAccessType\",\"Value\":\"Sync\"}"}]"#,
            r#"[{"Name":"MailAccessType","Value":["Sync"]}]"#,
            r#"[{"Name":"MailAccessType","Value":1e400}]"#, r#"[{"Name":"MailAccessType"}]"#,
            r#"["Sync",null,{"Name":"MailAccessType","Value":"sync","x":1e400}]"#,
            r#"[{"Name":"Role.DisplayName","OldValue":"Global Administrator"}]"#,
            r#"[{"ID":"User","Type":2},{"ID":"bob@contoso.com","Type":"5"}]"#,
            r#"{"a":{"b":{"c":[1,{"d":null}]}}}"#, r#""\"""#, r#""\\""#, "-0.0e-5", "01", "tru",
            "\"unterminated", "[1,]", r#"{"a" 1}"#, "\"\u{1}\"",
        ];
        let pairs: Vec<String> = fields
            .iter()
            .map(|(key, value)| format!("\"{}\":{}", KEYS[*key], VALUES[*value]))
            .collect();
        let mut raw = format!("{{{}{}}}", BASES[base], pairs.join(","));
        if pairs.is_empty() {
            raw = raw.replace(",}", "}");
        }
        if let Some((at, with)) = cut {
            let at = (at % (raw.len() + 1)..=raw.len())
                .find(|&i| raw.is_char_boundary(i))
                .unwrap_or(raw.len());
            match ["", ",", "}", "]", "\"", "\\", "x", "{"][with] {
                "" => raw.truncate(at),
                piece => raw.insert_str(at, piece),
            }
        }
        proptest::prop_assert_eq!(counted_json(&raw), full(&raw), "{}", raw);
    }
}
