//! The operator's registry over HTTP (`POST /admin/institutions`, `GET /admin/institutions`):
//! adapters of `app::registry`, for the admin screens and scripts. JSON in and out:
//! `{"number": "1312345678", "kind": "hospital", "name": "…", "prefecture": 13}`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fhir::json::{write_str, Value};

use crate::http::{parse_json, ApiError, Auth};
use crate::{blocking, body_or_error, AppState};

fn json(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

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
