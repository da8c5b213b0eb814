//! Who may do what: the one access decision of the hub ([`decide`]), a pure function of the
//! caller ([`Principal`]), what it wants to do ([`Action`]), what it touches ([`Target`]), how
//! the caller relates to the data ([`Relation`]) and the context of the request (viewing
//! consent, emergency claim, disaster declaration). It answers [`Decision::Permit`] with the
//! basis and what to mark, or [`Decision::Deny`] with a reason the HTTP edge maps to a status.
//!
//! Sources: DECISIONS.md ("Who sees what", "Viewing consent", "Emergency access", "Suspected
//! diagnoses"), service-rules.md §1.4–§1.9. The whole table in words: docs/access.md.

use super::{Item, Retrieval, FLAG_SUSPECTED, FLAG_UNDELIVERED, FLAG_UNINFORMED, PCS_DAYS};

/// The kind of a registered institution (the registry's `kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstitutionKind {
    /// 病院
    Hospital,
    /// 診療所 (医科)
    Clinic,
    /// 歯科診療所
    Dental,
    /// 薬局
    Pharmacy,
    /// 健診機関 (a standalone checkup institution)
    Checkup,
    /// 保険者 (8-digit 保険者番号)
    Insurer,
}

impl InstitutionKind {
    pub const ALL: [InstitutionKind; 6] = [
        InstitutionKind::Hospital,
        InstitutionKind::Clinic,
        InstitutionKind::Dental,
        InstitutionKind::Pharmacy,
        InstitutionKind::Checkup,
        InstitutionKind::Insurer,
    ];
    pub fn code(self) -> &'static str {
        match self {
            InstitutionKind::Hospital => "hospital",
            InstitutionKind::Clinic => "clinic",
            InstitutionKind::Dental => "dental",
            InstitutionKind::Pharmacy => "pharmacy",
            InstitutionKind::Checkup => "checkup",
            InstitutionKind::Insurer => "insurer",
        }
    }
    pub fn from_code(s: &str) -> Option<InstitutionKind> {
        InstitutionKind::ALL.into_iter().find(|k| k.code() == s)
    }
    pub fn label_ja(self) -> &'static str {
        match self {
            InstitutionKind::Hospital => "病院",
            InstitutionKind::Clinic => "診療所",
            InstitutionKind::Dental => "歯科診療所",
            InstitutionKind::Pharmacy => "薬局",
            InstitutionKind::Checkup => "健診機関",
            InstitutionKind::Insurer => "保険者",
        }
    }
    /// Hospitals, clinics, dental clinics and pharmacies: they care for patients and view
    /// 6情報 and 健診 with consent.
    pub fn cares(self) -> bool {
        matches!(
            self,
            InstitutionKind::Hospital
                | InstitutionKind::Clinic
                | InstitutionKind::Dental
                | InstitutionKind::Pharmacy
        )
    }
}

/// A user of an institution (an EMR terminal's signed-in clinician).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Practitioner {
    pub id: String,
    /// Holds the 救急時閲覧 privilege.
    pub emergency: bool,
    /// Signed in with two factors.
    pub two_factor: bool,
    /// The user's licence, as the institution asserts it.
    pub qualification: Qualification,
}

/// A user's licence (資格): 医師, 歯科医師, 薬剤師, or another profession.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Qualification {
    /// 医師
    Doctor,
    /// 歯科医師
    Dentist,
    /// 薬剤師
    Pharmacist,
    /// Any other (nurse, clerk, …).
    #[default]
    Other,
}

impl Qualification {
    pub fn code(self) -> &'static str {
        match self {
            Qualification::Doctor => "doctor",
            Qualification::Dentist => "dentist",
            Qualification::Pharmacist => "pharmacist",
            Qualification::Other => "other",
        }
    }
    pub fn from_code(s: &str) -> Option<Qualification> {
        Some(match s {
            "doctor" => Qualification::Doctor,
            "dentist" => Qualification::Dentist,
            "pharmacist" => Qualification::Pharmacist,
            "other" => Qualification::Other,
            _ => return None,
        })
    }
}

