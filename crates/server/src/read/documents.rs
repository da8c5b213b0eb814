//! `GET /fhir/DocumentReference?…`: an adapter of `app::read::documents`.

use crate::http::{fhir, ApiError};
use crate::read::params::*;
use crate::read::render::*;
use crate::{blocking, query_pairs, AppState, Hub};
use app::Caller;
use axum::http::StatusCode;
use axum::response::Response;
use fhir::json::write_str;
use fhir::outcome::IssueType;
use store::StoredDocument;

pub(crate) async fn search_documents(
    hub: AppState,
    caller: Caller,
    q: Option<String>,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(&q);
    let (mut reference, mut identifier, mut destination, mut doc_type, mut status) =
        (None, None, None, None, None);
    let mut limit = 100i64;
    for (k, v) in &pairs {
        let slot = match k.as_str() {
            "patient" | "subject" => &mut reference,
            "patient.identifier" => &mut identifier,
            "destination" => &mut destination,
            "type" => &mut doc_type,
            "status" => &mut status,
            "_count" => {
                limit = page_size(v)?;
                continue;
            }
            "_format" => continue,
            other => {
                return Err(unknown_param(
                    other,
                    "patient, patient.identifier, destination, type, status, _count",
                ))
            }
        };
        if slot.replace(v.clone()).is_some() {
            return Err(repeated(k));
        }
    }
    let doc_type = doc_type.map(|v: String| v.rsplit('|').next().unwrap_or(&v).to_string());
    // `current` means every live status; the others name one.
    let status: Option<Option<String>> = match status.as_deref() {
        None => None,
        Some("current") => Some(None),
        Some("entered-in-error") => Some(Some("cancelled".to_string())),
        Some(v @ ("held" | "retrieved" | "cancelled")) => Some(Some(v.to_string())),
        Some(other) => {
            return Err(ApiError::bad_request(
                "SEARCH-STATUS",
                "status",
                format!(
                    "status `{other}`: use current, entered-in-error, held, retrieved or cancelled"
                ),
                format!("status「{other}」は不正です"),
            ))
        }
    };
    if let Some(d) = &destination {
        if Some(d.as_str()) != caller.institution() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                IssueType::Forbidden,
                "DESTINATION-OTHER",
                "destination",
                "you can list only the referrals addressed to your own institution",
                "自施設宛ての診療情報提供書のみ一覧できます",
            ));
        }
    }
    let insurer = caller.principal.kind() == Some(clins::policy::InstitutionKind::Insurer);
    let pref = patient_ref(&caller, reference.as_deref(), identifier.as_deref())?;
    if pref.is_none() && destination.is_none() && !insurer {
        return Err(ApiError::bad_request(
            "SEARCH-PATIENT-REQUIRED",
            "patient",
            "add patient=…, patient.identifier=… or destination=<your institution number>",
            "patient、patient.identifier または destination（自施設の医療機関番号）を指定してください",
        ));
    }
    let q = app::read::DocumentQuery {
        patient: pref,
        destination,
        doc_type,
        status,
        limit,
    };
    blocking(move || {
        let listed = app::read::documents(&hub, &caller, &q)?;
        Ok(doc_searchset(&hub, &pairs, listed))
    })
    .await
}

pub(crate) fn doc_searchset(
    hub: &Hub,
    query: &[(String, String)],
    docs: Vec<(StoredDocument, Vec<StoredDocument>)>,
) -> Response {
    let now = hub.clock.now();
    let mut out = String::new();
    bundle_head(&mut out, "searchset", &now);
    out.push_str(",\"link\":[{\"relation\":\"self\",\"url\":");
    write_str(
        &mut out,
        &format!("{}/DocumentReference?{}", hub.base, link_query(query)),
    );
    out.push_str("}],\"entry\":[");
    for (i, (d, carriers)) in docs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"fullUrl\":");
        write_str(
            &mut out,
            &format!("{}/DocumentReference/{}", hub.base, d.doc_id),
        );
        out.push_str(",\"resource\":");
        out.push_str(&document_reference(hub, d, carriers));
        out.push_str(",\"search\":{\"mode\":\"match\"}}");
    }
    out.push_str("]}");
    fhir(StatusCode::OK, out)
}
