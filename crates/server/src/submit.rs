//! `POST /fhir/Bundle/$submit`: an adapter of `app::submit` that holds a CPU slot for the
//! CPU half only, and counts and traces the outcome.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::http::{check_content_type, fhir, ApiError, Auth};
use crate::{body_or_error, metrics, AppState};

/// `POST /fhir/Bundle/$submit`.
pub async fn submit(
    State(hub): State<AppState>,
    audit: Option<axum::Extension<crate::audit::Slot>>,
    Auth(caller): Auth,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let body = body_or_error(body)?;
    // Validation and rendering use the CPU: at most two per core at a time, so that many
    // clients do not mean 16 threads fighting over 2 cores. The write that follows, on the same
    // thread, only waits for the store, and gives the slot back first.
    let permit = cpu_slots()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    let h = hub.clone();
    let span = tracing::Span::current();
    let r: Result<String, ApiError> = tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            let ready = app::submit::prepare(&h, Some(&caller), &body, None);
            drop(permit);
            let ready = ready?;
            // API.md: 200 for every accepted submission; its audit record commits with it.
            let record = audit.as_ref().map(|a| a.template(&h, 200));
            let done = app::submit::store(&h, ready, record)?;
            if let Some(a) = &audit {
                a.recorded();
            }
            metrics::record_submission(done.label);
            Ok(done.outcome)
        })
    })
    .await
    .map_err(ApiError::internal)?;
    if let Err(e) = &r {
        refused(e);
    }
    // API.md: 200 with the OperationOutcome for every accepted submission.
    r.map(|body| fhir(StatusCode::OK, body))
}

/// Counts and traces a refused submission (the first error's code says why).
fn refused(e: &ApiError) {
    metrics::record_submission("rejected");
    let first = e.issues.iter().find(|i| i.severity.is_error());
    tracing::info!(
        status = e.status.as_u16(),
        code = first.map_or("", |i| i.detail),
        at = first.map_or("", |i| i.expression.as_str()),
        errors = e.issues.iter().filter(|i| i.severity.is_error()).count(),
        "submission refused"
    );
}

fn cpu_slots() -> Arc<tokio::sync::Semaphore> {
    static SLOTS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    SLOTS
        .get_or_init(|| {
            Arc::new(tokio::sync::Semaphore::new(
                2 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            ))
        })
        .clone()
}
