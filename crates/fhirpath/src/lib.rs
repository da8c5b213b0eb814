//! FHIRPath for clins-hub: the N1 grammar and function library with the FHIR R4 additions,
//! evaluated over the lossless JSON values of `crates/fhir`.
//!
//! Architecture invariant: no I/O. What the engine knows about FHIR types (element types,
//! choice elements, inheritance) comes through the [`model::Model`] trait, which
//! `crates/conformance` implements from the R4 definitions; value-set membership for
//! `memberOf()` and profile conformance for `conformsTo()` come the same way.
#![forbid(unsafe_code)]

pub mod ast;
mod codec;
pub mod decimal;
pub mod eval;
mod functions;
pub mod item;
pub mod lexer;
pub mod model;
mod ops;
pub mod parser;
pub mod quantity;
mod regex_cache;
pub mod temporal;
#[cfg(test)]
mod test_util;
pub mod ucum;

pub use eval::{compile, compile_cached, evaluate, Compiled, Context, Error, EvalError};
pub use functions::to_string;
pub use item::{intern, Collection, Item, Node, Text};
pub use model::{ChildDef, Model, NoModel};