/// The authenticated caller, whatever authenticated it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A registered, enabled institution (or insurer: kind [`InstitutionKind::Insurer`]),
    /// optionally with the user acting for it.
    Institution {
        /// 医療機関番号 (10 digits) or 保険者番号 (8 digits).
        number: String,
        kind: InstitutionKind,
        /// 都道府県番号 (1–47).
        prefecture: u8,
        practitioner: Option<Practitioner>,
    },
    /// The patient, by the normalised 被保険者個人識別子.
    Patient { member_id: String },
    /// The オンライン資格確認 stand-in: grants viewing consent after card verification.
    QualificationService,
    /// The operator of the hub.
    Operator,
}

impl Principal {
    /// The institution number of an institution or insurer.
    pub fn institution(&self) -> Option<&str> {
        match self {
            Principal::Institution { number, .. } => Some(number),
            _ => None,
        }
    }
    pub fn kind(&self) -> Option<InstitutionKind> {
        match self {
            Principal::Institution { kind, .. } => Some(*kind),
            _ => None,
        }
    }
    /// A short, non-identifying label of the caller's role for logs.
    pub fn role(&self) -> &'static str {
        match self {
            Principal::Institution { kind, .. } => kind.code(),
            Principal::Patient { .. } => "patient",
            Principal::QualificationService => "qualification-service",
            Principal::Operator => "operator",
        }
    }
}

/// The documents the hub stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocKind {
    /// 診療情報提供書
    Referral,
    /// 退院時サマリー (travels attached to referrals)
    DischargeSummary,
    /// 健康診断結果報告書
    Checkup,
    /// 患者サマリー (for the patient only)
    PatientSummary,
}

impl DocKind {
    /// From the stored kind code (`eReferral`, `eDischargeSummary`, `eCheckup`, `ePCS`).
    pub fn from_code(s: &str) -> Option<DocKind> {
        match s {
            "eReferral" => Some(DocKind::Referral),
            "eDischargeSummary" => Some(DocKind::DischargeSummary),
            "eCheckup" => Some(DocKind::Checkup),
            "ePCS" => Some(DocKind::PatientSummary),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            DocKind::Referral => "eReferral",
            DocKind::DischargeSummary => "eDischargeSummary",
            DocKind::Checkup => "eCheckup",
            DocKind::PatientSummary => "ePCS",
        }
    }
}

/// The status of a stored unit or document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocStatus {
    /// 閲覧可 (documents), live (6情報 units).
    Current,
    /// 閲覧保留: a referral waiting for the patient's consent.
    Held,
    /// 取得済: retrieved by the addressee.
    Retrieved,
    /// 取消 by the sender.
    Cancelled,
    /// Past its retention; the stored Bundle is gone.
    Expired,
    /// A 6情報 unit deleted by its institution.
    Deleted,
}

impl DocStatus {
    pub fn from_code(s: &str) -> Option<DocStatus> {
        Some(match s {
            "current" => DocStatus::Current,
            "held" => DocStatus::Held,
            "retrieved" => DocStatus::Retrieved,
            "cancelled" => DocStatus::Cancelled,
            "expired" => DocStatus::Expired,
            "deleted" => DocStatus::Deleted,
            _ => return None,
        })
    }
    pub fn code(self) -> &'static str {
        match self {
            DocStatus::Current => "current",
            DocStatus::Held => "held",
            DocStatus::Retrieved => "retrieved",
            DocStatus::Cancelled => "cancelled",
            DocStatus::Expired => "expired",
            DocStatus::Deleted => "deleted",
        }
    }
    /// Cancelled, expired or deleted: gone for everyone but its author.
    pub fn gone(self) -> bool {
        matches!(
            self,
            DocStatus::Cancelled | DocStatus::Expired | DocStatus::Deleted
        )
    }
}

/// The state of the caller institution's viewing consent for the patient (DECISIONS.md
/// "Viewing consent for 6情報 / 健診"), as [`consent_state`] works it out from the grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentState {
    /// No grant for this institution (grants to other institutions do not count).
    None,
    /// A grant whose period contains now and that is not revoked.
    Live,
    /// Only grants whose period has ended (or not begun).
    Expired,
    /// The latest grant was revoked by the patient.
    Revoked,
}

