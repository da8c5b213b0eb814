//! The authorization server's endpoints: `POST /auth/token` (OAuth2 client credentials with
//! `private_key_jwt`, SMART Backend Services), `GET /.well-known/smart-configuration` and
//! the hub's public keys at `GET /.well-known/jwks.json`. Adapters of `app::auth`. The token
//! endpoint answers errors as RFC 6749 §5.2 JSON (`error`, `error_description`), which OAuth
//! clients expect, not as OperationOutcomes.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use fhir::json::{self, Object, Value};

use crate::AppState;

fn oauth_error(e: &app::auth::TokenError) -> Response {
    let mut o = Object::new();
    o.insert("error", Value::string(e.error));
    o.insert("error_description", Value::string(e.description.as_str()));
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = crate::http::json(status, json::to_string(&Value::Object(o)));
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"clins-hub\""),
        );
    }
    r
}

fn invalid_request(description: impl Into<String>) -> Response {
    oauth_error(&app::auth::TokenError {
        status: 400,
        error: "invalid_request",
        description: description.into(),
    })
}

/// Parses an `application/x-www-form-urlencoded` body; a parameter sent twice is refused.
fn form(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_string())?;
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (crate::percent_decode(k), crate::percent_decode(v));
        if out.iter().any(|(o, _)| *o == k) {
            return Err(format!("the parameter {k} is sent more than once"));
        }
        out.push((k, v));
    }
    Ok(out)
}

/// `POST /auth/token`.
pub async fn token(
    State(hub): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if form_type != Some("application/x-www-form-urlencoded") {
        return invalid_request("send the request as application/x-www-form-urlencoded");
    }
    let Ok(body) = body else {
        return invalid_request("the body could not be read");
    };
    if body.len() > 64 * 1024 {
        return invalid_request("the request is larger than 64 KB");
    }
    let params = match form(&body) {
        Ok(p) => p,
        Err(e) => return invalid_request(e),
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let req = app::auth::TokenRequest {
        grant_type: get("grant_type").unwrap_or_default(),
        client_assertion_type: get("client_assertion_type").unwrap_or_default(),
        client_assertion: get("client_assertion").unwrap_or_default(),
        scope: get("scope").unwrap_or_default(),
        user_assertion: get("user_assertion"),
        client_id: get("client_id"),
    };
    let result = tokio::task::spawn_blocking(move || {
        hub.auth
            .issue(&hub.store, &hub.directory, &req, &hub.clock.now())
    })
    .await;
    match result {
        Ok(Ok(t)) => {
            let mut o = Object::new();
            o.insert("access_token", Value::string(t.access_token));
            o.insert("token_type", Value::string("bearer"));
            o.insert("expires_in", Value::Number(t.expires_in.to_string().into()));
            o.insert("scope", Value::string(t.scope));
            crate::http::json(StatusCode::OK, json::to_string(&Value::Object(o)))
        }
        Ok(Err(e)) => {
            tracing::info!(error = e.error, "token request refused");
            oauth_error(&e)
        }
        Err(_) => oauth_error(&app::auth::TokenError {
            status: 500,
            error: "server_error",
            description: "the token could not be issued".into(),
        }),
    }
}

/// `GET /.well-known/smart-configuration` (SMART App Launch 2.0 §Conformance).
pub async fn smart_configuration(State(hub): State<AppState>) -> Response {
    let strings = |xs: &[&str]| Value::Array(xs.iter().map(|x| Value::string(*x)).collect());
    let mut o = Object::new();
    o.insert("issuer", Value::string(hub.auth.issuer.as_str()));
    o.insert(
        "jwks_uri",
        Value::string(format!("{}/.well-known/jwks.json", hub.auth.issuer)),
    );
    o.insert("token_endpoint", Value::string(hub.auth.token_url.as_str()));
    o.insert("grant_types_supported", strings(&["client_credentials"]));
    o.insert(
        "token_endpoint_auth_methods_supported",
        strings(&["private_key_jwt"]),
    );
    o.insert(
        "token_endpoint_auth_signing_alg_values_supported",
        strings(&["ES256", "RS256"]),
    );
    o.insert(
        "scopes_supported",
        strings(&[
            "system/Patient.rs",
            "system/Condition.rs",
            "system/AllergyIntolerance.rs",
            "system/Observation.rs",
            "system/MedicationRequest.rs",
            "system/DocumentReference.rs",
            "system/Bundle.crd",
            "system/Consent.crds",
            "system/*.cruds",
            "user/*.cruds",
        ]),
    );
    o.insert(
        "capabilities",
        strings(&["client-confidential-asymmetric", "permission-v2"]),
    );
    crate::http::json(StatusCode::OK, json::to_string(&Value::Object(o)))
}

/// `GET /.well-known/jwks.json`: the keys that sign the hub's access tokens.
pub async fn jwks(State(hub): State<AppState>) -> Response {
    crate::http::json(StatusCode::OK, json::to_string(&hub.auth.jwks()))
}
