//! `GET /fhir/Patient?name=…&birthdate=…&gender=…&address=…`: identification by the 4 情報,
//! an adapter of `app::identify` (emergency or disaster only; one patient or 404/409).

use axum::http::StatusCode;
use axum::response::Response;
use fhir::json::write_str;

use crate::http::{fhir, ApiError};
use crate::read::params::unknown_param;
use crate::read::render::bundle_head;
use crate::{blocking, query_pairs, AppState};

pub async fn search(
    hub: AppState,
    caller: app::Caller,
    q: Option<String>,
) -> Result<Response, ApiError> {
    let (mut name, mut birth_date, mut gender, mut address) = (None, None, None, None);
    for (k, v) in query_pairs(&q) {
        let slot = match k.as_str() {
            "name" => &mut name,
            "birthdate" => &mut birth_date,
            "gender" => &mut gender,
            "address" => &mut address,
            "_format" => continue,
            other => return Err(unknown_param(other, "name, birthdate, gender, address")),
        };
        if slot.replace(v).is_some() {
            return Err(ApiError::bad_request(
                "PARAM-REPEATED",
                &k,
                format!("`{k}` is given more than once; give it once"),
                format!("「{k}」が複数回指定されています。1回だけ指定してください"),
            ));
        }
    }
    let missing: Vec<&str> = [
        ("name", &name),
        ("birthdate", &birth_date),
        ("gender", &gender),
        ("address", &address),
    ]
    .iter()
    .filter(|(_, v)| v.as_deref().is_none_or(|v| v.trim().is_empty()))
    .map(|(k, _)| *k)
    .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad_request(
            "IDENTIFY-4-REQUIRED",
            missing[0],
            format!("identification needs all 4 情報: name, birthdate, gender and address (missing: {})", missing.join(", ")),
            format!("患者の特定には4情報（氏名・生年月日・性別・住所）がすべて必要です（不足: {}）", missing.join(", ")),
        ));
    }
    let query = app::identify::Query {
        name: name.unwrap_or_default(),
        birth_date: birth_date.unwrap_or_default(),
        gender: gender.unwrap_or_default(),
        address: address.unwrap_or_default(),
    };
    blocking(move || {
        let now = hub.clock.now();
        let (pk, body) = app::identify::identify(&hub.store, &caller, &query, &now)?;
        let mut out = String::with_capacity(body.len() + 512);
        bundle_head(&mut out, "searchset", &now);
        out.push_str(",\"total\":1,\"entry\":[{\"fullUrl\":");
        write_str(
            &mut out,
            &format!("{}/Patient/{}", hub.base, crate::ingest::patient_id(pk)),
        );
        out.push_str(",\"resource\":");
        out.push_str(&String::from_utf8_lossy(&body));
        out.push_str(",\"search\":{\"mode\":\"match\"}}]}");
        Ok(fhir(StatusCode::OK, out))
    })
    .await
}
