//! Background Exchange traffic: mailbox-audit records and a few benign admin changes.
//!
//! A noise record is a pure function of (noise seed, tenant, record number, the creation
//! time of the blob it was first placed in), so blob bodies are generated on demand and
//! the same blob always returns the same records, duplicates included.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::attacks::{self, RecordCtx};
use crate::ids;
use crate::scenario::Tenant;
use crate::times::record_time;

/// Used when a tenant lists no users, so noise still has mailboxes to talk about.
const STAND_IN_USERS: [(&str, &str); 5] = [
    ("alexw", "Alex Wilber"),
    ("meganb", "Megan Bowen"),
    ("leeg", "Lee Gu"),
    ("nestorw", "Nestor Wilke"),
    ("pradeepg", "Pradeep Gupta"),
];

const SUBJECTS: [&str; 16] = [
    "Quarterly review agenda",
    "Re: Project timeline",
    "Lunch on Thursday?",
    "Updated budget spreadsheet",
    "Fw: Customer feedback",
    "Weekly status report",
    "Meeting notes - planning",
    "Re: Invoice 2231 approved",
    "Travel itinerary",
    "Welcome to the team!",
    "Re: Contract draft v3",
    "Training session reminder",
    "Office closure next Monday",
    "Re: Server maintenance window",
    "Draft press release",
    "Expense report submitted",
];

const CLIENTS: [&str; 5] = [
    "Client=OWA;Action=ViaProxy",
    "Client=MSExchangeRPC",
    "Client=REST;Client=RESTSystem;;",
    "Client=OutlookService;Outlook-iOS/2.0;",
    "Client=Microsoft Outlook 16.0.17928.20114",
];

/// Benign rules users file mail with: (folder, internal sender's local part).
const FILING_RULES: [(&str, &str); 4] = [
    ("Newsletters", "newsletter"),
    ("Team News", "communications"),
    ("Project Updates", "pmo"),
    ("HR Announcements", "hr-updates"),
];

/// Mailbox settings an admin changes that have nothing to do with forwarding.
const MAILBOX_SETTINGS: [(&str, &str); 4] = [
    ("RetainDeletedItemsFor", "30.00:00:00"),
    ("MaxSendSize", "150 MB (157,286,400 bytes)"),
    ("CustomAttribute1", "Finance"),
    ("Languages", "en-US"),
];

const SYSTEM_ACCOUNT: &str = "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)";

struct Person {
    upn: String,
    puid: String,
    sid: String,
    mailbox_guid: String,
    ip: String,
}

/// One tenant's mailboxes, precomputed once so records are cheap to generate.
pub(crate) struct Population {
    tenant_id: String,
    organization: String,
    domains: Vec<String>,
    people: Vec<Person>,
}

impl Population {
    pub(crate) fn new(tenant: &Tenant) -> Population {
        let tenant_id = tenant.tenant_id.to_ascii_lowercase();
        let upns: Vec<String> = if tenant.users.is_empty() {
            STAND_IN_USERS
                .iter()
                .map(|(alias, _)| format!("{alias}@{}", tenant.primary_domain()))
                .collect()
        } else {
            tenant.users.iter().map(|u| u.upn.clone()).collect()
        };
        let people = upns
            .into_iter()
            .enumerate()
            .map(|(i, upn)| Person {
                puid: ids::puid(&tenant_id, &upn),
                sid: ids::sid(&tenant_id, &upn),
                mailbox_guid: ids::mailbox_guid(&tenant_id, &upn).to_string(),
                // TEST-NET-1 keeps noise addresses apart from the attack ranges.
                ip: format!("192.0.2.{}", 10 + (i * 7) % 240),
                upn,
            })
            .collect();
        Population {
            tenant_id,
            organization: tenant.initial_domain().to_string(),
            domains: tenant.domains.clone(),
            people,
        }
    }

    /// Noise record number `n`, first placed in a blob created at `blob_created`.
    pub(crate) fn record(&self, seed: u64, n: u32, blob_created: DateTime<Utc>) -> Value {
        let mut rng = StdRng::seed_from_u64(ids::seed(&[
            &seed.to_le_bytes(),
            self.tenant_id.as_bytes(),
            &n.to_le_bytes(),
        ]));
        // Exchange events reach the feed minutes to an hour after they happen (A10).
        let time = blob_created - Duration::seconds(rng.random_range(60..=3600));
        let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
        let owner = rng.random_range(0..self.people.len());
        match rng.random_range(0..1000) {
            0..520 => self.mail_items_accessed(&mut rng, owner, time, id),
            520..660 => self.send(&mut rng, owner, time, id),
            660..760 => self.move_to_deleted_items(&mut rng, owner, time, id),
            760..820 => self.soft_delete(&mut rng, owner, time, id),
            820..900 => self.update(&mut rng, owner, time, id),
            900..980 => self.folder_bind(&mut rng, owner, time, id),
            _ => self.benign_admin(&mut rng, owner, time, id),
        }
    }

