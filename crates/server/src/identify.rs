//! `GET /fhir/Patient?name=…&birthdate=…&gender=…&address=…`: identification by the 4 情報
//! (emergency or disaster only). Not built yet: refused after the access decision.

use axum::http::StatusCode;
use axum::response::Response;
use fhir::outcome::IssueType;

use crate::http::ApiError;
use crate::AppState;

pub async fn search(
    hub: AppState,
    caller: app::Caller,
    _q: Option<String>,
) -> Result<Response, ApiError> {
    crate::blocking(move || {
        app::access::identify(&hub.store, &caller, &hub.clock.now())?;
        Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            IssueType::NotSupported,
            "IDENTIFY-NOT-AVAILABLE",
            "",
            "identification by the 4 情報 is not available yet; identify the patient by the insurance member id",
            "4情報による患者の特定はまだ利用できません。被保険者個人識別子で特定してください",
        ))
    })
    .await
}
