//! The operator's registry over HTTP (`POST /admin/institutions`, `GET /admin/institutions`):
//! adapters of `app::registry`, for the admin screens and scripts. JSON in and out:
//! `{"number": "1312345678", "kind": "hospital", "name": "…", "prefecture": 13}`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use fhir::json::{write_str, Value};

use crate::http::{json, parse_json, ApiError, Auth};
use crate::{blocking, body_or_error, AppState};

fn row_json(out: &mut String, r: &store::InstitutionRow) {
    out.push_str("{\"number\":");
    write_str(out, &r.number);
    out.push_str(",\"kind\":");
    write_str(out, &r.kind);
    out.push_str(",\"name\":");
    write_str(out, &r.name);
    out.push_str(",\"prefecture\":");
    out.push_str(&r.prefecture.to_string());
    out.push_str(",\"enabled\":");
    out.push_str(if r.enabled { "true" } else { "false" });
    out.push_str(",\"updated\":");
    write_str(out, &r.updated_at);
    out.push('}');
}

pub async fn add_institution(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    app::access::administer(&caller)?;
    let body = body_or_error(body)?;
    let v = parse_json(&body)?;
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let new = app::registry::NewInstitution {
        number: text("number"),
        kind: text("kind"),
        name: text("name"),
        prefecture: v
            .get("prefecture")
            .and_then(Value::as_number)
            .and_then(|p| p.parse::<u8>().ok()),
    };
    blocking(move || {
        let row = app::registry::add(&hub.store, &caller.principal, &new, &hub.clock.now())?;
        hub.directory.invalidate(&row.number);
        let mut out = String::new();
        row_json(&mut out, &row);
        Ok(json(StatusCode::OK, out))
    })
    .await
}

pub async fn list_institutions(
    State(hub): State<AppState>,
    Auth(caller): Auth,
) -> Result<Response, ApiError> {
    blocking(move || {
        let rows = app::registry::list(&hub.store, &caller.principal)?;
        let mut out = String::from("[");
        for (i, r) in rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            row_json(&mut out, r);
        }
        out.push(']');
        Ok(json(StatusCode::OK, out))
    })
    .await
}

fn application_json(out: &mut String, a: &store::ApplicationRow) {
    out.push_str("{\"id\":");
    write_str(out, &a.app_id);
    for (k, v) in [
        ("number", &a.number),
        ("kind", &a.kind),
        ("name", &a.name),
        ("address", &a.address),
        ("jwks_url", &a.jwks_url),
        ("status", &a.status),
        ("reason", &a.reason),
        ("created", &a.created_at),
    ] {
        out.push_str(",\"");
        out.push_str(k);
        out.push_str("\":");
        write_str(out, v);
    }
    out.push_str(",\"prefecture\":");
    out.push_str(&a.prefecture.to_string());
    if let Some(d) = &a.decided_at {
        out.push_str(",\"decided\":");
        write_str(out, d);
    }
    out.push('}');
}

/// `POST /admin/applications`: 利用申請. Open to anyone (the applicant has no credentials
/// yet); nothing happens until the operator approves. JSON: number, kind, name, prefecture,
/// address, and `jwks` (a JWKS object) or `jwks_url`.
pub async fn apply(
    State(hub): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_error(body)?;
    let v = parse_json(&body)?;
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let new = app::auth::applications::NewApplication {
        institution: app::registry::NewInstitution {
            number: text("number"),
            kind: text("kind"),
            name: text("name"),
            prefecture: v
                .get("prefecture")
                .and_then(Value::as_number)
                .and_then(|p| p.parse::<u8>().ok()),
        },
        address: text("address"),
        jwks: v.get("jwks").map(fhir::json::to_string),
        jwks_url: v
            .get("jwks_url")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    blocking(move || {
        let a = app::auth::applications::apply(&hub.store, &new, &hub.clock.now())?;
        let mut out = String::new();
        application_json(&mut out, &a);
        let mut r = json(StatusCode::CREATED, out);
        if let Ok(loc) = HeaderValue::from_str(&format!("/admin/applications/{}", a.app_id)) {
            r.headers_mut().insert(header::LOCATION, loc);
        }
        Ok(r)
    })
    .await
}

/// `GET /admin/applications[?status=pending|approved|rejected]` (operator).
pub async fn applications(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    let status = query.as_deref().and_then(|q| {
        q.split('&')
            .find_map(|p| p.strip_prefix("status="))
            .map(crate::percent_decode)
    });
    blocking(move || {
        let rows = app::auth::applications::list(&hub.store, &caller.principal, status.as_deref())?;
        let mut out = String::from("[");
        for (i, a) in rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            application_json(&mut out, a);
        }
        out.push(']');
        Ok(json(StatusCode::OK, out))
    })
    .await
}

