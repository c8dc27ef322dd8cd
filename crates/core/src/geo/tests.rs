//! Geolocation against real things: MaxMind files written here and read by the real
//! `maxminddb` reader, a loopback HTTP server standing in for ipstack, a real SQLite file.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use m365_sandbox::mmdb::{self, Network, Place};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::secrets::MemorySecrets;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn only_public_unicast_addresses_are_looked_up() {
    let table = [
        ("8.8.8.8", true),
        ("104.28.196.199", true),
        ("41.58.1.1", true),
        ("100.63.255.255", true),
        ("100.128.0.0", true),
        ("172.15.255.255", true),
        ("172.32.0.0", true),
        ("223.255.255.255", true),
        ("0.0.0.0", false),
        ("0.1.2.3", false),
        ("10.1.2.3", false),
        ("100.64.0.1", false),
        ("100.127.255.255", false),
        ("127.0.0.1", false),
        ("169.254.10.1", false),
        ("172.16.0.1", false),
        ("172.31.255.255", false),
        ("192.0.0.8", false),
        ("192.0.2.44", false),
        ("192.168.1.1", false),
        ("198.18.0.1", false),
        ("198.19.255.255", false),
        ("198.51.100.23", false),
        ("203.0.113.7", false),
        ("224.0.0.1", false),
        ("239.255.255.250", false),
        ("240.0.0.1", false),
        ("255.255.255.255", false),
        ("2a09:bac5:110:105::1a:98", true),
        ("2606:4700::1111", true),
        ("2002:0808:0808::1", true),
        ("::", false),
        ("::1", false),
        ("fc00::1", false),
        ("fd12:3456::1", false),
        ("fe80::1", false),
        ("ff02::1", false),
        ("2001:db8::1", false),
        ("3fff::1", false),
        ("2001::1", false),
        ("64:ff9b::808:808", false),
        ("::ffff:8.8.8.8", true),
        ("::ffff:10.0.0.1", false),
    ];
    for (addr, public) in table {
        assert_eq!(is_public(ip(addr)), public, "{addr}");
    }
}

fn lagos() -> Location {
    Location {
        ip: "41.58.1.1".into(),
        country_code: Some("NG".into()),
        country: Some("Nigeria".into()),
        region: Some("Lagos".into()),
        city: Some("Lagos".into()),
        asn: Some(36873),
        network: Some("Airtel Networks".into()),
        hosting: Some(false),
        proxy: Some(true),
        source: "ipstack".into(),
    }
}

#[test]
fn describe_leaves_out_what_is_unknown() {
    assert_eq!(
        lagos().describe(),
        "Lagos, Nigeria (NG) · AS36873 Airtel Networks · VPN/proxy"
    );
    let mut l = lagos();
    l.city = Some("Ikeja".into());
    l.proxy = Some(false);
    l.hosting = Some(true);
    assert_eq!(
        l.describe(),
        "Ikeja, Lagos, Nigeria (NG) · AS36873 Airtel Networks · hosting"
    );
    let mut l = Location::unknown(ip("8.8.8.8"), "mmdb");
    l.country_code = Some("US".into());
    l.asn = Some(15169);
    assert_eq!(l.describe(), "US · AS15169");
    assert_eq!(
        Location::unknown(ip("8.8.8.8"), "mmdb").describe(),
        "location unknown"
    );
}

// ---- ipstack answers ---------------------------------------------------------------

const KEY: &str = "k3y-0f-the-test-9d1f";

fn ipstack_found() -> serde_json::Value {
    json!({
        "ip": "41.58.1.1", "type": "ipv4", "continent_code": "AF", "continent_name": "Africa",
        "country_code": "NG", "country_name": "Nigeria", "region_code": "LA", "region_name": "Lagos",
        "city": "Lagos", "zip": null, "latitude": 6.45, "longitude": 3.39,
        "location": {"geoname_id": 2332459, "capital": "Abuja", "is_eu": false},
        "connection": {"asn": 36873, "isp": "Airtel Networks"},
        "security": {"is_proxy": false, "proxy_type": null, "is_crawler": false, "is_tor": true,
                     "threat_level": "low", "hosting_facility": false}
    })
}

