//! Reads: `Patient/$summary`, search, read, vread, history, documents: adapters of the
//! application core. What a caller may see is decided in `app::access` (the only caller of
//! `clins::policy::decide`); this module parses requests and writes Bundles.

use app::read::PatientRef;
use app::Caller;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use clins::policy::Mark;
use fhir::json::write_str;
use fhir::outcome::IssueType;
use store::{DateFilter, Query, StoredDocument, StoredResource, TokenFilter};

use crate::dates::utc_range;
use crate::http::{fhir, ApiError, Auth};
use crate::ingest::{indexed_params, patient_id, MEMBER_ID_SYSTEM};
use crate::{blocking, query_pairs, AppState, Hub};

const EXT_SOURCE: &str = "https://clins-hub.org/fhir/StructureDefinition/source-institution";
const EXT_REGISTERED: &str = "https://clins-hub.org/fhir/StructureDefinition/registered";
const EXT_UNINFORMED: &str = "https://clins-hub.org/fhir/StructureDefinition/uninformed";
const EXT_DOC_STATUS: &str = "https://clins-hub.org/fhir/StructureDefinition/document-status";
const EXT_DESTINATION: &str = "https://clins-hub.org/fhir/StructureDefinition/referral-destination";
const INSTITUTION_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";

/// Clinical types a viewer can search.
const CLINICAL: &[&str] = &[
    "Condition",
    "AllergyIntolerance",
    "Observation",
    "MedicationRequest",
];

fn entry_extensions(out: &mut String, r: &StoredResource, mark: Mark) {
    out.push_str("\"extension\":[{\"url\":\"");
    out.push_str(EXT_SOURCE);
    out.push_str("\",\"valueIdentifier\":{\"system\":\"");
    out.push_str(INSTITUTION_SYSTEM);
    out.push_str("\",\"value\":");
    write_str(out, &r.institution);
    out.push_str("}},{\"url\":\"");
    out.push_str(EXT_REGISTERED);
    out.push_str("\",\"valueInstant\":");
    write_str(out, &r.registered_at);
    out.push('}');
    if mark == Mark::Uninformed {
        out.push_str(",{\"url\":\"");
        out.push_str(EXT_UNINFORMED);
        out.push_str("\",\"valueBoolean\":true}");
    }
    out.push_str("],");
}

pub(crate) fn bundle_head(out: &mut String, kind: &str, now: &str) {
    out.push_str("{\"resourceType\":\"Bundle\",\"meta\":{\"lastUpdated\":");
    write_str(out, now);
    out.push_str("},\"type\":\"");
    out.push_str(kind);
    out.push_str("\",\"timestamp\":");
    write_str(out, now);
}

/// The patient a request names: `identifier`/`patient.identifier` (`system|member id`) or a
/// `patient` reference; both at once is ambiguous (400). A patient calling without either
/// names itself.
fn patient_ref(
    caller: &Caller,
    reference: Option<&str>,
    identifier: Option<&str>,
) -> Result<Option<PatientRef>, ApiError> {
    if reference.is_some() && identifier.is_some() {
        return Err(ApiError::bad_request(
            "PATIENT-AMBIGUOUS",
            "patient",
            "name the patient once: either by identifier (the insurance member id) or by patient (the hub's Patient id), not both",
            "患者の指定は1つにしてください（identifier による被保険者個人識別子、または patient によるPatient IDのどちらか一方）",
        ));
    }
    if let Some(ident) = identifier {
        let (system, value) = ident.split_once('|').unwrap_or(("", ident));
        if !system.is_empty() && system != MEMBER_ID_SYSTEM {
            return Err(ApiError::bad_request(
                "PATIENT-IDENTIFIER-SYSTEM",
                "identifier",
                format!("identify the patient by the insurance member id: identifier={MEMBER_ID_SYSTEM}|<保険者番号:記号:番号:枝番>"),
                format!("患者は被保険者個人識別子で指定してください: identifier={MEMBER_ID_SYSTEM}|<保険者番号:記号:番号:枝番>"),
            ));
        }
        let id = clins::InsuranceMemberId::parse(value)
            .map_err(|e| ApiError::bad_request("CLINS-MEMBER-ID", "identifier", e.en, e.ja))?;
        return Ok(Some(PatientRef::Member(id.normalized())));
    }
    let Some(r) = reference else {
        return Ok(caller.patient().map(|m| PatientRef::Member(m.to_string())));
    };
    let id = r.strip_prefix("Patient/").unwrap_or(r);
    match crate::ingest::patient_key_of(id) {
        Some(k) => Ok(Some(PatientRef::Key(k))),
        None => Err(ApiError::bad_request(
            "PATIENT-REFERENCE",
            "patient",
            format!("`{r}` is not a patient of this hub: use Patient/<id> as returned by the hub, or patient.identifier=<system>|<insurance member id>"),
            format!("「{r}」はこのハブの患者IDではありません。Patient/<ID> または patient.identifier=<system>|<被保険者個人識別子> を指定してください"),
        )),
    }
}

