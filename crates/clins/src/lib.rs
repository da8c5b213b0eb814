//! The JP-CLINS (電子カルテ情報共有サービス) domain for clins-hub.
//!
//! - [`ids`]: typed, normalising identifiers — [`InstitutionNumber`] (医療機関番号),
//!   [`BundleId`] (Bundle-ID) and [`InsuranceMemberId`] (被保険者個人識別子, with the
//!   master-patient-index key [`InsuranceMemberId::normalized`]).
//! - [`kind`]: what a submitted Bundle is ([`SubmissionKind`]: 6情報 unit, 診療情報提供書,
//!   退院時サマリー, 患者サマリー, 健診結果報告書, superseded eReferral) and how resources are
//!   classified ([`lab_item`]: 検査 / 感染症, [`allergy_item`]: 薬剤 / その他, [`flags`]).
//! - [`rules`]: [`check`], the JP-CLINS service rules (one resource type per 6情報 bundle,
//!   Patient first, contained references, Bundle-ID and insurance-ID formats, institution
//!   numbers, flags, document sections), each violation an [`fhir::Issue`] with a stable
//!   `CLINS-…` detail code (see `docs/errors.md`).
//! - [`invariants`]: the JP-CLINS FHIRPath invariants (constraint keys of the profiles)
//!   evaluated natively, run by [`check`] (`CLINS-INV-…` codes); [`NATIVE_INVARIANT_KEYS`]
//!   lists the IG constraint keys this crate enforces, so a validator without FHIRPath need
//!   not report them as "not evaluated".
//! - [`systems`]: the canonical URLs and codes the rules use.
//! - [`policy`]: who sees what and for how long — the one access decision
//!   ([`policy::decide`]), retention and the result windows.
//! - [`demographics`]: the 4 情報 of a Patient, normalised for identification.
//!
//! Architecture invariant: this crate is pure. It does no I/O, keeps no state, reads no IG
//! package and knows nothing about HTTP or storage; every function is a deterministic function
//! of its arguments and never panics on any input. The rules encode facts stated by the
//! JP-CLINS prose and invariants, so they hold whether or not IG packages are loaded; checking
//! profiles, cardinalities and terminology is the validator's job (`crates/conformance`).
#![forbid(unsafe_code)]

pub mod demographics;
pub mod ids;
pub mod invariants;
pub mod kind;
pub mod policy;
pub mod rules;
pub mod systems;

pub use ids::{BundleId, FeeTable, IdError, InstitutionNumber, InsuranceMemberId};
pub use invariants::{ADVISORY_INVARIANT_KEYS, NATIVE_INVARIANT_KEYS};
pub use kind::{
    allergy_item, detect, flags, is_patient_only, lab_item, AllergyItem, Flags, ItemType, LabItem,
    SubmissionKind,
};
pub use rules::check;
