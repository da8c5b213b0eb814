//! From a validated submission Bundle to what the store keeps: the patient's master-index key,
//! the unit key (institution, Bundle-ID), the resources to index with their server ids, and
//! for documents the index row. Pure: no I/O, no clock.

use std::collections::HashMap;

use clins::kind::{detect, is_patient_only, SubmissionKind};
use clins::policy::{flag_bits, item_of, Item};
use clins::{BundleId, InsuranceMemberId};
use conformance::{IndexValue, SearchIndexer};
use fhir::json::Value;
use fhir::outcome::{Issue, IssueType};
use sha2::{Digest, Sha256};

use crate::dates::utc_range;

pub const MEMBER_ID_SYSTEM: &str = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID";
const RESOURCE_ID_SYSTEM: &str = "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier";
const INSTITUTION_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";

/// A resource of the submission, before the patient key and version are known.
pub struct Prepared {
    pub res_type: String,
    /// Stable within (institution, Bundle-ID): the same resource re-sent gets the same id.
    pub local_id: String,
    pub item: Item,
    pub code_key: String,
    pub effective: String,
    pub flags: i64,
    pub tokens: Vec<(String, String, String)>,
    pub dates: Vec<(String, String, String)>,
    pub value: Value,
}

/// A submission ready for the store.
pub struct Submission {
    pub kind: SubmissionKind,
    pub kind_code: &'static str,
    pub bundle_id: String,
    pub institution: String,
    pub member_id: InsuranceMemberId,
    pub patient_full_url: String,
    pub patient: Value,
    /// The submitting institution's Organization entry (the one with its 医療機関番号), as
    /// (fullUrl, resource): stored as `Organization/o<number>`, and references to it are
    /// rewritten to that.
    pub organization: Option<(String, Value)>,
    pub delete_only: bool,
    pub resources: Vec<Prepared>,
    pub content_hash: String,
    /// Documents: (doc id, Composition.type code, destination institution, date, consent given).
    pub document: Option<DocumentInfo>,
}

pub struct DocumentInfo {
    pub doc_id: String,
    pub doc_type: String,
    pub destination: Option<String>,
    pub date: String,
    pub consent: bool,
    /// Bundle-IDs of this institution's documents the referral carries (添付情報).
    pub attachments: Vec<String>,
}

/// Hex SHA-256 of the bytes (the idempotency key of a submission).
pub fn content_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize()[..8])
}

/// The document id under which a document is served (`Bundle/{id}`, `DocumentReference/{id}`).
pub fn document_id(institution: &str, bundle_id: &str) -> String {
    format!("d{}", short_hash(&["doc", institution, bundle_id]))
}

fn issue(detail: &'static str, expr: &str, en: String, ja: String) -> Issue {
    Issue::error(IssueType::Invalid, detail, expr, en, ja)
}

/// The search parameters the hub indexes, per type: (our name, R4 SearchParameter code).
pub fn indexed_params(res_type: &str) -> &'static [(&'static str, &'static str)] {
    match res_type {
        "Condition" => &[
            ("code", "code"),
            ("category", "category"),
            ("clinical-status", "clinical-status"),
            ("date", "onset-date"),
        ],
        "AllergyIntolerance" => &[
            ("code", "code"),
            ("category", "category"),
            ("clinical-status", "clinical-status"),
            ("criticality", "criticality"),
            ("date", "date"),
        ],
        "Observation" => &[
            ("code", "code"),
            ("category", "category"),
            ("status", "status"),
            ("date", "date"),
        ],
        "MedicationRequest" => &[
            ("code", "code"),
            ("status", "status"),
            ("intent", "intent"),
            ("date", "authoredon"),
        ],
        _ => &[],
    }
}

