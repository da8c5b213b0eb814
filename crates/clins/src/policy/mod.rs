//! Who sees what and for how long: the visibility and retention policies of the hub, each one
//! pure function with a table-driven test (docs/architecture.md). Dates are day numbers (days
//! since 1970-01-01) so that the functions need no clock and no calendar.
//!
//! Sources: service-rules.md §2.1 (retention), §2.3 (flags) and DECISIONS.md (who sees what,
//! suspected diagnoses, retention periods).

use fhir::json::Value;

mod access;
#[cfg(test)]
mod access_table;
mod scope;
pub use access::*;
pub use scope::{Interaction, Scope, ScopeContext, Scopes};

use crate::kind::{allergy_item, flags as read_flags, lab_item, AllergyItem, LabItem};

/// Flag bits stored with each resource.
pub const FLAG_LTS: i64 = 1;
pub const FLAG_UNINFORMED: i64 = 2;
pub const FLAG_UNDELIVERED: i64 = 4;
/// A suspected diagnosis (`verificationStatus` unconfirmed, provisional or differential).
pub const FLAG_SUSPECTED: i64 = 8;

/// The 6情報 item of a stored resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Item {
    /// 傷病名
    Condition,
    /// 薬剤禁忌 (drug allergy with high criticality)
    DrugContraindication,
    /// アレルギー (other allergies, and drug allergies that are not high risk)
    Allergy,
    /// 感染症
    Infection,
    /// 検査
    Lab,
    /// 処方 (from referrals and discharge summaries)
    Prescription,
    Other,
}

impl Item {
    /// The shared items, in the order the summary shows them.
    pub const SHARED: [Item; 6] = [
        Item::Condition,
        Item::DrugContraindication,
        Item::Allergy,
        Item::Infection,
        Item::Lab,
        Item::Prescription,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Item::Condition => "condition",
            Item::DrugContraindication => "drug-contraindication",
            Item::Allergy => "allergy",
            Item::Infection => "infection",
            Item::Lab => "lab",
            Item::Prescription => "prescription",
            Item::Other => "other",
        }
    }
    pub fn from_code(code: &str) -> Item {
        match code {
            "condition" => Item::Condition,
            "drug-contraindication" => Item::DrugContraindication,
            "allergy" => Item::Allergy,
            "infection" => Item::Infection,
            "lab" => Item::Lab,
            "prescription" => Item::Prescription,
            _ => Item::Other,
        }
    }
    pub fn label_ja(self) -> &'static str {
        match self {
            Item::Condition => "傷病名",
            Item::DrugContraindication => "薬剤禁忌",
            Item::Allergy => "アレルギー",
            Item::Infection => "感染症",
            Item::Lab => "検査",
            Item::Prescription => "処方",
            Item::Other => "その他",
        }
    }
}

/// The item of a resource as submitted.
pub fn item_of(resource: &Value) -> Item {
    match resource.get("resourceType").and_then(Value::as_str) {
        Some("Condition") => Item::Condition,
        Some("AllergyIntolerance") => {
            let high = resource.get("criticality").and_then(Value::as_str) == Some("high");
            match allergy_item(resource) {
                AllergyItem::Drug if high => Item::DrugContraindication,
                _ => Item::Allergy,
            }
        }
        Some("Observation") => match lab_item(resource) {
            LabItem::Infection => Item::Infection,
            _ => Item::Lab,
        },
        Some("MedicationRequest") => Item::Prescription,
        _ => Item::Other,
    }
}

/// The flag bits of a resource as submitted.
pub fn flag_bits(resource: &Value) -> i64 {
    let f = read_flags(resource);
    let mut bits = 0;
    if f.long_term {
        bits |= FLAG_LTS;
    }
    if f.uninformed {
        bits |= FLAG_UNINFORMED;
    }
    if f.undelivered {
        bits |= FLAG_UNDELIVERED;
    }
    // From the validated status (CLINS-STATUS-CODING admits codings of the R4 system only);
    // the system is checked again here, so that no other path can make a suspected diagnosis
    // look confirmed.
    use crate::systems::{CONDITION_SUSPECTED_CODES, CONDITION_VER_STATUS};
    let suspected = resource
        .get("verificationStatus")
        .and_then(|v| v.get("coding"))
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .any(|c| {
            c.get("system").and_then(Value::as_str) != Some(CONDITION_VER_STATUS)
                || c.get("code")
                    .and_then(Value::as_str)
                    .is_none_or(|k| CONDITION_SUSPECTED_CODES.contains(&k))
        });
    if suspected && resource.get("resourceType").and_then(Value::as_str) == Some("Condition") {
        bits |= FLAG_SUSPECTED;
    }
    bits
}