#[test]
fn ipstack_answer_with_connection_and_security() {
    let found = ipstack::parse(&ipstack_found().to_string(), ip("41.58.1.1"), KEY)
        .unwrap()
        .unwrap();
    assert_eq!(found, lagos());
}

#[test]
fn ipstack_free_plan_answer_leaves_flags_unknown() {
    let mut body = ipstack_found();
    body.as_object_mut().unwrap().remove("security");
    body.as_object_mut().unwrap().remove("connection");
    let found = ipstack::parse(&body.to_string(), ip("41.58.1.1"), KEY)
        .unwrap()
        .unwrap();
    assert_eq!((found.proxy, found.hosting, found.asn), (None, None, None));
    assert_eq!(found.describe(), "Lagos, Nigeria (NG)");
}

#[test]
fn ipstack_null_fields_mean_unknown() {
    let body = json!({"ip": "2a09:bac5::1", "type": "ipv6", "continent_code": null, "country_code": null,
                      "country_name": null, "region_name": null, "city": null, "latitude": null});
    assert_eq!(
        ipstack::parse(&body.to_string(), ip("2a09:bac5::1"), KEY).unwrap(),
        None
    );
}

#[test]
fn ipstack_errors_pause_the_provider_and_never_show_the_key() {
    let quota = json!({"success": false, "error": {"code": 104, "type": "usage_limit_reached",
        "info": "Your monthly usage limit has been reached. Please upgrade your Subscription Plan."}});
    let f = ipstack::parse(&quota.to_string(), ip("8.8.8.8"), KEY).unwrap_err();
    assert!(
        f.problem
            .message
            .contains("monthly quota is used up (code 104)"),
        "{}",
        f.problem.message
    );
    assert!(f.problem.message.contains("alerts are not affected"));
    assert_eq!(f.pause, Some(REFUSAL_PAUSE));

    let invalid = json!({"success": false, "error": {"code": 101, "type": "invalid_access_key",
        "info": format!("You have not supplied a valid API Access Key ({KEY}).")}});
    let f = ipstack::parse(&invalid.to_string(), ip("8.8.8.8"), KEY).unwrap_err();
    assert!(
        f.problem.message.contains("refused the API key")
            && !f.problem.message.contains("rulewatch"),
        "{}",
        f.problem.message
    );
    assert_eq!(
        f.problem.fix,
        Some(GeoFix::NewIpstackKey),
        "a new key helps"
    );
    assert_eq!(f.pause, Some(REFUSAL_PAUSE));

    let restricted = json!({"success": false, "error": {"code": 105, "type": "function_access_restricted",
        "info": format!("Access Restricted - key {KEY} does not support HTTPS Encryption.")}});
    let f = ipstack::parse(&restricted.to_string(), ip("8.8.8.8"), KEY).unwrap_err();
    assert!(
        f.problem.message.contains("code 105") && !f.problem.message.contains(KEY),
        "{}",
        f.problem.message
    );
    assert_eq!(f.problem.fix, Some(GeoFix::OfflineDatabases));

    let other = json!({"success": false, "error": {"code": 106, "type": "invalid_ip_address"}});
    assert_eq!(
        ipstack::parse(&other.to_string(), ip("8.8.8.8"), KEY)
            .unwrap_err()
            .pause,
        Some(OUTAGE_PAUSE)
    );
    assert!(ipstack::parse("<html>", ip("8.8.8.8"), KEY).is_err());
}

// ---- MaxMind files -----------------------------------------------------------------

const LAGOS: Place = Place {
    network: "41.58.0.0/16",
    city: "Lagos",
    region: "Lagos",
    country_code: "NG",
    country: "Nigeria",
};

fn write_city(path: &Path) {
    mmdb::write_city(
        path,
        &[
            LAGOS,
            Place {
                network: "2a09:bac5::/32",
                city: "Ikeja",
                ..LAGOS
            },
        ],
    )
    .unwrap();
}

fn write_asn(path: &Path) {
    let airtel = |network| Network {
        network,
        asn: 36873,
        organization: "Airtel Networks",
    };
    mmdb::write_asn(path, &[airtel("41.58.0.0/16"), airtel("2a09:bac5::/32")]).unwrap();
}

