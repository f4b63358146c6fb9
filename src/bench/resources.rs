//! Resource use of the process during a measurement (Linux `/proc`; elsewhere `None`):
//!
//! - **peak RSS**: the kernel's resident-set high-water mark `VmHWM`, reset by writing `5`
//!   to `/proc/self/clear_refs` when the measurement starts (as `medocr run` does per
//!   document). The whole process: loaded models, rendered pages, the harness.
//! - **CPU**: `utime + stime` of this process plus `cutime + cstime` of its waited-for
//!   children (Tesseract runs as a child) from `/proc/self/stat`, in clock ticks of
//!   1/100 s (Linux's `USER_HZ`), over the wall time: `cpu_cores_busy` = CPU seconds /
//!   wall seconds (1.0 = one core fully busy), `cpu_utilisation` = that / logical cores.
//! - **GPU** (NVIDIA): NVML is loaded at run time (`libnvidia-ml.so.1`, through
//!   nvml-wrapper); a sampler thread reads the memory in use, utilisation and power of the
//!   engine's device (its CUDA ordinal, 0 when it names none) every 100 ms, with its SM
//!   clock, temperature and slowdown reasons (`gpu_state`), so throttling during a
//!   measurement is counted. Without NVML the figures are absent and `gpu.note` says why —
//!   that is not an error. NVML reports the whole device, other processes included.
//! - The Burn backends keep no memory statistics of their own that this crate can read
//!   (the default CPU backend allocates from the process heap, which RSS covers).

use super::gpu_state::GpuState;
use crate::engine::EngineInfo;
use crate::model::device::DeviceChoice;
use crate::pipeline::memory;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::{Device, Nvml};
use serde::{Deserialize, Serialize};
use std::ffi::OsStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the GPU sampler reads NVML.
const GPU_SAMPLE_PERIOD: Duration = Duration::from_millis(100);

/// Linux's `USER_HZ`: the unit of the CPU times in `/proc/<pid>/stat`.
const CLOCK_TICKS_PER_S: f64 = 100.0;

/// What a measurement used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub peak_rss_mib: Option<f64>,
    /// CPU seconds of this process and its finished children.
    pub cpu_s: Option<f64>,
    /// Of which the children's (e.g. Tesseract processes).
    pub cpu_children_s: Option<f64>,
    /// CPU seconds / wall seconds: 1.0 = one core fully busy.
    pub cpu_cores_busy: Option<f64>,
    /// `cpu_cores_busy` / logical cores, 0–1.
    pub cpu_utilisation: Option<f64>,
    pub gpu: GpuStats,
}

/// GPU figures sampled through NVML.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuStats {
    pub available: bool,
    /// Why there are no figures ("NVML not available: …"), or other remarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    pub samples: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_peak_mib: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilisation_mean_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilisation_max_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_mean_w: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_max_w: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_max_c: Option<u32>,
    /// The lowest SM clock seen: with `slowdown`, how far the clocks fell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_clock_min_mhz: Option<u32>,
    /// Every slowdown reason seen (`gpu_state::SLOWDOWNS`), and in how many samples any was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slowdown: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub slowdown_samples: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// (own CPU seconds, children's CPU seconds) from `/proc/self/stat`.
pub fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat_cpu(&stat)
}

/// Fields 14–17 of `/proc/<pid>/stat` (utime, stime, cutime, cstime), counted after the
/// command name's closing parenthesis because the name itself may contain spaces.
fn parse_stat_cpu(stat: &str) -> Option<(f64, f64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ")": field 3 (state) is index 0, so field k is index k − 3.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |k: usize| -> Option<f64> { f.get(k - 3)?.parse::<f64>().ok() };
    let own = tick(14)? + tick(15)?;
    let children = tick(16)? + tick(17)?;
    Some((own / CLOCK_TICKS_PER_S, children / CLOCK_TICKS_PER_S))
}

/// The CUDA ordinal of the GPU an engine runs on, from its `device` setting (`cuda:N`), so
/// the sampler watches that device; 0 when the engine names none (CPU, remote, unknown).
pub fn gpu_index(info: &EngineInfo) -> u32 {
    match info
        .settings
        .get("device")
        .map(|d| d.parse::<DeviceChoice>())
    {
        Some(Ok(DeviceChoice::Cuda(i))) => u32::try_from(i).unwrap_or(0),
        _ => 0,
    }
}

/// Watches the process from [`ResourceMonitor::start`] to [`ResourceMonitor::stop`].
pub struct ResourceMonitor {
    started: Instant,
    cpu0: Option<(f64, f64)>,
    gpu: Option<GpuSampler>,
    gpu_note: Option<String>,
}

