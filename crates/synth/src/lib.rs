//! Synthetic JP-CLINS submissions for tests, demos and load tests: seeded and deterministic
//! (the same seed gives the same bytes), streamed patient by patient so that memory stays flat
//! whatever the number of patients, and valid by construction against the JP-CLINS rules.
//!
//! It generates the actors (hospitals, clinics, dental clinics, pharmacies, checkup centres,
//! insurers), patients, the 6情報 units for 傷病名 (Condition), アレルギー (AllergyIntolerance),
//! 検査 and 感染症 (Observation) with re-sends and Patient-only deletes, and the documents
//! (`documents.rs`): 診療情報提供書 with 処方 (MedicationRequest), 退院時サマリー sent with a
//! referral, 健診結果報告書 and 患者サマリー. docs/synthetic-data.md describes the distributions.

#![deny(unsafe_code)]

mod documents;
pub mod rng;
pub mod tables;

use fhir::json::{Object, Value};
use rng::Rng;
use tables::*;

/// What to generate.
#[derive(Clone, Debug)]
pub struct Config {
    pub patients: u64,
    /// Number of care providers (default: one per 50 patients, at least 5, one of each kind).
    pub institutions: Option<u32>,
    pub seed: u64,
}

impl Config {
    pub fn institution_count(&self) -> u32 {
        self.institutions
            .unwrap_or_else(|| (self.patients / 50).clamp(5, 200_000) as u32)
            .max(1)
    }
}

/// One generated submission: a file name (unique in the run) and its JSON.
#[derive(Clone, Debug)]
pub struct Submission {
    pub file_name: String,
    /// `Condition`, `AllergyIntolerance`, `Observation` (6情報 units: the BundleResourceType
    /// tag) or the document kind: `eReferral`, `eDischargeSummary`, `eCheckup`, `ePCS`.
    pub kind: &'static str,
    /// Whether this is a re-send of an earlier Bundle-ID or a Patient-only delete.
    pub action: Action,
    /// Number of resources in the Bundle (Patient included).
    pub resources: usize,
    pub bundle: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Submit,
    Resend,
    Delete,
}

/// An actor of the synthetic world: a care provider (hospital, clinic, dental clinic, pharmacy,
/// checkup centre) or an insurer.
#[derive(Clone, Debug)]
pub struct Institution {
    /// 医療機関番号 (10 digits) of a care provider; 保険者番号 (8 digits, 6 for 国保) of an
    /// insurer.
    pub number: String,
    pub kind: InstitutionKind,
    pub prefecture: u8,
    pub name: String,
    /// Street part of the address (town and block) in the prefecture's city (`CITIES`).
    pub line: String,
    pub postal_code: String,
}

impl Institution {
    /// The address text: prefecture, city and street.
    pub fn address(&self) -> String {
        let p = usize::from(self.prefecture - 1);
        format!("{}{}{}", PREFECTURES[p].0, CITIES[p].0, self.line)
    }
}

/// A prefecture's name without its 都/府/県 suffix (北海道 stays as it is).
fn pref_short(pref: u8) -> &'static str {
    let name = PREFECTURES[usize::from(pref - 1)].0;
    if pref == 1 {
        return name;
    }
    name.strip_suffix('県')
        .or_else(|| name.strip_suffix('府'))
        .or_else(|| name.strip_suffix('都'))
        .unwrap_or(name)
}

/// A street address in the prefecture's city: (town and block, postal code).
fn street(rng: &mut Rng, pref: u8) -> (String, String) {
    let town = rng.pick(&TOWNS);
    let line = format!(
        "{town}{}丁目{}番{}号",
        rng.range(1, 5),
        rng.range(1, 30),
        rng.range(1, 20)
    );
    let postal = format!(
        "{}-{:04}",
        CITIES[usize::from(pref - 1)].1,
        rng.below(10_000)
    );
    (line, postal)
}

/// The care providers of a run, from the seed alone. The first five are one of each kind
/// (hospital, clinic, dental clinic, pharmacy, checkup centre), so that even a small run has every
/// kind; the others are drawn in proportion to the national counts.
pub fn institutions(cfg: &Config) -> Vec<Institution> {
    let mut rng = Rng::derive(cfg.seed, u64::MAX);
    let weights: Vec<u32> = PREFECTURES.iter().map(|p| p.1).collect();
    let kinds: Vec<u32> = INSTITUTION_KINDS.iter().map(|k| k.1).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    while out.len() < cfg.institution_count() as usize {
        let pref = rng.weighted(&weights) as u8 + 1;
        let drawn = INSTITUTION_KINDS[rng.weighted(&kinds)].0;
        let kind = INSTITUTION_KINDS.get(out.len()).map_or(drawn, |k| k.0);
        // 医療機関コード: 郡市区番号 (2) + 番号 (4) + 検証番号 (1).
        let body = format!("{:02}{:04}", rng.range(1, 99), rng.below(10_000));
        let code = format!("{body}{}", check_digit(&body));
        let number = format!("{pref:02}{}{code}", kind.fee_table());
        if !seen.insert(number.clone()) {
            continue;
        }
        let family = rng.pick(&FAMILY_NAMES).0;
        let town = rng.pick(&TOWNS);
        let name = match kind {
            InstitutionKind::Hospital => format!("架空{}総合病院", pref_short(pref)),
            InstitutionKind::Clinic => format!("{family}内科クリニック"),
            InstitutionKind::Dental => format!("{family}歯科医院"),
            InstitutionKind::Pharmacy => format!("{town}{family}薬局"),
            InstitutionKind::CheckupCentre => format!("架空{}健診センター", pref_short(pref)),
            InstitutionKind::Insurer => unreachable!("insurers are not drawn here"),
        };
        let (line, postal_code) = street(&mut rng, pref);
        out.push(Institution {
            number,
            kind,
            prefecture: pref,
            name,
            line,
            postal_code,
        });
    }
    out
}

/// Insurance schemes: (法別番号, name), in the order `member_id` draws them.
const SCHEMES: [&str; 5] = ["国保", "01", "06", "31", "39"];

/// Number of 組合健保 insurers in a prefecture (more in populous prefectures).
fn kumiai_count(pref: u8) -> u64 {
    1 + u64::from(PREFECTURES[usize::from(pref - 1)].1) / 150
}

/// The 保険者番号 of insurer `idx` of `scheme` (index into `SCHEMES`) in `pref`: 法別番号 (2) +
/// prefecture (2) + 3 digits + 検証番号; 国保 numbers have no 法別番号 (6 digits). The same for
/// every seed: the insurers are a fixed, invented table.
fn insurer_number(scheme: usize, pref: u8, idx: u64) -> String {
    let serial = match scheme {
        0 => 1 + idx,       // 国保: the city's number
        2 => 101 + idx * 7, // 組合健保
        _ => 16 + idx,      // 協会けんぽ, 共済, 後期高齢者: one per prefecture
    };
    let body = if scheme == 0 {
        format!("{pref:02}{serial:03}")
    } else {
        format!("{}{pref:02}{serial:03}", SCHEMES[scheme])
    };
    format!("{body}{}", check_digit(&body))
}

/// Insurers' industries, for the invented names of 健康保険組合.
const INDUSTRIES: [&str; 8] = [
    "電機", "商事", "建設", "運輸", "食品", "化学", "印刷", "情報",
];

/// Every insurer of the world: per prefecture one 国保 (the city's), one 協会けんぽ branch,
/// 1–10 健康保険組合, one 共済組合 and one 後期高齢者医療広域連合. Patients' 被保険者個人識別子
/// always name one of them.
pub fn insurers() -> Vec<Institution> {
    let mut out = Vec::new();
    for pref in 1..=47u8 {
        let mut rng = Rng::derive(0x1_5u64, u64::from(pref));
        let p = usize::from(pref - 1);
        for scheme in 0..SCHEMES.len() {
            let count = if scheme == 2 { kumiai_count(pref) } else { 1 };
            for idx in 0..count {
                let name = match scheme {
                    0 => format!("{}国民健康保険", CITIES[p].0),
                    1 => format!("全国健康保険協会{}支部", pref_short(pref)),
                    2 => format!(
                        "架空{}{}健康保険組合",
                        pref_short(pref),
                        INDUSTRIES[idx as usize % INDUSTRIES.len()]
                    ),
                    3 => format!("架空{}公務員共済組合", pref_short(pref)),
                    _ => format!("{}後期高齢者医療広域連合", PREFECTURES[p].0),
                };
                let (line, postal_code) = street(&mut rng, pref);
                out.push(Institution {
                    number: insurer_number(scheme, pref, idx),
                    kind: InstitutionKind::Insurer,
                    prefecture: pref,
                    name,
                    line,
                    postal_code,
                });
            }
        }
    }
    out
}

/// The actors of a run: care providers indexed by kind and prefecture, and the insurers.
pub struct World {
    pub institutions: Vec<Institution>,
    pub insurers: Vec<Institution>,
    /// Hospitals, clinics and dental clinics (indices into `institutions`), all and by
    /// prefecture.
    medical: Vec<usize>,
    by_prefecture: Vec<Vec<usize>>,
    /// Checkup centres, all and by prefecture.
    checkup: Vec<usize>,
    checkup_by_prefecture: Vec<Vec<usize>>,
}

