//! The clins-hub server: FHIR R4 over HTTP (axum). Institutions submit 6情報 units and
//! documents (`Bundle/$submit`), withdraw them (`Bundle/$withdraw`), and read a patient's data
//! (`Patient/$summary`, search, read, history, documents).
//!
//! Handlers are thin: parsing, validation and storage run on the blocking pool; what a caller
//! may see is decided by `clins::policy`; SQL lives in `store`.

#![forbid(unsafe_code)]

pub mod admin;
mod consent;
pub mod http;
mod identify;
pub mod ingest;
pub mod metrics;
mod read;

pub use app::dates;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use conformance::{SearchIndexer, Validator};
use fhir::json::Value;
use fhir::outcome::{operation_outcome, Issue, IssueType, Severity};
use store::{
    NewDocument, NewOrganization, NewResource, NewSubmission, Rendered, Store, SubmitAction,
};

use crate::http::{check_content_type, fhir, ApiError, Auth};
use app::Caller;

/// Largest accepted body: 10 MB (DECISIONS.md "Size limit").
pub const MAX_BODY: usize = 10 * 1024 * 1024;

/// The hub's clock: the system clock, or a fixed instant for tests and demos.
#[derive(Clone, Debug)]
pub enum Clock {
    System,
    Fixed(String),
}

impl Clock {
    pub fn now(&self) -> String {
        match self {
            Clock::System => store::now_utc(),
            Clock::Fixed(t) => t.clone(),
        }
    }
    pub fn today(&self) -> i64 {
        dates::day_number(&self.now()).unwrap_or(0)
    }
}

pub struct Hub {
    pub store: Store,
    pub validator: Arc<Validator>,
    pub indexer: Arc<SearchIndexer>,
    pub clock: Clock,
    pub dev_auth: bool,
    /// The institution registry as requests see it (cached lookups).
    pub directory: app::identity::Directory,
    /// How long a viewing consent lasts, in hours (DECISIONS.md: 24).
    pub consent_hours: i64,
    /// Absolute base of the FHIR endpoint, e.g. `http://127.0.0.1:8080/fhir`.
    pub base: String,
}

pub type AppState = Arc<Hub>;

/// The router with every route and layer.
pub fn app(hub: AppState) -> Router {
    Router::new()
        .route("/fhir/metadata", get(read::metadata))
        .route("/fhir/Bundle/$submit", post(submit))
        .route("/fhir/Bundle/$withdraw", post(withdraw))
        .route("/fhir/Consent", post(consent::post).get(consent::search))
        .route(
            "/fhir/Consent/{id}",
            get(consent::read).delete(consent::revoke),
        )
        .route(
            "/admin/institutions",
            post(admin::add_institution).get(admin::list_institutions),
        )
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
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(60),
        ))
        .layer(axum::middleware::from_fn(http::request_context))
        .with_state(hub)
}

/// Runs the server until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    hub: AppState,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    if hub.dev_auth && !listen.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("--insecure-dev-auth trusts a request header and is refused on the non-loopback address {listen}; listen on 127.0.0.1"),
        ));
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    on_ready(listener.local_addr()?);
    // Retention: purge what has expired once an hour.
    let h = hub.clone();
    tokio::spawn(async move {
        let hour = Duration::from_secs(3600);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + hour, hour);
        loop {
            tick.tick().await;
            let h = h.clone();
            match tokio::task::spawn_blocking(move || purge(&h)).await {
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
    axum::serve(listener, app(hub))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn ready(State(hub): State<AppState>) -> Response {
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
    let counts = if q.as_deref() == Some("store=true") {
        let store = hub.store.clone();
        tokio::task::spawn_blocking(move || store.counts().ok())
            .await
            .ok()
            .flatten()
    } else {
        None
    };
    let mut r = metrics::render(counts).into_response();
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

/// Maps a body rejection (too large, unreadable) to an OperationOutcome.
pub(crate) fn body_or_error(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                IssueType::TooLong,
                "SIZE-LIMIT",
                "",
                "the body is larger than 10 MB (10485760 bytes); split the submission",
                "送信データが10MB（10485760バイト）を超えています。分割して送信してください",
            )
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

/// `POST /fhir/Bundle/$submit`.
async fn submit(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let body = body_or_error(body)?;
    // Validation and rendering use the CPU: at most two per core at a time, so that many
    // clients do not mean 16 threads fighting over 2 cores. The write that follows, on the same
    // thread, only waits for the store, and gives the slot back first.
    let permit = cpu_slots()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    let h = hub.clone();
    let span = tracing::Span::current();
    let r = tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            let ready = prepare_submission(&h, Some(&caller), &body, None);
            drop(permit);
            store_ready(&h, ready?)
        })
    })
    .await
    .map_err(ApiError::internal)?;
    if let Err(e) = &r {
        refused(e);
    }
    r.map(|(status, body)| fhir(status, body))
}

