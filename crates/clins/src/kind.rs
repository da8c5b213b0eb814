//! What a submitted Bundle is (6情報 unit, which document, legacy) and how single resources are
//! classified into the 6 information items.

use fhir::json::Value;

use crate::systems::{self, strip_version};

/// The item a 6情報 bundle carries, from its `meta.tag` (system `BundleResourceType_CS`).
/// `MedicationRequest` is in the code system but is never sent stand-alone (only inside
/// documents), so it is not an item here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemType {
    Condition,
    AllergyIntolerance,
    Observation,
}

impl ItemType {
    /// The tag code, which is also the resource type every non-Patient entry must have.
    pub fn resource_type(self) -> &'static str {
        match self {
            ItemType::Condition => "Condition",
            ItemType::AllergyIntolerance => "AllergyIntolerance",
            ItemType::Observation => "Observation",
        }
    }
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "Condition" => Some(ItemType::Condition),
            "AllergyIntolerance" => Some(ItemType::AllergyIntolerance),
            "Observation" => Some(ItemType::Observation),
            _ => None,
        }
    }
}

/// What kind of submission a Bundle is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubmissionKind {
    /// 6情報 submission unit (`JP_Bundle_CLINS`, type collection). `item` is `None` when the
    /// BundleResourceType tag is missing or not one of the three items.
    Clins6 { item: Option<ItemType> },
    /// 診療情報提供書 (`JP_Bundle_eReferral`, Composition type 57133-1).
    EReferral,
    /// 退院時サマリー (`JP_Bundle_eDischargeSummary`, 18842-5).
    EDischargeSummary,
    /// 患者サマリー / 療養計画書 (`JP_Bundle_ePCS`, 56447-6).
    EPcs,
    /// 健診結果報告書 for CLINS (`http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eCheckupGeneral`, 53576-5).
    ECheckup,
    /// 健診結果報告書 in the general-use (non-CLINS) bundle profile of checkup IG package 1.1.3
    /// (`http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Bundle_eCheckupGeneral`): it carries
    /// no Bundle-ID and no 被保険者個人識別子, so it cannot be a CLINS submission.
    ECheckupGeneral,
    /// Superseded stand-alone eReferral IG bundle (old profile or old identifier system).
    LegacyEReferral,
    /// Anything else (other bundle types, or not a Bundle at all).
    Other,
}

impl SubmissionKind {
    /// Document bundles (`Bundle.type = document`, Composition first).
    pub fn is_document(self) -> bool {
        matches!(
            self,
            SubmissionKind::EReferral
                | SubmissionKind::EDischargeSummary
                | SubmissionKind::EPcs
                | SubmissionKind::ECheckup
                | SubmissionKind::ECheckupGeneral
                | SubmissionKind::LegacyEReferral
        )
    }
    /// Kinds the service accepts as a submission (subject to [`crate::check`] finding no error).
    pub fn is_clins_submission(self) -> bool {
        matches!(
            self,
            SubmissionKind::Clins6 { .. }
                | SubmissionKind::EReferral
                | SubmissionKind::EDischargeSummary
                | SubmissionKind::EPcs
                | SubmissionKind::ECheckup
        )
    }
    /// The `Composition.type` code of a document kind.
    pub fn composition_type(self) -> Option<&'static str> {
        match self {
            SubmissionKind::EReferral | SubmissionKind::LegacyEReferral => {
                Some(systems::DOC_TYPE_EREFERRAL)
            }
            SubmissionKind::EDischargeSummary => Some(systems::DOC_TYPE_EDISCHARGE),
            SubmissionKind::EPcs => Some(systems::DOC_TYPE_EPCS),
            SubmissionKind::ECheckup | SubmissionKind::ECheckupGeneral => {
                Some(systems::DOC_TYPE_ECHECKUP)
            }
            SubmissionKind::Clins6 { .. } | SubmissionKind::Other => None,
        }
    }
    /// The current canonical URL of the Bundle profile of this kind.
    pub fn profile(self) -> Option<&'static str> {
        match self {
            SubmissionKind::Clins6 { .. } => Some(systems::BUNDLE_CLINS),
            SubmissionKind::EReferral | SubmissionKind::LegacyEReferral => {
                Some(systems::BUNDLE_EREFERRAL)
            }
            SubmissionKind::EDischargeSummary => Some(systems::BUNDLE_EDISCHARGE),
            SubmissionKind::EPcs => Some(systems::BUNDLE_EPCS),
            SubmissionKind::ECheckup | SubmissionKind::ECheckupGeneral => {
                Some(systems::BUNDLE_ECHECKUP)
            }
            SubmissionKind::Other => None,
        }
    }
    /// Japanese name, for messages.
    pub fn label_ja(self) -> &'static str {
        match self {
            SubmissionKind::Clins6 { .. } => "6情報",
            SubmissionKind::EReferral | SubmissionKind::LegacyEReferral => "診療情報提供書",
            SubmissionKind::EDischargeSummary => "退院時サマリー",
            SubmissionKind::EPcs => "患者サマリー",
            SubmissionKind::ECheckup | SubmissionKind::ECheckupGeneral => "健診結果報告書",
            SubmissionKind::Other => "その他",
        }
    }
}