impl World {
    pub fn new(cfg: &Config) -> Self {
        let institutions = institutions(cfg);
        let mut by_prefecture = vec![Vec::new(); 48];
        let mut checkup_by_prefecture = vec![Vec::new(); 48];
        let (mut medical, mut checkup) = (Vec::new(), Vec::new());
        for (i, inst) in institutions.iter().enumerate() {
            if inst.kind.is_medical() {
                medical.push(i);
                by_prefecture[usize::from(inst.prefecture)].push(i);
            } else if inst.kind == InstitutionKind::CheckupCentre {
                checkup.push(i);
                checkup_by_prefecture[usize::from(inst.prefecture)].push(i);
            }
        }
        World {
            institutions,
            insurers: insurers(),
            medical,
            by_prefecture,
            checkup,
            checkup_by_prefecture,
        }
    }

    /// An institution of kind `want` to refer a patient to, other than `from`: in the
    /// prefecture if there is one, else anywhere; else any other hospital or clinic.
    fn referral_target(&self, rng: &mut Rng, from: usize, want: InstitutionKind) -> Option<usize> {
        let pref = usize::from(self.institutions[from].prefecture);
        let fits = |i: &usize, k: InstitutionKind| *i != from && self.institutions[*i].kind == k;
        let local: Vec<usize> = self.by_prefecture[pref]
            .iter()
            .copied()
            .filter(|i| fits(i, want))
            .collect();
        if !local.is_empty() && rng.chance(0.9) {
            return Some(*rng.pick(&local));
        }
        let other = if want == InstitutionKind::Hospital {
            InstitutionKind::Clinic
        } else {
            InstitutionKind::Hospital
        };
        for k in [want, other] {
            let all: Vec<usize> = self
                .medical
                .iter()
                .copied()
                .filter(|i| fits(i, k))
                .collect();
            if !all.is_empty() {
                return Some(*rng.pick(&all));
            }
        }
        None
    }

    /// The insurer with this 保険者番号 (as written in a 被保険者個人識別子: 国保 numbers padded
    /// to 8 digits with `00`).
    pub fn insurer(&self, number: &str) -> Option<&Institution> {
        let n = number.strip_prefix("00").unwrap_or(number);
        self.insurers.iter().find(|i| i.number == n)
    }
}

/// The 検証番号 used by 医療機関コード and 保険者番号: digits weighted 2, 1, 2, 1… from the
/// left, the digits of each product summed, and the complement of the sum to a multiple of 10.
pub fn check_digit(digits: &str) -> u8 {
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let p = u32::from(b - b'0') * if i % 2 == 0 { 2 } else { 1 };
            p / 10 + p % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A patient as the generator sees it.
#[derive(Clone, Debug)]
pub struct Person {
    pub family: (&'static str, &'static str),
    pub given: (&'static str, &'static str),
    pub male: bool,
    pub birth: (u32, u32, u32),
    pub age: u32,
    pub prefecture: u8,
    /// Street part of the address in the prefecture's city, and the postal code.
    pub line: String,
    pub postal_code: String,
    pub member_id: String,
    /// Chronic states that shape lab trends: type 2 diabetes, chronic kidney disease.
    pub diabetic: bool,
    pub ckd: bool,
    /// Infection screening results: HBs antigen, syphilis TP antibody.
    pub hbs_positive: bool,
    pub tp_positive: bool,
}

/// The reference date of the synthetic world (ages and dates are relative to it).
pub const TODAY: (u32, u32, u32) = (2026, 11, 20);

fn person(rng: &mut Rng) -> Person {
    let male = rng.chance(0.486);
    let band = rng.weighted(&AGE_BANDS) as u32;
    let age = band * 10 + rng.below(10) as u32;
    let year = TODAY.0 - age - u32::from(rng.chance(0.5));
    let birth = (year, rng.range(1, 12) as u32, rng.range(1, 28) as u32);
    let fam_w: Vec<u32> = FAMILY_NAMES.iter().map(|f| f.2).collect();
    let f = FAMILY_NAMES[rng.weighted(&fam_w)];
    let given = if male {
        *rng.pick(&MALE_NAMES)
    } else {
        *rng.pick(&FEMALE_NAMES)
    };
    let weights: Vec<u32> = PREFECTURES.iter().map(|p| p.1).collect();
    let prefecture = rng.weighted(&weights) as u8 + 1;
    let (line, postal_code) = street(rng, prefecture);
    let member_id = member_id(rng, age, prefecture);
    let diabetic = age >= 30 && rng.chance(if age >= 60 { 0.18 } else { 0.08 });
    let ckd = age >= 40 && rng.chance(if age >= 70 { 0.2 } else { 0.06 });
    let hbs_positive = rng.chance(0.01);
    let tp_positive = rng.chance(0.005);
    Person {
        diabetic,
        ckd,
        hbs_positive,
        tp_positive,
        family: (f.0, f.1),
        given,
        male,
        birth,
        age,
        prefecture,
        line,
        postal_code,
        member_id,
    }
}

/// 被保険者個人識別子 `保険者番号:記号:番号:枝番` for the scheme that fits the age: 後期高齢者 from
/// 75, otherwise 国保, 協会けんぽ, 組合健保 or 共済 in proportion to their members. The insurer is
/// one of the world's insurers of the patient's prefecture (`insurers`).
fn member_id(rng: &mut Rng, age: u32, pref: u8) -> String {
    let scheme = if age >= 75 {
        4
    } else {
        [0, 1, 2, 3][rng.weighted(&[2_309, 3_944, 2_820, 983])]
    };
    let idx = if scheme == 2 {
        rng.below(kumiai_count(pref))
    } else {
        0
    };
    let number = insurer_number(scheme, pref, idx);
    // 記号 and 番号.
    let (number, symbol, card) = match scheme {
        // 国保: 6-digit insurer number, left-padded to 8.
        0 => (
            format!("00{number}"),
            full_width(&format!("{}", rng.range(1, 99))),
            format!("{}", rng.range(1, 999_999)),
        ),
        1 => (
            number,
            format!("{}", rng.range(1_000_000, 99_999_999)),
            format!("{}", rng.range(1, 9999)),
        ),
        2 => (
            number,
            format!("{}", rng.range(1, 9999)),
            format!("{}", rng.range(1, 99_999)),
        ),
        3 => (
            number,
            format!("{}", rng.range(1, 999)),
            format!("{}", rng.range(1, 999_999)),
        ),
        // 後期高齢者: no 記号.
        _ => (
            number,
            String::new(),
            format!("{:08}", rng.below(100_000_000)),
        ),
    };
    // Cards issued since 2021 carry a 2-digit 枝番; older ones have none (empty 4th part).
    let branch = if rng.chance(0.7) {
        format!("{:02}", rng.range(0, 3))
    } else {
        String::new()
    };
    // Some institutions key the 記号/番号 in full-width as printed on the card.
    let (symbol, card) = if rng.chance(0.15) {
        (full_width(&symbol), full_width(&card))
    } else {
        (symbol, card)
    };
    format!("{number}:{symbol}:{card}:{branch}")
}

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c),
            other => other,
        })
        .collect()
}

// ------------------------------------------------------------------------------ JSON building

fn s(v: impl Into<String>) -> Value {
    Value::string(v.into())
}

fn obj<const N: usize>(members: [(&str, Value); N]) -> Value {
    let mut o = Object::with_capacity(N);
    for (k, v) in members {
        o.insert(k, v);
    }
    Value::Object(o)
}

fn arr(items: Vec<Value>) -> Value {
    Value::Array(items)
}

fn coding(system: &str, code: &str) -> Value {
    obj([("system", s(system)), ("code", s(code))])
}

const RESOURCE_ID: &str = "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier";

fn identifier(system: &str, value: impl Into<String>) -> Value {
    obj([("system", s(system)), ("value", s(value))])
}

/// The Bundle-ID of a JP-CLINS Bundle (a unit or a document).
fn bundle_identifier(bundle_id: &str) -> Value {
    identifier("http://jpfhir.jp/fhir/clins/bundle-identifier", bundle_id)
}

/// A reference by URL alone (no `type`), as to the patient or a contained resource.
fn untyped_reference(url: &str) -> Value {
    obj([("reference", s(url))])
}

/// The `meta` of a contained resource: its profile alone.
fn profile_meta(profile: &str) -> Value {
    obj([("profile", arr(vec![s(profile)]))])
}

/// A Coding with its display.
fn coding_with_display(system: &str, code: &str, display: &str) -> Value {
    obj([
        ("system", s(system)),
        ("code", s(code)),
        ("display", s(display)),
    ])
}

/// A CodeableConcept of one Coding (system and code), without text.
fn codeable(system: &str, code: &str) -> Value {
    concept(vec![coding(system, code)], None)
}

/// A CodeableConcept of one Coding with its display, without text.
fn codeable_with_display(system: &str, code: &str, display: &str) -> Value {
    concept(vec![coding_with_display(system, code, display)], None)
}

fn concept(codings: Vec<Value>, text: Option<&str>) -> Value {
    let mut o = obj([("coding", arr(codings))]);
    if let (Some(t), Value::Object(m)) = (text, &mut o) {
        m.insert("text", s(t));
    }
    o
}

