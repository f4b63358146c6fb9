//! `sweep`: the batch scenario over a grid of input sizes — DPI × pages per request ×
//! batch size. The caller renders the pool once per DPI.

use super::batch::run_batch;
use super::{Control, Measurement, PreparedDoc, Repeats, Scenario};
use crate::engine::Engine;

/// Up to `count` requests of `pages` pages each, made from the pool's pages (cycling).
pub fn requests_of(pool: &[PreparedDoc], pages: usize, count: usize) -> Vec<PreparedDoc> {
    let singles = super::single_pages(pool);
    if pages <= 1 {
        return singles;
    }
    // Distinct requests, each starting one page further (copies of pages cost memory, so
    // no more than the largest batch needs).
    (0..singles.len().min(count.max(1)))
        .filter_map(|start| {
            let rotated: Vec<PreparedDoc> = singles[start..]
                .iter()
                .chain(&singles[..start])
                .cloned()
                .collect();
            PreparedDoc::concatenated(&rotated, pages)
                .ok()
                .map(|mut d| {
                    d.id = format!("{}p-from-{}", pages, singles[start].id);
                    d
                })
        })
        .collect()
}

/// One measurement per (pages, batch size) at one DPI, `pool` rendered at `dpi`; none
/// started once `control` is stopped.
pub fn run_sweep_at_dpi(
    engine: &mut dyn Engine,
    pool: &[PreparedDoc],
    dpi: f32,
    pages: &[usize],
    batch_sizes: &[usize],
    repeats: Repeats,
    control: Control<'_>,
) -> Vec<Measurement> {
    let mut out = Vec::new();
    for &p in pages {
        let most = batch_sizes.iter().copied().max().unwrap_or(1);
        let requests = requests_of(pool, p, most);
        for &b in batch_sizes {
            if control.stopped() {
                return out;
            }
            out.push(run_batch(
                engine,
                &requests,
                b,
                dpi,
                repeats,
                Scenario::Sweep,
                control,
            ));
        }
    }
    out
}
