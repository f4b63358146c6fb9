//! Temporary entry point for training the built-in model (until `medocr train` exists):
//!
//!   nice -n 10 nohup cargo run --release --example train -- --run checkpoints/builtin-v1 \
//!       >> checkpoints/builtin-v1/train.log 2>&1 &
//!
//! Options: --run DIR, --seed N, --steps N, --batch N, --lr X, --warmup N, --eval-every N,
//! --checkpoint-every N, --val-lines N, --max-minutes X. Re-running the same command resumes.

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
    let result = run(&o, &mut |ev| match ev {
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
                image::Luma([255 - (s.input.pixels[y as usize * s.input.width + x as usize] * 255.0) as u8])
            });
            let name = format!("{step}-{i}.png");
            img.save(format!("{dir}/{name}")).expect("save png");
            texts.push_str(&format!("{name}\t{}\n", s.text));
        }
    }
    std::fs::write(format!("{dir}/texts.tsv"), texts).expect("write texts");
}