/// Prepares a Bundle the validator accepted. `caller` is the submitting institution. The
/// resources to store are moved out of the Bundle, not copied.
pub fn prepare(
    owned: Value,
    raw: &[u8],
    caller: Option<&str>,
    indexer: &SearchIndexer,
) -> Result<Submission, Vec<Issue>> {
    let bundle = &owned;
    let kind = detect(bundle);
    let kind_code = match kind {
        SubmissionKind::Clins6 { item: Some(i) } => i.resource_type(),
        SubmissionKind::EReferral => "eReferral",
        SubmissionKind::EDischargeSummary => "eDischargeSummary",
        SubmissionKind::EPcs => "ePCS",
        SubmissionKind::ECheckup => "eCheckup",
        _ => {
            return Err(vec![issue(
                "SUBMIT-KIND",
                "Bundle",
                "this Bundle is not a submission the hub accepts: send a JP_Bundle_CLINS 6情報 unit or an eReferral, eDischargeSummary, ePCS or CLINS eCheckupGeneral document".into(),
                "このBundleは受け付けられる提出物ではありません。6情報（JP_Bundle_CLINS）または診療情報提供書・退院時サマリー・患者サマリー・健診結果報告書（CLINS）を送信してください".into(),
            )])
        }
    };
    let bundle_id_text = bundle
        .pointer("identifier.value")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let bundle_id = BundleId::parse(bundle_id_text).map_err(|e| {
        vec![issue(
            "CLINS-BUNDLE-ID-FORMAT",
            "Bundle.identifier.value",
            e.en.clone(),
            e.ja.clone(),
        )]
    })?;
    let institution = bundle_id.institution().as_str().to_string();
    let bundle_id = bundle_id_text;
    if let Some(caller) = caller.filter(|c| *c != institution) {
        return Err(vec![Issue::error(
            IssueType::Forbidden,
            "SUBMIT-OTHER-INSTITUTION",
            "Bundle.identifier.value",
            format!("the Bundle-ID names institution {institution}, but you are authenticated as {caller}: an institution submits only its own data"),
            format!("Bundle-IDの医療機関番号は{institution}ですが、認証された医療機関は{caller}です。自施設のデータのみ登録できます"),
        )]);
    }
    let entries = bundle.get("entry").map(Value::items).unwrap_or_default();
    // The patient: the Patient entry (first in 6情報 units; the Composition's subject in
    // documents, which is also a Patient entry).
    let Some((patient_index, patient_entry)) = entries.iter().enumerate().find(|(_, e)| {
        e.pointer("resource.resourceType").and_then(Value::as_str) == Some("Patient")
    }) else {
        return Err(vec![issue(
            "SUBMIT-NO-PATIENT",
            "Bundle.entry",
            "the Bundle has no Patient entry".into(),
            "BundleにPatientリソースがありません".into(),
        )]);
    };
    let patient = patient_entry.get("resource").unwrap_or(&Value::Null);
    let patient_full_url = patient_entry
        .get("fullUrl")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let member_text = patient
        .get("identifier")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(MEMBER_ID_SYSTEM))
        .and_then(|i| i.get("value"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let expr = format!("Bundle.entry[{patient_index}].resource.identifier");
    let member_id = InsuranceMemberId::parse(member_text)
        .map_err(|e| vec![issue("CLINS-MEMBER-ID", &expr, e.en.clone(), e.ja.clone())])?;

    let document = kind.is_document().then(|| {
        let comp = entries
            .first()
            .and_then(|e| e.get("resource"))
            .unwrap_or(&Value::Null);
        let doc_type = comp
            .pointer("type.coding")
            .map(Value::items)
            .unwrap_or_default()
            .first()
            .and_then(|c| c.get("code"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let date = comp
            .get("date")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let destination = (kind == SubmissionKind::EReferral)
            .then(|| referral_destination(comp, entries))
            .flatten();
        let consent = entries
            .iter()
            .any(|e| e.pointer("resource.resourceType").and_then(Value::as_str) == Some("Consent"));
        let attachments = if kind == SubmissionKind::EReferral {
            attached_documents(comp, entries, &institution, bundle_id)
        } else {
            Vec::new()
        };
        DocumentInfo {
            doc_id: document_id(&institution, bundle_id),
            doc_type,
            destination,
            date,
            consent,
            attachments,
        }
    });

    // Resources to index: the 6情報 entries of a unit; the prescriptions of referrals and
    // discharge summaries (処方 is shared only from those documents).
    let mut resources = Vec::new();
    let mut positions = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if i == patient_index {
            continue;
        }
        let Some(r) = e.get("resource") else { continue };
        let rt = r
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let wanted = match kind {
            SubmissionKind::Clins6 { .. } => {
                matches!(rt, "Condition" | "AllergyIntolerance" | "Observation")
            }
            SubmissionKind::EReferral | SubmissionKind::EDischargeSummary => {
                rt == "MedicationRequest"
            }
            _ => false,
        };
        if !wanted {
            continue;
        }
        // The business identifier keeps a resource's id across re-sends; without one, its
        // position in the Bundle.
        let business = r
            .get("identifier")
            .map(Value::items)
            .unwrap_or_default()
            .iter()
            .find(|i| i.get("system").and_then(Value::as_str) == Some(RESOURCE_ID_SYSTEM))
            .and_then(|i| i.get("value"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{i}"));
        let n = seen.entry(format!("{rt}|{business}")).or_insert(0);
        *n += 1;
        let local_id = short_hash(&[&institution, bundle_id, rt, &business, &n.to_string()]);
        resources.push(prepare_resource(r, rt, local_id, indexer));
        positions.push(i);
    }
    let delete_only = matches!(kind, SubmissionKind::Clins6 { .. }) && is_patient_only(bundle);
    let bundle_id = bundle_id.to_string();
    let own_org = entries.iter().position(|e| {
        let r = e.get("resource").unwrap_or(&Value::Null);
        r.get("resourceType").and_then(Value::as_str) == Some("Organization")
            && r.get("identifier")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .any(|i| {
                    i.get("system").and_then(Value::as_str) == Some(INSTITUTION_SYSTEM)
                        && i.get("value").and_then(Value::as_str) == Some(institution.as_str())
                })
    });
    let org_url = own_org.and_then(|i| {
        entries[i]
            .get("fullUrl")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    // The Bundle is not needed any more: its Patient and resources move to the submission.
    let mut entries = match owned {
        Value::Object(mut o) => match o.remove("entry") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let mut take = |i: usize| {
        entries
            .get_mut(i)
            .and_then(|e| e.as_object_mut())
            .and_then(|e| e.remove("resource"))
            .unwrap_or(Value::Null)
    };
    let patient = take(patient_index);
    for (p, i) in resources.iter_mut().zip(positions) {
        p.value = take(i);
    }
    let organization = match (own_org, org_url) {
        (Some(i), Some(url)) => Some((url, take(i))),
        _ => None,
    };
    Ok(Submission {
        kind,
        kind_code,
        bundle_id,
        institution,
        member_id,
        patient_full_url,
        patient,
        organization,
        delete_only,
        resources,
        content_hash: content_hash(raw),
        document,
    })
}

/// The documents a referral carries: the DocumentReferences of its 添付情報 section (code 210,
/// at any depth) whose `masterIdentifier` is the Bundle-ID of another document of the same
/// institution (a 退院時サマリー sent beside it). Attachments carried inline (a PDF) have none.
fn attached_documents(
    comp: &Value,
    entries: &[Value],
    institution: &str,
    own_bundle_id: &str,
) -> Vec<String> {
    fn sections<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        for s in v.get("section").map(Value::items).unwrap_or_default() {
            let attachment = s
                .pointer("code.coding")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .any(|c| c.get("code").and_then(Value::as_str) == Some("210"));
            if attachment {
                out.push(s);
            }
            sections(s, out);
        }
    }
    let mut found = Vec::new();
    sections(comp, &mut found);
    let mut out = Vec::new();
    for s in found {
        for r in s.get("entry").map(Value::items).unwrap_or_default() {
            let Some(target) = r.get("reference").and_then(Value::as_str) else {
                continue;
            };
            let Some(doc) = entries
                .iter()
                .find(|e| e.get("fullUrl").and_then(Value::as_str) == Some(target))
                .and_then(|e| e.get("resource"))
                .filter(|d| {
                    d.get("resourceType").and_then(Value::as_str) == Some("DocumentReference")
                })
            else {
                continue;
            };
            let Some(id) = doc
                .pointer("masterIdentifier.value")
                .and_then(Value::as_str)
            else {
                continue;
            };
            let same_institution =
                BundleId::parse(id).is_ok_and(|b| b.institution().as_str() == institution);
            if same_institution && id != own_bundle_id && !out.iter().any(|o| o == id) {
                out.push(id.to_string());
            }
        }
    }
    out
}

/// The addressee of a referral: the Organization of section 910 (紹介先情報), by its
/// 医療機関番号 identifier.
fn referral_destination(comp: &Value, entries: &[Value]) -> Option<String> {
    let section = comp
        .get("section")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .find(|s| {
            s.pointer("code.coding")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .any(|c| c.get("code").and_then(Value::as_str) == Some("910"))
        })?;
    for r in section.get("entry").map(Value::items).unwrap_or_default() {
        let Some(target) = r.get("reference").and_then(Value::as_str) else {
            continue;
        };
        let Some(org) = entries
            .iter()
            .find(|e| e.get("fullUrl").and_then(Value::as_str) == Some(target))
            .and_then(|e| e.get("resource"))
        else {
            continue;
        };
        if org.get("resourceType").and_then(Value::as_str) != Some("Organization") {
            continue;
        }
        let number = org
            .get("identifier")
            .map(Value::items)
            .unwrap_or_default()
            .iter()
            .find(|i| i.get("system").and_then(Value::as_str) == Some(INSTITUTION_SYSTEM))
            .and_then(|i| i.get("value"))
            .and_then(Value::as_str);
        if let Some(n) = number {
            return Some(n.to_string());
        }
    }
    None
}

fn prepare_resource(r: &Value, rt: &str, local_id: String, indexer: &SearchIndexer) -> Prepared {
    let item = item_of(r);
    let flags = flag_bits(r);
    let params = indexed_params(rt);
    let codes: Vec<&str> = params.iter().map(|p| p.1).collect();
    let (values, _failed) = indexer.extract_only(r, Some(&codes));
    let mut tokens = Vec::new();
    let mut dates = Vec::new();
    for (p, v) in values {
        let Some((ours, _)) = params.iter().find(|(_, code)| **code == *p.code) else {
            continue;
        };
        match v {
            IndexValue::Token { system, code } => {
                tokens.push((ours.to_string(), system.unwrap_or_default(), code))
            }
            IndexValue::Date { low, high } => {
                let lo = low.as_deref().and_then(|l| utc_range(l).map(|r| r.0));
                let hi = high.as_deref().and_then(|h| utc_range(h).map(|r| r.1));
                if lo.is_some() || hi.is_some() {
                    dates.push((
                        ours.to_string(),
                        lo.unwrap_or_else(|| "0000".into()),
                        hi.unwrap_or_else(|| "9999".into()),
                    ));
                }
            }
            _ => {}
        }
    }
    let code_key = r
        .pointer("code.coding")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .rev()
        .find_map(|c| {
            Some(format!(
                "{}|{}",
                c.get("system").and_then(Value::as_str)?,
                c.get("code").and_then(Value::as_str)?
            ))
        })
        .or_else(|| {
            r.pointer("medicationCodeableConcept.coding")
                .map(Value::items)
                .unwrap_or_default()
                .first()
                .and_then(|c| c.get("code"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let effective = dates
        .iter()
        .find(|d| d.0 == "date")
        .map(|d| d.1.clone())
        .unwrap_or_default();
    Prepared {
        res_type: rt.to_string(),
        local_id,
        item,
        code_key,
        effective,
        flags,
        tokens,
        dates,
        value: Value::Null,
    }
}

/// The installation's key for ids (from the store's secret, [`set_id_key`]).
static ID_KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();

/// Sets the key that turns patient keys into ids, from the store's secret (once per process;
/// every entry point opens one store).
pub fn set_id_key(secret: &str) {
    let _ = ID_KEY.set(Sha256::digest(secret.as_bytes()).into());
}

fn round(r: u8, half: u32) -> u32 {
    let key = ID_KEY.get().copied().unwrap_or([0; 32]);
    let mut h = Sha256::new();
    h.update(key);
    h.update([r]);
    h.update(half.to_le_bytes());
    let d = h.finalize();
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

/// A keyed permutation of 64-bit numbers (a four-round Feistel network with SHA-256 rounds):
/// the id of a patient reveals neither how many patients there are nor in which order they
/// came, and turns back into the key without a lookup.
fn permute(v: u64) -> u64 {
    let (mut l, mut r) = ((v >> 32) as u32, v as u32);
    for k in 0..4 {
        (l, r) = (r, l ^ round(k, r));
    }
    (u64::from(l) << 32) | u64::from(r)
}

fn unpermute(v: u64) -> u64 {
    let (mut l, mut r) = ((v >> 32) as u32, v as u32);
    for k in (0..4).rev() {
        (l, r) = (r ^ round(k, l), l);
    }
    (u64::from(l) << 32) | u64::from(r)
}

/// The patient part of ids: 16 hex digits (compute it once per patient and rendering: it
/// costs four SHA-256 rounds).
pub fn patient_token(patient_key: i64) -> String {
    let mut out = String::with_capacity(16);
    let v = permute(patient_key as u64);
    for i in (0..16).rev() {
        out.push(char::from(
            b"0123456789abcdef"[((v >> (i * 4)) & 0xf) as usize],
        ));
    }
    out
}

/// The server id of a resource: the patient's token (the distribution key, recoverable so a
/// read by id can be routed to its shard) and the stable local id.
pub fn resource_id(patient_key: i64, local_id: &str) -> String {
    token_resource_id(&patient_token(patient_key), local_id)
}

/// [`resource_id`] from the patient's token.
pub fn token_resource_id(token: &str, local_id: &str) -> String {
    format!("{token}-{local_id}")
}

pub fn patient_id(patient_key: i64) -> String {
    format!("p{}", patient_token(patient_key))
}

/// The patient key of a hub Patient id (`None`: not one of the hub's ids).
pub fn patient_key_of(id: &str) -> Option<i64> {
    let hex = id.strip_prefix('p').filter(|h| h.len() == 16)?;
    let v = u64::from_str_radix(hex, 16).ok()?;
    let k = unpermute(v);
    // Keys are small positive numbers; anything else was not made by this hub.
    (1..1 << 48).contains(&k).then_some(k as i64)
}

/// The server id of an institution's Organization: `o` and its 医療機関番号.
pub fn organization_id(institution: &str) -> String {
    format!("o{institution}")
}

/// The stored form of a resource: its server id after `resourceType`, `meta.versionId` first
/// in meta (when `version` is given), and references to Bundle entries the hub stores (the
/// Patient, the institution's Organization) rewritten as `refs` says: (fullUrl, reference).
/// Written straight from the submitted tree, which is not copied.
pub fn render(value: &Value, id: &str, version: Option<i64>, refs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    let Value::Object(o) = value else {
        write_value(&mut out, value, refs);
        return out.into_bytes();
    };
    out.push('{');
    let mut first = true;
    let mut key = |out: &mut String, k: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        fhir::json::write_str(out, k);
        out.push(':');
    };
    for (k, v) in o.iter() {
        match (k, v, version) {
            ("id", _, _) => {}
            ("meta", Value::Object(m), Some(version)) => {
                key(&mut out, k);
                out.push_str("{\"versionId\":");
                fhir::json::write_str(&mut out, &version.to_string());
                for (mk, mv) in m.iter().filter(|(mk, _)| *mk != "versionId") {
                    out.push(',');
                    fhir::json::write_str(&mut out, mk);
                    out.push(':');
                    write_value(&mut out, mv, refs);
                }
                out.push('}');
            }
            _ => {
                key(&mut out, k);
                write_value(&mut out, v, refs);
                if k == "resourceType" {
                    key(&mut out, "id");
                    fhir::json::write_str(&mut out, id);
                }
            }
        }
    }
    out.push('}');
    out.into_bytes()
}

/// Compact JSON of `v` with `reference` values equal to a `refs.0` written as its `refs.1`.
fn write_value(out: &mut String, v: &Value, refs: &[(&str, &str)]) {
    fhir::json::write_value_with(out, v, &|key, value| {
        (key == "reference")
            .then(|| {
                refs.iter()
                    .find(|(from, _)| *from == value)
                    .map(|(_, to)| *to)
            })
            .flatten()
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn patient_ids_are_opaque_and_reversible() {
        let ids: Vec<String> = (1..=1000).map(super::patient_id).collect();
        for (k, id) in ids.iter().enumerate() {
            assert_eq!(super::patient_key_of(id), Some(k as i64 + 1), "{id}");
            assert_eq!(id.len(), 17);
        }
        // Neither the count nor the order shows: consecutive keys give unrelated ids.
        let sorted = {
            let mut s = ids.clone();
            s.sort();
            s
        };
        assert_ne!(sorted, ids);
        assert!(
            !ids.iter().any(|i| i.contains("0000000000")),
            "{:?}",
            &ids[..3]
        );
        for bad in ["p1", "pzzzzzzzzzzzzzzzz", "p", "", "1", "pffffffffffffffff"] {
            assert_eq!(super::patient_key_of(bad), None, "{bad}");
        }
        assert!(super::resource_id(7, "abc").starts_with(&super::patient_id(7)[1..]));
    }

    use super::*;

    #[test]
    fn render_sets_id_and_version_and_rewrites_the_patient_reference() {
        let v = fhir::json::parse(
            r#"{"resourceType":"Condition","id":"local","meta":{"versionId":"9","profile":["p"]},"subject":{"reference":"urn:uuid:pat"},"note":[{"text":"urn:uuid:pat"}],"evidence":[{"detail":[{"reference":"urn:uuid:other"},{"reference":"urn:uuid:pat"}]}],"onsetAge":{"value":1.50,"unit":"a"},"x":[true,null]}"#,
        )
        .unwrap();
        let out = render(
            &v,
            "12-abc",
            Some(3),
            &[
                ("urn:uuid:org", "Organization/o1"),
                ("urn:uuid:pat", "Patient/p12"),
            ],
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"resourceType":"Condition","id":"12-abc","meta":{"versionId":"3","profile":["p"]},"subject":{"reference":"Patient/p12"},"note":[{"text":"urn:uuid:pat"}],"evidence":[{"detail":[{"reference":"urn:uuid:other"},{"reference":"Patient/p12"}]}],"onsetAge":{"value":1.50,"unit":"a"},"x":[true,null]}"#
        );
        // Without a version the meta is kept as it is.
        let out = render(&v, "p12", None, &[]);
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with(r#"{"resourceType":"Condition","id":"p12","meta":{"versionId":"9","profile":["p"]},"subject":{"reference":"urn:uuid:pat"}"#));
    }
}
