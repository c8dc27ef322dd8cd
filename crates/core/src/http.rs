//! HTTP with Microsoft's failure modes handled once: throttling (429, 503, and `AF429`
//! on HTTP 403) honours `Retry-After`, and without it waits out a per-minute quota on
//! Rulewatch's own clock (../shared/reference/m365-api.md §G 14); other 5xx, timeouts and cut connections back
//! off exponentially with jitter. Every retry is counted and logged, so throttling is never
//! silent, and the end of the current throttling wait can be read while it lasts.
//!
//! Two limits keep a hostile or broken answer from doing harm: a redirect to another
//! origin (scheme, host or port) is never followed, so neither a bearer token nor a
//! form's client secret (which reqwest re-sends on 307/308) leaves for another host; and
//! an answer's body is read in chunks up to a cap ([`PAGE_LIMIT`], [`BLOB_LIMIT`]), so a
//! huge body is refused without ever being held whole.
#![warn(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};

use crate::problem::{Problem, ProblemKind};
use crate::shown::short;

/// How hard to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included, before a request gives up
    /// ([`HttpError::GaveUp`]).
    pub max_attempts: u32,
    /// The backoff after the first failure; it doubles with each further one, and each
    /// wait is jittered between half and all of it ([`Http::backoff`]).
    pub base_delay: Duration,
    /// The most one backoff grows to.
    pub max_delay: Duration,
    /// Upper bound on a server-given `Retry-After`, so one answer cannot stall a scan.
    pub max_retry_after: Duration,
    /// The time one attempt may take, from sending to the answer's last byte.
    pub request_timeout: Duration,
    /// The least wait after throttling without `Retry-After`: the Management API's `AF429`
    /// and Exchange's throttling come without it (§G 14), and their quotas count per
    /// minute, so the default outlasts a minute. Tests set it short.
    pub throttle_floor: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
            request_timeout: Duration::from_secs(60),
            throttle_floor: Duration::from_secs(61),
        }
    }
}

/// Retry counters of one scan of one tenant.
#[derive(Debug, Default)]
pub struct RetryStats {
    /// Failed attempts that were throttling: 429, 503, or `AF429` on 403.
    pub throttled: AtomicU64,
    /// Other failed attempts: 5xx, timeouts, cut connections, answers read malformed.
    pub transient: AtomicU64,
}

impl RetryStats {
    /// Throttled attempts so far.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
    /// Other failed attempts so far.
    pub fn transient(&self) -> u64 {
        self.transient.load(Ordering::Relaxed)
    }
}

/// A complete answer: status, headers and the whole body.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The answer's headers.
    pub headers: HeaderMap,
    /// The whole body, no larger than the cap it was read with.
    pub body: bytes::Bytes,
}

impl Reply {
    /// The body as text, with invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The most Rulewatch reads of a listing page, a Graph or Exchange page or a token
/// answer. Real pages are far smaller (a page of 1,000 Graph users is about 1 MB).
pub const PAGE_LIMIT: usize = 16 << 20;
/// The most Rulewatch reads of one Management Activity API content blob. Microsoft
/// documents no size; blobs seen in production hold a few MB.
pub const BLOB_LIMIT: usize = 64 << 20;

/// Why a request gave no successful answer; each message starts with what the request
/// was for.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Still throttled or failing after every attempt.
    #[error("{what}: gave up after {attempts} attempts; last answer: {last}")]
    GaveUp {
        /// What the request was for, as the caller named it.
        what: String,
        /// The attempts made.
        attempts: u32,
        /// The last failure, e.g. `HTTP 503 …` or `timed out`.
        last: String,
        /// Whether the last failure was throttling (429, 503 or `AF429`).
        throttled: bool,
    },
    /// A definite answer that is not success and not worth retrying here.
    #[error("{what}: HTTP {}", .reply.status)]
    Status {
        /// What the request was for.
        what: String,
        /// The answer, for the caller to read Microsoft's error from.
        reply: Reply,
    },
    /// The answer sent us to another origin; not followed, so no credential went there.
    #[error(
        "{what}: the answer redirected to {to}, another host than the one asked; Rulewatch does not follow \
         redirects to another host, so that no token or secret leaves for it. Check for a proxy or a \
         wrong --endpoints"
    )]
    Redirected {
        /// What the request was for.
        what: String,
        /// The origin redirected to (`scheme://host[:port]`, never its path or query).
        to: String,
    },
    /// The body was larger than the cap for its kind of answer.
    #[error("{what}: the answer is larger than {} MiB, the most Rulewatch reads of such an answer; it was not read", .limit >> 20)]
    TooLarge {
        /// What the request was for.
        what: String,
        /// The cap, in bytes.
        limit: usize,
    },
}