/// Storage retention in days per item (DECISIONS.md "Retention"): five years for every item;
/// `None` = kept until the institution deletes it (LTS on 傷病名, アレルギー, 薬剤禁忌, 感染症).
pub fn retention_days(item: Item, flags: i64) -> Option<i64> {
    const FIVE_YEARS: i64 = 5 * 365 + 1;
    let lts_allowed = matches!(
        item,
        Item::Condition | Item::Allergy | Item::DrugContraindication | Item::Infection
    );
    if lts_allowed && flags & FLAG_LTS != 0 {
        None
    } else {
        Some(FIVE_YEARS)
    }
}

/// Whether an entry registered on day `registered` is still kept on day `today`.
pub fn retained(item: Item, flags: i64, registered: i64, today: i64) -> bool {
    retention_days(item, flags).is_none_or(|d| today - registered < d)
}

/// The viewable window of results that are shown "the last N days or the last K results,
/// whichever is more" (検査: per test item, 365 days or 3 results; 処方: 100 days or 3).
pub fn window(item: Item) -> Option<(i64, usize)> {
    match item {
        Item::Lab => Some((365, 3)),
        Item::Prescription => Some((100, 3)),
        _ => None,
    }
}

/// For results of one group (one test item, or a patient's prescriptions) given as their day
/// numbers, which are viewable on `today`: those within `days`, or among the `last` newest.
pub fn in_window(dates: &[i64], today: i64, days: i64, last: usize) -> Vec<bool> {
    let mut order: Vec<usize> = (0..dates.len()).collect();
    order.sort_by(|&a, &b| dates[b].cmp(&dates[a]));
    let mut out = vec![false; dates.len()];
    for (rank, &i) in order.iter().enumerate() {
        out[i] = rank < last || today - dates[i] <= days;
    }
    out
}

/// Days a referral (and the 退院時サマリー sent with it) stays retrievable after registration,
/// and days it stays readable to the addressee after retrieval (DECISIONS.md).
pub const REFERRAL_DAYS: i64 = 365;
pub const RETRIEVED_DAYS: i64 = 30;
/// 患者サマリー: six months.
pub const PCS_DAYS: i64 = 183;

/// How long a stored document is kept, by document kind (`eReferral`, `eDischargeSummary`,
/// `ePCS`, `eCheckup`), in days from registration.
pub fn document_retention_days(kind: DocKind) -> i64 {
    match kind {
        DocKind::Referral | DocKind::DischargeSummary => REFERRAL_DAYS,
        DocKind::PatientSummary => PCS_DAYS,
        DocKind::Checkup => 5 * 365 + 1,
    }
}

/// What the addressee of a referral gets when retrieving it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retrieval {
    Allowed,
    /// 閲覧保留: waiting for the patient's consent.
    Held,
    /// Past the retrieval window, or 30 days after retrieval.
    Expired,
    /// 取消 by the sender.
    Cancelled,
}

/// Whether the addressee may retrieve a referral in `status` registered on day `registered`
/// and retrieved on day `retrieved`.
pub fn referral_retrieval(
    status: DocStatus,
    registered: i64,
    retrieved: Option<i64>,
    today: i64,
) -> Retrieval {
    match status {
        DocStatus::Cancelled | DocStatus::Deleted => Retrieval::Cancelled,
        DocStatus::Expired => Retrieval::Expired,
        _ if today - registered > REFERRAL_DAYS => Retrieval::Expired,
        DocStatus::Retrieved if retrieved.is_some_and(|d| today - d > RETRIEVED_DAYS) => {
            Retrieval::Expired
        }
        DocStatus::Held => Retrieval::Held,
        _ => Retrieval::Allowed,
    }
}

/// Who may have a document that travels attached to referrals (a 退院時サマリー, service rules
/// §1.3: "only as an attachment to a referral"): its author always; another institution only
/// as the addressee of a referral that carries it, and then as that referral allows
/// ([`referral_retrieval`]; the most permissive of several). `None`: the caller is neither,
/// and the document does not exist for it.
pub fn attachment_access(
    author: bool,
    addressed_referrals: impl IntoIterator<Item = Retrieval>,
) -> Option<Retrieval> {
    if author {
        return Some(Retrieval::Allowed);
    }
    let rank = |r: &Retrieval| match r {
        Retrieval::Allowed => 0,
        Retrieval::Held => 1,
        Retrieval::Expired => 2,
        Retrieval::Cancelled => 3,
    };
    addressed_referrals.into_iter().min_by_key(rank)
}

