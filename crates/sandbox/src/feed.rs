//! The audit feed: which blobs exist, when each becomes listable, and what each contains.
//!
//! The layout is fixed at start from the scenario's seeds. Blob bodies are rendered on
//! each request: planted records verbatim, noise records regenerated from their seed.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::ids;
use crate::noise::{NOISE_SHARES, Population};
use crate::scenario::{ContentType, Scenario};
use crate::times::record_time;

/// How long Microsoft keeps content fetchable (A6).
pub(crate) const RETENTION: Duration = Duration::days(7);

/// The most noise records mixed into a blob that holds planted records.
const MAX_MIXED_NOISE: usize = 3;

/// How far after the original a duplicate's fresh blob is created, when no later blob exists.
const DUPLICATE_LAG_S: i64 = 30;

#[derive(Debug, Clone, Copy)]
enum Item {
    Planted(u32),
    /// Noise record `n`, generated relative to the creation time of the blob it was first put in.
    Noise {
        n: u32,
        home: DateTime<Utc>,
    },
}

pub(crate) struct Blob {
    pub id: String,
    pub tenant: usize,
    pub content_type: ContentType,
    pub created: DateTime<Utc>,
    /// Equals `created` unless the blob is late.
    pub listable_at: DateTime<Utc>,
    pub expired: bool,
    seq: usize,
    items: Vec<Item>,
}

impl Blob {
    pub(crate) fn expires(&self) -> DateTime<Utc> {
        self.created + RETENTION
    }

    /// The `nextPage` token that resumes a listing at this blob: digits, like Microsoft's.
    pub(crate) fn page_token(&self) -> String {
        format!("{}{:010}", self.created.format("%Y%m%d%H%M%S%3f"), self.seq)
    }
}

pub(crate) struct Feed {
    blobs: Vec<Blob>,
    by_id: HashMap<String, usize>,
    /// Per (tenant, content type): blob indexes in contentCreated order.
    lists: HashMap<(usize, ContentType), Vec<usize>>,
    planted: Vec<Value>,
    populations: Vec<Population>,
    noise_seed: u64,
    /// A test said the late blobs have arrived (`POST /_sandbox/late/release`), so it
    /// need not wait out `late_delay_s` on the clock.
    late_released: AtomicBool,
}

/// A blob before ids are assigned.
struct Draft {
    tenant: usize,
    content_type: ContentType,
    created: DateTime<Utc>,
    expired: bool,
    items: Vec<Item>,
}

