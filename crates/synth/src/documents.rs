//! The documents: 処方 (MedicationRequest, only inside documents), 診療情報提供書 (structured,
//! text-only, with a PDF section, or carrying a 退院時サマリー), 退院時サマリー, 健診結果報告書 and
//! 患者サマリー. Every builder draws from the patient's random stream it is given, so the output
//! stays deterministic; nothing is kept between patients.

use super::*;

const DOC_TYPES: &str = "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes";
const DOC_SUBTYPES: &str = "http://jpfhir.jp/fhir/Common/CodeSystem/doc-subtypecodes";
const SECTION_CODES: &str = "http://jpfhir.jp/fhir/clins/CodeSystem/document-section";
const MERIT9_UNIT: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationUnitMERIT9Code";
const UCUM: &str = "http://unitsofmeasure.org";
const DOCUMENT_CODES: &str = "http://jpfhir.jp/fhir/core/CodeSystem/JP_DocumentCodes_CS";
const VERSION_NUMBER: &str =
    "http://hl7.org/fhir/StructureDefinition/composition-clinicaldocument-versionNumber";

const P_PRACTITIONER: &str = "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Practitioner_eCS|1";
const P_ORGANIZATION: &str = "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Organization_eCS|1";
const P_ENCOUNTER: &str = "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Encounter_eCS|1";
const P_DOCREF: &str = "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_DocumentReference_eCS|1";
const P_MEDREQ: &str = "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_MedicationRequest_eCS|1";

// ------------------------------------------------------------------------------ common parts

/// The entries of a document Bundle, Composition first. Full URLs are drawn as resources are
/// added, so references can be written before the Composition is built.
struct Entries {
    items: Vec<(String, Value)>,
}

impl Entries {
    fn new() -> Self {
        Entries { items: Vec::new() }
    }

    fn add(&mut self, rng: &mut Rng, resource: Value) -> String {
        let url = urn(rng);
        self.items.push((url.clone(), resource));
        url
    }

    /// The Bundle: `composition` (with its drawn URL) first, then the entries in order.
    fn bundle(
        self,
        profile: &str,
        bundle_id: &str,
        updated: &str,
        composition: (String, Value),
    ) -> (Value, usize) {
        let mut entries = Vec::with_capacity(self.items.len() + 1);
        for (url, r) in std::iter::once(composition).chain(self.items) {
            entries.push(bundle_entry(&url, r));
        }
        let n = entries.len();
        let b = bundle_resource(
            meta(profile, updated),
            bundle_id,
            "document",
            updated,
            entries,
        );
        (b, n)
    }
}

fn reference(url: &str, ty: &str) -> Value {
    obj([("reference", s(url)), ("type", s(ty))])
}

fn refs(urls: &[String], ty: &str) -> Vec<Value> {
    urls.iter().map(|u| reference(u, ty)).collect()
}

/// Section text (status `additional`, as the JP-CLINS documents ask).
fn section_text(text: &str) -> Value {
    let mut o = match narrative(text) {
        Value::Object(o) => o,
        _ => Object::new(),
    };
    o.insert("status", s("additional"));
    Value::Object(o)
}

/// The display of a JP-CLINS document section code.
fn section_display(code: &str) -> &'static str {
    match code {
        "210" => "添付情報セクション",
        "230" => "PDFセクション",
        "300" => "構造情報セクション",
        "312" => "入院理由セクション",
        "322" => "入院時詳細セクション",
        "324" => "退院時詳細セクション",
        "333" => "入院中経過セクション",
        "340" => "傷病名・主訴セクション",
        "342" => "入院時診断セクション",
        "344" => "退院時診断セクション",
        "352" => "主訴セクション",
        "360" => "現病歴セクション",
        "362" => "現病歴セクション",
        "422" => "計画サマリーセクション",
        "424" => "退院時方針指示セクション",
        "430" => "投薬指示セクション",
        "444" => "退院時投薬指示セクション",
        "510" => "アレルギー・不耐性反応セクション",
        "620" => "検査結果セクション",
        "910" => "紹介先情報セクション",
        "920" => "紹介元情報セクション",
        "950" => "紹介目的セクション",
        _ => "",
    }
}

/// A Composition section: code (document-section), title, optional text, entries and
/// sub-sections.
fn section(
    code: &str,
    title: &str,
    text: Option<&str>,
    entry: Vec<Value>,
    sub: Vec<Value>,
) -> Value {
    let mut o = Object::new();
    o.insert("title", s(title));
    o.insert(
        "code",
        codeable_with_display(SECTION_CODES, code, section_display(code)),
    );
    if let Some(t) = text {
        o.insert("text", section_text(t));
    }
    if !entry.is_empty() {
        o.insert("entry", arr(entry));
    }
    if !sub.is_empty() {
        o.insert("section", arr(sub));
    }
    Value::Object(o)
}

/// A section with text and entries, no sub-sections.
fn entry_section(code: &str, title: &str, text: &str, entry: Vec<Value>) -> Value {
    section(code, title, Some(text), entry, Vec::new())
}

/// A section with text alone.
fn text_section(code: &str, title: &str, text: &str) -> Value {
    section(code, title, Some(text), Vec::new(), Vec::new())
}

/// A Composition's common part: meta, narrative, version, identifier, status, type, category,
/// title, subject, encounter, date and authors. The caller adds custodian, event and sections.
struct CompositionHead<'a> {
    profile: &'a str,
    type_code: (&'a str, &'a str),
    /// The category: code system, code and display.
    category: (&'a str, &'a str, &'a str),
    title: &'a str,
    id_value: &'a str,
    patient: &'a str,
    encounter: &'a str,
    date: &'a str,
    authors: Vec<Value>,
    summary: String,
}

fn composition(h: CompositionHead<'_>, updated: &str) -> Object {
    let mut o = Object::new();
    o.insert("resourceType", s("Composition"));
    o.insert("meta", meta(h.profile, updated));
    o.insert("text", narrative(&h.summary));
    o.insert(
        "extension",
        arr(vec![obj([
            ("url", s(VERSION_NUMBER)),
            ("valueString", s("1")),
        ])]),
    );
    o.insert("identifier", identifier(RESOURCE_ID, h.id_value));
    o.insert("status", s("final"));
    o.insert(
        "type",
        codeable_with_display(DOC_TYPES, h.type_code.0, h.type_code.1),
    );
    o.insert(
        "category",
        arr(vec![codeable_with_display(
            h.category.0,
            h.category.1,
            h.category.2,
        )]),
    );
    o.insert("subject", reference(h.patient, "Patient"));
    o.insert("encounter", reference(h.encounter, "Encounter"));
    o.insert("date", s(h.date));
    o.insert("author", arr(h.authors));
    o.insert("title", s(h.title));
    o
}

/// A doctor of an institution.
pub(crate) struct Doctor {
    family: (&'static str, &'static str),
    given: (&'static str, &'static str),
    id: String,
}

impl Doctor {
    pub(crate) fn draw(rng: &mut Rng) -> Self {
        let fam_w: Vec<u32> = FAMILY_NAMES.iter().map(|f| f.2).collect();
        let f = FAMILY_NAMES[rng.weighted(&fam_w)];
        let given = if rng.chance(0.7) {
            *rng.pick(&MALE_NAMES)
        } else {
            *rng.pick(&FEMALE_NAMES)
        };
        Doctor {
            family: (f.0, f.1),
            given,
            id: format!("D{:04}", rng.range(1, 9999)),
        }
    }

    fn name(&self) -> String {
        format!("{} {}", self.family.0, self.given.0)
    }
}

/// A Practitioner (JP_Practitioner_eCS or a checkup profile) with the 施設医師ID and the kanji
/// and kana names.
fn practitioner(d: &Doctor, inst: &Institution, profile: &str, updated: &str) -> Value {
    obj([
        ("resourceType", s("Practitioner")),
        ("meta", meta(profile, updated)),
        (
            "text",
            narrative(&format!("{} 医師（{}）", d.name(), inst.name)),
        ),
        ("identifier", arr(vec![doctor_identifier(inst, &d.id)])),
        (
            "name",
            arr(vec![
                official_name("IDE", d.family.0, d.given.0),
                official_name("SYL", d.family.1, d.given.1),
            ]),
        ),
    ])
}

/// An Organization for a care provider: 医療機関番号, the JP Core extensions that split it,
/// optionally the department, name and address.
fn organization(
    inst: &Institution,
    dept: Option<(&str, &str)>,
    profile: &str,
    updated: &str,
) -> Value {
    // The JP Core extensions that split the 医療機関番号.
    let split = |name: &str, key: &str, value: Value| {
        obj([
            (
                "url",
                s(format!(
                    "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Organization_{name}"
                )),
            ),
            (key, value),
        ])
    };
    let mut ext = vec![
        split(
            "PrefectureNo",
            "valueCoding",
            coding(
                "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/PrefectureNo-2digits",
                &inst.number[0..2],
            ),
        ),
        split(
            "InsuranceOrganizationCategory",
            "valueCoding",
            coding(
                "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationFeeScoreType",
                &inst.number[2..3],
            ),
        ),
        split(
            "InsuranceOrganizationNo",
            "valueIdentifier",
            identifier(
                "http://jpfhir.jp/fhir/core/mhlw/IdSystem/MedicalOrganizationID",
                &inst.number[3..],
            ),
        ),
    ];
    if let Some((code, name)) = dept {
        ext.push(department_ext(code, name));
    }
    obj([
        ("resourceType", s("Organization")),
        ("meta", meta(profile, updated)),
        (
            "text",
            narrative(&format!("{}（{}）", inst.name, inst.address())),
        ),
        ("extension", arr(ext)),
        (
            "identifier",
            arr(vec![identifier(
                "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no",
                &inst.number,
            )]),
        ),
        (
            "type",
            arr(vec![codeable(
                "http://terminology.hl7.org/CodeSystem/organization-type",
                "prov",
            )]),
        ),
        ("name", s(&inst.name)),
        ("address", arr(vec![address(inst)])),
    ])
}

