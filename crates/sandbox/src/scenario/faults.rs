//! Faults a scenario injects: probabilities per request, and scripted ones.

use super::*;

/// Fault probabilities (per request unless noted) and scripted faults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Chance of a throttling answer, on every [`Endpoint`] but `Token` and `DeviceCode`;
    /// the Management API's answers alternate between HTTP 429 and HTTP 403, both with AF429.
    #[serde(default)]
    pub throttle: f64,
    /// Chance of an HTTP 500 or 503 (alternately) in the service's own shape, on every
    /// [`Endpoint`] but `Token` and `DeviceCode`.
    #[serde(default)]
    pub server_error: f64,
    /// Chance of half the body with a matching `Content-Length`, on content listings and
    /// blob fetches only.
    #[serde(default)]
    pub truncated_body: f64,
    /// Chance of half the promised body and then an aborted connection, on every
    /// [`Endpoint`] but `Token` and `DeviceCode`.
    #[serde(default)]
    pub cut_connection: f64,
    /// Chance of the real answer held back `slow_ms`, on every [`Endpoint`].
    #[serde(default)]
    pub slow: f64,
    /// Per record, at build time: the record also appears in a later blob.
    #[serde(default)]
    pub duplicate_records: f64,
    /// Per blob, at build time: listable only `late_delay_s` after its contentCreated.
    #[serde(default)]
    pub late_blobs: f64,
    /// Seeds every draw: the per-request faults and the build-time duplicates and late blobs.
    #[serde(default)]
    pub seed: u64,
    /// The `Retry-After` seconds on throttling answers that carry one (default 1).
    #[serde(default = "default_retry_after_s")]
    pub retry_after_s: u64,
    /// Milliseconds a `slow` answer is held back (default 1500).
    #[serde(default = "default_slow_ms")]
    pub slow_ms: u64,
    /// Seconds after its contentCreated a late blob becomes listable (default 4).
    #[serde(default = "default_late_delay_s")]
    pub late_delay_s: u64,
    /// Faults played before any random one, each on the first requests it matches.
    #[serde(default)]
    pub script: Vec<ScriptedFault>,
    /// Size of a `huge_body` answer (elsewhere.rs).
    #[serde(default = "default_huge_body_mb")]
    pub huge_body_mb: u64,
    /// Milliseconds every answer on every endpoint is held back: the round trip to
    /// Microsoft's services from a technician's network (0: loopback's own). Guess: a
    /// flat delay plus uniform jitter, where a real network's has a longer tail.
    #[serde(default)]
    pub latency_ms: u64,
    /// Up to this many milliseconds more per request, drawn uniformly from a stream of
    /// its own, so setting it never changes which random faults are drawn.
    #[serde(default)]
    pub latency_jitter_ms: u64,
    /// The Management API's quota in requests per minute per tenant (0: none; Microsoft's
    /// baseline is 2,000). Over it, AF429 on HTTP 403 without `Retry-After`
    /// (../shared/reference/m365-api.md A8, §G 14). The pool Microsoft shares among all
    /// tenants' requests without a `PublisherIdentifier` is not modelled: the sandbox
    /// refuses those requests. Guess: a sliding minute in which the refused requests count
    /// too, stricter than a fixed window or refusals being free.
    #[serde(default)]
    pub quota_per_minute: u32,
}

/// The first `count` requests matching `endpoint` (and `tenant_id` if given) get `fault`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedFault {
    /// The endpoint whose requests get the fault; `Any` matches every endpoint.
    pub endpoint: Endpoint,
    /// Limits the fault to requests for this tenant (its GUID), so a request whose tenant
    /// the sandbox cannot tell never matches; none: any tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The fault played; it must be able to happen on `endpoint`.
    pub fault: FaultKind,
    /// How many matching requests get the fault.
    pub count: u32,
}

/// Which endpoint a scripted fault targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// Entra's token endpoint (`oauth2/v2.0/token`).
    Token,
    /// The Management API's `subscriptions/start` and `subscriptions/list`.
    Subscriptions,
    /// The Management API's content listing, `subscriptions/content`.
    Content,
    /// The Management API's blob fetch, `audit/{contentId}`.
    Blob,
    /// Graph's domain list, `/v1.0/domains`.
    Domains,
    /// Graph's user calls: read, update, revokeSignInSessions.
    Users,
    /// Exchange's admin REST `InvokeCommand`.
    InvokeCommand,
    /// Entra's device authorization endpoint (`devicecode`).
    DeviceCode,
    /// Graph's `tenantRelationships` collections (customers and their relationships).
    Customers,
    /// Every endpoint above.
    Any,
}

