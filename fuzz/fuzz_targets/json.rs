//! The JSON parser: any bytes either parse or are refused with an error; what parses writes
//! back to text that parses to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = fhir::json::parse_bytes(data) {
        let text = fhir::json::to_string(&v);
        let again = fhir::json::parse(&text).expect("written JSON parses again");
        assert_eq!(
            fhir::json::to_string(&again),
            text,
            "a round trip is stable"
        );
    }
});
