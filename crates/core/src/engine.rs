//! One scan of every tenant: token, accepted domains, subscription, content listing
//! from the cursor, each unprocessed blob downloaded, cut to candidates, judged, and
//! committed with its alerts in one transaction.

use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use futures::StreamExt;
use serde_json::value::RawValue;

use crate::activity::{
    AUDIT_EXCHANGE, AUDIT_GENERAL, ActivityApi, BlobError, ContentBlob, Listing,
};
use crate::api::Api;
use crate::auth::{AppIdentity, TokenProvider};
use crate::cloud::Endpoints;
use crate::detect::{self, AuditRecord, TenantContext};
use crate::enrich;
use crate::geo::Geo;
use crate::graph;
use crate::http::{Http, RetryPolicy, RetryStats};
use crate::problem::{Problem, ProblemKind};
use crate::secrets::{NO_TENANT, SecretError, SecretKind, SecretStore};
use crate::sign_ins::{self, AUDIT_AZURE_AD, SignIn};
use crate::store::{BlobCommit, NewAlert, StatusUpdate, Store, TenantRow, TenantState};

// The blob splitter sits below the engine, which sign-in collection uses too.
pub use crate::split;

/// The Management Activity API serves content for 7 days (A6).
const RETENTION: Duration = Duration::days(7);
/// Listing windows are at most 24 hours (A4).
const MAX_WINDOW: Duration = Duration::hours(24);
/// Microsoft allows one subscription start per content type every 15 minutes (A3).
const SUBSCRIPTION_START_SPACING: Duration = Duration::minutes(15);
/// Blobs of one tenant's window downloaded at once: enough to overlap round trips, few
/// enough that a tenant's share of Microsoft's per-tenant quota stays small.
const BLOB_READS_AT_ONCE: usize = 4;

/// How the engine scans: Microsoft's endpoints, the look-back, concurrency, retries and
/// the other tunables. [`EngineConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The Microsoft cloud's sign-in and service addresses.
    pub endpoints: Endpoints,
    /// The MSP's own tenant id for `PublisherIdentifier`; each tenant's own id when unset.
    pub publisher_id: Option<String>,
    /// How far back the first scan of a tenant reads (at most 7 days).
    pub backfill: Duration,
    /// How far behind the cursor each scan lists again, for blobs listed late.
    pub overlap: Duration,
    /// The most tenants scanned at once; fewer while Microsoft throttles ([`AtOnce`]).
    pub concurrency: usize,
    /// How requests are retried, and how long throttling and each attempt may take.
    pub retry: RetryPolicy,
    /// Accepted domains are read again after this long.
    pub domains_max_age: Duration,
    /// Downloads of a listing page or blob that arrives malformed before giving up.
    pub blob_attempts: u32,
    /// The partner's customers are listed again after this long (zero: every scan).
    pub discovery_every: Duration,
    /// Waits between read-backs of a remediation change that does not show yet.
    pub verify_delays: Vec<std::time::Duration>,
}

impl EngineConfig {
    /// The defaults for `endpoints`: a 24-hour first look-back, 4 hours of overlap, up to
    /// 32 tenants at once, 4 download attempts, and domains and the partner's customers
    /// read again daily.
    pub fn new(endpoints: Endpoints) -> Self {
        EngineConfig {
            endpoints,
            publisher_id: None,
            backfill: Duration::hours(24),
            overlap: Duration::hours(4),
            concurrency: 32,
            retry: RetryPolicy::default(),
            domains_max_age: Duration::hours(24),
            blob_attempts: 4,
            discovery_every: Duration::hours(24),
            verify_delays: crate::remediate::default_verify_delays(),
        }
    }
}

/// How many tenants are scanned at once: Microsoft's quota is per tenant, so more at
/// once mostly costs the shared parts (the token service, this machine); a throttled
/// tenant says those are full. Additive increase, multiplicative decrease, as TCP's
/// congestion control (RFC 5681) does: one more after each tenant scanned without
/// throttling, half as many after one that was throttled, never fewer than one nor more
/// than the ceiling. Written here because it is a counter, not worth a dependency.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AtOnce {
    now: usize,
    ceiling: usize,
}

/// Where a scan starts before it has seen how Microsoft answers.
const FIRST_AT_ONCE: usize = 8;

impl AtOnce {
    pub(crate) fn new(ceiling: usize) -> AtOnce {
        let ceiling = ceiling.max(1);
        AtOnce {
            now: FIRST_AT_ONCE.min(ceiling),
            ceiling,
        }
    }

    pub(crate) fn now(&self) -> usize {
        self.now
    }

    /// A tenant's scan ended, throttled or not.
    pub(crate) fn finished(&mut self, throttled: bool) {
        self.now = if throttled {
            (self.now / 2).max(1)
        } else {
            (self.now + 1).min(self.ceiling)
        };
    }
}

