//! What building one `openai` request costs the client: the page's PNG, its base64 and the
//! JSON body, for each encoder variant side by side (interleaved rounds, medians), at 150
//! and 300 DPI on a generated 처방전 page. The numbers behind docs/serve.md "Client
//! overhead".
//!
//! `cargo bench --bench request_build` (needs the fonts and libpdfium that
//! `scripts/setup.sh` installs, as every rendering test does).

use medocr::bench::overhead::request_build_costs;
use medocr::dataset::{self, synth, DocType};
use medocr::pipeline::{render_timed, RunOptions};

const ROUNDS: usize = 60;

fn main() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let opts = synth::GenOptions {
        count_per_type: 1,
        types: vec![DocType::Prescription],
        seed: 7,
        ..Default::default()
    };
    synth::generate(&opts, tmp.path(), None).expect("the generator runs (fonts installed?)");
    let data = dataset::load_manifest(tmp.path()).expect("the generated manifest loads");
    for dpi in [150.0, 300.0] {
        let page = render_timed(&data, &data.documents[0], dpi, &RunOptions::default())
            .pages
            .expect("the page renders (libpdfium installed?)")
            .remove(0);
        let costs = request_build_costs(&page, ROUNDS);
        let (w, h) = (costs[0].width, costs[0].height);
        println!("{dpi} DPI, {w}x{h} px, p50 of {ROUNDS} interleaved rounds:");
        println!(
            "  {:36} {:>9} {:>10} {:>11}",
            "variant", "PNG", "encode", "whole body"
        );
        for c in &costs {
            println!(
                "  {:36} {:>7} kB {:>7.3} ms {:>8.3} ms",
                c.variant,
                c.png_bytes / 1000,
                c.png_p50_ms,
                c.body_p50_ms
            );
        }
        let first = &costs[0];
        let now = costs.last().expect("variants");
        println!(
            "  whole body: now {:.2}x faster than the first version",
            first.body_p50_ms / now.body_p50_ms
        );
    }
}