    /// The fields every mailbox-audit record carries; `actor` differs from `owner` for delegates.
    fn mailbox_record(
        &self,
        rng: &mut StdRng,
        operation: &str,
        record_type: u32,
        (owner, actor): (usize, usize),
        time: DateTime<Utc>,
        id: Uuid,
    ) -> Map<String, Value> {
        let (owner, actor) = (&self.people[owner], &self.people[actor]);
        let logon_type = if owner.upn == actor.upn { 0 } else { 2 };
        let client = CLIENTS[rng.random_range(0..CLIENTS.len())];
        let Value::Object(map) = json!({
            "CreationTime": record_time(time),
            "Id": id.to_string(),
            "Operation": operation,
            "OrganizationId": self.tenant_id,
            "RecordType": record_type,
            "ResultStatus": "Succeeded",
            "UserKey": actor.puid,
            "UserType": 0,
            "Version": 1,
            "Workload": "Exchange",
            "ClientIP": actor.ip,
            "UserId": actor.upn,
            "AppId": "00000002-0000-0ff1-ce00-000000000000",
            "ClientAppId": "",
            "ClientIPAddress": actor.ip,
            "ClientInfoString": client,
            "ExternalAccess": false,
            "InternalLogonType": 0,
            "LogonType": logon_type,
            "LogonUserSid": actor.sid,
            "MailboxGuid": owner.mailbox_guid,
            "MailboxOwnerSid": owner.sid,
            "MailboxOwnerUPN": owner.upn,
            "OrganizationName": self.organization,
            "OriginatingServer": format!("{} (15.20.8857.021)\r\n", ids::server(&[owner.upn.as_bytes()])),
            "SessionId": ids::guid(&[b"session", actor.upn.as_bytes(), time.date_naive().to_string().as_bytes()]).to_string(),
        }) else {
            unreachable!("json! of an object literal is an object")
        };
        map
    }

    fn mail_items_accessed(
        &self,
        rng: &mut StdRng,
        owner: usize,
        time: DateTime<Utc>,
        id: Uuid,
    ) -> Value {
        let mut r = self.mailbox_record(rng, "MailItemsAccessed", 50, (owner, owner), time, id);
        let items: Vec<Value> = (0..rng.random_range(1..=4))
            .map(|_| json!({"InternetMessageId": message_id(rng, &self.organization), "SizeInBytes": rng.random_range(4_000..400_000)}))
            .collect();
        let access = if rng.random_bool(0.8) { "Bind" } else { "Sync" };
        r.insert("OperationCount".into(), json!(items.len()));
        r.insert(
            "OperationProperties".into(),
            json!([{"Name": "MailAccessType", "Value": access}, {"Name": "IsThrottled", "Value": "False"}]),
        );
        r.insert("Folders".into(), json!([{"FolderItems": items, "Id": self.folder_id(owner, "Inbox"), "Path": "\\Inbox"}]));
        Value::Object(r)
    }

    fn send(&self, rng: &mut StdRng, owner: usize, time: DateTime<Utc>, id: Uuid) -> Value {
        let mut r = self.mailbox_record(rng, "Send", 2, (owner, owner), time, id);
        r.insert("Item".into(), self.item(rng, owner, "Sent Items"));
        Value::Object(r)
    }

    fn move_to_deleted_items(
        &self,
        rng: &mut StdRng,
        owner: usize,
        time: DateTime<Utc>,
        id: Uuid,
    ) -> Value {
        let mut r = self.mailbox_record(rng, "MoveToDeletedItems", 3, (owner, owner), time, id);
        r.insert(
            "AffectedItems".into(),
            json!([self.item(rng, owner, "Inbox")]),
        );
        r.insert("CrossMailboxOperation".into(), json!(false));
        r.insert("DestFolder".into(), self.folder(owner, "Deleted Items"));
        r.insert("Folder".into(), self.folder(owner, "Inbox"));
        Value::Object(r)
    }

