//! `GET /fhir/{Condition,AllergyIntolerance,Observation,MedicationRequest}?…`: an adapter of
//! `app::read::search` (paged with `next` links, `_include` of the patient and the source
//! institutions).

use crate::http::{fhir, ApiError, Auth};
use crate::ingest::indexed_params;
use crate::read::documents::search_documents;
use crate::read::params::*;
use crate::read::render::*;
use crate::{blocking, query_pairs, AppState, Hub};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use clins::policy::Mark;
use fhir::json::write_str;
use store::{Query, StoredResource};

/// `GET /fhir/{type}?…`.
pub async fn search(
    State(hub): State<AppState>,
    Path(rtype): Path<String>,
    audit: Option<axum::Extension<crate::audit::Slot>>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    if rtype == "DocumentReference" {
        return search_documents(hub, caller, q).await;
    }
    if rtype == "Patient" {
        return crate::identify::search(hub, caller, q).await;
    }
    if !CLINICAL.contains(&rtype.as_str()) {
        return Err(not_supported_type(&rtype));
    }
    let pairs = query_pairs(&q);
    if pairs.len() > MAX_PARAMETERS {
        return Err(too_complex(
            "",
            format!(
                "the search has {} parameters; at most {MAX_PARAMETERS} are accepted",
                pairs.len()
            ),
            format!(
                "検索パラメータが{}個あります。指定できるのは{MAX_PARAMETERS}個までです",
                pairs.len()
            ),
        ));
    }
    let params = indexed_params(&rtype);
    let allowed = {
        let mut a: Vec<&str> = vec![
            "patient",
            "subject",
            "patient.identifier",
            "_lastUpdated",
            "_count",
            "_sort",
            "_cursor",
            "_format",
            "_include",
        ];
        a.extend(params.iter().map(|p| p.0));
        a
    };
    let mut query = Query {
        res_type: rtype.clone(),
        limit: 100,
        ..Default::default()
    };
    let (mut reference, mut identifier) = (None, None);
    let (mut include_patient, mut include_orgs) = (false, false);
    for (k, v) in &pairs {
        match k.as_str() {
            "patient" | "subject" => {
                if reference.replace(v.clone()).is_some() {
                    return Err(repeated(k));
                }
            }
            "patient.identifier" => {
                if identifier.replace(v.clone()).is_some() {
                    return Err(repeated(k));
                }
            }
            "_format" => {}
            "_include" => {
                // The patient of the results, and the Organizations of their source
                // institutions (the `source-institution` extension of each entry).
                let all = v == "*";
                let patient = all
                    || *v == format!("{rtype}:patient")
                    || *v == format!("{rtype}:subject");
                let org = all || *v == format!("{rtype}:source-institution");
                if !patient && !org {
                    return Err(ApiError::bad_request(
                        "SEARCH-INCLUDE",
                        "_include",
                        format!("_include `{v}` is not supported; use {rtype}:patient, {rtype}:source-institution or *"),
                        format!("_include「{v}」には対応していません。{rtype}:patient、{rtype}:source-institution または * を指定してください"),
                    ));
                }
                include_patient |= patient;
                include_orgs |= org;
            }
            "_count" => {
                query.limit = page_size(v)?
            }
            "_sort" => match v.as_str() {
                "_lastUpdated" => query.ascending = true,
                "-_lastUpdated" => query.ascending = false,
                other => {
                    return Err(ApiError::bad_request(
                        "SEARCH-SORT",
                        "_sort",
                        format!("_sort `{other}` is not supported; use _lastUpdated or -_lastUpdated"),
                        format!("_sort「{other}」には対応していません。_lastUpdated または -_lastUpdated を指定してください"),
                    ))
                }
            },
            "_cursor" => {
                let (at, id) = v.split_once('~').ok_or_else(|| ApiError::bad_request("SEARCH-CURSOR", "_cursor", "malformed paging cursor; follow the `next` link as given", "ページ送りの指定が不正です。next リンクをそのまま使用してください"))?;
                query.after = Some((at.to_string(), id.to_string()));
            }
            "_lastUpdated" => query.registered.push(date_filter("_lastUpdated", v)?),
            name => {
                // The R4 names of the date parameters are accepted too.
                let name = match (rtype.as_str(), name) {
                    ("Condition", "onset-date") | ("MedicationRequest", "authoredon") => "date",
                    (_, n) => n,
                };
                let Some((ours, _)) = params.iter().find(|(p, _)| *p == name) else {
                    return Err(unknown_param(name, &allowed.join(", ")));
                };
                if *ours == "date" {
                    query.dates.push(date_filter(ours, v)?);
                } else {
                    query.tokens.push(token_filter(ours, v)?);
                }
            }
        }
    }
    let conditions = query.tokens.len() + query.dates.len() + query.registered.len();
    if conditions > MAX_CONDITIONS {
        return Err(too_complex(
            "",
            format!("the search has {conditions} conditions; at most {MAX_CONDITIONS} are accepted (give several codes as one comma-separated parameter)"),
            format!("検索条件が{conditions}個あります。指定できるのは{MAX_CONDITIONS}個までです（複数のコードはカンマ区切りで1つのパラメータに指定してください）"),
        ));
    }
    let Some(pref) = patient_ref(&caller, reference.as_deref(), identifier.as_deref())? else {
        return Err(ApiError::bad_request(
            "SEARCH-PATIENT-REQUIRED",
            "patient",
            "searches of clinical data are per patient: add patient=Patient/<id> or patient.identifier=<system>|<insurance member id>",
            "臨床データの検索には患者の指定が必要です。patient=Patient/<ID> または patient.identifier=<system>|<被保険者個人識別子> を指定してください",
        ));
    };
    let self_query: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "_cursor")
        .cloned()
        .collect();
    if let Some(a) = &audit {
        a.detail(&rtype);
        if let app::read::PatientRef::Member(m) = &pref {
            a.patient(m);
        }
    }
    blocking(move || {
        let found = app::read::search(&hub, &caller, &pref, query, include_orgs)?;
        if let Some(a) = &audit {
            a.shown(&found.member_id, found.basis, &found.entries);
        }
        let included = found
            .patient
            .filter(|_| include_patient && !found.entries.is_empty());
        Ok(searchset(
            &hub,
            &rtype,
            &self_query,
            found.entries,
            found.cursor,
            included,
            found.organizations,
        ))
    })
    .await
}