fn geo_with(
    provider: GeoProvider,
    dir: &Path,
    base: &str,
) -> (Geo, Arc<Store>, Arc<MemorySecrets>) {
    let store = Arc::new(Store::open(dir).unwrap());
    store.set_geo_provider(&provider).unwrap();
    let secrets = Arc::new(MemorySecrets::default());
    secrets
        .set("ignored", SecretKind::IpstackKey, KEY.as_bytes())
        .unwrap();
    let endpoints = Endpoints::single(base).unwrap();
    (
        Geo::new(store.clone(), secrets.clone(), &endpoints),
        store,
        secrets,
    )
}

#[tokio::test]
async fn mmdb_files_give_place_and_network() {
    let dir = tempfile::tempdir().unwrap();
    let (city, asn) = (dir.path().join("city.mmdb"), dir.path().join("asn.mmdb"));
    write_city(&city);
    write_asn(&asn);
    check_mmdb(&city, Some(&asn)).unwrap();
    let provider = GeoProvider::Mmdb {
        city: city.clone(),
        asn: Some(asn),
    };
    let (geo, _, _) = geo_with(provider, dir.path(), "http://127.0.0.1:9");
    let found = geo.locate("41.58.1.1:51234").await.unwrap();
    assert_eq!(
        found.describe(),
        "Lagos, Nigeria (NG) · AS36873 Airtel Networks"
    );
    assert_eq!(found.source, "mmdb");
    let v6 = geo
        .locate("[2a09:bac5:110:105::1a:98]:52629")
        .await
        .unwrap();
    assert_eq!(
        v6.describe(),
        "Ikeja, Lagos, Nigeria (NG) · AS36873 Airtel Networks"
    );
    assert_eq!(geo.resolve("8.8.8.8").await, Answer::Unknown);
    assert_eq!(
        geo.resolve("10.0.0.1").await,
        Answer::NotPublic(ip("10.0.0.1"))
    );
    assert_eq!(geo.resolve("XXX").await, Answer::NotAnIp);
    assert_eq!(geo.resolve("").await, Answer::NotAnIp);
    assert_eq!(geo.problem(), None);

    // Without the ASN file the place is still known.
    let dir2 = tempfile::tempdir().unwrap();
    let (geo, _, _) = geo_with(
        GeoProvider::Mmdb { city, asn: None },
        dir2.path(),
        "http://127.0.0.1:9",
    );
    assert_eq!(
        geo.locate("41.58.1.1").await.unwrap().describe(),
        "Lagos, Nigeria (NG)"
    );
}

