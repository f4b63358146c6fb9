//! Peak resident memory of this process while a document ran (Linux): the kernel's
//! high-water mark `VmHWM` is reset by writing `5` to `/proc/self/clear_refs` before the
//! document and read after it. The figure is the whole process (models, rendered pages,
//! scorer), which is what a deployment has to provision. Elsewhere it is `None`.

/// Resets the high-water mark to the current resident size. Returns `false` when the
/// platform does not allow it (then [`peak_rss_mib`] is the peak since process start).
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The resident-set high-water mark in MiB (`VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

// The test is `tests/peak_memory.rs`, alone in its binary: the figure is the whole
// process's, so tests allocating on other threads would move it.
