//! `POST /fhir/Consent`, `GET /fhir/Consent?patient=…`, `GET /fhir/Consent/{id}`,
//! `DELETE /fhir/Consent/{id}`: adapters of `app::consent`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use fhir::json::write_str;
use fhir::outcome::operation_outcome;

use crate::http::{check_content_type, fhir, parse_json, ApiError, Auth};
use crate::{blocking, body_or_error, query_pairs, AppState};

pub async fn post(
    State(hub): State<AppState>,
    audit: Option<axum::Extension<crate::audit::Slot>>,
    Auth(caller): Auth,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let body = body_or_error(body)?;
    let c = parse_json(&body)?;
    blocking(move || {
        let now = hub.clock.now();
        // A grant answers 201, a release 200: the record says which it was.
        let grant = app::consent::released_documents(&c).is_empty();
        let record = audit
            .as_ref()
            .map(|a| a.template(&hub, if grant { 201 } else { 200 }));
        match app::consent::post(&hub.store, &caller, &c, &now, hub.consent_hours, record)? {
            app::consent::Posted::Granted(row) => {
                if let Some(a) = &audit {
                    a.recorded();
                }
                let mut r = fhir(StatusCode::CREATED, app::consent::render(&row, &now));
                if let Ok(v) = HeaderValue::from_str(&format!("Consent/{}", row.consent_id)) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                Ok(r)
            }
            app::consent::Posted::Released(issues, recorded) => {
                if let (Some(a), true) = (&audit, recorded) {
                    a.recorded();
                }
                Ok(fhir(
                    StatusCode::OK,
                    fhir::json::to_string(&operation_outcome(&issues)),
                ))
            }
        }
    })
    .await
}

pub async fn search(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let mut member = None;
    let mut limit = 100;
    for (k, v) in query_pairs(&q) {
        match k.as_str() {
            "patient" | "patient.identifier" => {
                let value = v.rsplit('|').next().unwrap_or(&v).to_string();
                let m = clins::InsuranceMemberId::parse(&value)
                    .map_err(|e| ApiError::bad_request("CLINS-MEMBER-ID", "patient", e.en, e.ja))?;
                member = Some(m.normalized());
            }
            "_count" => limit = crate::read::params::page_size(&v)?,
            "_format" => {}
            other => return Err(crate::read::params::unknown_param(other, "patient, _count")),
        }
    }
    blocking(move || {
        let now = hub.clock.now();
        let rows = app::consent::list(&hub.store, &caller, member.as_deref(), limit)?;
        let mut out = String::new();
        crate::read::render::bundle_head(&mut out, "searchset", &now);
        out.push_str(",\"entry\":[");
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"fullUrl\":");
            write_str(
                &mut out,
                &format!("{}/Consent/{}", hub.base, row.consent_id),
            );
            out.push_str(",\"resource\":");
            out.push_str(&app::consent::render(row, &now));
            out.push_str(",\"search\":{\"mode\":\"match\"}}");
        }
        out.push_str("]}");
        Ok(fhir(StatusCode::OK, out))
    })
    .await
}

pub async fn read(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let row = app::consent::read(&hub.store, &caller, &id)?;
        Ok(fhir(
            StatusCode::OK,
            app::consent::render(&row, &hub.clock.now()),
        ))
    })
    .await
}

pub async fn revoke(
    State(hub): State<AppState>,
    audit: Option<axum::Extension<crate::audit::Slot>>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let now = hub.clock.now();
        let record = audit.as_ref().map(|a| a.template(&hub, 200));
        let row = app::consent::revoke(&hub.store, &caller, &id, &now, record)?;
        if let Some(a) = &audit {
            a.recorded();
        }
        Ok(fhir(StatusCode::OK, app::consent::render(&row, &now)))
    })
    .await
}