/// The HTTP client every Microsoft call goes through: retries per its [`RetryPolicy`],
/// redirects kept to the origin asked, answers read up to a cap. Clones share the client
/// and the throttling clock.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    policy: Arc<RetryPolicy>,
    /// When the latest throttling wait ends, for progress displays.
    throttled_until: Arc<Mutex<Option<DateTime<Utc>>>>,
}

enum Verdict {
    Done,
    /// A quota ran out (429, or `AF429` on 403): without `Retry-After`, wait it out.
    Throttled,
    /// 503: busy, counted as throttling but backed off like a failure without a hint.
    Busy,
    Transient,
    Final,
}

fn classify(status: StatusCode, body: &[u8]) -> Verdict {
    if status.is_success() {
        return Verdict::Done;
    }
    match status.as_u16() {
        429 => Verdict::Throttled,
        503 => Verdict::Busy,
        // The Management Activity API sends AF429 on HTTP 403 (../shared/reference/m365-api.md A8).
        403 if contains(body, b"AF429") => Verdict::Throttled,
        500 | 502 | 504 => Verdict::Transient,
        _ if contains(body, b"AF50000") => Verdict::Transient,
        _ => Verdict::Final,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

/// Same scheme, host and port: reqwest's own test for a cross-host redirect.
fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Follows a redirect only within the origin first asked. reqwest's default drops the
/// `Authorization` header across hosts but re-sends the body of a POST on 307/308,
/// which for a token request holds the client secret or assertion.
pub(crate) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().cloned();
        match first {
            Some(first) if !same_origin(&first, attempt.url()) => attempt.stop(),
            _ if attempt.previous().len() > 10 => attempt.error("too many redirects"),
            _ => attempt.follow(),
        }
    })
}

pub(crate) enum Read {
    Body(bytes::Bytes),
    TooLarge,
    Cut(reqwest::Error),
}

/// Reads the body chunk by chunk and stops at `limit`, so a huge answer is never held whole.
pub(crate) async fn read_capped(mut resp: reqwest::Response, limit: usize) -> Read {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Read::TooLarge;
    }
    let mut body = bytes::BytesMut::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > limit => return Read::TooLarge,
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Read::Body(body.freeze()),
            Err(e) => return Read::Cut(e),
        }
    }
}

