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

/// A plain JSON response (the operator's and sign-in endpoints, the token endpoint): never
/// cached, as it may hold credentials or personal data.
pub fn json(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

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
    /// `Retry-After` (seconds) of a 429 or 503.
    pub retry_after: Option<u64>,
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
            retry_after: None,
        }
    }
    pub fn bad_request(
        detail: &'static str,
        expression: &str,
        en: impl Into<String>,
        ja: impl Into<String>,
    ) -> Self {
        app::Refusal::bad_request(detail, expression, en, ja).into()
    }
    /// 429: over the rate limit; retry after `secs`.
    pub fn too_many(secs: u64) -> Self {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            IssueType::Throttled,
            "RATE-LIMIT",
            "",
            format!("too many requests from this caller; retry after {secs} s"),
            format!("リクエストが多すぎます。{secs} 秒後に再試行してください"),
        );
        e.retry_after = Some(secs);
        e
    }
    pub fn not_found(what: &str) -> Self {
        app::Refusal::not_found(what).into()
    }
    pub fn internal(en: impl std::fmt::Display) -> Self {
        app::Refusal::internal(en).into()
    }
    pub fn unavailable(en: impl std::fmt::Display) -> Self {
        app::Refusal::unavailable(en).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = fhir::json::to_string(&operation_outcome(&self.issues));
        let mut r = fhir(self.status, body);
        if let Some(first) = self.issues.first() {
            r.extensions_mut()
                .insert(crate::audit::RefusalCode(first.detail.to_string()));
        }
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: how to authenticate.
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"clins-hub\""),
            );
        }
        r
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        app::Refusal::from(e).into()
    }
}

