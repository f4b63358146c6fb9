//! What an "insufficient sample" verdict does to a run's exit code.

use serde::{Deserialize, Serialize};

/// The exit-code policy for verdicts on fewer documents than the profile's
/// `min_documents` (`--insufficient-sample`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SamplePolicy {
    /// Mark the verdict in every report; the exit code follows PASS/FAIL alone.
    #[default]
    Warn,
    /// Also exit non-zero, as for a failed limit: the run is no release evidence.
    Fail,
}

impl SamplePolicy {
    /// Whether a run whose verdicts are `failed` / `insufficient` fails under this policy.
    pub fn run_fails(self, failed: bool, insufficient: bool) -> bool {
        failed || (self == SamplePolicy::Fail && insufficient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warn_follows_the_verdicts_fail_also_refuses_small_samples() {
        assert!(!SamplePolicy::Warn.run_fails(false, true));
        assert!(SamplePolicy::Warn.run_fails(true, false));
        assert!(SamplePolicy::Fail.run_fails(false, true));
        assert!(!SamplePolicy::Fail.run_fails(false, false));
    }
}
