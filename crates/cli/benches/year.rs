//! A year of a 300-tenant MSP in one SQLite file: about 100,000 alerts judged from
//! sandbox-made attack records over the last 365 days (most resolved or false positives,
//! each with its history), a week of blob marks and a month of tenant events as the
//! retention keeps them, then pruned as the daily prune would. On it: the file's size,
//! opening the store and reading what the desktop reads before its tray is ready, the
//! alert list a page at a time with each filter (and every alert at once, as the panel
//! read them before), and one
//! scan cycle's database work against the same work on an empty file of the same
//! tenants (the baseline, measured in the same run).
//!
//! `cargo bench -p rulewatch-cli --bench year` measures 300 tenants × 333 alerts (`--
//! --keep DIR` leaves the year's store in DIR, which `scripts/measure-desktop.sh` can start
//! the app on); `cargo test --all-targets` runs it once on 6 × 20.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use m365_sandbox::attacks::{self, ForwardKind};
use m365_sandbox::testkit::TestTenant;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rulewatch_core::auth::AuthMethod;
use rulewatch_core::detect::{Severity, TenantContext};
use rulewatch_core::engine::{Judging, judge, split};
use rulewatch_core::store::{
    AlertQuery, AlertStatus, Assignee, BlobCommit, NewAlert, Retention, StatusFilter, StatusUpdate,
    Store, TenantRow, TenantState,
};
use rulewatch_core::tuning::Tuning;

