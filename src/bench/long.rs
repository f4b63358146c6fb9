//! `long`: TTFT, E2E and memory as the document grows — documents of 1, 2, 4 … pages made
//! by concatenating the dataset's rendered pages (the seed's "Long Context" and "Memory vs
//! Sequence Length"). Each length is its own measurement with its own peak RSS.

use super::single::run_single;
use super::{BenchError, Control, Measurement, PreparedDoc, Repeats, Scenario};
use crate::engine::Engine;

/// One measurement per document length in `pages`; none started once `control` is
/// stopped.
pub fn run_long(
    engine: &mut dyn Engine,
    pool: &[PreparedDoc],
    dpi: f32,
    pages: &[usize],
    repeats: Repeats,
    control: Control<'_>,
) -> Result<Vec<Measurement>, BenchError> {
    let mut out = Vec::new();
    for &n in pages {
        if control.stopped() {
            break;
        }
        if n == 0 {
            return Err(BenchError::Config(
                "--pages needs positive page counts".into(),
            ));
        }
        let doc = PreparedDoc::concatenated(pool, n)?;
        let mut m = run_single(engine, &doc, dpi, repeats, control);
        m.scenario = Scenario::Long;
        m.label = format!("{n} page{}", if n == 1 { "" } else { "s" });
        out.push(m);
    }
    Ok(out)
}
