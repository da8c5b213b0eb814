//! The hub: its store, validator, search indexer, clock and settings, shared by every use
//! case; and the clock.

use std::sync::Arc;

use conformance::{SearchIndexer, Validator};
use store::Store;

use crate::dates;

/// Largest accepted body: 10 MB (DECISIONS.md "Size limit").
pub const MAX_BODY: usize = 10 * 1024 * 1024;

/// The hub's clock: the system clock, or a fixed instant for tests and demos.
#[derive(Clone, Debug)]
pub enum Clock {
    System,
    Fixed(String),
}

impl Clock {
    pub fn now(&self) -> String {
        match self {
            Clock::System => store::now_utc(),
            Clock::Fixed(t) => t.clone(),
        }
    }
    pub fn today(&self) -> i64 {
        dates::day_number(&self.now()).unwrap_or(0)
    }
}

pub struct Hub {
    pub store: Store,
    pub validator: Arc<Validator>,
    pub indexer: Arc<SearchIndexer>,
    pub clock: Clock,
    /// Development authentication is on (the HTTP edge reads it).
    pub dev_auth: bool,
    /// The institution registry as requests see it (cached lookups).
    pub directory: crate::identity::Directory,
    /// How long a viewing consent lasts, in hours (DECISIONS.md: 24).
    pub consent_hours: i64,
    /// Absolute base of the FHIR endpoint, e.g. `http://127.0.0.1:8080/fhir`.
    pub base: String,
    /// The authorization server: token issuance and bearer-token verification.
    pub auth: crate::auth::Authority,
    /// Rate limits per caller and per address.
    pub limits: crate::limits::Limits,
    /// Where the audit trail's checkpoints are also written (outside the database), if set.
    pub audit_anchor: Option<std::path::PathBuf>,
    /// The audit trail's writer (group commit of the records of all requests).
    pub audit: crate::audit::Recorder,
    /// Set by `clins-hub demo` only: who the start page's one-click sign-ins are.
    pub demo: std::sync::OnceLock<Demo>,
}

/// The demo's people, for the start page's one-click sign-ins (never set outside a demo).
#[derive(Clone, Debug, Default)]
pub struct Demo {
    /// The hospital whose doctor (emergency privilege) signs in as `doctor`.
    pub hospital: String,
    /// The pharmacy whose pharmacist signs in as `pharmacist`.
    pub pharmacy: String,
    /// The example patient's normalised member id.
    pub patient: String,
    /// The operator's account.
    pub operator: String,
}