/// Counts and traces a refused submission (the first error's code says why).
fn refused(e: &ApiError) {
    metrics::record_submission("rejected");
    let first = e.issues.iter().find(|i| i.severity.is_error());
    tracing::info!(
        status = e.status.as_u16(),
        code = first.map_or("", |i| i.detail),
        at = first.map_or("", |i| i.expression.as_str()),
        errors = e.issues.iter().filter(|i| i.severity.is_error()).count(),
        "submission refused"
    );
}

fn cpu_slots() -> Arc<tokio::sync::Semaphore> {
    static SLOTS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    SLOTS
        .get_or_init(|| {
            Arc::new(tokio::sync::Semaphore::new(
                2 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            ))
        })
        .clone()
}

/// Validates and stores one submission: the path of `$submit` and of `clins-hub import`.
/// `caller` is the authenticated caller; `None` (import by the operator) trusts the
/// Bundle-ID's institution. Returns the status and the OperationOutcome JSON.
pub fn submit_bytes(
    hub: &Hub,
    caller: Option<&Caller>,
    body: &[u8],
) -> Result<(StatusCode, String), ApiError> {
    let r = submit_inner(hub, caller, body, None);
    if let Err(e) = &r {
        refused(e);
    }
    r
}

/// `status`: the document status to register with (an undo restores the status before the
/// cancel); `None` = from the content (held referral without consent).
fn submit_inner(
    hub: &Hub,
    caller: Option<&Caller>,
    body: &[u8],
    status: Option<&str>,
) -> Result<(StatusCode, String), ApiError> {
    let ready = prepare_submission(hub, caller, body, status)?;
    store_ready(hub, ready)
}

/// First half of a submission (CPU only, no write): parse, validate, resolve, render.
pub fn prepare_submission(
    hub: &Hub,
    caller: Option<&Caller>,
    body: &[u8],
    status: Option<&str>,
) -> Result<Ready, ApiError> {
    if body.len() > MAX_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            IssueType::TooLong,
            "SIZE-LIMIT",
            "",
            "the body is larger than 10 MB (10485760 bytes); split the submission",
            "送信データが10MB（10485760バイト）を超えています。分割して送信してください",
        ));
    }
    if let Some(c) = caller.filter(|c| c.institution().is_none()) {
        app::access::submit(c, None)?;
    }
    let value = http::parse_json(body)?;
    let issues = hub.validator.validate(&value);
    if issues.iter().any(|i| i.severity.is_error()) {
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            issues,
        });
    }
    let mut sub = ingest::prepare(
        value,
        body,
        caller.map(|c| c.institution().unwrap_or("-")),
        &hub.indexer,
    )
    .map_err(|issues| {
        let forbidden = issues.iter().any(|i| i.code == IssueType::Forbidden);
        ApiError {
            status: if forbidden {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
            issues,
        }
    })?;
    if let Some(c) = caller {
        app::access::submit(c, clins::policy::DocKind::from_code(sub.kind_code))?;
    }
    let now = hub.clock.now();
    let mut new = NewSubmission {
        organization: None,
        demographics: Vec::new(),
        member_id: sub.member_id.normalized(),
        insurer: sub.member_id.insurer_number().to_string(),
        institution: sub.institution.clone(),
        bundle_id: sub.bundle_id.clone(),
        kind: sub.kind_code.to_string(),
        content_hash: sub.content_hash.clone(),
        delete_only: sub.delete_only,
        document: sub.document.as_ref().map(|d| NewDocument {
            doc_id: d.doc_id.clone(),
            doc_type: d.doc_type.clone(),
            destination: d.destination.clone(),
            doc_date: d.date.clone(),
            // DECISIONS.md "Referral consent": 閲覧可 with consent recorded in the Bundle,
            // otherwise 閲覧保留.
            status: match status {
                Some(s) => s.to_string(),
                None if sub.kind == clins::SubmissionKind::EReferral && !d.consent => "held".into(),
                None => "current".into(),
            },
            bundle: store::pack(body),
            attachments: d.attachments.clone(),
        }),
        now: now.clone(),
    };
    let prepared = std::mem::take(&mut sub.resources);
    new.demographics = app::identify::rows(&clins::demographics::of_patient(&sub.patient));
    let sub_patient = std::mem::replace(&mut sub.patient, Value::Null);
    let full_url = sub.patient_full_url.clone();
    let org = sub.organization.take();
    let org_ref = format!("Organization/{}", ingest::organization_id(&sub.institution));
    let organization = org.as_ref().map(|(_, o)| NewOrganization {
        org_id: ingest::organization_id(&sub.institution),
        body: store::pack(&ingest::render(
            o,
            &ingest::organization_id(&sub.institution),
            None,
            &[],
        )),
    });
    let org_url = org.map(|(url, _)| url).unwrap_or_default();
    new.organization = organization;
    let render = move |patient_key: i64, version: i64| {
        let patient_id = ingest::patient_id(patient_key);
        let pref = format!("Patient/{patient_id}");
        let mut refs = vec![(full_url.as_str(), pref.as_str())];
        if !org_url.is_empty() {
            refs.push((org_url.as_str(), org_ref.as_str()));
        }
        Rendered {
            patient: store::pack(&ingest::render(&sub_patient, &patient_id, None, &[])),
            resources: prepared
                .iter()
                .map(|p| {
                    let id = ingest::resource_id(patient_key, &p.local_id);
                    NewResource {
                        body: store::pack(&ingest::render(&p.value, &id, Some(version), &refs)),
                        res_type: p.res_type.clone(),
                        res_id: id,
                        item: p.item.code().to_string(),
                        code_key: p.code_key.clone(),
                        effective: p.effective.clone(),
                        flags: p.flags,
                        tokens: p.tokens.clone(),
                        dates: p.dates.clone(),
                    }
                })
                .collect(),
        }
    };
    // Render before the write for the patient key and version the store expects; the write
    // re-renders only if they turn out wrong (a concurrent write, a replaced unit).
    let guess = hub.store.guess(&new)?.map(|(k, v)| (k, v, render(k, v)));
    Ok(Ready {
        sub,
        new,
        guess,
        render: Box::new(render),
    })
}

