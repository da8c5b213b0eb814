//! FHIR R4 JSON core for clins-hub.
//!
//! Architecture invariant: this crate does no I/O and knows nothing about profiles, HTTP or
//! storage. It turns bytes into lossless JSON values and back, knows the R4 primitive types,
//! resolves references inside a Bundle, and builds OperationOutcomes.
// One audited unsafe call (inline strings, `json::inline_str`); everything else is safe.
#![deny(unsafe_code)]

pub mod base64;
pub mod json;
pub mod outcome;
pub mod primitive;
pub mod reference;

pub use json::{Object, ParseError, Str, Value};
pub use outcome::{Issue, IssueType, Severity};
