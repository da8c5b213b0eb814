//! The distributions the generator draws from. Sources and simplifications are described in
//! docs/synthetic-data.md; every name and code here is invented or a public classification.

/// Prefectures (JIS X 0401 order, so the index + 1 is the prefecture number) with their
/// population in units of 10,000 (2020 census, rounded). Institutions and patients are spread
/// in proportion to it.
pub const PREFECTURES: [(&str, u32); 47] = [
    ("北海道", 522),
    ("青森県", 124),
    ("岩手県", 121),
    ("宮城県", 230),
    ("秋田県", 96),
    ("山形県", 107),
    ("福島県", 183),
    ("茨城県", 287),
    ("栃木県", 193),
    ("群馬県", 194),
    ("埼玉県", 734),
    ("千葉県", 628),
    ("東京都", 1405),
    ("神奈川県", 924),
    ("新潟県", 220),
    ("富山県", 103),
    ("石川県", 113),
    ("福井県", 77),
    ("山梨県", 81),
    ("長野県", 205),
    ("岐阜県", 198),
    ("静岡県", 363),
    ("愛知県", 754),
    ("三重県", 177),
    ("滋賀県", 141),
    ("京都府", 258),
    ("大阪府", 884),
    ("兵庫県", 547),
    ("奈良県", 132),
    ("和歌山県", 92),
    ("鳥取県", 55),
    ("島根県", 67),
    ("岡山県", 189),
    ("広島県", 280),
    ("山口県", 134),
    ("徳島県", 72),
    ("香川県", 95),
    ("愛媛県", 133),
    ("高知県", 69),
    ("福岡県", 514),
    ("佐賀県", 81),
    ("長崎県", 131),
    ("熊本県", 174),
    ("大分県", 112),
    ("宮崎県", 107),
    ("鹿児島県", 159),
    ("沖縄県", 147),
];

