//! The store on a real SQLite file: a blob committed twice inserts nothing twice, the
//! cursor never rewinds, and each channel's queue hands each alert out until it is delivered there.

use chrono::{Duration, Utc};

use super::*;
use crate::auth::AuthMethod;
use crate::detect::evidence::{Evidence, MailboxForwardEvidence};
use std::sync::Arc;

/// Where a test's store lives: a data folder, and on PostgreSQL a database of its own on
/// the server RULEWATCH_TEST_POSTGRES names (scripts/test.sh starts a throwaway one).
pub(crate) struct Place {
    dir: tempfile::TempDir,
    postgres: Option<::postgres::Config>,
}

impl Place {
    pub(crate) fn sqlite() -> Place {
        Place {
            dir: tempfile::tempdir().unwrap(),
            postgres: None,
        }
    }

    pub(crate) fn postgres() -> Place {
        let server = std::env::var("RULEWATCH_TEST_POSTGRES").unwrap_or_else(|_| {
            panic!(
                "the store's tests on PostgreSQL need a server: run them through scripts/test.sh, \
                 which starts a throwaway one, or set RULEWATCH_TEST_POSTGRES to a libpq \
                 connection string of a server where they may create databases"
            )
        });
        let mut config: ::postgres::Config = server
            .parse()
            .expect("RULEWATCH_TEST_POSTGRES is a libpq connection string");
        let name = format!("rulewatch_{}", uuid::Uuid::new_v4().simple());
        let admin: Box<Connection> =
            Box::new(db::Postgres::connect(config.clone(), ::postgres::NoTls).unwrap());
        admin
            .execute_batch(&format!("CREATE DATABASE {name}"))
            .unwrap();
        config.dbname(&name);
        Place {
            dir: tempfile::tempdir().unwrap(),
            postgres: Some(config),
        }
    }

    /// A connection to the store; each call opens another, as another process would.
    pub(crate) fn open(&self) -> Store {
        match &self.postgres {
            None => Store::open(self.dir.path()),
            Some(config) => Store::on_postgres(
                db::Postgres::connect(config.clone(), ::postgres::NoTls).unwrap(),
                self.dir.path(),
                &uuid::Uuid::new_v4().simple().to_string(),
            )
            .inspect(|store| {
                // What a workstation's session adds, under the names SQLite's have.
                for to in [FrontEnd::Desktop, FrontEnd::Scan] {
                    store.ensure_front_end(to.channel(), to).unwrap();
                }
            }),
        }
        .unwrap()
    }

    pub(crate) fn engine(&self) -> db::Engine {
        match self.postgres {
            None => db::Engine::Sqlite,
            Some(_) => db::Engine::Postgres,
        }
    }
}

/// Each of these tests runs once on a SQLite file and once on a PostgreSQL database.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(&super::Place::sqlite())
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::$name(&super::Place::postgres())
            })*
        }
    };
}

on_both_engines!(
    recommitting_a_blob_inserts_and_queues_nothing_twice,
    each_channel_has_its_own_queue_and_health,
    the_cursor_only_moves_forward_and_survives_reopening,
    removing_a_tenant_keeps_its_alerts_and_refuses_unknown_ids,
    a_suppressed_alert_is_kept_but_never_queued,
    forwarding_from_several_mailboxes_to_one_address_raises_one_fan_in_alert,
    suppressed_and_distant_forwards_make_no_fan_in,
    allowlist_entries_belong_to_a_configured_tenant,
    allowlist_entries_have_a_scope_and_an_expiry,
    geo_cache_answers_until_expiry_and_remembers_unknown_addresses,
    changing_the_geo_provider_empties_the_cache_and_forgets_its_problem,
    one_mailbox_s_alerts_within_a_day_are_one_incident_at_their_gravest,
    a_burst_split_across_blobs_is_raised_once_when_it_reaches_its_threshold,
    an_older_version_s_geolocation_problem_is_still_told,
    a_tenant_s_scan_lease_has_one_holder_until_released_or_expired,
    an_alert_is_held_by_one_technician_at_a_time_and_its_history_names_each,
    the_data_version_moves_with_another_process_s_commits_only,
    a_technician_is_on_duty_until_they_go_off_it,
    pruning_removes_only_what_the_retention_no_longer_keeps,
    a_day_s_prune_happens_once_whoever_asks,
    workstations_pruning_at_once_prune_once,
);

fn tenant(store: &Store) -> TenantRow {
    let t = TenantRow {
        tenant_id: "8d4121ed-0008-406d-bff9-0d5bb312183c".into(),
        name: "Contoso".into(),
        client_id: "11111111-2222-3333-4444-555555555555".into(),
        auth_method: AuthMethod::ClientSecret,
        cloud: None,
    };
    store.add_tenant(&t).unwrap();
    t
}

/// The evidence of mailbox forwarding to `to`, without a copy kept.
fn forwarding_to(to: &str) -> Evidence {
    Evidence::MailboxForward(MailboxForwardEvidence {
        destinations: vec![to.to_string()],
        deliver_to_mailbox_and_forward: Some(false),
        forwarding_smtp_address: Some(format!("smtp:{to}")),
        forwarding_address: None,
    })
}

fn alert(record_id: &str) -> NewAlert {
    NewAlert {
        tenant_name: "Contoso".into(),
        record_id: record_id.into(),
        rule: "mailbox-external-forward".into(),
        severity: crate::detect::Severity::High,
        operation: "Set-Mailbox".into(),
        target: "adele@contoso.com".into(),
        actor: "adele@contoso.com".into(),
        client_ip: Some("203.0.113.9".into()),
        summary: "s".into(),
        details: forwarding_to("eve@evil.example"),
        event_time: Some(Utc::now()),
        raw_record: "{}".into(),
        suppressed_by: None,
        origin: None,
        mailbox: None,
    }
}

fn recommitting_a_blob_inserts_and_queues_nothing_twice(place: &Place) {
    let store = place.open();
    let t = tenant(&store);
    let created = Utc::now() - Duration::hours(1);
    let alerts = [alert("r1"), alert("r2")];
    let commit = |content_id, alerts| BlobCommit {
        tenant_id: "8d4121ed-0008-406d-bff9-0d5bb312183c",
        content_type: "Audit.Exchange",
        content_id,
        content_created: created,
        records: 2,
        expired: false,
        alerts,
        sign_ins: &[],
        countables: &[],
        tune: &|_| {},
        cursor: Some(created),
    };
    assert_eq!(
        store.commit_blob(commit("blob-1", &alerts)).unwrap().len(),
        2
    );
    // The same records again in another blob (Microsoft duplicates them).
    assert!(
        store
            .commit_blob(commit("blob-2", &alerts[..1]))
            .unwrap()
            .is_empty()
    );
    assert!(store.is_processed(&t.tenant_id, "blob-1").unwrap());
    assert!(store.is_processed(&t.tenant_id, "blob-2").unwrap());
    assert_eq!(store.alerts().unwrap().len(), 2);

    assert_eq!(store.pending_deliveries("scan").unwrap().len(), 2);
    store
        .mark_delivered("scan", &[store.pending_deliveries("scan").unwrap()[0].id])
        .unwrap();
    assert_eq!(store.pending_deliveries("scan").unwrap().len(), 1);
    assert_eq!(
        store.pending_deliveries("desktop").unwrap().len(),
        2,
        "what `scan` printed still waits for the desktop's notification"
    );
    // A queue left waiting too long hands over only what is newer; its other alerts are
    // done with, unsent, and the other queues keep theirs.
    assert_eq!(
        store
            .pass_over_stale("scan", Utc::now() - Duration::days(7))
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .pass_over_stale("desktop", Utc::now() + Duration::seconds(1))
            .unwrap(),
        2
    );
    assert!(store.pending_deliveries("desktop").unwrap().is_empty());
    assert_eq!(store.pending_deliveries("scan").unwrap().len(), 1);
    assert_eq!(store.alerts().unwrap().len(), 2, "nothing is lost");
}

fn each_channel_has_its_own_queue_and_health(place: &Place) {
    let store = place.open();
    let t = tenant(&store);
    let alerts = [alert("r1"), alert("r2")];
    let created = Utc::now();
    store
        .commit_blob(BlobCommit {
            tenant_id: &t.tenant_id,
            content_type: "Audit.Exchange",
            content_id: "blob-1",
            content_created: created,
            records: 2,
            expired: false,
            alerts: &alerts,
            sign_ins: &[],
            countables: &[],
            tune: &|_| {},
            cursor: Some(created),
        })
        .unwrap();
    let ids: Vec<i64> = store
        .pending_deliveries("desktop")
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    store.mark_delivered("desktop", &ids[..1]).unwrap();
    store
        .delivery_failed(
            "desktop",
            &ids[1..],
            "no notification daemon took the notification",
            None,
        )
        .unwrap();
    let health = store.channel_health().unwrap();
    let desktop = health.iter().find(|h| h.name == "desktop").unwrap();
    assert_eq!(desktop.queued, 1);
    assert!(desktop.last_delivered_at.is_some());
    assert_eq!(
        desktop.last_error.as_deref(),
        Some("no notification daemon took the notification")
    );
    let scan = health.iter().find(|h| h.name == "scan").unwrap();
    assert_eq!(
        (
            scan.queued,
            scan.last_delivered_at,
            scan.last_error.as_deref()
        ),
        (2, None, None)
    );

    // Delivered at last: the error is history, not health.
    store.mark_delivered("desktop", &ids[1..]).unwrap();
    let health = store.channel_health().unwrap();
    let desktop = health.iter().find(|h| h.name == "desktop").unwrap();
    assert_eq!((desktop.queued, desktop.last_error.as_deref()), (0, None));
    // Marking again changes nothing (a front end that crashed after showing).
    store.mark_delivered("desktop", &ids).unwrap();
    assert!(store.pending_deliveries("desktop").unwrap().is_empty());
}

fn the_cursor_only_moves_forward_and_survives_reopening(place: &Place) {
    let store = place.open();
    let t = tenant(&store);
    let later = Utc::now();
    store
        .advance_cursor(&t.tenant_id, "Audit.Exchange", later)
        .unwrap();
    store
        .advance_cursor(&t.tenant_id, "Audit.Exchange", later - Duration::hours(3))
        .unwrap();
    drop(store);
    let store = place.open();
    let got = store
        .cursor(&t.tenant_id, "Audit.Exchange")
        .unwrap()
        .unwrap();
    assert_eq!(ts(got), ts(later));
}

