//! The JP-CLINS FHIRPath invariants, evaluated natively.
//!
//! The profiles of the JP-CLINS package 1.5.2 (and the checkup IG) carry FHIRPath constraints
//! (`snapshot.element[].constraint[]`). clins-hub has no FHIRPath engine yet, so the ones that
//! matter for JP-CLINS are written out here with the same meaning. [`crate::check`] runs them
//! after the service rules of [`crate::rules`]; constraints the service rules already enforce
//! are not repeated (they are listed in [`NATIVE_INVARIANT_KEYS`] all the same).
//!
//! Where an invariant applies (the profile that binds it):
//!
//! - resources whose `meta.profile` names the profile, with or without `|version`;
//! - entries of the bundle kinds that assign the profile: every Patient in a JP-CLINS bundle
//!   (6情報, 診療情報提供書, 退院時サマリー, 患者サマリー, CLINS 健診) is a `JP_Patient_eCS`; every
//!   AllergyIntolerance there a `JP_AllergyIntolerance_eCS`; every MedicationRequest in a 6情報
//!   bundle, 診療情報提供書 or 退院時サマリー a `JP_MedicationRequest_eCS` (and its
//!   `dosageInstruction` a `JP_MedicationDosage_eCS`);
//! - bundle-level invariants on the bundle kinds whose profile carries them.
//!
//! | IG key | code | severity | where |
//! |---|---|---|---|
//! | patients-profile-is-JP-Patient-eCS (R0212) | `CLINS-INV-PATIENT-PROFILE` | error | 6情報: first entry (a Patient) |
//! | validEntryProfile-AllergyIntolerance / -Condition / -ObservationLabResult / -MedicationRequest | `CLINS-INV-ENTRY-PROFILE` | error | 6情報: entries of those types; 診療情報提供書, 退院時サマリー: MedicationRequest entries |
//! | condition-needs-contained-of-Encounter (R9013C), observation-needs-contained-of-Encounter (R9013O) | `CLINS-INV-CONTAINED-ENCOUNTER` | error | 6情報: Condition and Observation entries |
//! | valid-system-local-patientID (R1010) | `CLINS-INV-LOCAL-PATIENT-ID` | error | JP_Patient_eCS |
//! | (R1010, prose: the former 患者ID OID) | `CLINS-INV-LOCAL-PATIENT-ID-OID` | warning | JP_Patient_eCS |
//! | valid-system-local-patientID-with-institutionNumber (R1011, FSH only) | `CLINS-INV-LOCAL-PATIENT-ID-INSTITUTION` | warning | JP_Patient_eCS |
//! | valid-system-insurance-patientIdentifier (R1012) outside a submission | `CLINS-INV-PATIENT-MEMBER-ID` | warning | Patients claiming JP_Patient_eCS outside JP-CLINS bundles (inside them: `CLINS-PATIENT-INSURANCE-ID-MISSING` / `-MULTIPLE`, errors) |
//! | kanjiName-kanaName-donot-contain-ZenkakuKuuhaku (R1113) | `CLINS-INV-PATIENT-NAME-SPACE` | error | JP_Patient_eCS |
//! | either-KanjiName-KanaName-exist (R1112, FSH only) | `CLINS-INV-PATIENT-NAME-KANJI-KANA` | warning | JP_Patient_eCS |
//! | resource-needs-extension-of-institutionNumber (R901101) | `CLINS-INV-OBS-INSTITUTION` | error | JP_Observation_LabResult_eCS (6情報 entries: `CLINS-INSTITUTION-MISSING`) |
//! | needs-localCode-observation-laboresult (R6021, FSH only) outside 6情報 | `CLINS-INV-LABRESULT-LOCAL-CODE` | warning | JP_Observation_LabResult_eCS (6情報 entries: `CLINS-OBS-LOCAL-CODE`, error) |
//! | needs-anyOfStandardCode-medication (R3010) | `CLINS-INV-MEDICATION-CODE` | error | JP_MedicationRequest_eCS |
//! | validUsage-MedicationUsage-codesystem (R5020) | `CLINS-INV-USAGE-CODE` | error | JP_MedicationDosage_eCS (`dosageInstruction[i]`) |
//! | invalidUsage-MedicationUsage-codesystem (R5021) | `CLINS-INV-USAGE-CODE-BOTH` | error | JP_MedicationDosage_eCS (`dosageInstruction[i]`) |
//! | valid-system-local-doctorID (R1090, FSH only) | `CLINS-INV-LOCAL-DOCTOR-ID` | warning | every Practitioner, contained ones included |
//! | warning-medication-allergy (R2011, FSH only) | `CLINS-INV-ALLERGY-CRITICALITY` | warning | JP_AllergyIntolerance_eCS |
//! | valid-allergy-code (R2013, FSH only) | `CLINS-INV-ALLERGY-CODE` | warning | JP_AllergyIntolerance_eCS |
//! | bundle-entry0-JP-Composition-eCheckupGeneral, bundle-entry-JP-Patient-(CLINS-)eCheckupGeneral, -OrganizationReporter-, -PractitionerReporter-, -Encounter- | `CLINS-INV-CHECKUP-ENTRY-PROFILE` | error | 健診結果報告書 bundles (CLINS and general use) |
//! | checkExist-CDASection-or-CompositionSection / -structuredSection | `CLINS-SECTION-200-XOR-300` | error | Compositions claiming JP_Composition_eReferral / _eDischargeSummary outside the first entry of their bundle (there: [`crate::rules`]) |
//! | valid-value-institutionNumberExtension | `CLINS-INSTITUTION-FORMAT` / `-SYSTEM` | error | the extension on contained resources (on entries and stand-alone resources: [`crate::rules`]) |
//!
//! Not implemented: `valid-contraIndication-code` (R2012, FSH only, never bound). It asks for
//! YJ or 一般名 codes on drug allergies, which contradicts the current IG (drug allergies are
//! coded with the JFAGY YCM / GCM code systems) and names a misspelt code system.
//!
//! Where the IG expression and its stated meaning disagree, the meaning is implemented:
//! the `validEntryProfile-*` expressions reject every `…|version` profile, although the IG
//! examples and prose use `|1`; here the profile counts with or without a version.

use fhir::json::Value;
use fhir::outcome::IssueType;

