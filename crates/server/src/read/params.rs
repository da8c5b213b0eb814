//! Reading the query strings of the read interactions into `app::read`'s typed requests: the
//! patient (`PatientRef`), token and date filters, `_count`; and the refusals of bad ones.

use crate::dates::utc_range;
use crate::http::ApiError;
use crate::ingest::MEMBER_ID_SYSTEM;
use app::read::PatientRef;
use app::Caller;
use axum::http::StatusCode;
use fhir::outcome::IssueType;
use store::{DateFilter, TokenFilter};

/// The patient a request names: `identifier`/`patient.identifier` (`system|member id`) or a
/// `patient` reference; both at once is ambiguous (400). A patient calling without either
/// names itself.
pub(crate) fn patient_ref(
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

/// The value of a query parameter that may appear at most once (400 when repeated: never the
/// first silently taken).
pub(crate) fn once(pairs: &[(String, String)], name: &str) -> Result<Option<String>, ApiError> {
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

/// Most parameters in one search's query string.
pub(crate) const MAX_PARAMETERS: usize = 40;
/// Most search conditions (token, date and `_lastUpdated` parameters) in one search.
pub(crate) const MAX_CONDITIONS: usize = 20;
/// Most comma-separated values of one token parameter.
pub(crate) const MAX_VALUES: usize = 100;

/// A search beyond the limits above: the client's to simplify.
pub(crate) fn too_complex(param: &str, en: String, ja: String) -> ApiError {
    ApiError::bad_request("SEARCH-TOO-COMPLEX", param, en, ja)
}

/// `_count`: 1 to 1000, written in digits.
pub(crate) fn page_size(v: &str) -> Result<i64, ApiError> {
    Some(v)
        .filter(|v| !v.is_empty() && v.len() <= 4 && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<i64>().ok())
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

pub(crate) fn unknown_param(name: &str, allowed: &str) -> ApiError {
    ApiError::bad_request(
        "SEARCH-PARAM-UNKNOWN",
        name,
        format!("unknown or unsupported search parameter `{name}`; supported: {allowed}"),
        format!("検索パラメータ「{name}」には対応していません。対応しているもの: {allowed}"),
    )
}

pub(crate) fn not_supported_type(rtype: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        IssueType::NotSupported,
        "TYPE-NOT-SUPPORTED",
        "",
        format!("the hub does not serve `{rtype}` here; searchable types: Condition, AllergyIntolerance, Observation, MedicationRequest, DocumentReference"),
        format!("「{rtype}」には対応していません。検索できる型: Condition, AllergyIntolerance, Observation, MedicationRequest, DocumentReference"),
    )
}

pub(crate) fn repeated(name: &str) -> ApiError {
    ApiError::bad_request(
        "PARAM-REPEATED",
        name,
        format!("`{name}` is given more than once; give it once"),
        format!("「{name}」が複数回指定されています。1回だけ指定してください"),
    )
}

pub(crate) fn token_filter(param: &str, value: &str) -> Result<TokenFilter, ApiError> {
    let values = value.split(',').count();
    if values > MAX_VALUES {
        return Err(too_complex(
            param,
            format!("`{param}` has {values} comma-separated values; at most {MAX_VALUES} are accepted in one parameter"),
            format!("「{param}」の値が{values}個あります。1つのパラメータに指定できる値は{MAX_VALUES}個までです"),
        ));
    }
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

pub(crate) fn date_filter(param: &str, value: &str) -> Result<DateFilter, ApiError> {
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
