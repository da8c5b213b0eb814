//! HTTP plumbing: FHIR responses, OperationOutcome errors, authentication of the development
//! mode, request ids and the request log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fhir::outcome::{operation_outcome, Issue, IssueType, Severity};

pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";
pub const DEV_INSTITUTION_HEADER: &str = "x-clins-dev-institution";

/// A FHIR JSON response.
pub fn fhir(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    r
}

/// An error a client caused (or a server failure), always answered with an OperationOutcome.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub issues: Vec<Issue>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: IssueType,
        detail: &'static str,
        expression: &str,
        en: impl Into<String>,
        ja: impl Into<String>,
    ) -> Self {
        let severity = if status.is_server_error() {
            Severity::Fatal
        } else {
            Severity::Error
        };
        ApiError {
            status,
            issues: vec![Issue::new(severity, code, detail, expression, en, ja)],
        }
    }
    pub fn bad_request(
        detail: &'static str,
        expression: &str,
        en: impl Into<String>,
        ja: impl Into<String>,
    ) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            IssueType::Invalid,
            detail,
            expression,
            en,
            ja,
        )
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            IssueType::NotFound,
            "NOT-FOUND",
            "",
            format!("{what} does not exist"),
            format!("{what} は存在しません"),
        )
    }
    pub fn internal(en: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            IssueType::Exception,
            "INTERNAL",
            "",
            format!("internal error: {en}; nothing was stored"),
            "サーバー内部でエラーが発生しました。何も保存されていません",
        )
    }
    pub fn unavailable(en: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            IssueType::Transient,
            "STORE-UNAVAILABLE",
            "",
            format!("the store is not available: {en}; nothing was stored, retry later"),
            "データベースに接続できません。何も保存されていません。時間をおいて再送してください",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = fhir::json::to_string(&operation_outcome(&self.issues));
        fhir(self.status, body)
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::NotFound => ApiError::not_found("the resource"),
            store::StoreError::Db(d) => ApiError::unavailable(d),
            other => ApiError::internal(other),
        }
    }
}

/// The authenticated caller: an institution (development mode: the header
/// `X-Clins-Dev-Institution`, trusted only with `--insecure-dev-auth` on loopback).
#[derive(Clone, Debug)]
pub struct Caller {
    pub institution: String,
}

fn unauthorized(en: String, ja: String) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        IssueType::Login,
        "AUTH-REQUIRED",
        "",
        en,
        ja,
    )
}

/// Development authentication must be switched on: there is no other yet.
fn dev_mode(dev_auth: bool) -> Result<(), ApiError> {
    if dev_auth {
        return Ok(());
    }
    Err(unauthorized(
        "authentication is required; this hub runs without --insecure-dev-auth and token authentication is not available yet".into(),
        "認証が必要です。このハブは --insecure-dev-auth なしで起動されており、トークン認証はまだ提供されていません".into(),
    ))
}

/// A request body as JSON, or a 400 that says where it breaks.
pub fn parse_json(body: &[u8]) -> Result<fhir::json::Value, ApiError> {
    fhir::json::parse_bytes(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            IssueType::Structure,
            "JSON-SYNTAX",
            &format!("line {}, column {}", e.line, e.column),
            format!(
                "not valid JSON at line {}, column {}: {}",
                e.line, e.column, e.en
            ),
            format!("{}行{}列目でJSONとして不正です: {}", e.line, e.column, e.ja),
        )
    })
}

pub fn authenticate(headers: &HeaderMap, dev_auth: bool) -> Result<Caller, ApiError> {
    dev_mode(dev_auth)?;
    let Some(v) = headers.get(DEV_INSTITUTION_HEADER) else {
        return Err(unauthorized(
            "send the header X-Clins-Dev-Institution: <10-digit institution number> (development mode)".into(),
            "ヘッダー X-Clins-Dev-Institution に10桁の医療機関番号を指定してください（開発モード）".into(),
        ));
    };
    let text = v.to_str().unwrap_or_default().trim();
    match clins::InstitutionNumber::parse(text) {
        Ok(n) => Ok(Caller {
            institution: n.as_str().to_string(),
        }),
        Err(e) => Err(unauthorized(
            format!("X-Clins-Dev-Institution: {}", e.en),
            format!("X-Clins-Dev-Institution: {}", e.ja),
        )),
    }
}

/// The patient of a portal request (development mode: the header `X-Clins-Dev-Patient` with
/// the insurance member id), as the normalised member id.
pub fn authenticate_patient(headers: &HeaderMap, dev_auth: bool) -> Result<String, ApiError> {
    dev_mode(dev_auth)?;
    let text = headers
        .get("x-clins-dev-patient")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Header values are ASCII; the member id may be percent-encoded (full-width 記号/番号).
    let decoded = crate::percent_decode(text);
    clins::InsuranceMemberId::parse(&decoded)
        .map(|m| m.normalized())
        .map_err(|e| {
            unauthorized(
                format!(
                    "X-Clins-Dev-Patient (percent-encoded insurance member id): {}",
                    e.en
                ),
                format!(
                    "X-Clins-Dev-Patient（被保険者個人識別子、パーセントエンコード）: {}",
                    e.ja
                ),
            )
        })
}

/// Whether a request body is declared as FHIR JSON (or plain JSON).
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if matches!(mime.as_str(), "application/fhir+json" | "application/json") {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IssueType::NotSupported,
            "CONTENT-TYPE",
            "",
            format!("Content-Type `{ct}` is not supported: send application/fhir+json"),
            format!("Content-Type「{ct}」には対応していません。application/fhir+json で送信してください"),
        ))
    }
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(0);

/// Gives every request an id (the client's `X-Request-Id`, or a new one), echoes it in the
/// response, counts the request, and traces it: a `request` span with the id, method and path
/// (events inside the handler carry them) and one `request` event with the status and duration.
pub async fn request_context(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "{:x}-{:x}",
                std::process::id(),
                REQUEST_SEQ.fetch_add(1, Ordering::Relaxed)
            )
        });
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path()
    );
    let mut res = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    // Errors raised by layers (the timeout) come without a body: every error is an
    // OperationOutcome.
    let is_fhir = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/fhir+json"));
    if res.status().as_u16() >= 400 && !is_fhir {
        let status = res.status();
        // Keep the framework's own explanation (e.g. a path that is not UTF-8).
        let said = axum::body::to_bytes(std::mem::take(res.body_mut()), 4096)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        let (en, ja) = if status == StatusCode::SERVICE_UNAVAILABLE && said.is_empty() {
            (
                "the request took longer than 60 s and was stopped; retry later (a submission may or may not have been stored: re-send it, re-sending is idempotent)".to_string(),
                "処理が60秒を超えたため中断しました。時間をおいて再送してください（提出は再送しても重複しません）".to_string(),
            )
        } else if said.is_empty() {
            (
                "the request failed".to_string(),
                "リクエストを処理できませんでした".to_string(),
            )
        } else {
            (
                format!("the request was refused: {said}"),
                format!("リクエストを処理できませんでした: {said}"),
            )
        };
        let kind = if status.is_server_error() {
            IssueType::Transient
        } else {
            IssueType::Invalid
        };
        res = ApiError::new(status, kind, "REQUEST-FAILED", "", en, ja).into_response();
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    let status = res.status().as_u16();
    crate::metrics::record_request(status, start.elapsed());
    span.in_scope(|| {
        tracing::info!(
            status,
            ms = %format_args!("{:.2}", start.elapsed().as_secs_f64() * 1000.0),
            "request"
        )
    });
    res
}