fn removing_a_tenant_keeps_its_alerts_and_refuses_unknown_ids(place: &Place) {
    let store = place.open();
    let t = tenant(&store);
    let alerts = [alert("r1")];
    store
        .commit_blob(BlobCommit {
            tenant_id: &t.tenant_id,
            content_type: "Audit.Exchange",
            content_id: "b",
            content_created: Utc::now(),
            records: 1,
            expired: false,
            alerts: &alerts,
            sign_ins: &[],
            countables: &[],
            tune: &|_| {},
            cursor: None,
        })
        .unwrap();
    assert!(matches!(
        store.add_tenant(&t),
        Err(StoreError::TenantExists(_))
    ));
    store.remove_tenant(&t.tenant_id).unwrap();
    assert!(store.tenants().unwrap().is_empty());
    assert_eq!(store.alerts().unwrap().len(), 1);
    assert!(matches!(
        store.remove_tenant(&t.tenant_id),
        Err(StoreError::NoTenant(_))
    ));
}

fn commit_one<'a>(
    tenant_id: &'a str,
    content_id: &'a str,
    alerts: &'a [NewAlert],
) -> BlobCommit<'a> {
    BlobCommit {
        tenant_id,
        content_type: "Audit.Exchange",
        content_id,
        content_created: Utc::now(),
        records: alerts.len(),
        expired: false,
        alerts,
        sign_ins: &[],
        countables: &[],
        tune: &|_| {},
        cursor: None,
    }
}

fn forward(
    tenant: &TenantRow,
    record_id: &str,
    mailbox: &str,
    to: &str,
    days_ago: i64,
) -> NewAlert {
    NewAlert {
        tenant_name: tenant.name.clone(),
        target: mailbox.into(),
        actor: mailbox.into(),
        details: forwarding_to(to),
        event_time: Some(Utc::now() - Duration::days(days_ago)),
        ..alert(record_id)
    }
}

fn a_suppressed_alert_is_kept_but_never_queued(place: &Place) {
    let store = place.open();
    let t = tenant(&store);
    let quiet = NewAlert {
        suppressed_by: Some("trusted destination partner.example (allowlist entry 1)".into()),
        ..alert("r1")
    };
    store
        .commit_blob(commit_one(&t.tenant_id, "b", &[quiet, alert("r2")]))
        .unwrap();
    let stored = store.alerts().unwrap();
    let suppressed: Vec<_> = stored
        .iter()
        .filter(|a| a.status == AlertStatus::Suppressed)
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0].record_id, "r1");
    assert!(
        suppressed[0]
            .suppressed_by
            .as_deref()
            .unwrap()
            .contains("partner.example")
    );
    let queued: Vec<_> = store
        .pending_deliveries("scan")
        .unwrap()
        .into_iter()
        .map(|a| a.record_id)
        .collect();
    assert_eq!(queued, ["r2"]);
    assert_eq!(store.statuses().unwrap()[0].open_alerts, 1);
}

fn forwarding_from_several_mailboxes_to_one_address_raises_one_fan_in_alert(place: &Place) {
    let store = place.open();
    let contoso = tenant(&store);
    let fabrikam = TenantRow {
        tenant_id: "0b9d3f53-5b73-4c41-9ad2-6f6b51b9a001".into(),
        name: "Fabrikam".into(),
        ..contoso.clone()
    };
    store.add_tenant(&fabrikam).unwrap();
    let fan_ins = |store: &Store| -> Vec<Alert> {
        store
            .alerts()
            .unwrap()
            .into_iter()
            .filter(|a| a.rule == crate::detect::FORWARDING_FAN_IN)
            .collect()
    };

    let first = [forward(
        &contoso,
        "r1",
        "adele@contoso.com",
        "Eve@Evil.example",
        3,
    )];
    store
        .commit_blob(commit_one(&contoso.tenant_id, "b1", &first))
        .unwrap();
    let other = [forward(
        &contoso,
        "r0",
        "lee@contoso.com",
        "other@evil.example",
        3,
    )];
    store
        .commit_blob(commit_one(&contoso.tenant_id, "b0", &other))
        .unwrap();
    assert!(
        fan_ins(&store).is_empty(),
        "one mailbox per destination is no fan-in"
    );

    let second = [forward(
        &fabrikam,
        "r2",
        "bob@fabrikam.com",
        "eve@evil.example",
        1,
    )];
    let new = store
        .commit_blob(commit_one(&fabrikam.tenant_id, "b2", &second))
        .unwrap();
    assert_eq!(
        new.len(),
        2,
        "the forwarding alert and the fan-in alert are new"
    );
    let fan = &fan_ins(&store)[0];
    assert_eq!(fan.target, "eve@evil.example");
    assert_eq!(fan.severity, crate::detect::Severity::Critical);
    assert_eq!(fan.tenant_name, "Contoso + Fabrikam");
    assert!(
        fan.summary
            .contains("adele@contoso.com (Contoso) and bob@fabrikam.com (Fabrikam)"),
        "{}",
        fan.summary
    );
    assert!(
        store
            .pending_deliveries("scan")
            .unwrap()
            .iter()
            .any(|a| a.id == fan.id)
    );

    // The same records again, and a third mailbox: one alert, widened, not queued again.
    store
        .commit_blob(commit_one(&fabrikam.tenant_id, "b2-again", &second))
        .unwrap();
    store
        .mark_delivered(
            "scan",
            &store
                .pending_deliveries("scan")
                .unwrap()
                .iter()
                .map(|a| a.id)
                .collect::<Vec<_>>(),
        )
        .unwrap();
    let third = [forward(
        &contoso,
        "r3",
        "carol@contoso.com",
        "eve@evil.example",
        0,
    )];
    store
        .commit_blob(commit_one(&contoso.tenant_id, "b3", &third))
        .unwrap();
    let all = fan_ins(&store);
    assert_eq!(all.len(), 1);
    assert!(
        all[0].summary.contains("from 3 mailboxes in 2 tenants"),
        "{}",
        all[0].summary
    );
    let queued: Vec<String> = store
        .pending_deliveries("scan")
        .unwrap()
        .into_iter()
        .map(|a| a.record_id)
        .collect();
    assert_eq!(queued, ["r3"]);
}

fn suppressed_and_distant_forwards_make_no_fan_in(place: &Place) {
    let store = place.open();
    let t = tenant(&store);
    let trusted = NewAlert {
        suppressed_by: Some("trusted".into()),
        ..forward(&t, "r1", "adele@contoso.com", "books@accountant.example", 1)
    };
    let alerts = [
        trusted,
        forward(&t, "r2", "bob@contoso.com", "books@accountant.example", 0),
        forward(&t, "r3", "carol@contoso.com", "eve@evil.example", 20),
        forward(&t, "r4", "dan@contoso.com", "eve@evil.example", 0),
    ];
    store
        .commit_blob(commit_one(&t.tenant_id, "b", &alerts))
        .unwrap();
    assert!(
        store
            .alerts()
            .unwrap()
            .iter()
            .all(|a| a.rule != crate::detect::FORWARDING_FAN_IN)
    );
}

fn allowlist_entries_belong_to_a_configured_tenant(place: &Place) {
    let store = place.open();
    let t = tenant(&store);
    use crate::allowlist::TrustKind;
    fn trust<'a>(
        tenant_id: Option<&'a str>,
        kind: TrustKind,
        value: &'a str,
        reason: Option<&'a str>,
    ) -> NewTrust<'a> {
        NewTrust {
            tenant_id,
            account: None,
            kind,
            value,
            reason,
            added_by: Some("Dana"),
            expires_at: None,
        }
    }
    let tid = t.tenant_id.as_str();
    let (e, new) = store
        .add_trust(trust(
            Some(tid),
            TrustKind::Destination,
            "partner.example",
            Some("their accountant"),
        ))
        .unwrap();
    assert!(new);
    assert_eq!(e.added_by.as_deref(), Some("Dana"));
    let (again, new) = store
        .add_trust(trust(
            Some(tid),
            TrustKind::Destination,
            "PARTNER.example",
            Some("renewed"),
        ))
        .unwrap();
    assert_eq!(
        (e.id, new),
        (again.id, false),
        "the same entry is not added twice"
    );
    assert_eq!(
        again.reason.as_deref(),
        Some("renewed"),
        "the newest reason wins"
    );
    assert!(matches!(
        store.add_trust(trust(
            Some("0b9d3f53-5b73-4c41-9ad2-6f6b51b9a001"),
            TrustKind::RuleName,
            "x",
            None
        )),
        Err(StoreError::NoTenant(_))
    ));
    assert_eq!(store.trust_entries(None).unwrap().len(), 1);
    store.remove_trust(e.id).unwrap();
    assert!(matches!(
        store.remove_trust(e.id),
        Err(StoreError::NoTrustEntry(_))
    ));
    store
        .add_trust(trust(Some(tid), TrustKind::RuleName, "News", None))
        .unwrap();
    store.remove_tenant(&t.tenant_id).unwrap();
    assert!(
        store.trust_entries(None).unwrap().is_empty(),
        "a removed tenant's entries go with it"
    );
}

