//! Resource use of the process during a measurement (Linux `/proc`; elsewhere `None`):
//!
//! - **peak RSS**: the kernel's resident-set high-water mark `VmHWM`, reset by writing `5`
//!   to `/proc/self/clear_refs` when the measurement starts (as `medocr run` does per
//!   document). The whole process: loaded models, rendered pages, the harness.
//! - **CPU**: `utime + stime` of this process plus `cutime + cstime` of its waited-for
//!   children (Tesseract runs as a child) from `/proc/self/stat`, in clock ticks of
//!   1/100 s (Linux's `USER_HZ`), over the wall time: `cpu_cores_busy` = CPU seconds /
//!   wall seconds (1.0 = one core fully busy), `cpu_utilisation` = that / logical cores.
//! - **GPU** (NVIDIA): NVML is loaded at run time (`libnvidia-ml.so.1`); a sampler thread
//!   reads the device's memory in use, utilisation and power every 100 ms. Without NVML
//!   the figures are absent and `gpu.note` says why — that is not an error. NVML reports
//!   the whole device, other processes included.
//! - The Burn backends keep no memory statistics of their own that this crate can read
//!   (the default CPU backend allocates from the process heap, which RSS covers).

use crate::pipeline::memory;
use serde::{Deserialize, Serialize};
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

/// Watches the process from [`ResourceMonitor::start`] to [`ResourceMonitor::stop`].
pub struct ResourceMonitor {
    started: Instant,
    cpu0: Option<(f64, f64)>,
    gpu: Option<GpuSampler>,
    gpu_note: Option<String>,
}

