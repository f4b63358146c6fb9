//! Scoring throughput: 1,000 synthetic Korean documents (300–3000 grapheme clusters, a
//! hypothesis with ~5% random grapheme edits), generated deterministically here.
//!
//! Measures, single-threaded, median of several passes:
//! - `cer+wer`: the `cer` and `wer` functions (what jiwer computes, for the side-by-side);
//! - `score_document`: N1 once, one grapheme alignment reused, CER / CER without spaces /
//!   jamo CER / WER with S/D/I from alignments, and the field projection set-up.
//!
//! `cargo bench --bench score` prints docs/s and the corpus micro CER/WER.
//! With `MEDOCR_BENCH_DUMP=pairs.jsonl` it also writes the pairs (one JSON object per
//! line: `reference`, `hypothesis`) and `pairs.jsonl.rust.json` with these results, for
//! `python3 tools/jiwer_compare.py pairs.jsonl`.

use std::io::Write;
use std::time::{Duration, Instant};

use medocr::dataset::Fields;
use medocr::score::{
    cer, micro_average, score_document, wer, NormOptions, Reference, ScoreOptions, TextScore,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DOCS: usize = 1000;
const EDIT_RATE: f64 = 0.05;
const PASSES: usize = 5;

/// Words a Korean prescription, lab sheet or discharge summary is made of.
const WORDS: &[&str] = &[
    "처방전",
    "환자",
    "성명",
    "주민등록번호",
    "의료기관",
    "명칭",
    "전화번호",
    "교부일자",
    "질병분류기호",
    "처방",
    "의약품의",
    "명칭",
    "1회",
    "투약량",
    "1일",
    "투여횟수",
    "총",
    "투약일수",
    "용법",
    "타이레놀정500밀리그램",
    "아모잘탄정5/50밀리그램",
    "메트포르민염산염정500밀리그램",
    "아토르바스타틴칼슘정10밀리그램",
    "식후",
    "30분",
    "경구",
    "취침전",
    "검사결과지",
    "검사항목",
    "결과",
    "단위",
    "참고치",
    "판정",
    "혈색소",
    "백혈구",
    "혈소판",
    "공복혈당",
    "당화혈색소",
    "크레아티닌",
    "총콜레스테롤",
    "mg/dL",
    "g/dL",
    "10^3/uL",
    "%",
    "H",
    "L",
    "진단서",
    "병명",
    "본태성",
    "고혈압",
    "제2형",
    "당뇨병",
    "상기",
    "환자는",
    "위와",
    "같이",
    "진단함",
    "퇴원요약서",
    "입원일",
    "퇴원일",
    "주호소",
    "현병력",
    "경과",
    "치료",
    "계획",
    "외래",
    "추적",
    "관찰",
    "예정",
    "의사",
    "면허번호",
    "서명",
    "I10",
    "E11.9",
    "K21.0",
    "J20.9",
    "2024년",
    "3월",
    "5일",
    "2024.03.05",
    "24.03.05",
    "(",
    ")",
    ":",
    "-",
    "·",
];

fn random_number(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..3) {
        0 => rng.random_range(1..10).to_string(),
        1 => format!("{}.{}", rng.random_range(0..200), rng.random_range(0..10)),
        _ => rng.random_range(10..1000).to_string(),
    }
}

/// A reference text of about `target` grapheme clusters, in lines of 3–9 tokens.
fn reference_text(rng: &mut ChaCha8Rng, target: usize) -> String {
    let mut text = String::new();
    let mut clusters = 0;
    while clusters < target {
        let tokens = rng.random_range(3..10);
        for t in 0..tokens {
            let word = if rng.random_bool(0.25) {
                random_number(rng)
            } else {
                WORDS[rng.random_range(0..WORDS.len())].to_string()
            };
            if t > 0 {
                text.push(' ');
                clusters += 1;
            }
            clusters += word.chars().count();
            text.push_str(&word);
        }
        text.push('\n');
        clusters += 1;
    }
    text
}

/// A random Hangul syllable or ASCII character (what an OCR confusion produces).
fn random_char(rng: &mut ChaCha8Rng) -> char {
    if rng.random_bool(0.7) {
        char::from_u32(rng.random_range(0xAC00..=0xD7A3)).expect("Hangul syllable")
    } else {
        char::from(rng.random_range(b'!'..=b'~'))
    }
}

/// The reference with ~EDIT_RATE substitutions, deletions and insertions per character,
/// and some line breaks read as spaces (no error after N1).
fn hypothesis_text(rng: &mut ChaCha8Rng, reference: &str) -> String {
    let mut out = String::with_capacity(reference.len() + 16);
    for c in reference.chars() {
        if c == '\n' && rng.random_bool(0.5) {
            out.push(' ');
            continue;
        }
        if !rng.random_bool(EDIT_RATE) {
            out.push(c);
            continue;
        }
        match rng.random_range(0..3) {
            0 => out.push(random_char(rng)),
            1 => {}
            _ => {
                out.push(c);
                out.push(random_char(rng));
            }
        }
    }
    out
}

fn corpus() -> Vec<(String, String)> {
    let mut rng = ChaCha8Rng::seed_from_u64(20240305);
    (0..DOCS)
        .map(|_| {
            let target = rng.random_range(300..=3000);
            let r = reference_text(&mut rng, target);
            let h = hypothesis_text(&mut rng, &r);
            (r, h)
        })
        .collect()
}

/// Runs `f` PASSES times; returns the median wall time and the last result.
/// Generated documents (with fields) for the clinical-scoring measurement.
const GENERATED: usize = 250;