/// The HTTP status of a refusal's reason (the API's errors and the pages' refusals alike).
pub fn status_of(why: app::Why) -> StatusCode {
    use app::Why;
    match why {
        Why::BadRequest => StatusCode::BAD_REQUEST,
        Why::Unauthenticated => StatusCode::UNAUTHORIZED,
        Why::Forbidden => StatusCode::FORBIDDEN,
        Why::NotFound => StatusCode::NOT_FOUND,
        Why::Conflict => StatusCode::CONFLICT,
        Why::Gone => StatusCode::GONE,
        Why::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        Why::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Why::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Why::Full => StatusCode::INSUFFICIENT_STORAGE,
        Why::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<app::Refusal> for ApiError {
    fn from(r: app::Refusal) -> Self {
        let status = status_of(r.why);
        ApiError {
            status,
            issues: r.issues,
            retry_after: None,
        }
    }
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

pub const DEV_PRACTITIONER_HEADER: &str = "x-clins-dev-practitioner";
pub const DEV_PATIENT_HEADER: &str = "x-clins-dev-patient";
pub const DEV_ROLE_HEADER: &str = "x-clins-dev-role";
pub const PURPOSE_OF_USE_HEADER: &str = "x-clins-purpose-of-use";

/// The one value of a header; a header sent twice is refused (400), never the first taken.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut all = headers.get_all(name).iter();
    let Some(first) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(ApiError::bad_request(
            "AUTH-HEADER-REPEATED",
            "",
            format!("the header {name} was sent more than once; send it once"),
            format!("ヘッダー {name} が複数回送信されています。1回だけ送信してください"),
        ));
    }
    first.to_str().map(|v| Some(v.trim())).map_err(|_| {
        ApiError::bad_request(
            "AUTH-HEADER-ENCODING",
            "",
            format!("the header {name} is not visible ASCII (percent-encode it)"),
            format!("ヘッダー {name} はASCII文字で送信してください（パーセントエンコード）"),
        )
    })
}

/// `X-Clins-Purpose-Of-Use`: `ETREAT` claims emergency access; absent, nothing is claimed.
pub fn emergency_claimed(headers: &HeaderMap) -> Result<bool, ApiError> {
    match single(headers, PURPOSE_OF_USE_HEADER)? {
        None => Ok(false),
        Some("ETREAT") => Ok(true),
        Some(other) => Err(ApiError::bad_request(
            "PURPOSE-OF-USE",
            "",
            format!("X-Clins-Purpose-Of-Use `{other}` is not supported; send ETREAT to claim emergency access, or leave the header out"),
            format!("X-Clins-Purpose-Of-Use「{other}」には対応していません。救急時閲覧は ETREAT を指定し、それ以外はヘッダーを送信しないでください"),
        )),
    }
}

/// The claim of a request in development mode: exactly one of the development headers
/// (API.md) names the caller.
pub fn dev_claim(headers: &HeaderMap, dev_auth: bool) -> Result<app::identity::Claim, ApiError> {
    use app::identity::Claim;
    if !dev_auth {
        return Err(unauthorized(
            "authentication is required: send Authorization: Bearer <access token> (POST /auth/token, SMART Backend Services)".into(),
            "認証が必要です。Authorization: Bearer <アクセストークン> を送信してください（POST /auth/token で取得）".into(),
        ));
    }
    let institution = single(headers, DEV_INSTITUTION_HEADER)?;
    let practitioner = single(headers, DEV_PRACTITIONER_HEADER)?;
    let patient = single(headers, DEV_PATIENT_HEADER)?;
    let role = single(headers, DEV_ROLE_HEADER)?;
    let named = [institution, patient, role]
        .iter()
        .filter(|h| h.is_some())
        .count();
    if named > 1 {
        return Err(ApiError::bad_request(
            "AUTH-AMBIGUOUS",
            "",
            "send exactly one of X-Clins-Dev-Institution, X-Clins-Dev-Patient and X-Clins-Dev-Role",
            "X-Clins-Dev-Institution、X-Clins-Dev-Patient、X-Clins-Dev-Role のいずれか1つだけを送信してください",
        ));
    }
    if practitioner.is_some() && institution.is_none() {
        return Err(ApiError::bad_request(
            "AUTH-AMBIGUOUS",
            "",
            "X-Clins-Dev-Practitioner names a user of an institution: send it with X-Clins-Dev-Institution",
            "X-Clins-Dev-Practitioner は X-Clins-Dev-Institution と一緒に送信してください",
        ));
    }
    if let Some(text) = institution {
        let (number, _) = app::identity::caller_number(text).map_err(|(en, ja)| {
            unauthorized(
                format!("X-Clins-Dev-Institution: {en}"),
                format!("X-Clins-Dev-Institution: {ja}"),
            )
        })?;
        let practitioner = match practitioner {
            None => None,
            Some(p) => {
                let mut parts = p.split(';').map(str::trim);
                let id = parts.next().unwrap_or_default();
                let (mut emergency, mut two_factor) = (false, false);
                let mut bad = id.is_empty()
                    || id.len() > 64
                    || !id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
                for flag in parts {
                    match flag {
                        "emergency" => emergency = true,
                        "2fa" => two_factor = true,
                        _ => bad = true,
                    }
                }
                if bad {
                    return Err(unauthorized(
                        "X-Clins-Dev-Practitioner: write <id>[;emergency][;2fa], the id 1–64 letters, digits or - _ . @".into(),
                        "X-Clins-Dev-Practitioner は <ID>[;emergency][;2fa] の形で指定してください（IDは英数字と - _ . @ の1〜64文字）".into(),
                    ));
                }
                Some(clins::policy::Practitioner {
                    qualification: clins::policy::Qualification::Doctor,
                    id: id.to_string(),
                    emergency,
                    two_factor,
                })
            }
        };
        return Ok(Claim::Institution {
            number,
            practitioner,
        });
    }
    if let Some(text) = patient {
        // Header values are ASCII; the member id may be percent-encoded (full-width 記号/番号).
        let decoded = crate::percent_decode(text);
        let member = clins::InsuranceMemberId::parse(&decoded).map_err(|e| {
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
        })?;
        return Ok(Claim::Patient {
            member_id: member.normalized(),
        });
    }
    match role {
        Some("qualification-service") => Ok(Claim::QualificationService),
        Some("operator") => Ok(Claim::Operator),
        Some(other) => Err(unauthorized(
            format!("X-Clins-Dev-Role `{other}`: use qualification-service or operator"),
            format!("X-Clins-Dev-Role「{other}」は不正です。qualification-service または operator を指定してください"),
        )),
        None => Err(unauthorized(
            "send one of the development headers: X-Clins-Dev-Institution: <institution or insurer number>, X-Clins-Dev-Patient: <insurance member id>, X-Clins-Dev-Role: qualification-service | operator".into(),
            "開発用ヘッダー（X-Clins-Dev-Institution、X-Clins-Dev-Patient、X-Clins-Dev-Role のいずれか）を送信してください".into(),
        )),
    }
}

/// The bearer token of a request (`Authorization: Bearer …`), if it sends one; any other
/// scheme is refused (401).
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = single(headers, header::AUTHORIZATION.as_str())? else {
        return Ok(None);
    };
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(unauthorized(
            "Authorization: only the Bearer scheme with an access token of this hub (POST /auth/token)".into(),
            "Authorization は Bearer 方式（POST /auth/token で取得したアクセストークン）のみ使用できます".into(),
        ));
    }
    Ok(Some(token))
}

