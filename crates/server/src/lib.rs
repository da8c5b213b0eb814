//! The clins-hub server: FHIR R4 over HTTP (axum), an adapter of the application core
//! (`crates/app`). Institutions submit 6情報 units and documents (`Bundle/$submit`), withdraw
//! them (`Bundle/$withdraw`), and read a patient's data (`Patient/$summary`, search, read,
//! history, documents); consents, identification and the registry have their own adapters.
//!
//! Handlers are thin: authentication is the `Auth` extractor; parsing, validation and storage
//! run on the blocking pool; what a caller may see is decided by `app::access`; SQL lives in
//! `store`.

#![forbid(unsafe_code)]

pub mod admin;
mod audit;
mod auth;
pub mod conn;
mod consent;
pub mod http;
mod identify;
pub mod metrics;
mod read;
mod signin;
mod submit;
pub mod tls;
pub mod web;
mod withdraw;

pub use app::purge::{purge, purge_plan, purge_store};
pub use app::{dates, ingest};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use fhir::outcome::IssueType;

use crate::http::ApiError;

pub use app::{Clock, Hub, MAX_BODY};

pub type AppState = Arc<Hub>;

/// The router with every route and layer.
pub fn app(hub: AppState) -> Router {
    web::routes(&hub)
        .route("/fhir/metadata", get(read::metadata))
        .route("/fhir/Bundle/$submit", post(submit::submit))
        .route("/fhir/Bundle/$withdraw", post(withdraw::withdraw))
        .route("/fhir/Consent", post(consent::post).get(consent::search))
        .route(
            "/fhir/Consent/{id}",
            get(consent::read).delete(consent::revoke),
        )
        .route(
            "/admin/institutions",
            post(admin::add_institution).get(admin::list_institutions),
        )
        .route(
            "/admin/institutions/{number}/{verb}",
            post(admin::institution_action),
        )
        .route(
            "/admin/applications",
            post(admin::apply)
                .route_layer(axum::middleware::from_fn_with_state(
                    hub.clone(),
                    http::anonymous_limit,
                ))
                .get(admin::applications),
        )
        .route("/admin/applications/{id}/{verb}", post(admin::decide))
        .route(
            "/admin/clients",
            get(admin::clients).post(admin::register_client),
        )
        .route("/admin/clients/{id}/{verb}", post(admin::client_action))
        .route(
            "/admin/clients/{id}/keys/{kid}",
            axum::routing::delete(admin::remove_key),
        )
        .route(
            "/auth/token",
            post(auth::token).route_layer(axum::middleware::from_fn_with_state(
                hub.clone(),
                http::anonymous_limit,
            )),
        )
        .route(
            "/.well-known/smart-configuration",
            get(auth::smart_configuration),
        )
        .route("/.well-known/jwks.json", get(auth::jwks))
        .route(
            "/auth/staff",
            post(signin::add_staff).get(signin::list_staff),
        )
        .route(
            "/auth/staff/{institution}/{login}/{verb}",
            post(signin::staff_action),
        )
        .route(
            "/auth/patients/activation",
            post(signin::patient_activation),
        )
        .route(
            "/auth/activate",
            post(signin::activate).route_layer(axum::middleware::from_fn_with_state(
                hub.clone(),
                http::anonymous_limit,
            )),
        )
        .route(
            "/auth/login",
            post(signin::login).route_layer(axum::middleware::from_fn_with_state(
                hub.clone(),
                http::anonymous_limit,
            )),
        )
        .route("/auth/session", get(signin::session))
        .route("/auth/logout", post(signin::logout))
        .route("/fhir/AuditEvent", get(audit::history))
        .route("/admin/audit", get(audit::query))
        .route("/admin/audit/unusual", get(audit::unusual))
        .route("/fhir/Patient/$summary", get(read::summary))
        .route("/fhir/{rtype}", get(read::search))
        .route("/fhir/{rtype}/{id}", get(read::read))
        .route("/fhir/{rtype}/{id}/_history", get(read::history))
        .route("/fhir/{rtype}/{id}/_history/{vid}", get(read::vread))
        .route("/health/live", get(|| async { "ok" }))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                IssueType::NotFound,
                "NO-ROUTE",
                "",
                "no such endpoint; see GET /fhir/metadata",
                "該当するエンドポイントがありません。GET /fhir/metadata を参照してください",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                IssueType::NotSupported,
                "METHOD-NOT-ALLOWED",
                "",
                "this endpoint does not support the HTTP method; see GET /fhir/metadata",
                "このエンドポイントはこのHTTPメソッドに対応していません。GET /fhir/metadata を参照してください",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            hub.clone(),
            audit::layer,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(60),
        ))
        .layer(axum::middleware::from_fn(http::request_context))
        .with_state(hub)
}