fn allowlist_entries_have_a_scope_and_an_expiry(place: &Place) {
    use crate::allowlist::TrustKind;
    let store = place.open();
    let t = tenant(&store);
    let now = crate::clock::now();
    fn entry<'a>(
        tenant_id: Option<&'a str>,
        account: Option<&'a str>,
        value: &'a str,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> NewTrust<'a> {
        NewTrust {
            tenant_id,
            account,
            kind: TrustKind::Rule,
            value,
            reason: Some("the scanner reads mail over IMAP"),
            added_by: None,
            expires_at,
        }
    }
    let (every, _) = store
        .add_trust(entry(None, None, "legacy-protocol-enabled", None))
        .unwrap();
    assert_eq!(every.tenant_id, None);
    let (scanner, new) = store
        .add_trust(entry(
            Some(&t.tenant_id),
            Some("scanner@contoso.example"),
            "legacy-protocol-enabled",
            Some(now + chrono::Duration::days(30)),
        ))
        .unwrap();
    assert!(new, "another scope of the same value is another entry");
    let (_, new) = store
        .add_trust(entry(None, None, "LEGACY-protocol-enabled", None))
        .unwrap();
    assert!(!new, "every tenant is one scope, written once");
    let (expired, _) = store
        .add_trust(entry(
            Some(&t.tenant_id),
            None,
            "mailbox-delegation",
            Some(now - chrono::Duration::hours(1)),
        ))
        .unwrap();
    let listed: Vec<i64> = store
        .trust_entries(Some(&t.tenant_id))
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        listed,
        [every.id, scanner.id, expired.id],
        "every tenant's entries first"
    );
    assert_eq!(
        scanner.expires_at.map(|e| e.timestamp()),
        Some((now + chrono::Duration::days(30)).timestamp())
    );
    let list = store.allowlist(&t.tenant_id).unwrap();
    let other = crate::detect::Evidence::Other(serde_json::Value::Null);
    assert!(
        list.covers("mailbox-delegation", "x@contoso.example", &other)
            .is_none(),
        "an expired entry quiets nothing"
    );
    assert!(
        list.covers("legacy-protocol-enabled", "x@contoso.example", &other)
            .is_some()
    );
    store.remove_tenant(&t.tenant_id).unwrap();
    assert_eq!(
        store.trust_entries(None).unwrap().len(),
        1,
        "every tenant's entry stays when one tenant goes"
    );
}

fn location(ip: &str) -> Location {
    Location {
        ip: ip.into(),
        country_code: Some("NG".into()),
        country: Some("Nigeria".into()),
        region: None,
        city: Some("Lagos".into()),
        asn: Some(36873),
        network: Some("Airtel Networks".into()),
        hosting: None,
        proxy: Some(false),
        source: "ipstack".into(),
    }
}

fn geo_cache_answers_until_expiry_and_remembers_unknown_addresses(place: &Place) {
    let store = place.open();
    let now = Utc::now();
    store
        .cache_location(
            "41.58.1.1",
            "ipstack",
            Some(&location("41.58.1.1")),
            now,
            Duration::days(30),
        )
        .unwrap();
    store
        .cache_location("2a09:bac5::1", "ipstack", None, now, Duration::days(1))
        .unwrap();

    let hit = store
        .cached_location("41.58.1.1", now + Duration::days(29))
        .unwrap()
        .unwrap();
    assert_eq!(hit.location, Some(location("41.58.1.1")));
    let unknown = store
        .cached_location("2a09:bac5::1", now + Duration::hours(23))
        .unwrap()
        .unwrap();
    assert_eq!(
        unknown.location, None,
        "an unknown address is a hit with no location"
    );
    assert_eq!(store.location_cache_size(now).unwrap(), 2);

    assert_eq!(
        store
            .cached_location("2a09:bac5::1", now + Duration::hours(25))
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .cached_location("41.58.1.1", now + Duration::days(31))
            .unwrap(),
        None
    );
    assert_eq!(store.cached_location("8.8.8.8", now).unwrap(), None);

    // The next write drops what expired.
    let later = now + Duration::days(2);
    store
        .cache_location("8.8.8.8", "ipstack", None, later, Duration::days(1))
        .unwrap();
    let rows: i64 = store
        .with(|c| Ok(c.query_row("SELECT COUNT(*) FROM geo_cache", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(rows, 2);

    // Reopening keeps the cache: it is stored.
    drop(store);
    let store = place.open();
    assert!(store.cached_location("41.58.1.1", later).unwrap().is_some());
}

fn changing_the_geo_provider_empties_the_cache_and_forgets_its_problem(place: &Place) {
    let store = place.open();
    assert_eq!(store.geo_provider().unwrap(), GeoProvider::Off);
    store.set_geo_provider(&GeoProvider::Ipstack).unwrap();
    let now = Utc::now();
    store
        .cache_location(
            "41.58.1.1",
            "ipstack",
            Some(&location("41.58.1.1")),
            now,
            Duration::days(30),
        )
        .unwrap();
    store
        .set_geo_problem(Some(&GeoProblem {
            message: "ipstack says the monthly quota is used up (code 104)".into(),
            fix: Some(GeoFix::NewIpstackKey),
        }))
        .unwrap();

    store.set_geo_provider(&GeoProvider::Ipstack).unwrap();
    assert_eq!(
        store.location_cache_size(now).unwrap(),
        1,
        "saving the same provider keeps the cache"
    );
    assert!(store.geo_problem().unwrap().is_some());

    let mmdb = GeoProvider::Mmdb {
        city: "/x/GeoLite2-City.mmdb".into(),
        asn: Some("/x/GeoLite2-ASN.mmdb".into()),
    };
    store.set_geo_provider(&mmdb).unwrap();
    assert_eq!(store.location_cache_size(now).unwrap(), 0);
    assert_eq!(store.geo_problem().unwrap(), None);
    assert_eq!(store.geo_provider().unwrap(), mmdb);

    store
        .set_setting(
            &Key::<serde_json::Value>::new("geo.provider"),
            &serde_json::json!({"provider": "carrier-pigeon"}),
        )
        .unwrap();
    let e = store.geo_provider().unwrap_err().to_string();
    assert!(
        e.contains("geo.provider") && e.contains("set it again"),
        "{e}"
    );
}

#[test]
fn the_partner_migration_keeps_tenants_and_their_data_and_cascades_as_before() {
    let dir = tempfile::tempdir().unwrap();
    {
        // A database as the release before partner sign-in left it.
        let mut conn = rusqlite::Connection::open(dir.path().join("rulewatch.db")).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrations().to_version(&mut conn, 6).unwrap();
        conn.execute_batch(
            "INSERT INTO tenants VALUES ('t1', 'Contoso', 'c1', 'certificate', 'thumb', '2026-11-01T00:00:00.000Z');
             INSERT INTO tenant_status (tenant_id, state) VALUES ('t1', 'ok');
             INSERT INTO cursors VALUES ('t1', 'Audit.Exchange', '2026-11-02T00:00:00.000Z');",
        )
        .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let kept = store.tenant("t1").unwrap();
    assert_eq!(
        kept.auth_method,
        AuthMethod::Certificate {
            thumbprint_s256: "thumb".into()
        }
    );
    assert!(
        store.cursor("t1", "Audit.Exchange").unwrap().is_some(),
        "the cursor survived the rebuild"
    );
    let partner = TenantRow {
        tenant_id: "t2".into(),
        name: "Fabrikam".into(),
        client_id: "c2".into(),
        auth_method: AuthMethod::Partner,
        cloud: Some(crate::cloud::Cloud::Gcc),
    };
    store.add_tenant(&partner).unwrap();
    let added = store.tenant("t2").unwrap();
    assert_eq!(
        (added.auth_method, added.cloud),
        (AuthMethod::Partner, Some(crate::cloud::Cloud::Gcc))
    );
    assert_eq!(
        kept.cloud, None,
        "a tenant from before is read in the installation's cloud"
    );
    // The rebuilt table is still the one the others refer to: removal cascades.
    store.remove_tenant("t1").unwrap();
    assert!(store.cursor("t1", "Audit.Exchange").unwrap().is_none());
    assert_eq!(store.statuses().unwrap().len(), 1);
}

#[test]
fn the_outbox_s_waiting_alerts_wait_for_both_front_ends_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    {
        // A database as the release with one shared outbox left it.
        let mut conn = rusqlite::Connection::open(dir.path().join("rulewatch.db")).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrations().to_version(&mut conn, 10).unwrap();
        for (id, delivered) in [(1, Some("2026-11-02T00:00:00.000Z")), (2, None)] {
            conn.execute(
                "INSERT INTO alerts (id, tenant_id, tenant_name, record_id, rule, severity, operation, target,
                                     actor, summary, details, detected_at, raw_record)
                 VALUES (?1, 't1', 'Contoso', ?2, 'mailbox-external-forward', 'high', 'Set-Mailbox',
                         'adele@contoso.com', 'adele@contoso.com', 's', '{}', '2026-11-01T00:00:00.000Z', '{}')",
                rusqlite::params![id, format!("r{id}")],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO outbox (alert_id, queued_at, delivered_at) VALUES (?1, '2026-11-01T00:00:00.000Z', ?2)",
                rusqlite::params![id, delivered],
            )
            .unwrap();
        }
    }
    let store = Store::open(dir.path()).unwrap();
    for channel in ["desktop", "scan"] {
        let waiting: Vec<String> = store
            .pending_deliveries(channel)
            .unwrap()
            .into_iter()
            .map(|a| a.record_id)
            .collect();
        assert_eq!(waiting, ["r2"], "{channel}");
    }
}

fn a_burst_split_across_blobs_is_raised_once_when_it_reaches_its_threshold(place: &Place) {
    use crate::detect::burst::{Countable, Kind, Texts};
    let store = place.open();
    let t = tenant(&store);
    let start = Utc::now() - Duration::hours(3);
    // Purges of `items` messages from Adele's mailbox, `minutes` after the start.
    let purged = |record: &str, items: u64, minutes: i64| {
        Countable::new(
            Kind::MailDeletion,
            items,
            true,
            start + Duration::minutes(minutes),
            Texts {
                key: "adele@contoso.com",
                record_id: record,
                actor: "adele@contoso.com",
                client_ip: Some("198.51.100.7"),
                item: "\\Inbox",
            },
        )
    };
    let blob = |content_id: &str, events: &[Countable]| {
        store
            .commit_blob(BlobCommit {
                countables: events,
                tune: &|_| {},
                ..commit_one(&t.tenant_id, content_id, &[])
            })
            .unwrap()
    };
    let raised = |content_id, events: &[Countable]| -> Vec<(String, String, Severity)> {
        blob(content_id, events)
            .into_iter()
            .map(|a| (a.rule, a.target, a.severity))
            .collect()
    };
    use crate::detect::Severity;
    assert_eq!(raised("b1", &[purged("r1", 30, 0)]), []);
    // Twenty minutes on, another blob: 60 purged within the hour.
    assert_eq!(
        raised("b2", &[purged("r2", 30, 20), purged("r1", 30, 0)]),
        [(
            "mailbox-mass-deletion".to_string(),
            "adele@contoso.com".to_string(),
            Severity::High
        )],
        "the record read again counts once; the burst across two blobs is raised"
    );
    // The burst growing raises nothing more, nor does the same blob's records read again.
    assert_eq!(raised("b3", &[purged("r3", 40, 30)]), []);
    assert_eq!(raised("b2-again", &[purged("r2", 30, 20)]), []);
    // Another burst a day later is raised again.
    assert_eq!(
        raised("b4", &[purged("r4", 60, 24 * 60)]).len(),
        1,
        "a new burst after the window"
    );
}

fn one_mailbox_s_alerts_within_a_day_are_one_incident_at_their_gravest(place: &Place) {
    let store = place.open();
    let t = tenant(&store);
    let at = |hours_ago: i64| Some(Utc::now() - Duration::hours(hours_ago));
    let on = |record_id: &str, mailbox: &str, hours_ago: i64| NewAlert {
        target: mailbox.into(),
        event_time: at(hours_ago),
        ..alert(record_id)
    };
    let first = [
        on("r1", "adele@contoso.com", 100),
        NewAlert {
            severity: crate::detect::Severity::Critical,
            rule: "inbox-rule-hides-mail".into(),
            ..on("r2", "Adele@Contoso.com", 90)
        },
        // Named by its GUID in the record (Set-InboxRule), and Exchange said whose it is.
        NewAlert {
            mailbox: Some("adele@contoso.com".into()),
            ..on("r3", "5f0c1c55-3e0b-4c5e-9c7a-0b1f7e0e0a11", 70)
        },
        // Another mailbox, to another address (one address would be a fan-in).
        NewAlert {
            details: forwarding_to("mallory@evil.example"),
            ..on("r4", "bob@contoso.com", 70)
        },
        // Three days on: the same mailbox again is a new incident.
        on("r5", "adele@contoso.com", 2),
        NewAlert {
            suppressed_by: Some("trusted destination".into()),
            ..on("r6", "adele@contoso.com", 1)
        },
    ];
    store
        .commit_blob(commit_one(&t.tenant_id, "b1", &first))
        .unwrap();
    let incidents = store.incidents(None).unwrap();
    let of =
        |i: &Incident| -> Vec<String> { i.alerts.iter().map(|a| a.record_id.clone()).collect() };
    let shape: Vec<(String, Vec<String>, crate::detect::Severity)> = incidents
        .iter()
        .map(|i| (i.subject.clone(), of(i), i.severity))
        .collect();
    use crate::detect::Severity::{Critical, High};
    assert_eq!(
        shape,
        [
            (
                "adele@contoso.com".to_string(),
                vec!["r5".to_string()],
                High
            ),
            ("bob@contoso.com".to_string(), vec!["r4".to_string()], High),
            (
                "adele@contoso.com".to_string(),
                vec!["r1".to_string(), "r2".to_string(), "r3".to_string()],
                Critical
            ),
        ],
        "most recently active first; the suppressed alert joins none"
    );
    // A page's headings: the incidents asked for, as the full read gives them, in its order.
    let some = store
        .incidents_of(&[incidents[2].id, 999_999, incidents[0].id, incidents[2].id])
        .unwrap();
    assert_eq!(
        some.iter()
            .map(|i| (i.id, of(i), i.title.clone()))
            .collect::<Vec<_>>(),
        [&incidents[0], &incidents[2]]
            .iter()
            .map(|i| (i.id, of(i), i.title.clone()))
            .collect::<Vec<_>>()
    );
    let adele = &incidents[2];
    assert_eq!(
        adele.title,
        "Inbox rule hides mail: adele@contoso.com (and 2 more alerts)"
    );
    assert_eq!(
        (adele.first_event, adele.last_event),
        (adele.alerts[0].event_time, adele.alerts[2].event_time)
    );
    assert_eq!(adele.status, IncidentStatus::Open);
    assert!(uuid::Uuid::parse_str(&adele.key).is_ok(), "{}", adele.key);
    assert!(adele.alerts.iter().all(|a| a.incident_id == Some(adele.id)));

    // A later alert 20 hours after the last joins, and keeps the incident's key.
    let later = [on("r7", "adele@contoso.com", 50)];
    store
        .commit_blob(commit_one(&t.tenant_id, "b2", &later))
        .unwrap();
    let again = store.incident(adele.id).unwrap();
    assert_eq!(again.key, adele.key);
    assert_eq!(of(&again), ["r1", "r2", "r3", "r7"]);
    let all = store.incidents(None).unwrap();
    assert_eq!(all.len(), 3);
    // The list (two queries for all) says what each incident alone says.
    for listed in &all {
        let alone = store.incident(listed.id).unwrap();
        assert_eq!(
            serde_json::to_value(listed).unwrap(),
            serde_json::to_value(&alone).unwrap()
        );
    }
    // `rulewatch incidents --since`: those active since then, each with all its alerts
    // (adele's reach back before it), and none when nothing was active.
    let newest = all[0].last_event.unwrap();
    let active = store.incidents(Some(newest)).unwrap();
    assert_eq!(
        serde_json::to_value(&active).unwrap(),
        serde_json::to_value(&all[..1]).unwrap()
    );
    assert!(
        store
            .incidents(Some(newest + chrono::Duration::seconds(1)))
            .unwrap()
            .is_empty()
    );
    // The Overview's chart: the incidents begun since a time, oldest first, each at its
    // gravest with its tenant; one begun earlier stays out though its later alerts fall in.
    let begun = |hours_ago: i64| -> Vec<(String, crate::detect::Severity, String)> {
        store
            .incidents_since(Utc::now() - Duration::hours(hours_ago))
            .unwrap()
            .into_iter()
            .map(|i| {
                let subject = all.iter().find(|a| a.id == i.id).unwrap().subject.clone();
                (subject, i.severity, i.tenant_id)
            })
            .collect()
    };
    let row = |s: &str, sev| (s.to_string(), sev, t.tenant_id.clone());
    assert_eq!(
        begun(101),
        [
            row("adele@contoso.com", Critical),
            row("bob@contoso.com", High),
            row("adele@contoso.com", High)
        ]
    );
    assert_eq!(
        begun(95),
        [row("bob@contoso.com", High), row("adele@contoso.com", High)]
    );
    assert_eq!(begun(1), []);
}

#[test]
fn alerts_stored_before_incidents_existed_are_grouped_by_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut conn = rusqlite::Connection::open(dir.path().join("rulewatch.db")).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrations().to_version(&mut conn, 11).unwrap();
        for (id, mailbox, at, status) in [
            (1, "adele@contoso.com", "2026-11-01T08:00:00.000Z", "open"),
            (
                2,
                "adele@contoso.com",
                "2026-11-01T09:00:00.000Z",
                "acknowledged",
            ),
            (
                3,
                "bob@contoso.com",
                "2026-11-01T09:00:00.000Z",
                "suppressed",
            ),
        ] {
            conn.execute(
                "INSERT INTO alerts (id, tenant_id, tenant_name, record_id, rule, severity, operation, target,
                                     actor, summary, details, event_time, detected_at, raw_record, status)
                 VALUES (?1, 't1', 'Contoso', ?2, 'mailbox-external-forward', 'high', 'Set-Mailbox',
                         ?3, ?3, 's', '{}', ?4, ?4, '{}', ?5)",
                rusqlite::params![id, format!("r{id}"), mailbox, at, status],
            )
            .unwrap();
        }
    }
    let store = Store::open(dir.path()).unwrap();
    let incidents = store.incidents(None).unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let ids: Vec<i64> = incidents[0].alerts.iter().map(|a| a.id).collect();
    assert_eq!(ids, [1, 2]);
}

