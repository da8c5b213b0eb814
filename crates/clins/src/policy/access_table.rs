//! The decision table of [`super::decide`]: one row per rule of docs/access.md, then every
//! combination of caller, target and context checked against the invariants that must hold
//! whatever the row.

use super::access::*;
use super::{Item, Retrieval, FLAG_LTS, FLAG_SUSPECTED, FLAG_UNDELIVERED, FLAG_UNINFORMED};

fn inst(kind: InstitutionKind, pr: Option<(bool, bool)>) -> Principal {
    Principal::Institution {
        number: "1312345678".into(),
        kind,
        prefecture: 13,
        practitioner: pr.map(|(emergency, two_factor)| Practitioner {
            qualification: Qualification::Doctor,
            id: "dr1".into(),
            emergency,
            two_factor,
        }),
    }
}

fn principals() -> Vec<(&'static str, Principal)> {
    use InstitutionKind::*;
    vec![
        ("hospital", inst(Hospital, None)),
        ("hospital-er", inst(Hospital, Some((true, true)))),
        ("hospital-er-1fa", inst(Hospital, Some((true, false)))),
        ("hospital-dr", inst(Hospital, Some((false, true)))),
        ("clinic", inst(Clinic, None)),
        ("clinic-er", inst(Clinic, Some((true, true)))),
        ("dental", inst(Dental, None)),
        ("pharmacy", inst(Pharmacy, None)),
        ("checkup", inst(Checkup, None)),
        ("insurer", inst(Insurer, None)),
        (
            "patient",
            Principal::Patient {
                member_id: "00012345:1:2:".into(),
            },
        ),
        ("qs", Principal::QualificationService),
        ("operator", Principal::Operator),
    ]
}

fn p(name: &str) -> Principal {
    principals()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| p)
        .expect("principal")
}

const NONE: Relation = Relation {
    submitter: false,
    own: false,
    insured: false,
    addressee: false,
};
const SUBMITTER: Relation = Relation {
    submitter: true,
    ..NONE
};
const OWN: Relation = Relation { own: true, ..NONE };
const INSURED: Relation = Relation {
    insured: true,
    ..NONE
};
const ADDRESSEE: Relation = Relation {
    addressee: true,
    ..NONE
};

fn ctx(consent: ConsentState, etreat: bool, disaster: bool, age: i64) -> Context {
    Context {
        consent,
        emergency_claimed: etreat,
        disaster,
        age_days: age,
    }
}

use ConsentState::{Expired as CExpired, Live, None as CNone, Revoked};
use Decision::{Deny, Permit};

fn item(item: Item, flags: i64) -> Target {
    Target::Item {
        item,
        flags,
        held: false,
    }
}
fn doc(kind: DocKind, status: DocStatus, retrieval: Option<Retrieval>) -> Target {
    Target::Document {
        kind,
        status,
        retrieval,
    }
}

