//! Reads: `Patient/$summary`, searches, read, vread and history, the Patient, and documents
//! (DocumentReference, the stored Bundle). Each takes the caller and a typed request and
//! returns what the caller may see; the HTTP edge parses the request and writes the Bundle.
//! Every decision is `access`'s.

use std::collections::HashMap;

use clins::policy::{Action, Basis, Decision, DocKind, Interaction, Item, Mark};
use store::{PatientSel, Query, StoredDocument, StoredResource};

use crate::access::{self, Caller, PatientView};
use crate::ingest::organization_id;
use crate::refusal::{Refusal, Why};
use crate::Hub;

/// A stored patient: its key and current Patient resource.
pub type StoredPatient = (i64, Vec<u8>);

/// How a request names its patient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatientRef {
    /// By the normalised 被保険者個人識別子 (`identifier=system|value`).
    Member(String),
    /// By the hub's Patient id (`patient=Patient/<id>`), as its key.
    Key(i64),
}

/// A patient opened for the caller: its view, the stored Patient (`None`: not stored) and,
/// when asked for, its current resources (before any decision on them).
pub struct Opened {
    pub view: PatientView,
    pub patient: Option<StoredPatient>,
    pub resources: Vec<StoredResource>,
}

/// Opens the patient of a request for the caller (the gate of `access`) and finds it, with
/// its current resources when `resources`. The facts come in one statement
/// (`Store::patient_facts`). A patient named by id that the caller may not see is 404, as
/// one that does not exist (a failed emergency claim stays a 403).
pub fn open(
    hub: &Hub,
    caller: &Caller,
    pref: &PatientRef,
    request: &str,
    resources: bool,
) -> Result<Opened, Refusal> {
    let now = hub.clock.now();
    let holder = access::consent_holder(caller);
    let sel = match pref {
        PatientRef::Member(m) => PatientSel::Member(m),
        PatientRef::Key(k) => PatientSel::Key(*k),
    };
    let facts = hub.store.patient_facts(sel, holder, resources)?;
    let patient = facts.patient;
    let view = match pref {
        PatientRef::Member(m) => {
            access::open_patient_with(&hub.store, caller, m, &facts.consents, &now, request)?
        }
        PatientRef::Key(_) => {
            let (_, member, _) = patient
                .as_ref()
                .ok_or_else(|| Refusal::not_found("the patient"))?;
            access::open_patient_with(&hub.store, caller, member, &facts.consents, &now, request)
                .map_err(|e| {
                    let emergency = e.issues.iter().any(|i| i.detail.starts_with("EMERGENCY"));
                    match e.why {
                        Why::Forbidden | Why::NotFound if !emergency => {
                            Refusal::not_found("the patient")
                        }
                        _ => e,
                    }
                })?
        }
    };
    Ok(Opened {
        view,
        patient: patient.map(|(k, _, body)| (k, body)),
        resources: facts.resources,
    })
}

/// What the caller may see of the patient's current `resources`.
fn shown(
    hub: &Hub,
    caller: &Caller,
    view: &PatientView,
    resources: Vec<StoredResource>,
) -> Result<Vec<(StoredResource, Mark)>, Refusal> {
    let released = access::released(&hub.store, &resources)?;
    Ok(access::viewable(
        caller,
        view,
        resources,
        &released,
        hub.clock.today(),
    ))
}

/// `Patient/$summary`: the Patient and the entries the caller may see, grouped by item and
/// code, newest first (DECISIONS.md "Merging").
pub struct Summary {
    /// The patient's normalised member id.
    pub member_id: String,
    /// Why the caller sees the patient.
    pub basis: Option<Basis>,
    pub patient: StoredPatient,
    pub entries: Vec<(StoredResource, Mark)>,
    /// The caller's context for the patient, as the read decided it.
    pub context: clins::policy::Context,
}