fn address(inst: &Institution) -> Value {
    let p = usize::from(inst.prefecture - 1);
    obj([
        ("text", s(inst.address())),
        ("line", arr(vec![s(&inst.line)])),
        ("city", s(CITIES[p].0)),
        ("state", s(PREFECTURES[p].0)),
        ("postalCode", s(&inst.postal_code)),
        ("country", s("JP")),
    ])
}

/// A hospital stay: admission date, discharge date, length in days.
type Stay = ((u32, u32, u32), (u32, u32, u32), u32);

/// An Encounter_eCS: an outpatient visit (`AMB`) or a stay (`IMP`, with its length).
fn visit_encounter(
    id_value: &str,
    inpatient: Option<Stay>,
    start: (u32, u32, u32),
    reason: Option<&str>,
    updated: &str,
) -> Value {
    let (code, display) = if inpatient.is_some() {
        ("IMP", "入院")
    } else {
        ("AMB", "外来")
    };
    let mut o = Object::new();
    o.insert("resourceType", s("Encounter"));
    o.insert("meta", meta(P_ENCOUNTER, updated));
    o.insert(
        "text",
        narrative(&match (reason, inpatient) {
            (Some(r), _) => format!("紹介目的: {r}"),
            (None, Some((a, d, _))) => format!("入院 {}〜{}", date(a), date(d)),
            (None, None) => format!("外来受診 {}", date(start)),
        }),
    );
    o.insert("identifier", arr(vec![identifier(RESOURCE_ID, id_value)]));
    o.insert("status", s("finished"));
    o.insert(
        "class",
        coding_with_display(
            "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            code,
            display,
        ),
    );
    match inpatient {
        Some((a, d, length)) => {
            o.insert("period", period(a, d));
            o.insert("length", days(length));
        }
        None => {
            o.insert("period", obj([("start", s(date(start)))]));
        }
    }
    if let Some(r) = reason {
        o.insert("reasonCode", arr(vec![obj([("text", s(r))])]));
    }
    if inpatient.is_some() {
        o.insert(
            "hospitalization",
            obj([
                (
                    "admitSource",
                    codeable_with_display(
                        "http://jpfhir.jp/fhir/Common/CodeSystem/admit-Source",
                        "1",
                        "家庭からの入院",
                    ),
                ),
                (
                    "dischargeDisposition",
                    codeable_with_display(
                        "http://jpfhir.jp/fhir/Common/CodeSystem/discharge-disposition",
                        "1",
                        "治癒・軽快",
                    ),
                ),
            ]),
        );
    }
    Value::Object(o)
}

// ------------------------------------------------------------------------------ 処方

/// The drugs for the active conditions of a unit (one per condition, no duplicates).
pub(crate) fn drugs_for(conds: &[CondSpec]) -> Vec<&'static Drug> {
    let mut out: Vec<&'static Drug> = Vec::new();
    for c in conds.iter().filter(|c| c.active()) {
        if let Some((_, d)) = DRUGS.iter().find(|(idx, _)| *idx == c.idx) {
            if !out.iter().any(|o| std::ptr::eq(*o, d)) {
                out.push(d);
            }
        }
    }
    out
}

/// One prescription line as written in a document.
pub(crate) struct Rx<'a> {
    pub(crate) drug: &'a Drug,
    /// RP number (1-based) within the prescription.
    pub(crate) rp: usize,
    pub(crate) start: (u32, u32, u32),
    /// 退院時処方 rather than 外来処方.
    pub(crate) discharge: bool,
}

fn merit9(value: u32, unit: (&str, &str)) -> Value {
    obj([
        ("value", Value::Number(value.to_string().into())),
        ("unit", s(unit.1)),
        ("system", s(MERIT9_UNIT)),
        ("code", s(unit.0)),
    ])
}

/// A Period from `start` to `end` (dates).
fn period(start: (u32, u32, u32), end: (u32, u32, u32)) -> Value {
    obj([("start", s(date(start))), ("end", s(date(end)))])
}

/// A duration in days (UCUM `d`).
fn days(value: u32) -> Value {
    obj([
        ("value", Value::Number(value.to_string().into())),
        ("unit", s("日")),
        ("system", s(UCUM)),
        ("code", s("d")),
    ])
}

/// A JP_MedicationRequest_eCS: the drug coded with the 一般名処方マスタ code (two thirds) or the
/// YJ code, the usage coded with the JAMI and MHLW usage codes (one in ten with the dummy usage
/// code instead), the dose, the days and the quantity to dispense; contained Encounter and
/// prescriber.
#[allow(clippy::too_many_arguments)]
pub(crate) fn medication_request(
    rng: &mut Rng,
    rx: &Rx<'_>,
    inst: &Institution,
    dept: (&str, &str),
    doctor: &Doctor,
    id: &str,
    patient_url: &str,
    updated: &str,
) -> Value {
    let d = rx.drug;
    let (usage_code, usage_text, per_day, as_needed) = USAGES[d.usage];
    let generic = rng.chance(0.67);
    let dummy_usage = rng.chance(0.1);
    let (code_system, code, display) = if generic {
        (
            "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationGeneralOrderCode",
            d.general_code,
            d.general_name,
        )
    } else {
        (
            "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code",
            d.yj_code,
            d.product_name,
        )
    };
    let daily = d.dose * per_day;
    // 頓用: `days` is the number of doses (回分), not days.
    let total = if as_needed {
        d.dose * d.days
    } else {
        daily * d.days
    };
    let mut timing_codes = Vec::new();
    if dummy_usage {
        timing_codes.push(coding_with_display(
            "http://jpfhir.jp/fhir/clins/CodeSystem/JP_CLINS_MedicationUsage_Uncoded_CS",
            "0X0XXXXXXXXX0000",
            "ダミー用法コード",
        ));
    } else {
        timing_codes.push(coding_with_display(
            "http://jami.jp/CodeSystem/MedicationUsage",
            usage_code,
            usage_text,
        ));
        timing_codes.push(coding_with_display(
            "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationUsage_ePrescription",
            usage_code,
            usage_text,
        ));
    }
    let mut timing = Object::new();
    timing.insert("code", concept(timing_codes, Some(usage_text)));
    if !as_needed {
        timing.insert(
            "repeat",
            obj([
                ("boundsDuration", days(d.days)),
                ("frequency", Value::Number(per_day.to_string().into())),
                ("period", Value::Number("1".into())),
                ("periodUnit", s("d")),
            ]),
        );
    }
    let dose_text = if as_needed {
        format!("{usage_text} 1回{}{} {}回分", d.dose, d.unit.1, d.days)
    } else {
        format!(
            "{usage_text} 1回{}{}（1日{}{}） {}日分",
            d.dose, d.unit.1, daily, d.unit.1, d.days
        )
    };
    let mut dose = Object::new();
    dose.insert(
        "type",
        codeable_with_display(
            "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationIngredientStrengthStrengthType",
            "1",
            "製剤量",
        ),
    );
    dose.insert("doseQuantity", merit9(d.dose, d.unit));
    if !as_needed {
        dose.insert(
            "rateRatio",
            obj([
                ("numerator", merit9(daily, d.unit)),
                ("denominator", days(1)),
            ]),
        );
    }
    let mut dosage = Object::new();
    dosage.insert(
        "extension",
        arr(vec![obj([
            (
                "url",
                s("http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_MedicationDosage_PeriodOfUse"),
            ),
            ("valuePeriod", obj([("start", s(date(rx.start)))])),
        ])]),
    );
    dosage.insert("text", s(&dose_text));
    dosage.insert("timing", Value::Object(timing));
    if as_needed {
        dosage.insert("asNeededBoolean", Value::Bool(true));
    }
    dosage.insert(
        "route",
        concept(
            vec![coding_with_display(
                "http://jpfhir.jp/fhir/core/CodeSystem/route-codes",
                "PO",
                "口",
            )],
            Some("経口"),
        ),
    );
    dosage.insert(
        "method",
        codeable_with_display(
            "http://jami.jp/CodeSystem/MedicationMethodBasicUsage",
            "1",
            "内服",
        ),
    );
    dosage.insert("doseAndRate", arr(vec![Value::Object(dose)]));

    let mut o = Object::new();
    o.insert("resourceType", s("MedicationRequest"));
    o.insert("meta", meta(P_MEDREQ, updated));
    o.insert("text", narrative(&format!("{display} {dose_text}")));
    o.insert(
        "contained",
        arr(vec![
            encounter("enc"),
            contained_practitioner("req", inst, &doctor.id, &doctor.name(), &doctor.name()),
        ]),
    );
    o.insert(
        "extension",
        arr(vec![institution_ext(inst), department_ext(dept.0, dept.1)]),
    );
    o.insert(
        "identifier",
        arr(vec![
            identifier(
                "http://jpfhir.jp/fhir/core/mhlw/IdSystem/Medication-RPGroupNumber",
                rx.rp.to_string(),
            ),
            identifier(
                "http://jpfhir.jp/fhir/core/mhlw/IdSystem/MedicationAdministrationIndex",
                "1",
            ),
            identifier(RESOURCE_ID, id),
        ]),
    );
    o.insert("status", s("completed"));
    o.insert("intent", s("order"));
    let (cat, cat_name) = if rx.discharge {
        ("DCG", "退院処方")
    } else {
        ("OHP", "外来処方")
    };
    o.insert(
        "category",
        arr(vec![concept(
            vec![coding_with_display(
                "http://jpfhir.jp/fhir/core/CodeSystem/JP_MedicationCategoryMERIT9_CS",
                cat,
                cat_name,
            )],
            Some(cat_name),
        )]),
    );
    o.insert(
        "medicationCodeableConcept",
        concept(
            vec![coding_with_display(code_system, code, display)],
            Some(display),
        ),
    );
    o.insert("subject", untyped_reference(patient_url));
    o.insert("encounter", untyped_reference("#enc"));
    o.insert(
        "authoredOn",
        s(format!("{}T10:00:00+09:00", date(rx.start))),
    );
    o.insert(
        "requester",
        obj([("reference", s("#req")), ("type", s("Practitioner"))]),
    );
    o.insert("dosageInstruction", arr(vec![Value::Object(dosage)]));
    o.insert(
        "dispenseRequest",
        obj([
            ("quantity", merit9(total, d.unit)),
            ("expectedSupplyDuration", days(d.days)),
        ]),
    );
    Value::Object(o)
}

