//! Identification by the 4 情報 (name, date of birth, sex, address) in an emergency or a
//! disaster (service-rules.md §1.8, §1.9): all four required, the address after the
//! prefecture matched loosely, exactly one patient or nothing — never a list. And the index
//! that makes it possible: each patient's 4 情報, written after a submission that changes them.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use clins::demographics::{address_matches, name_key, Demographics};
use fhir::outcome::IssueType;
use store::{DemographicsRow, Store};

use crate::access::{self, Caller};
use crate::refusal::{Refusal, Why};

/// The patients whose 4 情報 this process has indexed, by a hash of them (so that a submission
/// that repeats the stored Patient writes nothing). Bounded: emptied at 200,000 entries.
#[derive(Default)]
pub struct Indexed(Mutex<HashMap<i64, u64>>);

/// Indexes a patient's 4 情報 after a submission (when they changed since this process last
/// wrote them).
pub fn index(
    store: &Store,
    indexed: &Indexed,
    patient_key: i64,
    d: &Demographics,
) -> Result<(), Refusal> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    d.hash(&mut h);
    let hash = h.finish();
    if indexed
        .0
        .lock()
        .is_ok_and(|m| m.get(&patient_key) == Some(&hash))
    {
        return Ok(());
    }
    let mut rows = Vec::new();
    for n in &d.names {
        for a in d
            .addresses
            .iter()
            .map(String::as_str)
            .chain(d.addresses.is_empty().then_some(""))
        {
            rows.push(DemographicsRow {
                name_key: n.clone(),
                birth_date: d.birth_date.clone(),
                gender: d.gender.clone(),
                address: a.to_string(),
            });
        }
    }
    store.put_demographics(patient_key, &rows)?;
    if let Ok(mut m) = indexed.0.lock() {
        if m.len() >= 200_000 {
            m.clear();
        }
        m.insert(patient_key, hash);
    }
    Ok(())
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
