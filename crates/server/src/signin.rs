//! Sign-in of people over HTTP (adapters of `app::auth::people`): staff accounts managed by the
//! operator or the institution's administrator, patients' activation codes from the
//! qualification service, activation (password and TOTP enrolment), sign-in to a session
//! cookie, the session, sign-out. JSON in and out.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use fhir::json::{write_str, Value};

use app::auth::people::{self, Person, SESSION_COOKIE};

use crate::http::{json, parse_json, ApiError, Auth};
use crate::{blocking, body_or_error, AppState};

fn text(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn flag(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn account_json(out: &mut String, a: &store::AccountRow) {
    out.push_str("{\"login\":");
    write_str(out, &a.login);
    out.push_str(",\"institution\":");
    write_str(out, &a.institution);
    out.push_str(",\"name\":");
    write_str(out, &a.name);
    out.push_str(",\"qualification\":");
    write_str(out, &a.qualification);
    for (k, b) in [
        ("emergency", a.emergency),
        ("admin", a.admin),
        ("enabled", a.enabled),
        ("activated", !a.password.is_empty()),
    ] {
        out.push_str(",\"");
        out.push_str(k);
        out.push_str("\":");
        out.push_str(if b { "true" } else { "false" });
    }
    out.push('}');
}

/// `POST /auth/staff`: `{"institution","login","name","qualification","emergency","admin"}`
/// → 201 with the one-time `activation_code` (shown once).
pub async fn add_staff(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let v = parse_json(&body_or_error(body)?)?;
    let new = people::NewStaff {
        institution: text(&v, "institution"),
        login: text(&v, "login"),
        name: text(&v, "name"),
        qualification: text(&v, "qualification"),
        emergency: flag(&v, "emergency"),
        admin: flag(&v, "admin"),
    };
    blocking(move || {
        let (a, code) = people::add_staff(&hub.store, &caller, &new, &hub.clock.now())?;
        let mut out = String::from("{\"account\":");
        account_json(&mut out, &a);
        out.push_str(",\"activation_code\":");
        write_str(&mut out, &code);
        out.push('}');
        Ok(json(StatusCode::CREATED, out))
    })
    .await
}

/// `GET /auth/staff?institution=N`.
pub async fn list_staff(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let institution = q
        .as_deref()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("institution=")))
        .map(crate::percent_decode)
        .or_else(|| caller.institution().map(str::to_string))
        .unwrap_or_default();
    blocking(move || {
        let rows = people::staff(&hub.store, &caller, &institution)?;
        let mut out = String::from("[");
        for (i, a) in rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            account_json(&mut out, a);
        }
        out.push(']');
        Ok(json(StatusCode::OK, out))
    })
    .await
}

/// `POST /auth/staff/{institution}/{login}/disable|enable|reset` (reset: a new activation code).
pub async fn staff_action(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    Path((institution, login, verb)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let s = &hub.store;
        let out = match verb.as_str() {
            "disable" | "enable" => {
                people::set_staff_enabled(s, &caller, &institution, &login, verb == "enable")?;
                "{}".to_string()
            }
            "reset" => {
                let code = people::reset_staff(s, &caller, &institution, &login, &hub.clock.now())?;
                let mut out = String::from("{\"activation_code\":");
                write_str(&mut out, &code);
                out.push('}');
                out
            }
            _ => return Err(ApiError::not_found("the action")),
        };
        Ok(json(StatusCode::OK, out))
    })
    .await
}

/// `POST /auth/patients/activation`: `{"member_id"}` → `{"activation_code"}` (the
/// qualification service at the card reader, or the operator).
pub async fn patient_activation(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let v = parse_json(&body_or_error(body)?)?;
    let member = text(&v, "member_id");
    blocking(move || {
        let code = people::patient_activation(&hub.store, &caller, &member, &hub.clock.now())?;
        let mut out = String::from("{\"activation_code\":");
        write_str(&mut out, &code);
        out.push('}');
        Ok(json(StatusCode::CREATED, out))
    })
    .await
}

