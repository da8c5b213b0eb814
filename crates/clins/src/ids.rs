//! Typed JP-CLINS identifiers: parse at the edge, then trust the value.
//!
//! Each `parse` either returns a value that satisfies the JP-CLINS rule or an [`IdError`] whose
//! Japanese and English messages say which part is wrong and how to fix it. Parsing never
//! panics, whatever the input.
//!
//! | type | JP-CLINS rule (spec digest §4.3) |
//! |---|---|
//! | [`InstitutionNumber`] | 医療機関番号: 都道府県番号 2 (01–47) + 点数表コード 1 (1–3) + 医療機関コード 7; regex `[0-4][0-9][1-3][0-9]{7}` |
//! | [`BundleId`] | `医療機関番号^発行年^施設内ID`; regex `^[0-4][0-9][1-3][0-9]{7}[\^]20[2-3][0-9][\^][A-Za-z0-9\-]{1,36}$` |
//! | [`InsuranceMemberId`] | 被保険者個人識別子 `保険者番号:記号:番号:枝番`; regex `^[0-9]{8}:[^:^\s^　]*:[^:^\s^　]*:(.{0}\|[0-9][0-9])$` plus the prose rules on character width |

use std::fmt;
use std::str::FromStr;

/// Why an identifier was rejected, in Japanese and English. Both say what is wrong and how to
/// fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdError {
    pub en: String,
    pub ja: String,
}

impl IdError {
    fn new(en: impl Into<String>, ja: impl Into<String>) -> Self {
        IdError {
            en: en.into(),
            ja: ja.into(),
        }
    }
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.ja, self.en)
    }
}

impl std::error::Error for IdError {}

/// Full-width digits `０`–`９`.
fn is_fullwidth_digit(c: char) -> bool {
    ('\u{FF10}'..='\u{FF19}').contains(&c)
}

/// Half-width: ASCII and half-width katakana (U+FF61–U+FF9F). Everything else (kana, kanji,
/// full-width Latin letters and digits) counts as full-width.
fn is_halfwidth(c: char) -> bool {
    c.is_ascii() || ('\u{FF61}'..='\u{FF9F}').contains(&c)
}

/// Folds full-width digits and Latin letters (U+FF10–U+FF19, U+FF21–U+FF3A, U+FF41–U+FF5A) to
/// ASCII; every other character is returned unchanged.
fn fold_fullwidth_alnum(c: char) -> char {
    let folds = ('\u{FF10}'..='\u{FF19}').contains(&c)
        || ('\u{FF21}'..='\u{FF3A}').contains(&c)
        || ('\u{FF41}'..='\u{FF5A}').contains(&c);
    if folds {
        char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
    } else {
        c
    }
}

// ---------------------------------------------------------------------------------------------
// 医療機関番号
// ---------------------------------------------------------------------------------------------

/// 点数表コード, the third digit of an institution number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FeeTable {
    /// 1: 医科
    Medical,
    /// 2: 非保険の健診施設 (checkup facility without insurance number)
    Checkup,
    /// 3: 歯科
    Dental,
}

impl FeeTable {
    pub fn code(self) -> u8 {
        match self {
            FeeTable::Medical => 1,
            FeeTable::Checkup => 2,
            FeeTable::Dental => 3,
        }
    }
}

/// 医療機関番号 (10 half-width digits): 都道府県番号 (01–47), 点数表コード (1–3), 医療機関コード (7).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstitutionNumber(String);