/// The rate-limit bucket of a caller: its institution (or client: the same number), patient or
/// role.
fn rate_key(claim: &app::identity::Claim) -> String {
    use app::identity::Claim;
    match claim {
        Claim::Institution { number, .. } => format!("i:{number}"),
        Claim::Patient { member_id } => format!("p:{member_id}"),
        Claim::QualificationService => "qualification-service".into(),
        Claim::Operator => "operator".into(),
    }
}

/// The rate limit of the routes without credentials, per client address (a layer on them).
pub async fn anonymous_limit(
    axum::extract::State(hub): axum::extract::State<crate::AppState>,
    req: Request,
    next: Next,
) -> Response {
    let addr = req
        .extensions()
        .get::<axum::extract::ConnectInfo<crate::tls::PeerAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0 .0.ip().to_string());
    match hub.limits.anonymous.check(&addr) {
        Ok(()) => next.run(req).await,
        Err(secs) => ApiError::too_many(secs).into_response(),
    }
}

/// The header that carries a session's CSRF token on requests that change something.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session cookie's value, if the request sends one (twice: 400).
fn session_cookie(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let name = app::auth::people::SESSION_COOKIE;
    let mut found = None;
    for v in headers.get_all(header::COOKIE) {
        let Ok(text) = v.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=') {
                if k == name {
                    if found.is_some() {
                        return Err(ApiError::bad_request(
                            "AUTH-HEADER-REPEATED",
                            "",
                            "the session cookie was sent more than once",
                            "セッションCookieが複数送信されています",
                        ));
                    }
                    found = Some(val);
                }
            }
        }
    }
    Ok(found.filter(|v| !v.is_empty()))
}

fn has_dev_header(headers: &HeaderMap) -> bool {
    [
        DEV_INSTITUTION_HEADER,
        DEV_PRACTITIONER_HEADER,
        DEV_PATIENT_HEADER,
        DEV_ROLE_HEADER,
    ]
    .iter()
    .any(|h| headers.contains_key(*h))
}

/// The authenticated caller of a request: the extractor every handler that needs a caller
/// takes. It authenticates (a bearer token of this hub; the development headers only with
/// `--insecure-dev-auth`), resolves the principal through the registry (403 for an
/// unregistered or disabled institution) and reads the purpose of use. A token's scopes
/// travel with the caller.
pub struct Auth(pub app::Caller);

impl axum::extract::FromRequestParts<crate::AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        hub: &crate::AppState,
    ) -> Result<Self, ApiError> {
        let emergency_claimed = emergency_claimed(&parts.headers)?;
        let cookie = session_cookie(&parts.headers)?;
        let mut staff_admin = false;
        let mut client = String::new();
        let (claim, scopes) = match bearer(&parts.headers)? {
            Some(_) if has_dev_header(&parts.headers) || cookie.is_some() => {
                return Err(ApiError::bad_request(
                    "AUTH-AMBIGUOUS",
                    "",
                    "send one kind of credentials: a bearer token, a session cookie or development headers",
                    "認証情報は1種類だけ送信してください（ベアラートークン、セッションCookie、開発用ヘッダーのいずれか）",
                ))
            }
            None if cookie.is_some() && has_dev_header(&parts.headers) => {
                return Err(ApiError::bad_request(
                    "AUTH-AMBIGUOUS",
                    "",
                    "send one kind of credentials: a session cookie or development headers",
                    "セッションCookieと開発用ヘッダーを同時に送信しないでください",
                ))
            }
            None if cookie.is_some() => {
                let (h, c, now) = (
                    hub.clone(),
                    cookie.unwrap_or_default().to_string(),
                    hub.clock.now(),
                );
                let live = tokio::task::spawn_blocking(move || {
                    app::auth::people::session(&h.store, &c, &now)
                })
                .await
                .map_err(ApiError::internal)??;
                if !parts.method.is_safe() {
                    let sent = single(&parts.headers, CSRF_HEADER)?.unwrap_or_default();
                    if !app::auth::secrets::same(sent.as_bytes(), live.csrf.as_bytes()) {
                        return Err(ApiError::new(
                            StatusCode::FORBIDDEN,
                            IssueType::Security,
                            "CSRF",
                            "",
                            "a request that changes something needs the session's CSRF token in X-CSRF-Token",
                            "変更を伴うリクエストには X-CSRF-Token ヘッダーでセッションのCSRFトークンを送信してください",
                        ));
                    }
                }
                staff_admin = live.staff_admin;
                (live.claim, clins::policy::Scopes::Unrestricted)
            }
            Some(token) => {
                let now = hub.clock.now();
                let v = match hub.auth.authenticate_cached(token, &now) {
                    Some(v) => v,
                    None => {
                        let (h, t) = (hub.clone(), token.to_string());
                        tokio::task::spawn_blocking(move || h.auth.authenticate(&h.store, &t, &now))
                            .await
                            .map_err(ApiError::internal)??
                    }
                };
                client = v.client_id.clone();
                (v.claim, v.scopes)
            }
            None => (
                dev_claim(&parts.headers, hub.dev_auth)?,
                clins::policy::Scopes::Unrestricted,
            ),
        };
        let principal = principal_of(hub, claim).await?;
        let caller = app::Caller {
            principal,
            emergency_claimed,
            scopes,
            staff_admin,
        };
        if let Some(slot) = parts.extensions.get::<crate::audit::Slot>() {
            slot.caller(&caller, &client);
        }
        Ok(Auth(caller))
    }
}

