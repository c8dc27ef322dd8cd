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

/// The quick scan, where it takes a record, reads what serde's lean reading reads.
fn scan_agrees(raw: &str) -> Result<(), String> {
    match MailRecord::scan(raw) {
        Some(quick) if Some(&quick) != serde_json::from_str::<MailRecord>(raw).ok().as_ref() => {
            Err(format!("the quick scan read {quick:?} from {raw}"))
        }
        _ => Ok(()),
    }
}

fn assert_agrees(raw: &str) {
    scan_agrees(raw).unwrap();
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
        assert!(MailRecord::scan(&raw).is_some(), "scanned: {raw}");
        assert!(counted_json(&raw).is_some(), "{raw}");
        assert_agrees(&raw);
    }
}

/// Records with every field Exchange writes (as the sandbox renders them) are read by
/// the quick scan, not left to serde: the scan is what keeps counting cheap.
#[test]
fn exchange_records_are_read_by_the_quick_scan() {
    let deletion = r#"{"AffectedItems":[{"Id":"RgAAAAAkhdSfApDa/4WSWVLCIQNQb1S5cUWeklQJv2GhhPT","InternetMessageId":"<B9DAABEBC142569C63F93B70E4F3FA6B@TY0PR19MB8840.eurprd04.prod.outlook.com>","ParentFolder":{"Id":"LgAAAAAO3qenC/ql8zGLbKaDeC/MY3cExLBvLFiZIgg","Path":"\\Deleted Items"},"SizeInBytes":171662,"Subject":"Quarterly review agenda"}],"AppId":"00000002-0000-0ff1-ce00-000000000000","ClientAppId":"","ClientIP":"192.0.2.10","ClientIPAddress":"192.0.2.10","ClientInfoString":"Client=OWA;Action=ViaProxy","CreationTime":"2026-12-03T18:04:00","CrossMailboxOperation":false,"ExternalAccess":false,"Folder":{"Id":"LgAAAAAO3qenC/ql8zGLbKaDeC/MY3cExLBvLFiZIgg","Path":"\\Deleted Items"},"Id":"bc6a7e16-df43-4d6f-8df7-60dfec20e4c1","InternalLogonType":0,"LogonType":0,"LogonUserSid":"S-1-5-21-4062897487-2240412070-2989095259-49069","MailboxGuid":"9d8289ea-dcaf-4e5f-8325-bed6e801e1c9","MailboxOwnerSid":"S-1-5-21-4062897487-2240412070-2989095259-49069","MailboxOwnerUPN":"adele@contoso.com","Operation":"SoftDelete","OrganizationId":"6f1c2a3b-1111-4222-8333-944455556666","OrganizationName":"contoso.onmicrosoft.com","OriginatingServer":"MW4PR12MB8227 (15.20.8857.021)\r\n","RecordType":3,"ResultStatus":"Succeeded","SessionId":"081e4d70-8933-4aa5-b98b-7a069f0a8b45","UserId":"adele@contoso.com","UserKey":"100320008F0B7BF0","UserType":0,"Version":1,"Workload":"Exchange"}"#;
    let sync = r#"{"AppId":"00000002-0000-0ff1-ce00-000000000000","ClientAppId":"","ClientIP":"192.0.2.24","ClientIPAddress":"192.0.2.24","ClientInfoString":"Client=MSExchangeRPC","CreationTime":"2026-12-03T18:18:26","ExternalAccess":false,"Folders":[{"FolderItems":[{"InternetMessageId":"<69FA243D498B7889C5A472543DFA9481@TY0PR19MB8840.eurprd04.prod.outlook.com>","SizeInBytes":132684},{"InternetMessageId":"<2719FDBAABF5E87E61C9446C2298D3BF@TY0PR19MB8840.eurprd04.prod.outlook.com>","SizeInBytes":67574}],"Id":"LgAAAAAQ3zoEDvn4pZyHB2JJJqsP324mtLtrgs5N05+","Path":"\\Inbox"}],"Id":"d58ea638-182d-4684-a2fb-c9a95b2163bc","InternalLogonType":0,"LogonType":0,"LogonUserSid":"S-1-5-21-2415669827-3375980260-3869520113-38203","MailboxGuid":"208a31f9-7d9b-4c6b-921c-afad6eba820e","MailboxOwnerSid":"S-1-5-21-2415669827-3375980260-3869520113-38203","MailboxOwnerUPN":"lidia@contoso.com","Operation":"MailItemsAccessed","OperationCount":2,"OperationProperties":[{"Name":"MailAccessType","Value":"Sync"},{"Name":"IsThrottled","Value":"False"}],"OrganizationId":"6f1c2a3b-1111-4222-8333-944455556666","OrganizationName":"contoso.onmicrosoft.com","OriginatingServer":"VI1PR03MB6191 (15.20.8857.021)\r\n","RecordType":50,"ResultStatus":"Succeeded","SessionId":"ee7f8b73-122b-4cdd-a86d-6092244365f9","UserId":"lidia@contoso.com","UserKey":"10032000B21D08D6","UserType":0,"Version":1,"Workload":"Exchange"}"#;
    let deleted = MailRecord::scan(deletion).expect("scanned");
    assert_eq!(deleted.folder, "\\Deleted Items");
    assert_eq!(deleted.affected_items, 1);
    let synced = MailRecord::scan(sync).expect("scanned");
    assert_eq!(synced.folders, ["\\Inbox"]);
    assert_eq!(synced.mail_access_type.as_deref(), Some("Sync"));
    for raw in [deletion, sync] {
        assert_agrees(raw);
        assert!(counted_json(raw).is_some(), "{raw}");
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
    // What the quick scan reads itself, or leaves to serde: escapes, control characters,
    // numbers and literals as JSON writes them or not, depth about its limit.
    for (field, value) in [
        ("Unknown", r#""Caf\u00e9 \uD800""#),
        ("Unknown", r#""\u00g9""#),
        ("Unknown", r#""\u00e""#),
        ("Unknown", r#""\x""#),
        ("Unknown", "\"tab\there\""),
        ("Unknown", "\"del\u{7f}\""),
        (
            "Unknown",
            r#"{"\u0041":[true,false,null,-0,0.5,2E-3,1e+9,-12.25e1]}"#,
        ),
        ("Unknown", "-"),
        ("Unknown", "1."),
        ("Unknown", ".5"),
        ("Unknown", "1e+"),
        ("Unknown", "-01"),
        ("Unknown", "nul"),
        ("Unknown", "[1 2]"),
        ("Unknown", r#"{"a":1,}"#),
        ("Unknown", r#"{"a"}"#),
        ("Unknown", "[,]"),
        ("Unknown", &deep(14)),
        ("Unknown", &deep(15)),
        ("Unknown", &deep(16)),
        ("Unknown", &deep(100_000)),
        ("UserId", r#""eve\u0040contoso.com""#),
        ("UserId", r#""eve\/\"x\"\\\b\f\n\r\t""#),
        ("Folder", r#"{"Path":"\\A\\\\B\/C\n"}"#),
        ("Folder", r#"{"Pa\u0074h":"\\A"}"#),
        ("Folder", r#"{"Path":"\\A\u0042"}"#),
        ("Folder", "null"),
        (
            "AffectedItems",
            r#"[{"Subject":"\u00e9"},{"Id":{"Deep":[[1]]}}]"#,
        ),
        ("AffectedItems", "[1,]"),
    ] {
        cases.push(format!(
            r#"{{{head},"Operation":"HardDelete",{}:{value}}}"#,
            serde_json::to_string(field).unwrap()
        ));
    }
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
        proptest::prop_assert_eq!(scan_agrees(&raw), Ok(()));
        proptest::prop_assert_eq!(counted_json(&raw), full(&raw), "{}", raw);
    }
}