/// Blobs a tenant's scan commits in a cycle, and how many of the cycle's tenants raise an
/// alert in it.
const BLOBS_PER_CYCLE: usize = 4;
const ALERT_EVERY: usize = 10;
/// Passes over each read; the best counts, as other work on the machine only slows one.
const PASSES: usize = 5;

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let (tenant_count, alerts_each) = if measuring { (300, 333) } else { (6, 20) };
    let now = Utc::now();
    let tenants: Vec<TestTenant> = (0..tenant_count).map(TestTenant::new).collect();
    let rows: Vec<TenantRow> = tenants.iter().map(row).collect();

    let year = tempfile::tempdir().expect("a folder");
    // `--keep DIR` fills DIR instead, for measure-desktop.sh to start the app on.
    let args: Vec<String> = std::env::args().collect();
    let keep = args
        .iter()
        .position(|a| a == "--keep")
        .map(|i| Path::new(args.get(i + 1).expect("--keep takes a folder")).to_path_buf());
    let folder = keep.as_deref().unwrap_or(year.path());
    let began = Instant::now();
    let store = Store::open(folder).expect("the store opens");
    let made = fill(&store, folder, &tenants, &rows, alerts_each, now);
    let pruned = store
        .prune(now, &Retention::default())
        .expect("the prune runs");
    drop(store);
    let filled = began.elapsed();
    println!(
        "{tenant_count} tenants, a year: {made} alerts judged from attacks in {:.1} s; the prune let go of {} raw records, {} blob marks, {} events",
        filled.as_secs_f64(),
        pruned.raw_records,
        pruned.processed_blobs,
        pruned.tenant_events
    );
    println!("file size: {:.1} MB", file_size(folder) as f64 / 1e6);

    let start = best(|| {
        let store = Store::open(folder).expect("the store opens");
        let tenants = store.tenants().expect("tenants");
        let open = store.open_alert_count().expect("a count");
        (tenants.len(), open)
    });
    println!(
        "opening the store and reading the tray's counts: {:.1} ms",
        ms(start)
    );
    let store = Store::open(folder).expect("the store opens");
    // Mailboxes forwarding to one address also raise that address's fan-in alerts.
    let stored = store.alerts().expect("alerts").len();
    assert!(stored >= made, "every alert made is stored");
    println!("alerts stored, fan-in alerts included: {stored}");
    let all = best(|| store.alerts().expect("alerts").len());
    println!(
        "every alert at once, as the panel read them before it paged: {:.1} ms",
        ms(all)
    );
    // The Overview's chart: the incidents begun in its 30 days, from their index.
    let mut begun = 0;
    let recent = best(|| {
        begun = store
            .incidents_since(now - chrono::Duration::days(30))
            .expect("incidents")
            .len();
        begun
    });
    println!(
        "the Overview's incidents of the last 30 days (target < 50 ms): {:.1} ms ({begun} incidents)",
        ms(recent)
    );
    // The panel's list: a page of 100 with its filters, the count and the tenants.
    let page = |q: AlertQuery| AlertQuery { limit: 100, ..q };
    let queries = [
        (
            "the first page (open or acknowledged)",
            page(AlertQuery {
                status: StatusFilter::Active,
                ..AlertQuery::default()
            }),
        ),
        ("every status", page(AlertQuery::default())),
        (
            "resolved",
            page(AlertQuery {
                status: StatusFilter::Only(AlertStatus::Resolved),
                ..AlertQuery::default()
            }),
        ),
        (
            "one tenant",
            page(AlertQuery {
                tenant: Some(tenants[tenant_count / 2].tenant_id.clone()),
                ..AlertQuery::default()
            }),
        ),
        (
            "high or worse",
            page(AlertQuery {
                severity: Some(Severity::High),
                ..AlertQuery::default()
            }),
        ),
        (
            "held by a technician",
            page(AlertQuery {
                assignee: Some(Assignee::Named("dana".into())),
                ..AlertQuery::default()
            }),
        ),
        (
            "a search",
            page(AlertQuery {
                search: "forward".into(),
                ..AlertQuery::default()
            }),
        ),
        (
            "the last page",
            page(AlertQuery {
                offset: u64::MAX / 2,
                ..AlertQuery::default()
            }),
        ),
    ];
    println!("the alert list a page at a time, as the panel asks for it (target < 50 ms):");
    for (name, query) in &queries {
        let mut total = 0;
        let took = best(|| {
            let p = store.alert_page(query).expect("a page");
            total = p.total;
            p.alerts.len()
        });
        println!("  {name}: {:.1} ms ({total} match)", ms(took));
    }
    // The "By incident" view's headings: the incidents of the page's alerts only.
    let shown = store
        .alert_page(&page(AlertQuery::default()))
        .expect("a page");
    let ids: Vec<i64> = shown.alerts.iter().filter_map(|a| a.incident_id).collect();
    let mut headed = 0;
    let headings = best(|| {
        headed = store.incidents_of(&ids).expect("incidents").len();
        headed
    });
    let every = best(|| store.incidents(None).expect("incidents").len());
    println!(
        "the \"By incident\" headings of a page of 100 (target < 50 ms): {:.1} ms ({headed} incidents); \
         every incident with its alerts, as the panel read them before: {:.1} ms",
        ms(headings),
        ms(every)
    );

    // One cycle's database work, on the year and on an empty file of the same tenants.
    let empty = tempfile::tempdir().expect("a folder");
    let fresh = Store::open(empty.path()).expect("the store opens");
    for r in &rows {
        fresh.add_tenant(r).expect("a tenant");
    }
    // A rule that hides mail names no destination, so no fan-in joins it across tenants.
    let alert = sample_alerts(&tenants[0], &rows[0], 3, now)
        .into_iter()
        .find(|a| a.rule == "inbox-rule-hides-mail")
        .expect("a delete-all rule judged");
    let on_empty = cycle(&fresh, &rows, &alert, "empty", now);
    let on_year = cycle(&store, &rows, &alert, "year", now);
    println!(
        "one scan cycle's database work for {tenant_count} tenants: {:.0} ms on the year, {:.0} ms on an empty file (ratio {:.2})",
        ms(on_year),
        ms(on_empty),
        on_year.as_secs_f64() / on_empty.as_secs_f64()
    );
    assert_eq!(
        store.alerts().expect("alerts").len(),
        stored + PASSES * tenant_count.div_ceil(ALERT_EVERY),
        "every cycle's alert is stored once"
    );
}