// ------------------------------------------------------------------------------ PDF

/// A one-page PDF with a few lines of ASCII text (Helvetica), with a correct cross-reference
/// table.
pub(crate) fn tiny_pdf(lines: &[&str]) -> Vec<u8> {
    let mut content = String::from("BT /F1 12 Tf 56 780 Td 16 TL\n");
    for l in lines {
        let escaped: String = l
            .chars()
            .filter(char::is_ascii)
            .flat_map(|c| match c {
                '(' | ')' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        content.push_str(&format!("({escaped}) Tj T*\n"));
    }
    content.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.push_str(&format!("{} 0 obj\n{body}\nendobj\n", i + 1));
    }
    let xref = pdf.len();
    pdf.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for off in offsets {
        pdf.push_str(&format!("{off:010} 00000 n \n"));
    }
    pdf.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    pdf.into_bytes()
}

/// Standard base64 with padding.
pub(crate) fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A JP_DocumentReference_eCS with an attachment (`data` base64) or a link to another document
/// (`master`: the Bundle-ID of a document sent with this one).
struct DocRef<'a> {
    type_code: (&'a str, &'a str),
    description: &'a str,
    content_type: &'a str,
    title: &'a str,
    data: Option<String>,
    master: Option<&'a str>,
    date: &'a str,
}

fn document_reference(d: DocRef<'_>, id: &str, patient_url: &str, updated: &str) -> Value {
    let mut att = Object::new();
    att.insert("contentType", s(d.content_type));
    att.insert("language", s("ja"));
    if let Some(data) = d.data {
        att.insert("data", s(data));
    }
    att.insert("title", s(d.title));
    att.insert("creation", s(d.date));
    let mut o = Object::new();
    o.insert("resourceType", s("DocumentReference"));
    o.insert("meta", meta(P_DOCREF, updated));
    o.insert(
        "text",
        narrative(&format!("{}（{}）", d.description, d.title)),
    );
    if let Some(m) = d.master {
        o.insert("masterIdentifier", bundle_identifier(m));
    }
    o.insert("identifier", arr(vec![identifier(RESOURCE_ID, id)]));
    o.insert("status", s("current"));
    o.insert(
        "type",
        codeable_with_display(DOCUMENT_CODES, d.type_code.0, d.type_code.1),
    );
    o.insert("subject", untyped_reference(patient_url));
    o.insert("date", s(d.date));
    o.insert("description", s(d.description));
    o.insert(
        "content",
        arr(vec![obj([("attachment", Value::Object(att))])]),
    );
    Value::Object(o)
}

// ------------------------------------------------------------------------------ 診療情報提供書

/// What an institution knows of a patient when it writes a document: the unit data of one
/// visit.
#[derive(Clone, Copy)]
pub(crate) struct Visit<'a> {
    pub(crate) p: &'a Person,
    pub(crate) inst: &'a Institution,
    pub(crate) local_no: u64,
    pub(crate) seq: u64,
    pub(crate) conds: &'a [CondSpec],
    pub(crate) allergies: &'a [AllergySpec],
    /// The last lab results: when, and the values of `LAB_ITEMS`.
    pub(crate) labs: Option<&'a (String, [f64; 4])>,
}

/// How the referral's clinical content is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// Section 300 with sub-sections that reference Conditions, allergies, prescriptions, labs.
    Structured,
    /// Section 300 with sub-sections in text only (no entries).
    TextOnly,
}

/// A discharge summary sent together with a referral: its Bundle-ID and the stay.
pub(crate) struct DischargeLink {
    pub(crate) bundle_id: String,
    pub(crate) admitted: (u32, u32, u32),
    pub(crate) discharged: (u32, u32, u32),
}

pub(crate) struct Referral<'a> {
    pub(crate) visit: Visit<'a>,
    pub(crate) to: &'a Institution,
    pub(crate) issued: (u32, u32, u32),
    pub(crate) updated: String,
    pub(crate) bundle_id: String,
    pub(crate) body: Body,
    pub(crate) pdf: bool,
    pub(crate) discharge: Option<&'a DischargeLink>,
}

/// The department that writes about `conds` (the 主病名's).
fn main_department(conds: &[CondSpec]) -> (&'static str, &'static str) {
    conds.first().map_or(DEPARTMENTS[0], |c| c.dept)
}

