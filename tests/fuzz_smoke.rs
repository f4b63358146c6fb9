//! The fuzz targets of `fuzz/` on stable Rust, bounded: each target gets its seed corpus
//! (`fuzz/corpus/<target>/`), the regression inputs below, and a fixed number of mutated
//! inputs from a seeded generator (deterministic; `MEDOCR_FUZZ_ITERS` and
//! `MEDOCR_FUZZ_SEED` change the budget and the stream). A failure prints the input as a
//! Rust byte string, ready to be added to `REGRESSIONS`.
//!
//! Also the metric properties (proptest): CER of identical texts is 0, edits are bounded
//! by the longer length, alignments replay the reference into the hypothesis.

#[path = "../fuzz/targets.rs"]
mod targets;

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Inputs that once broke a target (or came close), kept forever.
const REGRESSIONS: &[(&str, &[u8])] = &[
    // A BOM, CRLF endings and an invalid UTF-8 line in one manifest.
    (
        "manifest",
        b"\xEF\xBB\xBF{\"id\":\"a\",\"doc_type\":\"diagnosis\",\"source\":\"a.pdf\",\"text\":\"x\"}\r\n\xff\xfe\n",
    ),
    // Duplicate ids, one of them empty after trimming.
    (
        "manifest",
        b"{\"id\":\" \",\"doc_type\":\"diagnosis\",\"source\":\"a\",\"text\":\"\"}\n{\"id\":\"a\",\"doc_type\":\"diagnosis\",\"source\":\"a\",\"text\":\"\"}\n{\"id\":\"a\",\"doc_type\":\"diagnosis\",\"source\":\"a\",\"text\":\"\"}",
    ),
    // Leap day, impossible date, a NaN-like DPI.
    (
        "manifest",
        b"{\"id\":\"a\",\"doc_type\":\"diagnosis\",\"source\":\"a.png\",\"dpi\":1e39,\"text\":\"\",\"fields\":{\"dates\":{\"x\":\"2023-02-29\"}}}",
    ),
    ("profile", b"doc_type = \"diagnosis\"\nmax_error_rate = nan\n"),
    (
        "profile",
        b"doc_type = \"diagnosis\"\n[latency]\npercentile = 1e-300\nmax_e2e_ms = 1e308\n",
    ),
    (
        "profile",
        b"doc_type = \"diagnosis\"\n[accuracy]\nmax_critical_errors = -1\n",
    ),
    // Combining marks after spaces and after full-width letters.
    ("normalize", "\u{301} ａ\u{301}\u{3000}\u{1100}\u{1161}\u{11a8}".as_bytes()),
    ("normalize", b"\xff\x00\x0b\x0c\x85"),
    ("sse", b"\x03data: a\r\n\r\ndata:b\rdata: c\n\n: keep-alive\n\n"),
    ("sse", b"\x00data: \xff\n\n"),
    ("align", b""),
    ("align", b"\x00"),
    ("align", b"\xff\x01\x01\x01"),
];

/// Pieces a mutation may insert: the syntax the parsers care about.
const DICTIONARY: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"\n",
    b"\r\n",
    b"=",
    b"\"id\":\"x\"",
    b"\"doc_type\":\"prescription\"",
    b"\"source\":\"a.pdf\"",
    b"\"text\":\"\xec\xb2\x98\xeb\xb0\xa9\"",
    b"\"dpi\":-1",
    b"\"fields\":{}",
    b"\"dates\":{\"issued\":\"2024-02-29\"}",
    b"[accuracy]\n",
    b"[latency]\n",
    b"[accuracy.fields]\n",
    b"max_cer = 0.5\n",
    b"max_ttft_ms = 900\n",
    b"percentile = 100\n",
    b"\xe3\x80\x80",
    b"\xef\xbc\xa1",
    b"\xe1\x84\x80\xe1\x85\xa1",
    b"\xcc\x81",
    b"\xff",
    b"\x00",
    b"data: ",
    b"event: ",
    b": keep-alive",
    b"\r",
    b"[DONE]",
    b"| a | b |\n|---|---|\n",
    b"<table><tr><td colspan=2>",
    b"</td></tr></table>",
    b"**",
    b"# ",
    b"$\\mu$",
    b"<br>",
    b"```\n",
];