impl ResourceMonitor {
    /// Resets the RSS high-water mark, reads the CPU clock and starts the GPU sampler.
    pub fn start() -> Self {
        memory::reset_peak();
        let (gpu, gpu_note) = match nvml::Nvml::load() {
            Ok(n) => (Some(GpuSampler::spawn(n)), None),
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
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
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

/// A thread reading NVML until told to stop.
struct GpuSampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<GpuStats>,
}

impl GpuSampler {
    fn spawn(nvml: nvml::Nvml) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut out = GpuStats {
                available: true,
                device: nvml.device_name(),
                ..GpuStats::default()
            };
            let (mut util_sum, mut util_n, mut power_sum, mut power_n) = (0.0, 0, 0.0, 0);
            loop {
                let r = nvml.read();
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
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(GPU_SAMPLE_PERIOD);
            }
            out.utilisation_mean_pct = (util_n > 0).then(|| util_sum / util_n as f64);
            out.power_mean_w = (power_n > 0).then(|| power_sum / power_n as f64);
            out
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

/// The name of GPU 0 as NVML reports it, or why there is none (no driver, no device).
pub fn gpu_name() -> Result<String, String> {
    let nvml = nvml::Nvml::load()?;
    Ok(nvml
        .device_name()
        .unwrap_or_else(|| "an NVIDIA GPU (name unreadable)".into()))
}

/// The few NVML calls the sampler needs, resolved from `libnvidia-ml.so.1` at run time so
/// the binary neither links against nor requires the NVIDIA driver.
mod nvml {
    use libloading::{Library, Symbol};
    use std::ffi::{c_char, c_int, c_uint, c_void, CStr};

    type Ret = c_int;
    type Device = *mut c_void;
    const SUCCESS: Ret = 0;

    #[repr(C)]
    #[derive(Default)]
    struct Memory {
        total: u64,
        free: u64,
        used: u64,
    }

    #[repr(C)]
    #[derive(Default)]
    struct Utilization {
        gpu: c_uint,
        memory: c_uint,
    }

    /// One reading of device 0.
    pub struct Reading {
        pub memory_used_mib: Option<f64>,
        pub utilisation_pct: Option<f64>,
        pub power_w: Option<f64>,
    }

    pub struct Nvml {
        lib: Library,
        device: Device,
    }

    // The device handle is an opaque pointer NVML documents as usable from any thread.
    unsafe impl Send for Nvml {}

    impl Nvml {
        /// Loads the library, initialises NVML and takes device 0.
        pub fn load() -> Result<Nvml, String> {
            // SAFETY: loading the NVIDIA management library runs only its initialisers.
            let lib = unsafe { Library::new("libnvidia-ml.so.1") }
                .or_else(|_| unsafe { Library::new("libnvidia-ml.so") })
                .map_err(|e| e.to_string())?;
            // SAFETY: the symbols have the signatures of NVML's C API (nvml.h).
            unsafe {
                let init: Symbol<unsafe extern "C" fn() -> Ret> =
                    lib.get(b"nvmlInit_v2\0").map_err(|e| e.to_string())?;
                let rc = init();
                if rc != SUCCESS {
                    return Err(format!("nvmlInit_v2 returned {rc}"));
                }
                let by_index: Symbol<unsafe extern "C" fn(c_uint, *mut Device) -> Ret> = lib
                    .get(b"nvmlDeviceGetHandleByIndex_v2\0")
                    .map_err(|e| e.to_string())?;
                let mut device: Device = std::ptr::null_mut();
                let rc = by_index(0, &mut device);
                if rc != SUCCESS {
                    return Err(format!(
                        "no GPU 0 (nvmlDeviceGetHandleByIndex_v2 returned {rc})"
                    ));
                }
                Ok(Nvml { lib, device })
            }
        }

        pub fn device_name(&self) -> Option<String> {
            let mut buf = [0 as c_char; 96];
            // SAFETY: NVML writes a NUL-terminated name of at most `len` bytes.
            unsafe {
                let f: Symbol<unsafe extern "C" fn(Device, *mut c_char, c_uint) -> Ret> =
                    self.lib.get(b"nvmlDeviceGetName\0").ok()?;
                if f(self.device, buf.as_mut_ptr(), buf.len() as c_uint) != SUCCESS {
                    return None;
                }
                Some(CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned())
            }
        }

        pub fn read(&self) -> Reading {
            // SAFETY: each call fills a caller-owned struct of the layout nvml.h defines.
            unsafe {
                let memory = self
                    .lib
                    .get::<unsafe extern "C" fn(Device, *mut Memory) -> Ret>(
                        b"nvmlDeviceGetMemoryInfo\0",
                    )
                    .ok()
                    .and_then(|f| {
                        let mut m = Memory::default();
                        (f(self.device, &mut m) == SUCCESS).then(|| m.used as f64 / 1048576.0)
                    });
                let util = self
                    .lib
                    .get::<unsafe extern "C" fn(Device, *mut Utilization) -> Ret>(
                        b"nvmlDeviceGetUtilizationRates\0",
                    )
                    .ok()
                    .and_then(|f| {
                        let mut u = Utilization::default();
                        (f(self.device, &mut u) == SUCCESS).then_some(u.gpu as f64)
                    });
                let power = self
                    .lib
                    .get::<unsafe extern "C" fn(Device, *mut c_uint) -> Ret>(
                        b"nvmlDeviceGetPowerUsage\0",
                    )
                    .ok()
                    .and_then(|f| {
                        let mut mw: c_uint = 0;
                        (f(self.device, &mut mw) == SUCCESS).then(|| mw as f64 / 1000.0)
                    });
                Reading {
                    memory_used_mib: memory,
                    utilisation_pct: util,
                    power_w: power,
                }
            }
        }
    }

    impl Drop for Nvml {
        fn drop(&mut self) {
            // SAFETY: balances the successful nvmlInit_v2 of `load`.
            unsafe {
                if let Ok(f) = self
                    .lib
                    .get::<unsafe extern "C" fn() -> Ret>(b"nvmlShutdown\0")
                {
                    f();
                }
            }
        }
    }
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
    fn monitor_sees_memory_and_cpu() {
        let m = ResourceMonitor::start();
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