use crate::ids::InstitutionNumber;
use crate::kind::{codings, SubmissionKind};
use crate::rules::{entries, list, resource_type, sections, str_at, Checker};
use crate::systems::{self as sys, strip_version};

/// IG constraint keys that `clins::check` enforces natively, at the IG's severity or stricter,
/// wherever the IG binds them: a FHIRPath-less validator need not report them as "not
/// evaluated". Two deliberate departures, documented in `docs/errors.md`:
/// `mustHaveOneMoreResources-with-designatedResourceType` accepts a bundle holding only the
/// Patient (the JP-CLINS way to delete a unit), and `valid-system-insurance-patientIdentifier`
/// is a warning for a Patient that is not part of a JP-CLINS submission (the checkup IG 1.1.3
/// publishes the same `JP_Patient_eCS` canonical without it).
///
/// Keys are names, not profiles: the checkup IG 1.1.3 reuses `valid-system-local-patientID`,
/// `valid-system-insurance-patientIdentifier` and `valid-value-insurance-patientIdentifier`
/// on its own `…/clins/StructureDefinition/JP_Patient_eCS` with other expressions (institution
/// match, a misspelt member-ID system `…/eCS/Idsysmem/…`, 枝番 `0[0-9]`). A Patient claiming
/// that profile gets the JP-CLINS 1.5.2 meaning here (the institution match as the warning
/// `CLINS-INV-LOCAL-PATIENT-ID-INSTITUTION`).
pub const NATIVE_INVARIANT_KEYS: &[&str] = &[
    // JP_Bundle_CLINS (crate::rules)
    "bundle-profile-is-JP-Bundle-CLINS",
    "bundle-meta-tag-resourceType-exists",
    "bundle-meta-tag-resourceType-valid",
    "mustHaveOneMoreResources-with-designatedResourceType",
    "valid-system-bundleIdenfifier",
    "valid-value-bundleIdenfifier",
    "all-entries-needs-extension-of-institutionNumber",
    "all-entries-needs-valid-institutionNumber",
    "condition-needs-extension-of-Department",
    "observation-needs-extension-of-Department",
    "condition-needs-onsetDateTime",
    "first-bundle-entry-is-Patient",
    // JP_Bundle_CLINS (this module)
    "patients-profile-is-JP-Patient-eCS",
    "validEntryProfile-AllergyIntolerance",
    "validEntryProfile-Condition",
    "validEntryProfile-MedicationRequest",
    "validEntryProfile-ObservationLabResult",
    "condition-needs-contained-of-Encounter",
    "observation-needs-contained-of-Encounter",
    // JP-CLINS FSH, error, enforced on 6情報 entries by crate::rules
    "condition-needs-encounter",
    "observation-needs-encounter",
    "needs-localCode-observation-laboresult",
    // Compositions eReferral / eDischargeSummary
    "checkExist-CDASection-or-CompositionSection",
    "checkExist-CDASection-or-structuredSection",
    // JP_Patient_eCS
    "valid-system-local-patientID",
    "valid-system-insurance-patientIdentifier",
    "valid-value-insurance-patientIdentifier",
    "kanjiName-kanaName-donot-contain-ZenkakuKuuhaku",
    // JP_eCS_InstitutionNumber
    "valid-value-institutionNumberExtension",
    // JP_Observation_LabResult_eCS
    "resource-needs-extension-of-institutionNumber",
    // JP_MedicationRequest_eCS, JP_MedicationDosage_eCS
    "needs-anyOfStandardCode-medication",
    "validUsage-MedicationUsage-codesystem",
    "invalidUsage-MedicationUsage-codesystem",
    // JP_AllergyIntolerance_eCS (FSH, warning in the IG too)
    "warning-medication-allergy",
    // 健診結果報告書 bundles (checkup IG 1.1.3 package, v1.5.0 FSH)
    "bundle-metaprofile",
    "bundle-clins-metaprofile",
    "bundle-profile-is-JP-Bundle-eCheckupGeneral",
    "bundle-entry0-JP-Composition-eCheckupGeneral",
    "bundle-entry-JP-Patient-eCheckupGeneral",
    "bundle-entry-JP-Patient-CLINS-eCheckupGeneral",
    "bundle-entry-JP-OrganizationReporter-eCheckupGeneral",
    "bundle-entry-JP-PractitionerReporter-eCheckupGeneral",
    "bundle-entry-JP-Encounter-eCheckupGeneral",
];

/// JP-CLINS FSH invariants that are error-severity in the FSH but never bound in a published
/// package; clins-hub reports them as warnings only, so they are not in
/// [`NATIVE_INVARIANT_KEYS`] (a package that binds them needs them evaluated as errors).
pub const ADVISORY_INVARIANT_KEYS: &[&str] = &[
    "valid-system-local-patientID-with-institutionNumber",
    "either-KanjiName-KanaName-exist",
    "valid-system-local-doctorID",
    "valid-allergy-code",
];

/// `meta.profile` of `res` names `url`, with or without `|version`.
pub(crate) fn claims(res: &Value, url: &str) -> bool {
    res.get("meta")
        .and_then(|m| m.get("profile"))
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .any(|p| strip_version(p) == url)
}

fn has_extension(res: &Value, url: &str) -> bool {
    res.get("extension")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .any(|e| str_at(e, "url") == Some(url))
}

/// How a resource was reached: the kind of the enclosing bundle (`Other` for stand-alone
/// resources) and its entry index.
#[derive(Clone, Copy)]
struct Scope {
    kind: SubmissionKind,
    index: Option<usize>,
}

impl Scope {
    /// Bundles whose Patient is a `JP_Patient_eCS` and whose Patient must carry the member ID
    /// (checked by the service rules).
    fn clins_bundle(self) -> bool {
        matches!(
            self.kind,
            SubmissionKind::Clins6 { .. }
                | SubmissionKind::EReferral
                | SubmissionKind::EDischargeSummary
                | SubmissionKind::EPcs
                | SubmissionKind::ECheckup
        )
    }
    fn clins6(self) -> bool {
        matches!(self.kind, SubmissionKind::Clins6 { .. })
    }
    /// Bundles that type their MedicationRequest entries as `JP_MedicationRequest_eCS`.
    fn assigns_medication_request(self) -> bool {
        matches!(
            self.kind,
            SubmissionKind::Clins6 { .. }
                | SubmissionKind::EReferral
                | SubmissionKind::EDischargeSummary
        )
    }
    /// The Composition whose sections the service rules already checked.
    fn composition_checked(self) -> bool {
        self.index == Some(0)
            && matches!(
                self.kind,
                SubmissionKind::EReferral | SubmissionKind::EDischargeSummary
            )
    }
}