fn iterations() -> usize {
    std::env::var("MEDOCR_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

fn seed() -> u64 {
    std::env::var("MEDOCR_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6d65_646f_6372)
}

/// One random mutation of `input`, with `other` as a splice partner.
fn mutate(rng: &mut ChaCha8Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = out.len();
        let at = if len == 0 {
            0
        } else {
            rng.random_range(0..=len)
        };
        match rng.random_range(0..8) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 => out.insert(at, rng.random()),
            2 if len > 0 => {
                let start = rng.random_range(0..len);
                let end = (start + rng.random_range(1..=16)).min(len);
                out.drain(start..end);
            }
            3 if len > 0 => {
                let start = rng.random_range(0..len);
                let end = (start + rng.random_range(1..=32)).min(len);
                let piece = out[start..end].to_vec();
                out.splice(at..at, piece);
            }
            4 | 5 => {
                let word = DICTIONARY[rng.random_range(0..DICTIONARY.len())];
                out.splice(at..at, word.iter().copied());
            }
            6 if !other.is_empty() => {
                let start = rng.random_range(0..other.len());
                let end = (start + rng.random_range(1..=64)).min(other.len());
                out.splice(at..at, other[start..end].iter().copied());
            }
            _ => out.truncate(at),
        }
    }
    out.truncate(64 * 1024);
    out
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    out.extend(
        REGRESSIONS
            .iter()
            .filter(|(t, _)| *t == target)
            .map(|(_, b)| b.to_vec()),
    );
    assert!(!out.is_empty(), "no seeds for {target}");
    out
}

/// Runs `f` on `input`, turning a panic into a message that quotes the input.
fn run_one(target: &str, f: fn(&[u8]), input: &[u8]) {
    if let Err(panic) = std::panic::catch_unwind(|| f(input)) {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!(
            "fuzz target {target} failed: {msg}\ninput (add it to REGRESSIONS):\nb\"{}\"",
            input.escape_ascii()
        );
    }
}

fn smoke(target: &str) {
    smoke_n(target, iterations());
}

fn smoke_n(target: &str, iterations: usize) {
    let f = targets::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap()
        .1;
    let seeds = corpus(target);
    for s in &seeds {
        run_one(target, f, s);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed() ^ target.len() as u64);
    // Mutations stack: each round mutates a seed or an earlier mutant.
    let mut pool = seeds.clone();
    for _ in 0..iterations {
        let a = &pool[rng.random_range(0..pool.len())];
        let b = &pool[rng.random_range(0..pool.len())];
        let input = mutate(&mut rng, a, b);
        run_one(target, f, &input);
        if pool.len() < 256 {
            pool.push(input);
        } else {
            let i = rng.random_range(seeds.len()..pool.len());
            pool[i] = input;
        }
    }
}

#[test]
fn fuzz_manifest() {
    smoke("manifest");
}

#[test]
fn fuzz_profile() {
    smoke("profile");
}

#[test]
fn fuzz_normalize() {
    smoke("normalize");
}

#[test]
fn fuzz_align() {
    smoke("align");
}

#[test]
fn fuzz_sse() {
    smoke("sse");
}

/// A tenth of the others' budget: each input is read three ways and scored line by line
/// and table by table (about 20 ms; the libFuzzer session in CI covers it at full speed).
#[test]
fn fuzz_answer() {
    smoke_n("answer", iterations() / 10);
}

#[test]
fn fuzz_chat_request() {
    smoke("chat_request");
}

/// Korean-heavy text: syllables, jamo, digits, Latin, spaces and line breaks.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('가', '힣'),
            1 => proptest::char::range('ㄱ', 'ㅣ'),
            1 => proptest::char::range('0', '9'),
            1 => proptest::char::range('a', 'z'),
            1 => Just(' '),
            1 => Just('\n'),
        ],
        0..80,
    )
    .prop_map(|c| c.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn identical_texts_have_zero_cer(t in text()) {
        let opts = medocr::score::NormOptions::default();
        let s = medocr::score::cer(&t, &t, &opts);
        prop_assert_eq!(s.edits(), 0);
        if s.ref_len > 0 {
            prop_assert_eq!(s.rate, Some(0.0));
        }
        prop_assert_eq!(medocr::score::wer(&t, &t, &opts).edits(), 0);
        prop_assert_eq!(medocr::score::cer_jamo(&t, &t, &opts).edits(), 0);
    }

    #[test]
    fn edits_are_bounded_by_the_longer_text(a in text(), b in text()) {
        let opts = medocr::score::NormOptions::default();
        for s in [
            medocr::score::cer(&a, &b, &opts),
            medocr::score::cer_no_space(&a, &b, &opts),
            medocr::score::cer_jamo(&a, &b, &opts),
            medocr::score::wer(&a, &b, &opts),
        ] {
            prop_assert!(s.edits() <= s.ref_len.max(s.hyp_len));
            prop_assert!(s.edits() >= s.ref_len.abs_diff(s.hyp_len));
            prop_assert_eq!(s.hits + s.substitutions + s.deletions, s.ref_len);
            prop_assert_eq!(s.hits + s.substitutions + s.insertions, s.hyp_len);
        }
    }

    #[test]
    fn alignment_replays_into_the_hypothesis(
        a in proptest::collection::vec(0u32..6, 0..300),
        b in proptest::collection::vec(0u32..6, 0..300),
    ) {
        targets::check_alignment(&a, &b);
    }
}