/// The principal of an authenticated claim: the caller's rate limit first (a flood costs no
/// query), then the registry (cached). The API's `Auth` and the pages' `Web` both ask here.
pub(crate) async fn principal_of(
    hub: &crate::AppState,
    claim: app::identity::Claim,
) -> Result<clins::policy::Principal, ApiError> {
    hub.limits
        .caller
        .check(&rate_key(&claim))
        .map_err(ApiError::too_many)?;
    match hub.directory.cached(&claim) {
        Some(p) => Ok(p),
        None => {
            let h = hub.clone();
            Ok(
                tokio::task::spawn_blocking(move || h.directory.principal(claim))
                    .await
                    .map_err(ApiError::internal)??,
            )
        }
    }
}

/// The value of cookie `name` (the first one sent), if not empty.
pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|t| t.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value of the session cookie (`max_age` 0 with an empty value clears it).
pub(crate) fn session_set_cookie(value: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}",
        app::auth::people::SESSION_COOKIE
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A request body as JSON, or a 400 that says where it breaks.
pub fn parse_json(body: &[u8]) -> Result<fhir::json::Value, ApiError> {
    Ok(app::refusal::parse_json(body)?)
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
/// What no handler should see: an HTTP/1.1 request without `Host` (RFC 9112 §3.2), a
/// compressed body (the hub does not decode one, and would read it as JSON), and more than one
/// `Content-Type` (which one is meant is a guess).
/// Most bytes of request headers (names and values) the hub reads: a larger head is refused
/// with 431 (hyper refuses heads over its buffer of about 400 KB itself; the connection layer
/// gives that answer the same OperationOutcome).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

fn malformed_head(req: &Request) -> Option<ApiError> {
    let h = req.headers();
    let size: usize = h.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if size > MAX_HEADER_BYTES {
        return Some(crate::conn::headers_too_large());
    }
    if req.version() == axum::http::Version::HTTP_11 && !h.contains_key(header::HOST) {
        return Some(ApiError::bad_request(
            "HOST-MISSING",
            "Host",
            "an HTTP/1.1 request must carry a Host header",
            "HTTP/1.1 のリクエストには Host ヘッダーが必要です",
        ));
    }
    let encoded = h.get_all(header::CONTENT_ENCODING).iter().any(|v| {
        v.to_str()
            .map(|t| {
                t.split(',')
                    .any(|c| !c.trim().eq_ignore_ascii_case("identity"))
            })
            .unwrap_or(true)
    });
    if encoded {
        return Some(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IssueType::NotSupported,
            "CONTENT-ENCODING",
            "Content-Encoding",
            "the hub does not accept compressed bodies (Content-Encoding): send the body uncompressed",
            "圧縮された送信データ（Content-Encoding）には対応していません。圧縮せずに送信してください",
        ));
    }
    if h.get_all(header::CONTENT_TYPE).iter().nth(1).is_some() {
        return Some(ApiError::bad_request(
            "CONTENT-TYPE-REPEATED",
            "Content-Type",
            "the request has more than one Content-Type header: send exactly one",
            "Content-Type ヘッダーが複数あります。1つだけ指定してください",
        ));
    }
    None
}

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
    // A body declared larger than any request may be is refused at once, before a byte of it
    // is read (a client that declares 12 MB and then stalls holds nothing).
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut res = if declared.is_some_and(|n| n > crate::MAX_BODY as u64) {
        crate::too_large().into_response()
    } else if let Some(refused) = malformed_head(&req) {
        refused.into_response()
    } else {
        tracing::Instrument::instrument(next.run(req), span.clone()).await
    };
    // Errors raised by layers (the timeout) come without a body: every error is an
    // OperationOutcome.
    let is_fhir = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/fhir+json"));
    // Plain JSON answers are deliberate too (the token endpoint's RFC 6749 errors, the
    // operator's JSON).
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    // The pages' own HTML answers (a sign-in refused, a form expired) are deliberate as well.
    let is_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if res.status().as_u16() >= 400 && !is_fhir && !is_json && !is_page {
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
