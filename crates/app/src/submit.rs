//! `$submit` (and `clins-hub import`): validate a Bundle, check that the caller may submit it,
//! resolve the patient, render the resources with their server ids, and store the unit or
//! document atomically. Split in two so the HTTP edge can hold a CPU slot for the first half
//! only: [`prepare`] (CPU, no write) and [`store`] (the write).

use fhir::json::Value;
use fhir::outcome::{operation_outcome, Issue, IssueType, Severity};
use store::{NewDocument, NewOrganization, NewResource, NewSubmission, Rendered, SubmitAction};

use crate::access::{self, Caller};
use crate::refusal::{Refusal, Why};
use crate::{ingest, Hub, MAX_BODY};

/// Validates and stores one submission: the path of `$submit` and of `clins-hub import`.
/// `caller` is the authenticated caller; `None` (import by the operator) trusts the
/// Bundle-ID's institution. `status`: the document status to register with (an undo restores
/// the status before the cancel); `None` = from the content (held referral without consent).
pub fn submit(
    hub: &Hub,
    caller: Option<&Caller>,
    body: &[u8],
    status: Option<&str>,
) -> Result<Submitted, Refusal> {
    let ready = prepare(hub, caller, body, status)?;
    store(hub, ready, None)
}

/// The statuses `clins::policy` locks, as the store writes them.
pub(crate) fn locked() -> Vec<String> {
    clins::policy::LOCKED
        .iter()
        .map(|s| s.code().to_string())
        .collect()
}

/// An accepted submission: its outcome (`created`, `replaced`, `unchanged`, `deleted`,
/// `nothing_to_delete`) and the OperationOutcome JSON that lists what was stored.
#[derive(Clone, Debug)]
pub struct Submitted {
    pub label: &'static str,
    pub outcome: String,
    /// The patient (normalised member id) and the kind submitted, for the audit record.
    pub member_id: String,
    pub kind: &'static str,
}

