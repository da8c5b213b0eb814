//! The identifier parsers of the service: 被保険者個人識別子 (member id), Bundle-ID and
//! 医療機関番号. Anything is parsed or refused; what parses normalises to a key that
//! `parse_key` reads back to the same key (the hub links to patients by their key).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = clins::InsuranceMemberId::parse(s) {
        let n = m.normalized();
        let again = clins::InsuranceMemberId::parse_key(&n).expect("a member id's key parses back");
        assert_eq!(again.normalized(), n);
    }
    let _ = clins::ids::BundleId::parse(s);
    let _ = clins::ids::InstitutionNumber::parse(s);
});