pub fn summary(hub: &Hub, caller: &Caller, pref: &PatientRef) -> Result<Summary, Refusal> {
    access::scope(caller, "Patient", Interaction::Read)?;
    let opened = open(hub, caller, pref, "GET Patient/$summary", true)?;
    let (pk, body) = opened
        .patient
        .ok_or_else(|| Refusal::not_found("the patient"))?;
    let mut entries = shown(hub, caller, &opened.view, opened.resources)?;
    entries.retain(|(r, _)| access::scoped(caller, &r.res_type));
    let order = |r: &StoredResource| {
        let item = Item::from_code(&r.item);
        Item::SHARED.iter().position(|x| *x == item).unwrap_or(99)
    };
    entries.sort_by(|a, b| {
        order(&a.0)
            .cmp(&order(&b.0))
            .then_with(|| a.0.code_key.cmp(&b.0.code_key))
            .then_with(|| b.0.registered_at.cmp(&a.0.registered_at))
            .then_with(|| a.0.res_id.cmp(&b.0.res_id))
    });
    Ok(Summary {
        member_id: opened.view.member_id.clone(),
        basis: opened.view.basis,
        patient: (pk, body),
        entries,
        context: opened.view.context,
    })
}

/// One page of a search.
#[derive(Default)]
pub struct Found {
    /// The patient's normalised member id and why the caller sees it.
    pub member_id: String,
    pub basis: Option<Basis>,
    /// The patient (for `_include`); `None` when it is not stored.
    pub patient: Option<StoredPatient>,
    pub entries: Vec<(StoredResource, Mark)>,
    /// The keyset cursor of the next page.
    pub cursor: Option<String>,
    /// With `organizations`: the stored Organizations of the entries' source institutions.
    pub organizations: Vec<(String, Vec<u8>)>,
}

/// A search of one patient's resources of one type (`query` without its patient key).
pub fn search(
    hub: &Hub,
    caller: &Caller,
    pref: &PatientRef,
    mut query: Query,
    organizations: bool,
) -> Result<Found, Refusal> {
    access::scope(caller, &query.res_type, Interaction::Search)?;
    let organizations = organizations && access::scoped(caller, "Organization");
    let opened = open(hub, caller, pref, &format!("GET {}", query.res_type), true)?;
    let Some((pk, body)) = opened.patient else {
        return Ok(Found::default());
    };
    query.patient_key = pk;
    let allowed: HashMap<String, Mark> = shown(hub, caller, &opened.view, opened.resources)?
        .into_iter()
        .map(|(r, m)| (r.res_id, m))
        .collect();
    let limit = query.limit;
    query.limit = limit + 1;
    let mut rows = hub.store.search(&query)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let cursor = more
        .then(|| {
            rows.last()
                .map(|r| format!("{}~{}", r.registered_at, r.res_id))
        })
        .flatten();
    let entries: Vec<(StoredResource, Mark)> = rows
        .into_iter()
        .filter_map(|r| allowed.get(&r.res_id).map(|m| (r, *m)))
        .collect();
    let organizations = if organizations {
        let mut ids: Vec<String> = entries
            .iter()
            .map(|(r, _)| organization_id(&r.institution))
            .collect();
        ids.sort();
        ids.dedup();
        hub.store.organizations(&ids)?
    } else {
        Vec::new()
    };
    Ok(Found {
        member_id: opened.view.member_id.clone(),
        basis: opened.view.basis,
        patient: Some((pk, body)),
        entries,
        cursor,
        organizations,
    })
}

/// `GET /fhir/Patient/{id}`.
pub fn patient(hub: &Hub, caller: &Caller, patient_key: i64) -> Result<Vec<u8>, Refusal> {
    access::scope(caller, "Patient", Interaction::Read)?;
    let opened = open(
        hub,
        caller,
        &PatientRef::Key(patient_key),
        "GET Patient",
        false,
    )?;
    Ok(opened
        .patient
        .ok_or_else(|| Refusal::not_found("the patient"))?
        .1)
}