fn row(t: &TestTenant) -> TenantRow {
    TenantRow {
        tenant_id: t.tenant_id.clone(),
        name: t.name.clone(),
        client_id: t.client_id.clone(),
        auth_method: AuthMethod::ClientSecret,
        cloud: None,
    }
}

/// `count` attacks on `t` spread over the year before `now`, judged by the real rules.
fn sample_alerts(t: &TestTenant, r: &TenantRow, count: usize, now: DateTime<Utc>) -> Vec<NewAlert> {
    let mut rng = StdRng::seed_from_u64(t.tenant_id.bytes().map(u64::from).sum());
    let mut records = Vec::with_capacity(count);
    for i in 0..count {
        let mut ctx = t.ctx(rng.random_range(0..4), rng.random_range(0..4));
        ctx.creation_time = now - chrono::Duration::seconds(rng.random_range(60..365 * 86_400));
        ctx.client_ip = format!("203.0.113.{}:5{:04}", rng.random_range(1..255), i % 10_000);
        let drop = t.drop_box(&format!("d{}", i % 7));
        records.push(match i % 3 {
            0 => attacks::new_inbox_rule_forward(&ctx, "Sync", &[&drop], ForwardKind::ForwardTo),
            1 => attacks::new_inbox_rule_delete_all(&ctx, "."),
            _ => attacks::set_mailbox_forwarding(&ctx, Some(&drop), None, false),
        });
    }
    let body = serde_json::to_vec(&records).expect("records as JSON");
    let ctx = TenantContext {
        accepted_domains: vec![t.domain.clone(), t.initial_domain.clone()],
    };
    let tuning = Tuning::default();
    let judging = Judging {
        ctx: &ctx,
        tuning: &tuning,
    };
    judge(split::records(&body), &judging, r)
        .expect("the records are JSON")
        .alerts
}

/// The year: tenants, their alerts committed a blob of ten at a time, most of them
/// reviewed, and what retention keeps of blob marks and events. Answers the alerts made.
fn fill(
    store: &Store,
    dir: &Path,
    tenants: &[TestTenant],
    rows: &[TenantRow],
    alerts_each: usize,
    now: DateTime<Utc>,
) -> usize {
    let mut made = 0;
    for (t, r) in tenants.iter().zip(rows) {
        store.add_tenant(r).expect("a tenant");
        let mut alerts = sample_alerts(t, r, alerts_each, now);
        alerts.sort_by_key(|a| a.event_time);
        for (n, chunk) in alerts.chunks(10).enumerate() {
            let content_id = format!("{}-{n}", t.tenant_id);
            store
                .commit_blob(BlobCommit {
                    tenant_id: &r.tenant_id,
                    content_type: "Audit.Exchange",
                    content_id: &content_id,
                    content_created: chunk.last().and_then(|a| a.event_time).unwrap_or(now),
                    records: chunk.len(),
                    expired: false,
                    alerts: chunk,
                    sign_ins: &[],
                    countables: &[],
                    tune: &|_| {},
                    cursor: None,
                })
                .expect("a blob committed");
        }
        made += alerts.len();
    }
    // The bulk of a year's bookkeeping in one transaction per table, through SQLite
    // itself: the store's own calls would take a transaction per row, and this is a
    // generator, not the path under measurement.
    let db = rusqlite::Connection::open(dir.join("rulewatch.db")).expect("the file opens");
    let week_ago = rulewatch_core::store::ts(now - chrono::Duration::days(7));
    db.execute_batch(&format!(
        "BEGIN;
         -- Each alert was detected within the scan after its event.
         UPDATE alerts SET detected_at = COALESCE(event_time, detected_at);
         -- Older alerts were reviewed: nine in ten resolved, the rest false positives.
         INSERT INTO alert_history (alert_id, at, technician, action, note)
           SELECT id, detected_at, 'dana', CASE WHEN id % 10 = 0 THEN 'false_positive' ELSE 'resolved' END, NULL
           FROM alerts WHERE COALESCE(event_time, detected_at) < '{week_ago}';
         UPDATE alerts SET status = CASE WHEN id % 10 = 0 THEN 'false_positive' ELSE 'resolved' END,
                           status_changed_at = detected_at, assignee = 'dana', assigned_at = detected_at
           WHERE COALESCE(event_time, detected_at) < '{week_ago}';
         COMMIT;"
    ))
    .expect("reviews made");
    let tx = db.unchecked_transaction().expect("a transaction");
    {
        let mut mark = tx
            .prepare("INSERT INTO processed_blobs (tenant_id, content_id, content_created, processed_at, records, outcome) VALUES (?1, ?2, ?3, ?3, 100, 'processed')")
            .expect("a statement");
        let mut event = tx
            .prepare("INSERT INTO tenant_events (tenant_id, at, kind, content_id, message) VALUES (?1, ?2, 'blob_failed', ?3, 'a blob could not be read and will be tried again next scan')")
            .expect("a statement");
        for r in rows {
            // Eight days of blobs every half hour, and four events a day for a month.
            for i in 0..(8 * 48) {
                let at = rulewatch_core::store::ts(now - chrono::Duration::minutes(30 * i));
                mark.execute(rusqlite::params![r.tenant_id, format!("mark-{i}"), at])
                    .expect("a mark");
            }
            for i in 0..(30 * 4) {
                let at = rulewatch_core::store::ts(now - chrono::Duration::hours(6 * i));
                event
                    .execute(rusqlite::params![r.tenant_id, at, format!("mark-{i}")])
                    .expect("an event");
            }
        }
    }
    tx.commit().expect("committed");
    made
}