/// `GET /fhir/Patient/$summary?identifier=<system>|<member id>`.
pub async fn summary(
    State(hub): State<AppState>,
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
    blocking(move || {
        let s = app::read::summary(&hub, &caller, &pref)?;
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
        write_patient_entry(&mut out, &hub, s.patient.0, &s.patient.1, None);
        for (r, mark) in &s.entries {
            out.push(',');
            write_entry(&mut out, &hub, r, *mark, None);
        }
        out.push_str("]}");
        Ok(fhir(StatusCode::OK, out))
    })
    .await
}

/// The value of a query parameter that may appear at most once (400 when repeated: never the
/// first silently taken).
fn once(pairs: &[(String, String)], name: &str) -> Result<Option<String>, ApiError> {
    let mut found = pairs.iter().filter(|(k, _)| k == name);
    let first = found.next().map(|(_, v)| v.clone());
    if found.next().is_some() {
        return Err(ApiError::bad_request(
            "PARAM-REPEATED",
            name,
            format!("`{name}` is given more than once; give it once"),
            format!("「{name}」が複数回指定されています。1回だけ指定してください"),
        ));
    }
    Ok(first)
}

/// `_count`: 1 to 1000.
pub(crate) fn page_size(v: &str) -> Result<i64, ApiError> {
    v.parse::<i64>()
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(
                "SEARCH-COUNT",
                "_count",
                format!("_count must be 1–1000, not `{v}`"),
                format!("_count は1〜1000で指定してください（「{v}」）"),
            )
        })
}

/// The Bundle entry of the hub's Patient resource.
fn write_patient_entry(out: &mut String, hub: &Hub, pk: i64, body: &[u8], mode: Option<&str>) {
    let url = format!("{}/Patient/{}", hub.base, patient_id(pk));
    write_stored_entry(out, &url, body, mode);
}

/// One Bundle entry of a stored resource body (a Patient, an Organization), as it is stored.
fn write_stored_entry(out: &mut String, full_url: &str, body: &[u8], mode: Option<&str>) {
    out.push_str("{\"fullUrl\":");
    write_str(out, full_url);
    out.push_str(",\"resource\":");
    out.push_str(&String::from_utf8_lossy(body));
    write_search_mode(out, mode);
    out.push('}');
}

fn write_search_mode(out: &mut String, mode: Option<&str>) {
    if let Some(m) = mode {
        out.push_str(",\"search\":{\"mode\":\"");
        out.push_str(m);
        out.push_str("\"}");
    }
}

/// One Bundle entry of a stored resource, with its source and registration extensions.
fn write_entry(out: &mut String, hub: &Hub, r: &StoredResource, mark: Mark, mode: Option<&str>) {
    out.push_str("{\"fullUrl\":");
    write_str(out, &format!("{}/{}/{}", hub.base, r.res_type, r.res_id));
    out.push(',');
    entry_extensions(out, r, mark);
    out.push_str("\"resource\":");
    out.push_str(&String::from_utf8_lossy(&r.body));
    write_search_mode(out, mode);
    out.push('}');
}