/// How one tenant's scan went.
#[derive(Debug, Clone)]
pub struct TenantReport {
    /// The tenant's id.
    pub tenant_id: String,
    /// The tenant's name, as configured.
    pub name: String,
    /// How the scan went: complete, partial or failed.
    pub state: TenantState,
    /// Why the tenant failed, or what was incomplete.
    pub problems: Vec<Problem>,
    /// Content blobs read and committed (expired and unreadable ones not counted).
    pub blobs: usize,
    /// Audit records in those blobs.
    pub records: usize,
    /// Alerts this scan stored, not counting those the allowlist suppressed.
    pub new_alerts: usize,
    /// Requests Microsoft throttled during this tenant's scan.
    pub throttled: u64,
    /// Requests retried after another failure (a timeout, a 5xx) during this tenant's scan.
    pub retried: u64,
    /// How long the tenant's scan took, from its first request to its last commit: what
    /// Rulewatch adds to an attack's wait beyond the poll interval.
    pub took: std::time::Duration,
}

/// One step of [`Engine::test_connection`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnectionStep {
    /// "token", "subscription" or "domains".
    pub step: &'static str,
    /// Whether the step succeeded.
    pub ok: bool,
    /// What was found, or what is missing and how to grant it.
    pub detail: String,
}

impl ConnectionStep {
    fn ok(step: &'static str, detail: String) -> Self {
        ConnectionStep {
            step,
            ok: true,
            detail,
        }
    }

    fn failed(step: &'static str, detail: String) -> Self {
        ConnectionStep {
            step,
            ok: false,
            detail,
        }
    }
}

/// What one scan of every tenant found.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// One report per configured tenant, by name, then id.
    pub tenants: Vec<TenantReport>,
    /// The partner's customers listed before this scan (when due), or why they could not be.
    pub discovery: Option<Result<crate::partner::Discovery, Problem>>,
    /// Tenants left to another Rulewatch on this data folder that was scanning them
    /// (the desktop app, `rulewatch watch`): names, by name.
    pub busy: Vec<String>,
    /// In a team, tenants this workstation holds no credentials for, which colleagues'
    /// workstations scan: names, by name.
    pub elsewhere: Vec<String>,
}

impl ScanReport {
    /// Whether every tenant was scanned completely (none partial or failed).
    pub fn all_scanned(&self) -> bool {
        self.tenants.iter().all(|t| t.state == TenantState::Ok)
    }

    /// The problem of a tenant reached through the partner account whose sign-in
    /// lapsed or was revoked, if any tenant met one.
    pub fn partner_lapsed(&self) -> Option<&Problem> {
        self.tenants
            .iter()
            .flat_map(|t| &t.problems)
            .find(|p| p.kind == ProblemKind::SignInNeeded)
    }
}

/// The scanner: signs in to each tenant, reads its audit feeds into the store and judges
/// them. Also the door to remediation, the partner account and connection tests.
pub struct Engine {
    /// This engine's name in the scan leases, `<pid>:<uuid>`: the process id lets another
    /// process see that a holder killed mid-scan is gone.
    holder: String,
    store: Arc<Store>,
    secrets: Arc<dyn SecretStore>,
    api: Api,
    geo: Geo,
    config: EngineConfig,
}

#[derive(Default)]
struct Collected {
    blobs: usize,
    records: usize,
    new_alerts: usize,
    issues: Vec<Problem>,
}

/// How long a tenant's scan lease lasts unless renewed: a workstation of a team that died
/// mid-scan (whose process this machine cannot see) hands its tenants on within this,
/// well inside the shortest scan interval (5 minutes).
const SCAN_LEASE: Duration = Duration::minutes(2);

/// How often a scan renews its lease, however long throttling makes it take.
const LEASE_RENEWAL: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a scan waits for Exchange to name a mailbox a record gave by GUID or alias:
/// a throttled or slow Exchange must not hold the alert back from the technician.
const MAILBOX_NAME_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The look-back a technician may choose for a tenant's first scan, in whole hours:
/// Microsoft keeps content for 7 days (../shared/reference/m365-api.md A4), and the scan stays inside them.
pub const BACKFILL_HOURS: std::ops::RangeInclusive<u16> = 1..=167;

impl Engine {
    /// An engine over `store`, signing in with the secrets in `secrets`. The first look-back
    /// is kept inside what Microsoft still serves (1 minute to just under 7 days) and the
    /// concurrency at 1 or more. Fails only when the HTTP client cannot be built.
    pub fn new(
        store: Arc<Store>,
        secrets: Arc<dyn SecretStore>,
        mut config: EngineConfig,
    ) -> Result<Self, reqwest::Error> {
        config.backfill = config
            .backfill
            .clamp(Duration::minutes(1), RETENTION - Duration::minutes(10));
        config.concurrency = config.concurrency.max(1);
        let http = Http::new(config.retry.clone())?;
        let tokens = Arc::new(TokenProvider::new(
            http.clone(),
            config.endpoints.clone(),
            secrets.clone(),
        ));
        let api = Api {
            http,
            endpoints: config.endpoints.clone(),
            tokens,
        };
        let geo = Geo::new(store.clone(), secrets.clone(), &config.endpoints);
        Ok(Engine {
            holder: crate::store::lease_holder(),
            store,
            secrets,
            api,
            geo,
            config,
        })
    }