/// One stored grant, as facts: its period and whether it was revoked (instants as UTC text
/// `YYYY-MM-DDThh:mm:ss.sssZ`, which order as strings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant<'a> {
    pub start: &'a str,
    pub end: &'a str,
    pub revoked: bool,
}

/// The consent state at `now` from the grants of one (patient, institution).
pub fn consent_state<'a>(grants: impl IntoIterator<Item = Grant<'a>>, now: &str) -> ConsentState {
    let mut state = ConsentState::None;
    for g in grants {
        let s = if g.revoked {
            ConsentState::Revoked
        } else if g.start <= now && now < g.end {
            return ConsentState::Live;
        } else {
            ConsentState::Expired
        };
        // A revocation outranks an expiry in what the caller is told.
        if state != ConsentState::Revoked {
            state = s;
        }
    }
    state
}

/// A disaster declaration as facts (service-rules.md §1.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disaster<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub ended: bool,
    pub prefectures: &'a [u8],
    pub institutions: &'a [String],
}

/// Whether any declaration covers the institution `number` in `prefecture` at `now`.
pub fn disaster_covers<'a>(
    declarations: impl IntoIterator<Item = Disaster<'a>>,
    number: &str,
    prefecture: u8,
    now: &str,
) -> bool {
    declarations.into_iter().any(|d| {
        !d.ended
            && d.from <= now
            && now < d.to
            && (d.prefectures.contains(&prefecture) || d.institutions.iter().any(|i| i == number))
    })
}

/// What the caller wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read or list: `$summary`, search, read, vread, history, DocumentReference.
    Read,
    /// Retrieve a stored document Bundle (the addressee's retrieval marks a referral 取得済).
    Retrieve,
    /// `$submit` of a unit or document of this kind (`None`: a 6情報 unit).
    Submit(Option<DocKind>),
    /// `$withdraw` (of the caller's own submission).
    Withdraw,
    /// Grant viewing consent for an institution (`POST /fhir/Consent`).
    GrantConsent,
    /// Revoke a viewing consent (`DELETE /fhir/Consent/{id}`).
    RevokeConsent,
    /// Read the stored consents.
    ReadConsents,
    /// Release a held referral (閲覧保留 → 閲覧可).
    ReleaseReferral,
    /// Identify a patient by the 4 情報 (emergency or disaster).
    Identify,
    /// Manage the institution registry and disaster declarations.
    Administer,
}

/// What the action touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The patient as a whole: the gate of `$summary` and searches, and the Patient resource.
    Patient,
    /// A 6情報 resource of `item` with its flag bits; `held`: the unit it came with is held
    /// (a prescription of a referral waiting for consent, of a 退院時サマリー not yet released).
    Item {
        item: Item,
        flags: i64,
        held: bool,
    },
    /// A stored document. `retrieval`: what [`super::referral_retrieval`] (or, for a 退院時サマリー,
    /// [`super::attachment_access`] over its carriers) says for the addressee.
    Document {
        kind: DocKind,
        status: DocStatus,
        retrieval: Option<Retrieval>,
    },
    /// Viewing consents, the registry, declarations: data about access, not clinical data.
    Consents,
    Registry,
}

/// How the caller relates to the data, as facts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relation {
    /// The caller's institution submitted it.
    pub submitter: bool,
    /// The data is the calling patient's own.
    pub own: bool,
    /// The patient is insured by the calling insurer (保険者番号 of the member id).
    pub insured: bool,
    /// A referral addressed to the caller (or a 退院時サマリー attached to one).
    pub addressee: bool,
}

/// The request's context beyond the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    pub consent: ConsentState,
    /// `X-Clins-Purpose-Of-Use: ETREAT` was sent.
    pub emergency_claimed: bool,
    /// A disaster declaration covers the caller now.
    pub disaster: bool,
    /// Days since the data was registered (for the 6-month 患者サマリー window).
    pub age_days: i64,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            consent: ConsentState::None,
            emergency_claimed: false,
            disaster: false,
            age_days: 0,
        }
    }
}

