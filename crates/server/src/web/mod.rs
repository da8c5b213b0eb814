//! The web pages: the clinician viewer (`/viewer`), the patient portal (`/portal`), the
//! operator console (`/admin`) and the demo's start page (`/`). Server-rendered HTML that works
//! without JavaScript; every page is an adapter of the same application core as the FHIR API
//! (`app::read`, `app::consent`, `app::audit`, …), so a page never shows what the API would
//! refuse. A person is known by the session cookie of `/auth/login` (or of a page's sign-in
//! form); a form that changes something carries the session's CSRF token.

mod chart;
mod console;
mod documents;
pub mod html;
mod portal;
mod start;
mod viewer;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use app::auth::people::{self, Person, SESSION_COOKIE};
use app::identity::Claim;

use crate::AppState;
use html::{see_other, Lang};

pub use html::esc;

/// The language cookie (not a secret: `ja` or `en`).
const LANG_COOKIE: &str = "clins-lang";
/// Largest form body a page accepts.
const MAX_FORM: usize = 64 * 1024;

/// The routes of the pages and their stylesheet.
pub fn routes(hub: &AppState) -> Router<AppState> {
    let mut r = Router::new()
        .route("/", get(start::home))
        .route("/static/app.css", get(stylesheet))
        .route("/lang", get(language))
        .route("/viewer", get(viewer::lookup))
        .route("/viewer/signin", get(signin_form).post(signin))
        .route("/viewer/signout", post(signout))
        .route("/viewer/patient", get(viewer::patient))
        .route("/viewer/consent", post(viewer::card_consent))
        .route("/viewer/inbox", get(documents::inbox))
        .route("/viewer/document", get(documents::document))
        .route("/viewer/attachment", get(documents::attachment))
        .route("/portal/document", get(documents::document))
        .route("/portal/attachment", get(documents::attachment))
        .route("/portal/checkups", get(documents::checkups))
        .route("/portal/summary", get(documents::patient_summaries))
        .route("/viewer/emergency", post(viewer::emergency))
        .route("/viewer/identify", post(viewer::identify))
        .route("/viewer/emergency/end", post(viewer::end_emergency))
        .route("/portal", get(portal::home))
        .route("/portal/signin", get(signin_form).post(signin))
        .route("/portal/signout", post(signout))
        .route("/portal/record", get(portal::record))
        .route("/portal/download", get(portal::download))
        .route("/portal/revoke", post(portal::revoke))
        .route("/portal/release", post(portal::release))
        .route("/admin", get(console::home))
        .route("/admin/signin", get(signin_form).post(signin))
        .route("/admin/signout", post(signout))
        .route("/admin/approve", post(console::approve))
        .route("/admin/registry", get(console::registry))
        .route("/admin/institution", post(console::institution))
        .route("/admin/usage", get(console::usage))
        .route("/admin/disasters", get(console::disasters))
        .route("/admin/disaster", post(console::declare))
        .route("/admin/disaster/end", post(console::end_disaster));
    if hub.demo.get().is_some() {
        r = r.route("/demo/signin/{who}", post(start::demo_signin));
    }
    r
}

/// Which part of the site a page belongs to (its sign-in page and who may use it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    Viewer,
    Portal,
    Admin,
}

impl Area {
    fn of(path: &str) -> Area {
        if path.starts_with("/portal") {
            Area::Portal
        } else if path.starts_with("/admin") {
            Area::Admin
        } else {
            Area::Viewer
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Area::Viewer => "viewer",
            Area::Portal => "portal",
            Area::Admin => "admin",
        }
    }
    /// Whether a signed-in person of this kind uses this area.
    fn admits(self, claim: &Claim) -> bool {
        matches!(
            (self, claim),
            (Area::Viewer, Claim::Institution { .. })
                | (Area::Portal, Claim::Patient { .. })
                | (Area::Admin, Claim::Operator)
        )
    }
}

/// The language of a request: its cookie, else Japanese.
pub fn lang_of(headers: &axum::http::HeaderMap) -> Lang {
    match crate::http::cookie_value(headers, LANG_COOKIE) {
        Some("en") => Lang::En,
        _ => Lang::Ja,
    }
}

/// A signed-in person on a page: the caller the application core sees, and what the page
/// frame shows. Without a live session of the area's kind: a 303 to the area's sign-in page.
pub struct Web {
    pub caller: app::Caller,
    pub name: String,
    pub csrf: String,
    pub lang: Lang,
    pub area: Area,
    /// The path and query of the request (for the language switch).
    pub here: String,
    /// The session cookie's value (to sign out).
    pub(crate) cookie: String,
    /// Emergency access in effect: since when, the reason given, and for which patient.
    pub emergency: Option<(String, String, String)>,
    /// When the person's previous session started (empty: this is the first).
    pub previous_visit: String,
}

