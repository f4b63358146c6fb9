//! Device choice: Flex on the CPU (default) or CUDA (feature `cuda`). The CUDA runtime loads
//! `libcuda` lazily and panics in a background thread when it is missing, so its presence is
//! checked before a CUDA device is ever created.

use super::error::ModelError;
use std::path::Path;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    #[default]
    Cpu,
    /// CUDA device index.
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|i| i.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| ModelError::UnknownDevice(s.to_string())),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

/// Where the NVIDIA driver library usually lives.
const LIBCUDA_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/lib/x86_64-linux-gnu",
    "/usr/local/cuda/lib64",
    "/usr/local/nvidia/lib64",
    "/usr/lib/wsl/lib",
    "/usr/lib/aarch64-linux-gnu",
];

/// The CPU cores this process may use (affinity and cgroup quota included, as `std` reads
/// them); 1 when unknown.
pub fn cpu_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Finds `libcuda.so.1` (or `libcuda.so`) in `LD_LIBRARY_PATH` and the usual folders.
pub fn find_libcuda() -> Option<std::path::PathBuf> {
    let env = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
    let dirs = env
        .split(':')
        .filter(|d| !d.is_empty())
        .chain(LIBCUDA_DIRS.iter().copied());
    for d in dirs {
        for name in ["libcuda.so.1", "libcuda.so"] {
            let p = Path::new(d).join(name);
            if p.exists() {
                return Some(p);
            }
        }
    }
    None
}

/// Checks that a CUDA device can be created (compiled in, and a driver present).
pub fn check(choice: DeviceChoice) -> Result<(), ModelError> {
    match choice {
        DeviceChoice::Cpu => Ok(()),
        DeviceChoice::Cuda(_) => {
            if !cfg!(feature = "cuda") {
                return Err(ModelError::CudaNotCompiled);
            }
            if find_libcuda().is_none() {
                return Err(ModelError::CudaUnavailable(
                    "no libcuda.so.1 found (NVIDIA driver not installed, or not in LD_LIBRARY_PATH); use --device cpu".into(),
                ));
            }
            Ok(())
        }
    }
}