/// Why the caller may have it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Its own submission.
    Submitter,
    /// A live viewing consent.
    Consent,
    /// Emergency access (break-glass, ETREAT): recorded for the patient to see.
    Emergency,
    /// A disaster declaration covering the caller: recorded like emergency access.
    Disaster,
    /// The patient's own data.
    Own,
    /// The insurer of the patient (健診).
    Insurer,
    /// The addressee of a referral.
    Addressee,
    /// The caller's role allows it (consents, registry, submissions).
    Role,
}

impl Basis {
    /// The code recorded in the audit trail.
    pub fn code(self) -> &'static str {
        match self {
            Basis::Submitter => "submitter",
            Basis::Consent => "consent",
            Basis::Emergency => "emergency",
            Basis::Disaster => "disaster",
            Basis::Own => "own",
            Basis::Insurer => "insurer",
            Basis::Addressee => "addressee",
            Basis::Role => "role",
        }
    }
}

/// What to change in what is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    None,
    /// Shown with the 未告知 mark (UNINFORMED, to institutions).
    Uninformed,
}

/// Why not. The HTTP edge maps each reason to one status (docs/access.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The caller may not know the data exists: answered exactly as if it did not (404).
    Hidden,
    /// An institution that could view with consent has none live (403).
    NoConsent,
    /// The caller's role never may (403).
    WrongRole,
    /// Emergency access was claimed but the caller does not qualify (403).
    Emergency(EmergencyProblem),
    /// A referral (or the referral an attachment travels with) is 閲覧保留 (403).
    Held,
    /// Cancelled, expired or past its retrieval window (410).
    Gone,
}

/// Why an emergency claim fails (service-rules.md §1.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmergencyProblem {
    /// Only hospitals may.
    NotHospital,
    /// No practitioner named, or one without the 救急時閲覧 privilege.
    NoPrivilege,
    /// The practitioner did not sign in with two factors.
    NoTwoFactor,
    /// Emergency access covers the 6情報 only (not 健診 or documents).
    NotCovered,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Permit(Basis, Mark),
    Deny(Denial),
}

impl Decision {
    pub fn permitted(self) -> bool {
        matches!(self, Decision::Permit(..))
    }
}

/// The request as the decision sees it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    pub action: Action,
    pub target: Target,
    pub relation: Relation,
    pub context: Context,
}

/// Whether the caller's emergency claim is valid: a hospital's practitioner with the
/// privilege, signed in with two factors.
pub fn emergency_check(p: &Principal) -> Result<(), EmergencyProblem> {
    match p {
        Principal::Institution {
            kind: InstitutionKind::Hospital,
            practitioner,
            ..
        } => match practitioner {
            Some(pr) if !pr.emergency => Err(EmergencyProblem::NoPrivilege),
            None => Err(EmergencyProblem::NoPrivilege),
            Some(pr) if !pr.two_factor => Err(EmergencyProblem::NoTwoFactor),
            Some(_) => Ok(()),
        },
        _ => Err(EmergencyProblem::NotHospital),
    }
}

/// Which documents and 6情報 each kind of institution may submit (service-rules.md §1.2).
pub fn may_submit(kind: InstitutionKind, doc: Option<DocKind>) -> bool {
    use InstitutionKind::*;
    match kind {
        Hospital | Clinic => true,
        // Not required of dental clinics, but their 傷病名 and referrals are theirs to share.
        Dental => !matches!(doc, Some(DocKind::Checkup)),
        Checkup => doc == Some(DocKind::Checkup),
        Pharmacy | Insurer => false,
    }
}