impl Web {
    /// A page with this person's frame.
    pub fn page(&self, title: &str) -> html::Page {
        let mut p = html::Page::new(self.lang, title, &self.here);
        p.who = Some((self.name.clone(), self.csrf.clone(), self.area.name()));
        if let Some((since, reason, _)) = &self.emergency {
            p.banner = format!(
                "<div class=\"emergency-banner\" role=\"status\"><strong>{}</strong> {} {} UTC · {} {} \
                 <form method=\"post\" action=\"/viewer/emergency/end\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form></div>",
                self.t("救急時閲覧中", "Emergency access in effect"),
                self.t("開始", "since"),
                esc(&since.get(..16).unwrap_or(since).replace('T', " ")),
                self.t("理由:", "reason:"),
                esc(reason),
                esc(&self.csrf),
                self.t("救急時閲覧を終了", "End emergency access")
            );
        }
        p
    }
    /// The caller for a page of `member`: claiming emergency access when it is in effect for
    /// that patient.
    pub fn caller_for(&self, member: &str) -> app::Caller {
        let mut c = self.caller.clone();
        c.emergency_claimed = self.emergency.as_ref().is_some_and(|(_, _, m)| m == member);
        c
    }

    /// Whether the person may start emergency access (a staff account with the privilege).
    pub fn may_break_glass(&self) -> bool {
        matches!(
            &self.caller.principal,
            clins::policy::Principal::Institution { practitioner: Some(p), .. } if p.emergency
        )
    }
    pub fn t<'a>(&self, ja: &'a str, en: &'a str) -> &'a str {
        self.lang.t(ja, en)
    }
}

impl FromRequestParts<AppState> for Web {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, hub: &AppState) -> Result<Web, Response> {
        let path = parts.uri.path().to_string();
        let area = Area::of(&path);
        // The language switch returns here: a page answering a form returns to the area's
        // home page instead (the form's route takes POST only).
        let here = if parts.method == axum::http::Method::GET {
            parts
                .uri
                .path_and_query()
                .map_or_else(|| path.clone(), |p| p.as_str().to_string())
        } else {
            format!("/{}", area.name())
        };
        let lang = lang_of(&parts.headers);
        let to_signin = || see_other(&format!("/{}/signin", area.name()));
        let Some(value) =
            crate::http::cookie_value(&parts.headers, SESSION_COOKIE).map(str::to_string)
        else {
            return Err(to_signin());
        };
        let own = value.clone();
        let now = hub.clock.now();
        // A short read of the embedded store is done here; anything longer (every reader
        // busy, a write, PostgreSQL) on a blocking task.
        let live = match people::session_now(&hub.store, &value, &now) {
            Some(found) => found,
            None => {
                let h = hub.clone();
                tokio::task::spawn_blocking(move || people::session(&h.store, &value, &now))
                    .await
                    .map_err(|_| to_signin())?
            }
        }
        .map_err(|_| to_signin())?;
        if !area.admits(&live.claim) {
            return Err(to_signin());
        }
        // Unregistered or disabled institution, or the caller's rate limit: said on a page.
        let principal = crate::http::principal_of(hub, live.claim.clone())
            .await
            .map_err(|e| {
                let title = lang.t("利用できません", "Not available");
                let said = issue_words(&e.issues, lang);
                plain(
                    lang,
                    title,
                    &format!("/{}", area.name()),
                    e.status,
                    format!("<h1>{}</h1>{}", esc(title), html::note("error", &said)),
                )
            })?;
        let caller = app::Caller {
            principal,
            // Emergency access is claimed only on the page of the patient it was started for
            // (`Web::claim_emergency_for`).
            emergency_claimed: false,
            scopes: clins::policy::Scopes::Unrestricted,
            staff_admin: live.staff_admin,
        };
        if let Some(slot) = parts.extensions.get::<crate::audit::Slot>() {
            slot.caller(&caller, "");
            if let Some((_, reason, _)) = &live.emergency {
                slot.detail(&format!("emergency-reason={reason}"));
            }
        }
        Ok(Web {
            emergency: live.emergency.clone(),
            previous_visit: live.previous_visit,
            caller,
            name: live.name,
            csrf: live.csrf,
            lang,
            area,
            here,
            cookie: own,
        })
    }
}

