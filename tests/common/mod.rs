//! Helpers shared by the tests that run the `medocr` binary.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary built for these tests in `cwd`.
pub fn medocr(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medocr"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run medocr")
}

/// stdout and stderr together, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