/// The one access decision (see the module documentation).
pub fn decide(r: &Request) -> Decision {
    use Decision::{Deny, Permit};
    let p = r.principal;
    let rel = r.relation;
    let ctx = r.context;
    match r.action {
        Action::Administer => match p {
            Principal::Operator => Permit(Basis::Role, Mark::None),
            _ => Deny(Denial::WrongRole),
        },
        Action::Submit(doc) => match p {
            Principal::Institution { kind, .. } if may_submit(*kind, doc) => {
                Permit(Basis::Role, Mark::None)
            }
            _ => Deny(Denial::WrongRole),
        },
        Action::Withdraw => match p {
            Principal::Institution { kind, .. } if *kind != InstitutionKind::Insurer => {
                if rel.submitter {
                    Permit(Basis::Submitter, Mark::None)
                } else {
                    Deny(Denial::WrongRole)
                }
            }
            _ => Deny(Denial::WrongRole),
        },
        Action::GrantConsent => match p {
            Principal::QualificationService => Permit(Basis::Role, Mark::None),
            Principal::Patient { .. } if rel.own => Permit(Basis::Own, Mark::None),
            _ => Deny(Denial::WrongRole),
        },
        Action::ReleaseReferral => match p {
            Principal::QualificationService => Permit(Basis::Role, Mark::None),
            Principal::Patient { .. } if rel.own => Permit(Basis::Own, Mark::None),
            // Another patient's referral does not exist for this patient.
            Principal::Patient { .. } => Deny(Denial::Hidden),
            _ => Deny(Denial::WrongRole),
        },
        Action::RevokeConsent => match p {
            Principal::Patient { .. } if rel.own => Permit(Basis::Own, Mark::None),
            Principal::Patient { .. } => Deny(Denial::Hidden),
            _ => Deny(Denial::WrongRole),
        },
        Action::ReadConsents => match p {
            Principal::Operator => Permit(Basis::Role, Mark::None),
            Principal::Patient { .. } if rel.own => Permit(Basis::Own, Mark::None),
            Principal::Patient { .. } => Deny(Denial::Hidden),
            _ => Deny(Denial::WrongRole),
        },
        Action::Identify => match p {
            Principal::Institution { kind, .. } if kind.cares() => {
                if ctx.emergency_claimed {
                    match emergency_check(p) {
                        Ok(()) => Permit(Basis::Emergency, Mark::None),
                        Err(e) => Deny(Denial::Emergency(e)),
                    }
                } else if ctx.disaster {
                    Permit(Basis::Disaster, Mark::None)
                } else {
                    Deny(Denial::WrongRole)
                }
            }
            _ => Deny(Denial::WrongRole),
        },
        Action::Read | Action::Retrieve => read(r),
    }
}