/// A validated submission, rendered, waiting for the store.
pub struct Ready {
    sub: ingest::Submission,
    new: NewSubmission,
    guess: Option<(i64, i64, Rendered)>,
    render: Box<dyn Fn(i64, i64) -> Rendered + Send>,
}

/// Second half of a submission: the atomic write and the answer.
fn store_ready(hub: &Hub, ready: Ready) -> Result<(StatusCode, String), ApiError> {
    let Ready {
        sub,
        new,
        guess,
        render,
    } = ready;
    let result = match hub.store.submit(new, guess, render) {
        Ok(r) => r,
        Err(store::StoreError::OtherPatient) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                IssueType::Conflict,
                "SUBMIT-OTHER-PATIENT",
                "Bundle.identifier.value",
                format!("Bundle-ID {} was already used by your institution for another patient; use a new Bundle-ID", sub.bundle_id),
                format!("Bundle-ID {} は自施設で別の患者に使用済みです。新しいBundle-IDを使用してください", sub.bundle_id),
            ))
        }
        Err(store::StoreError::State(state)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                IssueType::Conflict,
                "SUBMIT-DOCUMENT-STATE",
                "Bundle.identifier.value",
                format!("the document with Bundle-ID {} is {state}: the addressee has retrieved it, so it can no longer be changed; send a new document with a new Bundle-ID", sub.bundle_id),
                format!("Bundle-ID {} の文書は状態「{state}」です（紹介先が取得済み）。変更できないため、新しいBundle-IDで送信してください", sub.bundle_id),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let (label, en, ja) = match result.action {
        SubmitAction::Created => ("created", "stored", "登録しました"),
        SubmitAction::Replaced => (
            "replaced",
            "stored; it replaces the earlier submission with the same Bundle-ID",
            "登録しました（同じBundle-IDの以前の提出を置き換えました）",
        ),
        SubmitAction::Unchanged => (
            "unchanged",
            "identical to the stored submission; nothing changed",
            "登録済みの内容と同一のため、変更はありません",
        ),
        SubmitAction::Deleted => (
            "deleted",
            "the unit with this Bundle-ID was deleted (Patient-only bundle)",
            "このBundle-IDの報告単位を削除しました（Patientのみのバンドル）",
        ),
        SubmitAction::NothingToDelete => (
            "nothing_to_delete",
            "no stored unit has this Bundle-ID; nothing was deleted",
            "このBundle-IDの報告単位は登録されていないため、削除するものはありません",
        ),
    };
    metrics::record_submission(label);
    tracing::debug!(
        outcome = label,
        kind = sub.kind_code,
        bundle_id = %sub.bundle_id,
        patient = result.patient_key,
        version = result.version,
        "submission stored"
    );
    let mut issues = vec![Issue::new(
        Severity::Information,
        IssueType::Informational,
        match result.action {
            SubmitAction::Created => "SUBMIT-CREATED",
            SubmitAction::Replaced => "SUBMIT-REPLACED",
            SubmitAction::Unchanged => "SUBMIT-UNCHANGED",
            SubmitAction::Deleted => "SUBMIT-DELETED",
            SubmitAction::NothingToDelete => "SUBMIT-NOTHING-TO-DELETE",
        },
        "",
        format!(
            "{} {} (Bundle-ID {}, version {}, patient {}): {en}",
            sub.kind.label_ja(),
            sub.kind_code,
            sub.bundle_id,
            result.version,
            ingest::patient_id(result.patient_key)
        ),
        format!(
            "{}（Bundle-ID {}、版 {}）を{ja}",
            sub.kind.label_ja(),
            sub.bundle_id,
            result.version
        ),
    )];
    if let Some(d) = &sub.document {
        issues.push(Issue::new(
            Severity::Information,
            IssueType::Informational,
            "SUBMIT-DOCUMENT",
            "",
            format!("Bundle/{} DocumentReference/{}", d.doc_id, d.doc_id),
            format!("文書ID {}", d.doc_id),
        ));
    }
    for (t, id) in &result.resources {
        issues.push(Issue::new(
            Severity::Information,
            IssueType::Informational,
            "SUBMIT-RESOURCE",
            "",
            format!("{t}/{id}"),
            format!("{t}/{id}"),
        ));
    }
    // API.md: 200 with the OperationOutcome for every accepted submission.
    let status = StatusCode::OK;
    Ok((status, fhir::json::to_string(&operation_outcome(&issues))))
}

