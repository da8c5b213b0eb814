//! From an authenticated claim to a [`Principal`]: whatever authenticated the caller
//! (development headers today, tokens later) hands over a [`Claim`]; the institution registry
//! turns an institution's claim into its kind and prefecture, and refuses one that is not
//! registered or is disabled (403).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clins::policy::{InstitutionKind, Practitioner, Principal};
use store::{InstitutionRow, Store};

use crate::refusal::Refusal;

/// Who the authenticator says the caller is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// An institution or insurer by its number, with the user acting for it.
    Institution {
        number: String,
        practitioner: Option<Practitioner>,
    },
    /// A patient by the normalised 被保険者個人識別子.
    Patient {
        member_id: String,
    },
    QualificationService,
    Operator,
}

/// A caller number: a 10-digit 医療機関番号 (点数表 1 医科, 2 健診, 3 歯科, 4 調剤) or an
/// 8-digit 保険者番号. Returns the number and its 都道府県番号.
pub fn caller_number(s: &str) -> Result<(String, u8), (String, String)> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let bad = || {
        (
            format!("`{s}` is neither a 10-digit institution number nor an 8-digit insurer number (half-width digits)"),
            format!("「{s}」は10桁の医療機関番号でも8桁の保険者番号でもありません（半角数字）"),
        )
    };
    if !digits {
        return Err(bad());
    }
    match s.len() {
        10 => {
            let pref: u8 = s[0..2].parse().unwrap_or(0);
            if !(1..=47).contains(&pref) || !matches!(&s[2..3], "1" | "2" | "3" | "4") {
                return Err((
                    format!("`{s}`: the first two digits must be a prefecture (01–47) and the third a fee table code (1 medical, 2 checkup, 3 dental, 4 pharmacy)"),
                    format!("「{s}」: 先頭2桁は都道府県番号（01〜47）、3桁目は点数表コード（1 医科、2 健診、3 歯科、4 調剤）です"),
                ));
            }
            Ok((s.to_string(), pref))
        }
        // 保険者番号: 法別番号 (2) + 都道府県番号 (2) + 保険者別番号 (3) + 検証番号 (1).
        8 => Ok((s.to_string(), s[2..4].parse().unwrap_or(0))),
        _ => Err(bad()),
    }
}

/// The registry as the request path sees it: lookups by number, cached for a short time so
/// that a request costs no query; a change made in this process is seen at once, one made by
/// another process (the command line) within the cache's lifetime.
pub struct Directory {
    store: Store,
    ttl: Duration,
    cache: Mutex<HashMap<String, (InstitutionRow, Instant)>>,
}

impl Directory {
    pub fn new(store: Store, ttl: Duration) -> Directory {
        Directory {
            store,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets a cached entry (after a change through this process).
    pub fn invalidate(&self, number: &str) {
        if let Ok(mut c) = self.cache.lock() {
            c.remove(number);
        }
    }

    /// The fresh cached entry of a number, if any.
    fn fresh(&self, number: &str) -> Option<InstitutionRow> {
        let cache = self.cache.lock().ok()?;
        let (row, at) = cache.get(number)?;
        (at.elapsed() < self.ttl).then(|| row.clone())
    }

    fn lookup(&self, number: &str) -> Result<Option<InstitutionRow>, Refusal> {
        if let Some(row) = self.fresh(number) {
            return Ok(Some(row));
        }
        let row = self.store.institution(number)?;
        if let (Some(r), Ok(mut c)) = (&row, self.cache.lock()) {
            if c.len() > 100_000 {
                c.clear();
            }
            c.insert(number.to_string(), (r.clone(), Instant::now()));
        }
        Ok(row)
    }

    /// The display name of a registered institution (cached like the principal); the number
    /// itself when it is not registered or cannot be read.
    pub fn name(&self, number: &str) -> String {
        match self.lookup(number) {
            Ok(Some(row)) => row.name,
            _ => number.to_string(),
        }
    }

    /// The principal of a claim when it needs no query (a claim that is not an institution's,
    /// or one whose registry entry is cached and fresh); `None`: call [`Directory::principal`].
    pub fn cached(&self, claim: &Claim) -> Option<Principal> {
        let row = match claim {
            Claim::Institution { number, .. } => Some(self.fresh(number)?),
            _ => None,
        };
        resolve(claim.clone(), row).ok()
    }

    /// The principal of a claim.
    pub fn principal(&self, claim: Claim) -> Result<Principal, Refusal> {
        let row = match &claim {
            Claim::Institution { number, .. } => self.lookup(number)?,
            _ => None,
        };
        resolve(claim, row)
    }
}

/// The principal of a claim, given the registry entry of an institution's number.
fn resolve(claim: Claim, row: Option<InstitutionRow>) -> Result<Principal, Refusal> {
    match claim {
        Claim::Patient { member_id } => Ok(Principal::Patient { member_id }),
        Claim::QualificationService => Ok(Principal::QualificationService),
        Claim::Operator => Ok(Principal::Operator),
        Claim::Institution {
            number,
            practitioner,
        } => {
            let Some(row) = row else {
                return Err(Refusal::forbidden(
                    "INSTITUTION-NOT-REGISTERED",
                    format!("{number} is not registered with this hub; the operator registers institutions (clins-hub institutions add)"),
                    format!("{number} はこのハブに登録されていません。運用者による登録（clins-hub institutions add）が必要です"),
                ));
            };
            if !row.enabled {
                return Err(Refusal::forbidden(
                    "INSTITUTION-DISABLED",
                    format!("{number} is disabled in the registry; contact the operator"),
                    format!("{number} は利用停止中です。運用者に連絡してください"),
                ));
            }
            let kind = InstitutionKind::from_code(&row.kind).ok_or_else(|| {
                Refusal::internal(format!("registry entry {number} has an unknown kind"))
            })?;
            if kind == InstitutionKind::Insurer && practitioner.is_some() {
                return Err(Refusal::forbidden(
                    "PRACTITIONER-NOT-ALLOWED",
                    "an insurer has no practitioners",
                    "保険者には医療従事者は所属しません",
                ));
            }
            Ok(Principal::Institution {
                number,
                kind,
                prefecture: u8::try_from(row.prefecture).unwrap_or(0),
                practitioner,
            })
        }
    }
}