/// `POST /admin/applications/{id}/approve` and `…/reject` (JSON `{"reason": "…"}`).
pub async fn decide(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    axum::extract::Path((id, verb)): axum::extract::Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_error(body)?;
    let reason = if body.is_empty() {
        String::new()
    } else {
        parse_json(&body)?
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    blocking(move || {
        let now = hub.clock.now();
        match verb.as_str() {
            "approve" => {
                let (inst, client) =
                    app::auth::applications::approve(&hub.store, &caller.principal, &id, &now)?;
                hub.directory.invalidate(&inst.number);
                hub.auth.invalidate_client(&client.client_id);
            }
            "reject" => {
                app::auth::applications::reject(&hub.store, &caller.principal, &id, &reason, &now)?
            }
            _ => return Err(ApiError::not_found("the action")),
        }
        let a = hub
            .store
            .application(&id)?
            .ok_or_else(|| ApiError::not_found("the application"))?;
        let mut out = String::new();
        application_json(&mut out, &a);
        Ok(json(StatusCode::OK, out))
    })
    .await
}

/// `GET /admin/clients` (operator): each client with its state and key ids.
pub async fn clients(
    State(hub): State<AppState>,
    Auth(caller): Auth,
) -> Result<Response, ApiError> {
    blocking(move || {
        let rows = app::auth::applications::clients(&hub.store, &caller.principal)?;
        let mut out = String::from("[");
        for (i, (c, kids)) in rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"client_id\":");
            write_str(&mut out, &c.client_id);
            out.push_str(",\"institution\":");
            write_str(&mut out, &c.institution);
            out.push_str(",\"enabled\":");
            out.push_str(if c.enabled { "true" } else { "false" });
            out.push_str(",\"kids\":[");
            for (j, k) in kids.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                write_str(&mut out, k);
            }
            out.push_str("]}");
        }
        out.push(']');
        Ok(json(StatusCode::OK, out))
    })
    .await
}

/// `POST /admin/clients/{id}/disable` and `…/enable`; `POST /admin/clients/{id}/keys` with a
/// JWKS body adds keys.
pub async fn client_action(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    axum::extract::Path((id, verb)): axum::extract::Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_error(body)?;
    blocking(move || {
        let p = &caller.principal;
        match verb.as_str() {
            "disable" | "enable" => {
                app::auth::applications::set_client_enabled(&hub.store, p, &id, verb == "enable")?
            }
            "keys" => {
                let jwks = String::from_utf8_lossy(&body).into_owned();
                app::auth::applications::add_keys(&hub.store, p, &id, &jwks, &hub.clock.now())?;
            }
            _ => return Err(ApiError::not_found("the action")),
        }
        hub.auth.invalidate_client(&id);
        Ok(json(StatusCode::OK, "{}".into()))
    })
    .await
}

/// `DELETE /admin/clients/{id}/keys/{kid}`: the key stops working at once.
pub async fn remove_key(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    axum::extract::Path((id, kid)): axum::extract::Path<(String, String)>,
) -> Result<Response, ApiError> {
    blocking(move || {
        app::auth::applications::remove_key(&hub.store, &caller.principal, &id, &kid)?;
        hub.auth.invalidate_client(&id);
        Ok(json(StatusCode::OK, "{}".into()))
    })
    .await
}

/// `POST /admin/institutions/{number}/disable` and `…/enable`: takes effect at once in this
/// process (other processes within the registry cache's lifetime).
pub async fn institution_action(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    axum::extract::Path((number, verb)): axum::extract::Path<(String, String)>,
) -> Result<Response, ApiError> {
    let enabled = match verb.as_str() {
        "enable" => true,
        "disable" => false,
        _ => return Err(ApiError::not_found("the action")),
    };
    blocking(move || {
        app::registry::set_enabled(
            &hub.store,
            &caller.principal,
            &number,
            enabled,
            &hub.clock.now(),
        )?;
        hub.directory.invalidate(number.trim());
        Ok(json(StatusCode::OK, "{}".into()))
    })
    .await
}

/// `POST /admin/clients` with `{"number": "…", "jwks": {…}}`: gives a registered institution a
/// client with these keys, without an application (the operator's direct registration).
pub async fn register_client(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_error(body)?;
    let v = parse_json(&body)?;
    let number = v
        .get("number")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let jwks = v.get("jwks").map(fhir::json::to_string).unwrap_or_default();
    blocking(move || {
        let c = app::auth::applications::register_client(
            &hub.store,
            &caller.principal,
            &number,
            &jwks,
            &hub.clock.now(),
        )?;
        hub.auth.invalidate_client(&c.client_id);
        let mut out = String::from("{\"client_id\":");
        write_str(&mut out, &c.client_id);
        out.push('}');
        Ok(json(StatusCode::OK, out))
    })
    .await
}
