//! Background traffic per content type: Exchange mailbox-audit records and benign admin
//! changes, Entra ID sign-ins and everyday directory changes, and Security & Compliance
//! cmdlets. The benign changes are look-alikes of the planted attacks (the same
//! operations with harmless parameters), so a detection that over-reaches alerts on
//! noise in the tests.
//!
//! A noise record is a pure function of (noise seed, tenant, content type, record number,
//! the creation time of the blob it was first placed in), so blob bodies are generated on
//! demand and the same blob always returns the same records, duplicates included.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::attacks::{self, RecordCtx};
use crate::ids;
use crate::scenario::{ContentType, Tenant};
use crate::times::record_time;

/// The content types that carry noise, each with the divisor of the scenario's
/// `noise.records_per_tenant` that gives its record count (rounded down): Exchange keeps
/// the full count, Entra ID a fifth of it (a sign-in per session against many mailbox
/// events per session) and Audit.General a twentieth (compliance admins rarely act).
/// GUESS: no source gives these proportions for a small tenant; they only decide how
/// much look-alike traffic each feed carries, not what any record looks like.
pub(crate) const NOISE_SHARES: [(ContentType, usize); 3] = [
    (ContentType::Exchange, 1),
    (ContentType::AzureActiveDirectory, 5),
    (ContentType::General, 20),
];

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

/// Ordinary user attributes an admin updates: (property, old value, new value).
const USER_UPDATES: [(&str, &str, &str); 4] = [
    ("Department", "Sales", "Finance"),
    ("JobTitle", "Analyst", "Senior Analyst"),
    ("OfficeLocation", "Building 2", "Building 4"),
    ("MobilePhone", "+1 425 555 0100", "+1 425 555 0142"),
];

/// Groups that grant no directory role, which users join every day.
const GROUPS: [&str; 4] = [
    "All Staff",
    "Finance Team",
    "Project Falcon",
    "Sales - EMEA",
];

/// Line-of-business apps an admin consents to for everyone, with scopes that read no
/// mail or files: (name, app id, scopes). Microsoft Graph Command Line Tools' app id is
/// Microsoft's own; the others are stand-ins for a tenant's LOB apps.
const LOB_APPS: [(&str, &str, &[&str]); 3] = [
    (
        "Microsoft Graph Command Line Tools",
        "14d82eec-204b-4c2f-b7e8-296a70dab67e",
        &["User.Read", "openid", "profile"],
    ),
    (
        "Timesheet Portal",
        "5f2c9a71-3d4e-4b8a-9c61-7e0d2f4a8b13",
        &["User.Read", "email"],
    ),
    (
        "Expense Reports",
        "a7e3b1c9-6f24-4d05-8e9a-1c3b5d7f9e20",
        &["User.ReadBasic.All", "openid"],
    ),
];

/// Gallery apps added to a tenant as service principals: (name, stand-in app id).
const GALLERY_APPS: [(&str, &str); 3] = [
    ("Zoom", "3e1f7a29-8c5d-4b6e-a0f2-9d4c6b8e1a37"),
    ("DocuSign", "b2d4f6a8-1c3e-4a5b-9d7f-0e2c4a6b8d19"),
    ("Adobe Acrobat Sign", "6c8e0a2b-4d6f-4e1a-8b3c-5d7f9a1b3c58"),
];

/// Authentication methods users register, as Entra names them in the result reason.
const SECURITY_INFO: [&str; 3] = [
    "Authenticator App with Notification and Code",
    "Phone",
    "Authenticator App with Code",
];

/// Retention, DLP and alert policies compliance admins maintain.
const RETENTION_POLICY: &str = "Mailbox retention - 7 years";
const DLP_POLICY: &str = "U.S. Financial Data";
const ALERT_POLICY: &str = "Creation of forwarding/redirect rule";

/// The shared mailbox a scanner sends from over IMAP, which helpdesk turns IMAP on for.
const SCANNER: &str = "scanner";

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
    /// Noise::alerting_look_alikes.
    alerting_look_alikes: bool,
    tenant_id: String,
    organization: String,
    domains: Vec<String>,
    people: Vec<Person>,
}

