//! The Office 365 Management Activity API: subscriptions, content listing (windows of
//! at most 24 h, every page) and content blobs (../shared/reference/m365-api.md A3–A9).
#![warn(missing_docs)]

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;

use crate::api::{Api, ApiError, CallError, Request};
use crate::auth::{AppIdentity, Resource};
use crate::http::{BLOB_LIMIT, PAGE_LIMIT, RetryStats};
use crate::problem::{Problem, ProblemKind};

/// The content type of Exchange's audit records: the inbox rules and forwarding Rulewatch
/// watches.
pub const AUDIT_EXCHANGE: &str = "Audit.Exchange";
/// The content type of Security & Compliance changes (DLP, retention and alert policies)
/// and the other workloads' admin activity.
pub const AUDIT_GENERAL: &str = "Audit.General";

/// One content blob as listed.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlob {
    /// Microsoft's opaque id of the blob; a scan's cursor and error messages name it.
    pub content_id: String,
    /// Where the blob is downloaded from; refused unless on one of the tenant's Microsoft
    /// hosts, so the token never leaves them.
    pub content_uri: String,
    /// When Microsoft made the blob available; a listing's window selects blobs by it.
    pub content_created: DateTime<Utc>,
}

/// What a content listing found.
#[derive(Debug)]
pub enum Listing {
    /// Every blob in the window, all pages read, in Microsoft's order.
    Blobs(Vec<ContentBlob>),
    /// AF20022: the subscription was never started.
    NotStarted,
    /// AF20023: the subscription was stopped (by an admin, or briefly after set-up, §G 2).
    /// Holds the first line of Microsoft's message.
    Stopped(String),
}

/// Why a blob could not be read.
#[derive(Debug)]
pub enum BlobError {
    /// AF20051: older than 7 days; its events are lost to Rulewatch.
    Expired,
    /// Read but not valid, or kept failing.
    Unreadable(String),
    /// A tenant-wide problem (credentials, permissions): stop the tenant's scan.
    Tenant(Problem),
}

/// The Management Activity API of one tenant, as a scan calls it: every call carries the
/// publisher id, and an answer that arrives malformed is downloaded again.
pub struct ActivityApi<'a> {
    /// The authenticated client the calls go through.
    pub api: &'a Api,
    /// The tenant and app the calls are made as; the tenant's cloud picks the host.
    pub app: &'a AppIdentity,
    /// The MSP's own tenant id, sent as `PublisherIdentifier` on every call.
    pub publisher: &'a str,
    /// Where retries are counted: throttling, and transient failures including
    /// malformed answers downloaded again.
    pub stats: &'a RetryStats,
    /// Downloads of an answer that arrives malformed (cut short) before giving up.
    pub attempts: u32,
}

/// Why a GET did not give a readable answer.
enum Fetch {
    Call(CallError),
    /// Still malformed after every attempt.
    Malformed(String),
}

/// `YYYY-MM-DDTHH:MM:SS`, the most precise format the API takes (A4).
pub fn api_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

