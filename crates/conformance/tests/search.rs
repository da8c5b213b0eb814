//! Search index extraction from the R4 SearchParameter expressions.

mod common;

use std::sync::Arc;

use conformance::{Definitions, IndexValue, SearchIndexer};
use fhir::json;

fn indexer() -> SearchIndexer {
    SearchIndexer::new(Arc::new(Definitions::r4().expect("R4 loads")))
}

fn values<'a>(
    found: &'a [(Arc<conformance::search::SearchParam>, IndexValue)],
    code: &str,
) -> Vec<&'a IndexValue> {
    found
        .iter()
        .filter(|(p, _)| &*p.code == code)
        .map(|(_, v)| v)
        .collect()
}

#[test]
fn every_r4_search_expression_compiles() {
    let ix = indexer();
    assert!(
        ix.broken.is_empty(),
        "expressions that do not compile: {:?}",
        ix.broken
    );
    assert!(ix.params("Observation").len() > 20);
    assert!(ix.params("Condition").iter().any(|p| &*p.code == "patient"));
}

#[test]
fn condition_values_by_kind() {
    let c = json::parse(
        r#"{"resourceType":"Condition","id":"c1",
            "clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
            "code":{"coding":[{"system":"http://medis.or.jp/CodeSystem/master-disease-keyNumber","code":"20051234"}],"text":"2型糖尿病"},
            "subject":{"reference":"Patient/p1"},
            "onsetDateTime":"2015-06",
            "recordedDate":"2026-11-20"}"#,
    )
    .unwrap();
    let (found, failed) = indexer().extract(&c);
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        values(&found, "code"),
        vec![&IndexValue::Token {
            system: Some("http://medis.or.jp/CodeSystem/master-disease-keyNumber".into()),
            code: "20051234".into()
        }]
    );
    assert_eq!(
        values(&found, "patient"),
        vec![&IndexValue::Reference("Patient/p1".into())]
    );
    assert_eq!(
        values(&found, "subject"),
        vec![&IndexValue::Reference("Patient/p1".into())]
    );
    match values(&found, "onset-date").as_slice() {
        [IndexValue::Date {
            low: Some(l),
            high: Some(h),
        }] => {
            assert!(l.starts_with("2015-06-01T00:00:00.000"), "{l}");
            assert!(h.starts_with("2015-06-30T23:59:59.999"), "{h}");
        }
        other => panic!("onset-date: {other:?}"),
    }
    assert_eq!(values(&found, "clinical-status").len(), 1);
}

#[test]
fn observation_choice_and_quantity() {
    let o = json::parse(
        r#"{"resourceType":"Observation","status":"final",
            "code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},
            "subject":{"reference":"urn:uuid:0a8e2a0c-7b6f-4a7c-9f43-3b1d6f0d2e11"},
            "effectiveDateTime":"2026-11-20T09:30:00+09:00",
            "valueQuantity":{"value":7.20,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}"#,
    )
    .unwrap();
    let (found, failed) = indexer().extract(&o);
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        values(&found, "value-quantity"),
        vec![&IndexValue::Quantity {
            value: "7.20".into(),
            system: Some("http://unitsofmeasure.org".into()),
            code: Some("%".into()),
            unit: Some("%".into())
        }]
    );
    assert_eq!(values(&found, "date").len(), 1);
    assert!(values(&found, "value-string").is_empty());
}

#[test]
fn all_r4_examples_extract_without_errors() {
    let Some(shared) = common::shared() else {
        return;
    };
    let ix = indexer();
    let mut values_total = 0;
    let mut problems = Vec::new();
    for f in common::json_files(&shared.join("conformance/r4-examples")) {
        let v = json::parse_bytes(&std::fs::read(&f).unwrap()).unwrap();
        let (found, failed) = ix.extract(&v);
        values_total += found.len();
        if !failed.is_empty() {
            problems.push(format!("{}: {failed:?}", f.display()));
        }
    }
    println!("{values_total} index values from the R4 examples");
    assert!(values_total > 3000);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn shared_parameters_are_pruned_to_the_branches_of_their_type() {
    let ix = indexer();
    let code = |rt: &str| {
        ix.params(rt)
            .iter()
            .find(|p| &*p.code == "code")
            .map(|p| p.expression.as_ref().map(|c| c.text.to_string()))
    };
    assert_eq!(code("Condition"), Some(Some("Condition.code | {}".into())));
    assert_eq!(
        code("AllergyIntolerance"),
        Some(Some(
            "AllergyIntolerance.code | AllergyIntolerance.reaction.substance".into()
        ))
    );
    let types: std::collections::HashSet<&str> = ["Condition", "Observation", "Patient"]
        .into_iter()
        .collect();
    let prune = |e: &str, rt: &str| conformance::search::prune_union(e, rt, &types);
    assert_eq!(
        prune("Condition.code", "Condition"),
        None,
        "nothing to drop"
    );
    assert_eq!(
        prune(
            "Observation.code | (Condition.code as CodeableConcept)",
            "Condition"
        ),
        Some("(Condition.code as CodeableConcept) | {}".into())
    );
    assert_eq!(
        prune(
            "Observation.code | Resource.id | name.where(x = 'A|B')",
            "Condition"
        ),
        Some("Resource.id | name.where(x = 'A|B')".into()),
        "Resource branches, element paths and a | inside quotes are kept"
    );
    assert_eq!(
        prune(
            "(Observation.code | Condition.code) | Patient.name",
            "Condition"
        ),
        Some("(Observation.code | Condition.code) | {}".into()),
        "a parenthesised union is kept whole"
    );
    assert_eq!(prune("Observation.code", "Condition"), Some(String::new()));
    assert_eq!(prune("Observation.code | (Condition", "Condition"), None);
}

/// The pruned expression of every parameter gives exactly the values of the SearchParameter's
/// whole expression, on every R4 example.
#[test]
fn pruned_expressions_give_the_values_of_the_whole_ones() {
    let Some(shared) = common::shared() else {
        return;
    };
    let ix = indexer();
    let (mut compared, mut pruned) = (0, 0);
    for f in common::json_files(&shared.join("conformance/r4-examples")) {
        let v = json::parse_bytes(&std::fs::read(&f).unwrap()).unwrap();
        let Some(rt) = v.get("resourceType").and_then(json::Value::as_str) else {
            continue;
        };
        for p in ix.params(rt) {
            let Some(ours) = &p.expression else { continue };
            if ours.text == p.source {
                continue;
            }
            pruned += 1;
            let whole = fhirpath::compile(&p.source).unwrap();
            let a = ix.evaluate(&v, ours, p.kind).map_err(|e| e.to_string());
            let b = ix.evaluate(&v, &whole, p.kind).map_err(|e| e.to_string());
            assert_eq!(a, b, "{} {} on {}", rt, p.code, f.display());
            compared += usize::from(a.as_ref().is_ok_and(|x| !x.is_empty()));
        }
    }
    println!(
        "{pruned} pruned evaluations, {compared} with values, all equal to the whole expression"
    );
    assert!(compared > 500, "{compared}");
}
