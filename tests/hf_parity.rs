//! Parity of the Burn TrOCR-family implementation with `transformers`, on the tiny random
//! checkpoints under tests/data/hf/ (written by tools/hf_fixtures.py, which records what
//! PyTorch computes for fixed inputs): preprocessing, encoder output, the logits of every
//! greedy step, the greedy token ids and the decoded text. Plus strict-loading errors, run
//! through the real binary, and a speed probe (ignored; driven by the tool script).

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use medocr::model::generate::Generator;
use medocr::model::kv_cache::KvCache;
use medocr::model::trocr::lines::pixel_batch;
use medocr::model::trocr::tokenizer::LineStream;
use medocr::model::trocr::{self, LoadedHf};
use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURES: &[&str] = &["vit-learned-f32", "deit-sinusoidal-f16", "vit-proj-bf16"];
const TOL: f32 = 1e-4;

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hf")
        .join(name)
}

struct Expected {
    pixels: (Vec<usize>, Vec<f32>),
    encoder: (Vec<usize>, Vec<f32>),
    logits0: (Vec<usize>, Vec<f32>),
    steps0: (Vec<usize>, Vec<f32>),
    json: serde_json::Value,
}

fn expected(name: &str) -> Expected {
    let d = dir(name);
    let bytes = std::fs::read(d.join("expected.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let get = |n: &str| {
        let v = st.tensor(n).unwrap();
        assert_eq!(v.dtype(), safetensors::Dtype::F32);
        let data = v
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        (v.shape().to_vec(), data)
    };
    Expected {
        pixels: get("pixel_values"),
        encoder: get("encoder_hidden"),
        logits0: get("logits_step0"),
        steps0: get("step_logits_0"),
        json: serde_json::from_str(&std::fs::read_to_string(d.join("expected.json")).unwrap())
            .unwrap(),
    }
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn host<const D: usize>(t: Tensor<Flex, D>) -> (Vec<usize>, Vec<f32>) {
    let shape = t.dims().to_vec();
    (shape, t.into_data().convert::<f32>().to_vec().unwrap())
}

fn load(name: &str) -> LoadedHf<Flex> {
    trocr::load::<Flex>(&dir(name), &Default::default())
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

#[test]
fn preprocessing_matches_the_image_processor() {
    for name in FIXTURES {
        let l = load(name);
        let e = expected(name);
        let n = e.pixels.0[0];
        let per = e.pixels.1.len() / n;
        for i in 0..n {
            let img = image::open(dir(name).join(format!("inputs/{i}.png")))
                .unwrap()
                .to_luma8();
            let px = l.preprocessor.pixels(&img);
            let diff = max_diff(&px, &e.pixels.1[i * per..(i + 1) * per]);
            println!("{name} image {i}: pixels max |diff| {diff:.2e}");
            assert!(diff < 1e-5, "{name} image {i}: pixel max diff {diff}");
        }
    }
}

#[test]
fn encoder_and_first_step_logits_match() {
    for name in FIXTURES {
        let l = load(name);
        let e = expected(name);
        let dev = Default::default();
        let pixels: Tensor<Flex, 4> = Tensor::from_data(
            TensorData::new(
                e.pixels.1.clone(),
                [e.pixels.0[0], e.pixels.0[1], e.pixels.0[2], e.pixels.0[3]],
            ),
            &dev,
        );
        let (shape, enc) = host(l.model.encoder_hidden(pixels.clone()));
        assert_eq!(shape, e.encoder.0, "{name}: encoder shape");
        let diff = max_diff(&enc, &e.encoder.1);
        println!("{name}: encoder max |diff| {diff:.2e}");
        assert!(diff < TOL, "{name}: encoder max diff {diff}");

        let enc = l.encoded(pixels);
        let mut gen = Generator::start(&l.model, &enc, l.decoding());
        let start = vec![l.generation.decoder_start_token_id; e.pixels.0[0]];
        let (shape, logits) = host(gen.step_logits(&start));
        assert_eq!(shape, e.logits0.0, "{name}: logits shape");
        let diff = max_diff(&logits, &e.logits0.1);
        println!("{name}: first-step logits max |diff| {diff:.2e}");
        assert!(diff < TOL, "{name}: first-step logits max diff {diff}");
    }
}

/// Every step of image 0, fed the reference's greedy tokens: exercises the KV cache and the
/// positions at every offset.
#[test]
fn every_step_logits_match_with_kv_cache() {
    for name in FIXTURES {
        let l = load(name);
        let e = expected(name);
        let dev = Default::default();
        let per = e.pixels.1.len() / e.pixels.0[0];
        let [c, h, w] = [e.pixels.0[1], e.pixels.0[2], e.pixels.0[3]];
        let pixels = pixel_batch::<Flex>(&[&e.pixels.1[..per]], c, h, w, &dev);
        let memory = l.model.memory(pixels);
        let ids: Vec<u32> = e.json["greedy_ids"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let steps = e.steps0.0[0];
        let vocab = e.steps0.0[1];
        assert_eq!(steps, ids.len() - 1);
        let mut cache = KvCache::new(
            l.model.decoder.cross_keys_values(&memory),
            l.generation.max_new_tokens(),
            &dev,
        );
        for (s, &tok) in ids[..steps].iter().enumerate() {
            let (_, logits) = host(l.model.decoder.step(&[tok], &mut cache, None, &dev));
            let diff = max_diff(&logits, &e.steps0.1[s * vocab..(s + 1) * vocab]);
            assert!(diff < TOL, "{name} step {s}: logits max diff {diff}");
        }
    }
}

/// Greedy decoding of all images in one batch gives the reference's ids (generated one image
/// at a time) and texts, and streaming the tokens gives the same text.
#[test]
fn greedy_ids_and_texts_are_identical() {
    for name in FIXTURES {
        let l = load(name);
        let e = expected(name);
        let dev = Default::default();
        let n = e.pixels.0[0];
        let per = e.pixels.1.len() / n;
        let planes: Vec<&[f32]> = (0..n)
            .map(|i| &e.pixels.1[i * per..(i + 1) * per])
            .collect();
        let [c, h, w] = [e.pixels.0[1], e.pixels.0[2], e.pixels.0[3]];
        let enc = l.encoded(pixel_batch::<Flex>(&planes, c, h, w, &dev));
        let outputs = Generator::start(&l.model, &enc, l.decoding()).run();
        for (i, out) in outputs.iter().enumerate() {
            let mut ids = vec![l.generation.decoder_start_token_id];
            ids.extend(out);
            let want: Vec<u32> = e.json["greedy_ids"][i]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(ids, want, "{name} image {i}: greedy ids");
            let text = l.tokenizer.decode(out).unwrap();
            assert_eq!(
                text,
                e.json["texts"][i].as_str().unwrap(),
                "{name} image {i}"
            );
            let mut stream = LineStream::default();
            let mut pieces = String::new();
            for (k, &id) in out.iter().enumerate() {
                pieces.push_str(&stream.push(&l.tokenizer, id, k + 1 == out.len()).unwrap());
            }
            assert_eq!(pieces, text, "{name} image {i}: streamed text");
        }
        let probe = &e.json["tokenizer_probe"];
        let ids: Vec<u32> = probe["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(
            l.tokenizer.encode(probe["text"].as_str().unwrap()).unwrap(),
            ids,
            "{name}: tokenizer"
        );
        assert_eq!(
            l.tokenizer.decode(&ids).unwrap(),
            probe["text"].as_str().unwrap()
        );
    }
}

#[test]
fn stored_dtypes_are_the_ones_under_test() {
    for (name, dtype) in FIXTURES.iter().zip(["F32", "F16", "BF16"]) {
        let l = load(name);
        assert_eq!(
            l.weight_dtypes.iter().collect::<Vec<_>>(),
            vec![dtype],
            "{name}"
        );
    }
}

// ---- strict loading, through the real binary ----

/// Copies a fixture into a temp folder.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for f in [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "preprocessor_config.json",
    ] {
        std::fs::copy(dir(name).join(f), tmp.path().join(f)).unwrap();
    }
    tmp
}

/// Rewrites model.safetensors with `edit` applied to the (name, dtype, shape, bytes) list.
fn rewrite_weights(
    folder: &Path,
    edit: impl FnOnce(&mut Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)>),
) {
    let path = folder.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut list: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    edit(&mut list);
    let views: Vec<(String, safetensors::tensor::TensorView)> = list
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// `medocr run --engine hf --model <folder>`: must fail before reading any page, with `needle`
/// in its error output.
fn run_fails_with(folder: &Path, needles: &[&str]) {
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_medocr"))
        .args(["run", "--engine", "hf", "--model"])
        .arg(folder)
        .args(["--dataset"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/bundled"))
        .args(["--out"])
        .arg(out_dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
}

#[test]
fn missing_tensor_is_an_error_naming_it() {
    let tmp = copy_fixture("vit-learned-f32");
    rewrite_weights(tmp.path(), |l| {
        l.retain(|t| t.0 != "decoder.model.decoder.layers.1.fc2.bias")
    });
    run_fails_with(
        tmp.path(),
        &[
            "1 missing tensor(s) [decoder.model.decoder.layers.1.fc2.bias]",
            "0 unused",
        ],
    );
}

#[test]
fn unused_tensor_is_an_error_naming_it() {
    let tmp = copy_fixture("deit-sinusoidal-f16");
    rewrite_weights(tmp.path(), |l| {
        let extra = l[0].clone();
        l.push((
            "encoder.extra_head.weight".into(),
            extra.1,
            extra.2,
            extra.3,
        ));
    });
    run_fails_with(
        tmp.path(),
        &[
            "1 unused tensor(s) [encoder.extra_head.weight]",
            "docs/hf.md",
        ],
    );
}

#[test]
fn wrong_shape_is_an_error_naming_the_tensor() {
    let tmp = copy_fixture("vit-proj-bf16");
    rewrite_weights(tmp.path(), |l| {
        let t = l
            .iter_mut()
            .find(|t| t.0 == "encoder.embeddings.position_embeddings")
            .unwrap();
        // One position fewer (a checkpoint for another image size).
        t.2[1] -= 1;
        let keep = t.2.iter().product::<usize>() * 2;
        t.3.truncate(keep);
    });
    run_fails_with(
        tmp.path(),
        &[
            "encoder.embeddings.position_embeddings",
            "has shape [1, 16, 24], but config.json implies [1, 17, 24]",
        ],
    );
}

#[test]
fn unsupported_config_values_name_the_key() {
    for (section, key, value, needle) in [
        (
            "encoder",
            "model_type",
            "\"beit\"",
            "`encoder.model_type`: encoder 'beit' is not supported",
        ),
        (
            "decoder",
            "activation_function",
            "\"mish\"",
            "`decoder.activation_function`",
        ),
    ] {
        let tmp = copy_fixture("vit-learned-f32");
        let p = tmp.path().join("config.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        v[section][key] = serde_json::from_str(value).unwrap();
        std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
        run_fails_with(tmp.path(), &[needle, "config.json"]);
    }
    let tmp = copy_fixture("vit-learned-f32");
    let p = tmp.path().join("preprocessor_config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["do_pad"] = serde_json::Value::Bool(true);
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
    run_fails_with(tmp.path(), &["preprocessor_config.json", "`do_pad`"]);
}

/// `medocr run --engine hf` end to end on one bundled document: the run completes (SLA
/// verdicts may fail: the checkpoint is random), the report names the engine and checkpoint,
/// and the prediction has text.
#[test]
fn binary_runs_a_document_with_the_hf_engine() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_medocr"))
        .args(["run", "--engine", "hf", "--model"])
        .arg(dir("vit-learned-f32"))
        .arg("--dataset")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/bundled"))
        .args([
            "--limit", "1", "--dpi", "150", "--batch", "4", "--run-id", "hf", "--out",
        ])
        .arg(out_dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "run failed: {err}"
    );
    let run = out_dir.path().join("hf");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let engine = &summary["config"]["engine"];
    assert_eq!(engine["name"], "hf");
    assert_eq!(engine["streaming"], "per_token");
    assert_eq!(engine["settings"]["batch_size"], "4");
    assert_eq!(engine["settings"]["weight_dtypes"], "F32");
    let sha = engine["checkpoint_sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    let pred = std::fs::read_to_string(run.join("predictions.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(pred.lines().next().unwrap()).unwrap();
    assert!(first["error"].is_null(), "{first}");
    assert!(first["text"].as_str().unwrap().len() > 10, "{first}");
}

/// Speed probe for tools/hf_fixtures.py --bench (it sets the variables): encoder forward and
/// a fixed number of greedy steps on the CPU backend, batch 1, no early eos.
#[test]
#[ignore]
fn bench_speed() {
    let folder = PathBuf::from(std::env::var("MEDOCR_HF_BENCH_DIR").expect("MEDOCR_HF_BENCH_DIR"));
    let steps: usize = std::env::var("MEDOCR_HF_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let reps: usize = std::env::var("MEDOCR_HF_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut l = trocr::load::<Flex>(&folder, &Default::default()).unwrap();
    l.generation.eos_token_ids.clear();
    l.generation.max_length = steps + 1;
    let dev = Default::default();
    let [h, w] = l.config.encoder.image_size;
    let c = l.config.encoder.num_channels;
    let plane: Vec<f32> = (0..c * h * w)
        .map(|i| ((i * 7919) % 255) as f32 / 127.5 - 1.0)
        .collect();
    let sync = || {
        let _ = <Flex as burn::tensor::backend::Backend>::sync(&dev);
    };
    let run_encoder = || {
        let m = l.encoded(pixel_batch::<Flex>(&[&plane], c, h, w, &dev));
        sync();
        m
    };
    run_encoder();
    let t = std::time::Instant::now();
    for _ in 0..reps {
        run_encoder();
    }
    let enc_ms = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
    let t = std::time::Instant::now();
    for _ in 0..reps {
        let m = run_encoder();
        let out = Generator::start(&l.model, &m, l.decoding()).run();
        assert_eq!(out[0].len(), steps);
    }
    let gen_ms = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
    println!(
        "burn encoder {enc_ms:.1} ms, encoder + {steps} greedy steps {gen_ms:.1} ms ({:.2} ms/step), RAYON_NUM_THREADS={}",
        (gen_ms - enc_ms) / steps as f64,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "unset".into())
    );
}