impl InstitutionNumber {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        const FIX_JA: &str = "医療機関番号は「都道府県番号2桁＋点数表コード1桁＋医療機関コード7桁」の半角数字10桁で指定してください（例: 1311234567）";
        const FIX_EN: &str = "an institution number is 10 half-width digits: prefecture (2) + fee table code (1) + institution code (7), e.g. 1311234567";
        if s.is_empty() {
            return Err(IdError::new(
                format!("the institution number is empty; {FIX_EN}"),
                format!("医療機関番号が空です。{FIX_JA}"),
            ));
        }
        if s.chars().any(is_fullwidth_digit) {
            return Err(IdError::new(
                format!("the institution number `{s}` contains full-width digits; {FIX_EN}"),
                format!("医療機関番号「{s}」に全角数字が含まれています。{FIX_JA}"),
            ));
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_digit()) {
            return Err(IdError::new(
                format!(
                    "the institution number `{s}` contains `{c}`; remove separators and spaces: {FIX_EN}"
                ),
                format!(
                    "医療機関番号「{s}」に数字以外の文字「{c}」が含まれています。区切り文字や空白を除き、{FIX_JA}"
                ),
            ));
        }
        let n = s.len();
        if n == 7 {
            return Err(IdError::new(
                format!(
                    "`{s}` has 7 digits, which is only the institution code (医療機関コード); prefix it with the 2-digit prefecture number and the fee table code: {FIX_EN}"
                ),
                format!(
                    "「{s}」は7桁で、医療機関コードのみです。先頭に都道府県番号2桁と点数表コード1桁を付けてください。{FIX_JA}"
                ),
            ));
        }
        if n != 10 {
            return Err(IdError::new(
                format!("the institution number `{s}` has {n} digits instead of 10; {FIX_EN}"),
                format!("医療機関番号「{s}」が{n}桁です（10桁必要）。{FIX_JA}"),
            ));
        }
        let pref = &s[0..2];
        let pref_no: u8 = pref.parse().unwrap_or(0);
        if !(1..=47).contains(&pref_no) {
            return Err(IdError::new(
                format!(
                    "the prefecture number (first 2 digits) of `{s}` is {pref}; it must be 01 (Hokkaido) to 47 (Okinawa)"
                ),
                format!(
                    "医療機関番号「{s}」の都道府県番号（先頭2桁）が{pref}です。01（北海道）〜47（沖縄県）で指定してください"
                ),
            ));
        }
        let table = &s[2..3];
        if !matches!(table, "1" | "2" | "3") {
            return Err(IdError::new(
                format!(
                    "the fee table code (3rd digit) of `{s}` is {table}; JP-CLINS accepts 1 (medical), 2 (checkup facility) or 3 (dental) (rule [0-4][0-9][1-3][0-9]{{7}})"
                ),
                format!(
                    "医療機関番号「{s}」の点数表コード（3桁目）が{table}です。1（医科）、2（非保険の健診施設）、3（歯科）のいずれかで指定してください（検証規則 [0-4][0-9][1-3][0-9]{{7}}）"
                ),
            ));
        }
        Ok(InstitutionNumber(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// 都道府県番号, 1–47.
    pub fn prefecture(&self) -> u8 {
        self.0.get(0..2).and_then(|p| p.parse().ok()).unwrap_or(0)
    }
    /// 点数表コード.
    pub fn fee_table(&self) -> FeeTable {
        match self.0.get(2..3) {
            Some("2") => FeeTable::Checkup,
            Some("3") => FeeTable::Dental,
            _ => FeeTable::Medical,
        }
    }
    /// 医療機関コード (the last 7 digits).
    pub fn institution_code(&self) -> &str {
        self.0.get(3..).unwrap_or("")
    }
}

impl fmt::Display for InstitutionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for InstitutionNumber {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Bundle-ID
// ---------------------------------------------------------------------------------------------

/// Bundle-ID (`Bundle.identifier.value` with system `http://jpfhir.jp/fhir/clins/bundle-identifier`):
/// `<医療機関番号 10>^<発行年 2020–2039>^<施設内ID, 1–36 of [A-Za-z0-9-]>`.
///
/// The older hyphen-joined form (`1311234567-2024-000123`, as still used by
/// `Composition.identifier` in the IG examples) is rejected (DECISIONS.md "Bundle-ID format").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BundleId {
    institution: InstitutionNumber,
    year: u16,
    local_id: String,
}

impl BundleId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let fail = |en: String, ja: String| {
            IdError::new(
                format!(
                    "invalid Bundle-ID ({en}); write `<institution number, 10 digits>^<year issued, 4 digits>^<local id, 1-36 characters A-Z a-z 0-9 ->` joined by half-width `^`, e.g. 1311234567^2024^000123"
                ),
                format!(
                    "Bundle-IDの形式が不正です（{ja}）。「医療機関番号10桁^発行年4桁^施設内ID」で指定してください（例: 1311234567^2024^000123）"
                ),
            )
        };
        if s.is_empty() {
            return Err(fail("it is empty".into(), "空です".into()));
        }
        if s.contains('＾') {
            return Err(fail(
                format!("`{s}` uses the full-width `＾`; use the half-width `^`"),
                format!("「{s}」に全角の「＾」が使われています。区切りは半角の「^」です"),
            ));
        }
        let parts: Vec<&str> = s.split('^').collect();
        if parts.len() == 1 {
            let hyphen_parts: Vec<&str> = s.split('-').collect();
            if hyphen_parts.len() >= 3 && InstitutionNumber::parse(hyphen_parts[0]).is_ok() {
                return Err(fail(
                    format!(
                        "`{s}` is the old hyphen-joined form, which is no longer accepted; the separator is `^`"
                    ),
                    format!(
                        "「{s}」はハイフン区切りの旧形式で、現在は受け付けません。区切り文字は半角の「^」です"
                    ),
                ));
            }
            return Err(fail(
                format!("`{s}` has no `^` separator"),
                format!("「{s}」に区切り文字「^」がありません"),
            ));
        }
        if parts.len() != 3 {
            let n = parts.len();
            return Err(fail(
                format!("`{s}` has {n} parts separated by `^`; exactly 3 are required"),
                format!("「{s}」は「^」で区切られた項目が{n}個です（3個必要）"),
            ));
        }
        let institution = InstitutionNumber::parse(parts[0]).map_err(|e| {
            fail(
                format!("institution number part: {}", e.en),
                format!("医療機関番号の部分: {}", e.ja),
            )
        })?;
        let year_text = parts[1];
        let year_ok = year_text.len() == 4 && year_text.bytes().all(|b| b.is_ascii_digit());
        let year: u16 = if year_ok {
            year_text.parse().unwrap_or(0)
        } else {
            0
        };
        if !(2020..=2039).contains(&year) {
            return Err(fail(
                format!(
                    "the year part `{year_text}` must be the 4-digit year the bundle was issued, 2020 to 2039"
                ),
                format!(
                    "発行年の部分「{year_text}」が不正です。発行した年を西暦の半角数字4桁（2020〜2039）で指定してください"
                ),
            ));
        }
        let local = parts[2];
        if local.is_empty() {
            return Err(fail(
                "the local id part (after the second `^`) is empty".into(),
                "施設内IDの部分（2つ目の「^」の後）が空です".into(),
            ));
        }
        if let Some(c) = local
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(fail(
                format!(
                    "the local id `{local}` contains `{c}`; only half-width A-Z, a-z, 0-9 and `-` are allowed"
                ),
                format!(
                    "施設内ID「{local}」に使えない文字「{c}」があります。半角英数字とハイフン「-」のみ使えます"
                ),
            ));
        }
        if local.len() > 36 {
            let n = local.len();
            return Err(fail(
                format!("the local id has {n} characters; at most 36 are allowed"),
                format!("施設内IDが{n}文字です。36文字以内にしてください"),
            ));
        }
        Ok(BundleId {
            institution,
            year,
            local_id: local.to_string(),
        })
    }

    /// The issuing institution (first part).
    pub fn institution(&self) -> &InstitutionNumber {
        &self.institution
    }
    /// 発行年 (2020–2039).
    pub fn year(&self) -> u16 {
        self.year
    }
    /// 施設内ID, unique among the bundles the institution sends in that year.
    pub fn local_id(&self) -> &str {
        &self.local_id
    }
}