/// The date `days` days before `d` (months of 30 days are close enough for test dates).
fn days_before(d: (u32, u32, u32), days: u32) -> (u32, u32, u32) {
    let total = d.0 * 360 + (d.1 - 1) * 30 + (d.2 - 1).min(29);
    let t = total - days;
    (t / 360, t % 360 / 30 + 1, (t % 30 + 1).min(28))
}

/// The date `days` days after `d` (30-day months, as `days_before`).
fn days_after(d: (u32, u32, u32), days: u32) -> (u32, u32, u32) {
    let total = d.0 * 360 + (d.1 - 1) * 30 + (d.2 - 1).min(29) + days;
    (total / 360, total % 360 / 30 + 1, (total % 30 + 1).min(28))
}

fn date(d: (u32, u32, u32)) -> String {
    format!("{:04}-{:02}-{:02}", d.0, d.1, d.2)
}

fn timestamp(d: (u32, u32, u32), minute: u32) -> String {
    format!(
        "{}T{:02}:{:02}:00+09:00",
        date(d),
        9 + minute / 60 % 9,
        minute % 60
    )
}

/// A deterministic `urn:uuid:` from the run seed and a name (version 4 layout, random bits
/// from the generator).
fn urn(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "urn:uuid:{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// A generated narrative (`text`), so that resources carry the human-readable form dom-6 asks for.
fn narrative(text: &str) -> Value {
    let mut div = String::from("<div xmlns=\"http://www.w3.org/1999/xhtml\">");
    for c in text.chars() {
        match c {
            '<' => div.push_str("&lt;"),
            '>' => div.push_str("&gt;"),
            '&' => div.push_str("&amp;"),
            c => div.push(c),
        }
    }
    div.push_str("</div>");
    obj([("status", s("generated")), ("div", s(div))])
}

/// An official HumanName in one representation (`IDE` kanji, `SYL` kana).
fn official_name(repr: &str, family: &str, given: &str) -> Value {
    obj([
        ("extension", arr(vec![representation_ext(repr)])),
        ("use", s("official")),
        ("text", s(format!("{family} {given}"))),
        ("family", s(family)),
        ("given", arr(vec![s(given)])),
    ])
}

/// The ISO 21090 name representation extension.
fn representation_ext(repr: &str) -> Value {
    obj([("url", s(REPRESENTATION)), ("valueCode", s(repr))])
}

/// A doctor's 施設医師ID at an institution.
fn doctor_identifier(inst: &Institution, doctor_id: impl Into<String>) -> Value {
    identifier(
        &format!("urn:oid:1.2.392.100495.20.3.41.1{}", inst.number),
        doctor_id,
    )
}

/// A contained JP_Practitioner (the requester or orderer of a resource): the narrative
/// `{doctor_name} 医師`, the 施設医師ID and the kanji name as `name_text`.
fn contained_practitioner(
    id: &str,
    inst: &Institution,
    doctor_id: impl Into<String>,
    doctor_name: &str,
    name_text: &str,
) -> Value {
    obj([
        ("resourceType", s("Practitioner")),
        ("id", s(id)),
        (
            "meta",
            profile_meta("http://jpfhir.jp/fhir/core/StructureDefinition/JP_Practitioner"),
        ),
        ("text", narrative(&format!("{doctor_name} 医師"))),
        ("identifier", arr(vec![doctor_identifier(inst, doctor_id)])),
        (
            "name",
            arr(vec![obj([
                ("extension", arr(vec![representation_ext("IDE")])),
                ("text", s(name_text)),
            ])]),
        ),
    ])
}

const REPRESENTATION: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";

fn institution_ext(inst: &Institution) -> Value {
    obj([
        (
            "url",
            s("http://jpfhir.jp/fhir/clins/Extension/StructureDefinition/JP_eCS_InstitutionNumber"),
        ),
        (
            "valueIdentifier",
            identifier("http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no", &inst.number),
        ),
    ])
}

fn department_ext(code: &str, name: &str) -> Value {
    obj([
        (
            "url",
            s("http://jpfhir.jp/fhir/eCS/Extension/StructureDefinition/JP_eCS_Department"),
        ),
        (
            "valueCodeableConcept",
            codeable_with_display(
                "http://jami.jp/SS-MIX2/CodeSystem/ClinicalDepartment",
                code,
                name,
            ),
        ),
    ])
}

fn meta(profile: &str, updated: &str) -> Value {
    obj([
        ("lastUpdated", s(updated)),
        ("profile", arr(vec![s(profile)])),
    ])
}

/// `meta` with tags (Codings) after the profile; no `tag` when there are none.
fn tagged_meta(profile: &str, updated: &str, tags: Vec<Value>) -> Value {
    let mut m = meta(profile, updated);
    if let (false, Value::Object(o)) = (tags.is_empty(), &mut m) {
        o.insert("tag", arr(tags));
    }
    m
}

fn patient(p: &Person, inst: &Institution, local_no: u64, updated: &str) -> Value {
    let pref = PREFECTURES[usize::from(p.prefecture - 1)].0;
    let city = CITIES[usize::from(p.prefecture - 1)].0;
    obj([
        ("resourceType", s("Patient")),
        (
            "meta",
            meta(
                "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Patient_eCS|1",
                updated,
            ),
        ),
        (
            "text",
            narrative(&format!(
                "{} {}（{} {}） {} {}",
                p.family.0,
                p.given.0,
                p.family.1,
                p.given.1,
                if p.male { "男性" } else { "女性" },
                date(p.birth)
            )),
        ),
        ("extension", arr(vec![institution_ext(inst)])),
        (
            "identifier",
            arr(vec![
                identifier(
                    &format!("urn:oid:1.2.392.100495.20.3.51.1{}", inst.number),
                    format!("{local_no:08}"),
                ),
                identifier(
                    "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID",
                    &p.member_id,
                ),
            ]),
        ),
        (
            "name",
            arr(vec![
                official_name("IDE", p.family.0, p.given.0),
                official_name("SYL", p.family.1, p.given.1),
            ]),
        ),
        ("gender", s(if p.male { "male" } else { "female" })),
        ("birthDate", s(date(p.birth))),
        (
            "address",
            arr(vec![obj([
                ("text", s(format!("{pref}{city}{}", p.line))),
                ("line", arr(vec![s(&p.line)])),
                ("city", s(city)),
                ("state", s(pref)),
                ("postalCode", s(&p.postal_code)),
                ("country", s("JP")),
            ])]),
        ),
    ])
}

fn encounter(id: &str) -> Value {
    obj([
        ("resourceType", s("Encounter")),
        ("id", s(id)),
        (
            "meta",
            profile_meta("http://jpfhir.jp/fhir/core/StructureDefinition/JP_Encounter"),
        ),
        ("text", narrative("外来受診")),
        ("status", s("finished")),
        (
            "class",
            coding_with_display(
                "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "AMB",
                "外来",
            ),
        ),
    ])
}

/// A date between `from` (years after birth) and today.
fn date_after(rng: &mut Rng, p: &Person, from_age: u32) -> (u32, u32, u32) {
    let first = (p.birth.0 + from_age).min(TODAY.0);
    let year = rng.range(u64::from(first), u64::from(TODAY.0)) as u32;
    let month = if year == TODAY.0 {
        rng.range(1, u64::from(TODAY.1 - 1)) as u32
    } else {
        rng.range(1, 12) as u32
    };
    (year, month, rng.range(1, 28) as u32)
}

/// One condition as an institution records it, drawn before it is written (so that a re-send
/// and the documents carry the same condition).
#[derive(Clone, Debug)]
pub(crate) struct CondSpec {
    /// Index into `CONDITIONS`.
    pub(crate) idx: usize,
    pub(crate) onset: (u32, u32, u32),
    pub(crate) status: &'static str,
    pub(crate) abatement: Option<(u32, u32, u32)>,
    pub(crate) suspected: bool,
    pub(crate) dept: (&'static str, &'static str),
    pub(crate) lts: bool,
}

impl CondSpec {
    pub(crate) fn chronic(&self) -> bool {
        CONDITIONS[self.idx].5
    }

    /// Still being treated: active and confirmed.
    pub(crate) fn active(&self) -> bool {
        self.status == "active" && !self.suspected
    }

    pub(crate) fn name(&self) -> &'static str {
        CONDITIONS[self.idx].1
    }
}

/// Draws condition `i` of a unit (the first is the 主病名).
fn draw_condition(rng: &mut Rng, p: &Person, inst: &Institution, i: usize) -> CondSpec {
    let eligible: Vec<usize> = (0..CONDITIONS.len())
        .filter(|&c| CONDITIONS[c].3 <= p.age)
        .collect();
    let weights: Vec<u32> = eligible.iter().map(|&c| CONDITIONS[c].4).collect();
    let idx = eligible[rng.weighted(&weights)];
    let (code, _, _, min_age, _, chronic) = CONDITIONS[idx];
    let onset = date_after(rng, p, min_age);
    let (status, abatement) = if chronic {
        if rng.chance(0.9) {
            ("active", None)
        } else {
            ("remission", Some(onset))
        }
    } else if rng.chance(0.6) {
        ("resolved", Some(onset))
    } else {
        ("active", None)
    };
    let suspected = !chronic && rng.chance(0.1);
    let dept = if inst.kind == InstitutionKind::Dental {
        DEPARTMENTS[5]
    } else if p.age < 15 && rng.chance(0.7) {
        DEPARTMENTS[1]
    } else {
        match code {
            "20057890" | "20059012" => DEPARTMENTS[2],
            "20058901" => DEPARTMENTS[3],
            "20062345" => DEPARTMENTS[4],
            _ => DEPARTMENTS[0],
        }
    };
    let lts = i == 0 && chronic && rng.chance(0.3);
    let abatement = abatement.map(|a| {
        let end = date_after(rng, p, a.0.saturating_sub(p.birth.0));
        end.max(a)
    });
    CondSpec {
        idx,
        onset,
        status,
        abatement,
        suspected,
        dept,
        lts,
    }
}

