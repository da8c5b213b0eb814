//! Retention: what has expired, from `clins::policy`, and its deletion (`clins-hub purge` and
//! the server's hourly task).

use crate::{dates, Hub};

/// What has expired on `now` (UTC instant), from `clins::policy`.
pub fn purge_plan(now: &str) -> store::PurgePlan {
    use clins::policy::{document_retention_days, retention_days, Item, RETRIEVED_DAYS};
    let today = dates::day_number(now).unwrap_or(0);
    let cutoff = |days: i64| store::format_utc_millis((today - days) * 86_400_000);
    let mut plan = store::PurgePlan::default();
    for item in Item::SHARED {
        let days = retention_days(item, 0).unwrap_or(i64::MAX / 4);
        // Entries flagged LTS are spared where the item allows LTS.
        let spared = if retention_days(item, clins::policy::FLAG_LTS).is_none() {
            clins::policy::FLAG_LTS
        } else {
            0
        };
        plan.resources
            .push((item.code().to_string(), cutoff(days), spared));
    }
    use clins::policy::DocKind;
    for kind in [
        DocKind::Referral,
        DocKind::DischargeSummary,
        DocKind::PatientSummary,
        DocKind::Checkup,
    ] {
        plan.documents.push((
            kind.code().to_string(),
            cutoff(document_retention_days(kind)),
        ));
    }
    plan.retrieved_before = Some(cutoff(RETRIEVED_DAYS));
    plan
}

/// Applies the retention rules as of `now` to `store`, audited: a `purge` record (who ran it:
/// `role`, `request`; what was deleted in its detail) committed in the purge's own transaction,
/// so no deletion of medical data goes unrecorded.
///
/// `now` is the instant the retention rules are applied as of; `at` the record's time (the
/// clock's now; `clins-hub purge --now` may apply the rules as of another instant).
pub fn purge_store(
    store: &store::Store,
    now: &str,
    at: &str,
    role: &str,
    request: &str,
) -> Result<store::PurgeReport, store::StoreError> {
    let row = store::AuditRow {
        at: at.to_string(),
        detail: format!("as-of={now}"),
        action: "purge".into(),
        outcome: "0".into(),
        status: 200,
        role: role.into(),
        purpose: "RECORDMGT".into(),
        request: request.into(),
        ..Default::default()
    };
    crate::audit::writing(store, Some(row), |_| {}).purge(&purge_plan(now))
}

/// Applies the retention rules now (the hourly task of the server, [`purge_store`]), and
/// forgets the client-assertion ids and sessions that have expired (they are refused for their
/// expiry anyway; only the rows go).
pub fn purge(hub: &Hub) -> Result<store::PurgeReport, store::StoreError> {
    let now = hub.clock.now();
    let report = purge_store(&hub.store, &now, &now, "system", "retention")?;
    hub.store.forget_jtis(&now)?;
    hub.store.forget_sessions(&now)?;
    Ok(report)
}

/// The latest purge runs (their audit records, newest first), for the operator.
pub fn runs(
    store: &store::Store,
    caller: &crate::Caller,
    limit: i64,
) -> Result<Vec<store::AuditRow>, crate::Refusal> {
    if !matches!(caller.principal, clins::policy::Principal::Operator) {
        return Err(crate::Refusal::forbidden(
            "PURGE-NOT-PERMITTED",
            "the purge runs are read by the operator",
            "削除処理の記録は運用者のみが閲覧できます",
        ));
    }
    Ok(store.audit_purges(limit)?)
}