impl Feed {
    /// Lays the feed out. `scenario` must have passed `Scenario::validate`.
    pub(crate) fn build(scenario: &Scenario, start: DateTime<Utc>) -> Feed {
        let tenant_index: HashMap<String, usize> = scenario
            .tenants
            .iter()
            .enumerate()
            .map(|(i, t)| (t.tenant_id.to_ascii_lowercase(), i))
            .collect();
        let mut chance = StdRng::seed_from_u64(scenario.faults.seed);
        let per_blob = scenario.records_per_blob;

        let mut planted = Vec::with_capacity(scenario.records.len());
        let mut groups: BTreeMap<(usize, ContentType, i64, bool), Vec<u32>> = BTreeMap::new();
        for r in &scenario.records {
            let tenant = tenant_index[&r.tenant_id.to_ascii_lowercase()];
            let mut record = r.record.clone();
            if scenario.rebase_times {
                record["CreationTime"] =
                    json!(record_time(start + Duration::seconds(r.release_after_s)));
            }
            let index = u32::try_from(planted.len()).expect("fewer than 2^32 planted records");
            groups
                .entry((tenant, r.content_type, r.release_after_s, r.expired))
                .or_default()
                .push(index);
            planted.push(record);
        }
        let mut drafts = Vec::new();
        for ((tenant, content_type, release_s, expired), members) in groups {
            for chunk in members.chunks(per_blob) {
                drafts.push(Draft {
                    tenant,
                    content_type,
                    created: start + Duration::seconds(release_s),
                    expired,
                    items: chunk.iter().map(|&i| Item::Planted(i)).collect(),
                });
            }
        }

        let noise = &scenario.noise;
        let spread_ms = i64::try_from(noise.spread_s.saturating_mul(1000)).unwrap_or(i64::MAX);
        let planted_blobs = drafts.len();
        for (content_type, divisor) in NOISE_SHARES {
            let total = u32::try_from(noise.records_per_tenant / divisor)
                .expect("fewer than 2^32 noise records");
            // Exchange lays its noise out with the seed itself, as before the other types
            // had noise, so its blobs are unchanged; each other type has a layout of its own.
            let mut layout = match content_type {
                ContentType::Exchange => StdRng::seed_from_u64(noise.seed),
                other => StdRng::seed_from_u64(ids::seed(&[
                    &noise.seed.to_le_bytes(),
                    other.as_str().as_bytes(),
                ])),
            };
            for tenant in 0..scenario.tenants.len() {
                let mut next = 0u32;
                // A few noise records beside planted ones, so attacks don't sit alone in a blob.
                for draft in drafts[..planted_blobs]
                    .iter_mut()
                    .filter(|d| d.tenant == tenant && d.content_type == content_type && !d.expired)
                {
                    let room = per_blob.saturating_sub(draft.items.len());
                    let count = layout
                        .random_range(1..=MAX_MIXED_NOISE)
                        .min(room)
                        .min((total - next) as usize) as u32;
                    draft
                        .items
                        .extend((next..next + count).map(|n| Item::Noise {
                            n,
                            home: draft.created,
                        }));
                    draft.items.shuffle(&mut layout);
                    next += count;
                }
                while next < total {
                    let size = (layout.random_range(per_blob.div_ceil(2)..=per_blob) as u32)
                        .min(total - next);
                    let created =
                        start - Duration::milliseconds(layout.random_range(0..=spread_ms));
                    drafts.push(Draft {
                        tenant,
                        content_type,
                        created,
                        expired: false,
                        items: (next..next + size)
                            .map(|n| Item::Noise { n, home: created })
                            .collect(),
                    });
                    next += size;
                }
            }
        }

        add_duplicates(&mut drafts, &mut chance, scenario.faults.duplicate_records);
        let late_delay =
            Duration::seconds(i64::try_from(scenario.faults.late_delay_s).unwrap_or(i64::MAX));
        let late: Vec<bool> = drafts
            .iter()
            .map(|_| chance.random_bool(scenario.faults.late_blobs))
            .collect();

        let mut order: Vec<usize> = (0..drafts.len()).collect();
        order.sort_by_key(|&i| drafts[i].created);
        let mut drafts: Vec<Option<Draft>> = drafts.into_iter().map(Some).collect();
        let mut blobs = Vec::with_capacity(order.len());
        let mut by_id = HashMap::with_capacity(order.len());
        let mut lists: HashMap<(usize, ContentType), Vec<usize>> = HashMap::new();
        for (seq, &i) in order.iter().enumerate() {
            let draft = drafts[i].take().expect("each draft placed once");
            let tenant_id = &scenario.tenants[draft.tenant].tenant_id;
            let id = content_id(seq, tenant_id, draft.content_type, draft.created);
            by_id.insert(id.clone(), seq);
            lists
                .entry((draft.tenant, draft.content_type))
                .or_default()
                .push(seq);
            blobs.push(Blob {
                id,
                tenant: draft.tenant,
                content_type: draft.content_type,
                created: draft.created,
                listable_at: if late[i] {
                    draft.created + late_delay
                } else {
                    draft.created
                },
                expired: draft.expired,
                seq,
                items: draft.items,
            });
        }
        Feed {
            blobs,
            by_id,
            lists,
            planted,
            populations: scenario
                .tenants
                .iter()
                .map(|t| Population::new(t, scenario.noise.alerting_look_alikes))
                .collect(),
            noise_seed: noise.seed,
            late_released: AtomicBool::new(false),
        }
    }

    /// Blobs of one tenant and content type created in `[from, to)` and listable at `now`.
    pub(crate) fn listable(
        &self,
        tenant: usize,
        content_type: ContentType,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        now: DateTime<Utc>,
    ) -> Vec<&Blob> {
        self.lists
            .get(&(tenant, content_type))
            .map_or_else(Vec::new, |list| {
                list.iter()
                    .map(|&i| &self.blobs[i])
                    .filter(|b| b.created >= from && b.created < to && self.is_listable(b, now))
                    .collect()
            })
    }

