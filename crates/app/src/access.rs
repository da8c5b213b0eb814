//! The only caller of `clins::policy::decide`. Every use case asks here whether its caller may
//! do what it asks; this module gathers the facts the decision needs from the store (viewing
//! consents, disaster declarations, the relation of caller and data), calls the decision, and
//! records accesses made without consent (emergency, disaster) for the patient to see.

use std::collections::{HashMap, HashSet};

use clins::policy::{
    self, consent_state, decide, disaster_covers, Action, Basis, ConsentState, Context, Decision,
    DocKind, DocStatus, Grant, Interaction, Item, Mark, Principal, Relation, Request, Retrieval,
    Scopes, Target,
};
use store::{AccessRecord, ConsentRow, Store, StoredDocument, StoredResource};

use crate::dates::day_number;
use crate::refusal::Refusal;

/// The caller of a use case: the principal, whether the request claims emergency access
/// (purpose of use `ETREAT`), and what its credentials allow (a token's SMART scopes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    pub emergency_claimed: bool,
    pub scopes: Scopes,
    /// Signed in as an administrator of its institution's staff accounts.
    pub staff_admin: bool,
}

impl Caller {
    pub fn new(principal: Principal) -> Caller {
        Caller {
            principal,
            emergency_claimed: false,
            scopes: Scopes::Unrestricted,
            staff_admin: false,
        }
    }
    /// The caller's institution (or insurer) number.
    pub fn institution(&self) -> Option<&str> {
        self.principal.institution()
    }
    /// The calling patient's normalised member id.
    pub fn patient(&self) -> Option<&str> {
        match &self.principal {
            Principal::Patient { member_id } => Some(member_id),
            _ => None,
        }
    }
}

/// The scope check, on top of every decision: a caller whose token lacks the scope for
/// `interaction` on `resource` is refused (403), whatever its role allows.
pub fn scope(caller: &Caller, resource: &str, interaction: Interaction) -> Result<(), Refusal> {
    if caller.scopes.permits(resource, interaction) {
        return Ok(());
    }
    let letter = interaction.letter();
    Err(Refusal::new(
        crate::refusal::Why::Forbidden,
        fhir::outcome::IssueType::Forbidden,
        "SCOPE-MISSING",
        "",
        format!("the access token does not grant this: request a token with the scope system/{resource}.{letter} (or a wider one)"),
        format!("アクセストークンにこの操作の権限（スコープ）がありません。system/{resource}.{letter} を含むトークンを取得してください"),
    ))
}

/// Who reads a patient's access history: the patient (their own) and the operator.
pub fn audit_history(caller: &Caller, member_id: &str) -> Result<(), Refusal> {
    scope(caller, "AuditEvent", Interaction::Search)?;
    match &caller.principal {
        Principal::Operator => Ok(()),
        Principal::Patient { member_id: me } if me == member_id => Ok(()),
        Principal::Patient { .. } => Err(Refusal::not_found("the patient")),
        _ => Err(Refusal::forbidden(
            "AUDIT-NOT-PERMITTED",
            "a patient's access history is shown to the patient and to the operator",
            "アクセス履歴は本人と運用者のみが閲覧できます",
        )),
    }
}

/// Whether the caller's credentials let it see resources of `resource` type (entries of a
/// `$summary` or an `_include` without the scope are left out, not refused).
pub fn scoped(caller: &Caller, resource: &str) -> bool {
    caller.scopes.permits(resource, Interaction::Read)
}

fn simple(caller: &Caller, action: Action, target: Target, relation: Relation) -> Decision {
    decide(&Request {
        principal: &caller.principal,
        action,
        target,
        relation,
        context: Context {
            emergency_claimed: caller.emergency_claimed,
            ..Context::default()
        },
    })
}

fn permit(d: Decision, what: &str) -> Result<Basis, Refusal> {
    match d {
        Decision::Permit(b, _) => Ok(b),
        Decision::Deny(d) => Err(Refusal::denied(d, what)),
    }
}

/// The operator's registry and disaster declarations.
pub fn administer(caller: &Caller) -> Result<(), Refusal> {
    permit(
        simple(
            caller,
            Action::Administer,
            Target::Registry,
            Relation::default(),
        ),
        "the registry",
    )
    .map(|_| ())
}