pub(crate) fn unknown_param(name: &str, allowed: &str) -> ApiError {
    ApiError::bad_request(
        "SEARCH-PARAM-UNKNOWN",
        name,
        format!("unknown or unsupported search parameter `{name}`; supported: {allowed}"),
        format!("検索パラメータ「{name}」には対応していません。対応しているもの: {allowed}"),
    )
}

fn not_supported_type(rtype: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        IssueType::NotSupported,
        "TYPE-NOT-SUPPORTED",
        "",
        format!("the hub does not serve `{rtype}` here; searchable types: Condition, AllergyIntolerance, Observation, MedicationRequest, DocumentReference"),
        format!("「{rtype}」には対応していません。検索できる型: Condition, AllergyIntolerance, Observation, MedicationRequest, DocumentReference"),
    )
}

/// `GET /fhir/{type}?…`.
pub async fn search(
    State(hub): State<AppState>,
    Path(rtype): Path<String>,
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
    blocking(move || {
        let found = app::read::search(&hub, &caller, &pref, query, include_orgs)?;
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

fn repeated(name: &str) -> ApiError {
    ApiError::bad_request(
        "PARAM-REPEATED",
        name,
        format!("`{name}` is given more than once; give it once"),
        format!("「{name}」が複数回指定されています。1回だけ指定してください"),
    )
}

fn link_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", crate::percent_encode(k), crate::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn searchset(
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

fn token_filter(param: &str, value: &str) -> Result<TokenFilter, ApiError> {
    let mut any_of = Vec::new();
    for alt in value.split(',') {
        let (system, code) = match alt.split_once('|') {
            Some((s, c)) => (
                if s.is_empty() {
                    None
                } else {
                    Some(s.to_string())
                },
                c.to_string(),
            ),
            None => (None, alt.to_string()),
        };
        if code.is_empty() {
            return Err(ApiError::bad_request(
                "SEARCH-TOKEN",
                param,
                format!("`{param}={value}`: give a code, as code or system|code"),
                format!(
                    "「{param}={value}」: コードを code または system|code の形で指定してください"
                ),
            ));
        }
        any_of.push((system, code));
    }
    Ok(TokenFilter {
        param: param.to_string(),
        any_of,
    })
}

fn date_filter(param: &str, value: &str) -> Result<DateFilter, ApiError> {
    let (prefix, rest) = match value.get(..2) {
        Some(p @ ("eq" | "ne" | "gt" | "lt" | "ge" | "le" | "sa" | "eb")) => (p, &value[2..]),
        _ => ("eq", value),
    };
    let (from, to) = utc_range(rest).ok_or_else(|| {
        ApiError::bad_request(
            "SEARCH-DATE",
            param,
            format!("`{param}={value}` is not a date: use [prefix]YYYY[-MM[-DD[Thh:mm[:ss][zone]]]], e.g. ge2026-01-01"),
            format!("「{param}={value}」は日付として不正です。例: ge2026-01-01"),
        )
    })?;
    Ok(DateFilter {
        param: param.to_string(),
        prefix: prefix.to_string(),
        from,
        to,
    })
}

/// `GET /fhir/{type}/{id}`.
pub async fn read(
    State(hub): State<AppState>,
    Path((rtype, id)): Path<(String, String)>,
    Auth(caller): Auth,
) -> Result<Response, ApiError> {
    blocking(move || match rtype.as_str() {
        // Directory data: any authenticated caller.
        "Organization" => {
            let (_, body) = hub
                .store
                .organizations(std::slice::from_ref(&id))?
                .pop()
                .ok_or_else(|| ApiError::not_found(&format!("Organization/{id}")))?;
            Ok(fhir(StatusCode::OK, body))
        }
        "Patient" => {
            let what = format!("Patient/{id}");
            let pk =
                crate::ingest::patient_key_of(&id).ok_or_else(|| ApiError::not_found(&what))?;
            let body = app::read::patient(&hub, &caller, pk).map_err(|e| {
                if e.why == app::Why::NotFound {
                    ApiError::not_found(&what)
                } else {
                    e.into()
                }
            })?;
            Ok(fhir(StatusCode::OK, body))
        }
        "Bundle" => Ok(fhir(
            StatusCode::OK,
            app::read::retrieve(&hub, &caller, &id)?,
        )),
        "DocumentReference" => {
            let (doc, carriers) = app::read::document(&hub, &caller, &id)?;
            Ok(fhir(
                StatusCode::OK,
                document_reference(&hub, &doc, &carriers),
            ))
        }
        t if CLINICAL.contains(&t) => {
            let versions = app::read::versions(&hub, &caller, &rtype, &id)?;
            let latest = versions
                .into_iter()
                .next()
                .ok_or_else(|| ApiError::not_found(&format!("{rtype}/{id}")))?;
            if latest.deleted {
                return Err(gone(&rtype, &id));
            }
            Ok(fhir(StatusCode::OK, latest.body))
        }
        other => Err(not_supported_type(other)),
    })
    .await
}

fn gone(rtype: &str, id: &str) -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        IssueType::Deleted,
        "DELETED",
        "",
        format!("{rtype}/{id} was deleted or withdrawn by its institution"),
        format!("{rtype}/{id} は登録元の医療機関により削除されました"),
    )
}

/// `GET /fhir/{type}/{id}/_history`.
pub async fn history(
    State(hub): State<AppState>,
    Path((rtype, id)): Path<(String, String)>,
    Auth(caller): Auth,
) -> Result<Response, ApiError> {
    if !CLINICAL.contains(&rtype.as_str()) {
        return Err(not_supported_type(&rtype));
    }
    blocking(move || {
        let versions = app::read::versions(&hub, &caller, &rtype, &id)?;
        if versions.is_empty() {
            return Err(ApiError::not_found(&format!("{rtype}/{id}")));
        }
        let now = hub.clock.now();
        let mut out = String::new();
        bundle_head(&mut out, "history", &now);
        out.push_str(",\"entry\":[");
        for (i, v) in versions.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"fullUrl\":");
            write_str(&mut out, &format!("{}/{}/{}", hub.base, rtype, id));
            if v.deleted {
                out.push_str(",\"request\":{\"method\":\"DELETE\",\"url\":");
            } else {
                out.push_str(",\"resource\":");
                out.push_str(&String::from_utf8_lossy(&v.body));
                out.push_str(",\"request\":{\"method\":\"PUT\",\"url\":");
            }
            write_str(&mut out, &format!("{rtype}/{id}"));
            out.push_str("},\"response\":{\"status\":\"");
            out.push_str(if v.deleted { "204" } else { "200" });
            out.push_str("\",\"lastModified\":");
            write_str(&mut out, &v.registered_at);
            out.push_str(",\"etag\":");
            write_str(&mut out, &format!("W/\"{}\"", v.version));
            out.push_str("}}");
        }
        out.push_str("]}");
        Ok(fhir(StatusCode::OK, out))
    })
    .await
}

