//! Canonical URLs, identifier systems and codes that the JP-CLINS service rules depend on.
//!
//! Values come from the JP-CLINS IG 1.5.x (package 1.5.2), the checkup IG 1.1.3 / 1.5.0 and the
//! superseded stand-alone eReferral IG. Profile URLs are written without the `|version` suffix;
//! [`strip_version`] removes it from a `meta.profile` entry before comparison.

/// 6情報 submission bundle (`JP_Bundle_CLINS`).
pub const BUNDLE_CLINS: &str = "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_CLINS";
/// 診療情報提供書 document bundle.
pub const BUNDLE_EREFERRAL: &str =
    "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eReferral";
/// 退院時サマリー document bundle (JP-CLINS 1.5.x canonical).
pub const BUNDLE_EDISCHARGE: &str =
    "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eDischargeSummary";
/// 退院時サマリー bundle canonical used up to JP-CLINS 1.3.0-rc3 (and the stand-alone IG).
pub const BUNDLE_EDISCHARGE_OLD: &str =
    "http://jpfhir.jp/fhir/eDischargeSummary/StructureDefinition/JP_Bundle_eDischargeSummary";
/// 患者サマリー (療養計画書) document bundle.
pub const BUNDLE_EPCS: &str = "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_ePCS";
/// 健診結果報告書 bundle for CLINS (checkup IG; "CLINS and general use" from v1.5.0).
pub const BUNDLE_ECHECKUP: &str =
    "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eCheckupGeneral";
/// 健診結果報告書 bundle of checkup IG package 1.1.3 for general (non-CLINS) use. Its
/// `identifier.system` is fixed to [`LEGACY_DOCUMENT_IDENTIFIER_SYSTEM`]; dropped in v1.5.0.
pub const BUNDLE_ECHECKUP_GENERAL: &str =
    "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Bundle_eCheckupGeneral";
/// Stand-alone eReferral IG bundle (≤ 1.1.6), superseded by [`BUNDLE_EREFERRAL`].
pub const BUNDLE_EREFERRAL_LEGACY: &str =
    "http://jpfhir.jp/fhir/eReferral/StructureDefinition/JP_Bundle_eReferral";

/// `Bundle.identifier.system` of every CLINS submission (the Bundle-ID).
pub const BUNDLE_IDENTIFIER_SYSTEM: &str = "http://jpfhir.jp/fhir/clins/bundle-identifier";
/// `Bundle.identifier.system` of the superseded stand-alone documents.
pub const LEGACY_DOCUMENT_IDENTIFIER_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/documentInstance-identifier";

/// `Bundle.meta.tag` system naming the single resource type of a 6情報 bundle.
pub const BUNDLE_RESOURCE_TYPE_CS: &str =
    "http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS";
/// `meta.tag` system of the LTS / UNINFORMED / UNDELIVERED flags.
pub const INDICATION_CS: &str = "http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication";

/// 被保険者個人識別子 (`Patient.identifier.system`).
pub const INSURANCE_MEMBER_ID_SYSTEM: &str =
    "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID";
/// 医療機関番号 extension.
pub const INSTITUTION_NUMBER_EXT: &str =
    "http://jpfhir.jp/fhir/clins/Extension/StructureDefinition/JP_eCS_InstitutionNumber";
/// Fixed `valueIdentifier.system` of [`INSTITUTION_NUMBER_EXT`].
pub const INSTITUTION_NUMBER_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";
/// 診療科 extension.
pub const DEPARTMENT_EXT: &str =
    "http://jpfhir.jp/fhir/eCS/Extension/StructureDefinition/JP_eCS_Department";

/// MEDIS 病名管理番号, the only disease code system CLINS accepts.
pub const MEDIS_DISEASE_KEY: &str = "http://medis.or.jp/CodeSystem/master-disease-keyNumber";

/// 検査: the institution's local item code (always the first coding).
pub const OBS_LOCAL_CODE_CS: &str =
    "http://jpfhir.jp/fhir/clins/CodeSystem/JP_CLINS_ObsLabResult_LocalCode_CS";