/// Institutions that submit, weighted by their national counts (service-rules.md §5):
/// hospitals 8,060, general clinics 105,207, dental clinics 66,378.
pub const INSTITUTION_KINDS: [(InstitutionKind, u32); 3] = [
    (InstitutionKind::Hospital, 8_060),
    (InstitutionKind::Clinic, 105_207),
    (InstitutionKind::Dental, 66_378),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstitutionKind {
    Hospital,
    Clinic,
    Dental,
}

impl InstitutionKind {
    /// 点数表コード of the 医療機関番号.
    pub fn fee_table(self) -> u8 {
        match self {
            InstitutionKind::Hospital | InstitutionKind::Clinic => 1,
            InstitutionKind::Dental => 3,
        }
    }
}

/// Family names: (kanji, katakana, weight).
pub const FAMILY_NAMES: [(&str, &str, u32); 20] = [
    ("佐藤", "サトウ", 19),
    ("鈴木", "スズキ", 18),
    ("高橋", "タカハシ", 14),
    ("田中", "タナカ", 13),
    ("伊藤", "イトウ", 11),
    ("渡辺", "ワタナベ", 11),
    ("山本", "ヤマモト", 11),
    ("中村", "ナカムラ", 10),
    ("小林", "コバヤシ", 10),
    ("加藤", "カトウ", 9),
    ("吉田", "ヨシダ", 8),
    ("山田", "ヤマダ", 8),
    ("佐々木", "ササキ", 7),
    ("山口", "ヤマグチ", 6),
    ("松本", "マツモト", 6),
    ("井上", "イノウエ", 6),
    ("木村", "キムラ", 6),
    ("林", "ハヤシ", 5),
    ("斎藤", "サイトウ", 5),
    ("清水", "シミズ", 5),
];

/// Given names (kanji, katakana) by sex.
pub const MALE_NAMES: [(&str, &str); 12] = [
    ("翔", "ショウ"),
    ("大輔", "ダイスケ"),
    ("健一", "ケンイチ"),
    ("誠", "マコト"),
    ("浩", "ヒロシ"),
    ("隆", "タカシ"),
    ("蓮", "レン"),
    ("陽翔", "ハルト"),
    ("茂", "シゲル"),
    ("和夫", "カズオ"),
    ("拓也", "タクヤ"),
    ("一郎", "イチロウ"),
];
pub const FEMALE_NAMES: [(&str, &str); 12] = [
    ("陽子", "ヨウコ"),
    ("恵子", "ケイコ"),
    ("美咲", "ミサキ"),
    ("花子", "ハナコ"),
    ("由美子", "ユミコ"),
    ("結衣", "ユイ"),
    ("陽菜", "ヒナ"),
    ("幸子", "サチコ"),
    ("真由美", "マユミ"),
    ("愛", "アイ"),
    ("久美子", "クミコ"),
    ("さくら", "サクラ"),
];

/// The age pyramid: population by 10-year band (0–9 … 90–99) in units of 100,000, 2020 census,
/// rounded.
pub const AGE_BANDS: [u32; 10] = [96, 110, 126, 143, 184, 162, 163, 162, 96, 25];

/// A condition: (MEDIS-form 病名管理番号 placeholder, name, ICD-10, minimum age, weight, chronic).
/// The 8-digit numbers are invented in the MEDIS form; the ICD-10 codes are real.
pub const CONDITIONS: [(&str, &str, &str, u32, u32, bool); 16] = [
    ("20051234", "2型糖尿病", "E11", 30, 60, true),
    ("20052345", "本態性高血圧症", "I10", 30, 100, true),
    ("20053456", "脂質異常症", "E785", 30, 70, true),
    ("20054567", "慢性腎臓病", "N189", 40, 25, true),
    ("20055678", "逆流性食道炎", "K210", 20, 30, false),
    ("20056789", "急性気管支炎", "J209", 0, 40, false),
    ("20057890", "骨粗鬆症", "M819", 55, 25, true),
    ("20058901", "白内障", "H269", 55, 25, true),
    ("20059012", "腰部脊柱管狭窄症", "M4806", 50, 15, true),
    ("20060123", "不眠症", "G470", 20, 20, false),
    ("20061234", "急性上気道炎", "J069", 0, 60, false),
    ("20062345", "アトピー性皮膚炎", "L209", 0, 20, true),
    ("20063456", "気管支喘息", "J459", 0, 20, true),
    ("20064567", "アレルギー性鼻炎", "J304", 0, 30, true),
    ("20065678", "狭心症", "I209", 45, 15, true),
    ("20066789", "心房細動", "I489", 50, 12, true),
];

/// Allergies: (category, JFAGY-form code, name, code system). `medication` ones get
/// criticality `high`.
pub const ALLERGIES: [(&str, &str, &str, &str, u32); 5] = [
    (
        "medication",
        "D9M000000000",
        "ペニシリン系抗菌薬",
        MED_ALLERGEN,
        30,
    ),
    (
        "medication",
        "D9M000000001",
        "セフェム系抗菌薬",
        MED_ALLERGEN,
        15,
    ),
    (
        "medication",
        "D9M000000002",
        "非ステロイド性抗炎症薬",
        MED_ALLERGEN,
        15,
    ),
    ("food", "D9F000000000", "そば", FOOD_ALLERGEN, 15),
    ("food", "D9F000000001", "卵", FOOD_ALLERGEN, 15),
];

pub const MED_ALLERGEN: &str =
    "http://jpfhir.jp/fhir/core/CodeSystem/YCM/JP_JfagyMedicationAllergen_CS";
pub const FOOD_ALLERGEN: &str = "http://jpfhir.jp/fhir/core/CodeSystem/JP_JfagyFoodAllergen_CS";

/// Departments (診療科 code, name), numbered as in the レセプト電算 診療科コード list that the
/// SS-MIX2 ClinicalDepartment code system follows (that code system is not in the IG packages,
/// so the codes are not checked against it).
pub const DEPARTMENTS: [(&str, &str); 6] = [
    ("01", "内科"),
    ("09", "小児科"),
    ("11", "整形外科"),
    ("26", "眼科"),
    ("19", "皮膚科"),
    ("40", "歯科"),
];

/// A laboratory item: (local code, local name, code system of the shared code, shared code,
/// its display, UCUM unit, reference low, reference high, decimals). The shared codes are the
/// 共有項目 codes the JP-CLINS examples use (CoreLabo code system) or, for eGFR, which is not a
/// 共有項目, the general JLAC10 code.
pub struct LabItem {
    pub local_code: &'static str,
    pub name: &'static str,
    pub system: &'static str,
    pub code: &'static str,
    pub display: &'static str,
    pub unit: &'static str,
    pub low: f64,
    pub high: f64,
    pub decimals: usize,
}

pub const CORE_LABO: &str =
    "http://jpfhir.jp/fhir/clins/CodeSystem/JLAC10/JP_CLINS_ObsLabResult_CoreLabo_CS";
pub const JLAC10: &str = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits";

pub const INFECTION_LABO: &str =
    "http://jpfhir.jp/fhir/clins/CodeSystem/JLAC10/JP_CLINS_ObsLabResult_InfectionLabo_CS";

/// Infection screening (感染症): qualitative results (an empty `unit` marks them), coded in the
/// InfectionLabo code system, which is what makes them 感染症 rather than 検査.
pub const INFECTION_ITEMS: [LabItem; 2] = [
    LabItem {
        local_code: "L-HBSAG",
        name: "HBs抗原（判定）",
        system: INFECTION_LABO,
        code: "5F016141002305111",
        display: "HBs-AG-RESULT",
        unit: "",
        low: 0.0,
        high: 0.0,
        decimals: 0,
    },
    LabItem {
        local_code: "L-TP",
        name: "梅毒TP抗体（判定）",
        system: INFECTION_LABO,
        code: "5E075135102311711",
        display: "TP-RESULT",
        unit: "",
        low: 0.0,
        high: 0.0,
        decimals: 0,
    },
];

pub const LAB_ITEMS: [LabItem; 4] = [
    LabItem {
        local_code: "L-HBA1C",
        name: "HbA1c（NGSP）",
        system: CORE_LABO,
        code: "3D046000001921002",
        display: "HbA1c-NGSP",
        unit: "%",
        low: 4.9,
        high: 6.0,
        decimals: 1,
    },
    LabItem {
        local_code: "L-K",
        name: "カリウム",
        system: CORE_LABO,
        code: "3H015000002326101",
        display: "K",
        unit: "mmol/L",
        low: 3.6,
        high: 4.8,
        decimals: 1,
    },
    LabItem {
        local_code: "L-ALB",
        name: "アルブミン",
        system: CORE_LABO,
        code: "3A015000001827101",
        display: "ALB",
        unit: "g/dL",
        low: 4.1,
        high: 5.1,
        decimals: 1,
    },
    LabItem {
        local_code: "L-EGFR",
        name: "eGFR",
        system: JLAC10,
        code: "8A065000002391901",
        display: "推算GFR",
        unit: "mL/min/{1.73_m2}",
        low: 60.0,
        high: 200.0,
        decimals: 0,
    },
];
