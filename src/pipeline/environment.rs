//! The machine a run ran on, recorded with every run.

pub use crate::report::Environment;

impl Environment {
    /// Reads the environment of this process (Linux `/proc` where available).
    pub fn detect(gpu: Option<String>) -> Environment {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let memory_gib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map(|kb| (kb / 1024.0 / 1024.0 * 10.0).round() / 10.0)
        });
        Environment {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: option_env!("MEDOCR_GIT_COMMIT").map(str::to_string),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            cpu,
            cores: crate::model::device::cpu_threads(),
            memory_gib,
            gpu,
        }
    }
}