/// A JP_Condition_eCS from its drawn form.
pub(crate) fn condition(
    c: &CondSpec,
    inst: &Institution,
    i: usize,
    seq: u64,
    patient_url: &str,
    updated: &str,
) -> Value {
    let (code, name, icd, _, _, _) = CONDITIONS[c.idx];
    let (status, suspected, dept) = (c.status, c.suspected, c.dept);
    let mut ext = vec![institution_ext(inst), department_ext(dept.0, dept.1)];
    if i == 0 {
        ext.push(obj([
            (
                "url",
                s("http://jpfhir.jp/fhir/eCS/Extension/StructureDefinition/JP_eCS_DiagnosisType"),
            ),
            (
                "valueCodeableConcept",
                codeable(
                    "http://terminology.hl7.org/CodeSystem/ex-diagnosistype",
                    "principal",
                ),
            ),
        ]));
    }
    // Flags (service-rules.md §2.3): LTS on some chronic 主病名; 未告知 and 未提供 set by the
    // doctor case by case, about 2 % and 1 % of diagnoses. They come from a stream of their own,
    // so a re-send of the unit carries the same flags and the other draws are unchanged.
    let mut flags_rng = Rng::derive(seq ^ 0x5EED_F1A6, i as u64);
    let mut tags = Vec::new();
    if i == 0 && c.lts {
        tags.push("LTS");
    }
    if flags_rng.chance(0.02) {
        tags.push("UNINFORMED");
    }
    if flags_rng.chance(0.01) {
        tags.push("UNDELIVERED");
    }
    let m = tagged_meta(
        "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Condition_eCS|1",
        updated,
        tags.into_iter()
            .map(|t| {
                coding(
                    "http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication",
                    t,
                )
            })
            .collect(),
    );
    let enc = format!("enc{i}");
    let mut o = Object::new();
    o.insert("resourceType", s("Condition"));
    o.insert("meta", m);
    o.insert(
        "text",
        narrative(&format!(
            "{}{}（{}）",
            name,
            if suspected { "の疑い" } else { "" },
            status
        )),
    );
    o.insert("contained", arr(vec![encounter(&enc)]));
    o.insert("extension", arr(ext));
    o.insert(
        "identifier",
        arr(vec![identifier(
            RESOURCE_ID,
            format!("{}-cond-{seq}-{i}", inst.number),
        )]),
    );
    o.insert(
        "clinicalStatus",
        codeable(
            "http://terminology.hl7.org/CodeSystem/condition-clinical",
            status,
        ),
    );
    o.insert(
        "verificationStatus",
        codeable(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            if suspected {
                "provisional"
            } else {
                "confirmed"
            },
        ),
    );
    o.insert(
        "category",
        arr(vec![codeable_with_display(
            "http://terminology.hl7.org/CodeSystem/condition-category",
            "encounter-diagnosis",
            "Encounter Diagnosis",
        )]),
    );
    let text = if suspected {
        format!("{name}の疑い")
    } else {
        name.to_string()
    };
    o.insert(
        "code",
        concept(
            vec![
                coding_with_display(
                    "http://medis.or.jp/CodeSystem/master-disease-keyNumber",
                    code,
                    name,
                ),
                coding_with_display(
                    "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full",
                    icd,
                    name,
                ),
            ],
            Some(&text),
        ),
    );
    o.insert("subject", untyped_reference(patient_url));
    o.insert("encounter", untyped_reference(&format!("#{enc}")));
    o.insert("onsetDateTime", s(date(c.onset)));
    o.insert("recordedDate", s(date(TODAY)));
    if let Some(a) = c.abatement {
        o.insert("abatementDateTime", s(date(a)));
    }
    Value::Object(o)
}

/// A 傷病名 unit (JP_Bundle_CLINS of kind Condition) of `conds`: the first send or a re-send,
/// with the same Bundle-ID and conditions.
#[allow(clippy::too_many_arguments)]
fn condition_unit(
    rng: &mut Rng,
    p: &Person,
    inst: &Institution,
    local_no: u64,
    seq: u64,
    conds: &[CondSpec],
    bundle_id: &str,
    updated: &str,
) -> (Value, usize, &'static str) {
    bundle(
        rng,
        "Condition",
        bundle_id,
        updated,
        patient(p, inst, local_no, updated),
        &mut |_, url| {
            conds
                .iter()
                .enumerate()
                .map(|(i, c)| condition(c, inst, i, seq, url, updated))
                .collect()
        },
    )
}

/// An allergy as recorded: index into `ALLERGIES` and the date recorded.
pub(crate) type AllergySpec = (usize, (u32, u32, u32));

/// Draws the `count` allergies of a unit (distinct allergens).
fn draw_allergies(rng: &mut Rng, p: &Person, count: usize) -> Vec<AllergySpec> {
    let weights: Vec<u32> = ALLERGIES.iter().map(|a| a.4).collect();
    let mut out: Vec<AllergySpec> = Vec::new();
    for _ in 0..count {
        let idx = rng.weighted(&weights);
        let recorded = date_after(rng, p, 0);
        if out.iter().all(|a| a.0 != idx) {
            out.push((idx, recorded));
        }
    }
    out
}

/// A JP_AllergyIntolerance_eCS from its drawn form.
pub(crate) fn allergy(
    a: &AllergySpec,
    inst: &Institution,
    i: usize,
    seq: u64,
    patient_url: &str,
    updated: &str,
) -> Value {
    let (category, code, name, system, _) = ALLERGIES[a.0];
    let mut o = Object::new();
    o.insert("resourceType", s("AllergyIntolerance"));
    o.insert(
        "meta",
        meta(
            "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_AllergyIntolerance_eCS|1",
            updated,
        ),
    );
    o.insert(
        "text",
        narrative(&format!("{name}アレルギー（{category}）")),
    );
    o.insert("extension", arr(vec![institution_ext(inst)]));
    o.insert(
        "identifier",
        arr(vec![identifier(
            RESOURCE_ID,
            format!("{}-alg-{seq}-{i}", inst.number),
        )]),
    );
    o.insert(
        "clinicalStatus",
        codeable(
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            "active",
        ),
    );
    o.insert(
        "verificationStatus",
        codeable(
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
            "confirmed",
        ),
    );
    o.insert("category", arr(vec![s(category)]));
    if category == "medication" {
        o.insert("criticality", s("high"));
    }
    o.insert(
        "code",
        concept(vec![coding_with_display(system, code, name)], Some(name)),
    );
    o.insert("patient", untyped_reference(patient_url));
    o.insert("recordedDate", s(date(a.1)));
    Value::Object(o)
}

/// A JP_Bundle_CLINS unit of `kind`: the Patient, then what `build` makes. Returns the Bundle,
/// its number of entries and the kind.
fn bundle(
    rng: &mut Rng,
    kind: &'static str,
    bundle_id: &str,
    updated: &str,
    patient: Value,
    build: &mut dyn FnMut(&mut Rng, &str) -> Vec<Value>,
) -> (Value, usize, &'static str) {
    let p_url = urn(rng);
    let mut entries = vec![bundle_entry(&p_url, patient)];
    for r in build(rng, &p_url) {
        entries.push(bundle_entry(&urn(rng), r));
    }
    let n = entries.len();
    let m = tagged_meta(
        "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_CLINS|1",
        updated,
        vec![coding(
            "http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS",
            kind,
        )],
    );
    let b = bundle_resource(m, bundle_id, "collection", updated, entries);
    (b, n, kind)
}

/// A Bundle (a unit or a document): `meta`, the Bundle-ID, `type`, the timestamp and entries.
fn bundle_resource(
    meta: Value,
    bundle_id: &str,
    ty: &str,
    updated: &str,
    entries: Vec<Value>,
) -> Value {
    obj([
        ("resourceType", s("Bundle")),
        ("meta", meta),
        ("identifier", bundle_identifier(bundle_id)),
        ("type", s(ty)),
        ("timestamp", s(updated)),
        ("entry", arr(entries)),
    ])
}

/// A Bundle entry: full URL and resource.
fn bundle_entry(url: &str, resource: Value) -> Value {
    obj([("fullUrl", s(url)), ("resource", resource)])
}

fn number(v: f64, decimals: usize) -> Value {
    Value::Number(format!("{v:.decimals$}").into())
}

fn quantity(v: f64, item: &LabItem) -> Value {
    obj([
        ("value", number(v, item.decimals)),
        ("unit", s(item.unit)),
        ("system", s("http://unitsofmeasure.org")),
        ("code", s(item.unit)),
    ])
}