/// A 診療情報提供書 (JP_Bundle_eReferral) from `r.visit.inst` to `r.to`.
pub(crate) fn referral(rng: &mut Rng, r: &Referral<'_>) -> (Value, usize, &'static str) {
    let v = &r.visit;
    let (inst, p, seq) = (v.inst, v.p, v.seq);
    let updated = r.updated.as_str();
    let comp_url = urn(rng);
    let mut e = Entries::new();
    let patient_url = e.add(rng, patient(p, inst, v.local_no, updated));
    let dept = main_department(v.conds);
    let principal = v.conds.first().map_or("（傷病名なし）", |c| c.name());
    let back = r.discharge.is_some() || inst.kind == InstitutionKind::Hospital;
    let purpose = if r.discharge.is_some() {
        format!("{principal}にて入院加療し、退院いたしました。今後の外来での経過観察をお願いいたします。")
    } else if back {
        format!("{principal}の病状は安定しております。貴院での継続加療をお願いいたします。")
    } else {
        format!("{principal}について精査・加療をお願いいたします。")
    };
    let visit_enc = e.add(
        rng,
        visit_encounter(
            &format!("{}-enc-{seq}", inst.number),
            r.discharge.map(|d| {
                (
                    d.admitted,
                    d.discharged,
                    stay_days(d.admitted, d.discharged),
                )
            }),
            r.issued,
            None,
            updated,
        ),
    );
    let from_doc = Doctor::draw(rng);
    let to_doc = Doctor::draw(rng);
    let with_to_doc = rng.chance(0.6);
    let to_dept = if r.to.kind == InstitutionKind::Dental {
        DEPARTMENTS[5]
    } else {
        dept
    };
    let from_doc_url = e.add(rng, practitioner(&from_doc, inst, P_PRACTITIONER, updated));
    let to_doc_url =
        with_to_doc.then(|| e.add(rng, practitioner(&to_doc, r.to, P_PRACTITIONER, updated)));
    let from_org = e.add(rng, organization(inst, Some(dept), P_ORGANIZATION, updated));
    let to_org = e.add(
        rng,
        organization(r.to, Some(to_dept), P_ORGANIZATION, updated),
    );

    let history = v.conds.first().map_or_else(
        || "特記すべき既往なし。".to_string(),
        |c| {
            format!(
                "{}年{}月頃より{}にて当院{}通院中。",
                c.onset.0,
                c.onset.1,
                c.name(),
                c.dept.1
            )
        },
    );
    let cond_names: Vec<String> = v
        .conds
        .iter()
        .map(|c| {
            if c.suspected {
                format!("{}の疑い", c.name())
            } else {
                c.name().to_string()
            }
        })
        .collect();
    let allergy_text = if v.allergies.is_empty() {
        "特記すべきアレルギーなし".to_string()
    } else {
        v.allergies
            .iter()
            .map(|a| ALLERGIES[a.0].2)
            .collect::<Vec<_>>()
            .join("、")
    };
    let drugs = drugs_for(v.conds);
    let drug_text = drugs
        .iter()
        .map(|d| d.general_name)
        .collect::<Vec<_>>()
        .join("、");
    let lab_text = v.labs.map(|(when, vals)| {
        let parts: Vec<String> = LAB_ITEMS
            .iter()
            .zip(vals)
            .map(|(it, x)| format!("{} {:.prec$} {}", it.name, x, it.unit, prec = it.decimals))
            .collect();
        format!("{}: {}", &when[..10], parts.join("、"))
    });

    let mut subs = Vec::new();
    match r.body {
        Body::Structured => {
            let purpose_enc = e.add(
                rng,
                visit_encounter(
                    &format!("{}-refpurpose-{seq}", inst.number),
                    None,
                    r.issued,
                    Some(&purpose),
                    updated,
                ),
            );
            let cond_urls: Vec<String> = v
                .conds
                .iter()
                .enumerate()
                .map(|(i, c)| e.add(rng, condition(c, inst, i, seq, &patient_url, updated)))
                .collect();
            subs.push(entry_section(
                "950",
                "紹介目的",
                &purpose,
                vec![reference(&purpose_enc, "Encounter")],
            ));
            subs.push(entry_section(
                "340",
                "傷病名・主訴",
                &cond_names.join("、"),
                refs(&cond_urls, "Condition"),
            ));
            subs.push(entry_section(
                "360",
                "現病歴",
                &history,
                refs(&cond_urls[..cond_urls.len().min(1)], "Condition"),
            ));
            if !v.allergies.is_empty() {
                let urls: Vec<String> = v
                    .allergies
                    .iter()
                    .enumerate()
                    .map(|(i, a)| e.add(rng, allergy(a, inst, i, seq, &patient_url, updated)))
                    .collect();
                subs.push(entry_section(
                    "510",
                    "アレルギー・不耐性反応",
                    &allergy_text,
                    refs(&urls, "AllergyIntolerance"),
                ));
            }
            if !drugs.is_empty() {
                let start = days_before(r.issued, rng.below(28) as u32);
                let urls: Vec<String> = drugs
                    .iter()
                    .enumerate()
                    .map(|(i, d)| {
                        let rx = Rx {
                            drug: d,
                            rp: i + 1,
                            start,
                            discharge: r.discharge.is_some(),
                        };
                        let id = format!("{}-rx-{seq}-{i}", inst.number);
                        let mr = medication_request(
                            rng,
                            &rx,
                            inst,
                            dept,
                            &from_doc,
                            &id,
                            &patient_url,
                            updated,
                        );
                        e.add(rng, mr)
                    })
                    .collect();
                subs.push(entry_section(
                    "430",
                    "投薬指示",
                    &drug_text,
                    refs(&urls, "MedicationRequest"),
                ));
            }
            if let (Some((when, vals)), Some(text)) = (v.labs, &lab_text) {
                let urls: Vec<String> = LAB_ITEMS
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let id = format!("{}-refobs-{seq}-{i}", inst.number);
                        let obs = lab_observation(
                            rng,
                            inst,
                            item,
                            vals[i],
                            when,
                            &id,
                            &patient_url,
                            updated,
                        );
                        e.add(rng, obs)
                    })
                    .collect();
                subs.push(entry_section(
                    "620",
                    "検査結果",
                    text,
                    refs(&urls, "Observation"),
                ));
            }
        }
        Body::TextOnly => {
            subs.push(text_section("950", "紹介目的", &purpose));
            subs.push(text_section("340", "傷病名・主訴", &cond_names.join("、")));
            subs.push(text_section("360", "現病歴", &history));
            subs.push(text_section("510", "アレルギー・不耐性反応", &allergy_text));
            if !drugs.is_empty() {
                subs.push(text_section("430", "投薬指示", &drug_text));
            }
            if let Some(text) = &lab_text {
                subs.push(text_section("620", "検査結果", text));
            }
        }
    }

    let mut sections = vec![
        entry_section(
            "920",
            "紹介元情報",
            &format!("{} {} {}", inst.name, dept.1, from_doc.name()),
            vec![
                reference(&from_org, "Organization"),
                reference(&from_doc_url, "Practitioner"),
            ],
        ),
        entry_section(
            "910",
            "紹介先情報",
            &match &to_doc_url {
                Some(_) => format!("{} {} {} 先生", r.to.name, to_dept.1, to_doc.name()),
                None => format!("{} {} 御担当医 先生", r.to.name, to_dept.1),
            },
            std::iter::once(reference(&to_org, "Organization"))
                .chain(to_doc_url.iter().map(|u| reference(u, "Practitioner")))
                .collect(),
        ),
        section("300", "構造情報", None, Vec::new(), subs),
    ];
    if let Some(d) = r.discharge {
        let docref = document_reference(
            DocRef {
                type_code: ("18842-5", "退院時サマリ"),
                description: "退院時サマリー",
                content_type: "application/fhir+json",
                title: "退院時サマリー",
                data: None,
                master: Some(&d.bundle_id),
                date: updated,
            },
            &format!("{}-att-{seq}", inst.number),
            &patient_url,
            updated,
        );
        let url = e.add(rng, docref);
        sections.push(entry_section(
            "210",
            "添付情報",
            &format!(
                "退院時サマリー（入院期間 {}〜{}）",
                date(d.admitted),
                date(d.discharged)
            ),
            vec![reference(&url, "DocumentReference")],
        ));
    }
    if r.pdf {
        let pdf = tiny_pdf(&[
            "Shinryo Joho Teikyosho (synthetic test document)",
            &format!("Bundle-ID: {}", r.bundle_id),
            &format!("From: {}  To: {}", inst.number, r.to.number),
            &format!("Issued: {}", date(r.issued)),
        ]);
        let docref = document_reference(
            DocRef {
                type_code: ("57133-1", "診療情報提供書"),
                description: "診療情報提供書（PDF）",
                content_type: "application/pdf",
                title: "診療情報提供書.pdf",
                data: Some(base64(&pdf)),
                master: None,
                date: updated,
            },
            &format!("{}-pdf-{seq}", inst.number),
            &patient_url,
            updated,
        );
        let url = e.add(rng, docref);
        let mut pdf_section = section(
            "230",
            "PDF",
            None,
            vec![reference(&url, "DocumentReference")],
            Vec::new(),
        );
        if let Value::Object(o) = &mut pdf_section {
            o.remove("text");
        }
        sections.push(pdf_section);
    }

    let mut c = composition(
        CompositionHead {
            profile:
                "http://jpfhir.jp/fhir/eReferral/StructureDefinition/JP_Composition_eReferral|1",
            type_code: ("57133-1", "診療情報提供書"),
            category: if r.discharge.is_some() {
                (DOC_SUBTYPES, "DISCHARGE", "退院時文書")
            } else {
                (DOC_SUBTYPES, "OUTPATIENT", "外来文書")
            },
            title: "診療情報提供書",
            id_value: &r.bundle_id,
            patient: &patient_url,
            encounter: &visit_enc,
            date: updated,
            authors: vec![
                reference(&from_doc_url, "Practitioner"),
                reference(&from_org, "Organization"),
            ],
            summary: format!(
                "診療情報提供書 {} → {}（{}）",
                inst.name,
                r.to.name,
                date(r.issued)
            ),
        },
        updated,
    );
    c.insert("custodian", reference(&from_org, "Organization"));
    c.insert(
        "event",
        arr(vec![obj([
            ("code", arr(vec![obj([("text", s("診療情報提供書発行"))])])),
            ("period", obj([("start", s(date(r.issued)))])),
        ])]),
    );
    c.insert("section", arr(sections));
    let (b, n) = e.bundle(
        "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eReferral|1",
        &r.bundle_id,
        updated,
        (comp_url, Value::Object(c)),
    );
    (b, n, "eReferral")
}

// ------------------------------------------------------------------------------ 退院時サマリー