    /// The store the engine reads and writes.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Secure and Remediate with this engine's Microsoft connection, recorded as
    /// `operator`, with `defaults` checked in plans.
    pub fn remediator(
        &self,
        operator: crate::remediate::Operator,
        defaults: Vec<crate::remediate::Action>,
    ) -> crate::remediate::Remediator<'_> {
        let verify_delays = self.config.verify_delays.clone();
        crate::remediate::Remediator {
            api: &self.api,
            store: &self.store,
            operator,
            defaults,
            verify_delays,
        }
    }

    /// Scans every configured tenant, a bounded number at once. A failing tenant never
    /// stops the others.
    pub async fn scan(&self) -> Result<ScanReport, crate::store::StoreError> {
        self.scan_with_progress(|_, _| {}).await
    }

    /// [`Engine::scan`], calling `progress(done, total)` as each tenant finishes.
    pub async fn scan_with_progress(
        &self,
        progress: impl Fn(usize, usize),
    ) -> Result<ScanReport, crate::store::StoreError> {
        let discovery = self.discover_if_due().await?;
        let shared = self.store.is_shared();
        let (tenants, mut elsewhere): (Vec<_>, Vec<_>) = self
            .store
            .tenants()?
            .into_iter()
            .partition(|t| !shared || self.holds_credentials(t));
        let elsewhere: Vec<String> = {
            elsewhere.sort_by(|a, b| a.name.cmp(&b.name));
            elsewhere.into_iter().map(|t| t.name).collect()
        };
        let total = tenants.len();
        progress(0, total);
        let mut reports = Vec::with_capacity(total);
        let mut busy = Vec::new();
        let mut done = 0;
        let mut at_once = AtOnce::new(self.config.concurrency);
        let mut waiting = tenants.into_iter();
        let mut running = futures::stream::FuturesUnordered::new();
        loop {
            while running.len() < at_once.now() {
                let Some(t) = waiting.next() else { break };
                running.push(self.scan_leased(t));
            }
            let Some(outcome) = running.next().await else {
                break;
            };
            match outcome {
                Ok(report) => {
                    at_once.finished(report.throttled > 0);
                    reports.push(report);
                }
                Err(name) => busy.push(name),
            }
            done += 1;
            progress(done, total);
        }
        let mut tenants = reports;
        tenants.sort_by(|a, b| a.name.cmp(&b.name).then(a.tenant_id.cmp(&b.tenant_id)));
        busy.sort();
        self.note_partner_refresh(&tenants)?;
        Ok(ScanReport {
            tenants,
            discovery,
            busy,
            elsewhere,
        })
    }

    /// Whether this workstation can sign in to `t`: the keychain holds its secret, or the
    /// partner account's sign-in. A keychain that cannot be asked counts as holding it,
    /// so the scan reports that problem instead of passing over the tenant in silence.
    fn holds_credentials(&self, t: &TenantRow) -> bool {
        let (owner, kind) = match &t.auth_method {
            crate::auth::AuthMethod::ClientSecret => {
                (t.tenant_id.as_str(), SecretKind::ClientSecret)
            }
            crate::auth::AuthMethod::Certificate { .. } => {
                (t.tenant_id.as_str(), SecretKind::CertificateKey)
            }
            crate::auth::AuthMethod::Partner => (NO_TENANT, SecretKind::PartnerRefreshToken),
        };
        !matches!(
            self.secrets.get(owner, kind),
            Err(SecretError::Missing { .. } | SecretError::NotSignedIn)
        )
    }

    /// Scans `t` while holding its lease; `Err(name)` when another process on this data
    /// folder holds it. A lease the store cannot record does not stop the scan: the
    /// lease spares Microsoft a second reader, and each blob commits once either way.
    async fn scan_leased(&self, t: TenantRow) -> Result<TenantReport, String> {
        let now = Utc::now();
        let id = t.tenant_id.clone();
        match self
            .store
            .take_scan_lease(&id, &self.holder, now, now + SCAN_LEASE)
        {
            Ok(false) => return Err(t.name),
            Ok(true) => {}
            Err(e) => tracing::warn!("the scan lease of tenant {id} is not recorded: {e}"),
        }
        let scan = self.scan_tenant(t);
        tokio::pin!(scan);
        let report = loop {
            tokio::select! {
                report = &mut scan => break report,
                () = tokio::time::sleep(LEASE_RENEWAL) => {
                    let now = Utc::now();
                    match self.store.take_scan_lease(&id, &self.holder, now, now + SCAN_LEASE) {
                        Ok(true) => {}
                        // Each blob still commits once: the other reader's copy is skipped.
                        Ok(false) => tracing::warn!("the scan lease of tenant {id} was taken over while this scan ran"),
                        Err(e) => tracing::warn!("the scan lease of tenant {id} is not renewed: {e}"),
                    }
                }
            }
        };
        if let Err(e) = self.store.release_scan_lease(&id, &self.holder) {
            tracing::warn!("the scan lease of tenant {id} stays until it expires: {e}");
        }
        Ok(report)
    }

    /// Lists the partner's customers when a partner account is signed in and the last
    /// listing is older than `discovery_every`, so new customers are scanned at once.
    async fn discover_if_due(
        &self,
    ) -> Result<Option<Result<crate::partner::Discovery, Problem>>, crate::store::StoreError> {
        let Some(account) = crate::partner::account(&self.store)? else {
            return Ok(None);
        };
        if !crate::partner::discovery_due(&self.store, self.config.discovery_every)? {
            return Ok(None);
        }
        let found =
            crate::partner::discover(&self.api, &self.store, &account, &RetryStats::default())
                .await;
        match &found {
            Ok(d) if !d.now_watched.is_empty() => {
                tracing::info!(
                    "coverage grew: {} new customer(s) watched",
                    d.now_watched.len()
                )
            }
            Ok(_) => {}
            Err(p) => tracing::warn!("listing the partner's customers failed: {p}"),
        }
        Ok(Some(found))
    }

    /// Records that the partner refresh token was used (and rotated) when a tenant
    /// reached through it was scanned, so the panel can say when it last worked.
    fn note_partner_refresh(
        &self,
        reports: &[TenantReport],
    ) -> Result<(), crate::store::StoreError> {
        let Some(mut account) = crate::partner::account(&self.store)? else {
            return Ok(());
        };
        let partner_tenants = self.store.partner_tenants()?;
        if reports
            .iter()
            .any(|r| r.state != TenantState::Error && partner_tenants.contains(&r.tenant_id))
        {
            account.refreshed_at = crate::clock::now();
            self.store
                .set_setting(&crate::partner::ACCOUNT_SETTING, &account)?;
        }
        Ok(())
    }

    /// The partner account's connection, for sign-in and sign-out.
    pub fn partner(&self) -> crate::partner::Partner<'_> {
        crate::partner::Partner {
            http: &self.api.http,
            endpoints: &self.api.endpoints,
            secrets: self.secrets.as_ref(),
            store: &self.store,
        }
    }

    /// Lists the partner's customers now (after sign-in, or when asked).
    pub async fn discover(&self) -> Result<crate::partner::Discovery, Problem> {
        let account = crate::partner::account(&self.store)
            .map_err(store_problem)?
            .ok_or_else(|| {
                Problem::new(
                    ProblemKind::SignInNeeded,
                    crate::secrets::SecretError::NotSignedIn.to_string(),
                )
            })?;
        crate::partner::discover(&self.api, &self.store, &account, &RetryStats::default()).await
    }

    /// When the throttling wait in progress ends, for the panel's progress.
    pub fn throttled_until(&self) -> Option<DateTime<Utc>> {
        self.api.http.throttled_until()
    }

    /// Forgets every cached token (after the partner account signed out).
    pub fn forget_tokens(&self) {
        self.api.tokens.clear();
    }

    async fn scan_tenant(&self, t: TenantRow) -> TenantReport {
        let began = std::time::Instant::now();
        let stats = RetryStats::default();
        let result = self.collect(&t, &stats).await;
        let (state, problems, collected) = match result {
            Ok(c) if c.issues.is_empty() => (TenantState::Ok, Vec::new(), c),
            Ok(mut c) => (TenantState::Partial, std::mem::take(&mut c.issues), c),
            Err(p) => (TenantState::Error, vec![p], Collected::default()),
        };
        let message = problems
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let update = StatusUpdate {
            tenant_id: &t.tenant_id,
            state,
            problem: problems.first().map(|p| p.kind.as_str()),
            message: (!message.is_empty()).then_some(message.as_str()),
            throttled: stats.throttled(),
            retried: stats.transient(),
        };
        let mut problems = problems;
        if let Err(e) = self.store.set_status(&update) {
            problems.push(Problem::new(
                ProblemKind::LocalDatabase,
                format!("could not save the tenant's status: {e}"),
            ));
        }
        TenantReport {
            tenant_id: t.tenant_id,
            name: t.name,
            state,
            problems,
            blobs: collected.blobs,
            records: collected.records,
            new_alerts: collected.new_alerts,
            throttled: stats.throttled(),
            retried: stats.transient(),
            took: began.elapsed(),
        }
    }

    /// Checks what a scan of `t` needs, one step at a time, so a technician sees which
    /// permission or setting is missing: a token, the audit subscription, the domains.
    pub async fn test_connection(&self, t: &TenantRow) -> Vec<ConnectionStep> {
        let stats = RetryStats::default();
        let app = t.app();
        let mut steps = Vec::new();
        if let Err(p) = self
            .api
            .tokens
            .token(&app, crate::auth::Resource::Management, &stats)
            .await
        {
            steps.push(ConnectionStep::failed("token", p.message));
            for step in ["subscription", "domains"] {
                steps.push(ConnectionStep::failed(
                    step,
                    "not tried: Rulewatch could not sign in".into(),
                ));
            }
            return steps;
        }
        steps.push(ConnectionStep::ok(
            "token",
            format!("signed in to tenant {} as app {}", t.tenant_id, t.client_id),
        ));
        let publisher = match self.publisher(t) {
            Ok(p) => p,
            Err(p) => {
                steps.push(ConnectionStep::failed("subscription", p.message));
                return steps;
            }
        };
        let activity = ActivityApi {
            api: &self.api,
            app: &app,
            publisher: &publisher,
            stats: &stats,
            attempts: self.config.blob_attempts,
        };
        let now = crate::clock::now();
        let subscription = self
            .list_window(
                &t.tenant_id,
                &activity,
                AUDIT_EXCHANGE,
                now - Duration::hours(1),
                now,
            )
            .await
            .map(|_| format!("the {AUDIT_EXCHANGE} subscription is on"));
        steps.push(match subscription {
            Ok(detail) => ConnectionStep::ok("subscription", detail),
            Err(p) => ConnectionStep::failed("subscription", p.message),
        });
        steps.push(
            match graph::accepted_domains(&self.api, &app, &stats).await {
                Ok(domains) => ConnectionStep::ok(
                    "domains",
                    format!(
                        "{} verified domain(s): {}",
                        domains.len(),
                        domains.join(", ")
                    ),
                ),
                Err(p) => ConnectionStep::failed("domains", p.message),
            },
        );
        steps
    }

    /// The `PublisherIdentifier` for `t`'s Management API calls (see [`crate::tenants::publisher_id`]).
    fn publisher(&self, t: &TenantRow) -> Result<String, Problem> {
        crate::tenants::publisher_id(
            &self.store,
            self.config.publisher_id.as_deref(),
            &t.tenant_id,
        )
        .map_err(store_problem)
    }

    async fn accepted_domains(
        &self,
        t: &TenantRow,
        app: &AppIdentity,
        stats: &RetryStats,
    ) -> Result<Vec<String>, Problem> {
        let cached = self
            .store
            .accepted_domains(&t.tenant_id)
            .map_err(store_problem)?;
        if let Some((domains, at)) = &cached
            && crate::clock::now() - *at < self.config.domains_max_age
        {
            return Ok(domains.clone());
        }
        match graph::accepted_domains(&self.api, app, stats).await {
            Ok(domains) if !domains.is_empty() => {
                self.store
                    .set_accepted_domains(&t.tenant_id, &domains)
                    .map_err(store_problem)?;
                Ok(domains)
            }
            Ok(_) => Err(Problem::new(
                ProblemKind::BadResponse,
                format!(
                    "Graph lists no verified domain for tenant {}; cannot tell inside from outside",
                    t.tenant_id
                ),
            )),
            Err(p) => match cached {
                Some((domains, _)) => {
                    tracing::warn!("{}: using the accepted domains read earlier: {p}", t.name);
                    Ok(domains)
                }
                None => Err(p),
            },
        }
    }

    async fn collect(&self, t: &TenantRow, stats: &RetryStats) -> Result<Collected, Problem> {
        let app = t.app();
        let ctx = TenantContext {
            accepted_domains: self.accepted_domains(t, &app, stats).await?,
        };
        // What the technician trusts: applied to the findings, never seen by the rules.
        let tuning =
            crate::tuning::Tuning::of_tenant(&self.store, &t.tenant_id).map_err(store_problem)?;
        let judging = Judging {
            ctx: &ctx,
            tuning: &tuning,
        };
        let publisher = self.publisher(t)?;
        let activity = ActivityApi {
            api: &self.api,
            app: &app,
            publisher: &publisher,
            stats,
            attempts: self.config.blob_attempts,
        };
        let now = crate::clock::now()
            .duration_trunc(Duration::seconds(1))
            .unwrap_or_else(|_| crate::clock::now());
        let mut out = Collected::default();
        // Entra's feed first: its sign-ins (when collected) come before the changes made
        // minutes after them, and its directory changes (consents, roles, MFA) before the
        // mailbox changes they prepare (issue 16).
        let sign_ins = sign_ins::enabled(&self.store).map_err(store_problem)?;
        for ct in [AUDIT_AZURE_AD, AUDIT_EXCHANGE, AUDIT_GENERAL] {
            let feed = Feed {
                ct,
                sign_ins: sign_ins && ct == AUDIT_AZURE_AD,
            };
            self.collect_feed(t, &activity, feed, now, &judging, &mut out)
                .await?;
        }
        Ok(out)
    }

    /// Reads one content type from its cursor up to `now`.
    async fn collect_feed(
        &self,
        t: &TenantRow,
        activity: &ActivityApi<'_>,
        feed: Feed,
        now: DateTime<Utc>,
        judging: &Judging<'_>,
        out: &mut Collected,
    ) -> Result<(), Problem> {
        let ct = feed.ct;
        let earliest = now - RETENTION + Duration::minutes(10);
        let cursor = self.store.cursor(&t.tenant_id, ct).map_err(store_problem)?;
        let mut start = match cursor {
            Some(c) => c - self.config.overlap,
            None => now - self.config.backfill,
        };
        if start < earliest {
            if let Some(c) = cursor.filter(|c| *c < earliest) {
                let msg = format!(
                    "{ct} content created between {} and {} is older than 7 days and can no longer be read: events in that range are lost",
                    crate::store::ts(c),
                    crate::store::ts(earliest)
                );
                self.store
                    .record_event(&t.tenant_id, "data_gap", None, &msg)
                    .map_err(store_problem)?;
                out.issues.push(Problem::new(ProblemKind::DataGap, msg));
            }
            start = earliest;
        }

        // A blob that stays unreadable holds the cursor where it is, so the next scan
        // lists it again; blobs after it are still processed.
        let mut held = false;
        let mut window_start = start;
        while window_start < now {
            let window_end = (window_start + MAX_WINDOW).min(now);
            let mut blobs = self
                .list_window(&t.tenant_id, activity, ct, window_start, window_end)
                .await?;
            blobs.sort_by_key(|b| b.content_created);
            blobs.dedup_by(|a, b| a.content_id == b.content_id);
            let mut unread = Vec::with_capacity(blobs.len());
            for blob in &blobs {
                if !self
                    .store
                    .is_processed(&t.tenant_id, &blob.content_id)
                    .map_err(store_problem)?
                {
                    unread.push(blob);
                }
            }
            // A few downloads overlap, so the round trips wait together; each blob is
            // still committed on its own, in order, so the cursor moves as before.
            // By index: with a closure taking the blob by reference, the compiler cannot
            // prove the scan's future Send (a known limit of higher-ranked lifetimes in
            // async code).
            let unread = &unread;
            let mut reads = futures::stream::iter(0..unread.len())
                .map(|i| {
                    let blob: &ContentBlob = unread[i];
                    async move { (blob, self.read_blob(activity, blob, feed, judging, t).await) }
                })
                .buffered(BLOB_READS_AT_ONCE);
            let tune = &|a: &mut NewAlert| judging.tuning.tune(a);
            while let Some((blob, read)) = reads.next().await {
                let commit = |records, expired, alerts, sign_ins, countables| BlobCommit {
                    tenant_id: &t.tenant_id,
                    content_type: ct,
                    content_id: &blob.content_id,
                    content_created: blob.content_created,
                    records,
                    expired,
                    alerts,
                    sign_ins,
                    countables,
                    tune,
                    cursor: (!held).then_some(blob.content_created),
                };
                match read {
                    Ok(mut content) => {
                        enrich::enrich(
                            &mut content.judged.alerts,
                            &t.tenant_id,
                            &self.store,
                            &self.geo,
                        )
                        .await;
                        // A sign only when made from somewhere new is dropped otherwise
                        // (a user's own new MFA method): it needs sign-in collection on.
                        content.judged.alerts.retain(|a| {
                            !detect::needs_new_origin(&a.rule, &a.details, &a.actor, &a.target)
                                || enrich::from_somewhere_new(a)
                        });
                        self.name_mailboxes(&mut content.judged.alerts, &t.tenant_id, activity)
                            .await;
                        let new = self
                            .store
                            .commit_blob(commit(
                                content.judged.records,
                                false,
                                &content.judged.alerts,
                                &content.sign_ins,
                                &content.judged.countables,
                            ))
                            .map_err(store_problem)?;
                        out.blobs += 1;
                        out.records += content.judged.records;
                        out.new_alerts += new.iter().filter(|a| a.suppressed_by.is_none()).count();
                    }
                    Err(BlobError::Expired) => {
                        let msg = format!(
                            "{ct} blob {} (created {}) expired before it could be read: its events are lost",
                            blob.content_id,
                            crate::store::ts(blob.content_created)
                        );
                        self.store
                            .commit_blob(commit(0, true, &[], &[], &[]))
                            .map_err(store_problem)?;
                        self.store
                            .record_event(&t.tenant_id, "data_gap", Some(&blob.content_id), &msg)
                            .map_err(store_problem)?;
                        out.issues.push(Problem::new(ProblemKind::DataGap, msg));
                    }
                    Err(BlobError::Unreadable(why)) => {
                        held = true;
                        let msg = format!(
                            "{ct} blob {} could not be read and will be tried again next scan: {why}",
                            blob.content_id
                        );
                        tracing::warn!("{}: {msg}", t.name);
                        self.store
                            .record_event(&t.tenant_id, "blob_failed", Some(&blob.content_id), &msg)
                            .map_err(store_problem)?;
                        out.issues.push(Problem::new(ProblemKind::BlobFailed, msg));
                    }
                    Err(BlobError::Tenant(p)) => return Err(p),
                }
            }
            if !held {
                self.store
                    .advance_cursor(&t.tenant_id, ct, window_end)
                    .map_err(store_problem)?;
            }
            window_start = window_end;
        }
        Ok(())
    }

    /// Names by UPN each mailbox an alert knows only by GUID or alias (a Set-InboxRule
    /// record's ObjectId is `<mailbox GUID>\<rule id>`, ../shared/reference/m365-api.md),
    /// asking Exchange once per name and keeping its answer, so one mailbox's alerts form
    /// one incident whatever each record called it. Never fails: a name Exchange cannot
    /// place keeps its alert on the name as recorded, and is asked again next time.
    async fn name_mailboxes(
        &self,
        alerts: &mut [NewAlert],
        tenant_id: &str,
        activity: &ActivityApi<'_>,
    ) {
        for a in alerts
            .iter_mut()
            .filter(|a| crate::remediate::named_by_id(&a.target))
        {
            match self.store.mailbox_name(tenant_id, &a.target) {
                Ok(Some(upn)) => a.mailbox = Some(upn),
                Ok(None) => {
                    let asked = tokio::time::timeout(
                        MAILBOX_NAME_WAIT,
                        crate::remediate::upn_of(
                            activity.api,
                            activity.app,
                            activity.stats,
                            &a.target,
                        ),
                    )
                    .await
                    .unwrap_or_else(|_| {
                        Err(format!(
                            "Exchange did not answer within {} s",
                            MAILBOX_NAME_WAIT.as_secs()
                        ))
                    });
                    match asked {
                        Ok(upn) => {
                            if let Err(e) = self.store.set_mailbox_name(tenant_id, &a.target, &upn)
                            {
                                tracing::warn!("the name of mailbox {} is not kept: {e}", a.target);
                            }
                            a.mailbox = Some(upn);
                        }
                        Err(why) => tracing::warn!(
                            "alerts on mailbox {} stay under that name: {why}",
                            crate::detect::visible_text(&a.target)
                        ),
                    }
                }
                Err(e) => tracing::warn!("the name of mailbox {} cannot be read: {e}", a.target),
            }
        }
    }

    /// Lists one window. A subscription never started (AF20022) or stopped (AF20023) is
    /// started, at most once every 15 minutes, then listed again (../shared/reference/m365-api.md A3, §G 2).
    async fn list_window(
        &self,
        tenant_id: &str,
        activity: &ActivityApi<'_>,
        ct: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<ContentBlob>, Problem> {
        let off = match activity.list_content(ct, start, end).await? {
            Listing::Blobs(blobs) => return Ok(blobs),
            Listing::NotStarted => {
                format!("the {ct} subscription of tenant {tenant_id} was not started")
            }
            Listing::Stopped(said) => {
                format!(
                    "the {ct} subscription of tenant {tenant_id} is stopped (Microsoft said: {said})"
                )
            }
        };
        let started = self
            .start_subscription(tenant_id, activity, ct, &off)
            .await?;
        match activity.list_content(ct, start, end).await? {
            Listing::Blobs(blobs) => Ok(blobs),
            // Seen for a while right after a start (§G 2).
            _ => Err(Problem::new(
                ProblemKind::SubscriptionDisabled,
                format!(
                    "{off}; Rulewatch started it at {} but Microsoft still reports it off, as it can for a few minutes \
                     after a start. The next scan lists it again, and starts it again after {} if it is still off",
                    hm(started),
                    hm(started + SUBSCRIPTION_START_SPACING)
                ),
            )),
        }
    }

    /// Starts a subscription unless the last start was under 15 minutes ago; answers when
    /// it started. `off` says why it is needed, for the message when it must wait.
    async fn start_subscription(
        &self,
        tenant_id: &str,
        activity: &ActivityApi<'_>,
        ct: &str,
        off: &str,
    ) -> Result<DateTime<Utc>, Problem> {
        let now = crate::clock::now();
        if let Some(last) = self
            .store
            .subscription_start(tenant_id, ct)
            .map_err(store_problem)?
            && now - last.at < SUBSCRIPTION_START_SPACING
        {
            let next = hm(last.at + SUBSCRIPTION_START_SPACING);
            return Err(match last.failed {
                Some((kind, message)) => Problem::new(
                    serde_json::from_value(serde_json::Value::String(kind))
                        .unwrap_or(ProblemKind::BadResponse),
                    format!(
                        "{message} (when the {ct} subscription was last started, at {}; tried again after {next})",
                        hm(last.at)
                    ),
                ),
                None => Problem::new(
                    ProblemKind::SubscriptionDisabled,
                    format!(
                        "{off}. Rulewatch started it at {} and Microsoft allows one start every 15 minutes, so it starts \
                         it again after {next}. If it keeps stopping, ask the tenant's admin whether someone turns it off",
                        hm(last.at)
                    ),
                ),
            });
        }
        let result = activity.start_subscription(ct).await;
        // A start that never reached Microsoft does not count towards its spacing.
        if !matches!(&result, Err(p) if p.kind == ProblemKind::Unreachable) {
            let failed = result
                .as_ref()
                .err()
                .map(|p| (p.kind.as_str(), p.message.as_str()));
            self.store
                .record_subscription_start(tenant_id, ct, now, failed)
                .map_err(store_problem)?;
        }
        result.map(|()| now)
    }

    /// Downloads a blob (again while it arrives malformed) and reads its records: alerts
    /// from every feed, and sign-ins from Entra's when they are collected.
    async fn read_blob(
        &self,
        activity: &ActivityApi<'_>,
        blob: &ContentBlob,
        feed: Feed,
        judging: &Judging<'_>,
        t: &TenantRow,
    ) -> Result<BlobContent, BlobError> {
        activity
            .fetch_blob(blob, |body| -> Result<BlobContent, split::Malformed> {
                if !feed.sign_ins {
                    let judged = judge(split::records(body), judging, t)?;
                    return Ok(BlobContent {
                        judged,
                        sign_ins: Vec::new(),
                    });
                }
                // Cut once for each reading of Entra's records: the judge takes each
                // record folded as the split hands it over, and a cut is a small part of
                // judging.
                Ok(BlobContent {
                    judged: judge(split::records(body), judging, t)?,
                    sign_ins: sign_ins::sign_ins(split::records(body))?.1,
                })
            })
            .await
    }
}

