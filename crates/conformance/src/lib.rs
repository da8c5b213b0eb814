//! FHIR conformance for clins-hub: definitions (the embedded R4 core table and IG packages
//! loaded at run time), StructureDefinitions compiled into validation plans, local terminology,
//! and the validator.
//!
//! Architecture invariant: no network, no terminology server. What cannot be decided locally is
//! reported as `information`, never as a false error.
#![forbid(unsafe_code)]

pub mod bounds;
pub mod definitions;
pub mod fhirpath_model;
pub mod plan;
pub mod search;
pub mod snapshot;
pub mod terminology;
pub mod validator;

pub use definitions::{Definitions, LoadError, PackageInfo};
pub use fhirpath_model::DefinitionsModel;
pub use search::{IndexValue, SearchIndexer, SearchKind};
pub use validator::{RuleSet, Validator, MAX_BYTES};
