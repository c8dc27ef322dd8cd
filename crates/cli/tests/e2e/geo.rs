//! `rulewatch geo`: the ipstack key in the real keychain and nowhere else, lookups
//! cached so the quota is spared, private addresses never sent, an exhausted quota
//! explained, and offline MaxMind files written here and read by the real reader.

use std::sync::{Mutex, MutexGuard, PoisonError};

use m365_sandbox::mmdb::{self, Network, Place};
use serde_json::{Value, json};

use crate::harness::*;
use crate::keychain::{files_containing, keychain_lookup};

const ACCOUNT: &str = "geo/ipstack-api-key";

/// The ipstack key is one per keychain, so tests that set it take turns.
static IPSTACK_KEY: Mutex<()> = Mutex::new(());

pub(crate) fn ipstack_key_turn() -> MutexGuard<'static, ()> {
    IPSTACK_KEY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn key() -> String {
    format!("ipstack-{}", uuid::Uuid::new_v4().simple())
}

fn sandbox_with_ipstack(key: &str, quota: Option<u64>) -> Sandbox {
    let (mut scenario, _, _) = world(1, 0, json!({}));
    scenario["geo"] = json!({"ipstack_key": key, "quota": quota, "locations": {
        "41.58.1.1": {"country_code": "NG", "country_name": "Nigeria", "region_name": "Lagos", "city": "Lagos",
                      "asn": 36873, "isp": "Airtel Networks", "is_proxy": true, "hosting": false}}});
    Sandbox::start(&scenario)
}

fn ipstack_requests(sandbox: &Sandbox) -> u64 {
    sandbox.stats()["ipstack"]["requests"].as_u64().unwrap()
}

