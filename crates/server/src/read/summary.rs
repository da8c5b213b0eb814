//! `GET /fhir/Patient/$summary`: an adapter of `app::read::summary`.

use crate::http::{fhir, ApiError, Auth};
use crate::ingest::MEMBER_ID_SYSTEM;
use crate::read::params::*;
use crate::read::render::*;
use crate::{blocking, query_pairs, AppState};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

/// `GET /fhir/Patient/$summary?identifier=<system>|<member id>`.
pub async fn summary(
    State(hub): State<AppState>,
    audit: Option<axum::Extension<crate::audit::Slot>>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(&q);
    for (k, _) in &pairs {
        if !matches!(k.as_str(), "identifier" | "patient" | "_format") {
            return Err(unknown_param(k, "identifier, patient"));
        }
    }
    let identifier = once(&pairs, "identifier")?;
    let patient = once(&pairs, "patient")?;
    let Some(pref) = patient_ref(&caller, patient.as_deref(), identifier.as_deref())? else {
        return Err(ApiError::bad_request(
            "SUMMARY-PATIENT",
            "identifier",
            format!("name the patient: identifier={MEMBER_ID_SYSTEM}|<insurance member id>"),
            format!("患者を指定してください: identifier={MEMBER_ID_SYSTEM}|<被保険者個人識別子>"),
        ));
    };
    if let (Some(a), app::read::PatientRef::Member(m)) = (&audit, &pref) {
        a.patient(m);
    }
    blocking(move || {
        let s = app::read::summary(&hub, &caller, &pref)?;
        if let Some(a) = &audit {
            a.shown(&s.member_id, s.basis, &s.entries);
        }
        let out = bundle(&hub, &s);
        if let Some(a) = &audit {
            a.commit(&hub, 200)?;
        }
        Ok(fhir(StatusCode::OK, out))
    })
    .await
}

/// The `collection` Bundle of a summary: the Patient, then the entries shown.
pub(crate) fn bundle(hub: &app::Hub, s: &app::read::Summary) -> String {
    let now = hub.clock.now();
    let mut out = String::with_capacity(
        4096 + s
            .entries
            .iter()
            .map(|e| e.0.body.len() + 400)
            .sum::<usize>(),
    );
    bundle_head(&mut out, "collection", &now);
    out.push_str(",\"entry\":[");
    write_patient_entry(&mut out, hub, s.patient.0, &s.patient.1, None);
    for (r, mark) in &s.entries {
        out.push(',');
        write_entry(&mut out, hub, r, *mark, None);
    }
    out.push_str("]}");
    out
}
