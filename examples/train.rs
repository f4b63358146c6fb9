//! Developer tools around the built-in model (training itself is `medocr train`; this
//! front-end also trains, with a few more knobs):
//!
//!   cargo run --release --example train -- --run checkpoints/builtin-v1
//!
//! Options: --run DIR, --seed N, --steps N, --batch N, --lr X, --warmup N, --eval-every N,
//! --checkpoint-every N, --val-lines N, --max-minutes X. Re-running the same command resumes.
//! Tools: --eval MODEL_DIR [DPI] (CER on held-out rendered lines), --dump-samples DIR,
//! --detect IMAGE DPI OUT.png (draws detected line segments), --page MODEL_DIR IMAGE DPI
//! (recognises one page with the engine, prints text, stage times and token counts).

use medocr::model::train::{run, TrainEvent, TrainOptions};

fn main() {
    let mut o = TrainOptions::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--run" => o.run_dir = v.into(),
            "--seed" => o.seed = v.parse().expect("--seed"),
            "--steps" => o.steps = v.parse().expect("--steps"),
            "--batch" => o.batch_size = v.parse().expect("--batch"),
            "--lr" => o.peak_lr = v.parse().expect("--lr"),
            "--warmup" => o.warmup_steps = v.parse().expect("--warmup"),
            "--eval-every" => o.eval_every = v.parse().expect("--eval-every"),
            "--checkpoint-every" => o.checkpoint_every = v.parse().expect("--checkpoint-every"),
            "--val-lines" => o.val_lines = v.parse().expect("--val-lines"),
            "--log-every" => o.log_every = v.parse().expect("--log-every"),
            "--max-minutes" => o.max_minutes = Some(v.parse().expect("--max-minutes")),
            "--overfit-one-batch" => {
                o.overfit_one_batch = true;
                i -= 1;
            }
            "--eval" => {
                // --eval MODEL_DIR [DPI]: CER on held-out rendered lines.
                let dpi = args.get(i + 2).and_then(|d| d.parse().ok());
                let o = medocr::model::eval::HeldOutOptions {
                    dpi,
                    ..Default::default()
                };
                match medocr::model::eval::evaluate_dir(std::path::Path::new(&v), &o) {
                    Ok(r) => {
                        println!(
                            "CER {:.2}% on {} held-out lines (dpi: {:?})",
                            r.cer * 100.0,
                            r.lines,
                            dpi
                        );
                        for (r, h) in r.examples {
                            println!("    ref: {r}\n    hyp: {h}");
                        }
                    }
                    Err(e) => eprintln!("evaluation failed: {e}"),
                }
                return;
            }
            "--detect" => {
                // --detect IMAGE DPI OUT.png: draws the detected segments (debugging aid).
                let dpi: f32 = args[i + 2].parse().expect("dpi");
                detect_debug(&v, dpi, &args[i + 3]);
                return;
            }
            "--page" => {
                // --page MODEL_DIR IMAGE DPI: recognises one page image, prints text and timings.
                let dpi: f32 = args[i + 3].parse().expect("dpi");
                page_debug(&v, &args[i + 2], dpi);
                return;
            }
            "--dump-samples" => {
                dump_samples(&v, o.seed);
                return;
            }
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let now = || chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
    let result = run(&o, &mut |ev| {
        match ev {
        TrainEvent::Started { step, resumed, params, config } => println!(
            "{} started at step {step} (resumed: {resumed}), {params} parameters, config {}",
            now(),
            serde_json::to_string(config).unwrap_or_default()
        ),
        TrainEvent::Step { step, loss, decoder_loss, ctc_loss, lr, secs_per_step, data_wait_s, elapsed_s } => println!(
            "{} step {step:6} loss {loss:.4} (dec {decoder_loss:.4} ctc {ctc_loss:.4}) lr {lr:.2e} {secs_per_step:.2} s/step (data wait {data_wait_s:.2}) elapsed {:.1} min",
            now(),
            elapsed_s / 60.0
        ),
        TrainEvent::Validation { step, cer, best_cer, lines, secs, examples } => {
            println!(
                "{} VALIDATION step {step}: CER {:.2}% (best {:.2}%) on {lines} lines in {secs:.0} s",
                now(),
                cer * 100.0,
                best_cer * 100.0
            );
            for (r, h) in examples {
                println!("    ref: {r}\n    hyp: {h}");
            }
        }
        TrainEvent::Checkpoint { step, path } => println!("{} checkpoint step {step}: {}", now(), path.display()),
        TrainEvent::Stopped { step, reason } => println!("{} stopped at step {step}: {reason}", now()),
    }
    });
    match result {
        Ok(s) => println!("done: {}", serde_json::to_string(&s).unwrap_or_default()),
        Err(e) => {
            eprintln!("training failed: {e}");
            std::process::exit(1);
        }
    }
}