fn an_older_version_s_geolocation_problem_is_still_told(place: &Place) {
    let store = place.open();
    store
        .set_setting(
            &Key::<String>::new("geo.problem"),
            &"ipstack refused the API key (code 101)".to_string(),
        )
        .unwrap();
    assert_eq!(
        store.geo_problem().unwrap(),
        Some(GeoProblem::plain(
            "ipstack refused the API key (code 101)".into()
        ))
    );
    store.set_geo_problem(None).unwrap();
    assert_eq!(
        store.geo_problem().unwrap(),
        None,
        "cleared, the old words too"
    );
}

fn a_tenant_s_scan_lease_has_one_holder_until_released_or_expired(place: &Place) {
    let store = place.open();
    let now = Utc::now();
    let until = now + Duration::minutes(30);
    assert!(store.take_scan_lease("t1", "desktop", now, until).unwrap());
    assert!(!store.take_scan_lease("t1", "watch", now, until).unwrap());
    assert!(
        store.take_scan_lease("t2", "watch", now, until).unwrap(),
        "per tenant"
    );
    assert!(
        store.take_scan_lease("t1", "desktop", now, until).unwrap(),
        "renewed"
    );
    store.release_scan_lease("t1", "watch").unwrap();
    assert!(
        !store.take_scan_lease("t1", "watch", now, until).unwrap(),
        "not its to release"
    );
    store.release_scan_lease("t1", "desktop").unwrap();
    assert!(store.take_scan_lease("t1", "watch", now, until).unwrap());
    // A holder that died: its lease passes on once expired.
    let later = until + Duration::seconds(1);
    assert!(
        store
            .take_scan_lease("t1", "desktop", later, later + Duration::minutes(30))
            .unwrap()
    );
    // A holder whose process is gone (a pid no process has) loses it at once; a running
    // one keeps it.
    let running = format!("{}:me", std::process::id());
    assert!(store.take_scan_lease("t3", &running, now, until).unwrap());
    assert!(
        !store
            .take_scan_lease("t3", "4194305:other", now, until)
            .unwrap()
    );
    assert!(
        store
            .take_scan_lease("t4", "4194305:killed", now, until)
            .unwrap()
    );
    // A team's holder may run on another workstation, whose processes this one cannot
    // see: its lease lasts until it expires.
    assert_eq!(
        store.take_scan_lease("t4", &running, now, until).unwrap(),
        cfg!(target_os = "linux") && place.engine() == db::Engine::Sqlite,
        "where the system tells, a killed holder's lease on this machine is free at once"
    );
    // A holder that names this machine is judged by its process on either engine.
    let killed_here = format!("4194305@{}:killed", scan_state::this_machine());
    assert!(
        store
            .take_scan_lease("t5", &killed_here, now, until)
            .unwrap()
    );
    assert_eq!(
        store.take_scan_lease("t5", &running, now, until).unwrap(),
        cfg!(target_os = "linux")
    );
    assert!(lease_holder().starts_with(&format!("{}@", std::process::id())));
}