#[test]
fn wrong_or_unreadable_files_say_what_to_download() {
    let dir = tempfile::tempdir().unwrap();
    let (city, asn, junk) = (
        dir.path().join("city.mmdb"),
        dir.path().join("asn.mmdb"),
        dir.path().join("junk.mmdb"),
    );
    write_city(&city);
    write_asn(&asn);
    std::fs::write(&junk, b"not a database").unwrap();
    let e = check_mmdb(&asn, None).unwrap_err().to_string();
    assert!(
        e.contains("GeoLite2-ASN database, not a City database")
            && e.contains("GeoLite2-City.mmdb"),
        "{e}"
    );
    let e = check_mmdb(&junk, None).unwrap_err().to_string();
    assert!(
        e.contains("cannot open") && e.contains("junk.mmdb") && e.contains("dbip-city-lite.mmdb"),
        "{e}"
    );
    let e = check_mmdb(&city, Some(&city)).unwrap_err().to_string();
    assert!(
        e.contains("not an ASN database") && e.contains("GeoLite2-ASN.mmdb"),
        "{e}"
    );
    let e = check_mmdb(&dir.path().join("missing.mmdb"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.mmdb"), "{e}");
}

#[tokio::test]
async fn a_vanished_database_is_a_problem_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let provider = GeoProvider::Mmdb {
        city: dir.path().join("gone.mmdb"),
        asn: None,
    };
    let (geo, _, _) = geo_with(provider, dir.path(), "http://127.0.0.1:9");
    assert!(geo.problem().unwrap().message.contains("gone.mmdb"));
    assert!(matches!(geo.resolve("41.58.1.1").await, Answer::Failed(_)));
}

// ---- ipstack over HTTP -------------------------------------------------------------

/// A loopback HTTP server answering every request with `body` (or never answering),
/// counting connections and keeping the request lines.
struct FakeIpstack {
    base: String,
    hits: Arc<AtomicUsize>,
    requests: Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeIpstack {
    /// Answers every request with `body` as JSON, or never when `None`.
    async fn start(body: Option<String>) -> Self {
        Self::answering(body.map(|body| {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        }))
        .await
    }

    /// Answers every request with this raw HTTP `reply`, or never when `None`.
    async fn answering(reply: Option<String>) -> Self {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (h, r) = (hits.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                h.fetch_add(1, Ordering::SeqCst);
                let reply = reply.clone();
                let r = r.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    let text = String::from_utf8_lossy(&buf[..n]).to_string();
                    r.lock()
                        .unwrap()
                        .push(text.lines().next().unwrap_or_default().to_string());
                    match reply {
                        Some(reply) => {
                            let _ = socket.write_all(reply.as_bytes()).await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(30)).await,
                    }
                });
            }
        });
        FakeIpstack {
            base,
            hits,
            requests,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn ipstack_answers_are_cached_and_private_addresses_never_sent() {
    let server = FakeIpstack::start(Some(ipstack_found().to_string())).await;
    let dir = tempfile::tempdir().unwrap();
    // Endpoints::single serves ipstack under /ipstack; the fake answers any path.
    let (geo, store, _) = geo_with(GeoProvider::Ipstack, dir.path(), &server.base);
    assert_eq!(geo.locate("41.58.1.1:443").await, Some(lagos()));
    assert_eq!(server.hits(), 1);
    let line = server.requests.lock().unwrap()[0].clone();
    assert!(
        line.starts_with("GET /ipstack/41.58.1.1?access_key=") && line.contains(KEY),
        "{line}"
    );
    assert_eq!(
        geo.locate("41.58.1.1").await,
        Some(lagos()),
        "second lookup from the cache"
    );
    assert_eq!(server.hits(), 1);
    for private in [
        "10.1.1.1",
        "192.168.0.1:80",
        "[fe80::1]:443",
        "203.0.113.7",
        "XXX",
        "",
    ] {
        assert_eq!(geo.locate(private).await, None);
    }
    assert_eq!(
        server.hits(),
        1,
        "private and malformed addresses must never be sent"
    );

    // A fresh Geo over the same store answers from SQLite.
    let again = Geo::new(
        store.clone(),
        Arc::new(MemorySecrets::default()),
        &Endpoints::single(&server.base).unwrap(),
    );
    assert_eq!(again.locate("41.58.1.1").await, Some(lagos()));
    assert_eq!(server.hits(), 1);

    // Choosing another provider empties the cache.
    store.set_geo_provider(&GeoProvider::Off).unwrap();
    assert_eq!(store.location_cache_size(chrono::Utc::now()).unwrap(), 0);
}

#[tokio::test]
async fn exhausted_quota_pauses_ipstack_and_is_explained() {
    let quota = json!({"success": false, "error": {"code": 104, "type": "usage_limit_reached", "info": "limit"}});
    let server = FakeIpstack::start(Some(quota.to_string())).await;
    let dir = tempfile::tempdir().unwrap();
    let (geo, store, _) = geo_with(GeoProvider::Ipstack, dir.path(), &server.base);
    let Answer::Failed(GeoProblem { message: why, .. }) = geo.resolve("8.8.8.8").await else {
        panic!("quota must fail")
    };
    assert!(why.contains("code 104") && !why.contains(KEY), "{why}");
    assert_eq!(server.hits(), 1);
    assert!(
        matches!(geo.resolve("1.1.1.1").await, Answer::Failed(w) if w.message.contains("not asked again"))
    );
    assert_eq!(server.hits(), 1, "a paused provider is not called");
    assert!(
        geo.problem()
            .unwrap()
            .message
            .contains("monthly quota is used up")
    );
    assert!(
        store
            .geo_problem()
            .unwrap()
            .unwrap()
            .message
            .contains("code 104"),
        "the problem is kept for `geo show`"
    );
    assert_eq!(
        store.location_cache_size(chrono::Utc::now()).unwrap(),
        0,
        "failures are not cached"
    );
}

/// On tokio's paused clock, which moves only to the next timer when nothing else can
/// run: the waits measured are the ones the code sets, whatever the machine's load.
#[tokio::test(start_paused = true)]
async fn a_silent_provider_costs_at_most_the_deadline() {
    let server = FakeIpstack::start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let (geo, _, _) = geo_with(GeoProvider::Ipstack, dir.path(), &server.base);
    let started = tokio::time::Instant::now();
    assert!(
        matches!(geo.resolve("8.8.8.8").await, Answer::Failed(w) if w.message.contains("did not answer"))
    );
    assert!(started.elapsed() <= DEADLINE, "{:?}", started.elapsed());
    let started = tokio::time::Instant::now();
    assert!(geo.locate("8.8.4.4").await.is_none());
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "after a timeout the provider is paused: nothing waits"
    );
}