impl Population {
    pub(crate) fn new(tenant: &Tenant, alerting_look_alikes: bool) -> Population {
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
            alerting_look_alikes,
            tenant_id,
            organization: tenant.initial_domain().to_string(),
            domains: tenant.domains.clone(),
            people,
        }
    }

    /// Noise record number `n` of `content_type`, first placed in a blob created at
    /// `blob_created`. Only the types in [`NOISE_SHARES`] have noise.
    pub(crate) fn record(
        &self,
        content_type: ContentType,
        seed: u64,
        n: u32,
        blob_created: DateTime<Utc>,
    ) -> Value {
        let (seed, tenant, n) = (
            seed.to_le_bytes(),
            self.tenant_id.as_bytes(),
            n.to_le_bytes(),
        );
        // Exchange's seed leaves the type out, so its noise is what it was before the
        // other types had any.
        let mut rng = StdRng::seed_from_u64(match content_type {
            ContentType::Exchange => ids::seed(&[&seed, tenant, &n]),
            other => ids::seed(&[&seed, tenant, other.as_str().as_bytes(), &n]),
        });
        // Events reach the feed minutes to an hour after they happen (A10).
        let time = blob_created - Duration::seconds(rng.random_range(60..=3600));
        let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
        let owner = rng.random_range(0..self.people.len());
        match content_type {
            ContentType::AzureActiveDirectory => self.directory(&mut rng, owner, time, id),
            ContentType::General => self.compliance(&mut rng, owner, time, id),
            // Exchange: the feed asks no other type for noise.
            _ => match rng.random_range(0..1000) {
                0..520 => self.mail_items_accessed(&mut rng, owner, time, id),
                520..660 => self.send(&mut rng, owner, time, id),
                660..760 => self.move_to_deleted_items(&mut rng, owner, time, id),
                760..820 => self.soft_delete(&mut rng, owner, time, id),
                820..900 => self.update(&mut rng, owner, time, id),
                900..980 => self.folder_bind(&mut rng, owner, time, id),
                _ => self.benign_admin(&mut rng, owner, time, id),
            },
        }
    }

    /// A record's context: `actor` changed `target`'s account or mailbox from the actor's
    /// usual address, with a port as Exchange shows it.
    fn ctx(&self, actor: usize, target: &str, time: DateTime<Utc>, id: Uuid) -> RecordCtx {
        let actor = &self.people[actor];
        RecordCtx {
            tenant_id: self.tenant_id.clone(),
            tenant_initial_domain: self.organization.clone(),
            actor_upn: actor.upn.clone(),
            target_upn: target.to_string(),
            client_ip: format!("{}:{}", actor.ip, 49152 + (id.as_u128() % 16000) as u16),
            creation_time: time,
            record_id: id,
        }
    }

    /// Entra ID traffic: mostly sign-ins from each user's usual address, and the
    /// directory changes an MSP sees daily, each the benign twin of an attack generator
    /// (Purview audit-log-activities names the operations).
    fn directory(&self, rng: &mut StdRng, owner: usize, time: DateTime<Utc>, id: Uuid) -> Value {
        let person = &self.people[owner].upn;
        // The first user is the tenant's admin, who also runs its helpdesk.
        let admin = 0;
        // GUESS: the mix (72 % sign-ins, the rest everyday changes) is no measured
        // tenant's; each record's shape is its generator's, with that generator's source.
        match rng.random_range(0..1000) {
            0..720 => attacks::user_logged_in(&self.ctx(owner, person, time, id)),
            720..800 => {
                let (property, old, new) = USER_UPDATES[rng.random_range(0..USER_UPDATES.len())];
                attacks::update_user(&self.ctx(admin, person, time, id), property, old, new)
            }
            800..860 => {
                let group = GROUPS[rng.random_range(0..GROUPS.len())];
                attacks::add_member_to_group(&self.ctx(admin, person, time, id), group)
            }
            860..900 => attacks::reset_user_password(&self.ctx(admin, person, time, id)),
            // Registering a method right after signing in from one's usual address, as
            // new hires and phone replacements do (the false positives Elastic lists).
            900..950 => {
                let method = SECURITY_INFO[rng.random_range(0..SECURITY_INFO.len())];
                attacks::register_security_info(&self.ctx(owner, person, time, id), method)
            }
            950..980 => {
                let (name, app_id, scopes) = LOB_APPS[rng.random_range(0..LOB_APPS.len())];
                let ctx = self.ctx(admin, &self.people[admin].upn, time, id);
                attacks::consent_to_application(&ctx, name, app_id, scopes, true)
            }
            _ => {
                let (name, app_id) = GALLERY_APPS[rng.random_range(0..GALLERY_APPS.len())];
                let ctx = self.ctx(admin, &self.people[admin].upn, time, id);
                attacks::add_service_principal(&ctx, name, app_id)
            }
        }
    }

    /// Security & Compliance cmdlets a compliance admin runs, none of which weakens a
    /// policy: a content search, and locations added to retention and DLP policies or
    /// recipients to an alert, the look-alikes of the DLP and alert tampering attacks.
    /// (`Get-*` cmdlets are not audited, so none appears.)
    fn compliance(&self, rng: &mut StdRng, owner: usize, time: DateTime<Utc>, id: Uuid) -> Value {
        let admin = &self.people[0].upn;
        let person = &self.people[owner].upn;
        let ctx = self.ctx(0, admin, time, id);
        match rng.random_range(0..4) {
            0 => {
                let name = format!("Search {}", &id.simple().to_string()[..6]);
                attacks::compliance_record(
                    &ctx,
                    "New-ComplianceSearch",
                    &name,
                    &[
                        ("Name", &name),
                        ("ExchangeLocation", person),
                        ("ContentMatchQuery", "subject:Invoice"),
                    ],
                )
            }
            1 => attacks::compliance_record(
                &ctx,
                "Set-RetentionCompliancePolicy",
                RETENTION_POLICY,
                &[
                    ("Identity", RETENTION_POLICY),
                    ("AddExchangeLocation", person),
                ],
            ),
            2 => attacks::compliance_record(
                &ctx,
                "Set-DlpCompliancePolicy",
                DLP_POLICY,
                &[("Identity", DLP_POLICY), ("AddExchangeLocation", person)],
            ),
            _ => attacks::compliance_record(
                &ctx,
                "Set-ProtectionAlert",
                ALERT_POLICY,
                &[("Identity", ALERT_POLICY), ("NotifyUser", admin)],
            ),
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
        let admin = 0;
        let person = &self.people[owner];
        let ctx = |actor: usize| self.ctx(actor, &person.upn, time, id);
        let own_domain = &self.domains[rng.random_range(0..self.domains.len())];
        // The two look-alikes the rules raise by design come last, only when asked for.
        let variants = if self.alerting_look_alikes { 8 } else { 6 };
        match rng.random_range(0..variants) {
            0 => {
                let (folder, sender) = FILING_RULES[rng.random_range(0..FILING_RULES.len())];
                let ctx = ctx(owner);
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
            4 => {
                let to = format!("{}.personal@mail.example", ids::alias(&person.upn));
                let mut record = attacks::new_inbox_rule_forward(
                    &ctx(owner),
                    "Forward to personal",
                    &[&to],
                    attacks::ForwardKind::ForwardTo,
                );
                // Blocked by the outbound policy: the cmdlet failed, nothing was created.
                record["ResultStatus"] = json!("False");
                record
            }
            // Turning POP off: a protocol change that closes a door, not opens one.
            5 => attacks::set_cas_mailbox_legacy(&ctx(admin), Some(false), None, None),
            // Helpdesk turning IMAP on for the scanner's mailbox, which sends scans by
            // IMAP and SMTP: the same cmdlet an intruder uses to read mail by IMAP.
            6 => {
                let scanner = format!("{SCANNER}@{own_domain}");
                let ctx = self.ctx(admin, &scanner, time, id);
                attacks::set_cas_mailbox_legacy(&ctx, None, Some(true), None)
            }
            // An assistant inside the organisation given their manager's mailbox.
            _ => {
                let assistant = &self.people[(owner + 1) % self.people.len()].upn;
                attacks::add_mailbox_permission(&ctx(admin), assistant, "FullAccess")
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
    use std::collections::HashMap;

    use super::*;
    use crate::scenario::User;
    use chrono::TimeZone;

    fn tenant() -> Tenant {
        let mut t: Tenant = serde_json::from_value(json!({
            "tenant_id": "6F1C2A3B-1111-4222-8333-944455556666",
            "name": "Contoso",
            "domains": ["contoso.com", "contoso.onmicrosoft.com"],
            "client_id": "11111111-2222-4333-8444-555555555555",
            "client_secret": "s",
        }))
        .unwrap();
        t.users = vec![
            User::new("adele@contoso.com", "Adele Vance"),
            User::new("megan@contoso.com", "Megan Bowen"),
        ];
        t
    }

    fn created() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
    }

    /// `count` records of `content_type`, each checked to come out the same again, to be
    /// the tenant's and to have happened in the hour before its blob, with how often each
    /// operation came up.
    fn sample(
        population: &Population,
        content_type: ContentType,
        count: u32,
    ) -> (Vec<Value>, HashMap<String, usize>) {
        let mut operations = HashMap::new();
        let records: Vec<Value> = (0..count)
            .map(|n| {
                let r = population.record(content_type, 7, n, created());
                assert_eq!(
                    r,
                    population.record(content_type, 7, n, created()),
                    "record {n} must not change"
                );
                assert_eq!(r["OrganizationId"], "6f1c2a3b-1111-4222-8333-944455556666");
                let time = chrono::NaiveDateTime::parse_from_str(
                    r["CreationTime"].as_str().unwrap(),
                    "%Y-%m-%dT%H:%M:%S",
                )
                .unwrap()
                .and_utc();
                assert!(time < created() && time >= created() - Duration::hours(1));
                *operations
                    .entry(r["Operation"].as_str().unwrap().to_string())
                    .or_insert(0) += 1;
                r
            })
            .collect();
        assert_ne!(
            population.record(content_type, 8, 0, created()),
            population.record(content_type, 7, 0, created()),
            "another seed, other noise"
        );
        (records, operations)
    }

    fn assert_has(operations: &HashMap<String, usize>, expected: &[&str]) {
        for op in expected {
            assert!(
                operations.contains_key(*op),
                "{op} missing from {operations:?}"
            );
        }
    }

    #[test]
    fn records_are_deterministic_and_well_formed() {
        let t = tenant();
        let population = Population::new(&t, true);
        let (records, operations) = sample(&population, ContentType::Exchange, 3000);
        for r in &records {
            assert_eq!(r["Workload"], "Exchange");
            if r["RecordType"] == 1 {
                assert_benign(r, &t);
            }
        }
        assert!(operations["MailItemsAccessed"] > 1000, "{operations:?}");
        assert_has(
            &operations,
            &[
                "Send",
                "MoveToDeletedItems",
                "SoftDelete",
                "Update",
                "FolderBind",
                "New-InboxRule",
                "Set-Mailbox",
                "Set-CASMailbox",
                "Add-MailboxPermission",
            ],
        );
    }

    #[test]
    fn directory_records_are_deterministic_and_well_formed() {
        let t = tenant();
        let population = Population::new(&t, true);
        let (records, operations) = sample(&population, ContentType::AzureActiveDirectory, 3000);
        for r in &records {
            assert_eq!(r["Workload"], "AzureActiveDirectory");
            assert_benign_directory(r, &population);
        }
        assert!(operations["UserLoggedIn"] > 1800, "{operations:?}");
        assert_has(
            &operations,
            &[
                "Update user.",
                "Add member to group.",
                "Reset user password.",
                "User registered security info.",
                "Consent to application.",
                "Add service principal.",
            ],
        );
        assert_ne!(
            population.record(ContentType::AzureActiveDirectory, 7, 0, created())["Id"],
            population.record(ContentType::Exchange, 7, 0, created())["Id"],
            "each content type numbers its own records"
        );
    }

    #[test]
    fn compliance_records_are_deterministic_and_well_formed() {
        let t = tenant();
        let population = Population::new(&t, true);
        let (records, operations) = sample(&population, ContentType::General, 400);
        for r in &records {
            assert_eq!(r["Workload"], "SecurityComplianceCenter");
            assert_eq!(r["RecordType"], 18);
            assert_eq!(r["ResultStatus"], "True");
            let op = r["Operation"].as_str().unwrap();
            assert!(
                !["Get-", "Remove-", "Disable-"]
                    .iter()
                    .any(|verb| op.starts_with(verb)),
                "{r}"
            );
            let params = r["Parameters"].as_str().unwrap();
            assert!(
                params.starts_with('-') && !params.contains("-Disabled"),
                "{r}"
            );
        }
        assert_has(
            &operations,
            &[
                "New-ComplianceSearch",
                "Set-RetentionCompliancePolicy",
                "Set-DlpCompliancePolicy",
                "Set-ProtectionAlert",
            ],
        );
    }

    fn params(record: &Value) -> Vec<(&str, &str)> {
        record["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["Name"].as_str().unwrap(), p["Value"].as_str().unwrap()))
            .collect()
    }

    /// The admin noise must never be an external forward by a real user that succeeded,
    /// a protocol opened on anything but the scanner's mailbox, or a mailbox shared
    /// outside the organisation.
    fn assert_benign(record: &Value, tenant: &Tenant) {
        let params = params(record);
        let param = |name: &str| params.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let internal = |address: &str| {
            let domain = address.rsplit('@').next().unwrap();
            tenant
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain))
        };
        let external = params.iter().any(|(name, value)| {
            [
                "ForwardTo",
                "ForwardAsAttachmentTo",
                "RedirectTo",
                "ForwardingSmtpAddress",
            ]
            .contains(name)
                && !internal(value)
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
        let opens = [
            ("ImapEnabled", "True"),
            ("PopEnabled", "True"),
            ("SmtpClientAuthenticationDisabled", "False"),
        ]
        .iter()
        .any(|(name, value)| param(name) == Some(*value));
        if opens {
            assert!(
                param("Identity").unwrap().starts_with("scanner@"),
                "{record}"
            );
        }
        if record["Operation"] == "Add-MailboxPermission" {
            let trustee = param("User").unwrap();
            assert!(
                internal(trustee) && Some(trustee) != param("Identity"),
                "{record}"
            );
        }
    }

    /// The directory noise must be what an MSP sees daily: sign-ins and registrations
    /// from the user's usual address, admin consent only to the known LOB apps with
    /// scopes that read no mail or files, and no role, MFA, credential or policy change.
    fn assert_benign_directory(record: &Value, population: &Population) {
        let usual_ip = |upn: &str| {
            &population
                .people
                .iter()
                .find(|p| p.upn == upn)
                .unwrap_or_else(|| panic!("{upn} is not a user of the tenant"))
                .ip
        };
        let user = record["UserId"].as_str().unwrap();
        assert_eq!(record["ClientIP"], *usual_ip(user), "{record}");
        let op = record["Operation"].as_str().unwrap();
        if record["RecordType"] == 15 {
            assert_eq!(op, "UserLoggedIn");
            assert_eq!(record["ResultStatus"], "Success");
            return;
        }
        assert_eq!(record["RecordType"], 8, "{record}");
        assert_eq!(record["ResultStatus"], "Success");
        assert!(op.ends_with('.'), "{op}");
        let modified: Vec<(&str, &str)> = record["ModifiedProperties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                assert!(p["OldValue"].is_string(), "{record}");
                (p["Name"].as_str().unwrap(), p["NewValue"].as_str().unwrap())
            })
            .collect();
        let value = |name: &str| modified.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        for part in ["Actor", "Target"] {
            for identity in record[part].as_array().unwrap() {
                assert!(identity["ID"].is_string() && identity["Type"].is_u64());
            }
        }
        match op {
            "Update user." => assert!(
                !modified
                    .iter()
                    .any(|(n, _)| n.starts_with("StrongAuthentication")),
                "{record}"
            ),
            "User registered security info." => assert_eq!(record["ObjectId"], user),
            "Consent to application." => {
                assert_eq!(value("ConsentContext.IsAdminConsent"), Some("True"));
                let app = value("TargetId.ServicePrincipalNames").unwrap();
                assert!(LOB_APPS.iter().any(|(_, id, _)| *id == app), "{record}");
                let permissions = value("ConsentAction.Permissions").unwrap();
                assert!(
                    !["Mail.", "Files.", "offline_access", "AccessAsUser"]
                        .iter()
                        .any(|scope| permissions.contains(scope)),
                    "{record}"
                );
            }
            "Add member to group." | "Reset user password." | "Add service principal." => {}
            other => panic!("{other} is no everyday directory change"),
        }
    }
}
