//! The store on a real SQLite file: a blob committed twice inserts nothing twice, the
//! cursor never rewinds, and the outbox hands each alert out until it is delivered.

use chrono::{Duration, Utc};
use serde_json::json;

use super::*;
use crate::auth::AuthMethod;

fn tenant(store: &Store) -> TenantRow {
    let t = TenantRow {
        tenant_id: "8d4121ed-0008-406d-bff9-0d5bb312183c".into(),
        name: "Contoso".into(),
        client_id: "11111111-2222-3333-4444-555555555555".into(),
        auth_method: AuthMethod::ClientSecret,
    };
    store.add_tenant(&t).unwrap();
    t
}

fn alert(record_id: &str) -> NewAlert {
    NewAlert {
        tenant_name: "Contoso".into(),
        record_id: record_id.into(),
        rule: "mailbox-external-forward".into(),
        severity: "high".into(),
        operation: "Set-Mailbox".into(),
        target: "adele@contoso.com".into(),
        actor: "adele@contoso.com".into(),
        client_ip: Some("203.0.113.9".into()),
        summary: "s".into(),
        details: json!({}),
        event_time: Some(Utc::now()),
        raw_record: "{}".into(),
    }
}

#[test]
fn recommitting_a_blob_inserts_and_queues_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
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
        cursor: Some(created),
    };
    assert_eq!(store.commit_blob(commit("blob-1", &alerts)).unwrap().len(), 2);
    // The same records again in another blob (Microsoft duplicates them).
    assert!(store.commit_blob(commit("blob-2", &alerts[..1])).unwrap().is_empty());
    assert!(store.is_processed(&t.tenant_id, "blob-1").unwrap());
    assert!(store.is_processed(&t.tenant_id, "blob-2").unwrap());
    assert_eq!(store.alerts().unwrap().len(), 2);

    assert_eq!(store.pending_outbox().unwrap().len(), 2);
    store.mark_delivered(&[store.pending_outbox().unwrap()[0].id]).unwrap();
    assert_eq!(store.pending_outbox().unwrap().len(), 1);
}

#[test]
fn the_cursor_only_moves_forward_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let t = tenant(&store);
    let later = Utc::now();
    store.advance_cursor(&t.tenant_id, "Audit.Exchange", later).unwrap();
    store.advance_cursor(&t.tenant_id, "Audit.Exchange", later - Duration::hours(3)).unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let got = store.cursor(&t.tenant_id, "Audit.Exchange").unwrap().unwrap();
    assert_eq!(ts(got), ts(later));
}

#[test]
fn removing_a_tenant_keeps_its_alerts_and_refuses_unknown_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
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
            cursor: None,
        })
        .unwrap();
    assert!(matches!(store.add_tenant(&t), Err(StoreError::TenantExists(_))));
    store.remove_tenant(&t.tenant_id).unwrap();
    assert!(store.tenants().unwrap().is_empty());
    assert_eq!(store.alerts().unwrap().len(), 1);
    assert!(matches!(store.remove_tenant(&t.tenant_id), Err(StoreError::NoTenant(_))));
}
