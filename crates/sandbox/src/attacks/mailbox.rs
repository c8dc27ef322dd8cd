//! Exchange mailbox-audit records (`Audit.Exchange`): purges and mail synced down.
//!
//! Fields are the schema's "Exchange Mailbox schema" and its `ExchangeItem`,
//! `ExchangeFolder` and `ExchangeAggregatedFolder` types
//! (MicrosoftDocs/office-365-management-api office-365-management-activity-api-schema.md),
//! in the layout the sandbox's noise uses for the same operations.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::{EXCHANGE_APP_ID, RecordCtx, bare_ip};
use crate::ids;
use crate::times::record_time;

/// Subjects of the sent mail an intruder purges to hide a phishing run.
const SENT_SUBJECTS: [&str; 5] = [
    "Updated payment details",
    "Re: Invoice 4471 - new bank account",
    "Document shared with you",
    "Urgent: wire transfer today",
    "Please review the attached remittance",
];

/// The fields every mailbox-audit record carries, for the actor working in the target's
/// mailbox from `ip` with the client `client_info`.
fn mailbox_audit(
    ctx: &RecordCtx,
    operation: &str,
    record_type: u32,
    ip: &str,
    client_info: &str,
) -> Map<String, Value> {
    let own = ctx.actor_upn.eq_ignore_ascii_case(&ctx.target_upn);
    let Value::Object(map) = json!({
        "CreationTime": record_time(ctx.creation_time),
        "Id": ctx.record_id.to_string(),
        "Operation": operation,
        "OrganizationId": ctx.tenant_id,
        "RecordType": record_type,
        "ResultStatus": "Succeeded",
        "UserKey": ids::puid(&ctx.tenant_id, &ctx.actor_upn),
        "UserType": 0,
        "Version": 1,
        "Workload": "Exchange",
        "ClientIP": ip,
        "UserId": ctx.actor_upn,
        "AppId": EXCHANGE_APP_ID,
        "ClientAppId": "",
        "ClientIPAddress": ip,
        "ClientInfoString": client_info,
        "ExternalAccess": false,
        "InternalLogonType": 0,
        // LogonType 0 is the owner, 2 a delegate (schema's LogonType).
        "LogonType": if own { 0 } else { 2 },
        "LogonUserSid": ids::sid(&ctx.tenant_id, &ctx.actor_upn),
        "MailboxGuid": ids::mailbox_guid(&ctx.tenant_id, &ctx.target_upn).to_string(),
        "MailboxOwnerSid": ids::sid(&ctx.tenant_id, &ctx.target_upn),
        "MailboxOwnerUPN": ctx.target_upn,
        "OrganizationName": ctx.tenant_initial_domain,
        "OriginatingServer": format!("{} (15.20.8857.021)\r\n", ids::server(&[ctx.target_upn.as_bytes()])),
        "SessionId": ids::guid(&[b"session", ctx.actor_upn.as_bytes(), ctx.record_id.as_bytes()]).to_string(),
    }) else {
        unreachable!("json! of an object literal is an object")
    };
    map
}

fn folder(ctx: &RecordCtx, path: &str) -> Value {
    let d = ids::digest(&[b"folder", ctx.target_upn.as_bytes(), path.as_bytes()]);
    json!({"Id": format!("LgAAAAA{}", STANDARD.encode(&d[..27])), "Path": path})
}

