//! ipstack's API: `GET {base}/{ip}?access_key=KEY`. Errors come as HTTP 200 with
//! `{"success":false,"error":{"code":104,"type":"usage_limit_reached","info":"…"}}`.
//! The key travels in the query string, so no error text here is ever built from a
//! URL, and text the service sends back is scrubbed of the key before it is shown.
#![warn(missing_docs)]

use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;

use super::{Failure, GeoFix, GeoProblem, Location, REFUSAL_PAUSE};
use crate::http::{Read, read_capped};

pub(super) const SOURCE: &str = "ipstack";

/// A location answer is about 1 KiB; anything near this is not one.
const MAX_ANSWER: usize = 64 << 10;

pub(super) struct Ipstack {
    http: reqwest::Client,
    base: String,
}

impl Ipstack {
    pub(super) fn new(base: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        // The key rides in the query: no redirect may carry it to another host.
        let http = reqwest::Client::builder()
            .redirect(crate::http::redirect_policy())
            .user_agent(concat!("Rulewatch/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Ipstack {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// `Ok(None)`: ipstack knows nothing of `ip`. One retry after a network error or a
    /// 5xx; the caller's deadline bounds the whole.
    pub(super) async fn lookup(&self, ip: IpAddr, key: &str) -> Result<Option<Location>, Failure> {
        let mut last = String::new();
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let sent = self
                .http
                .get(format!("{}/{ip}", self.base))
                .query(&[("access_key", key)])
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    last = describe_error(e, key);
                    continue;
                }
            };
            let status = response.status();
            if status.is_server_error() {
                last = format!("HTTP {}", status.as_u16());
                continue;
            }
            let body = match read_capped(response, MAX_ANSWER).await {
                Read::Body(b) => String::from_utf8_lossy(&b).into_owned(),
                Read::TooLarge => {
                    return Err(Failure::outage(format!(
                        "ipstack's answer is larger than {} KiB, more than a location takes; it was not read; \
                         alerts are not affected",
                        MAX_ANSWER >> 10
                    )));
                }
                Read::Cut(e) => {
                    last = describe_error(e, key);
                    continue;
                }
            };
            if !status.is_success() {
                return Err(Failure::outage(format!(
                    "ipstack answered HTTP {} ({}); locations are skipped for now; alerts are not affected",
                    status.as_u16(),
                    scrub(&crate::shown::short(&body), key)
                )));
            }
            return parse(&body, ip, key);
        }
        Err(Failure::outage(format!(
            "ipstack could not be reached ({last}); locations are skipped for now; alerts are not affected"
        )))
    }
}

fn describe_error(e: reqwest::Error, key: &str) -> String {
    let e = e.without_url();
    let text = if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    scrub(&text, key)
}

/// Removes the key from text that came from elsewhere, in case it was echoed back.
fn scrub(text: &str, key: &str) -> String {
    if key.is_empty() {
        text.to_string()
    } else {
        text.replace(key, "[API key]")
    }
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn flag(v: &Value, pointer: &str) -> Option<bool> {
    v.pointer(pointer).and_then(Value::as_bool)
}

/// Reads an answer: a location, `None` for an address ipstack knows nothing of (every
/// field null), or the error it reports.
pub(super) fn parse(body: &str, ip: IpAddr, key: &str) -> Result<Option<Location>, Failure> {
    let v: Value = serde_json::from_str(body).map_err(|e| {
        Failure::outage(format!("ipstack sent an answer that is not JSON ({e}); locations are skipped for now; alerts are not affected"))
    })?;
    if v.get("success").and_then(Value::as_bool) == Some(false) {
        return Err(refusal(&v, key));
    }
    // The security module (paid plans) flags proxies, VPNs and Tor; `hosting_facility`
    // arrived in 2025. Absent fields stay unknown rather than false.
    let proxy = match (flag(&v, "/security/is_proxy"), flag(&v, "/security/is_tor")) {
        (None, None) => None,
        (p, t) => Some(p.unwrap_or(false) || t.unwrap_or(false)),
    };
    let location = Location {
        ip: ip.to_string(),
        country_code: text(&v, "/country_code"),
        country: text(&v, "/country_name"),
        region: text(&v, "/region_name"),
        city: text(&v, "/city"),
        asn: v
            .pointer("/connection/asn")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n > 0),
        network: text(&v, "/connection/isp"),
        hosting: flag(&v, "/security/hosting_facility"),
        proxy,
        source: SOURCE.into(),
    };
    Ok(location.knows_something().then_some(location))
}

/// ipstack's documented error codes, in words that say what to do.
fn refusal(v: &Value, key: &str) -> Failure {
    let code = v
        .pointer("/error/code")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let kind = text(v, "/error/type").unwrap_or_default();
    let info = text(v, "/error/info")
        .map(|i| scrub(&i, key))
        .unwrap_or_default();
    let unaffected = "alerts are not affected";
    match code {
        101 => Failure::refused(
            format!(
                "ipstack refused the API key (code 101 {kind}); give a valid key; {unaffected}"
            ),
            GeoFix::NewIpstackKey,
        ),
        102 => Failure::refused(
            format!(
                "ipstack says the account is inactive (code 102); reactivate it at ipstack or give another key; {unaffected}"
            ),
            GeoFix::NewIpstackKey,
        ),
        104 => Failure::refused(
            format!(
                "ipstack says the monthly quota is used up (code 104); locations resume next month or with another key; {unaffected}"
            ),
            GeoFix::NewIpstackKey,
        ),
        105 => Failure::refused(
            format!(
                "ipstack's plan does not allow this request (code 105 {kind}: {info}); upgrade the plan or use offline databases instead; {unaffected}"
            ),
            GeoFix::OfflineDatabases,
        ),
        _ => Failure::outage(format!(
            "ipstack reported error {code} {kind} ({info}); {unaffected}"
        )),
    }
}

impl Failure {
    fn refused(message: String, fix: GeoFix) -> Self {
        Failure {
            problem: GeoProblem {
                message,
                fix: Some(fix),
            },
            pause: Some(REFUSAL_PAUSE),
        }
    }
}
