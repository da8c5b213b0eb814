//! Writing the hub's FHIR answers: Bundle heads and entries with their source, registration
//! and 未告知 extensions, `next` links, and DocumentReferences of stored documents.

use crate::ingest::patient_id;
use crate::Hub;
use clins::policy::Mark;
use fhir::json::write_str;
use store::{StoredDocument, StoredResource};

pub(crate) const EXT_SOURCE: &str =
    "https://clins-hub.org/fhir/StructureDefinition/source-institution";

pub(crate) const EXT_REGISTERED: &str = "https://clins-hub.org/fhir/StructureDefinition/registered";

pub(crate) const EXT_UNINFORMED: &str = "https://clins-hub.org/fhir/StructureDefinition/uninformed";

pub(crate) const EXT_DOC_STATUS: &str =
    "https://clins-hub.org/fhir/StructureDefinition/document-status";

pub(crate) const EXT_DESTINATION: &str =
    "https://clins-hub.org/fhir/StructureDefinition/referral-destination";

pub(crate) const INSTITUTION_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";

/// Clinical types a viewer can search.
pub(crate) const CLINICAL: &[&str] = &[
    "Condition",
    "AllergyIntolerance",
    "Observation",
    "MedicationRequest",
];

pub(crate) fn entry_extensions(out: &mut String, r: &StoredResource, mark: Mark) {
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

/// The Bundle entry of the hub's Patient resource.
pub(crate) fn write_patient_entry(
    out: &mut String,
    hub: &Hub,
    pk: i64,
    body: &[u8],
    mode: Option<&str>,
) {
    let url = format!("{}/Patient/{}", hub.base, patient_id(pk));
    write_stored_entry(out, &url, body, mode);
}

/// One Bundle entry of a stored resource body (a Patient, an Organization), as it is stored.
pub(crate) fn write_stored_entry(
    out: &mut String,
    full_url: &str,
    body: &[u8],
    mode: Option<&str>,
) {
    out.push_str("{\"fullUrl\":");
    write_str(out, full_url);
    out.push_str(",\"resource\":");
    out.push_str(&String::from_utf8_lossy(body));
    write_search_mode(out, mode);
    out.push('}');
}

pub(crate) fn write_search_mode(out: &mut String, mode: Option<&str>) {
    if let Some(m) = mode {
        out.push_str(",\"search\":{\"mode\":\"");
        out.push_str(m);
        out.push_str("\"}");
    }
}

/// One Bundle entry of a stored resource, with its source and registration extensions.
pub(crate) fn write_entry(
    out: &mut String,
    hub: &Hub,
    r: &StoredResource,
    mark: Mark,
    mode: Option<&str>,
) {
    out.push_str("{\"fullUrl\":");
    write_str(out, &format!("{}/{}/{}", hub.base, r.res_type, r.res_id));
    out.push(',');
    entry_extensions(out, r, mark);
    out.push_str("\"resource\":");
    out.push_str(&String::from_utf8_lossy(&r.body));
    write_search_mode(out, mode);
    out.push('}');
}

pub(crate) fn link_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", crate::percent_encode(k), crate::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The DocumentReference of a stored document; `carriers`: the referrals that carry it, as
/// `relatesTo` (`appends`).
pub(crate) fn document_reference(
    hub: &Hub,
    doc: &StoredDocument,
    carriers: &[StoredDocument],
) -> String {
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