/// Writes the first training batches as PNG files plus their texts (to eyeball the data).
fn dump_samples(dir: &str, seed: u64) {
    use medocr::model::{data::DataGen, Tokenizer};
    std::fs::create_dir_all(dir).expect("create dump dir");
    let gen = DataGen::new(Tokenizer::korean_medical(), 32, 800).expect("fonts");
    let mut texts = String::new();
    for step in 0..4u64 {
        for (i, s) in gen.batch(seed, step, 8).iter().enumerate() {
            let img = image::GrayImage::from_fn(s.input.width as u32, 32, |x, y| {
                image::Luma([
                    255 - (s.input.pixels[y as usize * s.input.width + x as usize] * 255.0) as u8
                ])
            });
            let name = format!("{step}-{i}.png");
            img.save(format!("{dir}/{name}")).expect("save png");
            texts.push_str(&format!("{name}\t{}\n", s.text));
        }
    }
    std::fs::write(format!("{dir}/texts.tsv"), texts).expect("write texts");
}

fn detect_debug(path: &str, dpi: f32, out: &str) {
    use medocr::model::detect::{detect_lines, DetectOptions};
    let img = image::open(path).expect("open image").to_luma8();
    let t = std::time::Instant::now();
    let d = detect_lines(&img, dpi, &DetectOptions::default());
    println!(
        "skew {:.2}°, {} lines in {:.0} ms",
        d.skew_degrees,
        d.lines.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut rgb = image::DynamicImage::ImageLuma8(d.image.clone()).to_rgb8();
    for (li, l) in d.lines.iter().enumerate() {
        println!(
            "line {li}: y {}..{} segments {}",
            l.y0,
            l.y1,
            l.segments.len()
        );
        for s in &l.segments {
            for x in s.x0..s.x1 {
                rgb.put_pixel(x, s.y0, image::Rgb([255, 0, 0]));
                rgb.put_pixel(x, s.y1.saturating_sub(1), image::Rgb([255, 0, 0]));
            }
            for y in s.y0..s.y1 {
                rgb.put_pixel(s.x0, y, image::Rgb([0, 0, 255]));
                rgb.put_pixel(s.x1.saturating_sub(1), y, image::Rgb([0, 0, 255]));
            }
        }
    }
    rgb.save(out).expect("save");
}

fn page_debug(model_dir: &str, path: &str, dpi: f32) {
    use medocr::engine::{builtin::BuiltinEngine, Engine, Request, Stage, TokenSink};
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};
    struct Sink {
        text: String,
        tokens: usize,
        first: Option<Duration>,
        start: Instant,
        stages: BTreeMap<String, Duration>,
        input: usize,
    }
    impl TokenSink for Sink {
        fn token(&mut self, t: &str) {
            self.first.get_or_insert(self.start.elapsed());
            self.text.push_str(t);
            self.tokens += 1;
        }
        fn stage(&mut self, s: Stage, d: Duration) {
            *self.stages.entry(format!("{s:?}")).or_default() += d;
        }
        fn input_tokens(&mut self, n: usize) {
            self.input += n;
        }
    }
    let mut engine = BuiltinEngine::load(std::path::Path::new(model_dir), Default::default())
        .expect("load model");
    let image = image::open(path).expect("open image").to_luma8();
    let pages = [medocr::render::Page {
        image,
        dpi,
        index: 0,
    }];
    let mut sink = Sink {
        text: String::new(),
        tokens: 0,
        first: None,
        start: Instant::now(),
        stages: BTreeMap::new(),
        input: 0,
    };
    engine
        .recognize(
            &Request {
                id: "page",
                pages: &pages,
            },
            &mut sink,
        )
        .expect("recognize");
    let total = sink.start.elapsed();
    println!("{}", sink.text);
    println!(
        "--- {} output tokens, {} input tokens, TTFT {:?}, total {:?}, stages {:?}",
        sink.tokens, sink.input, sink.first, total, sink.stages
    );
}