/// First half of a submission (CPU only, no write): parse, validate, resolve, render.
pub fn prepare(
    hub: &Hub,
    caller: Option<&Caller>,
    body: &[u8],
    status: Option<&str>,
) -> Result<Ready, Refusal> {
    if body.len() > MAX_BODY {
        return Err(Refusal::new(
            Why::TooLarge,
            IssueType::TooLong,
            "SIZE-LIMIT",
            "",
            "the body is larger than 10 MB (10485760 bytes); split the submission",
            "送信データが10MB（10485760バイト）を超えています。分割して送信してください",
        ));
    }
    if let Some(c) = caller {
        access::scope(c, "Bundle", clins::policy::Interaction::Create)?;
    }
    if let Some(c) = caller.filter(|c| c.institution().is_none()) {
        access::submit(c, None)?;
    }
    let value = crate::refusal::parse_json(body)?;
    let issues = hub.validator.validate(&value);
    if issues.iter().any(|i| i.severity.is_error()) {
        return Err(Refusal {
            why: Why::Invalid,
            issues,
        });
    }
    let mut sub = ingest::prepare(
        value,
        body,
        caller.map(|c| c.institution().unwrap_or("-")),
        &hub.indexer,
    )
    .map_err(|issues| {
        let forbidden = issues.iter().any(|i| i.code == IssueType::Forbidden);
        Refusal {
            why: if forbidden {
                Why::Forbidden
            } else {
                Why::Invalid
            },
            issues,
        }
    })?;
    if let Some(c) = caller {
        access::submit(c, clins::policy::DocKind::from_code(sub.kind_code))?;
    }
    let now = hub.clock.now();
    let mut new = NewSubmission {
        organization: None,
        demographics: Vec::new(),
        locked: locked(),
        member_id: sub.member_id.normalized(),
        insurer: sub.member_id.insurer_number().to_string(),
        institution: sub.institution.clone(),
        bundle_id: sub.bundle_id.clone(),
        kind: sub.kind_code.to_string(),
        content_hash: sub.content_hash.clone(),
        delete_only: sub.delete_only,
        document: sub.document.as_ref().map(|d| NewDocument {
            doc_id: d.doc_id.clone(),
            doc_type: d.doc_type.clone(),
            destination: d.destination.clone(),
            doc_date: d.date.clone(),
            // DECISIONS.md "Referral consent": 閲覧可 with consent recorded in the Bundle,
            // otherwise 閲覧保留.
            status: match status {
                Some(s) => s.to_string(),
                None if sub.kind == clins::SubmissionKind::EReferral && !d.consent => "held".into(),
                None => "current".into(),
            },
            bundle: store::pack(body),
            attachments: d.attachments.clone(),
        }),
        now: now.clone(),
    };
    let prepared = std::mem::take(&mut sub.resources);
    new.demographics = crate::identify::rows(&clins::demographics::of_patient(&sub.patient));
    let sub_patient = std::mem::replace(&mut sub.patient, Value::Null);
    let full_url = sub.patient_full_url.clone();
    let org = sub.organization.take();
    let org_ref = format!("Organization/{}", ingest::organization_id(&sub.institution));
    let organization = org.as_ref().map(|(_, o)| NewOrganization {
        org_id: ingest::organization_id(&sub.institution),
        body: store::pack(&ingest::render(
            o,
            &ingest::organization_id(&sub.institution),
            None,
            &[],
        )),
    });
    let org_url = org.map(|(url, _)| url).unwrap_or_default();
    new.organization = organization;
    let render = move |patient_key: i64, version: i64| {
        let token = ingest::patient_token(patient_key);
        let patient_id = format!("p{token}");
        let pref = format!("Patient/{patient_id}");
        let mut refs = vec![(full_url.as_str(), pref.as_str())];
        if !org_url.is_empty() {
            refs.push((org_url.as_str(), org_ref.as_str()));
        }
        Rendered {
            patient: store::pack(&ingest::render(&sub_patient, &patient_id, None, &[])),
            resources: prepared
                .iter()
                .map(|p| {
                    let id = ingest::token_resource_id(&token, &p.local_id);
                    NewResource {
                        body: store::pack(&ingest::render(&p.value, &id, Some(version), &refs)),
                        res_type: p.res_type.clone(),
                        res_id: id,
                        item: p.item.code().to_string(),
                        code_key: p.code_key.clone(),
                        effective: p.effective.clone(),
                        flags: p.flags,
                        tokens: p.tokens.clone(),
                        dates: p.dates.clone(),
                    }
                })
                .collect(),
        }
    };
    // Render before the write for the patient key and version the store expects; the write
    // re-renders only if they turn out wrong (a concurrent write, a replaced unit).
    let guess = hub.store.guess(&new)?.map(|(k, v)| (k, v, render(k, v)));
    Ok(Ready {
        sub,
        new,
        guess,
        render: Box::new(render),
    })
}

/// A validated submission, rendered, waiting for the store.
pub struct Ready {
    sub: ingest::Submission,
    new: NewSubmission,
    guess: Option<(i64, i64, Rendered)>,
    render: Box<dyn Fn(i64, i64) -> Rendered + Send>,
}

