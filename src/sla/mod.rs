//! SLA profiles (`profiles/<doc_type>.toml`) and the verdicts a run gets against them.

mod profile;
mod set;
mod verdict;

pub use profile::{load_profiles, AccuracyLimits, LatencyLimits, Profile, ProfileError};
pub use set::{ProfileSet, BUNDLED};
pub use verdict::{check, Check, Measured, Status, Verdict};
