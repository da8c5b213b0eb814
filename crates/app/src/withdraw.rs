//! `$withdraw`: an institution deletes one of its 6情報 units or cancels one of its documents
//! (取消), or restores a cancelled document (取消UNDO, `undo`), named by Bundle-ID in a
//! Parameters resource.

use fhir::json::Value;
use fhir::outcome::{operation_outcome, Issue, IssueType, Severity};
use store::SubmitAction;

use crate::access::{self, Caller};
use crate::refusal::{Refusal, Why};
use crate::{ingest, submit, Hub};

/// The first parameter called `name` of a Parameters resource.
fn parameter<'a>(params: &'a Value, name: &str) -> Option<&'a Value> {
    params
        .get("parameter")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
}

/// Withdraws (or, with `undo`, restores) what `params` names; answers the OperationOutcome
/// JSON.
/// `audit`: the request's audit record, committed with the withdrawal (its patient and
/// Bundle-ID are filled in here).
pub fn withdraw(
    hub: &Hub,
    caller: &Caller,
    params: &Value,
    audit: Option<store::AuditRow>,
) -> Result<String, Refusal> {
    crate::access::scope(caller, "Bundle", clins::policy::Interaction::Delete)?;
    if params.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(Refusal::bad_request(
            "WITHDRAW-PARAMETERS",
            "",
            "send a Parameters resource with the parameter `identifier` (the Bundle-ID)",
            "Parameters リソースで identifier（Bundle-ID）を指定してください",
        ));
    }
    let bundle_id = parameter(params, "identifier")
        .and_then(|p| {
            p.get("valueString")
                .or_else(|| p.pointer("valueIdentifier.value"))
                .and_then(Value::as_str)
        })
        .map(str::to_string)
        .ok_or_else(|| {
            Refusal::bad_request(
                "WITHDRAW-IDENTIFIER",
                "Parameters.parameter",
                "the parameter `identifier` (valueString or valueIdentifier with the Bundle-ID) is missing",
                "パラメータ identifier（Bundle-ID）がありません",
            )
        })?;
    let id = clins::BundleId::parse(&bundle_id).map_err(|e| {
        Refusal::bad_request("CLINS-BUNDLE-ID-FORMAT", "Parameters.parameter", e.en, e.ja)
    })?;
    access::withdraw(caller, id.institution().as_str())?;
    let institution = id.institution().as_str();
    // `patient` (optional): the 被保険者個人識別子 the institution believes the unit is for; a
    // unit of another patient is not touched.
    if let Some(p) = parameter(params, "patient") {
        let text = p
            .pointer("valueIdentifier.value")
            .or_else(|| p.get("valueString"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let member = clins::InsuranceMemberId::parse(text).map_err(|e| {
            Refusal::bad_request("CLINS-MEMBER-ID", "Parameters.parameter", e.en, e.ja)
        })?;
        let stored = hub.store.unit_member(institution, &bundle_id)?;
        if stored.is_some_and(|m| m != member.normalized()) {
            return Err(Refusal::new(
                Why::Conflict,
                IssueType::Conflict,
                "WITHDRAW-OTHER-PATIENT",
                "Parameters.parameter",
                format!("Bundle-ID {bundle_id} is not a submission for the patient given in `patient`; nothing was withdrawn"),
                format!("Bundle-ID {bundle_id} は patient で指定された患者の提出物ではありません。取り消していません"),
            ));
        }
    }
    let undo = parameter(params, "undo")
        .and_then(|p| p.get("valueBoolean"))
        .and_then(Value::as_bool)
        == Some(true);
    if undo {
        return undo_cancel(hub, caller, institution, &bundle_id);
    }
    // The record names the patient whose unit it is.
    let member = match &audit {
        Some(_) => hub
            .store
            .unit_member(institution, &bundle_id)?
            .unwrap_or_default(),
        None => String::new(),
    };
    let st = crate::audit::writing(&hub.store, audit, |r| {
        r.member_id = member;
        r.detail = format!("bundle={bundle_id}");
    });
    match st.withdraw(institution, &bundle_id, &hub.clock.now(), &submit::locked()) {
        Ok(res) => {
            let (detail, en, ja) = if res.action == SubmitAction::Deleted {
                ("WITHDRAWN", "withdrawn", "を取り消しました")
            } else {
                (
                    "ALREADY-WITHDRAWN",
                    "was already withdrawn",
                    "は既に取り消されています",
                )
            };
            let issue = Issue::new(
                Severity::Information,
                IssueType::Informational,
                detail,
                "",
                format!("Bundle-ID {bundle_id} {en}"),
                format!("Bundle-ID {bundle_id} {ja}"),
            );
            Ok(fhir::json::to_string(&operation_outcome(&[issue])))
        }
        Err(store::StoreError::NotFound) => {
            Err(Refusal::not_found(&format!("Bundle-ID {bundle_id}")))
        }
        Err(store::StoreError::State(s)) => Err(Refusal::new(
            Why::Conflict,
            IssueType::Conflict,
            "WITHDRAW-STATE",
            "",
            format!("the document is {s} and can no longer be cancelled"),
            format!("この文書は状態「{s}」のため取り消せません"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// 取消UNDO: re-registers a cancelled document from its stored Bundle, with the status it had
/// before the cancel.
fn undo_cancel(
    hub: &Hub,
    caller: &Caller,
    institution: &str,
    bundle_id: &str,
) -> Result<String, Refusal> {
    let doc_id = ingest::document_id(institution, bundle_id);
    let (doc, bundle) = hub
        .store
        .document(&doc_id)?
        .ok_or_else(|| Refusal::not_found(&format!("the document with Bundle-ID {bundle_id}")))?;
    let prev = match (doc.status.as_str(), doc.prev_status.as_deref()) {
        ("cancelled", Some(p)) if !bundle.is_empty() => p.to_string(),
        (s, _) => {
            return Err(Refusal::new(
                Why::Conflict,
                IssueType::Conflict,
                "UNDO-STATE",
                "",
                format!("only a cancelled document can be restored; this one is {s}"),
                format!("取り消された文書のみ取消UNDOできます（現在の状態: {s}）"),
            ))
        }
    };
    Ok(submit::submit(hub, Some(caller), &bundle, Some(&prev))?.outcome)
}