/// The statuses in which a submission may no longer be changed, cancelled or replaced by its
/// sender: once the addressee has retrieved a referral (取得済), DECISIONS.md "Referral
/// retrievability".
pub const LOCKED: [DocStatus; 1] = [DocStatus::Retrieved];

/// Whether a document that travels attached to referrals (a 退院時サマリー) has been released
/// with one of them: a referral that carries it is neither held (閲覧保留) nor cancelled. Until
/// then its prescriptions stay with its sender, as the held referral's do.
pub fn attachment_released(carriers: impl IntoIterator<Item = DocStatus>) -> bool {
    carriers
        .into_iter()
        .any(|s| !matches!(s, DocStatus::Held | DocStatus::Cancelled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Item::*;

    #[test]
    fn retention_table() {
        let table: &[(Item, i64, i64, bool)] = &[
            (Condition, 0, 0, true),
            (Condition, 0, 1825, true),
            (Condition, 0, 1826, false),
            (Condition, FLAG_LTS, 10_000, true),
            (Allergy, FLAG_LTS, 10_000, true),
            (DrugContraindication, FLAG_LTS, 10_000, true),
            (Infection, FLAG_LTS, 10_000, true),
            (Lab, FLAG_LTS, 1826, false),
            (Lab, 0, 1000, true),
            (Prescription, 0, 1826, false),
        ];
        for &(item, flags, age, want) in table {
            assert_eq!(
                retained(item, flags, 100, 100 + age),
                want,
                "{item:?} {age}"
            );
        }
    }

    #[test]
    fn referral_retrieval_table() {
        use super::Retrieval::*;
        // (status, registered, retrieved, today, expected)
        use DocStatus as S;
        let table: &[(DocStatus, i64, Option<i64>, i64, Retrieval)] = &[
            (S::Current, 0, None, 0, Allowed),
            (S::Current, 0, None, 365, Allowed),
            (S::Current, 0, None, 366, Expired),
            (S::Held, 0, None, 10, Held),
            (S::Held, 0, None, 400, Expired),
            (S::Retrieved, 0, Some(10), 40, Allowed),
            (S::Retrieved, 0, Some(10), 41, Expired),
            (S::Cancelled, 0, None, 1, Cancelled),
            (S::Expired, 0, None, 1, Expired),
            (S::Deleted, 0, None, 1, Cancelled),
        ];
        for &(status, reg, ret, today, want) in table {
            assert_eq!(
                referral_retrieval(status, reg, ret, today),
                want,
                "{status:?} {reg} {ret:?} {today}"
            );
        }
        assert_eq!(document_retention_days(DocKind::PatientSummary), 183);
        // Attachments: (author, retrievals of the referrals addressed to the caller, expected).
        let table: &[(bool, &[Retrieval], Option<Retrieval>)] = &[
            (true, &[], Some(Allowed)),
            (true, &[Cancelled], Some(Allowed)),
            (false, &[], None),
            (false, &[Held], Some(Held)),
            (false, &[Cancelled, Held], Some(Held)),
            (false, &[Expired, Allowed, Held], Some(Allowed)),
            (false, &[Cancelled, Expired], Some(Expired)),
            (false, &[Cancelled], Some(Cancelled)),
        ];
        for &(author, via, want) in table {
            assert_eq!(
                attachment_access(author, via.iter().copied()),
                want,
                "{author} {via:?}"
            );
        }
        assert_eq!(document_retention_days(DocKind::Checkup), 1826);
        // An attachment is released with a referral that is neither held nor cancelled.
        let table: &[(&[DocStatus], bool)] = &[
            (&[], false),
            (&[S::Held], false),
            (&[S::Cancelled], false),
            (&[S::Held, S::Cancelled], false),
            (&[S::Current], true),
            (&[S::Held, S::Retrieved], true),
            (&[S::Expired], true),
        ];
        for (carriers, want) in table {
            assert_eq!(
                attachment_released(carriers.iter().copied()),
                *want,
                "{carriers:?}"
            );
        }
    }

    #[test]
    fn window_keeps_last_year_or_last_three() {
        // today = 1000; (dates, expected)
        let table: &[(&[i64], &[bool])] = &[
            // Old results only: the 3 newest stay.
            (&[10, 20, 30, 40], &[false, true, true, true]),
            // Many in the last year: all of them, plus nothing older beyond 3.
            (&[700, 800, 900, 950, 100], &[true, true, true, true, false]),
            // Exactly 365 days ago is inside.
            (&[635, 1, 2, 3], &[true, false, true, true]),
            (&[], &[]),
        ];
        for (dates, want) in table {
            assert_eq!(in_window(dates, 1000, 365, 3), want.to_vec(), "{dates:?}");
        }
    }
}