/// A submission of a 6情報 unit (`None`) or of a document of `kind`.
pub fn submit(caller: &Caller, kind: Option<DocKind>) -> Result<(), Refusal> {
    match simple(
        caller,
        Action::Submit(kind),
        Target::Patient,
        Relation::default(),
    ) {
        Decision::Permit(..) => Ok(()),
        Decision::Deny(_) => {
            let what = kind.map_or("6情報", DocKind::code);
            Err(Refusal::forbidden(
                "SUBMIT-NOT-PERMITTED",
                format!(
                    "a caller of kind {} may not submit {what}",
                    caller.principal.role()
                ),
                format!(
                    "種別「{}」の利用者は {what} を提出できません",
                    caller.principal.role()
                ),
            ))
        }
    }
}

/// `$withdraw` of a unit or document of `institution` (the Bundle-ID's).
pub fn withdraw(caller: &Caller, institution: &str) -> Result<(), Refusal> {
    let relation = Relation {
        submitter: caller.institution() == Some(institution),
        ..Relation::default()
    };
    match simple(caller, Action::Withdraw, Target::Patient, relation) {
        Decision::Permit(..) => Ok(()),
        Decision::Deny(_) => Err(Refusal::forbidden(
            "WITHDRAW-OTHER-INSTITUTION",
            "an institution withdraws only its own submissions",
            "自施設の提出物のみ取り消せます",
        )),
    }
}

/// Consent actions on the consents of the patient `member_id` (`None`: all patients, the
/// operator's listing).
pub fn consents(
    caller: &Caller,
    action: Action,
    member_id: Option<&str>,
) -> Result<Basis, Refusal> {
    let own = match (caller.patient(), member_id) {
        (Some(me), Some(m)) => me == m,
        _ => false,
    };
    permit(
        simple(
            caller,
            action,
            Target::Consents,
            Relation {
                own,
                ..Relation::default()
            },
        ),
        "the consent",
    )
}

/// Whether a disaster declaration covers the caller's institution now.
fn disaster_now(store: &Store, caller: &Caller, now: &str) -> Result<bool, Refusal> {
    let Principal::Institution {
        number, prefecture, ..
    } = &caller.principal
    else {
        return Ok(false);
    };
    let rows = store.disasters()?;
    Ok(disaster_covers(
        rows.iter().map(|d| policy::Disaster {
            from: &d.start,
            to: &d.end,
            ended: d.ended_at.is_some(),
            prefectures: &d.prefectures,
            institutions: &d.institutions,
        }),
        number,
        *prefecture,
        now,
    ))
}

/// The institution whose viewing consents decide the caller's access (an institution that
/// cares for patients); `None`: consent plays no part.
pub fn consent_holder(caller: &Caller) -> Option<&str> {
    match &caller.principal {
        Principal::Institution { number, kind, .. } if kind.cares() => Some(number),
        _ => None,
    }
}

/// The context of the caller's access to the data of patient `member_id` at `now`: its
/// institution's viewing consent, and a disaster declaration (looked up only without consent).
pub fn context(
    store: &Store,
    caller: &Caller,
    member_id: &str,
    now: &str,
) -> Result<Context, Refusal> {
    let grants = match consent_holder(caller) {
        Some(number) => store.consents_for(member_id, number)?,
        None => Vec::new(),
    };
    context_with(store, caller, &grants, now)
}

/// [`context`] with the grants of the caller's institution already read (by
/// `Store::patient_facts`, for [`consent_holder`]).
pub fn context_with(
    store: &Store,
    caller: &Caller,
    grants: &[ConsentRow],
    now: &str,
) -> Result<Context, Refusal> {
    let mut ctx = Context {
        emergency_claimed: caller.emergency_claimed,
        ..Context::default()
    };
    if consent_holder(caller).is_some() {
        ctx.consent = consent_state(
            grants.iter().map(|g| Grant {
                start: &g.start,
                end: &g.end,
                revoked: g.revoked_at.is_some(),
            }),
            now,
        );
        if ctx.consent != ConsentState::Live && !ctx.emergency_claimed {
            ctx.disaster = disaster_now(store, caller, now)?;
        }
    }
    Ok(ctx)
}

