//! Identification by the 4 情報 (name, date of birth, sex, address) in an emergency or a
//! disaster (service-rules.md §1.8, §1.9): all four required, the address after the
//! prefecture matched loosely, exactly one patient or nothing — never a list. And the rows of
//! the index that makes it possible: each patient's 4 情報, stored with the Patient.

use clins::demographics::{address_matches, name_key, Demographics};
use fhir::outcome::IssueType;
use store::{DemographicsRow, Store};

use crate::access::{self, Caller};
use crate::refusal::{Refusal, Why};

/// The rows of a patient's 4 情報 in the index (one per name and address), written by the
/// store with the Patient whenever the Patient changes, in the submission's transaction.
pub fn rows(d: &Demographics) -> Vec<DemographicsRow> {
    let mut rows = Vec::new();
    for n in &d.names {
        let addresses = d.addresses.iter().map(String::as_str);
        for a in addresses.chain(d.addresses.is_empty().then_some("")) {
            rows.push(DemographicsRow {
                name_key: n.clone(),
                birth_date: d.birth_date.clone(),
                gender: d.gender.clone(),
                address: a.to_string(),
            });
        }
    }
    rows
}

/// A search by the 4 情報, as asked.
#[derive(Clone, Debug)]
pub struct Query {
    pub name: String,
    pub birth_date: String,
    pub gender: String,
    pub address: String,
}

/// The one patient the 4 情報 name: its key and current Patient resource. 404 when none
/// matches, 409 when several do (narrow the search; never a list).
pub fn identify(
    store: &Store,
    caller: &Caller,
    q: &Query,
    now: &str,
) -> Result<(i64, Vec<u8>), Refusal> {
    access::scope(caller, "Patient", clins::policy::Interaction::Search)?;
    access::identify(store, caller, now)?;
    let name = name_key(&q.name);
    let mut keys: Vec<i64> = store
        .find_demographics(&name, q.birth_date.trim(), q.gender.trim())?
        .into_iter()
        .filter(|(_, address)| address_matches(&q.address, address))
        .map(|(k, _)| k)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    match keys.as_slice() {
        [] => Err(Refusal::not_found("a patient with these 4 情報")),
        [k] => {
            let (member, body) = store
                .patient(*k)?
                .ok_or_else(|| Refusal::not_found("a patient with these 4 情報"))?;
            // The gate of the patient's data, which records this access without consent.
            access::open_patient(store, caller, &member, now, "GET Patient?4情報")?;
            Ok((*k, body))
        }
        _ => Err(Refusal::new(
            Why::Conflict,
            IssueType::Conflict,
            "IDENTIFY-AMBIGUOUS",
            "address",
            "more than one patient matches these 4 情報; give the address in full (after the prefecture) to narrow the search to one",
            "この4情報に一致する患者が複数います。住所（都道府県以降）を詳しく指定して1人に絞り込んでください",
        )),
    }
}