impl ActivityApi<'_> {
    fn feed_url(&self, path: &str) -> String {
        format!(
            "{}/api/v1.0/{}/activity/feed/{path}",
            self.api.endpoints_of(self.app).management,
            self.app.tenant_id
        )
    }

    fn with_publisher(&self, url: &str) -> Result<String, Problem> {
        let mut parsed = url::Url::parse(url).map_err(|e| {
            Problem::new(
                ProblemKind::BadResponse,
                format!("Microsoft returned an unusable URL '{url}' ({e})"),
            )
        })?;
        if !parsed
            .query_pairs()
            .any(|(k, _)| k.eq_ignore_ascii_case("PublisherIdentifier"))
        {
            parsed
                .query_pairs_mut()
                .append_pair("PublisherIdentifier", self.publisher);
        }
        Ok(parsed.into())
    }

    async fn call(
        &self,
        method: Method,
        url: &str,
        what: &str,
        limit: usize,
    ) -> Result<crate::http::Reply, CallError> {
        let url = self.with_publisher(url)?;
        self.api
            .send_capped(
                self.app,
                Resource::Management,
                method,
                &url,
                what,
                self.stats,
                Request::default(),
                limit,
            )
            .await
    }

    /// GETs `url` until `parse` accepts the answer: a body cut short by the network
    /// parses badly and is downloaded again, with backoff.
    async fn get_parsed<T, E: std::fmt::Display>(
        &self,
        url: &str,
        what: &str,
        limit: usize,
        parse: impl Fn(&crate::http::Reply) -> Result<T, E>,
    ) -> Result<T, Fetch> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let reply = self
                .call(Method::GET, url, what, limit)
                .await
                .map_err(Fetch::Call)?;
            match parse(&reply) {
                Ok(v) => return Ok(v),
                Err(e) if attempt < self.attempts => {
                    self.stats
                        .transient
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let wait = self.api.http.backoff(attempt);
                    tracing::info!(
                        "{what}: answer malformed ({e}); downloading it again in {:.1} s",
                        wait.as_secs_f64()
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    return Err(Fetch::Malformed(format!(
                        "it was malformed {attempt} times in a row (last: {e})"
                    )));
                }
            }
        }
    }

    /// Starts (or restarts) the subscription for a content type. "Already enabled"
    /// (AF20024) is success (../shared/reference/m365-api.md §G 2).
    pub async fn start_subscription(&self, content_type: &str) -> Result<(), Problem> {
        let url = self.feed_url(&format!("subscriptions/start?contentType={content_type}"));
        let what = format!(
            "starting the {content_type} subscription of tenant {}",
            self.app.tenant_id
        );
        match self.call(Method::POST, &url, &what, PAGE_LIMIT).await {
            Ok(_) => {
                tracing::info!("{what}: started");
                Ok(())
            }
            Err(CallError::Api(e)) if e.code == "AF20024" => {
                tracing::info!("{what}: it was already enabled");
                Ok(())
            }
            Err(e) => Err(self.problem(e, &what)),
        }
    }

    /// Lists every blob created in `[start, end)` (at most 24 h), following all pages.
    pub async fn list_content(
        &self,
        content_type: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Listing, Problem> {
        let mut url = self.feed_url(&format!(
            "subscriptions/content?contentType={content_type}&startTime={}&endTime={}",
            api_time(start),
            api_time(end)
        ));
        let what = format!(
            "listing {content_type} content of tenant {} from {} to {}",
            self.app.tenant_id,
            api_time(start),
            api_time(end)
        );
        let mut blobs = Vec::new();
        loop {
            let page = self.get_parsed(&url, &what, PAGE_LIMIT, |reply| {
                let page: Vec<ContentBlob> = serde_json::from_slice(&reply.body)?;
                Ok::<_, serde_json::Error>((page, next_page(&reply.headers)))
            });
            let (page, next) = match page.await {
                Ok(p) => p,
                Err(Fetch::Call(CallError::Api(e))) if e.code == "AF20022" => {
                    return Ok(Listing::NotStarted);
                }
                Err(Fetch::Call(CallError::Api(e))) if e.code == "AF20023" => {
                    return Ok(Listing::Stopped(first_line(&e.message).to_string()));
                }
                Err(Fetch::Call(e)) => return Err(self.problem(e, &what)),
                Err(Fetch::Malformed(why)) => {
                    return Err(Problem::new(
                        ProblemKind::BadResponse,
                        format!("{what}: the listing {why}"),
                    ));
                }
            };
            blobs.extend(page);
            match next {
                Some(n) => url = n,
                None => return Ok(Listing::Blobs(blobs)),
            }
        }
    }

    /// Downloads one blob and hands its body to `parse` (the records are judged there,
    /// borrowing the body instead of copying it).
    pub async fn fetch_blob<T, E: std::fmt::Display>(
        &self,
        blob: &ContentBlob,
        parse: impl Fn(&[u8]) -> Result<T, E>,
    ) -> Result<T, BlobError> {
        let what = format!(
            "downloading blob {} of tenant {}",
            blob.content_id, self.app.tenant_id
        );
        match self
            .get_parsed(&blob.content_uri, &what, BLOB_LIMIT, |reply| {
                parse(&reply.body)
            })
            .await
        {
            Ok(v) => Ok(v),
            Err(Fetch::Malformed(why)) => Err(BlobError::Unreadable(why)),
            Err(Fetch::Call(CallError::Api(e))) if e.code == "AF20051" => Err(BlobError::Expired),
            Err(Fetch::Call(CallError::Api(e))) if e.code == "AF20050" || e.code == "AF20052" => {
                Err(BlobError::Unreadable(format!("{} ({})", e.message, e.code)))
            }
            Err(Fetch::Call(CallError::Problem(p)))
                if matches!(
                    p.kind,
                    ProblemKind::Unreachable
                        | ProblemKind::Throttled
                        | ProblemKind::TooLarge
                        | ProblemKind::ForeignHost
                ) =>
            {
                Err(BlobError::Unreadable(p.message))
            }
            Err(Fetch::Call(e)) => Err(BlobError::Tenant(self.problem(e, &what))),
        }
    }

    fn problem(&self, e: CallError, what: &str) -> Problem {
        match e {
            CallError::Problem(p) => p,
            CallError::Api(e) => api_problem(&e, what, self.api, self.app),
        }
    }
}

