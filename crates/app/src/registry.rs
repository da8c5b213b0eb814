//! The institution registry, managed by the operator: `clins-hub institutions add|list|disable|
//! enable|import` and the operator's HTTP endpoint call these.

use clins::policy::{InstitutionKind, Principal};
use fhir::outcome::IssueType;
use store::{InstitutionRow, Store};

use crate::identity::caller_number;
use crate::refusal::{Refusal, Why};

/// A registration as asked for.
#[derive(Clone, Debug, Default)]
pub struct NewInstitution {
    pub number: String,
    pub kind: String,
    pub name: String,
    /// 都道府県番号; from the number when absent.
    pub prefecture: Option<u8>,
}

fn administer(principal: &Principal) -> Result<(), Refusal> {
    crate::access::administer(&crate::Caller::new(principal.clone()))
}

fn invalid(detail: &'static str, en: String, ja: String) -> Refusal {
    Refusal::new(Why::BadRequest, IssueType::Value, detail, "", en, ja)
}

/// Checks a registration: the number's form for its kind, the fee table for the kind, a name.
pub fn check(new: &NewInstitution) -> Result<InstitutionRow, Refusal> {
    let kind = InstitutionKind::from_code(new.kind.trim()).ok_or_else(|| {
        invalid(
            "REGISTRY-KIND",
            format!("kind `{}`: use hospital, clinic, dental, pharmacy, checkup or insurer", new.kind),
            format!("種別「{}」は不正です。hospital、clinic、dental、pharmacy、checkup、insurer のいずれかを指定してください", new.kind),
        )
    })?;
    let number = new.number.trim();
    let (number, pref) =
        caller_number(number).map_err(|(en, ja)| invalid("REGISTRY-NUMBER", en, ja))?;
    let insurer = kind == InstitutionKind::Insurer;
    if insurer != (number.len() == 8) {
        return Err(invalid(
            "REGISTRY-NUMBER",
            format!("{number}: an insurer has an 8-digit 保険者番号, every other kind a 10-digit 医療機関番号"),
            format!("{number}: 保険者は8桁の保険者番号、それ以外は10桁の医療機関番号で登録してください"),
        ));
    }
    if !insurer {
        let table = &number[2..3];
        let want: &[&str] = match kind {
            InstitutionKind::Hospital | InstitutionKind::Clinic => &["1"],
            InstitutionKind::Dental => &["3"],
            InstitutionKind::Pharmacy => &["4"],
            _ => &["1", "2", "3"],
        };
        if !want.contains(&table) {
            return Err(invalid(
                "REGISTRY-FEE-TABLE",
                format!("{number}: the fee table code (3rd digit) {table} does not fit the kind {} (expected {})", kind.code(), want.join(" or ")),
                format!("{number}: 点数表コード（3桁目）{table} は種別「{}」と合いません（{} が必要）", kind.label_ja(), want.join("または")),
            ));
        }
    }
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(invalid(
            "REGISTRY-NAME",
            "give the institution's name (1–200 characters, no control characters)".into(),
            "名称を1〜200文字で指定してください（制御文字は使えません）".into(),
        ));
    }
    let prefecture = match new.prefecture {
        Some(p) if (1..=47).contains(&p) => p,
        Some(p) => {
            return Err(invalid(
                "REGISTRY-PREFECTURE",
                format!("prefecture {p}: use 1–47"),
                format!("都道府県番号 {p} は不正です（1〜47）"),
            ))
        }
        None if (1..=47).contains(&pref) => pref,
        None => {
            return Err(invalid(
                "REGISTRY-PREFECTURE",
                format!("{number}: give --prefecture (1–47); it cannot be read from the number"),
                format!("{number}: 番号から都道府県を判別できません。--prefecture（1〜47）を指定してください"),
            ))
        }
    };
    Ok(InstitutionRow {
        number,
        kind: kind.code().to_string(),
        name: name.to_string(),
        prefecture: i64::from(prefecture),
        enabled: true,
        updated_at: String::new(),
    })
}

/// Registers (or updates and re-enables) an institution.
pub fn add(
    store: &Store,
    principal: &Principal,
    new: &NewInstitution,
    now: &str,
) -> Result<InstitutionRow, Refusal> {
    administer(principal)?;
    let mut row = check(new)?;
    row.updated_at = now.to_string();
    store.put_institution(&row)?;
    Ok(row)
}

pub fn list(store: &Store, principal: &Principal) -> Result<Vec<InstitutionRow>, Refusal> {
    administer(principal)?;
    Ok(store.institutions()?)
}

/// Enables or disables a registered institution (404 when it is not registered).
pub fn set_enabled(
    store: &Store,
    principal: &Principal,
    number: &str,
    enabled: bool,
    now: &str,
) -> Result<(), Refusal> {
    administer(principal)?;
    if store.set_institution_enabled(number.trim(), enabled, now)? {
        Ok(())
    } else {
        Err(Refusal::not_found(&format!(
            "institution {}",
            number.trim()
        )))
    }
}
