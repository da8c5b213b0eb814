//! FHIR R4 JSON core for clins-hub.
//!
//! Architecture invariant: this crate does no I/O and knows nothing about profiles, HTTP or
//! storage. It turns bytes into lossless JSON values and back, knows the R4 primitive types,
//! resolves references inside a Bundle, and builds OperationOutcomes.
#![forbid(unsafe_code)]

pub mod json;
pub mod outcome;
pub mod primitive;
pub mod reference;

pub use json::{Object, ParseError, Value};
pub use outcome::{Issue, IssueType, Severity};
