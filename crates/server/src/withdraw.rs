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
    Auth(caller): Auth,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let body = body_or_error(body)?;
    let params = http::parse_json(&body)?;
    blocking(move || {
        Ok(fhir(
            StatusCode::OK,
            app::withdraw::withdraw(&hub, &caller, &params)?,
        ))
    })
    .await
}