/// The 10-digit institution number of a `<prefix>1<number>` identifier system, or what is
/// wrong with it (English, Japanese).
fn oid_institution(system: &str, prefix: &str) -> Result<InstitutionNumber, (String, String)> {
    let rest = system.strip_prefix(prefix).unwrap_or_default();
    let Some(number) = rest.strip_prefix('1') else {
        return Err((
            format!("after `{prefix}` the system must continue with `1` and the 10-digit institution number, but it is `{rest}`"),
            format!("「{prefix}」の後は「1」と医療機関番号10桁が続く必要がありますが、「{rest}」になっています"),
        ));
    };
    InstitutionNumber::parse(number).map_err(|e| {
        (
            format!("the institution-number part is wrong: {}", e.en),
            format!("医療機関番号の部分が不正です。{}", e.ja),
        )
    })
}

impl Checker {
    /// Runs the invariants on `resource` (of type `rt`); `kind` is the detected kind when it is
    /// a Bundle, `None` for any other resource.
    pub(crate) fn invariants(&mut self, resource: &Value, rt: &str, kind: Option<SubmissionKind>) {
        let Some(kind) = kind.filter(|_| rt == "Bundle") else {
            let scope = Scope {
                kind: SubmissionKind::Other,
                index: None,
            };
            self.resource_invariants(resource, rt, rt, scope);
            return;
        };
        for (i, e) in entries(resource).iter().enumerate() {
            let Some(res) = e.get("resource") else {
                continue;
            };
            let Some(ert) = resource_type(res) else {
                continue;
            };
            let rp = format!("Bundle.entry[{i}].resource");
            let scope = Scope {
                kind,
                index: Some(i),
            };
            self.resource_invariants(res, ert, &rp, scope);
        }
        match kind {
            SubmissionKind::Clins6 { .. } => self.clins6_invariants(resource),
            SubmissionKind::EReferral | SubmissionKind::EDischargeSummary => {
                for (i, e) in entries(resource).iter().enumerate() {
                    let Some(res) = e.get("resource") else {
                        continue;
                    };
                    if resource_type(res) == Some("MedicationRequest") {
                        let rp = format!("Bundle.entry[{i}].resource");
                        self.entry_profile(
                            res,
                            "MedicationRequest",
                            &rp,
                            sys::MEDICATION_REQUEST_ECS,
                        );
                    }
                }
            }
            SubmissionKind::ECheckup | SubmissionKind::ECheckupGeneral => {
                self.checkup_entry_profiles(resource)
            }
            _ => {}
        }
    }