impl Http {
    /// A client with `policy`'s timeouts and retries and Rulewatch's user agent. Fails only
    /// when reqwest cannot build its client (e.g. no TLS backend).
    pub fn new(policy: RetryPolicy) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("Rulewatch/", env!("CARGO_PKG_VERSION")))
            .timeout(policy.request_timeout)
            .connect_timeout(Duration::from_secs(15))
            .redirect(redirect_policy())
            .build()?;
        Ok(Http {
            client,
            policy: Arc::new(policy),
            throttled_until: Arc::default(),
        })
    }

    /// The underlying reqwest client, to build the requests [`Http::send`] sends.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The retry policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// When the throttling wait in progress ends, if one is.
    pub fn throttled_until(&self) -> Option<DateTime<Utc>> {
        let until = *self
            .throttled_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        until.filter(|u| *u > Utc::now())
    }

    /// After throttling without `Retry-After`: the floor plus up to a quarter more, so
    /// requests throttled together do not return together.
    pub fn throttle_wait(&self) -> Duration {
        let floor = self.policy.throttle_floor;
        floor + floor.mul_f64(rand::rng().random::<f64>() / 4.0)
    }

    /// Exponential backoff with equal jitter for attempt `n` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .policy
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.policy.max_delay);
        let half = exp / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }

    /// Sends the request `build` makes, again as often as the policy allows while the
    /// answer is throttling or a transient failure. `what` names the call in messages
    /// (never a secret: URLs here carry none). Reads at most [`PAGE_LIMIT`].
    pub async fn send(
        &self,
        what: &str,
        stats: &RetryStats,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Reply, HttpError> {
        self.send_capped(what, stats, PAGE_LIMIT, build).await
    }

    /// [`Http::send`] reading at most `limit` bytes of the answer.
    pub async fn send_capped(
        &self,
        what: &str,
        stats: &RetryStats,
        limit: usize,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Reply, HttpError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (verdict, wait_hint, last) = match build().send().await {
                Ok(resp) if resp.status().is_redirection() => {
                    let to = resp
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .and_then(|l| l.to_str().ok());
                    return Err(HttpError::Redirected {
                        what: what.into(),
                        to: crate::cloud::origin(to.unwrap_or("?")),
                    });
                }
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    match read_capped(resp, limit).await {
                        Read::TooLarge => {
                            return Err(HttpError::TooLarge {
                                what: what.into(),
                                limit,
                            });
                        }
                        Read::Body(body) => {
                            let verdict = classify(status, &body);
                            let reply = Reply {
                                status,
                                headers,
                                body,
                            };
                            match verdict {
                                Verdict::Done => return Ok(reply),
                                Verdict::Final => {
                                    return Err(HttpError::Status {
                                        what: what.into(),
                                        reply,
                                    });
                                }
                                v => {
                                    let hint = retry_after(&reply.headers);
                                    let last = format!(
                                        "HTTP {} {}",
                                        status.as_u16(),
                                        short(&reply.text())
                                    );
                                    (v, hint, last)
                                }
                            }
                        }
                        Read::Cut(e) => (
                            Verdict::Transient,
                            None,
                            format!("connection cut while reading the answer ({e})"),
                        ),
                    }
                }
                Err(e) => (Verdict::Transient, None, describe_send_error(&e)),
            };
            let throttled = matches!(verdict, Verdict::Throttled | Verdict::Busy);
            if throttled {
                stats.throttled.fetch_add(1, Ordering::Relaxed);
            } else {
                stats.transient.fetch_add(1, Ordering::Relaxed);
            }
            if attempt >= self.policy.max_attempts {
                tracing::warn!("{what}: giving up after {attempt} attempts: {last}");
                return Err(HttpError::GaveUp {
                    what: what.into(),
                    attempts: attempt,
                    last,
                    throttled,
                });
            }
            let wait = match wait_hint {
                Some(hint) => hint.min(self.policy.max_retry_after),
                None if matches!(verdict, Verdict::Throttled) => self.throttle_wait(),
                None => self.backoff(attempt),
            };
            let retry = format!(
                "retry {attempt} of {} in {:.1} s",
                self.policy.max_attempts - 1,
                wait.as_secs_f64()
            );
            match (&verdict, wait_hint) {
                (Verdict::Throttled, None) => tracing::info!(
                    "{what}: throttled without Retry-After ({last}); {retry}, long enough for a per-minute quota to reset"
                ),
                (_, Some(_)) if throttled => {
                    tracing::info!("{what}: throttled ({last}); {retry}, as Microsoft asked")
                }
                _ if throttled => tracing::info!("{what}: throttled ({last}); {retry}"),
                _ => tracing::info!("{what}: failed ({last}); {retry}"),
            }
            if throttled {
                let until = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                let mut latest = self
                    .throttled_until
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                *latest = Some(latest.map_or(until, |l| l.max(until)));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

fn describe_send_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("could not connect ({e})")
    } else {
        format!("request failed ({e})")
    }
}