/// A submitted form: its fields, read once (at most 64 KB, `application/x-www-form-urlencoded`).
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn get(&self, k: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Form, Response> {
        // A form posted from another site is refused before anything is read.
        if req
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == "cross-site")
        {
            return Err(StatusCode::FORBIDDEN.into_response());
        }
        let _ = state;
        let bytes = axum::body::to_bytes(req.into_body(), MAX_FORM)
            .await
            .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(Form(crate::query_pairs(&Some(text))))
    }
}

/// A form from a signed-in person: the person and the fields, its CSRF token checked.
pub struct Posted {
    pub web: Web,
    pub form: Form,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, hub: &AppState) -> Result<Posted, Response> {
        let (mut parts, body) = req.into_parts();
        let web = Web::from_request_parts(&mut parts, hub).await?;
        let form = Form::from_request(Request::from_parts(parts, body), hub).await?;
        if !app::auth::secrets::same(form.get("csrf").as_bytes(), web.csrf.as_bytes()) {
            let mut p = html::Page::new(web.lang, web.t("送信できません", "Not sent"), &web.here);
            p.status = StatusCode::FORBIDDEN;
            p.w(&html::note(
                "error",
                web.t(
                    "フォームの有効期限が切れました。ページを開き直してから送信してください。",
                    "The form has expired: open the page again and send it from there.",
                ),
            ));
            return Err(p.finish());
        }
        Ok(Posted { web, form })
    }
}

/// The sign-in form of an area: who (institution and staff login, member id, or the
/// operator's login), then password and one-time code.
fn signin_page(lang: Lang, area: Area, error: Option<&str>, status: StatusCode) -> Response {
    let t = |ja, en| lang.t(ja, en);
    let field = |id: &str, label: &str, extra: &str| {
        format!(
            "<label for=\"{id}\">{}</label><input type=\"text\" id=\"{id}\" name=\"{id}\" required{extra}>",
            esc(label)
        )
    };
    let (heading, title, who) = match area {
        Area::Viewer => (
            t("職員サインイン（閲覧）", "Staff sign-in (viewer)"),
            t("職員サインイン", "Staff sign-in"),
            format!(
                "{}<p class=\"hint\" id=\"inst-hint\">{}</p>{}",
                field(
                    "institution",
                    t("医療機関コード（10桁）", "Institution number (10 digits)"),
                    " inputmode=\"numeric\" autocomplete=\"organization\" pattern=\"[0-9]{10}\" aria-describedby=\"inst-hint\""
                ),
                t("保険医療機関番号 10桁", "The 10-digit insurance medical institution number"),
                field("login", t("職員ID", "Staff login"), " autocomplete=\"username\"")
            ),
        ),
        Area::Portal => (
            t("患者ポータル サインイン", "Patient portal sign-in"),
            t("患者ポータル", "Patient portal"),
            field("member", t("被保険者番号", "Insurance member id"), " autocomplete=\"username\""),
        ),
        Area::Admin => (
            t("運用コンソール サインイン", "Operator console sign-in"),
            t("運用コンソール", "Operator console"),
            field("login", t("ログインID", "Login"), " autocomplete=\"username\""),
        ),
    };
    let body = format!(
        "<h1>{}</h1>{}<form method=\"post\" action=\"/{}/signin\" class=\"card narrow\">{who}\
         <label for=\"password\">{}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         {}<button type=\"submit\">{}</button></form>",
        esc(heading),
        error.map(|e| html::note("error", e)).unwrap_or_default(),
        area.name(),
        t("パスワード", "Password"),
        field(
            "totp",
            t("ワンタイムコード（6桁）", "One-time code (6 digits)"),
            " inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{6}\""
        ),
        t("サインイン", "Sign in"),
    );
    plain(
        lang,
        title,
        &format!("/{}/signin", area.name()),
        status,
        body,
    )
}

/// `GET /{viewer,portal,admin}/signin`.
async fn signin_form(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    signin_page(
        lang_of(&headers),
        Area::of(uri.path()),
        None,
        StatusCode::OK,
    )
}

/// `POST /{viewer,portal,admin}/signin`: the area's kind of person, password and TOTP.
async fn signin(
    axum::extract::State(hub): axum::extract::State<AppState>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    form: Form,
) -> Response {
    let area = Area::of(uri.path());
    let who = match area {
        Area::Viewer => Person::Staff {
            institution: form.get("institution").trim().to_string(),
            login: form.get("login").trim().to_string(),
        },
        Area::Portal => Person::Patient {
            member_id: clins::InsuranceMemberId::parse(form.get("member").trim())
                .map(|m| m.normalized())
                .unwrap_or_default(),
        },
        Area::Admin => Person::Operator {
            login: form.get("login").trim().to_string(),
        },
    };
    match sign_in(hub, who, &form, &format!("/{}", area.name())).await {
        Ok(r) => r,
        Err(e) => signin_page(lang_of(&headers), area, Some(&e), StatusCode::UNAUTHORIZED),
    }
}

