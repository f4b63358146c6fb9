//! SLA profiles (`profiles/<doc_type>.toml`) and the verdicts a run gets against them,
//! each marked "insufficient sample" on fewer documents than the profile's minimum.

mod profile;
mod sample_policy;
mod set;
mod verdict;

pub use profile::{load_profiles, AccuracyLimits, LatencyLimits, Profile, ProfileError};
pub use sample_policy::SamplePolicy;
pub use set::{ProfileSet, BUNDLED};
pub use verdict::{check, Check, Measured, Status, Verdict};
