//! Reads: `Patient/$summary`, search, read, vread, history, documents: adapters of the
//! application core (`app::read`), one file per interaction. What a caller may see is decided
//! in `app::access` (the only caller of `clins::policy::decide`); these modules parse requests
//! and write Bundles.

pub(crate) mod documents;
mod instance;
mod metadata;
pub(crate) mod params;
pub(crate) mod render;
mod search;
pub(crate) mod summary;

pub use instance::{history, read, vread};
pub use metadata::metadata;
pub use search::search;
pub use summary::summary;
