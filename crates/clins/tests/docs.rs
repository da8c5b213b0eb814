//! Every detail code the rules can emit is documented in `docs/errors.md`.

fn codes_in(text: &str, quoted: bool) -> std::collections::BTreeSet<String> {
    let needle = if quoted { "\"CLINS-" } else { "CLINS-" };
    text.match_indices(needle)
        .map(|(i, _)| {
            let start = if quoted { i + 1 } else { i };
            text[start..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '-')
                .collect::<String>()
                .trim_end_matches('-')
                .to_string()
        })
        .collect()
}

#[test]
fn every_detail_code_is_documented() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let docs = std::fs::read_to_string(format!("{root}/docs/errors.md")).expect("docs/errors.md");
    let section = docs
        .split("## JP-CLINS service rules (crates/clins)")
        .nth(1)
        .expect("the crates/clins section of docs/errors.md");
    let mut src = String::new();
    for file in ["rules.rs", "invariants.rs"] {
        let path = format!("{}/src/{file}", env!("CARGO_MANIFEST_DIR"));
        src.push_str(&std::fs::read_to_string(&path).expect("source file"));
    }
    let emitted = codes_in(&src, true);
    let documented = codes_in(section, false);
    assert!(emitted.len() > 40, "{emitted:?}");
    let missing: Vec<&String> = emitted.difference(&documented).collect();
    assert!(missing.is_empty(), "undocumented detail codes: {missing:?}");
    let stale: Vec<&String> = documented.difference(&emitted).collect();
    assert!(stale.is_empty(), "documented but never emitted: {stale:?}");
}