/// How a kind was recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Evidence {
    /// `meta.profile[index]` names the kind's bundle profile.
    Profile(usize),
    /// No known profile: recognised by the BundleResourceType tag or the Composition type.
    Content,
    /// Neither.
    None,
}

/// The submission kind of `bundle` (see [`SubmissionKind`]). Decided by `meta.profile` (with or
/// without `|version`); without a known profile, by the BundleResourceType tag (6情報) or the
/// first entry's `Composition.type` code (documents).
pub fn detect(bundle: &Value) -> SubmissionKind {
    detect_with_evidence(bundle).0
}

pub(crate) fn detect_with_evidence(bundle: &Value) -> (SubmissionKind, Evidence) {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return (SubmissionKind::Other, Evidence::None);
    }
    let profiles = bundle
        .get("meta")
        .and_then(|m| m.get("profile"))
        .map(Value::items)
        .unwrap_or_default();
    for (i, p) in profiles.iter().enumerate() {
        let Some(url) = p.as_str().map(strip_version) else {
            continue;
        };
        let kind = match url {
            systems::BUNDLE_CLINS => SubmissionKind::Clins6 {
                item: tagged_item(bundle),
            },
            systems::BUNDLE_EREFERRAL => SubmissionKind::EReferral,
            systems::BUNDLE_EDISCHARGE | systems::BUNDLE_EDISCHARGE_OLD => {
                SubmissionKind::EDischargeSummary
            }
            systems::BUNDLE_EPCS => SubmissionKind::EPcs,
            systems::BUNDLE_ECHECKUP => SubmissionKind::ECheckup,
            systems::BUNDLE_ECHECKUP_GENERAL => SubmissionKind::ECheckupGeneral,
            systems::BUNDLE_EREFERRAL_LEGACY => SubmissionKind::LegacyEReferral,
            _ => continue,
        };
        return (kind, Evidence::Profile(i));
    }
    if bundle_tags(bundle).next().is_some() {
        return (
            SubmissionKind::Clins6 {
                item: tagged_item(bundle),
            },
            Evidence::Content,
        );
    }
    let legacy_id = bundle
        .get("identifier")
        .and_then(|i| i.get("system"))
        .and_then(Value::as_str)
        == Some(systems::LEGACY_DOCUMENT_IDENTIFIER_SYSTEM);
    let first = bundle
        .get("entry")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
        .and_then(|e| e.get("resource"));
    let Some(composition) =
        first.filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Composition"))
    else {
        return (SubmissionKind::Other, Evidence::None);
    };
    let kind = match composition_type_codes(composition).next() {
        Some(systems::DOC_TYPE_EREFERRAL) if legacy_id => SubmissionKind::LegacyEReferral,
        Some(systems::DOC_TYPE_EREFERRAL) => SubmissionKind::EReferral,
        Some(systems::DOC_TYPE_EDISCHARGE) => SubmissionKind::EDischargeSummary,
        Some(systems::DOC_TYPE_EPCS) => SubmissionKind::EPcs,
        Some(systems::DOC_TYPE_ECHECKUP) if legacy_id => SubmissionKind::ECheckupGeneral,
        Some(systems::DOC_TYPE_ECHECKUP) => SubmissionKind::ECheckup,
        _ => return (SubmissionKind::Other, Evidence::None),
    };
    (kind, Evidence::Content)
}