fn person(v: &Value) -> Result<Person, ApiError> {
    match text(v, "kind").as_str() {
        "staff" => Ok(Person::Staff {
            institution: text(v, "institution").trim().to_string(),
            login: text(v, "login").trim().to_string(),
        }),
        "patient" => {
            let m = clins::InsuranceMemberId::parse(text(v, "login").trim()).map_err(|e| {
                ApiError::bad_request(
                    "SIGN-IN-MEMBER",
                    "login",
                    format!("login (insurance member id): {}", e.en),
                    format!("login（被保険者個人識別子）: {}", e.ja),
                )
            })?;
            Ok(Person::Patient {
                member_id: m.normalized(),
            })
        }
        _ => Err(ApiError::bad_request(
            "SIGN-IN-KIND",
            "kind",
            "kind must be staff or patient",
            "kind は staff または patient を指定してください",
        )),
    }
}

/// `POST /auth/activate`: `{"kind","institution","login","code","password"}` → the TOTP
/// secret to enrol (`totp_secret`, `otpauth`).
pub async fn activate(
    State(hub): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let v = parse_json(&body_or_error(body)?)?;
    let who = person(&v)?;
    let (code, password) = (text(&v, "code"), text(&v, "password"));
    blocking(move || {
        let e = people::activate(&hub.store, &who, &code, &password, &hub.clock.now())?;
        let mut out = String::from("{\"totp_secret\":");
        write_str(&mut out, &e.totp_secret);
        out.push_str(",\"otpauth\":");
        write_str(&mut out, &e.otpauth);
        out.push('}');
        Ok(json(StatusCode::OK, out))
    })
    .await
}

/// `POST /auth/login`: `{"kind","institution","login","password","totp"}` → the session cookie
/// and `{"csrf","expires"}`.
pub async fn login(
    State(hub): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let v = parse_json(&body_or_error(body)?)?;
    let who = person(&v)?;
    let (password, totp) = (text(&v, "password"), text(&v, "totp"));
    blocking(move || {
        let s = match people::sign_in(&hub.store, &who, &password, &totp, &hub.clock.now()) {
            Ok(s) => s,
            Err(e) => {
                tracing::info!("sign-in refused");
                return Err(e.into());
            }
        };
        let mut out = String::from("{\"csrf\":");
        write_str(&mut out, &s.csrf);
        out.push_str(",\"expires\":");
        write_str(&mut out, &s.expires_at);
        out.push('}');
        let mut r = json(StatusCode::OK, out);
        r.headers_mut().insert(
            header::SET_COOKIE,
            crate::http::session_set_cookie(&s.cookie, people::SESSION_HOURS * 3600),
        );
        Ok(r)
    })
    .await
}

/// `GET /auth/session`: who is signed in, and the session's CSRF token.
pub async fn session(
    State(hub): State<AppState>,
    headers: HeaderMap,
    Auth(caller): Auth,
) -> Result<Response, ApiError> {
    let value = session_value(&headers).ok_or_else(|| ApiError::not_found("the session"))?;
    blocking(move || {
        let live = people::session(&hub.store, &value, &hub.clock.now())?;
        let mut out = String::from("{\"role\":");
        write_str(&mut out, caller.principal.role());
        out.push_str(",\"name\":");
        write_str(&mut out, &live.name);
        if let Some(i) = caller.institution() {
            out.push_str(",\"institution\":");
            write_str(&mut out, i);
        }
        out.push_str(",\"staff_admin\":");
        out.push_str(if live.staff_admin { "true" } else { "false" });
        out.push_str(",\"csrf\":");
        write_str(&mut out, &live.csrf);
        out.push('}');
        Ok(json(StatusCode::OK, out))
    })
    .await
}

fn session_value(headers: &HeaderMap) -> Option<String> {
    crate::http::cookie_value(headers, SESSION_COOKIE).map(str::to_string)
}

/// `POST /auth/logout` (with the session's CSRF token): the session ends, the cookie is
/// cleared.
pub async fn logout(
    State(hub): State<AppState>,
    headers: HeaderMap,
    Auth(_caller): Auth,
) -> Result<Response, ApiError> {
    let value = session_value(&headers).ok_or_else(|| ApiError::not_found("the session"))?;
    blocking(move || {
        people::sign_out(&hub.store, &value)?;
        let mut r = json(StatusCode::OK, "{}".into());
        r.headers_mut()
            .insert(header::SET_COOKIE, crate::http::session_set_cookie("", 0));
        Ok(r)
    })
    .await
}