/// How a request that failed is reported in a scan.
impl From<HttpError> for Problem {
    fn from(e: HttpError) -> Self {
        match &e {
            HttpError::GaveUp {
                throttled: true, ..
            } => Problem::new(
                ProblemKind::Throttled,
                format!(
                    "{e}. Microsoft is throttling this tenant; Rulewatch will resume from where it stopped on the next scan"
                ),
            ),
            HttpError::GaveUp { .. } => Problem::new(
                ProblemKind::Unreachable,
                format!(
                    "{e}. Check the network; the next scan resumes from where this one stopped"
                ),
            ),
            HttpError::Status { reply, .. } => Problem::new(
                ProblemKind::BadResponse,
                format!("{e}: {}", short(&reply.text())),
            ),
            HttpError::Redirected { .. } => Problem::new(ProblemKind::ForeignHost, e.to_string()),
            HttpError::TooLarge { .. } => Problem::new(ProblemKind::TooLarge, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn af429_on_403_is_throttling_but_other_403_is_final() {
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, br#"{"error":{"code":"AF429"}}"#),
            Verdict::Throttled
        ));
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, br#"{"error":{"code":"AF10001"}}"#),
            Verdict::Final
        ));
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, b""),
            Verdict::Throttled
        ));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, b""),
            Verdict::Transient
        ));
        assert!(matches!(classify(StatusCode::OK, b""), Verdict::Done));
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn throttling_without_retry_after_waits_out_a_minute_by_default() {
        let http = Http::new(RetryPolicy::default()).unwrap();
        for _ in 0..20 {
            let wait = http.throttle_wait();
            assert!(
                wait > Duration::from_secs(60) && wait <= Duration::from_secs(77),
                "{wait:?}"
            );
        }
        let short = Http::new(RetryPolicy {
            throttle_floor: Duration::from_millis(40),
            ..RetryPolicy::default()
        })
        .unwrap();
        assert!(short.throttle_wait() <= Duration::from_millis(50));
    }

    /// A loopback server answering each request with the next of `answers` (raw HTTP
    /// head lines after the status line), then 200 with `[]`.
    async fn scripted(answers: Vec<&'static str>) -> (String, Arc<Mutex<usize>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(Mutex::new(0usize));
        let count = served.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.unwrap() == 1 {
                    head.push(byte[0]);
                }
                let n = {
                    let mut n = count.lock().unwrap();
                    *n += 1;
                    *n
                };
                let answer = answers
                    .get(n - 1)
                    .copied()
                    .unwrap_or("200 OK\r\nContent-Type: application/json");
                let reply = format!(
                    "HTTP/1.1 {answer}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]"
                );
                socket.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        (base, served)
    }

    /// How long, on tokio's paused clock, a request throttled once with `answer` takes.
    async fn throttled_once(answer: &'static str) -> Duration {
        let (base, served) = scripted(vec![answer]).await;
        let http = Http::new(RetryPolicy::default()).unwrap();
        let started = tokio::time::Instant::now();
        let reply = http
            .send("listing", &RetryStats::default(), || {
                http.client().get(&base)
            })
            .await
            .unwrap();
        assert_eq!((reply.status, *served.lock().unwrap()), (StatusCode::OK, 2));
        started.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_request_waits_what_microsoft_asks_and_no_longer_than_the_cap() {
        assert_eq!(
            throttled_once("429 Too Many Requests\r\nRetry-After: 30").await,
            Duration::from_secs(30)
        );
        assert_eq!(
            throttled_once("429 Too Many Requests\r\nRetry-After: 86400").await,
            RetryPolicy::default().max_retry_after,
            "a day's wait is cut to the cap"
        );
        let own = throttled_once("429 Too Many Requests").await;
        assert!(
            own >= Duration::from_secs(61) && own <= Duration::from_secs(77),
            "without Retry-After, a minute's quota is waited out: {own:?}"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let http = Http::new(RetryPolicy::default()).unwrap();
        let first = http.backoff(1);
        assert!(first >= Duration::from_millis(125) && first <= Duration::from_millis(250));
        assert!(http.backoff(30) <= Duration::from_secs(20));
        assert!(http.backoff(30) >= Duration::from_secs(10));
    }
}