/// The caller's access to one patient's data.
#[derive(Clone, Debug)]
pub struct PatientView {
    pub member_id: String,
    /// Why the caller may see the patient as a whole; `None`: it may not (it may still see
    /// what it submitted itself, entry by entry).
    pub basis: Option<Basis>,
    pub context: Context,
    /// The patient is the caller.
    pub own: bool,
}

/// The caller's view of patient `member_id`, deciding the patient gate. Accesses without
/// consent (emergency, disaster) are recorded now, with `request` (what was asked, without
/// its values), for the patient to see. A failed emergency claim is refused (403).
pub fn view(
    store: &Store,
    caller: &Caller,
    member_id: &str,
    now: &str,
    request: &str,
) -> Result<PatientView, Refusal> {
    let context = context(store, caller, member_id, now)?;
    gate(store, caller, member_id, context, now, request, |d| {
        matches!(d, policy::Denial::Emergency(_))
    })
}

/// The patient gate: decides, refuses the denials `refuse` picks, and records an access
/// without consent.
fn gate(
    store: &Store,
    caller: &Caller,
    member_id: &str,
    context: Context,
    now: &str,
    request: &str,
    refuse: impl Fn(policy::Denial) -> bool,
) -> Result<PatientView, Refusal> {
    let (view, denial) = decide_view(caller, member_id, context);
    if let Some(d) = denial.filter(|d| refuse(*d)) {
        return Err(Refusal::denied(d, "the patient"));
    }
    if let Some(b @ (Basis::Emergency | Basis::Disaster)) = view.basis {
        record(store, caller, member_id, b, now, request)?;
    }
    Ok(view)
}

fn decide_view(
    caller: &Caller,
    member_id: &str,
    context: Context,
) -> (PatientView, Option<policy::Denial>) {
    let own = caller.patient() == Some(member_id);
    let relation = Relation {
        own,
        insured: caller.principal.kind() == Some(policy::InstitutionKind::Insurer)
            && caller.institution() == member_id.split(':').next(),
        ..Relation::default()
    };
    let d = decide(&Request {
        principal: &caller.principal,
        action: Action::Read,
        target: Target::Patient,
        relation,
        context,
    });
    let (basis, denial) = match d {
        Decision::Permit(b, _) => (Some(b), None),
        Decision::Deny(d) => (None, Some(d)),
    };
    (
        PatientView {
            member_id: member_id.to_string(),
            basis,
            context,
            own,
        },
        denial,
    )
}

/// The gate of every read of a patient's data as a whole (`$summary`, searches): like
/// [`view`], but refused (403 without consent, 404 for another patient) unless the caller
/// may see the patient.
pub fn open_patient(
    store: &Store,
    caller: &Caller,
    member_id: &str,
    now: &str,
    request: &str,
) -> Result<PatientView, Refusal> {
    let context = context(store, caller, member_id, now)?;
    gate(store, caller, member_id, context, now, request, |_| true)
}

/// [`open_patient`] with the grants of the caller's institution ([`consent_holder`]) already
/// read.
pub fn open_patient_with(
    store: &Store,
    caller: &Caller,
    member_id: &str,
    grants: &[ConsentRow],
    now: &str,
    request: &str,
) -> Result<PatientView, Refusal> {
    let context = context_with(store, caller, grants, now)?;
    gate(store, caller, member_id, context, now, request, |_| true)
}

/// Keeps the record of an access without consent.
fn record(
    store: &Store,
    caller: &Caller,
    member_id: &str,
    basis: Basis,
    now: &str,
    request: &str,
) -> Result<(), Refusal> {
    let practitioner = match &caller.principal {
        Principal::Institution {
            practitioner: Some(p),
            ..
        } => p.id.clone(),
        _ => String::new(),
    };
    store.record_access(&AccessRecord {
        at: now.to_string(),
        member_id: member_id.to_string(),
        institution: caller.institution().unwrap_or_default().to_string(),
        practitioner,
        basis: if basis == Basis::Emergency {
            "emergency"
        } else {
            "disaster"
        }
        .to_string(),
        request: request.to_string(),
    })?;
    Ok(())
}