    fn resource_invariants(&mut self, res: &Value, rt: &str, rp: &str, scope: Scope) {
        match rt {
            "Patient"
                if scope.clins_bundle()
                    || claims(res, sys::PATIENT_ECS)
                    || claims(res, sys::CHECKUP_PATIENT_CLINS_113) =>
            {
                self.patient_invariants(res, rp, !scope.clins_bundle())
            }
            "MedicationRequest"
                if scope.assigns_medication_request()
                    || claims(res, sys::MEDICATION_REQUEST_ECS) =>
            {
                self.medication_request_invariants(res, rp)
            }
            "Observation" if claims(res, sys::LAB_RESULT_ECS) => {
                self.lab_result_invariants(res, rp, scope)
            }
            "AllergyIntolerance" if scope.clins_bundle() || claims(res, sys::ALLERGY_ECS) => {
                self.allergy_invariants(res, rp)
            }
            "Composition"
                if !scope.composition_checked()
                    && (claims(res, sys::COMPOSITION_EREFERRAL)
                        || claims(res, sys::COMPOSITION_EDISCHARGE)) =>
            {
                let top = sections(res, rp);
                self.cda_xor_structured(&top, rp);
            }
            "Practitioner" => self.local_doctor_id(res, rp),
            _ => {}
        }
        for (cp, c) in list(res, "contained", rp) {
            // valid-value-institutionNumberExtension wherever the extension is used.
            let _ = self.institution_extensions(c, &cp);
            if resource_type(c) == Some("Practitioner") {
                self.local_doctor_id(c, &cp);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // JP_Bundle_CLINS
    // -----------------------------------------------------------------------------------------

    fn clins6_invariants(&mut self, b: &Value) {
        let entries = entries(b);
        let first = entries
            .first()
            .and_then(|e| e.get("resource"))
            .filter(|r| resource_type(r) == Some("Patient"));
        if first.is_some_and(|p| !claims(p, sys::PATIENT_ECS)) {
            self.error(
                IssueType::Invariant,
                "CLINS-INV-PATIENT-PROFILE",
                "Bundle.entry[0].resource.meta.profile",
                format!(
                    "the Patient (first entry) does not declare the profile JP_Patient_eCS; add `{}|1` (or the URL without version) to its meta.profile (R0212)",
                    sys::PATIENT_ECS
                ),
                format!(
                    "先頭エントリのPatientがJP_Patient_eCSプロファイルへの準拠を宣言していません。meta.profileに「{}|1」（またはバージョンなしのURL）を指定してください（R0212）",
                    sys::PATIENT_ECS
                ),
            );
        }
        for (i, e) in entries.iter().enumerate() {
            let Some(res) = e.get("resource") else {
                continue;
            };
            let Some(rt) = resource_type(res) else {
                continue;
            };
            let want = match rt {
                "AllergyIntolerance" => sys::ALLERGY_ECS,
                "Condition" => sys::CONDITION_ECS,
                "Observation" => sys::LAB_RESULT_ECS,
                "MedicationRequest" => sys::MEDICATION_REQUEST_ECS,
                _ => continue,
            };
            let rp = format!("Bundle.entry[{i}].resource");
            self.entry_profile(res, rt, &rp, want);
            if rt == "Condition" || rt == "Observation" {
                self.contained_encounter_profile(res, rt, &rp);
            }
        }
    }

    /// validEntryProfile-*: an entry of type `rt` declares `want`.
    fn entry_profile(&mut self, res: &Value, rt: &str, rp: &str, want: &str) {
        if claims(res, want) {
            return;
        }
        let name = want.rsplit('/').next().unwrap_or(want);
        self.error(
            IssueType::Invariant,
            "CLINS-INV-ENTRY-PROFILE",
            format!("{rp}.meta.profile"),
            format!(
                "{rt} entries of this bundle must conform to {name}: add `{want}|1` (or the URL without version) to its meta.profile"
            ),
            format!(
                "このBundleの{rt}エントリは{name}に準拠する必要があります。meta.profileに「{want}|1」（またはバージョンなしのURL）を指定してください"
            ),
        );
    }

    /// R9013C / R9013O: a contained Encounter declaring JP Core JP_Encounter.
    fn contained_encounter_profile(&mut self, res: &Value, rt: &str, rp: &str) {
        let contained = list(res, "contained", rp);
        let is_encounter = |c: &Value| resource_type(c) == Some("Encounter");
        let ok = contained.iter().any(|(_, c)| {
            is_encounter(c) && (claims(c, sys::ENCOUNTER_CORE) || claims(c, sys::ENCOUNTER_ECS))
        });
        if ok {
            return;
        }
        let (path, en, ja) = match contained.iter().find(|(_, c)| is_encounter(c)) {
            Some((cp, _)) => (
                format!("{cp}.meta.profile"),
                format!(
                    "the contained Encounter does not declare the JP Core profile; add `{}` to its meta.profile",
                    sys::ENCOUNTER_CORE
                ),
                format!(
                    "containedのEncounterがJP Coreのプロファイルへの準拠を宣言していません。meta.profileに「{}」を指定してください",
                    sys::ENCOUNTER_CORE
                ),
            ),
            None => (
                format!("{rp}.contained"),
                format!(
                    "the {rt} has no contained Encounter; put the Encounter of the visit (AMB/IMP) in `contained` with meta.profile `{}`",
                    sys::ENCOUNTER_CORE
                ),
                format!(
                    "{rt}にcontainedのEncounterがありません。受診時の入外区分を表すEncounter（AMB／IMP）をmeta.profile「{}」としてcontainedに含めてください",
                    sys::ENCOUNTER_CORE
                ),
            ),
        };
        self.error(
            IssueType::Invariant,
            "CLINS-INV-CONTAINED-ENCOUNTER",
            path,
            format!("{en} (R9013)"),
            format!("{ja}（R9013）"),
        );
    }

    // -----------------------------------------------------------------------------------------
    // 健診結果報告書 bundles
    // -----------------------------------------------------------------------------------------

    fn checkup_entry_profiles(&mut self, b: &Value) {
        let entries = entries(b);
        let resources: Vec<&Value> = entries.iter().filter_map(|e| e.get("resource")).collect();
        let composition = entries
            .first()
            .and_then(|e| e.get("resource"))
            .filter(|r| resource_type(r) == Some("Composition"));
        if composition.is_some_and(|c| !claims(c, sys::CHECKUP_COMPOSITION)) {
            self.error(
                IssueType::Invariant,
                "CLINS-INV-CHECKUP-ENTRY-PROFILE",
                "Bundle.entry[0].resource.meta.profile",
                format!(
                    "the Composition (first entry) of a checkup report must declare JP_Composition_eCheckupGeneral; add `{}` to its meta.profile",
                    sys::CHECKUP_COMPOSITION
                ),
                format!(
                    "健診結果報告書の先頭エントリのCompositionはJP_Composition_eCheckupGeneralへの準拠を宣言する必要があります。meta.profileに「{}」を指定してください",
                    sys::CHECKUP_COMPOSITION
                ),
            );
        }
        let needed: [(&str, &str, &[&str]); 4] = [
            (
                "Patient",
                "患者",
                &[
                    sys::PATIENT_ECS,
                    sys::CHECKUP_PATIENT_CLINS_113,
                    sys::CHECKUP_PATIENT_CLINS,
                    sys::CHECKUP_PATIENT_GENERAL,
                ],
            ),
            ("Organization", "報告作成機関", &[sys::CHECKUP_ORGANIZATION]),
            ("Practitioner", "報告者", &[sys::CHECKUP_PRACTITIONER]),
            ("Encounter", "受診", &[sys::CHECKUP_ENCOUNTER]),
        ];
        for (rt, role_ja, urls) in needed {
            let present = resources.iter().any(|r| urls.iter().any(|u| claims(r, u)));
            if present {
                continue;
            }
            let shown = urls.join("` / `");
            self.error(
                IssueType::Invariant,
                "CLINS-INV-CHECKUP-ENTRY-PROFILE",
                "Bundle.entry",
                format!(
                    "a checkup report needs a {rt} entry whose meta.profile declares `{shown}`; add it or declare the profile on the existing {rt}"
                ),
                format!(
                    "健診結果報告書には、meta.profileで「{shown}」を宣言した{rt}（{role_ja}）のエントリが必要です。追加するか、既存の{rt}にプロファイルを指定してください"
                ),
            );
        }
    }

    // -----------------------------------------------------------------------------------------
    // JP_Patient_eCS
    // -----------------------------------------------------------------------------------------

    /// R1010, R1011, R1112, R1113, the former 患者ID OID and, for a Patient outside a JP-CLINS
    /// submission (`outside`), R1012.
    fn patient_invariants(&mut self, p: &Value, rp: &str, outside: bool) {
        let identifiers = list(p, "identifier", rp);
        let institution_ext = p
            .get("extension")
            .map(Value::items)
            .unwrap_or_default()
            .iter()
            .filter(|e| str_at(e, "url") == Some(sys::INSTITUTION_NUMBER_EXT))
            .find_map(|e| e.get("valueIdentifier").and_then(|v| str_at(v, "value")));

        // R1010 / R1011
        let local: Vec<(&String, &str)> = identifiers
            .iter()
            .filter_map(|(ip, id)| {
                str_at(id, "system")
                    .filter(|s| s.starts_with(sys::LOCAL_PATIENT_ID_PREFIX))
                    .map(|s| (ip, s))
            })
            .collect();
        for (n, (ip, system)) in local.iter().enumerate() {
            let sp = format!("{ip}.system");
            if n >= 1 {
                self.error(
                    IssueType::Invariant,
                    "CLINS-INV-LOCAL-PATIENT-ID",
                    sp,
                    "more than one 施設患者ID (system urn:oid:1.2.392.100495.20.3.51.…); give the institution's patient ID once (R1010)",
                    "施設患者ID（system「urn:oid:1.2.392.100495.20.3.51.…」）が複数あります。1つだけにしてください（R1010）",
                );
                continue;
            }
            match oid_institution(system, sys::LOCAL_PATIENT_ID_PREFIX) {
                Err((en, ja)) => self.error(
                    IssueType::Invariant,
                    "CLINS-INV-LOCAL-PATIENT-ID",
                    sp,
                    format!(
                        "the 施設患者ID system `{system}` is wrong: {en}; write urn:oid:1.2.392.100495.20.3.51.1 followed by the 10-digit institution number, e.g. urn:oid:1.2.392.100495.20.3.51.11311234567 (R1010)"
                    ),
                    format!(
                        "施設患者IDのsystem「{system}」が不正です。{ja}。「urn:oid:1.2.392.100495.20.3.51.1」に医療機関番号10桁を続けてください（例: urn:oid:1.2.392.100495.20.3.51.11311234567）（R1010）"
                    ),
                ),
                Ok(inst) => {
                    if let Some(ext) = institution_ext.filter(|v| *v != inst.as_str()) {
                        self.warning(
                            IssueType::Invariant,
                            "CLINS-INV-LOCAL-PATIENT-ID-INSTITUTION",
                            sp,
                            format!(
                                "the 施設患者ID system names institution {inst} but the Patient's institution-number extension says {ext}; the patient ID must be the one issued by the institution in the extension (R1011)"
                            ),
                            format!(
                                "施設患者IDのsystemの医療機関番号{inst}が、Patientの医療機関番号拡張の値{ext}と一致しません。拡張に記載した医療機関が発番した患者IDを指定してください（R1011）"
                            ),
                        );
                    }
                }
            }
        }
        // The former 患者ID OID (R1010 prose: a 施設患者ID uses the 100495 system).
        for (ip, id) in &identifiers {
            let Some(system) = str_at(id, "system") else {
                continue;
            };
            let Some(rest) = system.strip_prefix(sys::LEGACY_LOCAL_PATIENT_ID_PREFIX) else {
                continue;
            };
            let suggestion = rest
                .strip_prefix('1')
                .filter(|n| InstitutionNumber::parse(n).is_ok())
                .map(|n| format!("{}1{n}", sys::LOCAL_PATIENT_ID_PREFIX))
                .unwrap_or_else(|| format!("{}1<医療機関番号10桁>", sys::LOCAL_PATIENT_ID_PREFIX));
            self.warning(
                IssueType::Invariant,
                "CLINS-INV-LOCAL-PATIENT-ID-OID",
                format!("{ip}.system"),
                format!(
                    "`{system}` is the former patient-ID OID of the pre-JP-CLINS documents; JP-CLINS writes the 施設患者ID with system `{suggestion}` (R1010)"
                ),
                format!(
                    "「{system}」はJP-CLINS以前の文書で使われた旧来の患者ID OIDです。JP-CLINSでは施設患者IDのsystemを「{suggestion}」としてください（R1010）"
                ),
            );
        }
        // R1012 for a Patient that only claims the profile.
        if outside {
            let members: Vec<&String> = identifiers
                .iter()
                .filter(|(_, id)| str_at(id, "system") == Some(sys::INSURANCE_MEMBER_ID_SYSTEM))
                .map(|(ip, _)| ip)
                .collect();
            if members.is_empty() {
                self.warning(
                    IssueType::Invariant,
                    "CLINS-INV-PATIENT-MEMBER-ID",
                    format!("{rp}.identifier"),
                    format!(
                        "this Patient declares JP_Patient_eCS but has no insurance member id (被保険者個人識別子); add one identifier with system {} (required when the Patient is submitted to JP-CLINS) (R1012)",
                        sys::INSURANCE_MEMBER_ID_SYSTEM
                    ),
                    format!(
                        "JP_Patient_eCSを宣言したPatientに被保険者個人識別子がありません。system「{}」のidentifierを1つ追加してください（JP-CLINSへの送信時は必須）（R1012）",
                        sys::INSURANCE_MEMBER_ID_SYSTEM
                    ),
                );
            }
            for extra in members.iter().skip(1) {
                self.warning(
                    IssueType::Invariant,
                    "CLINS-INV-PATIENT-MEMBER-ID",
                    (*extra).clone(),
                    "more than one insurance member id; JP_Patient_eCS allows exactly one (R1012)",
                    "被保険者個人識別子が複数あります。JP_Patient_eCSでは1つだけです（R1012）",
                );
            }
        }
        // R1113 / R1112
        let names = list(p, "name", rp);
        let mut kanji_or_kana = false;
        for (np, name) in &names {
            let reps: Vec<&Value> = name
                .get("extension")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .filter(|e| str_at(e, "url") == Some(sys::EN_REPRESENTATION_EXT))
                .collect();
            if reps.is_empty() {
                continue;
            }
            if reps
                .iter()
                .any(|e| matches!(str_at(e, "valueCode"), Some("IDE" | "SYL")))
            {
                kanji_or_kana = true;
            }
            if let Some(text) = str_at(name, "text").filter(|t| t.contains('\u{3000}')) {
                self.error(
                    IssueType::Invariant,
                    "CLINS-INV-PATIENT-NAME-SPACE",
                    format!("{np}.text"),
                    format!(
                        "the kanji/kana name `{text}` contains a full-width space; write family and given name without a separator or separated by one half-width space (R1113)"
                    ),
                    format!(
                        "漢字・カナ氏名「{text}」に全角空白が含まれています。姓と名は区切らないか、半角空白1つで区切ってください（R1113）"
                    ),
                );
            }
        }
        if !kanji_or_kana {
            self.warning(
                IssueType::Invariant,
                "CLINS-INV-PATIENT-NAME-KANJI-KANA",
                format!("{rp}.name"),
                format!(
                    "the Patient has neither a kanji nor a kana name; give the name with extension {} valueCode IDE (kanji) and/or SYL (kana) (R1112)",
                    sys::EN_REPRESENTATION_EXT
                ),
                format!(
                    "患者氏名に漢字氏名もカナ氏名もありません。拡張「{}」のvalueCodeをIDE（漢字）またはSYL（カナ）とした氏名を指定してください（R1112）",
                    sys::EN_REPRESENTATION_EXT
                ),
            );
        }
    }

    /// R1090: 施設医師ID system `urn:oid:1.2.392.100495.20.3.41.1` + institution number.
    fn local_doctor_id(&mut self, p: &Value, rp: &str) {
        let local: Vec<(String, &str)> = list(p, "identifier", rp)
            .into_iter()
            .filter_map(|(ip, id)| {
                str_at(id, "system")
                    .filter(|s| s.starts_with(sys::LOCAL_DOCTOR_ID_PREFIX))
                    .map(|s| (ip, s))
            })
            .collect();
        for (n, (ip, system)) in local.iter().enumerate() {
            let sp = format!("{ip}.system");
            if n >= 1 {
                self.warning(
                    IssueType::Invariant,
                    "CLINS-INV-LOCAL-DOCTOR-ID",
                    sp,
                    "more than one 施設医師ID (system urn:oid:1.2.392.100495.20.3.41.…); give the institution's doctor ID once (R1090)",
                    "施設医師ID（system「urn:oid:1.2.392.100495.20.3.41.…」）が複数あります。1つだけにしてください（R1090）",
                );
                continue;
            }
            if let Err((en, ja)) = oid_institution(system, sys::LOCAL_DOCTOR_ID_PREFIX) {
                self.warning(
                    IssueType::Invariant,
                    "CLINS-INV-LOCAL-DOCTOR-ID",
                    sp,
                    format!(
                        "the 施設医師ID system `{system}` is wrong: {en}; write urn:oid:1.2.392.100495.20.3.41.1 followed by the 10-digit institution number (R1090)"
                    ),
                    format!(
                        "施設医師IDのsystem「{system}」が不正です。{ja}。「urn:oid:1.2.392.100495.20.3.41.1」に医療機関番号10桁を続けてください（R1090）"
                    ),
                );
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // JP_Observation_LabResult_eCS
    // -----------------------------------------------------------------------------------------

    fn lab_result_invariants(&mut self, res: &Value, rp: &str, scope: Scope) {
        // On 6情報 entries after the first the service rules report both (errors).
        let clins6_entry = scope.clins6() && scope.index.is_some_and(|i| i > 0);
        if !clins6_entry && !has_extension(res, sys::INSTITUTION_NUMBER_EXT) {
            self.error(
                IssueType::Invariant,
                "CLINS-INV-OBS-INSTITUTION",
                format!("{rp}.extension"),
                format!(
                    "a lab result (JP_Observation_LabResult_eCS) must carry the institution-number extension {} with the 10-digit institution number (R901101)",
                    sys::INSTITUTION_NUMBER_EXT
                ),
                format!(
                    "検査結果（JP_Observation_LabResult_eCS）には医療機関番号拡張「{}」（医療機関番号10桁）が必須です（R901101）",
                    sys::INSTITUTION_NUMBER_EXT
                ),
            );
        }
        if scope.clins6() {
            return;
        }
        let has_local =
            codings(res.get("code")).any(|c| str_at(c, "system") == Some(sys::OBS_LOCAL_CODE_CS));
        if !has_local {
            let path = match res.get("code") {
                Some(_) => format!("{rp}.code.coding"),
                None => format!("{rp}.code"),
            };
            self.warning(
                IssueType::Invariant,
                "CLINS-INV-LABRESULT-LOCAL-CODE",
                path,
                format!(
                    "the lab result has no local item code; for JP-CLINS add a coding with system {} (the institution's item code) (R6021)",
                    sys::OBS_LOCAL_CODE_CS
                ),
                format!(
                    "検査結果に施設固有の項目コードがありません。JP-CLINSではsystem「{}」のcodingを追加してください（R6021）",
                    sys::OBS_LOCAL_CODE_CS
                ),
            );
        }
    }

    // -----------------------------------------------------------------------------------------
    // JP_MedicationRequest_eCS / JP_MedicationDosage_eCS
    // -----------------------------------------------------------------------------------------

    fn medication_request_invariants(&mut self, m: &Value, rp: &str) {
        const STANDARD: [&str; 3] = [
            sys::YJ_CODE,
            sys::MEDICATION_GENERAL_ORDER_CODE,
            sys::MEDICATION_NOCODED_CS,
        ];
        let concept = m.get("medicationCodeableConcept");
        let count = |system: &str| {
            codings(concept)
                .filter(|c| str_at(c, "system") == Some(system))
                .count()
        };
        if !STANDARD.iter().any(|s| count(s) == 1) {
            let repeated = STANDARD.iter().any(|s| count(s) > 1);
            let path = match concept {
                Some(_) => format!("{rp}.medicationCodeableConcept.coding"),
                None => format!("{rp}.medicationCodeableConcept"),
            };
            let (why_en, why_ja) = if repeated {
                (
                    "a standard code system is used more than once",
                    "標準コードが同じコード体系で複数指定されています",
                )
            } else {
                (
                    "it has no standard medication code",
                    "標準の医薬品コードがありません",
                )
            };
            self.error(
                IssueType::Invariant,
                "CLINS-INV-MEDICATION-CODE",
                path,
                format!(
                    "medicationCodeableConcept must contain exactly one coding of one of: YJ code ({}), 一般名処方マスタ ({}), or NOCODED of {} when no standard code exists; {why_en}. Other codings may be added (R3010)",
                    sys::YJ_CODE,
                    sys::MEDICATION_GENERAL_ORDER_CODE,
                    sys::MEDICATION_NOCODED_CS
                ),
                format!(
                    "medicationCodeableConceptには、YJコード（{}）、一般名処方マスタ（{}）、標準コードなし（{}のNOCODED）のいずれかのcodingを1つ含めてください（{why_ja}）。それ以外のコードは追加してもかまいません（R3010）",
                    sys::YJ_CODE,
                    sys::MEDICATION_GENERAL_ORDER_CODE,
                    sys::MEDICATION_NOCODED_CS
                ),
            );
        }
        for (dp, d) in list(m, "dosageInstruction", rp) {
            self.dosage_usage(d, &dp);
        }
    }

    /// R5020 / R5021: the MHLW usage code xor the dummy usage code.
    fn dosage_usage(&mut self, d: &Value, dp: &str) {
        let timing = d.get("timing");
        let code = timing.and_then(|t| t.get("code"));
        let coding_list = code
            .map(|c| list(c, "coding", &format!("{dp}.timing.code")))
            .unwrap_or_default();
        let dummy = coding_list.iter().find(|(_, c)| {
            str_at(c, "system") == Some(sys::USAGE_UNCODED_CS)
                && str_at(c, "code") == Some(sys::USAGE_UNCODED_CODE)
        });
        let mhlw = coding_list
            .iter()
            .any(|(_, c)| str_at(c, "system") == Some(sys::USAGE_MHLW_CS));
        match (dummy, mhlw) {
            (Some((cp, _)), true) => self.error(
                IssueType::Invariant,
                "CLINS-INV-USAGE-CODE-BOTH",
                cp.clone(),
                format!(
                    "the dosage has both an MHLW usage code ({}) and the dummy usage code {}; use the dummy code only when no MHLW usage code exists: remove one of them (R5021)",
                    sys::USAGE_MHLW_CS,
                    sys::USAGE_UNCODED_CODE
                ),
                format!(
                    "用法に厚労省用法コード（{}）とダミー用法コード{}の両方が指定されています。ダミー用法コードは厚労省用法コードがない場合にのみ使います。どちらか一方を削除してください（R5021）",
                    sys::USAGE_MHLW_CS,
                    sys::USAGE_UNCODED_CODE
                ),
            ),
            (None, false) => {
                let path = match (timing, code) {
                    (None, _) => format!("{dp}.timing"),
                    (Some(_), None) => format!("{dp}.timing.code"),
                    (Some(_), Some(_)) => format!("{dp}.timing.code.coding"),
                };
                self.error(
                    IssueType::Invariant,
                    "CLINS-INV-USAGE-CODE",
                    path,
                    format!(
                        "timing.code.coding needs exactly one of: an MHLW usage code (電子処方箋用法コード, system {}) or, when none applies, the dummy code {} of {} (R5020)",
                        sys::USAGE_MHLW_CS,
                        sys::USAGE_UNCODED_CODE,
                        sys::USAGE_UNCODED_CS
                    ),
                    format!(
                        "timing.code.codingには、厚労省の電子処方箋用法コード（system「{}」）か、該当するコードがない場合はダミー用法コード{}（{}）のどちらか一方が必要です（R5020）",
                        sys::USAGE_MHLW_CS,
                        sys::USAGE_UNCODED_CODE,
                        sys::USAGE_UNCODED_CS
                    ),
                );
            }
            _ => {}
        }
    }

    // -----------------------------------------------------------------------------------------
    // JP_AllergyIntolerance_eCS
    // -----------------------------------------------------------------------------------------

    /// R2011 and R2013 (FSH only, warnings).
    fn allergy_invariants(&mut self, a: &Value, rp: &str) {
        let medication = a
            .get("category")
            .map(Value::items)
            .unwrap_or_default()
            .iter()
            .any(|c| c.as_str() == Some("medication"));
        let high = str_at(a, "criticality") == Some("high");
        if medication && !high {
            self.warning(
                IssueType::Invariant,
                "CLINS-INV-ALLERGY-CRITICALITY",
                format!("{rp}.criticality"),
                "a drug allergy (category medication) is expected to have criticality `high` for JP-CLINS; if another criticality is intended, no change is needed (R2011)",
                "薬剤アレルギー等（categoryがmedication）では、JP-CLINSではcriticalityを「high」にすることになっています。意図してhigh以外にしている場合は修正不要です（R2011）",
            );
        }
        if medication && high {
            return;
        }
        let jfagy = codings(a.get("code"))
            .any(|c| str_at(c, "system").is_some_and(|s| sys::JFAGY_SYSTEMS.contains(&s)));
        if !jfagy {
            let path = match a.get("code") {
                Some(_) => format!("{rp}.code.coding"),
                None => format!("{rp}.code"),
            };
            self.warning(
                IssueType::Invariant,
                "CLINS-INV-ALLERGY-CODE",
                path,
                "the allergen is not coded with JFAGY; add a JFAGY coding (food J9F…, non-food J9N…, drug YCM…/GCM…, or the dummy code with the allergen in code.text) (R2013)",
                "アレルゲンがJFAGYコードで記述されていません。JFAGYのcoding（食物J9F…、食物・薬剤以外J9N…、薬剤YCM…/GCM…、該当がなければダミーコードとcode.textにアレルゲン名）を追加してください（R2013）",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    //! Offline tests on small synthetic resources (the official examples are exercised in
    //! `tests/invariants.rs` when the shared folder is present).

    use crate::check;
    use fhir::json::{parse, Value};
    use fhir::outcome::{Issue, Severity};

    fn v(text: &str) -> Value {
        parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn found(issues: &[Issue]) -> Vec<(Severity, &'static str, &str)> {
        let mut f: Vec<(Severity, &'static str, &str)> = issues
            .iter()
            .map(|i| (i.severity, i.detail, i.expression.as_str()))
            .collect();
        f.sort_by(|a, b| (a.1, a.2).cmp(&(b.1, b.2)));
        f
    }

    const E: Severity = Severity::Error;
    const W: Severity = Severity::Warning;

    fn patient(identifiers: &str, name_text: &str) -> Value {
        v(&format!(
            r#"{{"resourceType":"Patient",
              "meta":{{"profile":["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Patient_eCS|1"]}},
              "identifier":[{identifiers}],
              "name":[{{"extension":[{{"url":"http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation","valueCode":"IDE"}}],
                        "text":"{name_text}"}}]}}"#
        ))
    }

    const MEMBER: &str = r#"{"system":"http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID","value":"00012345:あいう:１８７:"}"#;

    #[test]
    fn patient_invariants() {
        let local = |sys: &str| format!(r#"{{"system":"{sys}","value":"1"}}"#);
        let ok = local("urn:oid:1.2.392.100495.20.3.51.11311234567");
        assert!(check(&patient(&format!("{ok},{MEMBER}"), "大阪 花子")).is_empty());

        let bad = local("urn:oid:1.2.392.100495.20.3.51.1131123456");
        let issues = check(&patient(&format!("{bad},{MEMBER}"), "大阪 花子"));
        assert_eq!(
            found(&issues),
            vec![(
                E,
                "CLINS-INV-LOCAL-PATIENT-ID",
                "Patient.identifier[0].system"
            )]
        );

        let issues = check(&patient(&format!("{ok},{ok},{MEMBER}"), "大阪　花子"));
        assert_eq!(
            found(&issues),
            vec![
                (
                    E,
                    "CLINS-INV-LOCAL-PATIENT-ID",
                    "Patient.identifier[1].system"
                ),
                (E, "CLINS-INV-PATIENT-NAME-SPACE", "Patient.name[0].text"),
            ]
        );

        let old = local("urn:oid:1.2.392.200119.6.102.11311234567");
        let issues = check(&patient(&old, "大阪花子"));
        assert_eq!(
            found(&issues),
            vec![
                (
                    W,
                    "CLINS-INV-LOCAL-PATIENT-ID-OID",
                    "Patient.identifier[0].system"
                ),
                (W, "CLINS-INV-PATIENT-MEMBER-ID", "Patient.identifier"),
            ]
        );

        let mut kana_less = patient(MEMBER, "x");
        if let Some(name) = kana_less
            .as_object_mut()
            .and_then(|o| o.get_mut("name"))
            .and_then(Value::as_array_mut)
            .and_then(|a| a.first_mut())
            .and_then(Value::as_object_mut)
        {
            name.remove("extension");
        }
        assert_eq!(
            found(&check(&kana_less)),
            vec![(W, "CLINS-INV-PATIENT-NAME-KANJI-KANA", "Patient.name")]
        );
    }

    fn med_request(codings: &str, usage: &str) -> Value {
        v(&format!(
            r#"{{"resourceType":"MedicationRequest",
              "meta":{{"profile":["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_MedicationRequest_eCS"]}},
              "medicationCodeableConcept":{{"coding":[{codings}],"text":"薬"}},
              "dosageInstruction":[{{"text":"1日1回","timing":{{"code":{{"coding":[{usage}]}}}}}}]}}"#
        ))
    }

    #[test]
    fn medication_request_invariants() {
        let yj = r#"{"system":"http://capstandard.jp/iyaku.info/CodeSystem/YJ-code","code":"2171014F1020"}"#;
        let hot = r#"{"system":"http://medis.or.jp/CodeSystem/master-HOT9","code":"100795402"}"#;
        let mhlw = r#"{"system":"http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationUsage_ePrescription","code":"1013044400000000"}"#;
        let dummy = r#"{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_CLINS_MedicationUsage_Uncoded_CS","code":"0X0XXXXXXXXX0000"}"#;
        let jami =
            r#"{"system":"http://jami.jp/CodeSystem/MedicationUsage","code":"1013044400000000"}"#;

        assert!(check(&med_request(&format!("{hot},{yj}"), mhlw)).is_empty());
        assert!(check(&med_request(yj, dummy)).is_empty());
        assert_eq!(
            found(&check(&med_request(hot, &format!("{jami},{mhlw}")))),
            vec![(
                E,
                "CLINS-INV-MEDICATION-CODE",
                "MedicationRequest.medicationCodeableConcept.coding"
            )]
        );
        assert_eq!(
            found(&check(&med_request(yj, jami))),
            vec![(
                E,
                "CLINS-INV-USAGE-CODE",
                "MedicationRequest.dosageInstruction[0].timing.code.coding"
            )]
        );
        assert_eq!(
            found(&check(&med_request(yj, &format!("{mhlw},{dummy}")))),
            vec![(
                E,
                "CLINS-INV-USAGE-CODE-BOTH",
                "MedicationRequest.dosageInstruction[0].timing.code.coding[1]"
            )]
        );
    }

    #[test]
    fn lab_result_invariants() {
        let lab = |extension: &str, coding: &str| {
            v(&format!(
                r#"{{"resourceType":"Observation",
                  "meta":{{"profile":["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Observation_LabResult_eCS|1"]}},
                  "extension":[{extension}],"code":{{"coding":[{coding}]}}}}"#
            ))
        };
        let inst = r#"{"url":"http://jpfhir.jp/fhir/clins/Extension/StructureDefinition/JP_eCS_InstitutionNumber",
            "valueIdentifier":{"system":"http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no","value":"1311234567"}}"#;
        let local = r#"{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_CLINS_ObsLabResult_LocalCode_CS","code":"K"}"#;
        assert!(check(&lab(inst, local)).is_empty());
        assert_eq!(
            found(&check(&lab("", ""))),
            vec![
                (
                    W,
                    "CLINS-INV-LABRESULT-LOCAL-CODE",
                    "Observation.code.coding"
                ),
                (E, "CLINS-INV-OBS-INSTITUTION", "Observation.extension"),
            ]
        );
    }

    #[test]
    fn odd_values_never_panic() {
        for text in [
            r#"{"resourceType":"Patient","meta":{"profile":"http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Patient_eCS"},"identifier":{"system":"urn:oid:1.2.392.100495.20.3.51.1日本"},"name":5}"#,
            r#"{"resourceType":"Patient","meta":{"profile":[7]},"identifier":[{"system":"urn:oid:1.2.392.200119.6.102."}]}"#,
            r#"{"resourceType":"MedicationRequest","meta":{"profile":["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_MedicationRequest_eCS"]},"medicationCodeableConcept":[],"dosageInstruction":{"timing":{"code":{"coding":{"system":5}}}}}"#,
            r#"{"resourceType":"Practitioner","identifier":[{"system":"urn:oid:1.2.392.100495.20.3.41.１"}],"contained":{"resourceType":"Practitioner"}}"#,
            r#"{"resourceType":"AllergyIntolerance","meta":{"profile":["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_AllergyIntolerance_eCS"]},"category":"medication","code":{"coding":"x"}}"#,
            r#"{"resourceType":"Bundle","meta":{"profile":["http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eCheckupGeneral"]},"entry":[{"resource":{"resourceType":"Composition","meta":{"profile":{}}}}]}"#,
        ] {
            let _ = check(&v(text));
        }
    }
}