#[tokio::test]
async fn a_missing_key_is_explained_and_off_means_off() {
    let server = FakeIpstack::start(Some(ipstack_found().to_string())).await;
    let dir = tempfile::tempdir().unwrap();
    let (geo, _, secrets) = geo_with(GeoProvider::Ipstack, dir.path(), &server.base);
    secrets.delete(NO_TENANT, SecretKind::IpstackKey).unwrap();
    let Answer::Failed(GeoProblem { message: why, fix }) = geo.resolve("8.8.8.8").await else {
        panic!("no key must fail")
    };
    assert_eq!(fix, Some(GeoFix::NewIpstackKey));
    assert!(why.contains("no ipstack API key: give one again"), "{why}");
    assert_eq!(server.hits(), 0);

    let dir = tempfile::tempdir().unwrap();
    let (geo, _, _) = geo_with(GeoProvider::Off, dir.path(), &server.base);
    assert_eq!(geo.resolve("8.8.8.8").await, Answer::Off);
    assert_eq!(server.hits(), 0);
}

#[test]
fn provider_setting_round_trips_as_json() {
    let p = GeoProvider::Mmdb {
        city: "/data/GeoLite2-City.mmdb".into(),
        asn: None,
    };
    let text = serde_json::to_string(&p).unwrap();
    assert_eq!(
        text,
        r#"{"provider":"mmdb","city":"/data/GeoLite2-City.mmdb","asn":null}"#
    );
    assert_eq!(
        serde_json::from_str::<GeoProvider>(r#"{"provider":"ipstack"}"#).unwrap(),
        GeoProvider::Ipstack
    );
}

#[tokio::test]
async fn an_oversized_answer_is_not_read_and_a_redirect_elsewhere_is_not_followed() {
    let huge = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {n}\r\nconnection: close\r\n\r\n{}",
        "x".repeat(200 << 10),
        n = 200 << 10
    );
    let server = FakeIpstack::answering(Some(huge)).await;
    let dir = tempfile::tempdir().unwrap();
    let (geo, _, _) = geo_with(GeoProvider::Ipstack, dir.path(), &server.base);
    let Answer::Failed(why) = geo.resolve("8.8.8.8").await else {
        panic!("an oversized answer must fail")
    };
    assert!(why.message.contains("larger than 64 KiB"), "{why:?}");

    let elsewhere = FakeIpstack::start(Some(ipstack_found().to_string())).await;
    let moved = format!(
        "HTTP/1.1 302 Found\r\nlocation: {}/8.8.8.8\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        elsewhere.base.replace("127.0.0.1", "localhost")
    );
    let server = FakeIpstack::answering(Some(moved)).await;
    let dir = tempfile::tempdir().unwrap();
    let (geo, _, _) = geo_with(GeoProvider::Ipstack, dir.path(), &server.base);
    assert!(matches!(geo.resolve("8.8.8.8").await, Answer::Failed(_)));
    assert_eq!(elsewhere.hits(), 0, "another host is never asked");
}