/// Reads and retrievals of clinical data.
fn read(r: &Request) -> Decision {
    use Decision::{Deny, Permit};
    let p = r.principal;
    let rel = r.relation;
    let ctx = r.context;
    match r.target {
        Target::Consents | Target::Registry => match p {
            Principal::Operator => Permit(Basis::Role, Mark::None),
            _ => Deny(Denial::WrongRole),
        },
        Target::Patient => match p {
            Principal::Patient { .. } if rel.own => Permit(Basis::Own, Mark::None),
            Principal::Patient { .. } => Deny(Denial::Hidden),
            Principal::Institution { kind, .. } if kind.cares() => care_basis(r, true),
            _ => Deny(Denial::WrongRole),
        },
        Target::Item { item, flags, held } => {
            if item == Item::Other {
                return Deny(Denial::Hidden);
            }
            match p {
                Principal::Institution { kind, .. }
                    if rel.submitter && *kind != InstitutionKind::Insurer =>
                {
                    Permit(Basis::Submitter, Mark::None)
                }
                Principal::Institution { kind, .. } if kind.cares() => {
                    let basis = match care_basis(r, true) {
                        Permit(b, _) => b,
                        // The patient gate already answered; an entry not viewable is absent.
                        Deny(_) => return Deny(Denial::Hidden),
                    };
                    if held || flags & (FLAG_SUSPECTED | FLAG_UNDELIVERED) != 0 {
                        return Deny(Denial::Hidden);
                    }
                    if item == Item::Condition && flags & FLAG_UNINFORMED != 0 {
                        return Permit(basis, Mark::Uninformed);
                    }
                    Permit(basis, Mark::None)
                }
                Principal::Patient { .. } if rel.own => {
                    if held || flags & (FLAG_SUSPECTED | FLAG_UNDELIVERED | FLAG_UNINFORMED) != 0 {
                        Deny(Denial::Hidden)
                    } else {
                        Permit(Basis::Own, Mark::None)
                    }
                }
                _ => Deny(Denial::Hidden),
            }
        }
        Target::Document {
            kind,
            status,
            retrieval,
        } => {
            // Its author always has it (a gone document answers 410 to the author too).
            let submitter = matches!(p, Principal::Institution { kind, .. } if *kind != InstitutionKind::Insurer);
            if rel.submitter && submitter {
                return if status.gone() && r.action == Action::Retrieve {
                    Deny(Denial::Gone)
                } else {
                    Permit(Basis::Submitter, Mark::None)
                };
            }
            match (p, kind) {
                (Principal::Patient { .. }, _) if !rel.own => Deny(Denial::Hidden),
                // The patient: own 健診, own 患者サマリー for six months, and the states of
                // own referrals and discharge summaries (the index entry, not the letter).
                (Principal::Patient { .. }, DocKind::Checkup) => live(status, Basis::Own),
                (Principal::Patient { .. }, DocKind::PatientSummary) => {
                    if ctx.age_days > PCS_DAYS {
                        Deny(Denial::Hidden)
                    } else {
                        live(status, Basis::Own)
                    }
                }
                (Principal::Patient { .. }, DocKind::Referral | DocKind::DischargeSummary) => {
                    if r.action == Action::Retrieve {
                        Deny(Denial::Hidden)
                    } else {
                        Permit(Basis::Own, Mark::None)
                    }
                }
                // The insurer: 健診結果報告書 of its own insured, no consent.
                (
                    Principal::Institution {
                        kind: InstitutionKind::Insurer,
                        ..
                    },
                    DocKind::Checkup,
                ) => {
                    if rel.insured {
                        live(status, Basis::Insurer)
                    } else {
                        Deny(Denial::Hidden)
                    }
                }
                (Principal::Institution { kind: k, .. }, DocKind::Checkup) if k.cares() => {
                    match care_basis(r, false) {
                        Permit(b, _) => live(status, b),
                        Deny(d @ Denial::Emergency(_)) => Deny(d),
                        Deny(_) => Deny(Denial::Hidden),
                    }
                }
                // Referrals and the summaries they carry: their addressee, as retrieval allows.
                (
                    Principal::Institution { kind: k, .. },
                    DocKind::Referral | DocKind::DischargeSummary,
                ) if k.cares() && rel.addressee => {
                    if r.action == Action::Read {
                        // The index entry is listed while the letter is held.
                        return if status.gone() {
                            Deny(Denial::Gone)
                        } else {
                            Permit(Basis::Addressee, Mark::None)
                        };
                    }
                    match retrieval {
                        Some(Retrieval::Allowed) => Permit(Basis::Addressee, Mark::None),
                        Some(Retrieval::Held) => Deny(Denial::Held),
                        Some(Retrieval::Expired | Retrieval::Cancelled) => Deny(Denial::Gone),
                        None => Deny(Denial::Hidden),
                    }
                }
                // 患者サマリー is never shown to an institution; nothing else is theirs.
                _ => Deny(Denial::Hidden),
            }
        }
    }
}

/// A document that is gone answers 410 to whoever could have had it.
fn live(status: DocStatus, basis: Basis) -> Decision {
    if status.gone() {
        Decision::Deny(Denial::Gone)
    } else {
        Decision::Permit(basis, Mark::None)
    }
}

/// The basis on which a caring institution views a patient's data it did not submit:
/// emergency (when claimed: it must qualify, and covers the 6情報 only), a live consent, or a
/// disaster declaration covering it. `six_items`: the 6情報 (or the patient's record for them).
fn care_basis(r: &Request, six_items: bool) -> Decision {
    let ctx = r.context;
    if ctx.emergency_claimed {
        match emergency_check(r.principal) {
            Err(e) => return Decision::Deny(Denial::Emergency(e)),
            Ok(()) if six_items => return Decision::Permit(Basis::Emergency, Mark::None),
            Ok(()) => {}
        }
    }
    if ctx.consent == ConsentState::Live {
        return Decision::Permit(Basis::Consent, Mark::None);
    }
    if ctx.disaster {
        return Decision::Permit(Basis::Disaster, Mark::None);
    }
    if ctx.emergency_claimed {
        return Decision::Deny(Denial::Emergency(EmergencyProblem::NotCovered));
    }
    Decision::Deny(Denial::NoConsent)
}