impl ResourceMonitor {
    /// Resets the RSS high-water mark, reads the CPU clock and starts sampling GPU
    /// `gpu_index` (see [`gpu_index`]).
    pub fn start(gpu_index: u32) -> Self {
        memory::reset_peak();
        let (gpu, gpu_note) = match open_nvml(gpu_index) {
            Ok(n) => (Some(GpuSampler::spawn(n, gpu_index)), None),
            Err(why) => (None, Some(format!("NVML not available: {why}"))),
        };
        ResourceMonitor {
            started: Instant::now(),
            cpu0: cpu_seconds(),
            gpu,
            gpu_note,
        }
    }

    pub fn stop(self) -> Resources {
        let wall = self.started.elapsed().as_secs_f64();
        let peak_rss_mib = memory::peak_rss_mib();
        let cpu = match (self.cpu0, cpu_seconds()) {
            (Some((o0, c0)), Some((o1, c1))) => Some(((o1 - o0) + (c1 - c0), c1 - c0)),
            _ => None,
        };
        let cores = crate::model::device::cpu_threads() as f64;
        let busy = cpu.and_then(|(c, _)| (wall > 0.0).then(|| c / wall));
        let gpu = match self.gpu {
            Some(s) => s.finish(),
            None => GpuStats {
                note: self.gpu_note,
                ..GpuStats::default()
            },
        };
        Resources {
            peak_rss_mib,
            cpu_s: cpu.map(|c| c.0),
            cpu_children_s: cpu.map(|c| c.1),
            cpu_cores_busy: busy,
            cpu_utilisation: busy.map(|b| b / cores),
            gpu,
        }
    }
}

/// Initialises NVML and checks that GPU `index` exists. The library is opened at run time
/// (nvml-wrapper loads `libnvidia-ml.so.1`), so the binary needs no NVIDIA driver; the
/// unversioned name is the fallback some installs only have.
pub(super) fn open_nvml(index: u32) -> Result<Nvml, String> {
    let nvml = Nvml::init()
        .or_else(|_| {
            Nvml::builder()
                .lib_path(OsStr::new("libnvidia-ml.so"))
                .init()
        })
        .map_err(|e| match e {
            // nvml-wrapper's text for this case names the loader, not what is missing.
            NvmlError::LibloadingError(_) => {
                "no NVIDIA driver library (libnvidia-ml.so.1) on this machine".to_string()
            }
            e => e.to_string(),
        })?;
    if let Err(e) = nvml.device_by_index(index) {
        return Err(format!("no GPU {index} ({e})"));
    }
    Ok(nvml)
}

/// One reading of the watched device; a figure NVML cannot give is `None`.
struct Reading {
    memory_used_mib: Option<f64>,
    utilisation_pct: Option<f64>,
    power_w: Option<f64>,
    state: GpuState,
}

fn read(device: &Device<'_>) -> Reading {
    Reading {
        memory_used_mib: device.memory_info().ok().map(|m| m.used as f64 / 1048576.0),
        utilisation_pct: device.utilization_rates().ok().map(|u| u.gpu as f64),
        // NVML reports milliwatts.
        power_w: device.power_usage().ok().map(|mw| mw as f64 / 1000.0),
        state: GpuState::read(device),
    }
}

/// The state of GPU `index` now, `None` without NVML or that device.
pub fn gpu_state(index: u32) -> Option<GpuState> {
    let nvml = open_nvml(index).ok()?;
    let device = nvml.device_by_index(index).ok()?;
    Some(GpuState::read(&device))
}

/// A thread reading NVML until told to stop.
struct GpuSampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<GpuStats>,
}

impl GpuSampler {
    /// The thread owns `nvml`; the device handle borrows it, so it is taken there.
    fn spawn(nvml: Nvml, index: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || match nvml.device_by_index(index) {
            Ok(device) => sample_until(&device, &flag),
            Err(e) => GpuStats {
                note: Some(format!("NVML not available: no GPU {index} ({e})")),
                ..GpuStats::default()
            },
        });
        GpuSampler { stop, handle }
    }

    fn finish(self) -> GpuStats {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_else(|_| GpuStats {
            note: Some("the GPU sampler thread panicked".into()),
            ..GpuStats::default()
        })
    }
}

/// Reads `device` every [`GPU_SAMPLE_PERIOD`] until `stop` is set (at least once).
fn sample_until(device: &Device<'_>, stop: &AtomicBool) -> GpuStats {
    let mut out = GpuStats {
        available: true,
        device: device.name().ok(),
        ..GpuStats::default()
    };
    let (mut util_sum, mut util_n, mut power_sum, mut power_n) = (0.0, 0, 0.0, 0);
    loop {
        let r = read(device);
        out.samples += 1;
        if let Some(m) = r.memory_used_mib {
            out.memory_used_peak_mib = Some(out.memory_used_peak_mib.unwrap_or(0.0).max(m));
        }
        if let Some(u) = r.utilisation_pct {
            util_sum += u;
            util_n += 1;
            out.utilisation_max_pct = Some(out.utilisation_max_pct.unwrap_or(0.0).max(u));
        }
        if let Some(p) = r.power_w {
            power_sum += p;
            power_n += 1;
            out.power_max_w = Some(out.power_max_w.unwrap_or(0.0).max(p));
        }
        note_state(&mut out, r.state);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(GPU_SAMPLE_PERIOD);
    }
    out.utilisation_mean_pct = (util_n > 0).then(|| util_sum / util_n as f64);
    out.power_mean_w = (power_n > 0).then(|| power_sum / power_n as f64);
    out
}

