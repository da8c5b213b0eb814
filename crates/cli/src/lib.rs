//! The library side of the `clins-hub` binary: the validation pipeline every entry point uses
//! (command line today, the server and import later), so that all of them accept and reject
//! exactly the same submissions.
#![forbid(unsafe_code)]

pub mod fhirpath_suite;
pub mod gen;
pub mod hub;
pub mod pipeline;