/// Where and how the hub listens.
#[derive(Clone)]
pub struct Listen {
    pub addr: SocketAddr,
    /// TLS on the listener (`serve --tls-cert/--tls-key`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Plain HTTP on a non-loopback address is allowed because a TLS proxy in front of the hub
    /// terminates TLS (`serve --behind-tls-proxy`).
    pub behind_tls_proxy: bool,
    /// A socket already bound to `addr` (a port chosen by the system before the hub was built):
    /// served as it is, so that no other process can take the port in between.
    pub bound: Option<Arc<std::net::TcpListener>>,
    /// Requests worked on at once; beyond, 503 `OVERLOADED` at once (`conn::Gate`).
    pub max_in_flight: usize,
    /// After the stop signal, how long the node goes on accepting requests while
    /// `/health/ready` answers 503 `DRAINING` (a rolling restart behind a load balancer),
    /// before it stops accepting and drains what is in flight.
    pub drain_delay: Duration,
}

impl Listen {
    /// Plain HTTP on `addr` (loopback, or behind a proxy when `addr` is not).
    pub fn plain(addr: SocketAddr) -> Listen {
        Listen {
            addr,
            tls: None,
            behind_tls_proxy: false,
            bound: None,
            max_in_flight: conn::DEFAULT_MAX_IN_FLIGHT,
            drain_delay: Duration::ZERO,
        }
    }
}

/// Runs the server until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    hub: AppState,
    how: Listen,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listen = how.addr;
    if how.tls.is_none() && !how.behind_tls_proxy && !listen.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{listen} is not a loopback address: give --tls-cert and --tls-key, or --behind-tls-proxy when a proxy in front of the hub terminates TLS"),
        ));
    }
    if hub.dev_auth && !listen.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("--insecure-dev-auth trusts a request header and is refused on the non-loopback address {listen}; listen on 127.0.0.1"),
        ));
    }
    let listener = match &how.bound {
        Some(l) => {
            let l = l.try_clone()?;
            l.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(l)?
        }
        None => tokio::net::TcpListener::bind(listen).await?,
    };
    on_ready(listener.local_addr()?);
    // The audit trail's head is signed every minute (CLINS_AUDIT_CHECKPOINT_SECONDS).
    let h = hub.clone();
    tokio::spawn(async move {
        let every = Duration::from_secs(
            std::env::var("CLINS_AUDIT_CHECKPOINT_SECONDS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(60)
                .max(1),
        );
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            let h = h.clone();
            let r = tokio::task::spawn_blocking(move || {
                app::audit::checkpoint(
                    &h.store,
                    h.auth.signing_key(),
                    &h.clock.now(),
                    h.audit_anchor.as_deref(),
                )
            })
            .await;
            if let Ok(Err(e)) = r {
                tracing::warn!(error = %e.issues.first().map_or("", |i| i.en.as_str()), "audit checkpoint failed");
            }
        }
    });
    // The console's charts of this node: the counters sampled every ten seconds.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(metrics::SAMPLE_EVERY);
        loop {
            tick.tick().await;
            metrics::sample();
        }
    });
    // Retention: purge what has expired once an hour.
    let h = hub.clone();
    tokio::spawn(async move {
        let hour = Duration::from_secs(3600);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + hour, hour);
        loop {
            tick.tick().await;
            let h = h.clone();
            match tokio::task::spawn_blocking(move || app::purge::purge(&h)).await {
                Ok(Ok(r)) if r.resource_versions + r.documents > 0 => tracing::info!(
                    resource_versions = r.resource_versions,
                    documents = r.documents,
                    "purged expired data"
                ),
                Ok(Err(e)) => tracing::warn!(error = %e, "purge failed"),
                _ => {}
            }
        }
    });
    let router = app(hub);
    let gate = conn::Gate::new(how.max_in_flight);
    let delay = how.drain_delay;
    let shutdown = async move {
        shutdown.await;
        conn::start_draining();
        if !delay.is_zero() {
            tracing::info!(
                seconds = delay.as_secs_f64(),
                "not ready: still serving while the load balancer takes this node out"
            );
            tokio::time::sleep(delay).await;
        }
    };
    match how.tls {
        Some(config) => {
            conn::serve(
                tls::TlsListener::new(listener, config)?,
                router,
                gate,
                shutdown,
            )
            .await
        }
        None => conn::serve(listener, router, gate, shutdown).await,
    }
}