    fn soft_delete(&self, rng: &mut StdRng, owner: usize, time: DateTime<Utc>, id: Uuid) -> Value {
        let mut r = self.mailbox_record(rng, "SoftDelete", 3, (owner, owner), time, id);
        r.insert(
            "AffectedItems".into(),
            json!([self.item(rng, owner, "Deleted Items")]),
        );
        r.insert("CrossMailboxOperation".into(), json!(false));
        r.insert("Folder".into(), self.folder(owner, "Deleted Items"));
        Value::Object(r)
    }

    fn update(&self, rng: &mut StdRng, owner: usize, time: DateTime<Utc>, id: Uuid) -> Value {
        let mut r = self.mailbox_record(rng, "Update", 2, (owner, owner), time, id);
        r.insert("Item".into(), self.item(rng, owner, "Drafts"));
        Value::Object(r)
    }

    /// A delegate (an assistant, a team mate) opening a shared calendar or inbox.
    fn folder_bind(&self, rng: &mut StdRng, owner: usize, time: DateTime<Utc>, id: Uuid) -> Value {
        let delegate = rng.random_range(0..self.people.len());
        let path = if rng.random_bool(0.7) {
            "Calendar"
        } else {
            "Inbox"
        };
        let mut r = self.mailbox_record(rng, "FolderBind", 3, (owner, delegate), time, id);
        r.insert("CrossMailboxOperation".into(), json!(owner != delegate));
        r.insert("Folder".into(), self.folder(owner, path));
        Value::Object(r)
    }

    /// Admin cmdlets that look like the attacks but are not threats.
    fn benign_admin(&self, rng: &mut StdRng, owner: usize, time: DateTime<Utc>, id: Uuid) -> Value {
        let admin = &self.people[0];
        let person = &self.people[owner];
        let ctx = |actor: &Person| RecordCtx {
            tenant_id: self.tenant_id.clone(),
            tenant_initial_domain: self.organization.clone(),
            actor_upn: actor.upn.clone(),
            target_upn: person.upn.clone(),
            client_ip: format!("{}:{}", actor.ip, 49152 + (id.as_u128() % 16000) as u16),
            creation_time: time,
            record_id: id,
        };
        let own_domain = &self.domains[rng.random_range(0..self.domains.len())];
        match rng.random_range(0..5) {
            0 => {
                let (folder, sender) = FILING_RULES[rng.random_range(0..FILING_RULES.len())];
                let ctx = ctx(person);
                let mut params = attacks::rule_header(&ctx, "Name", folder);
                params.push(("From", format!("{sender}@{own_domain}")));
                params.push(("MoveToFolder", folder.to_string()));
                attacks::admin_record(
                    &ctx,
                    "New-InboxRule",
                    attacks::rule_object_id(&ctx, folder),
                    params,
                )
            }
            1 => {
                let (setting, value) =
                    MAILBOX_SETTINGS[rng.random_range(0..MAILBOX_SETTINGS.len())];
                let ctx = ctx(admin);
                let params = vec![
                    ("Identity", person.upn.clone()),
                    (setting, value.to_string()),
                ];
                attacks::admin_record(&ctx, "Set-Mailbox", person.mailbox_guid.clone(), params)
            }
            2 => {
                let colleague = &self.people[rng.random_range(0..self.people.len())];
                let to = format!("smtp:{}@{own_domain}", ids::alias(&colleague.upn));
                attacks::set_mailbox_forwarding(&ctx(admin), Some(&to), None, true)
            }
            3 => {
                // Exchange's own service account touching forwarding (e.g. during a mailbox
                // move or a policy job) is not someone exfiltrating mail.
                let to = format!("smtp:{}@archive-partner.example", ids::alias(&person.upn));
                let mut record =
                    attacks::set_mailbox_forwarding(&ctx(admin), Some(&to), None, true);
                record["UserId"] = json!(SYSTEM_ACCOUNT);
                record["UserKey"] = json!(SYSTEM_ACCOUNT);
                record["UserType"] = json!(3);
                record["ClientIP"] = json!("");
                record
            }
            _ => {
                let to = format!("{}.personal@mail.example", ids::alias(&person.upn));
                let mut record = attacks::new_inbox_rule_forward(
                    &ctx(person),
                    "Forward to personal",
                    &[&to],
                    attacks::ForwardKind::ForwardTo,
                );
                // Blocked by the outbound policy: the cmdlet failed, nothing was created.
                record["ResultStatus"] = json!("False");
                record
            }
        }
    }