fn an_alert_is_held_by_one_technician_at_a_time_and_its_history_names_each(place: &Place) {
    let store = place.open();
    let t = tenant(&store);
    let new = store
        .commit_blob(commit_one(
            &t.tenant_id,
            "b1",
            &[
                alert("r1"),
                NewAlert {
                    severity: crate::detect::Severity::Critical,
                    ..alert("r2")
                },
            ],
        ))
        .unwrap();
    let (one, two) = (new[0].id, new[1].id);

    assert_eq!(
        store
            .take_alert(one, "alice", false)
            .unwrap()
            .assignee
            .as_deref(),
        Some("alice")
    );
    // Taking it again is no change; a colleague is told who holds it.
    store.take_alert(one, "alice", false).unwrap();
    match store.take_alert(one, "bob", false) {
        Err(StoreError::HeldBy { id, technician, .. }) => {
            assert_eq!((id, technician.as_str()), (one, "alice"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.release_alert(one, "bob", false),
        Err(StoreError::HeldBy { .. })
    ));
    store
        .set_alert_status(
            one,
            AlertStatus::Acknowledged,
            Some("calling the user"),
            "alice",
        )
        .unwrap();
    store.note_alert(one, "alice", "password reset").unwrap();
    assert_eq!(
        store
            .take_alert(one, "bob", true)
            .unwrap()
            .assignee
            .as_deref(),
        Some("bob")
    );
    store
        .set_alert_status(one, AlertStatus::Resolved, None, "bob")
        .unwrap();
    assert_eq!(
        store.release_alert(one, "bob", false).unwrap().assignee,
        None
    );
    let review = store.alert_review(one).unwrap();
    assert_eq!(review.assignee, None);
    let steps: Vec<(String, String, Option<String>)> = review
        .history
        .into_iter()
        .map(|e| (e.technician, e.action, e.note))
        .collect();
    let step = |who: &str, what: &str, note: Option<&str>| {
        (who.to_string(), what.to_string(), note.map(str::to_string))
    };
    assert_eq!(
        steps,
        [
            step("alice", "took", None),
            step("alice", "acknowledged", Some("calling the user")),
            step("alice", "note", Some("password reset")),
            step("bob", "took over from alice", None),
            step("bob", "resolved", None),
            step("bob", "released", None),
        ]
    );
    assert!(matches!(
        store.alert_review(999),
        Err(StoreError::NoAlert(999))
    ));

    // The desk's filters.
    store.take_alert(two, "Carol", false).unwrap();
    let ids = |f: AlertFilter| -> Vec<i64> {
        store
            .alerts_where(&f)
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect()
    };
    assert_eq!(ids(AlertFilter::default()), [two, one]);
    let mine = AlertFilter {
        assignee: Some(Assignee::Named("carol".into())),
        ..AlertFilter::default()
    };
    assert_eq!(ids(mine), [two]);
    let nobody_s = AlertFilter {
        assignee: Some(Assignee::Nobody),
        ..AlertFilter::default()
    };
    assert_eq!(ids(nobody_s), [one]);
    let resolved = AlertFilter {
        status: Some(AlertStatus::Resolved),
        tenant: Some("CONTOSO".into()),
        ..AlertFilter::default()
    };
    assert_eq!(ids(resolved), [one]);
    let critical = AlertFilter {
        severity: Some(crate::detect::Severity::Critical),
        ..AlertFilter::default()
    };
    assert_eq!(ids(critical), [two]);
    let future = AlertFilter {
        since: Some(Utc::now() + Duration::hours(1)),
        tenant: Some(t.tenant_id.clone()),
        ..AlertFilter::default()
    };
    assert!(ids(future).is_empty());
}

fn the_data_version_moves_with_another_process_s_commits_only(place: &Place) {
    let panel = place.open();
    let t = tenant(&panel);
    let cli = place.open();
    let before = panel.data_version().unwrap();
    panel
        .commit_blob(commit_one(&t.tenant_id, "b1", &[alert("r1")]))
        .unwrap();
    // PostgreSQL announces a commit to the other connections as it happens, and they
    // hear it within a fraction of a second; SQLite's version moves at once.
    let pause = std::time::Duration::from_millis(100);
    if place.engine() == db::Engine::Postgres {
        std::thread::sleep(pause * 6);
    }
    assert_eq!(panel.data_version().unwrap(), before, "its own commit");
    let id = cli.alerts().unwrap()[0].id;
    cli.take_alert(id, "alice", false).unwrap();
    let moved = (0..50).any(|_| {
        let moved = panel.data_version().unwrap() != before;
        if !moved {
            std::thread::sleep(pause);
        }
        moved
    });
    assert!(moved, "a colleague's commit");
}

fn a_technician_is_on_duty_until_they_go_off_it(place: &Place) {
    let store = place.open();
    assert!(store.on_duty("alice").unwrap(), "never set: on duty");
    store.set_on_duty("alice", false).unwrap();
    assert!(!store.on_duty("alice").unwrap());
    assert!(
        store.on_duty("bob").unwrap(),
        "one technician's duty is theirs alone"
    );
    store.set_on_duty("alice", true).unwrap();
    assert!(store.on_duty("alice").unwrap());
}

fn step(technician: &str, action: &str) -> NewLogEntry {
    NewLogEntry {
        os_user: technician.into(),
        machine: "desk".into(),
        operator: None,
        tenant_id: "t1".into(),
        mailbox: "adele@contoso.example".into(),
        alert_id: Some(1),
        action: action.into(),
        request: "PATCH /v1.0/users/adele@contoso.example accountEnabled=false".into(),
        before: None,
        after: None,
        result: "done".into(),
        detail: "sign-in is blocked".into(),
        undoes: None,
    }
}

/// A team's remediation record is one chain with one key: the workstation that wrote the
/// first step made it; a colleague's workstation (its own keychain) neither signs with a
/// key of its own nor checks without one, and adopts the key only once it signs the rows.
#[test]
fn a_team_s_record_has_one_key_that_a_colleague_adopts() {
    use crate::secrets::MemorySecrets;
    let place = Place::postgres();
    let desk = place
        .open()
        .sign_record_with(Arc::new(MemorySecrets::default()));
    desk.append_log(&step("Dana", "block-sign-in")).unwrap();
    let colleague = place
        .open()
        .sign_record_with(Arc::new(MemorySecrets::default()));
    for refused in [
        colleague.append_log(&step("Sam", "revoke-sessions")).err(),
        colleague.verify_log().err(),
    ] {
        assert!(
            matches!(refused, Some(StoreError::RecordKeyElsewhere)),
            "{refused:?}"
        );
    }
    let stranger = Store::open(tempfile::tempdir().unwrap().path())
        .unwrap()
        .sign_record_with(Arc::new(MemorySecrets::default()));
    stranger.append_log(&step("Eve", "block-sign-in")).unwrap();
    let e = colleague
        .adopt_record_key(&stranger.share_record_key().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not sign"), "{e}");
    assert!(
        colleague
            .append_log(&step("Sam", "revoke-sessions"))
            .is_err()
    );

    let head = colleague
        .adopt_record_key(&desk.share_record_key().unwrap())
        .unwrap();
    assert_eq!(head.id, 1);
    colleague
        .append_log(&step("Sam", "revoke-sessions"))
        .unwrap();
    desk.append_log(&step("Dana", "reset-password")).unwrap();
    for (who, store) in [("desk", &desk), ("colleague", &colleague)] {
        let report = store.verify_log().unwrap();
        assert!(report.intact && report.rows == 3, "{who}: {report:?}");
    }
    let by: Vec<String> = desk
        .log()
        .unwrap()
        .into_iter()
        .map(|e| e.step.os_user)
        .collect();
    assert_eq!(
        by,
        ["Dana", "Sam", "Dana"],
        "the report names each technician"
    );
}

/// A workstation's own file joins the team's store once: its tenants, allowlist, alerts
/// (with who holds them and their history) and record, without duplicates, and without
/// queueing the alerts for anyone again.
#[test]
fn migrating_a_folder_into_the_team_copies_each_thing_once() {
    use crate::secrets::MemorySecrets;
    let secrets = Arc::new(MemorySecrets::default());
    let local_dir = tempfile::tempdir().unwrap();
    let local = Store::open(local_dir.path())
        .unwrap()
        .sign_record_with(secrets.clone());
    let t = tenant(&local);
    local
        .add_trust(NewTrust {
            tenant_id: Some(&t.tenant_id),
            account: None,
            kind: crate::allowlist::TrustKind::Destination,
            value: "Partner.example",
            reason: Some("our accountant"),
            added_by: None,
            expires_at: None,
        })
        .unwrap();
    let alerts = local
        .commit_blob(commit_one(&t.tenant_id, "b1", &[alert("r1"), alert("r2")]))
        .unwrap();
    local.take_alert(alerts[0].id, "Dana", false).unwrap();
    local
        .append_log(&NewLogEntry {
            alert_id: Some(alerts[0].id),
            ..step("Dana", "block-sign-in")
        })
        .unwrap();

    let place = Place::postgres();
    let team = place.open().sign_record_with(secrets);
    // A colleague stored r2 already, from the same blob.
    let colleague_tenant = tenant(&team);
    team.commit_blob(commit_one(
        &colleague_tenant.tenant_id,
        "b1",
        &[alert("r2")],
    ))
    .unwrap();
    let queued = team.pending_deliveries("desktop").unwrap().len();

    let copied = team.migrate_from(&local).unwrap();
    assert_eq!(
        copied,
        Migrated {
            tenants: 0,
            allowlist: 1,
            alerts: 1,
            steps: 1
        }
    );
    assert_eq!(
        team.migrate_from(&local).unwrap(),
        Migrated::default(),
        "twice copies nothing"
    );
    assert_eq!(
        team.pending_deliveries("desktop").unwrap().len(),
        queued,
        "copied alerts are not notified again"
    );
    let shared = team.alerts().unwrap();
    assert_eq!(shared.len(), 2);
    let held = shared.iter().find(|a| a.record_id == "r1").unwrap();
    assert_eq!(held.assignee.as_deref(), Some("Dana"));
    assert!(
        held.incident_id.is_some(),
        "it joins an incident in the team"
    );
    let review = team.alert_review(held.id).unwrap();
    assert_eq!(review.history.len(), 1, "{review:?}");
    assert_eq!(review.history[0].technician, "Dana");
    let log = team.log().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        log[0].step.alert_id,
        Some(held.id),
        "the step names the team's alert"
    );
    assert_eq!(log[0].at, local.log().unwrap()[0].at, "and keeps its time");
    assert!(team.verify_log().unwrap().intact);
    assert_eq!(
        team.trust_entries(None).unwrap()[0].value,
        "Partner.example"
    );
}

/// The team's server closes a workstation's connection (a restart, an administrator):
/// the next call after it notices opens a new one, and nothing stored is lost.
#[test]
fn a_connection_the_server_closed_is_opened_again() {
    let place = Place::postgres();
    let store = place.open();
    let t = tenant(&store);
    let pid: i32 = store
        .with(|c| Ok(c.query_row("SELECT pg_backend_pid()", [], |r| r.get(0))?))
        .unwrap();
    let admin = place.open();
    let ended: bool = admin
        .with(|c| Ok(c.query_row("SELECT pg_terminate_backend(?1)", [pid], |r| r.get(0))?))
        .unwrap();
    assert!(ended);
    let before = store.data_version().unwrap();
    // The first call may be the one that finds the connection gone; within a few
    // seconds one opens it again.
    let back = (0..40).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        store.tenant(&t.tenant_id).is_ok()
    });
    assert!(back, "the store never reconnected");
    assert_eq!(store.tenants().unwrap().len(), 1);
    assert_ne!(
        store.data_version().unwrap(),
        before,
        "changes missed while away count as a change"
    );
}