    /// Whether `b` is listed (and served) at `now`.
    pub(crate) fn is_listable(&self, b: &Blob, now: DateTime<Utc>) -> bool {
        b.listable_at <= now || self.late_released.load(Ordering::Relaxed)
    }

    /// Every late blob is listable from now on. A test control with no counterpart at
    /// Microsoft: it only brings forward what `late_delay_s` would list anyway, so no
    /// test sees content the real service would never list.
    pub(crate) fn release_late(&self) {
        self.late_released.store(true, Ordering::Relaxed);
    }

    pub(crate) fn blob(&self, content_id: &str) -> Option<&Blob> {
        self.by_id.get(content_id).map(|&i| &self.blobs[i])
    }

    /// Every blob of `content_type`, of every tenant, in `contentCreated` order.
    #[cfg(feature = "testkit")]
    pub(crate) fn blobs_of(&self, content_type: ContentType) -> impl Iterator<Item = &Blob> {
        self.blobs
            .iter()
            .filter(move |b| b.content_type == content_type)
    }

    /// The blob's records as the JSON array Microsoft serves.
    pub(crate) fn body(&self, blob: &Blob) -> Vec<u8> {
        let mut out = Vec::with_capacity(blob.items.len() * 1500);
        out.push(b'[');
        for (i, item) in blob.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let written = match *item {
                Item::Planted(p) => serde_json::to_writer(&mut out, &self.planted[p as usize]),
                Item::Noise { n, home } => serde_json::to_writer(
                    &mut out,
                    &self.populations[blob.tenant].record(
                        blob.content_type,
                        self.noise_seed,
                        n,
                        home,
                    ),
                ),
            };
            written.expect("serializing JSON values into memory cannot fail");
        }
        out.write_all(b"]")
            .expect("writing into memory cannot fail");
        out
    }
}

/// With probability `p` per record, also put the record into a later blob of the same tenant
/// and content type (the audit pipeline's retries, A6), creating one if none is later.
fn add_duplicates(drafts: &mut Vec<Draft>, chance: &mut StdRng, p: f64) {
    if p <= 0.0 {
        return;
    }
    let mut lists: HashMap<(usize, ContentType), Vec<usize>> = HashMap::new();
    for (i, d) in drafts.iter().enumerate() {
        lists.entry((d.tenant, d.content_type)).or_default().push(i);
    }
    for list in lists.values_mut() {
        list.sort_by_key(|&i| drafts[i].created);
    }
    let originals: Vec<(usize, Item)> = drafts
        .iter()
        .enumerate()
        .flat_map(|(i, d)| d.items.iter().map(move |&item| (i, item)))
        .collect();
    for (from, item) in originals {
        if !chance.random_bool(p) {
            continue;
        }
        let (tenant, content_type, created) = (
            drafts[from].tenant,
            drafts[from].content_type,
            drafts[from].created,
        );
        let list = lists
            .get_mut(&(tenant, content_type))
            .expect("every draft is listed");
        let later: Vec<usize> = list[list.partition_point(|&i| drafts[i].created <= created)..]
            .iter()
            .copied()
            .filter(|&i| !drafts[i].expired)
            .collect();
        if later.is_empty() {
            let created = created + Duration::seconds(chance.random_range(1..=DUPLICATE_LAG_S));
            list.insert(
                list.partition_point(|&i| drafts[i].created <= created),
                drafts.len(),
            );
            drafts.push(Draft {
                tenant,
                content_type,
                created,
                expired: false,
                items: vec![item],
            });
        } else {
            drafts[later[chance.random_range(0..later.len())]]
                .items
                .push(item);
        }
    }
}