/// Second half of a submission: the atomic write and the answer.
/// `audit`: the request's audit record, committed with the write (its patient, kind and
/// Bundle-ID are filled in here).
pub fn store(
    hub: &Hub,
    ready: Ready,
    audit: Option<store::AuditRow>,
) -> Result<Submitted, Refusal> {
    let Ready {
        sub,
        new,
        guess,
        render,
    } = ready;
    let st = crate::audit::writing(&hub.store, audit, |r| {
        r.member_id.clone_from(&new.member_id);
        r.items = sub.kind_code.to_string();
        r.detail = format!("bundle={}", sub.bundle_id);
    });
    let result = match st.submit(new, guess, render) {
        Ok(r) => r,
        Err(store::StoreError::OtherPatient) => {
            return Err(Refusal::new(
                Why::Conflict,
                IssueType::Conflict,
                "SUBMIT-OTHER-PATIENT",
                "Bundle.identifier.value",
                format!("Bundle-ID {} was already used by your institution for another patient; use a new Bundle-ID", sub.bundle_id),
                format!("Bundle-ID {} は自施設で別の患者に使用済みです。新しいBundle-IDを使用してください", sub.bundle_id),
            ))
        }
        Err(store::StoreError::State(state)) => {
            return Err(Refusal::new(
                Why::Conflict,
                IssueType::Conflict,
                "SUBMIT-DOCUMENT-STATE",
                "Bundle.identifier.value",
                format!("the document with Bundle-ID {} is {state}: the addressee has retrieved it, so it can no longer be changed; send a new document with a new Bundle-ID", sub.bundle_id),
                format!("Bundle-ID {} の文書は状態「{state}」です（紹介先が取得済み）。変更できないため、新しいBundle-IDで送信してください", sub.bundle_id),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let (label, en, ja) = match result.action {
        SubmitAction::Created => ("created", "stored", "登録しました"),
        SubmitAction::Replaced => (
            "replaced",
            "stored; it replaces the earlier submission with the same Bundle-ID",
            "登録しました（同じBundle-IDの以前の提出を置き換えました）",
        ),
        SubmitAction::Unchanged => (
            "unchanged",
            "identical to the stored submission; nothing changed",
            "登録済みの内容と同一のため、変更はありません",
        ),
        SubmitAction::Deleted => (
            "deleted",
            "the unit with this Bundle-ID was deleted (Patient-only bundle)",
            "このBundle-IDの報告単位を削除しました（Patientのみのバンドル）",
        ),
        SubmitAction::NothingToDelete => (
            "nothing_to_delete",
            "no stored unit has this Bundle-ID; nothing was deleted",
            "このBundle-IDの報告単位は登録されていないため、削除するものはありません",
        ),
    };
    tracing::debug!(
        outcome = label,
        kind = sub.kind_code,
        bundle_id = %sub.bundle_id,
        patient = result.patient_key,
        version = result.version,
        "submission stored"
    );
    let mut issues = vec![Issue::new(
        Severity::Information,
        IssueType::Informational,
        match result.action {
            SubmitAction::Created => "SUBMIT-CREATED",
            SubmitAction::Replaced => "SUBMIT-REPLACED",
            SubmitAction::Unchanged => "SUBMIT-UNCHANGED",
            SubmitAction::Deleted => "SUBMIT-DELETED",
            SubmitAction::NothingToDelete => "SUBMIT-NOTHING-TO-DELETE",
        },
        "",
        format!(
            "{} {} (Bundle-ID {}, version {}, patient {}): {en}",
            sub.kind.label_ja(),
            sub.kind_code,
            sub.bundle_id,
            result.version,
            ingest::patient_id(result.patient_key)
        ),
        format!(
            "{}（Bundle-ID {}、版 {}）を{ja}",
            sub.kind.label_ja(),
            sub.bundle_id,
            result.version
        ),
    )];
    if let Some(d) = &sub.document {
        issues.push(Issue::new(
            Severity::Information,
            IssueType::Informational,
            "SUBMIT-DOCUMENT",
            "",
            format!("Bundle/{} DocumentReference/{}", d.doc_id, d.doc_id),
            format!("文書ID {}", d.doc_id),
        ));
    }
    for (t, id) in &result.resources {
        issues.push(Issue::new(
            Severity::Information,
            IssueType::Informational,
            "SUBMIT-RESOURCE",
            "",
            format!("{t}/{id}"),
            format!("{t}/{id}"),
        ));
    }
    Ok(Submitted {
        label,
        outcome: fhir::json::to_string(&operation_outcome(&issues)),
        member_id: sub.member_id.normalized(),
        kind: sub.kind_code,
    })
}