/// `HardDelete` of `count` messages from the target's `\Sent Items` (`Audit.Exchange`,
/// RecordType 3 `ExchangeItemGroup`): purged past Recoverable Items, each item in
/// `AffectedItems` with `Subject` and `InternetMessageId`, the folder in `Folder.Path`,
/// which Splunk's o365_email_hard_delete_excessive_volume counts per hour
/// (identity-and-account-takeover.md §5). The client is the REST API an intruder's
/// tooling uses.
pub fn hard_delete_items(ctx: &RecordCtx, count: usize) -> Value {
    let path = "\\Sent Items";
    let mut r = mailbox_audit(
        ctx,
        "HardDelete",
        3,
        bare_ip(&ctx.client_ip),
        "Client=REST;Client=RESTSystem;;",
    );
    let items: Vec<Value> = (0..count)
        .map(|i| {
            let d = ids::digest(&[b"item", ctx.record_id.as_bytes(), &i.to_le_bytes()]);
            json!({
                "Id": format!("RgAAAAA{}", STANDARD.encode(&d[..30])),
                "InternetMessageId": format!(
                    "<{}@{}.eurprd04.prod.outlook.com>",
                    ids::hex(&[b"message", &d], 32).to_ascii_uppercase(),
                    ids::server(&[ctx.tenant_initial_domain.as_bytes()])
                ),
                "ParentFolder": folder(ctx, path),
                "SizeInBytes": 12_000 + u32::from(d[0]) * 97,
                "Subject": SENT_SUBJECTS[i % SENT_SUBJECTS.len()],
            })
        })
        .collect();
    r.insert("AffectedItems".into(), json!(items));
    r.insert("CrossMailboxOperation".into(), json!(false));
    r.insert("Folder".into(), folder(ctx, path));
    Value::Object(r)
}

/// `MailItemsAccessed` with `MailAccessType` `Sync` of the target's Inbox from `ip`
/// (`Audit.Exchange`, RecordType 50 `ExchangeItemAggregated`): a client downloaded the
/// whole folder. A sync record names the folder, not its items, and only Outlook
/// desktop's syncs are audited (microsoft-365-docs mailitemsaccessed-forensics-
/// investigations.md); `ip` is the bare address mailbox records carry, so the context's
/// `client_ip` is not read.
pub fn mail_items_accessed_sync(ctx: &RecordCtx, ip: &str) -> Value {
    let mut r = mailbox_audit(ctx, "MailItemsAccessed", 50, ip, "Client=MSExchangeRPC");
    r.insert("OperationCount".into(), json!(1));
    r.insert(
        "OperationProperties".into(),
        json!([{"Name": "MailAccessType", "Value": "Sync"}, {"Name": "IsThrottled", "Value": "False"}]),
    );
    r.insert("Folders".into(), json!([folder(ctx, "\\Inbox")]));
    Value::Object(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attacks::tests::ctx;

    #[test]
    fn a_purge_lists_every_item_in_sent_items() {
        let r = hard_delete_items(&ctx("megan@contoso.com", "megan@contoso.com"), 60);
        assert_eq!(
            (r["RecordType"].clone(), r["Operation"].clone()),
            (json!(3), json!("HardDelete"))
        );
        assert_eq!(r["Workload"], "Exchange");
        assert_eq!(r["ResultStatus"], "Succeeded");
        assert_eq!(r["LogonType"], 0, "the owner");
        assert_eq!(r["Folder"]["Path"], "\\Sent Items");
        assert_eq!(r["ClientIP"], "203.0.113.7");
        let items = r["AffectedItems"].as_array().unwrap();
        assert_eq!(items.len(), 60);
        let ids: std::collections::HashSet<&str> = items
            .iter()
            .map(|i| i["InternetMessageId"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 60, "distinct messages");
        assert!(
            items
                .iter()
                .all(|i| i["Subject"].is_string() && i["ParentFolder"]["Path"] == "\\Sent Items")
        );
    }

    #[test]
    fn a_sync_names_the_folder_and_the_address() {
        let r = mail_items_accessed_sync(
            &ctx("megan@contoso.com", "megan@contoso.com"),
            "198.51.100.9",
        );
        assert_eq!(
            (r["RecordType"].clone(), r["Operation"].clone()),
            (json!(50), json!("MailItemsAccessed"))
        );
        assert_eq!(r["ClientIPAddress"], "198.51.100.9");
        assert_eq!(r["ClientIP"], "198.51.100.9");
        assert_eq!(
            r["OperationProperties"],
            json!([{"Name": "MailAccessType", "Value": "Sync"}, {"Name": "IsThrottled", "Value": "False"}])
        );
        assert_eq!(r["Folders"][0]["Path"], "\\Inbox");
        assert!(
            r["Folders"][0].get("FolderItems").is_none(),
            "a sync lists no items"
        );
        assert_eq!(r["MailboxOwnerUPN"], "megan@contoso.com");
    }
}