/// Sets the rows `sql` picks to time `at` (its `?1`): the store stamps tenant events,
/// monitoring events and alerts with the clock, and retention needs rows of other ages.
fn date(store: &Store, sql: &str, at: chrono::DateTime<Utc>) {
    store
        .with(|c| {
            assert!(c.execute(sql, [ts(at)])? > 0, "no row to date: {sql}");
            Ok(())
        })
        .unwrap();
}

fn count(store: &Store, sql: &str) -> i64 {
    store
        .with(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
        .unwrap()
}

/// Each table holds rows on both sides of its bound; the prune takes exactly the older
/// ones, leaves what is still queued, and never an alert, incident, history or
/// remediation step.
fn pruning_removes_only_what_the_retention_no_longer_keeps(place: &Place) {
    let store = place
        .open()
        .sign_record_with(Arc::new(crate::secrets::MemorySecrets::default()));
    let t = tenant(&store);
    let now = Utc::now();
    let day = Duration::days(1);
    let policy = Retention::default();
    assert_eq!(
        (policy.raw_days, policy.events_days, policy.sign_ins_days),
        (180, 30, 180)
    );

    // A blob Microsoft no longer lists, one just inside the day's margin, and a new one;
    // the oldest and the newest each brought an alert and a sign-in.
    let blob = |content_id, created, alerts: &[NewAlert], sign_ins: &[SignIn]| {
        store
            .commit_blob(BlobCommit {
                tenant_id: &t.tenant_id,
                content_type: "Audit.Exchange",
                content_id,
                content_created: created,
                records: alerts.len() + sign_ins.len(),
                expired: false,
                alerts,
                sign_ins,
                countables: &[],
                tune: &|_| {},
                cursor: None,
            })
            .unwrap();
    };
    let sign_in = |ip: &str, days_ago: i32| SignIn {
        user: "adele@contoso.com".into(),
        ip: ip.into(),
        at: now - day * days_ago,
    };
    blob(
        "blob-old",
        now - day * 9,
        &[alert("r-old")],
        &[sign_in("198.51.100.1", 181)],
    );
    blob("blob-margin", now - day * 8 + Duration::hours(1), &[], &[]);
    blob(
        "blob-new",
        now - Duration::hours(1),
        &[alert("r-new")],
        &[sign_in("198.51.100.2", 179)],
    );
    date(
        &store,
        "UPDATE alerts SET detected_at = ?1 WHERE record_id = 'r-old'",
        now - day * 181,
    );
    date(
        &store,
        "UPDATE alerts SET detected_at = ?1 WHERE record_id = 'r-new'",
        now - day * 179,
    );
    let id = |record: &str| {
        store
            .alerts()
            .unwrap()
            .into_iter()
            .find(|a| a.record_id == record)
            .unwrap()
            .id
    };
    let (old_id, new_id) = (id("r-old"), id("r-new"));
    store.note_alert(old_id, "alice", "looked into it").unwrap();
    store
        .append_log(&NewLogEntry {
            alert_id: Some(old_id),
            tenant_id: t.tenant_id.clone(),
            ..step("Dana", "block-sign-in")
        })
        .unwrap();

    for message in ["old", "recent"] {
        store
            .record_event(&t.tenant_id, "data_gap", None, message)
            .unwrap();
    }
    date(
        &store,
        "UPDATE tenant_events SET at = ?1 WHERE message = 'old'",
        now - day * 31,
    );
    date(
        &store,
        "UPDATE tenant_events SET at = ?1 WHERE message = 'recent'",
        now - day * 29,
    );

    // One answer expired nine days ago, one good for ten more days.
    store
        .cache_location("192.0.2.1", "mmdb", None, now - day * 10, day)
        .unwrap();
    store
        .cache_location("192.0.2.2", "mmdb", None, now - day * 10, day * 20)
        .unwrap();

    // Three monitoring events for two channels: an old one both delivered, an old one
    // still queued for hook-b, and a recent one both delivered.
    for hook in ["hook-a", "hook-b"] {
        store
            .add_channel(hook, "webhook", &serde_json::json!({}))
            .unwrap();
    }
    for state in [TenantState::Error, TenantState::Ok, TenantState::Error] {
        store
            .set_status(&StatusUpdate {
                tenant_id: &t.tenant_id,
                state,
                problem: Some("consent_missing"),
                message: Some("consent was withdrawn"),
                throttled: 0,
                retried: 0,
            })
            .unwrap();
    }
    let events: Vec<i64> = store
        .queued_events("hook-a")
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    let [broke, recovered, broke_again] = events[..] else {
        panic!("three events: {events:?}")
    };
    for (hook, event) in [
        ("hook-a", broke),
        ("hook-b", broke),
        ("hook-a", recovered),
        ("hook-a", broke_again),
        ("hook-b", broke_again),
    ] {
        store.event_delivery(hook, event, None).unwrap();
    }
    for event in [broke, recovered] {
        date(
            &store,
            &format!("UPDATE monitoring_events SET at = ?1 WHERE id = {event}"),
            now - day * 31,
        );
    }

    let incidents = store.incidents(None).unwrap().len();
    assert_eq!(
        store.prune(now, &policy).unwrap(),
        Pruned {
            processed_blobs: 1,
            burst_events: 0,
            tenant_events: 1,
            geo_cache: 1,
            sign_ins: 1,
            event_deliveries: 2,
            monitoring_events: 1,
            raw_records: 1,
        }
    );

    let processed: Vec<bool> = ["blob-old", "blob-margin", "blob-new"]
        .iter()
        .map(|b| store.is_processed(&t.tenant_id, b).unwrap())
        .collect();
    assert_eq!(processed, [false, true, true]);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM tenant_events WHERE message = 'recent'"
        ),
        count(&store, "SELECT COUNT(*) FROM tenant_events")
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM tenant_events"), 1);
    assert!(
        store
            .cached_location("192.0.2.1", now - day * 10)
            .unwrap()
            .is_none(),
        "the expired answer is gone, not only hidden"
    );
    assert!(store.cached_location("192.0.2.2", now).unwrap().is_some());
    assert_eq!(
        store
            .sign_in_ips(&t.tenant_id, "adele@contoso.com", now, 10)
            .unwrap(),
        ["198.51.100.2"]
    );
    let waiting: Vec<i64> = store
        .queued_events("hook-b")
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(waiting, [recovered], "still queued for hook-b, so kept");
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM monitoring_events"),
        2,
        "the recent event and the queued one"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM event_deliveries"), 4);

    // The alert stays, its raw record reads as pruned; the newer one is untouched.
    assert_eq!(store.alerts().unwrap().len(), 2);
    let (old, raw) = store.alert_with_record(old_id).unwrap();
    assert_eq!(old.record_id, "r-old");
    let words = pruned_record(&raw).expect("the old record reads as pruned");
    assert!(words.contains("pruned after 180 days"), "{words}");
    let (_, raw) = store.alert_with_record(new_id).unwrap();
    assert_eq!((raw.as_str(), pruned_record(&raw)), ("{}", None));
    assert_eq!(store.incidents(None).unwrap().len(), incidents);
    assert_eq!(store.alert_review(old_id).unwrap().history.len(), 1);
    assert_eq!(store.log().unwrap().len(), 1);
    assert!(store.verify_log().unwrap().intact);

    assert_eq!(
        store.prune(now, &policy).unwrap(),
        Pruned::default(),
        "nothing is left to prune"
    );
    // A longer retention chosen later marks newly pruned records with it; the record
    // pruned before keeps the days it was kept.
    let longer = Retention {
        raw_days: 365,
        ..policy
    };
    assert_eq!(
        store.prune(now + day * 400, &longer).unwrap().raw_records,
        1
    );
    let said = |id| pruned_record(&store.alert_with_record(id).unwrap().1).unwrap();
    assert!(said(old_id).contains("after 180 days"));
    assert!(said(new_id).contains("after 365 days"));
}

/// The scan's prune runs once a day per store, whichever process or workstation asks.
fn a_day_s_prune_happens_once_whoever_asks(place: &Place) {
    let desk = place.open();
    let colleague = place.open();
    let now = Utc::now();
    let policy = Retention::default();
    let expired = |ip| {
        desk.cache_location(
            ip,
            "mmdb",
            None,
            now - Duration::days(10),
            Duration::days(1),
        )
        .unwrap()
    };
    expired("192.0.2.1");
    assert_eq!(
        desk.prune_if_due(now, &policy)
            .unwrap()
            .map(|p| p.geo_cache),
        Some(1)
    );
    expired("192.0.2.2");
    assert_eq!(
        colleague
            .prune_if_due(now + Duration::hours(23), &policy)
            .unwrap(),
        None,
        "pruned less than a day ago"
    );
    assert!(
        desk.cached_location("192.0.2.2", now - Duration::days(10))
            .unwrap()
            .is_some(),
        "left for the next day's prune"
    );
    assert_eq!(
        colleague
            .prune_if_due(now + Duration::hours(24), &policy)
            .unwrap()
            .map(|p| p.geo_cache),
        Some(1)
    );
}