/// Identification by the 4 情報: only in an emergency (with a valid claim) or a disaster.
pub fn identify(store: &Store, caller: &Caller, now: &str) -> Result<Basis, Refusal> {
    let disaster = !caller.emergency_claimed && disaster_now(store, caller, now)?;
    permit(
        decide(&Request {
            principal: &caller.principal,
            action: Action::Identify,
            target: Target::Patient,
            relation: Relation::default(),
            context: Context {
                emergency_claimed: caller.emergency_claimed,
                disaster,
                ..Context::default()
            },
        }),
        "the patient",
    )
}

/// The 退院時サマリー among some resources' units that travel with a released referral, as
/// (institution, Bundle-ID).
#[derive(Clone, Debug, Default)]
pub struct Released(HashSet<(String, String)>);

/// Which 退院時サマリー of `resources` are released (`clins::policy::attachment_released` over
/// the statuses of the referrals that carry each).
pub fn released(store: &Store, resources: &[StoredResource]) -> Result<Released, Refusal> {
    let mut out = HashSet::new();
    let mut seen = HashSet::new();
    for r in resources {
        if DocKind::from_code(&r.unit_kind) != Some(DocKind::DischargeSummary) {
            continue;
        }
        let key = (r.institution.clone(), r.unit_bundle_id.clone());
        if !seen.insert(key.clone()) {
            continue;
        }
        let carriers = store.carriers(r.patient_key, &r.institution, &r.unit_bundle_id)?;
        let statuses = carriers
            .iter()
            .map(|c| DocStatus::from_code(&c.status).unwrap_or(DocStatus::Expired));
        if policy::attachment_released(statuses) {
            out.insert(key);
        }
    }
    Ok(Released(out))
}

/// Whether the unit a resource came with is held: a held referral, or a 退院時サマリー not yet
/// released with a referral.
fn held(r: &StoredResource, released: &Released) -> bool {
    DocStatus::from_code(&r.unit_status) == Some(DocStatus::Held)
        || (DocKind::from_code(&r.unit_kind) == Some(DocKind::DischargeSummary)
            && !released
                .0
                .contains(&(r.institution.clone(), r.unit_bundle_id.clone())))
}

/// The decision on one 6情報 resource of the patient of `view`.
pub fn resource(
    caller: &Caller,
    view: &PatientView,
    r: &StoredResource,
    released: &Released,
) -> Decision {
    decide(&Request {
        principal: &caller.principal,
        action: Action::Read,
        target: Target::Item {
            item: Item::from_code(&r.item),
            flags: r.flags,
            held: held(r, released),
        },
        relation: Relation {
            submitter: caller.institution() == Some(r.institution.as_str()),
            own: view.own,
            ..Relation::default()
        },
        context: view.context,
    })
}

/// What the caller may see of a patient's current resources on day `today`, with the 未告知
/// mark: the decision per resource (`released`: see [`released`]), then retention, then the
/// result windows (検査 per test item, 処方: the last N days or the last K results).
pub fn viewable(
    caller: &Caller,
    view: &PatientView,
    resources: Vec<StoredResource>,
    released: &Released,
    today: i64,
) -> Vec<(StoredResource, Mark)> {
    let mut kept: Vec<(StoredResource, Mark)> = Vec::new();
    for r in resources {
        let Decision::Permit(_, mark) = resource(caller, view, &r, released) else {
            continue;
        };
        let item = Item::from_code(&r.item);
        let registered = day_number(&r.registered_at).unwrap_or(today);
        if !policy::retained(item, r.flags, registered, today) {
            continue;
        }
        kept.push((r, mark));
    }
    let mut groups: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (i, (r, _)) in kept.iter().enumerate() {
        let item = Item::from_code(&r.item);
        if policy::window(item).is_some() {
            let key = if item == Item::Lab {
                r.code_key.clone()
            } else {
                String::new()
            };
            groups.entry((r.item.clone(), key)).or_default().push(i);
        }
    }
    let mut drop = HashSet::new();
    for ((item, _), members) in &groups {
        let Some((days, last)) = policy::window(Item::from_code(item)) else {
            continue;
        };
        let dates: Vec<i64> = members
            .iter()
            .map(|&i| {
                let r = &kept[i].0;
                day_number(&r.effective)
                    .or_else(|| day_number(&r.registered_at))
                    .unwrap_or(today)
            })
            .collect();
        for (k, ok) in policy::in_window(&dates, today, days, last)
            .into_iter()
            .enumerate()
        {
            if !ok {
                drop.insert(members[k]);
            }
        }
    }
    kept.into_iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, x)| x)
        .collect()
}