/// `GET /fhir/{type}/{id}/_history/{vid}`.
pub async fn vread(
    State(hub): State<AppState>,
    Path((rtype, id, vid)): Path<(String, String, String)>,
    Auth(caller): Auth,
) -> Result<Response, ApiError> {
    if !CLINICAL.contains(&rtype.as_str()) {
        return Err(not_supported_type(&rtype));
    }
    blocking(move || {
        let versions = app::read::versions(&hub, &caller, &rtype, &id)?;
        let v = versions
            .into_iter()
            .find(|v| v.version.to_string() == vid)
            .ok_or_else(|| ApiError::not_found(&format!("{rtype}/{id}/_history/{vid}")))?;
        if v.deleted {
            return Err(gone(&rtype, &id));
        }
        Ok(fhir(StatusCode::OK, v.body))
    })
    .await
}

// --------------------------------------------------------------------------------- documents

/// The DocumentReference of a stored document; `carriers`: the referrals that carry it, as
/// `relatesTo` (`appends`).
fn document_reference(hub: &Hub, doc: &StoredDocument, carriers: &[StoredDocument]) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str("{\"resourceType\":\"DocumentReference\",\"id\":");
    write_str(&mut out, &doc.doc_id);
    out.push_str(",\"meta\":{\"versionId\":");
    write_str(&mut out, &doc.version.to_string());
    out.push_str(",\"lastUpdated\":");
    write_str(&mut out, &doc.registered_at);
    out.push_str("},\"extension\":[{\"url\":\"");
    out.push_str(EXT_DOC_STATUS);
    out.push_str("\",\"valueCode\":");
    write_str(&mut out, &doc.status);
    out.push('}');
    if let Some(d) = &doc.destination {
        out.push_str(",{\"url\":\"");
        out.push_str(EXT_DESTINATION);
        out.push_str("\",\"valueIdentifier\":{\"system\":\"");
        out.push_str(INSTITUTION_SYSTEM);
        out.push_str("\",\"value\":");
        write_str(&mut out, d);
        out.push_str("}}");
    }
    out.push_str("],\"masterIdentifier\":{\"system\":\"http://jpfhir.jp/fhir/clins/bundle-identifier\",\"value\":");
    write_str(&mut out, &doc.bundle_id);
    out.push_str("},\"status\":");
    write_str(
        &mut out,
        if doc.status == "cancelled" {
            "entered-in-error"
        } else {
            "current"
        },
    );
    out.push_str(",\"docStatus\":\"final\",\"type\":{\"coding\":[{\"system\":\"http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes\",\"code\":");
    write_str(&mut out, &doc.doc_type);
    out.push_str("}]}");
    if !carriers.is_empty() {
        out.push_str(",\"relatesTo\":[");
        for (i, r) in carriers.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"code\":\"appends\",\"target\":{\"reference\":");
            write_str(&mut out, &format!("DocumentReference/{}", r.doc_id));
            out.push_str("}}");
        }
        out.push(']');
    }
    out.push_str(",\"subject\":{\"reference\":");
    write_str(
        &mut out,
        &format!("Patient/{}", patient_id(doc.patient_key)),
    );
    out.push_str("},\"date\":");
    write_str(&mut out, &doc.registered_at);
    out.push_str(",\"author\":[{\"identifier\":{\"system\":\"");
    out.push_str(INSTITUTION_SYSTEM);
    out.push_str("\",\"value\":");
    write_str(&mut out, &doc.institution);
    out.push_str(
        "}}],\"content\":[{\"attachment\":{\"contentType\":\"application/fhir+json\",\"url\":",
    );
    write_str(&mut out, &format!("{}/Bundle/{}", hub.base, doc.doc_id));
    if !doc.doc_date.is_empty() {
        out.push_str(",\"creation\":");
        write_str(&mut out, &doc.doc_date);
    }
    out.push_str("}}]}");
    out
}

async fn search_documents(
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

fn doc_searchset(
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

/// `GET /fhir/metadata`.
pub async fn metadata(State(hub): State<AppState>) -> Response {
    let mut out = String::new();
    out.push_str("{\"resourceType\":\"CapabilityStatement\",\"status\":\"active\",\"date\":\"2026-12-06\",\"publisher\":\"clins-hub\",\"kind\":\"instance\",\"software\":{\"name\":\"clins-hub\",\"version\":\"");
    out.push_str(env!("CARGO_PKG_VERSION"));
    out.push_str("\"},\"implementation\":{\"description\":\"clins-hub: 電子カルテ情報共有サービス (JP-CLINS)\",\"url\":");
    write_str(&mut out, &hub.base);
    out.push_str("},\"fhirVersion\":\"4.0.1\",\"format\":[\"application/fhir+json\"],\"rest\":[{\"mode\":\"server\",\"resource\":[");
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
