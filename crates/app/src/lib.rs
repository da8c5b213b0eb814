//! The clins-hub application core: the use cases of the hub over a typed caller, without HTTP.
//! Each takes a [`access::Caller`] (a `clins::policy::Principal` and its purpose of use) and a
//! typed request, and returns a typed result or a [`Refusal`], which only the HTTP edge turns
//! into a status. [`access`] is the only caller of the access decision
//! (`clins::policy::decide`); the store returns facts and decides nothing.
//!
//! - [`identity`]: an authenticated [`identity::Claim`] → a `Principal`, through the
//!   institution registry.
//! - [`submit`], [`withdraw`], [`purge`]: `$submit` (and `clins-hub import`), `$withdraw` with
//!   取消UNDO, retention; [`ingest`]: from a validated Bundle to the rows the store keeps.
//! - [`read`]: `$summary`, searches, read/vread/history, the Patient, documents.
//! - [`registry`], [`disaster`]: the operator's registry and disaster declarations.
//! - [`identify`]: identification by the 4 情報 (emergency, disaster) and its index.
//! - [`consent`]: viewing consent (grant, list, read, revoke) and the release of held referrals.
//! - [`auth`]: `POST /auth/token` (SMART Backend Services), bearer-token verification,
//!   利用申請 and the clients and keys it creates.
//! - [`audit`]: the audit trail's records (hash chain), AuditEvents, checkpoints, verification.
//! - [`dates`]: FHIR dates as UTC ranges and instants (the one date helper of the hub).
#![forbid(unsafe_code)]

pub mod access;
pub mod audit;
pub mod auth;
pub mod consent;
pub mod dates;
pub mod disaster;
mod hub;
pub mod identify;
pub mod identity;
pub mod ingest;
pub mod limits;
pub mod purge;
pub mod read;
pub mod refusal;
pub mod registry;
pub mod submit;
pub mod withdraw;

pub use access::Caller;
pub use hub::{Clock, Demo, Hub, MAX_BODY};
pub use refusal::{Refusal, Why};