impl fmt::Display for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}^{}^{}", self.institution, self.year, self.local_id)
    }
}

impl FromStr for BundleId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// 被保険者個人識別子
// ---------------------------------------------------------------------------------------------

/// 被保険者個人識別子 (`Patient.identifier` with system
/// `http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID`):
/// `保険者番号:記号:番号:枝番`, e.g. `00012345:あいう:１８７:05` or `00012345::１８７:`.
///
/// - 保険者番号: exactly 8 half-width digits (shorter numbers are left-padded with `0`). The IG
///   prose says "alphanumeric" but the invariant (R1013) allows digits only; digits only it is.
/// - 記号 (may be empty) and 番号 (required): written as on the insurance card, each either all
///   half-width or all full-width, never mixed; no spaces (half- or full-width), no `:` or `^`.
/// - 枝番: empty or exactly 2 half-width digits. The IG says not to write `00` when there is no
///   枝番, but `00` is two digits and matches the invariant, so it parses; it is kept as `00`
///   (a real 枝番 `00` cannot be told apart from a wrongly filled-in empty one).
/// - The trailing `:` is mandatory: the value always has exactly three half-width colons.
///
/// Equality compares the value as written; use [`InsuranceMemberId::normalized`] as the
/// master-patient-index key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InsuranceMemberId {
    raw: String,
    /// Byte offsets of the three colons.
    colons: [usize; 3],
}

const MEMBER_ID_FORM_JA: &str =
    "「保険者番号:記号:番号:枝番」の形で指定してください（例: 00012345:あいう:１８７:05、記号・枝番なし: 00012345::１８７:）";
const MEMBER_ID_FORM_EN: &str =
    "write `insurer number:symbol:number:branch`, e.g. `00012345:あいう:１８７:05`, or `00012345::１８７:` without symbol and branch";

