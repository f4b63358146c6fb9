//! The GPU's clocks, temperature and slowdown reasons at one instant, read through NVML.
//!
//! Warm-up records this state before and after (`warmup.gpu`), and the resource sampler
//! reads the slowdown reasons on every sample of a measurement, so a report can say that a
//! device was still heating up, or held its clocks down, while it was measured.
//!
//! "Throttled" means NVML gives a reason that costs speed ([`SLOWDOWNS`]): the software
//! power cap, a software or hardware thermal slowdown, a hardware slowdown or a power
//! brake. Reasons that are settings or idleness (`GPU_IDLE`, applications or display clock
//! settings, sync boost) are not throttling and are left out.

use nvml_wrapper::bitmasks::device::ThrottleReasons;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::Device;
use serde::{Deserialize, Serialize};

/// NVML's clock-limit reasons that mean lost speed, with the names reports use.
pub const SLOWDOWNS: [(ThrottleReasons, &str); 5] = [
    (ThrottleReasons::SW_POWER_CAP, "sw_power_cap"),
    (ThrottleReasons::SW_THERMAL_SLOWDOWN, "sw_thermal_slowdown"),
    (ThrottleReasons::HW_THERMAL_SLOWDOWN, "hw_thermal_slowdown"),
    (ThrottleReasons::HW_SLOWDOWN, "hw_slowdown"),
    (
        ThrottleReasons::HW_POWER_BRAKE_SLOWDOWN,
        "hw_power_brake_slowdown",
    ),
];

/// One reading of the device; a figure NVML cannot give is `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuState {
    /// Streaming-multiprocessor clock now, and the most it can run at.
    pub sm_clock_mhz: Option<u32>,
    pub sm_clock_max_mhz: Option<u32>,
    pub memory_clock_mhz: Option<u32>,
    /// Die temperature.
    pub temperature_c: Option<u32>,
    /// The [`SLOWDOWNS`] active at the reading; empty when none (or unreadable).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slowdown: Vec<String>,
}

impl GpuState {
    /// Reads `device` now.
    pub fn read(device: &Device<'_>) -> GpuState {
        GpuState {
            sm_clock_mhz: device.clock_info(Clock::SM).ok(),
            sm_clock_max_mhz: device.max_clock_info(Clock::SM).ok(),
            memory_clock_mhz: device.clock_info(Clock::Memory).ok(),
            temperature_c: device.temperature(TemperatureSensor::Gpu).ok(),
            slowdown: device
                .current_throttle_reasons()
                .map(slowdown_names)
                .unwrap_or_default(),
        }
    }

    /// "1980/1980 MHz SM, 45 °C" (figures NVML gave), plus the slowdown reasons if any.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = self.sm_clock_mhz {
            parts.push(match self.sm_clock_max_mhz {
                Some(max) => format!("{c}/{max} MHz SM"),
                None => format!("{c} MHz SM"),
            });
        }
        if let Some(t) = self.temperature_c {
            parts.push(format!("{t} °C"));
        }
        if !self.slowdown.is_empty() {
            parts.push(format!("slowed by {}", self.slowdown.join(", ")));
        }
        if parts.is_empty() {
            "no figures".into()
        } else {
            parts.join(", ")
        }
    }
}

/// The names of the [`SLOWDOWNS`] set in `reasons`, in the table's order.
pub fn slowdown_names(reasons: ThrottleReasons) -> Vec<String> {
    SLOWDOWNS
        .iter()
        .filter(|(flag, _)| reasons.contains(*flag))
        .map(|(_, name)| name.to_string())
        .collect()
}

/// The device's state before and after a warm-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmupGpu {
    pub before: GpuState,
    pub after: GpuState,
    /// Whether the device was held down ([`SLOWDOWNS`]) when warm-up ended, i.e. as the
    /// measurement began.
    pub throttled: bool,
}

impl WarmupGpu {
    pub fn new(before: GpuState, after: GpuState) -> WarmupGpu {
        let throttled = !after.slowdown.is_empty();
        WarmupGpu {
            before,
            after,
            throttled,
        }
    }

    /// "before 1410/1980 MHz SM, 38 °C; after 1980/1980 MHz SM, 61 °C".
    pub fn describe(&self) -> String {
        format!(
            "before {}; after {}",
            self.before.describe(),
            self.after.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reasons_that_cost_speed_count_as_slowdown() {
        assert!(slowdown_names(ThrottleReasons::NONE).is_empty());
        let settings = ThrottleReasons::GPU_IDLE
            | ThrottleReasons::APPLICATIONS_CLOCKS_SETTING
            | ThrottleReasons::DISPLAY_CLOCK_SETTING
            | ThrottleReasons::SYNC_BOOST;
        assert!(slowdown_names(settings).is_empty());
        assert_eq!(
            slowdown_names(ThrottleReasons::GPU_IDLE | ThrottleReasons::SW_POWER_CAP),
            ["sw_power_cap"]
        );
        assert_eq!(
            slowdown_names(ThrottleReasons::HW_SLOWDOWN | ThrottleReasons::SW_THERMAL_SLOWDOWN),
            ["sw_thermal_slowdown", "hw_slowdown"]
        );
    }

    #[test]
    fn a_warm_up_is_throttled_when_it_ends_slowed() {
        let cool = GpuState {
            sm_clock_mhz: Some(1410),
            sm_clock_max_mhz: Some(1980),
            memory_clock_mhz: Some(2619),
            temperature_c: Some(38),
            slowdown: vec![],
        };
        let hot = GpuState {
            sm_clock_mhz: Some(1755),
            temperature_c: Some(83),
            slowdown: vec!["sw_thermal_slowdown".into()],
            ..cool.clone()
        };
        let w = WarmupGpu::new(cool.clone(), hot);
        assert!(w.throttled);
        assert_eq!(
            w.describe(),
            "before 1410/1980 MHz SM, 38 °C; after 1755/1980 MHz SM, 83 °C, slowed by \
             sw_thermal_slowdown"
        );
        assert!(!WarmupGpu::new(cool.clone(), cool).throttled);
        assert_eq!(GpuState::default().describe(), "no figures");
    }
}