/// The versions of a resource the caller may see (newest first); empty when it may not see
/// the resource at all, so that hidden entries are indistinguishable from absent ones.
pub fn versions(
    hub: &Hub,
    caller: &Caller,
    rtype: &str,
    id: &str,
) -> Result<Vec<StoredResource>, Refusal> {
    access::scope(caller, rtype, Interaction::Read)?;
    let versions = hub.store.history(rtype, id)?;
    let Some(first) = versions.first() else {
        return Ok(Vec::new());
    };
    let Some((member, _)) = hub.store.patient(first.patient_key)? else {
        return Ok(Vec::new());
    };
    let view = access::view(
        &hub.store,
        caller,
        &member,
        &hub.clock.now(),
        &format!("GET {rtype}"),
    )?;
    if first.deleted {
        // A withdrawn resource: its earlier content stays visible only to its submitter; others
        // learn that it was deleted only if they could see it before.
        if caller.institution() == Some(first.institution.as_str()) {
            return Ok(versions);
        }
        let last = versions.iter().find(|v| !v.deleted);
        let released = access::released(
            &hub.store,
            last.map(std::slice::from_ref).unwrap_or_default(),
        )?;
        let seen = last.is_some_and(|v| access::resource(caller, &view, v, &released).permitted());
        return Ok(if seen {
            vec![first.clone()]
        } else {
            Vec::new()
        });
    }
    let current = shown(
        hub,
        caller,
        &view,
        hub.store.current_resources(first.patient_key)?,
    )?;
    if current.iter().any(|(r, _)| r.res_id == id) {
        Ok(versions)
    } else {
        Ok(Vec::new())
    }
}

// ------------------------------------------------------------------------------- documents

/// For a 退院時サマリー, the referrals that carry it that the caller may know of; empty for
/// other documents.
pub fn carriers(
    hub: &Hub,
    caller: &Caller,
    doc: &StoredDocument,
) -> Result<Vec<StoredDocument>, Refusal> {
    if DocKind::from_code(&doc.kind) != Some(DocKind::DischargeSummary) {
        return Ok(Vec::new());
    }
    let all = hub
        .store
        .carriers(doc.patient_key, &doc.institution, &doc.bundle_id)?;
    Ok(access::visible_carriers(caller, doc, all))
}

/// A stored document and the referrals that carry it, as the caller may know them.
pub type DocumentEntry = (StoredDocument, Vec<StoredDocument>);

/// `GET /fhir/DocumentReference/{id}`: the index entry of a document.
pub fn document(hub: &Hub, caller: &Caller, id: &str) -> Result<DocumentEntry, Refusal> {
    access::scope(caller, "DocumentReference", Interaction::Read)?;
    let what = format!("DocumentReference/{id}");
    let (doc, _) = hub
        .store
        .document(id)?
        .ok_or_else(|| Refusal::not_found(&what))?;
    let carriers = carriers(hub, caller, &doc)?;
    let ctx = access::document_context(&hub.store, caller, &doc, &hub.clock.now())?;
    match access::document(
        caller,
        &doc,
        &carriers,
        Action::Read,
        ctx,
        hub.clock.today(),
    ) {
        Decision::Permit(..) => Ok((doc, carriers)),
        Decision::Deny(d) => Err(Refusal::denied(d, &what)),
    }
}

/// `GET /fhir/Bundle/{id}`: a stored document exactly as submitted. The addressee's first
/// retrieval of a referral marks it 取得済.
pub fn retrieve(hub: &Hub, caller: &Caller, id: &str) -> Result<Vec<u8>, Refusal> {
    retrieve_document(hub, caller, id).map(|(_, bundle)| bundle)
}

