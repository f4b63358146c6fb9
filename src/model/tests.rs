//! Model-level tests on a tiny configuration: shapes, KV-cache decoding against full
//! recomputation, batch-vs-single equality, strict save/load.

use super::config::ModelConfig;
use super::generate::Generator;
use super::ocr::OcrModel;
use super::preprocess::{batch_tensor, LineInput};
use super::tokenizer::{Tokenizer, BOS};
use super::weights;
use burn::tensor::{Int, Tensor, TensorData};

type B = burn::backend::Flex;

fn tiny() -> ModelConfig {
    ModelConfig::tiny_for_tests(Tokenizer::korean_medical().len(), 2, 12)
}

fn line(width: usize, seed: u32) -> LineInput {
    let pixels = (0..32 * width)
        .map(|i| {
            (((i as u32 ^ seed.wrapping_mul(0x9E37_79B9)).wrapping_mul(2654435761) >> 7) % 100)
                as f32
                / 100.0
        })
        .collect();
    LineInput {
        width,
        height: 32,
        pixels,
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn shapes() {
    let dev = Default::default();
    let c = tiny();
    let m = OcrModel::<B>::new(&c, &dev);
    let (l1, l2) = (line(50, 1), line(120, 2));
    let (img, widths) = batch_tensor::<B>(&[&l1, &l2], &dev);
    assert_eq!(img.dims(), [2, 1, 32, 120]);
    let enc = m.encode(img, &widths);
    assert_eq!(enc.memory.dims(), [2, 30, 32]);
    assert_eq!(enc.lengths, vec![13, 30]);
    let tokens =
        Tensor::<B, 2, Int>::from_data(TensorData::new(vec![1i64, 5, 6, 1, 7, 8], [2, 3]), &dev);
    assert_eq!(m.decoder.forward(tokens, &enc).dims(), [2, 3, c.vocab_size]);
}

#[test]
fn kv_cache_matches_full_recomputation() {
    let dev = Default::default();
    let c = tiny();
    let m = OcrModel::<B>::new(&c, &dev);
    let (l1, l2) = (line(64, 3), line(40, 4));
    let (img, widths) = batch_tensor::<B>(&[&l1, &l2], &dev);
    let enc = m.encode(img, &widths);
    let seq: [[u32; 5]; 2] = [[BOS, 10, 20, 30, 40], [BOS, 11, 21, 31, 41]];
    let ids: Vec<i64> = seq.iter().flatten().map(|&x| x as i64).collect();
    let full = m
        .decoder
        .forward(Tensor::from_data(TensorData::new(ids, [2, 5]), &dev), &enc)
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    let mut g = Generator::new(&m, &enc, c.max_target_len);
    let v = c.vocab_size;
    for t in 0..5 {
        let step = g
            .step_logits(&[seq[0][t], seq[1][t]])
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        for b in 0..2 {
            let want = &full[(b * 5 + t) * v..(b * 5 + t + 1) * v];
            let got = &step[b * v..(b + 1) * v];
            let d = max_abs_diff(want, got);
            assert!(d < 1e-4, "step {t} line {b}: max diff {d}");
        }
    }
}

#[test]
fn batch_equals_single() {
    let dev = Default::default();
    let c = tiny();
    let m = OcrModel::<B>::new(&c, &dev);
    let lines = [line(37, 5), line(90, 6), line(61, 7)];
    let refs: Vec<&LineInput> = lines.iter().collect();
    let (img, widths) = batch_tensor::<B>(&refs, &dev);
    let enc = m.encode(img, &widths);
    let mut g = Generator::new(&m, &enc, c.max_target_len);
    let batch = g
        .step_logits(&[BOS; 3])
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    let batch_ids = Generator::new(&m, &enc, c.max_target_len).run();
    let v = c.vocab_size;
    for (i, l) in lines.iter().enumerate() {
        let (img, widths) = batch_tensor::<B>(&[l], &dev);
        let enc = m.encode(img, &widths);
        let mut g = Generator::new(&m, &enc, c.max_target_len);
        let single = g.step_logits(&[BOS]).into_data().to_vec::<f32>().unwrap();
        let d = max_abs_diff(&single, &batch[i * v..(i + 1) * v]);
        assert!(d < 1e-4, "line {i}: max diff {d}");
        let ids = Generator::new(&m, &enc, c.max_target_len).run();
        assert_eq!(ids[0], batch_ids[i], "line {i}");
    }
}

#[test]
fn save_load_round_trip_and_strictness() {
    let dev = Default::default();
    let c = tiny();
    let tok = Tokenizer::korean_medical();
    let m = OcrModel::<B>::new(&c, &dev);
    let dir = tempfile::tempdir().unwrap();
    weights::save(&m, &c, &tok, dir.path()).unwrap();
    let loaded = weights::load::<B>(dir.path(), &dev).unwrap();
    assert_eq!(loaded.config, c);
    let l = line(48, 9);
    let (img, widths) = batch_tensor::<B>(&[&l], &dev);
    let a = m
        .encode(img.clone(), &widths)
        .memory
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    let b = loaded
        .model
        .encode(img, &widths)
        .memory
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(a, b);

    // A config that does not match the weights (one more decoder layer) must fail loudly.
    let mut c2 = c.clone();
    c2.decoder_layers = 3;
    std::fs::write(
        dir.path().join(weights::CONFIG_FILE),
        serde_json::to_string(&c2).unwrap(),
    )
    .unwrap();
    let err = weights::load::<B>(dir.path(), &dev)
        .err()
        .expect("mismatch must fail")
        .to_string();
    assert!(
        err.contains("missing") || err.contains("decoder.layers.2"),
        "{err}"
    );

    // Fewer layers in the config: unexpected tensors.
    let mut c3 = c.clone();
    c3.encoder_layers = 1;
    std::fs::write(
        dir.path().join(weights::CONFIG_FILE),
        serde_json::to_string(&c3).unwrap(),
    )
    .unwrap();
    let err = weights::load::<B>(dir.path(), &dev)
        .err()
        .expect("unexpected must fail")
        .to_string();
    assert!(err.contains("unexpected"), "{err}");

    // Different width: shape mismatch.
    let mut c4 = c.clone();
    c4.ff_dim = 128;
    std::fs::write(
        dir.path().join(weights::CONFIG_FILE),
        serde_json::to_string(&c4).unwrap(),
    )
    .unwrap();
    assert!(weights::load::<B>(dir.path(), &dev).is_err());
}

#[test]
fn encoder_sees_the_image_and_gets_gradients() {
    use burn::module::Module;
    type A = burn::backend::Autodiff<B>;
    let dev = Default::default();
    let c = tiny();
    let m = OcrModel::<A>::new(&c, &dev);
    let (l1, l2) = (line(64, 11), line(64, 12));
    let (i1, w1) = batch_tensor::<A>(&[&l1], &dev);
    let (i2, _) = batch_tensor::<A>(&[&l2], &dev);
    let a = m.encode(i1.clone(), &w1).memory;
    let b = m.encode(i2, &w1).memory;
    let diff: f32 = (a.clone() - b).abs().mean().into_scalar();
    let mag: f32 = a.clone().abs().mean().into_scalar();
    eprintln!("memory mean |a| {mag}, mean |a-b| {diff}");
    assert!(diff > 0.1 * mag, "encoder output ignores the image");
    // One feature channel, not the sum of all: the encoder ends in a LayerNorm, whose
    // outputs sum to a constant, so the gradient of the plain sum is zero up to rounding.
    let [n, len, _] = a.dims();
    let grads = a.slice([0..n, 0..len, 0..1]).sum().backward();
    let g = m
        .encoder
        .stem
        .conv1
        .weight
        .grad(&grads)
        .expect("conv1 grad");
    let gn: f32 = g.abs().mean().into_scalar();
    eprintln!("conv1 grad mean {gn}");
    assert!(gn > 0.0);
    let _ = m.num_params();
}

#[test]
fn ctc_can_fit_two_lines() {
    use burn::optim::{AdamConfig, GradientsParams, Optimizer};
    use burn::tensor::ElementConversion;
    type A = burn::backend::Autodiff<B>;
    let dev = Default::default();
    let c = tiny();
    let tok = Tokenizer::korean_medical();
    let mut m = OcrModel::<A>::new(&c, &dev);
    let mk = |input: LineInput, text: &str| super::data::LineSample {
        input,
        text: text.to_string(),
    };
    let samples = vec![mk(line(64, 21), "가나다"), mk(line(64, 22), "123")];
    let batch = super::data::to_batch::<A>(&samples, &tok, &dev);
    let enc = m.encode(batch.images.clone(), &batch.widths);
    let d: f32 = (enc.memory.clone().slice([0..1, 0..16, 0..32])
        - enc.memory.clone().slice([1..2, 0..16, 0..32]))
    .abs()
    .mean()
    .into_scalar();
    eprintln!("row diff {d}");
    let mut opt = AdamConfig::new().init::<A, OcrModel<A>>();
    let mut first = 0.0;
    let mut last = 0.0;
    for i in 0..60 {
        let l = m.losses(&batch);
        let v: f64 = l.ctc.clone().into_scalar().elem();
        let dv: f64 = l.decoder.clone().into_scalar().elem();
        if i == 0 {
            first = v;
        }
        last = v;
        if i % 25 == 0 {
            eprintln!("step {i} ctc {v} dec {dv}");
        }
        let grads = GradientsParams::from_grads((l.ctc + l.decoder).backward(), &m);
        m = opt.step(1e-3, m, grads);
    }
    eprintln!("ctc {first} -> {last}");
    assert!(last < first * 0.5);
}
