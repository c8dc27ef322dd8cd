//! Bursts: what each record counts as (from its raw JSON, as the store would feed it),
//! and the decision over a window of such events.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::*;
use crate::burst::{Countable, Kind, Texts, bursts};

fn at(minute: i64) -> String {
    (DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z").unwrap() + Duration::minutes(minute))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// A mailbox-audit deletion of `items` messages, as RecordType 3 writes it.
fn deletion(operation: &str, id: &str, minute: i64, items: usize) -> Value {
    json!({
        "CreationTime": at(minute), "Id": id, "Operation": operation,
        "OrganizationId": "8d4121ed-0008-406d-bff9-0d5bb312183c", "RecordType": 3,
        "ResultStatus": "Succeeded", "UserKey": "10032002643F6746", "UserType": 0, "Version": 1,
        "Workload": "Exchange", "ClientIP": "203.0.113.9", "UserId": "eve@contoso.com",
        "ClientIPAddress": "203.0.113.9", "ClientInfoString": "Client=OWA;Action=ViaProxy",
        "LogonType": 0, "MailboxGuid": "311b45d6-1a3e-46ac-8434-721367961e19",
        "MailboxOwnerUPN": "CEO@contoso.com",
        "AffectedItems": (0..items).map(|i| json!({
            "Id": format!("LgAAAA{i}"), "InternetMessageId": format!("<{i}@contoso.com>"),
            "ParentFolder": {"Path": "\\Recoverable Items\\Deletions"}, "Subject": "Re: invoice 2231",
        })).collect::<Vec<_>>(),
        "Folder": {"Id": "LgAAAAB", "Path": "\\Recoverable Items\\Deletions"},
    })
}

fn mail_access(access: &str, id: &str, minute: i64, folders: &[&str]) -> Value {
    json!({
        "CreationTime": at(minute), "Id": id, "Operation": "MailItemsAccessed", "RecordType": 50,
        "ResultStatus": "Succeeded", "UserId": "ceo@contoso.com", "MailboxOwnerUPN": "ceo@contoso.com",
        "ClientIP": "198.51.100.7", "ClientIPAddress": "198.51.100.7",
        "ClientInfoString": "Client=MSExchangeRPC",
        "OperationCount": 1,
        "OperationProperties": [
            {"Name": "MailAccessType", "Value": access}, {"Name": "IsThrottled", "Value": "False"},
        ],
        "Folders": folders.iter().map(|p| json!({"Id": "LgAAAA", "Path": p})).collect::<Vec<_>>(),
    })
}

fn directory(
    operation: &str,
    id: &str,
    minute: i64,
    object: &str,
    changes: &[(&str, &str, &str)],
) -> Value {
    json!({
        "CreationTime": at(minute), "Id": id, "Operation": operation, "RecordType": 8,
        "ResultStatus": "Success", "Workload": "AzureActiveDirectory", "UserId": "eve@contoso.com",
        "ObjectId": object, "AzureActiveDirectoryEventType": 1,
        "ModifiedProperties": changes.iter()
            .map(|(n, new, old)| json!({"Name": n, "NewValue": new, "OldValue": old}))
            .collect::<Vec<_>>(),
        "Target": [{"ID": "User", "Type": 2}, {"ID": object, "Type": 5}],
    })
}

/// What a scan makes of the record: the sieve first, then the parse and the count.
fn counted(v: &Value) -> Option<Countable> {
    let raw = v.to_string();
    if !sift(&raw).countable {
        return None;
    }
    crate::burst::counted(&serde_json::from_str(&raw).ok()?)
}

#[test]
fn deletions_count_their_messages_and_purges_are_grave() {
    let hard = counted(&deletion("HardDelete", "d1", 0, 3)).unwrap();
    assert_eq!(
        (hard.kind, hard.key(), hard.weight, hard.grave),
        (Kind::MailDeletion, "ceo@contoso.com", 3, true)
    );
    assert_eq!(hard.item(), "\\Recoverable Items\\Deletions");
    assert_eq!(hard.actor(), "eve@contoso.com");
    let mut single = deletion("softdelete", "d2", 0, 0);
    single.as_object_mut().unwrap().remove("AffectedItems");
    let soft = counted(&single).unwrap();
    assert_eq!((soft.weight, soft.grave), (1, false));
}

#[test]
fn only_syncs_of_mail_access_count_one_per_folder() {
    let sync = counted(&mail_access("Sync", "s1", 0, &["\\Inbox", "\\Sent Items"])).unwrap();
    assert_eq!((sync.kind, sync.weight), (Kind::MailSync, 2));
    assert_eq!(sync.client_ip(), Some("198.51.100.7"));
    assert_eq!(sync.item(), "\\Inbox, \\Sent Items");
    assert_eq!(counted(&mail_access("Bind", "s2", 0, &["\\Inbox"])), None);
}

#[test]
fn directory_deletions_count_by_actor_and_removals_only_of_privileged_roles() {
    let deleted = counted(&directory("Delete user.", "u1", 0, "bob@contoso.com", &[])).unwrap();
    assert_eq!(
        (deleted.kind, deleted.key(), deleted.item()),
        (Kind::AccountDeletion, "eve@contoso.com", "bob@contoso.com")
    );
    let removal = |name: &str, template: &str| {
        counted(&directory(
            "Remove member from role.",
            "r1",
            0,
            "bob@contoso.com",
            &[
                ("Role.DisplayName", "", name),
                ("Role.TemplateId", "", template),
            ],
        ))
    };
    let ga = removal(
        "Global Administrator",
        "62e90394-69f5-4237-9190-012177145e10",
    )
    .unwrap();
    assert_eq!((ga.kind, ga.grave), (Kind::AdminRemoval, true));
    assert_eq!(ga.item(), "bob@contoso.com (Global Administrator)");
    let exchange = removal(
        "Exchange Administrator",
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
    )
    .unwrap();
    assert!(!exchange.grave);
    assert_eq!(
        removal("Directory Readers", "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"),
        None
    );
    // A custom role imitating the name counts for nothing.
    assert_eq!(
        removal(
            "Global \u{410}dministrator",
            "0b4e4f5a-7c3d-4c0e-9d7e-2f1b9a6c8d10"
        ),
        None
    );
    assert_eq!(
        counted(&directory(
            "Remove member from role (PIM activation expired)",
            "r2",
            0,
            "bob@contoso.com",
            &[(
                "Role.TemplateId",
                "",
                "62e90394-69f5-4237-9190-012177145e10"
            )],
        )),
        None
    );
}

#[test]
fn failed_system_and_other_records_count_for_nothing() {
    let mut failed = deletion("HardDelete", "f1", 0, 3);
    failed["ResultStatus"] = json!("Failed");
    let mut system = deletion("HardDelete", "f2", 0, 3);
    system["UserId"] = json!("NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)");
    let mut no_time = deletion("HardDelete", "f3", 0, 3);
    no_time["CreationTime"] = json!("yesterday");
    // The word in a subject passes the cheap filter but is no deletion.
    let mut send = deletion("Send", "f4", 0, 0);
    send["Item"] = json!({"Subject": "Why HardDelete is \"sync\" now"});
    for v in [
        failed,
        system,
        no_time,
        send,
        record("New-InboxRule", "a@contoso.com", &[]),
    ] {
        assert_eq!(counted(&v), None, "{}", v["Operation"]);
    }
}

fn event(kind: Kind, key: &str, id: &str, minute: i64, weight: u64, grave: bool) -> Countable {
    Countable::new(
        kind,
        weight,
        grave,
        DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(minute),
        Texts {
            key,
            record_id: id,
            actor: "eve@contoso.com",
            client_ip: Some("203.0.113.9"),
            item: &format!("item {id}"),
        },
    )
}

/// `e`, touching `item` instead.
fn touching(e: &Countable, item: &str) -> Countable {
    Countable::new(
        e.kind,
        e.weight,
        e.grave,
        e.time,
        Texts {
            key: e.key(),
            record_id: e.record_id(),
            actor: e.actor(),
            client_ip: e.client_ip(),
            item,
        },
    )
}

fn deletions(n: u64, every: i64, grave: bool) -> Vec<Countable> {
    (0..n)
        .map(|i| {
            event(
                Kind::MailDeletion,
                "ceo@contoso.com",
                &format!("d{i}"),
                i as i64 * every,
                10,
                grave,
            )
        })
        .collect()
}

#[test]
fn mass_deletion_by_count_purges_and_the_hour() {
    assert!(bursts(&deletions(4, 1, false)).is_empty(), "40 messages");
    let five = bursts(&deletions(5, 1, false));
    assert_eq!(five.len(), 1);
    let f = &five[0];
    assert_stored_evidence_reads_back(f);
    assert_eq!(
        (f.rule, f.severity, f.target.as_str()),
        (MAILBOX_MASS_DELETION, Severity::Medium, "ceo@contoso.com")
    );
    assert_eq!(
        f.summary,
        "50 messages were deleted from mailbox ceo@contoso.com within 4 minutes by eve@contoso.com."
    );
    let purged = bursts(&deletions(5, 1, true));
    assert_eq!(purged[0].severity, Severity::High);
    assert!(
        purged[0]
            .summary
            .ends_with(", 50 of them purged beyond recovery.")
    );
    // Fifty messages over more than an hour are no burst.
    assert!(bursts(&deletions(5, 16, false)).is_empty());
    // The same record fed twice counts once.
    let mut twice = deletions(4, 1, false);
    twice.push(twice[0].clone());
    assert!(bursts(&twice).is_empty());
}

#[test]
fn bulk_sync_by_folders_within_the_hour() {
    let syncs = |n: u64| -> Vec<Countable> {
        (0..n)
            .map(|i| {
                event(
                    Kind::MailSync,
                    "ceo@contoso.com",
                    &format!("s{i}"),
                    (i % 50) as i64,
                    1,
                    false,
                )
            })
            .collect()
    };
    assert!(bursts(&syncs(24)).is_empty());
    let f = &bursts(&syncs(25))[0];
    assert_stored_evidence_reads_back(f);
    assert_eq!((f.rule, f.severity), (MAILBOX_BULK_SYNC, Severity::Medium));
    assert!(
        f.summary
            .starts_with("25 folders of mailbox ceo@contoso.com were synchronised within")
    );
    assert_eq!(bursts(&syncs(100))[0].severity, Severity::High);
}

#[test]
fn accounts_deleted_in_bulk_by_one_actor_are_high() {
    let deleted = |actor: &str, n: u64| -> Vec<Countable> {
        (0..n)
            .map(|i| {
                let e = event(
                    Kind::AccountDeletion,
                    actor,
                    &format!("{actor}{i}"),
                    i as i64,
                    1,
                    false,
                );
                touching(&e, &format!("user{i}@contoso.com"))
            })
            .collect()
    };
    assert!(bursts(&deleted("eve@contoso.com", 9)).is_empty());
    // Two actors, five each: no one actor's burst.
    let mut two = deleted("eve@contoso.com", 5);
    two.extend(deleted("bob@contoso.com", 5));
    assert!(bursts(&two).is_empty());
    let f = &bursts(&deleted("eve@contoso.com", 10))[0];
    assert_stored_evidence_reads_back(f);
    assert_eq!(
        (f.rule, f.severity, f.target.as_str()),
        (ACCESS_REMOVAL, Severity::High, "the whole organisation")
    );
    assert_eq!(
        f.summary,
        "eve@contoso.com deleted 10 accounts within 9 minutes: user0@contoso.com, user1@contoso.com, \
         user2@contoso.com, user3@contoso.com, user4@contoso.com and 5 more."
    );
    let Evidence::Burst(e) = &f.details else {
        panic!("burst evidence")
    };
    assert_eq!((e.total, e.records, e.items.len()), (10, 10, 10));
    assert_eq!(e.addresses, ["203.0.113.9"]);
}

#[test]
fn one_admin_removed_is_quiet_two_high_two_global_administrators_critical() {
    let removal = |id: &str, minute: i64, grave: bool| {
        let e = event(Kind::AdminRemoval, "eve@contoso.com", id, minute, 1, grave);
        touching(&e, &format!("{id}@contoso.com (role)\u{1b}[2J"))
    };
    assert!(bursts(&[removal("a", 0, true)]).is_empty());
    let two = bursts(&[removal("a", 0, false), removal("b", 30, true)]);
    assert_eq!(two[0].severity, Severity::High);
    assert!(two[0].summary.contains("\\u{1b}[2J"), "{}", two[0].summary);
    let globals = bursts(&[removal("a", 0, true), removal("b", 59, true)]);
    assert_eq!(globals[0].severity, Severity::Critical);
    assert!(bursts(&[removal("a", 0, true), removal("b", 61, true)]).is_empty());
}

#[test]
fn kinds_and_keys_are_judged_apart_and_the_gravest_window_wins() {
    let mut mixed = deletions(5, 1, false);
    mixed.extend((0..5).map(|i| {
        event(
            Kind::MailDeletion,
            "cfo@contoso.com",
            &format!("c{i}"),
            200 + i,
            10,
            true,
        )
    }));
    mixed.push(event(Kind::MailSync, "ceo@contoso.com", "s", 0, 1, false));
    let found = bursts(&mixed);
    let verdicts: Vec<(&str, Severity)> = found
        .iter()
        .map(|f| (f.target.as_str(), f.severity))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("ceo@contoso.com", Severity::Medium),
            ("cfo@contoso.com", Severity::High)
        ]
    );
    // Within one mailbox: a medium hour, then a purging hour; the purge is reported.
    let mut later = deletions(5, 1, false);
    later.extend((0..5).map(|i| {
        event(
            Kind::MailDeletion,
            "ceo@contoso.com",
            &format!("p{i}"),
            300 + i,
            10,
            true,
        )
    }));
    let found = bursts(&later);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::High);
    let Evidence::Burst(e) = &found[0].details else {
        panic!("burst evidence")
    };
    assert_eq!(e.record_ids, ["p0", "p1", "p2", "p3", "p4"]);
}

