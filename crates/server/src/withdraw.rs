//! `POST /fhir/Bundle/$withdraw`: an adapter of `app::withdraw`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::http::{check_content_type, fhir, ApiError, Auth};
use crate::{blocking, body_or_error, http, AppState};

/// `POST /fhir/Bundle/$withdraw`: Parameters with `identifier` (the Bundle-ID).
pub async fn withdraw(
    State(hub): State<AppState>,
    audit: Option<axum::Extension<crate::audit::Slot>>,
    Auth(caller): Auth,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let body = body_or_error(body)?;
    let params = http::parse_json(&body)?;
    blocking(move || {
        let record = audit.as_ref().map(|a| a.template(&hub, 200));
        let body = app::withdraw::withdraw(&hub, &caller, &params, record)?;
        if let Some(a) = &audit {
            a.recorded();
        }
        Ok(fhir(StatusCode::OK, body))
    })
    .await
}
