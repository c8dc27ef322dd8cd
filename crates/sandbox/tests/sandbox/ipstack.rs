//! The ipstack stand-in: ipstack's answer shapes, its key and quota errors, and counts.

use m365_sandbox::Scenario;
use reqwest::Client;
use serde_json::{Value, json};

use crate::common::*;

fn geo() -> Value {
    json!({"geo": {"ipstack_key": "test-key", "quota": 2, "locations": {
        "41.58.1.1": {"country_code": "NG", "country_name": "Nigeria", "region_name": "Lagos", "city": "Lagos",
                      "asn": 36873, "isp": "Airtel Networks", "is_proxy": true, "hosting": false}}}})
}

async fn get(base: &str, ip: &str, key: Option<&str>) -> Value {
    let mut request = Client::new().get(format!("{base}/ipstack/{ip}"));
    if let Some(key) = key {
        request = request.query(&[("access_key", key)]);
    }
    let response = request.send().await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "ipstack reports errors with HTTP 200"
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn answers_in_ipstack_shapes_until_the_quota_is_used() {
    let sandbox = sandbox(geo()).await;
    let base = sandbox.base_url().to_string();
    assert_eq!(
        get(&base, "41.58.1.1", None).await["error"]["type"],
        "missing_access_key"
    );
    let wrong = get(&base, "41.58.1.1", Some("other")).await;
    assert_eq!(
        (wrong["success"].clone(), wrong["error"]["code"].clone()),
        (json!(false), json!(101))
    );
    assert_eq!(wrong["error"]["type"], "invalid_access_key");

    let known = get(&base, "41.58.1.1", Some("test-key")).await;
    assert_eq!(known["country_code"], "NG");
    assert_eq!(
        known["connection"],
        json!({"asn": 36873, "isp": "Airtel Networks"})
    );
    assert_eq!(known["security"]["is_proxy"], true);
    assert_eq!(known["type"], "ipv4");
    let unknown = get(&base, "2a09:bac5::1", Some("test-key")).await;
    assert_eq!(
        (unknown["type"].clone(), unknown["country_code"].clone()),
        (json!("ipv6"), Value::Null)
    );

    let over = get(&base, "41.58.1.1", Some("test-key")).await;
    assert_eq!(over["error"]["code"], 104);
    assert_eq!(over["error"]["type"], "usage_limit_reached");
    let stats = Api::new(&sandbox).stats().await;
    assert_eq!(stats["ipstack"], json!({"requests": 5, "answered": 2}));
    sandbox.shutdown().await;
}

#[test]
fn the_geo_section_is_checked() {
    let bad_ip =
        json!({"tenants": tenants(), "geo": {"ipstack_key": "k", "locations": {"nowhere": {}}}});
    let e = Scenario::from_json(&bad_ip.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("geo.locations.nowhere") && e.contains("not an IP address"),
        "{e}"
    );
    let no_key = json!({"tenants": tenants(), "geo": {"ipstack_key": " "}});
    assert!(
        Scenario::from_json(&no_key.to_string())
            .unwrap_err()
            .to_string()
            .contains("geo.ipstack_key")
    );
    let unknown_field = json!({"tenants": tenants(), "geo": {"ipstack_key": "k", "locations": {"8.8.8.8": {"town": "x"}}}});
    assert!(
        Scenario::from_json(&unknown_field.to_string())
            .unwrap_err()
            .to_string()
            .contains("town")
    );
}