/// The known `Composition.type.coding.code` values of a Composition, in order.
fn composition_type_codes(composition: &Value) -> impl Iterator<Item = &str> {
    composition
        .get("type")
        .and_then(|t| t.get("coding"))
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.get("code").and_then(Value::as_str))
        .filter(|c| {
            matches!(
                *c,
                systems::DOC_TYPE_EREFERRAL
                    | systems::DOC_TYPE_EDISCHARGE
                    | systems::DOC_TYPE_EPCS
                    | systems::DOC_TYPE_ECHECKUP
            )
        })
}

/// `(index in meta.tag, tag)` for each BundleResourceType tag of a bundle.
pub(crate) fn bundle_tags(bundle: &Value) -> impl Iterator<Item = (usize, &Value)> {
    bundle
        .get("meta")
        .and_then(|m| m.get("tag"))
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            t.get("system").and_then(Value::as_str) == Some(systems::BUNDLE_RESOURCE_TYPE_CS)
        })
}

fn tagged_item(bundle: &Value) -> Option<ItemType> {
    bundle_tags(bundle)
        .filter_map(|(_, t)| t.get("code").and_then(Value::as_str))
        .find_map(ItemType::from_code)
}

/// A 6情報 bundle holding only the Patient: "delete everything sent under this Bundle-ID"
/// (JP-CLINS 4.1).
pub fn is_patient_only(bundle: &Value) -> bool {
    let entries = bundle.get("entry").map(Value::items).unwrap_or_default();
    entries.len() == 1
        && entries[0]
            .get("resource")
            .and_then(|r| r.get("resourceType"))
            .and_then(Value::as_str)
            == Some("Patient")
}

/// 検査 vs 感染症 (JP-CLINS 4.7: decided solely by the code system).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LabItem {
    /// 感染症: a coding in the InfectionLabo code system (JLAC10 or JLAC11).
    Infection,
    /// 検査: everything else.
    Lab,
}

/// Classifies a lab-result Observation as 感染症 or 検査.
pub fn lab_item(observation: &Value) -> LabItem {
    let infection = codings(observation.get("code")).any(|c| {
        matches!(
            c.get("system").and_then(Value::as_str),
            Some(systems::OBS_INFECTION_LABO_JLAC10 | systems::OBS_INFECTION_LABO_JLAC11)
        )
    });
    if infection {
        LabItem::Infection
    } else {
        LabItem::Lab
    }
}

/// 薬剤アレルギー等 vs その他アレルギー等 (JP-CLINS 4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AllergyItem {
    /// 薬剤禁忌 / 薬剤アレルギー等: `category` contains `medication`.
    Drug,
    /// その他アレルギー等 (food, environment, or no category).
    Other,
}

/// Classifies an AllergyIntolerance.
pub fn allergy_item(allergy: &Value) -> AllergyItem {
    let drug = allergy
        .get("category")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .any(|c| c.as_str() == Some("medication"));
    if drug {
        AllergyItem::Drug
    } else {
        AllergyItem::Other
    }
}

/// The JP-CLINS flags of a resource (`meta.tag`, system `JP_ehrshrs_indication`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// LTS 長期保存: kept until the institution deletes it.
    pub long_term: bool,
    /// UNINFORMED 未告知 (Condition only).
    pub uninformed: bool,
    /// UNDELIVERED 未提供 (Condition only).
    pub undelivered: bool,
}

/// Reads the flags of `resource`; unknown codes are ignored (the rules report them).
pub fn flags(resource: &Value) -> Flags {
    let mut f = Flags::default();
    let tags = resource
        .get("meta")
        .and_then(|m| m.get("tag"))
        .map(Value::items)
        .unwrap_or_default();
    for t in tags {
        if t.get("system").and_then(Value::as_str) != Some(systems::INDICATION_CS) {
            continue;
        }
        match t.get("code").and_then(Value::as_str) {
            Some("LTS") => f.long_term = true,
            Some("UNINFORMED") => f.uninformed = true,
            Some("UNDELIVERED") => f.undelivered = true,
            _ => {}
        }
    }
    f
}

