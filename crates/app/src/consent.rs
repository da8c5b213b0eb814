//! Viewing consent (DECISIONS.md): per patient × institution, granted by the qualification
//! service after card verification or by the patient, valid for a set time (24 h by default),
//! revocable by the patient at once; stored as facts and shown as FHIR Consent resources. A
//! Consent that names a held referral (`provision.data`) releases it instead (閲覧保留 → 閲覧可).

use clins::policy::{Action, Interaction, Principal};
use fhir::json::{write_str, Value};
use fhir::outcome::{Issue, IssueType, Severity};
use store::{ConsentRow, Store, StoreError};

use crate::access::{self, Caller};
use crate::dates::{plus_hours, utc_instant};
use crate::refusal::{Refusal, Why};

pub const MEMBER_ID_SYSTEM: &str = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID";
pub const INSTITUTION_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";

/// Default validity of a viewing consent, in hours (DECISIONS.md).
pub const DEFAULT_HOURS: i64 = 24;

/// What a posted Consent did.
pub enum Posted {
    /// A viewing consent was stored.
    Granted(ConsentRow),
    /// Held referrals were released: one issue per document, and whether the audit record
    /// was committed with a release.
    Released(Vec<Issue>, bool),
}

fn invalid(
    detail: &'static str,
    at: &str,
    en: impl Into<String>,
    ja: impl Into<String>,
) -> Refusal {
    Refusal::new(Why::Invalid, IssueType::Invalid, detail, at, en, ja)
}