/// Folds one reading's clock, temperature and slowdown reasons into `out`.
fn note_state(out: &mut GpuStats, state: GpuState) {
    if let Some(t) = state.temperature_c {
        out.temperature_max_c = Some(out.temperature_max_c.map_or(t, |m| m.max(t)));
    }
    if let Some(c) = state.sm_clock_mhz {
        out.sm_clock_min_mhz = Some(out.sm_clock_min_mhz.map_or(c, |m| m.min(c)));
    }
    if !state.slowdown.is_empty() {
        out.slowdown_samples += 1;
    }
    for reason in state.slowdown {
        if !out.slowdown.contains(&reason) {
            out.slowdown.push(reason);
        }
    }
}

/// The name of GPU `index` as NVML reports it, or why there is none (no driver, no device).
pub fn gpu_name(index: u32) -> Result<String, String> {
    let nvml = open_nvml(index)?;
    let name = nvml.device_by_index(index).and_then(|d| d.name());
    Ok(name.unwrap_or_else(|_| "an NVIDIA GPU (name unreadable)".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_name_with_spaces() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime cutime cstime ...
        let stat = "42 (my (odd) name) R 1 2 3 4 5 6 7 8 9 10 250 50 100 30 20 0 1";
        let (own, children) = parse_stat_cpu(stat).unwrap();
        assert!((own - 3.0).abs() < 1e-12); // (250 + 50) / 100
        assert!((children - 1.3).abs() < 1e-12); // (100 + 30) / 100
    }

    #[test]
    fn gpu_index_follows_the_engine_device() {
        let info = |device: Option<&str>| EngineInfo {
            name: "builtin".into(),
            version: "test".into(),
            checkpoint_sha256: None,
            streaming: crate::engine::Streaming::PerToken,
            token_unit: "token".into(),
            settings: device
                .map(|d| [("device".to_string(), d.to_string())].into())
                .unwrap_or_default(),
        };
        assert_eq!(gpu_index(&info(Some("cuda:3"))), 3);
        assert_eq!(gpu_index(&info(Some("cuda"))), 0);
        assert_eq!(gpu_index(&info(Some("cpu"))), 0);
        assert_eq!(gpu_index(&info(Some("tpu:1"))), 0);
        assert_eq!(gpu_index(&info(None)), 0);
    }

    #[test]
    fn readings_fold_into_the_hottest_slowest_state_and_every_reason() {
        let mut out = GpuStats::default();
        let reading = |clock, temp, slowdown: &[&str]| GpuState {
            sm_clock_mhz: Some(clock),
            temperature_c: Some(temp),
            slowdown: slowdown.iter().map(|s| s.to_string()).collect(),
            ..GpuState::default()
        };
        note_state(&mut out, reading(1980, 60, &[]));
        note_state(&mut out, reading(1600, 85, &["sw_thermal_slowdown"]));
        note_state(
            &mut out,
            reading(1700, 80, &["sw_power_cap", "sw_thermal_slowdown"]),
        );
        note_state(&mut out, GpuState::default());
        assert_eq!(out.sm_clock_min_mhz, Some(1600));
        assert_eq!(out.temperature_max_c, Some(85));
        assert_eq!(out.slowdown, ["sw_thermal_slowdown", "sw_power_cap"]);
        assert_eq!(out.slowdown_samples, 2);
    }

    #[test]
    fn monitor_sees_memory_and_cpu() {
        let m = ResourceMonitor::start(0);
        // Busy for ~150 ms and touch 48 MiB so both figures move.
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(150) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let big = vec![1u8; 48 << 20];
        std::hint::black_box(&big);
        let r = m.stop();
        if cfg!(target_os = "linux") {
            assert!(r.peak_rss_mib.unwrap() >= 48.0, "{r:?}");
            assert!(r.cpu_s.unwrap() > 0.0, "{r:?}");
            let u = r.cpu_utilisation.unwrap();
            assert!((0.0..=1.5).contains(&u), "{u}");
        }
        // No NVIDIA driver on the test machines: reported, not an error.
        if !r.gpu.available {
            assert!(r
                .gpu
                .note
                .as_deref()
                .unwrap()
                .starts_with("NVML not available"));
        }
    }
}
