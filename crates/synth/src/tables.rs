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

/// Institutions (care providers), weighted by their national counts (service-rules.md §5):
/// hospitals 8,060, general clinics 105,207, dental clinics 66,378, pharmacies 62,828. §5 has no
/// count of stand-alone checkup centres (健診センター); 3,000 is our assumption. Insurers are
/// not drawn here: they follow the insurance schemes (see `insurers` in lib.rs).
pub const INSTITUTION_KINDS: [(InstitutionKind, u32); 5] = [
    (InstitutionKind::Hospital, 8_060),
    (InstitutionKind::Clinic, 105_207),
    (InstitutionKind::Dental, 66_378),
    (InstitutionKind::Pharmacy, 62_828),
    (InstitutionKind::CheckupCentre, 3_000),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstitutionKind {
    Hospital,
    Clinic,
    Dental,
    /// 保険薬局: submits nothing to the service.
    Pharmacy,
    /// Stand-alone 健診 facility: submits 健診結果報告書 only.
    CheckupCentre,
    /// 保険者: submits nothing (it receives 健診 results); its number is the 保険者番号.
    Insurer,
}

impl InstitutionKind {
    /// 点数表コード of the 医療機関番号 (1 医科, 2 非保険検診施設, 3 歯科, 4 調剤); insurers
    /// have none.
    pub fn fee_table(self) -> u8 {
        match self {
            InstitutionKind::Hospital | InstitutionKind::Clinic => 1,
            InstitutionKind::CheckupCentre => 2,
            InstitutionKind::Dental => 3,
            InstitutionKind::Pharmacy => 4,
            InstitutionKind::Insurer => 0,
        }
    }

    /// Hospitals, clinics and dental clinics: the institutions patients visit for care and
    /// that send 6情報 units.
    pub fn is_medical(self) -> bool {
        matches!(
            self,
            InstitutionKind::Hospital | InstitutionKind::Clinic | InstitutionKind::Dental
        )
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

/// Allergies: (category, JFAGY-form code, name, code system, weight). `medication` ones get
/// criticality `high`. The codes are the dummy codes of the JFAGY code systems or invented in
/// their form.
pub const ALLERGIES: [(&str, &str, &str, &str, u32); 8] = [
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
    (
        "environment",
        "D9N000000000",
        "スギ花粉",
        NONFOOD_ALLERGEN,
        12,
    ),
    (
        "environment",
        "D9N000000001",
        "ハウスダスト",
        NONFOOD_ALLERGEN,
        8,
    ),
    ("environment", "D9N000000002", "ネコ", NONFOOD_ALLERGEN, 4),
];

pub const MED_ALLERGEN: &str =
    "http://jpfhir.jp/fhir/core/CodeSystem/YCM/JP_JfagyMedicationAllergen_CS";
pub const FOOD_ALLERGEN: &str = "http://jpfhir.jp/fhir/core/CodeSystem/JP_JfagyFoodAllergen_CS";
pub const NONFOOD_ALLERGEN: &str =
    "http://jpfhir.jp/fhir/core/CodeSystem/JP_JfagyNonFoodNonMedicationAllergen_CS";

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

/// A prescribed drug: the 一般名処方マスタ code (YJ code's first 9 characters + `ZZZ`) and name,
/// a YJ code and product name, the MERIT-9 unit, the dose per intake, the usage (index into
/// `USAGES`) and the days supplied. The codes have the form of the masters (which are not
/// available offline) and are not checked against them; the product names carry the invented
/// maker 「架空」.
pub struct Drug {
    pub general_code: &'static str,
    pub general_name: &'static str,
    pub yj_code: &'static str,
    pub product_name: &'static str,
    /// MERIT-9 unit code and its Japanese name.
    pub unit: (&'static str, &'static str),
    pub dose: u32,
    pub usage: usize,
    pub days: u32,
}

const TAB: (&str, &str) = ("TAB", "錠");
const CAP: (&str, &str) = ("CAP", "カプセル");

/// Drugs by condition (index into `CONDITIONS`): the first drug of the condition's list is
/// prescribed while the condition is active. Conditions treated without an oral drug here
/// (慢性腎臓病, 白内障) have none.
pub const DRUGS: [(usize, Drug); 14] = [
    (
        0,
        Drug {
            general_code: "3962002F1ZZZ",
            general_name: "【般】メトホルミン塩酸塩錠２５０ｍｇ",
            yj_code: "3962002F1101",
            product_name: "メトホルミン塩酸塩錠２５０ｍｇ「架空」",
            unit: TAB,
            dose: 1,
            usage: 3,
            days: 28,
        },
    ),
    (
        1,
        Drug {
            general_code: "2171022F1ZZZ",
            general_name: "【般】アムロジピン錠５ｍｇ",
            yj_code: "2171022F1102",
            product_name: "アムロジピン錠５ｍｇ「架空」",
            unit: TAB,
            dose: 1,
            usage: 0,
            days: 28,
        },
    ),
    (
        2,
        Drug {
            general_code: "2189017F1ZZZ",
            general_name: "【般】ロスバスタチン錠２．５ｍｇ",
            yj_code: "2189017F1103",
            product_name: "ロスバスタチン錠２．５ｍｇ「架空」",
            unit: TAB,
            dose: 1,
            usage: 1,
            days: 28,
        },
    ),
    (
        4,
        Drug {
            general_code: "2329023F2ZZZ",
            general_name: "【般】ランソプラゾール腸溶性口腔内崩壊錠１５ｍｇ",
            yj_code: "2329023F2104",
            product_name: "ランソプラゾールＯＤ錠１５ｍｇ「架空」",
            unit: TAB,
            dose: 1,
            usage: 0,
            days: 28,
        },
    ),
    (
        5,
        Drug {
            general_code: "2233002F1ZZZ",
            general_name: "【般】カルボシステイン錠２５０ｍｇ",
            yj_code: "2233002F1105",
            product_name: "カルボシステイン錠２５０ｍｇ「架空」",
            unit: TAB,
            dose: 2,
            usage: 4,
            days: 7,
        },
    ),
    (
        6,
        Drug {
            general_code: "3112004M1ZZZ",
            general_name: "【般】エルデカルシトールカプセル０．７５μｇ",
            yj_code: "3112004M1106",
            product_name: "エルデカルシトールカプセル０．７５μｇ「架空」",
            unit: CAP,
            dose: 1,
            usage: 0,
            days: 28,
        },
    ),
    (
        8,
        Drug {
            general_code: "3399003F1ZZZ",
            general_name: "【般】リマプロストアルファデクス錠５μｇ",
            yj_code: "3399003F1107",
            product_name: "リマプロストアルファデクス錠５μｇ「架空」",
            unit: TAB,
            dose: 1,
            usage: 4,
            days: 28,
        },
    ),
    (
        9,
        Drug {
            general_code: "1129009F1ZZZ",
            general_name: "【般】ゾルピデム酒石酸塩錠５ｍｇ",
            yj_code: "1129009F1108",
            product_name: "ゾルピデム酒石酸塩錠５ｍｇ「架空」",
            unit: TAB,
            dose: 1,
            usage: 2,
            days: 14,
        },
    ),
    (
        10,
        Drug {
            general_code: "1141007F1ZZZ",
            general_name: "【般】アセトアミノフェン錠２００ｍｇ",
            yj_code: "1141007F1109",
            product_name: "アセトアミノフェン錠２００ｍｇ「架空」",
            unit: TAB,
            dose: 2,
            usage: 5,
            days: 5,
        },
    ),
    (
        11,
        Drug {
            general_code: "4490025F1ZZZ",
            general_name: "【般】オロパタジン塩酸塩錠５ｍｇ",
            yj_code: "4490025F1110",
            product_name: "オロパタジン塩酸塩錠５ｍｇ「架空」",
            unit: TAB,
            dose: 1,
            usage: 3,
            days: 14,
        },
    ),
    (
        12,
        Drug {
            general_code: "4490026F1ZZZ",
            general_name: "【般】モンテルカスト錠１０ｍｇ",
            yj_code: "4490026F1111",
            product_name: "モンテルカスト錠１０ｍｇ「架空」",
            unit: TAB,
            dose: 1,
            usage: 2,
            days: 28,
        },
    ),
    (
        13,
        Drug {
            general_code: "4490023F1ZZZ",
            general_name: "【般】フェキソフェナジン塩酸塩錠６０ｍｇ",
            yj_code: "4490023F1112",
            product_name: "フェキソフェナジン塩酸塩錠６０ｍｇ「架空」",
            unit: TAB,
            dose: 1,
            usage: 3,
            days: 14,
        },
    ),
    (
        14,
        Drug {
            general_code: "3399007H1ZZZ",
            general_name: "【般】アスピリン腸溶錠１００ｍｇ",
            yj_code: "3399007H1113",
            product_name: "アスピリン腸溶錠１００ｍｇ「架空」",
            unit: TAB,
            dose: 1,
            usage: 0,
            days: 28,
        },
    ),
    (
        15,
        Drug {
            general_code: "2123016F1ZZZ",
            general_name: "【般】ビソプロロールフマル酸塩錠２．５ｍｇ",
            yj_code: "2123016F1114",
            product_name: "ビソプロロールフマル酸塩錠２．５ｍｇ「架空」",
            unit: TAB,
            dose: 1,
            usage: 0,
            days: 28,
        },
    ),
];

/// Usages (用法): the JAMI 16-digit code, which the MHLW 電子処方箋用法コード shares, its
/// display, the intakes per day, and whether it is taken as needed (頓用). The digits follow the
/// code structure seen in the JP-CLINS examples: form (1 内服), 0, pattern (1 1日N回, 5 頓用),
/// intakes, then 就寝前 / 朝 / 昼 / 夕 (1 食前, 4 食後).
pub const USAGES: [(&str, &str, u32, bool); 6] = [
    ("1011040000000000", "内服・経口・１日１回朝食後", 1, false),
    ("1011000400000000", "内服・経口・１日１回夕食後", 1, false),
    ("1011100000000000", "内服・経口・１日１回就寝前", 1, false),
    ("1012040400000000", "内服・経口・１日２回朝夕食後", 2, false),
    (
        "1013044400000000",
        "内服・経口・１日３回朝昼夕食後",
        3,
        false,
    ),
    ("1050710000000000", "内服・経口・発熱時", 1, true),
];

/// One city per prefecture (the prefectural capital, or the central ward of Tokyo) with the
/// first three digits of its postal codes; patients and institutions get an address there.
pub const CITIES: [(&str, &str); 47] = [
    ("札幌市中央区", "060"),
    ("青森市", "030"),
    ("盛岡市", "020"),
    ("仙台市青葉区", "980"),
    ("秋田市", "010"),
    ("山形市", "990"),
    ("福島市", "960"),
    ("水戸市", "310"),
    ("宇都宮市", "320"),
    ("前橋市", "371"),
    ("さいたま市浦和区", "330"),
    ("千葉市中央区", "260"),
    ("新宿区", "160"),
    ("横浜市中区", "231"),
    ("新潟市中央区", "951"),
    ("富山市", "930"),
    ("金沢市", "920"),
    ("福井市", "910"),
    ("甲府市", "400"),
    ("長野市", "380"),
    ("岐阜市", "500"),
    ("静岡市葵区", "420"),
    ("名古屋市中区", "460"),
    ("津市", "514"),
    ("大津市", "520"),
    ("京都市中京区", "604"),
    ("大阪市北区", "530"),
    ("神戸市中央区", "650"),
    ("奈良市", "630"),
    ("和歌山市", "640"),
    ("鳥取市", "680"),
    ("松江市", "690"),
    ("岡山市北区", "700"),
    ("広島市中区", "730"),
    ("山口市", "753"),
    ("徳島市", "770"),
    ("高松市", "760"),
    ("松山市", "790"),
    ("高知市", "780"),
    ("福岡市中央区", "810"),
    ("佐賀市", "840"),
    ("長崎市", "850"),
    ("熊本市中央区", "860"),
    ("大分市", "870"),
    ("宮崎市", "880"),
    ("鹿児島市", "890"),
    ("那覇市", "900"),
];

/// Common town names for the street part of an address (invented block numbers follow).
pub const TOWNS: [&str; 12] = [
    "本町", "中央", "栄町", "緑町", "旭町", "幸町", "東町", "西町", "南町", "北町", "桜町", "新町",
];