/// `POST /fhir/Bundle/$withdraw`: Parameters with `identifier` (the Bundle-ID).
async fn withdraw(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let body = body_or_error(body)?;
    let params = http::parse_json(&body)?;
    if params.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(ApiError::bad_request(
            "WITHDRAW-PARAMETERS",
            "",
            "send a Parameters resource with the parameter `identifier` (the Bundle-ID)",
            "Parameters リソースで identifier（Bundle-ID）を指定してください",
        ));
    }
    let bundle_id = parameter(&params, "identifier")
        .and_then(|p| {
            p.get("valueString")
                .or_else(|| p.pointer("valueIdentifier.value"))
                .and_then(Value::as_str)
        })
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::bad_request(
                "WITHDRAW-IDENTIFIER",
                "Parameters.parameter",
                "the parameter `identifier` (valueString or valueIdentifier with the Bundle-ID) is missing",
                "パラメータ identifier（Bundle-ID）がありません",
            )
        })?;
    let id = clins::BundleId::parse(&bundle_id).map_err(|e| {
        ApiError::bad_request("CLINS-BUNDLE-ID-FORMAT", "Parameters.parameter", e.en, e.ja)
    })?;
    app::access::withdraw(&caller, id.institution().as_str())?;
    let institution = id.institution().as_str().to_string();
    // `patient` (optional): the 被保険者個人識別子 the institution believes the unit is for; a
    // unit of another patient is not touched.
    if let Some(p) = parameter(&params, "patient") {
        let text = p
            .pointer("valueIdentifier.value")
            .or_else(|| p.get("valueString"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let member = clins::InsuranceMemberId::parse(text).map_err(|e| {
            ApiError::bad_request("CLINS-MEMBER-ID", "Parameters.parameter", e.en, e.ja)
        })?;
        let (store, inst, bid) = (hub.store.clone(), institution.clone(), bundle_id.clone());
        let stored = tokio::task::spawn_blocking(move || store.unit_member(&inst, &bid))
            .await
            .map_err(ApiError::internal)??;
        if stored.is_some_and(|m| m != member.normalized()) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                IssueType::Conflict,
                "WITHDRAW-OTHER-PATIENT",
                "Parameters.parameter",
                format!("Bundle-ID {bundle_id} is not a submission for the patient given in `patient`; nothing was withdrawn"),
                format!("Bundle-ID {bundle_id} は patient で指定された患者の提出物ではありません。取り消していません"),
            ));
        }
    }
    let undo = parameter(&params, "undo")
        .and_then(|p| p.get("valueBoolean"))
        .and_then(Value::as_bool)
        == Some(true);
    if undo {
        let h = hub.clone();
        return tokio::task::spawn_blocking(move || undo_cancel(&h, &caller, &bundle_id))
            .await
            .map_err(ApiError::internal)?;
    }
    let now = hub.clock.now();
    let store = hub.store.clone();
    let inst = institution.clone();
    let bid = bundle_id.clone();
    let r = tokio::task::spawn_blocking(move || store.withdraw(&inst, &bid, &now))
        .await
        .map_err(ApiError::internal)?;
    match r {
        Ok(res) => {
            let (detail, en, ja) = if res.action == SubmitAction::Deleted {
                ("WITHDRAWN", "withdrawn", "を取り消しました")
            } else {
                (
                    "ALREADY-WITHDRAWN",
                    "was already withdrawn",
                    "は既に取り消されています",
                )
            };
            let issue = Issue::new(
                Severity::Information,
                IssueType::Informational,
                detail,
                "",
                format!("Bundle-ID {bundle_id} {en}"),
                format!("Bundle-ID {bundle_id} {ja}"),
            );
            Ok(fhir(
                StatusCode::OK,
                fhir::json::to_string(&operation_outcome(&[issue])),
            ))
        }
        Err(store::StoreError::NotFound) => {
            Err(ApiError::not_found(&format!("Bundle-ID {bundle_id}")))
        }
        Err(store::StoreError::State(s)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            IssueType::Conflict,
            "WITHDRAW-STATE",
            "",
            format!("the document is {s} and can no longer be cancelled"),
            format!("この文書は状態「{s}」のため取り消せません"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The first parameter called `name` of a Parameters resource.
fn parameter<'a>(params: &'a Value, name: &str) -> Option<&'a Value> {
    params
        .get("parameter")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
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

/// 取消UNDO: re-registers a cancelled document from its stored Bundle, with the status it had
/// before the cancel.
fn undo_cancel(hub: &Hub, caller: &Caller, bundle_id: &str) -> Result<Response, ApiError> {
    let doc_id = ingest::document_id(caller.institution().unwrap_or_default(), bundle_id);
    let (doc, bundle) = hub
        .store
        .document(&doc_id)?
        .ok_or_else(|| ApiError::not_found(&format!("the document with Bundle-ID {bundle_id}")))?;
    let prev = match (doc.status.as_str(), doc.prev_status.as_deref()) {
        ("cancelled", Some(p))
            if !bundle.is_empty()
                && doc.institution == caller.institution().unwrap_or_default() =>
        {
            p.to_string()
        }
        (s, _) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                IssueType::Conflict,
                "UNDO-STATE",
                "",
                format!("only a cancelled document can be restored; this one is {s}"),
                format!("取り消された文書のみ取消UNDOできます（現在の状態: {s}）"),
            ))
        }
    };
    let (_, outcome) = submit_inner(hub, Some(caller), &bundle, Some(&prev))?;
    Ok(fhir(StatusCode::OK, outcome))
}

