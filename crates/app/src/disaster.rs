//! Disaster mode (service-rules.md §1.9): the operator declares a period and the prefectures
//! or institutions it covers; inside it, covered institutions view 6情報 and 健診 without card
//! consent (each access recorded), and may identify a patient by the 4 情報.

use store::{DisasterRow, Store};

use crate::access::{self, Caller};
use crate::dates::utc_instant;
use crate::refusal::Refusal;

/// A declaration as asked for.
#[derive(Clone, Debug, Default)]
pub struct Declaration {
    pub from: String,
    pub to: String,
    pub prefectures: Vec<u8>,
    pub institutions: Vec<String>,
}

pub fn declare(
    store: &Store,
    caller: &Caller,
    d: &Declaration,
    now: &str,
) -> Result<DisasterRow, Refusal> {
    access::administer(caller)?;
    let when = |t: &str, name: &str| {
        utc_instant(t).ok_or_else(|| {
            Refusal::bad_request(
                "DISASTER-PERIOD",
                name,
                format!("--{name} `{t}` is not a date or date and time"),
                format!("--{name}「{t}」は日付・日時として不正です"),
            )
        })
    };
    let (from, to) = (when(&d.from, "from")?, when(&d.to, "to")?);
    if to <= from {
        return Err(Refusal::bad_request(
            "DISASTER-PERIOD",
            "to",
            "the period must end after it starts",
            "期間の終わりは始まりより後にしてください",
        ));
    }
    if d.prefectures.is_empty() && d.institutions.is_empty() {
        return Err(Refusal::bad_request(
            "DISASTER-COVER",
            "",
            "name what the declaration covers: --prefecture NN or --institution N (repeatable)",
            "対象を --prefecture（都道府県番号）または --institution（医療機関番号）で指定してください",
        ));
    }
    if let Some(p) = d.prefectures.iter().find(|p| !(1..=47).contains(*p)) {
        return Err(Refusal::bad_request(
            "DISASTER-COVER",
            "prefecture",
            format!("prefecture {p}: use 1–47"),
            format!("都道府県番号 {p} は不正です（1〜47）"),
        ));
    }
    for i in &d.institutions {
        clins::InstitutionNumber::parse(i)
            .map_err(|e| Refusal::bad_request("DISASTER-COVER", "institution", e.en, e.ja))?;
    }
    let row = DisasterRow {
        disaster_id: store::random_id()[..12].to_string(),
        start: from,
        end: to,
        prefectures: d.prefectures.clone(),
        institutions: d.institutions.clone(),
        created_at: now.to_string(),
        ended_at: None,
    };
    store.add_disaster(&row)?;
    Ok(row)
}

pub fn list(store: &Store, caller: &Caller) -> Result<Vec<DisasterRow>, Refusal> {
    access::administer(caller)?;
    Ok(store.disasters()?)
}

pub fn end(store: &Store, caller: &Caller, id: &str, now: &str) -> Result<(), Refusal> {
    access::administer(caller)?;
    if store.end_disaster(id, now)? {
        Ok(())
    } else {
        Err(Refusal::not_found(&format!("an ongoing declaration {id}")))
    }
}
