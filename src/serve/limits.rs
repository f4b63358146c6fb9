//! The server's memory budget: every byte of a request body as it arrives, and every
//! decoded page until its request's batch is done, is reserved here first. A request that
//! would go over it is answered 503 with `Retry-After` instead of being held in memory, so
//! no mix of clients can take the server past the budget (docs/serve.md, "Limits").

use prometheus_client::metrics::gauge::Gauge;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A shared allowance of bytes; clones share it.
#[derive(Debug, Clone)]
pub struct Budget {
    used: Arc<AtomicU64>,
    cap: u64,
    gauge: Gauge,
}

/// Bytes taken from a [`Budget`], given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Budget,
    bytes: u64,
}

impl Budget {
    /// A budget of `cap` bytes whose use is mirrored in `gauge`.
    pub fn new(cap: u64, gauge: Gauge) -> Budget {
        Budget {
            used: Arc::new(AtomicU64::new(0)),
            cap,
            gauge,
        }
    }

    /// An empty reservation, to grow as a body arrives.
    pub fn empty(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            bytes: 0,
        }
    }

    /// Takes `bytes` if they fit, atomically.
    fn take(&self, bytes: u64) -> bool {
        let fits = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.cap)
            })
            .is_ok();
        if fits {
            self.gauge.inc_by(bytes as i64);
        }
        fits
    }

    fn give_back(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
        self.gauge.dec_by(bytes as i64);
    }

    pub fn cap(&self) -> u64 {
        self.cap
    }
}

impl Reservation {
    /// Adds `bytes`; `false` (and nothing taken) when the budget cannot hold them.
    pub fn grow(&mut self, bytes: u64) -> bool {
        let ok = self.budget.take(bytes);
        if ok {
            self.bytes += bytes;
        }
        ok
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.budget.give_back(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_stay_within_the_cap_and_return_on_drop() {
        let b = Budget::new(100, Gauge::default());
        let mut a = b.empty();
        assert!(a.grow(60));
        let mut c = b.empty();
        assert!(!c.grow(41), "60 + 41 is over 100");
        assert!(c.grow(40));
        assert_eq!(b.gauge.get(), 100);
        drop(a);
        assert!(c.grow(60));
        assert_eq!(c.bytes(), 100);
        drop(c);
        assert_eq!(b.used.load(Ordering::Acquire), 0);
        assert_eq!(b.gauge.get(), 0);
    }

    #[test]
    fn concurrent_reservations_never_exceed_the_cap() {
        let b = Budget::new(1000, Gauge::default());
        let held: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let b = b.clone();
                    s.spawn(move || {
                        let mut r = b.empty();
                        for _ in 0..100 {
                            r.grow(7);
                        }
                        r
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let total: u64 = held.iter().map(Reservation::bytes).sum();
        assert!(total <= 1000 && total > 990, "{total}");
    }
}