/// What has expired on `now` (UTC instant), from `clins::policy`.
pub fn purge_plan(now: &str) -> store::PurgePlan {
    use clins::policy::{document_retention_days, retention_days, Item, RETRIEVED_DAYS};
    let today = dates::day_number(now).unwrap_or(0);
    let cutoff = |days: i64| store::format_utc_millis((today - days) * 86_400_000);
    let mut plan = store::PurgePlan::default();
    for item in Item::SHARED {
        let days = retention_days(item, 0).unwrap_or(i64::MAX / 4);
        // Entries flagged LTS are spared where the item allows LTS.
        let spared = if retention_days(item, clins::policy::FLAG_LTS).is_none() {
            clins::policy::FLAG_LTS
        } else {
            0
        };
        plan.resources
            .push((item.code().to_string(), cutoff(days), spared));
    }
    use clins::policy::DocKind;
    for kind in [
        DocKind::Referral,
        DocKind::DischargeSummary,
        DocKind::PatientSummary,
        DocKind::Checkup,
    ] {
        plan.documents.push((
            kind.code().to_string(),
            cutoff(document_retention_days(kind)),
        ));
    }
    plan.retrieved_before = Some(cutoff(RETRIEVED_DAYS));
    plan
}

/// Applies the retention rules now (`clins-hub purge` and the hourly task of the server).
pub fn purge(hub: &Hub) -> Result<store::PurgeReport, store::StoreError> {
    hub.store.purge(&purge_plan(&hub.clock.now()))
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
