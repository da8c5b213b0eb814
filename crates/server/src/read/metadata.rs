//! `GET /fhir/metadata`: the CapabilityStatement (lists only what works).

use crate::http::fhir;
use crate::ingest::indexed_params;
use crate::read::render::*;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use fhir::json::write_str;

/// `GET /fhir/metadata`.
pub async fn metadata(State(hub): State<AppState>) -> Response {
    let mut out = String::new();
    out.push_str("{\"resourceType\":\"CapabilityStatement\",\"status\":\"active\",\"date\":\"2026-12-06\",\"publisher\":\"clins-hub\",\"kind\":\"instance\",\"software\":{\"name\":\"clins-hub\",\"version\":\"");
    out.push_str(env!("CARGO_PKG_VERSION"));
    out.push_str("\"},\"implementation\":{\"description\":\"clins-hub: 電子カルテ情報共有サービス (JP-CLINS)\",\"url\":");
    write_str(&mut out, &hub.base);
    out.push_str("},\"fhirVersion\":\"4.0.1\",\"format\":[\"application/fhir+json\"],\"rest\":[{\"mode\":\"server\",\"security\":{\"cors\":false,\"service\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/restful-security-service\",\"code\":\"SMART-on-FHIR\"}]}],\"description\":\"OAuth2 client credentials with private_key_jwt (SMART Backend Services): POST /auth/token, see /.well-known/smart-configuration. Bearer tokens carry SMART v2 scopes, enforced on top of the hub's access decision.\",\"extension\":[{\"url\":\"http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris\",\"extension\":[{\"url\":\"token\",\"valueUri\":");
    write_str(&mut out, &hub.auth.token_url);
    out.push_str("}]}]},\"resource\":[");
    for (i, t) in CLINICAL.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"type\":\"");
        out.push_str(t);
        out.push_str("\",\"interaction\":[{\"code\":\"read\"},{\"code\":\"vread\"},{\"code\":\"history-instance\"},{\"code\":\"search-type\"}],\"searchParam\":[{\"name\":\"patient\",\"type\":\"reference\"},{\"name\":\"_lastUpdated\",\"type\":\"date\"}");
        for (p, _) in indexed_params(t) {
            out.push_str(",{\"name\":\"");
            out.push_str(p);
            out.push_str("\",\"type\":\"");
            out.push_str(if *p == "date" { "date" } else { "token" });
            out.push_str("\"}");
        }
        out.push_str("],\"searchInclude\":[\"");
        out.push_str(t);
        out.push_str(":patient\",\"");
        out.push_str(t);
        out.push_str(":source-institution\",\"*\"]}");
    }
    out.push_str(",{\"type\":\"Organization\",\"interaction\":[{\"code\":\"read\"}]}");
    out.push_str(",{\"type\":\"DocumentReference\",\"interaction\":[{\"code\":\"read\"},{\"code\":\"search-type\"}],\"searchParam\":[{\"name\":\"patient\",\"type\":\"reference\"},{\"name\":\"type\",\"type\":\"token\"},{\"name\":\"status\",\"type\":\"token\"},{\"name\":\"destination\",\"type\":\"token\"}]}");
    out.push_str(",{\"type\":\"Patient\",\"interaction\":[{\"code\":\"read\"}],\"operation\":[{\"name\":\"summary\",\"definition\":\"https://clins-hub.org/fhir/OperationDefinition/Patient-summary\"}]}");
    out.push_str(",{\"type\":\"Bundle\",\"interaction\":[{\"code\":\"read\"}],\"operation\":[{\"name\":\"submit\",\"definition\":\"https://clins-hub.org/fhir/OperationDefinition/Bundle-submit\"},{\"name\":\"withdraw\",\"definition\":\"https://clins-hub.org/fhir/OperationDefinition/Bundle-withdraw\"}]}");
    out.push_str("]}]}");
    fhir(StatusCode::OK, out)
}