/// A 退院時サマリー (JP_Bundle_eDischargeSummary) of a stay at `v.inst`; it is sent with the
/// referral that `link` names.
pub(crate) fn discharge_summary(
    rng: &mut Rng,
    v: &Visit<'_>,
    link: &DischargeLink,
    updated: &str,
) -> (Value, usize, &'static str) {
    let (inst, p, seq) = (v.inst, v.p, v.seq);
    let comp_url = urn(rng);
    let mut e = Entries::new();
    let patient_url = e.add(rng, patient(p, inst, v.local_no, updated));
    let dept = main_department(v.conds);
    let stay = stay_days(link.admitted, link.discharged);
    let stay_url = e.add(
        rng,
        visit_encounter(
            &format!("{}-stay-{seq}", inst.number),
            Some((link.admitted, link.discharged, stay)),
            link.admitted,
            None,
            updated,
        ),
    );
    let doctor = Doctor::draw(rng);
    let doc_url = e.add(rng, practitioner(&doctor, inst, P_PRACTITIONER, updated));
    let org_url = e.add(rng, organization(inst, Some(dept), P_ORGANIZATION, updated));
    let cond_urls: Vec<String> = v
        .conds
        .iter()
        .enumerate()
        .map(|(i, c)| e.add(rng, condition(c, inst, i, seq, &patient_url, updated)))
        .collect();
    let principal = v.conds.first().map_or("（傷病名なし）", |c| c.name());
    let names: Vec<&str> = v.conds.iter().map(CondSpec::name).collect();
    let course = format!(
        "{}年{}月{}日、{principal}の加療目的にて入院。入院後は安静と薬物療法にて経過良好。{}日間の入院の後、{}年{}月{}日に軽快退院となった。",
        link.admitted.0,
        link.admitted.1,
        link.admitted.2,
        stay,
        link.discharged.0,
        link.discharged.1,
        link.discharged.2
    );
    let course_url = e.add(
        rng,
        document_reference(
            DocRef {
                type_code: ("11506-3", "経過記録"),
                description: "入院中経過",
                content_type: "text/plain;charset=utf-8",
                title: "入院中経過",
                data: Some(base64(course.as_bytes())),
                master: None,
                date: updated,
            },
            &format!("{}-course-{seq}", inst.number),
            &patient_url,
            updated,
        ),
    );
    let drugs = drugs_for(v.conds);
    let rx_urls: Vec<String> = drugs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let rx = Rx {
                drug: d,
                rp: i + 1,
                start: link.discharged,
                discharge: true,
            };
            let id = format!("{}-dcrx-{seq}-{i}", inst.number);
            let mr = medication_request(rng, &rx, inst, dept, &doctor, &id, &patient_url, updated);
            e.add(rng, mr)
        })
        .collect();
    let plan = format!("{principal}について外来で経過観察を継続する。内服を継続し、症状の増悪時は早めに受診すること。");
    let plan_url = e.add(
        rng,
        care_plan(
            "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_CarePlan_eCS|1",
            &format!("{}-dcplan-{seq}", inst.number),
            ("discharge-plan", "退院時プラン"),
            "退院時方針",
            &plan,
            &patient_url,
            link.discharged,
            updated,
        ),
    );
    let mut subs = vec![
        entry_section(
            "322",
            "入院時詳細",
            &format!("{} 入院（{}）", date(link.admitted), dept.1),
            vec![reference(&stay_url, "Encounter")],
        ),
        entry_section(
            "342",
            "入院時診断",
            &names.join("、"),
            refs(&cond_urls, "Condition"),
        ),
        text_section("352", "主訴", &format!("{principal}による症状の増悪")),
        text_section("312", "入院理由", &format!("{principal}の加療目的")),
        text_section(
            "362",
            "現病歴",
            &v.conds.first().map_or_else(
                || "特記事項なし。".to_string(),
                |c| {
                    format!(
                        "{}年{}月頃より{}にて加療中。",
                        c.onset.0,
                        c.onset.1,
                        c.name()
                    )
                },
            ),
        ),
    ];
    if !v.allergies.is_empty() {
        let urls: Vec<String> = v
            .allergies
            .iter()
            .enumerate()
            .map(|(i, a)| e.add(rng, allergy(a, inst, i, seq, &patient_url, updated)))
            .collect();
        let text: Vec<&str> = v.allergies.iter().map(|a| ALLERGIES[a.0].2).collect();
        subs.push(entry_section(
            "510",
            "アレルギー・不耐性反応",
            &text.join("、"),
            refs(&urls, "AllergyIntolerance"),
        ));
    }
    subs.push(entry_section(
        "333",
        "入院中経過",
        &course,
        vec![reference(&course_url, "DocumentReference")],
    ));
    subs.push(entry_section(
        "324",
        "退院時詳細",
        &format!("{} 退院（治癒・軽快）", date(link.discharged)),
        vec![reference(&stay_url, "Encounter")],
    ));
    subs.push(entry_section(
        "344",
        "退院時診断",
        &names.join("、"),
        refs(&cond_urls, "Condition"),
    ));
    let drug_text: Vec<&str> = drugs.iter().map(|d| d.general_name).collect();
    let mut meds = entry_section(
        "444",
        "退院時投薬指示",
        if drug_text.is_empty() { "なし" } else { "" },
        refs(&rx_urls, "MedicationRequest"),
    );
    if let Value::Object(o) = &mut meds {
        if drug_text.is_empty() {
            o.insert(
                "emptyReason",
                codeable(
                    "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                    "nilknown",
                ),
            );
        } else {
            o.insert("text", section_text(&drug_text.join("、")));
        }
    }
    subs.push(meds);
    subs.push(entry_section(
        "424",
        "退院時方針指示",
        &plan,
        vec![reference(&plan_url, "CarePlan")],
    ));
    let mut c = composition(
        CompositionHead {
            profile: "http://jpfhir.jp/fhir/eDischargeSummary/StructureDefinition/JP_Composition_eDischargeSummary|1",
            type_code: ("18842-5", "退院時サマリー"),
            category: (DOC_SUBTYPES, "DISCHARGE", "退院時文書"),
            title: "退院時サマリー",
            id_value: &link.bundle_id,
            patient: &patient_url,
            encounter: &stay_url,
            date: updated,
            authors: vec![
                reference(&doc_url, "Practitioner"),
                reference(&org_url, "Organization"),
            ],
            summary: format!(
                "退院時サマリー {}（入院 {}〜{}）",
                inst.name,
                date(link.admitted),
                date(link.discharged)
            ),
        },
        updated,
    );
    c.insert("custodian", reference(&org_url, "Organization"));
    c.insert(
        "event",
        arr(vec![obj([(
            "period",
            period(link.admitted, link.discharged),
        )])]),
    );
    c.insert(
        "section",
        arr(vec![section("300", "構造情報", None, Vec::new(), subs)]),
    );
    let (b, n) = e.bundle(
        "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eDischargeSummary|1",
        &link.bundle_id,
        updated,
        (comp_url, Value::Object(c)),
    );
    (b, n, "eDischargeSummary")
}

/// A CarePlan (JP_CarePlan_eCS or _ePCS): `description` as narrative and description, one
/// category of the CarePlan category code system, and `start` as period start and creation date.
#[allow(clippy::too_many_arguments)]
fn care_plan(
    profile: &str,
    id_value: &str,
    category: (&str, &str),
    title: &str,
    description: &str,
    patient_url: &str,
    start: (u32, u32, u32),
    updated: &str,
) -> Value {
    obj([
        ("resourceType", s("CarePlan")),
        ("meta", meta(profile, updated)),
        ("text", narrative(description)),
        ("identifier", arr(vec![identifier(RESOURCE_ID, id_value)])),
        ("status", s("active")),
        ("intent", s("plan")),
        (
            "category",
            arr(vec![codeable_with_display(
                "http://jpfhir.jp/fhir/CarePlan/CodeSystem/category",
                category.0,
                category.1,
            )]),
        ),
        ("title", s(title)),
        ("description", s(description)),
        ("subject", untyped_reference(patient_url)),
        ("period", obj([("start", s(date(start)))])),
        ("created", s(date(start))),
    ])
}

// ------------------------------------------------------------------------------ 患者サマリー

/// A 患者サマリー (JP_Bundle_ePCS) for the chronic, active conditions of a visit: care plan and
/// conditions, the 主病名 first. `None` when the visit has no such condition.
pub(crate) fn patient_summary(
    rng: &mut Rng,
    v: &Visit<'_>,
    bundle_id: &str,
    updated: &str,
) -> Option<(Value, usize, &'static str)> {
    let (inst, p, seq) = (v.inst, v.p, v.seq);
    let chronic: Vec<(usize, &CondSpec)> = v
        .conds
        .iter()
        .enumerate()
        .filter(|(_, c)| c.chronic() && c.active())
        .collect();
    let (_, main) = *chronic.first()?;
    let comp_url = urn(rng);
    let mut e = Entries::new();
    let patient_url = e.add(rng, patient(p, inst, v.local_no, updated));
    let doctor = Doctor::draw(rng);
    let dept = main.dept;
    let doc_url = e.add(rng, practitioner(&doctor, inst, P_PRACTITIONER, updated));
    let org_url = e.add(rng, organization(inst, Some(dept), P_ORGANIZATION, updated));
    let enc_url = e.add(
        rng,
        visit_encounter(
            &format!("{}-enc-{seq}", inst.number),
            None,
            TODAY,
            None,
            updated,
        ),
    );
    let names: Vec<&str> = chronic.iter().map(|(_, c)| c.name()).collect();
    let advice = match CONDITIONS[main.idx].0 {
        "20051234" => "食事療法と運動療法を継続し、HbA1c 7.0%未満を目標とします。",
        "20052345" => "減塩（1日6g未満）を心がけ、家庭血圧を毎日測定してください。",
        "20053456" => "脂質の多い食事を控え、1日30分程度の運動を続けましょう。",
        _ => "内服を継続し、定期的に受診してください。",
    };
    let description = format!("{}について治療を継続します。{advice}", names.join("、"));
    let plan_url = e.add(
        rng,
        care_plan(
            "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_CarePlan_ePCS|1",
            &format!("{}-plan-{seq}", inst.number),
            ("followup-plan", "外来診療経過中プラン"),
            "療養計画",
            &description,
            &patient_url,
            TODAY,
            updated,
        ),
    );
    // The conditions keep their place in the unit, so the 主病名 flag stays on the first one.
    let cond_urls: Vec<String> = chronic
        .iter()
        .map(|(i, c)| e.add(rng, condition(c, inst, *i, seq, &patient_url, updated)))
        .collect();
    let mut entries = vec![reference(&plan_url, "CarePlan")];
    entries.extend(refs(&cond_urls, "Condition"));
    let mut c = composition(
        CompositionHead {
            profile: "http://jpfhir.jp/fhir/ePCS/StructureDefinition/JP_Composition_ePCS|1",
            type_code: ("56447-6", "計画書"),
            category: (DOC_SUBTYPES, "OUTPATIENT", "外来文書"),
            title: "患者サマリー（療養計画書）",
            id_value: bundle_id,
            patient: &patient_url,
            encounter: &enc_url,
            date: updated,
            authors: vec![
                reference(&doc_url, "Practitioner"),
                reference(&org_url, "Organization"),
            ],
            summary: format!(
                "患者サマリー（療養計画書） {} {}",
                inst.name,
                names.join("、")
            ),
        },
        updated,
    );
    c.insert(
        "section",
        arr(vec![entry_section(
            "422",
            "計画サマリー",
            &description,
            entries,
        )]),
    );
    let (b, n) = e.bundle(
        "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_ePCS|1",
        bundle_id,
        updated,
        (comp_url, Value::Object(c)),
    );
    Some((b, n, "ePCS"))
}