/// Workstations whose scans end together: each looks, finds the day's prune due, and the
/// writer lock lets exactly one of them do it.
fn workstations_pruning_at_once_prune_once(place: &Place) {
    let stores: Vec<Store> = (0..4).map(|_| place.open()).collect();
    let now = Utc::now();
    let start = std::sync::Barrier::new(stores.len());
    let pruned = std::thread::scope(|s| {
        let runs: Vec<_> = stores
            .iter()
            .map(|store| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    store.prune_if_due(now, &Retention::default()).unwrap()
                })
            })
            .collect();
        runs.into_iter().filter_map(|r| r.join().unwrap()).count()
    });
    assert_eq!(pruned, 1);
}

fn sqlite_number(store: &Store, pragma: &str) -> i64 {
    store
        .with(|c| Ok(c.query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))?))
        .unwrap()
}

#[test]
fn a_new_file_hands_freed_pages_back_incrementally() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(sqlite_number(&store, "auto_vacuum"), 2, "INCREMENTAL");
}

#[test]
fn a_file_from_before_pruning_is_switched_to_incremental_vacuum() {
    let dir = tempfile::tempdir().unwrap();
    {
        // A database as the first release left it: auto_vacuum NONE.
        let mut conn = rusqlite::Connection::open(dir.path().join("rulewatch.db")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        migrations().to_version(&mut conn, 1).unwrap();
        conn.execute_batch(
            "INSERT INTO tenants VALUES ('t1', 'Contoso', 'c1', 'client_secret', NULL, '2026-11-01T00:00:00.000Z');
             INSERT INTO tenant_status (tenant_id, state) VALUES ('t1', 'ok');",
        )
        .unwrap();
        let mode: i64 = conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, 0);
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(sqlite_number(&store, "auto_vacuum"), 2);
    assert_eq!(store.tenant("t1").unwrap().name, "Contoso", "kept");
    drop(store);
    let again = Store::open(dir.path()).unwrap();
    assert_eq!(sqlite_number(&again, "auto_vacuum"), 2);
}

#[test]
fn pruning_many_rows_shrinks_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let t = tenant(&store);
    let long = "x".repeat(4000);
    for _ in 0..300 {
        store
            .record_event(&t.tenant_id, "blob_failed", None, &long)
            .unwrap();
    }
    let file = dir.path().join("rulewatch.db");
    let checkpointed_size = || {
        store
            .with(|c| Ok(c.fetch("PRAGMA wal_checkpoint(TRUNCATE)", Vec::new())?))
            .unwrap();
        std::fs::metadata(&file).unwrap().len()
    };
    let (pages, size) = (sqlite_number(&store, "page_count"), checkpointed_size());
    let later = Utc::now() + Duration::days(31);
    let pruned = store.prune(later, &Retention::default()).unwrap();
    assert_eq!(pruned.tenant_events, 300);
    let left = sqlite_number(&store, "page_count");
    assert!(left < pages - 250, "{pages} pages before, {left} after");
    assert_eq!(sqlite_number(&store, "freelist_count"), 0);
    let smaller = checkpointed_size();
    assert!(
        smaller < size - 250 * 4096,
        "{size} bytes before, {smaller} after"
    );
}

/// The alert list a page at a time (issue 15): each filter's rows and count, pages that
/// cover every match once in a stable order, search text taken literally, ranked severity.
mod paging {
    use super::*;
    use crate::detect::Severity;

    on_both_engines!(
        each_filter_answers_its_alerts_and_how_many_match,
        pages_cover_every_match_once_in_a_stable_order,
        a_page_past_the_end_is_the_last_page,
        search_text_is_literal_and_ignores_ascii_case,
        severity_is_ranked_before_the_limit,
        the_tenants_are_every_alert_s_under_its_newest_name,
    );

    const TENANTS: [(&str, &str); 4] = [
        ("0b9d3f53-5b73-4c41-9ad2-6f6b51b9a001", "Fabrikam"),
        ("8d4121ed-0008-406d-bff9-0d5bb312183c", "Contoso"),
        ("5e1c2a77-1111-4c41-9ad2-6f6b51b9a002", "Northwind"),
        ("c3a8e0f1-2222-4c41-9ad2-6f6b51b9a003", "Tailspin"),
    ];
    const SEVERITIES: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    const STATUSES: [AlertStatus; 5] = [
        AlertStatus::Open,
        AlertStatus::Acknowledged,
        AlertStatus::FalsePositive,
        AlertStatus::Resolved,
        AlertStatus::Suppressed,
    ];

    fn add_tenants(store: &Store) {
        for (id, name) in TENANTS {
            store
                .add_tenant(&TenantRow {
                    tenant_id: id.into(),
                    name: name.into(),
                    client_id: "11111111-2222-3333-4444-555555555555".into(),
                    auth_method: AuthMethod::ClientSecret,
                    cloud: None,
                })
                .unwrap();
        }
    }

    /// An alert about an inbox rule, which names no destination (so none makes a fan-in).
    fn hiding(record_id: &str) -> NewAlert {
        NewAlert {
            rule: "inbox-rule-hides-mail".into(),
            details: Evidence::read("inbox-rule-hides-mail", serde_json::json!({})),
            ..alert(record_id)
        }
    }