async fn ready(State(hub): State<AppState>) -> Response {
    if conn::draining() {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            IssueType::Transient,
            "DRAINING",
            "",
            "this node is shutting down: it finishes what it has and takes no new work soon; send requests to another node",
            "このノードは停止処理中です。他のノードに送信してください",
        );
        e.retry_after = Some(1);
        return e.into_response();
    }
    let store = hub.store.clone();
    match tokio::task::spawn_blocking(move || store.ping()).await {
        Ok(Ok(())) => "ready".into_response(),
        Ok(Err(e)) => ApiError::unavailable(e).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// `/metrics`; `/metrics?store=true` adds the store's row counts (a full count: for tests and
/// small installations, not for a scrape interval at national scale).
async fn metrics_text(
    State(hub): State<AppState>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let (counts, audit) = if q.as_deref() == Some("store=true") {
        let store = hub.store.clone();
        tokio::task::spawn_blocking(move || (store.counts().ok(), app::audit::total(&store).ok()))
            .await
            .unwrap_or((None, None))
    } else {
        (None, None)
    };
    let mut text = metrics::render(counts);
    if let Some(records) = audit {
        text.push_str(&format!("# HELP clins_audit_records Records in the audit trail.\n# TYPE clins_audit_records gauge\nclins_audit_records {records}\n"));
    }
    let mut r = text.into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// Runs blocking work (SQL, rendering) on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// The answer to a body over [`MAX_BODY`] (read, or only declared by `Content-Length`).
pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        IssueType::TooLong,
        "SIZE-LIMIT",
        "",
        "the body is larger than 10 MB (10485760 bytes); split the submission",
        "送信データが10MB（10485760バイト）を超えています。分割して送信してください",
    )
}

/// Whether an error, or one it was caused by, is the body's pause limit (`conn::BODY_IDLE`).
pub(crate) fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// 408: the client stopped sending its body.
pub(crate) fn body_timeout() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        IssueType::Timeout,
        "BODY-TIMEOUT",
        "",
        format!(
            "the body stopped arriving for {} s; nothing was stored: send the request again",
            conn::BODY_IDLE.as_secs()
        ),
        format!(
            "送信データが{}秒間届きませんでした。何も保存されていません。もう一度送信してください",
            conn::BODY_IDLE.as_secs()
        ),
    )
}

/// Maps a body rejection (too large, unreadable, paused too long) to an OperationOutcome.
pub(crate) fn body_or_error(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else if is_body_timeout(&e) {
            body_timeout()
        } else {
            ApiError::bad_request(
                "BODY-READ",
                "",
                format!("cannot read the body: {e}"),
                "送信データを読み込めません",
            )
        }
    })
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for query values.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Query string pairs, percent-decoded.
pub(crate) fn query_pairs(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref()
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