/// "Tenant … does not exist." out of "…] failed. Exception: …DataServiceException: Tenant
/// … does not exist.".
fn data_service_words(line: &str) -> &str {
    line.split_once("DataServiceException:")
        .map_or(line, |(_, words)| words.trim())
}

/// The next page's URL. The reference calls the header NextPageUri, the
/// troubleshooting page NextPageUrl (A5); header lookups ignore case.
fn next_page(headers: &reqwest::header::HeaderMap) -> Option<String> {
    ["NextPageUri", "NextPageUrl"]
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// The first line of Microsoft's message: what follows is a stack trace or trace ids.
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}

fn api_problem(e: &ApiError, what: &str, api: &Api, app: &AppIdentity) -> Problem {
    let detail = format!("{} {}", e.code, first_line(&e.message));
    let consent_url = app.consent_url(&api.endpoints);
    match e.code.as_str() {
        // An empty permission set: a token for another cloud's (or another) resource, or
        // no consent at all (../shared/reference/m365-api.md §G 3).
        "AF10001" if e.message.contains("permission set ()") => Problem::new(
            ProblemKind::ConsentMissing,
            format!(
                "the Office 365 Management API refused tenant {}'s token with an empty permission set ({detail}): \
                 wrong cloud or consent missing. Rulewatch reads this tenant in the {} cloud; if it is in another \
                 (GCC, GCC High, DoD), remove it and add it again in its cloud (gcc, gcchigh or dod). \
                 Otherwise a Global Administrator of the tenant grants admin consent at {consent_url}",
                app.tenant_id,
                api.endpoints.cloud_for(app.cloud)
            ),
        ),
        "AF10001" => Problem::new(
            ProblemKind::PermissionMissing,
            format!(
                "the app lacks the ActivityFeed.Read permission in tenant {} ({detail}). In the app registration add \
                 Office 365 Management APIs → Application permissions → ActivityFeed.Read, then grant admin \
                 consent at {consent_url}",
                app.tenant_id
            ),
        ),
        // The audit-off answer's code is a long "StartSubscription [CorrId=…]…" context and
        // its message ends in a stack trace (§G 1): only the exception's own sentence is shown.
        _ if e.message.contains("DataServiceException") || e.code == "AF20011" => Problem::new(
            ProblemKind::AuditDisabled,
            format!(
                "audit logging is off in tenant {} (Microsoft said: {}). Turn it on in Microsoft Purview → Audit → \
                 'Start recording user and admin activity'; it can take up to 60 minutes to apply",
                app.tenant_id,
                data_service_words(first_line(&e.message))
            ),
        ),
        _ if e.message.contains("service principal for resource") => Problem::new(
            ProblemKind::ConsentMissing,
            format!(
                "the Office 365 Management API is disabled in tenant {} ({detail}); the tenant may have no \
                 Exchange Online licence",
                app.tenant_id
            ),
        ),
        _ => Problem::new(
            ProblemKind::BadResponse,
            format!(
                "{what}: Microsoft answered HTTP {}: {detail}",
                e.status.as_u16()
            ),
        ),
    }
}