fn timed<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(PASSES);
    let mut last = None;
    for _ in 0..PASSES {
        let t = Instant::now();
        let r = f();
        times.push(t.elapsed());
        last = Some(r);
    }
    times.sort();
    (times[PASSES / 2], last.expect("PASSES > 0"))
}

fn main() {
    let pairs = corpus();
    let clusters: usize = pairs.iter().map(|(r, _)| r.chars().count()).sum();
    let norm = NormOptions::default();
    let opts = ScoreOptions::default();
    let fields = Fields::default();

    let (t_text, (cers, wers)) = timed(|| {
        let mut cers = Vec::with_capacity(DOCS);
        let mut wers = Vec::with_capacity(DOCS);
        for (r, h) in &pairs {
            cers.push(cer(r, h, &norm));
            wers.push(wer(r, h, &norm));
        }
        (cers, wers)
    });
    let (t_full, scores) = timed(|| {
        pairs
            .iter()
            .map(|(r, h)| {
                let reference = Reference {
                    text: r,
                    fields: &fields,
                };
                score_document(reference, h, &opts)
            })
            .collect::<Vec<_>>()
    });

    // Generated documents with their ground-truth fields: the same texts scored with and
    // without the fields, side by side, show what projection + clinical matchers cost.
    let generated: Vec<_> = (0..GENERATED)
        .map(|i| {
            let t = medocr::dataset::DocType::ALL[i % 5];
            let doc = medocr::dataset::synth::document(t, 9_000 + i as u64);
            // Every 40th character shifted by one code point: ~2.5% substitutions, digits
            // included, so matchers see wrong doses, codes and values.
            let hyp: String = doc
                .text
                .chars()
                .enumerate()
                .map(|(k, c)| {
                    if k % 40 == 39 && !c.is_whitespace() {
                        char::from_u32(c as u32 + 1).unwrap_or(c)
                    } else {
                        c
                    }
                })
                .collect();
            (doc, hyp)
        })
        .collect();
    let score_all = |with_fields: bool| {
        generated
            .iter()
            .map(|(doc, hyp)| {
                let reference = Reference {
                    text: &doc.text,
                    fields: if with_fields { &doc.fields } else { &fields },
                };
                score_document(reference, hyp, &opts)
            })
            .collect::<Vec<_>>()
    };
    let (t_plain, _) = timed(|| score_all(false));
    let (t_clinical, clinical) = timed(|| score_all(true));
    let n_fields: usize = clinical.iter().map(|s| s.fields.len()).sum();
    let wrong = clinical
        .iter()
        .flat_map(|s| &s.fields)
        .filter(|f| f.located && !f.correct)
        .count();

    let corpus_cer = micro_average(&cers);
    let corpus_wer = micro_average(&wers);
    let jamo = micro_average(&scores.iter().map(|s| s.cer_jamo).collect::<Vec<_>>());
    let no_space = micro_average(&scores.iter().map(|s| s.cer_no_space).collect::<Vec<_>>());
    assert_eq!(
        corpus_cer,
        micro_average(&scores.iter().map(|s| s.cer).collect::<Vec<_>>())
    );

    let rate = |t: Duration| DOCS as f64 / t.as_secs_f64();
    println!(
        "corpus: {DOCS} documents, {clusters} reference characters (median of {PASSES} passes, 1 thread)"
    );
    println!(
        "cer+wer         {:>9.1} docs/s  ({:.3} s)",
        rate(t_text),
        t_text.as_secs_f64()
    );
    println!(
        "score_document  {:>9.1} docs/s  ({:.3} s)",
        rate(t_full),
        t_full.as_secs_f64()
    );
    let grate = |t: Duration| GENERATED as f64 / t.as_secs_f64();
    println!(
        "generated docs: {GENERATED} (5 types), {n_fields} ground-truth fields, {wrong} read wrong"
    );
    println!(
        "  text only     {:>9.1} docs/s\n  with fields   {:>9.1} docs/s  ({:.0} fields/s; clinical scoring costs {:.2}x)",
        grate(t_plain),
        grate(t_clinical),
        n_fields as f64 / t_clinical.as_secs_f64(),
        t_clinical.as_secs_f64() / t_plain.as_secs_f64()
    );
    let show = |name: &str, s: &TextScore| {
        println!(
            "{name:<13} {:.12}  S={} D={} I={} H={} N={}",
            s.rate.unwrap_or(f64::NAN),
            s.substitutions,
            s.deletions,
            s.insertions,
            s.hits,
            s.ref_len
        );
    };
    show("CER", &corpus_cer);
    show("CER no space", &no_space);
    show("CER jamo", &jamo);
    show("WER", &corpus_wer);

    if let Ok(path) = std::env::var("MEDOCR_BENCH_DUMP") {
        dump(
            &path,
            &pairs,
            &corpus_cer,
            &corpus_wer,
            rate(t_text),
            rate(t_full),
        )
        .unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        println!("wrote {path} and {path}.rust.json");
    }
}

fn dump(
    path: &str,
    pairs: &[(String, String)],
    cer: &TextScore,
    wer: &TextScore,
    text_rate: f64,
    full_rate: f64,
) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (r, h) in pairs {
        let line = serde_json::json!({ "reference": r, "hypothesis": h });
        writeln!(f, "{line}")?;
    }
    f.flush()?;
    let summary = serde_json::json!({
        "docs": pairs.len(),
        "passes": PASSES,
        "cer": cer,
        "wer": wer,
        "docs_per_s_cer_wer": text_rate,
        "docs_per_s_score_document": full_rate,
    });
    std::fs::write(
        format!("{path}.rust.json"),
        serde_json::to_string_pretty(&summary)?,
    )
}