fn assert_no_leak(rw: &Rulewatch, runs: &[&Run], key: &str) {
    assert!(
        files_containing(rw.data_dir(), key.as_bytes()).is_empty(),
        "the key is in the data folder"
    );
    for r in runs {
        assert!(
            !r.stdout.contains(key) && !r.stderr.contains(key),
            "the key is in the output:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
}

#[test]
fn ipstack_key_stays_in_the_keychain_and_lookups_are_cached() {
    let _turn = ipstack_key_turn();
    let key = key();
    let sandbox = sandbox_with_ipstack(&key, None);
    let rw = Rulewatch::new(&sandbox);
    let empty = rw.run_with_stdin(&["geo", "ipstack"], "  \n");
    assert_eq!(empty.code, 1);
    assert!(
        empty
            .stderr
            .contains("no ipstack API key on standard input"),
        "{}",
        empty.stderr
    );

    let set = rw.run_with_stdin(&["geo", "ipstack"], &format!("{key}\n"));
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!(keychain_lookup(ACCOUNT).as_deref(), Some(key.as_str()));

    let first = rw.run(&["geo", "lookup", "41.58.1.1:50123", "--json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let location = &first.json()["location"];
    assert_eq!(location["country_code"], "NG");
    assert_eq!(location["asn"], 36873);
    assert_eq!(location["network"], "Airtel Networks");
    assert_eq!(location["proxy"], true);
    assert_eq!(ipstack_requests(&sandbox), 1);

    let second = rw.run(&["geo", "lookup", "41.58.1.1"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        second.stdout.trim(),
        "41.58.1.1: Lagos, Nigeria (NG) · AS36873 Airtel Networks · VPN/proxy"
    );
    assert_eq!(
        ipstack_requests(&sandbox),
        1,
        "the second lookup must come from the cache"
    );

    let mut runs = vec![set, first, second];
    for private in [
        "10.20.30.40",
        "[fe80::1]:443",
        "100.64.1.1:3000",
        "203.0.113.77:50123",
    ] {
        let r = rw.run(&["geo", "lookup", private]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stdout.contains("private or reserved range"),
            "{}",
            r.stdout
        );
        runs.push(r);
    }
    let not_ip = rw.run(&["geo", "lookup", "XXX"]);
    assert_eq!(not_ip.code, 1);
    assert!(
        not_ip.stderr.contains("not an IP address"),
        "{}",
        not_ip.stderr
    );
    assert_eq!(
        ipstack_requests(&sandbox),
        1,
        "private and redacted addresses are never sent"
    );

    let unknown = rw.run(&["geo", "lookup", "2a09:bac5:110:105::1a:98", "--json"]);
    assert_eq!(unknown.json()["location"], Value::Null);
    assert!(
        unknown.json()["reason"]
            .as_str()
            .unwrap()
            .contains("knows nothing")
    );
    let show = rw.run(&["geo", "show", "--json"]);
    assert_eq!(
        show.json(),
        json!({"provider": {"provider": "ipstack"}, "ipstack_key": "in the keychain", "cached_locations": 2, "problem": null,
               "problem_fix": null})
    );
    runs.extend([unknown, show, not_ip]);
    runs.push(rw.run(&["geo", "show"]));
    assert_no_leak(&rw, &runs.iter().collect::<Vec<_>>(), &key);

    let off = rw.run(&["geo", "off"]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    assert_eq!(
        keychain_lookup(ACCOUNT),
        None,
        "geo off must delete the key"
    );
    let show = rw.run(&["geo", "show", "--json"]).json();
    assert_eq!(
        (show["provider"].clone(), show["cached_locations"].clone()),
        (json!({"provider": "off"}), json!(0))
    );
    let r = rw.run(&["geo", "lookup", "41.58.1.1"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("geolocation is off"), "{}", r.stderr);
}

#[test]
fn an_exhausted_quota_or_a_wrong_key_is_explained_without_the_key() {
    let _turn = ipstack_key_turn();
    let key = key();
    let sandbox = sandbox_with_ipstack(&key, Some(1));
    let rw = Rulewatch::new(&sandbox);
    assert_eq!(rw.run_with_stdin(&["geo", "ipstack"], &key).code, 0);
    let ok = rw.run(&["geo", "lookup", "41.58.1.1"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let over = rw.run(&["geo", "lookup", "8.8.8.8"]);
    assert_eq!(over.code, 1);
    assert!(
        over.stderr.contains("monthly quota is used up (code 104)"),
        "{}",
        over.stderr
    );
    assert!(
        over.stderr.contains("alerts are not affected"),
        "{}",
        over.stderr
    );
    let show = rw.run(&["geo", "show"]);
    assert!(
        show.stdout
            .contains("last problem: ipstack says the monthly quota is used up"),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout
            .contains("(`rulewatch geo ipstack` reads a new key from standard input)"),
        "the CLI names its command for what helps: {}",
        show.stdout
    );
    let json = rw.run(&["geo", "show", "--json"]).json();
    assert_eq!(json["problem_fix"], "new_ipstack_key", "{json}");
    assert!(
        !json["problem"].as_str().unwrap().contains("rulewatch"),
        "core's words name no command: {json}"
    );
    // Cached answers still come while the quota is out.
    let cached = rw.run(&["geo", "lookup", "41.58.1.1"]);
    assert_eq!(cached.code, 0, "{}", cached.stderr);
    assert_no_leak(&rw, &[&ok, &over, &show, &cached], &key);

    let wrong = format!("{key}-wrong");
    assert_eq!(rw.run_with_stdin(&["geo", "ipstack"], &wrong).code, 0);
    let refused = rw.run(&["-v", "geo", "lookup", "1.1.1.1"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("refused the API key (code 101"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("rulewatch geo ipstack"),
        "{}",
        refused.stderr
    );
    assert_no_leak(&rw, &[&refused], &wrong);
    assert!(rw.run(&["geo", "off"]).code == 0);
}

#[test]
fn offline_databases_locate_and_a_bad_file_changes_nothing() {
    let (scenario, _, _) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    let files = tempfile::tempdir().unwrap();
    let (city, asn, junk) = (
        files.path().join("GeoLite2-City.mmdb"),
        files.path().join("GeoLite2-ASN.mmdb"),
        files.path().join("junk.mmdb"),
    );
    let lagos = Place {
        network: "41.58.0.0/16",
        city: "Lagos",
        region: "Lagos",
        country_code: "NG",
        country: "Nigeria",
    };
    mmdb::write_city(&city, &[lagos]).unwrap();
    mmdb::write_asn(
        &asn,
        &[Network {
            network: "41.58.0.0/16",
            asn: 36873,
            organization: "Airtel Networks",
        }],
    )
    .unwrap();
    std::fs::write(&junk, b"<html>not a database</html>").unwrap();

    let set = rw.run(&[
        "geo",
        "mmdb",
        city.to_str().unwrap(),
        "--asn",
        asn.to_str().unwrap(),
    ]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    let found = rw.run(&["geo", "lookup", "41.58.1.1:443"]);
    assert_eq!(found.code, 0, "{}", found.stderr);
    assert_eq!(
        found.stdout.trim(),
        "41.58.1.1: Lagos, Nigeria (NG) · AS36873 Airtel Networks"
    );
    let elsewhere = rw.run(&["geo", "lookup", "8.8.8.8"]);
    assert!(
        elsewhere.stdout.contains("knows nothing"),
        "{}",
        elsewhere.stdout
    );

    let bad = rw.run(&["geo", "mmdb", junk.to_str().unwrap()]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("cannot open") && bad.stderr.contains("junk.mmdb"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr.contains("download GeoLite2-City.mmdb"),
        "{}",
        bad.stderr
    );
    let swapped = rw.run(&["geo", "mmdb", asn.to_str().unwrap()]);
    assert_eq!(swapped.code, 1);
    assert!(
        swapped.stderr.contains("not a City database"),
        "{}",
        swapped.stderr
    );

    let show = rw.run(&["geo", "show", "--json"]).json();
    assert_eq!(
        show["provider"]["city"],
        city.canonicalize().unwrap().to_str().unwrap(),
        "the previous setting stays"
    );
    assert_eq!(rw.run(&["geo", "lookup", "41.58.1.1"]).code, 0);

    // A database deleted after it was chosen: said by show and lookup, not a crash.
    std::fs::remove_file(&city).unwrap();
    let show = rw.run(&["geo", "show", "--json"]).json();
    assert!(
        show["problem"]
            .as_str()
            .unwrap()
            .contains("GeoLite2-City.mmdb"),
        "{show}"
    );
    let gone = rw.run(&["geo", "lookup", "41.58.1.1"]);
    assert_eq!(gone.code, 1);
    assert!(gone.stderr.contains("cannot open"), "{}", gone.stderr);
}