/// One content type read in a scan, and whether its sign-ins are kept.
#[derive(Clone, Copy)]
struct Feed {
    ct: &'static str,
    /// Sign-in collection is on and this is Entra's feed.
    sign_ins: bool,
}

struct BlobContent {
    judged: Judged,
    sign_ins: Vec<SignIn>,
}

/// What judging a tenant's records takes: detection's context, and the technician's
/// allowlist, which marks findings as suppressed after detection made them.
pub struct Judging<'a> {
    /// Detection's view of the tenant: its accepted domains, which tell inside from outside.
    pub ctx: &'a TenantContext,
    /// The tenant's allowlist, which marks findings as suppressed but never changes
    /// them, and the severities the MSP set for them.
    pub tuning: &'a crate::tuning::Tuning,
}

/// Cuts a blob's records (from [`split::records`]) to candidates and runs detection on
/// them: (records, alerts). A blob cut short, or a candidate that is not JSON, is
/// malformed, as the full parse of the blob used to find; a candidate that is JSON but
/// no audit record is skipped.
pub fn judge(
    mut records: split::Records<'_>,
    judging: &Judging<'_>,
    t: &TenantRow,
) -> Result<Judged, split::Malformed> {
    let mut count = 0;
    let mut alerts = Vec::new();
    let mut countables = Vec::new();
    while let Some(raw) = records.next() {
        let raw = raw?;
        count += 1;
        let sifted = detect::sift_folded(raw, records.folded());
        if !sifted.candidate {
            // Counted events are read when they can be, and leanly: they are mostly mail
            // noise, and only a candidate is owed a warning.
            if sifted.countable {
                countables.extend(detect::burst::counted_json(raw));
            }
            continue;
        }
        let record: AuditRecord = match serde_json::from_str(raw) {
            Ok(r) => r,
            Err(e) => {
                // Only text that is not JSON at all fails the blob; a record too deep for
                // serde_json or of another shape is skipped, as before.
                serde_json::from_str::<&RawValue>(raw)?;
                tracing::warn!(
                    "{}: skipped an audit record that cannot be read ({e})",
                    t.name
                );
                continue;
            }
        };
        if sifted.countable {
            countables.extend(detect::burst::counted(&record));
        }
        for a in detect::alerts(&record, judging.ctx) {
            let (severity, suppressed_by) = judging.tuning.apply(
                a.finding.rule,
                &a.finding.target,
                &a.finding.details,
                a.finding.severity,
            );
            alerts.push(NewAlert {
                suppressed_by,
                origin: None,
                mailbox: None,
                tenant_name: t.name.clone(),
                record_id: a.record_id,
                rule: a.finding.rule.to_string(),
                severity,
                operation: a.operation,
                target: a.finding.target,
                actor: a.finding.actor,
                client_ip: a.client_ip,
                summary: a.finding.summary,
                details: a.finding.details,
                event_time: a.event_time,
                raw_record: raw.to_string(),
            });
        }
    }
    Ok(Judged {
        records: count,
        alerts,
        countables,
    })
}

/// What [`judge`] found in a blob's records.
pub struct Judged {
    /// How many records it read.
    pub records: usize,
    /// The alerts, suppressed ones included.
    pub alerts: Vec<NewAlert>,
    /// What the records count towards bursts, for the store to weigh with the others.
    pub countables: Vec<detect::burst::Countable>,
}

/// A time of day for messages.
fn hm(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

fn store_problem(e: crate::store::StoreError) -> Problem {
    Problem::new(
        ProblemKind::LocalDatabase,
        format!("the local database failed: {e}"),
    )
}

#[cfg(test)]
mod tests;