/// Shaped like Microsoft's, e.g. `492638008028$492638008028$f28ab78a…spo2015043022$4a81a7c3…$04`.
fn content_id(
    seq: usize,
    tenant_id: &str,
    content_type: ContentType,
    created: DateTime<Utc>,
) -> String {
    let stamp = format!("{}{seq:06}", created.format("%Y%m%d%H%M%S%3f"));
    let code = match content_type {
        ContentType::AzureActiveDirectory => "aad",
        ContentType::Exchange => "exo",
        ContentType::SharePoint => "spo",
        ContentType::General => "gen",
        ContentType::Dlp => "dlp",
    };
    format!(
        "{stamp}${stamp}${}{code}{}${}$04",
        tenant_id.to_ascii_lowercase().replace('-', ""),
        created.format("%Y%m%d%H"),
        ids::hex(&[stamp.as_bytes(), tenant_id.as_bytes()], 32),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::times::Clock;

    fn scenario(extra: Value) -> Scenario {
        let mut base = json!({
            "tenants": [
                {"tenant_id": "6f1c2a3b-1111-4222-8333-944455556666", "name": "Contoso",
                 "domains": ["contoso.com", "contoso.onmicrosoft.com"],
                 "client_id": "11111111-2222-4333-8444-555555555555", "client_secret": "s"},
                {"tenant_id": "7f1c2a3b-1111-4222-8333-944455556666", "name": "Fabrikam",
                 "domains": ["fabrikam.com"],
                 "client_id": "11111111-2222-4333-8444-555555555555", "client_secret": "s"}
            ]
        });
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        Scenario::from_json(&base.to_string()).unwrap()
    }

    fn records(feed: &Feed, blob: &Blob) -> Vec<Value> {
        serde_json::from_slice(&feed.body(blob)).unwrap()
    }

    fn all_ids(feed: &Feed) -> Vec<String> {
        feed.blobs
            .iter()
            .flat_map(|b| records(feed, b))
            .map(|r| r["Id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn planted_records_are_grouped_by_release_and_rebased() {
        let planted: Vec<Value> = (0..5)
            .map(|i| {
                json!({"tenant_id": "6F1C2A3B-1111-4222-8333-944455556666", "content_type": "Audit.Exchange",
                       "release_after_s": if i < 3 { 0 } else { 60 }, "record": {"Id": format!("p{i}"), "CreationTime": "2020-01-01T00:00:00"}})
            })
            .collect();
        let s = scenario(
            json!({"records": planted, "records_per_blob": 2, "rebase_times": true,
                                "noise": {"records_per_tenant": 40, "seed": 1}}),
        );
        let start = Clock::start(1).now_ms();
        let feed = Feed::build(&s, start);
        let at_start = feed.listable(
            0,
            ContentType::Exchange,
            (start, start + Duration::seconds(1)),
            start,
        );
        assert_eq!(
            at_start.len(),
            2,
            "three records at 0 s fill two blobs of two"
        );
        for blob in &at_start {
            assert_eq!(blob.created, start);
            for r in records(&feed, blob)
                .iter()
                .filter(|r| r["Id"].as_str().unwrap().starts_with('p'))
            {
                assert_eq!(r["CreationTime"], record_time(start));
            }
        }
        let later = feed.listable(
            0,
            ContentType::Exchange,
            (start, start + Duration::hours(1)),
            start,
        );
        assert_eq!(later.len(), 2, "the 60 s blob is not listable yet");
        let later = feed.listable(
            0,
            ContentType::Exchange,
            (start, start + Duration::hours(1)),
            start + Duration::seconds(60),
        );
        assert_eq!(later.len(), 3);
        let ids = all_ids(&feed);
        assert_eq!(
            ids.len(),
            5 + 2 * (40 + 40 / 5 + 40 / 20),
            "every planted record, and each tenant's Exchange, Entra ID and General noise, served once"
        );
        assert!(
            feed.listable(
                1,
                ContentType::Exchange,
                (start - Duration::days(1), start + Duration::days(1)),
                start + Duration::days(1)
            )
            .iter()
            .all(|b| records(&feed, b)
                .iter()
                .all(|r| !r["Id"].as_str().unwrap().starts_with('p')))
        );
        let same = Feed::build(&s, start);
        assert_eq!(all_ids(&same), ids, "layout and bodies are deterministic");
    }

    #[test]
    fn noise_blobs_spread_before_start() {
        let s = scenario(
            json!({"noise": {"records_per_tenant": 1000, "seed": 3, "spread_s": 3600}, "records_per_blob": 50}),
        );
        let start = Clock::start(1).now_ms();
        let feed = Feed::build(&s, start);
        let blobs = feed.listable(
            1,
            ContentType::Exchange,
            (start - Duration::hours(2), start + Duration::seconds(1)),
            start,
        );
        assert!(blobs.len() >= 20 && blobs.len() <= 40, "{}", blobs.len());
        assert!(blobs.windows(2).all(|w| w[0].created <= w[1].created));
        assert!(
            blobs
                .iter()
                .all(|b| b.created >= start - Duration::hours(1) && b.created <= start)
        );
        let unique: std::collections::HashSet<&str> = blobs.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(unique.len(), blobs.len());
    }

    #[test]
    fn duplicates_land_in_later_blobs_with_identical_bodies() {
        let s = scenario(
            json!({"noise": {"records_per_tenant": 500, "seed": 3}, "faults": {"duplicate_records": 0.1, "seed": 9}}),
        );
        let feed = Feed::build(&s, Clock::start(1).now_ms());
        let mut seen: HashMap<String, (Value, DateTime<Utc>)> = HashMap::new();
        let mut duplicates = 0;
        for blob in &feed.blobs {
            for r in records(&feed, blob) {
                let id = r["Id"].as_str().unwrap().to_string();
                if let Some((first, created)) = seen.get(&id) {
                    assert_eq!(first, &r, "a duplicate is the same record");
                    assert!(*created < blob.created, "duplicates come later");
                    duplicates += 1;
                } else {
                    seen.insert(id, (r, blob.created));
                }
            }
        }
        assert!(
            (70..=190).contains(&duplicates),
            "{duplicates} duplicates of 1250 records (500 Exchange, 100 Entra ID and 25 General a tenant) at 10%"
        );
    }

    #[test]
    fn each_content_type_has_its_share_of_noise() {
        let planted = json!([
            {"tenant_id": "6f1c2a3b-1111-4222-8333-944455556666", "content_type": "Audit.AzureActiveDirectory",
             "record": {"Id": "p-aad"}},
            {"tenant_id": "6f1c2a3b-1111-4222-8333-944455556666", "content_type": "Audit.General",
             "record": {"Id": "p-general"}},
        ]);
        let s =
            scenario(json!({"records": planted, "noise": {"records_per_tenant": 200, "seed": 4}}));
        let start = Clock::start(1).now_ms();
        let feed = Feed::build(&s, start);
        let window = (start - Duration::days(1), start + Duration::seconds(1));
        for tenant in 0..2 {
            for (content_type, workload, count) in [
                (ContentType::Exchange, "Exchange", 200),
                (
                    ContentType::AzureActiveDirectory,
                    "AzureActiveDirectory",
                    40,
                ),
                (ContentType::General, "SecurityComplianceCenter", 10),
                (ContentType::SharePoint, "", 0),
                (ContentType::Dlp, "", 0),
            ] {
                let records: Vec<Value> = feed
                    .listable(tenant, content_type, window, start)
                    .into_iter()
                    .flat_map(|b| records(&feed, b))
                    .filter(|r| !r["Id"].as_str().unwrap().starts_with("p-"))
                    .collect();
                assert_eq!(records.len(), count, "{content_type:?} of tenant {tenant}");
                assert!(
                    records.iter().all(|r| r["Workload"] == workload),
                    "{content_type:?}"
                );
            }
        }
        for (content_type, id) in [
            (ContentType::AzureActiveDirectory, "p-aad"),
            (ContentType::General, "p-general"),
        ] {
            let blob = feed
                .listable(0, content_type, window, start)
                .into_iter()
                .find(|b| records(&feed, b).iter().any(|r| r["Id"] == id));
            let blob = blob.unwrap_or_else(|| panic!("{id} is not listed"));
            assert!(
                records(&feed, blob).len() > 1,
                "a planted {content_type:?} record does not sit alone in its blob"
            );
        }
    }
}
