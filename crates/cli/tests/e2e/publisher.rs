//! `PublisherIdentifier` (../shared/reference/m365-api.md A8): the MSP's own tenant id, given once at
//! `tenant add` and stored, is what every tenant's Management API calls send; the
//! `--publisher-id` (`RULEWATCH_PUBLISHER_ID`) override still wins. The sandbox counts calls per publisher.

use serde_json::{Value, json};

use crate::harness::*;

const MSP: &str = "99999999-8888-4777-8666-555555555555";
const OVERRIDE: &str = "12121212-3434-4565-8787-909090909090";

fn add(rw: &Rulewatch, t: &TestTenant, extra: &[&str]) -> Run {
    let mut args = t.add_args();
    args.extend_from_slice(extra);
    rw.run_with_stdin(&args, &t.secret)
}

/// The publishers the sandbox was sent, and how often.
fn publishers(sandbox: &Sandbox) -> Value {
    sandbox.stats()["publisher_identifiers"].clone()
}

#[test]
fn the_msp_tenant_given_once_is_every_tenants_publisher_until_overridden() {
    let (scenario, tenants, _) = world(2, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);

    let bad = add(
        &rw,
        &tenants[0],
        &["--msp-tenant-id", "msp.onmicrosoft.com"],
    );
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("is not a GUID"), "{}", bad.stderr);
    assert!(
        rw.run(&["tenant", "list", "--json"])
            .json()
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing added"
    );

    let first = add(&rw, &tenants[0], &["--msp-tenant-id", MSP]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.contains(&format!(
            "Your MSP's tenant {MSP} is sent as PublisherIdentifier"
        )),
        "{}",
        first.stderr
    );
    // Known now: the second tenant is added without the question or the hint.
    let second = add(&rw, &tenants[1], &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        !second.stderr.contains("--msp-tenant-id"),
        "{}",
        second.stderr
    );

    assert_eq!(rw.scan().code, 0);
    let sent = publishers(&sandbox);
    assert_eq!(
        sent.as_object().unwrap().keys().collect::<Vec<_>>(),
        [MSP],
        "{sent}"
    );

    let overridden = rw.run(&["scan", "--json", "--publisher-id", OVERRIDE]);
    assert_eq!(overridden.code, 0, "{}", overridden.stderr);
    assert!(
        publishers(&sandbox)[OVERRIDE].as_u64().unwrap() > 0,
        "{}",
        publishers(&sandbox)
    );
}

#[test]
fn without_the_msp_tenant_each_tenant_spends_its_own_quota_and_is_told_how_to_fix_it() {
    let (scenario, tenants, _) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    let added = add(&rw, &tenants[0], &[]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert!(added.stderr.contains("--msp-tenant-id"), "{}", added.stderr);
    assert_eq!(rw.scan().code, 0);
    let sent = publishers(&sandbox);
    assert_eq!(
        sent.as_object().unwrap().keys().collect::<Vec<_>>(),
        [&tenants[0].tenant_id],
        "{sent}"
    );
}
