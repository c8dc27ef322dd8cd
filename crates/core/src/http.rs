//! HTTP with Microsoft's failure modes handled once: throttling (429, 503, and `AF429`
//! on HTTP 403) honours `Retry-After` or backs off exponentially with jitter; other 5xx,
//! timeouts and cut connections back off too. Every retry is counted and logged, so
//! throttling is never silent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};

/// How hard to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Upper bound on a server-given `Retry-After`, so one answer cannot stall a scan.
    pub max_retry_after: Duration,
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Retry counters of one scan of one tenant.
#[derive(Debug, Default)]
pub struct RetryStats {
    pub throttled: AtomicU64,
    pub transient: AtomicU64,
}

impl RetryStats {
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
    pub fn transient(&self) -> u64 {
        self.transient.load(Ordering::Relaxed)
    }
}

/// A complete answer: status, headers and the whole body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Still throttled or failing after every attempt.
    #[error("{what}: gave up after {attempts} attempts; last answer: {last}")]
    GaveUp {
        what: String,
        attempts: u32,
        last: String,
        throttled: bool,
    },
    /// A definite answer that is not success and not worth retrying here.
    #[error("{what}: HTTP {}", .reply.status)]
    Status { what: String, reply: Reply },
}

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    policy: Arc<RetryPolicy>,
}

enum Verdict {
    Done,
    Throttled,
    Transient,
    Final,
}

fn classify(status: StatusCode, body: &[u8]) -> Verdict {
    if status.is_success() {
        return Verdict::Done;
    }
    match status.as_u16() {
        429 | 503 => Verdict::Throttled,
        // The Management Activity API sends AF429 on HTTP 403 (m365-api.md A8).
        403 if contains(body, b"AF429") => Verdict::Throttled,
        500 | 502 | 504 => Verdict::Transient,
        _ if contains(body, b"AF50000") => Verdict::Transient,
        _ => Verdict::Final,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

impl Http {
    pub fn new(policy: RetryPolicy) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("Rulewatch/", env!("CARGO_PKG_VERSION")))
            .timeout(policy.request_timeout)
            .connect_timeout(Duration::from_secs(15))
            .build()?;
        Ok(Http {
            client,
            policy: Arc::new(policy),
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
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
    /// (never a secret: URLs here carry none).
    pub async fn send(
        &self,
        what: &str,
        stats: &RetryStats,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Reply, HttpError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (verdict, wait_hint, last) = match build().send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Ok(body) => {
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
                        Err(e) => (
                            Verdict::Transient,
                            None,
                            format!("connection cut while reading the answer ({e})"),
                        ),
                    }
                }
                Err(e) => (Verdict::Transient, None, describe_send_error(&e)),
            };
            let throttled = matches!(verdict, Verdict::Throttled);
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
                None => self.backoff(attempt),
            };
            tracing::info!(
                "{what}: {} ({last}); retry {attempt} of {} in {:.1} s",
                if throttled { "throttled" } else { "failed" },
                self.policy.max_attempts - 1,
                wait.as_secs_f64()
            );
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

/// The first 300 characters of an answer, for messages.
pub fn short(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
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
    fn backoff_grows_and_is_capped() {
        let http = Http::new(RetryPolicy::default()).unwrap();
        let first = http.backoff(1);
        assert!(first >= Duration::from_millis(125) && first <= Duration::from_millis(250));
        assert!(http.backoff(30) <= Duration::from_secs(20));
        assert!(http.backoff(30) >= Duration::from_secs(10));
    }
}
