//! The listener and its routes: one loopback server stands in for every Microsoft host.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, delete, get, post};
use axum::{Extension, Router};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::activity::{self, AfError, af_error};
use crate::app::App;
use crate::elsewhere::{self, Recorder};
use crate::scenario::{Endpoint, Scenario, TenantCloud};
use crate::{control, exchange, faults, graph, hooks, ipstack, openid, partner, psa, token, users};

/// How long `shutdown` lets in-flight requests (a slow fault, say) finish.
const GRACE: Duration = Duration::from_secs(5);

/// A sandbox serving in a background task.
pub struct RunningSandbox {
    base_url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    recorder_task: JoinHandle<std::io::Result<()>>,
}

impl RunningSandbox {
    /// E.g. `http://127.0.0.1:41234`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Stops accepting, lets requests in flight finish for a few seconds, then stops.
    pub async fn shutdown(self) {
        // The receiver is gone only if the server already stopped, which is the goal anyway.
        let _ = self.stop.send(());
        self.recorder_task.abort();
        let abort = self.task.abort_handle();
        match tokio::time::timeout(GRACE, self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => tracing::warn!("sandbox server stopped with an error: {err}"),
            Ok(Err(err)) => tracing::warn!("sandbox server task failed: {err}"),
            Err(_) => abort.abort(),
        }
    }
}

/// Validates the scenario, binds `listen` (port 0 picks a free port) and serves in a spawned task.
pub async fn start(listen: SocketAddr, scenario: Scenario) -> anyhow::Result<RunningSandbox> {
    scenario.validate()?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let mut local = listener.local_addr()?;
    // A wildcard bind is still reached over loopback.
    if local.ip().is_unspecified() {
        local.set_ip(match local.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let base_url = format!("http://{local}");
    // Another port on loopback is another origin: the hostile network's host (elsewhere.rs).
    let elsewhere = TcpListener::bind((local.ip(), 0))
        .await
        .context("cannot listen for the hostile-network recorder")?;
    let recorder = Arc::new(Recorder::new(format!("http://{}", elsewhere.local_addr()?)));
    let mut app = App::new(scenario, base_url.clone());
    app.elsewhere = recorder.clone();
    let app = Arc::new(app);
    let recorder_task = tokio::spawn(async move {
        axum::serve(
            elsewhere,
            Router::new()
                .fallback(elsewhere::record)
                .with_state(recorder),
        )
        .await
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router(app))
            .with_graceful_shutdown(async {
                // A dropped sender means the handle is gone; stop then too.
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningSandbox {
        base_url,
        stop,
        task,
        recorder_task,
    })
}

fn router(app: Arc<App>) -> Router {
    let faulty = |route: MethodRouter<Arc<App>>, endpoint: Endpoint| {
        route.layer(from_fn_with_state((app.clone(), endpoint), faults::inject))
    };
    let router = Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            faulty(post(token::issue), Endpoint::Token),
        )
        // A browser page, so no API faults.
        .route("/{tenant}/oauth2/v2.0/authorize", get(partner::authorize))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            faulty(post(partner::device_code), Endpoint::DeviceCode),
        )
        .route("/devicelogin", get(partner::device_login))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid::configuration),
        )
        .route(
            "/v1.0/domains",
            faulty(get(graph::domains), Endpoint::Domains),
        )
        .route(
            "/v1.0/users/{user}",
            faulty(get(users::get).patch(users::update), Endpoint::Users),
        )
        .route(
            "/v1.0/users/{user}/revokeSignInSessions",
            faulty(post(users::revoke_sessions), Endpoint::Users),
        )
        .route(
            "/v1.0/tenantRelationships/delegatedAdminCustomers",
            faulty(get(partner::delegated_admin_customers), Endpoint::Customers),
        )
        .route(
            "/v1.0/tenantRelationships/delegatedAdminRelationships",
            faulty(
                get(partner::delegated_admin_relationships),
                Endpoint::Customers,
            ),
        )
        .route(
            "/adminapi/beta/{tenant}/InvokeCommand",
            faulty(post(exchange::invoke), Endpoint::InvokeCommand),
        )
        .route("/ipstack/{ip}", get(ipstack::lookup))
        .route("/_sandbox/stats", get(control::stats))
        .route("/_sandbox/clock", get(control::clock))
        .route("/_sandbox/elsewhere", get(elsewhere::received))
        .route(
            "/_sandbox/tenants/{tenant_id}",
            post(control::update_tenant),
        )
        .route(
            "/_sandbox/tenants/{tenant_id}/users/{upn}",
            get(control::user_state),
        )
        .route("/_sandbox/partner/customers", post(control::add_customer))
        .route(
            "/_sandbox/partner/customers/{tenant_id}",
            delete(control::remove_customer),
        )
        .route("/_sandbox/partner/revoke", post(control::revoke_partner))
        .route("/_sandbox/late/release", post(control::release_late))
        .route("/_sandbox/partner/gdap", post(control::set_gdap_roles))
        .route("/_sandbox/hooks/{name}", post(hooks::receive))
        .route("/_sandbox/hooks/{name}/received", get(hooks::received))
        .route("/_sandbox/hooks/{name}/fail", post(hooks::fail))
        .route("/_sandbox/teams/{name}", post(hooks::teams))
        .route("/_sandbox/slack/{name}", post(hooks::slack))
        .merge(psa::router())
        .fallback(not_found);
    // Each cloud's Management API, GCC's under its path prefix (activity.rs).
    TenantCloud::ALL
        .into_iter()
        .fold(router, |router, cloud| {
            let feed = format!(
                "{}/api/v1.0/{{tenant}}/activity/feed",
                cloud.management_prefix()
            );
            let serving = |route: MethodRouter<Arc<App>>, endpoint| {
                faulty(route, endpoint).layer(Extension(cloud))
            };
            router
                .route(
                    &format!("{feed}/subscriptions/start"),
                    serving(post(activity::start_subscription), Endpoint::Subscriptions),
                )
                .route(
                    &format!("{feed}/subscriptions/list"),
                    serving(get(activity::list_subscriptions), Endpoint::Subscriptions),
                )
                .route(
                    &format!("{feed}/subscriptions/content"),
                    serving(get(activity::list_content), Endpoint::Content),
                )
                .route(
                    &format!("{feed}/audit/{{content_id}}"),
                    serving(get(activity::fetch_blob), Endpoint::Blob),
                )
        })
        .with_state(app)
}

async fn not_found() -> AfError {
    af_error(
        StatusCode::NOT_FOUND,
        "NotFound",
        "The sandbox does not serve this path.",
    )
}