/// [`retrieve`], with the document's index entry (the pages show who wrote it, when, and its
/// state).
pub fn retrieve_document(
    hub: &Hub,
    caller: &Caller,
    id: &str,
) -> Result<(StoredDocument, Vec<u8>), Refusal> {
    access::scope(caller, "Bundle", Interaction::Read)?;
    let what = format!("Bundle/{id}");
    let (doc, bundle) = hub
        .store
        .document(id)?
        .ok_or_else(|| Refusal::not_found(&what))?;
    let carriers = carriers(hub, caller, &doc)?;
    let ctx = access::document_context(&hub.store, caller, &doc, &hub.clock.now())?;
    let basis = match access::document(
        caller,
        &doc,
        &carriers,
        Action::Retrieve,
        ctx,
        hub.clock.today(),
    ) {
        Decision::Permit(b, _) => b,
        Decision::Deny(d) => return Err(Refusal::denied(d, &what)),
    };
    if bundle.is_empty() {
        return Err(Refusal::gone(&what));
    }
    if basis == Basis::Addressee
        && DocKind::from_code(&doc.kind) == Some(DocKind::Referral)
        && doc.status == "current"
    {
        // A concurrent first retrieval may have marked it already: that is fine.
        match hub
            .store
            .set_document_status(id, &["current"], "retrieved", &hub.clock.now())
        {
            Ok(_) | Err(store::StoreError::State(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok((doc, bundle))
}

/// A listing of documents (`GET /fhir/DocumentReference`).
#[derive(Clone, Debug, Default)]
pub struct DocumentQuery {
    /// The patient; `None`: the caller's own documents (a patient), its insured's 健診 (an
    /// insurer), or the referrals addressed to it (`destination`).
    pub patient: Option<PatientRef>,
    /// Referrals addressed to this institution (the caller's own number only).
    pub destination: Option<String>,
    pub doc_type: Option<String>,
    /// `None`: every live document; `Some(None)`: likewise, asked for; `Some(Some(s))`: the
    /// documents in stored status `s`, gone ones included.
    pub status: Option<Option<String>>,
    pub limit: i64,
}

pub fn documents(
    hub: &Hub,
    caller: &Caller,
    q: &DocumentQuery,
) -> Result<Vec<DocumentEntry>, Refusal> {
    access::scope(caller, "DocumentReference", Interaction::Search)?;
    let now = hub.clock.now();
    // The patient (when named) and the caller's context for it.
    let (pk, ctx) = match &q.patient {
        None => (None, None),
        Some(PatientRef::Member(m)) => match hub.store.patient_by_member(m)? {
            Some((k, _)) => (Some(k), Some(access::context(&hub.store, caller, m, &now)?)),
            None => return Ok(Vec::new()),
        },
        Some(PatientRef::Key(k)) => match hub.store.patient(*k)? {
            Some((m, _)) => (
                Some(*k),
                Some(access::context(&hub.store, caller, &m, &now)?),
            ),
            None => return Ok(Vec::new()),
        },
    };
    listed(hub, caller, q, pk, ctx)
}

/// The documents of the patient of a summary just read (the patient and the caller's context
/// as the summary decided them), at most `limit`.
pub fn summary_documents(
    hub: &Hub,
    caller: &Caller,
    s: &Summary,
    limit: i64,
) -> Result<Vec<DocumentEntry>, Refusal> {
    access::scope(caller, "DocumentReference", Interaction::Search)?;
    let q = DocumentQuery {
        limit,
        ..DocumentQuery::default()
    };
    listed(hub, caller, &q, Some(s.patient.0), Some(s.context))
}

/// The documents matching `q` (for patient `pk`, seen in context `ctx`) that the caller may read.
fn listed(
    hub: &Hub,
    caller: &Caller,
    q: &DocumentQuery,
    pk: Option<i64>,
    ctx: Option<clins::policy::Context>,
) -> Result<Vec<DocumentEntry>, Refusal> {
    let now = hub.clock.now();
    let today = hub.clock.today();
    let insurer = caller.principal.kind() == Some(clins::policy::InstitutionKind::Insurer);
    // An insurer without a patient lists the checkups of its insured.
    let by_insurer = insurer && pk.is_none() && q.destination.is_none();
    let docs = hub.store.documents(&store::DocumentFilter {
        patient_key: pk,
        destination: q.destination.clone(),
        doc_type: q.doc_type.clone(),
        status: q.status.clone().flatten(),
        insurer: by_insurer.then(|| caller.institution().unwrap_or_default().to_string()),
        kind: by_insurer.then(|| DocKind::Checkup.code().to_string()),
        limit: q.limit,
    })?;
    let mut listed = Vec::new();
    for d in docs {
        let live = q.status.is_some() || !matches!(d.status.as_str(), "cancelled" | "expired");
        if !live {
            continue;
        }
        let carriers = carriers(hub, caller, &d)?;
        let c = match ctx {
            Some(c) => c,
            None => access::document_context(&hub.store, caller, &d, &now)?,
        };
        if access::document(caller, &d, &carriers, Action::Read, c, today).permitted() {
            listed.push((d, carriers));
        }
    }
    Ok(listed)
}
