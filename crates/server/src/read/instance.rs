//! `GET /fhir/{type}/{id}`, `…/_history`, `…/_history/{vid}`: adapters of `app::read`
//! (`versions`, `patient`, `document`, `retrieve`).

use crate::http::{fhir, ApiError, Auth};
use crate::read::params::*;
use crate::read::render::*;
use crate::{blocking, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use fhir::json::write_str;
use fhir::outcome::IssueType;

/// `GET /fhir/{type}/{id}`.
pub async fn read(
    State(hub): State<AppState>,
    Path((rtype, id)): Path<(String, String)>,
    Auth(caller): Auth,
) -> Result<Response, ApiError> {
    blocking(move || match rtype.as_str() {
        // Directory data: any authenticated caller.
        "Organization" => {
            let (_, body) = hub
                .store
                .organizations(std::slice::from_ref(&id))?
                .pop()
                .ok_or_else(|| ApiError::not_found(&format!("Organization/{id}")))?;
            Ok(fhir(StatusCode::OK, body))
        }
        "Patient" => {
            let what = format!("Patient/{id}");
            let pk =
                crate::ingest::patient_key_of(&id).ok_or_else(|| ApiError::not_found(&what))?;
            let body = app::read::patient(&hub, &caller, pk).map_err(|e| {
                if e.why == app::Why::NotFound {
                    ApiError::not_found(&what)
                } else {
                    e.into()
                }
            })?;
            Ok(fhir(StatusCode::OK, body))
        }
        "Bundle" => Ok(fhir(
            StatusCode::OK,
            app::read::retrieve(&hub, &caller, &id)?,
        )),
        "DocumentReference" => {
            let (doc, carriers) = app::read::document(&hub, &caller, &id)?;
            Ok(fhir(
                StatusCode::OK,
                document_reference(&hub, &doc, &carriers),
            ))
        }
        t if CLINICAL.contains(&t) => {
            let versions = app::read::versions(&hub, &caller, &rtype, &id)?;
            let latest = versions
                .into_iter()
                .next()
                .ok_or_else(|| ApiError::not_found(&format!("{rtype}/{id}")))?;
            if latest.deleted {
                return Err(gone(&rtype, &id));
            }
            Ok(fhir(StatusCode::OK, latest.body))
        }
        other => Err(not_supported_type(other)),
    })
    .await
}

pub(crate) fn gone(rtype: &str, id: &str) -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        IssueType::Deleted,
        "DELETED",
        "",
        format!("{rtype}/{id} was deleted or withdrawn by its institution"),
        format!("{rtype}/{id} は登録元の医療機関により削除されました"),
    )
}

/// `GET /fhir/{type}/{id}/_history`.
pub async fn history(
    State(hub): State<AppState>,
    Path((rtype, id)): Path<(String, String)>,
    Auth(caller): Auth,
) -> Result<Response, ApiError> {
    if !CLINICAL.contains(&rtype.as_str()) {
        return Err(not_supported_type(&rtype));
    }
    blocking(move || {
        let versions = app::read::versions(&hub, &caller, &rtype, &id)?;
        if versions.is_empty() {
            return Err(ApiError::not_found(&format!("{rtype}/{id}")));
        }
        let now = hub.clock.now();
        let mut out = String::new();
        bundle_head(&mut out, "history", &now);
        out.push_str(",\"entry\":[");
        for (i, v) in versions.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"fullUrl\":");
            write_str(&mut out, &format!("{}/{}/{}", hub.base, rtype, id));
            if v.deleted {
                out.push_str(",\"request\":{\"method\":\"DELETE\",\"url\":");
            } else {
                out.push_str(",\"resource\":");
                out.push_str(&String::from_utf8_lossy(&v.body));
                out.push_str(",\"request\":{\"method\":\"PUT\",\"url\":");
            }
            write_str(&mut out, &format!("{rtype}/{id}"));
            out.push_str("},\"response\":{\"status\":\"");
            out.push_str(if v.deleted { "204" } else { "200" });
            out.push_str("\",\"lastModified\":");
            write_str(&mut out, &v.registered_at);
            out.push_str(",\"etag\":");
            write_str(&mut out, &format!("W/\"{}\"", v.version));
            out.push_str("}}");
        }
        out.push_str("]}");
        Ok(fhir(StatusCode::OK, out))
    })
    .await
}

/// `GET /fhir/{type}/{id}/_history/{vid}`.
pub async fn vread(
    State(hub): State<AppState>,
    Path((rtype, id, vid)): Path<(String, String, String)>,
    Auth(caller): Auth,
) -> Result<Response, ApiError> {
    if !CLINICAL.contains(&rtype.as_str()) {
        return Err(not_supported_type(&rtype));
    }
    blocking(move || {
        let versions = app::read::versions(&hub, &caller, &rtype, &id)?;
        let v = versions
            .into_iter()
            .find(|v| v.version.to_string() == vid)
            .ok_or_else(|| ApiError::not_found(&format!("{rtype}/{id}/_history/{vid}")))?;
        if v.deleted {
            return Err(gone(&rtype, &id));
        }
        Ok(fhir(StatusCode::OK, v.body))
    })
    .await
}