impl InsuranceMemberId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        Self::parse_with(s, true)
    }

    /// A member id as written on a card ([`InsuranceMemberId::parse`]), or a
    /// master-patient-index key ([`InsuranceMemberId::normalized`]) as the hub hands it out
    /// (in links, in the audit trail): folding full-width digits can leave a key that mixes
    /// widths (`あ１` becomes `あ1`), which a card never does, but which is the same patient.
    pub fn parse_key(s: &str) -> Result<Self, IdError> {
        match Self::parse_with(s, true) {
            Ok(id) => Ok(id),
            Err(e) => match Self::parse_with(s, false) {
                Ok(id) if id.normalized() == s => Ok(id),
                _ => Err(e),
            },
        }
    }

    fn parse_with(s: &str, strict_width: bool) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::new(
                format!("the insurance member id is empty; {MEMBER_ID_FORM_EN}"),
                format!("被保険者個人識別子が空です。{MEMBER_ID_FORM_JA}"),
            ));
        }
        let positions: Vec<usize> = s.match_indices(':').map(|(i, _)| i).collect();
        if positions.len() != 3 {
            let n = positions.len();
            if s.contains('：') {
                return Err(IdError::new(
                    format!(
                        "`{s}` uses the full-width colon `：` as a separator; separate the four parts with half-width `:`; {MEMBER_ID_FORM_EN}"
                    ),
                    format!(
                        "「{s}」の区切りに全角コロン「：」が使われています。4つの項目は半角コロン「:」で区切ってください。{MEMBER_ID_FORM_JA}"
                    ),
                ));
            }
            if n < 3 {
                return Err(IdError::new(
                    format!(
                        "`{s}` has {n} half-width colons; exactly 3 are required, including the trailing colon when there is no branch number; {MEMBER_ID_FORM_EN}"
                    ),
                    format!(
                        "「{s}」の半角コロンが{n}個です。3個必要です（枝番がない場合も末尾のコロンは省略できません）。{MEMBER_ID_FORM_JA}"
                    ),
                ));
            }
            return Err(IdError::new(
                format!(
                    "`{s}` has {n} half-width colons; exactly 3 are allowed (the symbol and number must not contain `:`); {MEMBER_ID_FORM_EN}"
                ),
                format!(
                    "「{s}」の半角コロンが{n}個です。3個だけにしてください（記号・番号にコロンは使えません）。{MEMBER_ID_FORM_JA}"
                ),
            ));
        }
        let colons = [positions[0], positions[1], positions[2]];
        let id = InsuranceMemberId {
            raw: s.to_string(),
            colons,
        };
        check_insurer_number(id.insurer_number())?;
        check_card_part(id.symbol(), "記号", "symbol", true, strict_width)?;
        check_card_part(id.number(), "番号", "number", false, strict_width)?;
        check_branch(id.branch_raw())?;
        Ok(id)
    }

    fn slice(&self, from: usize, to: usize) -> &str {
        self.raw.get(from..to).unwrap_or("")
    }
    /// The value as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    /// 保険者番号 (8 digits).
    pub fn insurer_number(&self) -> &str {
        self.slice(0, self.colons[0])
    }
    /// 記号, possibly empty.
    pub fn symbol(&self) -> &str {
        self.slice(self.colons[0] + 1, self.colons[1])
    }
    /// 番号.
    pub fn number(&self) -> &str {
        self.slice(self.colons[1] + 1, self.colons[2])
    }
    fn branch_raw(&self) -> &str {
        self.slice(self.colons[2] + 1, self.raw.len())
    }
    /// 枝番 (2 digits), `None` when empty.
    pub fn branch(&self) -> Option<&str> {
        Some(self.branch_raw()).filter(|b| !b.is_empty())
    }
    /// The master-patient-index key: full-width digits and Latin letters in 記号 and 番号 folded
    /// to half-width; kana and kanji stay as they are.
    /// `00012345:あいう:１８７:05` → `00012345:あいう:187:05`.
    pub fn normalized(&self) -> String {
        let fold = |s: &str| s.chars().map(fold_fullwidth_alnum).collect::<String>();
        format!(
            "{}:{}:{}:{}",
            self.insurer_number(),
            fold(self.symbol()),
            fold(self.number()),
            self.branch_raw()
        )
    }
}

fn check_insurer_number(p: &str) -> Result<(), IdError> {
    const FIX_JA: &str = "保険者番号は半角数字8桁で指定してください（8桁未満の場合は先頭を0で埋めます。例: 国民健康保険の 123456 → 00123456）";
    const FIX_EN: &str = "the insurer number is exactly 8 half-width digits (left-pad shorter numbers with 0, e.g. 123456 → 00123456)";
    if p.is_empty() {
        return Err(IdError::new(
            format!("the insurer number (1st part) is empty; {FIX_EN}"),
            format!("保険者番号（1番目の項目）が空です。{FIX_JA}"),
        ));
    }
    if p.chars().any(is_fullwidth_digit) {
        return Err(IdError::new(
            format!("the insurer number `{p}` contains full-width digits; {FIX_EN}"),
            format!("保険者番号「{p}」に全角数字が含まれています。{FIX_JA}"),
        ));
    }
    if let Some(c) = p.chars().find(|c| !c.is_ascii_digit()) {
        return Err(IdError::new(
            format!(
                "the insurer number `{p}` contains `{c}`; the JP-CLINS rule allows digits only (no letters, spaces or hyphens); {FIX_EN}"
            ),
            format!(
                "保険者番号「{p}」に数字以外の文字「{c}」が含まれています。JP-CLINSの検証規則では数字のみ使えます（英字・空白・ハイフン不可）。{FIX_JA}"
            ),
        ));
    }
    let n = p.len();
    if n != 8 {
        return Err(IdError::new(
            format!("the insurer number `{p}` has {n} digits; {FIX_EN}"),
            format!("保険者番号「{p}」が{n}桁です。{FIX_JA}"),
        ));
    }
    Ok(())
}