/// Signs a person in (password and TOTP) and sends them to `to`; the form again on failure.
async fn sign_in(hub: AppState, who: Person, form: &Form, to: &str) -> Result<Response, String> {
    let (password, totp) = (
        form.get("password").to_string(),
        form.get("totp").to_string(),
    );
    let h = hub.clone();
    let s = tokio::task::spawn_blocking(move || {
        people::sign_in(&h.store, &who, &password, &totp, &h.clock.now())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| words(&e, Lang::Ja) + " / " + &words(&e, Lang::En))?;
    Ok(with_session(see_other(to), &s.cookie))
}

fn with_session(mut r: Response, cookie: &str) -> Response {
    r.headers_mut().append(
        header::SET_COOKIE,
        crate::http::session_set_cookie(cookie, people::SESSION_HOURS * 3600),
    );
    r
}

/// `POST /{area}/signout`: ends the session.
async fn signout(hub: axum::extract::State<AppState>, p: Posted) -> Response {
    let area = p.web.area;
    let (h, value) = (hub.0.clone(), p.web.cookie.clone());
    let _ = tokio::task::spawn_blocking(move || people::sign_out(&h.store, &value)).await;
    let mut r = see_other(&format!("/{}/signin", area.name()));
    r.headers_mut()
        .append(header::SET_COOKIE, crate::http::session_set_cookie("", 0));
    r
}

/// `GET /lang?to=en|ja&back=/path`: sets the language and returns to the page.
async fn language(axum::extract::RawQuery(q): axum::extract::RawQuery) -> Response {
    let pairs = crate::query_pairs(&q);
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.as_str())
            .to_string()
    };
    let to = if get("to") == "en" { "en" } else { "ja" };
    let back = get("back");
    // Only a path of this site: never `//host` or a scheme.
    let back = if safe_back(&back) {
        back
    } else {
        "/".to_string()
    };
    let mut r = see_other(&back);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={to}; Path=/; SameSite=Lax; Max-Age=31536000"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// Whether `back` is a path of this site: visible ASCII only (browsers drop tabs and line
/// breaks, which would turn `/\t/host` into `//host`), starting with one `/`.
fn safe_back(back: &str) -> bool {
    let b = back.as_bytes();
    !b.is_empty()
        && b[0] == b'/'
        && b.get(1).is_none_or(|c| *c != b'/' && *c != b'\\')
        && b.iter().all(|c| (0x21..=0x7e).contains(c) && *c != b'\\')
}

/// `GET /static/app.css`.
async fn stylesheet() -> Response {
    let mut r = include_str!("app.css").into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The outcome of a page's blocking work: its value, or the page to answer instead — a
/// refusal in words with the API's status, or the area's home when the task itself failed.
pub(crate) fn settled<T>(
    web: &Web,
    title: &str,
    done: Result<Result<T, app::Refusal>, tokio::task::JoinError>,
) -> Result<T, Response> {
    match done {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(r)) => Err(refused(web, title, &r)),
        Err(_) => Err(see_other(&format!("/{}", web.area.name()))),
    }
}

/// A page that says why something could not be shown (the refusal's words, both languages).
pub fn refused(web: &Web, title: &str, r: &app::Refusal) -> Response {
    let mut p = web.page(title);
    p.status = crate::http::status_of(r.why);
    p.h(1, title);
    p.w(&html::note("error", &words(r, web.lang)));
    p.finish()
}

/// A plain page (no session): sign-in forms and the start page.
pub fn plain(lang: Lang, title: &str, here: &str, status: StatusCode, body: String) -> Response {
    let mut p = html::Page::new(lang, title, here);
    p.status = status;
    p.body = body;
    p.finish()
}

/// A refusal's words in one language (its issues, one after another).
pub fn words(r: &app::Refusal, lang: Lang) -> String {
    issue_words(&r.issues, lang)
}

fn issue_words(issues: &[fhir::outcome::Issue], lang: Lang) -> String {
    issues
        .iter()
        .map(|i| {
            if lang == Lang::Ja {
                i.ja.as_str()
            } else {
                i.en.as_str()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::safe_back;

    #[test]
    fn the_language_switch_returns_only_to_a_path_of_this_site() {
        for ok in ["/", "/viewer", "/viewer/patient?member=01%3A2%3A3%3A"] {
            assert!(safe_back(ok), "{ok}");
        }
        for bad in [
            "",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "https://evil.example",
            "evil",
            "/ a",
            "/日本",
        ] {
            assert!(!safe_back(bad), "{bad:?}");
        }
    }
}