/// 指定検査 (core 43 items), JLAC10.
pub const OBS_CORE_LABO_JLAC10: &str =
    "http://jpfhir.jp/fhir/clins/CodeSystem/JLAC10/JP_CLINS_ObsLabResult_CoreLabo_CS";
/// 指定検査, JLAC11 (same codes as JLAC10 in 1.5.x).
pub const OBS_CORE_LABO_JLAC11: &str =
    "http://jpfhir.jp/fhir/clins/CodeSystem/JLAC11/JP_CLINS_ObsLabResult_CoreLabo_CS";
/// 指定感染症 (5 items), JLAC10.
pub const OBS_INFECTION_LABO_JLAC10: &str =
    "http://jpfhir.jp/fhir/clins/CodeSystem/JLAC10/JP_CLINS_ObsLabResult_InfectionLabo_CS";
/// 指定感染症, JLAC11.
pub const OBS_INFECTION_LABO_JLAC11: &str =
    "http://jpfhir.jp/fhir/clins/CodeSystem/JLAC11/JP_CLINS_ObsLabResult_InfectionLabo_CS";
/// General JLAC10 17-digit code (MEDIS).
pub const JLAC10_MEDIS: &str = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits";
/// 未標準化コード項目(JLAC), code `99999999999999999`.
pub const OBS_UNCODED_CS: &str =
    "http://jpfhir.jp/fhir/clins/CodeSystem/JP_CLINS_ObsLabResult_Uncoded_CS";

/// Profiles whose invariants [`crate::invariants`] evaluates (JP-CLINS package 1.5.2).
pub const PATIENT_ECS: &str = "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Patient_eCS";
pub const ALLERGY_ECS: &str =
    "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_AllergyIntolerance_eCS";
pub const CONDITION_ECS: &str = "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Condition_eCS";
pub const MEDICATION_REQUEST_ECS: &str =
    "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_MedicationRequest_eCS";
pub const LAB_RESULT_ECS: &str =
    "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Observation_LabResult_eCS";
/// JP Core Encounter, the profile of the Encounter contained in 6情報 resources.
pub const ENCOUNTER_CORE: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Encounter";
/// Also accepted for the contained Encounter by the later JP-CLINS FSH.
pub const ENCOUNTER_ECS: &str = "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Encounter_eCS";
pub const COMPOSITION_EREFERRAL: &str =
    "http://jpfhir.jp/fhir/eReferral/StructureDefinition/JP_Composition_eReferral";
pub const COMPOSITION_EDISCHARGE: &str =
    "http://jpfhir.jp/fhir/eDischargeSummary/StructureDefinition/JP_Composition_eDischargeSummary";

/// Entry profiles of the 健診結果報告書 bundles (checkup IG 1.1.3 and v1.5.0).
pub const CHECKUP_COMPOSITION: &str =
    "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Composition_eCheckupGeneral";
/// CLINS checkup Patient of checkup IG v1.5.0 (1.1.3 uses [`PATIENT_ECS`]).
pub const CHECKUP_PATIENT_CLINS: &str =
    "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Patient_eCheckupGeneral";
/// CLINS checkup Patient of checkup IG package 1.1.3 (derived from [`PATIENT_ECS`]).
pub const CHECKUP_PATIENT_CLINS_113: &str =
    "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Patient_eCS";
/// General-use checkup Patient of checkup IG v1.5.0.
pub const CHECKUP_PATIENT_GENERAL: &str =
    "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Patient_eCheckupGeneral";
pub const CHECKUP_ORGANIZATION: &str =
    "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Organization_eCheckupGeneral";
pub const CHECKUP_PRACTITIONER: &str =
    "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Practitioner_eCheckupGeneral";
pub const CHECKUP_ENCOUNTER: &str =
    "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Encounter_eCheckupGeneral";

/// 施設患者ID system prefix; the full system is this + `1` + the 10-digit institution number.
pub const LOCAL_PATIENT_ID_PREFIX: &str = "urn:oid:1.2.392.100495.20.3.51.";
/// 施設医師ID system prefix; the full system is this + `1` + the 10-digit institution number.
pub const LOCAL_DOCTOR_ID_PREFIX: &str = "urn:oid:1.2.392.100495.20.3.41.";
/// The former 患者ID OID (`1.2.392.200119.6.102.1` + institution number) of the pre-JP-CLINS
/// documents (stand-alone eReferral IG, checkup IG 1.1.3 examples).
pub const LEGACY_LOCAL_PATIENT_ID_PREFIX: &str = "urn:oid:1.2.392.200119.6.102.";
/// `name.extension` marking a name as kanji (`IDE`) or kana (`SYL`).
pub const EN_REPRESENTATION_EXT: &str =
    "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";