/// The characters a 記号 or 番号 may hold: what an insurance card prints — digits and Latin
/// letters (half- or full-width), `-`/`－`, hiragana, katakana (and half-width katakana), `ー`,
/// `・` and kanji. Nothing invisible (zero-width, bidi controls, BOM), no combining mark, no
/// digit of another script: a value that displays like another must not become another
/// patient. Every allowed character is stable under Unicode normalisation (NFC and NFKC
/// compose nothing into it), so an accepted value is already in NFC.
fn card_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || c == '-'
        || matches!(c,
            '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' | '\u{FF0D}'
            | '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}' | '\u{30FB}' | '\u{30FC}'
            | '\u{FF66}'..='\u{FF9F}'
            | '\u{3005}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}')
}

/// 記号 / 番号: as on the card, all half-width or all full-width, no spaces, no `^`.
fn check_card_part(
    p: &str,
    ja: &str,
    en: &str,
    may_be_empty: bool,
    strict_width: bool,
) -> Result<(), IdError> {
    if p.is_empty() {
        if may_be_empty {
            return Ok(());
        }
        return Err(IdError::new(
            format!(
                "the insured person's {en} (3rd part) is empty; it is required; {MEMBER_ID_FORM_EN}"
            ),
            format!("{ja}（3番目の項目）が空です。{ja}は必須です。{MEMBER_ID_FORM_JA}"),
        ));
    }
    if p.chars().any(char::is_whitespace) {
        return Err(IdError::new(
            format!("the {en} `{p}` contains a space (half- or full-width); remove all spaces"),
            format!(
                "{ja}「{p}」に空白（半角または全角スペース）が含まれています。空白を除いてください"
            ),
        ));
    }
    if let Some(c) = p.chars().find(|c| !card_char(*c)) {
        let invisible = c.is_control()
            || matches!(c, '\u{0300}'..='\u{036F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}' | '\u{3099}' | '\u{309A}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}');
        let shown = if invisible {
            format!("U+{:04X}", u32::from(c))
        } else {
            format!("「{c}」(U+{:04X})", u32::from(c))
        };
        let (hint_en, hint_ja) = if ('\u{0300}'..='\u{036F}').contains(&c)
            || ('\u{3099}'..='\u{309A}').contains(&c)
        {
            (
                " (a combining mark: write the composed character, e.g. が rather than か + ゛)",
                "（結合文字です。「か＋゛」ではなく「が」のように合成済みの文字で記載してください）",
            )
        } else {
            ("", "")
        };
        return Err(IdError::new(
            format!("the {en} `{p}` contains the character {shown}, which is not allowed{hint_en}; use digits, Latin letters, kana and kanji as printed on the card"),
            format!("{ja}「{p}」に使えない文字{shown}が含まれています{hint_ja}。保険証に記載の数字・英字・かな・漢字で記載してください"),
        ));
    }
    let half = p.chars().any(is_halfwidth);
    let full = p.chars().any(|c| !is_halfwidth(c));
    if strict_width && half && full {
        return Err(IdError::new(
            format!(
                "the {en} `{p}` mixes half-width and full-width characters; write it all in half-width or all in full-width, as on the insurance card"
            ),
            format!(
                "{ja}「{p}」に半角文字と全角文字が混在しています。すべて半角、またはすべて全角で記載してください（保険証の表記どおり）"
            ),
        ));
    }
    Ok(())
}

fn check_branch(p: &str) -> Result<(), IdError> {
    if p.is_empty() {
        return Ok(());
    }
    if p.chars().any(is_fullwidth_digit) {
        return Err(IdError::new(
            format!("the branch number `{p}` is full-width; write it as 2 half-width digits"),
            format!("枝番「{p}」が全角です。半角数字2桁で指定してください"),
        ));
    }
    if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::new(
            format!(
                "the branch number (4th part) `{p}` must be 2 half-width digits, or empty when there is none (keep the trailing colon, do not write 00)"
            ),
            format!(
                "枝番（4番目の項目）「{p}」が不正です。半角数字2桁で指定してください。枝番がない場合は空にし（00は書かない）、末尾のコロンは残してください"
            ),
        ));
    }
    Ok(())
}