/// The codings of a CodeableConcept (empty when absent or malformed).
pub(crate) fn codings(concept: Option<&Value>) -> impl Iterator<Item = &Value> {
    concept
        .and_then(|c| c.get("coding"))
        .map(Value::items)
        .unwrap_or_default()
        .iter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fhir::json::parse;

    fn v(text: &str) -> Value {
        parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn detects_by_profile_with_or_without_version() {
        let cases = [
            (
                r#"{"resourceType":"Bundle","meta":{"profile":["http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_CLINS|1"],
                   "tag":[{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS","code":"Observation"}]}}"#,
                SubmissionKind::Clins6 {
                    item: Some(ItemType::Observation),
                },
            ),
            (
                r#"{"resourceType":"Bundle","meta":{"profile":["http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_CLINS"],
                   "tag":[{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS","code":"MedicationRequest"}]}}"#,
                SubmissionKind::Clins6 { item: None },
            ),
            (
                r#"{"resourceType":"Bundle","meta":{"profile":["http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eReferral|1.5.5"]}}"#,
                SubmissionKind::EReferral,
            ),
            (
                r#"{"resourceType":"Bundle","meta":{"profile":["http://example.org/x","http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eDischargeSummary"]}}"#,
                SubmissionKind::EDischargeSummary,
            ),
            (
                r#"{"resourceType":"Bundle","meta":{"profile":["http://jpfhir.jp/fhir/eDischargeSummary/StructureDefinition/JP_Bundle_eDischargeSummary"]}}"#,
                SubmissionKind::EDischargeSummary,
            ),
            (
                r#"{"resourceType":"Bundle","meta":{"profile":["http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_ePCS|1"]}}"#,
                SubmissionKind::EPcs,
            ),
            (
                r#"{"resourceType":"Bundle","meta":{"profile":["http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eCheckupGeneral"]}}"#,
                SubmissionKind::ECheckup,
            ),
            (
                r#"{"resourceType":"Bundle","meta":{"profile":["http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Bundle_eCheckupGeneral"]}}"#,
                SubmissionKind::ECheckupGeneral,
            ),
            (
                r#"{"resourceType":"Bundle","meta":{"profile":["http://jpfhir.jp/fhir/eReferral/StructureDefinition/JP_Bundle_eReferral"]}}"#,
                SubmissionKind::LegacyEReferral,
            ),
            (
                r#"{"resourceType":"Bundle","type":"searchset"}"#,
                SubmissionKind::Other,
            ),
            (r#"{"resourceType":"Patient"}"#, SubmissionKind::Other),
            (r#"[1,2]"#, SubmissionKind::Other),
            (
                r#"{"resourceType":"Bundle","meta":{"profile":"not-an-array"}}"#,
                SubmissionKind::Other,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(detect(&v(text)), want, "{text}");
        }
    }

    #[test]
    fn falls_back_to_content() {
        let doc = |code: &str, system: &str| {
            v(&format!(
                r#"{{"resourceType":"Bundle","type":"document","identifier":{{"system":"{system}"}},
                   "entry":[{{"resource":{{"resourceType":"Composition","type":{{"coding":[{{"code":"{code}"}}]}}}}}}]}}"#
            ))
        };
        let clins = systems::BUNDLE_IDENTIFIER_SYSTEM;
        let old = systems::LEGACY_DOCUMENT_IDENTIFIER_SYSTEM;
        assert_eq!(detect(&doc("57133-1", clins)), SubmissionKind::EReferral);
        assert_eq!(
            detect(&doc("57133-1", old)),
            SubmissionKind::LegacyEReferral
        );
        assert_eq!(
            detect(&doc("18842-5", clins)),
            SubmissionKind::EDischargeSummary
        );
        assert_eq!(detect(&doc("56447-6", clins)), SubmissionKind::EPcs);
        assert_eq!(detect(&doc("53576-5", clins)), SubmissionKind::ECheckup);
        assert_eq!(
            detect(&doc("53576-5", old)),
            SubmissionKind::ECheckupGeneral
        );
        assert_eq!(detect(&doc("11488-4", clins)), SubmissionKind::Other);
        let (_, ev) = detect_with_evidence(&doc("57133-1", clins));
        assert_eq!(ev, Evidence::Content);

        let tagged = v(
            r#"{"resourceType":"Bundle","meta":{"tag":[{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS","code":"Condition"}]}}"#,
        );
        assert_eq!(
            detect(&tagged),
            SubmissionKind::Clins6 {
                item: Some(ItemType::Condition)
            }
        );
    }

    #[test]
    fn kind_properties() {
        assert!(SubmissionKind::EReferral.is_document());
        assert!(!SubmissionKind::Clins6 { item: None }.is_document());
        assert!(SubmissionKind::ECheckup.is_clins_submission());
        assert!(!SubmissionKind::ECheckupGeneral.is_clins_submission());
        assert!(!SubmissionKind::LegacyEReferral.is_clins_submission());
        assert!(!SubmissionKind::Other.is_clins_submission());
        assert_eq!(SubmissionKind::EPcs.composition_type(), Some("56447-6"));
        assert_eq!(
            SubmissionKind::LegacyEReferral.profile(),
            Some(systems::BUNDLE_EREFERRAL)
        );
        assert_eq!(ItemType::from_code("MedicationRequest"), None);
        assert_eq!(ItemType::Observation.resource_type(), "Observation");
        assert_eq!(
            SubmissionKind::EDischargeSummary.label_ja(),
            "退院時サマリー"
        );
    }

    #[test]
    fn classifies_lab_items() {
        let obs = |system: &str| {
            v(&format!(
                r#"{{"resourceType":"Observation","code":{{"coding":[
                   {{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_CLINS_ObsLabResult_LocalCode_CS","code":"1"}},
                   {{"system":"{system}","code":"5F016141002305111"}}]}}}}"#
            ))
        };
        assert_eq!(
            lab_item(&obs(systems::OBS_INFECTION_LABO_JLAC10)),
            LabItem::Infection
        );
        assert_eq!(
            lab_item(&obs(systems::OBS_INFECTION_LABO_JLAC11)),
            LabItem::Infection
        );
        assert_eq!(lab_item(&obs(systems::OBS_CORE_LABO_JLAC10)), LabItem::Lab);
        assert_eq!(lab_item(&obs(systems::JLAC10_MEDIS)), LabItem::Lab);
        assert_eq!(
            lab_item(&v(r#"{"resourceType":"Observation"}"#)),
            LabItem::Lab
        );
        assert_eq!(lab_item(&v(r#"{"code":{"coding":"x"}}"#)), LabItem::Lab);
    }

    #[test]
    fn classifies_allergies() {
        let a = |cat: &str| v(&format!(r#"{{"resourceType":"AllergyIntolerance"{cat}}}"#));
        assert_eq!(
            allergy_item(&a(r#","category":["medication"]"#)),
            AllergyItem::Drug
        );
        assert_eq!(
            allergy_item(&a(r#","category":["food","medication"]"#)),
            AllergyItem::Drug
        );
        assert_eq!(
            allergy_item(&a(r#","category":["food"]"#)),
            AllergyItem::Other
        );
        assert_eq!(
            allergy_item(&a(r#","category":["biologic"]"#)),
            AllergyItem::Other
        );
        assert_eq!(allergy_item(&a("")), AllergyItem::Other);
    }

    #[test]
    fn reads_flags_and_patient_only() {
        let r = v(r#"{"resourceType":"Condition","meta":{"tag":[
            {"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication","code":"LTS"},
            {"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication","code":"UNINFORMED"},
            {"system":"http://other","code":"UNDELIVERED"}]}}"#);
        assert_eq!(
            flags(&r),
            Flags {
                long_term: true,
                uninformed: true,
                undelivered: false
            }
        );
        assert_eq!(flags(&v("null")), Flags::default());
        let b = v(r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient"}}]}"#);
        assert!(is_patient_only(&b));
        let b2 =
            v(r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient"}},{}]}"#);
        assert!(!is_patient_only(&b2));
        assert!(!is_patient_only(&v(r#"{"resourceType":"Bundle"}"#)));
    }
}