    /// 300 alerts over four tenants, every status, severity and holder (Alice, bob,
    /// nobody); two at each instant, three without an event time, and Contoso's newest
    /// under a newer name. Answers them as `Store::alerts` orders them.
    fn fill(store: &Store) -> Vec<Alert> {
        add_tenants(store);
        let start = Utc::now() - Duration::days(1);
        for (n, (id, name)) in TENANTS.iter().enumerate() {
            let alerts: Vec<NewAlert> = (0..300usize)
                .filter(|i| i % 4 == n)
                .map(|i| NewAlert {
                    tenant_name: if *name == "Contoso" && i < 20 {
                        "Contoso Ltd".into()
                    } else {
                        (*name).into()
                    },
                    severity: SEVERITIES[i / 4 % 4],
                    target: format!("user{}@{}.example", i % 10, name.to_lowercase()),
                    actor: format!("admin{}@{}.example", i % 3, name.to_lowercase()),
                    client_ip: (i % 6 != 0).then(|| format!("203.0.113.{}", i % 50)),
                    summary: format!("Alert number {i}"),
                    event_time: (i % 97 != 50).then(|| start - Duration::minutes(i as i64 / 2)),
                    suppressed_by: (STATUSES[i % 5] == AlertStatus::Suppressed)
                        .then(|| "trusted destination".into()),
                    ..hiding(&format!("r{i}"))
                })
                .collect();
            store
                .commit_blob(commit_one(id, &format!("blob-{n}"), &alerts))
                .unwrap();
        }
        store
            .with(|c| {
                let tx = c.transaction()?;
                let ids = tx
                    .prepare("SELECT id, record_id FROM alerts")?
                    .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
                    .collect::<db::Result<Vec<_>>>()?;
                for (id, record) in ids {
                    let i: usize = record[1..].parse().unwrap();
                    let holder = match i % 7 {
                        0 | 1 => Some("Alice"),
                        2 => Some("bob"),
                        _ => None,
                    };
                    tx.execute(
                        "UPDATE alerts SET status = ?2, assignee = ?3 WHERE id = ?1",
                        params![id, STATUSES[i % 5].as_str(), holder],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .unwrap();
        let all = store.alerts().unwrap();
        assert_eq!(all.len(), 300);
        all
    }

    /// Whether `q` lets `a` by, written apart from the store's SQL as the panel's filters
    /// read.
    fn lets_by(q: &AlertQuery, a: &Alert) -> bool {
        let status = match q.status {
            StatusFilter::All => true,
            StatusFilter::Active => {
                matches!(a.status, AlertStatus::Open | AlertStatus::Acknowledged)
            }
            StatusFilter::Only(s) => a.status == s,
        };
        let needle = q.search.trim().to_ascii_lowercase();
        let fields = [
            a.summary.as_str(),
            &a.target,
            &a.actor,
            &a.tenant_name,
            &a.rule,
            a.client_ip.as_deref().unwrap_or_default(),
        ];
        let found = needle.is_empty()
            || fields
                .iter()
                .any(|f| f.to_ascii_lowercase().contains(&needle));
        let held = match &q.assignee {
            None => true,
            Some(Assignee::Nobody) => a.assignee.is_none(),
            Some(Assignee::Named(who)) => a
                .assignee
                .as_deref()
                .is_some_and(|held| held.eq_ignore_ascii_case(who)),
        };
        status
            && q.severity.is_none_or(|s| a.severity >= s)
            && q.tenant.as_ref().is_none_or(|t| &a.tenant_id == t)
            && found
            && held
    }

    fn ids(alerts: &[Alert]) -> Vec<i64> {
        alerts.iter().map(|a| a.id).collect()
    }

    fn each_filter_answers_its_alerts_and_how_many_match(place: &Place) {
        let store = place.open();
        let all = fill(&store);
        let q = |f: &dyn Fn(&mut AlertQuery)| {
            let mut q = AlertQuery {
                limit: 500,
                ..AlertQuery::default()
            };
            f(&mut q);
            q
        };
        let mut queries = vec![
            q(&|_| {}),
            q(&|q| q.status = StatusFilter::Active),
            q(&|q| q.tenant = Some("no-such-tenant".into())),
            q(&|q| q.assignee = Some(Assignee::Nobody)),
            q(&|q| q.assignee = Some(Assignee::Named("ALICE".into()))),
            q(&|q| q.assignee = Some(Assignee::Named("carol".into()))),
            q(&|q| q.search = "USER3@".into()),
            q(&|q| q.search = " 203.0.113.4 ".into()),
            q(&|q| q.search = "northwind".into()),
            q(&|q| q.search = "admin2@".into()),
            q(&|q| q.search = "number 1".into()),
            q(&|q| {
                q.status = StatusFilter::Active;
                q.severity = Some(Severity::High);
                q.tenant = Some(TENANTS[1].0.into());
                q.assignee = Some(Assignee::Nobody);
            }),
            q(&|q| {
                q.status = StatusFilter::Only(AlertStatus::Resolved);
                q.search = "contoso".into();
                q.assignee = Some(Assignee::Named("bob".into()));
            }),
        ];
        queries.extend(STATUSES.map(|s| q(&|q| q.status = StatusFilter::Only(s))));
        queries.extend(
            SEVERITIES[1..]
                .iter()
                .map(|s| q(&|q| q.severity = Some(*s))),
        );
        queries.extend(TENANTS.map(|(id, _)| q(&|q| q.tenant = Some(id.into()))));
        for query in &queries {
            let expected: Vec<i64> = all
                .iter()
                .filter(|a| lets_by(query, a))
                .map(|a| a.id)
                .collect();
            let page = store.alert_page(query).unwrap();
            assert_eq!(ids(&page.alerts), expected, "{query:?}");
            assert_eq!(page.total, expected.len() as u64, "{query:?}");
            // The first page of a panel's size: the first rows, the same count.
            let first = store
                .alert_page(&AlertQuery {
                    limit: 25,
                    ..query.clone()
                })
                .unwrap();
            assert_eq!(
                ids(&first.alerts),
                expected[..expected.len().min(25)],
                "{query:?}"
            );
            assert_eq!(first.total, expected.len() as u64, "{query:?}");
        }
        // Each filter keeps some alerts and drops others, so none is ignored unnoticed.
        for query in &queries[1..] {
            let kept = all.iter().filter(|a| lets_by(query, a)).count();
            assert!(kept < all.len(), "{query:?} drops nothing");
        }
        let active = store.alert_page(&queries[1]).unwrap();
        assert_eq!(
            active.total, 120,
            "open and acknowledged: two statuses in five"
        );
    }

    fn pages_cover_every_match_once_in_a_stable_order(place: &Place) {
        let store = place.open();
        let all = fill(&store);
        for status in [StatusFilter::All, StatusFilter::Active] {
            let query = AlertQuery {
                status,
                limit: 7,
                ..AlertQuery::default()
            };
            let mut seen = Vec::new();
            let mut offset = 0;
            loop {
                let page = store
                    .alert_page(&AlertQuery {
                        offset,
                        ..query.clone()
                    })
                    .unwrap();
                assert_eq!(page.offset, offset);
                assert!(page.alerts.len() <= 7);
                // Read again, the same page.
                let again = store
                    .alert_page(&AlertQuery {
                        offset,
                        ..query.clone()
                    })
                    .unwrap();
                assert_eq!(ids(&again.alerts), ids(&page.alerts));
                seen.extend(page.alerts);
                offset += 7;
                if offset >= page.total {
                    break;
                }
            }
            let expected: Vec<i64> = all
                .iter()
                .filter(|a| lets_by(&query, a))
                .map(|a| a.id)
                .collect();
            assert_eq!(
                ids(&seen),
                expected,
                "the pages, in order, are every match once"
            );
            // Newest event first; alerts of one instant by id, the later stored first.
            for pair in seen.windows(2) {
                if let (Some(a), Some(b)) = (pair[0].event_time, pair[1].event_time) {
                    assert!(a > b || (a == b && pair[0].id > pair[1].id), "{pair:?}");
                }
            }
            assert!(
                seen.windows(2)
                    .any(|p| p[0].event_time.is_some() && p[0].event_time == p[1].event_time),
                "the fill has alerts of one instant"
            );
        }
    }

    fn a_page_past_the_end_is_the_last_page(place: &Place) {
        let store = place.open();
        let all = fill(&store);
        let query = AlertQuery {
            status: StatusFilter::Only(AlertStatus::Open),
            limit: 25,
            ..AlertQuery::default()
        };
        let open: Vec<i64> = all
            .iter()
            .filter(|a| a.status == AlertStatus::Open)
            .map(|a| a.id)
            .collect();
        assert_eq!(open.len(), 60);
        // Asked for the fourth page after a colleague resolved some: the third, the last.
        for asked in [60, 75, 1000] {
            let page = store
                .alert_page(&AlertQuery {
                    offset: asked,
                    ..query.clone()
                })
                .unwrap();
            assert_eq!(page.offset, 50);
            assert_eq!(ids(&page.alerts), open[50..]);
        }
        let none = store
            .alert_page(&AlertQuery {
                tenant: Some("no-such-tenant".into()),
                offset: 100,
                ..query.clone()
            })
            .unwrap();
        assert_eq!((none.total, none.offset, none.alerts.len()), (0, 0, 0));
    }

    fn search_text_is_literal_and_ignores_ascii_case(place: &Place) {
        let store = place.open();
        add_tenants(&store);
        let summaries = [
            "Half: 50% of the mail",
            "Five hundred: 500 of the mail",
            "Rule a_b hides the mail",
            "Rule axb hides the mail",
            "Path a\\b hides the mail",
            "Sends to EVE@Evil.Example",
        ];
        let alerts: Vec<NewAlert> = summaries
            .iter()
            .enumerate()
            .map(|(i, s)| NewAlert {
                summary: (*s).into(),
                target: format!("user{i}@contoso.com"),
                actor: format!("user{i}@contoso.com"),
                client_ip: Some(format!("203.0.113.{i}")),
                event_time: Some(Utc::now() - Duration::minutes(i as i64)),
                ..hiding(&format!("r{i}"))
            })
            .collect();
        let stored = store
            .commit_blob(commit_one(TENANTS[1].0, "b", &alerts))
            .unwrap();
        let id = |i: usize| {
            stored
                .iter()
                .find(|a| a.record_id == format!("r{i}"))
                .unwrap()
                .id
        };
        let found = |text: &str| -> Vec<i64> {
            let page = store
                .alert_page(&AlertQuery {
                    search: text.into(),
                    ..AlertQuery::default()
                })
                .unwrap();
            assert_eq!(page.total, page.alerts.len() as u64);
            let mut ids = ids(&page.alerts);
            ids.sort_unstable();
            ids
        };
        assert_eq!(found("%"), [id(0)], "% is a percent sign, not any text");
        assert_eq!(found("50%"), [id(0)]);
        assert_eq!(found("_"), [id(2)], "_ is an underscore, not any letter");
        assert_eq!(found("a_b"), [id(2)]);
        assert_eq!(found("a\\b"), [id(4)], "\\ is itself, not an escape");
        assert_eq!(found("\\"), [id(4)]);
        assert_eq!(found("eve@EVIL.example"), [id(5)]);
        assert_eq!(found("  USER3@Contoso  "), [id(3)]);
        assert_eq!(found("203.0.113.1"), [id(1)]);
        assert_eq!(found("HIDES-MAIL").len(), 6, "the rule's id");
        assert_eq!(found("contoso ltd"), Vec::<i64>::new());
        assert_eq!(found("Contoso").len(), 6, "the tenant's name");
        assert_eq!(found("' OR '1'='1"), Vec::<i64>::new());
        assert_eq!(found("'; DELETE FROM alerts; --"), Vec::<i64>::new());
        assert_eq!(found("   ").len(), 6, "blank: no search");
        assert_eq!(store.alerts().unwrap().len(), 6);
    }

    fn severity_is_ranked_before_the_limit(place: &Place) {
        let store = place.open();
        let all = fill(&store);
        for (least, graver) in [
            (Severity::Low, 300),
            (Severity::Medium, 224),
            (Severity::High, 148),
            (Severity::Critical, 72),
        ] {
            let page = store
                .alert_page(&AlertQuery {
                    severity: Some(least),
                    limit: 10,
                    ..AlertQuery::default()
                })
                .unwrap();
            // As text, "critical" < "high" < "low" < "medium": ranked, high takes critical
            // and not low.
            assert_eq!(page.total, graver, "{least:?}");
            assert_eq!(
                page.alerts.len(),
                10,
                "filtered before the limit, not after"
            );
            assert!(page.alerts.iter().all(|a| a.severity >= least));
            let expected: Vec<i64> = all
                .iter()
                .filter(|a| a.severity >= least)
                .take(10)
                .map(|a| a.id)
                .collect();
            assert_eq!(ids(&page.alerts), expected);
        }
    }

    fn the_tenants_are_every_alert_s_under_its_newest_name(place: &Place) {
        let store = place.open();
        let empty = store.alert_page(&AlertQuery::default()).unwrap();
        assert!(empty.tenants.is_empty() && empty.alerts.is_empty() && empty.total == 0);
        fill(&store);
        // Whatever the filters, and with no alert matching.
        let page = store
            .alert_page(&AlertQuery {
                tenant: Some(TENANTS[0].0.into()),
                search: "nothing like this".into(),
                ..AlertQuery::default()
            })
            .unwrap();
        assert_eq!(page.total, 0);
        let tenants: Vec<(&str, &str)> = page
            .tenants
            .iter()
            .map(|t| (t.tenant_id.as_str(), t.tenant_name.as_str()))
            .collect();
        assert_eq!(
            tenants,
            [
                (TENANTS[1].0, "Contoso Ltd"),
                TENANTS[0],
                TENANTS[2],
                TENANTS[3],
            ]
        );
    }
}

#[test]
fn allowlist_entries_from_before_scopes_keep_their_tenant_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    {
        // The allowlist as it was before scopes and expiry: every entry of one tenant.
        let mut conn = rusqlite::Connection::open(dir.path().join("rulewatch.db")).unwrap();
        migrations().to_version(&mut conn, 2).unwrap();
        conn.execute_batch(
            "INSERT INTO tenants VALUES ('t1', 'Contoso', 'c1', 'client_secret', NULL, '2026-11-01T00:00:00.000Z');
             INSERT INTO allowlist (tenant_id, kind, value, note, added_at)
                 VALUES ('t1', 'destination', 'partner.example', 'their accountant', '2026-11-02T00:00:00.000Z');",
        )
        .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let entries = store.trust_entries(None).unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.tenant_id.as_deref(), Some("t1"));
    assert_eq!(e.reason.as_deref(), Some("their accountant"));
    assert_eq!((e.account.as_deref(), e.expires_at), (None, None));
    store.remove_tenant("t1").unwrap();
    assert!(
        store.trust_entries(None).unwrap().is_empty(),
        "the rebuilt table still goes with its tenant"
    );
}