/// A scan cycle's store work: each tenant's lease, its blobs checked and committed (one
/// tenant in ALERT_EVERY with a new alert), its cursor and status, and the lease given
/// back. Answers the best of [`PASSES`]'s time, each on new blobs.
fn cycle(
    store: &Store,
    rows: &[TenantRow],
    alert: &NewAlert,
    name: &str,
    now: DateTime<Utc>,
) -> Duration {
    let mut best_time = Duration::MAX;
    for pass in 0..PASSES {
        let began = Instant::now();
        for (n, r) in rows.iter().enumerate() {
            let holder = format!("bench:{name}");
            store
                .take_scan_lease(
                    &r.tenant_id,
                    &holder,
                    now,
                    now + chrono::Duration::minutes(2),
                )
                .expect("a lease");
            for b in 0..BLOBS_PER_CYCLE {
                let content_id = format!("cycle-{pass}-{n}-{b}");
                if store
                    .is_processed(&r.tenant_id, &content_id)
                    .expect("a check")
                {
                    continue;
                }
                let mut fresh = alert.clone();
                fresh.record_id = format!("{content_id}-{}", alert.record_id);
                let alerts = if b == 0 && n % ALERT_EVERY == 0 {
                    vec![fresh]
                } else {
                    Vec::new()
                };
                store
                    .commit_blob(BlobCommit {
                        tenant_id: &r.tenant_id,
                        content_type: "Audit.Exchange",
                        content_id: &content_id,
                        content_created: now,
                        records: 100,
                        expired: false,
                        alerts: &alerts,
                        sign_ins: &[],
                        countables: &[],
                        tune: &|_| {},
                        cursor: Some(now),
                    })
                    .expect("a blob committed");
            }
            store
                .set_status(&StatusUpdate {
                    tenant_id: &r.tenant_id,
                    state: TenantState::Ok,
                    problem: None,
                    message: None,
                    throttled: 0,
                    retried: 0,
                })
                .expect("a status");
            store
                .release_scan_lease(&r.tenant_id, &holder)
                .expect("the lease given back");
        }
        best_time = best_time.min(began.elapsed());
    }
    best_time
}

/// The best time of [`PASSES`] runs of `read`.
fn best<T>(mut read: impl FnMut() -> T) -> Duration {
    (0..PASSES)
        .map(|_| {
            let began = Instant::now();
            std::hint::black_box(read());
            began.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The database file and its write-ahead log.
fn file_size(dir: &Path) -> u64 {
    ["rulewatch.db", "rulewatch.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}