// ------------------------------------------------------------------------------ 健診結果報告書

const CHECKUP_ITEMS: &str = "urn:oid:1.2.392.200119.6.1005";
const OBS_CATEGORY: &str = "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS";
const P_CHECKUP_OBS: &str =
    "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Observation_eCheckupGeneral";

/// A 特定健診 result value.
enum Answer {
    /// Quantity: value, UCUM unit, decimals, and the reference range (low, high) if any.
    Qty(f64, &'static str, usize, Option<(f64, f64)>),
    /// A coded answer: code system (an 特定健診 choice code system), code, display.
    Code(&'static str, &'static str, &'static str),
    Text(String),
}

/// The 特定健診 choice code systems used here.
const YES_NO: &str = "urn:oid:1.2.392.200119.6.2003";
const FINDINGS: &str = "urn:oid:1.2.392.200119.6.2001";
const URINE: &str = "urn:oid:1.2.392.200119.6.2102";

fn yes_no(yes: bool) -> Answer {
    if yes {
        Answer::Code(YES_NO, "1", "はい")
    } else {
        Answer::Code(YES_NO, "2", "いいえ")
    }
}

/// A 特定健診 item: JLAC10 code, name, observation category and the answer.
type CheckupItem = (&'static str, &'static str, &'static str, Answer);

/// A laboratory result of a 特定健診.
fn laboratory(code: &'static str, name: &'static str, answer: Answer) -> CheckupItem {
    (code, name, "laboratory", answer)
}

/// A question of the 特定健診 questionnaire (social history).
fn question(code: &'static str, name: &'static str, answer: Answer) -> CheckupItem {
    (code, name, "social-history", answer)
}

/// One patient's physique and habits, drawn once: each yearly checkup adds measurement noise
/// and a slow drift (weight and blood pressure rise with the years).
pub(crate) struct Physique {
    height: f64,
    bmi: f64,
    sbp: f64,
    tg: f64,
    hdl: f64,
    ldl: f64,
    alt: f64,
    ggt: f64,
    fbg: f64,
    smoker: bool,
    drinks: usize,
    exercise: bool,
    bp_med: bool,
    lipid_med: bool,
}

fn uniform(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Roughly normal (sum of three uniforms), mean 0, standard deviation about `sd`.
fn noise(rng: &mut Rng, sd: f64) -> f64 {
    (uniform(rng) + uniform(rng) + uniform(rng) - 1.5) * 2.0 * sd
}

impl Physique {
    pub(crate) fn draw(rng: &mut Rng, p: &Person) -> Self {
        let age = f64::from(p.age);
        let height =
            if p.male { 170.5 } else { 157.5 } - (age - 40.0).max(0.0) * 0.1 + noise(rng, 5.5);
        let bmi = (23.0 + if p.diabetic { 2.0 } else { 0.0 } + noise(rng, 3.0)).max(16.5);
        let hypertensive = rng.chance((age - 25.0).max(0.0) / 90.0);
        let sbp = 112.0 + age * 0.35 + if hypertensive { 18.0 } else { 0.0 } + noise(rng, 9.0);
        let dyslipidemic = rng.chance(0.3);
        Physique {
            height,
            bmi,
            sbp,
            tg: (if p.male { 120.0 } else { 85.0 } + (bmi - 22.0) * 12.0 + noise(rng, 35.0))
                .max(35.0),
            hdl: (if p.male { 55.0 } else { 66.0 } - (bmi - 22.0) * 1.5 + noise(rng, 10.0))
                .max(25.0),
            ldl: (110.0 + if dyslipidemic { 35.0 } else { 0.0 } + noise(rng, 22.0)).max(50.0),
            alt: (14.0 + (bmi - 22.0).max(0.0) * 3.0 + noise(rng, 5.0)).max(5.0),
            ggt: (if p.male { 35.0 } else { 18.0 } + noise(rng, 12.0)).max(8.0),
            fbg: if p.diabetic { 135.0 } else { 92.0 } + noise(rng, 8.0),
            smoker: rng.chance(if p.male { 0.27 } else { 0.07 }),
            drinks: rng.weighted(&[15, 5, 6, 10, 12, 8, 4, 40]),
            exercise: rng.chance(0.3),
            bp_med: hypertensive && rng.chance(0.6),
            lipid_med: dyslipidemic && rng.chance(0.4),
        }
    }
}

/// A 健診結果報告書 (JP_Bundle_eCheckupGeneral for CLINS) of a 特定健診 at checkup centre
/// `centre` on `when`, `years_ago` years before the patient's latest one; the patient's insurer
/// is the payer of the two Coverages (受診券 and 保険).
#[allow(clippy::too_many_arguments)]
pub(crate) fn checkup(
    rng: &mut Rng,
    p: &Person,
    phys: &Physique,
    centre: &Institution,
    insurer: &Institution,
    hba1c: f64,
    when: (u32, u32, u32),
    years_ago: u32,
    bundle_id: &str,
    updated: &str,
) -> (Value, usize, &'static str) {
    let comp_url = urn(rng);
    let mut e = Entries::new();
    let mut pat = patient(p, centre, rng.range(1, 99_999_999), updated);
    if let Value::Object(o) = &mut pat {
        o.insert(
            "meta",
            meta(
                "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Patient_eCS",
                updated,
            ),
        );
    }
    let patient_url = e.add(rng, pat);
    let doctor = Doctor::draw(rng);
    let doc_url = e.add(
        rng,
        practitioner(
            &doctor,
            centre,
            "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Practitioner_eCheckupGeneral",
            updated,
        ),
    );
    let org_url = e.add(
        rng,
        organization(
            centre,
            None,
            "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Organization_eCheckupGeneral",
            updated,
        ),
    );
    let insurer_url = e.add(
        rng,
        obj([
            ("resourceType", s("Organization")),
            (
                "meta",
                meta(
                    "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_OrganizationInsurer_eCheckupGeneral",
                    updated,
                ),
            ),
            ("text", narrative(&format!("{}（保険者番号 {}）", insurer.name, insurer.number))),
            (
                "identifier",
                arr(vec![identifier(
                    "http://jpfhir.jp/fhir/core/mhlw/IdSystem/InsurerNumber",
                    &insurer.number,
                )]),
            ),
            (
                "type",
                arr(vec![codeable("http://terminology.hl7.org/CodeSystem/organization-type",
                        "ins")]),
            ),
            ("name", s(&insurer.name)),
        ]),
    );
    let enc_url = e.add(
        rng,
        obj([
            ("resourceType", s("Encounter")),
            (
                "meta",
                meta(
                    "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Encounter_eCheckupGeneral",
                    updated,
                ),
            ),
            ("text", narrative(&format!("特定健診 {} {}", date(when), centre.name))),
            ("status", s("finished")),
            (
                "class",
                coding_with_display("http://jpfhir.jp/fhir/eCheckup/CodeSystem/encounter-category", "checkup", "健診"),
            ),
            (
                "period",
                period(when, when),
            ),
            ("serviceProvider", reference(&org_url, "Organization")),
        ]),
    );
    // 受診券 (the insurer's voucher) and the health insurance.
    let fiscal_year = if when.1 >= 4 { when.0 } else { when.0 - 1 };
    let voucher_no = format!("{:02}{:09}", fiscal_year % 100, rng.below(1_000_000_000));
    let voucher_url = e.add(
        rng,
        obj([
            ("resourceType", s("Coverage")),
            (
                "meta",
                meta(
                    "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_CoverageService_eCheckupGeneral",
                    updated,
                ),
            ),
            ("text", narrative(&format!("特定健診受診券（{}年度）", fiscal_year))),
            ("status", s("active")),
            (
                "type",
                codeable("urn:oid:1.2.392.200119.6.208", "1"),
            ),
            (
                "subscriberId",
                s(voucher_no),
            ),
            ("beneficiary", reference(&patient_url, "Patient")),
            (
                "period",
                obj([
                    ("start", s(format!("{fiscal_year}-04-01"))),
                    ("end", s(format!("{}-03-31", fiscal_year + 1))),
                ]),
            ),
            ("payor", arr(vec![reference(&insurer_url, "Organization")])),
        ]),
    );
    let parts: Vec<&str> = p.member_id.split(':').collect();
    let (kind_code, kind_name) = match &parts[0][..2] {
        "00" => ("2", "国保"),
        "39" => ("7", "後期高齢者"),
        _ => ("1", "医保"),
    };
    let mut ext = Vec::new();
    for (part, name) in parts[1..].iter().zip([
        "InsuredPersonSymbol",
        "InsuredPersonNumber",
        "InsuredPersonSubNumber",
    ]) {
        if !part.is_empty() {
            ext.push(obj([
                (
                    "url",
                    s(format!(
                        "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_{name}"
                    )),
                ),
                ("valueString", s(*part)),
            ]));
        }
    }
    let mut cov = Object::new();
    cov.insert("resourceType", s("Coverage"));
    cov.insert(
        "meta",
        meta(
            "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_CoverageInsurance_eCheckupGeneral",
            updated,
        ),
    );
    cov.insert(
        "text",
        narrative(&format!("{kind_name} {}（{}）", insurer.name, p.member_id)),
    );
    cov.insert("extension", arr(ext));
    cov.insert(
        "identifier",
        arr(vec![identifier(
            "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID",
            &p.member_id,
        )]),
    );
    cov.insert("status", s("active"));
    cov.insert(
        "type",
        codeable("urn:oid:1.2.392.100495.20.2.61", kind_code),
    );
    cov.insert("beneficiary", reference(&patient_url, "Patient"));
    if !parts[3].is_empty() {
        cov.insert("dependent", s(parts[3]));
    }
    cov.insert(
        "relationship",
        codeable_with_display("urn:oid:1.2.392.100495.20.2.62", "1", "被保険者"),
    );
    cov.insert("payor", arr(vec![reference(&insurer_url, "Organization")]));
    let cov_url = e.add(rng, Value::Object(cov));

    // Results: the patient's physique and habits, a year younger for each year back.
    let k = f64::from(years_ago);
    let height = phys.height + noise(rng, 0.3);
    let bmi = phys.bmi - 0.15 * k + noise(rng, 0.4);
    let weight = bmi * (height / 100.0).powi(2);
    let bmi = weight / (height / 100.0).powi(2);
    let waist = (bmi * if p.male { 3.6 } else { 3.55 } + noise(rng, 2.5)).max(55.0);
    let sbp = phys.sbp - 0.6 * k + noise(rng, 6.0) - if phys.bp_med { 12.0 } else { 0.0 };
    let dbp = sbp * 0.62 + noise(rng, 4.0);
    let tg = (phys.tg + noise(rng, 20.0)).max(30.0);
    let hdl = (phys.hdl + noise(rng, 4.0)).max(20.0);
    let ldl = (phys.ldl + noise(rng, 10.0) - if phys.lipid_med { 30.0 } else { 0.0 }).max(40.0);
    let alt = (phys.alt + noise(rng, 4.0)).max(4.0);
    let ast = (alt * 0.8 + 8.0 + noise(rng, 3.0)).max(8.0);
    let ggt = (phys.ggt + if phys.drinks < 3 { 25.0 } else { 0.0 } + noise(rng, 6.0)).max(6.0);
    let fbg = (phys.fbg + noise(rng, 6.0)).max(70.0);
    let a1c = (hba1c + 0.1 * k + noise(rng, 0.1)).max(4.3);
    let glucosuria = if fbg > 160.0 { "3" } else { "1" };
    let proteinuria = if rng.chance(0.05) { "2" } else { "1" };
    // メタボリックシンドローム判定 and 保健指導レベル (simplified 特定保健指導 rules).
    let obese = waist >= if p.male { 85.0 } else { 90.0 };
    let risks = usize::from(tg >= 150.0 || hdl < 40.0)
        + usize::from(sbp >= 130.0 || dbp >= 85.0)
        + usize::from(fbg >= 110.0);
    let metabo = match (obese, risks) {
        (true, r) if r >= 2 => ("1", "基準該当"),
        (true, 1) => ("2", "予備群該当"),
        _ => ("3", "非該当"),
    };
    let on_med = phys.bp_med || phys.lipid_med || p.diabetic;
    let guidance = if on_med || metabo.0 == "3" {
        ("3", "なし（情報提供）")
    } else if metabo.0 == "1" && p.age < 65 {
        ("1", "積極的支援")
    } else {
        ("2", "動機付け支援")
    };
    let findings = |yes: bool| {
        if yes {
            Answer::Code(FINDINGS, "1", "特記すべきことあり")
        } else {
            Answer::Code(FINDINGS, "2", "特記すべきことなし")
        }
    };
    let opinion = match metabo.0 {
        "1" => "メタボリックシンドロームに該当します。生活習慣の改善が必要です。",
        "2" => "メタボリックシンドローム予備群です。食事と運動に注意してください。",
        _ if sbp >= 140.0 || ldl >= 140.0 || a1c >= 6.5 => "要医療。医療機関を受診してください。",
        _ => "異常所見はありません。",
    };
    let exam: Vec<CheckupItem> = vec![
        (
            "9N001000000000001",
            "身長",
            "body-measurement",
            Answer::Qty(height, "cm", 1, None),
        ),
        (
            "9N006000000000001",
            "体重",
            "body-measurement",
            Answer::Qty(weight, "kg", 1, None),
        ),
        (
            "9N011000000000001",
            "BMI",
            "body-measurement",
            Answer::Qty(bmi, "kg/m2", 1, Some((18.5, 24.9))),
        ),
        (
            "9N016160100000001",
            "腹囲(実測）",
            "body-measurement",
            Answer::Qty(waist, "cm", 1, None),
        ),
        ("9N056000000000011", "既往歴", "exam", findings(on_med)),
        ("9N061000000000011", "自覚症状", "exam", findings(false)),
        ("9N066000000000011", "他覚症状", "exam", findings(false)),
        (
            "9A751000000000001",
            "収縮期血圧(1回目)",
            "vital-signs",
            Answer::Qty(sbp, "mm[Hg]", 0, Some((90.0, 129.0))),
        ),
        (
            "9A761000000000001",
            "拡張期血圧(1回目)",
            "vital-signs",
            Answer::Qty(dbp, "mm[Hg]", 0, Some((50.0, 84.0))),
        ),
        laboratory(
            "9N141000000000011",
            "採血時間(食後)",
            Answer::Code("urn:oid:1.2.392.200119.6.2202", "2", "食後10時間以上"),
        ),
        laboratory(
            "3F015000002327101",
            "空腹時中性脂肪(トリグリセリド)",
            Answer::Qty(tg, "mg/dL", 0, Some((30.0, 149.0))),
        ),
        laboratory(
            "3F070000002327101",
            "HDLコレステロール",
            Answer::Qty(hdl, "mg/dL", 0, Some((40.0, 119.0))),
        ),
        laboratory(
            "3F077000002327101",
            "LDLコレステロール",
            Answer::Qty(ldl, "mg/dL", 0, Some((60.0, 119.0))),
        ),
        laboratory(
            "3B035000002327201",
            "AST(GOT)",
            Answer::Qty(ast, "U/L", 0, Some((0.0, 30.0))),
        ),
        laboratory(
            "3B045000002327201",
            "ALT(GPT)",
            Answer::Qty(alt, "U/L", 0, Some((0.0, 30.0))),
        ),
        laboratory(
            "3B090000002327101",
            "γ-GT(γ-GTP)",
            Answer::Qty(ggt, "U/L", 0, Some((0.0, 50.0))),
        ),
        laboratory(
            "3D010000001926101",
            "空腹時血糖",
            Answer::Qty(fbg, "mg/dL", 0, Some((70.0, 99.0))),
        ),
        laboratory(
            "3D046000001906202",
            "HbA1c(NGSP値)",
            Answer::Qty(a1c, "%", 1, Some((4.6, 5.5))),
        ),
        laboratory(
            "1A020000000191111",
            "尿糖",
            Answer::Code(
                URINE,
                glucosuria,
                if glucosuria == "1" { "－" } else { "＋" },
            ),
        ),
        laboratory(
            "1A010000000191111",
            "尿蛋白",
            Answer::Code(
                URINE,
                proteinuria,
                if proteinuria == "1" { "－" } else { "±" },
            ),
        ),
        (
            "9N501000000000011",
            "メタボリックシンドローム判定",
            "survey",
            Answer::Code("urn:oid:1.2.392.200119.6.1008", metabo.0, metabo.1),
        ),
        (
            "9N506000000000011",
            "保健指導レベル",
            "survey",
            Answer::Code("urn:oid:1.2.392.200119.6.3001", guidance.0, guidance.1),
        ),
        (
            "9N511000000000049",
            "医師の診断(判定)",
            "exam",
            Answer::Text(opinion.to_string()),
        ),
    ];
    const DRINKS: [(&str, &str); 8] = [
        ("1", "毎日"),
        ("2", "週5～6日"),
        ("3", "週3～4日"),
        ("4", "週1～2日"),
        ("5", "月に1～3日"),
        ("6", "月に1日未満"),
        ("7", "やめた"),
        ("8", "飲まない(飲めない)"),
    ];
    let mut questions: Vec<CheckupItem> = vec![
        question("9N701000000000011", "服薬1(血圧)", yes_no(phys.bp_med)),
        question("9N706000000000011", "服薬2(血糖)", yes_no(p.diabetic)),
        question("9N711000000000011", "服薬3(脂質)", yes_no(phys.lipid_med)),
        question("9N716000000000011", "既往歴1(脳血管)", yes_no(false)),
        question("9N721000000000011", "既往歴2(心血管)", yes_no(false)),
        question(
            "9N726000000000011",
            "既往歴3(腎不全･人工透析)",
            yes_no(p.ckd && rng.chance(0.1)),
        ),
        question(
            "9N731000000000011",
            "貧血",
            yes_no(!p.male && rng.chance(0.1)),
        ),
        question(
            "9N736000000000011",
            "喫煙",
            if phys.smoker {
                Answer::Code("urn:oid:1.2.392.200119.6.24060", "1", "はい")
            } else {
                Answer::Code("urn:oid:1.2.392.200119.6.24060", "3", "いいえ")
            },
        ),
        question(
            "9N741000000000011",
            "20歳からの体重変化",
            yes_no(bmi >= 25.0),
        ),
        question(
            "9N746000000000011",
            "30分以上の運動習慣",
            yes_no(phys.exercise),
        ),
        question(
            "9N751000000000011",
            "歩行又は身体活動",
            yes_no(phys.exercise || rng.chance(0.4)),
        ),
        question("9N756000000000011", "歩行速度", yes_no(rng.chance(0.5))),
        question(
            "9N872000000000011",
            "咀嚼",
            Answer::Code("urn:oid:1.2.392.200119.6.18030", "1", "何でも"),
        ),
        question(
            "9N766000000000011",
            "食べ方1(早食い等)",
            Answer::Code("urn:oid:1.2.392.200119.6.2004", "2", "ふつう"),
        ),
        question(
            "9N771000000000011",
            "食べ方2(就寝前)",
            yes_no(rng.chance(0.2)),
        ),
        question(
            "9N782000000000011",
            "食べ方3(間食)",
            Answer::Code("urn:oid:1.2.392.200119.6.18040", "2", "時々"),
        ),
        question("9N781000000000011", "食習慣", yes_no(rng.chance(0.15))),
        question(
            "9N786000000000011",
            "飲酒",
            Answer::Code(
                "urn:oid:1.2.392.200119.6.24040",
                DRINKS[phys.drinks].0,
                DRINKS[phys.drinks].1,
            ),
        ),
    ];
    if phys.drinks < 6 {
        questions.push(question(
            "9N791000000000011",
            "飲酒量",
            Answer::Code("urn:oid:1.2.392.200119.6.24050", "2", "1～2合未満"),
        ));
    }
    questions.push(question(
        "9N796000000000011",
        "睡眠",
        yes_no(rng.chance(0.7)),
    ));
    questions.push(question(
        "9N801000000000011",
        "生活習慣の改善",
        Answer::Code("urn:oid:1.2.392.200119.6.2007", "2", "意志あり(6か月以内)"),
    ));
    questions.push(question(
        "9N808000000000011",
        "特定保健指導の受診歴",
        yes_no(false),
    ));

    let effective = format!("{}T09:30:00+09:00", date(when));
    let mut add_obs =
        |rng: &mut Rng, list: Vec<CheckupItem>, tag: &str| -> (Vec<String>, Vec<String>) {
            let mut urls = Vec::new();
            let mut lines = Vec::new();
            for (i, (code, name, cat, answer)) in list.into_iter().enumerate() {
                let (obs, line) = checkup_observation(
                    code,
                    name,
                    cat,
                    answer,
                    &format!("{}-{tag}-{i}", bundle_id.replace('^', "-")),
                    &effective,
                    &patient_url,
                    &org_url,
                    updated,
                );
                urls.push(e.add(rng, obs));
                lines.push(line);
            }
            (urls, lines)
        };
    let (exam_urls, exam_lines) = add_obs(rng, exam, "x");
    let (q_urls, q_lines) = add_obs(rng, questions, "q");

    let mut exam_entries = refs(&exam_urls, "Observation");
    exam_entries.push(reference(&voucher_url, "Coverage"));
    exam_entries.push(reference(&cov_url, "Coverage"));
    let checkup_section =
        |code: &str, display: &str, title: &str, lines: &[String], entry: Vec<Value>| {
            obj([
                ("title", s(title)),
                (
                    "code",
                    codeable_with_display(
                        "http://jpfhir.jp/fhir/eCheckup/CodeSystem/section-code",
                        code,
                        display,
                    ),
                ),
                ("text", narrative(&lines.join("、"))),
                ("entry", arr(entry)),
            ])
        };
    let mut c = composition(
        CompositionHead {
            profile:
                "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Composition_eCheckupGeneral",
            type_code: ("53576-5", "検診・健診報告書"),
            category: ("urn:oid:2.16.840.1.113883.2.2.1.6.1001", "10", "特定健診"),
            title: "特定健康診査結果報告書",
            id_value: bundle_id,
            patient: &patient_url,
            encounter: &enc_url,
            date: updated,
            authors: vec![
                reference(&doc_url, "Practitioner"),
                reference(&org_url, "Organization"),
            ],
            summary: format!("特定健康診査結果報告書 {} {}", date(when), centre.name),
        },
        updated,
    );
    c.insert("custodian", reference(&org_url, "Organization"));
    c.insert(
        "event",
        arr(vec![obj([
            (
                "code",
                arr(vec![codeable_with_display(
                    "urn:oid:1.2.392.200119.6.1002",
                    "010",
                    "特定健診",
                )]),
            ),
            ("period", period(when, when)),
        ])]),
    );
    c.insert(
        "section",
        arr(vec![
            checkup_section(
                "01011",
                "特定健診検査結果セクション",
                "特定健診検査結果",
                &exam_lines,
                exam_entries,
            ),
            checkup_section(
                "01012",
                "特定健診問診結果セクション",
                "特定健診問診結果",
                &q_lines,
                refs(&q_urls, "Observation"),
            ),
        ]),
    );
    let (b, n) = e.bundle(
        "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eCheckupGeneral",
        bundle_id,
        updated,
        (comp_url, Value::Object(c)),
    );
    (b, n, "eCheckup")
}

/// A JP_Observation_eCheckupGeneral and its line for the section text.
#[allow(clippy::too_many_arguments)]
fn checkup_observation(
    code: &str,
    name: &str,
    category: &str,
    answer: Answer,
    id: &str,
    effective: &str,
    patient_url: &str,
    org_url: &str,
    updated: &str,
) -> (Value, String) {
    let mut o = Object::new();
    o.insert("resourceType", s("Observation"));
    o.insert("meta", meta(P_CHECKUP_OBS, updated));
    let line = match &answer {
        Answer::Qty(v, unit, dec, _) => format!("{name} {v:.dec$} {unit}"),
        Answer::Code(_, _, display) => format!("{name} {display}"),
        Answer::Text(t) => format!("{name} {t}"),
    };
    o.insert("text", narrative(&line));
    o.insert("identifier", arr(vec![identifier(RESOURCE_ID, id)]));
    o.insert("status", s("final"));
    o.insert("category", arr(vec![codeable(OBS_CATEGORY, category)]));
    o.insert("code", codeable_with_display(CHECKUP_ITEMS, code, name));
    o.insert("subject", reference(patient_url, "Patient"));
    o.insert("effectiveDateTime", s(effective));
    o.insert("performer", arr(vec![reference(org_url, "Organization")]));
    match answer {
        Answer::Qty(v, unit, dec, range) => {
            let q = |x: f64| {
                obj([
                    ("value", Value::Number(format!("{x:.dec$}").into())),
                    ("unit", s(unit)),
                    ("system", s(UCUM)),
                    ("code", s(unit)),
                ])
            };
            o.insert("valueQuantity", q(v));
            if let Some((low, high)) = range {
                let rounded: f64 = format!("{v:.dec$}").parse().unwrap_or(v);
                let flag = if rounded > high {
                    "H"
                } else if rounded < low {
                    "L"
                } else {
                    "N"
                };
                o.insert(
                    "interpretation",
                    arr(vec![codeable(
                        "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        flag,
                    )]),
                );
                o.insert(
                    "referenceRange",
                    arr(vec![obj([("low", q(low)), ("high", q(high))])]),
                );
            }
        }
        Answer::Code(system, code, display) => {
            o.insert(
                "valueCodeableConcept",
                codeable_with_display(system, code, display),
            );
        }
        Answer::Text(t) => {
            o.insert("valueString", s(t));
        }
    }
    (Value::Object(o), line)
}

/// Days from `a` to `b` (30-day months, as `days_before`).
pub(crate) fn stay_days(a: (u32, u32, u32), b: (u32, u32, u32)) -> u32 {
    let n = |d: (u32, u32, u32)| d.0 * 360 + (d.1 - 1) * 30 + (d.2 - 1).min(29);
    n(b).saturating_sub(n(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn tiny_pdf_has_a_consistent_xref() {
        let pdf = tiny_pdf(&["Hello (world)"]);
        let text = String::from_utf8(pdf).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        let startxref: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(text[startxref..].starts_with("xref\n"));
        // Every object offset in the table points at "N 0 obj".
        for (i, line) in text[startxref..].lines().skip(3).take(5).enumerate() {
            let off: usize = line[..10].parse().unwrap();
            assert!(
                text[off..].starts_with(&format!("{} 0 obj", i + 1)),
                "{line}"
            );
        }
        assert!(text.contains("(Hello \\(world\\)) Tj"));
    }
}
