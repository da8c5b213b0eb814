//! The JP-CLINS service rules, written out in Rust so they hold with or without IG packages.
//!
//! [`check`] takes a parsed resource (normally a submitted Bundle) and returns every rule
//! violation as an [`Issue`] with a stable `CLINS-…` detail code (listed in `docs/errors.md`), a
//! FHIRPath-like `expression` and a Japanese and English message. It does not repeat what the
//! R4 / profile validator checks (cardinalities, datatypes, bindings); it checks what the
//! JP-CLINS prose and invariants require of a submission.
//!
//! Expression convention: the path starts at the root resource type and indexes every element
//! that is a JSON array (`Bundle.entry[1].resource.meta.tag[0].code`), never a single value.
//! A missing element is reported at the path where it should be.

use std::collections::{HashMap, HashSet};

use fhir::json::Value;
use fhir::outcome::{Issue, IssueType, Severity};
use fhir::reference::{classify, BundleIndex, RefKind};

use crate::ids::{BundleId, InstitutionNumber, InsuranceMemberId};
use crate::kind::{bundle_tags, codings, detect_with_evidence, Evidence, ItemType, SubmissionKind};
use crate::systems as sys;

/// Runs the JP-CLINS service rules on `resource`.
///
/// - Bundles: the rules of their [`SubmissionKind`] (6情報 unit, document, legacy eReferral);
///   bundles of another kind get only the resource-level rules on each entry.
/// - Any other resource: the resource-level rules (flags, institution-number extension format,
///   insurance member-ID format on Patient, `#id` references to missing contained resources).
/// - Values that are not a resource (no `resourceType`) give no issues: the JSON/R4 layer
///   reports those.
/// - In both cases, the JP-CLINS FHIRPath invariants evaluated natively by
///   [`crate::invariants`] (`CLINS-INV-…` codes), on the resources that claim the profile that
///   binds them and on the entries of the bundle kinds that assign that profile.
///
/// Never panics, whatever the input.
pub fn check(resource: &Value) -> Vec<Issue> {
    let mut cx = Checker::default();
    let Some(rt) = resource_type(resource) else {
        return cx.issues;
    };
    if rt != "Bundle" {
        cx.resource_rules(resource, rt, rt);
        cx.walk_refs(resource, rt, &RefPolicy::ContainedOnly);
        cx.invariants(resource, rt, None);
        return cx.issues;
    }
    cx.flag_rules(resource, "Bundle", "Bundle");
    let (kind, evidence) = detect_with_evidence(resource);
    match kind {
        SubmissionKind::Clins6 { item } => cx.clins6(resource, item, evidence),
        SubmissionKind::EReferral
        | SubmissionKind::EDischargeSummary
        | SubmissionKind::EPcs
        | SubmissionKind::ECheckup => cx.document(resource, kind, evidence, true),
        SubmissionKind::ECheckupGeneral => {
            cx.document(resource, kind, evidence, false);
            cx.checkup_general_notice(resource, evidence);
        }
        SubmissionKind::LegacyEReferral => cx.legacy_ereferral(resource, evidence),
        SubmissionKind::Other => cx.other_bundle(resource),
    }
    cx.invariants(resource, rt, Some(kind));
    cx.issues
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/// `resourceType` when it looks like a FHIR type name.
pub(crate) fn resource_type(v: &Value) -> Option<&str> {
    v.get("resourceType").and_then(Value::as_str).filter(|t| {
        t.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && t.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

pub(crate) fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn non_blank(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

/// The elements of `parent.key` with their paths: indexed when the value is an array, as is
/// when it is a single value (malformed input), none when absent.
pub(crate) fn list<'a>(parent: &'a Value, key: &str, base: &str) -> Vec<(String, &'a Value)> {
    match parent.get(key) {
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{base}.{key}[{i}]"), v))
            .collect(),
        Some(v) => vec![(format!("{base}.{key}"), v)],
        None => Vec::new(),
    }
}

/// Path of `Bundle.meta.profile[i]` (no index when `profile` is, wrongly, a single value).
fn profile_path(b: &Value, i: usize) -> String {
    match b.get("meta").and_then(|m| m.get("profile")) {
        Some(Value::Array(_)) => format!("Bundle.meta.profile[{i}]"),
        _ => "Bundle.meta.profile".to_string(),
    }
}

pub(crate) fn entries(bundle: &Value) -> &[Value] {
    bundle
        .get("entry")
        .and_then(Value::as_array)
        .unwrap_or_default()
}

/// `urn:uuid:` followed by a lowercase 8-4-4-4-12 hex UUID.
fn is_lowercase_urn_uuid(s: &str) -> bool {
    let Some(u) = s.strip_prefix("urn:uuid:") else {
        return false;
    };
    u.len() == 36
        && u.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

const SIX_INFO_TYPES: [&str; 4] = [
    "AllergyIntolerance",
    "Condition",
    "Observation",
    "MedicationRequest",
];

fn section_name(code: &str) -> (&'static str, &'static str) {
    match code {
        "200" => ("CDA参照", "CDA reference"),
        "300" => ("構造情報", "structured information"),
        "910" => ("紹介先情報", "referral-to (addressee)"),
        "920" => ("紹介元情報", "referral-from"),
        "950" => ("紹介目的", "purpose of referral"),
        "340" => ("傷病名・主訴", "diagnoses / chief complaint"),
        "360" => ("現病歴", "present illness"),
        "322" => ("入院時詳細", "admission details"),
        "342" => ("入院時診断", "admission diagnosis"),
        "352" => ("主訴", "chief complaint"),
        "312" => ("入院理由", "reason for admission"),
        "362" => ("現病歴", "present illness"),
        "333" => ("入院中経過", "hospital course"),
        "324" => ("退院時詳細", "discharge details"),
        "344" => ("退院時診断", "discharge diagnosis"),
        "444" => ("退院時投薬指示", "discharge medications"),
        "424" => ("退院時方針指示", "discharge plan"),
        "422" => ("計画サマリー", "care plan summary"),
        _ => ("", ""),
    }
}

/// A Composition section: its path, the value, and its first coded `code.coding[].code`.
pub(crate) struct Section<'a> {
    pub(crate) path: String,
    pub(crate) value: &'a Value,
    pub(crate) code: Option<(String, &'a str)>,
}

pub(crate) fn sections<'a>(parent: &'a Value, base: &str) -> Vec<Section<'a>> {
    list(parent, "section", base)
        .into_iter()
        .map(|(path, value)| {
            let code = value.get("code").and_then(|c| {
                list(c, "coding", &format!("{path}.code"))
                    .into_iter()
                    .find_map(|(cp, coding)| {
                        str_at(coding, "code").map(|code| (format!("{cp}.code"), code))
                    })
            });
            Section { path, value, code }
        })
        .collect()
}

fn has_code(s: &Section<'_>, code: &str) -> bool {
    s.code.as_ref().is_some_and(|(_, c)| *c == code)
}

/// How `reference` values are judged while walking a resource.
enum RefPolicy<'a> {
    /// Only `#id` must name a contained resource.
    ContainedOnly,
    /// 6情報: `#id` to a contained resource, or the Patient entry's fullUrl; nothing else.
    Clins6 { patient: Option<&'a str> },
    /// Documents: every reference resolves inside the Bundle.
    Document {
        index: &'a BundleIndex,
        from: usize,
        severity: Severity,
    },
}

/// What the resource-level rules learned about a resource.
#[derive(Default)]
struct Facts {
    /// `(path of valueIdentifier.value, parsed number)` per institution-number extension.
    institutions: Vec<(String, Option<InstitutionNumber>)>,
    /// Paths of the `identifier` elements with the insurance member-ID system (Patient only).
    member_ids: Vec<String>,
}

#[derive(Default)]
pub(crate) struct Checker {
    pub(crate) issues: Vec<Issue>,
}

impl Checker {
    pub(crate) fn push(
        &mut self,
        severity: Severity,
        code: IssueType,
        detail: &'static str,
        expression: impl Into<String>,
        en: impl Into<String>,
        ja: impl Into<String>,
    ) {
        self.issues
            .push(Issue::new(severity, code, detail, expression, en, ja));
    }
    pub(crate) fn error(
        &mut self,
        code: IssueType,
        detail: &'static str,
        expression: impl Into<String>,
        en: impl Into<String>,
        ja: impl Into<String>,
    ) {
        self.push(Severity::Error, code, detail, expression, en, ja);
    }
    pub(crate) fn warning(
        &mut self,
        code: IssueType,
        detail: &'static str,
        expression: impl Into<String>,
        en: impl Into<String>,
        ja: impl Into<String>,
    ) {
        self.push(Severity::Warning, code, detail, expression, en, ja);
    }

    // -----------------------------------------------------------------------------------------
    // resource-level rules (every resource, every bundle kind)
    // -----------------------------------------------------------------------------------------

    fn resource_rules(&mut self, res: &Value, rt: &str, path: &str) -> Facts {
        self.flag_rules(res, rt, path);
        // Flags are facts about the data wherever they appear, contained resources included.
        if let Some(contained) = res.get("contained").and_then(Value::as_array) {
            for (i, c) in contained.iter().enumerate() {
                if let Some(crt) = c.get("resourceType").and_then(Value::as_str) {
                    self.flag_rules(c, crt, &format!("{path}.contained[{i}]"));
                }
            }
        }
        let institutions = self.institution_extensions(res, path);
        let member_ids = if rt == "Patient" {
            self.member_ids(res, path)
        } else {
            Vec::new()
        };
        Facts {
            institutions,
            member_ids,
        }
    }

    /// JP-CLINS §2: LTS on AllergyIntolerance, Condition, Observation, MedicationRequest;
    /// UNINFORMED and UNDELIVERED on Condition only; no other code.
    fn flag_rules(&mut self, res: &Value, rt: &str, path: &str) {
        let Some(meta) = res.get("meta") else {
            return;
        };
        for (tp, tag) in list(meta, "tag", &format!("{path}.meta")) {
            if str_at(tag, "system") != Some(sys::INDICATION_CS) {
                continue;
            }
            let cp = format!("{tp}.code");
            match str_at(tag, "code") {
                Some(code @ ("LTS" | "UNINFORMED" | "UNDELIVERED")) => {
                    let allowed: &[&str] = if code == "LTS" {
                        &SIX_INFO_TYPES
                    } else {
                        &["Condition"]
                    };
                    if !allowed.contains(&rt) {
                        let (allowed_ja, allowed_en) = if code == "LTS" {
                            (
                                "AllergyIntolerance・Condition・Observation・MedicationRequest",
                                "AllergyIntolerance, Condition, Observation and MedicationRequest",
                            )
                        } else {
                            ("Condition（傷病名）", "Condition")
                        };
                        self.error(
                            IssueType::BusinessRule,
                            "CLINS-FLAG-RESOURCE-TYPE",
                            cp,
                            format!(
                                "the flag {code} is not allowed on {rt}; it may only be set on {allowed_en}. Remove the tag from this resource"
                            ),
                            format!(
                                "{rt}にはフラグ{code}を付けられません。{code}は{allowed_ja}にのみ付けられます。このリソースからタグを削除してください"
                            ),
                        );
                    }
                }
                other => {
                    let shown = other.unwrap_or("(なし)");
                    self.error(
                        IssueType::CodeInvalid,
                        "CLINS-FLAG-CODE",
                        cp,
                        format!(
                            "unknown flag code `{}` in system JP_ehrshrs_indication; use LTS (long-term storage), UNINFORMED (not told to the patient) or UNDELIVERED (not to be shown to the patient)",
                            other.unwrap_or("(none)")
                        ),
                        format!(
                            "JP_ehrshrs_indicationのコード「{shown}」は使えません。LTS（長期保存）、UNINFORMED（未告知）、UNDELIVERED（未提供）のいずれかを指定してください"
                        ),
                    );
                }
            }
        }
    }

    /// Format of every JP_eCS_InstitutionNumber extension present.
    pub(crate) fn institution_extensions(
        &mut self,
        res: &Value,
        path: &str,
    ) -> Vec<(String, Option<InstitutionNumber>)> {
        let mut out = Vec::new();
        for (ep, ext) in list(res, "extension", path) {
            if str_at(ext, "url") != Some(sys::INSTITUTION_NUMBER_EXT) {
                continue;
            }
            let vp = format!("{ep}.valueIdentifier");
            let Some(vi) = ext.get("valueIdentifier") else {
                self.error(
                    IssueType::Required,
                    "CLINS-INSTITUTION-FORMAT",
                    vp,
                    "the institution-number extension has no valueIdentifier; give the 10-digit institution number in valueIdentifier.value",
                    "医療機関番号拡張にvalueIdentifierがありません。valueIdentifier.valueに医療機関番号10桁を指定してください",
                );
                continue;
            };
            if str_at(vi, "system") != Some(sys::INSTITUTION_NUMBER_SYSTEM) {
                let found = str_at(vi, "system").unwrap_or("(none)");
                self.error(
                    IssueType::Value,
                    "CLINS-INSTITUTION-SYSTEM",
                    format!("{vp}.system"),
                    format!(
                        "the institution number's system is `{found}`; it must be {}",
                        sys::INSTITUTION_NUMBER_SYSTEM
                    ),
                    format!(
                        "医療機関番号のsystemが「{}」です。「{}」を指定してください",
                        str_at(vi, "system").unwrap_or("(なし)"),
                        sys::INSTITUTION_NUMBER_SYSTEM
                    ),
                );
            }
            let value_path = format!("{vp}.value");
            let parsed = match str_at(vi, "value") {
                None => {
                    self.error(
                        IssueType::Required,
                        "CLINS-INSTITUTION-FORMAT",
                        value_path.clone(),
                        "the institution number is missing; give the 10-digit institution number (e.g. 1311234567)",
                        "医療機関番号の値がありません。医療機関番号10桁を指定してください（例: 1311234567）",
                    );
                    None
                }
                Some(s) => match InstitutionNumber::parse(s) {
                    Ok(n) => Some(n),
                    Err(e) => {
                        self.error(
                            IssueType::Value,
                            "CLINS-INSTITUTION-FORMAT",
                            value_path.clone(),
                            format!("invalid institution number: {}", e.en),
                            format!("医療機関番号が不正です。{}", e.ja),
                        );
                        None
                    }
                },
            };
            out.push((value_path, parsed));
        }
        out
    }

    /// Format of every insurance member-ID identifier of a Patient; returns their paths.
    fn member_ids(&mut self, patient: &Value, path: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (ip, ident) in list(patient, "identifier", path) {
            if str_at(ident, "system") != Some(sys::INSURANCE_MEMBER_ID_SYSTEM) {
                continue;
            }
            match str_at(ident, "value") {
                None => self.error(
                    IssueType::Required,
                    "CLINS-INSURANCE-ID-FORMAT",
                    format!("{ip}.value"),
                    "the insurance member id has no value; write `insurer number:symbol:number:branch`, e.g. 00012345:あいう:１８７:05",
                    "被保険者個人識別子の値がありません。「保険者番号:記号:番号:枝番」の形で指定してください（例: 00012345:あいう:１８７:05）",
                ),
                Some(s) => {
                    if let Err(e) = InsuranceMemberId::parse(s) {
                        self.error(
                            IssueType::Value,
                            "CLINS-INSURANCE-ID-FORMAT",
                            format!("{ip}.value"),
                            format!("invalid insurance member id: {}", e.en),
                            format!("被保険者個人識別子が不正です。{}", e.ja),
                        );
                    }
                }
            }
            out.push(ip);
        }
        out
    }

    /// The Patient of a submission carries exactly one insurance member ID (R1012).
    fn patient_member_id_count(&mut self, facts: &Facts, patient_path: &str) {
        if facts.member_ids.is_empty() {
            self.error(
                IssueType::Required,
                "CLINS-PATIENT-INSURANCE-ID-MISSING",
                format!("{patient_path}.identifier"),
                format!(
                    "the Patient has no insurance member id (被保険者個人識別子); add an identifier with system {} and value `insurer number:symbol:number:branch`",
                    sys::INSURANCE_MEMBER_ID_SYSTEM
                ),
                format!(
                    "Patientに被保険者個人識別子がありません。system「{}」、値「保険者番号:記号:番号:枝番」のidentifierを1つ追加してください",
                    sys::INSURANCE_MEMBER_ID_SYSTEM
                ),
            );
        }
        for extra in facts.member_ids.iter().skip(1) {
            self.error(
                IssueType::Invariant,
                "CLINS-PATIENT-INSURANCE-ID-MULTIPLE",
                extra.clone(),
                "the Patient has more than one insurance member id; keep exactly one (the current one from the online qualification check)",
                "Patientに被保険者個人識別子が複数あります。1つだけにしてください（オンライン資格確認で得た最新のもの）",
            );
        }
    }

    fn last_updated(&mut self, res: &Value, path: &str) {
        let present = res
            .get("meta")
            .and_then(|m| m.get("lastUpdated"))
            .and_then(Value::as_str)
            .is_some();
        if !present {
            self.error(
                IssueType::Required,
                "CLINS-META-LASTUPDATED",
                format!("{path}.meta.lastUpdated"),
                "meta.lastUpdated is missing; JP-CLINS requires the last-updated time on the Bundle and on every entry resource",
                "meta.lastUpdatedがありません。JP-CLINSではBundleと各エントリのリソースに最終更新日時が必須です",
            );
        }
    }

    // -----------------------------------------------------------------------------------------
    // references
    // -----------------------------------------------------------------------------------------

    fn walk_refs(&mut self, res: &Value, path: &str, policy: &RefPolicy<'_>) {
        let ids: HashSet<&str> = res
            .get("contained")
            .map(Value::items)
            .unwrap_or_default()
            .iter()
            .filter_map(|c| str_at(c, "id"))
            .collect();
        let mut buf = path.to_string();
        self.walk_node(res, &mut buf, &ids, policy, true, 0);
    }

    fn walk_node(
        &mut self,
        v: &Value,
        path: &mut String,
        ids: &HashSet<&str>,
        policy: &RefPolicy<'_>,
        is_resource: bool,
        depth: usize,
    ) {
        // Parsed values are at most `fhir::json::MAX_DEPTH` deep; values built in code are not,
        // so bound the recursion here as well.
        if depth > 2 * fhir::json::MAX_DEPTH {
            return;
        }
        let Value::Object(o) = v else {
            return;
        };
        match o.get("reference") {
            Some(Value::String(r)) => {
                self.check_reference(r, path, ids, policy);
            }
            Some(_) => {}
            None => {
                // A Reference with only `identifier` is a logical reference, which CLINS does
                // not use (JP-CLINS §2 (3)). Resources themselves have `resourceType`.
                let logical = !is_resource
                    && !o.contains_key("resourceType")
                    && matches!(o.get("identifier"), Some(Value::Object(_)));
                if logical && matches!(policy, RefPolicy::Clins6 { .. }) {
                    self.error(
                        IssueType::BusinessRule,
                        "CLINS-REF-NOT-CONTAINED",
                        format!("{path}.identifier"),
                        "logical references (by identifier only) are not used in JP-CLINS; reference the Patient entry by its fullUrl, and other resources as contained resources by `#id`",
                        "識別子のみによる論理参照はJP-CLINSでは使えません。患者はPatientエントリのfullUrlで、それ以外はcontainedに含めて「#id」で参照してください",
                    );
                }
            }
        }
        for (key, child) in o.iter() {
            if key == "reference" || key == "text" {
                continue;
            }
            let len = path.len();
            match child {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        path.truncate(len);
                        path.push('.');
                        path.push_str(key);
                        {
                            use std::fmt::Write;
                            let _ = write!(path, "[{i}]");
                        }
                        self.walk_node(item, path, ids, policy, key == "contained", depth + 1);
                    }
                }
                Value::Object(_) => {
                    path.push('.');
                    path.push_str(key);
                    self.walk_node(child, path, ids, policy, false, depth + 1);
                }
                _ => {}
            }
            path.truncate(len);
        }
    }

    fn check_reference(
        &mut self,
        r: &str,
        base: &str,
        ids: &HashSet<&str>,
        policy: &RefPolicy<'_>,
    ) {
        // The location is only built when there is something to report.
        let path = || format!("{base}.reference");
        if let RefKind::Contained(id) = classify(r) {
            // `#` alone points at the container itself.
            if !id.is_empty() && !ids.contains(id) {
                self.error(
                    IssueType::NotFound,
                    "CLINS-REF-CONTAINED-MISSING",
                    path(),
                    format!(
                        "`{r}` names no contained resource of this resource; add a contained resource with id `{id}` or correct the reference"
                    ),
                    format!(
                        "参照「{r}」に対応するcontainedリソースがありません。id「{id}」のリソースをcontainedに追加するか、参照を修正してください"
                    ),
                );
            }
            return;
        }
        match policy {
            RefPolicy::ContainedOnly => {}
            RefPolicy::Clins6 { patient } => {
                if Some(r) != *patient {
                    self.error(
                        IssueType::BusinessRule,
                        "CLINS-REF-NOT-CONTAINED",
                        path(),
                        format!(
                            "`{r}` is not allowed in a 6-information bundle: only the Patient entry may be referenced (by its fullUrl); put every other referenced resource in `contained` and reference it as `#id`"
                        ),
                        format!(
                            "6情報のBundleでは参照「{r}」は使えません。エントリ間で参照できるのはPatient（fullUrlで参照）だけです。それ以外の参照先はcontainedに含め、「#id」で参照してください"
                        ),
                    );
                }
            }
            RefPolicy::Document {
                index,
                from,
                severity,
            } => {
                if index.resolve(r, Some(*from)).is_none() {
                    self.push(
                        *severity,
                        IssueType::NotFound,
                        "CLINS-REF-UNRESOLVED",
                        path(),
                        format!(
                            "`{r}` does not resolve inside the document Bundle; every referenced resource must be an entry of the Bundle, referenced by its fullUrl"
                        ),
                        format!(
                            "参照「{r}」の参照先が文書Bundle内にありません。参照先のリソースをBundleのエントリに含め、そのfullUrlで参照してください"
                        ),
                    );
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Bundle-level rules shared by the kinds
    // -----------------------------------------------------------------------------------------

    /// A CLINS kind recognised without its Bundle profile in `meta.profile`.
    fn profile_evidence(&mut self, b: &Value, evidence: Evidence, kind: SubmissionKind) {
        match evidence {
            Evidence::Content => {
                let url = kind.profile().unwrap_or_default();
                let label = kind.label_ja();
                self.error(
                    IssueType::Structure,
                    "CLINS-BUNDLE-PROFILE",
                    "Bundle.meta.profile",
                    format!(
                        "meta.profile does not declare the JP-CLINS Bundle profile; this looks like a {label} bundle: add `{url}|<version>` to meta.profile"
                    ),
                    format!(
                        "meta.profileにJP-CLINSのBundleプロファイルがありません（内容から{label}と判断しました）。meta.profileに「{url}|バージョン」を指定してください"
                    ),
                );
            }
            Evidence::Profile(i) => {
                let profiles = b.get("meta").and_then(|m| m.get("profile"));
                let outdated = profiles
                    .map(Value::items)
                    .unwrap_or_default()
                    .get(i)
                    .and_then(Value::as_str)
                    .map(sys::strip_version)
                    == Some(sys::BUNDLE_EDISCHARGE_OLD);
                if outdated {
                    let path = profile_path(b, i);
                    self.warning(
                        IssueType::NotSupported,
                        "CLINS-PROFILE-OUTDATED",
                        path,
                        format!(
                            "the eDischargeSummary Bundle canonical of JP-CLINS ≤ 1.3.0-rc3 is outdated; use {}",
                            sys::BUNDLE_EDISCHARGE
                        ),
                        format!(
                            "退院時サマリーのBundleプロファイルURLが旧版（JP-CLINS 1.3.0-rc3以前）です。「{}」を指定してください",
                            sys::BUNDLE_EDISCHARGE
                        ),
                    );
                }
            }
            Evidence::None => {}
        }
    }

    fn bundle_type(&mut self, b: &Value, want: &str) {
        let found = str_at(b, "type");
        if found == Some(want) {
            return;
        }
        let shown_en = found.unwrap_or("(missing)");
        let shown_ja = found.unwrap_or("(なし)");
        let (why_ja, why_en) = if want == "collection" {
            ("6情報の送信Bundle", "a 6-information submission bundle")
        } else {
            ("文書Bundle", "a document bundle")
        };
        self.error(
            IssueType::Value,
            "CLINS-BUNDLE-TYPE",
            "Bundle.type",
            format!("Bundle.type is `{shown_en}`; {why_en} must have type `{want}`"),
            format!("Bundle.typeが「{shown_ja}」です。{why_ja}のtypeは「{want}」にしてください"),
        );
    }

    fn timestamp_and_last_updated(&mut self, b: &Value) {
        if non_blank(str_at(b, "timestamp")).is_none() {
            self.error(
                IssueType::Required,
                "CLINS-BUNDLE-TIMESTAMP",
                "Bundle.timestamp",
                "Bundle.timestamp is missing; give the time the bundle was assembled",
                "Bundle.timestampがありません。Bundleを作成した日時を指定してください",
            );
        }
        self.last_updated(b, "Bundle");
    }

    /// Bundle-ID (system and value). Returns the parsed Bundle-ID when the value is valid.
    fn bundle_identifier(&mut self, b: &Value) -> Option<BundleId> {
        let Some(ident) = b.get("identifier") else {
            self.error(
                IssueType::Required,
                "CLINS-BUNDLE-ID-MISSING",
                "Bundle.identifier",
                format!(
                    "Bundle.identifier (the Bundle-ID) is missing; add system {} and value `<institution number>^<year>^<local id>`, e.g. 1311234567^2024^000123",
                    sys::BUNDLE_IDENTIFIER_SYSTEM
                ),
                format!(
                    "Bundle.identifier（Bundle-ID）がありません。system「{}」、値「医療機関番号10桁^発行年4桁^施設内ID」を指定してください（例: 1311234567^2024^000123）",
                    sys::BUNDLE_IDENTIFIER_SYSTEM
                ),
            );
            return None;
        };
        if matches!(ident, Value::Array(_)) {
            self.error(
                IssueType::Structure,
                "CLINS-BUNDLE-ID-FORMAT",
                "Bundle.identifier",
                "Bundle.identifier must be a single object (FHIR R4 0..1), not an array",
                "Bundle.identifierは配列ではなく1つのオブジェクトで指定してください（FHIR R4では0..1）",
            );
            return None;
        }
        let system = str_at(ident, "system");
        if system != Some(sys::BUNDLE_IDENTIFIER_SYSTEM) {
            let (hint_ja, hint_en) = if system == Some(sys::LEGACY_DOCUMENT_IDENTIFIER_SYSTEM) {
                (
                    "（documentInstance-identifierは旧eReferral IGや健診の一般利用向けプロファイルのsystemです）",
                    " (documentInstance-identifier is the system of the superseded eReferral IG and of the general-use checkup profile)",
                )
            } else {
                ("", "")
            };
            self.error(
                IssueType::Value,
                "CLINS-BUNDLE-ID-SYSTEM",
                "Bundle.identifier.system",
                format!(
                    "Bundle.identifier.system is `{}`{hint_en}; it must be {}",
                    system.unwrap_or("(missing)"),
                    sys::BUNDLE_IDENTIFIER_SYSTEM
                ),
                format!(
                    "Bundle.identifier.systemが「{}」です{hint_ja}。「{}」を指定してください",
                    system.unwrap_or("(なし)"),
                    sys::BUNDLE_IDENTIFIER_SYSTEM
                ),
            );
        }
        let Some(value) = str_at(ident, "value") else {
            self.error(
                IssueType::Required,
                "CLINS-BUNDLE-ID-MISSING",
                "Bundle.identifier.value",
                "Bundle.identifier.value (the Bundle-ID) is missing; write `<institution number>^<year>^<local id>`, e.g. 1311234567^2024^000123",
                "Bundle.identifier.value（Bundle-ID）がありません。「医療機関番号10桁^発行年4桁^施設内ID」で指定してください（例: 1311234567^2024^000123）",
            );
            return None;
        };
        match BundleId::parse(value) {
            Ok(id) => Some(id),
            Err(e) => {
                self.error(
                    IssueType::Value,
                    "CLINS-BUNDLE-ID-FORMAT",
                    "Bundle.identifier.value",
                    e.en,
                    e.ja,
                );
                None
            }
        }
    }

    fn full_urls(&mut self, entries: &[Value]) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let path = format!("Bundle.entry[{i}].fullUrl");
            let Some(url) = str_at(e, "fullUrl") else {
                self.error(
                    IssueType::Required,
                    "CLINS-FULLURL-MISSING",
                    path,
                    "entry.fullUrl is missing; give every entry a freshly generated `urn:uuid:<uuid>`",
                    "entry.fullUrlがありません。各エントリに新たに生成した「urn:uuid:<UUID>」を指定してください",
                );
                continue;
            };
            if !is_lowercase_urn_uuid(url) {
                self.error(
                    IssueType::Value,
                    "CLINS-FULLURL-FORMAT",
                    path.clone(),
                    format!(
                        "entry.fullUrl `{url}` is not `urn:uuid:` followed by a lowercase UUID (8-4-4-4-12 hex digits)"
                    ),
                    format!(
                        "entry.fullUrl「{url}」が「urn:uuid:」＋小文字のUUID（16進8-4-4-4-12桁）の形式ではありません"
                    ),
                );
            }
            if let Some(first) = seen.get(url) {
                self.error(
                    IssueType::Duplicate,
                    "CLINS-FULLURL-DUPLICATE",
                    path,
                    format!(
                        "entry.fullUrl `{url}` is also used by entry[{first}]; every entry needs its own freshly generated UUID"
                    ),
                    format!(
                        "entry.fullUrl「{url}」がentry[{first}]と重複しています。エントリごとに新たに生成したUUIDを使ってください"
                    ),
                );
            } else {
                seen.insert(url, i);
            }
        }
    }

    fn forbidden_entry_elements(&mut self, entry: &Value, entry_path: &str, keys: &[&str]) {
        for key in keys {
            if entry.get(key).is_some() {
                self.error(
                    IssueType::Structure,
                    "CLINS-ENTRY-FORBIDDEN-ELEMENT",
                    format!("{entry_path}.{key}"),
                    format!(
                        "entry.{key} is not allowed in a JP-CLINS submission bundle; remove it"
                    ),
                    format!("JP-CLINSの送信Bundleではentry.{key}は使えません。削除してください"),
                );
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // 6情報 submission bundle (JP_Bundle_CLINS)
    // -----------------------------------------------------------------------------------------

    fn clins6(&mut self, b: &Value, item: Option<ItemType>, evidence: Evidence) {
        self.profile_evidence(b, evidence, SubmissionKind::Clins6 { item });
        self.bundle_type(b, "collection");
        let bundle_id = self.bundle_identifier(b);
        self.timestamp_and_last_updated(b);
        self.bundle_tag_rules(b);

        let entries = entries(b);
        self.full_urls(entries);
        if entries.is_empty() {
            self.error(
                IssueType::Invariant,
                "CLINS-FIRST-ENTRY-PATIENT",
                "Bundle.entry",
                "the bundle has no entries; the first entry must be the Patient, followed by the resources of the tagged type",
                "エントリがありません。先頭のエントリはPatientとし、その後にタグで指定した種類のリソースを続けてください",
            );
            return;
        }
        let patient_url = entries
            .first()
            .filter(|e| e.get("resource").and_then(resource_type) == Some("Patient"))
            .and_then(|e| str_at(e, "fullUrl"));
        let policy = RefPolicy::Clins6 {
            patient: patient_url,
        };
        let mut has_item = false;
        for (i, e) in entries.iter().enumerate() {
            let ep = format!("Bundle.entry[{i}]");
            self.forbidden_entry_elements(
                e,
                &ep,
                &["search", "request", "response", "link", "extension"],
            );
            let rp = format!("{ep}.resource");
            let res = e.get("resource");
            let rt = res.and_then(resource_type);
            let (Some(res), Some(rt)) = (res, rt) else {
                if i == 0 {
                    self.first_entry_not_patient(&rp, None);
                } else {
                    self.entry_resource_missing(&rp);
                }
                continue;
            };
            let facts = self.resource_rules(res, rt, &rp);
            self.last_updated(res, &rp);
            self.walk_refs(res, &rp, &policy);

            if i == 0 {
                if rt == "Patient" {
                    self.patient_member_id_count(&facts, &rp);
                    if facts.institutions.is_empty() {
                        self.warning(
                            IssueType::Incomplete,
                            "CLINS-PATIENT-INSTITUTION-RECOMMENDED",
                            format!("{rp}.extension"),
                            "the Patient has no JP_eCS_InstitutionNumber extension; the JP-CLINS text asks for it on the Patient too (the bundle invariants only require it on the entries after the first)",
                            "Patientに医療機関番号拡張（JP_eCS_InstitutionNumber）がありません。JP-CLINSの本文ではPatientにも付けることになっています（Bundleの不変条件が必須とするのは2番目以降のエントリのみ）",
                        );
                    }
                } else {
                    self.first_entry_not_patient(&rp, Some(rt));
                }
            } else {
                match item {
                    Some(it) if rt == it.resource_type() => {
                        has_item = true;
                        self.item_rules(res, rt, &rp);
                    }
                    Some(it) if rt == "Patient" || SIX_INFO_TYPES.contains(&rt) => {
                        self.entry_type_mismatch(&rp, rt, Some(it.resource_type()));
                    }
                    None if rt == "Patient" => self.entry_type_mismatch(&rp, rt, None),
                    None if SIX_INFO_TYPES.contains(&rt) => self.item_rules(res, rt, &rp),
                    _ => self.warning(
                        IssueType::NotSupported,
                        "CLINS-ENTRY-IGNORED",
                        format!("{rp}.resourceType"),
                        format!(
                            "{rt} is not a 6-information resource type and will be ignored by the service; put resources that the items reference in `contained`"
                        ),
                        format!(
                            "{rt}は6情報のリソース種別ではないため、サービスでは無視されます。参照先のリソースはcontainedに含めてください"
                        ),
                    ),
                }
                if facts.institutions.is_empty() {
                    self.error(
                        IssueType::Required,
                        "CLINS-INSTITUTION-MISSING",
                        format!("{rp}.extension"),
                        format!(
                            "the institution-number extension is missing; add an extension with url {} and valueIdentifier (system {}, value = the 10-digit institution number)",
                            sys::INSTITUTION_NUMBER_EXT,
                            sys::INSTITUTION_NUMBER_SYSTEM
                        ),
                        format!(
                            "医療機関番号拡張がありません。url「{}」の拡張を追加し、valueIdentifierにsystem「{}」と医療機関番号10桁を指定してください",
                            sys::INSTITUTION_NUMBER_EXT,
                            sys::INSTITUTION_NUMBER_SYSTEM
                        ),
                    );
                }
            }
            if let Some(bid) = &bundle_id {
                for (vp, n) in &facts.institutions {
                    if let Some(n) = n.as_ref().filter(|n| *n != bid.institution()) {
                        self.error(
                            IssueType::BusinessRule,
                            "CLINS-INSTITUTION-MISMATCH",
                            vp.clone(),
                            format!(
                                "the institution number {n} differs from the Bundle-ID's institution {}; a bundle carries the data of one institution only",
                                bid.institution()
                            ),
                            format!(
                                "医療機関番号{n}がBundle-IDの医療機関番号{}と一致しません。1つのBundleには1つの医療機関のデータのみを含めてください",
                                bid.institution()
                            ),
                        );
                    }
                }
            }
        }
        // JP-CLINS 4.1: a bundle with only the Patient deletes the unit, so it is valid.
        if let Some(it) = item.filter(|_| entries.len() > 1 && !has_item) {
            let t = it.resource_type();
            self.error(
                IssueType::Invariant,
                "CLINS-BUNDLE-NO-ITEM",
                "Bundle.entry",
                format!(
                    "the bundle is tagged {t} but has no {t} entry; add the {t} resources, or send only the Patient to delete the unit"
                ),
                format!(
                    "タグは{t}ですが、{t}のエントリがありません。{t}リソースを追加するか、単位を削除する場合はPatientのみを送信してください"
                ),
            );
        }
    }

    fn first_entry_not_patient(&mut self, rp: &str, rt: Option<&str>) {
        let found = rt.unwrap_or("(none)");
        self.error(
            IssueType::Invariant,
            "CLINS-FIRST-ENTRY-PATIENT",
            format!("{rp}.resourceType"),
            format!(
                "the first entry is {found}; the first entry of a 6-information bundle must be the Patient"
            ),
            format!(
                "先頭のエントリが{}です。6情報のBundleの先頭エントリはPatientにしてください",
                rt.unwrap_or("(なし)")
            ),
        );
    }

    fn entry_resource_missing(&mut self, rp: &str) {
        self.error(
            IssueType::Required,
            "CLINS-ENTRY-RESOURCE-MISSING",
            rp,
            "the entry has no resource (or it has no valid resourceType); every entry carries one resource",
            "エントリにリソースがありません（またはresourceTypeが不正です）。各エントリにリソースを1つ含めてください",
        );
    }

    fn entry_type_mismatch(&mut self, rp: &str, rt: &str, tagged: Option<&str>) {
        let (en, ja) = match tagged {
            Some(t) if rt != "Patient" => (
                format!(
                    "this entry is {rt} but the bundle is tagged {t}; one bundle carries one resource type only: send the {rt} resources in their own bundle"
                ),
                format!(
                    "このエントリは{rt}ですが、Bundleのタグは{t}です。1つのBundleには1種類のリソースのみ含められます。{rt}は別のBundleで送信してください"
                ),
            ),
            _ => (
                "a bundle carries exactly one Patient, as its first entry; remove this Patient".to_string(),
                "Patientは先頭エントリの1つだけです。このPatientを削除してください".to_string(),
            ),
        };
        self.error(
            IssueType::BusinessRule,
            "CLINS-ENTRY-TYPE-MISMATCH",
            format!("{rp}.resourceType"),
            en,
            ja,
        );
    }

    /// `meta.tag` BundleResourceType: exactly one, code AllergyIntolerance / Condition /
    /// Observation.
    fn bundle_tag_rules(&mut self, b: &Value) {
        let tag_is_array = matches!(
            b.get("meta").and_then(|m| m.get("tag")),
            Some(Value::Array(_))
        );
        let code_path = |i: usize| {
            if tag_is_array {
                format!("Bundle.meta.tag[{i}].code")
            } else {
                "Bundle.meta.tag.code".to_string()
            }
        };
        let tags: Vec<(usize, &Value)> = bundle_tags(b).collect();
        if tags.is_empty() {
            self.error(
                IssueType::Required,
                "CLINS-BUNDLE-TAG-MISSING",
                "Bundle.meta.tag",
                format!(
                    "meta.tag has no resource-type tag; add one tag with system {} and code AllergyIntolerance, Condition or Observation",
                    sys::BUNDLE_RESOURCE_TYPE_CS
                ),
                format!(
                    "meta.tagにリソース種別のタグがありません。system「{}」、code「AllergyIntolerance」「Condition」「Observation」のいずれかのタグを1つ追加してください",
                    sys::BUNDLE_RESOURCE_TYPE_CS
                ),
            );
            return;
        }
        for (n, (i, tag)) in tags.iter().enumerate() {
            if n >= 1 {
                self.error(
                    IssueType::Invariant,
                    "CLINS-BUNDLE-TAG-MULTIPLE",
                    code_path(*i),
                    "more than one resource-type tag; a bundle carries one resource type, so keep exactly one tag",
                    "リソース種別のタグが複数あります。1つのBundleには1種類のリソースのみ含めるため、タグは1つにしてください",
                );
                continue;
            }
            match str_at(tag, "code") {
                Some(c) if ItemType::from_code(c).is_some() => {}
                Some("MedicationRequest") => self.error(
                    IssueType::CodeInvalid,
                    "CLINS-BUNDLE-TAG-CODE",
                    code_path(*i),
                    "MedicationRequest cannot be sent as a stand-alone 6-information bundle; prescriptions are only sent inside 診療情報提供書 / 退院時サマリー documents. Use AllergyIntolerance, Condition or Observation",
                    "処方（MedicationRequest）は6情報として単独では送信できません（診療情報提供書・退院時サマリーの中でのみ送信します）。タグのcodeは「AllergyIntolerance」「Condition」「Observation」のいずれかにしてください",
                ),
                other => self.error(
                    IssueType::CodeInvalid,
                    "CLINS-BUNDLE-TAG-CODE",
                    code_path(*i),
                    format!(
                        "resource-type tag code `{}` is not allowed; use AllergyIntolerance, Condition or Observation",
                        other.unwrap_or("(none)")
                    ),
                    format!(
                        "リソース種別タグのcode「{}」は使えません。「AllergyIntolerance」「Condition」「Observation」のいずれかにしてください",
                        other.unwrap_or("(なし)")
                    ),
                ),
            }
        }
    }

    fn item_rules(&mut self, res: &Value, rt: &str, rp: &str) {
        match rt {
            "Condition" => {
                self.status_binding(
                    res,
                    rp,
                    "clinicalStatus",
                    sys::CONDITION_CLINICAL,
                    &sys::CONDITION_CLINICAL_CODES,
                );
                self.status_binding(
                    res,
                    rp,
                    "verificationStatus",
                    sys::CONDITION_VER_STATUS,
                    &sys::CONDITION_VER_STATUS_CODES,
                );
                self.condition_rules(res, rp)
            }
            "AllergyIntolerance" => {
                self.status_binding(
                    res,
                    rp,
                    "clinicalStatus",
                    sys::ALLERGY_CLINICAL,
                    &sys::ALLERGY_CLINICAL_CODES,
                );
                self.status_binding(
                    res,
                    rp,
                    "verificationStatus",
                    sys::ALLERGY_VERIFICATION,
                    &sys::ALLERGY_VERIFICATION_CODES,
                );
            }
            "Observation" => self.observation_rules(res, rp),
            _ => {}
        }
    }

    /// A status whose R4 binding is required (`clinicalStatus`, `verificationStatus`): every
    /// coding must come from its code system with one of its codes, and text alone is not a
    /// status. Who sees a diagnosis depends on it (a suspected one is shown to nobody else), so
    /// a misspelt system must not slip through as "no status".
    fn status_binding(&mut self, res: &Value, rp: &str, key: &str, system: &str, codes: &[&str]) {
        let Some(concept) = res.get(key) else { return };
        let path = format!("{rp}.{key}");
        let list = concept.get("coding").map(Value::items).unwrap_or_default();
        if list.is_empty() {
            self.error(
                IssueType::CodeInvalid,
                "CLINS-STATUS-CODING",
                format!("{path}.coding"),
                format!("{key} has no coding; give a coding with system {system} and one of: {}", codes.join(", ")),
                format!("{key} にcodingがありません。system「{system}」のcoding（{}のいずれか）を指定してください", codes.join("、")),
            );
            return;
        }
        for (i, c) in list.iter().enumerate() {
            let (sys_ok, code) = (str_at(c, "system") == Some(system), str_at(c, "code"));
            if !sys_ok || !code.is_some_and(|k| codes.contains(&k)) {
                self.error(
                    IssueType::CodeInvalid,
                    "CLINS-STATUS-CODING",
                    format!("{path}.coding[{i}]"),
                    format!(
                        "{key}.coding[{i}] (system `{}`, code `{}`) is not from the required value set: use system {system} with one of: {}",
                        str_at(c, "system").unwrap_or(""),
                        code.unwrap_or(""),
                        codes.join(", ")
                    ),
                    format!(
                        "{key}.coding[{i}]（system「{}」、code「{}」）は必須の値セットにありません。system「{system}」で {} のいずれかを指定してください",
                        str_at(c, "system").unwrap_or(""),
                        code.unwrap_or(""),
                        codes.join("、")
                    ),
                );
            }
        }
    }

    /// JP-CLINS 4.6 and the bundle invariants on Condition.
    fn condition_rules(&mut self, res: &Value, rp: &str) {
        let code = res.get("code");
        let has_medis = codings(code).any(|c| str_at(c, "system") == Some(sys::MEDIS_DISEASE_KEY));
        if !has_medis {
            let path = match code {
                Some(c) if c.get("coding").is_some() => format!("{rp}.code.coding"),
                _ => format!("{rp}.code"),
            };
            self.error(
                IssueType::Required,
                "CLINS-CONDITION-MEDIS-CODE",
                path,
                format!(
                    "the condition has no MEDIS disease management number; add a coding with system {} (the only disease code system the service accepts)",
                    sys::MEDIS_DISEASE_KEY
                ),
                format!(
                    "傷病名にMEDIS病名管理番号がありません。system「{}」のcodingを追加してください（サービスが受け付ける病名コードはこれのみです）",
                    sys::MEDIS_DISEASE_KEY
                ),
            );
        }
        if non_blank(code.and_then(|c| str_at(c, "text"))).is_none() {
            self.error(
                IssueType::Required,
                "CLINS-CONDITION-CODE-TEXT",
                format!("{rp}.code.text"),
                "code.text is missing; always give the disease name as entered in the EHR",
                "code.textがありません。電子カルテに入力された病名を必ず指定してください",
            );
        }
        self.contained_encounter(res, rp);
        if non_blank(str_at(res, "onsetDateTime")).is_none() {
            let other_onset = ["onsetAge", "onsetPeriod", "onsetRange", "onsetString"]
                .iter()
                .any(|k| res.get(k).is_some());
            let (hint_en, hint_ja) = if other_onset {
                (
                    " (another onset[x] type is used)",
                    "（他の型のonset[x]が使われています）",
                )
            } else {
                ("", "")
            };
            self.error(
                IssueType::Required,
                "CLINS-CONDITION-ONSET",
                format!("{rp}.onsetDateTime"),
                format!("onsetDateTime is missing{hint_en}; give the onset date as onsetDateTime"),
                format!("onsetDateTimeがありません{hint_ja}。発症日（開始日）をonsetDateTimeで指定してください"),
            );
        }
        self.department(res, rp);
    }

    /// JP-CLINS 4.7 and the bundle invariants on lab-result Observations.
    fn observation_rules(&mut self, res: &Value, rp: &str) {
        let code = res.get("code");
        let coding_list = match code {
            Some(c) => list(c, "coding", &format!("{rp}.code")),
            None => Vec::new(),
        };
        match coding_list.first() {
            None => {
                let path = if code.is_some() {
                    format!("{rp}.code.coding")
                } else {
                    format!("{rp}.code")
                };
                self.error(
                    IssueType::Required,
                    "CLINS-OBS-LOCAL-CODE",
                    path,
                    format!(
                        "the lab result has no code.coding; the first coding must be the local item code (system {}), followed by a JLAC code",
                        sys::OBS_LOCAL_CODE_CS
                    ),
                    format!(
                        "検査結果にcode.codingがありません。1番目のcodingに施設固有の項目コード（system「{}」）を、続けてJLACコードを指定してください",
                        sys::OBS_LOCAL_CODE_CS
                    ),
                );
                return self.contained_encounter_and_department(res, rp);
            }
            Some((first_path, first)) => {
                if str_at(first, "system") != Some(sys::OBS_LOCAL_CODE_CS) {
                    self.error(
                        IssueType::Invariant,
                        "CLINS-OBS-LOCAL-CODE",
                        format!("{first_path}.system"),
                        format!(
                            "the first coding must be the institution's local item code with system {}",
                            sys::OBS_LOCAL_CODE_CS
                        ),
                        format!(
                            "1番目のcodingは施設固有の項目コード（system「{}」）にしてください",
                            sys::OBS_LOCAL_CODE_CS
                        ),
                    );
                }
            }
        }
        let standard = [
            sys::OBS_CORE_LABO_JLAC10,
            sys::OBS_CORE_LABO_JLAC11,
            sys::OBS_INFECTION_LABO_JLAC10,
            sys::OBS_INFECTION_LABO_JLAC11,
            sys::JLAC10_MEDIS,
            sys::OBS_UNCODED_CS,
        ];
        let has_standard = coding_list
            .iter()
            .any(|(_, c)| str_at(c, "system").is_some_and(|s| standard.contains(&s)));
        if !has_standard {
            self.error(
                IssueType::Required,
                "CLINS-OBS-STANDARD-CODE",
                format!("{rp}.code.coding"),
                format!(
                    "besides the local code, add a JLAC code: the shared-item code ({} / {}) for the designated items, otherwise the general JLAC10 code ({}) or, if none exists, code 99999999999999999 of {}",
                    sys::OBS_CORE_LABO_JLAC10,
                    sys::OBS_INFECTION_LABO_JLAC10,
                    sys::JLAC10_MEDIS,
                    sys::OBS_UNCODED_CS
                ),
                format!(
                    "施設固有コードに加えてJLACコードが必要です。指定検査・指定感染症は共有項目JLACコード（{} / {}）、それ以外はJLAC10（{}）、該当がなければ未標準化コード（{}の99999999999999999）を指定してください",
                    sys::OBS_CORE_LABO_JLAC10,
                    sys::OBS_INFECTION_LABO_JLAC10,
                    sys::JLAC10_MEDIS,
                    sys::OBS_UNCODED_CS
                ),
            );
        }
        self.contained_encounter_and_department(res, rp);
    }

    fn contained_encounter_and_department(&mut self, res: &Value, rp: &str) {
        self.contained_encounter(res, rp);
        self.department(res, rp);
    }

    /// `encounter` references a contained Encounter (入外区分).
    fn contained_encounter(&mut self, res: &Value, rp: &str) {
        const EN: &str = "put the Encounter (outpatient AMB / inpatient IMP) in `contained` and reference it from `encounter` as `#id`";
        const JA: &str = "受診時の入外区分を表すEncounter（外来AMB／入院IMP）をcontainedに含め、encounterから「#id」で参照してください";
        let Some(enc) = res.get("encounter") else {
            self.error(
                IssueType::Required,
                "CLINS-ENCOUNTER-CONTAINED",
                format!("{rp}.encounter"),
                format!("encounter is missing; {EN}"),
                format!("encounterがありません。{JA}"),
            );
            return;
        };
        let Some(r) = str_at(enc, "reference") else {
            self.error(
                IssueType::Required,
                "CLINS-ENCOUNTER-CONTAINED",
                format!("{rp}.encounter.reference"),
                format!("encounter.reference is missing; {EN}"),
                format!("encounter.referenceがありません。{JA}"),
            );
            return;
        };
        // A non-`#` reference is reported by the reference rule; a `#id` naming nothing too.
        let RefKind::Contained(id) = classify(r) else {
            return;
        };
        let target = res
            .get("contained")
            .map(Value::items)
            .unwrap_or_default()
            .iter()
            .find(|c| str_at(c, "id") == Some(id));
        if let Some(t) = target {
            let trt = str_at(t, "resourceType").unwrap_or("(none)");
            if trt != "Encounter" {
                self.error(
                    IssueType::Invariant,
                    "CLINS-ENCOUNTER-CONTAINED",
                    format!("{rp}.encounter.reference"),
                    format!("encounter points at a contained {trt}, not an Encounter; {EN}"),
                    format!("encounterの参照先が{trt}で、Encounterではありません。{JA}"),
                );
            }
        }
    }

    fn department(&mut self, res: &Value, rp: &str) {
        let has = res
            .get("extension")
            .map(Value::items)
            .unwrap_or_default()
            .iter()
            .any(|e| str_at(e, "url") == Some(sys::DEPARTMENT_EXT));
        if !has {
            self.error(
                IssueType::Required,
                "CLINS-DEPARTMENT-MISSING",
                format!("{rp}.extension"),
                format!(
                    "the department extension is missing; add an extension with url {} and valueCodeableConcept (SS-MIX2 department code)",
                    sys::DEPARTMENT_EXT
                ),
                format!(
                    "診療科拡張がありません。url「{}」の拡張を追加し、valueCodeableConceptに診療科（SS-MIX2診療科コード）を指定してください",
                    sys::DEPARTMENT_EXT
                ),
            );
        }
    }

    // -----------------------------------------------------------------------------------------
    // documents
    // -----------------------------------------------------------------------------------------

    /// eReferral, eDischargeSummary, ePCS and eCheckup bundles. `clins` is false for the
    /// general-use checkup profile, which has no Bundle-ID and no insurance member ID.
    fn document(&mut self, b: &Value, kind: SubmissionKind, evidence: Evidence, clins: bool) {
        self.profile_evidence(b, evidence, kind);
        self.bundle_type(b, "document");
        if clins {
            self.bundle_identifier(b);
        }
        self.timestamp_and_last_updated(b);

        let entries = entries(b);
        self.full_urls(entries);
        if entries.is_empty() {
            self.error(
                IssueType::Invariant,
                "CLINS-FIRST-ENTRY-COMPOSITION",
                "Bundle.entry",
                "the document has no entries; the first entry must be the Composition",
                "文書Bundleにエントリがありません。先頭のエントリはCompositionにしてください",
            );
            return;
        }
        let index = BundleIndex::new(b);
        let mut patient_seen = false;
        for (i, e) in entries.iter().enumerate() {
            let ep = format!("Bundle.entry[{i}]");
            self.forbidden_entry_elements(e, &ep, &["search", "request", "response"]);
            let rp = format!("{ep}.resource");
            let res = e.get("resource");
            let rt = res.and_then(resource_type);
            let (Some(res), Some(rt)) = (res, rt) else {
                if i == 0 {
                    self.first_entry_not_composition(&rp, None);
                } else {
                    self.entry_resource_missing(&rp);
                }
                continue;
            };
            let facts = self.resource_rules(res, rt, &rp);
            self.last_updated(res, &rp);
            // References in the Composition must resolve; in other entries an unresolved
            // reference is reported as a warning.
            let severity = if i == 0 {
                Severity::Error
            } else {
                Severity::Warning
            };
            self.walk_refs(
                res,
                &rp,
                &RefPolicy::Document {
                    index: &index,
                    from: i,
                    severity,
                },
            );
            if i == 0 {
                if rt == "Composition" {
                    self.composition_rules(res, &rp, kind, &index, entries);
                } else {
                    self.first_entry_not_composition(&rp, Some(rt));
                }
            }
            if rt == "Patient" && !patient_seen {
                patient_seen = true;
                if clins {
                    self.patient_member_id_count(&facts, &rp);
                }
            }
        }
        if !patient_seen {
            self.error(
                IssueType::Required,
                "CLINS-PATIENT-MISSING",
                "Bundle.entry",
                "the document has no Patient entry; add the Patient (with the insurance member id) and reference it from Composition.subject",
                "文書BundleにPatientのエントリがありません。被保険者個人識別子を持つPatientを追加し、Composition.subjectから参照してください",
            );
        }
    }

    fn first_entry_not_composition(&mut self, rp: &str, rt: Option<&str>) {
        self.error(
            IssueType::Invariant,
            "CLINS-FIRST-ENTRY-COMPOSITION",
            format!("{rp}.resourceType"),
            format!(
                "the first entry is {}; the first entry of a document Bundle must be the Composition",
                rt.unwrap_or("(none)")
            ),
            format!(
                "先頭のエントリが{}です。文書Bundleの先頭エントリはCompositionにしてください",
                rt.unwrap_or("(なし)")
            ),
        );
    }

    fn composition_rules(
        &mut self,
        comp: &Value,
        rp: &str,
        kind: SubmissionKind,
        index: &BundleIndex,
        entries: &[Value],
    ) {
        if let Some(want) = kind.composition_type() {
            let label = kind.label_ja();
            match comp.get("type") {
                None => self.error(
                    IssueType::Required,
                    "CLINS-COMPOSITION-TYPE",
                    format!("{rp}.type"),
                    format!("Composition.type is missing; a {label} has type code {want}"),
                    format!("Composition.typeがありません。{label}の文書区分コードは{want}です"),
                ),
                Some(t) => {
                    let type_codings = list(t, "coding", &format!("{rp}.type"));
                    let matches = type_codings
                        .iter()
                        .any(|(_, c)| str_at(c, "code") == Some(want));
                    if !matches {
                        let path = type_codings.first().map_or_else(
                            || format!("{rp}.type.coding"),
                            |(p, _)| format!("{p}.code"),
                        );
                        let found = type_codings
                            .first()
                            .and_then(|(_, c)| str_at(c, "code"))
                            .unwrap_or("(none)");
                        self.error(
                            IssueType::Value,
                            "CLINS-COMPOSITION-TYPE",
                            path,
                            format!(
                                "Composition.type is `{found}` but the Bundle profile says {label}, whose type code is {want}; make the document type and the Bundle profile agree"
                            ),
                            format!(
                                "Composition.typeが「{found}」ですが、Bundleのプロファイルは{label}（文書区分コード{want}）です。文書区分とBundleのプロファイルを一致させてください"
                            ),
                        );
                    }
                }
            }
        }
        let status = str_at(comp, "status");
        if status != Some("final") {
            self.error(
                IssueType::Value,
                "CLINS-COMPOSITION-STATUS",
                format!("{rp}.status"),
                format!(
                    "Composition.status is `{}`; documents are submitted with status `final`",
                    status.unwrap_or("(missing)")
                ),
                format!(
                    "Composition.statusが「{}」です。文書は「final」で送信してください",
                    status.unwrap_or("(なし)")
                ),
            );
        }
        let top = sections(comp, rp);
        match kind {
            SubmissionKind::EReferral => {
                self.cda_xor_structured(&top, rp);
                self.require_section(&top, "920", rp, "CLINS-SECTION-MISSING");
                self.require_section(&top, "910", rp, "CLINS-REFERRAL-ADDRESSEE");
                if let Some(s910) = top.iter().find(|s| has_code(s, "910")) {
                    self.referral_addressee(s910, index, entries);
                }
                if let Some(s300) = top.iter().find(|s| has_code(s, "300")) {
                    let subs = sections(s300.value, &s300.path);
                    for code in ["950", "340", "360"] {
                        self.require_section(&subs, code, &s300.path, "CLINS-SECTION-MISSING");
                    }
                }
            }
            SubmissionKind::EDischargeSummary => {
                self.cda_xor_structured(&top, rp);
                if let Some(s300) = top.iter().find(|s| has_code(s, "300")) {
                    let subs = sections(s300.value, &s300.path);
                    for code in [
                        "322", "342", "352", "312", "362", "333", "324", "344", "444", "424",
                    ] {
                        self.require_section(&subs, code, &s300.path, "CLINS-SECTION-MISSING");
                    }
                }
            }
            SubmissionKind::EPcs => {
                self.require_section(&top, "422", rp, "CLINS-SECTION-MISSING");
                for s in top.iter().filter(|s| !has_code(s, "422")) {
                    let path = s
                        .code
                        .as_ref()
                        .map_or_else(|| s.path.clone(), |(p, _)| p.clone());
                    self.error(
                        IssueType::Structure,
                        "CLINS-SECTION-UNEXPECTED",
                        path,
                        "a patient summary (ePCS) has exactly one section, code 422 (計画サマリー); move this content into it or remove the section",
                        "患者サマリーのセクションはコード422（計画サマリー）の1つだけです。このセクションの内容は422に移すか、セクションを削除してください",
                    );
                }
            }
            _ => {}
        }
    }

    /// Exactly one of section 200 (CDA) and 300 (structured) at the top level.
    pub(crate) fn cda_xor_structured(&mut self, top: &[Section<'_>], rp: &str) {
        let found: Vec<&Section<'_>> = top
            .iter()
            .filter(|s| has_code(s, "200") || has_code(s, "300"))
            .collect();
        match found.as_slice() {
            [] => self.error(
                IssueType::Invariant,
                "CLINS-SECTION-200-XOR-300",
                format!("{rp}.section"),
                "the document has neither section 200 (CDA reference) nor section 300 (structured information); include exactly one of them",
                "CDA参照セクション（200）も構造情報セクション（300）もありません。どちらか一方を1つだけ含めてください",
            ),
            [_] => {}
            [_, second, ..] => {
                let path = second
                    .code
                    .as_ref()
                    .map_or_else(|| second.path.clone(), |(p, _)| p.clone());
                self.error(
                    IssueType::Invariant,
                    "CLINS-SECTION-200-XOR-300",
                    path,
                    "the document may contain only one of section 200 (CDA reference) and section 300 (structured information), once; remove this section",
                    "CDA参照セクション（200）と構造情報セクション（300）は、どちらか一方を1つだけ含めることができます。このセクションを削除してください",
                );
            }
        }
    }

    /// Section `code` exactly once among `secs` (children of `parent_path`).
    fn require_section(
        &mut self,
        secs: &[Section<'_>],
        code: &str,
        parent_path: &str,
        missing_detail: &'static str,
    ) {
        let (name_ja, name_en) = section_name(code);
        let found: Vec<&Section<'_>> = secs.iter().filter(|s| has_code(s, code)).collect();
        if found.is_empty() {
            let (extra_en, extra_ja) = if code == "910" {
                (
                    " A referral must name its addressee (紹介先医療機関).",
                    "診療情報提供書には紹介先（宛先）の指定が必須です。",
                )
            } else {
                ("", "")
            };
            self.error(
                IssueType::Required,
                missing_detail,
                format!("{parent_path}.section"),
                format!("the required section {code} ({name_en}) is missing; add it.{extra_en}"),
                format!(
                    "必須のセクション{code}（{name_ja}）がありません。追加してください。{extra_ja}"
                ),
            );
        }
        for dup in found.iter().skip(1) {
            let path = dup
                .code
                .as_ref()
                .map_or_else(|| dup.path.clone(), |(p, _)| p.clone());
            self.error(
                IssueType::Invariant,
                "CLINS-SECTION-DUPLICATE",
                path,
                format!("section {code} ({name_en}) appears more than once; it is allowed once"),
                format!("セクション{code}（{name_ja}）が複数あります。1つだけにしてください"),
            );
        }
    }

    /// Section 910 names the addressee Organization, which must be an entry of the Bundle.
    fn referral_addressee(&mut self, s910: &Section<'_>, index: &BundleIndex, entries: &[Value]) {
        let ok = list(s910.value, "entry", &s910.path)
            .iter()
            .filter_map(|(_, e)| str_at(e, "reference"))
            .filter_map(|r| index.resolve(r, Some(0)))
            .filter_map(|i| entries.get(i))
            .any(|e| e.get("resource").and_then(resource_type) == Some("Organization"));
        if !ok {
            self.error(
                IssueType::Required,
                "CLINS-REFERRAL-ADDRESSEE",
                format!("{}.entry", s910.path),
                "section 910 (referral-to) must reference the addressee Organization, included as an entry of the Bundle (its 10-digit institution number identifies the addressee)",
                "紹介先情報セクション（910）には、紹介先の医療機関（Organization）をBundleのエントリとして含めて参照してください（宛先は医療機関番号10桁で特定されます）",
            );
        }
    }

    // -----------------------------------------------------------------------------------------
    // legacy, general checkup, other bundles
    // -----------------------------------------------------------------------------------------

    fn legacy_ereferral(&mut self, b: &Value, evidence: Evidence) {
        if let Evidence::Profile(i) = evidence {
            let path = profile_path(b, i);
            self.error(
                IssueType::NotSupported,
                "CLINS-LEGACY-PROFILE",
                path,
                format!(
                    "{} is the profile of the stand-alone eReferral IG, superseded by JP-CLINS (since 1.2.0); rebuild the document with the current profile {} (Bundle.identifier system {}, Bundle-ID value)",
                    sys::BUNDLE_EREFERRAL_LEGACY,
                    sys::BUNDLE_EREFERRAL,
                    sys::BUNDLE_IDENTIFIER_SYSTEM
                ),
                format!(
                    "「{}」は単独のeReferral実装ガイドのプロファイルで、JP-CLINS（1.2.0以降）に統合され廃止されています。現行のプロファイル「{}」で作成し直してください（Bundle.identifierはsystem「{}」とBundle-ID）",
                    sys::BUNDLE_EREFERRAL_LEGACY,
                    sys::BUNDLE_EREFERRAL,
                    sys::BUNDLE_IDENTIFIER_SYSTEM
                ),
            );
        }
        let system = b
            .get("identifier")
            .and_then(|i| i.get("system"))
            .and_then(Value::as_str);
        if system == Some(sys::LEGACY_DOCUMENT_IDENTIFIER_SYSTEM) {
            self.error(
                IssueType::NotSupported,
                "CLINS-LEGACY-IDENTIFIER-SYSTEM",
                "Bundle.identifier.system",
                format!(
                    "{} is the Bundle.identifier system of the superseded eReferral IG; use {} with a Bundle-ID `<institution number>^<year>^<local id>` (e.g. 1311234567^2024^000123), and the profile {}",
                    sys::LEGACY_DOCUMENT_IDENTIFIER_SYSTEM,
                    sys::BUNDLE_IDENTIFIER_SYSTEM,
                    sys::BUNDLE_EREFERRAL
                ),
                format!(
                    "Bundle.identifierのsystem「{}」は廃止された旧eReferral実装ガイドのものです。system「{}」とBundle-ID「医療機関番号10桁^発行年4桁^施設内ID」（例: 1311234567^2024^000123）を指定し、プロファイル「{}」で作成してください",
                    sys::LEGACY_DOCUMENT_IDENTIFIER_SYSTEM,
                    sys::BUNDLE_IDENTIFIER_SYSTEM,
                    sys::BUNDLE_EREFERRAL
                ),
            );
        }
        self.entry_resource_rules(b);
    }

    fn checkup_general_notice(&mut self, b: &Value, evidence: Evidence) {
        let path = match evidence {
            Evidence::Profile(i) => profile_path(b, i),
            _ => "Bundle.identifier.system".to_string(),
        };
        self.warning(
            IssueType::NotSupported,
            "CLINS-CHECKUP-GENERAL-PROFILE",
            path,
            format!(
                "this checkup report uses the general-use (non-CLINS) bundle profile {} of checkup IG 1.1.3, which carries no Bundle-ID and no insurance member id; to submit it to the service, use {} with Bundle.identifier system {} and a Patient with the insurance member id",
                sys::BUNDLE_ECHECKUP_GENERAL,
                sys::BUNDLE_ECHECKUP,
                sys::BUNDLE_IDENTIFIER_SYSTEM
            ),
            format!(
                "この健診結果報告書は健診IG 1.1.3の一般利用向け（CLINS以外）のプロファイル「{}」で、Bundle-IDも被保険者個人識別子も持ちません。サービスに送信するには「{}」を使い、Bundle.identifierにsystem「{}」のBundle-IDを、Patientに被保険者個人識別子を指定してください",
                sys::BUNDLE_ECHECKUP_GENERAL,
                sys::BUNDLE_ECHECKUP,
                sys::BUNDLE_IDENTIFIER_SYSTEM
            ),
        );
    }

    fn other_bundle(&mut self, b: &Value) {
        self.entry_resource_rules(b);
    }

    /// Resource-level rules and `#id` references on every entry.
    fn entry_resource_rules(&mut self, b: &Value) {
        for (i, e) in entries(b).iter().enumerate() {
            let Some(res) = e.get("resource") else {
                continue;
            };
            let Some(rt) = resource_type(res) else {
                continue;
            };
            let rp = format!("Bundle.entry[{i}].resource");
            self.resource_rules(res, rt, &rp);
            self.walk_refs(res, &rp, &RefPolicy::ContainedOnly);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Offline tests on small synthetic bundles (the official examples are exercised in
    //! `tests/fixtures.rs` when the shared folder is present).

    use super::*;
    use fhir::json::parse;

    fn v(text: &str) -> Value {
        parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn errors(issues: &[Issue]) -> Vec<(&'static str, &str)> {
        let mut e: Vec<(&'static str, &str)> = issues
            .iter()
            .filter(|i| i.severity.is_error())
            .map(|i| (i.detail, i.expression.as_str()))
            .collect();
        e.sort();
        e
    }

    const INST_EXT: &str = r#"{"url":"http://jpfhir.jp/fhir/clins/Extension/StructureDefinition/JP_eCS_InstitutionNumber",
        "valueIdentifier":{"system":"http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no","value":"2712345678"}}"#;
    const DEPT_EXT: &str = r#"{"url":"http://jpfhir.jp/fhir/eCS/Extension/StructureDefinition/JP_eCS_Department",
        "valueCodeableConcept":{"coding":[{"system":"http://jami.jp/SS-MIX2/CodeSystem/ClinicalDepartment","code":"01"}]}}"#;
    const PATIENT_URL: &str = "urn:uuid:5f0c2a4e-1b3d-4c5e-8f70-91a2b3c4d5e6";
    const KANJI_NAME: &str = r#"{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation","valueCode":"IDE"}],
        "text":"大阪 花子","family":"大阪","given":["花子"]}"#;

    /// A small 6情報 Condition unit: Patient + one Condition, with `condition_extra` spliced
    /// into the Condition.
    fn condition_unit(condition_extra: &str) -> Value {
        v(&format!(
            r##"{{"resourceType":"Bundle",
              "meta":{{"lastUpdated":"2024-05-01T09:00:00+09:00",
                "profile":["http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_CLINS|1"],
                "tag":[{{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS","code":"Condition"}}]}},
              "type":"collection",
              "identifier":{{"system":"http://jpfhir.jp/fhir/clins/bundle-identifier","value":"2712345678^2024^unit-7"}},
              "timestamp":"2024-05-01T09:00:00+09:00",
              "entry":[
                {{"fullUrl":"{PATIENT_URL}","resource":{{"resourceType":"Patient",
                  "meta":{{"lastUpdated":"2024-05-01T09:00:00+09:00",
                    "profile":["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Patient_eCS|1"]}},
                  "extension":[{INST_EXT}],
                  "name":[{KANJI_NAME}],
                  "identifier":[{{"system":"http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID","value":"27000001::12345:"}}]}}}},
                {{"fullUrl":"urn:uuid:6a1d3b5f-2c4e-4d6f-9081-a2b3c4d5e6f7","resource":{{"resourceType":"Condition",
                  "meta":{{"lastUpdated":"2024-05-01T09:00:00+09:00",
                    "profile":["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Condition_eCS|1"]}},
                  "extension":[{INST_EXT},{DEPT_EXT}],
                  "contained":[{{"resourceType":"Encounter","id":"enc",
                                 "meta":{{"profile":["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Encounter"]}},
                                 "status":"finished","class":{{"code":"AMB"}}}},
                               {{"resourceType":"Practitioner","id":"doc"}}],
                  "code":{{"coding":[{{"system":"http://medis.or.jp/CodeSystem/master-disease-keyNumber","code":"20059258"}}],"text":"本態性高血圧症"}},
                  "subject":{{"reference":"{PATIENT_URL}"}},
                  "encounter":{{"reference":"#enc"}},
                  "recorder":{{"reference":"#doc"}},
                  "onsetDateTime":"2023-04-01"{condition_extra}}}}}
              ]}}"##
        ))
    }

    #[test]
    fn synthetic_condition_unit_is_valid() {
        let issues = check(&condition_unit(""));
        assert!(issues.is_empty(), "{issues:#?}");
    }

    #[test]
    fn synthetic_condition_unit_violations() {
        // (flag code to tag the Condition with, extra JSON for the Condition, expected errors)
        type Case = (
            Option<&'static str>,
            &'static str,
            Vec<(&'static str, &'static str)>,
        );
        let cases: Vec<Case> = vec![
            (Some("UNDELIVERED"), "", vec![]),
            (
                Some("HIDDEN"),
                "",
                vec![(
                    "CLINS-FLAG-CODE",
                    "Bundle.entry[1].resource.meta.tag[0].code",
                )],
            ),
            (
                None,
                r#","asserter":{"reference":"Practitioner/doc"}"#,
                vec![(
                    "CLINS-REF-NOT-CONTAINED",
                    "Bundle.entry[1].resource.asserter.reference",
                )],
            ),
            (
                None,
                r#","asserter":{"identifier":{"system":"urn:x","value":"1"}}"#,
                vec![(
                    "CLINS-REF-NOT-CONTAINED",
                    "Bundle.entry[1].resource.asserter.identifier",
                )],
            ),
            (
                None,
                r##","evidence":[{"detail":[{"reference":"#nothing"}]}]"##,
                vec![(
                    "CLINS-REF-CONTAINED-MISSING",
                    "Bundle.entry[1].resource.evidence[0].detail[0].reference",
                )],
            ),
            // `#` alone points at the container and is fine
            (
                None,
                r##","evidence":[{"detail":[{"reference":"#"}]}]"##,
                vec![],
            ),
            // display-only references are allowed
            (None, r#","asserter":{"display":"主治医"}"#, vec![]),
        ];
        for (flag, extra, want) in cases {
            let mut b = condition_unit(extra);
            if let Some(code) = flag {
                let tag = v(&format!(
                    r#"[{{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication","code":"{code}"}}]"#
                ));
                let meta = b
                    .get_mut_entries()
                    .and_then(|e| e.get_mut(1))
                    .and_then(|e| e.as_object_mut())
                    .and_then(|e| e.get_mut("resource"))
                    .and_then(|r| r.as_object_mut())
                    .and_then(|r| r.get_mut("meta"))
                    .and_then(|m| m.as_object_mut());
                if let Some(meta) = meta {
                    meta.insert("tag", tag);
                }
            }
            let issues = check(&b);
            let mut want = want;
            want.sort();
            assert_eq!(errors(&issues), want, "{flag:?} {extra}\n{issues:#?}");
        }
    }

    #[test]
    fn synthetic_condition_unit_without_tagged_entry_and_patient_only() {
        let mut b = condition_unit("");
        if let Some(entries) = b.get_mut_entries() {
            entries.truncate(1);
        }
        assert!(check(&b).is_empty());
    }

    trait EntriesMut {
        fn get_mut_entries(&mut self) -> Option<&mut Vec<Value>>;
    }
    impl EntriesMut for Value {
        fn get_mut_entries(&mut self) -> Option<&mut Vec<Value>> {
            self.as_object_mut()?.get_mut("entry")?.as_array_mut()
        }
    }

    /// A small structured referral: Composition, Patient, two Organizations.
    fn referral(sections: &str) -> Value {
        let org = |url: &str, no: &str| {
            format!(
                r#"{{"fullUrl":"{url}","resource":{{"resourceType":"Organization","meta":{{"lastUpdated":"2024-05-01T09:00:00+09:00"}},
                   "identifier":[{{"system":"http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no","value":"{no}"}}]}}}}"#
            )
        };
        v(&format!(
            r#"{{"resourceType":"Bundle",
              "meta":{{"lastUpdated":"2024-05-01T09:00:00+09:00","profile":["http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eReferral|1"]}},
              "type":"document",
              "identifier":{{"system":"http://jpfhir.jp/fhir/clins/bundle-identifier","value":"2712345678^2024^ref-1"}},
              "timestamp":"2024-05-01T09:00:00+09:00",
              "entry":[
                {{"fullUrl":"urn:uuid:10000000-0000-4000-8000-000000000000","resource":{{"resourceType":"Composition",
                  "meta":{{"lastUpdated":"2024-05-01T09:00:00+09:00"}},"status":"final",
                  "type":{{"coding":[{{"system":"http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes","code":"57133-1"}}]}},
                  "subject":{{"reference":"urn:uuid:20000000-0000-4000-8000-000000000000"}},
                  "section":[{sections}]}}}},
                {{"fullUrl":"urn:uuid:20000000-0000-4000-8000-000000000000","resource":{{"resourceType":"Patient",
                  "meta":{{"lastUpdated":"2024-05-01T09:00:00+09:00"}},
                  "name":[{KANJI_NAME}],
                  "identifier":[{{"system":"http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID","value":"27000001:ＡＢ:１２:01"}}]}}}},
                {},
                {}
              ]}}"#,
            org(
                "urn:uuid:30000000-0000-4000-8000-000000000000",
                "2712345678"
            ),
            org(
                "urn:uuid:40000000-0000-4000-8000-000000000000",
                "2718765432"
            ),
        ))
    }

    fn sec(code: &str, body: &str) -> String {
        format!(
            r#"{{"code":{{"coding":[{{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/document-section","code":"{code}"}}]}}{body}}}"#
        )
    }

    fn structured() -> String {
        sec(
            "300",
            &format!(
                r#","section":[{},{},{}]"#,
                sec("950", ""),
                sec("340", ""),
                sec("360", "")
            ),
        )
    }

    #[test]
    fn synthetic_referral_is_valid() {
        let from = sec(
            "920",
            r#","entry":[{"reference":"urn:uuid:30000000-0000-4000-8000-000000000000"}]"#,
        );
        let to = sec(
            "910",
            r#","entry":[{"reference":"urn:uuid:40000000-0000-4000-8000-000000000000"}]"#,
        );
        let b = referral(&format!("{from},{to},{}", structured()));
        let issues = check(&b);
        assert!(issues.is_empty(), "{issues:#?}");

        // 910 pointing at the Patient is not an addressee
        let to_patient = sec(
            "910",
            r#","entry":[{"reference":"urn:uuid:20000000-0000-4000-8000-000000000000"}]"#,
        );
        let b = referral(&format!("{from},{to_patient},{}", structured()));
        assert_eq!(
            errors(&check(&b)),
            vec![(
                "CLINS-REFERRAL-ADDRESSEE",
                "Bundle.entry[0].resource.section[1].entry"
            )]
        );

        // 910 with no entry at all
        let b = referral(&format!("{from},{},{}", sec("910", ""), structured()));
        assert_eq!(
            errors(&check(&b)),
            vec![(
                "CLINS-REFERRAL-ADDRESSEE",
                "Bundle.entry[0].resource.section[1].entry"
            )]
        );
    }

    #[test]
    fn odd_inputs_never_panic() {
        let clins = r#""meta":{"profile":["http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_CLINS"],"tag":{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS","code":"Observation"}}"#;
        let referral = r#""meta":{"profile":"http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eReferral"}"#;
        let texts = [
            "null".to_string(),
            "[]".to_string(),
            r#""Bundle""#.to_string(),
            r#"{"resourceType":5}"#.to_string(),
            r#"{"resourceType":"bundle"}"#.to_string(),
            r#"{"resourceType":"Basic","meta":{"tag":[{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication"}]}}"#.to_string(),
            r#"{"resourceType":"Bundle","entry":"x"}"#.to_string(),
            format!(r#"{{"resourceType":"Bundle",{clins},"entry":[null,1,"x",{{"resource":null}},{{"resource":{{"resourceType":"Observation","code":5,"extension":7,"encounter":[]}}}}]}}"#),
            format!(r#"{{"resourceType":"Bundle",{clins},"identifier":[],"entry":[{{"fullUrl":5,"resource":{{"resourceType":"Patient","identifier":{{"system":"http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID","value":7}}}}}}]}}"#),
            format!(r#"{{"resourceType":"Bundle",{referral},"entry":[{{"resource":{{"resourceType":"Composition","section":[{{"code":"300","section":5}},{{"code":{{"coding":{{"code":"300"}}}}}}],"type":[]}}}}]}}"#),
            format!(r#"{{"resourceType":"Bundle",{referral},"entry":[{{"resource":{{"resourceType":"Composition","section":{{"code":{{"coding":[{{"code":"910"}}]}},"entry":{{"reference":9}}}}}}}}]}}"#),
        ];
        for t in &texts {
            let value = v(t);
            let _ = check(&value);
        }
        // A single (non-array) meta.tag and meta.profile give paths without an index.
        let b = v(&format!(
            r#"{{"resourceType":"Bundle",{clins},"type":"collection","entry":[]}}"#
        ));
        let issues = check(&b);
        assert!(
            issues.iter().all(|i| !i.expression.contains("tag[")),
            "{issues:#?}"
        );
    }

    #[test]
    fn deep_values_built_in_code_do_not_overflow() {
        let mut deep = Value::Null;
        for _ in 0..5000 {
            let mut o = fhir::json::Object::new();
            o.insert("x", deep);
            deep = Value::Object(o);
        }
        let mut res = fhir::json::Object::new();
        res.insert("resourceType", Value::string("Condition"));
        res.insert("note", deep);
        let res = Value::Object(res);
        let _ = check(&res);
        // Dropping a 5000-deep value recursively is fine on the test thread's stack.
    }

    #[test]
    fn urn_uuid_shape() {
        assert!(is_lowercase_urn_uuid(
            "urn:uuid:b76ef6f6-f6e3-c110-5039-eee64ef6ab6a"
        ));
        for bad in [
            "urn:uuid:B76EF6F6-f6e3-c110-5039-eee64ef6ab6a",
            "urn:uuid:b76ef6f6f6e3c1105039eee64ef6ab6a",
            "urn:uuid:b76ef6f6-f6e3-c110-5039-eee64ef6ab6",
            "urn:uuid:g76ef6f6-f6e3-c110-5039-eee64ef6ab6a",
            "urn:oid:1.2.3",
            "b76ef6f6-f6e3-c110-5039-eee64ef6ab6a",
            "",
        ] {
            assert!(!is_lowercase_urn_uuid(bad), "{bad}");
        }
    }
}