/// The lab values of one patient over time: a baseline from the patient's chronic states and a
/// drift per test date, so repeated results form a believable trend (a treated diabetic's
/// HbA1c falls slowly, a CKD patient's eGFR declines).
struct LabCourse {
    base: [f64; 4],
    drift: [f64; 4],
}

impl LabCourse {
    fn new(rng: &mut Rng, p: &Person) -> Self {
        let u = |rng: &mut Rng| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let hba1c = if p.diabetic {
            6.8 + 2.2 * u(rng)
        } else {
            5.0 + 0.9 * u(rng)
        };
        let egfr = if p.ckd {
            25.0 + 34.0 * u(rng)
        } else {
            (115.0 - 0.7 * f64::from(p.age) + 15.0 * u(rng)).max(61.0)
        };
        let k = 3.8 + 0.9 * u(rng) + if p.ckd { 0.4 } else { 0.0 };
        let alb = 3.9 + 0.9 * u(rng);
        LabCourse {
            base: [hba1c, k, alb, egfr],
            drift: [
                if p.diabetic { -0.12 } else { 0.0 },
                0.0,
                -0.01,
                if p.ckd { -1.2 } else { -0.2 },
            ],
        }
    }

    /// The value of item `i` at test `step` (0 = first), with measurement noise.
    fn value(&self, rng: &mut Rng, i: usize, step: usize) -> f64 {
        let noise =
            ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * [0.2, 0.3, 0.2, 4.0][i];
        (self.base[i] + self.drift[i] * step as f64 + noise).max(0.1)
    }
}

#[allow(clippy::too_many_arguments)]
fn lab_observation(
    rng: &mut Rng,
    inst: &Institution,
    item: &LabItem,
    value: f64,
    when: &str,
    id: &str,
    patient_url: &str,
    updated: &str,
) -> Value {
    let qualitative = item.unit.is_empty();
    let positive = value > 0.5;
    let flag = if qualitative {
        if positive {
            "POS"
        } else {
            "NEG"
        }
    } else if value > item.high {
        "H"
    } else if value < item.low {
        "L"
    } else {
        "N"
    };
    let doctor = rng.pick(&FAMILY_NAMES);
    let mut o = Object::new();
    o.insert("resourceType", s("Observation"));
    o.insert(
        "meta",
        meta(
            "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Observation_LabResult_eCS|1",
            updated,
        ),
    );
    o.insert(
        "text",
        narrative(&if qualitative {
            format!(
                "{} {}（{}）",
                item.name,
                if positive { "陽性" } else { "陰性" },
                when
            )
        } else {
            format!(
                "{} {:.prec$} {}（{}）",
                item.name,
                value,
                item.unit,
                when,
                prec = item.decimals
            )
        }),
    );
    let doctor_id = format!("D{:03}", rng.range(1, 300));
    o.insert(
        "contained",
        arr(vec![
            encounter("enc"),
            obj([
                ("resourceType", s("Specimen")),
                ("id", s("spc")),
                (
                    "meta",
                    profile_meta("http://jpfhir.jp/fhir/core/StructureDefinition/JP_Specimen"),
                ),
                ("text", narrative("血清")),
                (
                    "type",
                    concept(
                        vec![
                            coding_with_display("http://jpfhir.jp/fhir/core/CodeSystem/JP_ObservationSampleMaterialCode_CS", "023", "血清"),
                            coding_with_display("http://terminology.hl7.org/CodeSystem/v2-0487", "SER", "Serum"),
                        ],
                        Some("血清"),
                    ),
                ),
            ]),
            contained_practitioner(
                "orderer",
                inst,
                doctor_id,
                doctor.0,
                &format!("{} 医師", doctor.0),
            ),
        ]),
    );
    o.insert(
        "extension",
        arr(vec![institution_ext(inst), department_ext("01", "内科")]),
    );
    o.insert("identifier", arr(vec![identifier(RESOURCE_ID, id)]));
    o.insert("status", s("final"));
    o.insert(
        "category",
        arr(vec![codeable(
            "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS",
            "laboratory",
        )]),
    );
    o.insert(
        "code",
        concept(
            vec![
                coding_with_display(
                    "http://jpfhir.jp/fhir/clins/CodeSystem/JP_CLINS_ObsLabResult_LocalCode_CS",
                    item.local_code,
                    item.name,
                ),
                coding_with_display(item.system, item.code, item.display),
            ],
            Some(item.name),
        ),
    );
    o.insert("subject", untyped_reference(patient_url));
    o.insert("effectiveDateTime", s(when));
    o.insert("encounter", untyped_reference("#enc"));
    o.insert("issued", s(when));
    o.insert("performer", arr(vec![untyped_reference("#orderer")]));
    if qualitative {
        o.insert("valueString", s(if positive { "陽性" } else { "陰性" }));
    } else {
        o.insert("valueQuantity", quantity(value, item));
    }
    o.insert(
        "interpretation",
        arr(vec![codeable(
            "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            flag,
        )]),
    );
    if !qualitative {
        o.insert(
            "referenceRange",
            arr(vec![obj([
                ("low", quantity(item.low, item)),
                ("high", quantity(item.high, item)),
            ])]),
        );
    }
    o.insert("specimen", untyped_reference("#spc"));
    Value::Object(o)
}

/// Counts of what was generated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub seed: u64,
    pub patients: u64,
    /// Care providers (hospitals, clinics, dental clinics, pharmacies, checkup centres).
    pub institutions: u64,
    pub insurers: u64,
    pub submissions: u64,
    pub resources: u64,
    pub condition_units: u64,
    pub allergy_units: u64,
    pub observation_units: u64,
    /// Documents: 診療情報提供書, 退院時サマリー, 健診結果報告書, 患者サマリー.
    pub referrals: u64,
    pub discharge_summaries: u64,
    pub checkups: u64,
    pub patient_summaries: u64,
    /// MedicationRequests (処方) inside the documents.
    pub prescriptions: u64,
    pub resends: u64,
    pub deletes: u64,
}

impl Manifest {
    pub fn to_json(&self) -> String {
        format!(
            "{{\n  \"generator\": \"clins-hub gen {}\",\n  \"seed\": {},\n  \"patients\": {},\n  \"institutions\": {},\n  \"insurers\": {},\n  \"submissions\": {},\n  \"resources\": {},\n  \"kinds\": {{\"Condition\": {}, \"AllergyIntolerance\": {}, \"Observation\": {}, \"eReferral\": {}, \"eDischargeSummary\": {}, \"eCheckup\": {}, \"ePCS\": {}}},\n  \"prescriptions\": {},\n  \"resends\": {},\n  \"deletes\": {}\n}}\n",
            env!("CARGO_PKG_VERSION"),
            self.seed,
            self.patients,
            self.institutions,
            self.insurers,
            self.submissions,
            self.resources,
            self.condition_units,
            self.allergy_units,
            self.observation_units,
            self.referrals,
            self.discharge_summaries,
            self.checkups,
            self.patient_summaries,
            self.prescriptions,
            self.resends,
            self.deletes
        )
    }
}

/// Generates the submissions of patient `n` (0-based) into `sink`. Each patient draws from its
/// own random stream, so patient `n` is the same whatever `--patients` says.
pub fn patient_submissions(cfg: &Config, world: &World, n: u64, sink: &mut dyn FnMut(Submission)) {
    patient_submissions_with(cfg, world, n, Extra::default(), sink)
}

/// What a caller may add to a patient's generated history.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extra {
    /// A 診療情報提供書 from the first institution visited (unless it is a dental clinic or
    /// wrote one anyway) to another, without the patient's consent in the Bundle, so the hub
    /// holds it (閲覧保留) until the patient releases it: the demo's example patient has one to
    /// release in the portal. Drawn from a random stream of its own, so the rest of the
    /// patient's history is the same as without it.
    pub held_referral: bool,
}