#[test]
fn decision_table() {
    use Action::*;
    use Basis as B;
    use Denial as D;
    use DocKind as K;
    use DocStatus as S;
    use EmergencyProblem as E;
    use Item::*;
    let none = ctx(CNone, false, false, 0);
    let live = ctx(Live, false, false, 0);
    let er = ctx(CNone, true, false, 0);
    let dis = ctx(CNone, false, true, 0);
    let ok = |b| Permit(b, Mark::None);
    #[rustfmt::skip]
    let table: Vec<(&str, Action, Target, Relation, Context, Decision)> = vec![
        // --- the patient gate ($summary, search, Patient read)
        ("hospital", Read, Target::Patient, NONE, none, Deny(D::NoConsent)),
        ("hospital", Read, Target::Patient, NONE, live, ok(B::Consent)),
        ("hospital", Read, Target::Patient, NONE, ctx(CExpired, false, false, 0), Deny(D::NoConsent)),
        ("hospital", Read, Target::Patient, NONE, ctx(Revoked, false, false, 0), Deny(D::NoConsent)),
        ("clinic", Read, Target::Patient, NONE, live, ok(B::Consent)),
        ("dental", Read, Target::Patient, NONE, live, ok(B::Consent)),
        ("pharmacy", Read, Target::Patient, NONE, live, ok(B::Consent)),
        ("pharmacy", Read, Target::Patient, NONE, none, Deny(D::NoConsent)),
        ("checkup", Read, Target::Patient, NONE, live, Deny(D::WrongRole)),
        ("insurer", Read, Target::Patient, INSURED, live, Deny(D::WrongRole)),
        ("qs", Read, Target::Patient, NONE, live, Deny(D::WrongRole)),
        ("operator", Read, Target::Patient, NONE, live, Deny(D::WrongRole)),
        ("patient", Read, Target::Patient, OWN, none, ok(B::Own)),
        ("patient", Read, Target::Patient, NONE, none, Deny(D::Hidden)),
        // --- emergency (service-rules §1.8): hospitals, privilege, two factors, ETREAT
        ("hospital-er", Read, Target::Patient, NONE, er, ok(B::Emergency)),
        ("hospital-er", Read, Target::Patient, NONE, none, Deny(D::NoConsent)),
        ("hospital-er-1fa", Read, Target::Patient, NONE, er, Deny(D::Emergency(E::NoTwoFactor))),
        ("hospital-dr", Read, Target::Patient, NONE, er, Deny(D::Emergency(E::NoPrivilege))),
        ("hospital", Read, Target::Patient, NONE, er, Deny(D::Emergency(E::NoPrivilege))),
        ("clinic-er", Read, Target::Patient, NONE, er, Deny(D::Emergency(E::NotHospital))),
        ("pharmacy", Read, Target::Patient, NONE, er, Deny(D::Emergency(E::NotHospital))),
        ("hospital-er", Read, item(Condition, 0), NONE, er, ok(B::Emergency)),
        ("hospital-er", Read, item(Lab, 0), NONE, er, ok(B::Emergency)),
        ("hospital-er", Read, item(Condition, FLAG_SUSPECTED), NONE, er, Deny(D::Hidden)),
        ("hospital-er", Read, doc(K::Checkup, S::Current, None), NONE, er, Deny(D::Emergency(E::NotCovered))),
        ("hospital-er", Read, doc(K::Checkup, S::Current, None), NONE, ctx(Live, true, false, 0), ok(B::Consent)),
        // --- disaster (§1.9): covered institutions without card consent, 6情報 and 健診
        ("clinic", Read, Target::Patient, NONE, dis, ok(B::Disaster)),
        ("pharmacy", Read, item(Allergy, 0), NONE, dis, ok(B::Disaster)),
        ("clinic", Read, doc(K::Checkup, S::Current, None), NONE, dis, ok(B::Disaster)),
        ("insurer", Read, doc(K::Checkup, S::Current, None), NONE, dis, Deny(D::Hidden)),
        ("checkup", Read, Target::Patient, NONE, dis, Deny(D::WrongRole)),
        // --- 6情報 entries and their flags
        ("hospital", Read, item(Condition, 0), SUBMITTER, none, ok(B::Submitter)),
        ("hospital", Read, item(Condition, FLAG_UNDELIVERED | FLAG_SUSPECTED), SUBMITTER, none, ok(B::Submitter)),
        ("hospital", Read, item(Condition, 0), NONE, none, Deny(D::Hidden)),
        ("hospital", Read, item(Condition, 0), NONE, live, ok(B::Consent)),
        ("hospital", Read, item(Condition, FLAG_SUSPECTED), NONE, live, Deny(D::Hidden)),
        ("hospital", Read, item(Condition, FLAG_UNDELIVERED), NONE, live, Deny(D::Hidden)),
        ("hospital", Read, item(Condition, FLAG_UNINFORMED), NONE, live, Permit(B::Consent, Mark::Uninformed)),
        ("hospital", Read, item(Condition, FLAG_UNINFORMED | FLAG_UNDELIVERED), NONE, live, Deny(D::Hidden)),
        ("hospital", Read, item(Condition, FLAG_LTS), NONE, live, ok(B::Consent)),
        ("pharmacy", Read, item(DrugContraindication, 0), NONE, live, ok(B::Consent)),
        ("dental", Read, item(Prescription, 0), NONE, live, ok(B::Consent)),
        ("hospital", Read, Target::Item { item: Prescription, flags: 0, held: true }, NONE, live, Deny(D::Hidden)),
        ("hospital", Read, Target::Item { item: Prescription, flags: 0, held: true }, SUBMITTER, none, ok(B::Submitter)),
        ("hospital", Read, item(Other, 0), NONE, live, Deny(D::Hidden)),
        ("checkup", Read, item(Lab, 0), NONE, live, Deny(D::Hidden)),
        ("insurer", Read, item(Condition, 0), INSURED, live, Deny(D::Hidden)),
        ("qs", Read, item(Condition, 0), NONE, live, Deny(D::Hidden)),
        ("operator", Read, item(Condition, 0), NONE, live, Deny(D::Hidden)),
        ("patient", Read, item(Condition, 0), OWN, none, ok(B::Own)),
        ("patient", Read, item(Condition, FLAG_UNINFORMED), OWN, none, Deny(D::Hidden)),
        ("patient", Read, item(Condition, FLAG_UNDELIVERED), OWN, none, Deny(D::Hidden)),
        ("patient", Read, item(Condition, FLAG_SUSPECTED), OWN, none, Deny(D::Hidden)),
        ("patient", Read, item(Lab, 0), OWN, none, ok(B::Own)),
        ("patient", Read, item(Lab, 0), NONE, none, Deny(D::Hidden)),
        // --- documents
        ("hospital", Read, doc(K::Checkup, S::Current, None), NONE, live, ok(B::Consent)),
        ("hospital", Read, doc(K::Checkup, S::Current, None), NONE, none, Deny(D::Hidden)),
        ("pharmacy", Read, doc(K::Checkup, S::Current, None), NONE, live, ok(B::Consent)),
        ("hospital", Read, doc(K::Checkup, S::Expired, None), NONE, live, Deny(D::Gone)),
        ("hospital", Read, doc(K::PatientSummary, S::Current, None), NONE, live, Deny(D::Hidden)),
        ("hospital", Read, doc(K::PatientSummary, S::Current, None), SUBMITTER, none, ok(B::Submitter)),
        ("insurer", Read, doc(K::Checkup, S::Current, None), INSURED, none, ok(B::Insurer)),
        ("insurer", Read, doc(K::Checkup, S::Current, None), NONE, none, Deny(D::Hidden)),
        ("insurer", Read, doc(K::PatientSummary, S::Current, None), INSURED, none, Deny(D::Hidden)),
        ("insurer", Read, doc(K::Referral, S::Current, Some(Retrieval::Allowed)), INSURED, none, Deny(D::Hidden)),
        ("checkup", Read, doc(K::Checkup, S::Current, None), SUBMITTER, none, ok(B::Submitter)),
        ("checkup", Read, doc(K::Checkup, S::Current, None), NONE, live, Deny(D::Hidden)),
        ("patient", Read, doc(K::Checkup, S::Current, None), OWN, none, ok(B::Own)),
        ("patient", Read, doc(K::PatientSummary, S::Current, None), OWN, ctx(CNone, false, false, 183), ok(B::Own)),
        ("patient", Read, doc(K::PatientSummary, S::Current, None), OWN, ctx(CNone, false, false, 184), Deny(D::Hidden)),
        ("patient", Read, doc(K::Referral, S::Held, Some(Retrieval::Held)), OWN, none, ok(B::Own)),
        ("patient", Retrieve, doc(K::Referral, S::Held, Some(Retrieval::Held)), OWN, none, Deny(D::Hidden)),
        ("patient", Read, doc(K::Checkup, S::Current, None), NONE, none, Deny(D::Hidden)),
        ("hospital", Read, doc(K::Referral, S::Held, Some(Retrieval::Held)), ADDRESSEE, none, ok(B::Addressee)),
        ("hospital", Retrieve, doc(K::Referral, S::Held, Some(Retrieval::Held)), ADDRESSEE, none, Deny(D::Held)),
        ("clinic", Retrieve, doc(K::Referral, S::Current, Some(Retrieval::Allowed)), ADDRESSEE, none, ok(B::Addressee)),
        ("clinic", Retrieve, doc(K::Referral, S::Retrieved, Some(Retrieval::Expired)), ADDRESSEE, none, Deny(D::Gone)),
        ("clinic", Retrieve, doc(K::Referral, S::Cancelled, Some(Retrieval::Cancelled)), ADDRESSEE, none, Deny(D::Gone)),
        ("clinic", Read, doc(K::Referral, S::Cancelled, Some(Retrieval::Cancelled)), ADDRESSEE, none, Deny(D::Gone)),
        ("clinic", Retrieve, doc(K::Referral, S::Current, Some(Retrieval::Allowed)), NONE, live, Deny(D::Hidden)),
        ("clinic", Retrieve, doc(K::DischargeSummary, S::Current, Some(Retrieval::Held)), ADDRESSEE, none, Deny(D::Held)),
        ("clinic", Retrieve, doc(K::DischargeSummary, S::Current, None), ADDRESSEE, none, Deny(D::Hidden)),
        ("hospital", Retrieve, doc(K::Referral, S::Cancelled, None), SUBMITTER, none, Deny(D::Gone)),
        ("hospital", Read, doc(K::Referral, S::Cancelled, None), SUBMITTER, none, ok(B::Submitter)),
        ("pharmacy", Retrieve, doc(K::Referral, S::Current, Some(Retrieval::Allowed)), ADDRESSEE, none, ok(B::Addressee)),
        // --- writes
        ("hospital", Submit(None), Target::Patient, NONE, none, ok(B::Role)),
        ("clinic", Submit(Some(K::Checkup)), Target::Patient, NONE, none, ok(B::Role)),
        ("dental", Submit(None), Target::Patient, NONE, none, ok(B::Role)),
        ("dental", Submit(Some(K::Checkup)), Target::Patient, NONE, none, Deny(D::WrongRole)),
        ("pharmacy", Submit(None), Target::Patient, NONE, none, Deny(D::WrongRole)),
        ("checkup", Submit(Some(K::Checkup)), Target::Patient, NONE, none, ok(B::Role)),
        ("checkup", Submit(None), Target::Patient, NONE, none, Deny(D::WrongRole)),
        ("checkup", Submit(Some(K::Referral)), Target::Patient, NONE, none, Deny(D::WrongRole)),
        ("insurer", Submit(Some(K::Checkup)), Target::Patient, NONE, none, Deny(D::WrongRole)),
        ("patient", Submit(None), Target::Patient, OWN, none, Deny(D::WrongRole)),
        ("operator", Submit(None), Target::Patient, NONE, none, Deny(D::WrongRole)),
        ("hospital", Withdraw, Target::Patient, SUBMITTER, none, ok(B::Submitter)),
        ("hospital", Withdraw, Target::Patient, NONE, none, Deny(D::WrongRole)),
        ("insurer", Withdraw, Target::Patient, SUBMITTER, none, Deny(D::WrongRole)),
        // --- consent
        ("qs", GrantConsent, Target::Consents, NONE, none, ok(B::Role)),
        ("patient", GrantConsent, Target::Consents, OWN, none, ok(B::Own)),
        ("patient", GrantConsent, Target::Consents, NONE, none, Deny(D::WrongRole)),
        ("hospital", GrantConsent, Target::Consents, NONE, none, Deny(D::WrongRole)),
        ("operator", GrantConsent, Target::Consents, NONE, none, Deny(D::WrongRole)),
        ("patient", RevokeConsent, Target::Consents, OWN, none, ok(B::Own)),
        ("patient", RevokeConsent, Target::Consents, NONE, none, Deny(D::Hidden)),
        ("qs", RevokeConsent, Target::Consents, NONE, none, Deny(D::WrongRole)),
        ("hospital", RevokeConsent, Target::Consents, NONE, none, Deny(D::WrongRole)),
        ("patient", ReadConsents, Target::Consents, OWN, none, ok(B::Own)),
        ("patient", ReadConsents, Target::Consents, NONE, none, Deny(D::Hidden)),
        ("operator", ReadConsents, Target::Consents, NONE, none, ok(B::Role)),
        ("hospital", ReadConsents, Target::Consents, NONE, live, Deny(D::WrongRole)),
        ("patient", ReleaseReferral, Target::Consents, OWN, none, ok(B::Own)),
        ("patient", ReleaseReferral, Target::Consents, NONE, none, Deny(D::Hidden)),
        ("qs", ReleaseReferral, Target::Consents, NONE, none, ok(B::Role)),
        ("hospital", ReleaseReferral, Target::Consents, SUBMITTER, none, Deny(D::WrongRole)),
        // --- identification by the 4 情報
        ("hospital-er", Identify, Target::Patient, NONE, er, ok(B::Emergency)),
        ("hospital-er", Identify, Target::Patient, NONE, none, Deny(D::WrongRole)),
        ("hospital-er-1fa", Identify, Target::Patient, NONE, er, Deny(D::Emergency(E::NoTwoFactor))),
        ("clinic-er", Identify, Target::Patient, NONE, er, Deny(D::Emergency(E::NotHospital))),
        ("clinic", Identify, Target::Patient, NONE, dis, ok(B::Disaster)),
        ("clinic", Identify, Target::Patient, NONE, live, Deny(D::WrongRole)),
        ("insurer", Identify, Target::Patient, NONE, dis, Deny(D::WrongRole)),
        ("patient", Identify, Target::Patient, OWN, dis, Deny(D::WrongRole)),
        // --- administration
        ("operator", Administer, Target::Registry, NONE, none, ok(B::Role)),
        ("operator", Read, Target::Registry, NONE, none, ok(B::Role)),
        ("hospital", Administer, Target::Registry, NONE, none, Deny(D::WrongRole)),
        ("qs", Administer, Target::Registry, NONE, none, Deny(D::WrongRole)),
        ("patient", Read, Target::Consents, OWN, none, Deny(D::WrongRole)),
    ];
    let mut failures = Vec::new();
    for (name, action, target, relation, context, want) in &table {
        let principal = p(name);
        let got = decide(&Request {
            principal: &principal,
            action: *action,
            target: *target,
            relation: *relation,
            context: *context,
        });
        if got != *want {
            failures.push(format!(
                "{name} {action:?} {target:?} {relation:?} {context:?}: want {want:?}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every combination of caller, action, target, relation and context, against what must hold
/// whatever the row says.
#[test]
fn invariants_over_every_combination() {
    use Action::*;
    let actions = [
        Read,
        Retrieve,
        Submit(None),
        Submit(Some(DocKind::Checkup)),
        Withdraw,
        GrantConsent,
        RevokeConsent,
        ReadConsents,
        ReleaseReferral,
        Identify,
        Administer,
    ];
    let mut targets = vec![Target::Patient, Target::Consents, Target::Registry];
    for it in Item::SHARED.into_iter().chain([Item::Other]) {
        for flags in 0..16 {
            for held in [false, true] {
                targets.push(Target::Item {
                    item: it,
                    flags,
                    held,
                });
            }
        }
    }
    let retrievals = [
        None,
        Some(Retrieval::Allowed),
        Some(Retrieval::Held),
        Some(Retrieval::Expired),
        Some(Retrieval::Cancelled),
    ];
    for kind in [
        DocKind::Referral,
        DocKind::DischargeSummary,
        DocKind::Checkup,
        DocKind::PatientSummary,
    ] {
        for status in [
            DocStatus::Current,
            DocStatus::Held,
            DocStatus::Retrieved,
            DocStatus::Cancelled,
            DocStatus::Expired,
            DocStatus::Deleted,
        ] {
            for retrieval in retrievals {
                targets.push(doc(kind, status, retrieval));
            }
        }
    }
    let mut relations = Vec::new();
    for bits in 0..16u8 {
        relations.push(Relation {
            submitter: bits & 1 != 0,
            own: bits & 2 != 0,
            insured: bits & 4 != 0,
            addressee: bits & 8 != 0,
        });
    }
    let mut contexts = Vec::new();
    for consent in [CNone, Live, CExpired, Revoked] {
        for etreat in [false, true] {
            for disaster in [false, true] {
                for age in [0, 200] {
                    contexts.push(ctx(consent, etreat, disaster, age));
                }
            }
        }
    }
    let mut n = 0usize;
    for (name, principal) in principals() {
        for &action in &actions {
            for &target in &targets {
                for &relation in &relations {
                    for &context in &contexts {
                        n += 1;
                        let d = decide(&Request {
                            principal: &principal,
                            action,
                            target,
                            relation,
                            context,
                        });
                        let why = || {
                            format!("{name} {action:?} {target:?} {relation:?} {context:?} → {d:?}")
                        };
                        let reading = matches!(action, Read | Retrieve);
                        let clinical = matches!(
                            target,
                            Target::Item { .. } | Target::Document { .. } | Target::Patient
                        );
                        // The qualification service and the operator never read clinical data.
                        if matches!(
                            principal,
                            Principal::QualificationService | Principal::Operator
                        ) && reading
                            && clinical
                        {
                            assert!(!d.permitted(), "{}", why());
                        }
                        // Insurers read 健診 of their own insured only.
                        if principal.kind() == Some(InstitutionKind::Insurer)
                            && reading
                            && d.permitted()
                        {
                            assert!(
                                matches!(
                                    target,
                                    Target::Document {
                                        kind: DocKind::Checkup,
                                        ..
                                    }
                                ) && relation.insured,
                                "{}",
                                why()
                            );
                        }
                        if let (
                            true,
                            Target::Item { flags, held, .. },
                            Decision::Permit(basis, mark),
                        ) = (reading, target, d)
                        {
                            if basis != Basis::Submitter {
                                // Suspected, UNDELIVERED and held entries reach only their submitter.
                                assert!(
                                    flags & (FLAG_SUSPECTED | FLAG_UNDELIVERED) == 0 && !held,
                                    "{}",
                                    why()
                                );
                                // The patient never learns of an UNINFORMED diagnosis.
                                if matches!(principal, Principal::Patient { .. }) {
                                    assert!(flags & FLAG_UNINFORMED == 0, "{}", why());
                                }
                                // Consent, emergency or disaster: one of them is there.
                                if matches!(principal, Principal::Institution { .. }) {
                                    assert!(
                                        context.consent == Live
                                            || context.emergency_claimed
                                            || context.disaster,
                                        "{}",
                                        why()
                                    );
                                }
                            }
                            // The 未告知 mark is for institutions.
                            if mark == Mark::Uninformed {
                                assert!(
                                    matches!(principal, Principal::Institution { .. }),
                                    "{}",
                                    why()
                                );
                            }
                        }
                        // 患者サマリー: never to another institution; to the patient for six months.
                        if let Target::Document {
                            kind: DocKind::PatientSummary,
                            ..
                        } = target
                        {
                            if reading && d.permitted() {
                                assert!(
                                    relation.submitter || (relation.own && context.age_days <= 183),
                                    "{}",
                                    why()
                                );
                            }
                        }
                        // A patient never reaches another patient's data.
                        if matches!(principal, Principal::Patient { .. })
                            && !relation.own
                            && reading
                        {
                            assert!(!d.permitted(), "{}", why());
                        }
                        // Emergency access is a hospital's, with privilege and two factors.
                        if let Decision::Permit(Basis::Emergency, _) = d {
                            assert!(
                                emergency_check(&principal).is_ok() && context.emergency_claimed,
                                "{}",
                                why()
                            );
                        }
                        // A failed emergency claim is never silently ignored.
                        if context.emergency_claimed && emergency_check(&principal).is_err() {
                            if let Decision::Permit(b, _) = d {
                                assert!(
                                    !matches!(
                                        b,
                                        Basis::Consent | Basis::Disaster | Basis::Emergency
                                    ),
                                    "{}",
                                    why()
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(n > 1_000_000, "{n} combinations");
}

#[test]
fn consent_state_and_disaster_cover() {
    let g = |start, end, revoked| Grant {
        start,
        end,
        revoked,
    };
    let now = "2026-12-07T10:00:00.000Z";
    let table: &[(&[Grant], ConsentState)] = &[
        (&[], CNone),
        (
            &[g(
                "2026-12-07T00:00:00.000Z",
                "2026-12-08T00:00:00.000Z",
                false,
            )],
            Live,
        ),
        (
            &[g(
                "2026-12-06T00:00:00.000Z",
                "2026-12-07T00:00:00.000Z",
                false,
            )],
            CExpired,
        ),
        (
            &[g(
                "2026-12-07T00:00:00.000Z",
                "2026-12-08T00:00:00.000Z",
                true,
            )],
            Revoked,
        ),
        // The end is exclusive; a period that has not begun is not live.
        (&[g("2026-12-06T10:00:00.000Z", now, false)], CExpired),
        (
            &[g(
                "2026-12-08T00:00:00.000Z",
                "2026-12-09T00:00:00.000Z",
                false,
            )],
            CExpired,
        ),
        (
            &[
                g("2026-12-07T00:00:00.000Z", "2026-12-08T00:00:00.000Z", true),
                g(
                    "2026-12-07T09:00:00.000Z",
                    "2026-12-08T09:00:00.000Z",
                    false,
                ),
            ],
            Live,
        ),
        (
            &[
                g(
                    "2026-12-01T00:00:00.000Z",
                    "2026-12-02T00:00:00.000Z",
                    false,
                ),
                g("2026-12-07T00:00:00.000Z", "2026-12-08T00:00:00.000Z", true),
            ],
            Revoked,
        ),
    ];
    for (grants, want) in table {
        assert_eq!(
            consent_state(grants.iter().cloned(), now),
            *want,
            "{grants:?}"
        );
    }
    let insts = vec!["2712345678".to_string()];
    let d = |from, to, ended, prefs: &'static [u8]| Disaster {
        from,
        to,
        ended,
        prefectures: prefs,
        institutions: &insts,
    };
    let t: &[(Disaster, &str, u8, bool)] = &[
        (
            d(
                "2026-12-01T00:00:00.000Z",
                "2026-12-31T00:00:00.000Z",
                false,
                &[13],
            ),
            "1312345678",
            13,
            true,
        ),
        (
            d(
                "2026-12-01T00:00:00.000Z",
                "2026-12-31T00:00:00.000Z",
                false,
                &[13],
            ),
            "1412345678",
            14,
            false,
        ),
        (
            d(
                "2026-12-01T00:00:00.000Z",
                "2026-12-31T00:00:00.000Z",
                false,
                &[13],
            ),
            "2712345678",
            27,
            true,
        ),
        (
            d(
                "2026-12-01T00:00:00.000Z",
                "2026-12-31T00:00:00.000Z",
                true,
                &[13],
            ),
            "1312345678",
            13,
            false,
        ),
        (
            d(
                "2026-11-01T00:00:00.000Z",
                "2026-12-01T00:00:00.000Z",
                false,
                &[13],
            ),
            "1312345678",
            13,
            false,
        ),
        (
            d(
                "2026-12-08T00:00:00.000Z",
                "2026-12-31T00:00:00.000Z",
                false,
                &[13],
            ),
            "1312345678",
            13,
            false,
        ),
    ];
    for (decl, number, pref, want) in t {
        assert_eq!(
            disaster_covers([decl.clone()], number, *pref, now),
            *want,
            "{decl:?} {number}"
        );
    }
}