/// What the addressee may do with a referral on day `today` (DECISIONS.md "Referral
/// retrievability").
pub fn retrieval(referral: &StoredDocument, today: i64) -> Retrieval {
    let registered = day_number(&referral.registered_at).unwrap_or(today);
    let retrieved = referral.retrieved_at.as_deref().and_then(day_number);
    let status = DocStatus::from_code(&referral.status).unwrap_or(DocStatus::Expired);
    policy::referral_retrieval(status, registered, retrieved, today)
}

/// The referrals carrying a 退院時サマリー that the caller may know of: all of them for its
/// author, those addressed to the caller otherwise.
pub fn visible_carriers(
    caller: &Caller,
    doc: &StoredDocument,
    carriers: Vec<StoredDocument>,
) -> Vec<StoredDocument> {
    let me = caller.institution();
    let author = me == Some(doc.institution.as_str());
    carriers
        .into_iter()
        .filter(|r| author || (me.is_some() && r.destination.as_deref() == me))
        .collect()
}

/// The decision on a stored document. `carriers`: for a 退院時サマリー, the referrals that
/// carry it (as [`visible_carriers`] leaves them); `context`: the caller's context for the
/// document's patient (only read for 健診 by a caring institution; [`document_context`]).
pub fn document(
    caller: &Caller,
    doc: &StoredDocument,
    carriers: &[StoredDocument],
    action: Action,
    context: Context,
    today: i64,
) -> Decision {
    let Some(kind) = DocKind::from_code(&doc.kind) else {
        return Decision::Deny(policy::Denial::Hidden);
    };
    let status = DocStatus::from_code(&doc.status).unwrap_or(DocStatus::Expired);
    let me = caller.institution();
    let (addressee, retrieval) = match kind {
        DocKind::Referral => {
            let a = me.is_some() && doc.destination.as_deref() == me;
            (a, Some(retrieval(doc, today)))
        }
        DocKind::DischargeSummary => {
            let via: Vec<&StoredDocument> = carriers
                .iter()
                .filter(|r| me.is_some() && r.destination.as_deref() == me)
                .collect();
            (
                !via.is_empty(),
                policy::attachment_access(false, via.iter().map(|r| retrieval(r, today))),
            )
        }
        _ => (false, None),
    };
    let registered = day_number(&doc.registered_at).unwrap_or(today);
    decide(&Request {
        principal: &caller.principal,
        action,
        target: Target::Document {
            kind,
            status,
            retrieval,
        },
        relation: Relation {
            submitter: me == Some(doc.institution.as_str()),
            own: caller.patient() == Some(doc.member_id.as_str()),
            insured: caller.principal.kind() == Some(policy::InstitutionKind::Insurer)
                && me == Some(doc.insurer.as_str()),
            addressee,
        },
        context: Context {
            age_days: today - registered,
            ..context
        },
    })
}

/// The caller's context for a document's patient: looked up only where the decision reads it
/// (a 健診 that a caring institution did not submit).
pub fn document_context(
    store: &Store,
    caller: &Caller,
    doc: &StoredDocument,
    now: &str,
) -> Result<Context, Refusal> {
    let cares = caller.principal.kind().is_some_and(|k| k.cares());
    if doc.kind == DocKind::Checkup.code()
        && cares
        && caller.institution() != Some(doc.institution.as_str())
    {
        context(store, caller, &doc.member_id, now)
    } else {
        Ok(Context {
            emergency_claimed: caller.emergency_claimed,
            ..Context::default()
        })
    }
}