/// [`patient_submissions`] with [`Extra`] submissions.
pub fn patient_submissions_with(
    cfg: &Config,
    world: &World,
    n: u64,
    extra: Extra,
    sink: &mut dyn FnMut(Submission),
) {
    let mut rng = Rng::derive(cfg.seed, n);
    let p = person(&mut rng);
    let insts = &world.institutions;
    let course = LabCourse::new(&mut rng, &p);
    // Visits: 1–3 medical institutions, preferring the patient's prefecture.
    let local = &world.by_prefecture[usize::from(p.prefecture)];
    let visits = 1 + rng.weighted(&[50, 35, 15]);
    let mut chosen: Vec<usize> = Vec::new();
    for _ in 0..visits {
        let i = if !local.is_empty() && rng.chance(0.8) {
            *rng.pick(local)
        } else {
            *rng.pick(&world.medical)
        };
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    // File names follow generation order: patient number, then a running number.
    let mut k = 0u32;
    let mut emit =
        |what: &str, action: Action, (bundle, resources, kind): (Value, usize, &'static str)| {
            k += 1;
            sink(Submission {
                file_name: format!("{n:08}-{k:02}-{what}.json"),
                kind,
                action,
                resources,
                bundle,
            });
        };
    for (v, &ii) in chosen.iter().enumerate() {
        let inst = &insts[ii];
        let seq = n * 4 + v as u64;
        let local_no = rng.range(1, 99_999_999);
        let minute = rng.below(480) as u32;
        let updated = timestamp(TODAY, minute);
        // 傷病名: one unit per visit, 1–5 conditions (more with age).
        let count = 1 + rng.below(u64::from(1 + p.age / 20).min(5)) as usize;
        let conds: Vec<CondSpec> = (0..count)
            .map(|i| draw_condition(&mut rng, &p, inst, i))
            .collect();
        let bundle_id = format!("{}^{}^COND-{seq:010}", inst.number, TODAY.0);
        emit(
            "condition",
            Action::Submit,
            condition_unit(
                &mut rng, &p, inst, local_no, seq, &conds, &bundle_id, &updated,
            ),
        );
        // A later re-send of the same unit (an update), or a Patient-only delete.
        let later = timestamp(TODAY, minute + 30);
        if rng.chance(0.03) {
            emit(
                "condition-resend",
                Action::Resend,
                condition_unit(
                    &mut rng, &p, inst, local_no, seq, &conds, &bundle_id, &later,
                ),
            );
        } else if rng.chance(0.01) {
            emit(
                "condition-delete",
                Action::Delete,
                bundle(
                    &mut rng,
                    "Condition",
                    &bundle_id,
                    &later,
                    patient(&p, inst, local_no, &later),
                    &mut |_, _| Vec::new(),
                ),
            );
        }
        // アレルギー: about one patient-institution pair in five records some.
        let mut allergies: Vec<AllergySpec> = Vec::new();
        if rng.chance(0.2) {
            let count = 1 + rng.weighted(&[80, 20]);
            allergies = draw_allergies(&mut rng, &p, count);
            let bundle_id = format!("{}^{}^ALG-{seq:010}", inst.number, TODAY.0);
            emit(
                "allergy",
                Action::Submit,
                bundle(
                    &mut rng,
                    "AllergyIntolerance",
                    &bundle_id,
                    &updated,
                    patient(&p, inst, local_no, &updated),
                    &mut |_, url| {
                        allergies
                            .iter()
                            .enumerate()
                            .map(|(i, a)| allergy(a, inst, i, seq, url, &updated))
                            .collect()
                    },
                ),
            );
        }
        // 検査: medical institutions test most patients with a chronic state and some others,
        // every three months or so; each test date is one unit.
        let tests = if inst.kind == InstitutionKind::Dental || p.age < 18 {
            0
        } else if p.diabetic || p.ckd {
            rng.range(2, 4) as usize
        } else {
            usize::from(rng.chance(0.3))
        };
        let mut last_labs: Option<(String, [f64; 4])> = None;
        for step in 0..tests {
            let days_back = 90 * (tests - 1 - step) as u32 + rng.below(20) as u32;
            let when = format!(
                "{}T{:02}:{:02}:00+09:00",
                date(days_before(TODAY, days_back + 1)),
                rng.range(8, 11),
                rng.below(60)
            );
            let values: [f64; 4] = std::array::from_fn(|i| course.value(&mut rng, i, step));
            let bundle_id = format!("{}^{}^LAB-{seq:010}-{step}", inst.number, TODAY.0);
            emit(
                "observation",
                Action::Submit,
                bundle(
                    &mut rng,
                    "Observation",
                    &bundle_id,
                    &updated,
                    patient(&p, inst, local_no, &updated),
                    &mut |rng, url| {
                        LAB_ITEMS
                            .iter()
                            .enumerate()
                            .map(|(i, item)| {
                                let v = values[i];
                                let id = format!("{}-obs-{seq}-{step}-{i}", inst.number);
                                lab_observation(rng, inst, item, v, &when, &id, url, &updated)
                            })
                            .collect()
                    },
                ),
            );
            last_labs = Some((when, values));
        }
        // 感染症: screening (before surgery or admission) at one medical visit in five, more
        // often at hospitals.
        let screened = inst.kind != InstitutionKind::Dental
            && p.age >= 15
            && rng.chance(if inst.kind == InstitutionKind::Hospital {
                0.5
            } else {
                0.1
            });
        if screened {
            let when = format!(
                "{}T{:02}:{:02}:00+09:00",
                date(days_before(TODAY, 1 + rng.below(300) as u32)),
                rng.range(8, 11),
                rng.below(60)
            );
            let bundle_id = format!("{}^{}^INF-{seq:010}", inst.number, TODAY.0);
            let results = [p.hbs_positive, p.tp_positive];
            emit(
                "infection",
                Action::Submit,
                bundle(
                    &mut rng,
                    "Observation",
                    &bundle_id,
                    &updated,
                    patient(&p, inst, local_no, &updated),
                    &mut |rng, url| {
                        INFECTION_ITEMS
                            .iter()
                            .zip(results)
                            .enumerate()
                            .map(|(i, (item, pos))| {
                                let id = format!("{}-inf-{seq}-{i}", inst.number);
                                let v = if pos { 1.0 } else { 0.0 };
                                lab_observation(rng, inst, item, v, &when, &id, url, &updated)
                            })
                            .collect()
                    },
                ),
            );
        }
        // 入院: one hospital patient in ten was admitted and discharged in the last months; the
        // hospital refers the patient back to a clinic with the 退院時サマリー attached.
        let labs = last_labs.as_ref();
        let visit = documents::Visit {
            p: &p,
            inst,
            local_no,
            seq,
            conds: &conds,
            allergies: &allergies,
            labs,
        };
        let doc_time = timestamp(TODAY, minute + 60);
        let mut referred = false;
        if inst.kind == InstitutionKind::Hospital && rng.chance(0.1) {
            if let Some(to) = world.referral_target(&mut rng, ii, InstitutionKind::Clinic) {
                let discharged = days_before(TODAY, 1 + rng.below(60) as u32);
                let admitted = days_before(discharged, 3 + rng.below(25) as u32);
                let link = documents::DischargeLink {
                    bundle_id: format!("{}^{}^DIS-{seq:010}", inst.number, TODAY.0),
                    admitted,
                    discharged,
                };
                let referral = documents::Referral {
                    visit,
                    to: &insts[to],
                    issued: TODAY,
                    updated: doc_time.clone(),
                    bundle_id: format!("{}^{}^REF-{seq:010}-1", inst.number, TODAY.0),
                    body: documents::Body::Structured,
                    pdf: rng.chance(0.2),
                    discharge: Some(&link),
                };
                emit(
                    "referral",
                    Action::Submit,
                    documents::referral(&mut rng, &referral),
                );
                referred = true;
                emit(
                    "discharge",
                    Action::Submit,
                    documents::discharge_summary(&mut rng, &referral.visit, &link, &doc_time),
                );
            }
        }
        // 診療情報提供書: about one medical (not dental) visit in 25 ends with a referral, from a
        // clinic to a hospital or back.
        if inst.kind != InstitutionKind::Dental && rng.chance(0.04) {
            let want = if inst.kind == InstitutionKind::Clinic {
                InstitutionKind::Hospital
            } else {
                InstitutionKind::Clinic
            };
            if let Some(to) = world.referral_target(&mut rng, ii, want) {
                let referral = documents::Referral {
                    visit,
                    to: &insts[to],
                    issued: TODAY,
                    updated: doc_time.clone(),
                    bundle_id: format!("{}^{}^REF-{seq:010}-0", inst.number, TODAY.0),
                    body: if rng.chance(0.25) {
                        documents::Body::TextOnly
                    } else {
                        documents::Body::Structured
                    },
                    pdf: rng.chance(0.2),
                    discharge: None,
                };
                emit(
                    "referral",
                    Action::Submit,
                    documents::referral(&mut rng, &referral),
                );
                referred = true;
            }
        }
        if extra.held_referral && v == 0 && !referred && inst.kind != InstitutionKind::Dental {
            let mut own = Rng::derive(cfg.seed ^ 0x4845_4c44, n);
            let want = if inst.kind == InstitutionKind::Clinic {
                InstitutionKind::Hospital
            } else {
                InstitutionKind::Clinic
            };
            if let Some(to) = world.referral_target(&mut own, ii, want) {
                let referral = documents::Referral {
                    visit,
                    to: &insts[to],
                    issued: TODAY,
                    updated: doc_time.clone(),
                    bundle_id: format!("{}^{}^REF-{seq:010}-H", inst.number, TODAY.0),
                    body: documents::Body::Structured,
                    pdf: true,
                    discharge: None,
                };
                emit(
                    "referral-held",
                    Action::Submit,
                    documents::referral(&mut own, &referral),
                );
            }
        }
        // 患者サマリー: clinics write one for some patients with a chronic condition.
        if inst.kind == InstitutionKind::Clinic && rng.chance(0.15) {
            let bundle_id = format!("{}^{}^PCS-{seq:010}", inst.number, TODAY.0);
            if let Some(doc) = documents::patient_summary(&mut rng, &visit, &bundle_id, &doc_time) {
                emit("pcs", Action::Submit, doc);
            }
        }
    }
    // 健診: about half of the 40–74 year-olds (特定健診 age) have a yearly checkup at a checkup
    // centre, reported for the last one to three years.
    if (40..=74).contains(&p.age) && !world.checkup.is_empty() && rng.chance(0.5) {
        let local = &world.checkup_by_prefecture[usize::from(p.prefecture)];
        let centre = if !local.is_empty() && rng.chance(0.8) {
            &insts[*rng.pick(local)]
        } else {
            &insts[*rng.pick(&world.checkup)]
        };
        if let Some(insurer) = world.insurer(&p.member_id[..8]) {
            let phys = documents::Physique::draw(&mut rng, &p);
            let last = days_before(TODAY, 15 + rng.below(330) as u32);
            let years = 1 + rng.weighted(&[50, 30, 20]) as u32;
            for back in (0..years).rev() {
                let when = (last.0 - back, last.1, last.2);
                let updated = timestamp(days_after(when, 14), rng.below(480) as u32);
                let bundle_id =
                    format!("{}^{}^CHK-{:010}-{back}", centre.number, when.0, n * 4 + 3);
                emit(
                    "checkup",
                    Action::Submit,
                    documents::checkup(
                        &mut rng,
                        &p,
                        &phys,
                        centre,
                        insurer,
                        course.base[0],
                        when,
                        back,
                        &bundle_id,
                        &updated,
                    ),
                );
            }
        }
    }
}

/// Adds one submission to the manifest's counts.
pub fn count(m: &mut Manifest, sub: &Submission) {
    m.submissions += 1;
    m.resources += sub.resources as u64;
    match sub.action {
        Action::Resend => m.resends += 1,
        Action::Delete => m.deletes += 1,
        Action::Submit => match sub.kind {
            "Condition" => m.condition_units += 1,
            "Observation" => m.observation_units += 1,
            "AllergyIntolerance" => m.allergy_units += 1,
            "eReferral" => m.referrals += 1,
            "eDischargeSummary" => m.discharge_summaries += 1,
            "eCheckup" => m.checkups += 1,
            _ => m.patient_summaries += 1,
        },
    }
    if matches!(sub.kind, "eReferral" | "eDischargeSummary") {
        m.prescriptions += sub
            .bundle
            .get("entry")
            .map(Value::items)
            .unwrap_or(&[])
            .iter()
            .filter(|e| {
                e.pointer("resource.resourceType").and_then(Value::as_str)
                    == Some("MedicationRequest")
            })
            .count() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Share of `part` in `whole`, in percent.
    fn pct(part: usize, whole: usize) -> f64 {
        part as f64 * 100.0 / whole as f64
    }

    #[test]
    fn age_pyramid_and_sex_follow_the_tables() {
        let people: Vec<Person> = (0..20_000)
            .map(|n| person(&mut Rng::derive(42, n)))
            .collect();
        let total: u32 = AGE_BANDS.iter().sum();
        for (band, w) in AGE_BANDS.iter().enumerate() {
            let got = people.iter().filter(|p| p.age / 10 == band as u32).count();
            let want = f64::from(*w) * 100.0 / f64::from(total);
            assert!(
                (pct(got, people.len()) - want).abs() < 1.0,
                "band {band}: {:.1}% vs {want:.1}%",
                pct(got, people.len())
            );
        }
        let male = pct(people.iter().filter(|p| p.male).count(), people.len());
        assert!((46.6..50.6).contains(&male), "{male}");
        // 後期高齢者 IDs (法別番号 39) exactly for the 75 and over.
        for p in &people {
            assert_eq!(p.age >= 75, p.member_id.starts_with("39"), "{p:?}");
        }
        let empty_branch = pct(
            people.iter().filter(|p| p.member_id.ends_with(':')).count(),
            people.len(),
        );
        assert!((28.0..32.0).contains(&empty_branch), "{empty_branch}");
    }

    #[test]
    fn a_held_referral_is_added_without_changing_the_rest() {
        let cfg = Config {
            patients: 40,
            institutions: None,
            seed: 1,
        };
        let world = World::new(&cfg);
        let mut added = 0;
        for n in 0..cfg.patients {
            let (mut plain, mut with) = (Vec::new(), Vec::new());
            patient_submissions(&cfg, &world, n, &mut |s| plain.push(s));
            let extra = Extra {
                held_referral: true,
            };
            patient_submissions_with(&cfg, &world, n, extra, &mut |s| with.push(s));
            let key = |s: &Submission| fhir::json::to_string(&s.bundle);
            let plain_bytes: Vec<String> = plain.iter().map(key).collect();
            let extra_ones: Vec<&Submission> = with
                .iter()
                .filter(|s| !plain_bytes.contains(&key(s)))
                .collect();
            assert!(extra_ones.len() <= 1, "patient {n}: {}", extra_ones.len());
            assert_eq!(with.len(), plain.len() + extra_ones.len(), "patient {n}");
            for s in &extra_ones {
                assert_eq!(s.kind, "eReferral");
                assert!(
                    s.file_name.ends_with("referral-held.json"),
                    "{}",
                    s.file_name
                );
                let text = key(s);
                assert!(
                    !text.contains("\"resourceType\":\"Consent\""),
                    "held: no Consent"
                );
                added += 1;
            }
        }
        assert!(added >= 20, "{added} of 40 patients got a held referral");
    }

    #[test]
    fn uninformed_and_undelivered_flags_have_their_shares_and_survive_resends() {
        let cfg = Config {
            patients: 4_000,
            institutions: Some(80),
            seed: 6,
        };
        let world = World::new(&cfg);
        let (mut conditions, mut uninformed, mut undelivered) = (0usize, 0usize, 0usize);
        let mut by_unit: std::collections::HashMap<String, Vec<Vec<String>>> =
            std::collections::HashMap::new();
        let mut resends_checked = 0;
        for n in 0..cfg.patients {
            patient_submissions(&cfg, &world, n, &mut |sub| {
                if sub.kind != "Condition" || sub.action == Action::Delete {
                    return;
                }
                let tags: Vec<Vec<String>> = sub
                    .bundle
                    .get("entry")
                    .map(Value::items)
                    .unwrap_or(&[])
                    .iter()
                    .skip(1)
                    .map(|e| {
                        e.pointer("resource.meta.tag")
                            .map(Value::items)
                            .unwrap_or(&[])
                            .iter()
                            .filter_map(|t| t.get("code").and_then(Value::as_str))
                            .map(str::to_string)
                            .collect()
                    })
                    .collect();
                let bid = sub
                    .bundle
                    .pointer("identifier.value")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if sub.action == Action::Resend {
                    assert_eq!(by_unit.get(&bid), Some(&tags), "a re-send keeps its flags");
                    resends_checked += 1;
                    return;
                }
                for t in &tags {
                    conditions += 1;
                    uninformed += usize::from(t.iter().any(|c| c == "UNINFORMED"));
                    undelivered += usize::from(t.iter().any(|c| c == "UNDELIVERED"));
                }
                by_unit.insert(bid, tags);
            });
        }
        assert!(resends_checked > 50, "{resends_checked}");
        let (u, d) = (pct(uninformed, conditions), pct(undelivered, conditions));
        assert!((1.4..2.6).contains(&u), "UNINFORMED {u}%");
        assert!((0.5..1.5).contains(&d), "UNDELIVERED {d}%");
    }

    #[test]
    fn allergies_resends_and_deletes_have_their_shares() {
        let cfg = Config {
            patients: 5_000,
            institutions: Some(100),
            seed: 8,
        };
        let world = World::new(&cfg);
        let mut m = Manifest::default();
        let (mut allergies, mut drug, mut high, mut environment) = (0, 0, 0, 0);
        let (mut screened, mut positive) = (0, 0);
        for n in 0..cfg.patients {
            patient_submissions(&cfg, &world, n, &mut |sub| {
                count(&mut m, &sub);
                for e in sub.bundle.get("entry").map(Value::items).unwrap_or(&[]) {
                    let r = e.get("resource").unwrap();
                    if r.pointer("code.coding")
                        .map(Value::items)
                        .unwrap_or(&[])
                        .iter()
                        .any(|c| c.get("system").and_then(Value::as_str) == Some(INFECTION_LABO))
                    {
                        screened += 1;
                        match r.get("valueString").and_then(Value::as_str) {
                            Some("陽性") => positive += 1,
                            Some("陰性") => {}
                            other => panic!("infection result {other:?}"),
                        }
                    }
                    if r.get("resourceType").and_then(Value::as_str) != Some("AllergyIntolerance") {
                        continue;
                    }
                    allergies += 1;
                    let cat = r.pointer("category").map(Value::items).unwrap_or(&[]);
                    environment +=
                        usize::from(cat.first().and_then(Value::as_str) == Some("environment"));
                    if cat.first().and_then(Value::as_str) == Some("medication") {
                        drug += 1;
                        high += usize::from(
                            r.get("criticality").and_then(Value::as_str) == Some("high"),
                        );
                    }
                }
            });
        }
        // Medication allergens carry 60 of the 114 weight units (food 30, environment 24).
        let drug_share = pct(drug, allergies);
        assert!((48.5..57.0).contains(&drug_share), "{drug_share}");
        let env_share = pct(environment, allergies);
        assert!((17.0..25.0).contains(&env_share), "{env_share}");
        assert_eq!(high, drug, "every drug allergy has criticality high");
        // HBs antigen 1 %, TP antibody 0.5 % of patients: positives are rare but present.
        assert!(screened > 500, "{screened}");
        assert!(
            positive > 0 && pct(positive, screened) < 2.5,
            "{positive}/{screened}"
        );
        let units = (m.condition_units) as usize;
        assert!(
            (2.3..3.7).contains(&pct(m.resends as usize, units)),
            "{m:?}"
        );
        assert!(
            (0.5..1.5).contains(&pct(m.deletes as usize, units)),
            "{m:?}"
        );
        assert!(
            (17.0..23.0).contains(&pct(m.allergy_units as usize, units)),
            "{m:?}"
        );
    }

    #[test]
    fn lab_results_form_trends() {
        let cfg = Config {
            patients: 3_000,
            institutions: Some(60),
            seed: 12,
        };
        let world = World::new(&cfg);
        // (diabetic, HbA1c values in test order) per patient-institution series.
        let (mut first_dm, mut last_dm, mut other) = (Vec::new(), Vec::new(), Vec::new());
        for n in 0..cfg.patients {
            let p = person(&mut Rng::derive(cfg.seed, n));
            let mut series: Vec<f64> = Vec::new();
            patient_submissions(&cfg, &world, n, &mut |sub| {
                if sub.kind != "Observation" || sub.file_name.contains("infection") {
                    return;
                }
                let entries = sub.bundle.get("entry").map(Value::items).unwrap_or(&[]);
                let hba1c = entries
                    .iter()
                    .filter_map(|e| e.get("resource"))
                    .find(|r| {
                        r.pointer("code.text").and_then(Value::as_str) == Some("HbA1c（NGSP）")
                    })
                    .and_then(|r| r.pointer("valueQuantity.value"))
                    .and_then(Value::as_number)
                    .and_then(|v| v.parse::<f64>().ok())
                    .expect("every lab unit has an HbA1c");
                series.push(hba1c);
            });
            if p.diabetic && series.len() >= 2 {
                first_dm.push(series[0]);
                last_dm.push(series[series.len() - 1]);
            } else if !p.diabetic {
                other.extend(series);
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            first_dm.len() > 50 && other.len() > 100,
            "{} {}",
            first_dm.len(),
            other.len()
        );
        assert!(mean(&first_dm) > 7.0, "{}", mean(&first_dm));
        assert!(mean(&other) < 6.0, "{}", mean(&other));
        assert!(
            mean(&last_dm) < mean(&first_dm) - 0.1,
            "treated diabetics improve: {} → {}",
            mean(&first_dm),
            mean(&last_dm)
        );
    }

    /// The resources of a Bundle.
    fn resources(b: &Value) -> impl Iterator<Item = &Value> {
        b.get("entry")
            .map(Value::items)
            .unwrap_or(&[])
            .iter()
            .filter_map(|e| e.get("resource"))
    }

    fn str_at<'v>(v: &'v Value, path: &str) -> &'v str {
        v.pointer(path).and_then(Value::as_str).unwrap_or("")
    }

    #[test]
    fn documents_and_actors_follow_the_service_rules() {
        let cfg = Config {
            patients: 4_000,
            institutions: Some(80),
            seed: 17,
        };
        let world = World::new(&cfg);
        for (i, (kind, _)) in INSTITUTION_KINDS.iter().enumerate() {
            assert_eq!(world.institutions[i].kind, *kind, "one of each kind first");
        }
        let kind_of: std::collections::HashMap<&str, InstitutionKind> = world
            .institutions
            .iter()
            .map(|i| (i.number.as_str(), i.kind))
            .collect();
        let (mut plain_visits, mut plain_referrals) = (0usize, 0usize);
        let (mut hospital_units, mut discharges) = (0usize, 0usize);
        let (mut adults, mut checked) = (0usize, 0usize);
        let (mut pcs, mut pcs_conditions, mut prescriptions) = (0usize, 0usize, 0usize);
        for n in 0..cfg.patients {
            let p = person(&mut Rng::derive(cfg.seed, n));
            // The patient's insurer is an actor of the world.
            assert!(
                world.insurer(&p.member_id[..8]).is_some(),
                "{}",
                p.member_id
            );
            let eligible = (40..=74).contains(&p.age);
            adults += usize::from(eligible);
            let mut had_checkup = false;
            let mut last: Option<Submission> = None;
            patient_submissions(&cfg, &world, n, &mut |sub| {
                let id = str_at(&sub.bundle, "identifier.value").to_string();
                let kind = kind_of[&id[..10]];
                // Pharmacies and insurers never submit; checkup centres send checkups only.
                match sub.kind {
                    "eCheckup" => {
                        assert_eq!(kind, InstitutionKind::CheckupCentre, "{id}");
                        assert!(eligible, "checkup at age {}", p.age);
                        had_checkup = true;
                    }
                    _ => assert!(kind.is_medical(), "{id} from {kind:?}"),
                }
                if matches!(sub.kind, "eReferral" | "eDischargeSummary" | "ePCS") {
                    assert_ne!(kind, InstitutionKind::Dental, "{id}");
                }
                for r in resources(&sub.bundle) {
                    prescriptions += usize::from(str_at(r, "resourceType") == "MedicationRequest");
                }
                match (sub.kind, sub.action) {
                    ("Condition", Action::Submit) if kind != InstitutionKind::Dental => {
                        plain_visits += 1;
                        hospital_units += usize::from(kind == InstitutionKind::Hospital);
                    }
                    ("eReferral", _) if id.ends_with("-0") => plain_referrals += 1,
                    ("eDischargeSummary", _) => {
                        discharges += 1;
                        assert_eq!(kind, InstitutionKind::Hospital);
                        // Sent right after the referral that carries it (section 210).
                        let referral = last.as_ref().expect("a referral before");
                        assert_eq!(referral.kind, "eReferral");
                        assert!(
                            resources(&referral.bundle)
                                .any(|r| str_at(r, "masterIdentifier.value") == id),
                            "{id}"
                        );
                    }
                    ("ePCS", _) => {
                        pcs += 1;
                        assert_eq!(kind, InstitutionKind::Clinic);
                        for r in resources(&sub.bundle)
                            .filter(|r| str_at(r, "resourceType") == "Condition")
                        {
                            pcs_conditions += 1;
                            let code = r
                                .pointer("code.coding")
                                .map(Value::items)
                                .and_then(|c| c.first())
                                .map_or("", |c| str_at(c, "code"));
                            let chronic = CONDITIONS.iter().find(|c| c.0 == code).map(|c| c.5);
                            assert_eq!(chronic, Some(true), "{code} in a patient summary");
                            let status = r
                                .pointer("clinicalStatus.coding")
                                .map(Value::items)
                                .and_then(|c| c.first())
                                .map_or("", |c| str_at(c, "code"));
                            assert_eq!(status, "active");
                        }
                    }
                    _ => {}
                }
                last = Some(sub);
            });
            checked += usize::from(had_checkup);
        }
        // Referrals: one non-dental visit in 25 (4 %), plus those sent with a discharge summary.
        let share = pct(plain_referrals, plain_visits);
        assert!((3.0..5.0).contains(&share), "referrals {share:.2}%");
        // Discharges: one hospital patient in ten.
        let share = pct(discharges, hospital_units);
        assert!((7.0..13.0).contains(&share), "discharges {share:.2}%");
        // Checkups: about half of the 40–74 year-olds.
        let share = pct(checked, adults);
        assert!((45.0..55.0).contains(&share), "checkups {share:.2}%");
        assert!(pcs > 50 && pcs_conditions >= pcs, "{pcs} {pcs_conditions}");
        assert!(prescriptions > 100, "{prescriptions}");
    }

    #[test]
    fn check_digits() {
        // 2,1,2,1 weights on 0,1,3,9 → 0+1+6+9 = 16 → 4.
        assert_eq!(check_digit("0139"), 4);
        assert_eq!(check_digit("00000"), 0);
    }

    #[test]
    fn institution_numbers_have_the_jp_clins_form() {
        let cfg = Config {
            patients: 1000,
            institutions: Some(500),
            seed: 3,
        };
        let insts = institutions(&cfg);
        assert_eq!(insts.len(), 500);
        for i in &insts {
            let n = &i.number;
            assert_eq!(n.len(), 10, "{n}");
            let pref: u8 = n[0..2].parse().unwrap();
            assert!((1..=47).contains(&pref));
            assert_eq!(n[2..3], i.kind.fee_table().to_string(), "{n}");
            let last = n.as_bytes()[9] - b'0';
            assert_eq!(check_digit(&n[3..9]), last, "{n}");
        }
        let hospitals = insts
            .iter()
            .filter(|i| i.kind == InstitutionKind::Hospital)
            .count();
        assert!(
            hospitals < 60,
            "hospitals are ~4.5% of institutions: {hospitals}"
        );
    }

    #[test]
    fn member_ids_include_full_width_and_empty_branch() {
        let mut rng = Rng::new(9);
        let ids: Vec<String> = (0..2000).map(|_| member_id(&mut rng, 40, 13)).collect();
        let empty_branch = ids.iter().filter(|i| i.ends_with(':')).count();
        let full = ids
            .iter()
            .filter(|i| i.chars().any(|c| ('０'..='９').contains(&c)))
            .count();
        assert!((450..750).contains(&empty_branch), "{empty_branch}");
        assert!(full > 200, "{full}");
        assert!(ids.iter().all(|i| i.split(':').count() == 4));
    }
}
