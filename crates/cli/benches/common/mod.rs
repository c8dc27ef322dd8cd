//! What the benchmarks at a real round trip share (scale, latency): the sandbox's
//! stand-in for Microsoft's round trip and per-tenant quota, a day of each tenant's audit
//! content, the tenant count asked for, and the tenants in the store and the keychain.

use std::path::Path;

use m365_sandbox::testkit::TestTenant;
use rulewatch_core::secrets::Keychain;
use rulewatch_core::store::Store;
use rulewatch_core::tenants::{NewCredential, NewTenant, add_tenant};
use secrecy::SecretString;
use serde_json::{Value, json};

/// The round trip every answer is held back, and its jitter's most.
const LATENCY_MS: u64 = 50;
const JITTER_MS: u64 = 10;
/// Microsoft's baseline Management API quota per tenant (A8).
const QUOTA_PER_MINUTE: u32 = 2000;
/// A day of a small tenant's Exchange audit content, most of it mailbox noise.
const RECORDS_PER_TENANT: usize = 600;
const RECORDS_PER_BLOB: usize = 100;

/// The mean round trip, in seconds.
pub(crate) fn mean_rtt() -> f64 {
    (LATENCY_MS as f64 + JITTER_MS as f64 / 2.0) / 1000.0
}

/// `--tenants N` when given, else `measuring` under `cargo bench` and `checking` under
/// `cargo test`.
pub(crate) fn tenant_count(args: &[String], measuring: usize, checking: usize) -> usize {
    args.iter()
        .position(|a| a == "--tenants")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse().expect("--tenants takes a number"))
        .unwrap_or(if args.iter().any(|a| a == "--bench") {
            measuring
        } else {
            checking
        })
}

/// `tenants` with `records` planted in a day of noise, at the round trip and under the
/// quota above; `seed` chooses the noise and the jitter.
pub(crate) fn real_world(tenants: &[TestTenant], records: Vec<Value>, seed: u64) -> Value {
    json!({
        "tenants": tenants.iter().map(TestTenant::scenario_json).collect::<Vec<_>>(),
        "records": records,
        "noise": {"records_per_tenant": RECORDS_PER_TENANT, "seed": seed, "spread_s": 86_400},
        "records_per_blob": RECORDS_PER_BLOB,
        "faults": {
            "latency_ms": LATENCY_MS, "latency_jitter_ms": JITTER_MS,
            "quota_per_minute": QUOTA_PER_MINUTE, "seed": seed,
        },
    })
}

/// Adds `tenants` to the store in `data`, their secrets to the keychain.
pub(crate) fn add_tenants(data: &Path, tenants: &[TestTenant]) {
    let store = Store::open(data).expect("the store opens");
    for t in tenants {
        let new = NewTenant {
            tenant_id: t.tenant_id.clone(),
            name: t.name.clone(),
            client_id: t.client_id.clone(),
            credential: NewCredential::ClientSecret(SecretString::from(t.secret.clone())),
            cloud: None,
        };
        add_tenant(&store, &Keychain, new).expect("tenant added to the keychain");
    }
}