pub(crate) fn searchset(
    hub: &Hub,
    rtype: &str,
    query: &[(String, String)],
    shown: Vec<(StoredResource, Mark)>,
    cursor: Option<String>,
    included_patient: Option<(i64, Vec<u8>)>,
    included_orgs: Vec<(String, Vec<u8>)>,
) -> Response {
    let now = hub.clock.now();
    let mut out =
        String::with_capacity(1024 + shown.iter().map(|s| s.0.body.len() + 400).sum::<usize>());
    bundle_head(&mut out, "searchset", &now);
    out.push_str(",\"link\":[{\"relation\":\"self\",\"url\":");
    let base = format!("{}/{}?{}", hub.base, rtype, link_query(query));
    write_str(&mut out, &base);
    out.push('}');
    if let Some(c) = cursor {
        let mut next = query.to_vec();
        next.push(("_cursor".into(), c));
        out.push_str(",{\"relation\":\"next\",\"url\":");
        write_str(
            &mut out,
            &format!("{}/{}?{}", hub.base, rtype, link_query(&next)),
        );
        out.push('}');
    }
    out.push_str("],\"entry\":[");
    for (i, (r, mark)) in shown.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_entry(&mut out, hub, r, *mark, Some("match"));
    }
    if let Some((pk, body)) = included_patient {
        if !shown.is_empty() {
            out.push(',');
        }
        write_patient_entry(&mut out, hub, pk, &body, Some("include"));
    }
    for (id, body) in included_orgs {
        out.push(',');
        write_stored_entry(
            &mut out,
            &format!("{}/Organization/{id}", hub.base),
            &body,
            Some("include"),
        );
    }
    out.push_str("]}");
    fhir(StatusCode::OK, out)
}