#[test]
fn an_event_is_kept_with_a_field_for_each_text_as_stores_already_hold_it() {
    // A row of `burst_events` as Rulewatch wrote it before the texts were packed: an
    // escaped folder, no address.
    let stored = r#"{"kind":"mail_sync","key":"åsa@contoso.com","weight":2,"grave":false,
        "time":"2026-11-27T10:00:00Z","record_id":"r1","actor":"Åsa@Contoso.com",
        "client_ip":null,"item":"\\Inbox, \\Sent Items"}"#;
    let e: Countable = serde_json::from_str(stored).unwrap();
    assert_eq!(
        (e.key(), e.record_id(), e.actor(), e.client_ip(), e.item()),
        (
            "åsa@contoso.com",
            "r1",
            "Åsa@Contoso.com",
            None,
            "\\Inbox, \\Sent Items"
        )
    );
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        serde_json::from_str::<Value>(stored).unwrap()
    );
    // A key is kept lower-cased, beyond ASCII too; an empty address is still an address.
    let made = Countable::new(
        Kind::MailSync,
        2,
        false,
        e.time,
        Texts {
            key: "ÅSA@Contoso.com",
            record_id: "r1",
            actor: "Åsa@Contoso.com",
            client_ip: Some(""),
            item: "\\Inbox, \\Sent Items",
        },
    );
    assert_eq!(
        (made.key(), made.client_ip()),
        ("åsa@contoso.com", Some(""))
    );
    assert_ne!(made, e);
    let back: Countable = serde_json::from_str(&serde_json::to_string(&made).unwrap()).unwrap();
    assert_eq!(back, made);
}
