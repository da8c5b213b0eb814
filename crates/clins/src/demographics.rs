//! The 4 情報 (name, date of birth, sex, address) of a Patient, normalised for identification
//! in an emergency or a disaster (service-rules.md §1.8, §1.9): all four are required; the name
//! is compared without spaces and with full-width letters and digits folded; the address is
//! compared after the prefecture "loosely": spaces, full-width digits and the ways of writing
//! 丁目・番地・号 and dashes do not matter, and one may be a shorter form of the other.

use fhir::json::Value;

/// The 47 prefectures, in 都道府県番号 order.
pub const PREFECTURES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

/// Folds full-width ASCII (letters, digits, signs) to half-width and Latin letters to lower
/// case, and drops every kind of white space.
fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// A name as compared: no spaces, full-width letters and digits folded.
pub fn name_key(name: &str) -> String {
    fold(name)
}

/// An address as compared: (都道府県番号 when it starts with a prefecture, the rest folded).
/// In the rest, 丁目, 番地, 番 and the dashes all read `-`, and 号 is dropped.
pub fn address_key(address: &str) -> (Option<u8>, String) {
    let folded = fold(address);
    let (pref, rest) = PREFECTURES
        .iter()
        .enumerate()
        .find_map(|(i, p)| folded.strip_prefix(p).map(|r| (Some(i as u8 + 1), r)))
        .unwrap_or((None, folded.as_str()));
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '丁' if chars.peek() == Some(&'目') => {
                chars.next();
                out.push('-');
            }
            '番' => {
                if chars.peek() == Some(&'地') {
                    chars.next();
                }
                out.push('-');
            }
            '号' => {}
            '-' | '‐' | '‑' | '–' | '—' | '―' | '−' | 'ー' | '－' => out.push('-'),
            _ => out.push(c),
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    (pref, out)
}

/// Whether a searched address matches a stored one: the same prefecture when both name one,
/// and the rest of one a prefix of the other's (at least two characters).
pub fn address_matches(query: &str, stored: &str) -> bool {
    let (qp, q) = address_key(query);
    let (sp, s) = address_key(stored);
    if let (Some(a), Some(b)) = (qp, sp) {
        if a != b {
            return false;
        }
    }
    let (short, long) = if q.chars().count() <= s.chars().count() {
        (&q, &s)
    } else {
        (&s, &q)
    };
    short.chars().count() >= 2 && long.starts_with(short.as_str())
}

/// The 4 情報 of a Patient resource: its names (every `name.text`, and `family` + `given`),
/// date of birth, sex and addresses (`text`, or `state` + `city` + `line`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Demographics {
    pub names: Vec<String>,
    pub birth_date: String,
    pub gender: String,
    pub addresses: Vec<String>,
}

pub fn of_patient(patient: &Value) -> Demographics {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut names = Vec::new();
    for n in patient.get("name").map(Value::items).unwrap_or_default() {
        let t = text(n, "text");
        if !t.is_empty() {
            names.push(name_key(&t));
        }
        let given: String = n
            .get("given")
            .map(Value::items)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let parts = format!("{}{given}", text(n, "family"));
        if !parts.is_empty() {
            names.push(name_key(&parts));
        }
    }
    names.sort();
    names.dedup();
    let mut addresses = Vec::new();
    for a in patient.get("address").map(Value::items).unwrap_or_default() {
        let t = text(a, "text");
        let lines: String = a
            .get("line")
            .map(Value::items)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let parts = format!("{}{}{lines}", text(a, "state"), text(a, "city"));
        for s in [t, parts] {
            if !s.is_empty() && !addresses.contains(&s) {
                addresses.push(s);
            }
        }
    }
    Demographics {
        names,
        birth_date: text(patient, "birthDate"),
        gender: text(patient, "gender"),
        addresses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_match_loosely_after_the_prefecture() {
        assert_eq!(name_key("佐藤　さくら"), "佐藤さくら");
        assert_eq!(name_key(" Ｓａｔｏ  Sakura"), "satosakura");
        let stored = "神奈川県横浜市中区旭町1丁目1番2号";
        let table: &[(&str, bool)] = &[
            ("神奈川県横浜市中区旭町1丁目1番2号", true),
            ("神奈川県 横浜市中区旭町１－１－２", true),
            ("横浜市中区旭町1-1-2", true),
            ("横浜市中区旭町", true),
            ("神奈川県横浜市中区", true),
            ("東京都横浜市中区旭町1-1-2", false),
            ("横浜市中区旭町1-1-3", false),
            ("横", false),
            ("", false),
            ("川崎市", false),
        ];
        for (q, want) in table {
            assert_eq!(address_matches(q, stored), *want, "{q}");
        }
        assert_eq!(address_key("北海道札幌市").0, Some(1));
        assert_eq!(address_key("沖縄県那覇市").0, Some(47));
    }

    #[test]
    fn of_a_patient() {
        let p = fhir::json::parse(r#"{"resourceType":"Patient","name":[{"text":"佐藤 さくら","family":"佐藤","given":["さくら"]},{"text":"サトウ サクラ"}],"gender":"female","birthDate":"1945-03-23","address":[{"text":"神奈川県横浜市中区旭町1丁目1番2号","line":["旭町1丁目1番2号"],"city":"横浜市中区","state":"神奈川県"}]}"#).unwrap();
        let d = of_patient(&p);
        assert_eq!(
            d.names,
            vec!["サトウサクラ".to_string(), "佐藤さくら".to_string()]
        );
        assert_eq!(
            (d.birth_date.as_str(), d.gender.as_str()),
            ("1945-03-23", "female")
        );
        assert_eq!(
            d.addresses,
            vec!["神奈川県横浜市中区旭町1丁目1番2号".to_string()]
        );
        assert_eq!(
            of_patient(&fhir::json::parse(r#"{"resourceType":"Patient"}"#).unwrap()),
            Demographics::default()
        );
    }
}