/// Medication codes of which `medicationCodeableConcept` needs one (R3010).
pub const YJ_CODE: &str = "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code";
pub const MEDICATION_GENERAL_ORDER_CODE: &str =
    "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationGeneralOrderCode";
pub const MEDICATION_NOCODED_CS: &str =
    "http://jpfhir.jp/fhir/eCS/CodeSystem/MedicationCodeNocoded_CS";
/// MHLW 電子処方箋用法コード.
pub const USAGE_MHLW_CS: &str =
    "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationUsage_ePrescription";
/// Dummy usage code system and its only code.
pub const USAGE_UNCODED_CS: &str =
    "http://jpfhir.jp/fhir/clins/CodeSystem/JP_CLINS_MedicationUsage_Uncoded_CS";
pub const USAGE_UNCODED_CODE: &str = "0X0XXXXXXXXX0000";

/// JFAGY allergen code systems (food, non-food non-drug, drug as named by R2013, drug YCM / GCM).
pub const JFAGY_SYSTEMS: [&str; 5] = [
    "http://jpfhir.jp/fhir/core/CodeSystem/JP_JfagyFoodAllergen_CS",
    "http://jpfhir.jp/fhir/core/CodeSystem/JP_JfagyNonFoodNonMedicationAllergen_CS",
    "http://jpfhir.jp/fhir/core/CodeSystem/JP_JfagyMedicationAllergen_CS",
    "http://jpfhir.jp/fhir/core/CodeSystem/YCM/JP_JfagyMedicationAllergen_CS",
    "http://jpfhir.jp/fhir/core/CodeSystem/GCM/JP_JfagyMedicationAllergen_CS",
];

/// `Composition.type` codes (system `http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes`).
pub const DOC_TYPE_EREFERRAL: &str = "57133-1";
pub const DOC_TYPE_EDISCHARGE: &str = "18842-5";
pub const DOC_TYPE_EPCS: &str = "56447-6";
pub const DOC_TYPE_ECHECKUP: &str = "53576-5";

/// A `meta.profile` entry without its `|version` suffix.
pub fn strip_version(canonical: &str) -> &str {
    canonical.split_once('|').map_or(canonical, |(url, _)| url)
}

/// R4 required bindings of the statuses that decide visibility (`Condition`,
/// `AllergyIntolerance`).
pub const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
pub const CONDITION_CLINICAL_CODES: [&str; 6] = [
    "active",
    "recurrence",
    "relapse",
    "inactive",
    "remission",
    "resolved",
];
pub const CONDITION_VER_STATUS: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
pub const CONDITION_VER_STATUS_CODES: [&str; 6] = [
    "unconfirmed",
    "provisional",
    "differential",
    "confirmed",
    "refuted",
    "entered-in-error",
];
/// The codes of `CONDITION_VER_STATUS` that make a diagnosis suspected (DECISIONS.md).
pub const CONDITION_SUSPECTED_CODES: [&str; 3] = ["unconfirmed", "provisional", "differential"];
pub const ALLERGY_CLINICAL: &str =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
pub const ALLERGY_CLINICAL_CODES: [&str; 3] = ["active", "inactive", "resolved"];
pub const ALLERGY_VERIFICATION: &str =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";
pub const ALLERGY_VERIFICATION_CODES: [&str; 4] =
    ["unconfirmed", "confirmed", "refuted", "entered-in-error"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_version_suffix() {
        assert_eq!(strip_version("http://x/SD|1"), "http://x/SD");
        assert_eq!(strip_version("http://x/SD|1.5.5"), "http://x/SD");
        assert_eq!(strip_version("http://x/SD"), "http://x/SD");
        assert_eq!(strip_version(""), "");
    }
}