/// The referrals a posted Consent releases (`provision.data`); none for a viewing consent.
pub fn released_documents(c: &Value) -> Vec<String> {
    c.pointer("provision.data")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .filter_map(|d| d.pointer("reference.reference").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// `POST /fhir/Consent`: a viewing consent, or the release of held referrals.
/// `audit`: the request's audit record, committed with the consent (or with the first
/// referral released); its patient and grantee are filled in here.
pub fn post(
    store: &Store,
    caller: &Caller,
    c: &Value,
    now: &str,
    hours: i64,
    audit: Option<store::AuditRow>,
) -> Result<Posted, Refusal> {
    access::scope(caller, "Consent", Interaction::Create)?;
    if c.get("resourceType").and_then(Value::as_str) != Some("Consent") {
        return Err(Refusal::bad_request(
            "CONSENT-FORM",
            "",
            "send a Consent resource",
            "Consent リソースを送信してください",
        ));
    }
    if c.get("status").and_then(Value::as_str) != Some("active") {
        return Err(invalid(
            "CONSENT-FORM",
            "Consent.status",
            "Consent.status must be `active`",
            "Consent.status は active にしてください",
        ));
    }
    let documents = released_documents(c);
    if !documents.is_empty() {
        return release(store, caller, &documents, now, audit)
            .map(|(issues, recorded)| Posted::Released(issues, recorded));
    }
    // The patient: patient.identifier (the member id); a patient may leave it out.
    let member = match c.pointer("patient.identifier") {
        Some(ident) => {
            let system = ident
                .get("system")
                .and_then(Value::as_str)
                .unwrap_or(MEMBER_ID_SYSTEM);
            if system != MEMBER_ID_SYSTEM {
                return Err(invalid(
                    "CONSENT-PATIENT",
                    "Consent.patient.identifier.system",
                    format!("identify the patient by the insurance member id (system {MEMBER_ID_SYSTEM})"),
                    format!("患者は被保険者個人識別子（system {MEMBER_ID_SYSTEM}）で指定してください"),
                ));
            }
            let v = ident
                .get("value")
                .and_then(Value::as_str)
                .unwrap_or_default();
            clins::InsuranceMemberId::parse(v)
                .map_err(|e| {
                    invalid(
                        "CLINS-MEMBER-ID",
                        "Consent.patient.identifier.value",
                        e.en,
                        e.ja,
                    )
                })?
                .normalized()
        }
        None => match caller.patient() {
            Some(me) => me.to_string(),
            None => {
                return Err(invalid(
                    "CONSENT-PATIENT",
                    "Consent.patient",
                    "name the patient in Consent.patient.identifier (the insurance member id)",
                    "Consent.patient.identifier に患者の被保険者個人識別子を指定してください",
                ))
            }
        },
    };
    access::consents(caller, Action::GrantConsent, Some(&member))?;
    // The institution: exactly one actor with an institution number.
    let actors = c
        .pointer("provision.actor")
        .map(Value::items)
        .unwrap_or_default();
    let numbers: Vec<&str> = actors
        .iter()
        .filter_map(|a| {
            a.pointer("reference.identifier.value")
                .and_then(Value::as_str)
        })
        .collect();
    if numbers.len() != 1 || actors.len() != 1 {
        return Err(invalid(
            "CONSENT-INSTITUTION",
            "Consent.provision.actor",
            "name exactly one institution in provision.actor[0].reference.identifier (its 10-digit institution number): consent is given per institution",
            "provision.actor[0].reference.identifier に医療機関番号（10桁）を1つだけ指定してください（同意は医療機関ごとです）",
        ));
    }
    let number = numbers[0];
    let registered = store.institution(number)?;
    let cares = registered
        .as_ref()
        .and_then(|r| clins::policy::InstitutionKind::from_code(&r.kind))
        .is_some_and(|k| k.cares());
    if !cares || !registered.as_ref().is_some_and(|r| r.enabled) {
        return Err(invalid(
            "CONSENT-INSTITUTION",
            "Consent.provision.actor[0].reference.identifier.value",
            format!("{number} is not a registered hospital, clinic, dental clinic or pharmacy in service"),
            format!("{number} は利用中の病院・診療所・歯科診療所・薬局として登録されていません"),
        ));
    }
    // The period: from now (or the given start) for the set validity; a given end may shorten
    // it, never lengthen it.
    let at = |p: &str| {
        c.pointer(p).and_then(Value::as_str).map(|t| {
            utc_instant(t).ok_or_else(|| {
                invalid(
                    "CONSENT-PERIOD",
                    &format!("Consent.{p}"),
                    format!("`{t}` is not a date and time"),
                    format!("「{t}」は日時として不正です"),
                )
            })
        })
    };
    let start = match at("provision.period.start") {
        Some(s) => s?,
        None => now.to_string(),
    };
    let longest = plus_hours(&start, hours).unwrap_or_else(|| start.clone());
    let end = match at("provision.period.end") {
        Some(e) => e?,
        None => longest.clone(),
    };
    if end <= start || end > longest {
        return Err(invalid(
            "CONSENT-PERIOD",
            "Consent.provision.period",
            format!("the period must end after it starts and last at most {hours} hours"),
            format!("期間は開始より後に終わり、{hours}時間以内にしてください"),
        ));
    }
    let row = ConsentRow {
        consent_id: store::random_id(),
        member_id: member,
        institution: number.to_string(),
        granted_by: match caller.principal {
            Principal::Patient { .. } => "patient",
            _ => "qualification-service",
        }
        .to_string(),
        start,
        end,
        created_at: now.to_string(),
        revoked_at: None,
    };
    // The institution the consent is for (usage reports).
    crate::audit::writing(store, audit, |r| grantee(r, &row)).add_consent(&row)?;
    Ok(Posted::Granted(row))
}

/// Releases held referrals named `DocumentReference/<id>` (the patient's own; the
/// qualification service's for any patient).
/// With `audit`, the record is committed with the first referral released (the answer's
/// `bool` says whether it was).
fn release(
    store: &Store,
    caller: &Caller,
    documents: &[String],
    now: &str,
    mut audit: Option<store::AuditRow>,
) -> Result<(Vec<Issue>, bool), Refusal> {
    let mut issues = Vec::new();
    let mut recorded = false;
    for r in documents {
        let Some(id) = r.strip_prefix("DocumentReference/") else {
            return Err(invalid(
                "CONSENT-DOCUMENT",
                "Consent.provision.data",
                "name the referral in provision.data.reference (DocumentReference/<id>)",
                "provision.data.reference に対象の文書（DocumentReference/<ID>）を指定してください",
            ));
        };
        let what = format!("DocumentReference/{id}");
        let (doc, _) = store
            .document(id)?
            .ok_or_else(|| Refusal::not_found(&what))?;
        access::consents(caller, Action::ReleaseReferral, Some(&doc.member_id)).map_err(|e| {
            if e.why == Why::NotFound {
                Refusal::not_found(&what)
            } else {
                e
            }
        })?;
        let st = crate::audit::writing(store, audit.clone(), |r| {
            r.member_id.clone_from(&doc.member_id);
            r.detail = format!("released={}", doc.doc_id);
        });
        issues.push(
            match st.set_document_status(&doc.doc_id, &["held"], "current", now) {
                Ok(_) => {
                    if audit.take().is_some() {
                        recorded = true;
                    }
                    Issue::new(
                        Severity::Information,
                        IssueType::Informational,
                        "CONSENT-RELEASED",
                        "",
                        format!("{what} may now be retrieved by its addressee"),
                        format!("{what} は紹介先で閲覧可能になりました"),
                    )
                }
                Err(StoreError::State(state)) => Issue::new(
                    Severity::Information,
                    IssueType::Informational,
                    "CONSENT-NOT-HELD",
                    "",
                    format!("{what} is not held (status {state}); nothing was released"),
                    format!("{what} は閲覧保留ではありません（状態: {state}）。変更はありません"),
                ),
                Err(e) => return Err(e.into()),
            },
        );
    }
    Ok((issues, recorded))
}

/// `GET /fhir/Consent?patient=…`: the patient's own, or (operator) any patient's or all.
pub fn list(
    store: &Store,
    caller: &Caller,
    member_id: Option<&str>,
    limit: i64,
) -> Result<Vec<ConsentRow>, Refusal> {
    access::scope(caller, "Consent", Interaction::Search)?;
    let member = member_id.or(caller.patient());
    access::consents(caller, Action::ReadConsents, member)?;
    Ok(store.consents(member, limit)?)
}

/// `GET /fhir/Consent/{id}`: 404 for a consent the caller may not see.
pub fn read(store: &Store, caller: &Caller, id: &str) -> Result<ConsentRow, Refusal> {
    access::scope(caller, "Consent", Interaction::Read)?;
    let what = format!("Consent/{id}");
    let row = store
        .consent(id)?
        .ok_or_else(|| Refusal::not_found(&what))?;
    access::consents(caller, Action::ReadConsents, Some(&row.member_id))
        .map_err(|_| Refusal::not_found(&what))?;
    Ok(row)
}

/// `DELETE /fhir/Consent/{id}`: the patient revokes a grant at once.
/// `audit`: the request's audit record, committed with the revocation.
pub fn revoke(
    store: &Store,
    caller: &Caller,
    id: &str,
    now: &str,
    audit: Option<store::AuditRow>,
) -> Result<ConsentRow, Refusal> {
    access::scope(caller, "Consent", Interaction::Delete)?;
    let what = format!("Consent/{id}");
    let row = store
        .consent(id)?
        .ok_or_else(|| Refusal::not_found(&what))?;
    access::consents(caller, Action::RevokeConsent, Some(&row.member_id)).map_err(|e| {
        if e.why == Why::NotFound {
            Refusal::not_found(&what)
        } else {
            e
        }
    })?;
    crate::audit::writing(store, audit, |r| grantee(r, &row)).revoke_consent(id, now)?;
    Ok(store.consent(id)?.unwrap_or(row))
}

/// A consent's record: the patient, and the institution the consent is for.
fn grantee(r: &mut store::AuditRow, row: &ConsentRow) {
    r.member_id.clone_from(&row.member_id);
    r.detail = format!("grantee={}", row.institution);
}

/// The FHIR Consent of a stored grant (`status` inactive once revoked or past its period).
pub fn render(row: &ConsentRow, now: &str) -> String {
    let active = row.revoked_at.is_none() && row.start.as_str() <= now && now < row.end.as_str();
    let mut out = String::with_capacity(900);
    out.push_str("{\"resourceType\":\"Consent\",\"id\":");
    write_str(&mut out, &row.consent_id);
    out.push_str(",\"meta\":{\"lastUpdated\":");
    write_str(
        &mut out,
        row.revoked_at.as_deref().unwrap_or(&row.created_at),
    );
    out.push_str("},\"status\":");
    write_str(&mut out, if active { "active" } else { "inactive" });
    out.push_str(",\"scope\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/consentscope\",\"code\":\"patient-privacy\"}]},\"category\":[{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"59284-0\"}]}],\"patient\":{\"identifier\":{\"system\":\"");
    out.push_str(MEMBER_ID_SYSTEM);
    out.push_str("\",\"value\":");
    write_str(&mut out, &row.member_id);
    out.push_str("}},\"dateTime\":");
    write_str(&mut out, &row.created_at);
    out.push_str(",\"performer\":[{\"display\":");
    write_str(&mut out, &row.granted_by);
    out.push_str("}],\"provision\":{\"type\":\"permit\",\"period\":{\"start\":");
    write_str(&mut out, &row.start);
    out.push_str(",\"end\":");
    write_str(
        &mut out,
        row.revoked_at
            .as_deref()
            .filter(|r| *r < row.end.as_str())
            .unwrap_or(&row.end),
    );
    out.push_str("},\"actor\":[{\"role\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ParticipationType\",\"code\":\"IRCP\"}]},\"reference\":{\"identifier\":{\"system\":\"");
    out.push_str(INSTITUTION_SYSTEM);
    out.push_str("\",\"value\":");
    write_str(&mut out, &row.institution);
    out.push_str("}}}]}}");
    out
}
