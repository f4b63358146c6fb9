//! The peak-memory reading of `run` (`pipeline::memory`). The figure is the whole
//! process's, so this test lives alone in its own binary: in the library's test binary,
//! other tests allocating and freeing on other threads moved it (a CI failure).

use medocr::pipeline::memory::{peak_rss_mib, reset_peak};

#[test]
fn peak_grows_with_an_allocation_and_resets() {
    if !reset_peak() {
        return; // not Linux, or /proc not writable: nothing to measure
    }
    let before = peak_rss_mib().expect("VmHWM on Linux");
    let big = vec![1u8; 64 << 20];
    std::hint::black_box(&big);
    let during = peak_rss_mib().unwrap();
    assert!(during >= before + 60.0, "{before} → {during}");
    drop(big);
    assert!(reset_peak());
    assert!(peak_rss_mib().unwrap() < during - 30.0);
}