impl fmt::Display for InsuranceMemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for InsuranceMemberId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One person stays one patient: characters that display like others (invisible ones,
    /// bidi controls, combining marks, digits of other scripts) are refused, so no second
    /// member id can look like an existing one.
    #[test]
    fn keys_parse_back_even_where_folding_mixes_widths() {
        for card in [
            "00012345:あ１:１８輗:05",
            "00012345:ＡＢ:１８７:",
            "00012345:あいう:187:05",
        ] {
            let id = InsuranceMemberId::parse(card).unwrap();
            let key = id.normalized();
            let back = InsuranceMemberId::parse_key(&key).unwrap();
            assert_eq!(back.normalized(), key, "{card}");
            assert_eq!(
                InsuranceMemberId::parse_key(card).unwrap().normalized(),
                key
            );
        }
        // A mix that is not a key stays refused, with the card rule's message.
        let e = InsuranceMemberId::parse_key("00012345:あいa:１８７:05").unwrap_err();
        assert!(e.en.contains("mixes"), "{}", e.en);
        assert!(InsuranceMemberId::parse("00012345:あ1:18:05").is_err());
    }

    #[test]
    fn member_id_lookalikes_are_refused() {
        let base = "00012345:あいう:１８７:05";
        let ok = InsuranceMemberId::parse(base).unwrap();
        for bad in [
            "00012345:あいう\u{200B}:１８７:05",
            "00012345:\u{FEFF}あいう:１８７:05",
            "00012345:あいう:１８７\u{202E}:05",
            "00012345:かか\u{3099}:１８７:05",
            "00012345:abc\u{0301}:187:05",
            "00012345::\u{1D7CF}\u{1D7D6}\u{1D7D5}:05",
            "00012345::\u{0661}\u{0668}\u{0667}:05",
            "00012345::１８７\u{FE0F}:05",
            "00012345::\u{2460}:05",
            "00012345::187%:05",
        ] {
            let e = InsuranceMemberId::parse(bad).expect_err(bad);
            assert!(e.en.contains("not allowed"), "{bad}: {}", e.en);
        }
        // What the card prints stays accepted, and full-width digits still fold.
        for good in [
            "00012345:ガギ・ー:１８７:",
            "00012345:ｶﾞｷﾞ:187:",
            "00012345:東京々:A-12:",
            "00012345::ＡＢ１２:",
        ] {
            InsuranceMemberId::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        assert_eq!(
            InsuranceMemberId::parse("00012345:あいう:187:05")
                .unwrap()
                .normalized(),
            ok.normalized()
        );
    }

    // ---- InstitutionNumber ------------------------------------------------------------------

    #[test]
    fn institution_number_valid() {
        for (s, pref, table, code) in [
            ("1311234567", 13, FeeTable::Medical, "1234567"),
            ("1318814790", 13, FeeTable::Medical, "8814790"),
            ("0121234567", 1, FeeTable::Checkup, "1234567"),
            ("4730000001", 47, FeeTable::Dental, "0000001"),
        ] {
            let n = InstitutionNumber::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(n.as_str(), s);
            assert_eq!(n.to_string(), s);
            assert_eq!(n.prefecture(), pref, "{s}");
            assert_eq!(n.fee_table(), table, "{s}");
            assert_eq!(n.institution_code(), code, "{s}");
        }
        assert_eq!(FeeTable::Dental.code(), 3);
        assert!("1311234567".parse::<InstitutionNumber>().is_ok());
    }

    #[test]
    fn institution_number_invalid() {
        // (input, fragment expected in the Japanese message, fragment in the English message)
        let cases: &[(&str, &str, &str)] = &[
            ("", "空です", "empty"),
            ("１３１１２３４５６７", "全角数字", "full-width"),
            ("131-1234567", "数字以外の文字「-」", "contains `-`"),
            (" 1311234567", "数字以外の文字「 」", "contains ` `"),
            ("1234567", "医療機関コードのみ", "only the institution code"),
            ("131123456", "9桁", "9 digits"),
            ("13112345678", "11桁", "11 digits"),
            ("0011234567", "都道府県番号（先頭2桁）が00", "prefecture"),
            (
                "4811234567",
                "都道府県番号（先頭2桁）が48",
                "01 (Hokkaido) to 47",
            ),
            ("9911234567", "都道府県番号", "prefecture"),
            ("1341234567", "点数表コード（3桁目）が4", "fee table code"),
            ("1301234567", "点数表コード（3桁目）が0", "fee table code"),
            ("1361234567", "点数表コード", "fee table"),
        ];
        for (s, ja, en) in cases {
            let e = InstitutionNumber::parse(s).expect_err(s);
            assert!(e.ja.contains(ja), "{s}: {}", e.ja);
            assert!(e.en.contains(en), "{s}: {}", e.en);
        }
    }

    // ---- BundleId ---------------------------------------------------------------------------

    #[test]
    fn bundle_id_valid() {
        for (s, inst, year, local) in [
            ("1311234567^2024^000123", "1311234567", 2024, "000123"),
            (
                "1318814790^2024^0123-IDa-203949583949",
                "1318814790",
                2024,
                "0123-IDa-203949583949",
            ),
            ("1311234567^2020^a", "1311234567", 2020, "a"),
            (
                "1311234567^2039^ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                "1311234567",
                2039,
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            ),
        ] {
            let id = BundleId::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(id.institution().as_str(), inst);
            assert_eq!(id.year(), year);
            assert_eq!(id.local_id(), local);
            assert_eq!(id.to_string(), s);
        }
    }

    #[test]
    fn bundle_id_invalid() {
        let cases: &[(&str, &str)] = &[
            ("", "空です"),
            ("1311234567-2024-000123", "ハイフン区切りの旧形式"),
            ("1311234567＾2024＾000123", "全角の「＾」"),
            ("000123", "区切り文字「^」がありません"),
            ("1311234567^2024", "項目が2個"),
            ("1311234567^2024^1^2", "項目が4個"),
            ("131123456^2024^000123", "医療機関番号の部分"),
            ("1341234567^2024^000123", "点数表コード"),
            ("1311234567^2019^000123", "発行年の部分「2019」"),
            ("1311234567^2040^000123", "発行年の部分「2040」"),
            ("1311234567^24^000123", "発行年の部分「24」"),
            ("1311234567^２０２４^000123", "発行年"),
            ("1311234567^2024^", "施設内IDの部分"),
            ("1311234567^2024^abc_def", "使えない文字「_」"),
            ("1311234567^2024^ｘ", "使えない文字「ｘ」"),
            (
                "1311234567^2024^ABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890",
                "37文字",
            ),
        ];
        for (s, ja) in cases {
            let e = BundleId::parse(s).expect_err(s);
            assert!(e.ja.contains(ja), "{s}: {}", e.ja);
            // Every message shows the expected form and an example.
            assert!(
                e.ja.contains("医療機関番号10桁^発行年4桁^施設内ID"),
                "{}",
                e.ja
            );
            assert!(e.ja.contains("1311234567^2024^000123"), "{}", e.ja);
            assert!(e.en.contains("1311234567^2024^000123"), "{}", e.en);
        }
    }

    // ---- InsuranceMemberId ------------------------------------------------------------------

    #[test]
    fn insurance_member_id_valid() {
        // (input, 記号, 番号, 枝番, normalized)
        let cases: &[(&str, &str, &str, Option<&str>, &str)] = &[
            (
                "00012345:あいう:１８７:05",
                "あいう",
                "１８７",
                Some("05"),
                "00012345:あいう:187:05",
            ),
            ("00012345::１８７:", "", "１８７", None, "00012345::187:"),
            (
                "00012345:あいう:３８７４７６:01",
                "あいう",
                "３８７４７６",
                Some("01"),
                "00012345:あいう:387476:01",
            ),
            // all half-width
            (
                "06123456:12345:67890:01",
                "12345",
                "67890",
                Some("01"),
                "06123456:12345:67890:01",
            ),
            // full-width letters fold to ASCII, kanji stays
            (
                "06123456:ＡＢ漢:９Ｚ:",
                "ＡＢ漢",
                "９Ｚ",
                None,
                "06123456:AB漢:9Z:",
            ),
            // half-width katakana counts as half-width, mixed with ASCII is fine
            (
                "06123456:ｱｲ12:345:",
                "ｱｲ12",
                "345",
                None,
                "06123456:ｱｲ12:345:",
            ),
            // 枝番 00 is two digits: it parses (the IG says not to write it when absent)
            (
                "00012345::187:00",
                "",
                "187",
                Some("00"),
                "00012345::187:00",
            ),
            // hyphens inside 記号 are allowed by the invariant
            ("00012345:A-1:187:", "A-1", "187", None, "00012345:A-1:187:"),
        ];
        for (s, sym, num, branch, norm) in cases {
            let id = InsuranceMemberId::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(id.insurer_number().len(), 8);
            assert_eq!(id.symbol(), *sym, "{s}");
            assert_eq!(id.number(), *num, "{s}");
            assert_eq!(id.branch(), *branch, "{s}");
            assert_eq!(id.normalized(), *norm, "{s}");
            assert_eq!(id.to_string(), *s);
            assert_eq!(id.as_str(), *s);
        }
    }

    #[test]
    fn insurance_member_ids_differing_in_width_share_a_key() {
        let a = InsuranceMemberId::parse("00012345:あいう:１８７:05");
        let b = InsuranceMemberId::parse("00012345:あいう:187:05");
        let (Ok(a), Ok(b)) = (a, b) else {
            panic!("both parse")
        };
        assert_ne!(a, b);
        assert_eq!(a.normalized(), b.normalized());
    }

    #[test]
    fn insurance_member_id_invalid() {
        // (input, fragment of the Japanese message, fragment of the English message)
        let cases: &[(&str, &str, &str)] = &[
            ("", "空です", "empty"),
            // colons
            ("00012345:あいう:１８７", "半角コロンが2個", "exactly 3"),
            ("00012345:あいう", "半角コロンが1個", "trailing colon"),
            ("00012345", "半角コロンが0個", "3 are required"),
            (
                "00012345:あ:い:う:05",
                "半角コロンが4個",
                "must not contain",
            ),
            (
                "00012345：あいう：１８７：05",
                "全角コロン",
                "full-width colon",
            ),
            // 保険者番号
            (
                ":あいう:１８７:05",
                "保険者番号（1番目の項目）が空",
                "insurer number",
            ),
            ("123456:あいう:１８７:05", "6桁", "left-pad"),
            ("000123456:あいう:１８７:05", "9桁", "exactly 8"),
            (
                "０００１２３４５:あいう:１８７:05",
                "全角数字",
                "full-width",
            ),
            ("0001234A:あいう:１８７:05", "数字のみ", "digits only"),
            (
                "0001 345:あいう:１８７:05",
                "数字以外の文字「 」",
                "digits only",
            ),
            // 記号
            ("00012345:あ い:１８７:05", "記号「あ い」に空白", "space"),
            ("00012345:あ　い:１８７:05", "全角スペース", "space"),
            (
                "00012345:あいa:１８７:05",
                "記号「あいa」に半角文字と全角文字が混在",
                "mixes",
            ),
            ("00012345:a^b:１８７:05", "使えない文字「^」", "not allowed"),
            // 番号
            ("00012345:あいう::05", "番号（3番目の項目）が空", "required"),
            (
                "00012345:あいう:１８7:05",
                "番号「１８7」に半角文字と全角文字が混在",
                "mixes",
            ),
            ("00012345:あいう:187 :05", "番号「187 」に空白", "space"),
            ("00012345:あいう:1\t87:05", "空白", "space"),
            // 枝番
            (
                "00012345:あいう:１８７:5",
                "枝番（4番目の項目）「5」",
                "2 half-width digits",
            ),
            ("00012345:あいう:１８７:005", "枝番", "2 half-width digits"),
            (
                "00012345:あいう:１８７:０５",
                "枝番「０５」が全角",
                "full-width",
            ),
            (
                "00012345:あいう:１８７:ab",
                "00は書かない",
                "do not write 00",
            ),
        ];
        for (s, ja, en) in cases {
            let e = InsuranceMemberId::parse(s).expect_err(s);
            assert!(e.ja.contains(ja), "{s}: {}", e.ja);
            assert!(e.en.contains(en), "{s}: {}", e.en);
        }
    }

    #[test]
    fn parsers_never_panic_on_odd_input() {
        let odd = [
            "\u{0}",
            "::::",
            ":::",
            "^^",
            "^^^",
            "🙂🙂🙂",
            "1311234567^2024^🙂",
            "𠮷:𠮷:𠮷:𠮷",
            "0001234\u{FF10}:::",
            "\u{FF10}\u{FF10}",
            "13\u{301}11234567",
        ];
        for s in odd {
            let _ = InstitutionNumber::parse(s);
            let _ = BundleId::parse(s);
            let _ = InsuranceMemberId::parse(s);
        }
        // a folded member id round-trips through parse
        if let Ok(id) = InsuranceMemberId::parse(":::") {
            panic!("must not parse: {id}");
        }
    }

    #[test]
    fn width_helpers() {
        assert_eq!(fold_fullwidth_alnum('１'), '1');
        assert_eq!(fold_fullwidth_alnum('Ａ'), 'A');
        assert_eq!(fold_fullwidth_alnum('ｚ'), 'z');
        assert_eq!(fold_fullwidth_alnum('あ'), 'あ');
        assert_eq!(fold_fullwidth_alnum('－'), '－');
        assert!(is_halfwidth('ｱ'));
        assert!(!is_halfwidth('ア'));
    }
}