    fn item(&self, rng: &mut StdRng, owner: usize, folder: &str) -> Value {
        json!({
            "Id": format!("RgAAAAA{}", STANDARD.encode(rng.random::<[u8; 30]>())),
            "InternetMessageId": message_id(rng, &self.organization),
            "ParentFolder": self.folder(owner, folder),
            "SizeInBytes": rng.random_range(2_000..250_000),
            "Subject": SUBJECTS[rng.random_range(0..SUBJECTS.len())],
        })
    }

    fn folder(&self, owner: usize, name: &str) -> Value {
        json!({"Id": self.folder_id(owner, name), "Path": format!("\\{name}")})
    }

    fn folder_id(&self, owner: usize, name: &str) -> String {
        let d = ids::digest(&[
            b"folder",
            self.people[owner].upn.as_bytes(),
            name.as_bytes(),
        ]);
        format!("LgAAAAA{}", STANDARD.encode(&d[..27]))
    }
}

fn message_id(rng: &mut StdRng, organization: &str) -> String {
    let local: String = (0..32)
        .map(|_| format!("{:X}", rng.random_range(0..16u8)))
        .collect();
    format!(
        "<{local}@{}.eurprd04.prod.outlook.com>",
        ids::server(&[organization.as_bytes()])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::User;
    use chrono::TimeZone;

    fn tenant() -> Tenant {
        serde_json::from_value(json!({
            "tenant_id": "6F1C2A3B-1111-4222-8333-944455556666",
            "name": "Contoso",
            "domains": ["contoso.com", "contoso.onmicrosoft.com"],
            "client_id": "11111111-2222-4333-8444-555555555555",
            "client_secret": "s",
        }))
        .unwrap()
    }

    #[test]
    fn records_are_deterministic_and_well_formed() {
        let mut t = tenant();
        t.users = vec![
            User::new("adele@contoso.com", "Adele Vance"),
            User::new("megan@contoso.com", "Megan Bowen"),
        ];
        let population = Population::new(&t);
        let created = Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap();
        let mut operations = std::collections::HashMap::new();
        for n in 0..3000 {
            let r = population.record(7, n, created);
            assert_eq!(
                r,
                population.record(7, n, created),
                "record {n} must not change"
            );
            assert_eq!(r["OrganizationId"], "6f1c2a3b-1111-4222-8333-944455556666");
            assert_eq!(r["Workload"], "Exchange");
            let time = chrono::NaiveDateTime::parse_from_str(
                r["CreationTime"].as_str().unwrap(),
                "%Y-%m-%dT%H:%M:%S",
            )
            .unwrap()
            .and_utc();
            assert!(time < created && time >= created - Duration::hours(1));
            *operations
                .entry(r["Operation"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
            if r["RecordType"] == 1 {
                assert_benign(&r, &t);
            }
        }
        assert!(operations["MailItemsAccessed"] > 1000, "{operations:?}");
        for op in [
            "Send",
            "MoveToDeletedItems",
            "SoftDelete",
            "Update",
            "FolderBind",
            "New-InboxRule",
            "Set-Mailbox",
        ] {
            assert!(
                operations.contains_key(op),
                "{op} missing from {operations:?}"
            );
        }
        assert_ne!(
            population.record(8, 0, created),
            population.record(7, 0, created)
        );
    }

    /// The admin noise must never be an external forward by a real user that succeeded.
    fn assert_benign(record: &Value, tenant: &Tenant) {
        let params: Vec<(&str, &str)> = record["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["Name"].as_str().unwrap(), p["Value"].as_str().unwrap()))
            .collect();
        let external = params.iter().any(|(name, value)| {
            [
                "ForwardTo",
                "ForwardAsAttachmentTo",
                "RedirectTo",
                "ForwardingSmtpAddress",
            ]
            .contains(name)
                && {
                    let domain = value.rsplit('@').next().unwrap();
                    !tenant
                        .domains
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(domain))
                }
        });
        if external {
            assert!(
                record["ResultStatus"] == "False" || record["UserId"] == SYSTEM_ACCOUNT,
                "{record}"
            );
        }
        assert!(
            !params
                .iter()
                .any(|(name, _)| ["DeleteMessage", "RedirectTo"].contains(name)),
            "{record}"
        );
    }
}