/// A fault a script can play; see each variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// HTTP 429 with an AF429 body (Graph: TooManyRequests).
    Throttle,
    /// HTTP 403 with an AF429 body, as in Microsoft's own example.
    ThrottleAf429,
    /// HTTP 500 or 503 (alternately) in the service's own error shape, without `Retry-After`.
    ServerError,
    /// The real status and headers with half the body and a `Content-Length` matching it.
    TruncatedBody,
    /// The real status and headers promising the whole body, half of it, then an aborted
    /// connection.
    CutConnection,
    /// The real answer, after `slow_ms`.
    Slow,
    /// A blob GET answers AF20051.
    Expired,
    /// Scripted only, a hostile network's answers (elsewhere.rs): HTTP 307 to the recorder.
    RedirectElsewhere,
    /// The real answer with its links moved to the recorder (elsewhere.rs).
    ForeignLinks,
    /// A streamed answer of `huge_body_mb` MiB (elsewhere.rs).
    HugeBody,
    /// A content listing answers AF20023 although the subscription is enabled, as seen
    /// right after set-up (../shared/reference/m365-api.md §G 2).
    SubscriptionStopped,
}

impl FaultKind {
    /// Whether this fault can be played on a request to `endpoint` (never `Any`).
    pub(crate) fn applies_to(self, endpoint: Endpoint) -> bool {
        match self {
            FaultKind::Throttle
            | FaultKind::ThrottleAf429
            | FaultKind::ServerError
            | FaultKind::Slow
            | FaultKind::RedirectElsewhere
            | FaultKind::ForeignLinks
            | FaultKind::HugeBody => true,
            FaultKind::TruncatedBody | FaultKind::CutConnection => {
                !matches!(endpoint, Endpoint::Token | Endpoint::DeviceCode)
            }
            FaultKind::Expired => matches!(endpoint, Endpoint::Blob | Endpoint::Any),
            FaultKind::SubscriptionStopped => matches!(endpoint, Endpoint::Content | Endpoint::Any),
        }
    }
}

impl Faults {
    pub(super) fn validate(&self, tenant_ids: &HashSet<String>) -> Result<(), ScenarioError> {
        let probabilities = [
            ("throttle", self.throttle),
            ("server_error", self.server_error),
            ("truncated_body", self.truncated_body),
            ("cut_connection", self.cut_connection),
            ("slow", self.slow),
            ("duplicate_records", self.duplicate_records),
            ("late_blobs", self.late_blobs),
        ];
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(invalid(
                    format!("faults.{name}"),
                    "must be a probability between 0 and 1",
                ));
            }
        }
        for (i, entry) in self.script.iter().enumerate() {
            if let Some(tenant) = &entry.tenant_id
                && !tenant_ids.contains(&tenant.to_ascii_lowercase())
            {
                return Err(invalid(
                    format!("faults.script[{i}].tenant_id"),
                    format!("no tenant `{tenant}`"),
                ));
            }
            if !entry.fault.applies_to(entry.endpoint) {
                return Err(invalid(
                    format!("faults.script[{i}].fault"),
                    format!(
                        "{:?} cannot happen on the {:?} endpoint",
                        entry.fault, entry.endpoint
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            throttle: 0.0,
            server_error: 0.0,
            truncated_body: 0.0,
            cut_connection: 0.0,
            slow: 0.0,
            duplicate_records: 0.0,
            late_blobs: 0.0,
            seed: 0,
            retry_after_s: default_retry_after_s(),
            slow_ms: default_slow_ms(),
            latency_ms: 0,
            latency_jitter_ms: 0,
            quota_per_minute: 0,
            late_delay_s: default_late_delay_s(),
            script: Vec::new(),
            huge_body_mb: default_huge_body_mb(),
        }
    }
}

fn default_retry_after_s() -> u64 {
    1
}

fn default_huge_body_mb() -> u64 {
    1024
}

fn default_slow_ms() -> u64 {
    1500
}

fn default_late_delay_s() -> u64 {
    4
}
